r"""What a trained θ* does: memory curve, equilibrium mismatch, coupling errors, KL, mixing time.

* Memory effect (M1): sampling θ* for t steps from the training p0, the statistics of
  :math:`p(t, p_0) = U_{\theta^*}^t p_0` match the data at t = k only (:func:`memory_curve`).
* :math:`p_{\theta^*}` itself generally does not match the data (:func:`equilibrium_stats`).
* Against a teacher :math:`(\beta h^0, \beta J^0)`: the coupling error
  :math:`\sum_{i<j}(J^*_{ij} - \beta J^0_{ij})^2` and the spurious couplings :math:`J^*_{ij}` on
  pairs with :math:`J^0_{ij} = 0` (:func:`coupling_error`, :func:`spurious_couplings`).
* :math:`\mathrm{KL}(p_{\rm data}\,\|\,q) = \sum_x p_{\rm data}\ln(p_{\rm data}/q)`
  (:func:`kl_divergence`) for q = :math:`p_{\theta^*}` and q = p(k, p0).
* The mixing time τ(θ) = κ_1 of the kernel (G3) (:func:`mixing_time`).

Every function works on any model that meets the model contract
(:mod:`shortrun.numerics.models.base`: θ, its statistics φ_θ, its Gibbs law, a registered exact
kernel); ``rule=None`` / ``scan=None`` mean the model's own update.  A raw θ vector is read as a
Boltzmann machine's (``concat(h, J[iu])``).  The coupling diagnostics need pairwise couplings
``J`` (shape (N, N, ...)) and say so otherwise.  Kernels are column-stochastic
(``U[x', x] = P(x -> x')``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortrun.conventions import check_count, check_distribution, check_real
from shortrun.numerics.kernels import kernel
from shortrun.numerics.kernels.spectral import decompose
from shortrun.numerics.models.base import Model
from shortrun.numerics.models.boltzmann import BoltzmannMachine


def _as_model(model_or_theta, N=None):
    """A model as given, or a Boltzmann machine from its θ vector."""
    if isinstance(model_or_theta, Model):
        return model_or_theta
    theta = check_real(model_or_theta, "model")
    if N is None:
        # P = N(N+1)/2  ->  N = (sqrt(8P + 1) - 1)/2
        N = int(round((np.sqrt(8 * theta.size + 1) - 1) / 2))
    return BoltzmannMachine.from_theta(theta, N)


def mixing_time(model, rule=None, scan=None):
    r"""τ(θ) = κ_1 = −1/ln|λ_1| of the model's kernel (G3), via
    :func:`shortrun.numerics.kernels.spectral.decompose` (dense route)."""
    return decompose(kernel(_as_model(model), rule, scan, warn=False)).mixing_time


def mixing_times(history, rule=None, scan=None, every=1, *, model=None):
    """τ(θ) at every ``every``-th recorded row of a training :class:`~.training.History`;
    ``model``: the family the rows' θ belong to (any member; a Boltzmann machine by default).
    Returns ``(steps, tau)``."""
    if not (hasattr(history, "step") and hasattr(history, "theta")):
        raise ValueError(f"history must be a training History (result.history); got "
                         f"{type(history).__name__}.")
    rows = np.arange(0, len(history.step), check_count(every, "every"))
    family = (lambda th: _as_model(th)) if model is None else model.with_theta
    return history.step[rows], np.array([mixing_time(family(history.theta[r]), rule, scan)
                                         for r in rows])


def equilibrium_stats(model):
    r""":math:`\langle\phi\rangle_{p_\theta}`: the trained model's statistics at equilibrium."""
    m = _as_model(model)
    return m.stats(m.boltzmann())


def kl_divergence(p, q):
    r""":math:`\mathrm{KL}(p\,\|\,q) = \sum_{x: p(x)>0} p(x)\ln\frac{p(x)}{q(x)}` (∞ if q vanishes
    where p does not)."""
    p = check_real(p, "p")
    if p.ndim != 1:
        raise ValueError(f"p must be a probability vector; got shape {p.shape}.")
    p = check_distribution(p, len(p), "p")
    q = check_distribution(q, len(p), "q")
    support = p > 0
    if np.any(q[support] <= 0):
        return np.inf
    return float(np.sum(p[support] * (np.log(p[support]) - np.log(q[support]))))


@dataclass(frozen=True)
class MemoryCurve:
    r"""Statistics of :math:`p(t, p_0)` on a time grid and their distance to the data.

    ``stats[r]`` = ⟨φ⟩ at ``times[r]``; ``distance`` = ‖⟨φ⟩_{p(t)} − ⟨φ⟩_data‖∞ (on ``mask``);
    ``kl_data_to_model`` = KL(p_data ‖ p(t, p0)).  The Gaussian twin
    :class:`shortrun.theory.gaussian.MemoryCurve` has the same four fields.
    """

    times: np.ndarray
    stats: np.ndarray
    distance: np.ndarray
    kl_data_to_model: np.ndarray

    @property
    def best_time(self):
        """The grid time of smallest distance (t = k for a short-run fixed point)."""
        return self.times[int(np.argmin(self.distance))]


def memory_curve(model, p0, times, data, rule=None, scan=None, mask=None):
    r"""The memory curve: :math:`t \mapsto \|\langle\phi\rangle_{p(t,p_0)} - \langle\phi\rangle_{\rm
    data}\|_\infty` for the sorted ``times`` (one forward pass of
    :meth:`~shortrun.numerics.kernels.Kernel.trajectory`), φ the model's statistics.  At a fixed
    point of Rdm-k training it vanishes at t = k and not elsewhere ((M1), memory effect)."""
    from shortrun.numerics.data.teachers import as_data
    data = as_data(data)
    m = _as_model(model)
    laws = kernel(m, rule, scan, warn=False).trajectory(p0, times)
    st = np.array([m.stats(p) for p in laws])
    sel = slice(None) if mask is None else np.asarray(mask, bool)
    dist = np.max(np.abs(st - m.stats(data.p))[:, sel], axis=1)
    kl = np.array([kl_divergence(data.p, p) for p in laws])
    return MemoryCurve(np.asarray(times, float), st, dist, kl)


def _couplings(model, what):
    J = getattr(_as_model(model), "J", None)
    if J is None or np.ndim(J) < 2:
        raise ValueError(f"{what} needs a model with pairwise couplings J (a BoltzmannMachine, "
                         f"...); {type(_as_model(model)).__name__} has none.")
    return np.asarray(J)


def _reference(teacher, what):
    return _couplings(teacher.model if hasattr(teacher, "model") else teacher, what)


def coupling_error(model, teacher):
    r""":math:`\sum_{i<j}(J^*_{ij} - \beta J^0_{ij})^2` against a
    :class:`~shortrun.numerics.data.teachers.Teacher` (or any BoltzmannMachine as the reference)."""
    J = _couplings(model, "coupling_error")
    ref = _reference(teacher, "coupling_error")
    if ref.shape != J.shape:
        raise ValueError(f"the teacher has N={ref.shape[0]} spins, the model N={J.shape[0]}.")
    iu = np.triu_indices(J.shape[0], 1)
    return float(np.sum((J[iu] - ref[iu]) ** 2))


def spurious_couplings(model, teacher):
    r"""Learned couplings on the pairs where the teacher has none (:math:`J^0_{ij} = 0`, i<j).

    Returns ``(pairs, values)``: an (n, 2) int array of (i, j) and the :math:`J^*_{ij}` there.
    On a lattice these are the indirect couplings of (Ia)–(Ib) (next-nearest neighbours).
    """
    J = _couplings(model, "spurious_couplings")
    ref = _reference(teacher, "spurious_couplings")
    if ref.shape != J.shape:
        raise ValueError(f"the teacher's couplings have shape {ref.shape}, the model's {J.shape}.")
    i, j = np.triu_indices(J.shape[0], 1)
    off = (ref[i, j] == 0).reshape(len(i), -1).all(axis=1)
    return np.stack([i[off], j[off]], axis=1), J[i[off], j[off]]


def summary(result, teacher=None):
    r"""The key numbers of a trained/solved θ* (a :class:`~.fixed_point.FixedPoint` or a
    :class:`~.training.TrainingResult`) as a dict:

    ``mismatch_fix`` = ‖⟨φ⟩_{p_fix} − ⟨φ⟩_data‖∞ (p_fix = p(k, p0) for rdm/cd: what training
    matches), ``mismatch_eq`` = ‖⟨φ⟩_{p_θ*} − ⟨φ⟩_data‖∞, ``kl_data_to_eq`` = KL(p_data ‖ p_θ*),
    ``kl_data_to_fix`` = KL(p_data ‖ p_fix); with a teacher also ``coupling_error`` and
    ``max_spurious`` (largest |J*| on non-bonds).  Norms over the trainable entries.
    """
    if not (hasattr(result, "problem") and hasattr(result, "model")):
        raise ValueError(f"result must be a TrainingResult or a FixedPoint (what train() or "
                         f"solve() returns); got {type(result).__name__}.")
    prob, model = result.problem, result.model
    data, m = prob.data, prob.mask
    target = prob.data_stats(model)
    p_fix = prob.fixed_point_law(model)
    p_eq = np.asarray(model.boltzmann())
    out = {
        "mismatch_fix": float(np.max(np.abs(model.stats(p_fix) - target)[m])),
        "mismatch_eq": float(np.max(np.abs(model.stats(p_eq) - target)[m])),
        "kl_data_to_fix": kl_divergence(data.p, p_fix),
        "kl_data_to_eq": kl_divergence(data.p, p_eq),
    }
    if teacher is not None and getattr(model, "J", None) is not None:
        out["coupling_error"] = coupling_error(model, teacher)
        _, vals = spurious_couplings(model, teacher)
        out["max_spurious"] = float(np.max(np.abs(vals))) if vals.size else 0.0
    return out


@dataclass(frozen=True)
class RobustnessMap:
    r"""The robustness map (M2) of a trained model on a grid of times × initial laws.

    ``stats[i, r]`` = ⟨φ⟩ of :math:`p(t_r, p_0^{(i)}) = U_{\theta^*}^{t_r} p_0^{(i)}`;
    ``stats_error[i, r]`` = ‖``stats[i, r]`` − ⟨φ⟩_data‖∞ (row i: initial law i, column r:
    time ``times[r]``).
    """

    times: np.ndarray
    stats: np.ndarray
    stats_error: np.ndarray


def robustness_map(model, data, p0s, times, rule=None, scan=None):
    r"""The robustness map (M2): :math:`\mathrm{err}(t, p_0') = \|\langle\phi\rangle_{p(t,p_0')}
    - \langle\phi\rangle_{\rm data}\|_\infty` with :math:`p(t, p_0') = U_{\theta^*}^t p_0'` exact
    (G2), for every initial law in ``p0s`` and every time in the sorted ``times``.

    Works on any model that meets the model contract: the exact kernel is
    :func:`shortrun.numerics.kernels.kernel` of the model with its own rule / scan
    (``rule=None`` / ``scan=None``), one forward pass of
    :meth:`~shortrun.numerics.kernels.Kernel.trajectory` per initial law, and φ the model's
    statistics (:meth:`~shortrun.numerics.models.base.Model.stats`, also applied to the data
    law).  ``data``: a :class:`~shortrun.numerics.data.teachers.Data` (e.g.
    :class:`~shortrun.numerics.data.potts.PottsData` for a Potts machine) or a law over the
    model's states; ``p0s``: a sequence of laws over the model's states (or ``'uniform'``).
    At a fixed point of Rdm-k training from p0 the error vanishes at (t = k, p0′ = p0).
    Returns a :class:`RobustnessMap`.
    """
    from shortrun.numerics.data.teachers import Data, as_data
    m = _as_model(model)
    data = data if isinstance(data, Data) else as_data(data)
    if isinstance(p0s, str) or (len(p0s) > 0 and np.isscalar(p0s[0])
                                and not isinstance(p0s[0], str)):
        raise ValueError("p0s must be a sequence of initial laws (e.g. [p0] for one law, or "
                         "['uniform']); got a single law or a string.")
    if len(p0s) == 0 or len(times) == 0:
        raise ValueError("p0s and times must each hold at least one entry.")
    if data.p.shape != (m.n_states,):
        raise ValueError(f"data must be a law over the model's {m.n_states} states; got "
                         f"{data.p.shape[0]} states.")
    target = m.stats(data.p)
    U = kernel(m, rule, scan, warn=False)
    st = np.array([[m.stats(p) for p in U.trajectory(p0, times)] for p0 in p0s])
    err = np.max(np.abs(st - target), axis=2)
    return RobustnessMap(np.asarray(times, float), st, err)
