/**
 * `protocheck switch --listen IP:PORT --config JSON`: the software switch of the local testbed.
 * One UDP socket; every datagram arrives enveloped (`impl/envelope.ts`) and goes through the
 * Switch core (`testbeds/switch/switch.ts`): its programs (roles with placement `switch`, built from
 * the role registry), then the fault stage. Each `send` of the switch leaves enveloped towards the
 * real socket at its `dst` (on the local testbed a virtual address is the real address of the
 * destination's process). Same stdout/stderr/stdin protocol as `protocheck node`
 * (`testbeds/local/control.ts`), with `SwitchCommand`s as commands and `hostDown`/`hostUp` lines.
 */
import { parseArgs } from 'node:util';
import { PROCESS_OPTIONS } from '../args.ts';
import type { Addr, Core, NodeId, Packet } from '../../../impl/core.ts';
import type { TraceBody } from '../../trace/schema.ts';
import type { Json, RoleFactory } from '../../protocol.ts';
import type { LinkConfig } from '../../scenario/types.ts';
import { PERFECT_LINK } from '../../scenario/types.ts';
import { parseAddr } from '../../../impl/envelope.ts';
import { Rng } from '../../../impl/rng.ts';
import { UdpDriver } from '../../../impl/udp-driver.ts';
import { serveControl, writeStatus } from '../../../testbeds/local/control.ts';
import {
  UsageError, loadRoles, nodeRng, parseAddrArg, parseBugs, parseClockOffsetNsArg, parseIntArg, parseJsonArg, parseNumArg,
  parseOriginArg,
} from './node.ts';

const EXIT_USAGE = 2;

export const SWITCH_USAGE = `usage: protocheck switch --listen IP:PORT --config JSON [options]

Runs the switch (programs + fault stage) on one UDP socket. Every datagram must carry the 14-byte
tunnel envelope. Trace events (Net* annotations and the programs' events) go to stdout as NDJSON;
status lines to stderr; control lines from stdin: {"origin":"<ns>"}, {"command":SwitchCommand,"at":US},
{"hostDown":ADDR}, {"hostUp":ADDR}, {"hostCut":ADDR}, {"hostMend":ADDR}, {"stop":true}. See testbeds/local/control.ts.

config (JSON object, or @FILE):
  node      the switch's id in traces (default "switch")
  link      default LinkConfig {delay, jitter, loss, duplicate} (default: a perfect 10 µs link)
  nodeOf    { "IP:PORT": "nodeId", … } every host address (packets to other addresses: no-route)
  programs  [ { "id", "role", "addr", "config" }, … ] switch programs, built from the role registry
  seed      run seed (default 0); bugs: [names]  (both overridable by flags)

options:
  --listen IP:PORT      the switch's address (required)
  --config JSON         as above
  --seed N, --bugs A,B, --origin NS, --start-at US, --until US, --roles MODULE,
  --clock-offset-ns=NS: as for \`node\`
  -h, --help            this text

exit codes: 0 stopped cleanly, 2 bad flags / config / address in use`;

export interface ProgramSpec {
  readonly id: NodeId;
  readonly role: string;
  readonly addr: Addr;
  readonly config: Json;
}

export interface SwitchConfig {
  readonly node: NodeId;
  readonly link: LinkConfig;
  readonly nodeOf: Record<Addr, NodeId>;
  readonly programs: readonly ProgramSpec[];
  readonly seed: number;
  readonly bugs: readonly string[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function linkConfig(where: string, v: unknown): LinkConfig {
  if (!isObj(v)) throw new UsageError(`${where} must be an object {delay, jitter, loss, duplicate}`);
  const out: Record<string, number> = {};
  for (const k of ['delay', 'jitter', 'loss', 'duplicate'] as const) {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new UsageError(`${where}.${k} must be a non-negative number`);
    if ((k === 'loss' || k === 'duplicate') && x > 1) throw new UsageError(`${where}.${k} is a probability in [0, 1]`);
    out[k] = x;
  }
  for (const k of Object.keys(v)) if (!(k in out)) throw new UsageError(`${where}: unknown field '${k}'`);
  return out as unknown as LinkConfig;
}

/** Validates a switch config; the error names the offending field. */
export function parseSwitchConfig(v: Json): SwitchConfig {
  if (!isObj(v)) throw new UsageError('--config must be a JSON object');
  const known = ['node', 'link', 'nodeOf', 'programs', 'seed', 'bugs'];
  for (const k of Object.keys(v)) if (!known.includes(k)) throw new UsageError(`config: unknown field '${k}' (known: ${known.join(', ')})`);
  const node = v.node ?? 'switch';
  if (typeof node !== 'string' || !node) throw new UsageError('config.node must be a non-empty string');
  const link = v.link === undefined ? PERFECT_LINK : linkConfig('config.link', v.link);
  const nodeOf: Record<Addr, NodeId> = {};
  if (v.nodeOf !== undefined) {
    if (!isObj(v.nodeOf)) throw new UsageError('config.nodeOf must be an object { "IP:PORT": "nodeId" }');
    for (const [a, id] of Object.entries(v.nodeOf)) {
      if (!parseAddr(a).ok) throw new UsageError(`config.nodeOf: '${a}' is not an IPv4 address with a port`);
      if (typeof id !== 'string') throw new UsageError(`config.nodeOf['${a}'] must be a node id string`);
      nodeOf[a] = id;
    }
  }
  const programs: ProgramSpec[] = [];
  if (v.programs !== undefined) {
    if (!Array.isArray(v.programs)) throw new UsageError('config.programs must be an array');
    v.programs.forEach((p, i) => {
      const w = `config.programs[${i}]`;
      if (!isObj(p)) throw new UsageError(`${w} must be an object {id, role, addr, config}`);
      if (typeof p.id !== 'string' || !p.id) throw new UsageError(`${w}.id must be a non-empty string`);
      if (typeof p.role !== 'string') throw new UsageError(`${w}.role must be a role name`);
      if (typeof p.addr !== 'string' || !parseAddr(p.addr).ok) throw new UsageError(`${w}.addr must be IP:PORT`);
      programs.push({ id: p.id, role: p.role, addr: p.addr, config: (p.config ?? {}) as Json });
    });
  }
  const seed = v.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new UsageError('config.seed must be an integer');
  const bugs = v.bugs ?? [];
  if (!Array.isArray(bugs) || !bugs.every((b) => typeof b === 'string')) throw new UsageError('config.bugs must be an array of names');
  return { node, link, nodeOf, programs, seed, bugs: bugs as string[] };
}

export async function run(args: string[]): Promise<number> {
  const fail = (msg: string): number => {
    process.stderr.write(`protocheck switch: ${msg}\n`);
    writeStatus({ fatal: msg });
    return EXIT_USAGE;
  };
  let v;
  try {
    v = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: PROCESS_OPTIONS,
    }).values;
  } catch (err) {
    process.stderr.write(`protocheck switch: ${(err as Error).message}\n\n${SWITCH_USAGE}\n`);
    return EXIT_USAGE;
  }
  if (v.help) {
    process.stdout.write(SWITCH_USAGE + '\n');
    return 0;
  }
  let driver: UdpDriver<any, unknown>;
  let origin: bigint | undefined;
  let startAt = 0;
  let sw: { notes: string[] };
  const down = new Set<Addr>();
  /** Hosts whose link is cut: what they send and what is sent to them is dropped. */
  const cut = new Set<Addr>();
  let nodeOf: Record<Addr, NodeId> = {};
  try {
    if (!v.listen) throw new UsageError('--listen IP:PORT is required');
    const listen = parseAddrArg('--listen', v.listen);
    if (v.config === undefined) throw new UsageError('--config JSON is required');
    const cfg = parseSwitchConfig(parseJsonArg('--config', v.config));
    const seed = v.seed === undefined ? cfg.seed : parseIntArg('--seed', v.seed);
    const bugs = v.bugs === undefined ? new Set(cfg.bugs) : parseBugs(v.bugs);
    if (v.origin !== undefined) origin = parseOriginArg(v.origin);
    if (v['start-at'] !== undefined) startAt = parseNumArg('--start-at', v['start-at']);
    const until = v.until === undefined ? undefined : parseNumArg('--until', v.until);
    const hostClockOffsetNs = parseClockOffsetNsArg(v['clock-offset-ns']);
    nodeOf = cfg.nodeOf;
    const roles = cfg.programs.length ? await loadRoles(v.roles) : {};
    const programs = cfg.programs.map((p) => {
      const factory: RoleFactory | undefined = roles[p.role];
      if (!factory) throw new UsageError(`program ${p.id}: unknown role '${p.role}' (known: ${Object.keys(roles).join(', ')})`);
      let incarnation = 0;
      const build = (): Core<any, any> =>
        factory(p.config, { node: p.id, addr: p.addr, rng: nodeRng(seed, p.id, incarnation++), bugs });
      let core;
      try {
        core = build();
      } catch (err) {
        throw new UsageError(`program ${p.id}: bad config for ${p.role}: ${(err as Error).message}`);
      }
      return { id: p.id, addr: p.addr, core, restart: build };
    });
    const { Switch } = await import('../../../testbeds/switch/switch.ts');
    const core = new Switch({ node: cfg.node, addr: listen, rng: new Rng(seed).fork(cfg.node), link: cfg.link, programs, nodeOf });
    sw = core;
    driver = new UdpDriver<any, unknown>({
      core,
      mode: { kind: 'switch' },
      listen,
      hostClockOffsetNs,
      ...(until === undefined ? {} : { endAtUs: until }),
      sink: (e) => process.stdout.write(JSON.stringify(e) + '\n'),
      onNote: (m) => writeStatus({ note: m }),
      egressFilter: (p) =>
        down.has(p.dst) ? dropped(p, 'host-down') : cut.has(p.dst) ? dropped(p, 'cut') : undefined,
      ingressFilter: (p) => (cut.has(p.src) ? dropped(p, 'cut') : undefined),
    });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return fail(err.message);
  }
  function dropped(p: Packet, reason: 'host-down' | 'cut'): TraceBody {
    return { action: 'NetDrop', src: p.src, dst: p.dst, from: nodeOf[p.src] ?? p.src, to: nodeOf[p.dst] ?? p.dst, reason };
  }
  let drained = 0;
  return serveControl({
    driver,
    lateBind: false,
    ...(origin === undefined ? {} : { origin }),
    startAt,
    onControl: (c) => {
      if (c.kind === 'hostDown') down.add(c.addr);
      else if (c.kind === 'hostUp') down.delete(c.addr);
      else if (c.kind === 'hostCut') cut.add(c.addr);
      else if (c.kind === 'hostMend') cut.delete(c.addr);
      else return false;
      return true;
    },
    drainNotes: () => {
      const fresh = sw.notes.slice(drained);
      drained = sw.notes.length;
      return fresh;
    },
  });
}
