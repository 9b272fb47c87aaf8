"""Training RBMs through the model interface: exact gradient ascent, Newton's fixed points (G5)
and Monte Carlo training with ``model=RBM(...)``, ``scan='alternating'``.

Data: the exact law of a 5-spin SK Boltzmann machine (β = 0.5), which an RBM with two hidden units
cannot represent exactly; the machine's statistics (R3) are ⟨v_i⟩, ⟨μ_α⟩, ⟨v_iμ_α⟩ with the
hidden conditional means μ_α = p(h_α = 1 | v), which depend on θ, so the data's statistics are
re-evaluated at every θ.
"""
import functools

import numpy as np
import pytest
from conftest import mc_gradients

from shortrun.numerics import kernels, models, training
from shortrun.numerics.data import teachers
from shortrun.numerics.training import fixed_point
from shortrun.numerics.training import monte_carlo

N_SIGMA = 5.0
DATA = teachers.exact_data(teachers.sk(5, 0.5, seed=1, field=0.3).model)
TEMPLATE = models.RBM.random(5, 2, seed=0, scale=1.0)
CASES = [("rdm", 1), ("rdm", 3), ("cd", 1), ("pcd", 1), ("eq", None)]


def rbm_problem(protocol, k):
    return training.problem(DATA, k, protocol, "heatbath", "alternating", model=TEMPLATE)


def ascend(prob, theta, n_steps, lr=0.5, momentum=0.5):
    """Reference gradient ascent on (G4) with ⟨φ_θ⟩_data re-evaluated at every θ:
    v ← μ v + lr (⟨φ_θ⟩_data − ⟨φ_θ⟩_neg), θ ← θ + v (pcd: the negative law persists)."""
    velocity, persistent = np.zeros_like(theta), prob.p0
    for _ in range(n_steps):
        model = prob.model(theta)
        neg = prob.negative_law(model, persistent)
        persistent = neg if prob.protocol == "pcd" else persistent
        velocity = momentum * velocity + lr * (model.stats(DATA.p) - model.stats(neg))
        theta = theta + velocity
    return theta


@functools.lru_cache(maxsize=None)
def warm_start(protocol, k):
    """1000 updates of gradient ascent from the template: a start in the basin of a root where
    the hidden units are used (Newton from a random start often slides to degenerate roots with
    saturated hidden units, b → ±∞)."""
    return ascend(rbm_problem(protocol, k), TEMPLATE.theta, 1000)


@pytest.mark.parametrize("protocol,k", CASES)
def test_fixed_point_theorem_on_an_rbm(protocol, k):
    """At Newton's root θ*, the fixed-point law (p(k, p0) for rdm/cd, p_θ for eq and pcd)
    reproduces the data's statistics to 1e-10, checked with the dense brute-force kernel; p_θ*
    itself does not for rdm/cd (measured mismatch ‖·‖∞: rdm-1 0.11, rdm-3 0.016, cd-1 4.6e-5)."""
    fp = fixed_point.solve(DATA, k, protocol, scan="alternating", model=TEMPLATE,
                           theta0=warm_start(protocol, k), tol=1e-11, progress=False)
    assert fp.converged, fp.message
    m = fp.model
    target = m.stats(DATA.p)
    U = kernels.kernel(m, "heatbath", "alternating").dense()
    if protocol in ("rdm", "cd"):
        p0 = np.full(32, 1 / 32) if protocol == "rdm" else DATA.p
        law = np.linalg.matrix_power(U, k) @ p0
    else:
        law = np.asarray(m.boltzmann())
        np.testing.assert_allclose(U @ law, law, atol=1e-15)
    assert np.max(np.abs(m.stats(law) - target)) < 1e-10
    assert np.max(np.abs(m.W)) > 0.5          # a root that uses the hidden units (not W = 0)
    eq_mismatch = np.max(np.abs(m.stats(m.boltzmann()) - target))
    if protocol == "rdm":
        assert eq_mismatch > 1e-2
    elif protocol == "cd":
        assert 1e-6 < eq_mismatch < 1e-3      # CD-1 on misspecified data: close to, not at, ML
    else:
        assert eq_mismatch < 1e-10


@pytest.mark.parametrize("protocol,k", [("rdm", 1), ("pcd", 1)])
def test_exact_training_is_gradient_ascent_on_the_rbm_statistics(protocol, k):
    run = training.train(DATA, k, protocol, scan="alternating", model=TEMPLATE,
                         theta0=TEMPLATE.theta, lr=0.5, momentum=0.5, n_steps=300, tol=0.0,
                         progress=False)
    np.testing.assert_allclose(run.theta, ascend(rbm_problem(protocol, k), TEMPLATE.theta, 300),
                               rtol=0, atol=1e-12)


def test_monte_carlo_gradient_vanishes_at_the_exact_fixed_point():
    """Rdm-1 chains at the exact θ*: the mean Monte Carlo gradient is 0 within N_SIGMA standard
    errors; at θ* shifted by 0.2 in every weight it is not (the test can fail)."""
    fp = fixed_point.solve(DATA, 1, "rdm", scan="alternating", model=TEMPLATE,
                           theta0=warm_start("rdm", 1), tol=1e-11, progress=False)
    zs = []
    for theta in (fp.theta, fp.theta + 0.2 * TEMPLATE.param_groups()["weights"]):
        G = mc_gradients(TEMPLATE.with_theta(theta), DATA.p, 1, "heatbath", "alternating",
                         n_chains=4000, n_draws=60, seed=4)
        zs.append(G.mean(axis=0) / (G.std(axis=0, ddof=1) / np.sqrt(len(G))))
    assert np.all(np.abs(zs[0]) < N_SIGMA), zs[0]
    assert np.max(np.abs(zs[1])) > 4 * N_SIGMA


@pytest.mark.parametrize("protocol", ["rdm", "cd", "pcd"])
def test_monte_carlo_training_resumes_bit_for_bit(protocol, tmp_path, monkeypatch, capsys):
    """A run interrupted at update 5 (KeyboardInterrupt, state saved before every update) and
    resumed from its checkpoint returns exactly what an uninterrupted run returns."""
    samples = teachers.sample_states(teachers.sk(5, 0.5, seed=1, field=0.3).model, 400, seed=3)
    samples = 2 * ((samples[:, None] >> np.arange(5)) & 1) - 1
    kw = dict(model=TEMPLATE, scan="alternating", lr=0.05, momentum=0.5, n_steps=12, seed=9,
              batch_size=100, theta0=TEMPLATE.theta, n_chains=None if protocol == "cd" else 300)
    whole = monte_carlo.train(samples, 2, protocol, **kw)
    path = tmp_path / "run.npz"
    calls = {"n": 0}
    real = monte_carlo.sample

    def interrupt_at_5(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(monte_carlo, "sample", interrupt_at_5)
    with pytest.raises(KeyboardInterrupt):
        monte_carlo.train(samples, 2, protocol, checkpoint=path, checkpoint_seconds=0, **kw)
    monkeypatch.setattr(monte_carlo, "sample", real)
    monkeypatch.setattr(monte_carlo, "Progress",
                        functools.partial(monte_carlo.Progress, report_first=True))
    resumed = monte_carlo.train(samples, 2, protocol, checkpoint=path, progress=True, **kw)
    assert "[mc_training] update 6/12" in capsys.readouterr().err
    np.testing.assert_array_equal(resumed.theta, whole.theta)
    np.testing.assert_array_equal(resumed.history.theta, whole.history.theta)
    np.testing.assert_array_equal(resumed.history.grad, whole.history.grad)
    if protocol == "pcd":
        np.testing.assert_array_equal(resumed.chains, whole.chains)
    assert not np.array_equal(whole.theta, TEMPLATE.theta)


def test_monte_carlo_rbm_training_does_not_depend_on_the_thread_count():
    """PCD with 64 visible and 50 hidden units, 250 chains: numba threads 1 or 2, BLAS threads 1
    or all, same θ bit for bit (the chains are seeded per chain and step, the statistics summed
    in a fixed order; statistics from BLAS products differ in the last bit at these sizes, and
    the persistent chains amplify that to O(1) differences)."""
    import numba
    from threadpoolctl import threadpool_limits

    g = np.random.default_rng(0)
    data = np.where(g.random((300, 64)) < 0.3, 1, -1)
    start = models.RBM.random(64, 50, seed=1, scale=0.5)
    kw = dict(model=start, scan="alternating", theta0=start.theta, n_chains=250, lr=0.2,
              momentum=0.9, n_steps=60, seed=3, progress=False)
    old = numba.get_num_threads()
    runs = []
    try:
        for threads, blas in ((1, 1), (min(2, numba.config.NUMBA_NUM_THREADS), None)):
            numba.set_num_threads(threads)
            with threadpool_limits(limits=blas, user_api="blas"):
                runs.append(monte_carlo.train(data, 3, "pcd", **kw))
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(runs[0].theta, runs[1].theta)
    np.testing.assert_array_equal(runs[0].chains, runs[1].chains)


def test_identical_hidden_units_stay_identical_under_every_gradient():
    """Why a symmetric start is refused: hidden units 0 and 1 with equal b and equal columns of W
    (unit 2 differs) get equal exact gradients (G4) for every protocol and equal Monte Carlo
    gradients (bit for bit: the same operations on the same numbers), so no update separates
    them; unit 2's gradient differs, so the comparison can fail."""
    g = np.random.default_rng(3)
    col = g.normal(0.0, 0.5, 5)
    W = np.stack([col, col, g.normal(0.0, 0.5, 5)], axis=1)
    m = models.RBM(g.normal(0.0, 0.3, 5), np.array([0.2, 0.2, -0.1]), W)
    assert m.identical_hidden_units() == [[0, 1]]

    def per_unit(grad):  # (b_alpha, W[:, alpha]) for each hidden unit
        return np.vstack([grad[5:8][None, :], grad[8:].reshape(5, 3)]).T

    for protocol, k in CASES:
        prob = training.problem(DATA, k, protocol, "heatbath", "alternating", model=m)
        neg = prob.negative_law(m, prob.p0)
        units = per_unit(m.stats(DATA.p) - m.stats(neg))
        assert np.array_equal(units[0], units[1]) and not np.allclose(units[0], units[2])
    draws = mc_gradients(m, DATA.p, 1, "heatbath", "alternating", n_chains=50, n_draws=3, seed=0)
    for G in draws:
        assert np.array_equal(per_unit(G)[0], per_unit(G)[1])


@pytest.mark.parametrize("trainer", ["exact", "monte_carlo"])
def test_a_start_with_identical_hidden_units_is_refused(trainer):
    """RBM.zeros (and theta0=None, which starts at zero) would train as an RBM with one hidden
    unit without a word: both trainers refuse it, naming theta0, the units and RBM.random; a
    start whose identical units the mask freezes, a single hidden unit, and units that the mask
    trains differently are accepted."""
    train = functools.partial(training.train, progress=False) if trainer == "exact" else \
        functools.partial(monte_carlo.train, n_chains=20, seed=0)
    train = functools.partial(train, DATA, 1, "rdm", scan="alternating", lr=0.1, n_steps=2)
    zeros = models.RBM.zeros(5, 3)
    for theta0 in (None, zeros.theta, zeros):
        with pytest.raises(ValueError, match=r"theta0 has identical hidden units \[\[0, 1, 2\]\].*"
                                             r"one with 1 hidden unit instead of 3.*"
                                             r"theta0=RBM\.random\(5, 3, seed=0, scale=0\.1\)"):
            train(model=zeros, theta0=theta0)
    half = zeros.theta.copy()
    half[5 + 3 + 3 * 0 + 2] = 0.1     # W[0, 2]: unit 2 differs, units 0 and 1 stay identical
    with pytest.raises(ValueError, match=r"identical hidden units \[\[0, 1\]\].*one with 2 hidden "
                                         r"units instead of 3"):
        train(model=zeros, theta0=half)
    train(model=zeros, theta0=zeros, mask="visible_fields")
    train(model=models.RBM.zeros(5, 1), theta0=None)
    mask = np.ones(zeros.n_params, bool)
    mask[5 + 3 + 3 * np.arange(5) + 1] = False    # columns 1 and 2 of W frozen: units 1 and 2
    mask[5 + 3 + 3 * np.arange(5) + 2] = False    # (only b trained) stay identical
    with pytest.raises(ValueError, match=r"identical hidden units \[\[1, 2\]\]"):
        train(model=zeros, theta0=zeros, mask=mask)
    mask[5 + 1] = False                           # b_1 frozen, b_2 trained: all three differ
    assert train(model=zeros, theta0=zeros, mask=mask).steps == 2
    exact = train(model=models.RBM.random(5, 3, seed=0, scale=0.1), theta0=None,
                  mask="visible_fields")
    assert exact.steps == 2
