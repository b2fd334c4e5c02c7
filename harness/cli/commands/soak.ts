/**
 * `protocheck soak [protocol...]`: fuzz campaigns over many seeds, for every protocol, in parallel
 * child processes, for a time budget.
 *
 * Each campaign runs in a child process (`protocheck soak --worker ...`, which runs one campaign and
 * prints its result as one JSON line), so a campaign that crashes, hangs or runs out of memory is
 * reported as inconclusive with its stderr instead of taking the soak down. Campaigns are started
 * in a fixed order that alternates the protocols (seed 0 of each protocol, then seed 1 of each, …),
 * at most `--jobs` at a time. No campaign starts once the budget is spent (except the first one of
 * each protocol, so every protocol is tried); campaigns running at that moment are let finish.
 * A campaign that runs longer than `--campaign-timeout` is killed and counts as inconclusive.
 *
 * Exit code: 1 a violation was found, else 2 a campaign was inconclusive (or the soak was
 * interrupted), else 0.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../main.ts';
import { parse, intOption, listOption, UsageError } from '../args.ts';
import { findProtocol } from '../protocol-arg.ts';
import { protocols as registry } from '../../protocols/index.ts';
import { runCampaign, type CampaignResult } from '../../run/campaign.ts';
import { formatCampaign, table } from '../../report/format.ts';
import { createTestbed, TESTBEDS, UnknownTestbedError } from '../../../testbeds/index.ts';

const HELP = `usage: protocheck soak [protocol...] [--testbed sim] [--budget 60s] [--runs-per-seed N]
                        [--seeds A..B | --seed-base X] [--jobs J] [--tlc-sample F] [--tlc-max M]
                        [--bugs name,name] [--no-host-faults] [--out DIR] [--campaign-timeout 10m]

Fuzz campaigns (as \`protocheck fuzz\`) over many seeds, for every protocol named (default: all),
alternating the protocols, each campaign in a child process, J at a time (default: one per core on
sim, 1 on other testbeds).

Seeds: --seeds gives them exactly ("1..20", "3,7,10..12"); --seed-base X derives an endless
sequence from the string X (seed i = the first 31 bits of sha256("X/i")); without either, a random
base is drawn and printed.
Budget (default 60s, or unlimited with --seeds): once it is spent no campaign starts (the first one
of each protocol always does); running campaigns are let finish. A campaign running longer than
--campaign-timeout is killed and is inconclusive.
--runs-per-seed N: runs per campaign (default 200 on sim, 10 elsewhere).
--tlc-sample F, --tlc-max M: TLC validates a fraction F of each campaign's passing traces (default
0.05), at most M (default 5), and every failing one; F = 0 turns TLC off.
--bugs: seeded bugs, each switched on for the protocols that have it.
Failing scenarios are shrunk and saved under DIR (default out/replays).
Prints every failure with its replay file and commands, then a summary per protocol.
Exit code: 0 all passed, 1 a violation, 2 inconclusive (a campaign could not run).`;

/** Marks the worker's result line on its stdout. */
const RESULT_MARK = 'protocheck-soak-result ';
const BIN = fileURLToPath(new URL('../../../bin/protocheck.mjs', import.meta.url));
/** Keep at most this much of a child's stderr, its end. */
const STDERR_KEEP = 8_000;

// ---------------------------------------------------------------------------------------------
// Seeds and durations

export type SeedSequence =
  | { readonly kind: 'list'; readonly seeds: readonly number[] }
  | { readonly kind: 'base'; readonly base: string };

/** Seed `i` of the sequence derived from `base`: the first 31 bits of sha256(`base/i`). */
export function deriveSeed(base: string, i: number): number {
  return createHash('sha256').update(`${base}/${i}`).digest().readUInt32BE(0) >>> 1;
}

export function seedAt(seq: SeedSequence, i: number): number | undefined {
  return seq.kind === 'list' ? seq.seeds[i] : deriveSeed(seq.base, i);
}

/** "1..20", "5", "3,7,10..12" → the seeds, in order, without repeats. */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:\.\.(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`--seeds: expected A..B or a comma list of seeds and ranges, got '${part}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) throw new UsageError(`--seeds: bad range '${part}'`);
    if (b - a >= 1_000_000) throw new UsageError(`--seeds: range '${part}' is too long (at most 1000000 seeds)`);
    for (let s = a; s <= b; s++) if (!seen.has(s)) seen.add(s), out.push(s);
  }
  if (out.length === 0) throw new UsageError('--seeds: no seeds given');
  return out;
}

/** "90", "90s", "500ms", "5m", "1h" → milliseconds. */
export function parseDuration(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--${name}: expected a duration such as 90s, 5m, 1h or 500ms, got '${text}'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

// ---------------------------------------------------------------------------------------------
// What one campaign reports back

export interface CampaignFailure {
  readonly kind: 'run' | 'tlc';
  /** `run`: the run (1-based) that failed first. `tlc`: the campaign's run count (TLC rejected one of its sampled passing traces). */
  readonly run: number;
  readonly violations: readonly { check: string; message: string }[];
  readonly replayFile?: string;
}

/** The result a worker prints: the parts of a `CampaignResult` the soak reports. */
export interface CampaignSummary {
  readonly protocol: string;
  readonly testbed: string;
  readonly seed: number;
  readonly runs: number;
  readonly passedRuns: number;
  readonly tlcValidated: number;
  readonly wallMs: number;
  readonly failures: readonly CampaignFailure[];
  readonly inconclusive?: string;
  /** `formatCampaign`'s text: each failure with its scenario and the end of its trace. */
  readonly details: string;
}

export function summarizeCampaign(r: CampaignResult): CampaignSummary {
  const failures: CampaignFailure[] = [];
  if (r.failure) {
    failures.push({
      kind: 'run', run: r.runs, replayFile: r.failure.replayFile,
      violations: r.failure.shrunk.violations.map((v) => ({ check: v.check, message: v.message })),
    });
  }
  for (const v of r.tlcViolations) {
    failures.push({ kind: 'tlc', run: r.runs, replayFile: v.replayFile, violations: [{ check: v.violation.check, message: v.violation.message }] });
  }
  return {
    protocol: r.protocol, testbed: r.testbed, seed: r.seed, runs: r.runs, passedRuns: r.passedRuns,
    tlcValidated: r.tlcValidated, wallMs: r.wallMs, failures, inconclusive: r.inconclusive,
    details: formatCampaign(r),
  };
}

// ---------------------------------------------------------------------------------------------
// The schedule: which campaign starts when

export interface SoakJob {
  readonly protocol: string;
  readonly seed: number;
  /** The seed's index in the sequence. */
  readonly index: number;
}

export type CampaignOutcome =
  | { readonly kind: 'done'; readonly summary: CampaignSummary; readonly ms: number }
  | { readonly kind: 'inconclusive'; readonly reason: string; readonly stderr: string; readonly ms: number };

export interface CampaignRecord {
  readonly job: SoakJob;
  readonly outcome: CampaignOutcome;
  /** Started after the budget was spent (the first campaign of a protocol). */
  readonly lateStart: boolean;
  /** Finished after the budget was spent. */
  readonly finishedAfterBudget: boolean;
}

export interface ScheduleOptions {
  readonly protocols: readonly string[];
  readonly seeds: SeedSequence;
  readonly budgetMs: number;
  readonly jobs: number;
  readonly launch: (job: SoakJob) => Promise<CampaignOutcome>;
  readonly onStart?: (job: SoakJob) => void;
  readonly onDone?: (record: CampaignRecord) => void;
  /** Once set, no campaign starts. */
  readonly stopped?: () => boolean;
  readonly now?: () => number;
}

export interface ScheduleResult {
  readonly records: CampaignRecord[];
  /** Campaigns of a `--seeds` list (seeds × protocols) not started because the budget ran out or the soak was stopped. */
  readonly untried: number;
  readonly wallMs: number;
}

/**
 * Starts campaigns in the order (seed 0, protocol 0), (seed 0, protocol 1), …, (seed 1, protocol 0),
 * …, at most `jobs` at a time, until the seeds run out or the budget is spent; then waits for the
 * running ones.
 */
export function schedule(o: ScheduleOptions): Promise<ScheduleResult> {
  const now = o.now ?? (() => performance.now());
  const t0 = now();
  const P = o.protocols.length;
  const records: CampaignRecord[] = [];
  let k = 0;
  let running = 0;
  let exhausted = false;
  return new Promise((resolve) => {
    const overBudget = () => now() - t0 >= o.budgetMs;
    const pump = () => {
      while (running < o.jobs && !exhausted && !o.stopped?.()) {
        const first = k < P;
        if (!first && overBudget()) break;
        const index = Math.floor(k / P);
        const seed = seedAt(o.seeds, index);
        if (seed === undefined) { exhausted = true; break; }
        const job: SoakJob = { protocol: o.protocols[k % P]!, seed, index };
        const lateStart = overBudget();
        k++;
        running++;
        o.onStart?.(job);
        const started = now();
        Promise.resolve()
          .then(() => o.launch(job))
          .catch((err: unknown): CampaignOutcome => ({
            kind: 'inconclusive', reason: `the campaign could not be run: ${(err as Error)?.message ?? String(err)}`, stderr: '', ms: now() - started,
          }))
          .then((outcome) => {
            const rec: CampaignRecord = { job, outcome, lateStart, finishedAfterBudget: overBudget() };
            records.push(rec);
            running--;
            o.onDone?.(rec);
            pump();
          });
      }
      if (running === 0) {
        const untried = o.seeds.kind === 'list' ? Math.max(0, o.seeds.seeds.length * P - k) : 0;
        resolve({ records, untried, wallMs: now() - t0 });
      }
    };
    pump();
  });
}

// ---------------------------------------------------------------------------------------------
// Children

export interface ChildConfig {
  readonly testbed: string;
  readonly runs: number;
  readonly tlcSample: number;
  readonly tlcMax: number;
  readonly out: string;
  readonly bugs: Readonly<Record<string, readonly string[]>>;
  readonly hostFaults: boolean;
  readonly inventory?: string;
  readonly timeoutMs: number;
  /** Aborting it stops every running child. */
  readonly signal?: AbortSignal;
}

/** The arguments of the `protocheck` command line that runs this campaign on its own. */
export function workerArgs(job: SoakJob, c: ChildConfig): string[] {
  const bugs = c.bugs[job.protocol] ?? [];
  return [
    'soak', '--worker', job.protocol, '--seed', String(job.seed), '--testbed', c.testbed,
    '--runs-per-seed', String(c.runs), '--tlc-sample', String(c.tlcSample), '--tlc-max', String(c.tlcMax), '--out', c.out,
    ...(bugs.length ? ['--bugs', bugs.join(',')] : []),
    ...(c.hostFaults ? [] : ['--no-host-faults']),
    ...(c.inventory ? ['--inventory', c.inventory] : []),
  ];
}

/** The `protocheck fuzz` command that reruns the campaign. */
export function fuzzCommand(job: SoakJob, c: ChildConfig): string {
  const bugs = c.bugs[job.protocol] ?? [];
  return [
    'protocheck fuzz', job.protocol, '--testbed', c.testbed, '--runs', String(c.runs), '--seed', String(job.seed),
    ...(bugs.length ? ['--bugs', bugs.join(',')] : []),
    ...(c.hostFaults ? [] : ['--no-host-faults']),
    '--tlc-sample', String(c.tlcSample),
  ].join(' ');
}

/**
 * Runs one campaign in a child process: `node bin/protocheck.mjs soak --worker ...`
 * (`PROTOCHECK_SOAK_NODE` replaces the node binary, which is how the tests make a child fail).
 */
export function launchChild(job: SoakJob, c: ChildConfig): Promise<CampaignOutcome> {
  const started = performance.now();
  const exe = process.env.PROTOCHECK_SOAK_NODE || process.execPath;
  return new Promise((resolve) => {
    let settled = false;
    let stdout = '';
    let stderr = '';
    let killedFor: string | undefined;
    const finish = (o: CampaignOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(hardKill);
      c.signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    // Its own process group, so that stopping it stops what it started too (TLC's JVM).
    const child = spawn(exe, [BIN, ...workerArgs(job, c)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 2 * STDERR_KEEP) stderr = stderr.slice(-STDERR_KEEP);
    });
    let hardKill: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // The group is gone already.
      }
    };
    const stop = (why: string) => {
      if (killedFor || settled) return;
      killedFor = why;
      killGroup('SIGTERM');
      hardKill = setTimeout(() => killGroup('SIGKILL'), 5_000);
    };
    const timer = setTimeout(() => stop(`killed after the campaign timeout (${Math.round(c.timeoutMs / 1000)} s)`), c.timeoutMs);
    const onAbort = () => stop('stopped: the soak was interrupted');
    c.signal?.addEventListener('abort', onAbort);
    if (c.signal?.aborted) onAbort();
    child.on('error', (err) => {
      // No process (e.g. ENOENT): 'close' may never come.
      if (child.pid === undefined) {
        finish({ kind: 'inconclusive', reason: `the campaign's process did not start: ${err.message}`, stderr, ms: performance.now() - started });
      }
    });
    // 'close' waits for the output pipes, which a leftover grandchild may hold open: after the
    // worker's exit, its group is killed and 'close' is given a moment, no more.
    let drain: NodeJS.Timeout | undefined;
    child.on('exit', (code, sig) => {
      if (killedFor) killGroup('SIGKILL');
      drain = setTimeout(() => conclude(code, sig), 2_000);
    });
    child.on('close', (code, sig) => conclude(code, sig));
    const conclude = (code: number | null, sig: NodeJS.Signals | null) => {
      clearTimeout(drain);
      const ms = performance.now() - started;
      const line = stdout.split('\n').reverse().find((l) => l.startsWith(RESULT_MARK));
      if (line && !killedFor) {
        try {
          return finish({ kind: 'done', summary: JSON.parse(line.slice(RESULT_MARK.length)) as CampaignSummary, ms });
        } catch (err) {
          return finish({ kind: 'inconclusive', reason: `unreadable result from the campaign's process: ${(err as Error).message}`, stderr, ms });
        }
      }
      const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
      finish({ kind: 'inconclusive', reason: killedFor ?? `the campaign's process ${how} without a result`, stderr, ms });
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The command

function hasViolation(o: CampaignOutcome): boolean {
  return o.kind === 'done' && o.summary.failures.length > 0;
}

function isInconclusive(o: CampaignOutcome): boolean {
  return o.kind === 'inconclusive' || (o.kind === 'done' && o.summary.failures.length === 0 && o.summary.inconclusive !== undefined);
}

/** Which run failed: a run of the campaign, or a trace TLC rejected out of those sampled. */
function where(f: CampaignFailure): string {
  return f.kind === 'run' ? `run ${f.run}` : `a sampled trace of runs 1..${f.run}`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split('\n');
  const kept = all.slice(-lines).map((l) => `    | ${l}`);
  return (all.length > lines ? [`    | … ${all.length - lines} earlier lines`, ...kept] : kept).join('\n');
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    testbed: { type: 'string', default: 'sim' },
    budget: { type: 'string' },
    'runs-per-seed': { type: 'string' },
    seeds: { type: 'string' },
    'seed-base': { type: 'string' },
    jobs: { type: 'string' },
    'tlc-sample': { type: 'string' },
    'tlc-max': { type: 'string' },
    bugs: { type: 'string' },
    'no-host-faults': { type: 'boolean' },
    out: { type: 'string', default: 'out/replays' },
    'campaign-timeout': { type: 'string' },
    inventory: { type: 'string' },
    worker: { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) return console.log(HELP), EXIT.ok;
  const testbed = values.testbed!;
  if (!Object.hasOwn(TESTBEDS, testbed)) throw new UnknownTestbedError(`unknown testbed '${testbed}' (known: ${Object.keys(TESTBEDS).join(', ')})`);
  const runs = intOption(values['runs-per-seed'], 'runs-per-seed', testbed === 'sim' ? 200 : 10);
  if (runs < 1) throw new UsageError('--runs-per-seed must be at least 1');
  const tlcSample = values['tlc-sample'] === undefined ? 0.05 : Number(values['tlc-sample']);
  if (!(tlcSample >= 0 && tlcSample <= 1)) throw new UsageError('--tlc-sample must be within [0, 1]');
  const tlcMax = intOption(values['tlc-max'], 'tlc-max', 5);
  if (values.worker !== undefined) return runWorker(values.worker, values, runs, tlcSample, tlcMax);
  if (values.seed !== undefined) throw new UsageError('soak takes --seeds A..B or --seed-base X (--seed is for fuzz)');

  const names = positionals.length ? [...new Set(positionals)] : Object.keys(registry);
  const protos = names.map((n) => findProtocol(n));
  const bugList = listOption(values.bugs);
  const bugs: Record<string, string[]> = {};
  for (const b of bugList) {
    const owners = protos.filter((p) => p.bugs.some((x) => x.name === b));
    if (owners.length === 0) {
      throw new UsageError(`unknown bug '${b}' for ${names.join(', ')} (known: ${protos.flatMap((p) => p.bugs.map((x) => x.name)).join(', ')})`);
    }
    for (const p of owners) (bugs[p.name] ??= []).push(b);
  }
  if (values.seeds !== undefined && values['seed-base'] !== undefined) throw new UsageError('give --seeds or --seed-base, not both');
  let seeds: SeedSequence;
  let seedNote: string;
  if (values.seeds !== undefined) {
    seeds = { kind: 'list', seeds: parseSeeds(values.seeds) };
    seedNote = `seeds ${values.seeds} (${seeds.seeds.length})`;
  } else {
    const given = values['seed-base'];
    if (given !== undefined && given.trim() === '') throw new UsageError('--seed-base must not be empty');
    const base = given ?? randomBytes(4).toString('hex');
    seeds = { kind: 'base', base };
    seedNote = `seeds derived from base '${base}'${given === undefined ? ' (random; --seed-base repeats it)' : ''}`;
  }
  const budgetMs = values.budget !== undefined ? parseDuration(values.budget, 'budget')
    : seeds.kind === 'list' ? Infinity : 60_000;
  const jobs = intOption(values.jobs, 'jobs', testbed === 'sim' ? availableParallelism() : 1);
  if (jobs < 1) throw new UsageError('--jobs must be at least 1');
  const timeoutMs = values['campaign-timeout'] !== undefined ? parseDuration(values['campaign-timeout'], 'campaign-timeout') : 600_000;
  if (!(timeoutMs > 0)) throw new UsageError('--campaign-timeout must be positive');

  const abort = new AbortController();
  const cfg: ChildConfig = {
    testbed, runs, tlcSample, tlcMax, out: values.out!, bugs, hostFaults: !values['no-host-faults'],
    inventory: values.inventory, timeoutMs, signal: abort.signal,
  };
  console.log(
    `soak ${names.join(', ')} on ${testbed}: ${seedNote}, ${runs} runs per seed, ${jobs} job${jobs === 1 ? '' : 's'}, ` +
    `budget ${Number.isFinite(budgetMs) ? secs(budgetMs) : 'none'}, TLC sample ${tlcSample} (at most ${tlcMax} per campaign)` +
    (bugList.length ? `, bugs ${Object.entries(bugs).map(([p, b]) => `${p}: ${b.join(',')}`).join('; ')}` : ''),
  );

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    console.log('soak: interrupted; stopping the running campaigns');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const t0 = performance.now();
  const width = Math.max(...names.map((n) => n.length));
  let result: ScheduleResult;
  try {
    result = await schedule({
      protocols: names, seeds, budgetMs, jobs,
      launch: (job) => launchChild(job, cfg),
      stopped: () => interrupted,
      onDone: ({ job, outcome }) => printOutcome(job, outcome, cfg, width, performance.now() - t0),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return printSummary(names, result, cfg, budgetMs, interrupted);
}

function printOutcome(job: SoakJob, o: CampaignOutcome, c: ChildConfig, width: number, atMs: number): void {
  const head = `[${(atMs / 1000).toFixed(0).padStart(5)} s] ${job.protocol.padEnd(width)} seed ${String(job.seed).padEnd(10)}`;
  if (o.kind === 'inconclusive') {
    console.log(`${head} INCONCLUSIVE: ${o.reason}`);
    if (o.stderr.trim()) console.log(`  stderr of the campaign's process:\n${tail(o.stderr)}`);
    console.log(`  rerun: ${fuzzCommand(job, c)}`);
    return;
  }
  const s = o.summary;
  if (s.failures.length === 0) {
    const inc = s.inconclusive ? ` INCONCLUSIVE: ${s.inconclusive}` : ' ok';
    console.log(`${head} ${s.runs} runs, ${s.passedRuns} passed, ${s.tlcValidated} by TLC, ${secs(o.ms)}${inc}`);
    if (s.inconclusive) console.log(`  rerun: ${fuzzCommand(job, c)}`);
    return;
  }
  console.log(`${head} VIOLATION after ${s.runs} runs, ${secs(o.ms)}`);
  if (s.details) console.log(s.details.split('\n').map((l) => `  ${l}`).join('\n'));
  for (const f of s.failures) {
    console.log(`  FAILURE ${job.protocol} seed ${job.seed} ${where(f)}: ${f.violations.map((v) => `[${v.check}]`).join(' ')}`);
    if (f.replayFile) console.log(`    replay file: ${f.replayFile}\n    replay:      protocheck replay ${f.replayFile}`);
    console.log(`    campaign:    ${fuzzCommand(job, c)}`);
  }
}

function printSummary(names: readonly string[], r: ScheduleResult, c: ChildConfig, budgetMs: number, interrupted: boolean): number {
  const rows = names.map((name) => {
    const recs = r.records.filter((x) => x.job.protocol === name);
    const done = recs.flatMap((x) => (x.outcome.kind === 'done' ? [x.outcome.summary] : []));
    return [
      name,
      String(recs.length),
      String(done.reduce((n, s) => n + s.runs, 0)),
      String(recs.filter((x) => hasViolation(x.outcome)).length),
      String(recs.filter((x) => isInconclusive(x.outcome)).length),
      String(done.reduce((n, s) => n + s.tlcValidated, 0)),
      secs(recs.reduce((n, x) => n + x.outcome.ms, 0)),
    ];
  });
  console.log('\nsoak summary:');
  console.log(table(['protocol', 'seeds', 'runs', 'failures', 'inconclusive', 'traces by TLC', 'campaign time'], rows));
  const after = r.records.filter((x) => x.finishedAfterBudget).length;
  const notes: string[] = [`wall time ${secs(r.wallMs)}`];
  if (Number.isFinite(budgetMs) && r.wallMs >= budgetMs) {
    notes.push(`budget ${secs(budgetMs)} spent: ${after} campaign${after === 1 ? '' : 's'} running then ${after === 1 ? 'was' : 'were'} let finish`);
  }
  if (r.untried > 0) notes.push(`${r.untried} campaign${r.untried === 1 ? '' : 's'} of the listed seeds not started`);
  if (interrupted) notes.push('interrupted');
  console.log(notes.join('; '));

  const failing = r.records.filter((x) => hasViolation(x.outcome));
  if (failing.length) {
    console.log('\nfailures:');
    for (const { job, outcome } of failing) {
      if (outcome.kind !== 'done') continue;
      for (const f of outcome.summary.failures) {
        console.log(`  ${job.protocol} seed ${job.seed} ${where(f)} [${f.violations.map((v) => v.check).join(', ')}]: ` +
          (f.replayFile ? `protocheck replay ${f.replayFile}` : fuzzCommand(job, c)));
      }
    }
  }
  const inconclusive = r.records.filter((x) => isInconclusive(x.outcome));
  const exit = failing.length > 0 ? EXIT.violation : inconclusive.length > 0 || interrupted ? EXIT.inconclusive : EXIT.ok;
  console.log(`\n${exit === EXIT.ok ? 'soak passed' : exit === EXIT.violation ? 'soak found VIOLATIONS' : 'soak inconclusive'} (exit ${exit})`);
  return exit;
}

/** `--worker PROTOCOL --seed S`: one campaign in this process, its result printed as one JSON line. */
async function runWorker(
  name: string, values: { seed?: string; testbed?: string; bugs?: string; 'no-host-faults'?: boolean; out?: string; inventory?: string },
  runs: number, tlcSample: number, tlcMax: number,
): Promise<number> {
  const protocol = findProtocol(name);
  if (values.seed === undefined) throw new UsageError('--worker needs --seed');
  const seed = intOption(values.seed, 'seed', 0);
  const bugs = listOption(values.bugs);
  for (const b of bugs) {
    if (!protocol.bugs.some((x) => x.name === b)) throw new UsageError(`unknown bug '${b}' for ${protocol.name}`);
  }
  const testbed = await createTestbed(values.testbed!, { inventory: values.inventory });
  let result: CampaignResult;
  try {
    result = await runCampaign({
      protocol, testbed, runs, seed, bugs,
      hostFaults: !values['no-host-faults'],
      tlcSample,
      tlcMax,
      replayDir: values.out,
    });
  } finally {
    await testbed.close?.();
  }
  const summary = summarizeCampaign(result);
  process.stdout.write(RESULT_MARK + JSON.stringify(summary) + '\n');
  return summary.failures.length ? EXIT.violation : summary.inconclusive ? EXIT.inconclusive : EXIT.ok;
}
