r"""The short-run chain as a generator: its exact law beyond the fitted statistics (G6).

At the Rdm-k fixed point θ*(k) the k-step law :math:`p(k, p_0) = U_{\theta^*}^k p_0` matches
every statistic the model fits (for a Boltzmann machine every ⟨s_i⟩ and ⟨s_is_j⟩, (G5)).  How
good a generator it is depends on everything else, measured on all 2^N states by

.. math:: \mathrm{KL}(p_{\rm data}\,\|\,q) = \sum_x p_{\rm data}(x)\ln\frac{p_{\rm data}(x)}{q(x)}

for q = p(k, p0), q = p_θ* (the machine's own Gibbs law) and q = p_ML (maximum likelihood).
For an exponential family (E = −θ·φ) two exact identities hold (G6): p_ML matches the data's
statistics, so :math:`\mathrm{KL}(p_{\rm data}\|p_{\rm ML}) = H(p_{\rm ML}) - H(p_{\rm data})`,
and for every θ the Pythagorean identity

.. math:: \mathrm{KL}(p_{\rm data}\|p_\theta) = \mathrm{KL}(p_{\rm data}\|p_{\rm ML})
          + \mathrm{KL}(p_{\rm ML}\|p_\theta),

so p_θ* is never better than ML.  The k-step law is outside the family: it shares the data's
statistics, hence :math:`H(p(k,p_0)) \le H(p_{\rm ML})` (maximum entropy), but its KL to the data
is bounded below by neither ML's nor zero's side -- :func:`generator_kl` measures it.

Data outside the model class: :func:`three_body_law` (a law with three-spin interactions) and
:func:`digit_patches` (the empirical law of the binary patches of the 8×8 digits).  Everything is
a pure function of numpy arrays; the fixed points come from
:func:`shortrun.numerics.training.fixed_point.solve`, the laws from
:func:`shortrun.numerics.kernels.law`, the KL from
:func:`shortrun.numerics.analysis.diagnostics.kl_divergence`.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from shortrun.conventions import (check_count, check_distribution, check_finite, check_nonnegative,
                                  check_seed)
from shortrun.numerics.analysis.diagnostics import kl_divergence
from shortrun.numerics.core.states import spins
from shortrun.numerics.data.teachers import DATA_MAX_N, Data, as_data
from shortrun.numerics.models.boltzmann import normalised_exp

#: Largest N of :func:`three_body_law` (it lists the N(N−1)(N−2)/6 triples on all 2^N states).
THREE_BODY_MAX_N = 16


def check_law_vector(p, name="p"):
    """A probability vector of any length (:func:`~shortrun.conventions.check_distribution` on
    its own length); a scalar, text or an empty or multi-dimensional array is refused."""
    if isinstance(p, str) or p is None or np.ndim(p) != 1 or np.size(p) == 0:
        raise ValueError(f"{name} must be a probability vector (a non-empty 1-d array); got "
                         f"{type(p).__name__} of shape {np.shape(p)}.")
    return check_distribution(p, np.shape(p)[0], name)


def entropy(p):
    r""":math:`H(p) = -\sum_{x: p(x) > 0} p(x)\ln p(x)` (nats)."""
    p = check_law_vector(p)
    s = p > 0
    return float(-np.sum(p[s] * np.log(p[s])))


def three_body_law(N, beta, seed, pair=0.5, name=None):
    r"""Data outside the Boltzmann-machine class: a law with three-spin interactions,

    .. math:: p(s) \propto \exp\Big(\beta\big[\sum_{i<j<l} L_{ijl}\,s_is_js_l
              + \mathrm{pair}\sum_{i<j} J_{ij}s_is_j\big]\Big),

    :math:`L_{ijl}, J_{ij}` i.i.d. standard normal (seeded, ``numpy.random.default_rng(seed)``),
    divided by :math:`\sqrt{N}` (so the local fields stay of order β).  Its Walsh–Hadamard
    spectrum (W1) has order-3 weight; no Boltzmann machine reproduces it, so
    :math:`\mathrm{KL}(p_{\rm data}\|p_{\rm ML}) > 0`.
    """
    N = check_count(N, "N", minimum=3)
    if N > THREE_BODY_MAX_N:
        raise ValueError(f"N={N}: the three-body law lists every triple on all 2^N states; use "
                         f"3 <= N <= {THREE_BODY_MAX_N}.")
    beta = check_nonnegative(beta, "beta", "pass an inverse temperature >= 0.")
    if check_finite(pair, "pair").ndim:
        raise ValueError(f"pair must be a single number; got shape {np.shape(pair)}.")
    pair = float(pair)
    if seed is None:
        raise ValueError("seed must be given (an int) so that the couplings are reproducible.")
    rng = np.random.default_rng(check_seed(seed))
    triples = np.array(list(combinations(range(N), 3)))
    L = rng.standard_normal(len(triples)) / np.sqrt(N)
    iu = np.triu_indices(N, 1)
    J = rng.standard_normal(len(iu[0])) / np.sqrt(N)
    s = spins(N).astype(float)
    logw = beta * ((s[:, triples[:, 0]] * s[:, triples[:, 1]] * s[:, triples[:, 2]]) @ L
                   + pair * (s[:, iu[0]] * s[:, iu[1]]) @ J)
    return Data(np.asarray(normalised_exp(logw)), None,
                name or f"three-body law, N={N}, beta={beta:g}, seed={seed}")


def digit_patches(side=3, threshold=8, n_test=360, seed=0, stride=1):
    r"""The empirical law of the ``side`` × ``side`` binary patches of the training digits.

    Every training image of :func:`shortrun.numerics.data.digits.load` (``threshold``,
    ``n_test``, ``seed`` as there) contributes all its patches at the positions (r, c) with
    r, c = 0, stride, … ≤ 8 − side; spin j of a patch is pixel (r + j // side, c + j % side).
    The law lives on :math:`2^{\rm side^2}` states (side 3: 512, side 4: 65 536).
    """
    from shortrun.numerics.data import digits

    side = check_count(side, "side", minimum=2)
    stride = check_count(stride, "stride")
    if side * side > DATA_MAX_N or side > digits.SIDE:
        raise ValueError(f"side={side}: a patch of side^2 = {side * side} spins is beyond the "
                         f"exact routes (N <= {DATA_MAX_N}) or the 8x8 image; use side 2 ... 4.")
    imgs = digits.load(n_test, seed, threshold).train.reshape(-1, digits.SIDE, digits.SIDE)
    pos = range(0, digits.SIDE - side + 1, stride)
    patches = np.concatenate([imgs[:, r:r + side, c:c + side].reshape(len(imgs), -1)
                              for r in pos for c in pos])
    return Data.from_samples(patches, f"{side}x{side} digit patches (threshold {threshold})")


@dataclass(frozen=True)
class GeneratorKL:
    r"""KL of the short-run generator against k (:func:`generator_kl`), (G6).

    Attributes
    ----------
    ks : ndarray (K,)
    kl_chain : ndarray (K,)
        :math:`\mathrm{KL}(p_{\rm data}\|p(k, p_0))` at the Rdm-k fixed point.
    kl_model : ndarray (K,)
        :math:`\mathrm{KL}(p_{\rm data}\|p_{\theta^*(k)})`.
    kl_ml : float
        :math:`\mathrm{KL}(p_{\rm data}\|p_{\rm ML})`.
    entropy_chain : ndarray (K,)
        :math:`H(p(k, p_0))`.
    entropy_ml, entropy_data : float
    residual : ndarray (K,)
        Newton's ‖F‖∞ at each fixed point.
    stats_error : ndarray (K,)
        ‖⟨φ⟩_{p(k,p0)} − ⟨φ⟩_data‖∞, recomputed from the law (:func:`shortrun.numerics.kernels.law`).
    pythagoras_gap : ndarray (K,)
        :math:`\mathrm{KL}(p_{\rm data}\|p_{\theta^*}) - \mathrm{KL}(p_{\rm data}\|p_{\rm ML})
        - \mathrm{KL}(p_{\rm ML}\|p_{\theta^*})` (zero by (G6)).
    thetas : ndarray (K, P)
    theta_ml : ndarray (P,)
    laws : ndarray (K, 2^N)
        The k-step laws.
    """

    ks: np.ndarray
    kl_chain: np.ndarray
    kl_model: np.ndarray
    kl_ml: float
    entropy_chain: np.ndarray
    entropy_ml: float
    entropy_data: float
    residual: np.ndarray
    stats_error: np.ndarray
    pythagoras_gap: np.ndarray
    thetas: np.ndarray
    theta_ml: np.ndarray
    laws: np.ndarray


def generator_kl(data, ks, p0="uniform", rule="heatbath", scan="random", *, restarts=4, seed=0):
    r"""KL of the Rdm-k generator p(k, p0), of its Gibbs law p_θ* and of maximum likelihood, on
    all 2^N states (G6).

    For each k in ``ks`` the Rdm-k fixed point θ*(k) is solved by
    :func:`shortrun.numerics.training.fixed_point.solve` (warm start: the previous k's root;
    ``restarts``, ``seed`` passed on) and θ_ML by the same solver with protocol 'eq'.  Returns a
    :class:`GeneratorKL`.
    """
    from shortrun.numerics import kernels
    from shortrun.numerics.training import fixed_point

    data = as_data(data)
    ks = [check_count(k, "ks") for k in np.atleast_1d(ks).tolist()]
    if not ks:
        raise ValueError("ks is empty; pass at least one number of steps k >= 1.")
    ml = fixed_point.solve(data, None, "eq", progress=False)
    p_ml = np.asarray(ml.model.boltzmann())
    kl_ml = kl_divergence(data.p, p_ml)
    out = {key: [] for key in ("kl_chain", "kl_model", "entropy_chain", "residual",
                               "stats_error", "pythagoras_gap", "thetas", "laws")}
    theta = None
    for k in ks:
        fp = fixed_point.solve(data, k, "rdm", rule, scan, p0=p0, theta0=theta,
                               restarts=restarts, seed=seed, progress=False)
        theta = fp.theta
        m = fp.model
        law = kernels.law(m, p0, k, rule, scan, warn=False)
        p_theta = np.asarray(m.boltzmann())
        kl_model = kl_divergence(data.p, p_theta)
        out["kl_chain"].append(kl_divergence(data.p, law))
        out["kl_model"].append(kl_model)
        out["entropy_chain"].append(entropy(law))
        out["residual"].append(fp.residual)
        out["stats_error"].append(float(np.max(np.abs(m.stats(law) - data.stats))))
        out["pythagoras_gap"].append(kl_model - kl_ml - kl_divergence(p_ml, p_theta))
        out["thetas"].append(theta)
        out["laws"].append(law)
    arr = {key: np.array(v) for key, v in out.items()}
    return GeneratorKL(np.array(ks), kl_ml=kl_ml, entropy_ml=entropy(p_ml),
                       entropy_data=entropy(data.p), theta_ml=ml.theta, **arr)


def chain_kl_gradient(theta, data, k, p0="uniform", rule="heatbath", scan="random"):
    r"""KL of the k-step law and its exact gradient in θ (G6):

    .. math:: \frac{\partial}{\partial\theta}\mathrm{KL}(p_{\rm data}\|p(k,p_0))
              = -\sum_{x: p_{\rm data}(x) > 0}\frac{p_{\rm data}(x)}{p(k,p_0)(x)}\,
                \frac{\partial p(k,p_0)(x)}{\partial\theta},

    the tangent from :func:`shortrun.numerics.kernels.law_tangent` (forward mode).  ``theta``: a
    Boltzmann machine's parameter vector for the data's N.  Returns ``(kl, gradient)``; where
    the k-step law vanishes on a state the data visit, the KL is infinite and ``(inf, NaN)`` is
    returned (the value :func:`best_chain`'s line search backs off from).
    """
    from shortrun.numerics import kernels
    from shortrun.numerics.models import BoltzmannMachine

    data = as_data(data)
    model = BoltzmannMachine.from_theta(check_finite(theta, "theta"), data.N)
    p, D = kernels.law_tangent(model, p0, check_count(k, "k"), rule, scan)
    s = data.p > 0
    if np.any(p[s] <= 0):
        return np.inf, np.full(model.n_params, np.nan)
    return kl_divergence(data.p, p), -(data.p[s] / p[s]) @ D[s]


def best_chain(data, k, theta0, p0="uniform", rule="heatbath", scan="random", *, gtol=1e-9,
               max_iter=2000):
    r"""The k-step law closest to the data: :math:`\min_\theta \mathrm{KL}(p_{\rm data}\|p(k, p_0;
    \theta))` -- maximum likelihood of the generator itself, the best any single-energy k-step
    chain of the family can do (G6) -- by L-BFGS (scipy) with the exact gradient of
    :func:`chain_kl_gradient`, from ``theta0`` (e.g. the Rdm-k fixed point).  A local minimum:
    the objective is not convex.  Returns ``(theta, kl, gradient ∞-norm)``; the KL is at most the
    start's.
    """
    from scipy.optimize import minimize

    data = as_data(data)
    start = np.array(check_finite(theta0, "theta0"), float)
    gtol = check_nonnegative(gtol, "gtol", "pass the gradient tolerance of L-BFGS, e.g. 1e-9.")
    max_iter = check_count(max_iter, "max_iter")
    res = minimize(chain_kl_gradient, start, args=(data, k, p0, rule, scan), jac=True,
                   method="L-BFGS-B", options=dict(gtol=gtol, maxiter=max_iter, ftol=0.0))
    kl, grad = chain_kl_gradient(res.x, data, k, p0, rule, scan)
    kl0 = chain_kl_gradient(start, data, k, p0, rule, scan)[0]
    if not kl <= kl0:
        raise RuntimeError(f"L-BFGS did not lower KL(p_data || p(k, p0)) from theta0 (k={k}): "
                           f"{kl!r} > {kl0!r}; {res.message}")
    return res.x, kl, float(np.max(np.abs(grad)))
