"""The RBM block-Gibbs sampler against the exact visible chain: histogram(sample(...)) ≈ U^k p0
(G2), per state within 5σ of the binomial law and a Pearson χ² at the same level, fixed seeds."""
import numba
import numpy as np
import pytest

from shortrun.numerics import kernels, models, sampling
from test_sampling import N_SIGMA, assert_law  # the shared Monte Carlo acceptance test

RBM = models.RBM


def exact(m, p0, times):
    return kernels.kernel(m, "heatbath", "alternating").trajectory(p0, times)


@pytest.mark.parametrize("nv,nh,scale,seed", [(5, 3, 2.0, 1), (6, 4, 1.0, 2), (4, 6, 3.0, 3)])
def test_histogram_matches_the_exact_law(nv, nh, scale, seed):
    m = RBM.random(nv, nh, seed=seed, scale=scale)
    times = [0, 1, 2, 5, 20]
    n = 100_000
    traj = sampling.sample(m, "uniform", 20, scan="alternating", n_chains=n, seed=7,
                           times=times)
    for t, p_hat, p in zip(times, sampling.histogram(traj), exact(m, "uniform", times)):
        assert_law(p_hat, p, n, f"N_v={nv} N_h={nh} t={t}")


@pytest.mark.slow  # about a minute of CPU: run with -m slow
def test_huge_weights_stay_exact():
    """Inputs of several hundred: e^{-x} overflows to inf or underflows to 0 and the Gibbs
    test u (1 + e^{-x}) < 1 still draws exactly."""
    m = RBM.random(4, 3, seed=5, scale=400.0, field=2.0)
    n = 50_000
    p0 = np.random.default_rng(0).dirichlet(np.ones(16))
    traj = sampling.sample(m, p0, 3, scan="alternating", n_chains=n, seed=2, times=[1, 3])
    for p_hat, p in zip(sampling.histogram(traj), exact(m, p0, [1, 3])):
        assert_law(p_hat, p, n, "huge weights")


def test_chains_started_at_the_marginal_stay_there():
    m = RBM.random(6, 3, seed=4, scale=2.0)
    pi = np.asarray(m.boltzmann())
    n = 80_000
    traj = sampling.sample(m, pi, 10, scan="alternating", n_chains=n, seed=3, times=[0, 10])
    for s in traj:
        assert_law(sampling.histogram(s), pi, n, "stationary")
        # and the statistics (R3), within N_SIGMA standard errors of the chains' phi
        v = (s + 1) / 2.0
        phi = np.concatenate([v, m.hidden_means(v),
                              (v[:, :, None] * m.hidden_means(v)[:, None, :]).reshape(n, -1)], 1)
        z = (m.sample_stats(s) - m.stats(pi)) / (phi.std(axis=0) / np.sqrt(n))
        assert np.all(np.abs(z) < N_SIGMA)


def test_seeded_thread_independent_and_consistent_trajectories():
    m = RBM.random(8, 5, seed=0)
    kw = dict(scan="alternating", n_chains=2000, seed=12)
    a = sampling.sample(m, "uniform", 30, **kw)
    np.testing.assert_array_equal(a, sampling.sample(m, "uniform", 30, **kw))
    assert not np.array_equal(a, sampling.sample(m, "uniform", 30, **{**kw, "seed": 13}))
    traj = sampling.sample(m, "uniform", 30, times=[0, 7, 30], **kw)
    np.testing.assert_array_equal(traj[-1], a)
    np.testing.assert_array_equal(traj[0], sampling.initial_states(m, "uniform", 2000, 12))
    # continuing from the states at t = 7 with the same seed is not the same chain (its steps
    # restart at 0), but the state at 0 is the given one
    np.testing.assert_array_equal(sampling.sample(m, traj[1], 0, scan="alternating"), traj[1])
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread only")
    big = dict(scan="alternating", n_chains=20_000, seed=5)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sampling.sample(m, "uniform", 20, **big)
        numba.set_num_threads(2)
        two = sampling.sample(m, "uniform", 20, **big)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("kw,match", [
    (dict(rule="metropolis"), "rule='heatbath'"),
    (dict(scan="random"), "scan='alternating'"),
    (dict(k=1.5), "non-negative integer"),
    (dict(p0=np.zeros((3, 4))), "only -1 and \\+1"),
    (dict(p0=np.ones((3, 5))), r"\(n, 4\)"),
    (dict(seed=-1), "seed"),
    (dict(times=[3, 1]), "sorted"),
    (dict(k=10**12), r"k=1e\+12: Monte Carlo sampling \(.* chains of 4 visible and"),
])
def test_bad_arguments(kw, match):
    args = dict(model=RBM.zeros(4, 2), p0="uniform", k=3, scan="alternating", n_chains=5)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        sampling.sample(**args)
