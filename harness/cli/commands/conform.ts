/** `protocheck conform <protocol> --inventory FILE`: the conformance suite on a lab, with a report. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../main.ts';
import { intOption, parse, UsageError } from '../args.ts';
import { findProtocol } from '../protocol-arg.ts';
import { progressPrinter } from '../progress.ts';
import { printCampaign } from './fuzz.ts';
import { runCampaign, type CampaignResult } from '../../run/campaign.ts';
import { AgentClient } from '../../../testbeds/agent/client.ts';
import { HardwareTestbed } from '../../../testbeds/hardware/hardware.ts';
import type { Inventory } from '../../../testbeds/hardware/inventory.ts';

const HELP = `usage: protocheck conform <protocol> --inventory FILE [--runs N] [--seed S] [--out DIR]

Runs the protocol's conformance suite on the hosts of a lab inventory (each running
\`protocheck agent\`): first every agent is checked (reachable, accepts the secret, allowed roles)
and its clock offset measured; then N generated scenarios (default 10) run on the lab, each checked
by the XState monitors, the property checkers and TLC trace validation. The report goes to
DIR/conform-<protocol>-<time>.md and .json (default DIR: out/conform).
Exit code: 0 all passed, 1 a violation, 2 inconclusive (e.g. an agent unreachable).`;

export interface AgentCheck {
  readonly host: string;
  readonly agent: string;
  readonly ok: boolean;
  readonly roles?: readonly string[];
  readonly clockOffsetMs?: number;
  readonly rttMs?: number;
  readonly error?: string;
}

/** Asks every agent of the inventory for its info and clock; never throws. */
export async function checkAgents(inventory: Inventory, timeoutMs = 5000): Promise<AgentCheck[]> {
  return Promise.all(inventory.hosts.map(async (h): Promise<AgentCheck> => {
    const c = new AgentClient(h.agent, inventory.secret, timeoutMs);
    try {
      const info = await c.info();
      const missing = h.roles.filter((r) => !info.allowedRoles.includes(r));
      if (missing.length) {
        return { host: h.name, agent: h.agent, ok: false, roles: info.allowedRoles, error: `the agent does not allow ${missing.join(', ')} (the inventory lists them)` };
      }
      const off = await c.clockOffsetNs();
      return {
        host: h.name, agent: h.agent, ok: true, roles: info.allowedRoles,
        clockOffsetMs: Number(off.offsetNs) / 1e6, rttMs: Number(off.rttNs) / 1e6,
      };
    } catch (err) {
      return { host: h.name, agent: h.agent, ok: false, error: (err as Error).message };
    }
  }));
}

function reportMarkdown(protocol: string, inventoryPath: string, agents: readonly AgentCheck[], result: CampaignResult | undefined, exit: number): string {
  const lines = [
    `# Conformance: ${protocol} on ${inventoryPath}`,
    '',
    `Result: ${exit === EXIT.ok ? 'PASSED' : exit === EXIT.violation ? 'VIOLATION' : 'INCONCLUSIVE'}`,
    '',
    '| host | agent | status | clock offset (ms) | rtt (ms) |',
    '|---|---|---|---|---|',
    ...agents.map((a) => `| ${a.host} | ${a.agent} | ${a.ok ? 'ok' : `error: ${a.error}`} | ${a.clockOffsetMs?.toFixed(3) ?? ''} | ${a.rttMs?.toFixed(3) ?? ''} |`),
    '',
  ];
  if (result) {
    const violations = (result.failure ? 1 : 0) + result.tlcViolations.length;
    lines.push(
      `Runs: ${result.runs}, passed: ${result.passedRuns}, violations: ${violations}, traces validated by TLC: ${result.tlcValidated}, ` +
      `wall time ${(result.wallMs / 1000).toFixed(1)} s, seed ${result.seed}.`,
    );
    if (result.failure) {
      lines.push('', '## Violation', '', ...result.failure.shrunk.violations.map((v) => `- [${v.check}] ${v.message}`));
      if (result.failure.replayFile) lines.push('', `Replay: \`protocheck replay ${result.failure.replayFile}\``);
    }
    if (result.inconclusive) lines.push('', `Inconclusive: ${result.inconclusive}`);
  }
  return lines.join('\n') + '\n';
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    inventory: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string', default: 'out/conform' },
    help: { type: 'boolean' },
  });
  if (values.help) return console.log(HELP), EXIT.ok;
  const protocol = findProtocol(positionals[0]);
  if (!values.inventory) throw new UsageError('conform needs --inventory FILE (see `protocheck conform --help`)');
  const testbed = await HardwareTestbed.fromFile(values.inventory);
  const runs = intOption(values.runs, 'runs', 10);
  const seed = intOption(values.seed, 'seed', Date.now() % 1_000_000);
  const outDir = values.out!;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const base = join(outDir, `conform-${protocol.name}-${stamp}`);

  console.log(`conform ${protocol.name} on ${values.inventory}: ${testbed.inventory.hosts.length} hosts, ${runs} runs, seed ${seed}`);
  const agents = await checkAgents(testbed.inventory);
  for (const a of agents) {
    console.log(`  ${a.host} (${a.agent}): ${a.ok ? `ok, clock offset ${a.clockOffsetMs!.toFixed(3)} ms (rtt ${a.rttMs!.toFixed(3)} ms)` : `ERROR: ${a.error}`}`);
  }
  let result: CampaignResult | undefined;
  let exit: number = EXIT.inconclusive;
  if (agents.every((a) => a.ok)) {
    const progress = progressPrinter(`${protocol.name}/hardware`);
    try {
      result = await runCampaign({
        protocol, testbed, runs, seed, hostFaults: true, tlcSample: 1,
        replayDir: join(outDir, 'replays'), maxShrinkRuns: 10, onProgress: (p) => progress.update(p),
      });
    } finally {
      progress.done();
    }
    exit = printCampaign(result);
  } else {
    console.log('conform: some agents failed the check; no scenario was run');
  }
  await mkdir(outDir, { recursive: true });
  await writeFile(`${base}.md`, reportMarkdown(protocol.name, values.inventory, agents, result, exit));
  await writeFile(`${base}.json`, JSON.stringify({
    protocol: protocol.name, inventory: values.inventory, exit, agents,
    campaign: result && {
      runs: result.runs, passedRuns: result.passedRuns, tlcValidated: result.tlcValidated, seed: result.seed,
      wallMs: result.wallMs, inconclusive: result.inconclusive ?? null,
      violations: [
        ...(result.failure ? result.failure.shrunk.violations : []),
        ...result.tlcViolations.map((t) => t.violation),
      ],
    },
  }, null, 2) + '\n');
  console.log(`report: ${base}.md`);
  return exit;
}
