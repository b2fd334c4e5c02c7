/**
 * LocalTestbed runs with real processes and sockets: the R2P2 roles (client1, server1, server2 on
 * hosts, the JBSQ router as a switch program), host faults (crash + restart, pause) and packet
 * faults at the switch.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { r2p2, type R2p2Scenario } from '../../harness/protocols/r2p2/index.ts';
import { planRun, runScenario } from '../../harness/run/run-scenario.ts';
import { isNetAnnotation, type TraceEvent } from '../../harness/trace/schema.ts';
import { LocalTestbed } from './local.ts';
import { liveChildren } from './reaper.ts';

const call = { kind: 'call', size: 100, serviceUs: 1_000, replySize: 50 } as const;
const tb = new LocalTestbed();
afterAll(() => tb.close());

function scenario(over: Partial<R2p2Scenario>): R2p2Scenario {
  return {
    protocol: 'r2p2', seed: 7,
    topology: { clients: 1, servers: 2, router: { policy: 'jbsq', n: 2, queueCap: 8 } },
    workload: [], faults: [], network: { delay: 1_000, jitter: 500, loss: 0, duplicate: 0 }, bugs: [],
    duration: 1_200_000,
    ...over,
  };
}

function sortedByT(trace: readonly TraceEvent[]): boolean {
  return trace.every((e, i) => i === 0 || trace[i - 1]!.t <= e.t);
}

describe('LocalTestbed', () => {
  it('assigns distinct loopback addresses with a per-run port', () => {
    const nodes = [
      { id: 'client1', placement: 'host' as const, port: 7000 },
      { id: 'server1', placement: 'host' as const, port: 8000 },
      { id: 'router', placement: 'switch' as const, port: 9000 },
    ];
    const a = tb.assignAddresses(nodes);
    const b = tb.assignAddresses(nodes);
    expect(a.client1).toMatch(/^127\.0\.0\.10:\d+$/);
    expect(a.server1).toMatch(/^127\.0\.0\.11:\d+$/);
    expect(a.router).toMatch(/^127\.0\.0\.3:\d+$/);
    expect(a.client1!.split(':')[1]).not.toBe(b.client1!.split(':')[1]);
  });

  it('runs R2P2 across processes with a crash + restart and a pause; merged trace from every node', async () => {
    const s = scenario({
      workload: [150_000, 200_000, 260_000, 420_000, 470_000, 750_000].map((at) => ({ at, node: 'client1', command: call })),
      faults: [
        { at: 250_000, kind: 'crash', node: 'server2' },
        { at: 550_000, kind: 'restart', node: 'server2' },
        { at: 400_000, kind: 'pause', node: 'server1', duration: 150_000 },
      ],
    });
    const observed: TraceEvent[] = [];
    const plan = planRun(r2p2, s, tb);
    const out = await tb.run(plan, (e) => observed.push(e));
    const t = out.trace;
    const byNode = (n: string) => t.filter((e) => e.node === n).map((e) => e.action);
    expect(sortedByT(t)).toBe(true);
    expect(byNode('client1').filter((a) => a === 'ClientSend')).toHaveLength(6);
    expect(byNode('client1')).toContain('ClientReceiveReply');
    expect(byNode('server1')).toEqual(expect.arrayContaining(['ServerAnnounce', 'ServerReceiveRequest', 'ServerReply', 'HostPause', 'HostResume']));
    expect(byNode('server2')).toEqual(expect.arrayContaining(['ServerAnnounce', 'HostCrash', 'HostRestart']));
    expect(byNode('router')).toEqual(expect.arrayContaining(['RouterServerJoin', 'RouterEnqueue', 'RouterDispatch', 'RouterFeedback']));
    // server2 is silent between its crash and its restart, and announces itself after it
    const crash = t.find((e) => e.node === 'server2' && e.action === 'HostCrash')!;
    const restart = t.find((e) => e.node === 'server2' && e.action === 'HostRestart')!;
    expect(crash.t).toBeGreaterThanOrEqual(250_000);
    expect(restart.t).toBeGreaterThanOrEqual(550_000);
    expect(t.filter((e) => e.node === 'server2' && e.t > crash.t && e.t < restart.t)).toEqual([]);
    expect(t.some((e) => e.node === 'server2' && e.action === 'ServerAnnounce' && e.t > restart.t)).toBe(true);
    // server1 does nothing while paused; the requests queued for it are served after the resume
    const pause = t.find((e) => e.node === 'server1' && e.action === 'HostPause')!;
    const resume = t.find((e) => e.node === 'server1' && e.action === 'HostResume')!;
    expect(resume.t - pause.t).toBeGreaterThan(140_000);
    expect(t.filter((e) => e.node === 'server1' && e.t > pause.t + 1_000 && e.t < resume.t)).toEqual([]);
    // online observation: either the exact final trace, or (watermark overtaken) fewer events
    if (observed.length === t.length) expect(observed).toEqual(t);
    else expect(observed.length).toBeLessThan(t.length);
    expect(out.stats.packets).toBeGreaterThan(10);
    expect(liveChildren()).toBe(0);
    // the protocol's monitors and property checkers accept the run
    const monitor = r2p2.monitor(s, plan.addrs);
    const violations = t.flatMap((e, i) => (isNetAnnotation(e) ? [] : [monitor.observe(i, e)].filter((v) => v !== undefined)));
    violations.push(...monitor.finish(), ...r2p2.properties.flatMap((p) => p.check(t, s, plan.addrs)));
    expect(violations).toEqual([]);
    expect(restart.t - 550_000).toBeLessThan(50_000);
    console.log(
      `local run: wall ${Math.round(out.wallMs)} ms, start-up ${Math.round(out.stats.startupMs)} ms, ${t.length} events, ` +
        `observed ${observed.length}, restart late ${Math.round(restart.t - 550_000)} µs, crash late ${Math.round(crash.t - 250_000)} µs; ` +
        `notes: ${JSON.stringify(out.notes)}`,
    );
  }, 30_000);

  it('applies link loss and duplication at the switch, visible as Net* annotations', async () => {
    const s = scenario({
      topology: { clients: 1, servers: 1, router: { policy: 'jbsq', n: 2, queueCap: 8 } },
      network: { delay: 500, jitter: 0, loss: 0.3, duplicate: 0.3 },
      workload: Array.from({ length: 8 }, (_, i) => ({ at: 100_000 + i * 40_000, node: 'client1', command: call })),
      faults: [{ at: 50_000, kind: 'link', from: 'client1', to: '*', link: { delay: 500, jitter: 0, loss: 0.3, duplicate: 0.3 } }],
      duration: 900_000,
    });
    const r = await runScenario(r2p2, s, tb);
    const sw = r.trace.filter((e) => e.node === 'switch');
    expect(sw.some((e) => e.action === 'NetDrop' && e.reason === 'loss')).toBe(true);
    expect(sw.some((e) => e.action === 'NetDuplicate')).toBe(true);
    expect(sw.find((e) => e.action === 'NetLink')).toMatchObject({ from: r.addrs.client1, to: '*', loss: 0.3 });
    const drop = sw.find((e) => e.action === 'NetDrop')!;
    expect(Object.keys(drop).slice(0, 3)).toEqual(['t', 'node', 'action']);
    expect(['client1', 'server1', 'router']).toContain(drop.from);
    expect(r.trace.some((e) => e.action === 'ClientSend')).toBe(true);
    expect(r.violations).toEqual([]);
    expect(liveChildren()).toBe(0);
    console.log(`local lossy run: wall ${Math.round(r.wallMs)} ms, ${r.trace.length} events, violations ${JSON.stringify(r.violations)}`);
  }, 30_000);
});
