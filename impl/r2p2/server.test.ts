import { describe, expect, it } from 'vitest';
import { digest } from '../digest.ts';
import { Rng } from '../rng.ts';
import type { CoreInput } from '../core.ts';
import {
  ZERO_ADDR, ackPacket, dropPacket, epochNewer, feedbackPacket, reassemble, sackPacket, split, type FeedbackMsg,
  type SackMsg,
} from './codec.ts';
import {
  BUG_REASSEMBLY_LOSES_REORDERED, BUG_SERVER_REPLIES_TWICE, BUG_SERVER_SERVES_BEFORE_ANNOUNCE, BUG_SERVER_SERVES_DUPLICATE,
  replyBody, requestBody,
} from './common.ts';
import { R2p2Server, parseServerConfig, type ServerConfig } from './server.ts';
import {
  CLIENT, CLIENT2, ROUTER, SERVER, actions, hex, msg, recv, sends, start, timer, timers, traces,
} from './test-helpers.ts';

const cfg: ServerConfig = { router: ROUTER, n: 3, heartbeatUs: 500, rtoUs: 100, gcRtos: 3 };
const mk = (bugs: string[] = [], c: Partial<ServerConfig> = {}): R2p2Server =>
  new R2p2Server('server1', SERVER, { ...cfg, ...c }, new Set(bugs));
const rx = (src: string, data: Uint8Array): CoreInput<never> => recv(src, SERVER, data);
const req = (rid: number, size: number, serviceUs = 10, replySize = 20, node = 'client1') =>
  requestBody(node, rid, size, serviceUs, replySize);

describe('r2p2-server', () => {
  it('announces itself on start and every heartbeat (count-form FEEDBACK, zero triplet)', () => {
    const s = mk();
    const out = s.handle(start, 0);
    expect(traces(out)).toEqual([{ action: 'ServerAnnounce', router: ROUTER, n: 3, served: 0 }]);
    const [fb] = sends(out);
    expect(fb).toMatchObject({ src: SERVER, dst: ROUTER });
    // Started at t = 0: epoch 0.
    expect((msg(fb!.data) as FeedbackMsg).count).toEqual({ n: 3, served: 0, epoch: 0 });
    expect(msg(fb!.data)).toMatchObject({ type: 'FEEDBACK', client: ZERO_ADDR, fbRid: 0 });
    expect(fb!.data).toHaveLength(30);
    expect(timers(out)).toEqual([{ name: 'heartbeat', at: 500 }]);
    const hb = s.handle(timer('heartbeat'), 500);
    expect(actions(hb)).toEqual(['ServerAnnounce']);
    expect((msg(sends(hb)[0]!.data) as FeedbackMsg).count).toEqual({ n: 3, served: 0, epoch: 0 });
    expect(timers(hb)).toEqual([{ name: 'heartbeat', at: 1000 }]);
  });

  it('every count-form FEEDBACK (announce, heartbeat, reply) carries the epoch of the start time', () => {
    const s = mk();
    const t0 = 1_234_567;
    const epochOf = (out: ReturnType<R2p2Server['handle']>): number | undefined =>
      (msg(sends(out).find((p) => p.dst === ROUTER)!.data) as FeedbackMsg).count?.epoch;
    const ann = s.handle(start, t0);
    expect((msg(sends(ann)[0]!.data) as FeedbackMsg).count).toEqual({ n: 3, served: 0, epoch: t0 });
    s.handle(rx(CLIENT, split('REQUEST', 'LB_ROUTE', 1, req(1, 16, 10))[0]!), t0 + 5);
    const done = s.handle(timer('service'), t0 + 15);
    expect(traces(done)[0]).toMatchObject({ action: 'ServerReply', rid: 1, served: 1 });
    const fb = msg(sends(done).find((p) => p.dst === ROUTER)!.data) as FeedbackMsg;
    expect(fb).toMatchObject({ fbRid: 1, client: CLIENT, count: { n: 3, served: 1, epoch: t0 } });
    // The epoch stays that of the start, not the time of the message.
    expect(epochOf(s.handle(timer('heartbeat'), t0 + 500))).toBe(t0);
    expect(epochOf(s.handle(timer('heartbeat'), t0 + 99_000))).toBe(t0);
  });

  it('the epoch is the start time in µs, floored, never negative, not reduced modulo anything', () => {
    const epochAt = (now: number): number | undefined =>
      (msg(sends(mk().handle(start, now))[0]!.data) as FeedbackMsg).count?.epoch;
    expect(epochAt(0)).toBe(0);
    expect(epochAt(1234.9)).toBe(1234);
    expect(epochAt(-5)).toBe(0);
    expect(epochAt(-0.5)).toBe(0);
    expect(epochAt(0xffffffff)).toBe(0xffffffff);
    expect(epochAt(2 ** 32)).toBe(2 ** 32);
    expect(epochAt(2 ** 32 + 77)).toBe(2 ** 32 + 77);
    expect(epochAt(5 * 2 ** 32 + 0x12345678)).toBe(5 * 2 ** 32 + 0x12345678);
    // A wall-clock start time in µs (2023-11-14T22:13:20Z), exactly, through the u64 on the wire.
    expect(epochAt(1_700_000_000_000_000)).toBe(1_700_000_000_000_000);
    expect(epochAt(1_700_000_000_000_000.7)).toBe(1_700_000_000_000_000);
  });

  it('with a rejoin delay the announce carries the epoch of the start, not of the announce', () => {
    const s = mk([], { rejoinDelayUs: 1500 });
    expect(s.handle(start, 100)).toEqual([{ kind: 'persist', state: { epoch: 100 } }, { kind: 'setTimer', name: 'rejoin', at: 1600 }]);
    const ann = s.handle(timer('rejoin'), 1600);
    expect((msg(sends(ann)[0]!.data) as FeedbackMsg).count).toEqual({ n: 3, served: 0, epoch: 100 });
  });

  it('a restart whose clock stepped back still carries a newer epoch: one above the persisted one', () => {
    const first = mk();
    const st = first.handle(start, 5_000);
    const persisted = st.find((o) => o.kind === 'persist');
    expect(persisted).toEqual({ kind: 'persist', state: { epoch: 5_000 } });
    // The host's clock stepped back 30 ms before the restart: its start time is earlier than the first.
    const again = mk();
    const st2 = again.handle({ kind: 'start', stable: { epoch: 5_000 } }, 2_000);
    expect(st2[0]).toEqual({ kind: 'persist', state: { epoch: 5_001 } });
    expect((msg(sends(st2)[0]!.data) as FeedbackMsg).count).toEqual({ n: 3, served: 0, epoch: 5_001 });
    // A clock that moved forward wins over the persisted epoch; a malformed stable state is ignored.
    expect((msg(sends(mk().handle({ kind: 'start', stable: { epoch: 5_000 } }, 9_000))[0]!.data) as FeedbackMsg).count?.epoch).toBe(9_000);
    expect((msg(sends(mk().handle({ kind: 'start', stable: 'junk' }, 7))[0]!.data) as FeedbackMsg).count?.epoch).toBe(7);
  });

  it('a restart (start again, later) carries the new epoch, newer than the old one', () => {
    // As the drivers do it: a fresh core per incarnation.
    const first = mk();
    const a = first.handle(start, 1000);
    first.handle(rx(CLIENT, split('REQUEST', 'LB_ROUTE', 1, req(1, 16, 10))[0]!), 1005);
    const r1 = first.handle(timer('service'), 1015);
    expect((msg(sends(r1).find((p) => p.dst === ROUTER)!.data) as FeedbackMsg).count).toEqual({ n: 3, served: 1, epoch: 1000 });
    const again = mk();
    const b = again.handle(start, 50_000);
    const e1 = (msg(sends(a)[0]!.data) as FeedbackMsg).count!.epoch;
    const e2 = (msg(sends(b)[0]!.data) as FeedbackMsg).count!.epoch;
    expect([e1, e2]).toEqual([1000, 50_000]);
    expect(epochNewer(e2, e1)).toBe(true);
    again.handle(rx(CLIENT, split('REQUEST', 'LB_ROUTE', 2, req(2, 16, 10))[0]!), 50_005);
    const r2 = again.handle(timer('service'), 50_015);
    expect((msg(sends(r2).find((p) => p.dst === ROUTER)!.data) as FeedbackMsg).count).toEqual({ n: 3, served: 1, epoch: 50_000 });
    // The same core started a second time takes the new start time as its epoch too.
    const hb = first.handle(start, 70_000);
    expect((msg(sends(hb)[0]!.data) as FeedbackMsg).count?.epoch).toBe(70_000);
    // A start past 2^32 µs does not wrap: it is carried whole and newer than one shortly before.
    const late = (msg(sends(mk().handle(start, 2 ** 32 + 10))[0]!.data) as FeedbackMsg).count!.epoch;
    const before = (msg(sends(mk().handle(start, 2 ** 32 - 10))[0]!.data) as FeedbackMsg).count!.epoch;
    expect([before, late]).toEqual([2 ** 32 - 10, 2 ** 32 + 10]);
    expect(epochNewer(late, before)).toBe(true);
    expect(epochNewer(before, late)).toBe(false);
  });

  it('rejoin delay: quiet after start (no FEEDBACK, requests ignored without events), then announces', () => {
    const s = mk([], { rejoinDelayUs: 1500 });
    const st = s.handle(start, 100);
    expect(st).toEqual([{ kind: 'persist', state: { epoch: 100 } }, { kind: 'setTimer', name: 'rejoin', at: 1600 }]);
    expect(s.isQuiet()).toBe(true);
    // Requests in the quiet period: single-packet and multi-packet REQ0 alike, no trace, no ACK, no timer.
    const one = split('REQUEST', 'LB_ROUTE', 1, req(1, 16))[0]!;
    const multi = split('REQUEST', 'LB_ROUTE', 2, req(2, 4000));
    expect(s.handle(rx(CLIENT, one), 200)).toEqual([]);
    for (const p of multi) expect(s.handle(rx(CLIENT, p), 300)).toEqual([]);
    // Stray timers in the quiet period do nothing either (no heartbeat before the announce).
    expect(s.handle(timer('heartbeat'), 500)).toEqual([]);
    expect(s.handle(timer('service'), 500)).toEqual([]);
    // The delay is over: announce (served 0), heartbeat armed, then normal service.
    const ann = s.handle(timer('rejoin'), 1600);
    expect(s.isQuiet()).toBe(false);
    expect(traces(ann)).toEqual([{ action: 'ServerAnnounce', router: ROUTER, n: 3, served: 0 }]);
    expect(msg(sends(ann)[0]!.data)).toMatchObject({ type: 'FEEDBACK', client: ZERO_ADDR, fbRid: 0, count: { n: 3, served: 0, epoch: 100 } });
    expect(timers(ann)).toEqual([{ name: 'heartbeat', at: 2100 }]);
    expect(s.handle(timer('rejoin'), 1700)).toEqual([]); // a late duplicate of the timer
    // A request ignored in the quiet period was not remembered: its retransmission is served.
    expect(actions(s.handle(rx(CLIENT, one), 1700))).toEqual(['ServerReceiveRequest']);
    expect(traces(s.handle(timer('service'), 1710))[0]).toMatchObject({ action: 'ServerReply', rid: 1, served: 1 });
    expect(actions(s.handle(rx(CLIENT, multi[0]!), 1720))).toEqual(['ServerAck']);
  });

  it('seeded bug server-serves-before-announce: requests in the quiet period are taken and served', () => {
    const s = mk([BUG_SERVER_SERVES_BEFORE_ANNOUNCE], { rejoinDelayUs: 1500 });
    s.handle(start, 100);
    expect(s.isQuiet()).toBe(true);
    const one = split('REQUEST', 'LB_ROUTE', 1, req(1, 16))[0]!;
    expect(actions(s.handle(rx(CLIENT, one), 200))).toEqual(['ServerReceiveRequest']);
    expect(actions(s.handle(timer('service'), 210))).toEqual(['ServerReply']);
    expect(s.handle(timer('heartbeat'), 500)).toEqual([]); // still no announce before the delay is over
    expect(actions(s.handle(timer('rejoin'), 1600))).toEqual(['ServerAnnounce']);
  });

  it('rejoinDelayUs is optional (default 0: announce at start) and validated', () => {
    const base = { router: ROUTER, n: 2, heartbeatUs: 100, rtoUs: 10, gcRtos: 3 };
    expect(parseServerConfig(base).rejoinDelayUs).toBeUndefined();
    expect(parseServerConfig({ ...base, rejoinDelayUs: 0 }).rejoinDelayUs).toBe(0);
    expect(parseServerConfig({ ...base, rejoinDelayUs: 2500 }).rejoinDelayUs).toBe(2500);
    for (const bad of [-1, '10', Number.NaN, null]) {
      expect(() => parseServerConfig({ ...base, rejoinDelayUs: bad }), String(bad)).toThrow(/rejoinDelayUs/);
    }
    expect(actions(mk([], { rejoinDelayUs: 0 }).handle(start, 0))).toEqual(['ServerAnnounce']);
  });

  it('single-packet request: ServerReceiveRequest, service time, ServerReply + reply + FEEDBACK', () => {
    const s = mk();
    s.handle(start, 0);
    const body = req(1, 100, 40, 20);
    const out = s.handle(rx(CLIENT, split('REQUEST', 'LB_ROUTE', 1, body)[0]!), 10);
    expect(traces(out)).toEqual([{ action: 'ServerReceiveRequest', client: CLIENT, rid: 1, npkts: 1, digest: digest(body) }]);
    expect(timers(out)).toEqual([{ name: 'service', at: 50 }]);
    expect(sends(out)).toEqual([]);

    const done = s.handle(timer('service'), 50);
    const reply = replyBody(body, 20);
    expect(reply).toHaveLength(20);
    expect(traces(done)).toEqual([
      { action: 'ServerReply', client: CLIENT, rid: 1, npkts: 1, digest: digest(reply), served: 1, n: 3 },
    ]);
    const [r, fb] = sends(done);
    expect(r).toMatchObject({ src: SERVER, dst: CLIENT });
    expect(msg(r!.data)).toMatchObject({ type: 'RESPONSE', rid: 1, policy: 'FIXED_ROUTE' });
    expect(hex(reassemble([r!.data])!)).toBe(hex(reply));
    expect(fb).toMatchObject({ src: SERVER, dst: ROUTER });
    expect(msg(fb!.data)).toMatchObject({ type: 'FEEDBACK', fbRid: 1, client: CLIENT, count: { n: 3, served: 1, epoch: 0 } });
    expect(s.servedCount()).toBe(1);
  });

  it('different requests get different replies; the same request the same reply', () => {
    const a = replyBody(req(1, 50), 64);
    expect(hex(a)).toBe(hex(replyBody(req(1, 50), 64)));
    expect(hex(a)).not.toBe(hex(replyBody(req(2, 50), 64)));
    expect(hex(a)).not.toBe(hex(replyBody(req(1, 50, 10, 20, 'client2'), 64)));
  });

  it('serves one request at a time, FIFO', () => {
    const s = mk();
    s.handle(start, 0);
    const o1 = s.handle(rx(CLIENT, split('REQUEST', 'LB_ROUTE', 1, req(1, 16, 30))[0]!), 0);
    const o2 = s.handle(rx(CLIENT2, split('REQUEST', 'LB_ROUTE', 1, req(1, 16, 70, 20, 'c2'))[0]!), 5);
    expect(timers(o1)).toEqual([{ name: 'service', at: 30 }]);
    expect(timers(o2)).toEqual([]); // busy
    const d1 = s.handle(timer('service'), 30);
    expect(traces(d1)[0]).toMatchObject({ action: 'ServerReply', client: CLIENT, rid: 1, served: 1 });
    expect(timers(d1)).toEqual([{ name: 'service', at: 100 }]);
    const d2 = s.handle(timer('service'), 100);
    expect(traces(d2)[0]).toMatchObject({ action: 'ServerReply', client: CLIENT2, rid: 1, served: 2 });
    expect(s.handle(timer('service'), 200)).toEqual([]);
  });

  it('ignores a duplicate of an already-received request', () => {
    const s = mk();
    const p = split('REQUEST', 'LB_ROUTE', 1, req(1, 16))[0]!;
    expect(actions(s.handle(rx(CLIENT, p), 0))).toEqual(['ServerReceiveRequest']);
    expect(s.handle(rx(CLIENT, p), 1)).toEqual([]);
    s.handle(timer('service'), 10);
    expect(s.handle(rx(CLIENT, p), 20)).toEqual([]);
  });

  it('seeded bug server-serves-duplicate: a copy of a completed request\'s REQ0 is taken and served again', () => {
    const s = mk([BUG_SERVER_SERVES_DUPLICATE]);
    const p = split('REQUEST', 'LB_ROUTE', 1, req(1, 16))[0]!;
    expect(actions(s.handle(rx(CLIENT, p), 0))).toEqual(['ServerReceiveRequest']);
    expect(s.handle(rx(CLIENT, p), 1)).toEqual([]); // still in service: ignored
    s.handle(timer('service'), 10);
    expect(actions(s.handle(rx(CLIENT, p), 20))).toEqual(['ServerReceiveRequest']);
    expect(traces(s.handle(timer('service'), 30))[0]).toMatchObject({ action: 'ServerReply', rid: 1, served: 2 });
  });

  it('multi-packet request: ACK from own address, REQn reordered and duplicated, byte-exact', () => {
    const s = mk();
    const body = req(7, 6000);
    const ps = split('REQUEST', 'LB_ROUTE', 7, body);
    expect(ps).toHaveLength(6);
    const a = s.handle(rx(CLIENT, ps[0]!), 0);
    expect(traces(a)).toEqual([{ action: 'ServerAck', client: CLIENT, rid: 7, npkts: 6 }]);
    expect(sends(a)).toEqual([{ src: SERVER, dst: CLIENT, data: ackPacket(7) }]);
    expect(timers(a)).toEqual([{ name: `rto:${CLIENT}#7`, at: 100 }]);
    // A duplicate REQ0 while reassembling: ACK again (the RTO timer is left alone).
    expect(s.handle(rx(CLIENT, ps[0]!), 1)).toEqual([
      { kind: 'trace', event: { action: 'ServerAck', client: CLIENT, rid: 7, npkts: 6 } },
      { kind: 'send', packet: { src: SERVER, dst: CLIENT, data: ackPacket(7) } },
    ]);
    const order = [5, 3, 3, 1, 4, 5, 2];
    const outs = order.map((i, k) => s.handle(rx(CLIENT, ps[i]!), 10 + k));
    expect(outs.slice(0, -1).flatMap((o) => traces(o))).toEqual([]);
    const last = outs[outs.length - 1]!;
    expect(traces(last)).toEqual([{ action: 'ServerReceiveRequest', client: CLIENT, rid: 7, npkts: 6, digest: digest(body) }]);
    expect(last).toContainEqual({ kind: 'cancelTimer', name: `rto:${CLIENT}#7` });
    expect(s.handle(rx(CLIENT, ps[2]!), 30)).toEqual([]); // late duplicate
    expect(s.handle(rx(CLIENT, ps[0]!), 31)).toEqual([]); // late duplicate REQ0
  });

  it('RTO sends SACK for the missing packets; progress resets the count', () => {
    const s = mk();
    const body = req(3, 4000);
    const ps = split('REQUEST', 'LB_ROUTE', 3, body);
    s.handle(rx(CLIENT, ps[0]!), 0);
    s.handle(rx(CLIENT, ps[2]!), 10);
    const r1 = s.handle(timer(`rto:${CLIENT}#3`), 110);
    expect(traces(r1)).toEqual([{ action: 'ServerSack', client: CLIENT, rid: 3, missing: [1, 3] }]);
    expect(sends(r1)).toEqual([{ src: SERVER, dst: CLIENT, data: sackPacket(3, [1, 3]) }]);
    expect(timers(r1)).toEqual([{ name: `rto:${CLIENT}#3`, at: 210 }]);
    s.handle(timer(`rto:${CLIENT}#3`), 210); // second RTO: SACK again
    s.handle(rx(CLIENT, ps[1]!), 220); // progress
    expect(actions(s.handle(timer(`rto:${CLIENT}#3`), 320))).toEqual(['ServerSack']);
    expect(actions(s.handle(timer(`rto:${CLIENT}#3`), 420))).toEqual(['ServerSack']);
    const fin = s.handle(rx(CLIENT, ps[3]!), 430);
    expect(traces(fin)).toEqual([{ action: 'ServerReceiveRequest', client: CLIENT, rid: 3, npkts: 4, digest: digest(body) }]);
  });

  it('garbage-collects a partial request after gcRtos RTOs (served counts replies only)', () => {
    const s = mk([], { gcRtos: 2 });
    s.handle(start, 0);
    const ps = split('REQUEST', 'LB_ROUTE', 4, req(4, 4000));
    s.handle(rx(CLIENT, ps[0]!), 0);
    expect(actions(s.handle(timer(`rto:${CLIENT}#4`), 100))).toEqual(['ServerSack']);
    const gc = s.handle(timer(`rto:${CLIENT}#4`), 200);
    expect(traces(gc)).toEqual([{ action: 'ServerGc', client: CLIENT, rid: 4 }]);
    expect(sends(gc)).toEqual([]);
    expect(s.handle(timer(`rto:${CLIENT}#4`), 300)).toEqual([]);
    for (const p of ps) expect(s.handle(rx(CLIENT, p), 310)).toEqual([]);
    expect(traces(s.handle(timer('heartbeat'), 500))).toEqual([{ action: 'ServerAnnounce', router: ROUTER, n: 3, served: 0 }]);
  });

  it('a SACK longer than one datagram is split; the event lists every missing index', () => {
    const s = mk();
    const ps = split('REQUEST', 'LB_ROUTE', 1, new Uint8Array(14 + 1000 * 1464));
    expect(ps).toHaveLength(1001);
    s.handle(rx(CLIENT, ps[0]!), 0);
    const out = s.handle(timer(`rto:${CLIENT}#1`), 100);
    expect(traces(out)[0]!['missing']).toHaveLength(1000);
    const sacks = sends(out).map((p) => msg(p.data) as SackMsg);
    expect(sacks.map((m) => m.missing.length)).toEqual([731, 269]);
  });

  it('multi-packet reply', () => {
    const s = mk();
    const body = req(1, 16, 0, 5000);
    s.handle(rx(CLIENT, split('REQUEST', 'LB_ROUTE', 1, body)[0]!), 0);
    const out = s.handle(timer('service'), 0);
    const reply = replyBody(body, 5000);
    expect(traces(out)[0]).toMatchObject({ action: 'ServerReply', npkts: 4, digest: digest(reply) });
    const toClient = sends(out).filter((p) => p.dst === CLIENT);
    expect(toClient).toHaveLength(4);
    expect(hex(reassemble(toClient.map((p) => p.data))!)).toBe(hex(reply));
  });

  it('ignores unexpected and malformed packets, never throws', () => {
    const s = mk();
    s.handle(start, 0);
    for (const p of [ackPacket(1), dropPacket(1), sackPacket(1, [1]), feedbackPacket(CLIENT, 1),
      split('RESPONSE', 'LB_ROUTE', 1, new Uint8Array(3))[0]!, new Uint8Array(0), new Uint8Array([0xcc, 8])]) {
      expect(s.handle(rx(CLIENT, p), 1)).toEqual([]);
    }
    // A REQn for no known request.
    expect(s.handle(rx(CLIENT, split('REQUEST', 'LB_ROUTE', 9, new Uint8Array(3000))[1]!), 1)).toEqual([]);
    // A source that is not an IPv4 address.
    expect(s.handle(recv('nowhere', SERVER, split('REQUEST', 'LB_ROUTE', 1, new Uint8Array(3))[0]!), 1)).toEqual([]);
    const rng = new Rng(5);
    for (let i = 0; i < 5_000; i++) {
      const d = new Uint8Array(1 + rng.int(40));
      for (let j = 0; j < d.length; j++) d[j] = rng.int(256);
      d[0] = 0xcc;
      d[1] = 8;
      if (rng.chance(0.5)) d[2] = d[2]! & 0x0f; // REQUEST type
      if (rng.chance(0.7)) d[3] = [0x00, 0x40, 0x80, 0xc0][rng.int(4)]!;
      if (rng.chance(0.5)) d[6] = 0;
      expect(() => s.handle(rx(CLIENT, d), 2)).not.toThrow();
    }
  });

  it('is deterministic: same inputs, same outputs', () => {
    const ps = split('REQUEST', 'LB_ROUTE', 2, req(2, 3000));
    const inputs: CoreInput<never>[] = [start, rx(CLIENT, ps[0]!), rx(CLIENT, ps[2]!), timer(`rto:${CLIENT}#2`),
      rx(CLIENT, ps[1]!), timer('service'), timer('heartbeat')];
    const run = (): unknown[] => { const s = mk(); return inputs.map((i, t) => s.handle(i, t * 10)); };
    expect(run()).toEqual(run());
  });

  describe(`seeded bug ${BUG_SERVER_REPLIES_TWICE}`, () => {
    it('sends the reply twice and emits ServerReply twice', () => {
      const s = mk([BUG_SERVER_REPLIES_TWICE]);
      s.handle(rx(CLIENT, split('REQUEST', 'LB_ROUTE', 1, req(1, 16))[0]!), 0);
      const out = s.handle(timer('service'), 10);
      expect(actions(out)).toEqual(['ServerReply', 'ServerReply']);
      expect(sends(out).filter((p) => p.dst === CLIENT)).toHaveLength(2);
      expect(sends(out).filter((p) => p.dst === ROUTER)).toHaveLength(1);
      expect((msg(sends(out).find((p) => p.dst === ROUTER)!.data) as FeedbackMsg).count?.served).toBe(1);
    });
  });

  describe(`seeded bug ${BUG_REASSEMBLY_LOSES_REORDERED}`, () => {
    const body = req(5, 4000);
    const ps = split('REQUEST', 'LB_ROUTE', 5, body);
    const feed = (s: R2p2Server, order: number[]): string | undefined => {
      s.handle(rx(CLIENT, ps[0]!), 0);
      const evs = order.flatMap((i) => traces(s.handle(rx(CLIENT, ps[i]!), 1)));
      return evs.find((e) => e.action === 'ServerReceiveRequest')?.['digest'] as string | undefined;
    };
    it('in order: the body is intact', () => {
      expect(feed(mk([BUG_REASSEMBLY_LOSES_REORDERED]), [1, 2, 3])).toBe(digest(body));
    });
    it('reordered: the reassembled body differs (correct server: intact)', () => {
      expect(feed(mk(), [3, 1, 2])).toBe(digest(body));
      const bad = feed(mk([BUG_REASSEMBLY_LOSES_REORDERED]), [3, 1, 2]);
      expect(bad).toBeDefined();
      expect(bad).not.toBe(digest(body));
    });
  });
});
