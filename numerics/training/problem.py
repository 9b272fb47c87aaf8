r"""One exact short-run training problem, shared by gradient ascent and the Newton solver.

The trainer ascends the biased gradient (G4)

.. math:: \tilde\nabla L(\theta) = \langle\phi_\theta\rangle_{\rm data}
          - \langle\phi_\theta\rangle_{p_{\rm neg}},\qquad \phi = -\partial E/\partial\theta,

with the negative law computed exactly on all states.  Where it converges, θ* is a fixed point
(G5): :math:`F(\theta^*) = \langle\phi\rangle_{p_{\rm fix}} - \langle\phi\rangle_{\rm data} = 0`.
One small function per protocol gives the law (:data:`NEGATIVE_LAW`, :data:`FIXED_POINT_LAW`,
:data:`FIXED_POINT_JACOBIAN`):

* ``'rdm'`` — :math:`p_{\rm neg} = U_\theta^k p_0` from a fixed p0 (uniform by default);
* ``'cd'``  — :math:`p_{\rm neg} = U_\theta^k p_{\rm data}`;
* ``'pcd'`` — a persistent distribution vector, :math:`p \leftarrow U_\theta^k p` at every update;
  at a fixed point it is the kernel's stationary law (p_θ for random, sequential and continuous
  scans, so PCD's fixed points are those of equilibrium training);
* ``'eq'``  — :math:`p_{\rm neg} = p_\theta` (exact maximum likelihood);
* ``'buffer'`` — a replay buffer B with reuse probability ρ (``rho``):
  :math:`p_{\rm neg} = U_\theta^k[(1-\rho)p_0 + \rho B]`; at a fixed point B is the stationary
  buffer law :math:`B^*(\theta) = (1-\rho)(I-\rho U_\theta^k)^{-1}U_\theta^k p_0` (B2), the
  geometric mixture of chain ages (:mod:`shortrun.numerics.training.buffer`).

Everything model-specific goes through the model interface (:mod:`shortrun.numerics.models.base`)
and the kernels registered for the model type (:func:`shortrun.numerics.kernels.kernel`,
:func:`~shortrun.numerics.kernels.law_tangent`, :func:`~shortrun.numerics.kernels.stationary_tangent`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from shortrun.conventions import (PROTOCOLS, check_choice, check_distribution, check_finite,
                                  check_real, check_steps)
from shortrun.numerics.core import perturb, work
from shortrun.numerics.core.work import MAX_WORK, MIN_SWEEP_WORK  # noqa: F401  (re-exported)
from shortrun.numerics.data.teachers import as_data
from shortrun.numerics.kernels import (NotBoltzmannWarning, kernel, law_tangent,
                                       stationary_tangent)
from shortrun.numerics.models.base import Model, update_names
from shortrun.numerics.training import buffer as _buffer
from shortrun.numerics.training.core import check_theta0


def parameter_mask(model, mask=None):
    """Boolean mask of the trainable entries of ``theta`` (length P).

    ``None`` or ``'all'``: every parameter; a name from ``model.param_groups()`` (for a Boltzmann
    machine ``'fields'``: only h, couplings stay at their value in ``theta0``; ``'couplings'``:
    only J); or a boolean array of length P in ``theta`` order.
    """
    P = model.n_params
    if mask is None or (isinstance(mask, str) and mask == "all"):
        return np.ones(P, bool)
    groups = model.param_groups()
    if isinstance(mask, str):
        if mask in groups:
            return np.array(groups[mask], bool)
        names = ", ".join(repr(g) for g in ["all", *groups])
        raise ValueError(f"mask={mask!r} is not known; use None, {names} or a boolean array of "
                         f"length P = {P} in theta order.")
    try:
        m = np.asarray(mask)
    except (ValueError, TypeError):
        m = np.empty(0, dtype=object)
    if m.dtype != bool or m.shape != (P,):
        raise ValueError(f"mask must be a boolean array of length P = {P} in theta order; got "
                         f"dtype {m.dtype}, shape {m.shape}.")
    if not m.any():
        raise ValueError("mask selects no parameter; set at least one entry to True.")
    return m.copy()


_LARGE_K = ("For k far beyond the chain's mixing time the k-step law is the kernel's stationary "
            "law: protocol='pcd' trains for that limit (its fixed point does not depend on k), "
            "and shortrun.numerics.kernels.spectral.decompose(kernel).propagate(p0, k) gives "
            "U^k p0 at any k for small N")


def check_work(k, per_sweep, what, fewer=None):
    """:func:`shortrun.numerics.core.work.check_work` for the training routes (the message
    points to pcd and the spectral route for large k)."""
    return work.check_work(k, per_sweep, what, fewer, _LARGE_K)


def jacobian_work(prob):
    """Lower bound on the elementary updates of one sweep of the exact Jacobian route (the law
    and its P tangent columns on every state, each unit updated once): ``N n_states (P + 1)``
    for protocols that propagate k sweeps (rdm, cd, buffer), 0 otherwise (pcd and eq solve for
    the stationary law or p_θ, whatever k)."""
    if prob.protocol not in ("rdm", "cd", "buffer"):
        return 0.0
    t = prob.template
    return float(t.n_units) * float(t.n_states) * float(t.n_params + 1)


# ---------------------------------------------------------------------------------------------
# one small function per protocol
# ---------------------------------------------------------------------------------------------
def _k_step(prob, model, persistent=None):
    return prob.kernel(model).propagate(prob.p0, prob.k)


def _persistent(prob, model, persistent):
    return prob.kernel(model).propagate(persistent, prob.k)


def _equilibrium(prob, model, persistent=None):
    return np.asarray(model.boltzmann())


def _stationary(prob, model, persistent=None):
    return prob.kernel(model).stationary()


def _buffer_step(prob, model, persistent):
    return _buffer.exact_update(prob, model, persistent, 1.0)[0]


def _buffer_stationary(prob, model, persistent=None):
    return _buffer.stationary_law(prob.kernel(model), prob.p0, prob.k, prob.rho)


#: The negative law of one training update, per protocol: ``f(prob, model, persistent)``
#: (buffer: the law of the chains started from the buffer vector ``persistent``, (B1)).
NEGATIVE_LAW = {"rdm": _k_step, "cd": _k_step, "pcd": _persistent, "eq": _equilibrium,
                "buffer": _buffer_step}
#: The law whose statistics match the data at a fixed point (G5), per protocol.
FIXED_POINT_LAW = {"rdm": _k_step, "cd": _k_step, "pcd": _stationary, "eq": _equilibrium,
                   "buffer": _buffer_stationary}


def _k_step_jacobian(prob, model):
    return model.stats_jacobian(*law_tangent(model, prob.p0, prob.k, prob.rule, prob.scan))


def _stationary_jacobian(prob, model):
    if prob.kernel(model).equilibrium_stationary:
        return model.equilibrium_jacobian()
    return model.stats_jacobian(*stationary_tangent(model, prob.rule, prob.scan))


def _equilibrium_jacobian(prob, model):
    return model.equilibrium_jacobian()


def _buffer_jacobian(prob, model):
    return model.stats_jacobian(*_buffer.stationary_tangent(prob, model))


#: ``(⟨φ⟩_{p_fix}, ∂⟨φ⟩_{p_fix}/∂θ)`` per protocol, exact (forward mode; buffer: through the
#: resolvent, (B3)).
FIXED_POINT_JACOBIAN = {"rdm": _k_step_jacobian, "cd": _k_step_jacobian,
                        "pcd": _stationary_jacobian, "eq": _equilibrium_jacobian,
                        "buffer": _buffer_jacobian}


@dataclass(frozen=True, eq=False)
class Problem:
    r"""One exact short-run training problem: data, the model family (a template model), k,
    protocol, rule, scan, p0 and the trainable mask.  Build it with :func:`problem`.

    ``p0`` is the resolved start of the negative chains: the given/uniform vector for rdm and
    pcd, :math:`p_{\rm data}` for cd, ``None`` for eq.  For pcd the fixed-point law is the
    kernel's stationary law; parallel Metropolis chains are often periodic or reducible (2-cycles
    of complementary states where every spin flips surely), where that law is not unique.
    """

    data: object
    template: Model
    k: float
    protocol: str
    rule: str
    scan: str
    p0: np.ndarray | None
    mask: np.ndarray
    #: the buffer's reuse probability ρ (protocol 'buffer'; None otherwise)
    rho: float | None = None

    @property
    def N(self):
        return self.template.n_units

    @property
    def P(self):
        return self.template.n_params

    def model(self, theta):
        """The model at parameters ``theta``."""
        return self.template.with_theta(theta)

    def kernel(self, model):
        return kernel(model, self.rule, self.scan, warn=False)

    def data_stats(self, model):
        r""":math:`\langle\phi_\theta\rangle_{\rm data}` (θ-independent for a Boltzmann machine)."""
        return model.stats(self.data_law())

    def data_law(self):
        """The data's law over the states (refused, with the reason, when the problem has none)."""
        if self.data is None:
            raise ValueError(f"this problem has no exact data law: it comes from a Monte Carlo run "
                             f"on {self.template.n_states} states (levels {self.template.levels}) "
                             "without a teachers.Data of them, or too many for the exact route; "
                             "evaluate it with the Monte Carlo estimators (sampling.sample).")
        return self.data.p

    def negative_law(self, model, persistent=None):
        """The negative law of one training update (``persistent``: pcd's vector)."""
        return NEGATIVE_LAW[self.protocol](self, model, persistent)

    def fixed_point_law(self, model):
        r"""The law whose statistics match the data at a fixed point (G5): :math:`p(k,p_0)` (rdm,
        cd), :math:`p_\theta` (eq), the kernel's stationary law (pcd), the stationary buffer law
        :math:`B^*(\theta)` (buffer, (B2))."""
        return FIXED_POINT_LAW[self.protocol](self, model)

    def residual(self, theta):
        r""":math:`F(\theta) = \langle\phi\rangle_{p_{\rm fix}} - \langle\phi\rangle_{\rm data}`
        on the trainable entries (the negative of the biased gradient (G4))."""
        model = self.model(theta)
        return (model.stats(self.fixed_point_law(model)) - self.data_stats(model))[self.mask]

    def residual_and_jacobian(self, theta):
        """``(F, dF/dtheta)`` restricted to the trainable entries, the Jacobian exact (forward
        mode through the kernel's registered tangent)."""
        model = self.model(theta)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotBoltzmannWarning)
            F, jac = FIXED_POINT_JACOBIAN[self.protocol](self, model)
        Fd, jac_d = model.stats_jacobian(self.data_law(), None)
        m = self.mask
        return (F - Fd)[m], (jac - jac_d)[np.ix_(m, m)]

    def default_start(self):
        """Newton's default start: the model's :meth:`~shortrun.numerics.models.base.Model.initial_theta`
        from the data's statistics on the trainable entries (zeros elsewhere)."""
        return np.asarray(self.template.initial_theta(self.data_stats(self.template), self.mask),
                          dtype=float)

    def check_theta(self, theta0=None):
        """Validated float copy of a start ``theta0`` (zeros by default;
        :func:`shortrun.numerics.training.core.check_theta0`)."""
        return check_theta0(theta0, self.template)

def check_model(template, n_data_states=None):
    """``template`` is a shortrun model whose state space has the data's ``n_data_states``."""
    if not isinstance(template, Model):
        raise ValueError(f"model must be a shortrun model (shortrun.numerics.models: a Boltzmann "
                         f"machine, an RBM, ...); got {type(template).__name__}.")
    if n_data_states is not None and template.n_states != n_data_states:
        raise ValueError(f"model has {template.n_states} states (levels {template.levels}) but "
                         f"the data's law has {n_data_states}; build the model with the data's "
                         "number of (visible) units and states per unit.")
    return template


def problem(data, k, protocol="rdm", rule=None, scan=None, p0=None, mask=None, *,
            model=None, rho=None):
    """Validate the arguments of a training / fixed-point problem and return a :class:`Problem`.

    Parameters
    ----------
    data : teachers.Data or probability vector over the states
    k : int (real time in sweeps for ``scan='continuous'``); ignored (may be None) for 'eq'
    protocol : {'rdm', 'cd', 'pcd', 'eq', 'buffer'}
    rule, scan : names the model type supports (Boltzmann machine: rule 'heatbath' or
        'metropolis', scan 'random', 'sequential', 'parallel' or 'continuous'); ``None``: the
        model's own ``DEFAULT_RULE`` / ``DEFAULT_SCAN`` (random-scan heat-bath for a Boltzmann
        machine, alternating Gibbs for an RBM)
    p0 : probability vector or 'uniform', optional
        Start of the chains for rdm (fixed), pcd (initial persistent vector) and buffer (the
        fresh chains, and the initial buffer); uniform by default.  Must be left unset for cd
        (p0 is the data) and eq.
    mask : see :func:`parameter_mask`
    model : Model, optional
        The model family to train, given by any member (its parameters are not used: the
        start is ``theta0``).  Default: ``data.default_model()`` (a Boltzmann machine of the
        data's size; a Potts machine for ``PottsData``).
    rho : float in [0, 1), optional
        Protocol 'buffer' only: the probability that a chain starts from the buffer (default
        0.95, the reference implementation's; 0 is Rdm-k).
    """
    data = as_data(data)
    if perturb.amplitude():                     # perturbed mode (core/perturb.py): a few ulps
        data = replace(data, p=perturb.law(data.p, "p_data"), _cache={})
    template = data.default_model() if model is None else model
    check_model(template, data.p.shape[0])
    protocol = check_choice(protocol, PROTOCOLS, "protocol")
    rule, scan = update_names(template, rule, scan)
    if protocol == "buffer":
        rho = _buffer.check_rho(rho)
    elif rho is not None:
        raise ValueError(f"rho={rho!r} is the reuse probability of protocol='buffer'; drop it for "
                         f"protocol={protocol!r}, or pass protocol='buffer'.")
    if protocol == "eq":
        k = None if k is None else check_steps(k, "k", integer=scan != "continuous")
    else:
        if k is None:
            raise ValueError(f"k is required for protocol={protocol!r}: the number of sweeps of "
                             "the negative chains.")
        k = check_steps(k, "k", integer=scan != "continuous")
        if k == 0:
            raise ValueError(f"k=0 with protocol={protocol!r}: the negative law p(0, p0) = p0 does "
                             "not depend on theta, so no parameters can move it to the data; "
                             "pass k >= 1 (or protocol='eq' for maximum likelihood).")
    n = template.n_states
    if protocol in ("cd", "eq"):
        if p0 is not None:
            raise ValueError(f"p0 must not be given for protocol={protocol!r} "
                             "(cd starts from the data, eq uses p_theta); use protocol='rdm' "
                             "for a chain from a fixed p0.")
        start = np.array(data.p) if protocol == "cd" else None
    else:
        start = perturb.law(check_distribution("uniform" if p0 is None else p0, n, "p0"), "p0")
    if start is not None:
        start.setflags(write=False)
    mask = parameter_mask(template, mask)
    if scan == "parallel" and rule == "heatbath" and mask[template.n_units:].any():
        warnings.warn("parallel heat-bath: the chains' stationary law is exp(h.s) prod_i "
                      "2cosh(H_i), not the Boltzmann law.", NotBoltzmannWarning, stacklevel=3)
    return Problem(data, template, k, protocol, rule, scan, start, mask, rho)
