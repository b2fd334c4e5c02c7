/**
 * TLC on a protocol's models: each correct model must pass, each buggy variant must be rejected
 * with a counterexample.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtocolDefinition, SpecModel } from '../protocol.ts';
import { runTlc, type TlcResult } from '../tlc/index.ts';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface ModelResult {
  readonly model: SpecModel;
  readonly result: TlcResult;
  /** Whether TLC concluded what the model expects (ok, or a violation with a counterexample). */
  readonly asExpected: boolean;
  /** TLC itself failed (parse error, crash): the check is inconclusive rather than violated. */
  readonly inconclusive: boolean;
}

export async function checkModel(model: SpecModel, workers = 1): Promise<ModelResult> {
  const result = await runTlc({
    module: resolve(REPO_ROOT, model.module),
    config: resolve(REPO_ROOT, model.config),
    workers,
  });
  const violated = result.outcome === 'invariant-violated' || result.outcome === 'property-violated' || result.outcome === 'deadlock';
  const inconclusive = result.outcome === 'parse-error' || result.outcome === 'error';
  const asExpected = model.expect === 'ok'
    ? result.outcome === 'ok'
    : violated && (result.counterexample?.length ?? 0) > 0 && (model.violates === undefined || result.violated === model.violates);
  return { model, result, asExpected, inconclusive };
}

export async function checkModels(
  protocol: ProtocolDefinition<any>,
  onResult?: (r: ModelResult) => void,
  workers = 1,
): Promise<ModelResult[]> {
  const out: ModelResult[] = [];
  for (const m of protocol.models) {
    const r = await checkModel(m, workers);
    onResult?.(r);
    out.push(r);
  }
  return out;
}
