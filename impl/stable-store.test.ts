import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStableStore, MemoryStableStore, StableStoreError, isStateName, stateFilePath } from './stable-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'stable-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stable stores', () => {
  it('a file store round-trips, replaces atomically and leaves no temporary file', () => {
    const s = new FileStableStore(join(dir, 'sub', 'n1.json'), { fsync: true });
    expect(s.load()).toBeUndefined();
    s.save({ term: 3, votedFor: 'node2', log: [[1, 'a', 2]] });
    s.save({ term: 4, votedFor: null, log: [] });
    expect(new FileStableStore(join(dir, 'sub', 'n1.json')).load()).toEqual({ term: 4, votedFor: null, log: [] });
    expect(readdirSync(join(dir, 'sub'))).toEqual(['n1.json']);
  });

  it('a corrupt file is an error that names the file, not an empty state', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{"term": 3');
    expect(() => new FileStableStore(path).load()).toThrow(StableStoreError);
    expect(() => new FileStableStore(path).load()).toThrow(/bad\.json is not JSON/);
  });

  it('a memory store keeps a copy, not the caller\'s object', () => {
    const m = new MemoryStableStore();
    const state = { log: [1] };
    m.save(state);
    state.log.push(2);
    expect(m.load()).toEqual({ log: [1] });
  });

  it('state names cannot leave the state directory', () => {
    for (const bad of ['', '../x', 'a/b', '/etc/passwd', 'a..b', '.hidden', 'x'.repeat(200)]) {
      expect(isStateName(bad), bad).toBe(false);
      expect(() => stateFilePath(bad)).toThrow(StableStoreError);
    }
    expect(isStateName('run-12-ab_c.node1')).toBe(true);
    expect(stateFilePath('run-1-node1')).toBe(join(tmpdir(), 'protocheck-state', 'run-1-node1.json'));
    expect(existsSync(join(tmpdir(), 'protocheck-state', 'never-written.json'))).toBe(false);
  });
});
