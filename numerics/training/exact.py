r"""Exact short-run training by gradient ascent on the biased gradient (G4).

.. math:: \tilde\nabla L(\theta) = \langle\phi_\theta\rangle_{\rm data}
          - \langle\phi_\theta\rangle_{p_{\rm neg}},\qquad
          v \leftarrow \mu v + \eta\,\tilde\nabla L,\quad \theta \leftarrow \theta + v,

with the negative law computed exactly on all states for the protocol of the
:class:`~shortrun.numerics.training.problem.Problem` (rdm, cd, pcd, eq).  If training converges,
θ* is a fixed point (G5).  A fixed point need not exist ((S2): independent spins, random-scan
heat-bath, uniform p0: the fields diverge when :math:`|m_D| \ge 1 - q`); the trainer detects a
diverging run (:class:`~shortrun.numerics.training.divergence.DivergenceMonitor`) and raises a
``RuntimeError`` naming the cause; it never returns NaN.  The Monte Carlo twin with the same
conventions is :mod:`shortrun.numerics.training.monte_carlo`.
"""
from __future__ import annotations

import numpy as np

from shortrun.conventions import check_count
from shortrun.numerics.core.checkpoint import expect_array
from shortrun.numerics.core.progress import Progress
from shortrun.numerics.kernels.spectral import decompose
from shortrun.numerics.training import core
from shortrun.numerics.training.core import check_rates  # noqa: F401  (its historical home)
from shortrun.numerics.training.divergence import DivergenceMonitor
from shortrun.numerics.training.problem import problem
from shortrun.numerics.training.result import History, TrainingResult


def stats(model, p):
    r""":math:`\langle\phi_\theta\rangle_p` (one call per update and one per recorded row)."""
    return model.stats(p)


def _check_state(state, step, prob, record_every, n_trainable):
    """Refuse a checkpoint whose content this run cannot have saved (for
    :meth:`~shortrun.numerics.core.checkpoint.Checkpointer.resume`): θ and the velocity of
    length P and finite, the persistent law (pcd), the monitor, and history rows at the steps
    ``0, record_every, ...`` below ``step`` (a snapshot precedes the update it is taken at).
    The persistent vector is stored whenever p0 is (rdm, pcd) but read back for pcd only."""
    P = prob.P
    expect_array(state, "theta", (P,))
    expect_array(state, "velocity", (P,))
    expect_array(state, "persistent", (0,) if prob.p0 is None else (prob.template.n_states,))
    rows, want = state["rows"], np.arange(0, step, record_every)
    for f in History.FIELDS:
        shape = (len(want),) + ((P,) if f in ("theta", "grad") and len(want) else ())
        expect_array(rows, f, shape, finite=f not in ("mismatch_eq", "mixing_time"),
                     where="rows.")
    if not np.array_equal(rows["step"], want):
        raise ValueError(f"history rows at steps {rows['step'].tolist()} where the steps "
                         f"0, {record_every}, ... below step={step} are expected")
    DivergenceMonitor().restore(state["monitor"], n_trainable)


def train(data, k, protocol="rdm", rule=None, scan=None, p0=None, *, model=None,
          lr=0.1, momentum=0.0, n_steps=1000, tol=1e-10, theta0=None, mask=None, record_every=1,
          mixing_every=None, theta_max=50.0, window=200, progress=None, checkpoint=None,
          checkpoint_seconds=60.0):
    r"""Exact short-run training by gradient ascent on the biased gradient (G4).

    .. math::
        v \leftarrow \mu v + \eta\,\tilde\nabla L(\theta),\quad \theta \leftarrow \theta + v,
        \qquad \tilde\nabla L = \langle\phi\rangle_{\rm data} - \langle\phi\rangle_{p_{\rm neg}},

    on the trainable entries (``mask``); the rest of θ stays at ``theta0``.

    Parameters
    ----------
    data, k, protocol, rule, scan, p0, mask, model
        See :func:`~shortrun.numerics.training.problem.problem` (``model``: the model family,
        a Boltzmann machine by default; ``rule``/``scan``: the model's own by default).
    lr : float > 0
        Learning rate η.
    momentum : float in [0, 1)
        Heavy-ball momentum μ.
    n_steps : int
        Maximum number of updates.
    tol : float
        Stop (``converged=True``) when ‖∇̃L‖∞ ≤ tol.
    theta0 : array (P,) or a model, optional
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
        See :mod:`shortrun.numerics.core.checkpoint`.
    checkpoint_seconds : float
        Wall time between periodic saves (0: after every update).

    Returns
    -------
    TrainingResult

    Raises
    ------
    RuntimeError
        When the parameters diverge (no finite fixed point, e.g. (S2)), with the cause; or when
        the updates are unstable (lr or momentum too large: θ oscillates past ``theta_max``).
    """
    prob = problem(data, k, protocol, rule, scan, p0, mask, model=model)
    lr, momentum, n_steps, tol = check_rates(lr, momentum, n_steps, tol)
    record_every = check_count(record_every, "record_every")
    if mixing_every is not None:
        mixing_every = check_count(mixing_every, "mixing_every")
    report = Progress("train", progress, n_steps, report_first=True)
    m = prob.mask
    theta, monitor = core.start(prob.template, m, theta0, theta_max, window)
    trainable = np.flatnonzero(m)
    target = prob.data_stats(prob.template)
    moving = prob.template.STATS_DEPEND_ON_THETA
    ckpt = core.checkpointer(
        checkpoint, checkpoint_seconds, "training.train", prob.template, p_data=prob.data.p,
        stats=target, k=prob.k, protocol=prob.protocol, rule=prob.rule, scan=prob.scan,
        p0=prob.p0, mask=m, lr=lr, momentum=momentum, tol=tol, theta0=theta,
        record_every=record_every, mixing_every=mixing_every, theta_max=theta_max,
        window=window)
    rows = {f: [] for f in History.FIELDS}
    state, step = ckpt.resume(n_steps, lambda state, step: _check_state(
        state, step, prob, record_every, len(trainable)))
    if state is None:
        velocity = np.zeros(prob.P)
        persistent = None if prob.p0 is None else np.array(prob.p0)
    else:
        theta, velocity = state["theta"], state["velocity"]
        persistent = state["persistent"] if prob.protocol == "pcd" else None
        monitor.restore(state["monitor"], len(trainable))
        for f in History.FIELDS:
            rows[f] = list(state["rows"][f])
    converged, gmax = False, np.inf
    top = None

    def snapshot(step):  # the state before update ``step``: what a resumed run starts from
        return dict(step=step, theta=theta, velocity=velocity,
                    persistent=np.empty(0) if persistent is None else persistent,
                    monitor=monitor.state(), n_rows=len(rows["step"]))

    def save(top):  # rows only grow: a snapshot keeps their count, not a copy
        if top is not None:
            n = top.pop("n_rows")
            ckpt.save(dict(top, rows={f: np.array(rows[f][:n]) for f in History.FIELDS}))

    first = step
    try:
        for step in range(first, n_steps + 1):
            if ckpt.active:
                top = snapshot(step)
                if ckpt.due():
                    save(dict(top))
            model = prob.model(theta)
            neg = prob.negative_law(model, persistent)
            if prob.protocol == "pcd":
                persistent = neg
            if moving:  # statistics with θ-dependent features (RBM hidden means): re-evaluate
                target = prob.data_stats(model)
            grad = np.where(m, target - stats(model, neg), 0.0)
            gmax = float(np.max(np.abs(grad)))
            converged = gmax <= tol
            last = converged or step == n_steps
            if step % record_every == 0 or last:
                eq = np.max(np.abs(stats(model, model.boltzmann()) - target)[m])
                tau = (decompose(prob.kernel(model)).mixing_time
                       if mixing_every and step % mixing_every == 0 else np.nan)
                for f, v in zip(History.FIELDS, (step, theta.copy(), grad,
                                                 float(np.linalg.norm(grad)), gmax, eq, tau)):
                    rows[f].append(v)
            if last:
                break
            stop = monitor(step, theta[m], grad[m])
            if stop:
                raise core.divergence_error(stop, prob, theta, lr, momentum)
            theta, velocity = core.heavy_ball(theta, velocity, grad, lr, momentum)
            report(step, "|grad|_inf {:.3e}  max|theta| {:.3g}", gmax, np.max(np.abs(theta)))
    except KeyboardInterrupt:
        save(top)
        raise
    save(top)
    message = core.result_message(converged, gmax, tol, step)
    if not converged:
        if step and gmax >= rows["mismatch_k"][0]:
            message += ("; the gradient did not decrease from its initial value "
                        f"{rows['mismatch_k'][0]:.3g}: the learning rate (lr={lr:g}) may be too "
                        "large")
    hist = History.from_columns({f: np.array(v, dtype=None if f == "step" else float)
                                 for f, v in rows.items()})
    return TrainingResult(theta, prob, hist, converged, step, message,
                          settings=dict(lr=lr, momentum=momentum, n_steps=n_steps, tol=tol))
