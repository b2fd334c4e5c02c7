import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createActor, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  HOVERCRAFT_ACTIONS, type Entry, type HovercraftActionName, type HovercraftActions, type Mode,
} from '../../impl/hovercraft/actions.ts';
import { Cluster } from '../../impl/hovercraft/test-net.ts';
import { machineEventTypes } from '../../harness/monitor/monitor.ts';
import type { Violation } from '../../harness/protocol.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import {
  HOVERCRAFT_MACHINES, LogView, aggregatorMachine, clientMachine, createHovercraftMonitor, hovercraftMachines, middleboxMachine,
  nodeMachine, type AggregatorContext, type ClientContext, type HovercraftMonitorConfig, type HovercraftRole,
  type MiddleboxContext, type NodeContext,
} from './index.ts';

// ---- a run: three nodes, two clients, the middlebox (2 slots) and the aggregator; B = 2 ----

const C1 = '10.0.1.1:5000';
const C2 = '10.0.1.2:5000';
const ADDR1 = '10.0.0.11:8000';
const ADDR2 = '10.0.0.12:8000';
const ADDR3 = '10.0.0.13:8000';
const NOOP = '0.0.0.0:0';

const CONFIG: HovercraftMonitorConfig = {
  roles: {
    node1: 'node', node2: 'node', node3: 'node', client1: 'client', client2: 'client',
    middlebox: 'middlebox', aggregator: 'aggregator',
  },
  nodes: 3,
  bound: 2,
  replierPolicy: 'jbsq',
  threshold: 2,
  mode: 'hovercraft++',
};

let clock = 0;
/** An event in the exact catalog shape (the type checks the fields against `actions.ts`). */
function ev<A extends HovercraftActionName>(node: string, action: A, fields: HovercraftActions[A]): TraceEvent {
  return { t: (clock += 10), node, action, ...fields } as unknown as TraceEvent;
}
const host = (node: string, action: 'HostCrash' | 'HostRestart' | 'HostPause'): TraceEvent => ({ t: (clock += 10), node, action });
/** A trace event with fields outside the catalog's types (malformed on purpose). */
const raw = (node: string, action: string, fields: Record<string, unknown>): TraceEvent =>
  ({ t: (clock += 10), node, action, ...fields }) as unknown as TraceEvent;

const entry = (term: number, client: string, rid: number, replier: string, ro = false): Entry => [term, client, rid, replier, ro];
const noop = (term: number, leader: string): Entry => [term, NOOP, term, leader, false];
/** AGG_COMMIT's applied array for node1..node3. */
const ap = (a1 = 0, a2 = 0, a3 = 0): [string, number][] => [['node1', a1], ['node2', a2], ['node3', a3]];

/** Feeds a trace to a fresh monitor; returns the violations and the monitor. */
function run(trace: readonly TraceEvent[], config: HovercraftMonitorConfig = CONFIG) {
  const monitor = createHovercraftMonitor(config);
  const violations: Violation[] = [];
  trace.forEach((e, i) => {
    const v = monitor.observe(i, e);
    if (v) violations.push(v);
  });
  violations.push(...monitor.finish());
  return { violations, monitor };
}

/** Expects the trace to be accepted. */
function accepts(trace: readonly TraceEvent[], config?: HovercraftMonitorConfig) {
  const r = run(trace, config);
  expect(r.violations).toEqual([]);
  return r.monitor;
}

/** Expects exactly one violation, at the last event of the trace. */
function expectRejectsLast(trace: readonly TraceEvent[], pattern: RegExp, config?: HovercraftMonitorConfig): Violation {
  const { violations } = run(trace, config);
  expect(violations).toHaveLength(1);
  expect(violations[0]).toMatchObject({ check: 'monitor', events: [trace.length - 1] });
  expect(violations[0]!.message).toMatch(/ cannot take /); // a guard refused it (no evaluation error)
  expect(violations[0]!.message).toMatch(pattern);
  return violations[0]!;
}

type Monitor = ReturnType<typeof run>['monitor'];
const nodeCtx = (m: Monitor, id: string) => m.actors().get(`node:${id}`)!.getSnapshot().context as NodeContext;
const nodeState = (m: Monitor, id: string) => m.actors().get(`node:${id}`)!.getSnapshot().value;

// ---- the run, in phases ----

const started = (): TraceEvent[] => ['node1', 'node2', 'node3'].map((n) => ev(n, 'NodeStart', { term: 0, votedFor: null, log: [] }));

/** node1 is elected in term 1 with node2's vote (node3's vote reply is lost). */
const elected = (): TraceEvent[] => [
  ...started(),
  ev('node1', 'BecomeCandidate', { term: 1 }),
  ev('node1', 'SendRequestVote', { to: 'node2', term: 1, lastIndex: 0, lastTerm: 0 }),
  ev('node1', 'SendRequestVote', { to: 'node3', term: 1, lastIndex: 0, lastTerm: 0 }),
  ev('node2', 'StepDown', { term: 1 }),
  ev('node2', 'HandleRequestVote', { from: 'node1', term: 1, lastIndex: 0, lastTerm: 0, granted: true }),
  // node3 adopts the term by the request itself.
  ev('node3', 'HandleRequestVote', { from: 'node1', term: 1, lastIndex: 0, lastTerm: 0, granted: true }),
  ev('node1', 'HandleVoteReply', { from: 'node2', term: 1, granted: true, votes: 2 }),
  ev('node1', 'BecomeLeader', { term: 1 }),
];

/** The no-op [1, 0.0.0.0:0, 1, node1, false] is replicated and committed at the leader. */
const noopCommitted = (): TraceEvent[] => [
  ...elected(),
  ev('node1', 'SendAppendEntries', { to: 'node2', term: 1, prevIndex: 0, prevTerm: 0, entries: [noop(1, 'node1')], commit: 0 }),
  ev('node1', 'SendAppendEntries', { to: 'node3', term: 1, prevIndex: 0, prevTerm: 0, entries: [noop(1, 'node1')], commit: 0 }),
  ev('node2', 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 0, prevTerm: 0, entries: [noop(1, 'node1')], commit: 0, success: true, matchIndex: 1, missing: [],
  }),
  ev('node3', 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 0, prevTerm: 0, entries: [noop(1, 'node1')], commit: 0, success: true, matchIndex: 1, missing: [],
  }),
  ev('node1', 'HandleAppendEntriesReply', { from: 'node2', term: 1, success: true, matchIndex: 1, applied: 0 }),
  ev('node1', 'Commit', { term: 1, index: 1 }),
  ev('node1', 'Apply', { index: 1, client: NOOP, rid: 1, replier: 'node1', ro: false, executed: true, digest: 'e0' }),
];

const E2 = entry(1, C1, 1, 'node2');
/** client1 puts; the leader announces node2 as replier; it commits, applies, node2 replies. */
const putReplied = (): TraceEvent[] => [
  ...noopCommitted(),
  ev('client1', 'ClientRequest', { rid: 1, op: 'put', key: 'k', value: 'v', expected: null, ro: false }),
  ev('middlebox', 'MiddleboxForward', { client: C1, rid: 1, inflight: 1 }),
  { t: (clock += 1), node: 'switch', action: 'NetDuplicate', src: C1, dst: ADDR2 },
  ev('node2', 'FollowerBuffer', { client: C1, rid: 1, ro: false }),
  ev('node3', 'FollowerBuffer', { client: C1, rid: 1, ro: false }),
  ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false }),
  ev('node1', 'Announce', { term: 1, index: 2, replier: 'node2', queue: 1 }),
  ev('node1', 'SendAppendEntries', { to: 'node2', term: 1, prevIndex: 1, prevTerm: 1, entries: [E2], commit: 1 }),
  ev('node1', 'SendAppendEntries', { to: 'node3', term: 1, prevIndex: 1, prevTerm: 1, entries: [E2], commit: 1 }),
  ev('node2', 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 1, prevTerm: 1, entries: [E2], commit: 1, success: true, matchIndex: 2, missing: [],
  }),
  ev('node2', 'Commit', { term: 1, index: 1 }),
  ev('node2', 'Apply', { index: 1, client: NOOP, rid: 1, replier: 'node1', ro: false, executed: true, digest: 'e0' }),
  ev('node3', 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 1, prevTerm: 1, entries: [E2], commit: 1, success: true, matchIndex: 2, missing: [],
  }),
  ev('node3', 'Commit', { term: 1, index: 1 }),
  ev('node3', 'Apply', { index: 1, client: NOOP, rid: 1, replier: 'node1', ro: false, executed: true, digest: 'e0' }),
  ev('node1', 'HandleAppendEntriesReply', { from: 'node2', term: 1, success: true, matchIndex: 2, applied: 1 }),
  ev('node1', 'Commit', { term: 1, index: 2 }),
  ev('node1', 'Apply', { index: 2, client: C1, rid: 1, replier: 'node2', ro: false, executed: true, digest: 'd1' }),
  ev('node1', 'SendAppendEntries', { to: 'node2', term: 1, prevIndex: 2, prevTerm: 1, entries: [], commit: 2 }),
  ev('node2', 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 2, prevTerm: 1, entries: [], commit: 2, success: true, matchIndex: 2, missing: [],
  }),
  ev('node2', 'Commit', { term: 1, index: 2 }),
  ev('node2', 'Apply', { index: 2, client: C1, rid: 1, replier: 'node2', ro: false, executed: true, digest: 'd1' }),
  ev('node2', 'Reply', { index: 2, client: C1, rid: 1, result: true }),
  ev('middlebox', 'MiddleboxFeedback', { client: C1, rid: 1, inflight: 0 }),
  ev('client1', 'ClientReceiveReply', { rid: 1, from: ADDR2, result: true }),
];

const E3 = entry(1, C2, 7, 'node3', true);
/**
 * client2 gets (read-only), replier node3. node3 missed the multicast: it reports the body
 * missing, recovers it from the leader, then stores, applies (executing it) and replies; the leader
 * applies it without executing it.
 */
const readReplied = (): TraceEvent[] => [
  ...putReplied(),
  ev('client2', 'ClientRequest', { rid: 7, op: 'get', key: 'k', value: null, expected: null, ro: true }),
  ev('middlebox', 'MiddleboxForward', { client: C2, rid: 7, inflight: 1 }),
  ev('node2', 'FollowerBuffer', { client: C2, rid: 7, ro: true }),
  ev('node1', 'LeaderAppend', { term: 1, index: 3, client: C2, rid: 7, ro: true }),
  ev('node1', 'Announce', { term: 1, index: 3, replier: 'node3', queue: 1 }),
  ev('node1', 'SendAppendEntries', { to: 'node3', term: 1, prevIndex: 2, prevTerm: 1, entries: [E3], commit: 2 }),
  ev('node3', 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 2, prevTerm: 1, entries: [E3], commit: 2, success: true, matchIndex: 2, missing: [[C2, 7]],
  }),
  ev('node3', 'Commit', { term: 1, index: 2 }),
  ev('node3', 'Apply', { index: 2, client: C1, rid: 1, replier: 'node2', ro: false, executed: true, digest: 'd1' }),
  ev('node3', 'SendRecoveryRequest', { to: 'node1', client: C2, rid: 7 }),
  ev('node1', 'HandleRecoveryRequest', { from: 'node3', client: C2, rid: 7, found: true }),
  ev('node3', 'HandleRecoveryReply', { from: 'node1', client: C2, rid: 7 }),
  ev('node1', 'HandleAppendEntriesReply', { from: 'node3', term: 1, success: true, matchIndex: 2, applied: 2 }),
  ev('node1', 'SendAppendEntries', { to: 'node3', term: 1, prevIndex: 2, prevTerm: 1, entries: [E3], commit: 2 }),
  ev('node3', 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 2, prevTerm: 1, entries: [E3], commit: 2, success: true, matchIndex: 3, missing: [],
  }),
  ev('node1', 'HandleAppendEntriesReply', { from: 'node3', term: 1, success: true, matchIndex: 3, applied: 2 }),
  ev('node1', 'Commit', { term: 1, index: 3 }),
  ev('node1', 'Apply', { index: 3, client: C2, rid: 7, replier: 'node3', ro: true, executed: false, digest: 'd7' }),
  ev('node1', 'SendAppendEntries', { to: 'node3', term: 1, prevIndex: 3, prevTerm: 1, entries: [], commit: 3 }),
  ev('node3', 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 3, prevTerm: 1, entries: [], commit: 3, success: true, matchIndex: 3, missing: [],
  }),
  ev('node3', 'Commit', { term: 1, index: 3 }),
  ev('node3', 'Apply', { index: 3, client: C2, rid: 7, replier: 'node3', ro: true, executed: true, digest: 'd7' }),
  ev('node3', 'Reply', { index: 3, client: C2, rid: 7, result: 'v' }),
  ev('middlebox', 'MiddleboxFeedback', { client: C2, rid: 7, inflight: 0 }),
  ev('client2', 'ClientReceiveReply', { rid: 7, from: ADDR3, result: 'v' }),
];

/**
 * node1 crashes. node2 (log [N1, E2]) runs for term 2 and loses: node3 holds E3 and refuses.
 * node3 is elected in term 3 (log [N1, E2, E3, N3]). node1 restarts with its persisted state,
 * learns of term 3, catches up and applies; node2 gets E3 and the no-op; node3 commits the no-op.
 */
const failedOver = (): TraceEvent[] => [
  ...readReplied(),
  host('node1', 'HostCrash'),
  ev('node2', 'BecomeCandidate', { term: 2 }),
  ev('node2', 'SendRequestVote', { to: 'node1', term: 2, lastIndex: 2, lastTerm: 1 }),
  ev('node2', 'SendRequestVote', { to: 'node3', term: 2, lastIndex: 2, lastTerm: 1 }),
  ev('node3', 'StepDown', { term: 2 }),
  ev('node3', 'HandleRequestVote', { from: 'node2', term: 2, lastIndex: 2, lastTerm: 1, granted: false }),
  ev('node2', 'HandleVoteReply', { from: 'node3', term: 2, granted: false, votes: 1 }),
  ev('node3', 'BecomeCandidate', { term: 3 }),
  ev('node3', 'SendRequestVote', { to: 'node2', term: 3, lastIndex: 3, lastTerm: 1 }),
  ev('node2', 'StepDown', { term: 3 }),
  ev('node2', 'HandleRequestVote', { from: 'node3', term: 3, lastIndex: 3, lastTerm: 1, granted: true }),
  ev('node3', 'HandleVoteReply', { from: 'node2', term: 3, granted: true, votes: 2 }),
  ev('node3', 'BecomeLeader', { term: 3 }),
  host('node1', 'HostRestart'),
  ev('node1', 'NodeStart', { term: 1, votedFor: 'node1', log: [noop(1, 'node1'), E2, E3] }),
  ev('node3', 'SendAppendEntries', { to: 'node1', term: 3, prevIndex: 3, prevTerm: 1, entries: [noop(3, 'node3')], commit: 3 }),
  ev('node1', 'StepDown', { term: 3 }),
  ev('node1', 'HandleAppendEntries', {
    from: 'node3', term: 3, prevIndex: 3, prevTerm: 1, entries: [noop(3, 'node3')], commit: 3, success: true, matchIndex: 4, missing: [],
  }),
  ev('node1', 'Commit', { term: 3, index: 3 }),
  ev('node1', 'Apply', { index: 1, client: NOOP, rid: 1, replier: 'node1', ro: false, executed: true, digest: 'e0' }),
  ev('node1', 'Apply', { index: 2, client: C1, rid: 1, replier: 'node2', ro: false, executed: true, digest: 'd1' }),
  ev('node1', 'Apply', { index: 3, client: C2, rid: 7, replier: 'node3', ro: true, executed: false, digest: 'd7' }),
  ev('node3', 'SendAppendEntries', { to: 'node2', term: 3, prevIndex: 2, prevTerm: 1, entries: [E3, noop(3, 'node3')], commit: 3 }),
  ev('node2', 'HandleAppendEntries', {
    from: 'node3', term: 3, prevIndex: 2, prevTerm: 1, entries: [E3, noop(3, 'node3')], commit: 3, success: true, matchIndex: 4,
    missing: [],
  }),
  ev('node2', 'Commit', { term: 3, index: 3 }),
  ev('node2', 'Apply', { index: 3, client: C2, rid: 7, replier: 'node3', ro: true, executed: false, digest: 'd7' }),
  ev('node3', 'HandleAppendEntriesReply', { from: 'node2', term: 3, success: true, matchIndex: 4, applied: 3 }),
  ev('node3', 'Commit', { term: 3, index: 4 }),
  ev('node3', 'Apply', { index: 4, client: NOOP, rid: 3, replier: 'node3', ro: false, executed: true, digest: 'e0' }),
];

const E5 = entry(3, C1, 2, 'node1');
/**
 * HovercRaft++: node3 probes the aggregator and uses it; client1's cas (replier node1) goes out
 * once, through the aggregator; node1's reply makes a majority with the leader; the AGG_COMMIT
 * commits it everywhere and node1 answers. An empty append_entries then announces nothing new:
 * the next reply triggers an AGG_COMMIT of the unchanged index.
 */
const aggregated = (): TraceEvent[] => [
  ...failedOver(),
  ev('aggregator', 'AggFlush', { term: 3 }),
  ev('aggregator', 'AggProbe', { from: 'node3', term: 3 }),
  ev('node3', 'LeaderUseAggregator', { term: 3 }),
  ev('client1', 'ClientRequest', { rid: 2, op: 'cas', key: 'k', value: 'w', expected: 'v', ro: false }),
  ev('middlebox', 'MiddleboxForward', { client: C1, rid: 2, inflight: 1 }),
  ev('node1', 'FollowerBuffer', { client: C1, rid: 2, ro: false }),
  ev('node2', 'FollowerBuffer', { client: C1, rid: 2, ro: false }),
  ev('node3', 'LeaderAppend', { term: 3, index: 5, client: C1, rid: 2, ro: false }),
  ev('node3', 'Announce', { term: 3, index: 5, replier: 'node1', queue: 1 }),
  ev('node3', 'SendAppendEntries', { to: 'aggregator', term: 3, prevIndex: 4, prevTerm: 3, entries: [E5], commit: 4 }),
  ev('aggregator', 'AggForward', { term: 3, prevIndex: 4, count: 1, commit: 4 }),
  ev('node1', 'HandleAppendEntries', {
    from: 'node3', term: 3, prevIndex: 4, prevTerm: 3, entries: [E5], commit: 4, success: true, matchIndex: 5, missing: [],
  }),
  ev('node1', 'Commit', { term: 3, index: 4 }),
  ev('node1', 'Apply', { index: 4, client: NOOP, rid: 3, replier: 'node3', ro: false, executed: true, digest: 'e0' }),
  ev('aggregator', 'AggReply', { from: 'node1', term: 3, matchIndex: 5, applied: 4 }),
  ev('aggregator', 'AggCommit', { term: 3, commit: 5, applied: ap(4) }),
  ev('node3', 'HandleAggCommit', { term: 3, commit: 5, applied: ap(4) }),
  ev('node3', 'Commit', { term: 3, index: 5 }),
  ev('node3', 'Apply', { index: 5, client: C1, rid: 2, replier: 'node1', ro: false, executed: true, digest: 'd2' }),
  ev('node1', 'HandleAggCommit', { term: 3, commit: 5, applied: ap(4) }),
  ev('node1', 'Commit', { term: 3, index: 5 }),
  ev('node1', 'Apply', { index: 5, client: C1, rid: 2, replier: 'node1', ro: false, executed: true, digest: 'd2' }),
  ev('node1', 'Reply', { index: 5, client: C1, rid: 2, result: true }),
  ev('middlebox', 'MiddleboxFeedback', { client: C1, rid: 2, inflight: 0 }),
  ev('client1', 'ClientReceiveReply', { rid: 2, from: ADDR1, result: true }),
  // node2 (its copy delayed) and a heartbeat through the aggregator.
  ev('node2', 'HandleAppendEntries', {
    from: 'node3', term: 3, prevIndex: 4, prevTerm: 3, entries: [E5], commit: 4, success: true, matchIndex: 5, missing: [],
  }),
  ev('node2', 'HandleAggCommit', { term: 3, commit: 5, applied: ap(4) }),
  ev('node2', 'Commit', { term: 3, index: 5 }),
  ev('node2', 'Apply', { index: 4, client: NOOP, rid: 3, replier: 'node3', ro: false, executed: true, digest: 'e0' }),
  ev('node2', 'Apply', { index: 5, client: C1, rid: 2, replier: 'node1', ro: false, executed: true, digest: 'd2' }),
  ev('aggregator', 'AggReply', { from: 'node2', term: 3, matchIndex: 5, applied: 3 }),
  ev('node3', 'SendAppendEntries', { to: 'aggregator', term: 3, prevIndex: 5, prevTerm: 3, entries: [], commit: 5 }),
  ev('aggregator', 'AggForward', { term: 3, prevIndex: 5, count: 0, commit: 5 }),
  ev('aggregator', 'AggReply', { from: 'node2', term: 3, matchIndex: 5, applied: 5 }),
  ev('aggregator', 'AggCommit', { term: 3, commit: 5, applied: ap(4, 5) }),
];

describe('HovercRaft monitor: a whole run', () => {
  it('accepts an election, replication, commit, apply, replies, recovery, a failover with a restart and a HovercRaft++ round', () => {
    const m = accepts(aggregated());
    expect(nodeState(m, 'node3')).toBe('leader');
    expect(nodeCtx(m, 'node3')).toMatchObject({ term: 3, commit: 5, applied: 5, useAggregator: true, announced: 5 });
    expect(nodeState(m, 'node1')).toBe('follower');
    expect(nodeCtx(m, 'node1')).toMatchObject({ term: 3, leader: 'node3', commit: 5, applied: 5, replied: new Set([5]) });
    expect(nodeCtx(m, 'node2')).toMatchObject({ term: 3, votedFor: 'node3', commit: 5, applied: 5, replied: new Set([2]) });
    expect(nodeCtx(m, 'node2').logs).toHaveLength(1);
    expect(nodeCtx(m, 'node2').logs[0]!.toArray().map((x) => [x.term, x.client, x.rid, x.replier, x.ro]))
      .toEqual([noop(1, 'node1'), E2, E3, noop(3, 'node3'), E5]);
    expect(m.actors().get('aggregator:aggregator')!.getSnapshot().context as AggregatorContext)
      .toMatchObject({ term: 3, leader: 'node3', commit: 5, leaderEnd: 5, match: { node1: 5, node2: 5 }, pending: false });
    expect(m.actors().get('middlebox:middlebox')!.getSnapshot().context as MiddleboxContext).toMatchObject({ inflight: 0 });
    expect(m.actors().get('client:client1')!.getSnapshot()).toMatchObject({ value: 'idle', context: { replies: 2 } });
  });

  it('works out what the restarted node must have persisted from what other nodes saw', () => {
    const m = accepts(failedOver());
    // node2 took node1's request_vote and append_entries of term 1; node1's append_entries reached
    // index 3 in term 1, and index 3 was committed in term 1.
    expect(m.persistedFloor('node1')).toEqual({
      term: 1, vote: { term: 1, for: 'node1' },
      log: [noop(1, 'node1'), E2, E3].map(([term, client, rid, replier, ro]) => ({ term, client, rid, replier, ro })),
    });
    expect(m.persistedFloor('node2')).toBeNull();
  });

  it('skips Net annotations and HostPause', () => {
    accepts([...started(), host('node1', 'HostPause'), { t: 1, node: 'switch', action: 'NetDrop', src: ADDR1, dst: ADDR2 }]);
  });
});

// ---- node: seeded defects, one per guard ----

/** The trace up to (not including) the first event matching `pred`. */
function until(trace: readonly TraceEvent[], pred: (e: TraceEvent) => boolean): TraceEvent[] {
  const i = trace.findIndex(pred);
  if (i < 0) throw new Error('no such event in the trace');
  return trace.slice(0, i);
}
/** The trace up to (not including) the last event matching `pred`. */
function untilLast(trace: readonly TraceEvent[], pred: (e: TraceEvent) => boolean): TraceEvent[] {
  let i = trace.length - 1;
  while (i >= 0 && !pred(trace[i]!)) i--;
  if (i < 0) throw new Error('no such event in the trace');
  return trace.slice(0, i);
}
const is = (node: string, action: string, fields: Record<string, unknown> = {}) => (e: TraceEvent) =>
  e.node === node && e.action === action && Object.entries(fields).every(([k, v]) => JSON.stringify(e[k]) === JSON.stringify(v));

describe('node: start, restart, terms', () => {
  it('NodeStart only when down; nothing before it', () => {
    expectRejectsLast([...started(), ev('node1', 'NodeStart', { term: 0, votedFor: null, log: [] })], /hovercraft-node \(node:node1\) in state follower cannot take NodeStart/);
    expectRejectsLast([ev('node1', 'BecomeCandidate', { term: 1 })], /in state down cannot take BecomeCandidate/);
    expectRejectsLast([...readReplied(), host('node1', 'HostCrash'), ev('node1', 'Commit', { term: 1, index: 3 })], /node:node1\) in state down cannot take Commit/);
  });

  it('NodeStart: a log whose terms decrease or pass the term, a vote for no node', () => {
    expectRejectsLast([ev('node1', 'NodeStart', { term: 2, votedFor: null, log: [entry(2, C1, 1, 'node1'), entry(1, C1, 2, 'node1')] })], /NodeStart/);
    expectRejectsLast([ev('node1', 'NodeStart', { term: 2, votedFor: null, log: [entry(3, C1, 1, 'node1')] })], /NodeStart/);
    expectRejectsLast([ev('node1', 'NodeStart', { term: 2, votedFor: 'node9', log: [] })], /NodeStart/);
    // An entry whose replier is not a node reads as not yet announced.
    const m = accepts([ev('node1', 'NodeStart', { term: 2, votedFor: null, log: [entry(1, C1, 1, 'node1'), entry(2, C1, 2, '')] })]);
    expect(nodeCtx(m, 'node1').announced).toBe(1);
  });

  it('a restarted node hands back at least the persisted term, vote and committed log', () => {
    const down = [...readReplied(), host('node1', 'HostCrash'), host('node1', 'HostRestart')];
    const log = [noop(1, 'node1'), E2, E3];
    accepts([...down, ev('node1', 'NodeStart', { term: 1, votedFor: 'node1', log })]);
    accepts([...down, ev('node1', 'NodeStart', { term: 4, votedFor: null, log: [...log, entry(2, C2, 9, 'node2')] })]);
    expectRejectsLast([...down, ev('node1', 'NodeStart', { term: 0, votedFor: null, log })], /down cannot take NodeStart/); // term lost
    expectRejectsLast([...down, ev('node1', 'NodeStart', { term: 1, votedFor: 'node2', log })], /NodeStart/); // vote changed
    expectRejectsLast([...down, ev('node1', 'NodeStart', { term: 1, votedFor: null, log })], /NodeStart/); // vote lost
    expectRejectsLast([...down, ev('node1', 'NodeStart', { term: 1, votedFor: 'node1', log: log.slice(0, 2) })], /NodeStart/); // entry lost
    expectRejectsLast([...down, ev('node1', 'NodeStart', { term: 1, votedFor: 'node1', log: [noop(1, 'node1'), entry(1, C1, 1, 'node3'), E3] })],
      /NodeStart/); // replier changed
    // A term seen by others (node1's request_vote of term 2) survives even with an empty log.
    const voted = [...started(), ev('node1', 'BecomeCandidate', { term: 1 }), ev('node1', 'BecomeCandidate', { term: 2 }),
      ev('node2', 'HandleRequestVote', { from: 'node1', term: 2, lastIndex: 0, lastTerm: 0, granted: true }),
      host('node1', 'HostCrash'), host('node1', 'HostRestart')];
    expectRejectsLast([...voted, ev('node1', 'NodeStart', { term: 1, votedFor: null, log: [] })], /NodeStart/);
    accepts([...voted, ev('node1', 'NodeStart', { term: 2, votedFor: 'node1', log: [] })]);
    // A node that restarts before anyone heard from it starts from nothing.
    accepts([...started(), host('node2', 'HostRestart'), ev('node2', 'NodeStart', { term: 0, votedFor: null, log: [] })]);
  });

  it('BecomeCandidate takes exactly the next term, and never as leader', () => {
    expectRejectsLast([...started(), ev('node1', 'BecomeCandidate', { term: 2 })], /BecomeCandidate/);
    expectRejectsLast([...elected(), ev('node2', 'BecomeCandidate', { term: 1 })], /follower cannot take BecomeCandidate/);
    expectRejectsLast([...elected(), ev('node1', 'BecomeCandidate', { term: 2 })], /leader cannot take BecomeCandidate/);
    const m = accepts([...started(), ev('node1', 'BecomeCandidate', { term: 1 }), ev('node1', 'BecomeCandidate', { term: 2 })]);
    expect(nodeCtx(m, 'node1')).toMatchObject({ term: 2, votedFor: 'node1', voters: ['node1'] });
  });

  it('StepDown only to a higher term (a candidate also in its own)', () => {
    expectRejectsLast([...elected(), ev('node1', 'StepDown', { term: 1 })], /leader cannot take StepDown/);
    expectRejectsLast([...elected(), ev('node2', 'StepDown', { term: 1 })], /StepDown/);
    expectRejectsLast([...elected(), ev('node2', 'StepDown', { term: 0 })], /StepDown/);
    const m = accepts([...started(), ev('node1', 'BecomeCandidate', { term: 1 }), ev('node1', 'StepDown', { term: 1 })]);
    expect(nodeState(m, 'node1')).toBe('follower');
  });
});

describe('node: elections', () => {
  const candidate = () => [...started(), ev('node1', 'BecomeCandidate', { term: 1 })];

  it('SendRequestVote: the candidate\'s term and last entry, to a peer', () => {
    accepts([...candidate(), ev('node1', 'SendRequestVote', { to: 'node2', term: 1, lastIndex: 0, lastTerm: 0 })]);
    expectRejectsLast([...candidate(), ev('node1', 'SendRequestVote', { to: 'node2', term: 1, lastIndex: 1, lastTerm: 0 })], /SendRequestVote/);
    expectRejectsLast([...candidate(), ev('node1', 'SendRequestVote', { to: 'node2', term: 1, lastIndex: 0, lastTerm: 1 })], /SendRequestVote/);
    expectRejectsLast([...candidate(), ev('node1', 'SendRequestVote', { to: 'node1', term: 1, lastIndex: 0, lastTerm: 0 })], /SendRequestVote/);
    expectRejectsLast([...candidate(), ev('node1', 'SendRequestVote', { to: 'node2', term: 2, lastIndex: 0, lastTerm: 0 })], /SendRequestVote/);
    expectRejectsLast([...started(), ev('node1', 'SendRequestVote', { to: 'node2', term: 0, lastIndex: 0, lastTerm: 0 })], /follower cannot take SendRequestVote/);
  });

  it('HandleRequestVote: one vote per term, for an up-to-date candidate, never in a past term', () => {
    const grant = (from: string, term: number, lastIndex = 0, lastTerm = 0) =>
      ev('node2', 'HandleRequestVote', { from, term, lastIndex, lastTerm, granted: true });
    accepts([...elected(), grant('node1', 1)]); // the same candidate again
    expectRejectsLast([...elected(), grant('node3', 1)], /HandleRequestVote/); // a second vote in term 1
    expectRejectsLast([...elected(), grant('node3', 0)], /HandleRequestVote/); // a past term
    expectRejectsLast([...elected(), ev('node2', 'StepDown', { term: 2 }), grant('node3', 1)], /HandleRequestVote/); // a past term, no vote yet
    expectRejectsLast([...elected(), grant('node2', 2)], /HandleRequestVote/); // from itself
    expectRejectsLast([...elected(), ev('node1', 'HandleRequestVote', { from: 'node3', term: 1, lastIndex: 0, lastTerm: 0, granted: true })],
      /leader cannot take HandleRequestVote/);
    // node2 holds [N1, E2]: a candidate with one entry of term 1 is behind.
    accepts([...putReplied(), grant('node3', 2, 2, 1)]);
    accepts([...putReplied(), grant('node3', 2, 1, 2)]); // a higher last term wins
    expectRejectsLast([...putReplied(), grant('node3', 2, 1, 1)], /HandleRequestVote/);
    // Refusing is always possible, and a higher term is adopted.
    const m = accepts([...elected(), ev('node2', 'HandleRequestVote', { from: 'node3', term: 5, lastIndex: 0, lastTerm: 0, granted: false })]);
    expect(nodeCtx(m, 'node2')).toMatchObject({ term: 5, votedFor: null, leader: null });
  });

  it('HandleVoteReply: votes is the tally of distinct voters', () => {
    const reply = (from: string, term: number, granted: boolean, votes: number) => ev('node1', 'HandleVoteReply', { from, term, granted, votes });
    accepts([...candidate(), reply('node2', 1, true, 2), reply('node2', 1, true, 2), reply('node3', 1, false, 2)]);
    expectRejectsLast([...candidate(), reply('node2', 1, true, 3)], /HandleVoteReply/);
    expectRejectsLast([...candidate(), reply('node2', 1, true, 2), reply('node2', 1, true, 3)], /HandleVoteReply/); // counted twice
    expectRejectsLast([...candidate(), reply('node3', 1, false, 2)], /HandleVoteReply/);
    expectRejectsLast([...candidate(), reply('node2', 2, true, 2)], /HandleVoteReply/); // granted in a term it is not running in
    // A reply of an earlier election counts for nothing.
    const again = [...candidate(), ev('node1', 'BecomeCandidate', { term: 2 })];
    accepts([...again, reply('node2', 1, true, 1)]);
    expectRejectsLast([...again, reply('node2', 1, true, 2)], /HandleVoteReply/);
    // A refusal of a higher term: the candidate steps down.
    const m = accepts([...candidate(), reply('node2', 4, false, 1)]);
    expect(nodeState(m, 'node1')).toBe('follower');
    expect(nodeCtx(m, 'node1').term).toBe(4);
    expectRejectsLast([...elected(), reply('node3', 1, true, 3)], /leader cannot take HandleVoteReply/);
  });

  it('BecomeLeader only with a majority of N, in the candidate\'s term', () => {
    expectRejectsLast([...candidate(), ev('node1', 'BecomeLeader', { term: 1 })], /candidate cannot take BecomeLeader/);
    const won = [...candidate(), ev('node1', 'HandleVoteReply', { from: 'node2', term: 1, granted: true, votes: 2 })];
    expectRejectsLast([...won, ev('node1', 'BecomeLeader', { term: 2 })], /BecomeLeader/);
    // Two votes of five are no majority.
    const five: HovercraftMonitorConfig = { ...CONFIG, nodes: 5, roles: { ...CONFIG.roles, node4: 'node', node5: 'node' } };
    expectRejectsLast([...won, ev('node1', 'BecomeLeader', { term: 1 })], /BecomeLeader/, five);
    accepts([...won, ev('node1', 'HandleVoteReply', { from: 'node4', term: 1, granted: true, votes: 3 }), ev('node1', 'BecomeLeader', { term: 1 })], five);
    // One node alone is a majority of one.
    const one: HovercraftMonitorConfig = { ...CONFIG, nodes: 1, roles: { node1: 'node' } };
    accepts([ev('node1', 'NodeStart', { term: 0, votedFor: null, log: [] }), ev('node1', 'BecomeCandidate', { term: 1 }), ev('node1', 'BecomeLeader', { term: 1 })], one);
  });
});

describe('node: the leader appends, announces and sends', () => {
  const appended = () => [...noopCommitted(), ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false })];
  const announce = (index: number, replier: string, queue: number) => ev('node1', 'Announce', { term: 1, index, replier, queue });

  it('LeaderAppend: at the end of the log, in the current term, as leader', () => {
    expectRejectsLast([...noopCommitted(), ev('node1', 'LeaderAppend', { term: 1, index: 3, client: C1, rid: 1, ro: false })], /LeaderAppend/);
    expectRejectsLast([...noopCommitted(), ev('node1', 'LeaderAppend', { term: 2, index: 2, client: C1, rid: 1, ro: false })], /LeaderAppend/);
    expectRejectsLast([...noopCommitted(), ev('node2', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false })], /follower cannot take LeaderAppend/);
    // The no-op, appended by BecomeLeader, may be restated once.
    const restated = [...elected(), ev('node1', 'LeaderAppend', { term: 1, index: 1, client: NOOP, rid: 1, ro: false })];
    accepts(restated);
    expectRejectsLast([...restated, ev('node1', 'LeaderAppend', { term: 1, index: 1, client: NOOP, rid: 1, ro: false })], /LeaderAppend/);
    expectRejectsLast([...elected(), ev('node1', 'LeaderAppend', { term: 1, index: 3, client: NOOP, rid: 1, ro: false })], /LeaderAppend/);
    for (const other of [{ client: C1 }, { rid: 2 }, { ro: true }]) {
      expectRejectsLast([...elected(), ev('node1', 'LeaderAppend', { term: 1, index: 1, client: NOOP, rid: 1, ro: false, ...other })], /LeaderAppend/);
    }
  });

  it('Announce: in log order, once per entry, queue within B', () => {
    accepts([...appended(), announce(2, 'node3', 2)]);
    const two = [...appended(), ev('node1', 'LeaderAppend', { term: 1, index: 3, client: C2, rid: 7, ro: true })];
    expectRejectsLast([...two, announce(3, 'node2', 1)], /Announce/); // skips index 2
    expectRejectsLast([...appended(), announce(3, 'node2', 1)], /Announce/); // beyond the log
    expectRejectsLast([...putReplied(), announce(3, 'node2', 1)], /Announce/); // beyond the log, all announced
    expectRejectsLast([...putReplied(), announce(2, 'node3', 1)], /Announce/); // a second replier for entry 2
    expectRejectsLast([...appended(), announce(2, 'node2', 3)], /Announce/); // queue over B = 2
    expectRejectsLast([...appended(), announce(2, 'node2', 0)], /Announce/); // the entry is in the queue
    expectRejectsLast([...appended(), announce(2, 'client1', 1)], /Announce/); // not a node
    expectRejectsLast([...appended(), ev('node1', 'Announce', { term: 2, index: 2, replier: 'node2', queue: 1 })], /Announce/);
    // The no-op's replier was fixed by BecomeLeader; it may be restated once, as the leader.
    accepts([...elected(), announce(1, 'node1', 1)]);
    expectRejectsLast([...elected(), announce(1, 'node1', 1), announce(1, 'node1', 1)], /Announce/);
    expectRejectsLast([...elected(), announce(1, 'node2', 1)], /Announce/);
    expectRejectsLast([...appended(), announce(3, 'node1', 1)], /Announce/); // not the no-op's index
  });

  it('Announce under replierPolicy "leader": the leader itself, no bound', () => {
    const leader: HovercraftMonitorConfig = { ...CONFIG, replierPolicy: 'leader' };
    accepts([...appended(), announce(2, 'node1', 7)], leader);
    expectRejectsLast([...appended(), announce(2, 'node2', 1)], /Announce/, leader);
    // raft mode is the same, whatever replierPolicy says.
    accepts([...appended(), announce(2, 'node1', 7)], { ...CONFIG, mode: 'raft' });
    expectRejectsLast([...appended(), announce(2, 'node2', 1)], /Announce/, { ...CONFIG, mode: 'raft' });
  });

  it('without the mode, B does not bind the leader naming itself (raft mode looks the same)', () => {
    const { mode: _mode, ...noMode } = CONFIG;
    accepts([...appended(), announce(2, 'node1', 3)], noMode);
    expectRejectsLast([...appended(), announce(2, 'node2', 3)], /Announce/, noMode);
    expectRejectsLast([...appended(), announce(2, 'node1', 3)], /Announce/); // with the mode known
  });

  it('SendAppendEntries: exactly the leader\'s announced entries, to a peer, commit within the leader\'s', () => {
    const send = (to: string, prevIndex: number, prevTerm: number, entries: Entry[], commit: number) =>
      ev('node1', 'SendAppendEntries', { to, term: 1, prevIndex, prevTerm, entries, commit });
    expectRejectsLast([...putReplied(), send('node3', 1, 1, [entry(1, C1, 1, 'node3')], 2)], /SendAppendEntries/); // replier changed
    expectRejectsLast([...appended(), send('node2', 1, 1, [entry(1, C1, 1, 'node2')], 1)], /SendAppendEntries/); // not announced yet
    expectRejectsLast([...putReplied(), send('node2', 1, 0, [], 2)], /SendAppendEntries/); // wrong prevTerm
    expectRejectsLast([...putReplied(), send('node2', 2, 1, [E3], 2)], /SendAppendEntries/); // beyond the log
    expectRejectsLast([...putReplied(), send('node2', 2, 1, [], 3)], /SendAppendEntries/); // commit above the leader's
    expectRejectsLast([...putReplied(), send('node1', 2, 1, [], 2)], /SendAppendEntries/); // to itself
    expectRejectsLast([...putReplied(), send('aggregator', 2, 1, [], 2)], /SendAppendEntries/); // aggregator not in use
    expectRejectsLast([...putReplied(), ev('node1', 'SendAppendEntries', { to: 'node2', term: 2, prevIndex: 2, prevTerm: 1, entries: [], commit: 2 })],
      /SendAppendEntries/);
    accepts([...putReplied(), ev('node1', 'LeaderUseAggregator', { term: 1 }), send('aggregator', 2, 1, [], 2)]);
  });

  it('LeaderUseAggregator once per term, as leader', () => {
    const using = [...elected(), ev('node1', 'LeaderUseAggregator', { term: 1 })];
    accepts(using);
    expectRejectsLast([...using, ev('node1', 'LeaderUseAggregator', { term: 1 })], /LeaderUseAggregator/);
    expectRejectsLast([...elected(), ev('node1', 'LeaderUseAggregator', { term: 2 })], /LeaderUseAggregator/);
    expectRejectsLast([...elected(), ev('node2', 'LeaderUseAggregator', { term: 1 })], /follower cannot take LeaderUseAggregator/);
  });
});

describe('node: followers store, leaders count', () => {
  const append = (node: string, fields: Partial<HovercraftActions['HandleAppendEntries']>) => ev(node, 'HandleAppendEntries', {
    from: 'node1', term: 1, prevIndex: 1, prevTerm: 1, entries: [], commit: 1, success: true, matchIndex: 1, missing: [], ...fields,
  });

  it('success only when the log has (prevIndex, prevTerm); failure only when it does not', () => {
    expectRejectsLast([...noopCommitted(), append('node2', { prevIndex: 2, matchIndex: 2 })], /HandleAppendEntries/);
    expectRejectsLast([...noopCommitted(), append('node2', { success: false, matchIndex: 0 })], /HandleAppendEntries/);
    accepts([...noopCommitted(), append('node2', { prevIndex: 2, success: false, matchIndex: 1 })]);
  });

  it('a leader never takes an append_entries of its own term; one leader per term', () => {
    expectRejectsLast([...elected(), ev('node1', 'HandleAppendEntries', {
      from: 'node2', term: 1, prevIndex: 0, prevTerm: 0, entries: [], commit: 0, success: true, matchIndex: 0, missing: [],
    })], /leader cannot take HandleAppendEntries/);
    expectRejectsLast([...noopCommitted(), append('node2', { from: 'node3' })], /HandleAppendEntries/);
    expectRejectsLast([...noopCommitted(), append('node1', { from: 'aggregator' })], /leader cannot take HandleAppendEntries/);
    accepts([...noopCommitted(), append('node2', { from: 'aggregator' })]);
    // A candidate of the term learns of its leader and follows it.
    const m = accepts([...started(), ev('node2', 'BecomeCandidate', { term: 1 }), append('node2', { prevIndex: 0, prevTerm: 0, commit: 0, matchIndex: 0 })]);
    expect(nodeState(m, 'node2')).toBe('follower');
  });

  it('stored entries never change an entry of the same index and term (its replier included)', () => {
    expectRejectsLast([...putReplied(), append('node3', { entries: [entry(1, C1, 1, 'node1')], commit: 2, matchIndex: 2 })], /HandleAppendEntries/);
    accepts([...putReplied(), append('node3', { entries: [E2], commit: 2, matchIndex: 2 })]);
  });

  it('a conflicting suffix is truncated, but never a committed entry', () => {
    const term2 = (node: string, from: string) => ev(node, 'HandleAppendEntries', {
      from, term: 2, prevIndex: 1, prevTerm: 1, entries: [entry(2, C2, 9, from)], commit: 1, success: true, matchIndex: 2, missing: [],
    });
    // node3 committed index 1 only: entry 2 may go. node2 committed index 2: it may not.
    const m = accepts([...putReplied(), term2('node3', 'node2')]);
    expect(nodeCtx(m, 'node3').logs[0]!.toArray().map((x) => x.client)).toEqual([NOOP, C2]);
    expectRejectsLast([...putReplied(), term2('node2', 'node3')], /HandleAppendEntries/);
  });

  it('matchIndex stops short of the end only at a missing body of an entry left out', () => {
    const pre = [...noopCommitted(), ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false })];
    accepts([...pre, append('node2', { entries: [E2], matchIndex: 1, missing: [[C1, 1]] })]);
    expectRejectsLast([...pre, append('node2', { entries: [E2], matchIndex: 1, missing: [] })], /HandleAppendEntries/);
    expectRejectsLast([...pre, append('node2', { entries: [E2], matchIndex: 2, missing: [[C1, 1]] })], /HandleAppendEntries/);
    expectRejectsLast([...pre, append('node2', { entries: [E2], matchIndex: 1, missing: [[C1, 1], [C2, 9]] })], /HandleAppendEntries/);
    expectRejectsLast([...pre, append('node2', { entries: [E2], matchIndex: 3 })], /HandleAppendEntries/);
    expectRejectsLast([...pre, append('node2', { entries: [E2], matchIndex: 0 })], /HandleAppendEntries/);
    expectRejectsLast([...pre, append('node2', { entries: [E2], matchIndex: 0, missing: [[C1, 1]] })], /HandleAppendEntries/);
  });

  it('well-formed entries: announced, of the append\'s term or earlier', () => {
    expectRejectsLast([...noopCommitted(), append('node2', { entries: [entry(2, C1, 1, 'node2')], matchIndex: 2 })], /HandleAppendEntries/);
    expectRejectsLast([...noopCommitted(), append('node2', { entries: [entry(1, C1, 1, '')], matchIndex: 2 })], /HandleAppendEntries/);
    expectRejectsLast([...noopCommitted(), append('node2', { prevTerm: 2, success: false, matchIndex: 0 })], /HandleAppendEntries/);
  });

  it('a stale leader is refused', () => {
    const stale = { from: 'node1', term: 1, prevIndex: 0, prevTerm: 0, entries: [], commit: 0, matchIndex: 0, missing: [] };
    accepts([...failedOver(), ev('node2', 'HandleAppendEntries', { ...stale, success: false })]);
    expectRejectsLast([...failedOver(), ev('node2', 'HandleAppendEntries', { ...stale, success: true })], /HandleAppendEntries/);
  });

  it('HandleAppendEntriesReply: the leader of the term, matches within its log', () => {
    const reply = (node: string, fields: Partial<HovercraftActions['HandleAppendEntriesReply']>) =>
      ev(node, 'HandleAppendEntriesReply', { from: 'node3', term: 1, success: true, matchIndex: 1, applied: 0, ...fields });
    expectRejectsLast([...noopCommitted(), reply('node2', {})], /HandleAppendEntriesReply/);
    expectRejectsLast([...noopCommitted(), reply('node1', { matchIndex: 2 })], /HandleAppendEntriesReply/);
    expectRejectsLast([...noopCommitted(), reply('node1', { term: 2 })], /HandleAppendEntriesReply/);
    accepts([...noopCommitted(), reply('node1', { term: 0, matchIndex: 9 })]); // an old term's reply changes nothing
    const m = accepts([...noopCommitted(), reply('node1', { term: 2, success: false })]);
    expect(nodeState(m, 'node1')).toBe('follower');
  });

  it('Commit: only up, a leader by a majority of its own term\'s entries, a follower up to what it verified and heard', () => {
    expectRejectsLast([...putReplied(), ev('node1', 'Commit', { term: 1, index: 1 })], /Commit/);
    expectRejectsLast([...putReplied(), ev('node1', 'Commit', { term: 1, index: 3 })], /Commit/);
    expectRejectsLast([...putReplied(), ev('node1', 'Commit', { term: 2, index: 2 })], /Commit/);
    // No reply for entry 2 yet: only the leader has it.
    const sent = until(putReplied(), is('node1', 'HandleAppendEntriesReply', { matchIndex: 2 }));
    expectRejectsLast([...sent, ev('node1', 'Commit', { term: 1, index: 2 })], /Commit/);
    const replied = until(putReplied(), is('node1', 'Commit', { index: 2 }));
    accepts([...replied, ev('node1', 'Commit', { term: 1, index: 2 })]);
    expectRejectsLast([...replied, ev('node1', 'Commit', { term: 2, index: 2 })], /Commit/);
    // A new term: nothing is verified against its leader yet, whatever was heard before.
    const stored = [...noopCommitted(), append('node2', { entries: [E2], matchIndex: 2 })];
    accepts([...stored, ev('node2', 'Commit', { term: 1, index: 1 })]);
    expectRejectsLast([...stored, ev('node2', 'StepDown', { term: 2 }), ev('node2', 'Commit', { term: 2, index: 1 })], /Commit/);
    // node2 heard commit 0 only; node3 heard commit 1 and verified 2.
    expectRejectsLast([...noopCommitted(), ev('node2', 'Commit', { term: 1, index: 1 })], /Commit/);
    expectRejectsLast([...putReplied(), ev('node3', 'Commit', { term: 1, index: 2 })], /Commit/);
    // Heard commit 5, verified 1.
    const heard = [...noopCommitted(), append('node2', { commit: 5 })];
    accepts([...heard, ev('node2', 'Commit', { term: 1, index: 1 })]);
    expectRejectsLast([...heard, ev('node2', 'Commit', { term: 1, index: 2 })], /Commit/);
  });

  it('Commit: a new leader commits an earlier term\'s entry only with one of its own', () => {
    // E2 reaches node3 only, then node1 fails; node3 leads term 2 with node2's vote.
    const pre = [
      ...noopCommitted(),
      ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false }),
      ev('node1', 'Announce', { term: 1, index: 2, replier: 'node2', queue: 1 }),
      ev('node1', 'SendAppendEntries', { to: 'node3', term: 1, prevIndex: 1, prevTerm: 1, entries: [E2], commit: 1 }),
      append('node3', { entries: [E2], matchIndex: 2 }),
      host('node1', 'HostCrash'),
      ev('node3', 'BecomeCandidate', { term: 2 }),
      ev('node2', 'HandleRequestVote', { from: 'node3', term: 2, lastIndex: 2, lastTerm: 1, granted: true }),
      ev('node3', 'HandleVoteReply', { from: 'node2', term: 2, granted: true, votes: 2 }),
      ev('node3', 'BecomeLeader', { term: 2 }),
      ev('node3', 'SendAppendEntries', { to: 'node2', term: 2, prevIndex: 1, prevTerm: 1, entries: [E2, noop(2, 'node3')], commit: 0 }),
      ev('node2', 'HandleAppendEntries', {
        from: 'node3', term: 2, prevIndex: 1, prevTerm: 1, entries: [E2, noop(2, 'node3')], commit: 0, success: true, matchIndex: 3, missing: [],
      }),
      ev('node3', 'HandleAppendEntriesReply', { from: 'node2', term: 2, success: true, matchIndex: 3, applied: 0 }),
    ];
    accepts([...pre, ev('node3', 'Commit', { term: 2, index: 3 })]);
    expectRejectsLast([...pre, ev('node3', 'Commit', { term: 2, index: 2 })], /Commit/);
  });

  it('Apply: in order, never past commit, the entry as logged, read-only entries executed by their replier only', () => {
    const apply = (node: string, index: number, fields: Partial<HovercraftActions['Apply']> = {}) =>
      ev(node, 'Apply', { index, client: C1, rid: 1, replier: 'node2', ro: false, executed: true, digest: 'd', ...fields });
    expectRejectsLast([...noopCommitted(), apply('node2', 1, { client: NOOP, replier: 'node1' })], /Apply/); // commit is 0
    const committed3 = untilLast(failedOver(), is('node1', 'Apply', { index: 1 })); // after the restart
    accepts([...committed3, apply('node1', 1, { client: NOOP, replier: 'node1' })]);
    expectRejectsLast([...committed3, apply('node1', 2)], /Apply/); // skips 1
    const at2 = until(putReplied(), is('node1', 'Apply', { index: 2 }));
    expectRejectsLast([...at2, apply('node1', 2, { replier: 'node3' })], /Apply/);
    expectRejectsLast([...at2, apply('node1', 2, { rid: 2 })], /Apply/);
    expectRejectsLast([...at2, apply('node1', 2, { ro: true, executed: false })], /Apply/);
    expectRejectsLast([...at2, apply('node1', 2, { executed: false })], /Apply/); // read-write: executed by all
    const at3 = until(readReplied(), is('node1', 'Apply', { index: 3 }));
    const ro3 = { client: C2, rid: 7, replier: 'node3', ro: true };
    expectRejectsLast([...at3, apply('node1', 3, { ...ro3, executed: true })], /Apply/); // not its replier
    accepts([...at3, apply('node1', 3, { ...ro3, executed: false })]);
  });

  it('Reply: an applied entry of this replier, once, with a result of its kind', () => {
    const reply2 = (node: string, fields: Partial<HovercraftActions['Reply']> = {}) =>
      ev(node, 'Reply', { index: 2, client: C1, rid: 1, result: true, ...fields });
    expectRejectsLast([...putReplied(), reply2('node2')], /Reply/); // a second reply
    expectRejectsLast([...putReplied(), reply2('node1')], /Reply/); // node2 is the replier
    expectRejectsLast([...until(putReplied(), is('node2', 'Reply')).slice(0, -1), reply2('node2')], /Reply/); // not applied yet
    expectRejectsLast([...putReplied(), ev('node1', 'Reply', { index: 1, client: NOOP, rid: 1, result: true })], /Reply/); // the no-op
    expectRejectsLast([...putReplied(), ev('node2', 'Reply', { index: 0, client: C1, rid: 1, result: true })], /Reply/); // no entry
    const before = until(putReplied(), is('node2', 'Reply'));
    expectRejectsLast([...before, reply2('node2', { rid: 2 })], /Reply/);
    expectRejectsLast([...before, reply2('node2', { client: C2 })], /Reply/);
    expectRejectsLast([...before, reply2('node2', { result: 'v' })], /Reply/); // a put answers a boolean
    const beforeRo = until(readReplied(), is('node3', 'Reply'));
    expectRejectsLast([...beforeRo, ev('node3', 'Reply', { index: 3, client: C2, rid: 7, result: true })], /Reply/); // a get answers a value
    accepts([...beforeRo, ev('node3', 'Reply', { index: 3, client: C2, rid: 7, result: null })]);
  });

  it('HandleAggCommit only in the current term, a leader\'s within its log', () => {
    expectRejectsLast([...aggregated(), ev('node1', 'HandleAggCommit', { term: 2, commit: 5, applied: ap(4, 5) })], /HandleAggCommit/);
    expectRejectsLast([...aggregated(), ev('node3', 'HandleAggCommit', { term: 3, commit: 6, applied: ap(4, 5) })], /HandleAggCommit/);
    accepts([...aggregated(), ev('node1', 'HandleAggCommit', { term: 3, commit: 9, applied: ap(4, 5) })]);
  });
});

describe('node: request bodies', () => {
  it('FollowerBuffer only while not leader; FollowerGc only a request in the unordered set', () => {
    expectRejectsLast([...elected(), ev('node1', 'FollowerBuffer', { client: C1, rid: 1, ro: false })], /leader cannot take FollowerBuffer/);
    const buffered = [...started(), ev('node2', 'FollowerBuffer', { client: C1, rid: 1, ro: false })];
    accepts([...buffered, ev('node2', 'FollowerGc', { client: C1, rid: 1 })]);
    expectRejectsLast([...buffered, ev('node2', 'FollowerGc', { client: C1, rid: 2 })], /FollowerGc/);
    expectRejectsLast([...buffered, ev('node2', 'FollowerGc', { client: C1, rid: 1 }), ev('node2', 'FollowerGc', { client: C1, rid: 1 })], /FollowerGc/);
    // Once stored in the log it is no longer unordered.
    expectRejectsLast([...putReplied(), ev('node2', 'FollowerGc', { client: C1, rid: 1 })], /FollowerGc/);
  });

  it('recovery: requests only for bodies reported missing, replies only to requests, found only for bodies held', () => {
    const missing = until(readReplied(), is('node3', 'SendRecoveryRequest'));
    expectRejectsLast([...missing, ev('node3', 'SendRecoveryRequest', { to: 'node1', client: C2, rid: 8 })], /SendRecoveryRequest/);
    expectRejectsLast([...missing, ev('node3', 'SendRecoveryRequest', { to: 'node3', client: C2, rid: 7 })], /SendRecoveryRequest/);
    expectRejectsLast([...missing, ev('node3', 'HandleRecoveryReply', { from: 'node1', client: C2, rid: 7 })], /HandleRecoveryReply/);
    expectRejectsLast([...putReplied(), ev('node1', 'HandleRecoveryRequest', { from: 'node3', client: C2, rid: 7, found: true })], /HandleRecoveryRequest/);
    accepts([...putReplied(), ev('node1', 'HandleRecoveryRequest', { from: 'node3', client: C2, rid: 7, found: false })]);
    // A buffered body and a logged one are both found.
    accepts([...putReplied(), ev('node2', 'FollowerBuffer', { client: C2, rid: 7, ro: true }),
      ev('node2', 'HandleRecoveryRequest', { from: 'node3', client: C2, rid: 7, found: true }),
      ev('node2', 'HandleRecoveryRequest', { from: 'node3', client: C1, rid: 1, found: true })]);
  });
});

describe('node: two possible logs', () => {
  it('an append that stops at a missing body where the log conflicts: truncated or kept, until told apart', () => {
    // node3 holds [N1, E2] (E2 not committed); node2 leads term 2 and sends [2, C2, 9] at index 2,
    // whose body node3 lacks.
    const pre = [
      ...elected(),
      ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false }),
      ev('node1', 'Announce', { term: 1, index: 2, replier: 'node2', queue: 1 }),
      ev('node1', 'SendAppendEntries', { to: 'node3', term: 1, prevIndex: 0, prevTerm: 0, entries: [noop(1, 'node1'), E2], commit: 0 }),
      ev('node3', 'HandleAppendEntries', {
        from: 'node1', term: 1, prevIndex: 0, prevTerm: 0, entries: [noop(1, 'node1'), E2], commit: 0, success: true, matchIndex: 2, missing: [],
      }),
      ev('node3', 'HandleAppendEntries', {
        from: 'node2', term: 2, prevIndex: 1, prevTerm: 1, entries: [entry(2, C2, 9, 'node2')], commit: 1, success: true, matchIndex: 1,
        missing: [[C2, 9]],
      }),
      ev('node3', 'BecomeCandidate', { term: 3 }),
    ];
    const m = accepts(pre);
    expect(nodeCtx(m, 'node3').logs.map((l) => l.length)).toEqual([2, 1]);
    const vote = (lastIndex: number) => ev('node3', 'SendRequestVote', { to: 'node1', term: 3, lastIndex, lastTerm: 1 });
    accepts([...pre, vote(2), vote(2)]);
    accepts([...pre, vote(1), vote(1)]);
    expectRejectsLast([...pre, vote(3)], /SendRequestVote/);
    expectRejectsLast([...pre, vote(2), vote(1)], /SendRequestVote/);
  });

  it('a leader leaving office with unannounced entries: dropped or kept', () => {
    const pre = [
      ...elected(),
      ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false }),
      ev('node1', 'StepDown', { term: 2 }),
      ev('node1', 'BecomeCandidate', { term: 3 }),
    ];
    const vote = (lastIndex: number) => ev('node1', 'SendRequestVote', { to: 'node2', term: 3, lastIndex, lastTerm: 1 });
    accepts([...pre, vote(1)]);
    accepts([...pre, vote(2)]);
    expectRejectsLast([...pre, vote(0)], /SendRequestVote/);
  });
});

describe('node: malformed fields', () => {
  /** A prefix, an event it takes, and corruptions of that event, each of which it must refuse. */
  type Case = readonly [name: string, prefix: () => TraceEvent[], valid: TraceEvent, bad: readonly Record<string, unknown>[]];
  const candidate = () => [...started(), ev('node1', 'BecomeCandidate', { term: 1 })];
  const missing = () => until(readReplied(), is('node3', 'SendRecoveryRequest'));
  const asked = () => until(readReplied(), is('node1', 'HandleRecoveryRequest'));
  const cases: readonly Case[] = [
    ['NodeStart', () => [], ev('node1', 'NodeStart', { term: 2, votedFor: null, log: [entry(1, C1, 1, 'node1')] }), [
      { term: -1 }, { term: 1.5 }, { votedFor: 'node9' }, { log: 'x' }, { log: [[1, C1, 1, 'node1']] }, { log: [[0, C1, 1, 'node1', false]] },
      { log: [[1, 5, 1, 'node1', false]] }, { log: [[1, C1, -1, 'node1', false]] }, { log: [[1, C1, 1, 7, false]] },
      { log: [[1, C1, 1, 'node1', 'no']] }, { log: 5 }, { log: [[1, C1, 1, 'node1', false, 'extra']] },
      { log: [{ 0: 1, 1: C1, 2: 1, 3: 'node1', 4: false, length: 5 }] },
    ]],
    ['FollowerBuffer', started, ev('node2', 'FollowerBuffer', { client: C1, rid: 1, ro: false }), [{ client: 5 }, { rid: -1 }, { ro: 'no' }]],
    ['LeaderAppend', noopCommitted, ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false }), [
      { client: 5 }, { rid: 1.5 }, { ro: 'no' },
    ]],
    ['HandleRequestVote', elected, ev('node2', 'HandleRequestVote', { from: 'node1', term: 1, lastIndex: 0, lastTerm: 0, granted: true }), [
      { from: 'node9' }, { term: 1.5 }, { lastIndex: -1, lastTerm: 5 }, { lastTerm: 0.5 }, { granted: 'yes' },
    ]],
    ['HandleVoteReply', candidate, ev('node1', 'HandleVoteReply', { from: 'node2', term: 1, granted: true, votes: 2 }), [
      { from: 'node9' }, { term: 'x' }, { granted: 'yes' },
    ]],
    ['StepDown', started, ev('node2', 'StepDown', { term: 1 }), [{ term: 1.5 }]],
    ['Announce', () => [...noopCommitted(), ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false })],
      ev('node1', 'Announce', { term: 1, index: 2, replier: 'node3', queue: 1 }), [{ queue: 1.5 }]],
    ['SendAppendEntries', putReplied, ev('node1', 'SendAppendEntries', { to: 'node2', term: 1, prevIndex: 2, prevTerm: 1, entries: [], commit: 2 }), [
      { to: 'node9' }, { commit: -1 }, { commit: 1.5 }, { entries: 'x' },
    ]],
    ['HandleAppendEntries', noopCommitted, ev('node2', 'HandleAppendEntries', {
      from: 'node1', term: 1, prevIndex: 1, prevTerm: 1, entries: [], commit: 1, success: true, matchIndex: 1, missing: [],
    }), [
      { from: 'node9' }, { term: 1.5 }, { prevIndex: 1.5, success: false }, { prevTerm: -1, success: false }, { commit: -1 },
      { success: 'yes' }, { prevIndex: 2, success: false, matchIndex: -1 }, { entries: 'x' }, { missing: 'x' }, { missing: [[C1]] },
      ...[5, [[C1]], [[C1, 1, 2]], [[5, 1]], [[C1, -1]], [{ 0: C1, 1: 1, length: 2 }]].map((m) => ({ prevIndex: 2, success: false, missing: m })),
    ]],
    ['HandleAppendEntriesReply', noopCommitted, ev('node1', 'HandleAppendEntriesReply', { from: 'node2', term: 1, success: true, matchIndex: 1, applied: 0 }), [
      { from: 'node9' }, { term: 1.5, success: false }, { success: 'yes' }, { matchIndex: -1 }, { applied: -1 },
    ]],
    ['SendRecoveryRequest', missing, ev('node3', 'SendRecoveryRequest', { to: 'node1', client: C2, rid: 7 }), [{ to: 'node9' }]],
    ['HandleRecoveryRequest', putReplied, ev('node1', 'HandleRecoveryRequest', { from: 'node3', client: C2, rid: 7, found: false }), [
      { from: 'node9' }, { client: 5 }, { rid: -1 }, { client: C1, rid: 1, found: 'yes' },
    ]],
    ['HandleRecoveryReply', asked, ev('node3', 'HandleRecoveryReply', { from: 'node1', client: C2, rid: 7 }), [{ from: 'node9' }]],
    ['Commit', () => until(putReplied(), is('node2', 'Commit', { index: 2 })), ev('node2', 'Commit', { term: 1, index: 2 }), [{ index: 1.5 }]],
    ['Apply', () => until(noopCommitted(), is('node1', 'Apply')),
      ev('node1', 'Apply', { index: 1, client: NOOP, rid: 1, replier: 'node1', ro: false, executed: true, digest: 'e0' }), [
        { digest: 5 }, { executed: 'yes' },
      ]],
    ['HandleAggCommit', noopCommitted, ev('node2', 'HandleAggCommit', { term: 1, commit: 1, applied: ap() }), [
      { commit: -1 }, { commit: 0.5 }, { applied: 0 }, { applied: [['node1', 0], ['node2', 0]] }, { applied: ap(0, -1) },
      { applied: [['node1', 0], ['node1', 0], ['node3', 0]] }, { applied: [['node1', 0], ['node2', 0], ['node9', 0]] },
    ]],
  ];
  for (const [name, prefix, valid, bad] of cases) {
    it(name, () => {
      accepts([...prefix(), valid]);
      for (const b of bad) expectRejectsLast([...prefix(), { ...valid, ...b } as TraceEvent], new RegExp(`cannot take ${name} `));
    });
  }
});

describe('aggregator, middlebox, client: malformed fields', () => {
  const flushed = () => [...failedOver(), ev('aggregator', 'AggFlush', { term: 3 }), ev('aggregator', 'AggProbe', { from: 'node3', term: 3 })];
  const forward = ev('aggregator', 'AggForward', { term: 3, prevIndex: 4, count: 1, commit: 4 });
  const reply = ev('aggregator', 'AggReply', { from: 'node1', term: 3, matchIndex: 5, applied: 0 });
  it.each([
    ['AggFlush', () => [], ev('aggregator', 'AggFlush', { term: 1 }), [{ term: 0.5 }]],
    ['AggForward', flushed, forward, [{ prevIndex: -1 }, { count: 0.5 }, { commit: -1 }]],
    ['AggReply', () => [...flushed(), forward], reply, [{ matchIndex: 4.5 }, { applied: -1 }]],
    ['AggCommit', () => [...flushed(), forward, reply], ev('aggregator', 'AggCommit', { term: 3, commit: 5, applied: ap() }), [
      { commit: 4.5 }, { applied: 0 }, { applied: [['node1', 0]] }, { applied: ap(0.5) },
    ]],
    ['MiddleboxForward', () => [], ev('middlebox', 'MiddleboxForward', { client: C1, rid: 1, inflight: 1 }), [{ client: 5 }, { rid: -1 }]],
    ['ClientRequest', () => [], ev('client1', 'ClientRequest', { rid: 1, op: 'put', key: 'k', value: 'v', expected: null, ro: false }), [
      { key: 5 }, { rid: 1.5 },
    ]],
    ['ClientReceiveReply', () => [ev('client1', 'ClientRequest', { rid: 1, op: 'put', key: 'k', value: 'v', expected: null, ro: false })],
      ev('client1', 'ClientReceiveReply', { rid: 1, from: ADDR1, result: true }), [{ from: 5 }]],
  ] as const)('%s', (name, prefix, valid, bad) => {
    accepts([...prefix(), valid]);
    for (const b of bad) expectRejectsLast([...prefix(), { ...valid, ...b } as TraceEvent], new RegExp(`cannot take ${name} `));
  });
});

describe('LogView', () => {
  const x = (rid: number, replier: string | null = 'node1') => ({ term: 1, client: C1, rid, replier, ro: false });
  it('views share storage without seeing each other\'s entries', () => {
    const a = LogView.of([x(1), x(2)]);
    const short = a.truncate(1);
    const b = a.push(x(3)); // in place: a still has two entries
    expect([a.length, a.entry(3), b.entry(3)?.rid]).toEqual([2, undefined, 3]);
    const c = short.push(x(9)); // short ends before the shared storage does: copied
    expect([c.entry(2)?.rid, b.entry(2)?.rid, short.entry(2), short.entry(0)]).toEqual([9, 2, undefined, undefined]);
    expect([b.termAt(0), b.termAt(3), b.termAt(4), b.lastTerm]).toEqual([0, 1, undefined, 1]);
  });

  it('announced: the prefix of entries with a replier', () => {
    const a = LogView.of([x(1), x(2, null), x(3)]);
    expect(a.announced).toBe(1);
    expect(a.withReplier(2, 'node2').announced).toBe(3);
    expect(a.push(x(4)).announced).toBe(1);
    expect(a.truncate(1).push(x(4)).announced).toBe(2);
    expect(a.sameAs(LogView.of(a.toArray()))).toBe(true);
    expect(a.sameAs(a.withReplier(2, 'node2'))).toBe(false);
  });
});

// ---- applied indices never overstated ----

describe('applied indices: the leader never overstates a node\'s applied index', () => {
  it('an append_entries reply reports at most what its sender has applied', () => {
    // At the end of putReplied, node3 has applied up to 1.
    const reply3 = (applied: number) =>
      ev('node1', 'HandleAppendEntriesReply', { from: 'node3', term: 1, success: true, matchIndex: 2, applied });
    accepts([...putReplied(), reply3(1)]);
    expectRejectsLast([...putReplied(), reply3(2)], /HandleAppendEntriesReply/);
    // A failure reports the same way.
    expectRejectsLast([...putReplied(),
      ev('node1', 'HandleAppendEntriesReply', { from: 'node3', term: 1, success: false, matchIndex: 0, applied: 3 })], /HandleAppendEntriesReply/);
  });

  it('an Announce\'s queue is never below the replier\'s true queue', () => {
    // node2 has entry 2 and has applied nothing of it; the leader appends entry 3 and names node2 again.
    const prefix = [
      ...until(putReplied(), is('node1', 'SendAppendEntries', { prevIndex: 1 })),
      ev('node1', 'LeaderAppend', { term: 1, index: 3, client: C2, rid: 7, ro: true }),
    ];
    const announce = (queue: number) => ev('node1', 'Announce', { term: 1, index: 3, replier: 'node2', queue });
    accepts([...prefix, announce(2)]);
    expectRejectsLast([...prefix, announce(1)], /Announce/);
    // Once node2 applied entry 2, a queue of 1 is the truth (the leader knowing or not).
    const later = [...until(putReplied(), is('node2', 'Reply')), ev('node1', 'LeaderAppend', { term: 1, index: 3, client: C2, rid: 7, ro: true })];
    accepts([...later, announce(1)]);
  });

  it('an AGG_COMMIT at a node never says more than the nodes applied', () => {
    // After aggregated(): node1 applied 5, node2 5, node3 (the leader) 5.
    const at3 = (applied: [string, number][]) => ev('node3', 'HandleAggCommit', { term: 3, commit: 5, applied });
    accepts([...aggregated(), at3(ap(5, 5, 0))]);
    expectRejectsLast([...aggregated(), at3(ap(6, 5, 0))], /HandleAggCommit/);
    expectRejectsLast([...aggregated(), ev('node1', 'HandleAggCommit', { term: 3, commit: 5, applied: ap(4, 9) })], /HandleAggCommit/);
  });

  it('the aggregator records no applied index above the truth, and multicasts the ones it recorded', () => {
    const flushed = () => [...failedOver(), ev('aggregator', 'AggFlush', { term: 3 }), ev('aggregator', 'AggProbe', { from: 'node3', term: 3 })];
    const forwarded = [...flushed(), ev('aggregator', 'AggForward', { term: 3, prevIndex: 4, count: 1, commit: 4 })];
    // node1 applied up to 3 by then.
    const reply = (applied: number) => ev('aggregator', 'AggReply', { from: 'node1', term: 3, matchIndex: 5, applied });
    const commit = (applied: [string, number][]) => ev('aggregator', 'AggCommit', { term: 3, commit: 5, applied });
    accepts([...forwarded, reply(3), commit(ap(3))]);
    expectRejectsLast([...forwarded, reply(5)], /AggReply/);
    // AGG_COMMIT carries what the replies said: node1's 3, nobody else's.
    expectRejectsLast([...forwarded, reply(3), commit(ap(2))], /AggCommit/);
    expectRejectsLast([...forwarded, reply(3), commit(ap(3, 1))], /AggCommit/);
    expectRejectsLast([...forwarded, reply(3), commit(ap(5))], /AggCommit/);
  });
});

// ---- aggregator ----

describe('aggregator', () => {
  const flushed = () => [...failedOver(), ev('aggregator', 'AggFlush', { term: 3 }), ev('aggregator', 'AggProbe', { from: 'node3', term: 3 })];
  const forwarded = () => [...flushed(), ev('aggregator', 'AggForward', { term: 3, prevIndex: 4, count: 1, commit: 4 })];
  const reply = (from: string, matchIndex: number, term = 3) => ev('aggregator', 'AggReply', { from, term, matchIndex, applied: 0 });
  const commit = (c: number, term = 3, applied: [string, number][] = ap()) => ev('aggregator', 'AggCommit', { term, commit: c, applied });

  it('AggFlush only to a higher term; nothing before the first one', () => {
    expectRejectsLast([...flushed(), ev('aggregator', 'AggFlush', { term: 3 })], /AggFlush/);
    expectRejectsLast([...flushed(), ev('aggregator', 'AggFlush', { term: 2 })], /AggFlush/);
    expectRejectsLast([ev('aggregator', 'AggProbe', { from: 'node3', term: 0 })], /AggProbe/);
    const m = accepts([...forwarded(), reply('node1', 5), commit(5), ev('aggregator', 'AggFlush', { term: 4 })]);
    expect(m.actors().get('aggregator:aggregator')!.getSnapshot().context).toMatchObject({ term: 4, commit: 0, leader: null, match: {} });
  });

  it('AggProbe: the current term, one leader, a node', () => {
    accepts([...flushed(), ev('aggregator', 'AggProbe', { from: 'node3', term: 3 })]);
    expectRejectsLast([...flushed(), ev('aggregator', 'AggProbe', { from: 'node1', term: 3 })], /AggProbe/);
    expectRejectsLast([...flushed(), ev('aggregator', 'AggProbe', { from: 'node3', term: 2 })], /AggProbe/);
    expectRejectsLast([...failedOver(), ev('aggregator', 'AggFlush', { term: 3 }), ev('aggregator', 'AggProbe', { from: 'client1', term: 3 })], /AggProbe/);
  });

  it('AggForward and AggReply carry the current term; replies come from followers', () => {
    expectRejectsLast([...flushed(), ev('aggregator', 'AggForward', { term: 4, prevIndex: 4, count: 1, commit: 4 })], /AggForward/);
    expectRejectsLast([...forwarded(), reply('node1', 5, 2)], /AggReply/);
    expectRejectsLast([...forwarded(), reply('node3', 5)], /AggReply/); // the leader
    expectRejectsLast([...forwarded(), reply('aggregator', 5)], /AggReply/);
  });

  it('AggCommit: after a reply, only up, with a majority counting the leader at the end of what it forwarded', () => {
    accepts([...forwarded(), reply('node1', 5), commit(5)]);
    expectRejectsLast([...forwarded(), reply('node1', 4), commit(5)], /AggCommit/); // node1 matches 4 only
    expectRejectsLast([...forwarded(), commit(5)], /AggCommit/); // no reply
    expectRejectsLast([...forwarded(), reply('node1', 5), commit(5), commit(5)], /AggCommit/); // one per reply
    const pendingNoReply = [...forwarded(), reply('node1', 5), ev('aggregator', 'AggForward', { term: 3, prevIndex: 5, count: 0, commit: 5 })];
    expectRejectsLast([...pendingNoReply, commit(0)], /AggCommit/); // pending, but no reply since
    expectRejectsLast([...forwarded(), reply('node1', 5), commit(5), reply('node2', 5), commit(4)], /AggCommit/); // down
    expectRejectsLast([...forwarded(), reply('node1', 5), commit(5), reply('node2', 5), commit(5)], /AggCommit/); // nothing pending
    expectRejectsLast([...forwarded(), reply('node1', 5), commit(5, 4)], /AggCommit/);
    // Followers beyond what the leader forwarded still make a majority by themselves.
    const five: HovercraftMonitorConfig = { ...CONFIG, nodes: 5, roles: { ...CONFIG.roles, node4: 'node', node5: 'node' } };
    const agg5 = [ev('aggregator', 'AggFlush', { term: 3 }), ev('aggregator', 'AggProbe', { from: 'node3', term: 3 }),
      ev('aggregator', 'AggForward', { term: 3, prevIndex: 4, count: 1, commit: 4 })];
    const ap5 = [...ap(), ['node4', 0], ['node5', 0]] as [string, number][];
    expectRejectsLast([...agg5, reply('node1', 5), commit(5, 3, ap5)], /AggCommit/, five);
    accepts([...agg5, reply('node1', 5), reply('node2', 5), commit(5, 3, ap5)], five);
    accepts([...agg5, reply('node1', 7), reply('node2', 7), reply('node4', 7), commit(7, 3, ap5)], five);
  });

  it('an append_entries that announces nothing new makes the next reply commit the unchanged index', () => {
    const done = [...forwarded(), reply('node1', 5), commit(5)];
    const again = ev('aggregator', 'AggForward', { term: 3, prevIndex: 5, count: 0, commit: 5 });
    accepts([...done, again, reply('node2', 5), commit(5)]);
    expectRejectsLast([...done, again, reply('node2', 5), commit(5), reply('node1', 5), commit(5)], /AggCommit/);
  });
});

// ---- middlebox ----

describe('middlebox', () => {
  const mb = <A extends 'MiddleboxForward' | 'MiddleboxNack' | 'MiddleboxFeedback' | 'MiddleboxExpire'>(action: A, client: string, rid: number, inflight: number) =>
    ev('middlebox', action, { client, rid, inflight } as HovercraftActions[A]);
  const full = () => [mb('MiddleboxForward', C1, 1, 1), mb('MiddleboxForward', C2, 7, 2)];

  it('forward takes a free slot (inflight + 1), never above the threshold; a duplicate takes none', () => {
    accepts([...full(), mb('MiddleboxForward', C1, 1, 2)]);
    expectRejectsLast([mb('MiddleboxForward', C1, 1, 2)], /hovercraft-middlebox .*MiddleboxForward/);
    expectRejectsLast([...full(), mb('MiddleboxForward', C1, 2, 3)], /MiddleboxForward/);
    expectRejectsLast([mb('MiddleboxForward', C1, 1, 1), mb('MiddleboxForward', C1, 1, 2)], /MiddleboxForward/);
  });

  it('NACK only when every slot is held, by other requests', () => {
    accepts([...full(), mb('MiddleboxNack', C1, 2, 2)]);
    expectRejectsLast([mb('MiddleboxForward', C1, 1, 1), mb('MiddleboxNack', C2, 7, 1)], /MiddleboxNack/);
    expectRejectsLast([mb('MiddleboxForward', C1, 1, 1), mb('MiddleboxNack', C2, 7, 2)], /MiddleboxNack/);
    expectRejectsLast([...full(), mb('MiddleboxNack', C1, 2, 1)], /MiddleboxNack/);
    expectRejectsLast([...full(), mb('MiddleboxNack', C1, 1, 2)], /MiddleboxNack/);
    accepts([mb('MiddleboxNack', C1, 1, 0)], { ...CONFIG, threshold: 0 });
  });

  it('FEEDBACK and expiry free a held slot (inflight − 1)', () => {
    accepts([...full(), mb('MiddleboxFeedback', C1, 1, 1), mb('MiddleboxExpire', C2, 7, 0), mb('MiddleboxForward', C1, 2, 1)]);
    expectRejectsLast([...full(), mb('MiddleboxFeedback', C1, 2, 1)], /MiddleboxFeedback/);
    expectRejectsLast([...full(), mb('MiddleboxFeedback', C1, 1, 2)], /MiddleboxFeedback/);
    expectRejectsLast([...full(), mb('MiddleboxFeedback', C1, 1, 1), mb('MiddleboxFeedback', C1, 1, 0)], /MiddleboxFeedback/);
    expectRejectsLast([...full(), mb('MiddleboxExpire', C1, 2, 1)], /MiddleboxExpire/);
    expectRejectsLast([...full(), mb('MiddleboxExpire', C2, 7, 0)], /MiddleboxExpire/);
  });
});

// ---- client ----

describe('client', () => {
  const put = (rid: number) => ev('client1', 'ClientRequest', { rid, op: 'put', key: 'k', value: 'v', expected: null, ro: false });
  const get = (rid: number) => ev('client1', 'ClientRequest', { rid, op: 'get', key: 'k', value: null, expected: null, ro: true });

  it('one operation at a time, each completed once, for its rid', () => {
    const m = accepts([put(1), ev('client1', 'ClientReceiveNack', { rid: 1 }), put(2), ev('client1', 'ClientTimeout', { rid: 2 }),
      get(3), ev('client1', 'ClientReceiveReply', { rid: 3, from: ADDR1, result: null })]);
    expect(m.actors().get('client:client1')!.getSnapshot().context as ClientContext).toMatchObject({ replies: 1, nacks: 1, timeouts: 1, rid: null });
    expectRejectsLast([put(1), put(2)], /hovercraft-client \(client:client1\) in state waiting cannot take ClientRequest/);
    expectRejectsLast([put(1), ev('client1', 'ClientReceiveReply', { rid: 2, from: ADDR1, result: true })], /ClientReceiveReply/);
    expectRejectsLast([put(1), ev('client1', 'ClientReceiveNack', { rid: 2 })], /ClientReceiveNack/);
    expectRejectsLast([put(1), ev('client1', 'ClientTimeout', { rid: 2 })], /ClientTimeout/);
    expectRejectsLast([put(1), ev('client1', 'ClientTimeout', { rid: 1 }), ev('client1', 'ClientTimeout', { rid: 1 })], /idle cannot take ClientTimeout/);
  });

  it('a fresh non-zero 16-bit rid, other than the previous operation\'s', () => {
    expectRejectsLast([put(1), ev('client1', 'ClientTimeout', { rid: 1 }), put(1)], /ClientRequest/);
    expectRejectsLast([put(0)], /ClientRequest/);
    expectRejectsLast([put(65536)], /ClientRequest/);
    // A restarted client may start over.
    accepts([put(1), host('client1', 'HostCrash'), host('client1', 'HostRestart'), put(1)]);
  });

  it('fields that fit the operation', () => {
    const req = (f: Partial<HovercraftActions['ClientRequest']>) =>
      ev('client1', 'ClientRequest', { rid: 1, op: 'cas', key: 'k', value: 'w', expected: null, ro: false, ...f });
    accepts([req({})]);
    accepts([req({ expected: 'v' })]);
    expectRejectsLast([req({ value: null })], /ClientRequest/);
    expectRejectsLast([req({ ro: true })], /ClientRequest/);
    expectRejectsLast([req({ op: 'get', value: 'w', ro: true })], /ClientRequest/);
    expectRejectsLast([req({ op: 'get', value: null, ro: false })], /ClientRequest/);
    expectRejectsLast([req({ op: 'put', expected: 'v' })], /ClientRequest/);
    expectRejectsLast([raw('client1', 'ClientRequest', { rid: 1, op: 'delete', key: 'k', value: null, expected: null, ro: false })], /ClientRequest/);
  });

  it('a result that fits the operation', () => {
    const reply = (result: HovercraftActions['ClientReceiveReply']['result']) => ev('client1', 'ClientReceiveReply', { rid: 1, from: ADDR1, result });
    expectRejectsLast([put(1), reply(false)], /ClientReceiveReply/);
    expectRejectsLast([put(1), reply('v')], /ClientReceiveReply/);
    expectRejectsLast([get(1), reply(true)], /ClientReceiveReply/);
    accepts([get(1), reply('v')]);
    const cas = ev('client1', 'ClientRequest', { rid: 1, op: 'cas', key: 'k', value: 'w', expected: null, ro: false });
    accepts([cas, reply(false)]);
    expectRejectsLast([cas, reply(null)], /ClientReceiveReply/);
  });
});

// ---- routing ----

describe('monitor routing', () => {
  it('an unknown action, an action of another role, a node not in the run', () => {
    const refused = (e: TraceEvent, pattern: RegExp) => {
      const { violations } = run([e]);
      expect(violations).toHaveLength(1);
      expect(violations[0]).toMatchObject({ check: 'monitor', events: [0] });
      expect(violations[0]!.message).toMatch(pattern);
    };
    refused(raw('node1', 'NodeExplode', {}), /no machine knows action NodeExplode/);
    refused(ev('client1', 'NodeStart', { term: 0, votedFor: null, log: [] }), /NodeStart is a node action but node client1 is a client/);
    refused(ev('node9', 'NodeStart', { term: 0, votedFor: null, log: [] }), /node node9, which is not in the run/);
  });

  it('a crash of a switch program resets its soft state', () => {
    accepts([ev('middlebox', 'MiddleboxForward', { client: C1, rid: 1, inflight: 1 }), host('middlebox', 'HostRestart'),
      ev('middlebox', 'MiddleboxForward', { client: C2, rid: 1, inflight: 1 })]);
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

describe('names are shared', () => {
  it('every event a machine takes is a HovercRaft action, and each action is taken by exactly one machine', () => {
    const all = hovercraftMachines.flatMap((m) => [...machineEventTypes(m)]);
    expect([...all].sort()).toEqual([...HOVERCRAFT_ACTIONS].sort());
    expect(Object.keys(HOVERCRAFT_MACHINES).sort()).toEqual(['aggregator', 'client', 'middlebox', 'node'] satisfies HovercraftRole[]);
  });

  // The spec does not model the flow-control middlebox (it only limits the load; see the spec's
  // header): every other action is an operator of it.
  const tlaPath = fileURLToPath(new URL('../../specs/hovercraft/HovercRaft.tla', import.meta.url));
  it.skipIf(!existsSync(tlaPath))('every action but the middlebox\'s is an operator of specs/hovercraft/HovercRaft.tla', () => {
    const tla = readFileSync(tlaPath, 'utf8');
    const modelled = HOVERCRAFT_ACTIONS.filter((name) => !machineEventTypes(middleboxMachine).has(name));
    expect(modelled.filter((name) => !new RegExp(`^${name}\\s*(\\(|==)`, 'm').test(tla))).toEqual([]);
  });
});

describe('every state is reachable (xstate/graph)', () => {
  it('node', () => {
    const paths = getShortestPaths(nodeMachine, {
      input: { node: 'node1', nodes: ['node1'], aggregators: [], n: 1, bound: 1, replierPolicy: 'jbsq', boundsLeader: true },
      events: [
        { type: 'NodeStart', term: 0, votedFor: null, log: [] },
        { type: 'BecomeCandidate', term: 1 },
        { type: 'BecomeLeader', term: 1 },
      ],
      serializeState: (s) => JSON.stringify(s.value),
    });
    expect(new Set(paths.map((p) => String(p.state.value)))).toEqual(new Set(leafStateIds(nodeMachine)));
  });

  it('client, middlebox and aggregator', () => {
    const client = getShortestPaths(clientMachine, {
      input: { node: 'client1' },
      events: [{ type: 'ClientRequest', rid: 1, op: 'put', key: 'k', value: 'v', expected: null, ro: false }],
      serializeState: (s) => JSON.stringify(s.value),
    });
    expect(new Set(client.map((p) => String(p.state.value)))).toEqual(new Set(leafStateIds(clientMachine)));
    for (const [machine, input] of [[middleboxMachine, { node: 'middlebox', threshold: 1 }], [aggregatorMachine, { node: 'aggregator', nodes: [], n: 3 }]] as const) {
      const paths = getShortestPaths(machine as AnyStateMachine, { input, events: [] });
      expect(new Set(paths.map((p) => String(p.state.value)))).toEqual(new Set(leafStateIds(machine as AnyStateMachine)));
    }
  });

  it('a machine taking a catalog event directly (without the monitor)', () => {
    const actor = createActor(middleboxMachine, { input: { node: 'middlebox', threshold: 1 } }).start();
    actor.send({ type: 'MiddleboxForward', client: C1, rid: 1, inflight: 1 });
    actor.send({ type: 'MiddleboxForward', client: C2, rid: 1, inflight: 2 }); // not taken: no slot
    expect(actor.getSnapshot().context).toMatchObject({ inflight: 1 });
  });
});

// ---- traces of the cores (impl/hovercraft) ----

describe('the cores\' traces', () => {
  /** A cluster of the cores (three nodes unless told) with four clients; the leader crashes and restarts. */
  function clusterTrace(mode: Mode, bugs: string[] = [], bound = 2, n = 3): { trace: TraceEvent[]; config: HovercraftMonitorConfig } {
    const c = new Cluster({ n, mode, seed: 3, bound, bugs });
    for (let k = 0; k < 4; k++) {
      c.addClient((i) => (i % 2 === 0 ? { op: 'put', key: `k${k}`, value: `v${i}` } : { op: 'get', key: `k${k}` }), { startAt: 4000, timeoutUs: 8000 });
    }
    c.net.run(7_000);
    const victim = c.leader()!.node;
    c.crash(victim);
    c.net.events.push({ t: c.net.now, node: victim, action: 'HostCrash' });
    c.net.run(10_000);
    c.net.events.push({ t: c.net.now, node: victim, action: 'HostRestart' });
    c.startNode(victim);
    c.net.run(16_000);
    const roles: Record<string, HovercraftRole> = { aggregator: 'aggregator' };
    for (const id of c.ids) roles[id] = 'node';
    return { trace: c.net.events as unknown as TraceEvent[], config: { roles, nodes: n, bound, replierPolicy: 'jbsq', threshold: 4, mode } };
  }

  for (const mode of ['raft', 'hovercraft', 'hovercraft++'] as const) {
    it(`accepts a ${mode} run with a leader crash and restart`, () => {
      const { trace, config } = clusterTrace(mode);
      const actions = new Set(trace.map((e) => e.action));
      for (const a of ['BecomeLeader', 'Announce', 'Commit', 'Apply', 'Reply', 'NodeStart', 'HostRestart']) expect(actions).toContain(a);
      if (mode === 'hovercraft++') expect(actions).toContain('AggCommit');
      expect(run(trace, config).violations).toEqual([]);
    });
  }

  it('rejects the cores\' seeded bugs that show in a node\'s own actions', () => {
    const first = (mode: Mode, bug: string, bound?: number, n?: number) => {
      const { trace, config } = clusterTrace(mode, [bug], bound, n);
      return run(trace, config).violations[0]?.message;
    };
    expect(first('hovercraft++', 'aggregator-commits-early')).toMatch(/hovercraft-aggregator .*cannot take AggCommit/);
    expect(first('hovercraft', 'replier-reassigned')).toMatch(/cannot take SendAppendEntries/);
    // With three nodes one follower and the leader are a majority: the bug shows with five.
    expect(first('hovercraft', 'commit-without-majority', 2, 5)).toMatch(/leader cannot take Commit/);
    expect(first('hovercraft', 'bounded-queue-ignored', 1)).toMatch(/cannot take Announce/);
  });
});
