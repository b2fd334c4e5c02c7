/**
 * A scenario's fault schedule and workload as time-ordered actions, for any testbed. Pure (no I/O);
 * the sim feeds the entries into its event queue, the `local` testbed into its scheduler.
 *
 * Scenario faults name nodes; the switch works on addresses. `faultTimeline` maps:
 *
 * | scenario fault                         | entries                                                        |
 * | -------------------------------------- | -------------------------------------------------------------- |
 * | `link {from, to, link}`                | switch `link` (node ids → addresses; `'*'` stays)              |
 * | `partition {groups, duration}`         | switch `partition` at `at`, switch `heal` at `at + duration`    |
 * | `crash` / `restart` of a host node     | host `crash` / `restart`                                       |
 * | `pause {duration}` of a host node      | host `pause` at `at`, host `resume` at `at + duration`          |
 * | crash / restart / pause of a program   | switch `crashProgram` / `restartProgram` / `pauseProgram` (+ `resumeProgram`) |
 * | `disconnect {duration}` of a host node | host `disconnect` at `at`, host `reconnect` at `at + duration`  |
 * | `clock {offsetUs}` of a host node      | host `clock` (with `offsetUs`)                                  |
 *
 * A program lives in the switch: it has no link of its own to cut and no clock of its own, so a
 * `disconnect` or `clock` fault of a program is skipped with a note.
 *
 * Order: by time; equal times keep schedule order, where a fault's second half (heal, resume)
 * counts at its fault's place in the schedule. A negative `at` counts as 0; a non-finite `at` or
 * a malformed fault or unknown kind is skipped (with a note when `notes` is given). A non-finite duration
 * (e.g. `Infinity`) means the partition / pause never ends; a duration ≤ 0 gives both halves at
 * `at`. Unknown node ids are passed through unchanged (as the "address" of a switch command, where
 * they match nothing, or as a host entry's node, which the testbed reports).
 */
import { match } from 'ts-pattern';
import type { Addr, Micros, NodeId } from '../impl/core.ts';
import type { Fault, Scenario, WorkloadStep } from '../harness/scenario/types.ts';
import type { SwitchCommand } from './switch/switch.ts';

export type HostAction = 'crash' | 'restart' | 'pause' | 'resume' | 'disconnect' | 'reconnect' | 'clock';

export type TimelineEntry =
  | { readonly at: Micros; readonly target: 'switch'; readonly command: SwitchCommand }
  | {
      readonly at: Micros; readonly target: 'host'; readonly node: NodeId; readonly action: HostAction;
      /** The new clock offset, for `clock`. */
      readonly offsetUs?: Micros;
    };

/** Where a node runs (a `PlannedNode` or `NodePlan` fits). */
export interface NodePlacement {
  readonly id: NodeId;
  readonly placement: 'host' | 'switch';
}

export function faultTimeline(
  scenario: Pick<Scenario, 'faults'>,
  addrs: Readonly<Record<NodeId, Addr>>,
  nodes: readonly NodePlacement[],
  notes?: string[],
): TimelineEntry[] {
  const onSwitch = new Set(nodes.filter((n) => n.placement === 'switch').map((n) => n.id));
  const addr = (n: NodeId): Addr => (Object.hasOwn(addrs, n) ? addrs[n]! : n);
  const addrOrAny = (n: NodeId | '*'): Addr | '*' => (n === '*' ? '*' : addr(n));
  const out: TimelineEntry[] = [];
  const push = (e: TimelineEntry): void => void out.push(e);
  const host = (at: Micros, node: NodeId, action: HostAction): void => push({ at, target: 'host', node, action });
  const sw = (at: Micros, command: SwitchCommand): void => push({ at, target: 'switch', command });

  for (const f of scenario.faults ?? []) {
    const raw = (f as { at?: unknown })?.at;
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      notes?.push(`faults: skipped a fault with no finite time: ${JSON.stringify(f)}`);
      continue;
    }
    const at = Math.max(0, raw);
    try {
      timelineOf(f as Fault, at);
    } catch (err) {
      notes?.push(`faults: skipped a malformed fault ${JSON.stringify(f)}: ${(err as Error)?.message ?? err}`);
    }
  }
  // Array.prototype.sort is stable: equal times keep push (schedule) order.
  return out.sort((a, b) => a.at - b.at);

  function timelineOf(f: Fault, at: Micros): void {
    const end = (d: unknown): Micros | undefined =>
      typeof d === 'number' && Number.isFinite(d) ? at + Math.max(0, d) : undefined;
    match(f)
      .with({ kind: 'crash' }, (f) =>
        onSwitch.has(f.node) ? sw(at, { kind: 'crashProgram', id: f.node }) : host(at, f.node, 'crash'))
      .with({ kind: 'restart' }, (f) =>
        onSwitch.has(f.node) ? sw(at, { kind: 'restartProgram', id: f.node }) : host(at, f.node, 'restart'))
      .with({ kind: 'pause' }, (f) => {
        const until = end(f.duration);
        if (onSwitch.has(f.node)) {
          sw(at, { kind: 'pauseProgram', id: f.node });
          if (until !== undefined) sw(until, { kind: 'resumeProgram', id: f.node });
        } else {
          host(at, f.node, 'pause');
          if (until !== undefined) host(until, f.node, 'resume');
        }
      })
      .with({ kind: 'partition' }, (f) => {
        const groups = [f.groups[0].map(addr), f.groups[1].map(addr)] as const;
        sw(at, { kind: 'partition', groups });
        const until = end(f.duration);
        if (until !== undefined) sw(until, { kind: 'heal', groups });
      })
      .with({ kind: 'link' }, (f) => sw(at, { kind: 'link', from: addrOrAny(f.from), to: addrOrAny(f.to), link: f.link }))
      .with({ kind: 'disconnect' }, (f) => {
        if (onSwitch.has(f.node)) throw new Error(`${f.node} is a switch program: it has no link to cut`);
        host(at, f.node, 'disconnect');
        const until = end(f.duration);
        if (until !== undefined) host(until, f.node, 'reconnect');
      })
      .with({ kind: 'clock' }, (f) => {
        if (onSwitch.has(f.node)) throw new Error(`${f.node} is a switch program: it has no clock of its own`);
        if (typeof f.offsetUs !== 'number' || !Number.isFinite(f.offsetUs)) throw new Error('offsetUs must be a finite number');
        push({ at, target: 'host', node: f.node, action: 'clock', offsetUs: f.offsetUs });
      })
      .exhaustive(); // an unknown kind throws, and the fault is skipped with a note
  }
}

/** The workload's steps in time order; equal times keep their order in the scenario. */
export function workloadTimeline<C>(scenario: Pick<Scenario<unknown, C>, 'workload'>): WorkloadStep<C>[] {
  return (scenario.workload ?? [])
    .filter((w) => typeof w?.at === 'number' && Number.isFinite(w.at))
    .sort((a, b) => a.at - b.at);
}
