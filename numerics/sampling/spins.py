r"""Monte Carlo twins of the exact kernels: many Boltzmann-machine chains at once (numba).

For :math:`E(s) = -\sum_{i<j} J_{ij}s_is_j - \sum_i h_i s_i` and the local field
:math:`H_i = h_i + \sum_j J_{ij} s_j`, a single-site update of spin *i* flips it with probability

.. math::
    f(y) = \frac{1}{1+e^{y}}\ \ \text{(heat-bath)},\qquad
    f(y) = \min(1, e^{-y})\ \ \text{(Metropolis)},\qquad y = 2 s_i H_i ,

(heat-bath flipping with :math:`f` is the same as drawing :math:`P(s_i=+1) = (1+\tanh H_i)/2`).
One step k is one sweep exactly as in :mod:`shortrun.numerics.kernels`: N sites drawn uniformly
with replacement (``'random'``), sites 0…N−1 (``'sequential'``), all sites from the old state
(``'parallel'``); ``'continuous'`` runs the continuous-time chain (each site rings at rate 1,
time in sweeps), whose law is :math:`e^{tW}p_0`.  So ``histogram(sample(model, p0, k, ...))``
estimates ``kernels.law(model, p0, k, ...)`` = :math:`U^k p_0` (G2).

Implementation: each chain keeps its spins (as float64) and a field variable per site, updated
in O(N) (one vectorised row operation) only when a spin flips, and recomputed from scratch every
``REFRESH`` sweeps.  When every local field is bounded, :math:`\max_i(|h_i| + \sum_j|J_{ij}|)
\le` ``MUL_FIELD_MAX``, the variable is :math:`E_i = e^{2H_i}`, updated by
:math:`E_j \mathrel{*}= e^{4 s_i' J_{ij}}` (tables of :math:`e^{\pm4J}`), and the flip test needs
no transcendental at all: heat-bath flips iff :math:`u(1+E_i) < 1` (:math:`s_i=+1`) or
:math:`u(1+E_i) < E_i` (:math:`s_i=-1`); Metropolis iff :math:`uE_i < 1` or :math:`u < E_i`.
Otherwise (huge couplings) it is :math:`H_i` itself, :math:`H_j \mathrel{+}= 2 s_i' J_{ij}`, and
one exp per update: :math:`u(1+e^{y}) < 1`, resp. :math:`y \le 0` or :math:`u < e^{-y}`.
(A tabulated squeeze of f was tried and measured slower than the exp: its data-dependent branch
mispredicts.)  Uniforms are 53-bit doubles hashed from the address (seed, chain, sweep, draw) by
the counter-based :mod:`shortrun.numerics.core.rng` (a few ns each, no state), so results depend on
the seed only, not on the number of numba threads.  Draws of sweep t of a chain: sequential,
site i tests with draw i; random, move n takes its site from draw 2n and its test from draw
2n + 1; parallel, site i tests with draw i; continuous, the unit interval [t, t+1) (sweep t)
holds K ~ Poisson(N) events (K from draw ``COUNT_DRAW``), event n in time order a random-scan
move (draws 2n, 2n + 1), its time, needed only when a grid time or the end lies inside the
interval, the n-th smallest of t + u_m, u_m = draw ``TIME_DRAW`` + m, m < K (given K, the
event times of a Poisson process are independent uniforms): exact, no logarithm per event, and
a path that does not depend on the recorded times.

Threads take blocks of ``CHAIN_BLOCK`` chains (``prange``; small jobs run on one thread).  Random
and sequential sweeps run a block in lock-step: at each move, the flip tests of all chains of the
block are taken together without a branch, as the bits of one 64-bit word (a coin-flip ``if``
mispredicts a quarter of the time and cost about 40% of a sweep), and only the flipped chains,
its set bits, update their field rows (row i of the tables, shared by the block, stays in L1 for
a sequential sweep).  Each chain still sees exactly its own moves in its own order with the same
floating-point operations, so the results do not depend on the block size either.  Continuous
time runs its random-scan moves the same way, chain c taking part in moves n < K_c only.
Parallel sweeps run chain after chain and list their flips without a branch.  See
``benchmarks/bench_sampler.py``.
"""
from __future__ import annotations

import numbers
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

from shortrun.numerics.core import rng, work
from shortrun.numerics.core import states as _states
from shortrun.numerics.core.states import check_size, index, n_states
from shortrun.numerics.kernels.base import poisson_weights
from shortrun.numerics.models.boltzmann import BoltzmannMachine, check_params
from shortrun.conventions import (RULES, SCANS, check_choice, check_distribution, check_real,
                                  check_seed, check_steps, memory_error)

__all__ = ["sample", "histogram", "stats", "stats_error", "DEFAULT_CHAINS"]

DEFAULT_CHAINS = 1000
#: Sweeps between exact recomputations of the incrementally updated local fields.
REFRESH = 256
#: Chains per work block of a thread (at most 64).
CHAIN_BLOCK = 32
#: Jobs with fewer single-site updates than this run on one thread (no thread wake-up cost;
#: same numbers, since they depend on the seed only).
SERIAL_BELOW = 200_000
#: Largest bound on |H_i| for which the chains keep E_i = e^{2 H_i} instead of H_i.
MUL_FIELD_MAX = 150.0
#: Reserved sweep number of the draws that make the initial states.
INIT_SWEEP = 1 << 62
#: Continuous time: reserved draw numbers of an interval's event count and event times.
COUNT_DRAW, TIME_DRAW = 1 << 62, 1 << 61

HEATBATH, METROPOLIS = 0, 1

#: Index of the lowest set bit of a 64-bit word w: ``_LOWEST[((w & -w) * _DE_BRUIJN) >> 58]``
#: (a de Bruijn sequence: the top 6 bits of 2^c times it are distinct for c = 0 … 63).
_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_LOWEST = np.zeros(64, dtype=np.int64)
for _c in range(64):
    _LOWEST[((1 << _c) * 0x03F79D71B4CB0A89 % (1 << 64)) >> 58] = _c
RANDOM, SEQUENTIAL, PARALLEL, CONTINUOUS = 0, 1, 2, 3
_SCAN_ID = {"random": RANDOM, "sequential": SEQUENTIAL, "parallel": PARALLEL,
            "continuous": CONTINUOUS}


# ---------------------------------------------------------------------------------------------
# numba core
# ---------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _lowest_bit(w):
    """Index of the lowest set bit of the non-zero uint64 ``w`` (de Bruijn multiplication)."""
    return _LOWEST[((w & (~w + np.uint64(1))) * _DE_BRUIJN) >> np.uint64(58)]


@njit(cache=True, inline="always")
def _flips(u, si, fi, rule, mul):
    """Flip test u < f(y), y = 2 s_i H_i, from the field variable f_i = H_i or E_i = e^{2H_i},
    without a data-dependent branch (selects only: the blocked sweeps vectorise it over chains).

    Additive (``mul`` False): heat-bath u(1 + e^y) < 1; Metropolis y <= 0 or u < e^{-y}.
    Multiplicative, no exp: heat-bath u(1 + E_i) < (1 if s_i > 0 else E_i); Metropolis
    u E_i < 1 (s_i > 0) or u < E_i (s_i < 0).
    """
    pos = si > 0.0
    if mul:
        if rule == HEATBATH:
            return u * (1.0 + fi) < (1.0 if pos else fi)
        return u * (fi if pos else 1.0) < (1.0 if pos else fi)
    y = 2.0 * si * fi
    if rule == HEATBATH:
        return u * (1.0 + np.exp(y)) < 1.0
    return (y <= 0.0) | (u < np.exp(-y))  # e^{-y} = inf for y < -709 is a flip, as it should


@njit(cache=True, inline="always")
def _set_fields(S, F, h, T, mul):
    """Recompute the field variables ``F[c, :N]`` of chains c = 0 … C−1 from their spins
    ``S[:, c]`` (S of shape (N, C)), row by row in the order j = 0, 1, …, for all chains at each
    row (the row stays in L1; the loops carry no dependency and vectorise):
    F = H = h + Σ_j J[j] s_j (``h`` = the fields, T = [J]), or, multiplicatively, without a
    transcendental, E = e^{2h} ∏_j e^{2 s_j J[j]} (``h`` = e^{2h}, T = [J, e^{4J}, e^{−4J},
    e^{2J}, e^{−2J}]; every partial product is e^{2x} with |x| ≤ ``MUL_FIELD_MAX``: normal)."""
    N, C = S.shape
    for c in range(C):
        for i in range(N):
            F[c, i] = h[i]
    for j in range(N):
        for c in range(C):
            if mul:
                m = 3 if S[j, c] > 0.0 else 4
                for i in range(N):
                    F[c, i] *= T[m, j, i]
            else:
                sj = S[j, c]
                for i in range(N):
                    F[c, i] += T[0, j, i] * sj


@njit(cache=True, inline="always")
def _flip_row(F, c, T, i, s_new, mul):
    """The fields ``F[c]`` after spin i flipped to ``s_new``, for all j (J_ii = 0 leaves site i
    as it is): H_j += 2 s_i' J_ij or E_j *= e^{4 s_i' J_ij}; ``T`` stacks J, e^{4J}, e^{−4J} (a
    single array, indexed without views: keeps reference counting out of the hot loop)."""
    N = T.shape[2]
    if mul:
        m = 1 if s_new > 0.0 else 2
        for j in range(N):
            F[c, j] *= T[m, i, j]
    else:
        d = 2.0 * s_new
        for j in range(N):
            F[c, j] += d * T[0, i, j]


@njit(cache=True, inline="always")
def _compact(G, L, n):
    """L[:m] = the indices q < n with G[q] true, in increasing order; returns m (no branch)."""
    m = 0
    for q in range(n):
        L[m] = q
        m += G[q]
    return m


@njit(cache=True)
def _parallel_sweep(s, F, T, mul, skey, rule, G, L):
    """One parallel step of one chain (spins ``s``, fields ``F[0]``): every decision from the
    old state (uniform i for site i), then the flips."""
    N = s.shape[0]
    for i in range(N):
        G[i] = _flips(rng.uniform(skey, i), s[i], F[0, i], rule, mul)
    for q in range(_compact(G, L, N)):
        i = L[q]
        s[i] = -s[i]
        _flip_row(F, 0, T, i, s[i], mul)


@njit(cache=True)
def _block_moves(S, F, T, skeys, U, V, I, n0, n1, limit, sequential, mul, rule):
    """Moves n0 … n1 − 1 of a block of C ≤ 64 chains in lock-step (chain c: spins ``S[:, c]``,
    fields ``F[c, :N]``, sweep key ``skeys[c]``).  At each move the C flip tests are taken
    together without a branch, as the bits of one word, then the flipped chains (its set bits,
    lowest first) flip and update their field rows; each chain sees exactly its own moves in its
    own order, so the result does not depend on C.  Draws: sequential, move i tests site i with
    uniform i; random (and continuous), move n takes its site from uniform 2n and its test from
    uniform 2n + 1, and chain c makes only its moves n < ``limit[c]``.  (Called with constant
    ``sequential`` and ``rule``, each call compiles to its own specialised loops: 15% faster than
    one call with runtime flags.)"""
    N, C = S.shape
    for n in range(n0, n1):
        flips = np.uint64(0)
        if sequential:
            for c in range(C):
                U[c] = rng.uniform(skeys[c], n)
            for c in range(C):
                flips |= np.uint64(_flips(U[c], S[n, c], F[c, n], rule, mul)) << np.uint64(c)
        else:
            for c in range(C):  # the draws in a loop of their own: 7% faster
                V[c] = rng.uniform(skeys[c], 2 * n)
                U[c] = rng.uniform(skeys[c], 2 * n + 1)
            for c in range(C):
                I[c] = min(int(V[c] * N), N - 1)  # guard against round-up
            for c in range(C):
                flips |= (np.uint64(_flips(U[c], S[I[c], c], F[c, I[c]], rule, mul)
                                    & (n < limit[c])) << np.uint64(c))
        while flips:
            c = _lowest_bit(flips)
            flips &= flips - np.uint64(1)
            i = n if sequential else I[c]
            S[i, c] = -S[i, c]
            _flip_row(F, c, T, i, S[i, c], mul)


@njit(cache=True, inline="always")
def _block_sweep(S, F, T, mul, skeys, rule, scan, U, V, I, n0, n1, limit):
    """Moves n0 … n1 − 1 of a block of chains (:func:`_block_moves`)."""
    if scan == SEQUENTIAL:
        if rule == HEATBATH:
            _block_moves(S, F, T, skeys, U, V, I, n0, n1, limit, True, mul, HEATBATH)
        else:
            _block_moves(S, F, T, skeys, U, V, I, n0, n1, limit, True, mul, METROPOLIS)
    elif rule == HEATBATH:
        _block_moves(S, F, T, skeys, U, V, I, n0, n1, limit, False, mul, HEATBATH)
    else:
        _block_moves(S, F, T, skeys, U, V, I, n0, n1, limit, False, mul, METROPOLIS)


@njit(cache=True, inline="always")
def _store(row, s):
    for i in range(s.shape[0]):
        row[i] = np.int8(s[i])


@njit(cache=True, inline="always")
def _record(traj, ti, times, c, s, upto):
    """Store ``s`` (chain c) at every grid time ≤ upto not yet stored."""
    while ti < times.shape[0] and times[ti] <= upto:
        _store(traj[ti, c], s)
        ti += 1
    return ti


@njit(cache=True, inline="always")
def _store_column(row, S, c):
    """``row`` (int8 spins of one chain) = column c of the block's spins ``S`` (N, C)."""
    for i in range(S.shape[0]):
        row[i] = np.int8(S[i, c])


@njit(cache=True, inline="always")
def _record_block(traj, ti, times, c0, S, upto):
    """Store the block's states (chains c0 + c, spins ``S[:, c]``) at every grid time ≤ upto
    not yet stored."""
    while ti < times.shape[0] and times[ti] <= upto:
        for c in range(S.shape[1]):
            _store_column(traj[ti, c0 + c], S, c)
        ti += 1
    return ti


@njit(cache=True)
def _run_block(h, T, mul, states, c0, C, k, rule, scan, seed, times, traj, cdf):
    """Random, sequential or continuous-time chains c0 … c0 + C − 1 in lock-step
    (:func:`_block_moves`) up to time ``k``; fields recomputed every ``REFRESH`` sweeps.

    Continuous time (each site rings at rate 1): the unit interval [t, t+1) of chain c, sweep
    key t, holds K ~ Poisson(N) events (K from uniform ``COUNT_DRAW`` through the Poisson CDF
    ``cdf``), each a random-scan move (site from uniform 2n, test from 2n + 1, in time order).
    Their times matter only if a grid time or the end k lies inside the interval: then they are
    the sorted t + u_n with u_n uniform ``TIME_DRAW + n`` (given K, the times of a Poisson process
    are independent uniforms), events after k are dropped and the state before event n is the
    state at a grid time earlier than its time.  The path does not depend on ``times``.
    """
    N = states.shape[1]
    nt = times.shape[0]
    S = np.empty((N, C))  # site-major: a move reads one contiguous row of spins
    F = np.empty((C, 8 * (((N + 7) // 8) | 1)))  # chain rows, their stride an odd number of
    # 64-byte lines: fewer cache-set conflicts
    keys = np.empty(C, dtype=np.uint64)
    skeys = np.empty(C, dtype=np.uint64)
    U = np.empty(C)
    V = np.empty(C)
    I = np.empty(C, dtype=np.int64)
    limit = np.full(C, N)  # moves per chain in this interval
    ti_c = np.empty(C, dtype=np.int64)  # next grid time of each chain (continuous time)
    k_max = max(cdf.shape[0] - 1, 0)
    tau = np.empty((C, k_max))  # event times (continuous time)
    timed = False
    for c in range(C):
        for i in range(N):
            S[i, c] = states[c0 + c, i]
        keys[c] = rng.chain_key(seed, c0 + c)
    ti = _record_block(traj, 0, times, c0, S, 0.0)
    t = 0
    while t < k:
        if t % REFRESH == 0:
            _set_fields(S, F, h, T, mul)
        for c in range(C):
            skeys[c] = rng.sweep_key(keys[c], t)
        stop = min(t + 1.0, k)
        moves, step = N, N  # moves n = 0 … moves − 1, in calls of ``step`` moves
        if scan == CONTINUOUS:
            for c in range(C):
                u = rng.uniform(skeys[c], COUNT_DRAW)
                limit[c] = min(np.searchsorted(cdf, u, side="right"), k_max)
            timed = stop < t + 1.0 or (ti < nt and times[ti] < stop)  # the times matter
            if timed:
                for c in range(C):
                    for n in range(limit[c]):
                        tau[c, n] = t + rng.uniform(skeys[c], TIME_DRAW + n)
                    tau[c, :limit[c]].sort()
                    if stop < t + 1.0:  # the events before the end (a t + u rounded up
                        m = 0               # to t + 1 stays in a whole interval)
                        while m < limit[c] and tau[c, m] < stop:
                            m += 1
                        limit[c] = m
                    ti_c[c] = ti
            moves = limit.max()
            step = 1 if timed else max(moves, 1)
        for n in range(0, moves, step):
            if scan == CONTINUOUS and timed:  # chain c at the grid times before its event n
                for c in range(C):
                    while ti_c[c] < nt and n < limit[c] and times[ti_c[c]] < tau[c, n]:
                        _store_column(traj[ti_c[c], c0 + c], S, c)
                        ti_c[c] += 1
            _block_sweep(S, F, T, mul, skeys, rule, scan, U, V, I, n, min(n + step, moves), limit)
        if scan == CONTINUOUS and timed:
            for c in range(C):  # the grid times after the chain's last event
                while ti_c[c] < nt and times[ti_c[c]] <= stop:
                    _store_column(traj[ti_c[c], c0 + c], S, c)
                    ti_c[c] += 1
            ti = ti_c[0]
        ti = _record_block(traj, ti, times, c0, S, stop)
        t += 1
    for c in range(C):
        _store_column(states[c0 + c], S, c)


@njit(cache=True)
def _run_parallel(s, F, h, T, mul, key, k, rule, times, traj, c, G, L):
    ti = _record(traj, 0, times, c, s, 0.0)
    for t in range(k):
        if t % REFRESH == 0:
            _set_fields(s.reshape((s.shape[0], 1)), F, h, T, mul)
        _parallel_sweep(s, F, T, mul, rng.sweep_key(key, t), rule, G, L)
        ti = _record(traj, ti, times, c, s, t + 1.0)


@njit(cache=True, parallel=True)
def _run(h, T, mul, states, k, rule, scan, seed, times, traj, block, cdf):
    """Advance every row of ``states`` (in place) by time ``k``; fill ``traj`` at ``times``.

    ``(h, T, mul)``: see :func:`_field_tables`; ``cdf``: the Poisson(N) CDF of
    :func:`_poisson_cdf` (continuous time) or empty.  Threads take blocks of ``block`` chains;
    random, sequential and continuous-time chains run each block in lock-step
    (:func:`_run_block`), parallel ones chain after chain.  Each chain's random numbers depend on
    (seed, chain index) only, and so do the results: bit-identical for any ``block`` and thread
    count.
    """
    n_chains, N = states.shape
    block = min(block, 64)  # a lock-step block's flip tests are the bits of one 64-bit word
    for b in prange((n_chains + block - 1) // block):
        c0 = b * block
        C = min(n_chains, c0 + block) - c0
        if scan != PARALLEL:
            _run_block(h, T, mul, states, c0, C, k, rule, scan, seed, times, traj, cdf)
            continue
        s = np.empty(N)
        F = np.empty((1, N))
        G = np.empty(N, dtype=np.int64)
        L = np.empty(N, dtype=np.int64)
        for c in range(c0, c0 + C):
            for i in range(N):
                s[i] = states[c, i]
            _run_parallel(s, F, h, T, mul, rng.chain_key(seed, c), int(k), rule, times, traj, c,
                          G, L)
            _store(states[c], s)


@njit(cache=True, parallel=True)
def _init_states(seed, cdf, n_chains, N):
    """Initial states: uniform bits if ``cdf`` is empty, else index x = #{cdf ≤ u} (inverse CDF)."""
    out = np.empty((n_chains, N), dtype=np.int8)
    last = cdf.shape[0] - 1
    for c in prange(n_chains):
        skey = rng.sweep_key(rng.chain_key(seed, c), INIT_SWEEP)
        if last < 0:
            for i in range(N):
                out[c, i] = 1 if (rng.draw(skey, i >> 6) >> np.uint64(i & 63)) & np.uint64(1) else -1
        else:
            x = min(np.searchsorted(cdf, rng.uniform(skey, 0) * cdf[last], side="right"), last)
            for i in range(N):
                out[c, i] = 1 if (x >> i) & 1 else -1
    return out


# ---------------------------------------------------------------------------------------------
# validation of the public arguments
# ---------------------------------------------------------------------------------------------
_LONG_CHAINS = ("For k far beyond the chain's mixing time the states are draws from the "
                "kernel's stationary law: a shorter run with a burn-in of a few mixing times "
                "gives the same law")


def check_chain_work(k, n_chains, per_chain, what):
    """Refuse up front a Monte Carlo run of ``n_chains`` chains for k sweeps whose
    ``k * n_chains * per_chain`` unit updates would take hours
    (:func:`shortrun.numerics.core.work.check_work`) -- it would run with nothing to show."""
    work.check_work(k, float(n_chains) * per_chain,
                    f"Monte Carlo sampling ({n_chains} chains of {what})",
                    "chains (n_chains)", _LONG_CHAINS)


def check_n_chains(n_chains, N=None, n_times=0):
    """A positive integer number of chains.  Given the number of spins ``N``, also one whose
    arrays fit in ``states.MEMORY_BUDGET``: the int8 states and ``n_times`` recorded snapshots,
    n_chains·N·(1 + n_times) bytes, plus the field tables and their temporaries, 80·N² bytes."""
    if isinstance(n_chains, (bool, np.bool_)) or not isinstance(n_chains, numbers.Integral) \
            or n_chains < 1:
        raise ValueError(f"n_chains={n_chains!r} must be a positive integer number of chains.")
    if N is not None:
        need = float(n_chains) * N * (1 + n_times) + 80.0 * N * N
        if need > _states.MEMORY_BUDGET:
            at = f" recorded at {n_times} times" if n_times else ""
            raise memory_error(f"n_chains={n_chains} chains of N={N} spins{at}", need,
                               "pass fewer chains (n_chains)" + (", or fewer times" if at else "")
                               + ".")
    return int(n_chains)


def check_states(s, N, name="p0"):
    """An (n, N) array of ±1 spins, returned as a new C-contiguous int8 array."""
    a = np.asarray(s)
    if a.ndim != 2 or a.shape[1] != N or a.shape[0] < 1:
        raise ValueError(f"{name} as states must have shape (n_chains, N) = (n, {N}); "
                         f"got shape {a.shape}.")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real array of -1 and +1 spins; got dtype {a.dtype}.")
    if not np.all((a == 1) | (a == -1)):
        raise ValueError(f"{name} must contain only -1 and +1 spins; convert 0/1 data with "
                         "shortrun.numerics.core.states.from01().")
    return np.array(a, dtype=np.int8, order="C")


def check_times(times, k, integer):
    """Sorted grid times in [0, k] as float64 (integers for discrete chains)."""
    try:
        values = np.atleast_1d(times)
    except (ValueError, TypeError):  # a ragged list
        raise ValueError("times must be a sorted 1-D sequence of times; got a ragged list "
                         f"{times!r}.") from None
    if values.ndim != 1:
        raise ValueError(f"times must be a sorted 1-D sequence of times; got shape "
                         f"{values.shape}.")
    t = [check_steps(x, "times", integer=integer) for x in values.tolist()]
    if not t:
        raise ValueError("times is empty; pass None for the final states only, or some times.")
    if any(b < a for a, b in zip(t, t[1:])):
        raise ValueError("times must be sorted in increasing order; pass np.sort(times).")
    if t[-1] > k:
        raise ValueError(f"times reach {t[-1]} > k = {k}; pass k >= max(times).")
    return np.asarray(t, dtype=np.float64)


def initial_states(p0, N, n_chains, seed):
    """Chains' initial states from ``p0``: 'uniform', an (n, N) ±1 array, or a vector over 2^N.

    Returns ``(states, n_chains)``: an array given as ``p0`` fixes ``n_chains`` (an explicit
    different ``n_chains`` is an error).
    """
    if not isinstance(p0, str):
        try:
            np.shape(p0)
        except (ValueError, TypeError):
            raise ValueError(f"p0 is a ragged list; pass 'uniform', a probability vector of "
                             f"length 2^N = {1 << N}, or states of shape (n_chains, {N}).") from None
    if not isinstance(p0, str) and np.ndim(p0) == 2:
        s = check_states(p0, N)
        if n_chains is not None and check_n_chains(n_chains, N) != s.shape[0]:
            raise ValueError(f"n_chains={n_chains} differs from the {s.shape[0]} states given "
                             "as p0; drop n_chains or pass that many states.")
        return s, s.shape[0]
    n = check_n_chains(DEFAULT_CHAINS if n_chains is None else n_chains, N)
    seed = np.uint64(check_seed(seed))
    if isinstance(p0, str) and p0 == "uniform":
        cdf = np.empty(0)
    else:
        if not isinstance(p0, str) and np.ndim(p0) != 1:
            raise ValueError(f"p0 has {np.ndim(p0)} dimensions; pass 'uniform', a probability "
                             f"vector of length 2^N = {1 << N}, or states of shape "
                             f"(n_chains, {N}).")
        # the validated copy, its cumulative sums and the nonzero indices: 24 bytes per state
        check_size(N, 24, "a probability vector p0", "pass p0='uniform' or an array of states.")
        p = check_distribution(p0, n_states(N), "p0")
        last = np.flatnonzero(p)[-1]  # never draw a zero-probability state, even at round-off
        cdf = np.cumsum(p[:last + 1])
    with threads(1 if n * N < SERIAL_BELOW else None):
        return _init_states(seed, cdf, n, N), n


@contextmanager
def threads(n):
    """Run the enclosed numba calls on ``n`` threads (at most ``NUMBA_NUM_THREADS``; None: leave
    the setting as it is); the previous setting is restored on exit."""
    old = numba.get_num_threads()
    if n is not None:
        numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _model_arrays(model):
    """``(h, J)`` of a BoltzmannMachine, validated again (shapes, finite, symmetric J with zero
    diagonal) before numba reads them: a model altered after construction is refused too."""
    if not isinstance(model, BoltzmannMachine):
        raise ValueError("model must be a BoltzmannMachine(h, J) (shortrun.numerics.models); got "
                         f"{type(model).__name__}.")
    h, J = check_params(check_real(model.h, "h"), check_real(model.J, "J"))
    return np.ascontiguousarray(h, dtype=np.float64), np.ascontiguousarray(J, dtype=np.float64)


def _poisson_cdf(lam):
    """CDF of Poisson(``lam``) at k = 0 … k_max, the tail beyond k_max below 1e-40 (from the
    uniformisation weights :func:`shortrun.numerics.kernels.poisson_weights`)."""
    return np.cumsum(poisson_weights(lam, tail=1e-40))


def _field_tables(h, J):
    """``(h, T, mul)`` for the kernels, ``(e^{2h}, [J, e^{4J}, e^{−4J}, e^{2J}, e^{−2J}], True)`` or
    ``(h, [J], False)``: the multiplicative field representation
    E_i = e^{2H_i} (no exp per update) when every local field of every state is bounded by
    ``MUL_FIELD_MAX`` = max_i(|h_i| + Σ_j |J_ij|) (then E, e^{±4J} and their products stay
    finite and normal), else the additive one (H_i, one exp per update)."""
    bound = float(np.max(np.abs(h) + np.abs(J).sum(axis=1), initial=0.0))
    if bound <= MUL_FIELD_MAX:
        return (np.exp(2.0 * h),
                np.stack([J, np.exp(4.0 * J), np.exp(-4.0 * J), np.exp(2.0 * J), np.exp(-2.0 * J)]),
                True)
    return h, J[None].copy(), False


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def sample(model, p0, k, rule="heatbath", scan="random", n_chains=None, seed=0, times=None):
    r"""Run ``n_chains`` independent chains for k steps from ``p0``; Monte Carlo twin of
    :func:`shortrun.numerics.kernels.law`.

    The empirical law of the returned states estimates (G2)

    .. math:: p(k, p_0) = U^k p_0, \qquad U[x', x] = P(x \to x')\ \text{(column-stochastic)},

    with U the kernel of ``kernels.BMKernel(model, rule, scan)``.

    Parameters
    ----------
    model : BoltzmannMachine
        Provides ``h`` (N,) and ``J`` (N, N).
    p0 : 'uniform', array of shape (n_chains, N) with ±1 entries, or vector of length 2^N
        Initial law: uniform, the given initial states (one per chain), or a probability vector
        from which each chain draws its initial state (bit i of the index ⇔ s_i = +1).
    k : int
        Number of sweeps (a real time in sweeps for ``scan='continuous'``).
    rule : {'heatbath', 'metropolis'}
    scan : {'random', 'sequential', 'parallel', 'continuous'}
    n_chains : int, optional
        Number of chains (default ``DEFAULT_CHAINS`` = 1000; taken from ``p0`` when states are
        given).
    seed : int
        Results are a function of ``seed`` alone (bit-identical whatever the thread count).
    times : sorted sequence, optional
        Grid times in [0, k]; then the trajectory of shape (len(times), n_chains, N) is returned
        instead of the final states (the chains are run up to ``max(times)`` only).

    Returns
    -------
    numpy.ndarray of int8
        States after k sweeps, shape (n_chains, N); or the trajectory (see ``times``).
    """
    h, J = _model_arrays(model)
    N = h.shape[0]
    rule_id = HEATBATH if check_choice(rule, RULES, "rule") == "heatbath" else METROPOLIS
    scan_id = _SCAN_ID[check_choice(scan, SCANS, "scan")]
    k = check_steps(k, "k", integer=scan_id != CONTINUOUS)
    seed = check_seed(seed)
    if times is None:
        grid = np.empty(0)
    else:
        grid = check_times(times, k, integer=scan_id != CONTINUOUS)
        k = grid[-1]
    if n_chains is not None:  # before any state is allocated
        check_n_chains(n_chains, N, grid.shape[0])
    states, n = initial_states(p0, N, n_chains, seed)
    check_n_chains(n, N, grid.shape[0])
    check_chain_work(k, n, N, f"N={N} spins")
    traj = np.empty((grid.shape[0], n, N), dtype=np.int8)
    with threads(1 if n * N * max(k, 1.0) < SERIAL_BELOW else None):
        _run(*_field_tables(h, J), states, float(k), rule_id, scan_id, np.uint64(seed), grid,
             traj, CHAIN_BLOCK, _poisson_cdf(N) if scan_id == CONTINUOUS else np.empty(0))
    return states if times is None else traj


def histogram(states):
    r"""Empirical law of states: :math:`\hat p(x) = \#\{c : x_c = x\}/n`, a vector over 2^N.

    ``states`` has shape (n, N) (one state per row) or (T, n, N) (a trajectory; one vector per
    time, shape (T, 2^N)).  Compare with ``kernels.law``: its binomial error bar is
    :math:`\sqrt{p(1-p)/n}`.
    """
    s = np.asarray(states)
    if s.ndim not in (2, 3) or s.shape[-2] < 1:
        raise ValueError(f"states must have shape (n, N) or (T, n, N); got {s.shape}.")
    N, n = s.shape[-1], s.shape[-2]
    # the int64 counts and the float64 law; per recorded time the law and its stacked copy
    check_size(N, 16 if s.ndim == 2 else 16 * s.shape[0] + 8, "a histogram over 2^N states",
               "use stats(states) instead.")
    x = index(s.reshape(-1, N)).reshape(s.shape[:-1])
    if s.ndim == 2:
        return np.bincount(x, minlength=1 << N) / n
    return np.stack([np.bincount(row, minlength=1 << N) / n for row in x])


def stats(states):
    r"""Empirical sufficient statistics :math:`\overline{\phi} = (\overline{s_i},
    \overline{s_i s_j})_{i<j}` of states of shape (n, N), in the order of ``theta``.

    The Monte Carlo twin of :func:`shortrun.numerics.core.moments.stats`.
    """
    s = _states.check_samples(states, None)
    n, N = s.shape
    C = (s.T @ s) / n
    return np.concatenate([s.mean(axis=0), C[np.triu_indices(N, 1)]])


def stats_error(states):
    r"""Standard error of :func:`stats` for independent chains.

    For ±1 variables :math:`\phi^2 = 1`, so :math:`\mathrm{Var}\,\phi = 1 - \langle\phi\rangle^2`
    and the error is :math:`\sqrt{(1 - \overline{\phi}^2)/(n-1)}`.
    """
    phi = stats(states)
    n = np.shape(states)[0]
    if n < 2:
        raise ValueError("stats_error needs at least 2 states (one per chain).")
    return np.sqrt(np.clip(1.0 - phi ** 2, 0.0, None) / (n - 1))


# ---------------------------------------------------------------------------------------------
# the functions registered for the spin models (numerics/registry.py)
# ---------------------------------------------------------------------------------------------
from shortrun.numerics.models.independent import IndependentSpins  # noqa: E402


def model_initial_states(model, p0, n_chains, seed):
    """Initial ±1 states of ``model``'s chains (a BoltzmannMachine or IndependentSpins)."""
    return initial_states(p0, model.N, n_chains, seed)[0]


def independent_sample(model: IndependentSpins, p0, k, rule="heatbath", scan="random",
                       n_chains=None, seed=0, times=None):
    """:func:`sample` of the Boltzmann machine with J = 0 (IndependentSpins)."""
    return sample(model.as_boltzmann_machine(), p0, k, rule, scan, n_chains, seed, times)
