/**
 * The replicated application: a deterministic key-value store with get, put and compare-and-set.
 * Operations travel as R2P2 request bodies (UTF-8 JSON), results as reply bodies. Decoding never
 * throws: a malformed body is an error value the caller reports.
 */
import type { KvOpName, KvResult } from './actions.ts';

export type KvOp =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

/** Whether an operation only reads (sent with REPLICATED_ROUTE_NO_SE). */
export function isReadOnly(op: KvOp): boolean {
  return op.op === 'get';
}

export class KvStore {
  private readonly data = new Map<string, string>();

  /** Applies `op` and returns its result; a read-only op leaves the store unchanged. */
  apply(op: KvOp): KvResult {
    switch (op.op) {
      case 'get':
        return this.data.get(op.key) ?? null;
      case 'put':
        this.data.set(op.key, op.value);
        return true;
      case 'cas': {
        const cur = this.data.get(op.key) ?? null;
        if (cur !== op.expected) return false;
        this.data.set(op.key, op.value);
        return true;
      }
    }
  }

  get size(): number {
    return this.data.size;
  }

  /** The whole store as sorted pairs (for comparing replicas in tests). */
  snapshot(): [string, string][] {
    return [...this.data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeOp(op: KvOp): Uint8Array {
  return encoder.encode(JSON.stringify(op));
}

export function decodeOp(body: Uint8Array): KvOp | { readonly error: string } {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(body));
  } catch {
    return { error: 'operation body is not UTF-8 JSON' };
  }
  if (typeof v !== 'object' || v === null) return { error: 'operation body is not an object' };
  const o = v as Record<string, unknown>;
  if (typeof o.key !== 'string') return { error: 'operation has no string key' };
  switch (o.op as KvOpName) {
    case 'get':
      return { op: 'get', key: o.key };
    case 'put':
      if (typeof o.value !== 'string') return { error: 'put needs a string value' };
      return { op: 'put', key: o.key, value: o.value };
    case 'cas':
      if (typeof o.value !== 'string') return { error: 'cas needs a string value' };
      if (o.expected !== null && typeof o.expected !== 'string') return { error: 'cas needs expected: string or null' };
      return { op: 'cas', key: o.key, expected: o.expected as string | null, value: o.value };
    default:
      return { error: `unknown operation ${JSON.stringify(o.op)}` };
  }
}

export function encodeResult(r: KvResult): Uint8Array {
  return encoder.encode(JSON.stringify({ result: r }));
}

export function decodeResult(body: Uint8Array): KvResult | { readonly error: string } {
  try {
    const v = JSON.parse(decoder.decode(body)) as { result?: unknown };
    const r = v?.result;
    if (r === null || typeof r === 'string' || typeof r === 'boolean') return r;
    return { error: 'reply has no result' };
  } catch {
    return { error: 'reply body is not UTF-8 JSON' };
  }
}
