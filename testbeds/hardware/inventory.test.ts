/**
 * The lab inventory of the `hardware` testbed (no Docker, no agents): validation with the JSON
 * path of every problem, the secret from the environment or inline, loading from a file, and the
 * placement of a run's nodes on the inventory's hosts (`HardwareTestbed.assignAddresses`).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AddressRequest } from '../testbed.ts';
import { HardwareTestbed } from './hardware.ts';
import { DEFAULT_SWITCH_PORT, InventoryError, loadInventory, parseInventory, type Inventory } from './inventory.ts';

const ENV = { LAB_SECRET: 's3cret', PROTOCHECK_AGENT_SECRET: 'default-secret' };

/** A valid inventory: a switch host and two hosts for clients and servers. */
function valid(): Record<string, any> {
  return {
    secretEnv: 'LAB_SECRET',
    hosts: [
      { name: 'sw', agent: 'http://10.0.0.2:7400', address: '10.0.0.2', roles: ['switch'] },
      { name: 'h1', agent: 'http://10.0.0.3:7400', address: '10.0.0.3', roles: ['r2p2-client', 'r2p2-server'] },
      { name: 'h2', agent: 'http://10.0.0.4:7400/', address: '10.0.0.4', roles: ['r2p2-server'] },
    ],
    switch: { host: 'sw', port: 4100 },
  };
}

/** `json` edited by `edit`, parsed; returns the InventoryError's message (fails when it parses). */
function problems(edit: (j: Record<string, any>) => void, env: NodeJS.ProcessEnv = ENV): string {
  const j = valid();
  edit(j);
  try {
    parseInventory(j, env);
  } catch (err) {
    expect(err).toBeInstanceOf(InventoryError);
    return (err as Error).message;
  }
  throw new Error(`parseInventory accepted ${JSON.stringify(j)}`);
}

describe('parseInventory', () => {
  it('accepts a valid inventory; the secret comes from the variable secretEnv names', () => {
    const inv = parseInventory(valid(), ENV);
    expect(inv).toEqual({
      secret: 's3cret',
      switch: { kind: 'host', host: 'sw', port: 4100 },
      hosts: [
        { name: 'sw', agent: 'http://10.0.0.2:7400', address: '10.0.0.2', roles: ['switch'] },
        { name: 'h1', agent: 'http://10.0.0.3:7400', address: '10.0.0.3', roles: ['r2p2-client', 'r2p2-server'] },
        // the agent URL is normalised to its origin
        { name: 'h2', agent: 'http://10.0.0.4:7400', address: '10.0.0.4', roles: ['r2p2-server'] },
      ],
    } satisfies Inventory);
  });

  it('takes an inline secret, PROTOCHECK_AGENT_SECRET by default, and the default switch port', () => {
    const inline = valid();
    delete inline.secretEnv;
    inline.secret = 'inline-secret';
    expect(parseInventory(inline, {}).secret).toBe('inline-secret');
    const byDefault = valid();
    delete byDefault.secretEnv;
    delete byDefault.switch.port;
    const inv = parseInventory(byDefault, ENV);
    expect(inv.secret).toBe('default-secret');
    expect(inv.switch).toEqual({ kind: 'host', host: 'sw', port: DEFAULT_SWITCH_PORT });
  });

  it('rejects a missing or empty host list', () => {
    // (the switch host then names no host either: a second line)
    expect(problems((j) => delete j.hosts).split('\n')[0]).toBe('inventory: hosts: must be a non-empty array');
    expect(problems((j) => (j.hosts = []))).toMatch(/^inventory: hosts: must be a non-empty array/);
    expect(() => parseInventory([], ENV)).toThrow('inventory: must be a JSON object with "hosts" and "switch"');
    expect(() => parseInventory(null, ENV)).toThrow(InventoryError);
  });

  it('rejects a bad agent URL, naming the host entry', () => {
    for (const agent of ['10.0.0.3:7400', 'https://10.0.0.3:7400', 'http://10.0.0.3', 'ftp://10.0.0.3:21', 'not a url']) {
      expect(problems((j) => (j.hosts[1].agent = agent)), agent).toBe(`inventory: hosts[1].agent: "${agent}" is not an http://host:port URL`);
    }
    expect(problems((j) => (j.hosts[0].agent = 7400))).toBe('inventory: hosts[0].agent: must be a URL like "http://10.0.0.3:7400"');
  });

  it('rejects a bad address and bad roles', () => {
    for (const address of ['10.0.0', '10.0.0.256', 'h1.lab', '10.0.0.3:7000', '', 3]) {
      expect(problems((j) => (j.hosts[2].address = address)), String(address)).toBe('inventory: hosts[2].address: must be an IPv4 address');
    }
    expect(problems((j) => (j.hosts[1].roles = []))).toBe('inventory: hosts[1].roles: must be a non-empty array of role names');
    expect(problems((j) => (j.hosts[1].roles = ['r2p2-client', '']))).toBe('inventory: hosts[1].roles: must be a non-empty array of role names');
  });

  it('rejects duplicate host names', () => {
    expect(problems((j) => (j.hosts[2].name = 'h1'))).toBe('inventory: hosts[2].name: duplicate host name "h1"');
    expect(problems((j) => (j.hosts[2].name = ''))).toBe('inventory: hosts[2].name: must be a non-empty string');
  });

  it('rejects unknown fields at the top and in a host', () => {
    expect(problems((j) => (j.hostz = []))).toBe('inventory: hostz: unknown field');
    expect(problems((j) => (j.hosts[1].port = 7400))).toBe('inventory: hosts[1].port: unknown field');
  });

  it('rejects a switch host that is missing or may not run the switch', () => {
    expect(problems((j) => (j.switch.host = 'nowhere'))).toBe('inventory: switch.host: no host named "nowhere"');
    expect(problems((j) => (j.switch.host = 'h1'))).toBe('inventory: switch.host: host "h1" may not run the switch (add "switch" to its roles)');
    expect(problems((j) => delete j.switch.host)).toBe('inventory: switch.host: must name a host');
    expect(problems((j) => delete j.switch)).toMatch(/^inventory: switch: must be \{ "host": name/);
    expect(problems((j) => (j.switch.port = 70000))).toBe('inventory: switch.port: must be a port number');
  });

  it('rejects a secret variable that is not set', () => {
    expect(problems(() => {}, { PROTOCHECK_AGENT_SECRET: 'x' }))
      .toBe("inventory: secretEnv: environment variable LAB_SECRET (the agents' shared secret) is not set");
    expect(problems((j) => delete j.secretEnv, {}))
      .toBe("inventory: secretEnv: environment variable PROTOCHECK_AGENT_SECRET (the agents' shared secret) is not set");
    expect(problems((j) => (j.secret = ''))).toBe('inventory: secret: must be a non-empty string');
  });

  it('reports every problem at once, one per line, with the source name', () => {
    const j = valid();
    j.hosts[1].address = 'x';
    j.hosts[2].name = 'h1';
    j.extra = 1;
    let message = '';
    try {
      parseInventory(j, {}, 'lab.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'lab.json: extra: unknown field',
      'lab.json: hosts[1].address: must be an IPv4 address',
      'lab.json: hosts[2].name: duplicate host name "h1"',
      "lab.json: secretEnv: environment variable LAB_SECRET (the agents' shared secret) is not set",
    ]);
  });

  it('parses an external switch; the hardware testbed then refuses to place a run', () => {
    const j = valid();
    j.switch = { external: { address: '10.0.0.1:4000' } };
    const inv = parseInventory(j, ENV);
    expect(inv.switch).toEqual({ kind: 'external', address: '10.0.0.1:4000' });
    expect(problems((x) => (x.switch = { external: { address: '10.0.0.1' } }))).toBe('inventory: switch.external.address: must be "ip:port"');
    const tb = new HardwareTestbed(inv);
    const assign = () => tb.assignAddresses([{ id: 'client1', placement: 'host', port: 7000, role: 'r2p2-client' }]);
    expect(assign).toThrow(InventoryError);
    expect(assign).toThrow(/the inventory's switch is external \(10\.0\.0\.1:4000\); this version runs protocols only through a software switch/);
  });
});

describe('loadInventory', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  async function dir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'protocheck-inventory-'));
    dirs.push(d);
    return d;
  }

  it('loads a file; problems are named with the file path', async () => {
    const d = await dir();
    const file = join(d, 'lab.json');
    await writeFile(file, JSON.stringify(valid()));
    expect((await loadInventory(file, ENV)).hosts.map((h) => h.name)).toEqual(['sw', 'h1', 'h2']);
    await expect(loadInventory(file, {})).rejects.toThrow(`${file}: secretEnv: environment variable LAB_SECRET`);
  });

  it('a missing file or a file that is not JSON is a clear InventoryError', async () => {
    const d = await dir();
    const missing = join(d, 'nope.json');
    await expect(loadInventory(missing, ENV)).rejects.toThrow(InventoryError);
    await expect(loadInventory(missing, ENV)).rejects.toThrow(new RegExp(`^cannot read inventory ${missing}: ENOENT`));
    const bad = join(d, 'bad.json');
    await writeFile(bad, '{ "hosts": [ ');
    await expect(loadInventory(bad, ENV)).rejects.toThrow(InventoryError);
    await expect(loadInventory(bad, ENV)).rejects.toThrow(new RegExp(`^${bad}: not JSON: `));
  });
});

describe('HardwareTestbed placement', () => {
  const inv = parseInventory(valid(), ENV);
  const req = (id: string, role: string, port: number): AddressRequest => ({ id, placement: 'host', port, role });
  const router: AddressRequest = { id: 'router', placement: 'switch', port: 9000, role: 'r2p2-router' };

  it('spreads nodes of a role over the hosts that may run it; switch programs go to the switch host', () => {
    const tb = new HardwareTestbed(inv);
    const addrs = tb.assignAddresses([
      req('client1', 'r2p2-client', 7000),
      req('server1', 'r2p2-server', 8000),
      req('server2', 'r2p2-server', 8000),
      router,
    ]);
    expect(addrs).toEqual({
      client1: '10.0.0.3:7000',
      server1: '10.0.0.3:8000', // h1 holds client1 on 7000: 8000 is still free there
      server2: '10.0.0.4:8000',
      router: '10.0.0.2:9000',
    });
  });

  it('two nodes on one host get distinct ports', () => {
    const one = parseInventory({
      secret: 'x',
      hosts: [
        { name: 'sw', agent: 'http://10.0.0.2:7400', address: '10.0.0.2', roles: ['switch'] },
        { name: 'h', agent: 'http://10.0.0.3:7400', address: '10.0.0.3', roles: ['r2p2-client', 'r2p2-server'] },
      ],
      switch: { host: 'sw' },
    });
    const addrs = new HardwareTestbed(one).assignAddresses([
      req('client1', 'r2p2-client', 7000),
      req('client2', 'r2p2-client', 7000),
      req('server1', 'r2p2-server', 8000),
      req('server2', 'r2p2-server', 8000),
    ]);
    const values = Object.values(addrs);
    expect(values.every((a) => a.startsWith('10.0.0.3:'))).toBe(true);
    expect(new Set(values).size).toBe(4);
    expect(addrs.client1).not.toBe(addrs.client2);
  });

  it('a role no host may run is an InventoryError naming the node and the role', () => {
    const tb = new HardwareTestbed(inv);
    expect(() => tb.assignAddresses([req('x1', 'kv-replica', 7000)])).toThrow(InventoryError);
    expect(() => tb.assignAddresses([req('x1', 'kv-replica', 7000)]))
      .toThrow('hardware: no inventory host may run kv-replica x1 (add "kv-replica" to some host\'s roles)');
  });
});
