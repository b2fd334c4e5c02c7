---------------------- MODULE HovercRaftLeaderReplies -----------------------
(* Buggy variant: the spec with the seeded bug "LeaderReplies" switched on *)
(* (see the Bugs constant in HovercRaft.tla and                            *)
(* HovercRaftLeaderReplies.cfg): the leader answers the requests it        *)
(* applies, instead of their repliers. TLC must find a counterexample.     *)
EXTENDS MCHovercRaft
=============================================================================
