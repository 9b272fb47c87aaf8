"""Monte Carlo chains against the exact laws: histogram(sample(...)) ≈ kernels.law(...) (G2).

Tolerances are N_SIGMA times the computed Monte Carlo error bar, seeds fixed.  Sizes N = 5, 7.
"""
import warnings

import numba
import numpy as np
import pytest
from scipy.stats import binom, chi2, norm

from shortrun.numerics import kernels

from shortrun.numerics import models

from shortrun.numerics.core import moments

from shortrun.numerics.core import rng

from shortrun.numerics import sampling
from shortrun.numerics.sampling import spins

from shortrun.numerics.core import states
from shortrun.numerics.kernels import NotBoltzmannWarning

N_SIGMA = 5.0
RULES = ("heatbath", "metropolis")
SCANS = ("random", "sequential", "parallel", "continuous")


def random_bm(N, seed, scale=0.6):
    """A BM with random fields and couplings of order ``scale`` (frustrated, non-trivial)."""
    g = np.random.default_rng(seed)
    J = np.triu(g.normal(0.0, scale, (N, N)), 1)
    return models.BoltzmannMachine(g.normal(0.0, 0.4, N), J + J.T)


def exact_kernel(model, rule, scan):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotBoltzmannWarning)
        return kernels.BMKernel(model, rule, scan)


def assert_law(p_hat, p, n, what):
    """Every state's count c = n p_hat is within N_SIGMA of Binomial(n, p).

    The binomial error bar sqrt(p(1-p)/n) is used through its exact tail: a state fails when
    P(X >= c) (c above n p) or P(X <= c) (below) is smaller than the two-sided Gaussian N_SIGMA
    level, which stays right for rare states (p ~ 1e-8) where the normal approximation does not.
    """
    c = np.rint(p_hat * n)
    p = np.clip(p, 0.0, 1.0)
    tail = np.where(c > n * p, binom.sf(c - 1, n, p), binom.cdf(c, n, p))
    bad = np.flatnonzero(tail < norm.sf(N_SIGMA))
    err = np.sqrt(p * (1.0 - p) / n)
    assert bad.size == 0, (f"{what}: states {bad[:5]} off by "
                           f"{((p_hat - p)[bad] / np.maximum(err[bad], 1e-300))[:5]} sigma")
    # and the whole histogram: Pearson chi^2 goodness of fit, states expecting fewer than 5
    # counts pooled into one bin, at the same two-sided N_SIGMA level
    e = n * p
    few = e < 5
    obs = np.append(c[~few], c[few].sum())
    exp = np.append(e[~few], e[few].sum())
    keep = exp > 0
    stat = np.sum((obs[keep] - exp[keep]) ** 2 / exp[keep])
    dof = max(int(keep.sum()) - 1, 1)
    assert chi2.sf(stat, dof) > 2 * norm.sf(N_SIGMA), f"{what}: chi2 = {stat:.1f} on {dof} dof"


def assert_stats(s, phi, what):
    """Empirical ⟨s_i⟩, ⟨s_i s_j⟩ within N_SIGMA standard errors of the exact ``phi``."""
    z = (sampling.stats(s) - phi) / np.maximum(sampling.stats_error(s), 1e-12)
    assert np.all(np.abs(z) < N_SIGMA), f"{what}: max |z| = {np.abs(z).max():.2f}"


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("N", [5, 7])
def test_histogram_matches_exact_law(N, rule, scan):
    model = random_bm(N, seed=N)
    times = [1, 2, 5, 20]
    n = 100_000
    traj = sampling.sample(model, "uniform", times[-1], rule=rule, scan=scan, n_chains=n,
                           seed=11, times=times)
    kernel = exact_kernel(model, rule, scan)
    for p_hat, p in zip(sampling.histogram(traj), kernel.trajectory("uniform", times)):
        assert_law(p_hat, p, n, f"N={N} {rule}/{scan}")


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
def test_huge_couplings_use_the_additive_fields_and_stay_exact(rule, scan):
    """Fields beyond MUL_FIELD_MAX: the chains keep H_i (one exp per update) instead of e^{2H_i};
    the dynamics is then almost deterministic and still matches the exact law."""
    model = random_bm(5, seed=6, scale=80.0)
    h, J = model.h, model.J
    assert not spins._field_tables(h, J)[2] and spins._field_tables(h, J / 1000)[2]
    n = 50_000
    traj = sampling.sample(model, "uniform", 3, rule=rule, scan=scan, n_chains=n, seed=9,
                           times=[1, 3])
    for p_hat, p in zip(sampling.histogram(traj), exact_kernel(model, rule, scan).trajectory(
            "uniform", [1, 3])):
        assert_law(p_hat, p, n, f"huge couplings {rule}/{scan}")


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
def test_no_drift_from_the_stationary_law(rule, scan):
    """Chains started exactly at the kernel's stationary law stay there (parallel heat-bath:
    π ∝ e^{h·s} Π 2cosh H_i, not Boltzmann; parallel Metropolis: null vector of U − I)."""
    model = random_bm(5, seed=3)
    kernel = exact_kernel(model, rule, scan)
    pi = kernel.stationary()
    if scan != "parallel":
        np.testing.assert_allclose(pi, model.boltzmann(), atol=1e-12)
    traj = sampling.sample(model, pi, 6, rule=rule, scan=scan, n_chains=60_000, seed=5,
                           times=[0, 1, 6])
    for s in traj:
        assert_stats(s, moments.stats(pi), f"{rule}/{scan}")


@pytest.mark.parametrize("scan", SCANS)
def test_bit_identical_whatever_the_thread_count(scan):
    model = random_bm(7, seed=1)
    n = 2000  # n * N * k above SERIAL_BELOW: really runs on several threads
    assert n * 7 * 20 >= sampling.SERIAL_BELOW
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here (NUMBA_NUM_THREADS=1): nothing to compare")
    runs = []
    for threads in (1, 2):
        with sampling.threads(threads):
            assert numba.get_num_threads() == threads
            runs.append(sampling.sample(model, "uniform", 20, rule="metropolis", scan=scan,
                                        n_chains=n, seed=123))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].dtype == np.int8 and runs[0].shape == (n, 7)


def test_seed_controls_everything():
    model = random_bm(5, seed=2)
    a = sampling.sample(model, "uniform", 3, n_chains=500, seed=7)
    np.testing.assert_array_equal(a, sampling.sample(model, "uniform", 3, n_chains=500, seed=7))
    assert not np.array_equal(a, sampling.sample(model, "uniform", 3, n_chains=500, seed=8))
    # a chain's stream depends on (seed, chain) only: fewer chains give a prefix of the run
    np.testing.assert_array_equal(a[:37], sampling.sample(model, "uniform", 3, n_chains=37, seed=7))
    # the trajectory's last row is the plain run
    traj = sampling.sample(model, "uniform", 3, n_chains=500, seed=7, times=[0, 2, 3])
    np.testing.assert_array_equal(traj[-1], a)


def test_initial_laws():
    N = 5
    model = random_bm(N, seed=4)
    s0 = states.spins(N, np.arange(11) * 3)
    # given states: k = 0 returns them; the chains start exactly there
    np.testing.assert_array_equal(sampling.sample(model, s0, 0), s0)
    # a probability vector: k = 0 draws from it (zero-probability states never appear)
    p = np.zeros(1 << N)
    p[[1, 6, 30]] = [0.2, 0.5, 0.3]
    n = 40_000
    assert_law(sampling.histogram(sampling.sample(model, p, 0, n_chains=n, seed=1)), p, n, "p0")
    # uniform initial states
    u = np.full(1 << N, 1.0 / (1 << N))
    assert_law(sampling.histogram(sampling.sample(model, "uniform", 0, n_chains=n, seed=2)), u, n,
               "uniform")


def test_histogram_and_stats_are_the_exact_functions_of_the_empirical_law():
    N = 5
    s = states.spins(N, np.array([0, 3, 3, 17, 31, 8, 8, 8]))
    p_hat = sampling.histogram(s)
    assert p_hat.shape == (1 << N,) and p_hat[8] == 3 / 8 and p_hat.sum() == 1.0
    np.testing.assert_allclose(sampling.stats(s), moments.stats(p_hat), atol=1e-14)
    np.testing.assert_array_equal(sampling.histogram(np.stack([s, s[::-1]])), [p_hat, p_hat])


def test_counter_based_uniforms():
    u = rng.uniforms(3, 5, 7, 200_000)
    assert u.min() >= 0.0 and u.max() < 1.0 and np.unique(u).size == u.size
    assert abs(u.mean() - 0.5) < N_SIGMA * np.sqrt(1 / 12 / u.size)
    assert not np.array_equal(u[:100], rng.uniforms(3, 5, 8, 100))  # another sweep
    assert not np.array_equal(u[:100], rng.uniforms(3, 6, 7, 100))  # another chain
    np.testing.assert_array_equal(u[:100], rng.uniforms(3, 5, 7, 100))
    np.testing.assert_array_equal(rng.uniforms(2**64 - 1, 0, 0, 3),   # was an OverflowError
                                  rng.uniforms(np.uint64(2**64 - 1), 0, 0, 3))
    for args, match in [((-1, 0, 0, 3), "seed=-1"), ((0, -1, 0, 3), "chain=-1"),
                        ((0, 0, 1.5, 3), "sweep=1.5"), ((0, 0, 0, -1), "n=-1"),
                        ((2**64, 0, 0, 3), "seed=18446744073709551616")]:
        with pytest.raises(ValueError, match=match):        # a wrapped stream / numba error
            rng.uniforms(*args)


BAD = [
    (dict(k=-1), "k=-1"),
    (dict(k=1.5), "non-negative integer"),
    (dict(rule="gibbs"), "rule='gibbs'"),
    (dict(scan="checkerboard"), "scan='checkerboard'"),
    (dict(n_chains=0), "n_chains=0"),
    (dict(seed=-3), "seed=-3"),
    (dict(p0=np.full(32, 0.05)), "sums to"),
    (dict(p0=np.full(31, 1 / 31)), "length"),
    (dict(p0="gaussian"), "p0='gaussian'"),
    (dict(p0=np.zeros((4, 5))), "only -1 and \\+1"),
    (dict(p0=np.ones((4, 6))), "shape"),
    (dict(p0=np.ones((4, 5)), n_chains=3), "n_chains=3 differs"),
    (dict(times=[3, 1]), "sorted"),
    (dict(times=[1, 9]), "k >= max"),
    # cost guard: k x n_chains x N unit updates beyond core.work.MAX_WORK (ran for days)
    (dict(k=10**11), r"k=1e\+11: Monte Carlo sampling \(10 chains of N=5 spins\).* pass k <= "
                     r"10000000000 or fewer chains"),
    (dict(k=1e12, scan="continuous"), r"k=1e\+12: Monte Carlo sampling"),
]


@pytest.mark.parametrize("kwargs, match", BAD, ids=[m for _, m in BAD])
def test_bad_input_names_the_argument(kwargs, match):
    args = dict(model=random_bm(5, seed=0), p0="uniform", k=2, n_chains=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sampling.sample(**args)


def test_bad_states_for_histogram_and_stats():
    with pytest.raises(ValueError, match="only -1 and \\+1"):
        sampling.histogram(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        sampling.stats(np.ones(4))
    with pytest.raises(ValueError, match="only -1 and \\+1"):          # was zeros, silently
        sampling.stats(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="states contains NaN"):        # was NaN
        sampling.stats_error(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="states must have shape"):     # was an IndexError
        sampling.stats_error("ab")


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES)
def test_long_chains_on_a_larger_system(rule):
    """N = 9, up to 300 sweeps (past a field refresh at REFRESH sweeps): still the exact law."""
    model = random_bm(9, seed=10, scale=0.4)
    n = 100_000
    times = [50, 300]
    traj = sampling.sample(model, "uniform", 300, rule=rule, scan="random", n_chains=n, seed=4,
                           times=times)
    for p_hat, p in zip(sampling.histogram(traj),
                        exact_kernel(model, rule, "random").trajectory("uniform", times)):
        assert_law(p_hat, p, n, f"N=9 {rule}")


def run_blocks(model, p0, k, rule, scan, n_chains, seed, times, block):
    """``sample`` with an explicit chain-block size (the public function uses CHAIN_BLOCK)."""
    h, J = model.h, model.J
    s, n = spins.initial_states(p0, model.N, n_chains, seed)
    grid = np.asarray(times, dtype=np.float64)
    traj = np.empty((grid.size, n, model.N), dtype=np.int8)
    cdf = spins._poisson_cdf(model.N) if scan == "continuous" else np.empty(0)
    spins._run(*spins._field_tables(h, J), s, float(k), 0 if rule == "heatbath" else 1,
               spins._SCAN_ID[scan], np.uint64(seed), grid, traj, block, cdf)
    return s, traj


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("N, scale", [(1, 0.6), (6, 0.6), (7, 80.0)])
def test_bit_identical_whatever_the_chain_block(N, scale, rule, scan):
    """Blocks of 1 (chain after chain), 3, 32, 64 and 100 (taken as 64) chains, 77 chains (no
    block size divides it), past a field refresh: the same states and trajectories, bit for bit,
    and the same as ``sample``; N = 1, N not a multiple of 4, huge couplings (additive fields)."""
    model = random_bm(N, seed=N, scale=scale)
    k = spins.REFRESH + 3 if scan != "continuous" else 2.5
    times = [0.0, 1.0, 2.0, k]
    runs = [run_blocks(model, "uniform", k, rule, scan, 77, 31, times, b)
            for b in (1, 3, 32, 64, 100)]
    for s, traj in runs[1:]:
        np.testing.assert_array_equal(s, runs[0][0])
        np.testing.assert_array_equal(traj, runs[0][1])
    np.testing.assert_array_equal(runs[0][1][-1], runs[0][0])
    np.testing.assert_array_equal(
        sampling.sample(model, "uniform", k, rule, scan, n_chains=77, seed=31), runs[0][0])
    assert len({x.tobytes() for x in runs[0][1]}) > 1 or N == 1  # the chains moved


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
def test_exact_past_a_field_refresh(rule, scan):
    """Across the exact recomputation of the fields after REFRESH sweeps, the chains still follow
    the exact law (N = 5, by then stationary to 1e-4: fields refreshed from the wrong spins
    would move the chains away from it within the three sweeps checked)."""
    model = random_bm(5, seed=12, scale=0.8)
    n = 20_000
    times = [spins.REFRESH - 1, spins.REFRESH + 2] if scan != "continuous" else \
        [spins.REFRESH - 0.5, spins.REFRESH + 1.5]
    traj = sampling.sample(model, "uniform", times[-1], rule=rule, scan=scan, n_chains=n,
                           seed=13, times=times)
    for p_hat, p in zip(sampling.histogram(traj),
                        exact_kernel(model, rule, scan).trajectory("uniform", times)):
        assert_law(p_hat, p, n, f"past a refresh {rule}/{scan}")


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
def test_a_single_spin_follows_its_exact_law(rule, scan):
    """N = 1: every move tests the one site (field h only)."""
    model = models.BoltzmannMachine(np.array([0.7]), np.zeros((1, 1)))
    n = 40_000
    times = [1, 2] if scan != "continuous" else [0.5, 2.0]
    traj = sampling.sample(model, np.array([1.0, 0.0]), times[-1], rule=rule, scan=scan,
                           n_chains=n, seed=17, times=times)
    for p_hat, p in zip(sampling.histogram(traj),
                        exact_kernel(model, rule, scan).trajectory(np.array([1.0, 0.0]), times)):
        assert_law(p_hat, p, n, f"N=1 {rule}/{scan}")


@pytest.mark.parametrize("rule", RULES)
def test_continuous_time_between_grid_points(rule):
    """Continuous time recorded inside unit intervals and stopped inside one (t = 2.6): the exact
    law e^{tW} p0 at every grid time; the path does not depend on the grid (the plain run, and a
    longer run on a denser grid, give the same states at the same times, bit for bit)."""
    model = random_bm(5, seed=14)
    n = 40_000
    times = [0.05, 0.3, 0.31, 1.0, 1.5, 2.6]
    traj = sampling.sample(model, "uniform", 2.6, rule=rule, scan="continuous", n_chains=n,
                           seed=15, times=times)
    for p_hat, p, t in zip(sampling.histogram(traj),
                           exact_kernel(model, rule, "continuous").trajectory("uniform", times),
                           times):
        assert_law(p_hat, p, n, f"continuous {rule} at t = {t}")
    m = 3000
    plain = sampling.sample(model, "uniform", 2.6, rule=rule, scan="continuous", n_chains=m,
                            seed=15)
    np.testing.assert_array_equal(plain, traj[-1, :m])
    dense = sampling.sample(model, "uniform", 3, rule=rule, scan="continuous", n_chains=m,
                            seed=15, times=np.linspace(0.0, 3.0, 61))
    np.testing.assert_array_equal(dense[[1, 6, 20, 30, 52]], traj[[0, 1, 3, 4, 5], :m])
    assert not np.array_equal(dense[60], plain)  # the chains moved after t = 2.6


def test_lowest_set_bit_of_every_word():
    """The de Bruijn lookup that lists a block's flipped chains, against Python's integers."""
    words = [1 << c for c in range(64)] + [(1 << 63) | (1 << c) for c in range(64)]
    words += [int(w) for w in np.random.default_rng(0).integers(1, 2**63, 2000, dtype=np.uint64)]
    words += [2**64 - 1, 2**64 - 2**40]
    for w in words:
        assert spins._lowest_bit(np.uint64(w)) == (w & -w).bit_length() - 1
