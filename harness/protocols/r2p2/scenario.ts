/**
 * R2P2 scenarios: the topology and command types, the timing every run of a scenario uses, the
 * fast-check arbitrary that generates (and shrinks) scenarios, and a hand-run example.
 *
 * Everything here is plain data. The arbitrary draws small integers only (counts, per-mille
 * fractions, byte sizes) and maps them to a scenario in one pure `map`, so a scenario is a
 * deterministic function of the fast-check seed and every part of it shrinks towards "one client,
 * one server, one tiny call at t=0 on a clean network, no faults".
 */
import fc from 'fast-check';
import type { NodeId } from '../../../impl/core.ts';
import { Rng } from '../../../impl/rng.ts';
import type { ScenarioOptions } from '../../protocol.ts';
import type { Fault, LinkConfig, Scenario, WorkloadStep } from '../../scenario/types.ts';

export type R2p2RouterPolicy = 'jbsq' | 'random' | 'round-robin' | 'jsq';

export interface R2p2Topology {
  readonly clients: number;
  readonly servers: number;
  readonly router: { readonly policy: R2p2RouterPolicy; readonly n: number; readonly queueCap: number };
  /**
   * Closed loop: each client keeps at most this many calls outstanding; a call beyond waits (in
   * FIFO order) until one of its earlier calls completes by reply, DROP or timeout. Absent: open
   * loop, every call is sent at its time.
   */
  readonly window?: number;
}

/** One RPC: a `size`-byte request whose handler runs `serviceUs` and answers `replySize` bytes. */
export interface R2p2Command {
  readonly kind: 'call';
  readonly size: number;
  readonly serviceUs: number;
  readonly replySize: number;
}

export type R2p2Scenario = Scenario<R2p2Topology, R2p2Command>;

export const ROUTER_NODE: NodeId = 'router';
export const CLIENT_PORT = 7000;
export const SERVER_PORT = 8000;
export const ROUTER_PORT = 9000;

/** The smallest request body: 4 bytes serviceUs and 4 bytes replySize. */
export const MIN_REQUEST_SIZE = 8;
/** Payload bytes of one R2P2 datagram (1472 − 8 header bytes). */
export const MAX_PAYLOAD = 1464;
/** Payload bytes of the REQ0 of a multi-packet request. */
export const REQ0_PAYLOAD = 14;

export function clientIds(topology: R2p2Topology): NodeId[] {
  return Array.from({ length: topology.clients }, (_, i) => `client${i + 1}`);
}

export function serverIds(topology: R2p2Topology): NodeId[] {
  return Array.from({ length: topology.servers }, (_, i) => `server${i + 1}`);
}

export function allNodeIds(topology: R2p2Topology): NodeId[] {
  return [...clientIds(topology), ...serverIds(topology), ROUTER_NODE];
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

/** The timers of a run, derived from the scenario alone (so configure and the checkers agree). */
export interface R2p2Timing {
  /** Client per-request timeout. */
  readonly timeoutUs: number;
  /** Retransmission timeout for multi-packet messages (client and server). */
  readonly rtoUs: number;
  /** A server garbage-collects an incomplete multi-packet request after this many RTOs. */
  readonly gcRtos: number;
  /** Period of the servers' FEEDBACK heartbeat (announce). */
  readonly heartbeatUs: number;
  /** The router removes a server silent for this long. */
  readonly leaveAfterUs: number;
}

/** The slowest one-way packet latency any link of the scenario may have (delay + jitter). */
export function maxLinkLatency(s: Pick<R2p2Scenario, 'network' | 'faults'>): number {
  let m = s.network.delay + s.network.jitter;
  for (const f of s.faults) if (f.kind === 'link') m = Math.max(m, f.link.delay + f.link.jitter);
  return m;
}

/**
 * Timers scale with the scenario's duration (µs-scale on sim, ms-scale on real testbeds) and its
 * link latency:
 * - rto = max(4 × max link latency + 200 µs, duration / 100)
 * - timeout = max(0.4 × duration, 8 × rto + 4 × the longest service time). The workload issues its
 *   calls in the first half of the run, so a correct run completes (or times out) every call
 *   before the end and `no-silent-loss` has something to check.
 * - heartbeat = max(duration / 50, 2 × rto); leaveAfter = 3 × heartbeat + 2 × max link latency.
 * - servers keep quiet for leaveAfter + heartbeat after a (re)start (see `r2p2Configure`).
 */
export function r2p2Timing(s: Pick<R2p2Scenario, 'network' | 'faults' | 'duration' | 'workload'>): R2p2Timing {
  const link = maxLinkLatency(s);
  const maxService = s.workload.reduce((m, w) => Math.max(m, w.command.serviceUs), 0);
  const rtoUs = Math.round(Math.max(4 * link + 200, s.duration / 100));
  const timeoutUs = Math.round(Math.max(0.4 * s.duration, 8 * rtoUs + 4 * maxService));
  const heartbeatUs = Math.round(Math.max(s.duration / 50, 2 * rtoUs));
  const leaveAfterUs = 3 * heartbeatUs + 2 * link;
  return { timeoutUs, rtoUs, gcRtos: 4, heartbeatUs, leaveAfterUs };
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

export const REAL_TESTBEDS: readonly string[] = ['local', 'docker', 'hardware'];

/** The knobs of generation for one kind of testbed (all times in µs). */
export interface R2p2GenParams {
  readonly maxClients: number;
  readonly maxServers: number;
  readonly maxCalls: number;
  readonly duration: readonly [number, number];
  readonly delay: readonly [number, number];
  readonly maxJitter: number;
  readonly maxServiceUs: number;
  /** Calls are issued in [0, workloadWindow × duration]. */
  readonly workloadWindow: number;
  readonly maxLossPermille: number;
  readonly maxDuplicatePermille: number;
  /** Weight of closed-loop scenarios against 2 for open-loop ones (0: none). */
  readonly closedLoopWeight: number;
  /** Service time of a closed-loop burst's calls, at most. */
  readonly maxBurstServiceUs: number;
}

export const SIM_PARAMS: R2p2GenParams = {
  maxClients: 3, maxServers: 3, maxCalls: 25,
  duration: [30_000, 60_000], delay: [5, 50], maxJitter: 100, maxServiceUs: 2_000,
  workloadWindow: 0.5, maxLossPermille: 200, maxDuplicatePermille: 200,
  closedLoopWeight: 1, maxBurstServiceUs: 500,
};

export const REAL_PARAMS: R2p2GenParams = {
  maxClients: 2, maxServers: 2, maxCalls: 10,
  duration: [1_000_000, 2_000_000], delay: [1_000, 3_000], maxJitter: 2_000, maxServiceUs: 5_000,
  workloadWindow: 0.5, maxLossPermille: 200, maxDuplicatePermille: 200,
  closedLoopWeight: 0, maxBurstServiceUs: 2_000,
};

export function genParams(options: ScenarioOptions = {}): R2p2GenParams {
  return options.testbed !== undefined && REAL_TESTBEDS.includes(options.testbed) ? REAL_PARAMS : SIM_PARAMS;
}

/** Sizes from tiny to ~5000 bytes, with the packet-boundary sizes drawn on purpose. */
function sizeArb(min: number): fc.Arbitrary<number> {
  return fc.oneof(
    { arbitrary: fc.integer({ min, max: 256 }), weight: 4 },
    { arbitrary: fc.integer({ min: 257, max: MAX_PAYLOAD }), weight: 1 },
    { arbitrary: fc.integer({ min: MAX_PAYLOAD + 1, max: 5_000 }), weight: 3 },
    {
      arbitrary: fc.constantFrom(
        MAX_PAYLOAD - 1, MAX_PAYLOAD, MAX_PAYLOAD + 1, REQ0_PAYLOAD + MAX_PAYLOAD, REQ0_PAYLOAD + MAX_PAYLOAD + 1,
        2 * MAX_PAYLOAD, 2 * MAX_PAYLOAD + 1,
      ),
      weight: 1,
    },
  );
}

/**
 * 0 with probability about `zeroShare`, else uniform in [1, max]; shrinks to 0 (an integer range
 * around 0, clamped, so that shrinking can cross from the non-zero part to 0).
 */
function mostlyZeroArb(max: number, zeroShare: number): fc.Arbitrary<number> {
  const below = Math.round((max * zeroShare) / (1 - zeroShare));
  return fc.integer({ min: -below, max }).map((x) => Math.max(0, x));
}

/** A probability in per-mille: usually (3 in 4) 0, sometimes up to `max`. */
function permilleArb(max: number): fc.Arbitrary<number> {
  return mostlyZeroArb(max, 0.75);
}

function linkArb(p: R2p2GenParams) {
  return fc.record({
    delay: fc.integer({ min: p.delay[0], max: p.delay[1] }),
    jitter: mostlyZeroArb(p.maxJitter, 0.25),
    loss: permilleArb(p.maxLossPermille),
    duplicate: permilleArb(p.maxDuplicatePermille),
  });
}

type HostEpisode = {
  w: { at: number; len: number }; target: number; kind: 'crash-restart' | 'pause' | 'crash' | 'disconnect' | 'clock';
};

type RawLink = { delay: number; jitter: number; loss: number; duplicate: number };

function toLink(r: RawLink): LinkConfig {
  return { delay: r.delay, jitter: r.jitter, loss: r.loss / 1000, duplicate: r.duplicate / 1000 };
}

/**
 * The scenario arbitrary. Parameters per testbed: `SIM_PARAMS` (sim, default) and `REAL_PARAMS`
 * (`local`, `docker`, `hardware`). Faults: up to 2 link changes and up to 2 partitions (one node
 * cut off from all others) always; with `hostFaults`, up to 3 host episodes: crash, crash+restart
 * or pause of a server or the router program, a cut link (disconnect) of a server or a client
 * (never overlapping on one node), or a server's clock step.
 *
 * Load: the calls above are an open workload (each sent at its time). A share of the scenarios
 * (weight `closedLoopWeight` against 2) is closed-loop instead: every client gets a `window` such
 * that the clients together keep more calls outstanding than the servers may hold (clients ×
 * window > servers × n), the router's central queue takes what is beyond (queueCap ≥ clients ×
 * window − servers × n, so the JBSQ bound and not the queue is what limits), and one or two bursts
 * at random times in [10%, 45%] of the run give each client window + 0..3 calls at once, each sent
 * as an earlier one completes. Such scenarios shrink back to open ones.
 */
export function r2p2Scenarios(options: ScenarioOptions = {}): fc.Arbitrary<R2p2Scenario> {
  const p = genParams(options);
  const bugs = [...(options.bugs ?? [])];
  const call = fc.record({
    client: fc.nat({ max: p.maxClients - 1 }),
    at: fc.nat({ max: 1000 }),
    size: sizeArb(MIN_REQUEST_SIZE),
    serviceUs: fc.nat({ max: p.maxServiceUs }),
    replySize: sizeArb(0),
  });
  const window = fc.record({ at: fc.nat({ max: 1000 }), len: fc.nat({ max: 1000 }) });
  const hostFaults = options.hostFaults ?? false;
  const closedLoop = fc.record({
    /** Window beyond the least that overloads the servers. */
    window: fc.nat({ max: 2 }),
    /** Calls per client and burst beyond the window. */
    extra: fc.nat({ max: 3 }),
    bursts: fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 2 }),
    /** The calls of a burst cycle through these. */
    mix: fc.array(
      fc.record({ size: sizeArb(MIN_REQUEST_SIZE), serviceUs: fc.nat({ max: p.maxBurstServiceUs }), replySize: sizeArb(0) }),
      { minLength: 1, maxLength: 6 },
    ),
  });
  const raw = fc.record({
    seed: fc.nat({ max: 0x7fffffff }),
    clients: fc.integer({ min: 1, max: p.maxClients }),
    servers: fc.integer({ min: 1, max: p.maxServers }),
    n: fc.integer({ min: 1, max: 3 }),
    queueCap: fc.integer({ min: 1, max: 8 }),
    duration: fc.nat({ max: 1000 }),
    calls: fc.array(call, { minLength: 1, maxLength: p.maxCalls, size: 'max' }),
    network: linkArb(p),
    links: fc.array(
      fc.record({ at: fc.nat({ max: 1000 }), from: fc.nat({ max: 7 }), to: fc.nat({ max: 7 }), link: linkArb(p) }),
      { maxLength: 2 },
    ),
    partitions: fc.array(fc.record({ w: window, node: fc.nat({ max: 6 }) }), { maxLength: 2 }),
    host: hostFaults
      ? fc.array(
          fc.record<HostEpisode>({
            w: window,
            target: fc.nat({ max: p.maxServers }),
            kind: fc.constantFrom('crash-restart' as const, 'pause' as const, 'crash' as const, 'disconnect' as const, 'clock' as const),
          }),
          { maxLength: 3 },
        )
      : fc.constant<HostEpisode[]>([]),
    load: p.closedLoopWeight > 0
      ? fc.oneof(
          { withCrossShrink: true },
          { arbitrary: fc.constant(null), weight: 2 },
          { arbitrary: closedLoop, weight: p.closedLoopWeight },
        )
      : fc.constant(null),
  });

  return raw.map((r): R2p2Scenario => {
    const duration = Math.round(p.duration[0] + ((p.duration[1] - p.duration[0]) * r.duration) / 1000);
    // Closed loop: clients × window > servers × n, and the central queue holds the rest.
    const held = r.servers * r.n;
    const loop = r.load;
    const clientWindow = loop ? Math.floor(held / r.clients) + 1 + loop.window : undefined;
    const topology: R2p2Topology = {
      clients: r.clients,
      servers: r.servers,
      router: {
        policy: 'jbsq', n: r.n,
        queueCap: clientWindow === undefined ? r.queueCap : r.clients * clientWindow - held + r.queueCap - 1,
      },
      ...(clientWindow === undefined ? {} : { window: clientWindow }),
    };
    const clients = clientIds(topology);
    const servers = serverIds(topology);
    const nodes = allNodeIds(topology);
    // Times of faults: `at` in [5%, 80%] of the run, lengths in [2%, 20%].
    const faultAt = (permille: number) => Math.round(duration * (0.05 + (0.75 * permille) / 1000));
    const faultLen = (permille: number) => Math.round(duration * (0.02 + (0.18 * permille) / 1000));

    const workload: WorkloadStep<R2p2Command>[] = r.calls
      .map((c) => ({
        at: Math.round((duration * p.workloadWindow * c.at) / 1000),
        node: clients[c.client % clients.length]!,
        command: { kind: 'call' as const, size: c.size, serviceUs: c.serviceUs, replySize: c.replySize },
      }));
    if (loop && clientWindow !== undefined) {
      const perClient = clientWindow + loop.extra;
      loop.bursts.forEach((b, bi) => {
        const at = Math.round(duration * (0.1 + (0.35 * b) / 1000));
        clients.forEach((node, ci) => {
          for (let k = 0; k < perClient; k++) {
            const c = loop.mix[(ci + k + bi) % loop.mix.length]!;
            workload.push({ at, node, command: { kind: 'call', size: c.size, serviceUs: c.serviceUs, replySize: c.replySize } });
          }
        });
      });
    }
    workload.sort((a, b) => a.at - b.at);

    const faults: Fault[] = [];
    const endpoint = (i: number): NodeId | '*' => (i === 0 ? '*' : nodes[(i - 1) % nodes.length]!);
    for (const l of r.links) {
      faults.push({ at: faultAt(l.at), kind: 'link', from: endpoint(l.from), to: endpoint(l.to), link: toLink(l.link) });
    }
    for (const part of r.partitions) {
      const cut = nodes[part.node % nodes.length]!;
      faults.push({
        at: faultAt(part.w.at), kind: 'partition',
        groups: [[cut], nodes.filter((x) => x !== cut)], duration: faultLen(part.w.len),
      });
    }
    const busyUntil = new Map<NodeId, number>();
    const episodes = r.host
      .map((h) => ({ ...h, node: h.target % (servers.length + 1) === servers.length ? ROUTER_NODE : servers[h.target % (servers.length + 1)]!, at: faultAt(h.w.at), len: faultLen(h.w.len) }))
      .sort((a, b) => a.at - b.at);
    for (const e of episodes) {
      if (e.kind === 'clock') {
        // A host's clock steps by up to ±20% of the run, at any time (crashes do not reset it).
        // The router is a switch program and has no clock of its own.
        if (e.node !== ROUTER_NODE) faults.push({ at: e.at, kind: 'clock', node: e.node, offsetUs: Math.round(duration * (0.4 * e.w.len / 1000 - 0.2)) });
        continue;
      }
      if (e.kind === 'disconnect') {
        // A cut link of a host: a server, or a client in place of the router (a program has no link).
        const node = e.node === ROUTER_NODE ? clients[e.target % clients.length]! : e.node;
        if ((busyUntil.get(node) ?? -1) >= e.at) continue;
        faults.push({ at: e.at, kind: 'disconnect', node, duration: e.len });
        busyUntil.set(node, e.at + e.len);
        continue;
      }
      if ((busyUntil.get(e.node) ?? -1) >= e.at) continue;
      if (e.kind === 'pause') {
        faults.push({ at: e.at, kind: 'pause', node: e.node, duration: e.len });
        busyUntil.set(e.node, e.at + e.len);
      } else if (e.kind === 'crash-restart') {
        faults.push({ at: e.at, kind: 'crash', node: e.node });
        faults.push({ at: e.at + e.len, kind: 'restart', node: e.node });
        busyUntil.set(e.node, e.at + e.len);
      } else {
        faults.push({ at: e.at, kind: 'crash', node: e.node });
        busyUntil.set(e.node, Infinity);
      }
    }
    faults.sort((a, b) => a.at - b.at);

    return {
      protocol: 'r2p2',
      seed: r.seed,
      topology,
      workload,
      faults,
      network: toLink(r.network),
      bugs,
      duration,
    };
  });
}

/**
 * A representative scenario for hand runs (`protocheck run r2p2 --example`): 2 clients, 2
 * servers, JBSQ(2) with a queue of 4, 10 calls alternating single- and multi-packet requests and
 * replies, a jittery (reordering) network without loss, no faults. `seed` picks the sizes and
 * service times and is the run's seed.
 */
export function exampleScenario(seed = 1, options: ScenarioOptions = {}): R2p2Scenario {
  const rng = new Rng(seed);
  const real = genParams(options) === REAL_PARAMS;
  const duration = real ? 1_500_000 : 50_000;
  const step = real ? 60_000 : 2_000;
  const topology: R2p2Topology = { clients: 2, servers: 2, router: { policy: 'jbsq', n: 2, queueCap: 4 } };
  const workload: WorkloadStep<R2p2Command>[] = Array.from({ length: 10 }, (_, i) => ({
    // After the servers' start-up quiet period (about 8% of the run, see r2p2Timing).
    at: duration / 10 + i * step,
    node: `client${(i % 2) + 1}`,
    command: {
      kind: 'call' as const,
      size: i % 3 === 2 ? MAX_PAYLOAD + 1 + rng.int(3_000) : MIN_REQUEST_SIZE + rng.int(200),
      serviceUs: rng.int(real ? 5_000 : 1_000),
      replySize: i % 4 === 3 ? MAX_PAYLOAD + 1 + rng.int(3_000) : rng.int(200),
    },
  }));
  return {
    protocol: 'r2p2',
    seed,
    topology,
    workload,
    faults: [],
    network: real ? { delay: 1_000, jitter: 1_000, loss: 0, duplicate: 0 } : { delay: 10, jitter: 20, loss: 0, duplicate: 0 },
    bugs: [...(options.bugs ?? [])],
    duration,
  };
}
