"""Solvable model 1: a Gaussian EBM trained with short-run Langevin chains (docs/theory.md, Ga-Gm).

Energy :math:`E(x) = \\tfrac12 x^T A x - h^T x` with ``A`` symmetric.  The unadjusted Langevin
algorithm (ULA) with step ``eta`` and noise variance ``sigma2`` is
:math:`x_{k+1} = M x_k + \\eta h + \\sigma\\xi`, :math:`M = I - \\eta A`.  In every function of
this module ``sigma2`` is optional and defaults to ``2*eta`` (standard Langevin).  Only the mean
``mu0`` and covariance ``Sigma0`` of p0 matter, and the law stays Gaussian, so every quantity
below is a closed form in the eigenbasis of ``A``.  Steps are ``k`` (integers), continuous
Langevin time is ``t``.

Contents
--------
- moments of the chain: :func:`ula_moments` (Ga), :func:`langevin_moments` (Gb),
  :func:`ula_stationary_cov`, per-mode :func:`ula_mode_variance`, :func:`langevin_mode_variance`;
- the trained fixed point: :func:`fixed_point_mode` (Gc, physical/mirror roots),
  :func:`fixed_point_mode_continuous`, :func:`lambertw_mode` (Ge), :func:`concave_threshold`,
  :func:`train_fixed_point` (Gc)+(Gd);
- equilibrium training: :func:`equilibrium_mode`, :func:`train_equilibrium`;
- the memory effect (Gm): :func:`memory_curve`, :func:`kl_gauss`;
- sympy twins: :func:`expressions` (per-mode formulas), :func:`ula_moments_sympy` (matrix (Ga)).

Step-size policy.  A step with ``eta * a >= 2`` for an eigenvalue ``a`` of ``A`` makes the
discretised chain overshoot (one step multiplies the deviation by ``1 - eta*a <= -1``); every
function refuses it with a ``ValueError`` naming ``eta``.  Negative eigenvalues (a concave
energy, the concave regime of (Gc)) are a property of the model and are allowed for a finite
number of steps; the stationary quantities (:func:`ula_stationary_cov`, :func:`equilibrium_mode`,
``times = inf`` in :func:`memory_curve`) need ``spec(A)`` in ``(0, 2/eta)`` and raise otherwise.
A result that would overflow float64 (a concave direction run for very many steps) raises a
``ValueError`` naming the number of steps instead of returning inf or NaN.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.special
import sympy as sp

from shortrun import conventions

__all__ = [
    "ula_moments", "langevin_moments", "ula_stationary_cov", "ula_mode_variance",
    "langevin_mode_variance", "fixed_point_mode", "fixed_point_mode_continuous", "lambertw_mode",
    "concave_threshold", "train_fixed_point", "equilibrium_mode", "train_equilibrium",
    "MemoryCurve", "memory_curve", "kl_gauss", "expressions", "ula_moments_sympy", "SYMBOLS",
]

_RTOL = 4 * np.finfo(float).eps  # brentq's smallest admissible relative tolerance
_ROOTS = ("physical", "mirror")


# --------------------------------------------------------------------------- helpers
def _geometric_sum(r, k):
    """:math:`G_k(r) = \\sum_{j<k} r^j = (1-r^k)/(1-r)`, elementwise and stable near r = 1.

    ``k`` may be ``inf`` (then ``1/(1-r)`` for ``r < 1`` and ``inf`` for ``r >= 1``).
    """
    r, k = np.broadcast_arrays(np.asarray(r, dtype=float), np.asarray(k, dtype=float))
    out = np.zeros(r.shape)
    run = k > 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        neg = run & (r <= 0)  # 1 - r >= 1: the plain formula has no cancellation
        out[neg] = np.where(r[neg] == 0, 1.0, (1 - r[neg] ** k[neg]) / (1 - r[neg]))
        one = run & (r == 1)
        out[one] = k[one]
        pos = run & (r > 0) & (r != 1)
        d = 1 - r[pos]
        out[pos] = -np.expm1(k[pos] * np.log1p(-d)) / d
    return out


def _eig(A, name="A"):
    a, V = np.linalg.eigh(A)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(V))):  # pragma: no cover - LAPACK scales
        raise ValueError(f"{name} could not be diagonalised in float64; rescale it.")
    return a, V


def _fn(V, values):
    """V diag(values) V^T."""
    return (V * values) @ V.T


def _step_size(eta, sigma2):
    eta = conventions.check_positive(eta, "eta", "pass a positive Langevin step size.")
    if sigma2 is None and not np.isfinite(2 * eta):
        raise ValueError(f"eta={eta!r}: the default noise variance sigma2 = 2*eta overflows float64; "
                         "pass a smaller eta.")
    sigma2 = 2 * eta if sigma2 is None else conventions.check_nonnegative(
        sigma2, "sigma2", "pass a noise variance >= 0 (default 2*eta, standard Langevin).")
    return eta, sigma2


def _steps(k, minimum=0, name="k"):
    k = conventions.check_steps(k, name)
    if k < minimum:
        raise ValueError(f"{name}={k!r}: no fixed point exists after {k} steps (the k-step law is "
                         f"then p0 whatever A); pass {name} >= {minimum}.")
    return k


def _finite_result(arrays, name, why, inputs):
    """Raise a ValueError naming ``name`` and the other ``inputs`` if any array is not finite."""
    if not all(np.all(np.isfinite(x)) for x in arrays):
        raise ValueError(f"{name}: the result exceeds the float64 range (with these {inputs}); {why}")


def _overflow_reason(a, eta, k):
    if np.size(a) == 0:
        return "rescale the inputs."
    lo = float(np.min(a))
    m = abs(1 - eta * lo)
    if lo < 0 and np.isfinite(k):
        return (f"along the eigenvalue a = {lo:.6g} of A (a concave direction) the moments grow like "
                f"(1 - eta*a)^(2k) = 10^{2 * k * np.log10(m):.4g}; use fewer steps.")
    return "rescale the inputs."


def _require_stationary(a, eta, what, fix="reduce eta or regularise A"):
    conventions.check_ula_step(a, eta)
    bad = a <= 0
    if np.any(bad):
        raise ValueError(f"A: {what} needs spec(A) inside (0, 2/eta) = (0, {2 / eta:.6g}); got "
                         f"eigenvalue(s) {np.asarray(a)[bad]}: no stationary law exists (the k-step "
                         f"law is fine). Fix: {fix}.")


def _scalar_or_array(x):
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


def _model(A, h, mu0, Sigma0):
    A = conventions.symmetric_matrix(A, "A")
    d = A.shape[0]
    return (A, conventions.vector(h, d, "h", like="A"), conventions.vector(mu0, d, "mu0", like="A"),
            conventions.covariance(Sigma0, d, "Sigma0", like="A"))


# --------------------------------------------------------------------------- chain moments
def _ula(a, V, h, mu0, Sigma0, k, eta, sigma2):
    """(Ga) in the eigenbasis; may contain inf/NaN on overflow (callers check)."""
    m = 1 - eta * a
    with np.errstate(all="ignore"):
        Mk = _fn(V, m ** float(k))
        mu = Mk @ mu0 + eta * _fn(V, _geometric_sum(m, k)) @ h
        Sigma = Mk @ Sigma0 @ Mk + sigma2 * _fn(V, _geometric_sum(m * m, k))
        Sigma = (Sigma + Sigma.T) / 2
    return mu, Sigma


def ula_moments(A, h, mu0, Sigma0, k, eta, sigma2=None):
    """Mean and covariance of the ULA chain after ``k`` steps from p0 = (mu0, Sigma0).

    .. math::
        (Ga)\\quad \\mu_k = M^k\\mu_0 + (I - M^k)A^{-1}h, \\qquad
        \\Sigma_k = M^k\\Sigma_0M^k + \\sigma^2(I - M^{2k})(I - M^2)^{-1}, \\qquad M = I - \\eta A.

    Evaluated in the eigenbasis of ``A`` with :math:`(I-M^k)A^{-1} = \\eta\\sum_{j<k}M^j`, so a
    singular ``A`` (flat direction) and negative eigenvalues (concave directions) are allowed.

    Parameters
    ----------
    A : (d, d) array_like, symmetric, with ``eta * a < 2`` for every eigenvalue a.
    h : (d,) array_like or scalar.
    mu0 : (d,) array_like or scalar (broadcast).
    Sigma0 : (d, d) symmetric positive semi-definite array_like, or a scalar ``s0**2 >= 0``
        (meaning ``s0**2 * I``).
    k : int >= 0, number of ULA steps.
    eta : float > 0, step size.
    sigma2 : float >= 0, noise variance per step; default ``2*eta``.

    Returns
    -------
    mu_k : (d,) ndarray
    Sigma_k : (d, d) ndarray (exactly symmetric)
    """
    A, h, mu0, Sigma0 = _model(A, h, mu0, Sigma0)
    k = conventions.check_steps(k, "k")
    eta, sigma2 = _step_size(eta, sigma2)
    a, V = _eig(A)
    conventions.check_ula_step(a, eta)
    mu, Sigma = _ula(a, V, h, mu0, Sigma0, k, eta, sigma2)
    _finite_result((mu, Sigma), f"k={k}", _overflow_reason(a, eta, k), "A, h, mu0, Sigma0, eta, sigma2")
    return mu, Sigma


def _phi(a, t):
    """:math:`(1 - e^{-at})/a`, equal to ``t`` at a = 0."""
    a = np.asarray(a, dtype=float)
    out = np.full(a.shape, float(t))
    nz = a != 0
    with np.errstate(over="ignore"):
        out[nz] = -np.expm1(-a[nz] * t) / a[nz]
    return out


def langevin_moments(A, h, mu0, Sigma0, t):
    """Mean and covariance of continuous-time Langevin dynamics after time ``t`` (= k*eta).

    .. math::
        (Gb)\\quad \\mu(t) = e^{-At}\\mu_0 + (I - e^{-At})A^{-1}h, \\qquad
        \\Sigma(t) = e^{-At}\\Sigma_0e^{-At} + A^{-1}(I - e^{-2At}).

    The dynamics is :math:`dx = -(Ax - h)\\,dt + \\sqrt{2}\\,dW`, the ``eta -> 0`` limit of ULA with
    ``sigma2 = 2*eta``.  Any symmetric ``A`` is allowed (A^{-1} is never formed).

    Parameters
    ----------
    A, h, mu0, Sigma0 : as in :func:`ula_moments`.
    t : float >= 0, elapsed time.
    """
    A, h, mu0, Sigma0 = _model(A, h, mu0, Sigma0)
    t = conventions.check_steps(t, "t", integer=False)
    a, V = _eig(A)
    with np.errstate(all="ignore"):
        E = _fn(V, np.exp(-a * t))
        mu = E @ mu0 + _fn(V, _phi(a, t)) @ h
        Sigma = E @ Sigma0 @ E + _fn(V, 2 * _phi(2 * a, t))
        Sigma = (Sigma + Sigma.T) / 2
    lo = float(np.min(a))
    _finite_result((mu, Sigma), f"t={t!r}",
                   f"along the eigenvalue a = {lo:.6g} of A the moments grow like e^(-2at); "
                   "use a shorter time." if lo < 0 else "rescale the inputs.", "A, h, mu0, Sigma0")
    return mu, Sigma


def ula_stationary_cov(A, eta, sigma2=None):
    """Stationary covariance of ULA, :math:`\\sigma^2[\\eta A(2I - \\eta A)]^{-1}` (Ga, k -> inf).

    Raises ``ValueError`` unless every eigenvalue of ``A`` lies in ``(0, 2/eta)``.
    """
    A = conventions.symmetric_matrix(A, "A")
    eta, sigma2 = _step_size(eta, sigma2)
    a, V = _eig(A)
    _require_stationary(a, eta, "ula_stationary_cov")
    with np.errstate(all="ignore"):
        S = _fn(V, sigma2 / (eta * a * (2 - eta * a)))
    _finite_result((S,), "A", "its smallest eigenvalue is too close to 0; regularise A.", "eta, sigma2")
    return S


def ula_mode_variance(a, k, eta, s02, *, sigma2=None):
    """Variance of one eigenmode after ``k`` ULA steps from variance ``s02`` (vectorised).

    .. math::
        (Gc)\\quad g_k(a) = r^k s_0^2 + \\sigma^2\\frac{1 - r^k}{1 - r}, \\qquad r = (1 - \\eta a)^2 .

    ``k`` (integers >= 0, broadcast against ``a``) may hold ``inf``: the stationary variance
    :math:`\\sigma^2/(1-r)`, which exists only for ``a`` in ``(0, 2/eta)`` (ValueError otherwise).
    """
    eta, sigma2 = _step_size(eta, sigma2)
    s02 = conventions.check_nonnegative(s02, "s02", "a variance is >= 0.")
    a = conventions.finite_array(a, "a")
    conventions.check_ula_step(a, eta)
    k = conventions.check_real(k, "k")
    if np.any(np.isnan(k)) or np.any(k < 0) or np.any(np.isfinite(k) & (k != np.round(k))):
        raise ValueError(f"k must hold integers >= 0 (or inf for the stationary variance); got {k}.")
    a, k = conventions.check_broadcast(a, k, ("a", "k"))
    if np.any(np.isinf(k) & (a <= 0)):
        raise ValueError(f"k = inf (the stationary variance) needs every eigenvalue a in (0, 2/eta); "
                         f"got a = {a[np.isinf(k) & (a <= 0)]}: no stationary law. Pass finite k.")
    with np.errstate(all="ignore"):
        r = (1 - eta * a) ** 2
        decay = np.where(np.isinf(k), 0.0, r ** np.where(np.isinf(k), 1.0, k))
        out = decay * s02 + sigma2 * _geometric_sum(r, k)
    _finite_result((out,), "k", _overflow_reason(a, eta, float(np.max(k, initial=0))),
                   "a, eta, sigma2, s02")
    return _scalar_or_array(out)


def langevin_mode_variance(a, t, s02):
    """Variance of one eigenmode of continuous Langevin after time ``t`` (vectorised in ``a``).

    .. math::
        (Gb)\\quad \\lambda(a) = s_0^2 e^{-2at} + \\frac{1 - e^{-2at}}{a}.
    """
    a = conventions.finite_array(a, "a")
    s02 = conventions.check_nonnegative(s02, "s02", "a variance is >= 0.")
    t = conventions.check_steps(t, "t", integer=False)
    with np.errstate(all="ignore"):
        out = s02 * np.exp(-2 * a * t) + 2 * _phi(2 * a, t)
    _finite_result((out,), f"t={t!r}", "a negative eigenvalue a grows like e^(-2at); use a "
                                       "shorter time.", "a, s02")
    return _scalar_or_array(out)


# --------------------------------------------------------------------------- fixed points
def concave_threshold(k, s02, *, eta=None, sigma2=None):
    """:math:`g_k(0) = s_0^2 + k\\sigma^2`: data variances above it give a trained a < 0 (Gc).

    Pass ``eta`` (then ``sigma2 = 2*eta``) or ``sigma2``.
    """
    k = conventions.check_steps(k, "k")
    s02 = conventions.check_nonnegative(s02, "s02", "a variance is >= 0.")
    if eta is None and sigma2 is None:
        raise ValueError("sigma2 is needed: pass eta (sigma2 = 2*eta, standard Langevin) or sigma2.")
    if sigma2 is None:
        sigma2 = _step_size(eta, None)[1]
    else:
        sigma2 = conventions.check_nonnegative(sigma2, "sigma2", "pass a noise variance >= 0.")
    out = s02 + k * sigma2
    _finite_result((out,), "k", "k * sigma2 is beyond float64.", "s02, sigma2, eta")
    return out


def fixed_point_mode(lam, k, eta, s02, *, sigma2=None, root="physical"):
    """Trained eigenvalue ``a`` of ``A`` for a data variance ``lam`` (k-step ULA, p0 variance s02).

    Solves :math:`g_k(a) = \\lambda` with

    .. math::
        (Gc)\\quad g_k(a) = r^k s_0^2 + \\sigma^2\\frac{1 - r^k}{1 - r}, \\qquad r = (1-\\eta a)^2 .

    :math:`g_k` decreases on :math:`(-\\infty, 1/\\eta]` from :math:`+\\infty` to :math:`\\sigma^2`,
    so for :math:`\\lambda > \\sigma^2` there is one *physical* root :math:`a \\le 1/\\eta`; the
    *mirror* root :math:`2/\\eta - a` gives the same :math:`\\Sigma_k` (the fixed point is not
    unique).  The physical root is negative (concave energy, p_theta not normalisable, yet the k-step
    law matches the data) iff :math:`\\lambda > s_0^2 + k\\sigma^2` (:func:`concave_threshold`);
    its mirror then has ``eta * a >= 2`` (an unstable step) and is refused.

    Parameters
    ----------
    lam : float or array, data variance(s); each must exceed ``sigma2``.
    k : int >= 1.
    eta : step size.
    s02 : float >= 0, variance of p0 in every direction.
    sigma2 : per-step noise variance, default ``2*eta``.
    root : ``'physical'`` (default) or ``'mirror'``.

    Raises
    ------
    ValueError
        if ``lam <= sigma2`` (no k-step law has so small a variance: no fixed point exists).
    """
    root = conventions.check_choice(root, _ROOTS, "root")
    k = _steps(k, minimum=1)
    eta, sigma2 = _step_size(eta, sigma2)
    s02 = conventions.check_nonnegative(s02, "s02", "a variance is >= 0.")
    lams = conventions.finite_array(lam, "lam")
    out = np.array([_physical_root(float(x), k, eta, sigma2, s02) for x in lams.ravel()]).reshape(lams.shape)
    if root == "mirror":
        if np.any(out <= 0):
            raise ValueError(f"root='mirror': the physical root a = {out[out <= 0]} is <= 0 (lam >= s02 + "
                             "k*sigma2), so its mirror 2/eta - a has eta*a >= 2, an unstable Langevin "
                             "step. Use root='physical'.")
        out = 2 / eta - out
    _finite_result((out,), "eta", f"the trained eigenvalue (1 - u)/eta overflows for eta={eta!r}; use a "
                                  "larger step or a smaller lam.", "lam, s02, sigma2")
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
    log_bounds = []  # log u at which one term alone reaches lam: the root lies below each
    if s02 > 0:
        log_bounds.append((np.log(lam) - np.log(s02)) / (2 * k))
    if k >= 2 and sigma2 > 0:
        log_bounds.append((np.log(lam) - np.log(sigma2)) / (2 * (k - 1)))
    if min(log_bounds) > 700:
        raise ValueError(f"lam = {lam!r} is too large for s02 = {s02!r}, sigma2 = {sigma2!r}: the trained "
                         "eigenvalue is beyond the float64 range. Rescale the data.")
    upper = max(1.0, 1.01 * float(np.exp(min(log_bounds))))  # 1%: G(upper) > 0 despite rounding

    def G(u):
        u = np.float64(u)  # numpy powers: overflow gives inf (a positive G), never an exception
        with np.errstate(over="ignore", invalid="ignore"):
            return float(u ** (2 * k) * s02 + sigma2 * float(_geometric_sum(u * u, k)) - lam)

    u = scipy.optimize.brentq(G, 0.0, upper, xtol=1e-300, rtol=_RTOL, maxiter=500)
    return (1 - u) / eta


def _log_mode_variance(x, t, s02):
    """log of s02 e^{-x} + 2t (1 - e^{-x})/x (the (Gb) mode variance at x = 2at), without overflow."""
    if x >= 0:
        phi = 1.0 if x == 0 else -np.expm1(-x) / x
        return float(np.log(s02 * np.exp(-x) + 2 * t * phi))
    y = -x
    return float(y + np.log(s02 + 2 * t * (-np.expm1(-y)) / y))


def fixed_point_mode_continuous(lam, t, s02):
    """Trained eigenvalue for continuous Langevin run for time ``t`` (unique root on the real line).

    .. math::
        (Gb)\\quad \\lambda = s_0^2 e^{-2at} + \\frac{1 - e^{-2at}}{a},

    decreasing in ``a`` from :math:`+\\infty` to 0; :math:`a < 0` iff :math:`\\lambda > s_0^2 + 2t`.
    Solved for x = 2at in log space, so no intermediate overflows.
    """
    t = conventions.check_positive(t, "t", "no fixed point exists at t = 0 (the law is p0).")
    s02 = conventions.check_nonnegative(s02, "s02", "a variance is >= 0.")
    lams = conventions.finite_array(lam, "lam")
    if np.any(lams <= 0):
        raise ValueError(f"lam must be > 0 (a variance); got {lam!r}.")

    def F(x, log_lam):
        return _log_mode_variance(x, t, s02) - log_lam

    roots = []
    for lam_i in lams.ravel():
        log_lam = float(np.log(lam_i))
        lo, hi = -1.0, 1.0
        while F(lo, log_lam) < 0:
            lo *= 2
        while F(hi, log_lam) > 0:
            hi *= 2
            if hi > 1e300:
                raise ValueError(f"lam={lam_i!r} is too small for t={t!r}: the trained eigenvalue is "
                                 "beyond the float64 range.")
        x = scipy.optimize.brentq(F, lo, hi, args=(log_lam,), xtol=1e-300, rtol=_RTOL, maxiter=500)
        roots.append(x / (2 * t))
    out = np.reshape(roots, lams.shape)
    _finite_result((out,), "t", f"the trained eigenvalue x/(2t) overflows for t={t!r}.", "lam, s02")
    return _scalar_or_array(out)


def lambertw_mode(lam, t):
    """Closed form of :func:`fixed_point_mode_continuous` for ``s02 = 0`` (p0 a point mass).

    .. math::
        (Ge)\\quad a^* = \\frac{u}{2t}, \\quad u = c + W(-c\\,e^{-c}), \\quad c = \\frac{2t}{\\lambda},

    with the branch :math:`W_0` if :math:`c > 1` and :math:`W_{-1}` if :math:`c < 1` (the other
    branch returns the spurious root u = 0); :math:`c = 1` gives :math:`a^* = 0` (pure diffusion).
    Accuracy degrades like ``sqrt(eps)`` within ``|c - 1| < 1e-6`` where both branches meet.
    """
    t = conventions.check_positive(t, "t", "no fixed point exists at t = 0 (the law is p0).")
    lams = conventions.finite_array(lam, "lam")
    if np.any(lams <= 0):
        raise ValueError(f"lam must be > 0 (a variance); got {lam!r}.")
    with np.errstate(all="ignore"):
        c = 2 * t / lams
        z = -c * np.exp(-c)
    _finite_result((c,), "lam", f"c = 2t/lam overflows for t={t!r}; use a larger lam or a smaller t.", "t")
    if np.any(c == 0):
        raise ValueError(f"lam: c = 2t/lam underflows to 0 for t={t!r}; use a smaller lam or a larger t.")
    w0 = scipy.special.lambertw(z, k=0).real
    wm1 = scipy.special.lambertw(z, k=-1).real
    u = np.where(c > 1, c + w0, np.where(c < 1, c + wm1, 0.0))
    with np.errstate(over="ignore"):
        out = u / (2 * t)
    _finite_result((out,), "lam", "the root lies beyond the float64 range.", "t")
    return _scalar_or_array(out)


def _field(a, V, mu_D, mu0, k, eta):
    """(Gd) h = A (I - M^k)^{-1} (mu_D - M^k mu0) = (eta G_k(M))^{-1}(mu_D - M^k mu0), per mode.

    Modes with |m| > 1 (concave, m = 1 - eta*a > 1) use w = m^{-k}:
    h = (m - 1)(w b - c0) / (eta (1 - w)), which never forms the huge m^k.
    """
    with np.errstate(all="ignore"):  # overflow is reported by the caller
        m = 1 - eta * a
        b, c0 = V.T @ mu_D, V.T @ mu0
        out = np.empty_like(m)
        small = np.abs(m) <= 1
        out[small] = (b[small] - m[small] ** float(k) * c0[small]) / (eta * _geometric_sum(m[small], k))
        w = m[~small] ** (-float(k))
        out[~small] = (m[~small] - 1) * (w * b[~small] - c0[~small]) / (eta * (1 - w))
        return V @ out


def train_fixed_point(C_D, mu_D, k, eta, s02, *, sigma2=None, mu0=0.0, root="physical"):
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
    k, eta, s02, sigma2, root : as in :func:`fixed_point_mode`.
    mu0 : (d,) or scalar, mean of p0.
    """
    C_D = conventions.spd_matrix(C_D, "C_D")
    d = C_D.shape[0]
    mu_D = conventions.vector(mu_D, d, "mu_D", like="C_D")
    mu0 = conventions.vector(mu0, d, "mu0", like="C_D")
    eta, sigma2 = _step_size(eta, sigma2)
    lam, V = _eig(C_D, "C_D")
    if np.any(lam <= sigma2):
        raise ValueError(f"C_D has eigenvalue(s) {lam[lam <= sigma2]} <= sigma2 = {sigma2!r}: one noisy "
                         "step already has variance sigma2, so no k-step fixed point exists. Use a "
                         "smaller sigma2 (or eta: sigma2 = 2*eta by default).")
    a = np.atleast_1d(fixed_point_mode(lam, k, eta, s02, sigma2=sigma2, root=root))
    A = _fn(V, a)
    h = _field(a, V, mu_D, mu0, int(k), eta)
    _finite_result((A, h), "k", "the trained parameters overflow; rescale the data.",
                   "C_D, mu_D, mu0, eta, s02, sigma2")
    return (A + A.T) / 2, h


# --------------------------------------------------------------------------- equilibrium training
def equilibrium_mode(lam, eta, sigma2=None):
    """Eigenvalue learned by equilibrium (maximum-likelihood) training against the ULA stationary law.

    .. math::
        \\eta a_{eq} = 1 - \\sqrt{1 - \\sigma^2/\\lambda}

    (the root in ``(0, 1/eta]`` of :math:`\\sigma^2/(1 - (1-\\eta a)^2) = \\lambda`).  Compared with
    (Gc): :math:`a(k) < a_{eq}` if :math:`\\lambda > s_0^2`, :math:`a(k) > a_{eq}` if
    :math:`\\lambda < s_0^2`, equal for every k if :math:`\\lambda = s_0^2`.
    """
    eta, sigma2 = _step_size(eta, sigma2)
    lams = conventions.finite_array(lam, "lam")
    if np.any(lams < sigma2) or sigma2 == 0:
        raise ValueError(f"lam: equilibrium_mode needs lam >= sigma2 > 0 (sigma2 = {sigma2!r}, lam = "
                         f"{lam!r}): the stationary ULA variance is at least sigma2. Use a smaller sigma2.")
    with np.errstate(divide="ignore", over="ignore"):  # lam = sigma2: log1p(-1) = -inf, a = 1/eta
        out = -np.expm1(0.5 * np.log1p(-sigma2 / lams)) / eta
    _finite_result((out,), "eta", f"a_eq overflows for eta={eta!r}; use a larger step.", "lam, sigma2")
    return _scalar_or_array(out)


def train_equilibrium(C_D, mu_D, eta, sigma2=None):
    """Equilibrium-trained (A, h): ULA's stationary law N(A^{-1}h, ula_stationary_cov) equals the data."""
    C_D = conventions.spd_matrix(C_D, "C_D")
    mu_D = conventions.vector(mu_D, C_D.shape[0], "mu_D", like="C_D")
    eta, sigma2 = _step_size(eta, sigma2)
    lam, V = _eig(C_D, "C_D")
    if np.any(lam < sigma2):
        raise ValueError(f"C_D has eigenvalue(s) {lam[lam < sigma2]} < sigma2 = {sigma2!r}: the stationary "
                         "ULA variance is at least sigma2. Use a smaller sigma2 (or eta).")
    A = _fn(V, np.atleast_1d(equilibrium_mode(lam, eta, sigma2)))
    A = (A + A.T) / 2
    return A, A @ mu_D


# --------------------------------------------------------------------------- memory effect
@dataclass(frozen=True)
class MemoryCurve:
    r"""The trained Gaussian chain sampled for ``times[r]`` steps from the training p0 (Gm).

    The first four fields are those of the exact Boltzmann-machine memory curve
    (:class:`shortrun.numerics.analysis.diagnostics.MemoryCurve`):

    ``times`` (n,); ``stats`` (n, P): the sufficient statistics of the Gaussian energy,
    :math:`\langle x_i\rangle` then :math:`\langle x_i x_j\rangle` for :math:`i \le j` (row-major
    upper triangle) under :math:`N(\mu_t, \Sigma_t)`; ``distance`` (n,): their largest deviation
    from the data's; ``kl_data_to_model`` (n,): :math:`KL(N(\mu_D, C_D)\,\|\,N(\mu_t, \Sigma_t))`
    (``inf`` where :math:`\Sigma_t` is singular).  Then the Gaussian's own ``mu`` (n, d),
    ``Sigma`` (n, d, d) and the trained ``A``, ``h``.
    """

    times: np.ndarray
    stats: np.ndarray
    distance: np.ndarray
    kl_data_to_model: np.ndarray
    mu: np.ndarray
    Sigma: np.ndarray
    A: np.ndarray
    h: np.ndarray

    @property
    def best_time(self):
        """The grid time of smallest distance (t = k for a short-run fixed point)."""
        return self.times[int(np.argmin(self.distance))]


def _gauss_stats(mu, Sigma):
    """(<x_i>, <x_i x_j> for i <= j) of N(mu, Sigma)."""
    iu = np.triu_indices(len(mu))
    return np.concatenate([mu, (Sigma + np.outer(mu, mu))[iu]])


def _times(times):
    ts = conventions.check_real(times, "times")
    if ts.ndim > 1:
        raise ValueError(f"times must be a number or a 1-D sequence; got shape {ts.shape}.")
    ts = np.atleast_1d(ts)
    if ts.size == 0:
        raise ValueError("times is empty; pass at least one number of steps.")
    finite = np.isfinite(ts)
    if np.any(np.isnan(ts)) or np.any(ts < 0) or np.any(ts[finite] != np.round(ts[finite])):
        raise ValueError(f"times must hold integers >= 0 (numbers of ULA steps) or inf; got {times!r}.")
    return ts


def memory_curve(C_D, mu_D, k, times, eta, s02, *, sigma2=None, mu0=0.0, root="physical"):
    """Sample the k-step-trained model for ``times`` steps from the same p0: the memory effect (Gm).

    With (A, h) = :func:`train_fixed_point`, the law at time t is (Ga) with k -> t.  Per eigenmode
    :math:`\\Sigma_t = g_t(a(k))`, which crosses the data variance exactly once, at t = k, and
    :math:`KL(N(\\mu_D, C_D)\\,\\|\\,N(\\mu_t,\\Sigma_t))` vanishes exactly there.

    Parameters
    ----------
    times : int or 1-D sequence of ints >= 0; ``np.inf`` means the stationary law (requires every
        trained eigenvalue in ``(0, 2/eta)``, else ``ValueError``: a concave direction has no
        stationary law).
    Other parameters as in :func:`train_fixed_point`.

    Returns
    -------
    MemoryCurve

    Notes
    -----
    Time is counted in discrete ULA steps.  Check (k = 20, lam = 1, s02 = 1/3, eta = 0.05,
    sigma2 = 0.1): :math:`\\Sigma_t/\\lambda` = 0.33, 0.63, 0.81, 1.00, 1.10, 1.12 at t = 0, 5,
    10, 20, 40, inf.  (Continuous Langevin with t*eta would give 0.33, 0.62, 0.80, 1.00, 1.12,
    1.14.)
    """
    A, h = train_fixed_point(C_D, mu_D, k, eta, s02, sigma2=sigma2, mu0=mu0, root=root)
    eta, sigma2 = _step_size(eta, sigma2)
    C_D = conventions.spd_matrix(C_D, "C_D")
    d = A.shape[0]
    mu_D = conventions.vector(mu_D, d, "mu_D", like="C_D")
    mu0 = conventions.vector(mu0, d, "mu0", like="C_D")
    Sigma0 = conventions.covariance(s02, d, "s02")
    ts = _times(times)
    a, V = _eig(A)
    mus, Sigmas, kls = [], [], []
    for ti in ts:
        if np.isinf(ti):
            _require_stationary(a, eta, "memory_curve at times = inf",
                                "drop times = inf, or train with a larger k (concave modes need "
                                "lam > s02 + k*sigma2)")
            mu_t, Sigma_t = _fn(V, 1 / a) @ h, ula_stationary_cov(A, eta, sigma2)
        else:
            mu_t, Sigma_t = _ula(a, V, h, mu0, Sigma0, int(ti), eta, sigma2)
            _finite_result((mu_t, Sigma_t), f"times={int(ti)}", _overflow_reason(a, eta, ti),
                           "C_D, mu_D, k, mu0, eta, s02, sigma2")
        mus.append(mu_t)
        Sigmas.append(Sigma_t)
        kls.append(_kl_or_inf(mu_D, C_D, mu_t, Sigma_t))
    with np.errstate(all="ignore"):
        stats = np.array([_gauss_stats(m, S) for m, S in zip(mus, Sigmas)])
        distance = np.max(np.abs(stats - _gauss_stats(mu_D, C_D)), axis=1)
    _finite_result((stats, distance), "times", "the second moments <x x^T> overflow; rescale the data.",
                   "C_D, mu_D, k, mu0, eta, s02, sigma2")
    return MemoryCurve(ts, stats, distance, np.array(kls), np.array(mus), np.array(Sigmas), A, h)


def _kl_or_inf(mu_p, Sigma_p, mu_q, Sigma_q):
    """KL(p || q), or inf when Sigma_q is singular or so nearly singular that it overflows."""
    try:
        np.linalg.cholesky(Sigma_q)
        return kl_gauss(mu_p, Sigma_p, mu_q, Sigma_q)
    except (np.linalg.LinAlgError, ValueError):
        return np.inf


def kl_gauss(mu_p, Sigma_p, mu_q, Sigma_q):
    """Kullback-Leibler divergence KL(p || q) from p = N(mu_p, Sigma_p) to q = N(mu_q, Sigma_q) (Gm).

    .. math::
        \\tfrac12\\left[\\operatorname{tr}(\\Sigma_q^{-1}\\Sigma_p) + (\\mu_q-\\mu_p)^T
        \\Sigma_q^{-1}(\\mu_q-\\mu_p) - d + \\ln\\det \\Sigma_q - \\ln\\det \\Sigma_p\\right].

    The argument order is that of :func:`shortrun.numerics.analysis.diagnostics.kl_divergence`
    ``(p, q)``; :func:`memory_curve` reports KL(data || model).
    """
    Sp = conventions.spd_matrix(Sigma_p, "Sigma_p")
    Sq = conventions.spd_matrix(Sigma_q, "Sigma_q")
    d = Sp.shape[0]
    if Sq.shape != Sp.shape:
        raise ValueError(f"Sigma_p and Sigma_q must have the same shape; got {Sp.shape} and {Sq.shape}.")
    diff = (conventions.vector(mu_q, d, "mu_q", like="Sigma_p")
            - conventions.vector(mu_p, d, "mu_p", like="Sigma_p"))
    Lq, Lp = np.linalg.cholesky(Sq), np.linalg.cholesky(Sp)
    with np.errstate(all="ignore"):
        Y = np.linalg.solve(Lq, Lp)
        z = np.linalg.solve(Lq, diff)
        logdet_ratio = 2 * (np.sum(np.log(np.diag(Lq))) - np.sum(np.log(np.diag(Lp))))
        kl = float(0.5 * (np.sum(Y * Y) + z @ z - d + logdet_ratio))
    _finite_result((kl,), "Sigma_q", "the divergence exceeds the float64 range (nearly singular "
                                     "Sigma_q or far-apart means); rescale the inputs.",
                   "mu_p, Sigma_p, mu_q")
    return max(kl, 0.0)


# --------------------------------------------------------------------------- sympy twins
SYMBOLS = {name: sp.Symbol(name, real=True) for name in ("a", "eta", "sigma2", "s02", "mu0", "mu_D", "h", "lam")}
SYMBOLS["k"] = sp.Symbol("k", integer=True, nonnegative=True)
SYMBOLS["t"] = sp.Symbol("t", positive=True)


@functools.lru_cache(maxsize=None)
def expressions() -> dict:
    """Per-eigenmode closed forms as sympy expressions in :data:`SYMBOLS`.

    Keys: ``'ula_mean'``, ``'ula_var'`` (Ga); ``'langevin_mean'``, ``'langevin_var'`` (Gb);
    ``'g_k'`` (Gc, the function whose root is the trained eigenvalue); ``'field'`` (Gd);
    ``'a_eq'`` (equilibrium training); ``'continuous_var'`` and ``'lambertw_root'`` (Ge, with the
    branch left symbolic as ``LambertW(z, branch)``, see :func:`lambertw_mode`);
    ``'concave_threshold'``.
    """
    a, eta, sigma2, s02, mu0, mu_D, h, lam, k, t = (SYMBOLS[n] for n in
                                                    ("a", "eta", "sigma2", "s02", "mu0", "mu_D", "h",
                                                     "lam", "k", "t"))
    m = 1 - eta * a
    r = m ** 2
    g_k = r ** k * s02 + sigma2 * (1 - r ** k) / (1 - r)
    c = 2 * t / lam
    branch = sp.Symbol("branch", integer=True)
    return {
        "ula_mean": m ** k * mu0 + (1 - m ** k) * h / a,
        "ula_var": g_k,
        "langevin_mean": sp.exp(-a * t) * mu0 + (1 - sp.exp(-a * t)) * h / a,
        "langevin_var": sp.exp(-2 * a * t) * s02 + (1 - sp.exp(-2 * a * t)) / a,
        "g_k": g_k,
        "field": a * (mu_D - m ** k * mu0) / (1 - m ** k),
        "a_eq": (1 - sp.sqrt(1 - sigma2 / lam)) / eta,
        "continuous_var": s02 * sp.exp(-2 * a * t) + (1 - sp.exp(-2 * a * t)) / a,
        "lambertw_root": (c + sp.LambertW(-c * sp.exp(-c), branch)) / (2 * t),
        "concave_threshold": s02 + k * sigma2,
    }


def ula_moments_sympy(A, h, mu0, Sigma0, k, eta, sigma2=None):
    """(Ga) evaluated literally on sympy matrices (exact for rational input).

    .. math::
        \\mu_k = M^k\\mu_0 + (I - M^k)A^{-1}h, \\quad
        \\Sigma_k = M^k\\Sigma_0M^k + \\sigma^2(I - M^{2k})(I - M^2)^{-1}.

    ``A`` must be invertible and ``I - M^2`` too (a literal transcription for checking the numpy
    version, :func:`ula_moments`); ``sigma2`` defaults to ``2*eta``.
    """
    k = conventions.check_steps(k, "k")
    A, h, mu0, Sigma0 = (sp.Matrix(x) for x in (A, h, mu0, Sigma0))
    eye = sp.eye(A.shape[0])
    eta = sp.nsimplify(eta)
    sigma2 = 2 * eta if sigma2 is None else sp.nsimplify(sigma2)
    M = eye - eta * A
    Mk = M ** k
    mu = Mk * mu0 + (eye - Mk) * A.inv() * h
    Sigma = Mk * Sigma0 * Mk + sigma2 * (eye - Mk * Mk) * (eye - M * M).inv()
    return mu, Sigma
