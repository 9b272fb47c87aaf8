"""Independent spins (S1), (S2): closed-form m(k) and h*(k) against the exact kernels, every rule and scan."""
import numpy as np
import pytest
import sympy as sp

from shortrun.numerics import kernels

from shortrun.numerics import models

from shortrun.numerics.core import moments

from shortrun.numerics.core import states
from shortrun import conventions
from shortrun.theory import independent as ind

TOL = 1e-12
DISCRETE = ("random", "sequential", "parallel")


def _product_law(m0):
    """p0(s) = prod_i (1 + m0_i s_i)/2 over the 2^N states."""
    s = states.spins(len(m0)).astype(float)
    return np.prod((1 + s * np.asarray(m0)) / 2, axis=1)


def _exact_m(h, p0, times, rule, scan):
    model = models.BoltzmannMachine(np.asarray(h, float), np.zeros((len(h), len(h))))
    laws = kernels.BMKernel(model, rule, scan).trajectory(p0, times)
    return np.array([moments.moments(p)[0] for p in laws])


CASES = [(rule, scan) for rule in ind.RULES for scan in ind.SCANS]


@pytest.mark.parametrize("rule, scan", CASES, ids=[f"{r}-{s}" for r, s in CASES])
@pytest.mark.parametrize("N", [3, 5])
def test_magnetisation_equals_exact_kernel(rule, scan, N, tol):
    rng = np.random.default_rng(N)
    h = rng.normal(scale=1.2, size=N)
    h[0] = 0.0  # the Metropolis rho = -1 case
    for m0 in (np.zeros(N), rng.uniform(-0.9, 0.9, size=N)):
        p0 = "uniform" if not m0.any() else _product_law(m0)
        times = list(range(11)) if scan != "continuous" else [0.0, 0.3, 1.0, 2.5, 7.0]
        exact = _exact_m(h, p0, times, rule, scan)
        theory = np.array([ind.magnetisation(h, k, rule, scan, N=N, m0=m0) for k in times])
        np.testing.assert_allclose(theory, exact, rtol=0, atol=min(TOL, tol(N)))


@pytest.mark.parametrize("rule, scan", CASES, ids=[f"{r}-{s}" for r, s in CASES])
def test_trained_field_reproduces_data_magnetisation_in_exact_chain(rule, scan, tol):
    """Fixed-point theorem (G5) for J = 0: the exact k-step chain at h* has magnetisation m_D."""
    N = 3
    m_D = np.array([0.3, -0.55, 0.1])
    for k in ((1, 2, 5) if scan != "continuous" else (1.5, 3.0)):
        if np.max(np.abs(m_D)) >= ind.divergence_threshold(k, rule, scan, N=N):
            continue
        h = ind.field_fixed_point(m_D, k, rule, scan, N=N)
        assert np.all(np.isfinite(h))
        np.testing.assert_allclose(_exact_m(h, "uniform", [k], rule, scan)[0], m_D, rtol=0, atol=min(TOL, tol(N)))


def test_heatbath_field_with_nonzero_m0():
    m0, m_D = np.array([0.4, -0.2, 0.0, 0.7, -0.6]), np.array([0.2, 0.1, -0.3, 0.5, -0.65])
    for scan, k in (("random", 3), ("continuous", 2.2), ("sequential", 2)):
        h = ind.field_fixed_point(m_D, k, "heatbath", scan, N=5, m0=m0)
        np.testing.assert_allclose(_exact_m(h, _product_law(m0), [k], "heatbath", scan)[0], m_D, rtol=0, atol=TOL)
    # CD-k (p0 = data): h* = atanh m_D for every k
    np.testing.assert_allclose(ind.field_fixed_point(m_D, 4, "heatbath", "random", N=5, m0=m_D), np.arctanh(m_D),
                               rtol=0, atol=1e-14)


def test_check_numbers():
    """m_D = tanh 0.8, q = e^{-k}: h* = inf (k=1), 1.015 (k=2), 0.865 (k=3)."""
    m_D = np.tanh(0.8)
    for scan_kw in ({"scan": "continuous"}, {"scan": "random", "N": np.inf}):
        h = [ind.field_fixed_point(m_D, k, "heatbath", **scan_kw) for k in (1, 2, 3)]
        assert h[0] == np.inf
        assert round(h[1], 3) == 1.015 and round(h[2], 3) == 0.865
    assert ind.field_fixed_point(-m_D, 1, "heatbath", "continuous") == -np.inf
    assert not ind.has_finite_fixed_point(m_D, 1, scan="continuous")
    # Metropolis sequential, k = 1: h* = -ln(1 - m_D)/2 < atanh m_D
    h1 = ind.field_fixed_point(m_D, 1, "metropolis", "sequential")
    assert h1 == pytest.approx(-0.5 * np.log(1 - m_D), rel=1e-14)
    assert h1 < np.arctanh(m_D)
    # heat-bath sequential/parallel: equilibrium after one sweep
    for scan in ("sequential", "parallel"):
        assert ind.field_fixed_point(m_D, 1, "heatbath", scan) == pytest.approx(0.8, rel=1e-14)


def test_exact_N_random_scan_factor_and_limit():
    for N in (3, 7, 50):
        assert ind.relaxation_factor(0.3, 2, "heatbath", "random", N=N) == pytest.approx((1 - 1 / N) ** (2 * N), rel=1e-14)
        q_met = ind.relaxation_factor(0.3, 2, "metropolis", "random", N=N)
        assert q_met == pytest.approx((1 - (1 + np.exp(-0.6)) / N) ** (2 * N), rel=1e-14)
    assert ind.relaxation_factor(0.3, 2, "heatbath", "random", N=np.inf) == pytest.approx(np.exp(-2), rel=1e-14)
    assert ind.relaxation_factor(0.3, 2, "metropolis", "random", N=10**7) == pytest.approx(
        ind.relaxation_factor(0.3, 2, "metropolis", "continuous"), rel=1e-5)
    # N = 1: the random scan is the sequential one
    assert ind.relaxation_factor(0.4, 3, "metropolis", "random", N=1) == pytest.approx(
        ind.relaxation_factor(0.4, 3, "metropolis", "sequential"), rel=1e-14)


@pytest.mark.parametrize("rule, scan, N", [("metropolis", "sequential", None), ("metropolis", "random", 2),
                                          ("metropolis", "random", 5), ("metropolis", "continuous", None),
                                          ("heatbath", "random", 4)])
@pytest.mark.parametrize("k", [1, 2, 3, 6, 9])
def test_map_h_to_m_is_increasing_with_supremum_the_threshold(rule, scan, N, k):
    h = np.linspace(0, 25, 20001)
    m = ind.magnetisation(h, k, rule, scan, N=N)
    assert np.all(np.diff(m) >= -1e-15)  # increasing up to rounding at saturation
    thr = ind.divergence_threshold(k, rule, scan, N=N)
    assert np.all(m <= thr + 1e-15) and m[-1] == pytest.approx(thr, abs=1e-14)


@pytest.mark.parametrize("rule", ind.RULES)
def test_divergence_flag_at_threshold(rule):
    thr = ind.divergence_threshold(2, rule, "random", N=4)
    assert thr == pytest.approx(1 - (3 / 4) ** 8, rel=1e-14)
    below, above = thr * (1 - 1e-6), thr * (1 + 1e-6)
    h = ind.field_fixed_point(np.array([below, above, -above]), 2, rule, "random", N=4)
    assert np.isfinite(h[0]) and h[1] == np.inf and h[2] == -np.inf
    assert ind.magnetisation(h[0], 2, rule, "random", N=4) == pytest.approx(below, abs=1e-12)


def test_sympy_expressions_equal_numpy():
    e, S = ind.expressions(), ind.SYMBOLS
    h = np.array([-1.3, -0.2, 0.0, 0.4, 2.0])
    m0 = 0.35
    for rule in ind.RULES:
        for scan in ind.SCANS:
            expr = e[("m", rule, scan)].subs({S["k"]: 3, S["N"]: 6, S["m0"]: m0})
            f = sp.lambdify(S["h"], expr, "numpy")
            np.testing.assert_allclose(f(h), ind.magnetisation(h, 3, rule, scan, N=6, m0=m0), rtol=0, atol=1e-14)
    for scan in ("random", "continuous"):
        expr = e[("h*", "heatbath", scan)].subs({S["k"]: 2, S["N"]: 6, S["m0"]: 0.1, S["m_D"]: 0.5})
        assert float(expr) == pytest.approx(ind.field_fixed_point(0.5, 2, "heatbath", scan, N=6, m0=0.1), rel=1e-14)
    expr = e[("h*", "metropolis", "sequential", 1)].subs(S["m_D"], 0.5)
    assert float(expr) == pytest.approx(ind.field_fixed_point(0.5, 1, "metropolis", "parallel"), rel=1e-13)


@pytest.mark.parametrize("call, match", [
    (lambda: ind.magnetisation(0.1, 2, "gibbs", "random", N=3), "rule"),
    (lambda: ind.magnetisation(0.1, 2, "heatbath", "diagonal", N=3), "scan"),
    (lambda: ind.magnetisation(0.1, 2, "heatbath", "random"), "N"),
    (lambda: ind.magnetisation(0.1, 2.5, "heatbath", "sequential"), "k"),
    (lambda: ind.magnetisation(0.1, 2, "heatbath", "sequential", m0=1.5), "m0"),
    (lambda: ind.field_fixed_point(1.0, 2, "heatbath", "sequential"), "m_D"),
    (lambda: ind.field_fixed_point(0.3, 0, "heatbath", "sequential"), "k"),
    (lambda: ind.field_fixed_point(0.3, 2, "metropolis", "sequential", m0=0.2), "m0"),
])
def test_bad_input_raises_naming_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_one_minus_q_without_cancellation():
    """The divergence threshold 1 - q at tiny times and exact-N random scans: full relative accuracy."""
    for k in (1e-12, 1e-6, 0.3):
        assert ind.divergence_threshold(k, scan="continuous") == pytest.approx(-np.expm1(-k), rel=1e-15)
    for N in (2, 5, 1000, 10 ** 9):
        if N < 10 ** 6:  # exact rational arithmetic
            exact = 1 - float(sp.Rational(N - 1, N) ** (3 * N))
        else:
            exact = -np.expm1(3 * N * np.log1p(-1 / N))
        assert ind.divergence_threshold(3, scan="random", N=N) == pytest.approx(exact, rel=1e-13)
    # tiny continuous k: h* = atanh(m_D / (1 - q)) with 1 - q = 1e-12, far from the cancelling 1 - e^{-k}
    h = ind.field_fixed_point(0.5e-12, 1e-12, "heatbath", "continuous")
    assert h == pytest.approx(np.arctanh(0.5e-12 / -np.expm1(-1e-12)), rel=1e-13)


def test_misspelt_names_get_the_nearest_valid_one():
    with pytest.raises(ValueError, match="rule='heat-bath' is not known; did you mean 'heatbath'"):
        ind.magnetisation(0.1, 2, "heat-bath", "sequential")
    with pytest.raises(ValueError, match="scan='Sequential' is not known; did you mean 'sequential'"):
        ind.magnetisation(0.1, 2, "heatbath", "Sequential")
    assert ind.RULES is conventions.RULES and ind.SCANS is conventions.SCANS


@pytest.mark.parametrize("bad, name", [(1j, "h"), (np.array([0.1 + 0j]), "h"), ("0.1", "h"), (None, "h")])
def test_complex_and_non_numbers_refused(bad, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        ind.magnetisation(bad, 2, "heatbath", "sequential")
    with pytest.raises(ValueError, match="^m_D"):
        ind.field_fixed_point(bad, 2, "heatbath", "sequential")
