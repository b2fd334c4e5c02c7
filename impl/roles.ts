/**
 * The role registry: every role a node of a run can play, by name. A factory validates its config
 * (throwing `ConfigError`, which names the offending field) and builds a fresh core.
 */
import type { RoleFactory } from '../harness/protocol.ts';
import { CLIENT_ROLE, createClient } from './r2p2/client.ts';
import { ROUTER_ROLE, createRouter } from './r2p2/router.ts';
import { SERVER_ROLE, createServer } from './r2p2/server.ts';
import { createAggregator } from './hovercraft/aggregator.ts';
import { HOVERCRAFT_CLIENT_ROLE, createHovercraftClient } from './hovercraft/client.ts';
import { AGGREGATOR_ROLE, NODE_ROLE } from './hovercraft/config.ts';
import { MIDDLEBOX_ROLE, createMiddlebox } from './hovercraft/middlebox.ts';
import { createNode } from './hovercraft/node.ts';

export { ConfigError } from './r2p2/common.ts';

export const roles: Record<string, RoleFactory> = {
  [CLIENT_ROLE]: (config, env) => createClient(config, env),
  [SERVER_ROLE]: (config, env) => createServer(config, env),
  [ROUTER_ROLE]: (config, env) => createRouter(config, env),
  [NODE_ROLE]: (config, env) => createNode(config, env),
  [HOVERCRAFT_CLIENT_ROLE]: (config, env) => createHovercraftClient(config, env),
  [MIDDLEBOX_ROLE]: (config, env) => createMiddlebox(config, env),
  [AGGREGATOR_ROLE]: (config, env) => createAggregator(config, env),
};
