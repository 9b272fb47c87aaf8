"""The Potts machine (P1), its exact kernels (P2) and tangent (P3): against brute force, dense
matrices built from the definition, complex-step derivatives, and the Boltzmann machine at q = 2.

Tolerance policy as in conftest: exact-vs-exact comparisons on n = q^N states use 16 n eps."""
import itertools

import numpy as np
import pytest
from conftest import EPS, random_bm

from shortrun.numerics import kernels
from shortrun.numerics.data.potts import (PottsData, exact_potts_data, potts_teacher,
                                          sampled_potts_data)
from shortrun.numerics.kernels import potts as kp
from shortrun.numerics.kernels import spectral
from shortrun.numerics.models import BoltzmannMachine
from shortrun.numerics.models import potts as mp
from shortrun.numerics.models.potts import PottsMachine

RULES = ("heatbath", "metropolis")
SCANS = ("random", "sequential")


def tol(n, factor=16.0):
    return factor * n * EPS


def random_potts(N, q, seed, beta=1.0, field=0.5, gauge_noise=True):
    """A seeded teacher; with ``gauge_noise`` its parameters are passed in a random gauge (the
    constructor must remove it)."""
    m = potts_teacher(N, q, beta, seed, field)
    if not gauge_noise:
        return m
    rng = np.random.default_rng(seed + 100)
    h, J = np.array(m.h), np.array(m.J)
    u = rng.standard_normal((N, N, q))            # J_ij(a, b) += u_ij(a) - (compensated below)
    for i, j in itertools.permutations(range(N), 2):
        J[i, j] += u[i, j][:, None]
        h[i] -= u[i, j]                           # energy unchanged: -Σ_{i≠j} u_ij(σ_i) cancels
    J = J + J.transpose(1, 0, 3, 2) - np.array(m.J)    # symmetrise: J_ij(a,b) + u_ij(a) + u_ji(b)
    h += rng.standard_normal((N, 1))              # a constant per unit
    return PottsMachine(h, J)


def random_law(n, seed):
    p = np.random.default_rng(seed).random(n)
    return p / p.sum()


# ------------------------------------------------------------------------------ the model (P1)
@pytest.mark.parametrize("N,q", [(3, 3), (4, 4), (5, 3), (2, 5)])
def test_energies_law_and_statistics_against_brute_force(N, q):
    m = random_potts(N, q, seed=N * q, gauge_noise=False)
    ref = random_potts(N, q, seed=N * q)             # the same law passed in another gauge
    np.testing.assert_allclose(ref.theta, m.theta, rtol=0, atol=1e-12)
    configs = np.array(list(itertools.product(range(q), repeat=N)))[:, ::-1]   # unit 0 fastest
    x = mp.potts_index(configs, q)
    np.testing.assert_array_equal(x, np.arange(q ** N))
    E = np.array([-sum(m.h[i, s[i]] for i in range(N))
                  - sum(m.J[i, j, s[i], s[j]] for i in range(N) for j in range(i + 1, N))
                  for s in configs])
    np.testing.assert_allclose(m.energies(), E, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.energy(configs), E, rtol=0, atol=1e-12)
    w = np.exp(-E)
    np.testing.assert_allclose(m.boltzmann(), w / w.sum(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(m.log_partition(), np.log(w.sum()), rtol=1e-13)
    np.testing.assert_allclose(ref.boltzmann(), m.boltzmann(), rtol=1e-11, atol=0)
    # statistics: one-hot marginals by brute force, against the Phi matrix and the reshape route
    p = random_law(q ** N, 1)
    single = [(p * (configs[:, i] == a)).sum() for i in range(N) for a in range(1, q)]
    pair = [(p * (configs[:, i] == a) * (configs[:, j] == b)).sum()
            for i in range(N) for j in range(i + 1, N) for a in range(1, q) for b in range(1, q)]
    F = np.array(single + pair)
    np.testing.assert_allclose(m.stats(p), F, rtol=0, atol=tol(q ** N))
    np.testing.assert_allclose(mp.phi_matrix(N, q).T @ p, F, rtol=0, atol=tol(q ** N))
    draws = np.random.default_rng(0).choice(q ** N, size=500, p=p)
    np.testing.assert_allclose(m.sample_stats(configs[draws]),
                               mp.phi_matrix(N, q)[draws].mean(axis=0), rtol=0, atol=1e-14)
    # theta round trip and parameter names
    assert m.n_params == N * (q - 1) + N * (N - 1) // 2 * (q - 1) ** 2 == len(m.theta)
    back = m.with_theta(m.theta)
    np.testing.assert_array_equal(back.theta, m.theta)
    a = N * (q - 1) + (q - 1) ** 2 + (q - 1) + 1 if N > 2 else N * (q - 1) + 1
    name = m.describe_param(a)
    i, j, c, d = map(int, name[2:-1].split(","))
    assert m.theta[a] == m.J[i, j, c, d] and i < j and c >= 1 and d >= 1


def test_reference_and_zero_sum_gauges_keep_the_law():
    m = random_potts(4, 3, seed=2)
    assert np.all(m.h[:, 0] == 0) and np.all(m.J[:, :, 0, :] == 0) and np.all(m.J[:, :, :, 0] == 0)
    hz, Jz = m.zero_sum_gauge()
    np.testing.assert_allclose(hz.sum(axis=1), 0, atol=1e-13)
    np.testing.assert_allclose(Jz.sum(axis=2), 0, atol=1e-13)
    np.testing.assert_allclose(Jz.sum(axis=3), 0, atol=1e-13)
    np.testing.assert_allclose(PottsMachine(hz, Jz).boltzmann(), m.boltzmann(), rtol=1e-12)
    np.testing.assert_allclose(PottsMachine(hz, Jz).theta, m.theta, rtol=0, atol=1e-12)


def _asymmetric():
    J = np.zeros((3, 3, 3, 3))
    J[0, 1, 1, 2] = 1.0
    return J


def _self_coupled():
    J = np.zeros((3, 3, 3, 3))
    J[1, 1, 1, 1] = 1.0
    return J


@pytest.mark.parametrize("h,J,match", [
    (np.zeros(3), None, "shape \\(N, q\\)"),
    (np.zeros((3, 1)), None, "q \\(the second axis of h\\)"),
    (None, np.zeros((3, 3, 2, 2)), "J must have shape"),
    (np.full((3, 3), np.nan), None, "h"),
    (None, _asymmetric(), "not symmetric"),
    (None, _self_coupled(), "J\\[i, i\\] must be 0"),
    (np.full((3, 3), 1e300), None, "so large"),
])
def test_bad_parameters_are_refused(h, J, match):
    h = np.zeros((3, 3)) if h is None else h
    J = np.zeros((3, 3, 3, 3)) if J is None else J
    with pytest.raises(ValueError, match=match):
        PottsMachine(h, J)


def test_q2_is_the_boltzmann_machine():
    """q = 2: the map s = 2σ − 1 gives the BM's h, J; laws, kernels (every rule and scan), the
    statistics (affine map) and the tangents agree to 1e-13."""
    N = 5
    bm = random_bm(N, seed=4)
    # BM -> Potts: -E = Σ h s + Σ J s s with s = 2σ-1: h^P(1) = 2h - 2ΣJ, J^P(1,1) = 4J
    h = np.zeros((N, 2))
    h[:, 1] = 2 * bm.h - 2 * bm.J.sum(axis=1)
    J = np.zeros((N, N, 2, 2))
    J[:, :, 1, 1] = 4 * bm.J
    pm = PottsMachine(h, J)
    back = mp.to_boltzmann(pm)
    np.testing.assert_allclose(back.h, bm.h, atol=1e-14)
    np.testing.assert_allclose(back.J, bm.J, atol=1e-14)
    np.testing.assert_allclose(pm.boltzmann(), bm.boltzmann(), rtol=0, atol=1e-13)
    p0 = random_law(1 << N, 3)
    for rule, scan in itertools.product(RULES, SCANS):
        for k in (1, 3):
            np.testing.assert_allclose(kernels.law(pm, p0, k, rule, scan),
                                       kernels.law(bm, p0, k, rule, scan), rtol=0, atol=1e-13)
        # tangents: θ^BM = A θ^P + const, so ∂p/∂θ^P = (∂p/∂θ^BM) A; away from Metropolis ties
        pP, DP = kernels.law_tangent(pm, p0, 2, rule, scan)
        pB, DB = kernels.law_tangent(bm, p0, 2, rule, scan)
        A = np.zeros((bm.n_params, pm.n_params))
        A[:N, :N] = 0.5 * np.eye(N)
        iu = np.triu_indices(N, 1)
        for c, (i, j) in enumerate(zip(*iu)):
            A[N + c, N + c] = 0.25
            A[i, N + c] = A[j, N + c] = 0.25
        np.testing.assert_allclose(DP, DB @ A, rtol=0, atol=1e-13)
    # φ^BM = (2σ - 1, (2σ_i - 1)(2σ_j - 1)): an affine map of the Potts statistics
    F = pm.stats(p0)
    m = 2 * F[:N] - 1
    C = np.array([4 * F[N + c] - 2 * F[i] - 2 * F[j] + 1 for c, (i, j) in enumerate(zip(*iu))])
    np.testing.assert_allclose(np.concatenate([m, C]), bm.stats(p0), rtol=0, atol=1e-14)


# -------------------------------------------------------------------------- the kernels (P2)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("N,q", [(3, 3), (4, 3), (3, 4), (5, 3)])
def test_matrix_free_kernel_against_the_dense_definition(N, q, scan, rule):
    m = random_potts(N, q, seed=7 * N + q)
    K = kernels.kernel(m, rule, scan)
    assert isinstance(K, kp.PottsKernel)
    U = K.dense()
    n = q ** N
    assert spectral.is_stochastic(U)
    p0 = random_law(n, N)
    t = tol(n)
    # single-site operators and R
    Ts = [kp.site_matrix(m.h, m.J, rule, i) for i in range(N)]
    for i, T in enumerate(Ts):
        np.testing.assert_allclose(K.site_update(p0, i), T @ p0, rtol=0, atol=t)
    np.testing.assert_allclose(K.random_update(p0), sum(Ts) @ p0 / N, rtol=0, atol=t)
    # the k-step law is the matrix power
    ref = p0
    for k in range(1, 5):
        ref = U @ ref
        np.testing.assert_allclose(K.propagate(p0, k), ref, rtol=0, atol=t * k)
    # the Gibbs law is stationary; detailed balance for the random scan (reversible)
    pi = m.boltzmann()
    np.testing.assert_allclose(U @ pi, pi, rtol=0, atol=t)
    np.testing.assert_allclose(K.apply(pi), pi, rtol=0, atol=t)
    np.testing.assert_allclose(K.stationary(), pi, rtol=0, atol=0)
    flow = U * pi[None, :]
    if scan == "random":
        assert K.reversible
        np.testing.assert_allclose(flow, flow.T, rtol=0, atol=t)
    for T in Ts:   # each single-site operator is reversible
        f = T * pi[None, :]
        np.testing.assert_allclose(f, f.T, rtol=0, atol=t)


def test_large_couplings_stay_exact():
    """Fields of ±400 (e^{800} overflows): columns still sum to 1, no NaN, Gibbs law stationary."""
    m = random_potts(4, 3, seed=1, beta=400.0, field=400.0, gauge_noise=False)
    for rule, scan in itertools.product(RULES, SCANS):
        K = kernels.kernel(m, rule, scan)
        U = K.dense()
        assert np.all(np.isfinite(U)) and spectral.is_stochastic(U)
        p0 = random_law(81, 0)
        p = K.propagate(p0, 3)
        assert np.all(np.isfinite(p)) and abs(p.sum() - 1) < 1e-13
        np.testing.assert_allclose(p, np.linalg.matrix_power(U, 3) @ p0, rtol=0, atol=1e-12)


def test_thread_count_does_not_change_the_law():
    """Above SERIAL_BELOW states the site passes run on threads: same bits as the serial pass."""
    import numba
    m = random_potts(10, 3, seed=5, gauge_noise=False)         # 59049 states
    assert m.n_states >= kp.SERIAL_BELOW
    p0 = random_law(m.n_states, 0)
    for rule in RULES:
        K = kernels.kernel(m, rule, "random")
        ref = K.apply(p0)
        before = numba.get_num_threads()
        try:
            numba.set_num_threads(1)
            one = K.apply(p0)
        finally:
            numba.set_num_threads(before)
        np.testing.assert_array_equal(one, ref)
        # and the serial driver itself
        out = np.zeros_like(p0)
        for i in range(m.N):
            kp._site_serial(p0, out, 1.0 / m.N, True, i, K._rule, K._A, K._B, K._EA, K._EB,
                            K._fast, 3, K._qL)
        np.testing.assert_array_equal(out, K.random_update(p0))


def test_bad_kernel_arguments():
    m = random_potts(3, 3, seed=0)
    with pytest.raises(ValueError, match="scan"):
        kernels.kernel(m, "heatbath", "parallel")
    with pytest.raises(ValueError, match="rule"):
        kernels.kernel(m, "glauber", "random")
    with pytest.raises(ValueError, match="length q\\^N = 27"):
        kernels.kernel(m).apply(np.ones(8) / 8)
    with pytest.raises(ValueError, match="q\\^N = 27 states"):
        kernels.law(m, np.ones(8) / 8, 2)
    with pytest.raises(ValueError, match="q\\^N = 27 states"):
        kernels.law_tangent(m, np.ones(8) / 8, 2)
    with pytest.raises(ValueError, match="sums to"):
        kernels.law(m, np.ones(27), 2)
    with pytest.raises(ValueError, match="dense"):
        kp.check_dense_states(5000)
    with pytest.raises(ValueError, match="memory"):
        kernels.kernel(PottsMachine.zeros(40, 3))
    for i in (3, -1, 1.5, True):             # a site outside 0..N-1 used to update garbage
        with pytest.raises(ValueError, match=f"i={i!r} must be a site index"):
            kp.potts_kernel(m).site_update(np.ones(27) / 27, i)
    with pytest.raises(ValueError, match="a=18 must be a parameter index in 0..17"):
        kp.theta_direction(m, m.n_params)


# -------------------------------------------------------------------------- the tangent (P3)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("N,q", [(3, 3), (3, 4)])
def test_tangent_against_complex_step_and_finite_differences(N, q, scan, rule):
    m = random_potts(N, q, seed=N + q, gauge_noise=False)
    n, k = q ** N, 3
    p0 = random_law(n, 2)
    p, D = kernels.law_tangent(m, p0, k, rule, scan)
    np.testing.assert_allclose(p, kernels.law(m, p0, k, rule, scan), rtol=0, atol=tol(n))
    # dense route, complex step: θ -> (h, J) is linear, so θ + iε e_a is (h, J) + iε (h_a, J_a)
    eps = 1e-20
    for a in range(m.n_params):
        ha, Ja = kp.theta_direction(m, a)
        U = kp.dense_kernel(m.h + 1j * eps * ha, m.J + 1j * eps * Ja, rule, scan)
        ref = (np.linalg.matrix_power(U, k) @ p0).imag / eps
        np.testing.assert_allclose(D[:, a], ref, rtol=0, atol=1e-13)
    # finite differences through the matrix-free kernel (central, h = 1e-5: error O(h^2) ~ 1e-9)
    rng = np.random.default_rng(0)
    for a in rng.choice(m.n_params, 4, replace=False):
        e = np.zeros(m.n_params)
        e[a] = 1e-5
        fd = (kernels.law(m.with_theta(m.theta + e), p0, k, rule, scan)
              - kernels.law(m.with_theta(m.theta - e), p0, k, rule, scan)) / 2e-5
        np.testing.assert_allclose(D[:, a], fd, rtol=0, atol=1e-8)


def test_equilibrium_tangent_is_the_derivative_of_the_law():
    m = random_potts(3, 3, seed=9, gauge_noise=False)
    p, D = kernels.stationary_tangent(m, "heatbath", "sequential")
    for a in range(m.n_params):
        e = np.zeros(m.n_params)
        e[a] = 1e-6
        fd = (m.with_theta(m.theta + e).boltzmann() - m.with_theta(m.theta - e).boltzmann()) / 2e-6
        np.testing.assert_allclose(D[:, a], fd, rtol=0, atol=1e-9)
    F, dF = m.equilibrium_jacobian()
    F2, dF2 = m.stats_jacobian(p, D)
    np.testing.assert_allclose(dF, dF2, rtol=0, atol=1e-14)
    assert np.linalg.eigvalsh(dF).min() > 1e-6     # minimal exponential family: Fisher regular


# ---------------------------------------------------------------------------------- the data
def test_potts_data():
    m = potts_teacher(4, 3, seed=1)
    d = exact_potts_data(m)
    assert d.N == 4 and d.q == 3 and d.p.shape == (81,)
    np.testing.assert_allclose(d.stats, m.stats(m.boltzmann()), rtol=0, atol=0)
    s = sampled_potts_data(m, 2000, seed=3)
    assert s.M == 2000 and abs(s.p.sum() - 1) < 1e-14
    configs = mp.colours(4, 3, np.array([0, 5, 80, 5]))
    h = PottsData.from_samples(configs, 3)
    assert h.p[5] == 0.5 and h.p[0] == h.p[80] == 0.25
    with pytest.raises(ValueError, match="length q\\^N"):
        PottsData(np.ones(10) / 10, q=3)
    with pytest.raises(ValueError, match="magnetisation"):
        d.magnetisation
    with pytest.raises(ValueError, match="colours in 0..2"):
        PottsData.from_samples(configs + 1, 3)


@pytest.mark.parametrize("call, match", [
    (lambda: PottsMachine.random(3, 3, seed="a"), "seed='a' must be an integer"),
    (lambda: PottsMachine.random(3, 3, seed=-1), "seed=-1 must be an integer"),
    (lambda: PottsMachine.random(3, 3, 0, beta="1"), "beta='1' is text"),
    (lambda: PottsMachine.random(3, 3, 0, beta=[1.0, 2.0]), "beta must be a single number"),
    (lambda: PottsMachine.zeros(10 ** 6, 3), "couplings J of N=1000000 .* memory"),
    (lambda: sampled_potts_data(potts_teacher(2, 3), 10, seed=1.5), "seed=1.5"),
    (lambda: PottsData.from_samples(np.zeros((2, 40), int), 3), "beyond the exact routes"),
    (lambda: potts_teacher(3, 3).energy([0, 0.5, 2]), "integer colours"),   # was truncated to 0
    (lambda: potts_teacher(3, 3).energy("abc"), "sigma must have N = 3"),
    (lambda: mp.interaction_weights(log_p=np.full(27, np.nan), N=3, q=3), "log_p contains NaN"),
    (lambda: mp.interaction_weights(np.ones(3) / 3, N=1.5, q=3), "N=1.5 must be an integer"),
])
def test_bad_potts_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ the interaction spectrum (P4)
def test_interaction_spectrum_in_its_potts_form():
    """q = 2: the Walsh-Hadamard order weights of (W1); a Potts machine: orders 1 and 2 only,
    equal to its zero-sum gauge fields and couplings; the 1-step law of a trained Rdm-1 machine
    has spurious third-order interactions (measured w_3 = 2.1e-5; the teacher's 2e-31)."""
    from shortrun.numerics.analysis import interactions
    from shortrun.numerics.training import fixed_point
    bm = random_bm(5, seed=2)
    w = mp.interaction_weights(bm.boltzmann(), N=5, q=2)
    np.testing.assert_allclose(w, interactions.order_weights(interactions.spectrum(bm.boltzmann())),
                               rtol=1e-12, atol=1e-14)
    m = random_potts(4, 3, seed=4)
    w = mp.interaction_weights(m.boltzmann(), N=4, q=3)
    hz, Jz = m.zero_sum_gauge()
    np.testing.assert_allclose(w[1], np.sum(hz ** 2) / 3, rtol=1e-12)
    np.testing.assert_allclose(w[2], np.sum(Jz ** 2) / 2 / 9, rtol=1e-12)
    assert np.all(w[3:] < 1e-25)
    data = exact_potts_data(potts_teacher(4, 3, 1.0, seed=1, field=0.3))
    fp = fixed_point.solve(data, 1, "rdm", "heatbath", "sequential",
                           model=PottsMachine.zeros(4, 3), progress=False)
    law = kernels.law(fp.model, "uniform", 1, "heatbath", "sequential")
    assert mp.interaction_weights(law, N=4, q=3)[3] > 1e-8
    with pytest.raises(ValueError, match="exactly one"):
        mp.interaction_weights(N=4, q=3)


def test_registered_capabilities_check_rule_and_scan_and_data_pick_the_family():
    """The entry points resolve None to the Potts defaults and leave the check to the Potts
    functions registered in numerics/registry.py; PottsData (not a 2^N law) picks a Potts family
    when no model= is given, and a raw q^N vector is told to use PottsData."""
    from shortrun.numerics import sampling, training
    m = PottsMachine.random(2, 3, seed=0)
    K = kernels.kernel(m)
    assert (K.rule, K.scan) == (PottsMachine.DEFAULT_RULE, PottsMachine.DEFAULT_SCAN)
    calls = [(lambda: kernels.kernel(m, rule="gibbs"), "rule='gibbs'"),
             (lambda: kernels.law_tangent(m, "uniform", 1, scan="parallel"), "scan='parallel'"),
             (lambda: kernels.stationary_tangent(m, scan="sequentail"), "did you mean 'sequential'"),
             (lambda: sampling.sample(m, "uniform", 1, scan="continuous", n_chains=3, seed=0),
              "scan='continuous'")]
    for call, match in calls:
        with pytest.raises(ValueError, match=match):
            call()
    data = exact_potts_data(m)
    prob = training.problem(data, 1)
    assert isinstance(prob.template, PottsMachine) and prob.template.levels == (3, 3)
    np.testing.assert_array_equal(prob.template.theta, np.zeros(m.theta.shape))
    with pytest.raises(ValueError, match="PottsData"):
        training.problem(np.array(data.p), 1)
