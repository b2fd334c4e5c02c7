/**
 * The `hardware` testbed and `protocheck conform` against stand-in labs:
 *
 * - Docker (skipped with a reason when no engine answers, unless PROTOCHECK_REQUIRE_DOCKER=1):
 *   containers started with `startCluster`, each running `protocheck agent`, on a fresh network
 *   (a random /24 in 10.128.0.0/10). An inventory file lists them; `conform` runs in-process.
 *   Full R2P2 conformance run, an agent refusing a wrong secret, unreachable hosts.
 * - No Docker needed: agents started in this process with `startAgent` on 127.x.y.z addresses
 *   (each spawns local `protocheck node` processes), one of them with a clock 5 s ahead: the
 *   harness's clock offset correction.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkAgents, run as conform } from '../../harness/cli/commands/conform.ts';
import { r2p2, type R2p2Scenario } from '../../harness/protocols/r2p2/index.ts';
import { runScenario } from '../../harness/run/run-scenario.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import { AgentLauncher } from '../agent/launcher.ts';
import { startAgent, type AgentServer } from '../agent/server.ts';
import { AGENT_PORT, startCluster, type ClusterNode, type DockerCluster } from '../docker/docker.ts';
import { dockerRequirement } from '../docker/engine.ts';
import { reapRun } from '../docker/reap.ts';
import { HardwareTestbed } from './hardware.ts';
import { parseInventory } from './inventory.ts';

const DOCKER_TEST_MS = 180_000;
const SECRET_ENV = 'PROTOCHECK_TEST_LAB_SECRET';

const tmpDirs: string[] = [];
async function tmp(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Runs `conform` in-process with console.log captured; returns its exit code, output and report. */
async function runConform(inventory: string, out: string, extra: string[] = []) {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' ')));
  let exit: number;
  try {
    exit = await conform(['r2p2', '--inventory', inventory, '--out', out, ...extra]);
  } finally {
    log.mockRestore();
  }
  const files = await readdir(out);
  const md = files.find((f) => /^conform-r2p2-.*\.md$/.test(f));
  const json = files.find((f) => /^conform-r2p2-.*\.json$/.test(f));
  expect(md, `report files in ${out}: ${files.join(', ')}`).toBeDefined();
  expect(json).toBeDefined();
  return {
    exit,
    console: lines.join('\n'),
    md: await readFile(join(out, md!), 'utf8'),
    json: JSON.parse(await readFile(join(out, json!), 'utf8')) as {
      exit: number;
      agents: { host: string; agent: string; ok: boolean; clockOffsetMs?: number; rttMs?: number; error?: string }[];
      campaign?: { runs: number; passedRuns: number; tlcValidated: number; violations: unknown[]; inconclusive: string | null };
    },
  };
}

// ------------------------------------------------------------------------------------------
// A lab of containers
// ------------------------------------------------------------------------------------------

const req = await dockerRequirement();
const clusters: DockerCluster[] = [];

/** A cluster on a random /24 of 10.128.0.0/10 (another prefix when the pool overlaps a live network). */
async function startLab(nodes: (ip: (host: number) => string) => ClusterNode[]): Promise<{ cluster: DockerCluster; prefix: string }> {
  for (let attempt = 1; ; attempt++) {
    const prefix = `10.${128 + Math.floor(Math.random() * 64)}.${Math.floor(Math.random() * 256)}`;
    try {
      const cluster = await startCluster(prefix, nodes((h) => `${prefix}.${h}`));
      clusters.push(cluster);
      return { cluster, prefix };
    } catch (err) {
      if (attempt >= 5 || !/overlap|in use/i.test((err as Error).message)) throw err;
    }
  }
}

describe('hardware testbed on a lab of containers (conform)', () => {
  let prefix = '';
  let cluster: DockerCluster | undefined;
  const agentUrl = (host: number) => `http://${prefix}.${host}:${AGENT_PORT}`;
  /** The inventory of the container lab (switch on .2, two hosts for clients and servers). */
  const labHosts = () => [
    { name: 'sw', agent: agentUrl(2), address: `${prefix}.2`, roles: ['switch'] },
    { name: 'h1', agent: agentUrl(10), address: `${prefix}.10`, roles: ['r2p2-client', 'r2p2-server'] },
    { name: 'h2', agent: agentUrl(11), address: `${prefix}.11`, roles: ['r2p2-client', 'r2p2-server'] },
  ];

  beforeAll(async () => {
    if (!req.run) return;
    const t0 = performance.now();
    const lab = await startLab((ip) => [
      { id: 'sw', ip: ip(2), roles: ['switch'] },
      { id: 'h1', ip: ip(10), roles: ['r2p2-client', 'r2p2-server'] },
      { id: 'h2', ip: ip(11), roles: ['r2p2-client', 'r2p2-server'] },
    ]);
    cluster = lab.cluster;
    prefix = lab.prefix;
    process.env[SECRET_ENV] = cluster.secret;
    console.log(`container lab ${prefix}.0/24 up in ${Math.round(performance.now() - t0)} ms`);
  }, 300_000);

  afterAll(async () => {
    delete process.env[SECRET_ENV];
    for (const c of clusters.splice(0)) await reapRun(c.runId);
  }, 120_000);

  beforeEach((ctx) => {
    if (!req.run) ctx.skip(req.reason);
  });

  it('a full R2P2 conformance run through an inventory file passes, with every agent\'s clock offset', { timeout: DOCKER_TEST_MS }, async () => {
    const dir = await tmp('protocheck-conform-');
    const inventory = join(dir, 'lab.json');
    await writeFile(inventory, JSON.stringify({ secretEnv: SECRET_ENV, hosts: labHosts(), switch: { host: 'sw' } }, null, 2));
    const out = join(dir, 'out');
    const t0 = performance.now();
    const r = await runConform(inventory, out, ['--runs', '3', '--seed', '7']);
    const ms = performance.now() - t0;
    expect(r.exit, `${r.console}\n${r.md}`).toBe(0);
    expect(r.md).toContain('Result: PASSED');
    expect(r.md).toContain('Runs: 3, passed: 3, violations: 0, traces validated by TLC: 3');
    expect(r.json.exit).toBe(0);
    expect(r.json.campaign).toMatchObject({ runs: 3, passedRuns: 3, tlcValidated: 3, violations: [], inconclusive: null });
    // Every agent answered and has a measured clock offset (the containers share the machine's
    // clock: the offsets are the estimate's error, within ± rtt / 2).
    expect(r.json.agents.map((a) => a.host)).toEqual(['sw', 'h1', 'h2']);
    for (const a of r.json.agents) {
      expect(a.ok, JSON.stringify(a)).toBe(true);
      expect(Number.isFinite(a.clockOffsetMs) && Number.isFinite(a.rttMs)).toBe(true);
      expect(Math.abs(a.clockOffsetMs!)).toBeLessThanOrEqual(a.rttMs! / 2 + 0.5);
      expect(r.md).toContain(`| ${a.host} | ${a.agent} | ok | ${a.clockOffsetMs!.toFixed(3)} | ${a.rttMs!.toFixed(3)} |`);
      expect(r.console).toContain(`${a.host} (${a.agent}): ok, clock offset ${a.clockOffsetMs!.toFixed(3)} ms`);
    }
    console.log(`conform r2p2, 3 runs on the container lab: ${Math.round(ms)} ms; offsets ${r.json.agents.map((a) => `${a.host} ${a.clockOffsetMs!.toFixed(3)} ms (rtt ${a.rttMs!.toFixed(3)})`).join(', ')}`);
  });

  it('agents refuse a wrong secret: every host is reported "refused the secret (401)" and no scenario runs (exit 2)', { timeout: DOCKER_TEST_MS }, async () => {
    const dir = await tmp('protocheck-conform-');
    const inventory = join(dir, 'lab.json');
    await writeFile(inventory, JSON.stringify({ secret: 'not-the-secret', hosts: labHosts(), switch: { host: 'sw' } }));
    const checks = await checkAgents(parseInventory(JSON.parse(await readFile(inventory, 'utf8'))));
    expect(checks.map((c) => [c.host, c.ok, c.error])).toEqual(
      labHosts().map((h) => [h.name, false, `agent at ${h.agent} refused the secret (401)`]),
    );
    const r = await runConform(inventory, join(dir, 'out'), ['--runs', '3', '--seed', '7']);
    expect(r.exit).toBe(2);
    expect(r.console).toContain('conform: some agents failed the check; no scenario was run');
    expect(r.md).toContain('Result: INCONCLUSIVE');
    for (const h of labHosts()) expect(r.md).toContain(`| ${h.name} | ${h.agent} | error: agent at ${h.agent} refused the secret (401) |`);
    expect(r.json.campaign).toBeUndefined();
    expect(r.json.agents.every((a) => !a.ok && a.error!.includes('refused the secret (401)'))).toBe(true);
  });

  it('unreachable hosts (no container at an address, no agent on a port): conform names them and exits 2', { timeout: DOCKER_TEST_MS }, async () => {
    const dir = await tmp('protocheck-conform-');
    const inventory = join(dir, 'lab.json');
    const ghost = { name: 'ghost', agent: agentUrl(99), address: `${prefix}.99`, roles: ['r2p2-server'] }; // no container there
    const deaf = { name: 'deaf', agent: `http://${prefix}.2:${AGENT_PORT + 1}`, address: `${prefix}.2`, roles: ['r2p2-client'] }; // nothing listens
    await writeFile(inventory, JSON.stringify({ secretEnv: SECRET_ENV, hosts: [...labHosts().slice(0, 2), ghost, deaf], switch: { host: 'sw' } }));
    const r = await runConform(inventory, join(dir, 'out'), ['--runs', '3', '--seed', '7']);
    expect(r.exit).toBe(2);
    expect(r.json.campaign).toBeUndefined();
    expect(r.md).toContain('Result: INCONCLUSIVE');
    const byHost = Object.fromEntries(r.json.agents.map((a) => [a.host, a]));
    expect(byHost.sw!.ok && byHost.h1!.ok).toBe(true);
    expect(byHost.ghost).toMatchObject({ ok: false, error: expect.stringMatching(new RegExp(`^agent at ${ghost.agent} is unreachable: E`)) });
    expect(byHost.deaf).toMatchObject({ ok: false, error: `agent at ${deaf.agent} is unreachable: ECONNREFUSED` });
    for (const h of [ghost, deaf]) {
      expect(r.md).toMatch(new RegExp(`\\| ${h.name} \\| ${h.agent} \\| error: agent at ${h.agent} is unreachable: `));
      expect(r.console).toContain(`${h.name} (${h.agent}): ERROR: agent at ${h.agent} is unreachable`);
    }
    console.log(`unreachable hosts: ${byHost.ghost!.error}; ${byHost.deaf!.error}`);
  });
});

// ------------------------------------------------------------------------------------------
// Clock offset correction (agents in this process; no Docker)
// ------------------------------------------------------------------------------------------

describe('hardware testbed: clock offset correction', () => {
  const SKEW_MS = 5_000;
  const SECRET = 'skew-test-secret';
  const agents: AgentServer[] = [];
  afterAll(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A free loopback /24 for this file's run: 127.x.y.0 (the whole of 127/8 is loopback on Linux). */
  const net = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 256)}`;
  const call = { kind: 'call', size: 100, serviceUs: 1_000, replySize: 50 } as const;
  /**
   * One client, two servers (both on the skewed host), six calls. The link delay (3 ms, no jitter)
   * is larger than the error of the offset estimate (within ± rtt / 2: up to ~1 ms here, with the
   * harness and the three agents in one event loop), so cross-host causality shows in the timestamps.
   */
  const scenario: R2p2Scenario = {
    protocol: 'r2p2', seed: 11,
    topology: { clients: 1, servers: 2, router: { policy: 'jbsq', n: 2, queueCap: 8 } },
    workload: [200_000, 260_000, 320_000, 400_000, 500_000, 600_000].map((at) => ({ at, node: 'client1', command: call })),
    faults: [], network: { delay: 3_000, jitter: 0, loss: 0, duplicate: 0 }, bugs: [],
    duration: 1_200_000,
  };

  let testbed: HardwareTestbed;
  let skewedUrl = '';
  beforeAll(async () => {
    const start = (host: number, allowedRoles: string[], clockSkewNs = 0n) =>
      startAgent({ host: `${net}.${host}`, port: 0, secret: SECRET, allowedRoles, clockSkewNs }).then((a) => (agents.push(a), a));
    const [sw, h1, h2] = await Promise.all([
      start(2, ['switch']),
      start(10, ['r2p2-client']),
      start(11, ['r2p2-server'], BigInt(SKEW_MS) * 1_000_000n),
    ]);
    skewedUrl = h2.url;
    testbed = new HardwareTestbed(parseInventory({
      secret: SECRET,
      hosts: [
        { name: 'sw', agent: sw.url, address: `${net}.2`, roles: ['switch'] },
        { name: 'h1', agent: h1.url, address: `${net}.10`, roles: ['r2p2-client'] },
        { name: 'h2-skewed', agent: h2.url, address: `${net}.11`, roles: ['r2p2-server'] },
      ],
      switch: { host: 'sw' },
    }));
  });

  it('conform\'s agent check measures the skewed host ~5000 ms ahead and the others ~0', async () => {
    const checks = await checkAgents(testbed.inventory);
    const off = Object.fromEntries(checks.map((c) => [c.host, c]));
    expect(checks.every((c) => c.ok), JSON.stringify(checks)).toBe(true);
    expect(Math.abs(off['h2-skewed']!.clockOffsetMs! - SKEW_MS)).toBeLessThan(5);
    expect(Math.abs(off.sw!.clockOffsetMs!)).toBeLessThan(5);
    expect(Math.abs(off.h1!.clockOffsetMs!)).toBeLessThan(5);
  });

  it('with the measured offsets, a run across a skewed host passes every check and its trace is in causal order', { timeout: 120_000 }, async () => {
    const offsets = vi.spyOn(AgentLauncher.prototype, 'offsetsByUrl'); // what the run measured
    const t0 = performance.now();
    const report = await runScenario(r2p2, scenario, testbed);
    const ms = performance.now() - t0;
    const t = report.trace;
    const addrs = report.addrs;
    expect(report.violations).toEqual([]);
    const [tlc] = await r2p2.validateTraces!([{ trace: t, addrs, scenario }]);
    expect(tlc, JSON.stringify(tlc)).toMatchObject({ accepted: true });

    // The servers ran on the skewed host; their events lie inside the run, like everyone else's.
    expect(addrs.server1!.startsWith(`${net}.11:`) && addrs.server2!.startsWith(`${net}.11:`)).toBe(true);
    expect(t.every((e, i) => i === 0 || t[i - 1]!.t <= e.t)).toBe(true);
    expect(t.every((e) => e.t >= 0 && e.t <= scenario.duration + 50_000)).toBe(true);

    // Every reply in causal order across the three hosts:
    // ClientSend (h1) < RouterDispatch (sw) < ServerReceiveRequest < ServerReply (skewed h2) < ClientReceiveReply (h1).
    const client = addrs.client1!;
    const one = (pred: (e: TraceEvent) => boolean, what: string): TraceEvent => {
      const found = t.filter(pred);
      expect(found.length, what).toBeGreaterThanOrEqual(1);
      return found[0]!;
    };
    const replies = t.filter((e) => e.action === 'ClientReceiveReply');
    expect(replies).toHaveLength(6);
    for (const r of replies) {
      const rid = r.rid;
      const send = one((e) => e.action === 'ClientSend' && e.rid === rid, `ClientSend ${rid}`);
      const dispatch = one((e) => e.action === 'RouterDispatch' && e.client === client && e.rid === rid, `RouterDispatch ${rid}`);
      const recv = one((e) => e.action === 'ServerReceiveRequest' && e.client === client && e.rid === rid, `ServerReceiveRequest ${rid}`);
      const reply = one((e) => e.action === 'ServerReply' && e.client === client && e.rid === rid, `ServerReply ${rid}`);
      const order = [send, dispatch, recv, reply, r].map((e) => e.t);
      expect(order, `rid ${rid}: ${order.map(Math.round).join(' < ')}`).toEqual([...order].sort((a, b) => a - b));
    }
    // The router's events and the skewed host's interleave through the run (announces, feedback).
    const seq = t.filter((e) => e.node === 'router' || e.node.startsWith('server')).map((e) => (e.node === 'router' ? 'r' : 's')).join('');
    expect(seq.match(/rs|sr/g)!.length).toBeGreaterThan(20);

    expect(offsets).toHaveBeenCalledTimes(1);
    const measured = offsets.mock.results[0]!.value as Record<string, number>;
    expect(Math.abs(measured[skewedUrl]! - SKEW_MS)).toBeLessThan(5);
    console.log(`skewed-host run: ${Math.round(ms)} ms, ${t.length} events; measured offsets ${JSON.stringify(measured)}`);
  });

  it('without the correction (offsets forced to 0) the skewed host is 5 s off: its processes think the run is over', { timeout: 120_000 }, async () => {
    // The least machinery that shows the correction is what makes the run work: the same run, with
    // the launcher handing every process the harness's origin unconverted. The skewed processes then
    // read the origin as 5 s in their past: past the end of the run at once, they never start their
    // cores, so the servers never announce and every call times out.
    vi.spyOn(AgentLauncher.prototype, 'clockOffsetNs').mockReturnValue(0n);
    const report = await runScenario(r2p2, scenario, testbed);
    const t = report.trace;
    const actions = (pred: (e: TraceEvent) => boolean) => t.filter(pred).map((e) => e.action);
    expect(actions((e) => e.node.startsWith('server'))).toEqual([]);
    expect(actions((e) => e.action === 'ClientReceiveReply')).toEqual([]);
    expect(actions((e) => e.action === 'ClientTimeout')).toHaveLength(6);
    expect(actions((e) => e.action === 'RouterServerJoin')).toEqual([]);
    // The checks alone do not notice (a call that times out is allowed): a wrong offset silently
    // turns a run into one that tests nothing of the skewed host, which is why the harness measures it.
    expect(report.violations).toEqual([]);
  });
});
