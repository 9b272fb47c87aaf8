"""Gaussian EBM under short-run Langevin (Ga)-(Gm): closed forms vs recursions, sympy, check numbers."""
import numpy as np
import pytest
import scipy.linalg
import sympy as sp

from shortrun.theory import gaussian as g

EPS = np.finfo(float).eps
ETA, SIGMA2, S02 = 0.05, 0.1, 1 / 3  # the check parameters of docs/theory.md (Gc)


def _sym(d, eigenvalues, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    A = (Q * eigenvalues) @ Q.T
    return (A + A.T) / 2


def _recursion(A, h, mu0, Sigma0, k, eta, sigma2):
    """Iterate the ULA mean and covariance maps k times."""
    M = np.eye(len(A)) - eta * A
    mu, Sigma = mu0.copy(), Sigma0.copy()
    for _ in range(k):
        mu = M @ mu + eta * h
        Sigma = M @ Sigma @ M + sigma2 * np.eye(len(A))
    return mu, Sigma


def _close(x, y, rtol):
    scale = max(1.0, np.max(np.abs(y)))
    np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale)


# eigenvalues covering: stable, a = 0 (flat), concave, beyond 1/eta (oscillating), at 1/eta (M = 0)
@pytest.mark.parametrize("eigs", [(0.5, 3.0, 12.0), (0.0, 1.0, -2.0), (20.0, 25.0, 39.0), (-1.0, 0.3, 30.0)],
                         ids=["stable", "flat+concave", "oscillating", "mixed"])
@pytest.mark.parametrize("k", [0, 1, 2, 7, 30])
def test_ula_moments_equal_direct_recursion(eigs, k):
    A = _sym(3, np.array(eigs), seed=1)
    rng = np.random.default_rng(2)
    h, mu0 = rng.normal(size=3), rng.normal(size=3)
    S = rng.normal(size=(3, 3))
    Sigma0 = S @ S.T
    mu, Sigma = g.ula_moments(A, h, mu0, Sigma0, k, ETA, SIGMA2)
    mu_r, Sigma_r = _recursion(A, h, mu0, Sigma0, k, ETA, SIGMA2)
    _close(mu, mu_r, 1e-12)
    _close(Sigma, Sigma_r, 1e-12)


def test_ula_default_noise_is_standard_langevin():
    A = _sym(3, np.array([1.0, 2.0, 3.0]), seed=3)
    assert np.allclose(g.ula_moments(A, 1.0, 0.0, 1.0, 5, 0.1)[1], g.ula_moments(A, 1.0, 0.0, 1.0, 5, 0.1, 0.2)[1],
                       rtol=0, atol=1e-15)


def test_langevin_moments_equal_matrix_exponential_of_moment_ode():
    """(Gb) vs expm of the linear ODE  mu' = -A mu + h,  Sigma' = -A Sigma - Sigma A + 2 I."""
    d = 3
    A = _sym(d, np.array([-0.5, 0.0, 2.0]), seed=4)
    rng = np.random.default_rng(5)
    h, mu0 = rng.normal(size=d), rng.normal(size=d)
    Sigma0 = np.diag([0.3, 1.0, 2.0])
    n = d + d * d + 1
    L = np.zeros((n, n))
    L[:d, :d] = -A
    L[:d, -1] = h
    L[d:-1, d:-1] = -(np.kron(A, np.eye(d)) + np.kron(np.eye(d), A))
    L[d:-1, -1] = 2 * np.eye(d).ravel()
    y0 = np.concatenate([mu0, Sigma0.ravel(), [1.0]])
    for tau in (0.0, 0.3, 1.7):
        y = scipy.linalg.expm(L * tau) @ y0
        mu, Sigma = g.langevin_moments(A, h, mu0, Sigma0, tau)
        _close(mu, y[:d], 1e-12)
        _close(Sigma, y[d:-1].reshape(d, d), 1e-12)


def test_ula_tends_to_langevin_linearly_in_eta():
    A = _sym(2, np.array([0.7, 2.0]), seed=6)
    exact = g.langevin_moments(A, [1.0, -1.0], 0.0, 0.5, 1.0)[1]
    errors = [np.max(np.abs(g.ula_moments(A, [1.0, -1.0], 0.0, 0.5, int(round(1 / eta)), eta)[1] - exact))
              for eta in (0.01, 0.005)]
    assert 1.8 < errors[0] / errors[1] < 2.2


def test_sympy_matrix_ga_equals_numpy():
    A = sp.Matrix([[3, 1, 0], [1, 2, sp.Rational(1, 2)], [0, sp.Rational(1, 2), 1]])
    h, mu0 = sp.Matrix([1, -2, sp.Rational(1, 3)]), sp.Matrix([0, 1, 2])
    Sigma0 = sp.Matrix([[1, 0, 0], [0, 2, sp.Rational(1, 4)], [0, sp.Rational(1, 4), 1]])
    mu_s, Sigma_s = g.ula_moments_sympy(A, h, mu0, Sigma0, 6, sp.Rational(1, 10), sp.Rational(1, 5))
    to = lambda M: np.array(M.evalf(30), dtype=float)  # noqa: E731
    mu, Sigma = g.ula_moments(to(A), to(h).ravel(), to(mu0).ravel(), to(Sigma0), 6, 0.1, 0.2)
    _close(mu, to(mu_s).ravel(), 1e-13)
    _close(Sigma, to(Sigma_s), 1e-13)


def test_per_mode_expressions_equal_numpy_functions():
    e, s = g.expressions(), g.SYMBOLS
    a = np.array([-3.0, -0.2, 0.4, 1.3, 19.0, 35.0, 39.9])  # eta*a up to 1.995 < 2
    for k in (1, 4, 9):
        f = sp.lambdify((s["a"], s["eta"], s["sigma2"], s["s02"]), e["ula_var"].subs(s["k"], k), "numpy")
        _close(g.ula_mode_variance(a, k, ETA, S02, sigma2=SIGMA2), f(a, ETA, SIGMA2, S02), 1e-13)
        mean = sp.lambdify((s["a"], s["eta"], s["mu0"], s["h"]), e["ula_mean"].subs(s["k"], k), "numpy")
        mu = np.array([g.ula_moments([[ai]], 0.7, -0.4, 1.0, k, ETA, SIGMA2)[0][0] for ai in a])
        _close(mu, mean(a, ETA, -0.4, 0.7), 1e-13)
    lv = sp.lambdify((s["a"], s["t"], s["s02"]), e["langevin_var"], "numpy")
    _close(g.langevin_mode_variance(a, 0.8, S02), lv(a, 0.8, S02), 1e-13)
    aeq = sp.lambdify((s["lam"], s["eta"], s["sigma2"]), e["a_eq"], "numpy")
    lam = np.array([0.2, 1.0, 5.0])
    _close(g.equilibrium_mode(lam, ETA, SIGMA2), aeq(lam, ETA, SIGMA2), 1e-14)
    # concave threshold is g_k(0) (a removable singularity of the expression)
    assert sp.simplify(sp.limit(e["g_k"].subs(s["k"], 5), s["a"], 0) - e["concave_threshold"].subs(s["k"], 5)) == 0


def test_field_expression_matches_train_fixed_point():
    e, s = g.expressions(), g.SYMBOLS
    A, h = g.train_fixed_point([[2.0]], [0.7], 6, ETA, S02, sigma2=SIGMA2, mu0=-0.3)
    val = e["field"].subs({s["a"]: A[0, 0], s["k"]: 6, s["eta"]: ETA, s["mu_D"]: 0.7, s["mu0"]: -0.3})
    assert abs(float(val) - h[0]) < 1e-12


def test_check_numbers_k7():
    expected = {1.0: (0.077, 1.026, 3), 3.0: (-2.30, 0.336, 2), 1 / 3: (3.267, 3.267, 3)}
    for lam, (a_ref, aeq_ref, digits) in expected.items():
        a = g.fixed_point_mode(lam, 7, ETA, S02, sigma2=SIGMA2)
        assert round(a, digits) == a_ref
        assert round(g.equilibrium_mode(lam, ETA, SIGMA2), 3) == aeq_ref


def test_memory_check_numbers():
    """k = 20, lam = 1: Sigma_t/lam = 0.33, 0.63, 0.81, 1.00, 1.10, 1.12 (discrete ULA, eta=0.05, sigma2=0.1)."""
    curve = g.memory_curve([[1.0]], [0.0], 20, [0, 5, 10, 20, 40, np.inf], ETA, S02, sigma2=SIGMA2)
    ratios = curve.Sigma[:, 0, 0] / 1.0
    assert list(np.round(ratios, 2)) == [0.33, 0.63, 0.81, 1.00, 1.10, 1.12]


@pytest.mark.parametrize("lam", [0.15, 1 / 3, 0.9, 1.0, 3.0, 10.0])
def test_a_versus_equilibrium_ordering(lam):
    aeq = g.equilibrium_mode(lam, ETA, SIGMA2)
    for k in (1, 3, 7, 40):
        a = g.fixed_point_mode(lam, k, ETA, S02, sigma2=SIGMA2)
        if lam > S02:
            assert a < aeq
        elif lam < S02:
            assert a > aeq
        else:
            assert abs(a - aeq) < 1e-12 * aeq


@pytest.mark.parametrize("k", [1, 3, 7, 25])
def test_concave_iff_above_threshold(k):
    thr = g.concave_threshold(k, S02, sigma2=SIGMA2)
    for lam in (thr * 0.98, thr * 1.02):
        a = g.fixed_point_mode(lam, k, ETA, S02, sigma2=SIGMA2)
        assert (a < 0) == (lam > thr)
    assert abs(g.fixed_point_mode(thr, k, ETA, S02, sigma2=SIGMA2)) < 1e-9


@pytest.mark.parametrize("k", [1, 2, 7, 20])
@pytest.mark.parametrize("root", ["physical", "mirror"])
def test_trained_fixed_point_reproduces_data(k, root):
    # physical: includes concave modes for every k here (4.0 > s02 + 20 sigma2); mirror: only data
    # variances below s02 + k sigma2 (>= 0.433) have a stable mirror (eta * a < 2)
    eigs = [0.2, 0.45, 1.3, 4.0] if root == "physical" else [0.15, 0.2, 0.3, 0.42]
    C_D = _sym(4, np.array(eigs), seed=7)
    mu_D = np.array([0.5, -1.0, 2.0, 0.1])
    mu0 = np.array([0.3, 0.0, -0.2, 1.0])
    A, h = g.train_fixed_point(C_D, mu_D, k, ETA, S02, sigma2=SIGMA2, mu0=mu0, root=root)
    assert np.allclose(A @ C_D, C_D @ A, rtol=0, atol=1e-12 * np.max(np.abs(A)))  # shared eigenvectors
    mu, Sigma = g.ula_moments(A, h, mu0, S02, k, ETA, SIGMA2)
    _close(Sigma, C_D, 1e-12)
    _close(mu, mu_D, 1e-12)


def test_mirror_of_a_concave_root_is_an_unstable_step():
    """lam > s02 + k sigma2: the physical root is a < 0, its mirror 2/eta - a has eta*a > 2."""
    lam = g.concave_threshold(3, S02, sigma2=SIGMA2) * 1.5
    assert g.fixed_point_mode(lam, 3, ETA, S02, sigma2=SIGMA2) < 0
    with pytest.raises(ValueError, match="root='mirror'.*unstable"):
        g.fixed_point_mode(lam, 3, ETA, S02, sigma2=SIGMA2, root="mirror")


def test_mirror_root_is_two_over_eta_minus_physical():
    a = g.fixed_point_mode(0.5, 4, ETA, S02, sigma2=SIGMA2)
    assert g.fixed_point_mode(0.5, 4, ETA, S02, sigma2=SIGMA2, root="mirror") == pytest.approx(2 / ETA - a, abs=1e-12)


def test_memory_curve_crosses_data_at_k_only_and_kl_vanishes_there():
    C_D = np.diag([0.2, 1.0, 2.5])
    mu_D = np.array([1.0, -0.5, 0.0])
    k = 12
    t = np.arange(0, 3 * k + 1)
    curve = g.memory_curve(C_D, mu_D, k, t, ETA, S02, sigma2=SIGMA2, mu0=0.0)
    dev = np.diagonal(curve.Sigma, axis1=1, axis2=2) - np.diag(C_D)
    for j in range(3):
        sign = np.sign(dev[:, j])
        sign[k] = 0
        assert np.all(sign[:k] == sign[0]) and np.all(sign[k + 1:] == -sign[0]) and sign[0] != 0
    assert abs(curve.kl_data_to_model[k]) < 1e-12
    assert np.all(np.delete(curve.kl_data_to_model, k) > 1e-8)


def test_memory_curve_t_inf_is_stationary_law():
    curve = g.memory_curve([[0.5]], [0.2], 30, [np.inf], ETA, S02, sigma2=SIGMA2)
    _close(curve.Sigma[0], g.ula_stationary_cov(curve.A, ETA, SIGMA2), 1e-14)
    big = g.ula_moments(curve.A, curve.h, 0.0, S02, 20000, ETA, SIGMA2)
    _close(curve.Sigma[0], big[1], 1e-12)
    _close(curve.mu[0], big[0], 1e-12)


def test_mode_variance_at_infinite_time():
    a = np.array([1.0, 5.0, 39.0])
    for s02 in (0.0, S02):
        v = g.ula_mode_variance(a, np.inf, ETA, s02, sigma2=SIGMA2)
        np.testing.assert_allclose(v, SIGMA2 / (1 - (1 - ETA * a) ** 2), rtol=1e-14, atol=0)
    np.testing.assert_allclose(v, np.diag(g.ula_stationary_cov(np.diag(a), ETA, SIGMA2)), rtol=1e-14, atol=0)
    for bad in (-1.0, 0.0):  # no stationary law: refused, not inf
        with pytest.raises(ValueError, match="k = inf"):
            g.ula_mode_variance([1.0, bad], np.inf, ETA, S02, sigma2=SIGMA2)


def test_stationary_cov_is_fixed_point_of_covariance_map():
    A = _sym(3, np.array([0.4, 5.0, 38.0]), seed=8)
    S = g.ula_stationary_cov(A, ETA, SIGMA2)
    M = np.eye(3) - ETA * A
    _close(M @ S @ M + SIGMA2 * np.eye(3), S, 1e-12)


def test_continuous_fixed_point_matches_lambertw_and_gb():
    tau = 0.9
    lam = np.array([0.3, 1.0, 1.7, 4.0])  # c = 2 tau/lam on both sides of 1
    a = g.fixed_point_mode_continuous(lam, tau, 0.0)
    _close(g.lambertw_mode(lam, tau), a, 1e-12)
    assert g.lambertw_mode(2 * tau, tau) == 0.0
    for s02 in (0.0, S02):
        a = g.fixed_point_mode_continuous(lam, tau, s02)
        _close(g.langevin_mode_variance(a, tau, s02), lam, 1e-13)
        assert np.all((a < 0) == (lam > s02 + 2 * tau))


def test_lambertw_expression_branches():
    e, s = g.expressions(), g.SYMBOLS
    branch = sp.Symbol("branch", integer=True)
    for lam, br in ((0.5, 0), (4.0, -1)):
        val = e["lambertw_root"].subs({s["lam"]: lam, s["t"]: 0.9, branch: br}).evalf(30)
        assert abs(float(sp.re(val)) - g.lambertw_mode(lam, 0.9)) < 1e-12


def test_kl_gauss_properties():
    S1, S2 = np.diag([1.0, 2.0]), np.array([[2.0, 0.3], [0.3, 1.0]])
    mu1, mu2 = np.array([0.0, 1.0]), np.array([0.5, -0.5])
    assert g.kl_gauss(mu1, S1, mu1, S1) == pytest.approx(0.0, abs=1e-15)
    d = 2
    iS2 = np.linalg.inv(S2)
    direct = 0.5 * (np.trace(iS2 @ S1) + (mu2 - mu1) @ iS2 @ (mu2 - mu1) - d
                    + np.log(np.linalg.det(S2) / np.linalg.det(S1)))
    assert g.kl_gauss(mu1, S1, mu2, S2) == pytest.approx(direct, rel=1e-13)


@pytest.mark.parametrize("call, match", [
    (lambda: g.ula_stationary_cov(np.diag([1.0, 50.0]), ETA, SIGMA2), "eta=0.05 is an unstable"),
    (lambda: g.ula_stationary_cov(np.diag([-1.0, 5.0]), ETA, SIGMA2), "spec\\(A\\)"),
    (lambda: g.train_fixed_point([[1.0, 2.0], [2.0, 1.0]], 0.0, 3, ETA, S02, sigma2=SIGMA2), "C_D"),
    (lambda: g.train_fixed_point([[1.0, 0.5], [0.0, 1.0]], 0.0, 3, ETA, S02, sigma2=SIGMA2), "C_D"),
    (lambda: g.fixed_point_mode(0.05, 3, ETA, S02, sigma2=SIGMA2), "lam"),
    (lambda: g.fixed_point_mode(1.0, 0, ETA, S02, sigma2=SIGMA2), "k"),
    (lambda: g.fixed_point_mode(1.0, 3, -ETA, S02, sigma2=SIGMA2), "eta"),
    (lambda: g.fixed_point_mode(1.0, 3, ETA, S02, sigma2=SIGMA2, root="other"), "root"),
    (lambda: g.ula_moments([[1.0, 0.0], [1.0, 1.0]], 0.0, 0.0, 1.0, 3, ETA), "A"),
    (lambda: g.ula_moments(np.eye(2), [1.0, 2.0, 3.0], 0.0, 1.0, 3, ETA), "h"),
    (lambda: g.ula_moments(np.eye(2), 0.0, 0.0, 1.0, 2.5, ETA), "k"),
    (lambda: g.equilibrium_mode(0.05, ETA, SIGMA2), "lam"),
    (lambda: g.memory_curve([[3.0]], 0.0, 7, [np.inf], ETA, S02, sigma2=SIGMA2), "times = inf"),
    (lambda: g.kl_gauss(0.0, [[1.0]], 0.0, [[-1.0]]), "Sigma_q"),
])
def test_bad_input_raises_naming_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ refusals instead of NaN
def test_unstable_step_is_refused_not_nan():
    """eta * a >= 2 for an eigenvalue a of A: the discretised chain overshoots; every function refuses."""
    A = np.diag([3.0, 0.5])
    with pytest.raises(ValueError, match=r"^eta=1\.0 is an unstable Langevin step: eta \* a = 3 >= 2"):
        g.ula_moments(A, [1.0, 0.0], 0.0, 1.0, 2000, 1.0)
    with pytest.raises(ValueError, match="^eta=1.0 is an unstable"):
        g.ula_stationary_cov(A, 1.0)
    with pytest.raises(ValueError, match="^eta=0.5 is an unstable"):
        g.ula_mode_variance([1.0, 4.0], 3, 0.5, S02)
    with pytest.raises(ValueError, match="^eta=0.5 is an unstable"):
        g.ula_moments(np.diag([4.0, 1.0]), 0.0, 0.0, 1.0, 2, 0.5)  # eta * a = 2 exactly
    # just below 2 the chain is fine and equals the direct recursion
    A = np.diag([3.9, 0.5])
    mu, Sigma = g.ula_moments(A, [1.0, 0.0], 0.0, np.eye(2), 40, 0.5, 1.0)
    mu_r, Sigma_r = _recursion(A, np.array([1.0, 0.0]), np.zeros(2), np.eye(2), 40, 0.5, 1.0)
    _close(mu, mu_r, 1e-12)
    _close(Sigma, Sigma_r, 1e-12)


def test_initial_covariance_must_be_positive_semidefinite():
    with pytest.raises(ValueError, match="^Sigma0=-1.0 must be a finite number >= 0"):
        g.ula_moments(1.0, 0.0, 0.0, -1.0, 3, 0.1)
    with pytest.raises(ValueError, match="^Sigma0 has a negative eigenvalue"):
        g.ula_moments(np.eye(2), 0.0, 0.0, [[1.0, 2.0], [2.0, 1.0]], 3, 0.1)
    with pytest.raises(ValueError, match="^Sigma0 has a negative eigenvalue"):
        g.langevin_moments(np.eye(2), 0.0, 0.0, [[1.0, 2.0], [2.0, 1.0]], 0.5)
    with pytest.raises(ValueError, match=r"^Sigma0 must be a scalar or have shape \(2, 2\) \(the size of A\)"):
        g.ula_moments(np.eye(2), 0.0, 0.0, np.eye(3), 3, 0.1)
    # singular (point mass along a direction) is a valid p0
    S0 = np.array([[1.0, 1.0], [1.0, 1.0]])
    A = _sym(2, np.array([0.5, 2.0]), seed=9)
    _close(g.ula_moments(A, 0.3, 0.0, S0, 9, ETA, SIGMA2)[1],
           _recursion(A, np.full(2, 0.3), np.zeros(2), S0, 9, ETA, SIGMA2)[1], 1e-12)


def test_concave_direction_overflow_is_refused_naming_the_steps():
    A = np.diag([-1.0, 1.0])
    k = 500  # (1 + eta)^(2k) = 1e21: large but finite, equal to the recursion
    mu, Sigma = g.ula_moments(A, 0.5, 0.1, 0.2, k, ETA, SIGMA2)
    mu_r, Sigma_r = _recursion(A, np.full(2, 0.5), np.full(2, 0.1), 0.2 * np.eye(2), k, ETA, SIGMA2)
    np.testing.assert_allclose(Sigma, Sigma_r, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mu, mu_r, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"^k=100000: the result exceeds the float64 range .*a = -1 "):
        g.ula_moments(A, 0.5, 0.1, 0.2, 100_000, ETA, SIGMA2)
    with pytest.raises(ValueError, match=r"^t=2000.0: the result exceeds"):
        g.langevin_moments(A, 0.5, 0.1, 0.2, 2000.0)
    with pytest.raises(ValueError, match=r"^k: the result exceeds"):
        g.ula_mode_variance(-1.0, 100_000, ETA, S02)


@pytest.mark.parametrize("bad", [np.array([[1.0 + 1e-9j]]), 1j, "1.0", None, [[1.0], [1.0, 2.0]]])
def test_complex_and_non_numbers_are_refused(bad):
    for call, name in ((lambda: g.ula_moments(bad, 0.0, 0.0, 1.0, 3, ETA), "A"),
                       (lambda: g.ula_moments(1.0, bad, 0.0, 1.0, 3, ETA), "h"),
                       (lambda: g.ula_moments(1.0, 0.0, 0.0, 1.0, 3, bad), "eta"),
                       (lambda: g.fixed_point_mode(bad, 3, ETA, S02), "lam"),
                       (lambda: g.kl_gauss(0.0, bad, 0.0, 1.0), "Sigma_p")):
        with pytest.raises(ValueError, match=f"^{name}"):
            call()


def test_sigma2_defaults_to_two_eta_in_every_function():
    eta = 0.04
    A = _sym(2, np.array([0.7, 3.0]), seed=10)
    C_D = _sym(2, np.array([0.4, 1.6]), seed=11)
    pairs = [
        (lambda **kw: g.ula_moments(A, 0.2, 0.1, S02, 6, eta, **kw)),
        (lambda **kw: g.ula_stationary_cov(A, eta, **kw)),
        (lambda **kw: g.ula_mode_variance([0.5, 2.0], 6, eta, S02, **kw)),
        (lambda **kw: g.concave_threshold(6, S02, eta=eta, **kw)),
        (lambda **kw: g.fixed_point_mode([0.4, 1.6], 6, eta, S02, **kw)),
        (lambda **kw: g.train_fixed_point(C_D, 0.3, 6, eta, S02, **kw)),
        (lambda **kw: g.equilibrium_mode([0.4, 1.6], eta, **kw)),
        (lambda **kw: g.train_equilibrium(C_D, 0.3, eta, **kw)),
        (lambda **kw: g.memory_curve(C_D, 0.3, 6, [0, 6, 12], eta, S02, **kw).Sigma),
    ]
    def flat(v):
        return np.concatenate([np.ravel(x) for x in v]) if isinstance(v, tuple) else np.ravel(v)
    for call in pairs:
        default, explicit, other = (flat(call(**kw)) for kw in ({}, {"sigma2": 2 * eta}, {"sigma2": 3 * eta}))
        np.testing.assert_array_equal(default, explicit)
        assert not np.array_equal(default, other)  # sigma2 is really used
    s = g.expressions()
    mu, Sigma = g.ula_moments_sympy([[2]], [1], [0], [[1]], 3, sp.Rational(1, 10))
    assert Sigma == g.ula_moments_sympy([[2]], [1], [0], [[1]], 3, sp.Rational(1, 10), sp.Rational(1, 5))[1]
    assert "sigma2" in str(s["ula_var"])
    with pytest.raises(ValueError, match="pass eta"):
        g.concave_threshold(6, S02)


def test_memory_curve_fields_statistics_and_kl_direction():
    from shortrun.numerics.analysis import diagnostics
    import dataclasses
    shared = [f.name for f in dataclasses.fields(diagnostics.MemoryCurve)]
    assert shared == ["times", "stats", "distance", "kl_data_to_model"]
    assert [f.name for f in dataclasses.fields(g.MemoryCurve)][:4] == shared
    C_D = _sym(2, np.array([0.3, 1.4]), seed=12)
    mu_D = np.array([0.4, -0.7])
    k = 9
    curve = g.memory_curve(C_D, mu_D, k, np.arange(0, 25), ETA, S02, sigma2=SIGMA2, mu0=0.2)
    assert curve.best_time == k and curve.distance[k] < 1e-12
    iu = np.triu_indices(2)
    for t in (0, 5, k, 24):
        mu, Sigma = g.ula_moments(curve.A, curve.h, 0.2, S02, t, ETA, SIGMA2)
        stats = np.concatenate([mu, (Sigma + np.outer(mu, mu))[iu]])
        stats_D = np.concatenate([mu_D, (C_D + np.outer(mu_D, mu_D))[iu]])
        _close(curve.stats[t], stats, 1e-13)
        assert curve.distance[t] == pytest.approx(np.max(np.abs(stats - stats_D)), abs=1e-14)
        # KL(data || model): the data law is the first argument
        iS = np.linalg.inv(Sigma)
        direct = 0.5 * (np.trace(iS @ C_D) + (mu - mu_D) @ iS @ (mu - mu_D) - 2
                        + np.log(np.linalg.det(Sigma) / np.linalg.det(C_D)))
        assert curve.kl_data_to_model[t] == pytest.approx(direct, rel=1e-10, abs=1e-14)
        assert curve.kl_data_to_model[t] == pytest.approx(g.kl_gauss(mu_D, C_D, mu, Sigma), rel=1e-14, abs=1e-15)
    if_reversed = g.kl_gauss(curve.mu[0], curve.Sigma[0], mu_D, C_D)
    assert abs(if_reversed - curve.kl_data_to_model[0]) > 1e-3  # KL is not symmetric: the direction matters
    # p0 a point mass (s02 = 0): the model law at t = 0 is singular, KL(data || model) = inf
    point = g.memory_curve(C_D, mu_D, k, [0, k], ETA, 0.0, sigma2=SIGMA2)
    assert point.kl_data_to_model[0] == np.inf and point.kl_data_to_model[1] < 1e-12


def test_continuous_fixed_point_for_extreme_variances():
    """Solved in log space: very large data variances (a very negative) without overflow."""
    for lam in (1e-6, 1e50, 1e200):
        a = g.fixed_point_mode_continuous(lam, 1.0, 0.3)
        x = 2 * a
        if x < 0:  # log of 0.3 e^{-x} + 2 (1 - e^{-x})/x without forming e^{-x}
            log_v = -x + np.log(0.3 + 2 * (np.exp(x) - 1) / x)
        else:
            log_v = np.log(g.langevin_mode_variance(a, 1.0, 0.3))
        assert log_v == pytest.approx(np.log(lam), rel=1e-12)
