r"""numba operators that apply single-site Markov updates to a distribution vector (matrix-free).

For site *i* the local field is :math:`H_i(x) = h_i + \sum_j J_{ij} s_j(x)` and the pair of states
:math:`(x^-, x^+)` that differ only in spin *i* share it.  With :math:`q = e^{-2H_i}`:

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

All operators are column-stochastic (U[x', x] = P(x → x')).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from shortrun.numerics.core.states import spins

#: Low bits covered by the B table (2^L doubles per site: stays in L1 cache).
LOW_BITS = 11
#: |ln q| bound below which the product A*B cannot overflow or underflow.
_FAST = 300.0

HEATBATH, METROPOLIS = 0, 1


class FieldTables:
    r"""Per-site tables of :math:`\ln q` split over high and low bits (see module docstring)."""

    def __init__(self, h, J, low_bits=None):
        N = len(h)
        self.N = N
        self.L = L = min(N, LOW_BITS if low_bits is None else int(low_bits))
        Hb = N - L
        s_low = spins(L).astype(float)
        s_high = spins(Hb).astype(float) if Hb else np.zeros((1, 0))
        # ln q_i(x) = -2 h_i - 2 sum_j J_ij s_j  =  a[i, x >> L] + b[i, x & (2^L - 1)]
        self.b_log = np.ascontiguousarray((-2.0 * s_low @ J[:L, :]).T)
        self.a_log = np.ascontiguousarray((-2.0 * h[None, :] - 2.0 * s_high @ J[L:, :]).T)
        self.A = np.exp(np.clip(self.a_log, -_FAST, _FAST))
        self.B = np.exp(np.clip(self.b_log, -_FAST, _FAST))
        self.b_max = np.abs(self.b_log).max(axis=1)

    def args(self):
        return self.a_log, self.b_log, self.A, self.B, self.b_max, self.L


@njit(cache=True, inline="always")
def _heatbath_pair_log(t0, t1, z):
    # z = ln q of any size: the logistic evaluated on its safe side
    t = t0 + t1
    if z > 0.0:
        e = np.exp(-z)
        return t / (1.0 + e), t * e / (1.0 + e)
    e = np.exp(z)
    return t * e / (1.0 + e), t / (1.0 + e)


@njit(cache=True, inline="always")
def _metropolis_pair(t0, t1, q):
    # t0 = p(x-), t1 = p(x+); returns (p'(x-), p'(x+)) for finite q > 0
    if q <= 1.0:
        return q * t1, (1.0 - q) * t1 + t0
    r = 1.0 / q
    return (1.0 - r) * t0 + t1, r * t0


@njit(cache=True, inline="always")
def _metropolis_pair_log(t0, t1, z):
    if z <= 0.0:
        q = np.exp(z)
        return q * t1, (1.0 - q) * t1 + t0
    r = np.exp(-z)
    return (1.0 - r) * t0 + t1, r * t0


@njit(cache=True, inline="always")
def _store(o0, o1, b, w, n0, n1):
    """``o0[b], o1[b] = n0, n1`` when ``w == 0`` (in place); ``+= w * (n0, n1)`` otherwise."""
    if w == 0.0:
        o0[b] = n0
        o1[b] = n1
    else:
        o0[b] += w * n0
        o1[b] += w * n1


@njit(cache=True, inline="always")
def _run(rule, v0, v1, o0, o1, w, Bv, Ai):
    """One run of pairs: ``v0[b]`` (s_i = -1) and ``v1[b]`` (s_i = +1) share ln q = ln Ai + ln Bv[b].

    ``w == 0``: ``o0, o1 = T_i (v0, v1)`` (``o`` may alias ``v``: in place);
    ``w != 0``: ``o0, o1 += w * T_i (v0, v1)``.  Loops are kept branch-free so they vectorise.
    """
    m = v0.shape[0]
    if rule == HEATBATH:
        if w == 0.0:
            for b in range(m):
                q = Ai * Bv[b]
                pp = (v0[b] + v1[b]) / (1.0 + q)
                o0[b] = pp * q
                o1[b] = pp
        else:
            for b in range(m):
                q = Ai * Bv[b]
                pp = w * (v0[b] + v1[b]) / (1.0 + q)
                o0[b] += pp * q
                o1[b] += pp
    else:
        for b in range(m):
            n0, n1 = _metropolis_pair(v0[b], v1[b], Ai * Bv[b])
            _store(o0, o1, b, w, n0, n1)


@njit(cache=True)
def _run_log(rule, v0, v1, o0, o1, w, bl, za):
    """As :func:`_run` in log space (ln q = za + bl[b]) for fields beyond the fast range."""
    for b in range(v0.shape[0]):
        if rule == HEATBATH:
            n0, n1 = _heatbath_pair_log(v0[b], v1[b], za + bl[b])
        else:
            n0, n1 = _metropolis_pair_log(v0[b], v1[b], za + bl[b])
        _store(o0, o1, b, w, n0, n1)


@njit(cache=True, inline="always")
def _block_run(p, out, w, i, hi, lo, m, rule, a_log, b_log, A, B, b_max, L):
    """Pairs (x, x + 2^i) for x = (hi << L) + lo + b, b < m (bit i of x clear)."""
    x0 = (hi << L) + lo
    x1 = x0 + (1 << i)
    za = a_log[i, hi]
    if b_max[i] <= _FAST and abs(za) <= _FAST:
        _run(rule, p[x0:x0 + m], p[x1:x1 + m], out[x0:x0 + m], out[x1:x1 + m], w,
             B[i, lo:lo + m], A[i, hi])
    else:
        _run_log(rule, p[x0:x0 + m], p[x1:x1 + m], out[x0:x0 + m], out[x1:x1 + m], w,
                 b_log[i, lo:lo + m], za)


@njit(cache=True, inline="always")
def _pair(rule, t0, t1, z, q, fast):
    """Scalar pair update (used for short runs): q = e^z when ``fast``."""
    if rule == HEATBATH:
        if fast:
            pp = (t0 + t1) / (1.0 + q)
            return pp * q, pp
        return _heatbath_pair_log(t0, t1, z)
    if fast:
        return _metropolis_pair(t0, t1, q)
    return _metropolis_pair_log(t0, t1, z)


#: Runs shorter than this are updated by index (slicing costs more than it saves).
_SHORT = 64


@njit(cache=True, inline="always")
def _short_runs(rule, v, o, w, Brow, brow, Ai, za, fast, bit):
    """Site with 2^i = ``bit`` < _SHORT on one block ``v`` (output ``o``, may alias): runs of
    ``bit`` pairs indexed directly; called with a literal ``bit`` so LLVM unrolls and
    vectorises the inner loop."""
    for a in range(0, v.shape[0], 2 * bit):
        for b in range(bit):
            lo = a + b
            n0, n1 = _pair(rule, v[lo], v[lo + bit], za + brow[lo], Ai * Brow[lo], fast)
            if w == 0.0:
                o[lo] = n0
                o[lo + bit] = n1
            else:
                o[lo] += w * n0
                o[lo + bit] += w * n1


@njit(cache=True)
def _low_block(p, out, w, i, hi, rule, a_log, b_log, A, B, b_max, L):
    """Site ``i < L`` on the block of 2^L contiguous states whose high bits are ``hi``:
    runs of 2^i pairs at distance 2^i."""
    bit = 1 << i
    if bit >= _SHORT:
        for a in range(0, 1 << L, 2 * bit):
            _block_run(p, out, w, i, hi, a, bit, rule, a_log, b_log, A, B, b_max, L)
        return
    x = hi << L
    v = p[x:x + (1 << L)]
    o = out[x:x + (1 << L)]
    za = a_log[i, hi]
    Ai = A[i, hi]
    fast = b_max[i] <= _FAST and abs(za) <= _FAST
    Brow = B[i]
    brow = b_log[i]
    if bit == 1:
        _short_runs(rule, v, o, w, Brow, brow, Ai, za, fast, 1)
    elif bit == 2:
        _short_runs(rule, v, o, w, Brow, brow, Ai, za, fast, 2)
    elif bit == 4:
        _short_runs(rule, v, o, w, Brow, brow, Ai, za, fast, 4)
    elif bit == 8:
        _short_runs(rule, v, o, w, Brow, brow, Ai, za, fast, 8)
    elif bit == 16:
        _short_runs(rule, v, o, w, Brow, brow, Ai, za, fast, 16)
    else:
        _short_runs(rule, v, o, w, Brow, brow, Ai, za, fast, 32)


@njit(cache=True)
def _high_block(p, out, w, i, hi, rule, a_log, b_log, A, B, b_max, L):
    """Site ``i >= L`` on the blocks with high bits ``hi`` (bit ``i - L`` clear) and
    ``hi | 2^(i-L)``: one run of 2^L pairs, two contiguous streams."""
    _block_run(p, out, w, i, hi, 0, 1 << L, rule, a_log, b_log, A, B, b_max, L)


@njit(cache=True)
def site_update(p, out, w, i, rule, a_log, b_log, A, B, b_max, L):
    r"""``out += w * T_i p`` if ``w != 0`` else ``out = T_i p`` (``out`` may be ``p``: in place).

    ``T_i`` is the single-site operator of ``rule`` for site ``i``; the state index convention
    is bit i of x = 1 ⇔ s_i = +1.
    """
    nhigh = p.shape[0] >> L
    if i >= L:
        hbit = 1 << (i - L)
        for hi in range(nhigh):
            if not hi & hbit:
                _high_block(p, out, w, i, hi, rule, a_log, b_log, A, B, b_max, L)
    else:
        for hi in range(nhigh):
            _low_block(p, out, w, i, hi, rule, a_log, b_log, A, B, b_max, L)


@njit(cache=True)
def sequential_sweep(p, rule, a_log, b_log, A, B, b_max, L, N):
    """In place: p <- T_{N-1} ... T_1 T_0 p (sites visited 0, 1, ..., N-1).

    Sites 0..L-1 only mix states inside blocks of 2^L contiguous states, so they are applied
    block by block while the block sits in L1 cache (one memory pass for L sites).  The high
    sites go in groups of G: a tile (fixed bits outside the group and the low block) holds
    2^(G+L) states (128 KiB at G=3, L=11), is closed under the group's updates and is updated
    while it sits in L2 cache: one memory pass per group.
    """
    nhigh = p.shape[0] >> L
    for hi in range(nhigh):
        for i in range(L):
            _low_block(p, p, 0.0, i, hi, rule, a_log, b_log, A, B, b_max, L)
    G = 3
    for i0 in range(L, N, G):
        g = min(G, N - i0)
        s0 = i0 - L                       # position of the group inside the high index
        for top in range(nhigh >> (s0 + g)):
            for mid in range(1 << s0):
                tile = (top << (s0 + g)) | mid
                for i in range(i0, i0 + g):
                    cbit = 1 << (i - i0)
                    for c in range(1 << g):
                        if not c & cbit:
                            _high_block(p, p, 0.0, i, tile | (c << s0), rule,
                                        a_log, b_log, A, B, b_max, L)


@njit(cache=True)
def random_update(p, out, rule, a_log, b_log, A, B, b_max, L, N):
    r"""``out = R p`` with :math:`R = \frac1N\sum_i T_i` (one random-scan single-site update)."""
    out[:] = 0.0
    w = 1.0 / N
    for i in range(N):
        site_update(p, out, w, i, rule, a_log, b_log, A, B, b_max, L)


@njit(cache=True, inline="always")
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


@njit(cache=True)
def _parallel_serial(p, partial, h, J, rule, per):
    n = p.shape[0]
    for blk in range(partial.shape[0]):
        _parallel_block(p, partial[blk], h, J, rule, blk * per, min(n, (blk + 1) * per))


@njit(cache=True, parallel=True)
def _parallel_threads(p, partial, h, J, rule, per):
    n = p.shape[0]
    for blk in prange(partial.shape[0]):
        _parallel_block(p, partial[blk], h, J, rule, blk * per, min(n, (blk + 1) * per))


@njit(cache=True)
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
