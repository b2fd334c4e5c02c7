/**
 * The sans-I/O contract every protocol role implements.
 *
 * A core is a deterministic state machine: `handle(input, now)` returns the outputs the input
 * causes. It never touches sockets, clocks, timers or `Math.random()`: time arrives as `now`
 * (integer or fractional microseconds since the run's origin), randomness from the seeded `Rng`
 * given at construction. The same core runs under the simulator's virtual clock and under the UDP
 * driver on a real network.
 */
import type { TraceBody } from '../harness/trace/schema.ts';

/** Plain JSON: what a core keeps in stable storage. */
export type StableState = string | number | boolean | null | readonly StableState[] | { readonly [k: string]: StableState };

/** An endpoint address, `"ip:port"`, e.g. `"10.0.0.3:8000"`. */
export type Addr = string;
/** A node's name in a topology, e.g. `"client1"`, `"server2"`, `"router"`. */
export type NodeId = string;
/** Microseconds since the run's origin. */
export type Micros = number;

export interface Packet {
  readonly src: Addr;
  readonly dst: Addr;
  readonly data: Uint8Array;
}

export type CoreInput<Command = never> =
  /**
   * Sent once when the node starts (and again after every restart, on a fresh core). `stable` is
   * the last state the node's earlier incarnations persisted (see the `persist` output), if any.
   */
  | { readonly kind: 'start'; readonly stable?: StableState }
  | { readonly kind: 'receive'; readonly packet: Packet }
  | { readonly kind: 'timer'; readonly name: string }
  /** An application / workload call, e.g. "send this request". */
  | { readonly kind: 'command'; readonly command: Command };

export type CoreOutput<Notification = never> =
  /** Host cores always send from their own address; switch programs may keep another source. */
  | { readonly kind: 'send'; readonly packet: Packet }
  /** Arms (or re-arms, replacing) the named timer to fire at absolute time `at`. */
  | { readonly kind: 'setTimer'; readonly name: string; readonly at: Micros }
  | { readonly kind: 'cancelTimer'; readonly name: string }
  /** One protocol action happened; the driver stamps it with `t` and `node`. */
  | { readonly kind: 'trace'; readonly event: TraceBody }
  /**
   * The node's stable storage now holds `state` (replacing what it held). The driver makes it
   * durable before it applies the outputs after this one, and hands it back in `start` after a
   * crash and restart; a node that never persists restarts empty.
   */
  | { readonly kind: 'persist'; readonly state: StableState }
  /** A result for the local application (e.g. a reply's bytes); not part of the trace. */
  | { readonly kind: 'notify'; readonly value: Notification };

export interface Core<Command = never, Notification = never> {
  readonly node: NodeId;
  readonly addr: Addr;
  handle(input: CoreInput<Command>, now: Micros): CoreOutput<Notification>[];
}
