/**
 * TLC on the HovercRaft models: every invariant holds on the registered correct models, and each
 * buggy variant is rejected with a counterexample of the invariant it names.
 */
import { readFileSync, readdirSync } from 'node:fs';
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

  it('has, for every invariant of the correct models but TypeOK, a buggy variant that violates it', () => {
    const invariants = new Set(HOVERCRAFT_MODELS.filter((m) => m.expect === 'ok').flatMap((m) =>
      (/^INVARIANTS (.*)$/m.exec(readFileSync(m.config, 'utf8'))?.[1] ?? '').split(/\s+/).filter((x) => x !== '')));
    invariants.delete('TypeOK');
    expect(invariants.size).toBeGreaterThanOrEqual(11);
    const caught = new Set(HOVERCRAFT_MODELS.map((m) => m.violates));
    for (const inv of invariants) expect(caught.has(inv), inv).toBe(true);
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
