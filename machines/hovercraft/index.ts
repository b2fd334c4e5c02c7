/**
 * The HovercRaft online monitor: node, client, middlebox and aggregator machines behind the
 * generic monitor of `harness/monitor/`.
 *
 * Routing: the event's action tells which machine takes it (each action belongs to exactly one
 * machine); the event's `node` must have that role in the run. One actor per node:
 * `node:<id>`, `client:<id>`, `middlebox:<id>`, `aggregator:<id>`. `Net*` annotations are skipped
 * (by the generic monitor); `HostCrash` and `HostRestart` reset the node's actor: the next one
 * starts down and waits for the node's `NodeStart`.
 *
 * Restarts. A restarted Raft node must hand back in `NodeStart` what its earlier incarnations
 * persisted. A node's own trace events cannot show that (a driver may write a step's events
 * before its `persist`, and a crash may fall in between), but a message another node took can: a
 * node persists before it sends. So the monitor gathers, from accepted events, what some other
 * node (or the aggregator) saw of each node:
 *  - a term at least T: a request_vote, a vote reply, an append_entries, an append_entries reply
 *    or an aggregator probe of term T from it;
 *  - its vote in term T: a granted vote reply from it, or (a candidate votes for itself) its
 *    request_vote;
 *  - a log prefix: a successful append_entries reply from it with matchIndex m in term T (at the
 *    leader or the aggregator), or an append_entries from it ending at m in term T. The prefix up to
 *    min(m, the highest index committed in term T) holds committed entries, which no later term
 *    removes; its entries are those the node's last machine held.
 * A restarted node's machine gets that floor as input (`persisted`).
 *
 * Applied indices. The monitor records every node's `Apply` events (accepted or not: the node did
 * apply) as the highest index each node has applied in any incarnation so far, and the node and
 * aggregator machines read that record (`truth`): a reported applied index (an append_entries
 * reply, an AGG_COMMIT) is never above it, and an Announce's queue is never below the replier's
 * queue by it. A report follows in the trace the applies it reflects (a node sends its reply after
 * the applies its append enabled), so the record is never behind a correct report.
 */
import { match } from 'ts-pattern';
import type { AnyStateMachine } from 'xstate';
import type { NodeId } from '../../impl/core.ts';
import type { HovercraftActions, Mode } from '../../impl/hovercraft/actions.ts';
import {
  createOnlineMonitor, machineEventTypes, type OnlineMonitor, type RouteResult,
} from '../../harness/monitor/monitor.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import { aggregatorMachine } from './aggregator.ts';
import { clientMachine } from './client.ts';
import { middleboxMachine } from './middlebox.ts';
import { certainLog, nodeMachine, type AppliedTruth, type LogEntry, type NodeContext, type PersistedFloor, type ReplierPolicy, type Vote } from './node.ts';

export { nodeMachine, nodeUpdate, certainLog, LogView, NOOP_CLIENT } from './node.ts';
export { parseAppliedIndices } from './node.ts';
export type {
  AppliedTruth, HovercraftEvent, LogEntry, NodeContext, NodeEvent, NodeInput, NodeRole, PersistedFloor, ReplierPolicy,
} from './node.ts';
export { aggregatorMachine, aggregatorUpdate } from './aggregator.ts';
export type { AggregatorContext, AggregatorEvent, AggregatorInput } from './aggregator.ts';
export { middleboxMachine, middleboxUpdate } from './middlebox.ts';
export type { MiddleboxContext, MiddleboxEvent, MiddleboxInput } from './middlebox.ts';
export { clientMachine } from './client.ts';
export type { ClientContext, ClientEvent, ClientInput } from './client.ts';

export type HovercraftRole = 'client' | 'node' | 'middlebox' | 'aggregator';

/** The machines of HovercRaft by the role whose events they take. */
export const HOVERCRAFT_MACHINES: Readonly<Record<HovercraftRole, AnyStateMachine>> = {
  client: clientMachine,
  node: nodeMachine,
  middlebox: middleboxMachine,
  aggregator: aggregatorMachine,
};

export const hovercraftMachines: readonly AnyStateMachine[] = Object.values(HOVERCRAFT_MACHINES);

export interface HovercraftMonitorConfig {
  readonly roles: Readonly<Record<NodeId, HovercraftRole>>;
  /** N: the number of Raft nodes majorities are counted against. */
  readonly nodes: number;
  /** B: the bound of each replier's queue. */
  readonly bound: number;
  readonly replierPolicy: ReplierPolicy;
  /** Slots of the flow-control middlebox. */
  readonly threshold: number;
  /**
   * The nodes' mode. In `raft` the leader answers every request, with no bound (as under
   * `replierPolicy: 'leader'`). Without it the monitor cannot tell that mode from a leader that
   * names itself beyond B, so it does not hold the leader itself to B.
   */
  readonly mode?: Mode;
}

export interface HovercraftMonitor extends OnlineMonitor {
  /** A node crashed or restarted: its actor is forgotten; a Raft node's next one gets its floor. */
  nodeRestarted(node: NodeId): void;
  /** What a restarted Raft node must hand back in its NodeStart (null if it never restarted). */
  persistedFloor(node: NodeId): PersistedFloor | null;
}

/** The role whose machine takes `action` (each action belongs to exactly one machine). */
const ROLE_OF_ACTION: ReadonlyMap<string, HovercraftRole> = new Map(
  (Object.entries(HOVERCRAFT_MACHINES) as [HovercraftRole, AnyStateMachine][]).flatMap(([role, m]) =>
    [...machineEventTypes(m)].map((type) => [type, role] as const)),
);

/** What other nodes saw of one node's persisted state. */
interface Evidence {
  term: number;
  vote: Vote | null;
  /** Per term: the longest log prefix shown to match (and so to be persisted). */
  readonly matched: Map<number, number>;
}

type Fields<A extends keyof HovercraftActions> = HovercraftActions[A];

export function createHovercraftMonitor(config: HovercraftMonitorConfig): HovercraftMonitor {
  const idsOf = (role: HovercraftRole): NodeId[] =>
    Object.entries(config.roles).filter(([, r]) => r === role).map(([id]) => id).sort();
  const nodeIds = idsOf('node');
  const aggregatorIds = idsOf('aggregator');
  const replierPolicy: ReplierPolicy = config.mode === 'raft' ? 'leader' : config.replierPolicy;

  const evidence = new Map<NodeId, Evidence>();
  /** Per term: the highest index some node committed in that term. */
  const committedInTerm = new Map<number, number>();
  /** Per restarted node: the log prefix its last machine was sure of. */
  const lastLogs = new Map<NodeId, readonly LogEntry[]>();
  const restarted = new Set<NodeId>();
  /** Per Raft node: the highest index it has applied, in any incarnation, so far. */
  const appliedMax = new Map<NodeId, number>();
  const truth: AppliedTruth = { appliedMax: (node) => appliedMax.get(node) ?? 0 };

  const evidenceOf = (node: unknown): Evidence | undefined => {
    if (typeof node !== 'string' || config.roles[node] !== 'node') return undefined;
    let ev = evidence.get(node);
    if (ev === undefined) {
      ev = { term: 0, vote: null, matched: new Map() };
      evidence.set(node, ev);
    }
    return ev;
  };
  const sawTerm = (node: unknown, term: number): void => {
    const ev = evidenceOf(node);
    if (ev) ev.term = Math.max(ev.term, term);
  };
  const sawVote = (node: unknown, term: number, candidate: NodeId): void => {
    const ev = evidenceOf(node);
    if (ev && (ev.vote === null || ev.vote.term < term)) ev.vote = { term, for: candidate };
  };
  const sawMatch = (node: unknown, term: number, len: number): void => {
    const ev = evidenceOf(node);
    if (ev) ev.matched.set(term, Math.max(ev.matched.get(term) ?? 0, len));
  };
  const sawCommit = (term: number, index: number): void => {
    committedInTerm.set(term, Math.max(committedInTerm.get(term) ?? 0, index));
  };

  /** Learns from an event a machine accepted. */
  const learn = (e: TraceEvent): void => {
    const f = e as unknown;
    switch (e.action) {
      case 'HandleRequestVote': {
        const x = f as Fields<'HandleRequestVote'>;
        sawTerm(x.from, x.term);
        sawVote(x.from, x.term, x.from);
        break;
      }
      case 'HandleVoteReply': {
        const x = f as Fields<'HandleVoteReply'>;
        sawTerm(x.from, x.term);
        if (x.granted) sawVote(x.from, x.term, e.node);
        break;
      }
      case 'HandleAppendEntries': {
        const x = f as Fields<'HandleAppendEntries'>;
        sawTerm(x.from, x.term);
        if (Array.isArray(x.entries) && x.entries.length > 0) sawMatch(x.from, x.term, x.prevIndex + x.entries.length);
        break;
      }
      case 'HandleAppendEntriesReply':
      case 'AggReply': {
        const x = f as Fields<'AggReply'> & { success?: boolean };
        sawTerm(x.from, x.term);
        if (x.success !== false) sawMatch(x.from, x.term, x.matchIndex);
        break;
      }
      case 'AggProbe': {
        const x = f as Fields<'AggProbe'>;
        sawTerm(x.from, x.term);
        break;
      }
      case 'Commit': {
        const x = f as Fields<'Commit'>;
        sawCommit(x.term, x.index);
        break;
      }
      case 'AggCommit': {
        const x = f as Fields<'AggCommit'>;
        sawCommit(x.term, x.commit);
        break;
      }
    }
  };

  const persistedFloor = (node: NodeId): PersistedFloor | null => {
    if (!restarted.has(node)) return null;
    const ev = evidence.get(node);
    const last = lastLogs.get(node) ?? [];
    let len = 0;
    for (const [term, m] of ev?.matched ?? []) len = Math.max(len, Math.min(m, committedInTerm.get(term) ?? 0));
    return { term: ev?.term ?? 0, vote: ev?.vote ?? null, log: last.slice(0, Math.min(len, last.length)) };
  };

  const route = (e: TraceEvent): RouteResult => {
    const role = ROLE_OF_ACTION.get(e.action);
    const nodeRole = config.roles[e.node];
    if (role === undefined) return { reject: `no HovercRaft machine takes ${e.action}` };
    if (nodeRole === undefined) return { reject: `${e.action} by node ${e.node}, which is not in the run` };
    if (nodeRole !== role) return { reject: `${e.action} is a ${role} action but node ${e.node} is a ${nodeRole}` };
    const key = `${role}:${e.node}`;
    const spawning = !monitor.actors().has(key);
    return match(role)
      .with('node', () => ({
        key,
        machine: nodeMachine,
        input: spawning
          ? {
            node: e.node, nodes: nodeIds, aggregators: aggregatorIds, n: config.nodes, bound: config.bound, replierPolicy,
            boundsLeader: config.mode !== undefined, persisted: persistedFloor(e.node), truth,
          }
          : undefined,
      }))
      .with('client', () => ({ key, machine: clientMachine, input: { node: e.node } }))
      .with('middlebox', () => ({ key, machine: middleboxMachine, input: { node: e.node, threshold: config.threshold } }))
      .with('aggregator', () => ({ key, machine: aggregatorMachine, input: { node: e.node, nodes: nodeIds, n: config.nodes, truth } }))
      .exhaustive();
  };

  const nodeRestarted = (node: NodeId): void => {
    const role = config.roles[node];
    if (role === undefined) return;
    const key = `${role}:${node}`;
    if (role === 'node') {
      restarted.add(node);
      const ctx = monitor.actors().get(key)?.getSnapshot().context as NodeContext | undefined;
      if (ctx !== undefined && ctx.role !== 'down') lastLogs.set(node, certainLog(ctx));
    }
    monitor.forget((k) => k === key);
  };

  const monitor = createOnlineMonitor({
    name: 'hovercraft',
    machines: hovercraftMachines,
    route,
    onHostFault: (e) => {
      if (e.action === 'HostCrash' || e.action === 'HostRestart') nodeRestarted(e.node);
    },
  });

  return {
    ...monitor,
    observe(index, event) {
      const v = monitor.observe(index, event);
      if (v === undefined) learn(event);
      if (event.action === 'Apply' && config.roles[event.node] === 'node') {
        const i = (event as unknown as Fields<'Apply'>).index;
        if (typeof i === 'number' && i > (appliedMax.get(event.node) ?? 0)) appliedMax.set(event.node, i);
      }
      return v;
    },
    nodeRestarted,
    persistedFloor,
  };
}
