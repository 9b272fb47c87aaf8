"""Neural energies on JAX: gradients, the Langevin sampler against the Gaussian closed form (Ga),
bit-for-bit resumption, quality measures, and the trainer's fixed point against (Gc)-(Gd).

Tolerances: finite differences in float64 (central, step 1e-5: truncation ~1e-10, round-off
~1e-11) are held to 1e-8 of the gradient's scale; Monte Carlo comparisons to nσ = 4 of the error
bar computed from the same samples, seeds fixed.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("optax")

import jax.numpy as jnp  # noqa: E402

from shortrun.numerics.neural import digits, energies, langevin, memory, quality, training  # noqa: E402
from shortrun.theory import gaussian  # noqa: E402

N_SIGMA = 4.0
FD_STEP = 1e-5
FD_TOL = 1e-8


def _tiny_convnet(dtype=np.float64, activation="swish"):
    return energies.convnet((3, 5), activation=activation, dtype=dtype)


def _points(n, d, seed):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, d))


# --------------------------------------------------------------------------- gradients
def test_conv3x3_equals_xla_convolution():
    rng = np.random.default_rng(0)
    for side, stride in [(8, 1), (5, 2)]:
        h = jnp.asarray(rng.normal(size=(3, side, side, 4)))
        w = jnp.asarray(rng.normal(size=(3, 3, 4, 6)))
        ours = energies.conv3x3(h, w, stride)
        ref = jax.lax.conv_general_dilated(h, w, (stride, stride), "SAME",
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=0, atol=64 * np.finfo(float).eps * float(jnp.abs(ref).max()))


def test_convnet_grad_x_against_finite_differences():
    energy = _tiny_convnet(activation="swish")
    params = energy.init(jax.random.key(3))
    x = _points(5, 64, 1)
    g = np.asarray(energies.grad_x(energy)(params, jnp.asarray(x)))
    eye = np.eye(64) * FD_STEP                                  # (64 coordinates, 64)
    plus = (x[:, None, :] + eye[None]).reshape(-1, 64)
    minus = (x[:, None, :] - eye[None]).reshape(-1, 64)
    apply = energies.jit_apply(energy)
    fd = (np.asarray(apply(params, plus)) - np.asarray(apply(params, minus))).reshape(5, 64) / (2 * FD_STEP)
    assert np.max(np.abs(g - fd)) <= FD_TOL * max(1.0, np.max(np.abs(g)))


@pytest.mark.parametrize("energy", [_tiny_convnet(activation="softplus"), energies.quadratic(4)],
                         ids=["convnet", "quadratic"])
def test_grad_theta_against_finite_differences(energy):
    params = energy.init(jax.random.key(5))
    if energy.name == "quadratic":
        params = {"W": jnp.asarray(np.random.default_rng(2).normal(size=(4, 4))),
                  "b": jnp.asarray(np.random.default_rng(3).normal(size=4))}
    x = jnp.asarray(_points(7, energy.dim, 4))
    grad = energies.grad_theta(energy)(params, x)
    apply = energies.jit_apply(energy)
    rng = np.random.default_rng(6)
    for _ in range(3):  # directional derivatives along random directions of the whole pytree
        v = jax.tree_util.tree_map(lambda a: jnp.asarray(rng.normal(size=a.shape)), params)
        shifted = [jax.tree_util.tree_map(lambda a, b: a + s * FD_STEP * b, params, v) for s in (1, -1)]
        fd = (float(jnp.mean(apply(shifted[0], x))) - float(jnp.mean(apply(shifted[1], x)))) / (2 * FD_STEP)
        exact = sum(float(jnp.vdot(g, w)) for g, w in zip(jax.tree_util.tree_leaves(grad),
                                                          jax.tree_util.tree_leaves(v)))
        assert abs(fd - exact) <= FD_TOL * max(1.0, abs(exact))


def test_quadratic_gradients_are_the_closed_forms():
    energy = energies.quadratic(3)
    rng = np.random.default_rng(8)
    W, b, x = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(11, 3))
    params = {"W": jnp.asarray(W), "b": jnp.asarray(b)}
    A = (W + W.T) / 2
    tol = 32 * np.finfo(float).eps * np.abs(x).max() ** 2 * max(1, np.abs(W).max())
    np.testing.assert_allclose(energies.grad_x(energy)(params, jnp.asarray(x)), x @ A - b, rtol=0, atol=tol)
    gt = energies.grad_theta(energy)(params, jnp.asarray(x))
    np.testing.assert_allclose(gt["W"], 0.5 * x.T @ x / len(x), rtol=0, atol=tol)
    np.testing.assert_allclose(gt["b"], -x.mean(0), rtol=0, atol=tol)
    np.testing.assert_allclose(energies.matrix(params)[0], A, rtol=0, atol=0)


# --------------------------------------------------------------------------- Langevin vs (Ga)
def test_langevin_on_quadratic_energy_reproduces_ula_moments():
    """x_{t+1} = x_t - eta (A x_t - b) + sigma xi from p0 = uniform[-1, 1]^3 (mean 0, cov I/3):
    the sample mean and covariance at t = 1, 4, 15 match (Ga) within 4 sigma."""
    d, n, eta, sigma2 = 3, 20_000, 0.15, 0.07
    rng = np.random.default_rng(11)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = (Q * np.array([0.5, 1.3, 2.2])) @ Q.T
    b = np.array([0.4, -0.3, 0.8])
    energy = energies.quadratic(d)
    params = {"W": jnp.asarray(A), "b": jnp.asarray(b)}
    x0 = langevin.uniform(langevin.as_key(2), n, d, np.float64)
    times = [0, 1, 4, 15]
    traj = langevin.sample(energy, params, x0, times, eta, sigma2, key=7)
    for t, x in zip(times, traj):
        mu, Sigma = gaussian.ula_moments(A, b, np.zeros(d), np.eye(d) / 3, t, eta, sigma2=sigma2)
        mean = x.mean(0)
        assert np.all(np.abs(mean - mu) <= N_SIGMA * x.std(0) / np.sqrt(n)), (t, mean, mu)
        c = x - mean
        prods = c[:, :, None] * c[:, None, :]
        cov = prods.sum(0) / (n - 1)
        se = prods.std(0) / np.sqrt(n)
        assert np.all(np.abs(cov - Sigma) <= N_SIGMA * se), (t, cov, Sigma)


def test_langevin_segments_do_not_change_the_samples():
    """Samples at t = 9 are the same whether the run stops at 2 and 5 on the way or not; the
    ConvNet stays in float32 (its dtype) although JAX runs in 64-bit mode."""
    energy = TINY
    params = energy.init(jax.random.key(1))
    assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(params))
    x0 = _points(4, 64, 3)                      # float64 input is cast to the energy's dtype
    one = langevin.sample(energy, params, x0, [9], 0.5, 1e-4, key=3)
    many = langevin.sample(energy, params, x0, [0, 2, 5, 9], 0.5, 1e-4, key=3)
    assert many.dtype == np.float32 and many.shape == (4, 4, 64)
    assert np.array_equal(many[0], x0.astype(np.float32))
    assert np.array_equal(one[0], many[-1]) and not np.array_equal(many[2], many[3])


# --------------------------------------------------------------------------- resumption
#: One tiny ConvNet and one set of settings for every training test: its jitted update is compiled
#: once (n_chains = batch_size: the three protocols share it) and reused.
TINY = energies.convnet((2, 3))
TRAIN = dict(eta=0.5, sigma2=1e-3, n_chains=5, batch_size=5, lr=1e-2, seed=4, keep_params=True,
             progress=False)


@pytest.fixture(scope="module")
def small_digits():
    return digits.load(n_test=1700, seed=1).train  # 97 training digits


@pytest.mark.parametrize("protocol", training.PROTOCOLS)
def test_resumed_run_equals_uninterrupted(protocol, small_digits, tmp_path, monkeypatch):
    """Interrupted after 3 of 6 updates and called again: the same parameters, Adam state
    (through the parameters), history and chains, bit for bit."""
    energy, kw = TINY, dict(TRAIN, n_steps=6)
    ref = training.train(energy, small_digits, 3, protocol, **kw)
    path = tmp_path / "run.ckpt"
    check = training._check_run

    def interrupt(diag, step, *args):
        if step == 3:
            raise KeyboardInterrupt
        check(diag, step, *args)

    monkeypatch.setattr(training, "_check_run", interrupt)
    with pytest.raises(KeyboardInterrupt):
        training.train(energy, small_digits, 3, protocol, checkpoint=path, **kw)
    monkeypatch.setattr(training, "_check_run", check)
    assert path.exists()
    again = training.train(energy, small_digits, 3, protocol, checkpoint=path, **kw)
    for a, b in zip(training.flatten(ref.params), training.flatten(again.params)):
        assert np.array_equal(a, b)
    for name in ("gap", "grad_norm", "trace", "chains"):
        assert np.array_equal(getattr(ref, name), getattr(again, name)), name


def test_finished_run_extends_and_refuses_other_arguments(small_digits, tmp_path):
    energy, kw = TINY, TRAIN
    ref = training.train(energy, small_digits, 3, "pcd", n_steps=5, **kw)
    path = tmp_path / "run.ckpt"
    training.train(energy, small_digits, 3, "pcd", n_steps=2, checkpoint=path, **kw)
    longer = training.train(energy, small_digits, 3, "pcd", n_steps=5, checkpoint=path, **kw)
    assert np.array_equal(ref.gap, longer.gap) and np.array_equal(ref.chains, longer.chains)
    with pytest.raises(ValueError, match="other arguments"):
        training.train(energy, small_digits, 4, "pcd", n_steps=5, checkpoint=path, **kw)
    with pytest.raises(ValueError, match="n_steps"):
        training.train(energy, small_digits, 3, "pcd", n_steps=1, checkpoint=path, **kw)


def test_same_seed_same_run_other_seed_other_run(small_digits):
    kw = dict(TRAIN, n_steps=3)
    del kw["seed"]
    a = training.train(TINY, small_digits, 3, "rdm", seed=1, **kw)
    b = training.train(TINY, small_digits, 3, "rdm", seed=1, **kw)
    c = training.train(TINY, small_digits, 3, "rdm", seed=2, **kw)
    assert np.array_equal(a.gap, b.gap) and not np.array_equal(a.gap, c.gap)


# --------------------------------------------------------------------------- bad input
def test_bad_input_is_named(small_digits):
    energy = TINY
    kw = dict(eta=0.5, sigma2=1e-3, n_steps=1, progress=False)
    with pytest.raises(ValueError, match="protocol"):
        training.train(energy, small_digits, 2, "eq", **kw)
    with pytest.raises(ValueError, match="data has shape"):
        training.train(energy, small_digits[:, :10], 2, **kw)
    with pytest.raises(ValueError, match="k="):
        training.train(energy, small_digits, 0, **kw)
    with pytest.raises(ValueError, match="sigma2"):
        training.train(energy, small_digits, 2, eta=0.5, sigma2=-1.0, n_steps=1)
    with pytest.raises(ValueError, match="seed"):
        training.train(energy, small_digits, 2, seed=-1, **kw)
    with pytest.raises(ValueError, match="seed"):
        langevin.as_key(1.5)
    with pytest.raises(ValueError, match="activation"):
        energies.convnet(activation="relu")
    params = energy.init(jax.random.key(0))
    with pytest.raises(ValueError, match="increasing"):
        langevin.sample(energy, params, small_digits[:2], [3, 1], 0.5, 1e-3)
    with pytest.raises(ValueError, match="x0 has shape"):
        langevin.sample(energy, params, small_digits[:2, :5], [1], 0.5, 1e-3)
    with pytest.raises(ValueError, match="NaN"):
        quality.confidence(None, np.full((3, 2), np.nan))


@pytest.mark.parametrize("a0, match", [
    (np.nan, "a0 contains NaN or inf; pass a finite number"),
    (np.inf, "a0 contains NaN or inf"),
    ("x", "a0='x' is text"),
    (None, "a0 is None"),
    (1 + 2j, "a0 has complex entries"),
    ([1.0, 2.0], r"a0 must be a single number .*shape \(2,\)"),
])
def test_quadratic_names_a_bad_a0(a0, match):
    with pytest.raises(ValueError, match=match):
        energies.quadratic(2, a0=a0)


def test_quadratic_a0_gives_w_equal_a0_times_identity():
    """Every real a0 (numpy scalars, ints, negative: a concave start) gives W = a0·I, b = 0."""
    for a0 in (2, np.float32(0.5), -1.5, np.array(3.0)):
        params = energies.quadratic(3, a0=a0).init()
        np.testing.assert_array_equal(np.asarray(params["W"]), float(a0) * np.eye(3))
        np.testing.assert_array_equal(np.asarray(params["b"]), np.zeros(3))


def test_diverging_chains_raise_naming_eta():
    energy = energies.quadratic(2)
    data = _points(20, 2, 0)
    with pytest.raises(RuntimeError, match="lower eta"):
        training.train(energy, data, 60, "rdm", eta=1.0, sigma2=0.1, n_steps=2, progress=False,
                       theta0={"W": -2.0 * np.eye(2), "b": np.zeros(2)})


# --------------------------------------------------------------------------- quality measures
def test_scores_of_digits_noise_and_copies():
    """Held-out digits score like a perfect sampler (energy distance ~ 0, AA ~ 0.5, confident
    classifier); uniform noise scores far worse; copies of the data give AA = 0 (memorised);
    a diverged sample set scores inf / 1 / 0 instead of raising."""
    d = digits.load(n_test=500, seed=0, dtype=np.float64)
    clf = quality.classifier(d.train[:600], d.train_labels[:600])
    assert clf.score(d.test, d.test_labels) > 0.9
    good = quality.score(d.train[600:1100], d.test, clf)
    noise = quality.score(_points(500, 64, 2), d.test, clf)
    assert good["energy_distance"] < 0.05 * noise["energy_distance"]
    assert abs(good["adversarial_accuracy"] - 0.5) < 0.1 and noise["adversarial_accuracy"] == 1.0
    assert good["confidence"] > noise["confidence"] + 0.2
    assert quality.adversarial_accuracy(d.test.copy(), d.test) == 0.0
    bad = quality.score(np.full((500, 64), np.inf), d.test, clf)
    assert bad == dict(energy_distance=np.inf, adversarial_accuracy=1.0, confidence=0.0)


def test_digits_split():
    d = digits.load(n_test=360, seed=3)
    assert d.train.shape == (1437, 64) and d.test.shape == (360, 64)
    assert d.train.min() == -1.0 and d.train.max() == 1.0 and d.train.dtype == np.float32
    assert np.all(np.bincount(d.test_labels) >= 35)
    assert np.array_equal(digits.load(n_test=360, seed=3).test, d.test)


def test_time_grid_spans_k_over_10_to_100k():
    t = memory.time_grid(20, 100)
    assert t[0] == 2 and t[-1] == 2000 and 20 in t and np.all(np.diff(t) > 0)
    assert memory.best_time(t, np.abs(np.log(t / 20.0))) == 20


# --------------------------------------------------------------------------- optional extra
def test_rest_of_shortrun_imports_without_jax():
    code = ("import sys, shortrun, shortrun.numerics, shortrun.numerics.kernels, "
            "shortrun.numerics.training, shortrun.theory.gaussian, "
            "shortrun.paper_figures.fig_convnet\n"
            "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('jax.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the Gaussian bridge
def _batch_mean(x, n_blocks=10):
    """Mean over the rows of x and its error bar from the scatter of ``n_blocks`` block means."""
    blocks = np.array([b.mean(0) for b in np.array_split(x, n_blocks)])
    return x.mean(0), blocks.std(0, ddof=1) / np.sqrt(n_blocks)


@pytest.mark.slow
@pytest.mark.parametrize("k", [5, 20])
def test_quadratic_trainer_reaches_the_gaussian_fixed_point(k):
    """Rdm-k training of E = ½xᵀAx − bᵀx with Adam, chains from uniform[-1, 1]^3 (s0² = 1/3):
    per mode a_α = v_αᵀ A v_α (v_α the eigenvectors of the data covariance) and the field b
    averaged over the second half of training equal (Gc) and (Gd) within 4 batch-means error bars.
    At k = 5 the largest data variance (1.6 > 1/3 + 5·0.2) has a concave trained mode, a < 0."""
    d, eta, sigma2, s02 = 3, 0.1, 0.2, 1.0 / 3.0
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    C = (Q * np.array([0.6, 1.0, 1.6])) @ Q.T
    X = rng.multivariate_normal([0.3, -0.2, 0.5], C, size=2000)
    mu_D, C_D = X.mean(0), np.cov(X.T, bias=True)
    A_th, h_th = gaussian.train_fixed_point(C_D, mu_D, k, eta, s02, sigma2=sigma2)
    energy = energies.quadratic(d)
    n_steps = 3000
    res = training.train(energy, X, k, "rdm", eta=eta, sigma2=sigma2, n_chains=2000,
                         batch_size=len(X), lr=0.01, n_steps=n_steps, keep_params=True, seed=1,
                         progress=False)
    leaves = training.flatten(energy.init(None))  # leaf order of the flat trace (sorted keys)
    names = sorted(energy.init(None))
    sizes = dict(zip(names, [a.size for a in leaves]))
    split = np.cumsum([sizes[n] for n in names])[:-1]
    parts = dict(zip(names, np.split(res.trace[n_steps // 2:], split, axis=1)))
    W = parts["W"].reshape(-1, d, d)
    A = 0.5 * (W + W.transpose(0, 2, 1))
    _, V = np.linalg.eigh(C_D)
    a_mean, a_err = _batch_mean(np.einsum("ia,nij,ja->na", V, A, V))
    b_mean, b_err = _batch_mean(parts["b"])
    a_th = np.diag(V.T @ A_th @ V)
    assert np.all(np.abs(a_mean - a_th) <= N_SIGMA * a_err), (a_mean, a_th, a_err)
    assert np.all(np.abs(b_mean - h_th) <= N_SIGMA * b_err), (b_mean, h_th, b_err)
    assert np.all(a_err < 0.01)  # the error bars are tight: the test can fail
    if k == 5:
        assert a_th.min() < 0 and a_mean.min() < 0
