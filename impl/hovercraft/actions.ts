/**
 * The HovercRaft actions: one name per concept across `specs/hovercraft/HovercRaft.tla`,
 * `machines/hovercraft/` and the cores in this folder. Each core emits exactly these trace events;
 * the spec has an action of the same name whose parameters are these fields; the XState machines
 * take events of these names.
 *
 * Naming: Raft nodes are named by node id (`node1`, `node2`, …); clients by address (`"ip:port"`),
 * which with `rid` forms the R2P2 triplet that identifies a client request. An entry of a log is
 * the tuple `[term, client, rid, replier, ro]` (trace fields are JSON arrays, never objects): the
 * term it was appended in, the request it orders, the node that answers the client (fixed by the
 * leader at announce time, before the entry is first sent), and whether it is read-only.
 *
 * Modes (`mode` in a node's config): `raft` (vanilla Raft: the leader carries request bodies in
 * append_entries and always replies), `hovercraft` (requests multicast to every node, metadata-only
 * append_entries, reply load balancing with bounded queues), `hovercraft++` (as hovercraft, with
 * append_entries fanned out and replies fanned in by the aggregator switch program).
 */
import type { Addr, NodeId } from '../core.ts';

export type Mode = 'raft' | 'hovercraft' | 'hovercraft++';
export const MODES: readonly Mode[] = ['raft', 'hovercraft', 'hovercraft++'];

/** `[term, client, rid, replier, ro]`. */
export type Entry = readonly [term: number, client: Addr, rid: number, replier: NodeId, ro: boolean];
/** `[client, rid]`: the R2P2 triplet of a request. */
export type RequestId = readonly [client: Addr, rid: number];
/**
 * AGG_COMMIT's applied array: `[node, applied]` for every node of the group, in the group's order
 * (the wire's node indices): the applied index the aggregator last heard from that node in a reply
 * of the current term (0 if none; the leader's is 0, it does not reply to itself).
 */
export type AppliedIndices = readonly (readonly [node: NodeId, applied: number])[];

export type KvOpName = 'get' | 'put' | 'cas';
/** get → the value or null; put → true; cas → whether it swapped. */
export type KvResult = string | null | boolean;

export interface HovercraftActions {
  // ---- client (node = the client) ----
  /**
   * The client sends a key-value operation as an R2P2 request (policy REPLICATED_ROUTE, or
   * REPLICATED_ROUTE_NO_SE when `ro`) to the flow-control middlebox. One operation at a time per
   * client. `value` is the put's value or the cas's new value; `expected` the cas's expected value.
   */
  ClientRequest: {
    rid: number; op: KvOpName; key: string; value: string | null; expected: string | null; ro: boolean;
  };
  /** The client accepts the reply to `rid` from `from` (the replier's address). */
  ClientReceiveReply: { rid: number; from: Addr; result: KvResult };
  /** The middlebox refused `rid` (NACK, an R2P2 DROP): the operation did not take effect. */
  ClientReceiveNack: { rid: number };
  /** The client gives up on `rid`: the operation may or may not take effect. */
  ClientTimeout: { rid: number };

  // ---- flow-control middlebox (switch program, node = its id) ----
  /** A client request gets a free slot and is multicast to every node. `inflight` after it. */
  MiddleboxForward: { client: Addr; rid: number; inflight: number };
  /** No slot free (inflight = threshold): the middlebox answers NACK (DROP) to the client. */
  MiddleboxNack: { client: Addr; rid: number; inflight: number };
  /** A FEEDBACK about (client, rid) frees its slot. */
  MiddleboxFeedback: { client: Addr; rid: number; inflight: number };
  /** A slot held longer than the slot timeout is freed (its reply or FEEDBACK was lost). */
  MiddleboxExpire: { client: Addr; rid: number; inflight: number };

  // ---- Raft node (node = the node id) ----
  /** The node starts (or restarts) with its persistent state: term, vote and log. */
  NodeStart: { term: number; votedFor: NodeId | null; log: Entry[] };
  /** A follower (or candidate) puts a multicast client request into its unordered set. */
  FollowerBuffer: { client: Addr; rid: number; ro: boolean };
  /** A follower drops an unordered request that lingered past the garbage-collection timeout. */
  FollowerGc: { client: Addr; rid: number };
  /** The leader appends a client request at `index` of its log (replier not yet chosen). */
  LeaderAppend: { term: number; index: number; client: Addr; rid: number; ro: boolean };
  /** Election timeout: the node becomes candidate for `term` and votes for itself. */
  BecomeCandidate: { term: number };
  SendRequestVote: { to: NodeId; term: number; lastIndex: number; lastTerm: number };
  /** A node answers a vote request (after adopting a higher term, if any). */
  HandleRequestVote: { from: NodeId; term: number; lastIndex: number; lastTerm: number; granted: boolean };
  /** A candidate counts a vote reply; `votes` is its tally afterwards. */
  HandleVoteReply: { from: NodeId; term: number; granted: boolean; votes: number };
  BecomeLeader: { term: number };
  /** The node saw a higher term (`term` is the new one) and becomes a follower. */
  StepDown: { term: number };
  /**
   * The leader fixes the replier of entry `index` (moving announced_idx to `index`). `queue` is
   * the replier's bounded queue (assigned and not yet applied) after it; it is at most B.
   */
  Announce: { term: number; index: number; replier: NodeId; queue: number };
  /** The leader sends append_entries to `to` (a node id, or `aggregator` in hovercraft++). */
  SendAppendEntries: {
    to: NodeId; term: number; prevIndex: number; prevTerm: number; entries: Entry[]; commit: number;
  };
  /**
   * A follower processes append_entries. With `success` it stored `entries` from `prevIndex + 1`
   * up to `matchIndex` (truncating a conflicting suffix); entries beyond are left out because their
   * request bodies are `missing` (it asks for them with recovery requests).
   */
  HandleAppendEntries: {
    from: NodeId; term: number; prevIndex: number; prevTerm: number; entries: Entry[]; commit: number;
    success: boolean; matchIndex: number; missing: RequestId[];
  };
  /** The leader processes an append_entries reply; `applied` is the follower's applied index. */
  HandleAppendEntriesReply: { from: NodeId; term: number; success: boolean; matchIndex: number; applied: number };
  /** A follower asks `to` for the body of a request it lacks. */
  SendRecoveryRequest: { to: NodeId; client: Addr; rid: number };
  /** A node answers a recovery request; `found` whether it had the body (and sent it). */
  HandleRecoveryRequest: { from: NodeId; client: Addr; rid: number; found: boolean };
  /** A follower receives a recovered body and puts it into its unordered set. */
  HandleRecoveryReply: { from: NodeId; client: Addr; rid: number };
  /** The node's commit index advances to `index` (leader: a majority matches; follower: learnt). */
  Commit: { term: number; index: number };
  /**
   * The node applies entry `index` to its state machine. `executed` is false for a read-only
   * entry of which this node is not the replier. `digest` is `digest()` of the request body it
   * applied (the same on every node for the same index, or state machines diverge).
   */
  Apply: { index: number; client: Addr; rid: number; replier: NodeId; ro: boolean; executed: boolean; digest: string };
  /** The replier answers the client for entry `index` (and sends FEEDBACK to the middlebox). */
  Reply: { index: number; client: Addr; rid: number; result: KvResult };
  /**
   * A node takes an AGG_COMMIT (hovercraft++): commit index and every node's applied index, as the
   * message carries them (a leader takes the followers' into its view of their applied indices).
   */
  HandleAggCommit: { term: number; commit: number; applied: AppliedIndices };
  /** A new leader learns the aggregator answers (its probe came back): it uses it from now on. */
  LeaderUseAggregator: { term: number };

  // ---- aggregator (switch program, node = its id) ----
  /** A higher term reached the aggregator: its soft state is flushed. */
  AggFlush: { term: number };
  /** A new leader's probe: the aggregator answers it is up. */
  AggProbe: { from: NodeId; term: number };
  /** The aggregator fans the leader's append_entries out to every other node. */
  AggForward: { term: number; prevIndex: number; count: number; commit: number };
  /** A follower's successful append_entries reply reaches the aggregator. */
  AggReply: { from: NodeId; term: number; matchIndex: number; applied: number };
  /**
   * A majority (leader included) matches `commit`: AGG_COMMIT is multicast to every node, with
   * `applied`, each node's applied index as the aggregator's replies of this term reported it.
   */
  AggCommit: { term: number; commit: number; applied: AppliedIndices };
}

export type HovercraftActionName = keyof HovercraftActions;

export type HovercraftTraceBody = {
  [A in HovercraftActionName]: { action: A } & HovercraftActions[A];
}[HovercraftActionName];

export const HOVERCRAFT_ACTIONS: readonly HovercraftActionName[] = [
  'ClientRequest', 'ClientReceiveReply', 'ClientReceiveNack', 'ClientTimeout',
  'MiddleboxForward', 'MiddleboxNack', 'MiddleboxFeedback', 'MiddleboxExpire',
  'NodeStart', 'FollowerBuffer', 'FollowerGc', 'LeaderAppend', 'BecomeCandidate', 'SendRequestVote',
  'HandleRequestVote', 'HandleVoteReply', 'BecomeLeader', 'StepDown', 'Announce', 'SendAppendEntries',
  'HandleAppendEntries', 'HandleAppendEntriesReply', 'SendRecoveryRequest', 'HandleRecoveryRequest',
  'HandleRecoveryReply', 'Commit', 'Apply', 'Reply', 'HandleAggCommit', 'LeaderUseAggregator',
  'AggFlush', 'AggProbe', 'AggForward', 'AggReply', 'AggCommit',
];
