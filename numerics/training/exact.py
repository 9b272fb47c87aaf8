r"""Exact (state-space) training of a Boltzmann machine with short-run chains.

The trainer ascends the biased gradient (G4)

.. math:: \tilde\nabla L(\theta) = \langle\phi\rangle_{\rm data} - \langle\phi\rangle_{p_{\rm neg}},
          \qquad \phi = -\partial_\theta E = (s_i, s_is_j)_{i<j},

with the negative phase computed exactly on all 2^N states (kernels are column-stochastic,
:math:`p(k,p_0) = U_\theta^k p_0`, G2).  Protocols (SPEC §1):

* ``'rdm'`` — :math:`p_{\rm neg} = U_\theta^k p_0` from a fixed p0 (uniform by default; Rdm-k);
* ``'cd'``  — :math:`p_{\rm neg} = U_\theta^k p_{\rm data}` (CD-k);
* ``'pcd'`` — a persistent distribution vector, :math:`p \leftarrow U_\theta^k p` at every update,
  started at p0 (PCD-k, exact);
* ``'eq'``  — :math:`p_{\rm neg} = p_\theta` (exact maximum likelihood).

If training converges, θ* is a fixed point (G5): :math:`\langle\phi\rangle_{\rm data} =
\langle\phi\rangle_{p_{\rm fix}}`, with :math:`p_{\rm fix} = p(k,p_0;\theta^*)` for rdm/cd,
:math:`p_{\theta^*}` for eq, and the kernel's stationary law for pcd (a persistent chain at
fixed θ relaxes to it: PCD's fixed points are those of equilibrium training, the Boltzmann law
for random, sequential and continuous scans).  :class:`Problem` holds this setting once for the
trainer and for the Newton solver (:mod:`shortrun.numerics.fixed_point`).

A fixed point need not exist (SPEC §4.1: independent spins, random-scan heat-bath, uniform p0:
the fields diverge when :math:`|m_D| \ge 1 - q`, :math:`q = (1-1/N)^{kN}`).  The trainer detects
a diverging run and raises a ``RuntimeError`` naming the cause; it never returns NaN.
"""
from __future__ import annotations

import copy
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from shortrun.numerics.core.checkpoint import Checkpointer, fingerprint
from shortrun.numerics.kernels.spectral import decompose
from shortrun.numerics.kernels.tangent import equilibrium_jacobian, n_params, stationary_jacobian, stats_jacobian
from shortrun.numerics.kernels.boltzmann import BMKernel, NotBoltzmannWarning
from shortrun.numerics.models.boltzmann import BoltzmannMachine
from shortrun.numerics.core.moments import stats
from shortrun.numerics.core.progress import Progress
from shortrun.numerics.data.teachers import as_data
from shortrun.conventions import (RULES, SCANS, check_choice, check_count, check_distribution, check_finite,
                       check_positive, check_steps)

PROTOCOLS = ("rdm", "cd", "pcd", "eq")


# ---------------------------------------------------------------------------------------------
# the training problem (shared with the Newton solver)
# ---------------------------------------------------------------------------------------------
def parameter_mask(N, mask=None):
    """Boolean mask of the trainable entries of ``theta`` (length P = N + N(N−1)/2).

    ``None`` or ``'all'``: every parameter; ``'fields'``: only h (couplings stay at their value in
    ``theta0``, e.g. J = 0 for independent spins); ``'couplings'``: only J; or a boolean array
    of length P in ``theta`` order.
    """
    P = n_params(N)
    if mask is None or (isinstance(mask, str) and mask == "all"):
        return np.ones(P, bool)
    if isinstance(mask, str):
        if mask == "fields":
            return np.arange(P) < N
        if mask == "couplings":
            return np.arange(P) >= N
        raise ValueError(f"mask={mask!r} is not known; use None/'all', 'fields', 'couplings' or a "
                         f"boolean array of length P = {P}.")
    m = np.asarray(mask)
    if m.dtype != bool or m.shape != (P,):
        raise ValueError(f"mask must be a boolean array of length P = N + N(N-1)/2 = {P} in theta "
                         f"order; got dtype {m.dtype}, shape {m.shape}.")
    if not m.any():
        raise ValueError("mask selects no parameter; set at least one entry to True.")
    return m.copy()


@dataclass(frozen=True, eq=False)
class Problem:
    r"""One exact short-run training problem: data, k, protocol, rule, scan, p0 and the
    trainable mask.  Build it with :func:`problem`.

    ``p0`` is the resolved start of the negative chains: the given/uniform vector for rdm and
    pcd, :math:`p_{\rm data}` for cd, ``None`` for eq.  For pcd the fixed-point law is the
    kernel's stationary law; parallel Metropolis chains are often periodic or reducible (2-cycles
    of complementary states where every spin flips surely), where that law is not unique.
    """

    data: object
    k: float
    protocol: str
    rule: str
    scan: str
    p0: np.ndarray | None
    mask: np.ndarray

    @property
    def N(self):
        return self.data.N

    @property
    def P(self):
        return n_params(self.N)

    def model(self, theta):
        return BoltzmannMachine.from_theta(theta, self.N)

    def kernel(self, model):
        return BMKernel(model, self.rule, self.scan, warn=False)

    def fixed_point_law(self, model):
        r"""The law whose statistics match the data at a fixed point (G5): :math:`p(k,p_0)` (rdm,
        cd), :math:`p_\theta` (eq), the kernel's stationary law (pcd)."""
        if self.protocol == "eq":
            return np.asarray(model.boltzmann())
        kern = self.kernel(model)
        if self.protocol == "pcd":
            return kern.stationary()
        return kern.propagate(self.p0, self.k)

    def residual(self, theta):
        r""":math:`F(\theta) = \langle\phi\rangle_{p_{\rm fix}} - \langle\phi\rangle_{\rm data}`
        on the trainable entries (the negative of the biased gradient (G4))."""
        law = self.fixed_point_law(self.model(theta))
        return (stats(law) - self.data.stats)[self.mask]

    def residual_and_jacobian(self, theta):
        """``(F, dF/dtheta)`` restricted to the trainable entries, the Jacobian exact
        (:mod:`shortrun.numerics.jacobian`)."""
        model = self.model(theta)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotBoltzmannWarning)
            if self.protocol == "eq":
                F, jac = equilibrium_jacobian(model)
            elif self.protocol == "pcd":
                F, jac = stationary_jacobian(model, self.rule, self.scan)
            else:
                F, jac = stats_jacobian(model, self.p0, self.k, self.rule, self.scan)
        m = self.mask
        return (F - self.data.stats)[m], jac[np.ix_(m, m)]

    def default_start(self):
        r"""Newton's default start: :math:`h_i = \operatorname{atanh} m_{D,i}` (clipped to
        :math:`|m| \le 0.9`) on the trainable fields, every other entry 0.  It avoids θ = 0,
        where some kernels are degenerate (parallel heat-bath creates correlations only at
        O(J²); Metropolis at H = 0 flips deterministically)."""
        theta = np.zeros(self.P)
        fields = self.mask[: self.N]
        theta[: self.N][fields] = np.arctanh(np.clip(self.data.magnetisation, -0.9, 0.9))[fields]
        return theta

    def check_theta(self, theta0=None):
        """Validated float copy of a start ``theta0`` (zeros by default)."""
        if theta0 is None:
            return np.zeros(self.P)
        if isinstance(theta0, BoltzmannMachine):
            theta0 = theta0.theta
        t = np.array(theta0, dtype=float)
        if t.shape != (self.P,):
            raise ValueError(f"theta0 must have P = N + N(N-1)/2 = {self.P} entries "
                             f"(concat(h, J[triu_indices(N, 1)])); got shape {t.shape}.")
        return check_finite(t, "theta0")


def problem(data, k, protocol="rdm", rule="heatbath", scan="random", p0=None, mask=None):
    """Validate the arguments of a training / fixed-point problem and return a :class:`Problem`.

    Parameters
    ----------
    data : teachers.Data or probability vector (2^N,)
    k : int (real time in sweeps for ``scan='continuous'``); ignored (may be None) for 'eq'
    protocol : {'rdm', 'cd', 'pcd', 'eq'}
    rule : {'heatbath', 'metropolis'}
    scan : {'random', 'sequential', 'parallel', 'continuous'}
    p0 : probability vector or 'uniform', optional
        Start of the chains for rdm (fixed) and pcd (initial persistent vector); uniform by
        default.  Must be left unset for cd (p0 is the data) and eq.
    mask : see :func:`parameter_mask`
    """
    data = as_data(data)
    protocol = check_choice(protocol, PROTOCOLS, "protocol")
    rule = check_choice(rule, RULES, "rule")
    scan = check_choice(scan, SCANS, "scan")
    if protocol == "eq":
        k = None if k is None else check_steps(k, "k", integer=scan != "continuous")
    else:
        if k is None:
            raise ValueError(f"k is required for protocol={protocol!r}: the number of sweeps of "
                             "the negative chains.")
        k = check_steps(k, "k", integer=scan != "continuous")
    n = 1 << data.N
    if protocol in ("cd", "eq"):
        if p0 is not None:
            raise ValueError(f"p0 must not be given for protocol={protocol!r} "
                             "(cd starts from the data, eq uses p_theta); use protocol='rdm' "
                             "for a chain from a fixed p0.")
        start = np.array(data.p) if protocol == "cd" else None
    else:
        start = check_distribution("uniform" if p0 is None else p0, n, "p0")
    if start is not None:
        start.setflags(write=False)
    mask = parameter_mask(data.N, mask)
    if scan == "parallel" and rule == "heatbath" and mask[data.N:].any():
        warnings.warn("parallel heat-bath: the chains' stationary law is exp(h.s) prod_i "
                      "2cosh(H_i), not the Boltzmann law (SPEC §1).", NotBoltzmannWarning,
                      stacklevel=3)
    return Problem(data, k, protocol, rule, scan, start, mask)


# ---------------------------------------------------------------------------------------------
# non-existence of a fixed point
# ---------------------------------------------------------------------------------------------
def independent_spin_bound(prob, theta):
    r"""SPEC §4.1 existence test for independent spins under random-scan heat-bath.

    With J ≡ 0, :math:`m_i(k) = \tanh h_i\,(1-q) + q\,m_i(0)`, :math:`q = (1-1/N)^{kN}`
    (:math:`e^{-t}` in continuous time), so a finite root needs

    .. math:: |m_{D,i} - q\,m_i(0)| < 1 - q .

    Returns ``(q, bad)`` with ``bad`` the sites that violate it, or ``None`` if the problem is not
    of this kind (couplings trainable or not zero in ``theta``, other rule or scan, protocol
    eq/pcd).
    """
    N = prob.N
    if (prob.protocol not in ("rdm", "cd") or prob.rule != "heatbath"
            or prob.scan not in ("random", "continuous") or prob.mask[N:].any()
            or np.any(np.asarray(theta)[N:] != 0)):
        return None
    q = np.exp(-prob.k) if prob.scan == "continuous" else (1.0 - 1.0 / N) ** (prob.k * N)
    mD = prob.data.magnetisation
    m0 = stats(prob.p0)[:N]
    bad = np.flatnonzero((np.abs(mD - q * m0) >= 1.0 - q) & prob.mask[:N])
    return q, bad


def divergence_message(prob, theta, how):
    """The RuntimeError text for a run whose parameters diverge: the cause and SPEC's condition."""
    big = int(np.argmax(np.abs(theta)))
    msg = (f"{how}: no finite fixed point theta* of (G5) seems to exist for protocol="
           f"{prob.protocol!r}, k={prob.k}, rule={prob.rule!r}, scan={prob.scan!r} "
           f"(max |theta| = {abs(theta[big]):.3g} at theta[{big}]).  The biased gradient (G4) is "
           "not the gradient of any objective, so its zero may not exist (SPEC §2, §4.1).")
    spec = independent_spin_bound(prob, theta)
    if spec is not None and len(spec[1]):
        q, bad = spec
        qdef = "e^(-t)" if prob.scan == "continuous" else "(1-1/N)^(kN)"
        msg += (f"  Here J = 0 and SPEC §4.1 applies: a finite field needs |m_D - q m(0)| < 1 - q "
                f"with q = {qdef} = {q:.6g}; it fails for sites {bad.tolist()} (m_D = "
                f"{np.round(prob.data.magnetisation[bad], 6).tolist()}, 1 - q = {1 - q:.6g}): "
                "the fields diverge.")
    else:
        msg += ("  Compare SPEC §4.1 (independent spins, random-scan heat-bath: the fields "
                "diverge when |m_D| >= 1 - q, q = (1-1/N)^(kN)): a k-step chain cannot reach "
                "statistics this strong; raise k, change p0, or check for data statistics at the "
                "boundary (|<s_i>| or |<s_i s_j>| equal to 1).")
    if prob.scan == "parallel":
        msg += ("  Caution, parallel (synchronous) updates: finite roots often exist although "
                "gradient ascent runs away from them (they are unstable for it) and Newton "
                "reaches them from only a few per cent of random starts; try "
                "fixed_point.solve(..., restarts=..., scale=1-3) or fixed_point.distinct_roots "
                "before concluding that none exists.")
    return msg


class DivergenceMonitor:
    r"""Flags a run whose parameters run away, and tells divergence from an unstable step size.

    Every ``window`` updates it compares the current parameters and gradient with those one
    window earlier: Δ = ‖θ_t − θ_{t−W}‖∞, r = ‖g_t‖₂/‖g_{t−W}‖₂.  A geometric continuation
    would move the parameters a further Δ·r/(1−r) (∞ for r ≥ 1); a window is *suspect* when this
    extrapolated ‖θ‖∞ exceeds ``theta_max`` while the largest parameter keeps growing along its
    gradient (same sign at both ends of the window).  ``patience`` suspect windows in a row, or
    ‖θ‖∞ > ``theta_max`` outright, stop the run.  Calls return ``None`` or ``(kind, reason)``
    with kind ``'diverge'`` (no finite fixed point) or ``'unstable'`` (‖θ‖∞ passed
    ``theta_max`` while the gradient of the largest parameter kept changing sign: the
    learning rate or momentum is too large).
    """

    def __init__(self, theta_max=50.0, window=200, patience=3):
        if not (np.isfinite(theta_max) and theta_max > 0):
            raise ValueError(f"theta_max={theta_max!r} must be a positive number.")
        if not isinstance(window, numbers.Integral) or window < 1:
            raise ValueError(f"window={window!r} must be a positive integer number of updates.")
        self.theta_max, self.window, self.patience = float(theta_max), int(window), int(patience)
        self._last = None
        self._suspect = 0
        self._sign = None
        self._flips = None
        self._prev = None

    def _count_flips(self, grad):
        sign = np.sign(grad)
        if self._sign is None:
            self._flips = np.zeros(len(grad), int)
        else:
            self._flips += (sign * self._sign) < 0
        self._sign = sign

    def __call__(self, step, theta, grad):
        self._count_flips(grad)
        jump = 0.0 if self._prev is None else float(np.max(np.abs(theta - self._prev)))
        self._prev = theta.copy()
        top = float(np.max(np.abs(theta)))
        if not np.all(np.isfinite(theta)) or top > self.theta_max:
            a = int(np.argmax(np.abs(theta)))
            if jump > 0.1 * self.theta_max:
                return "unstable", (f"a single update moved theta by {jump:.3g} and max |theta| "
                                    f"exceeded theta_max = {self.theta_max:g} after {step} "
                                    "updates")
            if self._flips[a] > 1:
                return "unstable", (f"max |theta| exceeded theta_max = {self.theta_max:g} after "
                                    f"{step} updates while the gradient of theta[{a}] changed "
                                    f"sign {self._flips[a]} times (growing oscillation)")
            return "diverge", (f"max |theta| exceeded theta_max = {self.theta_max:g} after {step} "
                               "updates")
        if step % self.window:
            return None
        gnorm = float(np.linalg.norm(grad))
        if self._last is not None:
            theta_w, g_w, gnorm_w = self._last
            a = int(np.argmax(np.abs(theta)))
            growing = (abs(theta[a]) > abs(theta_w[a]) and np.sign(grad[a]) == np.sign(theta[a])
                       == np.sign(g_w[a]) != 0)
            r = gnorm / gnorm_w if gnorm_w > 0 else 0.0
            delta = float(np.max(np.abs(theta - theta_w)))
            ahead = np.inf if r >= 1 else top + delta * r / (1.0 - r)
            self._suspect = self._suspect + 1 if (growing and ahead > self.theta_max) else 0
            if self._suspect >= self.patience:
                return "diverge", (
                    f"the parameters grow without the gradient decreasing (over the last "
                    f"{self.patience} windows of {self.window} updates the gradient norm ratio is "
                    f"{r:.4f} and the extrapolated max |theta| is {ahead:.3g} > theta_max = "
                    f"{self.theta_max:g}; gradient sign pattern fixed)")
        self._last = (theta.copy(), grad.copy(), gnorm)
        self._flips[:] = 0
        return None


# ---------------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class History:
    """Recorded training trajectory (one row per recorded update).

    ``grad_norm`` = ‖∇̃L‖₂ and ``mismatch_k`` = ‖∇̃L‖∞ on the trainable entries (the statistics
    the training matches, G4); ``mismatch_eq`` = ‖⟨φ⟩_{p_θ} − ⟨φ⟩_data‖∞ on the same entries;
    ``mixing_time`` = τ(θ) (NaN where not computed).
    """

    step: np.ndarray
    theta: np.ndarray
    grad_norm: np.ndarray
    mismatch_k: np.ndarray
    mismatch_eq: np.ndarray
    mixing_time: np.ndarray


@dataclass(frozen=True)
class TrainingResult:
    """Outcome of :func:`train`: final ``theta``, the :class:`Problem`, the :class:`History`,
    whether ‖∇̃L‖∞ reached ``tol`` (``converged``), the number of updates made and a message."""

    theta: np.ndarray
    problem: Problem
    history: History
    converged: bool
    steps: int
    message: str

    @property
    def model(self):
        return self.problem.model(self.theta)


def train(data, k, protocol="rdm", rule="heatbath", scan="random", p0=None, *, lr=0.1,
          momentum=0.0, n_steps=1000, tol=1e-10, theta0=None, mask=None, record_every=1,
          mixing_every=None, theta_max=50.0, window=200, progress=None, checkpoint=None,
          checkpoint_seconds=60.0):
    r"""Exact short-run training by gradient ascent on the biased gradient (G4).

    .. math::
        v \leftarrow \mu v + \eta\,\tilde\nabla L(\theta),\quad \theta \leftarrow \theta + v,
        \qquad \tilde\nabla L = \langle\phi\rangle_{\rm data} - \langle\phi\rangle_{p_{\rm neg}},

    on the trainable entries (``mask``); the rest of θ stays at ``theta0``.

    Parameters
    ----------
    data, k, protocol, rule, scan, p0, mask
        See :func:`problem`.
    lr : float > 0
        Learning rate η.
    momentum : float in [0, 1)
        Heavy-ball momentum μ.
    n_steps : int
        Maximum number of updates.
    tol : float
        Stop (``converged=True``) when ‖∇̃L‖∞ ≤ tol.
    theta0 : array (P,) or BoltzmannMachine, optional
        Start (zeros by default).
    record_every : int
        Record the history every that many updates (the last update is always recorded).
    mixing_every : int, optional
        Also record the mixing time τ(θ) every that many updates (dense spectrum: N ≤ 13).
    theta_max, window
        Divergence detection (:class:`DivergenceMonitor`).
    progress : bool or None
        Progress line on stderr: None = only for runs longer than 5 s, True = every second.
    checkpoint : str or Path, optional
        Save the run's state there (atomically) every ``checkpoint_seconds``, at the end and on
        interruption; a call with the same arguments resumes from it and returns bit for bit
        what an uninterrupted run returns (``n_steps`` may grow: a finished run is extended).
        See :mod:`shortrun.numerics.checkpoint`.
    checkpoint_seconds : float
        Wall time between periodic saves (0: after every update).

    Returns
    -------
    TrainingResult

    Raises
    ------
    RuntimeError
        When the parameters diverge (no finite fixed point, SPEC §4.1), with the cause; or when
        the updates are unstable (lr or momentum too large: θ oscillates past ``theta_max``).
    """
    prob = problem(data, k, protocol, rule, scan, p0, mask)
    lr = check_positive(lr, "lr", "pass a learning rate such as 0.1.")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) \
            or not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum={momentum!r} must be a number in [0, 1) (0: plain gradient "
                         "ascent).")
    n_steps = check_count(n_steps, "n_steps", 0)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or np.isnan(tol) or tol < 0:
        raise ValueError(f"tol={tol!r} must be a number >= 0 (0: run all n_steps).")
    record_every = check_count(record_every, "record_every")
    if mixing_every is not None:
        mixing_every = check_count(mixing_every, "mixing_every")
    report = Progress("train", progress, n_steps, report_first=True)
    theta = prob.check_theta(theta0)
    m = prob.mask
    target = prob.data.stats
    ckpt = Checkpointer(checkpoint, fingerprint(
        trainer="training.train", p_data=prob.data.p, stats=target, k=prob.k,
        protocol=prob.protocol, rule=prob.rule, scan=prob.scan, p0=prob.p0, mask=m, lr=lr,
        momentum=momentum, tol=tol, theta0=theta, record_every=record_every,
        mixing_every=mixing_every, theta_max=theta_max, window=window), checkpoint_seconds)
    state = ckpt.load() or dict(step=0, theta=theta, velocity=np.zeros(prob.P), rows=[],
                                persistent=None if prob.p0 is None else np.array(prob.p0),
                                monitor=DivergenceMonitor(theta_max, window))
    theta, velocity, persistent = state["theta"], state["velocity"], state["persistent"]
    rows, monitor = state["rows"], state["monitor"]
    converged, step = False, state["step"]
    top = dict(state, rows=len(rows))

    def save(top):  # rows only grow: the state before an update keeps the count, not a copy
        ckpt.save(dict(top, rows=rows[:top["rows"]]))

    try:
        for step in range(state["step"], n_steps + 1):
            if ckpt.active:  # the state before this update: what a resumed run starts from
                top = dict(step=step, theta=theta, velocity=velocity, persistent=persistent,
                           rows=len(rows), monitor=copy.deepcopy(monitor))
                if ckpt.due():
                    save(top)
            model = prob.model(theta)
            if prob.protocol == "eq":
                neg = np.asarray(model.boltzmann())
            elif prob.protocol == "pcd":
                persistent = prob.kernel(model).propagate(persistent, prob.k)
                neg = persistent
            else:
                neg = prob.kernel(model).propagate(prob.p0, prob.k)
            grad = np.where(m, target - stats(neg), 0.0)
            gmax = float(np.max(np.abs(grad)))
            converged = gmax <= tol
            last = converged or step == n_steps
            if step % record_every == 0 or last:
                eq = np.max(np.abs(stats(model.boltzmann()) - target)[m])
                tau = (decompose(prob.kernel(model)).mixing_time
                       if mixing_every and step % mixing_every == 0 else np.nan)
                rows.append((step, theta.copy(), float(np.linalg.norm(grad)), gmax, eq, tau))
            if last:
                break
            stop = monitor(step, theta[m], grad[m])
            if stop and stop[0] == "unstable":
                raise RuntimeError(f"training is unstable ({stop[1]}): lower the learning rate "
                                   f"(lr={lr:g}) or the momentum ({momentum:g}).")
            if stop:
                raise RuntimeError(divergence_message(prob, theta,
                                                      f"training diverges ({stop[1]})"))
            velocity = momentum * velocity + lr * grad
            theta = theta + velocity
            report(step, "|grad|_inf {:.3e}  max|theta| {:.3g}", gmax, np.max(np.abs(theta)))
    except KeyboardInterrupt:
        save(top)
        raise
    save(top)
    if converged:
        message = f"converged: |grad|_inf = {gmax:.3g} <= tol = {tol:g} after {step} updates"
    else:
        message = f"not converged: |grad|_inf = {gmax:.3g} > tol = {tol:g} after {step} updates"
        if step and gmax >= rows[0][3]:
            message += ("; the gradient did not decrease from its initial value "
                        f"{rows[0][3]:.3g}: the learning rate (lr={lr:g}) may be too large")
    cols = list(zip(*rows))
    hist = History(np.array(cols[0]), np.array(cols[1]), *(np.array(c, float) for c in cols[2:]))
    return TrainingResult(theta, prob, hist, converged, step, message)
