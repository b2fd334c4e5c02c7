/**
 * HovercRaft++ aggregator (role `hovercraft-aggregator`), a switch program in P4-like style: the
 * parser is `decodeRaft` (fixed offsets, an entry header stack of at most MAX_AE_ENTRIES), the
 * state is a handful of registers plus two register arrays indexed by node index, each packet
 * goes through one match/action, and nothing grows per flow.
 *
 * Registers: `term`, `leader` (node index, 0xFF none), `commit`, `firstIdx` (the index of the
 * first entry of the current term seen in a forwarded append_entries, 0 none), `sentEnd` (end of what the leader sent: the
 * leader's match index), `pending` (an append_entries announced nothing new: the next reply
 * triggers an AGG_COMMIT even if the commit index does not move), `match[i]`, `applied[i]`.
 *
 * | packet                                    | action                                                 |
 * | ----------------------------------------- | ------------------------------------------------------ |
 * | any of term > `term`                      | flush the soft state to that term (AggFlush), go on    |
 * | any of term < `term`                      | drop                                                   |
 * | agg_probe                                 | `leader` := sender; answer agg_probe_reply (AggProbe)  |
 * | append_entries (AGG flag) from the leader | update `sentEnd`, `firstIdx`, `pending`; copy to every |
 * |                                           | other node keeping the leader as source (AggForward)   |
 * | append_reply, success, from a follower    | `match[i]`, `applied[i]` := max; if a majority matches |
 * |                                           | an index ≥ `firstIdx` above `commit`, or `pending`:    |
 * |                                           | multicast AGG_COMMIT to all nodes (AggReply, AggCommit)|
 * | anything else                             | drop                                                   |
 */
import { match } from 'ts-pattern';
import type { Addr, Core, CoreInput, CoreOutput, Micros, NodeId } from '../core.ts';
import { BUG_AGGREGATOR_COMMITS_EARLY, BUG_AGGREGATOR_OVERSTATES_APPLIED, type AggregatorConfig, parseAggregatorConfig, send, trace } from './config.ts';
import { AGGREGATOR_INDEX, decodeRaft, encodeRaft, type RaftMsg } from './wire.ts';

type Out = CoreOutput<never>;
type Msg<K extends RaftMsg['kind']> = Extract<RaftMsg, { kind: K }>;

const NONE = 0xff;

export class HovercraftAggregator implements Core<never, never> {
  private readonly n: number;
  private readonly majority: number;
  private readonly commitsEarly: boolean;
  private readonly overstatesApplied: boolean;

  // registers
  private term = 0;
  private leader = NONE;
  private commit = 0;
  private firstIdx = 0;
  private sentEnd = 0;
  private pending = false;
  private readonly match: Uint32Array;
  private readonly applied: Uint32Array;

  constructor(
    readonly node: NodeId,
    readonly addr: Addr,
    readonly config: AggregatorConfig,
    bugs: ReadonlySet<string> = new Set(),
  ) {
    this.n = config.nodes.length;
    this.majority = Math.floor(this.n / 2) + 1;
    this.match = new Uint32Array(this.n);
    this.applied = new Uint32Array(this.n);
    this.commitsEarly = bugs.has(BUG_AGGREGATOR_COMMITS_EARLY);
    this.overstatesApplied = bugs.has(BUG_AGGREGATOR_OVERSTATES_APPLIED);
  }

  handle(input: CoreInput<never>, _now: Micros): Out[] {
    return match(input)
      .with({ kind: 'start' }, () => [])
      .with({ kind: 'command' }, () => [])
      .with({ kind: 'timer' }, () => [])
      .with({ kind: 'receive' }, ({ packet }) => this.receive(packet.src, packet.data))
      .exhaustive();
  }

  /** The registers, for tests and debugging. */
  registers(): { term: number; leader: NodeId | null; commit: number; firstIdx: number; sentEnd: number; pending: boolean; match: number[]; applied: number[] } {
    return {
      term: this.term, leader: this.leader === NONE ? null : this.config.nodes[this.leader]!, commit: this.commit,
      firstIdx: this.firstIdx, sentEnd: this.sentEnd, pending: this.pending, match: [...this.match], applied: [...this.applied],
    };
  }

  private addrOf(i: number): Addr {
    return this.config.addrs[this.config.nodes[i]!]!;
  }

  private receive(src: Addr, data: Uint8Array): Out[] {
    const d = decodeRaft(data);
    if (!d.ok) return [];
    const m = d.msg;
    if (m.from >= this.n) return [];
    return match(m)
      .with({ kind: 'agg_probe' }, (p) => this.onProbe(p))
      .with({ kind: 'append_entries' }, (a) => this.onAppend(src, a, data))
      .with({ kind: 'append_reply' }, (r) => this.onReply(r))
      .with({ kind: 'request_vote' }, { kind: 'vote_reply' }, { kind: 'recovery_request' }, { kind: 'recovery_reply' }, () => [])
      .with({ kind: 'agg_probe_reply' }, { kind: 'agg_commit' }, () => [])
      .exhaustive();
  }

  /** Flushes on a higher term; false when the packet's term is stale. */
  private admit(term: number, out: Out[]): boolean {
    if (term < this.term) return false;
    if (term > this.term) {
      this.term = term;
      this.leader = NONE;
      this.commit = 0;
      this.firstIdx = 0;
      this.sentEnd = 0;
      this.pending = false;
      this.match.fill(0);
      this.applied.fill(0);
      out.push(trace({ action: 'AggFlush', term }));
    }
    return true;
  }

  private onProbe(m: Msg<'agg_probe'>): Out[] {
    const out: Out[] = [];
    if (!this.admit(m.term, out)) return out;
    if (this.leader !== NONE && this.leader !== m.from) return out;
    this.leader = m.from;
    out.push(trace({ action: 'AggProbe', from: this.config.nodes[m.from]!, term: m.term }));
    out.push(send(this.addr, this.addrOf(m.from), encodeRaft({ kind: 'agg_probe_reply', from: AGGREGATOR_INDEX, term: m.term })));
    return out;
  }

  private onAppend(src: Addr, m: Msg<'append_entries'>, data: Uint8Array): Out[] {
    const out: Out[] = [];
    if (!m.viaAggregator) return out;
    if (!this.admit(m.term, out)) return out;
    if (this.leader !== NONE && this.leader !== m.from) return out;
    this.leader = m.from;
    const count = m.entries.length;
    const end = m.prevIndex + count;
    if (end <= this.sentEnd) this.pending = true;
    if (end > this.sentEnd) this.sentEnd = end;
    this.match[m.from] = this.sentEnd;
    if (this.firstIdx === 0) {
      for (let i = 0; i < count; i++) {
        if (m.entries[i]!.term === m.term) {
          this.firstIdx = m.prevIndex + 1 + i;
          break;
        }
      }
    }
    out.push(trace({ action: 'AggForward', term: m.term, prevIndex: m.prevIndex, count, commit: m.commit }));
    for (let i = 0; i < this.n; i++) {
      if (i !== m.from) out.push(send(src, this.addrOf(i), data));
    }
    return out;
  }

  private onReply(m: Msg<'append_reply'>): Out[] {
    const out: Out[] = [];
    if (!m.success) return out;
    if (!this.admit(m.term, out)) return out;
    if (m.from === this.leader) return out;
    if (m.matchIndex > this.match[m.from]!) this.match[m.from] = m.matchIndex;
    // Buggy: the match index taken for the applied index.
    const reported = this.overstatesApplied ? Math.max(m.applied, m.matchIndex) : m.applied;
    if (reported > this.applied[m.from]!) this.applied[m.from] = reported;
    out.push(trace({
      action: 'AggReply', from: this.config.nodes[m.from]!, term: m.term, matchIndex: m.matchIndex, applied: m.applied,
    }));
    let fire = false;
    if (this.commitsEarly) {
      // Buggy: one success reply is enough.
      if (m.matchIndex > this.commit) this.commit = m.matchIndex;
      fire = true;
    } else {
      const c = this.majorityMatch();
      if (this.firstIdx > 0 && c >= this.firstIdx && c > this.commit) {
        this.commit = c;
        fire = true;
      } else if (this.pending) {
        fire = true;
      }
    }
    if (!fire) return out;
    this.pending = false;
    const applied = [...this.applied];
    out.push(trace({ action: 'AggCommit', term: this.term, commit: this.commit, applied: this.config.nodes.map((n, i) => [n, applied[i]!] as const) }));
    const data = encodeRaft({ kind: 'agg_commit', from: AGGREGATOR_INDEX, term: this.term, commit: this.commit, applied });
    for (let i = 0; i < this.n; i++) out.push(send(this.addr, this.addrOf(i), data));
    return out;
  }

  /** The highest index that a majority of `match` reaches (a fixed loop over the register array). */
  private majorityMatch(): number {
    let best = 0;
    for (let i = 0; i < this.n; i++) {
      const c = this.match[i]!;
      if (c <= best) continue;
      let count = 0;
      for (let j = 0; j < this.n; j++) if (this.match[j]! >= c) count++;
      if (count >= this.majority) best = c;
    }
    return best;
  }
}

export function createAggregator(
  config: unknown,
  env: { node: NodeId; addr: Addr; bugs: ReadonlySet<string> },
): HovercraftAggregator {
  return new HovercraftAggregator(env.node, env.addr, parseAggregatorConfig(config), env.bugs);
}
