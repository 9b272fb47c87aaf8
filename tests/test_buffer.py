"""The replay buffer (protocol 'buffer', docs/theory.md (B1)-(B3)), exact and Monte Carlo.

Exact: the stationary buffer law B* = (1-ρ)(I-ρU^k)^{-1}U^k p0 (GMRES with a certified bound)
against the geometric-age sum of kernels.law and against the dense spectral route (mode damping);
the finite-ν law recursion contracts onto B*; the Jacobian through the resolvent against
Richardson-bounded finite differences; ρ = 0 is Rdm-k bit for bit.  Monte Carlo: a real buffer
of chains, its mean gradient at the exact buffer fixed point and its Polyak average against
it (batch-means error bars, N_SIGMA), and bit-for-bit resumption from a checkpoint.
"""
import numpy as np
import pytest
from conftest import richardson_fd_check

from shortrun.numerics import kernels, models, sampling, training
from shortrun.numerics.core import checkpoint, rng
from shortrun.numerics.data import teachers
from shortrun.numerics.kernels.spectral import decompose
from shortrun.numerics.training import buffer, fixed_point
from shortrun.numerics.training import monte_carlo as mc_training
from shortrun.numerics.training.problem import problem

EPS = np.finfo(float).eps
N_SIGMA = 5.0
N = 3


def _teacher():
    g = np.random.default_rng(5)
    J = np.triu(g.normal(0.0, 0.5, (N, N)), 1)
    return models.BoltzmannMachine(g.normal(0.0, 0.4, N), J + J.T)


# (name, teacher, k, rule, scan, rho): every model type, both rules, a continuous time
CASES = [
    ("bm-heatbath-random", _teacher, 2, "heatbath", "random", 0.9),
    ("bm-metropolis-sequential", _teacher, 1, "metropolis", "sequential", 0.5),
    ("bm-continuous", _teacher, 1.5, "heatbath", "continuous", 0.8),
    ("rbm", lambda: models.RBM.random(4, 1, seed=3, scale=0.8, field=0.3), 1, None, None, 0.7),
    ("independent", lambda: models.IndependentSpins(np.array([0.4, -0.3, 0.2])), 2, None, None,
     0.95),
]
IDS = [c[0] for c in CASES]


def _data(teacher):
    return teachers.Data.from_distribution(teacher.boltzmann())


def _solve(teacher, k, rule, scan, rho, **kw):
    return fixed_point.solve(_data(teacher), k, "buffer", rule, scan, model=teacher,
                             theta0=teacher.theta, rho=rho, **kw)


def _geometric_age_law(model, p0, k, rule, scan, rho, mass=1e-14):
    """Σ_{n=1}^{n_max} (1-ρ)ρ^{n-1} U^{nk} p0 by repeated kernels.law; the dropped tail has L1
    mass ρ^{n_max} <= ``mass`` (returned as the bound)."""
    n_max = int(np.ceil(np.log(mass) / np.log(rho)))
    q, acc = np.array(p0, float), 0.0
    for n in range(1, n_max + 1):
        q = kernels.law(model, q, k, rule, scan)
        acc = acc + (1.0 - rho) * rho ** (n - 1) * q
    return acc, rho ** n_max


@pytest.mark.parametrize("name, make, k, rule, scan, rho", CASES, ids=IDS)
def test_geometric_age_law_matches_the_data_at_the_fixed_point(name, make, k, rule, scan, rho):
    """(B2) at θ* of Newton: the sampler 'draw n ~ Geometric(1-ρ), run nk steps from p0' (summed
    with kernels.law, independently of the resolvent) reproduces the data's statistics to 1e-10
    (Newton's tol 1e-11 plus the truncated tail mass 1e-14, |φ| <= 1) -- and neither the k-step
    law (Rdm-k) nor p_θ* does."""
    teacher = make()
    fp = _solve(teacher, k, rule, scan, rho)
    assert fp.converged, fp.message
    model, target = fp.model, teacher.stats(teacher.boltzmann())
    p0 = np.full(model.n_states, 1.0 / model.n_states)
    mix, tail = _geometric_age_law(model, p0, k, rule, scan, rho)
    model_stats = model.stats(mix)
    if model.STATS_DEPEND_ON_THETA:          # RBM: the data's hidden means move with θ
        target = model.stats(teacher.boltzmann())
    assert np.max(np.abs(model_stats - target)) <= 1e-10
    assert tail <= 1e-14
    k_step = model.stats(kernels.law(model, p0, k, rule, scan))
    assert np.max(np.abs(k_step - target)) > 1e-4
    assert np.max(np.abs(model.stats(model.boltzmann()) - target)) > 1e-4


def test_rho_zero_is_rdm_bit_for_bit():
    """ρ = 0: every chain is fresh from p0, so the buffer protocol is Rdm-k -- the same training
    history, residual, Jacobian and Newton root, bit for bit."""
    data = _data(_teacher())
    a = training.train(data, 2, "rdm", n_steps=40, lr=0.3)
    b = training.train(data, 2, "buffer", n_steps=40, lr=0.3, rho=0.0)
    np.testing.assert_array_equal(a.history.theta, b.history.theta)
    np.testing.assert_array_equal(a.history.grad, b.history.grad)
    theta = np.linspace(-0.3, 0.4, 6)
    Fa, Ja = problem(data, 2, "rdm").residual_and_jacobian(theta)
    Fb, Jb = problem(data, 2, "buffer", rho=0.0).residual_and_jacobian(theta)
    np.testing.assert_array_equal(Fa, Fb)
    np.testing.assert_array_equal(Ja, Jb)
    ra, rb = fixed_point.solve(data, 2, "rdm"), fixed_point.solve(data, 2, "buffer", rho=0.0)
    np.testing.assert_array_equal(ra.theta, rb.theta)


@pytest.mark.parametrize("scan", ["random", "continuous"])
def test_mode_damping_against_the_dense_spectral_route(scan):
    r"""(B2) spectrally: B* − π = Σ_α c_α (1-ρ)f_α/(1-ρf_α) u_α with f_α = λ_α^k (e^{μ_α k} in
    continuous time), from kernels.spectral.decompose of the dense kernel, against the
    matrix-free resolvent, for ρ from 0 to 0.99.  Tolerance: the resolvent's certified L1 bound
    plus the spectral route's round-off, 16·n·ε·cond(V)/(1-ρ).  And the damping is monotone:
    ‖B* − π‖₁ shrinks as ρ grows (ρ → 1 tends to maximum likelihood)."""
    model = _teacher()
    k = 2 if scan == "random" else 1.5
    kern = kernels.kernel(model, "heatbath", scan)
    spec = decompose(kern)
    n = model.n_states
    p0 = np.full(n, 1.0 / n)
    c = spec.coefficients(p0)
    f = np.exp(spec.eigenvalues * k) if scan == "continuous" else spec.eigenvalues ** k
    pi = model.boltzmann()
    gaps = []
    for rho in (0.0, 0.3, 0.7, 0.95, 0.99):
        first = kern.propagate(p0, k)
        B, bound = buffer.resolvent(kern, k, (1.0 - rho) * first, rho)
        spectral = np.real(spec.right @ (buffer.damping(f, rho) * c))
        tol = float(bound) + 16 * n * EPS * spec.condition / (1.0 - rho)
        assert np.abs(B - spectral).sum() <= tol, (rho, np.abs(B - spectral).sum(), tol)
        np.testing.assert_array_equal(buffer.stationary_law(kern, p0, k, rho), B)
        gaps.append(np.abs(B - pi).sum())
    assert all(b < a for a, b in zip(gaps, gaps[1:])), gaps
    assert buffer.damping(1.0, 0.95) == 1.0 and buffer.damping(0.5, 0.0) == 0.5


def test_finite_nu_law_limit_converges_to_the_stationary_buffer():
    """(B1) at fixed θ: B ← (1-ν)B + νU^k[(1-ρ)p0 + ρB] contracts onto B* in L1 at least like
    (1 - ν(1-ρ))^t (A is stochastic), and its negative law tends to B* as well."""
    model = _teacher()
    rho, nu, k = 0.8, 0.3, 2
    prob = problem(_data(model), k, "buffer", rho=rho, model=model)
    star = buffer.stationary_law(prob.kernel(model), prob.p0, k, rho)
    B = np.array(prob.p0)
    err0 = np.abs(B - star).sum()
    rate = 1.0 - nu * (1.0 - rho)
    for t in range(1, 301):
        q, B = buffer.exact_update(prob, model, B, nu)
        assert np.abs(B - star).sum() <= rate ** t * err0 + 1e-12, t
    assert np.abs(B - star).sum() <= 1e-12 and np.abs(q - star).sum() <= 1e-12
    q, B = buffer.exact_update(prob, model, B, "limit")
    np.testing.assert_array_equal(q, star)


def _fd_check(f, theta, D, noise):
    """Tangent D against Richardson-bounded central differences; the noise of f per evaluation
    (the resolvent's certified error and round-off) counts twice, one per side."""
    richardson_fd_check(f, theta, D, 2 * noise)


@pytest.mark.parametrize("name, make, k, rule, scan, rho", CASES, ids=IDS)
def test_jacobian_through_the_resolvent_against_finite_differences(name, make, k, rule, scan,
                                                                   rho):
    """(B3) ∂B* = (I − ρA)^{-1}(∂A)s, through ⟨φ⟩: against central differences of the residual.
    The residual's noise: |φ| <= 1 times the resolvent's L1 accuracy RESOLVENT_RTOL (B* has
    scale 1), plus 64 ε."""
    teacher = make()
    prob = problem(_data(teacher), k, "buffer", rule, scan, rho=rho, model=teacher)
    theta = teacher.theta + 0.1
    F, J = prob.residual_and_jacobian(theta)
    np.testing.assert_allclose(F, prob.residual(theta), rtol=0, atol=4 * buffer.RESOLVENT_RTOL)
    _fd_check(prob.residual, theta, J, buffer.RESOLVENT_RTOL + 64 * EPS)


def test_exact_training_lands_on_the_newton_root():
    """Gradient ascent with a finite replacement rate ν, and with the law limit B*, both stop at
    Newton's buffer root (the fixed points do not depend on ν); a checkpointed buffer run
    resumes bit for bit."""
    data = _data(_teacher())
    fp = fixed_point.solve(data, 2, "buffer", rho=0.9)
    for nu in (0.5, "limit"):
        run = training.train(data, 2, "buffer", rho=0.9, nu=nu, lr=0.5, momentum=0.5,
                             n_steps=2000, tol=1e-11)
        assert run.converged, run.message
        # |θ − θ*| <= |J^{-1}| |F|: the Jacobian at θ* is well conditioned here
        jinv = np.linalg.norm(np.linalg.inv(fp.problem.residual_and_jacobian(fp.theta)[1]), np.inf)
        assert np.max(np.abs(run.theta - fp.theta)) <= jinv * (1e-11 + fp.residual) * 1.01


def test_exact_buffer_run_resumes_from_a_checkpoint_bit_for_bit(tmp_path):
    data = _data(_teacher())
    args = dict(rho=0.9, nu=0.2, lr=0.3, tol=0.0)
    path = tmp_path / "run.ckpt"
    training.train(data, 2, "buffer", n_steps=13, checkpoint=path, checkpoint_seconds=0, **args)
    assert checkpoint.read(path)["state"]["step"] == 13
    a = training.train(data, 2, "buffer", n_steps=40, **args)
    b = training.train(data, 2, "buffer", n_steps=40, checkpoint=path, **args)
    np.testing.assert_array_equal(a.history.theta, b.history.theta)
    np.testing.assert_array_equal(a.theta, b.theta)


# --- Monte Carlo --------------------------------------------------------------------------------
def _batch_z(x, target, blocks=10):
    """(mean − target) / batch-means standard error, per column (autocorrelated updates)."""
    x = x[: len(x) // blocks * blocks]
    means = x.reshape(blocks, -1, x.shape[1]).mean(axis=1)
    return (x.mean(axis=0) - target) / (means.std(axis=0, ddof=1) / np.sqrt(blocks))


MC = dict(rho=0.8, n_chains=2000, buffer_size=4000)   # ν = 0.5: B contracts by 0.9 per update
BURN = 150                                            # 0.9^150 ~ 1e-7 of the initial bias


def _buffer_gradients(model, p_data, k, n_steps, seed, rho, n_chains, buffer_size):
    """The gradients ⟨φ⟩_data − mean φ(end states) of ``n_steps`` buffer updates at the fixed
    ``model``: what update n of ``monte_carlo.train(..., 'buffer', seed=seed)`` computes (its
    buffer.mc_update and chain seed), with θ held still."""
    target = model.stats(p_data)
    buf = sampling.initial_states(model, "uniform", buffer_size, seed)
    out = []
    for step in range(n_steps):
        end, buf = buffer.mc_update(model, buf, "uniform", k, "heatbath", "random", n_chains,
                                    rho, seed, step, int(rng.chain_key(seed, step)))
        out.append(target - model.sample_stats(end))
    return np.array(out)


def test_mc_buffer_mean_gradient_vanishes_at_the_exact_buffer_fixed_point():
    """At θ*_B (Newton, exact) the Monte Carlo buffer's gradient has mean zero within N_SIGMA
    batch-means error bars (after the buffer's burn-in); at the Rdm-k root it does not (the
    test tells the two fixed points apart)."""
    teacher = _teacher()
    data = _data(teacher)
    star = fixed_point.solve(data, 2, "buffer", rho=MC["rho"]).theta
    rdm = fixed_point.solve(data, 2, "rdm").theta
    z = {}
    for name, theta in (("buffer", star), ("rdm", rdm)):
        G = _buffer_gradients(teacher.with_theta(theta), data.p, 2, BURN + 300, 1, **MC)
        z[name] = _batch_z(G[BURN:], 0.0)
    assert np.all(np.abs(z["buffer"]) < N_SIGMA), z["buffer"]
    assert np.max(np.abs(z["rdm"])) > 2 * N_SIGMA, z["rdm"]


def test_mc_buffer_training_lands_at_the_exact_buffer_fixed_point():
    """Monte Carlo buffer training from θ = 0: the Polyak average of the second half is within
    N_SIGMA batch-means error bars of Newton's θ*_B, and clearly away from the Rdm-k root."""
    data = _data(_teacher())
    star = fixed_point.solve(data, 2, "buffer", rho=MC["rho"]).theta
    rdm = fixed_point.solve(data, 2, "rdm").theta
    run = mc_training.train(data, 2, "buffer", lr=0.3, n_steps=600, seed=2, **MC)
    tail = run.history.theta[300:]
    assert np.all(np.abs(_batch_z(tail, star)) < N_SIGMA), _batch_z(tail, star)
    assert np.max(np.abs(_batch_z(tail, rdm))) > 2 * N_SIGMA
    assert run.chains.shape == (MC["buffer_size"], N)
    assert run.settings["rho"] == 0.8 and run.problem.rho == 0.8
    assert abs(run.problem.residual(star)).max() <= 1e-10


def test_mc_buffer_update_overwrites_the_drawn_entries():
    """One update: n_chains distinct entries are drawn, a fraction ρ of the chains start from
    them (binomial, N_SIGMA), and exactly those entries are overwritten by the end states."""
    model = _teacher()
    buf = np.tile(np.array([[1, 1, 1]], np.int8), (5000, 1))
    rho, n = 0.7, 4000
    end, new = buffer.mc_update(model, buf, "uniform", 0, "heatbath", "random", n, rho, 3, 0, 9)
    changed = np.flatnonzero(np.any(new != buf, axis=1))
    gen = np.random.default_rng([3, 2, 0])
    idx = gen.choice(5000, size=n, replace=False)
    reuse = gen.random(n) < rho
    np.testing.assert_array_equal(new[idx], end)          # k = 0: end = start
    np.testing.assert_array_equal(end[reuse], buf[idx][reuse])
    assert set(changed) <= set(idx)
    untouched = np.setdiff1d(np.arange(5000), idx)
    np.testing.assert_array_equal(new[untouched], buf[untouched])
    assert abs(reuse.sum() - rho * n) < N_SIGMA * np.sqrt(n * rho * (1 - rho))


def test_mc_buffer_run_resumes_from_a_checkpoint_bit_for_bit(tmp_path):
    data = _data(_teacher())
    args = dict(rho=0.9, n_chains=200, buffer_size=500, lr=0.1, seed=4)
    path = tmp_path / "mc.ckpt"
    mc_training.train(data, 2, "buffer", n_steps=13, checkpoint=path, checkpoint_seconds=0,
                      **args)
    a = mc_training.train(data, 2, "buffer", n_steps=30, **args)
    b = mc_training.train(data, 2, "buffer", n_steps=30, checkpoint=path, **args)
    np.testing.assert_array_equal(a.history.theta, b.history.theta)
    np.testing.assert_array_equal(a.chains, b.chains)


def _kernel():
    return kernels.kernel(_teacher(), "heatbath", "random")


@pytest.mark.parametrize("call, match", [
    (lambda d: problem(d, 2, "buffer", rho=1.0), "rho=1.0 must be a probability in"),
    (lambda d: problem(d, 2, "buffer", rho=-0.1), "rho=-0.1 must be"),
    (lambda d: problem(d, 2, "buffer", rho="0.5"), "rho='0.5' must be"),
    (lambda d: problem(d, 2, "rdm", rho=0.5), "rho=0.5 is the reuse probability"),
    (lambda d: training.train(d, 2, "rdm", nu=0.5), "nu=0.5 is the buffer's replacement"),
    (lambda d: training.train(d, 2, "buffer", nu=0.0), r"nu=0.0 must be .* \(0, 1\]"),
    (lambda d: training.train(d, 2, "buffer", nu="lim"), "nu='lim' must be"),
    (lambda d: mc_training.train(d, 2, "buffer", n_chains=20, buffer_size=10),
     "n_chains=20 must be an integer between 1 and buffer_size=10"),
    (lambda d: mc_training.train(d, 2, "buffer", buffer_size=0), "buffer_size"),
    (lambda d: mc_training.train(d, 2, "pcd", rho=0.5), "belong to protocol='buffer'"),
    # the public pieces of the buffer law took any rho: 1 gave an inf bound, 1.5 a wrong law
    (lambda d: buffer.resolvent(_kernel(), 2, np.full(8, 1 / 8), 1.0), "rho=1.0 must be"),
    (lambda d: buffer.stationary_law(_kernel(), np.full(8, 1 / 8), 2, 1.5), "rho=1.5 must be"),
    (lambda d: buffer.damping(0.5, "0.5"), "rho='0.5' must be"),
    (lambda d: buffer.resolvent(_kernel(), 2, np.full(8, np.nan), 0.5), "b contains NaN"),
    (lambda d: buffer.resolvent(_kernel(), -1, np.full(8, 1 / 8), 0.5), "k=-1 is negative"),
])
def test_bad_buffer_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call(_data(_teacher()))
