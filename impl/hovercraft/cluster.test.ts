/**
 * End-to-end runs of nodes, the aggregator and a stub multicast middlebox on the in-test network,
 * in every mode: client operations commit and are answered exactly once, replicas agree, a leader
 * failover keeps the service going, and the leader's message counts per committed request match
 * Table 12.1 of the thesis.
 */
import { describe, expect, it } from 'vitest';
import type { Mode } from './actions.ts';
import type { KvOp } from './kv.ts';
import { Cluster, type Event } from './test-net.ts';

const MODES: Mode[] = ['raft', 'hovercraft', 'hovercraft++'];

/** Client k alternates put(k_key, v_i) and get(k_key). */
const workload = (k: number) => (i: number): KvOp => (i % 2 === 0 ? { op: 'put', key: `key${k}`, value: `v${i}` } : { op: 'get', key: `key${k}` });

function build(n: number, mode: Mode, seed: number, timeoutUs = 20_000): Cluster {
  const c = new Cluster({ n, mode, seed, bound: 4 });
  for (let k = 0; k < n; k++) c.addClient(workload(k), { startAt: 4000 + 37 * k, timeoutUs });
  return c;
}

function quiesce(c: Cluster, until: number): void {
  for (const cl of c.clients) cl.active = false;
  c.net.run(until);
}

/** Safety on the trace: every index applied the same request body everywhere, each request answered at most once. */
function checkSafety(events: Event[]): void {
  const byIndex = new Map<number, string>();
  for (const e of events) {
    if (e.action !== 'Apply') continue;
    const sig = JSON.stringify([e.client, e.rid, e.digest]);
    const prev = byIndex.get(e.index as number);
    if (prev === undefined) byIndex.set(e.index as number, sig);
    else expect(sig, `index ${e.index} applied differently on ${e.node}`).toBe(prev);
  }
  const replies = new Set<string>();
  for (const e of events) {
    if (e.action !== 'Reply') continue;
    const key = `${e.client}#${e.rid}`;
    expect(replies.has(key), `second Reply to ${key}`).toBe(false);
    replies.add(key);
  }
  // Per term at most one leader.
  const leaders = new Map<number, string>();
  for (const e of events) {
    if (e.action !== 'BecomeLeader') continue;
    expect(leaders.get(e.term as number) ?? e.node).toBe(e.node);
    leaders.set(e.term as number, e.node);
  }
}

/** Every get returns the value of the client's last completed put, or of a put it gave up on since. */
function checkClients(c: Cluster): void {
  for (const cl of c.clients) {
    for (const n of cl.repliesPerRid.values()) expect(n).toBe(1);
    const history: { op: KvOp; rid: number; sentAt: number; ok: boolean; result?: unknown }[] = [
      ...cl.completed.map((x) => ({ ...x, ok: true })), ...cl.timedOut.map((x) => ({ ...x, ok: false })),
    ].sort((a, b) => a.sentAt - b.sentAt);
    let allowed: (string | null)[] = [null];
    for (const h of history) {
      if (h.op.op === 'put') {
        allowed = h.ok ? [h.op.value] : [...allowed, h.op.value];
      } else if (h.ok) {
        expect(allowed, `get of ${cl.node} rid ${h.rid}`).toContain(h.result);
      }
    }
  }
}

function checkReplicas(c: Cluster): void {
  const live = c.live();
  const applied = live.map((n) => n.appliedIndex);
  expect(new Set(applied).size, `applied ${applied}`).toBe(1);
  const stores = live.map((n) => JSON.stringify(n.store()));
  expect(new Set(stores).size).toBe(1);
}

describe('hovercraft cluster: steady state', () => {
  for (const n of [3, 5]) {
    for (const mode of MODES) {
      it(`${mode}, ${n} nodes: commits client operations and answers each exactly once`, () => {
        const c = build(n, mode, 100 + n);
        c.net.run(12_000);
        const leader = c.leader()!;
        expect(leader).toBeDefined();
        quiesce(c, 14_000);
        for (const cl of c.clients) {
          expect(cl.timedOut).toEqual([]);
          expect(cl.completed.length).toBeGreaterThan(10);
        }
        checkSafety(c.net.events);
        checkClients(c);
        checkReplicas(c);
        // Replies come from several nodes except in raft mode (always the leader).
        const repliers = new Set(c.events('Reply').map((e) => e.node));
        if (mode === 'raft') expect([...repliers]).toEqual([leader.node]);
        else expect(repliers.size).toBe(n);
        if (mode === 'hovercraft++') {
          expect(c.events('LeaderUseAggregator')).toHaveLength(1);
          expect(c.events('AggCommit').length).toBeGreaterThan(10);
        } else {
          expect(c.events('AggForward')).toEqual([]);
        }
        expect(c.middlebox.feedbacks).toBe(c.events('Reply').length);
      });
    }
  }
});

describe('hovercraft cluster: failover', () => {
  for (const n of [3, 5]) {
    for (const mode of MODES) {
      it(`${mode}, ${n} nodes: a new leader takes over after the leader crashes; the old one rejoins`, () => {
        const c = build(n, mode, 200 + n, 5000);
        c.net.run(8000);
        const old = c.leader()!;
        const before = c.clients.map((cl) => cl.completed.length);
        c.crash(old.node);
        c.net.run(20_000);
        const now = c.leader()!;
        expect(now).toBeDefined();
        expect(now.node).not.toBe(old.node);
        expect(now.currentTerm).toBeGreaterThan(old.currentTerm);
        c.clients.forEach((cl, i) => expect(cl.completed.length).toBeGreaterThan(before[i]! + 5));
        // The old leader restarts from its persisted state and catches up.
        const again = c.startNode(old.node);
        c.net.run(26_000);
        quiesce(c, 30_000);
        expect(again.currentTerm).toBe(now.currentTerm);
        checkSafety(c.net.events);
        checkClients(c);
        checkReplicas(c);
        if (mode === 'hovercraft++') {
          expect(c.events('LeaderUseAggregator').length).toBeGreaterThanOrEqual(2);
          expect(c.events('AggFlush').length).toBeGreaterThanOrEqual(2);
        }
      });
    }
  }

  it('hovercraft++: when the aggregator fails the group elects a leader that runs without it', () => {
    const c = build(3, 'hovercraft++', 300, 5000);
    c.net.run(10_000);
    const old = c.leader()!;
    const oldTerm = old.currentTerm;
    expect(old.usingAggregator).toBe(true);
    c.net.crash('10.0.0.2:7100');
    c.net.run(30_000);
    const now = c.leader()!;
    expect(now.currentTerm).toBeGreaterThan(oldTerm);
    expect(now.usingAggregator).toBe(false);
    const done = c.clients.map((cl) => cl.completed.length);
    c.net.run(35_000);
    c.clients.forEach((cl, i) => expect(cl.completed.length).toBeGreaterThan(done[i]! + 5));
    quiesce(c, 40_000);
    checkSafety(c.net.events);
    checkClients(c);
    checkReplicas(c);
  });

  it('hovercraft: a follower that lost multicast requests recovers their bodies', () => {
    const c = build(3, 'hovercraft', 400);
    c.net.run(4000);
    // A follower loses every fifth client request copy.
    const victim = c.ids.find((id) => id !== c.leader()!.node)!;
    const dst = c.addr(victim);
    let k = 0;
    c.net.filter = (p) => (p.dst === dst && p.src.startsWith('10.0.1.') && k++ % 5 === 0 ? [] : [p]);
    c.net.run(12_000);
    quiesce(c, 15_000);
    expect(c.events('SendRecoveryRequest', victim).length).toBeGreaterThan(3);
    expect(c.events('HandleRecoveryReply', victim).length).toBeGreaterThan(3);
    checkSafety(c.net.events);
    checkClients(c);
    checkReplicas(c);
  });
});

/** Table 12.1: the leader's messages per committed request in a steady-state run. */
function measure(n: number, mode: Mode): { committed: number; rx: number; tx: number; txAppend: number; txReplies: number; feedback: number } {
  const c = build(n, mode, 500 + n);
  c.net.run(6000);
  const leader = c.leader()!;
  const addr = c.addr(leader.node);
  c.net.resetCounts();
  const c0 = leader.commitIndex;
  c.net.run(12_000);
  const committed = leader.commitIndex - c0;
  const per = (m: 'tx' | 'rx', ...cls: string[]) => c.net.countOf(m, addr, ...cls) / committed;
  // Every message the leader handled is one of these.
  const all = (m: 'tx' | 'rx') => [...(c.net[m].get(addr)?.values() ?? [])].reduce((s, x) => s + x, 0) / committed;
  const rx = per('rx', 'REQUEST', 'append_reply', 'agg_commit');
  const txAppend = per('tx', 'append_entries');
  const txReplies = per('tx', 'RESPONSE');
  const feedback = per('tx', 'FEEDBACK');
  expect(all('rx')).toBeCloseTo(rx, 6);
  expect(all('tx')).toBeCloseTo(txAppend + txReplies + feedback, 6);
  return { committed, rx, tx: txAppend + txReplies, txAppend, txReplies, feedback };
}

describe('hovercraft cluster: leader message counts per committed request (Table 12.1)', () => {
  for (const n of [3, 5, 7]) {
    it(`${n} nodes`, () => {
      const rows: string[] = [];
      for (const mode of MODES) {
        const m = measure(n, mode);
        rows.push(`N=${n} ${mode.padEnd(12)} committed ${m.committed}: Rx ${m.rx.toFixed(3)}, Tx ${m.tx.toFixed(3)} (append_entries ${m.txAppend.toFixed(3)} + replies ${m.txReplies.toFixed(3)}), FEEDBACK ${m.feedback.toFixed(3)}`);
        expect(m.committed).toBeGreaterThan(100);
        const close = (v: number, want: number) => expect(Math.abs(v - want), `${mode}: ${v} vs ${want}`).toBeLessThan(0.02);
        if (mode === 'raft') {
          close(m.rx, 1 + (n - 1));
          close(m.txAppend, n - 1);
          close(m.txReplies, 1);
        } else {
          close(m.rx, mode === 'hovercraft' ? 1 + (n - 1) : 1 + 1);
          close(m.txAppend, mode === 'hovercraft' ? n - 1 : 1);
          // Replies are balanced: about 1/N at the leader (JBSQ), never all of them.
          expect(m.txReplies).toBeGreaterThan(1 / n - 0.05);
          expect(m.txReplies).toBeLessThan(1 / (n - 1) + 0.05);
        }
        expect(m.feedback).toBeCloseTo(m.txReplies, 6);
      }
      console.log(rows.join('\n'));
    });
  }
});
