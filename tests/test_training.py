"""Exact short-run training (G4): gradient ascent lands on the Newton root; divergence is caught."""
import numpy as np
import pytest

from shortrun.numerics.analysis import diagnostics

from shortrun.numerics.training import fixed_point, monte_carlo

from shortrun.numerics.data import teachers

from shortrun.numerics import training
from shortrun.numerics.models import BoltzmannMachine


def sk_data(N=6):
    return teachers.sk(N, 0.5, seed=N, field=0.3).data(M=20 * 2**N, seed=1)


def independent_data(mD):
    N = len(mD)
    return teachers.exact_data(BoltzmannMachine(np.arctanh(mD), np.zeros((N, N))))


@pytest.mark.parametrize("protocol, rule, scan, k, lr, momentum", [
    ("rdm", "heatbath", "random", 2, 0.5, 0.0),
    ("rdm", "metropolis", "sequential", 1, 0.5, 0.0),
    ("cd", "heatbath", "sequential", 1, 0.1, 0.5),
    ("pcd", "heatbath", "random", 1, 0.5, 0.0),
    ("eq", "heatbath", "random", None, 0.5, 0.5),
])
def test_gradient_ascent_lands_on_the_newton_root(protocol, rule, scan, k, lr, momentum):
    data = sk_data()
    res = training.train(data, k, protocol, rule, scan, lr=lr, momentum=momentum,
                         n_steps=5000, tol=1e-11, record_every=50)
    assert res.converged, res.message
    root = fixed_point.solve(data, k, protocol, rule, scan)
    gap = np.max(np.abs(res.theta - root.theta))
    print(f"{protocol}-{k} {rule}/{scan}: {res.steps} updates, |theta_GA - theta_Newton|_inf = "
          f"{gap:.1e}")
    # |grad| <= 1e-11 and a Jacobian with smallest singular value ~1e-2 bound the gap by ~1e-9
    assert gap <= 1e-8
    assert res.history.step[-1] == res.steps
    assert res.history.mismatch_k[-1] <= 1e-11


@pytest.mark.parametrize("k", [1, 2, 3])
def test_training_independent_spins_heatbath_random(k):
    """the (S1) closed form reached by gradient ascent with J fixed at 0 (mask='fields')."""
    N = 5
    mD = np.array([-0.3, -0.1, 0.2, 0.35, 0.5])
    q = (1 - 1 / N) ** (k * N)
    res = training.train(independent_data(mD), k, "rdm", mask="fields", lr=1.0, n_steps=4000,
                         tol=1e-12)
    assert res.converged
    assert np.all(res.theta[N:] == 0)
    assert np.max(np.abs(res.theta[:N] - np.arctanh(mD / (1 - q)))) <= 1e-10


def test_training_independent_spins_other_rules():
    N = 4
    mD = np.array([0.15, 0.3, 0.55, 0.7])
    for rule, scan, k, expected in [
        ("heatbath", "sequential", 3, np.arctanh(mD)),
        ("heatbath", "parallel", 2, np.arctanh(mD)),
        ("metropolis", "sequential", 1, -0.5 * np.log(1 - mD)),
    ]:
        res = training.train(independent_data(mD), k, "rdm", rule, scan, mask="fields", lr=0.5,
                             n_steps=5000, tol=1e-12)
        assert res.converged, (rule, scan, res.message)
        assert np.max(np.abs(res.theta[:N] - expected)) <= 1e-10, (rule, scan)


def test_divergence_is_detected_with_the_independent_spin_condition():
    """m_D = tanh 0.8, k = 1, random scan, N = 8: |m_D| > 1 - q, the fields run away ((S2))."""
    N = 8
    data = independent_data(np.full(N, np.tanh(0.8)))
    with pytest.raises(RuntimeError) as err:
        training.train(data, 1, "rdm", "heatbath", "random", mask="fields", lr=0.5,
                       n_steps=100000)
    msg = str(err.value)
    print(msg)
    assert "(S2)" in msg and "1 - q" in msg and "diverge" in msg and "nan" not in msg.lower()


def test_divergence_with_trainable_couplings():
    """Strongly correlated data that one random-scan Metropolis sweep cannot reach: the couplings
    run away and the trainer stops with RuntimeError (no NaN)."""
    data = teachers.sk(6, 0.6, seed=3, field=0.3).data(M=3000, seed=1)
    with pytest.raises(RuntimeError, match="no finite fixed point"):
        training.train(data, 1, "rdm", "metropolis", "random", lr=0.3, momentum=0.9,
                       n_steps=20000)


def test_history_and_mixing_time():
    data = sk_data(5)
    res = training.train(data, 2, "rdm", lr=0.5, n_steps=30, tol=0.0, record_every=7,
                         mixing_every=14)
    h = res.history
    assert list(h.step) == [0, 7, 14, 21, 28, 30]
    assert h.theta.shape == (6, 15) and np.array_equal(h.theta[0], np.zeros(15))
    assert not res.converged and res.steps == 30
    assert np.isnan(h.mixing_time[[1, 3, 5]]).all()
    for row in (0, 2, 4):
        tau = diagnostics.mixing_time(BoltzmannMachine.from_theta(h.theta[row], 5))
        assert h.mixing_time[row] == pytest.approx(tau, rel=1e-12)
    assert h.mismatch_k[-1] < h.mismatch_k[0]
    assert np.allclose(h.grad_norm[0], np.linalg.norm(data.stats - 0.0))  # θ = 0: p(k) uniform
    steps, taus = diagnostics.mixing_times(h, every=2)
    assert np.array_equal(steps, [0, 14, 28]) and np.allclose(taus, h.mixing_time[[0, 2, 4]])


def test_training_is_bit_reproducible():
    data = sk_data(5)
    a = training.train(data, 1, "cd", "metropolis", "random", lr=0.2, momentum=0.5, n_steps=40)
    b = training.train(data, 1, "cd", "metropolis", "random", lr=0.2, momentum=0.5, n_steps=40)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.history.theta, b.history.theta)


def test_pcd_keeps_its_chain():
    """PCD's negative phase is the persistent vector, not U^k p0: after one update its gradient
    differs from Rdm's, but with θ fixed the persistent vector tends to p_θ."""
    data = sk_data(5)
    pcd = training.train(data, 1, "pcd", lr=0.3, n_steps=3, tol=0.0)
    rdm = training.train(data, 1, "rdm", lr=0.3, n_steps=3, tol=0.0)
    assert np.allclose(pcd.history.theta[:2], rdm.history.theta[:2], atol=1e-15)
    assert not np.allclose(pcd.theta, rdm.theta, atol=1e-6)


def test_progress_line(capsys):
    training.train(sk_data(5), 1, "rdm", lr=0.1, n_steps=3, tol=0.0, progress=True)
    err = capsys.readouterr().err
    assert "[train] update" in err


@pytest.mark.parametrize("kwargs, word", [
    (dict(lr=-1.0), "lr"),
    (dict(lr=float("nan")), "lr"),
    (dict(momentum=1.0), "momentum"),
    (dict(n_steps=-1), "n_steps"),
    (dict(record_every=0), "record_every"),
    (dict(protocol="pcd-k"), "protocol"),
    (dict(rule="glauber"), "rule"),
    (dict(p0=np.ones(32)), "p0"),
    (dict(progress="yes"), "progress"),
    (dict(theta0=np.ones(3)), "theta0"),
    (dict(tol=-1.0), "tol"),
    (dict(theta_max=0.0), "theta_max"),
])
def test_training_validation(kwargs, word):
    args = dict(protocol="rdm", lr=0.1, n_steps=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        training.train(sk_data(5), 1, **args)


def test_training_rejects_bad_data():
    with pytest.raises(ValueError, match="Data"):
        training.train(np.ones((10, 5)), 1)
    with pytest.raises(ValueError, match="data sums to 16.0, not 1"):
        training.train(np.full(32, 0.5), 1)


def test_no_false_alarm_next_to_the_existence_edge():
    """N = 6: 1 - q = 0.66510 just above m_D = tanh 0.8 = 0.66404, h* = 3.56 is finite and slow to
    reach (curvature 2e-3); the divergence monitor must let the run converge."""
    N = 6
    data = independent_data(np.full(N, np.tanh(0.8)))
    q = (1 - 1 / N) ** N
    res = training.train(data, 1, "rdm", mask="fields", lr=3.0, n_steps=20000, tol=1e-9,
                         record_every=1000)
    assert res.converged
    # |grad| <= 1e-9 with curvature (1 - q) sech^2 h* = 2.1e-3: |h - h*| <= 5e-7
    assert np.allclose(res.theta[:N], np.arctanh(np.tanh(0.8) / (1 - q)), atol=1e-6, rtol=0)


def test_too_large_learning_rate_is_not_called_divergence():
    data = sk_data(5)
    with pytest.raises(RuntimeError, match="unstable.*lower the learning rate"):
        training.train(data, 2, "rdm", lr=1e6, n_steps=10)
    res = training.train(data, 2, "rdm", lr=20.0, n_steps=300)
    assert not res.converged and "learning rate (lr=20) may be too large" in res.message
    assert np.all(np.isfinite(res.history.theta))


@pytest.mark.parametrize("trainer", ["exact", "monte_carlo"])
@pytest.mark.parametrize("lr", [0, 0.0, np.float64(0.0)])
def test_a_learning_rate_of_zero_is_refused_by_both_trainers(trainer, lr):
    """lr = 0 would return θ0 unchanged (and call lr "too large"): both trainers refuse it,
    naming lr and a value that works."""
    train = training.train if trainer == "exact" else monte_carlo.train
    with pytest.raises(ValueError, match=r"lr=.* must be a finite learning rate > 0, such as 0\.1"):
        train(sk_data(4), 2, lr=lr, n_steps=3)


@pytest.mark.parametrize("trainer", ["exact", "monte_carlo"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_start_beyond_theta_max_is_blamed_on_theta0(trainer, sign):
    """θ0 = ±500 (theta_max = 50) names theta0, the parameter, theta_max and the two fixes,
    instead of calling it a missing fixed point; a start just inside the bound trains; an
    out-of-bound entry that the mask freezes is no divergence."""
    train = training.train if trainer == "exact" else monte_carlo.train
    data = sk_data(4)
    P = 4 + 6
    with pytest.raises(ValueError, match=r"theta0 has h\[0\] = -?500, beyond theta_max = 50.*"
                                         r"raise theta_max above 500"):
        train(data, 2, theta0=np.full(P, sign * 500.0), n_steps=3)
    theta0 = np.zeros(P)
    theta0[7] = sign * 500.0
    with pytest.raises(ValueError, match=r"theta0 has J\[1,2\] = .*beyond theta_max"):
        train(data, 2, theta0=theta0, n_steps=3)
    frozen = train(data, 2, theta0=theta0, mask="fields", lr=0.1, n_steps=3)
    assert frozen.theta[7] == sign * 500.0
    inside = train(data, 2, theta0=np.full(P, sign * 0.5), theta_max=0.6, lr=0.01, n_steps=1)
    assert np.all(np.isfinite(inside.theta))


def test_monte_carlo_huge_k_is_refused_up_front():
    """Cost guard of the Monte Carlo trainer: n_steps x chains x N x k spin updates beyond
    problem.MAX_WORK are refused before any chain runs, naming k and the largest k that fits."""
    data = teachers.sk(4, 0.5, seed=1).data(M=500, seed=1)
    with pytest.raises(ValueError, match=r"k=1e\+09: Monte Carlo training \(n_steps=100 updates "
                                         r"x n_chains=1000 x N=4 units per sweep\).* pass k <= "
                                         r"25000000 or fewer n_steps or n_chains\."):
        monte_carlo.train(data, 10**9, n_steps=100, n_chains=1000, progress=False)
    with pytest.raises(ValueError, match=r"even k = 1 exceeds it: pass fewer n_steps or n_chains"):
        monte_carlo.train(data, 1, n_steps=10**6, n_chains=10**7, progress=False)
