r"""Neural energies on JAX: a small ConvNet for 8×8 images and the quadratic "linear network".

An energy is a pair of pure functions, ``init(key) -> params`` (a pytree of arrays) and
``apply(params, x) -> E`` (one energy per row of ``x``, shape ``(n,)``), bundled in
:class:`Energy`.  Both gradients used by short-run training come from this one definition by
automatic differentiation (``jax.grad``), never by hand:

.. math:: \nabla_x E_\theta(x) \quad\text{(the Langevin drift, (L1))},\qquad
          \nabla_\theta E_\theta(x) \quad\text{(the statistics of the gradient (G4))}.

Energies
--------
:func:`convnet`
    :math:`E_\theta(x) = w^\top \phi(x) + c` with :math:`\phi` a stack of 3×3 convolutions with a
    smooth activation (swish :math:`z\,\sigma(z)` or softplus), for 8×8 images given as rows of
    64 pixels.  Float32 by default (speed).
:func:`quadratic`
    :math:`E(x) = \tfrac12 x^\top A x - b^\top x` with :math:`A = (W + W^\top)/2` (any symmetric
    A, concave directions included, as the Gaussian fixed point (Gc) may need), parameters
    ``{'W', 'b'}``.  Float64 by default: it is compared with the closed forms of
    :mod:`shortrun.theory.gaussian`.

Importing this module switches JAX to 64-bit mode (``jax_enable_x64``) so that float64 is
available; every array here carries an explicit dtype, so the ConvNet stays in float32.
"""
from __future__ import annotations

import weakref
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from shortrun.conventions import check_choice, check_count, check_finite, check_real

jax.config.update("jax_enable_x64", True)

__all__ = ["Energy", "convnet", "quadratic", "grad_x", "grad_theta", "jit_apply", "conv3x3", "matrix",
           "check_params", "ACTIVATIONS"]

ACTIVATIONS = {"swish": jax.nn.swish, "softplus": jax.nn.softplus}
_LAYOUTS = weakref.WeakKeyDictionary()


class Energy(NamedTuple):
    """A neural energy: ``init(key) -> params``, ``apply(params, x) -> (n,)`` energies.

    ``config`` holds the plain settings (name, sizes, dtype) that identify the architecture (for
    checkpoint fingerprints); ``dim`` is the dimension of one sample x; ``dtype`` its float type.
    """

    name: str
    dim: int
    dtype: np.dtype
    config: dict
    init: Callable
    apply: Callable


def _dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype={dtype} is not supported; use numpy.float32 or numpy.float64.")
    return dtype


def convnet(channels=(16, 32, 32), activation="swish", side=8, dtype=np.float32):
    r"""A ConvNet energy for ``side``×``side`` one-channel images given as rows of side² pixels.

    .. math::
        h_1 = \varphi(\mathrm{conv}_{3\times3}^{s=1}(x)),\quad
        h_{l+1} = \varphi(\mathrm{conv}_{3\times3}^{s=2}(h_l)),\quad
        E_\theta(x) = w^\top \mathrm{vec}(h_L) + c,

    with ``SAME`` padding (8×8 → 8×8 → 4×4 → 2×2 for three layers), biases on every layer and
    :math:`\varphi` = ``activation``.  Weights start from LeCun-normal draws (variance 1/fan-in),
    biases at 0.

    Parameters
    ----------
    channels : sequence of int
        Output channels of the convolutions (first one at stride 1, the others at stride 2).
    activation : {'swish', 'softplus'}
        A smooth activation, so that the Langevin drift ∇_x E is continuous.
    side : int
        Image side in pixels.
    dtype : numpy.float32 or numpy.float64
    """
    if isinstance(channels, (str, bytes)) or not np.iterable(channels):
        raise ValueError(f"channels={channels!r} must be a sequence of output channels, one per "
                         f"convolution, e.g. ({channels!r},) for one layer or (16, 32, 32).")
    channels = tuple(check_count(c, "channels") for c in channels)
    if not channels:
        raise ValueError("channels must list at least one convolution, e.g. (16, 32, 32).")
    act = ACTIVATIONS[check_choice(activation, tuple(ACTIVATIONS), "activation")]
    side = check_count(side, "side", minimum=2)
    dtype = _dtype(dtype)
    strides = (1,) + (2,) * (len(channels) - 1)
    out_side = side
    for s in strides[1:]:
        out_side = -(-out_side // s)
    n_features = out_side * out_side * channels[-1]

    def init(key):
        keys = jax.random.split(key, len(channels) + 1)
        params, c_in = {}, 1
        for i, (c, k) in enumerate(zip(channels, keys)):
            scale = float(1.0 / np.sqrt(9 * c_in))
            params[f"conv{i}"] = scale * jax.random.normal(k, (3, 3, c_in, c), dtype=dtype)
            params[f"bias{i}"] = jnp.zeros((c,), dtype=dtype)
            c_in = c
        params["head"] = jax.random.normal(keys[-1], (n_features,), dtype=dtype) / float(np.sqrt(n_features))
        params["offset"] = jnp.zeros((), dtype=dtype)
        return params

    def apply(params, x):
        h = x.reshape(x.shape[0], side, side, 1)
        for i, s in enumerate(strides):
            h = act(conv3x3(h, params[f"conv{i}"], s) + params[f"bias{i}"])
        return h.reshape(x.shape[0], -1) @ params["head"] + params["offset"]

    config = dict(name="convnet", channels=list(channels), activation=activation, side=side,
                  dtype=dtype.name)
    return Energy("convnet", side * side, dtype, config, init, apply)


def conv3x3(h, w, stride):
    r"""3×3 convolution with ``SAME`` padding as 9 shifted slices and one matrix product.

    .. math:: y_{n,i,j,c} = \sum_{a,b<3}\sum_{c'} h^{\rm pad}_{n,\,si+a,\,sj+b,\,c'}\,w_{a,b,c',c}

    (``h``: NHWC, ``w``: HWIO), the cross-correlation of ``jax.lax.conv_general_dilated`` with
    padding ``SAME``; for 8×8 images it runs several times faster on the CPU than XLA's
    convolution.
    """
    side = h.shape[1]
    out = -(-side // stride)
    pad = max((out - 1) * stride + 3 - side, 0)
    lo = pad // 2
    hp = jnp.pad(h, ((0, 0), (lo, pad - lo), (lo, pad - lo), (0, 0)))
    span = (out - 1) * stride + 1
    patches = jnp.concatenate([hp[:, a:a + span:stride, b:b + span:stride, :]
                               for a in range(3) for b in range(3)], axis=-1)
    return patches @ w.reshape(-1, w.shape[-1])


def quadratic(dim, dtype=np.float64, a0=1.0):
    r"""The quadratic energy ("linear network") :math:`E(x) = \tfrac12 x^\top A x - b^\top x`.

    Parameters ``{'W': (d, d), 'b': (d,)}`` with :math:`A = (W + W^\top)/2`, so gradient steps on
    W move A within the symmetric matrices; ``init`` returns ``W = a0·I``, ``b = 0`` (the key is
    ignored; ``a0`` must be a finite number).  Langevin on it is the Gaussian chain of (Ga).
    """
    dim = check_count(dim, "dim")
    dtype = _dtype(dtype)
    a0 = check_finite(a0, "a0", "pass a finite number (init returns W = a0 I; a0 = 1: the "
                                "standard Gaussian).")
    if a0.ndim:
        raise ValueError(f"a0 must be a single number (init returns W = a0 I); got an array of "
                         f"shape {a0.shape}.")
    a0 = float(a0)

    def init(key=None):
        return {"W": a0 * jnp.eye(dim, dtype=dtype), "b": jnp.zeros((dim,), dtype=dtype)}

    def apply(params, x):
        A = 0.5 * (params["W"] + params["W"].T)
        return 0.5 * jnp.einsum("ni,ij,nj->n", x, A, x) - x @ params["b"]

    config = dict(name="quadratic", dim=dim, dtype=dtype.name, a0=a0)
    return Energy("quadratic", dim, dtype, config, init, apply)


def matrix(params):
    """The symmetric matrix A = (W + Wᵀ)/2 and field b of quadratic-energy parameters (numpy)."""
    W = np.asarray(params["W"])
    return 0.5 * (W + W.T), np.asarray(params["b"])


def check_params(energy, params, name="params"):
    """``params`` checked against the layout of ``energy.init`` and cast to ``energy.dtype``.

    The same pytree structure (for a dict: the same keys) and the same shape for every leaf as
    ``energy.init`` returns, and every entry a finite real number; otherwise a ``ValueError``
    naming ``name`` (and the offending key) and the expected layout.  Parameters that already
    have the energy's dtype are returned unchanged (bit for bit).
    """
    layout = _LAYOUTS.get(energy.init)
    if layout is None:
        layout = _LAYOUTS[energy.init] = jax.eval_shape(energy.init, jax.random.key(0))
    want = jax.tree_util.tree_flatten_with_path(layout)[0]
    expected = ", ".join(f"{jax.tree_util.keystr(p)}: {tuple(a.shape)}" for p, a in want)
    try:
        got, tree = jax.tree_util.tree_flatten(params)
    except Exception:  # pragma: no cover - objects jax cannot flatten
        got, tree = None, None
    if tree != jax.tree_util.tree_structure(layout):
        if isinstance(params, dict) and isinstance(layout, dict):
            missing = sorted(set(layout) - set(params), key=str)
            extra = sorted(set(params) - set(layout), key=str)
            what = "; ".join(([f"missing {missing}"] if missing else [])
                             + ([f"unknown {extra}"] if extra else [])) or "nested differently"
            raise ValueError(f"{name} does not fit the {energy.name} energy ({what}); pass the "
                             f"layout of energy.init: {{{expected}}}.")
        raise ValueError(f"{name} is a {type(params).__name__}, not the parameter layout of the "
                         f"{energy.name} energy; pass what energy.init returns: {{{expected}}}.")
    leaves = []
    for (path, like), leaf in zip(want, got):
        where = f"{name}{jax.tree_util.keystr(path)}"
        arr = check_real(leaf, where)
        if arr.shape != tuple(like.shape):
            raise ValueError(f"{where} has shape {arr.shape}; the {energy.name} energy needs "
                             f"{tuple(like.shape)} (the layout of energy.init: {{{expected}}}).")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{where} contains NaN or inf; pass finite parameters (e.g. "
                             f"energy.init(key), or the params of a run that did not diverge).")
        leaves.append(jnp.asarray(leaf, dtype=energy.dtype))
    return jax.tree_util.tree_unflatten(tree, leaves)


def grad_x(energy):
    r"""Jitted :math:`(\theta, x) \mapsto \nabla_x E_\theta(x)`, row by row (shape of ``x``)."""
    return jax.jit(jax.grad(lambda params, x: jnp.sum(energy.apply(params, x)), argnums=1))


def jit_apply(energy):
    """Jitted ``(params, x) -> E`` (one energy per row)."""
    return jax.jit(energy.apply)


def grad_theta(energy):
    r"""Jitted :math:`(\theta, x) \mapsto \frac1n\sum_i \nabla_\theta E_\theta(x_i)` (a params pytree)."""
    return jax.jit(jax.grad(lambda params, x: jnp.mean(energy.apply(params, x))))
