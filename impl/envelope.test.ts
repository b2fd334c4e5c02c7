import { describe, expect, it } from 'vitest';
import { ENVELOPE_BYTES, decodeEnvelope, describeEnvelopeError, encodeEnvelope, parseAddr } from './envelope.ts';

describe('tunnel envelope', () => {
  it('round-trips a packet and lays the header out big-endian', () => {
    const data = new Uint8Array([1, 2, 3, 250]);
    const bytes = encodeEnvelope({ src: '127.0.0.10:8000', dst: '10.1.2.3:65535', data });
    expect(bytes.length).toBe(ENVELOPE_BYTES + 4);
    expect([...bytes.subarray(0, 14)]).toEqual([0x50, 0x43, 127, 0, 0, 10, 0x1f, 0x40, 10, 1, 2, 3, 0xff, 0xff]);
    const r = decodeEnvelope(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.packet.src).toBe('127.0.0.10:8000');
    expect(r.packet.dst).toBe('10.1.2.3:65535');
    expect([...r.packet.data]).toEqual([1, 2, 3, 250]);
    // an empty payload is fine
    const e = decodeEnvelope(encodeEnvelope({ src: '1.2.3.4:1', dst: '5.6.7.8:2', data: new Uint8Array() }));
    expect(e.ok && e.packet.data.length).toBe(0);
  });

  it('returns typed errors for malformed input and never throws', () => {
    expect(decodeEnvelope(new Uint8Array(13))).toEqual({ ok: false, error: { kind: 'too-short', length: 13 } });
    expect(decodeEnvelope(new Uint8Array())).toMatchObject({ ok: false, error: { kind: 'too-short' } });
    const bad = encodeEnvelope({ src: '1.2.3.4:1', dst: '5.6.7.8:2', data: new Uint8Array([9]) });
    bad[1] = 0x44;
    const r = decodeEnvelope(bad);
    expect(r).toEqual({ ok: false, error: { kind: 'bad-magic', magic: [0x50, 0x44] } });
    if (!r.ok) expect(describeEnvelopeError(r.error)).toMatch(/magic/);
    const zero = encodeEnvelope({ src: '1.2.3.4:1', dst: '5.6.7.8:2', data: new Uint8Array() });
    zero[12] = 0;
    zero[13] = 0;
    expect(decodeEnvelope(zero)).toEqual({ ok: false, error: { kind: 'bad-port', which: 'dst' } });
    // random garbage of every length: never throws
    for (let n = 0; n < 64; n++) {
      const g = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
      expect(() => decodeEnvelope(g)).not.toThrow();
    }
  });

  it('parses addresses strictly', () => {
    expect(parseAddr('127.0.0.1:80')).toMatchObject({ ok: true, endpoint: { ip: [127, 0, 0, 1], port: 80 } });
    for (const a of ['127.0.0.1', '256.0.0.1:1', '1.2.3.4:0', '1.2.3.4:70000', 'host:80', '::1:80']) {
      expect(parseAddr(a).ok).toBe(false);
    }
    expect(() => encodeEnvelope({ src: 'nope', dst: '1.2.3.4:5', data: new Uint8Array() })).toThrow(/src/);
  });
});
