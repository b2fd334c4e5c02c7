/** TLC on the HovercRaft models: every invariant holds on the registered correct models. */
import { describe, expect, it } from 'vitest';
import { runTlc } from '../../harness/tlc/index.ts';
import { HOVERCRAFT_MODELS } from '../../harness/protocols/hovercraft/index.ts';

describe('HovercRaft spec models', () => {
  it.each(HOVERCRAFT_MODELS.filter((m) => m.expect === 'ok').map((m) => [m.config, m] as const))(
    '%s: every invariant holds', async (_name, m) => {
      const r = await runTlc({ module: m.module, config: m.config, workers: 2, timeoutMs: 280_000 });
      expect(r.message ?? '').toBe('');
      expect(r.outcome).toBe('ok');
      expect(r.distinctStates).toBeGreaterThan(10_000);
    }, 300_000);
});
