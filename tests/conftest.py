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

import importlib

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


def resolve_dotted(dotted):
    """Import the longest importable module prefix of ``dotted`` and get the rest as attributes
    (ImportError / AttributeError when the name does not exist)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)  # AttributeError: the name does not exist
        return obj
    raise ImportError(dotted)


def mc_gradients(model, p_data, k, rule, scan, n_chains, n_draws, seed):
    r"""``n_draws`` independent Monte Carlo estimates of the biased gradient (G4) at the fixed
    ``model``, :math:`\langle\phi\rangle_{p_{\rm data}} - \overline{\phi}` over ``n_chains``
    Rdm-k chains from the uniform law, draw n seeded by ``rng.chain_key(seed, n)``: the gradient
    that update n of ``monte_carlo.train(p_data, k, 'rdm', ..., seed=seed)`` computes at θ
    (which refuses lr = 0, so the draws at one θ are taken here)."""
    from shortrun.numerics import sampling
    from shortrun.numerics.core import rng
    target = model.stats(p_data)
    return np.array([target - model.sample_stats(sampling.sample(
        model, "uniform", k, rule=rule, scan=scan, n_chains=n_chains,
        seed=int(rng.chain_key(seed, n)))) for n in range(n_draws)])


@pytest.fixture
def tol():
    return exact_tol


def pytest_report_header(config):
    eps = perturb.amplitude()
    if eps:
        return (f"perturbed mode: {perturb.ENV}={eps:g}, {perturb.SEED_ENV}={perturb.seed()} "
                "(every Newton start and input law moved by this relative amount)")
    return f"perturbed mode: off ({perturb.ENV} unset)"


def richardson_fd_check(f, theta, D, noise, h=1e-4, slack=0.0):
    """Central differences of f along every θ_b at steps h and h/2 against the tangent D.

    Bound: the Richardson estimate of the truncation error (the h/2 error is a quarter of the
    difference of the two, |fd_h − fd_{h/2}|/3) plus the noise of one evaluation of f divided
    by h; each entry must lie within twice the bound (plus ``slack``)."""
    for b in range(theta.size):
        e = np.zeros_like(theta)
        e[b] = 1.0
        fd1 = (f(theta + h * e) - f(theta - h * e)) / (2 * h)
        fd2 = (f(theta + h / 2 * e) - f(theta - h / 2 * e)) / h
        bound = np.abs(fd1 - fd2) / 3 + noise / h
        err = np.abs(D[:, b] - fd2)
        assert np.all(err <= 2 * bound + slack), (b, float(err.max()), float(bound.max()))
