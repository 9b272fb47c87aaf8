r"""Independent spins as a model of their own: the smallest member of the model interface.

.. math:: E_h(s) = -\sum_i h_i s_i,\qquad p_h(s) = \prod_i \frac{e^{h_i s_i}}{2\cosh h_i},
          \qquad \phi(s) = (s_i)_i .

θ = h.  Its chains are those of a Boltzmann machine with J = 0 (the kernels and samplers
registered for it delegate to the Boltzmann-machine ones), so the closed forms (S1)–(S2) hold:
for random-scan heat-bath from p0, :math:`m(k) = \tanh h\,(1-q) + q\,m(0)`,
:math:`q = (1-1/N)^{kN}`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortrun.conventions import check_real
from shortrun.numerics.core.moments import moments
from shortrun.numerics.core.states import check_samples, check_size, spins
from shortrun.numerics.models.base import Model
from shortrun.numerics.models.boltzmann import BoltzmannMachine, check_fields


@dataclass(frozen=True, eq=False)
class IndependentSpins(Model):
    """N independent ±1 spins in fields ``h`` (N,), validated on creation."""

    h: np.ndarray

    RULES = BoltzmannMachine.RULES
    SCANS = BoltzmannMachine.SCANS
    DEFAULT_RULE = BoltzmannMachine.DEFAULT_RULE
    DEFAULT_SCAN = BoltzmannMachine.DEFAULT_SCAN

    def __post_init__(self):
        h = check_fields(self.h)
        h.setflags(write=False)
        object.__setattr__(self, "h", h)

    @property
    def N(self):
        return self.h.shape[0]

    @property
    def theta(self):
        return np.array(self.h)

    def with_theta(self, theta):
        theta = check_real(theta, "theta")
        if theta.shape != (self.N,):
            raise ValueError(f"theta must have N = {self.N} entries (the fields); got shape "
                             f"{theta.shape}.")
        return IndependentSpins(theta)

    @property
    def n_states(self):
        return 1 << self.N

    @property
    def n_units(self):
        return self.N

    def as_boltzmann_machine(self):
        """The same law as a Boltzmann machine with J = 0 (its chains are this model's)."""
        return BoltzmannMachine(self.h, np.zeros((self.N, self.N)))

    def boltzmann(self):
        return self.as_boltzmann_machine().boltzmann()

    def _phi(self):
        check_size(self.N, 8 * self.N, "the statistics matrix of independent spins")
        return spins(self.N).astype(float)

    def stats(self, p):
        r""":math:`\langle s_i\rangle_p`."""
        return moments(self.check_law(p))[0]

    def stats_jacobian(self, p, D):
        if D is None:
            return self.stats(p), np.zeros((self.N, self.N))
        Phi = self._phi()
        return Phi.T @ self.check_law(p), Phi.T @ self.check_tangent(D)

    def equilibrium_tangent(self):
        p = np.asarray(self.boltzmann())
        Phi = self._phi()
        return p, (Phi - Phi.T @ p) * p[:, None]

    def initial_theta(self, data_stats, mask):
        theta = np.zeros(self.N)
        theta[mask] = np.arctanh(np.clip(data_stats, -0.9, 0.9))[mask]
        return theta

    def independent_spin_bound(self, theta, data_stats, mask, protocol, rule, scan, k, p0):
        full = np.concatenate([np.asarray(theta), np.zeros(self.N * (self.N - 1) // 2)])
        bm = self.as_boltzmann_machine()
        return bm.independent_spin_bound(full, np.concatenate([data_stats, full[self.N:]]),
                                         np.concatenate([mask, np.zeros(len(full) - self.N, bool)]),
                                         protocol, rule, scan, k, p0)

    def describe_param(self, a):
        return f"h[{a}]"

    def sample_stats(self, states):
        return check_samples(states, self.N).mean(axis=0)
