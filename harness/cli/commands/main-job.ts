/**
 * `protocheck main` (what `npm start` runs): TLC on every protocol's models, then a short fuzz
 * campaign on the simulator per protocol with TLC validating a sample of the traces (every trace
 * costs about 26 times the campaign on these machines, see docs/DESIGN.md), and a
 * summary table. Exit code: 0 all passed, 1 a violation, 2 inconclusive.
 */
import { availableParallelism } from 'node:os';
import { EXIT } from '../main.ts';
import { parse, intOption } from '../args.ts';
import { protocols } from '../../protocols/index.ts';
import { checkModels } from '../../run/model-check.ts';
import { runCampaign, type CampaignResult } from '../../run/campaign.ts';
import { ensureTools } from '../../tlc/index.ts';
import { createTestbed } from '../../../testbeds/index.ts';
import { progressPrinter } from '../progress.ts';
import { formatCampaign, formatLoadFigures, table } from '../../report/format.ts';
import { describe } from './check.ts';

const HELP = `usage: protocheck main [--runs N] [--seed S] [--testbed NAME]

For every protocol: TLC on its models (correct ones must pass, buggy variants must be rejected),
then a fuzz campaign of N runs (default 300) on the testbed (default sim), with TLC validating
every failing trace and a sample of passing ones (a tenth, at most 30). Prints a summary table.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parse(args, {
    runs: { type: 'string' }, seed: { type: 'string' }, testbed: { type: 'string', default: 'sim' }, help: { type: 'boolean' },
  });
  if (values.help) return console.log(HELP), EXIT.ok;
  const runs = intOption(values.runs, 'runs', 300);
  const seed = intOption(values.seed, 'seed', 1);
  const tools = await ensureTools();
  console.log(`protocheck: TLA+ tools ${tools.jar}\n`);

  const rows: string[][] = [];
  let exit: number = EXIT.ok;
  const worse = (code: number) => {
    if (code === EXIT.violation || (code === EXIT.inconclusive && exit === EXIT.ok)) exit = code;
  };
  for (const protocol of Object.values(protocols)) {
    console.log(`== ${protocol.name}: model checking`);
    const models = await checkModels(protocol, (r) => console.log(describe(r).split('\n').slice(0, 2).join('\n')), availableParallelism());
    const okModels = models.filter((m) => m.model.expect === 'ok');
    const buggy = models.filter((m) => m.model.expect === 'violation');
    for (const m of models) worse(m.inconclusive ? EXIT.inconclusive : m.asExpected ? EXIT.ok : EXIT.violation);

    console.log(`\n== ${protocol.name}: fuzzing on ${values.testbed}`);
    const testbed = await createTestbed(values.testbed!);
    const progress = progressPrinter(`${protocol.name}/${testbed.name}`);
    let c: CampaignResult;
    try {
      c = await runCampaign({
        protocol, testbed, runs, seed, tlcSample: 0.1, tlcMax: 30, replayDir: 'out/replays',
        onProgress: (p) => progress.update(p),
      });
    } finally {
      progress.done();
      await testbed.close?.();
    }
    const details = formatCampaign(c);
    if (details) console.log(details);
    const violations = (c.failure ? 1 : 0) + c.tlcViolations.length;
    worse(violations > 0 ? EXIT.violation : c.inconclusive ? EXIT.inconclusive : EXIT.ok);
    if (c.inconclusive) console.log(`inconclusive: ${c.inconclusive}`);
    const load = formatLoadFigures(c);
    if (load) console.log(load);
    console.log(`${c.runs} runs, ${violations} violations, ${c.tlcValidated} traces validated by TLC, ${(c.wallMs / 1000).toFixed(1)} s\n`);
    rows.push([
      protocol.name,
      `${okModels.filter((m) => m.asExpected).length}/${okModels.length} pass`,
      `${buggy.filter((m) => m.asExpected).length}/${buggy.length} rejected`,
      String(okModels.reduce((s, m) => s + m.result.distinctStates, 0)),
      `${c.testbed} ${c.runs}`,
      String(violations),
      String(c.tlcValidated),
    ]);
  }
  console.log(table(
    ['protocol', 'TLC models', 'buggy variants', 'distinct states', 'fuzz runs', 'violations', 'traces by TLC'],
    rows,
  ));
  console.log(`\n${exit === EXIT.ok ? 'all checks passed' : exit === EXIT.violation ? 'VIOLATIONS found' : 'inconclusive'} (exit ${exit})`);
  return exit;
}
