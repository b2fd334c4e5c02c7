-------------------- MODULE HovercRaftReplierReannounced --------------------
(* Buggy variant: the spec with the seeded bug "ReplierReannounced"        *)
(* switched on (see the Bugs constant in HovercRaft.tla and                *)
(* HovercRaftReplierReannounced.cfg): the leader announces an entry again, *)
(* with another replier. TLC must find a counterexample.                   *)
EXTENDS MCHovercRaft
=============================================================================
