/**
 * Generated histories that make a linearizability search work: many concurrent clients over a few
 * keys, operations of unknown outcome (a client times out and moves on; the operation took effect
 * at some later point, or never), small value domains (so a read does not pin down which write it
 * saw), and optionally one planted violation that the search can only establish by exhausting
 * every configuration before it. Used by `npm run bench` and the checker's tests.
 *
 * Every history is built from one sequential execution: each operation that takes effect gets a
 * point inside its interval (a pending one: any point after its call), the operations run on a
 * sequential store in the order of their points, and the outputs are what the store returned. So
 * without a planted violation the history is linearizable by construction.
 */
import { KvStore, type KvOp } from '../../impl/hovercraft/kv.ts';
import type { KvResult } from '../../impl/hovercraft/actions.ts';
import { hashString, partitionByKey, type KvOperation, type Model, type Operation } from './linearizability.ts';

// ---- a key-value model with append -------------------------------------------------------------

export type AppendOp =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'append'; readonly key: string; readonly value: string };
/** get → the value (null: unset); put and append → true. */
export type AppendResult = string | null | true;
export type AppendOperation = Operation<AppendOp, AppendResult>;

/**
 * One key's value under get/put/append: append concatenates to the value (unset counts as ""), so
 * a read shows every append before it and the state space grows with the history.
 */
export const appendModel: Model<string | null, AppendOp, AppendResult> = {
  init: () => null,
  step(state, op, output) {
    switch (op.op) {
      case 'get':
        return [output === state, state];
      case 'put':
        return [output === true, op.value];
      case 'append':
        return [output === true, (state ?? '') + op.value];
    }
  },
  stepPending(state, op) {
    return op.op === 'get' ? state : op.op === 'put' ? op.value : (state ?? '') + op.value;
  },
  equal: (a, b) => a === b,
  hash: (s) => (s === null ? 0x5bd1e995 : hashString(s)),
  readOnly: (op) => op.op === 'get',
  partition: partitionByKey,
  sizeOf: (s) => 32 + 2 * (s?.length ?? 0),
};

class AppendStore {
  private readonly data: (string | undefined)[] = [];
  private readonly index = new Map<string, number>();
  apply(op: AppendOp): AppendResult {
    let i = this.index.get(op.key);
    if (i === undefined) this.index.set(op.key, (i = this.data.push(undefined) - 1));
    const cur = this.data[i];
    if (op.op === 'get') return cur ?? null;
    this.data[i] = op.op === 'put' ? op.value : (cur ?? '') + op.value;
    return true;
  }
}

// ---- the generator -------------------------------------------------------------------------------

export interface HardHistoryOptions {
  readonly seed: number;
  /** Concurrent clients, each with one operation outstanding at a time (default 50). */
  readonly clients?: number;
  readonly keys?: number;
  readonly opsPerClient?: number;
  /**
   * `register`: get/put; `kv`: get/put/cas (`kvModel`); `append`: get/put/append (`appendModel`).
   */
  readonly mix?: 'register' | 'kv' | 'append';
  /** Fraction of operations whose client times out (half of them take effect). Default 0.1. */
  readonly pending?: number;
  /** Values a put or cas writes (small: reads are ambiguous). Default 3. */
  readonly values?: number;
  /**
   * Plant one violation, in a completed read of the last third of the history (or any completed
   * read when none is that late; a history without one cannot have it: RangeError).
   */
  readonly violation?: boolean;
  /** Mean operation latency and mean think time between a client's operations (time units). */
  readonly latency?: number;
  readonly think?: number;
}

/** mulberry32 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Planned<I> {
  readonly client: string;
  readonly call: number;
  readonly point: number;
  readonly ret: number | undefined;
  readonly input: I;
  /** Whether it took effect (completed ones always do). */
  readonly effect: boolean;
}

export function hardHistory(o: HardHistoryOptions & { readonly mix: 'append' }): AppendOperation[];
export function hardHistory(o: HardHistoryOptions & { readonly mix?: 'register' | 'kv' }): KvOperation[];
export function hardHistory(o: HardHistoryOptions): KvOperation[] | AppendOperation[] {
  const r = rng(o.seed);
  const clients = o.clients ?? 50;
  const keys = o.keys ?? 8;
  const opsPerClient = o.opsPerClient ?? 20;
  const mix = o.mix ?? 'register';
  const pending = o.pending ?? 0.1;
  const nValues = o.values ?? 3;
  const latency = o.latency ?? 100;
  const think = o.think ?? 20;
  const keyName = (i: number): string => `k${String(i).padStart(3, '0')}`;
  const value = (): string => `v${Math.floor(r() * nValues)}`;
  let appendSeq = 0;
  const planned: Planned<KvOp | AppendOp>[] = [];
  for (let c = 0; c < clients; c++) {
    let t = Math.floor(r() * think * 2);
    for (let i = 0; i < opsPerClient; i++) {
      const key = keyName(Math.floor(r() * keys));
      const x = r();
      let input: KvOp | AppendOp;
      if (x < 0.4) input = { op: 'get', key };
      else if (mix === 'append' && x < 0.8) input = { op: 'append', key, value: `${(appendSeq++).toString(36)};` };
      else if (mix === 'kv' && x < 0.7) input = { op: 'cas', key, expected: r() < 0.2 ? null : value(), value: value() };
      else input = { op: 'put', key, value: value() };
      const call = t;
      const p = r();
      if (p < pending) {
        // Timed out after 3 latencies; took effect (p < pending / 2) at any point after the call.
        const point = call + 1 + Math.floor(r() * latency * 6);
        planned.push({ client: `c${c}`, call, point, ret: undefined, input, effect: p < pending / 2 });
        t = call + 3 * latency;
      } else {
        const point = call + 1 + Math.floor(r() * latency);
        const ret = point + 1 + Math.floor(r() * latency);
        planned.push({ client: `c${c}`, call, point, ret, input, effect: true });
        t = ret;
      }
      t += Math.floor(r() * think * 2);
    }
  }
  const order = [...planned.keys()].filter((i) => planned[i]!.effect).sort((a, b) => planned[a]!.point - planned[b]!.point || a - b);
  const outputs = new Array<KvResult | AppendResult | undefined>(planned.length);
  if (mix === 'append') {
    const store = new AppendStore();
    for (const i of order) outputs[i] = store.apply(planned[i]!.input as AppendOp);
  } else {
    const store = new KvStore();
    for (const i of order) outputs[i] = store.apply(planned[i]!.input as KvOp);
  }
  const history = planned.map((p, id) => ({
    id, client: p.client, call: p.call, ret: p.ret, input: p.input,
    output: p.ret === undefined ? undefined : outputs[id],
  })) as Operation<KvOp | AppendOp, KvResult | AppendResult>[];
  if (o.violation) plant(history, r);
  return history as KvOperation[] | AppendOperation[];
}

type AnyOp = Operation<KvOp | AppendOp, KvResult | AppendResult>;

/**
 * Changes one completed read in the last third of the history so that no linearization exists:
 * to a value the key held before a completed write that no later write can undo (a stale read),
 * when there is one, else to a value never written.
 */
function plant(history: AnyOp[], r: () => number): void {
  const end = Math.max(...history.map((op) => op.ret ?? op.call));
  const completed = history.filter((op) => op.input.op === 'get' && op.ret !== undefined);
  const late = completed.filter((op) => op.call > (2 * end) / 3);
  const reads = late.length > 0 ? late : completed;
  if (reads.length === 0) throw new RangeError('no completed read to plant a violation in');
  const g = reads[Math.floor(r() * reads.length)]!;
  const key = g.input.key;
  const writes = history.filter((op) => op.input.key === key && op.input.op !== 'get');
  const written = (op: AnyOp): string | undefined => (op.input.op === 'get' ? undefined : op.input.value);
  // A completed write q (of value w) that returned before g was called, and a value v != w, with
  // every write of v completed before q was called: after q nothing can write v again.
  let stale: string | undefined;
  if (writes.every((w) => w.input.op !== 'append')) {
    for (const q of writes) {
      if (q.ret === undefined || q.ret >= g.call || q.input.op !== 'put') continue;
      for (const v of new Set(writes.map(written))) {
        if (v === undefined || v === q.input.value || v === g.output) continue;
        const ofV = writes.filter((w) => written(w) === v);
        if (ofV.every((w) => w.ret !== undefined && w.ret < q.call)) stale = v;
      }
      if (stale !== undefined) break;
    }
  }
  const i = history.indexOf(g);
  history[i] = { ...g, output: stale ?? (typeof g.output === 'string' ? `${g.output}never;` : 'never') };
}

/**
 * A history whose first key (`a`) is hard — `width` concurrent puts of distinct values and a
 * read of a value none wrote, so the search tries every subset of the puts before it can say no —
 * and whose second key (`b`) has a violation found in a few steps.
 */
export function hardFirstKeyHistory(width = 24): KvOperation[] {
  const h: KvOperation[] = [];
  let id = 0;
  for (let i = 0; i < width; i++) h.push({ id: id++, client: `c${i}`, call: 0, ret: 100, input: { op: 'put', key: 'a', value: `v${i}` }, output: true });
  h.push({ id: id++, client: 'r', call: 200, ret: 210, input: { op: 'get', key: 'a' }, output: 'never' });
  h.push({ id: id++, client: 'w', call: 0, ret: 10, input: { op: 'put', key: 'b', value: 'x' }, output: true });
  h.push({ id: id++, client: 'w', call: 20, ret: 30, input: { op: 'get', key: 'b' }, output: null });
  return h;
}
