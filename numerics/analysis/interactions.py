r"""The interaction spectrum of a law over {−1,+1}^N (W1): which couplings, of which order, a
distribution encodes.

Every strictly positive law p over the 2^N states is an exponential of a multilinear polynomial,

.. math:: \log p(s) = \sum_{S\subseteq\{0..N-1\}} K_S \prod_{i\in S} s_i,\qquad
          K_S = 2^{-N}\sum_s \log p(s) \prod_{i\in S} s_i ,

the Walsh–Hadamard transform of log p.  A subset S is stored as the integer with bit i set ⇔
i ∈ S, so ``K[1 << i]`` is the field of spin i and ``K[(1 << i) | (1 << j)]`` the pair coupling
(i, j).  For a Boltzmann machine :math:`K_{\{i\}} = h_i`, :math:`K_{\{i,j\}} = J_{ij}` and every
higher order vanishes; :math:`K_\emptyset = \langle\log p\rangle_{\rm uniform}` carries the
normalisation.  The weight of order r is :math:`w_r = \sum_{|S| = r} K_S^2`.  Interactions that a
trained machine's law has but a reference (the teacher) lacks are *spurious*:
:func:`spurious_weights` sums their squares per order.

With the state index convention (bit i of x is 1 ⇔ :math:`s_i = +1`),
:math:`\prod_{i\in S}s_i(x) = (-1)^{|S|}(-1)^{|S \wedge x|}`, so K is :math:`(-1)^{|S|}2^{-N}`
times the natural-order fast transform :math:`(H f)[S] = \sum_x (-1)^{|S\wedge x|} f(x)`,
computed with N butterfly passes over the vector (N·2^N additions, vectorised numpy).
"""
from __future__ import annotations

import numpy as np

from shortrun.conventions import PROB_ATOL, check_count, check_finite, check_nonnegative
from shortrun.numerics.core.moments import n_spins

#: Largest N of the transform (vectors of 2^N doubles, a few copies at once).
MAX_N = 26


def walsh_hadamard(f):
    r"""The unnormalised fast Walsh–Hadamard transform along the last axis,
    :math:`(Hf)[S] = \sum_x (-1)^{\mathrm{popcount}(S \wedge x)} f(x)` (natural order; H is
    symmetric and :math:`H^2 = 2^N I`).  ``f`` has length 2^N in its last axis; returns a new
    float64 array."""
    out = np.array(check_finite(f, "f", "pass a finite vector of length 2^N."))
    N = n_spins(out)
    if N > MAX_N:
        raise ValueError(f"the transform holds vectors of 2^N doubles; N={N} exceeds {MAX_N}.")
    lead = out.shape[:-1]
    for i in range(N):
        view = out.reshape(lead + (-1, 2, 1 << i))
        a, b = view[..., 0, :].copy(), view[..., 1, :]
        view[..., 0, :] += b
        view[..., 1, :] = a - b
    return out


def orders(N):
    """|S| of every subset index S in [0, 2^N) (its number of set bits), int array."""
    N = check_count(N, "N", 0)
    if N > MAX_N:
        raise ValueError(f"orders(N) holds 2^N integers; N={N} exceeds {MAX_N}.")
    x = np.arange(1 << N, dtype=np.int64)
    count = np.zeros(1 << N, dtype=np.int64)
    for i in range(N):
        count += (x >> i) & 1
    return count


def _log_law(p, log_p):
    if (p is None) == (log_p is None):
        raise ValueError("pass exactly one of p (a strictly positive law over the 2^N states) "
                         "or log_p (log-probabilities or log-weights, any additive constant).")
    if log_p is not None:
        log_p = check_finite(log_p, "log_p")
        _length(log_p, "log_p")
        return log_p
    p = check_finite(p, "p")
    if p.ndim != 1:
        raise ValueError(f"p has shape {p.shape}; it must be one law, a vector over the 2^N "
                         "states (for several laws call spectrum on each, or pass log_p= with "
                         "one law per row).")
    _length(p, "p")
    if np.any(p <= 0):
        raise ValueError("p must be a strictly positive law over the 2^N states (log p = -inf "
                         "has no expansion); pass log_p= (e.g. the model's log-weights -E) or "
                         "mix in a little of the uniform law.")
    total = float(p.sum())
    if abs(total - 1.0) > PROB_ATOL:
        raise ValueError(f"p sums to {total!r}, not 1 (tolerance {PROB_ATOL:g}): it is not a "
                         "probability law; normalise it (p / p.sum()), or pass log_p=np.log(p) "
                         "for weights known up to a constant.")
    return np.log(p)


def _length(x, name):
    """N of an array with 2^N entries in its last axis, or a ValueError naming ``name``."""
    if x.ndim == 0:
        raise ValueError(f"{name} is a single number; pass a vector over the 2^N states.")
    try:
        return n_spins(x)
    except ValueError:
        where = " in its last axis" if x.ndim > 1 else ""
        raise ValueError(f"{name} has {x.shape[-1]} entries{where}; it must have length 2^N "
                         "(N >= 1), one entry per state.") from None


def _same_size(K, K_ref):
    """``(K, K_ref)`` as finite float arrays with the same 2^N entries, or a ValueError naming
    both."""
    K, K_ref = check_finite(K, "K"), check_finite(K_ref, "K_ref")
    N = _length(K, "K")
    if K.shape != (1 << N,) or K_ref.shape != K.shape:
        raise ValueError(f"K and K_ref must be spectra of the same N spins (vectors of 2^N "
                         f"entries); got shapes {K.shape} and {K_ref.shape}.  Compare laws over "
                         "the same spins.")
    return K, K_ref


def spectrum(p=None, *, log_p=None):
    r"""Interaction coefficients :math:`K_S` of the law ``p`` (or of ``log_p``) (W1).

    .. math:: K_S = 2^{-N}\sum_s \log p(s)\prod_{i\in S}s_i .

    Returns K of length 2^N indexed by the subset S (bit i ⇔ i ∈ S).  ``log_p`` may be any
    log-weights (−E, −F(v), log p + const): only :math:`K_\emptyset` depends on the constant.
    """
    f = _log_law(p, log_p)
    N = n_spins(f)
    return walsh_hadamard(f) * (np.where(orders(N) % 2, -1.0, 1.0) / (1 << N))


def log_law(K):
    r"""Inverse of :func:`spectrum`: :math:`\log p(s) = \sum_S K_S\prod_{i\in S}s_i` for every
    state, in index order."""
    K = check_finite(K, "K")
    return walsh_hadamard(K * np.where(orders(n_spins(K)) % 2, -1.0, 1.0))


def order_weights(K):
    r"""Weight per order, :math:`w_r = \sum_{|S| = r} K_S^2`, r = 0 … N (shape (N+1,))."""
    K = check_finite(K, "K", "pass finite coefficients (from spectrum of a positive law).")
    N = _length(K, "K")
    if K.ndim != 1:
        raise ValueError(f"K has shape {K.shape}; pass one spectrum, a vector of 2^N entries.")
    return np.bincount(orders(N), weights=K ** 2, minlength=N + 1)


def fields(K):
    r"""First-order coefficients :math:`K_{\{i\}}` (for a BM: h)."""
    N = n_spins(K)
    return np.asarray(K, float)[1 << np.arange(N)]


def pair_matrix(K):
    r"""Symmetric N × N matrix of the pair coefficients :math:`K_{\{i,j\}}` (for a BM: J), zero
    diagonal."""
    K = np.asarray(K, float)
    N = n_spins(K)
    bit = 1 << np.arange(N)
    J = K[bit[:, None] | bit[None, :]]
    np.fill_diagonal(J, 0.0)
    return J


def absent(K_ref, rtol=1e-10):
    """Boolean mask of the interactions a reference law does not have: |K_S| <= rtol · max|K|
    over the non-empty subsets (round-off of an exactly zero coefficient)."""
    K_ref = check_finite(K_ref, "K_ref", "pass the finite interaction spectrum of a law.")
    rtol = check_nonnegative(rtol, "rtol", "pass a relative tolerance such as 1e-10.")
    return np.abs(K_ref) <= rtol * max(np.max(np.abs(K_ref[1:]), initial=0.0), 1e-300)


def spurious_weights(K, K_ref, rtol=1e-10):
    r"""Per order r, the weight of the interactions of ``K`` that the reference ``K_ref`` lacks:
    :math:`\sum_{|S| = r,\ K^{\rm ref}_S = 0} K_S^2` (e.g. every order ≥ 3 and the absent pairs
    of a Boltzmann-machine teacher).  Order 0 (the normalisation) is reported as 0."""
    K, K_ref = _same_size(K, K_ref)
    N = n_spins(K)
    mask = absent(K_ref, rtol)
    mask[0] = False
    return np.bincount(orders(N), weights=np.where(mask, K ** 2, 0.0), minlength=N + 1)


def error_weights(K, K_ref):
    r"""Per order r, :math:`\sum_{|S| = r}(K_S - K^{\rm ref}_S)^2` (order 0 reported as 0)."""
    K, K_ref = _same_size(K, K_ref)
    d = K - K_ref
    d[0] = 0.0
    return order_weights(d)
