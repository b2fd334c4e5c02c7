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
