/**
 * The R2P2 router (a switch program): one actor per router node.
 *
 * It has one state, `routing`; what matters is its context, the router's soft state:
 * - `queue`: the central FIFO queue of REQ0s, bounded by `queueCap` (a full queue answers DROP);
 * - `servers`: the eligible servers with their queue bound n and the requests outstanding at each
 *   as the router counts them (dispatched and not yet fed back).
 *
 * Policies: under `jbsq` (JBSQ(n)) the head REQ0 goes to a server with the fewest outstanding
 * requests, and only if that server has fewer than n: n is the router's configured bound, and also
 * the server's own n when it announced a smaller one. Under `jsq` the server must have the fewest
 * outstanding requests; other policies (random, round robin, …) only need an eligible server.
 *
 * FEEDBACK comes in two forms: `slot` (the reference's: one slot free, outstanding − 1, or no
 * change when it names a request the router no longer counts, e.g. a duplicate) and `count` (the
 * server's n and served count: the router derives outstanding = dispatched − served, which a lost
 * or duplicated FEEDBACK does not disturb). Either way a FEEDBACK never raises the count.
 */
import { assign, setup } from 'xstate';
import type { Addr } from '../../impl/core.ts';
import { isCount, isPositive, isU16, type R2p2Event } from './events.ts';

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
  /** The server's bound as it last reported it. */
  readonly n: number;
  /** Requests the router counts at the server. */
  readonly outstanding: number;
  /** Dispatches to the server since it joined. */
  readonly dispatched: number;
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
export function jbsqBound(context: RouterConfig, s: ServerView): number {
  return Math.min(context.n, s.n);
}

function fewestOutstanding(context: RouterContext): number {
  return Math.min(...Object.values(context.servers).map((s) => s.outstanding));
}

/** Whether the policy allows dispatching to `s` (which must be eligible). */
function policyAllows(context: RouterContext, s: ServerView): boolean {
  switch (context.policy) {
    case 'jbsq':
      return s.outstanding < jbsqBound(context, s) && s.outstanding === fewestOutstanding(context);
    case 'jsq':
      return s.outstanding === fewestOutstanding(context);
    default:
      return true;
  }
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
          // A FEEDBACK or announce from a server the router does not know makes it eligible.
          guard: ({ context, event }) => context.servers[event.server] === undefined && isPositive(event.n),
          actions: assign(({ context, event }) => ({
            servers: { ...context.servers, [event.server]: { n: event.n, outstanding: 0, dispatched: 0 } },
          })),
        },
        RouterServerLeave: {
          // A silent server leaves the eligible set; its outstanding requests are forgotten.
          guard: ({ context, event }) => context.servers[event.server] !== undefined,
          actions: assign(({ context, event }) => {
            const { [event.server]: _gone, ...servers } = context.servers;
            return { servers };
          }),
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
          // The head REQ0 goes to an eligible server the policy allows; `outstanding` counts it.
          guard: ({ context, event }) => {
            const head = context.queue[0];
            const s = context.servers[event.server];
            return head !== undefined && head.client === event.client && head.rid === event.rid &&
              s !== undefined && event.outstanding === s.outstanding + 1 && policyAllows(context, s);
          },
          actions: assign(({ context, event }) => {
            const s = context.servers[event.server]!;
            return {
              queue: context.queue.slice(1),
              servers: {
                ...context.servers,
                [event.server]: { ...s, outstanding: event.outstanding, dispatched: s.dispatched + 1 },
              },
            };
          }),
        },
        RouterFeedback: {
          // FEEDBACK from an eligible server frees slots (see the module comment for the two forms).
          guard: ({ context, event }) => {
            const s = context.servers[event.server];
            if (s === undefined || !isCount(event.outstanding)) return false;
            if (event.form === 'slot') {
              return event.outstanding === s.outstanding || event.outstanding === Math.max(0, s.outstanding - 1);
            }
            return event.form === 'count' && isPositive(event.n) && isCount(event.served) &&
              event.outstanding <= s.outstanding;
          },
          actions: assign(({ context, event }) => {
            const s = context.servers[event.server]!;
            const n = event.form === 'count' ? event.n : s.n;
            return { servers: { ...context.servers, [event.server]: { ...s, n, outstanding: event.outstanding } } };
          }),
        },
      },
    },
  },
});
