"""Independent spins (J = 0): exact magnetisation after k sweeps and the trained field (S1, S2).

With J = 0 every spin relaxes on its own.  One update of site i (heat-bath or Metropolis) acts on
its magnetisation as the affine contraction

.. math::
    m_i - \\tanh h_i \\;\\mapsto\\; \\rho(h_i)\\,(m_i - \\tanh h_i), \\qquad
    \\rho = 0 \\ \\text{(heat-bath)}, \\quad \\rho = -e^{-2|h_i|} \\ \\text{(Metropolis)}

(Metropolis, h > 0: from -1 the spin always flips, from +1 it flips with probability
:math:`e^{-2h}`, so :math:`m' = 1 - (1+m)e^{-2h}`).  A step of each scan (U2) composes
these updates, so :math:`m(k) = \\tanh h + (m_0 - \\tanh h)\\,q` with the relaxation factor (S1)

=============  =====================================================================
scan           q
=============  =====================================================================
sequential     :math:`\\rho^k` (each site updated once per sweep)
parallel       :math:`\\rho^k` (J = 0: the synchronous update equals a sweep)
random         :math:`(1 - (1-\\rho)/N)^{kN}` (each of the kN updates hits site i w.p. 1/N)
continuous     :math:`e^{-k(1-\\rho)}` (generator :math:`\\sum_i (T_i - I)`; = random, N -> inf)
=============  =====================================================================

For heat-bath this is :math:`q = (1-1/N)^{kN} \\approx e^{-k}` for the random scan and
q = 0 (equilibrium after one sweep) for sequential and parallel scans.  For random-scan
Metropolis (derived here) :math:`q = (1 - (1 + e^{-2|h|})/N)^{kN} \\to e^{-k(1 + e^{-2|h|})}`.

Divergence (no finite fixed point, S2).  From p0 with m0 = 0 the map h -> m(k) is odd and increasing
(checked on a grid in the tests), with supremum :math:`1 - q_\\infty`, where
:math:`q_\\infty = (1-1/N)^{kN}` (random), :math:`e^{-k}` (continuous) and 0 (sequential,
parallel) -- the same for both rules.  If :math:`|m_D| \\ge 1 - q_\\infty` the trained field diverges:
:func:`field_fixed_point` then returns ``copysign(inf, m_D)`` (documented flag; the training code
detects it with ``~np.isfinite(h)``), and :func:`has_finite_fixed_point` returns ``False``.

Pass ``N=np.inf`` with ``scan='random'`` for the N -> inf limit (which equals ``scan='continuous'``).
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.optimize
import sympy as sp

from shortrun import conventions

__all__ = ["RULES", "SCANS", "site_contraction", "relaxation_factor", "magnetisation",
           "divergence_threshold", "has_finite_fixed_point", "field_fixed_point", "expressions",
           "SYMBOLS"]

RULES = conventions.RULES
SCANS = conventions.SCANS
_N_MAX = 2 ** 53  # spins sharing a random scan: beyond this (1 - c/N)^(kN) is e^(-ck) to float64
_H_MAX = 40.0  # |h| beyond which m(k) equals its supremum to machine precision


def _check_rule_scan(rule, scan, N, k):
    conventions.check_choice(rule, RULES, "rule")
    conventions.check_choice(scan, SCANS, "scan")
    k = conventions.check_steps(k, "k", integer=scan != "continuous")
    if scan == "random":
        if N is None:
            raise ValueError("N (the number of spins sharing the random scan) is required for "
                             "scan='random'; pass N=np.inf for the N -> inf limit q = e^{-k}.")
        if not (isinstance(N, float) and N == np.inf):
            N = conventions.check_count(N, "N", minimum=1)
            if N > _N_MAX:
                N = np.inf
    return k, N


def site_contraction(h, rule):
    """Factor rho by which one update of a site contracts :math:`m - \\tanh h`: 0 or :math:`-e^{-2|h|}`."""
    conventions.check_choice(rule, RULES, "rule")
    h = conventions.finite_array(h, "h")
    with np.errstate(over="ignore"):  # |h| near the float64 limit: rho = -e^{-inf} = 0
        return np.zeros(h.shape) if rule == "heatbath" else -np.exp(-2 * np.abs(h))


def _q(rho, k, scan, N):
    if scan in ("sequential", "parallel"):
        return rho ** k
    if scan == "continuous" or N == np.inf:
        return np.exp(-k * (1 - rho))
    return (1 - (1 - rho) / N) ** (float(k) * float(N))


def _one_minus_q0(k, scan, N):
    """1 - q at rho = 0 (heat-bath, and Metropolis as |h| -> inf), without cancellation."""
    if scan in ("sequential", "parallel"):
        return 1.0 if k > 0 else 0.0
    if scan == "continuous" or N == np.inf:
        return float(-np.expm1(-k))
    if N == 1:
        return 1.0 if k > 0 else 0.0
    return float(-np.expm1(float(k) * float(N) * np.log1p(-1.0 / N)))


def relaxation_factor(h, k, rule="heatbath", scan="random", N=None):
    """Relaxation factor q of one spin after k sweeps: :math:`m(k) - \\tanh h = q\\,(m_0 - \\tanh h)`.

    .. math::
        q = \\rho^k \\ (\\text{sequential, parallel}), \\quad (1 - (1-\\rho)/N)^{kN} \\ (\\text{random}),
        \\quad e^{-k(1-\\rho)} \\ (\\text{continuous}),

    with :math:`\\rho = 0` (heat-bath) or :math:`-e^{-2|h|}` (Metropolis); see the module docstring.
    """
    k, N = _check_rule_scan(rule, scan, N, k)
    return _q(site_contraction(h, rule), k, scan, N)


def magnetisation(h, k, rule="heatbath", scan="random", N=None, m0=0.0):
    """Exact magnetisation of an independent spin with field h after k sweeps from magnetisation m0.

    .. math::
        m(k) = \\tanh h + (m_0 - \\tanh h)\\,q(h, k)

    (S1: heat-bath random scan :math:`q = (1-1/N)^{kN}`; Metropolis sequential
    :math:`m(k) = \\tanh h\\,[1 - (-e^{-2|h|})^k]` from m0 = 0).  ``h`` and ``m0`` broadcast.
    """
    q = relaxation_factor(h, k, rule, scan, N)
    t = np.tanh(conventions.finite_array(h, "h"))
    m0 = conventions.finite_array(m0, "m0")
    if np.any(np.abs(m0) > 1):
        raise ValueError(f"m0 must lie in [-1, 1]; got {m0}.")
    t, m0 = conventions.check_broadcast(t, m0, ("h", "m0"))
    out = t + (m0 - t) * q
    return float(out) if out.ndim == 0 else out


def divergence_threshold(k, rule="heatbath", scan="random", N=None):
    """Supremum over h of m(k) from m0 = 0: :math:`1 - q_\\infty` (equal for both rules) (S2).

    A data magnetisation with :math:`|m_D|` at or above it has no finite trained field.
    """
    k, N = _check_rule_scan(rule, scan, N, k)
    return _one_minus_q0(k, scan, N)  # rho -> 0 as |h| -> inf (Metropolis); rho = 0 (heat-bath)


def has_finite_fixed_point(m_D, k, rule="heatbath", scan="random", N=None, m0=0.0):
    """True where training on data magnetisation ``m_D`` converges to a finite field."""
    return np.isfinite(field_fixed_point(m_D, k, rule, scan, N, m0))


def field_fixed_point(m_D, k, rule="heatbath", scan="random", N=None, m0=0.0):
    """Trained field h* with m(k; h*) = m_D (the fixed point (G5) for J = 0), or ``+-inf`` if none.

    Heat-bath (any m0):

    .. math::
        \\tanh h^* = \\frac{m_D - q\\,m_0}{1 - q}, \\qquad \\text{no finite } h^* \\text{ if }
        |m_D - q\\,m_0| \\ge 1 - q .

    Metropolis (m0 = 0 only): the root of the increasing map h -> m(k; h) by Brent's method; for
    sequential/parallel scans with k = 1 it is :math:`h^* = -\\tfrac12\\ln(1 - m_D)` for m_D > 0.

    Returns
    -------
    float or ndarray; ``copysign(inf, m_D)`` marks divergence (see the module docstring).

    Check: ``m_D = tanh(0.8)``, heat-bath, ``scan='continuous'`` (q = e^{-k}):
    h* = inf (k=1), 1.015 (k=2), 0.865 (k=3).
    """
    k, N = _check_rule_scan(rule, scan, N, k)
    m_D = conventions.finite_array(m_D, "m_D")
    m0 = conventions.finite_array(m0, "m0")
    if np.any(np.abs(m_D) >= 1):
        raise ValueError(f"m_D must lie in (-1, 1); got {m_D}. Clip the data magnetisation.")
    if np.any(np.abs(m0) > 1):
        raise ValueError(f"m0 must lie in [-1, 1]; got {m0}.")
    m_D, m0 = conventions.check_broadcast(m_D, m0, ("m_D", "m0"))
    if k == 0:
        raise ValueError("k must be > 0: after 0 steps m = m0 whatever the field.")
    if rule == "heatbath":
        one_minus_q = _one_minus_q0(k, scan, N)
        q = 1.0 - one_minus_q
        with np.errstate(over="ignore"):  # |x| = inf: divergence, flagged below
            x = (m_D - q * m0) / one_minus_q
        inside = np.abs(x) < 1
        out = np.where(inside, np.arctanh(np.where(inside, x, 0.0)), np.copysign(np.inf, x))
        return float(out) if out.ndim == 0 else out
    if np.any(m0 != 0):
        raise ValueError("m0 must be 0 for rule='metropolis' (h -> m(k) is proven monotone only from "
                         "m0 = 0); for other p0 solve magnetisation(h, ...) = m_D numerically.")
    thr = divergence_threshold(k, rule, scan, N)
    out = np.array([_metropolis_root(float(x), k, scan, N, thr) for x in m_D.ravel()]).reshape(m_D.shape)
    return float(out) if out.ndim == 0 else out


def _metropolis_root(m_D, k, scan, N, thr):
    if m_D == 0:
        return 0.0
    if abs(m_D) >= thr:
        return float(np.copysign(np.inf, m_D))

    def f(h):
        return float(np.tanh(h) * (1 - _q(-np.exp(-2 * h), k, scan, N))) - abs(m_D)

    hi = 1.0
    while f(hi) <= 0:
        if hi >= _H_MAX:
            return float(np.copysign(np.inf, m_D))  # within rounding of the threshold
        hi *= 2
    h = scipy.optimize.brentq(f, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return float(np.copysign(h, m_D))


# --------------------------------------------------------------------------- sympy twins
SYMBOLS = {"h": sp.Symbol("h", real=True), "m0": sp.Symbol("m0", real=True),
           "m_D": sp.Symbol("m_D", real=True), "k": sp.Symbol("k", nonnegative=True),
           "N": sp.Symbol("N", positive=True, integer=True)}


@functools.lru_cache(maxsize=None)
def expressions() -> dict:
    """Sympy forms: ``('m', rule, scan)`` -> m(k) and ``('h*', 'heatbath', scan)`` -> h*(m_D).

    Symbols in :data:`SYMBOLS` (``N`` only for ``scan='random'``).  Also ``('h*', 'metropolis',
    'sequential', 1)``: :math:`-\\tfrac12\\ln(1-m_D)` for m_D > 0.
    """
    h, m0, m_D, k, N = (SYMBOLS[n] for n in ("h", "m0", "m_D", "k", "N"))
    rhos = {"heatbath": sp.Integer(0), "metropolis": -sp.exp(-2 * sp.Abs(h))}
    out = {}
    for rule, rho in rhos.items():
        for scan in SCANS:
            q = {"sequential": rho ** k, "parallel": rho ** k,
                 "random": (1 - (1 - rho) / N) ** (k * N), "continuous": sp.exp(-k * (1 - rho))}[scan]
            out[("m", rule, scan)] = sp.tanh(h) + (m0 - sp.tanh(h)) * q
            if rule == "heatbath" and scan in ("random", "continuous"):
                out[("h*", rule, scan)] = sp.atanh((m_D - q * m0) / (1 - q))
    out[("h*", "heatbath", "sequential")] = out[("h*", "heatbath", "parallel")] = sp.atanh(m_D)
    out[("h*", "metropolis", "sequential", 1)] = -sp.log(1 - m_D) / 2
    return out
