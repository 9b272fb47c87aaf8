r"""The short-run chain as a generator x = M_θ(z): reconstruction and interpolation (L3), (L4).

With the Langevin noise held fixed, the K-step chain (L1) started at z is a deterministic,
differentiable map of z (L3),

.. math:: M_\theta(z) = x_K,\qquad x_0 = z,\quad
          x_{t+1} = x_t - \eta\,\nabla_x E_\theta(x_t) + \sigma\,\xi_t\quad(\xi_1 … \xi_K\ \text{fixed}),

the generator of Nijkamp et al. (2019) with z ~ p0 (uniform on [-1, 1]^d here, as the chains of
:mod:`~shortrun.numerics.neural.training`).  The noise of step t is ``normal(fold_in(key, t))``,
the draw :func:`~shortrun.numerics.neural.langevin.step` makes, so ``generate(…, noise(key, …))``
is the state at time K of ``langevin.sample(…, key=key)``: the generator *is* the sampler, read as
a function of its start.

Reconstruction (L4): a target x is reconstructed by the code

.. math:: \hat z = \arg\min_{z\in[-1,1]^d} \frac{1}{d}\,\lVert M_\theta(z) - x\rVert^2,

found by projected Adam (optax), the gradient by JAX's reverse mode through the K steps (a
Hessian-vector product of E_θ per step); the projection keeps z in the support of p0.  Rows are
reconstructed independently (each with its own noise row), so the error of a row does not depend
on the others in the batch.

Interpolation: codes on the segment z(s) = (1 − s) z_a + s z_b, 0 ≤ s ≤ 1 (linear, not spherical:
p0 is uniform on the cube, which is convex, so the segment stays in its support; spherical
interpolation is the choice for a Gaussian p0, whose mass lies near a sphere), mapped by M_θ with
one noise row for the whole path.

:func:`pca_errors` gives the baseline: the held-out reconstruction error of PCA fitted on the
training images, for every number of components.
"""
from __future__ import annotations

import weakref
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from shortrun.conventions import (check_bool, check_count, check_finite, check_positive,
                                  nonnegative, positive)
from shortrun.numerics.neural import energies, langevin

__all__ = ["noise", "generator", "generate", "reconstruct", "Reconstruction", "interpolate",
           "pca_errors", "equivalent_components", "loss", "gradient"]

_GENERATORS = weakref.WeakKeyDictionary()   # energy.apply -> {box: jitted map}
_SOLVERS = weakref.WeakKeyDictionary()      # energy.apply -> {(box, lr, project): (opt, step)}


def noise(key, k, n, dim, dtype=np.float32):
    r"""The fixed noise of a K-step chain, shape ``(k, n, dim)``: row t − 1 is
    :math:`\xi_t` = ``normal(fold_in(key, t))`` for t = 1 … k, the draws of
    :func:`~shortrun.numerics.neural.langevin.step` (L1), (L3)."""
    key = langevin.as_key(key)
    k = check_count(k, "k", minimum=0)
    n, dim = check_count(n, "n"), check_count(dim, "dim")
    return jnp.stack([jax.random.normal(jax.random.fold_in(key, t), (n, dim), dtype=dtype)
                      for t in range(1, k + 1)]) if k else jnp.zeros((0, n, dim), dtype=dtype)


def generator(energy, box=False):
    r"""Jitted ``run(params, z, xi, eta, sigma2[, lo, hi]) -> x_K``, the map M_θ of (L3).

    ``xi`` is the fixed noise, shape ``(K, n, d)`` (:func:`noise`); the K steps are a
    ``lax.scan`` over it, so the map is differentiable in ``z`` and in ``params`` by reverse mode.
    With ``box=True`` every step is projected on [lo, hi]^d as in (L2).
    """
    runners = _GENERATORS.setdefault(energy.apply, {})
    run = runners.get(bool(box))
    if run is None:
        gx = jax.grad(lambda params, x: jnp.sum(energy.apply(params, x)), argnums=1)

        def chain(params, z, xi, eta, sigma2, project):
            sigma = jnp.sqrt(sigma2).astype(z.dtype)
            eta = eta.astype(z.dtype)

            def body(x, xi_t):
                return project(x - eta * gx(params, x) + sigma * xi_t), None

            return jax.lax.scan(body, z, xi)[0]

        if box:
            def run(params, z, xi, eta, sigma2, lo, hi):
                return chain(params, z, xi, eta, sigma2,
                             lambda y: jnp.clip(y, lo.astype(y.dtype), hi.astype(y.dtype)))
        else:
            def run(params, z, xi, eta, sigma2):
                return chain(params, z, xi, eta, sigma2, lambda y: y)
        run = runners[bool(box)] = jax.jit(run)
    return run


def _codes(energy, z, name):
    check_finite(np.asarray(z), name, f"pass finite {name}.")   # before JAX sees text or objects
    z = jnp.asarray(z)
    if z.ndim != 2 or z.shape[1] != energy.dim:
        raise ValueError(f"{name} has shape {tuple(z.shape)}; it must be (n, {energy.dim}), one "
                         f"code per row.")
    return z.astype(energy.dtype)


def _noise_of(energy, xi, n):
    check_finite(np.asarray(xi), "xi", "pass finite noise, e.g. generator.noise(key, k, n, dim).")
    xi = jnp.asarray(xi)
    if xi.ndim != 3 or xi.shape[1:] != (n, energy.dim):
        raise ValueError(f"xi has shape {tuple(xi.shape)}; it must be (K, {n}, {energy.dim}): the "
                         f"fixed noise of K steps for these {n} codes (generator.noise).")
    return xi.astype(energy.dtype)


def _settings(energy, eta, sigma2, box):
    e = jnp.asarray(positive(eta, "eta"), energy.dtype)
    s = jnp.asarray(nonnegative(sigma2, "sigma2"), energy.dtype)
    box = langevin.check_box(box)
    bounds = () if box is None else tuple(jnp.asarray(b, energy.dtype) for b in box)
    return e, s, box, bounds


def generate(energy, params, z, xi, eta, sigma2, box=None):
    r"""M_θ(z) of (L3): K steps of (L1) from the codes ``z`` with the fixed noise ``xi``.

    Parameters
    ----------
    energy : :class:`~shortrun.numerics.neural.energies.Energy`
    params : pytree (``energy.init`` layout)
    z : (n, d) array
        Codes (starting points), one per row.
    xi : (K, n, d) array
        The noise of steps 1 … K (:func:`noise`); K = 0 returns ``z``.
    eta, sigma2 : float
        Step size η > 0 and noise variance σ² ≥ 0 of (L1).
    box : None or (lo, hi)
        Project every step on [lo, hi]^d, (L2).

    Returns
    -------
    numpy.ndarray, shape (n, d)
    """
    z = _codes(energy, z, "z")
    xi = _noise_of(energy, xi, z.shape[0])
    params = energies.check_params(energy, params)
    e, s, box, bounds = _settings(energy, eta, sigma2, box)
    # the program of reconstruct (images at z, and a gradient not used here): one compilation
    # per shape serves generate, interpolate, gradient and reconstruct
    init, step = _solver(energy, box is not None, 1.0, True)
    return np.asarray(step(params, z, init(z), z, xi, (e, s, *bounds))[3])


def loss(energy, box=False):
    r"""Jitted ``(params, z, x, xi, eta, sigma2[, lo, hi]) -> per-row error`` of (L4):
    :math:`\lVert M_\theta(z_i) - x_i\rVert^2 / d` for every row i (shape ``(n,)``)."""
    run = generator(energy, box)

    def rows(params, z, x, xi, *rest):
        return jnp.mean((run(params, z, xi, *rest) - x) ** 2, axis=1)

    return jax.jit(rows)


class Reconstruction(NamedTuple):
    """Outcome of :func:`reconstruct`: the codes ``z`` (n, d), their images ``x_hat`` = M_θ(z),
    the per-row error ``error`` = ‖M_θ(z_i) − x_i‖²/d (n,), the mean error before every Adam
    step ``history`` (n_iter + 1,; the last entry at the returned codes) and the noise ``xi``."""

    z: np.ndarray
    x_hat: np.ndarray
    error: np.ndarray
    history: np.ndarray
    xi: np.ndarray


def _solver(energy, box, lr, project):
    """Jitted ``step(params, z, state, x, xi, rest) -> (z', state', errors, images)``: the
    per-row errors and images M_θ(z) at ``z`` and one projected Adam step; compiled once per
    energy, shapes and settings (the Adam loop runs in Python, so the number of steps does not
    enter the compiled program)."""
    solvers = _SOLVERS.setdefault(energy.apply, {})
    key = (bool(box), project)
    if key not in solvers:
        run = generator(energy, box)
        opt = optax.inject_hyperparams(optax.adam)(learning_rate=1.0)   # lr set in the state

        def total(z, params, x, xi, rest):
            images = run(params, z, xi, *rest)
            err = jnp.mean((images - x) ** 2, axis=1)
            return jnp.sum(err), (err, images)   # the sum: rows independent, Adam per coordinate

        grad = jax.value_and_grad(total, has_aux=True)

        @jax.jit
        def step(params, z, state, x, xi, rest):
            (_, (err, images)), g = grad(z, params, x, xi, rest)
            upd, state = opt.update(g, state, z)
            z_new = optax.apply_updates(z, upd)
            if project:
                z_new = jnp.clip(z_new, -1.0, 1.0)
            return z_new, state, err, images, g

        solvers[key] = (opt, step)
    opt, step = solvers[key]

    def init(z):
        state = opt.init(z)
        state.hyperparams["learning_rate"] = jnp.asarray(lr, dtype=z.dtype)
        return state

    return init, step


def gradient(energy, params, z, x, xi, eta, sigma2, box=None):
    r"""The per-row errors ‖M_θ(z_i) − x_i‖²/d of (L4) and the gradient of their sum in z (reverse
    mode through the K steps of (L3)), by the program :func:`reconstruct` runs (one compilation
    serves both).  Returns ``(errors (n,), gradient (n, d))`` as numpy arrays."""
    z, x = _codes(energy, z, "z"), _codes(energy, x, "x")
    if x.shape != z.shape:
        raise ValueError(f"x has shape {tuple(x.shape)} and z {tuple(z.shape)}; pass one target "
                         f"per code.")
    xi = _noise_of(energy, xi, z.shape[0])
    params = energies.check_params(energy, params)
    e, s, box, bounds = _settings(energy, eta, sigma2, box)
    init, step = _solver(energy, box is not None, 1.0, True)
    out = step(params, z, init(z), x, xi, (e, s, *bounds))
    return np.asarray(out[2]), np.asarray(out[4])


def reconstruct(energy, params, x, k, *, eta, sigma2, key=0, n_iter=200, lr=0.05, z0=None,
                box=None, project=True, xi=None):
    r"""Codes ẑ with M_θ(ẑ) ≈ x, (L4): projected Adam on ‖M_θ(z) − x‖²/d, gradient by autodiff.

    Parameters
    ----------
    energy : :class:`~shortrun.numerics.neural.energies.Energy`
    params : pytree
    x : (n, d) array
        Targets (e.g. held-out digits).
    k : int >= 0
        Steps of the chain (the sampling time of the generator).
    eta, sigma2 : float
        Of (L1).
    key : int or JAX key
        Seed of the fixed noise (:func:`noise`) and, without ``z0``, of the start z0 ~ p0
        (``uniform(fold_in(key, 0))``).
    n_iter : int >= 1
        Adam steps.
    lr : float > 0
        Adam's learning rate (codes live in [-1, 1]).
    z0 : (n, d) array, optional
        Start of the codes.
    box : None or (lo, hi)
        As in :func:`generate`.
    project : bool
        Clip z to [-1, 1]^d (the support of p0) after every step (default).
    xi : (k, n, d) array, optional
        The fixed noise (default :func:`noise` of ``key``), e.g. one row broadcast to every
        target, so that their codes can be joined by :func:`interpolate`.

    Returns
    -------
    Reconstruction
    """
    x = _codes(energy, x, "x")
    n = x.shape[0]
    k = check_count(k, "k", minimum=0)
    n_iter = check_count(n_iter, "n_iter")
    lr = check_positive(lr, "lr", "pass Adam's learning rate, e.g. 0.05.")
    project = check_bool(project, "project")
    key = langevin.as_key(key)
    params = energies.check_params(energy, params)
    e, s, box, bounds = _settings(energy, eta, sigma2, box)
    z0 = (langevin.uniform(jax.random.fold_in(key, 0), n, energy.dim, energy.dtype) if z0 is None
          else _codes(energy, z0, "z0"))
    if z0.shape[0] != n:
        raise ValueError(f"z0 has {z0.shape[0]} rows and x has {n}; pass one start per target.")
    xi = noise(key, k, n, energy.dim, energy.dtype) if xi is None else _noise_of(energy, xi, n)
    if xi.shape[0] != k:
        raise ValueError(f"xi holds {xi.shape[0]} steps; k = {k} needs {k}.")
    init, step = _solver(energy, box is not None, float(lr), project)
    rest = (e, s, *bounds)
    z, state, hist = z0, init(z0), []
    for i in range(n_iter + 1):         # the last pass only evaluates the returned codes
        z_new, new_state, err, x_hat, _ = step(params, z, state, x, xi, rest)
        hist.append(jnp.mean(err))      # no host sync inside the loop (dispatch stays async)
        if i < n_iter:
            z, state = z_new, new_state
    return Reconstruction(np.asarray(z), np.asarray(x_hat), np.asarray(err),
                          np.asarray(jnp.stack(hist), dtype=float), np.asarray(xi))


def interpolate(energy, params, z_a, z_b, xi, n_points, *, eta, sigma2, box=None):
    r"""Images M_θ(z(s)) along the segment z(s) = (1 − s) z_a + s z_b, s = 0 … 1 in
    ``n_points`` equal steps, one noise row ``xi`` (K, d) for the whole path (L3).

    Returns ``(s, images)`` with ``images`` of shape (n_points, d).
    """
    n_points = check_count(n_points, "n_points", minimum=2)
    za, zb = (_codes(energy, np.atleast_2d(v), name) for v, name in ((z_a, "z_a"), (z_b, "z_b")))
    if za.shape[0] != 1 or zb.shape[0] != 1:
        raise ValueError("z_a and z_b must be single codes of shape (d,) or (1, d).")
    xi = jnp.asarray(xi)
    if xi.ndim != 2 or xi.shape[1] != energy.dim:
        raise ValueError(f"xi has shape {tuple(xi.shape)}; it must be (K, {energy.dim}), the "
                         f"noise row of one chain, shared by every point of the path.")
    s = np.linspace(0.0, 1.0, n_points)
    z = (1.0 - s[:, None]) * np.asarray(za) + s[:, None] * np.asarray(zb)
    xi_path = jnp.broadcast_to(xi[:, None, :], (xi.shape[0], n_points, energy.dim))
    return s, generate(energy, params, z, xi_path, eta, sigma2, box=box)


def pca_errors(train, test, components):
    r"""Held-out reconstruction error of PCA: for each q in ``components``, the mean over the rows
    of ``test`` of ‖x − x̂_q‖²/d, x̂_q the projection on the top q principal components of
    ``train`` (scikit-learn ``PCA``, centred on the training mean) — the linear baseline of (L4)."""
    from sklearn.decomposition import PCA

    train, test = (np.asarray(check_finite(v, name, f"pass finite {name} images."), float)
                   for v, name in ((train, "train"), (test, "test")))
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(f"train {train.shape} and test {test.shape} must be (n, d) arrays with "
                         f"the same d.")
    qs = [check_count(q, "components", minimum=0) for q in np.atleast_1d(components)]
    if not qs:
        raise ValueError("components is empty; pass the numbers of components to try, e.g. "
                         "[0, 1, 2, 4].")
    if max(qs) > min(train.shape):
        raise ValueError(f"components up to {max(qs)} exceed min(n_train, d) = "
                         f"{min(train.shape)}.")
    full = PCA(n_components=max(qs)).fit(train) if max(qs) else None
    out = []
    for q in qs:
        if q == 0:
            rec = np.broadcast_to(train.mean(0), test.shape)
        else:
            basis = full.components_[:q]
            rec = full.mean_ + (test - full.mean_) @ basis.T @ basis
        out.append(float(np.mean((test - rec) ** 2)))
    return np.array(out)


def equivalent_components(error, pca):
    """The smallest number of components q whose PCA error ``pca[q]`` (q = 0, 1, …) is at most
    ``error``: the generator's error read as a PCA dimension."""
    error = nonnegative(error, "error")
    pca = check_finite(pca, "pca", "pass the errors of pca_errors.")
    below = np.flatnonzero(pca <= error)
    return int(below[0]) if below.size else len(pca)
