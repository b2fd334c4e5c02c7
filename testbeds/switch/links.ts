/**
 * The switch's per-link state: link rules (delay, jitter, loss, duplication) and partitions.
 * Pure data structures, no I/O; `Switch` consults them once per packet in its fault stage.
 *
 * Link rules are keyed by address (`"ip:port"`) or `'*'`. The rule for a packet `src → dst` is the
 * most specific one that matches:
 *
 *   exact pair (src, dst)  >  from-only (src, '*')  >  to-only ('*', dst)  >  default ('*', '*')
 *
 * A later rule with the same key replaces the earlier one; `('*', '*')` replaces the default.
 *
 * Partitions are reference-counted per ordered address pair, so overlapping partitions compose:
 * a pair stays cut until every partition that cut it has been healed. A `heal` without a matching
 * `partition` does nothing (counts never go below zero). A partition cuts both directions.
 */
import type { Addr } from '../../impl/core.ts';
import type { LinkConfig } from '../../harness/scenario/types.ts';

/** `'*'` matches any address. */
export type AddrOrAny = Addr | '*';

/** A link config with every field finite and in range (malformed values become harmless). */
export function sanitizeLink(l: Partial<LinkConfig> | undefined | null): LinkConfig {
  const o = (typeof l === 'object' && l !== null ? l : {}) as Record<string, unknown>;
  const nonneg = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
  const prob = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);
  return { delay: nonneg(o.delay), jitter: nonneg(o.jitter), loss: prob(o.loss), duplicate: prob(o.duplicate) };
}

const SEP = '\u0000';

export class LinkTable {
  private dflt: LinkConfig;
  private readonly exact = new Map<string, LinkConfig>();
  private readonly fromOnly = new Map<Addr, LinkConfig>();
  private readonly toOnly = new Map<Addr, LinkConfig>();
  /** Number of non-default rules; 0 lets `get` skip the map lookups. */
  private rules = 0;

  constructor(dflt: LinkConfig) {
    this.dflt = sanitizeLink(dflt);
  }

  /** Sets the rule for `from → to` (either may be `'*'`); returns the (sanitized) rule. */
  set(from: AddrOrAny, to: AddrOrAny, link: LinkConfig): LinkConfig {
    const l = sanitizeLink(link);
    if (from === '*' && to === '*') this.dflt = l;
    else if (to === '*') this.fromOnly.set(from, l);
    else if (from === '*') this.toOnly.set(to, l);
    else this.exact.set(from + SEP + to, l);
    this.rules = this.exact.size + this.fromOnly.size + this.toOnly.size;
    return l;
  }

  /** The link config that applies to a packet from `src` to `dst`. */
  get(src: Addr, dst: Addr): LinkConfig {
    if (this.rules === 0) return this.dflt;
    return this.exact.get(src + SEP + dst) ?? this.fromOnly.get(src) ?? this.toOnly.get(dst) ?? this.dflt;
  }

  get default(): LinkConfig {
    return this.dflt;
  }
}

export class PartitionTable {
  private readonly cut = new Map<string, number>();

  /** Cuts every pair (a, b) with a in one group and b in the other, both directions. */
  partition(groups: readonly [readonly Addr[], readonly Addr[]]): void {
    this.each(groups, (k) => this.cut.set(k, (this.cut.get(k) ?? 0) + 1));
  }

  /** Undoes one `partition` of the same groups (pairs cut by another partition stay cut). */
  heal(groups: readonly [readonly Addr[], readonly Addr[]]): void {
    this.each(groups, (k) => {
      const n = this.cut.get(k);
      if (n === undefined) return;
      if (n <= 1) this.cut.delete(k);
      else this.cut.set(k, n - 1);
    });
  }

  /** True when packets from `src` to `dst` are dropped. */
  isCut(src: Addr, dst: Addr): boolean {
    return this.cut.size !== 0 && this.cut.has(src + SEP + dst);
  }

  /** True when no pair is cut. */
  get empty(): boolean {
    return this.cut.size === 0;
  }

  private each(groups: readonly [readonly Addr[], readonly Addr[]], f: (key: string) => void): void {
    const [a, b] = groups;
    // Dedupe within the call so `partition([[x, x], [y]])` counts (x, y) once.
    const seen = new Set<string>();
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        for (const k of [x + SEP + y, y + SEP + x]) {
          if (seen.has(k)) continue;
          seen.add(k);
          f(k);
        }
      }
    }
  }
}
