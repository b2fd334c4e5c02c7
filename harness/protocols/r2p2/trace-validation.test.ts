/**
 * TLC trace validation of R2P2 traces: hand-written traces in the shape the cores emit
 * (impl/r2p2/actions.ts), some the spec allows and some it forbids, all in ONE batch (one TLC run).
 */
import { describe, expect, it } from 'vitest';
import type { TraceValidationInput } from '../../protocol.ts';
import type { Scenario } from '../../scenario/types.ts';
import { PERFECT_LINK } from '../../scenario/types.ts';
import type { TraceEvent } from '../../trace/schema.ts';
import { generateR2p2TraceModule, validateR2p2Traces } from './trace-validation.ts';

const R = '10.0.0.1:9000';
const C1 = '10.0.0.2:7000';
const C2 = '10.0.0.3:7000';
const S1 = '10.0.0.4:8000';
const S2 = '10.0.0.5:8000';
const ZERO = '0.0.0.0:0';
const addrs = { router: R, client1: C1, client2: C2, server1: S1, server2: S2 };

function scenario(policy: 'jbsq' | 'random' | 'round-robin' | 'jsq', n: number, queueCap: number): Scenario {
  return {
    protocol: 'r2p2', seed: 1,
    topology: { clients: 2, servers: 2, router: { policy, n, queueCap } },
    workload: [], faults: [], network: PERFECT_LINK, bugs: [], duration: 1_000_000,
  };
}

/** Events with t stamped 1, 2, 3, ... */
function trace(...events: Omit<TraceEvent, 't'>[]): TraceEvent[] {
  return events.map((e, j) => ({ t: j + 1, ...e }) as TraceEvent);
}

const announce = (node: string, served = 0, n = 1) => ({ node, action: 'ServerAnnounce', router: R, n, served });
/** `fresh`: a new account (first join, new incarnation); else a rejoin after a leave, followed by a RouterFeedback. */
const join = (server: string, n = 1, served = 0, fresh = true) =>
  ({ node: 'router', action: 'RouterServerJoin', server, n, served, fresh });
const leave = (server: string) => ({ node: 'router', action: 'RouterServerLeave', server });
const send = (node: string, rid: number, npkts = 1, digest = `req-${node}-${rid}`) =>
  ({ node, action: 'ClientSend', rid, policy: 'LB_ROUTE', npkts, size: npkts * 1000, digest });
const enqueue = (client: string, rid: number, queued: number) => ({ node: 'router', action: 'RouterEnqueue', client, rid, queued });
const dispatch = (client: string, rid: number, server: string, outstanding: number) =>
  ({ node: 'router', action: 'RouterDispatch', client, rid, server, outstanding });
const receive = (node: string, client: string, rid: number, npkts: number, digest: string) =>
  ({ node, action: 'ServerReceiveRequest', client, rid, npkts, digest });
const reply = (node: string, client: string, rid: number, served: number, digest = `rep-${rid}`) =>
  ({ node, action: 'ServerReply', client, rid, npkts: 1, digest, served, n: 1 });
const accept = (node: string, rid: number, server: string, digest = `rep-${rid}`, replyRid = rid) =>
  ({ node, action: 'ClientReceiveReply', rid, replyRid, server, digest });
const feedback = (server: string, client: string, rid: number, served: number, outstanding: number) =>
  ({ node: 'router', action: 'RouterFeedback', server, client, rid, form: 'count', n: 1, served, outstanding });

/** One single-packet request through JBSQ(1), with a duplicated FEEDBACK processed twice. */
const simple = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  { node: 'switch', action: 'NetDuplicate', src: S1, dst: R },
  receive('server1', C1, 1, 1, 'req-client1-1'),
  reply('server1', C1, 1, 1), accept('client1', 1, S1),
  feedback(S1, C1, 1, 1, 0), feedback(S1, C1, 1, 1, 0),
  announce('server1', 1), feedback(S1, ZERO, 0, 1, 0),
);

/** Multi-packet with SACK and resend; DROP on a full queue; a timeout; a leave (RANDOM). */
const rich = trace(
  announce('server1'), announce('server2'), join(S1), join(S2),
  send('client1', 1, 3, 'big'), enqueue(C1, 1, 1), dispatch(C1, 1, S2, 1),
  { node: 'server2', action: 'ServerAck', client: C1, rid: 1, npkts: 3 },
  { node: 'client1', action: 'ClientReceiveAck', rid: 1, server: S2 },
  { node: 'server2', action: 'ServerSack', client: C1, rid: 1, missing: [2] },
  { node: 'client1', action: 'ClientResend', rid: 1, server: S2, packets: [2] },
  receive('server2', C1, 1, 3, 'big'),
  reply('server2', C1, 1, 1), accept('client1', 1, S2), feedback(S2, C1, 1, 1, 0),
  send('client2', 1), send('client2', 2),
  enqueue(C2, 1, 1), { node: 'router', action: 'RouterDrop', client: C2, rid: 2 },
  { node: 'client2', action: 'ClientReceiveDrop', rid: 2, from: R },
  dispatch(C2, 1, S1, 1),
  { node: 'client2', action: 'ClientTimeout', rid: 1 },
  leave(S1),
  // server1 restarts: a fresh core announces served 0 (a new incarnation: a new account) and has
  // forgotten the request.
  announce('server1'), join(S1, 1, 0, true),
);

/**
 * JBSQ(1): server1 leaves while it holds a request and rejoins (the same incarnation): its account
 * goes on, the request still counts until its FEEDBACK, then the slot is free.
 */
const leaveRejoin = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  receive('server1', C1, 1, 1, 'req-client1-1'),
  leave(S1),
  announce('server1', 0), join(S1, 1, 0, false), feedback(S1, ZERO, 0, 0, 1),
  reply('server1', C1, 1, 1), accept('client1', 1, S1), feedback(S1, C1, 1, 1, 0),
  send('client2', 1), enqueue(C2, 1, 1), dispatch(C2, 1, S1, 1),
);

/** Round-robin has no bound: two outstanding at server1 with n = 1 is fine. */
const roundRobin = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  send('client2', 1), enqueue(C2, 1, 1), dispatch(C2, 1, S1, 2),
);

/** JBSQ(1): a second dispatch to a server that already has one outstanding. */
const exceedsBound = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  send('client2', 1), enqueue(C2, 1, 1), dispatch(C2, 1, S1, 2),
);

/**
 * The router-forgets-on-leave shape: server1 (served 1, so its announce is no restart) leaves while
 * it holds rid 2 and the router opens a new account for the same incarnation.
 */
const forgetsOnLeave = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  receive('server1', C1, 1, 1, 'req-client1-1'), reply('server1', C1, 1, 1), accept('client1', 1, S1),
  feedback(S1, C1, 1, 1, 0),
  send('client1', 2), enqueue(C1, 2, 1), dispatch(C1, 2, S1, 1),
  receive('server1', C1, 2, 1, 'req-client1-2'),
  leave(S1), announce('server1', 1),
  join(S1, 1, 1, true), // forbidden: the spec's rejoin keeps the account (fresh only for a new incarnation)
  send('client2', 1), enqueue(C2, 1, 1), dispatch(C2, 1, S1, 1),
);

/** The client completes rid 1 with the reply to rid 2. */
const wrongRid = trace(
  announce('server1'), join(S1),
  send('client1', 1), send('client1', 2), enqueue(C1, 2, 1), dispatch(C1, 2, S1, 1),
  receive('server1', C1, 2, 1, 'req-client1-2'), reply('server1', C1, 2, 1),
  accept('client1', 1, S1, 'rep-2', 2),
);

/** The client accepts a reply no server sent (the request was never served). */
const neverServed = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  accept('client1', 1, S1),
);

/** The server has the request before the client sent it. */
const replyBeforeSend = trace(
  announce('server1'), join(S1),
  receive('server1', C1, 1, 1, 'req-client1-1'),
  send('client1', 1),
);

/** Reassembly is not byte-exact: the server's digest differs from the client's. */
const badReassembly = trace(
  announce('server1'), join(S1),
  send('client1', 1, 2, 'body'), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  { node: 'server1', action: 'ServerAck', client: C1, rid: 1, npkts: 2 },
  { node: 'client1', action: 'ClientReceiveAck', rid: 1, server: S1 },
  receive('server1', C1, 1, 2, 'scrambled'),
);

/** A FEEDBACK that the router counts wrong: outstanding stays 1 after the only request finished. */
const wrongOutstanding = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  receive('server1', C1, 1, 1, 'req-client1-1'), reply('server1', C1, 1, 1),
  feedback(S1, C1, 1, 1, 1),
);

/** A duplicated REQ0 the router queues and dispatches twice to one server, which takes it once. */
const dupIgnored = trace(
  announce('server1'), join(S1),
  send('client1', 1), { node: 'switch', action: 'NetDuplicate', src: C1, dst: R },
  enqueue(C1, 1, 1), enqueue(C1, 1, 2), dispatch(C1, 1, S1, 1),
  receive('server1', C1, 1, 1, 'req-client1-1'), reply('server1', C1, 1, 1), accept('client1', 1, S1),
  feedback(S1, C1, 1, 1, 0), dispatch(C1, 1, S1, 1),
);

/** The server-serves-duplicate shape: a copy of the REQ0 arrives after the reply and is taken again. */
const takenTwice = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  { node: 'switch', action: 'NetDuplicate', src: R, dst: S1 },
  receive('server1', C1, 1, 1, 'req-client1-1'), reply('server1', C1, 1, 1), accept('client1', 1, S1),
  feedback(S1, C1, 1, 1, 0),
  receive('server1', C1, 1, 1, 'req-client1-1'), // forbidden: this incarnation took it already
);

/**
 * server1 crashes holding a request; its next incarnation keeps quiet until the router dropped it,
 * announces (a new account) and serves a new request. (HostRestart is no spec event.)
 */
const crashRestart = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  receive('server1', C1, 1, 1, 'req-client1-1'),
  { node: 'server1', action: 'HostCrash', reason: 'fault' }, { node: 'server1', action: 'HostRestart' },
  leave(S1), announce('server1'), join(S1, 1, 0, true),
  send('client1', 2), enqueue(C1, 2, 1), dispatch(C1, 2, S1, 1),
  receive('server1', C1, 2, 1, 'req-client1-2'), reply('server1', C1, 2, 1), accept('client1', 2, S1),
);

/** The server-serves-before-announce shape: the restarted server takes a request before its announce. */
const serveBeforeAnnounce = trace(
  announce('server1'), join(S1),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  { node: 'server1', action: 'HostCrash', reason: 'fault' }, { node: 'server1', action: 'HostRestart' },
  receive('server1', C1, 1, 1, 'req-client1-1'), // forbidden: the new incarnation has not announced itself
  reply('server1', C1, 1, 1), announce('server1', 1),
);

// ---- one trace per spec action whose enabling condition holds a rule (docs/r2p2.md) ----
const oneServed = [announce('server1'), join(S1), send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  receive('server1', C1, 1, 1, 'req-client1-1')];
/** ServerReply: the served count rises by exactly one. */
const servedSkips = trace(...oneServed, reply('server1', C1, 1, 2));
/** ServerAnnounce: a heartbeat reports the served count. */
const heartbeatMiscounts = trace(...oneServed, reply('server1', C1, 1, 1), announce('server1', 2));
/** ServerReply: one reply per request taken. */
const repliesTwice = trace(...oneServed, reply('server1', C1, 1, 1), reply('server1', C1, 1, 2));
/** ClientReceiveReply: a request completes once. */
const completesTwice = trace(...oneServed, reply('server1', C1, 1, 1), accept('client1', 1, S1), accept('client1', 1, S1));
/** RouterDrop: only when the central queue is full. */
const dropNotFull = trace(announce('server1'), join(S1), send('client1', 1), { node: 'router', action: 'RouterDrop', client: C1, rid: 1 });
/** RouterDispatch: the head of the central queue. */
const notHead = trace(announce('server1'), join(S1), send('client1', 1), send('client2', 1),
  enqueue(C1, 1, 1), enqueue(C2, 1, 2), dispatch(C2, 1, S1, 1));
/** RouterDispatch: only to an eligible server. */
const toIneligible = trace(announce('server1'), join(S1), leave(S1), send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1));
/** RouterDispatch under JBSQ(2): a server with the fewest outstanding. */
const notShortest = trace(announce('server1', 0, 2), announce('server2', 0, 2), join(S1, 2), join(S2, 2),
  send('client1', 1), enqueue(C1, 1, 1), dispatch(C1, 1, S1, 1),
  send('client2', 1), enqueue(C2, 1, 1), dispatch(C2, 1, S1, 2));
/** ClientReceiveAck: a client streams a multi-packet request to one server only. */
const ackFromTwo = trace(announce('server1'), announce('server2'), join(S1), join(S2),
  send('client1', 1, 2, 'big'), enqueue(C1, 1, 1), enqueue(C1, 1, 2), dispatch(C1, 1, S1, 1), dispatch(C1, 1, S2, 1),
  { node: 'server1', action: 'ServerAck', client: C1, rid: 1, npkts: 2 },
  { node: 'server2', action: 'ServerAck', client: C1, rid: 1, npkts: 2 },
  { node: 'client1', action: 'ClientReceiveAck', rid: 1, server: S1 },
  { node: 'client1', action: 'ClientReceiveAck', rid: 1, server: S2 });

const jbsq = scenario('jbsq', 1, 4);
const cases: { name: string; input: TraceValidationInput; accepted: boolean; prefix?: number }[] = [
  { name: 'simple JBSQ request', input: { trace: simple, addrs, scenario: jbsq }, accepted: true },
  { name: 'multi-packet, drop, timeout, leave, restart', input: { trace: rich, addrs, scenario: scenario('random', 1, 1) }, accepted: true },
  { name: 'round-robin beyond n', input: { trace: roundRobin, addrs, scenario: scenario('round-robin', 1, 4) }, accepted: true },
  { name: 'empty trace', input: { trace: [], addrs, scenario: jbsq }, accepted: true },
  { name: 'leave and rejoin of the same incarnation', input: { trace: leaveRejoin, addrs, scenario: jbsq }, accepted: true },
  { name: 'JBSQ dispatch beyond n', input: { trace: exceedsBound, addrs, scenario: jbsq }, accepted: false, prefix: 7 },
  { name: 'replyRid differs from rid', input: { trace: wrongRid, addrs, scenario: jbsq }, accepted: false, prefix: 8 },
  { name: 'reply to a request never served', input: { trace: neverServed, addrs, scenario: jbsq }, accepted: false, prefix: 5 },
  { name: 'request received before it was sent', input: { trace: replyBeforeSend, addrs, scenario: jbsq }, accepted: false, prefix: 2 },
  { name: 'reassembled digest differs', input: { trace: badReassembly, addrs, scenario: jbsq }, accepted: false, prefix: 7 },
  { name: 'wrong outstanding after FEEDBACK', input: { trace: wrongOutstanding, addrs, scenario: jbsq }, accepted: false, prefix: 7 },
  { name: 'new account for the same incarnation after a leave', input: { trace: forgetsOnLeave, addrs, scenario: jbsq }, accepted: false, prefix: 15 },
  { name: 'a duplicated REQ0 dispatched twice to one server, taken once', input: { trace: dupIgnored, addrs, scenario: jbsq }, accepted: true },
  { name: 'a server takes one request twice in an incarnation', input: { trace: takenTwice, addrs, scenario: jbsq }, accepted: false, prefix: 9 },
  { name: 'server crash, quiet restart, announce, new account', input: { trace: crashRestart, addrs, scenario: jbsq }, accepted: true, prefix: 16 },
  { name: 'a restarted server serves before it announces', input: { trace: serveBeforeAnnounce, addrs, scenario: jbsq }, accepted: false, prefix: 6 },
  { name: 'a reply that raises served by two', input: { trace: servedSkips, addrs, scenario: jbsq }, accepted: false, prefix: 6 },
  { name: 'a heartbeat with another served count', input: { trace: heartbeatMiscounts, addrs, scenario: jbsq }, accepted: false, prefix: 7 },
  { name: 'a second reply to one request', input: { trace: repliesTwice, addrs, scenario: jbsq }, accepted: false, prefix: 7 },
  { name: 'a request completed twice', input: { trace: completesTwice, addrs, scenario: jbsq }, accepted: false, prefix: 8 },
  { name: 'DROP with a queue that is not full', input: { trace: dropNotFull, addrs, scenario: jbsq }, accepted: false, prefix: 3 },
  { name: 'dispatch of a request that is not the head', input: { trace: notHead, addrs, scenario: jbsq }, accepted: false, prefix: 6 },
  { name: 'dispatch to a server that left', input: { trace: toIneligible, addrs, scenario: jbsq }, accepted: false, prefix: 5 },
  { name: 'JBSQ(2) dispatch to the more loaded server', input: { trace: notShortest, addrs, scenario: scenario('jbsq', 2, 4) }, accepted: false, prefix: 9 },
  { name: 'a client streaming to a second server', input: { trace: ackFromTwo, addrs, scenario: scenario('random', 1, 4) }, accepted: false, prefix: 12 },
];

describe('R2P2 trace validation', () => {
  it('a server\'s HostCrash is the spec\'s ServerCrash; its HostRestart and other nodes\' host events are no spec events', () => {
    const gen = generateR2p2TraceModule([{ trace: crashRestart, addrs, scenario: jbsq }]);
    expect(gen.tla).toContain('[action |-> "ServerCrash", node |-> "server1"]');
    expect(gen.tla).not.toContain('HostRestart');
    expect(gen.eventIndices[0]).toHaveLength(crashRestart.length - 1);
  });

  it('puts every trace of a batch into one module', () => {
    const gen = generateR2p2TraceModule(cases.map((c) => c.input));
    expect(gen.included).toHaveLength(cases.length - 1); // the empty trace needs no TLC
    expect(gen.tla).toContain('Traces == <<');
    expect(gen.tla).toContain('TPolicy == <<"JBSQ", "RANDOM", "RANDOM", "JBSQ"');
    // addresses became identities; the Net* annotation is gone
    expect(gen.tla).toContain('client |-> "client1"');
    expect(gen.tla).not.toContain('10.0.0.');
    expect(gen.tla).not.toContain('NetDuplicate');
  });

  it('accepts the traces the spec allows and rejects the others, in one TLC run', async () => {
    const results = await validateR2p2Traces(cases.map((c) => c.input));
    const summary = results.map((r, j) => ({ name: cases[j]!.name, accepted: r.accepted, prefix: r.matchedPrefix }));
    const expected = cases.map((c) => ({
      name: c.name, accepted: c.accepted,
      prefix: c.prefix ?? c.input.trace.filter((e) => !e.action.startsWith('Net')).length,
    }));
    expect(summary).toEqual(expected);
    for (const r of results.filter((x) => !x.accepted)) expect(r.message).toMatch(/no behaviour of R2P2.tla matches/);
  }, 120_000);
});
