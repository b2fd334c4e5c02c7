----------------------- MODULE HovercRaftBoundIgnored -----------------------
(* Buggy variant: the spec with the seeded bug "BoundIgnored" switched on  *)
(* (see the Bugs constant in HovercRaft.tla and                            *)
(* HovercRaftBoundIgnored.cfg): the leader picks any node as replier,      *)
(* whatever its queue. TLC must find a counterexample.                     *)
EXTENDS MCHovercRaft
=============================================================================
