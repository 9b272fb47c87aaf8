"""Layer 5: the training problem, exact gradient ascent, Monte Carlo training and Newton.

``training.train`` is the exact trainer; ``training.monte_carlo.train`` the Monte Carlo one;
``training.fixed_point.solve`` the Newton solver.
"""
from shortrun.numerics.training.exact import (PROTOCOLS, DivergenceMonitor, History, Problem,
                                              TrainingResult, divergence_message,
                                              independent_spin_bound, parameter_mask, problem,
                                              train)

__all__ = ["PROTOCOLS", "DivergenceMonitor", "History", "Problem", "TrainingResult",
           "divergence_message", "independent_spin_bound", "parameter_mask", "problem", "train"]
