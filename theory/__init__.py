"""Closed-form theory of the solvable models (sympy expressions and numpy twins).

Modules
-------
gaussian
    Gaussian EBM under short-run Langevin/ULA (SPEC 3): (Ga)-(Gd), fixed points, memory curve.
independent
    Independent spins (SPEC 4.1): m(k) and the trained field h*(k) for every rule and scan.
high_temperature
    Weak-coupling Ising (SPEC 4.2-4.3): (Ia), (Ib), exact-N random scan, other update rules.
moment_expansion
    The sympy derivation engine behind high_temperature (moment equations order by order).
"""
