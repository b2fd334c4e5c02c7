/**
 * R2P2 load figures: their definitions on a hand-made trace, and generated campaigns on sim whose
 * closed-loop scenarios keep the servers at the JBSQ bound, so that a router that exceeds it is
 * caught within a few runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../run/run-scenario.ts';
import { runCampaign } from '../../run/campaign.ts';
import type { TraceEvent } from '../../trace/schema.ts';
import { SimTestbed } from '../../../testbeds/sim/sim.ts';
import { r2p2, type R2p2Scenario } from './index.ts';
import { r2p2LoadFigures } from './load.ts';

const S1 = '10.0.0.5:8000';
const S2 = '10.0.0.6:8000';
const C = '10.0.0.2:7000';
const ev = (t: number, node: string, action: string, fields: Record<string, unknown> = {}): TraceEvent =>
  ({ t, node, action, ...fields }) as TraceEvent;

function scenario(n: number): R2p2Scenario {
  const [s] = fc.sample(r2p2.scenarios({}), { numRuns: 1, seed: 1 });
  return { ...s!, topology: { clients: 1, servers: 2, router: { policy: 'jbsq', n, queueCap: 8 } } };
}

/** Two servers with n = 1: the first two dispatches fill them, the third request is held. */
const trace: TraceEvent[] = [
  ev(0, 'router', 'RouterEnqueue', { client: C, rid: 1, queued: 1 }), // no server yet: not held at the bound
  ev(5, 'router', 'RouterServerJoin', { server: S1, n: 1, served: 0, fresh: true }),
  ev(5, 'router', 'RouterDispatch', { client: C, rid: 1, server: S1, outstanding: 1 }),
  ev(6, 'router', 'RouterServerJoin', { server: S2, n: 1, served: 0, fresh: true }),
  ev(10, 'router', 'RouterEnqueue', { client: C, rid: 2, queued: 1 }),
  ev(10, 'router', 'RouterDispatch', { client: C, rid: 2, server: S2, outstanding: 1 }),
  ev(20, 'router', 'RouterEnqueue', { client: C, rid: 3, queued: 1 }), // both at n: held
  ev(25, 'router', 'RouterDrop', { client: C, rid: 4 }),
  ev(30, 'router', 'RouterFeedback', { server: S1, client: C, rid: 1, form: 'count', n: 1, served: 1, outstanding: 0 }),
  ev(30, 'router', 'RouterDispatch', { client: C, rid: 3, server: S1, outstanding: 1 }),
  ev(40, 'router', 'RouterServerLeave', { server: S1 }),
  ev(45, 'router', 'RouterEnqueue', { client: C, rid: 5, queued: 1 }), // S2, the only eligible one, at n: held
  ev(50, 'router', 'HostRestart', {}),
  ev(55, 'router', 'RouterEnqueue', { client: C, rid: 6, queued: 1 }), // a fresh router knows no server
];

describe('r2p2 load figures', () => {
  it('count dispatches that bring a server to n, requests held because every eligible server is at n, drops', () => {
    expect(r2p2LoadFigures(trace, scenario(1))).toEqual({
      'runs-at-bound': 1, 'dispatches-at-bound': 3, 'held-at-bound': 2, 'router-drops': 1,
    });
  });

  it('the n of a server is the one its FEEDBACK announces (the topology\'s n only until then)', () => {
    const n2 = trace.map((e) => (e.action === 'RouterServerJoin' || e.action === 'RouterFeedback' ? { ...e, n: 2 } : e));
    expect(r2p2LoadFigures(n2, scenario(1))).toMatchObject({ 'dispatches-at-bound': 0, 'held-at-bound': 0, 'runs-at-bound': 0 });
  });
});

describe('r2p2 closed-loop scenarios', () => {
  it('shrink to the smallest closed-loop scenario when a window is needed, and away from one when not', () => {
    const closed = fc.check(fc.property(r2p2.scenarios({ hostFaults: true }), (s) => s.topology.window === undefined), { seed: 4, numRuns: 300 });
    expect(closed.failed).toBe(true);
    const min = closed.counterexample![0];
    // One client, one server with n = 1: a window of 2, a queue of 1, one burst of 2 calls.
    expect(min.topology).toEqual({ clients: 1, servers: 1, router: { policy: 'jbsq', n: 1, queueCap: 1 }, window: 2 });
    expect(min.workload).toHaveLength(1 + 2);
    expect(min.faults).toEqual([]);
    const open = fc.check(fc.property(r2p2.scenarios({ hostFaults: true }), (s) => s.workload.length < 4), { seed: 4, numRuns: 300 });
    expect(open.failed).toBe(true);
    expect(open.counterexample![0].topology.window).toBeUndefined();
  });

  it('run deterministically on sim: the same closed-loop scenario gives the same trace', async () => {
    const s = fc.sample(r2p2.scenarios({ hostFaults: true }), { numRuns: 40, seed: 8 }).find((x) => x.topology.window !== undefined)!;
    const tb = new SimTestbed();
    const { toNdjson } = await import('../../trace/schema.ts');
    const a = await runScenario(r2p2, s, tb);
    const b = await runScenario(r2p2, s, tb);
    expect(a.trace.length).toBeGreaterThan(100);
    expect(toNdjson(b.trace)).toBe(toNdjson(a.trace));
  });
});

describe('r2p2 campaigns under generated closed-loop load', () => {
  it('closed-loop scenarios keep more calls outstanding than the servers may hold and reach the bound in nearly every run; the correct implementation passes', { timeout: 300_000 }, async () => {
    const tb = new SimTestbed();
    const closed = fc.sample(r2p2.scenarios({ hostFaults: true }), { numRuns: 80, seed: 17 }).filter((s) => s.topology.window !== undefined);
    expect(closed.length).toBeGreaterThanOrEqual(15);
    let atBound = 0;
    let held = 0;
    for (const s of closed) {
      const r = await runScenario(r2p2, s, tb);
      expect(r.violations, JSON.stringify(s)).toEqual([]);
      const f = r2p2LoadFigures(r.trace, s);
      atBound += f['runs-at-bound'];
      held += f['held-at-bound'];
    }
    expect(atBound).toBeGreaterThanOrEqual(closed.length * 0.8);
    expect(held).toBeGreaterThan(closed.length * 5);
  });

  it('a 50-run campaign sums the figures: the bound is reached in most runs', { timeout: 300_000 }, async () => {
    const r = await runCampaign({ protocol: r2p2, testbed: new SimTestbed(), runs: 50, seed: 11, tlcSample: 0 });
    expect(r.failure?.shrunk.violations).toBeUndefined();
    expect(r.loadFigures!['runs-at-bound']).toBeGreaterThanOrEqual(30);
    expect(r.loadFigures!['held-at-bound']).toBeGreaterThan(r.loadFigures!['router-drops'] ?? Infinity);
  });

  it('router-exceeds-bound is caught within 5 generated runs at each of seeds 1..5 (by jbsq-bound and the monitor)', { timeout: 300_000 }, async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await runCampaign({
        protocol: r2p2, testbed: new SimTestbed(), runs: 5, seed, bugs: ['router-exceeds-bound'], tlcSample: 0, maxShrinkRuns: 0,
      });
      expect(r.failure, `seed ${seed}`).toBeDefined();
      expect(new Set(r.failure!.original.violations.map((v) => v.check)), `seed ${seed}`).toEqual(new Set(['jbsq-bound', 'monitor']));
    }
  });
});
