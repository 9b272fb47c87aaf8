"""Layer 6: the training problem, exact gradient ascent, Monte Carlo training and Newton.

``training.train`` is the exact trainer; ``training.monte_carlo.train`` the Monte Carlo one;
``training.fixed_point.solve`` the Newton solver.  All three take ``model=`` (the model family;
a Boltzmann machine by default) and work through the model interface only.
"""
from shortrun.conventions import PROTOCOLS
from shortrun.numerics.training.divergence import (DivergenceMonitor, divergence_message,
                                                   independent_spin_bound)
from shortrun.numerics.training.exact import train
from shortrun.numerics.training.problem import Problem, parameter_mask, problem
from shortrun.numerics.training.result import History, TrainingResult

__all__ = ["PROTOCOLS", "DivergenceMonitor", "History", "Problem", "TrainingResult",
           "divergence_message", "independent_spin_bound", "parameter_mask", "problem", "train"]
