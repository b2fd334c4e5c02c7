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
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Addr, Micros, NodeId } from '../../impl/core.ts';
import type { Json } from '../../harness/protocol.ts';
import type { TraceBody, TraceEvent } from '../../harness/trace/schema.ts';
import { canonical } from '../../harness/trace/schema.ts';
import { faultTimeline, workloadTimeline, type TimelineEntry } from '../faults.ts';
import type { RunOutput, RunPlan, Testbed } from '../testbed.ts';
import { LineSplitter } from './control.ts';
import { StreamMerger } from './merge.ts';
import { killChild, track } from './reaper.ts';

export const SWITCH_NODE = 'switch';

export interface LocalOptions {
  /** Repository root (holding `bin/protocheck.mjs`); default: two levels above this file. */
  readonly root?: string;
  /** A module exporting extra `roles`, passed to every process as `--roles` (toy protocols, tests). */
  readonly roleModule?: string;
  /** How long the processes may take to report ready (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** How far ahead of "all ready" the origin is set (default 100 ms). */
  readonly originLeadMs?: number;
  /** After `stop`, how long a process may take to exit before SIGKILL (default 1500 ms). */
  readonly stopGraceMs?: number;
  /** Online release lag of the merged trace (default 150 ms). */
  readonly streamLagMs?: number;
  /** Fixed port for every address instead of a random per-run one. */
  readonly port?: number;
}

export interface LocalStats {
  readonly packets: number;
  readonly events: number;
  /** ms from the first spawn until every process reported ready. */
  readonly startupMs: number;
}

export interface LocalRunOutput extends RunOutput {
  readonly stats: LocalStats;
}

export class LocalTestbedError extends Error {}

const MAX_NOTES = 200;
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

interface Proc {
  readonly id: NodeId;
  readonly incarnation: number;
  readonly child: ChildProcess;
  readonly part: number;
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;
  readonly stderrTail: string[];
  killedByUs: boolean;
  stopRequested: boolean;
  pauseDepth: number;
  pausedAtT: number | undefined;
  startedT: number | undefined;
  stats: { sent?: number; events?: number } | undefined;
  onStarted?: (t: number) => void;
}

/** One incarnation of a host node: alive from `startAt` until `crashAt`. */
interface Incarnation {
  readonly k: number;
  readonly startAt: Micros;
  crashAt: Micros;
  proc?: Proc;
}

interface HostAction {
  readonly at: Micros;
  readonly node: NodeId;
  readonly k: number;
  readonly action: 'crash' | 'restart' | 'pause' | 'resume';
}

export class LocalTestbed implements Testbed {
  readonly name = 'local';
  private readonly opts: LocalOptions;
  private readonly root: string;
  private readonly runs = new Set<LocalRun>();

  constructor(opts: LocalOptions = {}) {
    this.opts = opts;
    this.root = opts.root ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  }

  assignAddresses(nodes: readonly { id: NodeId; placement: 'host' | 'switch'; port: number }[]): Record<NodeId, Addr> {
    const port = this.opts.port ?? pickPort();
    const out: Record<NodeId, Addr> = {};
    let i = 0;
    let j = 0;
    for (const n of nodes) out[n.id] = n.placement === 'switch' ? `${programIp(j++)}:${port}` : `${hostIp(i++)}:${port}`;
    return out;
  }

  async run(plan: RunPlan, observe?: (event: TraceEvent) => void): Promise<LocalRunOutput> {
    const run = new LocalRun(this.root, this.opts, plan, observe);
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

class LocalRun {
  private readonly notes: string[] = [];
  private suppressed = 0;
  private readonly merger: StreamMerger;
  private readonly harnessPart: number;
  private readonly procs: Proc[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private origin: bigint | undefined;
  private switchProc: Proc | undefined;
  private readonly incarnations = new Map<NodeId, Incarnation[]>();
  private readonly switchAddr: Addr;
  private readonly duration: Micros;
  private observeFailed = false;

  constructor(
    private readonly root: string,
    private readonly opts: LocalOptions,
    private readonly plan: RunPlan,
    observe?: (event: TraceEvent) => void,
  ) {
    this.merger = new StreamMerger(
      observe &&
        ((e) => {
          if (this.observeFailed) return;
          try {
            observe(e);
          } catch (err) {
            this.observeFailed = true;
            this.note(`local: observe threw (${(err as Error).message}); online observation stopped`);
          }
        }),
    );
    this.harnessPart = this.merger.addPart();
    const d = plan.scenario.duration;
    this.duration = typeof d === 'number' && Number.isFinite(d) && d > 0 ? d : 0;
    const ports = Object.values(plan.addrs).map(portOf).filter((p): p is number => p !== undefined);
    const port = ports[0] ?? this.opts.port ?? pickPort();
    let sw = `127.0.0.2:${port}`;
    if (Object.values(plan.addrs).includes(sw)) sw = `127.0.0.1:${port}`;
    this.switchAddr = sw;
  }

  note(m: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(m);
    else if (this.suppressed++ === 0) this.notes.push('local: further notes suppressed');
  }

  clockUs(): number {
    if (this.origin === undefined) return Number.NEGATIVE_INFINITY;
    return Number(process.hrtime.bigint() - this.origin) / 1000;
  }

  killAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of this.procs) {
      p.killedByUs = true;
      killChild(p.child);
    }
  }

  async allClosed(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.closed));
  }

  private emit(node: NodeId, body: TraceBody, t: number): void {
    this.merger.push(this.harnessPart, canonical({ ...body, t, node } as TraceEvent));
  }

  private later(atUs: Micros, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, Math.max(0, (atUs - this.clockUs()) / 1000));
    this.timers.add(t);
  }

  // ---------------------------------------------------------------- processes

  private spawnProc(id: NodeId, incarnation: number, args: string[]): Proc {
    const bin = resolve(this.root, 'bin', 'protocheck.mjs');
    const extra = this.opts.roleModule ? ['--roles', this.opts.roleModule] : [];
    const child = spawn(process.execPath, [bin, ...args, ...extra], { cwd: this.root, stdio: ['pipe', 'pipe', 'pipe'] });
    track(child);
    const part = this.merger.addPart();
    const stderrTail: string[] = [];
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => {});
    let isReady = false;
    const label = incarnation === 0 ? id : `${id}#${incarnation}`;
    const proc: Proc = {
      id, incarnation, child, part, ready,
      closed: new Promise<void>((res) => child.once('close', () => res())),
      stderrTail, killedByUs: false, stopRequested: false, pauseDepth: 0, pausedAtT: undefined,
      startedT: undefined, stats: undefined,
    };
    child.stdin!.on('error', () => {}); // EPIPE after the process died: nothing to do
    const out = new LineSplitter();
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      for (const line of out.push(chunk)) this.onTraceLine(proc, line);
    });
    child.stdout!.on('end', () => {
      if (out.partial.trim()) this.note(`${label}: dropped a partial trace line cut by the process's end: ${out.partial.slice(0, 120)}`);
    });
    const err = new LineSplitter();
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      for (const line of err.push(chunk)) {
        if (!line.trim()) continue;
        let s: Record<string, unknown> | undefined;
        if (line.startsWith('{')) {
          try {
            s = JSON.parse(line) as Record<string, unknown>;
          } catch {
            s = undefined;
          }
        }
        if (!s) {
          stderrTail.push(line);
          if (stderrTail.length > 30) stderrTail.shift();
        } else if (s.ready === true) {
          isReady = true;
          readyResolve();
        } else if (s.started === true && typeof s.t === 'number') {
          proc.startedT = s.t;
          proc.onStarted?.(s.t);
        } else if (typeof s.note === 'string') {
          this.note(`${label}: ${s.note}`);
        } else if (typeof s.fatal === 'string') {
          stderrTail.push(s.fatal);
          this.note(`${label}: fatal: ${s.fatal}`);
        } else if (s.stopped === true) {
          proc.stats = s.stats as Proc['stats'];
        }
      }
    });
    child.once('error', (e) => readyReject(new Error(`${label}: cannot spawn: ${e.message}`)));
    child.once('exit', (code, signal) => {
      if (!isReady) {
        readyReject(new Error(`${label} exited (${signal ?? `code ${code}`}) before it was ready${tail(stderrTail)}`));
      } else if (!proc.killedByUs && !(proc.stopRequested && code === 0)) {
        this.note(`${label} exited on its own (${signal ?? `code ${code}`}) at t=${fmt(this.clockUs())}${tail(stderrTail)}`);
      }
    });
    this.procs.push(proc);
    return proc;
  }

  private onTraceLine(proc: Proc, line: string): void {
    if (!line.trim()) return;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      this.note(`${proc.id}: stdout line is not JSON; ignored: ${line.slice(0, 120)}`);
      return;
    }
    const ev = e as TraceEvent;
    if (typeof e !== 'object' || e === null || typeof ev.t !== 'number' || typeof ev.node !== 'string' || typeof ev.action !== 'string') {
      this.note(`${proc.id}: stdout line is not a trace event; ignored: ${line.slice(0, 120)}`);
      return;
    }
    this.merger.push(proc.part, ev);
    if (ev.action === 'HostCrash' && proc.id !== SWITCH_NODE && ev.node === proc.id) {
      // The core threw and is treated as crashed: packets to it are host-down from now on.
      const addr = this.plan.addrs[proc.id];
      if (addr !== undefined && this.switchProc) this.send(this.switchProc, { hostDown: addr });
    }
  }

  private send(p: Proc, line: Record<string, Json>): void {
    if (p.child.exitCode !== null || p.child.signalCode !== null || !p.child.stdin!.writable) return;
    p.child.stdin!.write(JSON.stringify(line) + '\n');
  }

  private signal(p: Proc, sig: NodeJS.Signals): boolean {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return false;
    try {
      return p.child.kill(sig);
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- the run

  async execute(): Promise<LocalRunOutput> {
    const wall0 = performance.now();
    const { plan } = this;
    const sc = plan.scenario;
    const seed = String(sc.seed ?? 0);
    const bugs = (sc.bugs ?? []).join(',');
    const until = String(this.duration);
    const hosts = plan.nodes.filter((n) => n.placement === 'host');
    const programs = plan.nodes.filter((n) => n.placement === 'switch');
    const hostIds = new Set(hosts.map((n) => n.id));

    const timelineNotes: string[] = [];
    const timeline = faultTimeline(sc, plan.addrs, plan.nodes, timelineNotes).filter((e) => e.at <= this.duration);
    for (const n of timelineNotes) this.note(n);
    for (const n of hosts) this.incarnations.set(n.id, [{ k: 0, startAt: 0, crashAt: Number.POSITIVE_INFINITY }]);
    const actions = this.planHostFaults(timeline, hostIds);

    // 1. spawn everything
    const nodeOf: Record<Addr, NodeId> = {};
    for (const n of hosts) nodeOf[n.addr] = n.id;
    const switchConfig: Json = {
      node: SWITCH_NODE,
      link: sc.network as unknown as Json,
      nodeOf,
      programs: programs.map((p) => ({ id: p.id, role: p.role, addr: p.addr, config: p.config })),
      seed: sc.seed ?? 0,
      bugs: [...(sc.bugs ?? [])],
    };
    const t0 = performance.now();
    this.switchProc = this.spawnProc(SWITCH_NODE, 0, [
      'switch', '--listen', this.switchAddr, '--config', JSON.stringify(switchConfig), '--until', until,
    ]);
    for (const n of hosts) {
      for (const inc of this.incarnations.get(n.id)!) {
        const args = [
          'node', n.role, '--id', n.id, '--listen', n.addr, '--switch', this.switchAddr,
          '--config', JSON.stringify(n.config), '--seed', seed, '--until', until,
          ...(bugs ? ['--bugs', bugs] : []),
          ...(inc.k > 0 ? ['--incarnation', String(inc.k), '--late-bind'] : []),
        ];
        inc.proc = this.spawnProc(n.id, inc.k, args);
      }
    }

    // 2. ready, then the origin
    const timeoutMs = this.opts.readyTimeoutMs ?? 30_000;
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(this.procs.map((p) => p.ready)),
        new Promise<never>((_, rej) => {
          timeout = setTimeout(() => rej(new Error(`processes not ready after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      this.killAll();
      await this.allClosed();
      const detail = this.procs.map((p) => `${p.id}#${p.incarnation}${tail(p.stderrTail)}`).join('\n');
      throw new LocalTestbedError(`local: startup failed: ${(err as Error).message}\n${this.notes.join('\n')}\n${detail}`);
    } finally {
      clearTimeout(timeout);
    }
    const startupMs = performance.now() - t0;
    const origin = process.hrtime.bigint() + BigInt(Math.round((this.opts.originLeadMs ?? 100) * 1e6));
    this.origin = origin;
    const o = origin.toString();
    this.send(this.switchProc, { origin: o });
    for (const incs of this.incarnations.values()) {
      for (const inc of incs) this.send(inc.proc!, { origin: o, startAt: inc.startAt });
    }

    // 3. commands up front
    for (const e of timeline) if (e.target === 'switch') this.send(this.switchProc, { command: e.command as unknown as Json, at: e.at });
    for (const w of workloadTimeline(sc)) {
      if (!hostIds.has(w.node)) {
        this.note(`local: workload command at ${w.at} to ${w.node}, which is not a host node; dropped`);
        continue;
      }
      const inc = this.incarnations.get(w.node)!.find((i) => i.startAt <= w.at && w.at < i.crashAt);
      if (!inc) {
        this.note(`local: workload command at ${w.at} to ${w.node}, which is down then; dropped`);
        continue;
      }
      this.send(inc.proc!, { command: w.command as Json, at: w.at });
    }

    // 4. host faults
    for (const a of actions) this.later(a.at, () => this.hostFault(a));

    // online release of the merged trace
    const lagUs = (this.opts.streamLagMs ?? 150) * 1000;
    const tick = setInterval(() => {
      let w = this.clockUs() - lagUs;
      for (const p of this.procs) if (p.pausedAtT !== undefined) w = Math.min(w, p.pausedAtT);
      this.merger.release(w);
    }, 25);

    // 5. stop at the end
    await new Promise<void>((res) => this.later(this.duration, res));
    clearInterval(tick);
    await this.stopAll();

    const trace = this.merger.finish();
    let packets = 0;
    for (const p of this.procs) if (p.id !== SWITCH_NODE) packets += p.stats?.sent ?? 0;
    return {
      trace,
      wallMs: performance.now() - wall0,
      notes: this.notes,
      stats: { packets, events: trace.length, startupMs },
    };
  }

  /** Walks the host entries of the timeline with `sim`'s semantics; fills `incarnations`. */
  private planHostFaults(timeline: readonly TimelineEntry[], hostIds: ReadonlySet<NodeId>): HostAction[] {
    const out: HostAction[] = [];
    const depth = new Map<NodeId, number>();
    for (const e of timeline) {
      if (e.target !== 'host') continue;
      if (!hostIds.has(e.node)) {
        this.note(`local: ${e.action} at ${e.at} of unknown host ${e.node}; ignored`);
        continue;
      }
      const incs = this.incarnations.get(e.node)!;
      const cur = incs[incs.length - 1]!;
      const up = cur.crashAt === Number.POSITIVE_INFINITY;
      const d = depth.get(e.node) ?? 0;
      switch (e.action) {
        case 'crash':
          if (!up) {
            this.note(`local: crash at ${e.at} of ${e.node}, which is down; ignored`);
            break;
          }
          cur.crashAt = e.at;
          depth.set(e.node, 0);
          out.push({ at: e.at, node: e.node, k: cur.k, action: 'crash' });
          break;
        case 'restart':
          if (up) {
            this.note(`local: restart at ${e.at} of ${e.node}, which is up; ignored`);
            break;
          }
          incs.push({ k: cur.k + 1, startAt: e.at, crashAt: Number.POSITIVE_INFINITY });
          out.push({ at: e.at, node: e.node, k: cur.k + 1, action: 'restart' });
          break;
        case 'pause':
          if (!up) break;
          depth.set(e.node, d + 1);
          if (d === 0) out.push({ at: e.at, node: e.node, k: cur.k, action: 'pause' });
          break;
        case 'resume':
          if (!up || d === 0) break;
          depth.set(e.node, d - 1);
          if (d === 1) out.push({ at: e.at, node: e.node, k: cur.k, action: 'resume' });
          break;
      }
    }
    return out;
  }

  private hostFault(a: HostAction): void {
    const inc = this.incarnations.get(a.node)!.find((i) => i.k === a.k);
    const p = inc?.proc;
    if (!p) return;
    const addr = this.plan.addrs[a.node]!;
    switch (a.action) {
      case 'crash': {
        p.killedByUs = true;
        if (!this.signal(p, 'SIGKILL')) this.note(`local: crash of ${a.node} at ${a.at}: its process was already gone`);
        p.pausedAtT = undefined;
        this.emit(a.node, { action: 'HostCrash', reason: 'fault' }, this.clockUs());
        this.send(this.switchProc!, { hostDown: addr });
        // The next incarnation may take the address now, so that it starts on time.
        const next = this.incarnations.get(a.node)!.find((i) => i.k === a.k + 1)?.proc;
        if (next) this.send(next, { bind: true });
        return;
      }
      case 'restart': {
        // The standby starts itself at its time; the switch learns it is up once it has.
        const up = (t: number): void => {
          this.send(this.switchProc!, { hostUp: addr });
          if (t - a.at > 10_000) this.note(`local: ${a.node} restarted ${fmt(t - a.at)} µs late (at t=${fmt(t)})`);
        };
        if (p.startedT !== undefined) up(p.startedT);
        else p.onStarted = up;
        return;
      }
      case 'pause': {
        if (!this.signal(p, 'SIGSTOP')) {
          this.note(`local: pause of ${a.node} at ${a.at}: its process is gone`);
          return;
        }
        const t = this.clockUs();
        p.pausedAtT = t;
        this.emit(a.node, { action: 'HostPause' }, t);
        return;
      }
      case 'resume': {
        const t = this.clockUs();
        this.emit(a.node, { action: 'HostResume' }, t);
        p.pausedAtT = undefined;
        if (!this.signal(p, 'SIGCONT')) this.note(`local: resume of ${a.node} at ${a.at}: its process is gone`);
        return;
      }
    }
  }

  private async stopAll(): Promise<void> {
    for (const p of this.procs) {
      if (p.pausedAtT !== undefined) {
        p.pausedAtT = undefined;
        this.signal(p, 'SIGCONT');
      }
      p.stopRequested = true;
      this.send(p, { stop: true });
      p.child.stdin!.end();
    }
    const grace = this.opts.stopGraceMs ?? 1500;
    let timer: NodeJS.Timeout | undefined;
    const all = this.allClosed();
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((res) => {
        timer = setTimeout(() => res(true), grace);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const p of this.procs) {
        if (p.child.exitCode === null && p.child.signalCode === null) {
          this.note(`local: ${p.id}#${p.incarnation} did not stop within ${grace} ms; killed`);
          p.killedByUs = true;
          killChild(p.child);
        }
      }
      await all;
    }
  }
}

function tail(lines: readonly string[]): string {
  return lines.length ? `:\n    ${lines.slice(-10).join('\n    ')}` : '';
}

function fmt(us: number): string {
  return Number.isFinite(us) ? String(Math.round(us)) : String(us);
}
