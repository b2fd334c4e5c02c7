/**
 * `protocheck agent`: serves the hardware-lab agent (`testbeds/agent/server.ts`) on this host
 * until SIGTERM / SIGINT, then kills the processes it started. The shared secret comes from an
 * environment variable, never from the command line (where `ps` would show it).
 */
import { existsSync } from 'node:fs';
import { UsageError, listOption, parse } from '../args.ts';
import { defaultLauncher, startAgent, type AgentServer, type Launcher } from '../../../testbeds/agent/server.ts';

export const AGENT_USAGE = `usage: protocheck agent --listen HOST:PORT --roles-allowed ROLE,… [options]

Runs protocheck node/switch processes on this host for a harness elsewhere (HTTP API, see
testbeds/agent/protocol.ts). Prints {"agent":"listening","url":…} on stdout once listening; runs
until SIGTERM or SIGINT, then kills every process it started.

options:
  --listen HOST:PORT      where to serve the API (port 0: any free port) (required)
  --roles-allowed LIST    roles this host may run, comma-separated; \`switch\` = the software switch
                          (required)
  --secret-env VAR        environment variable holding the shared secret
                          (default PROTOCHECK_AGENT_SECRET; required, non-empty)
  --clock-skew-ms N       simulate a host clock N ms ahead of the real one (behind: --clock-skew-ms=-N)
  --verbose               log one line per request to stderr
  -h, --help              this text`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  listen: { type: 'string' },
  'roles-allowed': { type: 'string' },
  'secret-env': { type: 'string' },
  'clock-skew-ms': { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

const DEFAULT_SECRET_ENV = 'PROTOCHECK_AGENT_SECRET';

function parseListen(text: string | undefined): { host: string; port: number } {
  if (!text) throw new UsageError('--listen HOST:PORT is required');
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !(port >= 0 && port <= 65535)) throw new UsageError(`--listen: expected HOST:PORT, got '${text}'`);
  return { host: m[1], port };
}

function parseSkew(text: string | undefined): bigint {
  if (text === undefined) return 0n;
  const ms = Number(text);
  if (text.trim() === '' || !Number.isFinite(ms)) throw new UsageError(`--clock-skew-ms: expected a number of ms, got '${text}'`);
  return BigInt(Math.round(ms * 1e6));
}

/** Reads the secret and removes it from the environment, so the processes started do not inherit it. */
function takeSecret(name: string): string {
  const secret = process.env[name];
  if (!secret) {
    throw new UsageError(`no secret: set the environment variable ${name} to the shared secret (it is never taken from the command line)`);
  }
  delete process.env[name];
  return secret;
}

/**
 * How the processes are started: `node bin/protocheck.mjs …` of this checkout when there is one;
 * otherwise (a bundled protocheck) `node <this process's entry script> …`.
 */
function launcher(): Launcher {
  const checkout = defaultLauncher();
  if (checkout.prefixArgs[0] !== undefined && existsSync(checkout.prefixArgs[0])) return checkout;
  const entry = process.argv[1];
  if (!entry) throw new UsageError('cannot tell how to start protocheck processes: no bin/protocheck.mjs and no entry script');
  return { command: process.execPath, prefixArgs: [entry], cwd: process.cwd() };
}

export async function run(args: string[]): Promise<number> {
  const v = parse(args, OPTIONS, false).values;
  if (v.help) {
    process.stdout.write(AGENT_USAGE + '\n');
    return 0;
  }
  const { host, port } = parseListen(v.listen);
  const allowedRoles = listOption(v['roles-allowed']);
  if (!allowedRoles.length) throw new UsageError('--roles-allowed ROLE,… is required (e.g. r2p2-client,r2p2-server,switch)');
  const clockSkewNs = parseSkew(v['clock-skew-ms']);
  const secret = takeSecret(v['secret-env'] ?? DEFAULT_SECRET_ENV);
  const how = launcher();
  let agent: AgentServer;
  try {
    agent = await startAgent({ host, port, secret, allowedRoles, clockSkewNs, verbose: v.verbose ?? false, launcher: how });
  } catch (err) {
    throw new UsageError(`cannot listen on ${host}:${port}: ${(err as Error).message}`);
  }
  process.stdout.write(JSON.stringify({ agent: 'listening', url: agent.url }) + '\n');
  // The handlers stay installed until the processes are gone: while another listener exists the
  // reaper's own handler kills the children without re-raising the signal.
  let onSignal!: (sig: NodeJS.Signals) => void;
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    onSignal = resolve;
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  if (v.verbose) process.stderr.write(`agent: ${signal}: stopping\n`);
  try {
    await agent.close();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  return 0;
}
