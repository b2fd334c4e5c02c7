/**
 * The R2P2 property checkers on hand-written traces: each passes on correct traces and fails on a
 * trace with the defect it targets (ARCHITECTURE rule 5).
 */
import { describe, expect, it } from 'vitest';
import type { Fault } from '../../scenario/types.ts';
import type { TraceEvent } from '../../trace/schema.ts';
import {
  atMostOneReply, byteExactReassembly, jbsqBound, noSilentLoss, r2p2Properties, replyMatchesRequest, servesAfterAnnounce,
  serverTakesOnce,
} from './properties.ts';
import { SERVER_DEDUPE_WINDOW } from '../../../machines/r2p2/events.ts';
import { r2p2Timing, type R2p2Scenario } from './scenario.ts';

const C1 = '10.0.0.2:7000';
const C2 = '10.0.0.3:7000';
const S1 = '10.0.0.4:8000';
const S2 = '10.0.0.5:8000';
const R = '10.0.1.1:9000';
const ADDRS = { client1: C1, client2: C2, server1: S1, server2: S2, router: R };
const NOBODY = '0.0.0.0:0';

function scenario(over: { n?: number; faults?: Fault[]; duration?: number; policy?: 'jbsq' | 'random' } = {}): R2p2Scenario {
  return {
    protocol: 'r2p2',
    seed: 1,
    topology: { clients: 2, servers: 2, router: { policy: over.policy ?? 'jbsq', n: over.n ?? 1, queueCap: 4 } },
    workload: [],
    faults: over.faults ?? [],
    network: { delay: 10, jitter: 0, loss: 0, duplicate: 0 },
    bugs: [],
    duration: over.duration ?? 50_000,
  };
}

type Fields = Record<string, string | number | readonly number[]>;
const ev = (t: number, node: string, action: string, fields: Fields = {}): TraceEvent =>
  ({ t, node, action, ...fields }) as TraceEvent;

// Building blocks of a trace ------------------------------------------------------------------
const announce = (t: number, s: string, served = 0, n = 1) => ev(t, s, 'ServerAnnounce', { router: R, n, served });
/** `fresh`: a new account (first join, new incarnation); else a rejoin after a leave, followed by a RouterFeedback. */
const join = (t: number, s: string, n = 1, served = 0, fresh = true) =>
  ({ t, node: 'router', action: 'RouterServerJoin', server: s, n, served, fresh }) as TraceEvent;
const leave = (t: number, s: string) => ev(t, 'router', 'RouterServerLeave', { server: s });
const send = (t: number, c: string, rid: number, digest: string, npkts = 1) =>
  ev(t, c, 'ClientSend', { rid, policy: 'LB_ROUTE', npkts, size: npkts === 1 ? 100 : 3000, digest });
const enqueue = (t: number, c: string, rid: number, queued = 1) => ev(t, 'router', 'RouterEnqueue', { client: c, rid, queued });
const dispatch = (t: number, c: string, rid: number, s: string, outstanding: number) =>
  ev(t, 'router', 'RouterDispatch', { client: c, rid, server: s, outstanding });
const receive = (t: number, s: string, c: string, rid: number, digest: string, npkts = 1) =>
  ev(t, s, 'ServerReceiveRequest', { client: c, rid, npkts, digest });
const reply = (t: number, s: string, c: string, rid: number, digest: string, served: number, n = 1) =>
  ev(t, s, 'ServerReply', { client: c, rid, npkts: 1, digest, served, n });
const accept = (t: number, c: string, rid: number, s: string, digest: string, replyRid = rid) =>
  ev(t, c, 'ClientReceiveReply', { rid, replyRid, server: s, digest });
const feedback = (t: number, s: string, c: string, rid: number, served: number, outstanding: number, form: 'count' | 'slot' = 'count') =>
  ev(t, 'router', 'RouterFeedback', { server: s, client: c, rid, form, n: 1, served, outstanding });
const timeout = (t: number, c: string, rid: number) => ev(t, c, 'ClientTimeout', { rid });
const drop = (t: number, c: string, rid: number) => ev(t, c, 'ClientReceiveDrop', { rid, from: R });
// The testbed's annotations of a node really gone, and back with a fresh core (the checkers take crashes from these).
const crash = (t: number, node: string) => ev(t, node, 'HostCrash', { reason: 'fault' });
const restart = (t: number, node: string) => ev(t, node, 'HostRestart');
const withoutHostEvents = (trace: TraceEvent[]) => trace.filter((e) => !e.action.startsWith('Host'));

/** One full request: send, router, server, reply, FEEDBACK; `served` is the server's count after it. */
function rpc(t: number, c: 'client1' | 'client2', rid: number, s: 'server1' | 'server2', served: number, outstandingAfterDispatch = 1): TraceEvent[] {
  const ca = ADDRS[c];
  const sa = ADDRS[s];
  const d = `req-${c}-${rid}`;
  const r = `rep-${c}-${rid}`;
  return [
    send(t, c, rid, d),
    enqueue(t + 10, ca, rid),
    dispatch(t + 10, ca, rid, sa, outstandingAfterDispatch),
    receive(t + 20, s, ca, rid, d),
    reply(t + 500, s, ca, rid, r, served),
    accept(t + 510, c, rid, sa, r),
    feedback(t + 510, sa, ca, rid, served, outstandingAfterDispatch - 1),
  ];
}

/** A correct run: two servers, two clients, JBSQ(1), a multi-packet request, a DROP, a timeout. */
function correctTrace(): TraceEvent[] {
  const t: TraceEvent[] = [
    announce(0, 'server1'), announce(0, 'server2'), join(10, S1), join(10, S2),
    ...rpc(100, 'client1', 1, 'server1', 1),
    ...rpc(100, 'client2', 1, 'server2', 1),
    // a multi-packet request with ACK and resend
    send(2_000, 'client1', 2, 'req-big', 3), enqueue(2_010, C1, 2), dispatch(2_010, C1, 2, S1, 1),
    ev(2_020, 'server1', 'ServerAck', { client: C1, rid: 2, npkts: 3 }),
    ev(2_030, 'client1', 'ClientReceiveAck', { rid: 2, server: S1 }),
    ev(2_400, 'server1', 'ServerSack', { client: C1, rid: 2, missing: [2] }),
    ev(2_410, 'client1', 'ClientResend', { rid: 2, server: S1, packets: [2] }),
    receive(2_420, 'server1', C1, 2, 'req-big', 3),
    reply(3_000, 'server1', C1, 2, 'rep-big', 2),
    accept(3_010, 'client1', 2, S1, 'rep-big'),
    feedback(3_010, S1, C1, 2, 2, 0),
    // a DROP from a full queue
    send(4_000, 'client2', 2, 'req-x'), ev(4_010, 'router', 'RouterDrop', { client: C2, rid: 2 }), drop(4_020, 'client2', 2),
    // a request whose REQ0 is lost: it times out (timeout 20 ms in a 50 ms run)
    send(5_000, 'client2', 3, 'req-lost'), ev(5_005, 'switch', 'NetDrop', { reason: 'loss' }),
    timeout(5_000 + r2p2Timing(scenario()).timeoutUs, 'client2', 3),
    // a request sent near the end of the run: it may stay pending
    send(49_000, 'client1', 3, 'req-late'),
  ];
  return t;
}

function names(vs: { check: string }[]): string[] {
  return [...new Set(vs.map((v) => v.check))];
}

describe('all checkers on correct traces', () => {
  it('report nothing on a correct run with multi-packet requests, DROP, timeouts and a request pending at the end', () => {
    const trace = correctTrace();
    for (const p of r2p2Properties) expect(p.check(trace, scenario(), ADDRS), p.name).toEqual([]);
  });

  it('report nothing on an empty trace', () => {
    for (const p of r2p2Properties) expect(p.check([], scenario(), ADDRS), p.name).toEqual([]);
  });

  it('have distinct names, each reported as `check`', () => {
    expect(new Set(r2p2Properties.map((p) => p.name)).size).toBe(r2p2Properties.length);
    expect(r2p2Properties.map((p) => p.name).sort()).toEqual(
      ['at-most-one-reply', 'byte-exact-reassembly', 'jbsq-bound', 'no-silent-loss', 'reply-matches-request',
        'server-takes-once', 'serves-after-announce']);
  });
});

describe('reply-matches-request', () => {
  const check = (trace: TraceEvent[]) => replyMatchesRequest.check(trace, scenario(), ADDRS);

  it('fails when the client accepts a reply carrying another rid', () => {
    const trace = [
      ...rpc(100, 'client1', 1, 'server1', 1).slice(0, 5), // rid 1 sent and replied, not yet accepted
      send(200, 'client1', 2, 'req-2'),
      accept(700, 'client1', 2, S1, 'rep-client1-1', 1), // buggy: rid 1's reply completes rid 2
    ];
    const vs = check(trace);
    expect(vs).toHaveLength(1);
    expect(vs[0]).toMatchObject({ check: 'reply-matches-request', events: [6, 5] });
    expect(vs[0]!.message).toMatch(/rid 1 as the reply to its request rid 2/);
  });

  it('fails when the accepted digest is not the one the server sent', () => {
    const trace = rpc(100, 'client1', 1, 'server1', 1);
    trace[5] = accept(610, 'client1', 1, S1, 'corrupted');
    const vs = check(trace);
    expect(vs).toHaveLength(1);
    expect(vs[0]).toMatchObject({ check: 'reply-matches-request', events: [5, 4, 0] });
  });

  it('fails when no server replied to that triplet (or only to another client)', () => {
    const trace = [send(100, 'client1', 1, 'd'), reply(200, 'server1', C2, 1, 'r', 1), accept(300, 'client1', 1, S1, 'r')];
    expect(check(trace)).toMatchObject([{ check: 'reply-matches-request', events: [2, 0] }]);
  });

  it('fails when the reply was sent before the request (a stale reply to an earlier use of the rid)', () => {
    const trace = [reply(50, 'server1', C1, 1, 'r', 1), send(100, 'client1', 1, 'd'), accept(300, 'client1', 1, S1, 'r')];
    expect(check(trace)).toMatchObject([{ check: 'reply-matches-request', events: [2, 1] }]);
  });

  it('fails when the reply comes from a server that did not send it', () => {
    const trace = [send(100, 'client1', 1, 'd'), reply(200, 'server1', C1, 1, 'r', 1), accept(300, 'client1', 1, S2, 'r')];
    expect(check(trace)).toMatchObject([{ check: 'reply-matches-request' }]);
  });

  it('fails on a reply to a request never sent', () => {
    expect(check([accept(300, 'client1', 9, S1, 'r')])).toMatchObject([{ check: 'reply-matches-request', events: [0] }]);
  });

  it('passes when a server replied twice and the client accepted one of them', () => {
    const trace = rpc(100, 'client1', 1, 'server1', 1);
    trace.splice(5, 0, reply(601, 'server1', C1, 1, 'rep-client1-1', 2));
    expect(check(trace)).toEqual([]);
  });
});

describe('jbsq-bound', () => {
  const check = (trace: TraceEvent[], sc = scenario()) => jbsqBound.check(trace, sc, ADDRS);
  const start = [announce(0, 'server1'), join(10, S1)];

  it('fails when the event itself reports more than n outstanding', () => {
    const trace = [...start, dispatch(100, C1, 1, S1, 1), dispatch(110, C1, 2, S1, 2)];
    const vs = check(trace);
    expect(vs).toHaveLength(1);
    expect(vs[0]).toMatchObject({ check: 'jbsq-bound', events: [3] });
  });

  it('fails when the recomputed count exceeds n although the event claims it does not', () => {
    const trace = [...start, dispatch(100, C1, 1, S1, 1), dispatch(110, C1, 2, S1, 1)];
    expect(check(trace)).toMatchObject([{ check: 'jbsq-bound', events: [3, 2] }]);
  });

  it('fails when a duplicated FEEDBACK is counted twice (the router-blind-feedback defect)', () => {
    const trace = [
      ...start,
      dispatch(100, C1, 1, S1, 1), receive(110, 'server1', C1, 1, 'a'), reply(200, 'server1', C1, 1, 'ra', 1),
      feedback(210, S1, C1, 1, 1, 0),
      dispatch(210, C2, 1, S1, 1), receive(220, 'server1', C2, 1, 'b'),
      feedback(230, S1, C1, 1, 2, 0), // the duplicate of rid 1's FEEDBACK, counted as a second serve
      dispatch(230, C1, 2, S1, 1), // the server now has two outstanding requests, n = 1
    ];
    expect(check(trace)).toMatchObject([{ check: 'jbsq-bound', events: [9, 6] }]);
  });

  it('fails with n = 2 when the third request goes to a server with two outstanding', () => {
    const trace = [...start, dispatch(100, C1, 1, S1, 1), dispatch(110, C1, 2, S1, 2), dispatch(120, C1, 3, S1, 2)];
    expect(check(trace, scenario({ n: 2 }))).toMatchObject([{ check: 'jbsq-bound', events: [4, 2, 3] }]);
  });

  it('passes across servers, lost FEEDBACK covered by a later count, and duplicate FEEDBACK ignored', () => {
    const trace = [
      ...start, announce(0, 'server2'), join(10, S2),
      dispatch(100, C1, 1, S1, 1), dispatch(100, C1, 2, S2, 1),
      receive(110, 'server1', C1, 1, 'a'), reply(200, 'server1', C1, 1, 'ra', 1), // its FEEDBACK is lost
      enqueue(300, C2, 1),
      announce(400, 'server1', 1), feedback(410, S1, NOBODY, 0, 1, 0), // the heartbeat's count frees the slot
      dispatch(410, C2, 1, S1, 1),
      receive(420, 'server1', C2, 1, 'b'), reply(500, 'server1', C2, 1, 'rb', 2),
      feedback(510, S1, C2, 1, 2, 0), feedback(520, S1, C2, 1, 2, 0), // duplicated: frees one slot only
      dispatch(530, C1, 3, S1, 1),
    ];
    expect(check(trace)).toEqual([]);
  });

  it('passes with slot-form FEEDBACK, a server that left and rejoined, and a restarted server', () => {
    const trace = [
      ...start,
      dispatch(100, C1, 1, S1, 1), receive(110, 'server1', C1, 1, 'a'), reply(200, 'server1', C1, 1, 'ra', 1),
      feedback(210, S1, C1, 1, 1, 0, 'slot'),
      dispatch(300, C1, 2, S1, 1), // the server crashes with it queued
      crash(1_000, 'server1'), leave(1_500, S1), restart(2_000, 'server1'),
      // the new incarnation announces served 0 after its quiet period: a new account, it holds nothing
      announce(2_500, 'server1', 0), join(2_510, S1, 1, 0, true),
      dispatch(2_520, C1, 3, S1, 1), receive(2_530, 'server1', C1, 3, 'c'), reply(2_600, 'server1', C1, 3, 'rc', 1),
      feedback(2_610, S1, C1, 3, 1, 0),
      // silent for too long: it leaves, then rejoins with its account as it was (served 1, nothing held)
      leave(9_000, S1), announce(9_500, 'server1', 1), join(9_510, S1, 1, 1, false), feedback(9_510, S1, NOBODY, 0, 1, 0),
      dispatch(9_520, C2, 1, S1, 1),
    ];
    expect(check(trace)).toEqual([]);
    // the crash is known from the trace's HostCrash: without it, rid 2 is still held at the first dispatch after the rejoin
    const vs = check(withoutHostEvents(trace));
    expect(names(vs)).toEqual(['jbsq-bound']);
    expect(vs[0]).toMatchObject({ events: [10, 6] });
  });

  it('keeps the dispatches across a leave: a request dispatched before the leave still counts after the rejoin', () => {
    const held = [
      ...start,
      dispatch(100, C1, 1, S1, 1), receive(110, 'server1', C1, 1, 'a'), // then the server is paused, and leaves
      leave(5_000, S1), announce(6_000, 'server1', 0), join(6_000, S1, 1, 0, false), // resumed: the same incarnation rejoins
      feedback(6_000, S1, NOBODY, 0, 0, 1), // its heartbeat, taken as a FEEDBACK: rid 1 is still outstanding
    ];
    // a dispatch that makes two outstanding with n = 1 breaks the bound (whatever the event claims)
    expect(check([...held, dispatch(6_200, C2, 1, S1, 1)])).toMatchObject([{ check: 'jbsq-bound', events: [8, 2] }]);
    // once the pre-leave request is served and its FEEDBACK counted, its slot is free
    expect(check([
      ...held,
      reply(6_100, 'server1', C1, 1, 'ra', 1), feedback(6_100, S1, C1, 1, 1, 0),
      dispatch(6_200, C2, 1, S1, 1),
    ])).toEqual([]);
    // a serve before the leave whose FEEDBACK was lost is acknowledged by the rejoining count, once only
    const before = [
      ...start,
      dispatch(100, C1, 1, S1, 1), receive(110, 'server1', C1, 1, 'a'), reply(200, 'server1', C1, 1, 'ra', 1), // FEEDBACK lost
      leave(5_000, S1), announce(6_000, 'server1', 1), join(6_000, S1, 1, 1, false),
      feedback(6_000, S1, NOBODY, 0, 1, 0),
      dispatch(6_200, C2, 1, S1, 1), dispatch(6_300, C2, 2, S1, 1),
    ];
    expect(check(before.slice(0, -1))).toEqual([]);
    expect(check(before)).toMatchObject([{ check: 'jbsq-bound', events: [10, 9] }]);
  });

  it('catches the router-forgets-on-leave defect: a live server rejoined afresh while it holds a request', () => {
    const trace = [
      ...start,
      dispatch(100, C1, 1, S1, 1), receive(110, 'server1', C1, 1, 'a'), // paused with rid 1 held: it leaves
      leave(5_000, S1), announce(6_000, 'server1', 0),
      join(6_000, S1, 1, 0, true), // buggy: a new account for the same incarnation, counted from zero
      dispatch(6_100, C2, 1, S1, 1), // the router counts 1 outstanding; the server has 2
    ];
    expect(check(trace)).toMatchObject([{ check: 'jbsq-bound', events: [7, 2] }]);
    // scenario faults alone do not make it another incarnation: the trace's HostCrash does
    const faults: Fault[] = [{ at: 1_000, kind: 'crash', node: 'server1' }, { at: 2_000, kind: 'restart', node: 'server1' }];
    expect(check(trace, scenario({ faults }))).toHaveLength(1);
    const restarted = [...trace.slice(0, 4), crash(1_000, 'server1'), restart(2_000, 'server1'), ...trace.slice(4)];
    expect(check(restarted, scenario({ faults }))).toEqual([]);
  });

  it('does not trust a lower count from the same incarnation (reordered FEEDBACK is not a restart)', () => {
    const trace = [
      ...start,
      dispatch(100, C1, 1, S1, 1), receive(110, 'server1', C1, 1, 'a'), reply(200, 'server1', C1, 1, 'ra', 1),
      feedback(210, S1, C1, 1, 1, 0),
      dispatch(220, C1, 2, S1, 1),
      feedback(230, S1, NOBODY, 0, 0, 0), // a stale announce (served 0) overtaken by the FEEDBACK above
      dispatch(240, C1, 3, S1, 1), // the router took it for a restart and forgot rid 2
    ];
    expect(check(trace)).toMatchObject([{ check: 'jbsq-bound', events: [8, 6] }]);
  });

  it('forgets everything when the router crashes', () => {
    const faults: Fault[] = [{ at: 1_000, kind: 'crash', node: 'router' }, { at: 2_000, kind: 'restart', node: 'router' }];
    const trace = [
      ...start, dispatch(100, C1, 1, S1, 1),
      crash(1_000, 'router'), restart(2_000, 'router'),
      announce(2_100, 'server1', 0), join(2_100, S1), // the new router opens a new account
      dispatch(2_200, C1, 2, S1, 1),
    ];
    expect(check(trace, scenario({ faults }))).toEqual([]);
    // the crash is the trace's HostCrash, not the scenario's fault
    expect(check(withoutHostEvents(trace), scenario({ faults }))).toMatchObject([{ check: 'jbsq-bound', events: [5, 2] }]);
  });

  it('is not checked under other policies', () => {
    const trace = [...start, dispatch(100, C1, 1, S1, 1), dispatch(110, C1, 2, S1, 2)];
    expect(check(trace, scenario({ policy: 'random' }))).toEqual([]);
  });
});

describe('no-silent-loss', () => {
  const sc = scenario();
  const { timeoutUs } = r2p2Timing(sc);
  const check = (trace: TraceEvent[], s = sc) => noSilentLoss.check(trace, s, ADDRS);

  it('fails when a request is never completed although its timeout had time to fire', () => {
    const trace = [send(100, 'client1', 1, 'a'), send(200, 'client1', 2, 'b'), timeout(200 + timeoutUs, 'client1', 2)];
    const vs = check(trace);
    expect(vs).toHaveLength(1);
    expect(vs[0]).toMatchObject({ check: 'no-silent-loss', events: [0] });
  });

  it('fails when a request completes twice', () => {
    const trace = rpc(100, 'client1', 1, 'server1', 1);
    trace.push(timeout(100 + timeoutUs, 'client1', 1));
    expect(check(trace)).toMatchObject([{ check: 'no-silent-loss', events: [7, 5, 0] }]);
  });

  it('fails when a completion has no request', () => {
    expect(check([drop(100, 'client1', 4)])).toMatchObject([{ check: 'no-silent-loss', events: [0] }]);
  });

  it('fails when a rid is reused while its request is still pending and never completed', () => {
    const trace = [send(100, 'client1', 1, 'a'), send(30_000, 'client1', 1, 'b'), timeout(30_000 + timeoutUs, 'client1', 1)];
    // the second use completes at 50 000 = end; the first never did
    expect(check(trace)).toMatchObject([{ check: 'no-silent-loss', events: [0] }]);
  });

  it('exempts requests whose timeout could not fire before the end, and those of a crashed client', () => {
    const end = sc.duration;
    const faults: Fault[] = [{ at: 1_000, kind: 'crash', node: 'client2' }, { at: 2_000, kind: 'restart', node: 'client2' }];
    const trace = [
      send(100, 'client2', 1, 'a'), // lost in the crash
      crash(1_000, 'client2'), restart(2_000, 'client2'),
      send(3_000, 'client2', 1, 'b'), drop(3_100, 'client2', 1), // the restarted client reuses rid 1
      send(end - timeoutUs + 1, 'client1', 1, 'c'),
    ];
    expect(check(trace, scenario({ faults }))).toEqual([]);
    // the crash is the trace's HostCrash, not the scenario's fault
    expect(check(withoutHostEvents(trace), scenario({ faults }))).toMatchObject([{ check: 'no-silent-loss', events: [0] }]);
  });

  it('extends the deadline by the time the client was paused', () => {
    const faults: Fault[] = [{ at: 1_000, kind: 'pause', node: 'client1', duration: 30_000 }];
    const trace = [send(100, 'client1', 1, 'a')];
    expect(check(trace, scenario({ faults }))).toEqual([]);
    expect(check(trace)).toHaveLength(1);
  });
});

describe('byte-exact-reassembly', () => {
  const check = (trace: TraceEvent[]) => byteExactReassembly.check(trace, scenario(), ADDRS);

  it('fails when the server assembles other bytes than the client sent', () => {
    const trace = [send(100, 'client1', 1, 'good', 3), receive(300, 'server1', C1, 1, 'scrambled', 3)];
    const vs = check(trace);
    expect(vs).toHaveLength(1);
    expect(vs[0]).toMatchObject({ check: 'byte-exact-reassembly', events: [1, 0] });
  });

  it('fails when the packet count differs', () => {
    const trace = [send(100, 'client1', 1, 'good', 3), receive(300, 'server1', C1, 1, 'good', 2)];
    expect(check(trace)).toMatchObject([{ check: 'byte-exact-reassembly', events: [1, 0] }]);
  });

  it('fails when the request was never sent by that client (e.g. attributed to the wrong client)', () => {
    const trace = [send(100, 'client1', 1, 'good'), receive(300, 'server1', C2, 1, 'good')];
    expect(check(trace)).toMatchObject([{ check: 'byte-exact-reassembly', events: [1] }]);
  });

  it('passes on duplicated receipt of the same bytes', () => {
    const trace = [send(100, 'client1', 1, 'good', 3), receive(300, 'server1', C1, 1, 'good', 3), receive(400, 'server2', C1, 1, 'good', 3)];
    expect(check(trace)).toEqual([]);
  });
});

describe('at-most-one-reply', () => {
  const check = (trace: TraceEvent[], sc = scenario()) => atMostOneReply.check(trace, sc, ADDRS);

  it('fails when a server replies twice to one receipt', () => {
    const trace = rpc(100, 'client1', 1, 'server1', 1);
    trace.splice(5, 0, reply(500, 'server1', C1, 1, 'rep-client1-1', 1));
    const vs = check(trace);
    expect(vs).toHaveLength(1);
    expect(vs[0]).toMatchObject({ check: 'at-most-one-reply', events: [5, 4] });
  });

  it('fails when a server replies to a request it never received', () => {
    expect(check([reply(500, 'server1', C1, 1, 'r', 1)])).toMatchObject([{ check: 'at-most-one-reply', events: [0] }]);
  });

  it('fails when a restarted server replies to a request only its previous incarnation received', () => {
    const faults: Fault[] = [{ at: 1_000, kind: 'crash', node: 'server1' }, { at: 2_000, kind: 'restart', node: 'server1' }];
    const trace = [
      receive(500, 'server1', C1, 1, 'a'), crash(1_000, 'server1'), restart(2_000, 'server1'),
      reply(3_000, 'server1', C1, 1, 'r', 1),
    ];
    expect(check(trace, scenario({ faults }))).toMatchObject([{ check: 'at-most-one-reply', events: [3] }]);
    // without the trace's HostCrash it is the same incarnation, whatever the scenario's faults
    expect(check(withoutHostEvents(trace), scenario({ faults }))).toEqual([]);
  });

  it('allows one reply per receipt (a request received twice, e.g. by two servers or again later: server-takes-once forbids the latter)', () => {
    const trace = [
      receive(100, 'server1', C1, 1, 'a'), reply(200, 'server1', C1, 1, 'r', 1),
      receive(300, 'server1', C1, 1, 'a'), reply(400, 'server1', C1, 1, 'r', 2),
      receive(100, 'server2', C1, 1, 'a'), reply(200, 'server2', C1, 1, 'r', 1),
    ];
    expect(check(trace)).toEqual([]);
  });
});

describe('server-takes-once', () => {
  const check = (trace: TraceEvent[]) => serverTakesOnce.check(trace, scenario(), ADDRS);

  it('fails when a server takes a duplicated REQ0 of a request it already served', () => {
    const trace = [...rpc(100, 'client1', 1, 'server1', 1), receive(700, 'server1', C1, 1, 'req-client1-1'), reply(900, 'server1', C1, 1, 'r', 2)];
    expect(check(trace)).toMatchObject([{ check: 'server-takes-once', events: [7, 3] }]);
    // while the first copy is still queued, too
    expect(check([receive(100, 'server1', C1, 1, 'a'), receive(110, 'server1', C1, 1, 'a')])).toMatchObject([{ events: [1, 0] }]);
  });

  it('passes when the copies go to two servers, to two rids or clients, or to a new incarnation after a crash', () => {
    expect(check([receive(100, 'server1', C1, 1, 'a'), receive(100, 'server2', C1, 1, 'a'),
      receive(200, 'server1', C1, 2, 'b'), receive(200, 'server1', C2, 1, 'c')])).toEqual([]);
    const restarted = [receive(100, 'server1', C1, 1, 'a'), crash(1_000, 'server1'), restart(2_000, 'server1'),
      announce(3_000, 'server1'), receive(3_100, 'server1', C1, 1, 'a')];
    expect(check(restarted)).toEqual([]);
    // without the trace's HostCrash it is the same incarnation
    expect(check(withoutHostEvents(restarted))).toMatchObject([{ check: 'server-takes-once' }]);
  });

  it('lets a rid come back after the dedupe window (16-bit rids wrap), not before', () => {
    const others = Array.from({ length: SERVER_DEDUPE_WINDOW - 1 }, (_, k) => receive(200 + k, 'server1', C2, k + 1, 'x'));
    const first = receive(100, 'server1', C1, 1, 'a');
    const again = receive(100_000, 'server1', C1, 1, 'a');
    expect(check([first, ...others, again])).toHaveLength(1);
    expect(check([first, ...others, receive(99_000, 'server1', C2, 0, 'x'), again])).toEqual([]);
  });
});

describe('serves-after-announce', () => {
  const check = (trace: TraceEvent[]) => servesAfterAnnounce.check(trace, scenario(), ADDRS);

  it('fails when a restarted server takes a request before its new incarnation announced itself', () => {
    const trace = [
      announce(0, 'server1'), receive(100, 'server1', C1, 1, 'a'), crash(1_000, 'server1'), restart(2_000, 'server1'),
      receive(2_100, 'server1', C1, 2, 'b'), announce(5_000, 'server1'), receive(5_100, 'server1', C1, 3, 'c'),
    ];
    const vs = check(trace);
    expect(vs).toMatchObject([{ check: 'serves-after-announce', events: [4, 2] }]);
    expect(vs[0]!.message).toMatch(/after its crash/);
  });

  it('fails on any serving step before the first announce, and on a reply of the crashed incarnation after the crash', () => {
    expect(check([ev(10, 'server1', 'ServerAck', { client: C1, rid: 1, npkts: 2 })])).toMatchObject([{ events: [0] }]);
    expect(check([announce(0, 'server1'), receive(100, 'server1', C1, 1, 'a'), crash(1_000, 'server1'),
      reply(1_500, 'server1', C1, 1, 'r', 1)])).toMatchObject([{ events: [3, 2] }]);
  });

  it('passes when every incarnation announces before it serves', () => {
    const trace = [
      announce(0, 'server1'), receive(100, 'server1', C1, 1, 'a'), reply(200, 'server1', C1, 1, 'r', 1),
      crash(1_000, 'server1'), restart(2_000, 'server1'), announce(5_000, 'server1'), receive(5_100, 'server1', C1, 2, 'b'),
    ];
    expect(check(trace)).toEqual([]);
  });
});

describe('every checker can fail (rule 5)', () => {
  it('each checker reports its own name on some defect of the correct trace', () => {
    const base = correctTrace();
    const mutations: Record<string, (t: TraceEvent[]) => TraceEvent[]> = {
      'reply-matches-request': (t) => t.map((e) => (e.action === 'ClientReceiveReply' && e['rid'] === 2 ? { ...e, replyRid: 7 } : e)),
      'jbsq-bound': (t) => [...t, dispatch(49_500, C1, 3, S1, 1), dispatch(49_600, C2, 4, S1, 1)],
      'no-silent-loss': (t) => t.filter((e) => e.action !== 'ClientTimeout'),
      'byte-exact-reassembly': (t) => t.map((e) => (e.action === 'ServerReceiveRequest' && e['rid'] === 2 ? { ...e, digest: 'x' } : e)),
      'at-most-one-reply': (t) => t.flatMap((e) => (e.action === 'ServerReply' ? [e, e] : [e])),
      'server-takes-once': (t) => t.flatMap((e) => (e.action === 'ServerReceiveRequest' && e['rid'] === 2 ? [e, e] : [e])),
      'serves-after-announce': (t) => t.filter((e) => e.action !== 'ServerAnnounce'),
    };
    for (const p of r2p2Properties) {
      const mutate = mutations[p.name]!;
      const vs = p.check(mutate(base), scenario(), ADDRS);
      expect(names(vs), p.name).toEqual([p.name]);
      for (const v of vs) for (const i of v.events ?? []) expect(i).toBeLessThan(mutate(base).length);
    }
  });
});
