/**
 * `AgentProcess`: a process running on an agent, shaped like the parts of a `ChildProcess` the
 * local testbed uses. Events:
 *
 *   stdout (line, partial)   one stdout line (a trace event); `partial`: the unterminated tail
 *                            of a process that ended mid-line
 *   stderr (line, partial)   one stderr line (a status line or free text)
 *   exit (code, signal)      the process ended (after its last output line); also when the output
 *                            stream broke or the agent went away: then (null, null), after `error`
 *   error (AgentError)       the output stream broke; emitted only when someone listens
 *   note (message)           something failed that did not end the process (a stdin write)
 *
 * The output stream is opened on construction; listeners attached right after `spawn` resolves
 * (before the event loop turns) see every line. Control lines are posted in order, one at a time.
 */
import { EventEmitter } from 'node:events';
import type { Json } from '../../harness/protocol.ts';
import { LineSplitter } from '../local/control.ts';
import { isSignalResponse, parseOutputLine, type AgentSignal, type ExitStatus } from './protocol.ts';
import { AgentError, type Transport } from './transport.ts';

export interface AgentProcessEvents {
  stdout: [line: string, partial: boolean];
  stderr: [line: string, partial: boolean];
  exit: [code: number | null, signal: string | null];
  error: [err: AgentError];
  note: [message: string];
}

/** Splits an NDJSON byte stream into lines, whatever the chunk boundaries (UTF-8 included). */
export class NdjsonSplitter {
  private readonly decoder = new TextDecoder();
  private readonly lines = new LineSplitter();
  push(chunk: Uint8Array): string[] {
    return this.lines.push(this.decoder.decode(chunk, { stream: true }));
  }
  /** Whatever was left unterminated at the end of the stream. */
  end(): string {
    return this.lines.push(this.decoder.decode() + '\n')[0] ?? '';
  }
}

export class AgentProcess extends EventEmitter<AgentProcessEvents> {
  exitCode: number | null = null;
  signalCode: string | null = null;
  /** Resolves with the exit status once `exit` was emitted. */
  readonly done: Promise<ExitStatus>;
  private ended = false;
  private resolveDone!: (s: ExitStatus) => void;
  private inputChain: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();

  constructor(
    private readonly transport: Transport,
    /** The caller's label. */
    readonly id: string,
    /** The agent's id of the process. */
    readonly proc: string,
    /** The process's pid on the agent host. */
    readonly pid: number,
  ) {
    super();
    this.done = new Promise((r) => (this.resolveDone = r));
    void this.readOutput();
  }

  /** Whether `exit` was emitted. */
  get exited(): boolean {
    return this.ended;
  }

  /** Sends one control line to the process's stdin. Failures after the exit are ignored. */
  write(line: Json): void {
    this.postInput({ line }, 'write a control line');
  }

  /** Closes the process's stdin (a protocheck process then stops), after the pending writes. */
  endInput(): void {
    this.postInput({ end: true }, 'close stdin');
  }

  /** Delivers a signal; false when the process is gone. Rejects with an `AgentError` when the agent cannot be asked. */
  async signal(sig: AgentSignal): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.transport.request('POST', `/v1/procs/${this.proc}/signal`, { signal: sig });
    if (!isSignalResponse(r)) throw new AgentError(`agent at ${this.transport.url}: malformed answer to a signal: ${JSON.stringify(r)}`, 'protocol');
    return r.delivered;
  }

  /** Stops reading the output; the process keeps running on the agent. Emits `exit` (null, null) if it had not exited. */
  detach(): void {
    this.abort.abort();
  }

  private postInput(body: Json, what: string): void {
    this.inputChain = this.inputChain.then(async () => {
      if (this.ended) return;
      try {
        await this.transport.request('POST', `/v1/procs/${this.proc}/stdin`, body);
      } catch (err) {
        if (!this.ended) this.emit('note', `${this.id}: cannot ${what}: ${(err as Error).message}`);
      }
    });
  }

  private async readOutput(): Promise<void> {
    const path = `/v1/procs/${this.proc}/output`;
    const splitter = new NdjsonSplitter();
    try {
      const body = await this.transport.stream(path, this.abort);
      for await (const chunk of body) {
        for (const line of splitter.push(chunk)) this.onLine(line);
        if (this.ended) return;
      }
      const tail = splitter.end();
      if (tail) this.onLine(tail);
      if (!this.ended) this.broken(new AgentError(`agent at ${this.transport.url}: the output of ${this.id} ended without an exit status`, 'protocol'));
    } catch (err) {
      if (this.ended) return;
      const e = this.abort.signal.aborted && !(err instanceof AgentError)
        ? new AgentError(`${this.id}: output reading stopped (detached)`, 'protocol')
        : this.transport.transportError(err, 'GET', path, false);
      this.broken(e);
    }
  }

  private onLine(text: string): void {
    if (this.ended || !text) return;
    const o = parseOutputLine(text);
    if (!o) {
      this.emit('note', `${this.id}: malformed output line from the agent ignored: ${text.slice(0, 120)}`);
      return;
    }
    if ('exit' in o) this.finish(o.exit);
    else this.emit(o.s === 'out' ? 'stdout' : 'stderr', o.line, o.partial === true);
  }

  private broken(err: AgentError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.finish({ code: null, signal: null });
  }

  private finish(s: ExitStatus): void {
    if (this.ended) return;
    this.ended = true;
    this.exitCode = s.code;
    this.signalCode = s.signal;
    this.abort.abort();
    this.emit('exit', s.code, s.signal);
    this.resolveDone(s);
  }
}
