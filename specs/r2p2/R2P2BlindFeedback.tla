------------------------- MODULE R2P2BlindFeedback -------------------------
(* Buggy variant: the spec with the seeded bug "BlindFeedback" switched on (see    *)
(* the Bugs constant in R2P2.tla and R2P2BlindFeedback.cfg).  TLC must find a      *)
(* counterexample.                                                          *)
EXTENDS MCR2P2
=============================================================================
