/**
 * No orphan processes: every child the local testbed spawns is registered here and SIGKILLed
 * (which also ends a SIGSTOPped one) when the harness exits, normally or on SIGINT / SIGTERM /
 * SIGHUP. A harness that is itself SIGKILLed closes the children's stdin, and a node process
 * stops on end of stdin (and when it is re-parented); see `control.ts`.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let installed = false;

export function killChild(c: ChildProcess): void {
  if (c.exitCode !== null || c.signalCode !== null) return;
  try {
    c.kill('SIGKILL');
  } catch {
    // already gone
  }
}

export function killAllChildren(): void {
  for (const c of live) killChild(c);
}

function onSignal(sig: NodeJS.Signals): void {
  killAllChildren();
  // Keep the default behaviour (terminate) when nobody else handles the signal.
  if (process.listenerCount(sig) === 1) {
    process.removeListener(sig, onSignal);
    process.kill(process.pid, sig);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllChildren);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

export function track(c: ChildProcess): void {
  install();
  live.add(c);
  c.once('exit', () => live.delete(c));
}

export function liveChildren(): number {
  return live.size;
}
