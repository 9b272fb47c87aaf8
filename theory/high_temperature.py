"""Ising model at high temperature: short-run moments and trained couplings to second order (Ia-Ic).

p0 is uniform on {-1,+1}^N (m(0) = 0, C(0) = 0); time in sweeps.  Every formula here is derived
by :mod:`shortrun.theory.moment_expansion` (sympy ``dsolve``/``rsolve`` on the moment equations,
not typed in) and then evaluated numerically; correlations ``C`` are returned with unit diagonal
like :func:`shortrun.numerics.core.moments.moments`, couplings with zero diagonal.

Numerical evaluation never forms the large powers of the exact-N random-scan forms (such as
:math:`(N-1)^{kN}/N^{kN}`): every expression is evaluated through the five time factors
``e1, e2, f1, f2, g`` of (Ia), and the random-scan factors through the ratios
:math:`q_1 = (1-1/N)^{kN}`, :math:`q_2 = (1-2/N)^{kN}` computed as ``exp(kN log1p(-c/N))``.  The
closed forms therefore hold for every k and N (k >= 1, N >= 3 for the random scan).

Contents
--------
- continuous-time Glauber (Ia): :func:`factors` (sympy f1, f2, ...), :func:`factor_values`,
  :func:`f1`, :func:`f2`, :func:`glauber_moments`;
- discrete random scan, exact in N: :func:`random_scan_factors`, :func:`random_scan_moments`;
- other update rules (Ic): :func:`sequential_moments` (first order), :func:`parallel_moments`,
  :func:`closure_moments` (the second-order closure propagated site by site, any discrete scan);
- the trained fixed point (Ib): :func:`fixed_point` (from data moments),
  :func:`teacher_fixed_point` (from a high-temperature teacher), :func:`fixed_point_expr`;
- :func:`coupling_error`, :func:`memory_ratio`, :func:`equilibrium_moments`, sympy
  :func:`expressions` of these curves.

``scan`` is ``'continuous'`` (continuous-time Glauber, k a real time in sweeps) or ``'random'``
(the discrete random scan, k an integer number of sweeps of N single-site updates).
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.special
import sympy as sp

from shortrun import conventions
from . import moment_expansion as me

__all__ = ["SYMBOLS", "SCANS", "factors", "factor_values", "f1", "f2", "glauber_moments",
           "random_scan_factors", "random_scan_moments", "sequential_moments", "parallel_moments",
           "closure_moments", "equilibrium_moments", "fixed_point_expr", "fixed_point",
           "teacher_fixed_point", "coupling_error", "memory_ratio", "expressions"]

_k = sp.Symbol("k", positive=True)
_beta = sp.Symbol("beta", positive=True)
#: scalar sympy symbols of the expressions: time in sweeps ``k`` and teacher inverse temperature
SYMBOLS = {"k": _k, "beta": _beta, "t": me.t, "N": me.N}
D, mD, mDT = sp.symbols("D m_D m_DT", commutative=False)  # data: off-diagonal C^D, m^D, m^D^T
#: the scans with closed forms (Ia), (Ib); closure_moments covers the sequential and parallel ones
SCANS = ("continuous", "random")
_FACTORS = ("e1", "e2", "f1", "f2", "g")
_FAC = tuple(sp.Symbol(name, positive=True) for name in _FACTORS)  # generic time factors
_Q = sp.symbols("q1 q2", positive=True)  # (1 - 1/N)^{kN}, (1 - 2/N)^{kN}
_N_MAX = 2 ** 53


def _scan(scan):
    return conventions.check_choice(
        scan, SCANS, "scan", note="The closed forms (Ia), (Ib) exist for the continuous-time and the "
                                  "random scan; closure_moments covers 'sequential' and 'parallel'.")


# --------------------------------------------------------------------------- the forward expansions
def _coefficients(scan):
    if scan == "continuous":
        m, C = me.continuous()
        time = {me.t: _k}
    else:
        m, C = me.random_scan()
        time = {me.n: _k * me.N}
    wm, wC = me.words(m), me.words(C)
    return {"e1": wm[me.h], "e2": wm[me.J * me.h], "f1": wC[me.J], "f2": wC[me.J ** 2],
            "g": wC[me.h * me.hT]}, time


@functools.lru_cache(maxsize=None)
def factors(scan="continuous") -> dict:
    """Time factors of the second-order expansion as sympy expressions in ``k`` (and ``N``).

    .. math::
        (Ia)\\quad m(k) = e_1 h + e_2 Jh, \\qquad C_{ij}(k) = f_1 J_{ij} + f_2 (J^2)_{ij}
        + g\\, h_i h_j \\quad (i \\ne j), \\qquad + O(\\epsilon^3).

    Continuous time: :math:`f_1 = 1 - e^{-2k}`, :math:`f_2 = 1 - (1+2k)e^{-2k}`,
    :math:`e_1 = 1 - e^{-k}`, :math:`e_2 = 1 - (1+k)e^{-k}`, :math:`g = e_1^2`.  ``scan='random'``:
    the discrete random scan with kN single-site updates, exact in N (e.g.
    :math:`f_1 = 1 - (1-2/N)^{kN}`, :math:`e_1 = 1 - (1-1/N)^{kN}`).
    """
    coeffs, time = _coefficients(_scan(scan))
    return {name: sp.simplify(expr.subs(time)) for name, expr in coeffs.items()}


@functools.lru_cache(maxsize=None)
def ratio_factors() -> dict:
    """The random-scan factors of :func:`factors` as sympy expressions in (q1, q2, k, N).

    :math:`q_1 = (1-1/N)^{kN}`, :math:`q_2 = (1-2/N)^{kN}`; the powers :math:`N^{kN}` are divided
    out symbolically, e.g. :math:`e_2 = 1 - q_1\\,(1 + kN/(N-1))`.
    """
    N, P = me.N, sp.Symbol("P", positive=True)
    powers = {(N - 1) ** (N * _k): _Q[0] * P, (N - 2) ** (N * _k): _Q[1] * P, N ** (N * _k): P}
    out = {}
    for name, expr in factors("random").items():
        e = sp.expand_power_exp(sp.expand(expr)).subs(powers)
        e = sp.simplify(sp.expand_power_exp(e))
        if not e.free_symbols <= {*_Q, _k, N}:  # pragma: no cover - guards a change of the derivation
            raise NotImplementedError(f"the random-scan factor {name} = {e} is not a function of "
                                      "(1 - c/N)^(kN): evaluate it another way.")
        out[name] = e
    return out


@functools.lru_cache(maxsize=None)
def _ratio_functions():
    return {name: sp.lambdify((*_Q, _k, me.N), e, "numpy") for name, e in ratio_factors().items()}


def _sweeps_N(k, N):
    k = conventions.check_steps(k, "k")
    N = conventions.check_count(N, "N", minimum=3)
    if N > _N_MAX:
        raise ValueError(f"N={N!r} is beyond 2^53: the exact-N random scan equals the continuous-time "
                         "form to float64 there; use scan='continuous'.")
    return k, N


def _continuous_time(k, name="k"):
    return conventions.check_steps(k, name, integer=False)


def factor_values(scan, k, N=None) -> dict:
    """Numerical values of the time factors ``e1, e2, f1, f2, g`` of (Ia) at time ``k``.

    ``scan='continuous'``: k >= 0 real, evaluated as regularised incomplete gamma functions
    (:math:`e_1 = P(1, k)`, :math:`e_2 = P(2, k)`, :math:`f_1 = P(1, 2k)`, :math:`f_2 = P(2, 2k)`)
    so that small k keeps full relative accuracy.  ``scan='random'``: k >= 0 integer sweeps of
    N >= 3 spins, the exact-N forms :func:`ratio_factors` in
    :math:`q_c = (1 - c/N)^{kN} = e^{kN\\log(1 - c/N)}` (no overflow for any k, N).
    """
    if _scan(scan) == "continuous":
        k = _continuous_time(k)
        with np.errstate(over="ignore"):  # 2k = inf: the factors are 1
            e1 = float(-np.expm1(-k))
            return {"e1": e1, "e2": float(scipy.special.gammainc(2, k)), "f1": float(-np.expm1(-2 * k)),
                    "f2": float(scipy.special.gammainc(2, 2 * k)), "g": e1 * e1}
    k, N = _sweeps_N(k, N)
    q = [float(np.exp(float(k) * N * np.log1p(-c / N))) for c in (1, 2)]
    return {name: float(f(*q, float(k), float(N))) for name, f in _ratio_functions().items()}


def _factor_tuple(scan, k, N=None):
    values = factor_values(scan, k, N)
    return tuple(values[name] for name in _FACTORS)


def _times(t, name="t"):
    t = conventions.finite_array(t, name)
    if np.any(t < 0):
        raise ValueError(f"{name} must hold times >= 0; got {t}. Chains run forward only.")
    return t


def f1(t):
    """:math:`f_1(t) = 1 - e^{-2t}` (vectorised, t >= 0), derived in :func:`factors`."""
    t = _times(t)
    with np.errstate(over="ignore"):  # 2t = inf: f1 = 1
        return -np.expm1(-2 * t)


def f2(t):
    """:math:`f_2(t) = 1 - (1 + 2t)e^{-2t}` (vectorised, t >= 0), derived in :func:`factors`."""
    t = _times(t)
    with np.errstate(over="ignore"):  # 2t = inf: f2 = 1
        return scipy.special.gammainc(2, 2 * t)


def _params(h, J, names=("h", "J")):
    nh, nJ = names
    J = conventions.symmetric_matrix(J, nJ)
    if np.any(np.diag(J) != 0):
        raise ValueError(f"{nJ} must have a zero diagonal (no self-coupling); set np.fill_diagonal({nJ}, 0).")
    return conventions.vector(h, J.shape[0], nh, like=nJ), J


def _finite(arrays):
    if not all(np.all(np.isfinite(x)) for x in arrays):
        raise ValueError("h, J: the second-order expansion overflows float64; it is meant for weak "
                         "couplings (|h|, |J| << 1). Rescale h and J.")
    return arrays


def _assemble(fac, h, J):
    with np.errstate(all="ignore"):
        m = fac["e1"] * h + fac["e2"] * (J @ h)
        C = fac["f1"] * J + fac["f2"] * (J @ J) + fac["g"] * np.outer(h, h)
    np.fill_diagonal(C, 1.0)
    return _finite((m, C))


def glauber_moments(h, J, t):
    """Moments of continuous-time Glauber dynamics at time t from the uniform law, to second order.

    .. math::
        (Ia)\\quad C_{ij}(t) = J_{ij} f_1(t) + (J^2)_{ij} f_2(t) + h_i h_j (1 - e^{-t})^2,
        \\qquad m_i(t) = h_i (1 - e^{-t}) + (Jh)_i\\,[1 - (1+t)e^{-t}],

    up to :math:`O(\\epsilon^3)` for h, J of order :math:`\\epsilon`.

    Returns ``(m, C)``: shapes (N,) and (N, N), C with unit diagonal.
    """
    h, J = _params(h, J)
    return _assemble(factor_values("continuous", _continuous_time(t, "t")), h, J)


def random_scan_factors(k, N):
    """First-order factors of the discrete random scan, exact in N: ``(f1_N, e1_N)``.

    .. math::
        (Ia)\\quad f_1 = 1 - (1 - 2/N)^{kN}, \\qquad e_1 = 1 - (1 - 1/N)^{kN}

    (each update of i or j resets :math:`C_{ij}` to :math:`J_{ij}` at first order; each update
    of i resets :math:`m_i` to :math:`h_i`).  Tend to :math:`1 - e^{-2k}`, :math:`1 - e^{-k}`.
    """
    fac = factor_values("random", k, N)
    return fac["f1"], fac["e1"]


def random_scan_moments(h, J, k, N=None):
    """(m, C) after k random-scan sweeps (kN single-site heat-bath updates), second order, exact in N (Ia).

    ``N`` defaults to ``len(h)`` (the number of spins sharing the scan); N >= 3.
    Coefficients from :func:`factors` ``('random')``, evaluated by :func:`factor_values`.
    """
    h, J = _params(h, J)
    return _assemble(factor_values("random", k, len(h) if N is None else N), h, J)


def sequential_moments(h, J, k):
    """First-order moments after k sequential heat-bath sweeps: :math:`m = h`, :math:`C_{ij} = J_{ij}` (Ic).

    Every site is updated once per sweep, and an update of i sets
    :math:`\\langle s_i s_j\\rangle = J_{ij} + O(J^2)` and :math:`m_i = h_i + O(\\epsilon^2)`: no
    first-order bias after one sweep.  Use :func:`closure_moments` for second order.
    """
    h, J = _params(h, J)
    k = conventions.check_steps(k, "k")
    C = J.copy() if k >= 1 else np.zeros_like(J)
    np.fill_diagonal(C, 1.0)
    return (h.copy() if k >= 1 else np.zeros_like(h)), C


def parallel_moments(h, J, k):
    """Second-order moments after k synchronous (parallel) heat-bath updates (Ic).

    .. math::
        C(t+1) \\approx \\langle H H^T\\rangle = h h^T + J C(t) J + \\ldots \\Rightarrow
        C_{ij}(k) = (J^2)_{ij} + h_i h_j, \\quad m(k) = h + [k \\ge 2]\\,Jh \\quad (k \\ge 1),

    so correlations appear only at O(J^2).  Derived by :func:`moment_expansion.parallel`;
    a term of order p needs p updates to form, so the expansion is constant for k >= 2.
    """
    h, J = _params(h, J)
    k = conventions.check_steps(k, "k")
    m_expr, C_expr = me.parallel(min(k, me.ORDER))
    with np.errstate(all="ignore"):
        m = me.evaluate(m_expr, h, J, vector=True)
        C = me.evaluate(C_expr, h, J)
    np.fill_diagonal(C, 1.0)
    return _finite((m, C))


def closure_moments(h, J, k, scan="sequential"):
    """Propagate (m, C) through k sweeps with the second-order closure, one site update at a time (Ic).

    An update of site i sets :math:`m_i \\leftarrow h_i + (Jm)_i` and, for j != i,
    :math:`C_{ij} \\leftarrow h_i m_j + \\sum_l J_{il} \\langle s_l s_j\\rangle` (tanh linearised,
    exact to :math:`O(\\epsilon^2)`).  ``scan='sequential'`` visits 0..N-1, ``'random'`` averages the
    update over the site (N = len(h)), ``'parallel'`` updates all sites from the old moments with
    :math:`C' = \\mathrm{offdiag}(\\langle HH^T\\rangle)`.  Accurate to second order for every scan.
    The iteration stops early once (m, C) no longer change (every later sweep is then the same).
    """
    h, J = _params(h, J)
    k = conventions.check_steps(k, "k")
    conventions.check_choice(scan, ("sequential", "random", "parallel"), "scan",
                             note="The continuous-time scan has the closed form glauber_moments.")
    Nv = len(h)
    m, C = np.zeros(Nv), np.eye(Nv)
    with np.errstate(all="ignore"):
        for _ in range(k):
            m_old, C_old = m.copy(), C.copy()
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
            if not (np.all(np.isfinite(m)) and np.all(np.isfinite(C))):
                break
            if np.array_equal(m, m_old) and np.array_equal(C, C_old):
                break
    return _finite((m, C))


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
    with np.errstate(all="ignore"):
        C = me.evaluate(C_expr, h, J)
        m = me.evaluate(m_expr, h, J, vector=True)
    np.fill_diagonal(C, 1.0)
    return _finite((m, C))


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
def _generic_fixed_point():
    """(Ib) as sums of words in D, m_D, m_D^T with coefficients in the generic factors e1..g."""
    e1, e2, f1_, f2_, g = _FAC
    first = {me.h: mD / e1, me.hT: mDT / e1, me.J: D / f1_}
    quad_m = e2 * me.J * me.h
    quad_C = f2_ * me.J ** 2 + g * me.h * me.hT
    h_star = (mD - _subs_words(quad_m, first)) / e1
    J_star = (D - _subs_words(quad_C, first)) / f1_
    return me.collect(h_star), me.collect(J_star)


@functools.lru_cache(maxsize=None)
def fixed_point_expr(scan="continuous"):
    """Second-order inverse of (Ia): trained (h*, J*) as sums of words in the data D, m_D, m_D^T.

    Solves :math:`m(k; h, J) = m^D`, :math:`C(k; h, J) = C^D` (off-diagonal part ``D``) by
    inverting the linear part and substituting the first-order solution into the quadratic terms:

    .. math::
        (Ib)\\quad J^* = \\frac{D}{f_1} - \\frac{f_2}{f_1^3} D^2 - \\frac{g}{e_1^2 f_1} m^D m^{D\\,T},
        \\qquad h^* = \\frac{m^D}{e_1} - \\frac{e_2}{e_1^2 f_1} D\\, m^D .

    Coefficients are sympy expressions in ``k`` (and ``N`` for ``scan='random'``): the generic
    coefficients with the factors of :func:`factors` substituted (not simplified further).
    """
    fac = factors(scan)
    to_time = {sym: fac[name] for sym, name in zip(_FAC, _FACTORS)}
    return tuple(sp.Add(*[c.xreplace(to_time) * w for w, c in me.words(x).items()])
                 for x in _generic_fixed_point())


def _time_args(scan, k, N, n_spins):
    if _scan(scan) == "continuous":
        k = conventions.check_positive(k, "k", "training at k = 0 has no fixed point (the law is p0).")
        return _factor_tuple("continuous", k)
    k, N = _sweeps_N(k, n_spins if N is None else N)
    if k < 1:
        raise ValueError("k=0: training at k = 0 has no fixed point (the law is p0); pass k >= 1.")
    return _factor_tuple("random", k, N)


def fixed_point(m_D, C_D, k, scan="continuous", N=None):
    """Trained (h*, J*) reproducing data moments at time k, to second order (Ib).

    Parameters
    ----------
    m_D : (N,) data magnetisations; C_D : (N, N) data correlations (diagonal ignored).
    k : float > 0 (``scan='continuous'``) or int sweeps >= 1 (``scan='random'``, exact in ``N``,
        default ``N = len(m_D)``).

    Returns ``(h, J)``, J symmetric with zero diagonal.
    """
    C_D = conventions.symmetric_matrix(C_D, "C_D")
    m_D = conventions.vector(m_D, C_D.shape[0], "m_D", like="C_D")
    if np.any(np.abs(m_D) > 1) or np.any(np.abs(C_D - np.diag(np.diag(C_D))) > 1):
        raise ValueError("m_D and C_D are moments of ±1 spins: every magnetisation and "
                         "off-diagonal correlation lies in [-1, 1]; pass the data's <s_i> and "
                         "<s_i s_j>.")
    values = _time_args(scan, k, N, len(m_D))
    Doff = C_D - np.diag(np.diag(C_D))
    h_expr, J_expr = _generic_fixed_point()
    data = {D: Doff, mD: m_D[:, None], mDT: m_D[None, :]}
    Nv = len(m_D)
    with np.errstate(all="ignore"):
        hs = me.evaluate_words(h_expr, data, (Nv, 1), _FAC, values)[:, 0]
        Js = me.evaluate_words(J_expr, data, (Nv, Nv), _FAC, values)
    np.fill_diagonal(Js, 0.0)
    if not (np.all(np.isfinite(hs)) and np.all(np.isfinite(Js))):
        raise ValueError("m_D, C_D, k: the second-order inverse overflows float64; it is meant for weak "
                         "correlations (|m_D|, |C_D off-diagonal| << 1) and a time k that is not tiny.")
    return hs, (Js + Js.T) / 2


@functools.lru_cache(maxsize=None)
def _teacher_expr():
    """(Ib) in terms of a teacher (beta h0, beta J0) whose data are its equilibrium moments,
    with coefficients in the generic factors and beta."""
    m_eq, C_eq = _equilibrium_expr()
    scale = {me.h: _beta * me.h, me.hT: _beta * me.hT, me.J: _beta * me.J}
    m_data, C_data = _subs_words(m_eq, scale), _subs_words(C_eq, scale)
    h_star, J_star = _generic_fixed_point()
    to_teacher = {mD: m_data, mDT: me.transpose(m_data), D: C_data}
    return tuple(me.collect(sp.series(_subs_words(x, to_teacher), _beta, 0, 3).removeO())
                 for x in (h_star, J_star))


def teacher_fixed_point(h0, J0, beta, k, scan="continuous", N=None):
    """Trained (h*, J*) for data from a teacher (beta*h0, beta*J0) at equilibrium, to O(beta^2).

    .. math::
        (Ib)\\quad J^*_{ij} = \\frac{\\beta J^0_{ij}}{f_1(k)} + \\beta^2 (J^0J^0)_{ij}
        \\frac{f_1(k)^2 - f_2(k)}{f_1(k)^3}, \\qquad h^*_i = \\frac{\\beta h^0_i}{1 - e^{-k}} + O(\\beta^2)

    (continuous time; the h0 h0^T terms cancel because g = e_1^2).  The term in
    :math:`(J^0J^0)_{ij}` is a spurious indirect coupling (next-nearest neighbours on a lattice).
    ``scan='random'`` gives the exact-N random-scan form (k >= 1 sweeps, N >= 3, default len(h0)).
    """
    h0, J0 = _params(h0, J0, ("h0", "J0"))
    beta = conventions.check_positive(beta, "beta", "pass the teacher's inverse temperature > 0.")
    values = _time_args(scan, k, N, len(h0)) + (beta,)
    h_expr, J_expr = _teacher_expr()
    variables = _FAC + (_beta,)
    with np.errstate(all="ignore"):
        hs = me.evaluate(h_expr, h0, J0, variables, values, vector=True)
        Js = me.evaluate(J_expr, h0, J0, variables, values)
    np.fill_diagonal(Js, 0.0)
    if not (np.all(np.isfinite(hs)) and np.all(np.isfinite(Js))):
        raise ValueError("beta, h0, J0, k: the second-order form overflows float64; it is meant for a weak "
                         "teacher (beta*|h0|, beta*|J0| << 1) and a time k that is not tiny.")
    return hs, Js


def coupling_error(J0, beta, k, order=1):
    """Squared coupling error :math:`\\sum_{i<j}(J^*_{ij} - \\beta J^0_{ij})^2` after training at k (Ib).

    ``order=1``: :math:`\\sum_{i<j} (\\beta J^0_{ij})^2 / (e^{2k} - 1)^2` (continuous time);
    ``order=2``: with J* from :func:`teacher_fixed_point` (h0 = 0).
    """
    J0 = _params(0.0, J0, ("h0", "J0"))[1]
    beta = conventions.check_positive(beta, "beta", "pass the teacher's inverse temperature > 0.")
    order = conventions.check_choice(order, (1, 2), "order")
    iu = np.triu_indices(len(J0), 1)
    if order == 1:
        k = conventions.check_positive(k, "k", "training at k = 0 has no fixed point (the law is p0).")
        ratio = np.exp(-2 * k) / -np.expm1(-2 * k)  # 1/f1 - 1 = 1/(e^{2k} - 1), no overflow
        with np.errstate(all="ignore"):
            out = float(np.sum((beta * J0[iu] * ratio) ** 2))
    else:
        Js = teacher_fixed_point(np.zeros(len(J0)), J0, beta, k)[1]
        with np.errstate(all="ignore"):
            out = float(np.sum((Js[iu] - beta * J0[iu]) ** 2))
    if not np.isfinite(out):
        raise ValueError("beta, J0, k: the coupling error overflows float64; pass a weak teacher and a "
                         "time k that is not tiny.")
    return out


def memory_ratio(t, k):
    """Memory curve of the trained Ising model at first order: :math:`C(t)/C^D \\approx f_1(t)/f_1(k)` (M1).

    Equals 1 at t = k, below before, above after (tending to :math:`1/f_1(k)`).
    """
    k = conventions.check_positive(k, "k", "training at k = 0 has no fixed point (the law is p0).")
    with np.errstate(over="ignore"):
        out = f1(t) / f1(k)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"k={k!r} is so small that f1(t)/f1(k) overflows float64 (for these t); pass a "
                         "larger k.")
    return out
