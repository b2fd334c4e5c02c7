/**
 * HovercRaft on real processes: the same scenario on `local` and `docker`, with the faults the
 * protocol must survive: a node crash and restart (its term, vote and log come back from its state
 * file), a follower pause, multicast copies lost to one node (it recovers the bodies), and the
 * aggregator failing and coming back. Every trace passes the monitor and every property checker; a
 * seeded bug is caught on docker as well. The docker part needs a Docker engine: without one it
 * skips with a reason, unless PROTOCHECK_REQUIRE_DOCKER=1 (CI).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { runScenario, type RunReport } from '../../run/run-scenario.ts';
import { DockerTestbed } from '../../../testbeds/docker/docker.ts';
import { dockerRequirement } from '../../../testbeds/docker/engine.ts';
import { LocalTestbed } from '../../../testbeds/local/local.ts';
import type { Testbed } from '../../../testbeds/testbed.ts';
import { hovercraft, type HovercraftScenario } from './index.ts';

const ops = ['put', 'get', 'cas', 'put', 'get', 'put', 'get', 'cas', 'put', 'get', 'put', 'get'] as const;

function scenario(mode: HovercraftScenario['topology']['mode'], bugs: string[] = []): HovercraftScenario {
  return {
    protocol: 'hovercraft', seed: 5,
    topology: { nodes: 3, clients: 2, mode, replierPolicy: 'jbsq', bound: 2, threshold: 8 },
    workload: ops.map((op, i) => ({
      at: 400_000 + i * 180_000, node: `client${(i % 2) + 1}`,
      command: op === 'get' ? { op, key: 'x' } : op === 'put' ? { op, key: 'x', value: `v${i}` } : { op, key: 'x', expected: `v${i - 2}`, value: `w${i}` },
    })),
    faults: [
      { at: 900_000, kind: 'crash', node: 'node2' },
      { at: 1_300_000, kind: 'restart', node: 'node2' },
      { at: 1_600_000, kind: 'pause', node: 'node3', duration: 200_000 },
      { at: 2_000_000, kind: 'link', from: 'client1', to: 'node3', link: { delay: 1_000, jitter: 500, loss: 1, duplicate: 0 } },
      { at: 2_500_000, kind: 'link', from: 'client1', to: 'node3', link: { delay: 1_000, jitter: 500, loss: 0, duplicate: 0 } },
      { at: 2_600_000, kind: 'crash', node: 'aggregator' },
      { at: 2_900_000, kind: 'restart', node: 'aggregator' },
    ],
    network: { delay: 1_000, jitter: 500, loss: 0, duplicate: 0 }, bugs,
    duration: 3_600_000,
  };
}

const req = await dockerRequirement();
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
}, 120_000);

async function runAndCheck(tb: Testbed, mode: HovercraftScenario['topology']['mode']): Promise<RunReport> {
  const r = await runScenario(hovercraft, scenario(mode), tb);
  const c = (a: string) => r.trace.filter((e) => e.action === a).length;
  console.log(`${tb.name} ${mode}: ${r.trace.length} events, ${c('ClientReceiveReply')} replies, ${c('ClientTimeout')} timeouts, ` +
    `${c('BecomeLeader')} elections, ${c('HandleRecoveryReply')} recovered bodies, notes ${JSON.stringify(r.notes.slice(0, 5))}`);
  expect(r.violations, JSON.stringify(r.notes)).toEqual([]);
  expect(c('ClientReceiveReply')).toBeGreaterThanOrEqual(8);
  // node2 came back with what it had persisted.
  const restart = r.trace.find((e) => e.node === 'node2' && e.action === 'NodeStart' && e.t >= 1_300_000);
  expect(restart, 'node2 restarted').toBeDefined();
  expect((restart!.log as unknown[]).length).toBeGreaterThan(1);
  expect(restart!.term as number).toBeGreaterThanOrEqual(1);
  return r;
}

describe('hovercraft on local and docker', () => {
  const local = new LocalTestbed();
  closers.push(() => local.close());

  it('local, hovercraft++: crash and restart from the state file, pause, multicast loss, aggregator failure', { timeout: 120_000 }, async () => {
    const r = await runAndCheck(local, 'hovercraft++');
    expect(r.trace.some((e) => e.action === 'AggCommit')).toBe(true);
  });

  it('local, raft', { timeout: 120_000 }, async () => {
    await runAndCheck(local, 'raft');
  });

  it('docker, hovercraft', { timeout: 240_000 }, async (ctx) => {
    if (!req.run) return ctx.skip(req.reason);
    const tb = new DockerTestbed();
    closers.push(() => tb.close());
    await runAndCheck(tb, 'hovercraft');
  });

  it('docker catches stale-read-by-non-replier', { timeout: 240_000 }, async (ctx) => {
    if (!req.run) return ctx.skip(req.reason);
    const tb = new DockerTestbed();
    closers.push(() => tb.close());
    const r = await runScenario(hovercraft, scenario('hovercraft', ['stale-read-by-non-replier']), tb);
    expect(r.violations.map((v) => v.check)).toEqual(expect.arrayContaining(['one-reply', 'monitor']));
  });
});
