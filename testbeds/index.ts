/** The testbeds by name. Each is created fresh per campaign and closed after it. */
import type { Testbed } from './testbed.ts';

/** What some testbeds need to be created: `hardware` needs its inventory file. */
export interface TestbedOptions {
  readonly inventory?: string;
}

export const TESTBEDS: Record<string, { summary: string; create: (o: TestbedOptions) => Promise<Testbed> }> = {
  sim: {
    summary: 'all nodes in one process, virtual clock, seeded network (default)',
    create: async () => new (await import('./sim/sim.ts')).SimTestbed(),
  },
  local: {
    summary: 'one OS process per node on 127.0.0.x, real UDP, a switch process',
    create: async () => new (await import('./local/local.ts')).LocalTestbed(),
  },
  docker: {
    summary: 'one container per node on a fresh Docker network, a switch container (starts the engine if needed)',
    create: async () => new (await import('./docker/docker.ts')).DockerTestbed(),
  },
  hardware: {
    summary: 'hosts of a lab inventory (--inventory FILE), each running `protocheck agent`',
    create: async (o) => {
      const { HardwareTestbed } = await import('./hardware/hardware.ts');
      if (!o.inventory) throw new UnknownTestbedError('the hardware testbed needs an inventory: --inventory FILE');
      return HardwareTestbed.fromFile(o.inventory);
    },
  },
};

export class UnknownTestbedError extends Error {}

export async function createTestbed(name: string, options: TestbedOptions = {}): Promise<Testbed> {
  const t = TESTBEDS[name];
  if (!t) throw new UnknownTestbedError(`unknown testbed '${name}' (known: ${Object.keys(TESTBEDS).join(', ')})`);
  return t.create(options);
}
