import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DATAGRAM, decode } from '../r2p2/codec.ts';
import {
  AE_HEADER_SIZE, AGGREGATOR_INDEX, ENTRY_SIZE, EncodeError, MAX_AE_ENTRIES, MAX_REQUEST_BODY, OFF_COMMIT, OFF_COUNT,
  OFF_FLAGS, OFF_KIND, OFF_MATCH_INDEX, OFF_PREV_INDEX, OFF_PREV_TERM, OFF_SENDER, OFF_TERM, OFF_APPLIED, decodeRaft,
  encodeRaft, fitEntries, type RaftMsg, type WireEntry,
} from './wire.ts';

const entry = (i: number, body?: Uint8Array): WireEntry => ({
  term: 3, client: `10.0.1.${i % 250}:${5000 + i}`, rid: 100 + i, replier: i % 5, ro: i % 2 === 0, ...(body ? { body } : {}),
});

const samples: RaftMsg[] = [
  { kind: 'request_vote', from: 2, term: 7, lastIndex: 41, lastTerm: 6 },
  { kind: 'vote_reply', from: 1, term: 7, granted: true },
  { kind: 'vote_reply', from: 0, term: 8, granted: false },
  {
    kind: 'append_entries', from: 0, term: 3, prevIndex: 10, prevTerm: 2, commit: 9, viaAggregator: false, bodies: false,
    entries: [entry(1), entry(2), { term: 3, client: '0.0.0.0:0', rid: 3, replier: 0, ro: false }],
  },
  {
    kind: 'append_entries', from: 4, term: 0xffffffff, prevIndex: 0, prevTerm: 0, commit: 0, viaAggregator: true, bodies: false,
    entries: [],
  },
  {
    kind: 'append_entries', from: 1, term: 5, prevIndex: 3, prevTerm: 5, commit: 2, viaAggregator: false, bodies: true,
    entries: [entry(1, Uint8Array.of(1, 2, 3)), entry(2, new Uint8Array(0)), entry(3, new Uint8Array(100).fill(7))],
  },
  { kind: 'append_reply', from: 3, term: 4, success: true, matchIndex: 77, applied: 70 },
  { kind: 'append_reply', from: 2, term: 4, success: false, matchIndex: 5, applied: 0 },
  { kind: 'recovery_request', from: 1, client: '192.168.7.9:65535', rid: 65535 },
  { kind: 'recovery_reply', from: 2, client: '10.0.0.1:5000', rid: 9, ro: true, body: new TextEncoder().encode('{"op":"get","key":"a"}') },
  { kind: 'agg_probe', from: 0, term: 12 },
  { kind: 'agg_probe_reply', from: AGGREGATOR_INDEX, term: 12 },
  { kind: 'agg_commit', from: AGGREGATOR_INDEX, term: 12, commit: 99, applied: [99, 98, 0, 97, 1] },
];

describe('hovercraft wire codec', () => {
  it('round-trips every message kind', () => {
    for (const m of samples) {
      const bytes = encodeRaft(m);
      expect(bytes.length).toBeLessThanOrEqual(MAX_DATAGRAM);
      const d = decodeRaft(bytes);
      expect(d).toEqual({ ok: true, msg: m });
    }
  });

  it('travels in one R2P2 datagram of the right type (RAFT_REQ, RAFT_REP, RAFT_MSG)', () => {
    const typeOf = (m: RaftMsg): string => {
      const d = decode(encodeRaft(m));
      if (!d.ok) throw new Error(JSON.stringify(d.error));
      expect(d.msg).toMatchObject({ first: true, last: true, order: 1, rid: 0, policy: 'LB_ROUTE' });
      return d.msg.type;
    };
    expect(samples.map((m) => [m.kind, typeOf(m)])).toEqual([
      ['request_vote', 'RAFT_REQ'], ['vote_reply', 'RAFT_REP'], ['vote_reply', 'RAFT_REP'], ['append_entries', 'RAFT_REQ'],
      ['append_entries', 'RAFT_REQ'], ['append_entries', 'RAFT_REQ'], ['append_reply', 'RAFT_REP'], ['append_reply', 'RAFT_REP'],
      ['recovery_request', 'RAFT_REQ'], ['recovery_reply', 'RAFT_MSG'], ['agg_probe', 'RAFT_REQ'], ['agg_probe_reply', 'RAFT_REP'],
      ['agg_commit', 'RAFT_MSG'],
    ]);
  });

  it('puts the append_entries header and its reply at fixed big-endian offsets', () => {
    const ae = encodeRaft({
      kind: 'append_entries', from: 2, term: 0x01020304, prevIndex: 0x0a0b0c0d, prevTerm: 0x11121314, commit: 0x21222324,
      viaAggregator: true, bodies: false, entries: [{ term: 0x31323334, client: '10.1.2.3:4660', rid: 0x41424344, replier: 4, ro: true }],
    });
    const dv = new DataView(ae.buffer);
    expect(ae.length).toBe(AE_HEADER_SIZE + ENTRY_SIZE);
    expect([ae[OFF_KIND], ae[OFF_SENDER], ae[OFF_FLAGS], ae[OFF_COUNT]]).toEqual([3, 2, 0x02, 1]);
    expect(dv.getUint32(OFF_TERM)).toBe(0x01020304);
    expect(dv.getUint32(OFF_PREV_INDEX)).toBe(0x0a0b0c0d);
    expect(dv.getUint32(OFF_PREV_TERM)).toBe(0x11121314);
    expect(dv.getUint32(OFF_COMMIT)).toBe(0x21222324);
    const e = AE_HEADER_SIZE;
    expect(dv.getUint32(e)).toBe(0x31323334);
    expect([...ae.subarray(e + 4, e + 10)]).toEqual([10, 1, 2, 3, 0x12, 0x34]);
    expect([ae[e + 10], ae[e + 11]]).toEqual([4, 1]);
    expect(dv.getUint32(e + 12)).toBe(0x41424344);
    const rep = encodeRaft({ kind: 'append_reply', from: 1, term: 9, success: true, matchIndex: 0x01000002, applied: 0x03000004 });
    const rv = new DataView(rep.buffer);
    expect(rep.length).toBe(24);
    expect([rep[OFF_KIND], rep[OFF_SENDER], rep[10]]).toEqual([4, 1, 1]);
    expect(rv.getUint32(OFF_TERM)).toBe(9);
    expect(rv.getUint32(OFF_MATCH_INDEX)).toBe(0x01000002);
    expect(rv.getUint32(OFF_APPLIED)).toBe(0x03000004);
    expect([...rep.subarray(0, 8)]).toEqual([0xcc, 8, 0x60, 0xc0, 0, 0, 0, 1]);
  });

  it('fits at most MAX_AE_ENTRIES metadata entries and as many bodies as fit in one datagram', () => {
    expect(MAX_AE_ENTRIES).toBe(90);
    const many = Array.from({ length: 200 }, (_, i) => entry(i));
    expect(fitEntries(many, false)).toBe(90);
    const ae = encodeRaft({ kind: 'append_entries', from: 0, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, viaAggregator: false, bodies: false, entries: many.slice(0, 90) });
    expect(ae.length).toBe(AE_HEADER_SIZE + 90 * ENTRY_SIZE);
    const big = Array.from({ length: 5 }, (_, i) => entry(i, new Uint8Array(400)));
    expect(fitEntries(big, true)).toBe(3);
    const one = [entry(0, new Uint8Array(MAX_REQUEST_BODY))];
    expect(fitEntries(one, true)).toBe(1);
    expect(encodeRaft({ kind: 'append_entries', from: 0, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, viaAggregator: false, bodies: true, entries: one }).length).toBe(MAX_DATAGRAM);
    expect(fitEntries([entry(0, new Uint8Array(MAX_REQUEST_BODY + 1))], true)).toBe(0);
    expect(() => encodeRaft({ kind: 'append_entries', from: 0, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, viaAggregator: false, bodies: true, entries: big })).toThrow(EncodeError);
  });

  it('refuses to encode values that do not fit', () => {
    expect(() => encodeRaft({ kind: 'request_vote', from: 0, term: -1, lastIndex: 0, lastTerm: 0 })).toThrow(EncodeError);
    expect(() => encodeRaft({ kind: 'request_vote', from: 0, term: 2 ** 32, lastIndex: 0, lastTerm: 0 })).toThrow(EncodeError);
    expect(() => encodeRaft({ kind: 'vote_reply', from: 256, term: 1, granted: true })).toThrow(EncodeError);
    expect(() => encodeRaft({ kind: 'recovery_request', from: 0, client: 'nowhere', rid: 1 })).toThrow(EncodeError);
    expect(() => encodeRaft({ kind: 'recovery_request', from: 0, client: '1.2.3.4:5', rid: 65536 })).toThrow(EncodeError);
    expect(() => encodeRaft({ kind: 'agg_commit', from: 255, term: 1, commit: 1, applied: new Array(17).fill(0) })).toThrow(EncodeError);
    expect(() => encodeRaft({
      kind: 'append_entries', from: 0, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, viaAggregator: false, bodies: false,
      entries: [{ ...entry(1), replier: 16 }],
    })).toThrow(EncodeError);
  });

  it('rejects malformed datagrams with an error value', () => {
    const good = encodeRaft(samples[3]!);
    const bad = (f: (b: Uint8Array) => Uint8Array): string => {
      const d = decodeRaft(f(good.slice()));
      expect(d.ok).toBe(false);
      return d.ok ? '' : d.error;
    };
    expect(bad((b) => b.subarray(0, 5))).toMatch(/short/);
    expect(bad((b) => b.subarray(0, 20))).toMatch(/append_entries of 20 bytes/);
    expect(bad((b) => b.subarray(0, b.length - 1))).toMatch(/entries need/);
    expect(bad((b) => Uint8Array.from([...b, 0]))).toMatch(/trailing/);
    expect(bad((b) => ((b[0] = 0xcd), b))).toMatch(/magic/);
    expect(bad((b) => ((b[1] = 9), b))).toMatch(/header size/);
    expect(bad((b) => ((b[3] = 0x80), b))).toMatch(/single-packet/);
    expect(bad((b) => ((b[5] = 1), b))).toMatch(/rid/);
    expect(bad((b) => ((b[7] = 2), b))).toMatch(/order/);
    expect(bad((b) => ((b[OFF_KIND] = 0), b))).toMatch(/unknown Raft kind/);
    expect(bad((b) => ((b[OFF_KIND] = 10), b))).toMatch(/unknown Raft kind/);
    expect(bad((b) => ((b[2] = 0x60), b))).toMatch(/must travel as RAFT_REQ/);
    expect(bad((b) => ((b[2] = 0x52), b))).toMatch(/policy/);
    expect(bad((b) => ((b[OFF_SENDER] = 16), b))).toMatch(/sender/);
    expect(bad((b) => ((b[OFF_FLAGS] = 4), b))).toMatch(/flags/);
    expect(bad((b) => ((b[OFF_COUNT] = 91), b))).toMatch(/entries/);
    expect(bad((b) => ((b[AE_HEADER_SIZE + 10] = 16), b))).toMatch(/replier/);
    expect(bad((b) => ((b[AE_HEADER_SIZE + 11] = 2), b))).toMatch(/flags/);
    const rep = (f: (b: Uint8Array) => void): boolean => {
      const b = encodeRaft(samples[6]!);
      f(b);
      return decodeRaft(b).ok;
    };
    expect(rep(() => undefined)).toBe(true);
    expect(rep((b) => (b[10] = 2))).toBe(false);
    expect(rep((b) => (b[11] = 1))).toBe(false);
    const rr = encodeRaft(samples[9]!);
    expect(decodeRaft(rr.subarray(0, rr.length - 1)).ok).toBe(false);
    const ac = encodeRaft(samples[12]!);
    expect(decodeRaft(Uint8Array.from([...ac, 0, 0, 0, 0])).ok).toBe(false);
    const acBad = ac.slice();
    acBad[OFF_SENDER] = 0;
    expect(decodeRaft(acBad).ok).toBe(false);
    expect(decodeRaft(new Uint8Array(MAX_DATAGRAM + 1)).ok).toBe(false);
  });

  it('never throws on arbitrary bytes, nor on mutations of valid messages', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1600 }), (b) => {
      const d = decodeRaft(b);
      expect(typeof d.ok).toBe('boolean');
    }), { numRuns: 2000 });
    fc.assert(fc.property(
      fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(40),
      (m, flips, cut) => {
        const b = encodeRaft(m);
        for (const [at, v] of flips) b[at % b.length] = v;
        const d = decodeRaft(b.subarray(0, Math.max(0, b.length - cut)));
        if (d.ok) expect(() => encodeRaft(d.msg)).not.toThrow();
      },
    ), { numRuns: 3000 });
  });
});
