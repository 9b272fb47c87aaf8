"""Monte Carlo short-run training against the exact fixed point (G5) of the k-step process.

θ* solves F(θ) = ⟨φ⟩_{U_θ^k p0} − ⟨φ⟩_data = 0 (exact, root-finding on kernels.law); Monte Carlo
training must (i) have zero mean gradient at θ* and (ii) settle around θ* from θ = 0, within
N_SIGMA error bars (the Polyak average of the second half, with a batch-means error bar).
Size N = 3.
"""
import numpy as np
import pytest
from scipy.optimize import root

from conftest import mc_gradients

from shortrun.numerics import kernels

from shortrun.numerics.training import monte_carlo as mc_training
from shortrun.numerics.training.divergence import DivergenceMonitor

from shortrun.numerics import models

from shortrun.numerics.core import moments

from shortrun.numerics.core import progress

from shortrun.numerics import sampling

N_SIGMA = 5.0
N = 3


@pytest.fixture(scope="module")
def teacher():
    g = np.random.default_rng(5)
    J = np.triu(g.normal(0.0, 0.5, (N, N)), 1)
    return models.BoltzmannMachine(g.normal(0.0, 0.4, N), J + J.T)


def exact_fixed_point(p_data, k, rule, scan):
    """θ* of Rdm-k from uniform p0: root of F(θ) = stats(U_θ^k p0) − stats(p_data)."""
    target = moments.stats(p_data)

    def F(theta):
        law = kernels.law(models.BoltzmannMachine.from_theta(theta, N), "uniform", k, rule, scan)
        return moments.stats(law) - target

    sol = root(F, np.full(target.size, 0.1), tol=1e-13)  # off the Metropolis kink at θ = 0
    assert sol.success and np.max(np.abs(F(sol.x))) < 1e-10
    return sol.x


def polyak_z(theta_history, target, blocks=10):
    """(mean of the second half − target) / batch-means standard error, per parameter."""
    tail = theta_history[len(theta_history) // 2:]
    tail = tail[: len(tail) // blocks * blocks]
    means = tail.reshape(blocks, -1, tail.shape[1]).mean(axis=1)
    return (tail.mean(axis=0) - target) / (means.std(axis=0, ddof=1) / np.sqrt(blocks))


CASES = [("heatbath", "random", 1), ("metropolis", "sequential", 2)]


@pytest.mark.parametrize("rule, scan, k", CASES)
def test_mean_gradient_vanishes_at_the_exact_fixed_point(teacher, rule, scan, k):
    p_data = teacher.boltzmann()
    theta_star = exact_fixed_point(p_data, k, rule, scan)
    G = mc_gradients(models.BoltzmannMachine.from_theta(theta_star, N), p_data, k, rule, scan,
                     n_chains=4000, n_draws=80, seed=1)
    z = G.mean(axis=0) / (G.std(axis=0, ddof=1) / np.sqrt(len(G)))
    assert np.all(np.abs(z) < N_SIGMA), z


@pytest.mark.parametrize("rule, scan, k", CASES)
def test_mc_training_started_at_the_exact_fixed_point_stays_there(teacher, rule, scan, k):
    """With lr > 0 the parameters fluctuate around θ*: their Polyak average is within N_SIGMA
    batch-means error bars of θ*, and clearly away from the teacher's θ (which is not a fixed
    point of short-run training), so the test can tell a drift."""
    p_data = teacher.boltzmann()
    theta_star = exact_fixed_point(p_data, k, rule, scan)
    run = mc_training.train(p_data, k, rule=rule, scan=scan, n_chains=4000, lr=0.3,
                            n_steps=400, seed=3, theta0=theta_star)
    assert np.all(np.abs(polyak_z(run.history.theta, theta_star)) < N_SIGMA)
    assert np.max(np.abs(polyak_z(run.history.theta, teacher.theta))) > 2 * N_SIGMA


@pytest.mark.parametrize("rule, scan, k", CASES)
def test_rdm_training_from_zero_lands_at_the_exact_fixed_point(teacher, rule, scan, k):
    p_data = teacher.boltzmann()
    theta_star = exact_fixed_point(p_data, k, rule, scan)
    run = mc_training.train(p_data, k, "rdm", rule, scan, n_chains=4000, lr=0.3, n_steps=600,
                            seed=2)
    z = polyak_z(run.history.theta, theta_star)
    assert np.all(np.abs(z) < N_SIGMA), z
    # and it resolves that theta* is not the teacher: short-run training is biased (G4)
    assert np.max(np.abs(polyak_z(run.history.theta, teacher.theta))) > 2 * N_SIGMA


def test_memory_effect_of_the_trained_machine(teacher):
    """Sampling θ* (Rdm-2) from the same p0: the data statistics are reproduced at t = k only,
    not before (t = 1) nor after (t = 40, drift towards p_θ*) — (M1), memory effect."""
    p_data = teacher.boltzmann()
    k = 2
    theta_star = exact_fixed_point(p_data, k, "heatbath", "random")
    traj = sampling.sample(models.BoltzmannMachine.from_theta(theta_star, N), "uniform", 40,
                           n_chains=200_000, seed=12, times=[1, k, 40])
    z = [np.max(np.abs(sampling.stats(s) - moments.stats(p_data)) / sampling.stats_error(s))
         for s in traj]
    assert z[1] < N_SIGMA and z[0] > 4 * N_SIGMA and z[2] > 4 * N_SIGMA, z


@pytest.mark.parametrize("protocol", ["cd", "pcd"])
def test_cd_and_pcd_land_at_maximum_likelihood_for_a_well_specified_model(teacher, protocol):
    """CD-k from p_data (G5: θ_ML is a fixed point for every k) and PCD (stationary law =
    Boltzmann) both settle at the teacher's parameters."""
    run = mc_training.train(teacher.boltzmann(), 1, protocol, n_chains=4000, lr=0.3,
                            n_steps=600, seed=3)
    z = polyak_z(run.history.theta, teacher.theta)
    assert np.all(np.abs(z) < N_SIGMA), z


def test_minibatch_cd_from_samples_is_bit_reproducible_across_threads():
    big = models.BoltzmannMachine(np.linspace(-0.3, 0.3, 7), np.full((7, 7), 0.1) - 0.1 * np.eye(7))
    data = sampling.sample(big, big.boltzmann(), 0, n_chains=3000, seed=4)
    args = dict(protocol="cd", n_chains=1000, batch_size=1000, lr=0.05, n_steps=4, seed=6,
                momentum=0.5)
    assert 1000 * 7 * 30 >= sampling.SERIAL_BELOW  # the chains really run on several threads
    runs = []
    for threads in (1, 2):
        with sampling.threads(threads):
            runs.append(mc_training.train(data, 30, **args))
    np.testing.assert_array_equal(runs[0].history.theta, runs[1].history.theta)
    np.testing.assert_array_equal(runs[0].chains, runs[1].chains)
    assert runs[0].history.grad.shape == (4, 7 + 21) and runs[0].chains.shape == (1000, 7)
    assert not np.array_equal(runs[0].theta, mc_training.train(data, 30, **{**args, "seed": 7}).theta)


def test_divergence_is_detected_and_explained():
    """(S2): random-scan heat-bath, k = 1, N = 3: q = (2/3)^3, and |m_D| = tanh 2 >= 1 − q
    leaves no finite fixed point (the exact Newton solver stalls too); the fields run away."""
    p_data = models.BoltzmannMachine(np.full(N, 2.0), np.zeros((N, N))).boltzmann()
    with pytest.raises(RuntimeError, match=r"diverged: \|h\[\d\]\| = .* exceeded theta_max = 10 after \d+ updates.*\(S2\)"):
        mc_training.train(p_data, 1, n_chains=2000, lr=0.5, n_steps=3000, seed=0, theta_max=10)
    describe = models.BoltzmannMachine.zeros(2).describe_param
    kind, reason = DivergenceMonitor(50.0, None, describe=describe)(5, np.array([0.0, np.nan, 0.0]),
                                                                     np.zeros(3))
    assert kind == "unstable" and "h[1]" in reason and "not finite" in reason
    kind, reason = DivergenceMonitor(50.0, None, describe=describe)(5, np.array([0.0, 1.0, -60.0]),
                                                                     np.zeros(3))
    assert kind == "diverge" and reason.count("J[0,1]") == 1


def test_progress_lines(monkeypatch, capsys, teacher):
    clock = iter(np.arange(0.0, 1000.0, 0.6))
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    mc_training.train(teacher.boltzmann(), 1, n_chains=50, n_steps=6, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and lines[-1].startswith("[mc_training] update 6/6")
    mc_training.train(teacher.boltzmann(), 1, n_chains=50, n_steps=6, progress=False)
    assert capsys.readouterr().err == ""


BAD = [
    (dict(protocol="eq"), "protocol='eq'"),
    (dict(k=-1), "k=-1"),
    (dict(rule="glauber"), "rule='glauber'"),
    (dict(lr=-0.1), "lr=-0.1"),
    (dict(momentum=1.0), "momentum=1.0"),
    (dict(theta_max=0), "theta_max=0"),
    (dict(theta0=np.zeros(5)), "theta0"),
    (dict(batch_size=10), "batch_size"),
    (dict(protocol="cd", p0="uniform"), "p0 must not be given"),
    (dict(data=np.full((10, 3), 2)), "values other than spins or bits"),
    (dict(data=np.full(8, 0.2)), "sums to"),
    (dict(n_chains=0), "n_chains=0"),
]


@pytest.mark.parametrize("kwargs, match", BAD, ids=[m for _, m in BAD])
def test_bad_input_names_the_argument(teacher, kwargs, match):
    args = dict(data=teacher.boltzmann(), k=1, n_steps=2, n_chains=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mc_training.train(**args)
