/**
 * Clean-up after a harness that is SIGKILLed mid-run (it cannot remove its containers itself):
 *
 * 1. a harness process (`protocheck fuzz r2p2 --testbed docker`) is SIGKILLed once containers
 *    labelled `protocheck=1` and owned by its pid (`protocheck.owner=<pid>`) run;
 * 2. its containers and network are left behind (the leak the label scheme exists for);
 * 3. the next harness run (a DockerTestbed run in this process, which reaps orphans first) leaves
 *    no container and no network with that owner label.
 *
 * The harness runs under `sigkill-parent.mjs`, which this test SIGSTOPs before the kill: the dead
 * harness stays an unreaped zombie whose pid still looks alive, so that the docker tests running
 * in parallel (each of their runs reaps orphans too) cannot remove the leak before it is observed.
 *
 * Without an engine the test skips with a reason, unless PROTOCHECK_REQUIRE_DOCKER=1 (CI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { R2p2Scenario } from '../../harness/protocols/r2p2/index.ts';
import { r2p2 } from '../../harness/protocols/r2p2/index.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import { docker } from './cli.ts';
import { DockerTestbed } from './docker.ts';
import { dockerRequirement } from './engine.ts';
import { LABEL, OWNER_LABEL, listLabelled, pidAlive, reapRun, type Labelled } from './reap.ts';

const req = await dockerRequirement();
if (!req.run) console.log(`testbeds/docker/cleanup.test.ts skipped: ${req.reason}`);

const ROOT = resolve(import.meta.dirname, '..', '..');
const PARENT = resolve(import.meta.dirname, 'sigkill-parent.mjs');

async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string, every = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Objects labelled `protocheck=1` whose owner label is `pid`. */
async function ownedBy(pid: number): Promise<Labelled> {
  const l = await listLabelled();
  return { containers: l.containers.filter((c) => c.owner === pid), networks: l.networks.filter((n) => n.owner === pid) };
}

/** `docker ps -a` and `docker network ls` ids filtered by the owner label, straight from the CLI. */
async function cliOwnedBy(pid: number): Promise<{ containers: string[]; networks: string[] }> {
  const filters = ['--filter', `label=${LABEL}=1`, '--filter', `label=${OWNER_LABEL}=${pid}`];
  const [c, n] = await Promise.all([docker(['ps', '-a', '-q', ...filters]), docker(['network', 'ls', '-q', ...filters])]);
  const ids = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);
  return { containers: ids(c.stdout), networks: ids(n.stdout) };
}

/** The fd-3 report lines of `sigkill-parent.mjs`. */
function reports(stream: Readable): { next: () => Promise<Record<string, unknown>> } {
  const lines: Record<string, unknown>[] = [];
  const waiters: ((v: Record<string, unknown>) => void)[] = [];
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  return { next: () => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r))) };
}

describe.skipIf(!req.run)('docker clean-up after a SIGKILLed harness', () => {
  it('the objects of a SIGKILLed harness are left behind, and the next run removes them all', { timeout: 300_000 }, async () => {
    const replayDir = await mkdtemp(join(tmpdir(), 'protocheck-cleanup-test-'));
    const parent: ChildProcess = spawn(
      process.execPath,
      [PARENT, resolve(ROOT, 'bin', 'protocheck.mjs'), 'fuzz', 'r2p2', '--testbed', 'docker', '--runs', '5', '--seed', '1', '--tlc-sample', '0', '--out', replayDir],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    parent.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    parent.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    const parentExit = new Promise<void>((r) => parent.once('exit', () => r()));
    const fd3 = reports(parent.stdio[3] as Readable);
    let harness: number | undefined;
    let stopped = false;
    try {
      const first = await fd3.next();
      expect(first, output).toHaveProperty('pid');
      harness = first.pid as number;

      // 1. its cluster is up: containers owned by its pid, all running
      const t0 = performance.now();
      const up = await until(async () => {
        if (!pidAlive(harness!)) throw new Error(`the harness exited before it had containers:\n${output}`);
        const o = await ownedBy(harness!);
        return o.containers.length >= 2 && o.containers.every((c) => c.state === 'running') ? o : undefined;
      }, 240_000, `containers owned by pid ${harness}`);
      const seenMs = performance.now() - t0;

      // SIGSTOP the parent first: the killed harness then stays a zombie (its pid looks alive to
      // every reaper) until the leak has been observed.
      expect(parent.kill('SIGSTOP')).toBe(true);
      stopped = true;
      process.kill(harness, 'SIGKILL');

      // 2. the leak: everything it had is still there. Wait until the listing is stable (a docker
      // call the harness had in flight may still land), then compare with the CLI's view.
      let previous = '';
      const leaked = await until(async () => {
        await new Promise((r) => setTimeout(r, 1_000));
        const o = await ownedBy(harness!);
        const key = JSON.stringify([o.containers.map((c) => c.id).sort(), o.networks.map((n) => n.id).sort()]);
        const stable = key === previous;
        previous = key;
        return stable ? o : undefined;
      }, 60_000, 'a stable listing of the leaked objects', 0);
      expect(leaked.containers.length, output).toBeGreaterThanOrEqual(up.containers.length);
      for (const c of up.containers) expect(leaked.containers.map((x) => x.id)).toContain(c.id);
      expect(leaked.networks.length).toBeGreaterThanOrEqual(1);
      const cli = await cliOwnedBy(harness);
      expect(cli.containers).toHaveLength(leaked.containers.length);
      expect(cli.networks).toHaveLength(leaked.networks.length);

      // the harness is gone (reaped once its parent runs again), killed by SIGKILL
      expect(parent.kill('SIGCONT')).toBe(true);
      stopped = false;
      expect(await fd3.next()).toEqual({ exit: null, signal: 'SIGKILL' });
      await parentExit;
      expect(pidAlive(harness)).toBe(false);

      // 3. the next run: a tiny scenario on a fresh DockerTestbed, which reaps orphans before it runs
      const tb = new DockerTestbed();
      const s: R2p2Scenario = {
        protocol: 'r2p2', seed: 3,
        topology: { clients: 1, servers: 1, router: { policy: 'jbsq', n: 1, queueCap: 4 } },
        workload: [{ at: 200_000, node: 'client1', command: { kind: 'call', size: 64, serviceUs: 500, replySize: 32 } }],
        faults: [], network: { delay: 1_000, jitter: 0, loss: 0, duplicate: 0 }, bugs: [], duration: 600_000,
      };
      try {
        const r = await runScenario(r2p2, s, tb);
        expect(r.violations).toEqual([]);
        expect(r.trace.some((e) => e.action === 'ClientReceiveReply')).toBe(true);
      } finally {
        await tb.close();
      }
      expect(await cliOwnedBy(harness)).toEqual({ containers: [], networks: [] });
      expect(await ownedBy(harness)).toEqual({ containers: [], networks: [] });
      console.log(
        `SIGKILLed harness pid ${harness} once its containers ran (${Math.round(seenMs)} ms after it started); ` +
          `leaked ${leaked.containers.length} containers (${leaked.containers.map((c) => c.state).join(', ')}) and ` +
          `${leaked.networks.length} network(s); none left after the next run`,
      );
    } finally {
      if (stopped) parent.kill('SIGCONT');
      if (harness !== undefined && pidAlive(harness)) process.kill(harness, 'SIGKILL');
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
      // Whatever a failed attempt left: this harness's runs only.
      if (harness !== undefined) {
        const left = await ownedBy(harness).catch(() => undefined);
        for (const id of new Set([...(left?.containers ?? []), ...(left?.networks ?? [])].map((x) => x.runId))) {
          if (id !== undefined) await reapRun(id).catch(() => {});
        }
      }
      await rm(replayDir, { recursive: true, force: true });
    }
  });
});
