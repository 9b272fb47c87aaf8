"""Layer 4: Monte Carlo samplers (numba spin chains, Langevin) and their estimators.

``sampling.sample(model, p0, k, rule=..., scan=..., n_chains=..., seed=...)`` dispatches on the
model type through the model registry (:mod:`shortrun.numerics.sampling.base`).
"""
from shortrun.numerics.sampling.base import initial_states, sample
from shortrun.numerics.sampling.langevin import sample_ula
from shortrun.numerics.sampling.spins import (DEFAULT_CHAINS, SERIAL_BELOW, histogram, stats,
                                              stats_error, threads)

__all__ = ["DEFAULT_CHAINS", "SERIAL_BELOW", "histogram", "initial_states", "sample",
           "sample_ula", "stats", "stats_error", "threads"]
