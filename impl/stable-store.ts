/**
 * Stable storage for a core's `persist` outputs (`impl/core.ts`), as the drivers of real processes
 * keep it: the last persisted state, written durably before the outputs that follow it are
 * executed, and read back when the node starts again.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { StableState } from './core.ts';

export interface StableStore {
  /** The last saved state, or undefined when nothing was saved. Throws on a corrupt store. */
  load(): StableState | undefined;
  /** Replaces the saved state durably (returns once it would survive a crash of the process). */
  save(state: StableState): void;
}

export class StableStoreError extends Error {}

export class MemoryStableStore implements StableStore {
  private state: StableState | undefined;
  load(): StableState | undefined {
    return this.state;
  }
  save(state: StableState): void {
    this.state = JSON.parse(JSON.stringify(state)) as StableState;
  }
}

/**
 * A JSON file written atomically: a temporary file is written, then renamed over the old one, so a
 * kill at any moment leaves either the old or the new state, never a torn one.
 *
 * Durability: the crashes the testbeds inject kill the process, not the machine, and the kernel
 * keeps what a killed process wrote; so by default the file is not fsynced (an fsync costs several
 * ms per write on a loaded disk, which would stretch every Raft step). `fsync: true` syncs the
 * temporary file before the rename, for state that must survive a power loss.
 */
export class FileStableStore implements StableStore {
  constructor(readonly path: string, private readonly options: { readonly fsync?: boolean } = {}) {}

  load(): StableState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StableStoreError(`cannot read stable state ${this.path}: ${(err as Error).message}`);
    }
    try {
      return JSON.parse(text) as StableState;
    } catch (err) {
      throw new StableStoreError(`stable state ${this.path} is not JSON (${(err as Error).message}); refusing to start without it`);
    }
  }

  save(state: StableState): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(state));
      if (this.options.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}

const STATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Whether `name` may name a state file (letters, digits, `.`, `_`, `-`; no path separators). */
export function isStateName(name: string): boolean {
  return STATE_NAME.test(name) && !name.includes('..');
}

/**
 * The file that holds the stable state named `name`: under `<tmpdir>/protocheck-state/`, so a
 * process asked to keep state (possibly by a remote harness, through an agent) can only ever write
 * inside that directory.
 */
export function stateFilePath(name: string): string {
  if (!isStateName(name)) throw new StableStoreError(`state name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' only`);
  return join(tmpdir(), 'protocheck-state', `${name}.json`);
}
