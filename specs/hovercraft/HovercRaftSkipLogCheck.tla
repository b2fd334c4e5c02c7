----------------------- MODULE HovercRaftSkipLogCheck -----------------------
(* Buggy variant: the spec with the seeded bug "SkipLogCheck" switched on  *)
(* (see the Bugs constant in HovercRaft.tla and                            *)
(* HovercRaftSkipLogCheck.cfg): a follower takes append_entries without    *)
(* checking the term at prevIndex. TLC must find a counterexample.         *)
EXTENDS MCHovercRaft
=============================================================================
