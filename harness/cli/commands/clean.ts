/**
 * `protocheck clean`: removes every Docker container and network labelled `protocheck=1` (left by
 * docker-testbed runs that were killed), containers first. Without a reachable engine there is
 * nothing to clean.
 */
import { parse, UsageError } from '../args.ts';
import { engineAvailable } from '../../../testbeds/docker/engine.ts';
import { reapAll } from '../../../testbeds/docker/reap.ts';

export const CLEAN_USAGE = `usage: protocheck clean

Removes (force) every Docker container, then every Docker network, labelled protocheck=1, and
prints what it removed. With no Docker engine reachable there is nothing to clean (exit 0).

options:
  -h, --help   this text`;

export async function run(args: string[]): Promise<number> {
  let help: boolean | undefined;
  try {
    const p = parse(args, { help: { type: 'boolean', short: 'h' } }, false);
    help = p.values.help;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`protocheck clean: ${err.message}\n\n${CLEAN_USAGE}\n`);
    return 2;
  }
  if (help) {
    process.stdout.write(CLEAN_USAGE + '\n');
    return 0;
  }
  if (!(await engineAvailable())) {
    console.log('protocheck clean: no Docker engine reachable; nothing to clean');
    return 0;
  }
  const r = await reapAll();
  const list = (names: readonly string[]): string => (names.length ? `: ${names.join(', ')}` : '');
  console.log(`protocheck clean: removed ${r.containers} container${r.containers === 1 ? '' : 's'}${list(r.containerNames)}`);
  console.log(`protocheck clean: removed ${r.networks} network${r.networks === 1 ? '' : 's'}${list(r.networkNames)}`);
  return 0;
}
