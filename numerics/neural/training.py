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
* ``'pcd'`` — chains persist from one update to the next (started once from p0).

Reproducible: update n uses the keys ``fold_in(key(seed), n)`` (minibatch: ``fold_in(·, 0)``,
start of the chains: 1, Langevin noise: 2), so the run is a function of ``seed`` alone and resumes
from a checkpoint bit for bit (:mod:`shortrun.numerics.core.checkpoint`).  The checkpoint holds
only numpy arrays and plain numbers: the parameter and optimiser pytrees are flattened to their
leaves (``jax.tree_util``) and rebuilt from the structure of a fresh ``init``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

from shortrun.conventions import (check_choice, check_count, check_finite, check_nonnegative,
                                  check_positive, check_steps)
from shortrun.numerics.core.checkpoint import Checkpointer, fingerprint
from shortrun.numerics.core.progress import Progress
from shortrun.numerics.neural import langevin

__all__ = ["train", "TrainResult", "PROTOCOLS", "flatten", "unflatten"]

PROTOCOLS = ("rdm", "cd", "pcd")
#: Reserved update number whose key draws the initial persistent chains.
PCD_INIT = 2**31 - 1
_UPDATES = {}


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`.

    ``params`` : the trained parameter pytree (JAX arrays);
    ``gap[n]`` : ⟨E⟩_minibatch − ⟨E⟩_chains at the parameters of update n (the contrastive
    objective whose θ-gradient is g; negative while the chains sit above the data in energy);
    ``grad_norm[n]`` : ‖g‖₂ of update n;
    ``trace`` : (n_steps, P) flat parameters before each update (only with ``keep_params``);
    ``chains`` : the negative chains after the last update (the persistent ones for ``'pcd'``);
    ``settings`` : the arguments of the run.
    """

    params: dict
    gap: np.ndarray
    grad_norm: np.ndarray
    trace: np.ndarray | None
    chains: np.ndarray
    settings: dict = field(default_factory=dict)


def flatten(tree):
    """The leaves of a pytree as a list of numpy arrays (checkpoint form)."""
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def unflatten(like, leaves):
    """A pytree with the structure of ``like`` and the given leaves (as JAX arrays)."""
    treedef = jax.tree_util.tree_structure(like)
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a) for a in leaves])


def _as_vector(tree):
    return np.concatenate([np.ravel(a) for a in flatten(tree)])


def _jitted(energy, optimizer_key, optimizer, n_data, batch, n_neg, keep_params):
    """The jitted pieces of one update, compiled once per energy, optimiser and sizes and shared
    by the three protocols: ``starts(x_all, base, step) -> (minibatch, uniform draws)`` and
    ``update(params, opt_state, xb, x0, noise_key, k, eta, sigma2)`` (K Langevin steps from x0,
    g, one optimiser step), which returns the new (params, opt_state, chains) and a vector of
    diagnostics (gap, ‖g‖, max |chain|, all parameters finite[, the flat parameters before the
    update]).
    """
    cache_key = (energy.apply, optimizer_key, n_data, batch, n_neg, keep_params)
    if cache_key in _UPDATES:
        return _UPDATES[cache_key]
    run = langevin.step(energy)

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

    def contrast(params, xb, chains):  # its θ-gradient is g, its value the gap
        return jnp.mean(energy.apply(params, xb)) - jnp.mean(energy.apply(params, chains))

    @jax.jit
    def update(params, opt_state, xb, x0, noise_key, k, eta, sigma2):
        new_chains = run(params, x0, noise_key, 0, k, eta, sigma2)
        gap, grad = jax.value_and_grad(contrast)(params, xb, new_chains)
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
          b1=0.9, b2=0.999, n_steps=1000, params0=None, seed=0, keep_params=False,
          max_abs_chain=1e3, progress=None, checkpoint=None, checkpoint_seconds=60.0):
    r"""Train ``energy`` on ``data`` with K-step Langevin chains and Adam.

    .. math:: \theta \leftarrow \theta - \mathrm{Adam}_{\ell,\beta_1,\beta_2}\Big(
              \overline{\nabla_\theta E}_{\rm batch} - \overline{\nabla_\theta E}_{\rm chains(K)}\Big)

    Parameters
    ----------
    energy : :class:`~shortrun.numerics.neural.energies.Energy`
    data : (M, d) array
        Training samples (cast to ``energy.dtype``).
    k : int >= 1
        Langevin steps per update (K).
    protocol : {'rdm', 'cd', 'pcd'}
    eta, sigma2 : float
        Step size and noise variance of (L1).
    n_chains : int
        Negative chains per update for 'rdm' and 'pcd' ('cd' uses the minibatch itself).
    batch_size : int
        Data minibatch drawn without replacement at every update (``min(batch_size, M)``).
    lr, b1, b2 : float
        Adam's learning rate and moment decays.
    n_steps : int
        Number of updates (may grow when resuming from a checkpoint).
    params0 : pytree, optional
        Start; default ``energy.init(fold_in(key(seed), PCD_INIT + 1))``.
    seed : int
    keep_params : bool
        Keep the flat parameter vector before every update in ``TrainResult.trace`` (small models).
    max_abs_chain : float
        ``RuntimeError`` when a chain leaves the box ``|x| <= max_abs_chain`` or the parameters stop
        being finite (a diverging run: lower ``lr`` or ``eta``).
    progress : None, True or False
        stderr progress line (None: only for runs longer than 5 s).
    checkpoint : str or Path, optional
        Save the state there every ``checkpoint_seconds``, at the end and when interrupted; a call
        with the same arguments resumes and returns bit for bit what an uninterrupted run returns.
    checkpoint_seconds : float

    Returns
    -------
    TrainResult
    """
    protocol = check_choice(protocol, PROTOCOLS, "protocol")
    k = check_count(k, "k", minimum=1)
    x_data = _data(data, energy)
    eta = check_positive(eta, "eta", "pass the Langevin step size, e.g. 1.0.")
    sigma2 = check_nonnegative(sigma2, "sigma2", "pass the noise variance per step, e.g. 1e-4.")
    n_chains = check_count(n_chains, "n_chains")
    batch = min(check_count(batch_size, "batch_size"), len(x_data))
    lr, b1, b2 = (check_nonnegative(v, name, "Adam's rate and moment decays are numbers >= 0.")
                  for v, name in ((lr, "lr"), (b1, "b1"), (b2, "b2")))
    if not (b1 < 1 and b2 < 1):
        raise ValueError(f"b1={b1!r} and b2={b2!r} must be < 1 (Adam's moment decays).")
    n_steps = check_steps(n_steps, "n_steps")
    seed = check_count(seed, "seed", minimum=0)
    check_positive(max_abs_chain, "max_abs_chain", "pass the bound on |x| that means divergence.")
    base = langevin.as_key(seed)
    params = energy.init(jax.random.fold_in(base, PCD_INIT + 1)) if params0 is None else params0
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=energy.dtype), params)
    optimizer = optax.adam(lr, b1=b1, b2=b2)
    opt_state = optimizer.init(params)
    n_neg = batch if protocol == "cd" else n_chains
    starts, update = _jitted(energy, ("adam", float(lr), float(b1), float(b2)), optimizer,
                             len(x_data), batch, n_neg, bool(keep_params))
    dtype = energy.dtype
    if protocol == "pcd":
        chains = langevin.uniform(jax.random.fold_in(base, PCD_INIT), n_chains, energy.dim, dtype)
    else:
        chains = jnp.zeros((n_neg, energy.dim), dtype=dtype)
    gap, gnorm = np.zeros(n_steps), np.zeros(n_steps)
    n_par = sum(a.size for a in flatten(params))
    trace = np.zeros((n_steps, n_par)) if keep_params else None

    ckpt = Checkpointer(checkpoint, fingerprint(
        trainer="neural.train", energy=repr(sorted(energy.config.items())), data=x_data, k=k,
        protocol=protocol, eta=eta, sigma2=sigma2, n_chains=n_chains, batch_size=batch, lr=lr,
        b1=b1, b2=b2, params0=_as_vector(params), seed=seed, keep_params=bool(keep_params),
        max_abs_chain=max_abs_chain), checkpoint_seconds)
    state, first = ckpt.resume(n_steps)
    if state is not None:
        params = unflatten(params, _leaves(state, "param"))
        opt_state = unflatten(opt_state, _leaves(state, "opt"))
        chains = jnp.asarray(state["chains"])
        gap[:first], gnorm[:first] = state["gap"], state["grad_norm"]
        if keep_params:
            trace[:first] = state["trace"]

    def snapshot(step):  # the state before update ``step``: numpy arrays and plain numbers only
        out = dict(step=int(step), gap=gap[:step].copy(), grad_norm=gnorm[:step].copy())
        out.update({f"param_{i}": a for i, a in enumerate(flatten(params))})
        out.update({f"opt_{i}": a for i, a in enumerate(flatten(opt_state))})
        out["n_param"], out["n_opt"] = len(flatten(params)), len(flatten(opt_state))
        out["chains"] = np.asarray(chains)
        if keep_params:
            out["trace"] = trace[:step].copy()
        return out

    report = Progress(f"neural.train {protocol}-{k}", progress, n_steps)
    e, s2 = jnp.asarray(eta, dtype), jnp.asarray(sigma2, dtype)
    x_all = jnp.asarray(x_data)
    step = first
    try:
        for step in range(first, n_steps):
            if ckpt.due():
                ckpt.save(snapshot(step))
            xb, fresh, noise_key = starts(x_all, base, step)
            x0 = {"rdm": fresh, "cd": xb, "pcd": chains}[protocol]
            new_params, new_opt, new_chains, diag = update(params, opt_state, xb, x0, noise_key,
                                                           k, e, s2)
            diag = np.asarray(diag)
            _check_run(diag, step, max_abs_chain, lr, eta)
            # the state moves to update step + 1 in one go (an interruption sees old or new)
            if keep_params:
                trace[step] = diag[4:]
            params, opt_state, chains = new_params, new_opt, new_chains
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
                    b1=b1, b2=b2, n_steps=n_steps, seed=seed)
    return TrainResult(params=params, gap=gap, grad_norm=gnorm, trace=trace,
                       chains=np.asarray(chains),
                       settings=settings)


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
