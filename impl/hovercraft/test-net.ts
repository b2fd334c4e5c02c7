/**
 * Helpers for the HovercRaft core tests (not used by the cores): a small in-test event loop that
 * wires cores by address (fixed delay, timers, crash and restart with the persisted state, a
 * packet filter, per-address message counts), a stub multicast middlebox, a stub closed-loop
 * client, and a cluster builder.
 */
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId, Packet, StableState } from '../core.ts';
import { Rng } from '../rng.ts';
import type { TraceBody } from '../../harness/trace/schema.ts';
import { decode, split } from '../r2p2/codec.ts';
import type { Mode } from './actions.ts';
import { HovercraftAggregator } from './aggregator.ts';
import type { NodeConfig, ReplierPolicy } from './config.ts';
import { type KvOp, decodeResult, encodeOp, isReadOnly } from './kv.ts';
import { HovercraftNode } from './node.ts';
import { decodeRaft, messageClass as classify } from './wire.ts';

export type Event = TraceBody & { t: number; node: string };

export { messageClass as classify } from './wire.ts';

export const traces = (out: readonly CoreOutput<any>[]): TraceBody[] =>
  out.flatMap((o) => (o.kind === 'trace' ? [o.event] : []));
export const sends = (out: readonly CoreOutput<any>[]): Packet[] =>
  out.flatMap((o) => (o.kind === 'send' ? [o.packet] : []));
export const actions = (out: readonly CoreOutput<any>[]): string[] => traces(out).map((e) => e.action);

interface Queued {
  at: number;
  seq: number;
  addr: Addr;
  input: CoreInput<any>;
  /** Timers: `addr|name`, valid while it maps to this seq. */
  key?: string;
  /** The incarnation of the core a timer belongs to. */
  inc?: number;
}

const before = (a: Queued, b: Queued): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class TestNet {
  readonly events: Event[] = [];
  readonly cores = new Map<Addr, Core<any, any>>();
  readonly stable = new Map<Addr, StableState>();
  /** Messages sent and received per address and class. */
  readonly tx = new Map<Addr, Map<string, number>>();
  readonly rx = new Map<Addr, Map<string, number>>();
  /** Set false to stop counting (e.g. during warm-up). */
  counting = true;
  now: Micros = 0;
  /** Returns the deliveries of a packet (empty = drop, two = duplicate). */
  filter: (p: Packet) => Packet[] = (p) => [p];
  private queue: Queued[] = [];
  private readonly timerSeq = new Map<string, number>();
  private readonly incarnation = new Map<Addr, number>();
  private seq = 0;

  constructor(readonly delay = 10) {}

  add(core: Core<any, any>, at = this.now): void {
    this.cores.set(core.addr, core);
    const inc = (this.incarnation.get(core.addr) ?? 0) + 1;
    this.incarnation.set(core.addr, inc);
    const stable = this.stable.get(core.addr);
    this.push({ at, addr: core.addr, input: stable === undefined ? { kind: 'start' } : { kind: 'start', stable }, inc });
  }

  /** The core at `addr` stops: its volatile state, timers and in-flight inputs are gone. */
  crash(addr: Addr): void {
    this.cores.delete(addr);
    this.incarnation.set(addr, (this.incarnation.get(addr) ?? 0) + 1);
  }

  inject(addr: Addr, input: CoreInput<any>, at = this.now): void {
    this.push({ at, addr, input });
  }

  /** Binary heap on (at, seq). */
  private push(q: Omit<Queued, 'seq'>): number {
    const seq = this.seq++;
    const h = this.queue;
    h.push({ ...q, seq });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return seq;
  }

  private pop(): void {
    const h = this.queue;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }

  private count(map: Map<Addr, Map<string, number>>, addr: Addr, data: Uint8Array): void {
    if (!this.counting) return;
    let m = map.get(addr);
    if (!m) map.set(addr, (m = new Map()));
    const c = classify(data);
    m.set(c, (m.get(c) ?? 0) + 1);
  }

  run(until: Micros): void {
    for (;;) {
      const ev = this.queue[0];
      if (!ev || ev.at > until) break;
      this.pop();
      if (ev.key !== undefined && this.timerSeq.get(ev.key) !== ev.seq) continue;
      if (ev.inc !== undefined && this.incarnation.get(ev.addr) !== ev.inc) continue;
      this.now = ev.at;
      const core = this.cores.get(ev.addr);
      if (!core) continue;
      if (ev.input.kind === 'receive') this.count(this.rx, ev.addr, ev.input.packet.data);
      const inc = this.incarnation.get(ev.addr);
      for (const o of core.handle(ev.input, this.now)) {
        switch (o.kind) {
          case 'trace':
            this.events.push({ t: this.now, node: core.node, ...o.event });
            break;
          case 'persist':
            this.stable.set(core.addr, o.state);
            break;
          case 'notify':
            break;
          case 'send':
            this.count(this.tx, core.addr, o.packet.data);
            for (const p of this.filter(o.packet)) this.push({ at: this.now + this.delay, addr: p.dst, input: { kind: 'receive', packet: p } });
            break;
          case 'setTimer': {
            const key = `${ev.addr}|${o.name}`;
            const seq = this.push({ at: o.at, addr: ev.addr, input: { kind: 'timer', name: o.name }, key, ...(inc === undefined ? {} : { inc }) });
            this.timerSeq.set(key, seq);
            break;
          }
          case 'cancelTimer':
            this.timerSeq.delete(`${ev.addr}|${o.name}`);
            break;
        }
      }
    }
    this.now = until;
  }

  countOf(map: 'tx' | 'rx', addr: Addr, ...classes: string[]): number {
    const m = this[map].get(addr);
    return classes.reduce((s, c) => s + (m?.get(c) ?? 0), 0);
  }

  resetCounts(): void {
    this.tx.clear();
    this.rx.clear();
  }
}

/** The flow-control middlebox reduced to its multicast: every client request is copied to every node. */
export class StubMiddlebox implements Core<never, never> {
  feedbacks = 0;
  constructor(readonly node: NodeId, readonly addr: Addr, private readonly nodes: readonly Addr[]) {}
  handle(input: CoreInput<never>): CoreOutput<never>[] {
    if (input.kind !== 'receive') return [];
    const d = decode(input.packet.data);
    if (!d.ok) return [];
    if (d.msg.type === 'FEEDBACK') {
      this.feedbacks++;
      return [];
    }
    if (d.msg.type !== 'REQUEST') return [];
    return this.nodes.map((dst) => ({ kind: 'send', packet: { src: input.packet.src, dst, data: input.packet.data } }));
  }
}

export interface Completed {
  readonly rid: number;
  readonly op: KvOp;
  readonly sentAt: number;
  readonly at: number;
  readonly from: Addr;
  readonly result: unknown;
}

/** A closed-loop client: one operation at a time, the next as soon as the reply (or timeout) comes. */
export class StubClient implements Core<never, never> {
  readonly completed: Completed[] = [];
  readonly timedOut: { rid: number; op: KvOp; sentAt: number }[] = [];
  /** Replies received per rid (duplicates included). */
  readonly repliesPerRid = new Map<number, number>();
  private rid = 0;
  private current: { rid: number; op: KvOp; sentAt: number } | undefined;
  private issued = 0;
  active = true;

  constructor(
    readonly node: NodeId,
    readonly addr: Addr,
    private readonly middlebox: Addr,
    private readonly nextOp: (i: number) => KvOp,
    private readonly opts: { startAt: number; timeoutUs: number; maxOps?: number },
  ) {}

  handle(input: CoreInput<never>, now: Micros): CoreOutput<never>[] {
    if (input.kind === 'start') return [{ kind: 'setTimer', name: 'go', at: Math.max(now, this.opts.startAt) }];
    if (input.kind === 'timer') {
      if (input.name === 'go') return this.sendNext(now);
      if (input.name === 'timeout' && this.current) {
        this.timedOut.push(this.current);
        this.current = undefined;
        return this.sendNext(now);
      }
      return [];
    }
    if (input.kind !== 'receive') return [];
    const d = decode(input.packet.data);
    if (!d.ok || d.msg.type !== 'RESPONSE') return [];
    const rid = d.msg.rid;
    this.repliesPerRid.set(rid, (this.repliesPerRid.get(rid) ?? 0) + 1);
    if (!this.current || this.current.rid !== rid) return [];
    const result = decodeResult(d.msg.payload);
    this.completed.push({ ...this.current, at: now, from: input.packet.src, result });
    this.current = undefined;
    return [{ kind: 'cancelTimer', name: 'timeout' }, ...this.sendNext(now)];
  }

  private sendNext(now: Micros): CoreOutput<never>[] {
    if (!this.active || (this.opts.maxOps !== undefined && this.issued >= this.opts.maxOps)) return [];
    this.rid = (this.rid + 1) & 0xffff;
    const op = this.nextOp(this.issued++);
    this.current = { rid: this.rid, op, sentAt: now };
    const policy = isReadOnly(op) ? 'REPLICATED_ROUTE_NO_SE' : 'REPLICATED_ROUTE';
    const [pkt] = split('REQUEST', policy, this.rid, encodeOp(op));
    return [
      { kind: 'send', packet: { src: this.addr, dst: this.middlebox, data: pkt! } },
      { kind: 'setTimer', name: 'timeout', at: now + this.opts.timeoutUs },
    ];
  }
}

// ---------------------------------------------------------------- clusters

export const AGGREGATOR: Addr = '10.0.0.2:7100';
export const MIDDLEBOX: Addr = '10.0.0.3:7200';
export const nodeAddr = (i: number): Addr => `10.0.0.${10 + i}:7000`;
export const clientAddr = (i: number): Addr => `10.0.1.${1 + i}:5000`;

export interface ClusterOptions {
  readonly n: number;
  readonly mode: Mode;
  readonly replierPolicy?: ReplierPolicy;
  readonly bound?: number;
  readonly bugs?: readonly string[];
  readonly seed?: number;
  readonly delay?: number;
  readonly config?: Partial<NodeConfig>;
}

export function nodeConfig(n: number, self: NodeId, mode: Mode, extra: Partial<NodeConfig> = {}): NodeConfig {
  const nodes = Array.from({ length: n }, (_, i) => `node${i + 1}`);
  return {
    self, nodes, addrs: Object.fromEntries(nodes.map((id, i) => [id, nodeAddr(i)])), mode, replierPolicy: 'jbsq', bound: 8,
    middlebox: MIDDLEBOX, aggregator: AGGREGATOR, electionMinUs: 1500, electionMaxUs: 3000, heartbeatUs: 300, gcUs: 20_000,
    recoveryRetryUs: 200, probeTimeoutUs: 200, ...extra,
  };
}

export class Cluster {
  readonly net: TestNet;
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, HovercraftNode>();
  readonly aggregator: HovercraftAggregator;
  readonly middlebox: StubMiddlebox;
  readonly clients: StubClient[] = [];
  private readonly rng: Rng;

  constructor(readonly opts: ClusterOptions) {
    this.net = new TestNet(opts.delay ?? 10);
    this.rng = new Rng(opts.seed ?? 1);
    this.ids = Array.from({ length: opts.n }, (_, i) => `node${i + 1}`);
    for (const id of this.ids) this.startNode(id);
    const cfg = this.config(this.ids[0]!);
    this.aggregator = new HovercraftAggregator('aggregator', AGGREGATOR, { nodes: cfg.nodes, addrs: cfg.addrs }, new Set(opts.bugs ?? []));
    this.net.add(this.aggregator);
    this.middlebox = new StubMiddlebox('middlebox', MIDDLEBOX, this.ids.map((_, i) => nodeAddr(i)));
    this.net.add(this.middlebox);
  }

  config(id: NodeId): NodeConfig {
    return nodeConfig(this.opts.n, id, this.opts.mode, {
      ...(this.opts.replierPolicy ? { replierPolicy: this.opts.replierPolicy } : {}),
      ...(this.opts.bound ? { bound: this.opts.bound } : {}),
      ...this.opts.config,
    });
  }

  addr(id: NodeId): Addr {
    return nodeAddr(this.ids.indexOf(id));
  }

  /** Starts (or restarts, with its persisted state) node `id` on a fresh core. */
  startNode(id: NodeId): HovercraftNode {
    const core = new HovercraftNode(id, this.addr(id), this.config(id), this.rng.fork(id), new Set(this.opts.bugs ?? []));
    this.nodes.set(id, core);
    this.net.add(core);
    return core;
  }

  crash(id: NodeId): void {
    this.net.crash(this.addr(id));
  }

  addClient(nextOp: (i: number) => KvOp, opts: { startAt: number; timeoutUs?: number; maxOps?: number }): StubClient {
    const i = this.clients.length;
    const c = new StubClient(`client${i + 1}`, clientAddr(i), MIDDLEBOX, nextOp, { timeoutUs: 20_000, ...opts });
    this.clients.push(c);
    this.net.add(c);
    return c;
  }

  /** The live leader of the highest term, if any. */
  leader(): HovercraftNode | undefined {
    let best: HovercraftNode | undefined;
    for (const [id, node] of this.nodes) {
      if (!this.net.cores.has(this.addr(id))) continue;
      if (node.currentRole === 'leader' && (!best || node.currentTerm > best.currentTerm)) best = node;
    }
    return best;
  }

  live(): HovercraftNode[] {
    return [...this.nodes.entries()].filter(([id]) => this.net.cores.has(this.addr(id))).map(([, n]) => n);
  }

  events(action: string, node?: NodeId): Event[] {
    return this.net.events.filter((e) => e.action === action && (node === undefined || e.node === node));
  }
}
