--------------------- MODULE HovercRaftApplyUncommitted ---------------------
(* Buggy variant: the spec with the seeded bug "ApplyUncommitted" switched *)
(* on (see the Bugs constant in HovercRaft.tla and                         *)
(* HovercRaftApplyUncommitted.cfg): a node applies entries it does not     *)
(* know committed. TLC must find a counterexample.                         *)
EXTENDS MCHovercRaft
=============================================================================
