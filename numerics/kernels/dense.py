r"""Dense transition matrices, built directly from their definitions with numpy.

This is the *independent route* against which the matrix-free numba operators
(:mod:`shortrun.numerics.kernels.site_updates`) are tested, and the input of the spectral
decomposition.  Column-stochastic: ``U[x', x] = P(x -> x')``.

.. math::
    T_i[x^{\pm}, x] &= \tfrac12\left(1 \pm \tanh H_i(x)\right) \quad\text{(heat-bath)},\\
    T_i[x \oplus e_i, x] &= \min\!\left(1, e^{-2 s_i H_i(x)}\right),\ T_i[x,x] = 1 - T_i[x\oplus e_i, x]
    \quad\text{(Metropolis)},\\
    U_{\rm random} &= \Big(\tfrac1N\sum_i T_i\Big)^N,\quad U_{\rm sequential} = T_{N-1}\cdots T_0,\quad
    W_{\rm continuous} = \sum_i (T_i - I),\\
    U_{\rm parallel}[x', x] &= \prod_i P_i(s'_i \mid x).
"""
from __future__ import annotations

import numpy as np

from shortrun.conventions import RULES, SCANS, check_choice, check_site, memory_error
from shortrun.numerics.core.states import spins

#: Largest N for the dense 2^N x 2^N matrix (8·4^N bytes: 128 MiB at N = 12).
DENSE_MAX_N = 13


def check_dense_size(N):
    """Refuse a dense 2^N x 2^N matrix beyond :data:`DENSE_MAX_N`, naming the matrix-free route."""
    if N > DENSE_MAX_N:
        raise memory_error(f"a dense 2^N x 2^N matrix at N={N}", 8.0 * 4.0**N,
                           "use the matrix-free BMKernel(...).apply / .propagate instead.")


def _up_probability(model, rule, s, i):
    """P(s_i' = +1 | s) for each row of ``s`` after one update of site i."""
    H = model.local_fields(s)[:, i]
    si = s[:, i].astype(float)
    if rule == "heatbath":
        return 0.5 * (1.0 + np.tanh(H))
    flip = np.exp(np.minimum(0.0, -2.0 * si * H))
    return np.where(si > 0, 1.0 - flip, flip)


def site_matrix(model, rule, i):
    """Dense single-site operator :math:`T_i` (2^N x 2^N, column-stochastic)."""
    N = model.N
    check_dense_size(N)
    check_choice(rule, RULES, "rule")
    i = check_site(i, N)
    n = 1 << N
    x = np.arange(n)
    s = spins(N)
    up = _up_probability(model, rule, s, i)
    T = np.zeros((n, n))
    T[x | (1 << i), x] += up
    T[x & ~(1 << i), x] += 1.0 - up
    return T


def dense_kernel(model, rule, scan):
    """Dense U for ``scan`` in random/sequential/parallel, or the generator W for 'continuous'."""
    N = model.N
    check_dense_size(N)
    check_choice(rule, RULES, "rule")
    check_choice(scan, SCANS, "scan")
    n = 1 << N
    if scan == "parallel":
        s = spins(N)
        U = np.ones((n, n))
        for i in range(N):
            up = _up_probability(model, rule, s, i)
            U *= np.where(s[:, i][:, None] > 0, up[None, :], 1.0 - up[None, :])
        return U
    Ts = [site_matrix(model, rule, i) for i in range(N)]
    if scan == "sequential":
        U = np.eye(n)
        for T in Ts:
            U = T @ U
        return U
    if scan == "continuous":
        return sum(Ts) - N * np.eye(n)
    return np.linalg.matrix_power(sum(Ts) / N, N)
