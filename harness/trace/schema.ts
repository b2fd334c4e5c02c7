/**
 * The one trace schema, shared by every protocol and testbed.
 *
 * A trace is a sequence of events `{ t, node, action, ...fields }`, written as NDJSON. `action` is
 * the name of a TLA+ action in the protocol's spec and of the XState event its machines take; the
 * remaining fields are the action's parameters (plain JSON: strings, numbers, booleans, arrays).
 *
 * Cores emit bodies without `t` and `node`; the driver stamps both. A switch, which hosts programs
 * such as the JBSQ router, sets `node` itself on the events of its programs, and the driver keeps it.
 *
 * Events whose action starts with `Net` are annotations from the switch's fault stage (a packet
 * dropped, duplicated, delayed). The specs model the network as a medium that may lose, duplicate
 * and reorder, so these are not spec actions: monitors, checkers and trace validation skip them.
 *
 * Events whose action starts with `Host` are the testbed's record of host faults applied to `node`:
 * `HostCrash`, `HostRestart` (the node starts again with a fresh core: its volatile state is gone),
 * `HostPause`, `HostResume`, and `HostClock {offsetUs}` (from now on the node's clock reads
 * `offsetUs` ahead of true time). Monitors and checkers use them to know a node's state was reset.
 *
 * `NetDisconnect` / `NetReconnect` (node = the host) mark a cut of a host's network link: what it
 * sends meanwhile is lost, as is what is sent to it.
 */
export type FieldValue = string | number | boolean | null | readonly FieldValue[];

export interface TraceBody {
  readonly action: string;
  readonly [field: string]: FieldValue;
}

export interface TraceEvent extends TraceBody {
  /** Microseconds since the run's origin (fractional on real testbeds). */
  readonly t: number;
  /** The node that performed the action. */
  readonly node: string;
}

export type Trace = readonly TraceEvent[];

export function isNetAnnotation(e: TraceBody): boolean {
  return e.action.startsWith('Net');
}

export type HostFaultAction = 'HostCrash' | 'HostRestart' | 'HostPause' | 'HostResume' | 'HostClock';

export function isHostAnnotation(e: TraceBody): e is TraceBody & { action: HostFaultAction } {
  return e.action === 'HostCrash' || e.action === 'HostRestart' || e.action === 'HostPause' || e.action === 'HostResume' ||
    e.action === 'HostClock';
}

/** The protocol events of a trace: network annotations removed. */
export function protocolEvents(trace: Trace): TraceEvent[] {
  return trace.filter((e) => !isNetAnnotation(e));
}

/** Serializes a trace as NDJSON with a stable key order: t, node, action, then fields sorted. */
export function toNdjson(trace: Trace): string {
  return trace.map((e) => JSON.stringify(canonical(e))).join('\n') + (trace.length ? '\n' : '');
}

export function canonical(e: TraceEvent): TraceEvent {
  const out: Record<string, FieldValue> = { t: e.t, node: e.node, action: e.action };
  for (const k of Object.keys(e).sort()) {
    if (k !== 't' && k !== 'node' && k !== 'action') out[k] = e[k] as FieldValue;
  }
  return out as unknown as TraceEvent;
}

export class TraceParseError extends Error {}

/** Parses NDJSON into events, with the line number of the first malformed line in the error. */
export function fromNdjson(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new TraceParseError(`trace line ${i + 1}: not JSON (${(err as Error).message})`);
    }
    if (
      typeof v !== 'object' || v === null ||
      typeof (v as TraceEvent).t !== 'number' ||
      typeof (v as TraceEvent).node !== 'string' ||
      typeof (v as TraceEvent).action !== 'string'
    ) {
      throw new TraceParseError(`trace line ${i + 1}: an event needs numeric t, string node and string action`);
    }
    out.push(v as TraceEvent);
  }
  return out;
}

/** Merges per-node traces into one, ordered by time; ties keep the order of the inputs. */
export function mergeTraces(parts: readonly Trace[]): TraceEvent[] {
  const all = parts.flatMap((p, pi) => p.map((e, i) => ({ e, pi, i })));
  all.sort((x, y) => x.e.t - y.e.t || x.pi - y.pi || x.i - y.i);
  return all.map((x) => x.e);
}
