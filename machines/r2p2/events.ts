/**
 * XState events of the R2P2 machines: exactly the actions of `impl/r2p2/actions.ts`, with `type`
 * in place of the trace's `action`. (Events fed from a trace also carry `t` and `node`; the
 * machines do not need them.)
 */
import type { Addr } from '../../impl/core.ts';
import type { R2p2ActionName, R2p2Actions } from '../../impl/r2p2/actions.ts';

export type R2p2Event<A extends R2p2ActionName = R2p2ActionName> = {
  [K in A]: { type: K } & R2p2Actions[K];
}[A];

/** R2P2 request ids and packet indices are 16-bit unsigned. */
export const U16_MAX = 0xffff;

/**
 * How many requests a server must remember to ignore a duplicated REQ0: a copy of a request it
 * took whole, arriving before this many newer takes, is never taken again. (16-bit rids wrap, so a
 * server cannot remember for good.) The implementation remembers exactly this many
 * (`RECENT_CAP` of impl/r2p2/server.ts).
 */
export const SERVER_DEDUPE_WINDOW = 4096;

export function isU16(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= U16_MAX;
}

export function isCount(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0;
}

export function isPositive(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 1;
}

/**
 * Whether `packets` is a non-empty list of distinct indices of the non-first packets of an
 * `npkts`-packet message (REQn has index 1 … npkts − 1).
 */
export function isPacketList(packets: unknown, npkts: number): packets is number[] {
  if (!Array.isArray(packets) || packets.length === 0) return false;
  const seen = new Set<number>();
  for (const p of packets) {
    if (!Number.isInteger(p) || p < 1 || p >= npkts || seen.has(p)) return false;
    seen.add(p);
  }
  return true;
}

/** A request pair's identity at a server or router: the client's address and its rid. */
export type RequestKey = `${Addr}#${number}`;

export function requestKey(client: Addr, rid: number): RequestKey {
  return `${client}#${rid}`;
}
