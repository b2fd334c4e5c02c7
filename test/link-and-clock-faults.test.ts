/**
 * A cut link and a clock step, on sim, local and docker: the same R2P2 scenario, where server1's
 * link is cut for 400 ms and server2's clock steps 300 ms back before it crashes and restarts.
 *
 * - sim drops the cut host's packets at its link; local has the switch process drop them; docker
 *   disconnects the container from the run's data network (its agent stays reachable on the
 *   control network, so the run goes on and the link is mended).
 * - The clock step reaches the restarted server too (the clock is the host's), so its start time
 *   is earlier than its first incarnation's: the server's epoch, kept in stable storage, must still
 *   make the router open a new account for it.
 *
 * Every trace passes the monitor, the property checkers and TLC trace validation. The docker part
 * needs a Docker engine: without one it skips with a reason, unless PROTOCHECK_REQUIRE_DOCKER=1.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { r2p2, type R2p2Scenario } from '../harness/protocols/r2p2/index.ts';
import { runScenario } from '../harness/run/run-scenario.ts';
import type { TraceEvent } from '../harness/trace/schema.ts';
import { DockerTestbed } from '../testbeds/docker/docker.ts';
import { dockerRequirement } from '../testbeds/docker/engine.ts';
import { LocalTestbed } from '../testbeds/local/local.ts';
import { SimTestbed } from '../testbeds/sim/sim.ts';
import type { Testbed } from '../testbeds/testbed.ts';

const call = { kind: 'call', size: 100, serviceUs: 1_000, replySize: 50 } as const;
const CUT_AT = 300_000;
const CUT_FOR = 400_000;
const SCENARIO: R2p2Scenario = {
  protocol: 'r2p2', seed: 11,
  topology: { clients: 1, servers: 2, router: { policy: 'jbsq', n: 2, queueCap: 8 } },
  workload: Array.from({ length: 12 }, (_, i) => ({ at: 150_000 + i * 90_000, node: 'client1', command: call })),
  faults: [
    { at: CUT_AT, kind: 'disconnect', node: 'server1', duration: CUT_FOR },
    { at: 200_000, kind: 'clock', node: 'server2', offsetUs: -300_000 },
    { at: 450_000, kind: 'crash', node: 'server2' },
    { at: 600_000, kind: 'restart', node: 'server2' },
  ],
  network: { delay: 1_000, jitter: 500, loss: 0, duplicate: 0 }, bugs: [],
  duration: 1_500_000,
};

const req = await dockerRequirement();
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
}, 120_000);

async function runAndCheck(tb: Testbed): Promise<void> {
  const report = await runScenario(r2p2, SCENARIO, tb);
  const t = report.trace;
  const s1 = report.addrs.server1!;
  const s2 = report.addrs.server2!;
  expect(report.violations, JSON.stringify(report.notes)).toEqual([]);
  const [tlc] = await r2p2.validateTraces!([{ trace: t, addrs: report.addrs, scenario: SCENARIO }]);
  expect(tlc, JSON.stringify(tlc)).toMatchObject({ accepted: true });

  // The cut: annotated once it has landed, and mended.
  const at = (node: string, action: string): TraceEvent => {
    const e = t.find((x) => x.node === node && x.action === action);
    expect(e, `${node} ${action}`).toBeDefined();
    return e!;
  };
  const cut = at('server1', 'NetDisconnect');
  const mend = at('server1', 'NetReconnect');
  expect(cut.t).toBeGreaterThanOrEqual(CUT_AT);
  expect(mend.t).toBeGreaterThanOrEqual(CUT_AT + CUT_FOR);
  // Nothing reaches server1 while cut, and nothing of it reaches the router (beyond what was on
  // the wire when the cut landed: 5 ms covers the link's delay and jitter). The cut ends when the
  // reconnect is asked for: the link may work before NetReconnect is stamped (docker network
  // connect returns tens of ms after the container is back on the network).
  const mendAsked = Math.min(mend.t, CUT_AT + CUT_FOR);
  const between = (e: TraceEvent, from: number, to: number) => e.t > from && e.t < to;
  expect(t.filter((e) => e.node === 'server1' && e.action === 'ServerReceiveRequest' && between(e, cut.t, mendAsked))).toEqual([]);
  const fromServer1 = (e: TraceEvent) => (e.action === 'RouterFeedback' || e.action === 'RouterServerJoin') && e.server === s1;
  expect(t.filter((e) => fromServer1(e) && between(e, cut.t + 5_000, mendAsked))).toEqual([]);
  // The router dropped the silent server and takes it back (the same account) once its link is mended.
  expect(t.some((e) => e.action === 'RouterServerLeave' && e.server === s1 && e.t > CUT_AT)).toBe(true);
  expect(t.filter((e) => e.action === 'RouterServerJoin' && e.server === s1 && e.t > mendAsked).map((e) => e.fresh)).toEqual([false]);

  // The clock step, then the restart of server2 with its clock behind its first start.
  expect(at('server2', 'HostClock')).toMatchObject({ offsetUs: -300_000 });
  const restart = at('server2', 'HostRestart');
  const joins = t.filter((e) => e.action === 'RouterServerJoin' && e.server === s2);
  expect(joins.filter((e) => e.t > restart.t).map((e) => e.fresh)).toEqual([true]);
  expect(t.filter((e) => e.action === 'ClientReceiveReply').length).toBeGreaterThanOrEqual(6);
}

describe('a cut link and a clock step on sim, local and docker', () => {
  it('sim', async () => {
    await runAndCheck(new SimTestbed());
  });

  it('local', { timeout: 120_000 }, async () => {
    const tb = new LocalTestbed();
    closers.push(() => tb.close());
    await runAndCheck(tb);
  });

  it('docker (the container leaves the data network; its agent stays reachable)', { timeout: 180_000 }, async (ctx) => {
    if (!req.run) return ctx.skip(req.reason);
    const tb = new DockerTestbed();
    closers.push(() => tb.close());
    await runAndCheck(tb);
  });
});
