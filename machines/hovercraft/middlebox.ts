/**
 * The multicast flow-control middlebox (a switch program): one actor per middlebox incarnation.
 *
 *   admitting ⟲ MiddleboxForward | MiddleboxNack | MiddleboxFeedback | MiddleboxExpire
 *
 * The context holds the requests that hold a slot, keyed by (client, rid); `inflight` in every
 * event is the number of slots held after it.
 *
 * Rules:
 * - MiddleboxForward of a new request takes a slot: only while fewer than `threshold` are held,
 *   and inflight rises by one. A forward of a request that already holds a slot (a duplicate)
 *   takes none: inflight stays.
 * - MiddleboxNack only when every slot is held (inflight = threshold) by other requests.
 * - MiddleboxFeedback and MiddleboxExpire free the slot of a request that holds one: inflight
 *   falls by one.
 * So inflight never exceeds the threshold and always counts the slots held.
 */
import { assign, setup } from 'xstate';
import type { NodeId } from '../../impl/core.ts';
import { isCount } from '../r2p2/events.ts';
import { requestKey, type HovercraftEvent } from './node.ts';

export type MiddleboxEvent = HovercraftEvent<'MiddleboxForward' | 'MiddleboxNack' | 'MiddleboxFeedback' | 'MiddleboxExpire'>;

export interface MiddleboxInput {
  readonly node: NodeId;
  /** Slots: requests admitted into the system at once. */
  readonly threshold: number;
}

export interface MiddleboxContext extends MiddleboxInput {
  /** Requests (`client#rid`) holding a slot. */
  readonly slots: ReadonlySet<string>;
  readonly inflight: number;
  /** NACKs sent (diagnostics). */
  readonly nacks: number;
}

/** The middlebox's context after `e`, or undefined if it cannot take `e`. */
export function middleboxUpdate(c: MiddleboxContext, e: MiddleboxEvent): MiddleboxContext | undefined {
  if (typeof e.client !== 'string' || !isCount(e.rid)) return undefined;
  const key = requestKey(e.client, e.rid);
  const held = c.slots.has(key);
  const size = c.slots.size;
  switch (e.type) {
    case 'MiddleboxForward':
      if (held) return e.inflight === size ? c : undefined;
      if (size >= c.threshold || e.inflight !== size + 1) return undefined;
      return { ...c, slots: new Set(c.slots).add(key), inflight: e.inflight };
    case 'MiddleboxNack':
      return !held && size === c.threshold && e.inflight === c.threshold ? { ...c, nacks: c.nacks + 1 } : undefined;
    case 'MiddleboxFeedback':
    case 'MiddleboxExpire': {
      if (!held || e.inflight !== size - 1) return undefined;
      const slots = new Set(c.slots);
      slots.delete(key);
      return { ...c, slots, inflight: e.inflight };
    }
  }
}

export const middleboxMachine = setup({
  types: {} as { context: MiddleboxContext; events: MiddleboxEvent; input: MiddleboxInput },
  guards: {
    allowed: ({ context, event }) => middleboxUpdate(context, event) !== undefined,
  },
  actions: {
    update: assign(({ context, event }) => middleboxUpdate(context, event) ?? context),
  },
}).createMachine({
  id: 'hovercraft-middlebox',
  context: ({ input }) => ({ node: input.node, threshold: input.threshold, slots: new Set(), inflight: 0, nacks: 0 }),
  initial: 'admitting',
  states: {
    admitting: {
      on: {
        MiddleboxForward: { guard: 'allowed', actions: 'update' },
        MiddleboxNack: { guard: 'allowed', actions: 'update' },
        MiddleboxFeedback: { guard: 'allowed', actions: 'update' },
        MiddleboxExpire: { guard: 'allowed', actions: 'update' },
      },
    },
  },
});
