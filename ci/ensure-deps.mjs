#!/usr/bin/env node
// First-use set-up for `npm start`, `npm test` and `npm run bench`: installs the npm dependencies
// from the lockfile when they are missing or stale, then fetches the TLA+ tools if missing.
// Plain Node with no dependencies, since it runs before any are installed.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const stale = !existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
if (stale) {
  console.error('protocheck: installing npm dependencies (npm ci)…');
  execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}
execFileSync(process.execPath, [join(root, 'bin', 'protocheck.mjs'), 'setup'], { cwd: root, stdio: 'inherit' });

// `--docker` (npm test): the docker and hardware tests need an engine. As root on a machine with
// apt, ci/docker-engine.sh installs and starts one if none answers; otherwise those tests skip
// with a one-line reason (or fail, when PROTOCHECK_REQUIRE_DOCKER=1, as in CI).
if (process.argv.includes('--docker')) {
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  const answers = () => {
    try {
      execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  };
  if (!answers()) {
    if (canInstall) {
      try {
        execFileSync('bash', [join(root, 'ci', 'docker-engine.sh')], { cwd: root, stdio: 'inherit' });
      } catch {
        console.error('protocheck: could not start a Docker engine; the docker and hardware tests will skip (or fail in CI)');
      }
    } else {
      console.error('protocheck: no Docker engine answers and this user cannot install one; the docker and hardware tests will skip');
    }
  }
}
