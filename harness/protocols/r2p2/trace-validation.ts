/**
 * TLC trace validation of R2P2 traces against `specs/r2p2/R2P2.tla`.
 *
 * A whole batch goes into ONE generated module and ONE TLC run:
 *
 * - each trace's protocol events (`Net*` annotations skipped) become a TLA+ sequence of records,
 *   `Traces == << <<e1, e2, ...>>, <<...>> >>`, with every address replaced by the identity the
 *   spec uses (the node id from `input.addrs`: `client1`, `server2`, `router`);
 * - the per-trace constants that differ between traces (router policy and queue capacity) are
 *   tuples indexed by the trace number `tvK`; the spec is instantiated with them through a
 *   parameterized `INSTANCE` (`R(pol, cap)`, applied under `\E tvPol \in {TPolicy[tvK]}` because
 *   an instance argument must be constant-level), the ones that can be shared (clients, servers,
 *   the rid range, MaxDeliveries) are the union over the batch;
 * - `TInit` picks `tvK` (one initial state per trace) and sets `tvI = 1`; `TNext` takes event
 *   `Traces[tvK][tvI]`, requires the spec action of that name with the event's fields as
 *   parameters, and moves `tvI` on. The spec's variables are unconstrained except by the actions,
 *   so unobserved state (which messages were lost or duplicated) is whatever some behaviour needs;
 * - every new furthest match of trace tvK prints `<<"matched", tvK, tvI>>` (TLC register tvK keeps
 *   the furthest; one worker), and a trace whose last event matched prints `<<"accepted", tvK>>`.
 *   The generated names are prefixed `tv` so that they cannot be captured by a bound variable of
 *   the spec when TLC substitutes them for action parameters.
 *
 * Mapping of event fields to action parameters: `EVENT_PARAMS` below. Policies `round-robin`,
 * `jsq` and `random` map to the spec's `RANDOM` (any eligible server, no bound).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Addr, NodeId } from '../../../impl/core.ts';
import { runTraceCheck, toTla, TraceValidationError, type GeneratedModule } from '../../tlc/index.ts';
import type { TraceValidationInput, TraceValidationResult } from '../../protocol.ts';
import { isHostAnnotation, isNetAnnotation, type FieldValue, type TraceEvent } from '../../trace/schema.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const R2P2_SPEC = resolve(HERE, '../../../specs/r2p2/R2P2.tla');

/** The address a FEEDBACK that answers no request (an announce) names as its client. */
export const ZERO_ADDR: Addr = '0.0.0.0:0';
/** The spec's name for "no client" (`NoClient` in R2P2.tla). */
const NO_CLIENT = 'none';
const ROUTER_ID = 'router';
/** Server node ids are `server1`, `server2`, ... (scenario.ts). */
const SERVER_PREFIX = 'server';

/** Topology fields the validation reads (`R2p2Topology` of scenario.ts). */
interface TopologyLike {
  readonly clients?: number;
  readonly servers?: number;
  readonly router?: { readonly policy?: string; readonly n?: number; readonly queueCap?: number };
}

/**
 * The spec action's parameters, in order, for each event action; the acting node (client or
 * server) comes first where the action has one. `set:` marks an array field the spec takes as a
 * set of packet indices.
 */
export const EVENT_PARAMS: Readonly<Record<string, readonly string[]>> = {
  RouterRestart: [],
  ServerCrash: ['node'],
  ClientSend: ['node', 'rid', 'policy', 'npkts', 'size', 'digest'],
  ClientReceiveAck: ['node', 'rid', 'server'],
  ClientResend: ['node', 'rid', 'server', 'set:packets'],
  ClientReceiveReply: ['node', 'rid', 'replyRid', 'server', 'digest'],
  ClientReceiveDrop: ['node', 'rid', 'from'],
  ClientTimeout: ['node', 'rid'],
  ServerAnnounce: ['node', 'router', 'n', 'served'],
  ServerAck: ['node', 'client', 'rid', 'npkts'],
  ServerSack: ['node', 'client', 'rid', 'set:missing'],
  ServerReceiveRequest: ['node', 'client', 'rid', 'npkts', 'digest'],
  ServerReply: ['node', 'client', 'rid', 'npkts', 'digest', 'served', 'n'],
  ServerGc: ['node', 'client', 'rid'],
  RouterEnqueue: ['client', 'rid', 'queued'],
  RouterDrop: ['client', 'rid'],
  RouterDispatch: ['client', 'rid', 'server', 'outstanding'],
  RouterFeedback: ['server', 'client', 'rid', 'form', 'n', 'served', 'outstanding'],
  RouterServerJoin: ['server', 'n', 'served', 'fresh'],
  RouterServerLeave: ['server'],
};

/** Fields that hold an address (mapped to a node identity). */
const ADDRESS_FIELDS = new Set(['server', 'client', 'from', 'router']);

export interface R2p2TraceValidationOptions {
  /**
   * TLC timeout for the whole batch (default: 10 minutes, or 40 ms per protocol event if more: a
   * campaign validates every trace in one batch).
   */
  readonly timeoutMs?: number;
  /** Keep the generated module in this directory (for debugging) instead of a temporary one. */
  readonly keepDir?: string;
}

export type { GeneratedModule };

const policyOf = (topology: TopologyLike): 'JBSQ' | 'RANDOM' =>
  (topology.router?.policy ?? 'jbsq') === 'jbsq' ? 'JBSQ' : 'RANDOM';

/**
 * The event as the spec sees it, or undefined when it is no spec action: `Net*` annotations (the
 * spec's network loses, duplicates and reorders by itself) and host faults, except crashes:
 * - the router's crash is the spec's `RouterRestart`: the router's state is gone from its crash on
 *   (the restarted router starts empty, and a router that stays down takes no further action), so
 *   a server may restart while it is down;
 * - a server's crash is the spec's `ServerCrash`: whatever runs next is a new incarnation that
 *   takes no request before its announce (served 0, the spec's `ServerStart`).
 * A restart, a pause or a clock step changes nothing the spec tracks.
 */
function specEvent(e: TraceEvent): TraceEvent | undefined {
  if (isNetAnnotation(e)) return undefined;
  if (isHostAnnotation(e)) {
    if (e.action !== 'HostCrash') return undefined;
    if (e.node === ROUTER_ID) return { t: e.t, node: e.node, action: 'RouterRestart' };
    if (e.node.startsWith(SERVER_PREFIX)) return { t: e.t, node: e.node, action: 'ServerCrash' };
    return undefined;
  }
  return e;
}

export { TraceValidationError };

/** The spec identity of an address: the node id, `none` for the zero address, else a marker. */
function identity(addr: FieldValue, byAddr: ReadonlyMap<Addr, NodeId>): string {
  if (typeof addr !== 'string') return `?${String(addr)}`;
  if (addr === ZERO_ADDR) return NO_CLIENT;
  return byAddr.get(addr) ?? `?${addr}`;
}

/** One event as a TLA+ record: action, node, then the action's parameters. */
function eventRecord(e: TraceEvent, byAddr: ReadonlyMap<Addr, NodeId>): string {
  const params = EVENT_PARAMS[e.action];
  const fields: string[] = [`action |-> ${toTla(e.action)}`, `node |-> ${toTla(e.node)}`];
  if (params) {
    for (const p of params) {
      if (p === 'node') continue;
      const asSet = p.startsWith('set:');
      const name = asSet ? p.slice(4) : p;
      const v = e[name];
      let text: string;
      if (v === undefined || v === null) text = toTla(`?missing`);
      else if (ADDRESS_FIELDS.has(name)) text = toTla(identity(v, byAddr));
      else if (asSet) text = `{${(Array.isArray(v) ? v : [v]).map((x) => toTla(x)).join(', ')}}`;
      else text = toTla(v);
      fields.push(`${name} |-> ${text}`);
    }
  }
  return `[${fields.join(', ')}]`;
}

/** The TLA+ call of the spec action for the current event `E`. */
function actionCall(action: string): string {
  const args = EVENT_PARAMS[action]!.map((p) => `TvE.${p.startsWith('set:') ? p.slice(4) : p}`);
  return `R(tvPol, tvCap)!${action}${args.length ? `(${args.join(', ')})` : ''}`;
}

/** Builds the module and its config for a batch. */
export function generateR2p2TraceModule(batch: readonly TraceValidationInput[], moduleName = 'R2P2TraceCheck'): GeneratedModule {
  const clients = new Set<string>();
  const servers = new Set<string>();
  const traces: string[] = [];
  const policies: string[] = [];
  const caps: number[] = [];
  const eventIndices: number[][] = [];
  const included: number[] = [];
  batch.forEach((input, b) => {
    const topology = (input.scenario.topology ?? {}) as TopologyLike;
    const byAddr = new Map<Addr, NodeId>();
    for (const [id, addr] of Object.entries(input.addrs)) byAddr.set(addr, id);
    for (const id of Object.keys(input.addrs)) {
      if (id.startsWith('client')) clients.add(id);
      else if (id.startsWith(SERVER_PREFIX)) servers.add(id);
    }
    for (let j = 1; j <= (topology.clients ?? 0); j++) clients.add(`client${j}`);
    for (let j = 1; j <= (topology.servers ?? 0); j++) servers.add(`server${j}`);
    const indices: number[] = [];
    input.trace.forEach((e, j) => {
      if (specEvent(e) !== undefined) indices.push(j);
    });
    eventIndices.push(indices);
    if (indices.length === 0) return;
    included.push(b);
    traces.push(`<<${indices.map((j) => eventRecord(specEvent(input.trace[j]!)!, byAddr)).join(',\n    ')}>>`);
    policies.push(policyOf(topology));
    caps.push(topology.router?.queueCap ?? 0);
  });
  const setOf = (xs: Iterable<string>) => `{${[...xs].sort().map((x) => toTla(x)).join(', ')}}`;
  const disjuncts = Object.keys(EVENT_PARAMS)
    .map((a) => `    \\/ TvE.action = ${toTla(a)} /\\ ${actionCall(a)}`)
    .join('\n');
  const tla = `---- MODULE ${moduleName} ----
(* Generated by harness/protocols/r2p2/trace-validation.ts: ${traces.length} trace(s) of R2P2  *)
(* events, checked against R2P2.tla in one TLC run.                          *)
EXTENDS Naturals, Sequences, TLC

VARIABLES tvK, tvI,
    creq, sreq, sn, sserved, sepoch, sup, sdone, rqueue, rservers, rn, rdisp, rbase, rmax, rfreed,
    rslots, repoch, net, gheld, received, gtakes, accepted

TClients == ${setOf(clients)}
TServers == ${setOf(servers)}
TPolicy == <<${policies.map((p) => toTla(p)).join(', ')}>>
TQueueCap == <<${caps.join(', ')}>>

R(pol, cap) == INSTANCE R2P2 WITH
    Clients <- TClients, Servers <- TServers, Router <- ${toTla(ROUTER_ID)},
    MaxRid <- 65535, MaxPkts <- 65535, Policy <- pol, QueueCap <- cap,
    MaxDeliveries <- 1000000000, NValues <- {}, Forms <- {"slot", "count"}, Digests <- {},
    ModelRestarts <- TRUE, ModelRouterRestarts <- TRUE, ModelLeave <- TRUE, Bugs <- {}

Traces == <<
  ${traces.join(',\n  ')}
>>

TInit ==
    /\\ tvK \\in 1..Len(Traces)
    /\\ tvI = 1
    /\\ TLCSet(tvK, 0)
    /\\ R("JBSQ", 0)!Init

TvE == Traces[tvK][tvI]

\\* Event tvI of trace tvK is the spec action of its name with its fields as parameters.
Step(tvPol, tvCap) ==
${disjuncts}

\\* Report the furthest event of trace tvK matched so far, and a trace matched to its end.
Report ==
    /\\ IF tvI > TLCGet(tvK) THEN TLCSet(tvK, tvI) /\\ PrintT(<<"matched", tvK, tvI>>) ELSE TRUE
    /\\ IF tvI = Len(Traces[tvK]) THEN PrintT(<<"accepted", tvK>>) ELSE TRUE

TNext ==
    /\\ tvI <= Len(Traces[tvK])
    /\\ \\E tvPol \\in {TPolicy[tvK]}, tvCap \\in {TQueueCap[tvK]} : Step(tvPol, tvCap)
    /\\ tvI' = tvI + 1
    /\\ UNCHANGED tvK
    /\\ Report
====
`;
  const cfg = 'INIT TInit\nNEXT TNext\n';
  return { tla, cfg, eventIndices, included };
}


/**
 * Validates a batch of R2P2 traces with one TLC run. Each result says whether some behaviour of
 * the spec matches the whole trace (its protocol events); when not, `matchedPrefix` is the number
 * of protocol events some behaviour matched.
 */
export async function validateR2p2Traces(
  batch: readonly TraceValidationInput[],
  options: R2p2TraceValidationOptions = {},
): Promise<TraceValidationResult[]> {
  const gen = generateR2p2TraceModule(batch);
  return runTraceCheck({
    batch, gen, specPath: R2P2_SPEC, moduleName: 'R2P2TraceCheck', eventNoun: 'protocol event',
    timeoutMs: options.timeoutMs ?? Math.max(600_000, 40 * gen.eventIndices.reduce((n, ix) => n + ix.length, 0)),
    keepDir: options.keepDir,
  });
}
