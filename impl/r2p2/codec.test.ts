import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../rng.ts';
import {
  MAX_DATAGRAM, MAX_PAYLOAD, REQ0_PAYLOAD, Reassembler, ackPacket, decode, dropPacket, encode, feedbackPacket,
  formatAddr, packetCount, parseAddr, reassemble, sackPacket, split, type DataMsg, type DecodeResult, type R2p2Msg,
} from './codec.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const ok = (r: DecodeResult): R2p2Msg => {
  if (!r.ok) throw new Error(`decode failed: ${JSON.stringify(r.error)}`);
  return r.msg;
};
const errKind = (r: DecodeResult): string => (r.ok ? 'ok' : r.error.kind);

function body(n: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.nextU32() & 255;
  return b;
}

describe('exact byte layouts', () => {
  it('single-packet request: F|L, order 1', () => {
    const [p, ...rest] = split('REQUEST', 'LB_ROUTE', 1, ascii('hello'));
    expect(rest).toHaveLength(0);
    expect(hex(p!)).toBe('cc0800c000010001' + '68656c6c6f');
    expect(ok(decode(p!))).toMatchObject({ type: 'REQUEST', policy: 'LB_ROUTE', first: true, last: true, rid: 1, order: 1 });
  });

  it('response with FIXED_ROUTE', () => {
    const [p] = split('RESPONSE', 'FIXED_ROUTE', 0x1234, ascii('ok'));
    expect(hex(p!)).toBe('cc0811c012340001' + '6f6b');
  });

  it('multi-packet request: REQ0 carries 14 bytes and the packet count, REQn their index', () => {
    const b = body(2000);
    const ps = split('REQUEST', 'LB_ROUTE', 7, b);
    expect(ps).toHaveLength(3);
    expect(packetCount('REQUEST', 2000)).toBe(3);
    expect(hex(ps[0]!)).toBe('cc08008000070003' + hex(b.subarray(0, 14)));
    expect(ps[0]!.length).toBe(8 + REQ0_PAYLOAD);
    expect(hex(ps[1]!.subarray(0, 8))).toBe('cc08000000070001');
    expect(ps[1]!.length).toBe(MAX_DATAGRAM);
    expect(hex(ps[2]!.subarray(0, 8))).toBe('cc08004000070002');
    expect(ps[2]!.length).toBe(8 + 2000 - 14 - 1464);
  });

  it('multi-packet response has no short first packet', () => {
    const ps = split('RESPONSE', 'FIXED_ROUTE', 2, body(3000));
    expect(ps.map((p) => p.length)).toEqual([1472, 1472, 8 + 3000 - 2 * 1464]);
    expect(hex(ps[0]!.subarray(0, 8))).toBe('cc08118000020003');
  });

  it('a body of exactly 1464 bytes is one packet, 1465 is two; a request needs three from 1479', () => {
    expect(split('REQUEST', 'LB_ROUTE', 1, body(MAX_PAYLOAD))).toHaveLength(1);
    expect(split('RESPONSE', 'LB_ROUTE', 1, body(MAX_PAYLOAD + 1))).toHaveLength(2);
    expect(split('REQUEST', 'LB_ROUTE', 1, body(MAX_PAYLOAD + 1))).toHaveLength(2);
    expect(split('REQUEST', 'LB_ROUTE', 1, body(MAX_PAYLOAD + REQ0_PAYLOAD))).toHaveLength(2);
    expect(split('REQUEST', 'LB_ROUTE', 1, body(MAX_PAYLOAD + REQ0_PAYLOAD + 1))).toHaveLength(3);
    expect(split('REQUEST', 'LB_ROUTE', 1, new Uint8Array(0))).toHaveLength(1);
  });

  it('ACK and DROP', () => {
    expect(hex(ackPacket(7))).toBe('cc0831c000070001' + '41434b');
    expect(hex(dropPacket(9))).toBe('cc0841c000090001' + '44524f50');
    expect(ok(decode(ackPacket(7)))).toMatchObject({ type: 'ACK', rid: 7, policy: 'FIXED_ROUTE' });
    expect(ok(decode(dropPacket(9)))).toMatchObject({ type: 'DROP', rid: 9 });
  });

  it('FEEDBACK, reference slot form (16 bytes)', () => {
    const p = feedbackPacket('10.0.0.5:4242', 0x0102);
    expect(p.length).toBe(16);
    expect(hex(p)).toBe('cc0820c001020001' + '0102' + '1092' + '0a000005');
    expect(ok(decode(p))).toMatchObject({ type: 'FEEDBACK', fbRid: 0x0102, client: '10.0.0.5:4242' });
    expect((ok(decode(p)) as { count?: unknown }).count).toBeUndefined();
    // As a reference server writes it: header rid and order left zero, flags zero are not accepted,
    // but a zero header rid is (only the payload's rid matters).
    const ref = fromHex('cc0820c000000001 0102 1092 0a000005');
    expect(ok(decode(ref))).toMatchObject({ type: 'FEEDBACK', rid: 0, fbRid: 0x0102, client: '10.0.0.5:4242' });
  });

  it('FEEDBACK, extended count form (22 bytes)', () => {
    const p = feedbackPacket('10.0.0.5:4242', 0x0102, { n: 4, served: 300 });
    expect(p.length).toBe(22);
    expect(hex(p)).toBe('cc0820c001020001' + '0102' + '1092' + '0a000005' + '0004' + '0000012c');
    expect(ok(decode(p))).toMatchObject({ type: 'FEEDBACK', client: '10.0.0.5:4242', count: { n: 4, served: 300 } });
  });

  it('SACK extension (type 8)', () => {
    const p = sackPacket(5, [1, 3]);
    expect(hex(p)).toBe('cc0881c000050001' + '0002' + '0001' + '0003');
    expect(ok(decode(p))).toMatchObject({ type: 'SACK', rid: 5, missing: [1, 3] });
  });
});

describe('decode errors are typed', () => {
  const good = fromHex('cc0800c000010001 68656c6c6f');
  const mut = (i: number, v: number): Uint8Array => {
    const c = good.slice();
    c[i] = v;
    return c;
  };
  it.each([
    ['short', new Uint8Array([0xcc, 8, 0])],
    ['bad-magic', mut(0, 0xcd)],
    ['bad-header-size', mut(1, 12)],
    ['unknown-type', mut(2, 0x90)],
    ['unknown-policy', mut(2, 0x04)],
    ['bad-flags', mut(3, 0xc1)],
    ['inconsistent-order', mut(7, 2)],
    ['too-long', new Uint8Array(MAX_DATAGRAM + 1).fill(0xcc)],
  ])('%s', (kind, bytes) => {
    expect(errKind(decode(bytes))).toBe(kind);
  });

  it('REQ0 with order < 2 and REQn with index 0 are inconsistent', () => {
    expect(errKind(decode(fromHex('cc08008000010001')))).toBe('inconsistent-order');
    expect(errKind(decode(fromHex('cc08000000010000')))).toBe('inconsistent-order');
  });

  it('control messages: wrong payloads and flags', () => {
    expect(errKind(decode(fromHex('cc0831c000070001 41434c')))).toBe('bad-payload'); // "ACL"
    expect(errKind(decode(fromHex('cc0841c000070001 44524f')))).toBe('bad-payload'); // "DRO"
    expect(errKind(decode(fromHex('cc0820c000070001 0102')))).toBe('bad-payload');
    expect(errKind(decode(fromHex('cc0881c000070001 0002 0001')))).toBe('bad-payload');
    expect(errKind(decode(fromHex('cc0881c000070001 0001 0000')))).toBe('bad-payload');
    expect(errKind(decode(fromHex('cc08318000070001 41434b')))).toBe('bad-flags');
    expect(errKind(decode(fromHex('cc0831c000070002 41434b')))).toBe('inconsistent-order');
  });
});

describe('round trips', () => {
  it('every message kind survives encode → decode → encode', () => {
    const msgs: R2p2Msg[] = [
      ok(decode(ackPacket(65535))),
      ok(decode(dropPacket(0, 'LB_ROUTE'))),
      ok(decode(sackPacket(3, [])) ),
      ok(decode(feedbackPacket('255.255.255.255:65535', 65535, { n: 65535, served: 0xffffffff }))),
      ok(decode(feedbackPacket('0.0.0.0:0', 0))),
    ];
    for (const m of msgs) expect(hex(encode(ok(decode(encode(m)))))).toBe(hex(encode(m)));
  });

  it('addresses', () => {
    expect(parseAddr('10.0.0.3:8000')).toEqual({ ip: 0x0a000003, port: 8000 });
    expect(formatAddr(0x7f000001, 1)).toBe('127.0.0.1:1');
    expect(parseAddr('10.0.0.300:1')).toBeUndefined();
    expect(parseAddr('host:1')).toBeUndefined();
  });

  it('split → reassemble is byte-exact under any permutation with duplicates (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('REQUEST', 'RESPONSE' as const),
        fc.integer({ min: 0, max: 12_000 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer(),
        (type, size, rid, dupPicks, seed) => {
          const b = body(size, seed);
          const ps = split(type, 'LB_ROUTE', rid, b);
          const all = [...ps, ...dupPicks.map((i) => ps[i % ps.length]!)];
          const shuffled = fc.sample(fc.shuffledSubarray(all, { minLength: all.length }), { seed, numRuns: 1 })[0]!;
          const out = reassemble(shuffled);
          expect(out).toBeDefined();
          expect(hex(out!)).toBe(hex(b));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reassembly is incomplete while a packet is missing, and reports it', () => {
    const ps = split("REQUEST", "LB_ROUTE", 1, body(4000));
    const r = new Reassembler();
    for (const p of [ps[3]!, ps[0]!, ps[1]!]) r.add(ok(decode(p)) as DataMsg);
    expect(r.complete()).toBe(false);
    expect(r.missing()).toEqual([2]);
    r.add(ok(decode(ps[2]!)) as DataMsg);
    expect(r.complete()).toBe(true);
  });

  it('the seeded reassembly bug scrambles a reordered message but not an ordered one', () => {
    const b = body(4000);
    const ps = split('REQUEST', 'LB_ROUTE', 1, b);
    const inOrder = new Reassembler(true);
    for (const p of [...ps, ps[2]!]) inOrder.add(ok(decode(p)) as DataMsg);
    expect(hex(inOrder.body()!)).toBe(hex(b));
    const reordered = new Reassembler(true);
    for (const p of [ps[0]!, ps[2]!, ps[1]!, ps[3]!]) reordered.add(ok(decode(p)) as DataMsg);
    expect(reordered.complete()).toBe(true);
    expect(hex(reordered.body()!)).not.toBe(hex(b));
  });
});

describe('decode never throws', () => {
  it('100,000 random and mutated datagrams', () => {
    const rng = new Rng(0xdec0de);
    const seeds: Uint8Array[] = [
      ...split('REQUEST', 'LB_ROUTE', 1, body(4000)),
      ...split('RESPONSE', 'FIXED_ROUTE', 2, body(10)),
      ackPacket(3), dropPacket(4), sackPacket(5, [1, 2, 3]),
      feedbackPacket('10.0.0.1:1', 6), feedbackPacket('10.0.0.1:1', 6, { n: 2, served: 9 }),
    ];
    const kinds = new Map<string, number>();
    for (let i = 0; i < 100_000; i++) {
      let d: Uint8Array;
      const mode = rng.int(3);
      if (mode === 0) {
        d = new Uint8Array(rng.int(1600));
        for (let j = 0; j < d.length; j++) d[j] = rng.int(256);
        if (rng.chance(0.5) && d.length > 1) { d[0] = 0xcc; d[1] = 8; }
      } else {
        const s = seeds[rng.int(seeds.length)]!;
        d = s.slice(0, rng.chance(0.2) ? rng.int(s.length + 1) : s.length);
        const flips = 1 + rng.int(4);
        for (let f = 0; f < flips && d.length > 0; f++) d[rng.int(d.length)] = rng.int(256);
        if (mode === 2 && d.length > 3) d[3] = [0x00, 0x40, 0x80, 0xc0][rng.int(4)]!;
      }
      let r: DecodeResult;
      try {
        r = decode(d);
      } catch (e) {
        throw new Error(`decode threw on ${hex(d)}: ${String(e)}`);
      }
      const k = r.ok ? `ok:${r.msg.type}` : r.error.kind;
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    // The generator reaches both valid messages and many kinds of errors.
    expect(kinds.get('ok:REQUEST') ?? 0).toBeGreaterThan(0);
    for (const k of ['short', 'bad-magic', 'bad-header-size', 'unknown-type', 'unknown-policy', 'bad-flags', 'bad-payload']) {
      expect(kinds.get(k) ?? 0, k).toBeGreaterThan(0);
    }
  });

  it('arbitrary byte arrays (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1600 }), (bytes) => {
        expect(() => decode(bytes)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});
