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

The state space is declared by :attr:`Model.levels`, the number of states :math:`q_i \ge 2` of
each unit (±1 spins and {0,1} bits are the case q = 2), and states are numbered in mixed radix
with unit 0 the lowest digit,

.. math:: x = \sum_i \sigma_i \prod_{j<i} q_j,\qquad \sigma_i \in \{0, \dots, q_i - 1\},

so that for q = 2 bit i of x is unit i (:func:`mixed_radix_index`, :func:`mixed_radix_digits`).
Samples are int8 arrays, one row per state, in the model's own unit values
(:meth:`Model.index_of` / :meth:`Model.states_of`: ±1 spins by default).

A model names the update rules and scans its chains support (``RULES``, ``SCANS``) and its own
default (``DEFAULT_RULE``, ``DEFAULT_SCAN``); :func:`update_names` resolves ``rule=None`` /
``scan=None`` to them, and every public function that takes ``rule``/``scan`` calls it.

Chains are not methods of the model (models sit below kernels in the layers): each model type
registers its exact kernel, its tangents, its Monte Carlo sampler and its initial-state draw in
one call, :func:`shortrun.numerics.core.dispatch.register_model`, in ``numerics/registry.py``.
A new model is a new class here, its chains in ``kernels/`` and ``sampling/``, and one line
there; the trainers and the diagnostics do not change (docs/architecture.md, "How to add a
model").
"""
from __future__ import annotations

import abc
import math

import numpy as np

from shortrun.conventions import check_choice, check_finite
from shortrun.numerics.core.states import integer_array


class Model(abc.ABC):
    """Interface of an energy-based model over a finite state space (see the module docstring).

    Class attributes ``RULES`` and ``SCANS`` name the update rules and scans that the model's
    kernels and samplers support, ``DEFAULT_RULE`` and ``DEFAULT_SCAN`` the ones used when a
    caller passes ``None`` (the first entries when left ``None``); :meth:`param_groups` names the
    masks the trainers accept.
    """

    RULES: tuple = ()
    SCANS: tuple = ()
    DEFAULT_RULE: str | None = None
    DEFAULT_SCAN: str | None = None
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
    def n_units(self) -> int:
        """Number of (visible) units N."""

    @property
    def levels(self) -> tuple:
        """Number of states :math:`q_i` of each (visible) unit, a tuple of N ints (2: binary)."""
        return (2,) * self.n_units

    @property
    def n_states(self) -> int:
        r"""Size of the (visible) state space of the exact route, :math:`\prod_i q_i`."""
        return math.prod(self.levels)

    def index_of(self, states) -> np.ndarray:
        """State indices x of samples ``states`` (n, N) in the model's unit values (±1 spins by
        default; a model with other unit values overrides this and :meth:`states_of`)."""
        self._check_binary("index_of")
        s = np.asarray(states)
        if s.ndim != 2 or s.shape[1] != self.n_units:
            raise ValueError(f"states must have shape (n, N={self.n_units}); got {s.shape}.")
        if not np.all((s == 1) | (s == -1)):
            raise ValueError("states must contain only -1 and +1 spins.")
        return mixed_radix_index((s > 0).astype(np.int64), self.levels)

    def states_of(self, x=None) -> np.ndarray:
        """Inverse of :meth:`index_of`: int8 unit values of the states ``x`` (all when None)."""
        self._check_binary("states_of")
        return (2 * mixed_radix_digits(x, self.levels) - 1).astype(np.int8)

    def _check_binary(self, what):
        if any(q != 2 for q in self.levels):
            raise NotImplementedError(f"{type(self).__name__} has units with more than two states "
                                      f"(levels {self.levels}); it must override {what}().")

    @abc.abstractmethod
    def boltzmann(self) -> np.ndarray:
        r"""The model's law :math:`p_\theta` over the states (marginal over hidden units)."""

    def check_law(self, p, name="p", states=None):
        """``p`` as a finite real float64 vector over the ``n_states`` states (NaN, inf, complex
        entries or another length are refused by name: they gave NaN or another N's statistics;
        ``states`` describes the states in the message)."""
        p = check_finite(p, name, "pass a finite vector over the states (a probability vector).")
        if p.shape != (self.n_states,):
            states = states or f"the {self.n_states} states of the model"
            raise ValueError(f"{name} must be a vector over {states}; got shape {p.shape}.")
        return p

    def check_tangent(self, D, name="D"):
        """``D`` = ∂p/∂θ as a finite float64 matrix of shape (n_states, P)."""
        D = check_finite(D, name, "pass the finite tangent dp/dtheta.")
        if D.shape != (self.n_states, self.n_params):
            raise ValueError(f"{name} must have shape (n_states, P) = "
                             f"{(self.n_states, self.n_params)}; got {D.shape}.")
        return D

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


def update_names(model, rule=None, scan=None, *, validate=True):
    """``(rule, scan)`` of ``model``'s chains: ``None`` becomes the model's ``DEFAULT_RULE`` /
    ``DEFAULT_SCAN`` (its first ``RULES`` / ``SCANS`` entry when unset), and both are checked
    against ``RULES`` / ``SCANS`` (a misspelt name gets a suggestion).  ``validate=False``
    leaves the check to the registered kernel or sampler (whose messages may say more)."""
    cls = type(model)
    rules, scans = getattr(cls, "RULES", ()), getattr(cls, "SCANS", ())
    if rule is None:
        rule = getattr(cls, "DEFAULT_RULE", None) or (rules[0] if rules else None)
    if scan is None:
        scan = getattr(cls, "DEFAULT_SCAN", None) or (scans[0] if scans else None)
    if rule is None or scan is None:
        raise ValueError(f"{cls.__name__} declares no update rule or scan; set its class "
                         "attributes RULES and SCANS (and DEFAULT_RULE / DEFAULT_SCAN).")
    if not validate:
        return rule, scan
    return check_choice(rule, rules, "rule"), check_choice(scan, scans, "scan")


def _check_levels(levels):
    q = integer_array(levels, "levels", "pass integers >= 2.")
    if q is None or q.size == 0 or np.any(q < 2):
        raise ValueError(f"levels must be a non-empty list of integers >= 2; got {levels!r}.")
    return q.reshape(-1)


def mixed_radix_index(sigma, levels):
    r"""State index :math:`x = \sum_i \sigma_i \prod_{j<i} q_j` of unit values ``sigma``
    (shape (n, N) or (N,), :math:`0 \le \sigma_i < q_i`), int64."""
    q = _check_levels(levels)
    s = integer_array(sigma, "sigma", "pass integer unit values.")
    one = s is not None and s.ndim == 1
    s = None if s is None else np.atleast_2d(s)
    if s is None or s.ndim != 2 or s.shape[1] != q.size or np.any(s < 0) or np.any(s >= q):
        raise ValueError(f"sigma must have N = {q.size} columns with 0 <= sigma_i < q_i "
                         f"(levels {tuple(int(v) for v in q)}).")
    place = np.concatenate([[1], np.cumprod(q[:-1])]).astype(np.int64)
    x = s @ place
    return x[0] if one else x


def mixed_radix_digits(x, levels):
    r"""Inverse of :func:`mixed_radix_index`: the int8 digits :math:`\sigma_i` of the indices
    ``x`` (all :math:`\prod_i q_i` states in index order when ``x`` is None), shape (n, N)."""
    q = _check_levels(levels)
    n = int(np.prod(q))
    x = np.arange(n, dtype=np.int64) if x is None else integer_array(x, "x", "pass state indices.")
    if x is None or np.any(x < 0) or np.any(x >= n):
        raise ValueError(f"x must be integer state indices in [0, {n}).")
    x = x.reshape(-1)
    out = np.empty((x.shape[0], q.size), dtype=np.int8)
    rest = x.copy()
    for i, qi in enumerate(q):
        rest, out[:, i] = np.divmod(rest, qi)
    return out
