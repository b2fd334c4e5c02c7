import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../rng.ts';
import {
  EncodeError, FEEDBACK_COUNT_SIZE, FEEDBACK_SLOT_SIZE, MAX_DATAGRAM, MAX_PAYLOAD, REQ0_PAYLOAD, Reassembler, ackPacket,
  decode, dropPacket, encode, epochNewer, feedbackPacket, formatAddr, packetCount, parseAddr, reassemble, sackPacket,
  split, type DataMsg, type DecodeResult, type FeedbackMsg, type R2p2Msg,
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

  it('FEEDBACK, extended count form (30 bytes: n u16, served u32, epoch u64)', () => {
    const p = feedbackPacket('10.0.0.5:4242', 0x0102, { n: 4, served: 300, epoch: 0x0a0b0c0d });
    expect(FEEDBACK_SLOT_SIZE).toBe(16);
    expect(FEEDBACK_COUNT_SIZE).toBe(30);
    expect(p.length).toBe(30);
    expect(hex(p)).toBe('cc0820c001020001' + '0102' + '1092' + '0a000005' + '0004' + '0000012c' + '00000000' + '0a0b0c0d');
    expect(ok(decode(p))).toMatchObject({
      type: 'FEEDBACK', fbRid: 0x0102, client: '10.0.0.5:4242', count: { n: 4, served: 300, epoch: 0x0a0b0c0d },
    });
    expect((ok(decode(p)) as FeedbackMsg).count).toEqual({ n: 4, served: 300, epoch: 0x0a0b0c0d });
    // An epoch beyond 32 bits (a µs start time): big-endian u64, high word at payload offset 14
    // (datagram offset 22), low word at payload offset 18 (datagram offset 26).
    const epoch = 0x0001_0203 * 2 ** 32 + 0x0405_0607;
    const q = feedbackPacket('10.0.0.5:4242', 0x0102, { n: 4, served: 300, epoch });
    expect(q.length).toBe(30);
    expect(hex(q)).toBe('cc0820c001020001' + '0102' + '1092' + '0a000005' + '0004' + '0000012c' + '00010203' + '04050607');
    const dv = new DataView(q.buffer, q.byteOffset, q.byteLength);
    expect(dv.getUint32(22)).toBe(0x00010203);
    expect(dv.getUint32(26)).toBe(0x04050607);
    expect(dv.getBigUint64(22)).toBe(BigInt(epoch));
    expect((ok(decode(q)) as FeedbackMsg).count).toEqual({ n: 4, served: 300, epoch });
  });

  it('FEEDBACK count form: the extremes of n, served and epoch (2^53 − 1)', () => {
    const max = Number.MAX_SAFE_INTEGER; // 0x001fffff_ffffffff
    const p = feedbackPacket('255.255.255.255:65535', 0xffff, { n: 0xffff, served: 0xffffffff, epoch: max });
    expect(hex(p)).toBe('cc0820c0ffff0001' + 'ffff' + 'ffff' + 'ffffffff' + 'ffff' + 'ffffffff' + '001fffff' + 'ffffffff');
    expect((ok(decode(p)) as FeedbackMsg).count).toEqual({ n: 0xffff, served: 0xffffffff, epoch: max });
    // Exactly 2^32 and 2^32 − 1: the carry into the high word.
    for (const [epoch, words] of [[2 ** 32, '00000001' + '00000000'], [2 ** 32 - 1, '00000000' + 'ffffffff']] as const) {
      const e = feedbackPacket('10.0.0.1:1', 1, { n: 1, served: 0, epoch });
      expect(hex(e).slice(-16), String(epoch)).toBe(words);
      expect((ok(decode(e)) as FeedbackMsg).count?.epoch).toBe(epoch);
    }
    const z = feedbackPacket('0.0.0.0:0', 0, { n: 1, served: 0, epoch: 0 });
    expect(hex(z)).toBe('cc0820c000000001' + '0000' + '0000' + '00000000' + '0001' + '00000000' + '00000000' + '00000000');
    expect((ok(decode(z)) as FeedbackMsg).count).toEqual({ n: 1, served: 0, epoch: 0 });
  });

  it('FEEDBACK count form: values out of range are encode errors', () => {
    const fb = (count: { n: number; served: number; epoch: number }) => () => feedbackPacket('10.0.0.5:4242', 1, count);
    for (const epoch of [-1, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(fb({ n: 2, served: 0, epoch }), String(epoch)).toThrow(EncodeError);
      expect(fb({ n: 2, served: 0, epoch }), String(epoch)).toThrow(/FEEDBACK epoch out of range/);
    }
    // Beyond 32 bits is fine now (a u64 on the wire).
    expect(fb({ n: 2, served: 0, epoch: 0x100000000 })).not.toThrow();
    for (const served of [-1, 0x100000000, 2.5]) {
      expect(fb({ n: 2, served, epoch: 0 }), String(served)).toThrow(/FEEDBACK served out of range/);
    }
    for (const n of [-1, 0x10000, 0.5]) expect(fb({ n, served: 0, epoch: 0 }), String(n)).toThrow(/FEEDBACK n out of range/);
  });

  it('FEEDBACK payloads of 8 or 22 bytes only (the former 14- and 18-byte count forms are rejected)', () => {
    const slot = 'cc0820c001020001 0102 1092 0a000005';
    expect(ok(decode(fromHex(slot)))).toMatchObject({ type: 'FEEDBACK', fbRid: 0x0102 });
    expect(ok(decode(fromHex(`${slot} 0004 0000012c 00000000 00000007`)))).toMatchObject({ count: { n: 4, served: 300, epoch: 7 } });
    for (const extra of [
      '0004 0000012c', // the former 14-byte form (no epoch)
      '0004 0000012c 00000007', // the former 18-byte form (u32 epoch)
      '0004 0000012c 00000000 000000', // 21 bytes
      '0004 0000012c 00000000 0000000700', // 23 bytes
      '00', '0004',
    ]) {
      const r = decode(fromHex(`${slot} ${extra}`));
      expect(errKind(r), extra).toBe('bad-payload');
      expect(r.ok ? '' : JSON.stringify(r.error)).toMatch(/want 8 or 22/);
    }
  });

  it('FEEDBACK count form: an epoch beyond 2^53 (high word >= 2^21) is a bad payload, not a throw', () => {
    const slot = 'cc0820c001020001 0102 1092 0a000005 0004 0000012c';
    // The largest accepted high word: 2^21 − 1 (epoch 2^53 − 1 with the low word all ones).
    expect((ok(decode(fromHex(`${slot} 001fffff ffffffff`))) as FeedbackMsg).count?.epoch).toBe(Number.MAX_SAFE_INTEGER);
    expect((ok(decode(fromHex(`${slot} 001fffff 00000000`))) as FeedbackMsg).count?.epoch).toBe(0x1fffff * 2 ** 32);
    for (const hi of ['00200000', '00200001', '80000000', 'ffffffff']) {
      for (const lo of ['00000000', 'ffffffff']) {
        let r: DecodeResult | undefined;
        expect(() => { r = decode(fromHex(`${slot} ${hi} ${lo}`)); }, `${hi} ${lo}`).not.toThrow();
        expect(errKind(r!), `${hi} ${lo}`).toBe('bad-payload');
        expect(r!.ok ? undefined : r!.error).toMatchObject({ kind: 'bad-payload', type: 'FEEDBACK' });
        expect(r!.ok ? '' : JSON.stringify(r!.error)).toMatch(/epoch beyond 2\^53/);
      }
    }
  });

  it('epochNewer: plain order on the start times (no wrap-around)', () => {
    expect(epochNewer(2, 1)).toBe(true);
    expect(epochNewer(1, 2)).toBe(false);
    expect(epochNewer(5, 5)).toBe(false);
    expect(epochNewer(0, 0)).toBe(false);
    // No serial-number arithmetic any more: a small epoch is never newer than a large one.
    expect(epochNewer(0, 0xffffffff)).toBe(false);
    expect(epochNewer(0xffffffff, 0)).toBe(true);
    expect(epochNewer(0x80000000, 0)).toBe(true);
    expect(epochNewer(0, 0x80000000)).toBe(false);
    expect(epochNewer(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1)).toBe(true);
    expect(epochNewer(Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('a large epoch (2^40) round-trips and is newer than a small one', () => {
    const big = 2 ** 40;
    const small = 7;
    const decoded = (epoch: number): number => {
      const c = (ok(decode(feedbackPacket('10.0.0.5:4242', 3, { n: 2, served: 9, epoch }))) as FeedbackMsg).count;
      if (c === undefined) throw new Error('count form expected');
      return c.epoch;
    };
    expect(hex(feedbackPacket('10.0.0.5:4242', 3, { n: 2, served: 9, epoch: big })).slice(-16)).toBe('00000100' + '00000000');
    expect(decoded(big)).toBe(big);
    expect(decoded(small)).toBe(small);
    expect(epochNewer(decoded(big), decoded(small))).toBe(true);
    expect(epochNewer(decoded(small), decoded(big))).toBe(false);
    // Just above and below 2^40 too (the low word is not lost).
    expect(decoded(big + 1)).toBe(big + 1);
    expect(epochNewer(decoded(big + 1), decoded(big))).toBe(true);
    expect(epochNewer(decoded(big - 1), decoded(big))).toBe(false);
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
      ok(decode(feedbackPacket('255.255.255.255:65535', 65535, { n: 65535, served: 0xffffffff, epoch: Number.MAX_SAFE_INTEGER }))),
      ok(decode(feedbackPacket('10.0.0.9:9', 1, { n: 1, served: 1, epoch: 2 ** 40 + 5 }))),
      ok(decode(feedbackPacket('0.0.0.0:0', 0))),
      ok(decode(feedbackPacket('10.1.2.3:7', 9, { n: 3, served: 12, epoch: 0x80000001 }))),
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
      feedbackPacket('10.0.0.1:1', 6), feedbackPacket('10.0.0.1:1', 6, { n: 2, served: 9, epoch: 123456 }),
      feedbackPacket('10.0.0.1:1', 6, { n: 2, served: 9, epoch: 1_700_000_000_000_000 }),
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
