/**
 * HovercRaft load figures: their definitions on hand-made traces, and generated campaigns on sim
 * that put the bounded queues and the aggregator path under load, so that the bound is reached
 * (and a leader ignoring it is caught) within a few runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../run/campaign.ts';
import { formatLoadFigures } from '../../report/format.ts';
import type { TraceEvent } from '../../trace/schema.ts';
import { SimTestbed } from '../../../testbeds/sim/sim.ts';
import { hovercraft, type HovercraftScenario } from './index.ts';
import { hovercraftLoadFigures } from './load.ts';

const C = '10.0.0.9:7000';
const NOOP = '0.0.0.0:0';

function scenario(topology: Partial<HovercraftScenario['topology']> = {}): HovercraftScenario {
  const [s] = fc.sample(hovercraft.scenarios({}), { numRuns: 1, seed: 1 });
  return { ...s!, topology: { ...s!.topology, nodes: 3, mode: 'hovercraft++', replierPolicy: 'jbsq', bound: 2, ...topology } };
}

const ev = (t: number, node: string, action: string, fields: Record<string, unknown> = {}): TraceEvent =>
  ({ t, node, action, ...fields }) as TraceEvent;

/** A leader of term 2 appends 3 requests; B = 2: the second fills node2's queue, the third waits. */
const trace: TraceEvent[] = [
  ev(10, 'node1', 'BecomeLeader', { term: 2 }),
  ev(20, 'node1', 'LeaderUseAggregator', { term: 2 }),
  ev(30, 'node1', 'LeaderAppend', { term: 2, index: 2, client: C, rid: 1, ro: false }),
  ev(30, 'node1', 'Announce', { term: 2, index: 2, replier: 'node2', queue: 1 }),
  ev(30, 'node1', 'SendAppendEntries', {
    to: 'aggregator', term: 2, prevIndex: 0, prevTerm: 0, commit: 0, entries: [[2, NOOP, 2, 'node1', false], [2, C, 1, 'node2', false]],
  }),
  ev(40, 'node1', 'LeaderAppend', { term: 2, index: 3, client: C, rid: 2, ro: false }),
  ev(40, 'node1', 'Announce', { term: 2, index: 3, replier: 'node2', queue: 2 }),
  ev(40, 'node1', 'LeaderAppend', { term: 2, index: 4, client: C, rid: 3, ro: false }),
  ev(40, 'node1', 'SendAppendEntries', {
    to: 'aggregator', term: 2, prevIndex: 2, prevTerm: 2, commit: 0, entries: [[2, C, 2, 'node2', false]],
  }),
  ev(50, 'aggregator', 'AggCommit', { term: 2, commit: 2 }),
  ev(60, 'node1', 'Announce', { term: 2, index: 4, replier: 'node3', queue: 1 }),
  ev(70, 'node1', 'LeaderAppend', { term: 2, index: 5, client: C, rid: 4, ro: false }),
  ev(80, 'middlebox', 'MiddleboxNack', { client: C, rid: 5, inflight: 4 }),
];

describe('hovercraft load figures', () => {
  it('count announces that fill a queue, entries that wait for a replier, entries ordered through the aggregator', () => {
    expect(hovercraftLoadFigures(trace, scenario())).toEqual({
      'runs-at-bound': 1,
      // index 3: queue 2 = B after it (B − 1 before).
      'announces-at-bound': 1,
      // index 4 announced at t=60 after its append at t=40; index 5 never announced.
      'waits-for-replier': 2,
      'middlebox-nacks': 1,
      'runs-via-aggregator': 1,
      // index 2 (sent through the aggregator, AGG_COMMIT 2); the no-op and index 3 (above the commit) are not.
      'ordered-via-aggregator': 1,
      'agg-commits': 1,
      'at-bound-via-aggregator': 1,
    });
  });

  it('no bound figures where the bound does not apply (raft mode, leader policy)', () => {
    for (const s of [scenario({ mode: 'raft' }), scenario({ replierPolicy: 'leader' })]) {
      const f = hovercraftLoadFigures(trace, s);
      expect([f['runs-at-bound'], f['announces-at-bound'], f['waits-for-replier'], f['at-bound-via-aggregator']]).toEqual([0, 0, 0, 0]);
      expect(f['ordered-via-aggregator']).toBe(1);
    }
  });

  it('an unloaded trace: every figure 0', () => {
    const quiet = trace.slice(0, 4).map((e) => (e.action === 'LeaderUseAggregator' ? ev(e.t, e.node, 'StepDown', { term: 3 }) : e));
    expect(Object.values(hovercraftLoadFigures(quiet, scenario())).every((v) => v === 0)).toBe(true);
  });
});

/**
 * Whether a scenario has a closed-loop burst: more clients than N·B, and a time (from 5% of the
 * run on) at which every client gets 2 operations or more.
 */
const closedLoop = (s: HovercraftScenario): boolean => {
  if (s.topology.clients <= s.topology.nodes * s.topology.bound) return false;
  const n = new Map<number, Map<string, number>>();
  for (const w of s.workload) {
    if (w.at < 0.05 * s.duration - 1) continue;
    const at = n.get(w.at) ?? new Map<string, number>();
    n.set(w.at, at.set(w.node, (at.get(w.node) ?? 0) + 1));
  }
  return [...n.values()].some((m) => m.size === s.topology.clients && [...m.values()].every((k) => k >= 2));
};

describe('hovercraft closed-loop scenarios', () => {
  it('are about a third of the sim scenarios, with more clients than N·B, a threshold above N·B and bursts of every client at one time', () => {
    const all = fc.sample(hovercraft.scenarios({ hostFaults: true }), { numRuns: 300, seed: 8 });
    const closed = all.filter((s) => s.topology.threshold > s.topology.nodes * s.topology.bound && closedLoop(s));
    expect(closed.length).toBeGreaterThan(all.length / 5);
    expect(closed.length).toBeLessThan(all.length / 2);
    for (const s of closed) {
      const { nodes, bound, clients, threshold, replierPolicy } = s.topology;
      expect(replierPolicy).toBe('jbsq');
      expect(clients).toBeLessThanOrEqual(Math.min(14, nodes * bound + 4));
      expect(threshold).toBeLessThanOrEqual(clients + 4);
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    }
    // Bursts at random times, not only near the start.
    const burstAt = closed.map((s) => Math.max(...s.workload.map((w) => w.at)) / s.duration);
    expect(Math.max(...burstAt)).toBeGreaterThan(0.4);
    expect(fc.sample(hovercraft.scenarios({ testbed: 'docker', hostFaults: true }), { numRuns: 100, seed: 8 }).some(closedLoop)).toBe(false);
  });

  it('shrink back to an open scenario when the load is not needed, and keep a burst when it is', () => {
    const open = fc.check(fc.property(hovercraft.scenarios({}), (s) => !(closedLoop(s) && s.workload.length >= 2)), { seed: 3, numRuns: 300 });
    expect(open.failed).toBe(true);
    const min = open.counterexample![0];
    // Smallest closed-loop scenario: 3 nodes, B = 1, 4 clients with 2 operations each at one time.
    expect(min.topology).toMatchObject({ nodes: 3, bound: 1, clients: 4, threshold: 4, replierPolicy: 'jbsq' });
    expect(min.workload.length).toBe(1 + 4 * 2);
    const any = fc.check(fc.property(hovercraft.scenarios({}), (s) => s.workload.length < 3), { seed: 3, numRuns: 300 });
    expect(any.failed).toBe(true);
    expect(closedLoop(any.counterexample![0])).toBe(false);
  });

  it('run deterministically on sim: the same closed-loop scenario gives the same trace', async () => {
    const s = fc.sample(hovercraft.scenarios({ hostFaults: true }), { numRuns: 40, seed: 8 }).find(closedLoop)!;
    const tb = new SimTestbed();
    const { runScenario } = await import('../../run/run-scenario.ts');
    const { toNdjson } = await import('../../trace/schema.ts');
    const a = await runScenario(hovercraft, s, tb);
    const b = await runScenario(hovercraft, s, tb);
    expect(a.trace.length).toBeGreaterThan(500);
    expect(toNdjson(b.trace)).toBe(toNdjson(a.trace));
  });
});

describe('hovercraft campaigns under generated closed-loop load', () => {
  it('50 generated runs at a fixed seed: queues reach B (also while the leader uses the aggregator), leaders wait for repliers, requests are ordered through the aggregator, and the correct implementation passes', { timeout: 300_000 }, async () => {
    const r = await runCampaign({ protocol: hovercraft, testbed: new SimTestbed(), runs: 50, seed: 11, tlcSample: 0 });
    expect(r.failure?.shrunk.violations).toBeUndefined();
    expect(r.runs).toBe(50);
    const f = r.loadFigures!;
    expect(f['runs-at-bound']).toBeGreaterThanOrEqual(8);
    expect(f['announces-at-bound']).toBeGreaterThan(100);
    expect(f['waits-for-replier']).toBeGreaterThan(20);
    expect(f['at-bound-via-aggregator']).toBeGreaterThan(20);
    expect(f['runs-via-aggregator']).toBeGreaterThanOrEqual(5);
    expect(f['ordered-via-aggregator']).toBeGreaterThan(100);
    expect(formatLoadFigures(r)).toMatch(/^load \(summed over 50 runs\): runs-at-bound \d+, announces-at-bound \d+, /);
  });

  it('bounded-queue-ignored is caught within 20 generated runs at each of seeds 1..5 (by bounded-queue and the monitor)', { timeout: 300_000 }, async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await runCampaign({
        protocol: hovercraft, testbed: new SimTestbed(), runs: 20, seed, bugs: ['bounded-queue-ignored'], tlcSample: 0, maxShrinkRuns: 0,
      });
      expect(r.failure, `seed ${seed}`).toBeDefined();
      const checks = new Set(r.failure!.original.violations.map((v) => v.check));
      expect([...checks].sort(), `seed ${seed}`).toEqual(['bounded-queue', 'monitor']);
    }
  });
});
