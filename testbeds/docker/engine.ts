/**
 * The Docker engine: whether it answers, starting it (`ci/docker-engine.sh`), and the rule tests
 * follow when it does not answer (skip with a reason, or run and fail when
 * `PROTOCHECK_REQUIRE_DOCKER=1`, as in CI).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { dockerSettled } from './cli.ts';

export const ENGINE_SCRIPT = resolve(import.meta.dirname, '..', '..', 'ci', 'docker-engine.sh');
export const DOCKERD_LOG = '/tmp/protocheck-dockerd.log';

export class DockerSetupError extends Error {}

/** True when `docker info` answers within `timeoutMs`. Never throws. */
export async function engineAvailable(timeoutMs = 5_000): Promise<boolean> {
  const r = await dockerSettled(['info', '--format', '{{.ServerVersion}}'], { timeoutMs });
  return r.ok && r.stdout.trim() !== '';
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Makes the engine answer: runs `ci/docker-engine.sh` (installs docker.io if needed, starts
 * dockerd, waits for it). Throws a `DockerSetupError` with the script's output and the dockerd log's
 * tail when the engine still does not answer.
 */
export async function ensureEngine(): Promise<void> {
  if (await engineAvailable()) return;
  const out = await new Promise<{ code: number | string | null; text: string }>((res) => {
    execFile('bash', [ENGINE_SCRIPT], { timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      res({ code: e ? (e.code ?? null) : 0, text: `${stdout}${stderr}` });
    });
  });
  if (out.code === 0 && (await engineAvailable())) return;
  let detail = tail(out.text, 30);
  if (!detail.includes(DOCKERD_LOG)) {
    try {
      detail += `\n--- ${DOCKERD_LOG} ---\n${tail(readFileSync(DOCKERD_LOG, 'utf8'), 20)}`;
    } catch {
      detail += `\n(no ${DOCKERD_LOG})`;
    }
  }
  throw new DockerSetupError(`the Docker engine could not be started (ci/docker-engine.sh exit ${out.code}):\n${detail}`);
}

export type DockerRequirement = { readonly run: true } | { readonly run: false; readonly reason: string };

/** Whether the environment demands Docker tests run (`PROTOCHECK_REQUIRE_DOCKER=1`, as in CI). */
export function dockerRequired(): boolean {
  return process.env.PROTOCHECK_REQUIRE_DOCKER === '1';
}

/**
 * For tests that need the engine: `{ run: true }` when it answers or when
 * `PROTOCHECK_REQUIRE_DOCKER=1` (the tests then run and fail on the missing engine);
 * `{ run: false, reason }` otherwise.
 */
export async function dockerRequirement(): Promise<DockerRequirement> {
  if (dockerRequired() || (await engineAvailable())) return { run: true };
  return {
    run: false,
    reason: 'no Docker engine answers `docker info` (start one with `bash ci/docker-engine.sh`; PROTOCHECK_REQUIRE_DOCKER=1 makes this a failure)',
  };
}
