"""The registered models: one :func:`~shortrun.numerics.core.dispatch.register_model` call per model
type, with its exact kernel, tangents, Monte Carlo sampler and initial-state draw.

This is the one place a model type is switched on; ``shortrun.numerics`` imports it, so every
model below is registered as soon as any part of the package is imported.  A new model adds one
call here (docs/architecture.md, "How to add a model") and one line to the contract suite
(``tests/test_model_contract.py``).
"""
from shortrun.numerics.core.dispatch import register_model
from shortrun.numerics.kernels import independent as _independent_kernels
from shortrun.numerics.kernels import potts as _potts_kernels
from shortrun.numerics.kernels import rbm as _rbm_kernels
from shortrun.numerics.kernels import tangent as _bm_tangents
from shortrun.numerics.kernels.boltzmann import BMKernel
from shortrun.numerics.models import RBM, BoltzmannMachine, IndependentSpins
from shortrun.numerics.models.potts import PottsMachine
from shortrun.numerics.sampling import potts as _potts_sampling
from shortrun.numerics.sampling import rbm as _rbm_sampling
from shortrun.numerics.sampling import spins as _spin_sampling

register_model(BoltzmannMachine, kernel=BMKernel,
               law_tangent=_bm_tangents.law_tangent,
               stationary_tangent=_bm_tangents.stationary_tangent,
               sampler=_spin_sampling.sample,
               initial_states=_spin_sampling.model_initial_states)

register_model(IndependentSpins, kernel=_independent_kernels.independent_kernel,
               law_tangent=_independent_kernels.independent_law_tangent,
               stationary_tangent=_independent_kernels.independent_stationary_tangent,
               sampler=_spin_sampling.independent_sample,
               initial_states=_spin_sampling.model_initial_states)

register_model(RBM, kernel=_rbm_kernels.rbm_kernel,
               law_tangent=_rbm_kernels.rbm_law_tangent,
               stationary_tangent=_rbm_kernels.rbm_stationary_tangent,
               sampler=_rbm_sampling.sample,
               initial_states=_rbm_sampling.rbm_initial_states)

register_model(PottsMachine, kernel=_potts_kernels.potts_kernel,
               law_tangent=_potts_kernels.potts_law_tangent,
               stationary_tangent=_potts_kernels.potts_stationary_tangent,
               sampler=_potts_sampling.sample,
               initial_states=_potts_sampling.initial_states)
