"""Monte Carlo training of a Potts machine (Rdm-k, CD-k, PCD-k) lands on the exact fixed point
(G5).

Teacher: a q = 3, N = 4 Potts machine (81 states), its exact law as data (cd: 1000 samples),
k = 2 sweeps of random-scan heat-bath.  The exact fixed point θ* comes from damped Newton on
the exact kernels (:func:`shortrun.numerics.training.fixed_point.solve`); for pcd it is the
teacher itself (the chains' stationary law is the Gibbs law and the data are the teacher's law).

Stated error (Polyak–Juditsky).  Near θ* the update is θ ← θ + v, v ← μv + η(−A(θ − θ*) − ξ),
A = ∂F/∂θ the exact Jacobian and ξ the chains' noise, independent across updates for rdm and
for cd from samples (fresh chains, fresh seeds) with covariance Σ/n (Σ exact, see each test).
The average θ̄ of T iterates then has covariance A⁻¹ΣA⁻ᵀ/(nT) up to O(1/(λ_eff T)) boundary
terms, λ_eff = ηλ_min(A)/(1−μ) (asserted ≥ 20/T).  The test asks every component within 5σ
and the χ² over all P components above the two-sided 5σ level.  PCD's chains persist, so their
noise is correlated: its error bar is the batch-means estimate over the averaging window.
"""
import numpy as np
import pytest
from scipy.stats import chi2, norm, t as student_t

from shortrun.numerics import kernels
from shortrun.numerics.data.potts import PottsData, exact_potts_data, potts_teacher
from shortrun.numerics.kernels import potts as _potts_kernels  # noqa: F401  (registers the kernel)
from shortrun.numerics.models.potts import PottsMachine, colours, phi_matrix
from shortrun.numerics.training import fixed_point, monte_carlo
from shortrun.numerics.training.problem import problem

N_SIGMA = 5.0
N, Q, K = 4, 3, 2
N_CHAINS, LR, MOMENTUM = 1000, 1.0, 0.9
BURN_IN, N_STEPS = 300, 1500


@pytest.fixture(scope="module")
def setting():
    teacher = potts_teacher(N, Q, beta=1.0, seed=1)
    return teacher, exact_potts_data(teacher), PottsMachine.zeros(N, Q)


def _covariance(model, p):
    """Exact covariance Σ of the one-hot statistics φ under the law p."""
    Phi = phi_matrix(model.N, model.q)
    F = Phi.T @ p
    return (Phi * p[:, None]).T @ Phi - np.outer(F, F)


def _train(data, template, protocol, lr=LR, n_steps=N_STEPS):
    return monte_carlo.train(data, K, protocol, model=template, n_chains=N_CHAINS, lr=lr,
                             momentum=MOMENTUM, n_steps=n_steps, seed=0, progress=False)


def _assert_lands(res, theta_star, A, Sigma, what):
    """θ̄ over the window within N_SIGMA of θ*, componentwise and by χ² (module docstring)."""
    T = N_STEPS - BURN_IN
    lam = np.min(np.linalg.eigvals(A).real)
    assert lam > 0 and LR * lam / (1 - MOMENTUM) * T >= 20, "averaging window too short"
    theta_bar = res.history.theta[BURN_IN:].mean(axis=0)
    Ainv = np.linalg.inv(A)
    C = Ainv @ Sigma @ Ainv.T / (N_CHAINS * T)
    d = theta_bar - theta_star
    z = d / np.sqrt(np.diag(C))
    assert np.all(np.abs(z) < N_SIGMA), f"{what}: max |z| = {np.abs(z).max():.2f}"
    stat = d @ np.linalg.solve(C, d)
    assert chi2.sf(stat, d.size) > 2 * norm.sf(N_SIGMA), f"{what}: chi2 = {stat:.1f}"
    # and far from the start θ = 0: the run moved by many error bars
    assert np.max(np.abs(theta_star) / np.sqrt(np.diag(C))) > 100


def _fixed_point(data, protocol, template):
    theta_star = fixed_point.solve(data, K, protocol, model=template).theta
    F, A = problem(data, K, protocol, model=template).residual_and_jacobian(theta_star)
    assert np.max(np.abs(F)) < 1e-10
    return theta_star, A, template.with_theta(theta_star)


@pytest.mark.slow
def test_rdm_lands_on_the_exact_fixed_point(setting):
    """Rdm-k from the uniform law: fresh chains at every update, noise covariance Σ/n with Σ the
    covariance of φ under the k-step law U^k p0 at θ*."""
    _, data, template = setting
    theta_star, A, model = _fixed_point(data, "rdm", template)
    Sigma = _covariance(model, kernels.law(model, "uniform", K))
    _assert_lands(_train(data, template, "rdm"), theta_star, A, Sigma, "rdm")


@pytest.mark.slow
def test_cd_from_samples_lands_on_the_exact_fixed_point(setting):
    """CD-k from M = n_chains samples: every update starts one chain at each sample, so the
    fixed point is the exact CD fixed point of their empirical law and the noise covariance is
    the mean conditional covariance Σ = Σ_x p̂(x) Cov_{U^k δ_x}(φ)."""
    _, data, template = setting
    x = np.random.default_rng(0).choice(Q ** N, size=N_CHAINS, p=data.p)
    samples = colours(N, Q, x)
    emp = PottsData.from_samples(samples, Q)
    theta_star, A, model = _fixed_point(emp, "cd", template)
    Sigma = sum(w * _covariance(model, kernels.law(model, np.eye(Q ** N)[y], K))
                for y, w in enumerate(emp.p) if w > 0)
    res = monte_carlo.train(samples, K, "cd", model=template, lr=LR, momentum=MOMENTUM,
                            n_steps=N_STEPS, seed=0, progress=False)
    _assert_lands(res, theta_star, A, Sigma, "cd")


@pytest.mark.slow
def test_persistent_chains_land_on_the_teacher(setting):
    """PCD-k: the persistent chains lag behind θ, a bias that grows with the step, so the
    learning rate is 0.3 here (at 1.0 the average is off by up to 15 batch-means errors)."""
    teacher, data, template = setting
    prob = problem(data, K, "pcd", model=template)
    assert np.max(np.abs(prob.residual(teacher.theta))) < 1e-12
    n_steps = 3000
    window = _train(data, template, "pcd", lr=0.3, n_steps=n_steps).history.theta[n_steps // 5:]
    B = 10  # batch means: 10 batches of 240 updates
    means = window.reshape(B, -1, window.shape[1]).mean(axis=1)
    err = means.std(axis=0, ddof=1) / np.sqrt(B)
    z = (window.mean(axis=0) - teacher.theta) / err
    # Student t with B - 1 dof at the two-sided 5-sigma level
    bound = student_t.isf(norm.sf(N_SIGMA), B - 1)
    assert np.all(np.abs(z) < bound), f"pcd: max |z| = {np.abs(z).max():.2f} (bound {bound:.1f})"
    assert np.max(np.abs(teacher.theta) / err) > 100  # far from the start θ = 0


def test_potts_samples_train_through_the_sampler(setting):
    """Colour samples as data (minibatches), and the model's own errors for bad data."""
    teacher, data, template = setting
    x = np.random.default_rng(0).choice(Q ** N, size=400, p=data.p)
    samples = colours(N, Q, x)
    res = monte_carlo.train(samples, 1, "cd", model=template, lr=0.1, n_steps=5,
                            batch_size=100, seed=2, progress=False)
    assert res.theta.shape == (template.n_params,) and np.all(np.isfinite(res.theta))
    assert res.chains is None or res.chains.dtype == np.int8
    again = monte_carlo.train(samples, 1, "cd", model=template, lr=0.1, n_steps=5,
                              batch_size=100, seed=2, progress=False)
    np.testing.assert_array_equal(res.theta, again.theta)
    pcd = monte_carlo.train(samples, 1, "pcd", model=template, n_chains=50, lr=0.1, n_steps=3,
                            seed=2, progress=False)
    assert pcd.chains.shape == (50, N) and pcd.chains.max() < Q
    bad = samples.copy()
    bad[3, 1] = Q
    with pytest.raises(ValueError, match="data are not samples of PottsMachine"):
        monte_carlo.train(bad, 1, model=template, n_steps=2)
    with pytest.raises(ValueError, match="data"):
        monte_carlo.train(np.ones(2 ** N) / 2 ** N, 1, model=template, n_steps=2)
    with pytest.raises(ValueError, match="batch_size"):
        monte_carlo.train(data, 1, model=template, n_steps=2, batch_size=10)
