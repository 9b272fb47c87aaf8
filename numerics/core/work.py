"""Cost guard: a route that runs its k sweeps one by one refuses up front a k that would take
hours, instead of running for hours or days with nothing to show.  Shared by the exact
Jacobian (:mod:`shortrun.numerics.training.fixed_point`), the Monte Carlo trainer and the Monte
Carlo samplers (:mod:`shortrun.numerics.sampling`)."""
from __future__ import annotations

#: Most elementary updates -- one unit of one state of a law vector (times the P tangent
#: columns for an exact Jacobian), or one unit of one Monte Carlo chain -- that a route running
#: its k sweeps one by one may plan (:func:`check_work`).  At 1e9 updates per second, well above
#: what the numba kernels reach, that is close to 3 hours.
MAX_WORK = 1e13
#: Least work counted for one sweep (one call into the compiled kernels per sweep, about 1 µs),
#: so that a tiny model with an astronomical k is refused too.
MIN_SWEEP_WORK = 1e3


def check_work(k, per_sweep, what, fewer=None, hint=None):
    r"""Refuse a k whose sweeps, run one by one, would take hours: ``ValueError`` naming k, the
    estimate and the largest k that fits when :math:`k \cdot` ``per_sweep`` exceeds
    :data:`MAX_WORK` elementary updates.

    ``per_sweep`` is a lower bound on the updates of one sweep (every unit updated at least once
    per sweep, on every state of the law and every tangent column, or in every chain; at least
    :data:`MIN_SWEEP_WORK`), so the refusal never fires for a run that would take less than
    :data:`MAX_WORK` updates; ``what`` names the route, ``fewer`` what else may be reduced,
    ``hint`` a sentence on the limit of large k.  Returns the estimate.  (``k`` is the real time
    in sweeps for the continuous scan, where a sweep is N uniformised updates on average.)
    """
    per_sweep = max(float(per_sweep), MIN_SWEEP_WORK)
    work = float(k) * per_sweep
    if work > MAX_WORK:
        fits = int(MAX_WORK // per_sweep)
        fix = (f"pass k <= {fits}" + (f" or fewer {fewer}" if fewer else "") if fits >= 1 else
               f"even k = 1 exceeds it: pass fewer {fewer}")
        raise ValueError(f"k={k:g}: {what} runs the k sweeps one by one, at least {work:.3g} "
                         f"elementary updates ({per_sweep:.3g} per sweep), beyond the limit "
                         f"{MAX_WORK:g} (hours even at 1e9 updates per second); {fix}."
                         + (f"  {hint}." if hint else ""))
    return work
