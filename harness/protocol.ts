/**
 * What the harness needs to know about one protocol. Each protocol provides one of these in
 * `harness/protocols/<name>/index.ts`; the runner, the testbeds and the CLI only talk to this.
 */
import type fc from 'fast-check';
import type { AnyStateMachine } from 'xstate';
import type { Addr, Core, NodeId } from '../impl/core.ts';
import type { Rng } from '../impl/rng.ts';
import type { Scenario } from './scenario/types.ts';
import type { Trace } from './trace/schema.ts';

/** Plain JSON, as scenarios, configs and commands are. */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [k: string]: Json };

/** A node of a run, before addresses are assigned. */
export interface NodePlan {
  readonly id: NodeId;
  /** A role from the role registry (`impl/roles.ts`), e.g. `r2p2-server`. */
  readonly role: string;
  /** `host`: a process of its own; `switch`: a program inside the switch (e.g. the JBSQ router). */
  readonly placement: 'host' | 'switch';
  readonly port: number;
}

/** Everything a role factory gets besides its config. */
export interface RoleEnv {
  readonly node: NodeId;
  readonly addr: Addr;
  readonly rng: Rng;
  /** Seeded bugs switched on for this run (names from the protocol's `bugs`). */
  readonly bugs: ReadonlySet<string>;
}

export type RoleFactory = (config: Json, env: RoleEnv) => Core<any, any>;

/** A finding of a check: which check, what is wrong, and the events that show it. */
export interface Violation {
  /** `monitor`, `tlc`, or a property checker's name. */
  readonly check: string;
  readonly message: string;
  /** Indices into the run's trace of the events that show the violation. */
  readonly events?: readonly number[];
}

/** A protocol property checked on a whole trace. Returns [] when the property holds. */
export interface PropertyChecker<S extends Scenario = Scenario> {
  readonly name: string;
  readonly description: string;
  check(trace: Trace, scenario: S, addrs: Readonly<Record<NodeId, Addr>>): Violation[];
}

/** A TLC model of the protocol's spec and what TLC must conclude on it. */
export interface SpecModel {
  /** Path relative to the repository root of the .tla module to check. */
  readonly module: string;
  /** Path of its .cfg. */
  readonly config: string;
  /** `ok`: every invariant holds; `violation`: a buggy variant TLC must reject with a counterexample. */
  readonly expect: 'ok' | 'violation';
  /** For a buggy variant: the invariant TLC must report violated. */
  readonly violates?: string;
  readonly description: string;
}

export interface SeededBug {
  readonly name: string;
  readonly description: string;
  /** The checks expected to catch it (names as in `Violation.check`). */
  readonly caughtBy: readonly string[];
}

/**
 * One check that holds a rule:
 * - `spec:<Invariant>`: an invariant of the spec, checked by TLC on every correct model (and shown
 *   to catch a buggy variant that names it in `violates`);
 * - `spec-action:<Action>`: the enabling condition of a spec action, checked on run traces by TLC
 *   trace validation (a trace that breaks the rule is not a behaviour of the spec);
 * - `monitor:<role>`: a guard of that role's XState machine (`machines/<protocol>/<role>.ts`);
 * - `property:<name>`: one of the protocol's property checkers.
 */
export type RuleCheck = `spec:${string}` | `spec-action:${string}` | `monitor:${string}` | `property:${string}`;

/**
 * A rule of the protocol and the independent checks that hold it. Every rule is held by at least
 * two: one on the spec side (`spec:` or `spec-action:`) and one on the run side (`monitor:` or
 * `property:`), so a gap in one is covered by the other (`harness/protocols/rules.test.ts`).
 */
export interface ProtocolRule {
  /** Short kebab-case name. */
  readonly name: string;
  /** What must hold, in one sentence. */
  readonly statement: string;
  readonly checks: readonly RuleCheck[];
}

/**
 * What ties the protocol's three forms together, in a form a test can check
 * (`harness/protocols/contract.test.ts`): one action catalog that the spec, the machines and the
 * cores share, and the implementation's bug switches.
 */
export interface ProtocolContract {
  /** Every action: the trace's, the XState events', the spec's (`impl/<name>/actions.ts`). */
  readonly actions: readonly string[];
  /** The XState machine of each role; together they take exactly `actions`, each by one machine. */
  readonly machines: Readonly<Record<string, AnyStateMachine>>;
  readonly spec: {
    /** Path of the spec's .tla module (the one that defines `Next`). */
    readonly module: string;
    /**
     * Catalog actions that `Next` does not take (the spec's models leave them out, or take their
     * parts), each with the reason. Trace validation may still take them.
     */
    readonly leavesOut: Readonly<Record<string, string>>;
    /**
     * Steps of the spec (operators `Next` reaches that change a variable themselves) that are no
     * trace action: a host fault the trace records as an annotation, a part of one action, a
     * message the network discards, a seeded bug's step. Each with the reason.
     */
    readonly specOnly: Readonly<Record<string, string>>;
  };
  /** The seeded bug switches the implementation knows (its bug list). */
  readonly implBugs: readonly string[];
  /** Property checkers that no seeded bug is shown to trip, each with the reason. */
  readonly propertiesWithoutBug: Readonly<Record<string, string>>;
}

export interface ScenarioOptions {
  /** Seeded bugs to switch on in every generated scenario. */
  readonly bugs?: readonly string[];
  /** Testbed the scenarios are for: real testbeds get longer time scales and fewer nodes. */
  readonly testbed?: string;
  /** Whether to generate host faults (crash, restart, pause). */
  readonly hostFaults?: boolean;
}

export interface ProtocolDefinition<S extends Scenario = Scenario> {
  readonly name: string;
  readonly roles: Readonly<Record<string, RoleFactory>>;
  readonly bugs: readonly SeededBug[];
  readonly models: readonly SpecModel[];
  /** The protocol's rules and the checks that hold each (the table in `docs/<name>.md`). */
  readonly rules: readonly ProtocolRule[];
  readonly contract: ProtocolContract;
  /** fast-check arbitrary of scenarios of this protocol. */
  scenarios(options?: ScenarioOptions): fc.Arbitrary<S>;
  /** The nodes a scenario runs. */
  plan(scenario: S): NodePlan[];
  /** Each node's core config, once every node has an address. */
  configure(scenario: S, addrs: Readonly<Record<NodeId, Addr>>): Record<NodeId, Json>;
  /** The property checkers run on every trace. */
  readonly properties: readonly PropertyChecker<S>[];
  /** A fresh online monitor set (XState machines) for one run. */
  monitor(scenario: S, addrs: Readonly<Record<NodeId, Addr>>): TraceMonitor;
  /**
   * Figures that show how much load a run put on the protocol (e.g. how often queues reached
   * their bound), computed from its trace. A campaign sums each figure over its runs (a figure
   * that is 0 or 1 per run counts runs) and the summary prints the sums. Definitions are in
   * `docs/<name>.md`.
   */
  loadFigures?(trace: Trace, scenario: S): Record<string, number>;
  /** TLC trace validation of a batch of traces against the spec (one JVM start). */
  validateTraces?(batch: readonly TraceValidationInput[]): Promise<TraceValidationResult[]>;
}

/** Consumes a run's events as they happen and reports those the machines cannot take. */
export interface TraceMonitor {
  /** Feeds one event (with its index in the trace); returns the violation it causes, if any. */
  observe(index: number, event: import('./trace/schema.ts').TraceEvent): Violation | undefined;
  /** Called once after the last event; may report e.g. a request left in an impossible state. */
  finish(): Violation[];
}

export interface TraceValidationInput {
  readonly trace: Trace;
  readonly addrs: Readonly<Record<NodeId, Addr>>;
  readonly scenario: Scenario;
}

export interface TraceValidationResult {
  readonly accepted: boolean;
  /** When rejected: how many events of the trace some behaviour of the spec matched. */
  readonly matchedPrefix?: number;
  readonly message?: string;
}
