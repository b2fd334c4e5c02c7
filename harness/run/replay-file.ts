/**
 * Replay files: a failing scenario saved as JSON, rerun by `protocheck replay FILE`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digest } from '../../impl/digest.ts';
import type { Scenario } from '../scenario/types.ts';
import type { RunReport } from './run-scenario.ts';

export interface ReplayFile {
  readonly format: 'protocheck-replay/1';
  readonly protocol: string;
  readonly testbed: string;
  /** The campaign's seed, to find the campaign again. */
  readonly campaignSeed?: number;
  /** What the run that produced this file found. */
  readonly violations: readonly { check: string; message: string }[];
  readonly scenario: Scenario;
}

export async function saveReplay(dir: string, report: RunReport, campaignSeed?: number): Promise<string> {
  const file: ReplayFile = {
    format: 'protocheck-replay/1',
    protocol: report.scenario.protocol,
    testbed: report.testbed,
    campaignSeed,
    violations: report.violations.map((v) => ({ check: v.check, message: v.message })),
    scenario: report.scenario,
  };
  const text = JSON.stringify(file, null, 2) + '\n';
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${report.scenario.protocol}-${report.testbed}-${digest(new TextEncoder().encode(text))}.json`);
  await writeFile(path, text);
  return path;
}

export class ReplayFileError extends Error {}

export async function loadReplay(path: string): Promise<ReplayFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ReplayFileError(`cannot read replay file ${path}: ${(err as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ReplayFileError(`${path} is not JSON: ${(err as Error).message}`);
  }
  const f = v as Partial<ReplayFile>;
  if (typeof f !== 'object' || f === null) throw new ReplayFileError(`${path}: not a replay file (not an object)`);
  // A bare scenario (as a user may write by hand) is accepted too.
  const scenario = (f.format === 'protocheck-replay/1' ? f.scenario : v) as Scenario | undefined;
  if (!scenario || typeof scenario.protocol !== 'string' || typeof scenario.seed !== 'number' ||
      !Array.isArray(scenario.workload) || !Array.isArray(scenario.faults) || typeof scenario.duration !== 'number') {
    throw new ReplayFileError(
      `${path}: not a replay file: expected { format: "protocheck-replay/1", scenario: {...} } or a scenario with protocol, seed, workload, faults, duration`,
    );
  }
  return {
    format: 'protocheck-replay/1',
    protocol: scenario.protocol,
    testbed: typeof f.testbed === 'string' ? f.testbed : 'sim',
    campaignSeed: f.campaignSeed,
    violations: Array.isArray(f.violations) ? f.violations : [],
    scenario,
  };
}
