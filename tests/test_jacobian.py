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
