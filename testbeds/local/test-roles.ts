/**
 * Toy roles for the local testbed's own tests (loaded with `--roles` / `LocalOptions.roleModule`):
 * `toy-echo` answers every datagram with the same bytes and traces `Echo` (persisting how many it
 * echoed over all its incarnations, reported as `restored` by `EchoStart`); a command
 * `{ "to": ADDR, "text": S }` sends S to ADDR (`Say`); a datagram "boom" makes the core throw.
 */
import type { Addr, Core, CoreInput, CoreOutput } from '../../impl/core.ts';
import type { RoleFactory } from '../../harness/protocol.ts';

interface Say {
  readonly to: Addr;
  readonly text: string;
}

class Echo implements Core<Say> {
  /** Echoes over every incarnation: persisted, and given back by `start` after a restart. */
  private lifetime = 0;
  constructor(readonly node: string, readonly addr: Addr, private readonly greeting: string) {}
  handle(input: CoreInput<Say>): CoreOutput[] {
    switch (input.kind) {
      case 'start':
        this.lifetime = typeof input.stable === 'number' ? input.stable : 0;
        return [{ kind: 'trace', event: { action: 'EchoStart', greeting: this.greeting, restored: this.lifetime } }];
      case 'receive': {
        const text = new TextDecoder().decode(input.packet.data);
        if (text === 'boom') throw new Error('boom');
        this.lifetime++;
        return [
          { kind: 'persist', state: this.lifetime },
          { kind: 'trace', event: { action: 'Echo', from: input.packet.src, text } },
          { kind: 'send', packet: { src: this.addr, dst: input.packet.src, data: input.packet.data } },
        ];
      }
      case 'command':
        return [
          { kind: 'trace', event: { action: 'Say', to: input.command.to, text: input.command.text } },
          { kind: 'send', packet: { src: this.addr, dst: input.command.to, data: new TextEncoder().encode(input.command.text) } },
        ];
      case 'timer':
        return [];
    }
  }
}

export const roles: Record<string, RoleFactory> = {
  'toy-echo': (config, env) => {
    const c = (config ?? {}) as { greeting?: unknown };
    if (c.greeting !== undefined && typeof c.greeting !== 'string') throw new Error('toy-echo config: greeting must be a string');
    return new Echo(env.node, env.addr, (c.greeting as string | undefined) ?? 'hello');
  },
};
