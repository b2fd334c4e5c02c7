/**
 * The linearizability checker's figures for `npm run bench`: generated hard histories (50
 * clients, several keys, many operations of unknown outcome; linearizable ones and ones with a
 * planted violation), each checked by the current search and by the previous one
 * (`linearizability-baseline.ts`) in the same process, medians over `reps` runs each, and the
 * ratio. Both searches take the same steps in the same order (same algorithm, same candidate
 * order), so steps/s compares the cost of a step and the verdicts must agree — except where the
 * budget is the point (the hard-first-key row, whose old verdict is `unknown`).
 */
import { table } from '../report/format.ts';
import { checkLinearizability, kvModel, type CheckOptions, type Model, type Operation } from './linearizability.ts';
import { checkLinearizabilityBaseline } from './linearizability-baseline.ts';
import { appendModel, hardFirstKeyHistory, hardHistory, type HardHistoryOptions } from './hard-histories.ts';

interface Case {
  readonly name: string;
  readonly model: Model<unknown, unknown, unknown>;
  readonly history: readonly Operation<unknown, unknown>[];
  readonly options: CheckOptions;
  /** Whether the previous search runs this case (not when it would exhaust the heap). */
  readonly baseline: boolean;
}

const BUDGET: CheckOptions = { maxSteps: 100_000_000, timeoutMs: 60_000, maxCacheBytes: 2 * 2 ** 30 };

function generated(name: string, o: HardHistoryOptions): Case {
  const history = hardHistory(o as HardHistoryOptions & { mix: 'register' }) as Operation<unknown, unknown>[];
  const model = (o.mix === 'append' ? appendModel : kvModel) as Model<unknown, unknown, unknown>;
  return { name, model, history, options: BUDGET, baseline: true };
}

export function linearizabilityCases(large: boolean): Case[] {
  const cases = [
    generated('register, planted stale read', { seed: 3, mix: 'register', violation: true }),
    generated('register, linearizable, 20% pending', { seed: 3, mix: 'register', pending: 0.2 }),
    generated('get/put/cas, planted violation', { seed: 2, mix: 'kv', violation: true }),
    generated('get/put/cas, linearizable, 4 keys, 30% pending', { seed: 1, mix: 'kv', keys: 4, pending: 0.3 }),
    generated('get/put/append, linearizable', { seed: 2, mix: 'append' }),
    {
      // The old search spends the whole time budget on key a, which sorts first.
      name: 'hard key first, violation in the next (1 s budget)',
      model: kvModel as Model<unknown, unknown, unknown>,
      history: hardFirstKeyHistory(24) as Operation<unknown, unknown>[],
      options: { maxSteps: 1e12, timeoutMs: 1_000 },
      baseline: true,
    },
  ];
  if (large) {
    // 21 concurrent puts and a read of a value none wrote: 21·2^20 = 22 million configurations,
    // past the 2^24 entries at which a Map throws. Only the new search runs it.
    cases.push({
      name: 'single key, 22 million configurations (> 2^24)',
      model: kvModel as Model<unknown, unknown, unknown>,
      history: hardFirstKeyHistory(21).filter((op) => op.input.key === 'a') as Operation<unknown, unknown>[],
      options: { ...BUDGET, maxSteps: 1e12, timeoutMs: 600_000 },
      baseline: false,
    });
  }
  return cases;
}

interface Run {
  verdict: string;
  steps: number;
  wallMs: number;
  cpuMs: number;
  bytes: number;
}

function measure(f: () => { verdict: string; steps: number; bytes: number }): Run {
  const t0 = performance.now();
  const u0 = process.cpuUsage();
  const r = f();
  const u = process.cpuUsage(u0);
  return { ...r, wallMs: performance.now() - t0, cpuMs: (u.user + u.system) / 1000 };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** Runs the cases and prints the table. */
export function benchLinearizability(opts: { reps?: number; large?: boolean } = {}): void {
  const reps = Math.max(1, opts.reps ?? 3);
  // Warm-up, so that the first rows do not measure the JIT: both searches on small histories.
  for (let i = 0; i < 10; i++) {
    for (const mix of ['register', 'kv', 'append'] as const) {
      const h = hardHistory({ seed: 100 + i, mix: mix as 'register', clients: 20, keys: 4, opsPerClient: 10, violation: mix !== 'append' });
      const model = (mix === 'append' ? appendModel : kvModel) as Model<unknown, unknown, unknown>;
      checkLinearizability(model, h as Operation<unknown, unknown>[]);
      checkLinearizabilityBaseline(model, h as Operation<unknown, unknown>[]);
    }
  }
  const rows: string[][] = [];
  let newCpu = 0;
  let oldCpu = 0;
  for (const c of linearizabilityCases(opts.large ?? false)) {
    const now: Run[] = [];
    const old: Run[] = [];
    for (let i = 0; i < reps; i++) {
      now.push(measure(() => {
        const r = checkLinearizability(c.model, c.history, c.options);
        return { verdict: r.verdict, steps: r.steps, bytes: r.cacheBytes };
      }));
      if (c.baseline) {
        old.push(measure(() => {
          const r = checkLinearizabilityBaseline(c.model, c.history, c.options);
          return { verdict: r.error ? `error: ${r.error}` : r.verdict, steps: r.steps, bytes: r.heapGrowth };
        }));
      }
    }
    const n = now[0]!;
    const o = old[0];
    const nCpu = median(now.map((r) => r.cpuMs));
    const oCpu = o ? median(old.map((r) => r.cpuMs)) : NaN;
    if (o && o.verdict === n.verdict) {
      newCpu += nCpu;
      oldCpu += oCpu;
    }
    const clients = new Set(c.history.map((op) => op.client)).size;
    const pending = c.history.filter((op) => op.ret === undefined).length;
    const keys = c.model.partition ? c.model.partition(c.history).length : 1;
    rows.push([
      c.name, `${c.history.length} / ${clients} / ${keys} / ${pending}`,
      n.verdict, String(n.steps), median(now.map((r) => r.wallMs)).toFixed(0), (n.steps / nCpu / 1000).toFixed(2), mb(n.bytes),
      o ? o.verdict : '-', o ? String(o.steps) : '-', o ? median(old.map((r) => r.wallMs)).toFixed(0) : '-',
      o ? (o.steps / oCpu / 1000).toFixed(2) : '-', o ? mb(o.bytes) : '-',
      !o ? '-' : o.verdict === n.verdict ? `${(oCpu / nCpu).toFixed(1)}x` : `- (old: ${o.verdict})`,
    ]);
  }
  console.log(`\nLinearizability checker on generated hard histories (median of ${reps}; steps/s per CPU second; "old": the ` +
    'previous search, same steps in the same order):');
  console.log(table([
    'history', 'ops / clients / keys / pending', 'verdict', 'steps', 'ms', 'Msteps/s', 'cache MB',
    'old verdict', 'old steps', 'old ms', 'old Msteps/s', 'old heap MB (est.)', 'old/new CPU',
  ], rows));
  if (oldCpu > 0) {
    console.log(`Rows with the same verdict: ${(oldCpu / 1000).toFixed(2)} s of CPU before, ${(newCpu / 1000).toFixed(2)} s now ` +
      `(${(oldCpu / newCpu).toFixed(1)}x). "cache MB": the new cache's peak as its memory budget counts it; "old heap MB": ` +
      'heap growth at the end of a partition\'s search, garbage included.');
  }
}
