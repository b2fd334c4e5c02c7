/**
 * Shared pieces of the R2P2 cores: seeded bug names, config validation, the deterministic
 * request/reply bodies of the synthetic workload, and small output helpers.
 */
import type { Addr, CoreOutput } from '../core.ts';
import { digest } from '../digest.ts';
import { Rng } from '../rng.ts';
import type { R2p2TraceBody } from './actions.ts';
import { parseAddr } from './codec.ts';

// ---------------------------------------------------------------- seeded bugs

/** JBSQ dispatches to a server whose outstanding count equals n (`<=` instead of `<`). */
export const BUG_ROUTER_EXCEEDS_BOUND = 'router-exceeds-bound';
/** The server sends each reply twice and emits ServerReply twice. */
export const BUG_SERVER_REPLIES_TWICE = 'server-replies-twice';
/** The client completes its oldest pending request with any reply, whatever its rid. */
export const BUG_CLIENT_ACCEPTS_WRONG_RID = 'client-accepts-wrong-rid';
/** Server reassembly stores REQn packets in arrival order, so reordering scrambles the body. */
export const BUG_REASSEMBLY_LOSES_REORDERED = 'reassembly-loses-reordered-packet';
/** The router counts every FEEDBACK (duplicates included) as one served request. */
export const BUG_ROUTER_BLIND_FEEDBACK = 'router-blind-feedback';
/** The router drops a server's account when it leaves, so a live server rejoins counted from zero. */
export const BUG_ROUTER_FORGETS_ON_LEAVE = 'router-forgets-on-leave';
/** The server forgets the requests it completed, so it takes and serves a duplicated REQ0 again. */
export const BUG_SERVER_SERVES_DUPLICATE = 'server-serves-duplicate';
/** A (re)started server takes and serves requests during its quiet period, before it announces itself. */
export const BUG_SERVER_SERVES_BEFORE_ANNOUNCE = 'server-serves-before-announce';

/** The client stops a multi-packet request's timer when the ACK arrives (spec: AckDisarms), so a lost reply leaves it pending. */
export const BUG_CLIENT_ACK_DISARMS_TIMER = 'client-ack-disarms-timer';

export const R2P2_BUGS = [
  BUG_ROUTER_EXCEEDS_BOUND,
  BUG_SERVER_REPLIES_TWICE,
  BUG_CLIENT_ACCEPTS_WRONG_RID,
  BUG_REASSEMBLY_LOSES_REORDERED,
  BUG_ROUTER_BLIND_FEEDBACK,
  BUG_ROUTER_FORGETS_ON_LEAVE,
  BUG_SERVER_SERVES_DUPLICATE,
  BUG_SERVER_SERVES_BEFORE_ANNOUNCE,
  BUG_CLIENT_ACK_DISARMS_TIMER,
] as const;
export type R2p2BugName = (typeof R2P2_BUGS)[number];

// ---------------------------------------------------------------- config validation

/** A role's config is malformed; the message names the offending field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly role: string, readonly field: string, detail: string) {
    super(`${role} config: field "${field}" ${detail}`);
  }
}

type Obj = { readonly [k: string]: unknown };

export function configObject(role: string, config: unknown, allowed: readonly string[]): Obj {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError(role, '(config)', 'must be an object');
  }
  for (const k of Object.keys(config)) {
    if (!allowed.includes(k)) throw new ConfigError(role, k, `is not a known field (known: ${allowed.join(', ')})`);
  }
  return config as Obj;
}

export function addrField(role: string, c: Obj, field: string): Addr {
  const v = c[field];
  if (typeof v !== 'string' || !parseAddr(v)) {
    throw new ConfigError(role, field, `must be an IPv4 address "a.b.c.d:port", got ${JSON.stringify(v)}`);
  }
  return v;
}

export function numField(
  role: string, c: Obj, field: string,
  opts: { min: number; max?: number; integer?: boolean; optional?: false },
): number;
export function numField(
  role: string, c: Obj, field: string,
  opts: { min: number; max?: number; integer?: boolean; optional: true },
): number | undefined;
export function numField(
  role: string, c: Obj, field: string,
  opts: { min: number; max?: number; integer?: boolean; optional?: boolean },
): number | undefined {
  const v = c[field];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ConfigError(role, field, `must be a number, got ${JSON.stringify(v)}`);
  }
  if (opts.integer && !Number.isInteger(v)) throw new ConfigError(role, field, `must be an integer, got ${v}`);
  if (v < opts.min) throw new ConfigError(role, field, `must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new ConfigError(role, field, `must be <= ${opts.max}, got ${v}`);
  return v;
}

export function enumField<T extends string>(role: string, c: Obj, field: string, values: readonly T[]): T {
  const v = c[field];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new ConfigError(role, field, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

// ---------------------------------------------------------------- synthetic bodies

function seedOf(text: string): number {
  return parseInt(digest(new TextEncoder().encode(text)), 16) >>> 0;
}

function fill(out: Uint8Array, from: number, rng: Rng): void {
  let i = from;
  while (i + 4 <= out.length) {
    const w = rng.nextU32();
    out[i++] = w >>> 24;
    out[i++] = (w >>> 16) & 255;
    out[i++] = (w >>> 8) & 255;
    out[i++] = w & 255;
  }
  if (i < out.length) {
    const w = rng.nextU32();
    for (let s = 24; i < out.length; s -= 8) out[i++] = (w >>> s) & 255;
  }
}

/**
 * The body of a synthetic request: serviceUs (u32 BE), replySize (u32 BE), then filler derived
 * from the node name and rid; truncated to `size` bytes when size < 8.
 */
export function requestBody(node: string, rid: number, size: number, serviceUs: number, replySize: number): Uint8Array {
  const full = new Uint8Array(Math.max(size, 8));
  const dv = new DataView(full.buffer);
  dv.setUint32(0, serviceUs >>> 0);
  dv.setUint32(4, replySize >>> 0);
  fill(full, 8, new Rng(seedOf(`r2p2-request/${node}/${rid}`)));
  return size >= 8 ? full : full.slice(0, size);
}

/** What a server reads from a request body (missing fields read as 0). */
export function parseRequestBody(body: Uint8Array): { serviceUs: number; replySize: number } {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return {
    serviceUs: body.length >= 4 ? dv.getUint32(0) : 0,
    replySize: body.length >= 8 ? dv.getUint32(4) : 0,
  };
}

/** The reply a server gives to a request body: `replySize` bytes derived from its digest. */
export function replyBody(request: Uint8Array, replySize: number): Uint8Array {
  const out = new Uint8Array(replySize);
  fill(out, 0, new Rng(seedOf(`r2p2-reply/${digest(request)}`)));
  return out;
}

// ---------------------------------------------------------------- outputs

export function trace<N>(event: R2p2TraceBody): CoreOutput<N> {
  return { kind: 'trace', event };
}

export function send<N>(src: Addr, dst: Addr, data: Uint8Array): CoreOutput<N> {
  return { kind: 'send', packet: { src, dst, data } };
}

/** A bounded insertion-ordered set (oldest evicted first). */
export class BoundedSet<K> {
  private readonly items = new Set<K>();
  constructor(private readonly cap: number) {}
  has(k: K): boolean {
    return this.items.has(k);
  }
  add(k: K): void {
    this.items.delete(k);
    this.items.add(k);
    while (this.items.size > this.cap) {
      const oldest = this.items.values().next().value as K;
      this.items.delete(oldest);
    }
  }
  delete(k: K): void {
    this.items.delete(k);
  }
  get size(): number {
    return this.items.size;
  }
}

export function tripletKey(client: Addr, rid: number): string {
  return `${client}#${rid}`;
}
