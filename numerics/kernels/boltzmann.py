r"""Exact Markov kernels on the 2^N states of a Boltzmann machine.

All kernels are **column-stochastic**: :math:`U[x', x] = P(x \to x')`,
:math:`\sum_{x'} U[x', x] = 1`, and the chain's law after k steps is (G2)

.. math:: p(k, p_0) = U_\theta^k\, p_0 .

One step is one sweep of N single-site updates (``scan='random'``: sites drawn uniformly with
replacement, :math:`U = R^N` with :math:`R = \frac1N\sum_i T_i`; ``'sequential'``:
:math:`U = T_{N-1}\cdots T_0`), or one synchronous update of all spins (``'parallel'``).
``scan='continuous'`` is the continuous-time chain with generator :math:`W = \sum_i (T_i - I)`
(each spin flips at rate :math:`w_i`; time in sweeps), :math:`p(t) = e^{tW} p_0`; with
``rule='heatbath'`` it is Glauber dynamics.  Row-stochastic peers compare with ``U.T``.

A new chain (e.g. the RBM visible chain) is a new :class:`Kernel` subclass; the spectral and
training code use only this interface.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import poisson

from shortrun.numerics.kernels import site_updates as su
from shortrun.numerics.kernels.base import (Kernel, NotBoltzmannWarning, check_tail,
                                            check_uniformisation)
from shortrun.numerics.kernels.dense import DENSE_MAX_N, check_dense_size, dense_kernel
from shortrun.numerics.models.boltzmann import BoltzmannMachine
from shortrun.numerics.core.states import check_size
from shortrun.numerics.kernels.spectral import NonUniqueStationaryError
from shortrun.conventions import (RULES, SCANS, check_choice, check_count, check_distribution,
                                  check_steps, memory_error)

#: Largest N for the synchronous (parallel) update, whose cost is 2·4^N per step.
PARALLEL_MAX_N = 16


class BMKernel(Kernel):
    r"""Exact kernel of a single-spin-flip chain on a Boltzmann machine.

    Parameters
    ----------
    model : BoltzmannMachine
    rule : {'heatbath', 'metropolis'}
        Heat-bath: :math:`P(s_i=+1\mid\cdot) = (1+\tanh H_i)/2`; Metropolis: flip with
        probability :math:`\min(1, e^{-2 s_i H_i})`, :math:`H_i = h_i + \sum_j J_{ij}s_j`.
    scan : {'random', 'sequential', 'parallel', 'continuous'}
    low_bits, group : int, optional
        Tuning knobs of the matrix-free operator: the number of low index bits handled inside
        one cache block (default :data:`site_updates.LOW_BITS`) and of high sites per cache
        tile (default :data:`site_updates.GROUP`); results do not depend on them beyond
        round-off (tests use small values to exercise every code path at small N).
    warn : bool, optional
        Issue the :class:`NotBoltzmannWarning` for parallel heat-bath on a coupled BM (default);
        ``False`` for callers that build one kernel per update and warn once themselves.

    Notes
    -----
    Column-stochastic: ``U[x', x] = P(x -> x')``.  Parallel heat-bath on a coupled BM has the
    stationary law :math:`\pi(s) \propto e^{h\cdot s}\prod_i 2\cosh H_i(s)`, **not** the
    Boltzmann law (a :class:`NotBoltzmannWarning` is issued); it is reversible with respect to
    :math:`\pi`.  Random-scan and continuous-time chains are reversible with respect to
    :math:`p_\theta`; a sequential sweep is not.
    """

    def __init__(self, model, rule="heatbath", scan="random", low_bits=None, *, warn=True,
                 group=None):
        if not isinstance(model, BoltzmannMachine):
            raise ValueError("model must be a BoltzmannMachine(h, J); build one with "
                             "shortrun.numerics.models.BoltzmannMachine(h, J).")
        for name, value in (("low_bits", low_bits), ("group", group)):
            if value is not None:
                check_count(value, name)
        self.model = model
        self.rule = check_choice(rule, RULES, "rule")
        self.scan = check_choice(scan, SCANS, "scan")
        self.N = N = model.N
        self.n_states = 1 << N
        check_size(N, 8 * 4, f"the exact {scan}-scan kernel",
                   "use Monte Carlo (shortrun.numerics.sampling.sample) instead.")
        if scan == "parallel" and N > PARALLEL_MAX_N:
            raise ValueError(f"scan='parallel' costs 2*4^N = {2 * 4.0**N:.3g} operations per step at "
                             f"N={N} (limit N <= {PARALLEL_MAX_N}); use scan='sequential' or "
                             "'random', or Monte Carlo.")
        self.time = "continuous" if scan == "continuous" else "discrete"
        self.equilibrium_stationary = scan != "parallel"
        self.reversible = scan in ("random", "continuous") or (
            scan == "parallel" and rule == "heatbath")
        if warn and scan == "parallel" and rule == "heatbath" and np.any(model.J != 0):
            warnings.warn("parallel heat-bath on a coupled BM: the stationary law is "
                          "exp(h.s) prod_i 2cosh(H_i), not the Boltzmann law.",
                          NotBoltzmannWarning, stacklevel=2)
        self._rule = su.HEATBATH if rule == "heatbath" else su.METROPOLIS
        self._tables = (su.FieldTables(model.h, model.J, low_bits, group).args()
                        if scan != "parallel" else None)

    def __repr__(self):
        return f"BMKernel(N={self.N}, rule={self.rule!r}, scan={self.scan!r})"

    # -- single-site building blocks ------------------------------------------------------
    def _single_site(self, p, what):
        if self._tables is None:
            raise ValueError(f"{what} is an operator of the serial scans; this kernel updates "
                             "every spin at once (scan='parallel'): build the kernel with "
                             "scan='random' or 'sequential' for it.")
        return self._check_vector(p)

    def site_update(self, p, i):
        """:math:`T_i p` (new vector), site i in 0..N−1."""
        p = self._single_site(p, "site_update (T_i)")
        out = np.empty_like(p)
        su.site_update(p, out, 0.0, self.check_site(i), self._rule, self._tables)
        return out

    def random_update(self, p):
        r""":math:`R p = \frac1N \sum_i T_i p` (new vector)."""
        p = self._single_site(p, "random_update (R)")
        out = np.empty_like(p)
        su.random_update(p, out, self._rule, self._tables, self.N)
        return out

    def _random_updates(self, p, n, weights=None):
        r"""``R^n p`` (two work vectors, no allocation per update); with ``weights`` (length
        n + 1), :math:`\sum_m w_m R^m p` instead, each term added in the pass that makes it."""
        bufs = (np.empty_like(p), np.empty_like(p))
        res = None
        if weights is not None:
            res = weights[0] * p
        for m in range(n):
            out = bufs[m % 2]
            su.random_update(p, out, self._rule, self._tables, self.N, res,
                             0.0 if weights is None else weights[m + 1])
            p = out
        return p if res is None else res

    # -- the kernel interface ---------------------------------------------------------------
    def apply(self, p):
        r"""One step: :math:`U p` (discrete time).  Continuous-time kernels have no step: use
        :meth:`propagate` (the law at time t) or :meth:`generator` (:math:`W p`)."""
        if self.scan == "continuous":
            raise ValueError("a continuous-time kernel has no single step: use "
                             ".propagate(p0, t) for the law at time t, or .generator(p) for W p.")
        return self._step(self._check_vector(p))

    def generator(self, p):
        r""":math:`W p = N(R - I)p` of the continuous-time chain, :math:`W = \sum_i (T_i - I)`
        (U2): the time derivative of the law, a vector that sums to 0 (not a law)."""
        if self.scan != "continuous":
            raise ValueError(f"scan={self.scan!r} is a discrete-time kernel: use .apply(p) for U p.")
        p = self._check_vector(p)
        return self.N * (self.random_update(p) - p)

    def _check_vector(self, p):
        return self.check_vector(p, length=f"2^N = {self.n_states}")

    def _advance(self, p):
        return self._step(p)

    def _step(self, p):
        """One step U p of a vector already checked (:meth:`apply` checks it)."""
        if self.scan == "sequential":
            out = p.copy()
            su.sequential_sweep(out, self._rule, self._tables, self.N)
            return out
        if self.scan == "parallel":
            out = np.empty_like(p)
            su.parallel_update(p, out, self.model.h, self.model.J, self._rule)
            return out
        return self._random_updates(p, self.N)

    def propagate(self, p0, k):
        r"""Exact law after k steps, :math:`U^k p_0`; for ``scan='continuous'`` the law at time
        ``t = k`` sweeps, :math:`e^{tW}p_0`, by uniformisation:

        .. math:: e^{tW} = \sum_{n\ge0} \frac{e^{-Nt}(Nt)^n}{n!}\, R^n,\qquad R = I + W/N ,

        a sum of non-negative terms truncated where the Poisson tail is below 1e-17
        (:func:`uniformisation_weights`).  Each term is added in the pass of the fused operator
        that makes it.
        """
        if self.scan != "continuous":
            return super().propagate(p0, k)
        t = check_steps(k, "t", integer=False)
        p = self.check_p0(p0)
        lam = check_uniformisation(self.N * t, "t", t)
        if lam == 0:
            return p
        weights = uniformisation_weights(lam)
        return self._random_updates(p, len(weights) - 1, weights)

    def dense(self):
        """The dense matrix U (or the generator W for continuous time), built independently of
        the matrix-free operators (:mod:`shortrun.numerics.kernels.dense`)."""
        return dense_kernel(self.model, self.rule, self.scan)

    def stationary(self):
        r"""Stationary law: :math:`p_\theta` for random, sequential and continuous scans; for
        parallel heat-bath :math:`\pi(s)\propto e^{h\cdot s}\prod_i 2\cosh H_i(s)`; for parallel
        Metropolis the null vector of the dense :math:`U - I` (small N only).

        Raises
        ------
        NonUniqueStationaryError
            (a ValueError) Parallel Metropolis whose stationary law is not unique: a spin with
            :math:`s_i H_i \le 0` flips surely, so the synchronous chain can split into several
            closed classes of states (:func:`~shortrun.numerics.kernels.spectral.closed_classes`), e.g.
            h = 0, J = 0, where every step maps s to −s.
        """
        if self.scan == "parallel":
            if self.rule == "heatbath":
                return parallel_heatbath_stationary(self.model)
            from shortrun.numerics.kernels.spectral import stationary_from_dense
            try:
                return stationary_from_dense(self.dense())
            except NonUniqueStationaryError as err:
                raise NonUniqueStationaryError(
                    f"the stationary law of parallel Metropolis is not unique for this model: {err} "
                    "Each closed class has its own stationary law because every spin with "
                    "s_i H_i <= 0 flips surely (h = 0, J = 0 maps s to -s at every step).  Use "
                    "scan='random' or 'sequential', or move theta off this region.") from err
        return np.array(self.model.boltzmann())


def uniformisation_weights(lam, tail=1e-17):
    r"""The weights of :func:`poisson_weights` (:math:`w_n = e^{-\lambda}\lambda^n/n!`,
    renormalised, dropped tail :math:`\varepsilon \le` ``tail``) with the *smallest* cut
    :math:`n_{\max}`: the same error bound with fewer terms (each term costs one application
    of R; 69 instead of 87 terms at λ = 20)."""
    lam = check_uniformisation(lam)
    check_tail(tail)
    n = int(np.ceil(lam + 8.0 * np.sqrt(lam) + 30.0))
    while poisson.sf(n, lam) > tail:
        n += int(np.sqrt(lam)) + 10
    n = int(np.argmax(poisson.sf(np.arange(n + 1), lam) <= tail))
    w = poisson.pmf(np.arange(n + 1), lam)
    return w / w.sum()


def parallel_heatbath_stationary(model):
    r""":math:`\pi(s) \propto e^{h\cdot s}\prod_i 2\cosh H_i(s)`, normalised in log space."""
    from shortrun.numerics.models.boltzmann import normalised_exp
    from shortrun.numerics.core.states import chunks
    if not isinstance(model, BoltzmannMachine):
        raise ValueError(f"model must be a BoltzmannMachine (the parallel heat-bath kernel's "
                         f"stationary law); got {type(model).__name__}.")
    logw = np.empty(model.n_states)
    for start, stop, s in chunks(model.N):
        H = model.local_fields(s)
        logw[start:stop] = s @ model.h + np.logaddexp(H, -H).sum(axis=1)
    return normalised_exp(logw)

