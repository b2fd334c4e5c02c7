/**
 * The R2P2 client request lifecycle: one actor per (client node, rid).
 *
 *   idle ──ClientSend──▶ sent ──ClientReceiveAck (npkts > 1)──▶ streaming ⟲ ClientResend
 *                         │                                        │
 *                         ├─ClientReceiveReply (npkts = 1)─────────┼─ClientReceiveReply─▶ succeeded
 *                         ├─ClientReceiveDrop──────────────────────┼─ClientReceiveDrop──▶ dropped
 *                         └─ClientTimeout──────────────────────────┴─ClientTimeout──────▶ timedOut
 *
 * R2P2 gives no reliability for the pair as a whole: each request ends exactly once, with success
 * (a reply), an error (DROP) or a timeout, and nothing happens to it afterwards — a correct client
 * ignores late or duplicated replies, DROPs and ACKs of a finished request without acting on them.
 *
 * Multi-packet requests: the REQ0 goes through the router; the server that gets it answers ACK
 * (REQRDY) from its own address and the client streams REQ1 … REQn−1 straight to that server,
 * resending the packets a SACK from it asks for. A duplicated ACK from the same server may be
 * acted on again (re-streaming is harmless); an ACK from a second server (a duplicated REQ0 the
 * router dispatched twice) must not be: the client streams to one server only.
 */
import { assign, setup } from 'xstate';
import type { Addr } from '../../impl/core.ts';
import type { PolicyName } from '../../impl/r2p2/actions.ts';
import { isCount, isPacketList, isPositive, isU16, type R2p2Event } from './events.ts';

export type ClientEvent = R2p2Event<
  'ClientSend' | 'ClientReceiveAck' | 'ClientResend' | 'ClientReceiveReply' | 'ClientReceiveDrop' | 'ClientTimeout'
>;

export interface ClientInput {
  /** The client node (for messages only). */
  readonly node: string;
  /** The request id this actor follows. */
  readonly rid: number;
}

export interface ClientContext {
  readonly node: string;
  readonly rid: number;
  /** Packets of the request (0 until ClientSend). */
  readonly npkts: number;
  readonly policy: PolicyName | null;
  readonly digest: string | null;
  /** The server that acknowledged a multi-packet request, once it has. */
  readonly server: Addr | null;
  /** ACKs and resends acted on (diagnostics). */
  readonly acks: number;
  readonly resends: number;
}

const POLICIES: ReadonlySet<string> = new Set<PolicyName>([
  'LB_ROUTE', 'FIXED_ROUTE', 'REPLICATED_ROUTE', 'REPLICATED_ROUTE_NO_SE',
]);

export const clientMachine = setup({
  types: {} as { context: ClientContext; events: ClientEvent; input: ClientInput },
}).createMachine({
  id: 'r2p2-client',
  context: ({ input }) => ({
    node: input.node, rid: input.rid, npkts: 0, policy: null, digest: null, server: null, acks: 0, resends: 0,
  }),
  initial: 'idle',
  states: {
    /** Not issued yet. */
    idle: {
      on: {
        ClientSend: {
          guard: ({ context, event }) =>
            event.rid === context.rid && isU16(event.rid) && isPositive(event.npkts) &&
            isU16(event.npkts) && isCount(event.size) && POLICIES.has(event.policy) &&
            typeof event.digest === 'string',
          target: 'sent',
          actions: assign(({ event }) => ({ npkts: event.npkts, policy: event.policy, digest: event.digest })),
        },
      },
    },
    /** REQ0 (or the only packet) sent to the router; waiting for an ACK, a reply or a DROP. */
    sent: {
      on: {
        ClientReceiveAck: {
          // Only a multi-packet request is acknowledged.
          guard: ({ context, event }) => event.rid === context.rid && context.npkts > 1 && typeof event.server === 'string',
          target: 'streaming',
          actions: assign(({ context, event }) => ({ server: event.server, acks: context.acks + 1 })),
        },
        ClientReceiveReply: {
          // A multi-packet request cannot be answered before the client streamed it.
          guard: ({ context, event }) => replyMatches(context, event) && context.npkts === 1,
          target: 'succeeded',
        },
        ClientReceiveDrop: { guard: ({ context, event }) => event.rid === context.rid, target: 'dropped' },
        ClientTimeout: { guard: ({ context, event }) => event.rid === context.rid, target: 'timedOut' },
      },
    },
    /** A multi-packet request acknowledged by `server`: REQn packets go straight to it. */
    streaming: {
      on: {
        ClientReceiveAck: {
          // A duplicated ACK from the same server only; never a second server.
          guard: ({ context, event }) => event.rid === context.rid && event.server === context.server,
          actions: assign(({ context }) => ({ acks: context.acks + 1 })),
        },
        ClientResend: {
          // A SACK comes from the server the client streams to, and names packets of the request.
          guard: ({ context, event }) =>
            event.rid === context.rid && event.server === context.server && isPacketList(event.packets, context.npkts),
          actions: assign(({ context }) => ({ resends: context.resends + 1 })),
        },
        ClientReceiveReply: { guard: ({ context, event }) => replyMatches(context, event), target: 'succeeded' },
        // A duplicated REQ0 may meet a full router queue even after the first copy was acknowledged.
        ClientReceiveDrop: { guard: ({ context, event }) => event.rid === context.rid, target: 'dropped' },
        ClientTimeout: { guard: ({ context, event }) => event.rid === context.rid, target: 'timedOut' },
      },
    },
    /** Completed with the server's reply (`req_success`). */
    succeeded: { type: 'final' },
    /** Completed with an error after a DROP (`req_error`). */
    dropped: { type: 'final' },
    /** Completed by the per-request timer (`req_timeout`). */
    timedOut: { type: 'final' },
  },
});

/**
 * The reply the client accepts answers exactly this request: its packets carry the request's rid.
 * (The reply may come from any address — direct server return — so `server` is not checked.)
 */
function replyMatches(context: ClientContext, event: R2p2Event<'ClientReceiveReply'>): boolean {
  return event.rid === context.rid && event.replyRid === context.rid && typeof event.digest === 'string';
}
