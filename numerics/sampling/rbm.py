r"""Block-Gibbs Monte Carlo for RBMs: many alternating Gibbs chains at once (numba).

One step of a chain is one alternating Gibbs update v → h → v (R2):

.. math:: h_\alpha = [u_\alpha < \sigma(x_\alpha)],\quad x = b + W^\top v;\qquad
          v_i = [u'_i < \sigma(y_i)],\quad y = a + W h ,

so ``histogram(sample(model, p0, k))`` estimates ``kernels.law(model, p0, k,
scan='alternating')`` = :math:`U^k p_0` (G2).  States in and out are the ±1 visible spins
:math:`s = 2v - 1`, one chain per row.

Implementation: since v and h are binary, :math:`x = b + \sum_{i: v_i = 1} W_{i\cdot}` is a sum of
rows of W over the active units only (cost (number of active units) × N_h, contiguous and
vectorised), and likewise for y with the rows of :math:`W^\top`; the active units are listed
first without a branch (a data-dependent branch per unit mispredicts half the time: it cost a
third of the run time).  The Gibbs test is :math:`u(1 + e^{-x}) < 1`, exact for every x (an
overflowing :math:`e^{-x}` gives h = 0).  (Accumulating :math:`e^x` as a product of tabulated
:math:`e^{W}` instead, with no exp per unit, was measured 15 % slower.)  The uniforms are 53-bit
doubles hashed from the address (seed, chain, step, draw) by :mod:`shortrun.numerics.core.rng`
(draws 0…N_h−1 for the hidden layer, N_h…N_h+N_v−1 for the visible one), so results depend on
the seed alone, not on the number of threads.  Chains run in parallel in blocks (``prange``);
small jobs on one thread.
Throughput against a numpy + BLAS sampler: ``benchmarks/bench_rbm_sampler.py``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from shortrun.conventions import check_steps
from shortrun.numerics.core import rng
from shortrun.numerics.models.rbm import RBM, check_chain
from shortrun.numerics.sampling.spins import (SERIAL_BELOW, check_chain_work, check_seed,
                                              check_times,
                                              initial_states as _spin_initial_states, threads)

#: Chains per work block of a thread.
CHAIN_BLOCK = 16


@njit(cache=True, inline="always")
def _layer(out, state, bias, T, skey, j0, acc, idx):
    """Draw one layer given the other: ``out[u] = [uniform < sigma(bias_u + sum_{active} T[i, u])]``.

    ``state`` is the conditioning layer as 0/1 bytes, ``T`` the weights seen from it; uniforms
    j0, j0+1, ... of ``skey``; ``acc`` (size of ``out``) and ``idx`` (size of ``state``) are work
    space.  The active units are listed without a branch (``m += state[i]``).
    """
    n = out.shape[0]
    m = 0
    for i in range(state.shape[0]):
        idx[m] = i
        m += state[i]
    for u in range(n):
        acc[u] = bias[u]
    for q in range(m):
        i = idx[q]
        for u in range(n):
            acc[u] += T[i, u]
    for u in range(n):
        out[u] = 1 if rng.uniform(skey, j0 + u) * (1.0 + np.exp(-acc[u])) < 1.0 else 0


@njit(cache=True, inline="always")
def _store(row, v):
    for i in range(v.shape[0]):
        row[i] = np.int8(2 * v[i] - 1)


@njit(cache=True, parallel=True)
def _run(a, b, Wv, Wh, states, k, seed, times, traj):
    """Advance every row of ``states`` (±1 int8, in place) by k alternating Gibbs steps and fill
    ``traj`` at the sorted integer ``times``.  ``Wv`` = W (N_v, N_h) feeds the hidden layer,
    ``Wh`` = W^T (N_h, N_v) the visible one."""
    n_chains, Nv = states.shape
    Nh = b.shape[0]
    for blk in prange((n_chains + CHAIN_BLOCK - 1) // CHAIN_BLOCK):
        v = np.empty(Nv, dtype=np.uint8)
        h = np.empty(Nh, dtype=np.uint8)
        x = np.empty(Nh)
        y = np.empty(Nv)
        iv = np.empty(Nv, dtype=np.int64)
        ih = np.empty(Nh, dtype=np.int64)
        for c in range(blk * CHAIN_BLOCK, min(n_chains, (blk + 1) * CHAIN_BLOCK)):
            for i in range(Nv):
                v[i] = 1 if states[c, i] > 0 else 0
            key = rng.chain_key(seed, c)
            ti = 0
            while ti < times.shape[0] and times[ti] == 0:
                _store(traj[ti, c], v)
                ti += 1
            for t in range(k):
                skey = rng.sweep_key(key, t)
                _layer(h, v, b, Wv, skey, 0, x, iv)
                _layer(v, h, a, Wh, skey, Nh, y, ih)
                while ti < times.shape[0] and times[ti] == t + 1:
                    _store(traj[ti, c], v)
                    ti += 1
            _store(states[c], v)


def _tables(model):
    """``(a, b, W, W^T)`` as contiguous float64 arrays for :func:`_run`."""
    return tuple(np.ascontiguousarray(x, dtype=np.float64)
                 for x in (model.a, model.b, model.W, model.W.T))


def sample(model, p0, k, rule="heatbath", scan="alternating", n_chains=None, seed=0, times=None):
    r"""Run ``n_chains`` alternating Gibbs chains of the RBM ``model`` for k steps from ``p0``;
    Monte Carlo twin of ``kernels.law(model, p0, k, scan='alternating')`` (G2).

    Parameters
    ----------
    model : RBM
    p0 : 'uniform', (n_chains, N_v) array of ±1 visible spins, or a vector over the 2^N_v states
    k : int
        Number of alternating Gibbs steps v → h → v.
    rule, scan : 'heatbath', 'alternating'
        The only update of an RBM chain (``RBM.RULES``, ``RBM.SCANS``).
    n_chains : int, optional
        Default 1000; taken from ``p0`` when states are given.
    seed : int
        Results are a function of ``seed`` alone (bit-identical whatever the thread count).
    times : sorted sequence of int, optional
        Grid times in [0, k]; then the trajectory of shape (len(times), n_chains, N_v) is
        returned instead of the final states.

    Returns
    -------
    numpy.ndarray of int8
        Visible spins ±1 after k steps, shape (n_chains, N_v), or the trajectory.
    """
    if not isinstance(model, RBM):
        raise ValueError(f"model must be an RBM(a, b, W); got {type(model).__name__}.")
    check_chain(rule, scan)
    k = check_steps(k, "k")
    seed = check_seed(seed)
    states, n = _spin_initial_states(p0, model.N_v, n_chains, seed)
    if times is None:
        grid = np.empty(0, dtype=np.int64)
    else:
        grid = check_times(times, k, integer=True).astype(np.int64)
        k = int(grid[-1])
    check_chain_work(k, n, model.N_v + model.N_h,
                     f"{model.N_v} visible and {model.N_h} hidden units")
    traj = np.empty((grid.shape[0], n, model.N_v), dtype=np.int8)
    work = n * model.N_v * model.N_h * max(k, 1)
    with threads(1 if work < 8 * SERIAL_BELOW else None):
        _run(*_tables(model), states, k, np.uint64(seed), grid, traj)
    return states if times is None else traj


def rbm_initial_states(model: RBM, p0, n_chains, seed):
    return _spin_initial_states(p0, model.N_v, n_chains, seed)[0]
