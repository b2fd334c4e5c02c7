/**
 * One run of a process testbed (`local`, `docker`, `hardware`): every host node and the switch are
 * `protocheck` processes started through a `Launcher`, driven by control lines and observed through
 * their output. The protocol of a run (see `testbeds/local/local.ts` for the details):
 *
 * 1. Start, in parallel, the switch, one process per host node, and a standby process for every
 *    host restart of the schedule (`--incarnation k --late-bind`), and wait for every
 *    `{"ready":true}` status line.
 * 2. Pick the origin: the harness's monotonic clock 100 ms ahead; each process gets it in its own
 *    host's clock (`Launcher.clockOffsetNs`), so trace timestamps from every host share one time line.
 * 3. Send the switch its commands and every host its workload commands up front, each with its time.
 * 4. Host faults on the harness's timers: crash = SIGKILL (and `hostDown` to the switch), restart =
 *    the standby starts at its time, pause/resume = `Launcher.freeze`/`thaw` (default SIGSTOP/SIGCONT).
 * 5. At the scenario's duration, `{"stop":true}` to every process, SIGKILL after a grace period.
 * 6. The trace is every process's stdout plus the harness's annotations, merged by time.
 */
import { randomBytes } from 'node:crypto';
import type { Addr, Micros, NodeId } from '../../impl/core.ts';
import type { Json } from '../../harness/protocol.ts';
import type { TraceBody, TraceEvent } from '../../harness/trace/schema.ts';
import { canonical } from '../../harness/trace/schema.ts';
import { faultTimeline, workloadTimeline, type TimelineEntry } from '../faults.ts';
import type { RunOutput, RunPlan } from '../testbed.ts';
import { StreamMerger } from '../local/merge.ts';
import type { Launcher, LaunchedProcess, ProcSignal } from './launcher.ts';

export const SWITCH_NODE = 'switch';

export interface ProcessRunOptions {
  /** The switch process's listen address (nodes tunnel every packet through it). */
  readonly switchAddr: Addr;
  /** How long the processes may take to report ready (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** How far ahead of "all ready" the origin is set (default 100 ms). */
  readonly originLeadMs?: number;
  /** After `stop`, how long a process may take to exit before SIGKILL (default 1500 ms). */
  readonly stopGraceMs?: number;
  /** Online release lag of the merged trace (default 150 ms). */
  readonly streamLagMs?: number;
}

export interface ProcessRunStats {
  readonly packets: number;
  readonly events: number;
  /** ms from the first launch until every process reported ready. */
  readonly startupMs: number;
}

export interface ProcessRunOutput extends RunOutput {
  readonly stats: ProcessRunStats;
}

/** A process testbed could not run the plan (a process failed to start or to become ready). */
export class ProcessTestbedError extends Error {}

const MAX_NOTES = 200;

interface Proc {
  readonly id: NodeId;
  readonly incarnation: number;
  readonly lp: LaunchedProcess;
  readonly part: number;
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;
  readonly stderrTail: string[];
  killedByUs: boolean;
  stopRequested: boolean;
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
  readonly action: 'crash' | 'restart' | 'pause' | 'resume' | 'disconnect' | 'reconnect' | 'clock';
  readonly offsetUs?: Micros;
}

export class ProcessRun {
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
  private killed = false;
  private readonly tag: string;
  private readonly applying = new Set<Promise<unknown>>();

  constructor(
    private readonly launcher: Launcher,
    private readonly opts: ProcessRunOptions,
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
            this.note(`${this.launcher.name}: observe threw (${(err as Error).message}); online observation stopped`);
          }
        }),
    );
    this.harnessPart = this.merger.addPart();
    const d = plan.scenario.duration;
    this.duration = typeof d === 'number' && Number.isFinite(d) && d > 0 ? d : 0;
    this.switchAddr = opts.switchAddr;
    this.tag = launcher.name;
  }

  note(m: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(m);
    else if (this.suppressed++ === 0) this.notes.push(`${this.tag}: further notes suppressed`);
  }

  clockUs(): number {
    if (this.origin === undefined) return Number.NEGATIVE_INFINITY;
    return Number(process.hrtime.bigint() - this.origin) / 1000;
  }

  killAll(): void {
    this.killed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of this.procs) {
      p.killedByUs = true;
      void p.lp.signal('SIGKILL');
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
      // setTimeout measures from the event loop's cached, whole-ms time: it may fire early.
      if (this.clockUs() < atUs) this.later(atUs, fn);
      else fn();
    }, Math.max(0, (atUs - this.clockUs()) / 1000));
    this.timers.add(t);
  }

  // ---------------------------------------------------------------- processes

  /** Launches `protocheck <args>` for node `id` and follows its status lines. */
  private async startProc(id: NodeId, incarnation: number, args: string[]): Promise<Proc> {
    const label = incarnation === 0 ? id : `${id}#${incarnation}`;
    let lp: LaunchedProcess;
    try {
      lp = await this.launcher.launch(id, args);
    } catch (err) {
      throw new ProcessTestbedError(`${this.tag}: cannot start ${label}: ${(err as Error).message}`);
    }
    if (this.killed) void lp.signal('SIGKILL');
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
    const proc: Proc = {
      id, incarnation, lp, part, ready,
      closed: new Promise<void>((res) => lp.once('exit', () => res())),
      stderrTail, killedByUs: false, stopRequested: false, pausedAtT: undefined,
      startedT: undefined, stats: undefined,
    };
    lp.on('stdout', (line, partial) => {
      if (partial) this.note(`${label}: dropped a partial trace line cut by the process's end: ${line.slice(0, 120)}`);
      else this.onTraceLine(proc, line);
    });
    lp.on('stderr', (line) => {
      if (!line.trim()) return;
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
    });
    lp.on('note', (m) => this.note(m));
    lp.on('error', (e) => {
      if (!isReady) readyReject(new Error(`${label}: ${e.message}`));
      else this.note(`${label}: ${e.message}`);
    });
    lp.once('exit', (code, signal) => {
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
    p.lp.write(line);
  }

  private signal(p: Proc, sig: ProcSignal): Promise<boolean> {
    return p.lp.exited ? Promise.resolve(false) : p.lp.signal(sig).catch(() => false);
  }

  // ---------------------------------------------------------------- the run

  async execute(): Promise<ProcessRunOutput> {
    const wall0 = performance.now();
    const { plan } = this;
    const sc = plan.scenario;
    const seed = String(sc.seed ?? 0);
    const bugs = (sc.bugs ?? []).join(',');
    const until = String(this.duration);
    const hosts = plan.nodes.filter((n) => n.placement === 'host');
    // Each host node keeps what its core persists under a name unique to this run, so an
    // incarnation started after a crash reads what the crashed one wrote.
    const statePrefix = `run-${process.pid}-${randomBytes(4).toString('hex')}`;
    const stateNames = hosts.map((n) => `${statePrefix}-${n.id.replace(/[^A-Za-z0-9._-]/g, '_')}`);
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
    const starts: Promise<unknown>[] = [];
    starts.push(this.startProc(SWITCH_NODE, 0, [
      'switch', '--listen', this.switchAddr, '--config', JSON.stringify(switchConfig), '--until', until,
    ]).then((p) => { this.switchProc = p; }));
    for (const [hi, n] of hosts.entries()) {
      for (const inc of this.incarnations.get(n.id)!) {
        const args = [
          'node', n.role, '--id', n.id, '--listen', n.addr, '--switch', this.switchAddr,
          '--config', JSON.stringify(n.config), '--seed', seed, '--until', until, '--state', stateNames[hi]!,
          ...(bugs ? ['--bugs', bugs] : []),
          ...(inc.k > 0 ? ['--incarnation', String(inc.k), '--late-bind'] : []),
        ];
        starts.push(this.startProc(n.id, inc.k, args).then((p) => { inc.proc = p; }));
      }
    }
    const launched = await Promise.allSettled(starts);
    const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.killAll();
      await this.allClosed();
      this.discardState(stateNames);
      throw failed.reason instanceof ProcessTestbedError ? failed.reason : new ProcessTestbedError(String(failed.reason));
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
      throw new ProcessTestbedError(`${this.tag}: startup failed: ${(err as Error).message}\n${this.notes.join('\n')}\n${detail}`);
    } finally {
      clearTimeout(timeout);
    }
    const startupMs = performance.now() - t0;
    const origin = process.hrtime.bigint() + BigInt(Math.round((this.opts.originLeadMs ?? 100) * 1e6));
    this.origin = origin;
    // Each process reads the origin in its own host's clock.
    const originOf = (id: NodeId): string => (origin + this.launcher.clockOffsetNs(id)).toString();
    this.send(this.switchProc!, { origin: originOf(SWITCH_NODE) });
    for (const [id, incs] of this.incarnations) {
      for (const inc of incs) this.send(inc.proc!, { origin: originOf(id), startAt: inc.startAt });
    }

    // 3. commands up front
    for (const e of timeline) if (e.target === 'switch') this.send(this.switchProc!, { command: e.command as unknown as Json, at: e.at });
    for (const w of workloadTimeline(sc)) {
      if (!hostIds.has(w.node)) {
        this.note(`${this.tag}: workload command at ${w.at} to ${w.node}, which is not a host node; dropped`);
        continue;
      }
      const inc = this.incarnations.get(w.node)!.find((i) => i.startAt <= w.at && w.at < i.crashAt);
      if (!inc) {
        this.note(`${this.tag}: workload command at ${w.at} to ${w.node}, which is down then; dropped`);
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
    if (this.applying.size) {
      this.note(`${this.tag}: ${this.applying.size} fault(s) still being applied at the end of the run; waited for them`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.applying]),
        new Promise<void>((res) => { timer = setTimeout(res, this.opts.readyTimeoutMs ?? 30_000); }),
      ]);
      clearTimeout(timer);
    }
    await this.stopAll();
    this.discardState(stateNames);

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
    const isCut = new Set<NodeId>();
    for (const e of timeline) {
      if (e.target !== 'host') continue;
      if (!hostIds.has(e.node)) {
        this.note(`${this.tag}: ${e.action} at ${e.at} of unknown host ${e.node}; ignored`);
        continue;
      }
      const incs = this.incarnations.get(e.node)!;
      const cur = incs[incs.length - 1]!;
      const up = cur.crashAt === Number.POSITIVE_INFINITY;
      const d = depth.get(e.node) ?? 0;
      switch (e.action) {
        case 'crash':
          if (!up) {
            this.note(`${this.tag}: crash at ${e.at} of ${e.node}, which is down; ignored`);
            break;
          }
          cur.crashAt = e.at;
          depth.set(e.node, 0);
          out.push({ at: e.at, node: e.node, k: cur.k, action: 'crash' });
          break;
        case 'restart':
          if (up) {
            this.note(`${this.tag}: restart at ${e.at} of ${e.node}, which is up; ignored`);
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
        // The link and the clock belong to the host, not to one process: they outlive crashes.
        case 'disconnect':
          if (isCut.has(e.node)) break;
          isCut.add(e.node);
          out.push({ at: e.at, node: e.node, k: cur.k, action: 'disconnect' });
          break;
        case 'reconnect':
          if (!isCut.delete(e.node)) break;
          out.push({ at: e.at, node: e.node, k: cur.k, action: 'reconnect' });
          break;
        case 'clock':
          out.push({ at: e.at, node: e.node, k: cur.k, action: 'clock', offsetUs: e.offsetUs ?? 0 });
          break;
      }
    }
    return out;
  }

  private hostFault(a: HostAction): void {
    const addr = this.plan.addrs[a.node]!;
    switch (a.action) {
      case 'disconnect':
      case 'reconnect': {
        const on = a.action === 'reconnect';
        const landed = (ok: boolean): void => {
          if (!ok) this.note(`${this.tag}: ${a.action} of ${a.node} at ${a.at} failed`);
          else this.emit(a.node, { action: on ? 'NetReconnect' : 'NetDisconnect' }, this.clockUs());
        };
        const viaLauncher = on ? this.launcher.reconnect : this.launcher.disconnect;
        if (viaLauncher) {
          // Annotated once it has landed: what the node sent before is on its way.
          this.inFlight(viaLauncher.call(this.launcher, a.node).catch(() => false).then(landed));
        } else {
          // No real link to cut: the switch drops what the node sends and what is sent to it.
          this.send(this.switchProc!, on ? { hostMend: addr } : { hostCut: addr });
          landed(true);
        }
        return;
      }
      case 'clock': {
        // Every incarnation (standbys too) runs on the host's clock.
        const offsetUs = a.offsetUs ?? 0;
        this.emit(a.node, { action: 'HostClock', offsetUs }, this.clockUs());
        for (const inc of this.incarnations.get(a.node)!) if (inc.proc) this.send(inc.proc, { clockOffsetUs: offsetUs });
        return;
      }
      default:
        break;
    }
    const inc = this.incarnations.get(a.node)!.find((i) => i.k === a.k);
    const p = inc?.proc;
    if (!p) return;
    switch (a.action) {
      case 'crash': {
        p.killedByUs = true;
        p.pausedAtT = undefined;
        // Annotated once the kill has landed (an agent's kill takes a round trip): every event of
        // the dead process is then earlier than its HostCrash.
        this.inFlight(this.signal(p, 'SIGKILL').then((ok) => {
          if (!ok) this.note(`${this.tag}: crash of ${a.node} at ${a.at}: its process was already gone`);
          this.emit(a.node, { action: 'HostCrash', reason: 'fault' }, this.clockUs());
          this.send(this.switchProc!, { hostDown: addr });
          // The next incarnation may take the address now, so that it starts on time.
          const next = this.incarnations.get(a.node)!.find((i) => i.k === a.k + 1)?.proc;
          if (next) this.send(next, { bind: true });
        }));
        return;
      }
      case 'restart': {
        // The standby starts itself at its time; the switch learns it is up once it has.
        const up = (t: number): void => {
          this.send(this.switchProc!, { hostUp: addr });
          if (t - a.at > 10_000) this.note(`${this.tag}: ${a.node} restarted ${fmt(t - a.at)} µs late (at t=${fmt(t)})`);
        };
        if (p.startedT !== undefined) up(p.startedT);
        else p.onStarted = up;
        return;
      }
      case 'pause': {
        // The merger holds back from the request on; the annotation waits until the freeze has
        // landed (docker pause takes tens of ms), so no event of the frozen node follows it.
        p.pausedAtT = this.clockUs();
        this.inFlight(this.freeze(a.node, p).then((ok) => {
          if (!ok) this.note(`${this.tag}: pause of ${a.node} at ${a.at}: its process is gone`);
          else this.emit(a.node, { action: 'HostPause' }, this.clockUs());
        }));
        return;
      }
      case 'resume': {
        const t = this.clockUs();
        this.emit(a.node, { action: 'HostResume' }, t);
        p.pausedAtT = undefined;
        this.inFlight(this.thaw(a.node, p).then((ok) => {
          if (!ok) this.note(`${this.tag}: resume of ${a.node} at ${a.at}: its process is gone`);
        }));
        return;
      }
    }
  }

  /**
   * A fault being applied (a kill, a freeze, a cut): the run waits for all of them before it stops,
   * so each one's annotation lands in the trace even when it is applied late.
   */
  private inFlight(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.note(`${this.tag}: a fault failed: ${(err as Error)?.message ?? err}`))
      .finally(() => this.applying.delete(tracked));
    this.applying.add(tracked);
  }

  private freeze(id: NodeId, p: Proc): Promise<boolean> {
    if (p.lp.exited) return Promise.resolve(false);
    return (this.launcher.freeze ? this.launcher.freeze(id, p.lp) : p.lp.signal('SIGSTOP')).catch(() => false);
  }

  private thaw(id: NodeId, p: Proc): Promise<boolean> {
    if (p.lp.exited) return Promise.resolve(false);
    return (this.launcher.thaw ? this.launcher.thaw(id, p.lp) : p.lp.signal('SIGCONT')).catch(() => false);
  }

  private discardState(names: readonly string[]): void {
    try {
      this.launcher.discardState?.(names);
    } catch (err) {
      this.note(`${this.tag}: cannot remove the nodes' stable state: ${(err as Error).message}`);
    }
  }

  private async stopAll(): Promise<void> {
    await Promise.all(this.procs.map(async (p) => {
      if (p.pausedAtT !== undefined) {
        p.pausedAtT = undefined;
        await this.thaw(p.id, p);
      }
      p.stopRequested = true;
      this.send(p, { stop: true });
      p.lp.endInput();
    }));
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
        if (!p.lp.exited) {
          this.note(`${this.tag}: ${p.id}#${p.incarnation} did not stop within ${grace} ms; killed`);
          p.killedByUs = true;
          void p.lp.signal('SIGKILL');
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
