import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { Addr, Core, CoreInput, CoreOutput } from './core.ts';
import type { TraceEvent } from '../harness/trace/schema.ts';
import { UdpDriver } from './udp-driver.ts';
import { encodeEnvelope } from './envelope.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Echo core: replies `pong:<x>` to `ping:<x>`; throws on `boom`; a `tick` timer re-armed by command. */
class Toy implements Core<{ ping?: Addr; arm?: number; cancel?: boolean }, string> {
  constructor(readonly node: string, readonly addr: Addr) {}
  handle(input: CoreInput<{ ping?: Addr; arm?: number; cancel?: boolean }>, now: number): CoreOutput<string>[] {
    switch (input.kind) {
      case 'start':
        return [{ kind: 'trace', event: { action: 'Start', now } }];
      case 'command': {
        const c = input.command;
        if (c.ping) return [
          { kind: 'trace', event: { action: 'Ping', to: c.ping } },
          { kind: 'send', packet: { src: this.addr, dst: c.ping, data: enc.encode(`ping:${now}`) } },
        ];
        if (c.arm !== undefined) return [{ kind: 'setTimer', name: 'tick', at: now + c.arm }];
        if (c.cancel) return [{ kind: 'cancelTimer', name: 'tick' }];
        return [];
      }
      case 'timer':
        return [{ kind: 'trace', event: { action: 'Tick', now } }];
      case 'receive': {
        const text = dec.decode(input.packet.data);
        if (text === 'boom') throw new Error('boom');
        if (text.startsWith('ping:')) return [
          { kind: 'trace', event: { action: 'Pong', to: input.packet.src } },
          { kind: 'send', packet: { src: this.addr, dst: input.packet.src, data: enc.encode('pong') } },
        ];
        return [{ kind: 'trace', event: { action: 'Got', from: input.packet.src, text } }, { kind: 'notify', value: text }];
      }
    }
  }
}

function port(): number {
  return 20000 + Math.floor(Math.random() * 10000);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('UdpDriver', () => {
  it('runs two cores talking directly over loopback, with timers and robust input handling', async () => {
    const p = port();
    const a = `127.0.0.21:${p}`;
    const b = `127.0.0.22:${p}`;
    const events: TraceEvent[] = [];
    const notes: string[] = [];
    const notified: string[] = [];
    const mk = (node: string, addr: Addr, offset = 0) =>
      new UdpDriver({
        core: new Toy(node, addr), mode: { kind: 'direct' }, sink: (e) => events.push(e),
        onNote: (m) => notes.push(m), onNotify: (v) => notified.push(v), clockOffsetUs: offset, onCoreError: 'skip',
      });
    const da = mk('a', a);
    const db = mk('b', b, 5_000_000);
    await Promise.all([da.bind(), db.bind()]);
    const origin = process.hrtime.bigint() + 20_000_000n;
    da.command({ ping: b }); // queued until start
    await Promise.all([da.start(origin), db.start(origin)]);
    for (let i = 0; i < 50 && !notified.includes('pong'); i++) await sleep(10);
    expect(notified).toEqual(['pong']);

    // timers: a re-arm replaces, a cancel cancels
    da.command({ arm: 200_000 });
    da.command({ arm: 30_000 });
    db.command({ arm: 20_000 });
    db.command({ cancel: true });
    await sleep(120);
    const ticks = events.filter((e) => e.action === 'Tick');
    expect(ticks.map((e) => e.node)).toEqual(['a']);
    // never early
    expect(ticks[0]!.now as number).toBeGreaterThanOrEqual(events.find((e) => e.action === 'Start' && e.node === 'a')!.t + 30_000);

    // malformed input and a throwing core are reported and survived
    const raw = dgram.createSocket('udp4');
    await new Promise<void>((r) => raw.send(Buffer.from('boom'), p, '127.0.0.22', () => r()));
    const tun = new UdpDriver({
      core: new Toy('c', `127.0.0.23:${p}`), mode: { kind: 'tunnel', switchAddr: `127.0.0.24:${p}` },
      sink: (e) => events.push(e), onNote: (m) => notes.push(m),
    });
    await tun.start(process.hrtime.bigint());
    await new Promise<void>((r) => raw.send(Buffer.from('junk'), p, '127.0.0.23', () => r()));
    const env = encodeEnvelope({ src: `127.0.0.99:${p}`, dst: `127.0.0.23:${p}`, data: enc.encode('hello') });
    await new Promise<void>((r) => raw.send(env, p, '127.0.0.23', () => r()));
    await sleep(30);
    // default onCoreError 'crash': the core is dropped, as in sim
    const boom = encodeEnvelope({ src: `127.0.0.99:${p}`, dst: `127.0.0.23:${p}`, data: enc.encode('boom') });
    await new Promise<void>((r) => raw.send(boom, p, '127.0.0.23', () => r()));
    await new Promise<void>((r) => raw.send(env, p, '127.0.0.23', () => r()));
    await sleep(50);
    raw.close();
    expect(notes.some((n) => /^b: core threw on receive input \(input skipped\): Error: boom/.test(n))).toBe(true);
    expect(notes.some((n) => /^c: malformed datagram .* dropped/.test(n))).toBe(true);
    expect(events.filter((e) => e.node === 'c').map((e) => e.action)).toEqual(['Start', 'Got', 'HostCrash']);
    expect(events.find((e) => e.action === 'Got' && e.node === 'c')).toMatchObject({ from: `127.0.0.99:${p}`, text: 'hello' });
    expect(events.find((e) => e.action === 'HostCrash')).toMatchObject({ node: 'c', reason: 'exception' });
    expect(tun.stats).toMatchObject({ received: 4, malformed: 1, coreErrors: 1, ignoredAfterCrash: 1 });
    expect(tun.isCrashed).toBe(true);

    // the driver still works after the exception
    db.command({ ping: a });
    await sleep(50);
    expect(events.filter((e) => e.action === 'Pong').map((e) => e.node)).toEqual(['b', 'a']);

    // stamps: canonical key order, t from the shared origin; the core's now carries the offset
    const ping = events.find((e) => e.action === 'Ping')!;
    const pong = events.find((e) => e.action === 'Pong')!;
    expect(Object.keys(ping).slice(0, 3)).toEqual(['t', 'node', 'action']);
    expect(pong.t).toBeGreaterThan(ping.t);
    const startB = events.find((e) => e.action === 'Start' && e.node === 'b')!;
    expect((startB.now as number) - startB.t).toBeGreaterThan(4_990_000);
    expect(startB.t).toBeGreaterThanOrEqual(0);
    await Promise.all([da.stop(), db.stop(), tun.stop()]);
  });
});
