import { describe, expect, it } from 'vitest';
import type { CoreInput } from '../core.ts';
import { Rng } from '../rng.ts';
import type { PolicyName } from '../r2p2/actions.ts';
import { ZERO_ADDR, ackPacket, dropPacket, encode, feedbackPacket, sackPacket, split } from '../r2p2/codec.ts';
import { ConfigError } from '../r2p2/common.ts';
import { CLIENT, CLIENT2, actions, hex, msg, recv, sends, traces } from '../r2p2/test-helpers.ts';
import { encodeOp } from './kv.ts';
import { HovercraftMiddlebox, MIDDLEBOX_ROLE, createMiddlebox, parseMiddleboxConfig, type MiddleboxConfig } from './middlebox.ts';

const MB = '10.0.0.2:7000';
const NODES = ['10.0.1.1:9000', '10.0.1.2:9000', '10.0.1.3:9000'];
const cfg: MiddleboxConfig = { nodes: NODES, threshold: 2, slotTimeoutUs: 1000 };
const mk = (c: Partial<MiddleboxConfig> = {}): HovercraftMiddlebox => new HovercraftMiddlebox('middlebox', MB, { ...cfg, ...c });
const rx = (src: string, data: Uint8Array): CoreInput<never> => recv(src, MB, data);
const request = (rid: number, policy: PolicyName = 'REPLICATED_ROUTE'): Uint8Array =>
  split('REQUEST', policy, rid, encodeOp({ op: 'put', key: `k${rid}`, value: 'v' }))[0]!;
const fbCount = (client: string, rid: number): Uint8Array => feedbackPacket(client, rid, { n: 4, served: 9, epoch: 3 });

describe('hovercraft-middlebox', () => {
  it('a request with a free slot takes it and is copied to every node, keeping the client as source', () => {
    const m = mk();
    expect(m.handle({ kind: 'start' }, 0)).toEqual([]);
    const p = request(1);
    const out = m.handle(rx(CLIENT, p), 10);
    expect(traces(out)).toEqual([{ action: 'MiddleboxForward', client: CLIENT, rid: 1, inflight: 1 }]);
    expect(sends(out)).toEqual(NODES.map((dst) => ({ src: CLIENT, dst, data: p })));
    expect(m.inflight()).toBe(1);
    expect(m.slots()).toEqual([{ slot: 0, client: CLIENT, rid: 1, since: 10 }]);
  });

  it('read-only requests (REPLICATED_ROUTE_NO_SE) are admitted the same way', () => {
    const m = mk();
    const p = request(4, 'REPLICATED_ROUTE_NO_SE');
    const out = m.handle(rx(CLIENT, p), 0);
    expect(actions(out)).toEqual(['MiddleboxForward']);
    expect(sends(out).map((s) => [s.src, s.dst, hex(s.data)])).toEqual(NODES.map((d) => [CLIENT, d, hex(p)]));
  });

  it('NACK (an R2P2 DROP from the middlebox) when every slot is taken', () => {
    const m = mk();
    m.handle(rx(CLIENT, request(1)), 0);
    expect(traces(m.handle(rx(CLIENT2, request(1)), 1))).toEqual([
      { action: 'MiddleboxForward', client: CLIENT2, rid: 1, inflight: 2 },
    ]);
    const n = m.handle(rx(CLIENT, request(2)), 2);
    expect(traces(n)).toEqual([{ action: 'MiddleboxNack', client: CLIENT, rid: 2, inflight: 2 }]);
    expect(sends(n)).toEqual([{ src: MB, dst: CLIENT, data: dropPacket(2) }]);
    expect(msg(sends(n)[0]!.data)).toMatchObject({ type: 'DROP', rid: 2 });
    expect(m.inflight()).toBe(2);
  });

  it('threshold 0 refuses everything', () => {
    const m = mk({ threshold: 0 });
    expect(traces(m.handle(rx(CLIENT, request(1)), 0))).toEqual([{ action: 'MiddleboxNack', client: CLIENT, rid: 1, inflight: 0 }]);
  });

  it('a slot-form FEEDBACK from any node frees the slot of (client, rid); the freed slot is reused', () => {
    const m = mk();
    m.handle(rx(CLIENT, request(1)), 0);
    m.handle(rx(CLIENT, request(2)), 0);
    const f = m.handle(rx(NODES[2]!, feedbackPacket(CLIENT, 1)), 5);
    expect(f).toEqual([{ kind: 'trace', event: { action: 'MiddleboxFeedback', client: CLIENT, rid: 1, inflight: 1 } }]);
    expect(m.slots().map((s) => s.rid)).toEqual([2]);
    expect(traces(m.handle(rx(CLIENT2, request(9)), 6))).toEqual([
      { action: 'MiddleboxForward', client: CLIENT2, rid: 9, inflight: 2 },
    ]);
    expect(m.slots()).toEqual([{ slot: 0, client: CLIENT2, rid: 9, since: 6 }, { slot: 1, client: CLIENT, rid: 2, since: 0 }]);
  });

  it('a count-form FEEDBACK frees the slot too', () => {
    const m = mk();
    m.handle(rx(CLIENT, request(1)), 0);
    expect(traces(m.handle(rx(NODES[0]!, fbCount(CLIENT, 1)), 5))).toEqual([
      { action: 'MiddleboxFeedback', client: CLIENT, rid: 1, inflight: 0 },
    ]);
  });

  it('a FEEDBACK for no slot is ignored: duplicates, other clients, other rids, announces', () => {
    const m = mk();
    m.handle(rx(CLIENT, request(1)), 0);
    expect(actions(m.handle(rx(NODES[0]!, feedbackPacket(CLIENT, 1)), 1))).toEqual(['MiddleboxFeedback']);
    m.handle(rx(CLIENT, request(2)), 2);
    for (const fb of [
      feedbackPacket(CLIENT, 1), fbCount(CLIENT, 1), feedbackPacket(CLIENT2, 2), feedbackPacket(CLIENT, 3),
      feedbackPacket(ZERO_ADDR, 0), fbCount(ZERO_ADDR, 0),
    ]) {
      expect(m.handle(rx(NODES[1]!, fb), 3)).toEqual([]);
    }
    expect(m.slots().map((s) => [s.client, s.rid])).toEqual([[CLIENT, 2]]);
  });

  it('a duplicate of a request holding a slot is copied to the nodes again without taking a second slot', () => {
    const m = mk();
    const p = request(1);
    m.handle(rx(CLIENT, p), 0);
    const d = m.handle(rx(CLIENT, p), 5);
    expect(traces(d)).toEqual([]);
    expect(sends(d)).toEqual(NODES.map((dst) => ({ src: CLIENT, dst, data: p })));
    expect(m.inflight()).toBe(1);
    // Even when the table is full, a duplicate is forwarded, not refused.
    m.handle(rx(CLIENT2, request(1)), 6);
    expect(m.inflight()).toBe(2);
    const d2 = m.handle(rx(CLIENT, p), 7);
    expect(traces(d2)).toEqual([]);
    expect(sends(d2).map((s) => s.dst)).toEqual(NODES);
    // Once its slot is freed, the same triplet is a new request again.
    m.handle(rx(NODES[0]!, feedbackPacket(CLIENT, 1)), 8);
    expect(actions(m.handle(rx(CLIENT, p), 9))).toEqual(['MiddleboxForward']);
  });

  it('a full table reclaims the oldest slot once it is older than the slot timeout (MiddleboxExpire first)', () => {
    const m = mk({ slotTimeoutUs: 100 });
    m.handle(rx(CLIENT, request(1)), 0);
    m.handle(rx(CLIENT, request(2)), 50);
    // At 100 the oldest slot is exactly 100 µs old: not older than the timeout.
    expect(actions(m.handle(rx(CLIENT2, request(7)), 100))).toEqual(['MiddleboxNack']);
    const e = m.handle(rx(CLIENT2, request(7)), 101);
    expect(traces(e)).toEqual([
      { action: 'MiddleboxExpire', client: CLIENT, rid: 1, inflight: 1 },
      { action: 'MiddleboxForward', client: CLIENT2, rid: 7, inflight: 2 },
    ]);
    expect(sends(e).map((s) => [s.src, s.dst])).toEqual(NODES.map((d) => [CLIENT2, d]));
    expect(m.slots()).toEqual([{ slot: 0, client: CLIENT2, rid: 7, since: 101 }, { slot: 1, client: CLIENT, rid: 2, since: 50 }]);
    // Only one slot is reclaimed per request: rid 2 (51 µs old) is still held.
    expect(actions(m.handle(rx(CLIENT2, request(8)), 120))).toEqual(['MiddleboxNack']);
    expect(actions(m.handle(rx(CLIENT2, request(8)), 151))).toEqual(['MiddleboxExpire', 'MiddleboxForward']);
    // A FEEDBACK for the expired request finds no slot.
    expect(m.handle(rx(NODES[0]!, feedbackPacket(CLIENT, 1)), 160)).toEqual([]);
  });

  it('a free slot is taken before an expired one is reclaimed; expiry is lazy', () => {
    const m = mk({ slotTimeoutUs: 100 });
    m.handle(rx(CLIENT, request(1)), 0);
    expect(traces(m.handle(rx(CLIENT, request(2)), 500))).toEqual([
      { action: 'MiddleboxForward', client: CLIENT, rid: 2, inflight: 2 },
    ]);
    expect(m.handle({ kind: 'timer', name: 'anything' }, 600)).toEqual([]);
    expect(m.inflight()).toBe(2);
  });

  it('ignores other types and policies, REQn and multi-packet REQ0s, and malformed datagrams, never throwing', () => {
    const m = mk();
    const big = split('REQUEST', 'REPLICATED_ROUTE', 3, new Uint8Array(4000));
    const ignored: Uint8Array[] = [
      request(1, 'LB_ROUTE'), request(1, 'FIXED_ROUTE'), big[0]!, big[1]!, big[2]!,
      split('RESPONSE', 'REPLICATED_ROUTE', 1, new Uint8Array(3))[0]!,
      ackPacket(1), dropPacket(1), sackPacket(1, [1]),
      encode({ type: 'RAFT_REQ', policy: 'REPLICATED_ROUTE', rid: 1, first: true, last: true, order: 1, payload: new Uint8Array(2) }),
      new Uint8Array(0), new Uint8Array([0xcc]), new Uint8Array(3000), Uint8Array.of(0xcc, 8, 0x2f, 0xc0, 0, 1, 0, 1),
    ];
    for (const p of ignored) expect(m.handle(rx(CLIENT, p), 0)).toEqual([]);
    // A source that is not an IPv4 "ip:port" cannot be named by FEEDBACK: ignored.
    expect(m.handle(rx('client-without-ip', request(1)), 0)).toEqual([]);
    const rng = new Rng(11);
    for (let i = 0; i < 1000; i++) {
      const b = new Uint8Array(rng.int(40));
      for (let k = 0; k < b.length; k++) b[k] = rng.int(256);
      if (rng.chance(0.7) && b.length >= 8) { b[0] = 0xcc; b[1] = 8; }
      expect(() => m.handle(rx(CLIENT, b), 1)).not.toThrow();
    }
    expect(m.inflight()).toBeLessThanOrEqual(cfg.threshold);
  });

  it('inflight never exceeds the threshold and always equals the slots held (random traffic)', () => {
    const rng = new Rng(5);
    const m = mk({ threshold: 4, slotTimeoutUs: 300 });
    const clients = [CLIENT, CLIENT2, '10.0.0.9:5001'];
    let now = 0;
    for (let i = 0; i < 3000; i++) {
      now += rng.int(20);
      const client = clients[rng.int(clients.length)]!;
      const rid = rng.int(8);
      const out = rng.chance(0.5)
        ? m.handle(rx(client, request(rid, rng.chance(0.5) ? 'REPLICATED_ROUTE' : 'REPLICATED_ROUTE_NO_SE')), now)
        : m.handle(rx(NODES[rng.int(3)]!, feedbackPacket(client, rid)), now);
      for (const e of traces(out)) {
        expect(e['inflight']).toBeLessThanOrEqual(4);
        expect(e['inflight']).toBeGreaterThanOrEqual(0);
        if (e.action === 'MiddleboxNack') expect(e['inflight']).toBe(4);
      }
      expect(m.inflight()).toBe(m.slots().length);
      const keys = m.slots().map((s) => `${s.client}#${s.rid}`);
      expect(new Set(keys).size).toBe(keys.length);
      const last = traces(out).at(-1);
      if (last) expect(last['inflight']).toBe(m.inflight());
    }
  });

  it('config: parsed and checked by the factory', () => {
    const m = createMiddlebox(cfg, { node: 'middlebox', addr: MB });
    expect(m.config).toEqual(cfg);
    expect(MIDDLEBOX_ROLE).toBe('hovercraft-middlebox');
    const bad: [unknown, RegExp][] = [
      [{ ...cfg, nodes: [] }, /nodes/],
      [{ ...cfg, nodes: 'x' }, /nodes/],
      [{ ...cfg, nodes: ['10.0.0.1'] }, /nodes/],
      [{ ...cfg, nodes: [NODES[0], NODES[0]] }, /nodes/],
      [{ ...cfg, threshold: -1 }, /threshold/],
      [{ ...cfg, threshold: 1.5 }, /threshold/],
      [{ ...cfg, slotTimeoutUs: 0 }, /slotTimeoutUs/],
      [{ nodes: NODES, threshold: 1 }, /slotTimeoutUs/],
      [{ ...cfg, extra: true }, /extra/],
      [null, /config/],
    ];
    for (const [c, re] of bad) {
      expect(() => parseMiddleboxConfig(c)).toThrow(ConfigError);
      expect(() => parseMiddleboxConfig(c)).toThrow(re);
    }
  });

  it('is deterministic: same inputs, same outputs', () => {
    const inputs: CoreInput<never>[] = [
      rx(CLIENT, request(1)), rx(CLIENT2, request(1)), rx(CLIENT, request(2)), rx(NODES[0]!, feedbackPacket(CLIENT, 1)),
      rx(CLIENT, request(3)), rx(CLIENT, request(4)),
    ];
    const run = (): unknown[] => { const m = mk(); return inputs.map((i, t) => m.handle(i, t * 700)); };
    expect(run()).toEqual(run());
  });
});
