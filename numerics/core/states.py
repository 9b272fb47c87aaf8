r"""The state space {−1,+1}^N, its index convention and the {0,1} basis.

Convention (docs/theory.md): state index :math:`x \in [0, 2^N)`; bit *i* of *x* is 1 ⇔ :math:`s_i = +1`.
So ``spins(N)[x, i] = 2 * ((x >> i) & 1) - 1``.  The {0,1} basis is :math:`\sigma = (1 + s)/2`.
"""
from __future__ import annotations

import numpy as np

from shortrun.conventions import check_count, check_finite, memory_error

#: Memory the exact state-space routes may use (bytes); above it they refuse with a clear error.
MEMORY_BUDGET = 8 * 2**30
#: Block of states processed at once by chunked routines (keeps 2^N x N arrays out of memory).
CHUNK = 1 << 16


#: Most spins of an int64 state index (bit N-1 of x is spin N-1; bit 63 is the sign).
INDEX_MAX_N = 62


def n_states(N):
    """Number of states 2^N."""
    return 1 << check_count(N, "N", 0)


def check_spins(s, N=None, name="s"):
    """``s`` as a float64 array of ±1 spins with ``N`` entries in its last axis (any N when
    None); NaN, text, 0/1 values or a wrong length are refused by name."""
    a = check_finite(s, name, "pass -1/+1 spins.")
    if N is not None and a.shape[-1:] != (N,):
        raise ValueError(f"{name} must have N = {N} spins in its last axis; got shape {a.shape}.")
    if not np.all((a == 1) | (a == -1)):
        raise ValueError(f"{name} must contain only -1 and +1 spins; convert 0/1 data with "
                         "from01().")
    return a


def check_size(N, bytes_per_state=8 * 4, what="the exact state-space route",
               alternative="use Monte Carlo (shortrun.numerics.sampling) instead."):
    """Refuse an exact route whose memory ``2^N * bytes_per_state`` exceeds ``MEMORY_BUDGET``."""
    need = float(bytes_per_state) * 2.0 ** N
    if need > MEMORY_BUDGET:
        raise memory_error(f"{what} at N={N}", need, alternative)


def spins(N, x=None):
    """Spin configurations of the states ``x`` (all 2^N states when ``x`` is None).

    Returns an int8 array of shape (len(x), N) with entries ±1:
    ``s[x, i] = 2 * bit_i(x) - 1``.  Memory: the result, the indices and two int64 columns,
    N + 24 bytes per state.
    """
    N = check_count(N, "N", 0)
    if x is None:
        check_size(N, bytes_per_state=N + 24, what="materialising all spins")
        x = np.arange(n_states(N), dtype=np.int64)
    x = check_indices(x, N)
    s = np.empty((x.shape[0], N), dtype=np.int8)
    for i in range(N):
        s[:, i] = 2 * ((x >> i) & 1) - 1
    return s


def check_samples(states, N, name="states", size="N"):
    """Samples: an (n, N) float64 array of ±1 spins with n >= 1 (one state per row; any N when
    ``N`` is None); ``size`` names N in the message (e.g. 'N_v')."""
    a = np.asarray(states) if not isinstance(states, (str, bytes)) else None
    if a is None or a.ndim != 2 or a.shape[0] < 1 or (N is not None and a.shape[1] != N):
        shape = "text" if a is None else a.shape
        n_axis = size if N is None else f"{size}={N}"
        raise ValueError(f"{name} must have shape (n, {n_axis}) with n >= 1; got {shape}.")
    return check_spins(a, N, name)


def integer_array(x, name, fix):
    """``x`` as an int64 array when every entry is an integer (integer-valued floats
    accepted); None otherwise (floats with a fraction, text: they would be truncated to another
    state silently).  NaN or inf is refused by name, with ``fix``."""
    a = np.asarray(x) if not isinstance(x, (str, bytes)) else np.asarray([])
    if a.dtype.kind in "iu":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind == "f":
        a = check_finite(a, name, fix)
        if np.all(a == np.floor(a)):
            return a.astype(np.int64)
    return None


def check_indices(x, N, name="x"):
    """``x`` as int64 state indices in [0, 2^N) (floats with a fraction, or indices out of the
    range, are refused: the bit arithmetic would give another state silently)."""
    a = integer_array(x, name, "pass integer state indices.")
    if a is None or a.ndim != 1 or (a.size and (a.min() < 0 or a.max() >= 1 << N)):
        raise ValueError(f"{name} must be a 1-D array of integer state indices in [0, 2^N) = "
                         f"[0, {1 << N}).")
    return a.astype(np.int64, copy=False)


def index(s):
    """State index of spin configurations ``s`` (shape (n, N) or (N,), entries ±1)."""
    s = check_spins(s)
    if s.shape[-1] > INDEX_MAX_N:
        raise ValueError(f"s has N = {s.shape[-1]} spins; an int64 state index holds at most "
                         f"N = {INDEX_MAX_N}.")
    one = s.ndim == 1
    s2 = np.atleast_2d(s)
    x = ((s2 > 0).astype(np.int64) << np.arange(s2.shape[1], dtype=np.int64)).sum(axis=1)
    return x[0] if one else x


def to01(s):
    """σ = (1 + s)/2, as int8."""
    return ((check_spins(s) + 1) // 2).astype(np.int8)


def from01(sigma):
    """s = 2σ − 1, as int8; rejects entries other than 0/1."""
    sigma = np.asarray(sigma)
    if not np.all((sigma == 0) | (sigma == 1)):
        raise ValueError("sigma must contain only 0 and 1; for ±1 data use it as it is.")
    return (2 * sigma - 1).astype(np.int8)


def vector_and_matrix(v, M, v_name, M_name):
    """A finite vector of length N and a finite N x N matrix (the pairs of the basis changes)."""
    v, M = check_finite(v, v_name, "pass finite numbers."), check_finite(M, M_name, "pass finite numbers.")
    if v.ndim != 1 or M.shape != v.shape * 2:
        raise ValueError(f"{v_name} must be a vector of length N and {M_name} an N x N matrix; "
                         f"got shapes {v.shape} and {M.shape}.")
    return v, M


def params_to_01(h, J):
    r"""Boltzmann-machine parameters in the {0,1} basis.

    .. math::
        E(s) = -\sum_{i<j} J_{ij} s_i s_j - \sum_i h_i s_i
             = -\sum_{i<j} W_{ij}\sigma_i\sigma_j - \sum_i b_i \sigma_i + c,

    with :math:`W = 4J`, :math:`b_i = 2h_i - 2\sum_j J_{ij}`, :math:`c = \sum_i h_i - \sum_{i<j} J_{ij}`.
    Returns ``(b, W, c)``.
    """
    h, J = vector_and_matrix(h, J, "h", "J")
    return 2 * h - 2 * J.sum(axis=1), 4 * J, h.sum() - J.sum() / 2


def params_from_01(b, W):
    """Inverse of :func:`params_to_01`: returns ``(h, J, c)`` with ``J = W/4``,
    ``h = b/2 + W.sum(1)/4`` and the same energy offset ``c``."""
    b, W = vector_and_matrix(b, W, "b", "W")
    J = W / 4
    h = b / 2 + W.sum(axis=1) / 4
    return h, J, h.sum() - J.sum() / 2


def moments_to_01(m, C):
    r"""Moments in the {0,1} basis: :math:`\langle\sigma_i\rangle = (1+m_i)/2`,
    :math:`\langle\sigma_i\sigma_j\rangle = (1 + m_i + m_j + C_{ij})/4` with
    :math:`C_{ij} = \langle s_i s_j\rangle` (``C_ii = 1`` gives ``M_ii = mu_i``)."""
    m, C = vector_and_matrix(m, C, "m", "C")
    return (1 + m) / 2, (1 + m[:, None] + m[None, :] + C) / 4


def moments_from_01(mu, M):
    r"""Inverse of :func:`moments_to_01`: :math:`m = 2\mu - 1`,
    :math:`C_{ij} = 4M_{ij} - 2\mu_i - 2\mu_j + 1`."""
    mu, M = vector_and_matrix(mu, M, "mu", "M")
    return 2 * mu - 1, 4 * M - 2 * mu[:, None] - 2 * mu[None, :] + 1


#: Low bits of the split x = hi * 2^L + lo used by the block routines (2^L x L table: 8 MiB).
SPLIT_BITS = 16


def split(N, low_bits=None):
    r"""Split the index as :math:`x = x_{\rm hi}\,2^L + x_{\rm lo}`: spins 0..L-1 are those of
    ``lo``, spins L..N-1 those of ``hi``.  Returns ``(L, s_lo, s_hi)`` with the float spin tables
    ``s_lo`` (2^L, L) and ``s_hi`` (2^(N-L), N-L), so a vector over the states reshapes to a
    (2^(N-L), 2^L) matrix and sums over states become small matrix products."""
    L = min(int(N), SPLIT_BITS if low_bits is None else int(low_bits))
    return L, spins(L).astype(float), spins(int(N) - L).astype(float)


def chunks(N, size=None):
    """Yield ``(start, stop, s)`` over all states in blocks of ``size`` (default :data:`CHUNK`),
    ``s`` the float64 spins of the block."""
    n = n_states(N)
    size = CHUNK if size is None else size
    for start in range(0, n, size):
        stop = min(n, start + size)
        yield start, stop, spins(N, np.arange(start, stop)).astype(float)
