r"""Fixed points of short-run training (G5), found by damped Newton with the exact Jacobian.

A converged short-run training run stops at θ* with (G5)

.. math:: F(\theta^*) = \langle\phi\rangle_{p_{\rm fix}(\theta^*)}
          - \langle\phi\rangle_{\rm data} = 0,

:math:`p_{\rm fix} = p(k, p_0) = U_\theta^k p_0` for rdm/cd (the *k-step process* matches the
data), :math:`p_\theta` for eq and the kernel's stationary law for pcd (see
:mod:`shortrun.numerics.training`).  :func:`solve` runs damped Newton on F with the exact
forward-mode Jacobian (:func:`shortrun.numerics.kernels.law_tangent`):

.. math:: \theta \leftarrow \theta + \alpha\,\delta,\qquad \partial F(\theta)\,\delta = -F(\theta),

the step capped at ``max_step`` in ∞-norm and α halved until ‖F‖₂ decreases (Armijo); where the
Jacobian is singular or badly conditioned, Levenberg–Marquardt steps take over.  Because
∇̃L is not a gradient (G4), a root may not exist (the parameters run off to infinity:
(S2)) or may not be unique; :func:`solve` reports which (a run that stops gaining is stopped and
diagnosed, ``FixedPoint.status``), and :func:`distinct_roots` runs several seeded starts and
returns the distinct roots.

Parallel (synchronous) updates are hard for both solvers: at N = 6 every Rdm/CD case of the tests
has finite roots, but Newton reaches them from a few per cent of random starts only, and at every
root found ∂F/∂θ has eigenvalues with negative real part, so gradient ascent
(:func:`~shortrun.numerics.training.train`) moves away from them and diverges.
Not every such root is reached by :func:`solve`: at N = 6 the Rdm-2 Metropolis and CD-1 heat-bath
cases of the tests have isolated roots with a regular Jacobian (condition numbers 6e2 and 2e3,
found from seed-tuned starts) that none of its stages reaches -- their basins of attraction are
small (radius ~0.3 in ∞-norm) and far from the default start, θ_ML and every homotopy path tried;
basin hopping from Newton's stall points and scipy's trust-region and Levenberg–Marquardt solvers
did not reach them either.  Nor does a continuation between update schemes, measured while
writing this: the kernel homotopy :math:`U_s = (1-s)\,U_{\rm easy} + s\,U_{\rm parallel}` (easy:
the random or the sequential scan), tracked in arclength from the easy root at s = 0, reaches
s = 1 in none of the 16 Rdm/CD cases at N = 6 -- in 25 of the 32 runs the root runs off to
infinity at some s* < 1/2 (s* ≈ 0.11–0.16 for Metropolis, 0.13–0.46 for heat-bath), the others
stall or wander -- and none of 23 paths through the two roots, followed backwards from s = 1
(kernel and problem homotopies to the random and sequential scans, start law p0 between CD and
Rdm, k ± 1, the other rule, θ_ML, the Newton homotopy from 0, θ_ML or the default start),
reaches s = 0: each runs off to infinity, stalls (at Metropolis kinks, or far out) or wanders
beyond max |θ| = 30, most within Δs < 0.2 of s = 1.  The roots lie on branches that come in
from infinity; tests/test_fixed_point.py::test_parallel_hard_roots_are_cut_off_from_the_random_scan_root
checks the forward half for the problem homotopy
:math:`(1-s)F_{\rm random} + sF_{\rm parallel}`.  :func:`solve` then reports the failure, it
does not return a non-root.  (More starts are no remedy either: 200 Newton starts θ_ML + N(0, 1)
reach 10 other roots of the CD-1 case, each from one start, and no root of the Rdm-2 case;
nor do 2000 starts θ_ML + N(0, 1) of Newton without line search, steps capped at 2.)
Smoothing the Metropolis rule does not help the Rdm-2 case either: along the family of flip
probabilities
:math:`(1 + e^{\Delta E/\varepsilon})^{-\varepsilon}` (heat-bath at ε = 1, Metropolis as
ε → 0, detailed balance at every ε) the recorded root's branch, continued upwards in ε,
folds back near ε ≈ 0.14, and arclength tracking from its point at ε = 0.01 descends to a second
Metropolis root (0.86 away in ∞-norm; none of the starts above reaches it either); at ε = 0.1
no root was found from 60 starts.  A
zero may also lie at infinity: for CD-2 parallel heat-bath at N = 8, ‖F‖ shrinks by e⁻² per unit
of one coupling (tanh saturation) and falls below 1e-11 only beyond 13.8.

Robustness against the last bits.  A Newton path is a chaotic function of its start where the
Jacobian is singular or F has kinks, so the solver is built not to depend on rounding:

* a numerically singular Jacobian (condition number > 1e12, e.g. parallel heat-bath at J = 0,
  the default start) gives the minimum-norm least-squares step, not an LU solve whose direction
  is amplified rounding noise;
* with ``restarts >= 1``, once Newton failed from every start, :func:`solve` globalises: Newton
  from θ_ML (the equilibrium fixed point, convex for a Boltzmann machine), then the continuation
  :func:`homotopy` -- the Newton homotopy :math:`H(\theta, t) = F(\theta) - (1-t)F(\theta_0)`,
  whose root at t = 0 is the start itself, followed in arclength (through turning points where
  Newton stalls) to t = 1 -- from θ0 and from θ_ML;
* a root is accepted only at ‖F‖∞ ≤ tol, evaluated independently of the Jacobian route;
  otherwise the status and message say how every stage ended (a failure is reported, never a
  non-root returned as converged).

Newton iterates whose Jacobians are regular (condition number ≤ 1e12) are unchanged, bit for
bit, and the globalisation runs only where every start failed.  With
``SHORTRUN_PERTURB=1e-14`` (:mod:`shortrun.numerics.core.perturb`) every Newton start and every
input law is perturbed by a few ulps; the test suite passes in that mode too.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from shortrun.numerics.kernels import NonUniqueStationaryError
from shortrun.numerics.core import perturb
from shortrun.numerics.core.progress import Progress
from shortrun.numerics.training.divergence import divergence_message
from shortrun.numerics.training.problem import Problem, check_work, jacobian_work, problem
from shortrun.conventions import check_count, check_positive
from shortrun.numerics.sampling.spins import check_seed

#: Most Newton starts one call runs (restarts + 1, n_starts).
MAX_STARTS = 100_000
#: Standard deviation of the seeded extra starts of :func:`solve` (``restarts``) and
#: :func:`distinct_roots` around ``theta0``: one default for both.
START_SCALE = 0.5


@dataclass(frozen=True)
class FixedPoint:
    """Outcome of :func:`solve`.

    Attributes
    ----------
    theta : ndarray (P,)
    problem : training.Problem
    residual : float
        ‖F(θ)‖∞ on the trainable entries, evaluated with the numba kernels
        (:func:`shortrun.numerics.kernels.law`), independently of the Jacobian route; ``inf``
        when the start has no unique fixed-point law (pcd with parallel Metropolis,
        :class:`~shortrun.numerics.kernels.NonUniqueStationaryError`).
    iterations : int
    converged : bool
        ``residual <= tol``.
    message : str
    residual_history : ndarray
        ‖F‖∞ after each Newton iteration (entry 0: at the start).
    status : str
        ``'converged'``; ``'diverged'`` (the iterates run off to infinity, or stall far out: no
        finite root on their path, (S2)); ``'stalled'`` (no progress at bounded θ: a local
        minimum of ‖F‖ or a kink); ``'max_iter'``; ``'no_step'`` (no Newton step possible at
        the start).
    """

    theta: np.ndarray
    problem: Problem
    residual: float
    iterations: int
    converged: bool
    message: str
    residual_history: np.ndarray
    status: str = ""

    @property
    def model(self):
        return self.problem.model(self.theta)


def _cap(delta, max_step):
    big = np.max(np.abs(delta))
    return delta * (max_step / big) if big > max_step else delta


#: A Jacobian with condition number beyond this is numerically singular: its LU solve is
#: rounding noise amplified by the condition number (a step whose direction depends on the last
#: bits of the library stack), so the minimum-norm least-squares step is taken instead.
_SINGULAR = 1e12


def _newton_direction(F, jac):
    """Newton direction; the minimum-norm least-squares one (singular values below P ε σ_max
    dropped) where ``jac`` is numerically singular (condition number > ``_SINGULAR``)."""
    if np.linalg.cond(jac) <= _SINGULAR:
        try:
            delta = np.linalg.solve(jac, -F)
            if np.all(np.isfinite(delta)):
                return delta
        except np.linalg.LinAlgError:
            pass
    return np.linalg.lstsq(jac, -F, rcond=None)[0]


def _damped_step(prob, theta, F, jac, max_step):
    r"""``(next iterate, F there, full Newton step taken)``, or None.  First the Newton step with backtracking α = 1, ½, …, 2^-6
    (Armijo on ‖F‖₂); if that fails (singular or badly conditioned Jacobian), Levenberg–Marquardt
    steps :math:`\delta = -(J^\top J + \mu I)^{-1}J^\top F` with μ growing tenfold from
    :math:`10^{-8}\max\operatorname{diag}J^\top J`, the first that decreases ‖F‖₂; they stop
    once the step is negligible (it only shrinks as μ grows)."""
    m = prob.mask
    f2 = np.linalg.norm(F)

    def better(delta, slack):
        cand = theta.copy()
        cand[m] += delta
        try:
            Fc = prob.residual(cand)
        except NonUniqueStationaryError:                # pcd: no fixed-point law at cand
            return None
        return (cand, Fc) if np.linalg.norm(Fc) <= (1.0 - 1e-4 * slack) * f2 else None

    delta = _cap(_newton_direction(F, jac), max_step)
    for j in range(7):
        alpha = 2.0 ** -j
        cand = better(alpha * delta, alpha)
        if cand is not None:
            return cand + (j == 0,)
    JtJ, JtF = jac.T @ jac, jac.T @ F
    scale = max(float(np.max(np.diag(JtJ))), 1e-300)
    for e in range(-8, 9):
        mu = scale * 10.0 ** e
        delta = _cap(np.linalg.solve(JtJ + mu * np.eye(len(F)), -JtF), max_step)
        cand = better(delta, 0.0)
        if cand is not None:
            return cand + (False,)
        if np.max(np.abs(delta)) <= 1e-13 * max(1.0, float(np.max(np.abs(theta[m])))):
            break
    return None


#: rdm/cd, near the root (‖F‖∞ <= ``_REUSE_BELOW``): a full Newton step that lowered ‖F‖₂ below
#: ``_REUSE`` times its value keeps its Jacobian, with Broyden's rank-one update, for the next
#: step (one residual instead of an exact Jacobian, which propagates P tangent columns through
#: the k steps); any other step, or a reused Jacobian that gives no step, takes a fresh exact
#: Jacobian, and so does every diagnosis of a failure.  Far from the root, and for eq and pcd
#: (whose Jacobian costs about one residual), the iterates are those of plain damped Newton.
_REUSE, _REUSE_BELOW = 0.3, 1e-2

#: Newton must lower ‖F‖₂ below ``_GAIN`` times its value ``_WINDOW`` iterations earlier, else it
#: stops: a stalled run would spend its remaining iterations, each costing a Jacobian and up to
#: 24 residuals, for nothing.  (Over the 301 converging runs of tests/test_fixed_point.py's grids
#: the largest such ratio is 0.86, parallel CD-1 Metropolis; 0.67 without parallel updates.)
_WINDOW, _GAIN = 12, 0.95


def _no_progress(prob, theta, it, norms, norms2, tops, jac, theta_max, final=False):
    r"""``None`` while Newton makes progress; else ``(status, message)`` for a run whose ‖F‖₂
    fell by less than 5 % over the last ``_WINDOW`` iterations.

    ``'diverged'`` (:func:`~shortrun.numerics.training.divergence_message`) if max |θ| grew at
    every one of those iterations -- the iterates slide off to infinity along a valley of ‖F‖
    whose floor is not zero (the Jacobian saturates there) -- or if max |θ| > theta_max / 5 (far
    out, where F hardly changes).  A drift at smaller θ must last a second window unless
    ``final`` (max_iter reached): Newton sometimes crosses a plateau and then gains again.
    Otherwise the run is ``'stalled'`` at bounded θ.
    """
    W = _WINDOW

    def flat(w):
        return len(norms2) > w and norms2[-1] >= _GAIN * norms2[-1 - w]

    def growing(w):
        return bool(np.all(np.diff(tops[-1 - w:]) > 0))

    if not flat(W):
        return None
    drift, far = growing(W), tops[-1] > 0.2 * theta_max
    w = 2 * W if drift and not (final or far) else W
    if drift and not (flat(w) and growing(w)):
        return None
    smin = np.linalg.svd(jac, compute_uv=False)[-1]
    gain = (f"|F|_2 fell only from {norms2[-1 - w]:.4g} to {norms2[-1]:.4g} in the last {w} "
            "iterations")
    sat = (f"smallest singular value of the Jacobian {smin:.2g}: the parameters saturate and "
           f"|F|_inf = {norms[-1]:.3g} is approached only at infinity")
    if drift:
        return "diverged", divergence_message(
            prob, theta, f"Newton's iterates drift off to infinity from this start ({gain} while "
                         f"max |theta| grew at every iteration, from {tops[-1 - w]:.3g} to "
                         f"{tops[-1]:.3g}; {sat})")
    if far:
        return "diverged", divergence_message(
            prob, theta, f"Newton's iterates from this start stall far out ({gain} at max "
                         f"|theta| = {tops[-1]:.3g} > theta_max/5 = {0.2 * theta_max:.3g}; {sat})")
    return "stalled", (f"Newton stalled after {it} iterations at |F|_inf = {norms[-1]:.3g}: {gain} "
                       f"at bounded theta (max |theta| = {tops[-1]:.3g}, not growing steadily; "
                       f"smallest singular value of the Jacobian {smin:.2g}): a local minimum of "
                       f"|F| that is not a root{_kink(prob, ', or a kink of F')}.  No fixed point "
                       "near this start; try other starts (restarts, distinct_roots)"
                       + ("." if prob.scan == "parallel" else " or train()."))


def _kink(prob, text):
    """``text`` + ' (Metropolis)' where F has kinks (the Metropolis rule), else ''."""
    return f"{text} (Metropolis)" if prob.rule == "metropolis" else ""


def newton(prob, theta0=None, *, tol=1e-11, max_iter=60, max_step=2.0, theta_max=50.0,
           progress=None):
    """Damped Newton on a :class:`~shortrun.numerics.training.Problem` (see :func:`solve`);
    never raises on failure: the :class:`FixedPoint` says what happened (``status``,
    ``message``).  ``progress`` as in :func:`solve`."""
    report = Progress("newton", progress, max_iter, report_first=True)
    return _newton(prob, theta0, report, "", tol=tol, max_iter=max_iter, max_step=max_step,
                   theta_max=theta_max)


def _newton(prob, theta0, report, label, **opts):
    """One Newton run with one BLAS thread: BLAS splits its reductions (the statistics Φᵀp, Φᵀ∂p
    and the linear solves) by thread count, so this makes θ* the same, bit for bit, whatever the
    BLAS and numba thread counts (the numba kernels are thread-count independent by design)."""
    with threadpool_limits(1, user_api="blas"):
        return _newton_run(prob, theta0, report, label, **opts)


def _newton_run(prob, theta0, report, label, *, tol, max_iter, max_step, theta_max):
    theta = prob.default_start() if theta0 is None else prob.check_theta(theta0)
    theta = perturb.vector(theta, "theta0")         # perturbed mode only (core/perturb.py)
    m = prob.mask
    try:
        F, jac = prob.residual_and_jacobian(theta)
    except NonUniqueStationaryError as err:             # pcd: no fixed-point law at the start
        return FixedPoint(theta, prob, np.inf, 0, False, f"no Newton step: {err}",
                          np.array([np.inf]), "no_step")
    except RuntimeError as err:
        F = prob.residual(theta)
        res = float(np.max(np.abs(F)))
        return FixedPoint(theta, prob, res, 0, res <= tol, f"no Newton step: {err}",
                          np.array([res]), "converged" if res <= tol else "no_step")
    norms, norms2 = [float(np.max(np.abs(F)))], [float(np.linalg.norm(F))]
    tops = [float(np.max(np.abs(theta[m])))]
    status, message, it = "max_iter", "", 0
    stale = False                       # jac reused from an earlier iterate (a chord step)
    reuse = prob.protocol in ("rdm", "cd", "buffer")  # Jacobian: P tangent columns through k steps
    while norms[-1] > tol and it < max_iter:
        step = _damped_step(prob, theta, F, jac, max_step)
        trial = None if step is None else step[0]
        if trial is None and stale:
            F, jac, stale = *prob.residual_and_jacobian(theta), False
            continue
        if trial is None and (tops[-1] > 0.2 * theta_max or np.max(np.abs(jac)) <= 1e-10):
            status, message = "diverged", divergence_message(
                prob, theta, f"Newton stalled after {it} iterations at |F|_inf = {norms[-1]:.3g} "
                             "where F no longer changes (saturated: max |dF/dtheta| = "
                             f"{np.max(np.abs(jac)):.2g}), i.e. the root lies at infinity")
            break
        if trial is None:
            grad = jac.T @ F
            status = "stalled"
            message = (f"Newton stalled after {it} iterations at |F|_inf = {norms[-1]:.3g}: "
                       "neither the damped Newton step nor Levenberg-Marquardt steps decrease |F| "
                       f"(|J^T F| = {np.linalg.norm(grad):.3g}, Jacobian condition number "
                       f"{np.linalg.cond(jac):.3g}): a local minimum of |F| that is not a root, "
                       "or a singular point.  No fixed point near this start; try other starts "
                       "(distinct_roots) or train().")
            break
        theta, previous, it = trial, theta, it + 1
        tops.append(float(np.max(np.abs(theta[m]))))
        if tops[-1] > theta_max:
            status, message = "diverged", divergence_message(
                prob, theta, f"Newton's iterates left the ball |theta|_inf <= {theta_max:g} after "
                             f"{it} iterations while |F| kept decreasing")
            break
        F_new, full = step[1], step[2]
        stale = (reuse and full and np.linalg.norm(F_new) <= _REUSE * norms2[-1]
                 and np.max(np.abs(F_new)) <= _REUSE_BELOW) or np.max(np.abs(F_new)) <= tol
        if stale:                       # Broyden's update of the reused Jacobian
            s_, y_ = (theta - previous)[m], F_new - F
            F, jac = F_new, jac + np.outer(y_ - jac @ s_, s_) / (s_ @ s_)
        else:
            F, jac = prob.residual_and_jacobian(theta)
        norms.append(float(np.max(np.abs(F))))
        norms2.append(float(np.linalg.norm(F)))
        report(it, "{}|F|_inf {:.3e}  max|theta| {:.3g}", label, norms[-1], tops[-1])
        verdict = _no_progress(prob, theta, it, norms, norms2, tops, jac, theta_max)
        if verdict is not None and stale:               # diagnose with the exact Jacobian
            F, jac, stale = *prob.residual_and_jacobian(theta), False
            verdict = _no_progress(prob, theta, it, norms, norms2, tops, jac, theta_max)
        if verdict is not None:
            status, message = verdict
            break
    if status == "max_iter" and stale:
        F, jac = prob.residual_and_jacobian(theta)
    if status == "max_iter":
        status, message = _no_progress(prob, theta, it, norms, norms2, tops, jac, theta_max,
                                       final=True) or (status, message)
    residual = float(np.max(np.abs(prob.residual(theta))))
    converged = residual <= tol
    if converged:
        status = "converged"
        message = f"converged: |F|_inf = {residual:.3g} <= tol = {tol:g} in {it} Newton iterations"
    elif not message:
        message = (f"not converged: |F|_inf = {residual:.3g} > tol = {tol:g} after {max_iter} "
                   "Newton iterations; raise max_iter or try other starts (distinct_roots).")
    return FixedPoint(theta, prob, residual, it, converged, message, np.array(norms), status)


# ---------------------------------------------------------------------------------------------
# globalisation: Newton homotopy followed by pseudo-arclength continuation
# ---------------------------------------------------------------------------------------------
#: Most accepted points on one continuation path; smallest arclength step before giving up.
_PATH_POINTS, _PATH_MIN_STEP = 200, 1e-7


def _tangent(jac, F0, previous):
    """Unit null vector of the P x (P+1) matrix [dF/dtheta | F0], oriented along ``previous``
    (or towards growing t at the start)."""
    A = np.hstack([jac, F0[:, None]])
    tau = np.linalg.svd(A)[2][-1]
    ref = previous if previous is not None else np.eye(len(tau))[-1]
    return -tau if tau @ ref < 0 else tau


def homotopy(prob, theta0=None, *, tol=1e-11, max_iter=60, max_step=2.0, theta_max=50.0,
             progress=None):
    r"""Fixed point by continuation from ``theta0`` (the globalisation :func:`solve` falls back to).

    Newton homotopy: :math:`H(\theta, t) = F(\theta) - (1 - t)\,F(\theta_0)` has the root
    :math:`(\theta_0, 0)` by construction -- at t = 0 the data are the statistics the start
    itself matches, an easy converged neighbour -- and :math:`H(\cdot, 1) = F`.  The path
    :math:`\{H = 0\}` through :math:`(\theta_0, 0)` is followed in the arclength s of
    (θ, t) space (pseudo-arclength predictor-corrector): tangent τ = the unit null vector of
    :math:`[\partial F/\partial\theta \mid F(\theta_0)]`, predictor :math:`z + h\tau`, corrector
    Newton on :math:`(H, \tau\cdot(z - z_{\rm pred})) = 0` with the Jacobian of the last point
    (chord), step h grown 1.5-fold after an easy correction and halved after a failed one.
    Turning points in t (where ∂F/∂θ is singular and plain Newton stalls) are passed, since the
    augmented matrix stays regular there.  Once t reaches 1 the point is polished by damped
    Newton on F (:func:`newton`), so a returned root satisfies ‖F‖∞ ≤ tol like any other.

    The path either reaches t = 1 (a root), runs off to ‖θ‖∞ > ``theta_max`` or stalls beyond
    ``theta_max / 5`` (``'diverged'``: no finite root on this path, as for (S2)), or stops
    (``'stalled'``: step below 1e-7 at bounded θ;
    ``'max_iter'``: 200 points).  ``max_step`` caps the arclength step.  Never raises on
    failure; returns a :class:`FixedPoint` whose ``iterations`` counts path points plus
    Newton iterations.
    """
    opts = _check_newton_args(tol, max_step, theta_max, max_iter)
    theta = prob.default_start() if theta0 is None else prob.check_theta(theta0)
    report = Progress("homotopy", progress, _PATH_POINTS, report_first=True)
    with threadpool_limits(1, user_api="blas"):
        return _homotopy_run(prob, theta, report, opts)


def _homotopy_run(prob, theta, report, opts):
    theta = perturb.vector(theta, "theta0")         # perturbed mode only (core/perturb.py)
    m = prob.mask

    def fail(status, text, th, points):
        try:
            res = float(np.max(np.abs(prob.residual(th))))
        except NonUniqueStationaryError:                # pcd: no fixed-point law there
            res = np.inf
        return FixedPoint(th, prob, res, points, False, text, np.array([res]), status)

    try:
        F0, jac = prob.residual_and_jacobian(theta)
    except (NonUniqueStationaryError, RuntimeError) as err:
        return FixedPoint(theta, prob, np.inf, 0, False, f"no continuation: {err}",
                          np.array([np.inf]), "no_step")
    if np.max(np.abs(F0)) <= opts["tol"]:
        return _newton_run(prob, theta, lambda *a: None, "", **opts)
    z, h = np.append(theta[m], 0.0), min(0.1, opts["max_step"])
    tau = _tangent(jac, F0, None)
    points = 0

    def theta_of(zz):
        th = theta.copy()
        th[m] = zz[:-1]
        return th

    def H(zz):
        th = theta_of(zz)
        return prob.residual(th) - (1.0 - zz[-1]) * F0, th

    scale = max(1.0, float(np.max(np.abs(F0))))
    while points < _PATH_POINTS:
        A = np.vstack([np.hstack([jac, F0[:, None]]), tau[None, :]])
        zp = z + h * tau
        ok, n_corr, zc = False, 0, zp
        for fresh in (False, True):     # chord corrector; then Newton (fresh Jacobians: kinks)
            zc, Ac = zp.copy(), A
            try:
                for n_corr in range(1, 8):
                    Hc, thc = H(zc)
                    if fresh and n_corr > 1:
                        Ac = np.vstack([np.hstack([prob.residual_and_jacobian(thc)[1],
                                                   F0[:, None]]), tau[None, :]])
                    dz = np.linalg.solve(Ac, -np.append(Hc, tau @ (zc - zp)))
                    zc = zc + dz
                    if not np.all(np.isfinite(zc)) or np.max(np.abs(dz)) > h:
                        break
                    if np.max(np.abs(dz)) <= 1e-9 * max(1.0, np.max(np.abs(zc))) or \
                            np.max(np.abs(H(zc)[0])) <= 1e-8 * scale:
                        ok = True
                        break
            except (np.linalg.LinAlgError, NonUniqueStationaryError):
                ok = False
            if ok or h > 1e-3:
                break
        if not ok:
            h *= 0.5
            far = float(np.max(np.abs(z[:-1]))) > 0.2 * opts["theta_max"]
            if h < _PATH_MIN_STEP and far:      # F saturates far out: as in _no_progress
                th = theta_of(z)
                return fail("diverged", divergence_message(
                    prob, th, f"the continuation path from theta0 to the data stalls far out "
                              f"(max |theta| = {np.max(np.abs(th[m])):.3g} > theta_max/5 at "
                              f"t = {z[-1]:.4g}, after {points} points)"), th, points)
            if h < _PATH_MIN_STEP:
                return fail("stalled", f"continuation stalled at t = {z[-1]:.4g} after {points} "
                            "points: the path could not be followed with steps down to 1e-7 "
                            f"(a bifurcation{_kink(prob, ' or a kink of F')}).", theta_of(z),
                            points)
            continue
        points += 1
        t_prev, z_prev, z = z[-1], z, zc
        th = theta_of(z)
        top = float(np.max(np.abs(th[m])))
        report(points, "t {:.4f}  max|theta| {:.3g}", z[-1], top)
        if top > opts["theta_max"]:
            return fail("diverged", divergence_message(
                prob, th, f"the continuation path from theta0 to the data runs off to infinity "
                          f"(max |theta| > {opts['theta_max']:g} at t = {z[-1]:.4g} of the way, "
                          f"after {points} points)"), th, points)
        if z[-1] >= 1.0:
            # back to t = 1 on the secant through the last two points, then Newton on F
            w = (1.0 - t_prev) / (z[-1] - t_prev)
            th = theta_of(z_prev + w * (z - z_prev))
            fp = _newton_run(prob, th, lambda *a: None, "", **opts)
            how = f" (continuation in {points} path points, then Newton)"
            return replace(fp, iterations=fp.iterations + points, message=fp.message + how)
        try:
            F_unused, jac = prob.residual_and_jacobian(th)
        except NonUniqueStationaryError as err:
            return fail("stalled", f"continuation stopped at t = {z[-1]:.4g}: {err}", th, points)
        tau = _tangent(jac, F0, tau)
        if n_corr <= 3:
            h = min(1.5 * h, opts["max_step"])
    return fail("max_iter", f"continuation did not reach the data in {_PATH_POINTS} path points "
                f"(t = {z[-1]:.4g}).", theta_of(z), points)


def _maximum_likelihood(prob, start, opts):
    """θ_ML (protocol 'eq', same data, model, mask and fixed entries), or None if Newton does not
    reach it (for a Boltzmann machine the problem is convex and it always does)."""
    eq = replace(prob, protocol="eq", k=None, p0=None)
    fp = _newton_run(eq, start, lambda *a: None, "", **opts)
    return fp.theta if fp.converged else None


def _globalise(prob, start, opts, progress):
    """Second stage of :func:`solve` once Newton failed from every start: Newton from θ_ML (the
    equilibrium fixed point, an easy converged neighbour; skipped for protocol 'eq'), then the
    continuation :func:`homotopy` from ``start`` and from θ_ML.  Returns the first converged
    :class:`FixedPoint`, else ``(None, summary of how each stage ended)``."""
    report = Progress("newton", progress, _PATH_POINTS, report_first=True)
    ml = None if prob.protocol == "eq" else _maximum_likelihood(prob, start, opts)
    stages = []
    if ml is not None:
        stages.append(("Newton from theta_ML", lambda: _newton_run(prob, ml, report,
                                                                   "theta_ML  ", **opts)))
    stages.append(("continuation from theta0", lambda: _homotopy_run(prob, start, report, opts)))
    if ml is not None:
        stages.append(("continuation from theta_ML",
                       lambda: _homotopy_run(prob, ml, report, opts)))
    ends = []
    with threadpool_limits(1, user_api="blas"):
        for name, run in stages:
            fp = run()
            if fp.converged:
                return fp, name
            ends.append(f"{name}: {fp.status}")
    return None, "; ".join(ends)


def _starts(prob, theta0, n_starts, seed, scale):
    """Start 0 is ``theta0`` (default :meth:`Problem.default_start`); start j >= 1 adds
    ``scale * default_rng(seed).standard_normal`` to its trainable entries."""
    base = prob.default_start() if theta0 is None else prob.check_theta(theta0)
    rng = np.random.default_rng(seed)
    starts = np.repeat(base[None, :], n_starts, axis=0)
    starts[1:, prob.mask] += scale * rng.standard_normal((n_starts - 1, int(prob.mask.sum())))
    return starts


def _check_start(starts, opts):
    """A start beyond the solver's bound would be diagnosed as 'no finite fixed point': refuse it."""
    top = float(np.max(np.abs(starts))) if starts.size else 0.0
    if top > 0.2 * opts["theta_max"]:
        raise ValueError(f"theta0 has max |theta| = {top:.3g}, beyond theta_max/5 = "
                         f"{0.2 * opts['theta_max']:.3g} where Newton declares a drift to infinity; "
                         f"raise theta_max (e.g. theta_max={10 * top:.3g}) or start closer to 0.")


def _check_cost(prob):
    """Refuse up front a k whose exact Jacobian would take hours per Newton step
    (:func:`~shortrun.numerics.training.problem.check_work`): the tangent route has no early
    stop, unlike the law (:meth:`shortrun.numerics.kernels.Kernel.propagate`)."""
    work = jacobian_work(prob)
    if work:
        check_work(prob.k, work, f"the exact Jacobian of one Newton step (the law and its "
                                 f"{prob.P} derivatives on {prob.template.n_states} states)")


def _check_newton_args(tol, max_step, theta_max, max_iter):
    return dict(tol=check_positive(tol, "tol", "use e.g. 1e-11."),
                max_step=check_positive(max_step, "max_step", "use e.g. 2.0."),
                theta_max=check_positive(theta_max, "theta_max", "use e.g. 50."),
                max_iter=check_count(max_iter, "max_iter"))


def _newton_runs(prob, starts, opts, progress):
    """Newton from each start in turn (a generator), with one progress line for all of them."""
    report = Progress("newton", progress, opts["max_iter"], report_first=True)
    n = len(starts)
    for j, start in enumerate(starts):
        yield _newton(prob, start, report, f"start {j + 1}/{n}  " if n > 1 else "", **opts)


def solve(data, k, protocol="rdm", rule=None, scan=None, p0=None, *, model=None,
          theta0=None, mask=None, tol=1e-11, max_iter=60, max_step=2.0, theta_max=50.0, restarts=0, seed=0,
          scale=START_SCALE, check=True, progress=None, rho=None):
    r"""The fixed point θ* of short-run training (G5) by damped Newton with the exact Jacobian.

    Solves :math:`F(\theta) = \langle\phi\rangle_{p_{\rm fix}(\theta)}
    - \langle\phi\rangle_{\rm data} = 0` on the trainable entries (``mask``; the others stay at ``theta0``), where
    :math:`p_{\rm fix} = U_\theta^k p_0` for rdm/cd, the stationary buffer law
    :math:`B^*(\theta)` for buffer (B2), its Jacobian through the resolvent (B3) (see
    :mod:`shortrun.numerics.training`).

    Parameters
    ----------
    data, k, protocol, rule, scan, p0, mask, model
        As in :func:`shortrun.numerics.training.train` (``model``: the model family, a
        Boltzmann machine by default).
    theta0 : array (P,), optional
        Start; by default :meth:`~shortrun.numerics.training.Problem.default_start`
        (h = atanh m_D, J = 0).
    tol : float
        Convergence when ‖F‖∞ ≤ tol.
    max_iter : int
    max_step : float
        Cap on the ∞-norm of a Newton step (damping far from the root).
    theta_max : float
        Iterates beyond ‖θ‖∞ > theta_max mean that no finite root is being approached.  Newton
        also stops once ‖F‖₂ has fallen by less than 5 % in 12 iterations: as ``'diverged'``
        when max |θ| grew at every one of them (24 below theta_max / 5) -- the iterates slide
        off to infinity along a valley of ‖F‖ whose floor is not 0 -- or when max |θ| >
        theta_max / 5; otherwise as ``'stalled'`` (``FixedPoint.status``).
    restarts, seed, scale : int, int, float
        If Newton fails from ``theta0``, try up to ``restarts`` further starts ``theta0 + scale
        * N(0, 1)`` (seeded; ``scale`` defaults to :data:`START_SCALE`, as in
        :func:`distinct_roots`); the message says how many starts were used and how the others
        ended.  Metropolis kernels, whose F has kinks where a local field vanishes, and parallel
        (synchronous) updates, whose roots are often far from the default start, need this.
        With ``restarts >= 1``, once Newton failed from every start, solve also runs the
        globalisation: Newton from θ_ML (the equilibrium fixed point), then the continuation
        :func:`homotopy` from ``theta0`` and from θ_ML; the first root found is returned, else
        the message says how each stage ended.
    check : bool
        Raise ``RuntimeError`` if Newton does not converge (default); with ``False`` the
        :class:`FixedPoint` is returned with ``converged=False`` and the diagnosis in ``message``.
    progress : bool or None
        Progress line on stderr (iteration, start, ‖F‖∞, max |θ|), as for the trainers: None =
        only once the solve has taken 5 s, True = every second, False = never.
    rho : float in [0, 1), optional
        Protocol 'buffer' only: the buffer's reuse probability (default 0.95).

    Returns
    -------
    FixedPoint

    Raises
    ------
    RuntimeError
        (``check=True``) no convergence; the message says whether the iterates diverged (no
        finite fixed point on their path, (S2)) or stalled (no root near the start).
    """
    prob = problem(data, k, protocol, rule, scan, p0, mask, model=model, rho=rho)
    _check_cost(prob)
    opts = _check_newton_args(tol, max_step, theta_max, max_iter)
    restarts = check_count(restarts, "restarts", 0)
    if restarts > MAX_STARTS:
        raise ValueError(f"restarts={restarts} is more than {MAX_STARTS} Newton runs; pass fewer.")
    seed = check_seed(seed)
    scale = check_positive(scale, "scale", "use e.g. 0.5.")
    failed = []
    starts = _starts(prob, theta0, restarts + 1, seed, scale)
    _check_start(starts[:1], opts)
    for j, fp in enumerate(_newton_runs(prob, starts, opts, progress)):
        if fp.converged:
            if j:
                fp = replace(fp, message=f"{fp.message} (start {j + 1} of {restarts + 1}; the "
                                         f"first start failed: {failed[0].message})")
            return fp
        failed.append(fp)
    first = failed[0]
    fp, how = _globalise(prob, starts[0], opts, progress) if restarts else (None, "")
    if fp is not None:
        return replace(fp, message=f"{fp.message} ({how}, after Newton failed from all "
                                   f"{restarts + 1} starts; the first: {first.message})")
    if restarts:
        ends = Counter(fp.status for fp in failed[1:])
        first = replace(first, message=f"{first.message} [and the {restarts} seeded restarts "
                                       "failed too: " + ", ".join(
                                           f"{n} {status}" for status, n in sorted(ends.items()))
                                       + "]")
        first = replace(first, message=f"{first.message} [globalisation failed too: {how}]")
    if check:
        raise RuntimeError(first.message)
    return first


@dataclass(frozen=True)
class RootSet:
    """Distinct roots found by :func:`distinct_roots` (sorted by residual) and the failed starts."""

    roots: list
    failures: list
    starts: np.ndarray

    @property
    def thetas(self):
        return np.array([r.theta for r in self.roots])

    @property
    def unique(self):
        """True when every converged start reached the same root (and at least one did)."""
        return len(self.roots) == 1

    def summary(self):
        return (f"{len(self.roots)} distinct root(s) from {len(self.starts)} starts "
                f"({len(self.failures)} did not converge)")


def distinct_roots(data, k, protocol="rdm", rule=None, scan=None, p0=None, *,
                   model=None, n_starts=8, seed=0, scale=START_SCALE, theta0=None, mask=None, distinct_tol=1e-6,
                   tol=1e-11, max_iter=60, max_step=2.0, theta_max=50.0, progress=None, rho=None):
    r"""Run Newton from ``n_starts`` seeded starts and return the distinct roots (non-uniqueness).

    Start 0 is ``theta0`` (by default :meth:`Problem.default_start`); start j ≥ 1 adds
    ``scale * default_rng(seed).standard_normal(P)`` to its trainable entries (``scale``:
    :data:`START_SCALE` by default, as in :func:`solve`).  Two converged
    roots are the same when ‖θ_a − θ_b‖∞ ≤ distinct_tol · max(1, ‖θ_a‖∞).  ``progress`` and
    ``rho`` (protocol 'buffer') as in :func:`solve`.

    Returns
    -------
    RootSet
    """
    prob = problem(data, k, protocol, rule, scan, p0, mask, model=model, rho=rho)
    _check_cost(prob)
    opts = _check_newton_args(tol, max_step, theta_max, max_iter)
    n_starts = check_count(n_starts, "n_starts")
    if n_starts > MAX_STARTS:
        raise ValueError(f"n_starts={n_starts} is more than {MAX_STARTS} Newton runs; pass fewer.")
    seed = check_seed(seed)
    scale = check_positive(scale, "scale", "use e.g. 1.0.")
    starts = _starts(prob, theta0, n_starts, seed, scale)
    _check_start(starts[:1], opts)
    roots, failures = [], []
    for fp in _newton_runs(prob, starts, opts, progress):
        if not fp.converged:
            failures.append(fp)
            continue
        same = any(np.max(np.abs(fp.theta - r.theta)) <= distinct_tol * max(
            1.0, np.max(np.abs(r.theta))) for r in roots)
        if not same:
            roots.append(fp)
    roots.sort(key=lambda r: r.residual)
    return RootSet(roots, failures, starts)
