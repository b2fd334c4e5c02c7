import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import type { CoreInput } from '../core.ts';
import { ZERO_ADDR, ackPacket, dropPacket, feedbackPacket, sackPacket, split } from './codec.ts';
import { BUG_ROUTER_BLIND_FEEDBACK, BUG_ROUTER_EXCEEDS_BOUND, BUG_ROUTER_FORGETS_ON_LEAVE } from './common.ts';
import { R2p2Router, type RouterConfig } from './router.ts';
import { CLIENT, CLIENT2, ROUTER, SERVER, SERVER2, actions, hex, msg, recv, sends, timer, timers, traces } from './test-helpers.ts';

const cfg: RouterConfig = { policy: 'jbsq', n: 2, queueCap: 10, leaveAfterUs: 1000 };
const mk = (c: Partial<RouterConfig> = {}, bugs: string[] = []): R2p2Router =>
  new R2p2Router('router', ROUTER, { ...cfg, ...c }, new Rng(42), new Set(bugs));
const rx = (src: string, data: Uint8Array): CoreInput<never> => recv(src, ROUTER, data);
const req0 = (rid: number, size = 16): Uint8Array => split('REQUEST', 'LB_ROUTE', rid, new Uint8Array(size).fill(rid & 255))[0]!;
/** The epoch (incarnation) of the servers in these tests unless a test says otherwise. */
const EPOCH = 7;
const announce = (n: number, served = 0, epoch = EPOCH): Uint8Array => feedbackPacket(ZERO_ADDR, 0, { n, served, epoch });
const fbCount = (client: string, rid: number, n: number, served: number, epoch = EPOCH): Uint8Array =>
  feedbackPacket(client, rid, { n, served, epoch });
const dispatches = (out: ReturnType<R2p2Router['handle']>): [string, number, number][] =>
  traces(out).filter((e) => e.action === 'RouterDispatch').map((e) => [e['server'] as string, e['rid'] as number, e['outstanding'] as number]);

describe('r2p2-router', () => {
  it('a server joins by FEEDBACK (n from the count form, else the config n)', () => {
    const r = mk();
    expect(r.handle({ kind: 'start' }, 0)).toEqual([]);
    const j = r.handle(rx(SERVER, announce(5)), 0);
    expect(traces(j)).toEqual([{ action: 'RouterServerJoin', server: SERVER, n: 5, served: 0, fresh: true }]);
    expect(timers(j)).toEqual([{ name: `leave:${SERVER}`, at: 1000 }]);
    const j2 = r.handle(rx(SERVER2, feedbackPacket(CLIENT, 3)), 0);
    expect(traces(j2)).toEqual([{ action: 'RouterServerJoin', server: SERVER2, n: 2, served: 0, fresh: true }]);
    expect(r.serverViews()).toEqual([
      { addr: SERVER, eligible: true, n: 5, dispatched: 0, served: 0, outstanding: 0 },
      { addr: SERVER2, eligible: true, n: 2, dispatched: 0, served: 0, outstanding: 0 },
    ]);
    // Known server: RouterFeedback.
    expect(traces(r.handle(rx(SERVER, announce(5)), 10))).toEqual([
      { action: 'RouterFeedback', server: SERVER, client: ZERO_ADDR, rid: 0, form: 'count', n: 5, served: 0, outstanding: 0 },
    ]);
  });

  it('a REQ0 waits in the central queue until a server joins; forwarding keeps the client as source', () => {
    const r = mk();
    const p = req0(1);
    const e = r.handle(rx(CLIENT, p), 0);
    expect(traces(e)).toEqual([{ action: 'RouterEnqueue', client: CLIENT, rid: 1, queued: 1 }]);
    expect(sends(e)).toEqual([]);
    const j = r.handle(rx(SERVER, announce(2)), 5);
    expect(actions(j)).toEqual(['RouterServerJoin', 'RouterDispatch']);
    expect(traces(j)[1]).toEqual({ action: 'RouterDispatch', client: CLIENT, rid: 1, server: SERVER, outstanding: 1 });
    expect(sends(j)).toEqual([{ src: CLIENT, dst: SERVER, data: p }]);
    expect(r.queued()).toBe(0);
  });

  it('forwards the REQ0 of a multi-packet request unchanged; ignores REQn, non-LB_ROUTE and other types', () => {
    const r = mk();
    r.handle(rx(SERVER, announce(2)), 0);
    const ps = split('REQUEST', 'LB_ROUTE', 4, new Uint8Array(4000).fill(9));
    const out = r.handle(rx(CLIENT, ps[0]!), 1);
    expect(hex(sends(out)[0]!.data)).toBe(hex(ps[0]!));
    expect(r.handle(rx(CLIENT, ps[1]!), 2)).toEqual([]);
    expect(r.handle(rx(CLIENT, split('REQUEST', 'FIXED_ROUTE', 5, new Uint8Array(3))[0]!), 2)).toEqual([]);
    for (const p of [ackPacket(1), dropPacket(1), sackPacket(1, [1]), split('RESPONSE', 'LB_ROUTE', 1, new Uint8Array(1))[0]!,
      new Uint8Array([1, 2, 3]), new Uint8Array(0)]) {
      expect(r.handle(rx(CLIENT, p), 3)).toEqual([]);
    }
  });

  it('JBSQ: least outstanding first, never beyond n; the rest waits; FEEDBACK releases it', () => {
    const r = mk({ n: 2 });
    r.handle(rx(SERVER, announce(2)), 0);
    r.handle(rx(SERVER2, announce(2)), 0);
    const outs = [1, 2, 3, 4, 5, 6].map((rid) => r.handle(rx(CLIENT, req0(rid)), rid));
    expect(outs.flatMap(dispatches)).toEqual([
      [SERVER, 1, 1], [SERVER2, 2, 1], [SERVER, 3, 2], [SERVER2, 4, 2],
    ]);
    expect(traces(outs[4]!)).toEqual([{ action: 'RouterEnqueue', client: CLIENT, rid: 5, queued: 1 }]);
    expect(traces(outs[5]!)).toEqual([{ action: 'RouterEnqueue', client: CLIENT, rid: 6, queued: 2 }]);
    expect(r.serverViews().map((s) => s.outstanding)).toEqual([2, 2]);
    const f = r.handle(rx(SERVER2, fbCount(CLIENT, 2, 2, 1)), 10);
    expect(traces(f)[0]).toEqual({
      action: 'RouterFeedback', server: SERVER2, client: CLIENT, rid: 2, form: 'count', n: 2, served: 1, outstanding: 1,
    });
    expect(dispatches(f)).toEqual([[SERVER2, 5, 2]]);
    expect(r.queued()).toBe(1);
  });

  it('JBSQ respects a per-server n changed by FEEDBACK', () => {
    const r = mk({ n: 2 });
    r.handle(rx(SERVER, announce(1)), 0);
    expect([1, 2].flatMap((rid) => dispatches(r.handle(rx(CLIENT, req0(rid)), rid)))).toEqual([[SERVER, 1, 1]]);
    const f = r.handle(rx(SERVER, announce(3)), 5); // n raised to 3
    expect(dispatches(f)).toEqual([[SERVER, 2, 2]]);
  });

  it('DROP when the central queue is full', () => {
    const r = mk({ queueCap: 2 });
    expect(actions(r.handle(rx(CLIENT, req0(1)), 0))).toEqual(['RouterEnqueue']);
    expect(actions(r.handle(rx(CLIENT, req0(2)), 0))).toEqual(['RouterEnqueue']);
    const d = r.handle(rx(CLIENT2, req0(3)), 1);
    expect(traces(d)).toEqual([{ action: 'RouterDrop', client: CLIENT2, rid: 3 }]);
    expect(sends(d)).toEqual([{ src: ROUTER, dst: CLIENT2, data: dropPacket(3) }]);
    expect(msg(sends(d)[0]!.data)).toMatchObject({ type: 'DROP', rid: 3 });
    const z = mk({ queueCap: 0 });
    z.handle(rx(SERVER, announce(2)), 0);
    expect(actions(z.handle(rx(CLIENT, req0(1)), 0))).toEqual(['RouterDrop']);
  });

  it('ignores a duplicated REQ0 (no double accounting)', () => {
    const r = mk();
    r.handle(rx(SERVER, announce(2)), 0);
    expect(actions(r.handle(rx(CLIENT, req0(1)), 0))).toEqual(['RouterEnqueue', 'RouterDispatch']);
    expect(r.handle(rx(CLIENT, req0(1)), 1)).toEqual([]);
    expect(actions(r.handle(rx(CLIENT2, req0(1)), 2))).toEqual(['RouterEnqueue', 'RouterDispatch']);
  });

  it('count-form FEEDBACK is idempotent under duplication and catches up after loss', () => {
    const r = mk({ n: 4 });
    r.handle(rx(SERVER, announce(4)), 0);
    for (const rid of [1, 2, 3, 4]) r.handle(rx(CLIENT, req0(rid)), rid);
    expect(r.serverViews()[0]!.outstanding).toBe(4);
    const f1 = fbCount(CLIENT, 1, 4, 1);
    for (let i = 0; i < 3; i++) r.handle(rx(SERVER, f1), 10 + i);
    expect(r.serverViews()[0]).toMatchObject({ served: 1, outstanding: 3 });
    // FEEDBACK for rid 2 lost; rid 3's carries served = 3.
    const f3 = r.handle(rx(SERVER, fbCount(CLIENT, 3, 4, 3)), 20);
    expect(traces(f3)[0]).toMatchObject({ action: 'RouterFeedback', served: 3, outstanding: 1 });
    // A duplicate, and a reordered older FEEDBACK (served 1 < 3): nothing changes.
    expect(traces(r.handle(rx(SERVER, fbCount(CLIENT, 3, 4, 3)), 21))[0]).toMatchObject({ outstanding: 1 });
    expect(traces(r.handle(rx(SERVER, f1), 22))[0]).toMatchObject({ served: 1, outstanding: 1 });
    expect(r.serverViews()[0]).toMatchObject({ served: 3, outstanding: 1 });
  });

  it('slot-form FEEDBACK counts only requests outstanding at that server, once', () => {
    const r = mk({ n: 2 });
    r.handle(rx(SERVER, feedbackPacket(ZERO_ADDR, 0)), 0); // reference server joins (config n)
    r.handle(rx(CLIENT, req0(1)), 1);
    r.handle(rx(CLIENT, req0(2)), 1);
    expect(r.serverViews()[0]!.outstanding).toBe(2);
    const slot = feedbackPacket(CLIENT, 1);
    const f = r.handle(rx(SERVER, slot), 5);
    expect(traces(f)[0]).toEqual({
      action: 'RouterFeedback', server: SERVER, client: CLIENT, rid: 1, form: 'slot', n: 2, served: 1, outstanding: 1,
    });
    expect(traces(r.handle(rx(SERVER, slot), 6))[0]).toMatchObject({ served: 1, outstanding: 1 });
    expect(traces(r.handle(rx(SERVER, feedbackPacket(CLIENT, 77)), 7))[0]).toMatchObject({ outstanding: 1 });
    expect(traces(r.handle(rx(SERVER, feedbackPacket(CLIENT, 2)), 8))[0]).toMatchObject({ served: 2, outstanding: 0 });
  });

  it('a server joining with a served count uses it as its base (router restarted, server did not)', () => {
    const r = mk({ n: 2 });
    expect(traces(r.handle(rx(SERVER, announce(2, 10)), 0))).toEqual([
      { action: 'RouterServerJoin', server: SERVER, n: 2, served: 10, fresh: true },
    ]);
    expect(dispatches(r.handle(rx(CLIENT, req0(1)), 1))).toEqual([[SERVER, 1, 1]]);
    expect(traces(r.handle(rx(SERVER, fbCount(CLIENT, 1, 2, 11)), 2))[0]).toMatchObject({ served: 11, outstanding: 0 });
    expect(r.serverViews()[0]).toMatchObject({ dispatched: 1, served: 11, outstanding: 0 });
  });

  it('a lower served count never resets the accounting (stale FEEDBACK or announce, as the spec)', () => {
    const r = mk({ n: 3 });
    r.handle(rx(SERVER, announce(3, 0)), 0);
    for (const rid of [1, 2, 3]) r.handle(rx(CLIENT, req0(rid)), rid);
    r.handle(rx(SERVER, fbCount(CLIENT, 2, 3, 2)), 10);
    expect(r.serverViews()[0]).toMatchObject({ dispatched: 3, served: 2, outstanding: 1 });
    // A late FEEDBACK of rid 1 (served 1), then a reordered announce with served 0 of the same
    // incarnation (same epoch): the counts stay.
    expect(traces(r.handle(rx(SERVER, fbCount(CLIENT, 1, 3, 1)), 20))[0]).toMatchObject({
      action: 'RouterFeedback', form: 'count', served: 1, outstanding: 1,
    });
    expect(traces(r.handle(rx(SERVER, announce(3, 0)), 21))[0]).toMatchObject({
      action: 'RouterFeedback', form: 'count', served: 0, outstanding: 1,
    });
    expect(r.serverViews()[0]).toMatchObject({ dispatched: 3, served: 2, outstanding: 1 });
    // Room for two more (n = 3), not three.
    const d = [4, 5, 6].flatMap((rid) => dispatches(r.handle(rx(CLIENT, req0(rid)), 30 + rid)));
    expect(d).toEqual([[SERVER, 4, 2], [SERVER, 5, 3]]);
  });

  it('a restarted server (newer epoch) opens a new account; FEEDBACK of its old incarnation is ignored', () => {
    const r = mk({ n: 2 });
    r.handle(rx(SERVER, announce(2, 0, 1000)), 0);
    for (const rid of [1, 2, 3]) r.handle(rx(CLIENT, req0(rid)), rid); // 1, 2 dispatched; 3 waits
    expect(dispatches(r.handle(rx(SERVER, fbCount(CLIENT, 1, 2, 1, 1000)), 10))).toEqual([[SERVER, 3, 2]]);
    expect(r.serverViews()[0]).toMatchObject({ dispatched: 3, served: 1, outstanding: 2 });
    // The server crashes and stays quiet: it leaves the eligible set, its account stays.
    expect(traces(r.handle(timer(`leave:${SERVER}`), 1010))).toEqual([{ action: 'RouterServerLeave', server: SERVER }]);
    expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: false, n: 2, dispatched: 3, served: 1, outstanding: 2 }]);
    expect(actions(r.handle(rx(CLIENT, req0(4)), 1020))).toEqual(['RouterEnqueue']);
    // It announces after its rejoin delay with its new incarnation's epoch: a new account, served 0
    // the base, nothing outstanding before rid 4.
    const j = r.handle(rx(SERVER, announce(2, 0, 1500)), 1500);
    expect(traces(j)[0]).toEqual({ action: 'RouterServerJoin', server: SERVER, n: 2, served: 0, fresh: true });
    expect(timers(j)).toEqual([{ name: `leave:${SERVER}`, at: 2500 }]);
    expect(dispatches(j)).toEqual([[SERVER, 4, 1]]);
    expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 2, dispatched: 1, served: 0, outstanding: 1 }]);
    // A FEEDBACK the old incarnation sent before the crash (rid 2, served 2) arrives late: it is
    // ignored (no event, no timer), so it does not count against the new dispatch.
    expect(r.handle(rx(SERVER, fbCount(CLIENT, 2, 2, 2, 1000)), 1510)).toEqual([]);
    expect(r.serverViews()[0]).toMatchObject({ dispatched: 1, served: 0, outstanding: 1 });
    expect(dispatches(r.handle(rx(CLIENT, req0(5)), 1520))).toEqual([[SERVER, 5, 2]]);
    expect(actions(r.handle(rx(CLIENT, req0(6)), 1521))).toEqual(['RouterEnqueue']); // n = 2 reached
    // The restarted server's first reply (served 1) frees one slot: done = highest count − base.
    const f = r.handle(rx(SERVER, fbCount(CLIENT, 4, 2, 1, 1500)), 1530);
    expect(traces(f)[0]).toMatchObject({ action: 'RouterFeedback', served: 1, outstanding: 1 });
    expect(dispatches(f)).toEqual([[SERVER, 6, 2]]);
  });

  it('a silent server leaves; FEEDBACK re-arms the silence timer; it may rejoin', () => {
    const r = mk();
    r.handle(rx(SERVER, announce(2)), 0);
    r.handle(rx(SERVER2, announce(2)), 0);
    expect(timers(r.handle(rx(SERVER, announce(2)), 600))).toEqual([{ name: `leave:${SERVER}`, at: 1600 }]);
    const l = r.handle(timer(`leave:${SERVER2}`), 1000);
    expect(traces(l)).toEqual([{ action: 'RouterServerLeave', server: SERVER2 }]);
    expect(r.handle(timer(`leave:${SERVER2}`), 1001)).toEqual([]);
    expect(r.serverViews().map((v) => [v.addr, v.eligible])).toEqual([[SERVER, true], [SERVER2, false]]);
    expect(dispatches(r.handle(rx(CLIENT, req0(1)), 1100))).toEqual([[SERVER, 1, 1]]);
    expect(dispatches(r.handle(rx(CLIENT, req0(2)), 1100))).toEqual([[SERVER, 2, 2]]);
    expect(actions(r.handle(rx(CLIENT, req0(3)), 1100))).toEqual(['RouterEnqueue']);
    // It speaks again: the one FEEDBACK gives two events, the (not fresh) join and the FEEDBACK.
    const j = r.handle(rx(SERVER2, announce(2)), 1200);
    expect(actions(j)).toEqual(['RouterServerJoin', 'RouterFeedback', 'RouterDispatch']);
    expect(traces(j)[0]).toEqual({ action: 'RouterServerJoin', server: SERVER2, n: 2, served: 0, fresh: false });
    expect(traces(j)[1]).toEqual({
      action: 'RouterFeedback', server: SERVER2, client: ZERO_ADDR, rid: 0, form: 'count', n: 2, served: 0, outstanding: 0,
    });
    expect(timers(j)).toEqual([{ name: `leave:${SERVER2}`, at: 2200 }]);
    expect(dispatches(j)).toEqual([[SERVER2, 3, 1]]);
  });

  describe('leave and rejoin (accounts kept across a leave)', () => {
    /**
     * JBSQ(1): rid 1 dispatched to the server, rid 2 waits; the server falls silent and leaves
     * while it still holds rid 1. Returns the router and the outputs of the leave.
     */
    const leftHoldingOne = (bugs: string[] = []) => {
      const r = mk({ n: 1 }, bugs);
      expect(traces(r.handle(rx(SERVER, announce(1)), 0))).toEqual([
        { action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: true },
      ]);
      expect(dispatches(r.handle(rx(CLIENT, req0(1)), 10))).toEqual([[SERVER, 1, 1]]);
      expect(actions(r.handle(rx(CLIENT, req0(2)), 20))).toEqual(['RouterEnqueue']);
      const leave = r.handle(timer(`leave:${SERVER}`), 1000);
      return { r, leave };
    };

    it('a rejoin with the same epoch keeps the outstanding count: no dispatch beyond n until a slot is freed', () => {
      const { r, leave } = leftHoldingOne();
      expect(leave).toEqual([{ kind: 'trace', event: { action: 'RouterServerLeave', server: SERVER } }]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: false, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
      // While it is out, requests wait (it is the only server).
      expect(actions(r.handle(rx(CLIENT2, req0(3)), 1050))).toEqual(['RouterEnqueue']);
      // It speaks again (a heartbeat after a pause): same epoch, served 0. It rejoins (not fresh),
      // then the heartbeat is taken as any FEEDBACK; its account is as it was: rid 1 still counts,
      // so rid 2 is not dispatched (JBSQ(1)).
      const j = r.handle(rx(SERVER, announce(1, 0)), 1100);
      expect(traces(j)).toEqual([
        { action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: false },
        { action: 'RouterFeedback', server: SERVER, client: ZERO_ADDR, rid: 0, form: 'count', n: 1, served: 0, outstanding: 1 },
      ]);
      expect(timers(j)).toEqual([{ name: `leave:${SERVER}`, at: 2100 }]);
      expect(sends(j)).toEqual([]);
      expect(r.queued()).toBe(2);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
      // Another heartbeat: a plain FEEDBACK only (no second join), still nothing to dispatch.
      expect(traces(r.handle(rx(SERVER, announce(1, 0)), 1200))).toEqual([
        { action: 'RouterFeedback', server: SERVER, client: ZERO_ADDR, rid: 0, form: 'count', n: 1, served: 0, outstanding: 1 },
      ]);
      // rid 1 served: its FEEDBACK (served 1) frees the slot and rid 2 goes.
      const f = r.handle(rx(SERVER, fbCount(CLIENT, 1, 1, 1)), 1300);
      expect(traces(f)[0]).toEqual({
        action: 'RouterFeedback', server: SERVER, client: CLIENT, rid: 1, form: 'count', n: 1, served: 1, outstanding: 0,
      });
      expect(dispatches(f)).toEqual([[SERVER, 2, 1]]);
      expect(r.serverViews()[0]).toMatchObject({ eligible: true, dispatched: 2, served: 1, outstanding: 1 });
      expect(r.queued()).toBe(1);
    });

    it('a rejoin by the FEEDBACK of a request served meanwhile applies its count at once', () => {
      const { r } = leftHoldingOne();
      const j = r.handle(rx(SERVER, fbCount(CLIENT, 1, 1, 1)), 1100);
      // The join carries the FEEDBACK's served count; the RouterFeedback then applies it (rid 1
      // done, nothing outstanding) before rid 2 is dispatched.
      expect(traces(j)).toEqual([
        { action: 'RouterServerJoin', server: SERVER, n: 1, served: 1, fresh: false },
        { action: 'RouterFeedback', server: SERVER, client: CLIENT, rid: 1, form: 'count', n: 1, served: 1, outstanding: 0 },
        { action: 'RouterDispatch', client: CLIENT, rid: 2, server: SERVER, outstanding: 1 },
      ]);
      expect(timers(j)).toEqual([{ name: `leave:${SERVER}`, at: 2100 }]);
      expect(r.serverViews()[0]).toMatchObject({ eligible: true, dispatched: 2, served: 1, outstanding: 1 });
      // The same FEEDBACK again (duplicated) frees nothing more.
      expect(traces(r.handle(rx(SERVER, fbCount(CLIENT, 1, 1, 1)), 1110))[0]).toMatchObject({
        action: 'RouterFeedback', served: 1, outstanding: 1,
      });
    });

    it('a rejoin does not change n by itself; the count-form FEEDBACK that follows it does', () => {
      const r = mk({ n: 2 });
      r.handle(rx(SERVER, announce(1)), 0);
      expect(dispatches(r.handle(rx(CLIENT, req0(1)), 10))).toEqual([[SERVER, 1, 1]]);
      expect(actions(r.handle(rx(CLIENT, req0(2)), 20))).toEqual(['RouterEnqueue']);
      expect(actions(r.handle(timer(`leave:${SERVER}`), 1000))).toEqual(['RouterServerLeave']);
      const j = r.handle(rx(SERVER, announce(2, 0)), 1100);
      // The join reports the n the router had (1), the FEEDBACK the new one (2).
      expect(actions(j)).toEqual(['RouterServerJoin', 'RouterFeedback', 'RouterDispatch']);
      expect(traces(j)[0]).toEqual({ action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: false });
      expect(traces(j)[1]).toEqual({
        action: 'RouterFeedback', server: SERVER, client: ZERO_ADDR, rid: 0, form: 'count', n: 2, served: 0, outstanding: 1,
      });
      // rid 1 still counts: rid 2 is the second outstanding request.
      expect(dispatches(j)).toEqual([[SERVER, 2, 2]]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 2, dispatched: 2, served: 0, outstanding: 2 }]);
    });

    it(`seeded bug ${BUG_ROUTER_FORGETS_ON_LEAVE}: the rejoin is a fresh join, so the second request goes at once`, () => {
      const { r, leave } = leftHoldingOne([BUG_ROUTER_FORGETS_ON_LEAVE]);
      expect(traces(leave)).toEqual([{ action: 'RouterServerLeave', server: SERVER }]);
      expect(r.serverViews()).toEqual([]); // the account is gone
      const j = r.handle(rx(SERVER, announce(1, 0)), 1100);
      expect(traces(j)[0]).toEqual({ action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: true });
      // rid 2 dispatched while rid 1 is still at the server: 2 held > n = 1, the router thinks 1.
      expect(dispatches(j)).toEqual([[SERVER, 2, 1]]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
    });

    it('a FEEDBACK with a newer epoch opens a new account (fresh, nothing outstanding)', () => {
      const { r } = leftHoldingOne();
      // The server restarted (it lost rid 1): its announce carries a newer epoch.
      const j = r.handle(rx(SERVER, announce(1, 0, EPOCH + 500)), 1100);
      expect(traces(j)[0]).toEqual({ action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: true });
      expect(dispatches(j)).toEqual([[SERVER, 2, 1]]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
    });

    it('a newer epoch opens a new account even while the server is eligible; its served count is the base', () => {
      const r = mk({ n: 1 });
      r.handle(rx(SERVER, announce(1)), 0);
      expect(dispatches(r.handle(rx(CLIENT, req0(1)), 10))).toEqual([[SERVER, 1, 1]]);
      expect(actions(r.handle(rx(CLIENT, req0(2)), 20))).toEqual(['RouterEnqueue']);
      const j = r.handle(rx(SERVER, fbCount(CLIENT2, 9, 1, 5, EPOCH + 1)), 30);
      expect(actions(j)).toEqual(['RouterServerJoin', 'RouterDispatch']);
      expect(traces(j)[0]).toEqual({ action: 'RouterServerJoin', server: SERVER, n: 1, served: 5, fresh: true });
      expect(dispatches(j)).toEqual([[SERVER, 2, 1]]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 1, dispatched: 1, served: 5, outstanding: 1 }]);
      // served 6 of the new incarnation: one done since the account opened.
      expect(traces(r.handle(rx(SERVER, fbCount(CLIENT, 2, 1, 6, EPOCH + 1)), 40))[0]).toMatchObject({
        action: 'RouterFeedback', served: 6, outstanding: 0,
      });
    });

    it('a FEEDBACK with an older epoch produces no output at all (no event, no leave timer)', () => {
      const r = mk({ n: 1 });
      r.handle(rx(SERVER, announce(1, 0, 5000)), 0);
      expect(dispatches(r.handle(rx(CLIENT, req0(1)), 10))).toEqual([[SERVER, 1, 1]]);
      expect(actions(r.handle(rx(CLIENT, req0(2)), 20))).toEqual(['RouterEnqueue']);
      const before = r.serverViews();
      // From an earlier incarnation: an announce, and a FEEDBACK whose count would free rid 1.
      expect(r.handle(rx(SERVER, announce(1, 0, 4999)), 500)).toEqual([]);
      expect(r.handle(rx(SERVER, fbCount(CLIENT, 1, 1, 1, 1000)), 600)).toEqual([]);
      expect(r.serverViews()).toEqual(before);
      expect(r.queued()).toBe(1);
      // The timer armed by the last FEEDBACK of the current incarnation (at 0) still fires at 1000.
      expect(traces(r.handle(timer(`leave:${SERVER}`), 1000))).toEqual([{ action: 'RouterServerLeave', server: SERVER }]);
      // Out of the eligible set, an older epoch does not make it rejoin either.
      expect(r.handle(rx(SERVER, fbCount(CLIENT, 1, 1, 1, 4000)), 1100)).toEqual([]);
      expect(r.serverViews()[0]).toMatchObject({ eligible: false, dispatched: 1, outstanding: 1 });
      // Its own incarnation does.
      const j = r.handle(rx(SERVER, fbCount(CLIENT, 1, 1, 1, 5000)), 1200);
      expect(actions(j)).toEqual(['RouterServerJoin', 'RouterFeedback', 'RouterDispatch']);
      expect(traces(j)[0]).toEqual({ action: 'RouterServerJoin', server: SERVER, n: 1, served: 1, fresh: false });
      expect(traces(j)[1]).toMatchObject({ action: 'RouterFeedback', client: CLIENT, rid: 1, served: 1, outstanding: 0 });
      expect(dispatches(j)).toEqual([[SERVER, 2, 1]]);
    });

    it('epochs compare as plain numbers (no wrap): a large epoch (2^40) is newer, a small one after it older', () => {
      const r = mk({ n: 1 });
      r.handle(rx(SERVER, announce(1, 0, 0xfffffff0)), 0);
      expect(dispatches(r.handle(rx(CLIENT, req0(1)), 10))).toEqual([[SERVER, 1, 1]]);
      expect(actions(r.handle(rx(CLIENT, req0(2)), 20))).toEqual(['RouterEnqueue']);
      // 0x10 is not "after the wrap" any more: it is an older incarnation, ignored.
      expect(r.handle(rx(SERVER, announce(1, 0, 0x10)), 25)).toEqual([]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
      // A µs start time beyond 32 bits is newer: a new account.
      const j = r.handle(rx(SERVER, announce(1, 0, 2 ** 40)), 30);
      expect(traces(j)[0]).toEqual({ action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: true });
      expect(dispatches(j)).toEqual([[SERVER, 2, 1]]);
      // And 0xFFFFFFF0 is now the older one: ignored.
      expect(r.handle(rx(SERVER, fbCount(CLIENT, 1, 1, 1, 0xfffffff0)), 40)).toEqual([]);
      expect(r.handle(rx(SERVER, fbCount(CLIENT, 1, 1, 1, 2 ** 40 - 1)), 41)).toEqual([]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
      // The same large epoch is the current incarnation: a plain FEEDBACK.
      expect(traces(r.handle(rx(SERVER, fbCount(CLIENT, 2, 1, 1, 2 ** 40)), 50))).toEqual([
        { action: 'RouterFeedback', server: SERVER, client: CLIENT, rid: 2, form: 'count', n: 1, served: 1, outstanding: 0 },
      ]);
      // Up to 2^53 − 1, still newer.
      const k = r.handle(rx(SERVER, announce(1, 0, Number.MAX_SAFE_INTEGER)), 60);
      expect(traces(k)).toEqual([{ action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: true }]);
    });

    it('slot-form FEEDBACK carries no epoch: a reference server that left rejoins with its account', () => {
      const r = mk({ n: 1 });
      r.handle(rx(SERVER, feedbackPacket(ZERO_ADDR, 0)), 0);
      expect(dispatches(r.handle(rx(CLIENT, req0(1)), 10))).toEqual([[SERVER, 1, 1]]);
      expect(actions(r.handle(rx(CLIENT, req0(2)), 20))).toEqual(['RouterEnqueue']);
      expect(actions(r.handle(timer(`leave:${SERVER}`), 1000))).toEqual(['RouterServerLeave']);
      const j = r.handle(rx(SERVER, feedbackPacket(ZERO_ADDR, 0)), 1100);
      // Join (served 0 for the slot form), then the announce as a slot-form FEEDBACK naming no request.
      expect(traces(j)).toEqual([
        { action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: false },
        { action: 'RouterFeedback', server: SERVER, client: ZERO_ADDR, rid: 0, form: 'slot', n: 1, served: 0, outstanding: 1 },
      ]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
      const f = r.handle(rx(SERVER, feedbackPacket(CLIENT, 1)), 1200);
      expect(traces(f)[0]).toMatchObject({ action: 'RouterFeedback', form: 'slot', served: 1, outstanding: 0 });
      expect(dispatches(f)).toEqual([[SERVER, 2, 1]]);
    });

    it('a slot-form server that left and rejoins by the FEEDBACK of a request it held gets that slot freed', () => {
      const r = mk({ n: 1 });
      r.handle(rx(SERVER, feedbackPacket(ZERO_ADDR, 0)), 0);
      expect(dispatches(r.handle(rx(CLIENT, req0(1)), 10))).toEqual([[SERVER, 1, 1]]);
      expect(actions(r.handle(rx(CLIENT, req0(2)), 20))).toEqual(['RouterEnqueue']);
      expect(actions(r.handle(timer(`leave:${SERVER}`), 1000))).toEqual(['RouterServerLeave']);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: false, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
      // Its first word after the pause is the FEEDBACK of rid 1: the rejoin does not lose the slot.
      const j = r.handle(rx(SERVER, feedbackPacket(CLIENT, 1)), 1100);
      expect(traces(j)).toEqual([
        { action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: false },
        { action: 'RouterFeedback', server: SERVER, client: CLIENT, rid: 1, form: 'slot', n: 1, served: 1, outstanding: 0 },
        { action: 'RouterDispatch', client: CLIENT, rid: 2, server: SERVER, outstanding: 1 },
      ]);
      expect(timers(j)).toEqual([{ name: `leave:${SERVER}`, at: 2100 }]);
      expect(sends(j)).toEqual([{ src: CLIENT, dst: SERVER, data: req0(2) }]);
      // (The view's `served` is the count-form served count: none from a slot-form server.)
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: true, n: 1, dispatched: 2, served: 0, outstanding: 1 }]);
      // A duplicate of that FEEDBACK frees nothing more (rid 1 no longer holds a slot).
      expect(traces(r.handle(rx(SERVER, feedbackPacket(CLIENT, 1)), 1110))).toEqual([
        { action: 'RouterFeedback', server: SERVER, client: CLIENT, rid: 1, form: 'slot', n: 1, served: 1, outstanding: 1 },
      ]);
      expect(r.queued()).toBe(0);
    });

    it('a slot-form rejoin naming a request the server did not hold frees nothing', () => {
      const r = mk({ n: 1 });
      r.handle(rx(SERVER, feedbackPacket(ZERO_ADDR, 0)), 0);
      expect(dispatches(r.handle(rx(CLIENT, req0(1)), 10))).toEqual([[SERVER, 1, 1]]);
      expect(actions(r.handle(rx(CLIENT, req0(2)), 20))).toEqual(['RouterEnqueue']);
      expect(actions(r.handle(timer(`leave:${SERVER}`), 1000))).toEqual(['RouterServerLeave']);
      const j = r.handle(rx(SERVER, feedbackPacket(CLIENT2, 1)), 1100);
      expect(traces(j)).toEqual([
        { action: 'RouterServerJoin', server: SERVER, n: 1, served: 0, fresh: false },
        { action: 'RouterFeedback', server: SERVER, client: CLIENT2, rid: 1, form: 'slot', n: 1, served: 0, outstanding: 1 },
      ]);
      expect(r.queued()).toBe(1);
    });

    it('the leave timer of a server that already left, or that the router never knew, does nothing', () => {
      const { r } = leftHoldingOne();
      expect(r.handle(timer(`leave:${SERVER}`), 1001)).toEqual([]);
      expect(r.handle(timer(`leave:${SERVER2}`), 1002)).toEqual([]);
      expect(r.handle(timer('other'), 1003)).toEqual([]);
      expect(r.serverViews()).toEqual([{ addr: SERVER, eligible: false, n: 1, dispatched: 1, served: 0, outstanding: 1 }]);
    });

    it('an ineligible server is not picked by any policy', () => {
      for (const policy of ['jbsq', 'random', 'round-robin', 'jsq'] as const) {
        const r = mk({ policy, n: 4 });
        r.handle(rx(SERVER, announce(4)), 0);
        r.handle(rx(SERVER2, announce(4)), 0);
        r.handle(timer(`leave:${SERVER2}`), 1000);
        const d = [1, 2, 3, 4].flatMap((rid) => dispatches(r.handle(rx(CLIENT, req0(rid)), 1000 + rid)));
        expect(d.map((x) => x[0]), policy).toEqual([SERVER, SERVER, SERVER, SERVER]);
      }
    });
  });

  it('random, round-robin and JSQ dispatch at once, without bound', () => {
    for (const policy of ['random', 'round-robin', 'jsq'] as const) {
      const r = mk({ policy, n: 1 });
      r.handle(rx(SERVER, announce(1)), 0);
      r.handle(rx(SERVER2, announce(1)), 0);
      const d = [1, 2, 3, 4, 5, 6].flatMap((rid) => dispatches(r.handle(rx(CLIENT, req0(rid)), rid)));
      expect(d, policy).toHaveLength(6);
      expect(r.queued()).toBe(0);
      if (policy !== 'random') {
        expect(d.map((x) => x[0]), policy).toEqual([SERVER, SERVER2, SERVER, SERVER2, SERVER, SERVER2]);
      }
    }
  });

  it('is deterministic (random policy included): same inputs, same outputs', () => {
    const inputs: CoreInput<never>[] = [rx(SERVER, announce(2)), rx(SERVER2, announce(2)),
      ...[1, 2, 3, 4, 5].map((rid) => rx(CLIENT, req0(rid))), rx(SERVER, fbCount(CLIENT, 1, 2, 1)), timer(`leave:${SERVER}`)];
    for (const policy of ['jbsq', 'random'] as const) {
      const run = (): unknown[] => { const r = mk({ policy }); return inputs.map((i, t) => r.handle(i, t)); };
      expect(run()).toEqual(run());
    }
  });

  describe(`seeded bug ${BUG_ROUTER_EXCEEDS_BOUND}`, () => {
    it('dispatches to a server already at n', () => {
      const r = mk({ n: 1 }, [BUG_ROUTER_EXCEEDS_BOUND]);
      r.handle(rx(SERVER, announce(1)), 0);
      const d = [1, 2, 3].flatMap((rid) => dispatches(r.handle(rx(CLIENT, req0(rid)), rid)));
      expect(d).toEqual([[SERVER, 1, 1], [SERVER, 2, 2]]);
      expect(Math.max(...d.map((x) => x[2]))).toBeGreaterThan(1);
    });
  });

  describe(`seeded bug ${BUG_ROUTER_BLIND_FEEDBACK}`, () => {
    const scenario = (bugs: string[], fb: Uint8Array): number[] => {
      const r = mk({ n: 2 }, bugs);
      r.handle(rx(SERVER, announce(2)), 0);
      r.handle(rx(CLIENT, req0(1)), 1);
      r.handle(rx(CLIENT, req0(2)), 1);
      r.handle(rx(CLIENT, req0(3)), 1); // waits
      r.handle(rx(CLIENT, req0(4)), 1); // waits
      // Request 1 served; its FEEDBACK arrives three times.
      const outs = [0, 1, 2].map((i) => r.handle(rx(SERVER, fb), 10 + i));
      return outs.flatMap(dispatches).map((x) => x[2]);
    };
    it('correct router: duplicated FEEDBACK frees one slot only (count and slot forms)', () => {
      expect(scenario([], fbCount(CLIENT, 1, 2, 1))).toEqual([2]);
      expect(scenario([], feedbackPacket(CLIENT, 1))).toEqual([2]);
    });
    it('buggy router: each duplicate frees a slot, so the server is sent more than n', () => {
      const d = scenario([BUG_ROUTER_BLIND_FEEDBACK], fbCount(CLIENT, 1, 2, 1));
      expect(d).toHaveLength(2); // requests 3 and 4 both dispatched: 3 really outstanding > n = 2
      expect(scenario([BUG_ROUTER_BLIND_FEEDBACK], feedbackPacket(CLIENT, 1))).toHaveLength(2);
    });
  });
});
