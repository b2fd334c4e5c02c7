/**
 * A HovercRaft node (Raft + HovercRaft + HovercRaft++): one actor per node incarnation.
 *
 *   down ──NodeStart──▶ follower ──BecomeCandidate──▶ candidate ──BecomeLeader──▶ leader
 *                          ▲  ▲                          │ ⟲ BecomeCandidate       │
 *                          │  └──StepDown, a higher term, or an append_entries ───┘
 *                          └──────────── of the term's leader ─────────────────────┘
 *
 * The states decide which events a role takes at all (e.g. LeaderAppend only in `leader`). Every
 * transition is computed by one pure function per event (`nodeUpdate`): it returns the context
 * after the event, or undefined when the node cannot take the event. The state a transition goes
 * to is the `role` of the context it computes.
 *
 * What the context tracks:
 * - `term`, `votedFor`, the term's `leader` as far as this node knows, the candidate's `voters`;
 * - the log with each entry's replier (null until the leader announces the entry). When the trace
 *   cannot tell which of two logs the node holds (see "Two possible logs"), `logs` holds both and
 *   later events keep the ones they agree with;
 * - `announced` (the longest prefix of the log whose repliers are fixed), `commit`, `applied`,
 *   the entries replied to;
 * - the leader's view of its followers (`match`), the highest AGG_COMMIT it took (`aggCommit`),
 *   and whether it uses the aggregator;
 * - a follower's `verified` index (the last index a successful append_entries of the current term
 *   stored) and the highest commit index it heard (`knownCommit`);
 * - request bodies: the unordered set (`buffered`: requests buffered or recovered and neither
 *   garbage-collected nor stored in the log yet), bodies of entries the log lost (`dropped`), the
 *   bodies it reported `missing` (`awaiting`) and those it asked peers for (`asked`);
 * - after a restart, `persisted`: what the earlier incarnations are known to have made durable
 *   (worked out by the monitor from messages other nodes took; see `index.ts`).
 *
 * Rules (each a guard of the event's update):
 * - NodeStart: only when down; the log's terms never decrease and do not pass the term; after a
 *   restart at least the persisted term, the vote of that term and the persisted log prefix
 *   (repliers included).
 * - Terms never decrease: BecomeCandidate takes term + 1; StepDown a higher term (a candidate may
 *   also step down in its own term); messages of a higher term make the node adopt it; actions of
 *   the leader and candidate carry the current term.
 * - Elections: a vote is granted only in the current term, once per term (or again to the same
 *   candidate), and only to a candidate whose log is at least as up to date. HandleVoteReply
 *   reports the tally of distinct voters; BecomeLeader needs a majority of `n`. BecomeLeader
 *   appends the no-op `[term, "0.0.0.0:0", term, leader, false]`, its replier fixed (a
 *   LeaderAppend and an Announce may restate it once each).
 * - LeaderAppend, Announce, SendAppendEntries, LeaderUseAggregator: only as leader, current term.
 *   LeaderAppend appends at the end of the log. Announce fixes the replier of the first entry
 *   without one (log order), to a node of the run (the leader itself under `replierPolicy:
 *   'leader'`), with a queue of 1 … B (no bound under 'leader', nor for the leader naming itself
 *   when the mode is unknown: see `boundsLeader`). append_entries carry exactly the leader's
 *   entries, announced ones only, to a peer (or to the aggregator once the leader uses it), never
 *   a commit index above the leader's.
 * - HandleAppendEntries: a leader never takes one of its own term, and a node sees one leader per
 *   term. Success only when the log has (prevIndex, prevTerm); stored entries never change a
 *   stored entry of the same term (its replier is fixed) and never remove a committed one;
 *   `matchIndex` stops short of the end only at a body listed in `missing`.
 * - Commit: the commit index only grows and stays within the log. A leader commits an entry of its
 *   own term that a majority (itself included) matches, or that an AGG_COMMIT of its term
 *   covers; a follower up to its verified index and the commit index it heard.
 * - Apply: in index order, never past commit; the entry as logged; a read-only entry is executed
 *   only by its replier. Reply: only an applied entry whose replier is this node, at most once,
 *   never for the no-op, with a result of the entry's kind (read-only: a value or null; otherwise
 *   a boolean).
 * - Bodies: FollowerBuffer only while not leader; FollowerGc only a request of the unordered set
 *   (not one stored in the log since); a recovery request only for a body reported missing; a
 *   recovery reply only for a body asked for; `found` only for a body the node holds (unordered,
 *   in its log, or of an entry its log lost).
 * - HandleAggCommit only in the current term (a leader's never beyond its log), with an applied
 *   array of one `[node, index]` for each node of the run.
 * - Applied indices never overstated (with `truth`, the monitor's record of every node's Apply
 *   events): the applied index of an append_entries reply, and each index of an AGG_COMMIT, is at
 *   most what that node has applied so far (in any incarnation); an Announce's queue is at least
 *   the replier's true queue, the entries of the leader's log up to the announced one assigned to
 *   it and above the highest index it has applied (the leader may count late news, never news
 *   that did not happen).
 *
 * Two possible logs. The trace leaves two cases open, and the machine keeps both logs until an
 * event (e.g. the lastIndex of a vote request, the index of an append) tells them apart:
 * - a successful append_entries that stops at a missing body whose entry conflicts with the one
 *   the node holds at that index: the node may have truncated its log there (truncate, then look
 *   for the body) or kept it (look for the body first);
 * - a leader that leaves office holding entries it never announced: it may drop them (they were
 *   never sent nor persisted) or keep them (to announce them if it leads again).
 * Either choice keeps Raft's guarantees.
 *
 * Cost. Logs are `LogView`s over shared arrays, so an append or a heartbeat costs O(entries
 * carried), not O(log); the update of an event is computed once for the monitor's `can`, the guard
 * and the action (memoised on the context and event objects).
 */
import { assign, setup } from 'xstate';
import type { Addr, NodeId } from '../../impl/core.ts';
import type { HovercraftActionName, HovercraftActions } from '../../impl/hovercraft/actions.ts';
import { isCount, isPositive } from '../r2p2/events.ts';

/** XState events of the HovercRaft machines: the trace actions with `type` in place of `action`. */
export type HovercraftEvent<A extends HovercraftActionName = HovercraftActionName> = {
  [K in A]: { type: K } & HovercraftActions[K];
}[A];

/** The client address of a leader's no-op entry. */
export const NOOP_CLIENT: Addr = '0.0.0.0:0';

export type ReplierPolicy = 'jbsq' | 'leader';
export type NodeRole = 'follower' | 'candidate' | 'leader';
const ROLES: readonly NodeRole[] = ['follower', 'candidate', 'leader'];

export const NODE_EVENT_TYPES = [
  'NodeStart', 'FollowerBuffer', 'FollowerGc', 'LeaderAppend', 'BecomeCandidate', 'SendRequestVote',
  'HandleRequestVote', 'HandleVoteReply', 'BecomeLeader', 'StepDown', 'Announce', 'SendAppendEntries',
  'HandleAppendEntries', 'HandleAppendEntriesReply', 'SendRecoveryRequest', 'HandleRecoveryRequest',
  'HandleRecoveryReply', 'Commit', 'Apply', 'Reply', 'HandleAggCommit', 'LeaderUseAggregator',
] as const satisfies readonly HovercraftActionName[];
export type NodeEventType = (typeof NODE_EVENT_TYPES)[number];
export type NodeEvent<K extends NodeEventType = NodeEventType> = HovercraftEvent<K>;

/** A log entry as the node holds it; `replier` is null until the leader announces the entry. */
export interface LogEntry {
  readonly term: number;
  readonly client: Addr;
  readonly rid: number;
  readonly replier: NodeId | null;
  readonly ro: boolean;
}

export const requestKey = (client: Addr, rid: number): string => `${client}#${rid}`;
const entryKey = (e: LogEntry): string => requestKey(e.client, e.rid);
const isNoop = (e: LogEntry): boolean => e.client === NOOP_CLIENT;

function sameEntry(a: LogEntry, b: LogEntry): boolean {
  return a.term === b.term && a.client === b.client && a.rid === b.rid && a.replier === b.replier && a.ro === b.ro;
}

/**
 * An immutable log: the first `length` entries of `base` (indices 1 … length). Views share `base`:
 * a view that ends where `base` ends appends in place (every other view keeps its length and never
 * sees the new entry); any other change copies. `announced` is the length of the prefix whose
 * repliers are fixed.
 */
export class LogView {
  private constructor(
    private readonly base: LogEntry[],
    readonly length: number,
    readonly announced: number,
  ) {}

  static of(entries: readonly LogEntry[]): LogView {
    let announced = 0;
    while (announced < entries.length && entries[announced]!.replier !== null) announced++;
    return new LogView([...entries], entries.length, announced);
  }

  /** Entry `index` (1-based), if the log has it. */
  entry(index: number): LogEntry | undefined {
    return index <= this.length ? this.base[index - 1] : undefined;
  }

  /** The term of entry `index`; 0 for index 0; undefined beyond the log. */
  termAt(index: number): number | undefined {
    return index === 0 ? 0 : this.entry(index)?.term;
  }

  get lastTerm(): number {
    return this.length === 0 ? 0 : this.base[this.length - 1]!.term;
  }

  push(e: LogEntry): LogView {
    const base = this.length === this.base.length ? this.base : this.base.slice(0, this.length);
    base.push(e);
    const announced = this.announced === this.length && e.replier !== null ? this.length + 1 : this.announced;
    return new LogView(base, this.length + 1, announced);
  }

  /** The first `length` entries. */
  truncate(length: number): LogView {
    return length >= this.length ? this : new LogView(this.base, length, Math.min(this.announced, length));
  }

  /** The log with the replier of entry `index` set. */
  withReplier(index: number, replier: NodeId): LogView {
    const base = this.base.slice(0, this.length);
    base[index - 1] = { ...base[index - 1]!, replier };
    let announced = this.announced;
    while (announced < this.length && base[announced]!.replier !== null) announced++;
    return new LogView(base, this.length, announced);
  }

  toArray(): LogEntry[] {
    return this.base.slice(0, this.length);
  }

  hasRequest(key: string): boolean {
    for (let i = 0; i < this.length; i++) if (entryKey(this.base[i]!) === key) return true;
    return false;
  }

  /** How many leading entries this log shares with `other`. */
  sharedPrefix(other: LogView): number {
    const n = Math.min(this.length, other.length);
    if (this.base === other.base) return n;
    let i = 0;
    while (i < n && sameEntry(this.base[i]!, other.base[i]!)) i++;
    return i;
  }

  sameAs(other: LogView): boolean {
    return this.length === other.length && this.sharedPrefix(other) === this.length;
  }
}

export interface Vote {
  readonly term: number;
  readonly for: NodeId;
}

/** What a restarted node must find in stable storage: at least this term, this vote, this log prefix. */
export interface PersistedFloor {
  readonly term: number;
  readonly vote: Vote | null;
  readonly log: readonly LogEntry[];
}

export interface NodeConfig {
  /** Every Raft node of the run. */
  readonly nodes: readonly NodeId[];
  /** The aggregator switch programs of the run (append_entries may go to them). */
  readonly aggregators: readonly NodeId[];
  /** N: the cluster size majorities are counted against. */
  readonly n: number;
  /** B: the bound of each replier's queue. */
  readonly bound: number;
  readonly replierPolicy: ReplierPolicy;
  /**
   * Whether B also binds the leader when it names itself. False when the nodes' mode is unknown:
   * in `raft` mode the leader answers every request, with no bound.
   */
  readonly boundsLeader: boolean;
}

/**
 * What the monitor saw of every node's `Apply` events so far in the trace (a view shared by the
 * machines of a run, advanced by the monitor after each Apply).
 */
export interface AppliedTruth {
  /** The highest index `node` has applied, in any incarnation, so far (0: none). */
  appliedMax(node: NodeId): number;
}

export interface NodeInput extends NodeConfig {
  /** The monitor's record of every node's applies; without it applied indices are not checked. */
  readonly truth?: AppliedTruth | null;
  readonly node: NodeId;
  /** After a restart: what the earlier incarnations made durable. */
  readonly persisted?: PersistedFloor | null;
}

export interface NodeContext extends NodeConfig {
  readonly node: NodeId;
  readonly persisted: PersistedFloor | null;
  readonly truth: AppliedTruth | null;
  readonly role: NodeRole | 'down';
  readonly term: number;
  readonly votedFor: NodeId | null;
  /** The leader of the current term, once known. */
  readonly leader: NodeId | null;
  /** The logs the node may hold (one, unless the trace left two open). */
  readonly logs: readonly LogView[];
  /** Length of the log prefix whose repliers are fixed (of the first possible log). */
  readonly announced: number;
  readonly commit: number;
  readonly applied: number;
  /** Indices this node replied for. */
  readonly replied: ReadonlySet<number>;
  /** Candidate: the distinct nodes that voted for it in this term (itself included). */
  readonly voters: readonly NodeId[];
  /** Leader: the highest matchIndex each follower reported in this term. */
  readonly match: Readonly<Record<NodeId, number>>;
  /** Leader: the highest AGG_COMMIT taken in this term. */
  readonly aggCommit: number;
  readonly useAggregator: boolean;
  /** A new leader's no-op may still be restated by a LeaderAppend / an Announce of it. */
  readonly noopAppendOpen: boolean;
  readonly noopAnnounceOpen: boolean;
  /** Follower: the last index a successful append_entries of this term stored. */
  readonly verified: number;
  /** The highest commit index heard from a leader or the aggregator. */
  readonly knownCommit: number;
  /** Request keys (`client#rid`); see the module comment. */
  readonly buffered: ReadonlySet<string>;
  readonly dropped: ReadonlySet<string>;
  readonly awaiting: ReadonlySet<string>;
  readonly asked: ReadonlySet<string>;
}

type Update = Partial<NodeContext>;

// ---- helpers -----------------------------------------------------------------------------------

const isNode = (c: NodeContext, x: unknown): x is NodeId => typeof x === 'string' && c.nodes.includes(x);
const isPeer = (c: NodeContext, x: unknown): x is NodeId => isNode(c, x) && x !== c.node;
const isAggregator = (c: NodeContext, x: unknown): boolean =>
  typeof x === 'string' && (x === 'aggregator' || c.aggregators.includes(x));
const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
const max = Math.max;

/**
 * A trace entry `[term, client, rid, replier, ro]`. `strict`: the replier must be a node of the run
 * (entries on the wire are announced); otherwise any other replier reads as not yet announced.
 */
function parseEntry(c: NodeContext, x: unknown, strict: boolean): LogEntry | undefined {
  if (!Array.isArray(x) || x.length !== 5) return undefined;
  const [term, client, rid, replier, ro] = x as unknown[];
  if (!isPositive(term) || typeof client !== 'string' || !isCount(rid) || typeof replier !== 'string' || !isBool(ro)) {
    return undefined;
  }
  if (strict && !isNode(c, replier)) return undefined;
  return { term, client, rid, replier: isNode(c, replier) ? replier : null, ro };
}

/** Entries whose terms never decrease, starting at `from` or above. */
function parseEntries(c: NodeContext, xs: unknown, strict: boolean, from: number): LogEntry[] | undefined {
  if (!Array.isArray(xs)) return undefined;
  const out: LogEntry[] = [];
  let term = from;
  for (const x of xs) {
    const e = parseEntry(c, x, strict);
    if (e === undefined || e.term < term) return undefined;
    term = e.term;
    out.push(e);
  }
  return out;
}

function parseRequestIds(xs: unknown): string[] | undefined {
  if (!Array.isArray(xs)) return undefined;
  const out: string[] = [];
  for (const x of xs) {
    if (!Array.isArray(x) || x.length !== 2 || typeof x[0] !== 'string' || !isCount(x[1])) return undefined;
    out.push(requestKey(x[0], x[1]));
  }
  return out;
}

/** A candidate's log (lastTerm, lastIndex) is at least as up to date as `log`. */
const upToDate = (lastTerm: number, lastIndex: number, log: LogView): boolean =>
  lastTerm > log.lastTerm || (lastTerm === log.lastTerm && lastIndex >= log.length);

function dedupe(logs: readonly LogView[]): LogView[] {
  const out: LogView[] = [];
  for (const l of logs) if (!out.some((o) => o.sameAs(l))) out.push(l);
  return out;
}

const withKey = (s: ReadonlySet<string>, k: string): ReadonlySet<string> => (s.has(k) ? s : new Set(s).add(k));
const withoutKeys = (s: ReadonlySet<string>, ks: readonly string[]): ReadonlySet<string> => {
  if (!ks.some((k) => s.has(k))) return s;
  const out = new Set(s);
  for (const k of ks) out.delete(k);
  return out;
};

/** The per-term state of a node entering `term`. */
function newTerm(term: number): Update {
  return {
    term, votedFor: null, leader: null, voters: [], match: {}, aggCommit: 0, useAggregator: false,
    noopAppendOpen: false, noopAnnounceOpen: false, verified: 0,
  };
}

/**
 * The node adopts a higher term as a follower. A leader leaving office may drop or keep the
 * entries it never announced: both logs stay possible.
 */
function adoptTerm(c: NodeContext, term: number): Update {
  const update: Update = { ...newTerm(term), role: 'follower' };
  if (c.role !== 'leader') return update;
  return { ...update, logs: dedupe(c.logs.flatMap((l) => [l, l.truncate(l.announced)])) };
}

/** The log prefix every possible log of the node shares. */
export function certainLog(c: Pick<NodeContext, 'logs'>): LogEntry[] {
  const [first, ...rest] = c.logs;
  if (first === undefined) return [];
  const n = rest.reduce((k, l) => Math.min(k, first.sharedPrefix(l)), first.length);
  return first.truncate(n).toArray();
}

/** Leader: a majority (itself included when its log reaches `index`) matches `index`. */
function majorityMatches(c: NodeContext, log: LogView, index: number): boolean {
  let count = index <= log.length ? 1 : 0;
  for (const [peer, m] of Object.entries(c.match)) if (peer !== c.node && m >= index) count++;
  return count * 2 > c.n;
}

/** `logs` narrowed to those `keep` accepts; the same array when all stay. */
function narrow(logs: readonly LogView[], keep: (l: LogView) => boolean): readonly LogView[] {
  const kept = logs.filter(keep);
  return kept.length === logs.length ? logs : kept;
}

/** `applied` (reported for `node`) is more than the node has applied so far. */
const overstates = (c: NodeContext, node: NodeId, applied: number): boolean =>
  c.truth !== null && applied > c.truth.appliedMax(node);

/**
 * An applied array `[[node, index], …]`: one pair for each node of the run, each index a count;
 * as a map, or undefined if malformed.
 */
export function parseAppliedIndices(nodes: readonly NodeId[], xs: unknown): Map<NodeId, number> | undefined {
  if (!Array.isArray(xs) || xs.length !== nodes.length) return undefined;
  const out = new Map<NodeId, number>();
  for (const x of xs as unknown[]) {
    if (!Array.isArray(x) || x.length !== 2 || !nodes.includes(x[0]) || out.has(x[0]) || !isCount(x[1])) return undefined;
    out.set(x[0] as NodeId, x[1] as number);
  }
  return out;
}

/**
 * Whether, on `log` (the replier of `index` fixed), `replier` truly has more than `queue` entries
 * assigned and not applied up to `index`: client entries with that replier above its highest
 * applied index.
 */
function trueQueueExceeds(c: NodeContext, log: LogView, index: number, replier: NodeId, queue: number): boolean {
  if (c.truth === null) return false;
  const applied = c.truth.appliedMax(replier);
  let n = 0;
  for (let i = index; i > applied; i--) {
    const x = log.entry(i);
    if (x !== undefined && x.replier === replier && !isNoop(x) && ++n > queue) return true;
  }
  return false;
}

// ---- one update per event ----------------------------------------------------------------------

type Step<K extends NodeEventType> = (c: NodeContext, e: NodeEvent<K>) => Update | undefined;

const nodeStart: Step<'NodeStart'> = (c, e) => {
  if (!isCount(e.term) || !(e.votedFor === null || isNode(c, e.votedFor))) return undefined;
  const log = parseEntries(c, e.log, false, 0);
  if (log === undefined || (log.length > 0 && log[log.length - 1]!.term > e.term)) return undefined;
  const p = c.persisted;
  if (p !== null) {
    if (e.term < p.term) return undefined;
    if (p.vote !== null && p.vote.term === e.term && e.votedFor !== p.vote.for) return undefined;
    if (log.length < p.log.length) return undefined;
    const kept = p.log.every((x, i) => {
      const y = log[i]!;
      return x.term === y.term && x.client === y.client && x.rid === y.rid && x.ro === y.ro &&
        (x.replier === null || x.replier === y.replier);
    });
    if (!kept) return undefined;
  }
  return {
    ...newTerm(e.term), role: 'follower', votedFor: e.votedFor, logs: [LogView.of(log)], commit: 0, applied: 0,
    replied: new Set(), knownCommit: 0, buffered: new Set(), dropped: new Set(), awaiting: new Set(), asked: new Set(),
  };
};

const followerBuffer: Step<'FollowerBuffer'> = (c, e) => {
  if (typeof e.client !== 'string' || !isCount(e.rid) || !isBool(e.ro)) return undefined;
  return { buffered: withKey(c.buffered, requestKey(e.client, e.rid)) };
};

const followerGc: Step<'FollowerGc'> = (c, e) => {
  const k = requestKey(e.client, e.rid);
  return c.buffered.has(k) ? { buffered: withoutKeys(c.buffered, [k]) } : undefined;
};

const leaderAppend: Step<'LeaderAppend'> = (c, e) => {
  if (e.term !== c.term || typeof e.client !== 'string' || !isCount(e.rid) || !isBool(e.ro)) return undefined;
  const atEnd = c.logs.filter((l) => e.index === l.length + 1);
  if (atEnd.length > 0) {
    const entry: LogEntry = { term: c.term, client: e.client, rid: e.rid, replier: null, ro: e.ro };
    return {
      logs: atEnd.map((l) => l.push(entry)), noopAppendOpen: false,
      buffered: withoutKeys(c.buffered, [requestKey(e.client, e.rid)]),
    };
  }
  // The new leader's no-op, appended at BecomeLeader, restated.
  if (!c.noopAppendOpen || e.client !== NOOP_CLIENT || e.rid !== c.term || e.ro) return undefined;
  const noopAt = c.logs.filter((l) => {
    const x = l.entry(e.index);
    return e.index === l.length && x !== undefined && isNoop(x) && x.term === c.term;
  });
  return noopAt.length > 0 ? { logs: noopAt, noopAppendOpen: false } : undefined;
};

const becomeCandidate: Step<'BecomeCandidate'> = (c, e) => {
  if (e.term !== c.term + 1) return undefined;
  return { ...newTerm(e.term), role: 'candidate', votedFor: c.node, voters: [c.node] };
};

const sendRequestVote: Step<'SendRequestVote'> = (c, e) => {
  if (e.term !== c.term || !isPeer(c, e.to)) return undefined;
  const logs = narrow(c.logs, (l) => e.lastIndex === l.length && e.lastTerm === l.lastTerm);
  return logs.length > 0 ? { logs } : undefined;
};

const handleRequestVote: Step<'HandleRequestVote'> = (c, e) => {
  if (!isPeer(c, e.from) || !isCount(e.term) || !isCount(e.lastIndex) || !isCount(e.lastTerm) || !isBool(e.granted)) {
    return undefined;
  }
  const adopt = e.term > c.term;
  const base: Update = adopt ? adoptTerm(c, e.term) : {};
  if (!e.granted) return base;
  if (e.term < c.term) return undefined;
  const votedFor = adopt ? null : c.votedFor;
  if (votedFor !== null && votedFor !== e.from) return undefined;
  const logs = narrow(base.logs ?? c.logs, (l) => upToDate(e.lastTerm, e.lastIndex, l));
  if (logs.length === 0) return undefined;
  return { ...base, logs, votedFor: e.from };
};

const handleVoteReply: Step<'HandleVoteReply'> = (c, e) => {
  if (!isPeer(c, e.from) || !isCount(e.term) || !isBool(e.granted)) return undefined;
  // A reply of a higher term: the candidate steps down.
  if (e.term > c.term) return e.granted ? undefined : adoptTerm(c, e.term);
  // A reply of an earlier election counts for nothing.
  if (e.term < c.term) return e.votes === c.voters.length ? {} : undefined;
  const voters = e.granted && !c.voters.includes(e.from) ? [...c.voters, e.from] : c.voters;
  return e.votes === voters.length ? { voters } : undefined;
};

const becomeLeader: Step<'BecomeLeader'> = (c, e) => {
  if (e.term !== c.term || c.voters.length * 2 <= c.n) return undefined;
  const noop: LogEntry = { term: c.term, client: NOOP_CLIENT, rid: c.term, replier: c.node, ro: false };
  return {
    role: 'leader', leader: c.node, match: {}, aggCommit: 0, useAggregator: false,
    noopAppendOpen: true, noopAnnounceOpen: true, logs: c.logs.map((l) => l.push(noop)),
  };
};

const stepDown: Step<'StepDown'> = (c, e) => {
  if (!isCount(e.term)) return undefined;
  if (e.term > c.term) return adoptTerm(c, e.term);
  if (e.term === c.term && c.role === 'candidate') return { role: 'follower' };
  return undefined;
};

const announce: Step<'Announce'> = (c, e) => {
  if (e.term !== c.term || !isNode(c, e.replier) || !isPositive(e.queue)) return undefined;
  if (c.replierPolicy === 'leader' ? e.replier !== c.node : e.queue > c.bound && (c.boundsLeader || e.replier !== c.node)) {
    return undefined;
  }
  const next = c.logs.filter((l) => l.announced === e.index - 1 && e.index <= l.length);
  if (next.length > 0) {
    const logs = next.map((l) => l.withReplier(e.index, e.replier));
    // The queue is never shorter than the replier's true one (its applied index not overstated).
    const kept = logs.filter((l) => !trueQueueExceeds(c, l, e.index, e.replier, e.queue));
    return kept.length > 0 ? { noopAnnounceOpen: false, logs: kept } : undefined;
  }
  // The new leader's no-op (its replier fixed at BecomeLeader) restated, in log order.
  if (!c.noopAnnounceOpen || e.replier !== c.node) return undefined;
  const noopAt = c.logs.filter((l) => {
    const x = l.entry(e.index);
    return x !== undefined && isNoop(x) && x.term === c.term && x.replier === c.node && l.announced >= e.index;
  });
  return noopAt.length > 0 ? { logs: noopAt, noopAnnounceOpen: false } : undefined;
};

const sendAppendEntries: Step<'SendAppendEntries'> = (c, e) => {
  if (e.term !== c.term || !(isPeer(c, e.to) || (isAggregator(c, e.to) && c.useAggregator))) return undefined;
  if (!isCount(e.commit) || e.commit > c.commit) return undefined;
  const entries = parseEntries(c, e.entries, true, e.prevTerm);
  if (entries === undefined) return undefined;
  const logs = narrow(c.logs, (l) =>
    e.prevIndex + entries.length <= l.length && l.termAt(e.prevIndex) === e.prevTerm &&
    entries.every((x, j) => sameEntry(x, l.entry(e.prevIndex + 1 + j)!)));
  return logs.length > 0 ? { logs } : undefined;
};

/**
 * `log` after storing `entries` (from `prevIndex + 1`) up to `matchIndex`: one or two possible
 * logs (see "Two possible logs") and the requests of the entries it removed; undefined if the
 * store is not possible on this log.
 */
function storeEntries(
  c: NodeContext, log: LogView, prevIndex: number, prevTerm: number, entries: readonly LogEntry[], matchIndex: number,
): { logs: LogView[]; removed: string[] } | undefined {
  if (log.termAt(prevIndex) !== prevTerm) return undefined;
  const removed: string[] = [];
  const cut = (l: LogView, length: number): LogView => {
    for (let i = length + 1; i <= l.length; i++) removed.push(entryKey(l.entry(i)!));
    return l.truncate(length);
  };
  let out = log;
  for (let idx = prevIndex + 1; idx <= matchIndex; idx++) {
    const x = entries[idx - prevIndex - 1]!;
    const old = out.entry(idx);
    if (old !== undefined) {
      if (old.term === x.term) {
        // Log matching: the same index and term is the same entry, replier included.
        if (!sameEntry(old, x)) return undefined;
        continue;
      }
      // A conflicting suffix goes, but never a committed entry.
      if (idx <= c.commit) return undefined;
      out = cut(out, idx - 1);
    }
    out = out.push(x);
  }
  const logs = [out];
  const next = matchIndex + 1;
  const old = out.entry(next);
  const x = entries[next - prevIndex - 1];
  if (x !== undefined && old !== undefined && old.term !== x.term && next > c.commit) logs.push(cut(out, next - 1));
  return { logs, removed };
}

const handleAppendEntries: Step<'HandleAppendEntries'> = (c, e) => {
  if (!(isPeer(c, e.from) || isAggregator(c, e.from)) || !isCount(e.term) || !isCount(e.prevIndex) ||
    !isCount(e.prevTerm) || !isCount(e.commit) || !isBool(e.success) || !isCount(e.matchIndex)) return undefined;
  const entries = parseEntries(c, e.entries, true, e.prevTerm);
  const missing = parseRequestIds(e.missing);
  if (entries === undefined || missing === undefined) return undefined;
  // A stale leader: refused.
  if (e.term < c.term) return e.success ? undefined : {};
  if (e.term === c.term && c.role === 'leader') return undefined;
  const from = isPeer(c, e.from) ? e.from : null;
  if (e.term === c.term && c.leader !== null && from !== null && from !== c.leader) return undefined;
  if (e.prevTerm > e.term || (entries.length > 0 && entries[entries.length - 1]!.term > e.term)) return undefined;
  const base: Update = {
    ...(e.term > c.term ? adoptTerm(c, e.term) : {}),
    role: 'follower',
    leader: from ?? (e.term > c.term ? null : c.leader),
    knownCommit: max(c.knownCommit, e.commit),
  };
  const before = base.logs ?? c.logs;
  if (!e.success) {
    const logs = narrow(before, (l) => l.termAt(e.prevIndex) !== e.prevTerm);
    return logs.length > 0 ? { ...base, logs } : undefined;
  }
  const end = e.prevIndex + entries.length;
  if (e.matchIndex < e.prevIndex || e.matchIndex > end) return undefined;
  const stored = entries.slice(0, e.matchIndex - e.prevIndex).map(entryKey);
  if (e.matchIndex < end) {
    // Stopped at the first entry whose body is missing; only bodies of entries left out are missing.
    const left = entries.slice(e.matchIndex - e.prevIndex).map(entryKey);
    if (!missing.includes(left[0]!) || !missing.every((k) => left.includes(k))) return undefined;
  } else if (missing.length > 0) {
    return undefined;
  }
  const logs: LogView[] = [];
  const removed: string[] = [];
  for (const l of before) {
    const r = storeEntries(c, l, e.prevIndex, e.prevTerm, entries, e.matchIndex);
    if (r === undefined) continue;
    logs.push(...r.logs);
    removed.push(...r.removed);
  }
  if (logs.length === 0) return undefined;
  const verifiedBefore = e.term > c.term ? 0 : c.verified;
  let { dropped, awaiting } = c;
  for (const k of removed) dropped = withKey(dropped, k);
  for (const k of missing) awaiting = withKey(awaiting, k);
  return {
    ...base, logs: logs.length === 1 ? logs : dedupe(logs), verified: max(verifiedBefore, e.matchIndex),
    buffered: withoutKeys(c.buffered, stored), dropped, awaiting,
  };
};

const handleAppendEntriesReply: Step<'HandleAppendEntriesReply'> = (c, e) => {
  if (!isPeer(c, e.from) || !isCount(e.term) || !isBool(e.success) || !isCount(e.matchIndex) || !isCount(e.applied)) {
    return undefined;
  }
  // The follower reports no more than it has applied.
  if (overstates(c, e.from, e.applied)) return undefined;
  if (e.term > c.term) return e.success ? undefined : adoptTerm(c, e.term);
  // A reply to an append_entries of an earlier term changes nothing.
  if (e.term < c.term) return {};
  if (c.role !== 'leader') return undefined;
  if (!e.success) return {};
  const logs = narrow(c.logs, (l) => e.matchIndex <= l.length);
  if (logs.length === 0) return undefined;
  return { logs, match: { ...c.match, [e.from]: max(c.match[e.from] ?? 0, e.matchIndex) } };
};

const sendRecoveryRequest: Step<'SendRecoveryRequest'> = (c, e) => {
  const k = requestKey(e.client, e.rid);
  return isPeer(c, e.to) && c.awaiting.has(k) ? { asked: withKey(c.asked, k) } : undefined;
};

const handleRecoveryRequest: Step<'HandleRecoveryRequest'> = (c, e) => {
  if (!isPeer(c, e.from) || typeof e.client !== 'string' || !isCount(e.rid) || !isBool(e.found)) return undefined;
  if (!e.found) return {};
  const k = requestKey(e.client, e.rid);
  return c.buffered.has(k) || c.dropped.has(k) || c.logs.some((l) => l.hasRequest(k)) ? {} : undefined;
};

const handleRecoveryReply: Step<'HandleRecoveryReply'> = (c, e) => {
  const k = requestKey(e.client, e.rid);
  return isPeer(c, e.from) && c.asked.has(k) ? { buffered: withKey(c.buffered, k) } : undefined;
};

const commit: Step<'Commit'> = (c, e) => {
  if (e.term !== c.term || !isPositive(e.index) || e.index <= c.commit) return undefined;
  const i = e.index;
  if (c.role === 'leader') {
    // Only an entry of the leader's term, by counting (or by an AGG_COMMIT of this term).
    const logs = narrow(c.logs, (l) => l.entry(i)?.term === c.term && (i <= c.aggCommit || majorityMatches(c, l, i)));
    return logs.length > 0 ? { logs, commit: i } : undefined;
  }
  // Every possible log holds the verified entries.
  return i > c.verified || i > c.knownCommit ? undefined : { commit: i };
};

const apply: Step<'Apply'> = (c, e) => {
  if (e.index !== c.applied + 1 || e.index > c.commit || typeof e.digest !== 'string' || !isBool(e.executed)) return undefined;
  const logs = narrow(c.logs, (l) => {
    const x = l.entry(e.index);
    return x !== undefined && x.client === e.client && x.rid === e.rid && x.replier === e.replier && x.ro === e.ro;
  });
  if (logs.length === 0) return undefined;
  // A read-only entry is executed by its replier only; every other entry by every node.
  if (e.client !== NOOP_CLIENT && e.executed !== (!e.ro || e.replier === c.node)) return undefined;
  return { logs, applied: e.index };
};

const reply: Step<'Reply'> = (c, e) => {
  if (e.index > c.applied || c.replied.has(e.index)) return undefined;
  const x = c.logs[0]!.entry(e.index);
  if (x === undefined || isNoop(x) || x.replier !== c.node || x.client !== e.client || x.rid !== e.rid) return undefined;
  const resultOk = x.ro ? e.result === null || typeof e.result === 'string' : isBool(e.result);
  return resultOk ? { replied: new Set(c.replied).add(e.index) } : undefined;
};

const handleAggCommit: Step<'HandleAggCommit'> = (c, e) => {
  if (e.term !== c.term || !isCount(e.commit)) return undefined;
  const applied = parseAppliedIndices(c.nodes, e.applied);
  if (applied === undefined) return undefined;
  for (const [node, a] of applied) if (overstates(c, node, a)) return undefined;
  if (c.role !== 'leader') return { knownCommit: max(c.knownCommit, e.commit) };
  const logs = narrow(c.logs, (l) => e.commit <= l.length);
  if (logs.length === 0) return undefined;
  return { logs, knownCommit: max(c.knownCommit, e.commit), aggCommit: max(c.aggCommit, e.commit) };
};

const leaderUseAggregator: Step<'LeaderUseAggregator'> = (c, e) =>
  e.term === c.term && !c.useAggregator ? { useAggregator: true } : undefined;

const STEPS: { readonly [K in NodeEventType]: Step<K> } = {
  NodeStart: nodeStart,
  FollowerBuffer: followerBuffer,
  FollowerGc: followerGc,
  LeaderAppend: leaderAppend,
  BecomeCandidate: becomeCandidate,
  SendRequestVote: sendRequestVote,
  HandleRequestVote: handleRequestVote,
  HandleVoteReply: handleVoteReply,
  BecomeLeader: becomeLeader,
  StepDown: stepDown,
  Announce: announce,
  SendAppendEntries: sendAppendEntries,
  HandleAppendEntries: handleAppendEntries,
  HandleAppendEntriesReply: handleAppendEntriesReply,
  SendRecoveryRequest: sendRecoveryRequest,
  HandleRecoveryRequest: handleRecoveryRequest,
  HandleRecoveryReply: handleRecoveryReply,
  Commit: commit,
  Apply: apply,
  Reply: reply,
  HandleAggCommit: handleAggCommit,
  LeaderUseAggregator: leaderUseAggregator,
};

let memo: { readonly c: NodeContext; readonly e: NodeEvent; readonly next: NodeContext | undefined } | undefined;

/** The node's context after `e`, or undefined if the node cannot take `e`. */
export function nodeUpdate(c: NodeContext, e: NodeEvent): NodeContext | undefined {
  if (memo !== undefined && memo.c === c && memo.e === e) return memo.next;
  const step = STEPS[e.type] as Step<NodeEventType> | undefined;
  const u = step?.(c, e);
  let next: NodeContext | undefined;
  if (u !== undefined) {
    next = { ...c, ...u };
    if (u.logs !== undefined) next = { ...next, announced: next.logs[0]!.announced };
  }
  memo = { c, e, next };
  return next;
}

// ---- the machine -------------------------------------------------------------------------------

/** Transitions of an event from state `from`: to whichever role the update computes. */
function moves(from: NodeRole | 'down') {
  return ROLES.map((role) => ({
    guard: { type: 'becomes', params: { role } } as const,
    ...(role === from ? {} : { target: role }),
    actions: 'update' as const,
  }));
}

/** Events a node takes in every role. */
const LIVE = (from: NodeRole) => ({
  StepDown: moves(from),
  HandleRequestVote: moves(from),
  HandleAppendEntries: moves(from),
  HandleAppendEntriesReply: moves(from),
  FollowerGc: moves(from),
  SendRecoveryRequest: moves(from),
  HandleRecoveryRequest: moves(from),
  HandleRecoveryReply: moves(from),
  Commit: moves(from),
  Apply: moves(from),
  Reply: moves(from),
  HandleAggCommit: moves(from),
});

export const nodeMachine = setup({
  types: {} as { context: NodeContext; events: NodeEvent; input: NodeInput },
  guards: {
    becomes: ({ context, event }, params: { role: NodeRole }) => nodeUpdate(context, event)?.role === params.role,
  },
  actions: {
    update: assign(({ context, event }) => nodeUpdate(context, event) ?? context),
  },
}).createMachine({
  id: 'hovercraft-node',
  context: ({ input }) => ({
    node: input.node, nodes: input.nodes, aggregators: input.aggregators, n: input.n, bound: input.bound,
    replierPolicy: input.replierPolicy, boundsLeader: input.boundsLeader, persisted: input.persisted ?? null,
    truth: input.truth ?? null,
    role: 'down', term: 0, votedFor: null, leader: null, logs: [LogView.of([])], announced: 0, commit: 0, applied: 0,
    replied: new Set(), voters: [], match: {}, aggCommit: 0, useAggregator: false, noopAppendOpen: false,
    noopAnnounceOpen: false, verified: 0, knownCommit: 0, buffered: new Set(), dropped: new Set(),
    awaiting: new Set(), asked: new Set(),
  }),
  initial: 'down',
  states: {
    /** Not started (or crashed): only NodeStart, with what stable storage holds. */
    down: { on: { NodeStart: moves('down') } },
    follower: {
      on: { ...LIVE('follower'), FollowerBuffer: moves('follower'), BecomeCandidate: moves('follower') },
    },
    candidate: {
      on: {
        ...LIVE('candidate'),
        FollowerBuffer: moves('candidate'),
        BecomeCandidate: moves('candidate'),
        SendRequestVote: moves('candidate'),
        HandleVoteReply: moves('candidate'),
        BecomeLeader: moves('candidate'),
      },
    },
    leader: {
      on: {
        ...LIVE('leader'),
        LeaderAppend: moves('leader'),
        Announce: moves('leader'),
        SendAppendEntries: moves('leader'),
        LeaderUseAggregator: moves('leader'),
      },
    },
  },
});
