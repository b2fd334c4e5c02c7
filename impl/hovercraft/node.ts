/**
 * HovercRaft node core (role `hovercraft-node`): Raft with the HovercRaft extensions, in one of
 * three modes (`raft`, `hovercraft`, `hovercraft++`; see actions.ts and
 * docs/hovercraft-design-notes.md for the rules this follows).
 *
 * Raft: follower / candidate / leader; election timeouts drawn from the seeded rng; request_vote;
 * append_entries with log matching on (prevIndex, prevTerm) and truncation of a conflicting
 * suffix; a new leader appends a no-op `[term, "0.0.0.0:0", term, leader, false]`; the leader
 * commits by counting matches of entries of its current term. Term, vote and the announced prefix
 * of the log (with the request bodies held for its entries) are persisted with a `persist` output
 * placed before the first send of the same step, and restored from `start.stable`.
 *
 * Log indices (Figure 12.3): lastIndex ≥ announced ≥ commit ≥ applied. A leader appends client
 * requests as it receives them (`LeaderAppend`) and announces them in log order (`Announce`),
 * fixing the replier once: `jbsq` picks the eligible node with the shortest bounded queue (entries
 * announced to it and not yet applied by it as the leader knows — its own applied index as of its
 * last append_entries, as stale as the followers' — eligible while < B; ties broken round-robin
 * from the last choice), `leader` (and `raft` mode) picks the leader. No eligible node:
 * the leader waits. Only announced entries are sent and persisted; a leader that steps down drops
 * its unannounced suffix (nobody else has it; the bodies stay held, see below). The no-op is announced by `BecomeLeader` itself
 * (no `LeaderAppend`/`Announce` events for it) and is in nobody's bounded queue.
 *
 * Replication. `raft`: append_entries carry the request bodies; followers ignore client requests.
 * `hovercraft`/`hovercraft++`: followers buffer client requests in an unordered set keyed by
 * (client, rid), garbage-collected after `gcUs`; append_entries carry metadata only; a follower
 * stores an entry only if it holds its body, stops at the first one it lacks and asks for each
 * missing body with `recovery_request` (the leader first, then the other peers in turn, every
 * `recoveryRetryUs`, giving up after 2·(N−1) attempts until an append_entries asks again).
 * A node holds the body of a request in its unordered set or in its log; an entry that leaves the
 * log (a truncated conflicting suffix, a former leader's unannounced suffix) puts its body back
 * into the unordered set, without an event, where it stays (no garbage collection) until it is
 * ordered again or the node becomes leader.
 *
 * Sending. The leader pipelines: each announce sends one append_entries per follower with the new
 * entries. A rejection (success false, matchIndex 0: it carries no hint) makes the leader send one
 * probe from that follower's match index + 1, which matches for sure (match 0: from the start of
 * the log); further rejections are ignored while it is outstanding, and new entries wait for the
 * follower until a success.
 * A follower that has had no append_entries for `heartbeatUs` gets one from its match index + 1
 * (a heartbeat, which also resends what is unacknowledged). Followers learn the commit index from
 * the next append_entries; nothing else carries it in direct modes.
 *
 * HovercRaft++: after its election a leader probes the aggregator (`agg_probe`); until the answer
 * (`LeaderUseAggregator`), or for the whole term if `probeTimeoutUs` passes first, it runs as
 * `hovercraft`. With the aggregator, every append_entries goes once to the aggregator (flag AGG),
 * which copies it to the other nodes; followers send success replies for those to the aggregator
 * and failures to the leader, which then serves that follower point-to-point (probe, heartbeats,
 * replies to the leader) until a direct success matches the end of the last direct append_entries.
 * AGG_COMMIT (`HandleAggCommit`) is taken only in the node's current term; a follower advances its
 * commit only up to `verified`, the highest match index of a successful append_entries from this
 * term's leader; the leader also updates its view of every node's applied index from it.
 *
 * Apply and reply: committed entries are applied in order (`Apply`) to the key-value store; a
 * read-only entry is executed only by its replier; the replier answers the client with an R2P2
 * RESPONSE (from this node's address, the request's rid, body `encodeResult`) and sends a
 * slot-form FEEDBACK to the middlebox. The index of the last entry answered is persisted too, so a
 * restarted node that applies the log again does not answer twice.
 *
 * A malformed or unexpected packet is ignored.
 */
import { match } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId, StableState } from '../core.ts';
import { digest } from '../digest.ts';
import type { Rng } from '../rng.ts';
import { ZERO_ADDR, decode, feedbackPacket, parseAddr, split, type DataMsg } from '../r2p2/codec.ts';
import { tripletKey } from '../r2p2/common.ts';
import type { Entry, RequestId } from './actions.ts';
import {
  BUG_APPLY_WITHOUT_BODY, BUG_BOUNDED_QUEUE_IGNORED, BUG_COMMIT_WITHOUT_MAJORITY, BUG_REPLIER_REASSIGNED,
  BUG_STALE_READ_BY_NON_REPLIER, BUG_DOUBLE_VOTE, BUG_SKIP_LOG_CHECK, BUG_VOTE_WITHOUT_LOG_CHECK, BUG_READ_EXECUTED_BY_ALL,
  type NodeConfig, parseNodeConfig, send, trace,
} from './config.ts';
import { KvStore, decodeOp, encodeResult } from './kv.ts';
import {
  AGGREGATOR_INDEX, MAX_AE_ENTRIES, MAX_REQUEST_BODY, decodeRaft, encodeRaft, fitEntries, type RaftMsg, type WireEntry,
} from './wire.ts';

type Out = CoreOutput<never>;
type Role = 'follower' | 'candidate' | 'leader';
type AggState = 'off' | 'probing' | 'using' | 'failed';
type Msg<K extends RaftMsg['kind']> = Extract<RaftMsg, { kind: K }>;

interface LogEntry {
  readonly term: number;
  readonly client: Addr;
  readonly rid: number;
  /** Node index of the replier; null while appended by the leader and not yet announced. */
  replier: number | null;
  readonly ro: boolean;
  readonly body: Uint8Array;
}

interface Unordered {
  readonly client: Addr;
  readonly rid: number;
  readonly ro: boolean;
  readonly body: Uint8Array;
  readonly since: Micros;
  /**
   * Garbage-collected after `gcUs` (`FollowerGc`): requests taken from the network. A body that
   * went back into the set when its entry left the log is kept until it is ordered again.
   */
  readonly gc: boolean;
}

interface Recovery {
  readonly client: Addr;
  readonly rid: number;
  attempt: number;
}

/** What the leader keeps about one follower. */
interface Follower {
  /** Next index to send. */
  next: number;
  /** Highest index known to match the leader's log. */
  match: number;
  /** After a rejection, until a success: new entries wait for the probe's answer. */
  probing: boolean;
  /** First index of the outstanding probe (match + 1 when it was sent). */
  probeFrom: number;
  /** (hovercraft++ with the aggregator) served point-to-point until caught up. */
  direct: boolean;
  /** Last index of the last append_entries sent to it directly. */
  directEnd: number;
  /** Highest index ever sent to it in this term. */
  maxSent: number;
}

const ELECTION = 'election';
const AGG_HEARTBEAT = 'agg-heartbeat';
const PROBE = 'agg-probe';
const GC = 'gc';
const heartbeatTimer = (node: NodeId): string => `heartbeat:${node}`;
const recoveryTimer = (key: string): string => `recover:${key}`;
const EMPTY = new Uint8Array(0);
const EMPTY_DIGEST = digest(EMPTY);

const isNoop = (client: Addr): boolean => client === ZERO_ADDR;

function toB64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}
function fromB64(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'base64'));
}

export class HovercraftNode implements Core<never, never> {
  private readonly selfIdx: number;
  private readonly n: number;
  private readonly majority: number;
  private readonly bug: {
    commitWithoutMajority: boolean; replierReassigned: boolean; staleRead: boolean; applyWithoutBody: boolean;
    boundIgnored: boolean;
    doubleVote: boolean;
    skipLogCheck: boolean;
    voteWithoutLogCheck: boolean;
    readByAll: boolean;
  };

  // persistent
  private term = 0;
  private votedFor: NodeId | null = null;
  private log: LogEntry[] = [];
  /** Entries up to this index were answered before (persisted; no second reply after a restart). */
  private replied = 0;
  /** The stable form of the persisted prefix of the log; its first `stableValid` entries are current. */
  private stableLog: StableState[] = [];
  private stableValid = 0;

  // volatile
  private role: Role = 'follower';
  private leaderIdx: number | null = null;
  private commit = 0;
  private applied = 0;
  private verified = 0;
  private votes = new Set<number>();
  private readonly logIndexOf = new Map<string, number>();
  private readonly unordered = new Map<string, Unordered>();
  /** Whether the GC timer is armed (for the oldest collectable request, or earlier). */
  private gcArmed = false;
  private readonly recovering = new Map<string, Recovery>();
  private readonly kv = new KvStore();

  // leader
  private announced = 0;
  private followers = new Map<number, Follower>();
  private appliedView: number[] = [];
  /**
   * The leader's own applied index as its replier choice sees it: the value it had when it last
   * sent append_entries, taken in when a reply to that comes back, which is when the reply tells
   * it the follower's. Seeing itself as late as it sees the others keeps JBSQ from favouring the
   * leader (replies ~1/N each).
   */
  private selfAppliedSeen = 0;
  private selfAppliedSent = 0;
  private queues: number[][] = [];
  private rr = 0;
  private agg: AggState = 'off';
  private aggSent = 0;

  // per step
  private out: Out[] = [];
  private now: Micros = 0;
  private dirty = false;

  constructor(
    readonly node: NodeId,
    readonly addr: Addr,
    readonly config: NodeConfig,
    private readonly rng: Rng,
    bugs: ReadonlySet<string> = new Set(),
  ) {
    this.selfIdx = config.nodes.indexOf(config.self);
    this.n = config.nodes.length;
    this.majority = Math.floor(this.n / 2) + 1;
    this.bug = {
      commitWithoutMajority: bugs.has(BUG_COMMIT_WITHOUT_MAJORITY),
      replierReassigned: bugs.has(BUG_REPLIER_REASSIGNED),
      staleRead: bugs.has(BUG_STALE_READ_BY_NON_REPLIER),
      applyWithoutBody: bugs.has(BUG_APPLY_WITHOUT_BODY),
      boundIgnored: bugs.has(BUG_BOUNDED_QUEUE_IGNORED),
      doubleVote: bugs.has(BUG_DOUBLE_VOTE),
      skipLogCheck: bugs.has(BUG_SKIP_LOG_CHECK),
      voteWithoutLogCheck: bugs.has(BUG_VOTE_WITHOUT_LOG_CHECK),
      readByAll: bugs.has(BUG_READ_EXECUTED_BY_ALL),
    };
  }

  handle(input: CoreInput<never>, now: Micros): Out[] {
    this.out = [];
    this.now = now;
    this.dirty = false;
    match(input)
      .with({ kind: 'start' }, ({ stable }) => this.start(stable))
      .with({ kind: 'command' }, () => undefined)
      .with({ kind: 'timer' }, ({ name }) => this.timer(name))
      .with({ kind: 'receive' }, ({ packet }) => this.receive(packet.src, packet.data))
      .exhaustive();
    const out = this.out;
    this.out = [];
    if (this.dirty) {
      const persist: Out = { kind: 'persist', state: this.stableState() };
      const at = out.findIndex((o) => o.kind === 'send');
      if (at < 0) out.push(persist);
      else out.splice(at, 0, persist);
    }
    return out;
  }

  // ---------------------------------------------------------------- views (tests, debugging)

  get currentRole(): Role {
    return this.role;
  }
  get currentTerm(): number {
    return this.term;
  }
  get commitIndex(): number {
    return this.commit;
  }
  get appliedIndex(): number {
    return this.applied;
  }
  get announcedIndex(): number {
    return this.role === 'leader' ? this.announced : this.log.length;
  }
  get leader(): NodeId | null {
    return this.leaderIdx === null ? null : this.config.nodes[this.leaderIdx]!;
  }
  get usingAggregator(): boolean {
    return this.role === 'leader' && this.agg === 'using';
  }
  entries(): Entry[] {
    return this.log.map((e) => this.tuple(e));
  }
  unorderedRequests(): RequestId[] {
    return [...this.unordered.values()].map((u) => [u.client, u.rid] as const);
  }
  store(): [string, string][] {
    return this.kv.snapshot();
  }
  /** The leader's bounded queue of `node` (announced to it, not applied by it as the leader knows). */
  queueOf(node: NodeId): number {
    return this.queueLen(this.config.nodes.indexOf(node));
  }

  // ---------------------------------------------------------------- helpers

  private emit(o: Out): void {
    this.out.push(o);
  }
  private sendTo(dst: Addr, data: Uint8Array): void {
    this.out.push(send(this.addr, dst, data));
  }
  private setTimer(name: string, at: Micros): void {
    this.out.push({ kind: 'setTimer', name, at });
  }
  private cancelTimer(name: string): void {
    this.out.push({ kind: 'cancelTimer', name });
  }
  private nodeId(i: number): NodeId {
    return this.config.nodes[i]!;
  }
  private addrOf(i: number): Addr {
    return this.config.addrs[this.nodeId(i)]!;
  }
  private lastIndex(): number {
    return this.log.length;
  }
  private termAt(i: number): number {
    return i >= 1 && i <= this.log.length ? this.log[i - 1]!.term : 0;
  }
  private lastTerm(): number {
    return this.termAt(this.log.length);
  }
  private tuple(e: LogEntry): Entry {
    return [e.term, e.client, e.rid, e.replier === null ? '' : this.nodeId(e.replier), e.ro];
  }
  private wireTuple(e: WireEntry): Entry {
    return [e.term, e.client, e.rid, this.nodeId(e.replier), e.ro];
  }
  private hasBody(key: string): boolean {
    return this.unordered.has(key) || this.logIndexOf.has(key);
  }
  private bodyOf(key: string): Uint8Array | undefined {
    const u = this.unordered.get(key);
    if (u) return u.body;
    const ix = this.logIndexOf.get(key);
    if (ix === undefined) return undefined;
    const e = this.log[ix - 1];
    return e && !isNoop(e.client) ? e.body : undefined;
  }
  private peerIndices(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.n; i++) if (i !== this.selfIdx) out.push(i);
    return out;
  }
  private persistedLength(): number {
    return this.role === 'leader' ? this.announced : this.log.length;
  }

  private armElection(): void {
    const { electionMinUs: lo, electionMaxUs: hi } = this.config;
    this.setTimer(ELECTION, this.now + lo + this.rng.next() * (hi - lo));
  }

  // ---------------------------------------------------------------- persistence

  /** Entries from `index` on changed (or went away): their stable form must be rebuilt. */
  private invalidate(index: number): void {
    this.stableValid = Math.min(this.stableValid, index - 1);
  }

  private stableState(): StableState {
    const len = this.persistedLength();
    this.stableLog.length = Math.min(this.stableLog.length, this.stableValid, len);
    for (let i = this.stableLog.length; i < len; i++) {
      const e = this.log[i]!;
      this.stableLog.push([e.term, e.client, e.rid, e.replier === null ? '' : this.nodeId(e.replier), e.ro, toB64(e.body)]);
    }
    this.stableValid = len;
    return { term: this.term, votedFor: this.votedFor, log: this.stableLog.slice(), replied: this.replied };
  }

  /** Restores persisted state; anything malformed restores nothing. */
  private restore(stable: StableState | undefined): void {
    if (typeof stable !== 'object' || stable === null || Array.isArray(stable)) return;
    const s = stable as { readonly [k: string]: StableState };
    const { term, votedFor, log, replied } = s;
    if (typeof term !== 'number' || !Number.isInteger(term) || term < 0 || term > 0xffffffff) return;
    if (votedFor !== null && (typeof votedFor !== 'string' || !this.config.nodes.includes(votedFor))) return;
    if (!Array.isArray(log)) return;
    const entries: LogEntry[] = [];
    for (const v of log as readonly StableState[]) {
      if (!Array.isArray(v) || v.length !== 6) return;
      const [t, client, rid, replier, ro, b64] = v as readonly StableState[];
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) return;
      if (typeof client !== 'string' || !parseAddr(client)) return;
      if (typeof rid !== 'number' || !Number.isInteger(rid) || rid < 0) return;
      if (typeof replier !== 'string') return;
      const r = this.config.nodes.indexOf(replier);
      if (r < 0) return;
      if (typeof ro !== 'boolean' || typeof b64 !== 'string') return;
      const body = fromB64(b64);
      if (!body) return;
      entries.push({ term: t, client, rid, replier: r, ro, body });
    }
    this.term = term;
    this.votedFor = votedFor;
    this.log = entries;
    entries.forEach((e, i) => {
      if (!isNoop(e.client)) this.logIndexOf.set(tripletKey(e.client, e.rid), i + 1);
    });
    this.replied = typeof replied === 'number' && Number.isInteger(replied) && replied >= 0 ? replied : 0;
  }

  private start(stable: StableState | undefined): void {
    this.restore(stable);
    this.emit(trace({ action: 'NodeStart', term: this.term, votedFor: this.votedFor, log: this.entries() }));
    this.armElection();
  }

  // ---------------------------------------------------------------- timers

  private timer(name: string): void {
    if (name === ELECTION) {
      if (this.role !== 'leader') this.startElection();
    } else if (name === AGG_HEARTBEAT) {
      if (this.role === 'leader' && this.agg === 'using') this.sendAggAppend(true);
    } else if (name === PROBE) {
      if (this.role === 'leader' && this.agg === 'probing') this.agg = 'failed';
    } else if (name === GC) {
      this.gc();
    } else if (name.startsWith('heartbeat:')) {
      const i = this.config.nodes.indexOf(name.slice('heartbeat:'.length));
      const f = this.followers.get(i);
      if (this.role !== 'leader' || !f) return;
      if (this.agg === 'using' && !f.direct) return;
      this.sendAppend(i, f, f.match + 1);
    } else if (name.startsWith('recover:')) {
      this.retryRecovery(name.slice('recover:'.length));
    }
  }

  private gc(): void {
    this.gcArmed = false;
    const limit = this.now - this.config.gcUs;
    for (const [key, u] of this.unordered) {
      if (!u.gc) continue;
      if (u.since > limit) {
        this.armGc(u.since);
        return;
      }
      this.unordered.delete(key);
      this.emit(trace({ action: 'FollowerGc', client: u.client, rid: u.rid }));
    }
  }

  private armGc(since: Micros): void {
    this.gcArmed = true;
    this.setTimer(GC, since + this.config.gcUs);
  }

  /** Puts a body into the unordered set (entries are in arrival order, so `since` grows). */
  private buffer(u: Unordered): void {
    if (u.gc && !this.gcArmed) this.armGc(u.since);
    this.unordered.set(tripletKey(u.client, u.rid), u);
  }

  // ---------------------------------------------------------------- receive

  private receive(src: Addr, data: Uint8Array): void {
    const d = decode(data);
    if (!d.ok) return;
    if (d.msg.type === 'REQUEST') {
      this.onClientRequest(src, d.msg);
      return;
    }
    if (d.msg.type !== 'RAFT_REQ' && d.msg.type !== 'RAFT_REP' && d.msg.type !== 'RAFT_MSG') return;
    const r = decodeRaft(data);
    if (!r.ok) return;
    const m = r.msg;
    // Node messages name another node of the group (the codec only lets the aggregator's own
    // messages carry its index).
    if (m.from !== AGGREGATOR_INDEX && (m.from >= this.n || m.from === this.selfIdx)) return;
    match(m)
      .with({ kind: 'request_vote' }, (v) => this.onRequestVote(v))
      .with({ kind: 'vote_reply' }, (v) => this.onVoteReply(v))
      .with({ kind: 'append_entries' }, (v) => this.onAppendEntries(v))
      .with({ kind: 'append_reply' }, (v) => this.onAppendReply(v))
      .with({ kind: 'recovery_request' }, (v) => this.onRecoveryRequest(v))
      .with({ kind: 'recovery_reply' }, (v) => this.onRecoveryReply(v))
      .with({ kind: 'agg_probe_reply' }, (v) => this.onProbeReply(v))
      .with({ kind: 'agg_commit' }, (v) => this.onAggCommit(v))
      .with({ kind: 'agg_probe' }, () => undefined)
      .exhaustive();
  }

  // ---------------------------------------------------------------- client requests

  private onClientRequest(client: Addr, m: DataMsg): void {
    if (!m.first || !m.last) return;
    if (m.policy !== 'REPLICATED_ROUTE' && m.policy !== 'REPLICATED_ROUTE_NO_SE') return;
    if (!parseAddr(client) || client === ZERO_ADDR) return;
    const body = m.payload;
    if (body.length > MAX_REQUEST_BODY) return;
    const op = decodeOp(body);
    if ('error' in op) return;
    const ro = m.policy === 'REPLICATED_ROUTE_NO_SE';
    const key = tripletKey(client, m.rid);
    if (this.logIndexOf.has(key)) return;
    if (this.role === 'leader') {
      this.appendRequest(client, m.rid, ro, body);
      this.progress();
      return;
    }
    if (this.unordered.has(key)) return;
    if (this.bug.staleRead && ro) {
      // Buggy: answers from the local state, before the request is ordered.
      const result = this.kv.apply(op);
      this.emit(trace({ action: 'Reply', index: 0, client, rid: m.rid, result }));
      for (const p of split('RESPONSE', 'FIXED_ROUTE', m.rid, encodeResult(result))) this.sendTo(client, p);
    }
    if (this.config.mode === 'raft') return;
    this.buffer({ client, rid: m.rid, ro, body, since: this.now, gc: true });
    this.emit(trace({ action: 'FollowerBuffer', client, rid: m.rid, ro }));
  }

  // ---------------------------------------------------------------- elections

  private startElection(): void {
    this.term += 1;
    this.votedFor = this.config.self;
    this.role = 'candidate';
    this.leaderIdx = null;
    this.verified = 0;
    this.votes = new Set([this.selfIdx]);
    this.dirty = true;
    this.emit(trace({ action: 'BecomeCandidate', term: this.term }));
    const lastIndex = this.lastIndex();
    const lastTerm = this.lastTerm();
    for (const i of this.peerIndices()) {
      this.emit(trace({ action: 'SendRequestVote', to: this.nodeId(i), term: this.term, lastIndex, lastTerm }));
      this.sendTo(this.addrOf(i), encodeRaft({ kind: 'request_vote', from: this.selfIdx, term: this.term, lastIndex, lastTerm }));
    }
    this.armElection();
    if (this.votes.size >= this.majority) this.becomeLeader();
  }

  private onRequestVote(m: Msg<'request_vote'>): void {
    if (m.term > this.term) this.stepDown(m.term);
    const from = this.nodeId(m.from);
    const upToDate = this.bug.voteWithoutLogCheck || // Buggy: any log will do.
      m.lastTerm > this.lastTerm() || (m.lastTerm === this.lastTerm() && m.lastIndex >= this.lastIndex());
    const free = this.votedFor === null || this.votedFor === from || this.bug.doubleVote; // Buggy: votes again.
    const granted = m.term === this.term && this.role !== 'leader' && free && upToDate;
    if (granted) {
      if (this.votedFor !== from) this.dirty = true;
      this.votedFor = from;
      this.armElection();
    }
    this.emit(trace({ action: 'HandleRequestVote', from, term: m.term, lastIndex: m.lastIndex, lastTerm: m.lastTerm, granted }));
    this.sendTo(this.addrOf(m.from), encodeRaft({ kind: 'vote_reply', from: this.selfIdx, term: this.term, granted }));
  }

  private onVoteReply(m: Msg<'vote_reply'>): void {
    if (m.term > this.term) {
      this.stepDown(m.term);
      return;
    }
    if (this.role !== 'candidate' || m.term !== this.term) return;
    if (m.granted) this.votes.add(m.from);
    this.emit(trace({ action: 'HandleVoteReply', from: this.nodeId(m.from), term: m.term, granted: m.granted, votes: this.votes.size }));
    if (this.votes.size >= this.majority) this.becomeLeader();
  }

  /** Adopts a higher term as a follower. */
  private stepDown(term: number): void {
    const wasLeader = this.role === 'leader';
    this.term = term;
    this.votedFor = null;
    this.role = 'follower';
    this.leaderIdx = null;
    this.verified = 0;
    this.votes = new Set();
    this.dirty = true;
    this.emit(trace({ action: 'StepDown', term }));
    if (wasLeader) {
      // The unannounced suffix was never sent or persisted: nobody else has it.
      for (let i = this.log.length; i > this.announced; i--) this.forget(i);
      this.log.length = this.announced;
      this.invalidate(this.announced + 1);
      for (const i of this.followers.keys()) this.cancelTimer(heartbeatTimer(this.nodeId(i)));
      if (this.agg === 'using') this.cancelTimer(AGG_HEARTBEAT);
      if (this.agg === 'probing') this.cancelTimer(PROBE);
      this.followers = new Map();
      this.agg = 'off';
    }
    this.armElection();
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.leaderIdx = this.selfIdx;
    this.cancelTimer(ELECTION);
    this.emit(trace({ action: 'BecomeLeader', term: this.term }));
    const noopIndex = this.lastIndex() + 1;
    this.log.push({ term: this.term, client: ZERO_ADDR, rid: this.term, replier: this.selfIdx, ro: false, body: EMPTY });
    this.announced = noopIndex;
    this.dirty = true;
    this.followers = new Map();
    for (const i of this.peerIndices()) {
      this.followers.set(i, { next: noopIndex, match: 0, probing: false, probeFrom: 0, direct: false, directEnd: 0, maxSent: 0 });
    }
    this.appliedView = new Array<number>(this.n).fill(0);
    this.selfAppliedSeen = this.applied;
    this.selfAppliedSent = this.applied;
    this.queues = Array.from({ length: this.n }, () => [] as number[]);
    this.log.forEach((e, k) => {
      if (e.replier !== null && !isNoop(e.client)) this.queues[e.replier]!.push(k + 1);
    });
    this.rr = this.selfIdx;
    // The requests this node buffered as a follower join the log after the no-op.
    const pending = [...this.unordered.values()];
    this.unordered.clear();
    for (const u of pending) this.appendRequest(u.client, u.rid, u.ro, u.body);
    if (this.config.mode === 'hovercraft++') {
      this.agg = 'probing';
      this.sendTo(this.config.aggregator, encodeRaft({ kind: 'agg_probe', from: this.selfIdx, term: this.term }));
      this.setTimer(PROBE, this.now + this.config.probeTimeoutUs);
    } else {
      this.agg = 'off';
    }
    this.progress();
  }

  // ---------------------------------------------------------------- leader: append, announce, send

  private appendRequest(client: Addr, rid: number, ro: boolean, body: Uint8Array): void {
    const key = tripletKey(client, rid);
    if (this.logIndexOf.has(key)) return;
    this.log.push({ term: this.term, client, rid, replier: null, ro, body });
    const index = this.log.length;
    this.logIndexOf.set(key, index);
    this.emit(trace({ action: 'LeaderAppend', term: this.term, index, client, rid, ro }));
  }

  /** Announces what it can, then sends what is new. */
  private progress(): void {
    if (this.role !== 'leader') return;
    this.announce();
    this.replicate();
  }

  private queueLen(i: number): number {
    const q = this.queues[i];
    if (!q) return 0;
    const applied = i === this.selfIdx ? this.selfAppliedSeen : this.appliedView[i]!;
    while (q.length > 0 && q[0]! <= applied) q.shift();
    return q.length;
  }

  private pickReplier(): number | undefined {
    if (this.config.mode === 'raft' || this.config.replierPolicy === 'leader') return this.selfIdx;
    let best: number | undefined;
    let bestQ = Infinity;
    for (let k = 1; k <= this.n; k++) {
      const i = (this.rr + k) % this.n;
      const q = this.queueLen(i);
      if (!this.bug.boundIgnored && q >= this.config.bound) continue;
      if (q < bestQ) {
        best = i;
        bestQ = q;
      }
    }
    if (best !== undefined) this.rr = best;
    return best;
  }

  private announce(): void {
    while (this.announced < this.log.length) {
      const index = this.announced + 1;
      const e = this.log[index - 1]!;
      const r = this.pickReplier();
      if (r === undefined) return;
      e.replier = r;
      this.invalidate(index);
      this.announced = index;
      this.dirty = true;
      this.queues[r]!.push(index);
      this.emit(trace({ action: 'Announce', term: this.term, index, replier: this.nodeId(r), queue: this.queueLen(r) }));
    }
  }

  private replicate(): void {
    if (this.role !== 'leader') return;
    if (this.agg === 'using') {
      while (this.aggSent < this.announced) if (!this.sendAggAppend(false)) break;
      return;
    }
    for (const [i, f] of this.followers) {
      while (!f.probing && f.next <= this.announced) if (!this.sendAppend(i, f, f.next)) break;
    }
  }

  /** The wire form of entries from..to (inclusive), as many as fit in one datagram. */
  private wireEntries(from: number, to: number, resentBelow: number): WireEntry[] {
    const bodies = this.config.mode === 'raft';
    const wire = (e: LogEntry): WireEntry =>
      ({ term: e.term, client: e.client, rid: e.rid, replier: e.replier!, ro: e.ro, ...(bodies ? { body: e.body } : {}) });
    const all: WireEntry[] = [];
    for (let i = from; i <= to && all.length < MAX_AE_ENTRIES; i++) all.push(wire(this.log[i - 1]!));
    const n = fitEntries(all, bodies);
    if (!this.bug.replierReassigned) return all.slice(0, n);
    const out: WireEntry[] = [];
    for (let k = 0; k < n; k++) {
      const i = from + k;
      const e = this.log[i - 1]!;
      if (i <= resentBelow && !isNoop(e.client)) {
        // Buggy: a resent entry gets a freshly picked replier.
        const r = this.pickReplier();
        if (r !== undefined && r !== e.replier) {
          e.replier = r;
          this.invalidate(i);
          this.dirty = true;
        }
      }
      out.push(wire(e));
    }
    return out;
  }

  /** Sends one append_entries to follower `i` starting at `from`; false if nothing could be sent. */
  private sendAppend(i: number, f: Follower, from: number): boolean {
    const prevIndex = Math.max(0, Math.min(from - 1, this.announced));
    const entries = this.wireEntries(prevIndex + 1, this.announced, f.maxSent);
    if (entries.length === 0 && prevIndex < this.announced) return false;
    const end = prevIndex + entries.length;
    this.emitAppend(this.nodeId(i), this.addrOf(i), prevIndex, entries, false);
    f.next = end + 1;
    f.maxSent = Math.max(f.maxSent, end);
    f.directEnd = end;
    this.setTimer(heartbeatTimer(this.nodeId(i)), this.now + this.config.heartbeatUs);
    return true;
  }

  /** Sends the next append_entries to the aggregator (an empty one as a heartbeat). */
  private sendAggAppend(heartbeat: boolean): boolean {
    const prevIndex = this.aggSent;
    const entries = this.wireEntries(prevIndex + 1, this.announced, prevIndex);
    if (entries.length === 0 && !heartbeat) return false;
    this.emitAppend('aggregator', this.config.aggregator, prevIndex, entries, true);
    this.aggSent = prevIndex + entries.length;
    for (const f of this.followers.values()) {
      if (!f.direct) {
        f.next = Math.max(f.next, this.aggSent + 1);
        f.maxSent = Math.max(f.maxSent, this.aggSent);
      }
    }
    this.setTimer(AGG_HEARTBEAT, this.now + this.config.heartbeatUs);
    return true;
  }

  private emitAppend(to: NodeId, dst: Addr, prevIndex: number, entries: WireEntry[], viaAggregator: boolean): void {
    const prevTerm = this.termAt(prevIndex);
    this.selfAppliedSent = this.applied;
    this.emit(trace({
      action: 'SendAppendEntries', to, term: this.term, prevIndex, prevTerm, entries: entries.map((e) => this.wireTuple(e)),
      commit: this.commit,
    }));
    this.sendTo(dst, encodeRaft({
      kind: 'append_entries', from: this.selfIdx, term: this.term, prevIndex, prevTerm, commit: this.commit, viaAggregator,
      bodies: this.config.mode === 'raft', entries,
    }));
  }

  // ---------------------------------------------------------------- leader: replies, commit

  private onAppendReply(m: Msg<'append_reply'>): void {
    if (m.term > this.term) {
      this.stepDown(m.term);
      return;
    }
    if (this.role !== 'leader' || m.term !== this.term) return;
    const f = this.followers.get(m.from);
    if (!f) return;
    this.emit(trace({
      action: 'HandleAppendEntriesReply', from: this.nodeId(m.from), term: m.term, success: m.success, matchIndex: m.matchIndex,
      applied: m.applied,
    }));
    this.appliedView[m.from] = Math.max(this.appliedView[m.from]!, m.applied);
    this.selfAppliedSeen = Math.max(this.selfAppliedSeen, this.selfAppliedSent);
    if (m.success) {
      f.match = Math.max(f.match, Math.min(m.matchIndex, this.announced));
      f.probing = false;
      if (f.next <= f.match) f.next = f.match + 1;
      if (f.direct && f.match >= f.directEnd) {
        f.direct = false;
        this.cancelTimer(heartbeatTimer(this.nodeId(m.from)));
      }
      this.advanceCommit(m.matchIndex);
    } else if (!f.probing || f.probeFrom !== f.match + 1) {
      // A rejection carries no hint: resend from the last index known to match, once.
      f.probing = true;
      f.probeFrom = f.match + 1;
      if (this.agg === 'using') f.direct = true;
      this.sendAppend(m.from, f, f.probeFrom);
    }
    this.progress();
  }

  private advanceCommit(reported: number): void {
    if (this.bug.commitWithoutMajority) {
      // Buggy: one follower's match index is enough.
      const c = Math.min(reported, this.announced);
      if (c > this.commit) this.setCommit(c);
      return;
    }
    for (let idx = this.announced; idx > this.commit; idx--) {
      if (this.termAt(idx) !== this.term) break;
      let count = 1;
      for (const f of this.followers.values()) if (f.match >= idx) count++;
      if (count >= this.majority) {
        this.setCommit(idx);
        return;
      }
    }
  }

  private setCommit(index: number): void {
    this.commit = index;
    this.emit(trace({ action: 'Commit', term: this.term, index }));
    this.applyCommitted();
  }

  private applyCommitted(): void {
    while (this.applied < this.commit) {
      const index = this.applied + 1;
      const e = this.log[index - 1];
      if (!e || e.replier === null) return;
      this.applied = index;
      const replier = this.nodeId(e.replier);
      if (isNoop(e.client)) {
        this.emit(trace({ action: 'Apply', index, client: e.client, rid: e.rid, replier, ro: false, executed: true, digest: EMPTY_DIGEST }));
        continue;
      }
      const isReplier = e.replier === this.selfIdx;
      const executed = !e.ro || isReplier || this.bug.readByAll; // Buggy read-executed-by-all: every node reads.
      const op = decodeOp(e.body);
      const result = executed && !('error' in op) ? this.kv.apply(op) : undefined;
      this.emit(trace({ action: 'Apply', index, client: e.client, rid: e.rid, replier, ro: e.ro, executed, digest: digest(e.body) }));
      if (isReplier && result !== undefined && index > this.replied) {
        this.replied = index;
        this.dirty = true;
        this.emit(trace({ action: 'Reply', index, client: e.client, rid: e.rid, result }));
        for (const p of split('RESPONSE', 'FIXED_ROUTE', e.rid, encodeResult(result))) this.sendTo(e.client, p);
        this.sendTo(this.config.middlebox, feedbackPacket(e.client, e.rid));
      }
    }
  }

  // ---------------------------------------------------------------- follower: append_entries

  /**
   * Entry `index` leaves the log: it leaves the lookup, and (except in raft mode) its body stays
   * held, in the unordered set.
   */
  private forget(index: number): void {
    const e = this.log[index - 1];
    if (!e || isNoop(e.client)) return;
    const key = tripletKey(e.client, e.rid);
    if (this.logIndexOf.get(key) !== index) return;
    this.logIndexOf.delete(key);
    if (this.config.mode !== 'raft' && !this.unordered.has(key)) {
      this.buffer({ client: e.client, rid: e.rid, ro: e.ro, body: e.body, since: this.now, gc: false });
    }
  }

  private onAppendEntries(m: Msg<'append_entries'>): void {
    if (m.entries.some((e) => e.replier >= this.n)) return;
    const from = this.nodeId(m.from);
    const leaderAddr = this.addrOf(m.from);
    const event = {
      action: 'HandleAppendEntries', from, term: m.term, prevIndex: m.prevIndex, prevTerm: m.prevTerm,
      entries: m.entries.map((e) => this.wireTuple(e)), commit: m.commit,
    } as const;
    if (m.term < this.term) {
      this.emit(trace({ ...event, success: false, matchIndex: 0, missing: [] }));
      this.sendTo(leaderAddr, encodeRaft({
        kind: 'append_reply', from: this.selfIdx, term: this.term, success: false, matchIndex: 0, applied: this.applied,
      }));
      return;
    }
    if (m.term > this.term) this.stepDown(m.term);
    if (this.role === 'leader') return; // another leader of this term cannot exist
    if (this.role === 'candidate') {
      this.role = 'follower';
      this.votes = new Set();
    }
    this.leaderIdx = m.from;
    this.armElection();

    let success: boolean;
    let matchIndex = 0;
    const missing: RequestId[] = [];
    // (Buggy skip-log-check: the entry at prevIndex may be of any term.)
    if (m.prevIndex > this.lastIndex() || (!this.bug.skipLogCheck && this.termAt(m.prevIndex) !== m.prevTerm)) {
      success = false;
    } else {
      success = true;
      matchIndex = m.prevIndex + m.entries.length;
      let stopped = false;
      let index = m.prevIndex;
      for (const we of m.entries) {
        index += 1;
        const noop = isNoop(we.client);
        const key = tripletKey(we.client, we.rid);
        if (stopped) {
          if (!noop && !this.hasBody(key) && !m.bodies) missing.push([we.client, we.rid]);
          continue;
        }
        const existing = this.log[index - 1];
        if (existing && existing.term === we.term) continue;
        if (existing) {
          for (let i = this.log.length; i >= index; i--) this.forget(i);
          this.log.length = index - 1;
          this.invalidate(index);
          this.dirty = true;
        }
        let body: Uint8Array | undefined = noop ? EMPTY : m.bodies ? we.body : this.bodyOf(key);
        if (body === undefined && this.bug.applyWithoutBody) body = EMPTY; // Buggy: stores it anyway.
        if (body === undefined) {
          stopped = true;
          matchIndex = index - 1;
          missing.push([we.client, we.rid]);
          continue;
        }
        this.log.push({ term: we.term, client: we.client, rid: we.rid, replier: we.replier, ro: we.ro, body });
        this.dirty = true;
        if (!noop) {
          this.logIndexOf.set(key, index);
          this.unordered.delete(key);
          if (this.recovering.delete(key)) this.cancelTimer(recoveryTimer(key));
        }
      }
      this.verified = Math.max(this.verified, matchIndex);
    }
    this.emit(trace({ ...event, success, matchIndex, missing }));
    const c = Math.min(m.commit, this.verified);
    if (success && c > this.commit) this.setCommit(c);
    const dst = success && m.viaAggregator ? this.config.aggregator : leaderAddr;
    this.sendTo(dst, encodeRaft({ kind: 'append_reply', from: this.selfIdx, term: this.term, success, matchIndex, applied: this.applied }));
    for (const [client, rid] of missing) this.requestRecovery(client, rid);
  }

  // ---------------------------------------------------------------- recovery

  private requestRecovery(client: Addr, rid: number): void {
    const key = tripletKey(client, rid);
    if (this.recovering.has(key)) return;
    const rec: Recovery = { client, rid, attempt: 0 };
    this.recovering.set(key, rec);
    this.sendRecovery(key, rec);
  }

  private sendRecovery(key: string, rec: Recovery): void {
    const order = this.peerIndices().filter((i) => i !== this.leaderIdx);
    if (this.leaderIdx !== null && this.leaderIdx !== this.selfIdx) order.unshift(this.leaderIdx);
    const to = order[rec.attempt % order.length];
    if (to === undefined) {
      this.recovering.delete(key);
      return;
    }
    this.emit(trace({ action: 'SendRecoveryRequest', to: this.nodeId(to), client: rec.client, rid: rec.rid }));
    this.sendTo(this.addrOf(to), encodeRaft({ kind: 'recovery_request', from: this.selfIdx, client: rec.client, rid: rec.rid }));
    this.setTimer(recoveryTimer(key), this.now + this.config.recoveryRetryUs);
  }

  private retryRecovery(key: string): void {
    const rec = this.recovering.get(key);
    if (!rec) return;
    if (this.role === 'leader' || this.unordered.has(key) || this.logIndexOf.has(key)) {
      this.recovering.delete(key);
      return;
    }
    rec.attempt += 1;
    if (rec.attempt >= 2 * (this.n - 1)) {
      this.recovering.delete(key);
      return;
    }
    this.sendRecovery(key, rec);
  }

  private onRecoveryRequest(m: Msg<'recovery_request'>): void {
    const key = tripletKey(m.client, m.rid);
    const body = this.bodyOf(key);
    const found = body !== undefined;
    this.emit(trace({ action: 'HandleRecoveryRequest', from: this.nodeId(m.from), client: m.client, rid: m.rid, found }));
    if (!found) return;
    const ro = this.unordered.get(key)?.ro ?? this.log[this.logIndexOf.get(key)! - 1]!.ro;
    this.sendTo(this.addrOf(m.from), encodeRaft({ kind: 'recovery_reply', from: this.selfIdx, client: m.client, rid: m.rid, ro, body }));
  }

  private onRecoveryReply(m: Msg<'recovery_reply'>): void {
    const key = tripletKey(m.client, m.rid);
    if (!this.recovering.has(key) || this.role === 'leader') return;
    if (this.unordered.has(key) || this.logIndexOf.has(key)) return;
    if (m.body.length > MAX_REQUEST_BODY || 'error' in decodeOp(m.body)) return;
    this.recovering.delete(key);
    this.cancelTimer(recoveryTimer(key));
    this.buffer({ client: m.client, rid: m.rid, ro: m.ro, body: m.body, since: this.now, gc: true });
    this.emit(trace({ action: 'HandleRecoveryReply', from: this.nodeId(m.from), client: m.client, rid: m.rid }));
  }

  // ---------------------------------------------------------------- hovercraft++

  private onProbeReply(m: Msg<'agg_probe_reply'>): void {
    if (this.role !== 'leader' || m.term !== this.term || this.agg !== 'probing') return;
    this.agg = 'using';
    this.cancelTimer(PROBE);
    this.emit(trace({ action: 'LeaderUseAggregator', term: this.term }));
    this.aggSent = this.announced;
    for (const [i, f] of this.followers) {
      // What was sent directly is answered directly; until then the follower stays direct.
      f.direct = f.probing || f.match < f.directEnd || f.next <= this.announced;
      if (!f.direct) this.cancelTimer(heartbeatTimer(this.nodeId(i)));
    }
    this.setTimer(AGG_HEARTBEAT, this.now + this.config.heartbeatUs);
    this.progress();
  }

  private onAggCommit(m: Msg<'agg_commit'>): void {
    if (m.term !== this.term || m.applied.length !== this.n) return;
    this.emit(trace({
      action: 'HandleAggCommit', term: m.term, commit: m.commit, applied: m.applied.map((a, i) => [this.nodeId(i), a] as const),
    }));
    if (this.role === 'leader') {
      m.applied.forEach((a, i) => {
        if (i !== this.selfIdx) this.appliedView[i] = Math.max(this.appliedView[i]!, a);
      });
      this.selfAppliedSeen = Math.max(this.selfAppliedSeen, this.selfAppliedSent);
      const c = Math.min(m.commit, this.announced);
      if (c > this.commit) this.setCommit(c);
      this.progress();
      return;
    }
    const c = Math.min(m.commit, this.verified);
    if (c > this.commit) this.setCommit(c);
  }
}

export function createNode(
  config: unknown,
  env: { node: NodeId; addr: Addr; rng: Rng; bugs: ReadonlySet<string> },
): HovercraftNode {
  return new HovercraftNode(env.node, env.addr, parseNodeConfig(config), env.rng, env.bugs);
}
