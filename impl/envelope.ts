/**
 * The tunnel envelope that carries a packet between a node and the switch on real sockets
 * (local, docker, hardware testbeds). Every datagram on a tunnel is
 *
 *   offset 0   'P' 'C'              magic (0x50 0x43)
 *   offset 2   src IPv4 (4 bytes)   network order
 *   offset 6   src port (2 bytes)   big-endian
 *   offset 8   dst IPv4 (4 bytes)
 *   offset 12  dst port (2 bytes)
 *   offset 14  the protocol's own bytes, untouched
 *
 * The envelope names the *virtual* endpoints of the packet (a switch program may keep a client's
 * source address when it forwards), not the UDP endpoints of the tunnel datagram.
 */
import { match } from 'ts-pattern';
import type { Addr, Packet } from './core.ts';

export const ENVELOPE_MAGIC = [0x50, 0x43] as const; // 'P' 'C'
export const ENVELOPE_BYTES = 14;

export type EnvelopeError =
  | { readonly kind: 'too-short'; readonly length: number }
  | { readonly kind: 'bad-magic'; readonly magic: readonly [number, number] }
  | { readonly kind: 'bad-port'; readonly which: 'src' | 'dst' };

export type DecodeResult =
  | { readonly ok: true; readonly packet: Packet }
  | { readonly ok: false; readonly error: EnvelopeError };

export function describeEnvelopeError(e: EnvelopeError): string {
  return match(e)
    .with({ kind: 'too-short' }, (x) => `datagram of ${x.length} bytes is shorter than the ${ENVELOPE_BYTES}-byte envelope`)
    .with({ kind: 'bad-magic' }, (x) => `envelope magic is 0x${hex(x.magic[0])}${hex(x.magic[1])}, expected 0x5043 ('PC')`)
    .with({ kind: 'bad-port' }, (x) => `envelope ${x.which} port is 0`)
    .exhaustive();
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** An `"a.b.c.d:port"` address split into its numeric parts. */
export interface Endpoint {
  readonly ip: readonly [number, number, number, number];
  readonly port: number;
}

export type ParseAddrResult = { readonly ok: true; readonly endpoint: Endpoint } | { readonly ok: false; readonly message: string };

const ADDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/;

/** Parses `"a.b.c.d:port"` (IPv4, port 1..65535). Never throws. */
export function parseAddr(addr: string): ParseAddrResult {
  const m = ADDR_RE.exec(addr);
  if (!m) return { ok: false, message: `'${addr}' is not an IPv4 address with a port (a.b.c.d:port)` };
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return { ok: false, message: `'${addr}': an IPv4 octet is above 255` };
  const port = Number(m[5]);
  if (port < 1 || port > 65535) return { ok: false, message: `'${addr}': port must be 1..65535` };
  return { ok: true, endpoint: { ip: parts as unknown as Endpoint['ip'], port } };
}

export function formatAddr(ip: ArrayLike<number>, port: number): Addr {
  return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}:${port}`;
}

export class EnvelopeEncodeError extends Error {}

function endpointOrThrow(addr: Addr, which: string): Endpoint {
  const r = parseAddr(addr);
  if (!r.ok) throw new EnvelopeEncodeError(`cannot envelope ${which} address: ${r.message}`);
  return r.endpoint;
}

/** Wraps a packet: the envelope, then the packet's bytes. Throws EnvelopeEncodeError on a non-IPv4 address. */
export function encodeEnvelope(packet: Packet): Uint8Array {
  const src = endpointOrThrow(packet.src, 'src');
  const dst = endpointOrThrow(packet.dst, 'dst');
  const out = new Uint8Array(ENVELOPE_BYTES + packet.data.length);
  out[0] = ENVELOPE_MAGIC[0];
  out[1] = ENVELOPE_MAGIC[1];
  out.set(src.ip, 2);
  out[6] = src.port >>> 8;
  out[7] = src.port & 0xff;
  out.set(dst.ip, 8);
  out[12] = dst.port >>> 8;
  out[13] = dst.port & 0xff;
  out.set(packet.data, ENVELOPE_BYTES);
  return out;
}

/**
 * Unwraps a datagram. Never throws: malformed input gives a typed error. The packet's `data` is a
 * view into `datagram` (no copy).
 */
export function decodeEnvelope(datagram: Uint8Array): DecodeResult {
  if (datagram.length < ENVELOPE_BYTES) return { ok: false, error: { kind: 'too-short', length: datagram.length } };
  const m0 = datagram[0]!;
  const m1 = datagram[1]!;
  if (m0 !== ENVELOPE_MAGIC[0] || m1 !== ENVELOPE_MAGIC[1]) {
    return { ok: false, error: { kind: 'bad-magic', magic: [m0, m1] } };
  }
  const srcPort = (datagram[6]! << 8) | datagram[7]!;
  const dstPort = (datagram[12]! << 8) | datagram[13]!;
  if (srcPort === 0) return { ok: false, error: { kind: 'bad-port', which: 'src' } };
  if (dstPort === 0) return { ok: false, error: { kind: 'bad-port', which: 'dst' } };
  return {
    ok: true,
    packet: {
      src: formatAddr(datagram.subarray(2, 6), srcPort),
      dst: formatAddr(datagram.subarray(8, 12), dstPort),
      data: datagram.subarray(ENVELOPE_BYTES),
    },
  };
}
