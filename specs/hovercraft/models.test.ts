/**
 * TLC on the HovercRaft models: every invariant holds on the registered correct models, and each
 * buggy variant is rejected with a counterexample of the invariant it names.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTlc, type TlaValue } from '../../harness/tlc/index.ts';
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
    expect(invariants.size).toBeGreaterThanOrEqual(13);
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

  it('admits a NACKed request whose duplicate is admitted, ordered, applied and answered: NackIsFinal is violated on MCHovercraftNack', async () => {
    // A NACK refuses one copy of a request; the spec must not promise more. MCHovercraftNack.cfg
    // with NackIsFinal as its only invariant: TLC must find the behaviour.
    const dir = mkdtempSync(join(tmpdir(), 'hovercraft-nack-'));
    try {
      const cfg = readFileSync('specs/hovercraft/MCHovercraftNack.cfg', 'utf8').replace(/^INVARIANTS .*$/m, 'INVARIANTS NackIsFinal');
      expect(cfg).toContain('INVARIANTS NackIsFinal');
      writeFileSync(join(dir, 'NackWitness.cfg'), cfg);
      for (const m of ['HovercRaft.tla', 'MCHovercRaft.tla']) copyFileSync(`specs/hovercraft/${m}`, join(dir, m));
      const r = await runTlc({ cwd: dir, module: 'MCHovercRaft.tla', config: 'NackWitness.cfg', workers: 2, timeoutMs: 170_000 });
      expect(r.outcome).toBe('invariant-violated');
      expect(r.violated).toBe('NackIsFinal');
      // In the last state the client has taken a NACK for its rid, and that request has a reply.
      const last = r.counterexample!.at(-1)!.vars;
      const creq = last['creq'] as { kind: 'function'; entries: [TlaValue, TlaValue][] };
      const [, op] = creq.entries[0]! as [TlaValue, { kind: 'record'; fields: Record<string, TlaValue> }];
      expect(op.fields['st']).toBe('nacked');
      const replies = last['replies'] as { kind: 'function'; entries: [TlaValue[], TlaValue][] };
      expect(replies.entries.some(([k]) => k[1] === op.fields['rid'])).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
