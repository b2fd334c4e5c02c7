/**
 * The docker testbed's foundations against the real engine: the engine answers, the node image is
 * built once per content hash and runs protocheck roles, and labelled objects are reaped.
 * Without an engine these tests skip with a reason, unless PROTOCHECK_REQUIRE_DOCKER=1 (CI), where
 * they run and fail.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { docker } from './cli.ts';
import { dockerRequirement, engineAvailable } from './engine.ts';
import { ensureNodeImage, ensureNodeImageInfo, imageSize } from './image.ts';
import { listLabelled, reapAll, reapRun, runLabelArgs } from './reap.ts';
import { run as clean } from '../../harness/cli/commands/clean.ts';

const req = await dockerRequirement();
const runIds: string[] = [];

function newRunId(): string {
  const id = `test-${randomBytes(5).toString('hex')}`;
  runIds.push(id);
  return id;
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('docker infrastructure', () => {
  beforeEach((ctx) => {
    if (!req.run) ctx.skip(req.reason);
  });

  afterAll(async () => {
    if (req.run && (await engineAvailable())) for (const id of runIds) await reapRun(id);
  });

  it('the engine answers `docker info`', async () => {
    expect(await engineAvailable(), 'no Docker engine answers (PROTOCHECK_REQUIRE_DOCKER=1 needs one: run `bash ci/docker-engine.sh`)').toBe(true);
  });

  it('builds the node image once per content hash', { timeout: 300_000 }, async () => {
    const first = await ensureNodeImageInfo();
    const second = await ensureNodeImageInfo();
    expect(first.tag).toMatch(/^protocheck-node:[0-9a-f]{16}$/);
    expect(second.tag).toBe(first.tag);
    expect(second.built).toBe(false);
    expect(second.ms).toBeLessThan(5_000);
    expect(await ensureNodeImage()).toBe(first.tag);
    const { stdout } = await docker(['image', 'inspect', '--format', '{{json .Config.Labels}} {{json .Config.Entrypoint}}', first.tag]);
    expect(stdout).toContain('"protocheck":"1"');
    expect(stdout).toContain('["/usr/bin/node","/app/protocheck.mjs"]');
    const size = await imageSize(first.tag);
    expect(size).toBeGreaterThan(10_000_000);
    console.log(
      `node image ${first.tag}: ${(size / 1e6).toFixed(1)} MB; first call ${Math.round(first.ms)} ms (${first.built ? 'built' : 'present'}), second ${Math.round(second.ms)} ms`,
    );
  });

  it('runs `protocheck node r2p2-server` in a container under the control protocol', { timeout: 120_000 }, async () => {
    const tag = await ensureNodeImage();
    const runId = newRunId();
    const child = spawn(
      'docker',
      ['run', '--rm', '-i', '--name', `pc-${runId}-server`, ...runLabelArgs(runId), tag,
        'node', 'r2p2-server', '--id', 'server1', '--listen', '0.0.0.0:7000', '--router', '10.0.0.1:7000'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exit = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    try {
      await until(() => stderr.includes('"ready":true') || child.exitCode !== null, 60_000, 'the ready line');
      const ready = stderr.split('\n').find((l) => l.includes('"ready":true'));
      expect(ready, stderr).toBeDefined();
      expect(JSON.parse(ready!)).toMatchObject({ ready: true, node: 'server1', addr: '0.0.0.0:7000' });
      child.stdin.write('{"stop":true}\n');
      expect(await exit).toBe(0);
      expect(stderr).toMatch(/"stopped":true,"node":"server1"/);
      expect(stdout).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const help = await docker(['run', '--rm', ...runLabelArgs(runId), tag, 'node', '--help']);
    expect(help.stdout).toMatch(/usage: protocheck node <role>/);
    const agentHelp = await docker(['run', '--rm', ...runLabelArgs(runId), tag, 'agent', '--help']);
    expect(agentHelp.stdout).toMatch(/usage: protocheck agent/);
  });

  it('reapRun removes a run\'s container and network; listLabelled then shows none', { timeout: 120_000 }, async () => {
    const tag = await ensureNodeImage();
    const runId = newRunId();
    const net = `pc-${runId}`;
    await docker(['network', 'create', ...runLabelArgs(runId), net]);
    await docker(['run', '-d', '-i', '--name', `pc-${runId}-switch`, '--network', net, ...runLabelArgs(runId), tag,
      'switch', '--listen', '0.0.0.0:7000', '--config', '{}']);
    await until(async () => (await listLabelled(runId)).containers.some((c) => c.state === 'running'), 30_000, 'the container to run');
    const before = await listLabelled(runId);
    expect(before.containers.map((c) => c.name)).toEqual([`pc-${runId}-switch`]);
    expect(before.networks.map((n) => n.name)).toEqual([net]);
    expect(before.containers[0]!.runId).toBe(runId);
    const t0 = performance.now();
    // Two reapers at once: each object is removed once, and neither fails on the other's removals.
    const [a, b] = await Promise.all([reapRun(runId), reapRun(runId)]);
    const ms = performance.now() - t0;
    expect(a.containers + b.containers).toBe(1);
    expect(a.networks + b.networks).toBe(1);
    expect([...a.containerNames, ...b.containerNames]).toEqual([`pc-${runId}-switch`]);
    const after = await listLabelled(runId);
    expect(after.containers).toEqual([]);
    expect(after.networks).toEqual([]);
    expect(await reapRun(runId)).toEqual({ containers: 0, networks: 0, containerNames: [], networkNames: [] });
    console.log(`reapRun of 1 running container + 1 network: ${Math.round(ms)} ms`);
  });

  it('reapAll spares recent objects and excepted runs, and removes the rest', { timeout: 120_000 }, async () => {
    const mine = newRunId();
    const spared = newRunId();
    await docker(['network', 'create', ...runLabelArgs(mine), `pc-${mine}`]);
    await docker(['network', 'create', ...runLabelArgs(spared), `pc-${spared}`]);
    // Objects of other runs (other test processes) are excepted, and anything created from now on is
    // younger than olderThanMs when reapAll lists: only this test's `mine` network qualifies.
    await new Promise((r) => setTimeout(r, 1_500));
    const all = await listLabelled();
    const except = [...new Set([...all.networks, ...all.containers].map((x) => x.runId).filter((id): id is string => id !== undefined && id !== mine))];
    expect(except).toContain(spared);
    const r = await reapAll({ olderThanMs: 1_000, exceptRunIds: except });
    expect(r.networkNames).toContain(`pc-${mine}`);
    expect((await listLabelled(mine)).networks).toEqual([]);
    expect((await listLabelled(spared)).networks.map((n) => n.name)).toEqual([`pc-${spared}`]);
    const young = await reapAll({ olderThanMs: 3_600_000, exceptRunIds: except.filter((id) => id !== spared) });
    expect(young.networkNames).not.toContain(`pc-${spared}`);
    expect((await reapRun(spared)).networks).toBe(1);
  });
});

describe('protocheck clean', () => {
  it('with no engine reachable says so and exits 0', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///tmp/protocheck-no-engine-here.sock';
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await clean([])).toBe(0);
      expect(log.mock.calls.map((c) => String(c[0]))).toEqual(['protocheck clean: no Docker engine reachable; nothing to clean']);
    } finally {
      log.mockRestore();
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it('rejects unknown flags with exit 2', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await clean(['--bogus'])).toBe(2);
      expect(String(err.mock.calls[0]?.[0])).toMatch(/protocheck clean: Unknown option '--bogus'/);
    } finally {
      err.mockRestore();
    }
  });
});
