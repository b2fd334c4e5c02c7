-------------------- MODULE HovercRaftReplierReassigned ---------------------
(* Buggy variant: the spec with the seeded bug "ReplierReassigned"         *)
(* switched on (see the Bugs constant in HovercRaft.tla and                *)
(* HovercRaftReplierReassigned.cfg): the leader picks an announced entry's *)
(* replier again. TLC must find a counterexample.                          *)
EXTENDS MCHovercRaft
=============================================================================
