/**
 * The `protocheck` command line. Each subcommand lives in `commands/<name>.ts` and exports
 * `run(args: string[]): Promise<number>` returning the exit code:
 * 0 all passed, 1 a violation was found, 2 inconclusive (or a usage / setup error).
 */
import { commandUsage, dispatch, type CommandEntry } from './dispatch.ts';

export const EXIT = { ok: 0, violation: 1, inconclusive: 2 } as const;

const COMMANDS: Record<string, CommandEntry> = {
  main: { summary: 'TLC on every spec and a short sim fuzz campaign per protocol, with a summary (npm start)', load: () => import('./commands/main-job.ts') },
  check: { summary: 'model-check a protocol\'s TLA+ spec with TLC', load: () => import('./commands/check.ts') },
  fuzz: { summary: 'fuzz a protocol\'s implementation on a testbed', load: () => import('./commands/fuzz.ts') },
  soak: { summary: 'fuzz campaigns over many seeds and every protocol, in parallel, for a time budget', load: () => import('./commands/soak.ts') },
  replay: { summary: 'rerun a saved failing scenario', load: () => import('./commands/replay.ts') },
  bench: { summary: 'simulator throughput and time to detect each seeded bug', load: () => import('./commands/bench.ts') },
  setup: { summary: 'fetch the TLA+ tools if missing', load: () => import('./commands/setup.ts') },
  node: { summary: 'run one protocol role on a real UDP socket', load: () => import('./commands/node.ts') },
  switch: { summary: 'run the software switch (fault stage and switch programs)', load: () => import('./commands/switch.ts') },
  conform: { summary: 'conformance suite of a protocol on a lab (hardware testbed), with a report', load: () => import('./commands/conform.ts') },
  agent: { summary: 'run the lab agent that starts protocheck roles for a remote harness', load: () => import('./commands/agent.ts') },
  clean: { summary: 'remove every container and network protocheck created', load: () => import('./commands/clean.ts') },
};

export function usage(): string {
  return commandUsage(COMMANDS);
}

export function main(argv: string[]): Promise<number> {
  return dispatch(COMMANDS, argv);
}
