/**
 * Scenarios that once failed on the correct implementation, rerun on sim; each test's name says
 * what went wrong. The fixtures are the shrunk scenarios the campaign saved.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../run/run-scenario.ts';
import { SimTestbed } from '../../../testbeds/sim/sim.ts';
import { checkLinearizable, historyFromTrace } from './properties.ts';
import { hovercraft, type HovercraftScenario } from './index.ts';

const fixture = (name: string): HovercraftScenario =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as HovercraftScenario;

describe('hovercraft regressions on sim', () => {
  it('a NACKed put whose duplicate the middlebox admits later is ordered, and a read of its value is linearizable ' +
    '(fuzz --seed 5, run 61: the history left NACKed operations out)', async () => {
    const r = await runScenario(hovercraft, fixture('nack-then-duplicate-admitted.json'), new SimTestbed());
    expect(r.violations).toEqual([]);
    // The phenomenon is there: the middlebox NACKs a copy of client1's put and then admits a
    // duplicate of it; the put is applied, and client2 reads its value.
    const nack = r.trace.findIndex((e) => e.action === 'MiddleboxNack' && e.rid === 2);
    expect(nack).toBeGreaterThanOrEqual(0);
    const { client } = r.trace[nack] as unknown as { client: string };
    const admitted = r.trace.findIndex((e, i) => i > nack && e.action === 'MiddleboxForward' && e.rid === 2 &&
      (e as unknown as { client: string }).client === client);
    expect(admitted).toBeGreaterThan(nack);
    expect(r.trace.some((e) => e.node === 'client1' && e.action === 'ClientReceiveNack' && e.rid === 2)).toBe(true);
    expect(r.trace.some((e) => e.node === 'client2' && e.action === 'ClientReceiveReply' && e.result === 'client1.13')).toBe(true);
    // The NACKed put is in the history as pending (it may have taken effect), and the history is
    // linearizable only because of that.
    const h = historyFromTrace(r.trace);
    const put = h.find((o) => o.client === 'client1' && o.input.op === 'put' && o.input.key === 'y' && o.input.value === 'client1.13');
    expect(put?.ret).toBeUndefined();
    expect(checkLinearizable(r.trace).verdict).toBe('ok');
    const withoutNacked = r.trace.filter((_e, i) => !(put?.events ?? []).includes(i));
    expect(checkLinearizable(withoutNacked).verdict).toBe('violation');
  });
});
