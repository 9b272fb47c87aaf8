"""Sample-quality measures (E2, E3), the autocorrelation time (E4), sampled memory curves and the
binarised digits: each against a brute-force formula, a closed form or an exact law."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from shortrun.numerics import kernels, models, sampling
from shortrun.numerics.analysis import digits_memory, memory, quality
from shortrun.numerics.data import digits

from conftest import random_bm


def exact_samples(model, n, seed):
    """n exact samples (±1) of a model's law, through the sampler's inverse-CDF initial states."""
    return sampling.initial_states(model, np.asarray(model.boltzmann()), n, seed)


def noise_rows(N, n=200, seed=9):
    return np.where(np.random.default_rng(seed).random((n, N)) < 0.5, 1, -1).tolist()


def brute_aa(S, T, ties):
    """AA (E2) by explicit loops over the points."""
    def d(x, y):
        return np.sum(x != y)

    def nearest(x, Y, skip=None):
        return min(d(x, y) for j, y in enumerate(Y) if j != skip)

    w = 0.5 if ties == "half" else 0.0
    true = np.mean([(nearest(t, S) > nearest(t, T, i)) + w * (nearest(t, S) == nearest(t, T, i))
                    for i, t in enumerate(T)])
    syn = np.mean([(nearest(s, T) > nearest(s, S, i)) + w * (nearest(s, T) == nearest(s, S, i))
                   for i, s in enumerate(S)])
    return 0.5 * (true + syn)


# ------------------------------------------------------------------------------------------
# quality (E2), (E3)
# ------------------------------------------------------------------------------------------
def test_distances_against_brute_force():
    g = np.random.default_rng(0)
    X = np.where(g.random((7, 12)) < 0.4, 1, -1)
    Y = np.where(g.random((5, 12)) < 0.6, 1, -1)
    ham = (X[:, None, :] != Y[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(quality.distances(X, Y, "hamming"), ham)
    np.testing.assert_array_equal(quality.distances((X + 1) // 2, (Y + 1) // 2, "hamming"), ham)
    np.testing.assert_allclose(quality.distances(X, Y, "euclidean"), cdist(X, Y), atol=1e-12)


@pytest.mark.parametrize("ties", ["half", "strict"])
def test_adversarial_accuracy_against_loops(ties):
    g = np.random.default_rng(1)
    S = np.where(g.random((9, 6)) < 0.5, 1, -1)
    T = np.where(g.random((9, 6)) < 0.3, 1, -1)
    assert abs(quality.adversarial_accuracy(S, T, ties=ties).aa - brute_aa(S, T, ties)) < 1e-15


def test_adversarial_accuracy_reads_good_poor_copied_and_frozen_samples():
    bm = random_bm(12, seed=2, scale=1.5)
    data = exact_samples(bm, 600, seed=1)
    same = exact_samples(bm, 600, seed=2)
    # same law: AA = 0.5 up to sampling noise (ties counted as 1/2)
    assert abs(quality.adversarial_accuracy(same, data).aa - 0.5) < 0.04
    # copies of distinct data points: every sample has a twin in the data -> AA = 0
    distinct = np.where(np.random.default_rng(7).random((300, 40)) < 0.5, 1, -1)
    assert len(np.unique(distinct, axis=0)) == 300
    assert quality.adversarial_accuracy(distinct[::-1], distinct).aa == 0.0
    # frozen chains (one state repeated): the samples' own neighbours are at distance 0
    rows = {tuple(r) for r in data.tolist()}
    lone = next(r for r in same.tolist() + noise_rows(12) if tuple(r) not in rows)
    frozen = np.repeat(np.array([lone]), 600, axis=0)
    res = quality.adversarial_accuracy(frozen, data)
    assert res.synthetic == 1.0 and res.aa > 0.9
    # independent uniform noise against structured data: poor
    noise = np.where(np.random.default_rng(3).random((600, 12)) < 0.5, 1, -1)
    assert quality.adversarial_accuracy(noise, data).aa > 0.6


def test_energy_distance_against_the_formula():
    g = np.random.default_rng(4)
    S, T = g.normal(size=(30, 3)), g.normal(1.0, 1.0, size=(20, 3))
    dst, dss, dtt = cdist(S, T), cdist(S, S), cdist(T, T)
    ref = 2 * dst.mean() - dss.sum() / (30 * 29) - dtt.sum() / (20 * 19)
    assert abs(quality.energy_distance(S, T) - ref) < 1e-9
    assert abs(quality.energy_distance(T, S) - ref) < 1e-9
    bm = random_bm(10, seed=5)
    a, b = exact_samples(bm, 500, 1), exact_samples(bm, 500, 2)
    other = exact_samples(random_bm(10, seed=6), 500, 3)
    assert abs(quality.energy_distance(a, b)) < 0.1 * quality.energy_distance(a, other)
    assert quality.energy_distance(a, other, "hamming") > 0


@pytest.mark.parametrize("call,match", [
    (lambda: quality.distances(np.ones((3, 2)), np.ones((3, 3))), "coordinates"),
    (lambda: quality.distances(np.full((3, 2), 0.5), np.ones((3, 2))), "binary points"),
    (lambda: quality.distances(np.ones((3, 2)), np.ones((3, 2)), "cosine"), "metric="),
    (lambda: quality.adversarial_accuracy(np.ones((4, 2)), np.ones((3, 2))), "equal-size"),
    (lambda: quality.energy_distance(np.ones((1, 2)), np.ones((3, 2))), "n >= 2"),
    (lambda: quality.energy_distance(np.full((3, 2), np.nan), np.ones((3, 2))), "NaN"),
    (lambda: quality.energy_distance(np.full((3, 2), 1e308), np.ones((3, 2))), "overflow"),  # was NaN
    # memory-curve helpers: an empty set or NaN gave NaN, c_min > c_max a silent τ
    (lambda: memory.moments(np.zeros((0, 4))), "states must have shape"),
    (lambda: memory.rms([]), "x is empty"),
    (lambda: memory.rms("a"), "x='a' is text"),
    (lambda: memory.exponential_time(np.exp(-np.arange(20) / 3), 0.5, 0.1), "0 < c_min < c_max"),
    (lambda: memory.exponential_time(np.full(5, np.nan)), "C contains NaN"),
    (lambda: memory.sampled_memory_curve(random_bm(3, 0), "uniform", [1], np.ones((4, 3)),
                                         np.ones((4, 3)), n_keep=-1), "n_keep=-1"),
    # digits experiment: a wrong cfg / protocol was an AttributeError
    (lambda: digits_memory.run(None), "cfg=None must be a digits_memory.Config"),
    (lambda: digits_memory.params({}), "cfg=\\{\\} must be a digits_memory.Config"),
    (lambda: digits_memory.run_protocol(digits_memory.TINY, "foo", None), "protocol='foo'"),
])
def test_quality_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------------------
# autocorrelation time (E4) and memory curves
# ------------------------------------------------------------------------------------------
def test_time_grid():
    assert memory.time_grid(100, extra=(10, 1000, 50)) == [0, 1, 2, 4, 8, 10, 14, 24, 41, 50, 69]
    assert memory.TIME_GRID[-1] == 199675


def test_autocorrelation_of_an_ar1_process_and_the_fit():
    """x_{t+1} = rho x_t + sqrt(1 - rho^2) xi: C(t) = rho^t, tau = -1/ln rho."""
    rho, T, n = 0.9, 400, 300
    g = np.random.default_rng(0)
    x = np.empty((T, n))
    x[0] = g.normal(size=n)
    for t in range(1, T):
        x[t] = rho * x[t - 1] + np.sqrt(1 - rho ** 2) * g.normal(size=n)
    C = memory.autocorrelation(x, max_lag=40)
    np.testing.assert_allclose(C[:15], rho ** np.arange(15), atol=0.02)
    tau, resolved = memory.exponential_time(C)
    assert resolved and abs(tau - (-1 / np.log(rho))) < 0.1 * (-1 / np.log(rho))
    # exact curves: one mode, a slow mode under a fast one, and a chain that decorrelates at once
    lag = np.arange(60)
    assert abs(memory.exponential_time(0.7 ** lag)[0] + 1 / np.log(0.7)) < 1e-9
    two = 0.5 * 0.3 ** lag + 0.5 * 0.9 ** lag
    assert abs(memory.exponential_time(two)[0] + 1 / np.log(0.9)) < 0.05 * (-1 / np.log(0.9))
    assert memory.exponential_time(np.r_[1.0, 0.01 * np.ones(10)]) == (0.0, True)
    assert memory.exponential_time(0.999 ** lag)[1] is False


def test_autocorrelation_time_of_a_bimodal_rbm_is_its_exact_mixing_time():
    """Visible units locked to two hidden units (all-on vs all-off modes): the top principal
    component carries the slow mode, and τ (E4) is within 10 % of κ1 = −1/ln λ1 (G3)."""
    w = 1.3
    m = models.RBM(np.full(8, -w), np.full(2, -4 * w), np.full((8, 2), w))
    kappa = kernels.kernel(m, "heatbath", "alternating").mixing_time()
    data = exact_samples(m, 2000, seed=1)
    res = memory.autocorrelation_time(m, data, n_components=3, n_chains=400, n_steps=130,
                                      burn_in=30, seed=2)
    assert abs(res.tau - kappa) < 0.1 * kappa, (res.taus, kappa)
    assert res.C.shape == (66, 3) and np.all(res.resolved)


def test_sampled_memory_curve_follows_the_exact_law():
    """The sampled statistics error at every t against the exact one from U^t p0, within
    5 standard errors of the 4000 chains' mean of phi."""
    m = models.RBM.random(6, 3, seed=3, scale=2.0)
    train = exact_samples(m, 300, seed=4)
    test = exact_samples(m, 200, seed=5)
    times = [0, 1, 3, 10]
    curve = memory.sampled_memory_curve(m, "uniform", times, train, test, n_chains=4000, seed=6)
    laws = kernels.kernel(m, "heatbath", "alternating").trajectory("uniform", times)
    target = m.sample_stats(train)
    for t, law, err in zip(times, laws, curve.stats_error):
        exact = memory.rms(m.stats(law) - target)
        assert abs(err - exact) < 5 * 0.5 / np.sqrt(4000), (t, err, exact)
    assert curve.samples.shape == (4, 16, 6)
    assert curve.best_time() == times[int(np.argmin(curve.stats_error))] != 0
    assert curve.at(0) == curve.stats_error[0]
    assert curve.aa_test[-1] < curve.aa_test[0]          # equilibrium samples beat noise
    with pytest.raises(ValueError, match="time grid"):
        curve.at(5)


# ------------------------------------------------------------------------------------------
# digits
# ------------------------------------------------------------------------------------------
def test_binarised_digits():
    d = digits.load(n_test=360, seed=0)
    assert d.train.shape == (1437, 64) and d.test.shape == (360, 64)
    assert d.train.dtype == np.int8 and set(np.unique(d.train)) == {-1, 1}
    assert np.all(np.bincount(d.test_labels) >= 35)              # stratified: ~36 per class
    assert 0.25 < (d.train > 0).mean() < 0.33                    # level > 8: ~29 % of pixels on
    again = digits.load(n_test=360, seed=0)
    np.testing.assert_array_equal(again.train, d.train)
    assert not np.array_equal(digits.load(n_test=360, seed=1).train, d.train)
    assert (digits.load(threshold=4).train > 0).mean() > 0.35
    with pytest.raises(ValueError, match="threshold"):
        digits.load(threshold=16)
    with pytest.raises(ValueError, match="n_test"):
        digits.load(n_test=1790)


def test_digits_experiment_runs_and_resumes(tmp_path):
    """The smallest digits experiment: every protocol measured on the same time grid, the
    summary names each, and a second call resumes the checkpointed training bit for bit."""
    from shortrun.numerics.analysis import digits_memory as dm
    cfg = dm.TINY
    res = dm.run(cfg, progress=False, checkpoint_dir=tmp_path)
    for p in cfg.protocols:
        T = len(res[f"{p}_times"])
        assert res[f"{p}_stats_error"].shape == res[f"{p}_aa_test"].shape == (T,)
        assert res[f"{p}_samples"].shape == (T, 16, 64)
        assert cfg.k in res[f"{p}_times"] and cfg.k * cfg.t_max_factor == res[f"{p}_times"][-1]
    lines = dm.summary(cfg, res)
    assert [line.split(":")[0] for line in lines] == [f"{p}-{cfg.k}" for p in cfg.protocols]
    again = dm.run(cfg, progress=False, checkpoint_dir=tmp_path)
    for key in res:
        np.testing.assert_array_equal(again[key], res[key], err_msg=key)
