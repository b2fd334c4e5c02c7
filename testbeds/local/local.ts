/**
 * The `local` testbed: one OS process per host node and one switch process, real UDP on
 * 127.0.0.x (Linux routes all of 127/8 to `lo`), real timers.
 *
 * ## Addresses
 *
 * Per run (each `assignAddresses` call) one port P is drawn from [20000, 32000) (below the
 * kernel's ephemeral range, and not reused by this harness process), so concurrent runs on one
 * host do not collide. The switch listens on 127.0.0.2:P, switch programs get 127.0.0.3…9:P (they
 * need no socket: their traffic is tunnelled to the switch), host i gets 127.0.0.(10+i):P. A
 * node's planned port is not used: addresses are opaque to the cores.
 *
 * ## A run
 *
 * 1. Spawn, in parallel (tsx start-up costs ~0.5–1 s of CPU per process): the switch
 *    (`protocheck switch`), one `protocheck node` per host, and a standby process for every host
 *    restart of the schedule (`--incarnation k --late-bind`: it binds its socket when told, right
 *    after the crash it follows, discards what arrives before its restart time, and feeds `start`
 *    at that time: a restart is on time although a process takes ~1 s to start).
 * 2. Wait for every `{"ready":true}` status line (stderr), then pick the origin: the monotonic clock
 *    (`process.hrtime.bigint()`, shared by all processes of the host) 100 ms ahead, and send it to
 *    every process (`{"origin":"<ns>","startAt":µs}`). Each process feeds `start` at its time.
 * 3. Send the switch its commands (links, partitions, program crashes…) and every host its workload
 *    commands up front, each with its time (`{"command":…, "at":µs}`): the processes schedule them
 *    on their own timers, which is more precise than the harness's event loop. A workload command
 *    goes to the incarnation of the node that is up at its time (equal times: faults first, as in
 *    `sim`); one for a node that is down then is dropped with a note.
 * 4. Host faults run on the harness's timers: crash = SIGKILL (and `hostDown` to the switch, which
 *    then annotates packets to it as `NetDrop` reason `host-down`), restart = the standby starts
 *    (`hostUp` once it reports `started`), pause = SIGSTOP, resume = SIGCONT. The harness annotates
 *    `HostCrash {reason: 'fault'}`, `HostPause`, `HostResume` (node = the host); the restarted process
 *    itself emits `HostRestart` just before its `start`. Semantics follow `sim`: a crash of a down
 *    node or a restart of an up node is ignored with a note; nested pauses need as many resumes;
 *    a crash ends a pause.
 * 5. At `scenario.duration` (every process also ignores inputs after it, `--until`), paused
 *    processes are continued, every process gets `{"stop":true}`, and whatever is still alive after
 *    a grace period is SIGKILLed. A line cut short by a kill is dropped (with a note).
 * 6. The trace is every process's stdout (and the harness's annotations) merged by `t`
 *    (`mergeTraces`). `observe` gets events online, in final-trace order, as the watermark (harness
 *    clock − 150 ms, held back at the start of any pause) passes them (see `merge.ts`).
 *
 * Errors: a process that fails to become ready makes `run` throw (every process is killed first);
 * a process that dies on its own later, `note`s and `fatal`s of processes, and stderr tails go to
 * `notes`. No orphans: processes are killed on error, on `close()` and when the harness exits
 * (`reaper.ts`).
 *
 * The run itself is `ProcessRun` (testbeds/process/run.ts) with a `ChildLauncher`: the docker and
 * hardware testbeds run the same protocol through agents.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Addr, NodeId } from '../../impl/core.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';
import type { RunPlan, Testbed } from '../testbed.ts';
import { ChildLauncher } from '../process/launcher.ts';
import { ProcessRun, SWITCH_NODE, type ProcessRunOptions, type ProcessRunOutput } from '../process/run.ts';

export { SWITCH_NODE };

export interface LocalOptions extends Omit<ProcessRunOptions, 'switchAddr'> {
  /** Repository root (holding `bin/protocheck.mjs`); default: two levels above this file. */
  readonly root?: string;
  /** A module exporting extra `roles`, passed to every process as `--roles` (toy protocols, tests). */
  readonly roleModule?: string;
  /** Fixed port for every address instead of a random per-run one. */
  readonly port?: number;
}

const usedPorts = new Set<number>();

function pickPort(): number {
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    if (!usedPorts.has(p)) {
      usedPorts.add(p);
      return p;
    }
  }
}

function hostIp(i: number): string {
  if (i < 245) return `127.0.0.${10 + i}`;
  const k = i - 245;
  return `127.1.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}

function programIp(j: number): string {
  if (j < 7) return `127.0.0.${3 + j}`;
  const k = j - 7;
  return `127.2.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}

function portOf(a: Addr): number | undefined {
  const m = /:(\d+)$/.exec(a);
  return m ? Number(m[1]) : undefined;
}

export class LocalTestbed implements Testbed {
  readonly name = 'local';
  private readonly opts: LocalOptions;
  private readonly launcher: ChildLauncher;
  private readonly runs = new Set<ProcessRun>();

  constructor(opts: LocalOptions = {}) {
    this.opts = opts;
    const root = opts.root ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    this.launcher = new ChildLauncher(root, opts.roleModule);
  }

  assignAddresses(nodes: readonly { id: NodeId; placement: 'host' | 'switch'; port: number }[]): Record<NodeId, Addr> {
    const port = this.opts.port ?? pickPort();
    const out: Record<NodeId, Addr> = {};
    let i = 0;
    let j = 0;
    for (const n of nodes) out[n.id] = n.placement === 'switch' ? `${programIp(j++)}:${port}` : `${hostIp(i++)}:${port}`;
    return out;
  }

  async run(plan: RunPlan, observe?: (event: TraceEvent) => void): Promise<ProcessRunOutput> {
    const ports = Object.values(plan.addrs).map(portOf).filter((p): p is number => p !== undefined);
    const port = ports[0] ?? this.opts.port ?? pickPort();
    let switchAddr = `127.0.0.2:${port}`;
    if (Object.values(plan.addrs).includes(switchAddr)) switchAddr = `127.0.0.1:${port}`;
    const run = new ProcessRun(this.launcher, { ...this.opts, switchAddr }, plan, observe);
    this.runs.add(run);
    try {
      return await run.execute();
    } finally {
      run.killAll();
      this.runs.delete(run);
    }
  }

  async close(): Promise<void> {
    const runs = [...this.runs];
    for (const r of runs) r.killAll();
    await Promise.all(runs.map((r) => r.allClosed()));
  }
}
