"""The project's conventions in one place: the names of rules, scans and protocols, and the input
validators shared by every module: each raises a ``ValueError`` that names the
argument and says how to fix it."""
from __future__ import annotations

import numbers

import numpy as np

#: Tolerance on Σ p0 − 1 (and on negative entries) accepted for a probability vector.
PROB_ATOL = 1e-9

RULES = ("heatbath", "metropolis")
SCANS = ("random", "sequential", "parallel", "continuous")


def check_choice(value, choices, name):
    """Return ``value`` if it is one of ``choices``; otherwise raise a ValueError."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not known; use one of {', '.join(map(repr, choices))}.")
    return value


def check_steps(k, name="k", integer=True):
    """Number of steps/time: a finite number >= 0, an integer when ``integer``."""
    if isinstance(k, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number of steps, got the boolean {k!r}.")
    if integer:
        if isinstance(k, numbers.Integral):
            k = int(k)
        elif isinstance(k, numbers.Real) and float(k).is_integer():
            k = int(k)
        else:
            raise ValueError(f"{name}={k!r} must be a non-negative integer number of steps "
                             "(discrete chains; use scan='continuous' for real times).")
    else:
        if not isinstance(k, numbers.Real) or not np.isfinite(k):
            raise ValueError(f"{name}={k!r} must be a finite, non-negative real time.")
        k = float(k)
    if k < 0:
        raise ValueError(f"{name}={k!r} is negative; chains run forward only: pass {name} >= 0.")
    return k


def check_positive(x, name, fix):
    """A finite number > 0 (not a bool); ValueError naming ``name`` and the ``fix`` otherwise."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real) or not np.isfinite(x) \
            or x <= 0:
        raise ValueError(f"{name}={x!r} must be a finite positive number; {fix}")
    return float(x)


def check_count(x, name, minimum=1):
    """An integer >= ``minimum`` (not a bool); ValueError naming ``name`` otherwise."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral) or x < minimum:
        raise ValueError(f"{name}={x!r} must be an integer >= {minimum}.")
    return int(x)


def check_finite(a, name):
    a = np.asarray(a, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf; pass finite parameters "
                         "(a diverging training run shows up here: lower the learning rate).")
    return a


def check_distribution(p, n_states, name="p0", atol=PROB_ATOL):
    """A probability vector of length ``n_states`` (entries >= -atol, |Σp − 1| <= atol).

    ``'uniform'`` is accepted and expanded.  Tiny negative round-off is clipped; the vector is
    returned as a new float64 array (never a view of the caller's data).
    """
    if isinstance(p, str):
        if p == "uniform":
            return np.full(n_states, 1.0 / n_states)
        raise ValueError(f"{name}={p!r} is not known; pass 'uniform' or a probability vector.")
    p = np.array(p, dtype=float)
    if p.shape != (n_states,):
        raise ValueError(f"{name} has shape {p.shape}; it must be a probability vector of length "
                         f"2^N = {n_states} (bit i of the index is 1 <=> s_i = +1).")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or inf; pass a probability vector.")
    if p.min() < -atol:
        raise ValueError(f"{name} has a negative entry ({p.min():.3g}); a probability vector "
                         "has entries >= 0.")
    s = p.sum()
    if abs(s - 1.0) > atol:
        raise ValueError(f"{name} sums to {s!r}, not 1 (tolerance {atol:g}); normalise it: "
                         f"{name} / {name}.sum().")
    np.clip(p, 0.0, None, out=p)
    return p


def memory_error(what, nbytes, alternative):
    """A ValueError saying how much memory ``what`` needs and what to use instead."""
    return ValueError(f"{what} would need {_fmt_bytes(nbytes)} of memory; {alternative}")


def _fmt_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.3g} {unit}"
        n /= 1024.0
    return f"{n:.3g} EiB"  # pragma: no cover


# --- validators of the closed forms (theory/) ---------------------------------------------
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
