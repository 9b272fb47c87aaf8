r"""Exact moments of a distribution vector over {−1,+1}^N.

``moments(p)`` returns :math:`m_i = \sum_x p(x) s_i(x)` and
:math:`C_{ij} = \sum_x p(x) s_i(x) s_j(x)` (``C_ii = 1``), computed block-wise with BLAS so that
no 2^N × N float matrix is ever held (N up to ~24 in a few hundred MB).
"""
from __future__ import annotations

import numpy as np

from shortrun.conventions import check_count, check_finite
from shortrun.numerics.core.states import split, vector_and_matrix


def n_spins(p):
    """N from a vector of length 2^N (ValueError otherwise)."""
    n = np.asarray(p).shape[-1]
    N = int(n).bit_length() - 1
    if n < 2 or (1 << N) != n:
        raise ValueError(f"a distribution vector must have length 2^N with N >= 1; got {n}.")
    return N


def moments(p):
    r"""First and second moments of the distribution vector ``p``.

    .. math:: m_i = \langle s_i\rangle_p,\qquad C_{ij} = \langle s_i s_j\rangle_p .

    With :math:`x = x_{\rm hi}2^L + x_{\rm lo}` and ``P = p.reshape(2^(N-L), 2^L)`` every block
    is a small matrix product: low-low and high-high pairs from the marginals ``P.sum(0)``,
    ``P.sum(1)``, low-high pairs from ``s_hi.T @ P @ s_lo`` (cost 2^N·L, no 2^N × N matrix).

    Returns ``(m, C)``: shapes (N,) and (N, N), ``C`` symmetric with unit diagonal (times Σp).
    """
    p = check_finite(p, "p", "pass a finite vector over the 2^N states (a probability vector).")
    if p.ndim != 1:
        raise ValueError(f"p must be a vector over the 2^N states; got shape {p.shape}.")
    N = n_spins(p)
    L, s_lo, s_hi = split(N)
    P = p.reshape(-1, 1 << L)
    w_lo, w_hi = P.sum(axis=0), P.sum(axis=1)
    m = np.concatenate([w_lo @ s_lo, w_hi @ s_hi])
    C = np.empty((N, N))
    C[:L, :L] = (s_lo * w_lo[:, None]).T @ s_lo
    C[L:, L:] = (s_hi * w_hi[:, None]).T @ s_hi
    C[L:, :L] = s_hi.T @ (P @ s_lo)
    C[:L, L:] = C[L:, :L].T
    return m, C


def connected(m, C):
    r"""Connected correlations :math:`C_{ij} - m_i m_j`."""
    m, C = vector_and_matrix(m, C, "m", "C")
    return C - np.outer(m, m)


def stats(p):
    r"""BM sufficient statistics :math:`\langle\phi\rangle_p = (\langle s_i\rangle,
    \langle s_i s_j\rangle_{i<j})`, in the order of ``theta = concat(h, J[triu_indices(N, 1)])``."""
    m, C = moments(p)
    return stats_from_moments(m, C)


def stats_from_moments(m, C):
    """Flatten ``(m, C)`` into the ``theta`` order ``concat(m, C[triu_indices(N, 1)])``."""
    m, C = vector_and_matrix(m, C, "m", "C")
    return np.concatenate([m, C[np.triu_indices(len(m), 1)]])


def moments_from_stats(phi, N):
    """Inverse of :func:`stats_from_moments` (``C`` with unit diagonal)."""
    N = check_count(N, "N")
    phi = check_finite(phi, "phi", "pass finite statistics.")
    if phi.shape != (N + N * (N - 1) // 2,):
        raise ValueError(f"phi must have N + N(N-1)/2 = {N + N * (N - 1) // 2} entries for N={N} "
                         f"(concat(m, C[triu_indices(N, 1)])); got shape {phi.shape}.")
    m = phi[:N].copy()
    C = np.eye(N)
    iu = np.triu_indices(N, 1)
    C[iu] = phi[N:]
    C[(iu[1], iu[0])] = phi[N:]
    return m, C
