/** Campaigns: a testbed that cannot run a scenario makes the campaign inconclusive, never "passed". */
import { describe, expect, it } from 'vitest';
import { r2p2 } from '../protocols/r2p2/index.ts';
import { SimTestbed } from '../../testbeds/sim/sim.ts';
import type { RunPlan, Testbed } from '../../testbeds/testbed.ts';
import { runCampaign } from './campaign.ts';
import { printCampaign } from '../cli/commands/fuzz.ts';

/** The sim testbed, except that its run number `failAt` (1-based) throws as a broken testbed would. */
function failingTestbed(failAt: number): Testbed {
  const sim = new SimTestbed();
  let n = 0;
  return {
    name: 'sim',
    assignAddresses: (nodes) => sim.assignAddresses(nodes),
    async run(plan: RunPlan, observe) {
      if (++n === failAt) throw new Error('agent at http://10.0.0.9:7400 is unreachable: ECONNREFUSED');
      return sim.run(plan, observe);
    },
  };
}

describe('runCampaign', () => {
  it('passes on a testbed that runs every scenario', async () => {
    const r = await runCampaign({ protocol: r2p2, testbed: failingTestbed(Infinity), runs: 5, seed: 3 });
    expect(r.runs).toBe(5);
    expect(r.inconclusive).toBeUndefined();
  });

  it('sums the protocol\'s load figures over its runs, shrinking runs left out', async () => {
    const counted = { ...r2p2, loadFigures: () => ({ one: 1, half: 0.5 }) };
    const ok = await runCampaign({ protocol: counted, testbed: failingTestbed(Infinity), runs: 6, seed: 3 });
    expect(ok.loadFigures).toEqual({ one: 6, half: 3 });
    const bad = await runCampaign({
      protocol: counted, testbed: failingTestbed(Infinity), runs: 20, seed: 3, bugs: ['router-exceeds-bound'], maxShrinkRuns: 30,
    });
    expect(bad.failure!.shrinkSteps).toBeGreaterThan(0);
    expect(bad.loadFigures).toEqual({ one: bad.runs, half: bad.runs / 2 });
    const plain = await runCampaign({ protocol: { ...r2p2, loadFigures: undefined }, testbed: failingTestbed(Infinity), runs: 2, seed: 3 });
    expect(plain.loadFigures).toBeUndefined();
  });

  it('is inconclusive (exit 2), with the testbed\'s error, when a run cannot be carried out', async () => {
    const r = await runCampaign({ protocol: r2p2, testbed: failingTestbed(3), runs: 5, seed: 3 });
    expect(r.failure).toBeUndefined();
    expect(r.runs).toBe(2);
    expect(r.inconclusive).toMatch(/could not run scenario 3: agent at .* is unreachable/);
    expect(printCampaign(r)).toBe(2);
  });
});
