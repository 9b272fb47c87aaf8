"""Ising model at high temperature: short-run moments and trained couplings to second order (SPEC 4.2-4.3).

p0 is uniform on {-1,+1}^N (m(0) = 0, C(0) = 0); time in sweeps.  Every formula here is derived
by :mod:`shortrun.theory.moment_expansion` (sympy ``dsolve``/``rsolve`` on the moment equations,
not typed in) and then evaluated numerically; correlations ``C`` are returned with unit diagonal
like :func:`shortrun.numerics.moments.moments`, couplings with zero diagonal.

Contents
--------
- continuous-time Glauber (Ia): :func:`factors` (sympy f1, f2, ...), :func:`f1`, :func:`f2`,
  :func:`glauber_moments`;
- discrete random scan, exact in N: :func:`random_scan_factors`, :func:`random_scan_moments`;
- other update rules (4.3): :func:`sequential_moments` (first order), :func:`parallel_moments`,
  :func:`closure_moments` (the second-order closure propagated site by site, any discrete scan);
- the trained fixed point (Ib): :func:`fixed_point` (from data moments),
  :func:`teacher_fixed_point` (from a high-temperature teacher), :func:`fixed_point_expr`;
- :func:`coupling_error`, :func:`memory_ratio`, :func:`equilibrium_moments`, sympy
  :func:`expressions` of these curves.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from shortrun import conventions as _checks
from . import moment_expansion as me

__all__ = ["SYMBOLS", "factors", "f1", "f2", "glauber_moments", "random_scan_factors",
           "random_scan_moments", "sequential_moments", "parallel_moments", "closure_moments",
           "equilibrium_moments", "fixed_point_expr", "fixed_point", "teacher_fixed_point",
           "coupling_error", "memory_ratio", "expressions"]

_k = sp.Symbol("k", positive=True)
_beta = sp.Symbol("beta", positive=True)
#: scalar sympy symbols of the expressions: time in sweeps ``k`` and teacher inverse temperature
SYMBOLS = {"k": _k, "beta": _beta, "t": me.t, "N": me.N}
D, mD, mDT = sp.symbols("D m_D m_DT", commutative=False)  # data: off-diagonal C^D, m^D, m^D^T
_DATA_T = {D: D, mD: mDT, mDT: mD}


# --------------------------------------------------------------------------- the forward expansions
def _coefficients(kind):
    if kind == "continuous":
        m, C = me.continuous()
        time = {me.t: _k}
    elif kind == "random":
        m, C = me.random_scan()
        time = {me.n: _k * me.N}
    else:
        raise ValueError(f"kind must be 'continuous' or 'random'; got {kind!r}.")
    wm, wC = me.words(m), me.words(C)
    return {"e1": wm[me.h], "e2": wm[me.J * me.h], "f1": wC[me.J], "f2": wC[me.J ** 2],
            "g": wC[me.h * me.hT]}, time


@functools.lru_cache(maxsize=None)
def factors(kind="continuous") -> dict:
    """Time factors of the second-order expansion as sympy expressions in ``k`` (and ``N``).

    .. math::
        (Ia)\\quad m(k) = e_1 h + e_2 Jh, \\qquad C_{ij}(k) = f_1 J_{ij} + f_2 (J^2)_{ij}
        + g\\, h_i h_j \\quad (i \\ne j), \\qquad + O(\\epsilon^3).

    Continuous time: :math:`f_1 = 1 - e^{-2k}`, :math:`f_2 = 1 - (1+2k)e^{-2k}`,
    :math:`e_1 = 1 - e^{-k}`, :math:`e_2 = 1 - (1+k)e^{-k}`, :math:`g = e_1^2`.  ``kind='random'``:
    the discrete random scan with kN single-site updates, exact in N (e.g.
    :math:`f_1 = 1 - (1-2/N)^{kN}`, :math:`e_1 = 1 - (1-1/N)^{kN}`).
    """
    coeffs, time = _coefficients(kind)
    return {name: sp.simplify(expr.subs(time)) for name, expr in coeffs.items()}


@functools.lru_cache(maxsize=None)
def _numeric_factors(kind):
    args = (_k,) if kind == "continuous" else (_k, me.N)
    return {name: sp.lambdify(args, expr, "numpy") for name, expr in factors(kind).items()}


def _time(t, name="t"):
    return np.asarray(_checks.finite_array(t, name), dtype=float)


def f1(t):
    """:math:`f_1(t) = 1 - e^{-2t}` (vectorised), derived in :func:`factors`."""
    return _numeric_factors("continuous")["f1"](_time(t))


def f2(t):
    """:math:`f_2(t) = 1 - (1 + 2t)e^{-2t}` (vectorised), derived in :func:`factors`."""
    return _numeric_factors("continuous")["f2"](_time(t))


def _params(h, J):
    J = _checks.symmetric_matrix(J, "J")
    if np.any(np.diag(J) != 0):
        raise ValueError("J must have a zero diagonal (no self-coupling); set np.fill_diagonal(J, 0).")
    return _checks.vector(h, J.shape[0], "h"), J


def _assemble(fac, h, J):
    m = fac["e1"] * h + fac["e2"] * (J @ h)
    C = fac["f1"] * J + fac["f2"] * (J @ J) + fac["g"] * np.outer(h, h)
    np.fill_diagonal(C, 1.0)
    return m, C


def glauber_moments(h, J, t):
    """Moments of continuous-time Glauber dynamics at time t from the uniform law, to second order.

    .. math::
        (Ia)\\quad C_{ij}(t) = J_{ij} f_1(t) + (J^2)_{ij} f_2(t) + h_i h_j (1 - e^{-t})^2,
        \\qquad m_i(t) = h_i (1 - e^{-t}) + (Jh)_i\\,[1 - (1+t)e^{-t}],

    up to :math:`O(\\epsilon^3)` for h, J of order :math:`\\epsilon` (the SPEC's (Ia) is the h = 0
    case for C and the first order for m).

    Returns ``(m, C)``: shapes (N,) and (N, N), C with unit diagonal.
    """
    h, J = _params(h, J)
    t = _checks.nonnegative(t, "t")
    fac = {name: float(f(t)) for name, f in _numeric_factors("continuous").items()}
    return _assemble(fac, h, J)


def _sweeps_N(k, N):
    k = _checks.count(k, "k")
    N = _checks.count(N, "N", minimum=3)
    return k, N


def random_scan_factors(k, N):
    """First-order factors of the discrete random scan, exact in N: ``(f1_N, e1_N)``.

    .. math::
        f_1 = 1 - (1 - 2/N)^{kN}, \\qquad e_1 = 1 - (1 - 1/N)^{kN}

    (each update of i or j resets :math:`C_{ij}` to :math:`J_{ij}` at first order; each update
    of i resets :math:`m_i` to :math:`h_i`).  Tend to :math:`1 - e^{-2k}`, :math:`1 - e^{-k}`.
    """
    k, N = _sweeps_N(k, N)
    fac = _numeric_factors("random")
    return float(fac["f1"](k, N)), float(fac["e1"](k, N))


def random_scan_moments(h, J, k, N=None):
    """(m, C) after k random-scan sweeps (kN single-site heat-bath updates), second order, exact in N.

    ``N`` defaults to ``len(h)`` (the number of spins sharing the scan); N >= 3.
    Coefficients from :func:`factors` ``('random')``.
    """
    h, J = _params(h, J)
    k, N = _sweeps_N(k, len(h) if N is None else N)
    fac = {name: float(f(k, N)) for name, f in _numeric_factors("random").items()}
    return _assemble(fac, h, J)


def sequential_moments(h, J, k):
    """First-order moments after k sequential heat-bath sweeps: :math:`m = h`, :math:`C_{ij} = J_{ij}`.

    Every site is updated once per sweep, and an update of i sets
    :math:`\\langle s_i s_j\\rangle = J_{ij} + O(J^2)` and :math:`m_i = h_i + O(\\epsilon^2)`: no
    first-order bias after one sweep (SPEC 4.3).  Use :func:`closure_moments` for second order.
    """
    h, J = _params(h, J)
    k = _checks.count(k, "k")
    C = J.copy() if k >= 1 else np.zeros_like(J)
    np.fill_diagonal(C, 1.0)
    return (h.copy() if k >= 1 else np.zeros_like(h)), C


def parallel_moments(h, J, k):
    """Second-order moments after k synchronous (parallel) heat-bath updates.

    .. math::
        C(t+1) \\approx \\langle H H^T\\rangle = h h^T + J C(t) J + \\ldots \\Rightarrow
        C_{ij}(k) = (J^2)_{ij} + h_i h_j, \\quad m(k) = h + [k \\ge 2]\\,Jh \\quad (k \\ge 1),

    so correlations appear only at O(J^2) (SPEC 4.3).  Derived by :func:`moment_expansion.parallel`;
    a term of order p needs p updates to form, so the expansion is constant for k >= 2.
    """
    h, J = _params(h, J)
    k = _checks.count(k, "k")
    m_expr, C_expr = me.parallel(min(k, me.ORDER))
    m = me.evaluate(m_expr, h, J, vector=True)
    C = me.evaluate(C_expr, h, J)
    np.fill_diagonal(C, 1.0)
    return m, C


def closure_moments(h, J, k, scan="sequential"):
    """Propagate (m, C) through k sweeps with the second-order closure, one site update at a time.

    An update of site i sets :math:`m_i \\leftarrow h_i + (Jm)_i` and, for j != i,
    :math:`C_{ij} \\leftarrow h_i m_j + \\sum_l J_{il} \\langle s_l s_j\\rangle` (tanh linearised,
    exact to :math:`O(\\epsilon^2)`).  ``scan='sequential'`` visits 0..N-1, ``'random'`` averages the
    update over the site (N = len(h)), ``'parallel'`` updates all sites from the old moments with
    :math:`C' = \\mathrm{offdiag}(\\langle HH^T\\rangle)`.  Accurate to second order for every scan.
    """
    h, J = _params(h, J)
    k = _checks.count(k, "k")
    if scan not in ("sequential", "random", "parallel"):
        raise ValueError(f"scan must be 'sequential', 'random' or 'parallel'; got {scan!r}.")
    Nv = len(h)
    m, C = np.zeros(Nv), np.eye(Nv)
    for _ in range(k):
        if scan == "sequential":
            for i in range(Nv):
                row = h[i] * m + J[i] @ C
                m[i] = h[i] + J[i] @ m
                C[i, :] = C[:, i] = row
                C[i, i] = 1.0
        elif scan == "random":
            for _ in range(Nv):
                X = np.outer(h, m) + J @ C
                m = (1 - 1 / Nv) * m + (h + J @ m) / Nv
                C = (1 - 2 / Nv) * C + (X + X.T) / Nv
                np.fill_diagonal(C, 1.0)
        else:
            Hm = h + J @ m
            C = np.outer(h, h) + np.outer(h, m @ J) + np.outer(J @ m, h) + J @ C @ J
            m = Hm
            np.fill_diagonal(C, 1.0)
    return m, C


@functools.lru_cache(maxsize=None)
def _equilibrium_expr():
    """The t -> inf limit of the continuous expansion: the high-temperature expansion of p_theta."""
    m, C = me.continuous()
    m_inf = sp.Add(*[w * sp.limit(c, me.t, sp.oo) for w, c in me.words(m).items()])
    C_inf = sp.Add(*[w * sp.limit(c, me.t, sp.oo) for w, c in me.words(C).items()])
    return sp.expand(m_inf), sp.expand(C_inf)


def equilibrium_moments(h, J):
    """Equilibrium (Boltzmann) moments to second order: :math:`m = h + Jh`, :math:`C = J + J^2 + hh^T`.

    The t -> inf limit of :func:`glauber_moments` (derived with sympy ``limit``).
    """
    h, J = _params(h, J)
    m_expr, C_expr = _equilibrium_expr()
    C = me.evaluate(C_expr, h, J)
    np.fill_diagonal(C, 1.0)
    return me.evaluate(m_expr, h, J, vector=True), C


@functools.lru_cache(maxsize=None)
def expressions() -> dict:
    """Sympy forms of the derived curves (continuous time), in ``k`` and the time ``t``.

    ``'f1'``, ``'f2'`` (Ia); ``'spurious'`` :math:`(f_1^2 - f_2)/f_1^3`, the coefficient of
    :math:`\\beta^2 (J^0J^0)_{ij}` in J* (Ib); ``'coupling_error_factor'``
    :math:`(1/f_1 - 1)^2 = 1/(e^{2k}-1)^2`; ``'memory_ratio'`` :math:`f_1(t)/f_1(k)`.
    """
    fac = factors("continuous")
    f1_, f2_ = fac["f1"], fac["f2"]
    return {"f1": f1_, "f2": f2_, "spurious": sp.simplify((f1_ ** 2 - f2_) / f1_ ** 3),
            "coupling_error_factor": sp.simplify((1 / f1_ - 1) ** 2),
            "memory_ratio": f1_.subs(_k, me.t) / f1_}


# --------------------------------------------------------------------------- the trained fixed point
def _subs_words(expr, mapping):
    return sp.expand(expr.xreplace(mapping))


@functools.lru_cache(maxsize=None)
def fixed_point_expr(kind="continuous"):
    """Second-order inverse of (Ia): trained (h*, J*) as sums of words in the data D, m_D, m_D^T.

    Solves :math:`m(k; h, J) = m^D`, :math:`C(k; h, J) = C^D` (off-diagonal part ``D``) by
    inverting the linear part and substituting the first-order solution into the quadratic terms:

    .. math::
        (Ib)\\quad J^* = \\frac{D}{f_1} - \\frac{f_2}{f_1^3} D^2 - \\frac{g}{e_1^2 f_1} m^D m^{D\\,T},
        \\qquad h^* = \\frac{m^D}{e_1} - \\frac{e_2}{e_1^2 f_1} D\\, m^D .
    """
    fac = factors(kind)
    e1, e2, f1_, f2_, g = (fac[n] for n in ("e1", "e2", "f1", "f2", "g"))
    first = {me.h: mD / e1, me.hT: mDT / e1, me.J: D / f1_}
    quad_m = e2 * me.J * me.h
    quad_C = f2_ * me.J ** 2 + g * me.h * me.hT
    h_star = (mD - _subs_words(quad_m, first)) / e1
    J_star = (D - _subs_words(quad_C, first)) / f1_
    return me.collect(h_star), me.collect(J_star)


def _kind_args(kind, k, N):
    if kind == "continuous":
        return (_k,), (_checks.positive(k, "k"),)
    k, N = _sweeps_N(k, N)
    return (_k, me.N), (k, N)


def fixed_point(m_D, C_D, k, kind="continuous", N=None):
    """Trained (h*, J*) reproducing data moments at time k, to second order (Ib).

    Parameters
    ----------
    m_D : (N,) data magnetisations; C_D : (N, N) data correlations (diagonal ignored).
    k : float > 0 (``kind='continuous'``) or int sweeps (``kind='random'``, exact in ``N``,
        default ``N = len(m_D)``).

    Returns ``(h, J)``, J symmetric with zero diagonal.
    """
    C_D = _checks.symmetric_matrix(C_D, "C_D")
    m_D = _checks.vector(m_D, C_D.shape[0], "m_D")
    if kind not in ("continuous", "random"):
        raise ValueError(f"kind must be 'continuous' or 'random'; got {kind!r}.")
    variables, values = _kind_args(kind, k, len(m_D) if N is None else N)
    Doff = C_D - np.diag(np.diag(C_D))
    h_expr, J_expr = fixed_point_expr(kind)
    data = {D: Doff, mD: m_D[:, None], mDT: m_D[None, :]}
    Nv = len(m_D)
    hs = me.evaluate_words(h_expr, data, (Nv, 1), variables, values)[:, 0]
    Js = me.evaluate_words(J_expr, data, (Nv, Nv), variables, values)
    np.fill_diagonal(Js, 0.0)
    return hs, (Js + Js.T) / 2


@functools.lru_cache(maxsize=None)
def _teacher_expr(kind):
    """(Ib) in terms of a teacher (beta h0, beta J0) whose data are its equilibrium moments."""
    m_eq, C_eq = _equilibrium_expr()
    scale = {me.h: _beta * me.h, me.hT: _beta * me.hT, me.J: _beta * me.J}
    m_data, C_data = _subs_words(m_eq, scale), _subs_words(C_eq, scale)
    h_star, J_star = fixed_point_expr(kind)
    to_teacher = {mD: m_data, mDT: me.transpose(m_data), D: C_data}
    return tuple(me.collect(sp.series(_subs_words(x, to_teacher), _beta, 0, 3).removeO()) for x in (h_star, J_star))


def teacher_fixed_point(h0, J0, beta, k, kind="continuous", N=None):
    """Trained (h*, J*) for data from a teacher (beta*h0, beta*J0) at equilibrium, to O(beta^2).

    .. math::
        (Ib)\\quad J^*_{ij} = \\frac{\\beta J^0_{ij}}{f_1(k)} + \\beta^2 (J^0J^0)_{ij}
        \\frac{f_1(k)^2 - f_2(k)}{f_1(k)^3}, \\qquad h^*_i = \\frac{\\beta h^0_i}{1 - e^{-k}} + O(\\beta^2)

    (continuous time; the h0 h0^T terms cancel because g = e_1^2).  The term in
    :math:`(J^0J^0)_{ij}` is a spurious indirect coupling (next-nearest neighbours on a lattice).
    """
    h0, J0 = _params(h0, J0)
    beta = _checks.positive(beta, "beta")
    variables, values = _kind_args(kind, k, len(h0) if N is None else N)
    h_expr, J_expr = _teacher_expr(kind)
    values = values + (beta,)
    variables = variables + (_beta,)
    hs = me.evaluate(h_expr, h0, J0, variables, values, vector=True)
    Js = me.evaluate(J_expr, h0, J0, variables, values)
    np.fill_diagonal(Js, 0.0)
    return hs, Js


def coupling_error(J0, beta, k, order=1):
    """Squared coupling error :math:`\\sum_{i<j}(J^*_{ij} - \\beta J^0_{ij})^2` after training at k.

    ``order=1``: :math:`\\sum_{i<j} (\\beta J^0_{ij})^2 / (e^{2k} - 1)^2` (SPEC 4.2, continuous time);
    ``order=2``: with J* from :func:`teacher_fixed_point` (h0 = 0).
    """
    J0 = _params(0.0, J0)[1]
    beta = _checks.positive(beta, "beta")
    iu = np.triu_indices(len(J0), 1)
    if order == 1:
        k = _checks.positive(k, "k")
        return float(np.sum((beta * J0[iu]) ** 2) / np.expm1(2 * k) ** 2)
    if order == 2:
        Js = teacher_fixed_point(np.zeros(len(J0)), J0, beta, k)[1]
        return float(np.sum((Js[iu] - beta * J0[iu]) ** 2))
    raise ValueError(f"order must be 1 or 2; got {order!r}.")


def memory_ratio(t, k):
    """Memory curve of the trained Ising model at first order: :math:`C(t)/C^D \\approx f_1(t)/f_1(k)`.

    Equals 1 at t = k, below before, above after (tending to :math:`1/f_1(k)`).
    """
    return f1(t) / f1(_checks.positive(k, "k"))
