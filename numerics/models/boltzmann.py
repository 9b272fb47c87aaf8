r"""The Boltzmann machine / Ising model and its exact equilibrium law.

.. math::
    E_\theta(s) = -\sum_{i<j} J_{ij} s_i s_j - \sum_i h_i s_i,\qquad
    p_\theta(s) = e^{-E_\theta(s)}/Z_\theta .

Temperature is absorbed in (h, J).  ``theta = concat(h, J[triu_indices(N, 1)])`` and
the sufficient statistics :math:`\phi(s) = -\partial E/\partial\theta = (s_i, s_i s_j)` use the
same order (:func:`shortrun.numerics.core.moments.stats`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from shortrun.conventions import check_count, check_finite, check_real
from shortrun.numerics.core.moments import stats as _stats
from shortrun.numerics.core.moments import stats_from_moments
from shortrun.numerics.core.states import check_samples, check_size, check_spins, spins, split
from shortrun.numerics.models.base import Model


#: Peak memory per state (bytes) of :meth:`BoltzmannMachine.energies`, ``.boltzmann`` and
#: ``.log_partition``: every float64 vector over the 2^N states alive at once (see their docs).
ENERGIES_BYTES, BOLTZMANN_BYTES, LOG_PARTITION_BYTES = 16, 24, 16


def normalised_exp(logw):
    r""":math:`e^{\log w}/\sum e^{\log w}`, shifted by the maximum (no overflow, exact ratios).

    Allocates one array of the size of ``logw`` (the result; exp and division in place)."""
    w = logw - np.max(logw)
    np.exp(w, out=w)
    w /= w.sum()
    return w


def check_fields(h):
    """A real, finite vector of N >= 1 fields, returned as a float64 copy."""
    h = check_finite(np.array(check_real(h, "h"), ndmin=1), "h")
    if h.ndim != 1 or h.shape[0] < 1:
        raise ValueError(f"h must be a vector of N >= 1 fields; got shape {h.shape}.")
    return h


def check_params(h, J):
    """Validate BM parameters; returns float64 copies ``(h, J)``.

    Raises ValueError for wrong shapes, NaN/inf, an asymmetric ``J`` or a non-zero diagonal.
    """
    h = check_fields(h)
    J = check_finite(check_real(J, "J"), "J")
    N = h.shape[0]
    if J.shape != (N, N):
        raise ValueError(f"J must be an N x N matrix with N = len(h) = {N}; got shape {J.shape}.")
    asym = np.max(np.abs(J - J.T)) if N else 0.0
    if asym > 1e-12 * max(1.0, np.max(np.abs(J))):
        raise ValueError(f"J is not symmetric (max |J - J.T| = {asym:.3g}); pass (J + J.T)/2 "
                         "or build J from the upper triangle.")
    if N and np.any(np.diag(J) != 0):
        raise ValueError("J has a non-zero diagonal; self-couplings are constant for ±1 spins: "
                         "set np.fill_diagonal(J, 0).")
    check_energy_scale([(1.0, h), (0.5, J)], "h and J")
    return h, (J + J.T) / 2


#: Largest energy scale Σ|h_i| + Σ_{i<j}|J_ij| accepted (energies and their differences stay finite).
ENERGY_MAX = 1e300


def check_energy_scale(terms, names):
    r"""Refuse parameters whose energy scale :math:`B = \sum_t w_t \sum |x_t|` (a bound on every
    |E|, e.g. :math:`\sum|h_i| + \tfrac12\sum|J_{ij}|`) is not below :data:`ENERGY_MAX`:
    beyond it energies, their differences or log Z overflow to inf and laws to NaN.

    ``terms`` are ``(w, x)`` pairs of weights and finite arrays; ``names`` names the parameters
    in the ValueError (shared by every model with an energy, e.g. the BM and the RBM)."""
    with np.errstate(over="ignore"):
        bound = float(sum(w * np.sum(np.abs(x)) for w, x in terms))
    if not bound < ENERGY_MAX:
        raise ValueError(f"{names} are so large that energies reach {bound:.3g}, beyond what "
                         f"float64 represents safely ({ENERGY_MAX:.0e}); rescale the parameters.")


def n_params(N):
    """P = N + N(N−1)/2, the length of ``theta``."""
    return N + N * (N - 1) // 2


@functools.lru_cache(maxsize=4)
def phi_matrix(N):
    r"""The statistics matrix (read-only, cached) :math:`\Phi[x, a] = \phi_a(s(x))`, shape (2^N, P), so that
    :math:`\langle\phi\rangle_p = \Phi^\top p` and
    :math:`\partial\langle\phi\rangle = \Phi^\top D`."""
    check_size(N, 8 * n_params(N), "the statistics matrix Phi")
    s = spins(N).astype(float)
    iu = np.triu_indices(N, 1)
    Phi = np.concatenate([s, s[:, iu[0]] * s[:, iu[1]]], axis=1)
    Phi.setflags(write=False)
    return Phi


@dataclass(frozen=True, eq=False)
class BoltzmannMachine(Model):
    r"""Immutable BM with fields ``h`` (N,) and couplings ``J`` (N, N), validated on creation.

    Implements the :class:`~shortrun.numerics.models.base.Model` interface with
    :math:`\phi(s) = (s_i, s_is_j)_{i<j}` in ``theta`` order.
    """

    RULES = ("heatbath", "metropolis")
    SCANS = ("random", "sequential", "parallel", "continuous")
    DEFAULT_RULE = "heatbath"
    DEFAULT_SCAN = "random"

    h: np.ndarray
    J: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        h, J = check_params(self.h, self.J)
        h.setflags(write=False)
        J.setflags(write=False)
        object.__setattr__(self, "h", h)
        object.__setattr__(self, "J", J)

    @property
    def N(self):
        return self.h.shape[0]

    @property
    def n_states(self):
        return 1 << self.N

    @property
    def n_units(self):
        return self.N

    @property
    def theta(self):
        """Flat parameter vector ``concat(h, J[triu_indices(N, 1)])``."""
        return np.concatenate([self.h, self.J[np.triu_indices(self.N, 1)]])

    @classmethod
    def from_theta(cls, theta, N):
        """Inverse of :attr:`theta`."""
        N = check_count(N, "N")
        theta = check_real(theta, "theta")
        P = N + N * (N - 1) // 2
        if theta.shape != (P,):
            raise ValueError(f"theta must have N + N(N-1)/2 = {P} entries for N={N}; "
                             f"got shape {theta.shape}.")
        J = np.zeros((N, N))
        iu = np.triu_indices(N, 1)
        J[iu] = theta[N:]
        return cls(theta[:N], J + J.T)

    @classmethod
    def zeros(cls, N):
        N = check_count(N, "N")
        return cls(np.zeros(N), np.zeros((N, N)))

    def energy(self, s):
        r""":math:`E(s)` of configurations ``s`` (shape (n, N) or (N,), ±1)."""
        s = check_spins(s, self.N)
        return -(s @ self.h) - 0.5 * np.einsum("...i,ij,...j->...", s, self.J, s)

    def energies(self):
        r"""Energies of all 2^N states, in index order.

        With :math:`x = x_{\rm hi}2^L + x_{\rm lo}`:
        :math:`E = E_{\rm hi}(x_{\rm hi}) + E_{\rm lo}(x_{\rm lo}) - s_{\rm hi}^\top
        J_{\rm hi,lo}\, s_{\rm lo}`, one matrix product of cost 2^N·(N-L).
        Memory: E and the product, 16 bytes per state at the peak.
        """
        if "E" not in self._cache:
            check_size(self.N, ENERGIES_BYTES, "the energies of all states")
            L, s_lo, s_hi = split(self.N)
            h, J = self.h, self.J
            E_lo = -(s_lo @ h[:L]) - 0.5 * np.einsum("xi,ij,xj->x", s_lo, J[:L, :L], s_lo)
            E_hi = -(s_hi @ h[L:]) - 0.5 * np.einsum("xi,ij,xj->x", s_hi, J[L:, L:], s_hi)
            E = E_hi[:, None] + E_lo[None, :]
            E -= s_hi @ (J[L:, :L] @ s_lo.T)
            E = E.reshape(-1)
            E.setflags(write=False)
            self._cache["E"] = E
        return self._cache["E"]

    def log_partition(self):
        r""":math:`\ln Z = -E_{\min} + \ln\sum_x e^{-(E(x) - E_{\min})}` (log-sum-exp: stable at
        large |J|).  Memory: the cached E and one shifted copy, 16 bytes per state."""
        check_size(self.N, LOG_PARTITION_BYTES, "the log partition function")
        w = np.negative(self.energies())
        top = w.max()
        w -= top
        np.exp(w, out=w)
        return float(top + np.log(w.sum()))

    def boltzmann(self):
        r"""The equilibrium law :math:`p_\theta = e^{-E}/Z` as a vector over the 2^N states
        (shifted by the lowest energy before exponentiating: exact at any coupling strength).

        Memory: the cached E, −E and p, 24 bytes per state at the peak (p and E stay cached)."""
        if "p" not in self._cache:
            check_size(self.N, BOLTZMANN_BYTES, "the equilibrium law of all states")
            p = normalised_exp(-self.energies())
            p.setflags(write=False)
            self._cache["p"] = p
        return self._cache["p"]

    def local_fields(self, s):
        r""":math:`H_i = h_i + \sum_j J_{ij} s_j` for configurations ``s``."""
        return self.h + check_spins(s, self.N) @ self.J

    # -- the Model interface -------------------------------------------------------------------
    def with_theta(self, theta):
        return type(self).from_theta(theta, self.N)

    def param_groups(self):
        P = n_params(self.N)
        return {"fields": np.arange(P) < self.N, "couplings": np.arange(P) >= self.N}

    def initial_theta(self, data_stats, mask):
        r""":math:`h_i = \operatorname{atanh} m_{D,i}` (clipped to :math:`|m| \le 0.9`) on the
        trainable fields, every other entry 0.  It avoids θ = 0, where some kernels are
        degenerate (parallel heat-bath creates correlations only at O(J²); Metropolis at H = 0
        flips deterministically)."""
        theta = np.zeros(self.n_params)
        fields = np.asarray(mask[: self.N], bool)
        theta[: self.N][fields] = np.arctanh(np.clip(data_stats[: self.N], -0.9, 0.9))[fields]
        return theta

    def equilibrium_tangent(self):
        r""":math:`(p_\theta, p_\theta(\phi - \langle\phi\rangle))` (exponential family)."""
        p = np.asarray(self.boltzmann())
        Phi = phi_matrix(self.N)
        return p, (Phi - Phi.T @ p) * p[:, None]

    def independent_spin_bound(self, theta, data_stats, mask, protocol, rule, scan, k, p0):
        r"""Existence test for independent spins under random-scan heat-bath (S2).

        With J ≡ 0, :math:`m_i(k) = \tanh h_i\,(1-q) + q\,m_i(0)`, :math:`q = (1-1/N)^{kN}`
        (:math:`e^{-t}` in continuous time), so a finite root needs
        :math:`|m_{D,i} - q\,m_i(0)| < 1 - q`.  Returns ``(q, bad)`` with ``bad`` the sites that
        violate it, or ``None`` if the problem is not of this kind (couplings trainable or not
        zero in ``theta``, other rule or scan, protocol eq/pcd).
        """
        N = self.N
        if (protocol not in ("rdm", "cd") or rule != "heatbath"
                or scan not in ("random", "continuous") or np.any(mask[N:])
                or np.any(np.asarray(theta)[N:] != 0)):
            return None
        q = np.exp(-k) if scan == "continuous" else (1.0 - 1.0 / N) ** (k * N)
        mD = np.asarray(data_stats)[:N]
        m0 = _stats(p0)[:N]
        bad = np.flatnonzero((np.abs(mD - q * m0) >= 1.0 - q) & np.asarray(mask[:N]))
        return q, bad

    def describe_param(self, a):
        if a < self.N:
            return f"h[{a}]"
        i, j = (x[a - self.N] for x in np.triu_indices(self.N, 1))
        return f"J[{i},{j}]"

    def stats(self, p):
        r""":math:`\langle\phi\rangle_p = (\langle s_i\rangle, \langle s_is_j\rangle_{i<j})`."""
        return _stats(self.check_law(p))

    def stats_jacobian(self, p, D):
        r""":math:`(\Phi^\top p, \Phi^\top D)`; φ does not depend on θ, so with ``D=None``
        (data) the Jacobian is 0 and F is :meth:`stats`."""
        p = self.check_law(p)
        if D is None:
            F = _stats(p)
            return F, np.zeros((F.shape[0], self.n_params))
        Phi = phi_matrix(self.N)
        return Phi.T @ p, Phi.T @ self.check_tangent(D)

    def equilibrium_jacobian(self):
        r""":math:`\partial\langle\phi_a\rangle_{p_\theta}/\partial\theta_b =
        \langle\phi_a\phi_b\rangle - \langle\phi_a\rangle\langle\phi_b\rangle`."""
        p = np.asarray(self.boltzmann())
        Phi = phi_matrix(self.N)
        F = Phi.T @ p
        return F, (Phi * p[:, None]).T @ Phi - np.outer(F, F)

    def sample_stats(self, states):
        r"""Sample means :math:`(\overline{s_i}, \overline{s_is_j})` over ±1 ``states`` (E1)."""
        s = check_samples(states, self.N)
        return stats_from_moments(s.mean(axis=0), s.T @ s / s.shape[0])
