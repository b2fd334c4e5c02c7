/**
 * The HovercRaft protocol definition (Raft, HovercRaft and HovercRaft++ on R2P2, with the
 * flow-control middlebox and the aggregator as switch programs): roles, seeded bugs, TLC models,
 * scenario generation, the run plan and node configs, property checkers and the online monitor.
 */
import type { Addr, NodeId } from '../../../impl/core.ts';
import { roles } from '../../../impl/roles.ts';
import { HOVERCRAFT_CLIENT_ROLE } from '../../../impl/hovercraft/client.ts';
import { AGGREGATOR_ROLE, NODE_ROLE } from '../../../impl/hovercraft/config.ts';
import { MIDDLEBOX_ROLE } from '../../../impl/hovercraft/middlebox.ts';
import { createHovercraftMonitor, type HovercraftRole } from '../../../machines/hovercraft/index.ts';
import type { Json, NodePlan, ProtocolDefinition, ProtocolRule, SeededBug, SpecModel, TraceMonitor } from '../../protocol.ts';
import { HOVERCRAFT_CONTRACT } from './contract.ts';
import { hovercraftProperties } from './properties.ts';
import { hovercraftLoadFigures } from './load.ts';
import {
  AGGREGATOR_NODE, AGGREGATOR_PORT, CLIENT_PORT, MIDDLEBOX_NODE, MIDDLEBOX_PORT, NODE_PORT, clientIds, hovercraftScenarios,
  hovercraftTiming, nodeIds, type HovercraftScenario,
} from './scenario.ts';

export * from './scenario.ts';

export const HOVERCRAFT_ROLE_NAMES = {
  node: NODE_ROLE, client: HOVERCRAFT_CLIENT_ROLE, middlebox: MIDDLEBOX_ROLE, aggregator: AGGREGATOR_ROLE,
} as const;

/** The seeded bugs of `impl/hovercraft/config.ts` and the checks shown (by tests) to catch each. */
export const HOVERCRAFT_SEEDED_BUGS: readonly SeededBug[] = [
  {
    name: 'commit-without-majority',
    description: 'The leader commits at the match index of any single follower, without a majority. Shows when the ' +
      'leader is cut off with a minority (5 nodes split 2 | 3): the majority elects a leader that overwrites the entry.',
    caughtBy: ['monitor', 'state-machine-safety'],
  },
  {
    name: 'replier-reassigned',
    description: 'The leader re-picks the replier by JBSQ every time it (re)sends an entry.',
    caughtBy: ['replier-fixed', 'monitor', 'state-machine-safety'],
  },
  {
    name: 'stale-read-by-non-replier',
    description: 'A follower answers a get from its local state as soon as the request arrives, before ordering.',
    caughtBy: ['one-reply', 'monitor', 'linearizable'],
  },
  {
    name: 'apply-without-body',
    description: 'A follower stores and applies an announced entry whose request body it lacks, applying an empty body.',
    caughtBy: ['state-machine-safety'],
  },
  {
    name: 'bounded-queue-ignored',
    description: 'The leader ignores the bound B when it picks repliers. Shows only with more unapplied entries than ' +
      'N·B (e.g. 8 clients on 3 nodes with B = 1).',
    caughtBy: ['bounded-queue', 'monitor'],
  },
  {
    name: 'aggregator-commits-early',
    description: 'The aggregator multicasts AGG_COMMIT on the first success reply, without a majority. The monitor sees ' +
      'it at once; the state machines diverge when the leader is cut off with a minority (5 nodes split 2 | 3).',
    caughtBy: ['monitor', 'state-machine-safety'],
  },
  {
    name: 'aggregator-overstates-applied',
    description: 'The aggregator records a follower\'s match index as its applied index, so AGG_COMMIT tells the leader ' +
      'that followers applied entries they have only stored, and JBSQ sees their queues drained too early. Caught at the ' +
      'first AGG_COMMIT that runs ahead of a follower\'s applies, long before any queue passes B.',
    caughtBy: ['monitor', 'applied-not-overstated'],
  },
  {
    name: 'double-vote',
    description: 'A node grants its vote to every candidate of its term, although it voted already (the spec variant ' +
      'DoubleVote). Two leaders of one term need two candidates at once, seldom: on sim it shows when a 5-node Raft ' +
      'group is split 2 | 3 and the small side keeps starting elections.',
    caughtBy: ['monitor', 'election-safety'],
  },
  {
    name: 'skip-log-check',
    description: 'A follower takes append_entries without checking the term of its entry at prevIndex (the spec ' +
      'variant SkipLogCheck). Shows where logs diverge: a 5-node Raft group split 2 | 3, whose cut-off leader keeps entries ' +
      'the new leader overwrites.',
    caughtBy: ['monitor', 'log-matching', 'state-machine-safety'],
  },
  {
    name: 'vote-without-log-check',
    description: 'A node grants its vote without checking that the candidate\'s log is at least as up to date as its own, ' +
      'so a node that missed committed entries (cut off with a minority) can be elected and lacks them.',
    caughtBy: ['monitor', 'leader-completeness', 'state-machine-safety'],
  },
  {
    name: 'read-executed-by-all',
    description: 'Every node executes a read-only entry when it applies it, not only the entry\'s replier.',
    caughtBy: ['monitor', 'replier-only-reads'],
  },
];

/** The rules of HovercRaft and the independent checks that hold each (docs/hovercraft.md). */
export const HOVERCRAFT_RULES: readonly ProtocolRule[] = [
  {
    name: 'election-safety',
    statement: 'At most one leader per term.',
    checks: ['spec:ElectionSafety', 'monitor:node', 'property:election-safety'],
  },
  {
    name: 'state-machine-safety',
    statement: 'No two nodes apply different entries at one index.',
    checks: ['spec:StateMachineSafety', 'property:state-machine-safety'],
  },
  {
    name: 'replier-fixed',
    statement: 'An entry\'s replier never changes once the entry is announced.',
    checks: ['spec:ReplierFixed', 'monitor:node', 'property:replier-fixed'],
  },
  {
    name: 'bounded-queue',
    statement: 'A node is picked as replier only while fewer than B entries assigned to it are unapplied.',
    checks: ['spec:BoundedQueue', 'monitor:node', 'property:bounded-queue'],
  },
  {
    name: 'middlebox-admission',
    statement: 'The middlebox holds at most threshold slots, each of a request it admitted, and an admitted request ' +
      'keeps its slot until its FEEDBACK or the slot\'s expiry frees it; the inflight count of every middlebox event ' +
      'is the number of slots held.',
    checks: ['spec:MiddleboxAdmission', 'monitor:middlebox'],
  },
  {
    name: 'at-most-one-reply',
    statement: 'A request is answered at most once, by one node for one log index, also across restarts: a restarted ' +
      'replier that applies its log again does not answer the entries it answered before.',
    checks: ['spec:AtMostOneReply', 'property:one-reply'],
  },
  {
    name: 'applied-not-overstated',
    statement: 'The leader never overstates a node\'s applied index: no applied index reported to it (append_entries ' +
      'replies, AGG_COMMIT) is above what the node applied, so an Announce\'s queue is never below the replier\'s true queue.',
    checks: [
      'spec:AppliedNotOverstated', 'spec-action:AggCommit', 'monitor:node', 'monitor:aggregator', 'property:applied-not-overstated',
    ],
  },
  {
    name: 'log-matching',
    statement: 'Two logs with an entry of the same index and term hold the same entries up to that index.',
    checks: ['spec:LogMatching', 'property:log-matching'],
  },
  {
    name: 'leader-completeness',
    statement: 'An entry committed in a term is in the log of every leader of a later term.',
    checks: ['spec:LeaderCompleteness', 'property:leader-completeness'],
  },
  {
    name: 'one-replier-per-entry',
    statement: 'A leader announces each entry (index and term) once, with one replier.',
    checks: ['spec:OneReplierPerEntry', 'monitor:node', 'property:replier-fixed'],
  },
  {
    name: 'announced-prefix',
    statement: 'Only the leader holds unannounced entries (beyond its announced index): it sends announced entries only.',
    checks: ['spec:AnnouncedPrefix', 'monitor:node', 'property:replier-fixed'],
  },
  {
    name: 'replies-from-replier',
    statement: 'A reply comes from the replier of the entry, after it applied the entry.',
    checks: ['spec:RepliesFromReplier', 'monitor:node', 'property:one-reply'],
  },
  {
    name: 'index-order',
    statement: 'A node applies only committed entries and commits only entries of its log (Figure 12.3: log ≥ announced ≥ ' +
      'commit ≥ applied).',
    checks: ['spec:IndexOrder', 'monitor:node'],
  },
  {
    name: 'replier-only-reads',
    statement: 'A read-only entry is executed by its replier only.',
    checks: ['spec-action:Apply', 'monitor:node', 'property:replier-only-reads'],
  },
];

export const HOVERCRAFT_MODELS: readonly SpecModel[] = [
  {
    module: 'specs/hovercraft/MCHovercRaft.tla',
    config: 'specs/hovercraft/MCHovercraft.cfg',
    expect: 'ok',
    description: 'HovercRaft, 3 nodes, JBSQ(1): one read-write request multicast with loss and recovery of missing ' +
      'bodies; the leader crashes and restarts once and a new leader is elected: election safety, log matching, leader ' +
      'completeness, state machine safety, replier fixed, one replier and at most one reply, bounded queue and index order hold.',
  },
  {
    module: 'specs/hovercraft/MCHovercRaft.tla',
    config: 'specs/hovercraft/MCHovercraftPP.cfg',
    expect: 'ok',
    description: 'HovercRaft++, 3 nodes, JBSQ(1), one term: append_entries fan out through the aggregator, replies fan in ' +
      'to it and it commits by AGG_COMMIT; a get and a put from two clients; the aggregator may restart and lose its soft ' +
      'state: every invariant holds.',
  },
  {
    module: 'specs/hovercraft/MCHovercRaft.tla',
    config: 'specs/hovercraft/MCHovercraftFailover.cfg',
    expect: 'ok',
    description: 'HovercRaft++ across an election: any node crashes and restarts once; the leader of term 2 either has ' +
      'its probe answered (the aggregator flushes its soft state to term 2) or runs as HovercRaft because the aggregator ' +
      'failed: every invariant holds.',
  },
  {
    module: 'specs/hovercraft/MCHovercRaft.tla',
    config: 'specs/hovercraft/MCHovercraftNack.cfg',
    expect: 'ok',
    description: 'HovercRaft with the flow-control middlebox holding one slot: a client\'s two puts, the second NACKed ' +
      'while the first one\'s FEEDBACK is on its way, or admitted once that slot expires; the network may duplicate a ' +
      'client request, so a NACKed request\'s duplicate may be admitted, ordered and answered: every invariant holds, ' +
      'the middlebox\'s admission count included.',
  },
  {
    module: 'specs/hovercraft/HovercRaftReplierReassigned.tla',
    config: 'specs/hovercraft/HovercRaftReplierReassigned.cfg',
    expect: 'violation',
    violates: 'ReplierFixed',
    description: 'Buggy leader: it picks an announced entry\'s replier again by JBSQ: ReplierFixed is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftAggNoMajority.tla',
    config: 'specs/hovercraft/HovercRaftAggNoMajority.cfg',
    expect: 'violation',
    violates: 'LeaderCompleteness',
    description: 'Buggy aggregator: it commits what the leader sent without a majority of replies; the other two nodes ' +
      'elect a leader without the committed entry: LeaderCompleteness is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftDoubleVote.tla',
    config: 'specs/hovercraft/HovercRaftDoubleVote.cfg',
    expect: 'violation',
    violates: 'ElectionSafety',
    description: 'Buggy node: it grants its vote twice in a term; two candidates of term 1 both win: ElectionSafety is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftSkipLogCheck.tla',
    config: 'specs/hovercraft/HovercRaftSkipLogCheck.cfg',
    expect: 'violation',
    violates: 'LogMatching',
    description: 'Buggy follower: it takes append_entries without checking the term at prevIndex; the leader of term 3 extends a log that differs before its entry: LogMatching is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftCommitWithoutMajority.tla',
    config: 'specs/hovercraft/HovercRaftCommitWithoutMajority.cfg',
    expect: 'violation',
    violates: 'StateMachineSafety',
    description: 'Buggy leader: it commits an entry only it holds; a new leader puts its no-op at that index and both are applied: StateMachineSafety is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftBoundIgnored.tla',
    config: 'specs/hovercraft/HovercRaftBoundIgnored.cfg',
    expect: 'violation',
    violates: 'BoundedQueue',
    description: 'Buggy leader: it picks any node as replier, whatever its queue; two unapplied entries get the same replier with B = 1: BoundedQueue is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftReplyByAll.tla',
    config: 'specs/hovercraft/HovercRaftReplyByAll.cfg',
    expect: 'violation',
    violates: 'AtMostOneReply',
    description: 'Buggy nodes: every node that applies a request answers it: AtMostOneReply is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftLeaderReplies.tla',
    config: 'specs/hovercraft/HovercRaftLeaderReplies.cfg',
    expect: 'violation',
    violates: 'RepliesFromReplier',
    description: 'Buggy leader: it answers the requests it applies instead of their repliers: RepliesFromReplier is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftReplierReannounced.tla',
    config: 'specs/hovercraft/HovercRaftReplierReannounced.cfg',
    expect: 'violation',
    violates: 'OneReplierPerEntry',
    description: 'Buggy leader: it announces an entry again with another replier: OneReplierPerEntry is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftApplyUncommitted.tla',
    config: 'specs/hovercraft/HovercRaftApplyUncommitted.cfg',
    expect: 'violation',
    violates: 'IndexOrder',
    description: 'Buggy node: it applies entries it does not know committed: IndexOrder is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftSendUnannounced.tla',
    config: 'specs/hovercraft/HovercRaftSendUnannounced.cfg',
    expect: 'violation',
    violates: 'AnnouncedPrefix',
    description: 'Buggy leader: it sends entries it has not announced, so a follower holds an entry with no replier: AnnouncedPrefix is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftAdmitAboveThreshold.tla',
    config: 'specs/hovercraft/HovercRaftAdmitAboveThreshold.cfg',
    expect: 'violation',
    violates: 'MiddleboxAdmission',
    description: 'Buggy middlebox: it admits a request while every slot is held; two requests hold the one slot: MiddleboxAdmission is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftFeedbackFreesOther.tla',
    config: 'specs/hovercraft/HovercRaftFeedbackFreesOther.cfg',
    expect: 'violation',
    violates: 'MiddleboxAdmission',
    description: 'Buggy middlebox: a FEEDBACK about a request whose slot expired frees the slot of the request that took ' +
      'it, which is still unanswered: MiddleboxAdmission is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftReplyAgainAfterRestart.tla',
    config: 'specs/hovercraft/HovercRaftReplyAgainAfterRestart.cfg',
    expect: 'violation',
    violates: 'AtMostOneReply',
    description: 'Buggy node: after a restart it answers again the entries it applies, although it answered them before ' +
      'its crash; the request gets a second reply from the same node for the same entry: AtMostOneReply is violated.',
  },
  {
    module: 'specs/hovercraft/HovercRaftAggOverstatesApplied.tla',
    config: 'specs/hovercraft/HovercRaftAggOverstatesApplied.cfg',
    expect: 'violation',
    violates: 'AppliedNotOverstated',
    description: 'Buggy aggregator: it takes a follower\'s match index for its applied index, so its registers (then ' +
      'AGG_COMMIT, then the leader) say the follower applied entries it has only stored: AppliedNotOverstated is violated.',
  },
];

/** node1..N and client1..C on hosts; the middlebox and the aggregator in the switch. */
export function hovercraftPlan(scenario: HovercraftScenario): NodePlan[] {
  return [
    ...nodeIds(scenario.topology).map((id) => ({ id, role: NODE_ROLE, placement: 'host' as const, port: NODE_PORT })),
    ...clientIds(scenario.topology).map((id) => ({ id, role: HOVERCRAFT_CLIENT_ROLE, placement: 'host' as const, port: CLIENT_PORT })),
    { id: MIDDLEBOX_NODE, role: MIDDLEBOX_ROLE, placement: 'switch', port: MIDDLEBOX_PORT },
    { id: AGGREGATOR_NODE, role: AGGREGATOR_ROLE, placement: 'switch', port: AGGREGATOR_PORT },
  ];
}

export function hovercraftConfigure(scenario: HovercraftScenario, addrs: Readonly<Record<NodeId, Addr>>): Record<NodeId, Json> {
  const need = (id: NodeId): Addr => {
    const a = addrs[id];
    if (a === undefined) throw new Error(`hovercraft: no address for node '${id}'`);
    return a;
  };
  const t = hovercraftTiming(scenario);
  const { mode, replierPolicy, bound, threshold } = scenario.topology;
  const nodes = nodeIds(scenario.topology);
  const nodeAddrs: Record<NodeId, Addr> = Object.fromEntries(nodes.map((n) => [n, need(n)]));
  const middlebox = need(MIDDLEBOX_NODE);
  const aggregator = need(AGGREGATOR_NODE);
  const out: Record<NodeId, Json> = {};
  for (const self of nodes) {
    out[self] = {
      self, nodes, addrs: nodeAddrs, mode, replierPolicy, bound, middlebox, aggregator,
      electionMinUs: t.electionMinUs, electionMaxUs: t.electionMaxUs, heartbeatUs: t.heartbeatUs, gcUs: t.gcUs,
      recoveryRetryUs: t.recoveryRetryUs, probeTimeoutUs: t.probeTimeoutUs,
    };
  }
  for (const c of clientIds(scenario.topology)) out[c] = { middlebox, timeoutUs: t.clientTimeoutUs };
  out[MIDDLEBOX_NODE] = { nodes: nodes.map((n) => nodeAddrs[n]!), threshold, slotTimeoutUs: t.slotTimeoutUs };
  out[AGGREGATOR_NODE] = { nodes, addrs: nodeAddrs };
  return out;
}

export function hovercraftRoleOf(scenario: HovercraftScenario): Record<NodeId, HovercraftRole> {
  const out: Record<NodeId, HovercraftRole> = {};
  for (const id of nodeIds(scenario.topology)) out[id] = 'node';
  for (const id of clientIds(scenario.topology)) out[id] = 'client';
  out[MIDDLEBOX_NODE] = 'middlebox';
  out[AGGREGATOR_NODE] = 'aggregator';
  return out;
}

export function hovercraftMonitor(scenario: HovercraftScenario): TraceMonitor {
  const { nodes, bound, replierPolicy, threshold, mode } = scenario.topology;
  return createHovercraftMonitor({ roles: hovercraftRoleOf(scenario), nodes, bound, replierPolicy, threshold, mode });
}

export const hovercraft: ProtocolDefinition<HovercraftScenario> = {
  name: 'hovercraft',
  roles: Object.fromEntries(Object.values(HOVERCRAFT_ROLE_NAMES).map((name) => {
    const factory = roles[name];
    if (!factory) throw new Error(`hovercraft: role '${name}' is missing from impl/roles.ts`);
    return [name, factory];
  })),
  bugs: HOVERCRAFT_SEEDED_BUGS,
  models: HOVERCRAFT_MODELS,
  rules: HOVERCRAFT_RULES,
  contract: HOVERCRAFT_CONTRACT,
  scenarios: (options) => hovercraftScenarios(options),
  plan: hovercraftPlan,
  configure: hovercraftConfigure,
  properties: hovercraftProperties,
  monitor: (scenario) => hovercraftMonitor(scenario),
  loadFigures: hovercraftLoadFigures,
  // Loaded on first use: TLC's runner is only needed when a batch is validated.
  validateTraces: async (batch) => (await import('./trace-validation.ts')).validateHovercraftTraces(batch),
};
