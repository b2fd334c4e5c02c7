/**
 * How a process testbed starts its processes. A `Launcher` runs `protocheck <argv>` for a node
 * somewhere (a child of this harness, a process an agent runs on a lab host or in a container) and
 * hands back a `LaunchedProcess`: control lines in (stdin), stdout/stderr lines out, signals, exit.
 * `ProcessRun` (run.ts) drives every testbed built on processes through this interface only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { stateFilePath } from '../../impl/stable-store.ts';
import type { NodeId } from '../../impl/core.ts';
import type { Json } from '../../harness/protocol.ts';
import { LineSplitter } from '../local/control.ts';
import { killChild, track } from '../local/reaper.ts';

export type ProcSignal = 'SIGKILL' | 'SIGSTOP' | 'SIGCONT';

export interface LaunchedProcessEvents {
  /** A whole stdout line (`partial`: the last bytes before the stream ended, without a newline). */
  stdout: [line: string, partial: boolean];
  stderr: [line: string, partial: boolean];
  exit: [code: number | null, signal: string | null];
  /** The process could not be started or its stream broke; an `exit` follows. */
  error: [err: Error];
  /** Something the run's notes should mention. */
  note: [message: string];
}

export interface LaunchedProcess extends EventEmitter<LaunchedProcessEvents> {
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** Writes one control line (JSON) to its stdin; ignored once it is gone. */
  write(line: Json): void;
  /** Closes its stdin. */
  endInput(): void;
  /** Sends a signal; resolves to false when the process is gone. */
  signal(sig: ProcSignal): Promise<boolean>;
}

export interface Launcher {
  /** Short name for notes (`local`, `docker`, `hardware`). */
  readonly name: string;
  /** Starts `protocheck <argv>` for node `id` (the switch is node `switch`). */
  launch(id: NodeId, argv: readonly string[]): Promise<LaunchedProcess>;
  /**
   * How far node `id`'s host's monotonic clock is ahead of the harness's, in ns (0 on this host).
   * The run sends each process its origin in its own host's clock.
   */
  clockOffsetNs(id: NodeId): bigint;
  /** Freezes node `id`'s host (default: SIGSTOP of the process). Resolves to false if it could not. */
  freeze?(id: NodeId, proc: LaunchedProcess): Promise<boolean>;
  /** Thaws what `freeze` froze (default: SIGCONT). */
  thaw?(id: NodeId, proc: LaunchedProcess): Promise<boolean>;
  /**
   * Removes the nodes' stable state files (`--state NAME`) once the run is over. Launchers whose
   * processes run in throw-away containers need not.
   */
  discardState?(names: readonly string[]): void;
  /**
   * Cuts node `id`'s network link (e.g. disconnects its container from the run's network); resolves
   * to false if it could not. Without it, the run has the switch drop the node's packets.
   */
  disconnect?(id: NodeId): Promise<boolean>;
  /** Mends what `disconnect` cut. */
  reconnect?(id: NodeId): Promise<boolean>;
}

/** A child process of this harness as a `LaunchedProcess`. */
export class ChildLaunchedProcess extends EventEmitter<LaunchedProcessEvents> implements LaunchedProcess {
  constructor(private readonly child: ChildProcess) {
    super();
    track(child);
    child.stdin!.on('error', () => {}); // EPIPE after the process died: nothing to do
    for (const [stream, name] of [[child.stdout!, 'stdout'], [child.stderr!, 'stderr']] as const) {
      const lines = new LineSplitter();
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        for (const line of lines.push(chunk)) this.emit(name, line, false);
      });
      stream.on('end', () => {
        if (lines.partial) this.emit(name, lines.partial, true);
      });
    }
    child.once('error', (e) => this.emit('error', e));
    // 'close': the exit status once the streams have delivered everything.
    child.once('close', (code, signal) => this.emit('exit', code, signal));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  write(line: Json): void {
    if (this.exited || !this.child.stdin!.writable) return;
    this.child.stdin!.write(JSON.stringify(line) + '\n');
  }

  endInput(): void {
    this.child.stdin!.end();
  }

  async signal(sig: ProcSignal): Promise<boolean> {
    if (this.exited) return false;
    if (sig === 'SIGKILL') {
      killChild(this.child);
      return true;
    }
    try {
      return this.child.kill(sig);
    } catch {
      return false;
    }
  }
}

/** Runs `protocheck` processes as children of this harness (`bin/protocheck.mjs` under `root`). */
export class ChildLauncher implements Launcher {
  readonly name = 'local';
  constructor(
    private readonly root: string,
    /** A module exporting extra `roles`, passed to every process as `--roles` (toy protocols, tests). */
    private readonly roleModule?: string,
  ) {}

  async launch(_id: NodeId, argv: readonly string[]): Promise<LaunchedProcess> {
    const bin = resolve(this.root, 'bin', 'protocheck.mjs');
    const extra = this.roleModule ? ['--roles', this.roleModule] : [];
    const child = spawn(process.execPath, [bin, ...argv, ...extra], { cwd: this.root, stdio: ['pipe', 'pipe', 'pipe'] });
    return new ChildLaunchedProcess(child);
  }

  clockOffsetNs(): bigint {
    return 0n;
  }

  discardState(names: readonly string[]): void {
    for (const name of names) rmSync(stateFilePath(name), { force: true });
  }
}
