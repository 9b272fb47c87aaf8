"""The fixed-point theorem (G5) to machine precision: Newton with the exact Jacobian.

At the solved θ* the k-step process p(k, p0) = U^k p0 reproduces the data statistics to 1e-10
(checked with the numba kernels, independently of the Jacobian route), while p_θ* does not.

Data: for Rdm-k, finite-M samples of an SK teacher (the inverse-Ising setting of SPEC §5); for
CD-k, a 4-pattern mixture (misspecified: a well-specified p_data makes θ_ML a CD fixed point,
whose p_θ* would match the data too).
"""
import warnings

import numpy as np
import pytest

from shortrun.numerics import fixed_point, kernels, moments, spectral, teachers
from shortrun.numerics.kernels import NotBoltzmannWarning

RULES = ["heatbath", "metropolis"]
SCANS = ["random", "sequential"]


def grid_data(protocol, N):
    if protocol == "cd":
        return teachers.pattern_mixture(N, 4, 0.9, seed=N)
    return teachers.sk(N, 0.5, seed=N, field=0.3).data(M=20 * 2**N, seed=1)


def mismatches(fp):
    """(‖<φ>_{p(k,p0)} − <φ>_data‖∞, ‖<φ>_{p_θ*} − <φ>_data‖∞), the first with kernels.law."""
    prob = fp.problem
    p_k = kernels.law(fp.model, prob.p0, prob.k, prob.rule, prob.scan)
    mis_k = np.max(np.abs(moments.stats(p_k) - prob.data.stats))
    mis_eq = np.max(np.abs(moments.stats(fp.model.boltzmann()) - prob.data.stats))
    return mis_k, mis_eq


def check_short_run_fixed_point(N, protocol, rule, scan, k):
    data = grid_data(protocol, N)
    fp = fixed_point.solve(data, k, protocol, rule, scan, restarts=3)
    mis_k, mis_eq = mismatches(fp)
    print(f"N={N} {protocol}-{k} {rule}/{scan}: |<phi>_p(k,p0) - <phi>_data|_inf = {mis_k:.2e}, "
          f"|<phi>_p_theta* - <phi>_data|_inf = {mis_eq:.2e}  ({fp.iterations} Newton steps)")
    assert mis_k <= 1e-10
    if k <= 2:
        assert mis_eq > 1e-3
    return fp


@pytest.mark.parametrize("k", [1, 2, 5, 20])
@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("protocol", ["rdm", "cd"])
def test_short_run_fixed_point_N6(protocol, rule, scan, k):
    check_short_run_fixed_point(6, protocol, rule, scan, k)


@pytest.mark.parametrize("N, protocol, rule, scan, k", [
    (8, "rdm", "heatbath", "random", 2),
    (8, "cd", "metropolis", "sequential", 1),
    (10, "rdm", "metropolis", "sequential", 5),
    (10, "cd", "heatbath", "sequential", 2),
])
def test_short_run_fixed_point_larger(N, protocol, rule, scan, k):
    check_short_run_fixed_point(N, protocol, rule, scan, k)


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2, 5, 20])
@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("protocol", ["rdm", "cd"])
@pytest.mark.parametrize("N", [7, 8, 9, 10])
def test_short_run_fixed_point_full_grid(N, protocol, rule, scan, k):
    check_short_run_fixed_point(N, protocol, rule, scan, k)


@pytest.mark.parametrize("scan", SCANS + ["continuous"])
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


@pytest.mark.parametrize("scan", SCANS + ["continuous"])
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
    """SPEC §4.1: m_D = tanh 0.8, k = 1, random-scan heat-bath, J fixed at 0.  With N = 8,
    1 - q = 0.656 < m_D: no finite field; with N = 6, 1 - q = 0.6651 > 0.6640: a finite root."""
    def data(N):
        from shortrun.numerics.models import BoltzmannMachine
        return teachers.exact_data(BoltzmannMachine(np.full(N, 0.8), np.zeros((N, N))))

    with pytest.raises(RuntimeError, match=r"SPEC §4\.1.*1 - q") as err:
        fixed_point.solve(data(8), 1, "rdm", mask="fields")
    print(err.value)
    fp = fixed_point.solve(data(6), 1, "rdm", mask="fields", tol=1e-14)  # dh = dF / 0.002
    q = (1 - 1 / 6) ** 6
    assert np.allclose(fp.theta[:6], np.arctanh(np.tanh(0.8) / (1 - q)), atol=1e-9, rtol=0)
    fp_soft = fixed_point.solve(data(8), 1, "rdm", mask="fields", check=False)
    assert not fp_soft.converged and np.all(np.isfinite(fp_soft.theta))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_independent_spins_heatbath_random_closed_form(k):
    """tanh h* = (m_D - q m(0))/(1 - q), q = (1 - 1/N)^{kN} (SPEC §4.1); uniform and product p0."""
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


def test_continuous_time_ring_matches_spec_check_values():
    """SPEC §4.2 check: 5-spin ring, h = 0, continuous-time Glauber, β = 0.1: learned/true
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
    """Zero-field data: Newton's default start is h = 0, J = 0, where synchronous Metropolis
    maps s to -s and has no unique stationary law; Newton reports it instead of raising."""
    data = teachers.ring(5, 0.3).data()
    fp = fixed_point.solve(data, 1, "pcd", "metropolis", "parallel", check=False)
    assert not fp.converged and fp.residual == np.inf and "not unique" in fp.message
    with pytest.raises(RuntimeError, match="not unique"):
        fixed_point.solve(data, 1, "pcd", "metropolis", "parallel")


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
