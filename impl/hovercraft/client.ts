/**
 * HovercRaft client core (role `hovercraft-client`): issues key-value operations to the replicated
 * service, one at a time, as single-packet R2P2 requests.
 *
 * A command is a key-value operation. While another operation is outstanding it waits in a FIFO
 * queue; otherwise the client takes a fresh rid, sends one R2P2 REQUEST (policy REPLICATED_ROUTE for
 * put and cas, REPLICATED_ROUTE_NO_SE for get; body `encodeOp`) to the flow-control middlebox, emits
 * `ClientRequest` and arms the operation's timer. The operation completes with the first of:
 *  - a single-packet RESPONSE carrying its rid, from any address (the replier answers from its own
 *    address) and a well-formed result body: `ClientReceiveReply`;
 *  - a DROP carrying its rid (the middlebox's NACK): `ClientReceiveNack`, the operation did not
 *    take effect;
 *  - its timer: `ClientTimeout`, the operation may or may not take effect.
 * Each completion cancels the timer, notifies the application and sends the next queued operation.
 * Packets about any other rid (late or duplicate replies, replies of earlier operations) and
 * malformed packets are ignored without a trace event.
 *
 * Rids: a 16-bit counter over 1..65535 (0 is skipped), so consecutive operations never share a rid.
 * The counter survives restarts: the client reserves rids in blocks of `RID_BLOCK` and persists the
 * end of the reserved block before the first request of the block leaves; a restarted client starts
 * from there, so a new incarnation never reuses a recent triplet (client, rid) that nodes may still
 * hold in their unordered sets or the middlebox in its slot table.
 */
import { match, P } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId, StableState } from '../core.ts';
import type { PolicyName } from '../r2p2/actions.ts';
import { MAX_PAYLOAD, decode, encode, type DataMsg, type DropMsg } from '../r2p2/codec.ts';
import { addrField, configObject, numField } from '../r2p2/common.ts';
import type { HovercraftTraceBody, KvOpName, KvResult } from './actions.ts';
import { decodeResult, encodeOp, isReadOnly, type KvOp } from './kv.ts';

export const HOVERCRAFT_CLIENT_ROLE = 'hovercraft-client';

export interface HovercraftClientConfig {
  /** The flow-control middlebox: every request goes there. */
  readonly middlebox: Addr;
  /** Per-operation timeout, µs. */
  readonly timeoutUs: number;
}

/**
 * One key-value operation. `value` is the put's value or the cas's new value; `expected` is the
 * cas's expected current value (null or absent: the key must be unset).
 */
export interface HovercraftClientCommand {
  readonly op: KvOpName;
  readonly key: string;
  readonly value?: string | null;
  readonly expected?: string | null;
}

/** The outcome of one operation, handed to the application when it completes. */
export type HovercraftClientNotification =
  | { readonly rid: number; readonly op: KvOp; readonly outcome: 'reply'; readonly from: Addr; readonly result: KvResult }
  | { readonly rid: number; readonly op: KvOp; readonly outcome: 'nack' }
  | { readonly rid: number; readonly op: KvOp; readonly outcome: 'timeout' };

type Out = CoreOutput<HovercraftClientNotification>;

/** Rids reserved per persisted block. */
export const RID_BLOCK = 256;
/** Largest rid; rids run 1..RID_MAX and wrap to 1. */
export const RID_MAX = 0xffff;

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

export function parseHovercraftClientConfig(config: unknown): HovercraftClientConfig {
  const c = configObject(HOVERCRAFT_CLIENT_ROLE, config, ['middlebox', 'timeoutUs']);
  return {
    middlebox: addrField(HOVERCRAFT_CLIENT_ROLE, c, 'middlebox'),
    timeoutUs: numField(HOVERCRAFT_CLIENT_ROLE, c, 'timeoutUs', { min: 1 }),
  };
}

const isStringOrNull = (v: unknown): v is string | null | undefined => v === undefined || v === null || typeof v === 'string';

/**
 * Validates a command and turns it into a `KvOp`. Throws `CommandError` when it is malformed or its
 * encoded body does not fit one R2P2 packet.
 */
export function commandToOp(cmd: unknown): KvOp {
  const fail = (why: string): never => {
    throw new CommandError(`${HOVERCRAFT_CLIENT_ROLE}: ${why}: ${JSON.stringify(cmd)}`);
  };
  if (typeof cmd !== 'object' || cmd === null) return fail('command is not an object');
  const c = cmd as { readonly [k: string]: unknown };
  if (typeof c.key !== 'string') return fail('command needs a string key');
  if (!isStringOrNull(c.value)) return fail('value must be a string or null');
  if (!isStringOrNull(c.expected)) return fail('expected must be a string or null');
  const key = c.key;
  const op = match(c.op)
    .returnType<KvOp>()
    .with('get', () => {
      if (c.value != null || c.expected != null) fail('get takes neither value nor expected');
      return { op: 'get', key };
    })
    .with('put', () => {
      if (typeof c.value !== 'string') fail('put needs a string value');
      if (c.expected != null) fail('put takes no expected');
      return { op: 'put', key, value: c.value as string };
    })
    .with('cas', () => {
      if (typeof c.value !== 'string') fail('cas needs a string value');
      return { op: 'cas', key, expected: (c.expected as string | null | undefined) ?? null, value: c.value as string };
    })
    .otherwise(() => fail('unknown operation'));
  const size = encodeOp(op).length;
  if (size > MAX_PAYLOAD) fail(`encoded operation of ${size} bytes does not fit one packet (${MAX_PAYLOAD})`);
  return op;
}

export function policyOf(op: KvOp): PolicyName {
  return isReadOnly(op) ? 'REPLICATED_ROUTE_NO_SE' : 'REPLICATED_ROUTE';
}

/** The next rid after `rid` in 1..RID_MAX. */
export function nextRidAfter(rid: number): number {
  return rid >= RID_MAX ? 1 : rid + 1;
}

function validRid(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= RID_MAX;
}

function trace(event: HovercraftTraceBody): Out {
  return { kind: 'trace', event };
}

const timerName = (rid: number): string => `op:${rid}`;

interface Outstanding {
  readonly rid: number;
  readonly op: KvOp;
}

export class HovercraftClient implements Core<HovercraftClientCommand, HovercraftClientNotification> {
  /** The rid the next operation takes. */
  private nextRid = 1;
  /** Rids still reserved by the last persisted block (0: the next request persists a new block). */
  private reserved = 0;
  private current: Outstanding | undefined;
  private readonly queue: KvOp[] = [];

  constructor(
    readonly node: NodeId,
    readonly addr: Addr,
    readonly config: HovercraftClientConfig,
  ) {}

  handle(input: CoreInput<HovercraftClientCommand>, now: Micros): Out[] {
    return match(input)
      .with({ kind: 'start' }, ({ stable }) => this.start(stable))
      .with({ kind: 'command' }, ({ command }) => this.command(commandToOp(command), now))
      .with({ kind: 'timer' }, ({ name }) => this.timer(name, now))
      .with({ kind: 'receive' }, ({ packet }) => this.receive(packet.src, packet.data, now))
      .exhaustive();
  }

  /** The outstanding operation's rid, if any. */
  outstandingRid(): number | undefined {
    return this.current?.rid;
  }

  /** Operations waiting for the outstanding one to complete. */
  queued(): number {
    return this.queue.length;
  }

  private start(stable: StableState | undefined): Out[] {
    const saved = typeof stable === 'object' && stable !== null && !Array.isArray(stable)
      ? (stable as { readonly [k: string]: StableState }).nextRid
      : undefined;
    if (validRid(saved)) {
      this.nextRid = saved;
      this.reserved = 0;
    }
    return [];
  }

  private command(op: KvOp, now: Micros): Out[] {
    if (this.current) {
      this.queue.push(op);
      return [];
    }
    return this.issue(op, now);
  }

  private issue(op: KvOp, now: Micros): Out[] {
    const out: Out[] = [];
    if (this.reserved === 0) {
      let end = this.nextRid;
      for (let i = 0; i < RID_BLOCK; i++) end = nextRidAfter(end);
      out.push({ kind: 'persist', state: { nextRid: end } });
      this.reserved = RID_BLOCK;
    }
    const rid = this.nextRid;
    this.nextRid = nextRidAfter(rid);
    this.reserved -= 1;
    this.current = { rid, op };
    const ro = isReadOnly(op);
    const data = encode({ type: 'REQUEST', policy: policyOf(op), rid, first: true, last: true, order: 1, payload: encodeOp(op) });
    out.push(
      trace({
        action: 'ClientRequest', rid, op: op.op, key: op.key,
        value: op.op === 'get' ? null : op.value,
        expected: op.op === 'cas' ? op.expected : null,
        ro,
      }),
      { kind: 'send', packet: { src: this.addr, dst: this.config.middlebox, data } },
      { kind: 'setTimer', name: timerName(rid), at: now + this.config.timeoutUs },
    );
    return out;
  }

  /** Completes the outstanding operation and sends the next queued one, if any. */
  private complete(event: HovercraftTraceBody, note: HovercraftClientNotification, now: Micros): Out[] {
    const rid = note.rid;
    this.current = undefined;
    const out: Out[] = [
      trace(event),
      { kind: 'cancelTimer', name: timerName(rid) },
      { kind: 'notify', value: note },
    ];
    const next = this.queue.shift();
    if (next) out.push(...this.issue(next, now));
    return out;
  }

  private timer(name: string, now: Micros): Out[] {
    const cur = this.current;
    if (!cur || name !== timerName(cur.rid)) return [];
    return this.complete({ action: 'ClientTimeout', rid: cur.rid }, { rid: cur.rid, op: cur.op, outcome: 'timeout' }, now);
  }

  private receive(src: Addr, data: Uint8Array, now: Micros): Out[] {
    const d = decode(data);
    if (!d.ok) return [];
    return match(d.msg)
      .with({ type: 'RESPONSE' }, (m) => this.onResponse(src, m, now))
      .with({ type: 'DROP' }, (m) => this.onDrop(m, now))
      .with({ type: P.union('REQUEST', 'FEEDBACK', 'ACK', 'RAFT_REQ', 'RAFT_REP', 'RAFT_MSG', 'SACK') }, () => [])
      .exhaustive();
  }

  private onResponse(src: Addr, m: DataMsg, now: Micros): Out[] {
    const cur = this.current;
    if (!cur || m.rid !== cur.rid) return [];
    // Results always fit one packet (see commandToOp); anything else is not a reply of ours.
    if (!m.first || !m.last) return [];
    const result = decodeResult(m.payload);
    if (typeof result === 'object' && result !== null) return [];
    return this.complete(
      { action: 'ClientReceiveReply', rid: cur.rid, from: src, result },
      { rid: cur.rid, op: cur.op, outcome: 'reply', from: src, result },
      now,
    );
  }

  private onDrop(m: DropMsg, now: Micros): Out[] {
    const cur = this.current;
    if (!cur || m.rid !== cur.rid) return [];
    return this.complete({ action: 'ClientReceiveNack', rid: cur.rid }, { rid: cur.rid, op: cur.op, outcome: 'nack' }, now);
  }
}

export function createHovercraftClient(config: unknown, env: { node: NodeId; addr: Addr }): HovercraftClient {
  return new HovercraftClient(env.node, env.addr, parseHovercraftClientConfig(config));
}
