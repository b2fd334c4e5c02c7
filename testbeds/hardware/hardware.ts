/**
 * The `hardware` testbed: conformance runs on real hosts listed in an inventory, each running
 * `protocheck agent`. The run is `ProcessRun` with an `AgentLauncher`, as on `docker`.
 *
 * Placement: each host node goes to an inventory host that may run its role (spread round robin
 * over those hosts); its address is the host's address with the node's planned port, or the next
 * free one on that host (several nodes may share a host; the switch's socket keeps its port). The software switch runs on
 * the inventory's switch host; switch programs get the switch host's address with their planned
 * port. Before a run the harness measures every agent's clock offset (NTP style) and hands each
 * process its origin in its own host's clock, so the merged trace has one time line.
 *
 * Host faults: crash = SIGKILL through the agent (a standby process restarts the node on time),
 * pause/resume = SIGSTOP/SIGCONT through the agent.
 */
import type { Addr, NodeId } from '../../impl/core.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import type { AddressRequest, RunPlan, Testbed } from '../testbed.ts';
import { AgentClient } from '../agent/client.ts';
import { AgentLauncher } from '../agent/launcher.ts';
import { ProcessRun, SWITCH_NODE, type ProcessRunOutput } from '../process/run.ts';
import { InventoryError, loadInventory, type Inventory, type InventoryHost } from './inventory.ts';

export interface HardwareOptions {
  /** How long processes may take to start (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** Per-request timeout towards the agents (default 5 s). */
  readonly agentTimeoutMs?: number;
}

export interface HardwareRunOutput extends ProcessRunOutput {
  /** Each agent's measured clock offset (ms, agent minus harness), by agent URL. */
  readonly clockOffsetsMs: Record<string, number>;
}

export class HardwareTestbed implements Testbed {
  readonly name = 'hardware';
  /** Node id → inventory host, from the last `assignAddresses`. */
  private placement = new Map<NodeId, InventoryHost>();

  constructor(readonly inventory: Inventory, private readonly opts: HardwareOptions = {}) {}

  static async fromFile(path: string, opts: HardwareOptions = {}): Promise<HardwareTestbed> {
    return new HardwareTestbed(await loadInventory(path), opts);
  }

  private switchHost(): InventoryHost {
    const sw = this.inventory.switch;
    if (sw.kind === 'external') {
      throw new InventoryError(
        `hardware: the inventory's switch is external (${sw.address}); this version runs protocols only through a ` +
        'software switch on an inventory host ("switch": { "host": ... })',
      );
    }
    return this.inventory.hosts.find((h) => h.name === sw.host)!;
  }

  assignAddresses(nodes: readonly AddressRequest[]): Record<NodeId, Addr> {
    const sw = this.switchHost();
    const out: Record<NodeId, Addr> = {};
    const placement = new Map<NodeId, InventoryHost>();
    const next = new Map<string, number>();
    // Ports taken per host address: the switch's own socket, then every node placed.
    const taken = new Map<string, Set<number>>([[sw.address, new Set([(this.inventory.switch as { port: number }).port])]]);
    const takePort = (address: string, port: number): number => {
      const used = taken.get(address) ?? new Set<number>();
      taken.set(address, used);
      let p = port;
      while (used.has(p)) p++;
      used.add(p);
      return p;
    };
    for (const n of nodes) {
      if (n.placement === 'switch') {
        out[n.id] = `${sw.address}:${takePort(sw.address, n.port)}`;
        continue;
      }
      const role = n.role;
      const eligible = this.inventory.hosts.filter((h) => role === undefined || h.roles.includes(role));
      if (eligible.length === 0) {
        throw new InventoryError(`hardware: no inventory host may run ${role ?? 'node'} ${n.id} (add "${role}" to some host's roles)`);
      }
      const key = role ?? '';
      const i = next.get(key) ?? 0;
      next.set(key, i + 1);
      const host = eligible[i % eligible.length]!;
      out[n.id] = `${host.address}:${takePort(host.address, n.port)}`;
      placement.set(n.id, host);
    }
    this.placement = placement;
    return out;
  }

  async run(plan: RunPlan, observe?: (event: TraceEvent) => void): Promise<HardwareRunOutput> {
    const sw = this.switchHost();
    const clients = new Map<string, AgentClient>();
    const clientOf = (h: InventoryHost): AgentClient => {
      let c = clients.get(h.name);
      if (!c) clients.set(h.name, (c = new AgentClient(h.agent, this.inventory.secret, this.opts.agentTimeoutMs ?? 5000)));
      return c;
    };
    const agents = new Map<NodeId, AgentClient>([[SWITCH_NODE, clientOf(sw)]]);
    for (const n of plan.nodes) {
      if (n.placement !== 'host') continue;
      const h = this.placement.get(n.id) ?? this.inventory.hosts.find((x) => `${x.address}` === n.addr.slice(0, n.addr.lastIndexOf(':')));
      if (!h) throw new InventoryError(`hardware: node ${n.id} (${n.addr}) is on no inventory host; plan the run with this testbed`);
      agents.set(n.id, clientOf(h));
    }
    const launcher = await AgentLauncher.connect('hardware', agents);
    const run = new ProcessRun(launcher, {
      switchAddr: `${sw.address}:${(this.inventory.switch as { port: number }).port}`,
      readyTimeoutMs: this.opts.readyTimeoutMs ?? 30_000,
      stopGraceMs: 2000,
    }, plan, observe);
    try {
      const out = await run.execute();
      return { ...out, clockOffsetsMs: launcher.offsetsByUrl() };
    } finally {
      run.killAll();
      await launcher.killAll();
    }
  }
}
