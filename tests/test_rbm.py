"""The RBM (R1)-(R3) against brute force: energies, marginals and log Z summed over every (v, h),
the visible chain against a per-entry sum over h, its tangent against complex-step derivatives
of an independent dense route (exact to round-off) and finite differences."""
import itertools

import numpy as np
import pytest

from shortrun.numerics import kernels, models
from shortrun.numerics.kernels import rbm as krbm
from shortrun.numerics.kernels import spectral
from shortrun.numerics.models import rbm as mrbm

RBM = models.RBM
STEP = 1e-30  # complex step: derivative = Im f(theta + i STEP e_j) / STEP, no cancellation


def configs(n):
    """All {0,1}^n configurations in index order (bit i of the index = unit i)."""
    return np.array([[(x >> i) & 1 for i in range(n)] for x in range(1 << n)], float)


def joint(m):
    """p(v, h) by brute force, shape (2^N_v, 2^N_h)."""
    V, H = configs(m.N_v), configs(m.N_h)
    E = np.array([[-(v @ m.a) - h @ m.b - v @ m.W @ h for h in H] for v in V])
    w = np.exp(-(E - E.min()))
    return w / w.sum(), np.log(w.sum()) - E.min()


# ------------------------------------------------------------------------------------------
# complex-capable dense reference (written independently of the package's routes)
# ------------------------------------------------------------------------------------------
def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _split(theta, nv, nh):
    return theta[:nv], theta[nv:nv + nh], theta[nv + nh:].reshape(nv, nh)


def _cond(Z, out_bits):
    """M[y, j] = prod_u sigma(+-Z[j, u]) for the configurations y of ``out_bits``."""
    return np.prod(np.where(out_bits[:, None, :] == 1, _sig(Z)[None], _sig(-Z)[None]), axis=2)


def ref_U(theta, nv, nh):
    a, b, W = _split(theta, nv, nh)
    V, H = configs(nv), configs(nh)
    return _cond(a + H @ W.T, V) @ _cond(b + V @ W, H)


def ref_law(theta, nv, nh, p0, k):
    U = ref_U(theta, nv, nh)
    p = p0.astype(complex)
    for _ in range(k):
        p = U @ p
    return p


def ref_marginal(theta, nv, nh):
    a, b, W = _split(theta, nv, nh)
    V = configs(nv)
    logw = V @ a + np.log(1.0 + np.exp(b + V @ W)).sum(axis=1)
    w = np.exp(logw - logw.real.max())
    return w / w.sum()


def ref_stats(theta, nv, nh, p):
    a, b, W = _split(theta, nv, nh)
    V = configs(nv)
    mu = _sig(b + V @ W)
    Phi = np.concatenate([V, mu, (V[:, :, None] * mu[:, None, :]).reshape(len(V), -1)], axis=1)
    return Phi.T @ p


def complex_step(f, theta):
    """d f / d theta (columns) by the complex step."""
    cols = []
    for j in range(len(theta)):
        t = theta.astype(complex)
        t[j] += 1j * STEP
        cols.append(np.imag(f(t)) / STEP)
    return np.stack(cols, axis=-1)


# ------------------------------------------------------------------------------------------
# the model (R1)
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nv,nh", [(4, 3), (3, 5), (5, 2)])
def test_marginals_log_z_and_conditionals_against_brute_force(nv, nh):
    m = RBM.random(nv, nh, seed=nv + 10 * nh, scale=2.0)
    p, logZ = joint(m)
    assert abs(m.log_partition() - logZ) < 1e-12 * max(1.0, abs(logZ))
    np.testing.assert_allclose(m.boltzmann(), p.sum(axis=1), rtol=0, atol=1e-15)
    np.testing.assert_allclose(m.hidden_marginal(), p.sum(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.exp(m.log_marginal()), p.sum(axis=1), rtol=1e-13, atol=0)
    V, H = configs(nv), configs(nh)
    # p(h_a = 1 | v) and p(v_i = 1 | h) from the joint
    cond_h = p / p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m.hidden_means(V), cond_h @ H, rtol=0, atol=1e-14)
    cond_v = p / p.sum(axis=0, keepdims=True)
    np.testing.assert_allclose(m.visible_means(H), cond_v.T @ V, rtol=0, atol=1e-14)
    # free energies reproduce the marginals up to log Z
    np.testing.assert_allclose(-m.free_energy(V) - logZ, np.log(p.sum(axis=1)), atol=1e-12)
    np.testing.assert_allclose(-m.hidden_free_energy(H) - logZ, np.log(p.sum(axis=0)), atol=1e-12)


def test_log_z_stays_exact_for_large_parameters():
    m = RBM.random(4, 6, seed=1, scale=400.0, field=100.0)
    p, logZ = joint(m)
    assert np.isfinite(m.log_partition())
    assert abs(m.log_partition() - logZ) < 1e-12 * abs(logZ)
    np.testing.assert_allclose(m.boltzmann(), p.sum(axis=1), atol=1e-15)


def test_plus_minus_basis_and_joint_boltzmann_machine():
    m = RBM.random(4, 3, seed=5, scale=1.5)
    g, c, J, e0 = mrbm.params_to_pm(m.a, m.b, m.W)
    a, b, W, e1 = mrbm.params_from_pm(g, c, J)
    np.testing.assert_allclose(np.concatenate([a, b, W.ravel()]), m.theta, atol=1e-15)
    assert abs(e0 - e1) < 1e-14
    for v, h in itertools.product(configs(4), configs(3)):
        s, sig = 2 * v - 1, 2 * h - 1
        assert abs(m.energy(v, h) - (-(g @ s) - c @ sig - s @ J @ sig - e0)) < 1e-13
    bm = m.as_boltzmann()  # spins (v_0..v_3, h_0..h_2): visible = low bits of the index
    p_joint = np.asarray(bm.boltzmann()).reshape(1 << 3, 1 << 4)
    np.testing.assert_allclose(p_joint.sum(axis=0), m.boltzmann(), atol=1e-15)
    np.testing.assert_allclose(p_joint.T, joint(m)[0], atol=1e-15)


def test_theta_order_and_parameter_names():
    m = RBM.random(3, 2, seed=0)
    t = m.theta
    assert t.shape == (m.n_params,) == (3 + 2 + 6,)
    np.testing.assert_array_equal(t[:3], m.a)
    np.testing.assert_array_equal(t[3:5], m.b)
    assert t[5 + 1 * 2 + 0] == m.W[1, 0]
    assert m.with_theta(t).theta.tolist() == t.tolist()
    assert [m.describe_param(j) for j in (0, 3, 5 + 2 * 2 + 1)] == ["a[0]", "b[0]", "W[2,1]"]
    groups = m.param_groups()
    assert groups["fields"].sum() == 5 and groups["weights"].sum() == 6
    assert not np.any(groups["visible_fields"] & groups["hidden_fields"])
    assert m.n_units == 3 and m.n_states == 8


@pytest.mark.parametrize("call,match", [
    (lambda: RBM(np.zeros(3), np.zeros(2), np.zeros((2, 3))), r"W must have shape \(N_v, N_h\)"),
    (lambda: RBM(np.zeros((3, 1)), np.zeros(2), np.zeros((3, 2))), "a must be a vector"),
    (lambda: RBM(np.zeros(3), np.zeros(0), np.zeros((3, 0))), "N_h >= 1"),
    (lambda: RBM(np.zeros(3), [np.nan, 0], np.zeros((3, 2))), "b contains NaN"),
    (lambda: RBM(np.zeros(3) + 1j, np.zeros(2), np.zeros((3, 2))), "a has complex entries"),
    (lambda: RBM(np.zeros(3), np.zeros(2), "w"), "W='w' is text"),
    (lambda: RBM.from_theta(np.zeros(7), 3, 2), "11 entries"),
    (lambda: RBM(np.zeros(3), np.zeros(2), np.full((3, 2), 1e308)), "a, b and W are so large"),
    (lambda: RBM(np.full(3, 1e308), np.zeros(2), np.zeros((3, 2))), "energies reach inf"),
    (lambda: RBM.from_theta(np.full(11, 1e299), 3, 2), r"energies reach 1\.1e\+300.*rescale"),
    (lambda: RBM.zeros(21, 2).boltzmann(), "N_v <= 20"),
    (lambda: RBM.zeros(2, 21).hidden_marginal(), "N_h <= 20"),
    (lambda: RBM.zeros(30, 30).log_partition(), r"min\(N_v, N_h\) <= 24"),
    (lambda: RBM.zeros(3, 2).sample_stats(np.zeros((4, 3))), "only -1 and \\+1"),
    (lambda: RBM.zeros(3, 2).sample_stats(np.ones((4, 2))), r"shape \(n, N_v=3\)"),
    (lambda: RBM.zeros(3, 2).stats(np.ones(4) / 4), "2\\^N_v = 8"),
    (lambda: RBM.zeros(3, 2).stats([np.nan] * 8), "p contains NaN"),          # was NaN
    (lambda: RBM.zeros(3, 2).mean_dphi(np.full(8, 1 / 8) + 0j), "p has complex entries"),
    (lambda: RBM.zeros(3, 2).stats_jacobian(np.full(8, 1 / 8), np.full((8, 11), np.nan)),
     "D contains NaN"),
    (lambda: RBM.zeros(3, 2).free_energy([-1, 1, 1]), "convert -1/\\+1 spins"),  # was silent
    (lambda: RBM.zeros(3, 2).hidden_means([np.nan, 0, 1]), "v contains NaN"),
    (lambda: RBM.zeros(3, 2).visible_means([2, 0]), "h must hold \\{0,1\\} unit values"),
    (lambda: RBM.random(3, 2, seed=1.5), "seed=1.5 must be an integer"),    # was a TypeError
    (lambda: RBM.random(3, 2, seed=2**70), "seed=.* must be an integer in \\[0, 2\\^64\\)"),
    (lambda: RBM.random(3, -1, seed=0), "N_h=-1 must be an integer >= 1"),
    (lambda: RBM.random(3, 2, seed=0, scale=np.nan), "scale=nan must be a finite number"),
    (lambda: RBM.from_theta(np.zeros(11), "3", 2), "N_v='3' must be an integer"),
    (lambda: kernels.kernel(RBM.zeros(3, 2), "metropolis", "alternating"), "rule='heatbath'"),
    (lambda: kernels.law(RBM.zeros(3, 2), "uniform", 2, scan="random"), "scan='alternating'"),
    (lambda: kernels.kernel(RBM.zeros(18, 12), "heatbath", "alternating"), "limit 28"),
    (lambda: kernels.law_tangent(RBM.zeros(17, 2), "uniform", 1, "heatbath", "alternating"),
     "N_v <= 16"),
])
def test_bad_input_is_refused_with_the_fix(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_energies_up_to_the_shared_bound_are_exact_and_beyond_it_refused():
    """The RBM refuses an energy scale Σ|a| + Σ|b| + Σ|W| >= 1e300 with the Boltzmann machine's
    own check and message (beyond it its law was NaN and log Z inf); just below the bound the
    marginal and log Z are finite and exact: with a = (3, -3)·1e299, b = 1e299, W = (1e299, 0)ᵀ,
    -F(v) = a·v + softplus(b + Wᵀv) is 5e299 at v = (1, 0) and at most 2e299 elsewhere, so
    p(v) = δ_{v,(1,0)} (state index 1) and log Z = 5e299 (to a relative eps)."""
    m = RBM(np.array([3e299, -3e299]), np.array([1e299]), np.array([[1e299], [0.0]]))
    assert np.array_equal(m.boltzmann(), [0.0, 1.0, 0.0, 0.0])
    assert abs(m.log_partition() - 5e299) <= np.finfo(float).eps * 5e299
    assert np.array_equal(joint(m)[0].sum(axis=1), m.boltzmann())  # the brute-force sum too
    with pytest.raises(ValueError) as rbm_err:
        RBM(np.array([6e299, 0.0]), np.array([0.0]), np.array([[4e299], [0.0]]))
    with pytest.raises(ValueError) as bm_err:
        models.BoltzmannMachine(np.array([1e300, 0.0]), np.zeros((2, 2)))
    for err, names in ((rbm_err, "a, b and W"), (bm_err, "h and J")):
        assert str(err.value) == (f"{names} are so large that energies reach 1e+300, beyond what "
                                  "float64 represents safely (1e+300); rescale the parameters.")


# ------------------------------------------------------------------------------------------
# the visible chain (R2)
# ------------------------------------------------------------------------------------------
def brute_U(m):
    """U[v', v] = sum_h p(h|v) p(v'|h), entry by entry from the joint law."""
    p, _ = joint(m)
    p_h_given_v = p / p.sum(axis=1, keepdims=True)          # [v, h]
    p_v_given_h = p / p.sum(axis=0, keepdims=True)          # [v', h]
    return p_v_given_h @ p_h_given_v.T


@pytest.mark.parametrize("nv,nh", [(4, 3), (3, 5), (6, 2)])
def test_visible_chain_is_the_brute_force_kernel(nv, nh, monkeypatch):
    m = RBM.random(nv, nh, seed=3 * nv + nh, scale=2.5)
    U = brute_U(m)
    k = kernels.kernel(m, "heatbath", "alternating")
    np.testing.assert_allclose(k.dense(), U, rtol=0, atol=1e-14)
    assert spectral.is_stochastic(U)
    q = np.random.default_rng(0).dirichlet(np.ones(1 << nv))
    np.testing.assert_allclose(k.apply(q), U @ q, rtol=0, atol=1e-15)
    np.testing.assert_allclose(kernels.law(m, q, 5, scan="alternating"),
                               np.linalg.matrix_power(U, 5) @ q, rtol=0, atol=1e-14)
    # without rule and scan the law takes the RBM's own chain (alternating Gibbs)
    assert np.array_equal(kernels.law(m, q, 5), kernels.law(m, q, 5, "heatbath", "alternating"))
    # the block route (maps rebuilt on the fly, several blocks) gives the same numbers
    monkeypatch.setattr(krbm, "CACHE_ENTRIES", 0)
    monkeypatch.setattr(krbm, "BLOCK_ENTRIES", 1 << nh)   # one visible state per block
    kb = krbm.RBMKernel(m)
    assert kb.A.full is None and kb.A.block == 1
    np.testing.assert_allclose(kb.apply(q), U @ q, rtol=0, atol=1e-15)
    np.testing.assert_allclose(kb.hidden_dense(), k.hidden_dense(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("nv,nh", [(5, 3), (3, 4)])
def test_stationary_law_reversibility_spectrum_and_mixing_time(nv, nh):
    m = RBM.random(nv, nh, seed=11, scale=3.0)
    k = kernels.kernel(m, "heatbath", "alternating")
    U, pi = k.dense(), k.stationary()
    np.testing.assert_allclose(pi, m.boltzmann(), atol=0)
    np.testing.assert_allclose(U @ pi, pi, rtol=0, atol=1e-15)
    assert spectral.is_reversible(U, pi, atol=1e-15)
    sp = spectral.decompose(k)           # symmetric route, detailed balance checked inside
    lam = sp.eigenvalues
    assert lam.min() >= -1e-14 and abs(lam[0] - 1) < 1e-14 and lam[1] < 1
    # plain eig of the dense matrix agrees
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(U).real), np.sort(lam), atol=1e-12)
    # the non-zero spectrum is that of the hidden chain AB; rank <= 2^min(N_v, N_h)
    mu = np.sort(np.linalg.eigvals(k.hidden_dense()).real)[::-1]
    r = min(1 << nv, 1 << nh)
    np.testing.assert_allclose(lam[:r], mu[:r], atol=1e-12)
    assert np.all(np.abs(lam[r:]) < 1e-12)
    assert abs(k.mixing_time() - sp.mixing_time) < 1e-9 * sp.mixing_time


@pytest.mark.parametrize("a,b,w", [(0.3, -0.2, 2.0), (-1.0, 0.5, -4.0), (0.0, 0.0, 8.0)])
def test_mixing_time_of_one_visible_and_one_hidden_unit(a, b, w):
    """N_v = N_h = 1: P(v' = 1 | v) = sigma(a) + mu(v) (sigma(a + w) - sigma(a)) with
    mu(v) = sigma(b + w v), so lambda_1 = (sigma(b + w) - sigma(b)) (sigma(a + w) - sigma(a))."""
    from scipy.special import expit
    lam1 = (expit(b + w) - expit(b)) * (expit(a + w) - expit(a))
    k = kernels.kernel(RBM([a], [b], [[w]]), "heatbath", "alternating")
    assert abs(k.mixing_time() - (-1.0 / np.log(lam1))) < 1e-12 * (-1.0 / np.log(lam1))
    assert kernels.kernel(RBM.zeros(4, 2), "heatbath", "alternating").mixing_time() == 0.0


# ------------------------------------------------------------------------------------------
# exact tangents and statistics (R2), (R3)
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nv,nh,k", [(4, 3, 3), (3, 4, 2), (5, 2, 6)])
def test_law_tangent_against_complex_step_and_finite_differences(nv, nh, k):
    m = RBM.random(nv, nh, seed=nv * nh, scale=2.0)
    p0 = np.random.default_rng(1).dirichlet(np.ones(1 << nv))
    p, D = kernels.law_tangent(m, p0, k, "heatbath", "alternating")
    ref = complex_step(lambda t: ref_law(t, nv, nh, p0, k), m.theta)
    np.testing.assert_allclose(p, ref_law(m.theta, nv, nh, p0, k).real, rtol=0, atol=1e-15)
    np.testing.assert_allclose(D, ref, rtol=0, atol=1e-13)
    eps = 1e-6
    fd = np.stack([(kernels.law(m.with_theta(m.theta + eps * e), p0, k, scan="alternating")
                    - kernels.law(m.with_theta(m.theta - eps * e), p0, k, scan="alternating"))
                   / (2 * eps) for e in np.eye(m.n_params)], axis=1)
    np.testing.assert_allclose(D, fd, rtol=0, atol=1e-8)


def test_tangent_block_route_and_initial_tangent(monkeypatch):
    m = RBM.random(4, 3, seed=9, scale=1.5)
    D0 = np.random.default_rng(2).normal(size=(16, m.n_params))
    D0 -= D0.mean(axis=0)
    p_ref, D_ref = krbm.RBMTangent(m).propagate("uniform", 3, D0)
    monkeypatch.setattr(krbm, "CACHE_ENTRIES", 0)
    monkeypatch.setattr(krbm, "BLOCK_ENTRIES", 16)
    p, D = krbm.RBMTangent(m).propagate("uniform", 3, D0)
    np.testing.assert_allclose(D, D_ref, rtol=0, atol=1e-14)
    U = brute_U(m)
    np.testing.assert_allclose(D - krbm.RBMTangent(m).propagate("uniform", 3)[1],
                               np.linalg.matrix_power(U, 3) @ D0, atol=1e-13)
    with pytest.raises(ValueError, match="D0 must have shape"):
        krbm.RBMTangent(m).propagate("uniform", 1, D0[:, :3])


def test_statistics_and_their_total_derivative():
    nv, nh = 4, 3
    m = RBM.random(nv, nh, seed=4, scale=2.0)
    p0 = np.random.default_rng(3).dirichlet(np.ones(1 << nv))
    # statistics against a direct sum over the states
    V = configs(nv)
    mu = m.hidden_means(V)
    direct = np.concatenate([p0 @ V, p0 @ mu, np.einsum("x,xi,xa->ia", p0, V, mu).ravel()])
    np.testing.assert_allclose(m.stats(p0), direct, rtol=0, atol=1e-15)
    # D = None: the law is fixed, only phi_theta moves
    F, dF = m.stats_jacobian(p0, None)
    np.testing.assert_allclose(dF, complex_step(lambda t: ref_stats(t, nv, nh, p0), m.theta),
                               rtol=0, atol=1e-14)
    # the k-step law: total derivative including the chain's tangent
    p, D = kernels.law_tangent(m, "uniform", 4, "heatbath", "alternating")
    F, dF = m.stats_jacobian(p, D)
    u = np.full(1 << nv, 1.0 / (1 << nv))
    ref = complex_step(lambda t: ref_stats(t, nv, nh, ref_law(t, nv, nh, u, 4)), m.theta)
    np.testing.assert_allclose(dF, ref, rtol=0, atol=1e-13)
    np.testing.assert_allclose(F, m.stats(p), atol=0)


def test_equilibrium_and_stationary_tangent():
    nv, nh = 4, 3
    m = RBM.random(nv, nh, seed=8, scale=2.0)
    p, D = m.equilibrium_tangent()
    np.testing.assert_allclose(D, complex_step(lambda t: ref_marginal(t, nv, nh), m.theta),
                               rtol=0, atol=1e-14)
    pi, Dpi = kernels.stationary_tangent(m, "heatbath", "alternating")
    np.testing.assert_array_equal(pi, p)
    np.testing.assert_array_equal(Dpi, D)
    # the k-step tangent converges to it
    _, Dk = kernels.law_tangent(m, "uniform", 400, "heatbath", "alternating")
    np.testing.assert_allclose(Dk, D, atol=1e-10)


def test_sample_stats_is_the_statistics_of_the_histogram():
    m = RBM.random(5, 3, seed=1)
    s = np.where(np.random.default_rng(0).random((300, 5)) < 0.4, 1, -1).astype(np.int8)
    x = ((s > 0) * (1 << np.arange(5))).sum(axis=1)
    hist = np.bincount(x, minlength=32) / len(s)
    np.testing.assert_allclose(m.sample_stats(s), m.stats(hist), rtol=0, atol=1e-14)


def test_initial_theta_is_finite_and_respects_the_mask():
    m = RBM.zeros(4, 2)
    stats = m.stats(np.random.default_rng(0).dirichlet(np.ones(16)))
    mask = m.param_groups()["visible_fields"]
    t = m.initial_theta(stats, mask)
    np.testing.assert_allclose(t[:4], np.log(stats[:4] / (1 - stats[:4])))
    assert np.all(t[4:] == 0)
    t = m.initial_theta(stats, np.ones(m.n_params, bool))
    assert np.all(t[6:] != 0) and np.all(np.abs(t[6:]) < 0.1)
