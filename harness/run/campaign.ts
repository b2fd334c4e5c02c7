/**
 * A fuzz campaign: fast-check generates scenarios, each runs on a testbed with the monitors and
 * property checkers; the first failing scenario is shrunk, saved as a replay file, and reported.
 * TLC validates, in one batched invocation, every failing trace and a seeded sample of passing ones.
 */
import fc from 'fast-check';
import type { ProtocolDefinition, Violation } from '../protocol.ts';
import type { Scenario } from '../scenario/types.ts';
import type { Testbed } from '../../testbeds/testbed.ts';
import { Rng } from '../../impl/rng.ts';
import { runScenario, type RunReport } from './run-scenario.ts';
import { saveReplay } from './replay-file.ts';

export interface CampaignOptions {
  readonly protocol: ProtocolDefinition<any>;
  readonly testbed: Testbed;
  readonly runs: number;
  readonly seed: number;
  readonly bugs?: readonly string[];
  readonly hostFaults?: boolean;
  /** Fraction of passing traces that TLC validates (failing ones always are). 0 turns TLC off. */
  readonly tlcSample?: number;
  /** At most this many passing traces go to TLC, whatever the fraction (default: no limit). */
  readonly tlcMax?: number;
  /** Where replay files go; none saved when undefined. */
  readonly replayDir?: string;
  readonly onProgress?: (p: CampaignProgress) => void;
  /** At most this many shrinking runs after the first failure (default 300 on sim, 15 on a real testbed). */
  readonly maxShrinkRuns?: number;
}

export interface CampaignProgress {
  readonly phase: 'running' | 'shrinking' | 'tlc';
  readonly done: number;
  readonly total: number;
  readonly violations: number;
}

export interface Failure {
  /** The first failing scenario fast-check found, and the one it shrank it to. */
  readonly original: RunReport;
  readonly shrunk: RunReport;
  readonly replayFile?: string;
  readonly shrinkSteps: number;
}

export interface CampaignResult {
  readonly protocol: string;
  readonly testbed: string;
  readonly runs: number;
  readonly passedRuns: number;
  readonly failure?: Failure;
  /** Violations found by TLC trace validation (traces the spec does not admit). */
  readonly tlcViolations: { report: RunReport; violation: Violation; replayFile?: string }[];
  readonly tlcValidated: number;
  /** Packets and simulator events summed over runs, when the testbed counts them. */
  readonly packets: number;
  readonly events: number;
  /**
   * The protocol's load figures (`ProtocolDefinition.loadFigures`) summed over the campaign's
   * runs (shrinking runs left out), when the protocol defines them.
   */
  readonly loadFigures?: Readonly<Record<string, number>>;
  readonly wallMs: number;
  readonly seed: number;
  /** Set when the campaign could not conclude (e.g. TLC missing while asked for). */
  readonly inconclusive?: string;
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const started = performance.now();
  const { protocol, testbed } = opts;
  const arb = protocol.scenarios({ bugs: opts.bugs ?? [], testbed: testbed.name, hostFaults: opts.hostFaults ?? true });
  const sampler = new Rng(opts.seed ^ 0x5eed);
  const sample = opts.tlcSample ?? 0;
  const tlcMax = opts.tlcMax ?? Infinity;
  const toValidate: RunReport[] = [];
  let runs = 0;
  let passed = 0;
  let packets = 0;
  let events = 0;
  const loadFigures: Record<string, number> | undefined = protocol.loadFigures ? {} : undefined;
  let firstFailure: RunReport | undefined;
  let lastFailure: RunReport | undefined;
  let shrinking = false;
  let shrinkSteps = 0;
  let shrinkRuns = 0;
  // A run on a real testbed costs seconds, on sim milliseconds.
  const maxShrinkRuns = opts.maxShrinkRuns ?? (testbed.name === 'sim' ? 300 : 15);
  /** A run the testbed could not carry out (a node did not start, an agent is gone): ends the campaign. */
  let testbedError: string | undefined;

  const property = fc.asyncProperty(arb, async (scenario: Scenario) => {
    // Past the shrinking budget every candidate counts as passing, which ends the search with
    // the smallest failure found so far.
    if (shrinking && shrinkRuns++ >= maxShrinkRuns) return true;
    if (testbedError !== undefined) return true;
    let report: RunReport;
    try {
      report = await runScenario(protocol, scenario, testbed);
    } catch (err) {
      // Not a verdict on the protocol: the campaign is inconclusive (no shrinking, no more runs).
      testbedError = (err as Error).message;
      return true;
    }
    packets += report.stats?.packets ?? 0;
    events += report.stats?.events ?? 0;
    const ok = report.violations.length === 0;
    if (!shrinking) {
      runs++;
      if (loadFigures) {
        for (const [k, v] of Object.entries(protocol.loadFigures!(report.trace, scenario))) loadFigures[k] = (loadFigures[k] ?? 0) + v;
      }
      if (ok) {
        passed++;
        if (sample > 0 && toValidate.length < tlcMax && sampler.chance(sample)) toValidate.push(report);
      } else {
        firstFailure = report;
        lastFailure = report;
        shrinking = true;
      }
    } else if (!ok) {
      shrinkSteps++;
      lastFailure = report;
    }
    opts.onProgress?.({
      phase: shrinking ? 'shrinking' : 'running', done: runs, total: opts.runs, violations: firstFailure ? 1 : 0,
    });
    return ok;
  });
  await fc.check(property, { numRuns: opts.runs, seed: opts.seed, endOnFailure: false });

  let failure: Failure | undefined;
  if (firstFailure && lastFailure) {
    const replayFile = opts.replayDir
      ? await saveReplay(opts.replayDir, lastFailure, opts.seed)
      : undefined;
    failure = { original: firstFailure, shrunk: lastFailure, replayFile, shrinkSteps };
  }

  const tlcViolations: CampaignResult['tlcViolations'] = [];
  let tlcValidated = 0;
  let inconclusive: string | undefined;
  if (testbedError !== undefined) {
    inconclusive = `the testbed could not run scenario ${runs + 1}: ${testbedError}`;
  } else if (runs < opts.runs && !failure) {
    inconclusive = `only ${runs} of ${opts.runs} runs were carried out`;
  }
  if (sample > 0 && protocol.validateTraces) {
    const batch = failure ? [failure.shrunk, ...toValidate] : toValidate;
    if (batch.length > 0) {
      opts.onProgress?.({ phase: 'tlc', done: runs, total: opts.runs, violations: failure ? 1 : 0 });
      try {
        const results = await protocol.validateTraces(
          batch.map((r) => ({ trace: r.trace, addrs: r.addrs, scenario: r.scenario })),
        );
        tlcValidated = results.length;
        for (let i = 0; i < results.length; i++) {
          const res = results[i]!;
          const report = batch[i]!;
          if (res.accepted) continue;
          const violation: Violation = {
            check: 'tlc',
            message: `the spec does not admit this trace: ${res.message ?? `matched ${res.matchedPrefix ?? 0} of ${report.trace.length} events`}`,
          };
          if (failure && report === failure.shrunk) {
            failure.shrunk.violations.push(violation);
          } else {
            const replayFile = opts.replayDir ? await saveReplay(opts.replayDir, report, opts.seed) : undefined;
            tlcViolations.push({ report, violation, replayFile });
          }
        }
      } catch (err) {
        inconclusive ??= `TLC trace validation failed to run: ${(err as Error).message}`;
      }
    }
  }

  return {
    protocol: protocol.name,
    testbed: testbed.name,
    runs,
    passedRuns: passed,
    failure,
    tlcViolations,
    tlcValidated,
    packets,
    events,
    ...(loadFigures ? { loadFigures } : {}),
    wallMs: performance.now() - started,
    seed: opts.seed,
    inconclusive,
  };
}
