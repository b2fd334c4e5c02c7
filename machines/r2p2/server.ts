/**
 * An R2P2 server: one actor per server node.
 *
 *   unannounced ──ServerAnnounce (served 0)──▶ running
 *
 * In `running` the context holds the server's requests:
 * - `reassembling`: multi-packet requests whose REQ0 arrived (ServerAck) and whose REQn packets
 *   are still coming (ServerSack asks for missing ones; ServerGc gives up on them);
 * - `pending`: whole requests (ServerReceiveRequest) queued for or being served by the handler, as
 *   a count per request: the network may duplicate a REQ0 and the router forwards each copy, so a
 *   server may legitimately receive, and answer, one request twice — but never answer more often
 *   than it received.
 * ServerReply takes a pending request and raises `served` by exactly one; its FEEDBACK carries that
 * count, which is what lets the router derive outstanding = dispatched − served.
 *
 * ServerAnnounce: a heartbeat repeats the current `served`; a restart shows as an announce with
 * `served` 0 after the server had served some: the crash lost the volatile state, so the requests
 * in reassembly and in the queue are gone. (An announce with `served` 0 before any reply is read as
 * a heartbeat, which keeps the state; the harness can call the monitor's `nodeRestarted` to make a
 * known restart explicit.)
 */
import { assign, setup } from 'xstate';
import type { Addr } from '../../impl/core.ts';
import { isCount, isPacketList, isPositive, isU16, requestKey, type R2p2Event, type RequestKey } from './events.ts';

export type ServerEvent = R2p2Event<
  'ServerAnnounce' | 'ServerAck' | 'ServerSack' | 'ServerReceiveRequest' | 'ServerReply' | 'ServerGc'
>;

export interface ServerInput {
  readonly node: string;
}

export interface ServerContext {
  readonly node: string;
  /** The router the server announces itself to (null before the first announce). */
  readonly router: Addr | null;
  /** The server's queue depth bound n, as it last announced or reported it. */
  readonly n: number;
  /** Requests answered since the server (re)started. */
  readonly served: number;
  /** Multi-packet requests in reassembly: their packet count. */
  readonly reassembling: Readonly<Record<RequestKey, number>>;
  /** Whole requests received and not answered yet: how many copies. */
  readonly pending: Readonly<Record<RequestKey, number>>;
  /** Restarts seen (diagnostics). */
  readonly restarts: number;
}

const fresh = (node: string): ServerContext => ({
  node, router: null, n: 0, served: 0, reassembling: {}, pending: {}, restarts: 0,
});

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
  context: ({ input }) => fresh(input.node),
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
              ...fresh(context.node), router: event.router, n: event.n, restarts: context.restarts + 1,
            })),
          },
        ],
        ServerAck: {
          // REQ0 of a multi-packet request: reassembly starts (a re-ACK of a duplicated REQ0 must agree).
          guard: ({ context, event }) => {
            if (!isU16(event.rid) || !isPositive(event.npkts) || event.npkts < 2) return false;
            const known = context.reassembling[requestKey(event.client, event.rid)];
            return known === undefined || known === event.npkts;
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
          // A single-packet request at any time; a multi-packet one only once reassembled.
          guard: ({ context, event }) => {
            if (!isU16(event.rid) || !isPositive(event.npkts) || typeof event.digest !== 'string') return false;
            if (event.npkts === 1) return true;
            return context.reassembling[requestKey(event.client, event.rid)] === event.npkts;
          },
          actions: assign(({ context, event }) => {
            const key = requestKey(event.client, event.rid);
            return {
              reassembling: without(context.reassembling, key),
              pending: { ...context.pending, [key]: (context.pending[key] ?? 0) + 1 },
            };
          }),
        },
        ServerReply: {
          // Only a request received and not answered yet; `served` counts this reply.
          guard: ({ context, event }) =>
            (context.pending[requestKey(event.client, event.rid)] ?? 0) > 0 &&
            event.served === context.served + 1 && isPositive(event.n) && isPositive(event.npkts) &&
            typeof event.digest === 'string',
          actions: assign(({ context, event }) => {
            const key = requestKey(event.client, event.rid);
            const left = (context.pending[key] ?? 0) - 1;
            return {
              served: event.served,
              n: event.n,
              pending: left > 0 ? { ...context.pending, [key]: left } : without(context.pending, key),
            };
          }),
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
