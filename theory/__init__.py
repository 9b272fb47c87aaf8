"""Closed-form theory of the solvable models (sympy expressions and numpy twins)."""
