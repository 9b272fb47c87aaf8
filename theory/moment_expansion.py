"""Sympy derivation of weak-coupling expansions of the Glauber moment equations (Ia, Ic).

Matrices are non-commutative sympy symbols: ``J`` (symmetric couplings), ``h`` (column of fields)
and ``hT`` (its transpose).  A moment is a sum of *words* (``J``, ``J**2``, ``h*hT``, ``J*h`` ...)
times scalar functions of time; the bookkeeping parameter ``epsilon`` scales h and J.

Heat-bath update of site i draws :math:`s_i = \\pm1` with mean :math:`\\tanh H_i`,
:math:`H = h + Js`.  Expanding :math:`\\tanh(\\epsilon x)` with sympy shows that up to
:math:`\\epsilon^2` only the linear term survives, so the moment closure is exact to that order:

.. math::
    \\langle \\tanh H\\rangle = h + Jm, \\qquad
    X := \\langle \\tanh(H)\\, s^T\\rangle = h\\,m^T + J(1 + C) \\qquad (+O(\\epsilon^3)),

with :math:`C_{ij} = \\langle s_i s_j\\rangle` for i != j (the words are read off-diagonal).  Then

- continuous time (Glauber, t in sweeps): :math:`\\dot m = -m + \\langle\\tanh H\\rangle`,
  :math:`\\dot C = -2C + X + X^T`, solved order by order with ``dsolve`` from m(0) = 0, C(0) = 0;
- discrete random scan (n single-site updates, site drawn w.p. 1/N):
  :math:`m(n+1) = (1 - 1/N)m + \\langle\\tanh H\\rangle/N`,
  :math:`C(n+1) = (1 - 2/N)C + (X + X^T)/N`, solved order by order with ``rsolve``;
- parallel (synchronous) update: :math:`m' = \\langle\\tanh H\\rangle`,
  :math:`C' = \\langle \\tanh H\\,\\tanh H^T\\rangle = \\langle H H^T\\rangle + O(\\epsilon^4)`
  iterated symbolically k times.

Each derivation is cached; the results are turned into numbers by :func:`evaluate`.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from shortrun.conventions import check_count

__all__ = ["J", "h", "hT", "t", "n", "N", "ORDER", "transpose", "words", "collect", "continuous", "random_scan",
           "parallel", "evaluate", "evaluate_words"]

J, h, hT = sp.symbols("J h hT", commutative=False)
t = sp.Symbol("t", nonnegative=True)
n = sp.Symbol("n", integer=True, nonnegative=True)
N = sp.Symbol("N", integer=True, positive=True)
eps = sp.Symbol("epsilon", positive=True)
ORDER = 2
_TRANSPOSE = {J: J, h: hT, hT: h}


def transpose(expr):
    """Matrix transpose of a sum of words (J symmetric, h <-> hT, words reversed)."""
    out = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(expr)):
        c, nc = term.args_cnc()
        factors = [_TRANSPOSE[f] if f in _TRANSPOSE else sp.Pow(_TRANSPOSE[f.base], f.exp) for f in reversed(nc)]
        out += sp.Mul(*c) * sp.Mul(*factors)
    return out


def words(expr) -> dict:
    """``{word: scalar coefficient}`` of an expanded sum of words."""
    out: dict = {}
    for term in sp.Add.make_args(sp.expand(expr)):
        if term == 0:
            continue
        c, nc = term.args_cnc()
        w = sp.Mul(*nc)
        out[w] = out.get(w, sp.S.Zero) + sp.Mul(*c)
    return {w: sp.simplify(c) for w, c in out.items() if sp.simplify(c) != 0}


def collect(expr):
    """``expr`` as a sum of words, each with a simplified scalar coefficient."""
    return sp.Add(*[c * w for w, c in words(expr).items()])


def _linear_tanh():
    """Coefficient of the linear term of tanh; check that nothing else enters up to ``ORDER``."""
    x = sp.Symbol("x")
    poly = sp.series(sp.tanh(eps * x), eps, 0, ORDER + 1).removeO()
    coeffs = sp.Poly(poly, eps).as_dict()
    if set(coeffs) != {(1,)}:  # pragma: no cover - guards a change of ORDER
        raise NotImplementedError("beyond second order tanh has a cubic term: the closure needs "
                                  "3- and 4-point moments.")
    return coeffs[(1,)] / x


def _order(expr, p):
    return sp.expand(expr).coeff(eps, p)


def _sources(m, C):
    """<tanh H> and X + X^T with h -> eps h, J -> eps J, truncated consistently."""
    c1 = _linear_tanh()
    mean = c1 * (eps * h + eps * J * m)
    X = c1 * (eps * h * transpose(m) + eps * J * (1 + C))
    return mean, X + transpose(X)


def _solve_by_word(source, solver):
    return sp.Add(*[w * solver(c) for w, c in words(source).items()])


def _expand(solve_m, solve_C):
    m, C = sp.S.Zero, sp.S.Zero
    for p in range(1, ORDER + 1):
        mean, corr = _sources(m, C)
        m_p = _solve_by_word(_order(mean, p), solve_m)
        C_p = _solve_by_word(_order(corr, p), solve_C)
        m, C = m + eps ** p * m_p, C + eps ** p * C_p
    return sp.expand(m.subs(eps, 1)), sp.expand(C.subs(eps, 1))


def _ode(rate):
    f = sp.Function("f")

    def solve(source):
        sol = sp.dsolve(sp.Eq(f(t).diff(t), -rate * f(t) + source), f(t), ics={f(0): 0})
        return sp.simplify(sp.expand(sol.rhs))
    return solve


def _recurrence(rate):
    f = sp.Function("f")

    def solve(source):
        sol = sp.rsolve(f(n + 1) - (1 - sp.Integer(rate) / N) * f(n) - source / N, f(n), {f(0): 0})
        return sp.simplify(sol)
    return solve


@functools.lru_cache(maxsize=None)
def continuous():
    """(m(t), C(t)) of continuous-time Glauber dynamics from the uniform law, to second order in (h, J).

    Returns sums of words with coefficients in ``t`` (C read for i != j).
    """
    return _expand(_ode(1), _ode(2))


@functools.lru_cache(maxsize=None)
def random_scan():
    """(m, C) after ``n`` random-scan single-site updates among ``N`` spins, to second order, exact in N.

    Coefficients are functions of ``n`` and ``N``; one sweep is n = N (requires N >= 3 where a
    coefficient has a pole at N = 2).
    """
    return _expand(_recurrence(1), _recurrence(2))


def parallel(k: int):
    """(m, C) after ``k`` synchronous heat-bath updates from the uniform law, to second order.

    ``k`` is an integer >= 0; from k = ORDER on the expansion no longer changes (each update
    raises the order of the oldest terms), so a larger k costs no more than k = ORDER."""
    return _parallel(min(check_count(k, "k", 0), ORDER))


@functools.lru_cache(maxsize=None)
def _parallel(k):
    c1 = _linear_tanh()
    m, C = sp.S.Zero, sp.S.Zero
    for _ in range(k):
        H_mean = eps * h + eps * J * m
        HH = (eps * h * transpose(eps * h) + eps * h * transpose(m) * eps * J + eps * J * m * eps * hT
              + eps * J * (1 + C) * eps * J)
        m = sum(eps ** p * _order(c1 * H_mean, p) for p in range(1, ORDER + 1))
        C = sum(eps ** p * _order(c1 ** 2 * HH, p) for p in range(1, ORDER + 1))
    return sp.expand(sp.S(m).subs(eps, 1)), sp.expand(sp.S(C).subs(eps, 1))


def _word_value(w, mapping):
    out = None
    for f in (w.args if isinstance(w, sp.Mul) else (w,)):
        val = mapping[f] if f in mapping else np.linalg.matrix_power(mapping[f.base], int(f.exp))
        out = val if out is None else out @ val
    return out


@functools.lru_cache(maxsize=None)
def _lambdified(expr, variables):
    return tuple((w, sp.lambdify(variables, c, "numpy")) for w, c in words(expr).items())


def evaluate_words(expr, mapping, shape, variables=(), values=()):
    """Numerical value of a sum of words, each symbol replaced by the array in ``mapping``.

    ``variables``/``values`` give the scalar symbols in the coefficients (e.g. ``(t,)``,
    ``(2.0,)``); ``shape`` is the shape of the result (used when ``expr`` is 0).
    """
    total = np.zeros(shape)
    values = tuple(np.float64(v) for v in values)  # numpy arithmetic: overflow gives inf, not an exception
    for w, f in _lambdified(sp.expand(expr), tuple(variables)):
        total = total + np.float64(f(*values)) * _word_value(w, mapping)
    return total


def evaluate(expr, hv, Jm, variables=(), values=(), vector=False):
    """Value of a sum of words in J, h, hT for fields ``hv`` (N,) and couplings ``Jm`` (N, N).

    Returns shape (N,) if ``vector`` (a magnetisation) else (N, N) (a correlation; diagonal not
    adjusted).
    """
    Nv = len(hv)
    mapping = {J: Jm, h: hv[:, None], hT: hv[None, :]}
    total = evaluate_words(expr, mapping, (Nv, 1) if vector else (Nv, Nv), variables, values)
    return total[:, 0] if vector else total
