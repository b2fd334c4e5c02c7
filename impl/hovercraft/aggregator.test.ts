import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CoreOutput } from '../core.ts';
import { HovercraftAggregator } from './aggregator.ts';
import { BUG_AGGREGATOR_COMMITS_EARLY, BUG_AGGREGATOR_OVERSTATES_APPLIED } from './config.ts';
import { AGGREGATOR, nodeAddr, nodeConfig, sends, traces } from './test-net.ts';
import { AGGREGATOR_INDEX, decodeRaft, encodeRaft, type RaftMsg, type WireEntry } from './wire.ts';

type Out = CoreOutput<never>[];

function mk(n = 3, bugs: string[] = []): HovercraftAggregator {
  const c = nodeConfig(n, 'node1', 'hovercraft++');
  const a = new HovercraftAggregator('aggregator', AGGREGATOR, { nodes: c.nodes, addrs: c.addrs }, new Set(bugs));
  a.handle({ kind: 'start' }, 0);
  return a;
}
const rx = (from: number, m: RaftMsg) => ({ kind: 'receive' as const, packet: { src: nodeAddr(from), dst: AGGREGATOR, data: encodeRaft(m) } });
const we = (term: number, rid: number): WireEntry => ({ term, client: '10.0.1.1:5000', rid, replier: 0, ro: false });
const ae = (o: { term?: number; from?: number; prevIndex: number; prevTerm: number; commit?: number; entries: WireEntry[]; via?: boolean }): RaftMsg => ({
  kind: 'append_entries', from: o.from ?? 0, term: o.term ?? 1, prevIndex: o.prevIndex, prevTerm: o.prevTerm, commit: o.commit ?? 0,
  viaAggregator: o.via ?? true, bodies: false, entries: o.entries,
});
const ok = (from: number, matchIndex: number, applied = 0, term = 1): RaftMsg => ({ kind: 'append_reply', from, term, success: true, matchIndex, applied });
const commits = (out: Out) => sends(out).flatMap((p) => {
  const d = decodeRaft(p.data);
  return d.ok && d.msg.kind === 'agg_commit' ? [{ ...d.msg, dst: p.dst, src: p.src }] : [];
});

describe('hovercraft-aggregator', () => {
  it('answers the new leader\'s probe after flushing to its term', () => {
    const a = mk();
    const out = a.handle(rx(1, { kind: 'agg_probe', from: 1, term: 4 }), 10);
    expect(traces(out)).toEqual([{ action: 'AggFlush', term: 4 }, { action: 'AggProbe', from: 'node2', term: 4 }]);
    const [p] = sends(out);
    expect(p).toMatchObject({ src: AGGREGATOR, dst: nodeAddr(1) });
    expect(decodeRaft(p!.data)).toEqual({ ok: true, msg: { kind: 'agg_probe_reply', from: AGGREGATOR_INDEX, term: 4 } });
    expect(a.registers()).toMatchObject({ term: 4, leader: 'node2', commit: 0 });
    // A stale probe is dropped; a probe of this term from another node is dropped.
    expect(a.handle(rx(2, { kind: 'agg_probe', from: 2, term: 3 }), 11)).toEqual([]);
    expect(a.handle(rx(2, { kind: 'agg_probe', from: 2, term: 4 }), 11)).toEqual([]);
  });

  it('copies the leader\'s append_entries to every other node, keeping the leader as source', () => {
    const a = mk(5);
    a.handle(rx(0, { kind: 'agg_probe', from: 0, term: 1 }), 1);
    const m = ae({ prevIndex: 0, prevTerm: 0, commit: 0, entries: [we(1, 1), we(1, 2)] });
    const out = a.handle(rx(0, m), 10);
    expect(traces(out)).toEqual([{ action: 'AggForward', term: 1, prevIndex: 0, count: 2, commit: 0 }]);
    const copies = sends(out);
    expect(copies.map((p) => p.dst)).toEqual([1, 2, 3, 4].map(nodeAddr));
    expect(copies.every((p) => p.src === nodeAddr(0) && p.data.length === encodeRaft(m).length)).toBe(true);
    expect(a.registers()).toMatchObject({ sentEnd: 2, firstIdx: 1, match: [2, 0, 0, 0, 0] });
    // Not flagged for the aggregator: dropped.
    expect(a.handle(rx(0, ae({ prevIndex: 2, prevTerm: 1, entries: [], via: false })), 11)).toEqual([]);
  });

  it('multicasts AGG_COMMIT once a majority (leader included) matches, with every node\'s applied index', () => {
    const a = mk(5);
    a.handle(rx(0, ae({ prevIndex: 0, prevTerm: 0, entries: [we(1, 1), we(1, 2)] })), 10);
    const r1 = a.handle(rx(1, ok(1, 2, 1)), 20);
    expect(traces(r1)).toEqual([{ action: 'AggReply', from: 'node2', term: 1, matchIndex: 2, applied: 1 }]);
    expect(sends(r1)).toEqual([]);
    const r2 = a.handle(rx(3, ok(3, 1, 0)), 21);
    expect(traces(r2)).toEqual([{ action: 'AggReply', from: 'node4', term: 1, matchIndex: 1, applied: 0 }, { action: 'AggCommit', term: 1, commit: 1, applied: [['node1', 0], ['node2', 1], ['node3', 0], ['node4', 0], ['node5', 0]] }]);
    const c = commits(r2);
    expect(c.map((x) => x.dst)).toEqual([0, 1, 2, 3, 4].map(nodeAddr));
    expect(c[0]).toMatchObject({ term: 1, commit: 1, applied: [0, 1, 0, 0, 0], src: AGGREGATOR });
    const r3 = a.handle(rx(2, ok(2, 2, 2)), 22);
    expect(traces(r3).at(-1)).toEqual({ action: 'AggCommit', term: 1, commit: 2, applied: [['node1', 0], ['node2', 1], ['node3', 2], ['node4', 0], ['node5', 0]] });
    expect(commits(r3)[0]!.applied).toEqual([0, 1, 2, 0, 0]);
    // Nothing new: no AGG_COMMIT.
    expect(sends(a.handle(rx(4, ok(4, 2)), 23))).toEqual([]);
    // Failures are not the aggregator's business.
    expect(a.handle(rx(4, { kind: 'append_reply', from: 4, term: 1, success: false, matchIndex: 0, applied: 0 }), 24)).toEqual([]);
  });

  it('does not commit on matches of earlier-term entries only', () => {
    const a = mk(3);
    // Term 3 leader whose log holds entries 1..2 of term 1, then its no-op at 3.
    a.handle(rx(0, ae({ term: 3, prevIndex: 2, prevTerm: 1, entries: [we(3, 3)] })), 10);
    expect(a.registers()).toMatchObject({ firstIdx: 3, sentEnd: 3 });
    expect(traces(a.handle(rx(1, ok(1, 2, 0, 3)), 11)).map((e) => e.action)).toEqual(['AggReply']);
    expect(traces(a.handle(rx(2, ok(2, 3, 0, 3)), 12)).at(-1)).toEqual({ action: 'AggCommit', term: 3, commit: 3, applied: [['node1', 0], ['node2', 0], ['node3', 0]] });
    // Only entries mark the first index of the term: without any, nothing commits.
    const b = mk(3);
    b.handle(rx(0, ae({ term: 2, prevIndex: 7, prevTerm: 2, entries: [] })), 10);
    expect(b.registers().firstIdx).toBe(0);
    expect(traces(b.handle(rx(1, ok(1, 7, 0, 2)), 11)).map((e) => e.action)).toEqual(['AggReply']);
    b.handle(rx(0, ae({ term: 2, prevIndex: 7, prevTerm: 2, entries: [we(2, 8)] })), 12);
    expect(b.registers().firstIdx).toBe(8);
    expect(traces(b.handle(rx(1, ok(1, 8, 0, 2)), 13)).at(-1)).toEqual({ action: 'AggCommit', term: 2, commit: 8, applied: [['node1', 0], ['node2', 0], ['node3', 0]] });
  });

  it('an append_entries that announces nothing new makes the next reply send AGG_COMMIT of the unchanged index', () => {
    const a = mk(3);
    a.handle(rx(0, ae({ prevIndex: 0, prevTerm: 0, entries: [we(1, 1)] })), 10);
    expect(commits(a.handle(rx(1, ok(1, 1)), 11))).toHaveLength(3);
    const hb = a.handle(rx(0, ae({ prevIndex: 1, prevTerm: 1, commit: 1, entries: [] })), 20);
    expect(traces(hb)).toEqual([{ action: 'AggForward', term: 1, prevIndex: 1, count: 0, commit: 1 }]);
    expect(a.registers().pending).toBe(true);
    const r = a.handle(rx(1, ok(1, 1)), 21);
    expect(traces(r).at(-1)).toEqual({ action: 'AggCommit', term: 1, commit: 1, applied: [['node1', 0], ['node2', 0], ['node3', 0]] });
    expect(a.registers().pending).toBe(false);
    expect(sends(a.handle(rx(2, ok(2, 1)), 22))).toEqual([]);
  });

  it('flushes at a higher term and drops stale packets', () => {
    const a = mk(3);
    a.handle(rx(0, ae({ prevIndex: 0, prevTerm: 0, entries: [we(1, 1)] })), 10);
    a.handle(rx(1, ok(1, 1, 1)), 11);
    const out = a.handle(rx(2, ae({ term: 2, from: 2, prevIndex: 1, prevTerm: 1, entries: [we(2, 2)] })), 20);
    expect(traces(out)[0]).toEqual({ action: 'AggFlush', term: 2 });
    expect(a.registers()).toMatchObject({ term: 2, leader: 'node3', commit: 0, firstIdx: 2, sentEnd: 2, match: [0, 0, 2], applied: [0, 0, 0] });
    expect(a.handle(rx(0, ae({ term: 1, prevIndex: 1, prevTerm: 1, entries: [] })), 21)).toEqual([]);
    expect(a.handle(rx(1, ok(1, 5, 5, 1)), 22)).toEqual([]);
    // Another node claiming to lead this term is dropped.
    expect(a.handle(rx(0, ae({ term: 2, prevIndex: 2, prevTerm: 2, entries: [] })), 23)).toEqual([]);
  });

  it('seeded bug aggregator-commits-early: the first success reply triggers AGG_COMMIT', () => {
    const run = (bugs: string[]) => {
      const a = mk(5, bugs);
      a.handle(rx(0, ae({ prevIndex: 0, prevTerm: 0, entries: [we(1, 1)] })), 10);
      return traces(a.handle(rx(1, ok(1, 1)), 11)).filter((e) => e.action === 'AggCommit');
    };
    expect(run([])).toEqual([]);
    expect(run([BUG_AGGREGATOR_COMMITS_EARLY])).toEqual([{ action: 'AggCommit', term: 1, commit: 1, applied: [['node1', 0], ['node2', 0], ['node3', 0], ['node4', 0], ['node5', 0]] }]);
  });

  it('seeded bug aggregator-overstates-applied: AGG_COMMIT reports a follower\'s match index as its applied index', () => {
    const run = (bugs: string[]) => {
      const a = mk(3, bugs);
      a.handle(rx(0, ae({ prevIndex: 0, prevTerm: 0, entries: [we(1, 1), we(1, 2)] })), 10);
      const out = a.handle(rx(1, ok(1, 2, 1)), 11);
      return { trace: traces(out).filter((e) => e.action === 'AggCommit'), wire: commits(out)[0]!.applied };
    };
    expect(run([])).toEqual({ trace: [{ action: 'AggCommit', term: 1, commit: 2, applied: [['node1', 0], ['node2', 1], ['node3', 0]] }], wire: [0, 1, 0] });
    // The reply said applied 1 (AggReply reports it); AGG_COMMIT says 2.
    expect(run([BUG_AGGREGATOR_OVERSTATES_APPLIED])).toEqual({
      trace: [{ action: 'AggCommit', term: 1, commit: 2, applied: [['node1', 0], ['node2', 2], ['node3', 0]] }], wire: [0, 2, 0],
    });
  });

  it('keeps fixed-size state and ignores garbage', () => {
    const a = mk(3);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(5, 6, 7), (b, t) => {
      const data = Uint8Array.from([0xcc, 8, t << 4, 0xc0, 0, 0, 0, 1, ...b]);
      expect(() => a.handle({ kind: 'receive', packet: { src: nodeAddr(0), dst: AGGREGATOR, data } }, 1)).not.toThrow();
    }), { numRuns: 2000 });
    const r = a.registers();
    expect(r.match).toHaveLength(3);
    expect(r.applied).toHaveLength(3);
    expect(a.handle({ kind: 'timer', name: 'x' }, 2)).toEqual([]);
    expect(a.handle(rx(1, { kind: 'request_vote', from: 1, term: 99, lastIndex: 0, lastTerm: 0 }), 3)).toEqual([]);
  });
});
