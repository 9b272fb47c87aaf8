r"""The model interface: what training, Newton, the Jacobian, Monte Carlo and the diagnostics need.

An energy-based model is a parameter vector θ (length P) and an energy :math:`E_\theta(x)` over a
state space; its sufficient statistics are :math:`\phi = -\partial E/\partial\theta`, so that the
likelihood gradient (G1) and the biased gradient (G4) are differences of averages of φ.  A model
that can be treated exactly also has a finite state space (2^N states, index x with bit i of x
equal to 1 ⇔ unit i is on), the law :math:`p_\theta` over it, and a Markov kernel for each update
rule; the exact trainer and the Newton solver use nothing else.

A model family is represented by any member: :meth:`Model.with_theta` returns the member with other
parameters (same sizes), so a training problem holds one template model and maps θ to models.

Statistics may depend on θ themselves (an RBM's hidden conditional means, (R3)): a model returns
:math:`F(p) = \langle\phi_\theta\rangle_p` and, given :math:`D = \partial p/\partial\theta`, the total
derivative :math:`\partial F/\partial\theta = \Phi^\top D + \langle\partial_\theta\phi_\theta\rangle_p`
from :meth:`Model.stats_jacobian`.

Chains are not methods of the model (models sit below kernels in the layers): each model type
registers its exact kernel with :func:`shortrun.numerics.kernels.kernel` and its tangent with
:func:`shortrun.numerics.kernels.law_tangent` / ``stationary_tangent``, and its Monte Carlo
sampler with :func:`shortrun.numerics.sampling.sample` (``functools.singledispatch`` on the model
type).  A new model is a new class here plus one registration in each of those layers; the
trainers do not change.
"""
from __future__ import annotations

import abc

import numpy as np


class Model(abc.ABC):
    """Interface of an energy-based model over a finite state space (see the module docstring).

    Class attributes ``RULES`` and ``SCANS`` name the update rules and scans that the model's
    kernels and samplers support; :meth:`param_groups` names the masks the trainers accept.
    """

    RULES: tuple = ()
    SCANS: tuple = ()
    #: True when φ_θ depends on θ (an RBM's hidden conditional means): the data's statistics
    #: are then re-evaluated at every update.
    STATS_DEPEND_ON_THETA: bool = False

    # ----------------------------------------------------------------------------- parameters
    @property
    @abc.abstractmethod
    def theta(self) -> np.ndarray:
        """Flat parameter vector θ, shape (P,)."""

    @property
    def n_params(self) -> int:
        """P, the length of θ."""
        return int(self.theta.shape[0])

    @abc.abstractmethod
    def with_theta(self, theta) -> "Model":
        """The model of the same family and sizes with parameters ``theta`` (validated)."""

    def param_groups(self) -> dict:
        """Named boolean masks of θ accepted as ``mask=`` by the trainers (e.g. 'fields')."""
        return {}

    def initial_theta(self, data_stats, mask) -> np.ndarray:
        """A start for the Newton solver given the data's statistics (zeros by default)."""
        return np.zeros(self.n_params)

    def check_start(self, theta, mask) -> None:
        """Refuse a training start ``theta`` (with trainable entries ``mask``) from which no
        update can move where training should go, with a ValueError naming ``theta0`` and the
        fix (e.g. an RBM's identical hidden units); every start is accepted by default."""

    def independent_spin_bound(self, theta, data_stats, mask, protocol, rule, scan, k, p0):
        """Where a closed form says that no finite fixed point exists, ``(q, bad)`` with the
        offending parameters; ``None`` when it does not apply (default)."""
        return None

    def describe_param(self, a: int) -> str:
        """Human-readable name of θ[a] for error messages (e.g. 'J[0,3]')."""
        return f"theta[{a}]"

    # ----------------------------------------------------------------------------- exact route
    @property
    @abc.abstractmethod
    def n_states(self) -> int:
        """Size of the (visible) state space of the exact route."""

    @property
    @abc.abstractmethod
    def n_units(self) -> int:
        """Number of (visible) units N; states are ±1 vectors of this length."""

    @abc.abstractmethod
    def boltzmann(self) -> np.ndarray:
        r"""The model's law :math:`p_\theta` over the states (marginal over hidden units)."""

    @abc.abstractmethod
    def stats(self, p) -> np.ndarray:
        r""":math:`\langle\phi_\theta\rangle_p` for a law ``p`` over the states, shape (P,)."""

    @abc.abstractmethod
    def stats_jacobian(self, p, D):
        r"""``(F, dF)``: :math:`F = \langle\phi_\theta\rangle_p` and its total derivative along θ
        when :math:`\partial p/\partial\theta = D` (shape (n_states, P)); ``D=None`` means p does
        not depend on θ (data)."""

    def equilibrium_tangent(self):
        r"""``(p_θ, ∂p_θ/∂θ)``: for an exponential family :math:`\partial p_\theta/\partial\theta_b
        = p_\theta(\phi_b - \langle\phi_b\rangle)`; models with θ-dependent statistics override."""
        raise NotImplementedError(f"{type(self).__name__} has no equilibrium tangent")

    def equilibrium_jacobian(self):
        r"""``(F, dF)`` of the equilibrium statistics :math:`\langle\phi\rangle_{p_\theta}`
        (for an exponential family dF is the covariance of φ, the Fisher information)."""
        return self.stats_jacobian(*self.equilibrium_tangent())

    def sample_stats(self, states) -> np.ndarray:
        r"""Sample mean of :math:`\phi_\theta` over ``states`` (one per row), shape (P,) (E1)."""
        raise NotImplementedError(f"{type(self).__name__} has no Monte Carlo statistics")


def exponential_family_tangent(Phi, p):
    r""":math:`\partial p_\theta/\partial\theta = p\,(\Phi - \langle\Phi\rangle_p)` for
    :math:`p_\theta \propto e^{\theta\cdot\phi}`, shape (n_states, P)."""
    F = Phi.T @ p
    return (Phi - F) * p[:, None]
