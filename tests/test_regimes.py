"""The two regimes of short-run training (docs/theory.md, T1-T5): κ1 along training against an
independent dense matrix, the crossing time against a brute-force scan, the equilibrium error
against direct enumeration, PCD's persistent law replayed and its fixed point (maximum
likelihood), and the integrated autocorrelation time against a chain with a known answer."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from shortrun.numerics.analysis import regimes
from shortrun.numerics.data import teachers
from shortrun.numerics.models.boltzmann import BoltzmannMachine
from shortrun.numerics.models.rbm import RBM
from shortrun.numerics.training import fixed_point

EPS = np.finfo(float).eps


def mixture(N=4):
    return teachers.pattern_mixture(N, 2, 0.8, seed=1)


def spin_states(N):
    """All ±1 states, state index x has bit i of x <-> s_i = +1 (the project's order)."""
    return np.array([[1 if (x >> i) & 1 else -1 for i in range(N)] for x in range(2 ** N)])


def brute_bm_law(theta, N):
    """p_θ(s) ∝ exp(Σ h_i s_i + Σ_{i<j} J_ij s_i s_j), θ = (h, J[iu]), by explicit loops."""
    h, J = theta[:N], np.zeros((N, N))
    J[np.triu_indices(N, 1)] = theta[N:]
    S = spin_states(N)
    w = np.array([np.exp(sum(h[i] * s[i] for i in range(N))
                         + sum(J[i, j] * s[i] * s[j] for i in range(N) for j in range(i + 1, N)))
                  for s in S])
    return S, w / w.sum()


def brute_bm_sweep(theta, N):
    """Random-scan heat-bath sweep U = R^N, R = (1/N) Σ_i T_i, T_i the heat-bath update of spin i,
    built from the energy by enumeration (column-stochastic)."""
    S, p = brute_bm_law(theta, N)
    n = len(S)
    index = {tuple(s): x for x, s in enumerate(S)}
    R = np.zeros((n, n))
    for x, s in enumerate(S):
        for i in range(N):
            t = s.copy()
            t[i] = -t[i]
            y = index[tuple(t)]
            R[y, x] += p[y] / (p[x] + p[y]) / N
            R[x, x] += p[x] / (p[x] + p[y]) / N
    return np.linalg.matrix_power(R, N)


def brute_rbm_chain(model):
    """Alternating Gibbs chain on the visible states, U[v', v] = Σ_h p(h|v) p(v'|h), from the
    sigmoid conditionals unit by unit."""
    sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    V = np.array(list(itertools.product([0, 1], repeat=model.N_v)))[:, ::-1]
    H = np.array(list(itertools.product([0, 1], repeat=model.N_h)))[:, ::-1]
    a, b, W = model.a, model.b, model.W
    U = np.zeros((len(V), len(V)))
    for x, v in enumerate(V):
        up = [sig(b[al] + v @ W[:, al]) for al in range(model.N_h)]
        ph = np.array([np.prod([up[al] if h[al] else 1 - up[al] for al in range(model.N_h)])
                       for h in H])
        for y, w in enumerate(V):
            pv = np.array([np.prod([sig(a[i] + W[i] @ h) if w[i] else 1 - sig(a[i] + W[i] @ h)
                                    for i in range(model.N_v)]) for h in H])
            U[y, x] = ph @ pv
    return U


def kappa_and_tolerance(U):
    r"""κ1 = −1/ln|λ1| of a dense matrix by general ``eig`` and the first-order bound on its
    error: |δλ| ≤ cond(λ1)·‖δU‖, ‖δU‖ ≲ 64 n ε (backward-stable eig of a stochastic matrix, and
    the same for the symmetric route), δκ = |δλ| / (λ ln²λ)."""
    lam, R = np.linalg.eig(U)
    order = np.argsort(-np.abs(lam))
    lam, R = lam[order], R[:, order]
    L = np.linalg.inv(R)
    cond = np.linalg.norm(L[1]) * np.linalg.norm(R[:, 1])
    l1 = abs(lam[1])
    kappa = -1.0 / np.log(l1)
    return kappa, 2 * 64 * len(U) * EPS * cond / (l1 * np.log(l1) ** 2)


def test_kappa_along_training_matches_the_dense_brute_force_matrix():
    N = 4
    run = regimes.run(mixture(N), 2, "rdm", lr=0.2, n_steps=30, ages=[0, 30])
    assert run.steps.tolist() == [0.0, 30.0]
    assert run.kappa[0] > 0                            # θ = 0: the sweep still correlates
    kappa, tol = kappa_and_tolerance(brute_bm_sweep(run.theta, N))
    print(f"kappa1 {run.kappa[-1]:.6f} vs brute force {kappa:.6f}, tol {tol:.1e}")
    assert abs(run.kappa[-1] - kappa) <= tol
    assert run.kappa[-1] > 1.2 * run.kappa[0]          # the mixture makes the machine slower


def test_kappa_of_an_rbm_matches_the_dense_brute_force_chain():
    model = RBM.random(3, 2, seed=4, scale=1.5)
    data = teachers.Data.from_distribution(np.asarray(RBM.random(3, 2, seed=5).boltzmann()))
    run = regimes.run(data, 1, "cd", model=model, lr=0.2, n_steps=6, ages=[6],
                      theta0=model.theta)
    kappa, tol = kappa_and_tolerance(brute_rbm_chain(model.with_theta(run.theta)))
    assert abs(run.kappa[-1] - kappa) <= tol


def test_equilibrium_error_matches_direct_enumeration():
    N = 4
    data = mixture(N)
    run = regimes.run(data, 3, "rdm", lr=0.2, n_steps=25, ages=[25])
    S, p = brute_bm_law(run.theta, N)
    phi = lambda law: np.concatenate([[law @ S[:, i] for i in range(N)],  # noqa: E731
                                      [law @ (S[:, i] * S[:, j]) for i in range(N)
                                       for j in range(i + 1, N)]])
    direct = np.max(np.abs(phi(p) - phi(data.p)))
    # two sums of 2^N terms of size <= 1 each: 16·2^N ε (the exact-vs-exact tolerance)
    assert abs(run.eq_error[-1] - direct) <= 16 * 2 ** N * EPS
    assert abs(regimes.equilibrium_error(BoltzmannMachine.from_theta(run.theta, N), data)
               - direct) <= 16 * 2 ** N * EPS


def crossing_by_scan(steps, kappa, k, n=200001):
    """The first t on a fine grid where the recorded curve, drawn piecewise linear in (t, ln κ),
    reaches ln k."""
    t = np.linspace(steps[0], steps[-1], n)
    y = np.interp(t, steps, np.log(kappa))
    hit = np.flatnonzero(y >= np.log(k) - 1e-12)
    return (t[hit[0]] if hit.size else np.nan), t[1] - t[0]


@pytest.mark.parametrize("seed", range(6))
def test_crossing_time_against_a_brute_force_scan(seed):
    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(1, 20, 30)).astype(float)
    kappa = np.exp(np.cumsum(rng.normal(0.1, 0.4, 30)))
    for k in (kappa[0] * 0.5, np.median(kappa), kappa.max() * 0.999, kappa.max() * 2):
        got = regimes.crossing_time(steps, kappa, k)
        want, dt = crossing_by_scan(steps, kappa, k)
        if np.isnan(want):
            assert np.isnan(got)
        else:
            assert want - dt <= got <= want + 1e-9


def test_age_grid_up_to_the_int64_limit():
    ages = regimes.age_grid(2**63 - 1)
    assert ages[0] == 0 and ages[-1] == 2**63 - 1 and np.all(np.diff(ages) > 0)
    np.testing.assert_array_equal(regimes.age_grid(100, 2), [0, 1, 3, 10, 32, 100])


def test_crossing_time_refuses_bad_input():
    with pytest.raises(ValueError, match="increase"):
        regimes.crossing_time([0, 0, 1], [1, 2, 3], 2)
    with pytest.raises(ValueError, match="kappa"):
        regimes.crossing_time([0, 1, 2], [1, np.nan, 3], 2)
    with pytest.raises(ValueError, match="k="):
        regimes.crossing_time([0, 1, 2], [1, 2, 3], 0)
    # text, NaN ages and wrong objects used to give TypeErrors or a NaN crossing time
    for call, match in [
            (lambda: regimes.crossing_time([0, 1, 2], [1, 2, 3], "2"), "k='2' is text"),
            (lambda: regimes.crossing_time([0, np.nan, 2], [1, 2, 3], 2), "steps contains NaN"),
            (lambda: regimes.crossing_time([0, 1, 2], ["a", "b", "c"], 2), "kappa holds"),
            (lambda: regimes.regime_map(["run"], None), "runs must hold RegimeRun"),
            (lambda: regimes.integrated_time(np.ones((16, 2)), c="5"), "c='5' is text"),
            (lambda: regimes.integrated_time(np.ones((16, 2))), "constant"),   # was tau = 1/2
            (lambda: regimes.integrated_time(np.ones((16, 0))), "at least one chain"),
            # beyond int64 step counters: was a TypeError from log10
            (lambda: regimes.age_grid(10**30), "n_steps=1" + "0" * 30 + " is beyond the int64 range")]:
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(ValueError, match="ages"):
        regimes.run(mixture(), 2, n_steps=5, ages=[3, 1])


def test_pcd_replay_reproduces_the_gradient_and_lags_behind_the_model():
    N = 4
    run = regimes.run(mixture(N), 1, "pcd", lr=0.5, n_steps=40, ages=[0, 5, 40])
    from shortrun.numerics import training
    res = training.train(mixture(N), 1, "pcd", lr=0.5, n_steps=40, tol=0.0, record_every=1,
                         progress=False)
    tv, gap, grad_gap = regimes.persistent_lag(res)
    assert grad_gap <= 16 * 2 ** N * EPS                     # the replay is the trainer's sequence
    assert np.array_equal(run.lag, tv[[0, 5, 40]])
    assert tv[5] > 1e-3 and gap[5] > 1e-3                    # at a finite rate q lags behind p_θ
    with pytest.raises(ValueError, match="record_every=1"):
        regimes.persistent_lag(training.train(mixture(N), 1, "pcd", n_steps=4, record_every=2,
                                              progress=False))


@pytest.mark.slow
def test_pcd_fixed_point_is_maximum_likelihood_and_the_lag_closes():
    from shortrun.numerics import training
    N = 4
    data = mixture(N)
    res = training.train(data, 1, "pcd", lr=0.5, n_steps=4000, tol=1e-11, record_every=1,
                         progress=False)
    assert res.converged, res.message
    tv, gap, grad_gap = regimes.persistent_lag(res)
    ml = fixed_point.solve(data, None, "eq")
    # exact PCD's fixed point is the kernel's stationary law = p_θ, hence maximum likelihood
    # (|grad| <= 1e-11 and a well-conditioned Jacobian bound the gap by ~1e-9)
    assert np.max(np.abs(res.theta - ml.theta)) <= 1e-8
    assert tv[-1] <= 1e-8 and gap[-1] <= 1e-8


def test_regime_map_separates_small_and_large_k():
    data = mixture(5)
    kw = dict(lr=0.1, n_steps=120, ages=regimes.age_grid(120, 4))
    ml = regimes.run(data, None, "eq", **kw)
    runs = [regimes.run(data, k, "rdm", **kw) for k in (12, 1)]
    rmap = regimes.regime_map(runs, ml)
    runs = runs[::-1]                                  # the map sorts by k
    assert rmap.ks.tolist() == [1.0, 12.0]
    # k = 12 far above κ1 (< 3 along the run): indistinguishable from maximum likelihood
    assert np.all(runs[1].kappa < 3) and np.isnan(runs[1].crossing)
    assert np.all(rmap.equilibrium[1])
    # k = 1: κ1 crosses k and the machine leaves the equilibrium regime for good
    assert runs[0].crossing < 120 and not rmap.equilibrium[0, -1]
    with pytest.raises(ValueError, match="maximum-likelihood"):
        regimes.regime_map(runs, runs[0])


@pytest.mark.parametrize("lam", [0.0, 0.8, 0.95])
def test_integrated_time_of_a_single_mode(lam):
    r"""AR(1) chains x_t = λ x_{t-1} + √(1−λ²) ξ_t (stationary start): τ_int = ½(1+λ)/(1−λ).
    Sokal's variance of the estimator, var τ̂ ≈ 2(2W+1)/(n T) τ², gives a 5σ band; the window
    drops at most e^{-W(1-λ)} of the sum (< 1 % at c = 5) -- tolerance 5σ + 1 %."""
    rng = np.random.default_rng(11)
    T, n = 4000, 100
    x = np.empty((T, n))
    x[0] = rng.normal(size=n)
    noise = rng.normal(size=(T, n)) * np.sqrt(1 - lam ** 2)
    for t in range(1, T):
        x[t] = lam * x[t - 1] + noise[t]
    tau, window, resolved = regimes.integrated_time(x)
    want = 0.5 * (1 + lam) / (1 - lam)
    sigma = np.sqrt(2 * (2 * window + 1) / (n * T)) * want
    assert resolved
    assert abs(tau - want) <= 5 * sigma + 0.01 * want, (tau, want, sigma)
    with pytest.raises(ValueError, match="T >= 8"):
        regimes.integrated_time(x[:4])


def test_mean_log_likelihood_of_an_rbm_against_enumeration():
    """(R1) through the smaller layer vs the joint sum over (v, h) by explicit loops."""
    model = RBM.random(5, 3, seed=2, scale=1.0)
    V = np.array(list(itertools.product([0, 1], repeat=5)), float)
    H = np.array(list(itertools.product([0, 1], repeat=3)), float)
    w = np.array([[np.exp(model.a @ v + model.b @ h + v @ model.W @ h) for h in H] for v in V])
    logp = np.log(w.sum(axis=1)) - np.log(w.sum())
    states = 2 * V[[0, 3, 3, 17, 31]] - 1
    want = np.mean(logp[[0, 3, 3, 17, 31]])
    # log-sum-exp of 2^3 terms and a sum of 5 logs of O(1) numbers: a few hundred ε
    assert abs(regimes.mean_log_likelihood(model, states) - want) <= 1e3 * EPS * abs(want)
