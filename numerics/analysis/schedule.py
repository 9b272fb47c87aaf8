r"""A time-dependent short-run chain: one parameter vector per step, trained to its own fixed point.

The *diffusion reading* of short-run training (G7): instead of k sweeps of one kernel U_θ, the
chain runs k sweeps of k kernels,

.. math:: p_t = U_{\theta_t}\,p_{t-1},\qquad t = 1, \dots, k,\qquad p_0 \text{ fixed},

with its own parameters :math:`\Theta = (\theta_1, \dots, \theta_k)` (kP numbers) -- a
non-stationary Markov chain, as the reverse process of a diffusion model is.  Training
(per-step matching) gives step t the biased gradient of its own law,

.. math:: \tilde\nabla_{\theta_t} = \langle\phi\rangle_{q_t} - \langle\phi\rangle_{p_t},

against a target law :math:`q_t` per step, so a converged run stops where (G8)

.. math:: F_t(\Theta) = \langle\phi\rangle_{p_t(\theta_1..\theta_t)} - \langle\phi\rangle_{q_t}
          = 0,\qquad t = 1, \dots, k

(kP equations in kP unknowns).  Two schedules of targets, both with :math:`q_k = p_{\rm data}`,
so the last law matches the data's statistics exactly as the Rdm-k law does (G5):

* ``'data'``: :math:`q_t = p_{\rm data}` at every step (every step's law matches the data);
* ``'noised'``: :math:`q_t = N_{a_t}\,p_{\rm data}`, the data with every spin flipped
  independently with probability :math:`(1 - a_t)/2`, :math:`a_t = t/k` -- the marginals of a
  forward noising process from the uniform law (:math:`a_0 = 0`) to the data, walked backwards:
  the diffusion schedule (:func:`noised_law`).

Because :math:`p_t` depends on :math:`\theta_1..\theta_t` only, the Jacobian
:math:`\partial F_t/\partial\theta_s` is block lower triangular (zero for s > t), with the
diagonal blocks :math:`\Phi^\top(\partial_{\theta_t}U_{\theta_t})p_{t-1}` -- the Jacobian of an
Rdm-1 problem started from :math:`p_{t-1}` -- and :math:`\Phi^\top U_{\theta_t}\cdots
U_{\theta_{s+1}}(\partial_{\theta_s}U_{\theta_s})p_{s-1}` below (G8).  Hence the condition
*decouples*: :math:`F_1 = 0` fixes :math:`\theta_1` alone (Rdm-1 from p0), then :math:`F_2 = 0`
fixes :math:`\theta_2` given :math:`p_1`, and so on; :func:`solve` runs the existing Newton solver
(:func:`shortrun.numerics.training.fixed_point.solve`, protocol 'rdm', k = 1, p0 = p_{t-1})
once per step, warm-started at :math:`\theta_{t-1}`, and the stacked system is regular exactly when
every diagonal block is.  :func:`residual_and_jacobian` gives the stacked F and its full exact
Jacobian (forward mode, :class:`shortrun.numerics.kernels.tangent.TangentKernel`) for the checks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortrun.conventions import (check_choice, check_count, check_distribution, check_nonnegative,
                                  check_real)
from shortrun.numerics.analysis.generator import check_law_vector
from shortrun.numerics.data.teachers import Data, as_data
from shortrun.numerics.kernels import kernel
from shortrun.numerics.kernels.tangent import TangentKernel
from shortrun.numerics.models.boltzmann import BoltzmannMachine, n_params, phi_matrix

#: Target schedules of :func:`targets`.
SCHEDULES = ("data", "noised")
#: Most steps of a time-dependent chain (each has its own P parameters and Newton solve).
MAX_STEPS = 1000


def noised_law(p, a):
    r"""The law of s ⊙ η with s ~ p and independent η_i = ±1, P(η_i = −1) = (1 − a)/2:

    .. math:: (N_a p)(s) = \sum_{s'} p(s') \prod_i \frac{1 + a\,s_is'_i}{2},\qquad
              \widehat{N_a p}(S) = a^{|S|}\,\hat p(S),

    computed in the Walsh–Hadamard basis (:func:`shortrun.numerics.analysis.interactions.walsh_hadamard`:
    every coefficient of order |S| shrinks by :math:`a^{|S|}`).  ``a = 1`` is p itself, ``a = 0``
    the uniform law; the statistics scale as :math:`\langle s_i\rangle a`,
    :math:`\langle s_is_j\rangle a^2` (G7).
    """
    from shortrun.numerics.analysis.interactions import orders, walsh_hadamard

    p = check_law_vector(p)
    a = check_nonnegative(a, "a", "pass a signal level in [0, 1] (1: the law itself, 0: uniform).")
    if not a <= 1.0:
        raise ValueError(f"a={a!r} must be a signal level in [0, 1] (1: the law itself, 0: "
                         "uniform).")
    N = int(len(p)).bit_length() - 1
    coef = walsh_hadamard(p) * a ** orders(N)
    q = np.clip(walsh_hadamard(coef) / len(p), 0.0, None)      # round-off below 0 -> 0
    return q / q.sum()


def targets(data, k, schedule="data"):
    r"""The target laws :math:`q_1, \dots, q_k` of the per-step matching (G7), a list of
    :class:`~shortrun.numerics.data.teachers.Data`: ``'data'`` repeats p_data, ``'noised'``
    gives :math:`N_{t/k}\,p_{\rm data}` (:func:`noised_law`); :math:`q_k = p_{\rm data}` for both."""
    data = as_data(data)
    k = check_count(k, "k")
    if k > MAX_STEPS:
        raise ValueError(f"k={k} steps: a time-dependent chain holds k parameter vectors and "
                         f"solves k Newton problems; use k <= {MAX_STEPS}.")
    schedule = check_choice(schedule, SCHEDULES, "schedule")
    if schedule == "data":
        return [data] * k
    return [Data(noised_law(data.p, t / k), None, f"{data.name} noised to a={t}/{k}")
            for t in range(1, k)] + [data]


def _models(thetas, N):
    th = check_real(thetas, "thetas")
    P = n_params(N)
    if th.ndim != 2 or th.shape[1] != P or th.shape[0] < 1:
        raise ValueError(f"thetas must have shape (k, P) = (k >= 1, {P}): one parameter vector "
                         f"per step for N={N} spins; got shape {th.shape}.")
    if not np.all(np.isfinite(th)):
        raise ValueError("thetas contains NaN or inf; pass finite parameters.")
    return [BoltzmannMachine.from_theta(t, N) for t in th]


def laws(thetas, N, p0="uniform", rule="heatbath", scan="random"):
    r"""The laws :math:`p_1, \dots, p_k` of the time-dependent chain :math:`p_t =
    U_{\theta_t}p_{t-1}` (G7), shape (k, 2^N); ``thetas`` has one row per step."""
    N = check_count(N, "N")
    p = check_distribution(p0, 1 << N, "p0")
    out = []
    for m in _models(thetas, N):
        p = kernel(m, rule, scan, warn=False).apply(p)
        out.append(p)
    return np.array(out)


def residual_and_jacobian(thetas, target_laws, p0="uniform", rule="heatbath", scan="random"):
    r"""The stacked condition (G8) and its exact Jacobian.

    Returns ``(F, jac)``: ``F[t] = ⟨φ⟩_{p_t} − ⟨φ⟩_{q_t}`` flattened to length kP, and
    ``jac[tP:(t+1)P, sP:(s+1)P] = ∂F_t/∂θ_s``, block lower triangular: the tangent of step s is
    :math:`(\partial_{\theta_s}U_{\theta_s})p_{s-1}` (one sweep of
    :class:`~shortrun.numerics.kernels.tangent.TangentKernel` from :math:`p_{s-1}`), carried
    through the later kernels by the same sweep on a zero law (:math:`U D`, no θ-derivative term).
    ``target_laws``: the k targets (:func:`targets`, or laws over the 2^N states).
    """
    qs = [as_data(q) for q in target_laws]
    k = len(qs)
    if k < 1:
        raise ValueError("target_laws is empty; pass one target law per step (targets(data, k)).")
    N = qs[0].N
    for t, q in enumerate(qs):
        if q.N != N:
            raise ValueError(f"target_laws[{t}] is a law of N={q.N} spins but target_laws[0] of "
                             f"N={N}; pass the k targets of one data set (targets(data, k)).")
    models = _models(thetas, N)
    if len(models) != k:
        raise ValueError(f"thetas has {len(models)} rows but there are {k} target laws; pass "
                         "one parameter vector per step.")
    P, n = n_params(N), 1 << N
    Phi = phi_matrix(N)
    p = check_distribution(p0, n, "p0")
    F = np.empty(k * P)
    jac = np.zeros((k * P, k * P))
    tangents = []                                   # ∂p_t/∂θ_s for s <= t, each (2^N, P)
    zero = np.zeros(n)
    for t, (m, q) in enumerate(zip(models, qs)):
        tk = TangentKernel(m, rule, scan)
        tangents = [tk.step(zero, D)[1] for D in tangents]
        p, D = tk.propagate(p, 1)
        tangents.append(D)
        F[t * P:(t + 1) * P] = Phi.T @ p - q.stats
        for s, Ds in enumerate(tangents):
            jac[t * P:(t + 1) * P, s * P:(s + 1) * P] = Phi.T @ Ds
    return F, jac


@dataclass(frozen=True)
class Schedule:
    r"""A solved time-dependent chain (G8).

    Attributes
    ----------
    thetas : ndarray (k, P)
        θ_1 … θ_k.
    laws : ndarray (k, 2^N)
        p_1 … p_k.
    residuals : ndarray (k,)
        ‖F_t‖∞ of every step (Newton's independent evaluation).
    target_laws : list of Data
    schedule : str
    p0 : ndarray
    rule, scan : str
    """

    thetas: np.ndarray
    laws: np.ndarray
    residuals: np.ndarray
    target_laws: list
    schedule: str
    p0: np.ndarray
    rule: str
    scan: str

    @property
    def law(self):
        """The chain's final law p_k (what it generates)."""
        return self.laws[-1]


def solve(data, k, schedule="data", p0="uniform", rule="heatbath", scan="random", *, tol=1e-11,
          restarts=4, seed=0):
    r"""The fixed point of per-step matching (G8), step by step.

    Because the Jacobian is block lower triangular, :math:`F_t = 0` is solved for
    :math:`\theta_t` alone given :math:`p_{t-1}`: an Rdm-1 problem started from
    :math:`p_{t-1}` against the target :math:`q_t`, by
    :func:`shortrun.numerics.training.fixed_point.solve` (start: :math:`\theta_{t-1}`, the
    default start at t = 1; ``restarts``, ``seed``, ``tol`` passed on).  Raises RuntimeError,
    naming the step, where a step has no root the solver reaches.
    """
    from shortrun.numerics.training import fixed_point

    data = as_data(data)
    qs = targets(data, k, schedule)
    p = check_distribution(p0, data.p.shape[0], "p0")
    start = p.copy()
    thetas, ps, res = [], [], []
    theta = None
    for t, q in enumerate(qs):
        try:
            fp = fixed_point.solve(q, 1, "rdm", rule, scan, p0=p, theta0=theta, tol=tol,
                                   restarts=restarts, seed=seed, progress=False)
        except RuntimeError as err:
            raise RuntimeError(f"step t={t + 1} of {k} of the time-dependent chain "
                               f"(schedule={schedule!r}) has no root reached from theta_{t}: "
                               f"{err}") from None
        theta = fp.theta
        p = kernel(fp.model, rule, scan, warn=False).apply(p)
        thetas.append(theta)
        ps.append(p)
        res.append(fp.residual)
    return Schedule(np.array(thetas), np.array(ps), np.array(res), qs, schedule, start, rule,
                    scan)
