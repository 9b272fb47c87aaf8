"""Solvable model 1: a Gaussian EBM trained with short-run Langevin chains (SPEC section 3).

Energy :math:`E(x) = \\tfrac12 x^T A x - h^T x` with ``A`` symmetric.  The unadjusted Langevin
algorithm (ULA) with step ``eta`` and noise variance ``sigma2`` is
:math:`x_{t+1} = M x_t + \\eta h + \\sigma\\xi`, :math:`M = I - \\eta A` (``sigma2 = 2*eta`` is
standard Langevin).  Only the mean ``mu0`` and covariance ``Sigma0`` of p0 matter, and the law stays
Gaussian, so every quantity below is a closed form in the eigenbasis of ``A``.

Contents
--------
- moments of the chain: :func:`ula_moments` (Ga), :func:`langevin_moments` (Gb),
  :func:`ula_stationary_cov`, per-mode :func:`ula_mode_variance`, :func:`langevin_mode_variance`;
- the trained fixed point: :func:`fixed_point_mode` (Gc, physical/mirror roots),
  :func:`fixed_point_mode_continuous`, :func:`lambertw_mode` (s0 = 0), :func:`concave_threshold`,
  :func:`train_fixed_point` (Gc)+(Gd);
- equilibrium training: :func:`equilibrium_mode`, :func:`train_equilibrium`;
- the memory effect: :func:`memory_curve`, :func:`kl_gauss`;
- sympy twins: :func:`expressions` (per-mode formulas), :func:`ula_moments_sympy` (matrix (Ga)).

The Monte Carlo check (histograms of simulated ULA chains against :func:`ula_moments`) is done in
the numerics test-suite by the Monte Carlo engineer; this module's tests compare the closed forms
with direct matrix recursions, with sympy and with the SPEC check numbers.

Step-size policy: a trained ``A`` may legitimately have eigenvalues outside ``(0, 2/eta)`` -- the
k-step process is well defined for every ``A`` (a < 0 is the concave regime of (Gc)).  Only the
stationary/equilibrium quantities (:func:`ula_stationary_cov`, :func:`equilibrium_mode`,
``t = inf`` in :func:`memory_curve`) require ``spec(A)`` in ``(0, 2/eta)`` and raise otherwise.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import scipy.optimize
import scipy.special
import sympy as sp

from shortrun import conventions as _checks

__all__ = [
    "ula_moments", "langevin_moments", "ula_stationary_cov", "ula_mode_variance",
    "langevin_mode_variance", "fixed_point_mode", "fixed_point_mode_continuous", "lambertw_mode",
    "concave_threshold", "train_fixed_point", "equilibrium_mode", "train_equilibrium",
    "MemoryCurve", "memory_curve", "kl_gauss", "expressions", "ula_moments_sympy",
]

_RTOL = 4 * np.finfo(float).eps  # brentq's smallest admissible relative tolerance


# --------------------------------------------------------------------------- helpers
def _geometric_sum(r, k):
    """:math:`G_k(r) = \\sum_{j<k} r^j = (1-r^k)/(1-r)`, elementwise and stable near r = 1.

    ``k`` may be ``inf`` (then ``1/(1-r)`` for ``r < 1`` and ``inf`` for ``r >= 1``).
    """
    r, k = np.broadcast_arrays(np.asarray(r, dtype=float), np.asarray(k, dtype=float))
    out = np.zeros(r.shape)
    run = k > 0
    neg = run & (r <= 0)  # 1 - r >= 1: the plain formula has no cancellation
    with np.errstate(over="ignore"):
        out[neg] = np.where(r[neg] == 0, 1.0, (1 - r[neg] ** k[neg]) / (1 - r[neg]))
        one = run & (r == 1)
        out[one] = k[one]
        pos = run & (r > 0) & (r != 1)
        d = 1 - r[pos]
        out[pos] = -np.expm1(k[pos] * np.log1p(-d)) / d
    return out


def _eig(A):
    a, V = np.linalg.eigh(A)
    return a, V


def _fn(V, values):
    """V diag(values) V^T."""
    return (V * values) @ V.T


def _step_size(eta, sigma2):
    eta = _checks.positive(eta, "eta")
    sigma2 = 2 * eta if sigma2 is None else _checks.nonnegative(sigma2, "sigma2")
    return eta, sigma2


def _require_stable(a, eta, what, fix="reduce eta or regularise A"):
    bad = (a <= 0) | (a >= 2 / eta)
    if np.any(bad):
        raise ValueError(f"{what} needs spec(A) inside (0, 2/eta) = (0, {2 / eta:.6g}); got eigenvalue(s) "
                         f"{np.asarray(a)[bad]}: no stationary law exists (the k-step law is fine). "
                         f"Fix: {fix}.")


def _scalar_or_array(x):
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------- chain moments
def ula_moments(A, h, mu0, Sigma0, k, eta, sigma2=None):
    """Mean and covariance of the ULA chain after ``k`` steps from p0 = (mu0, Sigma0).

    .. math::
        (Ga)\\quad \\mu_k = M^k\\mu_0 + (I - M^k)A^{-1}h, \\qquad
        \\Sigma_k = M^k\\Sigma_0M^k + \\sigma^2(I - M^{2k})(I - M^2)^{-1}, \\qquad M = I - \\eta A.

    Evaluated in the eigenbasis of ``A`` with :math:`(I-M^k)A^{-1} = \\eta\\sum_{j<k}M^j`, so a
    singular ``A`` (flat direction) and any eigenvalue sign are allowed.

    Parameters
    ----------
    A : (d, d) array_like, symmetric.
    h : (d,) array_like or scalar.
    mu0 : (d,) array_like or scalar (broadcast).
    Sigma0 : (d, d) array_like or scalar ``s0**2`` (meaning ``s0**2 * I``).
    k : int >= 0, number of ULA steps.
    eta : float > 0, step size.
    sigma2 : float >= 0, noise variance per step; default ``2*eta``.

    Returns
    -------
    mu_k : (d,) ndarray
    Sigma_k : (d, d) ndarray (exactly symmetric)
    """
    A = _checks.symmetric_matrix(A, "A")
    d = A.shape[0]
    h = _checks.vector(h, d, "h")
    mu0 = _checks.vector(mu0, d, "mu0")
    Sigma0 = _checks.matrix(Sigma0, d, "Sigma0")
    k = _checks.count(k)
    eta, sigma2 = _step_size(eta, sigma2)
    a, V = _eig(A)
    m = 1 - eta * a
    Mk = _fn(V, m ** k)
    mu = Mk @ mu0 + eta * _fn(V, _geometric_sum(m, k)) @ h
    Sigma = Mk @ Sigma0 @ Mk + sigma2 * _fn(V, _geometric_sum(m * m, k))
    return mu, (Sigma + Sigma.T) / 2


def langevin_moments(A, h, mu0, Sigma0, tau):
    """Mean and covariance of continuous-time Langevin dynamics after time ``tau`` (= k*eta).

    .. math::
        (Gb)\\quad \\mu(\\tau) = e^{-A\\tau}\\mu_0 + (I - e^{-A\\tau})A^{-1}h, \\qquad
        \\Sigma(\\tau) = e^{-A\\tau}\\Sigma_0e^{-A\\tau} + A^{-1}(I - e^{-2A\\tau}).

    The dynamics is :math:`dx = -(Ax - h)\\,dt + \\sqrt{2}\\,dW`, the ``eta -> 0`` limit of ULA with
    ``sigma2 = 2*eta``.  Any symmetric ``A`` is allowed (A^{-1} is never formed).

    Parameters
    ----------
    A, h, mu0, Sigma0 : as in :func:`ula_moments`.
    tau : float >= 0, elapsed time.
    """
    A = _checks.symmetric_matrix(A, "A")
    d = A.shape[0]
    h = _checks.vector(h, d, "h")
    mu0 = _checks.vector(mu0, d, "mu0")
    Sigma0 = _checks.matrix(Sigma0, d, "Sigma0")
    tau = _checks.nonnegative(tau, "tau")
    a, V = _eig(A)
    E = _fn(V, np.exp(-a * tau))
    mu = E @ mu0 + _fn(V, _phi(a, tau)) @ h
    Sigma = E @ Sigma0 @ E + _fn(V, 2 * _phi(2 * a, tau))
    return mu, (Sigma + Sigma.T) / 2


def _phi(a, tau):
    """:math:`(1 - e^{-a\\tau})/a`, equal to ``tau`` at a = 0."""
    a = np.asarray(a, dtype=float)
    out = np.full(a.shape, float(tau))
    nz = a != 0
    out[nz] = -np.expm1(-a[nz] * tau) / a[nz]
    return out


def ula_stationary_cov(A, eta, sigma2):
    """Stationary covariance of ULA, :math:`\\sigma^2[\\eta A(2I - \\eta A)]^{-1}`.

    Raises ``ValueError`` unless every eigenvalue of ``A`` lies in ``(0, 2/eta)``.
    """
    A = _checks.symmetric_matrix(A, "A")
    eta, sigma2 = _step_size(eta, sigma2)
    a, V = _eig(A)
    _require_stable(a, eta, "ula_stationary_cov")
    return _fn(V, sigma2 / (eta * a * (2 - eta * a)))


def ula_mode_variance(a, t, eta, sigma2, s02):
    """Variance of one eigenmode after ``t`` ULA steps from variance ``s02`` (vectorised).

    .. math::
        (Gc)\\quad g_t(a) = r^t s_0^2 + \\sigma^2\\frac{1 - r^t}{1 - r}, \\qquad r = (1 - \\eta a)^2 .

    ``t`` may be ``inf``: the stationary variance :math:`\\sigma^2/(1-r)` (``inf`` if unstable).
    """
    eta, sigma2 = _step_size(eta, sigma2)
    s02 = _checks.nonnegative(s02, "s02")
    a = _checks.finite_array(a, "a")
    t = np.asarray(t, dtype=float)
    if np.any(t < 0):
        raise ValueError(f"t must be >= 0; got {t}.")
    r = (1 - eta * a) ** 2
    r, tt = np.broadcast_arrays(r, t)
    with np.errstate(over="ignore"):
        decay = np.where(np.isinf(tt) & (r < 1), 0.0, r ** np.where(np.isinf(tt) & (r < 1), 1.0, tt))
    start = decay * s02 if s02 > 0 else 0.0  # avoid inf * 0 for unstable modes at t = inf
    return _scalar_or_array(start + sigma2 * _geometric_sum(r, tt))


def langevin_mode_variance(a, tau, s02):
    """Variance of one eigenmode of continuous Langevin (vectorised).

    .. math::
        \\lambda(a) = s_0^2 e^{-2a\\tau} + \\frac{1 - e^{-2a\\tau}}{a}.
    """
    a = _checks.finite_array(a, "a")
    s02 = _checks.nonnegative(s02, "s02")
    tau = _checks.nonnegative(tau, "tau")
    return _scalar_or_array(s02 * np.exp(-2 * a * tau) + 2 * _phi(2 * a, tau))


# --------------------------------------------------------------------------- fixed points
def concave_threshold(k, sigma2, s02):
    """:math:`g_k(0) = s_0^2 + k\\sigma^2`: data variances above it give a trained a < 0 (concave)."""
    return _checks.nonnegative(s02, "s02") + _checks.count(k) * _checks.nonnegative(sigma2, "sigma2")


def fixed_point_mode(lam, k, eta, sigma2, s02, root="physical"):
    """Trained eigenvalue ``a`` of ``A`` for a data variance ``lam`` (k-step ULA, p0 variance s02).

    Solves :math:`g_k(a) = \\lambda` with

    .. math::
        (Gc)\\quad g_k(a) = r^k s_0^2 + \\sigma^2\\frac{1 - r^k}{1 - r}, \\qquad r = (1-\\eta a)^2 .

    :math:`g_k` decreases on :math:`(-\\infty, 1/\\eta]` from :math:`+\\infty` to :math:`\\sigma^2`,
    so for :math:`\\lambda > \\sigma^2` there is one *physical* root :math:`a \\le 1/\\eta`; the
    *mirror* root :math:`2/\\eta - a` gives the same :math:`\\Sigma_k` (the fixed point is not
    unique).  The physical root is negative (concave energy, p_theta not normalisable, yet the k-step
    law matches the data) iff :math:`\\lambda > s_0^2 + k\\sigma^2` (:func:`concave_threshold`).

    Parameters
    ----------
    lam : float or array, data variance(s); each must exceed ``sigma2``.
    k : int >= 1.
    eta, sigma2 : step size and per-step noise variance.
    s02 : float >= 0, variance of p0 in every direction.
    root : ``'physical'`` (default) or ``'mirror'``.

    Raises
    ------
    ValueError
        if ``lam <= sigma2`` (no k-step law has so small a variance: no fixed point exists).
    """
    if root not in ("physical", "mirror"):
        raise ValueError(f"root must be 'physical' or 'mirror'; got {root!r}.")
    k = _checks.count(k, minimum=1)
    eta, sigma2 = _step_size(eta, sigma2)
    s02 = _checks.nonnegative(s02, "s02")
    lams = _checks.finite_array(lam, "lam")
    out = np.array([_physical_root(float(x), k, eta, sigma2, s02) for x in lams.ravel()]).reshape(lams.shape)
    if root == "mirror":
        out = 2 / eta - out
    return _scalar_or_array(out)


def _physical_root(lam, k, eta, sigma2, s02):
    """Root in u = 1 - eta*a >= 0 of G(u) = u^(2k) s02 + sigma2 sum_{j<k} u^(2j) = lam (increasing)."""
    if lam == sigma2:
        return 1 / eta
    if lam < sigma2:
        raise ValueError(f"lam = {lam!r} must exceed sigma2 = {sigma2!r}: one noisy step already has "
                         "variance sigma2, so no k-step fixed point exists. Use a larger data variance "
                         "or a smaller sigma2.")
    if s02 == 0 and (k == 1 or sigma2 == 0):
        raise ValueError("s02 = 0 with k = 1 (or sigma2 = 0) makes Sigma_k independent of A: no fixed "
                         "point. Use s02 > 0 or k >= 2.")
    bounds = [1.0]
    if s02 > 0:
        bounds.append((lam / s02) ** (1 / (2 * k)))
    if k >= 2 and sigma2 > 0:
        bounds.append((lam / sigma2) ** (1 / (2 * (k - 1))))
    upper = max(bounds[0], min(bounds[1:]))

    def G(u):
        return u ** (2 * k) * s02 + sigma2 * float(_geometric_sum(u * u, k)) - lam

    u = scipy.optimize.brentq(G, 0.0, upper, xtol=1e-300, rtol=_RTOL, maxiter=500)
    return (1 - u) / eta


def fixed_point_mode_continuous(lam, tau, s02):
    """Trained eigenvalue for continuous Langevin run for time ``tau`` (unique root on the real line).

    .. math::
        \\lambda = s_0^2 e^{-2a\\tau} + \\frac{1 - e^{-2a\\tau}}{a},

    decreasing in ``a`` from :math:`+\\infty` to 0; :math:`a < 0` iff :math:`\\lambda > s_0^2 + 2\\tau`.
    """
    tau = _checks.positive(tau, "tau")
    s02 = _checks.nonnegative(s02, "s02")
    lams = _checks.finite_array(lam, "lam")
    if np.any(lams <= 0):
        raise ValueError(f"lam must be > 0 (a variance); got {lam!r}.")

    def F(x, lam):  # x = 2 a tau
        return s02 * np.exp(-x) + 2 * tau * (1.0 if x == 0 else -np.expm1(-x) / x) - lam

    roots = []
    for lam_i in lams.ravel():
        lo, hi = -1.0, 1.0
        while F(lo, lam_i) < 0:
            lo *= 2
        while F(hi, lam_i) > 0:
            hi *= 2
        x = scipy.optimize.brentq(F, lo, hi, args=(float(lam_i),), xtol=1e-300, rtol=_RTOL, maxiter=500)
        roots.append(x / (2 * tau))
    return _scalar_or_array(np.reshape(roots, lams.shape))


def lambertw_mode(lam, tau):
    """Closed form of :func:`fixed_point_mode_continuous` for ``s02 = 0`` (p0 a point mass).

    .. math::
        a^* = \\frac{u}{2\\tau}, \\quad u = c + W(-c\\,e^{-c}), \\quad c = \\frac{2\\tau}{\\lambda},

    with the branch :math:`W_0` if :math:`c > 1` and :math:`W_{-1}` if :math:`c < 1` (the other
    branch returns the spurious root u = 0); :math:`c = 1` gives :math:`a^* = 0` (pure diffusion).
    Accuracy degrades like ``sqrt(eps)`` within ``|c - 1| < 1e-6`` where both branches meet.
    """
    tau = _checks.positive(tau, "tau")
    lams = _checks.finite_array(lam, "lam")
    if np.any(lams <= 0):
        raise ValueError(f"lam must be > 0 (a variance); got {lam!r}.")
    c = 2 * tau / lams
    w0 = scipy.special.lambertw(-c * np.exp(-c), k=0).real
    wm1 = scipy.special.lambertw(-c * np.exp(-c), k=-1).real
    u = np.where(c > 1, c + w0, np.where(c < 1, c + wm1, 0.0))
    return _scalar_or_array(u / (2 * tau))


def _field(a, V, mu_D, mu0, k, eta):
    """(Gd) h = A (I - M^k)^{-1} (mu_D - M^k mu0) = (eta G_k(M))^{-1}(mu_D - M^k mu0)."""
    m = 1 - eta * a
    G = _geometric_sum(m, k)
    if np.any(G == 0):
        raise ValueError("I - M^k is singular (an eigenvalue eta*a = 2 with even k): the mean cannot be "
                         "matched. Use the physical root or an odd k.")
    return _fn(V, 1 / (eta * G)) @ (mu_D - _fn(V, m ** k) @ mu0)


def train_fixed_point(C_D, mu_D, k, eta, sigma2, s02, mu0=0.0, root="physical"):
    """Parameters (A, h) to which k-step ULA training from p0 = N(mu0, s02 I) converges.

    ``A`` shares the eigenvectors of ``C_D``; each eigenvalue solves (Gc) (:func:`fixed_point_mode`)
    and the field follows from

    .. math::
        (Gd)\\quad h = A (I - M^k)^{-1}(\\mu_D - M^k\\mu_0).

    By construction :func:`ula_moments` ``(A, h, mu0, s02, k, eta, sigma2)`` returns
    ``(mu_D, C_D)``.  ``A`` may have negative eigenvalues (concave directions).

    Parameters
    ----------
    C_D : (d, d) symmetric positive-definite data covariance (eigenvalues must exceed ``sigma2``).
    mu_D : (d,) data mean or scalar.
    k, eta, sigma2, s02, root : as in :func:`fixed_point_mode`.
    mu0 : (d,) or scalar, mean of p0.
    """
    C_D = _checks.spd_matrix(C_D, "C_D")
    d = C_D.shape[0]
    mu_D = _checks.vector(mu_D, d, "mu_D")
    mu0 = _checks.vector(mu0, d, "mu0")
    eta, sigma2 = _step_size(eta, sigma2)
    lam, V = _eig(C_D)
    a = np.atleast_1d(fixed_point_mode(lam, k, eta, sigma2, s02, root=root))
    A = _fn(V, a)
    return (A + A.T) / 2, _field(a, V, mu_D, mu0, k, eta)


# --------------------------------------------------------------------------- equilibrium training
def equilibrium_mode(lam, eta, sigma2):
    """Eigenvalue learned by equilibrium (maximum-likelihood) training against the ULA stationary law.

    .. math::
        \\eta a_{eq} = 1 - \\sqrt{1 - \\sigma^2/\\lambda}

    (the root in ``(0, 1/eta]`` of :math:`\\sigma^2/(1 - (1-\\eta a)^2) = \\lambda`).  Compared with
    (Gc): :math:`a(k) < a_{eq}` if :math:`\\lambda > s_0^2`, :math:`a(k) > a_{eq}` if
    :math:`\\lambda < s_0^2`, equal for every k if :math:`\\lambda = s_0^2`.
    """
    eta, sigma2 = _step_size(eta, sigma2)
    lams = _checks.finite_array(lam, "lam")
    if np.any(lams < sigma2) or sigma2 == 0:
        raise ValueError(f"equilibrium_mode needs lam >= sigma2 > 0 (sigma2 = {sigma2!r}, lam = {lam!r}): "
                         "the stationary ULA variance is at least sigma2. Use a smaller sigma2.")
    return _scalar_or_array((1 - np.sqrt(1 - sigma2 / lams)) / eta)


def train_equilibrium(C_D, mu_D, eta, sigma2):
    """Equilibrium-trained (A, h): ULA's stationary law N(A^{-1}h, ula_stationary_cov) equals the data."""
    C_D = _checks.spd_matrix(C_D, "C_D")
    mu_D = _checks.vector(mu_D, C_D.shape[0], "mu_D")
    lam, V = _eig(C_D)
    A = _fn(V, np.atleast_1d(equilibrium_mode(lam, eta, sigma2)))
    A = (A + A.T) / 2
    return A, A @ mu_D


# --------------------------------------------------------------------------- memory effect
class MemoryCurve(NamedTuple):
    """Law of the trained chain N(mu[i], Sigma[i]) at times t[i] and KL(t) to the data."""
    t: np.ndarray
    mu: np.ndarray      # (len(t), d)
    Sigma: np.ndarray   # (len(t), d, d)
    kl: np.ndarray      # KL(N(mu_t, Sigma_t) || N(mu_D, C_D))
    A: np.ndarray
    h: np.ndarray


def memory_curve(C_D, mu_D, k, t, eta, sigma2, s02, mu0=0.0, root="physical"):
    """Sample the k-step-trained model for ``t`` steps from the same p0: the memory effect.

    With (A, h) = :func:`train_fixed_point`, the law at time t is (Ga) with k -> t.  Per eigenmode
    :math:`\\Sigma_t = g_t(a(k))`, which crosses the data variance exactly once, at t = k, and
    :math:`KL(N(\\mu_t,\\Sigma_t)\\,\\|\\,N(\\mu_D, C_D))` vanishes exactly there.

    Parameters
    ----------
    t : int or sequence of ints >= 0; ``np.inf`` means the stationary law (requires every trained
        eigenvalue in ``(0, 2/eta)``, else ``ValueError``: a concave direction has no stationary law).
    Other parameters as in :func:`train_fixed_point`.

    Notes
    -----
    Time is counted in discrete ULA steps.  SPEC check (k = 20, lam = 1, s02 = 1/3, with the
    eta = 0.05, sigma2 = 0.1 of the k = 7 check): :math:`\\Sigma_t/\\lambda` = 0.33, 0.63, 0.81,
    1.00, 1.10, 1.12 at t = 0, 5, 10, 20, 40, inf.  (Continuous Langevin with tau = t*eta would give
    0.33, 0.62, 0.80, 1.00, 1.12, 1.14: the SPEC's numbers are the discrete ones.)
    """
    A, h = train_fixed_point(C_D, mu_D, k, eta, sigma2, s02, mu0, root=root)
    C_D = _checks.spd_matrix(C_D, "C_D")
    mu_D = _checks.vector(mu_D, A.shape[0], "mu_D")
    ts = np.atleast_1d(np.asarray(t, dtype=float))
    mus, Sigmas, kls = [], [], []
    for ti in ts:
        if np.isinf(ti) and ti > 0:
            a = np.linalg.eigvalsh(A)
            _require_stable(a, eta, "memory_curve at t = inf",
                            "drop t = inf, or train with a larger k (concave modes need lam > s02 + k*sigma2)")
            mu_t, Sigma_t = np.linalg.solve(A, h), ula_stationary_cov(A, eta, sigma2)
        else:
            if ti != int(ti) or ti < 0:
                raise ValueError(f"t must hold integers >= 0 or inf; got {ti!r}.")
            mu_t, Sigma_t = ula_moments(A, h, mu0, s02, int(ti), eta, sigma2)
        mus.append(mu_t)
        Sigmas.append(Sigma_t)
        kls.append(kl_gauss(mu_t, Sigma_t, mu_D, C_D) if _is_spd(Sigma_t) else np.inf)
    return MemoryCurve(ts, np.array(mus), np.array(Sigmas), np.array(kls), A, h)


def _is_spd(S):
    try:
        np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        return False
    return True


def kl_gauss(mu1, S1, mu2, S2):
    """Kullback-Leibler divergence KL(N(mu1, S1) || N(mu2, S2)).

    .. math::
        \\tfrac12\\left[\\operatorname{tr}(S_2^{-1}S_1) + (\\mu_2-\\mu_1)^T S_2^{-1}(\\mu_2-\\mu_1)
        - d + \\ln\\det S_2 - \\ln\\det S_1\\right].
    """
    S1 = _checks.spd_matrix(S1, "S1")
    S2 = _checks.spd_matrix(S2, "S2")
    d = S1.shape[0]
    if S2.shape != S1.shape:
        raise ValueError(f"S1 and S2 must have the same shape; got {S1.shape} and {S2.shape}.")
    diff = _checks.vector(mu2, d, "mu2") - _checks.vector(mu1, d, "mu1")
    L2 = np.linalg.cholesky(S2)
    Y = np.linalg.solve(L2, np.linalg.cholesky(S1))
    z = np.linalg.solve(L2, diff)
    logdet_ratio = 2 * (np.sum(np.log(np.diag(L2))) - np.sum(np.log(np.diag(np.linalg.cholesky(S1)))))
    return float(0.5 * (np.sum(Y * Y) + z @ z - d + logdet_ratio))


# --------------------------------------------------------------------------- sympy twins
SYMBOLS = {name: sp.Symbol(name, real=True) for name in ("a", "eta", "sigma2", "s02", "mu0", "mu_D", "h", "lam")}
SYMBOLS["k"] = sp.Symbol("k", integer=True, nonnegative=True)
SYMBOLS["tau"] = sp.Symbol("tau", positive=True)


@functools.lru_cache(maxsize=None)
def expressions() -> dict:
    """Per-eigenmode closed forms as sympy expressions in :data:`SYMBOLS`.

    Keys: ``'ula_mean'``, ``'ula_var'`` (Ga); ``'langevin_mean'``, ``'langevin_var'`` (Gb);
    ``'g_k'`` (Gc, the function whose root is the trained eigenvalue); ``'field'`` (Gd);
    ``'a_eq'`` (equilibrium training); ``'continuous_var'`` and ``'lambertw_root'`` (continuous
    fixed point; the latter with the branch left symbolic as ``LambertW(z, branch)``, see
    :func:`lambertw_mode`); ``'concave_threshold'``.
    """
    a, eta, sigma2, s02, mu0, mu_D, h, lam, k, tau = (SYMBOLS[n] for n in
                                                      ("a", "eta", "sigma2", "s02", "mu0", "mu_D", "h",
                                                       "lam", "k", "tau"))
    m = 1 - eta * a
    r = m ** 2
    g_k = r ** k * s02 + sigma2 * (1 - r ** k) / (1 - r)
    c = 2 * tau / lam
    branch = sp.Symbol("branch", integer=True)
    return {
        "ula_mean": m ** k * mu0 + (1 - m ** k) * h / a,
        "ula_var": g_k,
        "langevin_mean": sp.exp(-a * tau) * mu0 + (1 - sp.exp(-a * tau)) * h / a,
        "langevin_var": sp.exp(-2 * a * tau) * s02 + (1 - sp.exp(-2 * a * tau)) / a,
        "g_k": g_k,
        "field": a * (mu_D - m ** k * mu0) / (1 - m ** k),
        "a_eq": (1 - sp.sqrt(1 - sigma2 / lam)) / eta,
        "continuous_var": s02 * sp.exp(-2 * a * tau) + (1 - sp.exp(-2 * a * tau)) / a,
        "lambertw_root": (c + sp.LambertW(-c * sp.exp(-c), branch)) / (2 * tau),
        "concave_threshold": s02 + k * sigma2,
    }


def ula_moments_sympy(A, h, mu0, Sigma0, k, eta, sigma2):
    """(Ga) evaluated literally on sympy matrices (exact for rational input).

    .. math::
        \\mu_k = M^k\\mu_0 + (I - M^k)A^{-1}h, \\quad
        \\Sigma_k = M^k\\Sigma_0M^k + \\sigma^2(I - M^{2k})(I - M^2)^{-1}.

    ``A`` must be invertible and ``I - M^2`` too (a literal transcription for checking the numpy
    version, :func:`ula_moments`).
    """
    A, h, mu0, Sigma0 = (sp.Matrix(x) for x in (A, h, mu0, Sigma0))
    eye = sp.eye(A.shape[0])
    M = eye - sp.nsimplify(eta) * A
    Mk = M ** int(k)
    mu = Mk * mu0 + (eye - Mk) * A.inv() * h
    Sigma = Mk * Sigma0 * Mk + sp.nsimplify(sigma2) * (eye - Mk * Mk) * (eye - M * M).inv()
    return mu, Sigma
