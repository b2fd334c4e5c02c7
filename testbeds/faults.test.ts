import { describe, expect, it } from 'vitest';
import type { Fault } from '../harness/scenario/types.ts';
import { faultTimeline, workloadTimeline } from './faults.ts';

const addrs = { c1: '10.0.0.2:7', s1: '10.0.0.3:8', s2: '10.0.0.4:8', router: '10.0.1.1:9' };
const nodes = [
  { id: 'router', placement: 'switch' as const },
  { id: 's1', placement: 'host' as const },
  { id: 's2', placement: 'host' as const },
  { id: 'c1', placement: 'host' as const },
];
const L = { delay: 5, jitter: 1, loss: 0.1, duplicate: 0 };

describe('faultTimeline', () => {
  it('maps node faults to switch commands and host actions, in time order', () => {
    const faults: Fault[] = [
      { at: 300, kind: 'crash', node: 's1' },
      { at: 100, kind: 'partition', groups: [['c1'], ['s1', 's2']], duration: 150 },
      { at: 400, kind: 'restart', node: 's1' },
      { at: 50, kind: 'pause', node: 's2', duration: 500 },
      { at: 0, kind: 'link', from: 'c1', to: '*', link: L },
      { at: 200, kind: 'crash', node: 'router' },
      { at: 260, kind: 'restart', node: 'router' },
      { at: 600, kind: 'pause', node: 'router', duration: 10 },
    ];
    const groups = [[addrs.c1], [addrs.s1, addrs.s2]];
    expect(faultTimeline({ faults }, addrs, nodes)).toEqual([
      { at: 0, target: 'switch', command: { kind: 'link', from: addrs.c1, to: '*', link: L } },
      { at: 50, target: 'host', node: 's2', action: 'pause' },
      { at: 100, target: 'switch', command: { kind: 'partition', groups } },
      { at: 200, target: 'switch', command: { kind: 'crashProgram', id: 'router' } },
      { at: 250, target: 'switch', command: { kind: 'heal', groups } },
      { at: 260, target: 'switch', command: { kind: 'restartProgram', id: 'router' } },
      { at: 300, target: 'host', node: 's1', action: 'crash' },
      { at: 400, target: 'host', node: 's1', action: 'restart' },
      { at: 550, target: 'host', node: 's2', action: 'resume' },
      { at: 600, target: 'switch', command: { kind: 'pauseProgram', id: 'router' } },
      { at: 610, target: 'switch', command: { kind: 'resumeProgram', id: 'router' } },
    ]);
  });

  it('keeps schedule order at equal times (a second half counts at its fault)', () => {
    const faults: Fault[] = [
      { at: 0, kind: 'pause', node: 'c1', duration: 100 },
      { at: 100, kind: 'crash', node: 's1' },
      { at: 100, kind: 'crash', node: 's2' },
      { at: 50, kind: 'partition', groups: [['s1'], ['s2']], duration: 50 },
    ];
    const tl = faultTimeline({ faults }, addrs, nodes);
    expect(tl.map((e) => `${e.at}:${e.target === 'host' ? `${e.action} ${e.node}` : e.command.kind}`)).toEqual([
      '0:pause c1', '50:partition', '100:resume c1', '100:crash s1', '100:crash s2', '100:heal',
    ]);
  });

  it('handles odd durations and malformed faults without throwing', () => {
    const notes: string[] = [];
    const faults = [
      { at: -5, kind: 'crash', node: 'c1' },
      { at: 10, kind: 'partition', groups: [['c1'], ['s1']], duration: Infinity },
      { at: 20, kind: 'pause', node: 's1', duration: 0 },
      { at: NaN, kind: 'crash', node: 's1' },
      { at: 30, kind: 'meteor' },
      { at: 40, kind: 'partition', groups: null, duration: 5 },
      { at: 50, kind: 'crash', node: 'ghost' },
    ] as unknown as Fault[];
    const tl = faultTimeline({ faults }, addrs, nodes, notes);
    expect(tl.map((e) => `${e.at}:${e.target === 'host' ? `${e.action} ${e.node}` : e.command.kind}`)).toEqual([
      '0:crash c1', '10:partition', '20:pause s1', '20:resume s1', '50:crash ghost',
    ]);
    expect(notes.length).toBe(3);
  });
});

describe('faultTimeline: cut links and clock steps', () => {
  it('maps disconnect to disconnect + reconnect and clock to a clock action of the host', () => {
    const notes: string[] = [];
    const faults: Fault[] = [
      { at: 100, kind: 'disconnect', node: 's1', duration: 50 },
      { at: 120, kind: 'clock', node: 'c1', offsetUs: -3_000 },
      { at: 130, kind: 'disconnect', node: 'router', duration: 5 },
      { at: 140, kind: 'clock', node: 'router', offsetUs: 7 },
      { at: 150, kind: 'clock', node: 's2', offsetUs: NaN },
    ];
    expect(faultTimeline({ faults }, addrs, nodes, notes)).toEqual([
      { at: 100, target: 'host', node: 's1', action: 'disconnect' },
      { at: 120, target: 'host', node: 'c1', action: 'clock', offsetUs: -3_000 },
      { at: 150, target: 'host', node: 's1', action: 'reconnect' },
    ]);
    expect(notes).toEqual([
      expect.stringMatching(/router is a switch program: it has no link to cut/),
      expect.stringMatching(/router is a switch program: it has no clock of its own/),
      expect.stringMatching(/offsetUs must be a finite number/),
    ]);
  });
});

describe('workloadTimeline', () => {
  it('sorts by time, stable for equal times', () => {
    const workload = [
      { at: 20, node: 'c1', command: 'b' },
      { at: 10, node: 'c1', command: 'a' },
      { at: 20, node: 'c1', command: 'c' },
    ];
    expect(workloadTimeline({ workload }).map((w) => w.command)).toEqual(['a', 'b', 'c']);
  });
});
