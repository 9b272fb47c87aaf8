r"""The Potts machine: q colours per unit, pairwise couplings, and its exact equilibrium law (P1).

.. math::
    E(\sigma) = -\sum_i h_i(\sigma_i) - \sum_{i<j} J_{ij}(\sigma_i, \sigma_j),\qquad
    \sigma_i \in \{0, \dots, q-1\},\qquad p_\theta(\sigma) = e^{-E(\sigma)}/Z_\theta ,

with ``h`` of shape (N, q) and ``J`` of shape (N, N, q, q), ``J[i, j, a, b] = J[j, i, b, a]``,
``J[i, i] = 0``.  State index :math:`x = \sum_i \sigma_i q^i` (unit 0 is the lowest base-q digit);
for q = 2 bit i of x is unit i, the convention of the ±1 spins (:math:`s_i = 2\sigma_i - 1`).

Gauge (P1).  :math:`h_i(a) \to h_i(a) + c_i`, and :math:`J_{ij}(a, b) \to J_{ij}(a, b) + u(a) +
v(b)` compensated in the fields, leave every law unchanged, so (h, J) has
:math:`N + N(N-1)(2q-1)/2` redundant directions.  The model is stored in the **reference-state
(lattice-gas) gauge** with reference colour 0: :math:`h_i(0) = 0`, :math:`J_{ij}(0, b) =
J_{ij}(a, 0) = 0`.  Chosen because then θ is a plain vector of free parameters
(:math:`h_i(a)`, :math:`a \ge 1`; :math:`J_{ij}(a, b)`, :math:`a, b \ge 1`, i < j) and the
sufficient statistics :math:`\phi = -\partial E/\partial\theta` are the one-hot marginals
themselves, :math:`\delta_{\sigma_i a}` and :math:`\delta_{\sigma_i a}\delta_{\sigma_j b}`: a
minimal exponential family (the Fisher information is non-singular), so the Newton Jacobian is
regular and the moment-matching condition (G5) on these statistics is matching of all single and
pair marginals (the colour-0 entries follow from normalisation).  The zero-sum (Ising) gauge
(:math:`\sum_a h_i(a) = 0`, :math:`\sum_a J_{ij}(a, b) = \sum_b J_{ij}(a, b) = 0`) would need
linear constraints on θ; it is the one that minimises the Frobenius norm of the couplings (the
one DCA reports), and :meth:`PottsMachine.zero_sum_gauge` returns it for comparisons.  Any (h, J)
may be passed: it is moved to the reference gauge on creation (same law, energies shifted by a
constant).

``theta = concat(h[:, 1:].ravel(), J[i, j, 1:, 1:].ravel() for i < j in triu order)``, length
:math:`P = N(q-1) + \binom N2 (q-1)^2`; for q = 2 it has the Boltzmann machine's order and
length.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from shortrun.conventions import check_count, check_finite, check_real, check_seed, memory_error
from shortrun.numerics.core.states import MEMORY_BUDGET
from shortrun.numerics.models.base import Model, exponential_family_tangent
from shortrun.numerics.models.boltzmann import ENERGY_MAX, normalised_exp

#: Largest number of colours accepted (the statistics grow as q^2 per pair).
Q_MAX = 64


# ---------------------------------------------------------------------------------------------
# state space
# ---------------------------------------------------------------------------------------------
def check_q(q, name="q"):
    """The number of colours, an integer in [2, Q_MAX]."""
    if isinstance(q, (bool, np.bool_)) or not isinstance(q, (int, np.integer)) \
            or not 2 <= q <= Q_MAX:
        raise ValueError(f"{name}={q!r} must be an integer number of colours in [2, {Q_MAX}] "
                         "(q = 2 is the Boltzmann machine in the {0, 1} basis).")
    return int(q)


def n_states(N, q):
    """q^N (a Python int)."""
    return int(q) ** int(N)


def check_states_size(N, q, bytes_per_state, what,
                      alternative="use Monte Carlo (shortrun.numerics.sampling) instead."):
    """Refuse an exact route whose memory ``q^N * bytes_per_state`` exceeds the memory budget."""
    need = float(bytes_per_state) * float(q) ** N
    if need > MEMORY_BUDGET:
        raise memory_error(f"{what} at N={N}, q={q} ({q}^{N} states)", need, alternative)


def colours(N, q, x=None):
    r"""Colours of the states ``x`` (all q^N when None): int8 array (len(x), N) with
    ``sigma[x, i] = (x // q**i) % q``."""
    if x is None:
        check_states_size(N, q, N + 16, "materialising all colour configurations")
        x = np.arange(n_states(N, q), dtype=np.int64)
    x = np.asarray(x, dtype=np.int64)
    s = np.empty((x.shape[0], N), dtype=np.int8)
    for i in range(N):
        s[:, i] = (x // q**i) % q
    return s


def _check_sigma(sigma, q):
    """``sigma`` as an array of integer colours 0..q−1 (integer-valued floats accepted)."""
    s = np.asarray(sigma)
    if s.dtype.kind not in "biu" and not (s.dtype.kind == "f" and np.all(s == np.round(s))):
        raise ValueError("sigma must hold integer colours 0..q-1.")
    if s.size and (s.min() < 0 or s.max() >= q):
        raise ValueError(f"sigma must hold colours in 0..{q - 1}; got values in "
                         f"[{s.min()}, {s.max()}].")
    return s


def potts_index(sigma, q):
    r"""State index :math:`x = \sum_i \sigma_i q^i` of colour configurations (shape (n, N) or
    (N,), entries in 0..q−1)."""
    q = check_q(q)
    s = _check_sigma(sigma, q)
    s2 = np.atleast_2d(s).astype(np.int64)
    x = s2 @ (np.int64(q) ** np.arange(s2.shape[1], dtype=np.int64))
    return x[0] if s.ndim == 1 else x


# ---------------------------------------------------------------------------------------------
# parameters and gauge
# ---------------------------------------------------------------------------------------------
def n_params(N, q):
    """P = N(q−1) + N(N−1)/2 (q−1)^2, the length of ``theta``."""
    return N * (q - 1) + N * (N - 1) // 2 * (q - 1) ** 2


def reference_gauge(h, J):
    r"""(h, J) moved to the reference-state gauge of colour 0 (P1), same law:

    .. math:: J'_{ij}(a,b) = J_{ij}(a,b) - J_{ij}(a,0) - J_{ij}(0,b) + J_{ij}(0,0),\quad
              h'_i(a) = h_i(a) - h_i(0) + \sum_{j\ne i}\big(J_{ij}(a,0) - J_{ij}(0,0)\big).

    The energy changes by a constant only."""
    h = np.asarray(h, float)
    J = np.asarray(J, float)
    Jp = J - J[:, :, :, :1] - J[:, :, :1, :] + J[:, :, :1, :1]
    hp = h - h[:, :1] + (J[:, :, :, 0] - J[:, :, :1, 0]).sum(axis=1)
    Jp[:, :, 0, :] = Jp[:, :, :, 0] = hp[:, 0] = 0.0         # exactly, not up to round-off
    iu = np.triu_indices(h.shape[0], 1)
    Jp[iu[1], iu[0]] = Jp[iu].transpose(0, 2, 1)             # exactly symmetric
    return hp, Jp


def zero_sum_gauge(h, J):
    r"""(h, J) moved to the zero-sum (Ising) gauge, same law: with :math:`\bar{\cdot}` the mean
    over a colour index,

    .. math:: J'_{ij}(a,b) = J_{ij}(a,b) - \bar J_{ij}(\cdot,b) - \bar J_{ij}(a,\cdot)
              + \bar J_{ij}(\cdot,\cdot),\quad
              h'_i(a) = h_i(a) - \bar h_i + \sum_{j\ne i}\big(\bar J_{ij}(a,\cdot)
              - \bar J_{ij}(\cdot,\cdot)\big).
    """
    h = np.asarray(h, float)
    J = np.asarray(J, float)
    rows = J.mean(axis=3, keepdims=True)          # J̄(a, ·)
    cols = J.mean(axis=2, keepdims=True)          # J̄(·, b)
    both = J.mean(axis=(2, 3), keepdims=True)
    Jp = J - rows - cols + both
    hp = h - h.mean(axis=1, keepdims=True) + (rows[..., 0] - both[..., 0]).sum(axis=1)
    return hp, Jp


def check_params(h, J):
    """Validate Potts parameters; returns float64 copies ``(h, J)`` (not yet gauge-fixed).

    ValueError for wrong shapes, NaN/inf, ``J[i, j, a, b] != J[j, i, b, a]``, a non-zero
    ``J[i, i]`` or energies beyond float64's safe range."""
    h = check_finite(np.array(check_real(h, "h"), dtype=float), "h")
    if h.ndim != 2 or h.shape[0] < 1:
        raise ValueError(f"h must have shape (N, q) with N >= 1 units; got shape {h.shape}.")
    N, q = h.shape
    check_q(q, "q (the second axis of h)")
    J = check_finite(np.array(check_real(J, "J"), dtype=float), "J")
    if J.shape != (N, N, q, q):
        raise ValueError(f"J must have shape (N, N, q, q) = {(N, N, q, q)} for h of shape "
                         f"{h.shape}; got shape {J.shape}.")
    Jt = J.transpose(1, 0, 3, 2)
    asym = float(np.max(np.abs(J - Jt)))
    if asym > 1e-12 * max(1.0, float(np.max(np.abs(J)))):
        raise ValueError(f"J is not symmetric: max |J[i,j,a,b] - J[j,i,b,a]| = {asym:.3g}; pass "
                         "(J + J.transpose(1, 0, 3, 2)) / 2.")
    d = np.arange(N)
    if np.any(J[d, d] != 0):
        raise ValueError("J[i, i] must be 0 (a unit does not couple to itself: its energy would "
                         "be a field); move it into h[i] and set J[i, i] = 0.")
    with np.errstate(over="ignore"):
        bound = float(np.abs(h).max(axis=1).sum() + 0.5 * np.abs(J).max(axis=(2, 3)).sum())
    if not bound < ENERGY_MAX:
        raise ValueError(f"h and J are so large that energies reach {bound:.3g}; rescale them.")
    return h, (J + Jt) / 2


def theta_from_params(h, J):
    """θ of reference-gauge parameters (see the module docstring for the order)."""
    N = h.shape[0]
    iu = np.triu_indices(N, 1)
    return np.concatenate([h[:, 1:].ravel(), J[iu[0], iu[1], 1:, 1:].ravel()])


def params_from_theta(theta, N, q):
    """Reference-gauge (h, J) of θ (inverse of :func:`theta_from_params`)."""
    P = n_params(N, q)
    theta = np.asarray(check_real(theta, "theta"), dtype=float)
    if theta.shape != (P,):
        raise ValueError(f"theta must have P = N(q-1) + N(N-1)/2 (q-1)^2 = {P} entries for "
                         f"N={N}, q={q}; got shape {theta.shape}.")
    h = np.zeros((N, q))
    h[:, 1:] = theta[: N * (q - 1)].reshape(N, q - 1)
    J = np.zeros((N, N, q, q))
    iu = np.triu_indices(N, 1)
    J[iu[0], iu[1], 1:, 1:] = theta[N * (q - 1):].reshape(-1, q - 1, q - 1)
    J[iu[1], iu[0]] = J[iu[0], iu[1]].transpose(0, 2, 1)
    return h, J


def to_boltzmann(model):
    r"""The Boltzmann machine with the law of a q = 2 Potts machine (:math:`s = 2\sigma - 1`):

    .. math:: h^{\rm BM}_i = \tfrac12 h_i(1) + \tfrac14\sum_{j\ne i} J_{ij}(1,1),\qquad
              J^{\rm BM}_{ij} = \tfrac14 J_{ij}(1,1)

    (reference gauge, where :math:`h_i(0) = J_{ij}(0,\cdot) = 0`)."""
    from shortrun.numerics.models.boltzmann import BoltzmannMachine
    if model.q != 2:
        raise ValueError(f"only a q = 2 Potts machine is a Boltzmann machine; this one has "
                         f"q = {model.q}.")
    J11 = model.J[:, :, 1, 1]
    return BoltzmannMachine(0.5 * model.h[:, 1] + 0.25 * J11.sum(axis=1), 0.25 * J11)


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------
def _axes(p, N, q):
    """``p`` as an N-dimensional (q, ..., q) array whose axis ``N-1-i`` is unit i."""
    return np.asarray(p, float).reshape((q,) * N)


def marginal_stats(p, N, q):
    r"""Statistics of a law p over the q^N states in θ order (P1):
    :math:`(P(\sigma_i = a))_{i, a\ge1}` then :math:`(P(\sigma_i = a, \sigma_j = b))_{i<j,
    a,b\ge1}`; one pass over p per pair (no q^N x P matrix)."""
    t = _axes(p, N, q)
    ax = lambda i: N - 1 - i  # noqa: E731  (axis of unit i)
    single = [t.sum(axis=tuple(ax(j) for j in range(N) if j != i)) for i in range(N)]
    out = [np.array([s[1:] for s in single]).ravel()]
    for i in range(N):
        for j in range(i + 1, N):
            other = tuple(ax(k) for k in range(N) if k not in (i, j))
            m = t.sum(axis=other)          # axes (ax(j), ax(i)) in increasing order: j first
            out.append(m.T[1:, 1:].ravel())   # [a, b] with a the colour of i
    return np.concatenate(out)


@functools.lru_cache(maxsize=4)
def phi_matrix(N, q):
    r"""The statistics matrix (read-only, cached) :math:`\Phi[x, a] = \phi_a(\sigma(x))`, shape
    (q^N, P): one-hot indicators :math:`\delta_{\sigma_i a}`,
    :math:`\delta_{\sigma_i a}\delta_{\sigma_j b}` (a, b ≥ 1) in θ order."""
    P = n_params(N, q)
    check_states_size(N, q, 8 * P, "the statistics matrix Phi")
    s = colours(N, q)
    one = np.stack([(s == a) for a in range(1, q)], axis=2).astype(float)   # (n, N, q-1)
    iu = np.triu_indices(N, 1)
    pair = one[:, iu[0], :, None] * one[:, iu[1], None, :]                   # (n, pairs, q-1, q-1)
    Phi = np.concatenate([one.reshape(len(s), -1), pair.reshape(len(s), -1)], axis=1)
    Phi.setflags(write=False)
    return Phi


#: Largest 2^N q^N of :func:`interaction_weights` (one pass over the q^N values per subset).
INTERACTION_MAX_WORK = 1 << 27


def interaction_weights(p=None, *, log_p=None, N, q):
    r"""The interaction spectrum of a law over the q^N states in its Potts (ANOVA) form (P4):
    :math:`\log p = \sum_S f_S` with :math:`f_S = \prod_{i\in S}(1 - M_i)\prod_{i\notin S}M_i
    \log p`, :math:`M_i` the mean over :math:`\sigma_i`; :math:`f_S` depends on
    :math:`\sigma_S` only and sums to zero over each of its colours (the zero-sum gauge).
    Returns the weights per order, :math:`w_r = \sum_{|S| = r}\langle f_S^2\rangle_{\rm uniform}`,
    r = 0 … N.  For q = 2 they are the Walsh–Hadamard weights of (W1); for a Potts machine
    :math:`w_1 = \sum_i \|h^{\rm zs}_i\|^2/q`, :math:`w_2 = \sum_{i<j}\|J^{\rm zs}_{ij}\|_F^2/q^2`
    and every higher order vanishes: what a law has beyond them is spurious."""
    q = check_q(q)
    N = check_count(N, "N")
    if (p is None) == (log_p is None):
        raise ValueError("pass exactly one of p (a law) and log_p (its logarithm).")
    if log_p is None:
        p = np.asarray(p, float)
        if p.shape != (n_states(N, q),) or not np.all(p > 0):
            raise ValueError(f"p must be a strictly positive law over the q^N = {n_states(N, q)} "
                             "states (log p is transformed).")
        log_p = np.log(p)
    f = check_finite(log_p, "log_p", "pass the logarithm of a strictly positive law.")
    if f.shape != (n_states(N, q),):
        raise ValueError(f"log_p must have length q^N = {n_states(N, q)}; got shape {f.shape}.")
    if float(2 ** N) * f.shape[0] > INTERACTION_MAX_WORK:
        raise ValueError(f"the Potts interaction spectrum at N={N}, q={q} costs 2^N q^N = "
                         f"{2.0 ** N * f.shape[0]:.3g} operations (limit {INTERACTION_MAX_WORK}).")
    w = np.zeros(N + 1)

    def split(t, axis, order):          # axis = unit index; array axis N - 1 - unit
        if axis == N:
            w[order] += np.mean(t ** 2) if t.size else 0.0
            return
        m = t.mean(axis=N - 1 - axis, keepdims=True)
        split(m, axis + 1, order)
        split(t - m, axis + 1, order + 1)

    split(f.reshape((q,) * N), 0, 0)
    return w


def _check_couplings_size(N, q):
    """Refuse couplings J (N, N, q, q) beyond the memory budget (a few copies are made)."""
    need = 32.0 * (N * q) ** 2
    if need > MEMORY_BUDGET:
        raise memory_error(f"the couplings J of N={N} units with q={q} colours", need,
                           "use fewer units or colours.")


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PottsMachine(Model):
    r"""Immutable Potts machine with fields ``h`` (N, q) and couplings ``J`` (N, N, q, q),
    validated and moved to the reference gauge (colour 0) on creation (P1).

    Implements the :class:`~shortrun.numerics.models.base.Model` interface on the q^N states
    (index :math:`x = \sum_i \sigma_i q^i`) with one-hot statistics in ``theta`` order.  Exact
    kernels (heat-bath, Metropolis with a uniformly proposed other colour; random or sequential
    scan): :mod:`shortrun.numerics.kernels.potts` (P2).
    """

    RULES = ("heatbath", "metropolis")
    SCANS = ("random", "sequential")
    DEFAULT_RULE = "heatbath"
    DEFAULT_SCAN = "random"

    h: np.ndarray
    J: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        h, J = reference_gauge(*check_params(self.h, self.J))
        h.setflags(write=False)
        J.setflags(write=False)
        object.__setattr__(self, "h", h)
        object.__setattr__(self, "J", J)

    def __repr__(self):
        return f"PottsMachine(N={self.N}, q={self.q})"

    @property
    def N(self):
        return self.h.shape[0]

    @property
    def q(self):
        """Number of colours per unit."""
        return self.h.shape[1]

    @property
    def levels(self):
        """Number of states per unit, ``(q,) * N``."""
        return (self.q,) * self.N

    @property
    def n_units(self):
        return self.N

    def index_of(self, states):
        r"""State index :math:`x = \sum_i \sigma_i q^i` of colour configurations (n, N)."""
        s = np.asarray(states)
        if s.ndim != 2 or s.shape[1] != self.N:
            raise ValueError(f"states must have shape (n, N={self.N}); got {s.shape}.")
        return potts_index(s, self.q)

    def states_of(self, x=None):
        """Colour configurations (int8, (n, N)) of the indices ``x`` (None: all q^N states)."""
        return colours(self.N, self.q, x)

    @property
    def n_states(self):
        return n_states(self.N, self.q)

    @property
    def theta(self):
        """Flat parameter vector in the reference gauge (module docstring)."""
        return theta_from_params(self.h, self.J)

    @classmethod
    def from_theta(cls, theta, N, q):
        """Inverse of :attr:`theta`."""
        return cls(*params_from_theta(theta, N, check_q(q)))

    @classmethod
    def random(cls, N, q, seed, beta=1.0, field=0.5):
        r"""Seeded random couplings: :math:`J_{ij}(a,b) \sim \mathcal N(0, \beta^2/N)` i.i.d.
        for i < j, :math:`h_i(a) \sim \mathcal N(0, \mathrm{field}^2)`, drawn from
        ``numpy.random.default_rng(seed)`` (h first, then J in triu order); stored in the
        reference gauge (P1)."""
        N = check_count(N, "N")
        q = check_q(q)
        _check_couplings_size(N, q)
        if seed is None:
            raise ValueError("seed must be given (an int) so that the couplings are reproducible.")
        for x, name in ((beta, "beta"), (field, "field")):
            if check_finite(x, name).ndim:
                raise ValueError(f"{name} must be a single number; got shape {np.shape(x)}.")
        rng = np.random.default_rng(check_seed(seed))
        h = field * rng.standard_normal((N, q))
        J = np.zeros((N, N, q, q))
        iu = np.triu_indices(N, 1)
        J[iu] = beta / np.sqrt(N) * rng.standard_normal((len(iu[0]), q, q))
        J[iu[1], iu[0]] = J[iu].transpose(0, 2, 1)
        return cls(h, J)

    @classmethod
    def zeros(cls, N, q):
        """The uniform law on q^N states."""
        N = check_count(N, "N")
        q = check_q(q)
        _check_couplings_size(N, q)
        return cls(np.zeros((N, q)), np.zeros((N, N, q, q)))

    def zero_sum_gauge(self):
        """``(h, J)`` of the same law in the zero-sum gauge (see :func:`zero_sum_gauge`)."""
        return zero_sum_gauge(self.h, self.J)

    def energy(self, sigma):
        r""":math:`E(\sigma)` of colour configurations (shape (n, N) or (N,)), straight from
        the definition (P1)."""
        s = np.atleast_2d(np.asarray(sigma))
        if s.ndim != 2 or s.shape[1] != self.N:
            raise ValueError(f"sigma must have N = {self.N} colours in 0..{self.q - 1} per row; "
                             f"got shape {np.shape(sigma)}.")
        s = _check_sigma(s, self.q).astype(np.int64)
        u = np.arange(self.N)
        E = -self.h[u, s].sum(axis=1)
        for i in range(self.N):
            for j in range(i + 1, self.N):
                E -= self.J[i, j, s[:, i], s[:, j]]
        return E[0] if np.ndim(sigma) == 1 else E

    def energies(self):
        r"""Energies of all q^N states in index order, built digit by digit: with
        :math:`x = x' + \sigma_m q^m`, :math:`E(x) = E(x') - h_m(\sigma_m) - \sum_{j<m}
        J_{mj}(\sigma_m, \sigma_j(x'))` (cost q^N·N; 24 bytes per state at the peak)."""
        if "E" not in self._cache:
            N, q = self.N, self.q
            check_states_size(N, q, 24, "the energies of all states")
            E = np.zeros(1)
            for m in range(N):
                n = E.shape[0]
                low = colours(m, q) if m else np.zeros((1, 0), np.int8)
                new = np.empty(n * q)
                for a in range(q):
                    add = -self.h[m, a] - self.J[m, np.arange(m), a, low].sum(axis=1) \
                        if m else np.full(1, -self.h[m, a])
                    new[a * n:(a + 1) * n] = E + add
                E = new
            E.setflags(write=False)
            self._cache["E"] = E
        return self._cache["E"]

    def log_partition(self):
        r""":math:`\ln Z` by log-sum-exp over the q^N energies."""
        w = -np.asarray(self.energies())
        top = w.max()
        return float(top + np.log(np.exp(w - top).sum()))

    def boltzmann(self):
        r""":math:`p_\theta = e^{-E}/Z` over the q^N states (shifted by the lowest energy)."""
        if "p" not in self._cache:
            p = normalised_exp(-np.asarray(self.energies()))
            p.setflags(write=False)
            self._cache["p"] = p
        return self._cache["p"]

    # -- the Model interface -------------------------------------------------------------------
    def with_theta(self, theta):
        return type(self).from_theta(theta, self.N, self.q)

    def param_groups(self):
        P, F = self.n_params, self.N * (self.q - 1)
        return {"fields": np.arange(P) < F, "couplings": np.arange(P) >= F}

    def initial_theta(self, data_stats, mask):
        r"""Independent-unit maximum likelihood on the trainable fields:
        :math:`h_i(a) = \ln(f_i(a)/f_i(0))` from the data's one-hot marginals, each clipped to
        [0.02, 0.98]; every other entry 0."""
        N, q = self.N, self.q
        theta = np.zeros(self.n_params)
        f = np.asarray(data_stats, float)[: N * (q - 1)].reshape(N, q - 1)
        f0 = 1.0 - f.sum(axis=1, keepdims=True)
        h = np.log(np.clip(f, 0.02, 0.98) / np.clip(f0, 0.02, 0.98))
        fields = np.asarray(mask[: N * (q - 1)], bool)
        theta[: N * (q - 1)][fields] = h.ravel()[fields]
        return theta

    def describe_param(self, a):
        N, q = self.N, self.q
        if a < N * (q - 1):
            i, c = divmod(a, q - 1)
            return f"h[{i},{c + 1}]"
        pair, r = divmod(a - N * (q - 1), (q - 1) ** 2)
        i, j = (x[pair] for x in np.triu_indices(N, 1))
        c, d = divmod(r, q - 1)
        return f"J[{i},{j},{c + 1},{d + 1}]"

    def stats(self, p):
        r"""One-hot single and pair marginals of ``p`` in θ order (P1)."""
        p = np.asarray(p, float)
        if p.shape != (self.n_states,):
            raise ValueError(f"p must be a law over the q^N = {self.n_states} states; got shape "
                             f"{p.shape}.")
        return marginal_stats(p, self.N, self.q)

    def stats_jacobian(self, p, D):
        r""":math:`(\Phi^\top p, \Phi^\top D)`; φ does not depend on θ (``D=None``: zero
        Jacobian)."""
        if D is None:
            F = self.stats(p)
            return F, np.zeros((F.shape[0], self.n_params))
        Phi = phi_matrix(self.N, self.q)
        return Phi.T @ p, Phi.T @ D

    def equilibrium_tangent(self):
        r""":math:`(p_\theta, p_\theta(\phi - \langle\phi\rangle))` (exponential family)."""
        p = np.asarray(self.boltzmann())
        return p, exponential_family_tangent(phi_matrix(self.N, self.q), p)

    def equilibrium_jacobian(self):
        r""":math:`\partial\langle\phi_a\rangle/\partial\theta_b = \mathrm{Cov}(\phi_a, \phi_b)`."""
        p = np.asarray(self.boltzmann())
        Phi = phi_matrix(self.N, self.q)
        F = Phi.T @ p
        return F, (Phi * p[:, None]).T @ Phi - np.outer(F, F)

    def sample_stats(self, states):
        r"""Sample means of the one-hot statistics over colour configurations ``states`` (one
        per row, entries 0..q−1) (E1)."""
        s = np.asarray(states)
        if s.ndim != 2 or s.shape[1] != self.N or s.shape[0] < 1:
            raise ValueError(f"states must have shape (n, N={self.N}) with n >= 1; got {s.shape}.")
        if s.dtype.kind not in "biu" or s.min() < 0 or s.max() >= self.q:
            raise ValueError(f"states must hold integer colours 0..{self.q - 1}.")
        one = np.stack([(s == a) for a in range(1, self.q)], axis=2).astype(float)
        n = s.shape[0]
        iu = np.triu_indices(self.N, 1)
        pair = np.einsum("nia,njb->ijab", one, one)[iu] / n
        return np.concatenate([one.mean(axis=0).ravel(), pair.ravel()])
