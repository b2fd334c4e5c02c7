/**
 * R2P2 client core (role `r2p2-client`): the r2p2-lib client side as a sans-I/O state machine.
 *
 * A `call` command issues one request: the client assigns the next rid (16-bit counter from 1,
 * wrapping), sends the REQ0 (or the only packet) to the router with policy LB_ROUTE and arms the
 * request's timer. On ACK it streams the REQn packets straight to the ACK's source; on SACK it
 * resends the missing ones. A reply is matched by rid alone (it may come from any address),
 * reassembled, and completes the request (`req_success`); DROP completes it with an error
 * (`req_error`), the timer with a timeout (`req_timeout`). Late and duplicate replies are ignored.
 *
 * Closed loop (config `window`): the client keeps at most `window` requests pending; a call beyond
 * that waits in a FIFO queue (no event) and is issued, as above, when a pending request completes
 * (reply, DROP or timeout). Without `window` every call is issued at once (open loop).
 */
import { match, P } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId } from '../core.ts';
import { digest } from '../digest.ts';
import {
  BUG_CLIENT_ACCEPTS_WRONG_RID, BUG_CLIENT_ACK_DISARMS_TIMER, BoundedSet, addrField, configObject, numField, requestBody, send, trace,
} from './common.ts';
import {
  MAX_REQUEST_BODY, MAX_BODY, Reassembler, decode, split,
  type AckMsg, type DataMsg, type DropMsg, type SackMsg,
} from './codec.ts';

export const CLIENT_ROLE = 'r2p2-client';

export interface ClientConfig {
  /** The router's address: every REQ0 goes there. */
  readonly router: Addr;
  /** Per-request timeout (the application's timer), µs. */
  readonly timeoutUs: number;
  /** Retransmission timeout, µs (accepted for symmetry with the server; the client has no RTO-driven action). */
  readonly rtoUs?: number;
  /** Closed loop: at most this many requests pending; further calls wait in FIFO order. Absent: no limit. */
  readonly window?: number;
}

export interface CallCommand {
  readonly kind: 'call';
  /** Request body size in bytes. */
  readonly size: number;
  /** Service time the server's handler spends on it, µs (carried in the body). */
  readonly serviceUs: number;
  /** Size of the reply the server sends back, bytes (carried in the body). */
  readonly replySize: number;
}
export type ClientCommand = CallCommand;

/** The r2p2-lib callbacks: req_success / req_timeout / req_error. */
export interface ClientNotification {
  readonly rid: number;
  readonly outcome: 'success' | 'timeout' | 'error';
  readonly reply?: Uint8Array;
}

type Out = CoreOutput<ClientNotification>;

interface Pending {
  readonly rid: number;
  readonly packets: Uint8Array[];
  /** The server that ACKed (or SACKed) a multi-packet request. */
  server?: Addr;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

export function parseClientConfig(config: unknown): ClientConfig {
  const c = configObject(CLIENT_ROLE, config, ['router', 'timeoutUs', 'rtoUs', 'window']);
  const router = addrField(CLIENT_ROLE, c, 'router');
  const timeoutUs = numField(CLIENT_ROLE, c, 'timeoutUs', { min: 1 });
  const rtoUs = numField(CLIENT_ROLE, c, 'rtoUs', { min: 1, optional: true });
  const window = numField(CLIENT_ROLE, c, 'window', { min: 1, integer: true, optional: true });
  return { router, timeoutUs, ...(rtoUs === undefined ? {} : { rtoUs }), ...(window === undefined ? {} : { window }) };
}

function checkCommand(cmd: unknown): CallCommand {
  const c = cmd as Partial<CallCommand> | null;
  if (typeof c !== 'object' || c === null || c.kind !== 'call') {
    throw new CommandError(`${CLIENT_ROLE}: unknown command ${JSON.stringify(cmd)}`);
  }
  const u32 = (name: 'size' | 'serviceUs' | 'replySize', max: number): void => {
    const v = c[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
      throw new CommandError(`${CLIENT_ROLE}: call.${name} must be an integer in [0, ${max}], got ${JSON.stringify(v)}`);
    }
  };
  u32('size', MAX_REQUEST_BODY);
  u32('serviceUs', 0xffffffff);
  u32('replySize', MAX_BODY);
  return c as CallCommand;
}

const timerName = (rid: number): string => `req:${rid}`;

export class R2p2Client implements Core<ClientCommand, ClientNotification> {
  private nextRid = 1;
  /** Pending requests by rid, in issue order (Map keeps insertion order). */
  private readonly pending = new Map<number, Pending>();
  /** Partial replies: rid → source → reassembler. */
  private readonly replies = new Map<number, Map<Addr, Reassembler>>();
  /** Rids completed recently, so their late packets do not start new reassemblies. */
  private readonly done = new BoundedSet<number>(1024);
  /** Calls waiting for a free place in the window (closed loop), oldest first. */
  private readonly waiting: CallCommand[] = [];
  private readonly wrongRidBug: boolean;
  private readonly ackDisarmsBug: boolean;

  constructor(
    readonly node: NodeId,
    readonly addr: Addr,
    readonly config: ClientConfig,
    bugs: ReadonlySet<string> = new Set(),
  ) {
    this.wrongRidBug = bugs.has(BUG_CLIENT_ACCEPTS_WRONG_RID);
    this.ackDisarmsBug = bugs.has(BUG_CLIENT_ACK_DISARMS_TIMER);
  }

  handle(input: CoreInput<ClientCommand>, now: Micros): Out[] {
    return match(input)
      .with({ kind: 'start' }, () => [])
      .with({ kind: 'command' }, ({ command }) => this.call(checkCommand(command), now))
      .with({ kind: 'timer' }, ({ name }) => this.next(this.timer(name), now))
      .with({ kind: 'receive' }, ({ packet }) => this.next(this.receive(packet.src, packet.data), now))
      .exhaustive();
  }

  /** Rids of the requests still pending, oldest first. */
  pendingRids(): number[] {
    return [...this.pending.keys()];
  }

  private allocRid(): number {
    // 16-bit counter from 1, wrapping; skip a rid still in use (65536 pending requests never happen).
    for (let i = 0; i <= 0xffff; i++) {
      const rid = this.nextRid;
      this.nextRid = (this.nextRid + 1) & 0xffff;
      if (!this.pending.has(rid)) return rid;
    }
    throw new CommandError(`${CLIENT_ROLE}: 65536 requests pending, no rid free`);
  }

  /** Calls waiting for a place in the window. */
  waitingCalls(): number {
    return this.waiting.length;
  }

  /** After a step's outputs: issues waiting calls while the window has room. */
  private next(out: Out[], now: Micros): Out[] {
    const w = this.config.window;
    while (w !== undefined && this.waiting.length > 0 && this.pending.size < w) out.push(...this.issue(this.waiting.shift()!, now));
    return out;
  }

  private call(cmd: CallCommand, now: Micros): Out[] {
    const w = this.config.window;
    if (w !== undefined && (this.pending.size >= w || this.waiting.length > 0)) {
      this.waiting.push(cmd);
      return [];
    }
    return this.issue(cmd, now);
  }

  private issue(cmd: CallCommand, now: Micros): Out[] {
    const rid = this.allocRid();
    const body = requestBody(this.node, rid, cmd.size, cmd.serviceUs, cmd.replySize);
    const packets = split('REQUEST', 'LB_ROUTE', rid, body);
    this.pending.set(rid, { rid, packets });
    this.done.delete(rid);
    this.replies.delete(rid);
    return [
      trace({ action: 'ClientSend', rid, policy: 'LB_ROUTE', npkts: packets.length, size: body.length, digest: digest(body) }),
      send(this.addr, this.config.router, packets[0]!),
      { kind: 'setTimer', name: timerName(rid), at: now + this.config.timeoutUs },
    ];
  }

  private timer(name: string): Out[] {
    const m = /^req:(\d+)$/.exec(name);
    if (!m) return [];
    const rid = Number(m[1]);
    if (!this.pending.has(rid)) return [];
    this.finish(rid);
    return [trace({ action: 'ClientTimeout', rid }), { kind: 'notify', value: { rid, outcome: 'timeout' } }];
  }

  private finish(rid: number): void {
    this.pending.delete(rid);
    this.replies.delete(rid);
    this.done.add(rid);
  }

  private receive(src: Addr, data: Uint8Array): Out[] {
    const d = decode(data);
    if (!d.ok) return [];
    return match(d.msg)
      .with({ type: 'ACK' }, (m) => this.onAck(src, m))
      .with({ type: 'SACK' }, (m) => this.onSack(src, m))
      .with({ type: 'DROP' }, (m) => this.onDrop(src, m))
      .with({ type: 'RESPONSE' }, (m) => this.onReply(src, m))
      .with({ type: P.union('REQUEST', 'FEEDBACK', 'RAFT_REQ', 'RAFT_REP', 'RAFT_MSG') }, () => [])
      .exhaustive();
  }

  private onAck(src: Addr, m: AckMsg): Out[] {
    const p = this.pending.get(m.rid);
    if (!p || p.packets.length < 2 || p.server !== undefined) return [];
    p.server = src;
    return [
      trace({ action: 'ClientReceiveAck', rid: m.rid, server: src }),
      ...p.packets.slice(1).map((pkt) => send<ClientNotification>(this.addr, src, pkt)),
      // Buggy: the request no longer times out.
      ...(this.ackDisarmsBug ? [{ kind: 'cancelTimer' as const, name: timerName(m.rid) }] : []),
    ];
  }

  private onSack(src: Addr, m: SackMsg): Out[] {
    const p = this.pending.get(m.rid);
    if (!p || p.packets.length < 2) return [];
    // A SACK before any ACK means the ACK was lost: the server that sent the SACK has the REQ0, so
    // take the SACK as its ACK and stream every REQn (which covers all it can be missing).
    if (p.server === undefined) return this.onAck(src, { ...m, type: 'ACK' });
    if (src !== p.server) return []; // the client streams to one server only
    const packets = [...new Set(m.missing)].filter((ix) => ix >= 1 && ix < p.packets.length).sort((a, b) => a - b);
    if (packets.length === 0) return [];
    return [
      trace({ action: 'ClientResend', rid: m.rid, server: src, packets }),
      ...packets.map((ix) => send<ClientNotification>(this.addr, src, p.packets[ix]!)),
    ];
  }

  private onDrop(src: Addr, m: DropMsg): Out[] {
    if (!this.pending.has(m.rid)) return [];
    this.finish(m.rid);
    return [
      trace({ action: 'ClientReceiveDrop', rid: m.rid, from: src }),
      { kind: 'cancelTimer', name: timerName(m.rid) },
      { kind: 'notify', value: { rid: m.rid, outcome: 'error' } },
    ];
  }

  private onReply(src: Addr, m: DataMsg): Out[] {
    const replyRid = m.rid;
    if (!this.pending.has(replyRid) && !this.wrongRidBug) return [];
    if (this.done.has(replyRid) && !this.pending.has(replyRid) && !this.wrongRidBug) return [];
    let bySrc = this.replies.get(replyRid);
    if (!bySrc) this.replies.set(replyRid, (bySrc = new Map()));
    let r = bySrc.get(src);
    if (!r) bySrc.set(src, (r = new Reassembler()));
    if (!r.add(m) || !r.complete()) return [];
    const reply = r.body()!;
    this.replies.delete(replyRid);
    let rid = replyRid;
    if (this.wrongRidBug) {
      // Buggy: complete the oldest pending request, whatever rid the reply carries.
      const oldest = this.pending.keys().next();
      if (oldest.done) return [];
      rid = oldest.value;
    }
    this.finish(rid);
    return [
      trace({ action: 'ClientReceiveReply', rid, replyRid, server: src, digest: digest(reply) }),
      { kind: 'cancelTimer', name: timerName(rid) },
      { kind: 'notify', value: { rid, outcome: 'success', reply } },
    ];
  }
}

export function createClient(config: unknown, env: { node: NodeId; addr: Addr; bugs: ReadonlySet<string> }): R2p2Client {
  return new R2p2Client(env.node, env.addr, parseClientConfig(config), env.bugs);
}

