/**
 * HovercRaft scenarios: the topology and command types, the timing every run of a scenario uses,
 * and the fast-check arbitrary that generates (and shrinks) scenarios.
 *
 * As for R2P2, the arbitrary draws small integers and maps them to a scenario in one pure `map`:
 * a scenario is a deterministic function of the fast-check seed, and it shrinks towards "three
 * nodes, one client, one put at the start, a clean network, no faults".
 */
import fc from 'fast-check';
import type { NodeId } from '../../../impl/core.ts';
import type { Mode } from '../../../impl/hovercraft/actions.ts';
import type { HovercraftClientCommand } from '../../../impl/hovercraft/client.ts';
import type { ReplierPolicy } from '../../../impl/hovercraft/config.ts';
import type { ScenarioOptions } from '../../protocol.ts';
import type { Fault, LinkConfig, Scenario, WorkloadStep } from '../../scenario/types.ts';

export interface HovercraftTopology {
  /** Raft nodes: `node1` … `nodeN`. */
  readonly nodes: number;
  /** Clients: `client1` … `clientC`, one operation outstanding each. */
  readonly clients: number;
  readonly mode: Mode;
  readonly replierPolicy: ReplierPolicy;
  /** B: entries announced to a node and not yet applied by it, at most. */
  readonly bound: number;
  /** Requests the middlebox admits into the system at once. */
  readonly threshold: number;
}

export type HovercraftCommand = HovercraftClientCommand;
export type HovercraftScenario = Scenario<HovercraftTopology, HovercraftCommand>;

export const MIDDLEBOX_NODE: NodeId = 'middlebox';
export const AGGREGATOR_NODE: NodeId = 'aggregator';
export const CLIENT_PORT = 7000;
export const NODE_PORT = 8000;
export const MIDDLEBOX_PORT = 9000;
export const AGGREGATOR_PORT = 9100;

export function nodeIds(t: Pick<HovercraftTopology, 'nodes'>): NodeId[] {
  return Array.from({ length: t.nodes }, (_, i) => `node${i + 1}`);
}

export function clientIds(t: Pick<HovercraftTopology, 'clients'>): NodeId[] {
  return Array.from({ length: t.clients }, (_, i) => `client${i + 1}`);
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

export interface HovercraftTiming {
  /** A leader sends append_entries (or a heartbeat) to each follower at least this often. */
  readonly heartbeatUs: number;
  /** Election timeouts are drawn from [electionMinUs, electionMaxUs]. */
  readonly electionMinUs: number;
  readonly electionMaxUs: number;
  /** Unordered requests older than this are garbage-collected by followers. */
  readonly gcUs: number;
  readonly recoveryRetryUs: number;
  readonly probeTimeoutUs: number;
  /** A client gives up on an operation after this long. */
  readonly clientTimeoutUs: number;
  /** The middlebox reclaims a slot held this long. */
  readonly slotTimeoutUs: number;
}

/** The slowest one-way latency any link of the scenario may have (delay + jitter). */
export function maxLinkLatency(s: Pick<HovercraftScenario, 'network' | 'faults'>): number {
  let m = s.network.delay + s.network.jitter;
  for (const f of s.faults) if (f.kind === 'link') m = Math.max(m, f.link.delay + f.link.jitter);
  return m;
}

/**
 * Timers scale with the run's duration (µs on sim, ms on real testbeds) and its link latency L:
 * heartbeat = max(4L + 100 µs, duration / 200); elections in [5, 10] heartbeats (Raft's broadcast
 * time ≪ election timeout); garbage collection of unordered requests after 20 heartbeats; a
 * recovery request is retried after max(4L + 200 µs, a heartbeat), and the aggregator probe given
 * max(4L + 200 µs, two heartbeats) (on real testbeds a round trip includes fsyncs of the Raft
 * state and process scheduling, not only the links); clients give up after
 * max(duration / 4, 4 election timeouts), and the middlebox reclaims a slot after as long.
 */
export function hovercraftTiming(s: Pick<HovercraftScenario, 'network' | 'faults' | 'duration'>): HovercraftTiming {
  const L = maxLinkLatency(s);
  const heartbeatUs = Math.round(Math.max(4 * L + 100, s.duration / 200));
  const electionMinUs = 5 * heartbeatUs;
  const electionMaxUs = 10 * heartbeatUs;
  const clientTimeoutUs = Math.round(Math.max(s.duration / 4, 4 * electionMaxUs));
  return {
    heartbeatUs,
    electionMinUs,
    electionMaxUs,
    gcUs: 20 * heartbeatUs,
    recoveryRetryUs: Math.round(Math.max(4 * L + 200, heartbeatUs)),
    probeTimeoutUs: Math.round(Math.max(4 * L + 200, 2 * heartbeatUs)),
    clientTimeoutUs,
    slotTimeoutUs: clientTimeoutUs,
  };
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

export const REAL_TESTBEDS: readonly string[] = ['local', 'docker', 'hardware'];

export interface HovercraftGenParams {
  readonly nodes: readonly number[];
  readonly maxClients: number;
  readonly maxOps: number;
  readonly duration: readonly [number, number];
  readonly delay: readonly [number, number];
  readonly maxJitter: number;
  readonly maxLossPermille: number;
  readonly maxDuplicatePermille: number;
  /** Operations are issued in [0, workloadWindow × duration]. */
  readonly workloadWindow: number;
  /** Weight of closed-loop scenarios against 2 for open-loop ones (0: none). */
  readonly closedLoopWeight: number;
  /** Clients of a closed-loop scenario, at most (N·B + 1 to N·B + 4 of them). */
  readonly maxLoadClients: number;
  /** Operations per client in one burst, at most. */
  readonly maxBurstOps: number;
}

export const SIM_PARAMS: HovercraftGenParams = {
  nodes: [3, 5], maxClients: 8, maxOps: 30,
  duration: [150_000, 300_000], delay: [5, 50], maxJitter: 50,
  maxLossPermille: 50, maxDuplicatePermille: 50, workloadWindow: 0.6,
  closedLoopWeight: 1, maxLoadClients: 14, maxBurstOps: 5,
};

export const REAL_PARAMS: HovercraftGenParams = {
  nodes: [3], maxClients: 2, maxOps: 12,
  duration: [3_000_000, 4_000_000], delay: [1_000, 2_000], maxJitter: 1_000,
  maxLossPermille: 30, maxDuplicatePermille: 30, workloadWindow: 0.6,
  closedLoopWeight: 0, maxLoadClients: 0, maxBurstOps: 0,
};

export function genParams(options: ScenarioOptions = {}): HovercraftGenParams {
  return options.testbed !== undefined && REAL_TESTBEDS.includes(options.testbed) ? REAL_PARAMS : SIM_PARAMS;
}

const KEYS = ['x', 'y', 'z'];

/** Kinds of host-level episodes, each on one node. */
type Episode = 'crash-restart' | 'pause' | 'isolate' | 'multicast-loss' | 'aggregator-crash' | 'crash';

/**
 * The scenario arbitrary. Always: a workload of get / put / cas over three keys from up to
 * `maxClients` clients, network loss and duplication. With `hostFaults` (the default of fuzz
 * campaigns), up to 3 episodes: a node crashes and restarts (its persistent state kept), a node
 * crashes for good (at most a minority), a node pauses, a node is cut off by a partition, the
 * multicast copies of client requests to one node are lost (it must recover bodies), or the
 * aggregator fails (and comes back). Leaders are not known in advance: any node may be hit, and
 * node1 (which often wins the first election) is drawn most.
 *
 * Load: the operations above are spread over the run and rarely overlap. A share of the scenarios
 * (weight `closedLoopWeight` against 2) is closed-loop as well: JBSQ repliers, N·B + 1 to N·B + 4
 * clients (B reduced so that they are at most `maxLoadClients`), a middlebox threshold in
 * [N·B + 1, clients + 4], and one or two bursts at random times in [5%, 60%] of the run that give
 * every client 2 to `maxBurstOps` operations at once. A client has one operation outstanding and
 * queues the others, sending each when the previous one completes (reply, NACK or timeout), so
 * more operations are in flight than the N·B the bounded queues hold. Such scenarios shrink back
 * to open ones.
 */
export function hovercraftScenarios(options: ScenarioOptions = {}): fc.Arbitrary<HovercraftScenario> {
  const p = genParams(options);
  const bugs = [...(options.bugs ?? [])];
  const hostFaults = options.hostFaults ?? false;
  const op = fc.record({
    client: fc.nat({ max: p.maxClients - 1 }),
    at: fc.nat({ max: 1000 }),
    kind: fc.nat({ max: 9 }),
    key: fc.nat({ max: KEYS.length - 1 }),
    pick: fc.nat({ max: 1000 }),
  });
  const window = fc.record({ at: fc.nat({ max: 1000 }), len: fc.nat({ max: 1000 }) });
  const closedLoop = fc.record({
    /** Clients beyond N·B + 1. */
    extraClients: fc.nat({ max: 3 }),
    bursts: fc.array(fc.record({ at: fc.nat({ max: 1000 }), ops: fc.integer({ min: 2, max: Math.max(2, p.maxBurstOps) }) }), { minLength: 1, maxLength: 2 }),
    /** The operations of a burst cycle through these. */
    mix: fc.array(fc.record({ kind: fc.nat({ max: 9 }), key: fc.nat({ max: KEYS.length - 1 }), pick: fc.nat({ max: 1000 }) }), { minLength: 1, maxLength: 8 }),
  });
  const episodeKinds: Episode[] = ['crash-restart', 'pause', 'isolate', 'multicast-loss', 'aggregator-crash', 'crash'];
  const raw = fc.record({
    seed: fc.nat({ max: 0x7fffffff }),
    nodes: fc.constantFrom(...p.nodes),
    clients: fc.integer({ min: 1, max: p.maxClients }),
    mode: fc.constantFrom<Mode>('hovercraft', 'hovercraft++', 'raft'),
    replierPolicy: fc.constantFrom<ReplierPolicy>('jbsq', 'leader'),
    bound: fc.integer({ min: 1, max: 4 }),
    threshold: fc.integer({ min: 2, max: 16 }),
    duration: fc.nat({ max: 1000 }),
    ops: fc.array(op, { minLength: 1, maxLength: p.maxOps, size: 'max' }),
    delay: fc.nat({ max: 1000 }),
    jitter: fc.nat({ max: 1000 }),
    loss: fc.nat({ max: p.maxLossPermille }),
    duplicate: fc.nat({ max: p.maxDuplicatePermille }),
    episodes: hostFaults
      ? fc.array(fc.record({ w: window, kind: fc.constantFrom(...episodeKinds), target: fc.nat({ max: 8 }) }), { maxLength: 3 })
      : fc.constant([]),
    load: p.closedLoopWeight > 0
      ? fc.oneof(
          { withCrossShrink: true },
          { arbitrary: fc.constant(null), weight: 2 },
          { arbitrary: closedLoop, weight: p.closedLoopWeight },
        )
      : fc.constant(null),
  });

  return raw.map((r): HovercraftScenario => {
    const duration = Math.round(p.duration[0] + ((p.duration[1] - p.duration[0]) * r.duration) / 1000);
    const loop = r.load;
    let topology: HovercraftTopology = {
      nodes: r.nodes, clients: r.clients, mode: r.mode, replierPolicy: r.replierPolicy, bound: r.bound, threshold: r.threshold,
    };
    if (loop) {
      // N·B + 1 + extra clients, at most maxLoadClients; threshold above N·B.
      const maxBound = Math.max(1, Math.floor((p.maxLoadClients - 4) / r.nodes));
      const bound = 1 + ((r.bound - 1) % maxBound);
      const held = r.nodes * bound;
      const clients = held + 1 + loop.extraClients;
      const threshold = held + 1 + ((r.threshold - 2) % (clients + 4 - held));
      topology = { ...topology, replierPolicy: 'jbsq', bound, clients, threshold };
    }
    const nodes = nodeIds(topology);
    const clients = clientIds(topology);
    const network: LinkConfig = {
      delay: Math.round(p.delay[0] + ((p.delay[1] - p.delay[0]) * r.delay) / 1000),
      jitter: Math.round((p.maxJitter * r.jitter) / 1000),
      loss: r.loss / 1000,
      duplicate: r.duplicate / 1000,
    };

    // The workload: get / put / cas over a few keys; values name their writer, so every written
    // value is distinct; a cas expects a value some client writes (or null).
    const written: string[] = [];
    const workload: WorkloadStep<HovercraftCommand>[] = r.ops
      .map((o, i) => ({ o, i, at: Math.round((duration * p.workloadWindow * o.at) / 1000) }))
      .sort((a, b) => a.at - b.at || a.i - b.i)
      .map(({ o, i, at }) => {
        const client = clients[o.client % clients.length]!;
        const key = KEYS[o.key]!;
        const value = `${client}.${i}`;
        let command: HovercraftCommand;
        if (o.kind < 4) command = { op: 'get', key };
        else if (o.kind < 8 || written.length === 0) command = { op: 'put', key, value };
        else command = { op: 'cas', key, expected: o.pick < 200 ? null : written[o.pick % written.length]!, value };
        if (command.op !== 'get') written.push(value);
        return { at, node: client, command };
      });
    // Closed-loop bursts: every client gets `ops` operations at once (it sends one at a time).
    if (loop) {
      loop.bursts.forEach((b, bi) => {
        const at = Math.round(duration * (0.05 + (0.55 * b.at) / 1000));
        clients.forEach((client, ci) => {
          for (let k = 0; k < b.ops; k++) {
            const o = loop.mix[(ci + k + bi) % loop.mix.length]!;
            const key = KEYS[o.key]!;
            const value = `${client}.b${bi}.${k}`;
            let command: HovercraftCommand;
            if (o.kind < 4) command = { op: 'get', key };
            else if (o.kind < 8 || written.length === 0) command = { op: 'put', key, value };
            else command = { op: 'cas', key, expected: o.pick < 200 ? null : written[o.pick % written.length]!, value };
            if (command.op !== 'get') written.push(value);
            workload.push({ at, node: client, command });
          }
        });
      });
      workload.sort((a, b) => a.at - b.at);
    }

    // Faults: `at` in [10%, 70%] of the run, lengths in [5%, 25%].
    const faultAt = (permille: number) => Math.round(duration * (0.1 + (0.6 * permille) / 1000));
    const faultLen = (permille: number) => Math.round(duration * (0.05 + (0.2 * permille) / 1000));
    const faults: Fault[] = [];
    const busyUntil = new Map<NodeId, number>();
    let down = 0;
    const minority = Math.floor((nodes.length - 1) / 2);
    for (const e of [...r.episodes].sort((a, b) => a.w.at - b.w.at)) {
      const at = faultAt(e.w.at);
      const len = faultLen(e.w.len);
      // node1 twice as often: it is the likeliest first leader.
      const node = nodes[e.target % (nodes.length + 1) === nodes.length ? 0 : e.target % (nodes.length + 1)]!;
      if (e.kind === 'aggregator-crash') {
        if ((busyUntil.get(AGGREGATOR_NODE) ?? -1) >= at) continue;
        faults.push({ at, kind: 'crash', node: AGGREGATOR_NODE }, { at: at + len, kind: 'restart', node: AGGREGATOR_NODE });
        busyUntil.set(AGGREGATOR_NODE, at + len);
        continue;
      }
      if ((busyUntil.get(node) ?? -1) >= at) continue;
      switch (e.kind) {
        case 'crash-restart':
          faults.push({ at, kind: 'crash', node }, { at: at + len, kind: 'restart', node });
          break;
        case 'crash':
          if (down >= minority) continue;
          down++;
          faults.push({ at, kind: 'crash', node });
          busyUntil.set(node, Infinity);
          continue;
        case 'pause':
          faults.push({ at, kind: 'pause', node, duration: len });
          break;
        case 'isolate':
          faults.push({
            at, kind: 'partition', duration: len,
            groups: [[node], [...nodes.filter((n) => n !== node), ...clients, MIDDLEBOX_NODE, AGGREGATOR_NODE]],
          });
          break;
        case 'multicast-loss':
          // The middlebox forwards with the client's source address: cut client → node only.
          for (const c of clients) {
            faults.push({ at, kind: 'link', from: c, to: node, link: { ...network, loss: 1 } });
            faults.push({ at: at + len, kind: 'link', from: c, to: node, link: network });
          }
          break;
      }
      busyUntil.set(node, at + len);
    }
    faults.sort((a, b) => a.at - b.at);
    return { protocol: 'hovercraft', seed: r.seed, topology, workload, faults, network, bugs, duration };
  });
}
