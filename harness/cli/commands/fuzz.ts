/** `protocheck fuzz <protocol>`: a fuzz campaign on a testbed. */
import { EXIT } from '../main.ts';
import { parse, intOption, listOption, UsageError } from '../args.ts';
import { findProtocol } from '../protocol-arg.ts';
import { progressPrinter } from '../progress.ts';
import { runCampaign, type CampaignResult } from '../../run/campaign.ts';
import { formatCampaign, formatLoadFigures } from '../../report/format.ts';
import { createTestbed } from '../../../testbeds/index.ts';

const HELP = `usage: protocheck fuzz <protocol> [--testbed sim|local|docker|hardware] [--runs N] [--seed S]
                        [--bugs name,name] [--no-host-faults] [--tlc-sample F] [--tlc-max M] [--out DIR]
                        [--inventory FILE]  (hardware: the lab inventory)

Generates scenarios with fast-check and runs each on the testbed; every trace is checked by the
XState monitors and the property checkers, and by TLC trace validation: a fraction F of the passing
traces (--tlc-sample F, default 0.1; 1 validates every one, 0 turns TLC off), at most M of them
(--tlc-max, default 50); a failing trace always is. The first violation is shrunk and saved under DIR (default out/replays).
Exit code: 0 all passed, 1 a violation, 2 inconclusive.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    testbed: { type: 'string', default: 'sim' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    bugs: { type: 'string' },
    'no-host-faults': { type: 'boolean' },
    'tlc-sample': { type: 'string' },
    'tlc-max': { type: 'string' },
    out: { type: 'string', default: 'out/replays' },
    inventory: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) return console.log(HELP), EXIT.ok;
  const protocol = findProtocol(positionals[0]);
  const testbed = await createTestbed(values.testbed!, { inventory: values.inventory });
  const runs = intOption(values.runs, 'runs', testbed.name === 'sim' ? 200 : 10);
  const seed = intOption(values.seed, 'seed', Date.now() % 1_000_000);
  const bugs = listOption(values.bugs);
  const known = new Set(protocol.bugs.map((b) => b.name));
  for (const b of bugs) {
    if (!known.has(b)) throw new UsageError(`unknown bug '${b}' for ${protocol.name} (known: ${[...known].join(', ')})`);
  }
  const tlcSample = values['tlc-sample'] === undefined ? 0.1 : Number(values['tlc-sample']);
  if (!(tlcSample >= 0 && tlcSample <= 1)) throw new UsageError(`--tlc-sample must be within [0, 1]`);
  const tlcMax = values['tlc-max'] === undefined ? 50 : intOption(values['tlc-max'], 'tlc-max', 0);
  console.log(`fuzz ${protocol.name} on ${testbed.name}: ${runs} runs, seed ${seed}${bugs.length ? `, bugs ${bugs.join(',')}` : ''}`);
  const progress = progressPrinter(`${protocol.name}/${testbed.name}`);
  let result: CampaignResult;
  try {
    result = await runCampaign({
      protocol, testbed, runs, seed, bugs,
      hostFaults: !values['no-host-faults'],
      tlcSample,
      tlcMax,
      replayDir: values.out,
      onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.done();
    await testbed.close?.();
  }
  return printCampaign(result);
}

export function printCampaign(result: CampaignResult): number {
  const details = formatCampaign(result);
  if (details) console.log(details + '\n');
  const load = formatLoadFigures(result);
  if (load) console.log(load);
  const violations = (result.failure ? 1 : 0) + result.tlcViolations.length;
  console.log(
    `${result.protocol} on ${result.testbed}: ${result.runs} runs, ${result.passedRuns} passed, ` +
    `${violations} violation${violations === 1 ? '' : 's'}, ${result.tlcValidated} traces validated by TLC, ` +
    `${(result.wallMs / 1000).toFixed(1)} s (seed ${result.seed})`,
  );
  if (result.inconclusive) console.log(`inconclusive: ${result.inconclusive}`);
  if (violations > 0) return EXIT.violation;
  return result.inconclusive ? EXIT.inconclusive : EXIT.ok;
}
