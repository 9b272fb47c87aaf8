"""Kernels and exact tangents of :class:`~shortrun.numerics.models.independent.IndependentSpins`:
the Boltzmann-machine chains at J = 0, with the tangent restricted to the fields (θ = h)."""
from __future__ import annotations

from shortrun.numerics.kernels.base import law_tangent, stationary_tangent
from shortrun.numerics.kernels.boltzmann import BMKernel
from shortrun.numerics.models.independent import IndependentSpins


def independent_kernel(model: IndependentSpins, rule="heatbath", scan="random", *, warn=True):
    return BMKernel(model.as_boltzmann_machine(), rule, scan, warn=warn)


def independent_law_tangent(model: IndependentSpins, p0, k, rule="heatbath", scan="random"):
    p, D = law_tangent(model.as_boltzmann_machine(), p0, k, rule, scan)
    return p, D[:, : model.N]


def independent_stationary_tangent(model: IndependentSpins, rule="heatbath", scan="random"):
    p, D = stationary_tangent(model.as_boltzmann_machine(), rule, scan)
    return p, D[:, : model.N]
