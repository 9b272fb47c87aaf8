r"""Exact Markov kernels of the Potts machine on all q^N states, matrix-free, and their tangent (P2).

Site i is updated on a *fibre*: the q states :math:`x_a = x_0 + a\,q^i` (a = 0..q−1) that differ
only in :math:`\sigma_i`.  They share the local energies

.. math:: e_a = h_i(a) + \sum_{j\ne i} J_{ij}(a, \sigma_j),\qquad
          E(x_a) = -e_a + \text{const},

so with :math:`v_a = p(x_a)` the single-site operator :math:`T_i` acts on the fibre as (P2)

* heat-bath: :math:`v'_b = \pi_b \sum_a v_a`, :math:`\pi_b = e^{e_b}/\sum_c e^{e_c}`
  (the new colour drawn from the conditional law, whatever the old one);
* Metropolis: propose one of the q−1 other colours uniformly, accept with
  :math:`\min(1, e^{e_b - e_a})`: :math:`M_{ba} = \frac{1}{q-1}\min(1, e^{e_b-e_a})` (b ≠ a),
  :math:`M_{aa} = 1 - \sum_{b\ne a} M_{ba}`, :math:`v' = Mv`.

Both preserve :math:`p_\theta` and are reversible with respect to it; for q = 2 they are the
Boltzmann machine's heat-bath and Metropolis rules (U1).  Scans as (U2): random
:math:`U = R^N`, :math:`R = \frac1N\sum_i T_i`; sequential :math:`U = T_{N-1}\cdots T_0`.
Column-stochastic: ``U[x', x] = P(x -> x')``.

Local energies from two tables (the BM's trick, :mod:`~shortrun.numerics.kernels.site_updates`):
with the lowest ``L = N // 2`` digits of :math:`x_0` in :math:`x_{\rm lo}` and the others in
:math:`x_{\rm hi}`, :math:`e_a = A_i[x_{\rm hi}, a] + B_i[x_{\rm lo}, a]` (digit i of
:math:`x_0` is 0 and :math:`J_{ii} = 0`, so it adds nothing); the tables hold
:math:`Nq(q^{N-L} + q^L)` numbers.  The softmax is shifted by :math:`\max_a e_a` and the
Metropolis ratios are :math:`e^{\min(0, e_b-e_a)}`: exact at any coupling strength.  Fibres of one
site are disjoint, so they are spread over threads; in the random scan every entry receives the
sites' contributions in the order 0..N−1: results do not depend on the thread count, bit for bit.

Tangent (P3): :math:`\partial p_{t+1} = T\,\partial p_t + (\partial T)p_t` per site, with
:math:`\partial e_c/\partial h_i(c) = 1`, :math:`\partial e_c/\partial J_{ij}(c, \sigma_j) = 1`
(reference gauge: only colours ≥ 1 are parameters);

* heat-bath: :math:`\partial v'_b = \pi_b\sum_a\partial v_a + S\pi_b\big(\partial e_b -
  \sum_c\pi_c\,\partial e_c\big)`, :math:`S = \sum_a v_a`;
* Metropolis: :math:`\partial v'_b = \sum_a M_{ba}\partial v_a + \sum_{a\ne b}\big(g_{ba}
  - g_{ab}\big)` with :math:`g_{ba} = M_{ba}v_a(\partial e_b - \partial e_a)` where
  :math:`e_b < e_a` and 0 where :math:`e_b \ge e_a` (at a tie the derivative of the constant
  branch of :math:`\min(1,\cdot)`; finite differences straddling a tie converge to neither side).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from shortrun.conventions import check_choice, check_count, check_distribution, check_steps
from shortrun.numerics.kernels.base import Kernel
from shortrun.numerics.models.potts import (PottsMachine, check_states_size, colours,
                                            n_params, params_from_theta)

HEATBATH, METROPOLIS = 0, 1
_JIT = dict(cache=True, error_model="numpy")
#: Below this many states a site pass runs on one thread.
SERIAL_BELOW = 1 << 15
#: Fixed number of work chunks per site pass (the split does not depend on the thread count).
CHUNKS = 256
#: Bytes per state of a random-scan step: p, the output and the work vector (float64).
KERNEL_BYTES = 24
#: Largest dense q^N x q^N reference matrix (8 q^{2N} bytes: 128 MiB at 4096 states).
DENSE_MAX_STATES = 4096


# ---------------------------------------------------------------------------------------------
# tables of local energies
# ---------------------------------------------------------------------------------------------
def field_tables(h, J):
    r"""``(A, B, L)``: :math:`A[i, x_{\rm hi}, a] = h_i(a) + \sum_{j\ge L} J_{ij}(a,
    \sigma_j)`, :math:`B[i, x_{\rm lo}, a] = \sum_{j<L} J_{ij}(a, \sigma_j)` (module docstring)."""
    N, q = h.shape
    L = N // 2
    lo, hi = colours(L, q), colours(N - L, q)
    B = np.zeros((N, q ** L, q))
    for j in range(L):
        B += J[:, j][:, :, lo[:, j]].transpose(0, 2, 1)
    A = np.repeat(h[:, None, :], q ** (N - L), axis=1)
    for j in range(L, N):
        A += J[:, j][:, :, hi[:, j - L]].transpose(0, 2, 1)
    return np.ascontiguousarray(A), np.ascontiguousarray(B), L


#: Largest spread of a site's log tables (max − min over colours, summed over the two tables)
#: for the exp-table fast path: products of the shifted exponentials stay >= e^{-600} > 0.
FAST_SPREAD = 600.0


def exp_tables(A, B):
    r"""``(EA, EB, fast)``: :math:`EA = e^{A - \max_a A}` row by row (same for B), and per site
    whether the spreads keep every product above :math:`e^{-600}` (:data:`FAST_SPREAD`)."""
    EA = np.exp(A - A.max(axis=2, keepdims=True))
    EB = np.exp(B - B.max(axis=2, keepdims=True))
    spread = np.ptp(A, axis=2).max(axis=1) + np.ptp(B, axis=2).max(axis=1)
    return EA, EB, spread < FAST_SPREAD


# ---------------------------------------------------------------------------------------------
# numba core: one site pass over the fibres
# ---------------------------------------------------------------------------------------------
@njit(**_JIT, inline="always")
def _local(e, A, B, i, x0, qL):
    """``e[a]`` of the fibre with base ``x0``; returns max_a e[a]."""
    xh, xl = x0 // qL, x0 % qL
    m = -np.inf
    for a in range(e.shape[0]):
        e[a] = A[i, xh, a] + B[i, xl, a]
        m = max(m, e[a])
    return m


@njit(**_JIT, inline="always")
def _weights(e, v, m):
    """``e[a] <- exp(e[a] - m)``; returns ``(S, Z) = (Σ_a v[a], Σ_a e[a])``."""
    S = 0.0
    Z = 0.0
    for a in range(e.shape[0]):
        S += v[a]
        e[a] = np.exp(e[a] - m)
        Z += e[a]
    return S, Z


@njit(**_JIT)
def _fibres(p, out, w, acc, i, rule, A, B, EA, EB, fast, q, qL, h0, h1):
    r"""Fibres with outer index ``h0 <= hi < h1`` of site i (``x0 = hi q^{i+1} + lo``,
    lo < q^i): ``out[x_b] (+)= w (T_i p)[x_b]`` (``acc`` False: assigned; ``out`` may be ``p``).

    Fast path (``fast[i]``): :math:`e^{e_a - c} = EA[i, x_{hi}, a]\,EB[i, x_{lo}, a]`, tables
    shifted by their row maxima, so no transcendental per state; otherwise ``exp`` of the log
    tables, shifted by the fibre's maximum.  The inner loop runs over contiguous ``lo``."""
    qi = q ** i
    L = 0
    while q ** L < qL:
        L += 1
    if i < L:
        r = q ** (L - i - 1)
        nlh, nll = 1, qi
    else:
        r = 1
        nlh, nll = q ** (i - L), qL
    e = np.empty(q)
    v = np.empty(q)
    rm = 1.0 / (q - 1)
    ok = fast[i]
    for hi in range(h0, h1):
        for lh in range(nlh):
            if i < L:
                xh, xl0 = hi // r, (hi % r) * qi * q
            else:
                xh, xl0 = hi * q ** (i + 1 - L) + lh, 0
            base = hi * qi * q + lh * qL
            for ll in range(nll):
                x0 = base + ll
                xl = xl0 + ll
                if ok:
                    for a in range(q):
                        e[a] = EA[i, xh, a] * EB[i, xl, a]
                else:                          # log values (heat-bath: exponentiated below)
                    m = -np.inf
                    for a in range(q):
                        e[a] = A[i, xh, a] + B[i, xl, a]
                        m = max(m, e[a])
                    if rule == HEATBATH:
                        for a in range(q):
                            e[a] = np.exp(e[a] - m)
                if rule == HEATBATH:
                    S = 0.0
                    Z = 0.0
                    for a in range(q):
                        S += p[x0 + a * qi]
                        Z += e[a]
                    c = S / Z
                    for b in range(q):
                        if acc:
                            out[x0 + b * qi] += w * (c * e[b])
                        else:
                            out[x0 + b * qi] = c * e[b]
                else:
                    for a in range(q):
                        v[a] = p[x0 + a * qi]
                    for b in range(q):
                        new = 0.0
                        stay = 1.0
                        for a in range(q):
                            if a != b:
                                if ok:
                                    up, down = min(1.0, e[b] / e[a]), min(1.0, e[a] / e[b])
                                else:
                                    up = np.exp(min(0.0, e[b] - e[a]))
                                    down = np.exp(min(0.0, e[a] - e[b]))
                                new += rm * up * v[a]
                                stay -= rm * down
                        new += max(stay, 0.0) * v[b]
                        if acc:
                            out[x0 + b * qi] += w * new
                        else:
                            out[x0 + b * qi] = new


@njit(**_JIT)
def _site_serial(p, out, w, acc, i, rule, A, B, EA, EB, fast, q, qL):
    _fibres(p, out, w, acc, i, rule, A, B, EA, EB, fast, q, qL, 0, p.shape[0] // q ** (i + 1))


@njit(**_JIT, parallel=True)
def _site_threads(p, out, w, acc, i, rule, A, B, EA, EB, fast, q, qL):
    nh = p.shape[0] // q ** (i + 1)
    per = (nh + CHUNKS - 1) // CHUNKS
    for c in prange(CHUNKS):
        _fibres(p, out, w, acc, i, rule, A, B, EA, EB, fast, q, qL, c * per,
                min(nh, (c + 1) * per))


# ---------------------------------------------------------------------------------------------
# numba core: tangent of one site pass (serial; the tangent is for Newton at small q^N)
# ---------------------------------------------------------------------------------------------
@njit(**_JIT, inline="always")
def _flow(nD, b, a, c, g, i, cols, dig):
    """``nD[b] += g ∂e_c``, ``nD[a] -= g ∂e_c`` (∂e_c: the field of colour c of unit i and its
    couplings to the current colours of the other units; nothing for the gauge colour 0)."""
    if c == 0:
        return
    col = cols[i, i, c, 0]
    nD[b, col] += g
    nD[a, col] -= g
    for j in range(dig.shape[0]):
        if j != i and dig[j] > 0:
            col = cols[i, j, c, dig[j]]
            nD[b, col] += g
            nD[a, col] -= g


@njit(**_JIT)
def _tangent_site(p, D, op, oD, w, acc, i, rule, A, B, q, qL, cols, Dv, nD, e, v, dig):
    r"""``(op, oD) (+)= w (T_i p, T_i D + (∂T_i) p)`` over all fibres (in place when ``op is p``
    and ``oD is D``, ``acc`` False).  ``cols[i, j, c, d]``: the θ column of the coupling between
    colour c of unit i and colour d of unit j (-1 in the gauge), ``cols[i, i, c, 0]`` that of
    :math:`h_i(c)`."""
    N, P = cols.shape[0], D.shape[1]
    qi = q ** i
    nf = p.shape[0] // q
    for f in range(nf):
        hi = f // qi
        x0 = hi * qi * q + (f - hi * qi)
        m = _local(e, A, B, i, x0, qL)
        y = x0
        for j in range(N):
            dig[j] = y % q
            y //= q
        for a in range(q):
            v[a] = p[x0 + a * qi]
            for col in range(P):
                Dv[a, col] = D[x0 + a * qi, col]
        if rule == HEATBATH:
            S, Z = _weights(e, v, m)
            for a in range(q):
                e[a] /= Z                      # now π_a
            for b in range(q):
                for col in range(P):
                    t = 0.0
                    for a in range(q):
                        t += Dv[a, col]
                    nD[b, col] = e[b] * t
            for b in range(q):
                g = S * e[b]
                for c in range(1, q):          # ∂e_c enters with weight g (δ_bc − π_c)
                    wt = g * ((1.0 if b == c else 0.0) - e[c])
                    nD[b, cols[i, i, c, 0]] += wt
                    for j in range(N):
                        if j != i and dig[j] > 0:
                            nD[b, cols[i, j, c, dig[j]]] += wt
            for b in range(q):
                v[b] = S * e[b]
        else:
            r = 1.0 / (q - 1)
            for b in range(q):
                for col in range(P):
                    nD[b, col] = 0.0
            newv = np.zeros(q)
            for a in range(q):
                stay = 1.0
                for b in range(q):
                    if b != a:
                        z = e[b] - e[a]
                        M = r * np.exp(min(0.0, z))
                        stay -= M
                        newv[b] += M * v[a]
                        for col in range(P):
                            nD[b, col] += M * Dv[a, col]
                        if z < 0.0:            # g_ba = M v_a (∂e_b − ∂e_a): into b, out of a
                            g = M * v[a]
                            _flow(nD, b, a, b, g, i, cols, dig)
                            _flow(nD, b, a, a, -g, i, cols, dig)
                stay = max(stay, 0.0)
                newv[a] += stay * v[a]
                for col in range(P):
                    nD[a, col] += stay * Dv[a, col]
            for b in range(q):
                v[b] = newv[b]
        for b in range(q):
            x = x0 + b * qi
            if acc:
                op[x] += w * v[b]
                for col in range(P):
                    oD[x, col] += w * nD[b, col]
            else:
                op[x] = v[b]
                for col in range(P):
                    oD[x, col] = nD[b, col]


def theta_columns(N, q):
    """``cols`` of :func:`_tangent_site`: θ column of each coupling entry and field."""
    cols = -np.ones((N, N, q, q), dtype=np.int64)
    F = N * (q - 1)
    for i in range(N):
        cols[i, i, 1:, 0] = i * (q - 1) + np.arange(q - 1)
    pair = 0
    for i in range(N):
        for j in range(i + 1, N):
            block = F + pair * (q - 1) ** 2 + np.arange((q - 1) ** 2).reshape(q - 1, q - 1)
            cols[i, j, 1:, 1:] = block
            cols[j, i, 1:, 1:] = block.T
            pair += 1
    return cols


# ---------------------------------------------------------------------------------------------
# the kernel
# ---------------------------------------------------------------------------------------------
class PottsKernel(Kernel):
    r"""Exact kernel of a single-site chain on a Potts machine, matrix-free (P2).

    Parameters
    ----------
    model : PottsMachine
    rule : {'heatbath', 'metropolis'}
        Heat-bath: the new colour from the conditional law; Metropolis: a uniformly proposed
        other colour accepted with :math:`\min(1, e^{-\Delta E})`.
    scan : {'random', 'sequential'}

    Notes
    -----
    Memory: the tables (:math:`Nq(q^{N-L}+q^L)` doubles) and, per step, the output and one work
    vector: :data:`KERNEL_BYTES` per state with p.  Both scans have stationary law
    :math:`p_\theta`; the random scan is reversible with respect to it, a sequential sweep is not.
    """

    def __init__(self, model, rule="heatbath", scan="random", *, warn=True):
        if not isinstance(model, PottsMachine):
            raise ValueError("model must be a PottsMachine(h, J); build one with "
                             "shortrun.numerics.models.potts.PottsMachine(h, J).")
        self.model = model
        self.rule = check_choice(rule, PottsMachine.RULES, "rule")
        self.scan = check_choice(scan, PottsMachine.SCANS, "scan")
        self.N, self.q = model.N, model.q
        self.n_states = model.n_states
        check_states_size(self.N, self.q, KERNEL_BYTES, f"the exact {scan}-scan Potts kernel")
        self.reversible = scan == "random"
        self.equilibrium_stationary = True
        self._rule = HEATBATH if rule == "heatbath" else METROPOLIS
        self._A, self._B, L = field_tables(model.h, model.J)
        self._EA, self._EB, self._fast = exp_tables(self._A, self._B)
        self._qL = self.q ** L

    def __repr__(self):
        return f"PottsKernel(N={self.N}, q={self.q}, rule={self.rule!r}, scan={self.scan!r})"

    def check_p0(self, p0):
        """A law over the q^N states (or ``'uniform'``), validated with a Potts message."""
        return check_law(p0, self.n_states, "p0")

    def _check_vector(self, p):
        p = np.ascontiguousarray(p, dtype=float)
        if p.shape != (self.n_states,):
            raise ValueError(f"p must have length q^N = {self.n_states}; got shape {p.shape}.")
        return p

    def _site(self, p, out, w, acc, i):
        run = _site_serial if self.n_states < SERIAL_BELOW else _site_threads
        run(p, out, float(w), acc, int(i), self._rule, self._A, self._B, self._EA, self._EB,
            self._fast, self.q, self._qL)

    def site_update(self, p, i):
        """:math:`T_i p` (new vector), site i in 0..N−1."""
        i = self.check_site(i)
        out = self._check_vector(p).copy()
        self._site(out, out, 0.0, False, i)
        return out

    def random_update(self, p, out=None):
        r""":math:`R p = \frac1N\sum_i T_i p` (new vector, or into ``out``)."""
        p = self._check_vector(p)
        out = np.zeros_like(p) if out is None else out
        out[:] = 0.0
        for i in range(self.N):
            self._site(p, out, 1.0 / self.N, True, i)
        return out

    def apply(self, p):
        """One step (sweep): :math:`U p`."""
        p = self._check_vector(p)
        if self.scan == "sequential":
            out = p.copy()
            for i in range(self.N):
                self._site(out, out, 0.0, False, i)
            return out
        bufs = (np.empty_like(p), np.empty_like(p))
        for n in range(self.N):
            p = self.random_update(p, bufs[n % 2])
        return p

    def dense(self):
        """The dense U built from the definition (:func:`dense_kernel`), small q^N only."""
        return dense_kernel(self.model.h, self.model.J, self.rule, self.scan)

    def stationary(self):
        """:math:`p_\\theta` (both rules and scans preserve it)."""
        return np.array(self.model.boltzmann())


def check_law(p, n, name="p0"):
    """``check_distribution`` with the length stated for q^N states (not 2^N)."""
    if not isinstance(p, str) and np.shape(p) != (n,):
        raise ValueError(f"{name} has shape {np.shape(p)}; it must be 'uniform' or a probability "
                         f"vector over the q^N = {n} states (index x = sum_i sigma_i q^i).")
    return check_distribution(p, n, name)


def potts_kernel(model, rule="heatbath", scan="random", *, warn=True):
    """The exact kernel of a Potts machine (the ``kernel`` capability)."""
    return PottsKernel(model, rule, scan, warn=warn)


# ---------------------------------------------------------------------------------------------
# the dense reference route (brute force from the definition; complex-step safe)
# ---------------------------------------------------------------------------------------------
def check_dense_states(n):
    if n > DENSE_MAX_STATES:
        raise ValueError(f"a dense {n} x {n} Potts kernel would need {8.0 * n * n / 2**20:.3g} "
                         f"MiB (limit {DENSE_MAX_STATES} states); use the matrix-free "
                         "PottsKernel(...).apply / .propagate instead.")


def _energies_by_definition(h, J, s):
    """E(σ) = −Σ_i h_i(σ_i) − Σ_{i<j} J_ij(σ_i, σ_j) for the rows of ``s`` (any dtype of h, J)."""
    N = s.shape[1]
    E = -sum(h[i, s[:, i]] for i in range(N))
    for i in range(N):
        for j in range(i + 1, N):
            E = E - J[i, j, s[:, i], s[:, j]]
    return E


def site_matrix(h, J, rule, i):
    r"""Dense :math:`T_i` (q^N x q^N, column-stochastic) from the energies of the definition:
    :math:`T_i[y_b, x] = e^{-E(y_b)}/\sum_c e^{-E(y_c)}` (heat-bath) or
    :math:`\frac1{q-1}\min(1, e^{E(x)-E(y_b)})`, b ≠ σ_i(x) (Metropolis), :math:`y_b` the state x
    with :math:`\sigma_i = b`.  ``h``, ``J`` may be complex (complex-step derivatives; the
    Metropolis branch is chosen on the real part)."""
    N, q = h.shape
    n = q ** N
    check_dense_states(n)
    s = colours(N, q)
    x = np.arange(n)
    E = _energies_by_definition(h, J, s)
    qi = q ** i
    ys = [x + (b - s[:, i].astype(np.int64)) * qi for b in range(q)]
    T = np.zeros((n, n), dtype=np.result_type(h, J, float))
    if rule == "heatbath":
        Ey = np.array([E[y] for y in ys])
        w = np.exp(-(Ey - Ey.real.min(axis=0)))       # shifted by the fibre's lowest energy
        w = w / w.sum(axis=0)
        for b in range(q):
            T[ys[b], x] += w[b]
    else:
        for b in range(q):
            other = s[:, i] != b
            dE = E[x[other]] - E[ys[b][other]]
            acc = np.exp(np.where(dE.real < 0, dE, 0.0)) / (q - 1)
            T[ys[b][other], x[other]] += acc
            T[x[other], x[other]] -= acc
        T[x, x] += 1.0
    return T


def dense_kernel(h, J, rule, scan):
    """Dense U: random :math:`(\\frac1N\\sum_i T_i)^N`, sequential :math:`T_{N-1}\\cdots T_0`."""
    N = h.shape[0]
    Ts = [site_matrix(h, J, rule, i) for i in range(N)]
    if scan == "sequential":
        U = np.eye(Ts[0].shape[0], dtype=Ts[0].dtype)
        for T in Ts:
            U = T @ U
        return U
    return np.linalg.matrix_power(sum(Ts) / N, N)


# ---------------------------------------------------------------------------------------------
# the exact tangent
# ---------------------------------------------------------------------------------------------
#: Bytes per state and parameter of the tangent route (D, its output and work rows).
TANGENT_BYTES = 16


class PottsTangent:
    r"""Forward-mode derivative of :math:`U^k p_0` with respect to θ (P3), shape (q^N, P)."""

    def __init__(self, model, rule="heatbath", scan="random"):
        self.k = PottsKernel(model, rule, scan)
        N, q = model.N, model.q
        self.P = n_params(N, q)
        check_states_size(N, q, TANGENT_BYTES * self.P, "the exact Potts tangent")
        self.cols = theta_columns(N, q)
        self._work = (np.empty((q, self.P)), np.empty((q, self.P)), np.empty(q), np.empty(q),
                      np.empty(N, dtype=np.int64))

    def _site(self, p, D, op, oD, w, acc, i):
        k = self.k
        _tangent_site(p, D, op, oD, float(w), acc, int(i), k._rule, k._A, k._B, k.q, k._qL,
                      self.cols, *self._work)

    def step(self, p, D):
        """One sweep: ``(U p, U D + (∂U) p)`` (new arrays for the random scan, in place for the
        sequential one)."""
        N = self.k.N
        if self.k.scan == "sequential":
            for i in range(N):
                self._site(p, D, p, D, 0.0, False, i)
            return p, D
        for _ in range(N):
            op, oD = np.zeros_like(p), np.zeros_like(D)
            for i in range(N):
                self._site(p, D, op, oD, 1.0 / N, True, i)
            p, D = op, oD
        return p, D

    def propagate(self, p0, k):
        p = check_law(p0, self.k.n_states, "p0")
        D = np.zeros((p.shape[0], self.P))
        for _ in range(check_steps(k, "k")):
            p, D = self.step(p, D)
        return p, D


def potts_law_tangent(model, p0, k, rule="heatbath", scan="random"):
    r"""``(U^k p0, ∂(U^k p0)/∂θ)`` (P3) (the ``law_tangent`` capability)."""
    return PottsTangent(model, rule, scan).propagate(p0, k)


def potts_stationary_tangent(model, rule="heatbath", scan="random"):
    r"""``(p_θ, ∂p_θ/∂θ)``: both rules and scans leave :math:`p_\theta` stationary (the
    ``stationary_tangent`` capability)."""
    check_choice(rule, PottsMachine.RULES, "rule")
    check_choice(scan, PottsMachine.SCANS, "scan")
    return model.equilibrium_tangent()



def theta_direction(model, a):
    """Reference-gauge (h, J) of the unit vector e_a of θ (θ ↦ (h, J) is linear)."""
    check_count(a, "a", minimum=0)
    if a >= model.n_params:
        raise ValueError(f"a={a!r} must be a parameter index in 0..{model.n_params - 1}.")
    e = np.zeros(model.n_params)
    e[a] = 1.0
    return params_from_theta(e, model.N, model.q)
