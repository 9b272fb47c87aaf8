"""The model contract, checked on every registered model type (one parametrised suite).

A model type joins with one line in :data:`CASES` (like scipy's ``distcont`` list): a factory of a
small member at a generic θ.  For every (rule, scan) its class declares, the suite checks

* the exact kernel is column-stochastic (a generator's columns sum to 0 in continuous time);
* its stationary law is the model's Gibbs law ``boltzmann()`` where the kernel says so
  (``equilibrium_stationary``), and detailed balance holds where it says ``reversible``;
* ``law_tangent`` and ``stationary_tangent`` against central finite differences of ``law`` and
  of the kernel's stationary law, with a Richardson error bound computed from two step sizes;
* the Monte Carlo sampler against the exact k-step law: Pearson's χ² test on the state
  histogram of 20000 seeded chains (bins pooled to expected counts >= 5), refused at p < 1e-4;

and on the model's own (default) update: Newton and exact training reach the Rdm-k fixed point
of the model's own Gibbs data to |F|_inf <= 1e-10, and the k-step process then matches the
data's statistics.  Exact-vs-exact tolerances are ``16 * n_states * eps`` (a sum of n_states
terms, each rounded once; tests/conftest.py).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import product

import numpy as np
import pytest
from conftest import richardson_fd_check
from scipy import stats as scipy_stats

from shortrun.numerics import kernels, sampling, training
from shortrun.numerics.analysis import diagnostics
from shortrun.numerics.core import dispatch, perturb
from shortrun.numerics.core.dispatch import (MissingCapability, capabilities, register_model,
                                             registered_models)
from shortrun.numerics.data import teachers
from shortrun.numerics.data.potts import exact_potts_data
from shortrun.numerics.kernels.spectral import NonUniqueStationaryError
from shortrun.numerics.models import RBM, BoltzmannMachine, IndependentSpins
from shortrun.numerics.models.base import Model, mixed_radix_digits, mixed_radix_index
from shortrun.numerics.models.potts import PottsMachine
from shortrun.numerics.training import fixed_point, monte_carlo

EPS = np.finfo(float).eps
#: parallel heat-bath's stationary law is not the Gibbs law: the suite checks what the kernel says
pytestmark = pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")


@dataclass(frozen=True)
class Case:
    """One model of the suite: ``make()`` returns a small member at a generic θ; ``k`` the steps
    of the k-step checks; ``theta0(model)`` the Newton start (None: the problem's default);
    ``data(model)`` the model's Gibbs law as a ``teachers.Data`` of its state space (default
    ``Data.from_distribution``, 2^N states); ``slow``: run only with ``-m slow``."""

    name: str
    make: object
    k: int = 2
    theta0: object = None
    slow: bool = False
    data: object = None

    def gibbs_data(self, model):
        if self.data is not None:
            return self.data(model)
        return teachers.Data.from_distribution(np.array(model.boltzmann()))


def _bm():
    J = np.array([[0.0, 0.35, -0.2], [0.35, 0.0, 0.25], [-0.2, 0.25, 0.0]])
    return BoltzmannMachine(np.array([0.3, -0.2, 0.1]), J)


#: The registered models under test: one line per model type.
CASES = [
    Case("bm", _bm),
    Case("independent", lambda: IndependentSpins(np.array([0.4, -0.3, 0.2]))),
    Case("rbm", lambda: RBM.random(4, 1, seed=3, scale=0.8, field=0.3), theta0=lambda m: m.theta),
    Case("potts-q3", lambda: PottsMachine.random(3, 3, seed=0), data=exact_potts_data),
    Case("bm-sk6", lambda: teachers.sk(6, 0.6, seed=2, field=0.3).model, k=3, slow=True),
    Case("rbm-5x1", lambda: RBM.random(5, 1, seed=4, scale=0.8, field=0.3),
         theta0=lambda m: m.theta, slow=True),
]


def _params(cases, per_update=True):
    out = []
    for case in cases:
        marks = [pytest.mark.slow] if case.slow else []
        if not per_update:
            out.append(pytest.param(case, id=case.name, marks=marks))
            continue
        cls = type(case.make())
        for rule, scan in product(cls.RULES, cls.SCANS):
            out.append(pytest.param(case, rule, scan, id=f"{case.name}-{rule}-{scan}",
                                    marks=marks))
    return out


def _tol(model):
    return 16.0 * model.n_states * EPS


def _kernel(model, rule, scan):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kernels.NotBoltzmannWarning)
        return kernels.kernel(model, rule, scan, warn=False)


def _k(case, scan):
    return float(case.k) if scan == "continuous" else case.k


def test_every_registered_model_type_is_in_the_suite():
    tested = {type(c.make()) for c in CASES if not c.slow}
    assert [t.__name__ for t in registered_models() if t not in tested] == []


@pytest.mark.parametrize("case", _params(CASES, per_update=False))
def test_the_model_declares_its_state_space_and_update(case):
    model = case.make()
    assert isinstance(model, Model)
    assert len(model.levels) == model.n_units and all(q >= 2 for q in model.levels)
    assert model.n_states == int(np.prod(model.levels))
    assert model.DEFAULT_RULE in model.RULES and model.DEFAULT_SCAN in model.SCANS
    assert set(capabilities(model).available()) == {"kernel", "law_tangent", "stationary_tangent",
                                                    "sampler", "initial_states"}
    x = np.arange(model.n_states)
    np.testing.assert_array_equal(model.index_of(model.states_of(x)), x)
    p = np.asarray(model.boltzmann())
    assert p.shape == (model.n_states,) and abs(p.sum() - 1.0) <= _tol(model)


@pytest.mark.parametrize("case, rule, scan", _params(CASES))
def test_kernel_is_column_stochastic(case, rule, scan):
    model = case.make()
    K = _kernel(model, rule, scan)
    U = np.asarray(K.dense())
    n = model.n_states
    assert U.shape == (n, n)
    if K.time == "continuous":  # the generator W: off-diagonal rates >= 0, columns sum to 0
        off = U - np.diag(np.diag(U))
        assert off.min() >= 0
        np.testing.assert_allclose(U.sum(axis=0), 0.0, rtol=0, atol=_tol(model) * np.abs(U).max())
    else:
        assert U.min() >= 0
        np.testing.assert_allclose(U.sum(axis=0), 1.0, rtol=0, atol=_tol(model))
        # the matrix-free step is the same operator
        p = np.random.default_rng(0).dirichlet(np.ones(n))
        np.testing.assert_allclose(K.apply(p), U @ p, rtol=0, atol=_tol(model))


@pytest.mark.parametrize("case, rule, scan", _params(CASES))
def test_stationary_law_is_the_gibbs_law(case, rule, scan):
    model = case.make()
    K = _kernel(model, rule, scan)
    U = np.asarray(K.dense())
    p = np.asarray(model.boltzmann())
    tol = _tol(model)
    if K.equilibrium_stationary:
        fixed = U @ p if K.time == "discrete" else p + U @ p
        np.testing.assert_allclose(fixed, p, rtol=0, atol=tol)
        np.testing.assert_allclose(K.stationary(), p, rtol=0, atol=tol)
    if K.reversible:
        try:
            pi = np.asarray(K.stationary())
        except NonUniqueStationaryError:
            return
        flow = U * pi[None, :]  # flow[x', x] = U[x', x] pi(x)
        np.testing.assert_allclose(flow, flow.T, rtol=0, atol=tol)


def _fd_check(f, theta, D):
    """Tangent D against Richardson-bounded central differences; f's round-off eps·64/h."""
    richardson_fd_check(f, theta, D, 64 * EPS, slack=1e-12)


@pytest.mark.parametrize("case, rule, scan", _params(CASES))
def test_law_tangent_against_finite_differences(case, rule, scan):
    model = case.make()
    k = _k(case, scan)
    p, D = kernels.law_tangent(model, "uniform", k, rule, scan)
    np.testing.assert_allclose(p, kernels.law(model, "uniform", k, rule, scan, warn=False),
                               rtol=0, atol=_tol(model))
    _fd_check(lambda th: kernels.law(model.with_theta(th), "uniform", k, rule, scan, warn=False),
              model.theta, D)


@pytest.mark.parametrize("case, rule, scan", _params(CASES))
def test_stationary_tangent_against_finite_differences(case, rule, scan):
    model = case.make()
    try:
        pi, D = kernels.stationary_tangent(model, rule, scan)
    except NonUniqueStationaryError:
        pytest.skip("the stationary law of this chain is not unique at this theta")
    np.testing.assert_allclose(pi, _kernel(model, rule, scan).stationary(), rtol=0,
                               atol=_tol(model))
    _fd_check(lambda th: np.asarray(_kernel(model.with_theta(th), rule, scan).stationary()),
              model.theta, D)


@pytest.mark.parametrize("case, rule, scan", _params(CASES))
def test_sampler_matches_the_exact_law(case, rule, scan):
    """Pearson χ² of the histogram of 20000 seeded chains against p(k, uniform); bins with an
    expected count below 5 pooled; p-value >= 1e-4 (the seed is fixed: a false alarm has
    probability 1e-4 per case and would show on every run, not at random)."""
    model = case.make()
    k, n = _k(case, scan), 20000
    states = sampling.sample(model, "uniform", k, rule, scan, n_chains=n, seed=11)
    assert states.shape == (n, model.n_units)
    counts = np.bincount(model.index_of(states), minlength=model.n_states)
    expected = n * kernels.law(model, "uniform", k, rule, scan, warn=False)
    order = np.argsort(expected)
    obs, exp = counts[order].astype(float), expected[order]
    small = np.cumsum(exp) < 5.0  # pool the smallest bins into one of expected count >= 5
    if small.any():
        j = int(np.argmin(small))
        obs = np.concatenate([[obs[:j + 1].sum()], obs[j + 1:]])
        exp = np.concatenate([[exp[:j + 1].sum()], exp[j + 1:]])
    keep = exp > 0
    result = scipy_stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum())
    assert result.pvalue >= 1e-4, (result.statistic, result.pvalue)


@pytest.mark.parametrize("case", _params(CASES, per_update=False))
def test_newton_and_training_reach_the_fixed_point_with_the_models_own_update(case):
    teacher = case.make()
    data = case.gibbs_data(teacher)
    family = teacher.with_theta(np.zeros(teacher.n_params))
    theta0 = None if case.theta0 is None else case.theta0(teacher)
    fp = fixed_point.solve(data, case.k, "rdm", model=family, theta0=theta0, tol=1e-11)
    assert fp.residual <= 1e-10
    assert (fp.problem.rule, fp.problem.scan) == (teacher.DEFAULT_RULE, teacher.DEFAULT_SCAN)
    # heavy-ball training from 1e-3 away, tuned by the spectrum of the exact Jacobian at θ*:
    # lr = 4/(√λmax + √λmin)², μ = r², r = (√κ − 1)/(√κ + 1) the contraction per update, and
    # twice the updates that r needs to shrink 1e-3 to 1e-11
    # (the Jacobian is not symmetric: its eigenvalues may be complex, with positive real parts
    # at a stable fixed point; their moduli bound the tuning)
    lam = np.linalg.eigvals(fp.problem.residual_and_jacobian(fp.theta)[1])
    assert lam.real.min() > 0
    lo, hi = float(np.abs(lam).min()), float(np.abs(lam).max())
    assert hi / lo < 1e8, (f"the fixed point is nearly singular (condition {hi / lo:.2g}): more "
                           "parameters than the law determines; pick a smaller member for the suite")
    r = (np.sqrt(hi / lo) - 1) / (np.sqrt(hi / lo) + 1)
    n_steps = int(2 * np.log(1e8) / -np.log(max(r, 0.5))) + 50
    run = training.train(data, case.k, "rdm", model=family, theta0=fp.theta + 1e-3,
                         lr=4 / (np.sqrt(hi) + np.sqrt(lo)) ** 2, momentum=r ** 2,
                         n_steps=n_steps, tol=1e-11)
    assert run.converged and np.max(np.abs(run.problem.residual(run.theta))) <= 1e-10
    # the k-step process of the trained model matches the data (G5)
    model = run.model
    p_k = kernels.law(model, "uniform", case.k)
    np.testing.assert_allclose(model.stats(p_k), model.stats(data.p), rtol=0, atol=1e-10)
    # and the diagnostics work on it through the contract
    curve = diagnostics.memory_curve(model, "uniform", [0, case.k, 4 * case.k], data)
    assert curve.distance[1] <= 1e-10 and curve.best_time == case.k
    assert np.isfinite(diagnostics.mixing_time(model))


# ---------------------------------------------------------------------------------------------
# what a model that does not meet the contract is told
# ---------------------------------------------------------------------------------------------
class _Bare(IndependentSpins):
    """A model type of its own (registered below with a kernel only)."""


class _Unregistered(Model):
    RULES, SCANS = ("heatbath",), ("random",)
    theta = np.zeros(1)
    n_units = 1

    def with_theta(self, theta):
        return self

    def boltzmann(self):
        return np.full(2, 0.5)

    def stats(self, p):
        return np.zeros(1)

    def stats_jacobian(self, p, D):
        return np.zeros(1), np.zeros((1, 1))


def test_an_unregistered_model_is_told_what_is_missing_and_how_to_register():
    model = _Unregistered()
    with pytest.raises(MissingCapability, match=r"_Unregistered has no exact kernel.*"
                       r"register_model\(_Unregistered, kernel=\.\.\.\)"):
        kernels.law(model, "uniform", 1)
    with pytest.raises(MissingCapability, match=r"no Monte Carlo sampler.*sampler=\.\.\."):
        sampling.sample(model, "uniform", 1, n_chains=2)
    data = teachers.Data.from_distribution(np.full(2, 0.5))
    with pytest.raises(MissingCapability, match="exact tangent of the k-step law"):
        fixed_point.solve(data, 1, model=model)


def test_a_partly_registered_subclass_names_the_capability_it_lacks(monkeypatch):
    monkeypatch.setattr(dispatch, "_REGISTRY", dict(dispatch._REGISTRY))  # undone after the test
    register_model(_Bare, kernel=lambda m, rule, scan, warn=True: kernels.kernel(
        m.as_boltzmann_machine(), rule, scan, warn=warn))
    model = _Bare(np.array([0.2, -0.1]))
    np.testing.assert_array_equal(kernels.law(model, "uniform", 2),
                                  kernels.law(model.as_boltzmann_machine(), "uniform", 2))
    with pytest.raises(MissingCapability, match=r"_Bare has no Monte Carlo sampler.*it has kernel"):
        sampling.sample(model, "uniform", 2, n_chains=2)


def test_the_issue_examples_now_work_for_an_rbm():
    """train, memory_curve and a Monte Carlo run on an RBM without naming its scan."""
    rbm = RBM.random(3, 2, seed=0)
    data = teachers.Data.from_distribution(np.array(RBM.random(3, 2, seed=1).boltzmann()))
    run = training.train(data, 2, model=rbm, theta0=rbm.theta, n_steps=3, tol=0.0)
    assert run.problem.scan == "alternating" and run.steps == 3
    curve = diagnostics.memory_curve(run.model, "uniform", [0, 1, 2], data)
    assert curve.stats.shape == (3, rbm.n_params)
    mc = monte_carlo.train(data, 2, model=rbm, theta0=rbm.theta, n_chains=50, n_steps=2, seed=0)
    # the Monte Carlo result carries the exact twin of its problem
    F = mc.problem.residual(mc.theta)
    np.testing.assert_allclose(F, run.problem.residual(mc.theta), rtol=0, atol=0)


def test_the_monte_carlo_problem_of_samples_is_their_histogram():
    bm = _bm()
    samples = sampling.sample(bm, "uniform", 3, n_chains=400, seed=2)
    mc = monte_carlo.train(samples, 2, model=bm.with_theta(np.zeros(bm.n_params)), n_chains=30,
                           n_steps=2, seed=0)
    counts = np.bincount(bm.index_of(samples), minlength=bm.n_states)
    # the histogram itself (moved by the same few ulps as problem() moves it in perturbed mode)
    np.testing.assert_array_equal(mc.problem.data.p, perturb.law(counts / 400, "p_data"))
    exact = training.problem(teachers.Data(counts / 400), 2)
    np.testing.assert_array_equal(mc.problem.residual(mc.theta), exact.residual(mc.theta))


def test_mixed_radix_index_against_a_loop():
    levels = (3, 2, 4)
    x = np.arange(24)
    digits = mixed_radix_digits(x, levels)
    for xi, d in zip(x, digits):
        assert xi == d[0] + 3 * d[1] + 6 * d[2]
    np.testing.assert_array_equal(mixed_radix_index(digits, levels), x)
    with pytest.raises(ValueError, match="0 <= sigma_i < q_i"):
        mixed_radix_index(np.array([[3, 0, 0]]), levels)
    # q = 2 is today's bit convention: bit i of x is unit i
    np.testing.assert_array_equal(_bm().states_of(x[:8]),
                                  2 * ((x[:8, None] >> np.arange(3)) & 1) - 1)
