/** The testbeds by name. Each is created fresh per campaign and closed after it. */
import type { Testbed } from './testbed.ts';

export const TESTBEDS: Record<string, { summary: string; create: () => Promise<Testbed> }> = {
  sim: {
    summary: 'all nodes in one process, virtual clock, seeded network (default)',
    create: async () => new (await import('./sim/sim.ts')).SimTestbed(),
  },
  local: {
    summary: 'one OS process per node on 127.0.0.x, real UDP, a switch process',
    create: async () => new (await import('./local/local.ts')).LocalTestbed(),
  },
};

export class UnknownTestbedError extends Error {}

export async function createTestbed(name: string): Promise<Testbed> {
  const t = TESTBEDS[name];
  if (!t) throw new UnknownTestbedError(`unknown testbed '${name}' (known: ${Object.keys(TESTBEDS).join(', ')})`);
  return t.create();
}
