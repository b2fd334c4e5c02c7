/**
 * The agent's HTTP server (`protocheck agent`): runs `protocheck node …` / `protocheck switch …`
 * processes for a harness on another host, streams their output back, forwards control lines and
 * signals. The API is described in `protocol.ts`.
 *
 * Every request must carry `Authorization: Bearer <secret>`; anything else gets 401 before it is
 * looked at. A bad request gets a 4xx `{error}` and changes nothing; a handler that throws gets a
 * 500 and the agent carries on. The processes are SIGKILLed on `close()` and when the agent
 * process exits (`testbeds/local/reaper.ts`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProc, type Launcher } from './procs.ts';
import {
  AGENT_NAME, AGENT_VERSION, validateSignal, validateSpawn, validateStdin,
  type AgentInfo, type Checked, type ClockResponse, type KillAllResponse, type SignalResponse, type SpawnPolicy,
  type SpawnResponse, type StdinResponse,
} from './protocol.ts';

export type { Launcher } from './procs.ts';

export interface AgentOptions {
  /** Listen address (default 127.0.0.1). */
  readonly host?: string;
  /** Listen port; 0 (the default) picks an ephemeral one. */
  readonly port?: number;
  /** The shared secret callers present as `Authorization: Bearer <secret>`. Required, non-empty. */
  readonly secret: string;
  /** Roles this host may run (`switch` = the software switch). */
  readonly allowedRoles: readonly string[];
  /** Simulated offset of this host's clock from `process.hrtime.bigint()` (ns, default 0). */
  readonly clockSkewNs?: bigint;
  /** How a protocheck process is started (default: `defaultLauncher()`). */
  readonly launcher?: Launcher;
  /** Accept `--roles MODULE` (code loaded into the process). Tests only. */
  readonly allowRoleModules?: boolean;
  /** Log one line per request to stderr. */
  readonly verbose?: boolean;
  /** Output kept per process while nobody reads it (default 16 MiB). */
  readonly maxOutputBufferBytes?: number;
}

export interface AgentServer {
  readonly url: string;
  readonly port: number;
  /** Kills every process the agent started, waits for them, closes the server. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const DEFAULT_OUTPUT_BUFFER = 16 << 20;
const CLOSE_WAIT_MS = 5000;

/** `node bin/protocheck.mjs …` of this checkout. */
export function defaultLauncher(root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')): Launcher {
  return { command: process.execPath, prefixArgs: [resolve(root, 'bin', 'protocheck.mjs')], cwd: root };
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse, proc: string | undefined) => Promise<void> | void;

interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

export async function startAgent(opts: AgentOptions): Promise<AgentServer> {
  if (typeof opts.secret !== 'string' || opts.secret.length === 0) throw new Error('startAgent: a non-empty secret is required');
  if (!Array.isArray(opts.allowedRoles) || !opts.allowedRoles.every((r) => typeof r === 'string' && r.length > 0)) {
    throw new Error('startAgent: allowedRoles must be a list of role names');
  }
  const agent = new Agent(opts);
  const server = createServer((req, res) => void agent.handle(req, res));
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', rej);
      res();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    close: () => agent.close(server),
  };
}

class Agent {
  private readonly procs = new Map<string, ManagedProc>();
  private nextProc = 1;
  private readonly secretHash: Buffer;
  private readonly skew: bigint;
  private readonly launcher: Launcher;
  private readonly policy: SpawnPolicy;
  private readonly routes: readonly Route[];

  constructor(private readonly opts: AgentOptions) {
    this.secretHash = sha256(opts.secret);
    this.skew = opts.clockSkewNs ?? 0n;
    this.launcher = opts.launcher ?? defaultLauncher();
    this.policy = { allowedRoles: [...opts.allowedRoles], allowRoleModules: opts.allowRoleModules ?? false };
    this.routes = [
      { pattern: /^\/v1\/info$/, methods: { GET: (_q, res) => this.info(res) } },
      { pattern: /^\/v1\/clock$/, methods: { GET: (_q, res) => this.clock(res) } },
      { pattern: /^\/v1\/procs$/, methods: { POST: (q, res) => this.spawn(q, res), DELETE: (_q, res) => this.killAll(res) } },
      { pattern: /^\/v1\/procs\/([^/]+)\/output$/, methods: { GET: (_q, res, p) => this.output(res, p!) } },
      { pattern: /^\/v1\/procs\/([^/]+)\/stdin$/, methods: { POST: (q, res, p) => this.stdin(q, res, p!) } },
      { pattern: /^\/v1\/procs\/([^/]+)\/signal$/, methods: { POST: (q, res, p) => this.signal(q, res, p!) } },
    ];
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const path = (req.url ?? '/').split('?')[0]!;
    if (this.opts.verbose) {
      res.once('close', () => {
        process.stderr.write(`agent: ${req.method} ${path} ${res.statusCode} ${(performance.now() - t0).toFixed(1)} ms\n`);
      });
    }
    try {
      if (!this.authorized(req)) throw new HttpError(401, 'unauthorized');
      const route = this.routes.find((r) => r.pattern.test(path));
      if (!route) throw new HttpError(404, `no such endpoint: ${path}`);
      const handler = route.methods[req.method ?? ''];
      if (!handler) {
        res.setHeader('Allow', Object.keys(route.methods).join(', '));
        throw new HttpError(405, `${req.method} is not allowed on ${path} (allowed: ${Object.keys(route.methods).join(', ')})`);
      }
      const proc = route.pattern.exec(path)?.[1];
      await handler(req, res, proc);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
      if (res.headersSent) res.destroy();
      else json(res, status, { error: message });
    }
  }

  private authorized(req: IncomingMessage): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return timingSafeEqual(sha256(m?.[1] ?? ''), this.secretHash) && m !== null;
  }

  private info(res: ServerResponse): void {
    const body: AgentInfo = { agent: AGENT_NAME, version: AGENT_VERSION, hostname: hostname(), allowedRoles: this.policy.allowedRoles, pid: process.pid };
    json(res, 200, body);
  }

  private clock(res: ServerResponse): void {
    const body: ClockResponse = { ns: (process.hrtime.bigint() + this.skew).toString() };
    json(res, 200, body);
  }

  private async spawn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const v = valid(validateSpawn(await readJson(req), this.policy));
    const argv = this.skew === 0n ? v.argv : [...v.argv, `--clock-offset-ns=${this.skew}`];
    const proc = `p${this.nextProc++}`;
    let p: ManagedProc;
    try {
      p = await ManagedProc.start(proc, v.id, this.launcher, argv, this.opts.maxOutputBufferBytes ?? DEFAULT_OUTPUT_BUFFER);
    } catch (err) {
      throw new HttpError(500, (err as Error).message);
    }
    this.procs.set(proc, p);
    const body: SpawnResponse = { proc, pid: p.pid };
    json(res, 201, body);
  }

  private output(res: ServerResponse, proc: string): void {
    if (!this.find(proc).attach(res)) throw new HttpError(409, `the output of ${proc} is already being read by another consumer`);
  }

  private async stdin(req: IncomingMessage, res: ServerResponse, proc: string): Promise<void> {
    const p = this.find(proc);
    const v = valid(validateStdin(await readJson(req)));
    let written = true;
    if ('line' in v) written = p.write(v.line ?? null);
    if (v.end) written = p.endInput() && written;
    const body: StdinResponse = { written };
    json(res, 200, body);
  }

  private async signal(req: IncomingMessage, res: ServerResponse, proc: string): Promise<void> {
    const p = this.find(proc);
    const v = valid(validateSignal(await readJson(req)));
    const body: SignalResponse = { delivered: p.signal(v.signal) };
    json(res, 200, body);
  }

  private killAll(res: ServerResponse): void {
    let killed = 0;
    for (const p of this.procs.values()) if (p.kill()) killed++;
    const body: KillAllResponse = { killed };
    json(res, 200, body);
  }

  private find(proc: string): ManagedProc {
    const p = this.procs.get(proc);
    if (!p) throw new HttpError(404, `no process '${proc}' on this agent`);
    return p;
  }

  async close(server: Server): Promise<void> {
    const procs = [...this.procs.values()];
    for (const p of procs) p.kill();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(procs.map((p) => p.closed)),
      new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    await closed;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function valid<T>(c: Checked<T>): T {
  if (!c.ok) throw new HttpError(c.status, c.error);
  return c.value;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a JSON request body of at most MAX_BODY_BYTES (400 when not JSON, 413 when too large). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  // The whole body is read (a too large one discarded) so that the response can still be sent.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) throw new HttpError(400, 'request body is empty; expected a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not JSON: ${(err as Error).message}`);
  }
}
