"""The short-run chain as a generator (L3)-(L4) and the Fréchet distance (E5).

Independent routes: M_θ(z) against the sampler ``langevin.sample`` (the same noise draws, another
loop); the reverse-mode gradient of the reconstruction loss against central finite differences in
float64 with a Richardson bound; the Fréchet distance against the scipy ``sqrtm`` formula of FID;
PCA's errors against a plain SVD.  Fixed seeds.
"""
from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("optax")

import jax.numpy as jnp  # noqa: E402
from conftest import richardson_fd_check  # noqa: E402

from shortrun.numerics.neural import digits, energies, generator, langevin, quality  # noqa: E402

ETA, SIGMA2 = 0.3, 1e-2


def _machine(dtype=np.float64, channels=(3,)):
    """A small ConvNet (one convolution by default: the second-order programs compile fast)."""
    energy = energies.convnet(channels, dtype=dtype)
    return energy, energy.init(jax.random.key(1))


def _codes(n, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, 64)).astype(dtype)


# --------------------------------------------------------------------------- the generator (L3)
@pytest.mark.parametrize("box", [None, pytest.param((-1.0, 1.0), marks=pytest.mark.slow)],
                         ids=["plain", "box"])
def test_generator_is_the_sampler_read_as_a_function_of_its_start(box):
    """M_θ(z) with noise(key) equals langevin.sample(z, K, key) (the same draws, a fori_loop
    instead of a scan) to float64 rounding over K = 4 steps, and it is deterministic: the same
    codes and noise give the same images bit for bit, other noise other images."""
    energy, params = _machine()
    z, k = _codes(2), 4                  # the shapes of the gradient test: one compilation
    xi = generator.noise(3, k, 2, 64, np.float64)
    ours = generator.generate(energy, params, z, xi, ETA, SIGMA2, box=box)
    ref = langevin.sample(energy, params, z, [k], ETA, SIGMA2, key=3, box=box)[-1]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e3 * np.finfo(float).eps)
    again = generator.generate(energy, params, z, xi, ETA, SIGMA2, box=box)
    assert np.array_equal(ours, again)
    other = generator.generate(energy, params, z, generator.noise(4, k, 2, 64, np.float64),
                               ETA, SIGMA2, box=box)
    assert np.max(np.abs(other - ours)) > 1e-3
    assert np.array_equal(generator.generate(energy, params, z, xi[:0], ETA, SIGMA2), z)


def test_reconstruction_gradient_against_finite_differences():
    """∇_z of Σ_i ‖M_θ(z_i) − x_i‖²/d by reverse mode through K = 4 steps (float64, the program
    reconstruct runs: ``generator.gradient``) against
    central differences at steps h and h/2 along eight coordinates: within twice the Richardson
    bound of the truncation error plus the rounding noise of the loss (64 eps·|loss|/h)."""
    energy, params = _machine()
    k, n = 4, 2
    z, x = _codes(n, 0), _codes(n, 1)
    xi = generator.noise(0, k, n, 64, np.float64)
    f = lambda zz: float(np.sum(generator.gradient(energy, params, zz, x, xi, ETA,  # noqa: E731
                                                   SIGMA2)[0]))
    g = generator.gradient(energy, params, z, x, xi, ETA, SIGMA2)[1]
    coords = np.random.default_rng(2).choice(z.size, 8, replace=False)
    flat = z.ravel()

    def along(theta):  # f as a function of the eight chosen coordinates
        zz = flat.copy()
        zz[coords] = theta
        return np.array([f(zz.reshape(z.shape))])

    assert np.abs(g).max() > 1e-3                      # a gradient that is not trivially 0
    richardson_fd_check(along, flat[coords].copy(), g.ravel()[coords][None, :],
                        noise=64 * np.finfo(float).eps * abs(f(z)), h=1e-4)


@pytest.mark.slow
def test_reconstruct_finds_a_code_and_lowers_the_error():
    """Projected Adam lowers the error of a reachable target (x = M_θ(z*) for a code z* in the
    box) by a factor > 10 from the start, keeps the codes in [-1, 1], and its reported images and
    errors are M_θ(ẑ) and ‖M_θ(ẑ) − x‖²/d recomputed independently."""
    energy, params = _machine(np.float32, (3, 4))
    k, n = 5, 4
    xi = generator.noise(7, k, n, 64, np.float32)
    x = generator.generate(energy, params, _codes(n, 5, np.float32) * 0.8, xi, ETA, SIGMA2)
    rec = generator.reconstruct(energy, params, x, k, eta=ETA, sigma2=SIGMA2, key=7, n_iter=150,
                                lr=0.05)
    assert rec.history[-1] < rec.history[0] / 10, rec.history[[0, -1]]
    assert np.all(np.abs(rec.z) <= 1.0)
    x_hat = generator.generate(energy, params, rec.z, rec.xi, ETA, SIGMA2)
    np.testing.assert_allclose(rec.x_hat, x_hat, rtol=0, atol=1e-5)
    np.testing.assert_allclose(rec.error, np.mean((x_hat - x) ** 2, axis=1), rtol=1e-4, atol=1e-7)
    err, g = generator.gradient(energy, params, rec.z, x, rec.xi, ETA, SIGMA2)
    rows = generator.loss(energy)
    e, s = jnp.asarray(ETA, jnp.float32), jnp.asarray(SIGMA2, jnp.float32)
    ref = jax.grad(lambda zz: jnp.sum(rows(params, zz, x, rec.xi, e, s)))(jnp.asarray(rec.z))
    np.testing.assert_allclose(err, rec.error, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max()))


@pytest.mark.slow
def test_interpolation_path_ends_at_the_codes():
    """The path s = 0 … 1 starts at M_θ(z_a) and ends at M_θ(z_b) (with the same noise row)."""
    energy, params = _machine()
    za, zb = _codes(2, 9)
    xi = generator.noise(1, 3, 1, 64, np.float64)[:, 0]
    s, path = generator.interpolate(energy, params, za, zb, xi, 5, eta=ETA, sigma2=SIGMA2)
    ends = generator.generate(energy, params, np.stack([za, zb]),
                              jnp.broadcast_to(xi[:, None], (3, 2, 64)), ETA, SIGMA2)
    assert np.allclose(s, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(path[[0, -1]], ends, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- PCA baseline
@pytest.mark.slow
def test_pca_errors_against_svd():
    """PCA's held-out error for q components equals the projection error on the top q right
    singular vectors of the centred training set; q = 0 is the mean; q = d is 0."""
    d = digits.load(n_test=100, seed=0, dtype=np.float64)
    qs = [0, 3, 10, 64]
    ours = generator.pca_errors(d.train, d.test, qs)
    mu = d.train.mean(0)
    v = np.linalg.svd(d.train - mu, full_matrices=False)[2]
    for q, e in zip(qs, ours):
        rec = mu + (d.test - mu) @ v[:q].T @ v[:q]
        assert abs(e - np.mean((d.test - rec) ** 2)) <= 1e-10
    assert ours[-1] <= 1e-12 and np.all(np.diff(ours) < 0)
    assert generator.equivalent_components(ours[1], ours) == 1


# --------------------------------------------------------------------------- Fréchet distance (E5)
def _fd_sqrtm(a, b):
    """The FID formula with scipy's general matrix square root of Σ_a Σ_b."""
    from scipy import linalg
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    cross = linalg.sqrtm(ca @ cb).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(ca + cb - 2 * cross))


def test_frechet_distance_against_sqrtm_and_zero_for_identical_sets():
    """FD of two correlated Gaussian clouds in 6 dimensions equals the scipy sqrtm route within
    100 eps · cond(Σ_a Σ_b) · (tr Σ_a + tr Σ_b) (the rounding of both square roots); identical
    sets give 0 to 100 eps · tr Σ; on the classifier's logits it is the same formula on
    ``quality.features``; noise images are far from the digits; diverged samples score inf."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6)) @ (np.eye(6) + 0.3 * rng.normal(size=(6, 6))) + 0.5
    b = rng.normal(size=(300, 6)) * 1.5
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eps = np.finfo(float).eps
    fd = quality.frechet_distance(a, b)
    tol = 100 * eps * np.linalg.cond(ca @ cb) * (np.trace(ca) + np.trace(cb))
    assert tol < 1e-9 * fd                                # a tight comparison
    assert abs(fd - _fd_sqrtm(a, b)) <= tol
    assert abs(quality.frechet_distance(a, a)) <= 100 * eps * np.trace(ca)
    d = digits.load(n_test=200, seed=0, dtype=np.float64)
    clf = quality.classifier(d.train[:600], d.train_labels[:600])
    fa, fb = quality.features(clf, d.train[:200]), quality.features(clf, d.test)
    assert fa.shape == (200, 10)
    fd = quality.frechet_distance(d.train[:200], d.test, clf)
    assert abs(fd - quality.frechet_distance(fa, fb)) <= 1e-12 * fd
    noise = quality.frechet_distance(_codes(200, 3), d.test, clf)
    assert noise > 10 * fd                           # uniform noise is far from the digits
    assert quality.frechet_distance(np.full((5, 64), np.nan), d.test, clf) == np.inf


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_name_the_argument():
    energy, params = _machine()
    z = _codes(3)
    xi = generator.noise(0, 2, 3, 64, np.float64)
    with pytest.raises(ValueError, match="z has shape"):
        generator.generate(energy, params, z[:, :10], xi, ETA, SIGMA2)
    with pytest.raises(ValueError, match="xi has shape"):
        generator.generate(energy, params, z, xi[:, :2], ETA, SIGMA2)
    with pytest.raises(ValueError, match="eta"):
        generator.generate(energy, params, z, xi, -1.0, SIGMA2)
    with pytest.raises(ValueError, match="z contains NaN"):
        generator.generate(energy, params, np.full_like(z, np.nan), xi, ETA, SIGMA2)
    with pytest.raises(ValueError, match="n_iter"):
        generator.reconstruct(energy, params, z, 2, eta=ETA, sigma2=SIGMA2, n_iter=0)
    for flag in ("yes", "no", 1, None):       # a non-bool flag was read by its truth value
        with pytest.raises(ValueError, match=f"project={flag!r} must be True or False"):
            generator.reconstruct(energy, params, z, 2, eta=ETA, sigma2=SIGMA2, project=flag)
    with pytest.raises(ValueError, match="z0 has 1 rows"):
        generator.reconstruct(energy, params, z, 2, eta=ETA, sigma2=SIGMA2, z0=z[:1])
    with pytest.raises(ValueError, match="n_points"):
        generator.interpolate(energy, params, z[0], z[1], xi[:, 0], 1, eta=ETA, sigma2=SIGMA2)
    with pytest.raises(ValueError, match="components"):
        generator.pca_errors(z, z, [65])
    with pytest.raises(ValueError, match="samples has shape"):
        quality.frechet_distance(z[:1], z)
    with pytest.raises(ValueError, match="same number of columns"):
        quality.frechet_distance(z, z[:, :5])
    text = np.full((3, 64), "a")        # these reached JAX, numpy or sklearn and failed there
    with pytest.raises(ValueError, match="z holds <U1 entries"):
        generator.generate(energy, params, text, xi, ETA, SIGMA2)
    for f in (quality.energy_distance, quality.adversarial_accuracy, quality.frechet_distance):
        with pytest.raises(ValueError, match="samples holds <U1 entries"):
            f(text, z)
    with pytest.raises(ValueError, match="samples holds"):
        quality.score(text, z, None)
    with pytest.raises(ValueError, match="covariance overflows"):
        quality.frechet_distance(z * 1e200, z)
    with pytest.raises(ValueError, match="components is empty"):
        generator.pca_errors(z, z, [])
    with pytest.raises(ValueError, match="error=nan"):            # used to return len(pca)
        generator.equivalent_components(np.nan, [3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="pca contains NaN"):
        generator.equivalent_components(0.5, [np.nan, 0.1])
