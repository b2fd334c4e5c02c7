/** Small helpers for the subcommands' option parsing (node:util parseArgs underneath). */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${value}'`);
  return n;
}

export function listOption(value: string | undefined): string[] {
  return value ? value.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

/** Options every process the testbeds start takes (node and switch): identity, time, bugs. */
export const PROCESS_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  listen: { type: 'string' },
  config: { type: 'string' },
  seed: { type: 'string' },
  bugs: { type: 'string' },
  origin: { type: 'string' },
  'start-at': { type: 'string' },
  until: { type: 'string' },
  roles: { type: 'string' },
  'clock-offset-ns': { type: 'string' },
} as const;

/** The options `protocheck node` takes beyond `PROCESS_OPTIONS`. */
export const NODE_ONLY_OPTIONS = {
  id: { type: 'string' },
  switch: { type: 'string' },
  incarnation: { type: 'string' },
  'late-bind': { type: 'boolean' },
  'clock-offset': { type: 'string' },
  'on-core-error': { type: 'string' },
  state: { type: 'string' },
  router: { type: 'string' },
  'timeout-us': { type: 'string' },
  n: { type: 'string' },
  policy: { type: 'string' },
  'queue-cap': { type: 'string' },
} as const;

/** Every option of `protocheck node`. */
export const NODE_OPTIONS = { ...PROCESS_OPTIONS, ...NODE_ONLY_OPTIONS } as const;
