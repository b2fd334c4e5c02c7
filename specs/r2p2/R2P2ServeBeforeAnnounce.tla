---------------------- MODULE R2P2ServeBeforeAnnounce ----------------------
(* Buggy variant: the spec with the seeded bug "ServeBeforeAnnounce"        *)
(* switched on (see the Bugs constant in R2P2.tla and                       *)
(* R2P2ServeBeforeAnnounce.cfg): a restarted server takes requests before   *)
(* it announces its new incarnation.  TLC must find a counterexample.       *)
EXTENDS MCR2P2
=============================================================================
