/** `protocheck check <protocol>`: TLC on the protocol's models. */
import { match } from 'ts-pattern';
import { EXIT } from '../main.ts';
import { parse, intOption, UsageError } from '../args.ts';
import { findProtocol } from '../protocol-arg.ts';
import { checkModels, type ModelResult } from '../../run/model-check.ts';
import { formatCounterexample } from '../../tlc/index.ts';
import { availableParallelism } from 'node:os';
import { indent, table } from '../../report/format.ts';

const HELP = `usage: protocheck check <protocol> [--workers N]

Runs TLC on every model of the protocol's spec: correct models must pass, buggy variants must be
rejected with a counterexample (printed as a sequence of states, changed variables only).
TLC uses N worker threads (default: the machine's cores).`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { workers: { type: 'string' }, help: { type: 'boolean' } });
  if (values.help) return console.log(HELP), EXIT.ok;
  const protocol = findProtocol(positionals[0]);
  const workers = intOption(values.workers, 'workers', availableParallelism());
  const results = await checkModels(protocol, (r) => console.log(describe(r)), workers);
  console.log('\n' + modelTable(results));
  if (results.some((r) => r.inconclusive)) return EXIT.inconclusive;
  return results.every((r) => r.asExpected) ? EXIT.ok : EXIT.violation;
}

export function describe(r: ModelResult): string {
  const { model, result } = r;
  const head = `${r.asExpected ? '✓' : r.inconclusive ? '?' : '✗'} ${model.module} (${model.config}): ${result.outcome}` +
    `${result.violated ? ` of ${result.violated}` : ''} — expected ${model.expect}${model.violates ? ` of ${model.violates}` : ''}; ` +
    `${result.distinctStates} distinct states, depth ${result.depth}, ${(result.wallMs / 1000).toFixed(1)} s`;
  const lines = [head, `  ${model.description}`];
  if (result.message && result.outcome !== 'ok') lines.push(indent(result.message, 2));
  for (const e of result.errors) lines.push(`  ${e.file ?? ''}${e.line !== undefined ? `:${e.line}` : ''} ${e.message}`);
  if (result.counterexample?.length) {
    lines.push(`  counterexample (${result.counterexample.length} states):`);
    lines.push(indent(formatCounterexample(result.counterexample), 4));
  }
  return lines.join('\n');
}

export function modelTable(results: readonly ModelResult[]): string {
  return table(
    ['model', 'expect', 'outcome', 'states', 'distinct', 'time'],
    results.map((r) => [
      `${r.model.config}`,
      r.model.expect,
      match(r.asExpected).with(true, () => `${r.result.outcome} ✓`).otherwise(() => `${r.result.outcome} ✗`),
      String(r.result.statesGenerated),
      String(r.result.distinctStates),
      `${(r.result.wallMs / 1000).toFixed(1)}s`,
    ]),
  );
}

export { UsageError };
