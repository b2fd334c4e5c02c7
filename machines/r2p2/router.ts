/**
 * The R2P2 router (a switch program): one actor per router node.
 *
 * It has one state, `routing`; what matters is its context, the router's soft state:
 * - `queue`: the central FIFO queue of REQ0s, bounded by `queueCap` (a full queue answers DROP);
 * - `servers`: the servers the router has an account of, eligible or not (a server that left keeps
 *   its account), with their queue bound n and the requests outstanding at each as the router
 *   counts them (dispatched and not yet fed back).
 *
 * Policies: under `jbsq` (JBSQ(n)) the head REQ0 goes to a server with the fewest outstanding
 * requests, and only if that server has fewer than n: the server's n as the router knows it (the
 * spec's rn: announced in count-form FEEDBACK, else the router's configured n). Under `jsq` the server must have the fewest
 * outstanding requests; other policies (random, round robin, …) only need an eligible server.
 *
 * Accounting per server, exactly `Out(s)` of specs/r2p2/R2P2.tla: the machine tracks what the spec's
 * router tracks since the server joined — dispatches (`rdisp`), the requests holding a slot
 * (`rslots`), slot-form frees (`rfreed`), the highest count-form served count (`rmax`) — and
 * Out(s) = max(0, dispatched − max(freed, max − base)). FEEDBACK comes in two forms: `slot` (the
 * reference's: frees the slot of the request it names, once, if that request holds one) and `count`
 * (the server's n and served count; max := max(max, served), so a lost, duplicated or stale FEEDBACK
 * does no harm and a lower count never resets anything). A FEEDBACK never raises the count.
 *
 * Accounts: RouterServerJoin with `fresh` opens a new account (a first join, or a FEEDBACK from a
 * newer incarnation of the server) with the joining FEEDBACK's served count as `base`; without
 * `fresh`, a server that left rejoins and its account continues (its requests dispatched before the
 * leave still count; its FEEDBACK follows as a RouterFeedback). RouterServerLeave only makes the server
 * ineligible. The machine keeps the interval of bases consistent with the events, [baseLo, baseHi],
 * narrowed at each RouterDispatch / RouterFeedback: an event is accepted iff some base gives exactly
 * the `outstanding` it reports (Out is monotone in the base, so the consistent bases form an
 * interval). A join carries its served count, so the interval is a single base from the join on.
 *
 * RouterDispatch reports `outstanding` = Out(s) + 1 with Out(s) before the dispatch (as the spec).
 */
import { assign, setup } from 'xstate';
import type { Addr } from '../../impl/core.ts';
import { isCount, isPositive, isU16, requestKey, type R2p2Event, type RequestKey } from './events.ts';

export type RouterEvent = R2p2Event<
  'RouterServerJoin' | 'RouterServerLeave' | 'RouterEnqueue' | 'RouterDrop' | 'RouterDispatch' | 'RouterFeedback'
>;

/** `jbsq` and `jsq` are checked; any other policy name only gets the eligibility check. */
export type RouterPolicy = 'jbsq' | 'jsq' | 'random' | 'round-robin' | (string & {});

export interface RouterConfig {
  readonly policy: RouterPolicy;
  /** The JBSQ bound: requests outstanding per server. */
  readonly n: number;
  /** Capacity of the central queue (`Infinity` for unbounded). */
  readonly queueCap: number;
}

export interface RouterInput extends RouterConfig {
  readonly node?: string;
}

export interface ServerView {
  /** Whether the server is in the eligible set (false after RouterServerLeave). */
  readonly eligible: boolean;
  /** The server's bound as it last reported it. */
  readonly n: number;
  /** Dispatches to the server since it joined (the spec's rdisp). */
  readonly dispatched: number;
  /** Slot-form FEEDBACKs that freed a slot since it joined (rfreed). */
  readonly freed: number;
  /** Requests dispatched to it and not yet named by a FEEDBACK (rslots). */
  readonly slots: ReadonlySet<RequestKey>;
  /** The highest served count of a count-form FEEDBACK since it joined (undefined: none yet). */
  readonly maxServed: number | undefined;
  /** The bases (served count at join, rbase) consistent with the events so far: [baseLo, baseHi]. */
  readonly baseLo: number;
  readonly baseHi: number;
}

/** Out(s) of the spec if the server joined with served count `base`. */
function outAt(s: ServerView, base: number): number {
  const counted = s.maxServed === undefined ? 0 : Math.max(0, s.maxServed - base);
  return Math.max(0, s.dispatched - Math.max(s.freed, counted));
}

/** Out is constant for bases >= maxServed: the highest base worth evaluating. */
function topBase(s: ServerView): number {
  return s.maxServed === undefined ? s.baseLo : Math.min(s.baseHi, Math.max(s.baseLo, s.maxServed));
}

/** The range of Out(s) over the consistent bases (Out is nondecreasing in the base). */
export function outstandingRange(s: ServerView): readonly [number, number] {
  return [outAt(s, s.baseLo), outAt(s, topBase(s))];
}

/** The least consistent base at which Out(s) >= v, if any. */
function firstBaseAtLeast(s: ServerView, v: number): number | undefined {
  let lo = s.baseLo;
  let hi = topBase(s);
  if (outAt(s, hi) < v) return undefined;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (outAt(s, mid) >= v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** `s` with its bases narrowed to those where Out(s) = v; undefined if there are none. */
function pinOut(s: ServerView, v: number): ServerView | undefined {
  const from = firstBaseAtLeast(s, v);
  if (from === undefined || outAt(s, from) !== v) return undefined;
  const above = firstBaseAtLeast(s, v + 1);
  return { ...s, baseLo: from, baseHi: above === undefined ? s.baseHi : above - 1 };
}

/** `s` with its bases narrowed to those where Out(s) >= v; undefined if there are none. */
function atLeastOut(s: ServerView, v: number): ServerView | undefined {
  const from = firstBaseAtLeast(s, v);
  return from === undefined ? undefined : { ...s, baseLo: from };
}

export interface QueuedRequest {
  readonly client: Addr;
  readonly rid: number;
}

export interface RouterContext extends RouterConfig {
  readonly node: string;
  readonly queue: readonly QueuedRequest[];
  readonly servers: Readonly<Record<Addr, ServerView>>;
}

/** The bound a JBSQ router must respect at `s`. */
export function jbsqBound(_context: RouterConfig, s: Pick<ServerView, 'n'>): number {
  return s.n;
}

type Servers = Readonly<Record<Addr, ServerView>>;
type DispatchEvent = Extract<RouterEvent, { type: 'RouterDispatch' }>;
type FeedbackEvent = Extract<RouterEvent, { type: 'RouterFeedback' }>;

/**
 * The servers after `event` (a dispatch of the queue's head), or undefined if the dispatch is not
 * allowed: Out(server) before it must be `outstanding − 1` for some consistent base, and the
 * policy must allow the server at that count —
 *  - jbsq: Out(server) < its bound and no server with room has fewer (each other server t has
 *    Out(t) >= min(bound(t), Out(server)));
 *  - jsq: no server has fewer;
 *  - others: any eligible server.
 * Every server's consistent bases are narrowed to those that make the choice valid.
 */
function afterDispatch(context: RouterContext, event: DispatchEvent): Servers | undefined {
  const head = context.queue[0];
  const s = context.servers[event.server];
  if (head === undefined || head.client !== event.client || head.rid !== event.rid || s === undefined || !s.eligible) {
    return undefined;
  }
  if (!isPositive(event.outstanding)) return undefined;
  const before = event.outstanding - 1;
  const pinned = pinOut(s, before);
  if (pinned === undefined) return undefined;
  const servers: Record<Addr, ServerView> = { ...context.servers };
  if (context.policy === 'jbsq' || context.policy === 'jsq') {
    if (context.policy === 'jbsq' && before >= jbsqBound(context, s)) return undefined;
    for (const [addr, t] of Object.entries(context.servers)) {
      if (addr === event.server || !t.eligible) continue;
      const floor = context.policy === 'jbsq' ? Math.min(jbsqBound(context, t), before) : before;
      const narrowed = atLeastOut(t, floor);
      if (narrowed === undefined) return undefined;
      servers[addr] = narrowed;
    }
  }
  const slots = new Set(pinned.slots);
  slots.add(requestKey(event.client, event.rid));
  servers[event.server] = { ...pinned, dispatched: pinned.dispatched + 1, slots };
  return servers;
}

/** The server's view after `event`, or undefined if the FEEDBACK does not fit (see the module comment). */
function afterFeedback(context: RouterContext, event: FeedbackEvent): ServerView | undefined {
  const s = context.servers[event.server];
  if (s === undefined || !s.eligible || !isCount(event.outstanding)) return undefined;
  const key = requestKey(event.client, event.rid);
  const slots = new Set(s.slots);
  slots.delete(key);
  let next: ServerView;
  if (event.form === 'slot') {
    next = { ...s, freed: s.slots.has(key) ? s.freed + 1 : s.freed, slots };
  } else if (event.form === 'count' && isPositive(event.n) && isCount(event.served)) {
    next = { ...s, n: event.n, maxServed: Math.max(s.maxServed ?? event.served, event.served), slots };
  } else {
    return undefined;
  }
  return pinOut(next, event.outstanding);
}

export const routerMachine = setup({
  types: {} as { context: RouterContext; events: RouterEvent; input: RouterInput },
}).createMachine({
  id: 'r2p2-router',
  context: ({ input }) => ({
    node: input.node ?? 'router', policy: input.policy, n: input.n, queueCap: input.queueCap, queue: [], servers: {},
  }),
  initial: 'routing',
  states: {
    routing: {
      on: {
        RouterServerJoin: {
          // fresh: a new account (first join or a new incarnation), nothing dispatched, the
          // FEEDBACK's served count the base. Otherwise a server that left rejoins: its account goes on.
          // A rejoin keeps the n the router knows; its FEEDBACK follows as a RouterFeedback.
          guard: ({ context, event }) => {
            if (!isPositive(event.n) || !isCount(event.served) || typeof event.fresh !== 'boolean') return false;
            const s = context.servers[event.server];
            return event.fresh || (s !== undefined && !s.eligible && s.n === event.n);
          },
          actions: assign(({ context, event }) => {
            const s = context.servers[event.server];
            const next: ServerView = event.fresh || s === undefined
              ? {
                eligible: true, n: event.n, dispatched: 0, freed: 0, slots: new Set<RequestKey>(),
                maxServed: event.served, baseLo: event.served, baseHi: event.served,
              }
              : { ...s, eligible: true };
            return { servers: { ...context.servers, [event.server]: next } };
          }),
        },
        RouterServerLeave: {
          // A silent server leaves the eligible set; its account stays for a rejoin.
          guard: ({ context, event }) => context.servers[event.server]?.eligible === true,
          actions: assign(({ context, event }) => ({
            servers: { ...context.servers, [event.server]: { ...context.servers[event.server]!, eligible: false } },
          })),
        },
        RouterEnqueue: {
          // A REQ0 joins the central queue: `queued` is the queue length after it, within capacity.
          guard: ({ context, event }) =>
            isU16(event.rid) && context.queue.length < context.queueCap && event.queued === context.queue.length + 1,
          actions: assign(({ context, event }) => ({
            queue: [...context.queue, { client: event.client, rid: event.rid }],
          })),
        },
        RouterDrop: {
          // DROP only when the central queue is full.
          guard: ({ context, event }) => isU16(event.rid) && context.queue.length === context.queueCap,
          // The queue is unchanged; the assignment only makes the transition count as taken.
          actions: assign(({ context }) => ({ queue: context.queue })),
        },
        RouterDispatch: {
          // The head REQ0 goes to an eligible server the policy allows; `outstanding` = Out(s) + 1.
          guard: ({ context, event }) => afterDispatch(context, event) !== undefined,
          actions: assign(({ context, event }) => ({
            queue: context.queue.slice(1),
            servers: afterDispatch(context, event)!,
          })),
        },
        RouterFeedback: {
          // FEEDBACK from an eligible server; `outstanding` must be Out(s) afterwards.
          guard: ({ context, event }) => afterFeedback(context, event) !== undefined,
          actions: assign(({ context, event }) => ({
            servers: { ...context.servers, [event.server]: afterFeedback(context, event)! },
          })),
        },
      },
    },
  },
});
