// Used only by cleanup.test.ts: runs `node <argv…>` (a harness) as its child with stdout and
// stderr passed through, and reports on fd 3, one JSON line each: `{"pid":N}` once the child runs,
// `{"exit":code,"signal":sig}` when it has reaped it. It then exits.
//
// Why a parent of its own: the test SIGSTOPs this process before it SIGKILLs the harness, so the
// dead harness stays a zombie (nobody reaps it) and its pid still answers `kill(pid, 0)`. Until the
// test SIGCONTs this process, other harnesses (other test files running at the same time) see the
// owner alive and leave its containers alone: the leak can be observed without a race.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

const report = createWriteStream('', { fd: 3 });
const child = spawn(process.execPath, process.argv.slice(2), { stdio: ['ignore', 'inherit', 'inherit'] });
child.once('spawn', () => report.write(JSON.stringify({ pid: child.pid }) + '\n'));
child.once('error', (err) => {
  report.end(JSON.stringify({ error: err.message }) + '\n', () => process.exit(1));
});
child.once('exit', (code, signal) => {
  report.end(JSON.stringify({ exit: code, signal }) + '\n', () => process.exit(0));
});
