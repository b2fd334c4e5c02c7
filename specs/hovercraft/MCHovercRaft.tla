---------------------------- MODULE MCHovercRaft ----------------------------
(***************************************************************************)
(* Model module for TLC: HovercRaft.tla with model-value identities, a     *)
(* symmetry set over the nodes (safety only), and the bounds and           *)
(* scheduling restrictions that keep each model small.  A bound is a      *)
(* constraint on the next state (a state beyond it is never generated).    *)
(*                                                                         *)
(* Restrictions (each model's .cfg says which it uses):                    *)
(*  - terms, log length, restarts and messages in flight between nodes     *)
(*    are bounded (client requests and replies are not counted);           *)
(*  - local follow-ups are urgent: a node that may commit, apply or reply  *)
(*    does so before anything else happens (the implementation applies    *)
(*    eagerly, as the thesis' does), and a message its receiver will       *)
(*    ignore is dropped at once;                                           *)
(*  - a leader sends append_entries to a node only when it has news for    *)
(*    it (entries or a commit index it may not know), one at a time;      *)
(*  - Crashes: "anywhere" (any node, any time), "follower" (a follower,    *)
(*    any time) or "leader" (the leader, at a crash point: while no        *)
(*    message between nodes is in flight, its log announced and holding a  *)
(*    client entry, and either nothing of its term committed yet or its    *)
(*    whole log applied by every node);                                    *)
(*  - LeaderTimeouts: may a node time out while a leader of its term runs   *)
(*    (FALSE: elections follow a leader crash); SplitVotes: may two nodes  *)
(*    be candidates of one term.                                           *)
(***************************************************************************)
EXTENDS HovercRaft
CONSTANTS n1, n2, n3, c1, c2, agg, mb
CONSTANTS
    MaxTerm,            \* highest term
    MaxLog,             \* longest log
    MaxRestarts,        \* crashes and restarts in a behaviour
    MaxMsgs,            \* messages in flight between nodes
    MaxAggMsgs,         \* messages in flight to and from the aggregator
    Crashes,            \* "anywhere", "follower" or "leader" (see above)
    LeaderTimeouts,     \* may a node time out while a leader of its term runs?
    SplitVotes,         \* may two nodes be candidates of the same term?
    ModelGc,            \* may nodes garbage-collect unordered requests?
    ModelAggRestart,    \* may the aggregator restart (hovercraft++)?
    LossyMulticast,     \* may the multicast of a request miss nodes?
    StartElected,       \* start with n1 elected leader of term 1 (else from Init)
    ProbeAnswered,      \* hovercraft++: did the aggregator answer that leader's probe?
    ModelExpiry         \* may the middlebox reclaim held slots (expiry)?

MCNodes == {n1, n2, n3}
MCOneClient == {c1}
MCTwoClients == {c1, c2}
MCNoReads == {}
MCFirstRead == {<<c1, 1>>}

Symmetry == Permutations(MCNodes)

\* For Duplicable: the network duplicates only client requests on their way to
\* the middlebox (a model with MaxDups > 0 uses it, to keep the others exact).
MCDupClientRequests(m) == m.type = "MbReq"

\* Client traffic (requests, replies, NACKs and FEEDBACK) is not counted.
NodeMsgs == {m \in msgs : m.type \notin {"MbReq", "Nack", "Feedback", "Req", "Reply"}}

\* Messages in flight between nodes (direct), and through the aggregator,
\* where a multicast (the copies of one forwarded append_entries, or of one
\* AGG_COMMIT) counts once.
DirectInFlight == Cardinality({m \in NodeMsgs : ~AggTraffic(m)})
AggInFlight ==
    Cardinality({IF m.type \in {"AE", "AC"} THEN [m EXCEPT !.dst = Aggregator] ELSE m :
                   m \in {x \in NodeMsgs : AggTraffic(x)}})

Bounded ==
    /\ \A n \in Nodes : currentTerm[n] <= MaxTerm /\ Len(logs[n]) <= MaxLog
    /\ restarts <= MaxRestarts
    /\ DirectInFlight <= MaxMsgs
    /\ AggInFlight <= MaxAggMsgs

(* The state after n1 won the election of term 1 and appended its no-op,  *)
(* and in hovercraft++ mode had its probe answered or lost (Init reaches   *)
(* it; the messages of those steps are delivered or lost; by symmetry n1   *)
(* stands for any node).                                                   *)
ElectedInit ==
    LET l == n1
        noop == <<1, NoOpClient, 1, l, FALSE>>
    IN
    /\ currentTerm = [n \in Nodes |-> 1]
    /\ vote = [n \in Nodes |-> l]
    /\ logs = [n \in Nodes |-> IF n = l THEN <<noop>> ELSE <<>>]
    /\ answered = [n \in Nodes |-> 0]
    /\ role = [n \in Nodes |-> IF n = l THEN "leader" ELSE "follower"]
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
    /\ announcedIdx = [n \in Nodes |-> IF n = l THEN 1 ELSE 0]
    /\ appliedKnown = [n \in Nodes |-> [m \in Nodes |-> 0]]
    /\ appliedSent = [n \in Nodes |-> 0]
    \* (hovercraft++: its probe was answered and it uses the aggregator, or
    \* the probe was lost and it runs as HovercRaft)
    /\ useAgg = [n \in Nodes |-> Mode = "hovercraft++" /\ ProbeAnswered /\ n = l]
    /\ aggSent = [n \in Nodes |-> 0]
    /\ aggTerm = IF Mode = "hovercraft++" /\ ProbeAnswered THEN 1 ELSE 0
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
    /\ leaders = {<<1, l>>}
    /\ repliers = {<<1, 1, l>>}
    /\ committed = {}
    /\ appliedHist = {}
    /\ appliedMax = [n \in Nodes |-> 0]
    /\ replies = [x \in {} |-> 0]
    /\ restarts = 0
    /\ mbAdmitted = {}
    /\ mbExpired = {}

MCInit == IF StartElected THEN ElectedInit ELSE Init

\* Whether node n may crash (and restart) now.
Quiet == NodeMsgs = {}
CrashPoint(n) ==
    CASE Crashes = "anywhere" -> TRUE
      [] Crashes = "follower" -> role[n] # "leader"
      [] Crashes = "leader" ->
            /\ role[n] = "leader" /\ Quiet
            /\ announcedIdx[n] = Len(logs[n])
            /\ \E i \in DOMAIN logs[n] : ~IsNoOp(logs[n][i])
            /\ \/ \A i \in 1..commitIdx[n] : ETerm(logs[n][i]) < currentTerm[n]
               \/ \A x \in Nodes : appliedIdx[x] = Len(logs[n])

\* Whether every request of the model fits in the middlebox's slots at once:
\* then it never refuses one, and when it forwards a request or frees a slot
\* changes nothing else, so model checking takes those steps at once (with
\* no expiry).
MbNeverFull == Threshold >= Cardinality(Clients) * MaxRid
MbUrgent(m) ==
    \/ m.type = "MbReq" /\ <<m.client, m.rid>> \notin mbSlots
    \/ m.type = "Feedback" /\ <<m.client, m.rid>> \in mbSlots

\* Local follow-ups that happen before anything else (the aggregator's
\* AGG_COMMIT too: the switch program multicasts it while it processes the
\* reply, or the append, that enables it; and the middlebox's steps when it
\* is never full).
Urgent ==
    \/ \E n \in Nodes : MayCommit(n) # {} \/ appliedIdx[n] < commitIdx[n] \/ toReply[n] # {}
    \/ \E m \in msgs : Dead(m)
    \/ Mode = "hovercraft++" /\ AggMayCommit
    \/ MbNeverFull /\ ~ModelExpiry /\ \E m \in msgs : MbUrgent(m)
UrgentStep ==
    \/ \E n \in Nodes : CommitStep(n) \/ ApplyStep(n) \/ ReplyStep(n)
    \/ \E m \in msgs : Discard(m)
    \/ AggStep
    \/ MbNeverFull /\ ~ModelExpiry /\ \E m \in msgs : MbUrgent(m) /\ Receive(m)

MCSteps ==
    \/ ClientNext
    \/ \E n \in Nodes :
          \/ CrashPoint(n) /\ RestartStep(n)
          \/ NodeStep(n)
          \/ ModelGc /\ GcStep(n)
    \/ \E m \in msgs : Receive(m)
    \/ AggStep
    \/ ModelAggRestart /\ Mode = "hovercraft++" /\ AggRestart
    \/ ModelExpiry /\ ExpireStep

\* A node that becomes candidate in this step.
NewCandidate(n) == role'[n] = "candidate" /\ currentTerm'[n] # currentTerm[n]

MCNext ==
    /\ IF Urgent THEN UrgentStep ELSE MCSteps
    /\ Bounded'
    /\ LeaderTimeouts \/
          \A n \in Nodes : NewCandidate(n) =>
             ~\E m \in Nodes : role[m] = "leader" /\ currentTerm[m] >= currentTerm[n]
    /\ SplitVotes \/
          \A n \in Nodes : NewCandidate(n) => \A m \in Nodes : currentTerm[m] < currentTerm'[n]

    \* A reliable multicast: every node gets a copy of a request the middlebox
    \* admits, and the leader orders a request only once every other node holds
    \* its body.
    /\ LossyMulticast \/
          /\ \A r \in mbSlots' \ mbSlots : \A n \in Nodes :
                \E m \in msgs' : m.type = "Req" /\ m.client = r[1] /\ m.rid = r[2] /\ m.dst = n
          /\ \A n \in Nodes :
                (role[n] = "leader" /\ Len(logs'[n]) = Len(logs[n]) + 1 /\ ~IsNoOp(logs'[n][Len(logs'[n])])) =>
                   LET e == logs'[n][Len(logs'[n])] IN
                   \A x \in Nodes \ {n} : HoldsBody(x, EClient(e), ERid(e))

MCSpec == MCInit /\ [][MCNext]_vars
(* Not an invariant: what a NACK would promise if it refused a request for *)
(* good (no reply to a request whose client took a NACK for it). The spec  *)
(* does not promise it (see HovercRaft.tla's header): on                   *)
(* MCHovercraftNack.cfg, where the network may duplicate client requests,  *)
(* TLC finds a NACKed request whose duplicate is admitted, ordered,        *)
(* applied and answered (models.test.ts).                                  *)
NackIsFinal ==
    \A c \in Clients : creq[c].st = "nacked" => ~Answered(<<c, creq[c].rid>>)
=============================================================================
