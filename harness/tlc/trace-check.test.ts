/** runTraceCheck: a batch with no spec events needs no TLC run; a module TLC cannot run is an error, not a verdict. */
import { describe, expect, it } from 'vitest';
import { runTraceCheck, TraceValidationError } from './trace-check.ts';
import { R2P2_SPEC } from '../protocols/r2p2/trace-validation.ts';

const input = { trace: [{ t: 0, node: 'client1', action: 'ClientSend' }], addrs: {}, scenario: {} } as never;

describe('runTraceCheck', () => {
  it('accepts inputs without spec events without running TLC', async () => {
    const r = await runTraceCheck({
      batch: [input], gen: { tla: '', cfg: '', eventIndices: [[]], included: [] },
      specPath: R2P2_SPEC, moduleName: 'Empty', eventNoun: 'event',
    });
    expect(r).toEqual([{ accepted: true, matchedPrefix: 0 }]);
  });

  it('throws TraceValidationError when TLC cannot run the module', async () => {
    const broken = { tla: '---- MODULE Broken ----\nVARIABLE x\nInit == x = \n====\n', cfg: 'INIT Init\nNEXT Init\n', eventIndices: [[0]], included: [0] };
    await expect(runTraceCheck({ batch: [input], gen: broken, specPath: R2P2_SPEC, moduleName: 'Broken', eventNoun: 'event' }))
      .rejects.toThrow(TraceValidationError);
  }, 60_000);
});
