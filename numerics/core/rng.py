"""Counter-based random numbers for the numba Monte Carlo (seed-determined, thread-independent).

Every random number is a pure function of its *address* ``(seed, chain, sweep, draw)``:

.. math::

    \\kappa_c = \\mathrm{mix}(\\mathrm{mix}(\\mathrm{seed}) \\oplus (c + 1)\\,\\gamma'),\\qquad
    \\kappa_{c,t} = \\mathrm{mix}(\\kappa_c \\oplus (t + 1)\\,\\gamma''),\\qquad
    r_{c,t,j} = \\mathrm{mix}(\\kappa_{c,t} + (j + 1)\\,\\gamma),

with ``mix`` the splitmix64 finaliser (a bijection of 64-bit words with full avalanche) and
γ = 0x9E3779B97F4A7C15 the golden-ratio increment (γ', γ'' other odd constants).  Within one
sweep the draws j = 0, 1, … are the splitmix64 stream started at κ_{c,t}, so two draws of the same
sweep never coincide; different chains and sweeps get independent, re-hashed keys.  Because no
generator *state* is carried, the numbers a chain sees do not depend on how chains are scheduled
on threads, nor on draws that another branch skipped: results are bit-identical for a seed
whatever ``numba.set_num_threads`` says.

A uniform is the top 53 bits of a word times 2^-53 (exact double in [0, 1)); a normal pair is
Box–Muller on two uniforms.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from shortrun.conventions import check_count, check_seed

__all__ = ["mix64", "chain_key", "sweep_key", "draw", "uniform", "normal_pair", "uniforms"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_CHAIN_ODD = np.uint64(0xD1B54A32D192ED03)
_SWEEP_ODD = np.uint64(0xAEF17502108EF2D9)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2^-53


@njit(cache=True, inline="always")
def mix64(x):
    """splitmix64 finaliser: a bijective avalanche hash of a 64-bit word.

    .. math:: z \\leftarrow (z \\oplus z\\gg30)\\,m_1;\\; z \\leftarrow (z \\oplus z\\gg27)\\,m_2;\\;
              z \\leftarrow z \\oplus z\\gg31 .
    """
    z = np.uint64(x)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def chain_key(seed, chain):
    """Key κ_c of chain ``chain`` under ``seed`` (both non-negative integers)."""
    return mix64(mix64(np.uint64(seed)) ^ ((np.uint64(chain) + _ONE) * _CHAIN_ODD))


@njit(cache=True, inline="always")
def sweep_key(key, sweep):
    """Key κ_{c,t} of sweep ``sweep`` (≥ 0) of the chain whose key is ``key``."""
    return mix64(key ^ ((np.uint64(sweep) + _ONE) * _SWEEP_ODD))


@njit(cache=True, inline="always")
def draw(skey, j):
    """The j-th 64-bit word (j ≥ 0) of the stream with sweep key ``skey``."""
    return mix64(skey + (np.uint64(j) + _ONE) * _GOLDEN)


@njit(cache=True, inline="always")
def uniform(skey, j):
    """The j-th uniform of the stream: a 53-bit double in [0, 1), u = ⌊r / 2^11⌋ · 2^-53."""
    return np.float64(draw(skey, j) >> _S11) * _TWO_M53


@njit(cache=True, inline="always")
def normal_pair(skey, j):
    """Two independent N(0, 1) from uniforms j and j+1 (Box–Muller).

    .. math:: z_{1,2} = \\sqrt{-2\\ln(1-u_1)}\\,(\\cos 2\\pi u_2,\\ \\sin 2\\pi u_2).
    """
    radius = np.sqrt(-2.0 * np.log1p(-uniform(skey, j)))
    angle = 2.0 * np.pi * uniform(skey, j + 1)
    return radius * np.cos(angle), radius * np.sin(angle)


def uniforms(seed, chain, sweep, n):
    """The first ``n`` uniforms of address (seed, chain, sweep), for tests and inspection
    (``seed`` in [0, 2^64), ``chain`` and ``sweep`` integers >= 0, checked here: the compiled
    hash would wrap a negative or float address onto another stream silently)."""
    return _uniforms(np.uint64(check_seed(seed)), np.uint64(check_count(chain, "chain", 0)),
                     np.uint64(check_count(sweep, "sweep", 0)), check_count(n, "n", 0))


@njit(cache=True)
def _uniforms(seed, chain, sweep, n):
    skey = sweep_key(chain_key(seed, chain), sweep)
    out = np.empty(n)
    for j in range(n):
        out[j] = uniform(skey, j)
    return out
