/**
 * The one interface every testbed implements: sim, local, docker, hardware. A testbed takes a run
 * plan (nodes with roles, addresses and configs; the scenario's workload and faults), runs it,
 * and returns the merged trace.
 */
import type { Addr, NodeId } from '../impl/core.ts';
import type { Json, ProtocolDefinition } from '../harness/protocol.ts';
import type { Scenario } from '../harness/scenario/types.ts';
import type { TraceEvent } from '../harness/trace/schema.ts';

export interface PlannedNode {
  readonly id: NodeId;
  readonly role: string;
  readonly placement: 'host' | 'switch';
  readonly addr: Addr;
  readonly config: Json;
}

/** A node to give an address to: its id, where it runs, its planned port and role. */
export interface AddressRequest {
  readonly id: NodeId;
  readonly placement: 'host' | 'switch';
  readonly port: number;
  readonly role?: string;
}

export interface RunPlan {
  readonly scenario: Scenario;
  readonly protocol: ProtocolDefinition<any>;
  readonly nodes: readonly PlannedNode[];
  readonly addrs: Readonly<Record<NodeId, Addr>>;
}

export interface RunOutput {
  /** Every event of the run, merged across nodes, in time order. */
  readonly trace: TraceEvent[];
  /** Wall-clock duration of the run in milliseconds. */
  readonly wallMs: number;
  /** Things the testbed wants the report to mention (e.g. a node that failed to start). */
  readonly notes: string[];
}

export interface Testbed {
  readonly name: string;
  /**
   * Addresses for the planned nodes (each testbed has its own address space). `role` lets a testbed
   * place a node on a machine that may run it (`hardware`).
   */
  assignAddresses(nodes: readonly AddressRequest[]): Record<NodeId, Addr>;
  /** Runs the plan; `observe` sees each event as soon as the testbed has it (online monitors). */
  run(plan: RunPlan, observe?: (event: TraceEvent) => void): Promise<RunOutput>;
  /** Releases what the testbed holds (processes, sockets, containers). */
  close?(): Promise<void>;
}
