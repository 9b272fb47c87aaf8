r"""The core shared by the exact and the Monte Carlo trainers: one validation of the run's
arguments and start, one update, one divergence diagnosis, one checkpoint fingerprint, one
result message.

Both trainers ascend the biased gradient (G4) with heavy-ball momentum,

.. math:: v \leftarrow \mu v + \eta\,\tilde\nabla L(\theta),\qquad \theta \leftarrow \theta + v,

on the trainable entries (the gradient is zero on the others), watched by one
:class:`~shortrun.numerics.training.divergence.DivergenceMonitor`; they differ only in how
:math:`\tilde\nabla L` is measured (the exact negative law, or chains) and in what they record.
"""
from __future__ import annotations

import numbers

import numpy as np

from shortrun.conventions import check_count, check_finite, check_real
from shortrun.numerics.core.checkpoint import Checkpointer, fingerprint
from shortrun.numerics.models.base import Model
from shortrun.numerics.training.divergence import DivergenceMonitor, divergence_message


def _number(x, name, ok, what):
    """A real number (not a bool, not complex, not text) as a float that satisfies ``ok``."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise ValueError(f"{name}={x!r} must be {what}.")
    v = float(x)
    if np.isnan(v) or not ok(v):
        raise ValueError(f"{name}={x!r} must be {what}.")
    return v


def check_rates(lr, momentum, n_steps, tol):
    """Validated ``(lr, momentum, n_steps, tol)`` shared by both trainers: lr > 0 (a run with
    lr = 0 cannot move from theta0), momentum in [0, 1), n_steps >= 0 an integer, tol >= 0."""
    lr = _number(lr, "lr", lambda v: 0 < v < np.inf,
                 "a finite learning rate > 0, such as 0.1 (lr=0 would return theta0 unchanged)")
    momentum = _number(momentum, "momentum", lambda v: 0 <= v < 1,
                       "a number in [0, 1) (0: plain gradient ascent)")
    n_steps = check_count(n_steps, "n_steps", 0)
    tol = _number(tol, "tol", lambda v: v >= 0, "a number >= 0 (0: run all n_steps)")
    return lr, momentum, n_steps, tol


def check_theta0(theta0, template):
    """Validated float copy of a start ``theta0`` of ``template``'s family: zeros when None, a
    model's θ, or a finite vector of P entries in θ order."""
    P = template.n_params
    if theta0 is None:
        return np.zeros(P)
    if isinstance(theta0, Model):
        theta0 = theta0.theta
    t = np.array(check_real(theta0, "theta0"))
    if t.shape != (P,):
        raise ValueError(f"theta0 must have P = {P} entries (theta order of "
                         f"{type(template).__name__}); got shape {t.shape}.")
    return check_finite(t, "theta0")


def start(template, mask, theta0, theta_max, window):
    """``(theta, monitor)``: the validated start and the divergence monitor of the trainable
    entries (named by the model's parameters).  A start beyond ``theta_max`` and one the model
    refuses (:meth:`~shortrun.numerics.models.base.Model.check_start`) raise ValueError."""
    theta = check_theta0(theta0, template)
    trainable = np.flatnonzero(mask)
    monitor = DivergenceMonitor(theta_max, window,
                                describe=lambda a: template.describe_param(trainable[a]))
    monitor.check_start(theta[mask])
    template.check_start(theta, mask)
    return theta, monitor


def checkpointer(path, seconds, trainer, template, **settings):
    """The run's :class:`~shortrun.numerics.core.checkpoint.Checkpointer`, fingerprinted by the
    trainer, the model type and the run's ``settings``."""
    return Checkpointer(path, fingerprint(trainer=trainer, model=type(template).__name__,
                                          **settings), seconds)


def heavy_ball(theta, velocity, grad, lr, momentum):
    r"""One update :math:`v \leftarrow \mu v + \eta g`, :math:`\theta \leftarrow \theta + v`;
    returns ``(theta, velocity)`` (new arrays)."""
    velocity = momentum * velocity + lr * grad
    return theta + velocity, velocity


def divergence_error(stop, prob, theta, lr, momentum):
    """The ``RuntimeError`` of a run the monitor stopped (``stop = (kind, reason)``): an unstable
    step (lower lr or momentum), or divergence diagnosed on the exact problem
    (:func:`~shortrun.numerics.training.divergence.divergence_message`: the closed form (S2)
    where it applies) -- or, for a Monte Carlo run without an exact data law, in general terms."""
    kind, reason = stop
    if kind == "unstable":
        return RuntimeError(f"training is unstable ({reason}): lower the learning rate "
                            f"(lr={lr:g}) or the momentum ({momentum:g}).")
    how = f"training diverged: {reason}"
    if prob.data is not None:
        return RuntimeError(divergence_message(prob, theta, how))
    return RuntimeError(f"{how}.  Either no finite fixed point of (G5) exists ((S2): with "
                        "random-scan heat-bath from uniform p0 a field runs to infinity when "
                        "|m_D| >= 1 - q, q = (1-1/N)^(kN)) or lr is too large; raise theta_max if "
                        "large parameters are expected.")


def result_message(converged, gmax, tol, steps):
    """The one wording of a run's outcome (both trainers)."""
    if converged:
        return f"converged: |grad|_inf = {gmax:.3g} <= tol = {tol:g} after {steps} updates"
    return f"not converged: |grad|_inf = {gmax:.3g} > tol = {tol:g} after {steps} updates"
