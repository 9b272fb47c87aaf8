r"""numba operators that apply single-site Markov updates to a distribution vector (matrix-free).

For site *i* the local field is :math:`H_i(x) = h_i + \sum_j J_{ij} s_j(x)` and the pair of states
:math:`(x^-, x^+)` that differ only in spin *i* share it.  With :math:`q = e^{-2H_i}` (U1):

* heat-bath (Glauber/Gibbs), :math:`P(s_i=+1\mid\text{rest}) = (1+\tanh H_i)/2 = 1/(1+q)`:

  .. math:: p'(x^+) = \frac{p(x^+)+p(x^-)}{1+q},\qquad p'(x^-) = q\,p'(x^+);

* Metropolis, flip with probability :math:`\min(1, e^{-2 s_i H_i})`:

  .. math:: q\le 1:\ p'(x^+) = (1-q)p(x^+) + p(x^-),\ p'(x^-) = q\,p(x^+);\qquad
            q>1:\ p'(x^+) = p(x^-)/q,\ p'(x^-) = (1-1/q)p(x^-) + p(x^+).

The transcendental per state is avoided: :math:`\ln q = a_i(x_{\rm high}) + b_i(x_{\rm low})` splits
into a table over the high bits of *x* and one over its low ``L`` bits (the factor for *j = i* is 1
since :math:`J_{ii}=0`), so :math:`q = A_i[x \gg L]\,B_i[x \,\&\, (2^L-1)]` costs one multiply.
When a table entry exceeds :math:`e^{\pm 300}` (local fields beyond ±150) the block falls back to a
log-space evaluation, so the operator stays exact at any coupling strength: no overflow, no NaN,
columns still sum to one.

Memory layout of one pass (U2).  Sites ``i < L`` only mix states inside a *block* of 2^L
contiguous states (16 KiB at L = 11: L1 cache).  There site i pairs runs of 2^i contiguous
states; the sites ``i < K = L // 2``, whose runs are short, are applied to a transposed copy of
the block (2^K rows of 2^(L-K) states, bits K..L-1 of the index running fastest), where their
runs are 2^(L-K) long: every loop then runs over long contiguous runs and vectorises.  A *group*
of ``G`` higher sites ``i0 <= i < i0 + G`` only mixes the 2^G blocks of a *tile* (the states whose bits outside
``[0, L)`` and ``[i0, i0 + G)`` are fixed; 2^(L+G) states, 256 KiB at G = 4).  A sequential sweep
or one random-scan update R therefore costs one pass over memory for the low sites together with
the first group (contiguous tiles) and one pass per further group, each tile updated while it
sits in cache.  Tiles are disjoint, so they are spread over the threads (``prange``); every entry
receives its sites' contributions in the same order whatever the thread that owns its tile, so
the results do not depend on the thread count, bit for bit.

The loops are compiled with numpy's error model (no zero-division check: every denominator is
1 + q >= 1, or q > 0 on the fast path), which lets LLVM vectorise them.

All operators are column-stochastic (U[x', x] = P(x → x')).
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from shortrun.numerics.core.states import spins

#: Low bits covered by the B table (2^L doubles per site: stays in L1 cache).
LOW_BITS = 11
#: High sites per tile pass (a tile holds 2^(LOW_BITS + GROUP) states).
GROUP = 4
#: |ln q| bound below which the product A*B cannot overflow or underflow.
_FAST = 300.0
#: Below this many states the sweeps run on one thread (thread start-up costs more than it saves).
SERIAL_BELOW = 1 << 15

HEATBATH, METROPOLIS = 0, 1

_JIT = dict(cache=True, error_model="numpy")


class FieldTables:
    r"""Per-site tables of :math:`\ln q` split over high and low bits (see module docstring).

    ``low_bits`` (block size) and ``group`` (high sites per tile) are tuning knobs; results do not
    depend on them (tests use small values to reach every code path at small N).  ``args()`` is
    the tuple ``tab`` the compiled operators take: ``(a_log, b_log, A, B, Bt, b_max, L, G)``,
    ``Bt`` holding the rows of ``B`` of the sites ``i < L // 2`` in the transposed block order.
    """

    def __init__(self, h, J, low_bits=None, group=None):
        N = len(h)
        self.N = N
        self.L = L = min(N, LOW_BITS if low_bits is None else int(low_bits))
        self.G = max(1, GROUP if group is None else int(group))
        Hb = N - L
        s_low = spins(L).astype(float)
        s_high = spins(Hb).astype(float) if Hb else np.zeros((1, 0))
        # ln q_i(x) = -2 h_i - 2 sum_j J_ij s_j  =  a[i, x >> L] + b[i, x & (2^L - 1)]
        self.b_log = np.ascontiguousarray((-2.0 * s_low @ J[:L, :]).T)
        self.a_log = np.ascontiguousarray((-2.0 * h[None, :] - 2.0 * s_high @ J[L:, :]).T)
        self.A = np.exp(np.clip(self.a_log, -_FAST, _FAST))
        self.B = np.exp(np.clip(self.b_log, -_FAST, _FAST))
        self.b_max = np.abs(self.b_log).max(axis=1)
        K = L // 2
        self.Bt = np.ascontiguousarray(
            self.B[:K].reshape(K, 1 << (L - K), 1 << K).transpose(0, 2, 1).reshape(K, 1 << L))

    def args(self):
        return self.a_log, self.b_log, self.A, self.B, self.Bt, self.b_max, self.L, self.G


# ---------------------------------------------------------------------------------------------
# one pair of states
# ---------------------------------------------------------------------------------------------
@njit(**_JIT, inline="always")
def _heatbath_pair_log(t0, t1, z):
    # z = ln q of any size: the logistic evaluated on its safe side
    t = t0 + t1
    if z > 0.0:
        e = np.exp(-z)
        return t / (1.0 + e), t * e / (1.0 + e)
    e = np.exp(z)
    return t * e / (1.0 + e), t / (1.0 + e)


@njit(**_JIT, inline="always")
def _metropolis_pair(t0, t1, q):
    # t0 = p(x-), t1 = p(x+); returns (p'(x-), p'(x+)) for finite q > 0
    if q <= 1.0:
        return q * t1, (1.0 - q) * t1 + t0
    r = 1.0 / q
    return (1.0 - r) * t0 + t1, r * t0


@njit(**_JIT, inline="always")
def _metropolis_pair_log(t0, t1, z):
    if z <= 0.0:
        q = np.exp(z)
        return q * t1, (1.0 - q) * t1 + t0
    r = np.exp(-z)
    return (1.0 - r) * t0 + t1, r * t0


# ---------------------------------------------------------------------------------------------
# runs of pairs: (v0[b], v1[b]) share ln q = ln Ai + ln Bv[b]; in place, or o += w T (v)
# ---------------------------------------------------------------------------------------------
@njit(**_JIT, inline="always")
def _run_inplace(rule, v0, v1, Bv, Ai):
    """``v0, v1 = T_i (v0, v1)``; the outputs are the input arrays themselves, so LLVM needs no
    aliasing check between them and vectorises the loop."""
    if rule == HEATBATH:
        for b in range(v0.shape[0]):
            q = Ai * Bv[b]
            pp = (v0[b] + v1[b]) / (1.0 + q)
            v0[b] = pp * q
            v1[b] = pp
    else:
        for b in range(v0.shape[0]):
            n0, n1 = _metropolis_pair(v0[b], v1[b], Ai * Bv[b])
            v0[b] = n0
            v1[b] = n1


@njit(**_JIT, inline="always")
def _run_acc(rule, v0, v1, o0, o1, w, Bv, Ai):
    """``o0, o1 += w * T_i (v0, v1)`` (``o`` distinct from ``v``)."""
    if rule == HEATBATH:
        for b in range(v0.shape[0]):
            q = Ai * Bv[b]
            pp = w * (v0[b] + v1[b]) / (1.0 + q)
            o0[b] += pp * q
            o1[b] += pp
    else:
        for b in range(v0.shape[0]):
            n0, n1 = _metropolis_pair(v0[b], v1[b], Ai * Bv[b])
            o0[b] += w * n0
            o1[b] += w * n1


@njit(**_JIT)
def _run_log(rule, v0, v1, o0, o1, w, acc, bl, za):
    """As :func:`_run_inplace` (``acc`` False, ``o`` is ``v``) or :func:`_run_acc` in log space
    (ln q = za + bl[b]), for fields beyond the fast range."""
    for b in range(v0.shape[0]):
        if rule == HEATBATH:
            n0, n1 = _heatbath_pair_log(v0[b], v1[b], za + bl[b])
        else:
            n0, n1 = _metropolis_pair_log(v0[b], v1[b], za + bl[b])
        if acc:
            o0[b] += w * n0
            o1[b] += w * n1
        else:
            o0[b] = n0
            o1[b] = n1


@njit(**_JIT, inline="always")
def _fast(i, hi, tab):
    """True when ln q of site i on block ``hi`` stays in the range of the tables A, B."""
    return tab[5][i] <= _FAST and abs(tab[0][i, hi]) <= _FAST


@njit(**_JIT, inline="always")
def _pairs(p, out, w, acc, i, hi, lo, m, rule, tab):
    """Pairs (x, x + 2^i) for x = (hi << L) + lo + b, b < m (bit i of x clear); in place on ``p``
    (``acc`` False) or ``out += w T_i p``."""
    a_log, b_log, A, B, L = tab[0], tab[1], tab[2], tab[3], tab[6]
    x0 = (hi << L) + lo
    x1 = x0 + (1 << i)
    if _fast(i, hi, tab):
        if acc:
            _run_acc(rule, p[x0:x0 + m], p[x1:x1 + m], out[x0:x0 + m], out[x1:x1 + m], w,
                     B[i, lo:lo + m], A[i, hi])
        else:
            _run_inplace(rule, p[x0:x0 + m], p[x1:x1 + m], B[i, lo:lo + m], A[i, hi])
    elif acc:
        _run_log(rule, p[x0:x0 + m], p[x1:x1 + m], out[x0:x0 + m], out[x1:x1 + m], w, True,
                 b_log[i, lo:lo + m], a_log[i, hi])
    else:
        _run_log(rule, p[x0:x0 + m], p[x1:x1 + m], p[x0:x0 + m], p[x1:x1 + m], 0.0, False,
                 b_log[i, lo:lo + m], a_log[i, hi])


# ---------------------------------------------------------------------------------------------
# the low sites of one block
# ---------------------------------------------------------------------------------------------
@njit(**_JIT)
def _low_site(p, out, w, acc, i, hi, rule, tab):
    """Site ``i < L`` on the block of 2^L states with high bits ``hi``, in the original order:
    runs of 2^i pairs at distance 2^i (reference route, and the route for huge fields)."""
    bit = 1 << i
    for a in range(0, 1 << tab[6], 2 * bit):
        _pairs(p, out, w, acc, i, hi, a, bit, rule, tab)


@njit(**_JIT)
def _transpose(src, dst, R, C):
    """``dst`` (C x R) = transpose of ``src`` (R x C), both row-major."""
    for r in range(R):
        for c in range(C):
            dst[c * R + r] = src[r * C + c]


@njit(**_JIT)
def _low_sites(p, out, w, acc, hi, rule, tab, t0, t1):
    """Sites 0, 1, ..., L-1 on block ``hi``: in place on ``p`` (``acc`` False) or
    ``out = w Σ_{i<L} T_i p`` on the block (assigned; every entry starts from 0 and receives the
    sites' contributions in the order 0..L-1).  ``t0``, ``t1``: work vectors of 2^L entries.

    Sites ``i < K = L // 2`` run on the transposed block (runs of 2^(L-K) pairs), the others on
    the block itself (runs of 2^i >= 2^K pairs); blocks with fields beyond the fast range take
    the log-space route site by site."""
    A, B, Bt, L = tab[2], tab[3], tab[4], tab[6]
    fast = True
    for i in range(L):
        fast = fast and _fast(i, hi, tab)
    x = hi << L
    if not fast:
        if acc:
            out[x:x + (1 << L)] = 0.0
        for i in range(L):
            _low_site(p, out, w, acc, i, hi, rule, tab)
        return
    K = L // 2
    R, C = 1 << (L - K), 1 << K
    v = p[x:x + (1 << L)]
    _transpose(v, t0, R, C)
    if acc:
        t1[:] = 0.0
    for i in range(K):
        bit = 1 << i
        Ai = A[i, hi]
        for c in range(C):
            if not c & bit:
                r0, r1 = c * R, (c + bit) * R
                if acc:
                    _run_acc(rule, t0[r0:r0 + R], t0[r1:r1 + R], t1[r0:r0 + R], t1[r1:r1 + R],
                             w, Bt[i, r0:r0 + R], Ai)
                else:
                    _run_inplace(rule, t0[r0:r0 + R], t0[r1:r1 + R], Bt[i, r0:r0 + R], Ai)
    o = out[x:x + (1 << L)]
    _transpose(t1 if acc else t0, o, C, R)
    for i in range(K, L):
        bit = 1 << i
        Ai = A[i, hi]
        for a in range(0, 1 << L, 2 * bit):
            if acc:
                _run_acc(rule, v[a:a + bit], v[a + bit:a + 2 * bit], o[a:a + bit],
                         o[a + bit:a + 2 * bit], w, B[i, a:a + bit], Ai)
            else:
                _run_inplace(rule, o[a:a + bit], o[a + bit:a + 2 * bit], B[i, a:a + bit], Ai)


# ---------------------------------------------------------------------------------------------
# passes over memory: one tile at a time
# ---------------------------------------------------------------------------------------------
@njit(**_JIT)
def _tile(p, out, w, acc, res, rw, fold, t, i0, g, rule, tab):
    """Tile ``t`` of the pass over the group of sites ``i0 <= i < i0 + g`` (i0 >= L): its 2^g
    blocks ``tile | c << (i0 - L)``; for ``i0 == L`` the sites ``i < L`` first, block by block
    (the tile is then contiguous).  In place on ``p`` (``acc`` False) or ``out += w Σ_i T_i p``
    (``out = ...`` for the first pass); then, if ``fold``, ``res += rw * out`` on the tile."""
    L = tab[6]
    s0 = i0 - L
    top, mid = t >> s0, t & ((1 << s0) - 1)
    tile = (top << (s0 + g)) | mid
    nb = 1 << g
    if s0 == 0:
        t0, t1 = np.empty(1 << L), np.empty(1 << L)
        target = out if acc else p
        for c in range(nb):
            _low_sites(p, target, w, acc, tile | c, rule, tab, t0, t1)
    for i in range(i0, i0 + g):
        cbit = 1 << (i - i0)
        for c in range(nb):
            if not c & cbit:
                _pairs(p, out, w, acc, i, tile | (c << s0), 0, 1 << L, rule, tab)
    if fold:
        for c in range(nb):
            x = (tile | (c << s0)) << L
            for b in range(x, x + (1 << L)):
                res[b] += rw * out[b]


@functools.lru_cache(maxsize=64)
def _plan(L, G, N, fold):
    """The passes of one sweep or one R, rows ``(i0, g, tiles, fold)``: the first covers the
    low sites and the group ``L <= i < L + G``, the remaining high sites go in as few passes of at
    most G as possible, split evenly; ``fold`` marks the last pass."""
    rows, i0 = [], L
    while True:
        left = N - i0
        g = min(G, left) if i0 == L else -(-left // -(-left // G))
        rows.append((i0, g, 1 << (N - L - g), 0))
        i0 += g
        if i0 >= N:
            break
    rows[-1] = rows[-1][:3] + (int(fold),)
    return np.array(rows, dtype=np.int64)


@njit(**_JIT)
def _passes_serial(p, out, w, acc, res, rw, rule, tab, plan):
    for k in range(plan.shape[0]):
        for t in range(plan[k, 2]):
            _tile(p, out, w, acc, res, rw, plan[k, 3] == 1, t, plan[k, 0], plan[k, 1], rule, tab)


@njit(**_JIT, parallel=True)
def _passes_threads(p, out, w, acc, res, rw, rule, tab, plan):
    for k in range(plan.shape[0]):
        for t in prange(plan[k, 2]):
            _tile(p, out, w, acc, res, rw, plan[k, 3] == 1, t, plan[k, 0], plan[k, 1], rule, tab)


def _passes(p, out, w, acc, res, rw, rule, tab, N):
    run = _passes_serial if p.shape[0] < SERIAL_BELOW else _passes_threads
    run(p, out, w, acc, res, rw, rule, tab, _plan(tab[6], tab[7], N, res.shape[0] > 0))


_NONE = np.zeros(0)


# ---------------------------------------------------------------------------------------------
# public operators (tab = FieldTables(...).args())
# ---------------------------------------------------------------------------------------------
def sequential_sweep(p, rule, tab, N):
    """In place: p <- T_{N-1} ... T_1 T_0 p (sites visited 0, 1, ..., N-1), (U2).

    One pass over memory for the sites ``i < L + G`` (blocks of 2^L states in L1 cache, tiles of
    2^(L+G) contiguous states in L2), one more per further group of at most G sites; tiles are
    spread over the threads (each tile's result does not depend on which thread computes it).
    """
    _passes(p, p, 0.0, False, _NONE, 0.0, rule, tab, N)


def random_update(p, out, rule, tab, N, res=None, weight=0.0):
    r"""``out = R p`` with :math:`R = \frac1N\sum_i T_i` (one random-scan single-site update,
    (U2)); with ``res``, also ``res += weight * out`` in the same pass (a term of the
    uniformisation sum of the continuous-time chain).

    Fused: the low sites of a block of 2^L states are applied while the block sits in L1 cache,
    the high sites in groups of at most G on tiles that sit in L2 cache, so R costs one pass over
    memory per group instead of one per site.  Every entry of ``out`` receives the sites'
    contributions in the order 0, 1, …, N−1 with the arithmetic of :func:`site_update`, exactly
    as in :func:`random_update_by_site`: the result is bit-identical to it and independent of
    the thread count.
    """
    if not p.flags.writeable:           # the compiled passes also have in-place paths
        p = p.copy()
    _passes(p, out, 1.0 / N, True, _NONE if res is None else res, float(weight), rule, tab, N)


@njit(**_JIT)
def site_update(p, out, w, i, rule, tab):
    r"""``out += w * T_i p`` if ``w != 0`` else ``out = T_i p`` (``out`` may be ``p``: in place).

    ``T_i`` is the single-site operator of ``rule`` for site ``i`` (U1); the state index
    convention is bit i of x = 1 ⇔ s_i = +1.  One pass over memory (the reference route).
    """
    if w == 0.0:
        out[:] = p
        _site(out, out, 0.0, False, i, rule, tab)
    else:
        _site(p, out, w, True, i, rule, tab)


@njit(**_JIT)
def _site(p, out, w, acc, i, rule, tab):
    L = tab[6]
    nhigh = p.shape[0] >> L
    if i >= L:
        hbit = 1 << (i - L)
        for hi in range(nhigh):
            if not hi & hbit:
                _pairs(p, out, w, acc, i, hi, 0, 1 << L, rule, tab)
    else:
        for hi in range(nhigh):
            _low_site(p, out, w, acc, i, hi, rule, tab)


def random_update_by_site(p, out, rule, tab, N):
    r"""``out = R p`` with :math:`R = \frac1N\sum_i T_i`, one full pass over memory per site (the
    reference route of :func:`random_update`)."""
    _random_by_site(p if p.flags.writeable else p.copy(), out, rule, tab, N)


@njit(**_JIT)
def _random_by_site(p, out, rule, tab, N):
    out[:] = 0.0
    w = 1.0 / N
    for i in range(N):
        site_update(p, out, w, i, rule, tab)


@njit(cache=True, error_model="numpy", inline="always")
def _parallel_block(p, row, h, J, rule, lo, hi):
    """Adds the synchronous-update image of the source states lo <= x < hi to ``row``."""
    n = p.shape[0]
    N = h.shape[0]
    v = np.empty(n)
    up = np.empty(N)
    for x in range(lo, hi):
        px = p[x]
        if px == 0.0:
            continue
        for i in range(N):
            H = h[i]
            for j in range(N):
                sj = 1.0 if (x >> j) & 1 else -1.0
                H += J[i, j] * sj
            si = 1.0 if (x >> i) & 1 else -1.0
            if rule == HEATBATH:
                # P(s_i' = +1) = 1/(1+e^{-2H}), stable for any H
                if H >= 0:
                    up[i] = 1.0 / (1.0 + np.exp(-2.0 * H))
                else:
                    e = np.exp(2.0 * H)
                    up[i] = e / (1.0 + e)
            else:
                z = -2.0 * si * H
                a = 1.0 if z >= 0 else np.exp(z)
                up[i] = 1.0 - a if si > 0 else a
        # product distribution over x', built by doubling: bit i of x' <-> s'_i = +1
        v[0] = px
        m = 1
        for i in range(N):
            for y in range(m):
                v[y + m] = v[y] * up[i]
                v[y] = v[y] * (1.0 - up[i])
            m *= 2
        for y in range(n):
            row[y] += v[y]


#: Below this many states the synchronous update runs on one thread: the 4^N work is too small to
#: pay for thread start-up, and threads would only compete with other processes.
PARALLEL_SERIAL_BELOW = 1 << 10


@njit(cache=True, error_model="numpy")
def _parallel_serial(p, partial, h, J, rule, per):
    n = p.shape[0]
    for blk in range(partial.shape[0]):
        _parallel_block(p, partial[blk], h, J, rule, blk * per, min(n, (blk + 1) * per))


@njit(cache=True, error_model="numpy", parallel=True)
def _parallel_threads(p, partial, h, J, rule, per):
    n = p.shape[0]
    for blk in prange(partial.shape[0]):
        _parallel_block(p, partial[blk], h, J, rule, blk * per, min(n, (blk + 1) * per))


@njit(cache=True, error_model="numpy")
def _sum_blocks(partial, out):
    for y in range(out.shape[0]):
        s = 0.0
        for blk in range(partial.shape[0]):
            s += partial[blk, y]
        out[y] = s


def parallel_update(p, out, h, J, rule):
    r"""``out = U p`` for a synchronous update of all spins (cost 2·4^N).

    Heat-bath: :math:`U[x',x] = \prod_i e^{s'_i H_i(x)}/(2\cosh H_i(x))`; Metropolis: every spin
    flips independently with probability :math:`\min(1, e^{-2 s_i H_i(x)})`.
    The sum over source states is split over threads in blocks; each block fills a private
    output which are then added in a fixed order (bit-reproducible whatever the thread count).
    """
    n = p.shape[0]
    nblk = 16 if n >= 16 else n
    partial = np.zeros((nblk, n))
    per = (n + nblk - 1) // nblk
    run = _parallel_serial if n < PARALLEL_SERIAL_BELOW else _parallel_threads
    run(p, partial, h, J, rule, per)
    _sum_blocks(partial, out)
