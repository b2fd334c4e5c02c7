/**
 * A generic online monitor: XState machines that watch a run's trace as it happens.
 *
 * The protocol supplies its machines and a routing function that maps each trace event to an
 * actor key and the machine behind it (e.g. `client:client1:7` → the R2P2 client request
 * machine). Actors are spawned lazily, the first time their key is seen. For every event the
 * monitor asks the actor's snapshot whether it `can` take the event (the machine's transitions and
 * guards decide), and only then sends it. An event that cannot be taken is a `Violation` with
 * `check: 'monitor'`; it is not applied, so the actor stays where it was and the monitor goes on
 * with the next event.
 *
 * `Net*` annotations (the switch's fault stage) are not protocol actions and are skipped. An action
 * that no machine knows is itself a violation, as is an event the router cannot place.
 */
import { createActor } from 'xstate';
import type { AnyActorRef, AnyStateMachine, AnyStateNode, EventObject, StateValue } from 'xstate';
import type { TraceMonitor, Violation } from '../protocol.ts';
import { isHostAnnotation, isNetAnnotation, type FieldValue, type TraceEvent } from '../trace/schema.ts';

/** Where one event goes: the actor's key, its machine, and the machine's input on first spawn. */
export interface ActorRoute {
  readonly key: string;
  readonly machine: AnyStateMachine;
  readonly input?: unknown;
  /**
   * When the key's actor has reached a final state and a fresh actor of the same machine can take
   * the event, start a fresh actor for the key (e.g. a 16-bit request id reused after it wrapped).
   */
  readonly renewWhenDone?: boolean;
}

/** The routing function's answer: a route, or why the event has no place (a violation). */
export type RouteResult = ActorRoute | { readonly reject: string };

export interface OnlineMonitorConfig {
  /** Names the monitor in messages, e.g. `r2p2`. */
  readonly name: string;
  /** Every machine the router may return; their event types are the known actions. */
  readonly machines: readonly AnyStateMachine[];
  readonly route: (event: TraceEvent) => RouteResult;
  /** Sees the testbed's `Host*` annotations (e.g. to forget a restarted node's actors). */
  readonly onHostFault?: (event: TraceEvent) => void;
  /** End-of-run check over the actors; reports nothing when absent (pending work is fine). */
  readonly finish?: (actors: ReadonlyMap<string, AnyActorRef>) => Violation[];
}

/** A `TraceMonitor` that also lets the harness forget actors (e.g. when a node restarts). */
export interface OnlineMonitor extends TraceMonitor {
  /** Stops and forgets every actor whose key `select` picks; returns how many. */
  forget(select: (key: string) => boolean): number;
  /** The live actors by key (for diagnostics and tests). */
  actors(): ReadonlyMap<string, AnyActorRef>;
}

/** The event types a machine has transitions for, in any of its state nodes. */
export function machineEventTypes(machine: AnyStateMachine): Set<string> {
  const out = new Set<string>();
  const walk = (node: AnyStateNode): void => {
    for (const type of node.ownEvents) out.add(type);
    for (const child of Object.values(node.states)) walk(child);
  };
  walk(machine.root);
  return out;
}

/** A trace event as an XState event: `action` becomes `type`; `t`, `node` and fields stay. */
export function toMachineEvent(e: TraceEvent): EventObject & Record<string, FieldValue> {
  const { action, ...rest } = e;
  return { ...rest, type: action };
}

export function formatStateValue(value: StateValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function formatEvent(e: TraceEvent): string {
  const { t: _t, node: _node, action, ...fields } = e;
  return `${action} ${JSON.stringify(fields)}`;
}

export function createOnlineMonitor(config: OnlineMonitorConfig): OnlineMonitor {
  const known = new Set<string>();
  for (const m of config.machines) for (const type of machineEventTypes(m)) known.add(type);
  const actors = new Map<string, AnyActorRef>();

  const violation = (index: number, message: string): Violation => ({
    check: 'monitor',
    message: `${config.name} monitor: ${message}`,
    events: [index],
  });

  const spawn = (route: ActorRoute): AnyActorRef => {
    const actor = createActor(route.machine, { input: route.input });
    actor.start();
    actors.set(route.key, actor);
    return actor;
  };

  /** Whether the actor's current snapshot has an enabled transition for the event. */
  const can = (actor: AnyActorRef, event: EventObject): boolean => {
    const snap = actor.getSnapshot();
    return snap.status === 'active' && snap.can(event);
  };

  return {
    observe(index, event) {
      if (isNetAnnotation(event)) return undefined;
      if (isHostAnnotation(event)) {
        config.onHostFault?.(event);
        return undefined;
      }
      if (!known.has(event.action)) {
        return violation(index, `no machine knows action ${event.action} (node ${event.node})`);
      }
      const route = config.route(event);
      if ('reject' in route) return violation(index, route.reject);

      const machineEvent = toMachineEvent(event);
      let actor = actors.get(route.key) ?? spawn(route);
      if (route.renewWhenDone && actor.getSnapshot().status === 'done') {
        const fresh = createActor(route.machine, { input: route.input }).start();
        if (can(fresh, machineEvent)) {
          actor.stop();
          actors.set(route.key, fresh);
          actor = fresh;
        } else {
          fresh.stop();
        }
      }

      const where = () => {
        const snap = actor.getSnapshot();
        return `machine ${route.machine.id} (${route.key}) in state ${formatStateValue(snap.value)}` +
          (snap.status === 'active' ? '' : ` [${snap.status}]`);
      };
      let ok: boolean;
      try {
        ok = can(actor, machineEvent);
      } catch (err) {
        return violation(index, `${where()} failed evaluating ${formatEvent(event)}: ${(err as Error).message}`);
      }
      if (!ok) return violation(index, `${where()} cannot take ${formatEvent(event)}`);
      actor.send(machineEvent);
      if (actor.getSnapshot().status === 'error') {
        return violation(index, `${where()} errored on ${formatEvent(event)}`);
      }
      return undefined;
    },

    finish() {
      return config.finish ? config.finish(actors) : [];
    },

    forget(select) {
      let n = 0;
      for (const [key, actor] of [...actors]) {
        if (!select(key)) continue;
        actor.stop();
        actors.delete(key);
        n++;
      }
      return n;
    },

    actors() {
      return actors;
    },
  };
}
