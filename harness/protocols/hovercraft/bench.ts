/**
 * HovercRaft measurements for `protocheck bench`:
 *
 * - the leader's messages per committed request in steady state, for Raft, HovercRaft and
 *   HovercRaft++ with N = 3, 5, 7 (to compare with the thesis' Table 12.1): the real cores, the
 *   middlebox and the aggregator run on the simulator, and a counting wrapper around each node's
 *   core records every datagram it receives and sends;
 * - reply load balancing against replies from the leader only, on the same closed-loop scenario:
 *   completed operations per second on a testbed, and the leader's egress bytes per committed
 *   request (the I/O the thesis offloads).
 */
import type { Core, CoreInput, Micros, NodeId } from '../../../impl/core.ts';
import type { Mode } from '../../../impl/hovercraft/actions.ts';
import { NODE_ROLE, type ReplierPolicy } from '../../../impl/hovercraft/config.ts';
import { messageClass } from '../../../impl/hovercraft/wire.ts';
import type { ProtocolDefinition, RoleFactory } from '../../protocol.ts';
import { runScenario, type RunReport } from '../../run/run-scenario.ts';
import type { Testbed } from '../../../testbeds/testbed.ts';
import { hovercraft, type HovercraftScenario } from './index.ts';

interface Datagram {
  readonly t: Micros;
  readonly node: NodeId;
  readonly dir: 'rx' | 'tx';
  readonly cls: string;
  readonly bytes: number;
}

/** The protocol with every node's core wrapped to record what it receives and sends. */
function counting(log: Datagram[]): ProtocolDefinition<HovercraftScenario> {
  const inner = hovercraft.roles[NODE_ROLE]!;
  const node: RoleFactory = (config, env) => {
    const core: Core<any, any> = inner(config, env);
    return {
      node: core.node,
      addr: core.addr,
      handle(input: CoreInput<any>, now: Micros) {
        if (input.kind === 'receive') {
          log.push({ t: now, node: core.node, dir: 'rx', cls: messageClass(input.packet.data), bytes: input.packet.data.length });
        }
        const out = core.handle(input, now);
        for (const o of out) {
          if (o.kind === 'send') log.push({ t: now, node: core.node, dir: 'tx', cls: messageClass(o.packet.data), bytes: o.packet.data.length });
        }
        return out;
      },
    };
  };
  return { ...hovercraft, roles: { ...hovercraft.roles, [NODE_ROLE]: node } };
}

/**
 * N clients, each with `ops` operations queued at once (a closed loop: the next leaves when the
 * previous completes), alternating put and get of its own key; a clean network, no faults.
 */
export function steadyScenario(o: {
  nodes: number; mode: Mode; replierPolicy: ReplierPolicy; clients: number; ops: number; duration: Micros;
  delay: Micros; valueBytes?: number;
}): HovercraftScenario {
  const value = (i: number) => `v${i}`.padEnd(o.valueBytes ?? 8, '.');
  return {
    protocol: 'hovercraft', seed: 1,
    topology: { nodes: o.nodes, clients: o.clients, mode: o.mode, replierPolicy: o.replierPolicy, bound: 4, threshold: 4 * o.clients },
    workload: Array.from({ length: o.clients }, (_, c) => Array.from({ length: o.ops }, (_, i) => ({
      // After the first election (within ~10 heartbeats of the start).
      at: Math.round(o.duration * 0.1), node: `client${c + 1}`,
      command: i % 2 === 0 ? { op: 'put' as const, key: `k${c}`, value: value(i) } : { op: 'get' as const, key: `k${c}` },
    }))).flat(),
    faults: [],
    network: { delay: o.delay, jitter: 0, loss: 0, duplicate: 0 },
    bugs: [],
    duration: o.duration,
  };
}

export interface LeaderCounts {
  readonly nodes: number;
  readonly mode: Mode;
  readonly committed: number;
  readonly elections: number;
  /** Per committed request. */
  readonly rx: number;
  readonly txAppend: number;
  readonly txReplies: number;
  /** FEEDBACK to the middlebox (not part of Table 12.1). */
  readonly txFeedback: number;
  readonly txOther: number;
  /** Leader egress bytes per committed request (append_entries, replies and FEEDBACK). */
  readonly txBytes: number;
  readonly violations: number;
}

/** Steady-state leader counts on `sim`, in the middle 60% of the run. */
export async function leaderCounts(
  sim: Testbed, nodes: number, mode: Mode, replierPolicy: ReplierPolicy = 'jbsq', valueBytes = 8,
): Promise<LeaderCounts> {
  const log: Datagram[] = [];
  const s = steadyScenario({ nodes, mode, replierPolicy, clients: nodes, ops: 2_000, duration: 60_000, delay: 10, valueBytes });
  const r = await runScenario(counting(log), s, sim);
  const leaders = r.trace.filter((e) => e.action === 'BecomeLeader');
  const leader = leaders.at(-1)?.node;
  const [t1, t2] = [s.duration * 0.3, s.duration * 0.9];
  const commitAt = (t: number): number => {
    let c = 0;
    for (const e of r.trace) if (e.node === leader && e.action === 'Commit' && e.t <= t) c = e.index as number;
    return c;
  };
  const committed = commitAt(t2) - commitAt(t1);
  const mine = log.filter((d) => d.node === leader && d.t > t1 && d.t <= t2);
  const per = (f: (d: Datagram) => boolean) => mine.filter(f).length / committed;
  const tx = (cls: string) => (d: Datagram) => d.dir === 'tx' && d.cls === cls;
  return {
    nodes, mode, committed, elections: leaders.length,
    rx: per((d) => d.dir === 'rx'),
    txAppend: per(tx('append_entries')),
    txReplies: per(tx('RESPONSE')),
    txFeedback: per(tx('FEEDBACK')),
    txOther: per((d) => d.dir === 'tx' && !['append_entries', 'RESPONSE', 'FEEDBACK'].includes(d.cls)),
    txBytes: mine.filter((d) => d.dir === 'tx').reduce((s, d) => s + d.bytes, 0) / committed,
    violations: r.violations.length,
  };
}

/** Table 12.1 of the thesis: the leader's Rx and Tx per request (N nodes). */
export function table121(mode: Mode, n: number): { rx: number; tx: number } {
  switch (mode) {
    case 'raft': return { rx: 1 + (n - 1), tx: n - 1 + 1 };
    case 'hovercraft': return { rx: 1 + (n - 1), tx: n - 1 + 1 / n };
    case 'hovercraft++': return { rx: 2, tx: 1 + 1 / n };
  }
}

export interface ThroughputResult {
  readonly policy: ReplierPolicy;
  readonly completed: number;
  readonly opsPerSec: number;
  readonly violations: number;
  readonly report: RunReport;
}

/** Closed-loop throughput (completed operations per second of the run) on `testbed`. */
export async function closedLoopThroughput(testbed: Testbed, policy: ReplierPolicy, duration: Micros, valueBytes: number): Promise<ThroughputResult> {
  const s = steadyScenario({ nodes: 3, mode: 'hovercraft', replierPolicy: policy, clients: 6, ops: 5_000, duration, delay: 200, valueBytes });
  const r = await runScenario(hovercraft, s, testbed);
  const completed = r.trace.filter((e) => e.action === 'ClientReceiveReply').length;
  return { policy, completed, opsPerSec: completed / ((duration * 0.9) / 1e6), violations: r.violations.length, report: r };
}
