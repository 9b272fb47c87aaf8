"""Layer 3: Monte Carlo samplers (numba spin chains, Langevin) and their estimators."""
from shortrun.numerics.sampling.langevin import sample_ula
from shortrun.numerics.sampling.spins import (DEFAULT_CHAINS, SERIAL_BELOW, histogram,
                                              initial_states, sample, stats, stats_error, threads)

__all__ = ["DEFAULT_CHAINS", "SERIAL_BELOW", "histogram", "initial_states", "sample",
           "sample_ula", "stats", "stats_error", "threads"]
