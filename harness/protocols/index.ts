/** The protocol registry: every protocol the harness can run, by name. */
import type { ProtocolDefinition } from '../protocol.ts';
import { hovercraft } from './hovercraft/index.ts';
import { r2p2 } from './r2p2/index.ts';

export const protocols: Record<string, ProtocolDefinition> = {
  r2p2,
  hovercraft,
};
