/**
 * A `Launcher` whose processes run on agents: each node is placed on one agent (a lab host, or a
 * container standing in for one), and its host's clock offset is measured before the run so the
 * run can hand every process its origin in its own clock.
 */
import type { NodeId } from '../../impl/core.ts';
import type { Launcher, LaunchedProcess } from '../process/launcher.ts';
import { AgentClient, AgentError } from './client.ts';

export interface AgentPlacement {
  /** Node id → the agent that runs it (the switch is node `switch`). */
  readonly agents: ReadonlyMap<NodeId, AgentClient>;
}

export class AgentLauncher implements Launcher {
  private readonly offsets = new Map<AgentClient, bigint>();

  private constructor(
    readonly name: string,
    private readonly agents: ReadonlyMap<NodeId, AgentClient>,
  ) {}

  /**
   * Checks every agent answers (with the secret) and, unless `sameClock` (agents on one kernel,
   * e.g. containers, share its monotonic clock: offset 0), measures its clock offset. Errors name
   * the agent: unreachable, refused secret, timeout.
   */
  static async connect(
    name: string,
    agents: ReadonlyMap<NodeId, AgentClient>,
    o: { readonly sameClock?: boolean; readonly samples?: number } = {},
  ): Promise<AgentLauncher> {
    const l = new AgentLauncher(name, agents);
    // One agent at a time (parallel requests inflate round trips), after a request that pays for
    // the connection set-up.
    for (const a of new Set(agents.values())) {
      await a.info();
      l.offsets.set(a, o.sameClock ? 0n : (await a.clockOffsetNs(o.samples ?? 16)).offsetNs);
    }
    return l;
  }

  private agentOf(id: NodeId): AgentClient {
    const a = this.agents.get(id);
    if (!a) throw new AgentError(`${this.name}: no agent is placed to run node ${id}`, 'rejected');
    return a;
  }

  async launch(id: NodeId, argv: readonly string[]): Promise<LaunchedProcess> {
    return this.agentOf(id).spawn(id, argv);
  }

  clockOffsetNs(id: NodeId): bigint {
    return this.offsets.get(this.agentOf(id)) ?? 0n;
  }

  /** The measured offset of every agent, by URL (for reports). */
  offsetsByUrl(): Record<string, number> {
    return Object.fromEntries([...this.offsets].map(([a, o]) => [a.url, Number(o) / 1e6]));
  }

  /** Kills whatever the agents still run for this launcher's runs. */
  async killAll(): Promise<void> {
    await Promise.allSettled([...new Set(this.agents.values())].map((a) => a.killAll()));
  }
}
