/**
 * A HovercRaft client: one actor per client incarnation, one operation outstanding at a time.
 *
 *   idle ──ClientRequest──▶ waiting ──ClientReceiveReply | ClientReceiveNack | ClientTimeout──▶ idle
 *
 * Rules:
 * - ClientRequest only when idle; its rid is a 16-bit request id other than 0 and other than the
 *   previous operation's (a late reply to that one must not pass for a reply to this one); the
 *   fields fit the operation: get is read-only with neither value nor expected, put carries a value
 *   and no expected, cas carries a value (and an expected value or null).
 * - A completion only for the outstanding rid; a reply's result fits the operation (get: a value or
 *   null; put: true; cas: a boolean).
 */
import { match, P } from 'ts-pattern';
import { assign, setup } from 'xstate';
import type { NodeId } from '../../impl/core.ts';
import type { KvOpName } from '../../impl/hovercraft/actions.ts';
import { isU16 } from '../r2p2/events.ts';
import type { HovercraftEvent } from './node.ts';

export type ClientEvent = HovercraftEvent<'ClientRequest' | 'ClientReceiveReply' | 'ClientReceiveNack' | 'ClientTimeout'>;

export interface ClientInput {
  readonly node: NodeId;
}

export interface ClientContext extends ClientInput {
  /** The outstanding operation's rid and kind (null when idle). */
  readonly rid: number | null;
  readonly op: KvOpName | null;
  /** The previous operation's rid. */
  readonly lastRid: number | null;
  /** Operations completed by a reply, a NACK or a timeout. */
  readonly replies: number;
  readonly nacks: number;
  readonly timeouts: number;
}

type RequestEvent = HovercraftEvent<'ClientRequest'>;

const isStr = (x: unknown): x is string => typeof x === 'string';
const isStrOrNull = (x: unknown): boolean => x === null || typeof x === 'string';

/** The request's fields fit its operation. */
function wellFormed(e: RequestEvent): boolean {
  if (!isStr(e.key)) return false;
  return match(e)
    .with({ op: 'get' }, (g) => g.ro === true && g.value === null && g.expected === null)
    .with({ op: 'put' }, (p) => p.ro === false && isStr(p.value) && p.expected === null)
    .with({ op: 'cas' }, (c) => c.ro === false && isStr(c.value) && isStrOrNull(c.expected))
    .otherwise(() => false);
}

/** The reply's result fits the operation. */
function resultFits(op: KvOpName | null, result: unknown): boolean {
  return match([op, result] as const)
    .with(['get', P.union(P.string, null)], () => true)
    .with(['put', true], () => true)
    .with(['cas', P.boolean], () => true)
    .otherwise(() => false);
}

const outstanding = (c: ClientContext, rid: number): boolean => c.rid !== null && rid === c.rid;

export const clientMachine = setup({
  types: {} as { context: ClientContext; events: ClientEvent; input: ClientInput },
}).createMachine({
  id: 'hovercraft-client',
  context: ({ input }) => ({ node: input.node, rid: null, op: null, lastRid: null, replies: 0, nacks: 0, timeouts: 0 }),
  initial: 'idle',
  states: {
    /** No operation outstanding. */
    idle: {
      on: {
        ClientRequest: {
          guard: ({ context, event }) => isU16(event.rid) && event.rid !== 0 && event.rid !== context.lastRid && wellFormed(event),
          target: 'waiting',
          actions: assign(({ event }) => ({ rid: event.rid, op: event.op, lastRid: event.rid })),
        },
      },
    },
    /** One operation outstanding: it completes exactly once. */
    waiting: {
      on: {
        ClientReceiveReply: {
          guard: ({ context, event }) => outstanding(context, event.rid) && isStr(event.from) && resultFits(context.op, event.result),
          target: 'idle',
          actions: assign(({ context }) => ({ rid: null, op: null, replies: context.replies + 1 })),
        },
        ClientReceiveNack: {
          guard: ({ context, event }) => outstanding(context, event.rid),
          target: 'idle',
          actions: assign(({ context }) => ({ rid: null, op: null, nacks: context.nacks + 1 })),
        },
        ClientTimeout: {
          guard: ({ context, event }) => outstanding(context, event.rid),
          target: 'idle',
          actions: assign(({ context }) => ({ rid: null, op: null, timeouts: context.timeouts + 1 })),
        },
      },
    },
  },
});
