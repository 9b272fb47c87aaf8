r"""The kernel interface and the functions every model's chains share.

All kernels are **column-stochastic**: :math:`U[x', x] = P(x \to x')`,
:math:`\sum_{x'} U[x', x] = 1`, and the chain's law after k steps is (G2)

.. math:: p(k, p_0) = U_\theta^k\, p_0 .

A model type registers its kernel and its exact tangents once, with
:func:`shortrun.numerics.core.dispatch.register_model` (in ``numerics/registry.py``);
:func:`kernel`, :func:`law`, :func:`law_tangent`, :func:`stationary_tangent` and the trainers
then work for it unchanged.  ``rule=None`` / ``scan=None`` mean the model's own
(``DEFAULT_RULE`` / ``DEFAULT_SCAN``, :func:`shortrun.numerics.models.base.update_names`).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import poisson

from shortrun.conventions import (check_distribution, check_finite, check_nonnegative,
                                  check_positive, check_site, check_steps)
from shortrun.numerics.core.dispatch import capability
from shortrun.numerics.models.base import Model, update_names


class NotBoltzmannWarning(UserWarning):
    """The kernel's stationary law is not the Boltzmann law of the model."""


class Kernel:
    """Interface of a Markov chain on a finite state space (column-stochastic convention).

    Subclasses set ``n_states``, ``time`` (``'discrete'`` or ``'continuous'``) and
    ``reversible``, and implement :meth:`apply` (one step, or one application of the generator
    for continuous time), :meth:`dense` and :meth:`stationary`; :meth:`propagate` has a generic
    implementation for discrete time.
    """

    n_states: int
    time: str = "discrete"
    reversible: bool = False
    #: True when the stationary law is the model's p_θ (then pcd's fixed points are eq's).
    equilibrium_stationary: bool = True

    def apply(self, p):  # pragma: no cover - interface
        raise NotImplementedError

    def dense(self):  # pragma: no cover - interface
        raise NotImplementedError

    def stationary(self):  # pragma: no cover - interface
        raise NotImplementedError

    def check_p0(self, p0):
        return check_distribution(p0, self.n_states, "p0")

    def check_site(self, i):
        """``i`` as a site index 0..N−1 of the single-site operator :math:`T_i` (a bool, a
        float or an index outside the range is refused: the numba loops would update garbage)."""
        return check_site(i, self.N)

    def check_vector(self, p, n=None, name="p", rows=False, length=None):
        """``p`` as a finite real float64 array of length ``n`` (default ``n_states``), or with
        ``n`` rows when ``rows`` (a matrix of such vectors; ``length`` describes ``n`` in the
        message): the operators are linear and accept
        any finite vector, not only a law; NaN, inf, complex entries and wrong lengths are
        refused (they would come out as NaN or with the imaginary part dropped)."""
        n = self.n_states if n is None else n
        p = check_finite(p, name, "pass a finite vector over the states (e.g. a probability "
                                  "vector).")
        if (p.shape[:1] if rows else p.shape) != (n,):
            raise ValueError(f"{name} must have length {length or n} (one entry per state); got "
                             f"shape {p.shape}.")
        return np.ascontiguousarray(p)

    def _advance(self, p):
        """One step of :meth:`propagate` on a vector already checked (default :meth:`apply`)."""
        return self.apply(p)

    def propagate(self, p0, k):
        r""":math:`p(k, p_0) = U^k p_0` by k matrix-free applications.

        The loop stops early, with the same bits, once the iterates repeat exactly in floating
        point: a fixed vector (:math:`Up = p`, then :math:`U^n p = p`) or a 2-cycle
        (:math:`U^2 p = p`, e.g. parallel Metropolis flipping every spin), so a k far beyond the
        mixing time costs only the steps until then.  A run still going after 5 s reports its
        progress on stderr every 5 s (:class:`~shortrun.numerics.core.progress.Progress`); for
        such k, :func:`~shortrun.numerics.kernels.spectral.decompose` gives
        :math:`U^k p_0` at a cost independent of k (small N).
        """
        from shortrun.numerics.core.progress import Progress

        k = check_steps(k, "k")
        p = self.check_p0(p0)
        before = None
        report = Progress("kernels.law", None, k)
        for n in range(k):
            q = self._advance(p)
            if np.array_equal(q, p):  # a fixed vector of U in floating point: U^n p = p exactly
                return q
            if before is not None and np.array_equal(q, before):   # U^2 p = p exactly
                return q if (k - n) % 2 else p
            before, p = p, q
            report(n + 1, "steps of U (for k beyond the mixing time: kernel.stationary(), or "
                   "spectral.decompose(kernel).propagate(p0, k) at any k)")
        return p

    def trajectory(self, p0, times):
        """Laws p(t, p0) at the sorted ``times`` in one forward pass, shape (len(times), n_states)."""
        integer = self.time == "discrete"
        if isinstance(times, (str, bytes)) or np.ndim(times) != 1:
            raise ValueError(f"times={times!r} must be a list of sorted times (e.g. [0, 1, 5]); "
                             "for one time use propagate(p0, t).")
        times = [check_steps(t, "times", integer=integer) for t in times]
        if any(b < a for a, b in zip(times, times[1:])):
            raise ValueError("times must be sorted in increasing order.")
        out = np.empty((len(times), self.n_states))
        p, now = self.check_p0(p0), 0
        for row, t in enumerate(times):
            p = self.propagate(p, t - now)
            now = t
            out[row] = p
        return out



def kernel(model, rule=None, scan=None, *, warn=True):
    """The exact kernel of ``model`` for the update ``rule`` and ``scan`` (a :class:`Kernel`;
    ``None``: the model's own rule / scan)."""
    build = capability(model, "kernel", model_base=Model)
    rule, scan = update_names(model, rule, scan, validate=False)
    return build(model, rule, scan, warn=warn)


def law_tangent(model, p0, k, rule=None, scan=None):
    r"""``(p, D)``: :math:`p(k, p_0) = U_\theta^k p_0` (G2) and :math:`D = \partial p/\partial\theta`,
    exact (forward mode), shape (n_states, P)."""
    tangent = capability(model, "law_tangent", model_base=Model)
    rule, scan = update_names(model, rule, scan, validate=False)
    return tangent(model, p0, k, rule, scan)


def stationary_tangent(model, rule=None, scan=None):
    r"""``(π, ∂π/∂θ)`` of the stationary law of ``kernel(model, rule, scan)``."""
    tangent = capability(model, "stationary_tangent", model_base=Model)
    rule, scan = update_names(model, rule, scan, validate=False)
    return tangent(model, rule, scan)


def law(model, p0, k=None, rule=None, scan=None, *, t=None, warn=True):
    r"""The exact law of the chain after k steps from ``p0`` (G2): :math:`p(k, p_0) = U^k p_0`.

    ``p0`` is a probability vector over the states or ``'uniform'``; ``k`` is an integer number
    of steps (sweeps).  For ``scan='continuous'`` pass the time as ``t=`` (in sweeps), the law
    :math:`e^{tW}p_0`; ``k`` is accepted there as the same time for compatibility.  ``rule`` and
    ``scan`` default to the model's ``DEFAULT_RULE`` / ``DEFAULT_SCAN`` (a Boltzmann machine:
    random-scan heat-bath; an RBM: alternating Gibbs).  Same signature as
    :func:`shortrun.numerics.sampling.sample`.
    """
    capability(model, "kernel", model_base=Model)
    rule, scan = update_names(model, rule, scan, validate=False)
    if t is not None and k is not None:
        raise ValueError("pass either k (steps) or t (continuous time), not both.")
    if t is not None and scan != "continuous":
        raise ValueError(f"t={t!r} is a continuous time: use scan='continuous', or pass k= "
                         "(a number of steps) for a discrete-time chain.")
    steps = t if t is not None else k
    if steps is None:
        raise ValueError("k is required: the number of steps (or t= for scan='continuous').")
    kern = kernel(model, rule, scan, warn=warn)
    if scan == "continuous":
        time = check_steps(steps, "t", integer=False)
        check_uniformisation(getattr(kern, "N", 1) * time, "t", time)
    return kern.propagate(p0, steps)


#: Largest Poisson mean λ = N t of a uniformisation: it sums about λ + 8√λ terms, one
#: application of R = I + W/N each, with weight arrays of that length (80 MB at the limit).
MAX_UNIFORMISATION_LAMBDA = 1e7


def check_uniformisation(lam, name="lam", value=None):
    """ValueError naming the argument ``name`` (of ``value``, default ``lam``) when the
    uniformisation of Poisson mean ``lam`` would exceed :data:`MAX_UNIFORMISATION_LAMBDA`
    (instead of a MemoryError or an endless loop); a negative, NaN or non-numeric ``lam`` is
    refused too."""
    lam = check_nonnegative(lam, name if value is None else "lam",
                            "a Poisson mean N t is a finite number >= 0.")
    if lam > MAX_UNIFORMISATION_LAMBDA:
        shown = float(lam if value is None else value)
        raise ValueError(f"{name}={shown:g}: the continuous-time law by uniformisation sums "
                         f"about N t = {lam:.3g} Poisson terms, beyond the limit "
                         f"{MAX_UNIFORMISATION_LAMBDA:.0e}.  For a time far beyond the mixing "
                         "time the law is the stationary one (kernel(...).stationary()); "
                         "spectral.decompose(kernel(...)).propagate(p0, t) gives e^{tW} p0 at a "
                         "cost independent of t (small N); or pass a shorter time.")
    return lam


def check_tail(tail):
    """The tail mass of a truncated Poisson sum: a number in (0, 1)."""
    if check_positive(tail, "tail", "pass the largest Poisson tail mass left out, e.g. 1e-17.") >= 1:
        raise ValueError(f"tail={tail!r} must be below 1 (the largest Poisson tail mass left "
                         "out, e.g. 1e-17).")
    return tail


def poisson_weights(lam, tail=1e-17):
    r"""Truncated Poisson weights of uniformisation, renormalised to sum to 1.

    .. math:: w_n = \frac{e^{-\lambda}\lambda^n}{n!},\qquad n = 0, 1, \dots, n_{\max},

    where :math:`n_{\max}` is the first cut (searched upwards from
    :math:`\lambda + 8\sqrt\lambda + 30`) whose tail mass
    :math:`\varepsilon = \sum_{n > n_{\max}} e^{-\lambda}\lambda^n/n!` is ``<= tail``; the kept
    weights are divided by their sum :math:`1 - \varepsilon`.

    Parameters
    ----------
    lam : float
        Poisson mean :math:`\lambda \ge 0` (:math:`\lambda = Nt` for the continuous-time chain at
        time t in sweeps).
    tail : float, optional
        Largest tail mass left out.

    Returns
    -------
    numpy.ndarray
        The weights :math:`w_0, \dots, w_{n_{\max}}` (non-negative, sum 1 up to round-off).

    Notes
    -----
    Truncation error: for any probability vectors :math:`q_n` (here :math:`q_n = R^n p_0`),
    :math:`\bigl\|\sum_{n \le n_{\max}} w_n q_n - \sum_{n \ge 0}
    \frac{e^{-\lambda}\lambda^n}{n!} q_n\bigr\|_1 \le 2\varepsilon \le 2\,\mathrm{tail}`
    (ε from the dropped terms, ε from the renormalisation).
    """
    lam = check_uniformisation(lam)
    check_tail(tail)
    n_max = int(np.ceil(lam + 8.0 * np.sqrt(lam) + 30.0))
    while poisson.sf(n_max, lam) > tail:
        n_max += int(np.sqrt(lam)) + 10
    w = poisson.pmf(np.arange(n_max + 1), lam)
    return w / w.sum()


