import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createActor, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { R2P2_ACTIONS, type R2p2ActionName, type R2p2Actions } from '../../impl/r2p2/actions.ts';
import { machineEventTypes } from '../../harness/monitor/monitor.ts';
import type { Violation } from '../../harness/protocol.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import type { ClientEvent } from './client.ts';
import { clientMachine, createR2p2Monitor, r2p2Machines, routerMachine, serverMachine, type R2p2MonitorConfig } from './index.ts';

// ---- a small run: one client, two servers, a JBSQ(2) router with a queue of 2 ----

const C = '10.0.0.2:7000';
const S1 = '10.0.0.3:8000';
const S2 = '10.0.0.4:8000';
const R = '10.0.0.1:9000';

const CONFIG: R2p2MonitorConfig = {
  router: { policy: 'jbsq', n: 2, queueCap: 2 },
  roles: { client1: 'client', server1: 'server', server2: 'server', router: 'router' },
};

let clock = 0;
/** An event in the exact catalog shape (the type checks the fields against `actions.ts`). */
function ev<A extends R2p2ActionName>(node: string, action: A, fields: R2p2Actions[A]): TraceEvent {
  return { t: (clock += 10), node, action, ...fields } as unknown as TraceEvent;
}

/** Feeds a trace to a fresh monitor; returns the violations and the monitor. */
function run(trace: readonly TraceEvent[], config: R2p2MonitorConfig = CONFIG) {
  const monitor = createR2p2Monitor(config);
  const violations: Violation[] = [];
  trace.forEach((e, i) => {
    const v = monitor.observe(i, e);
    if (v) violations.push(v);
  });
  violations.push(...monitor.finish());
  return { violations, monitor };
}

/** Expects exactly one violation, at the last event of the trace. */
function expectRejectsLast(trace: readonly TraceEvent[], pattern: RegExp, config?: R2p2MonitorConfig): Violation {
  const { violations } = run(trace, config);
  expect(violations).toHaveLength(1);
  expect(violations[0]).toMatchObject({ check: 'monitor', events: [trace.length - 1] });
  expect(violations[0]!.message).toMatch(pattern);
  return violations[0]!;
}

const startup = (): TraceEvent[] => [
  ev('server1', 'ServerAnnounce', { router: R, n: 2, served: 0 }),
  ev('router', 'RouterServerJoin', { server: S1, n: 2 }),
  ev('server2', 'ServerAnnounce', { router: R, n: 2, served: 0 }),
  ev('router', 'RouterServerJoin', { server: S2, n: 2 }),
];

/** A single-packet request rid 1 served by server1, up to the reply leaving the server. */
const singleServed = (): TraceEvent[] => [
  ...startup(),
  ev('client1', 'ClientSend', { rid: 1, policy: 'LB_ROUTE', npkts: 1, size: 100, digest: 'q1' }),
  ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }),
  ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 }),
  ev('server1', 'ServerReceiveRequest', { client: C, rid: 1, npkts: 1, digest: 'q1' }),
  ev('server1', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 1, n: 2 }),
];

const validRun = (): TraceEvent[] => [
  ...singleServed(),
  { t: (clock += 1), node: 'switch', action: 'NetDuplicate', src: S1, dst: C },
  ev('client1', 'ClientReceiveReply', { rid: 1, replyRid: 1, server: S1, digest: 'r1' }),
  ev('router', 'RouterFeedback', { server: S1, client: C, rid: 1, form: 'count', n: 2, served: 1, outstanding: 0 }),

  // A 3-packet request: REQ0 via the router, ACK from server1, REQ1..2 streamed, packet 2 SACKed.
  ev('client1', 'ClientSend', { rid: 2, policy: 'LB_ROUTE', npkts: 3, size: 3000, digest: 'q2' }),
  ev('router', 'RouterEnqueue', { client: C, rid: 2, queued: 1 }),
  ev('router', 'RouterDispatch', { client: C, rid: 2, server: S1, outstanding: 1 }),
  ev('server1', 'ServerAck', { client: C, rid: 2, npkts: 3 }),
  ev('client1', 'ClientReceiveAck', { rid: 2, server: S1 }),
  ev('client1', 'ClientReceiveAck', { rid: 2, server: S1 }), // a duplicated ACK
  ev('server1', 'ServerSack', { client: C, rid: 2, missing: [2] }),
  ev('client1', 'ClientResend', { rid: 2, server: S1, packets: [2] }),
  ev('server1', 'ServerReceiveRequest', { client: C, rid: 2, npkts: 3, digest: 'q2' }),
  ev('server1', 'ServerReply', { client: C, rid: 2, npkts: 1, digest: 'r2', served: 2, n: 2 }),
  ev('client1', 'ClientReceiveReply', { rid: 2, replyRid: 2, server: S1, digest: 'r2' }),
  ev('router', 'RouterFeedback', { server: S1, client: C, rid: 2, form: 'count', n: 2, served: 2, outstanding: 0 }),

  // Three requests at once: two queued, the third meets a full queue and is dropped.
  ev('client1', 'ClientSend', { rid: 3, policy: 'LB_ROUTE', npkts: 1, size: 10, digest: 'q3' }),
  ev('client1', 'ClientSend', { rid: 4, policy: 'LB_ROUTE', npkts: 1, size: 10, digest: 'q4' }),
  ev('client1', 'ClientSend', { rid: 5, policy: 'LB_ROUTE', npkts: 1, size: 10, digest: 'q5' }),
  ev('router', 'RouterEnqueue', { client: C, rid: 3, queued: 1 }),
  ev('router', 'RouterEnqueue', { client: C, rid: 4, queued: 2 }),
  ev('router', 'RouterDrop', { client: C, rid: 5 }),
  ev('client1', 'ClientReceiveDrop', { rid: 5, from: R }),
  ev('router', 'RouterDispatch', { client: C, rid: 3, server: S1, outstanding: 1 }),
  ev('router', 'RouterDispatch', { client: C, rid: 4, server: S2, outstanding: 1 }),
  ev('server1', 'ServerReceiveRequest', { client: C, rid: 3, npkts: 1, digest: 'q3' }),
  ev('server2', 'ServerReceiveRequest', { client: C, rid: 4, npkts: 1, digest: 'q4' }),
  ev('server1', 'ServerReply', { client: C, rid: 3, npkts: 1, digest: 'r3', served: 3, n: 2 }),
  ev('client1', 'ClientReceiveReply', { rid: 3, replyRid: 3, server: S1, digest: 'r3' }),
  ev('client1', 'ClientTimeout', { rid: 4 }), // server2 is slow: the client gives up
  ev('server2', 'ServerReply', { client: C, rid: 4, npkts: 1, digest: 'r4', served: 1, n: 2 }),
  ev('server2', 'ServerAnnounce', { router: R, n: 2, served: 1 }), // heartbeat

  // A multi-packet request whose REQn never arrive: server2 garbage-collects it.
  ev('client1', 'ClientSend', { rid: 6, policy: 'LB_ROUTE', npkts: 2, size: 1500, digest: 'q6' }),
  ev('router', 'RouterEnqueue', { client: C, rid: 6, queued: 1 }),
  ev('router', 'RouterDispatch', { client: C, rid: 6, server: S1, outstanding: 2 }),
  ev('server1', 'ServerAck', { client: C, rid: 6, npkts: 2 }),
  ev('server1', 'ServerGc', { client: C, rid: 6 }),
  ev('client1', 'ClientTimeout', { rid: 6 }),

  // server1 restarts and stays quiet past the router's leaveAfterUs: the router forgets it (and
  // server2, silent too); then it announces (served 0) and rejoins afresh.
  ev('router', 'RouterServerLeave', { server: S1 }),
  ev('router', 'RouterServerLeave', { server: S2 }),
  ev('server1', 'ServerAnnounce', { router: R, n: 2, served: 0 }),
  ev('router', 'RouterServerJoin', { server: S1, n: 2 }),
  ev('router', 'RouterFeedback', { server: S1, client: '0.0.0.0:0', rid: 0, form: 'count', n: 2, served: 0, outstanding: 0 }),
];

describe('R2P2 monitor: valid traces', () => {
  it('accepts a run with single- and multi-packet requests, drops, timeouts, GC, restart and leave', () => {
    const { violations, monitor } = run(validRun());
    expect(violations).toEqual([]);
    const state = (key: string) => monitor.actors().get(key)!.getSnapshot().value;
    expect(state('client:client1:1')).toBe('succeeded');
    expect(state('client:client1:2')).toBe('succeeded');
    expect(state('client:client1:4')).toBe('timedOut');
    expect(state('client:client1:5')).toBe('dropped');
    expect(monitor.actors().get('server:server1')!.getSnapshot().context).toMatchObject({ served: 0, restarts: 1 });
  });

  it('leaves pending requests alone at the end of a run', () => {
    const trace = singleServed().slice(0, 6); // sent and enqueued, never answered
    expect(run(trace).violations).toEqual([]);
  });

  it('accepts a server answering a REQ0 the network duplicated, once per copy', () => {
    const trace = [
      ...startup(),
      ev('client1', 'ClientSend', { rid: 1, policy: 'LB_ROUTE', npkts: 1, size: 100, digest: 'q1' }),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 2 }),
      ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 }),
      ev('router', 'RouterDispatch', { client: C, rid: 1, server: S2, outstanding: 1 }),
      ev('server1', 'ServerReceiveRequest', { client: C, rid: 1, npkts: 1, digest: 'q1' }),
      ev('server1', 'ServerReceiveRequest', { client: C, rid: 1, npkts: 1, digest: 'q1' }),
      ev('server1', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 1, n: 2 }),
      ev('server1', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 2, n: 2 }),
      ev('client1', 'ClientReceiveReply', { rid: 1, replyRid: 1, server: S1, digest: 'r1' }),
    ];
    expect(run(trace).violations).toEqual([]);
  });

  it('lets a client reuse a rid once the request ended (16-bit wrap) and after a restart', () => {
    const send = ev('client1', 'ClientSend', { rid: 9, policy: 'LB_ROUTE', npkts: 1, size: 1, digest: 'q' });
    const { violations, monitor } = run([send, ev('client1', 'ClientTimeout', { rid: 9 }), send]);
    expect(violations).toEqual([]);
    expect(monitor.observe(3, send)).toBeDefined(); // still in flight: not a new request
    monitor.nodeRestarted('client1');
    expect(monitor.observe(4, send)).toBeUndefined();
  });
});

describe('R2P2 monitor: invalid traces', () => {
  it('client: reply whose packets carry another rid', () => {
    expectRejectsLast([...singleServed(),
      ev('client1', 'ClientReceiveReply', { rid: 1, replyRid: 2, server: S1, digest: 'r1' })], /r2p2-client .*sent.*replyRid/);
  });

  it('client: an event after a terminal state', () => {
    const v = expectRejectsLast([...singleServed(),
      ev('client1', 'ClientReceiveReply', { rid: 1, replyRid: 1, server: S1, digest: 'r1' }),
      ev('client1', 'ClientTimeout', { rid: 1 })], /client:client1:1\) in state succeeded \[done\] cannot take ClientTimeout/);
    expect(v.message).toContain('r2p2-client');
  });

  it('client: a second completion (duplicated reply acted on twice)', () => {
    const reply = ev('client1', 'ClientReceiveReply', { rid: 1, replyRid: 1, server: S1, digest: 'r1' });
    expectRejectsLast([...singleServed(), reply, reply], /succeeded/);
  });

  it('client: ACK of a single-packet request, and an event for a request never sent', () => {
    expectRejectsLast([...singleServed(), ev('client1', 'ClientReceiveAck', { rid: 1, server: S1 })], /sent cannot take ClientReceiveAck/);
    expectRejectsLast([ev('client1', 'ClientTimeout', { rid: 77 })], /idle cannot take ClientTimeout/);
  });

  it('client: streaming to a second server, or resending packets outside the request', () => {
    const base = [
      ev('client1', 'ClientSend', { rid: 2, policy: 'LB_ROUTE', npkts: 3, size: 3000, digest: 'q2' }),
      ev('client1', 'ClientReceiveAck', { rid: 2, server: S1 }),
    ];
    expectRejectsLast([...base, ev('client1', 'ClientReceiveAck', { rid: 2, server: S2 })], /streaming/);
    expectRejectsLast([...base, ev('client1', 'ClientResend', { rid: 2, server: S1, packets: [3] })], /streaming/);
    expectRejectsLast([...base.slice(0, 1), ev('client1', 'ClientResend', { rid: 2, server: S1, packets: [1] })], /sent/);
  });

  it('server: replying twice to one request', () => {
    expectRejectsLast([...singleServed(),
      ev('server1', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 2, n: 2 })], /r2p2-server .*running.*ServerReply/);
  });

  it('server: served must rise by exactly one per reply', () => {
    const trace = singleServed();
    trace[trace.length - 1] = ev('server1', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 2, n: 2 });
    expectRejectsLast(trace, /ServerReply/);
  });

  it('server: after a restart it cannot answer a request received before the crash', () => {
    const trace = singleServed().slice(0, -1);
    trace.push(
      ev('server1', 'ServerReceiveRequest', { client: C, rid: 7, npkts: 1, digest: 'q7' }),
      ev('server1', 'ServerReply', { client: C, rid: 7, npkts: 1, digest: 'r7', served: 1, n: 2 }),
      ev('server1', 'ServerAnnounce', { router: R, n: 2, served: 0 }), // restart
      ev('server1', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 1, n: 2 }),
    );
    expectRejectsLast(trace, /ServerReply/);
  });

  it('server: a heartbeat with a wrong served count, requests before the announce, reassembly steps out of order', () => {
    expectRejectsLast([...singleServed(), ev('server1', 'ServerAnnounce', { router: R, n: 2, served: 5 })], /ServerAnnounce/);
    expectRejectsLast([ev('server1', 'ServerReceiveRequest', { client: C, rid: 1, npkts: 1, digest: 'q' })], /unannounced/);
    expectRejectsLast([...startup(), ev('server1', 'ServerReceiveRequest', { client: C, rid: 2, npkts: 3, digest: 'q' })], /ServerReceiveRequest/);
    expectRejectsLast([...startup(), ev('server1', 'ServerSack', { client: C, rid: 2, missing: [1] })], /ServerSack/);
    expectRejectsLast([...startup(), ev('server1', 'ServerGc', { client: C, rid: 2 })], /ServerGc/);
  });

  it('router: dispatch beyond the JBSQ bound', () => {
    const config: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jbsq', n: 1, queueCap: 4 } };
    expectRejectsLast([
      ev('router', 'RouterServerJoin', { server: S1, n: 4 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 2, queued: 2 }),
      ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 }),
      ev('router', 'RouterDispatch', { client: C, rid: 2, server: S1, outstanding: 2 }),
    ], /r2p2-router .*routing.*RouterDispatch/, config);
  });

  it('router: the same dispatch is fine under a policy without a bound', () => {
    const config: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'random', n: 1, queueCap: 4 } };
    const trace = [
      ev('router', 'RouterServerJoin', { server: S1, n: 4 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 2, queued: 2 }),
      ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 }),
      ev('router', 'RouterDispatch', { client: C, rid: 2, server: S1, outstanding: 2 }),
    ];
    expect(run(trace, config).violations).toEqual([]);
  });

  it('router: JBSQ picks a server with the fewest outstanding', () => {
    expectRejectsLast([...startup(),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 2, queued: 2 }),
      ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 }),
      ev('router', 'RouterDispatch', { client: C, rid: 2, server: S1, outstanding: 2 }),
    ], /RouterDispatch/);
  });

  it('router: exact Out(s) — a served count from before a leave counts against a later dispatch', () => {
    // server1 serves rid 1 and 2 (count form) in a first membership, leaves, rejoins; FEEDBACK of
    // rid 2 (served 2) arrives late, after rid 3 was dispatched in the new membership.
    const q = (rid: number, queued = 1) => ev('router', 'RouterEnqueue', { client: C, rid, queued });
    const d = (rid: number, outstanding: number) => ev('router', 'RouterDispatch', { client: C, rid, server: S1, outstanding });
    const fb = (rid: number, served: number, outstanding: number) =>
      ev('router', 'RouterFeedback', { server: S1, client: C, rid, form: 'count', n: 2, served, outstanding });
    const pre = [
      ev('router', 'RouterServerJoin', { server: S1, n: 2 }),
      q(1), d(1, 1), q(2), d(2, 2), fb(1, 1, 1),
      ev('router', 'RouterServerLeave', { server: S1 }),
      ev('router', 'RouterServerJoin', { server: S1, n: 2 }),
      q(3), d(3, 1),
      fb(2, 2, 0), // Out = max(0, 1 − (2 − 0)) = 0
    ];
    // The next dispatch reports Out + 1 = 1, not the old machine's previous + 1 = 2.
    expect(run([...pre, q(4), d(4, 1), q(5, 1), d(5, 2)], { ...CONFIG, router: { policy: 'jbsq', n: 2, queueCap: 4 } }).violations).toEqual([]);
    expectRejectsLast([...pre, q(4), d(4, 2)], /RouterDispatch/);
    // Before that FEEDBACK the count is exact too: rid 4 would be the second outstanding request.
    expectRejectsLast([...pre.slice(0, -1), q(4), d(4, 1)], /RouterDispatch/);
    // Counts must match exactly at FEEDBACK: no join base makes Out 2 with one dispatch. (Out 1
    // would fit: the rejoin might have been by a late FEEDBACK with served 2, base 2.)
    expectRejectsLast([...pre.slice(0, -1), fb(2, 2, 2)], /RouterFeedback/);
    expect(run([...pre.slice(0, -1), fb(2, 2, 1)]).violations).toEqual([]);
    // A stale, lower served count changes nothing (no reset).
    expect(run([...pre, fb(1, 1, 0)]).violations).toEqual([]);
    expectRejectsLast([...pre.slice(0, 5), fb(1, 1, 1), fb(0, 0, 0)], /RouterFeedback/);
  });

  it('router: an unknown join base is narrowed by the events (router restarted, servers did not)', () => {
    const q = (rid: number, queued = 1) => ev('router', 'RouterEnqueue', { client: C, rid, queued });
    const d = (rid: number, outstanding: number) => ev('router', 'RouterDispatch', { client: C, rid, server: S1, outstanding });
    const fb = (rid: number, served: number, outstanding: number) =>
      ev('router', 'RouterFeedback', { server: S1, client: C, rid, form: 'count', n: 2, served, outstanding });
    // Joined with base 10: the first served count 11 leaves 0 outstanding (a base of 0 would leave 0
    // too — both fit); the base is then pinned by a count that only one base explains.
    const pre = [ev('router', 'RouterServerJoin', { server: S1, n: 2 }), q(1), d(1, 1), q(2), d(2, 2)];
    expect(run([...pre, fb(1, 11, 1)]).violations).toEqual([]); // base 10
    expect(run([...pre, fb(1, 1, 1)]).violations).toEqual([]); // base 0
    expectRejectsLast([...pre, fb(1, 11, 1), fb(2, 13, 1)], /RouterFeedback/); // 13 − 10 = 3 served: Out 0
    expect(run([...pre, fb(1, 11, 1), fb(2, 12, 0)]).violations).toEqual([]);
  });

  it('router: slot-form FEEDBACK frees a slot once, only for a request holding one', () => {
    const slot = (rid: number, outstanding: number) =>
      ev('router', 'RouterFeedback', { server: S1, client: C, rid, form: 'slot', n: 2, served: 0, outstanding });
    const pre = [...startup(),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }),
      ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 2, queued: 1 }),
      ev('router', 'RouterDispatch', { client: C, rid: 2, server: S2, outstanding: 1 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 3, queued: 1 }),
      ev('router', 'RouterDispatch', { client: C, rid: 3, server: S1, outstanding: 2 }),
    ];
    expect(run([...pre, slot(1, 1), slot(1, 1), slot(3, 0)]).violations).toEqual([]);
    expectRejectsLast([...pre, slot(1, 1), slot(1, 0)], /RouterFeedback/); // a duplicate frees nothing
    expectRejectsLast([...pre, slot(2, 1)], /RouterFeedback/); // rid 2 is at server2
  });

  it('router: drop with a queue that is not full', () => {
    expectRejectsLast([...startup(),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }),
      ev('router', 'RouterDrop', { client: C, rid: 2 })], /RouterDrop/);
  });

  it('router: wrong queue counts, dispatch out of order, to an unknown server, with a wrong count', () => {
    const q = [...startup(), ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 })];
    expectRejectsLast([...q, ev('router', 'RouterEnqueue', { client: C, rid: 2, queued: 1 })], /RouterEnqueue/);
    expectRejectsLast([...q, ev('router', 'RouterEnqueue', { client: C, rid: 2, queued: 2 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 3, queued: 3 })], /RouterEnqueue/); // beyond queueCap 2
    expectRejectsLast([...q, ev('router', 'RouterEnqueue', { client: C, rid: 2, queued: 2 }),
      ev('router', 'RouterDispatch', { client: C, rid: 2, server: S1, outstanding: 1 })], /RouterDispatch/);
    expectRejectsLast([...q, ev('router', 'RouterDispatch', { client: C, rid: 1, server: '10.0.0.9:8000', outstanding: 1 })], /RouterDispatch/);
    expectRejectsLast([...q, ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 2 })], /RouterDispatch/);
    expectRejectsLast([ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 })], /RouterDispatch/);
  });

  it('router: joins, leaves and feedback must agree with the eligible set', () => {
    expectRejectsLast([...startup(), ev('router', 'RouterServerJoin', { server: S1, n: 2 })], /RouterServerJoin/);
    expectRejectsLast([ev('router', 'RouterServerLeave', { server: S1 })], /RouterServerLeave/);
    expectRejectsLast([ev('router', 'RouterFeedback', { server: S1, client: C, rid: 1, form: 'slot', n: 2, served: 1, outstanding: 0 })], /RouterFeedback/);
    expectRejectsLast([...singleServed(),
      ev('router', 'RouterFeedback', { server: S1, client: C, rid: 1, form: 'slot', n: 2, served: 1, outstanding: 2 })], /RouterFeedback/);
    expectRejectsLast([...singleServed(),
      ev('router', 'RouterFeedback', { server: S1, client: C, rid: 1, form: 'count', n: 2, served: 1, outstanding: 2 })], /RouterFeedback/);
  });

  it('an unknown action, and an action by a node of the wrong role or not in the run', () => {
    const unknown: TraceEvent = { t: 1, node: 'client1', action: 'ClientExplode', rid: 1 };
    expectRejectsLast([unknown], /no machine knows action ClientExplode/);
    expectRejectsLast([ev('server1', 'ClientSend', { rid: 1, policy: 'LB_ROUTE', npkts: 1, size: 1, digest: 'q' })],
      /ClientSend is a client action but node server1 is a server/);
    expectRejectsLast([ev('client9', 'ClientTimeout', { rid: 1 })], /node client9, which is not in the run/);
  });
});

// ---- the machines against the action catalog and the spec ----

function leafStateIds(machine: AnyStateMachine): string[] {
  const out: string[] = [];
  const walk = (node: AnyStateNode): void => {
    const children = Object.values(node.states);
    if (children.length === 0) out.push(node.path.join('.'));
    children.forEach(walk);
  };
  walk(machine.root);
  return out;
}

/** The names not defined as operators (`Name(args) ==` or `Name ==` at the start of a line). */
function missingOperators(tla: string, names: readonly string[]): string[] {
  return names.filter((name) => !new RegExp(`^${name}\\s*(\\(|==)`, 'm').test(tla));
}

describe('names are shared', () => {
  const accepted = r2p2Machines.map((m) => [...machineEventTypes(m)]);

  it('every event a machine takes is an R2P2 action, and each action is taken by exactly one machine', () => {
    const all = accepted.flat();
    for (const type of all) expect(R2P2_ACTIONS).toContain(type);
    expect([...all].sort()).toEqual([...R2P2_ACTIONS].sort());
  });

  it('the operator regex finds `Name(` and `Name ==` definitions only at the start of a line', () => {
    const tla = 'ClientSend(c, r) ==\n  /\\ x\' = 1\nClientTimeout ==\n  \\E r: ServerGc(r)\n';
    expect(missingOperators(tla, ['ClientSend', 'ClientTimeout', 'ServerGc'])).toEqual(['ServerGc']);
  });

  const tlaPath = fileURLToPath(new URL('../../specs/r2p2/R2P2.tla', import.meta.url));
  it.skipIf(!existsSync(tlaPath))('every R2P2 action is an operator of specs/r2p2/R2P2.tla', () => {
    const tla = readFileSync(tlaPath, 'utf8');
    expect(missingOperators(tla, R2P2_ACTIONS)).toEqual([]);
  });
});

describe('every state is reachable (xstate/graph)', () => {
  it('client', () => {
    const events: ClientEvent[] = [
      { type: 'ClientSend', rid: 1, policy: 'LB_ROUTE', npkts: 1, size: 1, digest: 'q' },
      { type: 'ClientSend', rid: 1, policy: 'LB_ROUTE', npkts: 3, size: 3000, digest: 'q' },
      { type: 'ClientReceiveAck', rid: 1, server: S1 },
      { type: 'ClientResend', rid: 1, server: S1, packets: [1] },
      { type: 'ClientReceiveReply', rid: 1, replyRid: 1, server: S1, digest: 'r' },
      { type: 'ClientReceiveDrop', rid: 1, from: R },
      { type: 'ClientTimeout', rid: 1 },
    ];
    const paths = getShortestPaths(clientMachine, {
      input: { node: 'client1', rid: 1 },
      events,
      serializeState: (s) => JSON.stringify([s.value, s.context.npkts, s.context.server]),
    });
    const reached = new Set(paths.map((p) => String(p.state.value)));
    expect([...reached].sort()).toEqual(leafStateIds(clientMachine).sort());
  });

  it('server and router', () => {
    const server = getShortestPaths(serverMachine, {
      input: { node: 'server1' },
      events: [{ type: 'ServerAnnounce', router: R, n: 2, served: 0 }],
    });
    expect(new Set(server.map((p) => String(p.state.value)))).toEqual(new Set(leafStateIds(serverMachine)));
    const router = getShortestPaths(routerMachine, { input: { policy: 'jbsq', n: 2, queueCap: 2 }, events: [] });
    expect(new Set(router.map((p) => String(p.state.value)))).toEqual(new Set(leafStateIds(routerMachine)));
  });

  it('a machine taking a catalog event directly (without the monitor)', () => {
    const actor = createActor(clientMachine, { input: { node: 'client1', rid: 4 } }).start();
    actor.send({ type: 'ClientSend', rid: 4, policy: 'FIXED_ROUTE', npkts: 1, size: 8, digest: 'q' });
    actor.send({ type: 'ClientReceiveReply', rid: 4, replyRid: 4, server: S2, digest: 'r' });
    expect(actor.getSnapshot().status).toBe('done');
  });
});
