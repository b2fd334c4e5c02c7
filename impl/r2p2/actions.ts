/**
 * The R2P2 actions: one name per concept across `specs/r2p2/R2P2.tla`, `machines/r2p2/` and the
 * cores in this folder. Each core emits exactly these trace events; the TLA+ spec has an action of
 * the same name whose parameters are these fields; the XState machines take events of these names.
 *
 * Peers are named by address (`"ip:port"`). `client` is the client's address, which with `rid`
 * forms the R2P2 triplet that identifies a request pair. Digests are `digest()` of a message body.
 */
import type { Addr } from '../core.ts';

export type PolicyName = 'LB_ROUTE' | 'FIXED_ROUTE' | 'REPLICATED_ROUTE' | 'REPLICATED_ROUTE_NO_SE';

export interface R2p2Actions {
  // ---- client (node = the client) ----
  /** The client issues a request: sends its REQ0 (or its only packet) to the router. */
  ClientSend: { rid: number; policy: PolicyName; npkts: number; size: number; digest: string };
  /** The client receives the ACK (REQRDY) of a multi-packet request and streams REQn to `server`. */
  ClientReceiveAck: { rid: number; server: Addr };
  /** The client resends the packets a SACK from `server` asks for. */
  ClientResend: { rid: number; server: Addr; packets: number[] };
  /**
   * The client accepts a (fully reassembled) reply and completes request `rid` with success.
   * `replyRid` is the rid carried by the reply's packets (equal to `rid` in a correct client).
   */
  ClientReceiveReply: { rid: number; replyRid: number; server: Addr; digest: string };
  /** The client receives DROP for `rid` and completes it with an error. */
  ClientReceiveDrop: { rid: number; from: Addr };
  /** The client's per-request timer fires: the request completes with a timeout. */
  ClientTimeout: { rid: number };

  // ---- server (node = the server) ----
  /** The server announces itself to the router (start, restart and heartbeat FEEDBACK). */
  ServerAnnounce: { router: Addr; n: number; served: number };
  /** The server receives the REQ0 of a multi-packet request and answers ACK to the client. */
  ServerAck: { client: Addr; rid: number; npkts: number };
  /** The server asks the client for missing packets of a multi-packet request. */
  ServerSack: { client: Addr; rid: number; missing: number[] };
  /** The server has the whole request (single packet, or reassembled) and queues it for its handler. */
  ServerReceiveRequest: { client: Addr; rid: number; npkts: number; digest: string };
  /** The handler finished: the server sends the reply to the client and FEEDBACK to the router. */
  ServerReply: { client: Addr; rid: number; npkts: number; digest: string; served: number; n: number };
  /** The server gives up on an incomplete multi-packet request after a few RTOs. */
  ServerGc: { client: Addr; rid: number };

  // ---- router (node = the router, a switch program) ----
  /** A REQ0 arrives at the router and enters its central queue. */
  RouterEnqueue: { client: Addr; rid: number; queued: number };
  /** The central queue is full: the router answers DROP to the client. */
  RouterDrop: { client: Addr; rid: number };
  /** The router forwards the head REQ0 to `server`; `outstanding` counts the server's requests after it. */
  RouterDispatch: { client: Addr; rid: number; server: Addr; outstanding: number };
  /**
   * The router processes a FEEDBACK from `server` about request (client, rid). `form` is
   * `slot` (the reference's 16-byte form: one slot free) or `count` (with the server's n and served
   * count). `outstanding` is the router's count for that server afterwards.
   */
  RouterFeedback: {
    server: Addr; client: Addr; rid: number; form: 'slot' | 'count';
    n: number; served: number; outstanding: number;
  };
  /**
   * A FEEDBACK (or announce) makes a server eligible for dispatch. `fresh`: the router opens a new
   * account (it had none, or the FEEDBACK comes from a newer incarnation of the server); otherwise a
   * server that left rejoins and its account goes on. `served` is the FEEDBACK's served count.
   */
  RouterServerJoin: { server: Addr; n: number; served: number; fresh: boolean };
  /** A server silent for too long leaves the eligible set; the router keeps its account. */
  RouterServerLeave: { server: Addr };
}

export type R2p2ActionName = keyof R2p2Actions;

export type R2p2TraceBody = {
  [A in R2p2ActionName]: { action: A } & R2p2Actions[A];
}[R2p2ActionName];

export const R2P2_ACTIONS: readonly R2p2ActionName[] = [
  'ClientSend', 'ClientReceiveAck', 'ClientResend', 'ClientReceiveReply', 'ClientReceiveDrop',
  'ClientTimeout', 'ServerAnnounce', 'ServerAck', 'ServerSack', 'ServerReceiveRequest',
  'ServerReply', 'ServerGc', 'RouterEnqueue', 'RouterDrop', 'RouterDispatch', 'RouterFeedback',
  'RouterServerJoin', 'RouterServerLeave',
];
