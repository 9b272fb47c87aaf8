r"""Unadjusted Langevin (ULA) chains for the Gaussian EBM :math:`E(x) = \tfrac12 x^\top A x - h^\top x`.

One step (Ga):

.. math:: x_{t+1} = M x_t + \eta h + \sigma\xi_t,\qquad M = I - \eta A,\quad \xi_t \sim N(0, I),

with :math:`\sigma^2 = 2\eta` by default.  From :math:`x_0 \sim N(\mu_0, \Sigma_0)` the law after
k steps is Gaussian with the moments (Ga)

.. math:: \mu_k = M^k\mu_0 + (I - M^k)A^{-1}h,\qquad
          \Sigma_k = M^k\Sigma_0M^k + \sigma^2(I - M^{2k})(I - M^2)^{-1},

which is what the sample mean and covariance of :func:`sample_ula` estimate.  Normals come from
the counter-based :mod:`shortrun.numerics.core.rng` (bit-identical whatever the thread count).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from shortrun.numerics.core import rng
from shortrun.numerics.sampling.spins import (DEFAULT_CHAINS, INIT_SWEEP, SERIAL_BELOW,
                                              check_chain_work, check_n_chains, check_seed,
                                              check_times, threads)
from shortrun.conventions import check_steps
# the Gaussian-model argument conventions are those of shortrun.theory.gaussian.ula_moments
from shortrun import conventions as checks

__all__ = ["sample_ula"]


@njit(cache=True, inline="always")
def _normals(skey, z):
    """Fill z with independent N(0, 1) of the stream ``skey`` (pairs j, j+1 → two normals)."""
    d = z.shape[0]
    for j in range(0, d, 2):
        a, b = rng.normal_pair(skey, j)
        z[j] = a
        if j + 1 < d:
            z[j + 1] = b


@njit(cache=True, parallel=True)
def _ula(M, drift, sigma, mu0, L0, k, seed, times, traj):
    """Chains x_{t+1} = M x_t + drift + σ ξ from x_0 = μ0 + L0 z; returns x_k (n, d)."""
    n_chains = traj.shape[1]
    d = mu0.shape[0]
    out = np.empty((n_chains, d))
    for c in prange(n_chains):
        key = rng.chain_key(seed, c)
        z = np.empty(d)
        x = np.empty(d)
        y = np.empty(d)
        _normals(rng.sweep_key(key, INIT_SWEEP), z)
        for i in range(d):
            acc = mu0[i]
            for j in range(d):
                acc += L0[i, j] * z[j]
            x[i] = acc
        ti = 0
        while ti < times.shape[0] and times[ti] == 0:
            traj[ti, c, :] = x
            ti += 1
        for t in range(k):
            _normals(rng.sweep_key(key, t), z)
            for i in range(d):
                acc = drift[i] + sigma * z[i]
                for j in range(d):
                    acc += M[i, j] * x[j]
                y[i] = acc
            x[:] = y
            while ti < times.shape[0] and times[ti] == t + 1:
                traj[ti, c, :] = x
                ti += 1
        out[c, :] = x
    return out


def _square_root(Sigma0):
    """L with L Lᵀ = Σ0 for a symmetric positive semi-definite Σ0 (eigen-decomposition)."""
    w, V = np.linalg.eigh(Sigma0)
    if w.min() < -1e-10 * max(1.0, w.max()):
        raise ValueError(f"Sigma0 has a negative eigenvalue ({w.min():.3g}); a covariance is "
                         "positive semi-definite.")
    return np.ascontiguousarray(V * np.sqrt(np.clip(w, 0.0, None)))


def sample_ula(A, h, mu0, Sigma0, k, eta, sigma2=None, n_chains=None, seed=0, times=None):
    r"""Run ``n_chains`` ULA chains for k steps (Monte Carlo twin of the moments (Ga)).

    .. math:: x_{t+1} = (I - \eta A)x_t + \eta h + \sigma\xi_t,\qquad
              x_0 \sim N(\mu_0, \Sigma_0),\quad \sigma^2 = 2\eta \text{ by default}.

    Parameters
    ----------
    A : (d, d) symmetric array
    h, mu0 : (d,) arrays or scalars (broadcast)
    Sigma0 : (d, d) symmetric positive semi-definite array (may be singular), or a scalar
        ``s0**2`` meaning ``s0**2 * I`` — the conventions of
        :func:`shortrun.theory.gaussian.ula_moments`, whose (μ_k, Σ_k) this estimates.
    k : int
        Number of steps (≥ 0).
    eta : float
        Step size η > 0 (stability of the stationary law needs spec(A) ⊂ (0, 2/η); not required
        for a finite k).
    sigma2 : float, optional
        Noise variance σ² ≥ 0 (default 2η).
    n_chains : int, optional
        Default 1000.
    seed : int
    times : sorted integers in [0, k], optional
        Return the trajectory (len(times), n_chains, d) instead of the final states.

    Returns
    -------
    numpy.ndarray of float64, shape (n_chains, d) — or the trajectory (see ``times``).
    """
    A = checks.symmetric_matrix(A, "A")
    d = A.shape[0]
    h = checks.vector(h, d, "h")
    mu0 = checks.vector(mu0, d, "mu0")
    L0 = _square_root(checks.matrix(Sigma0, d, "Sigma0"))
    k = check_steps(k, "k")
    eta = checks.positive(eta, "eta")
    checks.check_ula_step(np.linalg.eigvalsh(A), eta)
    sigma2 = 2.0 * eta if sigma2 is None else checks.nonnegative(sigma2, "sigma2")
    n = DEFAULT_CHAINS if n_chains is None else check_n_chains(n_chains)
    seed = check_seed(seed)
    grid = np.empty(0) if times is None else check_times(times, k, integer=True)
    traj = np.empty((grid.shape[0], n, d)) if times is not None else np.empty((0, n, d))
    M = np.eye(d) - eta * A
    k_run = k if times is None else int(grid[-1])
    check_chain_work(k_run, n, d, f"dimension d={d}")
    with threads(1 if n * d * d * max(k_run, 1) < SERIAL_BELOW else None):
        out = _ula(M, eta * h, float(np.sqrt(sigma2)), mu0, L0, k_run, np.uint64(seed), grid, traj)
    result = out if times is None else traj
    if not np.all(np.isfinite(result)):
        if np.linalg.eigvalsh(A)[0] < 0:
            raise ValueError(f"the chains overflow float64 within k={k} steps: A has a negative "
                             "eigenvalue (a concave energy) along which the chains run away "
                             "exponentially; pass a smaller k (or times).")
        raise ValueError(f"the chains overflow float64 within k={k} steps although the step is "
                         "stable: h, mu0, Sigma0 or sigma2 are too large for float64 (|x| near "
                         "1e308); rescale them.")
    return result
