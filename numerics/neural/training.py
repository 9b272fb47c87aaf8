r"""Short-run training of a neural energy: Rdm-K, CD-K and PCD-K with Adam (optax).

Each update estimates the biased gradient (G4) of the negative log-likelihood,

.. math::
    g = \frac{1}{B}\sum_{b}\nabla_\theta E_\theta(x^{\rm data}_b)
      - \frac{1}{n}\sum_{c}\nabla_\theta E_\theta(x^{(K)}_c),

with the negative samples :math:`x^{(K)}` after K steps of (L1) (:mod:`~shortrun.numerics.neural.langevin`), and moves θ by
one Adam step on g.  The protocol says where the chains start at each update:

* ``'rdm'`` — fresh chains from p0 = uniform on [-1, 1]^d (non-persistent short run); its fixed
  point (G5) matches the data statistics of the K-step process;
* ``'cd'`` — chains start at the data minibatch;
* ``'pcd'`` — chains persist from one update to the next (started once from p0);
* ``'buffer'`` — the replay buffer of Du & Mordatch (2019), (B1): a buffer of ``buffer_size``
  states (started from p0); each update draws ``n_chains`` distinct entries uniformly without
  replacement, each chain starts from its entry with probability ρ (``rho``), else from a fresh
  draw of p0 (uniform noise on the data range [-1, 1]^d, as the reference), and after K steps
  the end states overwrite the drawn entries (all of them, fresh or reused, as the reference's
  ``buffer[inds] = samples``), the convention of
  :func:`shortrun.numerics.training.buffer.mc_update`.  In the law limit the buffer tends to the
  geometric-age mixture (B2), the law of "draw n ~ Geometric(1 − ρ), run nK steps from p0"
  (sampled by :func:`shortrun.numerics.neural.memory.geometric_age_samples`); ρ = 0 is Rdm-K
  bit for bit (every chain starts from the update's fresh draws).

Stabilisers (L2), the ones practitioners use to keep short-run training of image EBMs from
blowing up (the energy scale grows until η exceeds the stability limit 2/curvature of (L1) and
the chains run away):

* ``energy_penalty`` α (default :data:`ENERGY_PENALTY` = 0.1) — the energy-magnitude penalty of
  Du & Mordatch (2019): the update follows the θ-gradient of
  :math:`\langle E\rangle_{\rm batch} - \langle E\rangle_{\rm chains}
  + \alpha(\langle E^2\rangle_{\rm batch} + \langle E^2\rangle_{\rm chains})`, which keeps
  the energies O(1).  It changes the objective, hence the fixed point: (G5) holds exactly only at
  α = 0 (pass ``energy_penalty=0`` for the plain (G4) gradient).
* ``grad_clip`` c — g is rescaled to norm c when ‖g‖ > c (``optax.clip_by_global_norm``) before
  Adam; the fixed points (g = 0) are unchanged.
* ``box`` (lo, hi) — every Langevin step is projected on [lo, hi]^d (e.g. the data range);
  (G5) then holds for the projected K-step process, which must also be used to sample
  (``langevin.sample(..., box=...)``).

Reproducible: update n uses the keys ``fold_in(key(seed), n)`` (minibatch: ``fold_in(·, 0)``,
start of the chains: 1, Langevin noise: 2), so the run is a function of ``seed`` alone and resumes
from a checkpoint bit for bit (:mod:`shortrun.numerics.core.checkpoint`).  The checkpoint holds
only numpy arrays and plain numbers: the parameter and optimiser pytrees are flattened to their
leaves (``jax.tree_util``) and rebuilt from the structure of a fresh ``init``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

from shortrun.conventions import (NEURAL_PROTOCOLS, check_choice, check_count, check_finite,
                                  check_nonnegative, check_positive, check_steps)
from shortrun.numerics.core.checkpoint import Checkpointer, fingerprint
from shortrun.numerics.core.progress import Progress
from shortrun.numerics.neural import energies, langevin
from shortrun.numerics.training.buffer import DEFAULT_RHO, check_rho

__all__ = ["train", "TrainingResult", "PROTOCOLS", "flatten", "unflatten",
           "ENERGY_PENALTY", "GRAD_CLIP", "BOX", "DEFAULT_RHO", "BUFFER_SIZE"]

PROTOCOLS = NEURAL_PROTOCOLS
#: Default buffer of ``'buffer'`` on the 8×8 digits.  The reference keeps 10,000 states for
#: 128 chains per update on image sets of 50,000+ images; here ~1,500 training digits and 64
#: chains: with 1,000 states a fraction ν = 64/1000 of the buffer is replaced per update, so the
#: buffer reaches its stationary mixture of ages (mean age 1/(1 − ρ) = 20 chains at ρ = 0.95,
#: i.e. ~ 20/ν ≈ 300 updates) within the 500 updates of the digits runs, which 10,000 states
#: (~ 3,000 updates) would not.  The reuse probability defaults to the reference's
#: :data:`DEFAULT_RHO` = 0.95.
BUFFER_SIZE = 1000
#: Defaults of the stabilisers of (L2): the weight α of the energy-magnitude penalty, the largest
#: global norm of g (None: no clip) and the box the chains are projected on (None: plain (L1)).
ENERGY_PENALTY = 0.1
GRAD_CLIP = None
BOX = None
#: Reserved update number whose key draws the initial persistent chains.
PCD_INIT = 2**31 - 1
#: Reserved update number whose key draws the initial replay buffer ('buffer').
BUFFER_INIT = 2**31 - 3
_UPDATES = {}


@dataclass(frozen=True)
class TrainingResult:
    """Outcome of :func:`train` (the neural twin of
    :class:`shortrun.numerics.training.TrainingResult`).

    ``params`` : the trained parameter pytree (JAX arrays);
    ``gap[n]`` : ⟨E⟩_minibatch − ⟨E⟩_chains at the parameters of update n (the contrastive
    objective whose θ-gradient is g; negative while the chains sit above the data in energy);
    ``grad_norm[n]`` : ‖g‖₂ of update n;
    ``trace`` : (n_steps, P) flat parameters before each update (only with ``keep_params``);
    ``chains`` : the negative chains after the last update (the persistent ones for ``'pcd'``);
    ``settings`` : the arguments of the run;
    ``buffer`` : the replay buffer after the last update (``'buffer'`` only, else None).
    """

    params: dict
    gap: np.ndarray
    grad_norm: np.ndarray
    trace: np.ndarray | None
    chains: np.ndarray
    settings: dict = field(default_factory=dict)
    buffer: np.ndarray | None = None


def __getattr__(name):
    """``TrainResult``, the deprecated name of :class:`TrainingResult` (with a DeprecationWarning)."""
    if name == "TrainResult":
        warnings.warn("TrainResult is deprecated: use TrainingResult.", DeprecationWarning,
                      stacklevel=2)
        return TrainingResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def flatten(tree):
    """The leaves of a pytree as a list of numpy arrays (checkpoint form)."""
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def unflatten(like, leaves):
    """A pytree with the structure of ``like`` and the given leaves (as JAX arrays)."""
    treedef = jax.tree_util.tree_structure(like)
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a) for a in leaves])


def _as_vector(tree):
    return np.concatenate([np.ravel(a) for a in flatten(tree)])


def _jitted(energy, optimizer_key, optimizer, n_data, batch, n_neg, keep_params, box):
    """The jitted pieces of one update, compiled once per energy, optimiser and sizes and shared
    by the three protocols: ``starts(x_all, base, step) -> (minibatch, uniform draws)`` and
    ``update(params, opt_state, xb, x0, noise_key, k, eta, sigma2, alpha, bounds)`` (K Langevin
    steps from x0, projected on the box ``bounds`` if ``box``, g, one optimiser step), which
    returns the new (params, opt_state, chains) and a vector of
    diagnostics (gap, ‖g‖, max |chain|, all parameters finite[, the flat parameters before the
    update]).
    """
    cache_key = (energy.apply, optimizer_key, n_data, batch, n_neg, keep_params, box)
    if cache_key in _UPDATES:
        return _UPDATES[cache_key]
    run = langevin.step(energy, box)

    @jax.jit
    def starts(x_all, base, step):
        key = jax.random.fold_in(base, step)
        if batch < n_data:
            idx = jax.random.choice(jax.random.fold_in(key, 0), n_data, (batch,), replace=False)
            xb = x_all[idx]
        else:
            xb = x_all
        x0 = langevin.uniform(jax.random.fold_in(key, 1), n_neg, energy.dim, energy.dtype)
        return xb, x0, jax.random.fold_in(key, 2)

    def contrast(params, xb, chains, alpha):  # (L2): its θ-gradient is g; returns it and the gap
        e_data, e_chains = energy.apply(params, xb), energy.apply(params, chains)
        gap = jnp.mean(e_data) - jnp.mean(e_chains)
        return gap + alpha * (jnp.mean(e_data ** 2) + jnp.mean(e_chains ** 2)), gap

    @jax.jit
    def update(params, opt_state, xb, x0, noise_key, k, eta, sigma2, alpha, bounds):
        new_chains = run(params, x0, noise_key, 0, k, eta, sigma2, *bounds)
        (_, gap), grad = jax.value_and_grad(contrast, has_aux=True)(params, xb, new_chains, alpha)
        updates, new_opt = optimizer.update(grad, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree_util.tree_leaves(grad)))
        finite = jnp.all(jnp.array([jnp.all(jnp.isfinite(a))
                                    for a in jax.tree_util.tree_leaves(new_params)]))
        diag = jnp.stack([gap, norm, jnp.max(jnp.abs(new_chains)), finite]).astype(gap.dtype)
        if keep_params:
            flat = [jnp.ravel(a) for a in jax.tree_util.tree_leaves(params)]
            diag = jnp.concatenate([diag] + flat)
        return new_params, new_opt, new_chains, diag

    _UPDATES[cache_key] = starts, update
    return starts, update


def _data(data, energy):
    x = np.asarray(data)
    if x.ndim != 2 or x.shape[1] != energy.dim or x.shape[0] < 1:
        raise ValueError(f"data has shape {x.shape}; it must be (n_samples, {energy.dim}) for "
                         f"this energy.")
    check_finite(x, "data", "pass finite training samples.")
    return np.ascontiguousarray(x, dtype=energy.dtype)


def train(energy, data, k, protocol="rdm", *, eta, sigma2, n_chains=64, batch_size=64, lr=1e-3,
          b1=0.9, b2=0.999, n_steps=1000, theta0=None, seed=0, keep_params=False,
          max_abs_chain=1e3, energy_penalty=ENERGY_PENALTY, grad_clip=GRAD_CLIP, box=BOX,
          progress=None, checkpoint=None, checkpoint_seconds=60.0, params0=None, rho=None,
          buffer_size=None):
    r"""Train ``energy`` on ``data`` with K-step Langevin chains and Adam.

    .. math:: \theta \leftarrow \theta - \mathrm{Adam}_{\ell,\beta_1,\beta_2}\Big(
              \mathrm{clip}_c\,\nabla_\theta\big[\overline{E}_{\rm batch} - \overline{E}_{\rm chains(K)}
              + \alpha\big(\overline{E^2}_{\rm batch} + \overline{E^2}_{\rm chains(K)}\big)\big]\Big)

    (G4) with the stabilisers of (L2); the chains are held fixed in the θ-gradient.

    Parameters
    ----------
    energy : :class:`~shortrun.numerics.neural.energies.Energy`
    data : (M, d) array
        Training samples (cast to ``energy.dtype``).
    k : int >= 1
        Langevin steps per update (K).
    protocol : {'rdm', 'cd', 'pcd', 'buffer'}
    eta, sigma2 : float
        Step size and noise variance of (L1).
    n_chains : int
        Negative chains per update for 'rdm', 'pcd' and 'buffer' ('cd' uses the minibatch itself).
    batch_size : int
        Data minibatch drawn without replacement at every update (``min(batch_size, M)``).
    lr, b1, b2 : float
        Adam's learning rate and moment decays.
    n_steps : int
        Number of updates (may grow when resuming from a checkpoint).
    theta0 : pytree, optional
        Start (the name of the other trainers; ``params0`` is its deprecated alias); default ``energy.init(fold_in(key(seed), PCD_INIT + 1))``.
    seed : int
    keep_params : bool
        Keep the flat parameter vector before every update in ``TrainingResult.trace`` (small models).
    max_abs_chain : float
        ``RuntimeError`` when a chain leaves the box ``|x| <= max_abs_chain`` or the parameters stop
        being finite (a diverging run: lower ``lr`` or ``eta``, or raise ``energy_penalty``).
    energy_penalty : float >= 0
        α of (L2), the weight of α(⟨E²⟩_batch + ⟨E²⟩_chains) added to the contrast; default
        :data:`ENERGY_PENALTY` = 0.1 (trains the digits and other 8×8 sets at the digits
        settings η = 1, σ² = 1e-4, lr = 1e-3, K = 20); 0 for the plain gradient (G4).
    grad_clip : float > 0 or None
        Clip g to this global norm before Adam (default :data:`GRAD_CLIP`: no clip).
    box : None or (lo, hi)
        Project every Langevin step on [lo, hi]^d, (L2) (default :data:`BOX`: no projection).
    progress : None, True or False
        stderr progress line (None: only for runs longer than 5 s).
    checkpoint : str or Path, optional
        Save the state there every ``checkpoint_seconds``, at the end and when interrupted; a call
        with the same arguments resumes and returns bit for bit what an uninterrupted run returns.
    checkpoint_seconds : float
    rho : float in [0, 1), optional
        'buffer' only: the probability that a chain starts from its buffer entry (default the
        reference's :data:`DEFAULT_RHO` = 0.95), (B1).
    buffer_size : int >= n_chains, optional
        'buffer' only: the number of states in the replay buffer (default :data:`BUFFER_SIZE`).

    Returns
    -------
    TrainingResult
    """
    protocol = check_choice(protocol, PROTOCOLS, "protocol")
    k = check_count(k, "k", minimum=1)
    x_data = _data(data, energy)
    eta = check_positive(eta, "eta", "pass the Langevin step size, e.g. 1.0.")
    sigma2 = check_nonnegative(sigma2, "sigma2", "pass the noise variance per step, e.g. 1e-4.")
    n_chains = check_count(n_chains, "n_chains")
    batch = min(check_count(batch_size, "batch_size"), len(x_data))
    lr = check_positive(lr, "lr", "pass Adam's learning rate, e.g. 1e-3 (lr = 0 would return the "
                        "start unchanged).")
    b1, b2 = (check_nonnegative(v, name, "Adam's moment decays are numbers in [0, 1).")
              for v, name in ((b1, "b1"), (b2, "b2")))
    if not (b1 < 1 and b2 < 1):
        raise ValueError(f"b1={b1!r} and b2={b2!r} must be < 1 (Adam's moment decays).")
    n_steps = check_steps(n_steps, "n_steps")
    seed = check_count(seed, "seed", minimum=0)
    check_positive(max_abs_chain, "max_abs_chain", "pass the bound on |x| that means divergence.")
    grad_clip = None if grad_clip is None else check_positive(
        grad_clip, "grad_clip", "pass the largest global norm of g, e.g. 1.0, or None for no clip.")
    alpha = check_nonnegative(energy_penalty, "energy_penalty",
                              "pass the weight of the energy-magnitude penalty, e.g. 0.1, or 0.")
    box = langevin.check_box(box)
    if protocol == "buffer":
        rho = check_rho(rho)
        buffer_size = check_count(BUFFER_SIZE if buffer_size is None else buffer_size,
                                  "buffer_size", minimum=n_chains)
    elif rho is not None or buffer_size is not None:
        raise ValueError(f"rho and buffer_size belong to protocol='buffer', not "
                         f"protocol={protocol!r}: drop them or pass protocol='buffer'.")
    base = langevin.as_key(seed)
    name = "theta0"
    if params0 is not None:
        if theta0 is not None:
            raise ValueError("pass theta0 only (params0 is its deprecated alias), not both.")
        warnings.warn("params0 is deprecated: pass theta0.", DeprecationWarning, stacklevel=2)
        theta0, name = params0, "params0"
    if theta0 is None:
        params = energies.check_params(energy, energy.init(jax.random.fold_in(base, PCD_INIT + 1)))
    else:
        params = energies.check_params(energy, theta0, name)
    optimizer = optax.adam(lr, b1=b1, b2=b2)
    if grad_clip is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(grad_clip), optimizer)
    opt_state = optimizer.init(params)
    n_neg = batch if protocol == "cd" else n_chains
    starts, update = _jitted(energy, ("adam", float(lr), float(b1), float(b2), grad_clip),
                             optimizer, len(x_data), batch, n_neg, bool(keep_params),
                             box is not None)
    dtype = energy.dtype
    if protocol == "pcd":
        chains = langevin.uniform(jax.random.fold_in(base, PCD_INIT), n_chains, energy.dim, dtype)
    else:
        chains = jnp.zeros((n_neg, energy.dim), dtype=dtype)
    buffer = None
    if protocol == "buffer":
        buffer = np.asarray(langevin.uniform(jax.random.fold_in(base, BUFFER_INIT), buffer_size,
                                             energy.dim, dtype))
    gap, gnorm = np.zeros(n_steps), np.zeros(n_steps)
    n_par = sum(a.size for a in flatten(params))
    trace = np.zeros((n_steps, n_par)) if keep_params else None

    ckpt = Checkpointer(checkpoint, fingerprint(
        trainer="neural.train", energy=repr(sorted(energy.config.items())), data=x_data, k=k,
        protocol=protocol, eta=eta, sigma2=sigma2, n_chains=n_chains, batch_size=batch, lr=lr,
        b1=b1, b2=b2, params0=_as_vector(params), seed=seed, keep_params=bool(keep_params),
        max_abs_chain=max_abs_chain, grad_clip=grad_clip, energy_penalty=alpha, box=box,
        **({} if buffer is None else dict(rho=rho, buffer_size=buffer_size))),
        checkpoint_seconds)
    state, first = ckpt.resume(n_steps)
    if state is not None:
        params = unflatten(params, _leaves(state, "param"))
        opt_state = unflatten(opt_state, _leaves(state, "opt"))
        chains = jnp.asarray(state["chains"])
        if buffer is not None:
            buffer = np.array(state["buffer"])
        gap[:first], gnorm[:first] = state["gap"], state["grad_norm"]
        if keep_params:
            trace[:first] = state["trace"]

    def snapshot(step):  # the state before update ``step``: numpy arrays and plain numbers only
        out = dict(step=int(step), gap=gap[:step].copy(), grad_norm=gnorm[:step].copy())
        out.update({f"param_{i}": a for i, a in enumerate(flatten(params))})
        out.update({f"opt_{i}": a for i, a in enumerate(flatten(opt_state))})
        out["n_param"], out["n_opt"] = len(flatten(params)), len(flatten(opt_state))
        out["chains"] = np.asarray(chains)
        if buffer is not None:
            out["buffer"] = buffer.copy()
        if keep_params:
            out["trace"] = trace[:step].copy()
        return out

    report = Progress(f"neural.train {protocol}-{k}", progress, n_steps)
    e, s2, a = (jnp.asarray(v, dtype) for v in (eta, sigma2, alpha))
    bounds = () if box is None else tuple(jnp.asarray(v, dtype) for v in box)
    x_all = jnp.asarray(x_data)
    step = first
    try:
        for step in range(first, n_steps):
            if ckpt.due():
                ckpt.save(snapshot(step))
            xb, fresh, noise_key = starts(x_all, base, step)
            if protocol == "buffer":
                idx, x0 = _buffer_starts(buffer, fresh, rho, n_chains, seed, step)
            else:
                x0 = {"rdm": fresh, "cd": xb, "pcd": chains}[protocol]
            new_params, new_opt, new_chains, diag = update(params, opt_state, xb, x0, noise_key,
                                                           k, e, s2, a, bounds)
            diag = np.asarray(diag)
            _check_run(diag, step, max_abs_chain, lr, eta)
            # the state moves to update step + 1 in one go (an interruption sees old or new)
            if keep_params:
                trace[step] = diag[4:]
            params, opt_state, chains = new_params, new_opt, new_chains
            if buffer is not None:
                buffer = buffer.copy()
                buffer[idx] = np.asarray(new_chains)
            gap[step], gnorm[step] = diag[0], diag[1]
            report(step + 1, "E_data - E_chains {:+.3e}  |g| {:.3e}", gap[step], gnorm[step])
        step = n_steps
    except BaseException:
        ckpt.save(snapshot(step))
        raise
    if ckpt.active:
        ckpt.save(snapshot(n_steps))
    settings = dict(energy=dict(energy.config), k=k, protocol=protocol, eta=eta, sigma2=sigma2,
                    n_chains=n_chains if protocol != "cd" else batch, batch_size=batch, lr=lr,
                    b1=b1, b2=b2, n_steps=n_steps, seed=seed, grad_clip=grad_clip,
                    energy_penalty=alpha, box=box)
    if buffer is not None:
        settings.update(rho=rho, buffer_size=buffer_size)
    return TrainingResult(params=params, gap=gap, grad_norm=gnorm, trace=trace,
                          chains=np.asarray(chains), settings=settings, buffer=buffer)


def _buffer_starts(buffer, fresh, rho, n_chains, seed, step):
    """``(idx, x0)`` of one 'buffer' update: ``n_chains`` distinct entries ``idx`` drawn uniformly
    without replacement, each chain starting from its entry with probability ρ, else from its
    fresh draw of p0 (the convention of :func:`shortrun.numerics.training.buffer.mc_update`, with
    its draws ``default_rng([seed, 2, step])``; the fresh draws are the update's key 1)."""
    gen = np.random.default_rng([seed, 2, step])
    idx = gen.choice(len(buffer), size=n_chains, replace=False)
    reuse = gen.random(n_chains) < rho
    x0 = np.where(reuse[:, None], buffer[idx], np.asarray(fresh))
    return idx, jnp.asarray(x0)


def _leaves(state, prefix):
    return [state[f"{prefix}_{i}"] for i in range(int(state[f"n_{prefix}"]))]


def _check_run(diag, step, max_abs_chain, lr, eta):
    if not diag[3]:
        raise RuntimeError(f"the parameters stopped being finite at update {step + 1}: the run "
                           f"diverged; lower lr (now {lr!r}).")
    worst = diag[2]
    if not np.isfinite(worst) or worst > max_abs_chain:
        raise RuntimeError(f"a Langevin chain reached |x| = {worst:.3g} > max_abs_chain = "
                           f"{max_abs_chain!r} at update {step + 1}: the chains diverge; lower eta "
                           f"(now {eta!r}) or lr (now {lr!r}).")
