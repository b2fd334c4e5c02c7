import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import type { TraceEvent } from '../trace/schema.ts';
import { createOnlineMonitor, machineEventTypes, toMachineEvent, type RouteResult } from './monitor.ts';

/** A toy lock: Acquire → held → Release → free (final); Poke is only allowed while held. */
const lockMachine = setup({
  types: {} as {
    context: { owner: string | null; pokes: number };
    events: { type: 'Acquire'; who: string } | { type: 'Release'; who: string } | { type: 'Poke' };
  },
}).createMachine({
  id: 'lock',
  context: { owner: null, pokes: 0 },
  initial: 'free',
  states: {
    free: { on: { Acquire: { target: 'held', actions: assign(({ event }) => ({ owner: event.who })) } } },
    held: {
      on: {
        Release: { guard: ({ context, event }) => context.owner === event.who, target: 'released' },
        Poke: { actions: assign(({ context }) => ({ pokes: context.pokes + 1 })) },
      },
    },
    released: { type: 'final' },
  },
});

const ev = (t: number, node: string, action: string, fields: Record<string, string> = {}): TraceEvent =>
  ({ t, node, action, ...fields });

function lockMonitor(renewWhenDone = false) {
  const route = (e: TraceEvent): RouteResult =>
    e.node === 'ghost' ? { reject: `node ghost is not in the run` } : { key: `lock:${e.node}`, machine: lockMachine, renewWhenDone };
  return createOnlineMonitor({ name: 'toy', machines: [lockMachine], route });
}

describe('generic online monitor', () => {
  it('collects the event types a machine takes', () => {
    expect([...machineEventTypes(lockMachine)].sort()).toEqual(['Acquire', 'Poke', 'Release']);
  });

  it('turns a trace event into an XState event', () => {
    expect(toMachineEvent(ev(5, 'a', 'Acquire', { who: 'x' }))).toEqual({ type: 'Acquire', t: 5, node: 'a', who: 'x' });
  });

  it('spawns one actor per key lazily and accepts a valid trace', () => {
    const m = lockMonitor();
    const trace = [ev(1, 'a', 'Acquire', { who: 'x' }), ev(2, 'b', 'Acquire', { who: 'y' }), ev(3, 'a', 'Poke'),
      ev(4, 'a', 'Release', { who: 'x' })];
    expect(trace.map((e, i) => m.observe(i, e))).toEqual([undefined, undefined, undefined, undefined]);
    expect([...m.actors().keys()]).toEqual(['lock:a', 'lock:b']);
    expect(m.actors().get('lock:a')!.getSnapshot().status).toBe('done');
    expect(m.finish()).toEqual([]);
  });

  it('reports an event the machine cannot take, naming machine, state and event, and does not apply it', () => {
    const m = lockMonitor();
    m.observe(0, ev(1, 'a', 'Acquire', { who: 'x' }));
    const v = m.observe(1, ev(2, 'a', 'Release', { who: 'y' }));
    expect(v).toMatchObject({ check: 'monitor', events: [1] });
    expect(v!.message).toContain('lock');
    expect(v!.message).toContain('held');
    expect(v!.message).toContain('Release {"who":"y"}');
    // The actor is still held by x.
    expect(m.observe(2, ev(3, 'a', 'Release', { who: 'x' }))).toBeUndefined();
  });

  it('rejects events after a final state', () => {
    const m = lockMonitor();
    m.observe(0, ev(1, 'a', 'Acquire', { who: 'x' }));
    m.observe(1, ev(2, 'a', 'Release', { who: 'x' }));
    const v = m.observe(2, ev(3, 'a', 'Poke'));
    expect(v?.message).toMatch(/released \[done\]/);
  });

  it('renews a finished actor when a fresh one can take the event', () => {
    const m = lockMonitor(true);
    m.observe(0, ev(1, 'a', 'Acquire', { who: 'x' }));
    m.observe(1, ev(2, 'a', 'Release', { who: 'x' }));
    expect(m.observe(2, ev(3, 'a', 'Acquire', { who: 'z' }))).toBeUndefined();
    expect(m.observe(3, ev(4, 'a', 'Poke'))).toBeUndefined();
  });

  it('ignores Net annotations, reports unknown actions and unroutable events', () => {
    const m = lockMonitor();
    expect(m.observe(0, ev(1, 'switch', 'NetDrop', { src: 'x' }))).toBeUndefined();
    expect(m.actors().size).toBe(0);
    expect(m.observe(1, ev(2, 'a', 'Explode'))?.message).toMatch(/no machine knows action Explode/);
    expect(m.observe(2, ev(3, 'ghost', 'Poke'))?.message).toMatch(/ghost is not in the run/);
  });

  it('forgets actors on request', () => {
    const m = lockMonitor();
    m.observe(0, ev(1, 'a', 'Acquire', { who: 'x' }));
    expect(m.forget((k) => k === 'lock:a')).toBe(1);
    expect(m.observe(1, ev(2, 'a', 'Acquire', { who: 'y' }))).toBeUndefined();
  });
});
