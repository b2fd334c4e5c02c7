/** A counterexample as readable text: the first state in full, then what each action changed. */
import type { TlcState } from './result.ts';
import { formatTlaValue, type TlaValue } from './values.ts';

const show = (v: TlaValue | undefined) => (v === undefined ? '(unset)' : formatTlaValue(v));

/**
 * For example:
 *
 *   1. Initial state
 *        x = 0
 *        y = 0
 *   2. Inc
 *        x: 0 → 1
 *   3. Bump
 *        y: 0 → 1
 *   → back to state 2
 *
 * A step that changes nothing shows `(no change)`. `loopBackTo` (from `TlcResult`) ends a
 * liveness lasso.
 */
export function formatCounterexample(states: readonly TlcState[], options: { loopBackTo?: number } = {}): string {
  const lines: string[] = [];
  let previous: TlcState | undefined;
  for (const state of states) {
    lines.push(`${state.index}. ${state.action ?? (previous ? '(unnamed action)' : 'Initial state')}`);
    const names = Object.keys(state.vars);
    if (!previous) {
      for (const name of names) lines.push(`     ${name} = ${show(state.vars[name])}`);
    } else {
      const before = previous.vars;
      const changed = names.filter((name) => show(before[name]) !== show(state.vars[name]));
      for (const name of changed) lines.push(`     ${name}: ${show(before[name])} → ${show(state.vars[name])}`);
      if (changed.length === 0) lines.push('     (no change)');
    }
    previous = state;
  }
  if (options.loopBackTo !== undefined) {
    lines.push(options.loopBackTo === previous?.index ? '→ stutters here forever' : `→ back to state ${options.loopBackTo}`);
  }
  return lines.join('\n');
}
