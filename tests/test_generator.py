"""The short-run chain as a generator (docs/theory.md (G6)-(G8)).

KL of the Rdm-k law against a direct sum over the dense kernel's law, the Pythagorean and
maximum-entropy identities of (G6); the noised target laws against the dense product channel;
the time-dependent chain's fixed point checked by brute force (dense kernels, statistics by
explicit products of spins), its stacked Jacobian against Richardson-bounded finite differences
and against the Rdm-1 Jacobian of each step, Newton on the stacked system landing on the
step-by-step root; bad inputs.
"""
import numpy as np
import pytest
from conftest import richardson_fd_check

from shortrun.numerics.analysis import generator
from shortrun.numerics.kernels import BMKernel
from shortrun.numerics.models import BoltzmannMachine
from shortrun.numerics.models.boltzmann import n_params
from shortrun.numerics.core.states import spins
from shortrun.numerics.analysis import schedule
from shortrun.numerics.training import problem

EPS = np.finfo(float).eps


def _dense_law(theta, N, k, p0=None):
    """U^k p0 with the dense matrix of the kernel (built independently of the numba operators)."""
    U = BMKernel(BoltzmannMachine.from_theta(theta, N), "heatbath", "random").dense()
    p = np.full(1 << N, 1.0 / (1 << N)) if p0 is None else p0
    for _ in range(k):
        p = U @ p
    return p


def _brute_stats(p, N):
    """(<s_i>, <s_i s_j>_{i<j}) by explicit products over the states."""
    s = spins(N).astype(float)
    out = [p @ s[:, i] for i in range(N)]
    out += [p @ (s[:, i] * s[:, j]) for i in range(N) for j in range(i + 1, N)]
    return np.array(out)


def test_generator_kl_against_a_direct_sum_and_the_identities_of_g6():
    data = generator.three_body_law(5, 0.8, seed=3)
    r = generator.generator_kl(data, [1, 3])
    for k, theta, kl in zip(r.ks, r.thetas, r.kl_chain):
        q = _dense_law(theta, 5, int(k))
        direct = sum(p * np.log(p / qq) for p, qq in zip(data.p, q) if p > 0)
        assert abs(kl - direct) <= 1e-13 * max(1.0, abs(direct)) + 64 * EPS
    assert np.all(r.residual <= 1e-11) and np.all(r.stats_error <= 1e-10)
    # Pythagoras: the gap is theta*-theta_ML times the ML residual (<= 1e-11 on every entry)
    bound = np.abs(r.thetas - r.theta_ml).sum(axis=1) * 1e-11 + 1e-13
    assert np.all(np.abs(r.pythagoras_gap) <= bound)
    # KL(p_data || p_ML) = H(p_ML) - H(p_data), up to |theta_ML|_1 times the ML residual
    assert abs(r.kl_ml - (r.entropy_ml - r.entropy_data)) <= np.abs(r.theta_ml).sum() * 1e-11 + 1e-13
    assert r.kl_ml > 1e-3                       # three-body data: outside the model class
    # maximum entropy: every law with the data's statistics has H <= H(p_ML)
    assert np.all(r.entropy_chain <= r.entropy_ml + 1e-10)
    assert np.all(r.kl_model >= r.kl_ml - 1e-12)


def test_chain_kl_gradient_against_finite_differences_and_the_best_chain():
    data = generator.three_body_law(4, 0.8, seed=5)
    theta = 0.3 * np.random.default_rng(2).standard_normal(n_params(4))
    kl, grad = generator.chain_kl_gradient(theta, data, 2)
    assert abs(kl - sum(p * np.log(p / q) for p, q in zip(data.p, _dense_law(theta, 4, 2)))) \
        <= 1e-13
    f = lambda th: np.array([generator.chain_kl_gradient(th, data, 2)[0]])   # noqa: E731
    # one evaluation: 2 sweeps on 16 states and a sum of 16 logs, a few ulps of each term
    richardson_fd_check(f, theta, grad[None, :], 64 * EPS * max(1.0, np.log(16) + abs(kl)))
    th, best, gnorm = generator.best_chain(data, 2, theta)
    assert best <= kl and gnorm <= 1e-7
    assert abs(best - generator.chain_kl_gradient(th, data, 2)[0]) == 0.0


def test_in_class_teacher_has_zero_ml_kl():
    from shortrun.numerics.data import teachers
    r = generator.generator_kl(teachers.sk(5, 0.7, seed=2).data(), [2])
    assert abs(r.kl_ml) <= 1e-12 and r.kl_chain[0] > 0 and r.kl_model[0] > 0


def test_noised_law_is_the_product_channel():
    data = generator.three_body_law(4, 1.0, seed=0)
    s = spins(4).astype(float)
    for a in (0.0, 0.3, 1.0):
        C = np.prod((1.0 + a * s[:, None, :] * s[None, :, :]) / 2.0, axis=2)   # C[x', x]
        q = schedule.noised_law(data.p, a)
        np.testing.assert_allclose(q, C @ data.p, rtol=0, atol=1e-15)
        np.testing.assert_allclose(_brute_stats(q, 4)[:4], a * _brute_stats(data.p, 4)[:4],
                                   rtol=0, atol=1e-14)


@pytest.mark.parametrize("which", ["data", "noised"])
def test_time_dependent_fixed_point_by_brute_force(which):
    N, k = 5, 3
    data = generator.three_body_law(N, 0.6, seed=1)
    sol = schedule.solve(data, k, which)
    assert sol.thetas.shape == (k, n_params(N)) and np.all(sol.residuals <= 1e-11)
    m = _brute_stats(data.p, N)
    p = np.full(1 << N, 1.0 / (1 << N))
    for t in range(1, k + 1):
        p = _dense_law(sol.thetas[t - 1], N, 1, p)
        a = 1.0 if which == "data" else t / k
        target = np.concatenate([a * m[:N], a * a * m[N:]])       # (G7): <s_i> a, <s_i s_j> a^2
        assert np.max(np.abs(_brute_stats(p, N) - target)) <= 1e-10, t
        np.testing.assert_allclose(p, sol.laws[t - 1], rtol=0, atol=1e-14)


def test_time_dependent_jacobian_against_finite_differences_and_rdm1_blocks():
    N, k = 4, 3
    data = generator.three_body_law(N, 0.8, seed=2)
    qs = schedule.targets(data, k, "noised")
    P = n_params(N)
    theta = 0.4 * np.random.default_rng(0).standard_normal(k * P)
    F, jac = schedule.residual_and_jacobian(theta.reshape(k, P), qs)
    f = lambda th: schedule.residual_and_jacobian(th.reshape(k, P), qs)[0]   # noqa: E731
    # one evaluation of F: k sweeps of N site updates on 2^N states, a few ulps each
    richardson_fd_check(f, theta, jac, 64 * EPS * k * N)
    laws = schedule.laws(theta.reshape(k, P), N)
    starts = [np.full(1 << N, 1.0 / (1 << N)), *laws[:-1]]
    for t in range(k):
        assert not np.any(jac[t * P:(t + 1) * P, (t + 1) * P:])           # block lower triangular
        prob = problem(qs[t], 1, "rdm", p0=starts[t])
        Ft, Jt = prob.residual_and_jacobian(theta[t * P:(t + 1) * P])
        np.testing.assert_allclose(jac[t * P:(t + 1) * P, t * P:(t + 1) * P], Jt, rtol=0,
                                   atol=1e-14)
        np.testing.assert_allclose(F[t * P:(t + 1) * P], Ft, rtol=0, atol=1e-14)


def test_stacked_newton_lands_on_the_step_by_step_root():
    N, k = 4, 3
    data = generator.three_body_law(N, 0.6, seed=4)
    sol = schedule.solve(data, k, "data")
    qs = sol.target_laws
    theta = sol.thetas + 0.05 * np.random.default_rng(1).standard_normal(sol.thetas.shape)
    for _ in range(12):
        F, jac = schedule.residual_and_jacobian(theta, qs)
        theta = theta - np.linalg.solve(jac, F).reshape(theta.shape)
    F, _ = schedule.residual_and_jacobian(theta, qs)
    assert np.max(np.abs(F)) <= 1e-12
    assert np.max(np.abs(theta - sol.thetas)) <= 1e-9


def test_bad_inputs_are_named():
    data = generator.three_body_law(4, 0.5, seed=0)
    qs = schedule.targets(data, 2)
    with pytest.raises(ValueError, match="thetas"):
        schedule.residual_and_jacobian(np.zeros((2, 3)), qs)
    with pytest.raises(ValueError, match="thetas"):
        schedule.residual_and_jacobian(np.full((2, n_params(4)), np.nan), qs)
    with pytest.raises(ValueError, match="one parameter vector per step"):
        schedule.residual_and_jacobian(np.zeros((3, n_params(4))), qs)
    with pytest.raises(ValueError, match="N=2.5"):
        schedule.laws(np.zeros((2, n_params(4))), 2.5)
    with pytest.raises(ValueError, match="schedule"):
        schedule.targets(data, 2, "cosine")
    with pytest.raises(ValueError, match="k=0"):
        schedule.targets(data, 0)
    with pytest.raises(ValueError, match="a=1.5"):
        schedule.noised_law(data.p, 1.5)
    with pytest.raises(ValueError, match="N=40"):
        generator.three_body_law(40, 1.0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        generator.three_body_law(5, 1.0, seed=None)
    with pytest.raises(ValueError, match="side=5"):
        generator.digit_patches(5)
    with pytest.raises(ValueError, match="ks"):
        generator.generator_kl(data, [])
    with pytest.raises(ValueError, match="ks"):
        generator.generator_kl(data, [0])
    # these were TypeErrors, numpy messages or silently accepted (best_chain's gtol, max_iter)
    for call, match in [(lambda: generator.entropy(0.5), "p must be a probability vector"),
                        (lambda: schedule.noised_law(1.0, 0.5), "p must be a probability vector"),
                        (lambda: schedule.noised_law(data.p, [0.5, 0.5]), "a must be a single"),
                        (lambda: generator.three_body_law(4, [1.0, 2.0], seed=0), "beta must be"),
                        (lambda: generator.three_body_law(4, 1.0, seed="a"), "seed='a'"),
                        (lambda: generator.best_chain(data, 1, np.zeros(n_params(4)), gtol=-1),
                         "gtol=-1"),
                        (lambda: generator.best_chain(data, 1, np.zeros(n_params(4)), max_iter=0),
                         "max_iter=0"),
                        (lambda: schedule.residual_and_jacobian(
                            np.zeros((2, n_params(4))),
                            [data, generator.three_body_law(3, 0.5, seed=0)]), r"target_laws\[1\]")]:
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(RuntimeError, match="step t=1"):
        schedule.solve(generator.three_body_law(4, 6.0, seed=0), 2, restarts=0)


@pytest.mark.slow
def test_digit_patches_law():
    d = generator.digit_patches(3)
    assert d.N == 9 and d.M == 1437 * 36
    r = generator.generator_kl(d, [3])
    assert r.residual[0] <= 1e-11 and r.kl_ml > 0
