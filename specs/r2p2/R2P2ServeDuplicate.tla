------------------------- MODULE R2P2ServeDuplicate -------------------------
(* Buggy variant: the spec with the seeded bug "ServeDuplicate" switched on *)
(* (see the Bugs constant in R2P2.tla and R2P2ServeDuplicate.cfg): a server *)
(* forgets the requests it completed and takes a duplicated REQ0 again.     *)
(* TLC must find a counterexample.                                          *)
EXTENDS MCR2P2
=============================================================================
