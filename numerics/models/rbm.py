r"""The restricted Boltzmann machine (RBM) and its exact visible marginal (R1).

Units :math:`v \in \{0,1\}^{N_v}` (visible) and :math:`h \in \{0,1\}^{N_h}` (hidden), energy

.. math::
    E(v, h) = -a\cdot v - b\cdot h - v^\top W h,\qquad
    p(v) = \frac{1}{Z}\sum_h e^{-E(v,h)} = \frac{e^{-F(v)}}{Z},\qquad
    F(v) = -a\cdot v - \sum_{\alpha}\log\big(1 + e^{x_\alpha(v)}\big),\quad
    x(v) = b + W^\top v ,

and conditionals that factorise over the units of a layer (sigmoid :math:`\sigma`):
:math:`p(h_\alpha = 1\mid v) = \sigma(x_\alpha(v))`, :math:`p(v_i = 1\mid h) = \sigma(y_i(h))`,
:math:`y(h) = a + W h`.  :math:`\log Z` sums the smaller layer in log space (the other one in
closed form), so it is exact for :math:`\min(N_v, N_h) \le` :data:`LOG_Z_MAX_BITS` units.

Parameters are ``theta = concat(a, b, W.ravel())`` with ``W`` of shape (N_v, N_h) in row-major
order (θ index of :math:`W_{i\alpha}` is :math:`N_v + N_h + i N_h + \alpha`).  The statistics
used for training are (R3)

.. math:: \phi_\theta(v) = -\partial F/\partial\theta
          = \big(v_i,\ \mu_\alpha(v),\ v_i\,\mu_\alpha(v)\big),\qquad
          \mu_\alpha(v) = p(h_\alpha = 1\mid v),

in θ order: the hidden units enter through their conditional means, as practitioners use them;
φ depends on θ, and :meth:`RBM.stats_jacobian` includes that dependence.

States at the model interface are the ±1 spins of the visible units, :math:`s = 2v - 1`, index
x with bit i of x equal to 1 ⇔ :math:`v_i = 1` (the convention of the Boltzmann machine, so ±1
data work unchanged).  The ±1 basis of both layers (:func:`params_to_pm`) turns the RBM into a
bipartite Boltzmann machine on N_v + N_h spins (:meth:`RBM.as_boltzmann`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.special import expit, logsumexp

from shortrun.conventions import check_count, check_finite, check_nonnegative, check_seed
from shortrun.numerics.core.states import check_samples, n_states, spins
from shortrun.numerics.models.base import Model, exponential_family_tangent
from shortrun.numerics.models.boltzmann import BoltzmannMachine, check_energy_scale, normalised_exp

#: Largest number of visible units of the exact visible route (laws over 2^N_v states).
VISIBLE_MAX_BITS = 20
#: Largest min(N_v, N_h) for :meth:`RBM.log_partition` (a sum over 2^min(N_v, N_h) states).
LOG_Z_MAX_BITS = 24
#: States per block of the chunked sums (keeps block x N arrays small).
BLOCK = 1 << 14


def softplus(x):
    r""":math:`\log(1 + e^x)`, exact for every real x (``np.logaddexp(0, x)``)."""
    return np.logaddexp(0.0, x)


@njit(cache=True)
def _phi_sums(s, b, W):
    r""":math:`\sum_n \phi_\theta(v_n)` over ±1 rows ``s`` (int8), θ order, summed row by row
    in one thread: bit-identical whatever the number of threads (a BLAS product is not, and
    persistent chains amplify its last-bit differences).  The hidden input
    :math:`x = b + \sum_{i: v_i = 1} W_{i\cdot}` sums the rows of W of the active units."""
    n, nv = s.shape
    nh = b.shape[0]
    total = np.zeros(nv + nh + nv * nh)
    x = np.empty(nh)
    for c in range(n):
        for a in range(nh):
            x[a] = b[a]
        for i in range(nv):
            if s[c, i] > 0:
                for a in range(nh):
                    x[a] += W[i, a]
        for a in range(nh):
            x[a] = 1.0 / (1.0 + np.exp(-x[a]))
            total[nv + a] += x[a]
        for i in range(nv):
            if s[c, i] > 0:
                total[i] += 1.0
                base = nv + nh + i * nh
                for a in range(nh):
                    total[base + a] += x[a]
    return total


def check_rbm_params(a, b, W):
    r"""Validate RBM parameters; returns float64 copies ``(a, b, W)``.

    Raises ValueError naming the argument for non-real or non-finite entries and wrong shapes
    (``a`` (N_v,), ``b`` (N_h,), ``W`` (N_v, N_h), N_v, N_h >= 1), and for an energy scale
    :math:`\sum|a_i| + \sum|b_\alpha| + \sum|W_{i\alpha}|` (a bound on every |E(v, h)|) not
    below :data:`~shortrun.numerics.models.boltzmann.ENERGY_MAX`, like the Boltzmann machine
    (:func:`~shortrun.numerics.models.boltzmann.check_energy_scale`).
    """
    fix = "pass finite parameters (a diverging training run shows up here: lower the learning rate)."
    a = check_finite(a, "a", fix)
    b = check_finite(b, "b", fix)
    W = check_finite(W, "W", fix)
    if a.ndim != 1 or a.shape[0] < 1:
        raise ValueError(f"a must be a vector of N_v >= 1 visible fields; got shape {a.shape}.")
    if b.ndim != 1 or b.shape[0] < 1:
        raise ValueError(f"b must be a vector of N_h >= 1 hidden fields; got shape {b.shape}.")
    if W.shape != (a.shape[0], b.shape[0]):
        raise ValueError(f"W must have shape (N_v, N_h) = ({a.shape[0]}, {b.shape[0]}) "
                         f"(len(a), len(b)); got shape {W.shape}.  For a W stored as "
                         "(N_h, N_v) pass W.T.")
    check_energy_scale([(1.0, a), (1.0, b), (1.0, W)], "a, b and W")
    return np.array(a), np.array(b), np.array(W)


def n_params(N_v, N_h):
    """P = N_v + N_h + N_v N_h, the length of ``theta``."""
    return N_v + N_h + N_v * N_h


def check_visible_route(N_v, what, layer="N_v"):
    """Refuse a route over all 2^N states of a layer (``layer`` = 'N_v' or 'N_h') beyond
    :data:`VISIBLE_MAX_BITS` units."""
    if N_v > VISIBLE_MAX_BITS:
        raise ValueError(f"{what} enumerates the 2^{layer} states of a layer; {layer}={N_v} "
                         f"exceeds the limit {layer} <= {VISIBLE_MAX_BITS}.  Use Monte Carlo "
                         "(shortrun.numerics.sampling.sample) for larger machines.")


def params_to_pm(a, b, W):
    r"""The RBM in the ±1 basis of both layers, :math:`s = 2v - 1`, :math:`\sigma = 2h - 1`:

    .. math:: E = -g\cdot s - c\cdot\sigma - s^\top J\sigma - e_0,\qquad
              g = \tfrac a2 + \tfrac{W\mathbf 1}{4},\quad c = \tfrac b2 + \tfrac{W^\top\mathbf 1}4,\quad
              J = \tfrac W4,\quad e_0 = \tfrac{\sum a}{2} + \tfrac{\sum b}{2} + \tfrac{\sum W}{4}.

    Returns ``(g, c, J, e0)``.
    """
    a, b, W = check_rbm_params(a, b, W)
    return a / 2 + W.sum(axis=1) / 4, b / 2 + W.sum(axis=0) / 4, W / 4, \
        a.sum() / 2 + b.sum() / 2 + W.sum() / 4


def params_from_pm(g, c, J):
    """Inverse of :func:`params_to_pm`: ``(a, b, W, e0)`` with ``W = 4J``,
    ``a = 2g - 2 J 1``, ``b = 2c - 2 J^T 1`` and the same energy offset ``e0``."""
    J = check_finite(J, "J")
    g = check_finite(g, "g")
    c = check_finite(c, "c")
    W = 4 * J
    a = 2 * g - W.sum(axis=1) / 2
    b = 2 * c - W.sum(axis=0) / 2
    return a, b, W, a.sum() / 2 + b.sum() / 2 + W.sum() / 4


def check_chain(rule, scan):
    """Validate the update of an RBM chain: ``rule='heatbath'`` (Gibbs), ``scan='alternating'``
    (one step = v -> h -> v), the only entries of ``RBM.RULES`` / ``RBM.SCANS``."""
    if rule not in RBM.RULES:
        raise ValueError(f"rule={rule!r} is not an RBM update; the RBM chain is alternating Gibbs "
                         "sampling: use rule='heatbath'.")
    if scan not in RBM.SCANS:
        raise ValueError(f"scan={scan!r} is not an RBM scan; one RBM step is one alternating "
                         "Gibbs update v -> h -> v: use scan='alternating'.")
    return rule, scan


def bits(n, x=None):
    """{0,1} configurations (float64) of the states ``x`` (all 2^n when None): bit i of x."""
    return (spins(n, x).astype(float) + 1.0) / 2.0


@dataclass(frozen=True, eq=False)
class RBM(Model):
    r"""Immutable RBM with visible fields ``a`` (N_v,), hidden fields ``b`` (N_h,) and weights
    ``W`` (N_v, N_h), validated on creation (module docstring: energy, θ order, statistics).

    The Markov chain is alternating Gibbs sampling (``rule='heatbath'``,
    ``scan='alternating'``: one step is v → h → v).
    """

    RULES = ("heatbath",)
    SCANS = ("alternating",)
    DEFAULT_RULE = "heatbath"
    DEFAULT_SCAN = "alternating"
    #: φ_θ depends on θ (hidden conditional means): trainers re-evaluate the data's statistics.
    STATS_DEPEND_ON_THETA = True

    a: np.ndarray
    b: np.ndarray
    W: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        for name, arr in zip("abW", check_rbm_params(self.a, self.b, self.W)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def __repr__(self):
        return f"RBM(N_v={self.N_v}, N_h={self.N_h})"

    # -- sizes and parameters -----------------------------------------------------------------
    @property
    def N_v(self):
        return self.a.shape[0]

    @property
    def N_h(self):
        return self.b.shape[0]

    @property
    def n_units(self):
        return self.N_v

    @property
    def n_states(self):
        return n_states(self.N_v)

    @property
    def theta(self):
        """``concat(a, b, W.ravel())`` (W row-major, shape (N_v, N_h))."""
        return np.concatenate([self.a, self.b, self.W.ravel()])

    @classmethod
    def from_theta(cls, theta, N_v, N_h):
        """Inverse of :attr:`theta`."""
        N_v, N_h = check_count(N_v, "N_v"), check_count(N_h, "N_h")
        P = n_params(N_v, N_h)
        t = check_finite(theta, "theta")
        if t.shape != (P,):
            raise ValueError(f"theta must have N_v + N_h + N_v N_h = {P} entries for N_v={N_v}, "
                             f"N_h={N_h} (concat(a, b, W.ravel())); got shape {t.shape}.")
        return cls(t[:N_v], t[N_v:N_v + N_h], t[N_v + N_h:].reshape(N_v, N_h))

    @classmethod
    def zeros(cls, N_v, N_h):
        N_v, N_h = check_count(N_v, "N_v"), check_count(N_h, "N_h")
        return cls(np.zeros(N_v), np.zeros(N_h), np.zeros((N_v, N_h)))

    @classmethod
    def random(cls, N_v, N_h, seed, scale=1.0, field=0.5):
        """Seeded RBM: W ~ N(0, scale²/N_v), a, b ~ N(0, field²)."""
        N_v, N_h = check_count(N_v, "N_v"), check_count(N_h, "N_h")
        scale = check_nonnegative(scale, "scale", "pass the weight scale, e.g. 1.0.")
        field = check_nonnegative(field, "field", "pass the field scale, e.g. 0.5.")
        g = np.random.default_rng(check_seed(seed))
        W = g.normal(0.0, scale / np.sqrt(N_v), (N_v, N_h))
        return cls(g.normal(0.0, field, N_v), g.normal(0.0, field, N_h), W)

    def with_theta(self, theta):
        return type(self).from_theta(theta, self.N_v, self.N_h)

    def param_groups(self):
        P = self.n_params
        idx = np.arange(P)
        nv, nf = self.N_v, self.N_v + self.N_h
        return {"fields": idx < nf, "visible_fields": idx < nv,
                "hidden_fields": (idx >= nv) & (idx < nf), "weights": idx >= nf,
                "couplings": idx >= nf}

    def describe_param(self, a):
        nv, nh = self.N_v, self.N_h
        if a < nv:
            return f"a[{a}]"
        if a < nv + nh:
            return f"b[{a - nv}]"
        i, al = divmod(a - nv - nh, nh)
        return f"W[{i},{al}]"

    def initial_theta(self, data_stats, mask):
        r"""Newton's start: :math:`a_i = \operatorname{logit}\langle v_i\rangle_{\rm data}`
        (clipped to [0.05, 0.95]) on trainable visible fields, hidden fields 0, trainable weights
        drawn N(0, 0.01²) with a fixed seed (breaks the symmetry between hidden units, which
        Newton's iterates would otherwise keep)."""
        theta = np.zeros(self.n_params)
        mask = np.asarray(mask, bool)
        mv = np.clip(np.asarray(data_stats, float)[: self.N_v], 0.05, 0.95)
        nv, nf = self.N_v, self.N_v + self.N_h
        theta[:nv] = np.where(mask[:nv], np.log(mv / (1 - mv)), 0.0)
        w = np.random.default_rng(0).normal(0.0, 0.01, self.n_params - nf)
        theta[nf:] = np.where(mask[nf:], w, 0.0)
        return theta

    def identical_hidden_units(self, mask=None):
        r"""Groups (lists of two or more indices) of identical hidden units: equal fields
        :math:`b_\alpha` and equal columns :math:`W_{\cdot\alpha}`, and, with a parameter
        ``mask`` (θ order), the same trainable entries.  The statistics (R3) of such units are
        equal under every law, so every exact or Monte Carlo update (G4) moves them alike and
        they stay identical: the RBM trains as one with fewer hidden units."""
        cols = np.vstack([self.b[None, :], self.W])
        if mask is not None:
            mask = np.asarray(mask, bool)
            nv, nf = self.N_v, self.N_v + self.N_h
            cols = np.vstack([cols, mask[nv:nf][None, :], mask[nf:].reshape(nv, self.N_h)])
        _, label = np.unique(cols.T, axis=0, return_inverse=True)
        label = label.ravel()
        return [np.flatnonzero(label == g).tolist() for g in np.unique(label)
                if np.count_nonzero(label == g) > 1]

    def check_start(self, theta, mask, name="theta0"):
        """Refuse a training start ``theta`` (``name``) with identical hidden units
        (:meth:`identical_hidden_units`) that the ``mask`` trains: ValueError naming the units
        and how to break the symmetry (:meth:`Model.check_start
        <shortrun.numerics.models.base.Model.check_start>`)."""
        mask = np.asarray(mask, bool)
        nv, nh, nf = self.N_v, self.N_h, self.N_v + self.N_h
        trained = mask[nv:nf] | mask[nf:].reshape(nv, nh).any(axis=0)
        groups = [g for g in self.with_theta(theta).identical_hidden_units(mask)
                  if trained[g[0]]]
        if groups:
            n_eff = nh - sum(len(g) - 1 for g in groups)
            raise ValueError(
                f"{name} has identical hidden units {groups} (equal hidden fields b and equal "
                "columns of W, trained alike): every exact or Monte Carlo gradient keeps them "
                f"identical, so the RBM would train as one with {n_eff} hidden "
                f"unit{'s' * (n_eff > 1)} instead of {nh}.  Start from distinct hidden units, e.g. "
                f"{name}=RBM.random({nv}, {nh}, seed=0, scale=0.1).theta "
                f"({name}=None and RBM.zeros start at zero, where all hidden units are equal).")

    # -- energies and conditionals ------------------------------------------------------------
    def _layer(self, x, layer):
        """``x`` as floats with N_v (``layer='v'``) or N_h (``'h'``) entries in its last axis."""
        x = check_finite(x, layer, "pass {0,1} unit values.")
        n, size = (self.N_v, "N_v") if layer == "v" else (self.N_h, "N_h")
        if x.shape[-1:] != (n,):
            raise ValueError(f"{layer} must have {size} = {n} entries in its last axis; "
                             f"got shape {x.shape}.")
        if np.any(x < 0) or np.any(x > 1):
            raise ValueError(f"{layer} must hold {{0,1}} unit values (or means in [0, 1]); "
                             "convert -1/+1 spins with shortrun.numerics.core.states.to01().")
        return x

    def _v(self, v):
        return self._layer(v, "v")

    def _h(self, h):
        return self._layer(h, "h")

    def energy(self, v, h):
        r""":math:`E(v, h) = -a\cdot v - b\cdot h - v^\top W h` for {0,1} configurations."""
        v, h = self._v(v), self._h(h)
        return -(v @ self.a) - (h @ self.b) - np.einsum("...i,ia,...a->...", v, self.W, h)

    def hidden_input(self, v):
        r""":math:`x(v) = b + W^\top v`, shape (..., N_h)."""
        return self.b + self._v(v) @ self.W

    def visible_input(self, h):
        r""":math:`y(h) = a + W h`, shape (..., N_v)."""
        return self.a + self._h(h) @ self.W.T

    def hidden_means(self, v):
        r""":math:`\mu(v) = p(h = 1\mid v) = \sigma(b + W^\top v)` (R1)."""
        return expit(self.hidden_input(v))

    def visible_means(self, h):
        r""":math:`p(v = 1\mid h) = \sigma(a + W h)` (R1)."""
        return expit(self.visible_input(h))

    def free_energy(self, v):
        r""":math:`F(v) = -a\cdot v - \sum_\alpha \log(1 + e^{x_\alpha(v)})`, so that
        :math:`p(v) = e^{-F(v)}/Z` (R1)."""
        v = self._v(v)
        return -(v @ self.a) - softplus(self.hidden_input(v)).sum(axis=-1)

    def hidden_free_energy(self, h):
        r""":math:`G(h) = -b\cdot h - \sum_i \log(1 + e^{y_i(h)})`, :math:`p(h) = e^{-G(h)}/Z`."""
        h = self._h(h)
        return -(h @ self.b) - softplus(self.visible_input(h)).sum(axis=-1)

    # -- exact marginals ----------------------------------------------------------------------
    def log_partition(self):
        r""":math:`\log Z`, summing the smaller layer in log space:
        :math:`\log\sum_v e^{-F(v)}` if :math:`N_v \le N_h`, else :math:`\log\sum_h e^{-G(h)}`
        (R1).  Cost :math:`2^{\min(N_v,N_h)}\max(N_v,N_h)`."""
        if "logZ" not in self._cache:
            n, energy = (self.N_v, self.free_energy) if self.N_v <= self.N_h else \
                (self.N_h, self.hidden_free_energy)
            if n > LOG_Z_MAX_BITS:
                raise ValueError(f"log Z sums over 2^min(N_v, N_h) = 2^{n} states; the exact "
                                 f"route stops at min(N_v, N_h) <= {LOG_Z_MAX_BITS}.  Use an "
                                 "estimator (e.g. annealed importance sampling) instead.")
            parts = [logsumexp(-energy(bits(n, np.arange(s, min(s + BLOCK, 1 << n)))))
                     for s in range(0, 1 << n, BLOCK)]
            self._cache["logZ"] = float(logsumexp(parts))
        return self._cache["logZ"]

    def visible_bits(self):
        """{0,1} configurations of all 2^N_v visible states in index order (read-only, cached)."""
        if "V" not in self._cache:
            check_visible_route(self.N_v, "the exact visible route")
            V = bits(self.N_v)
            V.setflags(write=False)
            self._cache["V"] = V
        return self._cache["V"]

    def log_marginal(self):
        r""":math:`\log p(v) = -F(v) - \log Z` of every visible state, in index order (R1)."""
        return -self.free_energy(self.visible_bits()) - self.log_partition()

    def boltzmann(self):
        r"""The visible marginal :math:`p(v) = e^{-F(v)}/Z` over the 2^N_v states (R1),
        normalised by shifting the largest :math:`-F` (exact at any parameter scale)."""
        if "p" not in self._cache:
            p = normalised_exp(-self.free_energy(self.visible_bits()))
            p.setflags(write=False)
            self._cache["p"] = p
        return self._cache["p"]

    def hidden_marginal(self):
        r""":math:`p(h) = e^{-G(h)}/Z` over the 2^N_h hidden states (bit α of the index ⇔
        :math:`h_\alpha = 1`)."""
        check_visible_route(self.N_h, "the hidden marginal", "N_h")
        return normalised_exp(-self.hidden_free_energy(bits(self.N_h)))

    def as_boltzmann(self):
        r"""The joint law of (v, h) as a :class:`BoltzmannMachine` on N_v + N_h spins (visible
        first; :func:`params_to_pm`): its marginal over the last N_h spins is :math:`p(v)`."""
        g, c, J, _ = params_to_pm(self.a, self.b, self.W)
        n = self.N_v + self.N_h
        Jfull = np.zeros((n, n))
        Jfull[: self.N_v, self.N_v:] = J
        Jfull[self.N_v:, : self.N_v] = J.T
        return BoltzmannMachine(np.concatenate([g, c]), Jfull)

    # -- statistics (R3) ----------------------------------------------------------------------
    def phi(self, v):
        r""":math:`\phi_\theta(v) = (v_i, \mu_\alpha(v), v_i\mu_\alpha(v))` for {0,1} rows ``v``,
        shape (n, P), θ order."""
        v = np.atleast_2d(self._v(v))
        mu = self.hidden_means(v)
        return np.concatenate([v, mu, (v[:, :, None] * mu[:, None, :]).reshape(len(v), -1)],
                              axis=1)

    def phi_matrix(self):
        r""":math:`\Phi[x, a] = \phi_{\theta,a}(v(x))`, shape (2^N_v, P) (cached)."""
        if "Phi" not in self._cache:
            Phi = self.phi(self.visible_bits())
            Phi.setflags(write=False)
            self._cache["Phi"] = Phi
        return self._cache["Phi"]

    def _check_law(self, p, name="p"):
        return self.check_law(p, name, f"the 2^N_v = {self.n_states} visible states")

    def stats(self, p):
        r""":math:`\langle\phi_\theta\rangle_p = \Phi^\top p` (R3)."""
        return self.phi_matrix().T @ self._check_law(p)

    def mean_dphi(self, p):
        r""":math:`\langle\partial\phi_\theta/\partial\theta\rangle_p`, shape (P, P) (R3).

        Only the hidden conditional means depend on θ: with :math:`g_\alpha =
        \mu_\alpha(1-\mu_\alpha)`, :math:`\partial\mu_\alpha/\partial b_\alpha = g_\alpha` and
        :math:`\partial\mu_\alpha/\partial W_{j\alpha} = v_j g_\alpha` (no other θ), so the
        non-zero blocks are :math:`\langle g_\alpha\rangle`, :math:`\langle v_j g_\alpha\rangle`
        (rows μ_α) and :math:`\langle v_i g_\alpha\rangle`, :math:`\langle v_iv_j g_\alpha\rangle`
        (rows v_iμ_α), each diagonal in α.
        """
        p = self._check_law(p)
        V = self.visible_bits()
        mu = self.hidden_means(V)
        G = mu * (1.0 - mu) * p[:, None]                       # p(v) g_a(v), (2^Nv, Nh)
        nv, nh = self.N_v, self.N_h
        # rows/cols of (b_a, W_{ja}) for one a: a linear "extended v" u = (1, v_1, ..., v_Nv)
        U = np.concatenate([np.ones((len(V), 1)), V], axis=1)  # (2^Nv, 1+Nv)
        M = np.einsum("xa,xi,xj->aij", G, U, U)                # <u_i u_j g_a>, (Nh, 1+Nv, 1+Nv)
        out = np.zeros((self.n_params, self.n_params))
        idx = np.empty((nh, 1 + nv), dtype=np.int64)            # θ index of (mu_a | v_i mu_a)
        idx[:, 0] = nv + np.arange(nh)
        idx[:, 1:] = nv + nh + np.arange(nv)[None, :] * nh + np.arange(nh)[:, None]
        for al in range(nh):
            out[np.ix_(idx[al], idx[al])] = M[al]
        return out

    def stats_jacobian(self, p, D):
        r""":math:`(F, dF)` with :math:`F = \Phi^\top p` and the total derivative
        :math:`dF = \Phi^\top D + \langle\partial_\theta\phi_\theta\rangle_p` (R3); ``D=None``
        (a law that does not depend on θ, e.g. the data) keeps the second term."""
        F = self.stats(p)
        dF = self.mean_dphi(p)
        if D is not None:
            dF = dF + self.phi_matrix().T @ self.check_tangent(D)
        return F, dF

    def equilibrium_tangent(self):
        r"""``(p, ∂p/∂θ)`` of the marginal: since :math:`\phi_\theta = -\partial F/\partial\theta`,
        :math:`\partial p/\partial\theta = p\,(\phi_\theta - \langle\phi_\theta\rangle_p)`."""
        p = np.array(self.boltzmann())
        return p, exponential_family_tangent(self.phi_matrix(), p)

    def sample_stats(self, states):
        r"""Sample mean of :math:`\phi_\theta` over ±1 visible ``states`` (one per row), v = (s+1)/2
        (E1); bit-identical whatever the number of threads (:func:`_phi_sums`)."""
        s = check_samples(states, self.N_v, size="N_v")
        return _phi_sums(np.ascontiguousarray(s, dtype=np.int8), self.b, self.W) / len(s)
