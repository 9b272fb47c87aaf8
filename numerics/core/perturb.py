r"""Perturbed mode: every Newton start and every input law moved by a few ulps.

A result that holds only for the exact bits one machine's library stack produces is not a
result.  With the environment variable ``SHORTRUN_PERTURB`` set to a relative amplitude ε
(e.g. ``SHORTRUN_PERTURB=1e-14``) the library multiplies

* every input law -- the data law :math:`p_{\rm data}` (hence the data statistics) and the start
  :math:`p_0` of the negative chains, as :func:`shortrun.numerics.training.problem` builds them
  for the trainers and the fixed-point solver, and the exact twin of a Monte Carlo run
  (``result.problem``) -- by :math:`1 + \varepsilon u_x` and renormalises,
* every Newton start θ₀ of :mod:`shortrun.numerics.training.fixed_point` by
  :math:`1 + \varepsilon u_a` entrywise,

with :math:`u` uniform on [-1, 1].  Zeros stay zero (so an exactly symmetric input keeps its
exact zeros, and the support of a law is kept), and :math:`u` is a pure function of
``SHORTRUN_PERTURB_SEED`` (default 0), of what is perturbed (``what``) and of the input's bytes:
the same call gets the same perturbation, so a run stays reproducible and a checkpoint still
matches its run.  Different seeds emulate different machines.  Unset (or 0), nothing changes,
bit for bit.

The environment is read here and only here (:func:`amplitude`); the test suite run in this mode
(``SHORTRUN_PERTURB=1e-14 pytest ...``) shows that no exact test depends on the last bits.
"""
from __future__ import annotations

import os
import zlib

import numpy as np

__all__ = ["ENV", "SEED_ENV", "MAX_AMPLITUDE", "amplitude", "seed", "vector", "law"]

#: Relative amplitude of the perturbation (a float >= 0; unset or 0: off).
ENV = "SHORTRUN_PERTURB"
#: Integer seed of the perturbation (default 0): one seed emulates one machine.
SEED_ENV = "SHORTRUN_PERTURB_SEED"
#: Largest amplitude accepted: the mode is about rounding, not about modelling error.
MAX_AMPLITUDE = 1e-6


def amplitude():
    """The relative amplitude ε from ``SHORTRUN_PERTURB`` (0.0 when unset or empty)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return 0.0
    try:
        eps = float(raw)
    except ValueError:
        eps = np.nan
    if not 0.0 <= eps <= MAX_AMPLITUDE:
        raise ValueError(f"{ENV}={raw!r} must be a relative amplitude in [0, {MAX_AMPLITUDE:g}] "
                         f"(e.g. {ENV}=1e-14), or unset for no perturbation.")
    return eps


def seed():
    """The integer seed from ``SHORTRUN_PERTURB_SEED`` (0 when unset)."""
    raw = os.environ.get(SEED_ENV, "").strip()
    try:
        value = int(raw) if raw else 0
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{SEED_ENV}={raw!r} must be a non-negative integer (e.g. "
                         f"{SEED_ENV}=3), or unset for seed 0.")
    return value


def _uniforms(x, what):
    words = [seed(), zlib.crc32(what.encode()), zlib.crc32(np.ascontiguousarray(x).tobytes())]
    return np.random.default_rng(words).uniform(-1.0, 1.0, x.shape)


def vector(x, what):
    r"""``x * (1 + ε u)`` entrywise (a new float array), or ``x`` itself when the mode is off."""
    eps = amplitude()
    if eps == 0.0:
        return x
    x = np.asarray(x, float)
    return x * (1.0 + eps * _uniforms(x, what))


def law(p, what):
    r"""The law ``p * (1 + ε u)`` renormalised to sum 1 (a new array), or ``p`` itself when the
    mode is off.  Non-negative entries stay non-negative, zeros stay zero."""
    eps = amplitude()
    if eps == 0.0:
        return p
    q = vector(p, what)
    return q / q.sum()
