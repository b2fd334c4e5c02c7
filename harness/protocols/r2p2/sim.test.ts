/**
 * R2P2 on the simulator, end to end: generated scenarios run the real cores through the switch;
 * the correct implementation passes every property checker and the online monitor, and each seeded
 * bug is caught by the checks its `caughtBy` lists.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimTestbed } from '../../../testbeds/sim/sim.ts';
import type { PlannedNode } from '../../../testbeds/testbed.ts';
import type { CoreInput } from '../../../impl/core.ts';
import { ZERO_ADDR, decode } from '../../../impl/r2p2/codec.ts';
import type { ProtocolDefinition, RoleFactory, ScenarioOptions, Violation } from '../../protocol.ts';
import type { TraceEvent } from '../../trace/schema.ts';
import { r2p2 } from './index.ts';
import { generateR2p2TraceModule } from './trace-validation.ts';
import { exampleScenario, r2p2Timing, type R2p2Scenario } from './scenario.ts';

interface Checked {
  readonly trace: TraceEvent[];
  readonly properties: Violation[];
  readonly monitor: Violation[];
  readonly notes: string[];
}

/**
 * The switch applies link faults only to packets between hosts, not to packets handed to a switch
 * program, so FEEDBACK to the router is never duplicated on sim. This wrapper makes the router
 * program take every FEEDBACK that names a request twice, as a duplicating server→router wire would.
 */
function withDuplicatedFeedback(protocol: ProtocolDefinition<R2p2Scenario>): ProtocolDefinition<R2p2Scenario> {
  const inner = protocol.roles['r2p2-router']!;
  const router: RoleFactory = (config, env) => {
    const core = inner(config, env);
    return {
      node: core.node,
      addr: core.addr,
      handle(input: CoreInput<never>, now: number) {
        const out = core.handle(input, now);
        if (input.kind !== 'receive') return out;
        const d = decode(input.packet.data);
        if (!d.ok || d.msg.type !== 'FEEDBACK' || d.msg.client === ZERO_ADDR) return out;
        return [...out, ...core.handle(input, now)];
      },
    };
  };
  return { ...protocol, roles: { ...protocol.roles, 'r2p2-router': router } };
}

async function runOnSim(scenario: R2p2Scenario, protocol = r2p2): Promise<Checked> {
  const sim = new SimTestbed();
  const plan = r2p2.plan(scenario);
  const addrs = sim.assignAddresses(plan);
  const configs = r2p2.configure(scenario, addrs);
  const nodes: PlannedNode[] = plan.map((n) => ({ ...n, addr: addrs[n.id]!, config: configs[n.id]! }));
  const monitor = r2p2.monitor(scenario, addrs);
  const monitorViolations: Violation[] = [];
  let index = 0;
  const out = await sim.run({ scenario, protocol, nodes, addrs }, (e) => {
    const v = monitor.observe(index++, e);
    if (v) monitorViolations.push(v);
  });
  monitorViolations.push(...monitor.finish());
  const properties = r2p2.properties.flatMap((p) => p.check(out.trace, scenario, addrs));
  return { trace: out.trace, properties, monitor: monitorViolations, notes: out.notes };
}

/** The same scenario with its calls packed into the first milliseconds: requests queue at the router. */
function loaded(s: R2p2Scenario): R2p2Scenario {
  return {
    ...s,
    workload: s.workload.map((w, k) => ({ ...w, at: k * 200, command: { ...w.command, serviceUs: Math.max(w.command.serviceUs, 500) } })),
  };
}

function sample(options: ScenarioOptions, seed: number, n: number): R2p2Scenario[] {
  return fc.sample(r2p2.scenarios(options), { seed, numRuns: n });
}

function describeFailure(s: R2p2Scenario, r: Checked): string {
  const vs = [...r.properties, ...r.monitor].slice(0, 5);
  return JSON.stringify({
    scenario: s,
    violations: vs,
    events: vs.flatMap((v) => (v.events ?? []).slice(0, 4).map((i) => ({ i, ...r.trace[i] }))),
  }, null, 1);
}

describe('r2p2 on sim, correct implementation', () => {
  it('50 generated scenarios (network faults): no property violation, monitor accepts every event', async () => {
    let events = 0;
    for (const s of sample({}, 2024, 50)) {
      const r = await runOnSim(s);
      events += r.trace.length;
      expect(r.properties, describeFailure(s, r)).toEqual([]);
      expect(r.monitor, describeFailure(s, r)).toEqual([]);
    }
    expect(events).toBeGreaterThan(1_000);
  });

  // Host faults: the properties and the monitor are asserted separately, so that a failure names
  // the side (implementation + checkers, or implementation + machines) that disagrees.
  const withHostFaults = sample({ hostFaults: true }, 77, 50);

  it('50 generated scenarios with host faults (crash, restart, pause of servers and router): no property violation', async () => {
    for (const s of withHostFaults) {
      const r = await runOnSim(s);
      expect(r.properties, describeFailure(s, r)).toEqual([]);
    }
  });

  it('50 generated scenarios with host faults: the monitor accepts every event', async () => {
    for (const s of withHostFaults) {
      const r = await runOnSim(s);
      expect(r.monitor, describeFailure(s, r)).toEqual([]);
    }
  });

  it('with every FEEDBACK duplicated: the count form is idempotent, no property violation', async () => {
    for (const s of sample({ hostFaults: true }, 78, 30)) {
      const r = await runOnSim(loaded(s), withDuplicatedFeedback(r2p2));
      expect(r.properties, describeFailure(s, r)).toEqual([]);
    }
  });

  it('scenarios generated for real testbeds (ms time scale) also pass on sim', async () => {
    let replies = 0;
    let calls = 0;
    for (const s of sample({ testbed: 'local', hostFaults: true }, 5, 15)) {
      const r = await runOnSim(s);
      expect(r.properties, describeFailure(s, r)).toEqual([]);
      replies += r.trace.filter((e) => e.action === 'ClientReceiveReply').length;
      calls += s.workload.length;
    }
    expect(replies).toBeGreaterThan(calls / 2);
  });

  it('the bound is reached (the JBSQ check is not vacuous): requests wait with n outstanding', async () => {
    let atBound = 0;
    for (const s of sample({}, 2024, 20)) {
      const r = await runOnSim(s);
      atBound += r.trace.filter((e) => e.action === 'RouterDispatch' && e['outstanding'] === s.topology.router.n).length;
    }
    expect(atBound).toBeGreaterThan(20);
  });

  it('the example scenario completes every call with its reply', async () => {
    const s = exampleScenario(5);
    const r = await runOnSim(s);
    expect(r.properties).toEqual([]);
    expect(r.monitor).toEqual([]);
    expect(r.trace.filter((e) => e.action === 'ClientReceiveReply')).toHaveLength(s.workload.length);
    expect(r.trace.some((e) => e.action === 'ClientReceiveAck')).toBe(true);
  });
});

/**
 * Each seeded bug: among generated scenarios with the bug switched on (and the conditions it needs,
 * e.g. duplication for blind feedback), some run is caught by every check its `caughtBy` lists, and
 * only property checks that the bug plausibly breaks fire.
 */
describe('r2p2 seeded bugs on sim', () => {
  const conditions: Record<string, (s: R2p2Scenario) => R2p2Scenario> = {
    'router-exceeds-bound': (s) => s,
    'server-replies-twice': (s) => s,
    'client-accepts-wrong-rid': (s) => s,
    // reordering within a multi-packet request
    'reassembly-loses-reordered-packet': (s) => ({ ...s, network: { ...s.network, jitter: Math.max(s.network.jitter, 60) } }),
    // a loaded router (run with duplicated FEEDBACK, see below)
    'router-blind-feedback': loaded,
    // a loaded server frozen for longer than the router's silence timeout: it leaves and rejoins
    'router-forgets-on-leave': (s) => {
      const l = loaded(s);
      const at = Math.floor(l.duration / 4);
      const pause = { at, kind: 'pause' as const, node: 'server1', duration: 2 * r2p2Timing(l).leaveAfterUs };
      return { ...l, faults: [...l.faults.filter((f) => f.kind !== 'crash' && f.kind !== 'restart'), pause].sort((a, b) => a.at - b.at) };
    },
    // a network that duplicates packets (a REQ0 copy reaches a server after its reply)
    'server-serves-duplicate': (s) => ({ ...s, network: { ...s.network, duplicate: Math.max(s.network.duplicate, 0.3), jitter: Math.max(s.network.jitter, 60) } }),
    // a loaded server that crashes and restarts at once: the router still dispatches to it while it is quiet
    'server-serves-before-announce': (s) => {
      const l = loaded(s);
      const at = Math.floor(l.duration / 8);
      const faults = [{ at, kind: 'crash' as const, node: 'server1' }, { at: at + 50, kind: 'restart' as const, node: 'server1' }];
      return { ...l, faults: [...l.faults.filter((f) => !('node' in f) || f.node !== 'server1'), ...faults].sort((a, b) => a.at - b.at) };
    },
  };
  conditions['client-ack-disarms-timer'] = (s) => ({ ...s, network: { ...s.network, loss: Math.max(s.network.loss, 0.1) } });
  const protocolFor = (bug: string) => (bug === 'router-blind-feedback' ? withDuplicatedFeedback(r2p2) : r2p2);

  for (const bug of r2p2.bugs) {
    it(`${bug.name} is caught by ${bug.caughtBy.join(', ')}`, async () => {
      // The run-side checks on every run; TLC (when listed) on the first run they caught.
      const online = bug.caughtBy.filter((c) => c !== 'tlc');
      const fired = new Map<string, number>();
      let runs = 0;
      let caught: { scenario: R2p2Scenario; trace: TraceEvent[]; flagged: Set<number> } | undefined;
      for (const base of sample({ bugs: [bug.name] }, 31, 60)) {
        const s = conditions[bug.name]!(base);
        const r = await runOnSim(s, protocolFor(bug.name));
        runs++;
        const checks = new Set([...r.properties, ...r.monitor].map((v) => v.check));
        for (const c of checks) fired.set(c, (fired.get(c) ?? 0) + 1);
        if (online.every((c) => fired.has(c))) {
          caught = { scenario: s, trace: r.trace, flagged: new Set([...r.properties, ...r.monitor].flatMap((v) => v.events ?? [])) };
          break;
        }
      }
      expect(Object.fromEntries(fired), `after ${runs} runs`).toEqual(
        expect.objectContaining(Object.fromEntries(online.map((c) => [c, expect.any(Number)]))));
      if (bug.caughtBy.includes('tlc')) {
        // TLC rejects the trace, and at an event the run-side checks named (not for another reason).
        const sim = new SimTestbed();
        const addrs = sim.assignAddresses(r2p2.plan(caught!.scenario));
        const input = { trace: caught!.trace, addrs, scenario: caught!.scenario };
        const [tlc] = await r2p2.validateTraces!([input]);
        expect(tlc!.accepted, `TLC on the trace of run ${runs}`).toBe(false);
        const rejected = generateR2p2TraceModule([input]).eventIndices[0]![tlc!.matchedPrefix!]!;
        expect(caught!.flagged, `TLC rejected event ${rejected}: ${JSON.stringify(caught!.trace[rejected])}`).toContain(rejected);
      }
    }, 60_000);
  }
});
