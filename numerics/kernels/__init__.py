"""Layer 2: exact Markov kernels on 2^N states, their dense reference, spectra and tangents.

``kernels.law(model, p0, k, rule=..., scan=...)`` is p(k, p0) = U^k p0 (G2).
"""
from shortrun.numerics.kernels.boltzmann import (PARALLEL_MAX_N, BMKernel, Kernel,
                                                 NotBoltzmannWarning, law,
                                                 parallel_heatbath_stationary, poisson_weights)
from shortrun.numerics.kernels.dense import DENSE_MAX_N, check_dense_size
from shortrun.numerics.kernels.spectral import NonUniqueStationaryError

__all__ = ["BMKernel", "DENSE_MAX_N", "Kernel", "NonUniqueStationaryError", "NotBoltzmannWarning",
           "PARALLEL_MAX_N", "check_dense_size", "law", "parallel_heatbath_stationary",
           "poisson_weights"]
