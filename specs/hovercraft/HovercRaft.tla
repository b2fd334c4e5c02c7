----------------------------- MODULE HovercRaft -----------------------------
(***************************************************************************)
(* Raft, HovercRaft and HovercRaft++ (Kogias, thesis ch. 12), following   *)
(* docs/hovercraft-design-notes.md.                                        *)
(*                                                                         *)
(* Roles: Raft nodes (Nodes), clients (Clients), the HovercRaft++          *)
(* aggregator (Aggregator), a switch program with soft state only, and the *)
(* flow-control middlebox (Middlebox), a switch program too, as            *)
(* impl/hovercraft/middlebox.ts: a fixed table of Threshold slots          *)
(* (mbSlots, the requests that hold one). A client sends its request to    *)
(* the middlebox, which admits it into a free slot and multicasts it to    *)
(* the nodes (the network may lose any copy), or answers NACK when every   *)
(* slot is held; the replier's FEEDBACK frees the slot, and a slot whose   *)
(* reply or FEEDBACK was lost is reclaimed (expiry) when a request needs   *)
(* one.                                                                    *)
(*                                                                         *)
(* What a NACK promises: the middlebox refuses one copy of a request and   *)
(* keeps no memory of it (in the paper it is a counter in a switch). The   *)
(* network may duplicate the client's request, and a duplicate that        *)
(* reaches the middlebox when a slot is free is admitted, ordered, applied *)
(* and answered like any request. So a NACKed operation may still take     *)
(* effect: the client takes the NACK and moves on, a later reply finds the *)
(* operation no longer pending and is dropped (as                          *)
(* impl/hovercraft/client.ts ignores it), and the linearizability history  *)
(* counts a NACKed operation as pending. No invariant says that a NACKed   *)
(* request is never ordered; MCHovercRaft's NackIsFinal, which would, is   *)
(* violated (models.test.ts).                                              *)
(*                                                                         *)
(* Every action below has the name and the parameters of a trace event of  *)
(* impl/hovercraft/actions.ts. The acting node is the first parameter      *)
(* (`node`: the event's node) of client and node actions; aggregator and   *)
(* middlebox actions have none (there is one of each). Output fields of an *)
(* event (granted, votes, success, matchIndex, missing, queue, executed,   *)
(* found, inflight) are parameters the action requires to be what the      *)
(* protocol computes, so a trace event matches exactly the step it         *)
(* reports. Values the spec does not model (op, key, value, expected,      *)
(* digest, result) are parameters that are recorded or ignored.            *)
(*                                                                         *)
(* An entry is the tuple <<term, client, rid, replier, ro>>, as in the     *)
(* traces.  A request is <<client, rid>>.  The leader appends an entry     *)
(* with replier None and fixes the replier when it announces it; only the  *)
(* leader holds unannounced entries, and it drops them (they were never    *)
(* sent) when it stops being leader.  The no-op a new leader appends is    *)
(* <<term, NoOpClient, term, leader, FALSE>>, announced at once.           *)
(*                                                                         *)
(* Network: `msgs` is the set of messages in flight.  A receipt takes any  *)
(* message of the set (reordering) and removes it, except that up to       *)
(* MaxDups receipts in a behaviour leave the message in flight, so it can  *)
(* be received again (duplication).  A message never received is lost.     *)
(* Every receipt is idempotent or monotone, so duplicates are harmless.    *)
(* A message of an older term is ignored without a step (no event) except  *)
(* by HandleRequestVote and HandleAppendEntries, which answer it with the  *)
(* receiver's term; a message of a newer term first makes the receiver     *)
(* take StepDown.                                                          *)
(*                                                                         *)
(* Crashes: a crashed node takes no steps and the messages sent to it      *)
(* meanwhile may be lost, which the network already allows, so a crash and *)
(* its restart are one step, NodeStart, which keeps the persistent state   *)
(* (term, vote, the announced log and the last index answered) and resets  *)
(* the volatile state.  The aggregator failing is it taking no more steps  *)
(* (nothing forces a step); AggRestart is an aggregator that comes back    *)
(* with empty soft state.                                                  *)
(*                                                                         *)
(* Abstractions: a request body is identified by its request (Apply's      *)
(* digest is recorded for StateMachineSafety); the key-value store is not  *)
(* modelled (a reply's result is opaque); timers are nondeterminism        *)
(* (elections, heartbeats, garbage collection, retries); a client has one  *)
(* operation outstanding at a time and never reuses a rid.                 *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, TLC

CONSTANTS
    Nodes,          \* Raft node ids
    Clients,        \* client identities (an address each)
    Aggregator,     \* the aggregator's identity
    Middlebox,      \* the flow-control middlebox's identity
    Threshold,      \* the middlebox's slots: requests admitted into the system at once
    Mode,           \* "raft", "hovercraft" or "hovercraft++"
    ReplierPolicy,  \* "jbsq" (bounded queues of depth B) or "leader" (the leader always)
    B,              \* the bound of the replier queues
    MaxDups,        \* how many receipts in a behaviour may leave their message in flight
    MaxRid,         \* model checking: a client issues rids 1..MaxRid
    ReadReqs,       \* model checking: the requests <<client, rid>> that are reads (get)
    Bugs            \* seeded spec bugs switched on: {} in the correct models, or some of
                    \* SpecBugs (each marked BUG where it acts; buggy variants TLC must reject)

ASSUME Mode \in {"raft", "hovercraft", "hovercraft++"}
ASSUME ReplierPolicy \in {"jbsq", "leader"}
ASSUME B \in Nat \ {0}
ASSUME Threshold \in Nat
SpecBugs == {"ReplierReassigned", "ReplierReannounced", "AggNoMajority", "DoubleVote",
             "SkipLogCheck", "CommitWithoutMajority", "BoundIgnored", "ReplyByAll",
             "LeaderReplies", "ApplyUncommitted", "SendUnannounced",
             "AdmitAboveThreshold", "FeedbackFreesOther", "ReplyAgainAfterRestart", "AggOverstatesApplied"}
ASSUME Bugs \subseteq SpecBugs

None == "none"                \* votedFor null; the replier of an unannounced entry
NoOpClient == "0.0.0.0:0"     \* the client of a no-op entry (the zero address)

\* (Bound variables avoid the names tvK, tvI, TvE of a generated
\* trace-validation module, which substitutes its expressions for parameters.)
Max(a, b) == IF a >= b THEN a ELSE b
Min(a, b) == IF a <= b THEN a ELSE b
MaxOf(S) == CHOOSE x \in S : \A y \in S : x >= y
Quorum(S) == 2 * Cardinality(S) > Cardinality(Nodes)

\* Entry fields.
ETerm(e) == e[1]
EClient(e) == e[2]
ERid(e) == e[3]
EReplier(e) == e[4]
ERo(e) == e[5]
IsNoOp(e) == EClient(e) = NoOpClient

LastTerm(lg) == IF Len(lg) = 0 THEN 0 ELSE ETerm(lg[Len(lg)])
TermAt(lg, i) == IF i = 0 THEN 0 ELSE ETerm(lg[i])
\* The request bodies a log holds, as <<client, rid, ro>> (no-ops have none).
BodiesOf(lg) == {<<EClient(lg[i]), ERid(lg[i]), ERo(lg[i])>> : i \in {j \in DOMAIN lg : ~IsNoOp(lg[j])}}

VARIABLES
    \* ---- node, persistent ----
    currentTerm,    \* [Nodes -> Nat]
    vote,           \* [Nodes -> Nodes \cup {None}]: votedFor
    logs,           \* [Nodes -> Seq(entry)]; beyond announcedIdx (leader only) not persistent
    answered,       \* [Nodes -> the last index the node answered]: a restarted node that applies
                    \* the log again does not answer those entries again
    \* ---- node, volatile ----
    role,           \* "follower", "candidate" or "leader"
    commitIdx,      \* commit_idx
    appliedIdx,     \* applied_idx
    learnt,         \* a commit index learnt from the leader (or the aggregator) and not yet
                    \* taken by Commit (0: none)
    verified,       \* the last index verified against the leader of the current term
    unordered,      \* the unordered set: bodies <<client, rid, ro>> held and not in the log
    missingReqs,    \* requests <<client, rid>> an append_entries ordered whose body it lacks
    toReply,        \* indices applied whose reply this node (the replier) still owes
    votesGranted,   \* candidate: nodes that granted it their vote
    nextIdx,        \* leader: [Nodes -> index of the next entry to send point-to-point]
    matchIdx,       \* leader: [Nodes -> highest index known to match (direct replies)]
    announcedIdx,   \* leader: announced_idx
    appliedKnown,   \* leader: [Nodes -> applied index the node last reported; its own: see
                    \* appliedSent]
    appliedSent,    \* leader: its applied index when it last sent append_entries
    useAgg,         \* leader: whether it sends append_entries through the aggregator
    aggSent,        \* leader: end of what it has sent through the aggregator
    \* ---- aggregator (soft state) ----
    aggTerm,        \* the term of its state
    aggLeader,      \* the leader whose append_entries it forwards (None: none yet)
    aggEnd,         \* the end of what the leader sent (the leader matches it)
    aggFirst,       \* the first index of aggTerm it saw in a forwarded append (0: none)
    aggMatch,       \* [Nodes -> match index from successful replies]
    aggApplied,     \* [Nodes -> applied index from successful replies]
    aggCommit,      \* the last commit index it multicast
    aggPending,     \* an append that announced nothing new awaits an AGG_COMMIT
    \* ---- flow-control middlebox ----
    mbSlots,        \* the requests <<client, rid>> that hold a slot
    \* ---- clients ----
    creq,           \* [Clients -> [rid, ro, st]]: the client's last operation
    \* ---- network ----
    msgs,           \* messages in flight
    dups,           \* receipts so far that left their message in flight
    \* ---- history (ghost) variables, for the invariants only ----
    leaders,        \* <<term, node>>: node became leader of term
    repliers,       \* <<index, term, replier>>: the replier fixed when the entry was announced
    committed,      \* <<index, entry, term>>: entry known committed by a node in term
    appliedHist,    \* <<index, entry, digest>>: a node applied entry at index
    appliedMax,     \* [Nodes -> the highest index the node has applied, in any incarnation]
    replies,        \* a bag: [<<client, rid, node, index>> -> the times node replied to the
                    \* request of entry index]
    mbAdmitted,     \* requests <<client, rid>> the middlebox admitted (took a slot for)
    mbExpired,      \* admitted requests whose slot expired since they were last admitted
    restarts        \* number of NodeStart steps so far

nodeVars == <<currentTerm, vote, logs, answered, role, commitIdx, appliedIdx, learnt, verified, unordered,
              missingReqs, toReply, votesGranted>>
leaderVars == <<nextIdx, matchIdx, announcedIdx, appliedKnown, appliedSent, useAgg, aggSent>>
aggVars == <<aggTerm, aggLeader, aggEnd, aggFirst, aggMatch, aggApplied, aggCommit, aggPending>>
netVars == <<msgs, dups>>
ghostVars == <<leaders, repliers, committed, appliedHist, appliedMax, replies, restarts>>
\* (mbAdmitted and mbExpired are history variables too, of the middlebox)
mbVars == <<mbSlots, mbAdmitted, mbExpired>>
vars == <<currentTerm, vote, logs, answered, role, commitIdx, appliedIdx, learnt, verified, unordered,
          missingReqs, toReply, votesGranted, nextIdx, matchIdx, announcedIdx, appliedKnown,
          appliedSent, useAgg, aggSent, aggTerm, aggLeader, aggEnd, aggFirst, aggMatch, aggApplied, aggCommit,
          aggPending, creq, msgs, dups, leaders, repliers, committed, appliedHist, appliedMax,
          replies, restarts, mbSlots, mbAdmitted, mbExpired>>

-----------------------------------------------------------------------------
(* Messages *)

\* A client request on its way to the middlebox.
MbReqMsg(c, r, ro) == [type |-> "MbReq", client |-> c, rid |-> r, ro |-> ro, dst |-> Middlebox]
\* The middlebox's NACK (an R2P2 DROP) to the client.
NackMsg(c, r) == [type |-> "Nack", client |-> c, rid |-> r, dst |-> c]
\* A replier's FEEDBACK about request <<c, r>>, to the middlebox.
FeedbackMsg(c, r) == [type |-> "Feedback", client |-> c, rid |-> r, dst |-> Middlebox]
\* A client request, one copy per node (the middlebox's multicast).
ReqMsg(c, r, ro, to) == [type |-> "Req", client |-> c, rid |-> r, ro |-> ro, dst |-> to]
ReplyMsg(c, r, from, res) ==
    [type |-> "Reply", client |-> c, rid |-> r, src |-> from, dst |-> c, result |-> res]
RVMsg(from, to, t, li, lt) ==
    [type |-> "RV", src |-> from, dst |-> to, term |-> t, lastIndex |-> li, lastTerm |-> lt]
RVRMsg(from, to, t, g) == [type |-> "RVR", src |-> from, dst |-> to, term |-> t, granted |-> g]
\* via: "direct" (leader to node) or "agg" (to the aggregator, or a copy it forwarded).
AEMsg(from, to, t, pi, pt, es, c, via) ==
    [type |-> "AE", src |-> from, dst |-> to, term |-> t, prevIndex |-> pi, prevTerm |-> pt,
     entries |-> es, commit |-> c, via |-> via]
AERMsg(from, to, t, ok, mi, ap) ==
    [type |-> "AER", src |-> from, dst |-> to, term |-> t, success |-> ok, matchIndex |-> mi,
     applied |-> ap]
RecReqMsg(from, to, c, r) == [type |-> "RecReq", src |-> from, dst |-> to, client |-> c, rid |-> r]
RecRepMsg(from, to, c, r, ro) ==
    [type |-> "RecRep", src |-> from, dst |-> to, client |-> c, rid |-> r, ro |-> ro]
ProbeMsg(from, t) == [type |-> "Probe", src |-> from, dst |-> Aggregator, term |-> t]
ProbeRepMsg(to, t) == [type |-> "ProbeRep", src |-> Aggregator, dst |-> to, term |-> t]
\* AGG_COMMIT, one copy per node: commit index and every node's applied index.
ACMsg(t, c, ap, to) ==
    [type |-> "AC", src |-> Aggregator, dst |-> to, term |-> t, commit |-> c, applied |-> ap]

\* The messages in flight after a step that leaves S: all of them.  (A hook for
\* trace validation, whose generated config overrides it to drop the messages
\* that no later event of the trace receives; model checking keeps S.)
Net(S) == S
\* Sends messages (one already in flight stays one).
Send(ms) == msgs' = Net(msgs \cup ms) /\ UNCHANGED dups
\* The messages the network may duplicate: all (a model may narrow them).
Duplicable(m) == TRUE
\* Receives m (in flight) and sends ms.  The receipt removes m, or, while the
\* duplication budget lasts, leaves it in flight to be received again.
Deliver(m, ms) ==
    /\ m \in msgs
    /\ \/ msgs' = Net((msgs \ {m}) \cup ms) /\ UNCHANGED dups
       \/ dups < MaxDups /\ Duplicable(m) /\ msgs' = Net(msgs \cup ms) /\ dups' = dups + 1
\* The messages in flight that carry a term and reach node n.
TermMsgsTo(n) ==
    {m \in msgs : m.type \in {"RV", "RVR", "AE", "AER", "ProbeRep", "AC"} /\ m.dst = n}

-----------------------------------------------------------------------------
(* Helpers *)

InLog(n, c, r) == \E i \in DOMAIN logs[n] : EClient(logs[n][i]) = c /\ ERid(logs[n][i]) = r
InUnordered(n, c, r) == \E x \in unordered[n] : x[1] = c /\ x[2] = r
\* Whether node n holds the body of request <<c, r>> (a no-op has an empty body).
HoldsBody(n, c, r) == c = NoOpClient \/ InUnordered(n, c, r) \/ InLog(n, c, r)
\* The ro flag of a body n holds.
BodyRo(n, c, r) ==
    CHOOSE ro \in BOOLEAN : <<c, r, ro>> \in unordered[n] \cup BodiesOf(logs[n])

\* The log a node keeps when it stops being leader or restarts: its announced prefix.
Kept(n) == IF role[n] = "leader" THEN SubSeq(logs[n], 1, announcedIdx[n]) ELSE logs[n]

\* The unordered set after n's log changes from lg to nlg: bodies stay held.
UnorderedAfter(n, lg, nlg) ==
    IF Mode = "raft" THEN unordered[n]
    ELSE (unordered[n] \cup BodiesOf(lg)) \ BodiesOf(nlg)

\* What node n has learnt after learning that c is committed.
Learn(n, c) == IF c > commitIdx[n] THEN Max(learnt[n], c) ELSE learnt[n]

\* The leader-only state of a node that is not leader.
ResetLeader(n) ==
    /\ nextIdx' = [nextIdx EXCEPT ![n] = [m \in Nodes |-> 1]]
    /\ matchIdx' = [matchIdx EXCEPT ![n] = [m \in Nodes |-> 0]]
    /\ announcedIdx' = [announcedIdx EXCEPT ![n] = 0]
    /\ appliedKnown' = [appliedKnown EXCEPT ![n] = [m \in Nodes |-> 0]]
    /\ appliedSent' = [appliedSent EXCEPT ![n] = 0]
    /\ useAgg' = [useAgg EXCEPT ![n] = FALSE]
    /\ aggSent' = [aggSent EXCEPT ![n] = 0]

\* The applied index of m as leader l knows it.  The leader counts its own
\* applied index as stale as the others': the one it had when it last sent
\* append_entries, taken in when a reply (or an AGG_COMMIT) comes back, as a
\* follower's applied index comes back in its reply.  So JBSQ does not favour
\* the leader, and each node answers 1/N of the requests (Table 12.1).
KnownApplied(l, m) == appliedKnown[l][m]

\* The bounded queue of m as leader l sees it: client entries announced with
\* replier m and not yet applied by m (a no-op, answered by nobody, is not
\* counted).
QueueOf(l, m) ==
    Cardinality({i \in 1..announcedIdx[l] :
                   /\ i > KnownApplied(l, m)
                   /\ EReplier(logs[l][i]) = m
                   /\ ~IsNoOp(logs[l][i])})

\* The nodes leader l may choose as the replier of its next announced entry.
Eligible(l) ==
    IF Mode = "raft" \/ ReplierPolicy = "leader" THEN {l}
    ELSE IF "BoundIgnored" \in Bugs THEN Nodes   \* BUG: any node, whatever its queue
    ELSE LET open == {m \in Nodes : QueueOf(l, m) < B}
         IN {m \in open : \A o \in open : QueueOf(l, m) <= QueueOf(l, o)}

-----------------------------------------------------------------------------
Init ==
    /\ currentTerm = [n \in Nodes |-> 0]
    /\ vote = [n \in Nodes |-> None]
    /\ logs = [n \in Nodes |-> <<>>]
    /\ answered = [n \in Nodes |-> 0]
    /\ role = [n \in Nodes |-> "follower"]
    /\ commitIdx = [n \in Nodes |-> 0]
    /\ appliedIdx = [n \in Nodes |-> 0]
    /\ learnt = [n \in Nodes |-> 0]
    /\ verified = [n \in Nodes |-> 0]
    /\ unordered = [n \in Nodes |-> {}]
    /\ missingReqs = [n \in Nodes |-> {}]
    /\ toReply = [n \in Nodes |-> {}]
    /\ votesGranted = [n \in Nodes |-> {}]
    /\ nextIdx = [n \in Nodes |-> [m \in Nodes |-> 1]]
    /\ matchIdx = [n \in Nodes |-> [m \in Nodes |-> 0]]
    /\ announcedIdx = [n \in Nodes |-> 0]
    /\ appliedKnown = [n \in Nodes |-> [m \in Nodes |-> 0]]
    /\ appliedSent = [n \in Nodes |-> 0]
    /\ useAgg = [n \in Nodes |-> FALSE]
    /\ aggSent = [n \in Nodes |-> 0]
    /\ aggTerm = 0
    /\ aggLeader = None
    /\ aggEnd = 0
    /\ aggFirst = 0
    /\ aggMatch = [n \in Nodes |-> 0]
    /\ aggApplied = [n \in Nodes |-> 0]
    /\ aggCommit = 0
    /\ aggPending = FALSE
    /\ mbSlots = {}
    /\ creq = [c \in Clients |-> [rid |-> 0, ro |-> FALSE, st |-> "idle"]]
    /\ msgs = {}
    /\ dups = 0
    /\ leaders = {}
    /\ repliers = {}
    /\ committed = {}
    /\ appliedHist = {}
    /\ appliedMax = [n \in Nodes |-> 0]
    /\ replies = [x \in {} |-> 0]
    /\ restarts = 0
    /\ mbAdmitted = {}
    /\ mbExpired = {}

-----------------------------------------------------------------------------
(* ------------------------------ CLIENT --------------------------------- *)

(* The client sends its next operation to the middlebox (MiddleboxForward  *)
(* multicasts it, or MiddleboxNack refuses it). ro iff the operation is a  *)
(* get.                                                                    *)
ClientRequest(node, rid, op, key, value, expected, ro) ==
    /\ node \in Clients
    /\ creq[node].st # "pending"
    /\ rid = creq[node].rid + 1
    /\ ro = (op = "get")
    /\ creq' = [creq EXCEPT ![node] = [rid |-> rid, ro |-> ro, st |-> "pending"]]
    /\ Send({MbReqMsg(node, rid, ro)})
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, ghostVars, mbVars>>

(* The client accepts the reply to its pending operation from `from`. A    *)
(* reply to an operation no longer pending (one NACKed or given up on,     *)
(* whose request a duplicate got ordered after all, or a duplicate reply)  *)
(* is dropped without a step (see Dead), as the implementation's client    *)
(* ignores it.                                                             *)
ClientReceiveReply(node, rid, from, result) ==
    /\ node \in Clients
    /\ creq[node].st = "pending" /\ creq[node].rid = rid
    /\ Deliver(ReplyMsg(node, rid, from, result), {})
    /\ creq' = [creq EXCEPT ![node].st = "replied"]
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, ghostVars, mbVars>>

(* The middlebox's NACK of the pending operation comes back: the client    *)
(* takes it as the operation's outcome and moves on. The operation may     *)
(* still take effect (see the header): a duplicate of its request may be   *)
(* admitted later.                                                         *)
ClientReceiveNack(node, rid) ==
    /\ node \in Clients
    /\ creq[node].st = "pending" /\ creq[node].rid = rid
    /\ Deliver(NackMsg(node, rid), {})
    /\ creq' = [creq EXCEPT ![node].st = "nacked"]
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, mbVars, ghostVars>>

(* The client gives up on its pending operation.                          *)
ClientTimeout(node, rid) ==
    /\ node \in Clients
    /\ creq[node].st = "pending" /\ creq[node].rid = rid
    /\ creq' = [creq EXCEPT ![node].st = "timedout"]
    /\ UNCHANGED <<netVars, nodeVars, leaderVars, aggVars, ghostVars, mbVars>>

-----------------------------------------------------------------------------
(* ------------------------ FLOW-CONTROL MIDDLEBOX ----------------------- *)

\* The slots held.
Held == Cardinality(mbSlots)

(* A client request reaches the middlebox and takes a free slot: it is     *)
(* multicast, a copy to each node of some subset of the nodes (the others' *)
(* copies are lost); inflight is the number of slots held after. A copy of *)
(* a request that holds a slot is multicast again and takes no second      *)
(* slot, with no event: to the nodes that is a duplicate the network made, *)
(* which Deliver already allows. (BUG "AdmitAboveThreshold": it admits a   *)
(* request while every slot is held.)                                      *)
MiddleboxForward(client, rid, inflight) ==
    /\ <<client, rid>> \notin mbSlots
    /\ Held < Threshold \/ "AdmitAboveThreshold" \in Bugs
    /\ inflight = Held + 1
    /\ \E ro \in BOOLEAN, reached \in SUBSET Nodes :
          Deliver(MbReqMsg(client, rid, ro), {ReqMsg(client, rid, ro, n) : n \in reached})
    /\ mbSlots' = mbSlots \cup {<<client, rid>>}
    /\ mbAdmitted' = mbAdmitted \cup {<<client, rid>>}
    /\ mbExpired' = mbExpired \ {<<client, rid>>}
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, creq, ghostVars>>

(* A client request reaches the middlebox while every slot is held by      *)
(* other requests: the middlebox answers NACK to the client. It keeps no   *)
(* record of the refusal, so a duplicate of the request that comes when a  *)
(* slot is free is admitted (see the header).                              *)
MiddleboxNack(client, rid, inflight) ==
    /\ <<client, rid>> \notin mbSlots
    /\ Held >= Threshold
    /\ inflight = Held
    /\ \E ro \in BOOLEAN : Deliver(MbReqMsg(client, rid, ro), {NackMsg(client, rid)})
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, mbVars, creq, ghostVars>>

(* A replier's FEEDBACK about <<client, rid>> frees the slot it holds. A   *)
(* FEEDBACK about a request that holds no slot (its slot expired, or the   *)
(* FEEDBACK is a duplicate) is ignored: the message stays, and frees the   *)
(* slot only if the request takes one again. (BUG "FeedbackFreesOther":    *)
(* such a FEEDBACK frees a slot another request holds.)                    *)
MiddleboxFeedback(client, rid, inflight) ==
    /\ \E x \in mbSlots :
          /\ \/ x = <<client, rid>>
             \/ "FeedbackFreesOther" \in Bugs /\ <<client, rid>> \notin mbSlots
          /\ mbSlots' = mbSlots \ {x}
    /\ inflight = Held - 1
    /\ Deliver(FeedbackMsg(client, rid), {})
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, mbAdmitted, mbExpired, creq, ghostVars>>

(* A request needs a slot and every slot is held: a slot held longer than  *)
(* the slot timeout (its reply or FEEDBACK was lost, or is late) is freed, *)
(* for the request to take (MiddleboxForward follows). Which slots are old *)
(* enough is timing, so any held slot may be the one.                      *)
MiddleboxExpire(client, rid, inflight) ==
    /\ <<client, rid>> \in mbSlots
    /\ Held >= Threshold
    /\ \E m \in msgs : m.type = "MbReq" /\ <<m.client, m.rid>> \notin mbSlots
    /\ inflight = Held - 1
    /\ mbSlots' = mbSlots \ {<<client, rid>>}
    /\ mbExpired' = mbExpired \cup {<<client, rid>>}
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, mbAdmitted, creq, netVars, ghostVars>>

-----------------------------------------------------------------------------
(* ---------------------------- RAFT NODE -------------------------------- *)

(* A crash and restart (or the first start): the node comes back with its  *)
(* persistent state (term, vote and announced log, which the event         *)
(* reports, and the last index it answered) and empty volatile state.      *)
NodeStart(node, term, votedFor, log) ==
    /\ node \in Nodes
    /\ term = currentTerm[node] /\ votedFor = vote[node] /\ log = Kept(node)
    /\ logs' = [logs EXCEPT ![node] = log]
    /\ role' = [role EXCEPT ![node] = "follower"]
    /\ commitIdx' = [commitIdx EXCEPT ![node] = 0]
    /\ appliedIdx' = [appliedIdx EXCEPT ![node] = 0]
    /\ learnt' = [learnt EXCEPT ![node] = 0]
    /\ verified' = [verified EXCEPT ![node] = 0]
    /\ unordered' = [unordered EXCEPT ![node] = {}]
    /\ missingReqs' = [missingReqs EXCEPT ![node] = {}]
    /\ toReply' = [toReply EXCEPT ![node] = {}]
    /\ votesGranted' = [votesGranted EXCEPT ![node] = {}]
    /\ ResetLeader(node)
    /\ restarts' = restarts + 1
    /\ UNCHANGED <<currentTerm, vote, aggVars, creq, netVars, leaders, repliers, committed,
                   appliedHist, appliedMax, replies, mbVars, answered>>

(* A follower (or candidate) takes its copy of a multicast request into   *)
(* its unordered set (hovercraft modes; in raft mode followers ignore it). *)
(* A copy of a request whose body it holds is ignored without a step.      *)
FollowerBuffer(node, client, rid, ro) ==
    /\ Mode # "raft"
    /\ role[node] # "leader"
    /\ ~HoldsBody(node, client, rid)
    /\ Deliver(ReqMsg(client, rid, ro, node), {})
    /\ unordered' = [unordered EXCEPT ![node] = @ \cup {<<client, rid, ro>>}]
    /\ missingReqs' = [missingReqs EXCEPT ![node] = @ \ {<<client, rid>>}]
    /\ UNCHANGED <<currentTerm, vote, logs, role, commitIdx, appliedIdx, learnt, verified,
                   toReply, votesGranted, leaderVars, aggVars, creq, ghostVars, mbVars, answered>>

(* An unordered request lingered past the garbage-collection timeout.     *)
FollowerGc(node, client, rid) ==
    /\ node \in Nodes
    /\ \E ro \in BOOLEAN :
          /\ <<client, rid, ro>> \in unordered[node]
          /\ unordered' = [unordered EXCEPT ![node] = @ \ {<<client, rid, ro>>}]
    /\ UNCHANGED <<currentTerm, vote, logs, role, commitIdx, appliedIdx, learnt, verified,
                   missingReqs, toReply, votesGranted, leaderVars, aggVars, creq, netVars,
                   ghostVars, mbVars, answered>>

(* The leader appends a request it received (its copy of the multicast, or *)
(* the body in its unordered set) and does not order it yet: replier None. *)
LeaderAppend(node, term, index, client, rid, ro) ==
    /\ role[node] = "leader"
    /\ term = currentTerm[node]
    /\ index = Len(logs[node]) + 1
    /\ ~InLog(node, client, rid)
    /\ \/ <<client, rid, ro>> \in unordered[node] /\ UNCHANGED netVars
       \/ Deliver(ReqMsg(client, rid, ro, node), {})
    /\ logs' = [logs EXCEPT ![node] = Append(@, <<term, client, rid, None, ro>>)]
    /\ unordered' = [unordered EXCEPT ![node] = @ \ {<<client, rid, ro>>}]
    /\ UNCHANGED <<currentTerm, vote, role, commitIdx, appliedIdx, learnt, verified, missingReqs,
                   toReply, votesGranted, leaderVars, aggVars, creq, ghostVars, mbVars, answered>>

(* Election timeout: the node becomes candidate of the next term and votes *)
(* for itself.                                                             *)
BecomeCandidate(node, term) ==
    /\ node \in Nodes
    /\ role[node] \in {"follower", "candidate"}
    /\ term = currentTerm[node] + 1
    /\ currentTerm' = [currentTerm EXCEPT ![node] = term]
    /\ vote' = [vote EXCEPT ![node] = node]
    /\ role' = [role EXCEPT ![node] = "candidate"]
    /\ votesGranted' = [votesGranted EXCEPT ![node] = {node}]
    /\ verified' = [verified EXCEPT ![node] = 0]
    /\ UNCHANGED <<logs, commitIdx, appliedIdx, learnt, unordered, missingReqs, toReply,
                   leaderVars, aggVars, creq, netVars, ghostVars, mbVars, answered>>

SendRequestVote(node, to, term, lastIndex, lastTerm) ==
    /\ role[node] = "candidate"
    /\ to \in Nodes \ {node}
    /\ term = currentTerm[node]
    /\ lastIndex = Len(logs[node]) /\ lastTerm = LastTerm(logs[node])
    /\ Send({RVMsg(node, to, term, lastIndex, lastTerm)})
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, creq, ghostVars, mbVars>>

\* Whether node n grants its vote to a request of its current term.
LogUpToDate(n, lastIndex, lastTerm) ==
    \/ lastTerm > LastTerm(logs[n])
    \/ lastTerm = LastTerm(logs[n]) /\ lastIndex >= Len(logs[n])
Grant(n, from, term, lastIndex, lastTerm) ==
    /\ term = currentTerm[n]
    /\ vote[n] \in {None, from} \/ "DoubleVote" \in Bugs   \* BUG: votes again in its term
    /\ LogUpToDate(n, lastIndex, lastTerm)

(* A node answers a vote request of its term or an older one (a newer     *)
(* term makes it StepDown first).                                          *)
HandleRequestVote(node, from, term, lastIndex, lastTerm, granted) ==
    /\ node \in Nodes
    /\ term <= currentTerm[node]
    /\ granted = Grant(node, from, term, lastIndex, lastTerm)
    /\ Deliver(RVMsg(from, node, term, lastIndex, lastTerm),
               {RVRMsg(node, from, currentTerm[node], granted)})
    /\ vote' = IF granted THEN [vote EXCEPT ![node] = from] ELSE vote
    /\ UNCHANGED <<currentTerm, logs, role, commitIdx, appliedIdx, learnt, verified, unordered,
                   missingReqs, toReply, votesGranted, leaderVars, aggVars, creq, ghostVars, mbVars, answered>>

(* A candidate counts a vote reply of its term; votes is its tally after.  *)
HandleVoteReply(node, from, term, granted, votes) ==
    /\ role[node] = "candidate"
    /\ term = currentTerm[node]
    /\ Deliver(RVRMsg(from, node, term, granted), {})
    /\ LET tally == IF granted THEN votesGranted[node] \cup {from} ELSE votesGranted[node]
       IN /\ votes = Cardinality(tally)
          /\ votesGranted' = [votesGranted EXCEPT ![node] = tally]
    /\ UNCHANGED <<currentTerm, vote, logs, role, commitIdx, appliedIdx, learnt, verified,
                   unordered, missingReqs, toReply, leaderVars, aggVars, creq, ghostVars, mbVars, answered>>

(* A candidate with a majority becomes leader.  It appends the no-op of    *)
(* its term (replier: itself), so entries of earlier terms commit, and in  *)
(* hovercraft++ mode probes the aggregator.                                *)
BecomeLeader(node, term) ==
    /\ role[node] = "candidate"
    /\ term = currentTerm[node]
    /\ Quorum(votesGranted[node])
    /\ LET last == Len(logs[node]) IN
       /\ logs' = [logs EXCEPT ![node] = Append(@, <<term, NoOpClient, term, node, FALSE>>)]
       /\ announcedIdx' = [announcedIdx EXCEPT ![node] = last + 1]
       /\ nextIdx' = [nextIdx EXCEPT ![node] = [m \in Nodes |-> last + 1]]
       /\ aggSent' = [aggSent EXCEPT ![node] = last]
       /\ repliers' = repliers \cup {<<last + 1, term, node>>}
    /\ role' = [role EXCEPT ![node] = "leader"]
    /\ votesGranted' = [votesGranted EXCEPT ![node] = {}]
    /\ matchIdx' = [matchIdx EXCEPT ![node] = [m \in Nodes |-> 0]]
    /\ appliedKnown' = [appliedKnown EXCEPT ![node] = [m \in Nodes |-> IF m = node THEN appliedIdx[node] ELSE 0]]
    /\ appliedSent' = [appliedSent EXCEPT ![node] = appliedIdx[node]]
    /\ useAgg' = [useAgg EXCEPT ![node] = FALSE]
    /\ leaders' = leaders \cup {<<term, node>>}
    /\ IF Mode = "hovercraft++" THEN Send({ProbeMsg(node, term)}) ELSE UNCHANGED netVars
    /\ UNCHANGED <<currentTerm, vote, commitIdx, appliedIdx, learnt, verified, unordered,
                   missingReqs, toReply, aggVars, creq, committed, appliedHist, appliedMax,
                   replies, restarts, mbVars, answered>>

(* The node has a message of a newer term: it adopts the term and becomes  *)
(* a follower (a leader drops its unannounced entries, keeping the         *)
(* bodies).  The message stays in flight, to be handled in the new term.   *)
StepDown(node, term) ==
    /\ node \in Nodes
    /\ term > currentTerm[node]
    /\ \E m \in TermMsgsTo(node) : m.term = term
    /\ currentTerm' = [currentTerm EXCEPT ![node] = term]
    /\ vote' = [vote EXCEPT ![node] = None]
    /\ role' = [role EXCEPT ![node] = "follower"]
    /\ logs' = [logs EXCEPT ![node] = Kept(node)]
    /\ unordered' = [unordered EXCEPT ![node] = UnorderedAfter(node, logs[node], Kept(node))]
    /\ votesGranted' = [votesGranted EXCEPT ![node] = {}]
    /\ verified' = [verified EXCEPT ![node] = 0]
    /\ ResetLeader(node)
    /\ UNCHANGED <<commitIdx, appliedIdx, learnt, missingReqs, toReply, aggVars, creq, netVars,
                   ghostVars, mbVars, answered>>

(* The leader fixes the replier of its next entry (announced_idx moves to  *)
(* index): an eligible node (JBSQ: a shortest queue below B); queue is its *)
(* queue after.  No eligible node: the leader waits.                       *)
Announce(node, term, index, replier, queue) ==
    /\ role[node] = "leader"
    /\ term = currentTerm[node]
    /\ index = announcedIdx[node] + 1
    /\ index <= Len(logs[node])
    /\ replier \in Eligible(node)
    /\ queue = QueueOf(node, replier) + 1
    /\ logs' = [logs EXCEPT ![node][index][4] = replier]
    /\ announcedIdx' = [announcedIdx EXCEPT ![node] = index]
    /\ repliers' = repliers \cup {<<index, term, replier>>}
    /\ UNCHANGED <<currentTerm, vote, role, commitIdx, appliedIdx, learnt, verified, unordered,
                   missingReqs, toReply, votesGranted, nextIdx, matchIdx, appliedKnown, appliedSent,
                   useAgg, aggSent, aggVars, creq, netVars, leaders, committed, appliedHist, appliedMax,
                   replies, restarts, mbVars, answered>>

(* BUG "ReplierReassigned": the leader picks the replier of an announced    *)
(* client entry again, by JBSQ, as it would when it resends the entry.     *)
(* BUG "ReplierReannounced": the same, as a second announcement of the     *)
(* entry (recorded as one).                                                *)
RepickReplier(node, index, replier) ==
    /\ Bugs \cap {"ReplierReassigned", "ReplierReannounced"} # {}
    /\ role[node] = "leader"
    /\ index \in 1..announcedIdx[node]
    /\ ~IsNoOp(logs[node][index])
    /\ replier \in Eligible(node) \ {EReplier(logs[node][index])}
    /\ logs' = [logs EXCEPT ![node][index][4] = replier]
    /\ repliers' = IF "ReplierReannounced" \in Bugs
                   THEN repliers \cup {<<index, ETerm(logs[node][index]), replier>>}
                   ELSE repliers
    /\ UNCHANGED <<currentTerm, vote, role, commitIdx, appliedIdx, learnt, verified, unordered,
                   missingReqs, toReply, votesGranted, leaderVars, aggVars, creq, netVars, leaders,
                   committed, appliedHist, appliedMax, replies, restarts, mbVars, answered>>

\* The end of what leader n may send: its announced entries.  (BUG
\* "SendUnannounced": its whole log.)
SendEnd(n) == IF "SendUnannounced" \in Bugs THEN Len(logs[n]) ELSE announcedIdx[n]

(* The leader sends append_entries with announced entries only, to a node  *)
(* (point-to-point) or, once it uses the aggregator, to the aggregator.    *)
(* Any prevIndex up to announced_idx (Raft's safety does not depend on     *)
(* nextIndex); commit is the leader's commit index.                        *)
SendAppendEntries(node, to, term, prevIndex, prevTerm, entries, commit) ==
    /\ role[node] = "leader"
    /\ term = currentTerm[node]
    /\ to \in (Nodes \ {node}) \cup {Aggregator}
    /\ to = Aggregator => useAgg[node]
    /\ prevIndex \in 0..announcedIdx[node]
    /\ prevTerm = TermAt(logs[node], prevIndex)
    /\ prevIndex + Len(entries) <= SendEnd(node)
    /\ entries = SubSeq(logs[node], prevIndex + 1, prevIndex + Len(entries))
    /\ commit = commitIdx[node]
    /\ Send({AEMsg(node, to, term, prevIndex, prevTerm, entries, commit,
                   IF to = Aggregator THEN "agg" ELSE "direct")})
    /\ aggSent' = IF to = Aggregator
                  THEN [aggSent EXCEPT ![node] = Max(@, prevIndex + Len(entries))]
                  ELSE aggSent
    \* (what goes through the aggregator goes to every node: the next index to
    \* send point-to-point moves past it)
    /\ nextIdx' = IF to = Aggregator
                  THEN [nextIdx EXCEPT ![node] = [t \in Nodes |-> Max(@[t], prevIndex + Len(entries) + 1)]]
                  ELSE nextIdx
    /\ appliedSent' = [appliedSent EXCEPT ![node] = appliedIdx[node]]
    /\ UNCHANGED <<nodeVars, matchIdx, announcedIdx, appliedKnown, useAgg, aggVars,
                   creq, ghostVars, mbVars>>

\* Node n can store entry e only when it holds the request body (raft mode:
\* the body travels in the entry).
CanStore(n, e) == Mode = "raft" \/ HoldsBody(n, EClient(e), ERid(e))
\* How many leading entries of es node n can store.
StoreCount(n, es) ==
    IF \A j \in 1..Len(es) : CanStore(n, es[j]) THEN Len(es)
    ELSE (CHOOSE j \in 1..Len(es) : ~CanStore(n, es[j]) /\ \A i \in 1..(j - 1) : CanStore(n, es[i])) - 1
\* The requests of es beyond the first k whose bodies n lacks.
MissingOf(n, es, k) ==
    {<<EClient(es[j]), ERid(es[j])>> : j \in {i \in (k + 1)..Len(es) : ~CanStore(n, es[i])}}
\* lg after storing es from prev + 1: a conflicting suffix (same index,
\* different term) is cut off; matching entries stay as they are.
Merge(lg, prev, es) ==
    LET conflicts == {j \in 1..Len(es) : prev + j <= Len(lg) /\ ETerm(lg[prev + j]) # ETerm(es[j])}
    IN IF conflicts = {}
       THEN IF prev + Len(es) > Len(lg) THEN SubSeq(lg, 1, prev) \o es ELSE lg
       ELSE LET c == CHOOSE j \in conflicts : \A i \in conflicts : j <= i
            IN SubSeq(lg, 1, prev + c - 1) \o SubSeq(es, c, Len(es))
LogOk(n, prevIndex, prevTerm) ==
    \/ prevIndex = 0
    \/ /\ prevIndex <= Len(logs[n])
       /\ TermAt(logs[n], prevIndex) = prevTerm \/ "SkipLogCheck" \in Bugs   \* BUG: ignores prevTerm

(* A node processes append_entries (straight from the leader, or a copy    *)
(* the aggregator forwarded).                                              *)
(*  - Older term: it answers failure with its term, to the leader.         *)
(*  - Current term, no match at prevIndex: failure, to the leader.         *)
(*  - Otherwise success: it stores the entries whose bodies it holds, up   *)
(*    to the first it lacks (matchIndex: the last index stored), cutting a *)
(*    conflicting suffix; missing: the bodies it lacks, which it will ask  *)
(*    for; it learns the commit index up to what it has verified in this   *)
(*    term.  A success goes to the aggregator if the append came through   *)
(*    it.  A candidate of the term becomes a follower.                     *)
HandleAppendEntries(node, from, term, prevIndex, prevTerm, entries, commit, success, matchIndex,
                    missing) ==
    /\ node \in Nodes
    /\ term <= currentTerm[node]
    /\ role[node] # "leader" \/ term < currentTerm[node]
    /\ \E via \in {"direct", "agg"} :
          LET m == AEMsg(from, node, term, prevIndex, prevTerm, entries, commit, via) IN
          IF term < currentTerm[node] \/ ~LogOk(node, prevIndex, prevTerm)
          THEN /\ success = FALSE /\ matchIndex = 0 /\ missing = {}
               /\ Deliver(m, {AERMsg(node, from, currentTerm[node], FALSE, 0, appliedIdx[node])})
               /\ role' = IF term = currentTerm[node] THEN [role EXCEPT ![node] = "follower"] ELSE role
               /\ UNCHANGED <<logs, learnt, verified, unordered, missingReqs>>
          ELSE LET k == StoreCount(node, entries)
                   nlog == Merge(logs[node], prevIndex, SubSeq(entries, 1, k))
                   \* Every index up to ver matches the log of this term's leader, so
                   \* the commit index is learnt up to ver, not only up to this append's
                   \* end: a delayed append with a shorter prefix still lets a node
                   \* commit what a later one verified (as the implementation does).
                   ver == Max(verified[node], prevIndex + k)
                   lrn == Learn(node, Min(commit, ver))
                   \* The reply goes out once the node has committed and applied what
                   \* this append lets it (the Commit and Apply steps that follow), and
                   \* carries the applied index it then has.
                   ap == Max(Max(appliedIdx[node], commitIdx[node]), Min(lrn, Len(nlog)))
               IN /\ success = TRUE
                  /\ matchIndex = prevIndex + k
                  /\ missing = MissingOf(node, entries, k)
                  /\ Deliver(m, {AERMsg(node, IF via = "agg" THEN Aggregator ELSE from,
                                        term, TRUE, prevIndex + k, ap)})
                  /\ logs' = [logs EXCEPT ![node] = nlog]
                  /\ unordered' = [unordered EXCEPT ![node] = UnorderedAfter(node, logs[node], nlog)]
                  /\ missingReqs' = [missingReqs EXCEPT ![node] = missing]
                  /\ verified' = [verified EXCEPT ![node] = ver]
                  /\ learnt' = [learnt EXCEPT ![node] = lrn]
                  /\ role' = [role EXCEPT ![node] = "follower"]
    /\ UNCHANGED <<currentTerm, vote, commitIdx, appliedIdx, toReply, votesGranted, leaderVars,
                   aggVars, creq, ghostVars, mbVars, answered>>

(* The leader processes an append_entries reply of its term sent to it    *)
(* directly (successes through the aggregator go to the aggregator).       *)
HandleAppendEntriesReply(node, from, term, success, matchIndex, applied) ==
    /\ role[node] = "leader"
    /\ term = currentTerm[node]
    /\ Deliver(AERMsg(from, node, term, success, matchIndex, applied), {})
    /\ IF success
       THEN LET mi == Max(matchIdx[node][from], matchIndex) IN
            /\ matchIdx' = [matchIdx EXCEPT ![node][from] = mi]
            /\ nextIdx' = [nextIdx EXCEPT ![node][from] = mi + 1]
       ELSE /\ nextIdx' = [nextIdx EXCEPT ![node][from] = Max(matchIdx[node][from] + 1, @ - 1)]
            /\ UNCHANGED matchIdx
    /\ appliedKnown' = [appliedKnown EXCEPT ![node][from] = Max(@, applied),
                                             ![node][node] = Max(@, appliedSent[node])]
    /\ UNCHANGED <<nodeVars, announcedIdx, appliedSent, useAgg, aggSent, aggVars, creq, ghostVars, mbVars>>

(* Recovery: a node asks `to` (the leader, then other peers in turn) for  *)
(* the body of a request an append_entries ordered that it lacks.          *)
SendRecoveryRequest(node, to, client, rid) ==
    /\ Mode # "raft"
    /\ to \in Nodes \ {node}
    /\ <<client, rid>> \in missingReqs[node]
    /\ Send({RecReqMsg(node, to, client, rid)})
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, creq, ghostVars, mbVars>>

(* A node answers a recovery request: found iff it holds the body, which   *)
(* it then sends back.                                                     *)
HandleRecoveryRequest(node, from, client, rid, found) ==
    /\ node \in Nodes
    /\ found = HoldsBody(node, client, rid)
    /\ Deliver(RecReqMsg(from, node, client, rid),
               IF found THEN {RecRepMsg(node, from, client, rid, BodyRo(node, client, rid))} ELSE {})
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, creq, ghostVars, mbVars>>

(* A recovered body arrives: it goes into the unordered set (a body it     *)
(* holds by now is ignored without a step).                                *)
HandleRecoveryReply(node, from, client, rid) ==
    /\ node \in Nodes
    /\ ~HoldsBody(node, client, rid)
    /\ \E ro \in BOOLEAN :
          /\ Deliver(RecRepMsg(from, node, client, rid, ro), {})
          /\ unordered' = [unordered EXCEPT ![node] = @ \cup {<<client, rid, ro>>}]
    /\ missingReqs' = [missingReqs EXCEPT ![node] = @ \ {<<client, rid>>}]
    /\ UNCHANGED <<currentTerm, vote, logs, role, commitIdx, appliedIdx, learnt, verified,
                   toReply, votesGranted, leaderVars, aggVars, creq, ghostVars, mbVars, answered>>

\* Whether leader n may commit index by counting: an entry of its current
\* term that a majority (itself: its announced prefix) matches.
LeaderMayCommit(n, index) ==
    /\ role[n] = "leader"
    /\ index <= announcedIdx[n]
    /\ ETerm(logs[n][index]) = currentTerm[n]
    /\ LET s == {n} \cup {m \in Nodes : matchIdx[n][m] >= index}
       IN Quorum(s) \/ "CommitWithoutMajority" \in Bugs   \* BUG: itself is enough

(* The node's commit index advances to index: the leader by counting (or   *)
(* from AGG_COMMIT), a follower up to what it learnt.                      *)
Commit(node, term, index) ==
    /\ node \in Nodes
    /\ term = currentTerm[node]
    /\ index > commitIdx[node]
    /\ index <= Len(logs[node])
    /\ index <= learnt[node] \/ LeaderMayCommit(node, index)
    /\ commitIdx' = [commitIdx EXCEPT ![node] = index]
    /\ learnt' = [learnt EXCEPT ![node] = IF @ <= index THEN 0 ELSE @]
    \* (an entry is recorded with the first term it is known committed in)
    /\ committed' = committed \cup {<<i, logs[node][i], term>> :
                                      i \in {j \in (commitIdx[node] + 1)..index :
                                               ~\E c \in committed : c[1] = j /\ c[2] = logs[node][j]}}
    /\ UNCHANGED <<currentTerm, vote, logs, role, appliedIdx, verified, unordered,
                   missingReqs, toReply, votesGranted, leaderVars, aggVars, creq, netVars, leaders,
                   repliers, appliedHist, appliedMax, replies, restarts, mbVars, answered>>

\* The last index node n may apply: its commit index.  (BUG
\* "ApplyUncommitted": the end of its log.)
AppliableEnd(n) == IF "ApplyUncommitted" \in Bugs THEN Len(logs[n]) ELSE commitIdx[n]

(* The node applies its next committed entry.  A read-only entry is        *)
(* executed only by its replier; the replier then owes the client a reply. *)
(* digest is the body's digest (recorded: equal at equal indices).         *)
Apply(node, index, client, rid, replier, ro, executed, digest) ==
    /\ node \in Nodes
    /\ index = appliedIdx[node] + 1
    /\ index <= AppliableEnd(node)
    /\ LET e == logs[node][index] IN
       /\ client = EClient(e) /\ rid = ERid(e) /\ replier = EReplier(e) /\ ro = ERo(e)
       /\ executed = (~ro \/ replier = node)
       /\ appliedHist' = appliedHist \cup {<<index, e, digest>>}
    /\ appliedIdx' = [appliedIdx EXCEPT ![node] = index]
    /\ appliedMax' = [appliedMax EXCEPT ![node] = Max(@, index)]
    \* (BUG "ReplyByAll": every node answers; BUG "LeaderReplies": the leader
    \* answers instead of the replier)
    \* The replier owes a reply unless it answered this entry before (in an earlier
    \* incarnation: answered persists).  (BUG "ReplyAgainAfterRestart": a restarted
    \* node answers the entries it applies again.)
    /\ LET answers == CASE "ReplyByAll" \in Bugs -> TRUE
                        [] "LeaderReplies" \in Bugs -> role[node] = "leader"
                        [] OTHER -> replier = node
           fresh == index > answered[node] \/ "ReplyAgainAfterRestart" \in Bugs
       IN toReply' = IF answers /\ fresh /\ client # NoOpClient
                     THEN [toReply EXCEPT ![node] = @ \cup {index}] ELSE toReply
    /\ UNCHANGED <<currentTerm, vote, logs, role, commitIdx, learnt, verified, unordered,
                   missingReqs, votesGranted, leaderVars, aggVars, creq, netVars, leaders,
                   repliers, committed, replies, restarts, mbVars, answered>>

(* The replier answers the client of an entry it applied, records          *)
(* (persistently) that it answered up to this index, and sends FEEDBACK to *)
(* the middlebox.                                                          *)
Reply(node, index, client, rid, result) ==
    /\ node \in Nodes
    /\ index \in toReply[node]
    /\ client = EClient(logs[node][index]) /\ rid = ERid(logs[node][index])
    /\ toReply' = [toReply EXCEPT ![node] = @ \ {index}]
    /\ answered' = [answered EXCEPT ![node] = Max(@, index)]
    /\ LET r == <<client, rid, node, index>> IN
       replies' = IF r \in DOMAIN replies THEN [replies EXCEPT ![r] = @ + 1]
                  ELSE replies @@ (r :> 1)
    /\ Send({ReplyMsg(client, rid, node, result), FeedbackMsg(client, rid)})
    /\ UNCHANGED <<currentTerm, vote, logs, role, commitIdx, appliedIdx, learnt, verified,
                   unordered, missingReqs, votesGranted, leaderVars, aggVars, creq, leaders,
                   repliers, committed, appliedHist, appliedMax, restarts, mbVars>>

(* A hovercraft++ leader's probe came back: it sends append_entries        *)
(* through the aggregator from now on.                                     *)
LeaderUseAggregator(node, term) ==
    /\ Mode = "hovercraft++"
    /\ role[node] = "leader"
    /\ term = currentTerm[node]
    /\ ~useAgg[node]
    /\ Deliver(ProbeRepMsg(node, term), {})
    /\ useAgg' = [useAgg EXCEPT ![node] = TRUE]
    /\ UNCHANGED <<nodeVars, nextIdx, matchIdx, announcedIdx, appliedKnown, appliedSent, aggSent,
                   aggVars, creq, ghostVars, mbVars>>

(* A node takes an AGG_COMMIT of its current term.  The leader trusts it   *)
(* (the aggregator is part of the leader) and takes the applied indices;   *)
(* a follower learns the commit index only up to what it has verified      *)
(* against this leader in this term.                                       *)
HandleAggCommit(node, term, commit, applied) ==
    /\ node \in Nodes
    /\ term = currentTerm[node]
    /\ \E m \in msgs :
          /\ m.type = "AC" /\ m.dst = node /\ m.term = term /\ m.commit = commit
          /\ m.applied = applied
          /\ Deliver(m, {})
          /\ IF role[node] = "leader"
             THEN /\ learnt' = [learnt EXCEPT ![node] = Learn(node, commit)]
                  /\ appliedKnown' = [appliedKnown EXCEPT ![node] =
                                        [x \in Nodes |-> Max(@[x], IF x = node THEN appliedSent[node]
                                                                  ELSE m.applied[x])]]
             ELSE /\ learnt' = [learnt EXCEPT ![node] = Learn(node, Min(commit, verified[node]))]
                  /\ UNCHANGED appliedKnown
    /\ UNCHANGED <<currentTerm, vote, logs, role, commitIdx, appliedIdx, verified, unordered,
                   missingReqs, toReply, votesGranted, nextIdx, matchIdx, announcedIdx, appliedSent,
                   useAgg, aggSent, aggVars, creq, ghostVars, mbVars, answered>>

-----------------------------------------------------------------------------
(* --------------------------- AGGREGATOR -------------------------------- *)

AggFresh(term) ==
    /\ aggTerm' = term
    /\ aggLeader' = None
    /\ aggEnd' = 0
    /\ aggFirst' = 0
    /\ aggMatch' = [n \in Nodes |-> 0]
    /\ aggApplied' = [n \in Nodes |-> 0]
    /\ aggCommit' = 0
    /\ aggPending' = FALSE

(* A message of a newer term reaches the aggregator: its state is flushed  *)
(* (the message stays in flight, to be handled in the new term).           *)
AggFlush(term) ==
    /\ term > aggTerm
    /\ \E m \in msgs : m.type \in {"Probe", "AE", "AER"} /\ m.dst = Aggregator /\ m.term = term
    /\ AggFresh(term)
    /\ UNCHANGED <<nodeVars, leaderVars, creq, netVars, ghostVars, mbVars>>

(* The aggregator (a switch) restarts with empty soft state.               *)
AggRestart ==
    /\ AggFresh(0)
    /\ UNCHANGED <<nodeVars, leaderVars, creq, netVars, ghostVars, mbVars>>

(* A new leader's probe: the aggregator answers that it is up.            *)
AggProbe(from, term) ==
    /\ term = aggTerm
    /\ Deliver(ProbeMsg(from, term), {ProbeRepMsg(from, term)})
    /\ UNCHANGED <<nodeVars, leaderVars, aggVars, creq, ghostVars, mbVars>>

\* The first index of term t among entries es placed from prev + 1 (0: none).
FirstOfTerm(es, prev, t) ==
    LET js == {j \in 1..Len(es) : ETerm(es[j]) = t}
    IN IF js = {} THEN 0 ELSE prev + (CHOOSE j \in js : \A i \in js : j <= i)

(* The aggregator copies the leader's append_entries to every other node.  *)
(* It records the end of what the leader sent (the leader matches it), the *)
(* first index of the current term it has seen, and whether the append      *)
(* announced nothing new (then the next reply triggers an AGG_COMMIT of    *)
(* the unchanged index).                                                   *)
AggForward(term, prevIndex, count, commit) ==
    /\ term = aggTerm
    /\ \E m \in msgs :
          /\ m.type = "AE" /\ m.dst = Aggregator /\ m.term = term /\ m.prevIndex = prevIndex
          /\ Len(m.entries) = count /\ m.commit = commit
          /\ aggLeader \in {None, m.src}
          /\ Deliver(m, {AEMsg(m.src, n, term, prevIndex, m.prevTerm, m.entries, commit, "agg") :
                           n \in Nodes \ {m.src}})
          /\ aggLeader' = m.src
          /\ aggEnd' = Max(aggEnd, prevIndex + count)
          /\ aggFirst' = IF aggFirst = 0 THEN FirstOfTerm(m.entries, prevIndex, term) ELSE aggFirst
          /\ aggPending' = (aggPending \/ prevIndex + count <= aggEnd)
    /\ UNCHANGED <<nodeVars, leaderVars, aggTerm, aggMatch, aggApplied, aggCommit, creq, ghostVars, mbVars>>

(* A follower's successful reply of the current term reaches the           *)
(* aggregator: it records the node's match and applied indices.            *)
AggReply(from, term, matchIndex, applied) ==
    /\ term = aggTerm
    /\ Deliver(AERMsg(from, Aggregator, term, TRUE, matchIndex, applied), {})
    /\ aggMatch' = [aggMatch EXCEPT ![from] = Max(@, matchIndex)]
    \* (BUG "AggOverstatesApplied": it takes the match index for the applied index)
    /\ aggApplied' = [aggApplied EXCEPT ![from] =
                        Max(@, IF "AggOverstatesApplied" \in Bugs THEN Max(applied, matchIndex) ELSE applied)]
    /\ UNCHANGED <<nodeVars, leaderVars, aggTerm, aggLeader, aggEnd, aggFirst, aggCommit,
                   aggPending, creq, ghostVars, mbVars>>

\* What a node matches as the aggregator knows it (the leader: what it sent).
AggMatchOf(n) == IF n = aggLeader THEN aggEnd ELSE aggMatch[n]
\* Whether the nodes S that match an index are enough to commit it: a majority.
\* (BUG "AggNoMajority": any one node, so the leader's own match is enough.)
AggEnough(S) == IF "AggNoMajority" \in Bugs THEN S # {} ELSE Quorum(S)
\* The highest index a majority matches, at or above the first index of the
\* current term (0: none).
AggQuorumIndex ==
    MaxOf({0} \cup {i \in 1..aggEnd :
                      /\ aggFirst > 0 /\ i >= aggFirst
                      /\ AggEnough({n \in Nodes : AggMatchOf(n) >= i})})
\* Whether the aggregator has an AGG_COMMIT to send.
AggMayCommit == aggLeader # None /\ (AggQuorumIndex > aggCommit \/ aggPending)

(* The aggregator multicasts AGG_COMMIT (commit index and every node's     *)
(* applied index) when a majority matches a new index, or when an append   *)
(* that announced nothing new is pending.                                  *)
AggCommit(term, commit, applied) ==
    /\ term = aggTerm
    /\ AggMayCommit
    /\ commit = Max(AggQuorumIndex, aggCommit)
    /\ applied = aggApplied
    /\ Send({ACMsg(term, commit, applied, n) : n \in Nodes})
    /\ aggCommit' = commit
    /\ aggPending' = FALSE
    /\ UNCHANGED <<nodeVars, leaderVars, aggTerm, aggLeader, aggEnd, aggFirst, aggMatch,
                   aggApplied, creq, ghostVars, mbVars>>

-----------------------------------------------------------------------------
(* ------------------------------ NETWORK -------------------------------- *)

\* A message its receiver ignores now and forever: a reply or notice of an
\* older term, or of the current term for a role the receiver no longer has
\* (a node is candidate or leader of a term at most once), or a client reply
\* to an operation no longer pending.
Dead(m) ==
    \/ m.type \in {"RVR", "AER", "ProbeRep", "AC"} /\ m.dst \in Nodes /\
          \/ m.term < currentTerm[m.dst]
          \/ m.term = currentTerm[m.dst] /\
                \/ m.type = "RVR" /\ role[m.dst] # "candidate"
                \/ m.type \in {"AER", "ProbeRep"} /\ role[m.dst] # "leader"
                \/ m.type = "ProbeRep" /\ useAgg[m.dst]
    \/ m.type \in {"AER", "AE"} /\ m.dst = Aggregator /\ m.term < aggTerm
    \/ m.type \in {"Reply", "Nack"} /\ ~(creq[m.dst].st = "pending" /\ creq[m.dst].rid = m.rid)

(* The receiver of a message drops it without a step of its own (no       *)
(* event): the message is gone.                                            *)
Discard(m) ==
    /\ m \in msgs
    /\ Dead(m)
    /\ msgs' = msgs \ {m}
    /\ UNCHANGED <<dups, nodeVars, leaderVars, aggVars, mbVars, creq, ghostVars>>

-----------------------------------------------------------------------------
(* ------------------------ the whole system ----------------------------- *)

\* The outcome of append_entries m at its destination (see HandleAppendEntries).
AEOutcome(n, m) ==
    IF m.term < currentTerm[n] \/ ~LogOk(n, m.prevIndex, m.prevTerm)
    THEN [success |-> FALSE, matchIndex |-> 0, missing |-> {}]
    ELSE LET k == StoreCount(n, m.entries)
         IN [success |-> TRUE, matchIndex |-> m.prevIndex + k, missing |-> MissingOf(n, m.entries, k)]

\* Model checking: the steps each state may take, with the parameters the
\* protocol computes.  Receipts are driven by the message received.
ClientNext ==
    \E c \in Clients :
       /\ creq[c].rid < MaxRid
       /\ LET r == creq[c].rid + 1
              ro == <<c, r>> \in ReadReqs
          IN ClientRequest(c, r, IF ro THEN "get" ELSE "put", "k", None, None, ro)

\* The commit index moves to the highest index it may.
MayCommit(n) == {i \in (commitIdx[n] + 1)..Len(logs[n]) : i <= learnt[n] \/ LeaderMayCommit(n, i)}
CommitStep(n) == MayCommit(n) # {} /\ Commit(n, currentTerm[n], MaxOf(MayCommit(n)))
ApplyStep(n) ==
    LET i == appliedIdx[n] + 1
        e == logs[n][i]
    IN i <= AppliableEnd(n) /\
       Apply(n, i, EClient(e), ERid(e), EReplier(e), ERo(e), ~ERo(e) \/ EReplier(e) = n, "d")
ReplyStep(n) == \E i \in toReply[n] : Reply(n, i, EClient(logs[n][i]), ERid(logs[n][i]), "r")

\* Whether leader n has something to tell t: entries t may lack, or a
\* commit index t may not know (it reported a lower applied index).
\* Through the aggregator: entries not sent yet, or entries not committed
\* yet (a retransmission; followers learn commits from AGG_COMMIT).
\* (Model checking: no heartbeats to a node known to be up to date.)
HasNews(n, t) == nextIdx[n][t] <= announcedIdx[n] \/ appliedKnown[n][t] < commitIdx[n]

\* Messages to, from or through the aggregator.
AggTraffic(m) ==
    \/ m.type \in {"Probe", "ProbeRep", "AC"}
    \/ m.type \in {"AE", "AER"} /\ m.dst = Aggregator
    \/ m.type = "AE" /\ m.via = "agg"

\* Steps of node n that no message triggers.
NodeStep(n) ==
    \/ role[n] # "leader" /\ BecomeCandidate(n, currentTerm[n] + 1)
    \/ /\ role[n] = "candidate"
       /\ \/ \E t \in Nodes : SendRequestVote(n, t, currentTerm[n], Len(logs[n]), LastTerm(logs[n]))
          \/ BecomeLeader(n, currentTerm[n])
    \/ /\ role[n] = "leader"
       /\ \/ \E r \in unordered[n] : LeaderAppend(n, currentTerm[n], Len(logs[n]) + 1, r[1], r[2], r[3])
          \/ announcedIdx[n] < Len(logs[n]) /\
                \E r \in Eligible(n) :
                   Announce(n, currentTerm[n], announcedIdx[n] + 1, r, QueueOf(n, r) + 1)
          \/ \E i \in 1..announcedIdx[n], r \in Nodes : RepickReplier(n, i, r)
          \* Point-to-point: from nextIndex, everything announced.  Through the
          \* aggregator: everything announced since the last send.  A leader
          \* using the aggregator serves point-to-point only a node behind it.
          \* (Model checking: one append_entries in flight per destination, and
          \* through the aggregator only when nothing else goes through it;
          \* duplicates still arrive late.)
          \/ \E t \in Nodes \ {n} :
                /\ useAgg[n] => nextIdx[n][t] <= aggSent[n]
                /\ ~\E m \in msgs : m.type = "AE" /\ m.src = n /\ m.dst = t
                /\ HasNews(n, t)
                /\ LET p == Min(nextIdx[n][t] - 1, announcedIdx[n]) IN
                   SendAppendEntries(n, t, currentTerm[n], p, TermAt(logs[n], p),
                                     SubSeq(logs[n], p + 1, SendEnd(n)), commitIdx[n])
          \/ /\ useAgg[n]
             /\ ~\E m \in msgs : AggTraffic(m)
             /\ aggSent[n] < announcedIdx[n] \/ commitIdx[n] < announcedIdx[n]
             /\ LET p == aggSent[n] IN
                SendAppendEntries(n, Aggregator, currentTerm[n], p, TermAt(logs[n], p),
                                  SubSeq(logs[n], p + 1, SendEnd(n)), commitIdx[n])
    \/ \E r \in missingReqs[n], t \in Nodes : SendRecoveryRequest(n, t, r[1], r[2])
    \/ CommitStep(n)
    \/ ApplyStep(n)
    \/ ReplyStep(n)

\* Receipt of message m by its destination.
Receive(m) ==
    \/ m.type = "Req" /\
          \/ FollowerBuffer(m.dst, m.client, m.rid, m.ro)
          \/ LeaderAppend(m.dst, currentTerm[m.dst], Len(logs[m.dst]) + 1, m.client, m.rid, m.ro)
    \/ m.type = "Reply" /\ ClientReceiveReply(m.dst, m.rid, m.src, m.result)
    \/ m.type = "Nack" /\ ClientReceiveNack(m.dst, m.rid)
    \* ---- middlebox ----
    \/ m.type = "MbReq" /\
          \/ MiddleboxForward(m.client, m.rid, Held + 1)
          \/ MiddleboxNack(m.client, m.rid, Held)
    \/ m.type = "Feedback" /\ MiddleboxFeedback(m.client, m.rid, Held - 1)
    \/ m.type \in {"RV", "RVR", "AE", "AER", "ProbeRep", "AC"} /\ m.dst \in Nodes /\
          m.term > currentTerm[m.dst] /\ StepDown(m.dst, m.term)
    \/ m.type = "RV" /\
          HandleRequestVote(m.dst, m.src, m.term, m.lastIndex, m.lastTerm,
                            Grant(m.dst, m.src, m.term, m.lastIndex, m.lastTerm))
    \/ m.type = "RVR" /\
          HandleVoteReply(m.dst, m.src, m.term, m.granted,
                          Cardinality(votesGranted[m.dst] \cup IF m.granted THEN {m.src} ELSE {}))
    \/ m.type = "AE" /\ m.dst \in Nodes /\
          LET o == AEOutcome(m.dst, m) IN
          HandleAppendEntries(m.dst, m.src, m.term, m.prevIndex, m.prevTerm, m.entries,
                              m.commit, o.success, o.matchIndex, o.missing)
    \/ m.type = "AER" /\ m.dst \in Nodes /\
          HandleAppendEntriesReply(m.dst, m.src, m.term, m.success, m.matchIndex, m.applied)
    \/ m.type = "RecReq" /\
          HandleRecoveryRequest(m.dst, m.src, m.client, m.rid, HoldsBody(m.dst, m.client, m.rid))
    \/ m.type = "RecRep" /\ HandleRecoveryReply(m.dst, m.src, m.client, m.rid)
    \/ m.type = "AC" /\ HandleAggCommit(m.dst, currentTerm[m.dst], m.commit, m.applied)
    \/ m.type = "ProbeRep" /\ LeaderUseAggregator(m.dst, currentTerm[m.dst])
    \* ---- aggregator ----
    \/ m.type \in {"Probe", "AE", "AER"} /\ m.dst = Aggregator /\
          \/ m.term > aggTerm /\ AggFlush(m.term)
          \/ m.type = "Probe" /\ AggProbe(m.src, m.term)
          \/ m.type = "AE" /\ AggForward(m.term, m.prevIndex, Len(m.entries), m.commit)
          \/ m.type = "AER" /\ m.success /\ AggReply(m.src, m.term, m.matchIndex, m.applied)

RestartStep(n) == NodeStart(n, currentTerm[n], vote[n], Kept(n))
GcStep(n) == \E r \in unordered[n] : FollowerGc(n, r[1], r[2])
ExpireStep == \E r \in mbSlots : MiddleboxExpire(r[1], r[2], Held - 1)
AggStep == Mode = "hovercraft++" /\ AggCommit(aggTerm, Max(AggQuorumIndex, aggCommit), aggApplied)

Next ==
    \/ ClientNext
    \/ \E n \in Nodes : NodeStep(n) \/ RestartStep(n) \/ GcStep(n)
    \/ \E m \in msgs : Receive(m) \/ Discard(m)
    \/ AggStep
    \/ Mode = "hovercraft++" /\ AggRestart
    \/ ExpireStep

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* ---------------------------- properties ------------------------------- *)

Entries == Nat \X (Clients \cup {NoOpClient}) \X Nat \X (Nodes \cup {None}) \X BOOLEAN

TypeOK ==
    /\ currentTerm \in [Nodes -> Nat]
    /\ vote \in [Nodes -> Nodes \cup {None}]
    /\ \A n \in Nodes : logs[n] \in Seq(Entries)
    /\ answered \in [Nodes -> Nat]
    /\ role \in [Nodes -> {"follower", "candidate", "leader"}]
    /\ commitIdx \in [Nodes -> Nat] /\ appliedIdx \in [Nodes -> Nat]
    /\ learnt \in [Nodes -> Nat] /\ verified \in [Nodes -> Nat]
    /\ \A n \in Nodes : unordered[n] \subseteq Clients \X Nat \X BOOLEAN
    /\ \A n \in Nodes : missingReqs[n] \subseteq Clients \X Nat
    /\ \A n \in Nodes : toReply[n] \subseteq 1..Len(logs[n])
    /\ \A n \in Nodes : votesGranted[n] \subseteq Nodes
    /\ nextIdx \in [Nodes -> [Nodes -> Nat \ {0}]]
    /\ matchIdx \in [Nodes -> [Nodes -> Nat]]
    /\ announcedIdx \in [Nodes -> Nat]
    /\ appliedKnown \in [Nodes -> [Nodes -> Nat]] /\ appliedSent \in [Nodes -> Nat]
    /\ useAgg \in [Nodes -> BOOLEAN] /\ aggSent \in [Nodes -> Nat]
    /\ aggTerm \in Nat /\ aggLeader \in Nodes \cup {None}
    /\ aggEnd \in Nat /\ aggFirst \in Nat /\ aggCommit \in Nat /\ aggPending \in BOOLEAN
    /\ aggMatch \in [Nodes -> Nat] /\ aggApplied \in [Nodes -> Nat]
    /\ \A c \in Clients :
          creq[c].st \in {"idle", "pending", "replied", "nacked", "timedout"} /\ creq[c].rid \in Nat
    /\ mbSlots \subseteq Clients \X Nat
    /\ \A m \in msgs : m.type \in {"MbReq", "Nack", "Feedback", "Req", "Reply", "RV", "RVR", "AE",
                                   "AER", "RecReq", "RecRep", "Probe", "ProbeRep", "AC"}
    /\ \A r \in DOMAIN replies : replies[r] \in Nat \ {0}
    /\ dups \in 0..MaxDups
    /\ restarts \in Nat

(* Only the leader holds unannounced entries, beyond its announced_idx.   *)
AnnouncedPrefix ==
    \A n \in Nodes : \A i \in DOMAIN logs[n] :
       (EReplier(logs[n][i]) = None) <=> (role[n] = "leader" /\ i > announcedIdx[n])

(* At most one leader per term, ever.                                     *)
ElectionSafety == \A a, b \in leaders : a[1] = b[1] => a[2] = b[2]

(* Two logs with an entry of the same term at the same index are equal up *)
(* to that index.                                                          *)
LogMatching ==
    \A n, m \in Nodes : \A i \in 1..Min(Len(logs[n]), Len(logs[m])) :
       ETerm(logs[n][i]) = ETerm(logs[m][i]) => SubSeq(logs[n], 1, i) = SubSeq(logs[m], 1, i)

(* An entry known committed in term t is in the log of every leader of a  *)
(* later term.                                                             *)
LeaderCompleteness ==
    \A c \in committed : \A l \in Nodes :
       (role[l] = "leader" /\ currentTerm[l] > c[3]) =>
          c[1] <= Len(logs[l]) /\ logs[l][c[1]] = c[2]

(* Nodes that applied an index applied the same entry (and the same body). *)
StateMachineSafety == \A a, b \in appliedHist : a[1] = b[1] => a = b

(* An entry (index and term) is announced with one replier, ever.          *)
OneReplierPerEntry == \A a, b \in repliers : a[1] = b[1] /\ a[2] = b[2] => a[3] = b[3]

(* Every announced entry in every log and in every append_entries carries  *)
(* the replier it was announced with: it never changes, on any node, in    *)
(* any later term.                                                         *)
ReplierFixed ==
    /\ \A n \in Nodes : \A i \in DOMAIN logs[n] :
          EReplier(logs[n][i]) # None =>
             <<i, ETerm(logs[n][i]), EReplier(logs[n][i])>> \in repliers
    /\ \A m \in msgs : m.type = "AE" =>
          \A j \in DOMAIN m.entries :
             <<m.prevIndex + j, ETerm(m.entries[j]), EReplier(m.entries[j])>> \in repliers

(* Every request is answered once: by one node, for one log index, and     *)
(* once only, even across restarts (a replier persists the last index it   *)
(* answered, and a restarted replier that applies the entry again does not *)
(* answer it again). replies counts every Reply, so a repeated one shows.  *)
AtMostOneReply ==
    /\ \A r \in DOMAIN replies : replies[r] = 1
    /\ \A a, b \in DOMAIN replies : a[1] = b[1] /\ a[2] = b[2] => a = b

(* Replies come from the replier of an applied entry.                      *)
RepliesFromReplier ==
    \A r \in DOMAIN replies : \E h \in appliedHist :
       h[1] = r[4] /\ EClient(h[2]) = r[1] /\ ERid(h[2]) = r[2] /\ EReplier(h[2]) = r[3]

(* Bounded queues: in every leader's log, the client entries announced     *)
(* with replier m and not yet applied by m (in any incarnation) are at     *)
(* most B.                                                                 *)
BoundedQueue ==
    (ReplierPolicy = "jbsq" /\ Mode # "raft") =>
       \A l, m \in Nodes : role[l] = "leader" =>
          Cardinality({i \in 1..announcedIdx[l] :
                         /\ i > appliedMax[m]
                         /\ EReplier(logs[l][i]) = m
                         /\ ~IsNoOp(logs[l][i])}) <= B

\* The applied index node n has reached, in any incarnation, or reaches by
\* the Commit and Apply steps its last append_entries enabled: the reply
\* HandleAppendEntries sends carries that index before those steps take it.
\* (Outside such steps, and so whenever a message is received, it is
\* appliedMax[n].)
TrueApplied(n) == Max(appliedMax[n], Max(commitIdx[n], Min(learnt[n], Len(logs[n]))))

(* The leader never overstates a node's applied index: what it counts as   *)
(* applied by n (from n's replies, its own as of its last append_entries,  *)
(* or an AGG_COMMIT) is at most what n has applied, so the queues JBSQ     *)
(* sees are never shorter than the true ones (late news only lengthens     *)
(* them).  Likewise every applied index on its way to the leader: in a     *)
(* reply, in the aggregator's registers, in an AGG_COMMIT.                 *)
AppliedNotOverstated ==
    /\ \A l, n \in Nodes : role[l] = "leader" => appliedKnown[l][n] <= appliedMax[n]
    /\ \A n \in Nodes : aggApplied[n] <= TrueApplied(n)
    /\ \A m \in msgs :
          /\ m.type = "AER" => m.applied <= TrueApplied(m.src)
          /\ m.type = "AC" => \A n \in Nodes : m.applied[n] <= TrueApplied(n)

(* Figure 12.3: log_idx >= announced_idx >= commit_idx >= applied_idx.     *)
IndexOrder ==
    \A n \in Nodes :
       /\ appliedIdx[n] <= commitIdx[n]
       /\ commitIdx[n] <= Len(logs[n])
       /\ role[n] = "leader" => commitIdx[n] <= announcedIdx[n] /\ announcedIdx[n] <= Len(logs[n])

\* Whether request r = <<client, rid>> has been answered.
Answered(r) == \E x \in DOMAIN replies : x[1] = r[1] /\ x[2] = r[2]

(* Flow control: at most Threshold slots are held, only by admitted        *)
(* requests, and an admitted request still unanswered holds its slot       *)
(* unless the slot expired. So the requests in the system at once          *)
(* (admitted, unanswered, not expired) are at most Threshold, and the      *)
(* middlebox's inflight count (Held, in every event) is the number of such *)
(* requests plus those answered whose FEEDBACK is still on its way.        *)
MiddleboxAdmission ==
    /\ Held <= Threshold
    /\ mbSlots \subseteq mbAdmitted
    /\ \A r \in mbAdmitted \ mbExpired : ~Answered(r) => r \in mbSlots
=============================================================================
