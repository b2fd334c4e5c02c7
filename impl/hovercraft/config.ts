/**
 * Shared pieces of the HovercRaft cores: role names, config validation (a malformed config throws
 * `ConfigError` naming the offending field) and the seeded bug names.
 */
import type { Addr, CoreOutput, NodeId } from '../core.ts';
import { ConfigError, addrField, configObject, enumField, numField } from '../r2p2/common.ts';
import type { HovercraftTraceBody, Mode } from './actions.ts';
import { MODES } from './actions.ts';
import { MAX_NODES } from './wire.ts';

export const NODE_ROLE = 'hovercraft-node';
export const AGGREGATOR_ROLE = 'hovercraft-aggregator';

// ---------------------------------------------------------------- seeded bugs

/** The leader commits at the match index of any single follower, without a majority. */
export const BUG_COMMIT_WITHOUT_MAJORITY = 'commit-without-majority';
/** The leader re-picks the replier by JBSQ every time it (re)sends an entry. */
export const BUG_REPLIER_REASSIGNED = 'replier-reassigned';
/** A follower answers a get from its local state as soon as the request arrives, before ordering. */
export const BUG_STALE_READ_BY_NON_REPLIER = 'stale-read-by-non-replier';
/** A follower stores and applies an announced entry whose body it lacks, applying an empty body. */
export const BUG_APPLY_WITHOUT_BODY = 'apply-without-body';
/** The leader ignores the bound B when it picks repliers. */
export const BUG_BOUNDED_QUEUE_IGNORED = 'bounded-queue-ignored';
/** The aggregator multicasts AGG_COMMIT on the first success reply, without a majority. */
export const BUG_AGGREGATOR_COMMITS_EARLY = 'aggregator-commits-early';
/**
 * The aggregator records a follower's match index as its applied index, so AGG_COMMIT overstates
 * how far the follower has applied and the leader counts its queue as drained too early.
 */
export const BUG_AGGREGATOR_OVERSTATES_APPLIED = 'aggregator-overstates-applied';

/** A node grants its vote to every candidate of its term, although it voted already (spec: DoubleVote). */
export const BUG_DOUBLE_VOTE = 'double-vote';
/** A follower takes append_entries without checking the term of its entry at prevIndex (spec: SkipLogCheck). */
export const BUG_SKIP_LOG_CHECK = 'skip-log-check';
/** A node grants its vote without checking that the candidate's log is at least as up to date as its own. */
export const BUG_VOTE_WITHOUT_LOG_CHECK = 'vote-without-log-check';
/** Every node executes a read-only entry, not only its replier. */
export const BUG_READ_EXECUTED_BY_ALL = 'read-executed-by-all';

export const HOVERCRAFT_BUGS = [
  BUG_COMMIT_WITHOUT_MAJORITY,
  BUG_REPLIER_REASSIGNED,
  BUG_STALE_READ_BY_NON_REPLIER,
  BUG_APPLY_WITHOUT_BODY,
  BUG_BOUNDED_QUEUE_IGNORED,
  BUG_AGGREGATOR_COMMITS_EARLY,
  BUG_AGGREGATOR_OVERSTATES_APPLIED,
  BUG_DOUBLE_VOTE,
  BUG_SKIP_LOG_CHECK,
  BUG_VOTE_WITHOUT_LOG_CHECK,
  BUG_READ_EXECUTED_BY_ALL,
] as const;
export type HovercraftBugName = (typeof HOVERCRAFT_BUGS)[number];

// ---------------------------------------------------------------- configs

export const REPLIER_POLICIES = ['jbsq', 'leader'] as const;
export type ReplierPolicy = (typeof REPLIER_POLICIES)[number];

export interface NodeConfig {
  /** This node's id; it must be one of `nodes`. */
  readonly self: NodeId;
  /** Every node of the group, in order: a node's position is its index on the wire. */
  readonly nodes: readonly NodeId[];
  readonly addrs: Readonly<Record<NodeId, Addr>>;
  readonly mode: Mode;
  readonly replierPolicy: ReplierPolicy;
  /** B: most entries announced to a node and not yet applied by it (as the leader knows). */
  readonly bound: number;
  /** The flow-control middlebox: FEEDBACK after every reply goes there. */
  readonly middlebox: Addr;
  /** The HovercRaft++ aggregator. */
  readonly aggregator: Addr;
  /** Election timeouts are drawn uniformly from [electionMinUs, electionMaxUs]. */
  readonly electionMinUs: number;
  readonly electionMaxUs: number;
  /** The leader sends an append_entries after this long without one to a follower (or aggregator). */
  readonly heartbeatUs: number;
  /** Unordered requests older than this are garbage-collected. */
  readonly gcUs: number;
  /** A recovery request unanswered this long is retried with the next peer. */
  readonly recoveryRetryUs: number;
  /** A leader whose aggregator probe is unanswered this long runs without the aggregator. */
  readonly probeTimeoutUs: number;
}

export interface AggregatorConfig {
  readonly nodes: readonly NodeId[];
  readonly addrs: Readonly<Record<NodeId, Addr>>;
}

type Obj = { readonly [k: string]: unknown };

function nodesField(role: string, c: Obj): NodeId[] {
  const v = c.nodes;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_NODES) {
    throw new ConfigError(role, 'nodes', `must be a list of 1 to ${MAX_NODES} node ids, got ${JSON.stringify(v)}`);
  }
  for (const n of v) {
    if (typeof n !== 'string' || n === '') throw new ConfigError(role, 'nodes', `must hold non-empty strings, got ${JSON.stringify(n)}`);
  }
  if (new Set(v).size !== v.length) throw new ConfigError(role, 'nodes', 'must not repeat a node id');
  return v as NodeId[];
}

function addrsField(role: string, c: Obj, nodes: readonly NodeId[]): Record<NodeId, Addr> {
  const v = c.addrs;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ConfigError(role, 'addrs', 'must be an object from node id to address');
  }
  const out: Record<NodeId, Addr> = {};
  for (const n of nodes) {
    const a = (v as Obj)[n];
    if (a === undefined) throw new ConfigError(role, 'addrs', `has no address for node ${JSON.stringify(n)}`);
    out[n] = addrField(role, v as Obj, n);
  }
  return out;
}

const NODE_FIELDS = [
  'self', 'nodes', 'addrs', 'mode', 'replierPolicy', 'bound', 'middlebox', 'aggregator', 'electionMinUs',
  'electionMaxUs', 'heartbeatUs', 'gcUs', 'recoveryRetryUs', 'probeTimeoutUs',
];

export function parseNodeConfig(config: unknown): NodeConfig {
  const role = NODE_ROLE;
  const c = configObject(role, config, NODE_FIELDS);
  const nodes = nodesField(role, c);
  const self = c.self;
  if (typeof self !== 'string' || !nodes.includes(self)) {
    throw new ConfigError(role, 'self', `must be one of nodes (${nodes.join(', ')}), got ${JSON.stringify(self)}`);
  }
  const electionMinUs = numField(role, c, 'electionMinUs', { min: 1 });
  const electionMaxUs = numField(role, c, 'electionMaxUs', { min: electionMinUs });
  return {
    self,
    nodes,
    addrs: addrsField(role, c, nodes),
    mode: enumField(role, c, 'mode', MODES),
    replierPolicy: enumField(role, c, 'replierPolicy', REPLIER_POLICIES),
    bound: numField(role, c, 'bound', { min: 1, integer: true }),
    middlebox: addrField(role, c, 'middlebox'),
    aggregator: addrField(role, c, 'aggregator'),
    electionMinUs,
    electionMaxUs,
    heartbeatUs: numField(role, c, 'heartbeatUs', { min: 1 }),
    gcUs: numField(role, c, 'gcUs', { min: 1 }),
    recoveryRetryUs: numField(role, c, 'recoveryRetryUs', { min: 1 }),
    probeTimeoutUs: numField(role, c, 'probeTimeoutUs', { min: 1 }),
  };
}

export function parseAggregatorConfig(config: unknown): AggregatorConfig {
  const role = AGGREGATOR_ROLE;
  const c = configObject(role, config, ['nodes', 'addrs']);
  const nodes = nodesField(role, c);
  return { nodes, addrs: addrsField(role, c, nodes) };
}

// ---------------------------------------------------------------- outputs

export function trace(event: HovercraftTraceBody): CoreOutput<never> {
  return { kind: 'trace', event };
}

export function send(src: Addr, dst: Addr, data: Uint8Array): CoreOutput<never> {
  return { kind: 'send', packet: { src, dst, data } };
}

export { ConfigError };
