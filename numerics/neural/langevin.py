r"""Short-run Langevin chains on a neural energy, seeded and reproducible (L1).

One step of the unadjusted Langevin algorithm on :math:`E_\theta` (with :math:`f = -E`):

.. math:: (L1)\quad x_{t+1} = x_t - \eta\,\nabla_x E_\theta(x_t) + \sigma\,\xi_t
          = x_t + \eta\,\nabla_x f_\theta(x_t) + \sigma\,\xi_t,\qquad \xi_t\sim N(0, I),

with step ``eta`` = η and noise variance ``sigma2`` = σ² (σ² = 2η is the Langevin diffusion;
short-run image EBMs use a small σ such as 0.01 with η = 1).  On the quadratic energy
:math:`\tfrac12 x^\top A x - b^\top x` this is the Gaussian chain whose mean and covariance
follow (Ga) for *any* p0 with the given first two moments.

Randomness: the noise of step t (t = 1, 2, …) is ``normal(fold_in(key, t))``, so the samples at a
time do not depend on how the run is cut into segments (one pass returns all requested times;
a long run can be continued from its last state and key).
"""
from __future__ import annotations

import weakref

import jax
import jax.numpy as jnp
import numpy as np

from shortrun.conventions import check_finite, check_steps, nonnegative, positive
from shortrun.numerics.neural import energies

__all__ = ["sample", "step", "as_key", "uniform", "check_box"]

_RUNNERS = weakref.WeakKeyDictionary()  # energy.apply -> {box: jitted run}


def as_key(seed, *counters):
    """The JAX key of ``seed`` (an integer >= 0 or a JAX key) folded with each counter in turn."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        if seed < 0:
            raise ValueError(f"seed={seed!r} must be an integer >= 0.")
        key = jax.random.key(int(seed))
    elif isinstance(seed, jax.Array) and jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
        key = seed
    else:
        raise ValueError(f"seed={seed!r} must be an integer >= 0 or a JAX key (jax.random.key).")
    for c in counters:
        key = jax.random.fold_in(key, int(c))
    return key


def uniform(key, n, dim, dtype):
    """``n`` draws of p0 = uniform on [-1, 1]^dim (mean 0, covariance I/3)."""
    return jax.random.uniform(key, (n, dim), dtype=dtype, minval=-1.0, maxval=1.0)


def step(energy, box=False):
    r"""Jitted ``run(params, x, key, t0, t1, eta, sigma2)``: steps t = t0+1 … t1 of (L1).

    The noise of step t is drawn from ``fold_in(key, t)``; ``t0``, ``t1`` may change without
    recompiling.  With ``box=True`` the run takes two more arguments ``lo, hi`` and projects
    every step onto the box [lo, hi]^d, (L2): ``x_{t+1} = clip(x_t − η∇E + σξ_t, lo, hi)``.
    """
    runners = _RUNNERS.setdefault(energy.apply, {})
    run = runners.get(bool(box))
    if run is None:
        gx = jax.grad(lambda params, x: jnp.sum(energy.apply(params, x)), argnums=1)

        def loop(params, x, key, t0, t1, eta, sigma2, project):
            sigma = jnp.sqrt(sigma2).astype(x.dtype)
            eta = eta.astype(x.dtype)

            def body(t, x):
                xi = jax.random.normal(jax.random.fold_in(key, t + 1), x.shape, dtype=x.dtype)
                return project(x - eta * gx(params, x) + sigma * xi)

            return jax.lax.fori_loop(t0, t1, body, x)

        if box:
            @jax.jit
            def run(params, x, key, t0, t1, eta, sigma2, lo, hi):
                return loop(params, x, key, t0, t1, eta, sigma2,
                            lambda y: jnp.clip(y, lo.astype(y.dtype), hi.astype(y.dtype)))
        else:
            @jax.jit
            def run(params, x, key, t0, t1, eta, sigma2):
                return loop(params, x, key, t0, t1, eta, sigma2, lambda y: y)

        runners[bool(box)] = run
    return run


def check_box(box, name="box"):
    """``None`` or a pair ``(lo, hi)`` of finite numbers with lo < hi, as floats."""
    if box is None:
        return None
    try:
        lo, hi = box
    except (TypeError, ValueError):
        raise ValueError(f"{name}={box!r} must be None or a pair (lo, hi), e.g. (-1.0, 1.0) for "
                         f"images in [-1, 1].") from None
    lo = check_finite(lo, f"{name}[0]", "pass finite bounds, e.g. (-1.0, 1.0).")
    hi = check_finite(hi, f"{name}[1]", "pass finite bounds, e.g. (-1.0, 1.0).")
    if lo.ndim or hi.ndim or not lo < hi:
        raise ValueError(f"{name}={box!r} must be two numbers lo < hi, e.g. (-1.0, 1.0).")
    return float(lo), float(hi)


def _times(times):
    t = np.atleast_1d(np.asarray(times))
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"times={times!r} must be a non-empty list of integers >= 0.")
    out = [check_steps(v.item() if isinstance(v, np.generic) else v, "times") for v in t]
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"times={times!r} must be strictly increasing.")
    return out


def sample(energy, params, x0, times, eta, sigma2, key=0, progress=None, allow_divergence=False,
           box=None):
    r"""Run (L1) from ``x0`` and return the chains at every time in ``times`` (one pass).

    .. math:: x_{t+1} = x_t - \eta\,\nabla_x E_\theta(x_t) + \sqrt{\sigma^2}\,\xi_t .

    Parameters
    ----------
    energy : :class:`~shortrun.numerics.neural.energies.Energy`
    params : pytree of arrays (``energy.init`` layout)
    x0 : (n, d) array
        Starting points (one chain per row); their dtype is the dtype of the run.
    times : int or increasing sequence of ints >= 0
        Times at which to record the chains (0 = ``x0``).
    eta : float > 0
        Step size η.
    sigma2 : float >= 0
        Noise variance σ² per step.
    key : int or JAX key
        Seed of the noise; step t uses ``normal(fold_in(key, t))``.
    progress : callable, optional
        Called as ``progress(t)`` after each recorded time (for long runs).
    box : None or (lo, hi)
        Project every step onto [lo, hi]^d, (L2) (as the chains of a run trained with the same
        ``box``); ``None`` (default) for plain (L1).
    allow_divergence : bool
        If False (default), chains that leave the finite numbers raise a ``RuntimeError``
        naming ``eta``; if True they are returned as they are (NaN or inf rows mark the chains
        that diverged, e.g. to score a Gibbs law with unbounded directions).

    Returns
    -------
    numpy.ndarray, shape (len(times), n, d)

    Raises
    ------
    ValueError
        ``params`` not of the layout of ``energy.init`` or not finite
        (:func:`~shortrun.numerics.neural.energies.check_params`), bad ``x0``, ``times``, ``eta``,
        ``sigma2``.
    RuntimeError
        A chain overflowed (NaN or inf) before a recorded time: along it ``eta`` exceeds the
        stability limit 2/(largest curvature of E), like ``eta * a >= 2`` on the quadratic energy.
    """
    x = jnp.asarray(x0)
    if x.ndim != 2 or x.shape[1] != energy.dim:
        raise ValueError(f"x0 has shape {tuple(x.shape)}; it must be (n_chains, {energy.dim}).")
    if x.dtype != energy.dtype:
        x = x.astype(energy.dtype)
    check_finite(np.asarray(x), "x0", "pass finite starting points.")
    params = energies.check_params(energy, params)
    ts = _times(times)
    eta = positive(eta, "eta")
    sigma2 = nonnegative(sigma2, "sigma2")
    key = as_key(key)
    box = check_box(box)
    run = step(energy, box is not None)
    e, s = jnp.asarray(eta, energy.dtype), jnp.asarray(sigma2, energy.dtype)
    bounds = () if box is None else tuple(jnp.asarray(b, energy.dtype) for b in box)
    out, t = [], 0
    for t_next in ts:
        if t_next > t:
            x = run(params, x, key, t, t_next, e, s, *bounds)
            t_prev, t = t, t_next
            if not allow_divergence:
                _check_chains(np.asarray(x), t_prev, t, eta)
        out.append(np.asarray(x))
        if progress is not None:
            progress(t)
    return np.stack(out)


def _check_chains(x, t_prev, t, eta):
    bad = ~np.all(np.isfinite(x), axis=1)
    if bad.any():
        raise RuntimeError(
            f"{int(bad.sum())} of {len(x)} Langevin chains overflowed (NaN or inf) between t = "
            f"{t_prev} and t = {t}: the step eta={eta!r} is beyond the stability limit "
            f"2/(largest curvature of E) along them; lower eta (or pass allow_divergence=True to "
            f"get the diverged chains as NaN/inf rows).")
