/**
 * Wire format of the Raft messages of HovercRaft, each carried in one R2P2 datagram (at most 1472
 * bytes). All multi-byte fields are big-endian; every field sits at a fixed offset from the start
 * of the datagram, so a P4-like program parses the headers it needs without loops.
 *
 * R2P2 header (bytes 0–7, see impl/r2p2/codec.ts): magic 0xCC, size 8, type<<4 | policy 0
 * (LB_ROUTE), flags F|L (0xC0), rid 0, packet order 1. The type is RAFT_REQ (5) for requests,
 * RAFT_REP (6) for their replies and RAFT_MSG (7) for one-way messages.
 *
 * Every message continues with
 *   8 u8 kind | 9 u8 sender: node index (position in the config's `nodes`), 0xFF = the aggregator
 *
 * | kind | name              | type     | bytes 10…                                                   | size |
 * | ---- | ----------------- | -------- | ----------------------------------------------------------- | ---- |
 * | 1    | request_vote      | RAFT_REQ | 10 u16 0, 12 u32 term, 16 u32 lastIndex, 20 u32 lastTerm    | 24   |
 * | 2    | vote_reply        | RAFT_REP | 10 u8 granted, 11 u8 0, 12 u32 term                         | 16   |
 * | 3    | append_entries    | RAFT_REQ | 10 u8 flags, 11 u8 count, 12 u32 term, 16 u32 prevIndex,    | 28 + |
 * |      |                   |          | 20 u32 prevTerm, 24 u32 commit, 28 count × entry (16 bytes), |      |
 * |      |                   |          | then with flag BODIES count × (u16 length, body)            |      |
 * | 4    | append_reply      | RAFT_REP | 10 u8 success, 11 u8 0, 12 u32 term, 16 u32 matchIndex,     | 24   |
 * |      |                   |          | 20 u32 applied                                              |      |
 * | 5    | recovery_request  | RAFT_REQ | 10 u16 0, 12 u32 client IPv4, 16 u16 client port, 18 u16 rid | 20   |
 * | 6    | recovery_reply    | RAFT_MSG | 10 u8 flags (bit 0: read-only), 11 u8 0, 12 u32 client IPv4, | 22 + |
 * |      |                   |          | 16 u16 client port, 18 u16 rid, 20 u16 length, 22 body      |      |
 * | 7    | agg_probe         | RAFT_REQ | 10 u16 0, 12 u32 term                                        | 16   |
 * | 8    | agg_probe_reply   | RAFT_REP | 10 u16 0, 12 u32 term (sender 0xFF)                          | 16   |
 * | 9    | agg_commit        | RAFT_MSG | 10 u8 n, 11 u8 0, 12 u32 term, 16 u32 commit,               | 20 + |
 * |      |                   |          | 20 n × u32 applied index of node i (sender 0xFF)            | 4n   |
 *
 * append_entries flags: bit 0 BODIES (raft mode: each entry's request body follows the metadata),
 * bit 1 AGG (sent through the aggregator: a follower sends a success reply to the aggregator).
 * An entry's metadata (16 bytes): 0 u32 term, 4 u32 client IPv4, 8 u16 client port, 10 u8 replier
 * node index, 11 u8 flags (bit 0: read-only), 12 u32 rid (u32, so a no-op can carry rid = term).
 * Reserved bytes and unknown flag bits are zero; `decodeRaft` rejects anything else.
 *
 * `decodeRaft` never throws: malformed bytes give an error value.
 */
import type { Addr } from '../core.ts';
import { EncodeError, decode, F_FLAG, HEADER_SIZE, L_FLAG, MAGIC, MAX_DATAGRAM, MSG_TYPES, formatAddr, parseAddr } from '../r2p2/codec.ts';

export { EncodeError };

/** Most nodes a group may have (node indices are u8; 0xFF names the aggregator). */
export const MAX_NODES = 16;
export const AGGREGATOR_INDEX = 0xff;

export const OFF_KIND = 8;
export const OFF_SENDER = 9;
export const OFF_FLAGS = 10;
export const OFF_COUNT = 11;
export const OFF_TERM = 12;
export const OFF_PREV_INDEX = 16;
export const OFF_PREV_TERM = 20;
export const OFF_COMMIT = 24;
export const OFF_MATCH_INDEX = 16;
export const OFF_APPLIED = 20;
export const AE_HEADER_SIZE = 28;
export const ENTRY_SIZE = 16;
/** Most entries one append_entries can carry (metadata only). */
export const MAX_AE_ENTRIES = Math.floor((MAX_DATAGRAM - AE_HEADER_SIZE) / ENTRY_SIZE); // 90
/**
 * Largest client request body the nodes accept: one entry with its body alone in an
 * append_entries (raft mode) must fit one datagram. A recovery reply then fits too.
 */
export const MAX_REQUEST_BODY = MAX_DATAGRAM - AE_HEADER_SIZE - ENTRY_SIZE - 2; // 1426

export const AE_FLAG_BODIES = 0x01;
export const AE_FLAG_AGG = 0x02;

export const KIND = {
  request_vote: 1,
  vote_reply: 2,
  append_entries: 3,
  append_reply: 4,
  recovery_request: 5,
  recovery_reply: 6,
  agg_probe: 7,
  agg_probe_reply: 8,
  agg_commit: 9,
} as const;
export type RaftKind = keyof typeof KIND;

const TYPE_OF: Record<RaftKind, 'RAFT_REQ' | 'RAFT_REP' | 'RAFT_MSG'> = {
  request_vote: 'RAFT_REQ',
  vote_reply: 'RAFT_REP',
  append_entries: 'RAFT_REQ',
  append_reply: 'RAFT_REP',
  recovery_request: 'RAFT_REQ',
  recovery_reply: 'RAFT_MSG',
  agg_probe: 'RAFT_REQ',
  agg_probe_reply: 'RAFT_REP',
  agg_commit: 'RAFT_MSG',
};
const KIND_NAMES = Object.keys(KIND) as RaftKind[];

/** A log entry on the wire. `body` is present exactly when the append_entries carries bodies. */
export interface WireEntry {
  readonly term: number;
  readonly client: Addr;
  readonly rid: number;
  /** Node index of the replier. */
  readonly replier: number;
  readonly ro: boolean;
  readonly body?: Uint8Array;
}

export type RaftMsg =
  | { readonly kind: 'request_vote'; readonly from: number; readonly term: number; readonly lastIndex: number; readonly lastTerm: number }
  | { readonly kind: 'vote_reply'; readonly from: number; readonly term: number; readonly granted: boolean }
  | {
    readonly kind: 'append_entries'; readonly from: number; readonly term: number; readonly prevIndex: number;
    readonly prevTerm: number; readonly commit: number; readonly viaAggregator: boolean;
    /** Whether entries carry their bodies (raft mode). */
    readonly bodies: boolean; readonly entries: readonly WireEntry[];
  }
  | {
    readonly kind: 'append_reply'; readonly from: number; readonly term: number; readonly success: boolean;
    readonly matchIndex: number; readonly applied: number;
  }
  | { readonly kind: 'recovery_request'; readonly from: number; readonly client: Addr; readonly rid: number }
  | {
    readonly kind: 'recovery_reply'; readonly from: number; readonly client: Addr; readonly rid: number;
    readonly ro: boolean; readonly body: Uint8Array;
  }
  | { readonly kind: 'agg_probe'; readonly from: number; readonly term: number }
  | { readonly kind: 'agg_probe_reply'; readonly from: number; readonly term: number }
  | { readonly kind: 'agg_commit'; readonly from: number; readonly term: number; readonly commit: number; readonly applied: readonly number[] };

export type RaftDecodeResult =
  | { readonly ok: true; readonly msg: RaftMsg }
  | { readonly ok: false; readonly error: string };

// ---------------------------------------------------------------- encode

const u8ok = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xff;
const u16ok = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffff;
const u32ok = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

function check(ok: boolean, what: string, v: unknown): void {
  if (!ok) throw new EncodeError(`${what} out of range: ${String(v)}`);
}

function addrOf(client: Addr): { ip: number; port: number } {
  const a = parseAddr(client);
  if (!a) throw new EncodeError(`client is not an IPv4 "ip:port": ${client}`);
  return a;
}

/** Bytes one entry takes in an append_entries. */
export function entrySize(e: WireEntry, bodies: boolean): number {
  return ENTRY_SIZE + (bodies ? 2 + (e.body?.length ?? 0) : 0);
}

/** How many of `entries`, from the first, fit in one append_entries datagram. */
export function fitEntries(entries: readonly WireEntry[], bodies: boolean): number {
  let size = AE_HEADER_SIZE;
  let n = 0;
  for (const e of entries) {
    if (n >= MAX_AE_ENTRIES) break;
    size += entrySize(e, bodies);
    if (size > MAX_DATAGRAM) break;
    n++;
  }
  return n;
}

/** Encodes one message as a whole datagram. Throws `EncodeError` on values that do not fit. */
export function encodeRaft(msg: RaftMsg): Uint8Array {
  check(u8ok(msg.from), 'sender index', msg.from);
  let size: number;
  switch (msg.kind) {
    case 'request_vote':
    case 'append_reply':
      size = 24;
      break;
    case 'vote_reply':
    case 'agg_probe':
    case 'agg_probe_reply':
      size = 16;
      break;
    case 'recovery_request':
      size = 20;
      break;
    case 'recovery_reply':
      size = 22 + msg.body.length;
      break;
    case 'agg_commit':
      size = 20 + 4 * msg.applied.length;
      break;
    case 'append_entries':
      size = AE_HEADER_SIZE + msg.entries.reduce((s, e) => s + entrySize(e, msg.bodies), 0);
      break;
  }
  if (size > MAX_DATAGRAM) throw new EncodeError(`${msg.kind} of ${size} bytes exceeds ${MAX_DATAGRAM}`);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = MAGIC;
  out[1] = HEADER_SIZE;
  out[2] = MSG_TYPES.indexOf(TYPE_OF[msg.kind]) << 4;
  out[3] = F_FLAG | L_FLAG;
  dv.setUint16(6, 1);
  out[OFF_KIND] = KIND[msg.kind];
  out[OFF_SENDER] = msg.from;
  const term = (t: number): void => {
    check(u32ok(t), 'term', t);
    dv.setUint32(OFF_TERM, t);
  };
  const u32 = (off: number, v: number, what: string): void => {
    check(u32ok(v), what, v);
    dv.setUint32(off, v);
  };
  switch (msg.kind) {
    case 'request_vote':
      term(msg.term);
      u32(16, msg.lastIndex, 'lastIndex');
      u32(20, msg.lastTerm, 'lastTerm');
      break;
    case 'vote_reply':
      out[10] = msg.granted ? 1 : 0;
      term(msg.term);
      break;
    case 'append_reply':
      out[10] = msg.success ? 1 : 0;
      term(msg.term);
      u32(OFF_MATCH_INDEX, msg.matchIndex, 'matchIndex');
      u32(OFF_APPLIED, msg.applied, 'applied');
      break;
    case 'agg_probe':
    case 'agg_probe_reply':
      term(msg.term);
      break;
    case 'recovery_request':
    case 'recovery_reply': {
      const a = addrOf(msg.client);
      check(u16ok(msg.rid), 'rid', msg.rid);
      dv.setUint32(12, a.ip);
      dv.setUint16(16, a.port);
      dv.setUint16(18, msg.rid);
      if (msg.kind === 'recovery_reply') {
        out[10] = msg.ro ? 1 : 0;
        dv.setUint16(20, msg.body.length);
        out.set(msg.body, 22);
      }
      break;
    }
    case 'agg_commit':
      check(msg.applied.length <= MAX_NODES, 'node count', msg.applied.length);
      out[10] = msg.applied.length;
      term(msg.term);
      u32(16, msg.commit, 'commit');
      msg.applied.forEach((a, i) => u32(20 + 4 * i, a, 'applied'));
      break;
    case 'append_entries': {
      check(msg.entries.length <= MAX_AE_ENTRIES, 'entry count', msg.entries.length);
      out[OFF_FLAGS] = (msg.bodies ? AE_FLAG_BODIES : 0) | (msg.viaAggregator ? AE_FLAG_AGG : 0);
      out[OFF_COUNT] = msg.entries.length;
      term(msg.term);
      u32(OFF_PREV_INDEX, msg.prevIndex, 'prevIndex');
      u32(OFF_PREV_TERM, msg.prevTerm, 'prevTerm');
      u32(OFF_COMMIT, msg.commit, 'commit');
      let off = AE_HEADER_SIZE;
      for (const e of msg.entries) {
        const a = addrOf(e.client);
        u32(off, e.term, 'entry term');
        dv.setUint32(off + 4, a.ip);
        dv.setUint16(off + 8, a.port);
        check(u8ok(e.replier) && e.replier < MAX_NODES, 'replier index', e.replier);
        out[off + 10] = e.replier;
        out[off + 11] = e.ro ? 1 : 0;
        u32(off + 12, e.rid, 'entry rid');
        off += ENTRY_SIZE;
      }
      if (msg.bodies) {
        for (const e of msg.entries) {
          const body = e.body ?? new Uint8Array(0);
          dv.setUint16(off, body.length);
          out.set(body, off + 2);
          off += 2 + body.length;
        }
      }
      break;
    }
  }
  return out;
}

// ---------------------------------------------------------------- decode

function fail(error: string): RaftDecodeResult {
  return { ok: false, error };
}

/** Decodes one datagram. Never throws. */
export function decodeRaft(bytes: Uint8Array): RaftDecodeResult {
  try {
    return decodeUnsafe(bytes);
  } catch (e) {
    // Every length is checked before it is read, so this is unreachable.
    return fail(`internal: ${String(e)}`);
  }
}

function decodeUnsafe(bytes: Uint8Array): RaftDecodeResult {
  if (!(bytes instanceof Uint8Array)) return fail('not bytes');
  if (bytes.length < 10) return fail(`short datagram (${bytes.length} bytes)`);
  if (bytes.length > MAX_DATAGRAM) return fail(`datagram of ${bytes.length} bytes exceeds ${MAX_DATAGRAM}`);
  if (bytes[0] !== MAGIC) return fail(`bad magic ${bytes[0]}`);
  if (bytes[1] !== HEADER_SIZE) return fail(`bad header size ${bytes[1]}`);
  if (bytes[3] !== (F_FLAG | L_FLAG)) return fail(`not a single-packet message (flags ${bytes[3]})`);
  if (bytes[4] !== 0 || bytes[5] !== 0) return fail('rid must be 0');
  if (bytes[6] !== 0 || bytes[7] !== 1) return fail('packet order must be 1');
  const kind = KIND_NAMES[bytes[OFF_KIND]! - 1];
  if (kind === undefined) return fail(`unknown Raft kind ${bytes[OFF_KIND]}`);
  const type = MSG_TYPES[bytes[2]! >>> 4];
  if ((bytes[2]! & 0x0f) !== 0) return fail(`policy must be LB_ROUTE, got ${bytes[2]! & 0x0f}`);
  if (type !== TYPE_OF[kind]) return fail(`${kind} must travel as ${TYPE_OF[kind]}, got ${type ?? bytes[2]! >>> 4}`);
  const from = bytes[OFF_SENDER]!;
  const fromAgg = kind === 'agg_commit' || kind === 'agg_probe_reply';
  if (fromAgg ? from !== AGGREGATOR_INDEX : from >= MAX_NODES) return fail(`bad sender index ${from} for ${kind}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  const exact = (n: number): string | undefined => (len === n ? undefined : `${kind} of ${len} bytes (want ${n})`);
  const zero = (...offs: number[]): string | undefined =>
    offs.some((o) => bytes[o] !== 0) ? `${kind}: reserved byte not zero` : undefined;
  const bool = (o: number): boolean | string => (bytes[o] === 0 ? false : bytes[o] === 1 ? true : `${kind}: flag byte ${bytes[o]}`);
  const term = (): number => dv.getUint32(OFF_TERM);
  switch (kind) {
    case 'request_vote': {
      const e = exact(24) ?? zero(10, 11);
      if (e) return fail(e);
      return { ok: true, msg: { kind, from, term: term(), lastIndex: dv.getUint32(16), lastTerm: dv.getUint32(20) } };
    }
    case 'vote_reply': {
      const e = exact(16) ?? zero(11);
      if (e) return fail(e);
      const granted = bool(10);
      if (typeof granted === 'string') return fail(granted);
      return { ok: true, msg: { kind, from, term: term(), granted } };
    }
    case 'append_reply': {
      const e = exact(24) ?? zero(11);
      if (e) return fail(e);
      const success = bool(10);
      if (typeof success === 'string') return fail(success);
      return {
        ok: true,
        msg: { kind, from, term: term(), success, matchIndex: dv.getUint32(OFF_MATCH_INDEX), applied: dv.getUint32(OFF_APPLIED) },
      };
    }
    case 'agg_probe':
    case 'agg_probe_reply': {
      const e = exact(16) ?? zero(10, 11);
      if (e) return fail(e);
      return { ok: true, msg: { kind, from, term: term() } };
    }
    case 'recovery_request': {
      const e = exact(20) ?? zero(10, 11);
      if (e) return fail(e);
      return { ok: true, msg: { kind, from, client: formatAddr(dv.getUint32(12), dv.getUint16(16)), rid: dv.getUint16(18) } };
    }
    case 'recovery_reply': {
      if (len < 22) return fail(`recovery_reply of ${len} bytes (want at least 22)`);
      const e = zero(11);
      if (e) return fail(e);
      const ro = bool(10);
      if (typeof ro === 'string') return fail(ro);
      const blen = dv.getUint16(20);
      if (len !== 22 + blen) return fail(`recovery_reply body length ${blen} does not match ${len - 22} bytes`);
      return {
        ok: true,
        msg: { kind, from, client: formatAddr(dv.getUint32(12), dv.getUint16(16)), rid: dv.getUint16(18), ro, body: bytes.slice(22) },
      };
    }
    case 'agg_commit': {
      if (len < 20) return fail(`agg_commit of ${len} bytes (want at least 20)`);
      const n = bytes[10]!;
      const e = zero(11) ?? (n > MAX_NODES ? `agg_commit for ${n} nodes (max ${MAX_NODES})` : undefined) ?? exact(20 + 4 * n);
      if (e) return fail(e);
      const applied: number[] = [];
      for (let i = 0; i < n; i++) applied.push(dv.getUint32(20 + 4 * i));
      return { ok: true, msg: { kind, from, term: term(), commit: dv.getUint32(16), applied } };
    }
    case 'append_entries': {
      if (len < AE_HEADER_SIZE) return fail(`append_entries of ${len} bytes (want at least ${AE_HEADER_SIZE})`);
      const flags = bytes[OFF_FLAGS]!;
      if ((flags & ~(AE_FLAG_BODIES | AE_FLAG_AGG)) !== 0) return fail(`append_entries: unknown flags ${flags}`);
      const bodies = (flags & AE_FLAG_BODIES) !== 0;
      const count = bytes[OFF_COUNT]!;
      if (count > MAX_AE_ENTRIES) return fail(`append_entries with ${count} entries (max ${MAX_AE_ENTRIES})`);
      let off = AE_HEADER_SIZE + count * ENTRY_SIZE;
      if (len < off) return fail(`append_entries: ${count} entries need ${off} bytes, got ${len}`);
      const metas: Omit<WireEntry, 'body'>[] = [];
      for (let i = 0; i < count; i++) {
        const o = AE_HEADER_SIZE + i * ENTRY_SIZE;
        const replier = bytes[o + 10]!;
        const ef = bytes[o + 11]!;
        if (replier >= MAX_NODES) return fail(`append_entries: entry ${i} has replier index ${replier}`);
        if (ef > 1) return fail(`append_entries: entry ${i} has flags ${ef}`);
        metas.push({
          term: dv.getUint32(o), client: formatAddr(dv.getUint32(o + 4), dv.getUint16(o + 8)), rid: dv.getUint32(o + 12),
          replier, ro: ef === 1,
        });
      }
      let entries: WireEntry[] = metas;
      if (bodies) {
        entries = [];
        for (const m of metas) {
          if (off + 2 > len) return fail('append_entries: truncated body length');
          const blen = dv.getUint16(off);
          if (off + 2 + blen > len) return fail('append_entries: truncated body');
          entries.push({ ...m, body: bytes.slice(off + 2, off + 2 + blen) });
          off += 2 + blen;
        }
      }
      if (off !== len) return fail(`append_entries: ${len - off} trailing bytes`);
      return {
        ok: true,
        msg: {
          kind, from, term: term(), prevIndex: dv.getUint32(OFF_PREV_INDEX), prevTerm: dv.getUint32(OFF_PREV_TERM),
          commit: dv.getUint32(OFF_COMMIT), viaAggregator: (flags & AE_FLAG_AGG) !== 0, bodies, entries,
        },
      };
    }
  }
}

/**
 * A datagram's class, for counting messages: the Raft kind of a Raft message (`append_entries`,
 * `append_reply`, `agg_commit`, …), else the R2P2 type (`REQUEST`, `RESPONSE`, `FEEDBACK`, …).
 */
export function messageClass(data: Uint8Array): string {
  const d = decode(data);
  if (!d.ok) return 'malformed';
  if (d.msg.type === 'RAFT_REQ' || d.msg.type === 'RAFT_REP' || d.msg.type === 'RAFT_MSG') {
    const r = decodeRaft(data);
    return r.ok ? r.msg.kind : 'malformed';
  }
  return d.msg.type;
}
