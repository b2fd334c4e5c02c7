/**
 * R2P2 wire format, byte-compatible with the reference implementation (EPFL DCSL, Linux backend).
 * See /work/shared/PROTOCOLS.md "R2P2 wire format".
 *
 * Every datagram starts with an 8-byte header (big-endian multi-byte fields):
 *   0 u8 magic 0xCC | 1 u8 header size 8 | 2 u8 type<<4|policy | 3 u8 flags (F=0x80, L=0x40)
 *   4 u16 rid | 6 u16 packet order (packet count in the first packet, index 1..N-1 in later ones)
 *
 * Extensions (a reference peer can ignore them): type 8 SACK (payload u16 count + count × u16
 * missing packet indices) and the "count" form of FEEDBACK (16-byte reference "slot" form followed
 * by n u16, served u32 and epoch u64, 30 bytes; epoch names the server's incarnation).
 *
 * `decode` never throws: every malformed datagram yields a typed `DecodeError`.
 */
import type { Addr } from '../core.ts';
import type { PolicyName } from './actions.ts';

export const MAGIC = 0xcc;
export const HEADER_SIZE = 8;
export const F_FLAG = 0x80;
export const L_FLAG = 0x40;
/** Largest UDP payload (1500 − 20 IP − 8 UDP). */
export const MAX_DATAGRAM = 1472;
/** Largest R2P2 payload of one packet. */
export const MAX_PAYLOAD = MAX_DATAGRAM - HEADER_SIZE; // 1464
/** Payload of the REQ0 of a multi-packet request (a 64-byte Ethernet frame). */
export const REQ0_PAYLOAD = 14;
/** Most packets one message may have (u16 packet order). */
export const MAX_PACKETS = 0xffff;
/** Largest message body for a request / for any other data message. */
export const MAX_REQUEST_BODY = REQ0_PAYLOAD + (MAX_PACKETS - 1) * MAX_PAYLOAD;
export const MAX_BODY = MAX_PACKETS * MAX_PAYLOAD;
/** Most indices one SACK can carry in a single datagram. */
export const MAX_SACK_INDICES = Math.floor((MAX_PAYLOAD - 2) / 2); // 731
export const FEEDBACK_SLOT_SIZE = HEADER_SIZE + 8; // 16
export const FEEDBACK_COUNT_SIZE = FEEDBACK_SLOT_SIZE + 14; // 30

export const MSG_TYPES = [
  'REQUEST', 'RESPONSE', 'FEEDBACK', 'ACK', 'DROP', 'RAFT_REQ', 'RAFT_REP', 'RAFT_MSG', 'SACK',
] as const;
export type MsgType = (typeof MSG_TYPES)[number];
export const POLICIES: readonly PolicyName[] = [
  'LB_ROUTE', 'FIXED_ROUTE', 'REPLICATED_ROUTE', 'REPLICATED_ROUTE_NO_SE',
];

/** The types that carry a (possibly multi-packet) message body. */
export type DataType = 'REQUEST' | 'RESPONSE' | 'RAFT_REQ' | 'RAFT_REP' | 'RAFT_MSG';
const DATA_TYPES: ReadonlySet<MsgType> = new Set<MsgType>(['REQUEST', 'RESPONSE', 'RAFT_REQ', 'RAFT_REP', 'RAFT_MSG']);
export function isDataType(t: MsgType): t is DataType {
  return DATA_TYPES.has(t);
}

export interface Header {
  readonly type: MsgType;
  readonly policy: PolicyName;
  readonly first: boolean;
  readonly last: boolean;
  readonly rid: number;
  /** Packet count (first packet) or packet index (later packets). */
  readonly order: number;
}

export interface DataMsg extends Header {
  readonly type: DataType;
  readonly payload: Uint8Array;
}
export interface AckMsg extends Header { readonly type: 'ACK' }
export interface DropMsg extends Header { readonly type: 'DROP' }
export interface FeedbackMsg extends Header {
  readonly type: 'FEEDBACK';
  /** The request the feedback is about: its rid and the client's address (all zero in an announce). */
  readonly fbRid: number;
  readonly client: Addr;
  /** Present in the extended "count" form only. */
  readonly count?: FeedbackCount;
}
export interface SackMsg extends Header {
  readonly type: 'SACK';
  readonly missing: readonly number[];
}
/** The extended "count" form of FEEDBACK. */
export interface FeedbackCount {
  /** The server's queue bound. */
  readonly n: number;
  /** Requests the server has served since it started. */
  readonly served: number;
  /** The server's incarnation: its start time in µs (u64 on the wire, at most 2^53 − 1 here). */
  readonly epoch: number;
}

/** Whether incarnation `a` started after incarnation `b`. */
export function epochNewer(a: number, b: number): boolean {
  return a > b;
}

export type R2p2Msg = DataMsg | AckMsg | DropMsg | FeedbackMsg | SackMsg;

export type DecodeError =
  | { readonly kind: 'short'; readonly length: number }
  | { readonly kind: 'too-long'; readonly length: number }
  | { readonly kind: 'bad-magic'; readonly magic: number }
  | { readonly kind: 'bad-header-size'; readonly headerSize: number }
  | { readonly kind: 'unknown-type'; readonly type: number }
  | { readonly kind: 'unknown-policy'; readonly policy: number }
  | { readonly kind: 'bad-flags'; readonly flags: number }
  | { readonly kind: 'inconsistent-order'; readonly first: boolean; readonly last: boolean; readonly order: number }
  | { readonly kind: 'bad-payload'; readonly type: MsgType; readonly reason: string };

export type DecodeResult =
  | { readonly ok: true; readonly msg: R2p2Msg }
  | { readonly ok: false; readonly error: DecodeError };

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

const ACK_PAYLOAD = Uint8Array.of(0x41, 0x43, 0x4b); // "ACK"
const DROP_PAYLOAD = Uint8Array.of(0x44, 0x52, 0x4f, 0x50); // "DROP"

// ---------------------------------------------------------------- addresses

/** Parses `"a.b.c.d:port"` into an IPv4 u32 and a port, or undefined. */
export function parseAddr(addr: string): { ip: number; port: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(addr);
  if (!m) return undefined;
  const parts = [m[1], m[2], m[3], m[4]].map((s) => Number(s));
  if (parts.some((p) => p > 255)) return undefined;
  const port = Number(m[5]);
  if (port > 0xffff) return undefined;
  const ip = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  return { ip, port };
}

export function formatAddr(ip: number, port: number): Addr {
  return `${(ip >>> 24) & 255}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${port}`;
}

/** The all-zero triplet address carried by announces. */
export const ZERO_ADDR: Addr = '0.0.0.0:0';

// ---------------------------------------------------------------- encode

function u16ok(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffff;
}
function u32ok(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function writeHeader(out: Uint8Array, h: Omit<Header, 'type'> & { type: MsgType }): void {
  const t = MSG_TYPES.indexOf(h.type);
  const p = POLICIES.indexOf(h.policy);
  if (t < 0) throw new EncodeError(`unknown type ${h.type}`);
  if (p < 0) throw new EncodeError(`unknown policy ${h.policy}`);
  if (!u16ok(h.rid)) throw new EncodeError(`rid out of range: ${h.rid}`);
  if (!u16ok(h.order)) throw new EncodeError(`packet order out of range: ${h.order}`);
  out[0] = MAGIC;
  out[1] = HEADER_SIZE;
  out[2] = (t << 4) | p;
  out[3] = (h.first ? F_FLAG : 0) | (h.last ? L_FLAG : 0);
  out[4] = h.rid >>> 8;
  out[5] = h.rid & 255;
  out[6] = h.order >>> 8;
  out[7] = h.order & 255;
}

function withPayload(h: Header, payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_PAYLOAD) throw new EncodeError(`payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  writeHeader(out, h);
  out.set(payload, HEADER_SIZE);
  return out;
}

const single = { first: true, last: true, order: 1 } as const;

/** Encodes one packet. Throws `EncodeError` on values that do not fit the format. */
export function encode(msg: R2p2Msg): Uint8Array {
  switch (msg.type) {
    case 'ACK':
      return withPayload(msg, ACK_PAYLOAD);
    case 'DROP':
      return withPayload(msg, DROP_PAYLOAD);
    case 'SACK': {
      if (msg.missing.length > MAX_SACK_INDICES) throw new EncodeError(`SACK with ${msg.missing.length} indices`);
      const p = new Uint8Array(2 + 2 * msg.missing.length);
      const dv = new DataView(p.buffer);
      dv.setUint16(0, msg.missing.length);
      msg.missing.forEach((ix, i) => {
        if (!u16ok(ix)) throw new EncodeError(`SACK index out of range: ${ix}`);
        dv.setUint16(2 + 2 * i, ix);
      });
      return withPayload(msg, p);
    }
    case 'FEEDBACK': {
      const a = parseAddr(msg.client);
      if (!a) throw new EncodeError(`FEEDBACK client is not an IPv4 "ip:port": ${msg.client}`);
      if (!u16ok(msg.fbRid)) throw new EncodeError(`FEEDBACK rid out of range: ${msg.fbRid}`);
      const p = new Uint8Array(msg.count ? 22 : 8);
      const dv = new DataView(p.buffer);
      dv.setUint16(0, msg.fbRid);
      dv.setUint16(2, a.port);
      dv.setUint32(4, a.ip);
      if (msg.count) {
        const { n, served, epoch } = msg.count;
        if (!u16ok(n)) throw new EncodeError(`FEEDBACK n out of range: ${n}`);
        if (!u32ok(served)) throw new EncodeError(`FEEDBACK served out of range: ${served}`);
        if (!Number.isSafeInteger(epoch) || epoch < 0) throw new EncodeError(`FEEDBACK epoch out of range: ${epoch}`);
        dv.setUint16(8, n);
        dv.setUint32(10, served);
        dv.setUint32(14, Math.floor(epoch / 2 ** 32));
        dv.setUint32(18, epoch >>> 0);
      }
      return withPayload(msg, p);
    }
    default:
      return withPayload(msg, msg.payload);
  }
}

export function ackPacket(rid: number, policy: PolicyName = 'FIXED_ROUTE'): Uint8Array {
  return encode({ type: 'ACK', policy, rid, ...single });
}
export function dropPacket(rid: number, policy: PolicyName = 'FIXED_ROUTE'): Uint8Array {
  return encode({ type: 'DROP', policy, rid, ...single });
}
export function sackPacket(rid: number, missing: readonly number[], policy: PolicyName = 'FIXED_ROUTE'): Uint8Array {
  return encode({ type: 'SACK', policy, rid, ...single, missing });
}
/**
 * FEEDBACK about request (client, rid); with `count`, the extended form. The header's rid is the
 * request's rid too (the reference leaves it unset; we fill it in).
 */
export function feedbackPacket(client: Addr, rid: number, count?: FeedbackCount): Uint8Array {
  return encode({
    type: 'FEEDBACK', policy: 'LB_ROUTE', rid, ...single, fbRid: rid, client,
    ...(count ? { count } : {}),
  });
}

// ---------------------------------------------------------------- segmentation

/** Number of packets `split` produces for a body of `size` bytes. */
export function packetCount(type: DataType, size: number): number {
  if (size <= MAX_PAYLOAD) return 1;
  if (type === 'REQUEST') return 1 + Math.ceil((size - REQ0_PAYLOAD) / MAX_PAYLOAD);
  return Math.ceil(size / MAX_PAYLOAD);
}

/**
 * Splits a message body into datagrams as the reference does: one packet (F, L, order 1) when the
 * body fits; otherwise the first packet has F and order = N, later ones their index 1..N−1, the
 * last one L. A multi-packet REQUEST's first packet (REQ0) carries only 14 bytes.
 */
export function split(type: DataType, policy: PolicyName, rid: number, body: Uint8Array): Uint8Array[] {
  const n = packetCount(type, body.length);
  if (n > MAX_PACKETS) throw new EncodeError(`a body of ${body.length} bytes needs ${n} packets (max ${MAX_PACKETS})`);
  if (n === 1) return [encode({ type, policy, rid, ...single, payload: body })];
  const out: Uint8Array[] = [];
  let off = 0;
  for (let i = 0; i < n; i++) {
    const len = i === 0 && type === 'REQUEST' ? REQ0_PAYLOAD : MAX_PAYLOAD;
    const payload = body.subarray(off, Math.min(off + len, body.length));
    off += payload.length;
    out.push(encode({ type, policy, rid, first: i === 0, last: i === n - 1, order: i === 0 ? n : i, payload }));
  }
  return out;
}

/**
 * Reassembles one message from its packets, in any order, ignoring duplicates. Packets whose
 * index does not fit the packet count announced by the first packet are ignored.
 */
export class Reassembler {
  private npkts: number | undefined;
  private readonly parts = new Map<number, Uint8Array>();
  private readonly seen = new Set<number>();

  /**
   * @param inArrivalOrder the seeded bug `reassembly-loses-reordered-packet`: a later packet is
   *   stored at the next expected index instead of its own, so reordering corrupts the body.
   */
  constructor(private readonly inArrivalOrder = false) {}

  /** The packet count, once the first packet has arrived. */
  get count(): number | undefined {
    return this.npkts;
  }

  /** Adds a packet; returns true if it was new (not a duplicate, not inconsistent). */
  add(msg: DataMsg): boolean {
    if (msg.first) {
      if (this.npkts !== undefined) return false;
      // Drop stored later packets that cannot belong to a message of this size.
      for (const ix of [...this.parts.keys()]) if (ix >= msg.order) this.parts.delete(ix);
      this.npkts = msg.order;
      this.parts.set(0, msg.payload);
      return true;
    }
    const ix = msg.order;
    if (ix < 1 || (this.npkts !== undefined && ix >= this.npkts)) return false;
    if (msg.last && this.npkts !== undefined && ix !== this.npkts - 1) return false;
    if (this.inArrivalOrder) {
      // Buggy: duplicates are recognised by index, but a packet is stored in the lowest free
      // slot, whatever its index says, so a reordered message reassembles scrambled.
      if (this.seen.has(ix)) return false;
      let slot = 1;
      while (this.parts.has(slot)) slot++;
      if (this.npkts !== undefined && slot >= this.npkts) return false;
      this.seen.add(ix);
      this.parts.set(slot, msg.payload);
      return true;
    }
    if (this.parts.has(ix)) return false;
    this.parts.set(ix, msg.payload);
    return true;
  }

  /** Indices 1..N−1 not yet received (empty until the first packet is known). */
  missing(): number[] {
    const out: number[] = [];
    if (this.npkts === undefined) return out;
    for (let i = 1; i < this.npkts; i++) if (!this.parts.has(i)) out.push(i);
    return out;
  }

  complete(): boolean {
    return this.npkts !== undefined && this.parts.size === this.npkts;
  }

  /** The body, once complete. */
  body(): Uint8Array | undefined {
    if (!this.complete()) return undefined;
    const n = this.npkts!;
    let len = 0;
    for (let i = 0; i < n; i++) len += this.parts.get(i)!.length;
    const out = new Uint8Array(len);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const p = this.parts.get(i)!;
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** Reassembles a whole message from a list of datagrams (any order, duplicates allowed). */
export function reassemble(packets: readonly Uint8Array[]): Uint8Array | undefined {
  const r = new Reassembler();
  for (const p of packets) {
    const d = decode(p);
    if (d.ok && isDataType(d.msg.type)) r.add(d.msg as DataMsg);
  }
  return r.body();
}

// ---------------------------------------------------------------- decode

function err(error: DecodeError): DecodeResult {
  return { ok: false, error };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Decodes one datagram. Never throws. */
export function decode(bytes: Uint8Array): DecodeResult {
  try {
    return decodeUnsafe(bytes);
  } catch (e) {
    // Defensive: decodeUnsafe checks every length before reading, so this is unreachable.
    return err({ kind: 'bad-payload', type: 'REQUEST', reason: `internal: ${String(e)}` });
  }
}

function decodeUnsafe(bytes: Uint8Array): DecodeResult {
  if (!(bytes instanceof Uint8Array)) return err({ kind: 'short', length: 0 });
  if (bytes.length < HEADER_SIZE) return err({ kind: 'short', length: bytes.length });
  if (bytes.length > MAX_DATAGRAM) return err({ kind: 'too-long', length: bytes.length });
  if (bytes[0] !== MAGIC) return err({ kind: 'bad-magic', magic: bytes[0]! });
  if (bytes[1] !== HEADER_SIZE) return err({ kind: 'bad-header-size', headerSize: bytes[1]! });
  const t = bytes[2]! >>> 4;
  const p = bytes[2]! & 0x0f;
  const type = MSG_TYPES[t];
  if (type === undefined) return err({ kind: 'unknown-type', type: t });
  const policy = POLICIES[p];
  if (policy === undefined) return err({ kind: 'unknown-policy', policy: p });
  const flags = bytes[3]!;
  if ((flags & ~(F_FLAG | L_FLAG)) !== 0) return err({ kind: 'bad-flags', flags });
  const first = (flags & F_FLAG) !== 0;
  const last = (flags & L_FLAG) !== 0;
  const rid = (bytes[4]! << 8) | bytes[5]!;
  const order = (bytes[6]! << 8) | bytes[7]!;
  const payload = bytes.slice(HEADER_SIZE);
  const h = { policy, first, last, rid, order };

  if (isDataType(type)) {
    if (first && last && order !== 1) return err({ kind: 'inconsistent-order', first, last, order });
    if (first && !last && order < 2) return err({ kind: 'inconsistent-order', first, last, order });
    if (!first && order < 1) return err({ kind: 'inconsistent-order', first, last, order });
    return { ok: true, msg: { type, ...h, payload } };
  }
  // Control messages are single packets.
  if (!first || !last) return err({ kind: 'bad-flags', flags });
  if (order !== 1) return err({ kind: 'inconsistent-order', first, last, order });
  switch (type) {
    case 'ACK':
      if (!bytesEqual(payload, ACK_PAYLOAD)) return err({ kind: 'bad-payload', type, reason: 'ACK payload must be "ACK"' });
      return { ok: true, msg: { type, ...h } };
    case 'DROP':
      if (!bytesEqual(payload, DROP_PAYLOAD)) return err({ kind: 'bad-payload', type, reason: 'DROP payload must be "DROP"' });
      return { ok: true, msg: { type, ...h } };
    case 'FEEDBACK': {
      if (payload.length !== 8 && payload.length !== 22) {
        return err({ kind: 'bad-payload', type, reason: `FEEDBACK payload of ${payload.length} bytes (want 8 or 22)` });
      }
      const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const fbRid = dv.getUint16(0);
      const client = formatAddr(dv.getUint32(4), dv.getUint16(2));
      if (payload.length === 22) {
        const hi = dv.getUint32(14);
        if (hi >= 2 ** 21) return err({ kind: 'bad-payload', type, reason: `FEEDBACK epoch beyond 2^53 (high word ${hi})` });
        const count = { n: dv.getUint16(8), served: dv.getUint32(10), epoch: hi * 2 ** 32 + dv.getUint32(18) };
        return { ok: true, msg: { type, ...h, fbRid, client, count } };
      }
      return { ok: true, msg: { type, ...h, fbRid, client } };
    }
    case 'SACK': {
      if (payload.length < 2) return err({ kind: 'bad-payload', type, reason: 'SACK without count' });
      const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const count = dv.getUint16(0);
      if (payload.length !== 2 + 2 * count) {
        return err({ kind: 'bad-payload', type, reason: `SACK count ${count} does not match ${payload.length - 2} bytes` });
      }
      const missing: number[] = [];
      for (let i = 0; i < count; i++) {
        const ix = dv.getUint16(2 + 2 * i);
        if (ix < 1) return err({ kind: 'bad-payload', type, reason: 'SACK index 0 (REQ0 is never resent)' });
        missing.push(ix);
      }
      return { ok: true, msg: { type, ...h, missing } };
    }
    default:
      return err({ kind: 'unknown-type', type: t });
  }
}
