/**
 * A linearizability checker for histories of concurrent operations (Wing & Gong's search with
 * Lowe's state cache, the algorithm Porcupine popularised), and the key-value model of
 * `impl/hovercraft/kv.ts`.
 *
 * A history is a set of operations, each with the client that issued it, the time it was called,
 * the time it returned (or none: it is pending — its client gave up or crashed, so it may have taken
 * effect at any point after its call, or never), its input and, when it returned, its output. The
 * history is linearizable under a sequential model when the completed operations and some of the
 * pending ones can be put in one order that (a) respects real time — an operation that returned
 * before another was called comes first — and (b) the model accepts, each operation returning
 * what it returned in the history.
 *
 * The search. The call and return events of a partition, sorted by time, form a doubly linked list.
 * Walking it from the front, any call met before the first return belongs to an operation that may
 * take effect next (a pending operation's call stays in the list until it is chosen: it may take
 * effect at any later point). The search tries a candidate (the model must accept its output),
 * removes its events from the list and starts again from the front. Meeting a return means the
 * operation returning there should already have taken effect: the search backtracks, undoing the
 * last choice and trying the next candidate. It succeeds when every completed operation has taken
 * effect (pending ones may be left out), and fails when it must backtrack with nothing to undo.
 * Pending operations that never change the state, or that the model shows make no difference
 * (`readOnly`, `prune`), are dropped first: each pending one multiplies the search. A cache of the
 * configurations already reached (the set of operations taken, as a bitset, with the model state)
 * prunes the search: reaching one again cannot lead anywhere new. The search is a loop over an
 * explicit stack (no recursion), with a Zobrist hash of the bitset kept up to date in O(1) per step.
 *
 * Ties: a call and a return at the same time count as concurrent (calls sort first), the lenient
 * reading when clocks are coarse.
 *
 * P-compositionality: a history is linearizable iff each of its per-object sub-histories is, so a
 * model may split a history (`partition`) and each part is searched on its own; the key-value
 * model partitions by key.
 *
 * Budget: the search is exponential in the worst case. It stops after `maxSteps` steps in one
 * partition or `timeoutMs` in all, and the verdict is then `unknown` — never reported as a pass.
 *
 * On failure the result names the partition, the longest linearizable prefix the search reached,
 * the state it leaves, and the operations one of which had to come next — none could.
 */
import type { KvResult } from '../../impl/hovercraft/actions.ts';
import type { KvOp } from '../../impl/hovercraft/kv.ts';

// ---- histories and models --------------------------------------------------------------------

export interface Operation<I, O> {
  /** Unique within the history. */
  readonly id: number;
  /** The client that issued it (for reports). */
  readonly client: string;
  /** When it was called. */
  readonly call: number;
  /** When it returned; undefined: pending (it never returned). */
  readonly ret?: number | undefined;
  readonly input: I;
  /** What it returned; only meaningful when `ret` is defined. */
  readonly output?: O | undefined;
  /** Indices of the trace events it comes from (call, then return), for reports. */
  readonly events?: readonly number[];
}

export function isPending(op: Operation<unknown, unknown>): boolean {
  return op.ret === undefined;
}

/** A sub-history checked on its own, with a label for reports (e.g. the key). */
export interface Partition<I, O> {
  readonly key: string;
  readonly ops: readonly Operation<I, O>[];
}

/** A sequential specification. States are values: `step` never mutates its argument. */
export interface Model<S, I, O> {
  init(): S;
  /** Whether a completed operation may return `output` in `state`, and the state after it. */
  step(state: S, input: I, output: O): readonly [ok: boolean, next: S];
  /**
   * The state a pending operation leaves when it takes effect (its output is unobserved, so any
   * output is allowed). A model whose effect is nondeterministic should use a set of states.
   */
  stepPending(state: S, input: I): S;
  equal(a: S, b: S): boolean;
  /** A 32-bit hash consistent with `equal`. */
  hash(state: S): number;
  /**
   * Whether an operation never changes the state. A pending one constrains nothing (it may always
   * be left out), so the check drops it before the search.
   */
  readOnly?(input: I): boolean;
  /** Splits a history into independently checkable parts; default: one part, key `""`. */
  partition?(history: readonly Operation<I, O>[]): Partition<I, O>[];
  /**
   * Drops pending operations of a part that provably make no difference: the part with them is
   * linearizable iff it is without them. Pending operations are the expensive part of the search
   * (each may take effect anywhere after its call, or never).
   */
  prune?(ops: readonly Operation<I, O>[]): readonly Operation<I, O>[];
  describeOperation?(op: Operation<I, O>): string;
  describeState?(state: S): string;
}

export interface CheckOptions {
  /** Search steps allowed per partition (default 5,000,000). */
  readonly maxSteps?: number;
  /** Wall-clock time allowed for the whole check, ms (default 10,000). */
  readonly timeoutMs?: number;
}

export const DEFAULT_MAX_STEPS = 5_000_000;
export const DEFAULT_TIMEOUT_MS = 10_000;

/** A candidate for the position after the longest prefix, and whether the model accepts it there. */
export interface Candidate<I, O> {
  readonly op: Operation<I, O>;
  /** The model accepts it right after the prefix (it then leads to a dead end later). */
  readonly accepted: boolean;
}

export interface PartitionFailure<S, I, O> {
  readonly key: string;
  readonly operations: readonly Operation<I, O>[];
  /** The longest linearizable prefix the search reached, in linearization order. */
  readonly prefix: readonly Operation<I, O>[];
  /** The model state after the prefix. */
  readonly state: S;
  /** The completed operation not in the prefix that returns first: something must precede its return. */
  readonly blocking: Operation<I, O>;
  /** The operations that could come next after the prefix (called before `blocking` returned). */
  readonly candidates: readonly Candidate<I, O>[];
  /** A human-readable account of the above. */
  readonly explanation: string;
}

export interface PartitionUnknown {
  readonly key: string;
  readonly reason: 'steps' | 'time';
  readonly steps: number;
}

interface Stats {
  readonly partitions: number;
  readonly operations: number;
  /** Search steps over all partitions. */
  readonly steps: number;
  readonly ms: number;
}

export type LinearizabilityResult<S, I, O> =
  | (Stats & { readonly verdict: 'ok' })
  /** At least one partition has no linearization (others may be unknown). */
  | (Stats & {
      readonly verdict: 'violation';
      readonly failures: readonly PartitionFailure<S, I, O>[];
      readonly unknown: readonly PartitionUnknown[];
    })
  /** No partition failed, but the budget ran out in at least one. */
  | (Stats & { readonly verdict: 'unknown'; readonly unknown: readonly PartitionUnknown[] });

// ---- the check --------------------------------------------------------------------------------

export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): LinearizabilityResult<S, I, O> {
  const started = performance.now();
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const deadline = started + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  for (const op of history) {
    if (op.ret !== undefined && op.ret < op.call) {
      throw new RangeError(`operation ${op.id} returns (t=${op.ret}) before it is called (t=${op.call})`);
    }
  }
  const relevant = model.readOnly ? history.filter((op) => op.ret !== undefined || !model.readOnly!(op.input)) : history;
  const parts = model.partition ? model.partition(relevant) : [{ key: '', ops: relevant }];
  const failures: PartitionFailure<S, I, O>[] = [];
  const unknown: PartitionUnknown[] = [];
  let steps = 0;
  for (const part of parts) {
    if (performance.now() > deadline) {
      unknown.push({ key: part.key, reason: 'time', steps: 0 });
      continue;
    }
    const searched = model.prune ? model.prune(part.ops) : part.ops;
    const r = searchPartition(model, searched, maxSteps, deadline);
    steps += r.steps;
    if (r.kind === 'fail') failures.push(diagnose(model, part, searched, r.best));
    else if (r.kind === 'unknown') unknown.push({ key: part.key, reason: r.reason, steps: r.steps });
  }
  const stats: Stats = { partitions: parts.length, operations: history.length, steps, ms: performance.now() - started };
  if (failures.length > 0) return { ...stats, verdict: 'violation', failures, unknown };
  if (unknown.length > 0) return { ...stats, verdict: 'unknown', unknown };
  return { ...stats, verdict: 'ok' };
}

type SearchResult =
  | { readonly kind: 'ok'; readonly steps: number }
  /** `best`: the longest linearized sequence reached, as indices into the partition's ops. */
  | { readonly kind: 'fail'; readonly steps: number; readonly best: readonly number[] }
  | { readonly kind: 'unknown'; readonly steps: number; readonly reason: 'steps' | 'time' };

/** Deterministic 32-bit pseudo-random numbers (mulberry32) for the Zobrist table. */
function zobristTable(n: number): Uint32Array {
  const z = new Uint32Array(n);
  let a = 0x2545f491;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    z[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return z;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const END = -1;

function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  maxSteps: number,
  deadline: number,
): SearchResult {
  const n = ops.length;
  // Events: one call per operation, one return per completed operation.
  let nEvents = 0;
  let remaining = 0; // completed operations not yet linearized
  for (const op of ops) {
    nEvents += op.ret === undefined ? 1 : 2;
    if (op.ret !== undefined) remaining++;
  }
  const evOp = new Int32Array(nEvents);
  const evIsCall = new Uint8Array(nEvents);
  const evTime = new Float64Array(nEvents);
  const callEv = new Int32Array(n);
  const retEv = new Int32Array(n).fill(END);
  {
    let k = 0;
    for (let o = 0; o < n; o++) {
      const op = ops[o]!;
      evOp[k] = o; evIsCall[k] = 1; evTime[k] = op.call; k++;
      if (op.ret !== undefined) { evOp[k] = o; evIsCall[k] = 0; evTime[k] = op.ret; k++; }
    }
  }
  const order = Array.from({ length: nEvents }, (_, k) => k);
  order.sort((a, b) => evTime[a]! - evTime[b]! || evIsCall[b]! - evIsCall[a]! || evOp[a]! - evOp[b]!);
  // A doubly linked list over the events, with a head sentinel at index nEvents.
  const HEAD = nEvents;
  const next = new Int32Array(nEvents + 1);
  const prev = new Int32Array(nEvents + 1);
  {
    let last = HEAD;
    for (const k of order) {
      next[last] = k;
      prev[k] = last;
      if (evIsCall[k]) callEv[evOp[k]!] = k;
      else retEv[evOp[k]!] = k;
      last = k;
    }
    next[last] = END;
  }
  const unlink = (k: number): void => {
    next[prev[k]!] = next[k]!;
    if (next[k] !== END) prev[next[k]!] = prev[k]!;
  };
  const relink = (k: number): void => {
    next[prev[k]!] = k;
    if (next[k] !== END) prev[next[k]!] = k;
  };
  const lift = (o: number): void => {
    unlink(callEv[o]!);
    if (retEv[o] !== END) unlink(retEv[o]!);
  };
  const unlift = (o: number): void => {
    if (retEv[o] !== END) relink(retEv[o]!);
    relink(callEv[o]!);
  };

  const bits = new Uint32Array(Math.max(1, Math.ceil(n / 32)));
  const zobrist = zobristTable(n);
  let bitsHash = 0;
  const cache = new Map<number, { readonly bits: Uint32Array; readonly state: S }[]>();
  /** Adds the configuration (current bits, `state`); false when it was already there. */
  const remember = (hash: number, state: S): boolean => {
    const key = (hash ^ Math.imul(model.hash(state) | 0, 0x9e3779b1)) >>> 0;
    const bucket = cache.get(key);
    if (bucket) {
      for (const c of bucket) if (sameBits(c.bits, bits) && model.equal(c.state, state)) return false;
      bucket.push({ bits: bits.slice(), state });
    } else {
      cache.set(key, [{ bits: bits.slice(), state }]);
    }
    return true;
  };

  // The explicit stack: operations linearized so far and the state before each.
  const stackOps = new Int32Array(n);
  const stackStates: S[] = [];
  let depth = 0;
  // The longest sequence reached; `agree` = length of the common prefix of the stack and `best`.
  const best = new Int32Array(n);
  let bestLen = 0;
  let agree = 0;

  let state = model.init();
  let entry = next[HEAD]!;
  let steps = 0;
  while (remaining > 0) {
    steps++;
    if (steps > maxSteps) return { kind: 'unknown', steps, reason: 'steps' };
    if ((steps & 4095) === 0 && performance.now() > deadline) return { kind: 'unknown', steps, reason: 'time' };
    if (entry !== END && evIsCall[entry]) {
      const o = evOp[entry]!;
      const op = ops[o]!;
      let ok: boolean;
      let after: S;
      if (op.ret === undefined) {
        ok = true;
        after = model.stepPending(state, op.input);
      } else {
        [ok, after] = model.step(state, op.input, op.output as O);
      }
      if (ok) {
        const w = o >>> 5;
        const m = 1 << (o & 31);
        bits[w] = bits[w]! | m;
        const h = (bitsHash ^ zobrist[o]!) >>> 0;
        if (remember(h, after)) {
          stackOps[depth] = o;
          stackStates[depth] = state;
          if (agree === depth && depth < bestLen && best[depth] === o) agree++;
          depth++;
          if (depth > bestLen) {
            for (let d = agree; d < depth; d++) best[d] = stackOps[d]!;
            bestLen = depth;
            agree = depth;
          }
          state = after;
          bitsHash = h;
          lift(o);
          if (op.ret !== undefined) remaining--;
          entry = next[HEAD]!;
          continue;
        }
        bits[w] = bits[w]! & ~m;
      }
      entry = next[entry]!;
    } else {
      // A return: the operation returning here should already have taken effect. Undo the last
      // choice and try the candidate after it. (The end of the list cannot come first: a
      // completed operation is left, so its return is still in the list.)
      if (depth === 0) return { kind: 'fail', steps, best: Array.from(best.subarray(0, bestLen)) };
      depth--;
      if (agree > depth) agree = depth;
      const o = stackOps[depth]!;
      state = stackStates[depth]!;
      stackStates.length = depth;
      bits[o >>> 5] = bits[o >>> 5]! & ~(1 << (o & 31));
      bitsHash = (bitsHash ^ zobrist[o]!) >>> 0;
      unlift(o);
      if (ops[o]!.ret !== undefined) remaining++;
      entry = next[callEv[o]!]!;
    }
  }
  return { kind: 'ok', steps };
}

function describeOp<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  if (model.describeOperation) return model.describeOperation(op);
  const out = op.ret === undefined ? 'pending' : JSON.stringify(op.output);
  return `#${op.id} ${op.client} ${JSON.stringify(op.input)} → ${out} [${op.call}, ${op.ret ?? '∞'}]`;
}

function describeSt<S, I, O>(model: Model<S, I, O>, s: S): string {
  return model.describeState ? model.describeState(s) : JSON.stringify(s);
}

/** `best` indexes `ops`, the part's operations the search saw (after pruning). */
function diagnose<S, I, O>(
  model: Model<S, I, O>, part: Partition<I, O>, ops: readonly Operation<I, O>[], best: readonly number[],
): PartitionFailure<S, I, O> {
  const prefix = best.map((o) => ops[o]!);
  let state = model.init();
  for (const op of prefix) state = op.ret === undefined ? model.stepPending(state, op.input) : model.step(state, op.input, op.output as O)[1];
  const taken = new Set(best);
  const rest = ops.filter((_, o) => !taken.has(o));
  let blocking: Operation<I, O> | undefined;
  for (const op of rest) {
    if (op.ret !== undefined && (blocking === undefined || op.ret < blocking.ret! || (op.ret === blocking.ret && op.id < blocking.id))) blocking = op;
  }
  // A failed search always leaves a completed operation out.
  const b = blocking!;
  const candidates = rest
    .filter((op) => op.call <= b.ret!)
    .map((op) => ({ op, accepted: op.ret === undefined || model.step(state, op.input, op.output as O)[0] }));
  const where = part.key === '' ? 'the history' : `partition ${JSON.stringify(part.key)}`;
  const lines = [
    `${where} is not linearizable (${part.ops.length} operations).`,
    prefix.length === 0
      ? 'No operation can be linearized first.'
      : `Longest linearizable prefix found (${prefix.length} of ${ops.length}): ` + prefix.map((op) => describeOp(model, op)).join('; ') + '.',
    `State after it: ${describeSt(model, state)}.`,
    `Next, one of these must take effect (${describeOp(model, b)} returns first), and none leads to a linearization: ` +
      candidates.map((c) => `${describeOp(model, c.op)} (${c.accepted ? 'allowed here, dead end later' : 'not allowed in this state'})`).join('; ') + '.',
  ];
  return { key: part.key, operations: part.ops, prefix, state, blocking: b, candidates, explanation: lines.join(' ') };
}

// ---- the key-value model ------------------------------------------------------------------------

/** FNV-1a over UTF-16 code units. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** One key's value (null: unset). The model is per key: it partitions a history by key. */
export type KvState = string | null;

export type KvOperation = Operation<KvOp, KvResult>;

const show = (v: unknown): string => JSON.stringify(v);

/**
 * The key-value store of `impl/hovercraft/kv.ts`, one key at a time: get → the value or null;
 * put → true; cas(expected, value) → whether the value was `expected` (then it becomes `value`).
 */
export const kvModel: Model<KvState, KvOp, KvResult> = {
  init: () => null,
  step(state, op, output) {
    switch (op.op) {
      case 'get':
        return [output === state, state];
      case 'put':
        return [output === true, op.value];
      case 'cas': {
        const swapped = state === op.expected;
        return [output === swapped, swapped ? op.value : state];
      }
    }
  },
  stepPending(state, op) {
    switch (op.op) {
      case 'get':
        return state;
      case 'put':
        return op.value;
      case 'cas':
        return state === op.expected ? op.value : state;
    }
  },
  equal: (a, b) => a === b,
  readOnly: (op) => op.op === 'get',
  hash: (s) => (s === null ? 0x5bd1e995 : hashString(s)),
  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      const l = byKey.get(op.input.key);
      if (l) l.push(op);
      else byKey.set(op.input.key, [op]);
    }
    return [...byKey.keys()].sort().map((key) => ({ key, ops: byKey.get(key)! }));
  },
  prune(ops) {
    // A pending put or cas of value v may be dropped when no completed get returns v, no cas
    // expects v, and no completed cas that failed returned after its call: in a linearization
    // where it takes effect, the state stays v until the next write, which can then only be a put
    // (a cas would need to expect v), and nothing in between observes v (a get would return v, a
    // completed cas failing on v is ruled out, a pending cas failing on v may be dropped too), so
    // leaving it out changes no result.
    const read = new Set<string | null>();
    const expected = new Set<string | null>();
    let lastFailedCasRet = -Infinity;
    for (const o of ops) {
      if (o.input.op === 'cas') {
        expected.add(o.input.expected);
        if (o.ret !== undefined && o.output === false) lastFailedCasRet = Math.max(lastFailedCasRet, o.ret);
      } else if (o.input.op === 'get' && o.ret !== undefined) {
        read.add(o.output as string | null);
      }
    }
    return ops.filter((o) => {
      if (o.ret !== undefined || o.input.op === 'get') return true;
      const v = o.input.value;
      return read.has(v) || expected.has(v) || lastFailedCasRet >= o.call;
    });
  },
  describeOperation(op) {
    const i = op.input;
    const call = i.op === 'get' ? `get(${show(i.key)})` : i.op === 'put' ? `put(${show(i.key)}, ${show(i.value)})`
      : `cas(${show(i.key)}, ${show(i.expected)} → ${show(i.value)})`;
    const out = op.ret === undefined ? 'pending' : show(op.output);
    return `#${op.id} ${op.client} ${call} → ${out} [t ${op.call}..${op.ret ?? '∞'}]`;
  },
  describeState: (s) => (s === null ? 'unset' : show(s)),
};
