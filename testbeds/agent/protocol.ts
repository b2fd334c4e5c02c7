/**
 * The HTTP API of `protocheck agent` (JSON bodies, prefix `/v1`, `Authorization: Bearer <secret>`):
 *
 *   GET    /v1/info                  → AgentInfo
 *   GET    /v1/clock                 → ClockResponse  (the agent host's monotonic clock, ns)
 *   POST   /v1/procs                 SpawnRequest  → SpawnResponse (201)
 *   GET    /v1/procs/:proc/output    → NDJSON stream of OutputLine, ending with the exit line
 *   POST   /v1/procs/:proc/stdin     StdinRequest  → StdinResponse
 *   POST   /v1/procs/:proc/signal    SignalRequest → SignalResponse
 *   DELETE /v1/procs                 → KillAllResponse
 *
 * Errors are `{ error: string }` with 400 (malformed request), 401 (secret), 403 (refused by the
 * agent's policy), 404, 405, 409 (a second output consumer), 413 (body too large), 500.
 *
 * The agent runs nothing but `protocheck node <role> …` and `protocheck switch …`; `validateSpawn`
 * checks an argv against the options those commands take.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { NODE_OPTIONS, PROCESS_OPTIONS } from '../../harness/cli/args.ts';
import type { Json } from '../../harness/protocol.ts';

export const AGENT_NAME = 'protocheck-agent';
export const AGENT_VERSION = 1;

export interface AgentInfo {
  readonly agent: typeof AGENT_NAME;
  readonly version: number;
  readonly hostname: string;
  readonly allowedRoles: readonly string[];
  readonly pid: number;
}

export interface ClockResponse {
  /** Decimal string of ns on the agent host's monotonic clock. */
  readonly ns: string;
}

export interface SpawnRequest {
  /** The caller's label for the process (e.g. `server1#0`), used in the agent's messages. */
  readonly id: string;
  /** What follows `protocheck` on a command line: `["node", ROLE, …]` or `["switch", …]`. */
  readonly argv: readonly string[];
}

export interface SpawnResponse {
  readonly proc: string;
  readonly pid: number;
}

/** `line` is written as one JSON line to the process's stdin; `end: true` then closes stdin. */
export interface StdinRequest {
  readonly line?: Json;
  readonly end?: boolean;
}

export interface StdinResponse {
  /** False when the process's stdin is already closed (the process exited, or `end` was sent). */
  readonly written: boolean;
}

export const AGENT_SIGNALS = ['SIGKILL', 'SIGSTOP', 'SIGCONT', 'SIGTERM'] as const;
export type AgentSignal = (typeof AGENT_SIGNALS)[number];

export interface SignalRequest {
  readonly signal: AgentSignal;
}

export interface SignalResponse {
  readonly delivered: boolean;
}

export interface KillAllResponse {
  readonly killed: number;
}

export interface ErrorResponse {
  readonly error: string;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: string | null;
}

/**
 * One line of the output stream. `partial` marks the unterminated tail of a stream, delivered
 * when the process ended mid-line.
 */
export type OutputLine =
  | { readonly s: 'out' | 'err'; readonly line: string; readonly partial?: true }
  | { readonly exit: ExitStatus };

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly status: number; readonly error: string };

function bad(error: string, status = 400): { ok: false; status: number; error: string } {
  return { ok: false, status, error };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownFields(o: Record<string, unknown>, known: readonly string[]): string | undefined {
  const extra = Object.keys(o).find((k) => !known.includes(k));
  return extra === undefined ? undefined : `unknown field '${extra}' (known: ${known.join(', ')})`;
}

// ------------------------------------------------------------------ spawn

export { NODE_ONLY_OPTIONS, NODE_OPTIONS } from '../../harness/cli/args.ts';

export const SWITCH_OPTIONS = PROCESS_OPTIONS;

export interface SpawnPolicy {
  readonly allowedRoles: readonly string[];
  /** Whether `--roles MODULE` (code loaded into the process) is accepted. */
  readonly allowRoleModules: boolean;
}

export interface ValidSpawn {
  readonly id: string;
  readonly argv: readonly string[];
  readonly kind: 'node' | 'switch';
  /** The node's role, or `switch`. */
  readonly role: string;
}

const MAX_ARGS = 256;
const MAX_ID = 200;

/** Checks a spawn request against the agent's policy: 400 malformed, 403 refused. */
export function validateSpawn(body: unknown, policy: SpawnPolicy): Checked<ValidSpawn> {
  if (!isObject(body)) return bad('body must be a JSON object {id, argv}');
  const extra = unknownFields(body, ['id', 'argv']);
  if (extra) return bad(extra);
  const { id, argv } = body;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) return bad(`id must be a non-empty string of at most ${MAX_ID} characters`);
  if (!Array.isArray(argv) || argv.length === 0) return bad('argv must be a non-empty array of strings');
  if (argv.length > MAX_ARGS) return bad(`argv has ${argv.length} entries (at most ${MAX_ARGS})`);
  const i = argv.findIndex((a) => typeof a !== 'string');
  if (i >= 0) return bad(`argv[${i}] must be a string`);
  const args = argv as string[];
  const [command] = args;
  if (command === 'node') return checkNode(id, args, policy);
  if (command === 'switch') return checkSwitch(id, args, policy);
  return bad(`argv[0] must be 'node' or 'switch' (the agent runs nothing else), got '${String(command)}'`, 403);
}

function checkNode(id: string, argv: string[], policy: SpawnPolicy): Checked<ValidSpawn> {
  const role = argv[1];
  if (role === undefined || role.startsWith('-')) return bad('argv[1] must be the role of the node (argv: ["node", ROLE, ...options])');
  if (role === 'switch') return bad("role 'switch' is the software switch: use argv ['switch', ...]");
  if (!policy.allowedRoles.includes(role)) return bad(`role '${role}' is not allowed on this agent (allowed: ${list(policy.allowedRoles)})`, 403);
  const opts = checkOptions(argv.slice(2), NODE_OPTIONS, policy);
  return opts.ok ? { ok: true, value: { id, argv, kind: 'node', role } } : opts;
}

function checkSwitch(id: string, argv: string[], policy: SpawnPolicy): Checked<ValidSpawn> {
  if (!policy.allowedRoles.includes('switch')) return bad(`the software switch is not allowed on this agent (allowed: ${list(policy.allowedRoles)})`, 403);
  const opts = checkOptions(argv.slice(1), SWITCH_OPTIONS, policy);
  return opts.ok ? { ok: true, value: { id, argv, kind: 'switch', role: 'switch' } } : opts;
}

type OptionTable = NonNullable<ParseArgsConfig['options']>;

function checkOptions(args: string[], options: OptionTable, policy: SpawnPolicy): Checked<null> {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    return bad(`malformed argv: ${(err as Error).message}`);
  }
  if (values.roles !== undefined && !policy.allowRoleModules) return bad('--roles (a module of code to load) is refused by this agent', 403);
  if (typeof values.config === 'string' && values.config.startsWith('@')) {
    return bad('--config @FILE (a file on the agent host) is refused by this agent; pass the JSON inline', 403);
  }
  if (values['clock-offset-ns'] !== undefined) return bad('--clock-offset-ns is set by the agent (its clock skew), not by the caller');
  return { ok: true, value: null };
}

function list(roles: readonly string[]): string {
  return roles.length ? roles.join(', ') : 'none';
}

// ------------------------------------------------------------------ stdin, signal

export function validateStdin(body: unknown): Checked<StdinRequest> {
  if (!isObject(body)) return bad('body must be a JSON object {line} or {end: true}');
  const extra = unknownFields(body, ['line', 'end']);
  if (extra) return bad(extra);
  if (body.end !== undefined && typeof body.end !== 'boolean') return bad('end must be a boolean');
  if (!('line' in body) && body.end !== true) return bad('body must have a line (any JSON value) or end: true');
  return { ok: true, value: body as StdinRequest };
}

export function validateSignal(body: unknown): Checked<SignalRequest> {
  if (!isObject(body)) return bad('body must be a JSON object {signal}');
  const extra = unknownFields(body, ['signal']);
  if (extra) return bad(extra);
  const sig = body.signal;
  if (typeof sig !== 'string' || !(AGENT_SIGNALS as readonly string[]).includes(sig)) {
    return bad(`signal must be one of ${AGENT_SIGNALS.join(', ')}`);
  }
  return { ok: true, value: { signal: sig as AgentSignal } };
}

// ------------------------------------------------------------------ responses (client side)

/** Parses one line of the output stream; undefined when it is not a well-formed OutputLine. */
export function parseOutputLine(text: string): OutputLine | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  if (isObject(v.exit)) {
    const { code, signal } = v.exit;
    if ((code === null || typeof code === 'number') && (signal === null || typeof signal === 'string')) return { exit: { code, signal } };
    return undefined;
  }
  if ((v.s === 'out' || v.s === 'err') && typeof v.line === 'string') {
    return v.partial === true ? { s: v.s, line: v.line, partial: true } : { s: v.s, line: v.line };
  }
  return undefined;
}

export function isAgentInfo(v: unknown): v is AgentInfo {
  return isObject(v) && v.agent === AGENT_NAME && typeof v.version === 'number' && typeof v.hostname === 'string' &&
    Array.isArray(v.allowedRoles) && v.allowedRoles.every((r) => typeof r === 'string') && typeof v.pid === 'number';
}

export function isClockResponse(v: unknown): v is ClockResponse {
  return isObject(v) && typeof v.ns === 'string' && /^-?\d+$/.test(v.ns);
}

export function isSpawnResponse(v: unknown): v is SpawnResponse {
  return isObject(v) && typeof v.proc === 'string' && typeof v.pid === 'number';
}

export function isStdinResponse(v: unknown): v is StdinResponse {
  return isObject(v) && typeof v.written === 'boolean';
}

export function isSignalResponse(v: unknown): v is SignalResponse {
  return isObject(v) && typeof v.delivered === 'boolean';
}

export function isKillAllResponse(v: unknown): v is KillAllResponse {
  return isObject(v) && typeof v.killed === 'number';
}

export function errorMessage(v: unknown): string | undefined {
  return isObject(v) && typeof v.error === 'string' ? v.error : undefined;
}
