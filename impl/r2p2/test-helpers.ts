/** Helpers for the R2P2 core tests (not used by the cores). */
import type { Addr, Core, CoreInput, CoreOutput, Micros, Packet } from '../core.ts';
import type { TraceBody } from '../../harness/trace/schema.ts';
import { decode, type R2p2Msg } from './codec.ts';

export const CLIENT: Addr = '10.0.0.1:5000';
export const CLIENT2: Addr = '10.0.0.5:5000';
export const ROUTER: Addr = '10.0.0.2:8000';
export const SERVER: Addr = '10.0.0.3:9000';
export const SERVER2: Addr = '10.0.0.4:9000';

export const traces = <N>(out: readonly CoreOutput<N>[]): TraceBody[] =>
  out.flatMap((o) => (o.kind === 'trace' ? [o.event] : []));
export const sends = <N>(out: readonly CoreOutput<N>[]): Packet[] =>
  out.flatMap((o) => (o.kind === 'send' ? [o.packet] : []));
export const notifies = <N>(out: readonly CoreOutput<N>[]): N[] =>
  out.flatMap((o) => (o.kind === 'notify' ? [o.value] : []));
export const timers = <N>(out: readonly CoreOutput<N>[]): { name: string; at: number }[] =>
  out.flatMap((o) => (o.kind === 'setTimer' ? [{ name: o.name, at: o.at }] : []));
export const actions = <N>(out: readonly CoreOutput<N>[]): string[] => traces(out).map((e) => e.action);

export function msg(data: Uint8Array): R2p2Msg {
  const d = decode(data);
  if (!d.ok) throw new Error(`not an R2P2 datagram: ${JSON.stringify(d.error)}`);
  return d.msg;
}

export const recv = (src: Addr, dst: Addr, data: Uint8Array): CoreInput<never> =>
  ({ kind: 'receive', packet: { src, dst, data } });
export const timer = (name: string): CoreInput<never> => ({ kind: 'timer', name });
export const start: CoreInput<never> = { kind: 'start' };

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * A tiny in-test event loop wiring cores by address: packets are delivered in order after `delay`,
 * timers fire at their time. Only for end-to-end unit tests of the cores; not a simulator.
 */
export class MiniNet {
  readonly events: (TraceBody & { t: number; node: string })[] = [];
  readonly notes: { node: string; value: unknown }[] = [];
  private readonly cores = new Map<Addr, Core<any, any>>();
  private queue: { at: number; seq: number; addr: Addr; input: CoreInput<any>; key?: string }[] = [];
  private readonly timerSeq = new Map<string, number>();
  private seq = 0;
  now: Micros = 0;
  /** Optional packet filter: return the list of deliveries (empty = drop, two = duplicate). */
  filter: (p: Packet) => Packet[] = (p) => [p];

  constructor(private readonly delay = 10) {}

  add(core: Core<any, any>): void {
    this.cores.set(core.addr, core);
    this.push(this.now, core.addr, { kind: 'start' });
  }

  inject(addr: Addr, input: CoreInput<any>, at = this.now): void {
    this.push(at, addr, input);
  }

  private push(at: number, addr: Addr, input: CoreInput<any>, key?: string): void {
    this.queue.push({ at, seq: this.seq++, addr, input, ...(key ? { key } : {}) });
  }

  run(until: Micros): void {
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const ev = this.queue[0];
      if (!ev || ev.at > until) break;
      this.queue.shift();
      if (ev.key !== undefined && this.timerSeq.get(ev.key) !== ev.seq) continue; // replaced / cancelled
      this.now = ev.at;
      const core = this.cores.get(ev.addr);
      if (!core) continue;
      for (const o of core.handle(ev.input, this.now)) {
        switch (o.kind) {
          case 'trace':
            this.events.push({ t: this.now, node: core.node, ...o.event });
            break;
          case 'notify':
            this.notes.push({ node: core.node, value: o.value });
            break;
          case 'send':
            for (const p of this.filter(o.packet)) this.push(this.now + this.delay, p.dst, { kind: 'receive', packet: p });
            break;
          case 'setTimer': {
            const key = `${ev.addr}|${o.name}`;
            const seq = this.seq;
            this.push(o.at, ev.addr, { kind: 'timer', name: o.name }, key);
            this.timerSeq.set(key, seq);
            break;
          }
          case 'cancelTimer':
            this.timerSeq.delete(`${ev.addr}|${o.name}`);
            break;
        }
      }
    }
    this.now = until;
  }
}
