/**
 * The switch: every packet between nodes goes through it, on every testbed. It is itself a
 * sans-I/O core (`Core<SwitchCommand>`): no sockets, no clocks, no `Math.random()`. The simulator
 * drives it under virtual time; the `local` testbed drives it from a switch process whose UDP
 * socket receives tunnelled datagrams (see `docs/DESIGN.md`).
 *
 * ## Pipeline (per `receive`d packet)
 *
 *   ingress ──▶ program stage ──▶ fault stage ──▶ egress (`send` output)
 *
 * 1. **Program stage.** If `dst` is a switch program's address (e.g. the JBSQ router), the packet
 *    is handed to that program's core at once (same `handle` call, no link delay: the program
 *    lives in the fabric). The program's outputs are mapped:
 *    - `send` → re-enters the pipeline (a program may keep another `src`, e.g. the router
 *      forwarding a client's REQ0 keeps the client's address, so the server replies straight to
 *      the client). A packet may pass through at most `maxHops` programs (default 16); beyond
 *      that it is dropped (`NetDrop` reason `ttl`), which bounds program↔program loops.
 *    - `setTimer`/`cancelTimer` → the switch's own timers, namespaced `p:<program id>:<name>`.
 *    - `trace` → the event with `node: <program id>` set (the driver keeps a `node` the body sets).
 *    - `notify` → discarded (there is no application on the switch).
 *    A host's packet addressed to a program first crosses the host's link: the fault stage below
 *    applies (loss, duplication, delay, partitions), and the program gets it on arrival. What a
 *    program sends crosses the link to its destination, again through the fault stage.
 *    A packet to a crashed program is dropped (`host-down`); to a paused one it waits (see below).
 * 2. **Fault stage**, for the link `src → dst` (addresses; the rule that applies is the most
 *    specific of exact pair > from-only > to-only > default, see `links.ts`):
 *    partition (drop, reason `partition`) → loss (drop, reason `loss`) → duplicate (a second copy,
 *    annotated `NetDuplicate`, with its own delay draw) → delay + jitter (`delay + floor(u·jitter)`,
 *    u uniform in [0, 1), so packets with jitter may overtake each other). A packet whose total
 *    delay is 0 is emitted as `send` in the same `handle` call; otherwise it is held and the
 *    switch arms a timer `d:<seq>`; when the driver feeds that timer back, the switch emits the
 *    `send`. A `dst` that is neither a program nor a known host (`nodeOf`) is dropped first
 *    (reason `no-route`).
 * 3. **Egress.** `send` outputs of the switch are packets on the wire to the host owning `dst`; the
 *    driver delivers them (and reports `host-down` itself if that host is down).
 *
 * RNG draws per packet, in this order: loss (only when loss > 0), duplicate (only when > 0),
 * jitter of the first copy (only when jitter > 0), jitter of the duplicate. Same inputs and seed ⇒
 * same outputs.
 *
 * ## Commands (`SwitchCommand`, fed as `{ kind: 'command', command }`)
 *
 * `link` sets a rule; `partition`/`heal` cut/restore both directions between two address groups
 * (reference-counted, so overlapping partitions compose); `crashProgram` drops a program's core and
 * cancels its timers; `restartProgram` builds a fresh core with the program's `restart()` and feeds
 * it `start` (a restart of a program that is not crashed is ignored, with a note);
 * `pauseProgram`/`resumeProgram` freeze a program: packets and timer firings for it queue up and
 * are handed over in order on resume (nested pauses need as many resumes).
 *
 * ## Trace annotations (node = the switch's id unless said otherwise; not spec actions)
 *
 * `NetDrop {src, dst, from, to, reason}` with reason `loss | partition | no-route | host-down | ttl | cut`
 * (`cut`: the host's link is cut, a `disconnect` fault; the testbed drops those)
 * (`from`/`to` are node ids, or the address when unknown); `NetDuplicate {src, dst, from, to}`;
 * `NetLink {from, to, delay, jitter, loss, duplicate}`; `NetPartition {a, b}` and `NetHeal {a, b}`
 * (address lists); `HostCrash {reason}`, `HostRestart {}`, `HostPause {}`, `HostResume {}` with
 * node = the program's id (testbeds emit the same four for hosts).
 *
 * ## Robustness
 *
 * `handle` never throws: a malformed input or command is ignored and described in `notes` (capped).
 * A program core that throws is treated as a crashed process (`HostCrash` reason `exception`).
 */
import { match } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId, Packet } from '../../impl/core.ts';
import type { Rng } from '../../impl/rng.ts';
import type { LinkConfig } from '../../harness/scenario/types.ts';
import type { TraceBody } from '../../harness/trace/schema.ts';
import { LinkTable, PartitionTable, type AddrOrAny } from './links.ts';

export type Groups = readonly [readonly Addr[], readonly Addr[]];

export type SwitchCommand =
  /** Links from `from` to `to` (either may be `'*'`) behave as `link` from now on. */
  | { readonly kind: 'link'; readonly from: AddrOrAny; readonly to: AddrOrAny; readonly link: LinkConfig }
  /** Drop packets between the two groups, both directions, until a matching `heal`. */
  | { readonly kind: 'partition'; readonly groups: Groups }
  | { readonly kind: 'heal'; readonly groups: Groups }
  | { readonly kind: 'crashProgram'; readonly id: NodeId }
  | { readonly kind: 'restartProgram'; readonly id: NodeId }
  | { readonly kind: 'pauseProgram'; readonly id: NodeId }
  | { readonly kind: 'resumeProgram'; readonly id: NodeId };

export type DropReason = 'loss' | 'partition' | 'no-route' | 'host-down' | 'ttl' | 'cut';

export interface SwitchProgram {
  readonly id: NodeId;
  readonly addr: Addr;
  readonly core: Core<any, any>;
  /** A fresh core for `restartProgram` (same config, fresh state). Without it a restart fails. */
  readonly restart?: () => Core<any, any>;
}

export interface SwitchOptions {
  /** The switch's node id in traces, conventionally `'switch'`. */
  readonly node: NodeId;
  readonly addr: Addr;
  readonly rng: Rng;
  /** The default link behaviour for every link (the scenario's `network`). */
  readonly link: LinkConfig;
  readonly programs: readonly SwitchProgram[];
  /** Host addresses → node ids (for routing: unknown destinations are `no-route`; and reports). */
  readonly nodeOf: Readonly<Record<Addr, NodeId>>;
  /** How many programs one packet may pass through (default 16). */
  readonly maxHops?: number;
}

export interface SwitchStats {
  /** Packets fed to the switch by the driver (`receive` inputs). */
  received: number;
  /** Packets handed to a program. */
  toPrograms: number;
  /** Packets emitted on egress (`send` outputs), duplicates included. */
  forwarded: number;
  dropped: number;
  duplicated: number;
}

interface ProgramState {
  readonly id: NodeId;
  readonly addr: Addr;
  readonly restart: (() => Core<any, any>) | undefined;
  core: Core<any, any> | null;
  pauseDepth: number;
  /** Inputs that arrived while paused; a timer carries the arming generation it fired for. */
  queue: { input: CoreInput<any>; gen: number }[];
  /** Armed timers: full (namespaced) name → generation. */
  readonly timers: Map<string, number>;
  /** `p:<id>:` */
  readonly prefix: string;
}

const MAX_NOTES = 100;

export function dropEvent(src: Addr, dst: Addr, from: string, to: string, reason: DropReason): TraceBody {
  return { action: 'NetDrop', src, dst, from, to, reason };
}

function isPacket(p: unknown): p is Packet {
  if (typeof p !== 'object' || p === null) return false;
  const q = p as Record<string, unknown>;
  return typeof q.src === 'string' && typeof q.dst === 'string' && q.data instanceof Uint8Array;
}

function isAddrList(v: unknown): v is Addr[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function isGroups(v: unknown): v is Groups {
  return Array.isArray(v) && v.length === 2 && isAddrList(v[0]) && isAddrList(v[1]);
}

export class Switch implements Core<SwitchCommand> {
  readonly node: NodeId;
  readonly addr: Addr;
  readonly stats: SwitchStats = { received: 0, toPrograms: 0, forwarded: 0, dropped: 0, duplicated: 0 };
  /** Oddities (malformed inputs, unknown programs, program exceptions), for the run's report. */
  readonly notes: string[] = [];

  private readonly rng: Rng;
  private readonly links: LinkTable;
  private readonly partitions = new PartitionTable();
  private readonly programs: ProgramState[];
  private readonly progByAddr = new Map<Addr, ProgramState>();
  private readonly progById = new Map<NodeId, ProgramState>();
  private readonly nodeOf: Map<Addr, NodeId>;
  private readonly maxHops: number;
  /** Held packets, by delivery-timer sequence number. */
  /** Packets on a link, by delivery sequence number; `toProgram` ones go to a program on arrival. */
  private readonly held = new Map<number, { packet: Packet; toProgram: boolean }>();
  private nextSeq = 0;
  private timerGen = 0;
  private started = false;
  private suppressed = 0;

  constructor(opts: SwitchOptions) {
    this.node = opts.node;
    this.addr = opts.addr;
    this.rng = opts.rng;
    this.links = new LinkTable(opts.link);
    this.maxHops = opts.maxHops ?? 16;
    this.nodeOf = new Map(Object.entries(opts.nodeOf));
    this.programs = opts.programs.map((p) => ({
      id: p.id, addr: p.addr, restart: p.restart, core: p.core, pauseDepth: 0, queue: [],
      timers: new Map(), prefix: `p:${p.id}:`,
    }));
    for (const p of this.programs) {
      this.progByAddr.set(p.addr, p);
      this.progById.set(p.id, p);
      this.nodeOf.set(p.addr, p.id);
    }
  }

  /** Packets held for delivery (waiting for their `d:<seq>` timer). */
  get inFlight(): number {
    return this.held.size;
  }

  /** Whether the program's core is present (not crashed). */
  programUp(id: NodeId): boolean {
    return this.progById.get(id)?.core != null;
  }

  handle(input: CoreInput<SwitchCommand>, now: Micros): CoreOutput[] {
    const out: CoreOutput[] = [];
    try {
      // A plain `switch` (exhaustive through the `never` check) rather than ts-pattern: this is
      // the per-packet hot path. Commands, which are rare, use ts-pattern below.
      const kind = (input as { kind?: unknown } | null)?.kind;
      switch (input.kind) {
        case 'start':
          this.start(now, out);
          break;
        case 'receive':
          this.stats.received++;
          this.route(input.packet, now, out);
          break;
        case 'timer':
          this.timer(input.name, now, out);
          break;
        case 'command':
          this.command(input.command, now, out);
          break;
        default:
          input satisfies never;
          throw new Error(`unknown input kind ${safeJson(kind)}`);
      }
    } catch (err) {
      this.note(`switch: ignored malformed input ${safeJson(input)}: ${(err as Error)?.message ?? err}`);
    }
    return out;
  }

  // ---- inputs ----

  private start(now: Micros, out: CoreOutput[]): void {
    if (this.started) {
      this.note('switch: start received twice; ignored');
      return;
    }
    this.started = true;
    for (const p of this.programs) if (p.core) this.runProgram(p, { kind: 'start' }, now, out);
  }

  private timer(name: unknown, now: Micros, out: CoreOutput[]): void {
    if (typeof name !== 'string') throw new Error('timer name is not a string');
    if (name.startsWith('d:')) {
      const seq = Number(name.slice(2));
      const h = this.held.get(seq);
      if (h === undefined) {
        this.note(`switch: delivery timer ${name} for no held packet`);
        return;
      }
      this.held.delete(seq);
      if (h.toProgram) {
        this.route(h.packet, now, out, true);
        return;
      }
      this.stats.forwarded++;
      out.push({ kind: 'send', packet: h.packet });
      return;
    }
    if (name.startsWith('p:')) {
      for (const p of this.programs) {
        if (!name.startsWith(p.prefix)) continue;
        const gen = p.timers.get(name);
        if (gen === undefined) return; // cancelled, re-armed elsewhere, or the program crashed
        const input: CoreInput<any> = { kind: 'timer', name: name.slice(p.prefix.length) };
        if (p.pauseDepth > 0) {
          p.queue.push({ input, gen });
          return;
        }
        p.timers.delete(name);
        this.runProgram(p, input, now, out);
        return;
      }
    }
    this.note(`switch: unknown timer ${name}`);
  }

  private command(c: SwitchCommand, now: Micros, out: CoreOutput[]): void {
    match(c)
      .with({ kind: 'link' }, (c) => {
        if (typeof c.from !== 'string' || typeof c.to !== 'string') throw new Error('link: from/to must be addresses or *');
        const l = this.links.set(c.from, c.to, c.link);
        this.annotate(out, { action: 'NetLink', from: c.from, to: c.to, ...l });
      })
      .with({ kind: 'partition' }, (c) => {
        if (!isGroups(c.groups)) throw new Error('partition: groups must be two address lists');
        this.partitions.partition(c.groups);
        this.annotate(out, { action: 'NetPartition', a: [...c.groups[0]], b: [...c.groups[1]] });
      })
      .with({ kind: 'heal' }, (c) => {
        if (!isGroups(c.groups)) throw new Error('heal: groups must be two address lists');
        this.partitions.heal(c.groups);
        this.annotate(out, { action: 'NetHeal', a: [...c.groups[0]], b: [...c.groups[1]] });
      })
      .with({ kind: 'crashProgram' }, (c) => {
        const p = this.program(c.id, 'crashProgram');
        if (!p) return;
        if (!p.core) {
          this.note(`switch: crashProgram ${p.id}: already down`);
          return;
        }
        this.crash(p, 'fault', out);
      })
      .with({ kind: 'restartProgram' }, (c) => {
        const p = this.program(c.id, 'restartProgram');
        if (!p) return;
        if (p.core) {
          this.note(`switch: restartProgram ${p.id}: not crashed; ignored`);
          return;
        }
        if (!p.restart) {
          this.note(`switch: restartProgram ${p.id}: no restart factory; stays down`);
          return;
        }
        let core: Core<any, any>;
        try {
          core = p.restart();
        } catch (err) {
          this.note(`switch: restartProgram ${p.id}: factory threw: ${(err as Error)?.message ?? err}`);
          return;
        }
        p.core = core;
        out.push({ kind: 'trace', event: { action: 'HostRestart', node: p.id } });
        this.runProgram(p, { kind: 'start' }, now, out);
      })
      .with({ kind: 'pauseProgram' }, (c) => {
        const p = this.program(c.id, 'pauseProgram');
        if (!p || !p.core) return;
        if (p.pauseDepth++ === 0) out.push({ kind: 'trace', event: { action: 'HostPause', node: p.id } });
      })
      .with({ kind: 'resumeProgram' }, (c) => {
        const p = this.program(c.id, 'resumeProgram');
        if (!p || p.pauseDepth === 0) return;
        if (--p.pauseDepth > 0) return;
        out.push({ kind: 'trace', event: { action: 'HostResume', node: p.id } });
        const queued = p.queue;
        p.queue = [];
        for (const q of queued) {
          if (!p.core) break; // threw while draining: the rest is lost with the process
          if (q.input.kind === 'timer') {
            const full = p.prefix + q.input.name;
            if (p.timers.get(full) !== q.gen) continue; // re-armed or cancelled meanwhile
            p.timers.delete(full);
            this.runProgram(p, q.input, now, out);
          } else if (q.input.kind === 'receive') {
            // Re-enter the pipeline at the program stage (the hop count restarts).
            this.route(q.input.packet, now, out);
          } else {
            this.runProgram(p, q.input, now, out);
          }
        }
      })
      .exhaustive();
  }

  // ---- pipeline ----

  /** Runs a packet (and everything programs send because of it) through the pipeline. */
  private route(first: unknown, now: Micros, out: CoreOutput[], arrived = false): void {
    const work: { p: unknown; hops: number }[] = [{ p: first, hops: 0 }];
    for (let i = 0; i < work.length; i++) {
      const { p, hops } = work[i]!;
      if (!isPacket(p)) {
        this.note(`switch: ignored a malformed packet ${safeJson(p)} (want {src, dst, data: Uint8Array})`);
        continue;
      }
      const prog = this.progByAddr.get(p.dst);
      if (prog !== undefined) {
        if (!this.partitions.empty && this.partitions.isCut(p.src, p.dst)) {
          this.drop(p, 'partition', out);
        } else if (!prog.core) {
          this.drop(p, 'host-down', out);
        } else if (hops >= this.maxHops) {
          this.drop(p, 'ttl', out);
        } else if (hops === 0 && !arrived && this.nodeOf.has(p.src)) {
          // A host's packet to a program crosses the host's link first: faults apply there too.
          this.faultStage(p, now, out, true);
        } else if (prog.pauseDepth > 0) {
          prog.queue.push({ input: { kind: 'receive', packet: p }, gen: 0 });
        } else {
          this.stats.toPrograms++;
          const sends = this.toProgram(prog, { kind: 'receive', packet: p }, now, out);
          for (const s of sends) work.push({ p: s, hops: hops + 1 });
        }
        continue;
      }
      if (!this.nodeOf.has(p.dst)) {
        this.drop(p, 'no-route', out);
        continue;
      }
      this.faultStage(p, now, out);
    }
  }

  private faultStage(p: Packet, now: Micros, out: CoreOutput[], toProgram = false): void {
    if (!this.partitions.empty && this.partitions.isCut(p.src, p.dst)) {
      this.drop(p, 'partition', out);
      return;
    }
    const l = this.links.get(p.src, p.dst);
    if (this.rng.chance(l.loss)) {
      this.drop(p, 'loss', out);
      return;
    }
    const dup = this.rng.chance(l.duplicate);
    this.schedule(p, l, now, out, toProgram);
    if (dup) {
      this.stats.duplicated++;
      this.annotate(out, { action: 'NetDuplicate', src: p.src, dst: p.dst, from: this.name(p.src), to: this.name(p.dst) });
      this.schedule({ src: p.src, dst: p.dst, data: p.data.slice() }, l, now, out, toProgram);
    }
  }

  private schedule(p: Packet, l: LinkConfig, now: Micros, out: CoreOutput[], toProgram: boolean): void {
    const d = l.delay + (l.jitter > 0 ? Math.floor(this.rng.next() * l.jitter) : 0);
    if (d <= 0) {
      if (toProgram) {
        this.route(p, now, out, true);
        return;
      }
      this.stats.forwarded++;
      out.push({ kind: 'send', packet: p });
      return;
    }
    const seq = this.nextSeq++;
    this.held.set(seq, { packet: p, toProgram });
    out.push({ kind: 'setTimer', name: `d:${seq}`, at: now + d });
  }

  /**
   * Feeds one input to a program and maps its outputs into `out`; returns the packets it sent
   * (the caller routes them).
   */
  private toProgram(p: ProgramState, input: CoreInput<any>, now: Micros, out: CoreOutput[]): Packet[] {
    const core = p.core;
    if (!core) return [];
    let outs: CoreOutput<any>[];
    try {
      outs = core.handle(input, now);
    } catch (err) {
      this.note(`switch: program ${p.id} threw on ${input.kind}: ${(err as Error)?.message ?? err}; crashed`);
      this.crash(p, 'exception', out);
      return [];
    }
    const sends: Packet[] = [];
    if (!Array.isArray(outs)) return sends;
    for (const o of outs) {
      switch (o?.kind) {
        case 'send':
          sends.push(o.packet);
          break;
        case 'setTimer': {
          const full = p.prefix + o.name;
          if (typeof o.at !== 'number' || !Number.isFinite(o.at)) {
            this.note(`switch: program ${p.id} armed ${o.name} at a non-finite time; ignored`);
            break;
          }
          p.timers.set(full, ++this.timerGen);
          out.push({ kind: 'setTimer', name: full, at: o.at });
          break;
        }
        case 'cancelTimer': {
          const full = p.prefix + o.name;
          if (p.timers.delete(full)) out.push({ kind: 'cancelTimer', name: full });
          break;
        }
        case 'trace':
          out.push({ kind: 'trace', event: { ...o.event, node: p.id } });
          break;
        case 'notify':
          break;
        default:
          this.note(`switch: program ${p.id} emitted a malformed output ${safeJson(o)}`);
      }
    }
    return sends;
  }

  /** Feeds a non-packet input (start, timer) to a program and routes what it sends. */
  private runProgram(p: ProgramState, input: CoreInput<any>, now: Micros, out: CoreOutput[]): void {
    for (const s of this.toProgram(p, input, now, out)) this.route(s, now, out);
  }

  private crash(p: ProgramState, reason: 'fault' | 'exception', out: CoreOutput[]): void {
    p.core = null;
    p.pauseDepth = 0;
    p.queue = [];
    for (const full of p.timers.keys()) out.push({ kind: 'cancelTimer', name: full });
    p.timers.clear();
    out.push({ kind: 'trace', event: { action: 'HostCrash', node: p.id, reason } });
  }

  // ---- helpers ----

  private program(id: unknown, what: string): ProgramState | undefined {
    const p = typeof id === 'string' ? this.progById.get(id) : undefined;
    if (!p) this.note(`switch: ${what}: unknown program ${safeJson(id)}`);
    return p;
  }

  private name(a: Addr): string {
    return this.nodeOf.get(a) ?? a;
  }

  private drop(p: Packet, reason: DropReason, out: CoreOutput[]): void {
    this.stats.dropped++;
    this.annotate(out, dropEvent(p.src, p.dst, this.name(p.src), this.name(p.dst), reason));
  }

  private annotate(out: CoreOutput[], event: TraceBody): void {
    out.push({ kind: 'trace', event });
  }

  private note(msg: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(msg);
    else if (this.suppressed++ === 0) this.notes.push('switch: further notes suppressed');
  }
}

function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `<${x.length} bytes>` : x));
    return s === undefined ? String(v) : s.length > 200 ? s.slice(0, 200) + '…' : s;
  } catch {
    return String(v);
  }
}
