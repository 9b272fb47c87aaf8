"""Shared test helpers: tolerances and seeded random models.

Tolerance policy (docs/architecture.md): exact-vs-exact comparisons on 2^N states use
``exact_tol(N) = 16 · 2^N · eps`` (round-off grows at most linearly with the number of states
summed); a route that inverts an ill-conditioned similarity (the spectral route of a non-normal
kernel) uses the bound it computes from its condition number (``Spectrum.error_bound``); Monte
Carlo comparisons use nσ of the computed error bar.

Perturbed mode: ``SHORTRUN_PERTURB=1e-14 [SHORTRUN_PERTURB_SEED=s] pytest ...`` moves every
Newton start and every input law by a relative 1e-14 (``shortrun.numerics.core.perturb``, read
there only); the header of the run says whether it is on.
"""
from __future__ import annotations

import numpy as np
import pytest

from shortrun.numerics import models
from shortrun.numerics.core import perturb

EPS = np.finfo(float).eps

RULES = ("heatbath", "metropolis")
DISCRETE_SCANS = ("random", "sequential", "parallel")
SCANS = DISCRETE_SCANS + ("continuous",)


def exact_tol(N, factor=16.0):
    """Tolerance for exact linear algebra on 2^N states: factor · 2^N · eps."""
    return factor * (1 << N) * EPS


def random_bm(N, seed, scale=1.0, field=0.5):
    """Seeded SK-like BM: J_ij ~ N(0, scale²/N) (i<j, symmetrised), h_i ~ N(0, field²)."""
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, scale / np.sqrt(N), (N, N)), 1)
    return models.BoltzmannMachine(rng.normal(0.0, field, N), J + J.T)


def random_distribution(N, seed):
    rng = np.random.default_rng(seed)
    p = rng.random(1 << N)
    return p / p.sum()


@pytest.fixture
def tol():
    return exact_tol


def pytest_report_header(config):
    eps = perturb.amplitude()
    if eps:
        return (f"perturbed mode: {perturb.ENV}={eps:g}, {perturb.SEED_ENV}={perturb.seed()} "
                "(every Newton start and input law moved by this relative amount)")
    return f"perturbed mode: off ({perturb.ENV} unset)"
