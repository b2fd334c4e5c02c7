/**
 * `protocheck node <role> …`: one protocol role on a real UDP socket (the process of one host
 * node of the local testbed; usable by hand too). The I/O protocol (trace NDJSON on stdout, status
 * JSON lines on stderr, control lines on stdin) is described in `testbeds/local/control.ts`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { NODE_OPTIONS } from '../args.ts';
import type { Json, RoleFactory } from '../../protocol.ts';
import { Rng } from '../../../impl/rng.ts';
import { parseAddr } from '../../../impl/envelope.ts';
import { UdpDriver, type DriverMode } from '../../../impl/udp-driver.ts';
import { FileStableStore, isStateName, stateFilePath } from '../../../impl/stable-store.ts';
import { serveControl, writeStatus } from '../../../testbeds/local/control.ts';

const EXIT_USAGE = 2;

export const NODE_USAGE = `usage: protocheck node <role> --listen IP:PORT [options]

Runs one role's core on a UDP socket bound at IP:PORT. Trace events go to stdout as NDJSON;
status lines ({"ready":true,…}, {"started":true,…}, {"note":…}, {"stopped":true,…}) go to stderr;
control lines are read from stdin: {"origin":"<ns>","startAt":US}, {"command":JSON,"at":US},
{"stop":true}. End of stdin stops the node. See testbeds/local/control.ts.

options:
  --id ID               node id in traces (default: the role name)
  --listen IP:PORT      the node's address, where its socket is bound (required)
  --switch IP:PORT      send every packet, enveloped, to the switch at IP:PORT;
  --switch direct       or send raw datagrams straight to their destination (default: direct)
  --config JSON         the role's config (a JSON object, or @FILE to read it from a file)
  --seed N              run seed; the core's Rng is new Rng(N).fork(ID), as in sim (default 0)
  --bugs A,B            seeded bugs to switch on
  --origin NS           the run's origin (ns on CLOCK_MONOTONIC, as process.hrtime.bigint());
                        without it the node waits for an {"origin":…} line on stdin
  --start-at US         feed start US µs after the origin (default 0)
  --until US            feed no input after US µs (the run's duration)
  --incarnation K       K-th restart of the node: Rng fork('ID#restartK'), HostRestart before start
  --late-bind           bind the socket only when start is due, or on a {"bind":true} line
                        (a restarted node); datagrams before start are then discarded
  --clock-offset US     shift the time the core sees by US µs (trace time stays true time)
  --clock-offset-ns=NS  this host's clock is NS ns ahead of CLOCK_MONOTONIC (may be negative):
                        added to every clock reading, --origin and trace time included
  --on-core-error M     crash (default, as sim: HostCrash reason exception, no more input) | skip
  --state NAME          keep the core's persisted state in <tmpdir>/protocheck-state/NAME.json:
                        read at start (a restarted node gets it back), written on every persist
  --roles MODULE        also load roles from MODULE (a module exporting \`roles\`)
  -h, --help            this text

role shortcuts (merged over --config, with defaults for the fields not given):
  r2p2-client   --router IP:PORT  [--timeout-us US]        defaults: timeoutUs 1000000
  r2p2-server   --router IP:PORT  [--n N]                  defaults: n 2, heartbeatUs 100000,
                                                           rtoUs 10000, gcRtos 4
  r2p2-router   [--policy P] [--n N] [--queue-cap N]       defaults: policy jbsq, n 2,
                                                           queueCap 64, leaveAfterUs 500000
  (a router run as a host in direct mode forwards from its own address: replies then come
  back through it, not straight from the server)

exit codes: 0 stopped cleanly, 2 bad flags / config / address in use`;

export class UsageError extends Error {}

const ROLE_DEFAULTS: Record<string, Record<string, Json>> = {
  'r2p2-client': { timeoutUs: 1_000_000 },
  'r2p2-server': { n: 2, heartbeatUs: 100_000, rtoUs: 10_000, gcRtos: 4 },
  'r2p2-router': { policy: 'jbsq', n: 2, queueCap: 64, leaveAfterUs: 500_000 },
};

const SHORTCUTS: Record<string, { field: string; kind: 'addr' | 'int' | 'string'; roles: string[] }> = {
  router: { field: 'router', kind: 'addr', roles: ['r2p2-client', 'r2p2-server'] },
  'timeout-us': { field: 'timeoutUs', kind: 'int', roles: ['r2p2-client'] },
  n: { field: 'n', kind: 'int', roles: ['r2p2-server', 'r2p2-router'] },
  policy: { field: 'policy', kind: 'string', roles: ['r2p2-router'] },
  'queue-cap': { field: 'queueCap', kind: 'int', roles: ['r2p2-router'] },
};

export function parseJsonArg(flag: string, text: string): Json {
  let src = text;
  if (text.startsWith('@')) {
    try {
      src = readFileSync(text.slice(1), 'utf8');
    } catch (err) {
      throw new UsageError(`${flag}: cannot read ${text.slice(1)}: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(src) as Json;
  } catch (err) {
    throw new UsageError(`${flag}: not valid JSON (${(err as Error).message})`);
  }
}

export function parseIntArg(flag: string, text: string, min = 0): number {
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${flag}: expected an integer, got '${text}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag}: must be an integer >= ${min}, got '${text}'`);
  return n;
}

export function parseNumArg(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag}: expected a number, got '${text}'`);
  return n;
}

export function parseAddrArg(flag: string, text: string): string {
  const r = parseAddr(text);
  if (!r.ok) throw new UsageError(`${flag}: ${r.message}`);
  return text;
}

export function parseOriginArg(text: string): bigint {
  if (!/^\d+$/.test(text)) throw new UsageError(`--origin: expected a decimal number of ns, got '${text}'`);
  return BigInt(text);
}

export function parseClockOffsetNsArg(text: string | undefined): bigint {
  if (text === undefined) return 0n;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`--clock-offset-ns: expected a decimal number of ns (may be negative), got '${text}'`);
  return BigInt(text);
}

/** The role registry, extended by a `--roles` module. */
export async function loadRoles(extra?: string): Promise<Record<string, RoleFactory>> {
  const out: Record<string, RoleFactory> = {};
  try {
    Object.assign(out, (await import('../../../impl/roles.ts')).roles);
  } catch (err) {
    if (!extra) throw new UsageError(`cannot load the role registry impl/roles.ts: ${(err as Error).message}`);
  }
  if (extra) {
    let mod: { roles?: Record<string, RoleFactory> };
    try {
      mod = (await import(pathToFileURL(resolve(extra)).href)) as typeof mod;
    } catch (err) {
      throw new UsageError(`--roles: cannot load ${extra}: ${(err as Error).message}`);
    }
    if (!mod.roles || typeof mod.roles !== 'object') throw new UsageError(`--roles: ${extra} exports no \`roles\` record`);
    Object.assign(out, mod.roles);
  }
  return out;
}

export function parseBugs(text: string | undefined): Set<string> {
  return new Set((text ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

interface NodeArgs {
  readonly role: string;
  readonly id: string;
  readonly listen: string;
  readonly mode: DriverMode;
  readonly config: Json;
  readonly seed: number;
  readonly bugs: Set<string>;
  readonly origin?: bigint;
  readonly startAt: number;
  readonly until?: number;
  readonly incarnation: number;
  readonly lateBind: boolean;
  readonly clockOffsetUs: number;
  readonly hostClockOffsetNs: bigint;
  readonly onCoreError: 'crash' | 'skip';
  readonly roles?: string;
  /** Name of the node's stable state file (`impl/stable-store.ts` `stateFilePath`). */
  readonly state?: string;
}

export function parseNodeArgs(args: string[]): NodeArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: NODE_OPTIONS,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const [role, ...extra] = parsed.positionals;
  if (!role) throw new UsageError('missing <role>');
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!v.listen) throw new UsageError('--listen IP:PORT is required');
  const listen = parseAddrArg('--listen', v.listen);
  const sw = v.switch ?? 'direct';
  const mode: DriverMode = sw === 'direct' ? { kind: 'direct' } : { kind: 'tunnel', switchAddr: parseAddrArg('--switch', sw) };
  let config = v.config === undefined ? {} : parseJsonArg('--config', v.config);
  const shortcuts = Object.entries(SHORTCUTS).filter(([flag]) => (v as Record<string, unknown>)[flag] !== undefined);
  if (shortcuts.length) {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UsageError('--config must be a JSON object to combine with role flags');
    const merged: Record<string, Json> = { ...(ROLE_DEFAULTS[role] ?? {}), ...(config as Record<string, Json>) };
    for (const [flag, s] of shortcuts) {
      if (!s.roles.includes(role)) throw new UsageError(`--${flag} does not apply to role ${role} (only ${s.roles.join(', ')})`);
      const text = (v as Record<string, string>)[flag]!;
      merged[s.field] = s.kind === 'addr' ? parseAddrArg(`--${flag}`, text) : s.kind === 'int' ? parseIntArg(`--${flag}`, text) : text;
    }
    config = merged;
  }
  return {
    role,
    id: v.id ?? role,
    listen,
    mode,
    config,
    seed: v.seed === undefined ? 0 : parseIntArg('--seed', v.seed),
    bugs: parseBugs(v.bugs),
    ...(v.origin === undefined ? {} : { origin: parseOriginArg(v.origin) }),
    startAt: v['start-at'] === undefined ? 0 : parseNumArg('--start-at', v['start-at']),
    ...(v.until === undefined ? {} : { until: parseNumArg('--until', v.until) }),
    incarnation: v.incarnation === undefined ? 0 : parseIntArg('--incarnation', v.incarnation),
    lateBind: v['late-bind'] ?? false,
    clockOffsetUs: v['clock-offset'] === undefined ? 0 : parseNumArg('--clock-offset', v['clock-offset']),
    hostClockOffsetNs: parseClockOffsetNsArg(v['clock-offset-ns']),
    onCoreError: parseOnCoreError(v['on-core-error']),
    ...(v.roles === undefined ? {} : { roles: v.roles }),
    ...(v.state === undefined ? {} : { state: parseStateArg(v.state) }),
  };
}

function parseStateArg(v: string): string {
  if (!isStateName(v)) throw new UsageError(`--state: '${v}' is not a state name (letters, digits, '.', '_', '-')`);
  return v;
}

function parseOnCoreError(v: string | undefined): 'crash' | 'skip' {
  if (v === undefined || v === 'crash' || v === 'skip') return v ?? 'crash';
  throw new UsageError(`--on-core-error: expected crash or skip, got '${v}'`);
}

/** The Rng of a node (or switch program) after its k-th restart: as in `sim`, `fork(id)`, then `fork('<id>#restart<k>')`. */
export function nodeRng(seed: number, id: string, incarnation: number): Rng {
  return new Rng(seed).fork(incarnation === 0 ? id : `${id}#restart${incarnation}`);
}

export async function run(args: string[]): Promise<number> {
  let a: NodeArgs | 'help';
  try {
    a = parseNodeArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`protocheck node: ${err.message}\n\n${NODE_USAGE}\n`);
    return EXIT_USAGE;
  }
  if (a === 'help') {
    process.stdout.write(NODE_USAGE + '\n');
    return 0;
  }
  let core;
  try {
    const roles = await loadRoles(a.roles);
    const factory = roles[a.role];
    if (!factory) throw new UsageError(`unknown role '${a.role}' (known: ${Object.keys(roles).join(', ')})`);
    try {
      core = factory(a.config, { node: a.id, addr: a.listen, rng: nodeRng(a.seed, a.id, a.incarnation), bugs: a.bugs });
    } catch (err) {
      throw new UsageError(`bad config for ${a.role}: ${(err as Error).message}`);
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`protocheck node: ${err.message}\n`);
    writeStatus({ fatal: err.message });
    return EXIT_USAGE;
  }
  const driver = new UdpDriver({
    core,
    mode: a.mode,
    listen: a.listen,
    clockOffsetUs: a.clockOffsetUs,
    hostClockOffsetNs: a.hostClockOffsetNs,
    onCoreError: a.onCoreError,
    ...(a.state === undefined ? {} : { stable: new FileStableStore(stateFilePath(a.state)) }),
    beforeStart: a.lateBind ? 'drop' : 'queue',
    ...(a.until === undefined ? {} : { endAtUs: a.until }),
    sink: (e) => process.stdout.write(JSON.stringify(e) + '\n'),
    onNote: (m) => writeStatus({ note: m }),
  });
  return serveControl({
    driver,
    lateBind: a.lateBind,
    ...(a.origin === undefined ? {} : { origin: a.origin }),
    startAt: a.startAt,
    announce: a.incarnation > 0 ? [{ action: 'HostRestart' }] : [],
  });
}
