r"""Memory-effect measurements from Monte Carlo samples: statistics error and sample quality along
the sampling time (M1), and the exponential autocorrelation time of chains (E4).

* :func:`sampled_memory_curve` samples a trained machine for t steps from p0 on a time grid
  (:data:`TIME_GRID`) and measures, at each t, the error of the sampled statistics against the
  data (the machine's own statistics φ_θ, which short-run training matches at t = k, (G5)), the
  error of the visible moments ⟨s_i⟩, ⟨s_is_j⟩, the adversarial accuracy (E2) against training
  and held-out data and the energy distance (E3) to held-out data.
* :func:`autocorrelation_time` (E4): chains started at data points, after a burn-in, projected
  on the data's top principal components :math:`u_c`; per component the normalised
  autocorrelation

  .. math:: C_c(t) = \frac{\overline{(x_{c}(t_0) - \bar x_c)(x_c(t_0 + t) - \bar x_c)}}
            {\overline{(x_c - \bar x_c)^2}},\qquad x_c = u_c\cdot s ,

  averaged over chains and origins :math:`t_0` (mean and variance over all of them), and
  :math:`\tau_c` from a least-squares fit of :math:`\log C_c(t) = \log A - t/\tau_c` on the lags
  where :math:`C_{\min} \le C_c(t) \le C_{\max}` (the asymptotic decay, past the fast modes).
  For a chain with spectrum :math:`\lambda_\alpha` (G3), :math:`C(t) = \sum_\alpha w_\alpha
  \lambda_\alpha^t` and the fit tends to :math:`\kappa_1 = -1/\ln\lambda_1` for any observable
  with weight on the slowest mode.  The machine's τ is the largest :math:`\tau_c`; a
  component whose C(t) stays above :math:`C_{\min}` over the whole window is *unresolved*
  (τ from the available slope, a lower estimate when the decay is not yet exponential).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortrun.conventions import check_count, check_finite, check_positive
from shortrun.numerics.core.states import check_samples
from shortrun.numerics.analysis.quality import adversarial_accuracy, energy_distance
from shortrun.numerics.sampling import sample

#: Sampling times of the memory-effect measurements (geometric above t = 10, ×≈1.7 per point).
TIME_GRID = (0, 1, 2, 4, 8, 10, 14, 24, 41, 69, 118, 201, 342, 582, 990, 1683, 2862, 4866, 8272,
             14063, 23907, 40642, 69091, 117456, 199675)


def time_grid(t_max, extra=()):
    """:data:`TIME_GRID` up to ``t_max`` with the ``extra`` times (e.g. k and 100k) merged in,
    sorted, without repeats."""
    t_max = check_count(t_max, "t_max", 0)
    extra = [check_count(int(t), "extra times", 0) for t in extra]
    return sorted({t for t in TIME_GRID if t <= t_max} | {t for t in extra if t <= t_max})


# ---------------------------------------------------------------------------------------------
# statistics errors
# ---------------------------------------------------------------------------------------------
def moments(states):
    r"""Visible moments :math:`(\overline{s_i}, \overline{s_is_j})_{i<j}` of ±1 states."""
    s = check_samples(states, None)
    C = s.T @ s / len(s)
    return np.concatenate([s.mean(axis=0), C[np.triu_indices(s.shape[1], 1)]])


def rms(x):
    """Root mean square of the finite, non-empty ``x``."""
    x = check_finite(x, "x", "pass finite numbers.")
    if x.size == 0:
        raise ValueError("x is empty; the root mean square needs at least one number.")
    return float(np.sqrt(np.mean(np.square(x))))


@dataclass(frozen=True)
class SampledMemoryCurve:
    """Quality of the samples of a machine along the sampling time t (one entry per time).

    ``stats_error``: RMS over φ of :math:`\\overline{\\phi_\\theta}_{\\rm samples(t)} -
    \\overline{\\phi_\\theta}_{\\rm train}`; ``moments_error``: the same for the visible
    moments; ``aa_train``, ``aa_test``: adversarial accuracy (E2, Hamming) against as many
    training resp. held-out images; ``energy_distance``: (E3, Euclidean) to the held-out images;
    ``samples``: the first ``n_keep`` samples at every t, shape (T, n_keep, N).
    """

    times: np.ndarray
    stats_error: np.ndarray
    moments_error: np.ndarray
    aa_train: np.ndarray
    aa_test: np.ndarray
    energy_distance: np.ndarray
    samples: np.ndarray

    def best_time(self, which="stats_error"):
        """The time with the smallest ``stats_error`` / ``moments_error`` / ``energy_distance``,
        or the AA closest to 0.5 (``'aa_test'``, ``'aa_train'``)."""
        v = np.asarray(getattr(self, which))
        score = np.abs(v - 0.5) if which.startswith("aa") else v
        return int(self.times[int(np.argmin(score))])

    def at(self, t, which="stats_error"):
        """The value of ``which`` at the grid time ``t``."""
        idx = np.flatnonzero(self.times == t)
        if not idx.size:
            raise ValueError(f"t={t} is not on this curve's time grid {self.times.tolist()}.")
        return float(getattr(self, which)[idx[0]])


def sampled_memory_curve(model, p0, times, train, test, *, n_chains=1000, seed=0, n_keep=16,
                         rule=None, scan=None):
    """Sample ``model`` from ``p0`` on the sorted grid ``times`` and measure the statistics error
    and sample quality at every time (:class:`SampledMemoryCurve`; ±1 ``train``/``test``).

    The quality measures use ``len(test)`` samples (AA needs equal-size sets) against the
    held-out images and as many training images (the first ones)."""
    train, test = np.asarray(train), np.asarray(test)
    n_keep = check_count(n_keep, "n_keep", 0)
    n_q = len(test)
    if n_chains < n_q:
        raise ValueError(f"n_chains={n_chains} must be at least the {n_q} held-out images (the "
                         "adversarial accuracy compares equal-size sets).")
    traj = sample(model, p0, max(times), rule=rule, scan=scan, n_chains=n_chains, seed=seed,
                  times=times)
    target_phi, target_mom = model.sample_stats(train), moments(train)
    out = {k: [] for k in ("stats_error", "moments_error", "aa_train", "aa_test",
                           "energy_distance")}
    for s in traj:
        out["stats_error"].append(rms(model.sample_stats(s) - target_phi))
        out["moments_error"].append(rms(moments(s) - target_mom))
        out["aa_train"].append(adversarial_accuracy(s[:n_q], train[:n_q]).aa)
        out["aa_test"].append(adversarial_accuracy(s[:n_q], test).aa)
        out["energy_distance"].append(energy_distance(s[:n_q], test))
    return SampledMemoryCurve(np.asarray(times), *(np.asarray(out[k]) for k in out),
                              samples=traj[:, :n_keep].copy())


# ---------------------------------------------------------------------------------------------
# exponential autocorrelation time (E4)
# ---------------------------------------------------------------------------------------------
def principal_components(data, n_components):
    """The data's mean and top ``n_components`` principal directions (columns, orthonormal)."""
    x = np.asarray(data, float)
    n_components = check_count(n_components, "n_components")
    if n_components > min(x.shape):
        raise ValueError(f"n_components={n_components} exceeds min(n_samples, N) = "
                         f"{min(x.shape)}.")
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:n_components].T


def autocorrelation(x, max_lag=None):
    r"""Normalised autocorrelation :math:`C(t)`, t = 0 … max_lag, of the series ``x`` of shape
    (T, n_chains) or (T, n_chains, m) (one column per observable), averaged over chains and time
    origins, with the mean and variance taken over all chains and times (module docstring)."""
    x = np.asarray(x, float)
    squeeze = x.ndim == 2
    if squeeze:
        x = x[..., None]
    T = x.shape[0]
    max_lag = T // 2 if max_lag is None else min(int(max_lag), T - 1)
    x = x - x.mean(axis=(0, 1))
    var = np.mean(x ** 2, axis=(0, 1))
    n = 1 << int(np.ceil(np.log2(2 * T)))
    f = np.fft.rfft(x, n=n, axis=0)
    acov = np.fft.irfft(f * np.conj(f), n=n, axis=0)[: max_lag + 1].mean(axis=1)
    acov /= (T - np.arange(max_lag + 1))[:, None]
    C = acov / np.where(var > 0, var, 1.0)
    return C[:, 0] if squeeze else C


def exponential_time(C, c_min=0.1, c_max=0.4):
    r"""``(τ, resolved)`` from an autocorrelation curve ``C`` (lags 0, 1, …): a least-squares fit
    of :math:`\log C(t) = \log A - t/\tau` over the lags from the first with
    :math:`C \le c_{\max}` to the last before C first drops below :math:`c_{\min}`; with fewer
    than two such lags, :math:`\tau = -t/\ln C(t)` at the last lag with :math:`C \ge c_{\min}`
    (0 when already C(1) < c_min: decorrelated within one step).  ``resolved`` is False when C
    never drops below c_min in the window."""
    C = check_finite(C, "C", "pass a finite autocorrelation curve (lags 0, 1, ...).")
    c_min = check_positive(c_min, "c_min", "pass 0 < c_min < c_max < 1.")
    c_max = check_positive(c_max, "c_max", "pass 0 < c_min < c_max < 1.")
    if not c_min < c_max < 1 or C.ndim != 1:
        raise ValueError(f"c_min={c_min!r}, c_max={c_max!r} must satisfy 0 < c_min < c_max < 1, "
                         f"and C must be one curve (1-D; got shape {C.shape}).")
    below = np.flatnonzero(C[1:] < c_min)
    resolved = below.size > 0
    stop = int(below[0]) + 1 if resolved else len(C)       # lags [0, stop) have C >= c_min
    if stop <= 1:
        return 0.0, True
    start = int(np.argmax(C[:stop] <= c_max)) if np.any(C[:stop] <= c_max) else 1
    start = max(start, 1)
    t = np.arange(start, stop)
    if t.size >= 2:
        slope = np.polyfit(t, np.log(C[start:stop]), 1)[0]
        if slope < 0:
            return float(-1.0 / slope), resolved
    last = stop - 1
    return float(-last / np.log(min(C[last], 1 - 1e-12))), resolved


@dataclass(frozen=True)
class AutocorrelationTime:
    """τ (E4) of a machine's chains: ``tau`` = max over components, ``taus`` and ``resolved``
    per principal component, ``C`` the autocorrelation curves (lag, component)."""

    tau: float
    taus: np.ndarray
    resolved: np.ndarray
    C: np.ndarray


def autocorrelation_time(model, data, *, n_components=3, n_chains=200, n_steps=2000,
                         burn_in=500, seed=0, rule=None, scan=None, c_min=0.1,
                         c_max=0.4):
    """Exponential autocorrelation time (E4) of ``model``'s chains on the top principal components
    of ``data`` (±1 rows): ``n_chains`` chains start at data points (drawn with ``seed``), run
    ``burn_in`` steps, then ``n_steps`` recorded steps (module docstring)."""
    data = np.asarray(data)
    n_chains, n_steps = check_count(n_chains, "n_chains", 2), check_count(n_steps, "n_steps", 4)
    burn_in = check_count(burn_in, "burn_in", 0)
    mean, U = principal_components(data, n_components)
    start = data[np.random.default_rng(seed).integers(0, len(data), n_chains)]
    times = np.arange(burn_in, burn_in + n_steps)
    traj = sample(model, start, times[-1], rule=rule, scan=scan, seed=seed, times=times)
    x = (traj.astype(float) - mean) @ U                                  # (T, chains, comps)
    C = autocorrelation(x, max_lag=n_steps // 2)
    fits = [exponential_time(C[:, c], c_min, c_max) for c in range(C.shape[1])]
    taus = np.array([f[0] for f in fits])
    return AutocorrelationTime(float(taus.max()), taus, np.array([f[1] for f in fits]), C)
