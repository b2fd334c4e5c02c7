/**
 * TLC trace validation of HovercRaft traces against `specs/hovercraft/HovercRaft.tla`.
 *
 * A whole batch goes into ONE generated module and ONE TLC run, as for R2P2:
 *
 * - each trace's protocol events become a TLA+ sequence of records,
 *   `Traces == << <<e1, e2, ...>>, <<...>> >>`. Every address becomes the identity the spec uses
 *   (the node id of `input.addrs`: `client1`, `node2`, …); the no-op client `0.0.0.0:0` stays
 *   `"0.0.0.0:0"` (the spec's `NoOpClient`); `null` (a vote not cast, a get's value, a missing
 *   value) becomes `"none"` (the spec's `None`); JSON arrays become tuples, and the fields the spec
 *   takes as sets (`missing`) become sets;
 * - skipped: `Net*` annotations (the spec's network loses, duplicates and reorders by itself) and
 *   host annotations, except the aggregator's restart, which is the spec's `AggRestart` (a node's
 *   crash and restart show as its `NodeStart`). The middlebox's events are the spec's middlebox
 *   actions (`MiddleboxForward`, `MiddleboxNack`, `MiddleboxFeedback`, `MiddleboxExpire`, with the
 *   slots held after each as `inflight`);
 * - the per-trace constants (the node set, so that quorums are right, the mode, the replier policy,
 *   B and the middlebox's threshold) are tuples indexed by the trace number `tvK`, applied to a
 *   parameterized `INSTANCE`
 *   under `\E x \in {T[tvK]}` (an instance argument must be constant-level); the clients are the
 *   union over the batch;
 * - `TInit` picks `tvK` and sets `tvI = 1`; `TNext` takes event `Traces[tvK][tvI]`, requires the
 *   spec action of that name with the event's fields as parameters (`EVENT_PARAMS`), and moves
 *   `tvI` on; every new furthest match prints `<<"matched", tvK, tvI>>` and a trace matched to its
 *   end prints `<<"accepted", tvK>>`.
 *
 * Hidden state is constrained where the events determine it, so that the matching stays one or a
 * few states per event (traces of thousands of events validate in seconds):
 *
 * - messages: a receipt keeps its message in flight (the spec's duplication branch of `Deliver`,
 *   with `MaxDups` out of reach), and a request the middlebox admits reaches every node. Every
 *   spec action is
 *   monotone in the set of messages in flight (receipts and `StepDown` need a message to be there,
 *   none needs one to be absent), so a trace some behaviour matches is matched by one that keeps
 *   every message: the constraint loses no behaviour that matters, and removes the branching on
 *   which copies were lost or duplicated;
 * - retirement: a message leaves the network once no later event of the trace may read it, so the
 *   set in flight stays small and a step costs the same at event 10 and at event 10,000. Each
 *   event reads messages through keys (`readKeys`: the message kind and every field the event's
 *   action fixes from its parameters, e.g. a `HandleAppendEntries` fixes every field of the
 *   append but its route; a `StepDown` to term t at n reads any message of term t to n; a
 *   `MiddleboxExpire` any waiting request), and the module's `TvKeys` gives a message's keys the
 *   same way, from its fields. `TvLast` maps each key to the last event that reads it; the config
 *   replaces the spec's `Net` hook (the identity, for model checking) with `TvNet`, which keeps
 *   the messages with a key read after the current event. Sound and complete with respect to
 *   keeping every message: an action reads `msgs` only through messages of its event's keys, so
 *   the retired ones change no later step, and the states matched are the same but for them.
 *   Messages are compared by value, as the spec's set does: two sends of equal messages are one
 *   element, read until the last event that reads either;
 * - HovercRaft++: an append_entries may be in flight twice with the same fields, sent straight and
 *   forwarded by the aggregator; a successful reply then goes to the aggregator or to the leader.
 *   Where a later event receives the reply (an `AggReply`, or the leader's
 *   `HandleAppendEntriesReply`) the route is fixed to that one (`via` in the record);
 * - `VIEW` leaves out `dups` and the history variables, which no action reads (with `MaxDups` out
 *   of reach, states that differ only there have the same futures).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Addr, NodeId } from '../../../impl/core.ts';
import { runTraceCheck, toTla, TraceValidationError, type GeneratedModule } from '../../tlc/index.ts';
import type { TraceValidationInput, TraceValidationResult } from '../../protocol.ts';
import { isHostAnnotation, isNetAnnotation, type TraceEvent } from '../../trace/schema.ts';
import { AGGREGATOR_NODE, MIDDLEBOX_NODE, type HovercraftTopology } from './scenario.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const HOVERCRAFT_SPEC = resolve(HERE, '../../../specs/hovercraft/HovercRaft.tla');

/** The address of the no-op entries' client; the spec's `NoOpClient` is the same string. */
export const ZERO_ADDR: Addr = '0.0.0.0:0';
/** The spec's `None` (a `null` of the traces). */
const NONE = 'none';

/**
 * The spec action's parameters, in order, for each event action (the names are the trace fields;
 * `node` is the acting node). `set:` marks an array field the spec takes as a set; `fn:` an array of
 * `[key, value]` pairs the spec takes as a function (AGG_COMMIT's applied array: node → index).
 */
export const EVENT_PARAMS: Readonly<Record<string, readonly string[]>> = {
  ClientRequest: ['node', 'rid', 'op', 'key', 'value', 'expected', 'ro'],
  ClientReceiveReply: ['node', 'rid', 'from', 'result'],
  ClientReceiveNack: ['node', 'rid'],
  ClientTimeout: ['node', 'rid'],
  MiddleboxForward: ['client', 'rid', 'inflight'],
  MiddleboxNack: ['client', 'rid', 'inflight'],
  MiddleboxFeedback: ['client', 'rid', 'inflight'],
  MiddleboxExpire: ['client', 'rid', 'inflight'],
  NodeStart: ['node', 'term', 'votedFor', 'log'],
  FollowerBuffer: ['node', 'client', 'rid', 'ro'],
  FollowerGc: ['node', 'client', 'rid'],
  LeaderAppend: ['node', 'term', 'index', 'client', 'rid', 'ro'],
  BecomeCandidate: ['node', 'term'],
  SendRequestVote: ['node', 'to', 'term', 'lastIndex', 'lastTerm'],
  HandleRequestVote: ['node', 'from', 'term', 'lastIndex', 'lastTerm', 'granted'],
  HandleVoteReply: ['node', 'from', 'term', 'granted', 'votes'],
  BecomeLeader: ['node', 'term'],
  StepDown: ['node', 'term'],
  Announce: ['node', 'term', 'index', 'replier', 'queue'],
  SendAppendEntries: ['node', 'to', 'term', 'prevIndex', 'prevTerm', 'entries', 'commit'],
  HandleAppendEntries: ['node', 'from', 'term', 'prevIndex', 'prevTerm', 'entries', 'commit', 'success', 'matchIndex', 'set:missing'],
  HandleAppendEntriesReply: ['node', 'from', 'term', 'success', 'matchIndex', 'applied'],
  SendRecoveryRequest: ['node', 'to', 'client', 'rid'],
  HandleRecoveryRequest: ['node', 'from', 'client', 'rid', 'found'],
  HandleRecoveryReply: ['node', 'from', 'client', 'rid'],
  Commit: ['node', 'term', 'index'],
  Apply: ['node', 'index', 'client', 'rid', 'replier', 'ro', 'executed', 'digest'],
  Reply: ['node', 'index', 'client', 'rid', 'result'],
  HandleAggCommit: ['node', 'term', 'commit', 'fn:applied'],
  LeaderUseAggregator: ['node', 'term'],
  AggRestart: [],
  AggFlush: ['term'],
  AggProbe: ['from', 'term'],
  AggForward: ['term', 'prevIndex', 'count', 'commit'],
  AggReply: ['from', 'term', 'matchIndex', 'applied'],
  AggCommit: ['term', 'commit', 'fn:applied'],
};

/**
 * Trace actions the spec has no action for; they would be skipped. None: every protocol action of
 * `impl/hovercraft/actions.ts` is a spec action (the middlebox too).
 */
export const UNMODELLED_ACTIONS: ReadonlySet<string> = new Set<string>();

/** Variables of the spec that no action reads: left out of the `VIEW`. */
const VIEW_EXCLUDED = new Set([
  'dups', 'leaders', 'repliers', 'committed', 'appliedHist', 'appliedMax', 'replies', 'restarts', 'mbAdmitted', 'mbExpired',
]);

export interface HovercraftTraceValidationOptions {
  /**
   * TLC timeout for the whole batch (default: 10 minutes, or 40 ms per spec event if more).
   */
  readonly timeoutMs?: number;
  /** Keep the generated module in this directory (for debugging) instead of a temporary one. */
  readonly keepDir?: string;
  /** The spec to validate against (default `specs/hovercraft/HovercRaft.tla`). */
  readonly specPath?: string;
}

export type { GeneratedModule };

export { TraceValidationError };

/** The variables the spec declares (its `VARIABLES` block), in order. */
export function specVariables(specText: string): string[] {
  const lines = specText.split('\n');
  const start = lines.findIndex((l) => /^VARIABLES\b/.test(l));
  if (start < 0) throw new TraceValidationError('HovercRaft.tla: no VARIABLES block');
  const out: string[] = [];
  for (let j = start; j < lines.length; j++) {
    const text = lines[j]!.replace(/\\\*.*$/, '').replace(/^VARIABLES\b/, '');
    if (j > start && lines[j]!.trim() === '') break;
    if (text.trim() === '') continue;
    for (const id of text.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
      if (!/^[A-Za-z_]\w*$/.test(id)) throw new TraceValidationError(`HovercRaft.tla: unexpected '${id}' in VARIABLES`);
      out.push(id);
    }
    if (j > start && !/,\s*$/.test(text)) break;
  }
  return out;
}

/** The event as the spec sees it, or undefined when the spec has no action for it. */
function specEvent(e: TraceEvent): TraceEvent | undefined {
  if (isNetAnnotation(e)) return undefined;
  if (isHostAnnotation(e)) {
    return e.action === 'HostRestart' && e.node === AGGREGATOR_NODE ? { t: e.t, node: e.node, action: 'AggRestart' } : undefined;
  }
  if (UNMODELLED_ACTIONS.has(e.action)) return undefined;
  return e;
}

/** A trace field as a TLA+ value: addresses → identities, null → None, arrays → tuples. */
function value(v: unknown, byAddr: ReadonlyMap<Addr, NodeId>): string {
  if (v === null || v === undefined) return toTla(NONE);
  if (typeof v === 'string') return toTla(v === ZERO_ADDR ? v : byAddr.get(v) ?? v);
  if (Array.isArray(v)) return `<<${v.map((x) => value(x, byAddr)).join(', ')}>>`;
  return toTla(v);
}

/**
 * For each successful `HandleAppendEntries` of a HovercRaft++ trace: where its reply went. The
 * append it handled came straight from the leader (`direct`: an earlier `SendAppendEntries` to this
 * node with the same fields) or as the aggregator's copy (`agg`: an earlier `AggForward` of an
 * append the leader sent to the aggregator with the same fields); a success goes back the same way.
 * When both could have been handled, the later events decide: an `AggReply` or the leader's
 * `HandleAppendEntriesReply` with this reply's fields. When none receives it, the route makes no
 * difference to what follows, and one is fixed (`direct`), so that the matching does not branch
 * on it; `any` only when later events receive a reply with these fields by both routes.
 */
function replyRoutes(events: readonly TraceEvent[]): Map<number, 'agg' | 'direct' | 'any'> {
  const applied = new Map<string, number>();
  const replyKey = (from: unknown, term: unknown, mi: unknown, ap: unknown) => JSON.stringify([from, term, mi, ap]);
  const appendKey = (leader: unknown, e: TraceEvent) => JSON.stringify([leader, e['term'], e['prevIndex'], e['prevTerm'], e['entries'], e['commit']]);
  const sentDirect = new Set<string>(); // appendKey + destination
  const forwarded = new Set<string>(); // appendKey of appends the aggregator forwarded
  const aggKey = (term: unknown, prevIndex: unknown, count: unknown, commit: unknown) => JSON.stringify([term, prevIndex, count, commit]);
  const sentBodies = new Map<string, TraceEvent[]>(); // aggKey -> the SendAppendEntries events to the aggregator
  const pending: { j: number; key: string; leader: string }[] = [];
  const routes = new Map<number, 'agg' | 'direct' | 'any'>();
  const seen = new Map<number, Set<'agg' | 'direct'>>();
  events.forEach((e, j) => {
    if (e.action === 'NodeStart') applied.set(e.node, 0);
    else if (e.action === 'Apply') applied.set(e.node, e['index'] as number);
    else if (e.action === 'SendAppendEntries') {
      if (e['to'] === AGGREGATOR_NODE) {
        const k = aggKey(e['term'], e['prevIndex'], (e['entries'] as unknown[]).length, e['commit']);
        sentBodies.set(k, [...(sentBodies.get(k) ?? []), e]);
      } else {
        sentDirect.add(appendKey(e.node, e) + String(e['to']));
      }
    } else if (e.action === 'AggForward') {
      for (const sent of sentBodies.get(aggKey(e['term'], e['prevIndex'], e['count'], e['commit'])) ?? []) {
        forwarded.add(appendKey(sent.node, sent));
      }
    } else if (e.action === 'HandleAppendEntries' && e['success'] === true) {
      const k = appendKey(e['from'], e);
      const direct = sentDirect.has(k + e.node);
      const agg = forwarded.has(k);
      if (direct !== agg) {
        routes.set(j, direct ? 'direct' : 'agg');
        return;
      }
      if (!direct) return; // neither: no behaviour matches this event, whatever the route
      pending.push({ j, key: replyKey(e.node, e['term'], e['matchIndex'], appliedAfter(events, j, applied.get(e.node) ?? 0)), leader: e['from'] as string });
      seen.set(j, new Set());
    } else if (e.action === 'AggReply' || (e.action === 'HandleAppendEntriesReply' && e['success'] === true)) {
      const k = replyKey(e['from'], e['term'], e['matchIndex'], e['applied']);
      const route = e.action === 'AggReply' ? 'agg' : 'direct';
      for (const p of pending) {
        if (p.j < j && p.key === k && (route === 'agg' || p.leader === e.node)) seen.get(p.j)!.add(route);
      }
    }
  });
  for (const [j, s] of seen) routes.set(j, s.size === 1 ? [...s][0]! : s.size === 0 ? 'direct' : 'any');
  return routes;
}

/**
 * The applied index a node has once it has handled event j: the reply to an append_entries goes
 * out after the `Commit` and `Apply` events the append enables, which follow it at that node.
 */
function appliedAfter(events: readonly TraceEvent[], j: number, before: number): number {
  const node = events[j]!.node;
  let applied = before;
  for (let k = j + 1; k < events.length; k++) {
    const e = events[k]!;
    if (e.node !== node) continue;
    if (e.action === 'Apply') applied = e['index'] as number;
    else if (e.action !== 'Commit') break;
  }
  return applied;
}

/** The trace actions whose spec action reads the network (`readKeys` gives their keys). */
export const MESSAGE_READERS: ReadonlySet<string> = new Set([
  'ClientReceiveReply', 'ClientReceiveNack', 'MiddleboxForward', 'MiddleboxNack', 'MiddleboxFeedback', 'MiddleboxExpire',
  'FollowerBuffer', 'LeaderAppend', 'HandleRequestVote', 'HandleVoteReply', 'StepDown', 'HandleAppendEntries',
  'HandleAppendEntriesReply', 'HandleRecoveryRequest', 'HandleRecoveryReply', 'LeaderUseAggregator', 'HandleAggCommit',
  'AggFlush', 'AggProbe', 'AggForward', 'AggReply',
]);

/**
 * The messages an event's spec action may read (receive, or require in flight), as keys: tuples
 * of the fields the action fixes from its parameters (`TvKeys` in the generated module gives the
 * keys of a message, the same way). A key holds only fields the action matches exactly, so a
 * message the action reads has one of the event's keys. `undefined` when a field the key needs
 * has an unexpected type: such an event is taken to read every message (see `TvAll`).
 */
function readKeys(e: TraceEvent, byAddr: ReadonlyMap<Addr, NodeId>): string[] | undefined {
  const id = (f: string): string | undefined => (typeof e[f] === 'string' ? value(e[f], byAddr) : undefined);
  const num = (f: string): string | undefined => (Number.isInteger(e[f]) ? String(e[f]) : undefined);
  const bool = (f: string): string | undefined => (typeof e[f] === 'boolean' ? toTla(e[f]) : undefined);
  // An entry is <<term, client, rid, replier, ro>> (replier null: None).
  const isEntry = (x: unknown): boolean => Array.isArray(x) && x.length === 5 && Number.isInteger(x[0]) &&
    typeof x[1] === 'string' && Number.isInteger(x[2]) && (typeof x[3] === 'string' || x[3] === null) && typeof x[4] === 'boolean';
  const entries = (): string | undefined => {
    const v = e['entries'];
    return Array.isArray(v) && v.every(isEntry) ? value(v, byAddr) : undefined;
  };
  const key = (...parts: (string | undefined)[]): string[] | undefined => (parts.every((x) => x !== undefined) ? [`<<${parts.join(', ')}>>`] : undefined);
  const node = toTla(e.node);
  const tag = (t: string) => toTla(t);
  switch (e.action) {
    case 'ClientReceiveReply': return key(tag('Reply'), node, num('rid'), id('from'));
    case 'ClientReceiveNack': return key(tag('Nack'), node, num('rid'));
    case 'MiddleboxForward': case 'MiddleboxNack': return key(tag('MbReq'), id('client'), num('rid'));
    case 'MiddleboxFeedback': return key(tag('Feedback'), id('client'), num('rid'));
    case 'MiddleboxExpire': return key(tag('MbReq*')); // any request waiting at the middlebox
    case 'FollowerBuffer': case 'LeaderAppend': return key(tag('Req'), node, id('client'), num('rid'));
    case 'HandleRequestVote': return key(tag('RV'), node, id('from'), num('term'), num('lastIndex'), num('lastTerm'));
    case 'HandleVoteReply': return key(tag('RVR'), node, id('from'), num('term'), bool('granted'));
    case 'StepDown': return key(tag('Term'), node, num('term'));
    case 'HandleAppendEntries':
      return key(tag('AE'), node, id('from'), num('term'), num('prevIndex'), num('prevTerm'), entries(), num('commit'));
    case 'HandleAppendEntriesReply':
      return key(tag('AER'), node, id('from'), num('term'), bool('success'), num('matchIndex'), num('applied'));
    case 'HandleRecoveryRequest': return key(tag('RecReq'), node, id('from'), id('client'), num('rid'));
    case 'HandleRecoveryReply': return key(tag('RecRep'), node, id('from'), id('client'), num('rid'));
    case 'LeaderUseAggregator': return key(tag('ProbeRep'), node, num('term'));
    case 'HandleAggCommit': return key(tag('AC'), node, num('term'), num('commit'));
    case 'AggFlush': return key(tag('AggTerm'), num('term'));
    case 'AggProbe': return key(tag('Probe'), id('from'), num('term'));
    case 'AggForward': return key(tag('AEagg'), num('term'), num('prevIndex'), num('count'), num('commit'));
    case 'AggReply': return key(tag('AER'), toTla(AGGREGATOR_NODE), id('from'), num('term'), 'TRUE', num('matchIndex'), num('applied'));
    default: return MESSAGE_READERS.has(e.action) ? undefined : []; // (no key: it reads no message)
  }
}

/**
 * For each key some event of the trace reads: the last such event (1-based), as a TLA+ function.
 * After event i, a message none of whose keys maps above i is read by no later event.
 */
function lastReads(events: readonly TraceEvent[], byAddr: ReadonlyMap<Addr, NodeId>): { last: string; all: number } {
  const last = new Map<string, number>();
  let all = 0;
  events.forEach((e, j) => {
    const keys = readKeys(e, byAddr);
    if (keys === undefined) all = j + 1;
    for (const k of keys ?? []) last.set(k, j + 1);
  });
  return { last: last.size === 0 ? '[tvX \\in {} |-> 0]' : balanced([...last].map(([k, j]) => `${k} :> ${j}`), ' @@ '), all };
}

/** `(a op b) op (c op d)`: a long chain nested to a depth of log n (TLC's parser recurses). */
function balanced(xs: readonly string[], op: string): string {
  if (xs.length === 1) return `(${xs[0]})`;
  const h = Math.ceil(xs.length / 2);
  return `(${balanced(xs.slice(0, h), op)}${op}${balanced(xs.slice(h), op)})`;
}

/** A parameter's field name (without its `set:` / `fn:` marker). */
const paramName = (p: string): string => p.replace(/^(set|fn):/, '');

/**
 * `[[k1, v1], [k2, v2], …]` as the TLA+ function `(k1 :> v1 @@ k2 :> v2 …)`; anything else (a
 * malformed field) as the value itself, which then matches no step.
 */
function functionValue(v: unknown, byAddr: ReadonlyMap<Addr, NodeId>): string {
  const pairs = Array.isArray(v) && v.length > 0 && v.every((x) => Array.isArray(x) && x.length === 2) ? v as unknown[][] : undefined;
  if (pairs === undefined) return value(v, byAddr);
  return `(${pairs.map(([k, x]) => `${value(k, byAddr)} :> ${value(x, byAddr)}`).join(' @@ ')})`;
}

/** One event as a TLA+ record: action, node, the action's parameters, and `via` where fixed. */
function eventRecord(e: TraceEvent, byAddr: ReadonlyMap<Addr, NodeId>, via: string): string {
  const params = EVENT_PARAMS[e.action];
  const fields: string[] = [`action |-> ${toTla(e.action)}`, `node |-> ${toTla(e.node)}`, `via |-> ${toTla(via)}`];
  for (const p of params ?? []) {
    if (p === 'node') continue;
    const asSet = p.startsWith('set:');
    const asFn = p.startsWith('fn:');
    const name = paramName(p);
    const v = e[name];
    const text = v === undefined
      ? toTla('?missing')
      : asSet ? `{${(Array.isArray(v) ? v : [v]).map((x) => value(x, byAddr)).join(', ')}}`
      : asFn ? functionValue(v, byAddr)
      : value(v, byAddr);
    fields.push(`${name} |-> ${text}`);
  }
  return `[${fields.join(', ')}]`;
}

const INSTANCE_ARGS = '(tvNodes, tvMode, tvPol, tvB, tvThr)';

/** The TLA+ call of the spec action for the current event `TvE`: every parameter is the event's. */
function actionCall(action: string): string {
  const args = EVENT_PARAMS[action]!.map((p) => `TvE.${paramName(p)}`);
  return `H${INSTANCE_ARGS}!${action}${args.length ? `(${args.join(', ')})` : ''}`;
}

/** Extra constraints on the step of an action (the hidden state the events determine). */
function actionExtra(action: string): string {
  switch (action) {
    case 'MiddleboxForward':
      return ` /\\ \\A tvX \\in tvNodes : TvAfter(<<"Req", tvX, TvE.client, TvE.rid>>) =>\n` +
        `          \\E tvM \\in msgs' : tvM.type = "Req" /\\ tvM.dst = tvX /\\ tvM.client = TvE.client /\\ tvM.rid = TvE.rid`;
    case 'HandleAppendEntries':
      return ` /\\ RouteOk`;
    default:
      return '';
  }
}

const policyOf = (t: Partial<HovercraftTopology>): string => (t.replierPolicy ?? 'jbsq');

/** Builds the module and its config for a batch. */
export function generateHovercraftTraceModule(
  batch: readonly TraceValidationInput[],
  variables: readonly string[],
  options: { readonly moduleName?: string } = {},
): GeneratedModule {
  const moduleName = options.moduleName ?? 'HovercRaftTraceCheck';
  const clients = new Set<string>();
  const traces: string[] = [];
  const reads: string[] = [];
  const readAll: number[] = [];
  const nodeSets: string[] = [];
  const modes: string[] = [];
  const policies: string[] = [];
  const bounds: number[] = [];
  const thresholds: number[] = [];
  const eventIndices: number[][] = [];
  const included: number[] = [];
  batch.forEach((input, b) => {
    const topology = (input.scenario.topology ?? {}) as Partial<HovercraftTopology>;
    const byAddr = new Map<Addr, NodeId>();
    for (const [id, addr] of Object.entries(input.addrs)) byAddr.set(addr, id);
    for (const id of Object.keys(input.addrs)) if (id.startsWith('client')) clients.add(id);
    for (let j = 1; j <= (topology.clients ?? 0); j++) clients.add(`client${j}`);
    const nodes = new Set<string>();
    for (const id of Object.keys(input.addrs)) if (/^node\d+$/.test(id)) nodes.add(id);
    for (let j = 1; j <= (topology.nodes ?? 0); j++) nodes.add(`node${j}`);
    const indices: number[] = [];
    const events: TraceEvent[] = [];
    input.trace.forEach((e, j) => {
      const s = specEvent(e);
      if (s !== undefined) {
        indices.push(j);
        events.push(s);
      }
    });
    eventIndices.push(indices);
    if (indices.length === 0) return;
    included.push(b);
    const mode = topology.mode ?? 'hovercraft';
    const routes = mode === 'hovercraft++' ? replyRoutes(events) : new Map<number, string>();
    const lr = lastReads(events, byAddr);
    reads.push(lr.last);
    readAll.push(lr.all);
    traces.push(`<<${events.map((e, j) => eventRecord(e, byAddr, routes.get(j) ?? 'any')).join(',\n    ')}>>`);
    nodeSets.push(`{${[...nodes].sort().map((x) => toTla(x)).join(', ')}}`);
    modes.push(toTla(mode));
    policies.push(toTla(policyOf(topology)));
    bounds.push(topology.bound ?? 1);
    thresholds.push(topology.threshold ?? 0);
  });
  const setOf = (xs: Iterable<string>) => `{${[...xs].sort().map((x) => toTla(x)).join(', ')}}`;
  const disjuncts = Object.keys(EVENT_PARAMS)
    .map((a) => `    \\/ TvE.action = ${toTla(a)} /\\ ${actionCall(a)}${actionExtra(a)}`)
    .join('\n');
  const view = ['tvK', 'tvI', ...variables.filter((v) => !VIEW_EXCLUDED.has(v))];
  const tla = `---- MODULE ${moduleName} ----
(* Generated by harness/protocols/hovercraft/trace-validation.ts: ${traces.length} trace(s) of *)
(* HovercRaft events, checked against HovercRaft.tla in one TLC run.              *)
EXTENDS Naturals, Sequences, FiniteSets, TLC

VARIABLES tvK, tvI,
    ${variables.join(', ')}

TClients == ${setOf(clients)}
TNodes == <<${nodeSets.join(', ')}>>
TMode == <<${modes.join(', ')}>>
TPolicy == <<${policies.join(', ')}>>
TB == <<${bounds.join(', ')}>>
TThreshold == <<${thresholds.join(', ')}>>

H${INSTANCE_ARGS} == INSTANCE HovercRaft WITH
    Nodes <- tvNodes, Clients <- TClients, Aggregator <- ${toTla(AGGREGATOR_NODE)}, Middlebox <- ${toTla(MIDDLEBOX_NODE)},
    Mode <- tvMode, ReplierPolicy <- tvPol, B <- tvB, Threshold <- tvThr,
    MaxDups <- 1000000000, MaxRid <- 1000000000, ReadReqs <- {}, Bugs <- {}

Traces == <<
  ${traces.join(',\n  ')}
>>

TInit ==
    /\\ tvK \\in 1..Len(Traces)
    /\\ tvI = 1
    /\\ TLCSet(tvK, 0)
    /\\ \\E tvNodes \\in {TNodes[tvK]}, tvMode \\in {TMode[tvK]}, tvPol \\in {TPolicy[tvK]}, tvB \\in {TB[tvK]},
          tvThr \\in {TThreshold[tvK]} :
          H${INSTANCE_ARGS}!Init

TvE == Traces[tvK][tvI]

\\* Per trace: each message key some event reads, and the last event that reads it.
TvLast == <<
  ${reads.join(',\n  ')}
>>
\\* Per trace: the last event whose keys could not be told (it may read any message; 0: none).
TvAll == <<${readAll.join(', ')}>>

\\* The keys of message m: one per kind of event that may read it (receive it, or
\\* require it in flight), with the fields that event fixes (readKeys in
\\* trace-validation.ts gives an event's keys the same way).
TvKeys(m) ==
    CASE m.type = "Reply" -> {<<"Reply", m.dst, m.rid, m.src>>}
      [] m.type = "Nack" -> {<<"Nack", m.dst, m.rid>>}
      [] m.type = "MbReq" -> {<<"MbReq", m.client, m.rid>>, <<"MbReq*">>}
      [] m.type = "Feedback" -> {<<"Feedback", m.client, m.rid>>}
      [] m.type = "Req" -> {<<"Req", m.dst, m.client, m.rid>>}
      [] m.type = "RecReq" -> {<<"RecReq", m.dst, m.src, m.client, m.rid>>}
      [] m.type = "RecRep" -> {<<"RecRep", m.dst, m.src, m.client, m.rid>>}
      [] m.type = "Probe" -> {<<"Probe", m.src, m.term>>, <<"AggTerm", m.term>>}
      [] m.type = "AE" /\\ m.dst = ${toTla(AGGREGATOR_NODE)} ->
            {<<"AEagg", m.term, m.prevIndex, Len(m.entries), m.commit>>, <<"AggTerm", m.term>>}
      [] m.type = "AER" /\\ m.dst = ${toTla(AGGREGATOR_NODE)} ->
            {<<"AER", m.dst, m.src, m.term, m.success, m.matchIndex, m.applied>>, <<"AggTerm", m.term>>}
      [] m.type = "RV" -> {<<"RV", m.dst, m.src, m.term, m.lastIndex, m.lastTerm>>, <<"Term", m.dst, m.term>>}
      [] m.type = "RVR" -> {<<"RVR", m.dst, m.src, m.term, m.granted>>, <<"Term", m.dst, m.term>>}
      [] m.type = "AE" ->
            {<<"AE", m.dst, m.src, m.term, m.prevIndex, m.prevTerm, m.entries, m.commit>>, <<"Term", m.dst, m.term>>}
      [] m.type = "AER" ->
            {<<"AER", m.dst, m.src, m.term, m.success, m.matchIndex, m.applied>>, <<"Term", m.dst, m.term>>}
      [] m.type = "ProbeRep" -> {<<"ProbeRep", m.dst, m.term>>, <<"Term", m.dst, m.term>>}
      [] m.type = "AC" -> {<<"AC", m.dst, m.term, m.commit>>, <<"Term", m.dst, m.term>>}
      [] OTHER -> {<<"keep">>}

\\* Whether an event after the current one reads messages of key k.
TvAfter(k) == TvAll[tvK] > tvI \\/ k = <<"keep">> \\/ (k \\in DOMAIN TvLast[tvK] /\\ TvLast[tvK][k] > tvI)

\\* The network after the current event: the messages some later event may read.
\\* (Replaces the spec's Net, see the config: every action reads msgs only
\\* through messages of its event's keys, so dropping the others changes no
\\* later step.)
TvNet(S) == {tvM \\in S : \\E tvX \\in TvKeys(tvM) : TvAfter(tvX)}

\\* A successful append_entries reply goes where a later event receives it (when the events say).
RouteOk ==
    LET tvNew == {tvM \\in msgs' \\ msgs : tvM.type = "AER"} IN
    /\\ TvE.via = "agg" => \\A tvM \\in tvNew : tvM.dst = ${toTla(AGGREGATOR_NODE)}
    /\\ TvE.via = "direct" => \\A tvM \\in tvNew : tvM.dst # ${toTla(AGGREGATOR_NODE)}

\\* Event tvI of trace tvK is the spec action of its name with its fields as parameters.
Step${INSTANCE_ARGS} ==
${disjuncts}

\\* Report the furthest event of trace tvK matched so far, and a trace matched to its end.
Report ==
    /\\ IF tvI > TLCGet(tvK) THEN TLCSet(tvK, tvI) /\\ PrintT(<<"matched", tvK, tvI>>) ELSE TRUE
    /\\ IF tvI = Len(Traces[tvK]) THEN PrintT(<<"accepted", tvK>>) ELSE TRUE

TNext ==
    /\\ tvI <= Len(Traces[tvK])
    /\\ \\E tvNodes \\in {TNodes[tvK]}, tvMode \\in {TMode[tvK]}, tvPol \\in {TPolicy[tvK]}, tvB \\in {TB[tvK]},
          tvThr \\in {TThreshold[tvK]} :
          Step${INSTANCE_ARGS}
    \\* A receipt keeps its message in flight while a later event may read it.
    /\\ TvNet(msgs) \\subseteq msgs'
    /\\ tvI' = tvI + 1
    /\\ UNCHANGED tvK
    /\\ Report

TView == <<${view.join(', ')}>>
====
`;
  const cfg = 'INIT TInit\nNEXT TNext\nVIEW TView\nCONSTANT Net <- [HovercRaft] TvNet\n';
  return { tla, cfg, eventIndices, included };
}


/**
 * Validates a batch of HovercRaft traces with one TLC run. Each result says whether some behaviour
 * of the spec matches the whole trace (its spec events); when not, `matchedPrefix` is the number of
 * spec events some behaviour matched.
 */
export async function validateHovercraftTraces(
  batch: readonly TraceValidationInput[],
  options: HovercraftTraceValidationOptions = {},
): Promise<TraceValidationResult[]> {
  const specPath = options.specPath ?? HOVERCRAFT_SPEC;
  const variables = specVariables(await readFile(specPath, 'utf8'));
  const gen = generateHovercraftTraceModule(batch, variables);
  return runTraceCheck({
    batch, gen, specPath, moduleName: 'HovercRaftTraceCheck', eventNoun: 'spec event',
    timeoutMs: options.timeoutMs ?? Math.max(600_000, 40 * gen.eventIndices.reduce((n, ix) => n + ix.length, 0)),
    keepDir: options.keepDir,
  });
}
