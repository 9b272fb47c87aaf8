r"""Potts teachers and their data: laws over the q^N colour configurations (P1).

:class:`PottsData` is the trainers' :class:`~shortrun.numerics.data.teachers.Data` for q colours
per unit: ``p`` is a probability vector over the q^N states (index :math:`x = \sum_i \sigma_i
q^i`), ``stats`` the one-hot single and pair marginals in θ order of
:class:`~shortrun.numerics.models.potts.PottsMachine`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortrun.conventions import check_count, check_distribution, check_seed
from shortrun.numerics.data.teachers import Data
from shortrun.numerics.models.potts import (PottsMachine, check_q, check_states_size,
                                            marginal_stats, n_states, potts_index)

#: Largest q^N of a Potts data law (the exact trainers hold vectors and tangents over it).
DATA_MAX_STATES = 1 << 24


def _check_data_states(n, name):
    if n > DATA_MAX_STATES:
        raise ValueError(f"{name} has {n} states, beyond the exact routes' {DATA_MAX_STATES}; "
                         "use Monte Carlo training.")


@dataclass(frozen=True, eq=False)
class PottsData(Data):
    """A data law over the q^N states of N units with q colours (see the module docstring)."""

    q: int = 3

    def __post_init__(self):
        q = check_q(self.q)
        p = np.asarray(self.p)
        n = p.shape[0] if p.ndim == 1 else 0
        N = 0
        while q ** N < n:
            N += 1
        if p.ndim != 1 or n < q or q ** N != n:
            raise ValueError(f"p_data must be a probability vector of length q^N (q = {q}, "
                             f"N >= 1); got shape {p.shape}.")
        _check_data_states(n, "p_data")
        p = check_distribution(p, n, "p_data")
        p.setflags(write=False)
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "_N", N)

    @property
    def N(self):
        return self._N

    @property
    def stats(self):
        """One-hot single and pair marginals in θ order (P1)."""
        if "stats" not in self._cache:
            st = marginal_stats(self.p, self.N, self.q)
            st.setflags(write=False)
            self._cache["stats"] = st
        return self._cache["stats"]

    @property
    def magnetisation(self):
        raise ValueError("Potts data have no magnetisation; use .stats (one-hot marginals).")

    def moments(self):
        raise ValueError("Potts data have no ±1 moments; use .stats (one-hot marginals).")

    def default_model(self):
        """The family trained on these data when no ``model=`` is given: a Potts machine with
        N units and q colours (θ = 0)."""
        return PottsMachine.zeros(self.N, self.q)

    @classmethod
    def from_samples(cls, samples, q, name="samples"):
        """Data from an (M, N) array of colours in 0..q−1 (the histogram over the q^N states)."""
        s = np.asarray(samples)
        if s.ndim != 2 or s.shape[0] < 1 or s.shape[1] < 1:
            raise ValueError(f"samples must be an (M, N) array of colours with M, N >= 1; got "
                             f"shape {s.shape}.")
        _check_data_states(check_q(q) ** s.shape[1], f"the law of samples of {s.shape[1]} units")
        x = potts_index(s, q)
        counts = np.bincount(x, minlength=n_states(s.shape[1], q))
        return cls(counts / s.shape[0], s.shape[0], name, q=q)


def potts_teacher(N, q, beta=1.0, seed=0, field=0.5):
    r"""A random Potts teacher (:meth:`PottsMachine.random`): :math:`J_{ij}(a,b) \sim
    \mathcal N(0, \beta^2/N)`, :math:`h_i(a) \sim \mathcal N(0, \mathrm{field}^2)`, seeded,
    in the reference gauge (P1)."""
    return PottsMachine.random(N, q, seed, beta, field)


def exact_potts_data(model, name="exact Potts"):
    r"""The exact law :math:`p_\theta` of a Potts machine as :class:`PottsData`."""
    if not isinstance(model, PottsMachine):
        raise ValueError("model must be a PottsMachine (e.g. potts_teacher(N, q)).")
    return PottsData(np.array(model.boltzmann()), None, name, q=model.q)


def sampled_potts_data(model, M, seed, name=None):
    """:class:`PottsData` from ``M`` i.i.d. exact samples of a Potts machine, drawn with
    ``default_rng(seed).choice(q**N, size=M, p=p_theta)``."""
    if not isinstance(model, PottsMachine):
        raise ValueError("model must be a PottsMachine (e.g. potts_teacher(N, q)).")
    M = check_count(M, "M")
    if seed is None:
        raise ValueError("seed must be given (an int) so that the samples are reproducible.")
    check_states_size(model.N, model.q, 8, "sampling from the exact Potts law")
    p = np.array(model.boltzmann())
    x = np.random.default_rng(check_seed(seed)).choice(model.n_states, size=M, p=p / p.sum())
    return PottsData(np.bincount(x, minlength=model.n_states) / M, M,
                     name or f"M={M} samples, seed={seed}", q=model.q)
