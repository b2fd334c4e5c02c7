------------------------- MODULE R2P2PhantomReply -------------------------
(* Buggy variant: the spec with the seeded bug "PhantomReply" switched on (see    *)
(* the Bugs constant in R2P2.tla and R2P2PhantomReply.cfg).  TLC must find a      *)
(* counterexample.                                                          *)
EXTENDS MCR2P2
=============================================================================
