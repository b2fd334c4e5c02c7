/**
 * `protocheck bench` (what `npm run bench` runs): simulator throughput and the time each seeded
 * bug takes to be found, as medians over several campaign seeds. Figures from one run on one
 * machine; compare ratios, not absolute times, across machines.
 */
import fc from 'fast-check';
import { EXIT } from '../main.ts';
import { parse, intOption } from '../args.ts';
import { protocols } from '../../protocols/index.ts';
import { runScenario } from '../../run/run-scenario.ts';
import { runCampaign } from '../../run/campaign.ts';
import { createTestbed } from '../../../testbeds/index.ts';
import { table } from '../../report/format.ts';

const HELP = `usage: protocheck bench [--scenarios N] [--seeds K] [--max-runs M]

Simulator throughput over N generated scenarios per protocol (default 300), then for every seeded
bug the campaign runs and wall time until the bug is found, median over K seeds (default 5),
giving up after M runs (default 1000).`;

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, {
    scenarios: { type: 'string' }, seeds: { type: 'string' }, 'max-runs': { type: 'string' }, help: { type: 'boolean' },
  });
  if (values.help) return console.log(HELP), EXIT.ok;
  const n = intOption(values.scenarios, 'scenarios', 300);
  const seeds = intOption(values.seeds, 'seeds', 5);
  const maxRuns = intOption(values['max-runs'], 'max-runs', 1000);
  const sim = await createTestbed('sim');

  const throughput: string[][] = [];
  for (const protocol of Object.values(protocols)) {
    const scenarios = fc.sample(protocol.scenarios({ testbed: 'sim', hostFaults: true }), { numRuns: n, seed: 42 });
    let packets = 0;
    let events = 0;
    let traceEvents = 0;
    const t0 = performance.now();
    for (const s of scenarios) {
      const r = await runScenario(protocol, s, sim);
      packets += r.stats?.packets ?? 0;
      events += r.stats?.events ?? 0;
      traceEvents += r.trace.length;
    }
    const secs = (performance.now() - t0) / 1000;
    throughput.push([
      protocol.name, String(n), (n / secs).toFixed(0), (packets / secs).toFixed(0), (events / secs).toFixed(0), (traceEvents / secs).toFixed(0),
    ]);
  }
  console.log('Simulator throughput (runs include the monitors and property checkers):');
  console.log(table(['protocol', 'scenarios', 'scenarios/s', 'packets/s', 'sim events/s', 'trace events/s'], throughput));

  const detect: string[][] = [];
  for (const protocol of Object.values(protocols)) {
    for (const bug of protocol.bugs) {
      const runsToFind: number[] = [];
      const msToFind: number[] = [];
      let missed = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const r = await runCampaign({ protocol, testbed: sim, runs: maxRuns, seed, bugs: [bug.name], maxShrinkRuns: 0 });
        if (r.failure) {
          runsToFind.push(r.runs);
          msToFind.push(r.wallMs);
        } else {
          missed++;
        }
      }
      detect.push([
        protocol.name, bug.name,
        runsToFind.length ? String(median(runsToFind)) : '-',
        msToFind.length ? median(msToFind).toFixed(0) : '-',
        `${seeds - missed}/${seeds}`,
      ]);
    }
  }
  console.log(`\nTime to detect each seeded bug on sim (median over ${seeds} seeds, no shrinking, at most ${maxRuns} runs):`);
  console.log(table(['protocol', 'bug', 'runs', 'ms', 'found'], detect));
  await sim.close?.();
  return EXIT.ok;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
