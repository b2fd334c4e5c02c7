-------------------------------- MODULE R2P2 --------------------------------
(***************************************************************************)
(* R2P2, the Request-Response Pair Protocol (Kogias, thesis ch. 9), with   *)
(* the JBSQ(n) router (ch. 10).                                            *)
(*                                                                         *)
(* Roles: clients, one router (a switch program), servers.  A request pair *)
(* is identified by the triplet (client, rid); the client's address plays *)
(* the part of (src_ip, src_port).                                         *)
(*                                                                         *)
(* Every action below has the name and the parameters of a trace event of *)
(* impl/r2p2/actions.ts.  The acting node is the first parameter of client *)
(* and server actions (the event's `node`); router actions have no node    *)
(* parameter (there is one router).  Implementation details are taken as  *)
(* parameters and ignored (`size`, `policy`) or abstracted: a message body *)
(* is its digest, a packet list is a set of packet indices.                *)
(*                                                                         *)
(* Network (docs/DESIGN.md): `net` is the set of messages ever sent (its   *)
(* domain) with, for each, how often it has been delivered.  A receive may *)
(* take any message of the set, so loss (never received), reordering and   *)
(* duplication need no actions.  Only receipts that change counters or     *)
(* queues are counted (REQ0 at the router and at a server, FEEDBACK at the *)
(* router) and bounded by MaxDeliveries (1 = no duplication).  The other   *)
(* receipts (ACK, SACK, REQn, REPLY, DROP) are idempotent at their         *)
(* receiver, so they are not counted.                                      *)
(*                                                                         *)
(* Abstractions:                                                           *)
(*  - a request has npkts packets: REQ0 (index 0, goes through the router) *)
(*    and REQn for n in 1..npkts-1 (sent straight to the server that       *)
(*    ACKed).  REQn receipt at the server is not an event of its own: the  *)
(*    server's ServerSack / ServerReceiveRequest require the REQn they     *)
(*    claim to have to be in the network.                                  *)
(*  - a reply is one message (its npkts is recorded, not split).          *)
(*  - rids are never reused by a client (no 16-bit wrap).                 *)
(*  - the routing policy field of a request (LB_ROUTE, ...) is ignored:   *)
(*    every request is unrestricted.                                       *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, TLC

CONSTANTS
    Clients,        \* client identities (one per client socket)
    Servers,        \* server identities
    Router,         \* the router's identity
    MaxRid,         \* rids are 1..MaxRid
    MaxPkts,        \* requests have 1..MaxPkts packets
    Policy,         \* "JBSQ" or "RANDOM" (any eligible server, no bound)
    QueueCap,       \* capacity of the router's central queue
    MaxDeliveries,  \* bound on counted receipts of one message (1 = no duplication)
    NValues,        \* the n a server may announce (model checking only)
    Forms,          \* FEEDBACK forms servers use: subset of {"slot", "count"}
    Digests,        \* message bodies (model checking only)
    ModelRestarts,  \* model checking: may a running server restart? (BOOLEAN)
    ModelRouterRestarts, \* model checking: may the router restart? (BOOLEAN)
    ModelLeave,     \* model checking: may the router drop a server? (BOOLEAN)
    Bugs            \* seeded spec bugs switched on: {} in the correct models, or
                    \* "BlindFeedback", "PhantomReply", "ForgetOnLeave", "DispatchOverBound",
                    \* "AckDisarms", "ServeDuplicate", "ServeBeforeAnnounce" (see the
                    \* R2P2<Bug>.tla variants)

NoClient == "none"   \* the client field of an announce FEEDBACK (no request answered)
NoServer == "none"   \* "no ACK received yet" at a client

RidRange == 1..MaxRid
Key(c, r) == <<c, r>>
SetOf(seq) == {seq[j] : j \in DOMAIN seq}
\* (Bound variables in actions avoid the names tvK, tvI, TvE of the generated
\* trace-validation module, which substitutes its expressions for parameters.)
Max(a, b) == IF a >= b THEN a ELSE b

VARIABLES
    \* ---- clients ----
    creq,       \* [<<c, rid>> |-> [st, npkts, digest, acked, armed]] for every rid issued
    \* ---- servers ----
    sreq,       \* [s |-> [<<c, rid>> |-> [st |-> "partial"|"queued", npkts, digest]]]
    sn,         \* the n each server announces (0 before it started)
    sserved,    \* each server's count of requests served since it (re)started
    sepoch,     \* each server's incarnation (its start time on the wire), 0 before it started
    sup,        \* each server: its incarnation has announced itself (FALSE before the first
                \* start and from a crash until the new incarnation's announce)
    sdone,      \* each server: the requests (<<c, rid>>) its incarnation took whole or gave
                \* up on (it ignores a duplicated REQ0 of one of them)
    \* ---- router ----
    rqueue,     \* the central queue: a sequence of REQ0 messages
    rservers,   \* servers eligible for dispatch
    rn,         \* the n the router knows for each server
    rdisp,      \* requests dispatched to each server since it joined
    rbase,      \* the served count the server reported when it joined
    rmax,       \* the highest served count seen from each server since it joined
    rfreed,     \* slots freed by slot-form FEEDBACKs since each server joined
    rslots,     \* per server: the requests (<<c, rid>>) holding a slot
    repoch,     \* per server: the incarnation its account belongs to (0: no account)
    \* ---- network ----
    net,        \* [message |-> deliveries]: every message ever sent
    \* ---- history (ghost) variables, for the invariants only ----
    gheld,      \* per server: requests dispatched to it and not yet answered, since the
                \* router opened the server's account (what the server holds or will hold)
    received,   \* <<s, c, rid>>: server s had the whole request (c, rid)
    gtakes,     \* [<<s, epoch, c, rid>> |-> how often incarnation epoch of s took (c, rid) whole]
    accepted    \* replies accepted by clients: [client, rid, replyRid, server, digest]

clientVars == <<creq>>
serverVars == <<sreq, sn, sserved, sepoch, sup, sdone>>
routerVars == <<rqueue, rservers, rn, rdisp, rbase, rmax, rfreed, rslots, repoch>>
ghostVars  == <<gheld, received, gtakes, accepted>>
vars == <<creq, sreq, sn, sserved, sepoch, sup, sdone, rqueue, rservers, rn, rdisp, rbase, rmax,
          rfreed, rslots, repoch, net, gheld, received, gtakes, accepted>>

-----------------------------------------------------------------------------
(* Network helpers *)

\* Adds messages to the network (a message already there keeps its count).
Send(ms) == net' = [m \in DOMAIN net \cup ms |-> IF m \in DOMAIN net THEN net[m] ELSE 0]
Sent(m) == m \in DOMAIN net
\* A counted receipt: the message was sent and has not yet been delivered MaxDeliveries times.
Deliverable(m) == Sent(m) /\ net[m] < MaxDeliveries
Deliver(m) == net' = [net EXCEPT ![m] = @ + 1]
DeliverAndSend(m, ms) ==
    net' = [x \in DOMAIN net \cup ms |->
              IF x = m THEN net[x] + 1 ELSE IF x \in DOMAIN net THEN net[x] ELSE 0]

\* Message constructors.
Req0Msg(c, r, np, d, dst) == [type |-> "REQ0", client |-> c, rid |-> r, npkts |-> np, digest |-> d, dst |-> dst]
ReqnMsg(c, r, idx, d, s)  == [type |-> "REQN", client |-> c, rid |-> r, idx |-> idx, digest |-> d, dst |-> s]
AckMsg(c, r, s)           == [type |-> "ACK", client |-> c, rid |-> r, server |-> s]
SackMsg(c, r, s, miss)    == [type |-> "SACK", client |-> c, rid |-> r, server |-> s, missing |-> miss]
ReplyMsg(c, r, s, np, d)  == [type |-> "REPLY", client |-> c, rid |-> r, server |-> s, npkts |-> np, digest |-> d]
DropMsg(c, r, from)       == [type |-> "DROP", client |-> c, rid |-> r, from |-> from]
FbMsg(s, c, r, form, n, served, epoch) ==
    [type |-> "FEEDBACK", server |-> s, client |-> c, rid |-> r, form |-> form, n |-> n,
     served |-> served, epoch |-> epoch]

Msgs(t) == {m \in DOMAIN net : m.type = t}

-----------------------------------------------------------------------------
Init ==
    /\ creq = <<>>
    /\ sreq = [s \in Servers |-> <<>>]
    /\ sn = [s \in Servers |-> 0]
    /\ sserved = [s \in Servers |-> 0]
    /\ sepoch = [s \in Servers |-> 0]
    /\ sup = [s \in Servers |-> FALSE]
    /\ sdone = [s \in Servers |-> {}]
    /\ rqueue = <<>>
    /\ rservers = {}
    /\ rn = [s \in Servers |-> 0]
    /\ rdisp = [s \in Servers |-> 0]
    /\ rbase = [s \in Servers |-> 0]
    /\ rmax = [s \in Servers |-> 0]
    /\ rfreed = [s \in Servers |-> 0]
    /\ rslots = [s \in Servers |-> {}]
    /\ repoch = [s \in Servers |-> 0]
    /\ net = <<>>
    /\ gheld = [s \in Servers |-> {}]
    /\ received = {}
    /\ gtakes = <<>>
    /\ accepted = {}

Issued(c, r) == Key(c, r) \in DOMAIN creq
Pending(c, r) == Issued(c, r) /\ creq[Key(c, r)].st = "pending"
SetReq(c, r, rec) == creq' = [x \in DOMAIN creq \cup {Key(c, r)} |->
                                IF x = Key(c, r) THEN rec ELSE creq[x]]

-----------------------------------------------------------------------------
(* ------------------------------ CLIENT --------------------------------- *)

(* The client issues request rid: it sends REQ0 (its only packet when       *)
(* npkts = 1) to the router and arms the request's timer.  A rid is never   *)
(* reused.  size and policy are implementation details the spec ignores.    *)
ClientSend(c, rid, policy, npkts, size, digest) ==
    /\ c \in Clients
    /\ rid \in RidRange /\ ~Issued(c, rid)
    /\ npkts \in 1..MaxPkts
    /\ SetReq(c, rid, [st |-> "pending", npkts |-> npkts, digest |-> digest,
                       acked |-> NoServer, armed |-> TRUE])
    /\ Send({Req0Msg(c, rid, npkts, digest, Router)})
    /\ UNCHANGED <<serverVars, routerVars, ghostVars>>

(* The ACK (REQRDY) of a multi-packet request arrives from the server that  *)
(* took it: the client streams REQ1..REQ(npkts-1) straight to that server.  *)
(* An ACK from another server after the first one is ignored (no event); a  *)
(* repeated ACK from the same server restreams, which changes nothing.      *)
ClientReceiveAck(c, rid, server) ==
    /\ Pending(c, rid)
    /\ LET q == creq[Key(c, rid)] IN
       /\ q.npkts > 1
       /\ q.acked \in {NoServer, server}
       /\ Sent(AckMsg(c, rid, server))
       /\ SetReq(c, rid, [q EXCEPT !.acked = server,
                                    !.armed = @ /\ "AckDisarms" \notin Bugs])   \* BUG: the ACK stops the timer
       /\ Send({ReqnMsg(c, rid, idx, q.digest, server) : idx \in 1..(q.npkts - 1)})
    /\ UNCHANGED <<serverVars, routerVars, ghostVars>>

(* A SACK from the server asks for missing REQn packets: the client sends   *)
(* them again (to the network they are the same messages; a resend matters  *)
(* when the first copies were lost, which a receive of the set covers).     *)
ClientResend(c, rid, server, packets) ==
    /\ Pending(c, rid)
    /\ creq[Key(c, rid)].acked = server
    /\ Sent(SackMsg(c, rid, server, packets))
    /\ Send({ReqnMsg(c, rid, idx, creq[Key(c, rid)].digest, server) : idx \in packets})
    /\ UNCHANGED <<clientVars, serverVars, routerVars, ghostVars>>

(* A reply arrives and the client completes request rid with success.  The  *)
(* client matches a reply by its rid only (a reply from any server is        *)
(* accepted): a correct client completes exactly the request named by the    *)
(* reply's rid, so replyRid = rid.  digest is the reassembled reply's.      *)
ClientReceiveReply(c, rid, replyRid, server, digest) ==
    /\ Pending(c, rid)
    /\ replyRid = rid
    /\ \E m \in Msgs("REPLY") :
          /\ m.client = c /\ m.rid = replyRid /\ m.server = server /\ m.digest = digest
    /\ SetReq(c, rid, [creq[Key(c, rid)] EXCEPT !.st = "replied", !.armed = FALSE])
    /\ accepted' = accepted \cup {[client |-> c, rid |-> rid, replyRid |-> replyRid,
                                   server |-> server, digest |-> digest]}
    /\ UNCHANGED <<net, serverVars, routerVars, gheld, received, gtakes>>

(* A DROP for rid arrives (from the router, whose queue was full): the      *)
(* request completes with an error.                                         *)
ClientReceiveDrop(c, rid, from) ==
    /\ Pending(c, rid)
    /\ Sent(DropMsg(c, rid, from))
    /\ SetReq(c, rid, [creq[Key(c, rid)] EXCEPT !.st = "dropped", !.armed = FALSE])
    /\ UNCHANGED <<net, serverVars, routerVars, ghostVars>>

(* The request's timer fires: the request completes with a timeout.  The    *)
(* timer can fire at any time (the spec has no clock).                      *)
ClientTimeout(c, rid) ==
    /\ Pending(c, rid)
    /\ creq[Key(c, rid)].armed
    /\ SetReq(c, rid, [creq[Key(c, rid)] EXCEPT !.st = "timedout", !.armed = FALSE])
    /\ UNCHANGED <<net, serverVars, routerVars, ghostVars>>

-----------------------------------------------------------------------------
(* ------------------------------ SERVER --------------------------------- *)

(* The server announces itself to the router with a FEEDBACK that answers  *)
(* no request (count form: its n, served count and incarnation), as a       *)
(* heartbeat of a running server (served is its current count; n may        *)
(* change; each heartbeat is a new copy, deliverable even if an equal one   *)
(* was) or at a (re)start.  (Models without leave send an equal heartbeat   *)
(* only once: the router has joined the server and a repeated count changes *)
(* nothing, so the copies would only add states.)  A crashed server, or one *)
(* still quiet after its restart, sends nothing.                            *)
ServerHeartbeat(s, n) ==
    /\ sup[s]
    /\ n \in Nat \ {0}
    /\ LET fb == FbMsg(s, NoClient, 0, "count", n, sserved[s], sepoch[s])
       IN IF ModelLeave
          THEN net' = [m \in DOMAIN net \cup {fb} |-> IF m = fb THEN 0 ELSE net[m]]
          ELSE Send({fb})
    /\ sn' = [sn EXCEPT ![s] = n]
    /\ UNCHANGED <<clientVars, sreq, sserved, sepoch, sup, sdone, routerVars, ghostVars>>

(* The server's host crashes (the trace's HostCrash of a server): the       *)
(* process and its volatile state are gone.  Whatever starts next is a new  *)
(* incarnation (a fresh core with a new epoch) that keeps quiet, taking no  *)
(* request, until its announce (ServerStart).  A crash of a server that is  *)
(* down or quiet already starts yet another incarnation.                    *)
ServerCrash(s) ==
    /\ s \in Servers
    /\ sup' = [sup EXCEPT ![s] = FALSE]
    /\ sreq' = [sreq EXCEPT ![s] = <<>>]
    /\ sserved' = [sserved EXCEPT ![s] = 0]
    /\ sdone' = [sdone EXCEPT ![s] = {}]
    /\ sepoch' = [sepoch EXCEPT ![s] = @ + 1]
    /\ UNCHANGED <<clientVars, sn, routerVars, net, ghostVars>>

(* A (re)start announces a new incarnation with served = 0 that holds no   *)
(* request.  A (re)started server keeps quiet (ignores requests, sends      *)
(* nothing) for longer than the router's silence timeout plus the longest   *)
(* time a packet stays in flight, and announces at the end: by then the     *)
(* router has dropped it from the eligible set, and every packet sent to    *)
(* it or by it before is delivered or lost (the start retires them).  The   *)
(* announce ends the quiet period begun by a ServerCrash (the incarnation   *)
(* and its epoch are the crash's); without a crash before it (a first boot, *)
(* or a restart the trace does not show) it is itself the new incarnation.  *)
ServerStart(s, n) ==
    /\ n \in Nat \ {0}
    /\ s \notin rservers
    /\ LET epoch == IF sup[s] \/ sepoch[s] = 0 THEN sepoch[s] + 1 ELSE sepoch[s]
           fb == FbMsg(s, NoClient, 0, "count", n, 0, epoch)
           Old(m) == \/ m.type \in {"REQ0", "REQN"} /\ m.dst = s
                     \/ m.type = "FEEDBACK" /\ m.server = s
       IN /\ sepoch' = [sepoch EXCEPT ![s] = epoch]
          /\ net' = [m \in DOMAIN net \cup {fb} |->
                       IF m \in DOMAIN net
                       THEN IF Old(m) THEN MaxDeliveries ELSE net[m]
                       ELSE 0]
    /\ sreq' = [sreq EXCEPT ![s] = <<>>]
    /\ sserved' = [sserved EXCEPT ![s] = 0]
    /\ sdone' = [sdone EXCEPT ![s] = {}]
    /\ sup' = [sup EXCEPT ![s] = TRUE]
    /\ gheld' = [gheld EXCEPT ![s] = {}]
    /\ sn' = [sn EXCEPT ![s] = n]
    /\ UNCHANGED <<clientVars, routerVars, received, gtakes, accepted>>

(* The announce event: a heartbeat, or a (re)start (served 0).             *)
ServerAnnounce(s, router, n, served) ==
    /\ s \in Servers /\ router = Router
    /\ \/ served = sserved[s] /\ ServerHeartbeat(s, n)
       \/ served = 0 /\ ServerStart(s, n)

Holds(s, c, r) == Key(c, r) \in DOMAIN sreq[s]
SetSreq(s, c, r, rec) ==
    sreq' = [sreq EXCEPT ![s] = [x \in DOMAIN sreq[s] \cup {Key(c, r)} |->
                                   IF x = Key(c, r) THEN rec ELSE sreq[s][x]]]
DelSreq(s, c, r) ==
    sreq' = [sreq EXCEPT ![s] = [x \in DOMAIN sreq[s] \ {Key(c, r)} |-> sreq[s][x]]]

(* Whether server s takes requests: its incarnation has announced itself.  *)
(* The buggy variant R2P2ServeBeforeAnnounce lets a restarted server take   *)
(* them during its quiet period.                                            *)
Serving(s) ==
    \/ sup[s]
    \/ "ServeBeforeAnnounce" \in Bugs /\ sepoch[s] > 0   \* BUG: serves before its announce

(* Whether a REQ0 of (c, r) is new to server s: it holds no such request,  *)
(* and this incarnation has not taken it before (a duplicated REQ0 of a     *)
(* request it served or gave up on is ignored).  The buggy variant          *)
(* R2P2ServeDuplicate forgets the requests it completed.                    *)
NewToServer(s, c, r) ==
    /\ ~Holds(s, c, r)
    /\ Key(c, r) \notin sdone[s] \/ "ServeDuplicate" \in Bugs   \* BUG: takes a duplicate again

\* gtakes with one more take of (c, r) by the current incarnation of s.
CountTake(s, c, r) ==
    LET k == <<s, sepoch[s], c, r>>
    IN gtakes' = [x \in DOMAIN gtakes \cup {k} |->
                    IF x = k THEN (IF k \in DOMAIN gtakes THEN gtakes[k] ELSE 0) + 1 ELSE gtakes[x]]

(* The REQ0 of a multi-packet request arrives (forwarded by the router,    *)
(* source address still the client's): the server keeps the incomplete     *)
(* request and answers ACK (REQRDY) to the client.  A duplicate REQ0 of a   *)
(* request it is still reassembling is answered with ACK again.             *)
ServerAck(s, client, rid, npkts) ==
    /\ Serving(s)
    /\ npkts > 1
    /\ \E m \in Msgs("REQ0") :
          /\ m.client = client /\ m.rid = rid /\ m.npkts = npkts /\ m.dst = s
          /\ Deliverable(m)
          /\ \/ /\ NewToServer(s, client, rid)
                /\ SetSreq(s, client, rid, [st |-> "partial", npkts |-> npkts, digest |-> m.digest])
             \/ /\ Holds(s, client, rid) /\ sreq[s][Key(client, rid)].st = "partial"
                /\ UNCHANGED sreq
          /\ DeliverAndSend(m, {AckMsg(client, rid, s)})
    /\ UNCHANGED <<clientVars, sn, sserved, sepoch, sup, sdone, routerVars, ghostVars>>

\* The REQn packets (c, rid) the server may have received: those sent to it.
Arrived(s, c, r, i, d) == Sent(ReqnMsg(c, r, i, d, s))

(* The server asks the client for the packets still missing from a request *)
(* it is reassembling; every packet it does not ask for must have arrived.  *)
ServerSack(s, client, rid, missing) ==
    /\ Holds(s, client, rid)
    /\ LET q == sreq[s][Key(client, rid)] IN
       /\ q.st = "partial"
       /\ missing # {} /\ missing \subseteq 1..(q.npkts - 1)
       /\ \A idx \in (1..(q.npkts - 1)) \ missing : Arrived(s, client, rid, idx, q.digest)
    /\ Send({SackMsg(client, rid, s, missing)})
    /\ UNCHANGED <<clientVars, serverVars, routerVars, ghostVars>>

(* The server has the whole request and queues it for its handler: either  *)
(* a one-packet REQ0 new to it arrives, or every REQn of an ACKed request   *)
(* has arrived (reassembled in any order).  digest is the reassembled       *)
(* body's: it must be the body the client sent (byte-exact reassembly).     *)
(* The incarnation takes each (client, rid) at most once.                   *)
ServerReceiveRequest(s, client, rid, npkts, digest) ==
    /\ Serving(s)
    /\ \/ /\ npkts = 1
          /\ NewToServer(s, client, rid)
          /\ \E m \in Msgs("REQ0") :
                /\ m.client = client /\ m.rid = rid /\ m.npkts = 1 /\ m.dst = s
                /\ m.digest = digest
                /\ Deliverable(m)
                /\ Deliver(m)
       \/ /\ npkts > 1
          /\ Holds(s, client, rid)
          /\ LET q == sreq[s][Key(client, rid)] IN
             /\ q.st = "partial" /\ q.npkts = npkts /\ q.digest = digest
             /\ \A idx \in 1..(npkts - 1) : Arrived(s, client, rid, idx, digest)
          /\ UNCHANGED net
    /\ SetSreq(s, client, rid, [st |-> "queued", npkts |-> npkts, digest |-> digest])
    /\ sdone' = [sdone EXCEPT ![s] = @ \cup {Key(client, rid)}]
    /\ received' = received \cup {<<s, client, rid>>}
    /\ CountTake(s, client, rid)
    /\ UNCHANGED <<clientVars, sn, sserved, sepoch, sup, routerVars, gheld, accepted>>

(* The handler finished a queued request: the server sends the reply (of   *)
(* npkts packets, body digest) straight to the client and a FEEDBACK to the *)
(* router naming the request, with its n and its new served count.  The    *)
(* FEEDBACK's form is the server's (Forms); a slot-form FEEDBACK carries no *)
(* n and served on the wire, the spec keeps them anyway.                    *)
ServerReply(s, client, rid, npkts, digest, served, n) ==
    /\ \/ Holds(s, client, rid) /\ sreq[s][Key(client, rid)].st = "queued"
       \/ "PhantomReply" \in Bugs /\ ~Holds(s, client, rid)   \* BUG: replies to a request it never had
    /\ npkts \in Nat \ {0}
    /\ served = sserved[s] + 1
    /\ n = sn[s]
    /\ DelSreq(s, client, rid)
    /\ sserved' = [sserved EXCEPT ![s] = served]
    /\ \E form \in Forms :
          Send({ReplyMsg(client, rid, s, npkts, digest), FbMsg(s, client, rid, form, n, served, sepoch[s])})
    /\ gheld' = [gheld EXCEPT ![s] = @ \ {Key(client, rid)}]
    /\ UNCHANGED <<clientVars, sn, sepoch, sup, sdone, routerVars, received, gtakes, accepted>>

(* The server gives up on a request it could not reassemble (its timer    *)
(* fired after a few RTOs).  No FEEDBACK: the router learns of it only      *)
(* through a later served count.  A duplicated REQ0 of it is ignored.       *)
ServerGc(s, client, rid) ==
    /\ Holds(s, client, rid)
    /\ sreq[s][Key(client, rid)].st = "partial"
    /\ DelSreq(s, client, rid)
    /\ sdone' = [sdone EXCEPT ![s] = @ \cup {Key(client, rid)}]
    /\ UNCHANGED <<clientVars, sn, sserved, sepoch, sup, routerVars, net, ghostVars>>

-----------------------------------------------------------------------------
(* ------------------------------ ROUTER --------------------------------- *)

(* The router's count of requests outstanding at server s.  Dispatches are *)
(* counted since s joined; completions are known two ways, each a lower     *)
(* bound of the truth, and the router takes the larger:                     *)
(*  - slot-form FEEDBACKs (the reference's 16 bytes) free the slot of the   *)
(*    request they name, once (rfreed);                                     *)
(*  - count-form FEEDBACKs (the thesis') carry the server's served count:   *)
(*    the highest seen, minus the count when s joined (idempotent, so a     *)
(*    lost, duplicated or late FEEDBACK does no harm).                      *)
Out(s) ==
    LET done == Max(rfreed[s], rmax[s] - rbase[s])
    IN IF rdisp[s] >= done THEN rdisp[s] - done ELSE 0

\* Out(s) in the next state.  (Not Out(s)': priming an operator application
\* primes its arguments too, which breaks the trace-validation module.)
OutAfter(s) ==
    LET done == Max(rfreed'[s], rmax'[s] - rbase'[s])
    IN IF rdisp'[s] >= done THEN rdisp'[s] - done ELSE 0

(* A client's REQ0 arrives and enters the central queue; queued is the     *)
(* queue's length after it.                                                 *)
RouterEnqueue(client, rid, queued) ==
    /\ Len(rqueue) < QueueCap
    /\ \E m \in Msgs("REQ0") :
          /\ m.client = client /\ m.rid = rid /\ m.dst = Router
          /\ Deliverable(m)
          /\ Deliver(m)
          /\ rqueue' = Append(rqueue, m)
    /\ queued = Len(rqueue) + 1
    /\ UNCHANGED <<clientVars, serverVars, rservers, rn, rdisp, rbase, rmax, rfreed, rslots,
                   repoch, ghostVars>>

(* A REQ0 arrives while the central queue is full: the router answers DROP *)
(* to the client.                                                           *)
RouterDrop(client, rid) ==
    /\ Len(rqueue) >= QueueCap
    /\ \E m \in Msgs("REQ0") :
          /\ m.client = client /\ m.rid = rid /\ m.dst = Router
          /\ Deliverable(m)
          /\ DeliverAndSend(m, {DropMsg(client, rid, Router)})
    /\ UNCHANGED <<clientVars, serverVars, routerVars, ghostVars>>

\* The servers the head of the queue may go to.  JBSQ(n): among the servers
\* with fewer than n outstanding requests, one with the fewest.  RANDOM: any.
Eligible ==
    IF Policy = "JBSQ" /\ "DispatchOverBound" \notin Bugs   \* BUG: any server, whatever its count
    THEN LET open == {s \in rservers : Out(s) < rn[s]}
         IN {s \in open : \A t \in open : Out(s) <= Out(t)}
    ELSE rservers

(* The router forwards the head of its queue to a server, keeping the      *)
(* client as the source so that the server replies straight to it.  The    *)
(* request takes a slot of the server; outstanding is the server's count   *)
(* after it.                                                                *)
RouterDispatch(client, rid, server, outstanding) ==
    /\ rqueue # <<>>
    /\ LET m == Head(rqueue) IN
       /\ m.client = client /\ m.rid = rid
       /\ server \in Eligible
       /\ rqueue' = Tail(rqueue)
       /\ Send({[m EXCEPT !.dst = server]})
    /\ rdisp' = [rdisp EXCEPT ![server] = @ + 1]
    /\ rslots' = [rslots EXCEPT ![server] = @ \cup {Key(client, rid)}]
    /\ gheld' = [gheld EXCEPT ![server] = @ \cup {Key(client, rid)}]
    /\ outstanding = Out(server) + 1
    /\ UNCHANGED <<clientVars, serverVars, rservers, rn, rbase, rmax, rfreed, repoch,
                   received, gtakes, accepted>>

(* How a FEEDBACK m from a known server s changes the router's view.  This *)
(* is what the buggy variant R2P2BlindFeedback replaces.                   *)
OnFeedback(s, m) ==
    /\ IF "BlindFeedback" \in Bugs
       THEN \* BUG: every FEEDBACK frees a slot, whatever it names and however
            \* often it was delivered.
            /\ rfreed' = [rfreed EXCEPT ![s] = @ + 1]
            /\ UNCHANGED <<rmax, rn>>
       ELSE IF m.form = "slot"
       THEN /\ rfreed' = [rfreed EXCEPT ![s] =
                             IF Key(m.client, m.rid) \in rslots[s] THEN @ + 1 ELSE @]
            /\ UNCHANGED <<rmax, rn>>
       ELSE /\ rmax' = [rmax EXCEPT ![s] = Max(@, m.served)]
            /\ rn' = [rn EXCEPT ![s] = m.n]
            /\ UNCHANGED rfreed
    /\ rslots' = [rslots EXCEPT ![s] = @ \ {Key(m.client, m.rid)}]
    /\ UNCHANGED rdisp

(* The router takes a FEEDBACK (or announce) from an eligible server, of   *)
(* the incarnation its account belongs to (a count-form FEEDBACK of an      *)
(* older incarnation is ignored: no action; one of a newer incarnation is a *)
(* RouterServerJoin).  A count-form FEEDBACK also sets the server's n.      *)
(* client and rid are those the FEEDBACK names (NoClient and 0 for an       *)
(* announce), n and served those it carries (a slot-form FEEDBACK carries   *)
(* neither: the event may report anything there).  outstanding is the       *)
(* server's count afterwards.                                               *)
RouterFeedback(server, client, rid, form, n, served, outstanding) ==
    /\ server \in rservers
    /\ \E m \in Msgs("FEEDBACK") :
          /\ m.server = server /\ m.client = client /\ m.rid = rid /\ m.form = form
          /\ form = "count" => (m.n = n /\ m.served = served /\ m.epoch = repoch[server])
          /\ Deliverable(m)
          /\ Deliver(m)
          /\ OnFeedback(server, m)
    /\ UNCHANGED <<clientVars, serverVars, rqueue, rservers, rbase, repoch, ghostVars>>
    /\ outstanding = OutAfter(server)   \* (last: TLC needs the primed variables first)

(* The router (a switch program) restarts: its soft state is gone, and it  *)
(* rebuilds the eligible set from the servers' next FEEDBACKs.  REQ0s in   *)
(* its queue are lost: their clients time out.  The bound is about what    *)
(* the router knows: requests an earlier router incarnation dispatched     *)
(* leave gheld (JbsqBound is not checked on models with router restarts:   *)
(* a served count cannot tell their serves from those of later requests).  *)
RouterRestart ==
    /\ rqueue' = <<>>
    /\ rservers' = {}
    /\ rn' = [s \in Servers |-> 0]
    /\ rdisp' = [s \in Servers |-> 0]
    /\ rbase' = [s \in Servers |-> 0]
    /\ rmax' = [s \in Servers |-> 0]
    /\ rfreed' = [s \in Servers |-> 0]
    /\ rslots' = [s \in Servers |-> {}]
    /\ repoch' = [s \in Servers |-> 0]
    /\ gheld' = [s \in Servers |-> {}]
    /\ UNCHANGED <<clientVars, serverVars, net, received, gtakes, accepted>>

(* Whether FEEDBACK m opens a new account for server s: the router has     *)
(* none (incarnation 0), or m is count-form and comes from a newer          *)
(* incarnation than the account's.  (A slot-form FEEDBACK carries no        *)
(* incarnation on the wire: a reference server that restarts keeps the      *)
(* slots of the requests it lost.)                                          *)
NewAccount(s, m) ==
    \/ repoch[s] = 0
    \/ m.form = "count" /\ m.epoch > repoch[s]

(* A FEEDBACK (typically an announce) makes a server eligible (served is    *)
(* its served count):                                                       *)
(*  - fresh: a new account, with the n it carries, nothing outstanding and  *)
(*    its served count as the base for later ones (a first join, or a new   *)
(*    incarnation); the FEEDBACK is consumed;                               *)
(*  - otherwise a server that left rejoins with its account as it was (its  *)
(*    requests dispatched before the leave still count, n as the router    *)
(*    knows it); the FEEDBACK is then taken by RouterFeedback.              *)
RouterServerJoin(server, n, served, fresh) ==
    /\ n \in Nat \ {0}
    /\ \E m \in Msgs("FEEDBACK") :
          /\ m.server = server /\ m.served = served
          /\ Deliverable(m)
          /\ fresh = NewAccount(server, m)
          /\ IF fresh
             THEN /\ m.n = n
                  /\ Deliver(m)
                  /\ rn' = [rn EXCEPT ![server] = n]
                  /\ rbase' = [rbase EXCEPT ![server] = m.served]
                  /\ rmax' = [rmax EXCEPT ![server] = m.served]
                  /\ rdisp' = [rdisp EXCEPT ![server] = 0]
                  /\ rfreed' = [rfreed EXCEPT ![server] = 0]
                  /\ rslots' = [rslots EXCEPT ![server] = {}]
                  /\ repoch' = [repoch EXCEPT ![server] = m.epoch]
             ELSE /\ server \notin rservers
                  /\ m.epoch = repoch[server]
                  /\ n = rn[server]
                  /\ UNCHANGED <<net, rn, rbase, rmax, rdisp, rfreed, rslots, repoch>>
    /\ rservers' = rservers \cup {server}
    /\ UNCHANGED <<clientVars, serverVars, rqueue, ghostVars>>

(* A server silent for too long leaves the eligible set.  Its account stays *)
(* as it is: a rejoin of the same incarnation continues it.  The buggy      *)
(* variant R2P2ForgetOnLeave drops the account instead, so that the server  *)
(* rejoins afresh while it still holds requests.                            *)
RouterServerLeave(server) ==
    /\ server \in rservers
    /\ rservers' = rservers \ {server}
    /\ IF "ForgetOnLeave" \in Bugs
       THEN repoch' = [repoch EXCEPT ![server] = 0]   \* BUG: the next FEEDBACK opens a new account
       ELSE UNCHANGED repoch
    /\ UNCHANGED <<clientVars, serverVars, rqueue, rn, rdisp, rbase, rmax, rfreed, rslots,
                   net, ghostVars>>

-----------------------------------------------------------------------------
(* ------------------------ the whole system ----------------------------- *)

\* The next rid a client issues in model checking: its lowest unused one.
NextRid(c) == Cardinality({r \in RidRange : Issued(c, r)}) + 1

ClientNext ==
    \/ \E c \in Clients, np \in 1..MaxPkts, d \in Digests :
          NextRid(c) <= MaxRid /\ ClientSend(c, NextRid(c), "LB_ROUTE", np, 0, d)
    \/ \E m \in Msgs("ACK") : ClientReceiveAck(m.client, m.rid, m.server)
    \/ \E m \in Msgs("SACK") : ClientResend(m.client, m.rid, m.server, m.missing)
    \/ \E m \in Msgs("REPLY") : ClientReceiveReply(m.client, m.rid, m.rid, m.server, m.digest)
    \/ \E m \in Msgs("DROP") : ClientReceiveDrop(m.client, m.rid, m.from)
    \/ \E k \in DOMAIN creq : ClientTimeout(k[1], k[2])

ServerNext ==
    \E s \in Servers :
       \/ \E n \in NValues : ServerHeartbeat(s, n)
       \* (model checking: a server crashes at most once, so incarnations stay bounded;
       \* it announces its first incarnation, and the one after the crash)
       \/ ~sup[s] /\ \E n \in NValues : ServerStart(s, n)
       \/ ModelRestarts /\ sup[s] /\ sepoch[s] < 2 /\ ServerCrash(s)
       \/ \E m \in Msgs("REQ0") :
             /\ m.dst = s
             /\ \/ ServerAck(s, m.client, m.rid, m.npkts)
                \/ ServerReceiveRequest(s, m.client, m.rid, 1, m.digest)
       \/ \E k \in DOMAIN sreq[s] :
             LET q == sreq[s][k] IN
             \/ ServerReceiveRequest(s, k[1], k[2], q.npkts, q.digest)
             \/ \E miss \in SUBSET (1..(q.npkts - 1)) : ServerSack(s, k[1], k[2], miss)
             \/ \E d \in Digests : ServerReply(s, k[1], k[2], 1, d, sserved[s] + 1, sn[s])
             \/ ServerGc(s, k[1], k[2])
       \/ "PhantomReply" \in Bugs /\ sn[s] # 0 /\ \E k \in DOMAIN creq, d \in Digests :
             ServerReply(s, k[1], k[2], 1, d, sserved[s] + 1, sn[s])

RouterNext ==
    \/ \E m \in Msgs("REQ0") :
          /\ m.dst = Router
          /\ \/ RouterEnqueue(m.client, m.rid, Len(rqueue) + 1)
             \/ RouterDrop(m.client, m.rid)
    \/ rqueue # <<>> /\ \E s \in Servers :
          RouterDispatch(Head(rqueue).client, Head(rqueue).rid, s, Out(s) + 1)
    \/ \E m \in Msgs("FEEDBACK") :
          \/ \E o \in {0} \cup 1..(rdisp[m.server] + 1) :
                RouterFeedback(m.server, m.client, m.rid, m.form, m.n, m.served, o)
          \/ RouterServerJoin(m.server, IF NewAccount(m.server, m) THEN m.n ELSE rn[m.server],
                                   m.served, NewAccount(m.server, m))
    \/ ModelLeave /\ \E s \in Servers : RouterServerLeave(s)
    \/ ModelRouterRestarts /\ RouterRestart

Next == ClientNext \/ ServerNext \/ RouterNext

Spec == Init /\ [][Next]_vars

\* Fairness for NoSilentLoss: a pending request's timer eventually fires
\* unless the request completes otherwise.
Fairness == \A c \in Clients, r \in RidRange : WF_vars(ClientTimeout(c, r))
FairSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* ---------------------------- properties ------------------------------- *)

TypeOK ==
    /\ \A k \in DOMAIN creq :
          /\ k[1] \in Clients /\ k[2] \in RidRange
          /\ creq[k].st \in {"pending", "replied", "dropped", "timedout"}
          /\ creq[k].npkts \in 1..MaxPkts
          /\ creq[k].acked \in Servers \cup {NoServer}
          /\ creq[k].armed \in BOOLEAN
    /\ \A s \in Servers : \A k \in DOMAIN sreq[s] : sreq[s][k].st \in {"partial", "queued"}
    /\ sn \in [Servers -> Nat] /\ sserved \in [Servers -> Nat]
    /\ sepoch \in [Servers -> Nat] /\ repoch \in [Servers -> Nat]
    /\ sup \in [Servers -> BOOLEAN]
    /\ sdone \in [Servers -> SUBSET (Clients \X RidRange)]
    /\ \A k \in DOMAIN gtakes : gtakes[k] \in Nat
    /\ Len(rqueue) <= QueueCap
    /\ rservers \subseteq Servers
    /\ rdisp \in [Servers -> Nat] /\ rfreed \in [Servers -> Nat]
    /\ rslots \in [Servers -> SUBSET (Clients \X RidRange)]
    /\ \A m \in DOMAIN net : net[m] \in 0..MaxDeliveries
    /\ received \subseteq Servers \X Clients \X RidRange

(* JBSQ(n): the requests the router dispatched to server s (since it opened *)
(* s's account) that s has not answered never exceed n.  Computed from the *)
(* truth (dispatches and the server's replies), not from the router's       *)
(* estimate.                                                                *)
JbsqBound ==
    Policy = "JBSQ" => \A s \in Servers : rn[s] # 0 => Cardinality(gheld[s]) <= rn[s]

(* The router's own count never exceeds n either (what a trace shows).     *)
RouterCountBound ==
    Policy = "JBSQ" => \A s \in rservers : Out(s) <= rn[s]

(* Every reply a client accepted answers the request with that triplet: a  *)
(* server that had that request sent that reply.                            *)
ReplyMatchesRequest ==
    \A a \in accepted :
       /\ a.replyRid = a.rid
       /\ <<a.server, a.client, a.rid>> \in received
       /\ \E m \in Msgs("REPLY") :
             m.client = a.client /\ m.rid = a.rid /\ m.server = a.server /\ m.digest = a.digest

(* A server takes each (client, rid) at most once per incarnation: a REQ0  *)
(* the network duplicated, or the router dispatched twice, is not served    *)
(* again.                                                                   *)
ServerTakesOnce == \A k \in DOMAIN gtakes : gtakes[k] <= 1

(* A server serves only once its incarnation has announced itself: one     *)
(* that crashed, or is still quiet after its restart, holds no request and  *)
(* has served none.                                                         *)
ServesOnlyAnnounced ==
    \A s \in Servers : ~sup[s] => (sreq[s] = <<>> /\ sserved[s] = 0)

(* No silent loss, the state-based part: a pending request always has its  *)
(* timer armed, so it cannot stay pending forever.                          *)
PendingHasTimer == \A k \in DOMAIN creq : creq[k].st = "pending" => creq[k].armed

(* No silent loss, the liveness form (checked under FairSpec): every        *)
(* request issued is eventually replied, dropped or timed out.              *)
NoSilentLoss ==
    \A c \in Clients, r \in RidRange : [](Pending(c, r) => <>(~Pending(c, r)))

(* Terminal-state form: when nothing can happen any more, no request is     *)
(* pending.                                                                 *)
QuiescentNoPending == (~ENABLED Next) => \A k \in DOMAIN creq : creq[k].st # "pending"
=============================================================================
