/**
 * The `docker` testbed: one container per host node and one for the switch, on a fresh Docker
 * network per run, started through testcontainers from the locally built node image (no pull).
 *
 * Every container runs `protocheck agent` (only the roles that container is for), and the run is
 * the same `ProcessRun` as `local`'s, with an `AgentLauncher`: the harness asks each container's
 * agent to start the node's processes and streams their output back. Nodes tunnel every packet
 * through the switch container (the switch applies the scenario's packet faults), so they reach
 * each other only through it.
 *
 * Addresses: `assignAddresses` draws a /24 in 10.128.0.0/10 per run (the data network); the switch
 * container is .2 (its socket on port 4000, switch programs at .2 with their planned port), host i
 * is .(10+i) with its planned port. Each container is also on a control network (`controlPrefix`,
 * same last octet), where its agent listens on port 7400: the harness's connections to the agents
 * never cross the data network, so a node's data link can be cut while its agent is still driven.
 *
 * Host faults: crash = SIGKILL of the node's process in its container (volatile state lost; a
 * standby process in the same container restarts it on time), pause = `docker pause` of the
 * container (a frozen process, its agent included), resume = `docker unpause`, disconnect =
 * `docker network disconnect` of the container from the data network, reconnect = `docker network
 * connect` with the same address. A clock fault is applied by the node's driver (`clockOffsetUs`).
 *
 * Clean-up: every network and container carries `protocheck=1`, `protocheck.run=<id>` and
 * `protocheck.owner=<pid>`. A run removes its own at the end; before a run, whatever a harness that
 * is gone left behind is removed (`reapOrphans`); `protocheck clean` removes everything.
 */
import { randomBytes } from 'node:crypto';
import type { Addr, NodeId } from '../../impl/core.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import type { RunPlan, Testbed } from '../testbed.ts';
import { AgentClient } from '../agent/client.ts';
import { AgentLauncher } from '../agent/launcher.ts';
import type { LaunchedProcess } from '../process/launcher.ts';
import { ProcessRun, SWITCH_NODE, type ProcessRunOutput } from '../process/run.ts';
import { docker, dockerSettled } from './cli.ts';
import { ensureEngine } from './engine.ts';
import { ensureNodeImage } from './image.ts';
import { reapOrphans, reapRun, runLabels } from './reap.ts';

export const AGENT_PORT = 7400;
export const SWITCH_PORT = 4000;
const SECRET_ENV = 'PROTOCHECK_AGENT_SECRET';

export interface DockerOptions {
  /** How long containers and processes may take to start (default 60 s). */
  readonly readyTimeoutMs?: number;
  /** After `stop`, how long a process may take to exit before SIGKILL (default 2000 ms). */
  readonly stopGraceMs?: number;
}

export interface DockerRunStats {
  readonly packets: number;
  readonly events: number;
  /** ms from the first launch until every process reported ready. */
  readonly startupMs: number;
  /** ms to create the network and start every container with its agent answering. */
  readonly clusterUpMs: number;
  /** ms to remove the run's containers and network. */
  readonly teardownMs: number;
}

export interface DockerRunOutput extends ProcessRunOutput {
  readonly stats: DockerRunStats;
}

export class DockerTestbedError extends Error {}

/** The /24 prefix ("10.x.y") of a run's network, from the switch's address. */
function prefixOf(addrs: Readonly<Record<NodeId, Addr>>): string {
  for (const a of Object.values(addrs)) {
    const m = /^(10\.\d+\.\d+)\.\d+:\d+$/.exec(a);
    if (m) return m[1]!;
  }
  throw new DockerTestbedError('docker: the plan\'s addresses were not assigned by the docker testbed');
}

const ipOf = (a: Addr): string => a.slice(0, a.lastIndexOf(':'));

/** The pieces of a running cluster: its network, a container per node, an agent client per container. */
export interface DockerCluster {
  readonly runId: string;
  /** The network the nodes' traffic crosses (their addresses are on it). */
  readonly network: string;
  /** With `control`: the network the harness reaches the agents on, apart from `network`. */
  readonly controlNetwork?: string;
  /** Node id → its address on `network`. */
  readonly ips: ReadonlyMap<NodeId, string>;
  /** Node id → container name (the switch is node `switch`). */
  readonly containers: ReadonlyMap<NodeId, string>;
  readonly agents: ReadonlyMap<NodeId, AgentClient>;
  readonly secret: string;
}

export interface ClusterNode {
  readonly id: NodeId;
  readonly ip: string;
  /** The roles its agent may run (`switch` for the switch). */
  readonly roles: readonly string[];
}

/**
 * The /24 of a cluster's control network for data prefix `10.A.B` (A in 128–191): `10.(A+64).B`,
 * so the two never overlap for prefixes the testbed draws.
 */
export function controlPrefix(prefix: string): string {
  const [ten, a, b] = prefix.split('.');
  return `${ten}.${(Number(a) + 64) % 256}.${b}`;
}

export interface ClusterOptions {
  readonly timeoutMs?: number;
  /**
   * Put the agents on a control network of their own (`controlPrefix`), apart from the data network
   * the nodes use: a node's data link can then be cut (`docker network disconnect`) while the
   * harness still talks to its agent. Without it (a lab stand-in), one network carries both.
   */
  readonly control?: boolean;
}

/**
 * Creates a labelled network with subnet `prefix.0/24` and one container per node (static IPs),
 * each running an agent, through testcontainers; waits until every agent answers. With `control`,
 * containers start on a control network and join the data network afterwards.
 */
export async function startCluster(prefix: string, nodes: readonly ClusterNode[], o: ClusterOptions = {}): Promise<DockerCluster> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  // testcontainers reads these at import: its reaper (Ryuk) cannot be pulled here; we reap by label.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const { GenericContainer, Wait } = await import('testcontainers');
  const image = await ensureNodeImage();
  const runId = randomBytes(6).toString('hex');
  const network = `protocheck-${runId}`;
  const labels = runLabels(runId);
  const createNetwork = (name: string, subnet: string) => docker([
    'network', 'create', '--driver', 'bridge', '--subnet', subnet,
    ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), name,
  ]);
  const controlNetwork = o.control ? `${network}-ctl` : undefined;
  const ctl = controlPrefix(prefix);
  const controlIp = (dataIp: string): string => `${ctl}.${dataIp.split('.')[3]}`;
  try {
    await createNetwork(network, `${prefix}.0/24`);
    if (controlNetwork) await createNetwork(controlNetwork, `${ctl}.0/24`);
  } catch (err) {
    await reapRun(runId).catch(() => {});
    throw new DockerTestbedError(`docker: cannot create the run's networks: ${(err as Error).message}`);
  }
  const secret = randomBytes(24).toString('hex');
  const containers = new Map<NodeId, string>();
  try {
    await Promise.all(nodes.map(async (n) => {
      const name = `${network}-${n.id}`;
      const first = controlNetwork ?? network;
      const c = new GenericContainer(image)
        .withName(name)
        .withNetworkMode(first)
        .withLabels(labels)
        .withEnvironment({ [SECRET_ENV]: secret })
        .withCommand(['agent', '--listen', `0.0.0.0:${AGENT_PORT}`, '--roles-allowed', n.roles.join(',')])
        .withWaitStrategy(Wait.forLogMessage(/"agent":"listening"/))
        .withStartupTimeout(timeoutMs);
      // A static address on the run's network (testcontainers has no option for it).
      (c as unknown as { createOpts: Record<string, unknown> }).createOpts.NetworkingConfig = {
        EndpointsConfig: { [first]: { IPAMConfig: { IPv4Address: controlNetwork ? controlIp(n.ip) : n.ip } } },
      };
      containers.set(n.id, name);
      await c.start();
      if (controlNetwork) await docker(['network', 'connect', '--ip', n.ip, network, name]);
    }));
  } catch (err) {
    await reapRun(runId).catch(() => {});
    throw new DockerTestbedError(`docker: cannot start the cluster: ${(err as Error).message}`);
  }
  const agents = new Map<NodeId, AgentClient>(nodes.map((n) => [
    n.id, new AgentClient(`http://${controlNetwork ? controlIp(n.ip) : n.ip}:${AGENT_PORT}`, secret, 10_000),
  ]));
  return {
    runId, network, ...(controlNetwork ? { controlNetwork } : {}), ips: new Map(nodes.map((n) => [n.id, n.ip])),
    containers, agents, secret,
  };
}

export class DockerTestbed implements Testbed {
  readonly name = 'docker';
  private readonly live = new Set<string>();

  constructor(private readonly opts: DockerOptions = {}) {}

  assignAddresses(nodes: readonly { id: NodeId; placement: 'host' | 'switch'; port: number }[]): Record<NodeId, Addr> {
    const prefix = `10.${128 + Math.floor(Math.random() * 64)}.${Math.floor(Math.random() * 256)}`;
    const out: Record<NodeId, Addr> = {};
    let i = 0;
    for (const n of nodes) out[n.id] = n.placement === 'switch' ? `${prefix}.2:${n.port}` : `${prefix}.${10 + i++}:${n.port}`;
    if (i > 240) throw new DockerTestbedError(`docker: ${i} host nodes do not fit in a /24`);
    return out;
  }

  async run(plan: RunPlan, observe?: (event: TraceEvent) => void): Promise<DockerRunOutput> {
    await ensureEngine();
    await reapOrphans();
    const prefix = prefixOf(plan.addrs);
    const switchIp = `${prefix}.2`;
    const hosts = plan.nodes.filter((n) => n.placement === 'host');
    const t0 = performance.now();
    const cluster = await startCluster(prefix, [
      { id: SWITCH_NODE, ip: switchIp, roles: ['switch'] },
      ...hosts.map((n) => ({ id: n.id, ip: ipOf(n.addr), roles: [n.role] })),
    ], { control: true, ...(this.opts.readyTimeoutMs === undefined ? {} : { timeoutMs: this.opts.readyTimeoutMs }) });
    this.live.add(cluster.runId);
    try {
      // Containers share the host kernel's monotonic clock: the offset is 0, not a noisy estimate.
      const base = await AgentLauncher.connect('docker', cluster.agents, { sameClock: true });
      const pause = async (id: NodeId, verb: 'pause' | 'unpause'): Promise<boolean> => {
        const name = cluster.containers.get(id);
        return name !== undefined && (await dockerSettled([verb, name])).ok;
      };
      // A cut link: the container leaves the data network (its agent stays reachable on the
      // control network) and joins it again with the same address.
      const link = async (id: NodeId, on: boolean): Promise<boolean> => {
        const name = cluster.containers.get(id);
        const ip = cluster.ips.get(id);
        if (name === undefined || ip === undefined) return false;
        const args = on ? ['network', 'connect', '--ip', ip, cluster.network, name] : ['network', 'disconnect', cluster.network, name];
        return (await dockerSettled(args)).ok;
      };
      const launcher = Object.assign(base, {
        freeze: (id: NodeId, _p: LaunchedProcess) => pause(id, 'pause'),
        thaw: (id: NodeId, _p: LaunchedProcess) => pause(id, 'unpause'),
        disconnect: (id: NodeId) => link(id, false),
        reconnect: (id: NodeId) => link(id, true),
      });
      const clusterUpMs = performance.now() - t0;
      const run = new ProcessRun(launcher, {
        switchAddr: `${switchIp}:${SWITCH_PORT}`,
        readyTimeoutMs: this.opts.readyTimeoutMs ?? 60_000,
        stopGraceMs: this.opts.stopGraceMs ?? 2000,
      }, plan, observe);
      let out: ProcessRunOutput;
      try {
        out = await run.execute();
      } finally {
        run.killAll();
      }
      const t1 = performance.now();
      await this.teardown(cluster.runId);
      const t2 = performance.now();
      // wallMs covers the whole run: cluster bring-up, the run, teardown.
      return { ...out, wallMs: t2 - t0, stats: { ...out.stats, clusterUpMs, teardownMs: t2 - t1 } };
    } finally {
      await this.teardown(cluster.runId);
    }
  }

  private async teardown(runId: string): Promise<void> {
    if (!this.live.delete(runId)) return;
    await reapRun(runId);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.live].map((id) => this.teardown(id)));
  }
}
