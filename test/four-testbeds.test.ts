/**
 * One R2P2 scenario, four testbeds: the same scenario JSON (generated for a real testbed with a
 * fixed fast-check seed, host faults included) runs on `sim`, `local`, `docker` and `hardware`
 * (agents in containers started with `startCluster`, listed in an inventory file), and every
 * trace passes all three checks: the XState monitor and the property checkers (`runScenario`'s
 * `violations`) and TLC trace validation against the spec.
 *
 * Sim runs the scenario in virtual time, the others on real clocks, so the traces differ in their
 * timings (and in what the faults hit); what is shared is the scenario. The docker and hardware
 * parts need a Docker engine: without one they skip with a reason, unless
 * PROTOCHECK_REQUIRE_DOCKER=1 (CI), where they run and fail.
 */
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { r2p2, type R2p2Scenario } from '../harness/protocols/r2p2/index.ts';
import { runScenario, type RunReport } from '../harness/run/run-scenario.ts';
import { isNetAnnotation } from '../harness/trace/schema.ts';
import type { Testbed } from '../testbeds/testbed.ts';
import { SimTestbed } from '../testbeds/sim/sim.ts';
import { LocalTestbed } from '../testbeds/local/local.ts';
import { AGENT_PORT, DockerTestbed, startCluster, type DockerCluster } from '../testbeds/docker/docker.ts';
import { dockerRequirement } from '../testbeds/docker/engine.ts';
import { reapRun } from '../testbeds/docker/reap.ts';
import { HardwareTestbed } from '../testbeds/hardware/hardware.ts';

/**
 * The first scenario fast-check draws with seed 3771 for a real testbed, with host faults: 1
 * client, 2 servers (JBSQ(2), queue of 2), 7 calls, 1.6 s; server1 crashes and restarts 186 ms
 * later, and is paused later on; server2 is cut off by a partition; client1's link is cut for
 * 157 ms; two links slow down; the network duplicates ~19% of packets.
 */
const SEED = 3771;
const [SCENARIO] = fc.sample(r2p2.scenarios({ testbed: 'local', hostFaults: true }), { seed: SEED, numRuns: 1 }) as R2p2Scenario[];
const SCENARIO_JSON = JSON.stringify(SCENARIO);
const DOCKER_TEST_MS = 180_000;

const req = await dockerRequirement();
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c();
}, 120_000);

/** Runs the scenario on a testbed and applies the three checks; returns the report. */
async function runAndCheck(testbed: Testbed): Promise<RunReport> {
  const t0 = performance.now();
  const report = await runScenario(r2p2, SCENARIO!, testbed);
  const runMs = performance.now() - t0;
  // The very scenario, untouched by the testbed.
  expect(JSON.stringify(report.scenario)).toBe(SCENARIO_JSON);
  expect(report.testbed).toBe(testbed.name);
  // Non-trivial: requests were served and answered.
  const actions = new Set(report.trace.filter((e) => !isNetAnnotation(e)).map((e) => e.action));
  expect([...actions]).toEqual(expect.arrayContaining(['ClientSend', 'RouterDispatch', 'ServerReceiveRequest', 'ServerReply', 'ClientReceiveReply']));
  // The host faults of the scenario happened.
  expect([...actions]).toEqual(expect.arrayContaining(['HostCrash', 'HostRestart', 'HostPause', 'HostResume']));
  expect(report.trace.filter((e) => e.action === 'NetDisconnect' || e.action === 'NetReconnect').map((e) => `${e.node} ${e.action}`))
    .toEqual(['client1 NetDisconnect', 'client1 NetReconnect']);
  // Checks 1 and 2: the XState monitor and the property checkers.
  expect(report.violations, `${testbed.name}: notes ${JSON.stringify(report.notes)}`).toEqual([]);
  // Check 3: TLC trace validation.
  const t1 = performance.now();
  const results = await r2p2.validateTraces!([{ trace: report.trace, addrs: report.addrs, scenario: report.scenario }]);
  const tlcMs = performance.now() - t1;
  expect(results).toHaveLength(1);
  expect(results[0], JSON.stringify(results[0])).toMatchObject({ accepted: true });
  const count = (a: string) => report.trace.filter((e) => e.action === a).length;
  console.log(
    `${testbed.name}: run ${Math.round(runMs)} ms (wall ${Math.round(report.wallMs)} ms), ${report.trace.length} events, ` +
      `${count('ClientSend')} sends, ${count('ClientReceiveReply')} replies, ${count('ClientTimeout')} timeouts; TLC ${Math.round(tlcMs)} ms`,
  );
  return report;
}

describe(`one R2P2 scenario (fast-check seed ${SEED}) on sim, local, docker and hardware`, () => {
  it('the scenario is the fixed one, with host faults', () => {
    expect(SCENARIO).toBeDefined();
    const s = SCENARIO!;
    expect(s.topology).toEqual({ clients: 1, servers: 2, router: { policy: 'jbsq', n: 2, queueCap: 2 } });
    expect(s.workload).toHaveLength(7);
    expect(s.faults.map((f) => f.kind)).toEqual(expect.arrayContaining(['crash', 'restart', 'pause', 'partition', 'disconnect', 'link']));
    // The same seed draws the same scenario.
    expect(JSON.stringify(fc.sample(r2p2.scenarios({ testbed: 'local', hostFaults: true }), { seed: SEED, numRuns: 1 })[0])).toBe(SCENARIO_JSON);
  });

  it('sim', { timeout: 120_000 }, async () => {
    await runAndCheck(new SimTestbed());
  });

  it('local', { timeout: 120_000 }, async () => {
    const tb = new LocalTestbed();
    closers.push(() => tb.close());
    await runAndCheck(tb);
  });

  it('docker', { timeout: DOCKER_TEST_MS }, async (ctx) => {
    if (!req.run) return ctx.skip(req.reason);
    const tb = new DockerTestbed();
    closers.push(() => tb.close());
    await runAndCheck(tb);
  });

  it('hardware (agents in containers, listed in an inventory file)', { timeout: DOCKER_TEST_MS }, async (ctx) => {
    if (!req.run) return ctx.skip(req.reason);
    // A lab: a switch host and two hosts that may run clients and servers, on a random /24 of 10.128.0.0/10.
    let cluster: DockerCluster | undefined;
    let prefix = '';
    for (let attempt = 1; !cluster; attempt++) {
      prefix = `10.${128 + Math.floor(Math.random() * 64)}.${Math.floor(Math.random() * 256)}`;
      try {
        cluster = await startCluster(prefix, [
          { id: 'sw', ip: `${prefix}.2`, roles: ['switch'] },
          { id: 'h1', ip: `${prefix}.10`, roles: ['r2p2-client', 'r2p2-server'] },
          { id: 'h2', ip: `${prefix}.11`, roles: ['r2p2-client', 'r2p2-server'] },
        ]);
      } catch (err) {
        if (attempt >= 5 || !/overlap|in use/i.test((err as Error).message)) throw err;
      }
    }
    const { runId } = cluster;
    closers.push(() => reapRun(runId));
    const dir = await mkdtemp(join(tmpdir(), 'protocheck-four-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const inventory = join(dir, 'lab.json');
    const host = (name: string, ip: number, roles: string[]) =>
      ({ name, agent: `http://${prefix}.${ip}:${AGENT_PORT}`, address: `${prefix}.${ip}`, roles });
    await writeFile(inventory, JSON.stringify({
      secret: cluster.secret,
      hosts: [host('sw', 2, ['switch']), host('h1', 10, ['r2p2-client', 'r2p2-server']), host('h2', 11, ['r2p2-client', 'r2p2-server'])],
      switch: { host: 'sw' },
    }));
    const tb = await HardwareTestbed.fromFile(inventory);
    const report = await runAndCheck(tb);
    // The nodes ran on the lab's hosts: clients and servers spread over h1 and h2, the router in the switch host.
    expect(report.addrs.router).toBe(`${prefix}.2:9000`);
    const hostsUsed = new Set(['client1', 'server1', 'server2'].map((id) => report.addrs[id]!.split(':')[0]));
    expect(hostsUsed).toEqual(new Set([`${prefix}.10`, `${prefix}.11`]));
  });
});
