"""shortrun: exact theory of non-convergent (short-run) MCMC training of energy-based models.

Sub-packages
------------
shortrun.numerics
    Exact state-space machinery (2^N states), Markov kernels, spectra, exact training,
    numba Monte Carlo.
shortrun.theory
    Closed forms (sympy) of the solvable models: Gaussian/Langevin, independent spins,
    high-temperature Ising.
shortrun.paper_figures
    One script per figure and ``python -m shortrun.paper_figures`` to make them all.
"""

__version__ = "0.1.0"
