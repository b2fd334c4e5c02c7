------------------------------- MODULE MCR2P2 -------------------------------
(* Model module for TLC: the spec with model-value identities and a        *)
(* symmetry set over clients and servers (safety models only).             *)
EXTENDS R2P2
CONSTANTS c1, c2, s1, s2, r
MCClients == {c1, c2}
MCServers == {s1, s2}
MCOneServer == {s1}
MCOneClient == {c1}
Symmetry == Permutations(MCClients) \cup Permutations(MCServers)
=============================================================================
