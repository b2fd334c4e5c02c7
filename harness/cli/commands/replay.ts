/** `protocheck replay FILE`: reruns a saved scenario and checks its trace three ways. */
import { writeFile } from 'node:fs/promises';
import { EXIT } from '../main.ts';
import { parse, UsageError } from '../args.ts';
import { findProtocol } from '../protocol-arg.ts';
import { loadReplay } from '../../run/replay-file.ts';
import { runScenario } from '../../run/run-scenario.ts';
import { formatRunFailure, formatEvent } from '../../report/format.ts';
import { toNdjson } from '../../trace/schema.ts';
import { createTestbed } from '../../../testbeds/index.ts';

const HELP = `usage: protocheck replay FILE [--testbed NAME] [--trace FILE] [--no-tlc] [--show-trace]

Reruns the scenario saved in FILE (a replay file written by \`protocheck fuzz\`, or a bare
scenario JSON) on its testbed (or the one given), checks the trace with the monitors, the
property checkers and TLC, and prints what fails. --trace writes the trace as NDJSON.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    testbed: { type: 'string' },
    trace: { type: 'string' },
    'no-tlc': { type: 'boolean' },
    'show-trace': { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help) return console.log(HELP), EXIT.ok;
  const file = positionals[0];
  if (!file) throw new UsageError('name the replay file');
  const replay = await loadReplay(file);
  const protocol = findProtocol(replay.protocol);
  const testbed = await createTestbed(values.testbed ?? replay.testbed);
  let report;
  try {
    report = await runScenario(protocol, replay.scenario, testbed);
  } finally {
    await testbed.close?.();
  }
  let tlcNote = 'not run';
  if (!values['no-tlc'] && protocol.validateTraces) {
    const [res] = await protocol.validateTraces([{ trace: report.trace, addrs: report.addrs, scenario: report.scenario }]);
    if (res && !res.accepted) {
      report.violations.push({ check: 'tlc', message: `the spec does not admit this trace: ${res.message ?? `matched ${res.matchedPrefix ?? 0} events`}` });
    }
    tlcNote = res?.accepted ? 'admitted by the spec' : 'rejected';
  }
  if (values.trace) await writeFile(values.trace, toNdjson(report.trace));
  if (values['show-trace']) for (let i = 0; i < report.trace.length; i++) console.log(formatEvent(report.trace[i]!, i));
  if (replay.violations.length) {
    console.log(`saved run found: ${replay.violations.map((v) => `[${v.check}] ${v.message}`).join('; ')}`);
  }
  if (report.violations.length === 0) {
    console.log(`replay of ${file} on ${testbed.name}: ${report.trace.length} events, no violation (monitors ✓, properties ✓, TLC: ${tlcNote})`);
    return EXIT.ok;
  }
  console.log(formatRunFailure(`replay of ${file} on ${testbed.name}: VIOLATION`, report));
  return EXIT.violation;
}
