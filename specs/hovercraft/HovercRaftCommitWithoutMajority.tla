------------------ MODULE HovercRaftCommitWithoutMajority -------------------
(* Buggy variant: the spec with the seeded bug "CommitWithoutMajority"     *)
(* switched on (see the Bugs constant in HovercRaft.tla and                *)
(* HovercRaftCommitWithoutMajority.cfg): the leader commits an entry of    *)
(* its term that only it holds. TLC must find a counterexample.            *)
EXTENDS MCHovercRaft
=============================================================================
