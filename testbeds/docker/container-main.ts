/**
 * The entry point of the docker testbed's node image (`/app/protocheck.mjs`, bundled by
 * `image.ts`): only the commands a container runs. Static imports only, so the bundle holds exactly
 * these commands and what they import. Exit codes and error reporting as in `harness/cli/main.ts`.
 */
import * as nodeCmd from '../../harness/cli/commands/node.ts';
import * as switchCmd from '../../harness/cli/commands/switch.ts';
import * as agentCmd from '../../harness/cli/commands/agent.ts';

type Command = { run(args: string[]): Promise<number> };

export const CONTAINER_COMMANDS: Record<string, { summary: string; cmd: Command }> = {
  node: { summary: 'run one protocol role on a real UDP socket', cmd: nodeCmd },
  switch: { summary: 'run the software switch (fault stage and switch programs)', cmd: switchCmd },
  agent: { summary: 'serve the agent API: start node/switch processes for a harness elsewhere', cmd: agentCmd },
};

const EXIT_INCONCLUSIVE = 2;

/** Error classes whose message is the user's to act on: reported as one line, no stack (as `main.ts`). */
const KNOWN_ERRORS = new Set([
  'UsageError', 'UnknownTestbedError', 'ReplayFileError', 'TlcSetupError', 'ConfigError', 'TraceParseError',
]);

function usage(): string {
  const width = Math.max(...Object.keys(CONTAINER_COMMANDS).map((k) => k.length));
  return [
    'usage: protocheck <command> [options]   (container image: only these commands)',
    '',
    ...Object.entries(CONTAINER_COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `protocheck <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function containerMain(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : EXIT_INCONCLUSIVE;
  }
  const entry = CONTAINER_COMMANDS[name];
  if (!entry) {
    console.error(`protocheck: unknown command '${name}'\n\n${usage()}`);
    return EXIT_INCONCLUSIVE;
  }
  try {
    return await entry.cmd.run(rest);
  } catch (err) {
    const e = err as Error;
    if (KNOWN_ERRORS.has(e?.constructor?.name ?? '')) {
      console.error(`protocheck ${name}: ${e.message}`);
    } else {
      console.error(`protocheck ${name}: internal error: ${e?.stack ?? String(err)}`);
    }
    return EXIT_INCONCLUSIVE;
  }
}

process.exitCode = await containerMain(process.argv.slice(2));
