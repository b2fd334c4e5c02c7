-------------------- MODULE HovercRaftFeedbackFreesOther --------------------
(* Buggy variant: the spec with the seeded bug "FeedbackFreesOther"        *)
(* switched on (see the Bugs constant in HovercRaft.tla and                *)
(* HovercRaftFeedbackFreesOther.cfg): a FEEDBACK about a request that      *)
(* holds no slot frees the slot of another request. TLC must find a        *)
(* counterexample.                                                         *)
EXTENDS MCHovercRaft
=============================================================================
