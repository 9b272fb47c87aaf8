r"""The two regimes of short-run training: the mixing time κ1 against k, along training (T1-T5).

Exact gradient ascent at a finite learning rate (:func:`shortrun.numerics.training.train`, (G4))
moves θ along a trajectory θ(t_age), t_age the number of updates made.  Along it the model's
kernel has a mixing time κ1(θ(t_age)) = −1/ln|λ1| (G3).  With chains of k steps (T1):

* while κ1 ≪ k the negative law p(k, p0) = U_θ^k p0 is p_θ up to :math:`O(e^{-k/\kappa_1})`, the
  gradient is the likelihood gradient and training is *equilibrium-like*: the model's own law
  approaches the data;
* once κ1 grows past k (the *crossing time*, (T2)) the chains no longer reach p_θ, training
  converges to a short-run fixed point (G5) where p(k, p0) matches the data and p_θ does not: the
  *out-of-equilibrium* regime.

The regime is measured, not declared, by the equilibrium error (T3)

.. math:: \epsilon_{\rm eq}(t_{\rm age}) = \big\|\langle\phi\rangle_{p_{\theta(t_{\rm age})}}
          - \langle\phi\rangle_{\rm data}\big\|_\infty ,

compared with that of exact maximum likelihood (protocol 'eq') at the same age and learning
rate: the ratio is about 1 in the equilibrium regime and grows once κ1 > k.  PCD-k keeps a
persistent law q_t = U_{θ_t}^k q_{t-1} whose fixed point is p_θ (so its exact fixed point is
maximum likelihood); at a finite learning rate q_t lags behind p_{θ_t} (T4), measured here by
the total-variation distance and the statistics gap (:func:`persistent_lag`).

Pure functions on numpy arrays around the exact trainer (:func:`run`, :func:`crossing_time`,
:func:`regime_map`, :func:`persistent_lag`; :func:`exact_runs` for the figure's set of runs).  The
Monte Carlo side (:func:`digits_runs`: RBMs on the binarised digits, where κ1 is out of reach)
estimates the relaxation time by the integrated autocorrelation time of a stated projection
(:func:`integrated_time`, :func:`digits_tau`, (T5)), a lower estimate of κ1, and reports the
exact log-likelihood (:func:`mean_log_likelihood`, log Z over the hidden layer, (R1)) and the
sample quality along t against the noise floor of the finite sample (:func:`noise_floor`, (M1)).
Settings: :data:`EXACT_FAST` / :data:`DIGITS_FAST` (the figure's fast mode), ``*_FULL``,
``*_TINY``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortrun.conventions import check_count, check_finite, check_positive, check_real, check_steps
from shortrun.numerics import training


@dataclass(frozen=True)
class RegimeRun:
    r"""One exact training run seen through its regime (T1-T4).

    ``steps``: the recorded training ages t_age; ``kappa``: κ1(θ(t_age)) (G3); ``eq_error``:
    :math:`\|\langle\phi\rangle_{p_\theta} - \langle\phi\rangle_{\rm data}\|_\infty` (T3);
    ``k_error``: the biased gradient's :math:`\|\tilde\nabla L\|_\infty` (G4); ``lag``: for PCD
    the total-variation distance between the persistent law and p_θ (T4), NaN otherwise;
    ``theta``: the final parameters.
    """

    protocol: str
    k: float
    steps: np.ndarray
    kappa: np.ndarray
    eq_error: np.ndarray
    k_error: np.ndarray
    lag: np.ndarray
    theta: np.ndarray

    @property
    def ratio(self):
        r""":math:`\kappa_1(t_{\rm age})/k` (NaN for maximum likelihood, which has no k)."""
        if self.k is None or not np.isfinite(self.k):
            return np.full(self.kappa.shape, np.nan)
        return self.kappa / self.k

    @property
    def crossing(self):
        """The crossing time (T2) of κ1 through k, :func:`crossing_time`."""
        if self.k is None or not np.isfinite(self.k):
            return np.nan
        return crossing_time(self.steps, self.kappa, self.k)


def crossing_time(steps, kappa, k):
    r"""The first training age at which the mixing time reaches k (T2).

    With the recorded curve :math:`(t_i, \kappa_i)`, i the first index with
    :math:`\kappa_i \ge k`: 0-th index → :math:`t_0` (the machine starts slow); otherwise the
    crossing of the straight line in :math:`(t, \ln\kappa)` between :math:`(t_{i-1},
    \kappa_{i-1})` and :math:`(t_i, \kappa_i)`,

    .. math:: t_\times = t_{i-1} + (t_i - t_{i-1})\,
              \frac{\ln k - \ln\kappa_{i-1}}{\ln\kappa_i - \ln\kappa_{i-1}} ,

    and NaN when κ never reaches k on the record (the run stays in the equilibrium regime).

    Parameters
    ----------
    steps : array (T,)
        Increasing training ages.
    kappa : array (T,)
        κ1 at those ages (> 0; ``inf`` allowed: a chain that never mixes).
    k : float > 0
        Length of the chains.
    """
    t = check_finite(steps, "steps", "pass the recorded training ages.")
    kap = check_real(kappa, "kappa")
    if t.ndim != 1 or t.shape != kap.shape or t.size == 0:
        raise ValueError(f"steps and kappa must be 1-d arrays of the same non-zero length; got "
                         f"shapes {t.shape} and {kap.shape}.")
    if np.any(np.diff(t) <= 0):
        raise ValueError("steps must increase strictly (the recorded training ages).")
    if np.any(np.isnan(kap)) or np.any(kap <= 0):
        raise ValueError("kappa must be > 0 and not NaN (record κ1 at every recorded age: "
                         "training.train(..., mixing_every=record_every)).")
    k = check_positive(k, "k", "pass the length of the chains (a number of steps > 0).")
    above = kap >= k
    if not above.any():
        return np.nan
    i = int(np.argmax(above))
    if i == 0:
        return float(t[0])
    if not np.isfinite(kap[i]):
        return float(t[i])
    a, b = np.log(kap[i - 1]), np.log(kap[i])
    return float(t[i - 1] + (t[i] - t[i - 1]) * (np.log(k) - a) / (b - a))


def equilibrium_error(model, data):
    r""":math:`\|\langle\phi\rangle_{p_\theta} - \langle\phi\rangle_{\rm data}\|_\infty` (T3) of a
    model against a data law (``data.p`` over the model's states)."""
    target = model.stats(np.asarray(data.p if hasattr(data, "p") else data, float))
    return float(np.max(np.abs(model.stats(model.boltzmann()) - target)))


def persistent_lag(result):
    r"""PCD's lag behind the model (T4): the persistent law replayed from the recorded θ's.

    The exact PCD trainer updates :math:`q_t = U_{\theta_t}^k q_{t-1}` (:math:`q_{-1} = p_0`) and
    ascends :math:`\langle\phi\rangle_{\rm data} - \langle\phi\rangle_{q_t}`; with the history
    recorded at every update (``record_every=1``) the same sequence is replayed here.  Returns
    ``(tv, stats_gap, grad_gap)``: :math:`\tfrac12\|q_t - p_{\theta_t}\|_1`,
    :math:`\|\langle\phi\rangle_{q_t} - \langle\phi\rangle_{p_{\theta_t}}\|_\infty` and the
    largest difference between the replayed and the recorded gradient (a self-check of the
    replay: 0 up to rounding)."""
    prob, hist = result.problem, result.history
    if prob.protocol != "pcd":
        raise ValueError(f"persistent_lag needs a PCD run; got protocol={prob.protocol!r}.")
    if not np.array_equal(hist.step, np.arange(len(hist.step))):
        raise ValueError("persistent_lag replays every update: train with record_every=1.")
    q = np.array(prob.p0)
    tv, gap, grad_gap = [], [], 0.0
    for theta, grad in zip(hist.theta, hist.grad):
        model = prob.model(theta)
        q = prob.negative_law(model, q)
        p = np.asarray(model.boltzmann())
        sq, sp = model.stats(q), model.stats(p)
        tv.append(0.5 * float(np.sum(np.abs(q - p))))
        gap.append(float(np.max(np.abs(sq - sp))))
        g = np.where(prob.mask, prob.data_stats(model) - sq, 0.0)
        grad_gap = max(grad_gap, float(np.max(np.abs(g - grad))))
    return np.array(tv), np.array(gap), grad_gap


def age_grid(n_steps, per_decade=8):
    """Training ages 0, 1, ... up to ``n_steps`` spaced geometrically (about ``per_decade`` per
    decade; 0 and ``n_steps`` included), where the regime is recorded."""
    n_steps = check_steps(check_count(n_steps, "n_steps"), "n_steps")   # int64 step counters
    per_decade = check_count(per_decade, "per_decade")
    n = int(np.ceil(per_decade * np.log10(float(n_steps)))) + 1
    ages = [min(int(a), n_steps) for a in np.geomspace(1, float(n_steps), n).round()]
    return np.unique(np.array([0] + ages, dtype=np.int64))


def run(data, k, protocol="rdm", *, model=None, lr=0.1, n_steps=1000, ages=None, momentum=0.0,
        theta0=None):
    r"""Train exactly (G4) and record the regime at the training ages ``ages`` (T1-T4).

    Parameters
    ----------
    data, k, protocol, model, lr, momentum, theta0
        As :func:`shortrun.numerics.training.train` (k is ignored for ``'eq'``).
    n_steps : int
        Updates (all of them: ``tol=0``).
    ages : sequence of int, optional
        Ages in [0, n_steps] where κ1 (dense spectrum of the model's kernel,
        :func:`shortrun.numerics.analysis.diagnostics.mixing_time`) is computed; default
        :func:`age_grid`.  ε_eq is the trainer's ``mismatch_eq`` at those ages.

    Returns
    -------
    RegimeRun
    """
    from shortrun.numerics.analysis.diagnostics import mixing_time
    n_steps = check_count(n_steps, "n_steps")
    ages = age_grid(n_steps) if ages is None else np.asarray(ages)
    if ages.ndim != 1 or not ages.size or ages.dtype.kind not in "iu" or ages.min() < 0 \
            or ages.max() > n_steps or np.any(np.diff(ages) <= 0):
        raise ValueError(f"ages must be increasing integers in [0, n_steps={n_steps}]; got "
                         f"{ages!r}.")
    res = training.train(data, None if protocol == "eq" else k, protocol, model=model, lr=lr,
                         momentum=momentum, n_steps=n_steps, tol=0.0, theta0=theta0,
                         record_every=1, progress=False)
    h, prob = res.history, res.problem
    kappa = np.array([mixing_time(prob.model(h.theta[a]), prob.rule, prob.scan) for a in ages])
    lag = persistent_lag(res)[0][ages] if prob.protocol == "pcd" else np.full(len(ages), np.nan)
    return RegimeRun(prob.protocol, np.nan if prob.protocol == "eq" else float(prob.k),
                     ages.astype(float), kappa, h.mismatch_eq[ages], h.mismatch_k[ages], lag,
                     res.theta)


@dataclass(frozen=True)
class RegimeMap:
    r"""The (k, t_age) map of the regime (T3): ``eq_error[i, j]`` of Rdm-``ks[i]`` at age
    ``steps[j]``, ``ratio`` = that over maximum likelihood's at the same age, ``kappa_ratio`` =
    κ1/k, and ``equilibrium`` = ``ratio <= threshold``."""

    ks: np.ndarray
    steps: np.ndarray
    eq_error: np.ndarray
    ratio: np.ndarray
    kappa_ratio: np.ndarray
    threshold: float

    @property
    def equilibrium(self):
        return self.ratio <= self.threshold


def regime_map(runs, reference, threshold=2.0):
    r"""Stack Rdm runs of several k into the (k, t_age) map (T3) against the maximum-likelihood
    ``reference`` run (protocol 'eq', same learning rate and ages).

    A cell is in the equilibrium regime when its equilibrium error is at most ``threshold``
    times that of maximum likelihood at the same age."""
    if not runs:
        raise ValueError("runs is empty: pass the RegimeRun of at least one k.")
    for r, name in [(r, "runs") for r in runs] + [(reference, "reference")]:
        if not isinstance(r, RegimeRun):
            raise ValueError(f"{name} must hold RegimeRun results of regimes.run(...); got "
                             f"{type(r).__name__}.")
    if reference.protocol != "eq":
        raise ValueError(f"reference must be a maximum-likelihood run (protocol 'eq'); got "
                         f"{reference.protocol!r}.")
    for r in runs:
        if not np.array_equal(r.steps, reference.steps):
            raise ValueError(f"{r.protocol}-{r.k:g} was recorded at other ages than the "
                             "reference: use the same n_steps and every.")
    if not check_positive(threshold, "threshold", "pass a number >= 1.") >= 1:
        raise ValueError(f"threshold={threshold!r} must be a number >= 1.")
    order = np.argsort([r.k for r in runs])
    runs = [runs[i] for i in order]
    eq = np.array([r.eq_error for r in runs])
    return RegimeMap(np.array([r.k for r in runs]), reference.steps, eq,
                     eq / reference.eq_error[None, :], np.array([r.ratio for r in runs]),
                     float(threshold))


def integrated_time(x, c=5.0):
    r"""Integrated autocorrelation time (T5) of the series ``x`` (T, n_chains), with Sokal's
    automatic window.

    .. math:: \tau_{\rm int}(W) = \tfrac12 + \sum_{t=1}^{W} C(t),\qquad
              W = \min\{W : W \ge c\,\tau_{\rm int}(W)\},

    C the normalised autocorrelation averaged over chains and origins
    (:func:`shortrun.numerics.analysis.memory.autocorrelation`).  Conventions: τ_int = 1/2 for
    independent samples and :math:`\tfrac12\frac{1+\lambda}{1-\lambda}` for an observable on one
    mode λ (≈ κ for slow modes).  Bias: the window drops :math:`\sum_{t>W}C(t)\approx
    \tau e^{-W/\tau}` (< 1 % at c = 5 for a single mode) and subtracting the sample mean biases
    C by about −2τ/T (T recorded steps per chain); when no W ≤ T/4 meets the condition the
    window is T/4 and τ is a lower estimate (``resolved`` False).  Returns ``(tau, window,
    resolved)``."""
    from shortrun.numerics.analysis.memory import autocorrelation
    x = check_finite(x, "x", "pass finite recorded values.")
    if x.ndim != 2 or x.shape[0] < 8 or x.shape[1] < 1:
        raise ValueError(f"x must have shape (T, n_chains) with T >= 8 recorded steps and at "
                         f"least one chain; got {x.shape}.")
    if not check_positive(c, "c", "pass a window factor >= 1 (Sokal's 5 is usual).") >= 1:
        raise ValueError(f"c={c!r} must be a window factor >= 1 (Sokal's 5 is usual).")
    if np.all(x == x[0, 0]):
        raise ValueError("x is constant over every chain and time: its autocorrelation is "
                         "undefined (frozen chains have tau = inf, not the 1/2 of independent "
                         "samples); record an observable that moves.")
    max_lag = x.shape[0] // 4
    C = autocorrelation(x, max_lag=max_lag)
    tau = 0.5 + np.cumsum(C[1:])
    ok = np.flatnonzero(np.arange(1, max_lag + 1) >= c * tau)
    if ok.size:
        return float(tau[ok[0]]), int(ok[0] + 1), True
    return float(tau[-1]), int(max_lag), False


@dataclass(frozen=True)
class ExactConfig:
    """Settings of the exact side: a Boltzmann machine of ``N`` spins trained on the
    ``n_patterns``-pattern mixture (magnetisation ``m``,
    :func:`shortrun.numerics.data.teachers.pattern_mixture`)
    by maximum likelihood, Rdm-k for each k of ``ks``, PCD-k for ``pcd_ks`` and CD-k for
    ``cd_ks``, at learning rate ``lr`` for ``n_steps`` updates, recorded on :func:`age_grid`."""

    N: int = 6
    n_patterns: int = 2
    m: float = 0.8
    seed: int = 1
    lr: float = 0.05
    n_steps: int = 300
    per_decade: int = 8
    ks: tuple = (1, 2, 3, 5, 10, 30)
    pcd_ks: tuple = (1,)
    cd_ks: tuple = (1,)


EXACT_FAST = ExactConfig()
EXACT_FULL = ExactConfig(n_steps=1000, per_decade=12, ks=(1, 2, 3, 4, 5, 7, 10, 15, 30, 100),
                         pcd_ks=(1, 5), cd_ks=(1, 5))
EXACT_TINY = ExactConfig(N=4, n_steps=20, per_decade=3, ks=(1, 10), pcd_ks=(1,), cd_ks=(1,))


def exact_runs(cfg=EXACT_FAST):
    """Every exact run of ``cfg``; a flat dict ``'<protocol><k>_<field>'`` of the
    :class:`RegimeRun` fields (``eq_`` for maximum likelihood), the figures' cache format."""
    from shortrun.numerics.data import teachers
    data = teachers.pattern_mixture(cfg.N, cfg.n_patterns, cfg.m, seed=cfg.seed)
    ages = age_grid(cfg.n_steps, cfg.per_decade)
    jobs = [("eq", None)] + [("rdm", k) for k in cfg.ks] + [("pcd", k) for k in cfg.pcd_ks] \
        + [("cd", k) for k in cfg.cd_ks]
    out = {}
    for protocol, k in jobs:
        r = run(data, k, protocol, lr=cfg.lr, n_steps=cfg.n_steps, ages=ages)
        name = "eq" if k is None else f"{protocol}{k}"
        for f in ("steps", "kappa", "eq_error", "k_error", "lag", "theta"):
            out[f"{name}_{f}"] = getattr(r, f)
    return out


def run_from(cache, name):
    """The :class:`RegimeRun` ``name`` (``'eq'``, ``'rdm5'``, ...) back from :func:`exact_runs`'
    flat dict."""
    protocol = "".join(c for c in name if c.isalpha())
    k = float(name[len(protocol):]) if name != "eq" else np.nan
    return RegimeRun(protocol, k, *(np.asarray(cache[f"{name}_{f}"]) for f in
                                    ("steps", "kappa", "eq_error", "k_error", "lag", "theta")))


# ---------------------------------------------------------------------------------------------
# RBMs on the binarised digits (Monte Carlo): τ along training, sample quality along t, exact LL
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DigitsConfig:
    """Settings of the digits side of the two regimes (all runs seeded).

    ``runs``: (protocol, k) of each machine; ``seeds``: training seeds (the error bars of τ are
    over them); τ (T5) at ``tau_points`` log-spaced ages from ``tau_chains`` chains started at
    training images, ``tau_burn`` steps of burn-in, ``tau_steps`` recorded steps; sample quality
    along t up to ``t_max`` from ``n_sample_chains`` chains (first seed only)."""

    n_hidden: int = 16
    runs: tuple = (("rdm", 3), ("rdm", 10), ("rdm", 100), ("pcd", 5), ("pcd", 20), ("cd", 5))
    n_steps: int = 600
    lr: float = 0.05
    momentum: float = 0.9
    n_chains: int = 64
    seeds: tuple = (0, 1)
    tau_points: int = 6
    tau_chains: int = 32
    tau_steps: int = 1000
    tau_burn: int = 100
    t_max: int = 1000
    n_sample_chains: int = 200
    n_test: int = 200


DIGITS_FAST = DigitsConfig()
DIGITS_FULL = DigitsConfig(n_hidden=20, runs=(("rdm", 3), ("rdm", 10), ("rdm", 100),
                                              ("rdm", 1000), ("pcd", 5), ("pcd", 100),
                                              ("cd", 5)),
                           n_steps=1200, n_chains=64, seeds=(0, 1, 2), tau_points=9,
                           tau_chains=48, tau_steps=4000, tau_burn=500, t_max=10000,
                           n_sample_chains=360, n_test=360)
DIGITS_TINY = DigitsConfig(n_hidden=4, runs=(("rdm", 2), ("pcd", 2), ("cd", 2)),
                           n_steps=8, n_chains=20, seeds=(0,), tau_points=3, tau_chains=8,
                           tau_steps=16, tau_burn=2, t_max=20, n_sample_chains=40, n_test=40)


def top_component(train):
    """``(mean, u)``: the data's mean and unit top principal direction (the projection of (T5))."""
    from shortrun.numerics.analysis.memory import principal_components
    mean, U = principal_components(np.asarray(train), 1)
    return mean, U[:, 0]


def digits_tau(model, train, *, n_chains, n_steps, burn_in, seed, projection=None):
    r"""τ (T5) of an RBM on the digits: the integrated autocorrelation time of the projection
    :math:`x = u_1\cdot(s - \bar s)` of the visible chain on the data's top principal component
    (``projection`` = :func:`top_component` of ``train``, computed when not given), from
    ``n_chains`` chains started at training images (seeded), after ``burn_in`` steps, over
    ``n_steps`` recorded steps.  Returns ``(tau, window, resolved)`` of :func:`integrated_time`."""
    from shortrun.numerics.sampling import sample
    train = np.asarray(train)
    mean, u = top_component(train) if projection is None else projection
    start = train[np.random.default_rng([seed, 7]).integers(0, len(train), n_chains)]
    times = np.arange(burn_in, burn_in + n_steps)
    traj = sample(model, start, times[-1], seed=seed, times=times)
    return integrated_time((traj.astype(float) - mean) @ u)


def mean_log_likelihood(model, states):
    r"""Exact mean log-likelihood :math:`\frac1n\sum_c \log p(v^{(c)}) = -\overline{F(v)} - \log Z`
    of ±1 ``states`` under an RBM, log Z summed over the smaller layer ((R1); exact for
    min(N_v, N_h) up to the model's limit)."""
    v = (np.asarray(states, float) + 1.0) / 2.0
    return float(-np.mean(model.free_energy(v)) - model.log_partition())


def noise_floor(model, train, test, n_samples, seed):
    r"""What a perfect sampler scores with finite samples: ``(stats, aa)`` with ``stats`` the RMS
    error of :math:`\overline{\phi_\theta}` over ``n_samples`` training images drawn with
    replacement against the whole training set, and ``aa`` the adversarial accuracy (E2) of
    ``len(test)`` training images against the held-out images."""
    from shortrun.numerics.analysis.memory import rms
    from shortrun.numerics.analysis.quality import adversarial_accuracy
    train, test = np.asarray(train), np.asarray(test)
    draw = train[np.random.default_rng([seed, 9]).integers(0, len(train), n_samples)]
    stats = rms(model.sample_stats(draw) - model.sample_stats(train))
    return stats, adversarial_accuracy(train[: len(test)], test).aa


def digits_machine(cfg, protocol, k, seed, data, progress=False, projection=None):
    """Train one RBM on the digits by Monte Carlo (the start and the negative chains of
    :mod:`shortrun.numerics.analysis.digits_memory`) and measure τ along training (T5), the exact
    train/test log-likelihood (R1) and, for the first seed, the sample quality along t (M1) with
    its noise floor.  Returns a dict of arrays."""
    from shortrun.numerics.analysis import digits_memory as dm
    from shortrun.numerics.analysis.memory import sampled_memory_curve, time_grid
    from shortrun.numerics.training import monte_carlo
    start = dm.template(data.train, cfg.n_hidden, seed)
    res = monte_carlo.train(data.train, k, protocol, scan="alternating", model=start,
                            theta0=start.theta, n_chains=cfg.n_chains, lr=cfg.lr,
                            momentum=cfg.momentum, n_steps=cfg.n_steps, seed=seed,
                            theta_max=1e3, progress=progress)
    ages = np.unique(np.geomspace(1, cfg.n_steps, cfg.tau_points).round().astype(int))
    projection = top_component(data.train) if projection is None else projection
    taus = []
    for a in ages:
        theta = res.theta if a == cfg.n_steps else res.history.theta[a]
        taus.append(digits_tau(start.with_theta(theta), data.train, n_chains=cfg.tau_chains,
                               n_steps=cfg.tau_steps, burn_in=cfg.tau_burn, seed=seed + 100,
                               projection=projection))
    model = res.model
    out = dict(ages=ages, tau=np.array([t[0] for t in taus]),
               window=np.array([t[1] for t in taus]),
               resolved=np.array([t[2] for t in taus]),
               ll_train=mean_log_likelihood(model, data.train),
               ll_test=mean_log_likelihood(model, data.test))
    if seed == cfg.seeds[0]:
        times = time_grid(cfg.t_max, extra=(k, 10 * k, cfg.t_max))
        curve = sampled_memory_curve(model, dm._p0(protocol, data.train, cfg.n_sample_chains,
                                                   seed),
                                     times, data.train, data.test, n_chains=cfg.n_sample_chains,
                                     seed=seed + 1, n_keep=6)
        floor = noise_floor(model, data.train, data.test, cfg.n_sample_chains, seed)
        out.update(times=curve.times, stats_error=curve.stats_error, aa_test=curve.aa_test,
                   samples=curve.samples, floor_stats=floor[0], floor_aa=floor[1])
    return out


def digits_runs(cfg=DIGITS_FAST, progress=False):
    """Every machine of ``cfg`` for every seed; a flat dict ``'<protocol><k>_s<seed>_<key>'``
    of arrays (the figures' cache format)."""
    from shortrun.numerics.data import digits
    data = digits.load(n_test=cfg.n_test, seed=0)
    projection = top_component(data.train)
    out = {}
    for protocol, k in cfg.runs:
        for seed in cfg.seeds:
            for key, val in digits_machine(cfg, protocol, k, seed, data, progress,
                                           projection).items():
                out[f"{protocol}{k}_s{seed}_{key}"] = np.asarray(val)
    return out


def params(cfg):
    """The settings of an :class:`ExactConfig` or a :class:`DigitsConfig` as a plain dict (the
    figures' cache keys)."""
    from dataclasses import asdict
    return asdict(cfg)
