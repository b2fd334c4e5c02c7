/**
 * The lab inventory of the `hardware` testbed: a JSON file listing the hosts (each running
 * `protocheck agent`), their addresses, which roles each may run, and where the switch runs.
 *
 * ```json
 * {
 *   "secretEnv": "PROTOCHECK_AGENT_SECRET",
 *   "hosts": [
 *     { "name": "sw",  "agent": "http://10.0.0.2:7400", "address": "10.0.0.2", "roles": ["switch"] },
 *     { "name": "h1",  "agent": "http://10.0.0.3:7400", "address": "10.0.0.3", "roles": ["r2p2-client", "r2p2-server"] }
 *   ],
 *   "switch": { "host": "sw", "port": 4000 }
 * }
 * ```
 *
 * The agents' shared secret comes from `secret` (inline, for throw-away labs) or from the
 * environment variable `secretEnv` names (default `PROTOCHECK_AGENT_SECRET`). `switch` is either
 * `{ "host", "port"? }` (a host running the software switch) or `{ "external": { "address" } }` (a
 * switch the harness only observes). Every problem is reported with its JSON path.
 */
import { readFile } from 'node:fs/promises';

export interface InventoryHost {
  readonly name: string;
  /** The agent's base URL, `http://host:port`. */
  readonly agent: string;
  /** The IPv4 address the host's processes bind and are reached at. */
  readonly address: string;
  readonly roles: readonly string[];
}

export type InventorySwitch =
  | { readonly kind: 'host'; readonly host: string; readonly port: number }
  | { readonly kind: 'external'; readonly address: string };

export interface Inventory {
  readonly hosts: readonly InventoryHost[];
  readonly switch: InventorySwitch;
  readonly secret: string;
}

export class InventoryError extends Error {}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const DEFAULT_SECRET_ENV = 'PROTOCHECK_AGENT_SECRET';
export const DEFAULT_SWITCH_PORT = 4000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a parsed inventory; `env` supplies the secret when the file names a variable. */
export function parseInventory(json: unknown, env: NodeJS.ProcessEnv = process.env, source = 'inventory'): Inventory {
  const problems: string[] = [];
  const bad = (path: string, what: string): void => void problems.push(`${source}: ${path}: ${what}`);
  if (!isObject(json)) throw new InventoryError(`${source}: must be a JSON object with "hosts" and "switch"`);
  for (const k of Object.keys(json)) if (!['hosts', 'switch', 'secret', 'secretEnv'].includes(k)) bad(k, 'unknown field');

  const hosts: InventoryHost[] = [];
  if (!Array.isArray(json.hosts) || json.hosts.length === 0) bad('hosts', 'must be a non-empty array');
  else {
    json.hosts.forEach((h: unknown, i: number) => {
      const p = `hosts[${i}]`;
      if (!isObject(h)) return bad(p, 'must be an object');
      for (const k of Object.keys(h)) if (!['name', 'agent', 'address', 'roles'].includes(k)) bad(`${p}.${k}`, 'unknown field');
      const name = typeof h.name === 'string' && h.name ? h.name : (bad(`${p}.name`, 'must be a non-empty string'), '');
      let agent = '';
      if (typeof h.agent !== 'string') bad(`${p}.agent`, 'must be a URL like "http://10.0.0.3:7400"');
      else {
        try {
          const u = new URL(h.agent);
          if (u.protocol !== 'http:' || !/:\d+\/?$/.test(h.agent)) throw new Error('scheme/port');
          agent = u.origin;
        } catch {
          bad(`${p}.agent`, `"${h.agent}" is not an http://host:port URL`);
        }
      }
      const address = typeof h.address === 'string' && IPV4.test(h.address) ? h.address : (bad(`${p}.address`, 'must be an IPv4 address'), '');
      const roles = Array.isArray(h.roles) && h.roles.length > 0 && h.roles.every((r) => typeof r === 'string' && r)
        ? (h.roles as string[])
        : (bad(`${p}.roles`, 'must be a non-empty array of role names'), []);
      if (name && hosts.some((o) => o.name === name)) bad(`${p}.name`, `duplicate host name "${name}"`);
      hosts.push({ name, agent, address, roles });
    });
  }

  let sw: InventorySwitch | undefined;
  const s = json.switch;
  if (!isObject(s)) bad('switch', 'must be { "host": name, "port"?: n } or { "external": { "address": "ip:port" } }');
  else if ('external' in s) {
    for (const k of Object.keys(s)) if (k !== 'external') bad(`switch.${k}`, 'unknown field');
    const a = isObject(s.external) ? s.external.address : undefined;
    if (typeof a !== 'string' || !/^[\d.]+:\d+$/.test(a)) bad('switch.external.address', 'must be "ip:port"');
    else sw = { kind: 'external', address: a };
  } else {
    for (const k of Object.keys(s)) if (k !== 'host' && k !== 'port') bad(`switch.${k}`, 'unknown field');
    const port = s.port === undefined ? DEFAULT_SWITCH_PORT : s.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) bad('switch.port', 'must be a port number');
    const host = hosts.find((h) => h.name === s.host);
    if (typeof s.host !== 'string') bad('switch.host', 'must name a host');
    else if (!host) bad('switch.host', `no host named "${s.host}"`);
    else if (!host.roles.includes('switch')) bad('switch.host', `host "${s.host}" may not run the switch (add "switch" to its roles)`);
    else sw = { kind: 'host', host: s.host, port: port as number };
  }

  let secret = '';
  if (json.secret !== undefined) {
    if (typeof json.secret !== 'string' || !json.secret) bad('secret', 'must be a non-empty string');
    else secret = json.secret;
  } else {
    const name = json.secretEnv === undefined ? DEFAULT_SECRET_ENV : json.secretEnv;
    if (typeof name !== 'string' || !name) bad('secretEnv', 'must name an environment variable');
    else if (!env[name]) bad('secretEnv', `environment variable ${name} (the agents' shared secret) is not set`);
    else secret = env[name]!;
  }

  if (problems.length) throw new InventoryError(problems.join('\n'));
  return { hosts, switch: sw!, secret };
}

export async function loadInventory(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InventoryError(`cannot read inventory ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InventoryError(`${path}: not JSON: ${(err as Error).message}`);
  }
  return parseInventory(json, env, path);
}
