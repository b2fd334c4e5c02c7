/**
 * `protocheck bench` (what `npm run bench` runs): simulator throughput and the time each seeded
 * bug takes to be found, as medians over several campaign seeds; then, when a Docker engine
 * answers, the docker testbed's costs: the time to bring up a 5-node cluster (a container per
 * node, every agent answering), and the per-run overhead of docker over sim for one scenario.
 * The linearizability checker's speed on generated hard histories, new search against old
 * (`harness/checkers/bench.ts`), comes first; `--linearizability` runs only that.
 * Figures from one run on one machine; compare ratios, not absolute times, across machines.
 */
import fc from 'fast-check';
import { availableParallelism } from 'node:os';
import { EXIT } from '../main.ts';
import { parse, intOption } from '../args.ts';
import { protocols } from '../../protocols/index.ts';
import { runScenario } from '../../run/run-scenario.ts';
import { runCampaign } from '../../run/campaign.ts';
import { createTestbed } from '../../../testbeds/index.ts';
import type { Testbed } from '../../../testbeds/testbed.ts';
import { table } from '../../report/format.ts';
import { R2P2_ROLE_NAMES } from '../../protocols/r2p2/index.ts';

const HELP = `usage: protocheck bench [--scenarios N] [--seeds K] [--max-runs M] [--docker-reps R] [--no-docker]
                       [--linearizability] [--lin-reps R] [--lin-large] [--tlc-runs T] [--trace-validation]

The linearizability checker on generated hard histories (50 clients, pending operations, planted
violations): verdicts, steps/s and time, against the previous search in the same run (median of
R runs, default 3). --lin-large adds a history of 22 million configurations, past a Map's 2^24
(new search only; about a minute of CPU and 1.2 GB). --linearizability: only these figures.

Simulator throughput over N generated scenarios per protocol (default 300), then for every seeded
bug the campaign runs and wall time until the bug is found, median over K seeds (default 5),
giving up after M runs (default 1000).

TLC trace validation: the time to validate one steady HovercRaft++ trace against its length
(several lengths: the time per 1,000 events shows whether it is linear), then per protocol a
campaign of T runs (default 100) without TLC and the same campaign with TLC on every trace, side
by side: wall times and their ratio, and the TLC batch with 1 worker and with one per core.
--trace-validation: only these figures.

Docker (when an engine answers \`docker info\`; --no-docker skips it): the time to bring up a
5-node cluster until every agent answers, and one fixed scenario per protocol run R times on sim
and on docker (default 3): the wall-time ratio docker/sim and the docker run's breakdown, medians.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, {
    scenarios: { type: 'string' }, seeds: { type: 'string' }, 'max-runs': { type: 'string' },
    'docker-reps': { type: 'string' }, 'no-docker': { type: 'boolean' }, help: { type: 'boolean' },
    'tlc-runs': { type: 'string' }, 'trace-validation': { type: 'boolean' },
    linearizability: { type: 'boolean' }, 'lin-reps': { type: 'string' }, 'lin-large': { type: 'boolean' },
  });
  if (values.help) return console.log(HELP), EXIT.ok;
  if (values['trace-validation']) {
    const sim = await createTestbed('sim');
    await benchTraceValidation(sim, intOption(values['tlc-runs'], 'tlc-runs', 100));
    await sim.close?.();
    return EXIT.ok;
  }
  const { benchLinearizability } = await import('../../checkers/bench.ts');
  benchLinearizability({ reps: intOption(values['lin-reps'], 'lin-reps', 3), large: values['lin-large'] ?? false });
  if (values.linearizability) return EXIT.ok;
  const n = intOption(values.scenarios, 'scenarios', 300);
  const seeds = intOption(values.seeds, 'seeds', 5);
  const maxRuns = intOption(values['max-runs'], 'max-runs', 1000);
  const dockerReps = Math.max(1, intOption(values['docker-reps'], 'docker-reps', 3));
  const sim = await createTestbed('sim');

  const throughput: string[][] = [];
  for (const protocol of Object.values(protocols)) {
    const scenarios = fc.sample(protocol.scenarios({ testbed: 'sim', hostFaults: true }), { numRuns: n, seed: 42 });
    let packets = 0;
    let events = 0;
    let traceEvents = 0;
    const t0 = performance.now();
    for (const s of scenarios) {
      const r = await runScenario(protocol, s, sim);
      packets += r.stats?.packets ?? 0;
      events += r.stats?.events ?? 0;
      traceEvents += r.trace.length;
    }
    const secs = (performance.now() - t0) / 1000;
    throughput.push([
      protocol.name, String(n), (n / secs).toFixed(0), (packets / secs).toFixed(0), (events / secs).toFixed(0), (traceEvents / secs).toFixed(0),
    ]);
  }
  console.log('Simulator throughput (runs include the monitors and property checkers):');
  console.log(table(['protocol', 'scenarios', 'scenarios/s', 'packets/s', 'sim events/s', 'trace events/s'], throughput));

  const detect: string[][] = [];
  for (const protocol of Object.values(protocols)) {
    for (const bug of protocol.bugs) {
      const runsToFind: number[] = [];
      const msToFind: number[] = [];
      let missed = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const r = await runCampaign({ protocol, testbed: sim, runs: maxRuns, seed, bugs: [bug.name], maxShrinkRuns: 0 });
        if (r.failure) {
          runsToFind.push(r.runs);
          msToFind.push(r.wallMs);
        } else {
          missed++;
        }
      }
      detect.push([
        protocol.name, bug.name,
        runsToFind.length ? String(median(runsToFind)) : '-',
        msToFind.length ? median(msToFind).toFixed(0) : '-',
        `${seeds - missed}/${seeds}`,
      ]);
    }
  }
  console.log(`\nTime to detect each seeded bug on sim (median over ${seeds} seeds, no shrinking, at most ${maxRuns} runs):`);
  console.log(table(['protocol', 'bug', 'runs', 'ms', 'found'], detect));

  await benchTraceValidation(sim, intOption(values['tlc-runs'], 'tlc-runs', 100));

  await benchHovercraft(sim);

  let code: number = EXIT.ok;
  if (values['no-docker']) {
    console.log('\nDocker figures skipped: --no-docker.');
  } else {
    code = await benchDocker(sim, dockerReps);
  }
  await sim.close?.();
  return code;
}

// ------------------------------------------------------------------------------------------------
// TLC trace validation: time against trace length, and a campaign's cost with TLC on every trace

async function benchTraceValidation(sim: Testbed, runs: number): Promise<void> {
  const { steadyScenario } = await import('../../protocols/hovercraft/bench.ts');
  const { validateHovercraftTraces } = await import('../../protocols/hovercraft/trace-validation.ts');
  const { hovercraft } = await import('../../protocols/hovercraft/index.ts');
  const rows: string[][] = [];
  for (const duration of [1_200, 2_400, 4_800, 9_600]) {
    const s = steadyScenario({ nodes: 3, mode: 'hovercraft++', replierPolicy: 'jbsq', clients: 3, ops: 5_000, duration, delay: 10 });
    const r = await runScenario(hovercraft, s, sim);
    const t0 = performance.now();
    const [v] = await validateHovercraftTraces([{ trace: r.trace, addrs: r.addrs, scenario: s }]);
    const ms = performance.now() - t0;
    rows.push([String(r.trace.length), v?.accepted ? 'accepted' : `rejected (${v?.message ?? ''})`, ms.toFixed(0), (ms / r.trace.length * 1000).toFixed(0)]);
  }
  console.log('\nTLC trace validation of one steady HovercRaft++ trace (3 nodes, 3 closed-loop clients), by length (TLC start included):');
  console.log(table(['events', 'verdict', 'ms', 'ms per 1000 events'], rows));

  const costs: string[][] = [];
  for (const protocol of Object.values(protocols)) {
    const seed = 7;
    const without = await runCampaign({ protocol, testbed: sim, runs, seed, tlcSample: 0 });
    const timed = async (workers: string) => {
      const before = process.env['PROTOCHECK_TLC_WORKERS'];
      process.env['PROTOCHECK_TLC_WORKERS'] = workers;
      try {
        return await runCampaign({ protocol, testbed: sim, runs, seed, tlcSample: 1 });
      } finally {
        if (before === undefined) delete process.env['PROTOCHECK_TLC_WORKERS'];
        else process.env['PROTOCHECK_TLC_WORKERS'] = before;
      }
    };
    const one = await timed('1');
    const all = await timed(String(availableParallelism()));
    const rejected = (c: typeof one) => `${c.tlcViolations.length}${c.inconclusive ? ` (${c.inconclusive})` : ''}`;
    costs.push([
      protocol.name, String(runs), String(all.tlcValidated), rejected(all), without.wallMs.toFixed(0),
      one.wallMs.toFixed(0), (one.wallMs / without.wallMs).toFixed(2),
      all.wallMs.toFixed(0), (all.wallMs / without.wallMs).toFixed(2),
    ]);
  }
  console.log(`\nA campaign with TLC on every trace against the same campaign without (sim, seed 7, ${runs} runs; ${availableParallelism()} cores):`);
  console.log(table(['protocol', 'runs', 'validated', 'rejected', 'no TLC ms', 'TLC 1 worker ms', 'ratio', `TLC ${availableParallelism()} workers ms`, 'ratio'], costs));
}

// ------------------------------------------------------------------------------------------------
// HovercRaft: Table 12.1 and reply load balancing

async function benchHovercraft(sim: Testbed): Promise<void> {
  const { leaderCounts, table121, closedLoopThroughput } = await import('../../protocols/hovercraft/bench.ts');
  const rows: string[][] = [];
  for (const n of [3, 5, 7]) {
    for (const mode of ['raft', 'hovercraft', 'hovercraft++'] as const) {
      const c = await leaderCounts(sim, n, mode);
      const want = table121(mode, n);
      rows.push([
        String(n), mode, String(c.committed), `${c.rx.toFixed(3)} / ${want.rx.toFixed(3)}`,
        `${(c.txAppend + c.txReplies).toFixed(3)} / ${want.tx.toFixed(3)}`, c.txAppend.toFixed(3), c.txReplies.toFixed(3),
        c.txFeedback.toFixed(3), String(c.elections), String(c.violations),
      ]);
    }
  }
  console.log('\nHovercRaft: leader messages per committed request, steady state on sim (N closed-loop clients; measured / Table 12.1):');
  console.log(table(['N', 'mode', 'committed', 'Rx', 'Tx', 'Tx append', 'Tx replies', 'FEEDBACK (not in 12.1)', 'elections', 'violations'], rows));

  // Reply load balancing against replies from the leader only, same scenario (1000-byte values).
  const jbsq = await leaderCounts(sim, 3, 'hovercraft', 'jbsq', 1000);
  const lead = await leaderCounts(sim, 3, 'hovercraft', 'leader', 1000);
  const local = await createTestbed('local');
  try {
    const tj = await closedLoopThroughput(local, 'jbsq', 3_000_000, 1000);
    const tl = await closedLoopThroughput(local, 'leader', 3_000_000, 1000);
    console.log('\nHovercRaft reply load balancing (3 nodes, 6 closed-loop clients, put/get of 1000-byte values):');
    console.log(table(['measure', 'JBSQ repliers', 'leader replies', 'ratio'], [
      ['leader egress bytes per request (sim)', jbsq.txBytes.toFixed(0), lead.txBytes.toFixed(0), (lead.txBytes / jbsq.txBytes).toFixed(2)],
      ['leader replies per request (sim)', jbsq.txReplies.toFixed(3), lead.txReplies.toFixed(3), (lead.txReplies / jbsq.txReplies).toFixed(2)],
      [`completed ops/s (local, ${tj.violations + tl.violations} violations)`, tj.opsPerSec.toFixed(0), tl.opsPerSec.toFixed(0), (tj.opsPerSec / tl.opsPerSec).toFixed(2)],
    ]));
    console.log('(On one 2-core machine every process shares the same CPUs and loopback, so offloading replies from the leader\n' +
      'frees no capacity of its own there: the byte figures show the I/O the leader sheds, the ops/s ratio what that buys here.)');
  } finally {
    await local.close?.();
  }
}

// ------------------------------------------------------------------------------------------------
// Docker

/** Figures of the docker testbed; one line saying why when they cannot be measured. */
async function benchDocker(sim: Testbed, reps: number): Promise<number> {
  const { engineAvailable } = await import('../../../testbeds/docker/engine.ts');
  if (!(await engineAvailable())) {
    console.log('\nDocker figures skipped: no Docker engine answers `docker info` (start one with `bash ci/docker-engine.sh`).');
    return EXIT.ok;
  }
  try {
    await benchClusterUp(reps);
    await benchDockerVsSim(sim, reps);
    return EXIT.ok;
  } catch (err) {
    console.log(`\nDocker figures failed: ${(err as Error).message}`);
    return EXIT.inconclusive;
  }
}

/** (a) A 5-node cluster (switch + 2 clients + 2 servers): up until every agent answers `info()`, then torn down. */
async function benchClusterUp(reps: number): Promise<void> {
  const { DockerTestbed, startCluster, SWITCH_PORT } = await import('../../../testbeds/docker/docker.ts');
  const { ensureNodeImageInfo } = await import('../../../testbeds/docker/image.ts');
  const { reapOrphans, reapRun } = await import('../../../testbeds/docker/reap.ts');
  await reapOrphans();
  // The image is built (or found) once up front, so the figures below are a warm start.
  const image = await ensureNodeImageInfo();
  const tb = new DockerTestbed();
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < reps; i++) {
    const addrs = tb.assignAddresses([
      { id: 'switch', placement: 'switch', port: SWITCH_PORT },
      { id: 'client1', placement: 'host', port: 7000 }, { id: 'client2', placement: 'host', port: 7000 },
      { id: 'server1', placement: 'host', port: 8000 }, { id: 'server2', placement: 'host', port: 8000 },
    ]);
    const ip = (id: string): string => addrs[id]!.slice(0, addrs[id]!.lastIndexOf(':'));
    const prefix = ip('switch').split('.').slice(0, 3).join('.');
    const t0 = performance.now();
    const cluster = await startCluster(prefix, [
      { id: 'switch', ip: ip('switch'), roles: ['switch'] },
      { id: 'client1', ip: ip('client1'), roles: [R2P2_ROLE_NAMES.client] },
      { id: 'client2', ip: ip('client2'), roles: [R2P2_ROLE_NAMES.client] },
      { id: 'server1', ip: ip('server1'), roles: [R2P2_ROLE_NAMES.server] },
      { id: 'server2', ip: ip('server2'), roles: [R2P2_ROLE_NAMES.server] },
    ]);
    try {
      await Promise.all([...cluster.agents.values()].map((a) => a.info()));
      up.push(performance.now() - t0);
    } finally {
      const t1 = performance.now();
      await reapRun(cluster.runId);
      down.push(performance.now() - t1);
    }
  }
  console.log(`\nDocker cluster bring-up (5 containers: switch, 2 clients, 2 servers; median of ${reps}; image ${image.tag} ` +
    `${image.built ? 'built' : 'present'}, checked in ${image.ms.toFixed(0)} ms):`);
  console.log(table(['containers', 'up until every agent answers (ms)', 'teardown (ms)', 'up, each run (ms)'], [
    ['5', median(up).toFixed(0), median(down).toFixed(0), up.map((x) => x.toFixed(0)).join(', ')],
  ]));
}

/** (b) One fixed scenario per protocol (generated for docker, seed 7), `reps` times on sim and on docker. */
async function benchDockerVsSim(sim: Testbed, reps: number): Promise<void> {
  const docker = await createTestbed('docker');
  const rows: string[][] = [];
  const breakdown: string[][] = [];
  try {
    for (const protocol of Object.values(protocols)) {
      const [scenario] = fc.sample(protocol.scenarios({ testbed: 'docker', hostFaults: true }), { numRuns: 1, seed: 7 });
      const simMs: number[] = [];
      const dockerMs: number[] = [];
      const parts: Record<'clusterUpMs' | 'startupMs' | 'runMs' | 'teardownMs', number[]> = { clusterUpMs: [], startupMs: [], runMs: [], teardownMs: [] };
      let violations = 0;
      for (let i = 0; i < reps; i++) {
        let t0 = performance.now();
        const s = await runScenario(protocol, scenario!, sim);
        simMs.push(performance.now() - t0);
        t0 = performance.now();
        const d = await runScenario(protocol, scenario!, docker);
        dockerMs.push(performance.now() - t0);
        violations += s.violations.length + d.violations.length;
        const st = d.stats as { clusterUpMs?: number; startupMs?: number; teardownMs?: number } | undefined;
        parts.clusterUpMs.push(st?.clusterUpMs ?? NaN);
        parts.startupMs.push(st?.startupMs ?? NaN);
        parts.teardownMs.push(st?.teardownMs ?? NaN);
        // The docker testbed's wallMs covers bring-up and teardown too: "run" is what lies between.
        parts.runMs.push(d.wallMs - (st?.clusterUpMs ?? 0) - (st?.teardownMs ?? 0));
      }
      rows.push([
        protocol.name, `${(scenario!.duration / 1e6).toFixed(2)} s`, median(simMs).toFixed(1), median(dockerMs).toFixed(0),
        `${(median(dockerMs) / median(simMs)).toFixed(0)}x`, String(violations),
      ]);
      breakdown.push([
        protocol.name, median(parts.clusterUpMs).toFixed(0), median(parts.startupMs).toFixed(0), median(parts.runMs).toFixed(0),
        median(parts.teardownMs).toFixed(0), median(dockerMs).toFixed(0),
      ]);
    }
  } finally {
    await docker.close?.();
  }
  console.log(`\nPer-run overhead of docker over sim (one scenario generated for docker, seed 7; wall time of a whole run ` +
    `with its checks, median of ${reps}; docker/sim is the ratio of the medians):`);
  console.log(table(['protocol', 'scenario', 'sim ms', 'docker ms', 'docker/sim', 'violations'], rows));
  console.log('\nDocker run breakdown (median ms; "run": process start-up + scenario + stop, between bring-up and teardown):');
  console.log(table(['protocol', 'clusterUp', 'startup (in run)', 'run', 'teardown', 'total'], breakdown));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
