/**
 * The `protocheck` command line. Each subcommand lives in `commands/<name>.ts` and exports
 * `run(args: string[]): Promise<number>` returning the exit code:
 * 0 all passed, 1 a violation was found, 2 inconclusive (or a usage / setup error).
 */
export const EXIT = { ok: 0, violation: 1, inconclusive: 2 } as const;

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }> = {
  node: { summary: 'run one protocol role on a real UDP socket', load: () => import('./commands/node.ts') },
  switch: { summary: 'run the software switch (fault stage and switch programs)', load: () => import('./commands/switch.ts') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: protocheck <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `protocheck <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? EXIT.ok : EXIT.inconclusive;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`protocheck: unknown command '${name}'\n\n${usage()}`);
    return EXIT.inconclusive;
  }
  const mod = await cmd.load();
  return mod.run(rest);
}
