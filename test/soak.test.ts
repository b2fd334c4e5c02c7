/**
 * `protocheck soak`: the seed sequence, the schedule (alternation, budget), and the command as a
 * user runs it (child processes, output, exit codes).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  deriveSeed, parseDuration, parseSeeds, schedule, seedAt,
  type CampaignOutcome, type CampaignSummary, type SoakJob,
} from '../harness/cli/commands/soak.ts';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'protocheck.mjs');

function cli(args: string[], env: Record<string, string> = {}, timeout = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { timeout, maxBuffer: 64 << 20, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

describe('soak seeds', () => {
  it('derives the same sequence from the same base, another from another base', () => {
    const a = Array.from({ length: 50 }, (_, i) => deriveSeed('3f2a9c', i));
    const again = Array.from({ length: 50 }, (_, i) => deriveSeed('3f2a9c', i));
    const b = Array.from({ length: 50 }, (_, i) => deriveSeed('3f2a9d', i));
    expect(again).toEqual(a);
    expect(new Set(a).size).toBe(50);
    expect(a.filter((s, i) => s === b[i])).toEqual([]);
    for (const s of [...a, ...b]) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    // Pinned: a CI log's seeds stay reproducible across versions.
    expect([deriveSeed('abc', 0), deriveSeed('abc', 1)]).toEqual([182998678, 1589492657]);
    expect(seedAt({ kind: 'base', base: 'abc' }, 3)).toBe(deriveSeed('abc', 3));
  });

  it('parses exact seed lists and durations', () => {
    expect(parseSeeds('1..5')).toEqual([1, 2, 3, 4, 5]);
    expect(parseSeeds('3,7,10..12,7')).toEqual([3, 7, 10, 11, 12]);
    expect(() => parseSeeds('5..1')).toThrow(/bad range/);
    expect(() => parseSeeds('x')).toThrow(/expected A\.\.B/);
    expect(seedAt({ kind: 'list', seeds: [4, 9] }, 1)).toBe(9);
    expect(seedAt({ kind: 'list', seeds: [4, 9] }, 2)).toBeUndefined();
    expect(parseDuration('90', 'budget')).toBe(90_000);
    expect(parseDuration('1.5s', 'budget')).toBe(1500);
    expect(parseDuration('5m', 'budget')).toBe(300_000);
    expect(parseDuration('250ms', 'budget')).toBe(250);
    expect(() => parseDuration('soon', 'budget')).toThrow(/--budget/);
  });
});

/** A schedule on a virtual clock: each campaign takes `cost(job)` ms. */
async function simulate(opts: { protocols: string[]; seeds: number[]; budgetMs: number; jobs: number; cost: (j: SoakJob) => number }) {
  let clock = 0;
  const pending: { at: number; done: () => void }[] = [];
  const started: string[] = [];
  let maxRunning = 0;
  let running = 0;
  const summary = (j: SoakJob): CampaignSummary => ({
    protocol: j.protocol, testbed: 'sim', seed: j.seed, runs: 1, passedRuns: 1, tlcValidated: 0, wallMs: 0, failures: [], details: '',
  });
  const launch = (job: SoakJob) => new Promise<CampaignOutcome>((res) => {
    started.push(`${job.protocol}${job.seed}@${clock}`);
    running++;
    maxRunning = Math.max(maxRunning, running);
    pending.push({ at: clock + opts.cost(job), done: () => { running--; res({ kind: 'done', summary: summary(job), ms: opts.cost(job) }); } });
  });
  const result = schedule({ ...opts, seeds: { kind: 'list', seeds: opts.seeds }, launch, now: () => clock });
  // Drive the virtual clock: complete the earliest campaign, let the scheduler react, repeat.
  for (;;) {
    await new Promise((r) => setTimeout(r, 0));
    if (pending.length === 0) break;
    pending.sort((a, b) => a.at - b.at);
    const next = pending.shift()!;
    clock = next.at;
    next.done();
  }
  return { ...(await result), started, maxRunning };
}

describe('soak schedule', () => {
  it('alternates the protocols seed by seed and stops starting campaigns once the budget is spent', async () => {
    const r = await simulate({ protocols: ['a', 'b'], seeds: [1, 2, 3, 4], budgetMs: 25, jobs: 1, cost: () => 10 });
    // a1 ends at 10, b1 at 20, a2 starts at 20 < 25 and is let finish at 30; nothing starts after.
    expect(r.started).toEqual(['a1@0', 'b1@10', 'a2@20']);
    expect(r.records.map((x) => x.finishedAfterBudget)).toEqual([false, false, true]);
    expect(r.untried).toBe(5);
  });

  it('runs at most `jobs` campaigns at a time and every listed seed when the budget allows', async () => {
    const r = await simulate({ protocols: ['a', 'b'], seeds: [1, 2, 3], budgetMs: Infinity, jobs: 3, cost: (j) => (j.protocol === 'a' ? 5 : 17) });
    expect(r.maxRunning).toBe(3);
    expect(r.records).toHaveLength(6);
    expect(r.started.map((s) => s.split('@')[0])).toEqual(['a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
    expect(r.untried).toBe(0);
  });

  it('starts the first campaign of every protocol even when the budget is already spent', async () => {
    const r = await simulate({ protocols: ['a', 'b', 'c'], seeds: [1, 2], budgetMs: 0, jobs: 2, cost: () => 10 });
    expect(r.started).toEqual(['a1@0', 'b1@0', 'c1@10']);
    expect(r.records.every((x) => x.lateStart)).toBe(true);
  });

  it('records a launch that throws as inconclusive, and goes on', async () => {
    const r = await schedule({
      protocols: ['a'], seeds: { kind: 'list', seeds: [1, 2] }, budgetMs: Infinity, jobs: 1,
      launch: async (j) => {
        if (j.seed === 1) throw new Error('no fork today');
        return { kind: 'inconclusive', reason: 'second', stderr: '', ms: 0 };
      },
    });
    expect(r.records.map((x) => x.outcome.kind === 'inconclusive' && x.outcome.reason)).toEqual([
      'the campaign could not be run: no fork today', 'second',
    ]);
  });
});

describe('protocheck soak', () => {
  it('passes on the correct protocols over a couple of seeds with a tiny budget, and prints the seeds and a summary', async () => {
    const r = await cli(['soak', '--seeds', '1..2', '--runs-per-seed', '5', '--budget', '1s', '--tlc-sample', '0', '--jobs', '2']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('soak r2p2, hovercraft on sim: seeds 1..2 (2), 5 runs per seed, 2 jobs, budget 1.0 s');
    expect(r.stdout).toMatch(/\] r2p2 +seed 1 +5 runs, 5 passed/);
    expect(r.stdout).toMatch(/\] hovercraft seed 1 +5 runs, 5 passed/);
    expect(r.stdout).toMatch(/soak summary:\nprotocol +seeds +runs +failures +inconclusive/);
    expect(r.stdout).toMatch(/^r2p2 +[12] +(5|10) +0 +0 /m);
    expect(r.stdout).toMatch(/^hovercraft +[12] +(5|10) +0 +0 /m);
    expect(r.stdout).toContain('soak passed (exit 0)');
  });

  it('runs the seeds derived from --seed-base', async () => {
    const r = await cli(['soak', 'r2p2', '--seed-base', 'ci-abc123', '--budget', '0s', '--runs-per-seed', '3', '--tlc-sample', '0', '--jobs', '1']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("seeds derived from base 'ci-abc123'");
    expect(r.stdout).toMatch(new RegExp(`\\] r2p2 seed ${deriveSeed('ci-abc123', 0)} +3 runs, 3 passed`));
    expect(r.stdout).toMatch(/budget 0\.0 s spent: 1 campaign running then was let finish/);
  });

  it('exits 1 on a seeded bug and prints the replay file and the commands', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'protocheck-soak-'));
    const r = await cli(['soak', 'r2p2', '--bugs', 'router-exceeds-bound', '--seeds', '1..2', '--runs-per-seed', '300', '--tlc-sample', '0', '--jobs', '1', '--out', dir]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('bugs r2p2: router-exceeds-bound');
    const files = await readdir(dir);
    expect(files.length).toBeGreaterThanOrEqual(1);
    const file = join(dir, files[0]!);
    expect(r.stdout).toMatch(/FAILURE r2p2 seed [12] run \d+: .*\[jbsq-bound\]/);
    expect(r.stdout).toContain(`replay file: ${file}`);
    expect(r.stdout).toContain(`protocheck replay ${file}`);
    expect(r.stdout).toMatch(/campaign: +protocheck fuzz r2p2 --testbed sim --runs 300 --seed [12] --bugs router-exceeds-bound/);
    expect(r.stdout).toMatch(/failures:\n {2}r2p2 seed [12] run \d+ \[.*jbsq-bound.*\]: protocheck replay /);
    expect(r.stdout).toMatch(/^r2p2 +2 +\d+ +[12] +0 /m);
    expect(r.stdout).toContain('soak found VIOLATIONS (exit 1)');
  });

  it('reports a campaign whose process does not start, or dies, as inconclusive (exit 2) with its stderr', async () => {
    const nostart = await cli(['soak', 'r2p2', '--seeds', '1', '--tlc-sample', '0'], { PROTOCHECK_SOAK_NODE: '/nonexistent/node' });
    expect(nostart.code, nostart.stdout + nostart.stderr).toBe(2);
    expect(nostart.stdout).toMatch(/r2p2 seed 1 +INCONCLUSIVE: the campaign's process did not start: .*ENOENT/);
    expect(nostart.stdout).toContain('rerun: protocheck fuzz r2p2 --testbed sim --runs 200 --seed 1');
    expect(nostart.stdout).toMatch(/^r2p2 +1 +0 +0 +1 /m);
    expect(nostart.stdout).toContain('soak inconclusive (exit 2)');

    const dir = await mkdtemp(join(tmpdir(), 'protocheck-soak-'));
    const crash = join(dir, 'crash.sh');
    await writeFile(crash, '#!/bin/sh\necho "out of memory, or so it says" >&2\nexit 3\n');
    await chmod(crash, 0o755);
    const died = await cli(['soak', '--seeds', '4', '--tlc-sample', '0'], { PROTOCHECK_SOAK_NODE: crash });
    expect(died.code, died.stdout + died.stderr).toBe(2);
    expect(died.stdout).toMatch(/hovercraft seed 4 +INCONCLUSIVE: the campaign's process exited with code 3 without a result/);
    expect(died.stdout).toContain('| out of memory, or so it says');
  });

  it('kills a campaign that outlives --campaign-timeout, with what it started, and reports it inconclusive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'protocheck-soak-'));
    const hang = join(dir, 'hang.sh');
    // A grandchild holding the output pipes open, as a leftover JVM would.
    await writeFile(hang, '#!/bin/sh\necho "started, now hanging" >&2\nsleep 60\n');
    await chmod(hang, 0o755);
    const t0 = Date.now();
    const r = await cli(['soak', 'r2p2', '--seeds', '2', '--campaign-timeout', '1s'], { PROTOCHECK_SOAK_NODE: hang });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toMatch(/r2p2 seed 2 +INCONCLUSIVE: killed after the campaign timeout \(1 s\)/);
    expect(r.stdout).toContain('| started, now hanging');
  });

  it('rejects a bug no named protocol has, and --seeds with --seed-base, with exit 2', async () => {
    const b = await cli(['soak', 'hovercraft', '--bugs', 'router-exceeds-bound']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/unknown bug 'router-exceeds-bound' for hovercraft/);
    const s = await cli(['soak', '--seeds', '1..2', '--seed-base', 'x']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/not both/);
    const one = await cli(['soak', '--seed', '3']);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/soak takes --seeds A\.\.B or --seed-base X/);
  });
});
