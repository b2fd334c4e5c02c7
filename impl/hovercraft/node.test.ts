import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CoreOutput, StableState } from '../core.ts';
import { digest } from '../digest.ts';
import { Rng } from '../rng.ts';
import { decode, split, type FeedbackMsg } from '../r2p2/codec.ts';
import type { Mode } from './actions.ts';
import {
  BUG_APPLY_WITHOUT_BODY, BUG_BOUNDED_QUEUE_IGNORED, BUG_COMMIT_WITHOUT_MAJORITY, BUG_REPLIER_REASSIGNED,
  BUG_STALE_READ_BY_NON_REPLIER, type NodeConfig,
} from './config.ts';
import { type KvOp, decodeResult, encodeOp } from './kv.ts';
import { HovercraftNode } from './node.ts';
import { AGGREGATOR, MIDDLEBOX, actions, nodeAddr, nodeConfig, sends, traces } from './test-net.ts';
import { AGGREGATOR_INDEX, decodeRaft, encodeRaft, type RaftMsg, type WireEntry } from './wire.ts';

type Out = CoreOutput<never>[];
const CLIENT = '10.0.1.1:5000';
const CLIENT2 = '10.0.1.2:5000';
const NOOP = '0.0.0.0:0';

function mk(o: { n?: number; self?: string; mode?: Mode; bugs?: string[]; cfg?: Partial<NodeConfig> } = {}): HovercraftNode {
  const n = o.n ?? 3;
  const self = o.self ?? 'node1';
  const idx = Number(self.slice(4)) - 1;
  return new HovercraftNode(self, nodeAddr(idx), nodeConfig(n, self, o.mode ?? 'hovercraft', o.cfg ?? {}), new Rng(idx + 1), new Set(o.bugs ?? []));
}

const raft = (from: number, m: RaftMsg) => ({ kind: 'receive' as const, packet: { src: from === AGGREGATOR_INDEX ? AGGREGATOR : nodeAddr(from), dst: '', data: encodeRaft(m) } });
const put = (key: string, value: string): KvOp => ({ op: 'put', key, value });
const get = (key: string): KvOp => ({ op: 'get', key });
function request(client: string, rid: number, op: KvOp) {
  const policy = op.op === 'get' ? 'REPLICATED_ROUTE_NO_SE' : 'REPLICATED_ROUTE';
  return { kind: 'receive' as const, packet: { src: client, dst: '', data: split('REQUEST', policy, rid, encodeOp(op))[0]! } };
}
const timer = (name: string) => ({ kind: 'timer' as const, name });

/** Raft messages among the sends, decoded, with their destination. */
function raftOut(out: Out): (RaftMsg & { dst: string })[] {
  return sends(out).flatMap((p) => {
    const d = decodeRaft(p.data);
    return d.ok ? [{ ...d.msg, dst: p.dst }] : [];
  });
}
const aes = (out: Out) => raftOut(out).filter((m): m is Extract<RaftMsg, { kind: 'append_entries' }> & { dst: string } => m.kind === 'append_entries');
const ev = (out: Out, action: string) => traces(out).filter((e) => e.action === action);

/** Makes node1 leader of term 1 (node2 votes for it); returns the outputs of the step that elected it. */
function elect(node: HovercraftNode, t = 10): Out {
  node.handle({ kind: 'start' }, 0);
  node.handle(timer('election'), t);
  return node.handle(raft(1, { kind: 'vote_reply', from: 1, term: node.currentTerm, granted: true }), t + 1);
}

const succ = (from: number, term: number, matchIndex: number, applied = 0): RaftMsg =>
  ({ kind: 'append_reply', from, term, success: true, matchIndex, applied });
const fail = (from: number, term: number, matchIndex: number): RaftMsg =>
  ({ kind: 'append_reply', from, term, success: false, matchIndex, applied: 0 });
const ae = (o: Partial<Extract<RaftMsg, { kind: 'append_entries' }>> & { entries: WireEntry[] }): RaftMsg => ({
  kind: 'append_entries', from: 0, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, viaAggregator: false, bodies: false, ...o,
});
const we = (term: number, client: string, rid: number, replier: number, ro = false, body?: Uint8Array): WireEntry =>
  ({ term, client, rid, replier, ro, ...(body ? { body } : {}) });
const noop = (term: number, replier = 0): WireEntry => we(term, NOOP, term, replier);

/** A follower (node2) that holds the bodies of the given requests. */
function follower(reqs: [string, number, KvOp][] = [], o: Parameters<typeof mk>[0] = {}): HovercraftNode {
  const f = mk({ self: 'node2', ...o });
  f.handle({ kind: 'start' }, 0);
  for (const [c, rid, op] of reqs) f.handle(request(c, rid, op), 5);
  return f;
}

function persisted(out: Out): StableState | undefined {
  const p = out.filter((o) => o.kind === 'persist');
  return p.length ? (p[p.length - 1] as { state: StableState }).state : undefined;
}

describe('hovercraft-node: elections', () => {
  it('starts as a follower with a randomised election timeout and stands for election when it fires', () => {
    const n = mk();
    const start = n.handle({ kind: 'start' }, 0);
    expect(traces(start)).toEqual([{ action: 'NodeStart', term: 0, votedFor: null, log: [] }]);
    const t = start.find((o) => o.kind === 'setTimer')!;
    expect(t).toMatchObject({ name: 'election' });
    expect((t as { at: number }).at).toBeGreaterThanOrEqual(1500);
    expect((t as { at: number }).at).toBeLessThanOrEqual(3000);
    const out = n.handle(timer('election'), 2000);
    expect(actions(out)).toEqual(['BecomeCandidate', 'SendRequestVote', 'SendRequestVote']);
    expect(ev(out, 'SendRequestVote')).toEqual([
      { action: 'SendRequestVote', to: 'node2', term: 1, lastIndex: 0, lastTerm: 0 },
      { action: 'SendRequestVote', to: 'node3', term: 1, lastIndex: 0, lastTerm: 0 },
    ]);
    // The vote for itself is durable before the requests go out.
    const kinds = out.map((o) => o.kind);
    expect(kinds.indexOf('persist')).toBeLessThan(kinds.indexOf('send'));
    expect(persisted(out)).toMatchObject({ term: 1, votedFor: 'node1', log: [] });
    // Different seeds draw different timeouts.
    const at = (seed: number) => (new HovercraftNode('node1', nodeAddr(0), nodeConfig(3, 'node1', 'raft'), new Rng(seed)).handle({ kind: 'start' }, 0)
      .find((o) => o.kind === 'setTimer') as { at: number }).at;
    expect(new Set([1, 2, 3, 4, 5].map(at)).size).toBeGreaterThan(1);
  });

  it('becomes leader on a majority of votes, appends the no-op and sends it to every follower', () => {
    const n = mk();
    const out = elect(n);
    expect(actions(out).slice(0, 2)).toEqual(['HandleVoteReply', 'BecomeLeader']);
    expect(ev(out, 'HandleVoteReply')[0]).toMatchObject({ from: 'node2', term: 1, granted: true, votes: 2 });
    expect(n.entries()).toEqual([[1, NOOP, 1, 'node1', false]]);
    const sent = ev(out, 'SendAppendEntries');
    expect(sent.map((e) => e.to)).toEqual(['node2', 'node3']);
    expect(sent[0]).toMatchObject({ term: 1, prevIndex: 0, prevTerm: 0, entries: [[1, NOOP, 1, 'node1', false]], commit: 0 });
    expect(persisted(out)).toMatchObject({ term: 1, log: [[1, NOOP, 1, 'node1', false, '']] });
  });

  it('grants one vote per term, only to an up-to-date candidate, and steps down on a higher term', () => {
    const f = follower();
    const v1 = f.handle(raft(0, { kind: 'request_vote', from: 0, term: 3, lastIndex: 0, lastTerm: 0 }), 10);
    expect(actions(v1)).toEqual(['StepDown', 'HandleRequestVote']);
    expect(ev(v1, 'HandleRequestVote')[0]).toMatchObject({ from: 'node1', term: 3, granted: true });
    expect(raftOut(v1)).toMatchObject([{ kind: 'vote_reply', term: 3, granted: true, dst: nodeAddr(0) }]);
    expect(persisted(v1)).toMatchObject({ term: 3, votedFor: 'node1' });
    const kinds = v1.map((o) => o.kind);
    expect(kinds.indexOf('persist')).toBeLessThan(kinds.indexOf('send'));
    const v2 = f.handle(raft(2, { kind: 'request_vote', from: 2, term: 3, lastIndex: 9, lastTerm: 3 }), 11);
    expect(ev(v2, 'HandleRequestVote')[0]).toMatchObject({ from: 'node3', granted: false });
    // A log behind ours gets no vote even in a new term.
    f.handle(raft(0, ae({ term: 3, entries: [noop(3)] })), 12);
    const v3 = f.handle(raft(2, { kind: 'request_vote', from: 2, term: 4, lastIndex: 5, lastTerm: 2 }), 13);
    expect(ev(v3, 'HandleRequestVote')[0]).toMatchObject({ term: 4, granted: false });
    expect(f.currentTerm).toBe(4);
    // A stale request is refused with the current term.
    const v4 = f.handle(raft(2, { kind: 'request_vote', from: 2, term: 2, lastIndex: 5, lastTerm: 2 }), 14);
    expect(raftOut(v4)).toMatchObject([{ kind: 'vote_reply', term: 4, granted: false }]);
  });

  it('a leader steps down on a higher term and drops its unannounced entries', () => {
    const n = mk({ cfg: { bound: 1 } });
    elect(n);
    // node1 has the no-op (not in any queue); B = 1 lets it announce one entry per node.
    for (let rid = 1; rid <= 4; rid++) n.handle(request(CLIENT, rid, put('k', `v${rid}`)), 20 + rid);
    expect(n.entries().length).toBe(5);
    expect(n.announcedIndex).toBe(4);
    const out = n.handle(raft(1, { kind: 'request_vote', from: 1, term: 5, lastIndex: 4, lastTerm: 1 }), 50);
    expect(actions(out)[0]).toBe('StepDown');
    expect(n.currentRole).toBe('follower');
    expect(n.entries().length).toBe(4);
    // The dropped request's body stays held.
    expect(n.unorderedRequests()).toEqual([[CLIENT, 4]]);
    expect(persisted(out)).toMatchObject({ term: 5, votedFor: 'node2' });
  });
});

describe('hovercraft-node: replication and commit', () => {
  it('appends, announces and sends one append_entries per follower per new entry; commits on a majority', () => {
    const n = mk({ mode: 'hovercraft', cfg: { replierPolicy: 'leader' } });
    elect(n);
    const out = n.handle(request(CLIENT, 7, put('a', '1')), 30);
    expect(actions(out)).toEqual(['LeaderAppend', 'Announce', 'SendAppendEntries', 'SendAppendEntries']);
    expect(ev(out, 'LeaderAppend')[0]).toEqual({ action: 'LeaderAppend', term: 1, index: 2, client: CLIENT, rid: 7, ro: false });
    expect(ev(out, 'Announce')[0]).toEqual({ action: 'Announce', term: 1, index: 2, replier: 'node1', queue: 1 });
    const sent = aes(out);
    expect(sent.map((m) => m.dst)).toEqual([nodeAddr(1), nodeAddr(2)]);
    // Pipelined after the no-op: prevIndex 1, metadata only.
    expect(sent[0]).toMatchObject({ prevIndex: 1, prevTerm: 1, commit: 0, bodies: false, viaAggregator: false });
    expect(sent[0]!.entries).toEqual([{ term: 1, client: CLIENT, rid: 7, replier: 0, ro: false }]);
    const r1 = n.handle(raft(1, succ(1, 1, 2)), 40);
    expect(actions(r1)).toEqual(['HandleAppendEntriesReply', 'Commit', 'Apply', 'Apply', 'Reply']);
    expect(ev(r1, 'Commit')[0]).toEqual({ action: 'Commit', term: 1, index: 2 });
    expect(ev(r1, 'Apply')[0]).toMatchObject({ index: 1, client: NOOP, executed: true, digest: digest(new Uint8Array(0)) });
    expect(ev(r1, 'Apply')[1]).toMatchObject({ index: 2, client: CLIENT, rid: 7, replier: 'node1', executed: true, digest: digest(encodeOp(put('a', '1'))) });
    expect(ev(r1, 'Reply')[0]).toEqual({ action: 'Reply', index: 2, client: CLIENT, rid: 7, result: true });
    // The reply: an R2P2 RESPONSE from the node's address with the rid, then FEEDBACK to the middlebox.
    const [resp, fb] = sends(r1);
    expect(resp).toMatchObject({ src: nodeAddr(0), dst: CLIENT });
    const rm = decode(resp!.data);
    expect(rm.ok && rm.msg.type === 'RESPONSE' && rm.msg.rid === 7 && decodeResult(rm.msg.payload)).toBe(true);
    expect(fb!.dst).toBe(MIDDLEBOX);
    const fm = decode(fb!.data);
    expect(fm.ok && (fm.msg as FeedbackMsg)).toMatchObject({ type: 'FEEDBACK', client: CLIENT, fbRid: 7 });
    expect(fb!.data.length).toBe(16);
    // No commit message of its own: the next append_entries carries the commit index.
    expect(aes(r1)).toEqual([]);
    expect(aes(n.handle(request(CLIENT, 8, get('a')), 50))[0]).toMatchObject({ commit: 2 });
    // A duplicate of an ordered request is ignored.
    expect(n.handle(request(CLIENT, 7, put('a', '1')), 60)).toEqual([]);
  });

  it('counts only entries of the current term (earlier ones commit with them)', () => {
    const body = encodeOp(put('x', 'old'));
    const b64 = Buffer.from(body).toString('base64');
    const stable: StableState = { term: 2, votedFor: null, log: [[1, CLIENT, 1, 'node2', false, b64], [2, CLIENT, 2, 'node3', false, b64]], replied: 0 };
    const n = mk();
    const st = n.handle({ kind: 'start', stable }, 0);
    expect(traces(st)[0]).toEqual({ action: 'NodeStart', term: 2, votedFor: null, log: [[1, CLIENT, 1, 'node2', false], [2, CLIENT, 2, 'node3', false]] });
    n.handle(timer('election'), 10);
    n.handle(raft(1, { kind: 'vote_reply', from: 1, term: 3, granted: true }), 11);
    expect(n.currentRole).toBe('leader');
    expect(n.entries()[2]).toEqual([3, NOOP, 3, 'node1', false]);
    // Matching the old entries only: no commit.
    expect(actions(n.handle(raft(1, succ(1, 3, 2)), 20))).toEqual(['HandleAppendEntriesReply']);
    expect(n.commitIndex).toBe(0);
    const out = n.handle(raft(2, succ(2, 3, 3)), 21);
    expect(ev(out, 'Commit')).toEqual([{ action: 'Commit', term: 3, index: 3 }]);
    expect(ev(out, 'Apply').map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it('a follower stores entries by log matching, rejects a gap or a term mismatch, truncates a conflict', () => {
    const f = follower([[CLIENT, 1, put('a', '1')], [CLIENT, 2, put('a', '2')], [CLIENT, 3, put('a', '3')]]);
    const o1 = f.handle(raft(0, ae({ entries: [noop(1), we(1, CLIENT, 1, 1), we(1, CLIENT, 2, 2)] })), 10);
    expect(ev(o1, 'HandleAppendEntries')[0]).toMatchObject({ from: 'node1', success: true, matchIndex: 3, missing: [] });
    expect(raftOut(o1)).toMatchObject([{ kind: 'append_reply', success: true, matchIndex: 3, term: 1, dst: nodeAddr(0) }]);
    expect(persisted(o1)).toMatchObject({ log: [[1, NOOP, 1, 'node1', false, ''], [1, CLIENT, 1, 'node2', false, expect.any(String)], [1, CLIENT, 2, 'node3', false, expect.any(String)]] });
    // A gap: prevIndex beyond the log. A failure reports matchIndex 0 (no hint), to the leader.
    const o2 = f.handle(raft(0, ae({ prevIndex: 7, prevTerm: 1, entries: [] })), 11);
    expect(ev(o2, 'HandleAppendEntries')[0]).toMatchObject({ success: false, matchIndex: 0, missing: [] });
    expect(raftOut(o2)).toMatchObject([{ kind: 'append_reply', success: false, matchIndex: 0, dst: nodeAddr(0) }]);
    // A term mismatch at prevIndex.
    const o3 = f.handle(raft(0, ae({ term: 2, prevIndex: 3, prevTerm: 2, entries: [] })), 12);
    expect(ev(o3, 'HandleAppendEntries')[0]).toMatchObject({ success: false, matchIndex: 0 });
    // The new leader's entry 3 conflicts: truncated and replaced.
    const o4 = f.handle(raft(0, ae({ term: 2, prevIndex: 2, prevTerm: 1, commit: 2, entries: [we(2, CLIENT, 3, 0)] })), 13);
    expect(ev(o4, 'HandleAppendEntries')[0]).toMatchObject({ success: true, matchIndex: 3 });
    expect(f.entries().map((e) => e[2])).toEqual([1, 1, 3]);
    expect(ev(o4, 'Commit')).toEqual([{ action: 'Commit', term: 2, index: 2 }]);
    // The body of the truncated entry stays held, in the unordered set, and is not collected.
    expect(f.unorderedRequests()).toEqual([[CLIENT, 2]]);
    expect(traces(f.handle(timer('gc'), 10_000_000))).toEqual([]);
    expect(f.unorderedRequests()).toEqual([[CLIENT, 2]]);
    expect(ev(f.handle(raft(0, ae({ term: 2, prevIndex: 3, prevTerm: 2, entries: [we(2, CLIENT, 2, 0)] })), 13), 'HandleAppendEntries')[0])
      .toMatchObject({ success: true, matchIndex: 4, missing: [] });
    // A stale leader is refused with the current term.
    const o5 = f.handle(raft(0, ae({ term: 1, entries: [] })), 14);
    expect(raftOut(o5)).toMatchObject([{ kind: 'append_reply', success: false, term: 2 }]);
  });

  it('a rejection makes the leader probe from the match index + 1; further rejections do not multiply probes', () => {
    const n = mk({ cfg: { replierPolicy: 'leader' } });
    elect(n);
    for (let rid = 1; rid <= 3; rid++) n.handle(request(CLIENT, rid, put('k', `${rid}`)), 20 + rid);
    const r = n.handle(raft(1, fail(1, 1, 0)), 30);
    const probe = aes(r);
    expect(probe).toHaveLength(1);
    expect(probe[0]).toMatchObject({ dst: nodeAddr(1), prevIndex: 0, prevTerm: 0 });
    expect(probe[0]!.entries.map((e) => e.rid)).toEqual([1, 1, 2, 3]);
    expect(ev(r, 'HandleAppendEntriesReply')[0]).toEqual({ action: 'HandleAppendEntriesReply', from: 'node2', term: 1, success: false, matchIndex: 0, applied: 0 });
    // The same rejection of another pipelined append_entries: no second probe.
    expect(aes(n.handle(raft(1, fail(1, 1, 0)), 31))).toEqual([]);
    // While probing, new entries wait for that follower (the other one gets them).
    const more = aes(n.handle(request(CLIENT, 4, put('k', '4')), 32));
    expect(more.map((m) => m.dst)).toEqual([nodeAddr(2)]);
    // The probe's success resumes the stream with what it missed.
    const ok = aes(n.handle(raft(1, succ(1, 1, 4)), 40));
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({ dst: nodeAddr(1), prevIndex: 4 });
    expect(ok[0]!.entries.map((e) => e.rid)).toEqual([4]);
    // Known to match up to 4: a later rejection probes from 5.
    n.handle(request(CLIENT, 5, put('k', '5')), 41);
    expect(aes(n.handle(raft(1, fail(1, 1, 0)), 50))).toMatchObject([{ dst: nodeAddr(1), prevIndex: 4 }]);
  });

  it('sends a heartbeat only after heartbeatUs without append_entries, resending what is unacknowledged', () => {
    const n = mk({ cfg: { replierPolicy: 'leader', heartbeatUs: 300 } });
    const out = elect(n, 10);
    expect(out.filter((o) => o.kind === 'setTimer' && o.name === 'heartbeat:node2')).toEqual([{ kind: 'setTimer', name: 'heartbeat:node2', at: 311 }]);
    n.handle(raft(1, succ(1, 1, 1)), 20);
    const hb = n.handle(timer('heartbeat:node2'), 311);
    expect(aes(hb)).toMatchObject([{ dst: nodeAddr(1), prevIndex: 1, entries: [], commit: 1 }]);
    const hb3 = n.handle(timer('heartbeat:node3'), 311);
    expect(aes(hb3)).toMatchObject([{ dst: nodeAddr(2), prevIndex: 0, entries: [{ client: NOOP }] }]);
  });
});

describe('hovercraft-node: replier and bounded queues', () => {
  it('fixes the replier at announce time; a resent entry carries the same replier', () => {
    const n = mk({ cfg: { replierPolicy: 'jbsq', bound: 4 } });
    elect(n);
    const a = n.handle(request(CLIENT, 1, put('k', '1')), 20);
    const replier = ev(a, 'Announce')[0]!.replier;
    const first = aes(a)[0]!.entries[0]!.replier;
    const resend = aes(n.handle(raft(1, fail(1, 1, 0)), 30))[0]!;
    expect(resend.entries[1]!.replier).toBe(first);
    const hb = aes(n.handle(timer('heartbeat:node3'), 1000))[0]!;
    expect(hb.entries[1]!.replier).toBe(first);
    expect(n.entries()[1]![3]).toBe(replier);
  });

  it('seeded bug replier-reassigned: a resent entry carries another replier than announced', () => {
    const n = mk({ bugs: [BUG_REPLIER_REASSIGNED], cfg: { replierPolicy: 'jbsq', bound: 4 } });
    elect(n);
    const a = n.handle(request(CLIENT, 1, put('k', '1')), 20);
    const announced = ev(a, 'Announce')[0]!.replier;
    const resent = ev(n.handle(raft(1, fail(1, 1, 0)), 30), 'SendAppendEntries')[0]!;
    const again = ev(n.handle(timer('heartbeat:node3'), 1000), 'SendAppendEntries')[0]!;
    const repliers = [resent, again].map((e) => (e.entries as unknown as unknown[][])[1]![3]);
    expect(repliers.some((r) => r !== announced)).toBe(true);
  });

  it('JBSQ picks the shortest queue (round-robin on ties) and waits when every queue holds B', () => {
    const n = mk({ cfg: { replierPolicy: 'jbsq', bound: 1 } });
    elect(n);
    const ann: unknown[] = [];
    for (let rid = 1; rid <= 4; rid++) ann.push(...ev(n.handle(request(CLIENT, rid, put('k', `${rid}`)), 20 + rid), 'Announce').map((e) => [e.index, e.replier, e.queue]));
    // Ties broken round-robin from the leader: node2, node3, node1; the 4th waits.
    expect(ann).toEqual([[2, 'node2', 1], [3, 'node3', 1], [4, 'node1', 1]]);
    expect(n.announcedIndex).toBe(4);
    expect(n.entries()[4]![3]).toBe('');
    // node2 reports it applied its entry: it becomes eligible, the waiting entry is announced and sent.
    const out = n.handle(raft(1, succ(1, 1, 4, 2)), 40);
    expect(ev(out, 'Announce')).toEqual([{ action: 'Announce', term: 1, index: 5, replier: 'node2', queue: 1 }]);
    expect(aes(out).length).toBe(2);
  });

  it('seeded bug bounded-queue-ignored: the leader announces beyond B', () => {
    const n = mk({ bugs: [BUG_BOUNDED_QUEUE_IGNORED], cfg: { replierPolicy: 'jbsq', bound: 1 } });
    elect(n);
    const ann = [];
    for (let rid = 1; rid <= 6; rid++) ann.push(...ev(n.handle(request(CLIENT, rid, put('k', `${rid}`)), 20 + rid), 'Announce'));
    expect(ann).toHaveLength(6);
    expect(Math.max(...ann.map((e) => e.queue as number))).toBe(2);
  });

  it('executes a read-only entry only at its replier', () => {
    const mkF = () => follower([[CLIENT, 1, put('a', '1')], [CLIENT, 2, get('a')]]);
    const entries = [noop(1), we(1, CLIENT, 1, 0), we(1, CLIENT, 2, 1, true)];
    const f2 = mkF();
    f2.handle(raft(0, ae({ entries })), 10);
    const o = f2.handle(raft(0, ae({ prevIndex: 3, prevTerm: 1, commit: 3, entries: [] })), 20);
    expect(ev(o, 'Apply').map((e) => [e.index, e.executed])).toEqual([[1, true], [2, true], [3, true]]);
    expect(ev(o, 'Reply')).toEqual([{ action: 'Reply', index: 3, client: CLIENT, rid: 2, result: '1' }]);
    // The same entries where node3 is the replier of the get: node2 does not execute it, nor reply.
    const g = mkF();
    g.handle(raft(0, ae({ entries: [noop(1), we(1, CLIENT, 1, 0), we(1, CLIENT, 2, 2, true)] })), 10);
    const o2 = g.handle(raft(0, ae({ prevIndex: 3, prevTerm: 1, commit: 3, entries: [] })), 20);
    expect(ev(o2, 'Apply')[2]).toMatchObject({ index: 3, ro: true, replier: 'node3', executed: false });
    expect(ev(o2, 'Reply')).toEqual([]);
    expect(sends(o2).filter((p) => p.dst === CLIENT)).toEqual([]);
  });

  it('seeded bug stale-read-by-non-replier: a follower answers a get on arrival, before ordering', () => {
    const f = follower([], { bugs: [BUG_STALE_READ_BY_NON_REPLIER] });
    const out = f.handle(request(CLIENT, 9, get('a')), 10);
    expect(ev(out, 'Reply')).toEqual([{ action: 'Reply', index: 0, client: CLIENT, rid: 9, result: null }]);
    expect(sends(out).map((p) => p.dst)).toEqual([CLIENT]);
    const clean = follower();
    expect(actions(clean.handle(request(CLIENT, 9, get('a')), 10))).toEqual(['FollowerBuffer']);
  });
});

describe('hovercraft-node: unordered set and recovery', () => {
  it('buffers multicast requests (not in raft mode) and garbage-collects them after gcUs', () => {
    const f = mk({ self: 'node2', cfg: { gcUs: 1000 } });
    f.handle({ kind: 'start' }, 0);
    const o = f.handle(request(CLIENT, 1, put('a', '1')), 100);
    expect(traces(o)).toEqual([{ action: 'FollowerBuffer', client: CLIENT, rid: 1, ro: false }]);
    expect(o).toContainEqual({ kind: 'setTimer', name: 'gc', at: 1100 });
    f.handle(request(CLIENT, 2, get('a')), 600);
    expect(f.handle(request(CLIENT, 2, get('a')), 601)).toEqual([]);
    const g1 = f.handle(timer('gc'), 1100);
    expect(traces(g1)).toEqual([{ action: 'FollowerGc', client: CLIENT, rid: 1 }]);
    expect(g1).toContainEqual({ kind: 'setTimer', name: 'gc', at: 1600 });
    expect(traces(f.handle(timer('gc'), 1600))).toEqual([{ action: 'FollowerGc', client: CLIENT, rid: 2 }]);
    expect(f.unorderedRequests()).toEqual([]);
    const r = mk({ self: 'node2', mode: 'raft' });
    r.handle({ kind: 'start' }, 0);
    expect(r.handle(request(CLIENT, 1, put('a', '1')), 100)).toEqual([]);
  });

  it('stops at the first missing body, asks the leader, retries with the other peers, then stores it', () => {
    const f = follower([[CLIENT, 1, put('a', '1')], [CLIENT, 3, put('a', '3')]], { cfg: { recoveryRetryUs: 200 } });
    const entries = [noop(1), we(1, CLIENT, 1, 0), we(1, CLIENT2, 2, 1), we(1, CLIENT, 3, 2)];
    const o = f.handle(raft(0, ae({ commit: 4, entries })), 10);
    expect(ev(o, 'HandleAppendEntries')[0]).toMatchObject({ success: true, matchIndex: 2, missing: [[CLIENT2, 2]] });
    expect(ev(o, 'Commit')).toEqual([{ action: 'Commit', term: 1, index: 2 }]);
    expect(ev(o, 'SendRecoveryRequest')).toEqual([{ action: 'SendRecoveryRequest', to: 'node1', client: CLIENT2, rid: 2 }]);
    expect(raftOut(o).map((m) => [m.kind, m.dst])).toEqual([['append_reply', nodeAddr(0)], ['recovery_request', nodeAddr(0)]]);
    // Asked once per missing body even if append_entries keep coming.
    expect(ev(f.handle(raft(0, ae({ prevIndex: 2, prevTerm: 1, entries: entries.slice(2) })), 20), 'SendRecoveryRequest')).toEqual([]);
    const retry = f.handle(timer(`recover:${CLIENT2}#2`), 210);
    expect(ev(retry, 'SendRecoveryRequest')).toEqual([{ action: 'SendRecoveryRequest', to: 'node3', client: CLIENT2, rid: 2 }]);
    const body = encodeOp(put('b', '2'));
    const rr = f.handle(raft(2, { kind: 'recovery_reply', from: 2, client: CLIENT2, rid: 2, ro: false, body }), 220);
    expect(traces(rr)).toEqual([{ action: 'HandleRecoveryReply', from: 'node3', client: CLIENT2, rid: 2 }]);
    expect(rr).toContainEqual({ kind: 'cancelTimer', name: `recover:${CLIENT2}#2` });
    // A duplicate reply changes nothing.
    expect(f.handle(raft(0, { kind: 'recovery_reply', from: 0, client: CLIENT2, rid: 2, ro: false, body }), 221)).toEqual([]);
    const o2 = f.handle(raft(0, ae({ prevIndex: 2, prevTerm: 1, commit: 4, entries: entries.slice(2) })), 230);
    expect(ev(o2, 'HandleAppendEntries')[0]).toMatchObject({ success: true, matchIndex: 4, missing: [] });
    expect(ev(o2, 'Apply').map((e) => [e.index, e.digest])).toEqual([[3, digest(body)], [4, digest(encodeOp(put('a', '3')))]]);
  });

  it('answers a recovery request from its unordered set or its log, and says when it has nothing', () => {
    const f = follower([[CLIENT, 1, get('a')]]);
    const o = f.handle(raft(2, { kind: 'recovery_request', from: 2, client: CLIENT, rid: 1 }), 10);
    expect(traces(o)).toEqual([{ action: 'HandleRecoveryRequest', from: 'node3', client: CLIENT, rid: 1, found: true }]);
    expect(raftOut(o)).toMatchObject([{ kind: 'recovery_reply', client: CLIENT, rid: 1, ro: true, body: encodeOp(get('a')), dst: nodeAddr(2) }]);
    const none = f.handle(raft(2, { kind: 'recovery_request', from: 2, client: CLIENT, rid: 5 }), 11);
    expect(traces(none)).toEqual([{ action: 'HandleRecoveryRequest', from: 'node3', client: CLIENT, rid: 5, found: false }]);
    expect(sends(none)).toEqual([]);
    f.handle(raft(0, ae({ entries: [noop(1), we(1, CLIENT, 1, 1, true)] })), 12);
    expect(f.unorderedRequests()).toEqual([]);
    expect(ev(f.handle(raft(2, { kind: 'recovery_request', from: 2, client: CLIENT, rid: 1 }), 13), 'HandleRecoveryRequest')[0]).toMatchObject({ found: true });
  });

  it('seeded bug apply-without-body: a follower stores an entry it has no body for and applies an empty body', () => {
    const f = follower([], { bugs: [BUG_APPLY_WITHOUT_BODY] });
    const o = f.handle(raft(0, ae({ commit: 2, entries: [noop(1), we(1, CLIENT, 1, 0)] })), 10);
    expect(ev(o, 'HandleAppendEntries')[0]).toMatchObject({ success: true, matchIndex: 2, missing: [] });
    expect(ev(o, 'Apply')[1]).toMatchObject({ index: 2, client: CLIENT, rid: 1, digest: digest(new Uint8Array(0)) });
    const clean = follower();
    const c = clean.handle(raft(0, ae({ commit: 2, entries: [noop(1), we(1, CLIENT, 1, 0)] })), 10);
    expect(ev(c, 'HandleAppendEntries')[0]).toMatchObject({ matchIndex: 1, missing: [[CLIENT, 1]] });
    expect(ev(c, 'Apply').map((e) => e.index)).toEqual([1]);
  });

  it('raft mode: append_entries carry the bodies and followers store them from there', () => {
    const n = mk({ mode: 'raft', cfg: { replierPolicy: 'jbsq' } });
    elect(n);
    const out = n.handle(request(CLIENT, 1, put('a', '1')), 20);
    expect(ev(out, 'Announce')[0]).toMatchObject({ replier: 'node1' });
    const m = aes(out)[0]!;
    expect(m.bodies).toBe(true);
    expect(m.entries[0]!.body).toEqual(encodeOp(put('a', '1')));
    const f = follower([], { mode: 'raft' });
    f.handle(raft(0, ae({ bodies: true, entries: [{ ...noop(1), body: new Uint8Array(0) }] })), 5);
    const o = f.handle(raft(0, { ...m, prevIndex: 1, prevTerm: 1, commit: 2 }), 30);
    expect(ev(o, 'HandleAppendEntries')[0]).toMatchObject({ success: true, matchIndex: 2 });
    expect(ev(o, 'Apply')[1]).toMatchObject({ index: 2, digest: digest(encodeOp(put('a', '1'))) });
    expect(f.store()).toEqual([['a', '1']]);
  });
});

describe('hovercraft-node: persistence', () => {
  it('persists before sending, and a restarted node recovers its log, applies it and replies only what it had not', () => {
    const mkF = () => mk({ self: 'node2' });
    const f = mkF();
    f.handle({ kind: 'start' }, 0);
    for (let rid = 1; rid <= 3; rid++) f.handle(request(CLIENT, rid, put('k', `${rid}`)), 1);
    const o = f.handle(raft(0, ae({ commit: 2, entries: [noop(1), we(1, CLIENT, 1, 1), we(1, CLIENT, 2, 1), we(1, CLIENT, 3, 1)] })), 10);
    const kinds = o.map((x) => x.kind);
    expect(kinds.indexOf('persist')).toBeLessThan(kinds.indexOf('send'));
    expect(ev(o, 'Reply').map((e) => e.rid)).toEqual([1]);
    const stable = persisted(o)!;
    expect(stable).toMatchObject({ term: 1, votedFor: null, replied: 2 });
    // Restart: a fresh core is handed the persisted state.
    const g = mkF();
    const st = g.handle({ kind: 'start', stable }, 100);
    expect(traces(st)).toEqual([{ action: 'NodeStart', term: 1, votedFor: null, log: f.entries() }]);
    const o2 = g.handle(raft(0, ae({ prevIndex: 4, prevTerm: 1, commit: 4, entries: [] })), 110);
    expect(ev(o2, 'Apply').map((e) => e.index)).toEqual([1, 2, 3, 4]);
    // Entry 2 was answered before the crash; 3 and 4 were not.
    expect(ev(o2, 'Reply').map((e) => e.index)).toEqual([3, 4]);
    expect(g.store()).toEqual([['k', '3']]);
    // Garbage in stable storage restores nothing.
    expect(traces(mkF().handle({ kind: 'start', stable: { term: 'x' } }, 0))[0]).toMatchObject({ term: 0, log: [] });
    expect(traces(mkF().handle({ kind: 'start', stable: { term: 1, votedFor: 'nobody', log: [] } }, 0))[0]).toMatchObject({ term: 0 });
  });

  it('a restarted candidate keeps its vote and term', () => {
    const n = mk();
    n.handle({ kind: 'start' }, 0);
    const stable = persisted(n.handle(timer('election'), 10))!;
    const m = mk();
    m.handle({ kind: 'start', stable }, 20);
    const v = m.handle(raft(2, { kind: 'request_vote', from: 2, term: 1, lastIndex: 0, lastTerm: 0 }), 30);
    expect(ev(v, 'HandleRequestVote')[0]).toMatchObject({ granted: false });
  });
});

describe('hovercraft-node: hovercraft++', () => {
  function ppLeader(extra: Partial<NodeConfig> = {}, n = 3): { node: HovercraftNode; out: Out } {
    const node = mk({ n, mode: 'hovercraft++', cfg: { replierPolicy: 'leader', ...extra } });
    const out = elect(node);
    return { node, out };
  }

  it('probes the aggregator after its election and runs direct until the answer', () => {
    const { node, out } = ppLeader();
    expect(raftOut(out).filter((m) => m.kind === 'agg_probe')).toMatchObject([{ term: 1, dst: AGGREGATOR }]);
    expect(out).toContainEqual({ kind: 'setTimer', name: 'agg-probe', at: 211 });
    expect(aes(out).map((m) => m.dst)).toEqual([nodeAddr(1), nodeAddr(2)]);
    node.handle(raft(1, succ(1, 1, 1)), 20);
    node.handle(raft(2, succ(2, 1, 1)), 20);
    const use = node.handle(raft(AGGREGATOR_INDEX, { kind: 'agg_probe_reply', from: AGGREGATOR_INDEX, term: 1 }), 30);
    expect(traces(use)).toEqual([{ action: 'LeaderUseAggregator', term: 1 }]);
    expect(node.usingAggregator).toBe(true);
    const req = node.handle(request(CLIENT, 1, put('a', '1')), 40);
    const sent = aes(req);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ dst: AGGREGATOR, viaAggregator: true, prevIndex: 1, prevTerm: 1 });
    expect(ev(req, 'SendAppendEntries')[0]).toMatchObject({ to: 'aggregator' });
    // AGG_COMMIT commits at the leader and tells it every node's applied index.
    const c = node.handle(raft(AGGREGATOR_INDEX, { kind: 'agg_commit', from: AGGREGATOR_INDEX, term: 1, commit: 2, applied: [0, 1, 1] }), 60);
    expect(actions(c).slice(0, 2)).toEqual(['HandleAggCommit', 'Commit']);
    expect(ev(c, 'HandleAggCommit')).toEqual([{ action: 'HandleAggCommit', term: 1, commit: 2, applied: [['node1', 0], ['node2', 1], ['node3', 1]] }]);
    expect(ev(c, 'Reply')).toHaveLength(1);
    // An AGG_COMMIT of another term is not taken.
    expect(node.handle(raft(AGGREGATOR_INDEX, { kind: 'agg_commit', from: AGGREGATOR_INDEX, term: 2, commit: 9, applied: [0, 0, 0] }), 61)).toEqual([]);
    // The heartbeat goes to the aggregator.
    expect(aes(node.handle(timer('agg-heartbeat'), 1000))).toMatchObject([{ dst: AGGREGATOR, prevIndex: 2, entries: [] }]);
  });

  it('falls back to direct append_entries when the probe times out', () => {
    const { node } = ppLeader();
    expect(node.handle(timer('agg-probe'), 211)).toEqual([]);
    expect(node.handle(raft(AGGREGATOR_INDEX, { kind: 'agg_probe_reply', from: AGGREGATOR_INDEX, term: 1 }), 300)).toEqual([]);
    expect(aes(node.handle(request(CLIENT, 1, put('a', '1')), 310)).map((m) => m.dst)).toEqual([nodeAddr(1), nodeAddr(2)]);
  });

  it('serves a follower whose append_entries failed point-to-point until it catches up', () => {
    const { node } = ppLeader();
    node.handle(raft(1, succ(1, 1, 1)), 20);
    node.handle(raft(2, succ(2, 1, 1)), 20);
    node.handle(raft(AGGREGATOR_INDEX, { kind: 'agg_probe_reply', from: AGGREGATOR_INDEX, term: 1 }), 30);
    node.handle(request(CLIENT, 1, put('a', '1')), 40);
    node.handle(request(CLIENT, 2, put('a', '2')), 41);
    // node3 missed the first forwarded append_entries.
    const f = node.handle(raft(2, fail(2, 1, 0)), 60);
    expect(aes(f)).toMatchObject([{ dst: nodeAddr(2), viaAggregator: false, prevIndex: 1 }]);
    expect(aes(f)[0]!.entries.map((e) => e.rid)).toEqual([1, 2]);
    // New entries still go once, to the aggregator.
    expect(aes(node.handle(request(CLIENT, 3, put('a', '3')), 61)).map((m) => m.dst)).toEqual([AGGREGATOR]);
    // Its direct heartbeat continues while it is behind...
    expect(aes(node.handle(timer('heartbeat:node3'), 500)).map((m) => m.dst)).toEqual([nodeAddr(2)]);
    // ...and stops once a direct success matches what was sent to it directly.
    const ok = node.handle(raft(2, succ(2, 1, 4)), 520);
    expect(ok).toContainEqual({ kind: 'cancelTimer', name: 'heartbeat:node3' });
    expect(aes(node.handle(timer('heartbeat:node3'), 900))).toEqual([]);
  });

  it('a follower replies success to the aggregator, failure to the leader, and commits AGG_COMMIT only up to what it verified', () => {
    const f = follower([[CLIENT, 1, put('a', '1')]], { mode: 'hovercraft++' });
    const viaAgg = { src: nodeAddr(0) };
    const o = f.handle({ kind: 'receive', packet: { ...viaAgg, dst: '', data: encodeRaft(ae({ viaAggregator: true, entries: [noop(1)] })) } }, 10);
    expect(raftOut(o)).toMatchObject([{ kind: 'append_reply', success: true, dst: AGGREGATOR }]);
    const bad = f.handle(raft(0, ae({ viaAggregator: true, prevIndex: 5, prevTerm: 1, entries: [] })), 11);
    expect(raftOut(bad)).toMatchObject([{ kind: 'append_reply', success: false, matchIndex: 0, dst: nodeAddr(0) }]);
    // Entry 2 stored without verification beyond 2; AGG_COMMIT of 5 commits only 2... first only 1 verified.
    const c1 = f.handle(raft(AGGREGATOR_INDEX, { kind: 'agg_commit', from: AGGREGATOR_INDEX, term: 1, commit: 5, applied: [0, 0, 0] }), 12);
    expect(ev(c1, 'HandleAggCommit')).toEqual([{ action: 'HandleAggCommit', term: 1, commit: 5, applied: [['node1', 0], ['node2', 0], ['node3', 0]] }]);
    expect(ev(c1, 'Commit')).toEqual([{ action: 'Commit', term: 1, index: 1 }]);
    f.handle(raft(0, ae({ viaAggregator: true, prevIndex: 1, prevTerm: 1, entries: [we(1, CLIENT, 1, 1)] })), 13);
    const c2 = f.handle(raft(AGGREGATOR_INDEX, { kind: 'agg_commit', from: AGGREGATOR_INDEX, term: 1, commit: 5, applied: [0, 0, 0] }), 14);
    expect(ev(c2, 'Commit')).toEqual([{ action: 'Commit', term: 1, index: 2 }]);
    expect(ev(c2, 'Reply')).toHaveLength(1);
    // Another term's AGG_COMMIT is ignored.
    expect(f.handle(raft(AGGREGATOR_INDEX, { kind: 'agg_commit', from: AGGREGATOR_INDEX, term: 2, commit: 9, applied: [0, 0, 0] }), 15)).toEqual([]);
  });
});

describe('hovercraft-node: seeded commit bug and robustness', () => {
  it('seeded bug commit-without-majority: with 5 nodes one follower reply commits', () => {
    const run = (bugs: string[]) => {
      const n = mk({ n: 5, bugs, cfg: { replierPolicy: 'leader' } });
      elect(n);
      n.handle(raft(2, { kind: 'vote_reply', from: 2, term: 1, granted: true }), 12);
      n.handle(request(CLIENT, 1, put('a', '1')), 20);
      return ev(n.handle(raft(1, succ(1, 1, 2)), 30), 'Commit');
    };
    expect(run([])).toEqual([]);
    expect(run([BUG_COMMIT_WITHOUT_MAJORITY])).toEqual([{ action: 'Commit', term: 1, index: 2 }]);
  });

  it('ignores malformed and unexpected packets without throwing', () => {
    const f = follower();
    const n = mk();
    elect(n);
    const junk = [
      new Uint8Array(0), Uint8Array.of(0xcc, 8, 0x50, 0xc0, 0, 0, 0, 1, 3), encodeRaft({ kind: 'agg_probe', from: 1, term: 1 }),
      encodeRaft({ kind: 'vote_reply', from: 0, term: 0, granted: true }), // from itself (node1) at node1
      split('REQUEST', 'LB_ROUTE', 1, encodeOp(put('a', '1')))[0]!,
      split('REQUEST', 'REPLICATED_ROUTE', 1, new TextEncoder().encode('not json'))[0]!,
      split('RESPONSE', 'FIXED_ROUTE', 1, new Uint8Array(3))[0]!,
      encodeRaft(ae({ entries: [we(1, CLIENT, 1, 5)] })), // replier index beyond the group
    ];
    for (const data of junk) {
      expect(traces(n.handle({ kind: 'receive', packet: { src: CLIENT, dst: '', data } }, 50))).toEqual([]);
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(5, 6, 7), (b, type) => {
      const data = Uint8Array.from([0xcc, 8, type << 4, 0xc0, 0, 0, 0, 1, ...b]);
      expect(() => f.handle({ kind: 'receive', packet: { src: nodeAddr(0), dst: '', data } }, 60)).not.toThrow();
      expect(() => n.handle({ kind: 'receive', packet: { src: nodeAddr(1), dst: '', data } }, 60)).not.toThrow();
    }), { numRuns: 2000 });
  });
});
