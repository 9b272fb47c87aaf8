"""Layer 3: exact Markov kernels on 2^N states, their dense reference, spectra and tangents.

``kernels.law(model, p0, k, rule=..., scan=...)`` is p(k, p0) = U^k p0 (G2) for any model whose
kernel is registered (:func:`shortrun.numerics.core.dispatch.register_model`, called for the
shipped models in ``numerics/registry.py``).
"""
from shortrun.numerics.kernels.base import (Kernel, NotBoltzmannWarning, kernel, law, law_tangent,
                                            poisson_weights, stationary_tangent)
from shortrun.numerics.kernels.boltzmann import (PARALLEL_MAX_N, BMKernel,
                                                 parallel_heatbath_stationary)
from shortrun.numerics.kernels.dense import DENSE_MAX_N, check_dense_size
from shortrun.numerics.kernels.spectral import NonUniqueStationaryError
from shortrun.numerics.kernels.potts import PottsKernel
from shortrun.numerics.kernels.rbm import RBMKernel

__all__ = ["BMKernel", "DENSE_MAX_N", "Kernel", "NonUniqueStationaryError", "NotBoltzmannWarning",
           "PARALLEL_MAX_N", "PottsKernel", "RBMKernel", "check_dense_size", "kernel", "law",
           "law_tangent", "parallel_heatbath_stationary", "poisson_weights", "stationary_tangent"]
