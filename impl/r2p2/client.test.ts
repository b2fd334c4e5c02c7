import { describe, expect, it } from 'vitest';
import { digest } from '../digest.ts';
import { R2p2Client, type ClientCommand, type ClientNotification } from './client.ts';
import { ackPacket, dropPacket, feedbackPacket, sackPacket, split, type DataMsg } from './codec.ts';
import { BUG_CLIENT_ACCEPTS_WRONG_RID, parseRequestBody, requestBody } from './common.ts';
import {
  CLIENT, ROUTER, SERVER, SERVER2, actions, hex, msg, notifies, recv, sends, timer, timers, traces,
} from './test-helpers.ts';
import type { CoreInput } from '../core.ts';

const cfg = { router: ROUTER, timeoutUs: 1000 };
const mk = (bugs: string[] = []): R2p2Client => new R2p2Client('client1', CLIENT, cfg, new Set(bugs));
const call = (size: number, serviceUs = 5, replySize = 16): CoreInput<ClientCommand> =>
  ({ kind: 'command', command: { kind: 'call', size, serviceUs, replySize } });
const rx = (src: string, data: Uint8Array): CoreInput<ClientCommand> => recv(src, CLIENT, data);

describe('r2p2-client', () => {
  it('single-packet call: ClientSend, REQ0 to the router with LB_ROUTE, timer armed', () => {
    const c = mk();
    expect(c.handle({ kind: 'start' }, 0)).toEqual([]);
    const out = c.handle(call(100, 7, 33), 50);
    const body = requestBody('client1', 1, 100, 7, 33);
    expect(traces(out)).toEqual([
      { action: 'ClientSend', rid: 1, policy: 'LB_ROUTE', npkts: 1, size: 100, digest: digest(body) },
    ]);
    const [p] = sends(out);
    expect(p).toMatchObject({ src: CLIENT, dst: ROUTER });
    expect(msg(p!.data)).toMatchObject({ type: 'REQUEST', policy: 'LB_ROUTE', rid: 1, first: true, last: true });
    expect(hex((msg(p!.data) as DataMsg).payload)).toBe(hex(body));
    expect(parseRequestBody(body)).toEqual({ serviceUs: 7, replySize: 33 });
    expect(timers(out)).toEqual([{ name: 'req:1', at: 1050 }]);
  });

  it('request bodies are deterministic per (node, rid) and differ across rids', () => {
    expect(hex(requestBody('c', 1, 64, 1, 2))).toBe(hex(requestBody('c', 1, 64, 1, 2)));
    expect(hex(requestBody('c', 1, 64, 1, 2))).not.toBe(hex(requestBody('c', 2, 64, 1, 2)));
    expect(hex(requestBody('c', 1, 64, 1, 2))).not.toBe(hex(requestBody('d', 1, 64, 1, 2)));
    expect(requestBody('c', 1, 3, 1, 2)).toHaveLength(3);
  });

  it('a reply from any address completes the request by rid; duplicates and late replies are ignored', () => {
    const c = mk();
    c.handle(call(10), 0);
    const reply = new Uint8Array([1, 2, 3]);
    const [rp] = split('RESPONSE', 'FIXED_ROUTE', 1, reply);
    const out = c.handle(rx(SERVER2, rp!), 100);
    expect(traces(out)).toEqual([{ action: 'ClientReceiveReply', rid: 1, replyRid: 1, server: SERVER2, digest: digest(reply) }]);
    expect(out).toContainEqual({ kind: 'cancelTimer', name: 'req:1' });
    expect(notifies<ClientNotification>(out)).toEqual([{ rid: 1, outcome: 'success', reply }]);
    expect(c.handle(rx(SERVER2, rp!), 110)).toEqual([]);
    expect(c.handle(rx(SERVER, rp!), 120)).toEqual([]);
    expect(c.handle(timer('req:1'), 1000)).toEqual([]);
    // A reply for a rid never issued is ignored.
    expect(c.handle(rx(SERVER, split('RESPONSE', 'FIXED_ROUTE', 9, reply)[0]!), 130)).toEqual([]);
  });

  it('multi-packet request: only REQ0 goes to the router; ACK streams REQn to the ACK source', () => {
    const c = mk();
    const out = c.handle(call(4000), 0);
    const body = requestBody('client1', 1, 4000, 5, 16);
    const pkts = split('REQUEST', 'LB_ROUTE', 1, body);
    expect(pkts).toHaveLength(4);
    expect(traces(out)[0]).toMatchObject({ action: 'ClientSend', npkts: 4, size: 4000 });
    expect(sends(out).map((p) => hex(p.data))).toEqual([hex(pkts[0]!)]);

    const ack = c.handle(rx(SERVER, ackPacket(1)), 20);
    expect(traces(ack)).toEqual([{ action: 'ClientReceiveAck', rid: 1, server: SERVER }]);
    expect(sends(ack).map((p) => [p.dst, hex(p.data)])).toEqual(pkts.slice(1).map((p) => [SERVER, hex(p)]));
    // Duplicate ACK: nothing.
    expect(c.handle(rx(SERVER, ackPacket(1)), 21)).toEqual([]);

    const sack = c.handle(rx(SERVER, sackPacket(1, [3, 2, 3, 99])), 30);
    expect(traces(sack)).toEqual([{ action: 'ClientResend', rid: 1, server: SERVER, packets: [2, 3] }]);
    expect(sends(sack).map((p) => [p.dst, hex(p.data)])).toEqual([[SERVER, hex(pkts[2]!)], [SERVER, hex(pkts[3]!)]]);
  });

  it('a SACK before the ACK (ACK lost) counts as the ACK; a SACK from another server is ignored', () => {
    const c = mk();
    c.handle(call(4000), 0);
    const pkts = split('REQUEST', 'LB_ROUTE', 1, requestBody('client1', 1, 4000, 5, 16));
    const out = c.handle(rx(SERVER, sackPacket(1, [1, 2, 3])), 10);
    expect(traces(out)).toEqual([{ action: 'ClientReceiveAck', rid: 1, server: SERVER }]);
    expect(sends(out).map((p) => [p.dst, hex(p.data)])).toEqual(pkts.slice(1).map((p) => [SERVER, hex(p)]));
    expect(c.handle(rx(SERVER2, sackPacket(1, [1])), 11)).toEqual([]);
    expect(c.handle(rx(SERVER2, ackPacket(1)), 12)).toEqual([]);
    expect(actions(c.handle(rx(SERVER, sackPacket(1, [1])), 13))).toEqual(['ClientResend']);
  });

  it('ACK or SACK for a single-packet or unknown request is ignored', () => {
    const c = mk();
    c.handle(call(10), 0);
    expect(c.handle(rx(SERVER, ackPacket(1)), 1)).toEqual([]);
    expect(c.handle(rx(SERVER, sackPacket(1, [1])), 1)).toEqual([]);
    expect(c.handle(rx(SERVER, ackPacket(2)), 1)).toEqual([]);
  });

  it('reassembles a multi-packet reply under reordering and duplication, byte-exact', () => {
    const c = mk();
    c.handle(call(10, 1, 5000), 0);
    const reply = new Uint8Array(5000).map((_, i) => (i * 7) & 255);
    const ps = split('RESPONSE', 'FIXED_ROUTE', 1, reply);
    expect(ps).toHaveLength(4);
    const order = [ps[2]!, ps[3]!, ps[2]!, ps[0]!, ps[3]!, ps[1]!];
    const outs = order.map((p, i) => c.handle(rx(SERVER, p), 10 + i));
    expect(outs.slice(0, 5).flat()).toEqual([]);
    const n = notifies<ClientNotification>(outs[5]!);
    expect(n).toHaveLength(1);
    expect(hex(n[0]!.reply!)).toBe(hex(reply));
    expect(traces(outs[5]!)).toEqual([{ action: 'ClientReceiveReply', rid: 1, replyRid: 1, server: SERVER, digest: digest(reply) }]);
    expect(c.handle(rx(SERVER, ps[1]!), 20)).toEqual([]);
  });

  it('DROP completes with an error, the timer with a timeout', () => {
    const c = mk();
    c.handle(call(10), 0);
    c.handle(call(10), 0);
    const drop = c.handle(rx(ROUTER, dropPacket(1)), 5);
    expect(traces(drop)).toEqual([{ action: 'ClientReceiveDrop', rid: 1, from: ROUTER }]);
    expect(notifies(drop)).toEqual([{ rid: 1, outcome: 'error' }]);
    expect(drop).toContainEqual({ kind: 'cancelTimer', name: 'req:1' });
    expect(c.handle(rx(ROUTER, dropPacket(1)), 6)).toEqual([]);
    const to = c.handle(timer('req:2'), 1000);
    expect(traces(to)).toEqual([{ action: 'ClientTimeout', rid: 2 }]);
    expect(notifies(to)).toEqual([{ rid: 2, outcome: 'timeout' }]);
    expect(c.handle(timer('req:2'), 1001)).toEqual([]);
    expect(c.handle(timer('bogus'), 1001)).toEqual([]);
    // A reply after the timeout is ignored.
    expect(c.handle(rx(SERVER, split('RESPONSE', 'FIXED_ROUTE', 2, new Uint8Array(1))[0]!), 1100)).toEqual([]);
  });

  it('closed loop (window 2): a third call waits, and each completion (reply, DROP, timeout) issues the next', () => {
    const c = new R2p2Client('client1', CLIENT, { ...cfg, window: 2 });
    expect(actions(c.handle(call(10), 0))).toEqual(['ClientSend']);
    expect(actions(c.handle(call(10), 0))).toEqual(['ClientSend']);
    // Beyond the window: no event, nothing sent, no timer.
    expect(c.handle(call(10), 0)).toEqual([]);
    expect(c.handle(call(10), 0)).toEqual([]);
    expect(c.handle(call(10), 0)).toEqual([]);
    expect(c.pendingRids()).toEqual([1, 2]);
    expect(c.waitingCalls()).toBe(3);
    const reply = c.handle(rx(SERVER, split('RESPONSE', 'FIXED_ROUTE', 1, new Uint8Array(2))[0]!), 40);
    expect(traces(reply).map((e) => [e.action, e['rid']])).toEqual([['ClientReceiveReply', 1], ['ClientSend', 3]]);
    expect(timers(reply)).toEqual([{ name: 'req:3', at: 1040 }]);
    const drop = c.handle(rx(ROUTER, dropPacket(2)), 50);
    expect(traces(drop).map((e) => [e.action, e['rid']])).toEqual([['ClientReceiveDrop', 2], ['ClientSend', 4]]);
    const to = c.handle(timer('req:3'), 1040);
    expect(traces(to).map((e) => [e.action, e['rid']])).toEqual([['ClientTimeout', 3], ['ClientSend', 5]]);
    expect(c.pendingRids()).toEqual([4, 5]);
    expect(c.waitingCalls()).toBe(0);
    // A packet that completes nothing issues nothing.
    expect(c.handle(rx(SERVER, new Uint8Array([1])), 1100)).toEqual([]);
  });

  it('window is an optional positive integer in the config', async () => {
    const { parseClientConfig } = await import('./client.ts');
    expect(parseClientConfig({ router: ROUTER, timeoutUs: 5 })).toEqual({ router: ROUTER, timeoutUs: 5 });
    expect(parseClientConfig({ router: ROUTER, timeoutUs: 5, window: 3 })).toEqual({ router: ROUTER, timeoutUs: 5, window: 3 });
    expect(() => parseClientConfig({ router: ROUTER, timeoutUs: 5, window: 0 })).toThrow(/window/);
    expect(() => parseClientConfig({ router: ROUTER, timeoutUs: 5, window: 1.5 })).toThrow(/window/);
  });

  it('rids count from 1 and wrap after 65535 to 0', () => {
    const c = mk();
    const rids: number[] = [];
    for (let i = 0; i < 65537; i++) {
      const out = c.handle(call(8), i);
      const rid = traces(out)[0]!['rid'] as number;
      rids.push(rid);
      c.handle(timer(`req:${rid}`), i);
    }
    expect(rids.slice(0, 2)).toEqual([1, 2]);
    expect(rids.slice(-3)).toEqual([65535, 0, 1]);
  });

  it('ignores garbage, FEEDBACK and requests', () => {
    const c = mk();
    c.handle(call(10), 0);
    expect(c.handle(rx(SERVER, new Uint8Array([1, 2, 3])), 1)).toEqual([]);
    expect(c.handle(rx(SERVER, feedbackPacket(CLIENT, 1)), 1)).toEqual([]);
    expect(c.handle(rx(SERVER, split('REQUEST', 'LB_ROUTE', 1, new Uint8Array(2))[0]!), 1)).toEqual([]);
    expect(c.pendingRids()).toEqual([1]);
  });

  it('rejects malformed commands', () => {
    const c = mk();
    expect(() => c.handle({ kind: 'command', command: { kind: 'call', size: -1, serviceUs: 0, replySize: 0 } }, 0)).toThrow(/size/);
    expect(() => c.handle({ kind: 'command', command: { kind: 'nope' } as never }, 0)).toThrow(/unknown command/);
  });

  it('is deterministic: same inputs, same outputs', () => {
    const inputs: CoreInput<ClientCommand>[] = [
      call(3000), call(10), rx(SERVER, ackPacket(1)), rx(SERVER, sackPacket(1, [2])),
      rx(SERVER, split('RESPONSE', 'FIXED_ROUTE', 2, new Uint8Array(9))[0]!), timer('req:1'),
    ];
    const run = (): unknown[] => { const c = mk(); return inputs.map((i, t) => c.handle(i, t)); };
    expect(run()).toEqual(run());
  });

  describe(`seeded bug ${BUG_CLIENT_ACCEPTS_WRONG_RID}`, () => {
    it('completes the oldest pending request with a reply for another rid', () => {
      const reply = split('RESPONSE', 'FIXED_ROUTE', 2, new Uint8Array(4))[0]!;
      const good = mk();
      good.handle(call(10), 0);
      good.handle(call(10), 0);
      expect(traces(good.handle(rx(SERVER, reply), 5))).toEqual([
        { action: 'ClientReceiveReply', rid: 2, replyRid: 2, server: SERVER, digest: digest(new Uint8Array(4)) },
      ]);
      const bad = mk([BUG_CLIENT_ACCEPTS_WRONG_RID]);
      bad.handle(call(10), 0);
      bad.handle(call(10), 0);
      expect(traces(bad.handle(rx(SERVER, reply), 5))).toEqual([
        { action: 'ClientReceiveReply', rid: 1, replyRid: 2, server: SERVER, digest: digest(new Uint8Array(4)) },
      ]);
      // A duplicate of the same reply now completes request 2 as well.
      expect(actions(bad.handle(rx(SERVER, reply), 6))).toEqual(['ClientReceiveReply']);
    });
  });
});
