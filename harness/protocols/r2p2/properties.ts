/**
 * The R2P2 property checkers (ARCHITECTURE rule 4c). Each is a pure function of the trace (events
 * of `impl/r2p2/actions.ts`), the scenario and the address map; `Net*` annotations and events of
 * other protocols are skipped. A violation names the checker in `check` and lists, as indices into
 * the trace given, the event that breaks the property first, then the events that show why.
 *
 * Nodes vs. addresses: events carry `node` (a node id such as `client1`) and name peers by address
 * (`client`, `server` fields); `addrs` maps ids to addresses.
 *
 * Crashes (the trace's `HostCrash` annotations, stamped once the node is really gone) end a node's
 * incarnation: a fresh core remembers nothing. An event at time t belongs to the incarnation after
 * every crash of its node before t.
 */
import type { Addr, NodeId } from '../../../impl/core.ts';
import { R2P2_ACTIONS, type R2p2TraceBody } from '../../../impl/r2p2/actions.ts';
import type { PropertyChecker, Violation } from '../../protocol.ts';
import type { Trace } from '../../trace/schema.ts';
import { SERVER_DEDUPE_WINDOW } from '../../../machines/r2p2/events.ts';
import { ROUTER_NODE, r2p2Timing, type R2p2Scenario } from './scenario.ts';

export type R2p2Event = R2p2TraceBody & { readonly t: number; readonly node: string };

const ACTIONS: ReadonlySet<string> = new Set(R2P2_ACTIONS);

/** The R2P2 protocol events of a trace with their indices in it. */
export function r2p2Events(trace: Trace): { i: number; e: R2p2Event }[] {
  const out: { i: number; e: R2p2Event }[] = [];
  trace.forEach((e, i) => {
    if (ACTIONS.has(e.action)) out.push({ i, e: e as unknown as R2p2Event });
  });
  return out;
}

const key = (a: string | number, b: string | number): string => `${a}|${b}`;

/**
 * Crash times per node, ascending: the trace's `HostCrash` annotations (a scheduled crash, or a
 * core that threw), which every testbed stamps when the node is really gone.
 */
function crashTimes(trace: Trace): Map<NodeId, number[]> {
  const m = new Map<NodeId, number[]>();
  for (const e of trace) {
    if (e.action !== 'HostCrash') continue;
    const l = m.get(e.node) ?? [];
    l.push(e.t);
    m.set(e.node, l);
  }
  for (const l of m.values()) l.sort((a, b) => a - b);
  return m;
}

/**
 * Calls `reset(node)` once for every crash of `node`, just before the first event after it;
 * `before(t)` must be called with each event's time, in trace order.
 */
function crashTracker(trace: Trace, reset: (node: NodeId) => void) {
  const pending = [...crashTimes(trace)].flatMap(([node, ts]) => ts.map((at) => ({ node, at })));
  pending.sort((a, b) => a.at - b.at);
  let next = 0;
  return {
    before(t: number): void {
      while (next < pending.length && pending[next]!.at < t) reset(pending[next++]!.node);
    },
  };
}

function v(check: string, message: string, events: number[]): Violation {
  return { check, message, events: [...new Set(events)] };
}

// ---------------------------------------------------------------------------------------------

export const replyMatchesRequest: PropertyChecker<R2p2Scenario> = {
  name: 'reply-matches-request',
  description:
    'Every reply a client accepts answers exactly its request: the reply carries the request\'s rid, and the server ' +
    'it came from sent a reply with that triplet (client address, rid) and that digest after the client sent the request.',
  check(trace, scenario, addrs) {
    const name = 'reply-matches-request';
    const out: Violation[] = [];
    const lastSend = new Map<string, number>(); // client node|rid → index of its latest ClientSend
    const serverReplies = new Map<string, { i: number; digest: string; server: Addr }[]>(); // client addr|rid → ServerReply
    const tracker = crashTracker(trace, (node) => {
      for (const k of [...lastSend.keys()]) if (k.startsWith(`${node}|`)) lastSend.delete(k);
    });
    for (const { i, e } of r2p2Events(trace)) {
      tracker.before(e.t);
      switch (e.action) {
        case 'ClientSend':
          lastSend.set(key(e.node, e.rid), i);
          break;
        case 'ServerReply': {
          const k = key(e.client, e.rid);
          const l = serverReplies.get(k) ?? [];
          l.push({ i, digest: e.digest, server: addrs[e.node] ?? e.node });
          serverReplies.set(k, l);
          break;
        }
        case 'ClientReceiveReply': {
          const addr = addrs[e.node] ?? e.node;
          const send = lastSend.get(key(e.node, e.rid));
          if (e.replyRid !== e.rid) {
            out.push(v(name, `${e.node} accepted a reply carrying rid ${e.replyRid} as the reply to its request rid ${e.rid}`,
              send === undefined ? [i] : [i, send]));
          } else if (send === undefined) {
            out.push(v(name, `${e.node} accepted a reply for rid ${e.rid}, which it never sent`, [i]));
          } else {
            const after = (serverReplies.get(key(addr, e.rid)) ?? []).filter((r) => r.i > send);
            if (after.length === 0) {
              out.push(v(name, `${e.node} accepted a reply for rid ${e.rid} (digest ${e.digest}) but no server replied to (${addr}, ${e.rid}) after the request was sent`, [i, send]));
            } else if (!after.some((r) => r.digest === e.digest && r.server === e.server)) {
              out.push(v(name,
                `${e.node} accepted a reply for rid ${e.rid} from ${e.server} with digest ${e.digest}; the servers replied to (${addr}, ${e.rid}) with ` +
                after.map((r) => `${r.digest} from ${r.server}`).join(', '),
                [i, ...after.map((r) => r.i), send]));
            }
          }
          break;
        }
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------

interface DispatchEntry { readonly i: number; readonly client: Addr; readonly rid: number }
/** A request a server is done with (ServerReply, or ServerGc), numbered like the server's served count. */
interface ServeRecord {
  readonly i: number; readonly client: Addr; readonly rid: number;
  readonly served: number; readonly incarnation: number; consumed: boolean;
}

/**
 * `jbsq-bound` recomputes the router's view without trusting its numbers:
 * - per server (address), the dispatches since the router first heard from the server's current
 *   incarnation (RouterServerJoin), kept across RouterServerLeave (a rejoin of the same incarnation,
 *   as the trace's crashes tell, continues them whatever the event says), forgotten when the
 *   router crashes;
 * - the server's own events number what it is done with: ServerReply carries its served count,
 *   ServerGc counts one more; a server crash starts a new incarnation counting from 0;
 * - a RouterFeedback acknowledges the serve it names (once: a duplicate acknowledges nothing), and
 *   in count form every serve of that incarnation up to its served count (lost FEEDBACKs are
 *   covered by later counts). The count is taken from the named ServerReply (or, for an announce,
 *   bounded by the server's ServerAnnounce events), not from the router's event;
 * - an acknowledged serve removes its dispatch; in count form a serve whose dispatch is not live
 *   (dispatched by an earlier router incarnation) still frees one slot, now or for the next
 *   dispatch, as the router's max(0, dispatched − served) arithmetic does (the spec's `Out(s)`);
 *   in slot form it frees only its own;
 * - on the RouterServerJoin of a first join or a new incarnation the count of the server's latest
 *   message (the one that made it join) is the base: serves up to it are never counted;
 * - the first count FEEDBACK from a new incarnation of a crashed server (the trace's crashes tell
 *   incarnations apart) resets the server's dispatches: the restarted server holds nothing. A
 *   lower count from the same incarnation (a reordered or duplicated old FEEDBACK) resets nothing.
 */
export const jbsqBound: PropertyChecker<R2p2Scenario> = {
  name: 'jbsq-bound',
  description:
    'Under JBSQ(n) the router never has more than n requests outstanding at a server: at every RouterDispatch both ' +
    'the event\'s own count and a count recomputed from the trace (dispatches since the server joined minus the ' +
    'requests its FEEDBACK acknowledged, by name or by served count) are at most n.',
  check(trace, scenario, addrs) {
    if (scenario.topology.router.policy !== 'jbsq') return [];
    const name = 'jbsq-bound';
    const bound = scenario.topology.router.n;
    const out: Violation[] = [];
    const nodeOf = new Map<Addr, NodeId>(Object.entries(addrs).map(([n, a]) => [a, n]));
    const crashes = crashTimes(trace);
    const incarnationAt = (node: NodeId, t: number): number => (crashes.get(node) ?? []).filter((at) => at < t).length;
    /** The router's view: per server address, the dispatches not yet acknowledged (oldest first). */
    const live = new Map<Addr, DispatchEntry[]>();
    /** Per server address: serves counted before a dispatch they can be set against. */
    const credit = new Map<Addr, number>();
    /** Per server address: the server's incarnation the router last heard from. */
    const heard = new Map<Addr, number>();
    /** Per server node: what it is done with, and its served counter per incarnation. */
    const serves = new Map<NodeId, ServeRecord[]>();
    /** served: last count (replies and GCs); announced: highest announce; sent: count in its latest message. */
    const counter = new Map<NodeId, { incarnation: number; served: number; announced: number; sent: number }>();
    /** Per server node: the counts its FEEDBACKs carried (announces and replies), with the sender's incarnation. */
    const sentCounts = new Map<NodeId, { served: number; incarnation: number }[]>();
    const noteSent = (node: NodeId, served: number, incarnation: number): void => {
      const l = sentCounts.get(node) ?? [];
      l.push({ served, incarnation });
      sentCounts.set(node, l);
    };
    /**
     * The incarnation that sent a FEEDBACK with this count: the latest that sent it (a FEEDBACK the
     * router takes after a crash may come from the crashed incarnation). Undefined: never sent.
     */
    const senderOf = (node: NodeId, served: unknown): number | undefined =>
      [...(sentCounts.get(node) ?? [])].reverse().find((m) => m.served === served)?.incarnation;
    const routerNodes = new Set<NodeId>([ROUTER_NODE]);
    const tracker = crashTracker(trace, (node) => {
      if (routerNodes.has(node)) { live.clear(); heard.clear(); credit.clear(); } // a new router starts from nothing
    });
    /** The server's served counter in the incarnation it is in at time t. */
    const counterAt = (node: NodeId, t: number) => {
      const incarnation = incarnationAt(node, t);
      let c = counter.get(node);
      if (!c || c.incarnation !== incarnation) counter.set(node, (c = { incarnation, served: 0, announced: 0, sent: 0 }));
      return c;
    };
    const removeOne = (server: Addr, pred: (d: DispatchEntry) => boolean): boolean => {
      const l = live.get(server);
      const j = l ? l.findIndex(pred) : -1;
      if (j < 0) return false;
      l!.splice(j, 1);
      return true;
    };
    /**
     * An acknowledged serve removes its dispatch. In count form the router only knows how many
     * were served, so a serve whose dispatch is not live (it was dispatched before the server
     * left and rejoined) frees another dispatch, or is banked against the next one: the router's
     * max(0, dispatched − served) arithmetic.
     */
    const acknowledge = (server: Addr, s: ServeRecord, counted: boolean): void => {
      s.consumed = true;
      if (removeOne(server, (d) => d.client === s.client && d.rid === s.rid) || !counted) return;
      if (!removeOne(server, () => true)) credit.set(server, (credit.get(server) ?? 0) + 1);
    };
    /** Serves the router will never count for `server`: older incarnations, and those up to its base count. */
    const settle = (node: NodeId, incarnation: number, base: number): void => {
      for (const r of serves.get(node) ?? []) if (r.incarnation < incarnation || (r.incarnation === incarnation && r.served <= base)) r.consumed = true;
    };
    const record = (node: NodeId, t: number, i: number, client: Addr, rid: number, served: number | undefined): void => {
      const c = counterAt(node, t);
      c.served = served ?? c.served + 1;
      if (served !== undefined) {
        c.sent = served;
        noteSent(node, served, c.incarnation);
      }
      const l = serves.get(node) ?? [];
      l.push({ i, client, rid, served: c.served, incarnation: c.incarnation, consumed: false });
      serves.set(node, l);
    };

    for (const { i, e } of r2p2Events(trace)) {
      tracker.before(e.t);
      switch (e.action) {
        case 'ServerReply':
          record(e.node, e.t, i, e.client, e.rid, e.served);
          break;
        case 'ServerGc':
          record(e.node, e.t, i, e.client, e.rid, undefined);
          break;
        case 'ServerAnnounce': {
          const c = counterAt(e.node, e.t);
          c.announced = Math.max(c.announced, e.served);
          c.sent = e.served;
          noteSent(e.node, e.served, c.incarnation);
          break;
        }
        case 'RouterServerJoin': {
          routerNodes.add(e.node);
          const node = nodeOf.get(e.server) ?? '';
          const c = counterAt(node, e.t);
          const sender = senderOf(node, e.served);
          const incarnation = sender ?? c.incarnation;
          if (heard.get(e.server) === incarnation) {
            // The same incarnation speaks again after a leave (whatever the event's `fresh` says):
            // its dispatches still count; the FEEDBACK's count (at most what it really sent)
            // acknowledges the serves up to it.
            const upTo = sender !== undefined ? e.served : 0;
            for (const r of serves.get(node) ?? []) {
              if (!r.consumed && r.incarnation === incarnation && r.served <= upTo) acknowledge(e.server, r, true);
            }
            break;
          }
          // A first join or a new incarnation: the joining FEEDBACK's count (one its sender really
          // sent, else the server's latest) is the base.
          live.set(e.server, []);
          credit.delete(e.server);
          heard.set(e.server, incarnation);
          settle(node, incarnation, sender !== undefined ? e.served : c.sent);
          break;
        }
        case 'RouterServerLeave':
          // The server is no longer eligible; what it holds still counts when it rejoins.
          routerNodes.add(e.node);
          break;
        case 'RouterFeedback': {
          routerNodes.add(e.node);
          const node = nodeOf.get(e.server) ?? '';
          const l = serves.get(node) ?? [];
          let named: ServeRecord | undefined;
          for (let j = l.length - 1; j >= 0 && !named; j--) {
            if (l[j]!.client === e.client && l[j]!.rid === e.rid) named = l[j];
          }
          if (e.form === 'slot') {
            if (named) { if (!named.consumed) acknowledge(e.server, named, false); }
            else removeOne(e.server, (d) => d.client === e.client && d.rid === e.rid);
            break;
          }
          // count form: which incarnation of the server sent it, and its count
          const now = counterAt(node, e.t);
          // An announce belongs to the incarnation that sent it, which may have crashed since.
          const sender = named ? undefined : senderOf(node, e.served);
          const incarnation = named?.incarnation ?? sender ?? now.incarnation;
          const served = named ? named.served : sender !== undefined ? e.served : Math.min(e.served, now.announced);
          const h = heard.get(e.server);
          if (h !== undefined && incarnation > h) {
            // it restarted: it holds nothing, and its count starts again from this one
            live.set(e.server, []);
            credit.delete(e.server);
            settle(node, incarnation, served);
          }
          if (h === undefined || incarnation > h) heard.set(e.server, incarnation);
          if (named && !named.consumed) acknowledge(e.server, named, true);
          for (const s of l) if (!s.consumed && s.incarnation === incarnation && s.served <= served) acknowledge(e.server, s, true);
          break;
        }
        case 'RouterDispatch': {
          routerNodes.add(e.node);
          const l = live.get(e.server) ?? [];
          const banked = credit.get(e.server) ?? 0;
          if (banked > 0) credit.set(e.server, banked - 1);
          else l.push({ i, client: e.client, rid: e.rid });
          live.set(e.server, l);
          if (e.outstanding > bound) {
            out.push(v(name, `router dispatched (${e.client}, ${e.rid}) to ${e.server} with outstanding ${e.outstanding} > n = ${bound}`, [i]));
          } else if (l.length > bound) {
            out.push(v(name,
              `router dispatched (${e.client}, ${e.rid}) to ${e.server}, which then had ${l.length} unacknowledged requests > n = ${bound} ` +
              `(the event says ${e.outstanding}): ${l.map((d) => `(${d.client}, ${d.rid})`).join(', ')}`,
              [i, ...l.map((d) => d.i)]));
          }
          break;
        }
      }
    }
    return out;
  },
};
// ---------------------------------------------------------------------------------------------

/** Slack for the end-of-run exemption: real testbeds fire timers late and stop at wall-clock time. */
export function endGraceUs(scenario: R2p2Scenario): number {
  return Math.max(1_000, 0.02 * scenario.duration);
}

export const noSilentLoss: PropertyChecker<R2p2Scenario> = {
  name: 'no-silent-loss',
  description:
    'Every ClientSend completes exactly once, by ClientReceiveReply, ClientReceiveDrop or ClientTimeout of the same ' +
    'client and rid, unless the client crashed first or the run ended before its timeout could fire ' +
    '(sent at t: t + timeout + time the client was paused + grace > end of run); no completion without a request.',
  check(trace, scenario) {
    const name = 'no-silent-loss';
    const out: Violation[] = [];
    const { timeoutUs } = r2p2Timing(scenario);
    const evs = r2p2Events(trace);
    const end = evs.reduce((m, x) => Math.max(m, x.e.t), scenario.duration);
    const grace = endGraceUs(scenario);
    // The scenario's pauses and the ones the trace shows (a real testbed's freeze lands a little
    // after its scheduled time): either may have delayed the client's timer.
    const pauses: { node: NodeId; at: number; duration: number }[] = scenario.faults.flatMap((f) => (f.kind === 'pause' ? [f] : []));
    const pausedAt = new Map<NodeId, number>();
    for (const e of trace) {
      if (e.action === 'HostPause') pausedAt.set(e.node, e.t);
      else if (e.action === 'HostResume' && pausedAt.has(e.node)) {
        pauses.push({ node: e.node, at: pausedAt.get(e.node)!, duration: e.t - pausedAt.get(e.node)! });
        pausedAt.delete(e.node);
      }
    }
    for (const [node, at] of pausedAt) pauses.push({ node, at, duration: end - at });
    const canStillFire = (node: NodeId, t: number): boolean => {
      let deadline = t + timeoutUs;
      for (const p of pauses) if (p.node === node && p.at < deadline && p.at + p.duration > t) deadline += p.duration;
      return deadline + grace > end;
    };
    const open = new Map<string, { i: number; t: number; node: NodeId; rid: number }>(); // node|rid
    const done = new Map<string, { send: number; completion: number }>(); // node|rid → last completed
    const lost = (s: { i: number; t: number; node: NodeId; rid: number }, why: string) => {
      if (!canStillFire(s.node, s.t)) {
        out.push(v(name, `${s.node}'s request rid ${s.rid} (sent at t=${s.t}) ${why}: no reply, DROP or timeout (timeout ${timeoutUs} µs, run ends at ${end})`, [s.i]));
      }
    };
    const tracker = crashTracker(trace, (node) => {
      // a crashed client's pending requests are exempt; its fresh core may reuse rids
      for (const k of [...open.keys()]) if (k.startsWith(`${node}|`)) open.delete(k);
      for (const k of [...done.keys()]) if (k.startsWith(`${node}|`)) done.delete(k);
    });
    for (const { i, e } of evs) {
      tracker.before(e.t);
      if (e.action === 'ClientSend') {
        const k = key(e.node, e.rid);
        const prev = open.get(k);
        if (prev) lost(prev, `was never completed before rid ${e.rid} was sent again (event ${i})`);
        open.set(k, { i, t: e.t, node: e.node, rid: e.rid });
        done.delete(k);
      } else if (e.action === 'ClientReceiveReply' || e.action === 'ClientReceiveDrop' || e.action === 'ClientTimeout') {
        const k = key(e.node, e.rid);
        const s = open.get(k);
        if (s) {
          open.delete(k);
          done.set(k, { send: s.i, completion: i });
        } else {
          const d = done.get(k);
          out.push(d
            ? v(name, `${e.node}'s request rid ${e.rid} completed twice (${trace[d.completion]?.action}, then ${e.action})`, [i, d.completion, d.send])
            : v(name, `${e.node} completed rid ${e.rid} (${e.action}) but has no such request outstanding`, [i]));
        }
      }
    }
    for (const s of open.values()) lost(s, 'was never completed');
    return out.sort((a, b) => (a.events?.[0] ?? 0) - (b.events?.[0] ?? 0));
  },
};

// ---------------------------------------------------------------------------------------------

export const byteExactReassembly: PropertyChecker<R2p2Scenario> = {
  name: 'byte-exact-reassembly',
  description:
    'Every request a server assembles (ServerReceiveRequest) is byte-exact: the client at that address sent that ' +
    'rid, and the digest and packet count equal those of its ClientSend. (Reply bodies are checked by reply-matches-request.)',
  check(trace, scenario, addrs) {
    const name = 'byte-exact-reassembly';
    const out: Violation[] = [];
    const sends = new Map<string, { i: number; digest: string; npkts: number }>(); // client addr|rid
    const tracker = crashTracker(trace, () => {}); // sends stay valid: the request may still be in flight
    for (const { i, e } of r2p2Events(trace)) {
      tracker.before(e.t);
      if (e.action === 'ClientSend') {
        sends.set(key(addrs[e.node] ?? e.node, e.rid), { i, digest: e.digest, npkts: e.npkts });
      } else if (e.action === 'ServerReceiveRequest') {
        const s = sends.get(key(e.client, e.rid));
        if (!s) {
          out.push(v(name, `${e.node} assembled request (${e.client}, ${e.rid}), which that client never sent`, [i]));
        } else if (s.digest !== e.digest) {
          out.push(v(name, `${e.node} assembled request (${e.client}, ${e.rid}) with digest ${e.digest} (${e.npkts} packets); the client sent digest ${s.digest} (${s.npkts} packets)`, [i, s.i]));
        } else if (s.npkts !== e.npkts) {
          out.push(v(name, `${e.node} assembled request (${e.client}, ${e.rid}) from ${e.npkts} packets; the client sent ${s.npkts}`, [i, s.i]));
        }
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------

export const atMostOneReply: PropertyChecker<R2p2Scenario> = {
  name: 'at-most-one-reply',
  description:
    'A server sends at most one ServerReply per ServerReceiveRequest of the same (client, rid): every reply consumes ' +
    'an earlier, not yet answered receipt of that request at that server (in the same incarnation).',
  check(trace, scenario) {
    const name = 'at-most-one-reply';
    const out: Violation[] = [];
    const pending = new Map<string, number[]>(); // server node|client|rid → unanswered receipts
    const answered = new Map<string, number[]>(); // → replies sent
    const tracker = crashTracker(trace, (node) => {
      for (const k of [...pending.keys()]) if (k.startsWith(`${node}|`)) pending.delete(k);
    });
    for (const { i, e } of r2p2Events(trace)) {
      tracker.before(e.t);
      if (e.action === 'ServerReceiveRequest') {
        const k = `${e.node}|${e.client}|${e.rid}`;
        pending.set(k, [...(pending.get(k) ?? []), i]);
      } else if (e.action === 'ServerReply') {
        const k = `${e.node}|${e.client}|${e.rid}`;
        const p = pending.get(k) ?? [];
        const prev = answered.get(k) ?? [];
        if (p.length === 0) {
          out.push(v(name, prev.length
            ? `${e.node} replied again to (${e.client}, ${e.rid}): ${prev.length + 1} replies, no new receipt of the request`
            : `${e.node} replied to (${e.client}, ${e.rid}) without having received that request`,
            [i, ...prev]));
        } else {
          p.shift();
        }
        answered.set(k, [...prev, i]);
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------

export const serverTakesOnce: PropertyChecker<R2p2Scenario> = {
  name: 'server-takes-once',
  description:
    'A server takes each (client, rid) whole (ServerReceiveRequest) at most once per incarnation: a REQ0 the network ' +
    'duplicated or the router dispatched twice is not served again. Incarnations end at the trace\'s HostCrash of the ' +
    `server; a take after ${SERVER_DEDUPE_WINDOW} newer takes of the incarnation (the server's dedupe window; 16-bit rids wrap) is a new request.`,
  check(trace) {
    const name = 'server-takes-once';
    const out: Violation[] = [];
    /** Per server node: its takes in this incarnation, by client address|rid, and how many. */
    const taken = new Map<NodeId, { byKey: Map<string, { i: number; ordinal: number }>; takes: number }>();
    const tracker = crashTracker(trace, (node) => taken.delete(node));
    for (const { i, e } of r2p2Events(trace)) {
      tracker.before(e.t);
      if (e.action !== 'ServerReceiveRequest') continue;
      let s = taken.get(e.node);
      if (!s) taken.set(e.node, (s = { byKey: new Map(), takes: 0 }));
      const k = key(e.client, e.rid);
      const prev = s.byKey.get(k);
      s.takes += 1;
      if (prev && s.takes - prev.ordinal <= SERVER_DEDUPE_WINDOW) {
        out.push(v(name, `${e.node} took request (${e.client}, ${e.rid}) again in the same incarnation (first taken at event ${prev.i})`, [i, prev.i]));
      }
      s.byKey.set(k, { i, ordinal: s.takes });
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------

const SERVING_ACTIONS: ReadonlySet<string> = new Set(['ServerAck', 'ServerSack', 'ServerReceiveRequest', 'ServerReply', 'ServerGc']);

export const servesAfterAnnounce: PropertyChecker<R2p2Scenario> = {
  name: 'serves-after-announce',
  description:
    'A server takes, reassembles and answers requests (ServerAck, ServerSack, ServerReceiveRequest, ServerReply, ServerGc) ' +
    'only once its incarnation has announced itself (ServerAnnounce): at its start, and again after each HostCrash ' +
    'of the server, whose next incarnation keeps quiet until its announce.',
  check(trace) {
    const name = 'serves-after-announce';
    const out: Violation[] = [];
    /** Per server node: the index of its incarnation's announce (absent: not announced yet). */
    const announced = new Map<NodeId, number>();
    /** Per node: the index of its latest HostCrash. */
    const lastCrash = new Map<NodeId, number>();
    // In trace order: a HostCrash is stamped once the node is gone, after every event of the dead
    // process, so what follows it is the next incarnation's.
    trace.forEach((e, i) => {
      if (e.action === 'HostCrash') {
        announced.delete(e.node);
        lastCrash.set(e.node, i);
        return;
      }
      if (!ACTIONS.has(e.action)) return;
      const r = e as unknown as R2p2Event;
      if (r.action === 'ServerAnnounce') {
        if (!announced.has(r.node)) announced.set(r.node, i);
      } else if (SERVING_ACTIONS.has(r.action) && !announced.has(r.node)) {
        const crash = lastCrash.get(r.node);
        const what = 'client' in r ? ` (${r.client}, ${r.rid})` : '';
        out.push(v(name, crash === undefined
          ? `${r.node} did ${r.action}${what} before its first announce`
          : `${r.node} did ${r.action}${what} after its crash (event ${crash}) and before its new incarnation announced itself`,
        crash === undefined ? [i] : [i, crash]));
      }
    });
    return out;
  },
};

export const r2p2Properties: readonly PropertyChecker<R2p2Scenario>[] = [
  replyMatchesRequest, jbsqBound, noSilentLoss, byteExactReassembly, atMostOneReply, serverTakesOnce, servesAfterAnnounce,
];
