------------------------ MODULE HovercRaftReplyByAll ------------------------
(* Buggy variant: the spec with the seeded bug "ReplyByAll" switched on    *)
(* (see the Bugs constant in HovercRaft.tla and HovercRaftReplyByAll.cfg): *)
(* every node that applies a request answers it. TLC must find a           *)
(* counterexample.                                                         *)
EXTENDS MCHovercRaft
=============================================================================
