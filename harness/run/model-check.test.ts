/** checkModel: a buggy variant counts as rejected only with a counterexample of the invariant it names. */
import { describe, expect, it } from 'vitest';
import { checkModel } from './model-check.ts';
import type { SpecModel } from '../protocol.ts';

const blind: SpecModel = {
  module: 'specs/r2p2/R2P2BlindFeedback.tla',
  config: 'specs/r2p2/R2P2BlindFeedback.cfg',
  expect: 'violation',
  violates: 'JbsqBound',
  description: 'buggy router',
};

describe('checkModel', () => {
  it('takes a violation of the named invariant, and not of another', async () => {
    const right = await checkModel(blind);
    expect(right.result.violated).toBe('JbsqBound');
    expect(right.asExpected).toBe(true);
    const wrong = await checkModel({ ...blind, violates: 'ReplyMatchesRequest' });
    expect(wrong.result.violated).toBe('JbsqBound');
    expect(wrong.asExpected).toBe(false);
    expect(wrong.inconclusive).toBe(false);
  }, 120_000);

  it('takes a correct model only when every invariant holds', async () => {
    const asOk = await checkModel({ ...blind, expect: 'ok' });
    expect(asOk.result.outcome).toBe('invariant-violated');
    expect(asOk.asExpected).toBe(false);
  }, 120_000);
});
