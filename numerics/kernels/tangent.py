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
"""
from __future__ import annotations

import numpy as np
from numba import njit
from scipy.special import expit

from shortrun.numerics.kernels import base
from shortrun.numerics.kernels.base import poisson_weights
from shortrun.numerics.kernels.boltzmann import BMKernel
from shortrun.numerics.models.boltzmann import BoltzmannMachine, n_params, phi_matrix
from shortrun.numerics.core.states import check_size, spins
from shortrun.conventions import RULES, SCANS, check_choice, check_distribution, check_steps

#: Largest N for the tangent routes (the tangent matrix holds 2^N x P doubles).
TANGENT_MAX_N = 14


@njit(cache=True)
def _site_tangent(p, D, out_p, out_D, w, i, a, abar, b, bbar, da, db, cols):
    """``(out_p, out_D) (+)= w * (T_i p, T_i D + (dT_i) p)`` (assign when ``w == 0``; may run in
    place, ``out is p``).  Coefficient arrays are indexed by the states with bit i = 0 in
    increasing order; ``cols[j]`` is the theta column of J_ij (of h_i for j = i)."""
    n, P = D.shape
    N = cols.shape[0]
    bit = 1 << i
    acc = w != 0.0
    c = 0
    for x0 in range(n):
        if x0 & bit:
            continue
        x1 = x0 | bit
        pm, pp = p[x0], p[x1]
        ai, bi = a[c], b[c]
        g = da[c] * pp + db[c] * pm
        new_plus = ai * pp + bi * pm
        new_minus = abar[c] * pp + bbar[c] * pm
        if acc:
            out_p[x1] += w * new_plus
            out_p[x0] += w * new_minus
            for col in range(P):
                dm, dp = D[x0, col], D[x1, col]
                t = ai * dp + bi * dm
                out_D[x1, col] += w * t
                out_D[x0, col] += w * (dp + dm - t)
            for j in range(N):
                dh = 1.0 if (j == i or (x0 >> j) & 1) else -1.0
                out_D[x1, cols[j]] += w * g * dh
                out_D[x0, cols[j]] -= w * g * dh
        else:
            out_p[x1] = new_plus
            out_p[x0] = new_minus
            for col in range(P):
                dm, dp = D[x0, col], D[x1, col]
                t = ai * dp + bi * dm
                out_D[x1, col] = t
                out_D[x0, col] = dp + dm - t
            for j in range(N):
                dh = 1.0 if (j == i or (x0 >> j) & 1) else -1.0
                out_D[x1, cols[j]] += g * dh
                out_D[x0, cols[j]] -= g * dh
        c += 1


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
            raise ValueError(f"the exact Jacobian holds a 2^N x P tangent matrix; N={N} exceeds "
                             f"N <= {TANGENT_MAX_N}: use finite differences of Monte Carlo.")
        self.n_states = 1 << N
        self.P = n_params(N)
        self._cols = pair_columns(N)
        s = spins(N).astype(float)
        H = model.h[None, :] + s @ model.J                                 # (2^N, N)
        self._sites = [self._site_data(i, s, H) for i in range(N)] if scan != "parallel" else None
        self._dense = None
        if scan == "parallel":
            self._parallel_setup(s, H)

    # -- single-site tangents ------------------------------------------------------------------
    def _site_data(self, i, s, H):
        low = (np.arange(self.n_states) >> i) & 1 == 0                     # states with s_i = -1
        coef = rule_coefficients(H[low, i], self.rule)
        return tuple(np.ascontiguousarray(c) for c in coef) + (self._cols[i].copy(),)

    def site_step(self, p, D, i):
        r""":math:`(T_i p,\ T_i D + (\partial T_i) p)` for site i (new arrays)."""
        out_p, out_D = np.empty_like(p), np.empty_like(D)
        _site_tangent(p, D, out_p, out_D, 0.0, int(i), *self._sites[i])
        return out_p, out_D

    def random_step(self, p, D):
        r""":math:`R = \frac1N\sum_i T_i` on the pair (p, D)."""
        acc_p, acc_D = np.zeros_like(p), np.zeros_like(D)
        for i in range(self.N):
            _site_tangent(p, D, acc_p, acc_D, 1.0 / self.N, i, *self._sites[i])
        return acc_p, acc_D

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
        if self.scan == "sequential":
            p, D = p.copy(), D.copy()
            for i in range(self.N):
                _site_tangent(p, D, p, D, 0.0, i, *self._sites[i])
            return p, D
        if self.scan == "continuous":
            return self.random_step(p, D)
        for _ in range(self.N):
            p, D = self.random_step(p, D)
        return p, D

    def propagate(self, p0, k, D0=None):
        r"""Exact :math:`(p(k, p_0),\ \partial_\theta p(k, p_0))`.

        ``D0`` is the tangent of ``p0`` (zero by default: p0 does not depend on θ).  For
        ``scan='continuous'`` ``k`` is the time t in sweeps.
        """
        p = check_distribution(p0, self.n_states, "p0")
        D = np.zeros((self.n_states, self.P)) if D0 is None else np.array(D0, float, order="C")
        if D.shape != (self.n_states, self.P):
            raise ValueError(f"D0 must have shape (2^N, P) = {(self.n_states, self.P)}; "
                             f"got {D.shape}.")
        if self.scan == "continuous":
            t = check_steps(k, "t", integer=False)
            if t == 0:
                return p, D
            w = poisson_weights(self.N * t)
            out_p, out_D = w[0] * p, w[0] * D
            for wn in w[1:]:
                p, D = self.random_step(p, D)
                out_p += wn * p
                out_D += wn * D
            return out_p, out_D
        for _ in range(check_steps(k, "k")):
            p, D = self.step(p, D)
        return p, D


@base.law_tangent.register
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
    scan = check_choice(scan, SCANS, "scan")
    if scan != "parallel":
        return equilibrium_jacobian(model)
    pi, dpi = stationary_tangent(model, rule, scan)
    Phi = phi_matrix(model.N)
    return Phi.T @ pi, Phi.T @ dpi


@base.stationary_tangent.register
def stationary_tangent(model: BoltzmannMachine, rule="heatbath", scan="random"):
    r"""``(π, ∂π/∂θ)`` of the kernel's stationary law: :math:`p_\theta` and
    :math:`p_\theta(\phi - \langle\phi\rangle)` for the random, sequential and continuous scans;
    for parallel updates the solution of :math:`(I - U)\,\partial\pi = (\partial U)\,\pi`,
    :math:`\mathbf 1^\top\partial\pi = 0`."""
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
