--------------------- MODULE HovercRaftSendUnannounced ----------------------
(* Buggy variant: the spec with the seeded bug "SendUnannounced" switched  *)
(* on (see the Bugs constant in HovercRaft.tla and                         *)
(* HovercRaftSendUnannounced.cfg): the leader sends entries it has not     *)
(* announced, with no replier. TLC must find a counterexample.             *)
EXTENDS MCHovercRaft
=============================================================================
