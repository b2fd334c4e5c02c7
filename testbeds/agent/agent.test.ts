/**
 * The hardware-lab agent on real sockets (127.0.0.1, ephemeral ports): authentication, the spawn
 * policy, request validation, the output stream, control lines and signals to a real
 * `protocheck node` process, clock offset estimation, the client's errors and the CLI command.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../harness/cli/args.ts';
import { NODE_USAGE, parseNodeArgs } from '../../harness/cli/commands/node.ts';
import { run as runAgentCommand } from '../../harness/cli/commands/agent.ts';
import { AgentClient, AgentError, type AgentProcess } from './client.ts';
import { NODE_OPTIONS, parseOutputLine, type OutputLine } from './protocol.ts';
import { NdjsonSplitter } from './remote-process.ts';
import { startAgent, type AgentOptions, type AgentServer } from './server.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SECRET = 'correct horse battery staple';
const TOY = resolve(ROOT, 'testbeds', 'local', 'test-roles.ts');

const agents: AgentServer[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

async function agent(opts: Partial<AgentOptions> = {}): Promise<AgentServer> {
  const a = await startAgent({ secret: SECRET, allowedRoles: ['r2p2-server', 'r2p2-client'], ...opts });
  agents.push(a);
  return a;
}

/** A raw request; `auth` undefined sends no Authorization header. */
async function call(a: AgentServer, method: string, path: string, opts: { body?: string | object; auth?: string | null } = {}) {
  const auth = opts.auth === undefined ? `Bearer ${SECRET}` : opts.auth;
  const res = await fetch(a.url + path, {
    method,
    headers: auth === null ? {} : { authorization: auth },
    ...(opts.body === undefined ? {} : { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body: body as Record<string, unknown> };
}

async function until(cond: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function collect(p: AgentProcess) {
  const out: string[] = [];
  const err: string[] = [];
  const partial: string[] = [];
  p.on('stdout', (l, part) => (part ? partial : out).push(l));
  p.on('stderr', (l, part) => (part ? partial : err).push(l));
  return { out, err, partial, status: () => err.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** The process state letter of /proc/<pid>/stat (R, S, T, Z…). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0]!;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function udpPort(): number {
  return 20000 + Math.floor(Math.random() * 12000);
}

/** argv of an r2p2 server in direct mode (its router need not exist). */
function serverArgv(ip: string, port = udpPort()): string[] {
  return ['node', 'r2p2-server', '--id', 'server1', '--listen', `${ip}:${port}`, '--router', `127.0.0.99:${port}`, '--seed', '7'];
}

/** A launcher running a small script instead of protocheck (the argv is still validated). */
function scriptLauncher(script: string) {
  return { command: process.execPath, prefixArgs: ['-e', script, '--'] };
}

const FAKE_ARGV = ['node', 'r2p2-server', '--listen', '127.0.0.1:1'];

const FLOOD = `
for (let i = 0; i < 2000; i++) process.stdout.write('line ' + i + ' é€😀\\n');
process.stderr.write('{"ready":true}\\n');
process.stderr.write('tail without newline');
`;

const ECHO = `
process.stdin.setEncoding('utf8');
let b = '';
process.stdin.on('data', (d) => {
  b += d;
  for (let i; (i = b.indexOf('\\n')) >= 0; b = b.slice(i + 1)) process.stdout.write('echo ' + b.slice(0, i) + '\\n');
});
process.stdin.on('end', () => process.exit(3));
`;

describe('agent: authentication and validation', () => {
  it('answers 401 without the secret or with a wrong one, and starts nothing', async () => {
    const a = await agent({ launcher: scriptLauncher('setInterval(() => {}, 1000)') });
    for (const auth of [null, 'Bearer wrong', `Bearer ${SECRET}x`, SECRET, `Basic ${SECRET}`, 'Bearer ']) {
      expect(await call(a, 'GET', '/v1/info', { auth })).toEqual({ status: 401, body: { error: 'unauthorized' } });
      expect(await call(a, 'POST', '/v1/procs', { auth, body: { id: 'x', argv: FAKE_ARGV } })).toEqual({ status: 401, body: { error: 'unauthorized' } });
      expect((await call(a, 'GET', '/v1/nowhere', { auth })).status).toBe(401);
    }
    expect((await call(a, 'GET', '/v1/procs/p1/output')).status).toBe(404);
    expect(await call(a, 'DELETE', '/v1/procs')).toEqual({ status: 200, body: { killed: 0 } });
    const c = new AgentClient(a.url, 'wrong');
    await expect(c.info()).rejects.toThrow(`agent at ${a.url} refused the secret (401)`);
    await expect(c.info()).rejects.toMatchObject({ kind: 'unauthorized', status: 401 });
  });

  it('refuses (403) roles not allowed, other commands, --roles and --config @FILE', async () => {
    const a = await agent({ allowedRoles: ['r2p2-server'] });
    const refused = [
      { argv: ['node', 'r2p2-router', '--listen', '127.0.0.1:1'], msg: /role 'r2p2-router' is not allowed on this agent \(allowed: r2p2-server\)/ },
      { argv: ['switch', '--listen', '127.0.0.1:1'], msg: /software switch is not allowed/ },
      { argv: ['fuzz', '--protocol', 'r2p2'], msg: /argv\[0\] must be 'node' or 'switch'/ },
      { argv: ['node', 'r2p2-server', '--listen', '127.0.0.1:1', '--roles', TOY], msg: /--roles .* is refused/ },
      { argv: ['node', 'r2p2-server', '--listen', '127.0.0.1:1', '--config', '@/etc/passwd'], msg: /--config @FILE .* is refused/ },
    ];
    for (const r of refused) {
      const res = await call(a, 'POST', '/v1/procs', { body: { id: 'x', argv: r.argv } });
      expect(res.status, r.argv.join(' ')).toBe(403);
      expect(res.body.error).toMatch(r.msg);
    }
    const c = new AgentClient(a.url, SECRET);
    const err = await c.spawn('x', ['node', 'r2p2-router']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).message).toMatch(/refused POST \/v1\/procs: role 'r2p2-router' is not allowed/);
    expect(await c.killAll()).toBe(0);
  });

  it('rejects (400) malformed bodies and argv; 404 / 405 for unknown paths, procs and methods', async () => {
    const a = await agent();
    const spawnCases: { body: string | object; msg: RegExp }[] = [
      { body: '{not json', msg: /request body is not JSON/ },
      { body: '', msg: /request body is empty/ },
      { body: [1, 2], msg: /body must be a JSON object/ },
      { body: { id: 'x' }, msg: /argv must be a non-empty array/ },
      { body: { id: '', argv: FAKE_ARGV }, msg: /id must be a non-empty string/ },
      { body: { id: 'x', argv: FAKE_ARGV, extra: 1 }, msg: /unknown field 'extra'/ },
      { body: { id: 'x', argv: ['node', 'r2p2-server', 7] }, msg: /argv\[2\] must be a string/ },
      { body: { id: 'x', argv: ['node', 'r2p2-server', '--bogus'] }, msg: /malformed argv: Unknown option '--bogus'/ },
      { body: { id: 'x', argv: ['node', 'r2p2-server', '--listen'] }, msg: /malformed argv: Option '--listen <value>' argument missing/ },
      { body: { id: 'x', argv: ['node', 'r2p2-server', 'extra-positional'] }, msg: /malformed argv: Unexpected argument 'extra-positional'/ },
      { body: { id: 'x', argv: ['node', '--listen', '127.0.0.1:1'] }, msg: /argv\[1\] must be the role/ },
      { body: { id: 'x', argv: ['node', 'r2p2-server', '--clock-offset-ns=5'] }, msg: /--clock-offset-ns is set by the agent/ },
    ];
    for (const c of spawnCases) {
      const res = await call(a, 'POST', '/v1/procs', { body: c.body });
      expect(res.status, JSON.stringify(c.body)).toBe(400);
      expect(res.body.error).toMatch(c.msg);
    }
    expect((await call(a, 'GET', '/v1/nowhere')).body).toEqual({ error: 'no such endpoint: /v1/nowhere' });
    expect((await call(a, 'GET', '/v1/nowhere')).status).toBe(404);
    const m = await call(a, 'PUT', '/v1/info');
    expect(m.status).toBe(405);
    expect(m.body.error).toMatch(/PUT is not allowed on \/v1\/info \(allowed: GET\)/);
    expect((await call(a, 'POST', '/v1/procs/p9/stdin', { body: { line: 1 } })).status).toBe(404);
    expect((await call(a, 'POST', '/v1/procs/p9/signal', { body: { signal: 'SIGKILL' } })).status).toBe(404);
    expect((await call(a, 'GET', '/v1/procs/p9/output')).body).toEqual({ error: "no process 'p9' on this agent" });
    // Validation of stdin and signal bodies, on a live process.
    const b = await agent({ launcher: scriptLauncher(ECHO) });
    const { body } = await call(b, 'POST', '/v1/procs', { body: { id: 'echo', argv: FAKE_ARGV } });
    const proc = body.proc as string;
    for (const [path, bad, msg] of [
      ['stdin', {}, /must have a line/],
      ['stdin', { line: 1, end: 'yes' }, /end must be a boolean/],
      ['signal', { signal: 'SIGHUP' }, /signal must be one of SIGKILL, SIGSTOP, SIGCONT, SIGTERM/],
      ['signal', { signal: 9 }, /signal must be one of/],
      ['signal', { signal: 'SIGKILL', pid: 1 }, /unknown field 'pid'/],
    ] as const) {
      const res = await call(b, 'POST', `/v1/procs/${proc}/${path}`, { body: bad });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(msg);
    }
    expect((await call(b, 'POST', '/v1/procs', { body: 'x'.repeat(2 << 20) })).status).toBe(413);
    expect(await call(b, 'DELETE', '/v1/procs')).toEqual({ status: 200, body: { killed: 1 } });
  });

  it("accepts every option `protocheck node` takes, and only those", () => {
    const flags = new Set([...NODE_USAGE.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!));
    for (const f of flags) expect(Object.keys(NODE_OPTIONS), `--${f} of NODE_USAGE`).toContain(f);
    for (const [name, o] of Object.entries(NODE_OPTIONS)) {
      const args = ['r2p2-server', '--listen', '127.0.0.1:1', ...(o.type === 'boolean' ? [`--${name}`] : [`--${name}`, 'x'])];
      let message = '';
      try {
        parseNodeArgs(args);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, `--${name}`).not.toMatch(/Unknown option/);
    }
  });
});

describe('agent: info, clock and the client', () => {
  it('reports what it is and its clock', async () => {
    const a = await agent({ allowedRoles: ['r2p2-client', 'switch'] });
    const c = new AgentClient(a.url, SECRET);
    expect(await c.info()).toMatchObject({ agent: 'protocheck-agent', version: 1, allowedRoles: ['r2p2-client', 'switch'], pid: process.pid });
    const before = process.hrtime.bigint();
    const { body } = await call(a, 'GET', '/v1/clock');
    const after = process.hrtime.bigint();
    const ns = BigInt(body.ns as string);
    expect(ns >= before && ns <= after).toBe(true);
  });

  it('estimates the clock offset of a skewed agent (~5 s) and of an unskewed one (~0)', async () => {
    const skewed = new AgentClient((await agent({ clockSkewNs: 5_000_000_000n })).url, SECRET);
    const plain = new AgentClient((await agent()).url, SECRET);
    const s = await skewed.clockOffsetNs();
    expect(Math.abs(Number(s.offsetNs - 5_000_000_000n))).toBeLessThan(50e6);
    expect(s.rttNs > 0n).toBe(true);
    const p = await plain.clockOffsetNs(4);
    expect(Math.abs(Number(p.offsetNs))).toBeLessThan(50e6);
  });

  it('names an unreachable agent and a timeout', async () => {
    const port = await closedPort();
    const c = new AgentClient(`http://127.0.0.1:${port}`, SECRET);
    const err = await c.info().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).message).toBe(`agent at http://127.0.0.1:${port} is unreachable: ECONNREFUSED`);
    expect((err as AgentError).kind).toBe('unreachable');
    // A server that accepts connections and never answers.
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
      await expect(new AgentClient(url, SECRET, 200).info()).rejects.toThrow(`agent at ${url} did not answer GET /v1/info within 200 ms`);
    } finally {
      silent.close();
    }
  });
});

describe('agent: output stream', () => {
  it('delivers every line in order, UTF-8 intact, the unterminated tail flagged, then the exit', async () => {
    const a = await agent({ launcher: scriptLauncher(FLOOD) });
    const p = await new AgentClient(a.url, SECRET).spawn('flood', FAKE_ARGV);
    const got = collect(p);
    expect(await p.done).toEqual({ code: 0, signal: null });
    expect(got.out).toEqual(Array.from({ length: 2000 }, (_, i) => `line ${i} é€😀`));
    expect(got.status()).toEqual([{ ready: true }]);
    expect(got.partial).toEqual(['tail without newline']);
    expect([p.exitCode, p.signalCode, p.exited]).toEqual([0, null, true]);
  });

  it('buffers output until a consumer connects, notes dropped lines, repeats the exit to a later consumer', async () => {
    const a = await agent({ launcher: scriptLauncher(FLOOD), maxOutputBufferBytes: 20_000 });
    const { body } = await call(a, 'POST', '/v1/procs', { body: { id: 'flood', argv: FAKE_ARGV } });
    expect(body).toMatchObject({ proc: 'p1' });
    await until(() => !alive(body.pid as number), 10_000, 'the flood to end');
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${a.url}/v1/procs/p1/output`, { headers: { authorization: `Bearer ${SECRET}` } });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => parseOutputLine(l));
    expect(lines.every((l) => l !== undefined)).toBe(true);
    const kept = lines.filter((l): l is Extract<OutputLine, { s: string }> => l !== undefined && 's' in l && l.s === 'out');
    expect(kept.map((l) => l.line)).toEqual(Array.from({ length: kept.length }, (_, i) => `line ${i} é€😀`));
    const note = lines.at(-2) as { s: string; line: string };
    expect(note.s).toBe('err');
    const dropped = Number(/agent: (\d+) lines of flood dropped \(output buffer of 20000 bytes full\)/.exec(note.line)?.[1]);
    const delivered = lines.length - 2; // all but the note and the exit
    expect(delivered + dropped).toBe(2002); // 2000 stdout lines, the ready line, the tail
    expect(lines.at(-1)).toEqual({ exit: { code: 0, signal: null } });
    const again = await call(a, 'GET', '/v1/procs/p1/output');
    expect(again.body).toEqual({ exit: { code: 0, signal: null } });
  });

  it('allows one consumer at a time (409 for a second one)', async () => {
    const a = await agent({ launcher: scriptLauncher(ECHO) });
    const p = await new AgentClient(a.url, SECRET).spawn('echo', FAKE_ARGV);
    await new Promise((r) => setTimeout(r, 100));
    const second = await call(a, 'GET', `/v1/procs/${p.proc}/output`);
    expect(second.status).toBe(409);
    expect(second.body.error).toMatch(/already being read by another consumer/);
    expect(await p.signal('SIGKILL')).toBe(true);
    expect(await p.done).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await p.signal('SIGKILL')).toBe(false);
  });

  it('writes control lines in order, then closes stdin', async () => {
    const a = await agent({ launcher: scriptLauncher(ECHO) });
    const p = await new AgentClient(a.url, SECRET).spawn('echo', FAKE_ARGV);
    const got = collect(p);
    for (let i = 0; i < 40; i++) p.write({ n: i, text: 'ü' });
    p.endInput();
    expect(await p.done).toEqual({ code: 3, signal: null });
    expect(got.out).toEqual(Array.from({ length: 40 }, (_, i) => `echo {"n":${i},"text":"ü"}`));
    p.write({ late: true }); // after the exit: ignored
  });

  it('splits NDJSON at any chunk boundary', () => {
    const text = '{"s":"out","line":"é€😀 a"}\n{"s":"err","line":"b"}\n{"exit":{"code":0,"signal":null}}\n';
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j += 7) {
        const s = new NdjsonSplitter();
        const lines = [...s.push(bytes.slice(0, i)), ...s.push(bytes.slice(i, j)), ...s.push(bytes.slice(j))];
        expect(s.end()).toBe('');
        expect(lines.map(parseOutputLine)).toEqual([
          { s: 'out', line: 'é€😀 a' }, { s: 'err', line: 'b' }, { exit: { code: 0, signal: null } },
        ]);
      }
    }
  });
});

describe('agent: protocheck node processes', () => {
  it('runs an r2p2 server: ready, origin over stdin, SIGSTOP / SIGCONT / SIGKILL, exit seen by the client', async () => {
    const a = await agent();
    const c = new AgentClient(a.url, SECRET);
    const p = await c.spawn('server1', serverArgv('127.0.0.60'));
    const got = collect(p);
    await until(() => got.status().some((s) => s.ready === true), 30_000, 'ready');
    expect(got.status()[0]).toMatchObject({ ready: true, node: 'server1', pid: p.pid });
    p.write({ origin: String(process.hrtime.bigint() + 20_000_000n) });
    await until(() => got.status().some((s) => s.started === true), 10_000, 'started');
    await until(() => got.out.length > 0, 10_000, 'a trace event');
    expect(JSON.parse(got.out[0]!)).toMatchObject({ node: 'server1', action: 'ServerAnnounce' });
    expect(await p.signal('SIGSTOP')).toBe(true);
    await until(() => procState(p.pid) === 'T', 5000, 'stopped');
    expect(await p.signal('SIGCONT')).toBe(true);
    await until(() => procState(p.pid) !== 'T', 5000, 'continued');
    expect(await p.signal('SIGKILL')).toBe(true);
    expect(await p.done).toEqual({ code: null, signal: 'SIGKILL' });
    expect(alive(p.pid)).toBe(false);
  });

  it('runs a node on a skewed host in that host\'s clock: the origin translated by the measured offset', async () => {
    const a = await agent({ clockSkewNs: 5_000_000_000n });
    const c = new AgentClient(a.url, SECRET);
    const { offsetNs } = await c.clockOffsetNs();
    const p = await c.spawn('server1', serverArgv('127.0.0.61'));
    const got = collect(p);
    await until(() => got.status().some((s) => s.ready === true), 30_000, 'ready');
    const origin = process.hrtime.bigint() + 200_000_000n;
    p.write({ origin: String(origin + offsetNs) });
    await until(() => got.status().some((s) => s.started === true), 10_000, 'started');
    const startedAt = process.hrtime.bigint();
    // Fed at the origin (not 5 s "late", as an untranslated origin would be on this host).
    const t = got.status().find((s) => s.started === true)!.t as number;
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThan(100_000);
    expect(startedAt >= origin).toBe(true);
    p.endInput();
    expect((await p.done).code).toBe(0);
  });
});

describe('protocheck agent (the CLI command)', () => {
  it('refuses to start without a secret, or with bad flags', async () => {
    const saved = process.env.PROTOCHECK_TEST_NO_SECRET;
    delete process.env.PROTOCHECK_TEST_NO_SECRET;
    const args = ['--listen', '127.0.0.1:0', '--roles-allowed', 'r2p2-server', '--secret-env', 'PROTOCHECK_TEST_NO_SECRET'];
    await expect(runAgentCommand(args)).rejects.toThrow(UsageError);
    await expect(runAgentCommand(args)).rejects.toThrow(/no secret: set the environment variable PROTOCHECK_TEST_NO_SECRET/);
    await expect(runAgentCommand(['--listen', 'nowhere', '--roles-allowed', 'x'])).rejects.toThrow(/--listen: expected HOST:PORT/);
    await expect(runAgentCommand(['--listen', '127.0.0.1:0'])).rejects.toThrow(/--roles-allowed ROLE,… is required/);
    await expect(runAgentCommand(['--secret', 'x'])).rejects.toThrow(/Unknown option '--secret'/);
    if (saved !== undefined) process.env.PROTOCHECK_TEST_NO_SECRET = saved;
  });

  it('serves as a process; SIGTERM kills what it started and exits 0', async () => {
    const script = `
      import { register } from 'tsx/esm/api';
      register();
      const { run } = await import(${JSON.stringify(resolve(ROOT, 'harness/cli/commands/agent.ts'))});
      process.exitCode = await run(['--listen', '127.0.0.1:0', '--roles-allowed', 'r2p2-server', '--clock-skew-ms=-250']);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, PROTOCHECK_AGENT_SECRET: SECRET },
    });
    let gone = false;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code))).finally(() => (gone = true));
    try {
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      await until(() => stdout.includes('\n') || gone, 30_000, 'the agent to listen');
      const hello = JSON.parse(stdout.split('\n')[0]!) as { agent: string; url: string };
      expect(hello.agent).toBe('listening');
      const c = new AgentClient(hello.url, SECRET);
      expect((await c.info()).allowedRoles).toEqual(['r2p2-server']);
      expect(Number((await c.clockOffsetNs()).offsetNs)).toBeCloseTo(-250e6, -7);
      const p = await c.spawn('server1', serverArgv('127.0.0.62'));
      const got = collect(p);
      await until(() => got.status().some((s) => s.ready === true), 30_000, 'ready');
      // The secret is not handed down to the processes.
      expect(readFileSync(`/proc/${p.pid}/environ`, 'utf8')).not.toContain('PROTOCHECK_AGENT_SECRET');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await p.done).toEqual({ code: null, signal: 'SIGKILL' });
      expect(alive(p.pid)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
