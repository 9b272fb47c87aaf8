"""Exact forward-mode Jacobian of p(k, p0) against the numba kernels and central differences."""
import numpy as np
import pytest
from conftest import RULES, SCANS, exact_tol

from shortrun.numerics.kernels import tangent as jacobian

from shortrun.numerics import kernels

from shortrun.numerics import models

from shortrun.numerics.core import moments

# parallel heat-bath kernels warn that their stationary law is not Boltzmann: known here
pytestmark = pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")


def random_model(N, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0, scale, (N, N)), 1)
    return models.BoltzmannMachine(rng.normal(0, scale, N), J + J.T)


def random_p0(N, seed):
    p = np.random.default_rng(seed).random(1 << N)
    return p / p.sum()


def central_difference(model, p0, k, rule, scan, eps=1e-5):
    theta, N = model.theta, model.N
    cols = []
    for a in range(len(theta)):
        up, dn = theta.copy(), theta.copy()
        up[a] += eps
        dn[a] -= eps
        hi = kernels.law(models.BoltzmannMachine.from_theta(up, N), p0, k, rule, scan)
        lo = kernels.law(models.BoltzmannMachine.from_theta(dn, N), p0, k, rule, scan)
        cols.append((hi - lo) / (2 * eps))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
def test_tangent_law_and_jacobian(rule, scan):
    """The law part equals the numba kernel; the tangent conserves probability and matches
    central finite differences (relative error ~1e-10, eps = 1e-5)."""
    N = 5
    model, p0 = random_model(N, 3), random_p0(N, 4)
    k = 1.6 if scan == "continuous" else 2
    p, D = jacobian.law_tangent(model, p0, k, rule, scan)
    assert np.max(np.abs(p - kernels.law(model, p0, k, rule, scan))) <= exact_tol(N)
    assert np.max(np.abs(D.sum(axis=0))) <= exact_tol(N)
    fd = central_difference(model, p0, k, rule, scan)
    rel = np.max(np.abs(fd - D)) / np.max(np.abs(D))
    print(f"{rule}/{scan}: max relative error of the exact Jacobian vs central FD = {rel:.2e}")
    assert rel < 1e-7


def test_stats_jacobian_is_phi_transpose_tangent():
    N, k = 6, 2
    model, p0 = random_model(N, 5, 0.3), random_p0(N, 6)
    F, jac = jacobian.stats_jacobian(model, p0, k, "heatbath", "sequential")
    assert np.allclose(F, moments.stats(kernels.law(model, p0, k, "heatbath", "sequential")),
                       atol=exact_tol(N))
    eps, a = 1e-5, 9
    up, dn = model.theta.copy(), model.theta.copy()
    up[a] += eps
    dn[a] -= eps
    col = (moments.stats(kernels.law(models.BoltzmannMachine.from_theta(up, N), p0, k, "heatbath",
                             "sequential"))
           - moments.stats(kernels.law(models.BoltzmannMachine.from_theta(dn, N), p0, k, "heatbath",
                               "sequential"))) / (2 * eps)
    assert np.max(np.abs(col - jac[:, a])) < 1e-8


def test_equilibrium_jacobian_is_covariance():
    N = 5
    model = random_model(N, 7)
    F, cov = jacobian.equilibrium_jacobian(model)
    assert np.allclose(cov, cov.T, atol=1e-15)
    assert np.min(np.linalg.eigvalsh(cov)) > 0
    eps = 1e-5
    fd = np.stack([(moments.stats(models.BoltzmannMachine.from_theta(model.theta + eps * e, N)
                                  .boltzmann())
                    - moments.stats(models.BoltzmannMachine.from_theta(model.theta - eps * e, N)
                                    .boltzmann())) / (2 * eps) for e in np.eye(len(F))], axis=1)
    assert np.max(np.abs(fd - cov)) / np.max(np.abs(cov)) < 1e-7


@pytest.mark.parametrize("rule", RULES)
def test_stationary_jacobian_parallel(rule):
    N = 4
    # parallel Metropolis is often trapped in a 2-cycle of complementary states; seed 10 gives an
    # ergodic chain (pi > 0 everywhere), where pi and its Jacobian are well defined
    model = random_model(N, 10, 0.8)

    def pi_stats(theta):
        m = models.BoltzmannMachine.from_theta(theta, N)
        return moments.stats(kernels.BMKernel(m, rule, "parallel").stationary())

    F, jac = jacobian.stationary_jacobian(model, rule, "parallel")
    assert np.allclose(F, pi_stats(model.theta), atol=1e-12)
    eps = 1e-5
    fd = np.stack([(pi_stats(model.theta + eps * e) - pi_stats(model.theta - eps * e)) / (2 * eps)
                   for e in np.eye(len(F))], axis=1)
    assert np.max(np.abs(fd - jac)) / np.max(np.abs(jac)) < 1e-6


def test_metropolis_kink_uses_right_derivative():
    """At H_i = 0 (theta = 0) the tangent is the derivative of the H >= 0 branch: it equals the
    forward difference in h_i, not the backward one, when p(x+) != p(x-)."""
    N, k = 3, 1
    model = models.BoltzmannMachine.zeros(N)
    p0 = random_p0(N, 9)
    _, D = jacobian.law_tangent(model, p0, k, "metropolis", "sequential")

    def at(theta):
        return kernels.law(models.BoltzmannMachine.from_theta(theta, N), p0, k, "metropolis",
                           "sequential")

    eps = 1e-7
    for i in range(N):
        e = np.zeros(len(model.theta))
        e[i] = eps
        fwd = (at(e) - at(0 * e)) / eps
        bwd = (at(0 * e) - at(-e)) / eps
        assert np.max(np.abs(fwd - D[:, i])) < 1e-5
        assert np.max(np.abs(bwd - D[:, i])) > 1e-2


def test_uniform_start_hides_the_kink():
    """With p(x+) = p(x-) the one-sided derivatives agree (uniform p0 at theta = 0)."""
    N = 3
    model = models.BoltzmannMachine.zeros(N)
    _, D = jacobian.law_tangent(model, "uniform", 2, "metropolis", "random")
    fd = central_difference(model, "uniform", 2, "metropolis", "random", eps=1e-6)
    assert np.max(np.abs(fd - D)) < 1e-8


def test_tangent_validation():
    model = random_model(3, 1)
    with pytest.raises(ValueError, match="BoltzmannMachine"):
        jacobian.TangentKernel("not a model")
    with pytest.raises(ValueError, match="rule"):
        jacobian.TangentKernel(model, rule="gibbs")
    with pytest.raises(ValueError, match="D0"):
        jacobian.TangentKernel(model).propagate("uniform", 1, D0=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="k="):
        jacobian.TangentKernel(model).propagate("uniform", 1.5)


def test_pair_columns_follow_theta_order():
    N = 5
    col = jacobian.pair_columns(N)
    iu = np.triu_indices(N, 1)
    assert np.array_equal(col[iu], N + np.arange(len(iu[0])))
    assert np.array_equal(col, col.T)
    Phi = jacobian.phi_matrix(N)
    p = random_p0(N, 3)
    assert np.allclose(Phi.T @ p, moments.stats(p), atol=1e-15)


# ---- the fast tangent routes -------------------------------------------------------------
def _with_threads(fn):
    """``[fn()]`` on one and on two numba threads."""
    import numba
    saved = numba.get_num_threads()
    try:
        out = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            out.append(fn())
    finally:
        numba.set_num_threads(saved)
    return out


@pytest.mark.parametrize("rule", RULES)
def test_gathered_random_step_is_the_mean_of_site_steps(rule):
    """R = (1/N) sum_i T_i on (p, D): the gathered rows (each state from its N neighbours, the
    dH term from G_i) equal the mean of the N single-site tangent steps to 2^N eps."""
    N = 6
    model, p = random_model(N, 11), random_p0(N, 12)
    K = jacobian.TangentKernel(model, rule, "random")
    D = np.random.default_rng(13).normal(size=(1 << N, K.P))
    steps = [K.site_step(p, D, i) for i in range(N)]
    ref_p = sum(s[0] for s in steps) / N
    ref_D = sum(s[1] for s in steps) / N
    rp, rD = K.random_step(p, D)
    assert np.max(np.abs(rp - ref_p)) <= exact_tol(N)
    assert np.max(np.abs(rD - ref_D)) <= exact_tol(N) * np.max(np.abs(ref_D))


@pytest.mark.parametrize("scan", ["random", "sequential", "continuous"])
def test_tangent_thread_count_and_route_independent(scan, monkeypatch):
    """The threaded tangent passes (the threshold lowered so that N = 9 takes them) give the
    same bits on 1 and 2 threads as the one-thread route."""
    N = 9
    model = random_model(N, 14, 0.3)
    k = 0.4 if scan == "continuous" else 1
    monkeypatch.setattr(jacobian, "SERIAL_BELOW", 1 << 8)
    runs = _with_threads(lambda: jacobian.law_tangent(model, "uniform", k, "metropolis", scan))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(jacobian, "SERIAL_BELOW", 1 << 40)
    p, D = jacobian.law_tangent(model, "uniform", k, "metropolis", scan)
    np.testing.assert_array_equal(p, runs[0][0])
    np.testing.assert_array_equal(D, runs[0][1])


def test_tangent_size_limits():
    with pytest.raises(ValueError, match=r"N=19 exceeds N <= 18"):
        jacobian.TangentKernel(models.BoltzmannMachine.zeros(19))
    budget = jacobian.check_size.__globals__["MEMORY_BUDGET"]
    try:
        jacobian.check_size.__globals__["MEMORY_BUDGET"] = 2**20
        with pytest.raises(ValueError, match="exact random-scan Jacobian at N=10 would need"):
            jacobian.TangentKernel(models.BoltzmannMachine.zeros(10))
    finally:
        jacobian.check_size.__globals__["MEMORY_BUDGET"] = budget


def test_newton_bit_identical_for_any_blas_and_numba_thread_count(monkeypatch):
    """fixed_point.solve gives the same theta*, bit for bit, under 1 and 2 BLAS threads and 1
    and 2 numba threads (the thresholds are lowered so that N = 11 takes the threaded kernels).
    Unlimited, two BLAS threads change the last bits of theta* here (the statistics and the
    linear solves split their sums by thread count); solve runs with one BLAS thread."""
    import numba
    from threadpoolctl import threadpool_limits
    from shortrun.numerics.data import teachers
    from shortrun.numerics.kernels import site_updates
    from shortrun.numerics.training import fixed_point
    monkeypatch.setattr(site_updates, "SERIAL_BELOW", 1 << 8)
    monkeypatch.setattr(jacobian, "SERIAL_BELOW", 1 << 8)
    data = teachers.sk(11, 0.8, seed=3, field=0.3).data(M=5000, seed=2)
    saved = numba.get_num_threads()
    thetas = []
    try:
        for blas in (1, 2):
            for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
                numba.set_num_threads(threads)
                with threadpool_limits(blas, user_api="blas"):
                    fp = fixed_point.solve(data, 2, "rdm", "heatbath", "sequential", tol=1e-11)
                thetas.append(fp.theta)
    finally:
        numba.set_num_threads(saved)
    assert fp.converged
    for theta in thetas[1:]:
        np.testing.assert_array_equal(theta, thetas[0])
