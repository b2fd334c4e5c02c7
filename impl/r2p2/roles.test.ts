import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import { ConfigError, roles } from '../roles.ts';
import type { Json, RoleEnv } from '../../harness/protocol.ts';
import type { TraceBody } from '../../harness/trace/schema.ts';
import { R2P2_ACTIONS } from './actions.ts';
import { R2p2Client, type ClientNotification } from './client.ts';
import { digest } from '../digest.ts';
import {
  BUG_CLIENT_ACCEPTS_WRONG_RID, BUG_REASSEMBLY_LOSES_REORDERED, BUG_ROUTER_BLIND_FEEDBACK, BUG_ROUTER_EXCEEDS_BOUND,
  BUG_ROUTER_FORGETS_ON_LEAVE, BUG_SERVER_REPLIES_TWICE, BUG_SERVER_SERVES_BEFORE_ANNOUNCE, BUG_SERVER_SERVES_DUPLICATE,
  BUG_CLIENT_ACK_DISARMS_TIMER, R2P2_BUGS,
} from './common.ts';
import { CLIENT, CLIENT2, MiniNet, ROUTER, SERVER, SERVER2 } from './test-helpers.ts';

const env = (node: string, addr: string, bugs: string[] = []): RoleEnv =>
  ({ node, addr, rng: new Rng(1), bugs: new Set(bugs) });

describe('role registry', () => {
  it('maps the three R2P2 roles to factories', () => {
    expect(Object.keys(roles).filter((r) => r.startsWith('r2p2-')).sort()).toEqual(['r2p2-client', 'r2p2-router', 'r2p2-server']);
    const c = roles['r2p2-client']!({ router: ROUTER, timeoutUs: 100 }, env('client1', CLIENT));
    expect(c).toBeInstanceOf(R2p2Client);
    expect(c.node).toBe('client1');
    expect(c.addr).toBe(CLIENT);
    roles['r2p2-server']!({ router: ROUTER, n: 2, heartbeatUs: 100, rtoUs: 10, gcRtos: 3 }, env('s', SERVER));
    roles['r2p2-router']!({ policy: 'jbsq', n: 2, queueCap: 8, leaveAfterUs: 100 }, env('r', ROUTER));
  });

  it.each<[string, Json, string]>([
    ['r2p2-client', { router: 'nowhere', timeoutUs: 100 }, 'router'],
    ['r2p2-client', { router: ROUTER }, 'timeoutUs'],
    ['r2p2-client', { router: ROUTER, timeoutUs: 100, rtoUs: -1 }, 'rtoUs'],
    ['r2p2-client', { router: ROUTER, timeoutUs: 100, extra: 1 }, 'extra'],
    ['r2p2-client', [1, 2], '(config)'],
    ['r2p2-server', { router: ROUTER, n: 0, heartbeatUs: 100, rtoUs: 10, gcRtos: 3 }, 'n'],
    ['r2p2-server', { router: ROUTER, n: 2, heartbeatUs: 100, rtoUs: 10, gcRtos: 1.5 }, 'gcRtos'],
    ['r2p2-server', { router: ROUTER, n: 2, heartbeatUs: '100', rtoUs: 10, gcRtos: 3 }, 'heartbeatUs'],
    ['r2p2-router', { policy: 'fifo', n: 2, queueCap: 8, leaveAfterUs: 100 }, 'policy'],
    ['r2p2-router', { policy: 'jbsq', n: 2, queueCap: -1, leaveAfterUs: 100 }, 'queueCap'],
    ['r2p2-router', { policy: 'jbsq', n: 2, queueCap: 8 }, 'leaveAfterUs'],
  ])('%s rejects %j naming field %s', (role, config, field) => {
    let caught: unknown;
    try {
      roles[role]!(config, env('x', CLIENT));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).field).toBe(field);
    expect((caught as Error).message).toContain(`"${field}"`);
  });

  it('exports the seeded bug names', () => {
    expect(R2P2_BUGS).toEqual([
      BUG_ROUTER_EXCEEDS_BOUND, BUG_SERVER_REPLIES_TWICE, BUG_CLIENT_ACCEPTS_WRONG_RID,
      BUG_REASSEMBLY_LOSES_REORDERED, BUG_ROUTER_BLIND_FEEDBACK, BUG_ROUTER_FORGETS_ON_LEAVE,
      BUG_SERVER_SERVES_DUPLICATE, BUG_SERVER_SERVES_BEFORE_ANNOUNCE, BUG_CLIENT_ACK_DISARMS_TIMER,
    ]);
    expect(R2P2_BUGS).toEqual([
      'router-exceeds-bound', 'server-replies-twice', 'client-accepts-wrong-rid',
      'reassembly-loses-reordered-packet', 'router-blind-feedback', 'router-forgets-on-leave',
      'server-serves-duplicate', 'server-serves-before-announce', 'client-ack-disarms-timer',
    ]);
  });
});

/** Client, router and two servers wired by the in-test loop (instant switch, 10 µs links). */
function system(opts: { bugs?: string[]; policy?: 'jbsq' | 'random'; queueCap?: number } = {}): MiniNet {
  const bugs = opts.bugs ?? [];
  const net = new MiniNet(10);
  net.add(roles['r2p2-router']!({ policy: opts.policy ?? 'jbsq', n: 1, queueCap: opts.queueCap ?? 64, leaveAfterUs: 10_000 }, env('router', ROUTER, bugs)));
  for (const [node, addr] of [['server1', SERVER], ['server2', SERVER2]] as const) {
    net.add(roles['r2p2-server']!({ router: ROUTER, n: 1, heartbeatUs: 2000, rtoUs: 200, gcRtos: 3 }, env(node, addr, bugs)));
  }
  for (const [node, addr] of [['client1', CLIENT], ['client2', CLIENT2]] as const) {
    net.add(roles['r2p2-client']!({ router: ROUTER, timeoutUs: 50_000 }, env(node, addr, bugs)));
  }
  return net;
}

const call = (size: number, serviceUs: number, replySize: number) =>
  ({ kind: 'command' as const, command: { kind: 'call', size, serviceUs, replySize } });

describe('end to end through the in-test loop', () => {
  it('every request completes; digests agree from ClientSend to ClientReceiveReply; JBSQ(1) holds', () => {
    const net = system();
    const sizes = [10, 4000, 100, 9000, 1500, 20, 3000, 64];
    sizes.forEach((size, i) => net.inject(i % 2 ? CLIENT2 : CLIENT, call(size, 50 + 10 * i, i % 3 === 0 ? 4000 : 30), 100 + i * 5));
    net.run(40_000);
    const ev = net.events;
    expect(ev.every((e) => (R2P2_ACTIONS as readonly string[]).includes(e.action))).toBe(true);
    const sent = ev.filter((e) => e.action === 'ClientSend');
    const recvd = ev.filter((e) => e.action === 'ServerReceiveRequest');
    const replies = ev.filter((e) => e.action === 'ServerReply');
    const accepted = ev.filter((e) => e.action === 'ClientReceiveReply');
    expect(sent).toHaveLength(sizes.length);
    expect(accepted).toHaveLength(sizes.length);
    const clientAddr = (node: string): string => (node === 'client1' ? CLIENT : CLIENT2);
    for (const s of sent) {
      const key = (e: TraceBody): boolean => e['client'] === clientAddr(s.node) && e['rid'] === s['rid'];
      const r = recvd.find(key)!;
      expect(r['digest']).toBe(s['digest']);
      const rep = replies.find(key)!;
      const acc = accepted.find((a) => a.node === s.node && a['rid'] === s['rid'])!;
      expect(acc['digest']).toBe(rep['digest']);
      expect(acc['server']).toBe(rep.node === 'server1' ? SERVER : SERVER2);
    }
    // The router never had more than n = 1 outstanding at a server.
    for (const d of ev.filter((e) => e.action === 'RouterDispatch')) expect(d['outstanding']).toBeLessThanOrEqual(1);
    const ok = net.notes.filter((n) => (n.value as ClientNotification).outcome === 'success');
    expect(ok).toHaveLength(sizes.length);
    expect(ev.some((e) => e.action === 'ServerAck')).toBe(true);
    expect(ev.some((e) => e.action === 'ClientReceiveAck')).toBe(true);
  });

  it('multi-packet requests survive loss of REQn (SACK + resend), reordering and duplication', () => {
    const net = system();
    let n = 0;
    let held: import('../core.ts').Packet | undefined;
    net.filter = (p) => {
      n++;
      const size = p.data.length;
      if (size === 1472 && n % 7 === 0) return []; // lose some full REQn / reply packets
      if (size === 1472 && n % 5 === 0) return [p, p]; // duplicate some
      if (size === 1472 && !held && n % 3 === 0) { held = p; return []; } // reorder: hold one back
      if (held && size === 1472) { const h = held; held = undefined; return [p, h]; }
      return [p];
    };
    net.inject(CLIENT, call(9000, 10, 20), 0);
    net.inject(CLIENT2, call(12000, 10, 20), 0);
    net.run(45_000);
    const ev = net.events;
    const sent = ev.filter((e) => e.action === 'ClientSend');
    const got = ev.filter((e) => e.action === 'ServerReceiveRequest');
    for (const s of sent) expect(got.map((g) => g['digest'])).toContain(s['digest']);
    expect(ev.filter((e) => e.action === 'ClientReceiveReply')).toHaveLength(2);
    expect(ev.some((e) => e.action === 'ServerSack')).toBe(true);
    expect(ev.some((e) => e.action === 'ClientResend')).toBe(true);
  });

  it('DROP and timeouts reach the application', () => {
    const net = system({ queueCap: 1 });
    // No server answers in time: long service times; JBSQ(1) with two servers and a queue of 1.
    for (let i = 0; i < 5; i++) net.inject(CLIENT, call(10, 100_000, 10), 10);
    net.run(60_000);
    const outcomes = net.notes.map((n) => (n.value as ClientNotification).outcome).sort();
    expect(outcomes).toEqual(['error', 'error', 'timeout', 'timeout', 'timeout']);
  });

  type Shows = (ev: MiniNet['events']) => boolean;
  it.each<[string, Shows]>([
    [BUG_SERVER_REPLIES_TWICE, (ev) => ev.filter((e) => e.action === 'ServerReply').length === 2 * ev.filter((e) => e.action === 'ServerReceiveRequest').length],
    [BUG_CLIENT_ACCEPTS_WRONG_RID, (ev) => ev.some((e) => e.action === 'ClientReceiveReply' && e['rid'] !== e['replyRid'])],
  ])('seeded bug %s shows in the trace', (bug, shows) => {
    const net = system({ bugs: [bug] });
    // client1 issues a slow request then a fast one, so replies come back out of issue order.
    net.inject(CLIENT, call(10, 500, 10), 0);
    net.inject(CLIENT, call(10, 10, 10), 1);
    net.run(20_000);
    expect(shows(net.events)).toBe(true);
    const clean = system();
    clean.inject(CLIENT, call(10, 500, 10), 0);
    clean.inject(CLIENT, call(10, 10, 10), 1);
    clean.run(20_000);
    expect(shows(clean.events)).toBe(false);
  });

  it('determinism: the same run twice gives the same trace', () => {
    const go = (): unknown => {
      const net = system({ policy: 'random' });
      for (let i = 0; i < 6; i++) net.inject(i % 2 ? CLIENT : CLIENT2, call(100 * i * i, 30, 2000), i * 7);
      net.run(30_000);
      return [net.events, net.notes.map((n) => ({ ...n, value: { ...(n.value as object), reply: digest((n.value as ClientNotification).reply ?? new Uint8Array()) } }))];
    };
    expect(go()).toEqual(go());
  });
});
