/**
 * TLC on the HovercRaft models: every invariant holds on the registered correct models, and each
 * buggy variant is rejected with a counterexample of the invariant it names.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runTlc } from '../../harness/tlc/index.ts';
import { HOVERCRAFT_MODELS } from '../../harness/protocols/hovercraft/index.ts';

describe('HovercRaft spec models', () => {
  it('registers every .cfg of specs/hovercraft, correct models and buggy variants', () => {
    const cfgs = readdirSync('specs/hovercraft').filter((f) => f.endsWith('.cfg')).map((f) => `specs/hovercraft/${f}`);
    expect(HOVERCRAFT_MODELS.map((m) => m.config).sort()).toEqual(cfgs.sort());
    expect(HOVERCRAFT_MODELS.filter((m) => m.expect === 'violation').length).toBeGreaterThanOrEqual(2);
    for (const m of HOVERCRAFT_MODELS) expect(m.expect === 'violation', m.config).toBe(m.violates !== undefined);
  });

  it.each(HOVERCRAFT_MODELS.filter((m) => m.expect === 'ok').map((m) => [m.config, m] as const))(
    '%s: every invariant holds', async (_name, m) => {
      const r = await runTlc({ module: m.module, config: m.config, workers: 2, timeoutMs: 280_000 });
      expect(r.message ?? '').toBe('');
      expect(r.outcome).toBe('ok');
      expect(r.distinctStates).toBeGreaterThan(10_000);
    }, 300_000);

  it.each(HOVERCRAFT_MODELS.filter((m) => m.expect === 'violation').map((m) => [m.config, m] as const))(
    '%s: TLC finds a counterexample', async (_name, m) => {
      const r = await runTlc({ module: m.module, config: m.config, workers: 2, timeoutMs: 170_000 });
      expect(r.outcome).toBe('invariant-violated');
      expect(r.violated).toBe(m.violates);
      expect(r.counterexample?.length ?? 0).toBeGreaterThan(1);
    }, 180_000);
});
