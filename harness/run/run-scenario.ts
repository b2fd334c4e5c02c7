/**
 * One run: a scenario on a testbed, with the online monitors and the property checkers applied to
 * its trace. (TLC trace validation is batched across runs by the campaign: see `campaign.ts`.)
 */
import type { Addr, NodeId } from '../../impl/core.ts';
import type { ProtocolDefinition, Violation } from '../protocol.ts';
import type { Scenario } from '../scenario/types.ts';
import { isNetAnnotation, type TraceEvent } from '../trace/schema.ts';
import type { PlannedNode, RunPlan, Testbed } from '../../testbeds/testbed.ts';

export interface RunReport {
  readonly scenario: Scenario;
  readonly testbed: string;
  readonly addrs: Readonly<Record<NodeId, Addr>>;
  readonly trace: TraceEvent[];
  /** Monitor and property violations (TLC findings are added by the campaign). */
  readonly violations: Violation[];
  readonly wallMs: number;
  readonly notes: string[];
  readonly stats?: { readonly packets: number; readonly events: number };
}

/** Builds the run plan of a scenario for a testbed: nodes, addresses, configs. */
export function planRun(protocol: ProtocolDefinition<any>, scenario: Scenario, testbed: Testbed): RunPlan {
  const nodes = protocol.plan(scenario);
  const addrs = testbed.assignAddresses(nodes);
  const configs = protocol.configure(scenario, addrs);
  const planned: PlannedNode[] = nodes.map((n) => {
    const addr = addrs[n.id];
    const config = configs[n.id];
    if (addr === undefined) throw new Error(`testbed ${testbed.name} assigned no address to ${n.id}`);
    if (config === undefined) throw new Error(`protocol ${protocol.name} gave no config for ${n.id}`);
    return { id: n.id, role: n.role, placement: n.placement, addr, config };
  });
  return { scenario, protocol, nodes: planned, addrs };
}

export async function runScenario(
  protocol: ProtocolDefinition<any>,
  scenario: Scenario,
  testbed: Testbed,
): Promise<RunReport> {
  const plan = planRun(protocol, scenario, testbed);
  const monitor = protocol.monitor(scenario, plan.addrs);
  const violations: Violation[] = [];
  let index = 0;
  let monitorFailed = false;
  // Online: each event is checked by the machines as the testbed produces it. After the first
  // rejection the machines' states no longer mean anything, so later events are not fed.
  const observe = (e: TraceEvent): void => {
    const i = index++;
    if (monitorFailed || isNetAnnotation(e)) return;
    const v = monitor.observe(i, e);
    if (v) {
      violations.push(v);
      monitorFailed = true;
    }
  };
  const out = await testbed.run(plan, observe);
  if (index !== out.trace.length) {
    // The testbed did not stream every event (or streamed them in another order): check the final
    // trace instead, so monitor indices always point into the returned trace.
    violations.length = 0;
    const fresh = protocol.monitor(scenario, plan.addrs);
    for (let i = 0; i < out.trace.length; i++) {
      const e = out.trace[i]!;
      if (isNetAnnotation(e)) continue;
      const v = fresh.observe(i, e);
      if (v) {
        violations.push(v);
        break;
      }
    }
    if (violations.length === 0) violations.push(...fresh.finish());
  } else if (!monitorFailed) {
    violations.push(...monitor.finish());
  }
  for (const p of protocol.properties) violations.push(...p.check(out.trace, scenario, plan.addrs));
  return {
    scenario,
    testbed: testbed.name,
    addrs: plan.addrs,
    trace: out.trace,
    violations,
    wallMs: out.wallMs,
    notes: out.notes,
    stats: (out as { stats?: RunReport['stats'] }).stats,
  };
}
