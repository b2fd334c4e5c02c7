----------------------- MODULE R2P2DispatchOverBound ------------------------
(* Buggy variant: the spec with the seeded bug "DispatchOverBound"         *)
(* switched on (see the Bugs constant in R2P2.tla and                      *)
(* R2P2DispatchOverBound.cfg): the router dispatches to any server,        *)
(* whatever its count. TLC must find a counterexample.                     *)
EXTENDS MCR2P2
=============================================================================
