------------------------- MODULE R2P2ForgetOnLeave -------------------------
(* Buggy variant: the spec with the seeded bug "ForgetOnLeave" switched on (see    *)
(* the Bugs constant in R2P2.tla and R2P2ForgetOnLeave.cfg): the router drops a    *)
(* server's account when it leaves, so a live server that rejoins is counted from  *)
(* zero while it still holds a request.  TLC must find a counterexample.          *)
EXTENDS MCR2P2
=============================================================================
