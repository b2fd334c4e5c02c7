/** TLC on the R2P2 models: the correct ones pass, the buggy variants give a counterexample. */
import { describe, expect, it } from 'vitest';
import { runTlc } from '../../harness/tlc/index.ts';

const DIR = 'specs/r2p2';

describe('R2P2 spec models', () => {
  it.each([
    ['MCR2P2.tla', 'MC.cfg'],
    ['MCR2P2.tla', 'MCDup.cfg'],
    ['MCR2P2.tla', 'MCLeave.cfg'],
  ])('%s with %s: every invariant holds', async (module, config) => {
    const r = await runTlc({ module: `${DIR}/${module}`, config: `${DIR}/${config}`, workers: 2, timeoutMs: 170_000 });
    expect(r.message ?? '').toBe('');
    expect(r.outcome).toBe('ok');
    expect(r.distinctStates).toBeGreaterThan(1000);
  }, 180_000);

  it.each([
    ['R2P2BlindFeedback', 'JbsqBound'],
    ['R2P2PhantomReply', 'ReplyMatchesRequest'],
    ['R2P2ForgetOnLeave', 'JbsqBound'],
    ['R2P2DispatchOverBound', 'RouterCountBound'],
    ['R2P2AckDisarms', 'PendingHasTimer'],
    ['R2P2ServeDuplicate', 'ServerTakesOnce'],
    ['R2P2ServeBeforeAnnounce', 'ServesOnlyAnnounced'],
  ])('%s violates %s with a counterexample', async (variant, invariant) => {
    const r = await runTlc({ module: `${DIR}/${variant}.tla`, config: `${DIR}/${variant}.cfg` });
    expect(r.outcome).toBe('invariant-violated');
    expect(r.violated).toBe(invariant);
    expect(r.counterexample?.length ?? 0).toBeGreaterThan(1);
  }, 60_000);
});
