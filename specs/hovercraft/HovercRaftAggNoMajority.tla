---------------------- MODULE HovercRaftAggNoMajority -----------------------
(* Buggy variant: the spec with the seeded bug "AggNoMajority" switched on *)
(* (see the Bugs constant in HovercRaft.tla and                            *)
(* HovercRaftAggNoMajority.cfg): the aggregator commits an index no        *)
(* majority matches. TLC must find a counterexample.                       *)
EXTENDS MCHovercRaft
=============================================================================
