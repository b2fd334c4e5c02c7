import { describe, expect, it } from 'vitest';
import type { Core, CoreInput, CoreOutput } from '../core.ts';
import { Rng } from '../rng.ts';
import { ackPacket, decode, dropPacket, encode, feedbackPacket, sackPacket, split, type DataMsg } from '../r2p2/codec.ts';
import { ConfigError } from '../r2p2/common.ts';
import { CLIENT, CLIENT2, MiniNet, SERVER, SERVER2, actions, msg, notifies, recv, sends, timer, timers, traces } from '../r2p2/test-helpers.ts';
import {
  CommandError, HOVERCRAFT_CLIENT_ROLE, HovercraftClient, RID_BLOCK, RID_MAX, createHovercraftClient, nextRidAfter,
  type HovercraftClientCommand, type HovercraftClientNotification,
} from './client.ts';
import { KvStore, decodeOp, encodeResult } from './kv.ts';
import { HovercraftMiddlebox } from './middlebox.ts';

const MIDDLEBOX = '10.0.0.2:7000';
const cfg = { middlebox: MIDDLEBOX, timeoutUs: 1000 };
const mk = (): HovercraftClient => new HovercraftClient('client1', CLIENT, cfg);
type In = CoreInput<HovercraftClientCommand>;
type Outs = CoreOutput<HovercraftClientNotification>[];
const cmd = (command: HovercraftClientCommand): In => ({ kind: 'command', command });
const get = (key: string): In => cmd({ op: 'get', key });
const put = (key: string, value: string): In => cmd({ op: 'put', key, value });
const rx = (src: string, data: Uint8Array): In => recv(src, CLIENT, data);
const response = (rid: number, body: Uint8Array, policy: 'FIXED_ROUTE' | 'REPLICATED_ROUTE' = 'FIXED_ROUTE'): Uint8Array =>
  split('RESPONSE', policy, rid, body)[0]!;
const reply = (rid: number, result: string | boolean | null): Uint8Array => response(rid, encodeResult(result));
const ridOf = (out: Outs): number => traces(out).find((e) => e.action === 'ClientRequest')!['rid'] as number;

describe('hovercraft-client', () => {
  it('put: one REQUEST with REPLICATED_ROUTE and the encoded op to the middlebox, ClientRequest, timer armed', () => {
    const c = mk();
    expect(c.handle({ kind: 'start' }, 0)).toEqual([]);
    const out = c.handle(put('k', 'v'), 50);
    expect(traces(out)).toEqual([
      { action: 'ClientRequest', rid: 1, op: 'put', key: 'k', value: 'v', expected: null, ro: false },
    ]);
    const [p, ...rest] = sends(out);
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ src: CLIENT, dst: MIDDLEBOX });
    const m = msg(p!.data) as DataMsg;
    expect(m).toMatchObject({ type: 'REQUEST', policy: 'REPLICATED_ROUTE', rid: 1, first: true, last: true, order: 1 });
    expect(decodeOp(m.payload)).toEqual({ op: 'put', key: 'k', value: 'v' });
    expect(timers(out)).toEqual([{ name: 'op:1', at: 1050 }]);
  });

  it('get is read-only (REPLICATED_ROUTE_NO_SE); cas carries expected and value', () => {
    const c = mk();
    const g = c.handle(get('k'), 0);
    expect(traces(g)).toEqual([{ action: 'ClientRequest', rid: 1, op: 'get', key: 'k', value: null, expected: null, ro: true }]);
    expect(msg(sends(g)[0]!.data)).toMatchObject({ type: 'REQUEST', policy: 'REPLICATED_ROUTE_NO_SE' });
    c.handle(rx(SERVER, reply(1, null)), 10);
    const s = c.handle(cmd({ op: 'cas', key: 'k', expected: 'a', value: 'b' }), 20);
    expect(traces(s)).toEqual([{ action: 'ClientRequest', rid: 2, op: 'cas', key: 'k', value: 'b', expected: 'a', ro: false }]);
    const m = msg(sends(s)[0]!.data) as DataMsg;
    expect(m.policy).toBe('REPLICATED_ROUTE');
    expect(decodeOp(m.payload)).toEqual({ op: 'cas', key: 'k', expected: 'a', value: 'b' });
    c.handle(rx(SERVER, reply(2, false)), 30);
    // A cas without expected expects the key to be unset.
    const u = c.handle(cmd({ op: 'cas', key: 'k', value: 'b' }), 40);
    expect(traces(u)[0]).toMatchObject({ op: 'cas', expected: null, value: 'b' });
  });

  it('a RESPONSE with the rid from any address completes the op: ClientReceiveReply, timer cancelled, notify', () => {
    const c = mk();
    c.handle(get('k'), 0);
    const out = c.handle(rx(SERVER2, reply(1, 'v')), 100);
    expect(traces(out)).toEqual([{ action: 'ClientReceiveReply', rid: 1, from: SERVER2, result: 'v' }]);
    expect(out).toContainEqual({ kind: 'cancelTimer', name: 'op:1' });
    expect(notifies(out)).toEqual([{ rid: 1, op: { op: 'get', key: 'k' }, outcome: 'reply', from: SERVER2, result: 'v' }]);
    expect(c.outstandingRid()).toBeUndefined();
  });

  it('accepts only the first reply; later duplicates from any address, and the late timer, do nothing', () => {
    const c = mk();
    c.handle(put('k', 'v'), 0);
    expect(actions(c.handle(rx(SERVER, reply(1, true)), 10))).toEqual(['ClientReceiveReply']);
    expect(c.handle(rx(SERVER, reply(1, true)), 11)).toEqual([]);
    expect(c.handle(rx(SERVER2, reply(1, true)), 12)).toEqual([]);
    expect(c.handle(rx(MIDDLEBOX, dropPacket(1)), 13)).toEqual([]);
    expect(c.handle(timer('op:1'), 1000)).toEqual([]);
  });

  it('matches by rid: replies and DROPs for another rid are ignored', () => {
    const c = mk();
    c.handle(put('k', 'v'), 0);
    c.handle(rx(SERVER, reply(1, true)), 10);
    c.handle(put('k', 'w'), 20); // rid 2
    expect(c.handle(rx(SERVER, reply(1, true)), 21)).toEqual([]);
    expect(c.handle(rx(SERVER, reply(3, true)), 22)).toEqual([]);
    expect(c.handle(rx(MIDDLEBOX, dropPacket(1)), 23)).toEqual([]);
    expect(c.handle(timer('op:1'), 24)).toEqual([]);
    expect(c.outstandingRid()).toBe(2);
    expect(traces(c.handle(rx(SERVER2, reply(2, true)), 30))).toEqual([
      { action: 'ClientReceiveReply', rid: 2, from: SERVER2, result: true },
    ]);
  });

  it('a DROP with the rid is the NACK: ClientReceiveNack, timer cancelled, notify', () => {
    const c = mk();
    c.handle(put('k', 'v'), 0);
    const out = c.handle(rx(MIDDLEBOX, dropPacket(1)), 5);
    expect(traces(out)).toEqual([{ action: 'ClientReceiveNack', rid: 1 }]);
    expect(out).toContainEqual({ kind: 'cancelTimer', name: 'op:1' });
    expect(notifies(out)).toEqual([{ rid: 1, op: { op: 'put', key: 'k', value: 'v' }, outcome: 'nack' }]);
    // A reply after the NACK is ignored.
    expect(c.handle(rx(SERVER, reply(1, true)), 6)).toEqual([]);
  });

  it('the timer completes the op as unknown: ClientTimeout and notify; a reply after it is ignored', () => {
    const c = mk();
    c.handle(put('k', 'v'), 0);
    const out = c.handle(timer('op:1'), 1000);
    expect(traces(out)).toEqual([{ action: 'ClientTimeout', rid: 1 }]);
    expect(notifies(out)).toEqual([{ rid: 1, op: { op: 'put', key: 'k', value: 'v' }, outcome: 'timeout' }]);
    expect(c.handle(timer('op:1'), 1001)).toEqual([]);
    expect(c.handle(timer('bogus'), 1001)).toEqual([]);
    expect(c.handle(rx(SERVER, reply(1, true)), 1100)).toEqual([]);
  });

  it('one operation at a time: commands queue FIFO and go out as each one completes', () => {
    const c = mk();
    expect(ridOf(c.handle(put('a', '1'), 0))).toBe(1);
    expect(c.handle(put('b', '2'), 1)).toEqual([]);
    expect(c.handle(get('c'), 2)).toEqual([]);
    expect(c.queued()).toBe(2);

    // Reply to 1: completes it and sends the put of b (rid 2) at once, timer from now.
    const r1 = c.handle(rx(SERVER, reply(1, true)), 10);
    expect(actions(r1)).toEqual(['ClientReceiveReply', 'ClientRequest']);
    expect(traces(r1)[1]).toMatchObject({ rid: 2, op: 'put', key: 'b' });
    expect(sends(r1).map((p) => p.dst)).toEqual([MIDDLEBOX]);
    expect(timers(r1)).toEqual([{ name: 'op:2', at: 1010 }]);
    const n1 = notifies(r1);
    expect(n1).toHaveLength(1);
    expect(n1[0]!.rid).toBe(1);

    // NACK of 2: the get of c goes out.
    const r2 = c.handle(rx(MIDDLEBOX, dropPacket(2)), 20);
    expect(actions(r2)).toEqual(['ClientReceiveNack', 'ClientRequest']);
    expect(traces(r2)[1]).toMatchObject({ rid: 3, op: 'get', key: 'c', ro: true });

    // Timeout of 3: nothing left to send.
    const r3 = c.handle(timer('op:3'), 1020);
    expect(actions(r3)).toEqual(['ClientTimeout']);
    expect(sends(r3)).toEqual([]);
    expect(c.queued()).toBe(0);
    expect(c.outstandingRid()).toBeUndefined();
  });

  it('ignores garbage and packets it has no business with, never throwing', () => {
    const c = mk();
    c.handle(put('k', 'v'), 0);
    const junk: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([1, 2, 3]),
      new Uint8Array(2000),
      Uint8Array.of(0xcc, 8, 0x10, 0xc0, 0, 1, 0, 1), // a RESPONSE for rid 1 with an empty body
      response(1, new TextEncoder().encode('not json')),
      response(1, new TextEncoder().encode('{"result":42}')),
      response(1, Uint8Array.of(0xff, 0xfe)),
      ackPacket(1),
      sackPacket(1, [1]),
      feedbackPacket(CLIENT, 1),
      split('REQUEST', 'REPLICATED_ROUTE', 1, new Uint8Array(3))[0]!,
      encode({ type: 'RAFT_MSG', policy: 'LB_ROUTE', rid: 1, first: true, last: true, order: 1, payload: new Uint8Array(4) }),
      // A multi-packet RESPONSE: results always fit one packet, so this is not a reply to us.
      ...split('RESPONSE', 'FIXED_ROUTE', 1, encodeResult('x'.repeat(3000))),
    ];
    for (const j of junk) expect(c.handle(rx(SERVER, j), 1)).toEqual([]);
    const rng = new Rng(7);
    for (let i = 0; i < 500; i++) {
      const b = new Uint8Array(rng.int(40));
      for (let k = 0; k < b.length; k++) b[k] = rng.int(256);
      if (rng.chance(0.5) && b.length >= 8) { b[0] = 0xcc; b[1] = 8; b[4] = 0; b[5] = 1; }
      expect(() => c.handle(rx(SERVER, b), 2)).not.toThrow();
    }
    expect(c.outstandingRid()).toBe(1);
  });

  it('a RESPONSE carrying any policy is a reply', () => {
    const c = mk();
    c.handle(put('k', 'v'), 0);
    expect(actions(c.handle(rx(SERVER, response(1, encodeResult(true), 'REPLICATED_ROUTE')), 1))).toEqual(['ClientReceiveReply']);
  });

  it('rejects malformed commands with CommandError, without changing state', () => {
    const c = mk();
    const bad: unknown[] = [
      null, 'get', {}, { op: 'get' }, { op: 'get', key: 1 }, { op: 'del', key: 'k' },
      { op: 'get', key: 'k', value: 'v' }, { op: 'put', key: 'k' }, { op: 'put', key: 'k', value: 1 },
      { op: 'put', key: 'k', value: 'v', expected: 'e' }, { op: 'cas', key: 'k', expected: 'e' },
      { op: 'cas', key: 'k', expected: 3, value: 'v' },
      { op: 'put', key: 'k', value: 'x'.repeat(2000) },
    ];
    for (const b of bad) expect(() => c.handle(cmd(b as HovercraftClientCommand), 0)).toThrow(CommandError);
    expect(c.outstandingRid()).toBeUndefined();
    expect(ridOf(c.handle(get('k'), 0))).toBe(1);
    // A bad command while one is outstanding is rejected too, not queued.
    expect(() => c.handle(cmd({ op: 'nope' } as never), 0)).toThrow(CommandError);
    expect(c.queued()).toBe(0);
  });

  it('config: parsed and checked by the factory', () => {
    const c = createHovercraftClient(cfg, { node: 'client1', addr: CLIENT });
    expect(c.config).toEqual(cfg);
    expect(HOVERCRAFT_CLIENT_ROLE).toBe('hovercraft-client');
    expect(() => createHovercraftClient({ middlebox: 'nowhere', timeoutUs: 1 }, { node: 'c', addr: CLIENT })).toThrow(ConfigError);
    expect(() => createHovercraftClient({ middlebox: MIDDLEBOX, timeoutUs: 0 }, { node: 'c', addr: CLIENT })).toThrow(/timeoutUs/);
    expect(() => createHovercraftClient({ middlebox: MIDDLEBOX }, { node: 'c', addr: CLIENT })).toThrow(/timeoutUs/);
    expect(() => createHovercraftClient({ ...cfg, extra: 1 }, { node: 'c', addr: CLIENT })).toThrow(/extra/);
  });

  describe('rids', () => {
    it('run 1, 2, … and wrap from 65535 to 1, skipping 0', () => {
      expect(nextRidAfter(1)).toBe(2);
      expect(nextRidAfter(RID_MAX)).toBe(1);
      const c = mk();
      const rids: number[] = [];
      for (let i = 0; i < RID_MAX + 2; i++) {
        const rid = ridOf(c.handle(put('k', 'v'), i));
        rids.push(rid);
        c.handle(timer(`op:${rid}`), i);
      }
      expect(rids.slice(0, 3)).toEqual([1, 2, 3]);
      expect(rids.slice(-3)).toEqual([RID_MAX, 1, 2]);
      expect(rids).not.toContain(0);
    });

    it('persist the end of each reserved block before the first request of the block leaves', () => {
      const c = mk();
      const first = c.handle(put('k', 'v'), 0);
      expect(first[0]).toEqual({ kind: 'persist', state: { nextRid: 1 + RID_BLOCK } });
      let persists = 1;
      for (let i = 1; i <= RID_BLOCK; i++) {
        c.handle(timer(`op:${i}`), i);
        const out = c.handle(put('k', 'v'), i);
        const p = out.filter((o) => o.kind === 'persist');
        persists += p.length;
        if (i === RID_BLOCK) expect(p).toEqual([{ kind: 'persist', state: { nextRid: 1 + 2 * RID_BLOCK } }]);
        else expect(p).toEqual([]);
      }
      expect(persists).toBe(2);
    });

    it('a restarted client continues after the persisted block, so it never reuses a recent rid', () => {
      const c = mk();
      const p = c.handle(put('k', 'v'), 0).find((o) => o.kind === 'persist');
      const restarted = mk();
      expect(restarted.handle({ kind: 'start', stable: p!.kind === 'persist' ? p!.state : null }, 10)).toEqual([]);
      const out = restarted.handle(put('k', 'v'), 10);
      expect(ridOf(out)).toBe(1 + RID_BLOCK);
      expect(out[0]).toEqual({ kind: 'persist', state: { nextRid: 1 + 2 * RID_BLOCK } });
      // Unusable stable state is ignored.
      for (const stable of [null, 7, 'x', [], { nextRid: 0 }, { nextRid: 70000 }, { nextRid: 1.5 }]) {
        const r = mk();
        r.handle({ kind: 'start', stable }, 0);
        expect(ridOf(r.handle(get('k'), 0))).toBe(1);
      }
    });
  });

  it('is deterministic: same inputs, same outputs', () => {
    const inputs: In[] = [
      put('a', '1'), get('a'), rx(SERVER, reply(1, true)), rx(MIDDLEBOX, dropPacket(2)),
      cmd({ op: 'cas', key: 'a', expected: '1', value: '2' }), timer('op:3'),
    ];
    const run = (): unknown[] => { const c = mk(); return inputs.map((i, t) => c.handle(i, t)); };
    expect(run()).toEqual(run());
  });
});

// ---------------------------------------------------------------- end to end

/**
 * A stand-in for a replica: applies every replicated request it receives to its own store, answers
 * the client from its own address and sends a slot-form FEEDBACK to the middlebox.
 */
class StubNode implements Core<never, never> {
  readonly store = new KvStore();
  constructor(readonly node: string, readonly addr: string, private readonly middlebox: string) {}
  handle(input: CoreInput<never>): CoreOutput<never>[] {
    if (input.kind !== 'receive') return [];
    const d = decode(input.packet.data);
    if (!d.ok || d.msg.type !== 'REQUEST') return [];
    const op = decodeOp(d.msg.payload);
    if ('error' in op) return [];
    const client = input.packet.src;
    const rid = d.msg.rid;
    return [
      { kind: 'send', packet: { src: this.addr, dst: client, data: split('RESPONSE', 'FIXED_ROUTE', rid, encodeResult(this.store.apply(op)))[0]! } },
      { kind: 'send', packet: { src: this.addr, dst: this.middlebox, data: feedbackPacket(client, rid) } },
    ];
  }
}

const NODE_ADDRS = ['10.0.1.1:9000', '10.0.1.2:9000', '10.0.1.3:9000'];

function world(threshold = 4, slotTimeoutUs = 500, timeoutUs = 1000) {
  const net = new MiniNet(10);
  const mb = new HovercraftMiddlebox('middlebox', MIDDLEBOX, { nodes: NODE_ADDRS, threshold, slotTimeoutUs });
  const nodes = NODE_ADDRS.map((a, i) => new StubNode(`node${i + 1}`, a, MIDDLEBOX));
  const c1 = new HovercraftClient('client1', CLIENT, { middlebox: MIDDLEBOX, timeoutUs });
  const c2 = new HovercraftClient('client2', CLIENT2, { middlebox: MIDDLEBOX, timeoutUs });
  for (const core of [mb, ...nodes, c1, c2]) net.add(core);
  const issue = (addr: string, command: HovercraftClientCommand, at = net.now): void =>
    net.inject(addr, { kind: 'command', command }, at);
  const of = (node: string) => net.events.filter((e) => e.node === node).map(({ t: _t, node: _n, ...body }) => body);
  return { net, mb, nodes, issue, of };
}

describe('hovercraft-client + middlebox + stub nodes, end to end', () => {
  it('operations complete one at a time with the first reply; every slot is freed', () => {
    const { net, mb, nodes, issue, of } = world();
    issue(CLIENT, { op: 'put', key: 'a', value: '1' });
    issue(CLIENT, { op: 'get', key: 'a' });
    issue(CLIENT, { op: 'cas', key: 'a', expected: '1', value: '2' });
    issue(CLIENT, { op: 'cas', key: 'a', expected: '1', value: '3' });
    issue(CLIENT, { op: 'get', key: 'a' });
    net.run(10_000);

    const client = of('client1');
    expect(client.map((e) => e.action)).toEqual([
      'ClientRequest', 'ClientReceiveReply', 'ClientRequest', 'ClientReceiveReply', 'ClientRequest', 'ClientReceiveReply',
      'ClientRequest', 'ClientReceiveReply', 'ClientRequest', 'ClientReceiveReply',
    ]);
    expect(client.filter((e) => e.action === 'ClientReceiveReply')).toEqual([
      { action: 'ClientReceiveReply', rid: 1, from: NODE_ADDRS[0], result: true },
      { action: 'ClientReceiveReply', rid: 2, from: NODE_ADDRS[0], result: '1' },
      { action: 'ClientReceiveReply', rid: 3, from: NODE_ADDRS[0], result: true },
      { action: 'ClientReceiveReply', rid: 4, from: NODE_ADDRS[0], result: false },
      { action: 'ClientReceiveReply', rid: 5, from: NODE_ADDRS[0], result: '2' },
    ]);
    expect(client.filter((e) => e.action === 'ClientRequest').map((e) => [e['rid'], e['op'], e['ro']])).toEqual([
      [1, 'put', false], [2, 'get', true], [3, 'cas', false], [4, 'cas', false], [5, 'get', true],
    ]);
    expect(net.notes.filter((n) => n.node === 'client1').map((n) => (n.value as HovercraftClientNotification).outcome))
      .toEqual(['reply', 'reply', 'reply', 'reply', 'reply']);

    // Each request takes a slot and its first FEEDBACK frees it; the other two FEEDBACKs are ignored.
    const box = of('middlebox');
    expect(box.map((e) => [e.action, e['rid'], e['inflight']])).toEqual([1, 2, 3, 4, 5].flatMap((rid) => [
      ['MiddleboxForward', rid, 1], ['MiddleboxFeedback', rid, 0],
    ]));
    expect(mb.inflight()).toBe(0);
    for (const n of nodes) expect(n.store.snapshot()).toEqual([['a', '2']]);
  });

  it('above the threshold the middlebox NACKs and the client reports it; inflight returns to 0', () => {
    const { net, mb, issue, of } = world(1);
    issue(CLIENT, { op: 'put', key: 'a', value: '1' });
    issue(CLIENT2, { op: 'put', key: 'b', value: '2' });
    issue(CLIENT2, { op: 'get', key: 'b' }, 100);
    net.run(10_000);
    expect(of('client1').map((e) => e.action)).toEqual(['ClientRequest', 'ClientReceiveReply']);
    expect(of('client2')).toEqual([
      { action: 'ClientRequest', rid: 1, op: 'put', key: 'b', value: '2', expected: null, ro: false },
      { action: 'ClientReceiveNack', rid: 1 },
      { action: 'ClientRequest', rid: 2, op: 'get', key: 'b', value: null, expected: null, ro: true },
      { action: 'ClientReceiveReply', rid: 2, from: NODE_ADDRS[0], result: null },
    ]);
    expect(of('middlebox').map((e) => e.action)).toEqual([
      'MiddleboxForward', 'MiddleboxNack', 'MiddleboxFeedback', 'MiddleboxForward', 'MiddleboxFeedback',
    ]);
    expect(mb.inflight()).toBe(0);
  });

  it('lost replies and FEEDBACKs: the client times out and the slot expires for the next request', () => {
    const { net, mb, issue, of } = world(1, 500, 1000);
    let lossy = true;
    net.filter = (p) => {
      const d = decode(p.data);
      return lossy && d.ok && (d.msg.type === 'RESPONSE' || d.msg.type === 'FEEDBACK') ? [] : [p];
    };
    issue(CLIENT, { op: 'put', key: 'a', value: '1' });
    issue(CLIENT, { op: 'get', key: 'a' });
    net.run(1005);
    lossy = false;
    net.run(10_000);
    expect(of('client1')).toEqual([
      { action: 'ClientRequest', rid: 1, op: 'put', key: 'a', value: '1', expected: null, ro: false },
      { action: 'ClientTimeout', rid: 1 },
      { action: 'ClientRequest', rid: 2, op: 'get', key: 'a', value: null, expected: null, ro: true },
      { action: 'ClientReceiveReply', rid: 2, from: NODE_ADDRS[0], result: '1' },
    ]);
    expect(of('middlebox').map((e) => [e.action, e['rid'], e['inflight']])).toEqual([
      ['MiddleboxForward', 1, 1], ['MiddleboxExpire', 1, 0], ['MiddleboxForward', 2, 1], ['MiddleboxFeedback', 2, 0],
    ]);
    expect(mb.inflight()).toBe(0);
  });
});
