------------------ MODULE HovercRaftReplyAgainAfterRestart ------------------
(* Buggy variant: the spec with the seeded bug "ReplyAgainAfterRestart"    *)
(* switched on (see the Bugs constant in HovercRaft.tla and                *)
(* HovercRaftReplyAgainAfterRestart.cfg): a restarted node answers again   *)
(* the entries it answered before its crash. TLC must find a               *)
(* counterexample.                                                         *)
EXTENDS MCHovercRaft
=============================================================================
