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
import type { RouterContext, ServerView } from './router.ts';
import { SERVER_DEDUPE_WINDOW } from './events.ts';
import { RECENT_CAP } from '../../impl/r2p2/server.ts';
import type { CoreOutput } from '../../impl/core.ts';
import { Rng } from '../../impl/rng.ts';
import { ZERO_ADDR, feedbackPacket, split } from '../../impl/r2p2/codec.ts';
import { R2p2Router } from '../../impl/r2p2/router.ts';

// ---- a small run: one client, two servers, a JBSQ(2) router with a queue of 2 ----

const C = '10.0.0.2:7000';
const C2 = '10.0.0.5:7000';
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

/** The router machine's accounts after a run. */
function routerServers(monitor: ReturnType<typeof run>['monitor']): Readonly<Record<string, ServerView>> {
  return (monitor.actors().get('router:router')!.getSnapshot().context as RouterContext).servers;
}

/** Expects exactly one violation, at the last event of the trace. */
function expectRejectsLast(trace: readonly TraceEvent[], pattern: RegExp, config?: R2p2MonitorConfig): Violation {
  const { violations } = run(trace, config);
  expect(violations).toHaveLength(1);
  expect(violations[0]).toMatchObject({ check: 'monitor', events: [trace.length - 1] });
  expect(violations[0]!.message).toMatch(pattern);
  return violations[0]!;
}

/** RouterServerJoin of `server`: `fresh` opens a new account with `served` as its base. */
const join = (server: string, n: number, served: number, fresh: boolean): TraceEvent =>
  ev('router', 'RouterServerJoin', { server, n, served, fresh });
const leave = (server: string): TraceEvent => ev('router', 'RouterServerLeave', { server });

const startup = (): TraceEvent[] => [
  ev('server1', 'ServerAnnounce', { router: R, n: 2, served: 0 }),
  join(S1, 2, 0, true),
  ev('server2', 'ServerAnnounce', { router: R, n: 2, served: 0 }),
  join(S2, 2, 0, true),
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

  // server1 restarts and stays quiet past the router's leaveAfterUs: it leaves the eligible set (and
  // server2, silent too); both keep their accounts. server1 announces (served 0) with its new
  // incarnation's epoch: a new account (fresh), rid 6 forgotten with the old incarnation.
  ev('router', 'RouterServerLeave', { server: S1 }),
  ev('router', 'RouterServerLeave', { server: S2 }),
  ev('server1', 'ServerAnnounce', { router: R, n: 2, served: 0 }),
  ev('router', 'RouterServerJoin', { server: S1, n: 2, served: 0, fresh: true }),
  ev('router', 'RouterFeedback', { server: S1, client: '0.0.0.0:0', rid: 0, form: 'count', n: 2, served: 0, outstanding: 0 }),
  // server2's heartbeat (same incarnation, served 1) reaches the router late: it rejoins, its
  // account going on, and the count of the heartbeat frees rid 4.
  ev('router', 'RouterServerJoin', { server: S2, n: 2, served: 1, fresh: false }),
  ev('router', 'RouterFeedback', { server: S2, client: '0.0.0.0:0', rid: 0, form: 'count', n: 2, served: 1, outstanding: 0 }),
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
    const servers = routerServers(monitor);
    expect(servers[S1]).toMatchObject({ eligible: true, dispatched: 0, maxServed: 0, baseLo: 0, baseHi: 0 });
    expect(servers[S2]).toMatchObject({ eligible: true, dispatched: 1, maxServed: 1, baseLo: 0, baseHi: 0 });
  });

  it('leaves pending requests alone at the end of a run', () => {
    const trace = singleServed().slice(0, 6); // sent and enqueued, never answered
    expect(run(trace).violations).toEqual([]);
  });

  it('accepts a REQ0 the network duplicated and the router dispatched to two servers, each taking it once', () => {
    const trace = [
      ...startup(),
      ev('client1', 'ClientSend', { rid: 1, policy: 'LB_ROUTE', npkts: 1, size: 100, digest: 'q1' }),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }),
      ev('router', 'RouterEnqueue', { client: C, rid: 1, queued: 2 }),
      ev('router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 }),
      ev('router', 'RouterDispatch', { client: C, rid: 1, server: S2, outstanding: 1 }),
      ev('server1', 'ServerReceiveRequest', { client: C, rid: 1, npkts: 1, digest: 'q1' }),
      ev('server2', 'ServerReceiveRequest', { client: C, rid: 1, npkts: 1, digest: 'q1' }),
      ev('server1', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 1, n: 2 }),
      ev('server2', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 1, n: 2 }),
      ev('client1', 'ClientReceiveReply', { rid: 1, replyRid: 1, server: S1, digest: 'r1' }),
    ];
    expect(run(trace).violations).toEqual([]);
  });

  it('a new incarnation of a server (after a crash, once announced) may take a request the old one took', () => {
    const trace = [
      ...singleServed(),
      { t: (clock += 1), node: 'server1', action: 'HostRestart' },
      ev('server1', 'ServerAnnounce', { router: R, n: 2, served: 0 }),
      ev('server1', 'ServerReceiveRequest', { client: C, rid: 1, npkts: 1, digest: 'q1' }),
    ];
    expect(run(trace).violations).toEqual([]);
  });

  it('a server may take a (client, rid) again only after a dedupe window of newer takes (16-bit rids wrap)', () => {
    expect(SERVER_DEDUPE_WINDOW).toBe(RECENT_CAP); // the monitor's default window is what the server remembers
    const actor = createActor(serverMachine, { input: { node: 'server1', dedupeWindow: 3 } }).start();
    const take = (client: string, rid: number) => {
      const before = actor.getSnapshot().context.takes;
      actor.send({ type: 'ServerReceiveRequest', client, rid, npkts: 1, digest: 'q' });
      return actor.getSnapshot().context.takes > before;
    };
    actor.send({ type: 'ServerAnnounce', router: R, n: 2, served: 0 });
    expect(take(C, 1)).toBe(true);
    expect(take(C2, 1)).toBe(true);
    expect(take(C2, 2)).toBe(true);
    expect(take(C, 1)).toBe(false); // two newer takes: still remembered
    expect(take(C2, 3)).toBe(true);
    expect(take(C, 1)).toBe(true); // three newer takes: out of the window
    expect(take(C, 1)).toBe(false);
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

  it('server: taking one request twice in an incarnation (a duplicated REQ0 served again)', () => {
    const again = ev('server1', 'ServerReceiveRequest', { client: C, rid: 1, npkts: 1, digest: 'q1' });
    // while the first copy is still queued, and after it was answered
    expectRejectsLast([...singleServed().slice(0, -1), again], /r2p2-server .*running.*ServerReceiveRequest/);
    expectRejectsLast([...singleServed(), again], /r2p2-server .*running.*ServerReceiveRequest/);
    // a multi-packet request: a copy of its REQ0 after it was taken whole starts no new reassembly
    const multi = [
      ...startup(),
      ev('server1', 'ServerAck', { client: C, rid: 2, npkts: 2 }),
      ev('server1', 'ServerReceiveRequest', { client: C, rid: 2, npkts: 2, digest: 'q2' }),
      ev('server1', 'ServerReply', { client: C, rid: 2, npkts: 1, digest: 'r2', served: 1, n: 2 }),
    ];
    expectRejectsLast([...multi, ev('server1', 'ServerAck', { client: C, rid: 2, npkts: 2 })], /ServerAck/);
    expectRejectsLast([...multi, ev('server1', 'ServerReceiveRequest', { client: C, rid: 2, npkts: 1, digest: 'q2' })], /ServerReceiveRequest/);
  });

  it('server: a restarted server takes or answers nothing before it announces its new incarnation', () => {
    const restarted = [...singleServed().slice(0, -1), { t: (clock += 1), node: 'server1', action: 'HostRestart' } as TraceEvent];
    expectRejectsLast([...restarted, ev('server1', 'ServerReceiveRequest', { client: C, rid: 3, npkts: 1, digest: 'q3' })], /unannounced/);
    expectRejectsLast([...restarted, ev('server1', 'ServerAck', { client: C, rid: 3, npkts: 2 })], /unannounced/);
    expectRejectsLast([...restarted, ev('server1', 'ServerReply', { client: C, rid: 1, npkts: 1, digest: 'r1', served: 1, n: 2 })], /unannounced/);
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

  it('router: dispatch beyond the JBSQ bound (the server\'s n as the router knows it)', () => {
    const enq = (rid: number, queued: number) => ev('router', 'RouterEnqueue', { client: C, rid, queued });
    const disp = (rid: number, outstanding: number) => ev('router', 'RouterDispatch', { client: C, rid, server: S1, outstanding });
    // The server's n (1) is the bound, even under a router configured with a larger n.
    const big: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jbsq', n: 4, queueCap: 4 } };
    expectRejectsLast([join(S1, 1, 0, true), enq(1, 1), enq(2, 2), disp(1, 1), disp(2, 2)],
      /r2p2-router .*routing.*RouterDispatch/, big);
    // And a server's larger n (4) is the bound under a router configured with n 1 (no min any more).
    const small: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jbsq', n: 1, queueCap: 8 } };
    const four = [join(S1, 4, 0, true), enq(1, 1), enq(2, 2), enq(3, 3), enq(4, 4), enq(5, 5),
      disp(1, 1), disp(2, 2), disp(3, 3), disp(4, 4)];
    expect(run(four, small).violations).toEqual([]);
    expectRejectsLast([...four, disp(5, 5)], /r2p2-router .*routing.*RouterDispatch/, small);
    // A count-form FEEDBACK that reports another n moves the bound.
    const fbN = (n: number, served: number, outstanding: number) => ev('router', 'RouterFeedback', {
      server: S1, client: '0.0.0.0:0', rid: 0, form: 'count', n, served, outstanding,
    });
    expect(run([...four, fbN(5, 0, 4), disp(5, 5)], small).violations).toEqual([]);
    expectRejectsLast([...four, fbN(3, 1, 3), disp(5, 4)], /RouterDispatch/, small);
  });

  it('router: the same dispatch is fine under a policy without a bound', () => {
    const config: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'random', n: 1, queueCap: 4 } };
    const trace = [
      join(S1, 4, 0, true),
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

  it('router: exact Out(s) — requests dispatched before a leave still count after a rejoin', () => {
    // server1 serves rid 1 (count form), leaves holding rid 2, rejoins (same incarnation: not fresh)
    // by a heartbeat with served 1 (the join, then the heartbeat as a RouterFeedback); rid 3 is
    // dispatched; then FEEDBACK of rid 2 (served 2) arrives.
    const q = (rid: number, queued = 1) => ev('router', 'RouterEnqueue', { client: C, rid, queued });
    const d = (rid: number, outstanding: number) => ev('router', 'RouterDispatch', { client: C, rid, server: S1, outstanding });
    const fb = (rid: number, served: number, outstanding: number) =>
      ev('router', 'RouterFeedback', { server: S1, client: C, rid, form: 'count', n: 2, served, outstanding });
    const hb = ev('router', 'RouterFeedback', { server: S1, client: '0.0.0.0:0', rid: 0, form: 'count', n: 2, served: 1, outstanding: 1 });
    const config: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jbsq', n: 2, queueCap: 4 } };
    const pre = [
      join(S1, 2, 0, true),
      q(1), d(1, 1), q(2), d(2, 2), fb(1, 1, 1),
      leave(S1),
      join(S1, 2, 1, false), hb, // Out = 2 − (1 − 0) = 1
      q(3), d(3, 2), // rid 2 still counts: Out 1 before this dispatch
      fb(2, 2, 1), // Out = 3 − (2 − 0) = 1
    ];
    expect(run(pre, config).violations).toEqual([]);
    expect(run([...pre, q(4), d(4, 2)], config).violations).toEqual([]);
    // A router that forgot rid 2 at the leave would report 1 here (and 1 for rid 3).
    expectRejectsLast([...pre, q(4), d(4, 1)], /RouterDispatch/, config);
    expectRejectsLast([...pre.slice(0, 9), q(3), d(3, 1)], /RouterDispatch/, config);
    // The heartbeat after the rejoin must report Out 1 too (rid 2 was not forgotten).
    expectRejectsLast([...pre.slice(0, 8), { ...hb, t: (clock += 10), outstanding: 0 }], /RouterFeedback/, config);
    // Before that FEEDBACK the server is at its bound: no dispatch at all.
    expectRejectsLast([...pre.slice(0, -1), q(4, 1), d(4, 3)], /RouterDispatch/, config);
    expectRejectsLast([...pre.slice(0, -1), q(4, 1), d(4, 2)], /RouterDispatch/, config);
    // Counts must match exactly at FEEDBACK: the base is the join's served count.
    expectRejectsLast([...pre.slice(0, -1), fb(2, 2, 0)], /RouterFeedback/, config);
    expectRejectsLast([...pre.slice(0, -1), fb(2, 2, 2)], /RouterFeedback/, config);
    // A stale, lower served count changes nothing (no reset).
    expect(run([...pre, fb(1, 1, 1)], config).violations).toEqual([]);
    expectRejectsLast([...pre, fb(1, 1, 0)], /RouterFeedback/, config);
    expectRejectsLast([...pre.slice(0, 5), fb(1, 1, 1), fb(0, 0, 0)], /RouterFeedback/, config);
  });

  it('router: the join\'s served count is the base (router restarted, server did not)', () => {
    const q = (rid: number, queued = 1) => ev('router', 'RouterEnqueue', { client: C, rid, queued });
    const d = (rid: number, outstanding: number) => ev('router', 'RouterDispatch', { client: C, rid, server: S1, outstanding });
    const fb = (rid: number, served: number, outstanding: number) =>
      ev('router', 'RouterFeedback', { server: S1, client: C, rid, form: 'count', n: 2, served, outstanding });
    const pre = [join(S1, 2, 10, true), q(1), d(1, 1), q(2), d(2, 2)];
    expect(run([...pre, fb(1, 11, 1)]).violations).toEqual([]); // 11 − 10 = 1 served
    expectRejectsLast([...pre, fb(1, 11, 0)], /RouterFeedback/);
    // A count below the base counts nothing.
    expect(run([...pre, fb(1, 1, 2)]).violations).toEqual([]);
    expectRejectsLast([...pre, fb(1, 1, 1)], /RouterFeedback/);
    expectRejectsLast([...pre, fb(1, 11, 1), fb(2, 13, 1)], /RouterFeedback/); // 13 − 10 = 3 served: Out 0
    expect(run([...pre, fb(1, 11, 1), fb(2, 12, 0)]).violations).toEqual([]);
    // The clamp: the server serves requests an earlier router dispatched, so the count can pass
    // the dispatches; Out stays 0 and the next dispatch reports 1.
    expect(run([...pre, fb(1, 13, 0), q(3), d(3, 1)]).violations).toEqual([]);
    expectRejectsLast([...pre, fb(1, 13, 0), q(3), d(3, 0)], /RouterDispatch/);
    // With base 0 the same FEEDBACK means something else.
    const zero = [join(S1, 2, 0, true), q(1), d(1, 1), q(2), d(2, 2)];
    expectRejectsLast([...zero, fb(1, 11, 1)], /RouterFeedback/);
    expect(run([...zero, fb(1, 1, 1)]).violations).toEqual([]);
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
    expectRejectsLast([...startup(), join(S1, 2, 0, false)], /RouterServerJoin/);
    expectRejectsLast([leave(S1)], /RouterServerLeave/);
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

describe('R2P2 monitor: router accounts across leave and rejoin', () => {
  const JBSQ1: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jbsq', n: 1, queueCap: 4 } };
  const q = (rid: number, queued = 1) => ev('router', 'RouterEnqueue', { client: C, rid, queued });
  const d = (rid: number, outstanding: number, server = S1) =>
    ev('router', 'RouterDispatch', { client: C, rid, server, outstanding });
  const fb = (rid: number, served: number, outstanding: number, server = S1, n = 1) =>
    ev('router', 'RouterFeedback', { server, client: C, rid, form: 'count', n, served, outstanding });
  /** A heartbeat (count-form announce, zero triplet) taken as RouterFeedback. */
  const hb = (served: number, outstanding: number, n = 1, server = S1) =>
    ev('router', 'RouterFeedback', { server, client: '0.0.0.0:0', rid: 0, form: 'count', n, served, outstanding });

  /** JBSQ(1): rid 1 at server1, rid 2 queued, server1 leaves holding rid 1. */
  const leftHoldingOne = (): TraceEvent[] => [join(S1, 1, 0, true), q(1), d(1, 1), q(2), leave(S1)];

  it('a leave keeps the account and makes the server ineligible', () => {
    const { violations, monitor } = run(leftHoldingOne(), JBSQ1);
    expect(violations).toEqual([]);
    expect(routerServers(monitor)[S1]).toMatchObject({ eligible: false, n: 1, dispatched: 1, maxServed: 0, baseLo: 0, baseHi: 0 });
  });

  it('rejoin (not fresh) keeps the account: a dispatch beyond n after it is rejected', () => {
    const rejoined = [...leftHoldingOne(), join(S1, 1, 0, false)];
    const { violations, monitor } = run(rejoined, JBSQ1);
    expect(violations).toEqual([]);
    expect(routerServers(monitor)[S1]).toMatchObject({ eligible: true, n: 1, dispatched: 1, maxServed: 0 });
    // rid 1 still counts: rid 2 would be the second request at a JBSQ(1) server.
    expectRejectsLast([...rejoined, d(2, 1)], /RouterDispatch/, JBSQ1);
    expectRejectsLast([...rejoined, d(2, 2)], /RouterDispatch/, JBSQ1);
    // Its FEEDBACK (served 1) frees the slot; then rid 2 goes.
    expect(run([...rejoined, fb(1, 1, 0), d(2, 1)], JBSQ1).violations).toEqual([]);
    expectRejectsLast([...rejoined, fb(1, 1, 1)], /RouterFeedback/, JBSQ1);
    // A rejoin by a FEEDBACK that carries served 1: the join carries the count but only makes the
    // server eligible; the RouterFeedback that follows frees the slot.
    const byServed1 = [...leftHoldingOne(), join(S1, 1, 1, false)];
    const b = run(byServed1, JBSQ1);
    expect(b.violations).toEqual([]);
    expect(routerServers(b.monitor)[S1]).toMatchObject({ eligible: true, dispatched: 1, maxServed: 0, baseLo: 0, baseHi: 0 });
    expectRejectsLast([...byServed1, d(2, 1)], /RouterDispatch/, JBSQ1);
    expect(run([...byServed1, fb(1, 1, 0), d(2, 1)], JBSQ1).violations).toEqual([]);
    // A rejoin with a lower count than seen changes nothing (max), nor does its FEEDBACK.
    const served1 = [join(S1, 1, 0, true), q(1), d(1, 1), q(2), fb(1, 1, 0), d(2, 1), q(3), leave(S1), join(S1, 1, 0, false)];
    const r = run(served1, JBSQ1);
    expect(r.violations).toEqual([]);
    expect(routerServers(r.monitor)[S1]).toMatchObject({ dispatched: 2, maxServed: 1 });
    expectRejectsLast([...served1, d(3, 1)], /RouterDispatch/, JBSQ1);
    expect(run([...served1, hb(0, 1), fb(2, 2, 0), d(3, 1)], JBSQ1).violations).toEqual([]);
    expectRejectsLast([...served1, hb(0, 0)], /RouterFeedback/, JBSQ1);
  });

  it('a rejoin keeps the n the router knows; the count-form FEEDBACK after it sets n', () => {
    const config: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jbsq', n: 2, queueCap: 4 } };
    // server1 joined with n 1; it rejoins announcing n 2: the join reports 1, the FEEDBACK 2.
    expectRejectsLast([...leftHoldingOne(), join(S1, 2, 0, false)], /RouterServerJoin/, config);
    const rejoined = [...leftHoldingOne(), join(S1, 1, 0, false)];
    const j = run(rejoined, config);
    expect(j.violations).toEqual([]);
    expect(routerServers(j.monitor)[S1]).toMatchObject({ eligible: true, n: 1 });
    // Before the FEEDBACK the bound is still 1 (the router's config n 2 does not matter).
    expectRejectsLast([...rejoined, d(2, 2)], /RouterDispatch/, config);
    expectRejectsLast([...rejoined, d(2, 1)], /RouterDispatch/, config);
    const withN2 = [...rejoined, hb(0, 1, 2)];
    const f = run(withN2, config);
    expect(f.violations).toEqual([]);
    expect(routerServers(f.monitor)[S1]).toMatchObject({ eligible: true, n: 2, dispatched: 1 });
    expect(run([...withN2, d(2, 2)], config).violations).toEqual([]);
    expectRejectsLast([...withN2, d(2, 1)], /RouterDispatch/, config);
  });

  it('a rejoin is two events: the join (eligibility only) then the FEEDBACK as any other', () => {
    // Count form: server1 held rid 1 when it left; its first word after the pause is rid 1's
    // FEEDBACK with served 1, which the router reports as the join (n it had, served 1, not fresh)
    // followed by the RouterFeedback (rid 1 done), then rid 2 goes.
    const before = run(leftHoldingOne(), JBSQ1);
    const held = routerServers(before.monitor)[S1]!;
    const joined = [...leftHoldingOne(), join(S1, 1, 1, false)];
    const afterJoin = run(joined, JBSQ1);
    expect(afterJoin.violations).toEqual([]);
    // The join only flips eligibility: n, dispatched, freed, slots, maxServed and the base are kept.
    expect(routerServers(afterJoin.monitor)[S1]).toEqual({ ...held, eligible: true });
    const twoEvents = [...joined, fb(1, 1, 0), d(2, 1)];
    const r = run(twoEvents, JBSQ1);
    expect(r.violations).toEqual([]);
    expect(routerServers(r.monitor)[S1]).toMatchObject({
      eligible: true, n: 1, dispatched: 2, maxServed: 1, baseLo: 0, baseHi: 0, slots: new Set([`${C}#2`]),
    });
    // The FEEDBACK must report the account as it went on: Out 0, not 1 (nor a fresh account's 0 + …).
    expectRejectsLast([...joined, fb(1, 1, 1)], /RouterFeedback/, JBSQ1);
    // The join's served count is not applied by the join itself (whatever it is).
    expect(run([...leftHoldingOne(), join(S1, 1, 7, false)], JBSQ1).violations).toEqual([]);
    expect(routerServers(run([...leftHoldingOne(), join(S1, 1, 7, false)], JBSQ1).monitor)[S1]).toEqual({ ...held, eligible: true });

    // Slot form: a reference server (joined by a slot-form announce) that left holding rid 1
    // rejoins by rid 1's slot FEEDBACK: the slot is freed, so rid 2 goes with Out 0 before it.
    const slotFb = (rid: number, client: string, served: number, outstanding: number) =>
      ev('router', 'RouterFeedback', { server: S1, client, rid, form: 'slot', n: 1, served, outstanding });
    const slotJoined = [...leftHoldingOne(), join(S1, 1, 0, false)];
    const slot = [...slotJoined, slotFb(1, C, 1, 0), d(2, 1)];
    const sr = run(slot, JBSQ1);
    expect(sr.violations).toEqual([]);
    expect(routerServers(sr.monitor)[S1]).toMatchObject({ eligible: true, dispatched: 2, freed: 1, slots: new Set([`${C}#2`]) });
    expectRejectsLast([...slotJoined, slotFb(1, C, 1, 1)], /RouterFeedback/, JBSQ1);
    // A slot FEEDBACK naming no request (an announce) frees nothing: rid 1 still holds the slot.
    expect(run([...slotJoined, slotFb(0, '0.0.0.0:0', 0, 1)], JBSQ1).violations).toEqual([]);
    expectRejectsLast([...slotJoined, slotFb(0, '0.0.0.0:0', 0, 1), d(2, 1)], /RouterDispatch/, JBSQ1);
  });

  it('a fresh join opens a new account (a new incarnation): nothing outstanding, its served count the base', () => {
    const fresh = [...leftHoldingOne(), join(S1, 1, 0, true)];
    const { violations, monitor } = run(fresh, JBSQ1);
    expect(violations).toEqual([]);
    expect(routerServers(monitor)[S1]).toMatchObject({ eligible: true, dispatched: 0, freed: 0, maxServed: 0 });
    expect(run([...fresh, d(2, 1)], JBSQ1).violations).toEqual([]);
    expectRejectsLast([...fresh, d(2, 2)], /RouterDispatch/, JBSQ1);
  });

  it('a fresh join of an eligible server resets its account', () => {
    const config: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jbsq', n: 2, queueCap: 4 } };
    const busy = [...startup(), q(1), d(1, 1, S1), q(2), d(2, 1, S2), q(3), d(3, 2, S1), q(4)];
    expect(run(busy, config).violations).toEqual([]);
    // server1 is at its bound (2) and server2 has 1: rid 4 must go to server2.
    expectRejectsLast([...busy, d(4, 1, S1)], /RouterDispatch/, config);
    expect(run([...busy, d(4, 2, S2)], config).violations).toEqual([]);
    // server1 restarted (a newer epoch) without leaving: its account starts over, with base 5.
    const reset = [...busy, join(S1, 2, 5, true)];
    const { violations, monitor } = run(reset, config);
    expect(violations).toEqual([]);
    expect(routerServers(monitor)[S1]).toMatchObject({
      eligible: true, n: 2, dispatched: 0, freed: 0, maxServed: 5, baseLo: 5, baseHi: 5, slots: new Set(),
    });
    expect(run([...reset, d(4, 1, S1), fb(4, 6, 0, S1, 2)], config).violations).toEqual([]);
    expectRejectsLast([...reset, d(4, 1, S1), fb(4, 6, 1, S1, 2)], /RouterFeedback/, config);
    // Now server1 has the fewest: server2 is not allowed.
    expectRejectsLast([...reset, d(4, 2, S2)], /RouterDispatch/, config);
  });

  it('a non-fresh join of an unknown or an eligible server is rejected', () => {
    expectRejectsLast([join(S1, 1, 0, false)], /RouterServerJoin/, JBSQ1);
    expectRejectsLast([join(S1, 1, 0, true), join(S1, 1, 0, false)], /RouterServerJoin/, JBSQ1);
    expectRejectsLast([...leftHoldingOne(), join(S1, 1, 0, false), join(S1, 1, 0, false)], /RouterServerJoin/, JBSQ1);
    // (another server's account does not count)
    expectRejectsLast([...leftHoldingOne(), join(S2, 1, 0, false)], /RouterServerJoin/, JBSQ1);
  });

  it('a join needs a positive n, a served count and a boolean fresh', () => {
    expectRejectsLast([join(S1, 0, 0, true)], /RouterServerJoin/);
    expectRejectsLast([join(S1, 1, -1, true)], /RouterServerJoin/);
    expectRejectsLast([join(S1, 1, 1.5, true)], /RouterServerJoin/);
    const noServed = { t: (clock += 10), node: 'router', action: 'RouterServerJoin', server: S1, n: 1, fresh: true } as TraceEvent;
    expectRejectsLast([noServed], /RouterServerJoin/);
    const noFresh = { t: (clock += 10), node: 'router', action: 'RouterServerJoin', server: S1, n: 1, served: 0 } as TraceEvent;
    expectRejectsLast([noFresh], /RouterServerJoin/);
    const stringFresh = { ...noFresh, fresh: 'true' } as TraceEvent;
    expectRejectsLast([...leftHoldingOne(), stringFresh], /RouterServerJoin/, JBSQ1);
  });

  it('a leave of an ineligible (or unknown) server is rejected', () => {
    expectRejectsLast([...leftHoldingOne(), leave(S1)], /RouterServerLeave/, JBSQ1);
    expectRejectsLast([...leftHoldingOne(), leave(S2)], /RouterServerLeave/, JBSQ1);
    // After a rejoin it may leave again.
    expect(run([...leftHoldingOne(), join(S1, 1, 0, false), leave(S1)], JBSQ1).violations).toEqual([]);
  });

  it('no dispatch to and no FEEDBACK from an ineligible server', () => {
    const config: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'random', n: 1, queueCap: 4 } };
    const left = [join(S1, 1, 0, true), q(1), d(1, 1), leave(S1), q(2)];
    expect(run(left, config).violations).toEqual([]);
    expectRejectsLast([...left, d(2, 2)], /RouterDispatch/, config);
    expectRejectsLast([...left, d(2, 1)], /RouterDispatch/, config);
    expectRejectsLast([...left, fb(1, 1, 0)], /RouterFeedback/, config);
    expectRejectsLast([...left, ev('router', 'RouterFeedback', {
      server: S1, client: C, rid: 1, form: 'slot', n: 1, served: 1, outstanding: 0,
    })], /RouterFeedback/, config);
  });

  it('JBSQ ignores ineligible servers when it checks for a less loaded one', () => {
    const config: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jbsq', n: 2, queueCap: 4 } };
    const pre = [...startup(), q(1), d(1, 1, S1)];
    // server2 (eligible, nothing outstanding) is less loaded: server1 may not take rid 2…
    expectRejectsLast([...pre, q(2), d(2, 2, S1)], /RouterDispatch/, config);
    // …unless server2 left.
    expect(run([...pre, leave(S2), q(2), d(2, 2, S1)], config).violations).toEqual([]);
    // Under JSQ likewise.
    const jsq: R2p2MonitorConfig = { ...CONFIG, router: { policy: 'jsq', n: 2, queueCap: 4 } };
    expectRejectsLast([...pre, q(2), d(2, 2, S1)], /RouterDispatch/, jsq);
    expect(run([...pre, leave(S2), q(2), d(2, 2, S1)], jsq).violations).toEqual([]);
  });
});

describe('R2P2 monitor: the implementation router\'s rejoin traces', () => {
  // Drive impl/r2p2/router.ts and feed its trace events to the router machine, so the two agree on
  // the two-event rejoin (RouterServerJoin not fresh, then RouterFeedback) in both FEEDBACK forms.
  const SERVER = '10.0.0.3:9000';
  const CLIENT = '10.0.0.1:5000';
  const ROUTER = '10.0.0.2:8000';
  const EPOCH = 2 ** 40;
  const routerRun = (n: number, steps: ((r: R2p2Router, t: number) => CoreOutput<never>[])[]) => {
    const r = new R2p2Router('router', ROUTER, { policy: 'jbsq', n, queueCap: 8, leaveAfterUs: 1000 }, new Rng(1));
    const events: TraceEvent[] = [];
    steps.forEach((step, i) => {
      for (const o of step(r, i * 100)) {
        if (o.kind === 'trace') events.push({ t: i * 100, node: 'router', ...o.event } as TraceEvent);
      }
    });
    return events;
  };
  const rx = (data: Uint8Array, src = SERVER) => (r: R2p2Router, t: number) =>
    r.handle({ kind: 'receive', packet: { src, dst: ROUTER, data } }, t);
  const req = (rid: number) => rx(split('REQUEST', 'LB_ROUTE', rid, new Uint8Array(8))[0]!, CLIENT);
  const leaveNow = (r: R2p2Router, t: number) => r.handle({ kind: 'timer', name: `leave:${SERVER}` }, t);
  const machineConfig = (n: number): R2p2MonitorConfig => ({ ...CONFIG, router: { policy: 'jbsq', n, queueCap: 8 } });
  const actionsOf = (events: readonly TraceEvent[]) => events.map((e) => e.action);

  it('count form: the rejoin by the FEEDBACK of a held request', () => {
    const events = routerRun(1, [
      rx(feedbackPacket(ZERO_ADDR, 0, { n: 1, served: 0, epoch: EPOCH })), req(1), req(2), leaveNow,
      rx(feedbackPacket(CLIENT, 1, { n: 1, served: 1, epoch: EPOCH })),
      rx(feedbackPacket(ZERO_ADDR, 0, { n: 1, served: 1, epoch: EPOCH })),
    ]);
    expect(actionsOf(events)).toEqual([
      'RouterServerJoin', 'RouterEnqueue', 'RouterDispatch', 'RouterEnqueue', 'RouterServerLeave',
      'RouterServerJoin', 'RouterFeedback', 'RouterDispatch', 'RouterFeedback',
    ]);
    expect(events[5]).toMatchObject({ server: SERVER, n: 1, served: 1, fresh: false });
    expect(run(events, machineConfig(1)).violations).toEqual([]);
  });

  it('count form: a rejoin announcing another n (the join keeps n, the FEEDBACK sets it)', () => {
    const events = routerRun(1, [
      rx(feedbackPacket(ZERO_ADDR, 0, { n: 1, served: 0, epoch: EPOCH })), req(1), req(2), leaveNow,
      rx(feedbackPacket(ZERO_ADDR, 0, { n: 2, served: 0, epoch: EPOCH })),
    ]);
    expect(events.slice(5)).toMatchObject([
      { action: 'RouterServerJoin', n: 1, served: 0, fresh: false },
      { action: 'RouterFeedback', form: 'count', n: 2, served: 0, outstanding: 1 },
      { action: 'RouterDispatch', rid: 2, outstanding: 2 },
    ]);
    expect(run(events, machineConfig(1)).violations).toEqual([]);
  });

  it('slot form: the rejoin by the slot FEEDBACK of a held request frees that slot', () => {
    const events = routerRun(1, [
      rx(feedbackPacket(ZERO_ADDR, 0)), req(1), req(2), leaveNow, rx(feedbackPacket(CLIENT, 1)), rx(feedbackPacket(CLIENT, 1)),
    ]);
    expect(events.slice(5)).toMatchObject([
      { action: 'RouterServerJoin', n: 1, served: 0, fresh: false },
      { action: 'RouterFeedback', form: 'slot', client: CLIENT, rid: 1, outstanding: 0 },
      { action: 'RouterDispatch', rid: 2, outstanding: 1 },
      { action: 'RouterFeedback', form: 'slot', client: CLIENT, rid: 1, outstanding: 1 },
    ]);
    expect(run(events, machineConfig(1)).violations).toEqual([]);
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
