/**
 * The control protocol between a harness and a `protocheck node` / `protocheck switch` process
 * (used by the local testbed; the docker and hardware testbeds can drive the same processes).
 *
 * stdout: trace events only, one NDJSON line each (`{ t, node, action, ...fields }`, canonical key
 *   order), so `protocheck node … > trace.ndjson` is a trace file as it stands.
 * stderr: status lines, one JSON object each (anything else on stderr is free text, e.g. a stack):
 *   `{"ready":true,"node":ID,"addr":ADDR,"pid":N}`  the core is built (and the socket bound,
 *                                                   unless `--late-bind`); waiting for an origin
 *   `{"started":true,"node":ID,"t":US}`             `start` was fed at t µs after the origin
 *   `{"note":TEXT}`                                 something went wrong and was survived
 *   `{"stopped":true,"node":ID,"stats":{…}}`         last line of a clean exit
 *   `{"fatal":TEXT}`                                 the process exits with code 2
 * stdin: control lines, one JSON object each:
 *   `{"origin":"<ns>","startAt":US?}`   the run's origin: a decimal string of ns on
 *                                       `process.hrtime.bigint()`'s clock (CLOCK_MONOTONIC), and
 *                                       when (µs after it, default 0) to feed `start`
 *   `{"command":JSON,"at":US?}`         fed to the core as a command, at once or at `at`
 *   `{"stop":true}`                     stop feeding, close the socket, exit 0
 *   `{"bind":true}`                     (a `--late-bind` node) bind the socket now, ahead of
 *                                       `start`; datagrams before `start` are discarded
 *   `{"hostDown":ADDR}` / `{"hostUp":ADDR}`   (switch only) packets to ADDR are dropped as
 *                                       `NetDrop` reason `host-down` while it is down
 *   `{"hostCut":ADDR}` / `{"hostMend":ADDR}`  (switch only) packets from or to ADDR are dropped
 *                                       as `NetDrop` reason `cut` while its link is cut
 *   `{"clockOffsetUs":US}`              (node) from now on the core's clock reads US µs ahead of
 *                                       true time (may be negative); armed timers follow it
 *   End of stdin (the harness went away) stops the process like `{"stop":true}`.
 */
import type { Addr, Micros } from '../../impl/core.ts';
import type { Json } from '../../harness/protocol.ts';
import type { TraceBody } from '../../harness/trace/schema.ts';
import type { DriverStats, UdpDriver } from '../../impl/udp-driver.ts';

export type ControlLine =
  | { readonly kind: 'origin'; readonly origin: bigint; readonly startAt: Micros }
  | { readonly kind: 'command'; readonly command: Json; readonly at?: Micros }
  | { readonly kind: 'stop' }
  | { readonly kind: 'bind' }
  | { readonly kind: 'hostDown'; readonly addr: Addr }
  | { readonly kind: 'hostUp'; readonly addr: Addr }
  | { readonly kind: 'hostCut'; readonly addr: Addr }
  | { readonly kind: 'hostMend'; readonly addr: Addr }
  | { readonly kind: 'clock'; readonly offsetUs: Micros };

export type StatusLine =
  | { readonly ready: true; readonly node: string; readonly addr: Addr; readonly pid: number }
  | { readonly started: true; readonly node: string; readonly t: number }
  | { readonly note: string }
  | { readonly stopped: true; readonly node: string; readonly stats: DriverStats }
  | { readonly fatal: string };

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

function isFiniteNonNeg(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Parses one stdin control line. Never throws. */
export function parseControlLine(line: string): Parsed<ControlLine> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    return { ok: false, message: `control line is not JSON: ${(err as Error).message}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, message: 'control line must be a JSON object' };
  const o = v as Record<string, unknown>;
  if ('origin' in o) {
    if (typeof o.origin !== 'string' || !/^\d+$/.test(o.origin)) return { ok: false, message: 'origin must be a decimal string of ns' };
    const startAt = o.startAt ?? 0;
    if (!isFiniteNonNeg(startAt)) return { ok: false, message: 'startAt must be a non-negative number of µs' };
    return { ok: true, value: { kind: 'origin', origin: BigInt(o.origin), startAt } };
  }
  if ('command' in o) {
    if (o.at !== undefined && !isFiniteNonNeg(o.at)) return { ok: false, message: 'at must be a non-negative number of µs' };
    const command = o.command as Json;
    return { ok: true, value: o.at === undefined ? { kind: 'command', command } : { kind: 'command', command, at: o.at as number } };
  }
  if (o.stop === true) return { ok: true, value: { kind: 'stop' } };
  if (o.bind === true) return { ok: true, value: { kind: 'bind' } };
  if (typeof o.hostDown === 'string') return { ok: true, value: { kind: 'hostDown', addr: o.hostDown } };
  if (typeof o.hostUp === 'string') return { ok: true, value: { kind: 'hostUp', addr: o.hostUp } };
  if (typeof o.hostCut === 'string') return { ok: true, value: { kind: 'hostCut', addr: o.hostCut } };
  if (typeof o.hostMend === 'string') return { ok: true, value: { kind: 'hostMend', addr: o.hostMend } };
  if ('clockOffsetUs' in o) {
    if (typeof o.clockOffsetUs !== 'number' || !Number.isFinite(o.clockOffsetUs)) return { ok: false, message: 'clockOffsetUs must be a finite number of µs' };
    return { ok: true, value: { kind: 'clock', offsetUs: o.clockOffsetUs } };
  }
  return { ok: false, message: `unknown control line ${line.length > 120 ? line.slice(0, 120) + '…' : line}` };
}

/** Splits a byte stream into lines; a trailing partial line is kept until its newline arrives. */
export class LineSplitter {
  private rest = '';
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    return lines;
  }
  /** The unterminated tail (e.g. of a process killed mid-line). */
  get partial(): string {
    return this.rest;
  }
}

export function writeStatus(s: StatusLine): void {
  process.stderr.write(JSON.stringify(s) + '\n');
}

export interface ServeOptions {
  readonly driver: UdpDriver<any, unknown>;
  /** Bind the socket only when `start` is due (a restarted node must not queue packets while down). */
  readonly lateBind: boolean;
  /** Start without waiting for an origin line. */
  readonly origin?: bigint;
  readonly startAt: Micros;
  /** Events emitted just before `start` (e.g. `HostRestart` of a restarted node). */
  readonly announce?: readonly TraceBody[];
  /** Lines other than origin/command/stop (the switch's hostDown/hostUp); false = not understood. */
  readonly onControl?: (line: ControlLine) => boolean;
  /** Called periodically and at the end: extra notes to report (e.g. the switch core's). */
  readonly drainNotes?: () => string[];
}

/**
 * Runs a driver under the control protocol until `stop` or end of stdin. Resolves with the exit
 * code; by then the socket is closed and stdin released, so the process can exit.
 */
export async function serveControl(o: ServeOptions): Promise<number> {
  const { driver } = o;
  const node = driver.core.node;
  if (!o.lateBind) {
    try {
      await driver.bind();
    } catch (err) {
      writeStatus({ fatal: (err as Error).message });
      return 2;
    }
  }
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));
  let starting = false;
  const start = (origin: bigint, startAt: Micros): void => {
    if (starting) {
      writeStatus({ note: `${node}: origin given twice; ignored` });
      return;
    }
    starting = true;
    driver.start(origin, startAt, o.announce ?? []).then(
      () => {
        if (driver.isStarted) writeStatus({ started: true, node, t: driver.clockUs() });
      },
      (err: Error) => {
        writeStatus({ fatal: `${node}: cannot start: ${err.message}` });
        void stop(2);
      },
    );
  };
  let stopping = false;
  const drain = (): void => {
    for (const n of o.drainNotes?.() ?? []) writeStatus({ note: n });
  };
  const notesTimer = o.drainNotes ? setInterval(drain, 250) : undefined;
  // The harness died without closing our stdin (it always closes on exit): we were re-parented.
  const ppid = process.ppid;
  const watchdog = setInterval(() => {
    if (process.ppid !== ppid) void stop(0);
  }, 500);
  watchdog.unref();
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (notesTimer) clearInterval(notesTimer);
    clearInterval(watchdog);
    const stats = await driver.stop();
    drain();
    writeStatus({ stopped: true, node, stats });
    process.stdin.off('data', onData);
    process.stdin.destroy();
    finish(code);
  };
  const splitter = new LineSplitter();
  const onData = (chunk: string): void => {
    for (const raw of splitter.push(chunk)) {
      const line = raw.trim();
      if (!line) continue;
      const p = parseControlLine(line);
      if (!p.ok) {
        writeStatus({ note: `${node}: ${p.message}` });
        continue;
      }
      const c = p.value;
      if (c.kind === 'origin') start(c.origin, c.startAt);
      else if (c.kind === 'command') driver.command(c.command, c.at);
      else if (c.kind === 'stop') void stop(0);
      else if (c.kind === 'clock') driver.setClockOffset(c.offsetUs);
      else if (c.kind === 'bind') {
        driver.bind().catch((err: Error) => {
          writeStatus({ fatal: `${node}: ${err.message}` });
          void stop(2);
        });
      }
      else if (!o.onControl?.(c)) writeStatus({ note: `${node}: control line ${c.kind} not understood here` });
    }
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', onData);
  process.stdin.on('end', () => void stop(0));
  process.stdin.on('error', () => void stop(0));
  writeStatus({ ready: true, node, addr: driver.listen, pid: process.pid });
  if (o.origin !== undefined) start(o.origin, o.startAt);
  return done;
}
