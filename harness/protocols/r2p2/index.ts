/**
 * The R2P2 protocol definition (with its JBSQ router): roles, seeded bugs, TLC models, scenario
 * generation, the run plan and node configs, property checkers, the online monitor and TLC trace
 * validation. The harness, the testbeds and the CLI only talk to `r2p2`.
 */
import type { Addr, NodeId } from '../../../impl/core.ts';
import { roles } from '../../../impl/roles.ts';
import { createR2p2Monitor, type R2p2Role } from '../../../machines/r2p2/index.ts';
import type { Json, NodePlan, ProtocolDefinition, ProtocolRule, SeededBug, SpecModel, TraceMonitor } from '../../protocol.ts';
import { R2P2_CONTRACT } from './contract.ts';
import { r2p2Properties } from './properties.ts';
import {
  CLIENT_PORT, ROUTER_NODE, ROUTER_PORT, SERVER_PORT, clientIds, r2p2Scenarios, r2p2Timing, serverIds,
  type R2p2Scenario,
} from './scenario.ts';
import { r2p2LoadFigures } from './load.ts';

export * from './scenario.ts';
export * from './properties.ts';

export const R2P2_ROLE_NAMES = { client: 'r2p2-client', server: 'r2p2-server', router: 'r2p2-router' } as const;

/** The seeded bugs of `impl/r2p2/common.ts` and the checks shown (by tests) to catch each. */
export const R2P2_SEEDED_BUGS: readonly SeededBug[] = [
  {
    name: 'router-exceeds-bound',
    description: 'JBSQ dispatches to a server whose outstanding count already equals n (<= instead of <).',
    caughtBy: ['jbsq-bound', 'monitor'],
  },
  {
    name: 'server-replies-twice',
    description: 'The server sends every reply twice and emits ServerReply twice.',
    caughtBy: ['at-most-one-reply', 'monitor', 'tlc'],
  },
  {
    name: 'client-accepts-wrong-rid',
    description: 'The client completes its oldest pending request with any reply, whatever rid the reply carries.',
    caughtBy: ['reply-matches-request', 'monitor'],
  },
  {
    name: 'reassembly-loses-reordered-packet',
    description: 'Server reassembly stores REQn packets in arrival order, so reordering scrambles the request body.',
    caughtBy: ['byte-exact-reassembly', 'tlc'],
  },
  {
    name: 'router-blind-feedback',
    description: 'The router counts every FEEDBACK naming a request, duplicates included, as one more served request. ' +
      'Shows only when FEEDBACK is duplicated; the switch applies no link faults to packets addressed to a switch ' +
      'program, so on sim it needs a duplicating server→router wire (see sim.test.ts).',
    caughtBy: ['jbsq-bound', 'monitor'],
  },
  {
    name: 'router-forgets-on-leave',
    description: 'The router drops a server\'s account when the server leaves the eligible set, so a live server that ' +
      'rejoins (after a pause or a partition longer than the silence timeout) is counted from zero while it still ' +
      'holds requests.',
    caughtBy: ['jbsq-bound'],
  },
  {
    name: 'server-serves-duplicate',
    description: 'The server forgets the requests it completed, so a copy of a REQ0 the network duplicated (or the router ' +
      'dispatched twice) that arrives after the reply is taken and served again.',
    caughtBy: ['server-takes-once', 'monitor', 'tlc'],
  },
  {
    name: 'server-serves-before-announce',
    description: 'A (re)started server takes and serves the requests that reach it during its quiet period, before it ' +
      'announces its new incarnation (requests the router still dispatches to the crashed one).',
    caughtBy: ['serves-after-announce', 'monitor', 'tlc'],
  },
  {
    name: 'client-ack-disarms-timer',
    description: 'The client stops a multi-packet request\'s timer when the server\'s ACK arrives (the spec variant ' +
      'AckDisarms), so a request whose REQn packets or reply are lost never completes. Shows on a lossy network.',
    caughtBy: ['no-silent-loss'],
  },
];

/**
 * The rules of R2P2 with JBSQ and the independent checks that hold each (docs/r2p2.md): PROTOCOLS.md
 * §1's "must hold" and the rules of the server, the router and the client that the spec, the
 * machines and the properties share. A `spec-action:` check is shown by a trace of
 * trace-validation.test.ts that breaks the rule and that TLC rejects at that event.
 */
export const R2P2_RULES: readonly ProtocolRule[] = [
  {
    name: 'reply-matches-request',
    statement: 'A reply the client accepts answers the request with that (client, rid) triplet.',
    checks: ['spec:ReplyMatchesRequest', 'spec-action:ClientReceiveReply', 'monitor:client', 'property:reply-matches-request'],
  },
  {
    name: 'jbsq-bound',
    statement: 'A server never holds more than n requests the router dispatched to it and it has not answered.',
    checks: ['spec:JbsqBound', 'monitor:router', 'property:jbsq-bound'],
  },
  {
    name: 'router-count-bound',
    statement: 'Under JBSQ the router\'s own count of a server\'s outstanding requests never exceeds the n it knows for that server.',
    checks: ['spec:RouterCountBound', 'spec-action:RouterDispatch', 'monitor:router'],
  },
  {
    name: 'router-count-exact',
    statement: 'The router counts exactly Out(s) = dispatched − max(slot frees, served − base): a lost, duplicated or stale ' +
      'FEEDBACK changes nothing it should not.',
    checks: ['spec-action:RouterFeedback', 'monitor:router'],
  },
  {
    name: 'jbsq-shortest-queue',
    statement: 'JBSQ sends the head of the central queue to an eligible server with the fewest outstanding requests.',
    checks: ['spec-action:RouterDispatch', 'monitor:router'],
  },
  {
    name: 'dispatch-head-to-eligible',
    statement: 'The router dispatches the head of its FIFO central queue, and only to an eligible server (joined, not left).',
    checks: ['spec-action:RouterDispatch', 'monitor:router'],
  },
  {
    name: 'drop-only-when-full',
    statement: 'The router answers DROP to a REQ0 only when its central queue is full, and queues it otherwise.',
    checks: ['spec-action:RouterDrop', 'monitor:router'],
  },
  {
    name: 'account-per-incarnation',
    statement: 'The router keeps a server\'s account across a leave and opens a new one only for a first join or a newer ' +
      'incarnation, so requests dispatched before a leave still count after the rejoin.',
    checks: ['spec:JbsqBound', 'spec-action:RouterServerJoin', 'property:jbsq-bound'],
  },
  {
    name: 'no-silent-loss',
    statement: 'Every request is replied, dropped with DROP, or times out at the client: a pending request has its timer armed.',
    checks: ['spec:PendingHasTimer', 'property:no-silent-loss'],
  },
  {
    name: 'completes-once',
    statement: 'A request completes once (reply, DROP or timeout) and only after it was sent; nothing happens to it afterwards.',
    checks: ['spec-action:ClientReceiveReply', 'monitor:client', 'property:no-silent-loss'],
  },
  {
    name: 'streams-to-one-server',
    statement: 'A client streams the REQn packets of a multi-packet request to the one server that ACKed it first.',
    checks: ['spec-action:ClientReceiveAck', 'monitor:client'],
  },
  {
    name: 'byte-exact-reassembly',
    statement: 'A request a server assembles has the bytes (digest) and packet count the client sent, whatever the network ' +
      'reordered or duplicated.',
    checks: ['spec-action:ServerReceiveRequest', 'property:byte-exact-reassembly'],
  },
  {
    name: 'server-takes-once',
    statement: 'A server takes each (client, rid) at most once per incarnation: a REQ0 the network duplicated or the router ' +
      'dispatched twice is not served again.',
    checks: ['spec:ServerTakesOnce', 'spec-action:ServerReceiveRequest', 'monitor:server', 'property:server-takes-once'],
  },
  {
    name: 'at-most-one-reply',
    statement: 'A server answers only a request its incarnation took, and each at most once.',
    checks: ['spec-action:ServerReply', 'monitor:server', 'property:at-most-one-reply'],
  },
  {
    name: 'serves-after-announce',
    statement: 'A (re)started server takes, reassembles and answers requests only once its incarnation has announced ' +
      'itself (after its quiet period), so no request sent to an earlier incarnation is served.',
    checks: ['spec:ServesOnlyAnnounced', 'spec-action:ServerReceiveRequest', 'monitor:server', 'property:serves-after-announce'],
  },
  {
    name: 'served-count',
    statement: 'Each reply raises the server\'s served count by exactly one and its announces report that count (from 0 ' +
      'in a new incarnation): what lets the router derive outstanding = dispatched − served.',
    checks: ['spec-action:ServerReply', 'spec-action:ServerAnnounce', 'monitor:server'],
  },
];

export const R2P2_MODELS: readonly SpecModel[] = [
  {
    module: 'specs/r2p2/MCR2P2.tla',
    config: 'specs/r2p2/MC.cfg',
    expect: 'ok',
    description: '2 clients, 2 servers, JBSQ(1), central queue of 1, one request per client (1 or 2 packets), slot and ' +
      'count FEEDBACK, loss and reordering: TypeOK, JbsqBound, RouterCountBound, ReplyMatchesRequest, PendingHasTimer hold.',
  },
  {
    module: 'specs/r2p2/MCR2P2.tla',
    config: 'specs/r2p2/MCDup.cfg',
    expect: 'ok',
    description: 'Duplication: every message may be delivered twice (REQ0 at router and server, FEEDBACK); count-form ' +
      'FEEDBACK, one server, one request of 1 or 2 packets: the same invariants hold (the count form is idempotent), and ' +
      'ServerTakesOnce and ServesOnlyAnnounced (the server takes a duplicated request once).',
  },
  {
    module: 'specs/r2p2/MCR2P2.tla',
    config: 'specs/r2p2/MCLeave.cfg',
    expect: 'ok',
    description: 'Leave, rejoin and server crashes and restarts: 2 clients, 1 server, JBSQ(1); the router keeps a server\'s ' +
      'account across a leave and opens a new one for a new incarnation: the same invariants hold, and ServerTakesOnce and ' +
      'ServesOnlyAnnounced (a restarted server is quiet until its announce).',
  },
  {
    module: 'specs/r2p2/R2P2BlindFeedback.tla',
    config: 'specs/r2p2/R2P2BlindFeedback.cfg',
    expect: 'violation',
    violates: 'JbsqBound',
    description: 'Buggy router: every FEEDBACK frees a slot while the network duplicates: JbsqBound is violated.',
  },
  {
    module: 'specs/r2p2/R2P2PhantomReply.tla',
    config: 'specs/r2p2/R2P2PhantomReply.cfg',
    expect: 'violation',
    violates: 'ReplyMatchesRequest',
    description: 'Buggy server: it may reply to a request it never received: ReplyMatchesRequest is violated.',
  },
  {
    module: 'specs/r2p2/R2P2ForgetOnLeave.tla',
    config: 'specs/r2p2/R2P2ForgetOnLeave.cfg',
    expect: 'violation',
    violates: 'JbsqBound',
    description: 'Buggy router: it drops a server\'s account when the server leaves, so a live server that rejoins ' +
      'is counted from zero while it still holds a request: JbsqBound is violated.',
  },
  {
    module: 'specs/r2p2/R2P2DispatchOverBound.tla',
    config: 'specs/r2p2/R2P2DispatchOverBound.cfg',
    expect: 'violation',
    violates: 'RouterCountBound',
    description: 'Buggy router: it dispatches to any server, whatever its count: RouterCountBound is violated.',
  },
  {
    module: 'specs/r2p2/R2P2AckDisarms.tla',
    config: 'specs/r2p2/R2P2AckDisarms.cfg',
    expect: 'violation',
    violates: 'PendingHasTimer',
    description: 'Buggy client: the ACK of a multi-packet request stops its timer, so the request can stay pending for ' +
      'good: PendingHasTimer is violated.',
  },
  {
    module: 'specs/r2p2/R2P2ServeDuplicate.tla',
    config: 'specs/r2p2/R2P2ServeDuplicate.cfg',
    expect: 'violation',
    violates: 'ServerTakesOnce',
    description: 'Buggy server: it forgets the requests it completed, so a duplicated REQ0 is taken again (the MCDup ' +
      'model): ServerTakesOnce is violated.',
  },
  {
    module: 'specs/r2p2/R2P2ServeBeforeAnnounce.tla',
    config: 'specs/r2p2/R2P2ServeBeforeAnnounce.cfg',
    expect: 'violation',
    violates: 'ServesOnlyAnnounced',
    description: 'Buggy server: after a crash its new incarnation takes requests before it announces itself (the MCLeave ' +
      'model): ServesOnlyAnnounced is violated.',
  },
];

/** client1..N on hosts (port 7000), server1..M on hosts (port 8000), the router in the switch (port 9000). */
export function r2p2Plan(scenario: R2p2Scenario): NodePlan[] {
  return [
    ...clientIds(scenario.topology).map((id) => ({ id, role: R2P2_ROLE_NAMES.client, placement: 'host' as const, port: CLIENT_PORT })),
    ...serverIds(scenario.topology).map((id) => ({ id, role: R2P2_ROLE_NAMES.server, placement: 'host' as const, port: SERVER_PORT })),
    { id: ROUTER_NODE, role: R2P2_ROLE_NAMES.router, placement: 'switch', port: ROUTER_PORT },
  ];
}

/** Each node's config; timers from `r2p2Timing(scenario)`, the servers ask for the router's n. */
export function r2p2Configure(scenario: R2p2Scenario, addrs: Readonly<Record<NodeId, Addr>>): Record<NodeId, Json> {
  const router = addrs[ROUTER_NODE];
  if (router === undefined) throw new Error(`r2p2: no address for node '${ROUTER_NODE}'`);
  const t = r2p2Timing(scenario);
  const { policy, n, queueCap } = scenario.topology.router;
  const out: Record<NodeId, Json> = {};
  const { window } = scenario.topology;
  for (const id of clientIds(scenario.topology)) {
    out[id] = { router, timeoutUs: t.timeoutUs, rtoUs: t.rtoUs, ...(window === undefined ? {} : { window }) };
  }
  for (const id of serverIds(scenario.topology)) {
    // A (re)started server keeps quiet a little longer than the router's silence timeout, so a
    // restarted one has been forgotten (RouterServerLeave) before it joins again from served 0.
    out[id] = {
      router, n, heartbeatUs: t.heartbeatUs, rtoUs: t.rtoUs, gcRtos: t.gcRtos,
      rejoinDelayUs: t.leaveAfterUs + t.heartbeatUs,
    };
  }
  out[ROUTER_NODE] = { policy, n, queueCap, leaveAfterUs: t.leaveAfterUs };
  return out;
}

export function r2p2RoleOf(scenario: R2p2Scenario): Record<NodeId, R2p2Role> {
  const out: Record<NodeId, R2p2Role> = {};
  for (const id of clientIds(scenario.topology)) out[id] = 'client';
  for (const id of serverIds(scenario.topology)) out[id] = 'server';
  out[ROUTER_NODE] = 'router';
  return out;
}

/**
 * The XState monitor of a run. A crashed node comes back as a fresh core, so the monitor forgets
 * its actors at the node's `HostCrash` (and again at its `HostRestart`): the trace's annotations,
 * not the scenario's times, since a real testbed's kill lands a little after the scheduled time.
 */
export function r2p2Monitor(scenario: R2p2Scenario): TraceMonitor {
  const { policy, n, queueCap } = scenario.topology.router;
  const monitor = createR2p2Monitor({ router: { policy, n, queueCap }, roles: r2p2RoleOf(scenario) });
  return {
    observe(index, event) {
      if (event.action === 'HostCrash') monitor.nodeRestarted(event.node);
      return monitor.observe(index, event);
    },
    finish: () => monitor.finish(),
  };
}

export const r2p2: ProtocolDefinition<R2p2Scenario> = {
  name: 'r2p2',
  roles: Object.fromEntries(Object.values(R2P2_ROLE_NAMES).map((name) => {
    const factory = roles[name];
    if (!factory) throw new Error(`r2p2: role '${name}' is missing from impl/roles.ts`);
    return [name, factory];
  })),
  bugs: R2P2_SEEDED_BUGS,
  models: R2P2_MODELS,
  rules: R2P2_RULES,
  contract: R2P2_CONTRACT,
  scenarios: (options) => r2p2Scenarios(options),
  plan: r2p2Plan,
  configure: r2p2Configure,
  properties: r2p2Properties,
  monitor: (scenario) => r2p2Monitor(scenario),
  loadFigures: r2p2LoadFigures,
  // Loaded on first use: TLC's runner is only needed when a batch is validated.
  validateTraces: async (batch) => (await import('./trace-validation.ts')).validateR2p2Traces(batch),
};
