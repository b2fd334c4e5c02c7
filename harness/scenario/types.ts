/**
 * A scenario is plain data: which protocol, its topology, a workload, a fault schedule, a seed,
 * the seeded bugs switched on, and how long to run. fast-check generates and shrinks scenarios;
 * any testbed runs one; a failing one is saved as JSON and `protocheck replay FILE` reruns it.
 */
import type { Micros, NodeId } from '../../impl/core.ts';

export interface Scenario<Topology = unknown, Command = unknown> {
  readonly protocol: string;
  readonly seed: number;
  readonly topology: Topology;
  /** Commands to nodes at given times (e.g. "client1: send a 3000-byte request"). */
  readonly workload: readonly WorkloadStep<Command>[];
  readonly faults: readonly Fault[];
  /** Network behaviour for the whole run, before scheduled faults change it. */
  readonly network: LinkConfig;
  /** Named fault switches (seeded bugs) turned on in the implementation. */
  readonly bugs: readonly string[];
  /** The run ends at this time; cores get no input after it. */
  readonly duration: Micros;
}

export interface WorkloadStep<Command = unknown> {
  readonly at: Micros;
  readonly node: NodeId;
  readonly command: Command;
}

/** Packet behaviour of a link (or of every link). Probabilities in [0, 1], times in µs. */
export interface LinkConfig {
  readonly delay: Micros;
  /** Extra uniformly random delay in [0, jitter): packets on one link may overtake each other. */
  readonly jitter: Micros;
  readonly loss: number;
  readonly duplicate: number;
}

export type Fault =
  /** The node's process dies; volatile state is lost. */
  | { readonly at: Micros; readonly kind: 'crash'; readonly node: NodeId }
  /** A crashed node starts again with a fresh core. */
  | { readonly at: Micros; readonly kind: 'restart'; readonly node: NodeId }
  /** The node freezes (SIGSTOP, docker pause) for `duration`: inputs wait, nothing is lost. */
  | { readonly at: Micros; readonly kind: 'pause'; readonly node: NodeId; readonly duration: Micros }
  /** Packets between the two groups are dropped for `duration` (both directions). */
  | {
      readonly at: Micros; readonly kind: 'partition';
      readonly groups: readonly [readonly NodeId[], readonly NodeId[]]; readonly duration: Micros;
    }
  /**
   * The node's network link is cut for `duration`: nothing it sends leaves, nothing sent to it
   * arrives (on docker its container is disconnected from the run's network), then it is mended.
   * The process runs on, unaware.
   */
  | { readonly at: Micros; readonly kind: 'disconnect'; readonly node: NodeId; readonly duration: Micros }
  /**
   * From `at` on, the node's clock reads `offsetUs` µs ahead of true time (negative: behind): the
   * time its core sees steps, and its armed timers follow its clock. Trace time stays true time.
   */
  | { readonly at: Micros; readonly kind: 'clock'; readonly node: NodeId; readonly offsetUs: Micros }
  /** The links from `from` to `to` (both may be '*') behave as `link` from now on. */
  | { readonly at: Micros; readonly kind: 'link'; readonly from: NodeId | '*'; readonly to: NodeId | '*'; readonly link: LinkConfig };

export const PERFECT_LINK: LinkConfig = { delay: 10, jitter: 0, loss: 0, duplicate: 0 };
