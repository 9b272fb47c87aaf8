r"""Divergence of short-run training: detection and diagnosis, shared by both trainers.

The biased gradient (G4) is not the gradient of any objective, so a fixed point (G5) may not
exist: the parameters then run off to infinity (for independent spins under random-scan
heat-bath exactly when :math:`|m_D| \ge 1 - q`, (S2)).  :class:`DivergenceMonitor` tells this
from an unstable learning rate; :func:`divergence_message` words the ``RuntimeError``.
"""
from __future__ import annotations

import numbers

import numpy as np

from shortrun.numerics.core.checkpoint import expect_array


def independent_spin_bound(prob, theta):
    """The model's closed-form existence test (S2) for this problem, or None
    (:meth:`shortrun.numerics.models.base.Model.independent_spin_bound`)."""
    return prob.template.independent_spin_bound(
        theta, prob.data_stats(prob.template), prob.mask, prob.protocol, prob.rule, prob.scan,
        prob.k, prob.p0)


def divergence_message(prob, theta, how):
    """The RuntimeError text for a run whose parameters diverge: the cause and, where it applies,
    the independent-spin condition (S2)."""
    big = int(np.argmax(np.abs(theta)))
    msg = (f"{how}: no finite fixed point theta* of (G5) seems to exist for protocol="
           f"{prob.protocol!r}, k={prob.k}, rule={prob.rule!r}, scan={prob.scan!r} "
           f"(max |theta| = {abs(theta[big]):.3g} at {prob.template.describe_param(big)}).  The biased gradient (G4) is "
           "not the gradient of any objective, so its zero may not exist (docs/theory.md, S2).")
    spec = independent_spin_bound(prob, theta)
    if spec is not None and len(spec[1]):
        q, bad = spec
        qdef = "e^(-t)" if prob.scan == "continuous" else "(1-1/N)^(kN)"
        msg += (f"  Here J = 0 and the independent-spin condition (S2) applies: a finite field needs |m_D - q m(0)| < 1 - q "
                f"with q = {qdef} = {q:.6g}; it fails for sites {bad.tolist()} (m_D = "
                f"{np.round(prob.data_stats(prob.template)[bad], 6).tolist()}, 1 - q = {1 - q:.6g}): "
                "the fields diverge.")
    else:
        msg += ("  Compare the independent-spin case (S2): under random-scan heat-bath the "
                "fields diverge when |m_D| >= 1 - q, q = (1-1/N)^(kN); a k-step chain cannot "
                "reach statistics this strong; raise k, change p0, or check for data statistics "
                "at the boundary (|<s_i>| or |<s_i s_j>| equal to 1).  A learning rate too large "
                "for the run shows as an unstable run instead (lower lr or momentum).")
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

    def __init__(self, theta_max=50.0, window=200, patience=3, describe=None):
        if isinstance(theta_max, (bool, np.bool_)) or not isinstance(theta_max, numbers.Real) \
                or not (np.isfinite(float(theta_max)) and theta_max > 0):
            raise ValueError(f"theta_max={theta_max!r} must be a finite positive number (the bound "
                             "on |theta| beyond which a run counts as diverging).")
        if window is not None and (isinstance(window, (bool, np.bool_))
                                   or not isinstance(window, numbers.Integral) or window < 1):
            raise ValueError(f"window={window!r} must be a positive integer number of updates "
                             "(None: only the theta_max bound, for noisy Monte Carlo gradients).")
        self.theta_max, self.patience = float(theta_max), int(patience)
        self.window = None if window is None else int(window)
        self.describe = describe or (lambda a: f"theta[{a}]")
        self._last = None
        self._suspect = 0
        self._sign = None
        self._flips = None
        self._prev = None

    def check_start(self, theta, name="theta0"):
        """Refuse a start beyond the bound: ``ValueError`` naming the parameter when some
        trainable |theta_a| > ``theta_max`` or is not finite (the run would be stopped at update
        0 as a divergence, blaming the fixed point instead of the start)."""
        theta = np.asarray(theta, float)
        if theta.size == 0:
            return
        a = int(np.argmax(np.where(np.isfinite(theta), np.abs(theta), np.inf)))
        if not abs(theta[a]) <= self.theta_max:
            raise ValueError(f"{name} has {self.describe(a)} = {theta[a]:.4g}, beyond theta_max = "
                             f"{self.theta_max:g} (the bound beyond which a run counts as "
                             "diverging); pass a start with every trainable |theta| <= theta_max, "
                             f"or raise theta_max above {abs(theta[a]):.4g}.")

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
        bad = np.flatnonzero(~np.isfinite(theta))
        if bad.size:
            return "unstable", (f"{self.describe(int(bad[0]))} is {theta[bad[0]]} (not finite) "
                                f"after {step} updates")
        if top > self.theta_max:
            a = int(np.argmax(np.abs(theta)))
            name = self.describe(a)
            if jump > 0.1 * self.theta_max:
                return "unstable", (f"a single update moved theta by {jump:.3g} and |{name}| = "
                                    f"{top:.4g} exceeded theta_max = {self.theta_max:g} after "
                                    f"{step} updates")
            if self._flips[a] > 1:
                return "unstable", (f"|{name}| = {top:.4g} exceeded theta_max = "
                                    f"{self.theta_max:g} after {step} updates while its gradient "
                                    f"changed sign {self._flips[a]} times (growing oscillation)")
            return "diverge", (f"|{name}| = {top:.4g} exceeded theta_max = {self.theta_max:g} "
                               f"after {step} updates")
        if self.window is None or step % self.window:
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

    _FIELDS = ("_last", "_suspect", "_sign", "_flips", "_prev")

    def state(self):
        """The monitor's memory as plain arrays and numbers (for checkpoints)."""
        out = {"suspect": self._suspect}
        for name, value in (("sign", self._sign), ("flips", self._flips), ("prev", self._prev)):
            if value is not None:
                out[name] = np.array(value)
        if self._last is not None:
            out["last_theta"], out["last_grad"] = np.array(self._last[0]), np.array(self._last[1])
            out["last_gnorm"] = float(self._last[2])
        return out

    def restore(self, state, n=None):
        """Inverse of :meth:`state`.  With ``n`` (the number of monitored parameters) a state
        that :meth:`state` cannot have written is refused: ``KeyError`` or ``ValueError``
        saying what is wrong (a checkpoint edited by hand, see
        :meth:`shortrun.numerics.core.checkpoint.Checkpointer.resume`)."""
        if n is not None:
            suspect = state["suspect"]
            if isinstance(suspect, bool) or not isinstance(suspect, numbers.Integral) \
                    or suspect < 0:
                raise ValueError(f"a 'monitor.suspect' = {suspect!r} that is not a count >= 0")
            for key in ("sign", "flips", "prev", "last_theta", "last_grad"):
                if key in state:
                    expect_array(state, key, (n,), where="monitor.")
            if ("last_theta" in state) != ("last_gnorm" in state):
                raise ValueError("a 'monitor' with only part of its last window")
        self._suspect = int(state["suspect"])
        self._sign = state.get("sign")
        self._flips = None if state.get("flips") is None else np.array(state["flips"], int)
        self._prev = state.get("prev")
        self._last = ((state["last_theta"], state["last_grad"], float(state["last_gnorm"]))
                      if "last_theta" in state else None)
        return self
