/**
 * The processes an agent runs: spawned with stdio pipes, tracked by the reaper (killed when the
 * agent exits), their stdout/stderr lines queued as NDJSON `OutputLine`s until an output consumer
 * (one HTTP response at a time) takes them.
 *
 * Output queue: lines wait in memory while no consumer is attached or the consumer's socket is
 * not draining, up to `maxBufferBytes`; beyond that new lines are dropped and counted, and an
 * `{"s":"err","line":"agent: N lines dropped …"}` note takes their place once there is room (or
 * before the exit line). The exit line comes last, after both pipes closed; every later consumer
 * gets it again. Lines written to a consumer that disconnects are lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import type { Json } from '../../harness/protocol.ts';
import { LineSplitter } from '../local/control.ts';
import { killChild, track } from '../local/reaper.ts';
import type { AgentSignal, ExitStatus, OutputLine } from './protocol.ts';

/** How the agent starts a protocheck process: `command ...prefixArgs ...argv`, in `cwd`. */
export interface Launcher {
  readonly command: string;
  readonly prefixArgs: readonly string[];
  readonly cwd?: string;
}

export class ManagedProc {
  private readonly queue: string[] = [];
  private queuedBytes = 0;
  private dropped = 0;
  private exitStatus: ExitStatus | undefined;
  private consumer: ServerResponse | undefined;
  private waitingForDrain = false;
  /** Resolves once the process exited and its pipes closed. */
  readonly closed: Promise<ExitStatus>;

  private constructor(
    readonly proc: string,
    readonly id: string,
    readonly child: ChildProcess,
    private readonly maxBufferBytes: number,
  ) {
    let onClosed!: (s: ExitStatus) => void;
    this.closed = new Promise((r) => (onClosed = r));
    child.stdin!.on('error', () => {}); // EPIPE after the process died: nothing to do
    this.readLines(child.stdout!, 'out');
    this.readLines(child.stderr!, 'err');
    child.once('close', (code, signal) => {
      this.exitStatus = { code, signal };
      this.flushDroppedNote(true);
      this.pump();
      onClosed(this.exitStatus);
    });
  }

  /** Spawns `launcher argv`; resolves once the OS started it, rejects when it could not be. */
  static start(proc: string, id: string, launcher: Launcher, argv: readonly string[], maxBufferBytes: number): Promise<ManagedProc> {
    const child = spawn(launcher.command, [...launcher.prefixArgs, ...argv], {
      cwd: launcher.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start ${id}: ${err.message}`)));
      child.once('spawn', () => {
        child.on('error', () => {}); // a failed kill of a process already gone
        track(child);
        resolve(new ManagedProc(proc, id, child, maxBufferBytes));
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Makes `res` the output consumer; false when another consumer is attached. */
  attach(res: ServerResponse): boolean {
    if (this.consumer) return false;
    this.consumer = res;
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
    res.flushHeaders();
    res.once('close', () => {
      if (this.consumer !== res) return;
      this.consumer = undefined;
      this.waitingForDrain = false;
    });
    this.pump();
    return true;
  }

  /** Writes one JSON control line to stdin; false when stdin is closed. */
  write(line: Json): boolean {
    const stdin = this.child.stdin!;
    if (!stdin.writable) return false;
    stdin.write(JSON.stringify(line) + '\n');
    return true;
  }

  /** Closes stdin (the process stops on end of stdin); false when it was already closed. */
  endInput(): boolean {
    const stdin = this.child.stdin!;
    if (!stdin.writable) return false;
    stdin.end();
    return true;
  }

  signal(sig: AgentSignal): boolean {
    if (!this.alive) return false;
    try {
      return this.child.kill(sig);
    } catch {
      return false;
    }
  }

  /** SIGCONT (a stopped process) then SIGKILL; true when the process was alive. */
  kill(): boolean {
    if (!this.alive) return false;
    this.signal('SIGCONT');
    killChild(this.child);
    return true;
  }

  // ---------------------------------------------------------------- output

  private readLines(stream: NodeJS.ReadableStream, s: 'out' | 'err'): void {
    const splitter = new LineSplitter();
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of splitter.push(chunk)) this.enqueue({ s, line });
    });
    stream.on('end', () => {
      if (splitter.partial) this.enqueue({ s, line: splitter.partial, partial: true });
    });
  }

  private enqueue(o: OutputLine): void {
    if (this.dropped > 0) this.flushDroppedNote(false);
    const text = JSON.stringify(o) + '\n';
    const bytes = Buffer.byteLength(text);
    if (this.dropped > 0 || this.queuedBytes + bytes > this.maxBufferBytes) {
      this.dropped++;
      return;
    }
    this.queue.push(text);
    this.queuedBytes += bytes;
    this.pump();
  }

  /** Queues the "lines dropped" note if there is room for it (always when `force`). */
  private flushDroppedNote(force: boolean): void {
    if (this.dropped === 0) return;
    const line = `agent: ${this.dropped} lines of ${this.id} dropped (output buffer of ${this.maxBufferBytes} bytes full)`;
    const text = JSON.stringify({ s: 'err', line } satisfies OutputLine) + '\n';
    const bytes = Buffer.byteLength(text);
    if (!force && this.queuedBytes + bytes > this.maxBufferBytes) return;
    this.dropped = 0;
    this.queue.push(text);
    this.queuedBytes += bytes;
  }

  private pump(): void {
    const res = this.consumer;
    if (!res || this.waitingForDrain) return;
    if (this.queue.length) {
      const chunk = this.queue.join('');
      this.queue.length = 0;
      this.queuedBytes = 0;
      if (!res.write(chunk)) {
        this.waitingForDrain = true;
        res.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        return;
      }
    }
    if (this.exitStatus && this.queue.length === 0) {
      this.consumer = undefined;
      res.end(JSON.stringify({ exit: this.exitStatus } satisfies OutputLine) + '\n');
    }
  }
}
