/**
 * The CLI as a user runs it: real processes, real exit codes, real output.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'protocheck.mjs');

function cli(args: string[], timeout = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

describe('protocheck CLI', () => {
  it('prints usage and exits 2 without a command', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('usage: protocheck');
  });

  it('rejects an unknown protocol, testbed and bug with one clear line and exit 2', async () => {
    const p = await cli(['fuzz', 'nosuch']);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/unknown protocol 'nosuch' \(known: r2p2/);
    const t = await cli(['fuzz', 'r2p2', '--testbed', 'moon']);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/unknown testbed 'moon'/);
    const b = await cli(['fuzz', 'r2p2', '--bugs', 'nope']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/unknown bug 'nope'/);
  });

  it('check r2p2: correct models pass, buggy variants print a counterexample', async () => {
    const r = await cli(['check', 'r2p2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok — expected ok; [1-9]\d* distinct states/);
    expect(r.stdout).toMatch(/invariant-violated of \w+ — expected violation/);
    expect(r.stdout).toMatch(/counterexample \(\d+ states\)/);
  }, 240_000); // eight TLC runs, one after another, while other test files use the CPUs

  it('fuzz on sim passes on the correct implementation, with TLC validating a sample', async () => {
    const r = await cli(['fuzz', 'r2p2', '--runs', '40', '--seed', '11', '--tlc-sample', '0.2']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/40 runs, 40 passed, 0 violations, [1-9]\d* traces validated by TLC/);
    // The load the runs put on the protocol, summed over them.
    expect(r.stdout).toMatch(/^load \(summed over 40 runs\): runs-at-bound [1-9]\d*, dispatches-at-bound [1-9]\d*, held-at-bound \d+, router-drops \d+$/m);
  });

  it('fuzz validates every trace with TLC at --tlc-sample 1, and --tlc-max caps them', async () => {
    const all = await cli(['fuzz', 'r2p2', '--runs', '6', '--seed', '3', '--tlc-sample', '1']);
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(all.stdout).toMatch(/6 runs, 6 passed, 0 violations, 6 traces validated by TLC/);
    const capped = await cli(['fuzz', 'r2p2', '--runs', '6', '--seed', '3', '--tlc-sample', '1', '--tlc-max', '2']);
    expect(capped.code, capped.stdout + capped.stderr).toBe(0);
    expect(capped.stdout).toMatch(/6 runs, 6 passed, 0 violations, 2 traces validated by TLC/);
  }, 240_000);

  it('fuzz finds a seeded bug, saves a replay file, and replay reproduces it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'protocheck-cli-'));
    const r = await cli(['fuzz', 'r2p2', '--runs', '300', '--seed', '5', '--bugs', 'server-replies-twice', '--out', dir, '--tlc-sample', '0']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('VIOLATION in r2p2 on sim');
    expect(r.stdout).toMatch(/last events of the trace/);
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    const file = join(dir, files[0]!);
    expect(r.stdout).toContain(`protocheck replay ${file}`);
    const again = await cli(['replay', file]);
    expect(again.code, again.stdout + again.stderr).toBe(1);
    expect(again.stdout).toContain('VIOLATION');
  });

  it('replay of a malformed file is a clear error, exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'protocheck-cli-'));
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"format": "protocheck-replay/1", "scenario": {"protocol": "r2p2"}}');
    const r = await cli(['replay', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a replay file/);
    const missing = await cli(['replay', join(dir, 'missing.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read replay file/);
  });
});
