/**
 * The docker CLI, run through `execFile` (no shell). Every Docker call of the docker testbed goes
 * through `docker()`; a failure is a `DockerError` carrying the command line and its stderr.
 */
import { execFile } from 'node:child_process';

export class DockerError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | string | null,
    message?: string,
  ) {
    super(message ?? `\`${command}\` failed (${exitCode ?? 'killed'}): ${stderr.trim() || '(no stderr)'}`);
  }
}

export interface DockerOptions {
  /** Kill the command after this many ms (default 120 000). */
  readonly timeoutMs?: number;
  /** Written to the command's stdin. */
  readonly input?: string | Buffer;
}

export interface DockerResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** The command line as text, for messages. */
export function commandLine(args: readonly string[]): string {
  return ['docker', ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs `docker …args`; resolves with its output on exit 0, rejects with a `DockerError` otherwise. */
export function docker(args: readonly string[], o: DockerOptions = {}): Promise<DockerResult> {
  return dockerSettled(args, o).then((r) => {
    if (r.ok) return { stdout: r.stdout, stderr: r.stderr };
    throw r.error;
  });
}

export type DockerSettled =
  | { readonly ok: true; readonly stdout: string; readonly stderr: string }
  | { readonly ok: false; readonly stdout: string; readonly stderr: string; readonly error: DockerError };

/** Runs `docker …args` and resolves in every case (a failure carries its `DockerError`). */
export function dockerSettled(args: readonly string[], o: DockerOptions = {}): Promise<DockerSettled> {
  return new Promise((resolve) => {
    const child = execFile(
      'docker',
      [...args],
      { timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ ok: true, stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        const cmd = commandLine(args);
        const error =
          e.code === 'ENOENT'
            ? new DockerError(cmd, stderr, e.code, `\`${cmd}\`: the docker CLI is not installed (run ci/docker-engine.sh)`)
            : e.killed
              ? new DockerError(cmd, stderr, 'timeout', `\`${cmd}\` timed out after ${o.timeoutMs ?? 120_000} ms: ${stderr.trim()}`)
              : new DockerError(cmd, stderr, typeof e.code === 'number' ? e.code : (e.code ?? null));
        resolve({ ok: false, stdout, stderr, error });
      },
    );
    if (o.input !== undefined) child.stdin?.end(o.input);
    else child.stdin?.end();
  });
}
