/**
 * The R2P2 protocol definition: registry entry, roles, seeded bugs, spec models, plan, configs
 * (accepted by the real role factories) and the monitor's handling of crashes.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../impl/rng.ts';
import { R2P2_BUGS } from '../../../impl/r2p2/common.ts';
import type { TraceEvent } from '../../trace/schema.ts';
import { protocols } from '../index.ts';
import { r2p2 } from './index.ts';
import { exampleScenario, r2p2Timing, type R2p2Scenario } from './scenario.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const addrsOf = (s: R2p2Scenario): Record<string, string> => Object.fromEntries(
  r2p2.plan(s).map((n, i) => [n.id, n.placement === 'switch' ? `10.0.1.1:${n.port}` : `10.0.0.${i + 2}:${n.port}`]));

describe('r2p2 protocol definition', () => {
  it('is registered under its name', () => {
    expect(protocols['r2p2']).toBe(r2p2);
    expect(r2p2.name).toBe('r2p2');
  });

  it('has the three R2P2 roles', () => {
    expect(Object.keys(r2p2.roles).sort()).toEqual(['r2p2-client', 'r2p2-router', 'r2p2-server']);
  });

  it('lists exactly the seeded bugs of the implementation, each caught by known checks', () => {
    expect(r2p2.bugs.map((b) => b.name).sort()).toEqual([...R2P2_BUGS].sort());
    const checks = new Set([...r2p2.properties.map((p) => p.name), 'monitor', 'tlc']);
    for (const b of r2p2.bugs) {
      expect(b.caughtBy.length, b.name).toBeGreaterThan(0);
      for (const c of b.caughtBy) expect(checks.has(c), `${b.name}: ${c}`).toBe(true);
    }
    // every property checker is shown to catch some seeded bug (rule 5); no-silent-loss by its unit tests
    const caught = new Set(r2p2.bugs.flatMap((b) => b.caughtBy));
    for (const p of r2p2.properties.filter((x) => x.name !== 'no-silent-loss')) expect(caught.has(p.name), p.name).toBe(true);
  });

  it('lists spec models that exist, a correct one and buggy ones, and every .cfg of specs/r2p2', () => {
    for (const m of r2p2.models) {
      expect(existsSync(resolve(ROOT, m.module)), m.module).toBe(true);
      expect(existsSync(resolve(ROOT, m.config)), m.config).toBe(true);
    }
    expect(r2p2.models.some((m) => m.expect === 'ok')).toBe(true);
    expect(r2p2.models.some((m) => m.expect === 'violation')).toBe(true);
    const cfgs = readdirSync(resolve(ROOT, 'specs/r2p2')).filter((f) => f.endsWith('.cfg')).map((f) => `specs/r2p2/${f}`);
    expect(r2p2.models.map((m) => m.config).sort()).toEqual(cfgs.sort());
  });

  it('plans clients and servers on hosts and the router in the switch', () => {
    const s = { ...exampleScenario(1), topology: { clients: 3, servers: 2, router: { policy: 'jbsq' as const, n: 2, queueCap: 4 } } };
    expect(r2p2.plan(s)).toEqual([
      { id: 'client1', role: 'r2p2-client', placement: 'host', port: 7000 },
      { id: 'client2', role: 'r2p2-client', placement: 'host', port: 7000 },
      { id: 'client3', role: 'r2p2-client', placement: 'host', port: 7000 },
      { id: 'server1', role: 'r2p2-server', placement: 'host', port: 8000 },
      { id: 'server2', role: 'r2p2-server', placement: 'host', port: 8000 },
      { id: 'router', role: 'r2p2-router', placement: 'switch', port: 9000 },
    ]);
  });

  it('configures every node so that the role factories accept it', () => {
    for (const testbed of ['sim', 'local']) {
      const s = exampleScenario(2, { testbed });
      const addrs = addrsOf(s);
      const configs = r2p2.configure(s, addrs);
      const t = r2p2Timing(s);
      expect(configs['client1']).toEqual({ router: addrs['router'], timeoutUs: t.timeoutUs, rtoUs: t.rtoUs });
      expect(configs['server2']).toEqual({ router: addrs['router'], n: 2, heartbeatUs: t.heartbeatUs, rtoUs: t.rtoUs, gcRtos: t.gcRtos, rejoinDelayUs: t.leaveAfterUs + t.heartbeatUs });
      expect(configs['router']).toEqual({ policy: 'jbsq', n: 2, queueCap: 4, leaveAfterUs: t.leaveAfterUs });
      for (const n of r2p2.plan(s)) {
        const core = r2p2.roles[n.role]!(configs[n.id]!, { node: n.id, addr: addrs[n.id]!, rng: new Rng(1), bugs: new Set() });
        expect(core.node).toBe(n.id);
      }
    }
  });

  it('scales timers with the testbed: sim in µs to ms, real testbeds in ms to 100s of ms', () => {
    const sim = r2p2Timing(exampleScenario(1));
    const real = r2p2Timing(exampleScenario(1, { testbed: 'docker' }));
    expect(sim.timeoutUs).toBeLessThan(50_000);
    expect(real.timeoutUs).toBeGreaterThanOrEqual(500_000);
    expect(real.rtoUs).toBeGreaterThanOrEqual(10_000);
    expect(real.heartbeatUs).toBeGreaterThan(sim.heartbeatUs);
  });

  it('monitor: a crashed client comes back as a fresh core and may reuse its rids', () => {
    const base = exampleScenario(1);
    const addrs = addrsOf(base);
    const send = (t: number): TraceEvent =>
      ({ t, node: 'client1', action: 'ClientSend', rid: 1, policy: 'LB_ROUTE', npkts: 1, size: 10, digest: 'd' }) as TraceEvent;
    // the testbed's annotations of the crash and the restart (the monitor takes crashes from these)
    const host = (t: number, action: 'HostCrash' | 'HostRestart'): TraceEvent =>
      ({ t, node: 'client1', action, ...(action === 'HostCrash' ? { reason: 'fault' } : {}) }) as TraceEvent;
    const crashed = [send(10), host(1_000, 'HostCrash'), host(1_500, 'HostRestart'), send(2_000)];
    const run = (s: R2p2Scenario, trace: TraceEvent[]) => {
      const m = r2p2.monitor(s, addrs);
      return trace.flatMap((e, i) => m.observe(i, e) ?? []);
    };
    const faults = [{ at: 1_000, kind: 'crash' as const, node: 'client1' }, { at: 1_500, kind: 'restart' as const, node: 'client1' }];
    expect(run({ ...base, faults }, crashed)).toEqual([]);
    // either annotation alone makes the client's next rid 1 a fresh request
    expect(run(base, crashed.filter((e) => e.action !== 'HostRestart'))).toEqual([]);
    expect(run(base, crashed.filter((e) => e.action !== 'HostCrash'))).toEqual([]);
    // without the annotations, rid 1 sent again while still pending is a violation, whatever the scenario's faults
    const plain = [send(10), send(2_000)];
    expect(run(base, plain)).toHaveLength(1);
    expect(run({ ...base, faults }, plain)).toHaveLength(1);
  });
});
