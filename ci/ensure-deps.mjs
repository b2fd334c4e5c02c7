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
