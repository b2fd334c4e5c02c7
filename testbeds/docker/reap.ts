/**
 * Reaping by label. Every container and network protocheck creates carries the labels
 * `protocheck=1` and `protocheck.run=<runId>`; these functions list and remove them (containers
 * first, since a network with endpoints cannot be removed). An object that vanishes between listing
 * and removal (another reaper, `--rm`) is not an error.
 */
import { DockerError, docker, dockerSettled } from './cli.ts';

export const LABEL = 'protocheck';
export const RUN_LABEL = 'protocheck.run';
/** The pid of the harness process that owns the run (objects of a dead owner are orphans). */
export const OWNER_LABEL = 'protocheck.owner';

/** The labels (`--label` values) of an object created for run `runId` by this process. */
export function runLabels(runId: string): Record<string, string> {
  return { [LABEL]: '1', [RUN_LABEL]: runId, [OWNER_LABEL]: String(process.pid) };
}

/** `runLabels` as docker CLI arguments: `--label protocheck=1 --label protocheck.run=<runId>`. */
export function runLabelArgs(runId: string): string[] {
  return Object.entries(runLabels(runId)).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
}

export interface LabelledContainer {
  readonly id: string;
  readonly name: string;
  readonly runId: string | undefined;
  readonly owner: number | undefined;
  readonly state: string;
  /** Creation time, ms since the epoch. */
  readonly created: number;
}

export interface LabelledNetwork {
  readonly id: string;
  readonly name: string;
  readonly runId: string | undefined;
  readonly owner: number | undefined;
  readonly created: number;
}

export interface Labelled {
  readonly containers: readonly LabelledContainer[];
  readonly networks: readonly LabelledNetwork[];
}

export interface ReapResult {
  readonly containers: number;
  readonly networks: number;
  readonly containerNames: readonly string[];
  readonly networkNames: readonly string[];
}

export interface ReapAllOptions {
  /** Only objects created at least this many ms ago. */
  readonly olderThanMs?: number;
  /** Leave these runs' objects alone. */
  readonly exceptRunIds?: readonly string[];
}

const GONE = /no such (container|network|object)|not found|is already in progress/i;
/** The docker CLI's own closing line after daemon errors (`exit status 1`): not a message of its own. */
const NOISE = /^exit status \d+$/;

function labelFilters(runId?: string): string[] {
  return ['--filter', `label=${LABEL}=1`, ...(runId === undefined ? [] : ['--filter', `label=${RUN_LABEL}=${runId}`])];
}

/** True when every stderr line of a failed command is an "already gone" message. */
function onlyGone(stderr: string): boolean {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !NOISE.test(l));
  return lines.length > 0 && lines.every((l) => GONE.test(l));
}

/** `docker <kind> inspect` of ids, skipping those that vanished since they were listed. */
async function inspect(kind: 'container' | 'network', ids: readonly string[]): Promise<Record<string, unknown>[]> {
  if (!ids.length) return [];
  const r = await dockerSettled([kind, 'inspect', ...ids]);
  if (!r.ok && !onlyGone(r.stderr)) throw r.error;
  const text = r.stdout.trim();
  if (!text) return [];
  try {
    return JSON.parse(text) as Record<string, unknown>[];
  } catch {
    throw new DockerError(`docker ${kind} inspect …`, r.stderr, null, `docker ${kind} inspect printed no JSON: ${text.slice(0, 200)}`);
  }
}

function ids(stdout: string): string[] {
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

function time(v: unknown): number {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : 0;
}

/** Containers and networks labelled `protocheck=1` (and `protocheck.run=<runId>` when given). */
export async function listLabelled(runId?: string): Promise<Labelled> {
  const [c, n] = await Promise.all([
    docker(['ps', '-a', '-q', '--no-trunc', ...labelFilters(runId)]),
    docker(['network', 'ls', '-q', '--no-trunc', ...labelFilters(runId)]),
  ]);
  const [ci, ni] = await Promise.all([inspect('container', ids(c.stdout)), inspect('network', ids(n.stdout))]);
  const containers = ci.map((x): LabelledContainer => {
    const config = (x.Config ?? {}) as { Labels?: Record<string, string> };
    const state = (x.State ?? {}) as { Status?: string };
    return {
      id: String(x.Id),
      name: String(x.Name ?? '').replace(/^\//, ''),
      runId: config.Labels?.[RUN_LABEL],
      owner: ownerOf(config.Labels),
      state: state.Status ?? 'unknown',
      created: time(x.Created),
    };
  });
  const networks = ni.map((x): LabelledNetwork => ({
    id: String(x.Id),
    name: String(x.Name ?? ''),
    runId: (x.Labels as Record<string, string> | null | undefined)?.[RUN_LABEL],
    owner: ownerOf(x.Labels as Record<string, string> | null | undefined),
    created: time(x.Created),
  }));
  return { containers, networks };
}

/**
 * Removes containers (force) then networks; returns the names of those this call removed. A
 * failure other than "already gone" is a `DockerError`.
 */
async function removeAll(containers: readonly { id: string; name: string }[], networks: readonly { id: string; name: string }[]): Promise<ReapResult> {
  const containerNames = await remove(['rm', '-f', '-v'], containers);
  const networkNames = await remove(['network', 'rm'], networks);
  return { containers: containerNames.length, networks: networkNames.length, containerNames, networkNames };
}

/** How long a network that still has endpoints is retried (a container of it being removed concurrently). */
const ENDPOINT_RETRY_MS = 10_000;
const BUSY = /active endpoints/i;

async function remove(cmd: readonly string[], objs: readonly { id: string; name: string }[]): Promise<string[]> {
  const removedNames: string[] = [];
  let pending = [...objs];
  const deadline = Date.now() + ENDPOINT_RETRY_MS;
  while (pending.length) {
    const r = await dockerSettled([...cmd, ...pending.map((o) => o.id)], { timeoutMs: 180_000 });
    const removed = new Set(ids(r.stdout));
    removedNames.push(...pending.filter((o) => removed.has(o.id) || removed.has(o.name)).map((o) => o.name));
    if (r.ok) break;
    const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !NOISE.test(l));
    const busy = lines.filter((l) => BUSY.test(l));
    const bad = lines.filter((l) => !GONE.test(l) && !BUSY.test(l));
    if (busy.length && Date.now() > deadline && cmd[0] === 'network') {
      const stuck = pending.filter((o) => busy.some((l) => l.includes(o.id) || l.includes(o.name)));
      if (!bad.length && (await Promise.all(stuck.map((o) => attachedCount(o.id)))).every((n) => n === 0)) {
        // dockerd keeps an endpoint no container holds (it can lose one when a connect races a
        // container's removal) and only a restart of the engine clears it. The network is empty
        // and labelled, so it harms no later run: leave it, and say so.
        process.emitWarning(`docker: network(s) ${stuck.map((o) => o.name).join(', ')} left behind: the engine reports ` +
          'an endpoint no container holds; `protocheck clean` after an engine restart removes them');
        break;
      }
    }
    if (bad.length || (busy.length && Date.now() > deadline)) throw new DockerError(r.error.command, r.stderr, r.error.exitCode);
    if (!busy.length) break;
    pending = pending.filter((o) => !removed.has(o.id) && !removed.has(o.name) && busy.some((l) => l.includes(o.id) || l.includes(o.name)));
    if (!pending.length) throw new DockerError(r.error.command, r.stderr, r.error.exitCode);
    // A network whose containers are gone can keep a stale endpoint (a connect or disconnect that
    // raced the removal): force the endpoints off it before trying again.
    if (cmd[0] === 'network') await Promise.all(pending.map((o) => forceDisconnectAll(o.id)));
    await new Promise((res) => setTimeout(res, 200));
  }
  return removedNames;
}

/** How many containers the network lists as attached (-1 when it cannot be inspected). */
async function attachedCount(network: string): Promise<number> {
  const r = await dockerSettled(['network', 'inspect', '-f', '{{len .Containers}}', network]);
  return r.ok ? Number(r.stdout.trim()) : -1;
}

/** `docker network disconnect -f` of every endpoint the network still lists; failures are left to the retry. */
async function forceDisconnectAll(network: string): Promise<void> {
  const r = await dockerSettled(['network', 'inspect', '-f', '{{range $k, $v := .Containers}}{{$v.Name}} {{end}}', network]);
  if (!r.ok) return;
  const names = r.stdout.split(/\s+/).filter((x) => x !== '');
  await Promise.all(names.map((n) => dockerSettled(['network', 'disconnect', '-f', network, n])));
}

/** Removes one run's containers and networks. */
export async function reapRun(runId: string): Promise<ReapResult> {
  const l = await listLabelled(runId);
  return removeAll(l.containers, l.networks);
}

/** Removes every container and network labelled `protocheck=1`, less those the options spare. */
export async function reapAll(o: ReapAllOptions = {}): Promise<ReapResult> {
  const l = await listLabelled();
  const now = Date.now();
  const except = new Set(o.exceptRunIds ?? []);
  const keep = (x: { runId: string | undefined; created: number }): boolean =>
    (x.runId !== undefined && except.has(x.runId)) || (o.olderThanMs !== undefined && now - x.created < o.olderThanMs);
  return removeAll(l.containers.filter((x) => !keep(x)), l.networks.filter((x) => !keep(x)));
}

function ownerOf(labels: Record<string, string> | null | undefined): number | undefined {
  const v = Number(labels?.[OWNER_LABEL]);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

/** Whether process `pid` exists on this host (EPERM: it does, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what runs of harness processes that are gone left behind (a harness killed with SIGKILL
 * cannot clean up): objects whose owner pid is not alive on this host, and objects without an
 * owner label older than `olderThanMs` (default 10 min). Live runs of other harnesses are spared.
 */
export async function reapOrphans(olderThanMs = 600_000): Promise<ReapResult> {
  const l = await listLabelled();
  const now = Date.now();
  const orphan = (x: { owner: number | undefined; created: number }): boolean =>
    x.owner !== undefined ? x.owner !== process.pid && !pidAlive(x.owner) : now - x.created >= olderThanMs;
  return removeAll(l.containers.filter(orphan), l.networks.filter(orphan));
}
