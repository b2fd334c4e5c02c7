/**
 * The HovercRaft property checkers (ARCHITECTURE rule 4c), over traces in the vocabulary of
 * `impl/hovercraft/actions.ts`. Each is a pure function of the trace, the scenario and the address
 * map; `Net*` annotations and events of other protocols are skipped. A violation names the checker
 * in `check` and lists, as indices into the trace, the event that breaks the property first, then
 * the events that show why.
 *
 * Crashes: a node's `HostCrash` annotation (in trace order) ends its incarnation. Its volatile
 * state is gone: its role, its applied index, and its log until the next `NodeStart` hands the
 * persisted log back. A node's log before its first `NodeStart` is empty.
 *
 * Logs are reconstructed from the trace:
 * - `NodeStart`: the log is the persisted one;
 * - `LeaderAppend`: the leader puts the request at `index` (replier not yet chosen);
 * - `Announce`: the leader fixes the replier of its entry `index`;
 * - `HandleAppendEntries` with `success`: the follower stores `entries` from `prevIndex + 1` up to
 *   `matchIndex`; an entry whose term differs from the one it holds at that index replaces it and
 *   drops everything after it (Raft's truncation of a conflicting suffix); an entry it already holds
 *   with the same term is kept; the first entry beyond `matchIndex` (not stored: its body is
 *   missing) still truncates a conflicting suffix;
 * - `StepDown` of a leader: its unannounced suffix (never sent, never persisted) is dropped;
 * - the no-op a new leader appends (`[term, "0.0.0.0:0", term, leader, false]`): from its
 *   `LeaderAppend` if the trace has one, otherwise it is put right after the log the leader had at
 *   `BecomeLeader`, as soon as one of the leader's events refers to that index (or it steps down).
 *
 * Per-event dispatch is a `switch` on the action (exhaustive where every action matters): it runs
 * for every event of every trace, and a ts-pattern `match` costs microseconds per call.
 */
import { match } from 'ts-pattern';
import type { Addr, NodeId } from '../../../impl/core.ts';
import { HOVERCRAFT_ACTIONS, type Entry, type HovercraftTraceBody, type KvResult } from '../../../impl/hovercraft/actions.ts';
import type { KvOp } from '../../../impl/hovercraft/kv.ts';
import {
  checkLinearizability, kvModel, type CheckOptions, type KvOperation, type KvState, type LinearizabilityResult,
} from '../../checkers/linearizability.ts';
import type { PropertyChecker, Violation } from '../../protocol.ts';
import type { Scenario } from '../../scenario/types.ts';
import type { Trace } from '../../trace/schema.ts';

export type HovercraftEvent = HovercraftTraceBody & { readonly t: number; readonly node: string };

/** The client address of a leader's no-op entry; nobody replies to it. */
export const NOOP_CLIENT: Addr = '0.0.0.0:0';

const ACTIONS: ReadonlySet<string> = new Set(HOVERCRAFT_ACTIONS);

type Item = { readonly i: number; readonly e: HovercraftEvent } | { readonly i: number; readonly crash: NodeId };

const itemsOf = new WeakMap<Trace, readonly Item[]>();

/**
 * The HovercRaft events of a trace and the crashes of its nodes, in trace order, with their
 * indices. Computed once per trace (the checkers of a run share it); traces are not mutated.
 */
export function hovercraftEvents(trace: Trace): readonly Item[] {
  let out = itemsOf.get(trace);
  if (out) return out;
  const items: Item[] = [];
  for (let i = 0; i < trace.length; i++) {
    const e = trace[i]!;
    if (e.action === 'HostCrash') items.push({ i, crash: e.node });
    else if (ACTIONS.has(e.action)) items.push({ i, e: e as unknown as HovercraftEvent });
  }
  itemsOf.set(trace, (out = items));
  return out;
}

/** A numeric map key for (index, term). */
const entryKey = (index: number, term: number): number => index * 0x100000000 + term;

function v(check: string, message: string, events: readonly number[]): Violation {
  return { check, message, events: [...new Set(events)] };
}

const fmtEntry = (c: { index: number; term: number; client: Addr; rid: number; ro: boolean }): string =>
  `${c.index}: [term ${c.term}, ${c.client === NOOP_CLIENT ? 'no-op' : c.client} rid ${c.rid}${c.ro ? ', read-only' : ''}]`;

// ---- log reconstruction ------------------------------------------------------------------------

/** One entry of one node's log, linked to the entry before it. */
export interface Cell {
  readonly node: NodeId;
  readonly index: number;
  readonly term: number;
  readonly client: Addr;
  readonly rid: number;
  readonly ro: boolean;
  /** null while the leader has not announced it. */
  replier: NodeId | null;
  readonly prev: Cell | undefined;
  /** A 64-bit hash (two halves) of entries 1..index: terms, clients, rids, read-only flags (not repliers). */
  readonly h1: number;
  readonly h2: number;
  /** The trace index of the event that stored it. */
  readonly at: number;
}

function mix(h: number, s: string, mul: number): number {
  for (let k = 0; k < s.length; k++) {
    h ^= s.charCodeAt(k);
    h = Math.imul(h, mul);
  }
  return h >>> 0;
}

function makeCell(node: NodeId, index: number, e: Entry, prev: Cell | undefined, at: number): Cell {
  const [term, client, rid, replier, ro] = e;
  const s = `${index}|${term}|${client}|${rid}|${ro ? 1 : 0};`;
  return {
    node, index, term, client, rid, ro, replier: replier || null, prev,
    h1: mix(prev?.h1 ?? 0x811c9dc5, s, 0x01000193),
    h2: mix(prev?.h2 ?? 0x9747b28c, s, 0x5bd1e995),
    at,
  };
}

const sameChain = (a: Cell, b: Cell): boolean => a.h1 === b.h1 && a.h2 === b.h2;

/** The lowest index at which two chains of the same length differ (walking back from their ends). */
function firstDifference(a: Cell, b: Cell): { a: Cell; b: Cell } | undefined {
  let x: Cell | undefined = a;
  let y: Cell | undefined = b;
  let found: { a: Cell; b: Cell } | undefined;
  while (x && y && !sameChain(x, y)) {
    found = { a: x, b: y };
    x = x.prev;
    y = y.prev;
  }
  return found;
}

interface ReplayHooks {
  /** A node stored a new entry. */
  onStore?(cell: Cell): void;
  /** An event that a correct node cannot produce given its log (reported by log-matching). */
  onAnomaly?(message: string, events: number[]): void;
}

/**
 * Replays the events that shape logs and roles. `log(node)` is undefined while a crashed node has
 * not started again.
 */
export class LogReplay {
  private readonly logs = new Map<NodeId, Cell[] | undefined>();
  /** node → the term it leads. */
  readonly leading = new Map<NodeId, number>();
  /** node → where its no-op goes, while it has not been put there. */
  private readonly noop = new Map<NodeId, { index: number; term: number; at: number }>();

  constructor(private readonly hooks: ReplayHooks = {}) {}

  log(node: NodeId): readonly Cell[] | undefined {
    return this.logs.has(node) ? this.logs.get(node) : [];
  }

  private mutableLog(node: NodeId): Cell[] | undefined {
    if (!this.logs.has(node)) this.logs.set(node, []);
    return this.logs.get(node);
  }

  cell(node: NodeId, index: number): Cell | undefined {
    return index >= 1 ? this.log(node)?.[index - 1] : undefined;
  }

  private store(log: Cell[], node: NodeId, index: number, e: Entry, at: number): Cell {
    log.length = index - 1;
    const c = makeCell(node, index, e, log[index - 2], at);
    log.push(c);
    this.hooks.onStore?.(c);
    return c;
  }

  /** Puts the leader's no-op in place if an event refers to an index at or beyond it. */
  private ensureNoop(node: NodeId, upTo: number): void {
    const n = this.noop.get(node);
    const log = this.logs.get(node) ?? (this.logs.has(node) ? undefined : []);
    if (!n || !log || upTo < n.index) return;
    this.noop.delete(node);
    if (log.length === n.index - 1) this.store(this.mutableLog(node)!, node, n.index, [n.term, NOOP_CLIENT, n.term, node, false], n.at);
  }

  private forget(node: NodeId): void {
    this.leading.delete(node);
    this.noop.delete(node);
  }

  crash(node: NodeId): void {
    this.logs.set(node, undefined);
    this.forget(node);
  }

  step(i: number, e: HovercraftEvent): void {
    // `never` in the default keeps the switch exhaustive.
    const node = e.node;
    const anomaly = (message: string, events: number[] = [i]): void => this.hooks.onAnomaly?.(message, events);
    switch (e.action) {
      case 'NodeStart': {
        this.forget(node);
        const log: Cell[] = [];
        this.logs.set(node, log);
        e.log.forEach((entry, k) => this.store(log, node, k + 1, entry, i));
        return;
      }
      case 'BecomeLeader': {
        this.leading.set(node, e.term);
        const log = this.log(node);
        if (log) this.noop.set(node, { index: log.length + 1, term: e.term, at: i });
        return;
      }
      case 'StepDown': {
        // A leader that steps down keeps its no-op and drops its unannounced suffix (never sent,
        // never persisted).
        this.ensureNoop(node, Infinity);
        const log = this.leading.has(node) ? this.logs.get(node) : undefined;
        if (log) while (log.length > 0 && log[log.length - 1]!.replier === null) log.pop();
        this.forget(node);
        return;
      }
      case 'BecomeCandidate':
        this.forget(node);
        return;
      case 'LeaderAppend': {
        this.ensureNoop(node, e.index - 1);
        const n = this.noop.get(node);
        if (n && e.index === n.index) this.noop.delete(node);
        const log = this.mutableLog(node);
        if (!log) return;
        if (e.index <= log.length) {
          anomaly(`leader ${node} appended at index ${e.index} over its own entry ${fmtEntry(log[e.index - 1]!)} (a leader's log only grows)`,
            [i, log[e.index - 1]!.at]);
        } else if (e.index > log.length + 1) {
          anomaly(`leader ${node} appended at index ${e.index} but its log has ${log.length} entries`);
          this.logs.set(node, undefined);
          return;
        }
        this.store(log, node, e.index, [e.term, e.client, e.rid, '', e.ro], i);
        return;
      }
      case 'Announce': {
        this.ensureNoop(node, e.index);
        const c = this.cell(node, e.index);
        if (c) c.replier = e.replier;
        return;
      }
      case 'SendAppendEntries':
        this.ensureNoop(node, e.prevIndex + e.entries.length);
        return;
      case 'Commit':
        this.ensureNoop(node, e.index);
        return;
      case 'HandleAggCommit':
        this.ensureNoop(node, e.commit);
        return;
      case 'HandleAppendEntries': {
        if (!e.success) return;
        const log = this.mutableLog(node);
        if (!log) return;
        if (e.prevIndex > log.length) {
          anomaly(`${node} accepted append_entries after index ${e.prevIndex} (term ${e.prevTerm}) but its log has ${log.length} entries`);
          this.logs.set(node, undefined);
          return;
        }
        const at = log[e.prevIndex - 1];
        if (e.prevIndex > 0 && at!.term !== e.prevTerm) {
          anomaly(`${node} accepted append_entries after index ${e.prevIndex} of term ${e.prevTerm}, but its entry ${fmtEntry(at!)} has term ${at!.term}`,
            [i, at!.at]);
        }
        const end = e.prevIndex + e.entries.length;
        const upTo = Math.min(e.matchIndex, end);
        for (let j = e.prevIndex + 1; j <= upTo; j++) {
          const entry = e.entries[j - e.prevIndex - 1]!;
          const held = log[j - 1];
          if (held && held.term === entry[0]) {
            if (held.client !== entry[1] || held.rid !== entry[2] || held.ro !== entry[4]) {
              anomaly(`${node} holds entry ${fmtEntry(held)} and was sent entry ${j} of the same term for ${entry[1]} rid ${entry[2]}`, [i, held.at]);
            }
            continue;
          }
          this.store(log, node, j, entry, i);
        }
        // The first entry it could not store (its body is missing) still removes a conflicting suffix.
        const next = upTo + 1;
        if (next <= end && log.length >= next && log[next - 1]!.term !== e.entries[next - e.prevIndex - 1]![0]) log.length = next - 1;
        return;
      }
      case 'ClientRequest': case 'ClientReceiveReply': case 'ClientReceiveNack': case 'ClientTimeout':
      case 'MiddleboxForward': case 'MiddleboxNack': case 'MiddleboxFeedback': case 'MiddleboxExpire':
      case 'FollowerBuffer': case 'FollowerGc': case 'SendRequestVote': case 'HandleRequestVote': case 'HandleVoteReply':
      case 'HandleAppendEntriesReply': case 'SendRecoveryRequest': case 'HandleRecoveryRequest': case 'HandleRecoveryReply':
      case 'Apply': case 'Reply': case 'LeaderUseAggregator': case 'AggFlush': case 'AggProbe': case 'AggForward':
      case 'AggReply': case 'AggCommit':
        return;
      default: {
        const unhandled: never = e;
        return unhandled;
      }
    }
  }
}

// ---- election safety --------------------------------------------------------------------------

export const electionSafety: PropertyChecker<Scenario> = {
  name: 'election-safety',
  description: 'At most one node becomes leader in a term: one BecomeLeader per term in the whole trace.',
  check(trace) {
    const name = 'election-safety';
    const out: Violation[] = [];
    const leaders = new Map<number, { node: NodeId; i: number }>();
    for (const x of hovercraftEvents(trace)) {
      if (!('e' in x) || x.e.action !== 'BecomeLeader') continue;
      const prev = leaders.get(x.e.term);
      if (prev) {
        out.push(v(name, prev.node === x.e.node
          ? `${x.e.node} became leader of term ${x.e.term} a second time`
          : `${x.e.node} became leader of term ${x.e.term}, of which ${prev.node} is already leader`, [x.i, prev.i]));
      } else {
        leaders.set(x.e.term, { node: x.e.node, i: x.i });
      }
    }
    return out;
  },
};

// ---- log matching -----------------------------------------------------------------------------

export const logMatching: PropertyChecker<Scenario> = {
  name: 'log-matching',
  description:
    'Two logs holding an entry of the same index and term agree on it and on every entry before it (compared whenever ' +
    'a node stores an entry, by a hash of the prefix); a follower accepts append_entries only when it holds the entry ' +
    'at prevIndex with prevTerm; a leader only appends at the end of its log.',
  check(trace) {
    const name = 'log-matching';
    const out: Violation[] = [];
    const first = new Map<string, Cell>(); // index|term → the first cell seen
    const reported = new Set<string>();
    const replay = new LogReplay({
      onStore(c) {
        const k = `${c.index}|${c.term}`;
        const f = first.get(k);
        if (!f) {
          first.set(k, c);
          return;
        }
        if (sameChain(f, c)) return;
        const d = firstDifference(c, f)!;
        const key = `${c.node}|${f.node}|${d.a.index}|${d.a.term}|${d.b.term}`;
        if (reported.has(key)) return;
        reported.add(key);
        out.push(v(name,
          `${c.node}'s log and ${f.node}'s log both hold an entry ${c.index} of term ${c.term}, but differ at index ${d.a.index}: ` +
          `${c.node} has ${fmtEntry(d.a)}, ${f.node} has ${fmtEntry(d.b)}`,
          [c.at, f.at, d.a.at, d.b.at]));
      },
      onAnomaly(message, events) {
        out.push(v(name, message, events));
      },
    });
    for (const x of hovercraftEvents(trace)) {
      if ('crash' in x) replay.crash(x.crash);
      else replay.step(x.i, x.e);
    }
    return out;
  },
};

// ---- leader completeness ----------------------------------------------------------------------

export const leaderCompleteness: PropertyChecker<Scenario> = {
  name: 'leader-completeness',
  description:
    'An entry a leader commits (Commit, or HandleAggCommit, by the leader of that term) is in the log of every leader ' +
    'of a later term when it becomes leader (BecomeLeader); a leader commits only entries it holds.',
  check(trace) {
    const name = 'leader-completeness';
    const out: Violation[] = [];
    /** Per term: the highest index its leader committed, and that leader's entry there. */
    const committed = new Map<number, { cell: Cell; i: number; node: NodeId }>();
    const replay = new LogReplay();
    const commit = (i: number, node: NodeId, term: number, index: number): void => {
      if (replay.leading.get(node) !== term || index < 1) return;
      const cell = replay.cell(node, index);
      if (!cell) {
        const log = replay.log(node);
        if (log) out.push(v(name, `leader ${node} of term ${term} committed index ${index} but its log has ${log.length} entries`, [i]));
        return;
      }
      const prev = committed.get(term);
      if (!prev || prev.cell.index < index) committed.set(term, { cell, i, node });
    };
    for (const x of hovercraftEvents(trace)) {
      if ('crash' in x) {
        replay.crash(x.crash);
        continue;
      }
      const { i, e } = x;
      replay.step(i, e);
      if (e.action === 'Commit') commit(i, e.node, e.term, e.index);
      else if (e.action === 'HandleAggCommit') {
        // A leader takes AGG_COMMIT up to what it has sent (its Commit event, if any, follows).
        commit(i, e.node, e.term, Math.min(e.commit, replay.log(e.node)?.length ?? 0));
      }
      else if (e.action === 'BecomeLeader') {
        const log = replay.log(e.node);
        if (!log) continue;
        for (const [term, c] of [...committed].sort(([a], [b]) => a - b)) {
          if (term >= e.term) continue;
          const mine = log[c.cell.index - 1];
          if (mine && sameChain(mine, c.cell)) continue;
          // the lowest committed index it lacks or holds differently
          let missing = c.cell;
          for (let x: Cell | undefined = c.cell; x; x = x.prev) {
            const m = log[x.index - 1];
            if (!m || !sameChain(m, x)) missing = x;
            else break;
          }
          const held = log[missing.index - 1];
          out.push(v(name,
            `${e.node} became leader of term ${e.term} without entry ${fmtEntry(missing)}, committed by ${c.node} as leader of term ${term}` +
            (held ? ` (it holds ${fmtEntry(held)})` : ` (its log has ${log.length} entries)`),
            [i, c.i, missing.at, ...(held ? [held.at] : [])]));
          break;
        }
      }
    }
    return out;
  },
};

// ---- state machine safety ---------------------------------------------------------------------

export const stateMachineSafety: PropertyChecker<Scenario> = {
  name: 'state-machine-safety',
  description:
    'Every node applies the same entry at the same index: all Apply events of an index have the same client, rid, ' +
    'replier, read-only flag and body digest. A node applies indices in order 1, 2, 3, … (from 1 again after a ' +
    'restart), and executes every read-write entry.',
  check(trace) {
    const name = 'state-machine-safety';
    const out: Violation[] = [];
    type A = Extract<HovercraftEvent, { action: 'Apply' }>;
    const first = new Map<number, { e: A; i: number }>();
    const last = new Map<NodeId, { index: number; i: number }>();
    for (const x of hovercraftEvents(trace)) {
      if ('crash' in x) {
        last.delete(x.crash);
        continue;
      }
      const { i, e } = x;
      if (e.action === 'NodeStart') last.delete(e.node);
      if (e.action !== 'Apply') continue;
      const prev = last.get(e.node);
      if (e.index !== (prev?.index ?? 0) + 1) {
        out.push(v(name, prev
          ? `${e.node} applied index ${e.index} right after index ${prev.index}`
          : `${e.node} applied index ${e.index} first (since it started)`, prev ? [i, prev.i] : [i]));
      }
      last.set(e.node, { index: e.index, i });
      if (!e.ro && !e.executed && e.client !== NOOP_CLIENT) {
        out.push(v(name, `${e.node} applied read-write entry ${e.index} (${e.client} rid ${e.rid}) without executing it`, [i]));
      }
      const f = first.get(e.index);
      if (!f) {
        first.set(e.index, { e, i });
        continue;
      }
      if (f.e.client === e.client && f.e.rid === e.rid && f.e.replier === e.replier && f.e.ro === e.ro && f.e.digest === e.digest) continue;
      const diffs = (['client', 'rid', 'replier', 'ro', 'digest'] as const)
        .filter((k) => f.e[k] !== e[k])
        .map((k) => `${k} ${JSON.stringify(e[k])} vs ${JSON.stringify(f.e[k])}`);
      out.push(v(name, `${e.node} and ${f.e.node} applied different entries at index ${e.index}: ${diffs.join(', ')}`, [i, f.i]));
    }
    return out;
  },
};

// ---- replier fixed ----------------------------------------------------------------------------

export const replierFixed: PropertyChecker<Scenario> = {
  name: 'replier-fixed',
  description:
    'The replier of an entry (index, term) is the same wherever it appears: Announce, the entries of SendAppendEntries ' +
    'and HandleAppendEntries, persisted logs in NodeStart, and Apply. A leader announces an index at most once per ' +
    'term, and sends its own entries only after announcing them.',
  check(trace) {
    const name = 'replier-fixed';
    const out: Violation[] = [];
    const seen = new Map<number, { replier: NodeId; i: number }>(); // entryKey(index, term) → first sighting
    const announced = new Map<number, number>(); // entryKey(index, term) → its Announce
    const replay = new LogReplay();
    /** Where event i shows a replier (built only for reports). */
    const where = (i: number): string => {
      const e = trace[i]!;
      switch (e.action) {
        case 'SendAppendEntries': return `append_entries from ${e.node} to ${String(e.to)}`;
        case 'HandleAppendEntries': return `append_entries handled by ${e.node}`;
        case 'NodeStart': return `${e.node}'s persisted log`;
        default: return `${e.node}'s ${e.action}`;
      }
    };
    const note = (index: number, term: number, replier: NodeId | null, i: number): void => {
      if (!replier) return;
      const k = entryKey(index, term);
      const s = seen.get(k);
      if (!s) seen.set(k, { replier, i });
      else if (s.replier !== replier) {
        out.push(v(name, `entry ${index} of term ${term} has replier ${replier} in ${where(i)}, but ${s.replier} in ${where(s.i)}`, [i, s.i]));
      }
    };
    const noteEntries = (prevIndex: number, entries: readonly Entry[], i: number): void => {
      for (let k = 0; k < entries.length; k++) note(prevIndex + 1 + k, entries[k]![0], entries[k]![3], i);
    };
    for (const x of hovercraftEvents(trace)) {
      if ('crash' in x) {
        replay.crash(x.crash);
        continue;
      }
      const { i, e } = x;
      replay.step(i, e);
      switch (e.action) {
        case 'Announce': {
          const k = entryKey(e.index, e.term);
          const again = announced.get(k);
          if (again !== undefined) out.push(v(name, `${e.node} announced index ${e.index} in term ${e.term} a second time`, [i, again]));
          else announced.set(k, i);
          note(e.index, replay.cell(e.node, e.index)?.term ?? e.term, e.replier, i);
          break;
        }
        case 'SendAppendEntries': {
          noteEntries(e.prevIndex, e.entries, i);
          if (replay.leading.get(e.node) !== e.term) break;
          e.entries.forEach((en, k) => {
            const index = e.prevIndex + 1 + k;
            if (en[0] === e.term && en[1] !== NOOP_CLIENT && !announced.has(entryKey(index, e.term))) {
              out.push(v(name, `${e.node} sent entry ${index} of term ${e.term} to ${e.to} before announcing it`, [i]));
            }
          });
          break;
        }
        case 'HandleAppendEntries':
          noteEntries(e.prevIndex, e.entries, i);
          break;
        case 'NodeStart':
          noteEntries(0, e.log, i);
          break;
        case 'Apply': {
          const c = replay.cell(e.node, e.index);
          if (c && c.client === e.client && c.rid === e.rid) note(e.index, c.term, e.replier, i);
          break;
        }
      }
    }
    return out;
  },
};

// ---- one reply --------------------------------------------------------------------------------

export const oneReply: PropertyChecker<Scenario> = {
  name: 'one-reply',
  description:
    'At most one Reply per request (client, rid) — more only if the client sent that rid again —, sent by the ' +
    'entry\'s replier after it applied that entry (in the same incarnation), never for a no-op; a client accepts at ' +
    'most one reply (ClientReceiveReply) per request it sent.',
  check(trace, scenario, addrs) {
    const name = 'one-reply';
    const out: Violation[] = [];
    const applied = new Map<NodeId, Map<number, { i: number; client: Addr; rid: number; replier: NodeId }>>();
    const requests = new Map<string, number>(); // client addr|rid → ClientRequests
    const sentBy = new Map<string, number>(); // client node|rid → ClientRequests
    const replies = new Map<string, number[]>(); // client addr|rid → Replies
    const accepted = new Map<string, { generation: number; i: number }>(); // client node|rid → last accept
    for (const x of hovercraftEvents(trace)) {
      if ('crash' in x) {
        applied.delete(x.crash);
        continue;
      }
      const { i, e } = x;
      switch (e.action) {
        case 'NodeStart':
          applied.delete(e.node);
          break;
        case 'ClientRequest': {
          const ka = `${addrs[e.node] ?? e.node}|${e.rid}`;
          requests.set(ka, (requests.get(ka) ?? 0) + 1);
          const kn = `${e.node}|${e.rid}`;
          sentBy.set(kn, (sentBy.get(kn) ?? 0) + 1);
          break;
        }
        case 'Apply': {
          const m = applied.get(e.node) ?? new Map();
          m.set(e.index, { i, client: e.client, rid: e.rid, replier: e.replier });
          applied.set(e.node, m);
          break;
        }
        case 'Reply': {
          const what = `${e.node} replied to ${e.client} rid ${e.rid} for entry ${e.index}`;
          const a = applied.get(e.node)?.get(e.index);
          if (e.client === NOOP_CLIENT) out.push(v(name, `${what}, a no-op`, a ? [i, a.i] : [i]));
          else if (!a) out.push(v(name, `${what} before applying it`, [i]));
          else if (a.client !== e.client || a.rid !== e.rid) {
            out.push(v(name, `${what}, but the entry it applied there is ${a.client} rid ${a.rid}`, [i, a.i]));
          } else if (a.replier !== e.node) out.push(v(name, `${what}, whose replier is ${a.replier}`, [i, a.i]));
          const k = `${e.client}|${e.rid}`;
          const l = replies.get(k) ?? [];
          l.push(i);
          replies.set(k, l);
          if (l.length > Math.max(1, requests.get(k) ?? 0)) {
            out.push(v(name, `${e.client} rid ${e.rid} got ${l.length} replies (from ${l.map((j) => trace[j]!.node).join(', ')})`, [i, ...l.slice(0, -1)]));
          }
          break;
        }
        case 'ClientReceiveReply': {
          const k = `${e.node}|${e.rid}`;
          const generation = sentBy.get(k) ?? 0;
          const prev = accepted.get(k);
          if (prev && prev.generation === generation) {
            out.push(v(name, `${e.node} accepted a second reply for rid ${e.rid}`, [i, prev.i]));
          }
          accepted.set(k, { generation, i });
          break;
        }
      }
    }
    return out;
  },
};

// ---- bounded queue ----------------------------------------------------------------------------

/**
 * The bound B of a scenario: `scenario.topology.bound`, a non-negative number. None (the checker
 * checks nothing) when it is absent, when `topology.mode` is `raft` or when
 * `topology.replierPolicy` is `leader`: the leader then answers every request, with no bound.
 */
export function topologyBound(scenario: Scenario): number | undefined {
  const t = scenario.topology as { bound?: unknown; mode?: unknown; replierPolicy?: unknown } | null | undefined;
  if (!t || t.mode === 'raft' || t.replierPolicy === 'leader') return undefined;
  return typeof t.bound === 'number' && Number.isFinite(t.bound) && t.bound >= 0 ? t.bound : undefined;
}

/**
 * `bounded-queue` with B taken from the scenario by `boundOf`. At each Announce it checks the
 * event's `queue` and a queue recomputed from the trace: the entries of the announcing leader's
 * log whose replier is the announced node (no-ops excluded: nobody replies to them) with an index
 * above the highest index that node applied before the Announce, in any incarnation (the leader
 * knows applied indices only from what nodes reported, so its count is at least this one).
 */
export function makeBoundedQueue<S extends Scenario>(boundOf: (scenario: S) => number | undefined): PropertyChecker<S> {
  return {
    name: 'bounded-queue',
    description:
      'Every Announce leaves the replier with a bounded queue of at most B entries (assigned to it and not yet applied ' +
      'by it): the event\'s own queue, and the queue recomputed from the leader\'s log and the node\'s Apply events.',
    check(trace, scenario) {
      const name = 'bounded-queue';
      const bound = boundOf(scenario);
      if (bound === undefined) return [];
      const out: Violation[] = [];
      const maxApplied = new Map<NodeId, { index: number; i: number }>();
      const replay = new LogReplay();
      for (const x of hovercraftEvents(trace)) {
        if ('crash' in x) {
          replay.crash(x.crash);
          continue;
        }
        const { i, e } = x;
        replay.step(i, e);
        if (e.action === 'Apply') {
          if ((maxApplied.get(e.node)?.index ?? 0) < e.index) maxApplied.set(e.node, { index: e.index, i });
          continue;
        }
        if (e.action !== 'Announce') continue;
        if (e.queue > bound) {
          out.push(v(name, `${e.node} announced entry ${e.index} to ${e.replier} with queue ${e.queue} > B = ${bound}`, [i]));
          continue;
        }
        const log = replay.log(e.node);
        if (!log) continue;
        const applied = maxApplied.get(e.replier);
        const queued: Cell[] = [];
        for (let j = log.length; j > (applied?.index ?? 0); j--) {
          const c = log[j - 1]!;
          if (c.replier === e.replier && c.client !== NOOP_CLIENT) queued.push(c);
        }
        if (queued.length > bound) {
          queued.reverse();
          out.push(v(name,
            `${e.node} announced entry ${e.index} to ${e.replier} (queue ${e.queue} by the event), which then had ${queued.length} > B = ${bound} ` +
            `entries assigned and not applied (it applied up to ${applied?.index ?? 0}): ${queued.map((c) => c.index).join(', ')}`,
            [i, ...(applied ? [applied.i] : [])]));
        }
      }
      return out;
    },
  };
}

export const boundedQueue: PropertyChecker<Scenario> = makeBoundedQueue(topologyBound);

// ---- applied indices not overstated ---------------------------------------------------------

/**
 * `applied-not-overstated`: the leader never overstates a node's applied index. Every applied
 * index reported on the way to the leader is at most what that node has applied before the report
 * in the trace (the highest index of its `Apply` events, in any incarnation): a reply's
 * (`HandleAppendEntriesReply`, `AggReply`; a node sends its reply after the applies it reflects)
 * and each of AGG_COMMIT's (`AggCommit`, and `HandleAggCommit` at the leader of its term). And
 * every `Announce`'s queue is at least the replier's queue recomputed from the leader's log and the
 * replier's applies (the leader may count late news, so more, never fewer), whatever B is.
 */
export const appliedNotOverstated: PropertyChecker<Scenario> = {
  name: 'applied-not-overstated',
  description:
    'No applied index reported to the leader (append_entries replies, AGG_COMMIT) is above what the node applied before ' +
    'the report, and no Announce\'s queue is below the replier\'s queue recomputed from its Apply events.',
  check(trace) {
    const name = 'applied-not-overstated';
    const out: Violation[] = [];
    const maxApplied = new Map<NodeId, { index: number; i: number }>();
    const replay = new LogReplay();
    /** The report of `applied` for `node` at event i, if it is above what the node applied. */
    const report = (i: number, what: string, node: NodeId, applied: number): void => {
      const m = maxApplied.get(node);
      if (applied <= (m?.index ?? 0)) return;
      out.push(v(name, `${what} reports ${node} applied up to ${applied}, but it had applied ${m ? `up to ${m.index}` : 'nothing'}`,
        [i, ...(m ? [m.i] : [])]));
    };
    for (const x of hovercraftEvents(trace)) {
      if ('crash' in x) {
        replay.crash(x.crash);
        continue;
      }
      const { i, e } = x;
      replay.step(i, e);
      switch (e.action) {
        case 'Apply':
          if ((maxApplied.get(e.node)?.index ?? 0) < e.index) maxApplied.set(e.node, { index: e.index, i });
          break;
        case 'HandleAppendEntriesReply':
          report(i, `${e.node}'s append_entries reply from ${e.from} (term ${e.term})`, e.from, e.applied);
          break;
        case 'AggReply':
          report(i, `the aggregator's append_entries reply from ${e.from} (term ${e.term})`, e.from, e.applied);
          break;
        case 'AggCommit':
          for (const [n, a] of e.applied) report(i, `AGG_COMMIT ${e.commit} (term ${e.term})`, n, a);
          break;
        case 'HandleAggCommit':
          if (replay.leading.get(e.node) === e.term) {
            for (const [n, a] of e.applied) if (n !== e.node) report(i, `leader ${e.node}'s AGG_COMMIT ${e.commit} (term ${e.term})`, n, a);
          }
          break;
        case 'Announce': {
          const log = replay.log(e.node);
          if (!log) break;
          const applied = maxApplied.get(e.replier);
          const queued: number[] = [];
          for (let j = Math.min(e.index, log.length); j > (applied?.index ?? 0); j--) {
            const c = log[j - 1]!;
            if (c.replier === e.replier && c.client !== NOOP_CLIENT) queued.push(c.index);
          }
          if (queued.length > e.queue) {
            out.push(v(name,
              `${e.node} announced entry ${e.index} to ${e.replier} with queue ${e.queue}, but ${queued.length} entries were ` +
              `assigned to it and not applied (it applied ${applied ? `up to ${applied.index}` : 'nothing'}): ${queued.reverse().join(', ')}`,
              [i, ...(applied ? [applied.i] : [])]));
          }
          break;
        }
        default:
          break;
      }
    }
    return out;
  },
};

// ---- replier-only reads -----------------------------------------------------------------------

export const replierOnlyReads: PropertyChecker<Scenario> = {
  name: 'replier-only-reads',
  description: 'A read-only entry is executed (Apply with executed = true) by its replier and by no other node.',
  check(trace) {
    const name = 'replier-only-reads';
    const out: Violation[] = [];
    for (const x of hovercraftEvents(trace)) {
      if (!('e' in x) || x.e.action !== 'Apply' || !x.e.ro) continue;
      const e = x.e;
      if (e.executed && e.node !== e.replier) {
        out.push(v(name, `${e.node} executed read-only entry ${e.index} (${e.client} rid ${e.rid}), whose replier is ${e.replier}`, [x.i]));
      } else if (!e.executed && e.node === e.replier) {
        out.push(v(name, `${e.node} is the replier of read-only entry ${e.index} (${e.client} rid ${e.rid}) but did not execute it`, [x.i]));
      }
    }
    return out;
  },
};

// ---- linearizability --------------------------------------------------------------------------

export interface HistoryOptions {
  /**
   * Widens every operation's interval by this many µs on both sides (for traces merged from hosts
   * whose clocks are only known within a bound). Default 0.
   */
  readonly clockSlackUs?: number;
}

function opOf(e: Extract<HovercraftEvent, { action: 'ClientRequest' }>): KvOp {
  return match(e.op)
    .returnType<KvOp>()
    .with('get', () => ({ op: 'get', key: e.key }))
    .with('put', () => ({ op: 'put', key: e.key, value: e.value ?? '' }))
    .with('cas', () => ({ op: 'cas', key: e.key, expected: e.expected, value: e.value ?? '' }))
    .exhaustive();
}

/**
 * The clients' key-value history in a trace. `ClientRequest` calls an operation (client = the
 * client node); `ClientReceiveReply` returns it with its result; after `ClientReceiveNack`,
 * `ClientTimeout`, a `HostCrash` of the client, or no completion by the end of the trace it is
 * pending (it may take effect, or not: a NACK refuses one copy, and a duplicate copy may still be
 * admitted and ordered). Events carry the trace indices
 * of the request and of its completion.
 */
export function historyFromTrace(trace: Trace, options: HistoryOptions = {}): KvOperation[] {
  const slack = options.clockSlackUs ?? 0;
  interface Draft { client: NodeId; rid: number; call: number; ret?: number; input: KvOp; output?: KvResult; events: number[] }
  const drafts: Draft[] = [];
  const open = new Map<NodeId, Draft>();
  for (const x of hovercraftEvents(trace)) {
    if ('crash' in x) {
      open.delete(x.crash);
      continue;
    }
    const { i, e } = x;
    const current = open.get(e.node);
    const mine = (rid: number): Draft | undefined => (current && current.rid === rid ? current : undefined);
    switch (e.action) {
      case 'ClientRequest': {
        const d: Draft = { client: e.node, rid: e.rid, call: e.t - slack, input: opOf(e), events: [i] };
        drafts.push(d);
        open.set(e.node, d);
        break;
      }
      case 'ClientReceiveReply': {
        const d = mine(e.rid);
        if (!d) break;
        d.ret = e.t + slack;
        d.output = e.result;
        d.events.push(i);
        open.delete(e.node);
        break;
      }
      case 'ClientReceiveNack': {
        // A NACK refuses one copy of the request; a duplicate of it may still be admitted and
        // ordered (docs/hovercraft.md, "What a NACK promises"), so the operation stays pending.
        const d = mine(e.rid);
        if (!d) break;
        d.events.push(i);
        open.delete(e.node);
        break;
      }
      case 'ClientTimeout': {
        const d = mine(e.rid);
        if (!d) break;
        d.events.push(i);
        open.delete(e.node);
        break;
      }
    }
  }
  return drafts.map((d, id) => ({ id, client: d.client, call: d.call, ret: d.ret, input: d.input, output: d.output, events: d.events }));
}

/** The search budget of the `linearizable` checker. */
export const LINEARIZABLE_BUDGET: CheckOptions = { maxSteps: 2_000_000, timeoutMs: 5_000 };

export interface LinearizableOutcome {
  /** `unknown`: the search ran out of budget before deciding; neither a pass nor a violation. */
  readonly verdict: 'ok' | 'violation' | 'unknown';
  readonly history: readonly KvOperation[];
  readonly result: LinearizabilityResult<KvState, KvOp, KvResult>;
  /** One per key without a linearization (empty unless the verdict is `violation`). */
  readonly violations: readonly Violation[];
}

/**
 * Checks the trace's client history against the key-value model, key by key. The runner uses this
 * to count `unknown` verdicts; the `linearizable` checker reports only violations.
 */
export function checkLinearizable(trace: Trace, options: CheckOptions & HistoryOptions = LINEARIZABLE_BUDGET): LinearizableOutcome {
  const history = historyFromTrace(trace, options);
  const result = checkLinearizability(kvModel, history, { ...LINEARIZABLE_BUDGET, ...options });
  const violations = result.verdict !== 'violation' ? [] : result.failures.map((f) => {
    const events = [
      ...[...(f.blocking.events ?? [])].reverse(),
      ...f.candidates.flatMap((c) => c.op.events ?? []),
      ...f.prefix.slice(-10).flatMap((op) => op.events ?? []),
    ];
    return v('linearizable', `key ${JSON.stringify(f.key)}: ${f.explanation}`, events);
  });
  return { verdict: result.verdict, history, result, violations };
}

/** A `linearizable` checker with its own search budget. */
export function makeLinearizable(options: CheckOptions & HistoryOptions = LINEARIZABLE_BUDGET): PropertyChecker<Scenario> {
  return {
    name: 'linearizable',
    description:
      'The clients\' key-value operations are linearizable (get/put/cas per kv.ts; NACKed, ' +
      'timed-out or crashed ones pending: they may take effect after their call, or never). The check is a search ' +
      'with a budget: when it runs out the verdict is unknown, which this checker does not report as a violation; ' +
      'checkLinearizable(trace) gives the verdict for counting.',
    check(trace) {
      return [...checkLinearizable(trace, options).violations];
    },
  };
}

export const linearizable: PropertyChecker<Scenario> = makeLinearizable();

export const hovercraftProperties: readonly PropertyChecker<Scenario>[] = [
  linearizable, electionSafety, logMatching, leaderCompleteness, stateMachineSafety, replierFixed, oneReply,
  boundedQueue, appliedNotOverstated, replierOnlyReads,
];
