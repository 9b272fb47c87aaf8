"""State space, {0,1} converters, moments and the Boltzmann law against brute force."""
import itertools

import numpy as np
import pytest
from conftest import exact_tol, random_bm, random_distribution

from shortrun.numerics import models
from shortrun.numerics.models import base as model_base

from shortrun.numerics.core import moments

from shortrun.numerics.core import states


@pytest.mark.parametrize("N", [1, 3, 5, 7])
def test_index_spins_round_trip(N):
    x = np.arange(1 << N)
    s = states.spins(N)
    assert s.dtype == np.int8 and s.shape == (1 << N, N)
    np.testing.assert_array_equal(states.index(s), x)
    np.testing.assert_array_equal(states.spins(N, x[::-1]), s[::-1])


def test_bit_convention():
    # bit i of x is 1 <=> s_i = +1
    np.testing.assert_array_equal(states.spins(3, [0])[0], [-1, -1, -1])
    np.testing.assert_array_equal(states.spins(3, [1])[0], [1, -1, -1])
    np.testing.assert_array_equal(states.spins(3, [6])[0], [-1, 1, 1])
    assert states.index([1, -1, 1]) == 5


def test_01_basis_round_trip():
    s = states.spins(4)
    np.testing.assert_array_equal(states.from01(states.to01(s)), s)
    with pytest.raises(ValueError, match="only 0 and 1"):
        states.from01([0, 2])
    with pytest.raises(ValueError, match="only -1 and \\+1"):
        states.index([0, 1])


@pytest.mark.parametrize("N,seed", [(3, 0), (5, 1)])
def test_params_01_same_energy(N, seed):
    bm = random_bm(N, seed)
    b, W, c = states.params_to_01(bm.h, bm.J)
    sig = states.to01(states.spins(N)).astype(float)
    E01 = -(sig @ b) - 0.5 * np.einsum("xi,ij,xj->x", sig, W, sig) + c
    np.testing.assert_allclose(E01, bm.energies(), rtol=0, atol=1e-13)
    h, J, c2 = states.params_from_01(b, W)
    np.testing.assert_allclose(h, bm.h, atol=1e-14)
    np.testing.assert_allclose(J, bm.J, atol=1e-14)
    assert c2 == pytest.approx(c, abs=1e-14)


@pytest.mark.parametrize("N", [3, 6])
def test_moments_brute_force_and_01(N):
    p = random_distribution(N, N)
    s = states.spins(N).astype(float)
    m, C = moments.moments(p)
    np.testing.assert_allclose(m, p @ s, atol=exact_tol(N))
    np.testing.assert_allclose(C, (s * p[:, None]).T @ s, atol=exact_tol(N))
    mu, M = states.moments_to_01(m, C)
    sig = states.to01(states.spins(N)).astype(float)
    np.testing.assert_allclose(mu, p @ sig, atol=exact_tol(N))
    np.testing.assert_allclose(M, (sig * p[:, None]).T @ sig, atol=exact_tol(N))
    m2, C2 = states.moments_from_01(mu, M)
    np.testing.assert_allclose(m2, m, atol=exact_tol(N))
    np.testing.assert_allclose(C2, C, atol=exact_tol(N))
    np.testing.assert_allclose(moments.connected(m, C), C - np.outer(m, m))
    phi = moments.stats(p)
    assert phi.shape == (N + N * (N - 1) // 2,)
    m3, C3 = moments.moments_from_stats(phi, N)
    np.testing.assert_allclose(C3, C, atol=exact_tol(N))


@pytest.mark.parametrize("split_bits", [0, 3, 11])
def test_block_routes_independent_of_split(monkeypatch, split_bits):
    # moments and energies by the hi/lo split equal the direct sums over all states
    N = 11
    p = random_distribution(N, 3)
    bm = random_bm(N, 4)
    s = states.spins(N).astype(float)
    monkeypatch.setattr(states, "SPLIT_BITS", split_bits)
    m, C = moments.moments(p)
    np.testing.assert_allclose(m, p @ s, rtol=0, atol=exact_tol(N))
    np.testing.assert_allclose(C, (s * p[:, None]).T @ s, rtol=0, atol=exact_tol(N))
    E = models.BoltzmannMachine(bm.h, bm.J).energies()
    np.testing.assert_allclose(E, bm.energy(s), rtol=0, atol=1e-12)


def _nested_loop_log_z(h, J):
    N = len(h)
    Z = 0.0
    for s in itertools.product((-1, 1), repeat=N):
        E = 0.0
        for i in range(N):
            E -= h[i] * s[i]
            for j in range(i + 1, N):
                E -= J[i][j] * s[i] * s[j]
        Z += np.exp(-E)
    return np.log(Z)


@pytest.mark.parametrize("N,seed", [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4)])
def test_partition_function_brute_force(N, seed):
    bm = random_bm(N, seed, scale=1.5)
    assert bm.log_partition() == pytest.approx(_nested_loop_log_z(bm.h, bm.J), abs=1e-12)
    p = bm.boltzmann()
    assert abs(p.sum() - 1) < exact_tol(N)


def test_independent_spins_partition_closed_form():
    h = np.array([0.3, -1.2, 2.0, 0.0, 0.7])
    bm = models.BoltzmannMachine(h, np.zeros((5, 5)))
    assert bm.log_partition() == pytest.approx(np.sum(np.log(2 * np.cosh(h))), abs=1e-13)
    m, _ = moments.moments(bm.boltzmann())
    np.testing.assert_allclose(m, np.tanh(h), atol=exact_tol(5))


def test_boltzmann_stable_at_huge_couplings():
    # ferromagnet with J = 400: e^{-E} overflows in float64, the log-space route does not
    N = 4
    J = 400.0 * (np.ones((N, N)) - np.eye(N))
    bm = models.BoltzmannMachine(np.zeros(N), J)
    p = bm.boltzmann()
    assert np.all(np.isfinite(p)) and abs(p.sum() - 1) < 1e-15
    assert p[0] == pytest.approx(0.5) and p[-1] == pytest.approx(0.5)
    assert np.isfinite(bm.log_partition())


def test_theta_round_trip():
    bm = random_bm(6, 9)
    bm2 = models.BoltzmannMachine.from_theta(bm.theta, 6)
    np.testing.assert_array_equal(bm2.h, bm.h)
    np.testing.assert_array_equal(bm2.J, bm.J)
    # -dE/dtheta = phi(s): E is linear in theta
    s = states.spins(6).astype(float)
    iu = np.triu_indices(6, 1)
    phi = np.hstack([s, s[:, iu[0]] * s[:, iu[1]]])
    np.testing.assert_allclose(-bm.energies(), phi @ bm.theta, atol=1e-12)


@pytest.mark.parametrize("h,J,match", [
    (np.zeros(3), np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]]), "not symmetric"),
    (np.zeros(3), np.eye(3), "non-zero diagonal"),
    (np.array([0, np.nan, 0]), np.zeros((3, 3)), "NaN or inf"),
    (np.zeros(3), np.full((3, 3), np.inf), "NaN or inf"),
    (np.zeros(3), np.zeros((2, 2)), "N x N"),
])
def test_bad_parameters(h, J, match):
    with pytest.raises(ValueError, match=match):
        models.BoltzmannMachine(h, J)


def test_too_large_for_exact_enumeration_says_memory():
    with pytest.raises(ValueError, match=r"16 TiB of memory.*Monte Carlo"):
        models.BoltzmannMachine.zeros(40).energies()


_BM = models.BoltzmannMachine(np.array([0.1, -0.2, 0.3]), np.zeros((3, 3)))
_IND = models.IndependentSpins(np.array([0.1, -0.2, 0.3]))


@pytest.mark.parametrize("call,match", [
    # sizes: a float / text / bool N was a bare TypeError or another N
    (lambda: models.BoltzmannMachine.zeros(2.5), "N=2.5 must be an integer >= 1"),
    (lambda: models.BoltzmannMachine.zeros("3"), "N='3' must be an integer >= 1"),
    (lambda: models.BoltzmannMachine.from_theta([0, 0, 0], True), "N=True must be an integer"),
    (lambda: models.BoltzmannMachine.from_theta([0, 0, 1j], 2), "theta has complex entries"),
    (lambda: states.spins(2.5), "N=2.5 must be an integer >= 0"),
    (lambda: states.n_states("3"), "N='3' must be an integer >= 0"),
    # state indices: out of range / fractional / negative gave another state silently
    (lambda: states.spins(3, [8]), r"integer state indices in \[0, 2\^N\) = \[0, 8\)"),
    (lambda: states.spins(3, [-1]), "integer state indices"),
    (lambda: states.spins(3, [1.5]), "integer state indices"),
    (lambda: states.index(np.ones(70)), "at most N = 62"),       # was -1
    (lambda: states.index([np.nan, 1]), "s contains NaN"),
    (lambda: states.to01([2, 0]), "only -1 and \\+1"),           # was [1, 0]
    (lambda: model_base.mixed_radix_index([1.5], [3]), "sigma must have N = 1 columns"),
    (lambda: model_base.mixed_radix_digits([1.5], [3]), "x must be integer state indices"),
    (lambda: model_base.mixed_radix_index([0], [2.5]), "levels must be a non-empty list of integers"),
    # basis changes and moments: shape clashes were numpy broadcast errors, NaN came out as NaN
    (lambda: states.params_to_01([0, 0], np.zeros((3, 3))), "h must be a vector of length N and J"),
    (lambda: states.params_to_01([np.nan, 0], np.zeros((2, 2))), "h contains NaN"),
    (lambda: states.moments_from_01([0, 0], np.zeros((3, 3))), "mu must be a vector"),
    (lambda: moments.moments([np.nan] * 8), "p contains NaN or inf"),
    (lambda: moments.moments(np.full(8, 1 / 8) + 0j), "p has complex entries"),
    (lambda: moments.moments(np.full((2, 4), 1 / 8)), "p must be a vector over the 2\\^N states"),
    (lambda: moments.connected([0, 0], np.zeros((3, 3))), "m must be a vector of length N"),
    (lambda: moments.moments_from_stats([0] * 4, 3), "phi must have N \\+ N\\(N-1\\)/2 = 6"),
    # model statistics: NaN / complex / another N's law gave NaN, zeros or another N's stats
    (lambda: _BM.stats([np.nan] * 8), "p contains NaN or inf"),
    (lambda: _BM.stats([0.25] * 4), "p must be a vector over the 8 states"),
    (lambda: _BM.stats(np.full(8, 1 / 8) + 0j), "p has complex entries"),
    (lambda: _BM.stats_jacobian(np.full(8, 1 / 8), np.zeros((8, 5))), r"D must have shape"),
    (lambda: _BM.stats_jacobian(np.full(8, 1 / 8), np.full((8, 6), np.nan)), "D contains NaN"),
    (lambda: _IND.stats([0.25] * 4), "p must be a vector over the 8 states"),
    (lambda: _IND.stats_jacobian(np.full(8, 1 / 8), np.zeros((8, 2))), r"D must have shape"),
    # spins: 0/1 or other values gave a wrong energy / statistics silently
    (lambda: _BM.energy([0, 1, 1]), "s must contain only -1 and \\+1"),
    (lambda: _BM.local_fields([2, 1, 1]), "s must contain only -1 and \\+1"),
    (lambda: _BM.energy([1, 1]), "s must have N = 3 spins"),
    (lambda: _BM.sample_stats([[0, 1, 1]]), "states must contain only -1 and \\+1"),
    (lambda: _BM.sample_stats([[np.nan, 1, 1]]), "states contains NaN"),
    (lambda: _IND.sample_stats([[0.5, 1, 1]]), "states must contain only -1 and \\+1"),
    (lambda: _IND.with_theta("x"), "theta='x' is text"),
])
def test_bad_low_level_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
