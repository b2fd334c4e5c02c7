import { describe, expect, it } from 'vitest';
import type { Core, CoreInput, CoreOutput, Micros, Packet } from '../../impl/core.ts';
import { Rng } from '../../impl/rng.ts';
import type { LinkConfig } from '../../harness/scenario/types.ts';
import type { TraceBody } from '../../harness/trace/schema.ts';
import { LinkTable, PartitionTable, sanitizeLink } from './links.ts';
import { Switch, type SwitchCommand, type SwitchProgram } from './switch.ts';

const A = '10.0.0.2:1';
const B = '10.0.0.3:1';
const C = '10.0.0.4:1';
const R = '10.0.1.1:9';
const nodeOf = { [A]: 'a', [B]: 'b', [C]: 'c' };
const link = (l: Partial<LinkConfig> = {}): LinkConfig => ({ delay: 10, jitter: 0, loss: 0, duplicate: 0, ...l });
const pkt = (src: string, dst: string, n = 0): Packet => ({ src, dst, data: new Uint8Array([n & 255, n >> 8]) });
const num = (p: Packet): number => p.data[0]! | (p.data[1]! << 8);

/**
 * A minimal driver: feeds inputs, keeps the switch's timers, fires them in (time, arm order)
 * order, and records what the switch emits.
 */
class Driver {
  now = 0;
  timers = new Map<string, { at: Micros; seq: number }>();
  sent: { t: Micros; p: Packet }[] = [];
  traces: { t: Micros; e: TraceBody }[] = [];
  private seq = 0;
  constructor(readonly sw: Switch) {}

  in(input: CoreInput<SwitchCommand>): CoreOutput[] {
    const outs = this.sw.handle(input, this.now);
    for (const o of outs) {
      if (o.kind === 'send') this.sent.push({ t: this.now, p: o.packet });
      else if (o.kind === 'setTimer') this.timers.set(o.name, { at: o.at, seq: this.seq++ });
      else if (o.kind === 'cancelTimer') this.timers.delete(o.name);
      else if (o.kind === 'trace') this.traces.push({ t: this.now, e: o.event });
    }
    return outs;
  }
  recv(p: Packet): CoreOutput[] {
    return this.in({ kind: 'receive', packet: p });
  }
  cmd(c: SwitchCommand): CoreOutput[] {
    return this.in({ kind: 'command', command: c });
  }
  /** Fires timers up to `until`, in (time, arm order) order. */
  runUntil(until: Micros): void {
    for (;;) {
      const due = [...this.timers].filter(([, v]) => v.at <= until).sort((x, y) => x[1].at - y[1].at || x[1].seq - y[1].seq);
      if (!due.length) break;
      // Fire every timer due at the earliest time, in arm order (a firing arms at >= now, with a later seq).
      const at = due[0]![1].at;
      for (const [n, w] of due) {
        if (w.at !== at) break;
        if (this.timers.get(n) !== w) continue; // cancelled or re-armed by an earlier firing
        this.timers.delete(n);
        this.now = Math.max(this.now, at);
        this.in({ kind: 'timer', name: n });
      }
    }
    this.now = Math.max(this.now, until);
  }
  actions(): string[] {
    return this.traces.map((x) => x.e.action);
  }
}

const mk = (l: Partial<LinkConfig> = {}, programs: SwitchProgram[] = [], seed = 1): Driver =>
  new Driver(new Switch({ node: 'switch', addr: '10.0.0.1:1', rng: new Rng(seed), link: link(l), programs, nodeOf }));

/** A toy switch program: forwards packets to B keeping src, counts them, beats on a timer. */
class Forwarder implements Core {
  readonly node = 'fwd';
  readonly addr = R;
  count = 0;
  constructor(readonly beat = 0) {}
  handle(input: CoreInput, now: Micros): CoreOutput[] {
    switch (input.kind) {
      case 'start':
        return [{ kind: 'trace', event: { action: 'FwdStart' } },
          ...(this.beat ? [{ kind: 'setTimer' as const, name: 'beat', at: now + this.beat }] : [])];
      case 'receive':
        this.count++;
        return [
          { kind: 'trace', event: { action: 'Forward', n: this.count, node: 'liar' } },
          { kind: 'send', packet: { ...input.packet, dst: B } },
        ];
      case 'timer':
        return [{ kind: 'trace', event: { action: 'Beat', n: this.count } }, { kind: 'setTimer', name: 'beat', at: now + this.beat }];
      default:
        return [];
    }
  }
}

describe('LinkTable / PartitionTable', () => {
  it('most specific rule wins: exact pair > from-only > to-only > default', () => {
    const t = new LinkTable(link({ delay: 1 }));
    t.set('*', B, link({ delay: 3 }));
    expect(t.get(A, B).delay).toBe(3);
    t.set(A, '*', link({ delay: 2 }));
    expect(t.get(A, B).delay).toBe(2);
    expect(t.get(C, B).delay).toBe(3);
    t.set(A, B, link({ delay: 4 }));
    expect(t.get(A, B).delay).toBe(4);
    expect(t.get(A, C).delay).toBe(2);
    expect(t.get(C, A).delay).toBe(1);
    t.set('*', '*', link({ delay: 5 }));
    expect(t.get(C, A).delay).toBe(5);
  });

  it('sanitizes malformed link configs', () => {
    expect(sanitizeLink({ delay: -3, jitter: NaN, loss: 7, duplicate: -1 })).toEqual({ delay: 0, jitter: 0, loss: 1, duplicate: 0 });
    expect(sanitizeLink(null)).toEqual({ delay: 0, jitter: 0, loss: 0, duplicate: 0 });
  });

  it('partitions are symmetric and reference-counted', () => {
    const p = new PartitionTable();
    p.partition([[A], [B, C]]);
    p.partition([[A], [B]]);
    expect([p.isCut(A, B), p.isCut(B, A), p.isCut(C, A), p.isCut(B, C)]).toEqual([true, true, true, false]);
    p.heal([[A], [B, C]]);
    expect([p.isCut(A, B), p.isCut(A, C)]).toEqual([true, false]);
    p.heal([[A], [B]]);
    p.heal([[A], [B]]); // a heal too many is harmless
    expect(p.empty).toBe(true);
  });
});

describe('Switch fault stage', () => {
  it('delays a packet through a d:<seq> timer, then sends it', () => {
    const d = mk({ delay: 25 });
    const outs = d.recv(pkt(A, B, 1));
    expect(outs).toEqual([{ kind: 'setTimer', name: 'd:0', at: 25 }]);
    expect(d.sw.inFlight).toBe(1);
    d.runUntil(24);
    expect(d.sent).toEqual([]);
    d.runUntil(100);
    expect(d.sent.map((s) => [s.t, s.p.src, s.p.dst, num(s.p)])).toEqual([[25, A, B, 1]]);
    expect(d.sw.inFlight).toBe(0);
  });

  it('delivers in the same handle call when the total delay is 0', () => {
    const d = mk({ delay: 0 });
    expect(d.recv(pkt(A, B, 7))).toEqual([{ kind: 'send', packet: pkt(A, B, 7) }]);
  });

  it('drops packets to unknown destinations (no-route)', () => {
    const d = mk();
    d.recv(pkt(A, '10.9.9.9:9'));
    expect(d.traces[0]!.e).toEqual({ action: 'NetDrop', src: A, dst: '10.9.9.9:9', from: 'a', to: '10.9.9.9:9', reason: 'no-route' });
  });

  it('loss and duplication happen at about their probabilities (fixed seed)', () => {
    const d = mk({ loss: 0.3, duplicate: 0.2 });
    const N = 20_000;
    for (let i = 0; i < N; i++) d.recv(pkt(A, B, i));
    d.runUntil(1000);
    const drops = d.traces.filter((x) => x.e.action === 'NetDrop' && x.e.reason === 'loss').length;
    const dups = d.traces.filter((x) => x.e.action === 'NetDuplicate').length;
    expect(drops / N).toBeGreaterThan(0.28);
    expect(drops / N).toBeLessThan(0.32);
    expect(dups / (N - drops)).toBeGreaterThan(0.18);
    expect(dups / (N - drops)).toBeLessThan(0.22);
    expect(d.sent.length).toBe(N - drops + dups);
    expect(d.sw.stats).toMatchObject({ received: N, dropped: drops, duplicated: dups, forwarded: N - drops + dups });
  });

  it('jitter reorders packets on one link; no jitter keeps FIFO order', () => {
    const order = (jitter: number): number[] => {
      const d = mk({ delay: 100, jitter });
      for (let i = 0; i < 200; i++) {
        d.now = i * 5;
        d.recv(pkt(A, B, i));
      }
      d.runUntil(10_000);
      return d.sent.map((s) => num(s.p));
    };
    const fifo = order(0);
    expect(fifo).toEqual([...fifo].sort((x, y) => x - y));
    const jittered = order(50);
    expect(jittered.length).toBe(200);
    let inversions = 0;
    for (let i = 1; i < jittered.length; i++) if (jittered[i]! < jittered[i - 1]!) inversions++;
    expect(inversions).toBeGreaterThan(20);
  });

  it('link commands change delay per most specific rule', () => {
    const d = mk({ delay: 10 });
    d.cmd({ kind: 'link', from: A, to: '*', link: link({ delay: 50 }) });
    d.cmd({ kind: 'link', from: A, to: C, link: link({ delay: 70 }) });
    d.recv(pkt(A, B, 1));
    d.recv(pkt(A, C, 2));
    d.recv(pkt(B, C, 3));
    d.runUntil(1000);
    expect(d.sent.map((s) => [s.t, num(s.p)])).toEqual([[10, 3], [50, 1], [70, 2]]);
    expect(d.traces[0]!.e).toEqual({ action: 'NetLink', from: A, to: '*', delay: 50, jitter: 0, loss: 0, duplicate: 0 });
  });

  it('a partition drops both directions; heal restores', () => {
    const d = mk({ delay: 0 });
    d.cmd({ kind: 'partition', groups: [[A], [B]] });
    d.recv(pkt(A, B));
    d.recv(pkt(B, A));
    d.recv(pkt(A, C));
    expect(d.traces.filter((x) => x.e.reason === 'partition').map((x) => [x.e.from, x.e.to])).toEqual([['a', 'b'], ['b', 'a']]);
    expect(d.sent.map((s) => s.p.dst)).toEqual([C]);
    d.cmd({ kind: 'heal', groups: [[A], [B]] });
    d.recv(pkt(A, B));
    d.recv(pkt(B, A));
    expect(d.sent.map((s) => s.p.dst)).toEqual([C, B, A]);
    expect(d.actions()).toEqual(['NetPartition', 'NetDrop', 'NetDrop', 'NetHeal']);
  });

  it('is deterministic per seed and differs across seeds', () => {
    const run = (seed: number): string => {
      const d = mk({ loss: 0.2, duplicate: 0.1, jitter: 30 }, [], seed);
      for (let i = 0; i < 300; i++) d.recv(pkt(A, B, i));
      d.runUntil(1000);
      return JSON.stringify([d.sent.map((s) => [s.t, num(s.p)]), d.traces]);
    };
    expect(run(5)).toBe(run(5));
    expect(run(5)).not.toBe(run(6));
  });
});

describe('Switch programs', () => {
  const withFwd = (beat = 0, l: Partial<LinkConfig> = {}): { d: Driver; fwd: () => Forwarder; made: Forwarder[] } => {
    const made: Forwarder[] = [new Forwarder(beat)];
    const prog: SwitchProgram = {
      id: 'fwd', addr: R, core: made[0]!, restart: () => { const f = new Forwarder(beat); made.push(f); return f; },
    };
    // Zero-delay links unless a test asks otherwise, so a packet reaches the program at once.
    const d = mk({ delay: 0, ...l }, [prog]);
    return { d, fwd: () => made[made.length - 1]!, made };
  };

  it('start starts programs; a packet to a program crosses its link, and the program\'s sends keep src', () => {
    const { d } = withFwd(0, { delay: 5 });
    d.in({ kind: 'start' });
    // The host's packet to the program crosses the host's link (delay 5) first.
    expect(d.recv(pkt(A, R, 9))).toEqual([{ kind: 'setTimer', name: 'd:0', at: 5 }]);
    d.runUntil(5);
    // The program's trace gets node = program id (even if it set another); the forward is delayed.
    expect(d.traces.map((x) => [x.t, x.e])).toContainEqual([5, { action: 'Forward', n: 1, node: 'fwd' }]);
    d.runUntil(20);
    expect(d.sent.map((s) => [s.t, s.p.src, s.p.dst, num(s.p)])).toEqual([[10, A, B, 9]]);
    expect(d.actions()).toEqual(['FwdStart', 'Forward']);
    expect(d.traces[0]!.e.node).toBe('fwd');
  });

  it('a partition with a program in one group cuts packets to and from it', () => {
    const { d } = withFwd(0, { delay: 0 });
    d.in({ kind: 'start' });
    d.cmd({ kind: 'partition', groups: [[A], [R]] });
    d.recv(pkt(A, R, 1)); // cut at ingress
    d.recv(pkt(C, R, 2)); // forwarded to B, keeping C's address
    expect(d.traces.filter((x) => x.e.action === 'NetDrop').map((x) => [x.e.from, x.e.to, x.e.reason])).toEqual([['a', 'fwd', 'partition']]);
    expect(d.sent.map((s) => [s.p.src, s.p.dst, num(s.p)])).toEqual([[C, B, 2]]);
  });

  it('program timers are namespaced and fire', () => {
    const { d } = withFwd(100);
    const outs = d.in({ kind: 'start' });
    expect(outs).toContainEqual({ kind: 'setTimer', name: 'p:fwd:beat', at: 100 });
    d.recv(pkt(A, R));
    d.runUntil(350);
    expect(d.traces.filter((x) => x.e.action === 'Beat').map((x) => [x.t, x.e.n, x.e.node])).toEqual([
      [100, 1, 'fwd'], [200, 1, 'fwd'], [300, 1, 'fwd'],
    ]);
  });

  it('crashProgram drops its packets and timers; restartProgram starts a fresh core', () => {
    const { d, fwd, made } = withFwd(100);
    d.in({ kind: 'start' });
    d.recv(pkt(A, R));
    d.recv(pkt(A, R));
    d.now = 50;
    const outs = d.cmd({ kind: 'crashProgram', id: 'fwd' });
    expect(outs).toContainEqual({ kind: 'cancelTimer', name: 'p:fwd:beat' });
    expect(d.sw.programUp('fwd')).toBe(false);
    d.recv(pkt(A, R));
    expect(d.traces.at(-1)!.e).toMatchObject({ action: 'NetDrop', reason: 'host-down', to: 'fwd' });
    d.runUntil(500);
    expect(d.actions().filter((a) => a === 'Beat')).toEqual([]);
    d.cmd({ kind: 'restartProgram', id: 'fwd' });
    expect(made.length).toBe(2);
    d.recv(pkt(A, R));
    expect(fwd().count).toBe(1);
    expect(d.actions().slice(-3)).toEqual(['HostRestart', 'FwdStart', 'Forward']);
    d.runUntil(650);
    expect(d.traces.filter((x) => x.e.action === 'Beat').map((x) => x.t)).toEqual([600]);
    // A restart of a running program is ignored (noted).
    d.cmd({ kind: 'restartProgram', id: 'fwd' });
    expect(made.length).toBe(2);
    expect(d.sw.notes.some((n) => n.includes('not crashed'))).toBe(true);
  });

  it('pauseProgram queues packets and timer firings; resumeProgram hands them over in order', () => {
    const { d, fwd } = withFwd(100, { delay: 0 });
    d.in({ kind: 'start' });
    d.cmd({ kind: 'pauseProgram', id: 'fwd' });
    d.recv(pkt(A, R, 1));
    d.recv(pkt(C, R, 2));
    d.runUntil(150); // the beat fires while paused: queued
    expect(fwd().count).toBe(0);
    expect(d.sent).toEqual([]);
    d.cmd({ kind: 'resumeProgram', id: 'fwd' });
    expect(d.sent.map((s) => [s.t, s.p.src, num(s.p)])).toEqual([[150, A, 1], [150, C, 2]]);
    expect(d.actions()).toEqual(['FwdStart', 'HostPause', 'HostResume', 'Forward', 'Forward', 'Beat']);
  });

  it('a program looping packets to itself is cut by the hop limit', () => {
    const loop: Core = {
      node: 'loop', addr: R,
      handle: (i) => (i.kind === 'receive' ? [{ kind: 'send', packet: i.packet }] : []),
    };
    const d = mk({ delay: 0 }, [{ id: 'loop', addr: R, core: loop }]);
    d.recv(pkt(A, R));
    expect(d.traces.map((x) => x.e.reason)).toEqual(['ttl']);
  });

  it('a program that throws is crashed, not propagated', () => {
    const bad: Core = { node: 'bad', addr: R, handle: () => { throw new Error('boom'); } };
    const d = mk({ delay: 0 }, [{ id: 'bad', addr: R, core: bad }]);
    expect(() => d.recv(pkt(A, R))).not.toThrow();
    expect(d.traces[0]!.e).toEqual({ action: 'HostCrash', node: 'bad', reason: 'exception' });
    expect(d.sw.notes[0]).toMatch(/boom/);
  });
});

describe('Switch robustness', () => {
  it('never throws on malformed input', () => {
    const d = mk();
    const bad: unknown[] = [
      null, undefined, 42, {}, { kind: 'nope' },
      { kind: 'receive' }, { kind: 'receive', packet: { src: A, dst: B, data: 'x' } },
      { kind: 'timer' }, { kind: 'timer', name: 'd:99' }, { kind: 'timer', name: 'p:ghost:x' }, { kind: 'timer', name: 'zzz' },
      { kind: 'command' }, { kind: 'command', command: { kind: 'warp' } },
      { kind: 'command', command: { kind: 'partition', groups: 'all' } },
      { kind: 'command', command: { kind: 'heal' } },
      { kind: 'command', command: { kind: 'link', from: 1, to: B } },
      { kind: 'command', command: { kind: 'link', from: A, to: B, link: null } },
      { kind: 'command', command: { kind: 'crashProgram', id: 'ghost' } },
      { kind: 'command', command: { kind: 'restartProgram' } },
    ];
    for (const b of bad) expect(() => d.sw.handle(b as CoreInput<SwitchCommand>, 0)).not.toThrow();
    expect(d.sw.notes.length).toBeGreaterThan(10);
    // Still works afterwards.
    d.recv(pkt(A, B, 3));
    d.runUntil(100);
    expect(d.sent.map((s) => num(s.p))).toEqual([3]);
  });
});
