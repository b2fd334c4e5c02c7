------------------------ MODULE HovercRaftDoubleVote ------------------------
(* Buggy variant: the spec with the seeded bug "DoubleVote" switched on    *)
(* (see the Bugs constant in HovercRaft.tla and HovercRaftDoubleVote.cfg): *)
(* a node grants its vote twice in a term. TLC must find a counterexample. *)
EXTENDS MCHovercRaft
=============================================================================
