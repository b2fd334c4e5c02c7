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
 * The search itself allocates nothing per step: model states are interned (an id per distinct
 * state), the model's transitions (state id, operation) → state id are memoized in a small
 * direct-mapped table (the model is called only on a miss), and the cache is one open-addressing table over typed arrays (bitset words, state id,
 * hash; 4·W + 20 bytes an entry for W words of bitset), never a Map, so it has no size limit of
 * its own: a memory budget bounds it.
 *
 * Ties: a call and a return at the same time count as concurrent (calls sort first), the lenient
 * reading when clocks are coarse.
 *
 * P-compositionality: a history is linearizable iff each of its per-object sub-histories is, so a
 * model may split a history (`partition`) and each part is searched on its own; the key-value
 * model partitions by key. The parts' searches are interleaved: each is resumable, and they take
 * turns in key order, `sliceSteps` steps at a time, so a hard part does not keep the others from
 * being decided, and the check stops at the first part found not linearizable.
 *
 * Budgets: the search is exponential in the worst case. Each part has its own step budget
 * (`maxSteps`) and time budget (`partitionTimeoutMs`, the sum of its turns), the whole check a
 * wall-clock budget (`timeoutMs`), and all parts' caches together a memory budget
 * (`maxCacheBytes`). A part that runs out of any is `unknown` with the reason — never a pass, and
 * never an exception. When the cache is full the part stops rather than evicting: dropping
 * entries would be sound (the cache only prunes) but can make the search exponentially longer,
 * so it would end on the step or time budget anyway, later and with a less telling reason.
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

/**
 * A sequential specification. States are values: `step` and `stepPending` are pure functions of
 * their arguments (the search memoizes them) and never mutate them.
 */
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
  /** Estimated bytes a state takes, for the memory budget (default 32). */
  sizeOf?(state: S): number;
}

export interface CheckOptions {
  /** Search steps allowed per partition (default 5,000,000). */
  readonly maxSteps?: number;
  /** Wall-clock time allowed for the whole check, ms (default 10,000). */
  readonly timeoutMs?: number;
  /** Search time allowed per partition, ms: the sum of its slices (default: `timeoutMs`). */
  readonly partitionTimeoutMs?: number;
  /**
   * Bytes the state caches and interned model states of all partitions may hold together,
   * counting the peak while a table grows (old and new arrays both alive). Default 256 MiB.
   */
  readonly maxCacheBytes?: number;
  /** Steps one partition searches before the next one's turn (default 10,000). */
  readonly sliceSteps?: number;
  /** Stop every partition's search at the first violation (default true); false: decide them all. */
  readonly stopAtFirstViolation?: boolean;
}

export const DEFAULT_MAX_STEPS = 5_000_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CACHE_BYTES = 256 * 2 ** 20;
export const DEFAULT_SLICE_STEPS = 10_000;

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

/**
 * A partition left undecided, and why: `steps` — it used its step budget (`maxSteps`); `time` —
 * its own time budget (`partitionTimeoutMs`) or the whole check's (`timeoutMs`) ran out; `memory`
 * — its state cache could not grow within `maxCacheBytes`; `stopped` — another partition was
 * found not linearizable first (only with `stopAtFirstViolation`).
 */
export interface PartitionUnknown {
  readonly key: string;
  readonly reason: 'steps' | 'time' | 'memory' | 'stopped';
  readonly steps: number;
}

export function describeUnknown(u: PartitionUnknown): string {
  const where = u.key === '' ? 'the history' : `partition ${JSON.stringify(u.key)}`;
  switch (u.reason) {
    case 'steps':
      return `${where} is undecided: its search used its step budget (${u.steps - 1} steps)`;
    case 'time':
      return `${where} is undecided: its time budget or the check's ran out after ${u.steps} steps`;
    case 'memory':
      return `${where} is undecided: its state cache reached the memory budget after ${u.steps} steps`;
    case 'stopped':
      return `${where} is undecided: the check stopped at a violation in another partition (after ${u.steps} steps here)`;
  }
}

interface Stats {
  readonly partitions: number;
  readonly operations: number;
  /** Search steps over all partitions. */
  readonly steps: number;
  readonly ms: number;
  /** The most bytes the state caches held at once (see `maxCacheBytes`). */
  readonly cacheBytes: number;
  /** Configurations cached over all partitions. */
  readonly configurations: number;
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

/**
 * The scheduler. Every partition's search is resumable (`PartitionSearch.run` searches a number
 * of steps and returns); the partitions take turns in key order, a slice of `sliceSteps` each,
 * until each is decided or out of its budget. So a hard partition costs the others only its share
 * of the turns, and the first violation anywhere ends the check.
 */
export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): LinearizabilityResult<S, I, O> {
  const started = performance.now();
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = started + timeoutMs;
  const partitionTimeoutMs = options.partitionTimeoutMs ?? timeoutMs;
  const slice = Math.max(1, options.sliceSteps ?? DEFAULT_SLICE_STEPS);
  const stopAtFirst = options.stopAtFirstViolation ?? true;
  const budget = new MemoryBudget(options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES);
  for (const op of history) {
    if (op.ret !== undefined && op.ret < op.call) {
      throw new RangeError(`operation ${op.id} returns (t=${op.ret}) before it is called (t=${op.call})`);
    }
  }
  const relevant = model.readOnly ? history.filter((op) => op.ret !== undefined || !model.readOnly!(op.input)) : history;
  const parts = model.partition ? model.partition(relevant) : [{ key: '', ops: relevant }];
  interface Turn {
    readonly part: Partition<I, O>;
    readonly index: number;
    search?: PartitionSearch<S, I, O>;
    elapsed: number;
  }
  const failures: { index: number; failure: PartitionFailure<S, I, O> }[] = [];
  const unknown: { index: number; u: PartitionUnknown }[] = [];
  let steps = 0;
  let configurations = 0;
  let stopped = false;
  const settle = (t: Turn, reason: PartitionUnknown['reason'] | 'ok' | 'fail'): void => {
    const s = t.search;
    const n = s?.steps ?? 0;
    steps += n;
    configurations += s?.cached ?? 0;
    if (reason === 'fail') {
      failures.push({ index: t.index, failure: diagnose(model, t.part, s!.ops, s!.best()) });
      if (stopAtFirst) stopped = true;
    } else if (reason !== 'ok') {
      unknown.push({ index: t.index, u: { key: t.part.key, reason, steps: reason === 'steps' ? maxSteps + 1 : n } });
    }
    s?.release();
    t.search = undefined;
  };
  let active: Turn[] = parts.map((part, index) => ({ part, index, elapsed: 0 }));
  while (active.length > 0) {
    const still: Turn[] = [];
    for (const t of active) {
      if (stopped) {
        settle(t, 'stopped');
        continue;
      }
      const t0 = performance.now();
      if (t0 > deadline || t.elapsed >= partitionTimeoutMs) {
        settle(t, 'time');
        continue;
      }
      const s = (t.search ??= new PartitionSearch(model, model.prune ? model.prune(t.part.ops) : t.part.ops, budget));
      const status = s.run(Math.min(slice, maxSteps - s.steps), Math.min(deadline, t0 + partitionTimeoutMs - t.elapsed));
      t.elapsed += performance.now() - t0;
      if (status !== 'running') settle(t, status);
      else if (s.steps >= maxSteps) settle(t, 'steps');
      else still.push(t);
    }
    active = still;
  }
  const stats: Stats = {
    partitions: parts.length, operations: history.length, steps, ms: performance.now() - started, cacheBytes: budget.peak,
    configurations,
  };
  const byIndex = <T extends { index: number }>(xs: T[]): T[] => xs.sort((a, b) => a.index - b.index);
  const unknownList = byIndex(unknown).map((x) => x.u);
  if (failures.length > 0) return { ...stats, verdict: 'violation', failures: byIndex(failures).map((x) => x.failure), unknown: unknownList };
  if (unknownList.length > 0) return { ...stats, verdict: 'unknown', unknown: unknownList };
  return { ...stats, verdict: 'ok' };
}

/** Bytes granted to the caches of one check, shared by all its partitions. */
class MemoryBudget {
  used = 0;
  peak = 0;
  constructor(readonly limit: number) {}
  /** Takes `bytes` more; false (and nothing taken) when that would pass the limit. */
  reserve(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }
  release(bytes: number): void {
    this.used -= bytes;
  }
}

/** Largest table a cache may allocate, in elements of one typed array, whatever the budget. */
const MAX_TYPED_LENGTH = 2 ** 30;
/** Most model states one partition interns (V8 arrays grow up to about 2^27 elements). */
const MAX_STATES = 2 ** 26;

/**
 * The configurations the search has reached: (set of operations taken, model state id), in one
 * open-addressing hash table over typed arrays and no objects. The index has two slots per entry,
 * each slot [hash, entry + 1], so a probe rejects a different hash without touching the entry;
 * entry e is `entries[e·(W+1) ..]` = [state id, W words of bitset]. An entry costs 4·W + 20
 * bytes. The table grows by doubling within the budget; `add` answers -1 when it cannot.
 */
class ConfigCache {
  size = 0;
  private cap = 0;
  private mask = 0;
  private entries = new Uint32Array(0);
  private slots = new Uint32Array(0);
  bytes = 0;

  constructor(private readonly words: number, private readonly budget: MemoryBudget) {}

  private bytesFor(cap: number): number {
    return cap * 4 * (this.words + 1) + 2 * cap * 8;
  }

  /** 1: added; 0: already there; -1: full (no memory to grow). */
  add(h: number, b: Uint32Array, sid: number): number {
    const W = this.words;
    const stride = W + 1;
    const slots = this.slots;
    const mask = this.mask;
    let i = h & mask;
    if (this.cap > 0) {
      const entries = this.entries;
      for (;;) {
        const e1 = slots[2 * i + 1]!;
        if (e1 === 0) break;
        if (slots[2 * i] === h) {
          const base = (e1 - 1) * stride;
          if (entries[base] === sid) {
            let k = 0;
            while (k < W && entries[base + 1 + k] === b[k]) k++;
            if (k === W) return 0;
          }
        }
        i = (i + 1) & mask;
      }
    }
    if (this.size === this.cap) {
      if (!this.grow()) return -1;
      i = h & this.mask;
      while (this.slots[2 * i + 1] !== 0) i = (i + 1) & this.mask;
    }
    const e = this.size++;
    const entries = this.entries;
    const base = e * stride;
    entries[base] = sid;
    for (let k = 0; k < W; k++) entries[base + 1 + k] = b[k]!;
    this.slots[2 * i] = h;
    this.slots[2 * i + 1] = e + 1;
    return 1;
  }

  private grow(): boolean {
    const cap = this.cap === 0 ? 64 : this.cap * 2;
    if (cap * (this.words + 1) > MAX_TYPED_LENGTH || 4 * cap > MAX_TYPED_LENGTH) return false;
    const bytes = this.bytesFor(cap);
    if (!this.budget.reserve(bytes)) return false;
    const entries = new Uint32Array(cap * (this.words + 1));
    entries.set(this.entries);
    const slots = new Uint32Array(4 * cap);
    const mask = 2 * cap - 1;
    const old = this.slots;
    for (let j = 0; j < old.length; j += 2) {
      if (old[j + 1] === 0) continue;
      let i = old[j]! & mask;
      while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
      slots[2 * i] = old[j]!;
      slots[2 * i + 1] = old[j + 1]!;
    }
    this.budget.release(this.bytes);
    Object.assign(this, { entries, slots, mask, cap, bytes });
    return true;
  }

  release(): void {
    this.budget.release(this.bytes);
    this.bytes = 0;
    this.cap = this.mask = 0;
    this.entries = new Uint32Array(0);
    this.slots = new Uint32Array(0);
  }
}

/** The model states a search has met, each under a small integer id (so the cache holds ints). */
class StateTable<S> {
  readonly values: S[] = [];
  private hashes = new Uint32Array(16);
  private slots = new Int32Array(32);
  private mask = 31;
  bytes = 0;

  constructor(private readonly model: Model<S, unknown, unknown>, private readonly budget: MemoryBudget) {}

  /** The state's id (interning it if new); -1 when the budget has no room for it. */
  intern(s: S): number {
    const h = this.model.hash(s) >>> 0;
    const values = this.values;
    const mask = this.mask;
    let i = Math.imul(h, 0x9e3779b1) >>> 0 & mask;
    for (;;) {
      const id = this.slots[i]! - 1;
      if (id < 0) break;
      if (this.hashes[id] === h && this.model.equal(values[id]!, s)) return id;
      i = (i + 1) & mask;
    }
    const id = values.length;
    const cost = (this.model.sizeOf?.(s) ?? 32) + 4 + 8 + 8;
    if (id >= MAX_STATES || !this.budget.reserve(cost)) return -1;
    this.bytes += cost;
    values.push(s);
    if (id === this.hashes.length) {
      const hashes = new Uint32Array(2 * id);
      hashes.set(this.hashes);
      this.hashes = hashes;
      const slots = new Int32Array(4 * id);
      const m = 4 * id - 1;
      for (let j = 0; j < id; j++) {
        let k = Math.imul(hashes[j]!, 0x9e3779b1) >>> 0 & m;
        while (slots[k] !== 0) k = (k + 1) & m;
        slots[k] = j + 1;
      }
      this.slots = slots;
      this.mask = m;
      i = Math.imul(h, 0x9e3779b1) >>> 0 & m;
      while (slots[i] !== 0) i = (i + 1) & m;
    }
    this.hashes[id] = h;
    this.slots[i] = id + 1;
    return id;
  }

  release(): void {
    this.budget.release(this.bytes);
    this.bytes = 0;
    this.values.length = 0;
  }
}

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

const END = -1;
/** Direct-mapped memo of the model's transitions (state id, operation) → next state id. */
const MAX_MEMO_BITS = 12;
const MEMO_REJECT = -2;

type SearchStatus = 'running' | 'ok' | 'fail' | 'time' | 'memory';

/**
 * One partition's search, resumable: `run(quota, deadline)` continues it for at most `quota`
 * steps. All its state lives in typed arrays and fields, so a slice ends and the next begins
 * without losing anything.
 */
class PartitionSearch<S, I, O> {
  steps = 0;
  private status: SearchStatus = 'running';
  private readonly n: number;
  private readonly evOp: Int32Array;
  private readonly evIsCall: Uint8Array;
  private readonly callEv: Int32Array;
  private readonly retEv: Int32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head: number;
  private readonly bits: Uint32Array;
  private readonly zobrist: Uint32Array;
  private readonly cache: ConfigCache;
  private readonly states: StateTable<S>;
  /** The explicit stack: operations linearized so far and the state id before each. */
  private readonly stackOps: Int32Array;
  private readonly stackStates: Int32Array;
  /** The longest sequence reached; `agree` = length of the common prefix of the stack and it. */
  private readonly bestOps: Int32Array;
  private readonly memoKey: Int32Array;
  private readonly memoNext: Int32Array;
  private readonly memoBits: number;
  private bestLen = 0;
  private agree = 0;
  private depth = 0;
  private sid: number;
  private entry: number;
  private remaining = 0;
  private bitsHash = 0;

  constructor(private readonly model: Model<S, I, O>, readonly ops: readonly Operation<I, O>[], budget: MemoryBudget) {
    const n = (this.n = ops.length);
    let nEvents = 0;
    for (const op of ops) {
      nEvents += op.ret === undefined ? 1 : 2;
      if (op.ret !== undefined) this.remaining++;
    }
    const evOp = (this.evOp = new Int32Array(nEvents));
    const evIsCall = (this.evIsCall = new Uint8Array(nEvents));
    const evTime = new Float64Array(nEvents);
    const callEv = (this.callEv = new Int32Array(n));
    const retEv = (this.retEv = new Int32Array(n).fill(END));
    let k = 0;
    for (let o = 0; o < n; o++) {
      const op = ops[o]!;
      evOp[k] = o; evIsCall[k] = 1; evTime[k] = op.call; k++;
      if (op.ret !== undefined) { evOp[k] = o; evIsCall[k] = 0; evTime[k] = op.ret; k++; }
    }
    const order = new Int32Array(nEvents);
    for (let e = 0; e < nEvents; e++) order[e] = e;
    order.sort((a, b) => evTime[a]! - evTime[b]! || evIsCall[b]! - evIsCall[a]! || evOp[a]! - evOp[b]!);
    // A doubly linked list over the events, with a head sentinel at index nEvents.
    const head = (this.head = nEvents);
    const next = (this.next = new Int32Array(nEvents + 1));
    const prev = (this.prev = new Int32Array(nEvents + 1));
    let last = head;
    for (const e of order) {
      next[last] = e;
      prev[e] = last;
      if (evIsCall[e]) callEv[evOp[e]!] = e;
      else retEv[evOp[e]!] = e;
      last = e;
    }
    next[last] = END;
    const words = Math.max(1, Math.ceil(n / 32));
    this.bits = new Uint32Array(words);
    this.zobrist = zobristTable(n);
    this.cache = new ConfigCache(words, budget);
    this.states = new StateTable(model as Model<S, unknown, unknown>, budget);
    this.stackOps = new Int32Array(n);
    this.stackStates = new Int32Array(n);
    this.bestOps = new Int32Array(n);
    // The memo: up to 2^MAX_MEMO_BITS entries, fewer for a small partition.
    this.memoBits = Math.min(MAX_MEMO_BITS, Math.max(4, Math.ceil(Math.log2(4 * n + 1))));
    this.memoKey = new Int32Array(1 << this.memoBits).fill(-1);
    this.memoNext = new Int32Array(1 << this.memoBits);
    this.sid = this.states.intern(model.init());
    if (this.sid < 0) this.status = 'memory';
    this.entry = next[head]!;
  }

  /** Configurations in the cache. */
  get cached(): number {
    return this.cache.size;
  }

  /** The longest linearized sequence reached, as indices into `ops`. */
  best(): number[] {
    return Array.from(this.bestOps.subarray(0, this.bestLen));
  }

  release(): void {
    this.cache.release();
    this.states.release();
  }

  /**
   * The state id after operation `o` from state id `sid`: MEMO_REJECT when the model does not
   * accept its output there, -3 when the state table is out of memory.
   */
  private successor(sid: number, o: number): number {
    const slot = (Math.imul(sid, 0x9e3779b1) ^ Math.imul(o, 0x85ebca6b)) >>> (32 - this.memoBits);
    const key = sid * this.n + o;
    // `key` stays exact while sid·n + o < 2^31; beyond it the memo is bypassed.
    const memoable = key < 0x7fffffff;
    if (memoable && this.memoKey[slot] === key) return this.memoNext[slot]!;
    const op = this.ops[o]!;
    const state = this.states.values[sid]!;
    let next: number;
    if (op.ret === undefined) {
      const after = this.model.stepPending(state, op.input);
      next = after === state ? sid : this.states.intern(after);
    } else {
      const r = this.model.step(state, op.input, op.output as O);
      next = !r[0] ? MEMO_REJECT : r[1] === state ? sid : this.states.intern(r[1]);
    }
    if (next === -1) return -3;
    if (memoable) {
      this.memoKey[slot] = key;
      this.memoNext[slot] = next;
    }
    return next;
  }

  run(quota: number, deadline: number): SearchStatus {
    if (this.status !== 'running') return this.status;
    const { next, prev, evOp, evIsCall, callEv, retEv, bits, zobrist, stackOps, stackStates, bestOps, cache, ops, head } = this;
    let { depth, sid, entry, remaining, bitsHash, bestLen, agree, steps } = this;
    const stop = steps + quota;
    let status: SearchStatus = 'running';
    for (;;) {
      if (remaining === 0) { status = 'ok'; break; }
      if (steps >= stop) break;
      steps++;
      if ((steps & 1023) === 0 && performance.now() > deadline) { status = 'time'; break; }
      if (entry !== END && evIsCall[entry]) {
        const o = evOp[entry]!;
        const after = this.successor(sid, o);
        if (after >= 0) {
          const w = o >>> 5;
          const m = 1 << (o & 31);
          bits[w] = bits[w]! | m;
          const h = (bitsHash ^ zobrist[o]!) >>> 0;
          const added = cache.add((h ^ Math.imul(after + 1, 0x9e3779b1)) >>> 0, bits, after);
          if (added === 1) {
            stackOps[depth] = o;
            stackStates[depth] = sid;
            if (agree === depth && depth < bestLen && bestOps[depth] === o) agree++;
            depth++;
            if (depth > bestLen) {
              for (let d = agree; d < depth; d++) bestOps[d] = stackOps[d]!;
              bestLen = depth;
              agree = depth;
            }
            sid = after;
            bitsHash = h;
            // lift: take the operation's call and return out of the list
            const c = callEv[o]!;
            next[prev[c]!] = next[c]!;
            if (next[c] !== END) prev[next[c]!] = prev[c]!;
            const r = retEv[o]!;
            if (r !== END) {
              next[prev[r]!] = next[r]!;
              if (next[r] !== END) prev[next[r]!] = prev[r]!;
              remaining--;
            }
            entry = next[head]!;
            continue;
          }
          bits[w] = bits[w]! & ~m;
          if (added < 0) { status = 'memory'; break; }
        } else if (after === -3) {
          status = 'memory';
          break;
        }
        entry = next[entry]!;
      } else {
        // A return: the operation returning here should already have taken effect. Undo the last
        // choice and try the candidate after it. (The end of the list cannot come first: a
        // completed operation is left, so its return is still in the list.)
        if (depth === 0) { status = 'fail'; break; }
        depth--;
        if (agree > depth) agree = depth;
        const o = stackOps[depth]!;
        sid = stackStates[depth]!;
        bits[o >>> 5] = bits[o >>> 5]! & ~(1 << (o & 31));
        bitsHash = (bitsHash ^ zobrist[o]!) >>> 0;
        // unlift: put the return, then the call, back
        const r = retEv[o]!;
        if (r !== END) {
          next[prev[r]!] = r;
          if (next[r] !== END) prev[next[r]!] = r;
          remaining++;
        }
        const c = callEv[o]!;
        next[prev[c]!] = c;
        if (next[c] !== END) prev[next[c]!] = c;
        entry = next[c]!;
      }
    }
    Object.assign(this, { depth, sid, entry, remaining, bitsHash, bestLen, agree, steps, status });
    return status;
  }
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
  const taken = new Uint8Array(ops.length);
  for (const o of best) taken[o] = 1;
  const rest = ops.filter((_, o) => !taken[o]);
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
 * Splits a history by `input.key`, keys in sorted order, each part in history order. A sort, not a
 * Map, so any number of keys fits.
 */
export function partitionByKey<I extends { readonly key: string }, O>(history: readonly Operation<I, O>[]): Partition<I, O>[] {
  const sorted = history.map((op, i) => ({ op, i }));
  sorted.sort((a, b) => (a.op.input.key < b.op.input.key ? -1 : a.op.input.key > b.op.input.key ? 1 : a.i - b.i));
  const parts: Partition<I, O>[] = [];
  let start = 0;
  for (let i = 1; i <= sorted.length; i++) {
    if (i === sorted.length || sorted[i]!.op.input.key !== sorted[start]!.op.input.key) {
      parts.push({ key: sorted[start]!.op.input.key, ops: sorted.slice(start, i).map((x) => x.op) });
      start = i;
    }
  }
  return parts;
}

/** Membership in a set of values, as a sorted array (no Set: any number of values fits). */
class ValueSet {
  private readonly strings: string[];
  private readonly hasNull: boolean;
  constructor(values: readonly (string | null)[]) {
    this.hasNull = values.includes(null);
    this.strings = values.filter((v): v is string => v !== null).sort();
  }
  has(v: string | null): boolean {
    if (v === null) return this.hasNull;
    let lo = 0;
    let hi = this.strings.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.strings[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.strings.length && this.strings[lo] === v;
  }
}

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
  partition: partitionByKey,
  prune(ops) {
    // A pending put or cas of value v may be dropped when no completed get returns v, no cas
    // expects v, and no completed cas that failed returned after its call: in a linearization
    // where it takes effect, the state stays v until the next write, which can then only be a put
    // (a cas would need to expect v), and nothing in between observes v (a get would return v, a
    // completed cas failing on v is ruled out, a pending cas failing on v may be dropped too), so
    // leaving it out changes no result.
    const readValues: (string | null)[] = [];
    const expectedValues: (string | null)[] = [];
    let lastFailedCasRet = -Infinity;
    for (const o of ops) {
      if (o.input.op === 'cas') {
        expectedValues.push(o.input.expected);
        if (o.ret !== undefined && o.output === false) lastFailedCasRet = Math.max(lastFailedCasRet, o.ret);
      } else if (o.input.op === 'get' && o.ret !== undefined) {
        readValues.push(o.output as string | null);
      }
    }
    const read = new ValueSet(readValues);
    const expected = new ValueSet(expectedValues);
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
