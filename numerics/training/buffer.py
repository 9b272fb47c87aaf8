r"""The replay buffer (protocol ``'buffer'``): its law, its stationary law, their tangents, and its
Monte Carlo update.

Each short-run chain starts from a buffer sample with probability ρ (else from p0), runs k steps,
and its end state goes back into the buffer.  In the law limit, at fixed θ and with a fraction ν
of the buffer replaced per update (B1),

.. math:: q = U_\theta^k\bigl[(1-\rho)p_0 + \rho B\bigr],\qquad B \leftarrow (1-\nu)B + \nu q,

where q is the law of the update's negative samples.  Its unique stationary law (B2) is

.. math:: B^*(\theta) = (1-\rho)(I - \rho A)^{-1} A p_0
          = (1-\rho)\sum_{n\ge1}\rho^{n-1} U_\theta^{nk} p_0,\qquad A = U_\theta^k,

the law of "draw an age n ~ Geometric(1 − ρ), run nk steps from p0", and q = B* there; training
stops where :math:`\langle\phi\rangle_{B^*(\theta)} = \langle\phi\rangle_{\rm data}`.  Its tangent
(B3) goes through the same resolvent,

.. math:: \partial B^* = (I-\rho A)^{-1}\,(\partial A)\,s,\qquad s = (1-\rho)p_0 + \rho B^*,

with :math:`(\partial A)s` the registered law tangent of k steps from the fixed start s.  Both
solves are matrix-free (:func:`resolvent`): GMRES on the operator :math:`I-\rho A`, each
application of A = k steps of the kernel (:func:`apply_steps`), followed by a certified
a-posteriori bound: A is column-stochastic, so
:math:`\|(I-\rho A)^{-1}\|_1 \le \sum_j\rho^j = 1/(1-\rho)` and the error of an approximate solution
x is at most :math:`\|b - (I-\rho A)x\|_1/(1-\rho)`.  See docs/theory.md, (B1)-(B3).
"""
from __future__ import annotations

import inspect
import numbers

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from shortrun.conventions import check_finite, check_steps
from shortrun.numerics.kernels import law_tangent
from shortrun.numerics.sampling import initial_states, sample

#: Reuse probability of the reference implementation (Du & Mordatch 2019): 95 % of the chains
#: start from the buffer.
DEFAULT_RHO = 0.95
#: Buffer size of the reference implementation.
DEFAULT_BUFFER = 10_000
#: Replacement rate of the exact trainer: the fraction of the buffer a Monte Carlo run with the
#: default 1000 chains and the default buffer replaces per update (1000 / 10,000).
DEFAULT_NU = 0.1
#: Relative accuracy of a resolvent solve: the certified L1 error of x = (I - ρA)^{-1} b is at most
#: RESOLVENT_RTOL * ||b||_1 / (1 - ρ) (the scale of x itself), per column.
RESOLVENT_RTOL = 1e-12
#: Iterative-refinement rounds of :func:`resolvent` (each one a GMRES solve on the residual).
MAX_REFINE = 8
#: scipy < 1.12 names GMRES's relative tolerance ``tol``, later versions ``rtol``.
_GMRES_RTOL = "rtol" if "rtol" in inspect.signature(gmres).parameters else "tol"


def check_rho(rho, name="rho"):
    """The reuse probability ρ as a float in [0, 1) (``None``: :data:`DEFAULT_RHO`)."""
    if rho is None:
        return DEFAULT_RHO
    if isinstance(rho, (bool, np.bool_)) or not isinstance(rho, numbers.Real) \
            or not 0.0 <= float(rho) < 1.0:
        raise ValueError(f"{name}={rho!r} must be a probability in [0, 1): the chance that a chain "
                         "starts from the buffer (0: Rdm-k, every chain fresh from p0; the "
                         f"reference uses {DEFAULT_RHO}); rho = 1 would never draw from p0.")
    return float(rho)


def check_nu(nu):
    """The replacement rate ν of the exact trainer: a float in (0, 1], or ``'limit'`` (the
    stationary buffer B*(θ) at every update); ``None``: :data:`DEFAULT_NU`."""
    if nu is None:
        return DEFAULT_NU
    if isinstance(nu, str) and nu == "limit":
        return nu
    if isinstance(nu, (bool, np.bool_)) or not isinstance(nu, numbers.Real) \
            or not 0.0 < float(nu) <= 1.0:
        raise ValueError(f"nu={nu!r} must be the fraction of the buffer replaced per update, in "
                         "(0, 1] (n_chains / buffer_size of a Monte Carlo run), or 'limit' for "
                         "the stationary buffer law B*(theta) at every update.")
    return float(nu)


def start_law(p0, rho, buffer):
    r"""The law of a chain's start, :math:`(1-\rho)p_0 + \rho B` (B1); exactly ``p0`` for ρ = 0."""
    if rho == 0.0:
        return np.array(p0, dtype=float)
    return (1.0 - rho) * p0 + rho * buffer


def apply_steps(kern, k, v):
    r""":math:`U^k v` for a signed vector (or the columns of a matrix) v.

    A discrete-time kernel applies its one-step operator ``apply`` k times (U is linear on any
    vector); a kernel whose ``apply`` refuses a signed vector, and continuous time (no single
    step), go through :meth:`propagate` on laws only:
    :math:`U^k v = |v_+|\,U^k(v_+/|v_+|) - |v_-|\,U^k(v_-/|v_-|)` (linearity)."""
    v = np.asarray(v, dtype=float)
    if v.ndim == 2:
        return np.column_stack([apply_steps(kern, k, c) for c in v.T]) if v.shape[1] else v.copy()
    if kern.time == "discrete":
        try:
            out = v
            for _ in range(int(k)):
                out = kern.apply(out)
            return np.array(out, dtype=float)
        except ValueError:
            pass
    out = np.zeros_like(v)
    for sign in (1.0, -1.0):
        part = np.maximum(sign * v, 0.0)
        mass = part.sum()
        if mass > 0.0:
            out += (sign * mass) * kern.propagate(part / mass, k)
    return out


def resolvent(kern, k, b, rho, rtol=RESOLVENT_RTOL):
    r"""``(x, bound)``: :math:`x = (I - \rho U^k)^{-1} b` per column of ``b``, matrix-free, and
    ``bound`` (per column) the certified L1 error :math:`\|b - (I-\rho A)x\|_1/(1-\rho)` (B3).

    GMRES (scipy, restarted) on the residual, refined until ``bound <= rtol * ||b||_1 / (1-ρ)``
    (the scale of x: :math:`\|x\|_1 \le \|b\|_1/(1-\rho)`).  The Neumann series
    :math:`\sum_j \rho^j A^j b` would also converge (:math:`\|A\|_1 = 1`), but with truncation
    error :math:`\rho^J\|b\|_1/(1-\rho)` after J terms, i.e. ~700 terms of k steps for ρ = 0.95.
    ρ = 0 returns ``b`` itself (a copy).

    Raises
    ------
    RuntimeError
        When :data:`MAX_REFINE` rounds do not reach the bound (ρ so close to 1 that round-off,
        about n·ε/(1−ρ)², dominates): names ρ and the bound reached.
    """
    rho = check_rho(rho)
    k = check_steps(k, "k", integer=kern.time == "discrete")
    b = check_finite(b, "b", "pass a finite vector or matrix.")
    if rho == 0.0:
        return b.copy(), np.zeros(b.shape[1:])
    cols = b.reshape(len(b), -1)
    n, m = cols.shape
    x = np.zeros_like(cols)
    scale = np.abs(cols).sum(axis=0) / (1.0 - rho)
    op = LinearOperator((n, n), matvec=lambda v: v - rho * apply_steps(kern, k, np.ravel(v)),
                        dtype=float)
    r = cols.copy()
    for _ in range(MAX_REFINE + 1):
        bound = np.abs(r).sum(axis=0) / (1.0 - rho)
        todo = np.flatnonzero(bound > rtol * scale)
        if todo.size == 0:
            return x.reshape(b.shape), bound.reshape(b.shape[1:])
        for j in todo:
            d, _ = gmres(op, r[:, j], atol=0.0, restart=min(n, 60), maxiter=50,
                         **{_GMRES_RTOL: 1e-10})
            x[:, j] += d
        r = cols - x + rho * apply_steps(kern, k, x)
    raise RuntimeError(f"the buffer resolvent (I - rho U^k)^-1 with rho={rho:g} did not reach its "
                       f"certified accuracy (L1 error bound {bound.max():.3g} > "
                       f"{rtol:g} * scale {scale.max():.3g}) in {MAX_REFINE} refinements: "
                       "round-off grows like 1/(1 - rho)^2; use a smaller rho.")


def stationary_law(kern, p0, k, rho):
    r"""The stationary buffer law (B2) :math:`B^* = (1-\rho)(I-\rho A)^{-1}Ap_0`, A = U^k:
    ``U^k p0`` itself (bit for bit) for ρ = 0."""
    rho = check_rho(rho)
    first = kern.propagate(p0, k)
    if rho == 0.0:
        return first
    return resolvent(kern, k, (1.0 - rho) * first, rho)[0]


def stationary_tangent(prob, model):
    r"""``(B*, ∂B*/∂θ)`` (B3): the law tangent of k steps from the fixed start
    :math:`s = (1-\rho)p_0 + \rho B^*` (the registered ``law_tangent``), through the resolvent
    :math:`(I - \rho A)^{-1}`.  For ρ = 0 exactly Rdm-k's ``law_tangent(model, p0, k)``."""
    kern = prob.kernel(model)
    rho = prob.rho
    if rho == 0.0:
        return law_tangent(model, prob.p0, prob.k, prob.rule, prob.scan)
    B = stationary_law(kern, prob.p0, prob.k, rho)
    _, D = law_tangent(model, np.clip(start_law(prob.p0, rho, B), 0.0, None), prob.k,
                       prob.rule, prob.scan)
    return B, resolvent(kern, prob.k, D, rho)[0]


def exact_update(prob, model, buffer, nu):
    r"""One update of the exact trainer (B1): ``(q, new buffer)`` with
    :math:`q = U^k[(1-\rho)p_0 + \rho B]` the law of the update's negative samples and
    :math:`B \leftarrow (1-\nu)B + \nu q`; ``nu='limit'``: q = B* = the new buffer."""
    if nu == "limit":
        q = stationary_law(prob.kernel(model), prob.p0, prob.k, prob.rho)
        return q, q
    q = prob.kernel(model).propagate(start_law(prob.p0, prob.rho, buffer), prob.k)
    return q, (1.0 - nu) * buffer + nu * q


def damping(factor, rho):
    r"""The factor of mode α in :math:`B^* - \pi` (B2), :math:`(1-\rho)f/(1-\rho f)`, from its
    factor over one chain of k steps, :math:`f = \lambda_\alpha^k` (continuous time:
    :math:`e^{\mu_\alpha k}`): f itself for ρ = 0 (Rdm-k), → 0 as ρ → 1 for |f| < 1."""
    rho = check_rho(rho)
    f = np.asarray(factor)
    return (1.0 - rho) * f / (1.0 - rho * f)


def mc_update(model, buffer, p0, k, rule, scan, n_chains, rho, seed, step, chain_seed):
    r"""One Monte Carlo update of the buffer: ``(end states, new buffer)``.

    ``n_chains`` distinct buffer entries are drawn uniformly without replacement; each chain
    starts from its entry with probability ρ, else from a fresh draw of p0; after k steps the end
    states overwrite the drawn entries (all of them, fresh or reused, as in the reference
    implementation's ``buffer[inds] = samples``).  Each entry is therefore replaced with
    probability ν = n_chains / buffer_size per update, by a k-step chain from itself (prob. ρ) or
    from p0, so its law follows (B1).  The draws use ``default_rng([seed, 2, step])``, the chains
    the key ``chain_seed`` (a function of (seed, step)): a resumed run repeats them bit for bit.
    ``p0`` is 'uniform', a law, or given states (fresh starts are then rows drawn at random).
    """
    gen = np.random.default_rng([seed, 2, step])
    idx = gen.choice(len(buffer), size=n_chains, replace=False)
    reuse = gen.random(n_chains) < rho
    fresh_seed = int(gen.integers(0, 2**62))
    if np.ndim(p0) == 2:
        fresh = np.asarray(p0)[gen.integers(0, len(p0), size=n_chains)]
    else:
        fresh = initial_states(model, p0, n_chains, fresh_seed)
    start = np.where(reuse[:, None], buffer[idx], fresh)
    end = sample(model, start, k, rule=rule, scan=scan, n_chains=None, seed=chain_seed)
    new = buffer.copy()
    new[idx] = end
    return end, new
