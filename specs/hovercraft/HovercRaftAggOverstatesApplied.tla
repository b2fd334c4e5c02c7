-------------------- MODULE HovercRaftAggOverstatesApplied --------------------
(* Buggy variant: the spec with the seeded bug "AggOverstatesApplied"     *)
(* switched on (see the Bugs constant in HovercRaft.tla and                *)
(* HovercRaftAggOverstatesApplied.cfg): the aggregator records a          *)
(* follower's match index as its applied index, so AGG_COMMIT overstates  *)
(* it to the leader. TLC must find a counterexample.                       *)
EXTENDS MCHovercRaft
=============================================================================
