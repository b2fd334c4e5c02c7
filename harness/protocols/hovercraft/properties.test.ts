/**
 * The HovercRaft property checkers on hand-built traces: each passes a correct run (elections, a
 * leader crash and restart, a NACK, a timed-out operation that still takes effect) and catches the
 * defect it targets (ARCHITECTURE rule 5).
 */
import { describe, expect, it } from 'vitest';
import type { Entry, KvResult } from '../../../impl/hovercraft/actions.ts';
import { digest } from '../../../impl/digest.ts';
import { KvStore, encodeOp, type KvOp } from '../../../impl/hovercraft/kv.ts';
import type { Scenario } from '../../scenario/types.ts';
import type { TraceEvent } from '../../trace/schema.ts';
import {
  appliedNotOverstated, boundedQueue, checkLinearizable, electionSafety, historyFromTrace, hovercraftProperties, leaderCompleteness,
  linearizable, LogReplay, logMatching, makeBoundedQueue, makeLinearizable, NOOP_CLIENT, oneReply, replierFixed,
  replierOnlyReads, stateMachineSafety, topologyBound, type HovercraftEvent,
} from './properties.ts';

const ADDRS: Record<string, string> = {
  node1: '10.0.0.1:9000', node2: '10.0.0.2:9000', node3: '10.0.0.3:9000',
  client1: '10.0.1.1:7000', client2: '10.0.1.2:7000', middlebox: '10.0.2.1:9100',
};
const C1 = ADDRS.client1!;
const C2 = ADDRS.client2!;
const nodeOf = (addr: string): string => Object.entries(ADDRS).find(([, a]) => a === addr)![0];

function scenario(topology: Record<string, unknown> = { bound: 2, mode: 'hovercraft', replierPolicy: 'jbsq' }): Scenario {
  return {
    protocol: 'hovercraft', seed: 1, topology, workload: [], faults: [],
    network: { delay: 10, jitter: 0, loss: 0, duplicate: 0 }, bugs: [], duration: 100_000,
  };
}

type Fields = Record<string, unknown>;

/**
 * Builds traces of a 3-node cluster that behaves correctly unless a test says otherwise: it keeps
 * every node's log, applied index and store, and emits the events a correct run would.
 */
class Run {
  readonly trace: TraceEvent[] = [];
  private t = 0;
  readonly logs = new Map<string, Entry[]>();
  private readonly terms = new Map<string, number>();
  private readonly applied = new Map<string, number>();
  private readonly stores = new Map<string, KvStore>();
  private readonly bodies = new Map<string, KvOp>();
  private readonly results = new Map<number, KvResult>();
  private readonly nextRid = new Map<string, number>();
  leader = '';
  term = 0;
  commitIndex = 0;

  ev(node: string, action: string, fields: Fields = {}): number {
    this.t += 10;
    this.trace.push({ t: this.t, node, action, ...fields } as TraceEvent);
    return this.trace.length - 1;
  }

  log(node: string): Entry[] {
    return this.logs.get(node) ?? [];
  }

  start(node: string): number {
    const log = this.log(node);
    this.logs.set(node, [...log]);
    this.applied.set(node, 0);
    this.stores.set(node, new KvStore());
    return this.ev(node, 'NodeStart', { term: this.terms.get(node) ?? 0, votedFor: null, log: log.map((e) => [...e]) });
  }

  elect(node: string, term: number, voters: string[], explicitNoop = false): number {
    this.ev(node, 'BecomeCandidate', { term });
    let votes = 1;
    for (const voter of voters) {
      const last = this.log(node).length;
      this.ev(node, 'SendRequestVote', { to: voter, term, lastIndex: last, lastTerm: this.log(node)[last - 1]?.[0] ?? 0 });
      this.ev(voter, 'HandleRequestVote', { from: node, term, lastIndex: last, lastTerm: this.log(node)[last - 1]?.[0] ?? 0, granted: true });
      this.terms.set(voter, term);
      this.ev(node, 'HandleVoteReply', { from: voter, term, granted: true, votes: ++votes });
    }
    const at = this.ev(node, 'BecomeLeader', { term });
    this.leader = node;
    this.term = term;
    this.terms.set(node, term);
    const log = this.log(node);
    log.push([term, NOOP_CLIENT, term, node, false]);
    if (explicitNoop) {
      this.ev(node, 'LeaderAppend', { term, index: log.length, client: NOOP_CLIENT, rid: term, ro: false });
      this.ev(node, 'Announce', { term, index: log.length, replier: node, queue: 0 });
    }
    return at;
  }

  request(client: string, op: KvOp): number {
    const rid = this.nextRid.get(client) ?? 1;
    this.nextRid.set(client, rid + 1);
    this.ev(client, 'ClientRequest', {
      rid, op: op.op, key: op.key, value: op.op === 'get' ? null : op.value, expected: op.op === 'cas' ? op.expected : null,
      ro: op.op === 'get',
    });
    this.bodies.set(`${ADDRS[client]}|${rid}`, op);
    this.ev('middlebox', 'MiddleboxForward', { client: ADDRS[client], rid, inflight: 1 });
    return rid;
  }

  /** The leader appends and announces the request; returns its index. */
  append(client: string, rid: number, replier: string, queue = 1): number {
    const op = this.bodies.get(`${ADDRS[client]}|${rid}`)!;
    const log = this.log(this.leader);
    const ro = op.op === 'get';
    log.push([this.term, ADDRS[client]!, rid, replier, ro]);
    this.ev(this.leader, 'LeaderAppend', { term: this.term, index: log.length, client: ADDRS[client], rid, ro });
    this.ev(this.leader, 'Announce', { term: this.term, index: log.length, replier, queue });
    return log.length;
  }

  /** One append_entries round to `to`, from the first index where its log differs from the leader's. */
  replicate(to: string, fields: Fields = {}): number {
    const l = this.log(this.leader);
    const f = this.log(to);
    let prevIndex = 0;
    while (prevIndex < f.length && prevIndex < l.length && f[prevIndex]![0] === l[prevIndex]![0]) prevIndex++;
    const entries = l.slice(prevIndex).map((e) => [...e]);
    const common = { term: this.term, prevIndex, prevTerm: l[prevIndex - 1]?.[0] ?? 0, entries, commit: this.commitIndex };
    this.ev(this.leader, 'SendAppendEntries', { to, ...common });
    const at = this.ev(to, 'HandleAppendEntries', { from: this.leader, ...common, success: true, matchIndex: l.length, missing: [], ...fields });
    this.logs.set(to, l.map((e) => [...e] as unknown as Entry));
    this.terms.set(to, this.term);
    this.ev(this.leader, 'HandleAppendEntriesReply', { from: to, term: this.term, success: true, matchIndex: l.length, applied: this.applied.get(to) ?? 0 });
    return at;
  }

  commit(index: number, followers: string[]): void {
    this.commitIndex = index;
    this.ev(this.leader, 'Commit', { term: this.term, index });
    for (const f of followers) this.ev(f, 'Commit', { term: this.term, index });
  }

  apply(node: string, upTo: number, override: Fields = {}): number[] {
    const out: number[] = [];
    for (let j = (this.applied.get(node) ?? 0) + 1; j <= upTo; j++) {
      const [, client, rid, replier, ro] = this.log(node)[j - 1]!;
      const op = this.bodies.get(`${client}|${rid}`);
      const executed = !ro || node === replier;
      const result = op && executed ? this.stores.get(node)!.apply(op) : undefined;
      if (node === replier && result !== undefined) this.results.set(j, result);
      out.push(this.ev(node, 'Apply', {
        index: j, client, rid, replier, ro, executed, digest: digest(op ? encodeOp(op) : new Uint8Array()), ...override,
      }));
      this.applied.set(node, j);
    }
    return out;
  }

  /** The replier answers entry `index`; the client accepts it unless `accept` is false. */
  reply(index: number, accept = true, from?: string): number {
    const entry = this.log(this.leader)[index - 1] ?? this.log(from ?? '')[index - 1]!;
    const [, client, rid, replier] = entry;
    const node = from ?? replier;
    const result = this.results.get(index) ?? null;
    const at = this.ev(node, 'Reply', { index, client, rid, result });
    if (accept) this.ev(nodeOf(client), 'ClientReceiveReply', { rid, from: ADDRS[node], result });
    return at;
  }

  crash(node: string): number {
    if (this.leader === node) this.leader = '';
    return this.ev(node, 'HostCrash', { reason: 'fault' });
  }

  restart(node: string): number {
    this.ev(node, 'HostRestart');
    return this.start(node);
  }
}

/**
 * A correct run: node1 leads term 1 (implicit no-op); put, get (read-only, replier node3), cas
 * (replier node1, node3 lagging); node1 crashes with a put of client2 in flight that times out;
 * node2 leads term 2 (explicit no-op) and orders that put, which a later get observes; a NACK;
 * node1 restarts, catches up and re-applies everything without replying again.
 */
function correctRun(): Run {
  const r = new Run();
  for (const n of ['node1', 'node2', 'node3']) r.start(n);
  r.elect('node1', 1, ['node2', 'node3']);
  // client1: put x = a (replier node2)
  let rid = r.request('client1', { op: 'put', key: 'x', value: 'a' });
  let i = r.append('client1', rid, 'node2');
  r.replicate('node2'); r.replicate('node3');
  r.commit(i, ['node2', 'node3']);
  for (const n of ['node1', 'node2', 'node3']) r.apply(n, i);
  r.reply(i);
  // client2: get x (read-only, replier node3)
  rid = r.request('client2', { op: 'get', key: 'x' });
  i = r.append('client2', rid, 'node3');
  r.replicate('node2'); r.replicate('node3');
  r.commit(i, ['node2', 'node3']);
  for (const n of ['node1', 'node2', 'node3']) r.apply(n, i);
  r.reply(i);
  // client1: cas x a → b (replier node1); node3 does not hear of it
  rid = r.request('client1', { op: 'cas', key: 'x', expected: 'a', value: 'b' });
  i = r.append('client1', rid, 'node1');
  r.replicate('node2');
  r.commit(i, ['node2']);
  for (const n of ['node1', 'node2']) r.apply(n, i);
  r.reply(i);
  // node1 crashes; client2's put x = c is buffered by the followers, and client2 times out
  r.crash('node1');
  const put = r.request('client2', { op: 'put', key: 'x', value: 'c' });
  r.ev('node2', 'FollowerBuffer', { client: C2, rid: put, ro: false });
  r.ev('node3', 'FollowerBuffer', { client: C2, rid: put, ro: false });
  r.ev('client2', 'ClientTimeout', { rid: put });
  // node2 leads term 2 (its log holds the committed cas) and orders the put (replier node3)
  r.elect('node2', 2, ['node3'], true);
  i = r.append('client2', put, 'node3');
  r.replicate('node3');
  r.commit(i, ['node3']);
  for (const n of ['node2', 'node3']) r.apply(n, i);
  r.reply(i, false); // client2 gave up: it ignores the reply
  // client1: get x sees c (replier node2)
  rid = r.request('client1', { op: 'get', key: 'x' });
  i = r.append('client1', rid, 'node2');
  r.replicate('node3');
  r.commit(i, ['node3']);
  for (const n of ['node2', 'node3']) r.apply(n, i);
  r.reply(i);
  // a NACK: the operation never reaches the nodes
  const nacked = r.request('client2', { op: 'put', key: 'x', value: 'nacked' });
  r.trace.pop(); // not forwarded after all
  r.ev('middlebox', 'MiddleboxNack', { client: C2, rid: nacked, inflight: 4 });
  r.ev('client2', 'ClientReceiveNack', { rid: nacked });
  // node1 restarts with its persisted log, catches up, and re-applies from index 1 without replying
  r.restart('node1');
  r.replicate('node1');
  r.ev('node1', 'Commit', { term: 2, index: i });
  r.apply('node1', i);
  // the run ends with a get in flight
  r.request('client1', { op: 'get', key: 'x' });
  return r;
}

const check = (p: { check: (typeof hovercraftProperties)[number]['check'] }, trace: TraceEvent[], sc = scenario()) =>
  p.check(trace, sc, ADDRS);
const names = (vs: { check: string }[]) => [...new Set(vs.map((x) => x.check))];
/** Index of the n-th (from 0) event matching. */
function find(trace: TraceEvent[], pred: (e: TraceEvent) => boolean, n = 0): number {
  const all = trace.flatMap((e, i) => (pred(e) ? [i] : []));
  if (all[n] === undefined) throw new Error('no such event');
  return all[n]!;
}
const at = (e: TraceEvent, action: string, fields: Fields = {}) => e.action === action && Object.entries(fields).every(([k, x]) => JSON.stringify(e[k]) === JSON.stringify(x));
const replace = (trace: TraceEvent[], i: number, fields: Fields): TraceEvent[] =>
  trace.map((e, j) => (j === i ? ({ ...e, ...fields } as TraceEvent) : e));
const insertAfter = (trace: TraceEvent[], i: number, e: Omit<TraceEvent, 't'> & Fields): TraceEvent[] =>
  [...trace.slice(0, i + 1), { t: trace[i]!.t, ...e } as TraceEvent, ...trace.slice(i + 1)];

describe('all checkers on a correct run', () => {
  it('report nothing', () => {
    const { trace } = correctRun();
    for (const p of hovercraftProperties) expect(check(p, trace), p.name).toEqual([]);
  });

  it('report nothing on an empty trace', () => {
    for (const p of hovercraftProperties) expect(check(p, []), p.name).toEqual([]);
  });

  it('have distinct names', () => {
    expect(hovercraftProperties.map((p) => p.name).sort()).toEqual([
      'applied-not-overstated', 'bounded-queue', 'election-safety', 'leader-completeness', 'linearizable', 'log-matching', 'one-reply',
      'replier-fixed', 'replier-only-reads', 'state-machine-safety',
    ]);
  });

  it('skip other protocols\' events and network annotations', () => {
    const { trace } = correctRun();
    const noisy = trace.flatMap((e) => [e, { t: e.t, node: 'switch', action: 'NetDrop', reason: 'loss' } as TraceEvent]);
    for (const p of hovercraftProperties) expect(check(p, noisy), p.name).toEqual([]);
  });
});

describe('historyFromTrace', () => {
  it('turns requests, replies, NACKs, timeouts and crashes into a history', () => {
    const { trace } = correctRun();
    const h = historyFromTrace(trace);
    expect(h.map((o) => [o.client, o.input.op, o.ret === undefined ? 'pending' : o.output])).toEqual([
      ['client1', 'put', true],
      ['client2', 'get', 'a'],
      ['client1', 'cas', true],
      ['client2', 'put', 'pending'], // timed out, took effect
      ['client1', 'get', 'c'],
      ['client2', 'put', 'pending'], // NACKed: a duplicate copy may still be ordered
      ['client1', 'get', 'pending'], // still in flight at the end
    ]);
    expect(h.map((o) => o.id)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(trace[h[5]!.events![1]!]!.action).toBe('ClientReceiveNack');
    expect(trace[h[0]!.events![0]!]!.action).toBe('ClientRequest');
    expect(trace[h[0]!.events![1]!]!.action).toBe('ClientReceiveReply');
    expect(trace[h[3]!.events![1]!]!.action).toBe('ClientTimeout');
  });

  it('makes a crashed client\'s operation pending, and ignores a reply to another rid', () => {
    const r = new Run();
    const rid = r.request('client1', { op: 'put', key: 'k', value: 'v' });
    r.ev('client1', 'ClientReceiveReply', { rid: rid + 7, from: ADDRS.node1, result: true });
    r.crash('client1');
    r.ev('client1', 'ClientReceiveReply', { rid, from: ADDRS.node1, result: true }); // a new incarnation knows nothing of it
    const h = historyFromTrace(r.trace);
    expect(h).toHaveLength(1);
    expect(h[0]!.ret).toBeUndefined();
  });

  it('widens intervals by the clock slack', () => {
    const { trace } = correctRun();
    const [a] = historyFromTrace(trace);
    const [b] = historyFromTrace(trace, { clockSlackUs: 100 });
    expect(b!.call).toBe(a!.call - 100);
    expect(b!.ret).toBe(a!.ret! + 100);
  });
});

describe('linearizable', () => {
  it('fails on a stale read: a get returns the value a completed cas replaced', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'ClientReceiveReply', { result: 'c' }));
    const bad = replace(trace, i, { result: 'a' });
    const vs = check(linearizable, bad);
    expect(names(vs)).toEqual(['linearizable']);
    expect(vs[0]!.message).toMatch(/^key "x": partition "x" is not linearizable/);
    expect(vs[0]!.message).toMatch(/get\("x"\) → "a"/);
    expect(vs[0]!.events).toContain(i);
    expect(checkLinearizable(bad).verdict).toBe('violation');
  });

  it('fails on a read of the initial value after a put completed', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'ClientReceiveReply', { result: 'a' }));
    expect(names(check(linearizable, replace(trace, i, { result: null })))).toEqual(['linearizable']);
  });

  it('fails when the result of a NACKed operation shows up (it did not take effect)', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'ClientReceiveReply', { result: 'c' }));
    expect(names(check(linearizable, replace(trace, i, { result: 'nacked' })))).toEqual(['linearizable']);
  });

  it('passes the timed-out put both observed and not observed', () => {
    const { trace } = correctRun();
    expect(checkLinearizable(trace).verdict).toBe('ok');
    const i = find(trace, (e) => at(e, 'ClientReceiveReply', { result: 'c' }));
    expect(checkLinearizable(replace(trace, i, { result: 'b' })).verdict).toBe('ok');
    // had client2 crashed instead of timing out, the put is still pending
    const t = find(trace, (e) => at(e, 'ClientTimeout'));
    const crashed = replace(trace, t, { action: 'HostCrash', reason: 'fault', rid: undefined });
    expect(checkLinearizable(crashed).verdict).toBe('ok');
    // but a reply to it would have made it a completed put, which the later read contradicts
    const replied = replace(trace, t, { action: 'ClientReceiveReply', from: ADDRS.node3, result: true });
    expect(checkLinearizable(replace(replied, i, { result: 'b' })).verdict).toBe('violation');
  });

  it('reports unknown, not a violation, when its budget runs out', () => {
    // 14 concurrent puts, then a read of a value never written: deciding it takes many steps
    const r = new Run();
    const clients = Array.from({ length: 14 }, (_, k) => `c${k}`);
    clients.forEach((c, k) => r.ev(c, 'ClientRequest', { rid: 1, op: 'put', key: 'x', value: `v${k}`, expected: null, ro: false }));
    clients.forEach((c) => r.ev(c, 'ClientReceiveReply', { rid: 1, from: ADDRS.node1, result: true }));
    r.ev('r', 'ClientRequest', { rid: 1, op: 'get', key: 'x', value: null, expected: null, ro: true });
    r.ev('r', 'ClientReceiveReply', { rid: 1, from: ADDRS.node1, result: 'never' });
    const outcome = checkLinearizable(r.trace, { maxSteps: 50 });
    expect(outcome.verdict).toBe('unknown');
    expect(outcome.violations).toEqual([]);
    expect(makeLinearizable({ maxSteps: 50 }).check(r.trace, scenario(), ADDRS)).toEqual([]);
    expect(checkLinearizable(r.trace).verdict).toBe('violation');
  });
});

describe('election-safety', () => {
  it('fails on a second leader in a term', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'BecomeLeader', { term: 2 }));
    const bad = insertAfter(trace, i, { node: 'node3', action: 'BecomeLeader', term: 2 });
    expect(check(electionSafety, bad)).toMatchObject([{ check: 'election-safety', events: [i + 1, i] }]);
  });

  it('fails when the same node becomes leader of a term twice', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'BecomeLeader', { term: 1 }));
    expect(check(electionSafety, [...trace, { ...trace[i]!, t: 1e9 }])[0]!.message).toMatch(/a second time/);
  });
});

describe('log-matching', () => {
  it('fails when a follower stores a different entry of the same index and term', () => {
    const r = correctRun();
    const i = find(r.trace, (e) => at(e, 'HandleAppendEntries', { prevIndex: 0 }) && e.node === 'node3');
    const entries = (r.trace[i]!.entries as unknown as Entry[]).map((e) => [...e]);
    entries[1]![2] = 99; // another rid at index 2, term 1
    const vs = check(logMatching, replace(r.trace, i, { entries }));
    expect(names(vs)).toEqual(['log-matching']);
    expect(vs[0]!.message).toMatch(/node3's log and node1's log both hold an entry 2 of term 1, but differ at index 2/);
  });

  it('fails when an earlier entry differs under a matching one (the prefix is compared too)', () => {
    const r = correctRun();
    // node3 gets entries 1..2 with a forged no-op at index 1 but the real entry 2 of term 1
    const i = find(r.trace, (e) => at(e, 'HandleAppendEntries', { prevIndex: 0 }) && e.node === 'node3');
    const entries = (r.trace[i]!.entries as unknown as Entry[]).map((e) => [...e]);
    entries[0]![2] = 42;
    const vs = check(logMatching, replace(r.trace, i, { entries }));
    expect(vs[0]!.message).toMatch(/node3's log and node1's log both hold an entry 1 of term 1, but differ at index 1/);
    // entries 2 and on match, but what lies under them does not: the same divergence, reported once per pair of nodes
    expect(vs.map((x) => x.message.match(/(node\d)'s log and (node\d)'s log/)!.slice(1).join('/'))).toEqual(['node3/node1', 'node3/node2']);
    for (const x of vs) expect(x.message).toMatch(/differ at index 1: node3 has 1: \[term 1, no-op rid 42\], node\d has 1: \[term 1, no-op rid 1\]/);
  });

  it('fails when a follower accepts append_entries whose prevTerm its log does not have', () => {
    const r = correctRun();
    const i = find(r.trace, (e) => at(e, 'HandleAppendEntries', { prevIndex: 2 }) && e.node === 'node3');
    const vs = check(logMatching, replace(r.trace, i, { prevTerm: 7 }));
    expect(vs[0]).toMatchObject({ check: 'log-matching' });
    expect(vs[0]!.message).toMatch(/accepted append_entries after index 2 of term 7/);
  });

  it('fails when a leader appends over its own entry', () => {
    const r = correctRun();
    const i = find(r.trace, (e) => at(e, 'LeaderAppend', { index: 3 }));
    const vs = check(logMatching, replace(r.trace, i, { index: 2 }));
    expect(vs[0]!.message).toMatch(/leader node1 appended at index 2 over its own entry/);
  });

  it('passes a follower that truncates a conflicting suffix from a deposed leader', () => {
    const r = new Run();
    for (const n of ['node1', 'node2', 'node3']) r.start(n);
    r.elect('node1', 1, ['node2', 'node3']);
    r.replicate('node2'); r.replicate('node3');
    r.commit(1, ['node2', 'node3']);
    // node1 appends two entries only node1 holds, then loses leadership
    const a = r.request('client1', { op: 'put', key: 'x', value: 'lost' });
    r.append('client1', a, 'node2');
    r.ev('node1', 'StepDown', { term: 2 });
    r.elect('node2', 2, ['node3']);
    const b = r.request('client2', { op: 'put', key: 'x', value: 'kept' });
    r.append('client2', b, 'node3');
    r.replicate('node3');
    r.replicate('node1'); // replaces node1's index 2 (term 1) with term 2's entries
    for (const p of [logMatching, replierFixed, electionSafety, leaderCompleteness]) expect(check(p, r.trace), p.name).toEqual([]);
  });
});

describe('leader-completeness', () => {
  it('fails when a node without a committed entry becomes leader', () => {
    const r = new Run();
    for (const n of ['node1', 'node2', 'node3']) r.start(n);
    r.elect('node1', 1, ['node2', 'node3']);
    const rid = r.request('client1', { op: 'put', key: 'x', value: 'a' });
    r.append('client1', rid, 'node1');
    r.replicate('node2');
    r.replicate('node3');
    const put = r.request('client1', { op: 'put', key: 'x', value: 'b' });
    const idx = r.append('client1', put, 'node1');
    r.replicate('node2'); // node3 misses index 3
    r.commit(idx, ['node2']);
    r.crash('node1');
    const before = r.trace.length;
    const lead = r.elect('node3', 2, ['node2']); // node2 would refuse its vote in a correct run
    const vs = check(leaderCompleteness, r.trace);
    expect(vs).toHaveLength(1);
    expect(vs[0]!.message).toMatch(/node3 became leader of term 2 without entry 3: \[term 1, 10\.0\.1\.1:7000 rid 2\], committed by node1 as leader of term 1 \(its log has 2 entries\)/);
    expect(vs[0]!.events![0]).toBe(lead);
    // node2 holds it: fine
    const byNode2 = [...r.trace.slice(0, before), { t: 1e6, node: 'node2', action: 'BecomeLeader', term: 2 } as TraceEvent];
    expect(check(leaderCompleteness, byNode2)).toEqual([]);
  });

  it('fails when a leader commits an index beyond its log', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Commit', { term: 1, index: 2 }) && e.node === 'node1');
    expect(check(leaderCompleteness, replace(trace, i, { index: 9 }))[0]!.message).toMatch(/committed index 9 but its log has 2 entries/);
  });

  it('counts a leader\'s AGG_COMMIT as a commit', () => {
    const r = new Run();
    for (const n of ['node1', 'node2', 'node3']) r.start(n);
    r.elect('node1', 1, ['node2', 'node3']);
    const rid = r.request('client1', { op: 'put', key: 'x', value: 'a' });
    r.append('client1', rid, 'node1');
    r.replicate('node2');
    r.ev('node1', 'HandleAggCommit', { term: 1, commit: 2 });
    r.crash('node1');
    r.elect('node3', 2, ['node2']);
    expect(names(check(leaderCompleteness, r.trace))).toEqual(['leader-completeness']);
  });
});

describe('state-machine-safety', () => {
  it('fails on divergent Apply: another digest at the same index', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Apply', { index: 2 }) && e.node === 'node3');
    const vs = check(stateMachineSafety, replace(trace, i, { digest: 'deadbeef' }));
    expect(vs).toMatchObject([{ check: 'state-machine-safety', events: [i, find(trace, (e) => at(e, 'Apply', { index: 2 }))] }]);
    expect(vs[0]!.message).toMatch(/node3 and node1 applied different entries at index 2: digest "deadbeef"/);
  });

  it('fails on divergent Apply: another request at the same index', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Apply', { index: 3 }) && e.node === 'node2');
    expect(check(stateMachineSafety, replace(trace, i, { client: C1, rid: 5 }))[0]!.message).toMatch(/client .* rid 5 vs 1/);
  });

  it('fails when a node skips an index or does not execute a write', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Apply', { index: 2 }) && e.node === 'node3');
    expect(check(stateMachineSafety, trace.filter((_, j) => j !== i))[0]!.message).toMatch(/node3 applied index 3 right after index 1/);
    expect(check(stateMachineSafety, replace(trace, i, { executed: false }))[0]!.message).toMatch(/without executing it/);
  });
});

describe('replier-fixed', () => {
  it('fails when append_entries carries another replier than the announced one', () => {
    const r = correctRun();
    const i = find(r.trace, (e) => at(e, 'HandleAppendEntries', { prevIndex: 0 }) && e.node === 'node3');
    const entries = (r.trace[i]!.entries as unknown as Entry[]).map((e) => [...e]);
    entries[1]![3] = 'node3';
    const vs = check(replierFixed, replace(r.trace, i, { entries }));
    expect(vs[0]).toMatchObject({ check: 'replier-fixed' });
    expect(vs[0]!.message).toMatch(/entry 2 of term 1 has replier node3 in append_entries handled by node3, but node2 in node1's Announce/);
  });

  it('fails when a node applies an entry with another replier', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Apply', { index: 3 }) && e.node === 'node1');
    expect(check(replierFixed, replace(trace, i, { replier: 'node1' }))[0]!.message).toMatch(/replier node1 in node1's Apply, but node3/);
  });

  it('fails when a later leader announces an inherited entry to someone else', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Announce', { term: 2, index: 6 }));
    const bad = insertAfter(trace, i, { node: 'node2', action: 'Announce', term: 2, index: 3, replier: 'node2', queue: 1 });
    expect(check(replierFixed, bad)[0]!.message).toMatch(/entry 3 of term 1 has replier node2 in node2's Announce, but node3/);
  });

  it('fails on a second Announce of an index in a term, and on sending before announcing', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Announce', { term: 1, index: 2 }));
    expect(check(replierFixed, insertAfter(trace, i, { ...trace[i]! }))[0]!.message).toMatch(/announced index 2 in term 1 a second time/);
    expect(check(replierFixed, trace.filter((_, j) => j !== i))[0]!.message).toMatch(/node1 sent entry 2 of term 1 to node2 before announcing it/);
  });
});

describe('one-reply', () => {
  it('fails on two replies to one request', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Reply', { index: 2 }));
    const vs = check(oneReply, insertAfter(trace, i, { ...trace[i]! }));
    expect(vs).toMatchObject([{ check: 'one-reply', events: [i + 1, i] }]);
    expect(vs[0]!.message).toMatch(/10\.0\.1\.1:7000 rid 1 got 2 replies \(from node2, node2\)/);
  });

  it('fails when the restarted replier answers again as it re-applies', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Apply', { index: 4 }) && e.node === 'node1', 1);
    const bad = insertAfter(trace, i, { node: 'node1', action: 'Reply', index: 4, client: C1, rid: 2, result: true });
    expect(check(oneReply, bad)[0]!.message).toMatch(/rid 2 got 2 replies \(from node1, node1\)/);
  });

  it('fails on a reply by a node that is not the replier, before applying, or to a no-op', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Reply', { index: 2 }));
    const a3 = find(trace, (e) => at(e, 'Apply', { index: 2 }) && e.node === 'node3');
    expect(check(oneReply, replace(trace, i, { node: 'node3' }))[0]!.message).toMatch(/node3 replied .* whose replier is node2/);
    const early = insertAfter(trace, a3 - 1, { node: 'node3', action: 'Reply', index: 2, client: C1, rid: 1, result: true });
    expect(check(oneReply, early)[0]!.message).toMatch(/before applying it/);
    const noop = find(trace, (e) => at(e, 'Apply', { index: 1 }) && e.node === 'node1');
    const bad = insertAfter(trace, noop, { node: 'node1', action: 'Reply', index: 1, client: NOOP_CLIENT, rid: 1, result: null });
    expect(check(oneReply, bad)[0]!.message).toMatch(/a no-op/);
  });

  it('fails when a client accepts two replies for one request', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'ClientReceiveReply'));
    expect(check(oneReply, insertAfter(trace, i, { ...trace[i]! }))[0]!.message).toMatch(/client1 accepted a second reply for rid 1/);
  });
});

describe('bounded-queue', () => {
  it('reads B from scenario.topology.bound; none in raft mode or with the leader policy', () => {
    expect(topologyBound(scenario({ bound: 3 }))).toBe(3);
    expect(topologyBound(scenario({ bound: 3, mode: 'raft' }))).toBeUndefined();
    expect(topologyBound(scenario({ bound: 3, replierPolicy: 'leader' }))).toBeUndefined();
    expect(topologyBound(scenario({}))).toBeUndefined();
  });

  it('fails when an Announce reports a queue over B', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Announce', { index: 3, term: 1 }));
    const vs = check(boundedQueue, replace(trace, i, { queue: 3 }));
    expect(vs).toMatchObject([{ check: 'bounded-queue', events: [i] }]);
    expect(vs[0]!.message).toMatch(/queue 3 > B = 2/);
  });

  it('fails when the recomputed queue is over B although the event says it is not', () => {
    // B = 1; node3 gets entries 2 and 3 before applying anything
    const r = new Run();
    for (const n of ['node1', 'node2', 'node3']) r.start(n);
    r.elect('node1', 1, ['node2', 'node3']);
    const a = r.request('client1', { op: 'put', key: 'x', value: 'a' });
    r.append('client1', a, 'node3');
    const b = r.request('client2', { op: 'get', key: 'x' });
    const i = r.append('client2', b, 'node3', 1); // the leader thinks node3's queue is 1
    const one = makeBoundedQueue(() => 1);
    const vs = check(one, r.trace);
    expect(vs).toHaveLength(1);
    expect(vs[0]!.message).toMatch(/node3 .* which then had 2 > B = 1 entries assigned and not applied \(it applied up to 0\): 2, 3/);
    expect(i).toBe(3);
    // once node3 applied entry 2, assigning entry 3 is fine
    const ok = new Run();
    for (const n of ['node1', 'node2', 'node3']) ok.start(n);
    ok.elect('node1', 1, ['node2', 'node3']);
    const c = ok.request('client1', { op: 'put', key: 'x', value: 'a' });
    ok.append('client1', c, 'node3');
    ok.replicate('node2'); ok.replicate('node3');
    ok.commit(2, ['node2', 'node3']);
    ok.apply('node3', 2);
    const d = ok.request('client2', { op: 'get', key: 'x' });
    ok.append('client2', d, 'node3');
    expect(check(one, ok.trace)).toEqual([]);
  });

  it('checks nothing without a bound', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Announce', { index: 3, term: 1 }));
    expect(check(boundedQueue, replace(trace, i, { queue: 3 }), scenario({ bound: 2, mode: 'raft' }))).toEqual([]);
  });
});

describe('applied-not-overstated', () => {
  const ap = (a1: number, a2: number, a3: number): [string, number][] => [['node1', a1], ['node2', a2], ['node3', a3]];

  it('fails when an append_entries reply reports more than its sender applied before it', () => {
    const { trace } = correctRun();
    // node2's reply to the first append: it has applied nothing yet.
    const i = find(trace, (e) => at(e, 'HandleAppendEntriesReply', { from: 'node2', matchIndex: 2 }));
    expect(check(appliedNotOverstated, trace)).toEqual([]);
    const vs = check(appliedNotOverstated, replace(trace, i, { applied: 2 }));
    expect(vs).toMatchObject([{ check: 'applied-not-overstated', events: [i] }]);
    expect(vs[0]!.message).toMatch(/reports node2 applied up to 2, but it had applied nothing/);
    // bounded-queue sees nothing wrong: no queue passes B.
    expect(check(boundedQueue, replace(trace, i, { applied: 2 }))).toEqual([]);
  });

  it('fails when AGG_COMMIT (or the aggregator\'s reply, or the leader taking AGG_COMMIT) runs ahead of a node\'s applies', () => {
    const { trace } = correctRun();
    // Right after node1 (leader of term 1) commits entry 2: node2 and node3 have not applied it yet.
    const j = find(trace, (e) => at(e, 'Commit', { index: 2 }) && e.node === 'node1');
    type Applied = ReturnType<typeof ap>;
    const agg = (applied: Applied) => ({ node: 'aggregator', action: 'AggCommit', term: 1, commit: 2, applied });
    const hac = (node: string, applied: Applied) => ({ node, action: 'HandleAggCommit', term: 1, commit: 2, applied });
    expect(check(appliedNotOverstated, insertAfter(trace, j, agg(ap(0, 0, 0))))).toEqual([]);
    const over = check(appliedNotOverstated, insertAfter(trace, j, agg(ap(0, 2, 0))));
    expect(over).toMatchObject([{ check: 'applied-not-overstated', events: [j + 1] }]);
    expect(over[0]!.message).toMatch(/AGG_COMMIT 2 \(term 1\) reports node2 applied up to 2/);
    // The leader that takes it; a follower's copy is the same message, reported once at the AggCommit.
    expect(check(appliedNotOverstated, insertAfter(trace, j, hac('node1', ap(0, 0, 2))))).toMatchObject([{ events: [j + 1] }]);
    expect(check(appliedNotOverstated, insertAfter(trace, j, hac('node2', ap(0, 0, 2))))).toEqual([]);
    const reply = { node: 'aggregator', action: 'AggReply', from: 'node3', term: 1, matchIndex: 2, applied: 2 };
    expect(check(appliedNotOverstated, insertAfter(trace, j, reply))).toMatchObject([{ events: [j + 1] }]);
    expect(check(appliedNotOverstated, insertAfter(trace, j, { ...reply, applied: 0 }))).toEqual([]);
  });

  it('fails when an Announce\'s queue is below the replier\'s queue recomputed from its applies, whatever B is', () => {
    // node3 gets entries 2 and 3 before applying anything, and the leader says its queue is 1.
    const r = new Run();
    for (const n of ['node1', 'node2', 'node3']) r.start(n);
    r.elect('node1', 1, ['node2', 'node3']);
    const a = r.request('client1', { op: 'put', key: 'x', value: 'a' });
    r.append('client1', a, 'node3');
    const b = r.request('client2', { op: 'get', key: 'x' });
    expect(r.append('client2', b, 'node3', 1)).toBe(3);
    const i = r.trace.length - 1; // its Announce
    const vs = check(appliedNotOverstated, r.trace);
    expect(vs).toMatchObject([{ check: 'applied-not-overstated', events: [i] }]);
    expect(vs[0]!.message).toMatch(/node1 announced entry 3 to node3 with queue 1, but 2 entries were assigned to it and not applied \(it applied nothing\): 2, 3/);
    // With B = 2 the queue is within the bound either way: bounded-queue lets it through.
    expect(check(boundedQueue, r.trace, scenario({ bound: 2, mode: 'hovercraft', replierPolicy: 'jbsq' }))).toEqual([]);
    // The true queue (2) is fine.
    expect(check(appliedNotOverstated, replace(r.trace, i, { queue: 2 }))).toEqual([]);
  });
});

describe('replier-only-reads', () => {
  it('fails when a node other than the replier executes a read', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Apply', { index: 3 }) && e.node === 'node2');
    const vs = check(replierOnlyReads, replace(trace, i, { executed: true }));
    expect(vs).toMatchObject([{ check: 'replier-only-reads', events: [i] }]);
    expect(vs[0]!.message).toMatch(/node2 executed read-only entry 3 .* whose replier is node3/);
  });

  it('fails when the replier does not execute its read', () => {
    const { trace } = correctRun();
    const i = find(trace, (e) => at(e, 'Apply', { index: 3 }) && e.node === 'node3');
    expect(check(replierOnlyReads, replace(trace, i, { executed: false }))[0]!.message).toMatch(/did not execute it/);
  });
});

describe('crashes', () => {
  it('reset a node: without the HostCrash, node1\'s restart looks like a second application from index 1', () => {
    const { trace } = correctRun();
    const noCrash = trace.filter((e) => e.action !== 'HostCrash');
    // NodeStart alone still starts a new incarnation
    expect(check(stateMachineSafety, noCrash)).toEqual([]);
    const noStart = trace.filter((e) => !(e.action === 'NodeStart' && e.node === 'node1' && e.t > 1000));
    expect(check(stateMachineSafety, noStart)).toEqual([]); // the HostCrash reset it
    const neither = noStart.filter((e) => e.action !== 'HostCrash');
    expect(check(stateMachineSafety, neither)[0]!.message).toMatch(/node1 applied index 1 right after index 4/);
  });
});

describe('log reconstruction', () => {
  const ev = (t: number, node: string, action: string, fields: Fields = {}) => ({ t, node, action, ...fields }) as TraceEvent;
  const entry = (term: number, client: string, rid: number, replier: string): Entry => [term, client, rid, replier, false];

  it('a leader that steps down drops its unannounced suffix and keeps its no-op', () => {
    const r = new Run();
    for (const n of ['node1', 'node2', 'node3']) r.start(n);
    r.elect('node1', 1, ['node2', 'node3']);
    r.replicate('node2'); r.replicate('node3');
    // two requests appended, never announced (no eligible replier), then a higher term shows up
    r.ev('node1', 'LeaderAppend', { term: 1, index: 2, client: C1, rid: 1, ro: false });
    r.ev('node1', 'LeaderAppend', { term: 1, index: 3, client: C2, rid: 1, ro: false });
    r.ev('node1', 'StepDown', { term: 2 });
    // node1 leads again in term 3: its no-op goes at index 2, the next request at 3
    r.ev('node1', 'BecomeCandidate', { term: 3 });
    r.ev('node1', 'BecomeLeader', { term: 3 });
    r.ev('node1', 'LeaderAppend', { term: 3, index: 3, client: C1, rid: 1, ro: false });
    r.ev('node1', 'Announce', { term: 3, index: 3, replier: 'node2', queue: 1 });
    r.ev('node1', 'SendAppendEntries', {
      to: 'node2', term: 3, prevIndex: 1, prevTerm: 1, entries: [entry(3, NOOP_CLIENT, 3, 'node1'), entry(3, C1, 1, 'node2')], commit: 1,
    });
    for (const p of hovercraftProperties) expect(check(p, r.trace), p.name).toEqual([]);
    const replay = new LogReplay();
    r.trace.forEach((e, i) => replay.step(i, e as unknown as HovercraftEvent));
    expect(replay.log('node1')!.map((c) => [c.index, c.term, c.client])).toEqual([[1, 1, NOOP_CLIENT], [2, 3, NOOP_CLIENT], [3, 3, C1]]);
  });

  it('the first entry a follower cannot store (body missing) still truncates a conflicting suffix', () => {
    const stale = [entry(1, NOOP_CLIENT, 1, 'node1'), entry(1, C1, 1, 'node1'), entry(1, C1, 2, 'node1')];
    const trace = [
      ev(10, 'node3', 'NodeStart', { term: 1, votedFor: null, log: stale }),
      ev(20, 'node3', 'HandleAppendEntries', {
        from: 'node2', term: 3, prevIndex: 1, prevTerm: 1, entries: [entry(2, C2, 1, 'node2'), entry(3, NOOP_CLIENT, 3, 'node2')],
        commit: 0, success: true, matchIndex: 1, missing: [[C2, 1]],
      }),
      // node3 later leads: its no-op goes right after index 1
      ev(30, 'node3', 'BecomeCandidate', { term: 4 }),
      ev(40, 'node3', 'BecomeLeader', { term: 4 }),
      ev(50, 'node3', 'LeaderAppend', { term: 4, index: 3, client: C1, rid: 7, ro: false }),
    ];
    const replay = new LogReplay();
    trace.forEach((e, i) => replay.step(i, e as unknown as HovercraftEvent));
    expect(replay.log('node3')!.map((c) => [c.index, c.term])).toEqual([[1, 1], [2, 4], [3, 4]]);
    expect(check(logMatching, trace)).toEqual([]);
  });
});
