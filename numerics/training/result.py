"""What both trainers return: one :class:`TrainingResult` with one :class:`History`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class History:
    r"""Recorded training trajectory, one row per recorded update (the exact trainer records
    every ``record_every`` updates, the Monte Carlo trainer every update).

    ``theta[t]`` is the parameter vector at which the gradient ``grad[t]`` =
    ⟨φ⟩_data − ⟨φ⟩_neg (G4) was measured and used (zero on frozen entries); ``grad_norm`` =
    ‖grad‖₂ and ``mismatch_k`` = ‖grad‖∞ on the trainable entries (for Monte Carlo against the
    whole data set, so up to noise of order 1/√n_chains); ``mismatch_eq`` =
    ‖⟨φ⟩_{p_θ} − ⟨φ⟩_data‖∞ (exact trainer; NaN for Monte Carlo); ``mixing_time`` = τ(θ) (NaN
    where not computed).
    """

    step: np.ndarray
    theta: np.ndarray
    grad: np.ndarray
    grad_norm: np.ndarray
    mismatch_k: np.ndarray
    mismatch_eq: np.ndarray
    mixing_time: np.ndarray

    FIELDS = ("step", "theta", "grad", "grad_norm", "mismatch_k", "mismatch_eq", "mixing_time")

    @classmethod
    def from_columns(cls, cols):
        return cls(*(np.asarray(cols[f]) for f in cls.FIELDS))


@dataclass(frozen=True)
class TrainingResult:
    """Outcome of a trainer: final ``theta``, the :class:`~shortrun.numerics.training.problem.Problem`
    (data, model family, k, protocol, rule, scan, p0, mask), the :class:`History`, whether
    ‖∇̃L‖∞ reached ``tol`` (``converged``), the number of updates made, a message, and for Monte
    Carlo the negative ``chains`` after the last update (the persistent chains for pcd)."""

    theta: np.ndarray
    problem: object
    history: History
    converged: bool
    steps: int
    message: str
    chains: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    @property
    def model(self):
        """The trained model (the problem's model family at ``theta``)."""
        return self.problem.model(self.theta)

    @property
    def N(self):
        return self.problem.N
