/**
 * An R2P2 server: one actor per server node.
 *
 *   unannounced ──ServerAnnounce (served 0)──▶ running
 *
 * In `running` the context holds the server's requests:
 * - `reassembling`: multi-packet requests whose REQ0 arrived (ServerAck) and whose REQn packets
 *   are still coming (ServerSack asks for missing ones; ServerGc gives up on them);
 * - `pending`: whole requests (ServerReceiveRequest) queued for or being served by the handler;
 * - `taken`: every request this incarnation took whole, with its take's ordinal. A server takes
 *   each (client, rid) at most once per incarnation: the network may duplicate a REQ0 and the
 *   router forwards each copy, and a correct server ignores a copy of a request it took (no
 *   ServerAck, no ServerReceiveRequest). The only exception is a copy that comes after
 *   `SERVER_DEDUPE_WINDOW` newer takes: a server remembers that many (16-bit rids wrap, so a
 *   client may issue a rid again after 65536 requests; the window is an input, small in tests).
 * ServerReply takes a pending request and raises `served` by exactly one; its FEEDBACK carries that
 * count, which is what lets the router derive outstanding = dispatched − served.
 *
 * ServerAnnounce: a heartbeat repeats the current `served`; a restart shows as an announce with
 * `served` 0 after the server had served some: the crash lost the volatile state, so the requests
 * in reassembly and in the queue are gone. (An announce with `served` 0 before any reply is read as
 * a heartbeat, which keeps the state; the harness can call the monitor's `nodeRestarted` to make a
 * known restart explicit, and does at every `HostCrash`: the fresh actor starts `unannounced`, so a
 * restarted server that takes or answers a request before its announce is rejected.)
 */
import { assign, setup } from 'xstate';
import type { Addr } from '../../impl/core.ts';
import {
  SERVER_DEDUPE_WINDOW, isCount, isPacketList, isPositive, isU16, requestKey, type R2p2Event, type RequestKey,
} from './events.ts';

export type ServerEvent = R2p2Event<
  'ServerAnnounce' | 'ServerAck' | 'ServerSack' | 'ServerReceiveRequest' | 'ServerReply' | 'ServerGc'
>;

export interface ServerInput {
  readonly node: string;
  /** How many takes a server remembers (default `SERVER_DEDUPE_WINDOW`; smaller in tests). */
  readonly dedupeWindow?: number;
}

export interface ServerContext {
  readonly node: string;
  readonly dedupeWindow: number;
  /** The router the server announces itself to (null before the first announce). */
  readonly router: Addr | null;
  /** The server's queue depth bound n, as it last announced or reported it. */
  readonly n: number;
  /** Requests answered since the server (re)started. */
  readonly served: number;
  /** Multi-packet requests in reassembly: their packet count. */
  readonly reassembling: Readonly<Record<RequestKey, number>>;
  /** Whole requests received and not answered yet. */
  readonly pending: Readonly<Record<RequestKey, true>>;
  /** Requests this incarnation took whole: the ordinal of the take (1, 2, ...). */
  readonly taken: Readonly<Record<RequestKey, number>>;
  /** Takes so far in this incarnation. */
  readonly takes: number;
  /** Restarts seen (diagnostics). */
  readonly restarts: number;
}

const fresh = (node: string, dedupeWindow: number): ServerContext => ({
  node, dedupeWindow, router: null, n: 0, served: 0, reassembling: {}, pending: {}, taken: {}, takes: 0, restarts: 0,
});

/** Whether this incarnation took `key` whole (within the dedupe window), so a copy must be ignored. */
const tookAlready = (context: ServerContext, key: RequestKey): boolean => {
  const at = context.taken[key];
  return at !== undefined && context.takes - at < context.dedupeWindow;
};

const without = <V>(rec: Readonly<Record<RequestKey, V>>, key: RequestKey): Record<RequestKey, V> => {
  const { [key]: _gone, ...rest } = rec;
  return rest;
};

const announceOk = (event: R2p2Event<'ServerAnnounce'>): boolean =>
  typeof event.router === 'string' && isPositive(event.n) && isCount(event.served);

export const serverMachine = setup({
  types: {} as { context: ServerContext; events: ServerEvent; input: ServerInput },
}).createMachine({
  id: 'r2p2-server',
  context: ({ input }) => fresh(input.node, input.dedupeWindow ?? SERVER_DEDUPE_WINDOW),
  initial: 'unannounced',
  states: {
    /** Started but not yet announced to the router: it can have no requests. */
    unannounced: {
      on: {
        ServerAnnounce: {
          guard: ({ event }) => announceOk(event) && event.served === 0,
          target: 'running',
          actions: assign(({ event }) => ({ router: event.router, n: event.n })),
        },
      },
    },
    running: {
      on: {
        ServerAnnounce: [
          {
            // Heartbeat: the count it reports is the count of replies so far.
            guard: ({ context, event }) => announceOk(event) && event.served === context.served,
            actions: assign(({ event }) => ({ router: event.router, n: event.n })),
          },
          {
            // Restart: a fresh core announces served 0; its volatile state is gone.
            guard: ({ context, event }) => announceOk(event) && event.served === 0 && context.served > 0,
            actions: assign(({ context, event }) => ({
              ...fresh(context.node, context.dedupeWindow), router: event.router, n: event.n, restarts: context.restarts + 1,
            })),
          },
        ],
        ServerAck: {
          // REQ0 of a multi-packet request: reassembly starts (a re-ACK of a duplicated REQ0 must
          // agree); a copy of a request already taken whole is ignored, not ACKed.
          guard: ({ context, event }) => {
            if (!isU16(event.rid) || !isPositive(event.npkts) || event.npkts < 2) return false;
            const key = requestKey(event.client, event.rid);
            const known = context.reassembling[key];
            if (known === undefined) return !tookAlready(context, key);
            return known === event.npkts;
          },
          actions: assign(({ context, event }) => ({
            reassembling: { ...context.reassembling, [requestKey(event.client, event.rid)]: event.npkts },
          })),
        },
        ServerSack: {
          // Only for a request in reassembly, naming some of its REQn packets.
          guard: ({ context, event }) => {
            const npkts = context.reassembling[requestKey(event.client, event.rid)];
            return npkts !== undefined && isPacketList(event.missing, npkts);
          },
          // No state change; the assignment only makes the transition count as taken.
          actions: assign(({ context }) => ({ reassembling: context.reassembling })),
        },
        ServerReceiveRequest: {
          // A single-packet request at any time, a multi-packet one only once reassembled; either
          // only if this incarnation has not taken it yet.
          guard: ({ context, event }) => {
            if (!isU16(event.rid) || !isPositive(event.npkts) || typeof event.digest !== 'string') return false;
            const key = requestKey(event.client, event.rid);
            if (tookAlready(context, key)) return false;
            if (event.npkts === 1) return context.reassembling[key] === undefined;
            return context.reassembling[key] === event.npkts;
          },
          actions: assign(({ context, event }) => {
            const key = requestKey(event.client, event.rid);
            const takes = context.takes + 1;
            return {
              reassembling: without(context.reassembling, key),
              pending: { ...context.pending, [key]: true as const },
              taken: { ...context.taken, [key]: takes },
              takes,
            };
          }),
        },
        ServerReply: {
          // Only a request received and not answered yet; `served` counts this reply.
          guard: ({ context, event }) =>
            context.pending[requestKey(event.client, event.rid)] === true &&
            event.served === context.served + 1 && isPositive(event.n) && isPositive(event.npkts) &&
            typeof event.digest === 'string',
          actions: assign(({ context, event }) => ({
            served: event.served,
            n: event.n,
            pending: without(context.pending, requestKey(event.client, event.rid)),
          })),
        },
        ServerGc: {
          // Gives up on an incomplete multi-packet request.
          guard: ({ context, event }) => context.reassembling[requestKey(event.client, event.rid)] !== undefined,
          actions: assign(({ context, event }) => ({
            reassembling: without(context.reassembling, requestKey(event.client, event.rid)),
          })),
        },
      },
    },
  },
});
