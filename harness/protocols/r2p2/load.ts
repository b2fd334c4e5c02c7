/**
 * R2P2 load figures (`ProtocolDefinition.loadFigures`): how often a run's servers reached the
 * JBSQ bound n at the router, from the trace alone. A campaign sums them over its runs;
 * `runs-at-bound` is 0 or 1 per run, so its sum counts runs. The definitions are in docs/r2p2.md
 * ("Load figures").
 */
import type { Trace } from '../../trace/schema.ts';
import { ROUTER_NODE, type R2p2Scenario } from './scenario.ts';

export const R2P2_LOAD_FIGURES = ['runs-at-bound', 'dispatches-at-bound', 'held-at-bound', 'router-drops'] as const;
export type R2p2LoadFigure = (typeof R2P2_LOAD_FIGURES)[number];

interface ServerView {
  eligible: boolean;
  outstanding: number;
  n: number;
}

export function r2p2LoadFigures(trace: Trace, scenario: R2p2Scenario): Record<R2p2LoadFigure, number> {
  let dispatches = 0;
  let held = 0;
  let drops = 0;
  // The router's view of each server, as its own events report it.
  const servers = new Map<string, ServerView>();
  const view = (server: string): ServerView => {
    let s = servers.get(server);
    if (!s) servers.set(server, (s = { eligible: false, outstanding: 0, n: scenario.topology.router.n }));
    return s;
  };
  for (const e of trace) {
    if (e.node === ROUTER_NODE && (e.action === 'HostCrash' || e.action === 'HostRestart')) {
      servers.clear(); // soft state only: a restarted router starts empty
      continue;
    }
    switch (e.action) {
      case 'RouterServerJoin': {
        const s = view(e.server as string);
        s.eligible = true;
        s.n = e.n as number;
        if (e.fresh) s.outstanding = 0;
        break;
      }
      case 'RouterServerLeave':
        view(e.server as string).eligible = false;
        break;
      case 'RouterDispatch': {
        const s = view(e.server as string);
        s.outstanding = e.outstanding as number;
        if (s.outstanding >= s.n) dispatches++;
        break;
      }
      case 'RouterFeedback': {
        const s = view(e.server as string);
        s.outstanding = e.outstanding as number;
        s.n = e.n as number;
        break;
      }
      case 'RouterEnqueue': {
        const eligible = [...servers.values()].filter((s) => s.eligible);
        if (eligible.length > 0 && eligible.every((s) => s.outstanding >= s.n)) held++;
        break;
      }
      case 'RouterDrop':
        drops++;
        break;
    }
  }
  return {
    'runs-at-bound': dispatches > 0 || held > 0 ? 1 : 0,
    'dispatches-at-bound': dispatches,
    'held-at-bound': held,
    'router-drops': drops,
  };
}
