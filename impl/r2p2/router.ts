/**
 * R2P2 request router (role `r2p2-router`), a switch program. Soft state only: the eligible
 * servers (learnt from FEEDBACK), each one's accounting, and a central FIFO queue of REQ0s.
 *
 * A REQ0 (or single-packet request) with policy LB_ROUTE enters the central queue (RouterEnqueue)
 * or, when it holds `queueCap`, is answered with DROP (RouterDrop). Dispatch (RouterDispatch)
 * forwards the original datagram to a server keeping the client's address as source, so the
 * server answers the client directly:
 *  - `jbsq`: to the eligible server with the fewest outstanding requests if that is < its n,
 *    otherwise the request waits;
 *  - `random`, `round-robin`, `jsq`: at once, without bound, to a random / the next / the least
 *    loaded server (requests wait only while no server is known).
 *
 * Accounting per server, as `Out(s)` in specs/r2p2/R2P2.tla: outstanding = dispatched − done, with
 * dispatched counted since the router opened the server's account and done the larger of two lower
 * bounds of what it completed: slot-form FEEDBACKs (reference servers) each free the slot of the
 * (client, rid) they name, once, and only if it is in that server's table of outstanding requests;
 * count-form FEEDBACKs carry the server's served count, and done is the highest seen minus the
 * count when the account opened (idempotent: a lost, duplicated or late FEEDBACK does no harm: a
 * count lower than the highest seen changes nothing, as in the spec).
 *
 * Accounts and incarnations: a count-form FEEDBACK carries the server's incarnation (`epoch`). One
 * from a server without an account, or from a newer incarnation, opens a new account
 * (RouterServerJoin fresh); one from an older incarnation is ignored (no event, and it does not
 * keep the server alive). A server silent for `leaveAfterUs` leaves the eligible set
 * (RouterServerLeave) but keeps its account: when it speaks again it rejoins (RouterServerJoin, not
 * fresh, then the FEEDBACK is a RouterFeedback) with its requests dispatched before the leave
 * still counted. (A slot-form FEEDBACK carries
 * no incarnation: a reference server that restarts keeps the slots of the requests it lost.)
 * A REQ0 duplicate of a triplet the router accepted recently is ignored (no event), so duplication
 * in the network does not inflate the accounting.
 */
import { match, P } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId } from '../core.ts';
import type { Rng } from '../rng.ts';
import {
  BUG_ROUTER_BLIND_FEEDBACK, BUG_ROUTER_EXCEEDS_BOUND, BUG_ROUTER_FORGETS_ON_LEAVE, BoundedSet, configObject, enumField, numField, send, trace,
  tripletKey,
} from './common.ts';
import { ZERO_ADDR, decode, dropPacket, epochNewer, type DataMsg, type FeedbackMsg } from './codec.ts';

export const ROUTER_ROLE = 'r2p2-router';
export const ROUTER_POLICIES = ['jbsq', 'random', 'round-robin', 'jsq'] as const;
export type RouterPolicy = (typeof ROUTER_POLICIES)[number];

export interface RouterConfig {
  readonly policy: RouterPolicy;
  /** Default JBSQ bound, for servers whose FEEDBACK does not carry one (reference slot form). */
  readonly n: number;
  /** Capacity of the central queue; a REQ0 arriving when it is full is dropped. */
  readonly queueCap: number;
  /** A server silent for this long leaves the eligible set, µs. */
  readonly leaveAfterUs: number;
}

export function parseRouterConfig(config: unknown): RouterConfig {
  const c = configObject(ROUTER_ROLE, config, ['policy', 'n', 'queueCap', 'leaveAfterUs']);
  return {
    policy: enumField(ROUTER_ROLE, c, 'policy', ROUTER_POLICIES),
    n: numField(ROUTER_ROLE, c, 'n', { min: 1, max: 0xffff, integer: true }),
    queueCap: numField(ROUTER_ROLE, c, 'queueCap', { min: 0, integer: true }),
    leaveAfterUs: numField(ROUTER_ROLE, c, 'leaveAfterUs', { min: 1 }),
  };
}

type Out = CoreOutput<never>;

interface ServerState {
  readonly addr: Addr;
  /** In the eligible set (false after it left, until it speaks again). */
  eligible: boolean;
  /** The incarnation the account belongs to (undefined: opened by a slot-form FEEDBACK). */
  epoch: number | undefined;
  n: number;
  /** Requests dispatched to it since the account opened. */
  dispatched: number;
  /** Slot-form FEEDBACKs that freed a slot (each names a request in `slots`). */
  freed: number;
  /** The served count of the FEEDBACK that opened the account. */
  base: number;
  /** The highest served count it has reported since. */
  max: number;
  /** Triplets dispatched to it and not yet named by a FEEDBACK. */
  readonly slots: Set<string>;
}

/**
 * Requests outstanding at a server as the router counts them: dispatched − served, where served
 * is the larger of two lower bounds (slot-form frees, count-form served count since joining).
 * This is `Out(s)` of specs/r2p2/R2P2.tla.
 */
function out(s: ServerState): number {
  const done = Math.max(s.freed, s.max - s.base);
  return s.dispatched >= done ? s.dispatched - done : 0;
}

interface Queued {
  readonly client: Addr;
  readonly rid: number;
  readonly data: Uint8Array;
}

/** Snapshot of one server's accounting, for tests and debugging. */
export interface ServerView {
  readonly addr: Addr;
  readonly eligible: boolean;
  readonly n: number;
  readonly dispatched: number;
  /** The server's own served count as last reported (count form). */
  readonly served: number;
  readonly outstanding: number;
}

export const ROUTER_SEEN_CAP = 4096;
const leaveTimer = (server: Addr): string => `leave:${server}`;

export class R2p2Router implements Core<never, never> {
  /** Every server the router has an account of, eligible or not, in order of first join. */
  private readonly servers = new Map<Addr, ServerState>();
  private readonly queue: Queued[] = [];
  private readonly seen = new BoundedSet<string>(ROUTER_SEEN_CAP);
  private rr = 0;
  private readonly exceedsBound: boolean;
  private readonly blindFeedback: boolean;
  private readonly forgetsOnLeave: boolean;

  constructor(
    readonly node: NodeId,
    readonly addr: Addr,
    readonly config: RouterConfig,
    private readonly rng: Rng,
    bugs: ReadonlySet<string> = new Set(),
  ) {
    this.exceedsBound = bugs.has(BUG_ROUTER_EXCEEDS_BOUND);
    this.blindFeedback = bugs.has(BUG_ROUTER_BLIND_FEEDBACK);
    this.forgetsOnLeave = bugs.has(BUG_ROUTER_FORGETS_ON_LEAVE);
  }

  handle(input: CoreInput<never>, now: Micros): Out[] {
    return match(input)
      .with({ kind: 'start' }, () => [])
      .with({ kind: 'command' }, () => [])
      .with({ kind: 'timer' }, ({ name }) => this.timer(name))
      .with({ kind: 'receive' }, ({ packet }) => this.receive(packet.src, packet.data, now))
      .exhaustive();
  }

  serverViews(): ServerView[] {
    return [...this.servers.values()].map((s) => ({
      addr: s.addr, eligible: s.eligible, n: s.n, dispatched: s.dispatched, served: s.max, outstanding: out(s),
    }));
  }

  queued(): number {
    return this.queue.length;
  }

  private receive(src: Addr, data: Uint8Array, now: Micros): Out[] {
    const d = decode(data);
    if (!d.ok) return [];
    return match(d.msg)
      .with({ type: 'REQUEST' }, (m) => this.onRequest(src, m, data))
      .with({ type: 'FEEDBACK' }, (m) => this.onFeedback(src, m, now))
      .with({ type: P.union('RESPONSE', 'ACK', 'DROP', 'RAFT_REQ', 'RAFT_REP', 'RAFT_MSG', 'SACK') }, () => [])
      .exhaustive();
  }

  private onRequest(client: Addr, m: DataMsg, data: Uint8Array): Out[] {
    // Only the first packet of an LB_ROUTE request is the router's business.
    if (!m.first || m.policy !== 'LB_ROUTE') return [];
    const key = tripletKey(client, m.rid);
    if (this.seen.has(key)) return [];
    this.seen.add(key);
    if (this.queue.length >= this.config.queueCap) {
      return [trace({ action: 'RouterDrop', client, rid: m.rid }), send(this.addr, client, dropPacket(m.rid))];
    }
    this.queue.push({ client, rid: m.rid, data });
    return [trace({ action: 'RouterEnqueue', client, rid: m.rid, queued: this.queue.length }), ...this.dispatch()];
  }

  /** Forwards queued requests while the policy allows. */
  private dispatch(): Out[] {
    const result: Out[] = [];
    while (this.queue.length > 0) {
      const s = this.pick();
      if (!s) break;
      const q = this.queue.shift()!;
      // As in the spec, the event reports the count before this dispatch plus one.
      const outstanding = out(s) + 1;
      s.dispatched += 1;
      s.slots.add(tripletKey(q.client, q.rid));
      result.push(
        trace({ action: 'RouterDispatch', client: q.client, rid: q.rid, server: s.addr, outstanding }),
        send(q.client, s.addr, q.data),
      );
    }
    return result;
  }

  private pick(): ServerState | undefined {
    const all = [...this.servers.values()].filter((s) => s.eligible);
    if (all.length === 0) return undefined;
    const least = (xs: ServerState[]): ServerState | undefined =>
      xs.reduce<ServerState | undefined>((b, s) => (b === undefined || out(s) < out(b) ? s : b), undefined);
    return match(this.config.policy)
      .with('jbsq', () => {
        const eligible = all.filter((s) => (this.exceedsBound ? out(s) <= s.n : out(s) < s.n));
        return least(eligible);
      })
      .with('jsq', () => least(all))
      .with('random', () => all[this.rng.int(all.length)])
      .with('round-robin', () => all[this.rr++ % all.length])
      .exhaustive();
  }

  private onFeedback(server: Addr, m: FeedbackMsg, now: Micros): Out[] {
    const client = m.client;
    const rid = m.fbRid;
    const s = this.servers.get(server);
    const epoch = m.count?.epoch;
    // A FEEDBACK of an earlier incarnation: that server is gone.
    if (s && epoch !== undefined && s.epoch !== undefined && epochNewer(s.epoch, epoch)) return [];
    const result: Out[] = [{ kind: 'setTimer', name: leaveTimer(server), at: now + this.config.leaveAfterUs }];
    if (!s || (epoch !== undefined && s.epoch !== undefined && epochNewer(epoch, s.epoch))) {
      const n = m.count?.n || this.config.n;
      const served = m.count?.served ?? 0;
      this.servers.set(server, {
        addr: server, eligible: true, epoch, n, dispatched: 0, freed: 0, base: served, max: served, slots: new Set(),
      });
      result.push(trace({ action: 'RouterServerJoin', server, n, served, fresh: true }));
      result.push(...this.dispatch());
      return result;
    }
    if (s.epoch === undefined) s.epoch = epoch;
    const key = tripletKey(client, rid);
    if (!s.eligible) {
      // It left and speaks again: it rejoins with its account as it was; the FEEDBACK itself is
      // then taken as any other (RouterFeedback).
      s.eligible = true;
      result.push(trace({ action: 'RouterServerJoin', server, n: s.n, served: m.count?.served ?? 0, fresh: false }));
    }
    const namesRequest = !(client === ZERO_ADDR && rid === 0);
    if (this.blindFeedback) {
      // Buggy: every FEEDBACK naming a request frees a slot, whether or not it is outstanding
      // (so duplicates free slots that are still taken).
      if (namesRequest) s.freed += 1;
    } else if (m.count === undefined && s.slots.has(key)) {
      s.freed += 1;
    }
    if (m.count) {
      if (m.count.n > 0) s.n = m.count.n;
      // A lower count is a stale (reordered) FEEDBACK: it changes nothing (served := max, as the spec).
      s.max = Math.max(s.max, m.count.served);
    }
    s.slots.delete(key);
    result.push(trace({
      action: 'RouterFeedback', server, client, rid, form: m.count ? 'count' : 'slot',
      n: s.n, served: m.count ? m.count.served : s.freed, outstanding: out(s),
    }));
    result.push(...this.dispatch());
    return result;
  }

  private timer(name: string): Out[] {
    if (!name.startsWith('leave:')) return [];
    const server = name.slice('leave:'.length);
    const s = this.servers.get(server);
    if (!s?.eligible) return [];
    if (this.forgetsOnLeave) this.servers.delete(server);
    else s.eligible = false;
    return [trace({ action: 'RouterServerLeave', server })];
  }
}

export function createRouter(
  config: unknown,
  env: { node: NodeId; addr: Addr; rng: Rng; bugs: ReadonlySet<string> },
): R2p2Router {
  return new R2p2Router(env.node, env.addr, parseRouterConfig(config), env.rng, env.bugs);
}
