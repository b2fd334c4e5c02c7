------------------- MODULE HovercRaftAdmitAboveThreshold --------------------
(* Buggy variant: the spec with the seeded bug "AdmitAboveThreshold"       *)
(* switched on (see the Bugs constant in HovercRaft.tla and                *)
(* HovercRaftAdmitAboveThreshold.cfg): the middlebox admits a request      *)
(* while every slot is held. TLC must find a counterexample.               *)
EXTENDS MCHovercRaft
=============================================================================
