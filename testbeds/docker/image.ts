/**
 * The docker testbed's node image, built locally from scratch (no registry, never a pull): the
 * running Node binary at `/usr/bin/node`, the shared libraries `ldd` lists for it (with the dynamic
 * loader) at their own paths, an empty `/tmp`, and the project bundled into one file
 * `/app/protocheck.mjs` (entry `container-main.ts`). Entrypoint `node /app/protocheck.mjs`, so
 * `docker run <image> node r2p2-server --listen …` runs `protocheck node r2p2-server --listen …`.
 *
 * The tag is `protocheck-node:<16 hex>` of a hash over the bundle's bytes, the Node version and the
 * library list; an image with that tag already present is reused.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { DockerError, docker, dockerSettled } from './cli.ts';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');
export const CONTAINER_ENTRY = resolve(import.meta.dirname, 'container-main.ts');
export const IMAGE_REPO = 'protocheck-node';
export const IMAGE_NODE = '/usr/bin/node';
export const IMAGE_BUNDLE = '/app/protocheck.mjs';
/** Bumped when the image's layout changes, so older images are not reused. */
const LAYOUT_VERSION = 1;

export interface BundleInfo {
  readonly outFile: string;
  readonly bytes: number;
  readonly warnings: readonly string[];
}

/**
 * Bundles `container-main.ts` and everything it imports into one ESM file for Node 20 (no
 * dependencies needed beside it). The output is the same bytes for the same sources.
 */
export async function bundleProject(outFile: string): Promise<BundleInfo> {
  const r = await build({
    entryPoints: [CONTAINER_ENTRY],
    absWorkingDir: PROJECT_ROOT,
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    keepNames: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    banner: { js: "import { createRequire as __protocheckCreateRequire } from 'node:module';\nconst require = __protocheckCreateRequire(import.meta.url);" },
  });
  const warnings = r.warnings.map((w) => `${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`);
  return { outFile, bytes: (await stat(outFile)).size, warnings };
}

/** The shared libraries `ldd` lists for a binary, the dynamic loader included, as absolute paths. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const out = await new Promise<string>((res, rej) =>
    execFile('ldd', [binary], { encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? rej(new Error(`ldd ${binary} failed: ${stderr.trim() || err.message}`)) : res(stdout),
    ),
  );
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  if (![...libs].some((l) => /ld-linux|ld-musl/.test(l))) throw new Error(`ldd ${binary}: no dynamic loader listed:\n${out}`);
  return [...libs].sort();
}

export interface NodeImageInfo {
  readonly tag: string;
  /** False when an image with this tag was already present. */
  readonly built: boolean;
  readonly bundle: BundleInfo;
  readonly libraries: readonly string[];
  readonly ms: number;
}

const inFlight = new Map<string, Promise<boolean>>();

/** The image's tag, building it first if absent. */
export async function ensureNodeImage(): Promise<string> {
  return (await ensureNodeImageInfo()).tag;
}

/** `ensureNodeImage` with what it did: whether it built, the bundle, the libraries, the time taken. */
export async function ensureNodeImageInfo(): Promise<NodeImageInfo> {
  const t0 = performance.now();
  const work = await mkdtemp(join(tmpdir(), 'protocheck-image-'));
  try {
    const root = join(work, 'root');
    const bundleFile = join(root, IMAGE_BUNDLE);
    await mkdir(dirname(bundleFile), { recursive: true });
    const bundle = await bundleProject(bundleFile);
    const libraries = await sharedLibraries(process.execPath);
    const hash = createHash('sha256')
      .update(`layout ${LAYOUT_VERSION}\nnode ${process.version} ${process.arch}\n`)
      .update(`libs ${libraries.join(' ')}\n`)
      .update(await readFile(bundleFile))
      .digest('hex');
    const tag = `${IMAGE_REPO}:${hash.slice(0, 16)}`;
    let job = inFlight.get(tag);
    if (!job) {
      job = buildIfAbsent(tag, hash, root, libraries, work);
      inFlight.set(tag, job);
      job.finally(() => inFlight.delete(tag)).catch(() => {});
    }
    const built = await job;
    return { tag, built, bundle, libraries, ms: performance.now() - t0 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function imagePresent(tag: string): Promise<boolean> {
  const r = await dockerSettled(['image', 'inspect', '--format', '{{.Id}}', tag], { timeoutMs: 30_000 });
  if (r.ok) return true;
  if (/no such image/i.test(r.stderr)) return false;
  throw r.error;
}

async function buildIfAbsent(tag: string, hash: string, root: string, libraries: readonly string[], work: string): Promise<boolean> {
  if (await imagePresent(tag)) return false;
  await mkdir(join(root, 'tmp'), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  const place = async (src: string, dst: string): Promise<void> => {
    const to = join(root, dst);
    await mkdir(dirname(to), { recursive: true });
    await copyFile(src, to);
    await chmod(to, 0o755);
  };
  await place(process.execPath, IMAGE_NODE);
  for (const lib of libraries) await place(lib, lib);
  const tar = join(work, 'image.tar');
  await new Promise<void>((res, rej) =>
    execFile(
      'tar',
      ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.'],
      { encoding: 'utf8' },
      (err, _o, stderr) => (err ? rej(new Error(`tar of the image root failed: ${stderr.trim() || err.message}`)) : res()),
    ),
  );
  const changes = [
    `ENTRYPOINT ["${IMAGE_NODE}", "${IMAGE_BUNDLE}"]`,
    'WORKDIR /app',
    'LABEL protocheck=1',
    `LABEL protocheck.image=node protocheck.hash=${hash}`,
  ];
  try {
    await docker(['import', ...changes.flatMap((c) => ['--change', c]), tar, tag], { timeoutMs: 300_000 });
  } catch (err) {
    if (err instanceof DockerError) throw new DockerError(err.command, err.stderr, err.exitCode, `building image ${tag}: ${err.message}`);
    throw err;
  }
  return true;
}

/** `docker image inspect` size of an image, in bytes. */
export async function imageSize(tag: string): Promise<number> {
  const { stdout } = await docker(['image', 'inspect', '--format', '{{.Size}}', tag]);
  return Number(stdout.trim());
}
