r"""Exact forward-mode derivatives of the k-step law p(k, p0) with respect to theta.

(G2): :math:`p_{t+1} = U_\theta p_t` gives the tangent recursion

.. math:: \partial_\theta p_{t+1} = U_\theta\,\partial_\theta p_t
          + (\partial_\theta U_\theta)\,p_t ,

carried for all P = N + N(N−1)/2 parameters at once as a tangent matrix
``D[x, a] = ∂p(x)/∂θ_a`` of shape (2^N, P).  Kernels are column-stochastic
(``U[x', x] = P(x -> x')``).

Single-site update of site i (pair of states :math:`x^\mp` differing only in :math:`s_i`, sharing
:math:`H_i = h_i + \sum_j J_{ij}s_j`).  With :math:`\alpha = P(s_i'=+\mid s_i=+)`,
:math:`\beta = P(s_i'=+\mid s_i=-)`:

.. math::
    p'(x^+) &= \alpha\,p(x^+) + \beta\,p(x^-),\qquad
    p'(x^-) = \bar\alpha\,p(x^+) + \bar\beta\,p(x^-),\\
    \partial p'(x^+) &= \alpha\,\partial p(x^+) + \beta\,\partial p(x^-)
       + \big(\alpha' p(x^+) + \beta' p(x^-)\big)\,\partial H_i,\qquad
    \partial p'(x^-) = \partial p(x^+) + \partial p(x^-) - \partial p'(x^+),

:math:`\partial H_i/\partial h_i = 1`, :math:`\partial H_i/\partial J_{ij} = s_j`, all other
derivatives of :math:`H_i` zero.

* heat-bath: :math:`\alpha = \beta = \sigma(2H_i)`, :math:`\alpha' = \beta' = 2\sigma(1-\sigma)`.
* Metropolis: :math:`\alpha = 1 - \min(1, e^{-2H_i})`, :math:`\beta = \min(1, e^{2H_i})`;
  :math:`\alpha' = 2e^{-2H_i}` for :math:`H_i \ge 0` (0 below), :math:`\beta' = 2e^{2H_i}` for
  :math:`H_i < 0` (0 above).  The rule has a kink at :math:`H_i = 0`: there the derivative of the
  :math:`H_i \ge 0` branch (the one the kernel evaluates, :math:`q = e^{-2H_i} \le 1`) is used,
  i.e. the **right derivative in** :math:`H_i`.  The two one-sided values of
  :math:`\partial p'(x^+)/\partial H_i` differ by :math:`2\,(p(x^+) - p(x^-))`, so the kink is
  invisible where :math:`p(x^+) = p(x^-)` (e.g. uniform p0 at θ = 0) and Newton's method uses an
  element of the generalised Jacobian elsewhere.  Finite differences straddling the kink
  converge to neither side.

Scans: random :math:`U = R^N`, :math:`R = \frac1N\sum_i T_i` (tangents averaged the same way);
sequential :math:`U = T_{N-1}\cdots T_0`; continuous :math:`p(t) = \sum_n w_n(t) R^n p_0` with
the Poisson weights :math:`w_n = e^{-Nt}(Nt)^n/n!` (uniformisation; the weights do not depend on
θ); parallel through the dense kernel: with :math:`d_i(x) = \partial P(s_i'=+\mid x)/\partial H_i`,

.. math:: \big((\partial U) p\big)(x') = \sum_i s'_i\,\big(Y_i(x') + Y_i(x'\oplus e_i)\big),\qquad
          Y_i = U\big(d_i\,\partial H_i\, p\big),

because :math:`\prod_{j\ne i}P_j(s'_j\mid x) = U[x',x] + U[x'\oplus e_i, x]`.

Implementation: one site update is one pass over the pairs of states; for each pair the six
coefficients are read once and applied to all P tangent columns (two rows of ``D``, contiguous),
then the ∂H term is added to the N columns of :math:`h_i` and :math:`J_{ij}`.  Pairs are spread
over the threads; they are disjoint, and in the random scan every row receives the sites'
contributions in the order 0, 1, …, N−1, so the result does not depend on the thread count, bit
for bit.  The coefficients are tabulated once per θ (N·2^(N−1) pairs) in numba.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.special import expit

from shortrun.numerics.kernels.boltzmann import BMKernel, uniformisation_weights
from shortrun.numerics.models.boltzmann import BoltzmannMachine, n_params, phi_matrix
from shortrun.numerics.core.states import check_size, spins
from shortrun.conventions import RULES, SCANS, check_choice, check_distribution, check_steps

#: Largest N for the tangent routes: a sweep costs about N·2^N·P multiply-adds (P = N(N+1)/2)
#: and the tangent matrices 8·2^N·P bytes each (checked against the memory budget as well).
TANGENT_MAX_N = 18
#: Tangent passes with fewer than this many 2^N·P entries run on one thread.
SERIAL_BELOW = 1 << 19
#: Work chunks of pairs per site pass (fixed, so the split does not depend on the thread count).
CHUNKS = 64

_JIT = dict(cache=True, error_model="numpy")
HEATBATH, METROPOLIS = 0, 1


# ---------------------------------------------------------------------------------------------
# numba core
# ---------------------------------------------------------------------------------------------
@njit(**_JIT, inline="always")
def _pair_state(i, c):
    """The state with bit i clear whose other bits are those of the pair index ``c``."""
    low = (1 << i) - 1
    return ((c & ~low) << 1) | (c & low)


@njit(**_JIT, inline="always")
def _site_coefficients(H, rule, row):
    """``row = (α, 1-α, β, 1-β, ∂α/∂H, ∂β/∂H)`` of one pair (see :func:`rule_coefficients`)."""
    if rule == HEATBATH:
        e = np.exp(-2.0 * abs(H))
        up, dn = 1.0 / (1.0 + e), e / (1.0 + e)
        a, abar = (up, dn) if H >= 0.0 else (dn, up)
        row[0], row[1], row[2], row[3] = a, abar, a, abar
        row[4] = row[5] = 2.0 * a * abar
    else:
        e = np.exp(-2.0 * abs(H))
        m = -np.expm1(-2.0 * abs(H))
        if H >= 0.0:
            row[0], row[1], row[2], row[3], row[4], row[5] = m, e, 1.0, 0.0, 2.0 * e, 0.0
        else:
            row[0], row[1], row[2], row[3], row[4], row[5] = 0.0, 1.0, e, m, 0.0, 2.0 * e


@njit(**_JIT, inline="always")
def _site_table(h, J, rule, coef, i):
    r"""``coef[i, c]``: the coefficients of site i on its pair ``c`` (local field
    :math:`H_i = h_i + \sum_j J_{ij}s_j` of the pair's states)."""
    N = h.shape[0]
    for c in range(coef.shape[1]):
        x0 = _pair_state(i, c)
        H = h[i]
        for j in range(N):
            if j != i:
                H += J[i, j] if (x0 >> j) & 1 else -J[i, j]
        _site_coefficients(H, rule, coef[i, c])


@njit(**_JIT)
def _coefficients_serial(h, J, rule, coef):
    for i in range(h.shape[0]):
        _site_table(h, J, rule, coef, i)


@njit(**_JIT, parallel=True)
def _coefficients_threads(h, J, rule, coef):
    for i in prange(h.shape[0]):
        _site_table(h, J, rule, coef, i)


@njit(**_JIT, inline="always")
def _site_pairs(p, D, op, oD, w, acc, i, c0, c1, coef, cols):
    """Pairs ``c0 <= c < c1`` of site i: ``(op, oD) += w (T_i p, T_i D + (∂T_i) p)`` (``acc``), or
    in place (``op is p``, ``oD is D``), with the formulas of the module docstring."""
    N, P = cols.shape[0], D.shape[1]
    bit = 1 << i
    ci = cols[i]
    for c in range(c0, c1):
        x0 = _pair_state(i, c)
        x1 = x0 | bit
        k = coef[i, c]
        a, abar, b, bbar = k[0], k[1], k[2], k[3]
        pm, pp = p[x0], p[x1]
        g = k[4] * pp + k[5] * pm
        new_plus = a * pp + b * pm
        new_minus = abar * pp + bbar * pm
        D0, D1, O0, O1 = D[x0], D[x1], oD[x0], oD[x1]
        if acc:
            op[x1] += w * new_plus
            op[x0] += w * new_minus
            for col in range(P):
                dm, dp = D0[col], D1[col]
                t = a * dp + b * dm
                O1[col] += w * t
                O0[col] += w * (dp + dm - t)
            g = w * g
        else:
            op[x1] = new_plus
            op[x0] = new_minus
            for col in range(P):
                dm, dp = D0[col], D1[col]
                t = a * dp + b * dm
                D1[col] = t
                D0[col] = dp + dm - t
        for j in range(N):                  # dH_i/dJ_ij = s_j, dH_i/dh_i = 1 = bit i of x1
            dh = (2.0 * ((x1 >> j) & 1) - 1.0) * g
            O1[ci[j]] += dh
            O0[ci[j]] -= dh


@njit(**_JIT)
def _steps_serial(p, D, op, oD, n, acc, sites, coef, cols):
    """``n`` steps on one thread: sequential sweeps in place (``acc`` False: sites in the order
    of ``sites``) or random-scan updates R (``acc``: ``(op, oD) = R (p, D)``, n = 1)."""
    half = p.shape[0] >> 1
    w = 1.0 / sites.shape[0]
    for _ in range(n):
        if acc:
            op[:] = 0.0
            oD[:] = 0.0
        for i in sites:
            _site_pairs(p, D, op, oD, w, acc, i, 0, half, coef, cols)


@njit(**_JIT, parallel=True)
def _steps_threads(p, D, op, oD, n, acc, sites, coef, cols):
    """As :func:`_steps_serial`, the pairs of each site (and the rows zeroed) spread over the
    threads in :data:`CHUNKS` fixed chunks."""
    half = p.shape[0] >> 1
    w = 1.0 / sites.shape[0]
    per = (half + CHUNKS - 1) // CHUNKS
    rows = (op.shape[0] + CHUNKS - 1) // CHUNKS
    for _ in range(n):
        if acc:
            for ch in prange(CHUNKS):
                op[ch * rows:(ch + 1) * rows] = 0.0
                oD[ch * rows:(ch + 1) * rows] = 0.0
        for i in sites:
            for ch in prange(CHUNKS):
                _site_pairs(p, D, op, oD, w, acc, i, ch * per, min(half, (ch + 1) * per),
                            coef, cols)


@njit(**_JIT, inline="always")
def _gather_table(coef, w, T, x0, x1):
    r"""Per-state coefficients of the random-scan update :math:`R = \frac1N\sum_i T_i` in gather
    form: ``T[x, 0] = w Σ_i self_i(x)``, ``T[x, 1 + 3i : 4 + 3i] = w (nb_i, gs_i, gn_i)(x)``, so
    that for every state x, with y = x ⊕ e_i,

    .. math:: (Rp)(x) = T_{x0}\,p(x) + \sum_i \mathrm{nb}_i(x)\,p(y),\qquad
              G_i(x) = \mathrm{gs}_i(x)\,p(x) + \mathrm{gn}_i(x)\,p(y)

    (the same holds for every tangent column, plus the ∂H term :math:`s_i(x)G_i(x)\,\partial
    H_i`).  For s_i(x) = +1: self = α, nb = β, gs = ∂α, gn = ∂β; for s_i(x) = −1: self = 1 − β,
    nb = 1 − α, gs = ∂β, gn = ∂α (the pair formulas of the module docstring)."""
    N = coef.shape[0]
    for x in range(x0, x1):
        S = 0.0
        for i in range(N):
            low = (1 << i) - 1
            k = coef[i, ((x >> (i + 1)) << i) | (x & low)]
            if (x >> i) & 1:
                S += k[0]
                T[x, 1 + 3 * i], T[x, 2 + 3 * i], T[x, 3 + 3 * i] = w * k[2], w * k[4], w * k[5]
            else:
                S += k[3]
                T[x, 1 + 3 * i], T[x, 2 + 3 * i], T[x, 3 + 3 * i] = w * k[1], w * k[5], w * k[4]
        T[x, 0] = w * S


@njit(**_JIT)
def _gather_table_serial(coef, w, T):
    _gather_table(coef, w, T, 0, T.shape[0])


@njit(**_JIT, parallel=True)
def _gather_table_threads(coef, w, T):
    n = T.shape[0]
    per = (n + CHUNKS - 1) // CHUNKS
    for ch in prange(CHUNKS):
        _gather_table(coef, w, T, ch * per, min(n, (ch + 1) * per))


@njit(**_JIT, inline="always")
def _gather_rows(p, D, op, oD, T, cols, x0, x1, S):
    """``(op, oD)[x] = R (p, D)[x]`` for the states ``x0 <= x < x1``, each row built in place
    from its own row and its N neighbours (contributions in the order 0..N-1), then the ∂H
    term: :math:`s_iG_i` on column h_i, :math:`s_j(s_iG_i) + s_i(s_jG_j)` on column J_ij (i < j;
    those columns are contiguous in j).  ``S``: work array (2, N)."""
    N, P = cols.shape[0], D.shape[1]
    s, sg = S[0], S[1]
    for x in range(x0, x1):
        t = T[x]
        px = p[x]
        acc = t[0] * px
        o = oD[x]
        d = D[x]
        for col in range(P):
            o[col] = t[0] * d[col]
        for i in range(N):
            y = x ^ (1 << i)
            nb = t[1 + 3 * i]
            py = p[y]
            acc += nb * py
            s[i] = 2.0 * ((x >> i) & 1) - 1.0
            sg[i] = s[i] * (t[2 + 3 * i] * px + t[3 + 3 * i] * py)
            e = D[y]
            for col in range(P):
                o[col] += nb * e[col]
        op[x] = acc
        for i in range(N):
            o[i] += sg[i]
            if i + 1 < N:
                row = o[cols[i, i + 1] - (i + 1):]
                si, sgi = s[i], sg[i]
                for j in range(i + 1, N):
                    row[j] += s[j] * sgi + si * sg[j]


@njit(**_JIT)
def _gather_serial(p, D, op, oD, T, cols):
    _gather_rows(p, D, op, oD, T, cols, 0, p.shape[0], np.empty((2, cols.shape[0])))


@njit(**_JIT, parallel=True)
def _gather_threads(p, D, op, oD, T, cols):
    n = p.shape[0]
    per = (n + CHUNKS - 1) // CHUNKS
    for ch in prange(CHUNKS):
        _gather_rows(p, D, op, oD, T, cols, ch * per, min(n, (ch + 1) * per),
                     np.empty((2, cols.shape[0])))


@njit(**_JIT, parallel=True)
def _fold(res_p, res_D, w, p, D):
    """``res += w * (p, D)``, row by row."""
    for x in prange(p.shape[0]):
        res_p[x] += w * p[x]
        r, d = res_D[x], D[x]
        for col in range(d.shape[0]):
            r[col] += w * d[col]


def pair_columns(N):
    """``col[i, j]``: the index in ``theta`` of :math:`J_{ij}` (i ≠ j), and of :math:`h_i` on the
    diagonal."""
    col = np.empty((N, N), dtype=np.int64)
    iu = np.triu_indices(N, 1)
    col[iu] = N + np.arange(len(iu[0]))
    col[(iu[1], iu[0])] = col[iu]
    col[np.diag_indices(N)] = np.arange(N)
    return col


def rule_coefficients(H, rule):
    r"""Up-probabilities of one single-site update and their derivatives in :math:`H_i`.

    Returns ``(a, abar, b, bbar, da, db)``: :math:`\alpha = P(+\mid +)`, :math:`1-\alpha`,
    :math:`\beta = P(+\mid -)`, :math:`1-\beta`, :math:`\partial\alpha/\partial H`,
    :math:`\partial\beta/\partial H` (complements evaluated without cancellation).  Metropolis
    uses the right derivative at H = 0 (module docstring).
    """
    H = np.asarray(H, float)
    if rule == "heatbath":
        a = expit(2.0 * H)
        abar = expit(-2.0 * H)
        d = 2.0 * a * abar
        return a, abar, a, abar, d, d
    pos = H >= 0.0
    e = np.exp(-2.0 * np.abs(H))                # e^{-2|H|} in (0, 1]
    a = np.where(pos, -np.expm1(-2.0 * np.abs(H)), 0.0)
    abar = np.where(pos, e, 1.0)
    b = np.where(pos, 1.0, e)
    bbar = np.where(pos, 0.0, -np.expm1(-2.0 * np.abs(H)))
    da = np.where(pos, 2.0 * e, 0.0)
    db = np.where(pos, 0.0, 2.0 * e)
    return a, abar, b, bbar, da, db


class TangentKernel:
    r"""Forward-mode twin of :class:`~shortrun.numerics.kernels.BMKernel`.

    ``step(p, D)`` returns :math:`(U p,\ U D + (\partial U) p)`; ``propagate(p0, k)`` returns
    :math:`(p(k,p_0), \partial_\theta p(k, p_0))` with D of shape (2^N, P) in ``theta`` order.
    The law part is computed independently of the numba operators (tests compare the two).
    For ``scan='continuous'`` one "step" is one uniformised update R and ``propagate`` takes the
    real time t in sweeps.
    """

    def __init__(self, model, rule="heatbath", scan="random"):
        if not isinstance(model, BoltzmannMachine):
            raise ValueError("model must be a BoltzmannMachine(h, J).")
        self.model = model
        self.rule = check_choice(rule, RULES, "rule")
        self.scan = check_choice(scan, SCANS, "scan")
        self.N = N = model.N
        if N > TANGENT_MAX_N:
            raise ValueError(f"the exact Jacobian holds 2^N x P tangent matrices and costs about "
                             f"N 2^N P operations per sweep; N={N} exceeds N <= {TANGENT_MAX_N}: "
                             "use finite differences of Monte Carlo estimates.")
        self.n_states = 1 << N
        self.P = P = n_params(N)
        # tangent matrices: D, and the output of R (random) plus the running sum (continuous)
        mats = {"sequential": 1, "random": 2, "continuous": 3}.get(scan, 2)
        check_size(N, 8 * P * mats + 48 * N + 32, f"the exact {scan}-scan Jacobian",
                   "use finite differences of Monte Carlo estimates.")
        self._cols = pair_columns(N)
        self._rule = HEATBATH if self.rule == "heatbath" else METROPOLIS
        self._sites = np.arange(N, dtype=np.int64)
        self._dense = None
        self._threads = self.n_states * P >= SERIAL_BELOW
        if scan == "parallel":
            s = spins(N).astype(float)
            self._parallel_setup(s, model.h[None, :] + s @ model.J)
        else:
            self._coef = np.empty((N, max(self.n_states >> 1, 1), 6))
            fill = _coefficients_threads if self._threads else _coefficients_serial
            fill(model.h, model.J, self._rule, self._coef)
        self._run = _steps_threads if self._threads else _steps_serial
        self._table = None

    # -- single-site tangents ------------------------------------------------------------------
    def _pair(self, p, D):
        p = np.array(p, dtype=float, order="C")
        D = np.array(D, dtype=float, order="C")
        return p, D

    def site_step(self, p, D, i):
        r""":math:`(T_i p,\ T_i D + (\partial T_i) p)` for site i (new arrays)."""
        p, D = self._pair(p, D)
        self._run(p, D, p, D, 1, False, self._sites[int(i):int(i) + 1], self._coef, self._cols)
        return p, D

    def random_step(self, p, D, out=None):
        r""":math:`R = \frac1N\sum_i T_i` on the pair (p, D) (into ``out = (op, oD)`` if given),
        every row gathered from its N neighbours (:func:`_gather_table`)."""
        op, oD = (np.empty_like(p), np.empty_like(D)) if out is None else out
        if self._table is None:
            self._table = np.empty((self.n_states, 1 + 3 * self.N))
            fill = _gather_table_threads if self._threads else _gather_table_serial
            fill(self._coef, 1.0 / self.N, self._table)
        gather = _gather_threads if self._threads else _gather_serial
        gather(p, D, op, oD, self._table, self._cols)
        return op, oD

    def _random_steps(self, p, D, n, weights=None):
        r"""``R^n`` on (p, D) with two pairs of work arrays; with ``weights`` (length n + 1) the
        sum :math:`\sum_m w_m R^m (p, D)` instead."""
        bufs = [(np.empty_like(p), np.empty_like(D)), (np.empty_like(p), np.empty_like(D))]
        res = None
        if weights is not None:
            res = (weights[0] * p, weights[0] * D)
        for m in range(n):
            p, D = self.random_step(p, D, bufs[m % 2])
            if res is not None:
                _fold(res[0], res[1], weights[m + 1], p, D)
        return (p, D) if res is None else res

    # -- parallel (dense) ----------------------------------------------------------------------
    def _parallel_setup(self, s, H):
        self._dense = BMKernel(self.model, self.rule, "parallel").dense()
        a, _, b, _, da, db = rule_coefficients(H, self.rule)
        plus = s > 0
        self._d = np.where(plus, da, db)                                   # (2^N, N)
        dH = np.repeat(s[:, None, :], self.N, axis=1)                      # (2^N, i, j)
        idx = np.arange(self.N)
        dH[:, idx, idx] = 1.0
        self._dH_full = dH
        self._s = s

    def parallel_step(self, p, D):
        U = self._dense
        n, N = self.n_states, self.N
        W = (self._d * p[:, None])[:, :, None] * self._dH_full             # (2^N, i, j)
        Y = (U @ W.reshape(n, N * N)).reshape(n, N, N)
        x = np.arange(n)
        out_D = U @ D
        for i in range(N):
            Yi = Y[:, i, :]
            out_D[:, self._cols[i]] += self._s[:, i, None] * (Yi + Yi[x ^ (1 << i)])
        return U @ p, out_D

    # -- kernel interface ------------------------------------------------------------------------
    def step(self, p, D):
        """One sweep (discrete scans) on the pair (p, D); one R for ``scan='continuous'``."""
        if self.scan == "parallel":
            return self.parallel_step(p, D)
        p, D = self._pair(p, D)
        if self.scan == "sequential":
            self._run(p, D, p, D, 1, False, self._sites, self._coef, self._cols)
            return p, D
        return self._random_steps(p, D, 1 if self.scan == "continuous" else self.N)

    def propagate(self, p0, k, D0=None):
        r"""Exact :math:`(p(k, p_0),\ \partial_\theta p(k, p_0))`.

        ``D0`` is the tangent of ``p0`` (zero by default: p0 does not depend on θ).  For
        ``scan='continuous'`` ``k`` is the time t in sweeps (uniformisation with the weights of
        :func:`~shortrun.numerics.kernels.boltzmann.uniformisation_weights`).
        """
        p = np.array(check_distribution(p0, self.n_states, "p0"), order="C")
        D = np.zeros((self.n_states, self.P)) if D0 is None else np.array(D0, float, order="C")
        if D.shape != (self.n_states, self.P):
            raise ValueError(f"D0 must have shape (2^N, P) = {(self.n_states, self.P)}; "
                             f"got {D.shape}.")
        if self.scan == "continuous":
            t = check_steps(k, "t", integer=False)
            if t == 0:
                return p, D
            w = uniformisation_weights(self.N * t)
            return self._random_steps(p, D, len(w) - 1, w)
        k = check_steps(k, "k")
        if self.scan == "sequential":
            self._run(p, D, p, D, k, False, self._sites, self._coef, self._cols)
            return p, D
        if self.scan == "random":
            return self._random_steps(p, D, k * self.N)
        for _ in range(k):
            p, D = self.step(p, D)
        return p, D


def law_tangent(model: BoltzmannMachine, p0, k, rule="heatbath", scan="random"):
    r""":math:`(p(k,p_0), \partial p(k,p_0)/\partial\theta)`; same signature as
    :func:`~shortrun.numerics.kernels.law`."""
    return TangentKernel(model, rule, scan).propagate(p0, k)


def stats_jacobian(model, p0, k, rule="heatbath", scan="random"):
    r"""Statistics of the k-step law and their exact Jacobian.

    .. math:: F(\theta) = \langle\phi\rangle_{p(k,p_0;\theta)} = \Phi^\top U_\theta^k p_0,\qquad
              \frac{\partial F_a}{\partial\theta_b} = \sum_x \phi_a(x)\,
              \frac{\partial p(k,p_0)(x)}{\partial\theta_b}.

    Returns ``(F, jac)`` with ``jac`` of shape (P, P).
    """
    p, D = law_tangent(model, p0, k, rule, scan)
    Phi = phi_matrix(model.N)
    return Phi.T @ p, Phi.T @ D


def equilibrium_jacobian(model):
    r"""Equilibrium statistics and their Jacobian, the covariance (Fisher information):

    .. math:: \frac{\partial\langle\phi_a\rangle_{p_\theta}}{\partial\theta_b}
              = \langle\phi_a\phi_b\rangle_{p_\theta} - \langle\phi_a\rangle\langle\phi_b\rangle .
    """
    p = np.asarray(model.boltzmann())
    Phi = phi_matrix(model.N)
    F = Phi.T @ p
    return F, (Phi * p[:, None]).T @ Phi - np.outer(F, F)


def stationary_jacobian(model, rule="heatbath", scan="random"):
    r"""Statistics of the kernel's stationary law π and their Jacobian.

    For the random, sequential and continuous scans π = p_θ (:func:`equilibrium_jacobian`).
    Otherwise (parallel) the stationary condition :math:`U\pi = \pi`, :math:`\mathbf 1^\top\pi = 1`
    differentiates to

    .. math:: (I - U)\,\partial\pi = (\partial U)\,\pi,\qquad \mathbf 1^\top\partial\pi = 0,

    solved densely (one row of the singular system replaced by the normalisation).
    """
    rule = check_choice(rule, RULES, "rule")
    scan = check_choice(scan, SCANS, "scan")
    if scan != "parallel":
        return equilibrium_jacobian(model)
    pi, dpi = stationary_tangent(model, rule, scan)
    Phi = phi_matrix(model.N)
    return Phi.T @ pi, Phi.T @ dpi


def stationary_tangent(model: BoltzmannMachine, rule="heatbath", scan="random"):
    r"""``(π, ∂π/∂θ)`` of the kernel's stationary law: :math:`p_\theta` and
    :math:`p_\theta(\phi - \langle\phi\rangle)` for the random, sequential and continuous scans;
    for parallel updates the solution of :math:`(I - U)\,\partial\pi = (\partial U)\,\pi`,
    :math:`\mathbf 1^\top\partial\pi = 0`."""
    rule = check_choice(rule, RULES, "rule")
    scan = check_choice(scan, SCANS, "scan")
    if scan != "parallel":
        p = np.asarray(model.boltzmann())
        Phi = phi_matrix(model.N)
        return p, (Phi - Phi.T @ p) * p[:, None]
    tk = TangentKernel(model, rule, scan)
    pi = BMKernel(model, rule, scan).stationary()
    _, dU_pi = tk.parallel_step(pi, np.zeros((tk.n_states, tk.P)))
    A = np.eye(tk.n_states) - tk._dense
    A[0, :] = 1.0
    rhs = dU_pi.copy()
    rhs[0, :] = 0.0
    try:
        dpi = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        raise RuntimeError("the stationary law of this parallel kernel is not unique (the chain "
                           "is not ergodic at this theta, e.g. parallel Metropolis at H = 0 flips "
                           "every spin deterministically); its Jacobian does not exist here: "
                           "start elsewhere.") from None
    return pi, dpi
