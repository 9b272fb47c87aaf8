"""The fixed-point theorem (G5) to machine precision: Newton with the exact Jacobian.

At the solved θ* the law the protocol matches -- the k-step process p(k, p0) = U^k p0 for Rdm-k
and CD-k, the kernel's stationary law for PCD, p_θ for eq (maximum likelihood) -- reproduces the
data statistics to 1e-10 (checked with the numba kernels, independently of the Jacobian route),
while for Rdm/CD with small k p_θ* does not.  Every test prints both residuals.

Data: for Rdm-k (and pcd, eq), finite-M samples of an SK teacher (the inverse-Ising setting of
docs/theory.md); for CD-k, a 4-pattern mixture (misspecified: a well-specified p_data makes θ_ML a CD
fixed point, whose p_θ* would match the data too).

Parallel (synchronous) updates: roots exist (every case at N = 6) but Newton reaches them from
few starts and gradient ascent cannot reach them at all; see ``check_parallel`` and
``test_parallel_roots_repel_gradient_ascent``.
"""
import time
import warnings

import numpy as np
import pytest
from conftest import exact_tol

from shortrun.numerics.training import fixed_point

from shortrun.numerics import kernels

from shortrun.numerics.core import moments

from shortrun.numerics.kernels import spectral

from shortrun.numerics.data import teachers

from shortrun.numerics import training
from shortrun.numerics.kernels import NotBoltzmannWarning

RULES = ["heatbath", "metropolis"]
SCANS = ["random", "sequential", "continuous"]      # 'parallel': check_parallel below
KS = [1, 2, 5, 20]


def grid_data(protocol, N):
    if protocol == "cd":
        return teachers.pattern_mixture(N, 4, 0.9, seed=N)
    return teachers.sk(N, 0.5, seed=N, field=0.3).data(M=20 * 2**N, seed=1)


def matched_law(fp):
    """The law whose statistics the protocol matches at θ* (G5), from the numba kernels:
    p(k, p0) (rdm, cd), the stationary law (pcd), p_θ (eq)."""
    prob, model = fp.problem, fp.model
    if prob.protocol == "eq":
        return model.boltzmann()
    kernel = kernels.BMKernel(model, prob.rule, prob.scan, warn=False)
    return kernel.stationary() if prob.protocol == "pcd" else kernel.propagate(prob.p0, prob.k)


def mismatches(fp):
    """(‖<φ>_matched − <φ>_data‖∞, ‖<φ>_{p_θ*} − <φ>_data‖∞); matched = p(k, p0) for rdm/cd."""
    target = fp.problem.data.stats
    mis_k = np.max(np.abs(moments.stats(matched_law(fp)) - target))
    mis_eq = np.max(np.abs(moments.stats(fp.model.boltzmann()) - target))
    return mis_k, mis_eq


MATCHED = {"rdm": "p(k,p0)", "cd": "p(k,p0)", "pcd": "stationary", "eq": "p_theta*"}


def report(N, protocol, rule, scan, k, fp, what=""):
    mis_k, mis_eq = mismatches(fp)
    name = "eq (maximum likelihood)" if protocol == "eq" else f"{protocol}-{k} {rule}/{scan}"
    print(f"N={N} {name}{what}: |<phi>_{MATCHED[protocol]} - <phi>_data|_inf = {mis_k:.2e}, "
          f"|<phi>_p_theta* - <phi>_data|_inf = {mis_eq:.2e}  ({fp.iterations} Newton steps)")
    return mis_k, mis_eq


def check_short_run_fixed_point(N, protocol, rule, scan, k, **options):
    data = grid_data(protocol, N)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotBoltzmannWarning)    # parallel heat-bath
        fp = fixed_point.solve(data, k, protocol, rule, scan, **{"restarts": 3, **options})
    mis_k, mis_eq = report(N, protocol, rule, scan, k, fp)
    assert mis_k <= 1e-10
    if protocol == "eq" or (protocol == "pcd" and scan != "parallel"):
        assert mis_eq <= 1e-10              # the matched law is p_θ* itself
    elif k <= 2:
        assert mis_eq > 1e-3
    return fp


def rotation(N):
    """The default run's cases at N = 7…10: one Rdm/CD case per protocol × rule with (scan, k)
    rotating with N, so that every N sees all three scans and all four k; one pcd case and one
    eq case.  (Parallel updates: PARALLEL_DEFAULT.)"""
    n = N - 7
    cases = [(N, protocol, rule, SCANS[(n + 2 * p + r) % 3], KS[(n + p + 2 * r) % 4])
             for p, protocol in enumerate(("rdm", "cd")) for r, rule in enumerate(RULES)]
    return cases + [(N, "pcd", RULES[n % 2], SCANS[n % 3], KS[n % 4]), (N, "eq", "heatbath",
                                                                        "random", None)]


DEFAULT_GRID = ([(6, protocol, rule, scan, k) for protocol in ("rdm", "cd") for rule in RULES
                 for scan in SCANS for k in KS]
                + [(6, "pcd", rule, scan, k) for rule, (scan, k) in zip(RULES * 2, zip(SCANS, KS))]
                + [(6, "eq", "heatbath", "random", None)]
                + [case for N in (7, 8, 9, 10) for case in rotation(N)])
SLOW_GRID = [case for case in
             [(N, protocol, rule, scan, k) for N in (7, 8, 9, 10) for protocol in ("rdm", "cd")
              for rule in RULES for scan in SCANS for k in KS]
             + [(N, "pcd", rule, scan, 3) for N in (6, 7, 8, 9, 10) for rule in RULES
                for scan in SCANS]
             + [(N, "eq", "heatbath", "random", None) for N in (7, 8, 9, 10)]
             if case not in DEFAULT_GRID]


def case_id(case):
    return "-".join(str(c) for c in case if c is not None)


@pytest.mark.parametrize("N, protocol, rule, scan, k", DEFAULT_GRID, ids=list(map(case_id, DEFAULT_GRID)))
def test_short_run_fixed_point(N, protocol, rule, scan, k):
    check_short_run_fixed_point(N, protocol, rule, scan, k)


@pytest.mark.slow
@pytest.mark.parametrize("N, protocol, rule, scan, k", SLOW_GRID, ids=list(map(case_id, SLOW_GRID)))
def test_short_run_fixed_point_full_grid(N, protocol, rule, scan, k):
    check_short_run_fixed_point(N, protocol, rule, scan, k)


# ---------------------------------------------------------------------------------------------
# parallel (synchronous) updates
# ---------------------------------------------------------------------------------------------
#: Parallel updates: at N = 6 every Rdm/CD case has roots, often several, but Newton reaches them
#: from few starts (2-8 of 200 random ones for some cases), and which start succeeds depends on
#: the last bits of the library stack (seed-tuned starts that found a root on one machine failed
#: on another).  No start is tuned here: every case runs solve(restarts=3) with the library's
#: globalisation (Newton from theta_ML, continuation from theta0 and from theta_ML).
#: PARALLEL_FOUND: solve finds the root (asserted to 1e-10, checked with the numba kernels).
#: PARALLEL_HARD: a root exists (PARALLEL_ROOTS, test_parallel_roots_exist) but solve's
#: procedure does not reach it from its starts -- it must then report the failure with every
#: stage named.  No continuation from an easy root reaches these roots either (their branches
#: come in from infinity: test_parallel_hard_roots_are_cut_off_from_the_random_scan_root and the
#: module docstring of fixed_point), so they stay here until a method that is robust in itself
#: finds them.  PARALLEL_AT_INFINITY: F -> 0 only as a coupling grows without bound
#: (test_parallel_zero_at_infinity), so solve returns a point with |F| <= tol far out or reports
#: the drift to infinity.  Root finding itself is also asserted where a root exists by
#: construction (realisable data, test_parallel_root_of_realisable_data).
PARALLEL_GRID = [(N, protocol, rule, k) for N in (6, 7, 8, 9, 10) for protocol in ("rdm", "cd")
                 for rule in RULES for k in KS]
PARALLEL_FOUND = [(6, "cd", "metropolis", 2), (6, "cd", "metropolis", 5), (6, "rdm", "heatbath", 1)]
PARALLEL_HARD = [(6, "rdm", "metropolis", 2), (6, "cd", "heatbath", 1)]
PARALLEL_AT_INFINITY = [(8, "cd", "heatbath", 2)]
#: the four cases reported failing on another machine, and one per protocol x rule at N = 6
PARALLEL_DEFAULT = [(6, "rdm", "metropolis", 2), (6, "cd", "metropolis", 2),
                    (6, "cd", "metropolis", 5), (8, "cd", "heatbath", 2),
                    (6, "rdm", "heatbath", 1), (6, "cd", "heatbath", 1)]
PARALLEL_SLOW = [case for case in PARALLEL_GRID if case not in PARALLEL_DEFAULT]

#: Evidence that the roots exist: theta* found on one machine by Newton from the seed-tuned starts
#: of an earlier version of this file ((6, rdm, metropolis, 2): theta_ML + N(0, 1), seed 2, 6th
#: start; (6, cd, heatbath, 1): the default start + 0.3 N(0, 1), seed 0, 3rd start;
#: (6, cd, metropolis, 2 / 5): 2nd start, scale 1.0 seed 3 / scale 0.5 seed 1), 17 digits.
#: (8, cd, heatbath, 2): the point of the default start's Newton path (before the least-squares
#: step for singular Jacobians) where |F|_inf fell below 1e-11 -- not a root: F -> 0 only as
#: theta[23] -> infinity (test_parallel_zero_at_infinity).
PARALLEL_ROOTS = {
    (6, 'rdm', 'metropolis', 2): [
        -0.21548065453981052, 1.6294057831701114, 1.26011088986164, 0.36089438778157534,
        2.605792459101173, 0.18365822019902847, 2.2586725021558496, 1.3892965695686785,
        -0.14821998527173819, 4.8383798249264895, -0.10478795745780892, -1.3693779616901487,
        -0.0687975457870877, 1.5643760037137338, -0.6148936805966547, -0.07587757419662271,
        1.3892939392505843, 0.5584516069843565, -0.307005804942058, -0.03201219895950672,
        0.12923559848413826,
    ],
    (6, 'cd', 'heatbath', 1): [
        -0.9024589899998737, 0.028879433194625, 0.9024589900034836, -0.5318024189014581,
        0.5318024189024626, -3.242138286104399, -0.6100536155366014, 0.4215140863473184,
        1.7465783061576865, 1.8045267465648689, -2.5868771379473015, 0.6100536155207629,
        1.137179432335057, -1.1371794323325017, 1.050269956483479, 1.804526746564059,
        1.746578306163344, 2.5868771379388877, -0.5730563055341714, -2.1695035030805068,
        2.169503503085154,
    ],
    (6, 'cd', 'metropolis', 2): [
        -0.13440110868380326, 2.0975592379830696, 0.18054892431285255, -0.05464467461847033,
        0.34529126953403416, 1.8194373176518885, -0.06722667013352952, 3.186108359959341,
        -0.009920927324391836, 3.2789779502002583, 0.02338987837802974, 2.2911518678015224,
        -0.041190220057959165, -2.671819886129464, -2.7985931517565237, 0.0836151488801272,
        1.620611451912036, -2.676407206198122, 0.11744668300150551, 0.014807061012111319,
        1.9270456944880514,
    ],
    (6, 'cd', 'metropolis', 5): [
        -1.3105448308533534, -0.866797124256488, 0.06196008597692726, 0.1817436376650644,
        0.030501115367405053, 1.4219767653125888, -1.008186158002085, -2.147115961753413,
        0.17137827385537246, 0.36491039022720545, 1.0933711931935324, 0.9380524733191742,
        0.281405972026965, -0.433217102033971, 0.16175467645030658, -2.0976102970339787,
        1.6485732095533783, -0.7359525402917841, -2.1580547466022924, -0.348592587025214,
        0.38377285892356744,
    ],
    (8, 'cd', 'heatbath', 2): [
        1.3055643133187247, -1.0752498148733503, -0.01122345313314423, -0.7287605559151856,
        0.7287605559151988, -0.00740421024583492, 1.0752498148733147, -0.7287605559151901,
        0.9005362777438336, -0.2774223910201461, 0.635926507448883, -0.6359265074488712,
        -0.27742239102013705, -0.9005362777438309, 0.6359265074488762, -0.15770748622821587,
        -0.34893022256953543, 0.3489302225695359, -0.1577074862282062, -1.2577453971688957,
        -0.3489302225695349, -0.08567056972637949, 0.08567056972639113, 13.831125354324291,
        0.15770748622819628, -0.08567056972638365, -0.5741015091745831, -0.08567056972637459,
        0.3489302225695255, 0.5741015091745898, 0.08567056972638531, -0.34893022256952516,
        -0.5741015091745828, 0.15770748622818642, -0.08567056972637871, 0.3489302225695242,
    ],
}


def parallel_problem(N, protocol, rule, k):
    from shortrun.numerics.training.problem import problem
    return problem(grid_data(protocol, N), k, protocol, rule, "parallel", None, None)


def check_parallel(N, protocol, rule, k):
    """A root to 1e-10 from solve(restarts=3) where PARALLEL_FOUND says the procedure finds it;
    elsewhere a root or a failure reported as such, with every stage named."""
    case = (N, protocol, rule, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotBoltzmannWarning)
        fp = fixed_point.solve(grid_data(protocol, N), k, protocol, rule, "parallel", restarts=3,
                               check=False)
    mis_k, mis_eq = report(N, protocol, rule, "parallel", k, fp,
                           "" if fp.converged else " (no root found; last iterate)")
    print(fp.message)
    assert fp.converged or case not in PARALLEL_FOUND, "solve must find this root"
    if fp.converged:
        assert fp.status == "converged" and fp.residual <= 1e-11 and mis_k <= 1e-10
        if k <= 2:
            assert mis_eq > 1e-3
        return
    assert fp.status in ("diverged", "stalled", "max_iter") and mis_k > 1e-11
    if case in PARALLEL_AT_INFINITY:
        assert fp.status == "diverged"
    assert "[and the 3 seeded restarts failed too: " in fp.message
    assert "[globalisation failed too: Newton from theta_ML: " in fp.message
    assert "continuation from theta0: " in fp.message
    if fp.status == "diverged":
        assert "Caution, parallel (synchronous) updates" in fp.message
    if rule == "heatbath":                      # no kinks to blame: F is smooth
        assert "Metropolis" not in fp.message


def test_parallel_case_lists():
    assert sorted(PARALLEL_FOUND + PARALLEL_HARD + PARALLEL_AT_INFINITY) == sorted(PARALLEL_DEFAULT)
    assert set(PARALLEL_HARD + PARALLEL_AT_INFINITY) <= set(PARALLEL_ROOTS)


@pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")
@pytest.mark.parametrize("case", [c for c in PARALLEL_ROOTS if c not in PARALLEL_AT_INFINITY],
                         ids=[case_id(c) for c in PARALLEL_ROOTS if c not in PARALLEL_AT_INFINITY])
def test_parallel_roots_exist(case):
    """The recorded roots are isolated roots: Newton from them (tol 1e-13) stays within the bound
    2 |F(theta_rec)|_2 / sigma_min(dF/dtheta) + 1e-12 (|theta| + 1) of the record, the matched
    law p(k, p0) of the numba kernels reproduces the data to 1e-10, and dF/dtheta is regular
    there (condition number < 1e6), so the root persists under small perturbations of the data."""
    prob = parallel_problem(*case)
    rec = np.array(PARALLEL_ROOTS[case])
    F, jac = prob.residual_and_jacobian(rec)
    sv = np.linalg.svd(jac, compute_uv=False)
    fp = fixed_point.newton(prob, rec, tol=1e-13, max_iter=5)
    move = np.max(np.abs(fp.theta - rec))
    bound = 2 * np.linalg.norm(F) / sv[-1] + 1e-12 * (np.max(np.abs(rec)) + 1)
    print(case_id(case), f"|F(rec)|_inf = {np.max(np.abs(F)):.2e}, cond = {sv[0] / sv[-1]:.3g}, "
          f"Newton moved {move:.2e} <= {bound:.2e}, |F|_inf = {fp.residual:.2e}")
    assert sv[0] / sv[-1] < 1e6 and move <= bound
    assert fp.converged and mismatches(fp)[0] <= 1e-10


def track_mixture(easy, hard, theta, h=0.05, max_points=300, theta_max=50.0):
    """Pseudo-arclength continuation of H(theta, s) = (1 - s) F_easy(theta) + s F_hard(theta) from
    a root (theta, 0) of F_easy towards s = 1 (the problem homotopy between two scans; for k = 1
    it is the kernel homotopy U_s = (1 - s) U_easy + s U_hard).  Returns the accepted points
    (s, max |theta|, |H|_inf) and how the path ended: 'root' (s = 1 reached), 'infinity'
    (max |theta| > theta_max) or 'stalled'."""
    m = hard.mask

    def H(z):
        th = theta.copy()
        th[m] = z[:-1]
        (Fa, Ja), (Fb, Jb) = easy.residual_and_jacobian(th), hard.residual_and_jacobian(th)
        return (1 - z[-1]) * Fa + z[-1] * Fb, np.hstack([(1 - z[-1]) * Ja + z[-1] * Jb,
                                                          (Fb - Fa)[:, None]])

    def tangent(A, ref):
        t = np.linalg.svd(A)[2][-1]
        return -t if t @ ref < 0 else t

    z = np.append(theta[m], 0.0)
    tau = tangent(H(z)[1], np.eye(len(z))[-1])
    points = []
    while len(points) < max_points:
        zp = z + h * tau
        zc, ok = zp.copy(), False
        for it in range(10):
            Hc, A = H(zc)
            dz = np.linalg.solve(np.vstack([A, tau]), -np.append(Hc, tau @ (zc - zp)))
            zc = zc + dz
            if np.max(np.abs(dz)) > h:
                break
            if np.max(np.abs(dz)) <= 1e-9 * max(1.0, np.max(np.abs(zc))):
                ok = True
                break
        if not ok:
            h *= 0.5
            if h < 1e-9:
                return points, "stalled"
            continue
        z = zc
        Hz, A = H(z)
        points.append((z[-1], np.max(np.abs(z[:-1])), np.max(np.abs(Hz))))
        if points[-1][1] > theta_max:
            return points, "infinity"
        if z[-1] >= 1.0:
            return points, "root"
        tau = tangent(A, tau)
        if it <= 3:
            h = min(1.5 * h, 0.5)
    return points, "max_points"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")
@pytest.mark.parametrize("case", PARALLEL_HARD, ids=list(map(case_id, PARALLEL_HARD)))
def test_parallel_hard_roots_are_cut_off_from_the_random_scan_root(case):
    """Why no continuation reaches PARALLEL_HARD: the problem homotopy from the random-scan root
    (found by plain Newton) to the parallel problem runs off to infinity at s* < 1/2 -- the
    path's s settles while max |theta| grows past 50, every point a root of H(., s) to 1e-9 --
    so the branch of the easy root has no finite continuation to the parallel problem, and the
    recorded roots lie on other branches (every path through them tried leaves to infinity or
    stops at a Metropolis kink near s = 1)."""
    from dataclasses import replace
    hard = parallel_problem(*case)
    easy = replace(hard, scan="random")
    start = fixed_point.newton(easy)
    assert start.converged
    points, end = track_mixture(easy, hard, start.theta)
    s_end, top, worst = points[-1][0], points[-1][1], max(p[2] for p in points)
    print(case_id(case), f"{len(points)} points, ended at s = {s_end:.4f}: {end} "
          f"(max |theta| = {top:.3g}, |H|_inf <= {worst:.1e} on the path)")
    assert end == "infinity" and s_end < 0.5 and worst <= 1e-9
    assert abs(points[-1][0] - points[-10][0]) <= 1e-3          # s settles: an asymptote


@pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")
def test_parallel_zero_at_infinity():
    """CD-2 parallel heat-bath at N = 8 has no finite root near the recorded point: along
    theta[23] (a coupling) F shrinks by e^-2 per unit, |F(theta + d e_23)|_2 = e^{-2d} |F(theta)|_2
    to 1e-3 relative (1 - tanh x ~ 2 e^{-2x}), so |F| -> 0 only as theta[23] -> infinity; |F|_inf
    <= 1e-11 from theta[23] ~ 13.8 on, and the Jacobian is singular there (condition > 1e12)."""
    case = PARALLEL_AT_INFINITY[0]
    prob = parallel_problem(*case)
    rec = np.array(PARALLEL_ROOTS[case])
    along = []
    for d in range(-4, 1):
        th = rec.copy()
        th[23] += d
        along.append(prob.residual(th))
    along = np.array(along)
    norms = np.linalg.norm(along, axis=1)
    ratio = norms[1:] / norms[:-1]
    print("|F|_2 ratios per unit of theta[23]:", ratio, "e^-2 =", np.exp(-2.0))
    assert np.all(np.abs(ratio / np.exp(-2.0) - 1) <= 1e-3)
    assert np.max(np.abs(along[-1])) <= 1e-11 < np.max(np.abs(along[0]))
    assert np.linalg.cond(prob.residual_and_jacobian(rec)[1]) > 1e12


@pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")
def test_parallel_root_of_realisable_data():
    """Rdm-2 parallel heat-bath on realisable data -- the exact 2-step law of an SK teacher from
    uniform p0 -- has the teacher as a root by construction: solve must find a root (to 1e-10,
    checked with the numba kernels), whatever the last bits (run in the perturbed mode)."""
    teacher = teachers.sk(6, 0.5, seed=6, field=0.3).model
    law = kernels.BMKernel(teacher, "heatbath", "parallel").propagate(np.full(64, 1 / 64), 2)
    fp = fixed_point.solve(teachers.as_data(law), 2, "rdm", "heatbath", "parallel", restarts=3)
    print(fp.message, f"|theta* - teacher|_inf = {np.max(np.abs(fp.theta - teacher.theta)):.2e}")
    assert fp.residual <= 1e-11 and mismatches(fp)[0] <= 1e-10


@pytest.mark.parametrize("N, protocol, rule, k", PARALLEL_DEFAULT,
                         ids=list(map(case_id, PARALLEL_DEFAULT)))
def test_parallel_fixed_point(N, protocol, rule, k):
    check_parallel(N, protocol, rule, k)


@pytest.mark.slow
@pytest.mark.parametrize("N, protocol, rule, k", PARALLEL_SLOW,
                         ids=list(map(case_id, PARALLEL_SLOW)))
def test_parallel_fixed_point_full_grid(N, protocol, rule, k):
    check_parallel(N, protocol, rule, k)


def test_default_grid_covers_every_protocol_rule_scan_and_k():
    cases = DEFAULT_GRID + [(N, p, r, "parallel", k) for N, p, r, k in PARALLEL_DEFAULT]
    assert {c[0] for c in cases} == {6, 7, 8, 9, 10}
    assert {c[1] for c in cases} == {"rdm", "cd", "pcd", "eq"}
    assert {c[2] for c in cases} == set(RULES)
    assert {c[3] for c in cases} == set(SCANS) | {"parallel"}
    for N in (6, 7, 8, 9, 10):
        short = [c for c in DEFAULT_GRID if c[0] == N and c[1] in ("rdm", "cd")]
        assert {c[3] for c in short} == set(SCANS) and {c[4] for c in short} == set(KS)
        assert {"pcd", "eq"} <= {c[1] for c in DEFAULT_GRID if c[0] == N}


@pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")
def test_parallel_roots_repel_gradient_ascent():
    """Why training with parallel updates does not converge although fixed points exist: at a
    root the Jacobian ∂F/∂θ has eigenvalues with negative real part (every root found at N = 6),
    so gradient ascent θ ← θ − lr F(θ) leaves it for any lr, and the trainer stops with a
    divergence error.  Heat-bath: with h = 0 the map s(t) → (−1)^t s(t) turns the synchronous
    chain with J into the one with −J, so all equal-time statistics are even in J ((Ic),
    C(t+1) ≈ J C(t) J): ⟨s_i s_j⟩_data − ⟨s_i s_j⟩_k, which drives J_ij, does not tell the sign of
    J_ij.  (Metropolis has no such symmetry.)"""
    data = grid_data("rdm", 6)
    # the default start J = 0 is a singular point here (from uniform p0 every dF/dJ vanishes at
    # J = 0), so Newton needs the restarts and the globalisation
    fp = fixed_point.solve(data, 1, "rdm", "heatbath", "parallel", restarts=3)
    eig = np.linalg.eigvals(fp.problem.residual_and_jacobian(fp.theta)[1])
    print("real parts of the eigenvalues of dF/dtheta at the root:", np.round(np.sort(eig.real), 3))
    assert fp.residual <= 1e-10 and eig.real.min() < -0.5
    with pytest.raises(RuntimeError, match="training diverged"):
        training.train(data, 1, "rdm", "heatbath", "parallel", lr=0.05, n_steps=20000,
                       theta0=fp.theta + 1e-6, progress=False)
    from shortrun.numerics.models import BoltzmannMachine
    rng = np.random.default_rng(0)
    J = np.triu(rng.normal(0, 0.8, (6, 6)), 1)
    for rule, even in (("heatbath", True), ("metropolis", False)):
        a, b = (moments.stats(kernels.law(BoltzmannMachine(np.zeros(6), sign * (J + J.T)),
                                          "uniform", 3, rule, "parallel")) for sign in (1, -1))
        assert (np.max(np.abs(a - b)) <= exact_tol(6)) == even


def test_newton_reports_drift_to_infinity():
    """No root with every parameter trainable: random-scan heat-bath from uniform p0 leaves a
    spin never updated in k sweeps with probability q = (1 - 1/N)^{kN}, so |m_i(k)| < 1 - q for
    every finite θ ((S2)); with N = 7, k = 1, m_D = tanh 0.8 > 1 - q = 0.660.  Newton's
    iterates run off while |F| stays put; solve stops early and says why."""
    from shortrun.numerics.models import BoltzmannMachine
    N = 7
    data = teachers.exact_data(BoltzmannMachine(np.full(N, 0.8), np.zeros((N, N))))
    assert np.tanh(0.8) > 1 - (1 - 1 / N) ** N
    fp = fixed_point.solve(data, 1, "rdm", check=False)
    print(fp.message)
    assert fp.status == "diverged" and fp.iterations < 60 and np.max(np.abs(fp.theta)) > 10
    assert "drift off to infinity" in fp.message and "Caution" not in fp.message
    with pytest.raises(RuntimeError, match=r"no finite fixed point theta\* of \(G5\) seems to "
                                           r"exist.*\[and the 2 seeded restarts failed too: 2 "
                                           r"diverged\]"):
        fixed_point.solve(data, 1, "rdm", restarts=2)


@pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")
def test_failing_parallel_solve_stops_early_with_a_diagnosis():
    """The audit's slow case, CD-5 heat-bath parallel at N = 6: none of solve's four default
    starts reaches a root (seeded starts reach one on some machines).  Each start now stops
    once |F| stops falling, with a diagnosis, instead of running max_iter iterations."""
    t = time.perf_counter()
    rs = fixed_point.distinct_roots(grid_data("cd", 6), 5, "cd", "heatbath", "parallel",
                                    n_starts=4, seed=0, scale=0.5)
    print([(fp.status, fp.iterations) for fp in rs.failures], f"{time.perf_counter() - t:.1f}s")
    assert not rs.roots and len(rs.failures) == 4
    assert all(fp.status in ("diverged", "stalled") and fp.iterations < 60 for fp in rs.failures)


def test_newton_progress_line(capsys):
    data = grid_data("rdm", 5)
    fixed_point.solve(data, 2, progress=True)
    err = capsys.readouterr().err
    print(err)
    assert err.startswith("[newton] update 1/60  |F|_inf ") and "max|theta|" in err
    fixed_point.solve(data, 2, restarts=1, progress=True)
    assert capsys.readouterr().err.startswith("[newton] update 1/60  start 1/2  |F|_inf ")
    for progress in (None, False):           # None: silent for a solve shorter than 5 s
        fixed_point.solve(data, 2, progress=progress)
        assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="progress"):
        fixed_point.solve(data, 2, progress="yes")


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
def test_pcd_and_eq_fixed_points_are_maximum_likelihood(rule, scan):
    """A persistent chain relaxes to the stationary law (p_θ here): PCD's fixed point is θ_ML."""
    data = grid_data("rdm", 6)
    eq = fixed_point.solve(data, None, "eq")
    pcd = fixed_point.solve(data, 3, "pcd", rule, scan)
    mis_eq = np.max(np.abs(moments.stats(pcd.model.boltzmann()) - data.stats))
    print(f"pcd {rule}/{scan}: |theta_pcd - theta_ML|_inf = "
          f"{np.max(np.abs(pcd.theta - eq.theta)):.2e}, p_theta* mismatch {mis_eq:.2e}")
    assert mis_eq <= 1e-10
    assert np.max(np.abs(pcd.theta - eq.theta)) <= 1e-9


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
def test_cd_has_the_teacher_as_fixed_point_for_every_k(rule, scan):
    """Well-specified data (exact law of a BM): F_cd(θ_teacher) = 0 for every k, not so for Rdm."""
    teacher = teachers.sk(7, 0.6, seed=5, field=0.2)
    data = teacher.data()
    for k in (1, 2, 5, 20):
        cd = fixed_point.problem(data, k, "cd", rule, scan)
        rdm = fixed_point.problem(data, k, "rdm", rule, scan)
        r_cd = np.max(np.abs(cd.residual(teacher.theta)))
        r_rdm = np.max(np.abs(rdm.residual(teacher.theta)))
        print(f"{rule}/{scan} k={k}: residual at the teacher, CD {r_cd:.1e}, Rdm {r_rdm:.1e}")
        assert r_cd <= 1e-12
        if k <= 2:
            assert r_rdm > 1e-3
    # Newton from a perturbed teacher returns to it (for even k sequential Metropolis also has
    # the trivial root θ = 0, see below, so the start matters)
    start = teacher.theta + 0.1 * np.random.default_rng(0).standard_normal(len(teacher.theta))
    fp = fixed_point.solve(data, 2, "cd", rule, scan, theta0=start)
    assert np.max(np.abs(fp.theta - teacher.theta)) <= 1e-9


def test_rdm_roots_converge_to_maximum_likelihood_like_lambda1_to_the_k():
    teacher = teachers.sk(5, 0.5, seed=2, field=0.3)
    data = teacher.data()
    ml = fixed_point.solve(data, None, "eq")
    assert np.max(np.abs(ml.theta - teacher.theta)) <= 1e-10        # well specified: θ_ML = teacher
    lam = spectral.decompose(kernels.BMKernel(teacher.model, "heatbath", "random")).eigenvalues
    ks = [4, 8, 12, 16, 20]
    dist = np.array([np.max(np.abs(fixed_point.solve(data, k, "rdm").theta - ml.theta))
                     for k in ks])
    rates = (dist[1:] / dist[:-1]) ** (1 / 4)
    print("|theta*(k) - theta_ML|_inf:", dict(zip(ks, np.round(dist, 10))),
          "rates:", np.round(rates, 4), "lambda_1 =", round(lam[1], 4))
    assert np.all(np.diff(dist) < 0)
    # the slowest odd modes (lambda_1, lambda_2 = 0.598, 0.585) dominate: the rate tends to lambda_1
    assert abs(rates[-1] - lam[1]) < 0.01 and rates[-1] <= lam[1]
    far = fixed_point.solve(data, 80, "rdm")
    assert np.max(np.abs(far.theta - ml.theta)) <= 1e-10


def _metropolis_two_sweep_roots(m0, mD):
    """Fields h with m(2) = mD for one spin, sequential Metropolis, start magnetisation m0.

    h > 0, u = e^{-2h}: m(2) = 1 - 2u + (1 + m0) u^2;
    h < 0, v = e^{2h}:  m(2) = -1 + 2v - (1 - m0) v^2.
    """
    roots = []
    for u in np.roots([1 + m0, -2.0, 1 - mD]):
        if np.isreal(u) and 0 < u.real < 1:
            roots.append(-0.5 * np.log(u.real))
    for v in np.roots([-(1 - m0), 2.0, -1 - mD]):
        if np.isreal(v) and 0 < v.real < 1:
            roots.append(0.5 * np.log(v.real))
    return np.sort(roots)


def test_non_uniqueness_metropolis_two_sweeps():
    """Independent spins, sequential Metropolis, k = 2, p0 with m(0) = 0.5, m_D = 0.4: each field
    has three roots (closed form above), so the trained model is far from unique."""
    N, m0, mD = 4, 0.5, 0.4
    from shortrun.numerics.models import BoltzmannMachine
    p0 = BoltzmannMachine(np.full(N, np.arctanh(m0)), np.zeros((N, N))).boltzmann()
    data = teachers.exact_data(BoltzmannMachine(np.full(N, np.arctanh(mD)), np.zeros((N, N))))
    expected = _metropolis_two_sweep_roots(m0, mD)
    assert len(expected) == 3
    rs = fixed_point.distinct_roots(data, 2, "rdm", "metropolis", "sequential", p0,
                                    mask="fields", n_starts=24, seed=1, scale=0.3)
    print(rs.summary(), "closed-form roots per spin:", np.round(expected, 6))
    assert len(rs.roots) >= 3 and not rs.unique
    for r in rs.roots:
        assert r.residual <= 1e-11
        assert np.all(r.theta[N:] == 0)
        assert np.all(np.min(np.abs(r.theta[:N, None] - expected[None, :]), axis=1) < 1e-9)


def test_cd_metropolis_even_k_has_the_trivial_root():
    """At θ = 0 Metropolis flips every visited spin, so two sequential sweeps are the identity:
    θ = 0 is an exact CD-2 fixed point for any data, besides the root from the default start."""
    data = grid_data("cd", 5)
    trivial = fixed_point.solve(data, 2, "cd", "metropolis", "sequential", theta0=np.zeros(15))
    assert trivial.iterations == 0 and trivial.residual <= 1e-15
    other = fixed_point.solve(data, 2, "cd", "metropolis", "sequential", restarts=3)
    assert np.max(np.abs(other.theta)) > 0.1


def test_newton_reports_non_existence_of_a_fixed_point():
    """(S2): m_D = tanh 0.8, k = 1, random-scan heat-bath, J fixed at 0.  With N = 8,
    1 - q = 0.656 < m_D: no finite field; with N = 6, 1 - q = 0.6651 > 0.6640: a finite root."""
    def data(N):
        from shortrun.numerics.models import BoltzmannMachine
        return teachers.exact_data(BoltzmannMachine(np.full(N, 0.8), np.zeros((N, N))))

    with pytest.raises(RuntimeError, match=r"\(S2\).*1 - q") as err:
        fixed_point.solve(data(8), 1, "rdm", mask="fields")
    print(err.value)
    fp = fixed_point.solve(data(6), 1, "rdm", mask="fields", tol=1e-14)  # dh = dF / 0.002
    q = (1 - 1 / 6) ** 6
    assert np.allclose(fp.theta[:6], np.arctanh(np.tanh(0.8) / (1 - q)), atol=1e-9, rtol=0)
    fp_soft = fixed_point.solve(data(8), 1, "rdm", mask="fields", check=False)
    assert not fp_soft.converged and np.all(np.isfinite(fp_soft.theta))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_independent_spins_heatbath_random_closed_form(k):
    """tanh h* = (m_D - q m(0))/(1 - q), q = (1 - 1/N)^{kN} ((S2)); uniform and product p0."""
    from shortrun.numerics.models import BoltzmannMachine
    N = 7
    mD = np.linspace(-0.5, 0.55, N)
    data = teachers.exact_data(BoltzmannMachine(np.arctanh(mD), np.zeros((N, N))))
    q = (1 - 1 / N) ** (k * N)
    m0 = np.linspace(0.3, -0.3, N)
    p0 = BoltzmannMachine(np.arctanh(m0), np.zeros((N, N))).boltzmann()
    for start, mstart in (("uniform", 0.0), (p0, m0)):
        fp = fixed_point.solve(data, k, "rdm", "heatbath", "random", start, mask="fields")
        expected = np.arctanh((mD - q * mstart) / (1 - q))
        assert np.max(np.abs(fp.theta[:N] - expected)) <= 1e-10
        assert np.all(fp.theta[N:] == 0)


@pytest.mark.parametrize("scan", ["sequential", "parallel"])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_independent_spins_heatbath_sequential_parallel_closed_form(scan, k):
    """Heat-bath sequential or parallel equilibrates independent spins in one sweep:
    h* = atanh m_D."""
    from shortrun.numerics.models import BoltzmannMachine
    N = 5
    mD = np.linspace(-0.7, 0.8, N)
    data = teachers.exact_data(BoltzmannMachine(np.arctanh(mD), np.zeros((N, N))))
    fp = fixed_point.solve(data, k, "rdm", "heatbath", scan, mask="fields")
    assert np.max(np.abs(fp.theta[:N] - np.arctanh(mD))) <= 1e-10


def test_independent_spins_metropolis_sequential_k1_closed_form():
    """Metropolis, sequential, k = 1, uniform p0: m(1) = 1 - e^{-2h} (h > 0), h* = -½ ln(1 - m_D),
    below the equilibrium value atanh m_D (and h* = ½ ln(1 + m_D) for m_D < 0 by symmetry)."""
    from shortrun.numerics.models import BoltzmannMachine
    N = 6
    mD = np.array([0.1, 0.35, 0.6, 0.85, -0.4, -0.7])
    data = teachers.exact_data(BoltzmannMachine(np.arctanh(mD), np.zeros((N, N))))
    fp = fixed_point.solve(data, 1, "rdm", "metropolis", "sequential", mask="fields")
    expected = -np.sign(mD) * 0.5 * np.log(1 - np.abs(mD))
    assert np.max(np.abs(fp.theta[:N] - expected)) <= 1e-10
    assert np.all(np.abs(expected) < np.abs(np.arctanh(mD)))


def test_continuous_time_ring_matches_the_documented_check_values():
    """(Ib) check: 5-spin ring, h = 0, continuous-time Glauber, β = 0.1: learned/true
    nearest-neighbour coupling ratio 1.6197, 1.1641, 1.0202 at k = 0.5, 1, 2."""
    teacher = teachers.ring(5, 0.1)
    data = teacher.data()
    for k, ratio in ((0.5, 1.6197), (1.0, 1.1641), (2.0, 1.0202)):
        fp = fixed_point.solve(data, k, "rdm", "heatbath", "continuous")
        J = fp.model.J
        assert abs(J[0, 1] / 0.1 - ratio) < 5e-5
        assert np.allclose(fp.theta[:5], 0, atol=1e-12)


def test_parallel_fixed_points_when_they_exist():
    """Parallel updates: PCD's fixed point matches the data under the non-Boltzmann stationary law
    (parallel heat-bath), and CD-1 parallel Metropolis has a root here."""
    data = teachers.ring(6, 0.4, field=0.2).data(M=2000, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotBoltzmannWarning)
        pcd = fixed_point.solve(data, 1, "pcd", "heatbath", "parallel")
        pi = kernels.BMKernel(pcd.model, "heatbath", "parallel").stationary()
    assert np.max(np.abs(moments.stats(pi) - data.stats)) <= 1e-10
    assert np.max(np.abs(moments.stats(pcd.model.boltzmann()) - data.stats)) > 1e-2
    cd = fixed_point.solve(data, 1, "cd", "metropolis", "parallel")
    assert mismatches(cd)[0] <= 1e-10


def test_pcd_parallel_metropolis_without_unique_stationary_law():
    """At h = 0, J = 0 (the default start for zero-field data, given explicitly so that the
    perturbed mode keeps its exact zeros) synchronous Metropolis maps s to -s and has no unique
    stationary law; Newton reports it instead of raising."""
    data = teachers.ring(5, 0.3).data()
    zero = np.zeros(15)
    fp = fixed_point.solve(data, 1, "pcd", "metropolis", "parallel", theta0=zero, check=False)
    assert not fp.converged and fp.residual == np.inf and "not unique" in fp.message
    with pytest.raises(RuntimeError, match="not unique"):
        fixed_point.solve(data, 1, "pcd", "metropolis", "parallel", theta0=zero)


def test_validation_errors():
    data = grid_data("rdm", 3)
    with pytest.raises(ValueError, match="protocol"):
        fixed_point.solve(data, 1, "ml")
    with pytest.raises(ValueError, match="p0 must not be given"):
        fixed_point.solve(data, 1, "cd", p0="uniform")
    with pytest.raises(ValueError, match="k is required"):
        fixed_point.solve(data, None, "rdm")
    with pytest.raises(ValueError, match="k="):
        fixed_point.solve(data, -1, "rdm")
    with pytest.raises(ValueError, match="tol"):
        fixed_point.solve(data, 1, tol=0)
    with pytest.raises(ValueError, match="theta0"):
        fixed_point.solve(data, 1, theta0=np.zeros(4))
    with pytest.raises(ValueError, match="mask"):
        fixed_point.solve(data, 1, mask="diagonal")
    with pytest.raises(ValueError, match="mask"):
        fixed_point.solve(data, 1, mask=np.ones(6, int))
    with pytest.raises(ValueError, match="theta0"):
        fixed_point.solve(data, 1, theta0=np.full(6, np.nan))


def test_distinct_roots_is_reproducible():
    data = grid_data("rdm", 5)
    a = fixed_point.distinct_roots(data, 2, n_starts=4, seed=3)
    b = fixed_point.distinct_roots(data, 2, n_starts=4, seed=3)
    assert np.array_equal(a.starts, b.starts) and np.array_equal(a.thetas, b.thetas)
    assert a.unique


@pytest.mark.filterwarnings("ignore::shortrun.numerics.kernels.NotBoltzmannWarning")
@pytest.mark.parametrize("scan", ["random", "sequential", "parallel", "continuous"])
@pytest.mark.parametrize("rule", RULES)
def test_independent_spins_agree_with_the_theory_module(rule, scan):
    """Cross-check with shortrun.theory.independent (if present): Newton's fields = closed forms
    (heat-bath) or the 1-D roots (Metropolis) for every rule and scan."""
    independent = pytest.importorskip("shortrun.theory.independent")
    from shortrun.numerics.models import BoltzmannMachine
    N = 5
    mD = np.array([-0.45, -0.1, 0.15, 0.3, 0.5])
    data = teachers.exact_data(BoltzmannMachine(np.arctanh(mD), np.zeros((N, N))))
    for k in ([0.7, 1.5] if scan == "continuous" else [1, 3]):
        fp = fixed_point.solve(data, k, "rdm", rule, scan, mask="fields")
        h = independent.field_fixed_point(mD, k, rule, scan, N=N)
        assert np.max(np.abs(fp.theta[:N] - h)) <= 1e-9, (k, fp.theta[:N], h)


def test_homotopy_reaches_the_root_or_reports_divergence():
    """The continuation of solve's globalisation, on its own: from the default start it reaches
    the root Newton finds (Rdm-2, N = 5; the same root to 1e-9), and where no finite root exists
    ((S2): N = 8, m_D = tanh 0.8, k = 1, fields only) its path runs off to infinity and it says
    so instead of returning a point."""
    from shortrun.numerics.models import BoltzmannMachine
    prob = fixed_point.problem(grid_data("rdm", 5), 2, "rdm")
    ref = fixed_point.newton(prob)
    hp = fixed_point.homotopy(prob)
    print(hp.message)
    assert ref.converged and hp.converged and hp.residual <= 1e-11
    assert np.max(np.abs(hp.theta - ref.theta)) <= 1e-9
    N = 8
    data = teachers.exact_data(BoltzmannMachine(np.full(N, 0.8), np.zeros((N, N))))
    bad = fixed_point.homotopy(fixed_point.problem(data, 1, "rdm", mask="fields"))
    print(bad.message)
    assert not bad.converged and bad.status == "diverged"
    assert "the continuation path from theta0 to the data " in bad.message
    assert "no finite fixed point theta* of (G5) seems to exist" in bad.message


def test_perturbed_mode(monkeypatch):
    """SHORTRUN_PERTURB moves laws and Newton starts by a relative amount (zeros kept, laws
    normalised), reproducibly per seed; unset it changes nothing; a bad value is refused.
    Independent of the mode the suite itself runs in (both variables are set here)."""
    from shortrun.numerics.core import perturb
    p = np.array([0.5, 0.0, 0.25, 0.25])
    theta = np.array([0.0, 1.0, -2.0])
    monkeypatch.delenv(perturb.ENV, raising=False)
    monkeypatch.setenv(perturb.SEED_ENV, "0")
    assert perturb.law(p, "p0") is p and perturb.vector(theta, "theta0") is theta
    monkeypatch.setenv(perturb.ENV, "1e-14")
    q, t = perturb.law(p, "p0"), perturb.vector(theta, "theta0")
    assert q[1] == 0 and t[0] == 0 and abs(q.sum() - 1) <= 4 * exact_tol(2, 1.0)
    assert 0 < np.max(np.abs(q - p) / np.where(p > 0, p, 1)) <= 3e-14
    assert 0 < np.max(np.abs(t - theta)) <= 2e-14
    assert np.array_equal(perturb.law(p, "p0"), q)               # reproducible
    monkeypatch.setenv(perturb.SEED_ENV, "7")
    assert not np.array_equal(perturb.law(p, "p0"), q)           # another "machine"
    prob = fixed_point.problem(grid_data("rdm", 3), 1, "rdm")
    assert 0 < np.max(np.abs(prob.data.p - grid_data("rdm", 3).p)) <= 1e-14
    for bad, var in (("x", perturb.ENV), ("-1e-14", perturb.ENV), ("0.1", perturb.ENV),
                     ("-3", perturb.SEED_ENV)):
        monkeypatch.setenv(var, bad)
        with pytest.raises(ValueError, match=var):
            perturb.law(p, "p0") if var == perturb.ENV else perturb.seed()
        monkeypatch.setenv(var, "1e-14" if var == perturb.ENV else "0")


def test_huge_k_is_refused_up_front():
    """Cost guard: the exact Jacobian runs its k sweeps one by one (no early stop), so a k whose
    lower bound of work, k * max(N 2^N (P + 1), MIN_SWEEP_WORK) updates, exceeds MAX_WORK is
    refused with a ValueError naming k, the largest k that fits and the way out (pcd); the
    bound is exact at the limit, and pcd/eq, whose fixed-point law does not run k sweeps, are
    not refused."""
    from shortrun.numerics.training.problem import MAX_WORK, MIN_SWEEP_WORK, check_work
    data = grid_data("rdm", 4)
    with pytest.raises(ValueError, match=r"k=1e\+12: the exact Jacobian of one Newton step .* "
                                         r"pass k <= 10000000000\..*protocol='pcd'"):
        fixed_point.solve(data, 10**12)
    with pytest.raises(ValueError, match=r"k=1e\+12: the exact Jacobian"):
        fixed_point.distinct_roots(data, 10**12, "cd", n_starts=2)
    limit = int(MAX_WORK / MIN_SWEEP_WORK)
    assert check_work(limit, 1.0, "x") == MAX_WORK          # per sweep raised to the floor
    with pytest.raises(ValueError, match=r"k=1e\+10: x runs .* pass k <= 10000000000\."):
        check_work(limit + 1, 1.0, "x")
    with pytest.raises(ValueError, match=r"\(8\.45e\+03 per sweep\).* pass k <= 1183712121\."):
        check_work(10**12, 6 * 64 * (21 + 1), "x")     # N = 6: N 2^N (P + 1), 1e13 // 8448
    pcd = fixed_point.solve(data, 10**12, "pcd")
    eq = fixed_point.solve(data, None, "eq")
    assert np.max(np.abs(pcd.theta - eq.theta)) <= 1e-9
