"""The sampler interface: one function per task, dispatched on the model type.

A model type registers its Monte Carlo sampler with :func:`sample` (``@sample.register``) and its
initial-state draw with :func:`initial_states`; the Monte Carlo trainer uses only these two and
the model's ``sample_stats``.
"""
from __future__ import annotations

from shortrun.numerics.core.dispatch import model_dispatch


@model_dispatch
def sample(model, p0, k, rule="heatbath", scan="random", n_chains=None, seed=0, times=None):
    r"""States of ``n_chains`` seeded chains after k steps from ``p0``: the Monte Carlo twin of
    :func:`shortrun.numerics.kernels.law` (G2), same signature.  See the registered
    implementation of the model type (e.g. :func:`shortrun.numerics.sampling.spins.sample`)."""
    raise ValueError(f"model must be a model with a registered sampler (BoltzmannMachine, RBM, "
                     f"...); got {type(model).__name__}.  Build one with "
                     "shortrun.numerics.models.BoltzmannMachine(h, J).")


@model_dispatch
def initial_states(model, p0, n_chains, seed):
    """``n_chains`` initial states of ``model``'s chains drawn from ``p0`` (a law, 'uniform' or
    given states), a function of ``seed`` alone."""
    raise ValueError(f"model must be a model with a registered sampler; got {type(model).__name__}.")
