/**
 * The deterministic simulator testbed: every core of a run in one process, under a virtual clock,
 * with the network modelled by the `Switch` core (seeded delay, jitter, loss, duplication,
 * partitions). The same plan and seed give the same trace, byte for byte.
 *
 * ## Time and ordering
 *
 * - Virtual time is integer µs from 0. One event queue orders everything by (time, insertion
 *   sequence) — see `queue.ts`. A timer armed for a fractional or past time fires at
 *   `max(now, ceil(at))`.
 * - At t = 0, in this order: `start` to the switch (which starts its programs in plan order: the
 *   network is up before the hosts), then `start` to every host core in plan order; then the fault
 *   timeline (`faultTimeline`), then the workload (`workloadTimeline`). So at equal times: starts,
 *   then faults, then workload commands, then whatever those cause.
 * - A host's `send` enters the switch at the same instant (the host↔switch wire has no delay; link
 *   delays are the switch's business). A switch `send` is delivered to the host owning `dst` at
 *   the same instant. Every hop is a queued event, so a core's outputs are applied in order and
 *   zero-delay exchanges cannot recurse.
 * - The run processes events with `t ≤ scenario.duration`, then stops: events at `duration` are
 *   delivered, nothing after.
 *
 * ## Nodes and faults
 *
 * - Cores come from `plan.protocol.roles[role](config, { node, addr, rng, bugs })` with
 *   `rng = new Rng(seed).fork(node)` (so a node's stream depends only on the seed and its name);
 *   the switch gets `new Rng(seed).fork('switch')`. A restarted core gets a fresh stream,
 *   `new Rng(seed).fork('<node>#restart<k>')` for its k-th restart.
 * - Timers are per node and name: re-arming replaces, a cancelled timer never fires, a crash
 *   cancels all of the node's timers.
 * - crash: the core is dropped (inputs to it are dropped: packets with `NetDrop` reason
 *   `host-down`, workload commands with a note); restart: a fresh core from the factory, fed
 *   `start` (a restart of a node that is up is ignored, with a note); pause: every input (packets,
 *   timer firings, commands) waits and is delivered in order at resume — a freeze, not a drop (a
 *   timer re-armed or cancelled while draining the backlog does not fire from the backlog).
 *   Nested pauses need as many resumes; a crash ends a pause.
 * - Host faults are annotated in the trace (node = the host): `HostCrash {reason}` (`fault`, or
 *   `exception` when the core threw — a throwing core is treated as a crashed process),
 *   `HostRestart`, `HostPause`, `HostResume`. The switch annotates its own (see `switch.ts`).
 * - Trace events are stamped `{ t: now, node }`, keeping a `node` the body sets (switch programs).
 *
 * `notes` reports oddities (unknown nodes, workload to a crashed node, a core that threw, …).
 * `stats.packets` counts packets sent by hosts into the switch, `stats.events` queue events
 * processed.
 */
import type { Addr, Core, CoreInput, CoreOutput, NodeId, Packet, StableState } from '../../impl/core.ts';
import { Rng } from '../../impl/rng.ts';
import type { Json, RoleFactory } from '../../harness/protocol.ts';
import type { TraceBody, TraceEvent } from '../../harness/trace/schema.ts';
import { faultTimeline, workloadTimeline, type TimelineEntry } from '../faults.ts';
import { Switch, dropEvent, type SwitchProgram } from '../switch/switch.ts';
import type { RunOutput, RunPlan, Testbed } from '../testbed.ts';
import { EventQueue } from './queue.ts';

export interface SimStats {
  /** Packets hosts sent into the switch. */
  readonly packets: number;
  /** Events the simulator processed (inputs delivered, timers fired, faults applied). */
  readonly events: number;
}

export interface SimRunOutput extends RunOutput {
  readonly stats?: SimStats;
}

export interface SimOptions {
  /** Stop after this many events (a livelock guard), with a note. Default 50 million. */
  readonly maxEvents?: number;
  /** Stop when this many events happen at one virtual instant (a zero-time loop), with a note. Default 1 million. */
  readonly maxEventsPerInstant?: number;
}

export const SWITCH_NODE = 'switch';
const MAX_NOTES = 200;

interface SimNode {
  readonly id: NodeId;
  readonly addr: Addr;
  readonly isSwitch: boolean;
  core: Core<any, any> | null;
  /** Builds a fresh core (restart); null for the switch. */
  readonly make: ((restart: number) => Core<any, any>) | null;
  restarts: number;
  pauseDepth: number;
  backlog: { input: CoreInput<any>; token: number }[];
  /** Armed timers: name → token of the current arming. */
  readonly timers: Map<string, number>;
  /** The node's stable storage: the last `persist` output; survives crashes, handed to `start`. */
  stable: StableState | undefined;
  /** Armed timers: name → deadline on the node's clock (they follow it when it steps). */
  readonly timerAt: Map<string, number>;
  /** How far the node's clock is ahead of true time (a `clock` fault), µs. */
  clockOffset: number;
  /** The node's link is cut (a `disconnect` fault): its packets are lost both ways. */
  cut: boolean;
}

const INPUT = 0;
const TIMER = 1;
const HOST_FAULT = 2;

interface Ev {
  t: number;
  seq: number;
  kind: typeof INPUT | typeof TIMER | typeof HOST_FAULT;
  node: SimNode | null;
  input: CoreInput<any> | null;
  name: string;
  token: number;
  entry: TimelineEntry | null;
}

function ev(kind: Ev['kind'], node: SimNode | null, input: CoreInput<any> | null, name = '', token = 0, entry: TimelineEntry | null = null): Ev {
  return { t: 0, seq: 0, kind, node, input, name, token, entry };
}

/** `10.<b>.<c>.<d>` for the k-th address (k ≥ 0) of a /24 starting at `10.0.<net>.<first>`. */
function ipOf(net: number, first: number, k: number, overflowNet: number): string {
  const n = first + k;
  if (n <= 254) return `10.0.${net}.${n}`;
  const m = n - 255;
  return `10.${overflowNet}.${Math.floor(m / 254)}.${(m % 254) + 1}`;
}

export class SimTestbed implements Testbed {
  readonly name = 'sim';
  private readonly opts: SimOptions;

  constructor(opts: SimOptions = {}) {
    this.opts = opts;
  }

  /**
   * Host nodes get `10.0.0.<i+2>:<port>` in plan order (i counts hosts), switch programs
   * `10.0.1.<j+1>:<port>`, and the switch itself is `10.0.0.1:1` (`switchAddr`). Past 253 nodes
   * of a kind, hosts continue in `10.2.x.y` and programs in `10.3.x.y`.
   */
  assignAddresses(nodes: readonly { id: NodeId; placement: 'host' | 'switch'; port: number }[]): Record<NodeId, Addr> {
    const out: Record<NodeId, Addr> = {};
    let i = 0;
    let j = 0;
    for (const n of nodes) {
      out[n.id] = n.placement === 'switch' ? `${ipOf(1, 1, j++, 3)}:${n.port}` : `${ipOf(0, 2, i++, 2)}:${n.port}`;
    }
    return out;
  }

  static readonly switchAddr: Addr = '10.0.0.1:1';

  async run(plan: RunPlan, observe?: (event: TraceEvent) => void): Promise<SimRunOutput> {
    return new SimRun(plan, this.opts, observe).run();
  }
}

/** One run's state. */
class SimRun {
  private readonly q = new EventQueue<Ev>();
  private readonly trace: TraceEvent[] = [];
  private readonly notes: string[] = [];
  private suppressed = 0;
  private readonly hostByAddr = new Map<Addr, SimNode>();
  private readonly nodeById = new Map<NodeId, SimNode>();
  private readonly idByAddr = new Map<Addr, NodeId>();
  private readonly hosts: SimNode[] = [];
  private readonly sw: SimNode;
  private readonly swCore: Switch;
  private now = 0;
  private packets = 0;
  private events = 0;
  private tokens = 0;

  constructor(
    private readonly plan: RunPlan,
    private readonly opts: SimOptions,
    private readonly observe: ((e: TraceEvent) => void) | undefined,
  ) {
    const { scenario, protocol } = plan;
    const seed = scenario.seed;
    const bugs = new Set(scenario.bugs);
    const programs: SwitchProgram[] = [];
    const nodeOf: Record<Addr, NodeId> = {};

    for (const n of plan.nodes) {
      if (n.id === SWITCH_NODE) this.note(`sim: a node is named '${SWITCH_NODE}', like the switch; traces will be ambiguous`);
      if (this.nodeById.has(n.id)) {
        this.note(`sim: node ${n.id} planned twice; the second is ignored`);
        continue;
      }
      const factory: RoleFactory | undefined = protocol.roles[n.role];
      const make = factory
        ? (restart: number): Core<any, any> => factory(n.config as Json, {
          node: n.id,
          addr: n.addr,
          rng: new Rng(seed).fork(restart === 0 ? n.id : `${n.id}#restart${restart}`),
          bugs,
        })
        : null;
      if (!make) this.note(`sim: node ${n.id}: protocol ${protocol.name} has no role '${n.role}'; node not started`);
      let core: Core<any, any> | null = null;
      if (make) {
        try {
          core = make(0);
        } catch (err) {
          this.note(`sim: node ${n.id}: role factory threw: ${msg(err)}; node not started`);
        }
      }
      const node: SimNode = {
        id: n.id, addr: n.addr, isSwitch: false, core, make, restarts: 0, pauseDepth: 0, backlog: [], timers: new Map(), stable: undefined, timerAt: new Map(), clockOffset: 0, cut: false,
      };
      this.nodeById.set(n.id, node);
      this.idByAddr.set(n.addr, n.id);
      if (n.placement === 'switch') {
        if (core && make) {
          const k = { n: 0 };
          programs.push({ id: n.id, addr: n.addr, core, restart: () => make(++k.n) });
        }
      } else {
        this.hosts.push(node);
        this.hostByAddr.set(n.addr, node);
        nodeOf[n.addr] = n.id;
      }
    }

    this.swCore = new Switch({
      node: SWITCH_NODE,
      addr: SimTestbed.switchAddr,
      rng: new Rng(seed).fork(SWITCH_NODE),
      link: scenario.network,
      programs,
      nodeOf,
    });
    this.sw = {
      id: SWITCH_NODE, addr: SimTestbed.switchAddr, isSwitch: true, core: this.swCore, make: null,
      restarts: 0, pauseDepth: 0, backlog: [], timers: new Map(), stable: undefined, timerAt: new Map(), clockOffset: 0, cut: false,
    };
  }

  run(): SimRunOutput {
    const wall0 = performance.now();
    const { scenario } = this.plan;
    const duration = typeof scenario.duration === 'number' && !Number.isNaN(scenario.duration) ? scenario.duration : 0;

    this.q.push(0, ev(INPUT, this.sw, { kind: 'start' }));
    for (const h of this.hosts) if (h.core) this.q.push(0, ev(INPUT, h, { kind: 'start' }));
    for (const e of faultTimeline(scenario, this.plan.addrs, this.plan.nodes, this.notes)) {
      if (e.target === 'switch') this.q.push(e.at, ev(INPUT, this.sw, { kind: 'command', command: e.command }));
      else this.q.push(e.at, ev(HOST_FAULT, this.nodeById.get(e.node) ?? null, null, e.node, 0, e));
    }
    for (const w of workloadTimeline(scenario)) {
      const node = this.nodeById.get(w.node);
      if (!node || node.core === null && node.make === null) {
        this.note(`sim: workload step for unknown or unstarted node ${w.node} at ${w.at}; skipped`);
        continue;
      }
      if (!this.hostByAddr.has(node.addr)) {
        this.note(`sim: workload step for switch program ${w.node} at ${w.at}; programs take no commands; skipped`);
        continue;
      }
      this.q.push(Math.max(0, Math.ceil(w.at)), ev(INPUT, node, { kind: 'command', command: w.command }));
    }

    const maxEvents = this.opts.maxEvents ?? 50_000_000;
    const maxPerInstant = this.opts.maxEventsPerInstant ?? 1_000_000;
    let instant = -1;
    let atInstant = 0;
    for (;;) {
      if (this.q.peekTime() > duration) break;
      const e = this.q.pop()!;
      this.now = e.t;
      if (e.t !== instant) {
        instant = e.t;
        atInstant = 0;
      }
      if (++atInstant > maxPerInstant) {
        this.note(`sim: more than ${maxPerInstant} events at t=${e.t} (a zero-time loop?); run stopped`);
        break;
      }
      if (++this.events > maxEvents) {
        this.note(`sim: event limit ${maxEvents} reached at t=${e.t}; run stopped`);
        break;
      }
      switch (e.kind) {
        case INPUT:
          this.feed(e.node!, e.input!, 0);
          break;
        case TIMER:
          this.fire(e.node!, e.name, e.token);
          break;
        case HOST_FAULT:
          this.hostFault(e.node, e.entry!);
          break;
      }
    }
    for (const n of this.swCore.notes) this.note(n);
    return {
      trace: this.trace,
      wallMs: performance.now() - wall0,
      notes: this.notes,
      stats: { packets: this.packets, events: Math.min(this.events, maxEvents) },
    };
  }

  // ---- inputs ----

  /** Hands an input to a node: dropped if it is down, queued if paused, else handled. */
  private feed(node: SimNode, input: CoreInput<any>, token: number): void {
    if (node.core === null) {
      if (input.kind === 'receive') {
        const p = input.packet;
        this.emit(SWITCH_NODE, dropEvent(p.src, p.dst, this.nameOf(p.src), node.id, 'host-down'));
      } else if (input.kind === 'command') {
        this.note(`sim: t=${this.now}: command to ${node.id}, which is down; dropped`);
      }
      return;
    }
    if (node.pauseDepth > 0) {
      node.backlog.push({ input, token });
      return;
    }
    this.handle(node, input);
  }

  private fire(node: SimNode, name: string, token: number): void {
    if (node.timers.get(name) !== token) return; // re-armed, cancelled, or the node crashed
    if (node.pauseDepth > 0) {
      node.backlog.push({ input: { kind: 'timer', name }, token });
      return;
    }
    node.timers.delete(name);
    this.handle(node, { kind: 'timer', name });
  }

  private handle(node: SimNode, input: CoreInput<any>): void {
    let outs: CoreOutput<any>[];
    try {
      outs = node.core!.handle(input, this.now + node.clockOffset);
    } catch (err) {
      this.note(`sim: t=${this.now}: ${node.id} threw on ${input.kind}: ${msg(err)}; treated as a crash`);
      this.crash(node, 'exception');
      return;
    }
    if (!Array.isArray(outs)) {
      this.note(`sim: ${node.id} returned ${typeof outs} instead of an output array`);
      return;
    }
    for (let i = 0; i < outs.length; i++) this.apply(node, outs[i]!);
  }

  /** Applies one output of a core. */
  private apply(node: SimNode, o: CoreOutput<any>): void {
    switch (o?.kind) {
      case 'send': {
        const p = o.packet;
        if (node.isSwitch) {
          const host = this.hostByAddr.get(p.dst);
          if (!host) this.emit(SWITCH_NODE, dropEvent(p.src, p.dst, this.nameOf(p.src), p.dst, 'no-route'));
          else if (host.cut) this.emit(SWITCH_NODE, dropEvent(p.src, p.dst, this.nameOf(p.src), host.id, 'cut'));
          else this.q.push(this.now, ev(INPUT, host, { kind: 'receive', packet: p }));
        } else {
          if (!p || typeof p.dst !== 'string' || !(p.data instanceof Uint8Array)) {
            this.note(`sim: ${node.id} sent a malformed packet; dropped`);
            return;
          }
          if (node.cut) {
            this.emit(SWITCH_NODE, dropEvent(p.src, p.dst, node.id, this.nameOf(p.dst), 'cut'));
            return;
          }
          // The wire copies the bytes: a core that reuses its buffer cannot change a packet in flight.
          const copy: Packet = { src: p.src, dst: p.dst, data: p.data.slice() };
          this.packets++;
          this.q.push(this.now, ev(INPUT, this.sw, { kind: 'receive', packet: copy }));
        }
        return;
      }
      case 'setTimer': {
        if (typeof o.at !== 'number' || Number.isNaN(o.at) || typeof o.name !== 'string') {
          this.note(`sim: ${node.id} armed a malformed timer ${String(o.name)}; ignored`);
          return;
        }
        if (o.at === Infinity) {
          node.timers.delete(o.name);
          return;
        }
        const token = ++this.tokens;
        node.timers.set(o.name, token);
        node.timerAt.set(o.name, o.at);
        this.q.push(Math.max(this.now, Math.ceil(o.at - node.clockOffset)), ev(TIMER, node, null, o.name, token));
        return;
      }
      case 'cancelTimer':
        node.timers.delete(o.name);
        return;
      case 'trace':
        this.emit(node.id, o.event);
        return;
      case 'notify':
        return;
      case 'persist':
        node.stable = o.state;
        return;
      default:
        this.note(`sim: ${node.id} emitted a malformed output; ignored`);
    }
  }

  // ---- host faults ----

  private hostFault(node: SimNode | null, e: TimelineEntry): void {
    if (e.target !== 'host') return;
    if (!node || node.isSwitch || !this.hostByAddr.has(node.addr)) {
      this.note(`sim: t=${this.now}: ${e.action} of unknown host ${e.node}; ignored`);
      return;
    }
    switch (e.action) {
      case 'crash':
        if (node.core === null) this.note(`sim: t=${this.now}: crash of ${node.id}, which is down; ignored`);
        else this.crash(node, 'fault');
        return;
      case 'restart': {
        if (node.core !== null) {
          this.note(`sim: t=${this.now}: restart of ${node.id}, which is up; ignored`);
          return;
        }
        if (!node.make) return;
        try {
          node.core = node.make(++node.restarts);
        } catch (err) {
          this.note(`sim: t=${this.now}: restart of ${node.id}: role factory threw: ${msg(err)}; stays down`);
          return;
        }
        this.emit(node.id, { action: 'HostRestart' });
        this.handle(node, node.stable === undefined ? { kind: 'start' } : { kind: 'start', stable: node.stable });
        return;
      }
      case 'disconnect':
        if (node.cut) return;
        node.cut = true;
        this.emit(node.id, { action: 'NetDisconnect' });
        return;
      case 'reconnect':
        if (!node.cut) return;
        node.cut = false;
        this.emit(node.id, { action: 'NetReconnect' });
        return;
      case 'clock': {
        // The clock outlives crashes (it is the host's). Armed timers follow it: each fires when
        // the node's clock reaches its deadline.
        node.clockOffset = e.offsetUs ?? 0;
        this.emit(node.id, { action: 'HostClock', offsetUs: node.clockOffset });
        for (const [name, at] of node.timerAt) {
          if (!node.timers.has(name)) continue;
          const token = ++this.tokens;
          node.timers.set(name, token);
          this.q.push(Math.max(this.now, Math.ceil(at - node.clockOffset)), ev(TIMER, node, null, name, token));
        }
        return;
      }
      case 'pause':
        if (node.core === null) return;
        if (node.pauseDepth++ === 0) this.emit(node.id, { action: 'HostPause' });
        return;
      case 'resume': {
        if (node.pauseDepth === 0 || --node.pauseDepth > 0) return;
        this.emit(node.id, { action: 'HostResume' });
        const backlog = node.backlog;
        node.backlog = [];
        for (const b of backlog) {
          if (node.core === null || node.pauseDepth > 0) break;
          if (b.input.kind === 'timer') {
            if (node.timers.get(b.input.name) !== b.token) continue;
            node.timers.delete(b.input.name);
          }
          this.handle(node, b.input);
        }
        return;
      }
    }
  }

  private crash(node: SimNode, reason: 'fault' | 'exception'): void {
    node.core = null;
    node.timers.clear();
    node.backlog = [];
    node.pauseDepth = 0;
    this.emit(node.id, { action: 'HostCrash', reason });
  }

  // ---- output ----

  private emit(node: NodeId, body: TraceBody): void {
    // Same key order for every event (t, node, action, …): one object shape, fast to build.
    const e = { t: this.now, node, ...body } as { t: number; node: string };
    if (e.t !== this.now) e.t = this.now;
    if (typeof e.node !== 'string') e.node = node;
    this.trace.push(e as TraceEvent);
    this.observe?.(e as TraceEvent);
  }

  private nameOf(a: Addr): string {
    return this.idByAddr.get(a) ?? a;
  }

  private note(m: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(m);
    else if (this.suppressed++ === 0) this.notes.push('sim: further notes suppressed');
  }
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
