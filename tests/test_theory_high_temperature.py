"""High-temperature Ising (Ia)-(Ic): sympy-derived expansions against the exact kernels."""
import warnings

import numpy as np
import pytest
import scipy.optimize
import sympy as sp

from shortrun.numerics import kernels

from shortrun.numerics import models

from shortrun.numerics.core import moments
from shortrun.theory import high_temperature as ht
from shortrun.theory import moment_expansion as me

EPSILONS = np.geomspace(0.01, 0.1, 5)  # one decade of coupling strength


def _couplings(N, seed):
    rng = np.random.default_rng(seed)
    J = rng.normal(size=(N, N))
    J = np.triu(J, 1)
    return rng.normal(size=N), J + J.T


def _exact(h, J, k, scan="continuous", p0="uniform"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kernels.NotBoltzmannWarning)
        return moments.moments(kernels.law(models.BoltzmannMachine(h, J), p0, k, "heatbath", scan))


def _slope(residuals):
    return np.polyfit(np.log(EPSILONS), np.log(residuals), 1)[0]


def _gap(a, b):
    """Largest entry-wise difference between two (m, C) pairs."""
    return max(np.max(np.abs(x - y)) for x, y in zip(a, b))


def _eps_slope(residual):
    """Log-log slope of residual(eps) over one decade of eps."""
    return _slope([residual(eps) for eps in EPSILONS])


def _ring(N, distance):
    R = np.zeros((N, N))
    for i in range(N):
        R[i, (i + distance) % N] = R[(i + distance) % N, i] = 1.0
    return R


# ------------------------------------------------------------------ the derivation itself
def test_derived_continuous_factors_are_ia():
    f, k = ht.factors("continuous"), ht.SYMBOLS["k"]
    ia = {"f1": 1 - sp.exp(-2 * k), "f2": 1 - (1 + 2 * k) * sp.exp(-2 * k), "e1": 1 - sp.exp(-k),
            "e2": 1 - (1 + k) * sp.exp(-k), "g": (1 - sp.exp(-k)) ** 2}
    for name, expr in ia.items():
        assert sp.simplify(f[name] - expr) == 0, name


def test_derived_random_scan_factors_are_exact_N_forms_and_tend_to_continuous():
    f, k, N = ht.factors("random"), ht.SYMBOLS["k"], me.N
    assert sp.simplify(f["f1"] - (1 - (1 - 2 / N) ** (k * N))) == 0
    assert sp.simplify(f["e1"] - (1 - (1 - 1 / N) ** (k * N))) == 0
    for name in ("f1", "f2", "e1", "e2", "g"):
        big = float(f[name].subs({k: 1.3, N: 10 ** 6}))
        assert big == pytest.approx(float(ht.factors("continuous")[name].subs(k, 1.3)), abs=1e-5)
    assert ht.random_scan_factors(2, 5) == pytest.approx((1 - 0.6 ** 10, 1 - 0.8 ** 10), rel=1e-14)


def test_derived_secondary_curves():
    e, k = ht.expressions(), ht.SYMBOLS["k"]
    assert sp.simplify(e["coupling_error_factor"] - 1 / (sp.exp(2 * k) - 1) ** 2) == 0
    assert sp.simplify(e["spurious"] - (e["f1"] ** 2 - e["f2"]) / e["f1"] ** 3) == 0
    assert float(e["spurious"].subs(k, 1)) == pytest.approx(0.2377, abs=1e-4)
    f = sp.lambdify((me.t, k), e["memory_ratio"], "numpy")
    assert f(0.4, 1.3) == pytest.approx(ht.memory_ratio(0.4, 1.3), rel=1e-14)
    J0 = _ring(5, 1)
    assert ht.coupling_error(J0, 0.2, 0.7) == pytest.approx(
        5 * 0.04 * float(e["coupling_error_factor"].subs(k, 0.7)), rel=1e-13)


def test_numeric_factors_equal_sympy():
    t = np.array([0.0, 0.3, 1.0, 2.5])
    np.testing.assert_allclose(ht.f1(t), 1 - np.exp(-2 * t), rtol=0, atol=1e-15)
    np.testing.assert_allclose(ht.f2(t), 1 - (1 + 2 * t) * np.exp(-2 * t), rtol=0, atol=1e-15)


def test_parallel_expansion_is_constant_after_two_updates():
    assert me.parallel(5) == me.parallel(2)
    assert me.parallel(10**9) == me.parallel(2)         # at once (the loop ran k times: a hang)
    m1, C1 = me.parallel(1)
    assert me.words(m1) == {me.h: 1} and me.words(C1) == {me.J ** 2: 1, me.h * me.hT: 1}


def test_transpose_of_words():
    assert me.transpose(me.J * me.h) == me.hT * me.J
    assert me.transpose(3 * me.h * me.hT + me.J ** 2) == 3 * me.h * me.hT + me.J ** 2


# ------------------------------------------------------------------ (Ia) vs the exact master equation
@pytest.mark.parametrize("with_fields", [False, True], ids=["h=0", "h!=0"])
def test_ia_residual_scales_like_eps_cubed(with_fields):
    N = 6
    h0, J0 = _couplings(N, seed=11)
    h0 = h0 if with_fields else np.zeros(N)
    res_C, res_m, res_m1 = [], [], []
    for eps in EPSILONS:
        rC = rm = rm1 = 0.0
        for t in (0.5, 1.0, 2.0):
            m_ex, C_ex = _exact(eps * h0, eps * J0, t)
            m_th, C_th = ht.glauber_moments(eps * h0, eps * J0, t)
            rC = max(rC, np.max(np.abs(C_ex - C_th)))
            rm = max(rm, np.max(np.abs(m_ex - m_th)))
            rm1 = max(rm1, np.max(np.abs(m_ex - eps * h0 * (1 - np.exp(-t)))))
        res_C.append(rC), res_m.append(rm), res_m1.append(rm1)
    assert abs(_slope(res_C) - 3) < 0.2
    if with_fields:
        assert abs(_slope(res_m) - 3) < 0.2
        assert abs(_slope(res_m1) - 2) < 0.2  # the first-order m of (Ia) is O(eps^2)-accurate


def test_random_scan_exact_N_expansion_against_random_scan_kernel():
    N = 5
    h0, J0 = _couplings(N, seed=12)

    def first_order(eps, k):
        f1N, e1N = ht.random_scan_factors(k, N)
        C1 = f1N * eps * J0
        np.fill_diagonal(C1, 1.0)
        return e1N * eps * h0, C1

    def residual(eps, order):
        theory = (lambda k: ht.random_scan_moments(eps * h0, eps * J0, k)) if order == 2 else (
            lambda k: first_order(eps, k))
        return max(_gap(_exact(eps * h0, eps * J0, k, scan="random"), theory(k)) for k in (1, 3))
    assert abs(_eps_slope(lambda eps: residual(eps, 2)) - 3) < 0.2
    assert abs(_eps_slope(lambda eps: residual(eps, 1)) - 2) < 0.2


def test_sequential_and_parallel_first_order_results():
    """Sequential: C = J + O(J^2) after one sweep.  Parallel: C = J^2 + h h^T + O(eps^3)."""
    N = 5
    h0, J0 = _couplings(N, seed=13)

    def sequential(eps):
        return _gap(_exact(eps * h0, eps * J0, 1, scan="sequential"), ht.sequential_moments(eps * h0, eps * J0, 1))

    def parallel(eps):
        return max(_gap(_exact(eps * h0, eps * J0, k, scan="parallel"), ht.parallel_moments(eps * h0, eps * J0, k))
                   for k in (1, 2, 3))
    assert abs(_eps_slope(sequential) - 2) < 0.2
    assert abs(_eps_slope(parallel) - 3) < 0.2
    # no O(J) correlation at all under the parallel update
    _, C_p = _exact(np.zeros(N), 0.01 * J0, 4, scan="parallel")
    assert np.max(np.abs(C_p - np.eye(N))) < 2 * 0.01 ** 2 * np.max(np.abs(J0 @ J0))


@pytest.mark.parametrize("scan", ["sequential", "random", "parallel"])
def test_closure_is_second_order_for_every_scan(scan):
    N = 5
    h0, J0 = _couplings(N, seed=14)

    def residual(eps):
        return max(_gap(_exact(eps * h0, eps * J0, k, scan=scan), ht.closure_moments(eps * h0, eps * J0, k, scan))
                   for k in (1, 2))
    assert abs(_eps_slope(residual) - 3) < 0.2


def _equilibrium(h0, J0, eps):
    """Exact (m, C) of the Boltzmann law of (eps h0, eps J0), by enumeration."""
    return moments.moments(models.BoltzmannMachine(eps * h0, eps * J0).boltzmann())


def test_equilibrium_expansion_against_enumeration():
    h0, J0 = _couplings(7, seed=15)

    def residual(eps):
        return _gap(_equilibrium(h0, J0, eps), ht.equilibrium_moments(eps * h0, eps * J0))
    assert abs(_eps_slope(residual) - 3) < 0.2


# ------------------------------------------------------------------ (Ib): the trained fixed point
@pytest.mark.parametrize("scan, ks, seed", [("continuous", (0.5, 2.0), 16), ("random", (1, 2), 18)])
def test_ib_fixed_point_reproduces_data_to_third_order(scan, ks, seed):
    """(Ib) fed back into the exact kernel reproduces the data up to O(eps^3): continuous-time
    Glauber, and the exact-N random-scan form against the random-scan kernel."""
    h0, J0 = _couplings(5, seed=seed)

    def residual(eps):
        data = _equilibrium(h0, J0, eps)
        return max(_gap(_exact(*ht.fixed_point(*data, k, scan=scan), k, scan=scan), data) for k in ks)
    assert abs(_eps_slope(residual) - 3) < 0.2


def test_teacher_form_equals_data_form_to_second_order():
    h0, J0 = _couplings(6, seed=17)

    def residual(eps):
        data = ht.equilibrium_moments(eps * h0, eps * J0)
        return _gap(ht.fixed_point(*data, 1.0), ht.teacher_fixed_point(h0, J0, eps, 1.0))
    assert abs(_eps_slope(residual) - 3) < 0.2


def _ring_root(beta, k, N=5):
    """Exact (nearest, next-nearest) couplings with C(k) = C^D under continuous-time Glauber."""
    R1, R2 = _ring(N, 1), _ring(N, 2)
    _, C_D = moments.moments(models.BoltzmannMachine(np.zeros(N), beta * R1).boltzmann())

    def residual(x):
        C = _exact(np.zeros(N), x[0] * R1 + x[1] * R2, k)[1]
        return [C[0, 1] - C_D[0, 1], C[0, 2] - C_D[0, 2]]

    x = scipy.optimize.root(residual, [beta / ht.f1(k), 0.0], method="hybr", options={"xtol": 1e-14}).x
    assert np.max(np.abs(residual(x))) < 1e-15
    return x


def test_ring_check_numbers():
    expected = {0.1: (1.6197, 1.1641, 1.0202), 0.01: (1.5823, 1.1566, 1.0187)}
    for beta, ratios in expected.items():
        for k, expected in zip((0.5, 1.0, 2.0), ratios):
            a, b = _ring_root(beta, k)
            assert round(a / beta, 4) == expected
            assert b == pytest.approx(beta ** 2 * (ht.f1(k) ** 2 - ht.f2(k)) / ht.f1(k) ** 3, rel=2.5 * beta)
    assert [round(float(1 / ht.f1(k)), 4) for k in (0.5, 1.0, 2.0)] == [1.5820, 1.1565, 1.0187]
    coeff = (ht.f1(1.0) ** 2 - ht.f2(1.0)) / ht.f1(1.0) ** 3
    assert round(float(coeff), 3) == 0.238


def test_ring_exact_root_approaches_ib_like_beta_cubed():
    N = 5
    R1, R2 = _ring(N, 1), _ring(N, 2)
    err = []
    betas = np.array([0.02, 0.04, 0.08])
    for beta in betas:
        a, b = _ring_root(beta, 1.0)
        J_ib = ht.teacher_fixed_point(np.zeros(N), R1, beta, 1.0)[1]
        err.append(np.max(np.abs(a * R1 + b * R2 - J_ib)))
    slope = np.polyfit(np.log(betas), np.log(err), 1)[0]
    assert abs(slope - 3) < 0.2
    ratio_gap = [abs(_ring_root(beta, 1.0)[0] / beta - 1 / ht.f1(1.0)) for beta in (0.1, 0.01)]
    assert ratio_gap[1] < ratio_gap[0] / 50  # the approach to 1/f1(k) is O(beta^2)


def test_coupling_error_and_memory_ratio():
    J0 = _ring(5, 1)
    beta = 0.05
    for k in (0.5, 1.0, 3.0):
        direct = np.sum(np.triu(beta * J0 / ht.f1(k) - beta * J0, 1) ** 2)
        assert ht.coupling_error(J0, beta, k) == pytest.approx(direct, rel=1e-13)
    for k in (0.5, 1.0):  # against the exact root: first order up to O(beta), second up to O(beta^2)
        a, b = _ring_root(beta, k)
        exact = 5 * ((a - beta) ** 2 + b ** 2)
        for order in (1, 2):
            assert ht.coupling_error(J0, beta, k, order=order) == pytest.approx(exact, rel=2 * beta)
    t = np.array([0.2, 1.0, 3.0])
    r = ht.memory_ratio(t, 1.0)
    assert r[1] == pytest.approx(1.0, abs=1e-15) and r[0] < 1 < r[2]
    # the exact chain at the trained couplings: C(t)/C^D follows f1(t)/f1(k) up to O(beta)
    a, b = _ring_root(beta, 1.0)
    _, C_D = moments.moments(models.BoltzmannMachine(np.zeros(5), beta * J0).boltzmann())
    exact = [_exact(np.zeros(5), a * J0 + b * _ring(5, 2), ti)[1][0, 1] / C_D[0, 1] for ti in t]
    np.testing.assert_allclose(exact, r, rtol=0, atol=2 * beta)


@pytest.mark.parametrize("call, match", [
    (lambda: ht.glauber_moments(np.zeros(3), np.ones((3, 3)), 1.0), "J"),
    (lambda: ht.glauber_moments(np.zeros(3), np.triu(np.ones((3, 3)), 1), 1.0), "J"),
    (lambda: ht.glauber_moments(np.zeros(4), np.zeros((3, 3)), 1.0), "h"),
    (lambda: ht.glauber_moments(np.zeros(3), np.zeros((3, 3)), -1.0), "t"),
    (lambda: ht.random_scan_factors(1, 2), "N"),
    (lambda: ht.random_scan_moments(np.zeros(3), np.zeros((3, 3)), 1.5), "k"),
    (lambda: ht.fixed_point(np.zeros(3), np.eye(3), 1.0, scan="parallel"), "scan='parallel'"),
    (lambda: ht.closure_moments(np.zeros(3), np.zeros((3, 3)), 1, scan="continuous"), "scan"),
    (lambda: ht.coupling_error(np.zeros((3, 3)), 0.1, 1.0, order=3), "order"),
    # impossible moments of ±1 spins gave a silent h* (m_D = 1.5: h = 2.37)
    (lambda: ht.fixed_point([1.5, 0, 0], np.eye(3), 1.0), "m_D and C_D are moments of ±1 spins"),
    (lambda: ht.fixed_point(np.zeros(3), 2 * np.ones((3, 3)), 1.0), "in \\[-1, 1\\]"),
    # k < 0 ran no update ((0, 0)); a float / text k was a TypeError
    (lambda: me.parallel(-1), "k=-1 must be an integer >= 0"),
    (lambda: me.parallel(1.5), "k=1.5 must be an integer >= 0"),
    (lambda: me.parallel("2"), "k='2' must be an integer >= 0"),
])
def test_bad_input_raises_naming_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ no overflow over the whole range
K_GRID = (1, 2, 3, 5, 8, 10, 20, 50, 100)
N_GRID = range(3, 26)


def test_random_scan_factors_equal_exact_rationals_on_the_whole_grid():
    """factor_values (the (1 - c/N)^(kN) form) against the sympy exact-N factors evaluated in exact
    rational arithmetic (integers like 25^2500 held exactly), k up to 100, N up to 25."""
    f, k, N = ht.factors("random"), ht.SYMBOLS["k"], me.N
    worst = 0.0
    for K in K_GRID:
        for n in N_GRID:
            values = ht.factor_values("random", K, n)
            for name, expr in f.items():
                exact = expr.xreplace({k: sp.Integer(K), N: sp.Integer(n)})
                assert isinstance(exact, sp.Rational)
                worst = max(worst, abs(values[name] - float(exact)) / max(1.0, abs(float(exact))))
    assert worst <= 1e-13


def test_ratio_forms_are_derived_from_the_exact_forms():
    q1, q2 = sp.symbols("q1 q2", positive=True)
    k, N = ht.SYMBOLS["k"], me.N
    r = ht.ratio_factors()
    assert sp.simplify(r["e2"] - (1 - q1 * (1 + k * N / (N - 1)))) == 0
    assert sp.simplify(r["f2"] - (1 - q2 * (1 + 2 * k * N / (N - 2)))) == 0
    assert sp.simplify(r["g"] - (1 - 2 * q1 + q2)) == 0
    assert r["e1"] == 1 - q1 and r["f1"] == 1 - q2


def test_closed_forms_finite_on_the_whole_k_N_grid():
    """The exact-N random-scan forms at every k <= 100 and N <= 25 (they overflowed from
    (N, k) = (9, 8) and (16, 20) when the powers N^(kN) were formed)."""
    rng = np.random.default_rng(3)
    for n in N_GRID:
        h0, J0 = _couplings(n, seed=n)
        h0, J0 = 0.05 * h0, 0.05 * J0
        data = ht.equilibrium_moments(h0, J0)
        for K in K_GRID:
            for out in (ht.random_scan_moments(h0, J0, K), ht.fixed_point(*data, K, scan="random"),
                        ht.teacher_fixed_point(h0 / 0.3, J0 / 0.3, 0.3, K, scan="random")):
                assert all(np.all(np.isfinite(x)) for x in out)
    # large k: the random-scan factors are 1 to rounding, (Ib) is the equilibrium inverse
    h0, J0 = _couplings(9, seed=rng.integers(100))
    np.testing.assert_allclose(ht.teacher_fixed_point(h0, J0, 0.05, 100, scan="random", N=9)[1],
                               ht.teacher_fixed_point(h0, J0, 0.05, 100.0)[1], rtol=0, atol=1e-15)


def test_random_scan_ib_against_exact_rational_evaluation_at_n9_k8():
    """(Ib) of fixed_point (through the factors) against the sympy form fixed_point_expr('random')
    evaluated in exact rationals at N = 9, k = 8: the case that overflowed."""
    h0, J0 = _couplings(9, seed=21)
    m_D, C_D = ht.equilibrium_moments(0.04 * h0, 0.04 * J0)
    h_num, J_num = ht.fixed_point(m_D, C_D, 8, scan="random")
    h_expr, J_expr = ht.fixed_point_expr("random")
    subs = {ht.SYMBOLS["k"]: sp.Integer(8), me.N: sp.Integer(9)}
    data = {ht.D: C_D - np.diag(np.diag(C_D)), ht.mD: m_D[:, None], ht.mDT: m_D[None, :]}

    def exact(expr, shape):
        total = np.zeros(shape)
        for w, c in me.words(expr).items():
            total += float(c.xreplace(subs)) * me._word_value(w, data)
        return total
    np.testing.assert_allclose(h_num, exact(h_expr, (9, 1))[:, 0], rtol=1e-13, atol=1e-16)
    J_ex = exact(J_expr, (9, 9))
    np.fill_diagonal(J_ex, 0.0)
    np.testing.assert_allclose(J_num, J_ex, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("k", [5, 30, 100])
def test_random_scan_ib_at_large_k_against_the_exact_kernel(k):
    """(Ib) for the random scan fed back into the exact random-scan kernel (N = 4) reproduces the
    data up to O(eps^3) at large k too."""
    h0, J0 = _couplings(4, seed=19)

    def residual(eps):
        data = _equilibrium(h0, J0, eps)
        return _gap(_exact(*ht.fixed_point(*data, k, scan="random"), k, scan="random"), data)
    assert abs(_eps_slope(residual) - 3) < 0.2


def test_continuous_factors_keep_relative_accuracy_at_small_k():
    """e2 = 1 - (1+k)e^{-k} ~ k^2/2 and f2 ~ 2k^2: evaluated without cancellation."""
    f = ht.factors("continuous")
    for K in (1e-9, 1e-5, 0.01, 1.0, 30.0):
        values = ht.factor_values("continuous", K)
        for name, expr in f.items():
            exact = float(sp.N(expr.subs(ht.SYMBOLS["k"], sp.Float(K, 60)), 40))
            assert values[name] == pytest.approx(exact, rel=1e-13)
    assert ht.f2(1e-9) == pytest.approx(2e-18, rel=1e-8)


def test_scan_keyword_and_suggestion():
    """`scan=` as everywhere in the package; a misspelt scan gets the nearest name."""
    m_D, C_D = ht.equilibrium_moments(np.zeros(3), 0.1 * _ring(3, 1))
    assert np.allclose(ht.fixed_point(m_D, C_D, 2, scan="random")[1],
                       ht.fixed_point(m_D, C_D, 2, "random")[1], rtol=0, atol=0)
    with pytest.raises(ValueError, match="scan='Random' is not known; did you mean 'random'"):
        ht.fixed_point(m_D, C_D, 2, scan="Random")
    with pytest.raises(ValueError, match="k=0: training at k = 0 has no fixed point"):
        ht.fixed_point(m_D, C_D, 0, scan="random")
    with pytest.raises(ValueError, match="^k=0.0 must be a finite positive number"):
        ht.fixed_point(m_D, C_D, 0.0)
