--------------------------- MODULE R2P2AckDisarms ---------------------------
(* Buggy variant: the spec with the seeded bug "AckDisarms" switched on    *)
(* (see the Bugs constant in R2P2.tla and R2P2AckDisarms.cfg): the ACK of  *)
(* a multi-packet request stops the client's timer. TLC must find a        *)
(* counterexample.                                                         *)
EXTENDS MCR2P2
=============================================================================
