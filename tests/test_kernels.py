"""Exact kernels: matrix-free numba operators vs dense matrices built from the definitions vs the
spectral route; stochasticity, detailed balance, stationarity, closed forms, strong couplings."""
import warnings

import numpy as np
import pytest
from conftest import DISCRETE_SCANS, RULES, SCANS, exact_tol, random_bm, random_distribution
from scipy.linalg import expm

from shortrun.numerics.kernels import dense

from shortrun.numerics import kernels

from shortrun.numerics import models

from shortrun.numerics.core import moments

from shortrun.numerics.kernels import spectral
from shortrun.numerics.kernels import NotBoltzmannWarning

pytestmark = pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")

# (N, low_bits): N = 7, 9 with small cache blocks exercise the tiled high-site code paths
SIZES = [(3, None), (5, None), (7, None), (7, 2), (9, 3)]


def kernel(model, rule, scan, low_bits=None):
    return kernels.BMKernel(model, rule, scan, low_bits=low_bits)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("N,low_bits", SIZES)
def test_matrix_free_dense_spectral_agree(N, low_bits, scan, rule):
    model = random_bm(N, seed=N + 10 * (low_bits or 0))
    K = kernel(model, rule, scan, low_bits)
    U = K.dense()
    p0 = random_distribution(N, seed=N)
    tol = exact_tol(N)
    S = spectral.decompose(K)
    if scan == "continuous":
        assert spectral.is_generator(U)
        for t in (0.3, 1.0, 2.5):
            ref = expm(t * U) @ p0
            np.testing.assert_allclose(K.propagate(p0, t), ref, rtol=0, atol=tol)
            np.testing.assert_allclose(S.propagate(p0, t), ref, rtol=0,
                                       atol=max(tol, S.error_bound(t)))
        np.testing.assert_allclose(K.generator(p0), U @ p0, rtol=0, atol=tol)
        with pytest.raises(ValueError, match="no single step.*generator"):
            K.apply(p0)
        return
    assert spectral.is_stochastic(U)
    np.testing.assert_allclose(K.apply(p0), U @ p0, rtol=0, atol=tol)
    # the spectral route loses up to log10 of the condition number of the similarity it inverts
    # (eig of a non-normal kernel: cond(R) up to 1.5e7 here, parallel Metropolis): its tolerance
    # is the first-order bound Spectrum.error_bound(k) = 16 n eps kappa (1 + k), from the
    # condition number the decomposition computes, not from the errors one machine produced
    ref = p0
    for k in range(1, 6):
        ref = U @ ref
        np.testing.assert_allclose(K.propagate(p0, k), ref, rtol=0, atol=tol * k)
        np.testing.assert_allclose(S.propagate(p0, k), ref, rtol=0, atol=S.error_bound(k))
    np.testing.assert_allclose(kernels.law(model, p0, 5, rule, scan), ref, rtol=0, atol=5 * tol)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("N", [4, 6])
def test_single_site_operators_and_random_update(N, rule):
    model = random_bm(N, seed=3)
    K = kernel(model, rule, "random")
    p = random_distribution(N, 1)
    Ts = [dense.site_matrix(model, rule, i) for i in range(N)]
    for i, T in enumerate(Ts):
        assert spectral.is_stochastic(T)
        np.testing.assert_allclose(K.site_update(p, i), T @ p, rtol=0, atol=exact_tol(N))
    np.testing.assert_allclose(K.random_update(p), sum(Ts) @ p / N, atol=exact_tol(N))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("N", [3, 5])
def test_detailed_balance(N, rule):
    model = random_bm(N, seed=7)
    p = model.boltzmann()
    for scan in ("random",):
        assert spectral.is_reversible(kernel(model, rule, scan).dense(), p)
    W = kernel(model, rule, "continuous").dense()
    assert spectral.is_reversible(W + np.eye(1 << N), p)
    # a sequential sweep is not reversible
    assert not spectral.is_reversible(kernel(model, rule, "sequential").dense(), p, atol=1e-6)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("scan", ["random", "sequential", "continuous"])
def test_boltzmann_is_stationary(scan, rule):
    N = 6
    model = random_bm(N, seed=11, scale=2.0)
    K = kernel(model, rule, scan)
    p = model.boltzmann()
    if scan == "continuous":  # W p_theta = 0
        np.testing.assert_allclose(K.generator(p), 0.0, rtol=0, atol=exact_tol(N))
    else:
        np.testing.assert_allclose(K.apply(p), p, rtol=0, atol=exact_tol(N))
    np.testing.assert_allclose(K.stationary(), p, rtol=0, atol=exact_tol(N))


def test_parallel_heatbath_stationary_law_and_warning():
    N = 5
    model = random_bm(N, seed=5, scale=1.5)
    with pytest.warns(NotBoltzmannWarning, match="not the Boltzmann law"):
        K = kernels.BMKernel(model, "heatbath", "parallel")
    pi = K.stationary()
    np.testing.assert_allclose(K.apply(pi), pi, rtol=0, atol=exact_tol(N))
    assert spectral.is_reversible(K.dense(), pi)
    # ... and it is not the Boltzmann law
    assert np.abs(pi - model.boltzmann()).max() > 1e-3
    # uncoupled spins: parallel heat-bath *is* Boltzmann, and no warning; warn=False silences it
    free = models.BoltzmannMachine(model.h, np.zeros((N, N)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotBoltzmannWarning)
        Kf = kernels.BMKernel(free, "heatbath", "parallel")
        kernels.BMKernel(model, "heatbath", "parallel", warn=False)
    np.testing.assert_allclose(Kf.stationary(), free.boltzmann(), atol=exact_tol(N))


def test_parallel_metropolis_stationary_is_fixed_point():
    model = random_bm(4, seed=2)
    K = kernel(model, "metropolis", "parallel")
    pi = K.stationary()
    np.testing.assert_allclose(K.apply(pi), pi, rtol=0, atol=1e-12)


def test_parallel_metropolis_non_unique_stationary_law_raises():
    """h = 0, J = 0: synchronous Metropolis flips every spin surely, s -> -s, so U is a
    permutation with 4 two-cycles {x, ~x}; each carries a stationary law and stationary() must
    not pick one of them silently."""
    N = 3
    K = kernel(models.BoltzmannMachine(np.zeros(N), np.zeros((N, N))), "metropolis", "parallel")
    U = K.dense()
    for x in range(1 << (N - 1)):
        pi = np.zeros(1 << N)
        pi[[x, x ^ 0b111]] = 0.5
        np.testing.assert_array_equal(U @ pi, pi)
    assert len(spectral.closed_classes(U)) == 4
    with pytest.raises(ValueError, match="not unique.*4 closed classes"):
        K.stationary()
    # periodic but unique: with one zero field only spin 0 flips surely (period 2), the other
    # spins mix, and the stationary law is the Boltzmann law
    model = models.BoltzmannMachine(np.array([0.0, 0.7, -0.4]), np.zeros((N, N)))
    K = kernel(model, "metropolis", "parallel")
    assert np.any(np.isclose(np.linalg.eigvals(K.dense()), -1.0))
    np.testing.assert_allclose(K.stationary(), model.boltzmann(), rtol=0, atol=1e-12)


def _independent_m(h, k, rule, scan, N):
    """the (S1) closed forms of m_i(k) from p0 uniform (m(0) = 0), J = 0."""
    m_star = np.tanh(h)
    r = np.exp(-2 * np.abs(h)) if rule == "metropolis" else np.zeros_like(h)
    if scan == "random":      # one update: m' - m* = (1 - (1 + r)/N)(m - m*)
        return m_star * (1 - (1 - (1 + r) / N) ** (k * N))
    if scan == "continuous":  # t in sweeps
        return m_star * (1 - np.exp(-(1 + r) * k))
    return m_star * (1 - (-r) ** k)  # sequential and parallel: one update per spin per step


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("scan", SCANS)
def test_independent_spins_closed_forms(scan, rule):
    N = 5
    h = np.array([0.8, -0.3, 1.7, 0.05, -2.2])
    model = models.BoltzmannMachine(h, np.zeros((N, N)))
    K = kernel(model, rule, scan)
    times = [0.5, 1.0, 3.7, 10.0] if scan == "continuous" else range(11)
    for k in times:
        m, C = moments.moments(K.propagate("uniform", k))
        np.testing.assert_allclose(m, _independent_m(h, k, rule, scan, N), rtol=0, atol=1e-12)
        if scan != "random":  # (the shared random choice of sites correlates a random scan)
            np.testing.assert_allclose(C, np.outer(m, m) + np.diag(1 - m**2), rtol=0,
                                       atol=1e-12)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("scale", [50.0, 2000.0])
def test_strong_couplings_exact(rule, scale):
    # local fields of order ±scale: no overflow, no NaN, columns still sum to one, and the
    # matrix-free operator still equals the dense tanh/min(1, e^x) definition
    N = 7
    rng = np.random.default_rng(4)
    J = np.triu(rng.normal(0, scale / 2, (N, N)), 1)
    model = models.BoltzmannMachine(rng.normal(0, scale / 4, N), J + J.T)
    for scan, lb in (("sequential", None), ("sequential", 2), ("random", 3)):
        K = kernel(model, rule, scan, lb)
        U = K.dense()
        assert np.all(np.isfinite(U)) and spectral.is_stochastic(U)
        cols = np.array([K.apply(e) for e in np.eye(1 << N)]).T
        assert np.all(np.isfinite(cols))
        np.testing.assert_allclose(cols.sum(axis=0), 1.0, rtol=0, atol=exact_tol(N))
        np.testing.assert_allclose(cols, U, rtol=0, atol=exact_tol(N))


def test_blocked_sequential_sweep_equals_site_by_site():
    # N = 14 > default cache block: the tiled sweep equals T_13 ... T_0 applied one by one
    N = 14
    model = random_bm(N, seed=21)
    K = kernel(model, "heatbath", "sequential")
    p = random_distribution(N, 2)
    q = p.copy()
    for i in range(N):
        q = K.site_update(q, i)
    np.testing.assert_allclose(K.apply(p), q, rtol=0, atol=exact_tol(N))


@pytest.mark.parametrize("scan", DISCRETE_SCANS)
def test_trajectory_matches_propagate(scan):
    model = random_bm(5, seed=1)
    K = kernel(model, "metropolis", scan)
    traj = K.trajectory("uniform", [0, 2, 3, 7])
    for row, k in zip(traj, [0, 2, 3, 7]):
        np.testing.assert_allclose(row, K.propagate("uniform", k), atol=exact_tol(5))


# ---- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("p0,match", [
    (np.full(8, 0.2), "sums to"),
    (np.r_[-0.1, 0.3, np.full(6, 0.8 / 6)], "negative entry"),
    (np.full(4, 0.25), "length 2\\^N = 8"),
    (np.r_[np.nan, np.zeros(7)], "NaN"),
    ("gaussian", "not known"),
])
def test_bad_p0(p0, match):
    with pytest.raises(ValueError, match=match):
        kernels.law(random_bm(3, 0), p0, 1)


@pytest.mark.parametrize("k,scan,match", [
    (-1, "random", "negative"),
    (1.5, "sequential", "non-negative integer"),
    (True, "random", "boolean"),
    (-0.5, "continuous", "negative"),
    (np.inf, "continuous", "finite"),
])
def test_bad_k(k, scan, match):
    with pytest.raises(ValueError, match=match):
        kernels.law(random_bm(3, 0), "uniform", k, scan=scan)


def test_bad_names_and_sizes():
    bm = random_bm(3, 0)
    with pytest.raises(ValueError, match="rule='glauber' is not known"):
        kernels.BMKernel(bm, "glauber")
    with pytest.raises(ValueError, match="scan='checkerboard' is not known"):
        kernels.BMKernel(bm, "heatbath", "checkerboard")
    with pytest.raises(ValueError, match="BoltzmannMachine"):
        kernels.BMKernel(np.zeros(3))
    with pytest.raises(ValueError, match=r"dense 2\^N x 2\^N matrix at N=14 would need 2 GiB.*"
                                         r"matrix-free"):
        kernels.BMKernel(models.BoltzmannMachine.zeros(14)).dense()
    with pytest.raises(ValueError, match="parallel.*limit N <= 16"):
        kernels.BMKernel(models.BoltzmannMachine.zeros(17), "heatbath", "parallel")
    with pytest.raises(ValueError, match="N=32 would need .*Monte Carlo"):
        kernels.BMKernel(models.BoltzmannMachine.zeros(32))
    p = np.ones(8) / 8
    for i in (3, -1, 1.5, True):             # a site outside 0..N-1 used to update garbage
        with pytest.raises(ValueError, match=f"i={i!r} must be a site index, an integer in 0..2"):
            kernels.BMKernel(bm).site_update(p, i)
    with pytest.raises(ValueError, match="p must have length 2\\^N = 8"):
        kernels.BMKernel(bm).site_update(np.ones(4) / 4, 0)
    for update in ("site_update", "random_update"):       # no T_i tables: a numba TypingError
        with pytest.raises(ValueError, match=f"{update} .* scan='random' or 'sequential'"):
            kernel = kernels.BMKernel(bm, "heatbath", "parallel", warn=False)
            getattr(kernel, update)(p, 0) if update == "site_update" else kernel.random_update(p)


@pytest.mark.parametrize("call,match", [
    # a NaN, inf or complex vector came out as NaN / inf or with the imaginary part dropped
    (lambda K, R: K.apply([np.nan] + [1 / 7] * 7), "p contains NaN or inf"),
    (lambda K, R: K.apply(np.full(8, np.inf)), "p contains NaN or inf"),
    (lambda K, R: K.random_update(np.full(8, 1 / 8) + 0j), "p has complex entries"),
    (lambda K, R: K.site_update([np.nan] * 8, 0), "p contains NaN or inf"),
    (lambda K, R: R.apply([np.nan] + [1 / 7] * 7), "p contains NaN or inf"),
    (lambda K, R: R.down([np.nan, 0.5, 0.25, 0.25]), "q contains NaN or inf"),
    (lambda K, R: R.up(np.ones(4) / 4), "p must have length 8"),
    # times=None / a number was a bare TypeError
    (lambda K, R: K.trajectory("uniform", None), "times=None must be a list"),
    (lambda K, R: K.trajectory("uniform", 5), "times=5 must be a list"),
    # a float block size was truncated silently
    (lambda K, R: kernels.BMKernel(K.model, low_bits=1.5), "low_bits=1.5 must be an integer >= 1"),
    (lambda K, R: kernels.BMKernel(K.model, group=0), "group=0 must be an integer >= 1"),
    # t = 1e9 ran the uniformisation for ever (law() refused it, the kernel did not)
    (lambda K, R: kernels.BMKernel(K.model, scan="continuous").propagate("uniform", 1e9),
     "t=1e\\+09: the continuous-time law by uniformisation"),
    (lambda K, R: kernels.BMKernel(K.model, scan="continuous").propagate("uniform", 2**70),
     "t=.*beyond the limit"),
    # poisson_weights: a negative / NaN / text mean, a bool, a tail outside (0, 1) (tail=-1 hung)
    (lambda K, R: kernels.poisson_weights(-1.0), "lam=-1.0 must be a finite number >= 0"),
    (lambda K, R: kernels.poisson_weights(np.nan), "lam=nan must be a finite number >= 0"),
    (lambda K, R: kernels.poisson_weights("3"), "lam='3' is text"),
    (lambda K, R: kernels.poisson_weights(True), "lam=True must be a finite number >= 0, not a boolean"),
    (lambda K, R: kernels.poisson_weights(3.0, -1), "tail=-1 must be a finite positive number"),
    (lambda K, R: kernels.poisson_weights(3.0, 2), "tail=2 must be below 1"),
    (lambda K, R: kernels.poisson_weights(3.0, np.nan), "tail=nan must be a finite positive"),
    # a misspelt rule was ignored off the parallel scan
    (lambda K, R: kernels.stationary_tangent(K.model, rule="glauber"), "rule='glauber' is not known"),
    # the dense reference: a site outside 0..N-1 was an IndexError, a misspelt rule/scan ignored
    (lambda K, R: dense.site_matrix(K.model, "heatbath", 3), "i=3 must be a site index"),
    (lambda K, R: dense.site_matrix(K.model, "heatbath", 1.5), "i=1.5 must be a site index"),
    (lambda K, R: dense.site_matrix(K.model, "glauber", 0), "rule='glauber' is not known"),
    (lambda K, R: dense.dense_kernel(K.model, "heatbath", "rnd"), "scan='rnd' is not known"),
    (lambda K, R: kernels.parallel_heatbath_stationary(R.model), "must be a BoltzmannMachine"),
])
def test_bad_vectors_and_low_level_arguments_are_refused(call, match):
    K = kernels.BMKernel(random_bm(3, 0))
    R = kernels.RBMKernel(models.RBM.random(3, 2, seed=0))
    with pytest.raises(ValueError, match=match):
        call(K, R)


def test_operators_stay_linear_on_any_finite_vector():
    """The checks refuse only NaN/inf/complex/wrong lengths: U is linear, a signed vector is fine."""
    K = kernels.BMKernel(random_bm(3, 0))
    p, v = np.full(8, 1 / 8), np.arange(8.0) - 3.5
    np.testing.assert_allclose(K.apply(p + v), K.apply(p) + K.apply(v), atol=1e-15)


@pytest.mark.parametrize("rule", RULES)
def test_parallel_update_serial_and_threaded_routes_are_bit_identical(rule):
    """Small kernels run the synchronous update on one thread (PARALLEL_SERIAL_BELOW); both
    routes sum the same blocks in the same order, so they agree bit for bit."""
    from shortrun.numerics.kernels import site_updates as su
    model = random_bm(7, seed=2)
    p = random_distribution(7, seed=3)
    code = su.HEATBATH if rule == "heatbath" else su.METROPOLIS
    out = []
    for run in (su._parallel_serial, su._parallel_threads):
        partial = np.zeros((16, 128))
        run(p, partial, model.h, model.J, code, 8)
        total = np.empty(128)
        su._sum_blocks(partial, total)
        out.append(total)
    assert (1 << 7) < su.PARALLEL_SERIAL_BELOW
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], kernel(model, rule, "parallel").apply(p))
