r"""Monte Carlo twin of the exact Potts kernels: many Potts chains at once (numba).

For :math:`E(\sigma) = -\sum_i h_i(\sigma_i) - \sum_{i<j} J_{ij}(\sigma_i, \sigma_j)`,
:math:`\sigma_i \in \{0, \dots, q-1\}`, the local field of colour a at site i is

.. math:: F_i(a) = h_i(a) + \sum_{j \ne i} J_{ij}(a, \sigma_j),

and a single-site update of site i (its colour a) draws the new colour b with (P2)

.. math::
    P(b) = \frac{e^{F_i(b)}}{\sum_c e^{F_i(c)}}\ \ \text{(heat-bath)},\qquad
    P(b) = \frac{1}{q-1}\min\big(1, e^{F_i(b) - F_i(a)}\big),\ b \ne a\ \ \text{(Metropolis:
    a uniformly random other colour, accepted with the Metropolis ratio)} .

One step k is one sweep exactly as in the exact kernels and in
:mod:`shortrun.numerics.sampling.spins`: N sites drawn uniformly with replacement
(``'random'``), or sites 0…N−1 in order (``'sequential'``).  So ``histogram(sample(...))``
estimates the exact k-step law :math:`U^k p_0` (G2) over the q^N states, index
:math:`x = \sum_i \sigma_i q^i`.

Implementation: each chain keeps its colours and its field table :math:`F` (N × q), updated
incrementally when a colour changes, :math:`F_j(\cdot) \mathrel{+}= J_{ji}(\cdot, b) -
J_{ji}(\cdot, a)` for all j (one contiguous row of N·q of the table
``Jb[i, b] = J[i, :, b, :]``, which vectorises), and recomputed from scratch every ``REFRESH``
sweeps.  Measured at N = 64, q = 4, sequential heat-bath, one thread: 165 ns per update with
this table, 420 ns recomputing the q fields of the updated site from the colours (N·q per
update, changed or not), 135 ns keeping :math:`e^{F}` instead (no exp per update, but two
tables and an overflow fallback: not worth it); running a block of chains in lock-step so
that ``Jb[i]`` stays in L1 gained 6% (not worth it either).  The heat-bath draw is the
inverse CDF of the normalised weights :math:`e^{F_i(b) - \max F_i}` (no overflow at any field).

Random numbers: 53-bit uniforms hashed from the address (seed, chain, sweep, draw) by the
counter-based :mod:`shortrun.numerics.core.rng`, so results depend on the seed alone, not on
the number of numba threads nor on how chains are grouped.  Draws of sweep t of a chain:
sequential, site i uses draws 2i (heat-bath colour / Metropolis proposal) and 2i + 1
(Metropolis acceptance); random, move n takes its site from draw 3n and then draws 3n + 1 and
3n + 2 the same way.  Threads take blocks of ``CHAIN_BLOCK`` chains (``prange``); small jobs run
on one thread.

The core (:func:`sample_arrays`) works on the arrays ``(h, J)`` alone; the registered wrapper
for :class:`~shortrun.numerics.models.potts.PottsMachine` only unpacks the model.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from shortrun.conventions import check_choice, check_distribution, check_steps, memory_error
from shortrun.numerics.core import rng
from shortrun.numerics.core.states import MEMORY_BUDGET
from shortrun.numerics.models.potts import PottsMachine, check_params, potts_index
from shortrun.numerics.sampling.spins import (DEFAULT_CHAINS, INIT_SWEEP, check_chain_work,
                                              check_n_chains, check_seed, check_times, threads)

__all__ = ["sample_arrays", "initial_colours", "check_colours", "histogram", "RULES", "SCANS"]

RULES = PottsMachine.RULES
SCANS = PottsMachine.SCANS
#: Sweeps between exact recomputations of the incrementally updated field tables.
REFRESH = 256
#: Chains per work block of a thread.
CHAIN_BLOCK = 16
#: Jobs with fewer single-site updates × colours than this run on one thread.
SERIAL_BELOW = 200_000

HEATBATH, METROPOLIS = 0, 1
RANDOM, SEQUENTIAL = 0, 1


# ---------------------------------------------------------------------------------------------
# numba core
# ---------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _set_fields(F, s, h, Jb):
    """F[i*q + a] = h[i, a] + Σ_j J[j, i, σ_j, a] = h_i(a) + Σ_j J_ij(a, σ_j), rows j in order."""
    N, q = h.shape
    for i in range(N):
        for a in range(q):
            F[i * q + a] = h[i, a]
    for j in range(N):
        b = s[j]
        for m in range(N * q):
            F[m] += Jb[j, b, m]


@njit(cache=True, inline="always")
def _change(F, Jb, i, a, b):
    """Site i changed from colour a to b: F_j(·) += J_ji(·, b) − J_ji(·, a) for every j."""
    for m in range(F.shape[0]):  # indexed without views: no reference counting in the loop
        F[m] += Jb[i, b, m] - Jb[i, a, m]


@njit(cache=True, inline="always")
def _new_colour(F, i, a, q, u, v, rule, w):
    """The colour of site i (now a) after one update, from uniforms u (heat-bath draw or
    Metropolis proposal) and v (Metropolis acceptance); ``w`` is work space of size q."""
    base = i * q
    if rule == HEATBATH:
        top = F[base]
        for c in range(1, q):
            top = max(top, F[base + c])
        tot = 0.0
        for c in range(q):
            tot += np.exp(F[base + c] - top)
            w[c] = tot
        x = u * tot
        b = q - 1
        for c in range(q - 1):
            if x < w[c]:
                b = c
                break
        return b
    r = min(int(u * (q - 1)), q - 2)  # uniformly one of the q - 1 other colours
    b = r + (r >= a)
    d = F[base + b] - F[base + a]
    if d >= 0.0 or v < np.exp(d):
        return b
    return a


@njit(cache=True, inline="always")
def _store(row, s):
    for i in range(s.shape[0]):
        row[i] = s[i]


@njit(cache=True)
def _chain(s, F, w, h, Jb, k, rule, scan, key, times, traj, c):
    """Advance one chain (colours ``s``) by k sweeps; record at the grid ``times``."""
    N, q = h.shape
    ti = 0
    while ti < times.shape[0] and times[ti] == 0:
        _store(traj[ti, c], s)
        ti += 1
    for t in range(k):
        if t % REFRESH == 0:
            _set_fields(F, s, h, Jb)
        skey = rng.sweep_key(key, t)
        for n in range(N):
            if scan == SEQUENTIAL:
                i = n
                u = rng.uniform(skey, 2 * n)
                v = rng.uniform(skey, 2 * n + 1) if rule == METROPOLIS else 0.0
            else:
                i = min(int(rng.uniform(skey, 3 * n) * N), N - 1)
                u = rng.uniform(skey, 3 * n + 1)
                v = rng.uniform(skey, 3 * n + 2) if rule == METROPOLIS else 0.0
            a = s[i]
            b = _new_colour(F, i, a, q, u, v, rule, w)
            if b != a:
                s[i] = b
                _change(F, Jb, i, a, b)
        while ti < times.shape[0] and times[ti] == t + 1:
            _store(traj[ti, c], s)
            ti += 1


@njit(cache=True, parallel=True)
def _run(h, Jb, states, k, rule, scan, seed, times, traj, block):
    """Advance every row of ``states`` (colours, int8, in place) by k sweeps; fill ``traj``.
    Chain c's random numbers depend on (seed, c) only: bit-identical for any thread count."""
    n_chains, N = states.shape
    q = h.shape[1]
    for blk in prange((n_chains + block - 1) // block):
        s = np.empty(N, dtype=np.int64)
        F = np.empty(N * q)
        w = np.empty(q)
        for c in range(blk * block, min(n_chains, (blk + 1) * block)):
            for i in range(N):
                s[i] = states[c, i]
            _chain(s, F, w, h, Jb, k, rule, scan, rng.chain_key(seed, c), times, traj, c)
            for i in range(N):
                states[c, i] = s[i]


@njit(cache=True, parallel=True)
def _init_colours(seed, cdf, n_chains, N, q):
    """Initial colours: uniform (``cdf`` empty: σ_i = ⌊q u_i⌋) or the digits of the index
    x = #{cdf ≤ u} (inverse CDF over the q^N states)."""
    out = np.empty((n_chains, N), dtype=np.int8)
    last = cdf.shape[0] - 1
    for c in prange(n_chains):
        skey = rng.sweep_key(rng.chain_key(seed, c), INIT_SWEEP)
        if last < 0:
            for i in range(N):
                out[c, i] = min(int(rng.uniform(skey, i) * q), q - 1)
        else:
            x = min(np.searchsorted(cdf, rng.uniform(skey, 0) * cdf[last], side="right"), last)
            for i in range(N):
                out[c, i] = x % q
                x //= q
    return out


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
def check_arrays(h, J):
    """Potts parameters validated by :func:`shortrun.numerics.models.potts.check_params`
    (shapes (N, q) and (N, N, q, q), finite, J[i, j, a, b] = J[j, i, b, a], J[i, i] = 0,
    2 <= q <= ``Q_MAX``), as float64 C arrays."""
    h, J = check_params(h, J)
    return np.ascontiguousarray(h), np.ascontiguousarray(J)


def check_colours(s, N, q, name="p0"):
    """An (n, N) array of colours in 0…q−1, returned as a new C-contiguous int8 array."""
    a = np.asarray(s)
    if a.ndim != 2 or a.shape[1] != N or a.shape[0] < 1:
        raise ValueError(f"{name} as states must have shape (n_chains, N) = (n, {N}); "
                         f"got shape {a.shape}.")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an integer array of colours 0..{q - 1}; got dtype "
                         f"{a.dtype}.")
    if not np.all((a >= 0) & (a <= q - 1) & (a == np.floor(a))):
        bad = a[~((a >= 0) & (a <= q - 1) & (a == np.floor(a)))].ravel()[0]
        raise ValueError(f"{name} must contain only the colours 0..{q - 1} (q = {q}); found "
                         f"{bad!r}.  Map symbols to colours first (e.g. np.unique(..., "
                         "return_inverse=True)).")
    return np.array(a, dtype=np.int8, order="C")


def _law_size(N, q, what):
    """q^N, refused with a MemoryError-style ValueError when a vector over it (24 bytes per
    state: the law, its CDF and a validated copy) does not fit ``MEMORY_BUDGET``."""
    n = q ** N
    if 24.0 * n > MEMORY_BUDGET:
        raise memory_error(f"{what} over q^N = {q}^{N} states", 24.0 * n,
                           "pass p0='uniform' or an array of states.")
    return n


def initial_colours(p0, N, q, n_chains, seed):
    """Chains' initial colours from ``p0``: 'uniform', an (n, N) array of colours (data
    samples or given states), or a probability vector over the q^N states (index
    x = Σ σ_i q^i).  Returns ``(states, n_chains)``; given states fix ``n_chains``."""
    if isinstance(p0, str):
        if p0 != "uniform":
            raise ValueError(f"p0={p0!r} is not known; pass 'uniform', a probability vector of "
                             f"length q^N, or states of shape (n_chains, {N}).")
    else:
        try:
            nd = np.ndim(p0)
        except (ValueError, TypeError):
            nd = -1
        if nd == 2:
            s = check_colours(p0, N, q)
            if n_chains is not None and check_n_chains(n_chains) != s.shape[0]:
                raise ValueError(f"n_chains={n_chains} differs from the {s.shape[0]} states given "
                                 "as p0; drop n_chains or pass that many states.")
            return s, s.shape[0]
        if nd != 1:
            raise ValueError(f"p0 must be 'uniform', a probability vector of length q^N = "
                             f"{q}^{N}, or states of shape (n_chains, {N}); got "
                             f"{'a ragged list' if nd < 0 else f'{nd} dimensions'}.")
    n = check_n_chains(DEFAULT_CHAINS if n_chains is None else n_chains)
    _check_memory(n, N, q, 0)
    seed = np.uint64(check_seed(seed))
    if isinstance(p0, str):
        cdf = np.empty(0)
    else:
        p = check_distribution(p0, _law_size(N, q, "a probability vector p0"), "p0")
        last = np.flatnonzero(p)[-1]  # never draw a zero-probability state, even at round-off
        cdf = np.cumsum(p[:last + 1])
    with threads(1 if n * N < SERIAL_BELOW else None):
        return _init_colours(seed, cdf, n, N, q), n


def _check_memory(n, N, q, n_times):
    """The int8 states and ``n_times`` snapshots, n·N·(1 + n_times) bytes, and the coupling
    table ``Jb``, 8 (N q)^2 bytes, must fit ``MEMORY_BUDGET``."""
    need = float(n) * N * (1 + n_times) + 8.0 * (N * q) ** 2
    if need > MEMORY_BUDGET:
        at = f" recorded at {n_times} times" if n_times else ""
        raise memory_error(f"n_chains={n} chains of N={N} sites with q={q} colours{at}", need,
                           "pass fewer chains (n_chains)" + (", or fewer times" if at else "")
                           + ".")


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def sample_arrays(h, J, p0, k, rule="heatbath", scan="random", n_chains=None, seed=0,
                  times=None):
    r"""Run ``n_chains`` Potts chains with fields ``h`` (N, q) and couplings ``J`` (N, N, q, q)
    for k sweeps from ``p0``; the Monte Carlo twin of the exact k-step law :math:`U^k p_0` (G2)
    of the single-site updates (P2).

    Parameters
    ----------
    h, J : arrays
        :math:`h_i(a)` = ``h[i, a]``, :math:`J_{ij}(a, b)` = ``J[i, j, a, b]`` =
        ``J[j, i, b, a]``, ``J[i, i] = 0``; finite.
    p0 : 'uniform', (n_chains, N) array of colours 0…q−1, or vector of length q^N
        Initial law: uniform, the given states (e.g. data samples, one per chain), or a
        probability vector over the states x = Σ σ_i q^i from which each chain draws.
    k : int
        Number of sweeps (N single-site updates).
    rule : {'heatbath', 'metropolis'}
    scan : {'random', 'sequential'}
    n_chains : int, optional
        Default 1000; taken from ``p0`` when states are given.
    seed : int
        Results are a function of ``seed`` alone (bit-identical whatever the thread count).
    times : sorted sequence of int, optional
        Grid times in [0, k]; then the trajectory of shape (len(times), n_chains, N) is
        returned instead of the final states.

    Returns
    -------
    numpy.ndarray of int8
        Colours after k sweeps, shape (n_chains, N), or the trajectory.
    """
    h, J = check_arrays(h, J)
    N, q = h.shape
    rule_id = HEATBATH if check_choice(rule, RULES, "rule") == "heatbath" else METROPOLIS
    scan_id = RANDOM if check_choice(scan, SCANS, "scan") == "random" else SEQUENTIAL
    k = check_steps(k, "k")
    seed = check_seed(seed)
    if times is None:
        grid = np.empty(0, dtype=np.int64)
    else:
        grid = check_times(times, k, integer=True).astype(np.int64)
        k = int(grid[-1])
    if n_chains is not None:
        _check_memory(check_n_chains(n_chains), N, q, grid.shape[0])
    states, n = initial_colours(p0, N, q, n_chains, seed)
    _check_memory(n, N, q, grid.shape[0])
    check_chain_work(k, n, N, f"N={N} units with q={q} colours")
    traj = np.empty((grid.shape[0], n, N), dtype=np.int8)
    Jb = np.ascontiguousarray(J.transpose(0, 2, 1, 3)).reshape(N, q, N * q)  # J[i, :, b, :]
    with threads(1 if n * N * q * max(k, 1) < SERIAL_BELOW else None):
        _run(h, Jb, states, int(k), rule_id, scan_id, np.uint64(seed), grid, traj, CHAIN_BLOCK)
    return states if times is None else traj


def histogram(states, q):
    r"""Empirical law :math:`\hat p(x) = \#\{c : x_c = x\}/n` over the q^N states of colours of
    shape (n, N)."""
    s = np.asarray(states)
    if s.ndim != 2 or s.shape[0] < 1:
        raise ValueError(f"states must have shape (n, N) with n >= 1; got {s.shape}.")
    size = _law_size(s.shape[1], q, "a histogram")
    return np.bincount(potts_index(s, q), minlength=size) / s.shape[0]


# ---------------------------------------------------------------------------------------------
# the model wrapper (the sampler and initial_states capabilities, numerics/registry.py)
# ---------------------------------------------------------------------------------------------
def _check_model(model):
    if not isinstance(model, PottsMachine):
        raise ValueError(f"model must be a PottsMachine(h, J) (shortrun.numerics.models.potts); "
                         f"got {type(model).__name__}.")
    return model


def sample(model, p0, k, rule="heatbath", scan="random", n_chains=None, seed=0, times=None):
    r"""Run ``n_chains`` chains of the Potts machine ``model`` for k sweeps from ``p0``; the
    Monte Carlo twin of ``kernels.law(model, p0, k, rule, scan)`` (G2).  Arguments and result as
    in :func:`sample_arrays` (the model provides ``h`` and ``J``)."""
    _check_model(model)
    return sample_arrays(model.h, model.J, p0, k, rule, scan, n_chains, seed, times)


def initial_states(model, p0, n_chains, seed):
    """``n_chains`` initial colour configurations of ``model``'s chains drawn from ``p0``
    ('uniform', a law over the q^N states, or given states), a function of ``seed`` alone."""
    _check_model(model)
    return initial_colours(p0, model.N, model.q, n_chains, seed)[0]
