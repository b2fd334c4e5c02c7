/**
 * HovercRaft multicast flow-control middlebox (role `hovercraft-middlebox`), a switch program.
 *
 * State: one register array of `threshold` slots, each (valid, client IPv4, client port, rid,
 * since), allocated once at start; nothing grows per flow. Per packet, one match/action:
 *
 *  - REQUEST, single packet, policy REPLICATED_ROUTE or REPLICATED_ROUTE_NO_SE, from client C with
 *    rid R:
 *      1. a slot holds (C, R): the request is a duplicate; it is copied to every node again (no
 *         trace event: to the nodes this is the same as a duplicate made by the network) and takes
 *         no second slot;
 *      2. else a free slot: the request takes it (since = now) and is copied to every node,
 *         keeping C as the source (`MiddleboxForward`, inflight after);
 *      3. else the slot held longest, if it is older than `slotTimeoutUs` (now − since >
 *         slotTimeoutUs), is freed (`MiddleboxExpire`) and taken as in 2;
 *      4. else the middlebox answers an R2P2 DROP (the NACK) to C from its own address
 *         (`MiddleboxNack`, inflight = threshold).
 *  - FEEDBACK, slot form or count form, from any node, about (C, R): frees the slot holding (C, R)
 *    (`MiddleboxFeedback`, inflight after); a FEEDBACK for no slot is ignored.
 *  - Anything else (other types and policies, REQn packets and the REQ0 of a multi-packet request,
 *    malformed datagrams, sources that are not IPv4 "ip:port") is ignored without a trace event.
 *
 * Lookup: a linear scan of the fixed array (a loop bounded by the compile-time table size, which a
 * P4 target unrolls across stages). A hash with a bounded probe would be cheaper on hardware with
 * large tables, but could find no free slot while others are free, and the rules require a NACK
 * only when every slot is taken (inflight = threshold). The scan settles every case in one pass:
 * the matching slot, the first free slot and the oldest slot.
 *
 * Expiry is lazy: a slot is reclaimed only when a request needs it, so `inflight` counts held
 * slots, expired or not. The switch keeps no timers.
 */
import { match, P } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId } from '../core.ts';
import { decode, dropPacket, parseAddr, formatAddr, type DataMsg, type FeedbackMsg } from '../r2p2/codec.ts';
import { ConfigError, configObject, numField } from '../r2p2/common.ts';
import type { HovercraftTraceBody } from './actions.ts';

export const MIDDLEBOX_ROLE = 'hovercraft-middlebox';
/** Largest slot table the program declares. */
export const MAX_THRESHOLD = 65536;
/** Largest multicast group. */
export const MAX_GROUP = 64;

export interface MiddleboxConfig {
  /** The multicast group: every node's address. */
  readonly nodes: readonly Addr[];
  /** Slots in the table: requests admitted into the system at once. */
  readonly threshold: number;
  /** A slot held longer than this may be reclaimed by a new request, µs. */
  readonly slotTimeoutUs: number;
}

export function parseMiddleboxConfig(config: unknown): MiddleboxConfig {
  const c = configObject(MIDDLEBOX_ROLE, config, ['nodes', 'threshold', 'slotTimeoutUs']);
  const nodes = c.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0 || nodes.length > MAX_GROUP) {
    throw new ConfigError(MIDDLEBOX_ROLE, 'nodes', `must be a list of 1 to ${MAX_GROUP} addresses, got ${JSON.stringify(nodes)}`);
  }
  for (const a of nodes) {
    if (typeof a !== 'string' || !parseAddr(a)) {
      throw new ConfigError(MIDDLEBOX_ROLE, 'nodes', `must hold IPv4 addresses "a.b.c.d:port", got ${JSON.stringify(a)}`);
    }
  }
  if (new Set(nodes).size !== nodes.length) {
    throw new ConfigError(MIDDLEBOX_ROLE, 'nodes', `must not repeat an address, got ${JSON.stringify(nodes)}`);
  }
  return {
    nodes: [...(nodes as string[])],
    threshold: numField(MIDDLEBOX_ROLE, c, 'threshold', { min: 0, max: MAX_THRESHOLD, integer: true }),
    slotTimeoutUs: numField(MIDDLEBOX_ROLE, c, 'slotTimeoutUs', { min: 1 }),
  };
}

type Out = CoreOutput<never>;

function trace(event: HovercraftTraceBody): Out {
  return { kind: 'trace', event };
}

/** One occupied slot, for tests and debugging. */
export interface SlotView {
  readonly slot: number;
  readonly client: Addr;
  readonly rid: number;
  readonly since: Micros;
}

export class HovercraftMiddlebox implements Core<never, never> {
  // The register array, one entry per slot.
  private readonly valid: Uint8Array;
  private readonly ip: Uint32Array;
  private readonly port: Uint16Array;
  private readonly rid: Uint16Array;
  private readonly since: Float64Array;
  /** Occupied slots (a register kept in step with `valid`). */
  private held = 0;

  constructor(
    readonly node: NodeId,
    readonly addr: Addr,
    readonly config: MiddleboxConfig,
  ) {
    const n = config.threshold;
    this.valid = new Uint8Array(n);
    this.ip = new Uint32Array(n);
    this.port = new Uint16Array(n);
    this.rid = new Uint16Array(n);
    this.since = new Float64Array(n);
  }

  handle(input: CoreInput<never>, now: Micros): Out[] {
    return match(input)
      .with({ kind: 'start' }, () => [])
      .with({ kind: 'command' }, () => [])
      .with({ kind: 'timer' }, () => [])
      .with({ kind: 'receive' }, ({ packet }) => this.receive(packet.src, packet.data, now))
      .exhaustive();
  }

  /** Slots held. */
  inflight(): number {
    return this.held;
  }

  /** The occupied slots, in table order. */
  slots(): SlotView[] {
    const out: SlotView[] = [];
    for (let i = 0; i < this.valid.length; i++) {
      if (this.valid[i]) out.push({ slot: i, client: formatAddr(this.ip[i]!, this.port[i]!), rid: this.rid[i]!, since: this.since[i]! });
    }
    return out;
  }

  private receive(src: Addr, data: Uint8Array, now: Micros): Out[] {
    const d = decode(data);
    if (!d.ok) return [];
    return match(d.msg)
      .with({ type: 'REQUEST', policy: P.union('REPLICATED_ROUTE', 'REPLICATED_ROUTE_NO_SE') }, (m) => this.onRequest(src, m, data, now))
      .with({ type: 'FEEDBACK' }, (m) => this.onFeedback(m))
      .with({ type: P.union('REQUEST', 'RESPONSE', 'ACK', 'DROP', 'RAFT_REQ', 'RAFT_REP', 'RAFT_MSG', 'SACK') }, () => [])
      .exhaustive();
  }

  /** One pass over the table: the slot holding (ip, port, rid), the first free slot, the oldest slot. */
  private scan(ip: number, port: number, rid: number): { hit: number; free: number; oldest: number } {
    let hit = -1;
    let free = -1;
    let oldest = -1;
    for (let i = 0; i < this.valid.length; i++) {
      if (!this.valid[i]) {
        if (free < 0) free = i;
      } else {
        if (this.ip[i] === ip && this.port[i] === port && this.rid[i] === rid) hit = i;
        if (oldest < 0 || this.since[i]! < this.since[oldest]!) oldest = i;
      }
    }
    return { hit, free, oldest };
  }

  private multicast(client: Addr, data: Uint8Array): Out[] {
    return this.config.nodes.map((dst) => ({ kind: 'send', packet: { src: client, dst, data } }) as const);
  }

  private onRequest(src: Addr, m: DataMsg, data: Uint8Array, now: Micros): Out[] {
    if (!m.first || !m.last) return [];
    const a = parseAddr(src);
    if (!a) return [];
    // Trace events name the client in canonical form, as FEEDBACK does; copies keep `src` as is.
    const client = formatAddr(a.ip, a.port);
    const { hit, free, oldest } = this.scan(a.ip, a.port, m.rid);
    if (hit >= 0) return this.multicast(src, data);
    const out: Out[] = [];
    let slot = free;
    if (slot < 0 && oldest >= 0 && now - this.since[oldest]! > this.config.slotTimeoutUs) {
      out.push(this.release(oldest, 'MiddleboxExpire'));
      slot = oldest;
    }
    if (slot < 0) {
      return [
        trace({ action: 'MiddleboxNack', client, rid: m.rid, inflight: this.held }),
        { kind: 'send', packet: { src: this.addr, dst: src, data: dropPacket(m.rid) } },
      ];
    }
    this.valid[slot] = 1;
    this.ip[slot] = a.ip;
    this.port[slot] = a.port;
    this.rid[slot] = m.rid;
    this.since[slot] = now;
    this.held += 1;
    out.push(trace({ action: 'MiddleboxForward', client, rid: m.rid, inflight: this.held }), ...this.multicast(src, data));
    return out;
  }

  private onFeedback(m: FeedbackMsg): Out[] {
    const a = parseAddr(m.client);
    if (!a) return [];
    const { hit } = this.scan(a.ip, a.port, m.fbRid);
    if (hit < 0) return [];
    return [this.release(hit, 'MiddleboxFeedback')];
  }

  private release(slot: number, action: 'MiddleboxFeedback' | 'MiddleboxExpire'): Out {
    const client = formatAddr(this.ip[slot]!, this.port[slot]!);
    const rid = this.rid[slot]!;
    this.valid[slot] = 0;
    this.held -= 1;
    return trace({ action, client, rid, inflight: this.held });
  }
}

export function createMiddlebox(config: unknown, env: { node: NodeId; addr: Addr }): HovercraftMiddlebox {
  return new HovercraftMiddlebox(env.node, env.addr, parseMiddleboxConfig(config));
}
