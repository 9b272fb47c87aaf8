"""A second model type through the interface: independent spins (φ = s_i) trained by the exact
trainer, Newton and the Monte Carlo trainer with no change to any of them.

Independent checks: the closed form (S1) of the trained field, tanh h* = (m_D − q m0)/(1 − q)
(shortrun.theory.independent), and the Boltzmann machine trained with its couplings frozen at 0
(mask='fields'), which is the same model written differently.
"""
import numpy as np
import pytest

from shortrun.numerics import kernels, sampling, training
from shortrun.numerics.core import moments
from shortrun.numerics.data import teachers
from shortrun.numerics.models import BoltzmannMachine, IndependentSpins
from shortrun.numerics.training import fixed_point
from shortrun.numerics.training import monte_carlo
from shortrun.theory import independent

N = 5
M_D = np.array([0.3, -0.5, 0.1, 0.62, -0.2])   # inside |m_D| < 1 - q for k >= 2
FAMILY = IndependentSpins(np.zeros(N))


@pytest.fixture(scope="module")
def data():
    return teachers.Data.from_distribution(IndependentSpins(np.arctanh(M_D)).boltzmann())


@pytest.mark.parametrize("rule, scan, k", [("heatbath", "random", 2), ("heatbath", "random", 3),
                                           ("metropolis", "sequential", 1),
                                           ("heatbath", "continuous", 1.5)])
def test_newton_matches_the_closed_form_and_the_masked_bm(data, rule, scan, k):
    fp = fixed_point.solve(data, k, "rdm", rule, scan, model=FAMILY)
    assert isinstance(fp.model, IndependentSpins) and fp.theta.shape == (N,)
    assert fp.residual <= 1e-11
    h_closed = independent.field_fixed_point(M_D, k, rule=rule, scan=scan, N=N)
    np.testing.assert_allclose(fp.theta, h_closed, rtol=0, atol=1e-9)
    bm = fixed_point.solve(data, k, "rdm", rule, scan, mask="fields")
    np.testing.assert_allclose(fp.theta, bm.theta[:N], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(bm.theta[N:], 0.0)
    # the k-step law of the trained model reproduces the data's magnetisation (G5)
    p_k = kernels.law(fp.model, "uniform", k, rule=rule, scan=scan)
    np.testing.assert_allclose(moments.moments(p_k)[0], M_D, rtol=0, atol=1e-11)


def test_exact_trainer_reaches_the_same_fixed_point(data):
    res = training.train(data, 2, "rdm", model=FAMILY, lr=0.5, n_steps=4000, tol=1e-12)
    assert res.converged and isinstance(res.model, IndependentSpins)
    h_closed = independent.field_fixed_point(M_D, 2, rule="heatbath", scan="random", N=N)
    np.testing.assert_allclose(res.theta, h_closed, rtol=0, atol=1e-10)
    assert res.history.theta.shape[1] == N


def test_equilibrium_protocols_give_atanh(data):
    for protocol in ("eq", "pcd"):
        fp = fixed_point.solve(data, 2, protocol, model=FAMILY)
        np.testing.assert_allclose(fp.theta, np.arctanh(M_D), rtol=0, atol=1e-10)


def test_divergence_is_diagnosed_for_the_new_model():
    """(S2): m_D = tanh 0.8 at k = 1 and N = 8 violates |m_D| < 1 - q = 0.656: no finite field."""
    data = teachers.Data.from_distribution(IndependentSpins(np.full(8, 0.8)).boltzmann())
    with pytest.raises(RuntimeError, match=r"\(S2\).*1 - q"):
        training.train(data, 1, "rdm", model=IndependentSpins(np.zeros(8)), lr=0.5,
                       n_steps=100000)


def test_monte_carlo_trainer_agrees_within_error(data):
    """Polyak average of the last half of a seeded run against the closed form, 5 sigma of the
    batch-means error (the chains' noise, 4000 chains)."""
    k = 2
    h_closed = independent.field_fixed_point(M_D, k, rule="heatbath", scan="random", N=N)
    run = monte_carlo.train(data, k, "rdm", model=FAMILY, n_chains=4000, lr=0.3, n_steps=500,
                            seed=5, theta0=h_closed)
    assert run.theta.shape == (N,) and isinstance(run.model, IndependentSpins)
    tail = run.history.theta[250:]
    means = tail.reshape(10, 25, N).mean(axis=1)
    err = means.std(axis=0, ddof=1) / np.sqrt(len(means))
    z = (tail.mean(axis=0) - h_closed) / err
    assert np.all(np.abs(z) < 5), z


def test_sampler_and_kernel_are_registered(data):
    model = IndependentSpins(np.arctanh(M_D))
    s = sampling.sample(model, "uniform", 3, n_chains=20000, seed=1)
    m_mc = s.mean(axis=0)
    m_exact = moments.moments(kernels.law(model, "uniform", 3))[0]
    err = np.sqrt((1 - m_exact ** 2) / len(s))
    assert np.all(np.abs(m_mc - m_exact) < 5 * err)
    np.testing.assert_array_equal(model.sample_stats(s), m_mc)


def test_a_model_without_registration_is_refused():
    class Plain:
        pass

    with pytest.raises(ValueError, match="model"):
        kernels.law(Plain(), "uniform", 1)
    with pytest.raises(ValueError, match="model"):
        sampling.sample(Plain(), "uniform", 1)
    with pytest.raises(ValueError, match="model must be a shortrun model"):
        training.train(teachers.exact_data(BoltzmannMachine.zeros(3)), 1, model=Plain())


def test_continuous_time_is_t_and_names_are_suggested():
    model = BoltzmannMachine(np.array([0.2, -0.1, 0.3]), 0.4 * (np.ones((3, 3)) - np.eye(3)))
    p_t = kernels.law(model, "uniform", t=1.7, scan="continuous")
    ref = kernels.BMKernel(model, "heatbath", "continuous").propagate("uniform", 1.7)
    np.testing.assert_array_equal(p_t, ref)
    with pytest.raises(ValueError, match="t=1.7 is a continuous time.*scan='continuous'"):
        kernels.law(model, "uniform", t=1.7, scan="random")
    with pytest.raises(ValueError, match="did you mean 'heatbath'"):
        kernels.law(model, "uniform", 2, rule="heat-bath")
    with pytest.raises(ValueError, match="did you mean 'heatbath'"):
        training.train(teachers.exact_data(model), 2, rule="heat-bath")


def test_teacher_from_your_own_parameters():
    h, J = np.array([0.1, 0.2, -0.3]), 0.5 * (np.ones((3, 3)) - np.eye(3))
    t = teachers.Teacher.from_params(h, J, beta=0.5)
    np.testing.assert_array_equal(t.model.h, 0.5 * h)
    np.testing.assert_array_equal(t.model.J, 0.5 * J)


def test_no_silent_answers_at_the_edges(tmp_path):
    data = teachers.ring(5, 0.3).data()
    with pytest.raises(ValueError, match=r"k=0 with protocol='rdm'.*pass k >= 1"):
        fixed_point.solve(data, 0, "rdm")
    with pytest.raises(ValueError, match=r"theta0 has max \|theta\| = 30.*raise theta_max"):
        fixed_point.solve(data, 2, "rdm", theta0=np.full(15, 30.0))
    path = tmp_path / "run.ckpt"
    training.train(data, 2, "rdm", n_steps=6, tol=0.0, checkpoint=path, checkpoint_seconds=0)
    with pytest.raises(ValueError, match=r"holds 6 updates, more than n_steps=3; pass n_steps >= 6"):
        training.train(data, 2, "rdm", n_steps=3, tol=0.0, checkpoint=path)


def test_a_huge_number_of_steps_stops_at_the_fixed_vector():
    """k = 6e15 sweeps: the law reaches a vector that U maps to itself in floating point, and
    the same vector is returned at once (it is what k applications would give)."""
    model = BoltzmannMachine(np.array([0.2, -0.1, 0.3]), 0.2 * (np.ones((3, 3)) - np.eye(3)))
    p = kernels.law(model, "uniform", 6 * 10**15, scan="sequential")
    K = kernels.BMKernel(model, "heatbath", "sequential")
    np.testing.assert_array_equal(K.apply(p), p)
    np.testing.assert_allclose(p, model.boltzmann(), rtol=0, atol=1e-15)


def test_rule_and_scan_default_to_the_models_own():
    """Every public function that takes rule/scan leaves them to the model (None), and solve and
    distinct_roots share one default spread of their seeded starts."""
    import inspect

    from shortrun.numerics.analysis import diagnostics, memory
    from shortrun.numerics.training.problem import problem as make_problem

    funcs = (training.train, make_problem, fixed_point.solve, fixed_point.distinct_roots,
             monte_carlo.train, kernels.law, kernels.kernel, kernels.law_tangent,
             kernels.stationary_tangent, sampling.sample, diagnostics.memory_curve,
             diagnostics.mixing_time, diagnostics.mixing_times, memory.sampled_memory_curve,
             memory.autocorrelation_time)
    for f in funcs:
        params = inspect.signature(f).parameters
        assert (params["rule"].default, params["scan"].default) == (None, None), f.__qualname__
    scales = {inspect.signature(f).parameters["scale"].default
              for f in (fixed_point.solve, fixed_point.distinct_roots)}
    assert scales == {fixed_point.START_SCALE}


def test_an_rbm_trains_and_solves_without_naming_its_scan():
    from shortrun.numerics.models import RBM

    rbm = RBM.random(3, 1, seed=0)
    data = teachers.Data.from_distribution(np.array(RBM.random(3, 1, seed=1).boltzmann()))
    res = training.train(data, 2, model=rbm, n_steps=2, tol=0.0)
    assert (res.problem.rule, res.problem.scan) == ("heatbath", "alternating")
    fp = fixed_point.solve(data, 2, model=rbm, theta0=RBM.random(3, 1, seed=1).theta, tol=1e-10)
    assert fp.problem.scan == "alternating" and fp.residual <= 1e-10
