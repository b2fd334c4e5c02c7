/**
 * HovercRaft campaigns on sim with TLC trace validation: every sampled trace of the correct
 * implementation is admitted by the spec, and the failing trace of a seeded bug goes to TLC, which
 * rejects it.
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../run/campaign.ts';
import { SimTestbed } from '../../../testbeds/sim/sim.ts';
import { hovercraft } from './index.ts';

describe('hovercraft campaigns with TLC trace validation', () => {
  it('the correct implementation: 8 runs, every trace admitted by the spec', { timeout: 300_000 }, async () => {
    const r = await runCampaign({ protocol: hovercraft, testbed: new SimTestbed(), runs: 8, seed: 21, tlcSample: 1 });
    expect(r.inconclusive).toBeUndefined();
    expect(r.failure).toBeUndefined();
    expect(r.tlcValidated).toBe(8);
    expect(r.tlcViolations).toEqual([]);
  });

  it('replier-reassigned: the shrunk failing trace is rejected by TLC too', { timeout: 300_000 }, async () => {
    const r = await runCampaign({
      protocol: hovercraft, testbed: new SimTestbed(), runs: 30, seed: 5, bugs: ['replier-reassigned'], tlcSample: 1, tlcMax: 0, maxShrinkRuns: 20,
    });
    expect(r.failure).toBeDefined();
    const checks = r.failure!.shrunk.violations.map((v) => v.check);
    expect(checks).toContain('replier-fixed');
    expect(checks).toContain('tlc');
  });
});
