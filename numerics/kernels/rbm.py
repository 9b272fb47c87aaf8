r"""The exact visible chain of an RBM (alternating Gibbs sampling) and its tangent (R2).

One step is one alternating Gibbs update v → h → v.  Its kernel on the 2^N_v visible states is
(column-stochastic, :math:`U[v', v] = P(v \to v')`)

.. math:: U = B A,\qquad A[h, v] = p(h\mid v) = \prod_\alpha p(h_\alpha\mid v),\qquad
          B[v', h] = p(v'\mid h) = \prod_i p(v'_i\mid h),

applied as the two conditional maps (never as a 2^{N_v+N_h}-state joint chain).  A block of
columns of A is built from the Bernoulli means by doubling over the units (:func:`product_block`:
:math:`2\cdot 2^{N_h}` multiplications per visible state, no transcendental), so one step costs
about :math:`4\cdot 2^{N_v+N_h}` operations and memory stays bounded by a block; both maps are
kept whole when they are small (:data:`CACHE_ENTRIES`).

U is reversible with respect to the marginal p(v): :math:`U[v',v]p(v) = \sum_h p(v'|h)p(v|h)p(h)`
is symmetric, and :math:`D^{-1/2}UD^{1/2} = MM^\top` with :math:`M = D^{-1/2}B\,{\rm diag}(p(h))^{1/2}`,
so the spectrum lies in [0, 1] (the spectral route of :func:`~shortrun.numerics.kernels.spectral.decompose`
applies).  The non-zero eigenvalues of :math:`U = BA` are those of the hidden chain :math:`AB`
(2^N_h states), whence :meth:`RBMKernel.mixing_time` from the smaller layer.

Tangent (exact forward mode, (G2) differentiated): :math:`\partial p_{t+1} = U\,\partial p_t +
(\partial U)p_t` with :math:`(\partial U)p = (\partial B)(Ap) + B(\partial A)p` and, from
:math:`\partial\log p(h|v)/\partial x_\alpha = h_\alpha - \mu_\alpha(v)`,
:math:`\partial\log p(v'|h)/\partial y_i = v'_i - \nu_i(h)` (:math:`\nu = \sigma(a + Wh)`):

.. math::
    \big((\partial_{b_\alpha}A)p\big)(h) &= h_\alpha (Ap)(h) - \big(A(\mu_\alpha p)\big)(h),\qquad
    \big((\partial_{W_{i\alpha}}A)p\big)(h) = h_\alpha \big(A(v_ip)\big)(h) - \big(A(v_i\mu_\alpha p)\big)(h),\\
    \big((\partial_{a_i}B)q\big)(v') &= v'_i (Bq)(v') - \big(B(\nu_i q)\big)(v'),\qquad
    \big((\partial_{W_{i\alpha}}B)q\big)(v') = v'_i \big(B(h_\alpha q)\big)(v') - \big(B(\nu_i h_\alpha q)\big)(v').
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from shortrun.conventions import check_distribution, check_steps
from shortrun.numerics.kernels.base import Kernel
from shortrun.numerics.models.rbm import RBM, bits, check_chain, check_visible_route

#: Largest N_v + N_h of the exact visible chain (one step costs about 4·2^(N_v+N_h) operations).
KERNEL_MAX_BITS = 28
#: Largest N_v + N_h of the exact tangent (cost about 2 P·2^(N_v+N_h) per step) and largest N_v
#: (the tangent holds 2^N_v x P doubles).
TANGENT_MAX_BITS, TANGENT_MAX_NV = 24, 16
#: Maps with at most this many entries are built once and kept (2 x 32 MiB at the limit).
CACHE_ENTRIES = 1 << 22
#: Entries of one block of a map built on the fly.
BLOCK_ENTRIES = 1 << 20


def product_block(mean, mean_bar):
    r"""The factorised conditional law of n units for each of m conditioning states.

    ``mean`` (m, n) holds :math:`\mu_{ju} = P(u = 1 \mid j)`, ``mean_bar`` = 1 − ``mean``
    (computed without cancellation).  Returns M of shape (2^n, m) with
    :math:`M[y, j] = \prod_u \mu_{ju}^{y_u}(1-\mu_{ju})^{1-y_u}` (bit u of y), built by doubling:
    rows with bit u = 0 are the previous rows times :math:`1-\mu_{\cdot u}`, rows with bit u = 1
    times :math:`\mu_{\cdot u}`.
    """
    m, n = mean.shape
    M = np.ones((1, m))
    for u in range(n):
        M = np.concatenate([M * mean_bar[:, u], M * mean[:, u]], axis=0)
    return M


class _ConditionalMap:
    r"""The matrix :math:`M[y, j] = \prod_u P(y_u\mid j)` (2^n_out x n_in), applied by blocks of
    columns j, or held whole when small."""

    def __init__(self, mean, mean_bar):
        self.mean, self.mean_bar = mean, mean_bar
        n_in, n_out = mean.shape
        self.shape = (1 << n_out, n_in)
        self.block = max(1, BLOCK_ENTRIES >> n_out)
        self.full = (product_block(mean, mean_bar)
                     if self.shape[0] * self.shape[1] <= CACHE_ENTRIES else None)

    def __matmul__(self, X):
        """:math:`M X` for a vector or matrix X with n_in rows."""
        if self.full is not None:
            return self.full @ X
        out = np.zeros((self.shape[0],) + X.shape[1:])
        for s in range(0, self.shape[1], self.block):
            e = min(s + self.block, self.shape[1])
            out += product_block(self.mean[s:e], self.mean_bar[s:e]) @ X[s:e]
        return out

    def dense(self):
        return self.full if self.full is not None else product_block(self.mean, self.mean_bar)


def check_rbm_chain(model, rule, scan):
    """Validate the rule and scan of an RBM chain against ``RBM.RULES`` / ``RBM.SCANS``."""
    if not isinstance(model, RBM):
        raise ValueError(f"model must be an RBM(a, b, W); got {type(model).__name__}.")
    check_chain(rule, scan)
    check_visible_route(model.N_v, "the exact RBM visible chain")
    if model.N_v + model.N_h > KERNEL_MAX_BITS:
        raise ValueError(f"the exact RBM visible chain costs about 4*2^(N_v+N_h) operations per "
                         f"step; N_v + N_h = {model.N_v + model.N_h} exceeds the limit "
                         f"{KERNEL_MAX_BITS}.  Use Monte Carlo (shortrun.numerics.sampling.sample).")


class RBMKernel(Kernel):
    r"""Exact kernel :math:`U = BA` of the RBM's visible chain (module docstring; (R2)).

    ``up(p)`` maps a law over visible states to the law of h after one half step,
    :math:`Ap`; ``down(q)`` maps a law over hidden states to :math:`Bq`; ``apply(p) =
    down(up(p))``.  Column-stochastic, reversible with respect to :math:`p(v)`, spectrum in
    [0, 1].
    """

    time = "discrete"
    reversible = True

    def __init__(self, model, rule="heatbath", scan="alternating", *, warn=True):
        check_rbm_chain(model, rule, scan)
        self.model, self.rule, self.scan = model, rule, scan
        self.n_states = model.n_states
        self.n_hidden_states = 1 << model.N_h
        X = model.hidden_input(model.visible_bits())            # (2^Nv, Nh)
        self.mu, self.mu_bar = expit(X), expit(-X)
        Hb = bits(model.N_h)
        Y = model.visible_input(Hb)                              # (2^Nh, Nv)
        self.nu, self.nu_bar = expit(Y), expit(-Y)
        self.A = _ConditionalMap(self.mu, self.mu_bar)          # 2^Nh x 2^Nv
        self.B = _ConditionalMap(self.nu, self.nu_bar)          # 2^Nv x 2^Nh

    def __repr__(self):
        return f"RBMKernel(N_v={self.model.N_v}, N_h={self.model.N_h})"

    def _vector(self, p, n, name):
        return self.check_vector(p, n, name, rows=True)

    def _advance(self, p):
        return self.B @ (self.A @ p)

    def up(self, p):
        r""":math:`(Ap)(h) = \sum_v p(h\mid v)\,p(v)`: visible law → hidden law (half step)."""
        return self.A @ self._vector(p, self.n_states, "p")

    def down(self, q):
        r""":math:`(Bq)(v') = \sum_h p(v'\mid h)\,q(h)`: hidden law → visible law (half step)."""
        return self.B @ self._vector(q, self.n_hidden_states, "q")

    def apply(self, p):
        r"""One alternating Gibbs step :math:`Up = B(Ap)` (G2); ``p`` checked once (the hidden
        law A p in between is finite by construction)."""
        return self._advance(self._vector(p, self.n_states, "p"))

    def dense(self):
        r"""The dense 2^N_v x 2^N_v matrix U, built independently of the block maps from
        :math:`\log p(h\mid v) = h\cdot x(v) - \sum_\alpha\log(1+e^{x_\alpha})` (reference route;
        small machines only)."""
        m = self.model
        if m.N_v > 14 or m.N_h > 14:
            raise ValueError(f"the dense RBM kernel is a reference for small machines (N_v, N_h "
                             f"<= 14); got N_v={m.N_v}, N_h={m.N_h}: use apply().")
        V, Hb = m.visible_bits(), bits(m.N_h)
        X, Y = m.hidden_input(V), m.visible_input(Hb)
        logA = Hb @ X.T - np.logaddexp(0.0, X).sum(axis=1)[None, :]    # (2^Nh, 2^Nv)
        logB = V @ Y.T - np.logaddexp(0.0, Y).sum(axis=1)[None, :]     # (2^Nv, 2^Nh)
        return np.exp(logB) @ np.exp(logA)

    def hidden_dense(self):
        r"""The hidden chain :math:`AB` (2^N_h x 2^N_h, h → v → h): same non-zero spectrum as U."""
        return self.A @ self.B.dense()

    def stationary(self):
        """The visible marginal p(v) of the model (R1)."""
        return np.array(self.model.boltzmann())

    def mixing_time(self):
        r"""Exact mixing time :math:`\kappa_1 = -1/\ln\lambda_1` (G3) from the smaller of the
        visible chain BA and the hidden chain AB (the same non-zero eigenvalues); both are
        reversible, the eigenvalues come from the symmetrised matrix.  A λ_1 at round-off level
        (below 64 eps, e.g. W = 0: one step reaches p(v)) counts as 0 (κ_1 = 0)."""
        m = self.model
        if m.N_h < m.N_v:
            M, pi = self.hidden_dense(), m.hidden_marginal()
        else:
            M, pi = self.dense(), np.asarray(m.boltzmann())
        r = np.sqrt(pi)
        S = M * (r[None, :] / r[:, None])
        lam = np.sort(np.linalg.eigvalsh((S + S.T) / 2))[::-1]
        lam1 = lam[1] if len(lam) > 1 else 0.0
        if lam1 <= 64 * np.finfo(float).eps:
            return 0.0
        return float(-1.0 / np.log(lam1)) if lam1 < 1 else np.inf


class RBMTangent:
    r"""Forward-mode twin of :class:`RBMKernel`: ``step(p, D)`` returns
    :math:`(Up,\ UD + (\partial U)p)` with D of shape (2^N_v, P) in θ order (module docstring)."""

    def __init__(self, model, rule="heatbath", scan="alternating"):
        self.kernel = k = RBMKernel(model, rule, scan)
        nv, nh = model.N_v, model.N_h
        if nv + nh > TANGENT_MAX_BITS or nv > TANGENT_MAX_NV:
            raise ValueError(f"the exact RBM tangent holds 2^N_v x P numbers and costs about "
                             f"2P*2^(N_v+N_h) operations per step; N_v={nv}, N_h={nh} exceed the "
                             f"limits N_v <= {TANGENT_MAX_NV}, N_v + N_h <= {TANGENT_MAX_BITS}.  "
                             "Use finite differences of Monte Carlo.")
        self.model, self.P, self.n_states = model, model.n_params, k.n_states
        self.V, self.H = model.visible_bits(), bits(nh)
        iW = nv + nh + np.arange(nv * nh).reshape(nv, nh)          # theta index of W[i, alpha]
        self._up = (k.A, self.V, self.H, k.mu, nv + np.arange(nh), iW)
        self._down = (k.B, self.H, self.V, k.nu, np.arange(nv), iW.T)

    def _half(self, p, D, M, X_in, Y_out, means, bias_cols, w_cols):
        r"""One conditional map on the pair (p, D): :math:`(Mp,\ MD + (\partial M)p)`.

        ``M[y, x] = \prod_u P(y_u | x)`` with means ``means[x, u]``; the output layer's fields
        sit at ``bias_cols``, the weight between input unit j and output unit u at
        ``w_cols[j, u]``: :math:`(\partial_{\rm bias_u}M)p = y_u (Mp) - M(m_u p)`,
        :math:`(\partial_{W_{ju}}M)p = y_u M(x_j p) - M(x_j m_u p)`.
        """
        n_in, n_out = X_in.shape[1], Y_out.shape[1]
        cross = (X_in[:, :, None] * means[:, None, :]).reshape(-1, n_in * n_out)
        R = M @ np.concatenate([p[:, None], D, means * p[:, None], X_in * p[:, None],
                                cross * p[:, None]], axis=1)
        q, dq = R[:, 0], R[:, 1:1 + self.P].copy()
        R_m, R_x, R_xm = np.split(R[:, 1 + self.P:], [n_out, n_out + n_in], axis=1)
        dq[:, bias_cols] += Y_out * q[:, None] - R_m
        dq[:, w_cols.ravel()] += ((R_x[:, :, None] * Y_out[:, None, :]).reshape(-1, n_in * n_out)
                                  - R_xm)
        return q, dq

    def step(self, p, D):
        r""":math:`(Up,\ UD + (\partial U)p)` for U = BA: the half steps v → h and h → v."""
        q, dq = self._half(p, D, *self._up)
        return self._half(q, dq, *self._down)

    def propagate(self, p0, k, D0=None):
        r"""Exact :math:`(p(k,p_0),\ \partial_\theta p(k,p_0))`; ``D0`` is the tangent of p0
        (zero by default)."""
        p = check_distribution(p0, self.n_states, "p0")
        D = np.zeros((self.n_states, self.P)) if D0 is None else np.array(D0, float)
        if D.shape != (self.n_states, self.P):
            raise ValueError(f"D0 must have shape (2^N_v, P) = {(self.n_states, self.P)}; "
                             f"got {D.shape}.")
        for _ in range(check_steps(k, "k")):
            p, D = self.step(p, D)
        return p, D


def rbm_kernel(model: RBM, rule="heatbath", scan="alternating", *, warn=True):
    return RBMKernel(model, rule, scan, warn=warn)


def rbm_law_tangent(model: RBM, p0, k, rule="heatbath", scan="alternating"):
    return RBMTangent(model, rule, scan).propagate(p0, k)


def rbm_stationary_tangent(model: RBM, rule="heatbath", scan="alternating"):
    check_rbm_chain(model, rule, scan)
    return model.equilibrium_tangent()
