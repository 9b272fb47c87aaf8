"""The sampler interface: one function per task, looked up in the model registry.

A model type registers its Monte Carlo sampler and its initial-state draw once, with
:func:`shortrun.numerics.core.dispatch.register_model` (``sampler=``, ``initial_states=``, in
``numerics/registry.py``); the Monte Carlo trainer uses only these two and the model's
``sample_stats``.  ``rule=None`` / ``scan=None`` mean the model's own (``DEFAULT_RULE`` /
``DEFAULT_SCAN``).
"""
from __future__ import annotations

from shortrun.numerics.core.dispatch import capability
from shortrun.numerics.models.base import Model, update_names


def sample(model, p0, k, rule=None, scan=None, n_chains=None, seed=0, times=None):
    r"""States of ``n_chains`` seeded chains after k steps from ``p0``: the Monte Carlo twin of
    :func:`shortrun.numerics.kernels.law` (G2), same signature.  See the registered
    implementation of the model type (e.g. :func:`shortrun.numerics.sampling.spins.sample`)."""
    run = capability(model, "sampler", model_base=Model)
    rule, scan = update_names(model, rule, scan, validate=False)
    return run(model, p0, k, rule, scan, n_chains, seed, times)


def initial_states(model, p0, n_chains, seed):
    """``n_chains`` initial states of ``model``'s chains drawn from ``p0`` (a law, 'uniform' or
    given states), a function of ``seed`` alone."""
    return capability(model, "initial_states", model_base=Model)(model, p0, n_chains, seed)
