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


def _interrupted_then_resumed(x, protocol, path, monkeypatch, kw):
    """The run of ``training.train(TINY, x, 3, protocol, **kw)`` interrupted after update 3
    (KeyboardInterrupt) and called again with its checkpoint ``path``."""
    check = training._check_run

    def interrupt(diag, step, *args):
        if step == 3:
            raise KeyboardInterrupt
        check(diag, step, *args)

    monkeypatch.setattr(training, "_check_run", interrupt)
    with pytest.raises(KeyboardInterrupt):
        training.train(TINY, x, 3, protocol, checkpoint=path, **kw)
    monkeypatch.setattr(training, "_check_run", check)
    assert path.exists()
    return training.train(TINY, x, 3, protocol, checkpoint=path, **kw)


@pytest.mark.parametrize("protocol", training.PROTOCOLS)
def test_resumed_run_equals_uninterrupted(protocol, small_digits, tmp_path, monkeypatch):
    """Interrupted after 3 of 6 updates and called again: the same parameters, Adam state
    (through the parameters), history and chains, bit for bit."""
    energy, kw = TINY, dict(TRAIN, n_steps=6)
    ref = training.train(energy, small_digits, 3, protocol, **kw)
    again = _interrupted_then_resumed(small_digits, protocol, tmp_path / "run.ckpt", monkeypatch,
                                      kw)
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
    with pytest.raises(ValueError, match=r"lr=0 must be a finite positive number; pass Adam's"):
        training.train(energy, small_digits, 2, lr=0, **kw)
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


def test_bad_parameters_are_named_not_einsum_or_key_errors(small_digits):
    """Parameters of the wrong layout, shape or with NaN: a ValueError naming the argument (and
    key) and the layout of energy.init, from langevin.sample and training.train alike."""
    quad = energies.quadratic(2)
    x0 = np.zeros((3, 2))
    good = quad.init(None)
    with pytest.raises(ValueError, match=r"params\['W'\] has shape \(3, 3\); .* needs \(2, 2\)"):
        langevin.sample(quad, {"W": np.eye(3), "b": np.zeros(2)}, x0, [1], 0.1, 0.01)
    with pytest.raises(ValueError, match=r"params does not fit .*missing \['b'\]"):
        langevin.sample(quad, {"W": np.eye(2)}, x0, [1], 0.1, 0.01)
    with pytest.raises(ValueError, match=r"unknown \['c'\]"):
        langevin.sample(quad, dict(good, c=np.zeros(2)), x0, [1], 0.1, 0.01)
    with pytest.raises(ValueError, match=r"params is a list"):
        langevin.sample(quad, [np.eye(2), np.zeros(2)], x0, [1], 0.1, 0.01)
    with pytest.raises(ValueError, match=r"params\['b'\] contains NaN"):
        langevin.sample(quad, {"W": np.eye(2), "b": np.array([0.0, np.nan])}, x0, [1], 0.1, 0.01)
    with pytest.raises(ValueError, match=r"params\['b'\] has complex"):
        langevin.sample(quad, {"W": np.eye(2), "b": np.zeros(2) + 1j}, x0, [1], 0.1, 0.01)
    nan_net = jax.tree_util.tree_map(lambda a: jnp.full_like(a, jnp.nan), TINY.init(jax.random.key(0)))
    with pytest.raises(ValueError, match=r"params\['bias0'\] contains NaN"):
        langevin.sample(TINY, nan_net, small_digits[:2], [1], 0.5, 1e-3)
    with pytest.raises(ValueError, match=r"theta0\['bias0'\] contains NaN or inf; pass finite"):
        training.train(TINY, small_digits, 2, eta=0.5, sigma2=1e-3, n_steps=1, theta0=nan_net,
                       progress=False)
    with pytest.raises(ValueError, match=r"theta0 does not fit .*missing \['b'\]"):
        training.train(quad, x0, 2, eta=0.1, sigma2=0.01, n_steps=1, theta0={"W": np.eye(2)},
                       progress=False)
    # float64 parameters of a float32 network are cast (they used to break the Langevin loop)
    p64 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), TINY.init(jax.random.key(0)))
    p32 = TINY.init(jax.random.key(0))
    assert np.array_equal(langevin.sample(TINY, p64, small_digits[:2], [2], 0.5, 1e-3, key=1),
                          langevin.sample(TINY, p32, small_digits[:2], [2], 0.5, 1e-3, key=1))


@pytest.mark.parametrize("channels", [8, "16", None])
def test_convnet_channels_must_be_a_sequence(channels):
    with pytest.raises(ValueError, match=r"channels=.* must be a sequence of output channels.*\(16, 32, 32\)"):
        energies.convnet(channels)


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


def test_diverging_langevin_chains_raise_not_nan():
    """eta * a >= 2 on the quadratic energy (curvature a = 3, eta = 1): the chains overflow float64
    within 1000 steps; sample raises naming eta instead of returning NaN, unless asked for them."""
    quad = energies.quadratic(2)
    params = {"W": np.diag([3.0, 0.5]), "b": np.zeros(2)}
    x0 = _points(4, 2, 0)
    ok = langevin.sample(quad, params, x0, [0, 5], 1.0, 0.01)   # finite so far: returned
    assert np.all(np.isfinite(ok))
    with pytest.raises(RuntimeError, match=r"4 of 4 Langevin chains overflowed .* between t = 5 and "
                                           r"t = 2000: the step eta=1.0 .*lower eta"):
        langevin.sample(quad, params, x0, [0, 5, 2000], 1.0, 0.01)
    kept = langevin.sample(quad, params, x0, [5, 2000], 1.0, 0.01, allow_divergence=True)
    assert np.all(np.isfinite(kept[0])) and not np.any(np.isfinite(kept[1][:, 0]))
    stable = langevin.sample(quad, params, x0, [1000], 0.5, 0.01)  # eta * 3 < 2: stable
    assert np.all(np.abs(stable) < 10)


def test_box_projects_every_step():
    """(L2) with box: x_{t+1} = clip(x_t - eta grad E + sigma xi, lo, hi); one step by hand."""
    quad = energies.quadratic(2)
    params = {"W": np.diag([3.0, 0.5]), "b": np.array([1.0, -2.0])}
    x0 = _points(6, 2, 1)
    one = langevin.sample(quad, params, x0, [1], 1.0, 0.25, key=3)[0]
    free = langevin.sample(quad, params, x0, [1], 1.0, 0.25, key=3, box=(-2.0, 1.0))[0]
    assert np.array_equal(free, np.clip(one, -2.0, 1.0)) and not np.array_equal(one, free)
    long = langevin.sample(quad, params, x0, [1000], 1.0, 0.25, key=3, box=(-1.0, 1.0))
    assert np.all(np.abs(long) <= 1.0)                         # the unstable step stays in the box
    for bad in [(1.0, -1.0), (0.0,), "ab", (0.0, np.inf)]:
        with pytest.raises(ValueError, match="box"):
            langevin.sample(quad, params, x0, [1], 1.0, 0.25, box=bad)


def test_diverging_chains_raise_naming_eta():
    energy = energies.quadratic(2)
    data = _points(20, 2, 0)
    with pytest.raises(RuntimeError, match="lower eta"):
        training.train(energy, data, 60, "rdm", eta=1.0, sigma2=0.1, n_steps=2, progress=False,
                       theta0={"W": -2.0 * np.eye(2), "b": np.zeros(2)})


def _reference_updates(X, W, b, k, eta, lr, n_steps, alpha, clip, box, b1=0.9, b2=0.999):
    """CD-k training of E = ½xᵀAx − bᵀx (A = (W + Wᵀ)/2) in plain numpy, σ² = 0, full batch:
    k steps x ← x − η(Ax − b) (projected on ``box``) from the data, the gradient of (L2)
    ⟨E⟩_data − ⟨E⟩_chains + α(⟨E²⟩_data + ⟨E²⟩_chains) with ∂E/∂W = ½xxᵀ, ∂E/∂b = −x, clipped to
    global norm ``clip``, then Adam (optax's: bias-corrected moments, ε = 1e-8 outside the root).
    Returns the flat parameters (W, b: the sorted keys) before each update, the gaps and the norms of g."""
    m = [np.zeros_like(b), np.zeros_like(W)]
    v = [np.zeros_like(b), np.zeros_like(W)]
    trace, gaps, norms = [], [], []
    for n in range(1, n_steps + 1):
        trace.append(np.concatenate([W.ravel(), b]))
        A = (W + W.T) / 2
        x = X.copy()
        for _ in range(k):
            x = x - eta * (x @ A - b)
            if box is not None:
                x = np.clip(x, *box)
        energy = lambda y: 0.5 * np.einsum("ni,ij,nj->n", y, A, y) - y @ b  # noqa: E731
        ed, ec = energy(X), energy(x)
        wd, wc = (1 + 2 * alpha * ed) / len(X), (1 - 2 * alpha * ec) / len(x)   # dL/dE per row
        gW = 0.5 * (np.einsum("n,ni,nj->ij", wd, X, X) - np.einsum("n,ni,nj->ij", wc, x, x))
        gb = -(wd @ X - wc @ x)
        norm = np.sqrt(np.sum(gW**2) + np.sum(gb**2))
        gaps.append(ed.mean() - ec.mean())
        norms.append(norm)
        scale = 1.0 if clip is None or norm < clip else clip / norm
        for i, g in enumerate((gb * scale, gW * scale)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
        step = [lr * (m[i] / (1 - b1**n)) / (np.sqrt(v[i] / (1 - b2**n)) + 1e-8) for i in range(2)]
        b, W = b - step[0], W - step[1]
    return np.array(trace), np.array(gaps), np.array(norms)


@pytest.mark.parametrize("alpha, clip, box", [(0.0, None, None), (0.3, None, None),
                                              (0.3, 0.5, None), (0.1, 0.5, (-0.6, 0.8))],
                         ids=["plain", "penalty", "penalty-clip", "penalty-clip-box"])
def test_trainer_update_equals_a_numpy_reference(alpha, clip, box):
    """Every stabiliser of (L2) against a plain-numpy implementation of the same updates (CD-k on
    the quadratic energy with σ² = 0, so the chains are deterministic): parameters before each of
    6 updates, gaps and ‖g‖ agree to 1e-12 (float64 round-off amplified by Adam's g/√v ~ 1/|g|,
    |g| ≥ 1e-2 here); the stabilisers do change the run (the test can fail)."""
    rng = np.random.default_rng(21)
    X = rng.normal([0.3, -0.5, 0.2], [0.7, 1.1, 0.9], size=(40, 3))
    W0, b0 = np.diag([0.8, 1.2, 0.5]) + 0.1, np.array([0.1, -0.2, 0.3])
    kw = dict(eta=0.3, sigma2=0.0, batch_size=len(X), lr=0.05, n_steps=6, keep_params=True,
              progress=False, theta0={"W": W0, "b": b0})
    res = training.train(energies.quadratic(3), X, 4, "cd", energy_penalty=alpha, grad_clip=clip,
                         box=box, **kw)
    trace, gaps, norms = _reference_updates(X, W0, b0, 4, 0.3, 0.05, 6, alpha, clip, box)
    assert np.min(np.abs(trace[1:] - trace[:-1])) > 1e-4      # every parameter moves
    np.testing.assert_allclose(res.trace, trace, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.gap, gaps, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.grad_norm, norms, rtol=1e-12, atol=1e-12)
    if clip is not None:
        assert norms.max() > clip                                # the clip is active
    plain = _reference_updates(X, W0, b0, 4, 0.3, 0.05, 6, 0.0, None, None)[0]
    assert (alpha, clip, box) == (0.0, None, None) or np.max(np.abs(plain - trace)) > 1e-3


def _bars_and_stripes(n, seed):
    """8×8 ±1 images: each row (stripes) or each column (bars) all +1 or all −1, at random."""
    g = np.random.default_rng(seed)
    lines = np.repeat((2 * g.integers(0, 2, (n, 8)) - 1.0)[:, :, None], 8, axis=2)  # stripes
    bars = ~g.integers(0, 2, n).astype(bool)
    lines[bars] = lines[bars].transpose(0, 2, 1)
    return lines.reshape(n, 64)


def _blobs(n, seed):
    """8×8 ±1 images: one or two bright rectangles (sides 2-3 pixels) on a dark background."""
    g = np.random.default_rng(seed)
    img = -np.ones((n, 8, 8))
    for i in range(n):
        for _ in range(g.integers(1, 3)):
            (r, c), (h, w) = g.integers(0, 6, 2), g.integers(2, 4, 2)
            img[i, r:r + h, c:c + w] = 1.0
    return img.reshape(n, 64)


def _memory_curve(energy, params, make, k, n=200, seed=0):
    """Energy distance (E3) to n held-out images of ``make`` of n samples from uniform noise after
    t steps of (L1), on the project's time grid K/10 … 100 K (as in the ConvNet figure)."""
    t = memory.time_grid(k, 100)
    x0 = langevin.uniform(langevin.as_key(seed, 1), n, energy.dim, energy.dtype)
    samples = langevin.sample(energy, params, x0, t, 1.0, 1e-4, key=langevin.as_key(seed, 2),
                              allow_divergence=True)
    held_out = make(n, 99)
    return t, np.array([quality.energy_distance(s, held_out) if np.all(np.isfinite(s)) else np.inf
                        for s in samples])


@pytest.mark.parametrize("make", [pytest.param(_bars_and_stripes, marks=pytest.mark.slow), _blobs],
                         ids=["bars-and-stripes", "blobs"])  # the first ~4x as long: slow
def test_stabilised_trainer_on_synthetic_images(make):
    """(L2) with its defaults trains a small ConvNet on two 8×8 sets other than the digits
    (η = 1, σ² = 1e-4, Rdm-5): no chain diverges and the memory effect is there -- samples from
    noise are best (lowest energy distance to held-out images) near t = K, within a factor 2 as
    the ConvNet figure asks, and worse both at K/10 and at 100 K."""
    k = 5
    energy = energies.convnet((4, 8))
    res = training.train(energy, make(500, 0).astype(np.float32), k, "rdm", eta=1.0, sigma2=1e-4,
                         n_chains=32, batch_size=32, lr=3e-3, n_steps=150, seed=0, progress=False)
    assert np.all(np.isfinite(res.gap))
    t, ed = _memory_curve(energy, res.params, make, k)
    best = memory.best_time(t, ed)
    iK = int(np.flatnonzero(t == k)[0])
    assert k / 2 <= best <= 2 * k, (best, dict(zip(t.tolist(), ed.round(4))))
    assert ed[0] > 2 * ed[iK] and ed[-1] > ed[iK], dict(zip(t.tolist(), ed.round(4)))


@pytest.mark.slow
def test_digits_settings_diverge_without_the_penalty_and_train_with_it():
    """The digits settings (ConvNet (12, 24, 24), η = 1, σ² = 1e-4, Adam lr 1e-3, Rdm-20, 600
    updates) on 1000 bars-and-stripes: without the energy penalty (α = 0) a chain runs away before
    the end (measured: at update 376); with the default α of (L2) the run finishes and samples from
    noise are much closer to held-out images at t = K than at K/10 (measured ratio 3.6).  On blobs
    the whole memory effect is there: best t within a factor 2 of K, worse at K/10 and at 100 K
    (measured: t* = 24, ratios 40 and 1.7)."""
    k, energy = 20, energies.convnet((12, 24, 24))
    kw = dict(eta=1.0, sigma2=1e-4, lr=1e-3, n_steps=600, seed=0, progress=False)
    bars = _bars_and_stripes(1000, 0).astype(np.float32)
    with pytest.raises(RuntimeError, match="a Langevin chain reached"):
        training.train(energy, bars, k, "rdm", energy_penalty=0.0, **kw)
    for make in (_bars_and_stripes, _blobs):
        res = training.train(energy, make(1000, 0).astype(np.float32), k, "rdm", **kw)
        t, ed = _memory_curve(energy, res.params, make, k, n=300)
        iK = int(np.flatnonzero(t == k)[0])
        assert np.all(np.isfinite(ed)) and ed[0] > 2 * ed[iK], dict(zip(t.tolist(), ed.round(4)))
        if make is _blobs:
            assert k / 2 <= memory.best_time(t, ed) <= 2 * k and ed[-1] > ed[iK]


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
                         energy_penalty=0.0, progress=False)   # the plain gradient (G4)
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


def test_params0_is_a_deprecated_alias_of_theta0():
    """params0= still starts the run where theta0= does, with a DeprecationWarning; both at once is
    an error naming them."""
    quad = energies.quadratic(2)
    x0 = _points(8, 2, 0)
    start = {"W": 1.5 * np.eye(2), "b": np.zeros(2)}
    new = training.train(quad, x0, 2, eta=0.1, sigma2=0.01, n_steps=2, theta0=start, progress=False)
    with pytest.warns(DeprecationWarning, match="params0 is deprecated: pass theta0"):
        old = training.train(quad, x0, 2, eta=0.1, sigma2=0.01, n_steps=2, params0=start,
                             progress=False)
    assert all(np.array_equal(np.asarray(new.params[k]), np.asarray(old.params[k])) for k in start)
    with pytest.raises(ValueError, match="pass theta0 only"):
        training.train(quad, x0, 2, eta=0.1, sigma2=0.01, n_steps=2, theta0=start, params0=start,
                       progress=False)


# --------------------------------------------------------------------------- the replay buffer
def test_buffer_resumed_run_equals_uninterrupted_buffer_included(small_digits, tmp_path,
                                                                  monkeypatch):
    """'buffer' interrupted after 3 of 6 updates and called again: parameters, history, chains
    and the buffer itself (saved state of the checkpoint) bit for bit."""
    kw = dict(TRAIN, n_steps=6, rho=0.7, buffer_size=12)
    ref = training.train(TINY, small_digits, 3, "buffer", **kw)
    path = tmp_path / "run.ckpt"
    again = _interrupted_then_resumed(small_digits, "buffer", path, monkeypatch, kw)
    for a, b in zip(training.flatten(ref.params), training.flatten(again.params)):
        assert np.array_equal(a, b)
    for name in ("gap", "grad_norm", "trace", "chains", "buffer"):
        assert np.array_equal(getattr(ref, name), getattr(again, name)), name
    with pytest.raises(ValueError, match="other arguments"):   # rho is part of the run
        training.train(TINY, small_digits, 3, "buffer", checkpoint=path, **dict(kw, rho=0.5))


def test_buffer_rho_zero_is_rdm_and_end_states_overwrite_the_picked_entries(small_digits):
    """ρ = 0: every chain starts from the update's fresh draws, so the run is Rdm-K bit for bit.
    ρ = 0.6: the entries drawn at the last update hold its end states, the entries never drawn
    still hold the initial buffer, and 0 < reuse fraction < 1 (both branches ran)."""
    kw = dict(TRAIN, n_steps=4)
    rdm = training.train(TINY, small_digits, 3, "rdm", **kw)
    zero = training.train(TINY, small_digits, 3, "buffer", rho=0.0, buffer_size=30, **kw)
    assert np.array_equal(rdm.trace, zero.trace) and np.array_equal(rdm.chains, zero.chains)
    res = training.train(TINY, small_digits, 3, "buffer", rho=0.6, buffer_size=30, **kw)
    assert res.settings["rho"] == 0.6 and res.buffer.shape == (30, TINY.dim)
    init = np.asarray(langevin.uniform(jax.random.fold_in(langevin.as_key(kw["seed"]),
                                                          training.BUFFER_INIT), 30, TINY.dim,
                                       TINY.dtype))
    picked, reused = set(), []
    for step in range(4):
        gen = np.random.default_rng([kw["seed"], 2, step])
        idx = gen.choice(30, size=kw["n_chains"], replace=False)
        reused.extend(gen.random(kw["n_chains"]) < 0.6)
        picked.update(idx.tolist())
    assert np.array_equal(res.buffer[idx], res.chains)
    never = sorted(set(range(30)) - picked)
    assert never and np.array_equal(res.buffer[never], init[never])
    assert 0 < np.mean(reused) < 1


@pytest.mark.parametrize("kw, match", [
    (dict(protocol="buffer", rho=1.0), "rho=1.0 must be a probability in"),
    (dict(protocol="buffer", rho=-0.1), "rho=-0.1 must be a probability in"),
    (dict(protocol="buffer", buffer_size=3), "buffer_size"),
    (dict(protocol="rdm", rho=0.5), "belong to protocol='buffer'"),
    (dict(protocol="pcd", buffer_size=100), "belong to protocol='buffer'"),
])
def test_buffer_bad_input_is_named(small_digits, kw, match):
    with pytest.raises(ValueError, match=match):
        training.train(TINY, small_digits, 3, eta=0.5, sigma2=1e-3, n_chains=5, n_steps=1,
                       progress=False, **kw)


def test_neural_buffer_is_not_a_protocol_of_verify_or_the_convnet_figure():
    from shortrun.conventions import NEURAL_PROTOCOLS, SAMPLED_PROTOCOLS
    assert training.PROTOCOLS == NEURAL_PROTOCOLS and "buffer" in NEURAL_PROTOCOLS
    assert "buffer" not in SAMPLED_PROTOCOLS and memory.Config().protocols == SAMPLED_PROTOCOLS


def _quadratic_mode(a, b, eta, k):
    """One-coordinate quadratic E = ½a x² − b x under (L1): k steps map a mean m to
    μ + f (m − μ), μ = b/a, f = (1 − ηa)^k (the means of (Ga))."""
    return b / a, (1.0 - eta * a) ** k


def test_buffer_trainer_and_geometric_sampler_follow_the_law_limit_on_a_quadratic():
    """At (practically) fixed θ (lr = 1e-30) on E = ½xᵀAx − bᵀx with diagonal A, the mean of the
    trainer's buffer after n updates equals the law-limit recursion (B1) of the means,
    b_n = (1−ν)b_{n−1} + ν[μ + f((1−ρ)m0 + ρb_{n−1} − μ)], ν = n_chains/buffer_size, m0 = 0,
    and the geometric-age sampler's mean equals μ + (1−ρ)f/(1−ρf)(m0 − μ) (the damping (B2),
    :func:`shortrun.numerics.training.buffer.damping`), both within 4 standard errors
    (independent entries and rows).  The modes are slow (f up to 0.9) so the checks can fail."""
    from shortrun.numerics.training.buffer import damping
    d, k, eta, rho, size, n_chains, n_steps = 3, 2, 0.05, 0.8, 4000, 400, 30
    a, b = np.array([0.5, 1.0, 2.0]), np.array([1.0, -1.5, 1.2])
    energy = energies.quadratic(d)
    theta = {"W": np.diag(a), "b": b}
    x = np.zeros((4, d))
    res = training.train(energy, x, k, "buffer", rho=rho, buffer_size=size, n_chains=n_chains,
                         batch_size=4, eta=eta, sigma2=0.02, lr=1e-30, n_steps=n_steps,
                         theta0=theta, energy_penalty=0.0, progress=False, seed=3)
    assert np.allclose(np.asarray(res.params["W"]), np.diag(a), rtol=0, atol=1e-20)
    mu, f = _quadratic_mode(a, b, eta, k)
    nu, m = n_chains / size, np.zeros(d)
    for _ in range(n_steps):
        m = (1 - nu) * m + nu * (mu + f * ((1 - rho) * 0.0 + rho * m - mu))
    got, se = res.buffer.mean(0), res.buffer.std(0) / np.sqrt(size)
    assert np.all(np.abs(got - m) <= N_SIGMA * se), (got, m, se)
    assert np.all(np.abs(m - mu) > 10 * se)       # not yet at p_theta: the test can tell
    n = 20_000
    x0 = langevin.uniform(langevin.as_key(5), n, d, np.float64)
    geo, ages = memory.geometric_age_samples(energy, theta, x0, k, rho, eta, 0.02, key=6, seed=7)
    assert ages.min() >= 1 and abs(ages.mean() - 1 / (1 - rho)) < N_SIGMA * ages.std() / np.sqrt(n)
    want = mu + damping(f, rho) * (0.0 - mu)
    got, se = geo.mean(0), geo.std(0) / np.sqrt(n)
    assert np.all(np.abs(got - want) <= N_SIGMA * se), (got, want, se)
    rdm = mu + f * (0.0 - mu)                      # the K-step mean differs: the test can tell
    assert np.all(np.abs(rdm - want) > 10 * se)


@pytest.mark.slow
def test_buffer_machine_scores_on_synthetic_blobs():
    """A small ConvNet trained with the buffer on 8×8 blobs (ρ = 0.8, 256 states): the three
    samplers of the memory scoring are finite and their energy distances (E3) to held-out blobs
    beat uniform noise's; each geometric-age row is the row of an independent run of
    ``langevin.sample`` to its own time nK, bit for bit, with ages ≥ 1."""
    k, rho, n = 5, 0.8, 100
    energy = energies.convnet((2, 4))
    res = training.train(energy, _blobs(300, 0).astype(np.float32), k, "buffer", rho=rho,
                         buffer_size=256, eta=1.0, sigma2=1e-4, n_chains=32, batch_size=32,
                         lr=3e-3, n_steps=60, seed=0, progress=False)
    held_out = _blobs(n, 99)
    x0 = langevin.uniform(langevin.as_key(0, 1), n, energy.dim, energy.dtype)
    geo, ages = memory.geometric_age_samples(energy, res.params, x0, k, rho, 1.0, 1e-4,
                                             key=langevin.as_key(0, 2), seed=0)
    assert ages.min() >= 1 and len(np.unique(ages)) > 1
    for a in np.unique(ages)[:3]:
        alone = langevin.sample(energy, res.params, x0, [a * k], 1.0, 1e-4,
                                key=langevin.as_key(0, 2), allow_divergence=True)[0]
        assert np.array_equal(geo[ages == a], np.asarray(alone)[ages == a]), a
    t, curve = _memory_curve(energy, res.params, _blobs, k, n=n)
    noise = quality.energy_distance(np.asarray(x0, float), held_out)
    for name, ed in (("buffer", quality.energy_distance(res.buffer[:n].astype(float), held_out)),
                     ("geometric", quality.energy_distance(geo.astype(float), held_out)),
                     ("t = K", curve[int(np.flatnonzero(t == k)[0])])):
        assert np.isfinite(ed) and ed < noise, (name, ed, noise)


def test_train_result_is_a_deprecated_alias_of_training_result():
    with pytest.warns(DeprecationWarning, match="TrainResult is deprecated"):
        assert training.TrainResult is training.TrainingResult
