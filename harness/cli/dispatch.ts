/**
 * Runs one subcommand of a command table: usage, unknown commands, and error reporting (a known
 * error class is the user's to fix: one line, no stack; anything else is an internal error with its
 * stack). Shared by the `protocheck` CLI (`main.ts`) and the container image's entry point.
 */
export interface CommandEntry {
  readonly summary: string;
  load(): Promise<{ run(args: string[]): Promise<number> }>;
}

const EXIT_OK = 0;
const EXIT_INCONCLUSIVE = 2;

/** Error classes whose message is the user's to act on. */
export const KNOWN_ERRORS: ReadonlySet<string> = new Set([
  'UsageError', 'UnknownTestbedError', 'ReplayFileError', 'TlcSetupError', 'ConfigError', 'TraceParseError',
  'DockerSetupError', 'DockerError', 'DockerTestbedError', 'AgentError', 'InventoryError', 'ProcessTestbedError',
]);

export function commandUsage(commands: Readonly<Record<string, CommandEntry>>, note = ''): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    `usage: protocheck <command> [options]${note}`,
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `protocheck <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function dispatch(commands: Readonly<Record<string, CommandEntry>>, argv: string[], note = ''): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(commandUsage(commands, note));
    return name ? EXIT_OK : EXIT_INCONCLUSIVE;
  }
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!cmd) {
    console.error(`protocheck: unknown command '${name}'\n\n${commandUsage(commands, note)}`);
    return EXIT_INCONCLUSIVE;
  }
  try {
    const mod = await cmd.load();
    return await mod.run(rest);
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
