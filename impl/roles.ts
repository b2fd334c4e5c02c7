/**
 * The role registry: every role a node of a run can play, by name. A factory validates its config
 * (throwing `ConfigError`, which names the offending field) and builds a fresh core.
 */
import type { RoleFactory } from '../harness/protocol.ts';
import { CLIENT_ROLE, createClient } from './r2p2/client.ts';
import { ROUTER_ROLE, createRouter } from './r2p2/router.ts';
import { SERVER_ROLE, createServer } from './r2p2/server.ts';

export { ConfigError } from './r2p2/common.ts';

export const roles: Record<string, RoleFactory> = {
  [CLIENT_ROLE]: (config, env) => createClient(config, env),
  [SERVER_ROLE]: (config, env) => createServer(config, env),
  [ROUTER_ROLE]: (config, env) => createRouter(config, env),
};
