"""Closed-form theory of the solvable models (sympy expressions and numpy twins).

The equations and their tags are stated in ``docs/theory.md``.

Modules
-------
gaussian
    Gaussian EBM under short-run Langevin/ULA: (Ga)-(Gd), (Ge), fixed points, memory curve (Gm).
independent
    Independent spins: m(k) and the trained field h*(k) for every rule and scan (S1), (S2).
high_temperature
    Weak-coupling Ising: (Ia), (Ib), exact-N random scan, other update rules (Ic).
moment_expansion
    The sympy derivation engine behind high_temperature (moment equations order by order).
"""
