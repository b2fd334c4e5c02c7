/**
 * R2P2 server core (role `r2p2-server`): receives requests (single-packet, or REQ0 + ACK + REQn
 * with RTO/SACK and garbage collection), serves them one at a time in FIFO order with a synthetic
 * handler, replies straight to the client and sends extended (count-form) FEEDBACK to the router.
 *
 * `served` counts the replies sent since the server started (as the spec's `sserved`): a request
 * garbage-collected after a failed multi-packet transfer is not counted, so the router keeps
 * counting it as outstanding at this server (as specs/r2p2/R2P2.tla's ServerGc says).
 *
 * Incarnations: every count-form FEEDBACK carries the server's `epoch`: its start time (µs), or one more
 * than the epoch of its previous incarnation (kept in stable storage) if the clock stepped back, so
 * the router opens a new account for a restarted server and ignores FEEDBACK of an earlier
 * incarnation. On `start` the server stays quiet for `rejoinDelayUs` (no FEEDBACK, no
 * announce, incoming requests ignored without a trace event: they time out at the client), then
 * announces and runs normally. It cannot tell a first boot from a restart, so it always waits. With
 * the delay longer than the router's `leaveAfterUs` plus the time a packet stays in flight, the
 * router has dropped a restarted server from its eligible set before it announces, and no request
 * sent to its earlier incarnation reaches it (the spec's `ServerStart`).
 */
import { match, P } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId, StableState } from '../core.ts';
import { digest } from '../digest.ts';
import {
  BUG_REASSEMBLY_LOSES_REORDERED, BUG_SERVER_REPLIES_TWICE, BUG_SERVER_SERVES_BEFORE_ANNOUNCE, BUG_SERVER_SERVES_DUPLICATE,
  BoundedSet, addrField, configObject, numField,
  parseRequestBody, replyBody, send, trace, tripletKey,
} from './common.ts';
import {
  MAX_SACK_INDICES, Reassembler, ZERO_ADDR, ackPacket, decode, feedbackPacket, parseAddr, sackPacket, split,
  type DataMsg,
} from './codec.ts';

export const SERVER_ROLE = 'r2p2-server';

export interface ServerConfig {
  readonly router: Addr;
  /** The JBSQ bound this server asks for (sent in every FEEDBACK). */
  readonly n: number;
  /** Period of the announce FEEDBACK, µs. */
  readonly heartbeatUs: number;
  /** Retransmission timeout for multi-packet requests, µs. */
  readonly rtoUs: number;
  /** RTOs without progress after which a partial request is dropped (the first gcRtos−1 send SACK). */
  readonly gcRtos: number;
  /** Quiet period after `start` before the first announce, µs (optional, default 0: announce at once). */
  readonly rejoinDelayUs?: number;
}

export function parseServerConfig(config: unknown): ServerConfig {
  const c = configObject(SERVER_ROLE, config, ['router', 'n', 'heartbeatUs', 'rtoUs', 'gcRtos', 'rejoinDelayUs']);
  const rejoinDelayUs = numField(SERVER_ROLE, c, 'rejoinDelayUs', { min: 0, optional: true });
  return {
    router: addrField(SERVER_ROLE, c, 'router'),
    n: numField(SERVER_ROLE, c, 'n', { min: 1, max: 0xffff, integer: true }),
    heartbeatUs: numField(SERVER_ROLE, c, 'heartbeatUs', { min: 1 }),
    rtoUs: numField(SERVER_ROLE, c, 'rtoUs', { min: 1 }),
    gcRtos: numField(SERVER_ROLE, c, 'gcRtos', { min: 1, integer: true }),
    ...(rejoinDelayUs === undefined ? {} : { rejoinDelayUs }),
  };
}

type Out = CoreOutput<never>;

interface Partial {
  readonly client: Addr;
  readonly rid: number;
  readonly npkts: number;
  readonly r: Reassembler;
  /** Consecutive RTOs without progress. */
  rtos: number;
}

interface Job {
  readonly client: Addr;
  readonly rid: number;
  readonly body: Uint8Array;
}

/**
 * How many triplets the server remembers (requests it took whole or gave up on) to ignore a
 * duplicated REQ0 of one of them: it takes each (client, rid) at most once per incarnation as long
 * as a duplicate arrives before 4096 newer requests (far more than a run's in-flight window).
 */
export const RECENT_CAP = 4096;

const HEARTBEAT = 'heartbeat';
const SERVICE = 'service';
const REJOIN = 'rejoin';
const rtoTimer = (key: string): string => `rto:${key}`;

export class R2p2Server implements Core<never, never> {
  private served = 0;
  /** This incarnation's start time (µs). */
  private epoch = 0;
  private readonly partials = new Map<string, Partial>();
  private readonly recent = new BoundedSet<string>(RECENT_CAP);
  private readonly queue: Job[] = [];
  private busy: Job | undefined;
  /** In the quiet period after `start`: silent, requests ignored. */
  private quiet = false;
  private readonly repliesTwice: boolean;
  private readonly reorderBug: boolean;
  private readonly servesDuplicate: boolean;
  private readonly servesBeforeAnnounce: boolean;

  constructor(
    readonly node: NodeId,
    readonly addr: Addr,
    readonly config: ServerConfig,
    bugs: ReadonlySet<string> = new Set(),
  ) {
    this.repliesTwice = bugs.has(BUG_SERVER_REPLIES_TWICE);
    this.reorderBug = bugs.has(BUG_REASSEMBLY_LOSES_REORDERED);
    this.servesDuplicate = bugs.has(BUG_SERVER_SERVES_DUPLICATE);
    this.servesBeforeAnnounce = bugs.has(BUG_SERVER_SERVES_BEFORE_ANNOUNCE);
  }

  handle(input: CoreInput<never>, now: Micros): Out[] {
    return match(input)
      .with({ kind: 'start' }, (i) => this.start(now, i.stable))
      .with({ kind: 'command' }, () => [])
      .with({ kind: 'timer' }, ({ name }) => this.timer(name, now))
      .with({ kind: 'receive' }, ({ packet }) => this.receive(packet.src, packet.data, now))
      .exhaustive();
  }

  /** The number of replies sent so far. */
  servedCount(): number {
    return this.served;
  }

  /** Whether the server is in its quiet period after `start`. */
  isQuiet(): boolean {
    return this.quiet;
  }

  private start(now: Micros, stable: StableState | undefined): Out[] {
    // A later incarnation must carry a newer epoch even when the host's clock stepped back across
    // the restart: the last epoch is kept in stable storage, and the new one is above it.
    const last = typeof stable === 'object' && stable !== null && !Array.isArray(stable) ? (stable as { epoch?: unknown }).epoch : undefined;
    this.epoch = Math.max(0, Math.floor(now), typeof last === 'number' && Number.isSafeInteger(last) ? last + 1 : 0);
    const out: Out[] = [{ kind: 'persist', state: { epoch: this.epoch } }];
    const delay = this.config.rejoinDelayUs ?? 0;
    if (delay <= 0) return [...out, ...this.announce(now)];
    this.quiet = true;
    return [...out, { kind: 'setTimer', name: REJOIN, at: now + delay }];
  }

  private announce(now: Micros): Out[] {
    const { router, n } = this.config;
    return [
      trace({ action: 'ServerAnnounce', router, n, served: this.served }),
      send(this.addr, router, feedbackPacket(ZERO_ADDR, 0, { n, served: this.served, epoch: this.epoch })),
      { kind: 'setTimer', name: HEARTBEAT, at: now + this.config.heartbeatUs },
    ];
  }

  private timer(name: string, now: Micros): Out[] {
    if (name === REJOIN) {
      if (!this.quiet) return [];
      this.quiet = false;
      return this.announce(now);
    }
    if (this.quiet && (name === HEARTBEAT || !this.servesBeforeAnnounce)) return []; // BUG: serves while quiet
    if (name === HEARTBEAT) return this.announce(now);
    if (name === SERVICE) return this.finishService(now);
    if (name.startsWith('rto:')) return this.rto(name.slice(4), now);
    return [];
  }

  private receive(src: Addr, data: Uint8Array, now: Micros): Out[] {
    if (this.quiet && !this.servesBeforeAnnounce) return []; // quiet period: the client times out (BUG: served)
    if (!parseAddr(src)) return []; // cannot name the client in FEEDBACK
    const d = decode(data);
    if (!d.ok) return [];
    return match(d.msg)
      .with({ type: 'REQUEST' }, (m) => this.onRequest(src, m, now))
      .with({ type: P.union('RESPONSE', 'FEEDBACK', 'ACK', 'DROP', 'RAFT_REQ', 'RAFT_REP', 'RAFT_MSG', 'SACK') }, () => [])
      .exhaustive();
  }

  private onRequest(client: Addr, m: DataMsg, now: Micros): Out[] {
    const key = tripletKey(client, m.rid);
    if (m.first && m.last) {
      if (this.recent.has(key) || this.partials.has(key)) return [];
      return this.accept(client, m.rid, 1, m.payload, now);
    }
    if (m.first) {
      const partial = this.partials.get(key);
      if (partial && partial.npkts === m.order) {
        // A duplicate REQ0 of a request still in reassembly: ACK again (the first ACK may be lost).
        return [trace({ action: 'ServerAck', client, rid: m.rid, npkts: m.order }), send(this.addr, client, ackPacket(m.rid))];
      }
      if (this.recent.has(key) || partial) return [];
      const r = new Reassembler(this.reorderBug);
      r.add(m);
      this.partials.set(key, { client, rid: m.rid, npkts: m.order, r, rtos: 0 });
      return [
        trace({ action: 'ServerAck', client, rid: m.rid, npkts: m.order }),
        send(this.addr, client, ackPacket(m.rid)),
        { kind: 'setTimer', name: rtoTimer(key), at: now + this.config.rtoUs },
      ];
    }
    const p = this.partials.get(key);
    if (!p || !p.r.add(m)) return [];
    p.rtos = 0;
    if (!p.r.complete()) return [{ kind: 'setTimer', name: rtoTimer(key), at: now + this.config.rtoUs }];
    this.partials.delete(key);
    return [{ kind: 'cancelTimer', name: rtoTimer(key) }, ...this.accept(client, m.rid, p.npkts, p.r.body()!, now)];
  }

  /** The whole request is here: record it and queue it for the handler. */
  private accept(client: Addr, rid: number, npkts: number, body: Uint8Array, now: Micros): Out[] {
    this.recent.add(tripletKey(client, rid));
    this.queue.push({ client, rid, body });
    return [trace({ action: 'ServerReceiveRequest', client, rid, npkts, digest: digest(body) }), ...this.startService(now)];
  }

  private rto(key: string, now: Micros): Out[] {
    const p = this.partials.get(key);
    if (!p) return [];
    p.rtos += 1;
    if (p.rtos >= this.config.gcRtos) {
      this.partials.delete(key);
      this.recent.add(key);
      return [trace({ action: 'ServerGc', client: p.client, rid: p.rid })];
    }
    const missing = p.r.missing();
    const out: Out[] = [trace({ action: 'ServerSack', client: p.client, rid: p.rid, missing })];
    // One SACK datagram holds at most MAX_SACK_INDICES indices; a longer list takes several.
    for (let i = 0; i < missing.length; i += MAX_SACK_INDICES) {
      out.push(send(this.addr, p.client, sackPacket(p.rid, missing.slice(i, i + MAX_SACK_INDICES))));
    }
    out.push({ kind: 'setTimer', name: rtoTimer(key), at: now + this.config.rtoUs });
    return out;
  }

  private startService(now: Micros): Out[] {
    if (this.busy || this.queue.length === 0) return [];
    const job = this.queue.shift()!;
    this.busy = job;
    const { serviceUs } = parseRequestBody(job.body);
    return [{ kind: 'setTimer', name: SERVICE, at: now + serviceUs }];
  }

  private finishService(now: Micros): Out[] {
    const job = this.busy;
    if (!job) return [];
    this.busy = undefined;
    const { replySize } = parseRequestBody(job.body);
    const reply = replyBody(job.body, replySize);
    const packets = split('RESPONSE', 'FIXED_ROUTE', job.rid, reply);
    this.served += 1;
    if (this.servesDuplicate) this.recent.delete(tripletKey(job.client, job.rid)); // BUG: a later copy of the REQ0 looks new
    const { n, router } = this.config;
    const event = trace<never>({
      action: 'ServerReply', client: job.client, rid: job.rid, npkts: packets.length,
      digest: digest(reply), served: this.served, n,
    });
    const replyOut = packets.map((pkt) => send<never>(this.addr, job.client, pkt));
    const out: Out[] = [event, ...replyOut];
    if (this.repliesTwice) out.push(event, ...replyOut);
    out.push(send(this.addr, router, feedbackPacket(job.client, job.rid, { n, served: this.served, epoch: this.epoch })));
    out.push(...this.startService(now));
    return out;
  }
}

export function createServer(config: unknown, env: { node: NodeId; addr: Addr; bugs: ReadonlySet<string> }): R2p2Server {
  return new R2p2Server(env.node, env.addr, parseServerConfig(config), env.bugs);
}
