import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import { createAggregator } from './aggregator.ts';
import {
  AGGREGATOR_ROLE, ConfigError, HOVERCRAFT_BUGS, NODE_ROLE, parseAggregatorConfig, parseNodeConfig,
} from './config.ts';
import { createNode } from './node.ts';
import { nodeConfig } from './test-net.ts';

const good = (): Record<string, unknown> => ({ ...nodeConfig(3, 'node2', 'hovercraft') });

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.field;
    throw e;
  }
  return '(no error)';
}

describe('hovercraft config', () => {
  it('names the roles and the seeded bugs', () => {
    expect(NODE_ROLE).toBe('hovercraft-node');
    expect(AGGREGATOR_ROLE).toBe('hovercraft-aggregator');
    expect(HOVERCRAFT_BUGS).toEqual([
      'commit-without-majority', 'replier-reassigned', 'stale-read-by-non-replier', 'apply-without-body',
      'bounded-queue-ignored', 'aggregator-commits-early', 'aggregator-overstates-applied', 'double-vote', 'skip-log-check',
      'vote-without-log-check', 'read-executed-by-all',
    ]);
  });

  it('parses a valid node config and builds cores through the factories', () => {
    const c = parseNodeConfig(good());
    expect(c).toMatchObject({ self: 'node2', nodes: ['node1', 'node2', 'node3'], mode: 'hovercraft', replierPolicy: 'jbsq', bound: 8 });
    const env = { node: 'node2', addr: c.addrs.node2!, rng: new Rng(1), bugs: new Set<string>() };
    expect(createNode(good(), env).node).toBe('node2');
    const agg = createAggregator({ nodes: c.nodes, addrs: c.addrs }, { node: 'aggregator', addr: '10.0.0.2:7100', bugs: new Set() });
    expect(agg.addr).toBe('10.0.0.2:7100');
  });

  it('names the offending field of a malformed node config', () => {
    const bad = (patch: Record<string, unknown>): string => fieldOf(() => parseNodeConfig({ ...good(), ...patch }));
    expect(fieldOf(() => parseNodeConfig(null))).toBe('(config)');
    expect(bad({ extra: 1 })).toBe('extra');
    expect(bad({ self: 'node9' })).toBe('self');
    expect(bad({ nodes: [] })).toBe('nodes');
    expect(bad({ nodes: ['a', 'a'] })).toBe('nodes');
    expect(bad({ nodes: Array.from({ length: 17 }, (_, i) => `n${i}`) })).toBe('nodes');
    expect(bad({ addrs: { node1: '10.0.0.1:1', node2: '10.0.0.2:1' } })).toBe('addrs');
    expect(bad({ addrs: { node1: '10.0.0.1:1', node2: 'x', node3: '10.0.0.3:1' } })).toBe('node2');
    expect(bad({ mode: 'paxos' })).toBe('mode');
    expect(bad({ replierPolicy: 'random' })).toBe('replierPolicy');
    expect(bad({ bound: 0 })).toBe('bound');
    expect(bad({ bound: 1.5 })).toBe('bound');
    expect(bad({ middlebox: 'mb' })).toBe('middlebox');
    expect(bad({ aggregator: undefined })).toBe('aggregator');
    expect(bad({ electionMinUs: 0 })).toBe('electionMinUs');
    expect(bad({ electionMaxUs: 100 })).toBe('electionMaxUs');
    expect(bad({ heartbeatUs: 'x' })).toBe('heartbeatUs');
    expect(bad({ gcUs: -1 })).toBe('gcUs');
    expect(bad({ recoveryRetryUs: 0 })).toBe('recoveryRetryUs');
    expect(bad({ probeTimeoutUs: null })).toBe('probeTimeoutUs');
  });

  it('names the offending field of a malformed aggregator config', () => {
    const c = parseNodeConfig(good());
    expect(parseAggregatorConfig({ nodes: c.nodes, addrs: c.addrs }).nodes).toEqual(c.nodes);
    expect(fieldOf(() => parseAggregatorConfig({ nodes: c.nodes }))).toBe('addrs');
    expect(fieldOf(() => parseAggregatorConfig({ nodes: 'node1', addrs: c.addrs }))).toBe('nodes');
    expect(fieldOf(() => parseAggregatorConfig({ nodes: c.nodes, addrs: c.addrs, mode: 'raft' }))).toBe('mode');
  });
});
