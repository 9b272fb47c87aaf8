"""Spectral decomposition (G3): eigen-structure, coefficients, relaxation times."""
import numpy as np
import pytest
from conftest import EPS, RULES, exact_tol, random_bm, random_distribution

from shortrun.numerics import kernels

from shortrun.numerics import models

from shortrun.numerics.kernels import spectral


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("N", [3, 6])
def test_reversible_decomposition_structure(N, rule):
    model = random_bm(N, seed=N)
    K = kernels.BMKernel(model, rule, "random")
    S = spectral.decompose(K)
    assert S.reversible and S.condition == 1.0
    n = 1 << N
    tol = exact_tol(N)
    np.testing.assert_allclose(S.left @ S.right, np.eye(n), rtol=0, atol=100 * tol)
    np.testing.assert_allclose(S.right[:, 0], model.boltzmann(), rtol=0, atol=tol)   # u_0 = p
    np.testing.assert_allclose(S.left[0], 1.0, rtol=0, atol=100 * tol)              # l_0 = 1
    U = K.dense()
    np.testing.assert_allclose(U @ S.right, S.right * S.eigenvalues, rtol=0, atol=100 * tol)
    p0 = random_distribution(N, 1)
    c = S.coefficients(p0)
    assert c[0] == pytest.approx(1.0, abs=100 * tol)
    # c_a = sum_x u_a(x) p0(x) / p(x)
    np.testing.assert_allclose(c, S.right.T @ (p0 / model.boltzmann()), rtol=1e-10, atol=1e-12)
    assert S.eigenvalues[0] == pytest.approx(1.0, abs=tol)
    assert np.all(np.abs(S.eigenvalues[1:]) < 1)


@pytest.mark.parametrize("N", [2, 4, 5])
def test_heatbath_random_scan_spectrum_is_non_negative(N):
    # each heat-bath T_i is a p-orthogonal projection, so R = mean T_i and R^N are PSD
    S = spectral.decompose(kernels.BMKernel(random_bm(N, 2 * N, scale=2.0), "heatbath", "random"))
    assert S.eigenvalues.min() >= -exact_tol(N)
    assert np.all(S.phases[S.eigenvalues > 0] == 0)


def test_metropolis_has_negative_eigenvalue():
    # one free spin, h = 0.1: Metropolis flips - -> + surely, + -> - with prob e^{-0.2}:
    # U = [[1 - a, 1], [a, 0]] with eigenvalues 1 and -a  (a = e^{-0.2})
    model = models.BoltzmannMachine([0.1], np.zeros((1, 1)))
    S = spectral.decompose(kernels.BMKernel(model, "metropolis", "random"))
    a = np.exp(-0.2)
    np.testing.assert_allclose(S.eigenvalues, [1.0, -a], atol=1e-15)
    assert S.phases[1] == pytest.approx(np.pi)
    assert S.mixing_time == pytest.approx(-1 / np.log(a), rel=1e-13)
    # p(k) oscillates around p: the deviation changes sign every step
    p = model.boltzmann()
    dev = [spectral.decompose(kernels.BMKernel(model, "metropolis", "random")).propagate(
        "uniform", k)[0] - p[0] for k in range(1, 5)]
    assert np.all(np.sign(dev[:-1]) == -np.sign(dev[1:]))
    # a larger example: N = 5 weakly coupled spins (U = R^N, odd N keeps R's negative modes)
    S5 = spectral.decompose(kernels.BMKernel(random_bm(5, 3, scale=0.3, field=0.1),
                                             "metropolis", "random"))
    assert S5.eigenvalues.min() < -1e-3


def test_sequential_sweep_is_not_reversible_and_complex():
    model = random_bm(5, seed=8, scale=1.5)
    K = kernels.BMKernel(model, "heatbath", "sequential")
    assert not K.reversible
    with pytest.raises(ValueError, match="detailed balance fails"):
        spectral.decompose(K, reversible=True)
    S = spectral.decompose(K)
    assert np.iscomplexobj(S.eigenvalues) and np.abs(np.imag(S.eigenvalues)).max() > 1e-6
    assert np.any(np.abs(S.phases[1:]) > 1e-6)
    np.testing.assert_allclose(np.abs(S.eigenvalues[0]), 1.0, atol=1e-13)
    np.testing.assert_allclose(S.stationary, model.boltzmann(), atol=1e-12)


def test_random_scan_and_continuous_spectra_are_related():
    # R = I + W/N shares eigenvectors with W and U_random = R^N: lambda = (1 + mu/N)^N
    N = 5
    model = random_bm(N, seed=4)
    Su = spectral.decompose(kernels.BMKernel(model, "heatbath", "random"))
    Sw = spectral.decompose(kernels.BMKernel(model, "heatbath", "continuous"))
    assert Sw.time == "continuous" and np.all(Sw.eigenvalues <= exact_tol(N))
    np.testing.assert_allclose(np.sort(Su.eigenvalues), np.sort((1 + Sw.eigenvalues / N) ** N),
                               atol=100 * exact_tol(N))
    assert Sw.mixing_time == pytest.approx(-1 / Sw.eigenvalues[1], rel=1e-12)
    assert Sw.gap == pytest.approx(-Sw.eigenvalues[1], rel=1e-12)


def test_mixing_time_is_the_slowest_relaxation():
    # |p(k+1) - p| / |p(k) - p| -> |lambda_1| at large k (c_1 != 0 for a random p0)
    N = 4
    model = random_bm(N, seed=6, scale=1.0)
    K = kernels.BMKernel(model, "heatbath", "random")
    S = spectral.decompose(K)
    p, p0 = model.boltzmann(), random_distribution(N, 3)
    assert abs(S.eigenvalues[2] / S.eigenvalues[1]) < 0.7
    d = [np.linalg.norm(K.propagate(p0, k) - p) for k in (60, 61)]
    assert d[1] / d[0] == pytest.approx(abs(S.eigenvalues[1]), rel=1e-6)
    assert S.mixing_time == pytest.approx(-1 / np.log(abs(S.eigenvalues[1])), rel=1e-14)
    assert S.gap == pytest.approx(1 - abs(S.eigenvalues[1]), rel=1e-14)


def test_validators():
    U = np.array([[0.9, 0.2], [0.1, 0.8]])
    assert spectral.is_stochastic(U)
    assert not spectral.is_stochastic(U.T)
    assert not spectral.is_stochastic(np.array([[1.1, 0.0], [-0.1, 1.0]]))
    p = np.array([2 / 3, 1 / 3])
    assert spectral.is_reversible(U, p)
    assert not spectral.is_reversible(U, np.array([0.5, 0.5]))
    assert spectral.is_generator(np.array([[-1.0, 2.0], [1.0, -2.0]]))
    np.testing.assert_allclose(spectral.stationary_from_dense(U), p, atol=1e-15)


def test_spectral_propagate_rejects_fractional_k_with_negative_eigenvalues():
    model = models.BoltzmannMachine([0.1], np.zeros((1, 1)))
    S = spectral.decompose(kernels.BMKernel(model, "metropolis", "random"))
    with pytest.raises(ValueError, match="integer"):
        S.propagate("uniform", 0.5)


@pytest.mark.parametrize("scan", ["random", "sequential", "continuous"])
def test_every_timescale_and_phase_against_plain_eigvals(scan):
    """Every eigenvalue, κ_α = −1/ln|λ_α| (discrete) or −1/Re μ_α (continuous) and arg λ_α,
    against numpy.linalg.eigvals of the dense matrix (an independent LAPACK route, no
    symmetrisation).  Each eigenvalue may differ between the two routes by twice its first-order
    rounding bound 16 n ε κ_α ‖U‖ (κ_α = Spectrum.eigenvalue_conditions), and κ (or 1/|Re μ|)
    by that bound propagated through −1/ln|λ|; the two spectra are matched by a minimum-cost
    assignment (no rounding of sort keys, which could split a tie differently on another
    machine).  Timescales are compared where |λ| > 1e-6."""
    from scipy.optimize import linear_sum_assignment
    model = random_bm(5, seed=4)
    K = kernels.BMKernel(model, "metropolis", scan)
    U = K.dense()
    S = spectral.decompose(K)
    lam = np.linalg.eigvals(U)
    row, col = linear_sum_assignment(np.abs(S.eigenvalues[:, None] - lam[None, :]))
    mine, plain = S.eigenvalues[row], lam[col]
    bound = 2 * 16 * len(lam) * EPS * S.eigenvalue_conditions[row] * np.linalg.norm(U, 2)
    print(f"largest eigenvalue difference / bound: {np.max(np.abs(mine - plain) / bound):.2g}")
    assert np.all(np.abs(mine - plain) <= bound)
    if scan == "continuous":
        slow = (plain.real < -1e-12) & (np.abs(plain.real) > bound)
        got, ref = S.timescales[row][slow], -1.0 / plain.real[slow]
        rel = bound[slow] / (np.abs(plain.real[slow]) - bound[slow])
    else:
        mod = np.abs(plain)
        slow = (mod > 1e-6) & (mod < 1 - 1e-12)
        got = S.timescales[row][slow]
        ref = -1.0 / np.log(mod[slow])
        rel = bound[slow] / ((mod[slow] - bound[slow]) * np.abs(np.log(mod[slow] + bound[slow])))
        np.testing.assert_allclose(np.exp(1j * S.phases) * np.abs(S.eigenvalues), S.eigenvalues,
                                   rtol=0, atol=1e-14)
        assert np.all(np.diff(np.abs(S.eigenvalues)) <= 1e-12)      # slowest first
    assert np.all(np.abs(got - ref) <= rel * np.abs(ref))


def test_stationary_from_dense_refuses_a_chain_with_several_closed_classes():
    """Two absorbing states: every mixture of δ_0 and δ_3 is stationary."""
    U = np.array([[1.0, 0.5, 0.2, 0.0],
                  [0.0, 0.0, 0.3, 0.0],
                  [0.0, 0.5, 0.0, 0.0],
                  [0.0, 0.0, 0.5, 1.0]])
    assert spectral.is_stochastic(U) and len(spectral.closed_classes(U)) == 2
    with pytest.raises(spectral.NonUniqueStationaryError, match="2 closed classes"):
        spectral.stationary_from_dense(U)
    assert issubclass(kernels.NonUniqueStationaryError, ValueError)


@pytest.mark.parametrize("scan", ["random", "sequential", "parallel", "continuous"])
def test_error_bound_from_the_condition_of_the_route(scan):
    """Spectrum.route_condition is the 2-norm condition number of the eigenvector matrix the
    route inverts (for the symmetric route D^{1/2} V, V orthogonal: sqrt(max pi / min pi)),
    and Spectrum.error_bound(t) = 16 n eps kappa (1 + t rho) bounds the spectral route against
    repeated application / expm (docs of error_bound)."""
    from scipy.linalg import expm
    model = random_bm(5, seed=4)
    K = kernels.BMKernel(model, "metropolis", scan)
    S = spectral.decompose(K)
    U = K.dense()
    assert S.route_condition == pytest.approx(np.linalg.cond(S.right), rel=1e-8)
    assert (S.route_condition == S.condition) != S.reversible
    p0 = random_distribution(5, 2)
    for t in (1, 3):
        ref = expm(t * U) @ p0 if scan == "continuous" else np.linalg.matrix_power(U, t) @ p0
        err = np.max(np.abs(S.propagate(p0, t) - ref))
        print(f"{scan} t={t}: error {err:.2g}, bound {S.error_bound(t):.2g}")
        assert err <= S.error_bound(t)


@pytest.mark.parametrize("U,kwargs,match", [
    # a non-stochastic matrix gave a meaningless spectrum, NaN a NaN one, None / a scalar / an
    # empty matrix an IndexError, complex entries lost their imaginary part
    (np.array([[2.0, 0.0], [0.0, 3.0]]), {}, "not column-stochastic"),
    (np.array([[0.9, 0.1], [0.2, 0.8]]), {}, "not column-stochastic.*transpose"),
    (np.array([[np.nan, 0.0], [1.0, 1.0]]), {}, "U contains NaN or inf"),
    (None, {}, "U is None"),
    (1.0, {}, "U must be a non-empty square matrix"),
    (np.zeros((0, 0)), {}, "U must be a non-empty square matrix"),
    (np.ones((2, 3)) / 2, {}, "U must be a non-empty square matrix"),
    (np.eye(2) + 0j, {}, "U has complex entries"),
    (np.array([[0.9, 0.2], [0.1, 0.8]]), {"time": "foo"}, "time='foo' is not known"),
    (np.array([[0.9, 0.2], [0.1, 0.8]]), {"reversible": "yes"}, "reversible='yes' must be True"),
    (np.array([[0.9, 0.2], [0.1, 0.8]]), {"reversible": True, "stationary": [1 / 3] * 3},
     "stationary has shape"),
])
def test_decompose_refuses_bad_matrices(U, kwargs, match):
    with pytest.raises(ValueError, match=match):
        spectral.decompose(U, **kwargs)


def test_is_reversible_refuses_a_law_of_another_size():
    with pytest.raises(ValueError, match="p must have one entry per state of U \\(2\\)"):
        spectral.is_reversible(np.eye(2), [1 / 3] * 3)          # was a numpy broadcast error
    with pytest.raises(ValueError, match="U must be a non-empty square matrix"):
        spectral.is_reversible(np.ones((2, 3)), [0.5, 0.5])


def test_closed_classes_refuse_nan():
    with pytest.raises(ValueError, match="U contains NaN or inf"):      # was one class, silently
        spectral.closed_classes(np.array([[np.nan, 0.0], [1.0, 1.0]]))
