/**
 * The entry point of the docker testbed's node image (`/app/protocheck.mjs`, bundled by
 * `image.ts`): only the commands a container runs. Static imports only, so the bundle holds exactly
 * these commands and what they import. Exit codes and error reporting as in `harness/cli/main.ts`.
 */
import * as nodeCmd from '../../harness/cli/commands/node.ts';
import * as switchCmd from '../../harness/cli/commands/switch.ts';
import * as agentCmd from '../../harness/cli/commands/agent.ts';

import { dispatch, type CommandEntry } from '../../harness/cli/dispatch.ts';

export const CONTAINER_COMMANDS: Record<string, CommandEntry> = {
  node: { summary: 'run one protocol role on a real UDP socket', load: async () => nodeCmd },
  switch: { summary: 'run the software switch (fault stage and switch programs)', load: async () => switchCmd },
  agent: { summary: 'serve the agent API: start node/switch processes for a harness elsewhere', load: async () => agentCmd },
};

export function containerMain(argv: string[]): Promise<number> {
  return dispatch(CONTAINER_COMMANDS, argv, '   (container image: only these commands)');
}

process.exitCode = await containerMain(process.argv.slice(2));
