/**
 * HovercRaft load figures (`ProtocolDefinition.loadFigures`): how often a run's bounded queues
 * reached B and how much of its ordering went through the aggregator, from the trace alone. A
 * campaign sums them over its runs; `runs-*` figures are 0 or 1 per run, so their sums count runs.
 * The definitions are in docs/hovercraft.md ("Load figures").
 */
import { ZERO_ADDR } from '../../../impl/r2p2/codec.ts';
import type { Trace } from '../../trace/schema.ts';
import type { HovercraftScenario } from './scenario.ts';

export const HOVERCRAFT_LOAD_FIGURES = [
  'runs-at-bound', 'announces-at-bound', 'waits-for-replier', 'middlebox-nacks',
  'runs-via-aggregator', 'ordered-via-aggregator', 'agg-commits', 'at-bound-via-aggregator',
] as const;
export type HovercraftLoadFigure = (typeof HOVERCRAFT_LOAD_FIGURES)[number];

export function hovercraftLoadFigures(trace: Trace, scenario: HovercraftScenario): Record<HovercraftLoadFigure, number> {
  const { bound, mode, replierPolicy } = scenario.topology;
  // The bound applies only to JBSQ repliers in the HovercRaft modes (raft and the `leader`
  // policy always pick the leader, whatever its queue).
  const bounded = mode !== 'raft' && replierPolicy === 'jbsq';
  let announcesAtBound = 0;
  let waits = 0;
  let nacks = 0;
  let aggCommits = 0;
  let atBoundViaAgg = 0;
  /** node|term|index → time of its LeaderAppend, until its Announce. */
  const appended = new Map<string, number>();
  /** node|term of leaders that use the aggregator. */
  const usingAgg = new Set<string>();
  /** term → indices of client entries a leader of that term sent through the aggregator. */
  const viaAgg = new Map<number, Set<number>>();
  /** term → highest AGG_COMMIT commit of that term. */
  const aggCommit = new Map<number, number>();
  for (const e of trace) {
    switch (e.action) {
      case 'LeaderAppend':
        appended.set(`${e.node}|${e.term}|${e.index}`, e.t);
        break;
      case 'Announce': {
        const key = `${e.node}|${e.term}|${e.index}`;
        const at = appended.get(key);
        appended.delete(key);
        if (!bounded) break;
        // Announced in a later step than its append: the leader had found no eligible replier.
        if (at !== undefined && at !== e.t) waits++;
        if ((e.queue as number) >= bound) {
          announcesAtBound++;
          if (usingAgg.has(`${e.node}|${e.term}`)) atBoundViaAgg++;
        }
        break;
      }
      case 'LeaderUseAggregator':
        usingAgg.add(`${e.node}|${e.term}`);
        break;
      case 'SendAppendEntries': {
        if (e.to !== 'aggregator') break;
        const entries = e.entries as readonly (readonly [number, string, number, string, boolean])[];
        let set = viaAgg.get(e.term as number);
        if (!set) viaAgg.set(e.term as number, (set = new Set()));
        entries.forEach((entry, k) => {
          if (entry[1] !== ZERO_ADDR) set!.add((e.prevIndex as number) + 1 + k);
        });
        break;
      }
      case 'AggCommit':
        aggCommits++;
        aggCommit.set(e.term as number, Math.max(aggCommit.get(e.term as number) ?? 0, e.commit as number));
        break;
      case 'MiddleboxNack':
        nacks++;
        break;
    }
  }
  // Appended and never announced (the leader stepped down, crashed, or the run ended first): it
  // was not announced in its own step either, so no replier was eligible then.
  if (bounded) waits += appended.size;
  let ordered = 0;
  for (const [term, indices] of viaAgg) {
    const commit = aggCommit.get(term) ?? 0;
    for (const i of indices) if (i <= commit) ordered++;
  }
  return {
    'runs-at-bound': announcesAtBound > 0 || waits > 0 ? 1 : 0,
    'announces-at-bound': announcesAtBound,
    'waits-for-replier': waits,
    'middlebox-nacks': nacks,
    'runs-via-aggregator': ordered > 0 ? 1 : 0,
    'ordered-via-aggregator': ordered,
    'agg-commits': aggCommits,
    'at-bound-via-aggregator': atBoundViaAgg,
  };
}
