import { protocols } from '../protocols/index.ts';
import type { ProtocolDefinition } from '../protocol.ts';
import { UsageError } from './args.ts';

export function findProtocol(name: string | undefined): ProtocolDefinition<any> {
  const known = Object.keys(protocols).join(', ');
  if (!name) throw new UsageError(`name a protocol (known: ${known})`);
  const p = protocols[name];
  if (!p) throw new UsageError(`unknown protocol '${name}' (known: ${known})`);
  return p;
}
