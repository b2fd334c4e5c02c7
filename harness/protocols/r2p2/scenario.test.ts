/**
 * The R2P2 scenario arbitrary: plain JSON, deterministic per seed, shrinkable, within the
 * generation parameters of its testbed; and the plan/configure of the protocol definition.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../impl/rng.ts';
import {
  MIN_REQUEST_SIZE, REAL_PARAMS, SIM_PARAMS, allNodeIds, exampleScenario, r2p2Scenarios, r2p2Timing,
  type R2p2Scenario,
} from './scenario.ts';

function sample(options: Parameters<typeof r2p2Scenarios>[0], seed: number, n = 100): R2p2Scenario[] {
  return fc.sample(r2p2Scenarios(options), { seed, numRuns: n });
}

function checkWellFormed(s: R2p2Scenario, p = SIM_PARAMS): void {
  expect(s.protocol).toBe('r2p2');
  const { topology: t } = s;
  expect(t.clients).toBeGreaterThanOrEqual(1);
  expect(t.clients).toBeLessThanOrEqual(p.maxClients);
  expect(t.servers).toBeGreaterThanOrEqual(1);
  expect(t.servers).toBeLessThanOrEqual(p.maxServers);
  expect(t.router.policy).toBe('jbsq');
  expect(t.router.n).toBeGreaterThanOrEqual(1);
  expect(t.router.n).toBeLessThanOrEqual(3);
  expect(t.router.queueCap).toBeGreaterThanOrEqual(1);
  expect(s.duration).toBeGreaterThanOrEqual(p.duration[0]);
  expect(s.duration).toBeLessThanOrEqual(p.duration[1]);
  expect(s.workload.length).toBeGreaterThanOrEqual(1);
  const w = t.window;
  if (w === undefined) {
    expect(t.router.queueCap).toBeLessThanOrEqual(8);
    expect(s.workload.length).toBeLessThanOrEqual(p.maxCalls);
  } else {
    // Closed loop: the clients keep more calls outstanding than the servers may hold, and the
    // central queue has room for the rest; one or two bursts of window + 0..3 calls per client.
    expect(p.closedLoopWeight).toBeGreaterThan(0);
    expect(Number.isInteger(w) && w >= 1).toBe(true);
    const beyond = t.clients * w - t.servers * t.router.n;
    expect(beyond).toBeGreaterThan(0);
    expect(t.router.queueCap).toBeGreaterThanOrEqual(beyond);
    expect(t.router.queueCap).toBeLessThanOrEqual(beyond + 7);
    const open = s.workload.length - t.clients * w;
    expect(open).toBeGreaterThanOrEqual(1);
    expect(s.workload.length).toBeLessThanOrEqual(p.maxCalls + 2 * t.clients * (w + 3));
    for (const c of ['client1', `client${t.clients}`]) {
      const at = new Map<number, number>();
      for (const x of s.workload) if (x.node === c) at.set(x.at, (at.get(x.at) ?? 0) + 1);
      expect(Math.max(...at.values())).toBeGreaterThanOrEqual(w);
    }
  }
  const nodes = new Set(allNodeIds(t));
  let last = 0;
  for (const w of s.workload) {
    expect(w.at).toBeGreaterThanOrEqual(last);
    last = w.at;
    expect(w.at).toBeLessThanOrEqual(s.duration * p.workloadWindow);
    expect(w.node).toMatch(/^client\d$/);
    expect(nodes.has(w.node)).toBe(true);
    expect(w.command.kind).toBe('call');
    expect(w.command.size).toBeGreaterThanOrEqual(MIN_REQUEST_SIZE);
    expect(w.command.size).toBeLessThanOrEqual(5_000);
    expect(w.command.replySize).toBeGreaterThanOrEqual(0);
    expect(w.command.replySize).toBeLessThanOrEqual(5_000);
    expect(w.command.serviceUs).toBeLessThanOrEqual(p.maxServiceUs);
    for (const v of [w.at, w.command.size, w.command.serviceUs, w.command.replySize]) expect(Number.isInteger(v)).toBe(true);
  }
  const links = [s.network, ...s.faults.flatMap((f) => (f.kind === 'link' ? [f.link] : []))];
  for (const l of links) {
    expect(l.delay).toBeGreaterThanOrEqual(p.delay[0]);
    expect(l.delay).toBeLessThanOrEqual(p.delay[1]);
    expect(l.jitter).toBeLessThanOrEqual(p.maxJitter);
    expect(l.loss).toBeLessThanOrEqual(0.2);
    expect(l.duplicate).toBeLessThanOrEqual(0.2);
  }
  // Faults: in time order, within the run, about nodes of the topology, host faults consistent.
  const down = new Map<string, boolean>();
  last = 0;
  for (const f of s.faults) {
    expect(f.at).toBeGreaterThanOrEqual(last);
    last = f.at;
    expect(f.at).toBeLessThanOrEqual(s.duration);
    switch (f.kind) {
      case 'link':
        for (const x of [f.from, f.to]) expect(x === '*' || nodes.has(x)).toBe(true);
        break;
      case 'partition':
        expect(f.groups[0]).toHaveLength(1);
        expect([...f.groups[0], ...f.groups[1]].sort()).toEqual([...nodes].sort());
        expect(f.at + f.duration).toBeLessThanOrEqual(s.duration);
        break;
      case 'crash':
        expect(f.node === 'router' || f.node.startsWith('server')).toBe(true);
        expect(down.get(f.node)).not.toBe(true);
        down.set(f.node, true);
        break;
      case 'restart':
        expect(down.get(f.node)).toBe(true);
        down.set(f.node, false);
        break;
      case 'pause':
        expect(f.node === 'router' || f.node.startsWith('server')).toBe(true);
        expect(down.get(f.node)).not.toBe(true);
        expect(f.at + f.duration).toBeLessThanOrEqual(s.duration);
        break;
    }
  }
  // The workload's calls finish (or time out) before the end of the run.
  const timing = r2p2Timing(s);
  expect(timing.timeoutUs).toBeGreaterThan(4 * Math.max(0, ...s.workload.map((w) => w.command.serviceUs)));
  expect(timing.heartbeatUs).toBeLessThan(timing.leaveAfterUs);
  expect(timing.rtoUs * timing.gcRtos).toBeLessThan(timing.timeoutUs);
}

describe('r2p2Scenarios', () => {
  it('generates well-formed sim scenarios that survive JSON unchanged', () => {
    fc.assert(
      fc.property(r2p2Scenarios({ hostFaults: true }), (s) => {
        checkWellFormed(s);
        expect(JSON.parse(JSON.stringify(s))).toEqual(s);
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  it('is deterministic for a fixed fast-check seed', () => {
    expect(JSON.stringify(sample({ hostFaults: true }, 7))).toBe(JSON.stringify(sample({ hostFaults: true }, 7)));
    expect(JSON.stringify(sample({}, 7))).not.toBe(JSON.stringify(sample({}, 8)));
  });

  it('covers what the checks need: multi-packet messages, jitter, loss, duplication, faults', () => {
    const all = sample({ hostFaults: true }, 3, 300);
    const calls = all.flatMap((s) => s.workload.map((w) => w.command));
    expect(calls.some((c) => c.size > 1464)).toBe(true);
    expect(calls.some((c) => c.size <= 64)).toBe(true);
    expect(calls.some((c) => c.replySize > 1464)).toBe(true);
    expect(all.some((s) => s.network.jitter > s.network.delay)).toBe(true);
    expect(all.filter((s) => s.network.loss === 0).length).toBeGreaterThan(all.length / 2);
    expect(all.some((s) => s.network.loss > 0.1)).toBe(true);
    expect(all.some((s) => s.network.duplicate > 0.1)).toBe(true);
    for (const kind of ['crash', 'restart', 'pause', 'partition', 'link'] as const) {
      expect(all.some((s) => s.faults.some((f) => f.kind === kind)), kind).toBe(true);
    }
    expect(all.some((s) => s.faults.some((f) => f.kind === 'crash' && f.node === 'router'))).toBe(true);
    expect(all.some((s) => s.workload.length >= 20)).toBe(true);
    expect(all.some((s) => s.topology.clients === 3 && s.topology.servers === 3)).toBe(true);
    // Closed-loop load in about a third of the scenarios; the rest stay open.
    const closed = all.filter((s) => s.topology.window !== undefined);
    expect(closed.length).toBeGreaterThan(all.length / 5);
    expect(closed.length).toBeLessThan(all.length / 2);
    expect(closed.some((s) => s.topology.servers === 3 && s.topology.router.n === 3)).toBe(true);
  });

  it('generates closed-loop load on sim only, and open scenarios replay as before (no window)', () => {
    for (const s of sample({ testbed: 'local', hostFaults: true }, 13, 100)) expect(s.topology.window).toBeUndefined();
    const open = sample({}, 13, 100).find((s) => s.topology.window === undefined)!;
    expect(Object.keys(open.topology).sort()).toEqual(['clients', 'router', 'servers']);
  });

  it('generates no host faults unless asked to', () => {
    for (const s of sample({}, 5, 200)) {
      expect(s.faults.every((f) => f.kind === 'link' || f.kind === 'partition')).toBe(true);
    }
  });

  it('carries the requested seeded bugs', () => {
    for (const s of sample({ bugs: ['server-replies-twice'] }, 5, 20)) expect(s.bugs).toEqual(['server-replies-twice']);
    for (const s of sample({}, 5, 20)) expect(s.bugs).toEqual([]);
  });

  it('scales time up and the workload down on real testbeds', () => {
    for (const testbed of ['local', 'docker', 'hardware']) {
      for (const s of sample({ testbed, hostFaults: true }, 11, 100)) {
        checkWellFormed(s, REAL_PARAMS);
        expect(s.network.delay).toBeGreaterThanOrEqual(1_000);
        expect(s.workload.length).toBeLessThanOrEqual(10);
        expect(s.duration).toBeGreaterThanOrEqual(1_000_000);
        expect(r2p2Timing(s).rtoUs).toBeGreaterThanOrEqual(10_000);
      }
    }
    for (const s of sample({ testbed: 'sim' }, 11, 50)) checkWellFormed(s, SIM_PARAMS);
  });

  it('shrinks a failing scenario to a minimal one', () => {
    // A property that fails once a scenario has 3 calls and a multi-packet request among them.
    const result = fc.check(
      fc.property(r2p2Scenarios({ hostFaults: true }), (s) =>
        !(s.workload.length >= 3 && s.workload.some((w) => w.command.size > 1464))),
      { seed: 99, numRuns: 500 },
    );
    expect(result.failed).toBe(true);
    const min = result.counterexample![0];
    expect(min.workload).toHaveLength(3);
    expect(min.topology).toEqual({ clients: 1, servers: 1, router: { policy: 'jbsq', n: 1, queueCap: 1 } });
    expect(min.faults).toEqual([]);
    expect(min.network).toEqual({ delay: SIM_PARAMS.delay[0], jitter: 0, loss: 0, duplicate: 0 });
    expect(min.duration).toBe(SIM_PARAMS.duration[0]);
    expect(min.workload.filter((w) => w.command.size > 1464)).toHaveLength(1);
    expect(min.workload.map((w) => w.at)).toEqual([0, 0, 0]);
  });

  it('shrinks host faults away when they are not needed and keeps one when it is', () => {
    const result = fc.check(
      fc.property(r2p2Scenarios({ hostFaults: true }), (s) => !s.faults.some((f) => f.kind === 'pause')),
      { seed: 5, numRuns: 500 },
    );
    expect(result.failed).toBe(true);
    const min = result.counterexample![0];
    expect(min.faults).toHaveLength(1);
    expect(min.faults[0]).toMatchObject({ kind: 'pause', node: 'server1' });
    expect(min.workload).toHaveLength(1);
  });
});

describe('exampleScenario', () => {
  it('is a deterministic, well-formed scenario per seed', () => {
    const a = exampleScenario(3);
    expect(exampleScenario(3)).toEqual(a);
    expect(exampleScenario(4)).not.toEqual(a);
    expect(a.seed).toBe(3);
    checkWellFormed(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    expect(a.workload.some((w) => w.command.size > 1464)).toBe(true);
    checkWellFormed(exampleScenario(3, { testbed: 'local' }), REAL_PARAMS);
  });

  it('does not depend on Rng draws outside the seed', () => {
    new Rng(1).nextU32();
    expect(exampleScenario(1)).toEqual(exampleScenario(1));
  });
});
