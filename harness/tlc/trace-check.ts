/**
 * The TLC side of trace validation, shared by the protocols: a generated module (one TLA+ sequence
 * per trace, see `harness/protocols/<p>/trace-validation.ts`) goes into a directory with its spec,
 * TLC runs once, and what it printed becomes one verdict per trace. The module must print
 * `<<"matched", k, i>>` for each new furthest event i of trace k and `<<"accepted", k>>` for a trace
 * matched to its end.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TraceValidationInput, TraceValidationResult } from '../protocol.ts';
import type { TraceEvent } from '../trace/schema.ts';
import type { TlcResult } from './result.ts';
import { runTlc } from './run.ts';
import type { TlaValue } from './values.ts';

/** TLC could not complete a trace-validation run: no verdict on any trace of the batch. */
export class TraceValidationError extends Error {}

/** A generated trace-validation module and how the batch maps onto it. */
export interface GeneratedModule {
  readonly tla: string;
  readonly cfg: string;
  /** Per input: the indices (into the input's trace) of the events that went into the module. */
  readonly eventIndices: readonly (readonly number[])[];
  /** Inputs that went into the module (those with at least one event the spec has), by position. */
  readonly included: readonly number[];
}

export interface TraceCheckRun {
  readonly batch: readonly TraceValidationInput[];
  readonly gen: GeneratedModule;
  /** The spec the module instantiates (copied next to it under its own name). */
  readonly specPath: string;
  /** The generated module's name (its files are `<name>.tla` and `<name>.cfg`). */
  readonly moduleName: string;
  /** What an event the module holds is called in verdict messages ("protocol event", "spec event"). */
  readonly eventNoun: string;
  readonly timeoutMs?: number;
  /**
   * TLC workers (default: one per core). The search goes breadth-first over every trace of the
   * batch at once, so the workers share the frontier of the batch's traces.
   */
  readonly workers?: number;
  /** Keep the generated files in this directory instead of a temporary one. */
  readonly keepDir?: string;
}

/**
 * TLC workers for a batch of n traces: one per core, but no more than the batch's traces (one
 * trace's search is a chain of one or a few states per event, which workers only contend for).
 * `PROTOCHECK_TLC_WORKERS` overrides it (the bench compares counts).
 */
export function defaultWorkers(n: number): number {
  const forced = Number(process.env['PROTOCHECK_TLC_WORKERS']);
  if (Number.isInteger(forced) && forced > 0) return forced;
  return Math.max(1, Math.min(availableParallelism(), n));
}

function describeEvent(e: TraceEvent | undefined): string {
  if (!e) return '(none)';
  const { t, node, action, ...fields } = e;
  return `${action} at ${node} (t=${t}) ${JSON.stringify(fields)}`;
}

/**
 * Runs TLC once on the generated module; returns a verdict per input (inputs with no event the
 * spec has are accepted with `matchedPrefix` 0). Throws `TraceValidationError` when TLC fails.
 */
export async function runTraceCheck(o: TraceCheckRun): Promise<TraceValidationResult[]> {
  const results: TraceValidationResult[] = o.batch.map(() => ({ accepted: true, matchedPrefix: 0 }));
  if (o.gen.included.length === 0) return results;
  const spec = basename(o.specPath);
  const dir = o.keepDir ?? (await mkdtemp(join(tmpdir(), `protocheck-${o.moduleName}-`)));
  let tlc: TlcResult;
  try {
    await copyFile(o.specPath, join(dir, spec));
    await writeFile(join(dir, `${o.moduleName}.tla`), o.gen.tla);
    await writeFile(join(dir, `${o.moduleName}.cfg`), o.gen.cfg);
    tlc = await runTlc({
      module: `${o.moduleName}.tla`, config: `${o.moduleName}.cfg`, cwd: dir, workers: o.workers ?? defaultWorkers(o.gen.included.length), timeoutMs: o.timeoutMs,
    });
  } finally {
    if (!o.keepDir) await rm(dir, { recursive: true, force: true });
  }

  const furthest = new Map<number, number>();
  const accepted = new Set<number>();
  for (const v of tlc.printed) {
    if (!Array.isArray(v)) continue;
    const [tag, kv, iv] = v as TlaValue[];
    if (tag === 'matched' && typeof kv === 'number' && typeof iv === 'number') {
      furthest.set(kv, Math.max(furthest.get(kv) ?? 0, iv));
    } else if (tag === 'accepted' && typeof kv === 'number') {
      accepted.add(kv);
    }
  }
  if (tlc.outcome !== 'ok') {
    // TLC itself failed: no verdict on any trace (the caller reports the run as inconclusive).
    throw new TraceValidationError(`TLC did not complete trace validation (${tlc.outcome}): ${tlc.message ?? tlc.errors.map((e) => e.message).join('; ')}`);
  }
  o.gen.included.forEach((b, pos) => {
    const k = pos + 1;
    const input = o.batch[b]!;
    const indices = o.gen.eventIndices[b]!;
    if (accepted.has(k)) {
      results[b] = { accepted: true, matchedPrefix: indices.length };
      return;
    }
    const matched = furthest.get(k) ?? 0;
    const next = indices[matched];
    const why = `no behaviour of ${spec} matches ${o.eventNoun} ${matched + 1} of ${indices.length}` +
        (next !== undefined ? ` (trace index ${next}: ${describeEvent(input.trace[next])})` : '');
    results[b] = { accepted: false, matchedPrefix: matched, message: why };
  });
  return results;
}
