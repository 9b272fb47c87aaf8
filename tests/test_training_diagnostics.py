"""Diagnostics of a trained θ*: memory curve, equilibrium mismatch, couplings, KL, mixing time."""
import numpy as np
import pytest

from shortrun.numerics.analysis import diagnostics

from shortrun.numerics.training import fixed_point

from shortrun.numerics import kernels

from shortrun.numerics.kernels import spectral

from shortrun.numerics.data import teachers
from shortrun.numerics.models import BoltzmannMachine


def test_memory_curve_minimum_at_t_equal_k():
    """Memory effect (M1): sampling θ* from p0, the data statistics match at t = k only."""
    data = teachers.sk(7, 0.5, seed=7, field=0.3).data(M=3000, seed=2)
    k = 4
    fp = fixed_point.solve(data, k, "rdm", "heatbath", "random")
    times = [0, 1, 2, 3, 4, 5, 6, 8, 12, 20, 40]
    mc = diagnostics.memory_curve(fp.model, "uniform", times, data)
    print("t:", times, "\n|<phi>_p(t) - <phi>_data|_inf:", np.round(mc.distance, 5))
    assert mc.best_time == k
    at_k = mc.distance[times.index(k)]
    assert at_k <= 1e-10
    assert np.all(np.delete(mc.distance, times.index(k)) > 1e-4)
    # t >> k drifts to p_θ*'s statistics
    summary = diagnostics.summary(fp)
    assert np.isclose(mc.distance[-1], summary["mismatch_eq"], atol=1e-6)
    # KL(p_data || p(t, p0)) against a direct sum over the sampled states (0 log 0 = 0)
    seen = data.p > 0
    for t, kl in zip(times, mc.kl_data_to_model):
        p_t = kernels.law(fp.model, "uniform", t, rule="heatbath", scan="random")
        direct = np.sum(data.p[seen] * np.log(data.p[seen] / p_t[seen]))
        assert kl == pytest.approx(direct, rel=1e-12, abs=1e-15)
    assert mc.kl_data_to_model[times.index(k)] == pytest.approx(summary["kl_data_to_fix"], rel=1e-12)
    # the moments match at t = k, the law does not (M = 3000 samples of 128 states): KL > 0
    assert summary["kl_data_to_fix"] > 1e-3


def test_continuous_time_memory_curve_on_a_real_grid():
    data = teachers.ring(5, 0.3, field=0.1).data()
    fp = fixed_point.solve(data, 1.5, "rdm", "heatbath", "continuous")
    mc = diagnostics.memory_curve(fp.model, "uniform", [0.5, 1.0, 1.5, 2.0, 3.0], data,
                                  scan="continuous")
    assert mc.best_time == 1.5 and mc.distance[2] <= 1e-10


def test_couplings_against_a_lattice_teacher():
    """3x3 periodic ferromagnet, exact data: ML recovers βJ⁰ with no spurious couplings; Rdm-1
    inflates the bonds and adds positive couplings on the diagonals ((Ia)–(Ib))."""
    teacher = teachers.ferromagnet(3, 0.2)
    data = teacher.data()
    ml = fixed_point.solve(data, None, "eq")
    assert diagnostics.coupling_error(ml.model, teacher) <= 1e-20
    assert np.max(np.abs(diagnostics.spurious_couplings(ml.model, teacher)[1])) <= 1e-10
    rdm = fixed_point.solve(data, 1, "rdm", "heatbath", "random")
    pairs, vals = diagnostics.spurious_couplings(rdm.model, teacher)
    assert len(pairs) == 36 - 18 and np.all(vals > 0)
    bonds = rdm.model.J[teacher.J0 == 1]
    assert np.all(bonds > 0.2)
    err = diagnostics.coupling_error(rdm.model, teacher)
    iu = np.triu_indices(9, 1)
    assert err == pytest.approx(np.sum((rdm.model.J[iu] - 0.2 * teacher.J0[iu]) ** 2), rel=1e-14)
    s = diagnostics.summary(rdm, teacher)
    print({key: f"{v:.3g}" for key, v in s.items()})
    assert s["mismatch_fix"] <= 1e-10 and s["mismatch_eq"] > 1e-2
    assert s["kl_data_to_eq"] > 1e-3 and diagnostics.summary(ml, teacher)["kl_data_to_eq"] <= 1e-12
    assert s["coupling_error"] == pytest.approx(err)


def test_spurious_next_nearest_coupling_coefficient():
    """(Ib): on the 5-spin ring under continuous-time Glauber, k = 1, the next-nearest
    coupling tends to β²(f1² − f2)/f1³ = 0.2377 β² as β → 0."""
    f1, f2 = 1 - np.exp(-2.0), 1 - 3 * np.exp(-2.0)
    coeff = (f1**2 - f2) / f1**3
    errors = []
    for beta in (0.04, 0.02, 0.01):
        fp = fixed_point.solve(teachers.ring(5, beta).data(), 1.0, "rdm", "heatbath", "continuous")
        errors.append(abs(fp.model.J[0, 2] / beta**2 - coeff))
    print("coefficient", round(coeff, 4), "errors", np.round(errors, 5))
    assert errors[-1] < 0.01 * coeff
    assert errors[0] > errors[1] > errors[2]


def test_kl_divergence():
    p = np.array([0.5, 0.5, 0.0, 0.0])
    q = np.full(4, 0.25)
    assert diagnostics.kl_divergence(p, q) == pytest.approx(np.log(2))
    assert diagnostics.kl_divergence(q, p) == np.inf
    assert diagnostics.kl_divergence(q, q) == 0.0
    with pytest.raises(ValueError, match="q"):
        diagnostics.kl_divergence(p, np.ones(3) / 3)
    with pytest.raises(ValueError, match="p='ab' is text"):              # was a TypeError
        diagnostics.kl_divergence("ab", q)
    with pytest.raises(ValueError, match="result must be a TrainingResult"):   # AttributeError
        diagnostics.summary(None)
    with pytest.raises(ValueError, match="history must be a training History"):
        diagnostics.mixing_times(None)


@pytest.mark.parametrize("scan", ["random", "sequential"])
def test_mixing_time_is_the_slowest_relaxation(scan):
    model = teachers.sk(5, 0.8, seed=1).model
    tau = diagnostics.mixing_time(model, "heatbath", scan)
    lam = spectral.decompose(kernels.BMKernel(model, "heatbath", scan)).eigenvalues
    assert tau == pytest.approx(-1 / np.log(np.abs(lam[1])), rel=1e-12)
    assert diagnostics.mixing_time(model.theta) == pytest.approx(
        diagnostics.mixing_time(model), rel=1e-12)


def test_equilibrium_stats_and_coupling_error_validation():
    model = BoltzmannMachine.zeros(4)
    assert np.allclose(diagnostics.equilibrium_stats(model), 0)
    with pytest.raises(ValueError, match="N="):
        diagnostics.coupling_error(model, teachers.ring(5, 0.1))


def test_diagnostics_work_on_another_model_and_name_what_it_lacks():
    """An RBM meets the model contract: mixing_time, equilibrium_stats and memory_curve use its
    own kernel (alternating Gibbs) and statistics, checked against the dense spectrum of its
    visible chain and the exact laws; the coupling diagnostics, which need pairwise couplings J,
    say so; a theta that is text is named."""
    from shortrun.numerics.models import RBM
    rbm = RBM.random(3, 2, seed=0)
    U = kernels.kernel(rbm, "heatbath", "alternating")
    lam = np.sort(np.abs(np.linalg.eigvals(U.dense())))[::-1]
    assert diagnostics.mixing_time(rbm) == pytest.approx(-1 / np.log(lam[1]), rel=1e-10)
    np.testing.assert_array_equal(diagnostics.equilibrium_stats(rbm), rbm.stats(rbm.boltzmann()))
    data = teachers.Data.from_distribution(np.ones(8) / 8)
    curve = diagnostics.memory_curve(rbm, "uniform", [0, 2], data)
    dense = np.linalg.matrix_power(U.dense(), 2) @ (np.ones(8) / 8)
    np.testing.assert_allclose(curve.stats[1], rbm.stats(dense), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="coupling_error needs a model with pairwise couplings J"):
        diagnostics.coupling_error(rbm, teachers.ring(3, 0.1))
    with pytest.raises(ValueError, match="model='x' is text"):
        diagnostics.mixing_time("x")


def _product_law(N, m0):
    from shortrun.numerics.core.states import spins
    return np.prod((1.0 + m0 * spins(N)) / 2.0, axis=1)


def test_robustness_map_of_a_boltzmann_machine_equals_the_figure_route():
    """(M2) on a Boltzmann machine: bit-identical to the robustness figure's former route
    (kernels.BMKernel(θ*, 'heatbath', 'random').trajectory + core.moments.stats), and zero
    (to Newton's 1e-10) at the training protocol (t = k, p0′ = uniform) only."""
    from shortrun.numerics.core import moments
    data = teachers.sk(5, 0.5, seed=3, field=0.2).data()
    k = 2
    model = fixed_point.solve(data, k, "rdm", "heatbath", "random", progress=False).model
    m0s = (-0.6, 0.0, 0.45)
    times = range(4 * k + 1)
    rmap = diagnostics.robustness_map(model, data, [_product_law(5, m) for m in m0s], times)
    for i, m0 in enumerate(m0s):
        laws = kernels.BMKernel(model, "heatbath", "random").trajectory(_product_law(5, m0), times)
        old = np.max(np.abs(np.array([moments.stats(p) for p in laws]) - data.stats), axis=1)
        np.testing.assert_array_equal(rmap.stats_error[i], old)
    assert rmap.stats_error.shape == (3, 4 * k + 1)
    assert rmap.stats_error[1, k] <= 1e-10
    others = np.delete(rmap.stats_error.ravel(), 1 * (4 * k + 1) + k)
    assert others.min() > 1e-4


@pytest.mark.parametrize("which", ["rbm", "potts"])
def test_robustness_map_of_other_models_against_kernels_law(which):
    """(M2) through the model contract on an RBM (alternating Gibbs) and a Potts machine
    (random-scan heat-bath): every cell against kernels.law(model, p0, t) + model.stats.  Both
    routes apply the same kernel t times to the same vector, so they agree to rounding:
    atol = 1e-13 (t ≤ 6 products of a stochastic matrix, entries ≤ 1, ε = 2.2e-16, ≤ 64 states)."""
    if which == "rbm":
        from shortrun.numerics.models import RBM
        model = RBM.random(3, 2, seed=0)
        data = teachers.Data.from_samples(np.array([[1, -1, 1], [1, 1, 1], [-1, -1, 1]]))
        target = model.stats(data.p)
    else:
        from shortrun.numerics.data.potts import exact_potts_data, potts_teacher
        from shortrun.numerics.models.potts import PottsMachine
        data = exact_potts_data(potts_teacher(3, 3, beta=1.0, seed=2))
        model = PottsMachine.random(3, 3, seed=5, beta=0.7)
        target = data.stats
    n = model.n_states
    rng = np.random.default_rng(1)
    p1 = rng.random(n)
    p0s = ["uniform", p1 / p1.sum()]
    times = [0, 1, 2, 5, 6]
    rmap = diagnostics.robustness_map(model, data, p0s, times)
    for i, p0 in enumerate(p0s):
        for r, t in enumerate(times):
            st = model.stats(kernels.law(model, p0, t))
            np.testing.assert_allclose(rmap.stats[i, r], st, rtol=0, atol=1e-13)
            assert rmap.stats_error[i, r] == pytest.approx(np.max(np.abs(st - target)),
                                                           rel=0, abs=1e-13)
    assert rmap.stats_error.min() > 1e-3     # an untrained model matches the data nowhere


def test_robustness_map_refuses_bad_input():
    model = teachers.ring(3, 0.3).model
    data = teachers.ring(3, 0.3).data()
    with pytest.raises(ValueError, match="p0s must be a sequence"):
        diagnostics.robustness_map(model, data, np.full(8, 1 / 8), [0, 1])
    with pytest.raises(ValueError, match="p0s must be a sequence"):
        diagnostics.robustness_map(model, data, "uniform", [0, 1])
    with pytest.raises(ValueError, match="at least one"):
        diagnostics.robustness_map(model, data, ["uniform"], [])
    with pytest.raises(ValueError, match="8 states"):
        diagnostics.robustness_map(model, teachers.ring(4, 0.3).data(), ["uniform"], [0, 1])
