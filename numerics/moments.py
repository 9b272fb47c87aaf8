r"""Exact moments of a distribution vector over {−1,+1}^N.

``moments(p)`` returns :math:`m_i = \sum_x p(x) s_i(x)` and
:math:`C_{ij} = \sum_x p(x) s_i(x) s_j(x)` (``C_ii = 1``), computed block-wise with BLAS so that
no 2^N × N float matrix is ever held (N up to ~24 in a few hundred MB).
"""
from __future__ import annotations

import numpy as np

from .states import chunks


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

    Returns ``(m, C)``: shapes (N,) and (N, N), ``C`` symmetric with unit diagonal (times Σp).
    """
    p = np.asarray(p, dtype=float)
    N = n_spins(p)
    m = np.zeros(N)
    C = np.zeros((N, N))
    for start, stop, s in chunks(N):
        w = p[start:stop]
        m += w @ s
        C += (s * w[:, None]).T @ s
    return m, (C + C.T) / 2


def connected(m, C):
    r"""Connected correlations :math:`C_{ij} - m_i m_j`."""
    m = np.asarray(m, float)
    return np.asarray(C, float) - np.outer(m, m)


def stats(p):
    r"""BM sufficient statistics :math:`\langle\phi\rangle_p = (\langle s_i\rangle,
    \langle s_i s_j\rangle_{i<j})`, in the order of ``theta = concat(h, J[triu_indices(N, 1)])``."""
    m, C = moments(p)
    return stats_from_moments(m, C)


def stats_from_moments(m, C):
    """Flatten ``(m, C)`` into the ``theta`` order ``concat(m, C[triu_indices(N, 1)])``."""
    N = len(m)
    return np.concatenate([m, C[np.triu_indices(N, 1)]])


def moments_from_stats(phi, N):
    """Inverse of :func:`stats_from_moments` (``C`` with unit diagonal)."""
    phi = np.asarray(phi, float)
    m = phi[:N].copy()
    C = np.eye(N)
    iu = np.triu_indices(N, 1)
    C[iu] = phi[N:]
    C[(iu[1], iu[0])] = phi[N:]
    return m, C
