/**
 * R2P2 on the docker testbed, end to end against the real engine: a container per host node and
 * one for the switch (which runs the JBSQ router program), on a fresh labelled network per run.
 *
 * - generated scenarios (fixed seed) pass the online monitor and the property checkers, their
 *   traces are non-trivial, keep causality across containers (every send is stamped before its
 *   receipt: the containers' time lines agree), and TLC trace validation accepts them;
 * - a crash + restart of one server and a pause (`docker pause`) of another show up as HostCrash,
 *   HostRestart, HostPause, HostResume, the checks pass, and the run leaves no container or network;
 * - seeded bugs (router-exceeds-bound, server-replies-twice, client-accepts-wrong-rid,
 *   reassembly-loses-reordered-packet) are caught on docker by the checks their `caughtBy` lists,
 *   within a few runs.
 *
 * Without an engine the tests skip with a reason, unless PROTOCHECK_REQUIRE_DOCKER=1 (CI), where
 * they run and fail. Each docker run takes a few seconds (cluster up, run, teardown).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_PAYLOAD, REQ0_PAYLOAD, r2p2, r2p2Timing, type R2p2Scenario } from '../../harness/protocols/r2p2/index.ts';
import { runScenario, type RunReport } from '../../harness/run/run-scenario.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import { docker } from './cli.ts';
import { DockerTestbed } from './docker.ts';
import { dockerRequirement } from './engine.ts';
import { listLabelled, OWNER_LABEL, type Labelled } from './reap.ts';

const req = await dockerRequirement();
if (!req.run) console.log(`testbeds/docker/docker.test.ts skipped: ${req.reason}`);

const RUN_TIMEOUT = 180_000;

function describeFailure(r: RunReport): string {
  const vs = r.violations.slice(0, 5);
  return JSON.stringify({
    scenario: r.scenario,
    violations: vs,
    events: vs.flatMap((v) => (v.events ?? []).slice(0, 4).map((i) => ({ i, ...r.trace[i] }))),
    notes: r.notes.slice(0, 10),
  }, null, 1);
}

const actionsOf = (trace: readonly TraceEvent[], node: string): string[] => trace.filter((e) => e.node === node).map((e) => e.action);

/**
 * The scenario with its calls packed together (1 ms apart) right after the servers have joined
 * (their start-up quiet period is leaveAfter + heartbeat), each served for at least 20 ms: requests
 * queue at the router and every server is held at the bound. The real-testbed form of sim.test.ts's
 * `loaded()` (whose µs offsets would all fall into the quiet period here).
 */
function loaded(s: R2p2Scenario): R2p2Scenario {
  const t = r2p2Timing(s);
  const start = t.leaveAfterUs + 3 * t.heartbeatUs;
  return {
    ...s,
    workload: s.workload.map((w, k) => ({ ...w, at: start + k * 1_000, command: { ...w.command, serviceUs: Math.max(w.command.serviceUs, 20_000) } })),
  };
}

/** Objects labelled `protocheck=1` whose owner is this process. */
async function mine(): Promise<Labelled> {
  const l = await listLabelled();
  return {
    containers: l.containers.filter((c) => c.owner === process.pid),
    networks: l.networks.filter((n) => n.owner === process.pid),
  };
}

/**
 * Where the merged trace stamps a receipt before the send it answers (DESIGN: "a send precedes its
 * receipt in the merged trace"), across nodes: ClientSend → RouterEnqueue/RouterDrop, RouterDispatch
 * → the server's ServerAck/ServerReceiveRequest, ServerAck → ClientReceiveAck, ServerReply →
 * ClientReceiveReply and → RouterFeedback. Compares the earliest send with the earliest receipt
 * of each request (duplicates and resends only add later events).
 */
function causalityBreaks(trace: readonly TraceEvent[], addrs: Readonly<Record<string, string>>): string[] {
  const idOf = new Map(Object.entries(addrs).map(([id, a]) => [a, id]));
  const sends = new Map<string, TraceEvent>();
  const receipts = new Map<string, TraceEvent>();
  const first = (m: Map<string, TraceEvent>, k: string, e: TraceEvent): void => {
    const cur = m.get(k);
    if (!cur || e.t < cur.t) m.set(k, e);
  };
  const node = (a: unknown): string => idOf.get(String(a)) ?? String(a);
  for (const e of trace) {
    const f = e as TraceEvent & Record<string, unknown>;
    switch (e.action) {
      case 'ClientSend': first(sends, `req ${e.node} ${f.rid}`, e); break;
      case 'RouterEnqueue': case 'RouterDrop': first(receipts, `req ${node(f.client)} ${f.rid}`, e); break;
      case 'RouterDispatch': first(sends, `fwd ${node(f.server)} ${node(f.client)} ${f.rid}`, e); break;
      case 'ServerAck':
        first(receipts, `fwd ${e.node} ${node(f.client)} ${f.rid}`, e);
        first(sends, `ack ${node(f.client)} ${e.node} ${f.rid}`, e);
        break;
      case 'ServerReceiveRequest': first(receipts, `fwd ${e.node} ${node(f.client)} ${f.rid}`, e); break;
      case 'ClientReceiveAck': first(receipts, `ack ${e.node} ${node(f.server)} ${f.rid}`, e); break;
      case 'ServerReply':
        first(sends, `reply ${node(f.client)} ${e.node} ${f.rid}`, e);
        first(sends, `fb ${e.node} ${node(f.client)} ${f.rid}`, e);
        break;
      case 'ClientReceiveReply': first(receipts, `reply ${e.node} ${node(f.server)} ${f.replyRid}`, e); break;
      case 'RouterFeedback': first(receipts, `fb ${node(f.server)} ${node(f.client)} ${f.rid}`, e); break;
    }
  }
  const out: string[] = [];
  for (const [k, r] of receipts) {
    const s = sends.get(k);
    if (s && r.t < s.t) out.push(`${k}: ${r.action} at ${r.node} t=${r.t} precedes ${s.action} at ${s.node} t=${s.t} by ${(s.t - r.t).toFixed(0)} µs`);
  }
  return out;
}

describe.skipIf(!req.run)('r2p2 on the docker testbed', () => {
  const tb = new DockerTestbed();
  afterAll(() => tb.close());

  // The generated runs, shared by the three tests below (each asserts one thing about them).
  const generated: RunReport[] = [];

  it('3 generated scenarios: no monitor or property violation, non-trivial traces', { timeout: RUN_TIMEOUT }, async () => {
    const scenarios = fc.sample(r2p2.scenarios({ testbed: 'docker' }), { seed: 11, numRuns: 3 });
    let calls = 0;
    let replies = 0;
    for (const s of scenarios) {
      const r = await runScenario(r2p2, s, tb);
      generated.push(r);
      expect(r.testbed).toBe('docker');
      expect(r.violations, describeFailure(r)).toEqual([]);
      // every node has events: each client that was given calls sent them, every server announced
      // itself, the router took servers in and queued requests
      const callers = new Set(s.workload.map((w) => w.node));
      for (const c of callers) expect(actionsOf(r.trace, c), `${c}: ${describeFailure(r)}`).toContain('ClientSend');
      for (let i = 1; i <= s.topology.servers; i++) expect(actionsOf(r.trace, `server${i}`), describeFailure(r)).toContain('ServerAnnounce');
      expect(actionsOf(r.trace, 'router'), describeFailure(r)).toEqual(expect.arrayContaining(['RouterServerJoin', 'RouterEnqueue']));
      expect(r.trace.every((e, i) => i === 0 || r.trace[i - 1]!.t <= e.t)).toBe(true);
      expect(r.stats?.packets ?? 0).toBeGreaterThan(0);
      calls += s.workload.length;
      replies += r.trace.filter((e) => e.action === 'ClientReceiveReply').length;
      const st = r.stats as { clusterUpMs?: number; startupMs?: number; teardownMs?: number } | undefined;
      console.log(
        `docker run (${s.topology.clients} clients, ${s.topology.servers} servers, ${s.workload.length} calls, ${s.faults.length} faults, ` +
          `${(s.duration / 1e6).toFixed(2)} s): wall ${Math.round(r.wallMs)} ms (cluster up ${Math.round(st?.clusterUpMs ?? NaN)}, ` +
          `start-up ${Math.round(st?.startupMs ?? NaN)}, teardown ${Math.round(st?.teardownMs ?? NaN)}), ${r.trace.length} events; notes ${JSON.stringify(r.notes)}`,
      );
    }
    expect(replies, `${replies} replies to ${calls} calls`).toBeGreaterThan(calls / 2);
  });

  // Every container reads the same CLOCK_MONOTONIC (one kernel), so any receipt stamped before its
  // send comes from the origins the harness hands each process, not from the clocks themselves.
  it('the merged traces keep causality across containers: every send precedes its receipt', () => {
    expect(generated).toHaveLength(3);
    const breaks = generated.map((r) => causalityBreaks(r.trace, r.addrs));
    expect(breaks, JSON.stringify(breaks, null, 1)).toEqual([[], [], []]);
  });

  it('TLC trace validation accepts the traces of the generated runs', { timeout: RUN_TIMEOUT }, async () => {
    expect(generated).toHaveLength(3);
    const t0 = performance.now();
    const results = await r2p2.validateTraces!(generated.map((r) => ({ trace: r.trace, addrs: r.addrs, scenario: r.scenario })));
    expect(results).toHaveLength(generated.length);
    results.forEach((res, i) => expect(res, `trace ${i}: ${res.message ?? ''}`).toMatchObject({ accepted: true }));
    console.log(`TLC trace validation of ${generated.length} docker traces: ${Math.round(performance.now() - t0)} ms`);
  });

  it('a server crash + restart and a pause of another server: annotated, checks pass, nothing left behind', { timeout: RUN_TIMEOUT }, async () => {
    const call = { kind: 'call', size: 100, serviceUs: 1_000, replySize: 50 } as const;
    const s: R2p2Scenario = {
      protocol: 'r2p2', seed: 7,
      topology: { clients: 1, servers: 2, router: { policy: 'jbsq', n: 2, queueCap: 8 } },
      workload: [150_000, 200_000, 260_000, 420_000, 470_000, 750_000].map((at) => ({ at, node: 'client1', command: call })),
      faults: [
        { at: 250_000, kind: 'crash', node: 'server2' },
        { at: 400_000, kind: 'pause', node: 'server1', duration: 300_000 },
        { at: 550_000, kind: 'restart', node: 'server2' },
      ],
      network: { delay: 1_000, jitter: 500, loss: 0, duplicate: 0 }, bugs: [],
      duration: 1_200_000,
    };
    // While the run is on, the objects it created (this process owns them) are listed once.
    let during: Promise<Labelled> | undefined;
    const r = await runScenario(r2p2, s, {
      name: tb.name,
      assignAddresses: (n) => tb.assignAddresses(n),
      run: (plan, observe) => tb.run(plan, (e) => {
        during ??= mine();
        observe?.(e);
      }),
    });
    const t = r.trace;
    expect(r.violations, describeFailure(r)).toEqual([]);
    expect(causalityBreaks(t, r.addrs)).toEqual([]);
    expect(actionsOf(t, 'client1').filter((a) => a === 'ClientSend')).toHaveLength(6);
    expect(actionsOf(t, 'client1')).toContain('ClientReceiveReply');
    expect(actionsOf(t, 'server1')).toEqual(expect.arrayContaining(['ServerAnnounce', 'ServerReceiveRequest', 'ServerReply', 'HostPause', 'HostResume']));
    expect(actionsOf(t, 'server2')).toEqual(expect.arrayContaining(['ServerAnnounce', 'HostCrash', 'HostRestart']));
    // server2 is silent between its crash and its restart, and announces itself after it
    const crash = t.find((e) => e.node === 'server2' && e.action === 'HostCrash')!;
    const restart = t.find((e) => e.node === 'server2' && e.action === 'HostRestart')!;
    expect(crash.t).toBeGreaterThanOrEqual(250_000);
    expect(restart.t).toBeGreaterThanOrEqual(550_000);
    expect(t.filter((e) => e.node === 'server2' && e.t > crash.t && e.t < restart.t)).toEqual([]);
    expect(t.some((e) => e.node === 'server2' && e.action === 'ServerAnnounce' && e.t > restart.t)).toBe(true);
    // server1 is frozen between its pause and its resume: HostPause is stamped once `docker pause`
    // has landed (tens of ms after the scheduled 400 ms), so nothing of server1 lies between the two.
    const pause = t.find((e) => e.node === 'server1' && e.action === 'HostPause')!;
    const resume = t.find((e) => e.node === 'server1' && e.action === 'HostResume')!;
    expect(pause.t).toBeGreaterThanOrEqual(400_000);
    expect(resume.t).toBeGreaterThanOrEqual(700_000);
    expect(resume.t - pause.t).toBeGreaterThan(150_000);
    const whilePaused = t.filter((e) => e.node === 'server1' && e.t > pause.t && e.t < resume.t);
    expect(whilePaused, JSON.stringify(whilePaused)).toEqual([]);
    expect(t.some((e) => e.node === 'server1' && e.action === 'ServerAnnounce' && e.t > resume.t)).toBe(true);

    // the run's own objects existed while it ran, and are gone after it
    const seen = await during!;
    expect(seen.containers.length).toBe(4); // switch, client1, server1, server2
    expect(seen.networks.length).toBe(2); // the data network and the agents' control network
    const runId = seen.networks[0]!.runId!;
    expect(seen.networks.every((n) => n.runId === runId)).toBe(true);
    expect(seen.containers.every((c) => c.runId === runId)).toBe(true);
    expect(await listLabelled(runId)).toEqual({ containers: [], networks: [] });
    expect(await mine()).toEqual({ containers: [], networks: [] });
    const ps = await docker(['ps', '-a', '-q', '--filter', 'label=protocheck=1', '--filter', `label=${OWNER_LABEL}=${process.pid}`]);
    const nets = await docker(['network', 'ls', '-q', '--filter', 'label=protocheck=1', '--filter', `label=${OWNER_LABEL}=${process.pid}`]);
    expect(ps.stdout.trim()).toBe('');
    expect(nets.stdout.trim()).toBe('');
    const st = r.stats as { clusterUpMs?: number; startupMs?: number; teardownMs?: number } | undefined;
    console.log(
      `docker fault run: wall ${Math.round(r.wallMs)} ms (cluster up ${Math.round(st?.clusterUpMs ?? NaN)}, start-up ${Math.round(st?.startupMs ?? NaN)}, ` +
        `teardown ${Math.round(st?.teardownMs ?? NaN)}), ${t.length} events; crash late ${Math.round(crash.t - 250_000)} µs, ` +
        `restart late ${Math.round(restart.t - 550_000)} µs, pause late ${Math.round(pause.t - 400_000)} µs, ` +
        `server1 events after its HostPause: ${whilePaused.map((e) => `${e.action}+${Math.round(e.t - pause.t)}µs`).join(', ') || 'none'}; ` +
        `notes ${JSON.stringify(r.notes)}`,
    );
  });

  /**
   * Each bug with the conditions that make it show (as sim.test.ts's `conditions`): loaded servers
   * for all; for the wrong-rid client, later calls served faster (replies come back out of order);
   * for reassembly, a request of 3+ REQn packets and jitter far above the client's packet spacing.
   */
  describe('seeded bugs are caught on docker', () => {
    const MAX_RUNS = 4;
    const CANDIDATE_SEED = 31;
    // several calls at once, so that every server is at the router's bound and requests wait
    const busy = (s: R2p2Scenario): boolean => s.workload.length > s.topology.router.n * s.topology.servers;
    const conditions: Record<string, { keep: (s: R2p2Scenario) => boolean; make: (s: R2p2Scenario) => R2p2Scenario }> = {
      'router-exceeds-bound': { keep: busy, make: loaded },
      'server-replies-twice': { keep: busy, make: loaded },
      'client-accepts-wrong-rid': {
        keep: (s) => busy(s) && s.topology.router.n * s.topology.servers >= 2 && s.workload.filter((w) => w.node === 'client1').length >= 2,
        make: (s) => {
          const l = loaded(s);
          const k = l.workload.length;
          return { ...l, workload: l.workload.map((w, i) => ({ ...w, command: { ...w.command, serviceUs: 20_000 + (k - i) * 10_000 } })) };
        },
      },
      'reassembly-loses-reordered-packet': {
        keep: (s) => busy(s) && s.workload.some((w) => w.command.size >= REQ0_PAYLOAD + 3 * MAX_PAYLOAD),
        make: (s) => {
          const l = loaded(s);
          return { ...l, network: { ...l.network, jitter: Math.max(l.network.jitter, 2_000) } };
        },
      },
    };
    for (const [name, cond] of Object.entries(conditions)) {
      const bug = r2p2.bugs.find((b) => b.name === name)!;
      // The online checks of a run (TLC validates a campaign's traces afterwards; sim.test.ts
      // shows TLC rejecting each bug's trace).
      const online = bug.caughtBy.filter((c) => c !== 'tlc');
      it(`${name} is caught by ${online.join(', ')} within ${MAX_RUNS} runs`, { timeout: RUN_TIMEOUT }, async () => {
        const candidates = fc.sample(r2p2.scenarios({ testbed: 'docker', bugs: [name] }), { seed: CANDIDATE_SEED, numRuns: 300 }).filter(cond.keep);
        expect(candidates.length).toBeGreaterThanOrEqual(MAX_RUNS);
        const fired = new Map<string, number>();
        let runs = 0;
        for (const base of candidates.slice(0, MAX_RUNS)) {
          const r = await runScenario(r2p2, cond.make(base), tb);
          runs++;
          expect(r.scenario.bugs).toEqual([name]);
          for (const c of new Set(r.violations.map((v) => v.check))) fired.set(c, (fired.get(c) ?? 0) + 1);
          if (online.every((c) => fired.has(c))) break;
        }
        console.log(`docker: ${name} after ${runs} run(s): ${JSON.stringify(Object.fromEntries(fired))}`);
        expect(Object.fromEntries(fired), `after ${runs} runs`).toEqual(
          expect.objectContaining(Object.fromEntries(online.map((c) => [c, expect.any(Number)]))));
      });
    }
  });
});
