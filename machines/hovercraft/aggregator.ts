/**
 * The HovercRaft++ aggregator (a switch program): one actor per aggregator incarnation.
 *
 *   aggregating ⟲ AggFlush | AggProbe | AggForward | AggReply | AggCommit
 *
 * Soft state for one term at a time: the term, the leader once it probed, the end of what the
 * leader forwarded (the leader's match index), each follower's highest reported match and applied
 * index, the commit index multicast last, and `pending` (an append_entries that announced nothing
 * new: the next reply triggers an AGG_COMMIT even if the commit index does not move).
 *
 * Rules:
 * - AggFlush only to a higher term; it forgets everything of the earlier term (the commit index
 *   included).
 * - Every other event carries the aggregator's current term (a packet of a higher term flushes
 *   first; one of a lower term is dropped without an event).
 * - AggProbe: from a node of the run, and one leader per term.
 * - AggReply: from a node of the run other than the term's leader; with `truth` (the monitor's
 *   record of every node's Apply events), its applied index is at most what the node has applied
 *   so far.
 * - AggCommit: right after an AggReply (one AGG_COMMIT per reply at most); the commit index never
 *   decreases; it stays the same only when an append_entries announced nothing new since the last
 *   AGG_COMMIT; it rises only to an index a majority of the N nodes matches, the leader counting
 *   as matching the end of what it forwarded. Its applied array has one `[node, index]` for each
 *   node, the highest applied index this term's replies reported for it (0 for none), and (with
 *   `truth`) none above what the node has applied so far: AGG_COMMIT never overstates a node's
 *   applied index to the leader.
 */
import { assign, setup } from 'xstate';
import type { NodeId } from '../../impl/core.ts';
import { isCount, isPositive } from '../r2p2/events.ts';
import { parseAppliedIndices, type AppliedTruth, type HovercraftEvent } from './node.ts';

export type AggregatorEvent = HovercraftEvent<'AggFlush' | 'AggProbe' | 'AggForward' | 'AggReply' | 'AggCommit'>;

export interface AggregatorInput {
  readonly node: NodeId;
  /** Every Raft node of the run. */
  readonly nodes: readonly NodeId[];
  /** N: the cluster size majorities are counted against. */
  readonly n: number;
  /** The monitor's record of every node's applies; without it applied indices are not checked. */
  readonly truth?: AppliedTruth | null;
}

export interface AggregatorContext extends AggregatorInput {
  readonly term: number;
  /** The term's leader, once it probed. */
  readonly leader: NodeId | null;
  /** The end (prevIndex + count) of the furthest append_entries forwarded in this term. */
  readonly leaderEnd: number;
  /** Whether any append_entries was forwarded in this term. */
  readonly forwarded: boolean;
  /** Each follower's highest matchIndex and applied index reported in this term. */
  readonly match: Readonly<Record<NodeId, number>>;
  readonly applied: Readonly<Record<NodeId, number>>;
  readonly commit: number;
  readonly pending: boolean;
  /** The last event was an AggReply not yet answered by an AggCommit. */
  readonly replyOpen: boolean;
}

type Update = Partial<AggregatorContext>;

const flushed = (term: number): Update => ({
  term, leader: null, leaderEnd: 0, forwarded: false, match: {}, applied: {}, commit: 0, pending: false,
});

/** A majority of the N nodes matches `index` (the leader at the end of what it forwarded). */
function majorityMatches(c: AggregatorContext, index: number): boolean {
  let count = c.leaderEnd >= index ? 1 : 0;
  for (const [node, m] of Object.entries(c.match)) if (node !== c.leader && m >= index) count++;
  return count * 2 > c.n;
}

/** The aggregator's context after `e`, or undefined if it cannot take `e`. */
export function aggregatorUpdate(c: AggregatorContext, e: AggregatorEvent): AggregatorContext | undefined {
  const u = step(c, e);
  return u === undefined ? undefined : { ...c, replyOpen: false, ...u };
}

function step(c: AggregatorContext, e: AggregatorEvent): Update | undefined {
  if (e.type === 'AggFlush') return isPositive(e.term) && e.term > c.term ? flushed(e.term) : undefined;
  if (e.term !== c.term || c.term === 0) return undefined;
  switch (e.type) {
    case 'AggProbe':
      if (!c.nodes.includes(e.from) || (c.leader !== null && c.leader !== e.from)) return undefined;
      return { leader: e.from };
    case 'AggForward': {
      if (!isCount(e.prevIndex) || !isCount(e.count) || !isCount(e.commit)) return undefined;
      const end = e.prevIndex + e.count;
      return {
        leaderEnd: Math.max(c.leaderEnd, end), forwarded: true,
        pending: c.pending || end <= c.leaderEnd,
      };
    }
    case 'AggReply':
      if (!c.nodes.includes(e.from) || e.from === c.leader || !isCount(e.matchIndex) || !isCount(e.applied)) return undefined;
      if (c.truth && e.applied > c.truth.appliedMax(e.from)) return undefined;
      return {
        match: { ...c.match, [e.from]: Math.max(c.match[e.from] ?? 0, e.matchIndex) },
        applied: { ...c.applied, [e.from]: Math.max(c.applied[e.from] ?? 0, e.applied) },
        replyOpen: true,
      };
    case 'AggCommit': {
      if (!c.replyOpen || !isCount(e.commit) || e.commit < c.commit) return undefined;
      const applied = parseAppliedIndices(c.nodes, e.applied);
      if (applied === undefined) return undefined;
      for (const [node, a] of applied) {
        if (a !== (c.applied[node] ?? 0) || (c.truth && a > c.truth.appliedMax(node))) return undefined;
      }
      const ok = e.commit === c.commit ? c.pending : majorityMatches(c, e.commit);
      return ok ? { commit: e.commit, pending: false } : undefined;
    }
  }
}

export const aggregatorMachine = setup({
  types: {} as { context: AggregatorContext; events: AggregatorEvent; input: AggregatorInput },
  guards: {
    allowed: ({ context, event }) => aggregatorUpdate(context, event) !== undefined,
  },
  actions: {
    update: assign(({ context, event }) => aggregatorUpdate(context, event) ?? context),
  },
}).createMachine({
  id: 'hovercraft-aggregator',
  context: ({ input }) => ({
    node: input.node, nodes: input.nodes, n: input.n, truth: input.truth ?? null, term: 0, leader: null, leaderEnd: 0, forwarded: false,
    match: {}, applied: {}, commit: 0, pending: false, replyOpen: false,
  }),
  initial: 'aggregating',
  states: {
    aggregating: {
      on: {
        AggFlush: { guard: 'allowed', actions: 'update' },
        AggProbe: { guard: 'allowed', actions: 'update' },
        AggForward: { guard: 'allowed', actions: 'update' },
        AggReply: { guard: 'allowed', actions: 'update' },
        AggCommit: { guard: 'allowed', actions: 'update' },
      },
    },
  },
});
