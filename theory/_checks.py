"""Input checks shared by the theory modules: each raises ``ValueError`` naming the argument and the fix."""
from __future__ import annotations

import numbers

import numpy as np


def finite_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array; reject NaN/inf."""
    arr = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {x!r}. Replace NaN/inf entries.")
    return arr


def positive(x, name: str) -> float:
    """A finite scalar > 0."""
    val = float(finite_array(x, name))
    if not val > 0:
        raise ValueError(f"{name} must be > 0; got {x!r}. Pass a positive number.")
    return val


def nonnegative(x, name: str) -> float:
    """A finite scalar >= 0."""
    val = float(finite_array(x, name))
    if not val >= 0:
        raise ValueError(f"{name} must be >= 0; got {x!r}. Pass a non-negative number.")
    return val


def count(k, name: str = "k", minimum: int = 0) -> int:
    """An integer >= ``minimum`` (numbers of steps, sweeps, spins)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {k!r}.")
    return int(k)


def symmetric_matrix(A, name: str) -> np.ndarray:
    """A finite, square, symmetric 2-D float array (a scalar is read as a 1x1 matrix)."""
    arr = finite_array(A, name)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square 2-D array; got shape {arr.shape}.")
    scale = max(1.0, float(np.max(np.abs(arr)))) if arr.size else 1.0
    if not np.allclose(arr, arr.T, rtol=0.0, atol=1e-12 * scale):
        raise ValueError(f"{name} must be symmetric; symmetrise it first, e.g. ({name} + {name}.T)/2.")
    return (arr + arr.T) / 2


def spd_matrix(C, name: str) -> np.ndarray:
    """A symmetric positive-definite matrix (checked by a Cholesky factorisation)."""
    arr = symmetric_matrix(C, name)
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be symmetric positive definite; its smallest eigenvalue is "
                         f"{np.linalg.eigvalsh(arr)[0]:.3g}. Regularise it, e.g. {name} + eps*I.") from None
    return arr


def vector(x, d: int, name: str) -> np.ndarray:
    """A length-``d`` float vector; a scalar is broadcast to ``d`` entries."""
    arr = finite_array(x, name)
    if arr.ndim == 0:
        return np.full(d, float(arr))
    if arr.shape != (d,):
        raise ValueError(f"{name} must be a scalar or have shape ({d},); got shape {arr.shape}.")
    return arr


def matrix(x, d: int, name: str) -> np.ndarray:
    """A symmetric ``d x d`` matrix; a scalar ``s`` means ``s * I``."""
    arr = finite_array(x, name)
    if arr.ndim == 0:
        return float(arr) * np.eye(d)
    arr = symmetric_matrix(arr, name)
    if arr.shape != (d, d):
        raise ValueError(f"{name} must be a scalar or have shape ({d}, {d}); got shape {arr.shape}.")
    return arr
