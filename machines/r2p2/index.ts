/**
 * The R2P2 online monitor: client request, server and router machines behind the generic
 * monitor of `harness/monitor/`.
 *
 * Routing: the event's action tells which machine it belongs to (each action is taken by exactly
 * one machine); the event's `node` must have that role in the run. Keys:
 * `client:<node>:<rid>`, `server:<node>`, `router:<node>`.
 */
import type { AnyStateMachine } from 'xstate';
import type { NodeId } from '../../impl/core.ts';
import { createOnlineMonitor, machineEventTypes, type OnlineMonitor, type RouteResult } from '../../harness/monitor/monitor.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import { clientMachine } from './client.ts';
import { routerMachine, type RouterConfig } from './router.ts';
import { serverMachine } from './server.ts';

export { clientMachine } from './client.ts';
export { serverMachine } from './server.ts';
export { routerMachine } from './router.ts';
export type { RouterConfig, RouterPolicy } from './router.ts';
export type { R2p2Event } from './events.ts';

export type R2p2Role = 'client' | 'server' | 'router';

/** The machines of R2P2 by the role whose events they take. */
export const R2P2_MACHINES: Readonly<Record<R2p2Role, AnyStateMachine>> = {
  client: clientMachine,
  server: serverMachine,
  router: routerMachine,
};

export const r2p2Machines: readonly AnyStateMachine[] = Object.values(R2P2_MACHINES);

export interface R2p2MonitorConfig {
  readonly router: RouterConfig;
  readonly roles: Readonly<Record<NodeId, R2p2Role>>;
}

export interface R2p2Monitor extends OnlineMonitor {
  /**
   * A node crashed and restarted: its actors are forgotten (a restarted client reuses rids from
   * the start, a restarted router or server rebuilds its soft state).
   */
  nodeRestarted(node: NodeId): void;
}

/** The role whose machine takes `action` (each action belongs to exactly one machine). */
const ROLE_OF_ACTION: ReadonlyMap<string, R2p2Role> = new Map(
  (Object.entries(R2P2_MACHINES) as [R2p2Role, AnyStateMachine][]).flatMap(([role, m]) =>
    [...machineEventTypes(m)].map((type) => [type, role] as const)),
);

export function createR2p2Monitor(config: R2p2MonitorConfig): R2p2Monitor {
  const route = (e: TraceEvent): RouteResult => {
    const role = ROLE_OF_ACTION.get(e.action);
    const nodeRole = config.roles[e.node];
    if (role === undefined) return { reject: `no R2P2 machine takes ${e.action}` };
    if (nodeRole === undefined) return { reject: `${e.action} by node ${e.node}, which is not in the run` };
    if (nodeRole !== role) return { reject: `${e.action} is a ${role} action but node ${e.node} is a ${nodeRole}` };
    switch (role) {
      case 'client':
        if (typeof e['rid'] !== 'number') return { reject: `${e.action} by ${e.node} has no numeric rid` };
        return {
          key: `client:${e.node}:${e['rid']}`,
          machine: clientMachine,
          input: { node: e.node, rid: e['rid'] },
          // rids are 16-bit: once a request ended, its rid may be issued again.
          renewWhenDone: true,
        };
      case 'server':
        return { key: `server:${e.node}`, machine: serverMachine, input: { node: e.node } };
      case 'router':
        return { key: `router:${e.node}`, machine: routerMachine, input: { ...config.router, node: e.node } };
    }
  };
  // A restarted node starts from scratch: its machines are forgotten and spawn afresh.
  const nodeRestarted = (node: NodeId): void => {
    const role = config.roles[node];
    if (role === 'client') monitor.forget((key) => key.startsWith(`client:${node}:`));
    else if (role !== undefined) monitor.forget((key) => key === `${role}:${node}`);
  };
  const monitor = createOnlineMonitor({
    name: 'r2p2',
    machines: r2p2Machines,
    route,
    onHostFault: (e) => {
      if (e.action === 'HostRestart') nodeRestarted(e.node);
    },
  });
  return { ...monitor, nodeRestarted };
}
