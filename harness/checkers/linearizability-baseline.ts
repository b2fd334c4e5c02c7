/**
 * The linearizability search as it was before the interleaved, memory-bounded rewrite of
 * `linearizability.ts`: partitions one after another in key order, one time budget for all, and a
 * `Map` from hash to buckets of `{bits: Uint32Array copy, state}`. Kept only so that `npm run
 * bench` can report the new search's speed against it on the same histories in one run; nothing
 * else uses it. Verdicts only (no diagnosis).
 */
import type { Model, Operation } from './linearizability.ts';

export interface BaselineResult {
  readonly verdict: 'ok' | 'violation' | 'unknown';
  readonly steps: number;
  readonly ms: number;
  readonly failedKeys: readonly string[];
  readonly unknownKeys: readonly string[];
  /** Set when the search threw (e.g. `RangeError: Map maximum size exceeded`). */
  readonly error?: string;
  /**
   * Heap growth since the check began, the most measured at the end of a partition's search
   * (cache still alive): an estimate of the cache's size, uncollected garbage included.
   */
  readonly heapGrowth: number;
}

export function checkLinearizabilityBaseline<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: { readonly maxSteps?: number; readonly timeoutMs?: number } = {},
): BaselineResult {
  const started = performance.now();
  const maxSteps = options.maxSteps ?? 5_000_000;
  const deadline = started + (options.timeoutMs ?? 10_000);
  const relevant = model.readOnly ? history.filter((op) => op.ret !== undefined || !model.readOnly!(op.input)) : history;
  const parts = model.partition ? model.partition(relevant) : [{ key: '', ops: relevant }];
  const failedKeys: string[] = [];
  const unknownKeys: string[] = [];
  let steps = 0;
  let error: string | undefined;
  const heap0 = process.memoryUsage().heapUsed;
  let heapGrowth = 0;
  const measure = (): void => {
    heapGrowth = Math.max(heapGrowth, process.memoryUsage().heapUsed - heap0);
  };
  try {
    for (const part of parts) {
      if (performance.now() > deadline) {
        unknownKeys.push(part.key);
        continue;
      }
      const searched = model.prune ? model.prune(part.ops) : part.ops;
      const r = searchPartition(model, searched, maxSteps, deadline, measure);
      steps += r.steps;
      if (r.kind === 'fail') failedKeys.push(part.key);
      else if (r.kind === 'unknown') unknownKeys.push(part.key);
    }
  } catch (err) {
    error = String(err);
  }
  const verdict = failedKeys.length > 0 ? 'violation' : unknownKeys.length > 0 || error ? 'unknown' : 'ok';
  return { verdict, steps, ms: performance.now() - started, failedKeys, unknownKeys, heapGrowth, ...(error ? { error } : {}) };
}

type SearchResult =
  | { readonly kind: 'ok'; readonly steps: number }
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
  measure: () => void,
): SearchResult {
  try {
    return search(model, ops, maxSteps, deadline);
  } finally {
    measure();
  }
}

function search<S, I, O>(
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

