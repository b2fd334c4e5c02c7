import fc from 'fast-check';
import { match } from 'ts-pattern';
import { describe, expect, it } from 'vitest';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId, Packet } from '../../impl/core.ts';
import type { Json, NodePlan, ProtocolDefinition, RoleEnv } from '../../harness/protocol.ts';
import type { Fault, LinkConfig, Scenario, WorkloadStep } from '../../harness/scenario/types.ts';
import { toNdjson, type TraceEvent } from '../../harness/trace/schema.ts';
import type { RunPlan } from '../testbed.ts';
import { EventQueue, type Queued } from './queue.ts';
import { SimTestbed, type SimRunOutput } from './sim.ts';

// ---- a toy protocol: pinging clients, echo servers, an optional round-robin router program ----

const enc = (o: Json): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
const dec = (d: Uint8Array): { seq: number; from?: string } => JSON.parse(new TextDecoder().decode(d));

type Cmd = { ping: number } | 'throw';

/** Sends a ping per command and, when `tick` > 0, one per tick (up to `count`). */
class Client implements Core<Cmd> {
  private seq = 0;
  constructor(readonly node: NodeId, readonly addr: Addr, private readonly cfg: { server: Addr; tick: number; count: number }) {}
  handle(input: CoreInput<Cmd>, now: Micros): CoreOutput[] {
    return match(input)
      .returnType<CoreOutput[]>()
      .with({ kind: 'start' }, () => [
        { kind: 'trace', event: { action: 'ClientStart' } },
        ...(this.cfg.tick > 0 ? [{ kind: 'setTimer' as const, name: 'tick', at: now + this.cfg.tick }] : []),
      ])
      .with({ kind: 'command' }, ({ command }) => {
        if (command === 'throw') throw new Error('client told to throw');
        return Array.from({ length: command.ping }, () => this.ping()).flat();
      })
      .with({ kind: 'timer' }, () => [
        ...this.ping(),
        ...(this.seq < this.cfg.count ? [{ kind: 'setTimer' as const, name: 'tick', at: now + this.cfg.tick }] : []),
      ])
      .with({ kind: 'receive' }, ({ packet }) => [
        { kind: 'trace', event: { action: 'Pong', seq: dec(packet.data).seq, from: packet.src } },
      ])
      .exhaustive();
  }
  private ping(): CoreOutput[] {
    const seq = ++this.seq;
    return [
      { kind: 'trace', event: { action: 'Ping', seq } },
      { kind: 'send', packet: { src: this.addr, dst: this.cfg.server, data: enc({ seq }) } },
    ];
  }
}

/** Echoes every packet to its source; `served` counts since this core started. */
class Echo implements Core {
  private served = 0;
  private lifetime = 0;
  constructor(readonly node: NodeId, readonly addr: Addr) {}
  handle(input: CoreInput, now: Micros): CoreOutput[] {
    void now;
    return match(input)
      .returnType<CoreOutput[]>()
      .with({ kind: 'start' }, ({ stable }) => {
        // `lifetime` is persisted: it counts echoes across restarts, while `served` starts over.
        this.lifetime = typeof stable === 'number' ? stable : 0;
        return [{ kind: 'trace', event: { action: 'EchoStart', restored: this.lifetime } }];
      })
      .with({ kind: 'receive' }, ({ packet }) => {
        this.served++;
        this.lifetime++;
        const { seq } = dec(packet.data);
        return [
          { kind: 'persist', state: this.lifetime },
          { kind: 'trace', event: { action: 'Echo', seq, client: packet.src, served: this.served } },
          { kind: 'send', packet: { src: this.addr, dst: packet.src, data: packet.data } },
        ];
      })
      .with({ kind: 'timer' }, { kind: 'command' }, () => [])
      .exhaustive();
  }
}

/** A switch program: forwards to servers round-robin keeping the client's src; beats on a timer. */
class Router implements Core {
  private next = 0;
  private beats = 0;
  constructor(readonly node: NodeId, readonly addr: Addr, private readonly cfg: { servers: Addr[]; beat: number }) {}
  handle(input: CoreInput, now: Micros): CoreOutput[] {
    return match(input)
      .returnType<CoreOutput[]>()
      .with({ kind: 'start' }, () => (this.cfg.beat > 0 ? [{ kind: 'setTimer', name: 'beat', at: now + this.cfg.beat }] : []))
      .with({ kind: 'receive' }, ({ packet }) => {
        const server = this.cfg.servers[this.next++ % this.cfg.servers.length]!;
        return [
          { kind: 'trace', event: { action: 'RouterForward', seq: dec(packet.data).seq, client: packet.src, server } },
          { kind: 'send', packet: { src: packet.src, dst: server, data: packet.data } },
        ];
      })
      .with({ kind: 'timer' }, () => [
        { kind: 'trace', event: { action: 'RouterBeat', n: ++this.beats } },
        { kind: 'setTimer', name: 'beat', at: now + this.cfg.beat },
      ])
      .with({ kind: 'command' }, () => [])
      .exhaustive();
  }
}

interface Topo {
  readonly clients: number;
  readonly servers: number;
  readonly router: boolean;
  /** Client tick period (0: pings only on command) and pings per client. */
  readonly tick: number;
  readonly count: number;
  readonly beat: number;
}
type ToyScenario = Scenario<Topo, Cmd>;

const toy: ProtocolDefinition<ToyScenario> = {
  name: 'toy',
  roles: {
    client: (c, env: RoleEnv) => new Client(env.node, env.addr, c as never),
    echo: (_c, env) => new Echo(env.node, env.addr),
    router: (c, env) => new Router(env.node, env.addr, c as never),
  },
  bugs: [],
  models: [],
  rules: [],
  contract: { actions: [], machines: {}, spec: { module: '', leavesOut: {}, specOnly: {} }, implBugs: [], propertiesWithoutBug: {} },
  scenarios: () => fc.constant(scenario()),
  plan: (s) => {
    const nodes: NodePlan[] = [];
    if (s.topology.router) nodes.push({ id: 'router', role: 'router', placement: 'switch', port: 9000 });
    for (let i = 1; i <= s.topology.servers; i++) nodes.push({ id: `server${i}`, role: 'echo', placement: 'host', port: 8000 });
    for (let i = 1; i <= s.topology.clients; i++) nodes.push({ id: `client${i}`, role: 'client', placement: 'host', port: 7000 });
    return nodes;
  },
  configure: (s, addrs) => {
    const servers = Array.from({ length: s.topology.servers }, (_, i) => addrs[`server${i + 1}`]!);
    const out: Record<NodeId, Json> = {};
    if (s.topology.router) out.router = { servers, beat: s.topology.beat };
    for (let i = 1; i <= s.topology.servers; i++) out[`server${i}`] = {};
    for (let i = 1; i <= s.topology.clients; i++) {
      out[`client${i}`] = { server: s.topology.router ? addrs.router! : servers[0]!, tick: s.topology.tick, count: s.topology.count };
    }
    return out;
  },
  properties: [],
  monitor: () => ({ observe: () => undefined, finish: () => [] }),
};

function scenario(over: Partial<Omit<ToyScenario, 'topology'>> & { topology?: Partial<Topo>; network?: Partial<LinkConfig> } = {}): ToyScenario {
  return {
    protocol: 'toy',
    seed: 1,
    workload: [],
    faults: [],
    bugs: [],
    duration: 10_000,
    ...over,
    topology: { clients: 1, servers: 1, router: false, tick: 0, count: 0, beat: 0, ...over.topology },
    network: { delay: 50, jitter: 0, loss: 0, duplicate: 0, ...over.network },
  };
}

const testbed = new SimTestbed();

function planOf(s: ToyScenario): RunPlan {
  const nodes = toy.plan(s);
  const addrs = testbed.assignAddresses(nodes);
  const configs = toy.configure(s, addrs);
  return {
    scenario: s, protocol: toy, addrs,
    nodes: nodes.map((n) => ({ id: n.id, role: n.role, placement: n.placement, addr: addrs[n.id]!, config: configs[n.id]! })),
  };
}

async function run(s: ToyScenario): Promise<SimRunOutput & { plan: RunPlan }> {
  const plan = planOf(s);
  const seen: TraceEvent[] = [];
  const out = await testbed.run(plan, (e) => seen.push(e));
  expect(seen).toEqual(out.trace); // streamed as they happen, same order
  return { ...out, plan };
}

const ping = (at: Micros, n = 1, node = 'client1'): WorkloadStep<Cmd> => ({ at, node, command: { ping: n } });
const brief = (tr: readonly TraceEvent[], actions?: string[]): string[] =>
  tr.filter((e) => !actions || actions.includes(e.action)).map((e) => `${e.t} ${e.node} ${e.action}${'seq' in e ? ` ${e.seq}` : ''}`);

// ---- tests ----

describe('EventQueue', () => {
  it('pops by (time, insertion order), including events pushed at the current time', () => {
    type E = Queued & { id: string };
    const q = new EventQueue<E>();
    const e = (id: string): E => ({ t: 0, seq: 0, id });
    q.push(5, e('a5'));
    q.push(0, e('b0'));
    q.push(5, e('c5'));
    q.push(3, e('d3'));
    const got: string[] = [];
    for (let x = q.pop(); x; x = q.pop()) {
      got.push(`${x.t}:${x.id}`);
      if (x.id === 'd3') { q.push(3, e('e3')); q.push(5, e('f5')); q.push(1, e('g1-clamped')); }
      if (x.id === 'a5') q.push(5, e('h5'));
    }
    expect(got).toEqual(['0:b0', '3:d3', '3:e3', '3:g1-clamped', '5:a5', '5:c5', '5:f5', '5:h5']);
  });

  it('agrees with a sort on random schedules', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(50), fc.nat(3)), { maxLength: 200 }), (ops) => {
      type E = Queued & { id: number };
      const q = new EventQueue<E>();
      const log: E[] = [];
      let id = 0;
      for (const [t] of ops) q.push(t, { t: 0, seq: 0, id: id++ });
      // Pop some, push follow-ups relative to now, then drain.
      for (const [, k] of ops) {
        const x = q.pop();
        if (!x) break;
        log.push(x);
        for (let i = 0; i < k; i++) q.push(x.t + i * 7, { t: 0, seq: 0, id: id++ });
      }
      for (let x = q.pop(); x; x = q.pop()) log.push(x);
      for (let i = 1; i < log.length; i++) {
        const a = log[i - 1]!, b = log[i]!;
        if (!(a.t < b.t || (a.t === b.t && a.seq < b.seq))) return false;
      }
      return log.length === id;
    }));
  });
});

describe('SimTestbed', () => {
  it('assigns deterministic addresses', () => {
    expect(testbed.assignAddresses([
      { id: 'router', placement: 'switch', port: 9000 },
      { id: 's1', placement: 'host', port: 8000 },
      { id: 'c1', placement: 'host', port: 7000 },
      { id: 'agg', placement: 'switch', port: 9001 },
    ])).toEqual({ router: '10.0.1.1:9000', s1: '10.0.0.2:8000', c1: '10.0.0.3:7000', agg: '10.0.1.2:9001' });
    expect(SimTestbed.switchAddr).toBe('10.0.0.1:1');
    const many = testbed.assignAddresses(Array.from({ length: 300 }, (_, i) => ({ id: `n${i}`, placement: 'host' as const, port: 1 })));
    expect(new Set(Object.values(many)).size).toBe(300);
  });

  it('delivers through the switch with the link delay; starts at t=0; stops at duration', async () => {
    const out = await run(scenario({ workload: [ping(100), ping(20_000)] }));
    expect(brief(out.trace)).toEqual([
      '0 server1 EchoStart',
      '0 client1 ClientStart',
      '100 client1 Ping 1',
      '150 server1 Echo 1',
      '200 client1 Pong 1',
    ]);
    expect(out.trace[4]).toMatchObject({ from: out.plan.addrs.server1 });
    expect(out.stats).toMatchObject({ packets: 2 });
    expect(out.notes).toEqual([]);
  });

  it('loss, duplication and jitter reordering at their probabilities (fixed seed)', async () => {
    const N = 2000;
    const out = await run(scenario({
      topology: { tick: 10, count: N },
      network: { delay: 100, jitter: 80, loss: 0.1, duplicate: 0.05 },
      duration: N * 10 + 1000,
    }));
    const pings = out.trace.filter((e) => e.action === 'Ping').length;
    const echoes = out.trace.filter((e) => e.action === 'Echo').map((e) => e.seq as number);
    const pongs = out.trace.filter((e) => e.action === 'Pong').length;
    const lost = out.trace.filter((e) => e.action === 'NetDrop' && e.reason === 'loss').length;
    const dups = out.trace.filter((e) => e.action === 'NetDuplicate').length;
    expect(pings).toBe(N);
    const sent = pings + echoes.length; // packets that entered the switch
    expect(out.stats!.packets).toBe(sent);
    expect(lost / sent).toBeGreaterThan(0.08);
    expect(lost / sent).toBeLessThan(0.12);
    expect(dups / (sent - lost)).toBeGreaterThan(0.035);
    expect(dups / (sent - lost)).toBeLessThan(0.065);
    expect(echoes.length + pongs).toBe(sent - lost + dups);
    let inversions = 0;
    for (let i = 1; i < echoes.length; i++) if (echoes[i]! < echoes[i - 1]!) inversions++;
    expect(inversions).toBeGreaterThan(N / 20);
  });

  it('a partition drops both directions; heal restores', async () => {
    const out = await run(scenario({
      topology: { tick: 100, count: 10 },
      faults: [{ at: 250, kind: 'partition', groups: [['client1'], ['server1']], duration: 500 }],
      duration: 2000,
    }));
    // Pings at 100..1000; pong of ping 2 (sent 200, echoed 250) is cut on its way back.
    const drops = out.trace.filter((e) => e.action === 'NetDrop').map((e) => `${e.t} ${e.from}->${e.to} ${e.reason}`);
    expect(drops).toEqual([
      '250 server1->client1 partition',
      '300 client1->server1 partition', '400 client1->server1 partition', '500 client1->server1 partition',
      '600 client1->server1 partition', '700 client1->server1 partition',
    ]);
    expect(out.trace.filter((e) => e.action === 'Pong').map((e) => e.seq)).toEqual([1, 8, 9, 10]);
    expect(brief(out.trace, ['NetPartition', 'NetHeal'])).toEqual(['250 switch NetPartition', '750 switch NetHeal']);
  });

  it('switch programs receive packets for them; forwarded packets keep src; program timers fire', async () => {
    const out = await run(scenario({
      topology: { router: true, servers: 2, beat: 300 },
      workload: [ping(100, 3)],
      duration: 1000,
    }));
    const { addrs } = out.plan;
    expect(brief(out.trace, ['Ping', 'RouterForward', 'Echo', 'Pong', 'RouterBeat'])).toEqual([
      '100 client1 Ping 1', '100 client1 Ping 2', '100 client1 Ping 3',
      // Each hop (client → router, router → server, server → client) crosses a 50 µs link.
      '150 router RouterForward 1', '150 router RouterForward 2', '150 router RouterForward 3',
      '200 server1 Echo 1', '200 server2 Echo 2', '200 server1 Echo 3',
      '250 client1 Pong 1', '250 client1 Pong 2', '250 client1 Pong 3',
      '300 router RouterBeat', '600 router RouterBeat', '900 router RouterBeat',
    ]);
    // The server saw the client's address (src kept), and replied straight to it.
    expect(out.trace.filter((e) => e.action === 'Echo').every((e) => e.client === addrs.client1)).toBe(true);
    expect(out.trace.filter((e) => e.action === 'Pong').map((e) => e.from)).toEqual([addrs.server1, addrs.server2, addrs.server1]);
  });

  it('a cut link loses what the host sends and what is sent to it, until it is mended', async () => {
    // client1 pings every 100 µs; links take 50 µs each way. Its link is cut from 230 to 530.
    const out = await run(scenario({
      topology: { tick: 100, count: 8 },
      faults: [{ at: 230, kind: 'disconnect', node: 'client1', duration: 300 }],
      duration: 1000,
    }));
    expect(brief(out.trace, ['NetDisconnect', 'NetReconnect'])).toEqual(['230 client1 NetDisconnect', '530 client1 NetReconnect']);
    // The echo of ping 2 reaches the cut client at 300 and is lost; pings 3, 4 and 5 never leave it.
    expect(out.trace.filter((e) => e.action === 'NetDrop').map((e) => `${e.t} ${e.from}->${e.to} ${e.reason}`).sort()).toEqual([
      '300 client1->server1 cut', '300 server1->client1 cut', '400 client1->server1 cut', '500 client1->server1 cut',
    ]);
    expect(out.trace.filter((e) => e.action === 'Echo').map((e) => e.seq)).toEqual([1, 2, 6, 7, 8]);
    expect(out.trace.filter((e) => e.action === 'Pong').map((e) => e.seq)).toEqual([1, 6, 7, 8]);
  });

  it('a clock step shifts the time a core sees, and its armed timers follow its clock', async () => {
    // client1 ticks every 100 µs by its own clock. Pings at 100 and 200 (offset 0); the tick due at
    // 300 by its clock. At 250 the clock jumps 60 µs ahead: that tick is due at true 240, past, so
    // it fires at once (250, its clock reads 310, next due at its 410 = true 350, then 450). At 500
    // the clock steps back to −40: the tick due at its 610 fires at true 650.
    const out = await run(scenario({
      topology: { tick: 100, count: 6 },
      faults: [{ at: 250, kind: 'clock', node: 'client1', offsetUs: 60 }, { at: 500, kind: 'clock', node: 'client1', offsetUs: -40 }],
      duration: 1000,
    }));
    expect(brief(out.trace, ['HostClock'])).toEqual(['250 client1 HostClock', '500 client1 HostClock']);
    expect(out.trace.filter((e) => e.action === 'HostClock').map((e) => e.offsetUs)).toEqual([60, -40]);
    expect(out.trace.filter((e) => e.action === 'Ping').map((e) => e.t)).toEqual([100, 200, 250, 350, 450, 650]);
  });

  it('a crash drops packets and timers; a restart re-runs start with fresh state', async () => {
    const out = await run(scenario({
      topology: { tick: 100, count: 20 },
      faults: [
        { at: 320, kind: 'crash', node: 'server1' },
        { at: 500, kind: 'restart', node: 'server1' },
        { at: 640, kind: 'crash', node: 'client1' },
        { at: 900, kind: 'restart', node: 'client1' },
      ],
      workload: [ping(700), ping(1000)],
      duration: 1300,
    }));
    expect(brief(out.trace, ['HostCrash', 'HostRestart', 'EchoStart', 'ClientStart'])).toEqual([
      '0 server1 EchoStart', '0 client1 ClientStart',
      '320 server1 HostCrash', '500 server1 HostRestart', '500 server1 EchoStart',
      '640 client1 HostCrash', '900 client1 HostRestart', '900 client1 ClientStart',
    ]);
    // Pings 3 and 4 reach server1 while it is down.
    expect(out.trace.filter((e) => e.action === 'NetDrop').map((e) => `${e.t} ${e.to} ${e.reason}`)).toEqual([
      '350 server1 host-down', '450 server1 host-down',
      '700 client1 host-down', // the pong of ping 6 arrives after the client crashed
    ]);
    // The restarted server counts from 1 again; the client's tick timer died with it; the
    // restarted client starts its sequence numbers over.
    const echoes = out.trace.filter((e) => e.action === 'Echo').map((e) => `${e.t}:${e.seq}/${e.served}`);
    expect(echoes).toEqual(['150:1/1', '250:2/2', '550:5/1', '650:6/2', '1050:1/3', '1050:2/4', '1150:3/5', '1250:4/6']);
    // What the server persisted (its lifetime echo count) comes back in `start` after the restart.
    expect(out.trace.filter((e) => e.action === 'EchoStart').map((e) => e.restored)).toEqual([0, 2]);
    expect(out.notes).toEqual(['sim: t=700: command to client1, which is down; dropped']);
    expect(out.trace.find((e) => e.action === 'HostCrash')).toMatchObject({ reason: 'fault' });
  });

  it('a pause freezes a node: inputs queue and are delivered in order at resume', async () => {
    const out = await run(scenario({
      topology: { tick: 100, count: 6 },
      faults: [{ at: 120, kind: 'pause', node: 'server1', duration: 300 }],
      duration: 2000,
    }));
    // Pings 1..4 arrive at 150..450; 2 and 3 arrive during the pause (120..420) and wait.
    expect(brief(out.trace, ['Echo', 'HostPause', 'HostResume'])).toEqual([
      '120 server1 HostPause',
      '420 server1 HostResume', '420 server1 Echo 1', '420 server1 Echo 2', '420 server1 Echo 3',
      '450 server1 Echo 4', '550 server1 Echo 5', '650 server1 Echo 6',
    ]);
    expect(out.trace.filter((e) => e.action === 'Pong').map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.trace.some((e) => e.action === 'NetDrop')).toBe(false);
  });

  it('a paused node keeps its timers; they fire at resume unless re-armed', async () => {
    const out = await run(scenario({
      topology: { tick: 100, count: 5 },
      faults: [{ at: 150, kind: 'pause', node: 'client1', duration: 230 }],
      duration: 1000,
    }));
    // The tick due at 200 fires at resume (380), re-arms for 480, ...
    expect(brief(out.trace, ['Ping'])).toEqual([
      '100 client1 Ping 1', '380 client1 Ping 2', '480 client1 Ping 3', '580 client1 Ping 4', '680 client1 Ping 5',
    ]);
    // The pong of ping 1 (due at 200) waited for the resume too.
    expect(brief(out.trace, ['Pong'])[0]).toBe('380 client1 Pong 1');
  });

  it('a core that throws is treated as a crash, with a note', async () => {
    const out = await run(scenario({
      topology: { tick: 100, count: 5 },
      workload: [{ at: 250, node: 'client1', command: 'throw' }],
      duration: 1000,
    }));
    expect(out.trace.find((e) => e.action === 'HostCrash')).toMatchObject({ t: 250, node: 'client1', reason: 'exception' });
    expect(brief(out.trace, ['Ping'])).toEqual(['100 client1 Ping 1', '200 client1 Ping 2']);
    expect(out.notes[0]).toMatch(/client1 threw on command: client told to throw/);
  });

  it('faults on a switch program become switch commands', async () => {
    const out = await run(scenario({
      topology: { router: true, servers: 1, beat: 100 },
      faults: [{ at: 150, kind: 'crash', node: 'router' }, { at: 400, kind: 'restart', node: 'router' }],
      workload: [ping(200), ping(500)],
      duration: 650,
    }));
    expect(brief(out.trace, ['HostCrash', 'HostRestart', 'RouterBeat', 'RouterForward', 'Pong', 'NetDrop'])).toEqual([
      '100 router RouterBeat', '150 router HostCrash', '200 switch NetDrop',
      '400 router HostRestart', '500 router RouterBeat', '550 router RouterForward 2',
      '600 router RouterBeat', '650 client1 Pong 2',
    ]);
  });

  it('notes unknown fault targets and workload for unknown nodes without failing', async () => {
    const out = await run(scenario({
      faults: [{ at: 10, kind: 'crash', node: 'ghost' }] as Fault[],
      workload: [{ at: 5, node: 'nobody', command: { ping: 1 } }],
      duration: 100,
    }));
    expect(out.notes).toEqual([
      'sim: workload step for unknown or unstarted node nobody at 5; skipped',
      'sim: t=10: crash of unknown host ghost; ignored',
    ]);
  });

  it('DETERMINISM: same plan and seed give a byte-identical trace; another seed another one', async () => {
    const s = (seed: number): ToyScenario => scenario({
      seed,
      topology: { router: true, servers: 3, clients: 3, tick: 20, count: 200, beat: 500 },
      network: { delay: 30, jitter: 40, loss: 0.05, duplicate: 0.02 },
      faults: [
        { at: 1000, kind: 'partition', groups: [['client1'], ['server1', 'server2']], duration: 800 },
        { at: 1500, kind: 'crash', node: 'server3' },
        { at: 2500, kind: 'restart', node: 'server3' },
        { at: 2000, kind: 'pause', node: 'client2', duration: 300 },
        { at: 3000, kind: 'link', from: '*', to: 'server1', link: { delay: 5, jitter: 200, loss: 0.3, duplicate: 0.1 } },
      ],
      duration: 6000,
    });
    const a = toNdjson((await run(s(42))).trace);
    const b = toNdjson((await run(s(42))).trace);
    const c = toNdjson((await run(s(43))).trace);
    expect(a.length).toBeGreaterThan(10_000);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });
});
