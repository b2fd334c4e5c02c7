/**
 * The linearizability checker and the key-value model: hand-written histories it must reject and
 * accept, the budget's `unknown`, agreement with a brute-force search on small histories, random
 * sequential executions (accepted) and their corruptions (rejected), the interleaved search of
 * partitions (each with its own budget, stopping at the first violation), the memory budget,
 * generated hard histories, and its speed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KvStore, type KvOp } from '../../impl/hovercraft/kv.ts';
import type { KvResult } from '../../impl/hovercraft/actions.ts';
import {
  checkLinearizability, DEFAULT_SLICE_STEPS, describeUnknown, kvModel, partitionByKey, type KvOperation, type Model, type Operation,
} from './linearizability.ts';
import { appendModel, hardFirstKeyHistory, hardHistory } from './hard-histories.ts';

let nextId = 0;
/** An operation on key `k`; `ret` undefined: pending. */
function op(client: string, call: number, ret: number | undefined, input: KvOp, output?: KvResult): KvOperation {
  return { id: nextId++, client, call, ret, input, output: ret === undefined ? undefined : output };
}
const get = (client: string, call: number, ret: number | undefined, out?: string | null, key = 'x') =>
  op(client, call, ret, { op: 'get', key }, out);
const put = (client: string, call: number, ret: number | undefined, value: string, key = 'x') =>
  op(client, call, ret, { op: 'put', key, value }, true);
const cas = (client: string, call: number, ret: number | undefined, expected: string | null, value: string, out?: boolean, key = 'x') =>
  op(client, call, ret, { op: 'cas', key, expected, value }, out);

const check = (h: KvOperation[], options = {}) => checkLinearizability(kvModel, h, options);

describe('the key-value model', () => {
  it('follows kv.ts: get returns the value or null, put true, cas whether it swapped', () => {
    expect(kvModel.step(null, { op: 'get', key: 'k' }, null)).toEqual([true, null]);
    expect(kvModel.step('a', { op: 'get', key: 'k' }, null)[0]).toBe(false);
    expect(kvModel.step(null, { op: 'put', key: 'k', value: 'a' }, true)).toEqual([true, 'a']);
    expect(kvModel.step(null, { op: 'put', key: 'k', value: 'a' }, false)[0]).toBe(false);
    expect(kvModel.step(null, { op: 'cas', key: 'k', expected: null, value: 'a' }, true)).toEqual([true, 'a']);
    expect(kvModel.step('b', { op: 'cas', key: 'k', expected: 'a', value: 'c' }, false)).toEqual([true, 'b']);
    expect(kvModel.step('b', { op: 'cas', key: 'k', expected: 'a', value: 'c' }, true)[0]).toBe(false);
    expect(kvModel.stepPending('a', { op: 'cas', key: 'k', expected: 'a', value: 'c' })).toBe('c');
  });

  it('agrees with KvStore on random sequences of operations', () => {
    const arbOp: fc.Arbitrary<KvOp> = fc.oneof(
      fc.record({ op: fc.constant('get' as const), key: fc.constantFrom('a', 'b') }),
      fc.record({ op: fc.constant('put' as const), key: fc.constantFrom('a', 'b'), value: fc.constantFrom('1', '2') }),
      fc.record({
        op: fc.constant('cas' as const), key: fc.constantFrom('a', 'b'),
        expected: fc.constantFrom(null, '1', '2'), value: fc.constantFrom('1', '2'),
      }),
    );
    fc.assert(fc.property(fc.array(arbOp, { maxLength: 30 }), (ops) => {
      const store = new KvStore();
      const states = new Map<string, string | null>();
      for (const o of ops) {
        const s = states.get(o.key) ?? null;
        const r = store.apply(o);
        const [ok, next] = kvModel.step(s, o, r);
        expect(ok).toBe(true);
        expect(kvModel.stepPending(s, o)).toBe(next);
        states.set(o.key, next);
      }
    }));
  });
});

describe('rejects non-linearizable histories', () => {
  it('a stale read after a completed put', () => {
    const h = [put('c1', 0, 10, 'a'), put('c1', 20, 30, 'b'), get('c2', 40, 50, 'a')];
    const r = check(h);
    expect(r.verdict).toBe('violation');
    if (r.verdict !== 'violation') return;
    const f = r.failures[0]!;
    expect(f.key).toBe('x');
    expect(f.prefix.map((o) => o.id)).toEqual([h[0]!.id, h[1]!.id]);
    expect(f.blocking.id).toBe(h[2]!.id);
    expect(f.state).toBe('b');
    expect(f.explanation).toMatch(/partition "x" is not linearizable/);
    expect(f.explanation).toMatch(/get\("x"\) → "a"/);
  });

  it('two cas both succeeding from the same expected value', () => {
    const h = [put('c1', 0, 10, 'a'), cas('c1', 20, 40, 'a', 'b', true), cas('c2', 25, 35, 'a', 'c', true)];
    expect(check(h).verdict).toBe('violation');
    // with one of them failing it is fine, in either order
    expect(check([put('c1', 0, 10, 'a'), cas('c1', 20, 40, 'a', 'b', true), cas('c2', 25, 35, 'a', 'c', false)]).verdict).toBe('ok');
    expect(check([put('c1', 0, 10, 'a'), cas('c1', 20, 40, 'a', 'b', false), cas('c2', 25, 35, 'a', 'c', true)]).verdict).toBe('ok');
  });

  it('a read of a value never written', () => {
    const h = [put('c1', 0, 10, 'a'), get('c2', 5, 15, 'zzz'), put('c3', 0, 100, 'b')];
    const r = check(h);
    expect(r.verdict).toBe('violation');
    if (r.verdict === 'violation') expect(r.failures[0]!.candidates.find((c) => c.op.id === h[1]!.id)?.accepted).toBe(false);
  });

  it('a read of the initial value after a put completed', () => {
    expect(check([put('c1', 0, 10, 'a'), get('c2', 11, 12, null)]).verdict).toBe('violation');
  });

  it('a put that returned false', () => {
    expect(check([op('c1', 0, 10, { op: 'put', key: 'x', value: 'a' }, false)]).verdict).toBe('violation');
  });

  it('a read going back in time between two sequential reads of a concurrent write', () => {
    // put b overlaps both reads; the first read sees b, the later one (after it) sees a again
    const h = [put('c1', 0, 5, 'a'), put('c2', 10, 100, 'b'), get('c3', 20, 30, 'b'), get('c3', 40, 50, 'a')];
    expect(check(h).verdict).toBe('violation');
  });

  it('names the failing partition and leaves the others out', () => {
    const h = [
      put('c1', 0, 10, 'a', 'k1'), get('c2', 20, 30, 'a', 'k1'),
      put('c1', 0, 10, 'a', 'k2'), put('c1', 20, 30, 'b', 'k2'), get('c2', 40, 50, 'a', 'k2'),
      put('c3', 0, 10, '1', 'k3'), get('c3', 20, 30, '1', 'k3'),
    ];
    const r = check(h);
    expect(r.verdict).toBe('violation');
    if (r.verdict !== 'violation') return;
    expect(r.partitions).toBe(3);
    expect(r.failures.map((f) => f.key)).toEqual(['k2']);
    expect(r.failures[0]!.operations).toHaveLength(3);
  });
});

describe('accepts linearizable histories with real concurrency', () => {
  it('overlapping operations that must be reordered', () => {
    // put a is called first but must take effect after put b, since the read after both sees a
    const h = [put('c1', 0, 100, 'a'), put('c2', 10, 20, 'b'), get('c3', 30, 40, 'a'), get('c2', 110, 120, 'a')];
    expect(check(h).verdict).toBe('ok');
    // and a read concurrent with both may see either, or nothing yet
    for (const v of [null, 'a', 'b']) expect(check([...h, get('c4', 5, 15, v)]).verdict, String(v)).toBe('ok');
  });

  it('cas chains in an order other than the call order', () => {
    const h = [
      cas('c1', 0, 50, 'b', 'c', true), cas('c2', 5, 45, 'a', 'b', true), cas('c3', 10, 40, null, 'a', true),
      get('c3', 60, 70, 'c'),
    ];
    expect(check(h).verdict).toBe('ok');
  });

  it('a pending put that is observed later', () => {
    const h = [put('c1', 0, undefined, 'a'), get('c2', 10, 20, null), get('c2', 500, 510, 'a'), get('c3', 600, 610, 'a')];
    expect(check(h).verdict).toBe('ok');
  });

  it('a pending put never observed', () => {
    const h = [put('c1', 0, undefined, 'a'), get('c2', 10, 20, null), get('c2', 500, 510, null), put('c3', 600, 610, 'b'), get('c2', 700, 710, 'b')];
    expect(check(h).verdict).toBe('ok');
  });

  it('but not one observed before it was called', () => {
    expect(check([get('c2', 0, 10, 'a'), put('c1', 20, undefined, 'a')]).verdict).toBe('violation');
  });

  it('a pending put observed and then overwritten cannot come back', () => {
    const h = [put('c1', 0, undefined, 'a'), get('c2', 10, 20, 'a'), put('c2', 30, 40, 'b'), get('c2', 50, 60, 'a')];
    expect(check(h).verdict).toBe('violation');
  });

  it('calls and returns at the same time count as concurrent', () => {
    expect(check([put('c1', 0, 10, 'a'), get('c2', 10, 20, null)]).verdict).toBe('ok');
    expect(check([put('c1', 0, 10, 'a'), get('c2', 11, 20, null)]).verdict).toBe('violation');
  });

  it('empty histories and histories of pending reads only', () => {
    expect(check([]).verdict).toBe('ok');
    expect(check([get('c1', 0, undefined), get('c2', 0, undefined, undefined, 'y')]).verdict).toBe('ok');
  });

  it('a deep sequential history without recursion limits', () => {
    const h: KvOperation[] = [];
    for (let i = 0; i < 20_000; i++) h.push(i % 2 === 0 ? put('c1', 2 * i, 2 * i + 1, `v${i}`) : get('c1', 2 * i, 2 * i + 1, `v${i - 1}`));
    expect(check(h).verdict).toBe('ok');
  });
});

describe('the budget', () => {
  const hard = (): KvOperation[] => {
    // many concurrent writes of distinct values and a final read of a value never written: the
    // search has to try every order before it can say no
    const h: KvOperation[] = [];
    for (let i = 0; i < 14; i++) h.push(put(`c${i}`, 0, 100, `v${i}`));
    h.push(get('r', 200, 210, 'never'));
    return h;
  };

  it('returns unknown (never ok) when the step budget runs out', () => {
    const r = check(hard(), { maxSteps: 100 });
    expect(r.verdict).toBe('unknown');
    if (r.verdict === 'unknown') expect(r.unknown).toEqual([{ key: 'x', reason: 'steps', steps: 101 }]);
  });

  it('returns unknown when the time budget runs out', () => {
    const h = [...hard(), put('c1', 0, 10, 'a', 'y')];
    const r = check(h, { timeoutMs: 0 });
    expect(r.verdict).toBe('unknown');
    if (r.verdict === 'unknown') expect(r.unknown.map((u) => u.reason)).toEqual(['time', 'time']);
  });

  it('still reports a definite violation in another partition', () => {
    const h = [...hard(), put('c1', 0, 10, 'a', 'y'), get('c1', 20, 30, null, 'y')];
    const r = check(h, { maxSteps: 100 });
    expect(r.verdict).toBe('violation');
    if (r.verdict === 'violation') {
      expect(r.failures.map((f) => f.key)).toEqual(['y']);
      expect(r.unknown.map((u) => u.key)).toEqual(['x']);
    }
  });

  it('with enough budget the cache settles it', () => {
    const r = check(hard());
    expect(r.verdict).toBe('violation');
    expect(r.steps).toBeLessThan(2_000_000);
  });
});

describe('partitions searched in turns', () => {
  const keyOf = (h: KvOperation[], key: string): KvOperation[] => h.filter((o) => o.input.key === key);
  /** Key `key`: `width` concurrent puts and a read of a value none wrote (hard to refute). */
  const hardKey = (key: string, width = 24): KvOperation[] =>
    keyOf(hardFirstKeyHistory(width), 'a').map((o) => ({ ...o, id: nextId++, input: { ...o.input, key } }));
  /** Key `key`: a put and a later read of the initial value (refuted in a few steps). */
  const badKey = (key: string): KvOperation[] => [put('w', 0, 10, 'x', key), get('w', 20, 30, null, key)];

  it('the hard first key is hard: alone, it uses up its step budget', () => {
    const r = check(keyOf(hardFirstKeyHistory(), 'a'), { maxSteps: 200_000 });
    expect(r.verdict).toBe('unknown');
    if (r.verdict === 'unknown') expect(r.unknown).toEqual([{ key: 'a', reason: 'steps', steps: 200_001 }]);
  });

  it('a hard key that sorts first does not hide a violation in a later key', () => {
    const r = check(hardFirstKeyHistory());
    expect(r.verdict).toBe('violation');
    if (r.verdict !== 'violation') return;
    expect(r.failures.map((f) => f.key)).toEqual(['b']);
    // b fails in its first turn, so a had one slice, and was stopped there, undecided
    expect(r.unknown).toEqual([{ key: 'a', reason: 'stopped', steps: DEFAULT_SLICE_STEPS }]);
    expect(r.steps).toBeLessThan(DEFAULT_SLICE_STEPS + 100);
  });

  it('stops every partition at the first violation, before and after it in key order', () => {
    const h = [...hardKey('a'), ...badKey('b'), ...hardKey('c'), ...badKey('d')];
    const r = check(h, { sliceSteps: 500 });
    expect(r.verdict).toBe('violation');
    if (r.verdict !== 'violation') return;
    expect(r.failures.map((f) => f.key)).toEqual(['b']);
    expect(r.unknown).toEqual([
      { key: 'a', reason: 'stopped', steps: 500 },
      { key: 'c', reason: 'stopped', steps: 0 },
      { key: 'd', reason: 'stopped', steps: 0 },
    ]);
    expect(describeUnknown(r.unknown[1]!)).toMatch(/partition "c" is undecided: the check stopped at a violation in another partition/);
  });

  it('or, asked to, decides every partition and reports each failure', () => {
    const h = [...hardKey('a'), ...badKey('b'), ...hardKey('c'), ...badKey('d')];
    const r = check(h, { sliceSteps: 500, maxSteps: 3_000, stopAtFirstViolation: false });
    expect(r.verdict).toBe('violation');
    if (r.verdict !== 'violation') return;
    expect(r.failures.map((f) => f.key)).toEqual(['b', 'd']);
    expect(r.unknown).toEqual([{ key: 'a', reason: 'steps', steps: 3_001 }, { key: 'c', reason: 'steps', steps: 3_001 }]);
  });

  it('gives each partition its own step budget', () => {
    const h = [...hardKey('a'), ...hardKey('b'), put('c1', 0, 10, 'v', 'c'), get('c2', 20, 30, 'v', 'c')];
    const r = check(h, { maxSteps: 1_000, sliceSteps: 300 });
    expect(r.verdict).toBe('unknown');
    if (r.verdict !== 'unknown') return;
    // a and b each used all of theirs, in turns; c was decided ok
    expect(r.unknown).toEqual([{ key: 'a', reason: 'steps', steps: 1_001 }, { key: 'b', reason: 'steps', steps: 1_001 }]);
    expect(r.steps).toBe(2_000 + 2);
    expect(describeUnknown(r.unknown[0]!)).toMatch(/partition "a" is undecided: its search used its step budget \(1000 steps\)/);
  });

  it('gives each partition its own time budget: one hard key runs out, the others are still decided', () => {
    // 2^24 subsets to refute: far more than 100 ms of search (and memory enough for 100 ms)
    const h = [...badKey('b'), ...hardKey('a'), put('c1', 0, 10, 'v', 'c'), get('c2', 20, 30, 'v', 'c')].filter((o) => o.input.key !== 'b');
    const r = check(h, { maxSteps: 1e12, partitionTimeoutMs: 100, timeoutMs: 60_000, maxCacheBytes: 2 ** 30 });
    expect(r.verdict).toBe('unknown');
    if (r.verdict === 'unknown') expect(r.unknown.map((u) => [u.key, u.reason])).toEqual([['a', 'time']]);
  });

  it('the slice length changes when partitions are decided, not what is decided', () => {
    fc.assert(fc.property(arbSequentialHistory, fc.integer({ min: 1, max: 50 }), (h, slice) => {
      const whole = check(h);
      const sliced = check(h, { sliceSteps: slice });
      expect(sliced.verdict).toBe(whole.verdict);
      expect(sliced.steps).toBe(whole.steps);
    }), { numRuns: 200 });
  });
});

describe('the memory budget', () => {
  it('a search whose cache would pass the budget is unknown with the reason, and stays within it', () => {
    const h = [...hardFirstKeyHistory(20).filter((o) => o.input.key === 'a'), put('c1', 0, 10, 'v', 'c'), get('c2', 20, 30, 'v', 'c')];
    const maxCacheBytes = 1 << 20;
    const r = check(h, { maxCacheBytes, maxSteps: 1e12 });
    expect(r.verdict).toBe('unknown');
    if (r.verdict !== 'unknown') return;
    expect(r.unknown).toHaveLength(1);
    expect(r.unknown[0]!).toMatchObject({ key: 'a', reason: 'memory' });
    expect(describeUnknown(r.unknown[0]!)).toMatch(/partition "a" is undecided: its state cache reached the memory budget/);
    expect(r.cacheBytes).toBeLessThanOrEqual(maxCacheBytes);
    expect(r.cacheBytes).toBeGreaterThan(maxCacheBytes / 4);
  });

  it('with a larger budget the same search is decided', () => {
    const h = hardFirstKeyHistory(12).filter((o) => o.input.key === 'a');
    expect(check(h, { maxCacheBytes: 1 << 10 }).verdict).toBe('unknown');
    const r = check(h, { maxCacheBytes: 64 << 20 });
    expect(r.verdict).toBe('violation');
    expect(r.cacheBytes).toBeGreaterThan(1 << 10);
  });

  it('counts the interned model states too (append: a state per distinct value)', () => {
    const h = hardHistory({ seed: 3, mix: 'append', clients: 50, keys: 4, opsPerClient: 20 });
    const r = checkLinearizability(appendModel, h, { maxCacheBytes: 200_000 });
    expect(r.verdict).toBe('unknown');
    if (r.verdict === 'unknown') expect(r.unknown.every((u) => u.reason === 'memory')).toBe(true);
    expect(r.cacheBytes).toBeLessThanOrEqual(200_000);
  });

  it('a large hard history answers unknown, never an exception', () => {
    // 50 clients, 4,000 operations, 1 key, a third of them of unknown outcome: no search could finish
    const h = hardHistory({ seed: 9, mix: 'append', clients: 50, keys: 1, opsPerClient: 80, pending: 0.3 });
    let r: ReturnType<typeof checkLinearizability> | undefined;
    expect(() => { r = checkLinearizability(appendModel, h, { maxCacheBytes: 8 << 20, maxSteps: 1e12, timeoutMs: 60_000 }); }).not.toThrow();
    expect(r!.verdict).toBe('unknown');
    if (r!.verdict === 'unknown') expect(r!.unknown).toEqual([expect.objectContaining({ key: 'k000', reason: 'memory' })]);
  });

  it('partitions a history of 100,000 keys without a Map and decides each', () => {
    const h: KvOperation[] = [];
    for (let i = 0; i < 100_000; i++) {
      const key = `k${i}`;
      h.push(put('c1', 0, 10, 'a', key), get('c2', 20, 30, i === 99_999 ? 'b' : 'a', key));
    }
    expect(partitionByKey(h.slice(0, 6)).map((p) => [p.key, p.ops.length])).toEqual([['k0', 2], ['k1', 2], ['k2', 2]]);
    const r = check(h, { timeoutMs: 60_000 });
    expect(r.partitions).toBe(100_000);
    expect(r.verdict).toBe('violation');
    if (r.verdict === 'violation') expect(r.failures.map((f) => f.key)).toEqual(['k99999']);
  });
});

describe('generated hard histories', () => {
  it('are linearizable by construction, and not once a violation is planted', () => {
    for (const mix of ['register', 'kv'] as const) {
      for (let seed = 1; seed <= 3; seed++) {
        const opts = { seed, mix, clients: 20, keys: 4, opsPerClient: 10 };
        const h = hardHistory(opts);
        expect(h).toHaveLength(200);
        expect(h.some((o) => o.ret === undefined)).toBe(true);
        expect(check(h).verdict, `${mix} ${seed}`).toBe('ok');
        expect(check(hardHistory({ ...opts, violation: true })).verdict, `${mix} ${seed} planted`).toBe('violation');
      }
    }
    for (let seed = 1; seed <= 3; seed++) {
      const opts = { seed, mix: 'append' as const, clients: 10, keys: 4, opsPerClient: 10 };
      expect(checkLinearizability(appendModel, hardHistory(opts)).verdict).toBe('ok');
      expect(checkLinearizability(appendModel, hardHistory({ ...opts, violation: true })).verdict).toBe('violation');
    }
  });

  it('agree with a brute-force search when small, planted violations included', () => {
    for (const mix of ['register', 'kv', 'append'] as const) {
      const model = (mix === 'append' ? appendModel : kvModel) as Model<unknown, unknown, unknown>;
      let planted = 0;
      for (let seed = 1; seed <= 60; seed++) {
        const opts = { seed, mix, clients: 3, keys: 1, opsPerClient: 3, pending: 0.3, values: 2 };
        const h = hardHistory(opts as typeof opts & { mix: 'register' }) as Operation<unknown, unknown>[];
        expect(bruteForce(model, h), `${mix} ${seed}`).toBe(true);
        expect(checkLinearizability(model, h).verdict).toBe('ok');
        if (!h.some((o) => (o.input as KvOp).op === 'get' && o.ret !== undefined)) continue; // nothing to plant in
        planted++;
        const bad = hardHistory({ ...opts, violation: true } as typeof opts & { mix: 'register' }) as Operation<unknown, unknown>[];
        expect(bruteForce(model, bad), `${mix} ${seed} planted`).toBe(false);
        expect(checkLinearizability(model, bad).verdict).toBe('violation');
      }
      expect(planted, mix).toBeGreaterThan(30);
    }
  });
});

describe('pruning pending operations', () => {
  it('drops a pending write whose value nobody observes and nothing could notice', () => {
    const h = [put('c1', 0, undefined, 'lost'), get('c2', 10, 20, null), put('c2', 30, 40, 'b'), get('c3', 50, 60, 'b')];
    expect(kvModel.prune!(h).map((o) => o.id)).toEqual(h.slice(1).map((o) => o.id));
    expect(check(h).verdict).toBe('ok');
  });

  it('keeps one whose value is read, expected by a cas, or that may explain a failed cas', () => {
    const read = [put('c1', 0, undefined, 'a'), get('c2', 10, 20, 'a')];
    const expected = [put('c1', 0, undefined, 'a'), cas('c2', 10, 20, 'a', 'b', true)];
    const failedCas = [put('c1', 0, 5, 'z'), put('c1', 6, undefined, 'a'), cas('c2', 10, 20, 'z', 'b', false)];
    for (const h of [read, expected, failedCas]) {
      expect(kvModel.prune!(h)).toHaveLength(h.length);
      expect(check(h).verdict).toBe('ok');
    }
    // the failed cas is explained only by the pending put: dropping it would be wrong
    expect(check(failedCas.filter((_, i) => i !== 1)).verdict).toBe('violation');
  });
});

it('rejects an operation that returns before it is called', () => {
  expect(() => check([put('c1', 10, 5, 'a')])).toThrow(RangeError);
});

// ---- random histories ----------------------------------------------------------------------------

/** Every order of completed operations plus any subset of pending ones, respecting real time. */
function bruteForce<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): boolean {
  const n = ops.length;
  const used = new Array<boolean>(n).fill(false);
  const go = (state: S, left: number): boolean => {
    if (left === 0) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      const a = ops[i]!;
      // a may go next only if no unused completed op returned before it was called
      if (ops.some((b, j) => !used[j] && j !== i && b.ret !== undefined && b.ret < a.call)) continue;
      const [ok, next] = a.ret === undefined ? [true, model.stepPending(state, a.input)] : model.step(state, a.input, a.output as O);
      if (!ok) continue;
      used[i] = true;
      if (go(next, left - (a.ret === undefined ? 0 : 1))) return true;
      used[i] = false;
    }
    return false;
  };
  return go(model.init(), ops.filter((o) => o.ret !== undefined).length);
}

const arbSmallHistory: fc.Arbitrary<KvOperation[]> = fc.array(
  fc.record({
    input: fc.oneof(
      fc.record({ op: fc.constant('get' as const), key: fc.constant('x') }),
      fc.record({ op: fc.constant('put' as const), key: fc.constant('x'), value: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ op: fc.constant('cas' as const), key: fc.constant('x'), expected: fc.constantFrom(null, 'a', 'b'), value: fc.constantFrom('a', 'b', 'c') }),
    ),
    call: fc.integer({ min: 0, max: 20 }),
    len: fc.option(fc.integer({ min: 0, max: 10 }), { freq: 4, nil: undefined }),
    out: fc.constantFrom<KvResult>(null, 'a', 'b', 'c', true, false),
  }),
  { maxLength: 7 },
).map((l) => l.map((r, id): KvOperation => {
  // outputs of the right type for the operation
  const output: KvResult = r.input.op === 'get' ? (typeof r.out === 'boolean' ? null : r.out) : r.input.op === 'put' ? true : typeof r.out === 'boolean' ? r.out : r.out !== null;
  return { id, client: `c${id}`, call: r.call, ret: r.len === undefined ? undefined : r.call + r.len, input: r.input, output };
}));

/**
 * A linearizable history by construction: operations execute one at a time on a KvStore at points
 * 10 apart; each gets an interval around its point. Some are pending: those that took effect, and
 * some that never did (they are not executed).
 */
const arbSequentialHistory = fc.array(
  fc.record({
    input: fc.oneof(
      fc.record({ op: fc.constant('get' as const), key: fc.constantFrom('k1', 'k2', 'k3') }),
      fc.record({ op: fc.constant('put' as const), key: fc.constantFrom('k1', 'k2', 'k3'), value: fc.constantFrom('a', 'b', 'c') }),
      fc.record({
        op: fc.constant('cas' as const), key: fc.constantFrom('k1', 'k2', 'k3'),
        expected: fc.constantFrom(null, 'a', 'b', 'c'), value: fc.constantFrom('a', 'b', 'c'),
      }),
    ),
    before: fc.integer({ min: 0, max: 40 }),
    after: fc.integer({ min: 0, max: 40 }),
    fate: fc.constantFrom('returned', 'returned', 'returned', 'returned', 'pending-effect', 'pending-none'),
  }),
  { maxLength: 60 },
).map((l) => {
  const store = new KvStore();
  return l.map((r, id): KvOperation => {
    const point = 10 * id + 5;
    const call = point - r.before;
    if (r.fate === 'pending-none') return { id, client: `c${id % 5}`, call, ret: undefined, input: r.input };
    const output = store.apply(r.input);
    if (r.fate === 'pending-effect') return { id, client: `c${id % 5}`, call, ret: undefined, input: r.input };
    return { id, client: `c${id % 5}`, call, ret: point + r.after, input: r.input, output };
  });
});

describe('random histories', () => {
  it('agree with a brute-force search on small histories', () => {
    let rejected = 0;
    fc.assert(fc.property(arbSmallHistory, (h) => {
      const expected = bruteForce(kvModel, h);
      const r = check(h);
      if (!expected) rejected++;
      expect(r.verdict).toBe(expected ? 'ok' : 'violation');
    }), { numRuns: 2_000 });
    expect(rejected).toBeGreaterThan(100); // both verdicts are exercised
  });

  it('accepts every history of a sequential execution with consistent overlapping intervals', () => {
    fc.assert(fc.property(arbSequentialHistory, (h) => {
      expect(check(h).verdict).toBe('ok');
    }), { numRuns: 500 });
  });

  it('rejects it once one read result is changed to a value never written', () => {
    fc.assert(fc.property(arbSequentialHistory, fc.nat(), (h, pick) => {
      const reads = h.filter((o) => o.input.op === 'get' && o.ret !== undefined);
      fc.pre(reads.length > 0);
      const victim = reads[pick % reads.length]!;
      const mutated = h.map((o) => (o === victim ? { ...o, output: 'never-written' } : o));
      const r = check(mutated);
      expect(r.verdict).toBe('violation');
      if (r.verdict === 'violation') {
        expect(r.failures.map((f) => f.key)).toEqual([victim.input.key]);
        expect(r.failures[0]!.candidates.some((c) => c.op.id === victim.id && !c.accepted)).toBe(true);
      }
    }), { numRuns: 500 });
  });
});

// ---- speed ------------------------------------------------------------------------------------------

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * `n` operations from `clients` clients (one outstanding each) over `keys` keys: each takes effect
 * at a random point inside its interval, in the order of those points, on a KvStore; a fraction
 * time out (pending), half of those without effect.
 */
function concurrentHistory(n: number, clients: number, keys: number, seed: number, pendingRate = 0.02): KvOperation[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const values = ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'];
  const keyNames = Array.from({ length: keys }, (_, i) => `k${i}`);
  const planned: { client: string; call: number; point: number; ret: number; input: KvOp; fate: 'ok' | 'effect' | 'none' }[] = [];
  const clock = new Array<number>(clients).fill(0);
  for (let i = 0; i < n; i++) {
    const c = i % clients;
    const call = clock[c]! + Math.floor(r() * 10);
    const point = call + 1 + Math.floor(r() * 50);
    const ret = point + 1 + Math.floor(r() * 50);
    clock[c] = ret;
    const key = pick(keyNames);
    const kind = r();
    const input: KvOp = kind < 0.4 ? { op: 'get', key } : kind < 0.75 ? { op: 'put', key, value: pick(values) }
      : { op: 'cas', key, expected: pick([null, ...values]), value: pick(values) };
    const p = r();
    planned.push({ client: `c${c}`, call, point, ret, input, fate: p < pendingRate / 2 ? 'none' : p < pendingRate ? 'effect' : 'ok' });
  }
  const store = new KvStore();
  const outputs = new Map<number, KvResult>();
  [...planned.keys()].sort((a, b) => planned[a]!.point - planned[b]!.point).forEach((i) => {
    if (planned[i]!.fate !== 'none') outputs.set(i, store.apply(planned[i]!.input));
  });
  return planned.map((p, id) => ({
    id, client: p.client, call: p.call, input: p.input,
    ret: p.fate === 'ok' ? p.ret : undefined,
    output: p.fate === 'ok' ? outputs.get(id) : undefined,
  }));
}

describe('speed', () => {
  it('checks a 1,000-operation history of 5 clients over 5 keys well under a second', () => {
    const h = concurrentHistory(1_000, 5, 5, 42);
    check(h); // warm-up
    const times: number[] = [];
    for (let s = 1; s <= 5; s++) {
      const hs = concurrentHistory(1_000, 5, 5, s);
      const t0 = performance.now();
      const r = check(hs);
      times.push(performance.now() - t0);
      expect(r.verdict).toBe('ok');
    }
    const worst = Math.max(...times);
    console.log(`1,000 ops, 5 clients, 5 keys: ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    expect(worst).toBeLessThan(1_000);
  });

  it('and rejects a corrupted one as fast', () => {
    const h = concurrentHistory(1_000, 5, 5, 7);
    const i = h.findIndex((o) => o.input.op === 'get' && o.ret !== undefined && o.call > 5_000);
    expect(i).toBeGreaterThan(0);
    const bad = h.map((o, j) => (j === i ? { ...o, output: 'never-written' } : o));
    const t0 = performance.now();
    const r = check(bad);
    const ms = performance.now() - t0;
    expect(r.verdict).toBe('violation');
    console.log(`1,000 ops with one corrupted read: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1_000);
  });
});
