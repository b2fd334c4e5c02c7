/** Runs SANY and TLC on a spec and reads their verdicts. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseTlcOutput, type TlcResult } from './result.ts';
import { parseSanyErrors, type TlaError } from './sany.ts';
import { ensureTools, type Tools } from './tools.ts';

export interface SanyResult {
  readonly ok: boolean;
  readonly errors: readonly TlaError[];
  readonly output: string;
}

export interface TlcOptions {
  /** The `.tla` module (the extension may be left off), relative to `cwd`. */
  readonly module: string;
  /** Its `.cfg`, relative to `cwd`. */
  readonly config: string;
  /** TLC worker threads (default 1: the same counterexample every run). */
  readonly workers?: number;
  /** TLC is killed after this long and the result is an `error` (default 10 minutes). */
  readonly timeoutMs?: number;
  /** More TLC options, placed before the module. */
  readonly extraArgs?: readonly string[];
  /** Directory TLC runs in and paths are relative to (default: the process's). */
  readonly cwd?: string;
  /** Report states without successors as deadlocks (default false). */
  readonly deadlock?: boolean;
  /** Java and jar to use (default: `ensureTools()`). */
  readonly tools?: Tools;
}

export const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/** JVMs still running, killed if this process exits first. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

interface JavaRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly wallMs: number;
}

/**
 * Runs `java <args>` with a private temporary directory (TLC's metadir and the standard modules
 * it unpacks go there, so concurrent runs never collide and nothing lands next to the specs).
 */
async function runJava(
  tools: Tools,
  args: (tmp: string) => string[],
  cwd: string,
  timeoutMs: number,
): Promise<JavaRun> {
  const tmp = await mkdtemp(join(tmpdir(), 'protocheck-tlc-'));
  if (!exitHookInstalled) {
    process.on('exit', () => running.forEach((child) => child.kill('SIGKILL')));
    exitHookInstalled = true;
  }
  const started = performance.now();
  try {
    return await new Promise<JavaRun>((resolvePromise, reject) => {
      const child = spawn(tools.java, [`-Djava.io.tmpdir=${tmp}`, ...args(tmp)], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err) => {
        clearTimeout(timer);
        running.delete(child);
        reject(new Error(`could not start ${tools.java}: ${err.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        running.delete(child);
        resolvePromise({ code, stdout, stderr, timedOut, wallMs: Math.round(performance.now() - started) });
      });
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const isFile = (path: string) => stat(path).then((s) => s.isFile(), () => false);
const tail = (text: string) => text.trim().split('\n').slice(-10).join('\n');

/** Parses and semantically checks a module with SANY. */
export async function runSany(
  modulePath: string,
  options: { cwd?: string; timeoutMs?: number; tools?: Tools } = {},
): Promise<SanyResult> {
  const file = resolve(options.cwd ?? '.', modulePath);
  if (!(await isFile(file))) {
    return { ok: false, errors: [{ file, message: `TLA+ module not found: ${file}` }], output: '' };
  }
  const tools = options.tools ?? (await ensureTools());
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const run = await runJava(tools, () => ['-cp', tools.jar, 'tla2sany.SANY', file], resolve(options.cwd ?? '.'), timeoutMs);
  const output = run.stderr ? `${run.stdout}\n${run.stderr}` : run.stdout;
  const errors = run.timedOut ? [{ file, message: `SANY did not finish within ${timeoutMs} ms and was killed` }] : parseSanyErrors(output);
  if (errors.length === 0 && run.code !== 0) errors.push({ file, message: `SANY exited with code ${run.code}:\n${tail(output)}` });
  return { ok: errors.length === 0, errors, output };
}

const errorResult = (message: string, errors: readonly TlaError[] = [], wallMs = 0): TlcResult => ({
  outcome: 'error',
  message,
  statesGenerated: 0,
  distinctStates: 0,
  depth: 0,
  wallMs,
  printed: [],
  errors: errors.length > 0 ? errors : [{ message }],
  raw: '',
});

/** Model-checks `module` with `config`. Throws `TlcSetupError` only if Java or the jar is missing. */
export async function runTlc(options: TlcOptions): Promise<TlcResult> {
  const cwd = resolve(options.cwd ?? '.');
  const module = resolve(cwd, options.module.endsWith('.tla') ? options.module : `${options.module}.tla`);
  const config = resolve(cwd, options.config);
  if (!(await isFile(module))) return errorResult(`TLA+ module not found: ${module}`, [{ file: module, message: 'not found' }]);
  if (!(await isFile(config))) return errorResult(`TLC config not found: ${config}`, [{ file: config, message: 'not found' }]);
  const tools = options.tools ?? (await ensureTools());
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const run = await runJava(
    tools,
    (tmp) => [
      '-XX:+UseParallelGC',
      '-cp', tools.jar,
      'tlc2.TLC', '-tool',
      '-config', config,
      '-workers', String(options.workers ?? 1),
      '-metadir', join(tmp, 'states'),
      ...(options.deadlock ? [] : ['-deadlock']),
      ...(options.extraArgs ?? []),
      module,
    ],
    cwd,
    timeoutMs,
  );
  const raw = run.stderr ? `${run.stdout}\n${run.stderr}` : run.stdout;
  const verdict = parseTlcOutput(run.stdout);
  if (run.timedOut) {
    const message = `TLC did not finish within ${timeoutMs} ms and was killed; raise timeoutMs or make the model smaller`;
    return { ...verdict, outcome: 'error', message, errors: [...verdict.errors, { message }], wallMs: run.wallMs, raw };
  }
  if (verdict.outcome === 'error' && verdict.errors.length === 0) {
    const message = `TLC exited with code ${run.code} without reporting a result:\n${tail(raw)}`;
    return { ...verdict, message, errors: [{ message }], wallMs: run.wallMs, raw };
  }
  return { ...verdict, wallMs: run.wallMs, raw };
}
