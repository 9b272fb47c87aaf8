"""The project's conventions in one place: the names of rules, scans and protocols, and the input
validators shared by every module (numerics and theory alike).

Every validator raises a ``ValueError`` whose message starts with the argument's name and says
how to fix the input; the same kind of mistake is worded the same way everywhere.  Nothing is
converted silently: complex numbers, text and ragged lists are refused rather than cast, NaN and
inf are refused where a finite number is needed, and a misspelt name gets a suggestion
(``rule='heat-bath'`` -> did you mean ``'heatbath'``?).
"""
from __future__ import annotations

import difflib
import numbers

import numpy as np

#: Tolerance on Σ p0 − 1 (and on negative entries) accepted for a probability vector.
PROB_ATOL = 1e-9

#: Single-site update rules (U1).
RULES = ("heatbath", "metropolis")
#: Orders of the site updates within a sweep (U2).
SCANS = ("random", "sequential", "parallel", "continuous")
#: Where the negative phase starts: fixed p0, the data, persistent chains, equilibrium p_θ, or a
#: replay buffer of earlier chains' end states.
PROTOCOLS = ("rdm", "cd", "pcd", "eq", "buffer")
#: The protocols that run chains, hence the ones of Monte Carlo training ('eq' needs p_theta
#: itself, i.e. the exact route).
SAMPLED_PROTOCOLS = ("rdm", "cd", "pcd")
#: The protocols of the Monte Carlo trainer of the state-space models: the sampled ones and the
#: replay buffer ('buffer', whose chains start from a buffer of earlier end states).
MONTE_CARLO_PROTOCOLS = SAMPLED_PROTOCOLS + ("buffer",)
#: The protocols of the neural (ConvNet) trainer: the sampled ones and the replay buffer.  The
#: figures and ``verify`` that compare Rdm/CD/PCD keep :data:`SAMPLED_PROTOCOLS`.
NEURAL_PROTOCOLS = SAMPLED_PROTOCOLS + ("buffer",)
_MAX_STEPS = np.iinfo(np.int64).max


# --- names ----------------------------------------------------------------------------------
def _normalise(name):
    return "".join(c for c in name.lower() if c not in "-_ ")


def nearest_choice(value, choices):
    """The valid name closest to ``value`` (ignoring case, '-', '_' and spaces), or ``None``."""
    if not isinstance(value, str):
        return None
    names = {_normalise(c): c for c in choices if isinstance(c, str)}
    key = _normalise(value)
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
    return names[close[0]] if close else None


def check_choice(value, choices, name, note=""):
    """Return ``value`` if it is one of ``choices``; otherwise raise a ValueError that names
    ``name``, suggests the nearest valid name and lists the valid ones (``note`` is appended)."""
    if isinstance(value, (bool, np.bool_)) or (
            not isinstance(value, str) and all(isinstance(c, str) for c in choices)):
        known = False
    else:
        try:
            known = bool(value in choices)
        except (TypeError, ValueError):  # arrays and other objects without a plain ==
            known = False
    if known:
        return value
    best = nearest_choice(value, choices)
    valid = ", ".join(map(repr, choices))
    advice = f"did you mean {best!r}? Use one of {valid}." if best is not None else f"use one of {valid}."
    tail = f" {note}" if note else ""
    raise ValueError(f"{name}={value!r} is not known; {advice}{tail}")


# --- numbers --------------------------------------------------------------------------------
def check_real(x, name):
    """``x`` as a float64 array, refusing what cannot be a real number without loss.

    Complex input is refused even when the imaginary part is zero (pass ``x.real`` explicitly):
    the imaginary part is never dropped silently.  Text, ragged nested lists and objects that are
    not numbers are refused too.  NaN/inf pass (see :func:`check_finite`).
    """
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name}={x!r} is text; pass a real number or an array of real numbers.")
    if x is None:
        raise ValueError(f"{name} is None; pass a real number or an array of real numbers.")
    if isinstance(x, (bool, np.bool_)):
        raise ValueError(f"{name}={x!r} is a boolean; pass a real number or an array of real numbers.")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested sequences
        raise ValueError(f"{name} is not a rectangular array of numbers ({exc}); pass a real "
                         "number or an array of real numbers.") from None
    if np.iscomplexobj(arr) or any(isinstance(v, complex) for v in arr.ravel()[:64]
                                   if arr.dtype.kind == "O"):
        raise ValueError(f"{name} has complex entries; pass real numbers (use {name}.real if the "
                         "imaginary part is meant to be zero: it is never dropped silently).")
    if arr.dtype.kind in "biuf":
        try:
            return np.asarray(arr, dtype=np.float64)
        except OverflowError:  # pragma: no cover - float128 beyond float64 range gives inf
            raise ValueError(f"{name} has entries beyond the float64 range; rescale them.") from None
    if arr.dtype.kind == "O" and not any(v is None for v in arr.ravel()):
        try:
            return arr.astype(np.float64)
        except OverflowError:
            raise ValueError(f"{name} has entries beyond the float64 range (about 1.8e308); "
                             "rescale them.") from None
        except (TypeError, ValueError):
            pass
    raise ValueError(f"{name} holds {arr.dtype} entries, not real numbers; pass a real number or "
                     "an array of real numbers.")


def check_finite(a, name, fix="pass finite parameters (a diverging training run shows up here: "
                              "lower the learning rate)."):
    """``a`` as a real float64 array (:func:`check_real`) with no NaN or inf."""
    a = check_real(a, name)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf; {fix}")
    return a


def _real_scalar(x, name, what):
    """A single real number (bools, arrays of size > 1, complex and text refused) as a float."""
    if isinstance(x, (bool, np.bool_)):
        raise ValueError(f"{name}={x!r} must be {what}, not a boolean.")
    if not isinstance(x, numbers.Real):
        arr = check_real(x, name)
        if arr.ndim != 0:
            raise ValueError(f"{name} must be a single number ({what}); got an array of shape "
                             f"{arr.shape}.")
        x = arr[()]
    try:
        return float(x)
    except OverflowError:
        return float(np.sign(x)) * np.inf


def check_positive(x, name, fix="pass a positive number."):
    """A finite number > 0 (not a bool); ValueError naming ``name`` and the ``fix`` otherwise."""
    val = _real_scalar(x, name, "a finite positive number")
    if not np.isfinite(val) or val <= 0:
        raise ValueError(f"{name}={x!r} must be a finite positive number; {fix}")
    return val


def check_nonnegative(x, name, fix="pass a number >= 0."):
    """A finite number >= 0 (not a bool); ValueError naming ``name`` and the ``fix`` otherwise."""
    val = _real_scalar(x, name, "a finite number >= 0")
    if not np.isfinite(val) or val < 0:
        raise ValueError(f"{name}={x!r} must be a finite number >= 0; {fix}")
    return val


def check_steps(k, name="k", integer=True):
    """Number of steps/time: a finite number >= 0, an integer when ``integer``."""
    if isinstance(k, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number of steps, got the boolean {k!r}.")
    if integer:
        if isinstance(k, numbers.Integral):
            k = int(k)
        elif isinstance(k, numbers.Real) and np.isfinite(k) and float(k).is_integer():
            k = int(k)
        else:
            raise ValueError(f"{name}={k!r} must be a non-negative integer number of steps "
                             "(discrete chains; use scan='continuous' for real times).")
    else:
        try:
            value = float(k) if isinstance(k, numbers.Real) and not isinstance(k, bool) else np.nan
        except OverflowError:  # an integer beyond float64
            value = np.inf
        if not np.isfinite(value):
            raise ValueError(f"{name}={k!r} must be a finite, non-negative real time.")
        k = value
    if k < 0:
        raise ValueError(f"{name}={k!r} is negative; chains run forward only: pass {name} >= 0.")
    if integer and k > _MAX_STEPS:
        raise ValueError(f"{name}={k!r} is beyond the int64 range of step counters; pass "
                         f"{name} <= 2**63 - 1.")
    return k


def check_count(x, name, minimum=1):
    """An integer >= ``minimum`` (not a bool); ValueError naming ``name`` otherwise."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral) or x < minimum:
        raise ValueError(f"{name}={x!r} must be an integer >= {minimum}.")
    return int(x)


def check_bool(x, name, none=False):
    """A flag: True or False (numpy bools too; None as well when ``none``).  Anything else is
    refused rather than read by its truth value ('yes', 'no' and 0.5 would all be True)."""
    if (x is None and none) or isinstance(x, (bool, np.bool_)):
        return None if x is None else bool(x)
    raise ValueError(f"{name}={x!r} must be True or False{' or None' if none else ''}.")


def check_site(i, N, name="i"):
    """A site index, an integer in 0..N−1 (a bool, a float or an index outside the range is
    refused: the numba loops and index arithmetic would update garbage)."""
    if isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral) or not 0 <= i < N:
        raise ValueError(f"{name}={i!r} must be a site index, an integer in 0..{N - 1}.")
    return int(i)


def check_seed(seed):
    """A seed is an integer in [0, 2^64)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) \
            or not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed={seed!r} must be an integer in [0, 2^64); pass e.g. seed=0.")
    return int(seed)


def check_distribution(p, n_states, name="p0", atol=PROB_ATOL):
    """A probability vector of length ``n_states`` (entries >= -atol, |Σp − 1| <= atol).

    ``'uniform'`` is accepted and expanded.  Tiny negative round-off is clipped; the vector is
    returned as a new float64 array (never a view of the caller's data).
    """
    if isinstance(p, str):
        if p == "uniform":
            return np.full(n_states, 1.0 / n_states)
        raise ValueError(f"{name}={p!r} is not known; pass 'uniform' or a probability vector.")
    p = np.array(check_real(p, name), dtype=float)
    if p.shape != (n_states,):
        binary = n_states >= 2 and n_states & (n_states - 1) == 0
        over = (f"2^N = {n_states} (bit i of the index is 1 <=> s_i = +1)" if binary else
                f"n_states = {n_states} (the model's states, index x = sum_i sigma_i prod_{{j<i}} q_j)")
        raise ValueError(f"{name} has shape {p.shape}; it must be a probability vector of length "
                         f"{over}.")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or inf; pass a probability vector.")
    if p.min() < -atol:
        raise ValueError(f"{name} has a negative entry ({p.min():.3g}); a probability vector "
                         "has entries >= 0.")
    s = p.sum()
    if abs(s - 1.0) > atol:
        raise ValueError(f"{name} sums to {float(s)!r}, not 1 (tolerance {atol:g}); normalise it: "
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


# --- arrays of the closed forms (theory/) and of the Gaussian sampler ------------------------
def finite_array(x, name: str) -> np.ndarray:
    """``x`` as a real float64 array without NaN/inf (:func:`check_finite`)."""
    return check_finite(x, name, fix="replace the NaN/inf entries by finite numbers.")


def positive(x, name: str) -> float:
    """Same as :func:`check_positive` (same message)."""
    return check_positive(x, name)


def nonnegative(x, name: str) -> float:
    """Same as :func:`check_nonnegative` (same message)."""
    return check_nonnegative(x, name)


def count(k, name: str = "k", minimum: int = 0) -> int:
    """Same as :func:`check_count` with a default name ``'k'`` and minimum 0."""
    return check_count(k, name, minimum)


def check_broadcast(x, y, names):
    """``np.broadcast_arrays(x, y)``; a ValueError naming both arguments if the shapes clash."""
    try:
        return np.broadcast_arrays(x, y)
    except ValueError:
        raise ValueError(f"{names[0]} (shape {np.shape(x)}) and {names[1]} (shape {np.shape(y)}) do "
                         "not broadcast together; pass arrays of equal shape or a scalar.") from None


def symmetric_matrix(A, name: str) -> np.ndarray:
    """A finite, square, symmetric, non-empty 2-D float array (a scalar is read as 1x1)."""
    arr = finite_array(A, name)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square 2-D array; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least a 1x1 matrix.")
    scale = max(1.0, float(np.max(np.abs(arr))))
    if not np.allclose(arr, arr.T, rtol=0.0, atol=1e-12 * scale):
        raise ValueError(f"{name} must be symmetric; symmetrise it first, e.g. ({name} + {name}.T)/2.")
    return 0.5 * arr + 0.5 * arr.T  # never overflows


def _eigenvalues(arr, name):
    scale = float(np.max(np.abs(arr)))
    if not np.isfinite(scale * scale * len(arr)):  # eigh squares the entries internally
        raise ValueError(f"{name} has entries too large to diagonalise in float64 (max |entry| = "
                         f"{scale:.3g}); rescale it.")
    return np.linalg.eigvalsh(arr)


def spd_matrix(C, name: str) -> np.ndarray:
    """A symmetric positive-definite matrix (checked by a Cholesky factorisation)."""
    arr = symmetric_matrix(C, name)
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be symmetric positive definite; its smallest eigenvalue is "
                         f"{_eigenvalues(arr, name)[0]:.3g}. Regularise it, e.g. {name} + eps*I.") from None
    return arr


def psd_matrix(C, name: str, rtol: float = 1e-10) -> np.ndarray:
    """A symmetric positive semi-definite matrix (eigenvalues >= -rtol * max(1, largest))."""
    arr = symmetric_matrix(C, name)
    w = _eigenvalues(arr, name)
    if w[0] < -rtol * max(1.0, w[-1]):
        raise ValueError(f"{name} has a negative eigenvalue ({w[0]:.3g}); a covariance is "
                         f"positive semi-definite. Pass a covariance, e.g. X @ X.T.")
    return arr


def _sized_like(like):
    return f" (the size of {like})" if like else ""


def vector(x, d: int, name: str, like: str | None = None) -> np.ndarray:
    """A length-``d`` float vector; a scalar is broadcast to ``d`` entries.  ``like`` names the
    argument that fixes ``d`` (said in the error)."""
    arr = finite_array(x, name)
    if arr.ndim == 0:
        return np.full(d, float(arr))
    if arr.shape != (d,):
        raise ValueError(f"{name} must be a scalar or have shape ({d},){_sized_like(like)}; got shape "
                         f"{arr.shape}.")
    return arr


def matrix(x, d: int, name: str, like: str | None = None) -> np.ndarray:
    """A symmetric ``d x d`` matrix; a scalar ``s`` means ``s * I``."""
    arr = finite_array(x, name)
    if arr.ndim == 0:
        return float(arr) * np.eye(d)
    arr = symmetric_matrix(arr, name)
    if arr.shape != (d, d):
        raise ValueError(f"{name} must be a scalar or have shape ({d}, {d}){_sized_like(like)}; got "
                         f"shape {arr.shape}.")
    return arr


def covariance(x, d: int, name: str, like: str | None = None) -> np.ndarray:
    """A ``d x d`` covariance: a scalar ``s >= 0`` means ``s * I``; a matrix must be symmetric
    positive semi-definite (singular allowed: a point mass in some directions)."""
    arr = finite_array(x, name)
    if arr.ndim == 0:
        return check_nonnegative(float(arr), name, "a variance is >= 0.") * np.eye(d)
    arr = matrix(arr, d, name, like)
    return psd_matrix(arr, name)


def check_ula_step(eigenvalues, eta, name="eta"):
    """The unadjusted Langevin step is stable: ``eta * a < 2`` for every eigenvalue ``a`` of A.

    Along an eigenvector with ``eta * a >= 2`` one step multiplies the deviation by
    ``1 - eta * a <= -1``: the discretised chain overshoots and its moments grow without bound,
    although the continuous dynamics relaxes there.  (Negative eigenvalues, a concave energy, are
    a property of the model, not of the step, and are allowed.)
    """
    a = np.asarray(eigenvalues, dtype=float)
    if a.size and eta * float(np.max(a)) >= 2:
        top = float(np.max(a))
        raise ValueError(f"{name}={eta!r} is an unstable Langevin step: {name} * a = {eta * top:.6g} "
                         f">= 2 for the largest eigenvalue a = {top:.6g} of A, so the chain "
                         f"overshoots and its moments blow up. Use {name} < 2/a = {2 / top:.6g}.")
    return eta
