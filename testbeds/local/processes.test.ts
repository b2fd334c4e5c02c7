/**
 * The `protocheck node` / `protocheck switch` processes under the control protocol
 * (`control.ts`): flags, readiness, origin, commands, trace on stdout, stop.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineSplitter, parseControlLine } from './control.ts';
import { StreamMerger } from './merge.ts';
import { stateFilePath } from '../../impl/stable-store.ts';
import type { TraceEvent } from '../../harness/trace/schema.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = resolve(ROOT, 'bin', 'protocheck.mjs');
const TOY = resolve(import.meta.dirname, 'test-roles.ts');

function cli(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return { child, exit, out: () => stdout, err: () => stderr };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('protocheck node / switch processes', () => {
  it('reject bad flags and configs with exit 2 and a clear message', async () => {
    const cases = [
      { args: ['node', 'r2p2-server', '--listen', '127.0.0.1:5000', '--bogus'], msg: /Unknown option '--bogus'/ },
      { args: ['node', 'r2p2-server', '--listen', 'localhost:5000'], msg: /--listen: 'localhost:5000' is not an IPv4 address/ },
      { args: ['node', 'r2p2-server', '--listen', '127.0.0.1:5000', '--router', '127.0.0.3:1', '--config', '{"n":0}'], msg: /field "n" must be >= 1/ },
      { args: ['node', 'r2p2-client', '--listen', '127.0.0.1:5000', '--n', '2'], msg: /--n does not apply to role r2p2-client/ },
      { args: ['node', 'no-such-role', '--listen', '127.0.0.1:5000'], msg: /unknown role 'no-such-role'/ },
      { args: ['switch', '--listen', '127.0.0.2:5000', '--config', '{"link":{"delay":1}}'], msg: /config.link.jitter must be a non-negative number/ },
      { args: ['node', 'toy-echo', '--listen', '127.0.0.1:5000', '--roles', TOY, '--state', '../etc/x'], msg: /--state: '..\/etc\/x' is not a state name/ },
    ];
    const runs = cases.map((c) => ({ c, p: cli(c.args) }));
    for (const { c, p } of runs) {
      expect(await p.exit, c.args.join(' ')).toBe(2);
      expect(p.err()).toMatch(c.msg);
    }
    const help = cli(['node', '--help']);
    expect(await help.exit).toBe(0);
    expect(help.out()).toMatch(/usage: protocheck node <role>/);
  });

  it('runs a role under the control protocol: ready, origin, datagrams, commands, stop', async () => {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const addr = `127.0.0.40:${port}`;
    const me = dgram.createSocket('udp4');
    await new Promise<void>((r) => me.bind(port, '127.0.0.41', () => r()));
    const got: string[] = [];
    me.on('message', (m) => got.push(m.toString()));
    const p = cli(['node', 'toy-echo', '--id', 'echo1', '--listen', addr, '--switch', 'direct', '--roles', TOY, '--config', '{"greeting":"hi"}']);
    await until(() => p.err().includes('"ready":true'));
    // a datagram before start is kept and fed right after start
    me.send('early', port, '127.0.0.40');
    await new Promise((r) => setTimeout(r, 50));
    const origin = process.hrtime.bigint() + 20_000_000n;
    p.child.stdin.write(`{"origin":"${origin}"}\n`);
    p.child.stdin.write(`not json\n`);
    p.child.stdin.write(`{"command":{"to":"127.0.0.41:${port}","text":"later"},"at":60000}\n`);
    await until(() => got.includes('later') && got.includes('early'));
    me.send('boom', port, '127.0.0.40');
    await until(() => p.out().includes('HostCrash'));
    p.child.stdin.write('{"stop":true}\n');
    expect(await p.exit).toBe(0);
    me.close();
    const events = p.out().trim().split('\n').map((l) => JSON.parse(l) as TraceEvent);
    expect(events.map((e) => e.action)).toEqual(['EchoStart', 'Echo', 'Say', 'HostCrash']);
    expect(events[0]).toMatchObject({ node: 'echo1', greeting: 'hi' });
    const say = events[2]!;
    expect(say.t).toBeGreaterThanOrEqual(60_000);
    expect(say.t).toBeLessThan(200_000);
    const status = p.err().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(status[0]).toMatchObject({ ready: true, node: 'echo1', addr });
    expect(status.some((s) => s.started === true)).toBe(true);
    expect(status.some((s) => typeof s.note === 'string' && /control line is not JSON/.test(s.note))).toBe(true);
    expect(status.some((s) => typeof s.note === 'string' && /core threw/.test(s.note))).toBe(true);
    expect(status.at(-1)).toMatchObject({ stopped: true, node: 'echo1', stats: { received: 2, sent: 2, coreErrors: 1 } });
  });
});

describe('a node with --state', () => {
  it('gets back after a restart what it persisted before it was killed; a corrupt state stops the start', async () => {
    const name = `test-${process.pid}-${Date.now()}`;
    const file = stateFilePath(name);
    const port = 20000 + Math.floor(Math.random() * 10000);
    const addr = `127.0.0.42:${port}`;
    const me = dgram.createSocket('udp4');
    await new Promise<void>((r) => me.bind(port, '127.0.0.43', () => r()));
    try {
      const incarnation = async (): Promise<{ p: ReturnType<typeof cli>; events: () => TraceEvent[] }> => {
        const p = cli(['node', 'toy-echo', '--id', 'echo1', '--listen', addr, '--switch', 'direct', '--roles', TOY, '--state', name,
          '--origin', String(process.hrtime.bigint())]);
        await until(() => p.out().includes('EchoStart'));
        return { p, events: () => p.out().trim().split('\n').map((l) => JSON.parse(l) as TraceEvent) };
      };
      const first = await incarnation();
      me.send('a', port, '127.0.0.42');
      me.send('b', port, '127.0.0.42');
      await until(() => first.events().filter((e) => e.action === 'Echo').length === 2);
      first.p.child.kill('SIGKILL'); // a crash: no clean stop
      await first.p.exit;
      const second = await incarnation();
      expect(second.events()[0]).toMatchObject({ action: 'EchoStart', restored: 2 });
      second.p.child.stdin.write('{"stop":true}\n');
      expect(await second.p.exit).toBe(0);

      writeFileSync(file, '{torn');
      const third = cli(['node', 'toy-echo', '--listen', addr, '--switch', 'direct', '--roles', TOY, '--state', name,
        '--origin', String(process.hrtime.bigint())]);
      expect(await third.exit).toBe(2);
      expect(third.err()).toMatch(/cannot start: stable state .* is not JSON/);
      expect(third.out()).not.toMatch(/EchoStart/);
    } finally {
      me.close();
      rmSync(file, { force: true });
    }
  });
});

describe('control and merge helpers', () => {
  it('parse control lines without throwing', () => {
    expect(parseControlLine('{"origin":"123","startAt":5}')).toEqual({ ok: true, value: { kind: 'origin', origin: 123n, startAt: 5 } });
    expect(parseControlLine('{"command":{"kind":"call"},"at":7}')).toEqual({ ok: true, value: { kind: 'command', command: { kind: 'call' }, at: 7 } });
    expect(parseControlLine('{"stop":true}')).toEqual({ ok: true, value: { kind: 'stop' } });
    expect(parseControlLine('{"origin":12}').ok).toBe(false);
    expect(parseControlLine('[1]').ok).toBe(false);
    expect(parseControlLine('{').ok).toBe(false);
    const s = new LineSplitter();
    expect(s.push('a\nb')).toEqual(['a']);
    expect(s.push('c\n')).toEqual(['bc']);
    expect(s.push('partial')).toEqual([]);
    expect(s.partial).toBe('partial');
  });

  it('streams merged events in final-trace order and stops streaming on a late event', () => {
    const seen: TraceEvent[] = [];
    const m = new StreamMerger((e) => seen.push(e));
    const a = m.addPart();
    const b = m.addPart();
    const ev = (t: number, node: string): TraceEvent => ({ t, node, action: 'X' });
    m.push(b, ev(2, 'b'));
    m.push(a, ev(1, 'a'));
    m.push(a, ev(2, 'a'));
    m.push(a, ev(9, 'a'));
    m.release(5);
    expect(seen.map((e) => `${e.t}${e.node}`)).toEqual(['1a', '2a', '2b']);
    const all = m.finish();
    expect(seen).toEqual(all);
    const seen2: TraceEvent[] = [];
    const m2 = new StreamMerger((e) => seen2.push(e));
    const c = m2.addPart();
    m2.push(c, ev(5, 'c'));
    m2.release(6);
    m2.push(c, ev(3, 'c')); // behind the watermark
    expect(m2.broken).toBe(true);
    expect(m2.finish().length).toBe(2);
    expect(seen2.length).toBe(1);
  });
});
