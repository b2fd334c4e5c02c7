/**
 * Runs any sans-I/O core on a real `node:dgram` socket: the I/O half of the core contract
 * (`impl/core.ts`). The same driver runs a host role (`tunnel` or `direct` mode) and the switch
 * (`switch` mode).
 *
 * - Inputs: `start` (once, at a chosen time after the run's origin), every datagram received
 *   (`receive`), timer firings (real timers; re-arming replaces, `cancelTimer` cancels) and commands
 *   (at once or at a given time).
 * - Outputs: `send` is executed on the socket; `setTimer`/`cancelTimer` on real timers; `trace` is
 *   stamped `{ t, node }` and handed to the sink; `notify` to `onNotify`.
 * - Time: `process.hrtime.bigint()` (CLOCK_MONOTONIC, shared by every process of the host), plus
 *   `hostClockOffsetNs` when the host's clock is simulated as skewed, minus the run's origin (a
 *   bigint of ns on that clock), in fractional µs. The clock is read just after
 *   a datagram is received (the `now` the core sees, shifted by `clockOffsetUs`) and again just
 *   before the outputs are executed (the `t` of the trace events of that step, unshifted: trace
 *   time is always true host time). A send therefore precedes its receipt in the merged trace.
 *   Trace events of a step are handed to the sink before its sends leave, so a process killed in
 *   between leaves a send without receipt (a loss, which every spec allows), never the reverse.
 * - Modes: `tunnel` wraps every packet in the 14-byte envelope (`impl/envelope.ts`) and sends it
 *   to the switch; every received datagram must be enveloped and addressed to this node.
 *   `direct` (no switch) sends the raw bytes to the packet's `dst` and names a received
 *   datagram's source from the UDP header. `switch` receives enveloped datagrams from every node
 *   and sends each output, enveloped, to the real socket at its `dst` (on the local testbed the
 *   virtual address is the real address of the destination's process).
 * - Robustness: a malformed datagram, a core that throws on an input, an unsendable packet: each
 *   is counted and reported through `onNote`, and the driver carries on.
 */
import dgram from 'node:dgram';
import { match } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, Packet, StableState } from './core.ts';
import type { StableStore } from './stable-store.ts';
import { decodeEnvelope, describeEnvelopeError, encodeEnvelope, parseAddr, type Endpoint } from './envelope.ts';
import { canonical, type FieldValue, type TraceBody, type TraceEvent } from '../harness/trace/schema.ts';

export type DriverMode =
  | { readonly kind: 'tunnel'; readonly switchAddr: Addr }
  | { readonly kind: 'direct' }
  | { readonly kind: 'switch' };

export interface UdpDriverOptions<Command, Notification> {
  readonly core: Core<Command, Notification>;
  readonly mode: DriverMode;
  /** The socket's address; defaults to the core's `addr`. */
  readonly listen?: Addr;
  /** Receives each trace event, stamped, in canonical key order. */
  readonly sink: (event: TraceEvent) => void;
  /** Problems that do not stop the driver (malformed datagram, core exception, send error). */
  readonly onNote?: (message: string) => void;
  readonly onNotify?: (value: Notification) => void;
  /** Added to the `now` the core sees (a clock-offset fault); trace `t` stays true time. */
  readonly clockOffsetUs?: number;
  /**
   * Added to every reading of the monotonic clock (ns): the process's host clock is that far
   * from `process.hrtime.bigint()` (a simulated skewed host; the origin is read on this clock).
   */
  readonly hostClockOffsetNs?: bigint;
  /** No input is fed after this time (µs since origin): the run's duration. */
  readonly endAtUs?: Micros;
  /** Datagrams and commands kept while the core has not started yet (default 4096). */
  readonly maxPending?: number;
  /**
   * Datagrams that arrive before `start`: `queue` (default) feeds them right after it; `drop`
   * discards them (a restarted node whose socket is bound ahead of its restart time: it was down).
   */
  readonly beforeStart?: 'queue' | 'drop';
  /** Attempts to bind when the address is still in use (a restarted node; default 40, 50 ms apart). */
  readonly bindAttempts?: number;
  /**
   * Consulted before each send: a trace body means "do not send, emit this instead" (the switch
   * process uses it to drop packets to a host that is down, as `NetDrop` reason `host-down`).
   */
  readonly egressFilter?: (packet: Packet) => TraceBody | undefined;
  /**
   * Consulted for each received packet once the core has started: a trace body means "drop it,
   * emit this instead" (the switch process drops what a host whose link is cut sends).
   */
  readonly ingressFilter?: (packet: Packet) => TraceBody | undefined;
  /**
   * Timer precision: a timer sleeps (setTimeout, ms granularity) until `spinUs` before its
   * deadline, then polls with setImmediate, so it fires within a few µs after the deadline, never
   * before. Polling burns CPU; 0 disables it (timers then fire up to ~1 ms late). Default 500.
   */
  readonly spinUs?: number;
  /**
   * What a core that throws means. `crash` (default, as in `sim` and for switch programs): the
   * core is treated as a crashed process: `HostCrash {reason: 'exception'}` is emitted, its timers
   * are cancelled and no further input is fed (the process and socket stay up). `skip`: only the
   * offending input is lost.
   */
  readonly onCoreError?: 'crash' | 'skip';
  /**
   * The node's stable storage: loaded for `start` (a restarted node gets what its earlier
   * incarnation persisted) and written synchronously on every `persist` output, before every other
   * output of the step (its trace events included). Without it, `persist` outputs are ignored.
   */
  readonly stable?: StableStore;
}

export interface DriverStats {
  received: number;
  sent: number;
  malformed: number;
  misdelivered: number;
  coreErrors: number;
  sendErrors: number;
  droppedBeforeStart: number;
  ignoredAfterEnd: number;
  ignoredAfterCrash: number;
  events: number;
}

/** A timer on the real clock with sub-millisecond precision (setTimeout, then setImmediate polling). */
interface Alarm {
  cancelled: boolean;
  timeout?: NodeJS.Timeout;
  immediate?: NodeJS.Immediate;
}

/** Default of `spinUs`. */
const SPIN_US = 500;

export class UdpDriver<Command = unknown, Notification = unknown> {
  readonly core: Core<Command, Notification>;
  readonly mode: DriverMode;
  readonly listen: Addr;
  readonly stats: DriverStats = {
    received: 0, sent: 0, malformed: 0, misdelivered: 0, coreErrors: 0, sendErrors: 0,
    droppedBeforeStart: 0, ignoredAfterEnd: 0, ignoredAfterCrash: 0, events: 0,
  };

  private readonly opts: UdpDriverOptions<Command, Notification>;
  private offset: number;
  /** Armed timers' deadlines on the node's clock (true time + `offset`): they follow a clock step. */
  private readonly timerAt = new Map<string, Micros>();
  private readonly hostOffsetNs: bigint;
  private readonly spinMs: number;
  private socket?: dgram.Socket;
  private origin?: bigint;
  private started = false;
  private stopped = false;
  private crashed = false;
  private readonly timers = new Map<string, Alarm>();
  private readonly alarms = new Set<Alarm>();
  /** Inputs that arrived before `start`: fed, in order, right after it. */
  private readonly pending: { input: CoreInput<Command>; at?: Micros }[] = [];
  private readonly endpoints = new Map<Addr, Endpoint | string>();
  private readonly switchEndpoint?: Endpoint;

  constructor(opts: UdpDriverOptions<Command, Notification>) {
    this.opts = opts;
    this.core = opts.core;
    this.mode = opts.mode;
    this.listen = opts.listen ?? opts.core.addr;
    this.offset = opts.clockOffsetUs ?? 0;
    this.hostOffsetNs = opts.hostClockOffsetNs ?? 0n;
    this.spinMs = (opts.spinUs ?? SPIN_US) / 1000;
    const l = parseAddr(this.listen);
    if (!l.ok) throw new Error(`UdpDriver: listen address: ${l.message}`);
    if (opts.mode.kind === 'tunnel') {
      const s = parseAddr(opts.mode.switchAddr);
      if (!s.ok) throw new Error(`UdpDriver: switch address: ${s.message}`);
      this.switchEndpoint = s.endpoint;
    }
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** The host's monotonic clock in ns: `process.hrtime.bigint()` plus `hostClockOffsetNs`. */
  now(): bigint {
    return process.hrtime.bigint() + this.hostOffsetNs;
  }

  /** True host time in µs since the origin (fractional). Before an origin is known: NaN. */
  clockUs(): number {
    if (this.origin === undefined) return Number.NaN;
    return Number(this.now() - this.origin) / 1000;
  }

  /** Binds the socket (retrying while the address is still held, e.g. by a just-killed process). */
  async bind(): Promise<void> {
    if (this.socket) return;
    const ep = parseAddr(this.listen);
    if (!ep.ok) throw new Error(ep.message);
    const ip = ep.endpoint.ip.join('.');
    const attempts = this.opts.bindAttempts ?? 40;
    for (let i = 1; ; i++) {
      const socket = dgram.createSocket({ type: 'udp4' });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ address: ip, port: ep.endpoint.port, exclusive: true }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        socket.close();
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && i < attempts) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw new Error(`cannot bind ${this.listen}: ${(err as Error).message}`);
      }
      try {
        socket.setRecvBufferSize(4 << 20);
        socket.setSendBufferSize(4 << 20);
      } catch {
        // capped by net.core.rmem_max / wmem_max: the default will do
      }
      socket.on('error', (err) => this.note(`socket error: ${err.message}`));
      socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
      this.socket = socket;
      return;
    }
  }

  /**
   * Sets the run's origin (ns on the monotonic clock) and feeds `start` at `atUs` after it (at once
   * if that is past), binding first if `bind()` was not called. Resolves once `start` was fed.
   * `announce` events (e.g. `HostRestart`) are emitted, stamped, just before `start`.
   */
  async start(origin: bigint, atUs: Micros = 0, announce: readonly TraceBody[] = []): Promise<void> {
    if (this.started || this.stopped) return;
    if (this.origin !== undefined && this.origin !== origin) throw new Error('UdpDriver: origin already set');
    this.origin = origin;
    await new Promise<void>((resolve) => this.schedule(atUs, resolve));
    if (this.stopped) return;
    await this.bind();
    if (this.stopped) return;
    // Read when the node starts (a standby incarnation must see what the crashed one wrote); a
    // corrupt store makes the start fail rather than begin from an empty state.
    const stable = this.opts.stable?.load();
    this.started = true;
    const t = this.clockUs();
    for (const body of announce) this.emit(body, t);
    this.feed(stable === undefined ? { kind: 'start' } : { kind: 'start', stable });
    const queued = this.pending.splice(0);
    for (const q of queued) {
      if (q.at !== undefined && q.input.kind === 'command') this.command(q.input.command, q.at);
      else this.feed(q.input);
    }
  }

  /**
   * Steps the node's clock: from now on the core sees true time + `offsetUs` (a clock fault).
   * Armed timers follow the clock: each fires when the node's clock reaches its deadline.
   */
  setClockOffset(offsetUs: Micros): void {
    this.offset = offsetUs;
    for (const [name, at] of this.timerAt) if (this.timers.has(name)) this.armTimer(name, at - offsetUs);
  }

  get clockOffsetUs(): Micros {
    return this.offset;
  }

  /** Feeds a command at once, or at `atUs` (µs since origin); queued until the core has started. */
  command(command: Command, atUs?: Micros): void {
    if (this.stopped) return;
    const input: CoreInput<Command> = { kind: 'command', command };
    if (!this.started) {
      this.enqueue(input, atUs);
      return;
    }
    if (atUs === undefined) this.feed(input);
    else this.schedule(atUs, () => this.feed(input));
  }

  /** Stops feeding inputs, cancels every timer and closes the socket. */
  async stop(): Promise<DriverStats> {
    if (this.stopped) return this.stats;
    this.stopped = true;
    for (const a of this.alarms) this.cancelAlarm(a);
    this.alarms.clear();
    this.timers.clear();
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    return this.stats;
  }

  // ---------------------------------------------------------------- internals

  private note(message: string): void {
    this.opts.onNote?.(`${this.core.node}: ${message}`);
  }

  private enqueue(input: CoreInput<Command>, at?: Micros): void {
    if (this.pending.length >= (this.opts.maxPending ?? 4096)) {
      this.stats.droppedBeforeStart++;
      return;
    }
    this.pending.push(at === undefined ? { input } : { input, at });
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.stopped) return;
    this.stats.received++;
    let packet: Packet;
    if (this.mode.kind === 'direct') {
      packet = { src: `${rinfo.address}:${rinfo.port}`, dst: this.listen, data: new Uint8Array(msg) };
    } else {
      const r = decodeEnvelope(msg);
      if (!r.ok) {
        this.stats.malformed++;
        this.note(`malformed datagram from ${rinfo.address}:${rinfo.port} dropped: ${describeEnvelopeError(r.error)}`);
        return;
      }
      packet = { src: r.packet.src, dst: r.packet.dst, data: new Uint8Array(r.packet.data) };
      if (this.mode.kind === 'tunnel' && packet.dst !== this.listen) {
        this.stats.misdelivered++;
        this.note(`datagram for ${packet.dst} arrived at ${this.listen}: dropped`);
        return;
      }
    }
    if (this.started && this.opts.ingressFilter) {
      const veto = this.opts.ingressFilter(packet);
      if (veto) {
        this.emit(veto, this.clockUs());
        return;
      }
    }
    const input: CoreInput<Command> = { kind: 'receive', packet };
    if (this.started) this.feed(input);
    else if (this.opts.beforeStart === 'drop') this.stats.droppedBeforeStart++;
    else this.enqueue(input);
  }

  /** Whether the core threw and was dropped (`onCoreError: 'crash'`). */
  get isCrashed(): boolean {
    return this.crashed;
  }

  /** One step of the core: clock read, handle, outputs executed. Never throws. */
  private feed(input: CoreInput<Command>): void {
    if (this.stopped) return;
    if (this.crashed) {
      this.stats.ignoredAfterCrash++;
      return;
    }
    const tIn = this.clockUs();
    if (this.opts.endAtUs !== undefined && tIn > this.opts.endAtUs) {
      this.stats.ignoredAfterEnd++;
      return;
    }
    let outputs: CoreOutput<Notification>[];
    try {
      outputs = this.core.handle(input, tIn + this.offset);
    } catch (err) {
      this.stats.coreErrors++;
      const crash = (this.opts.onCoreError ?? 'crash') === 'crash';
      this.note(`core threw on ${input.kind} input${crash ? ' (core crashed)' : ' (input skipped)'}: ${(err as Error)?.stack ?? String(err)}`);
      if (crash) {
        this.crashed = true;
        for (const a of this.timers.values()) this.cancelAlarm(a);
        this.timers.clear();
        this.emit({ action: 'HostCrash', reason: 'exception' }, this.clockUs());
      }
      return;
    }
    const tOut = this.clockUs();
    // Stable state first (so a traced action's state is durable), then trace events (they leave
    // synchronously), then timers, notifications and sends.
    for (const o of outputs) {
      if (o.kind === 'persist') this.persist(o.state);
    }
    if (this.crashed) return; // the state could not be kept: nothing of this step may show
    for (const o of outputs) {
      if (o.kind === 'trace') this.emit(o.event, tOut);
    }
    for (const o of outputs) {
      match(o)
        .with({ kind: 'trace' }, () => {})
        .with({ kind: 'send' }, (x) => this.transmit(x.packet, tOut))
        .with({ kind: 'setTimer' }, (x) => {
          this.timerAt.set(x.name, x.at);
          this.armTimer(x.name, x.at - this.offset);
        })
        .with({ kind: 'cancelTimer' }, (x) => this.cancelTimer(x.name))
        .with({ kind: 'persist' }, () => {})
        .with({ kind: 'notify' }, (x) => {
          try {
            this.opts.onNotify?.(x.value);
          } catch (err) {
            this.note(`notify handler threw: ${(err as Error).message}`);
          }
        })
        .exhaustive();
    }
  }

  private persist(state: StableState): void {
    if (!this.opts.stable) return;
    try {
      this.opts.stable.save(state);
    } catch (err) {
      // A node that cannot keep its promises must not go on as if it had: it stops like a crash.
      this.note(`cannot persist stable state (core stopped): ${(err as Error).message}`);
      this.crashed = true;
      for (const a of this.timers.values()) this.cancelAlarm(a);
      this.timers.clear();
      this.emit({ action: 'HostCrash', reason: 'storage' }, this.clockUs());
    }
  }

  private emit(body: TraceBody, t: number): void {
    const own = (body as { node?: FieldValue }).node;
    const event = canonical({ ...body, t, node: typeof own === 'string' ? own : this.core.node } as TraceEvent);
    this.stats.events++;
    try {
      this.opts.sink(event);
    } catch (err) {
      this.note(`trace sink threw: ${(err as Error).message}`);
    }
  }

  private endpoint(addr: Addr): Endpoint | string {
    let e = this.endpoints.get(addr);
    if (e === undefined) {
      const r = parseAddr(addr);
      e = r.ok ? r.endpoint : r.message;
      this.endpoints.set(addr, e);
    }
    return e;
  }

  private transmit(packet: Packet, t: number): void {
    const socket = this.socket;
    if (!socket) return;
    const veto = this.opts.egressFilter?.(packet);
    if (veto) {
      this.emit(veto, t);
      return;
    }
    let bytes: Uint8Array;
    let to: Endpoint | string;
    try {
      [bytes, to] = match(this.mode)
        .with({ kind: 'tunnel' }, () => [encodeEnvelope(packet), this.switchEndpoint!] as const)
        .with({ kind: 'switch' }, () => [encodeEnvelope(packet), this.endpoint(packet.dst)] as const)
        .with({ kind: 'direct' }, () => [packet.data, this.endpoint(packet.dst)] as const)
        .exhaustive();
    } catch (err) {
      this.stats.sendErrors++;
      this.note(`cannot send ${packet.src} -> ${packet.dst}: ${(err as Error).message}`);
      return;
    }
    if (typeof to === 'string') {
      this.stats.sendErrors++;
      this.note(`cannot send to ${packet.dst}: ${to}`);
      return;
    }
    this.stats.sent++;
    socket.send(bytes, to.port, to.ip.join('.'), (err) => {
      if (err) {
        this.stats.sendErrors++;
        this.note(`send to ${packet.dst} failed: ${err.message}`);
      }
    });
  }

  private armTimer(name: string, trueAtUs: Micros): void {
    this.cancelTimer(name);
    const alarm = this.schedule(trueAtUs, () => {
      if (this.timers.get(name) !== alarm) return;
      this.timers.delete(name);
      this.feed({ kind: 'timer', name });
    });
    this.timers.set(name, alarm);
  }

  private cancelTimer(name: string): void {
    const a = this.timers.get(name);
    if (a) {
      this.cancelAlarm(a);
      this.timers.delete(name);
    }
  }

  private cancelAlarm(a: Alarm): void {
    a.cancelled = true;
    if (a.timeout) clearTimeout(a.timeout);
    if (a.immediate) clearImmediate(a.immediate);
    this.alarms.delete(a);
  }

  /** Calls `fire` once the true clock reaches `atUs` (never early), unless cancelled or stopped. */
  private schedule(atUs: Micros, fire: () => void): Alarm {
    const alarm: Alarm = { cancelled: false };
    this.alarms.add(alarm);
    const step = (): void => {
      alarm.timeout = undefined;
      alarm.immediate = undefined;
      if (alarm.cancelled || this.stopped) return;
      const remainingMs = (atUs - this.clockUs()) / 1000;
      if (!(remainingMs > 0)) {
        this.alarms.delete(alarm);
        fire();
      } else if (remainingMs > this.spinMs) {
        alarm.timeout = setTimeout(step, Math.max(1, Math.floor(remainingMs - this.spinMs)));
      } else {
        alarm.immediate = setImmediate(step);
      }
    };
    // Never fires synchronously: a step's outputs are all executed before the next input is fed.
    alarm.immediate = setImmediate(step);
    return alarm;
  }
}
