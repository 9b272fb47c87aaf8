r"""Monte Carlo training with short-run chains (Rdm-k, CD-k, PCD-k): the twin of the exact trainer.

Each update is a stochastic estimate of the biased gradient (G4),

.. math::
    \tilde\nabla L = \langle\phi_\theta\rangle_{\rm data} - \overline{\phi_\theta}_{\rm chains(k)},
    \qquad v \leftarrow \mu v + \eta\,\tilde\nabla L,\quad \theta \leftarrow \theta + v

(the same convention, ``mask``, ``tol``, divergence monitor and :class:`TrainingResult` as
:func:`shortrun.numerics.training.train`), with the negative phase taken from ``n_chains``
chains after k steps of the model's registered sampler
(:func:`shortrun.numerics.sampling.sample`).  The protocol says where the chains start:

* ``'rdm'`` — fresh chains from the fixed ``p0`` (uniform by default); fixed point (G5):
  ⟨φ⟩ of the k-step process equals ⟨φ⟩ of the data;
* ``'cd'`` — chains start at data samples (the current minibatch);
* ``'pcd'`` — chains persist from one update to the next (started once from ``p0``);
* ``'buffer'`` — a replay buffer of ``buffer_size`` states (drawn once from ``p0``): each update
  draws ``n_chains`` distinct entries, each chain starts from its entry with probability ρ
  (``rho``) or fresh from p0, and the end states overwrite the drawn entries
  (:func:`shortrun.numerics.training.buffer.mc_update`); fixed point (B2): ⟨φ⟩ of the stationary
  buffer law B*(θ) equals ⟨φ⟩ of the data.

Everything is a function of ``seed``: the minibatches of epoch e come from
``numpy.random.default_rng([seed, 0, e])`` and the chains of update n from the counter-based
seed ``rng.chain_key(seed, n)``, so a run is bit-reproducible whatever the number of threads,
and resumes from a checkpoint (:mod:`shortrun.numerics.core.checkpoint`) bit for bit.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from shortrun.conventions import (MONTE_CARLO_PROTOCOLS, check_choice, check_count,
                                  check_distribution, check_steps, memory_error)
from shortrun.numerics.core.states import MEMORY_BUDGET
from shortrun.numerics.core import rng
from shortrun.numerics.core.checkpoint import expect_array
from shortrun.numerics.core.moments import n_spins
from shortrun.numerics.core.progress import Progress
from shortrun.numerics.data import teachers
from shortrun.numerics.data.teachers import default_model
from shortrun.numerics.kernels import NotBoltzmannWarning
from shortrun.numerics.models.base import Model, update_names
from shortrun.numerics.sampling import initial_states, sample
from shortrun.numerics.sampling.spins import check_seed
from shortrun.numerics.training import buffer as _buffer
from shortrun.numerics.training import core
from shortrun.numerics.training.core import check_rates
from shortrun.numerics.training.problem import (Problem, check_model, check_work,
                                                 parameter_mask, problem)
from shortrun.numerics.training.result import History, TrainingResult

__all__ = ["train", "PROTOCOLS", "DEFAULT_CHAINS"]

#: The protocols of Monte Carlo training (:data:`shortrun.conventions.MONTE_CARLO_PROTOCOLS`).
PROTOCOLS = MONTE_CARLO_PROTOCOLS
#: Largest state space on which the result's Problem carries the data's exact (empirical) law.
EXACT_PROBLEM_MAX_STATES = 1 << 20
DEFAULT_CHAINS = 1000
#: Reserved update number whose seed draws the initial persistent chains.
PCD_INIT = 1 << 62
#: Reserved update number whose seed draws the initial replay buffer.
BUFFER_INIT = PCD_INIT + 1
#: CD from an exact law: the starts of update n are drawn with the key of update CD_STARTS + n
#: (fresh draws from p_data at every update, independent of the chains' own key of update n).
CD_STARTS = PCD_INIT + 2


def _data_source(data, batch_size, model=None):
    """Normalise ``data``: returns (N, samples or None, law or None).

    Accepts (M, N) samples in ±1 or 0/1 (any N), a probability vector over 2^N states, or a
    ``teachers.Data`` (its law).  For a ``model`` whose units are not ±1 spins (``n_states``
    other than 2^n_units, e.g. Potts colours) the law is over its ``n_states`` and the samples
    are validated as states of the model by its registered ``initial_states``.
    """
    if isinstance(data, teachers.Data):
        data = data.p
    if data is None or isinstance(data, (str, bytes)) or np.isscalar(data) \
            or (isinstance(data, np.ndarray) and data.ndim == 0):
        raise ValueError("data must be samples of shape (M, N) (±1 or 0/1), a probability "
                         "vector of length 2^N, or a teachers.Data.")
    try:
        ndim = np.ndim(data)
    except ValueError:
        ndim = 2  # a ragged list of rows: check_samples says what is wrong
    spins = not isinstance(model, Model) or all(q == 2 for q in model.levels)
    if ndim == 1:
        if batch_size is not None:
            raise ValueError("batch_size needs data as samples; with an exact data law pass "
                             "batch_size=None.")
        if not spins:
            return model.n_units, None, check_distribution(data, model.n_states, "data")
        p = teachers.check_law(data, "data")
        return n_spins(p), None, p
    if spins:
        samples = teachers.check_samples(data, "data", max_n=None)
    else:
        try:
            samples = initial_states(model, data, None, 0)  # given states: validated copy
        except ValueError as exc:
            raise ValueError(f"data are not samples of {type(model).__name__} states: "
                             f"{exc}") from None
    if batch_size is not None:
        if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral) \
                or not 1 <= batch_size <= len(samples):
            raise ValueError(f"batch_size={batch_size!r} must be an integer between 1 and the "
                             f"{len(samples)} samples (None: all of them at every update).")
        batch_size = int(batch_size)
    return samples.shape[1], samples, None


class _Batches:
    r"""Minibatch of update n as a function of (seed, n) alone, so a resumed run draws the same
    batches: epoch e = n // B (B = ⌊M / batch_size⌋ batches per epoch) uses the permutation of
    ``default_rng([seed, 0, e])``, and update n its slice n mod B."""

    def __init__(self, samples, batch_size, seed):
        self.samples, self.size, self.seed = samples, batch_size, seed
        self.per_epoch = len(samples) // batch_size
        self.epoch, self.order = None, None

    def __call__(self, step):
        epoch, j = divmod(step, self.per_epoch)
        if epoch != self.epoch:
            gen = np.random.default_rng([self.seed, 0, epoch])
            self.epoch, self.order = epoch, gen.permutation(len(self.samples))
        return self.samples[self.order[j * self.size:(j + 1) * self.size]]


def _negative_start(model, protocol, p0, chains, batch, law, n_chains, seed, step):
    """Initial states (and n_chains for ``sample``) of the negative chains of one update."""
    if protocol == "rdm":
        return p0, (None if np.ndim(p0) == 2 else n_chains)
    if protocol == "pcd":
        return chains, None
    if law is not None:  # cd from an exact law: n_chains fresh draws from p_data every update
        return initial_states(model, law, n_chains, int(rng.chain_key(seed, CD_STARTS + step))), None
    if n_chains is None or n_chains == len(batch):  # cd: the minibatch itself
        return batch, None
    gen = np.random.default_rng([seed, 1, step])  # cd: n_chains draws from the minibatch
    return batch[gen.integers(0, len(batch), size=n_chains)], None


def _check_state(state, step, hist, N, n_pcd):
    """Refuse a checkpoint whose content this run cannot have saved (for
    :meth:`~shortrun.numerics.core.checkpoint.Checkpointer.resume`): finite θ and velocity of
    length P, ±1 chains of N spins (``n_pcd`` of them for pcd) and ``step`` rows of history."""
    P = hist["theta"].shape[1]
    expect_array(state, "theta", (P,))
    expect_array(state, "velocity", (P,))
    chains = expect_array(state, "chains", (n_pcd, N) if n_pcd else (None, N))
    if not np.all((chains == 1) | (chains == -1)):
        raise ValueError("'chains' with entries other than -1 and +1")
    done = state["hist"]
    for key, full in hist.items():
        expect_array(done, key, (step,) + full.shape[1:],
                     finite=key not in ("mismatch_eq", "mixing_time"), where="hist.")
    if not np.array_equal(done["step"], np.arange(step)):
        raise ValueError(f"history steps other than 0, ..., {step - 1}")


def train(data, k, protocol="rdm", rule=None, scan=None, p0=None, *, model=None,
          n_chains=None, lr=0.1, momentum=0.0, n_steps=1000, tol=0.0, theta0=None, mask=None,
          batch_size=None, seed=0, theta_max=50.0, progress=None, checkpoint=None,
          checkpoint_seconds=60.0, rho=None, buffer_size=None):
    r"""Train by stochastic ascent on the biased gradient (G4) with short-run chains.

    .. math:: v \leftarrow \mu v + \eta\,(\langle\phi\rangle_{\rm batch}
              - \overline{\phi}_{\rm chains(k)}),\qquad \theta \leftarrow \theta + v .

    Same arguments and conventions as the exact :func:`shortrun.numerics.training.train` where
    they apply.

    Parameters
    ----------
    data : (M, N) ±1 samples, probability vector of length 2^N, or ``teachers.Data``
        With a law, ⟨φ⟩_data is exact (``model.stats``) and only the chains are sampled.
    k : int
        Steps (sweeps) per update (a real time in sweeps for ``scan='continuous'``).
    protocol : {'rdm', 'cd', 'pcd', 'buffer'}
        (``'eq'`` needs the exact law: use the exact trainer.)
    rule, scan
        As in :func:`shortrun.numerics.sampling.sample` for the model type (``None``: the
        model's own ``DEFAULT_RULE`` / ``DEFAULT_SCAN``).
    p0 : 'uniform' (None), probability vector, or (n_chains, N) states
        Start of the rdm chains at every update, of the pcd chains once, of the buffer's fresh
        chains and initial entries (given states: rows drawn at random); not for cd.
    model : Model, optional
        The model family (a Boltzmann machine of the data's size by default).
    n_chains : int, optional
        Negative chains (default 1000; cd with samples: the minibatch itself, and another
        ``n_chains`` draws that many rows of the minibatch with replacement, seeded by
        (seed, update)).
    lr, momentum : float
        Learning rate η > 0, momentum μ ∈ [0, 1).
    n_steps : int
    tol : float
        Stop (``converged=True``) when ‖∇̃L‖∞ ≤ tol (default 0: run all n_steps; Monte Carlo
        gradients carry noise of order 1/√n_chains).
    theta0 : (P,) array or a model, optional
        Start (zeros by default).
    mask : see :func:`shortrun.numerics.training.problem.parameter_mask`
    batch_size : int, optional
        Minibatch size when ``data`` are samples (default: all of them at every update).
    seed : int
    theta_max : float
        ``RuntimeError`` (naming the parameter and the likely cause) when some |θ_a| exceeds it
        or θ stops being finite.
    progress : None, True or False
        stderr progress line: None = only for runs longer than 5 s, True = every second.
    checkpoint : str or Path, optional
        Save the run's state there (atomically) every ``checkpoint_seconds``, at the end and on
        interruption; a call with the same arguments resumes and returns bit for bit what an
        uninterrupted run returns (``n_steps`` may grow).
    checkpoint_seconds : float
        Wall time between periodic saves (0: before every update).
    rho : float in [0, 1), optional
        Protocol 'buffer' only: probability that a chain starts from the buffer (default 0.95).
    buffer_size : int, optional
        Protocol 'buffer' only: number of states in the buffer (default 10,000, >= n_chains).
        Each entry is replaced with probability ν = n_chains / buffer_size per update: the exact
        twin is ``training.train(..., protocol='buffer', rho=rho, nu=n_chains / buffer_size)``.

    Returns
    -------
    TrainingResult
        ``history`` has one row per update; ``chains`` holds the negative chains after the last
        update (the persistent chains for pcd, the whole buffer for buffer).  ``problem`` is the exact twin of the run (the
        data's law -- the empirical histogram of samples -- and p0 as a law, see
        :func:`_exact_twin`), so ``result.problem.residual(result.theta)`` is the exact
        residual (G5) of the Monte Carlo estimate; beyond ``EXACT_PROBLEM_MAX_STATES`` states
        its data is ``None`` and the exact methods say so.
    """
    protocol = check_choice(protocol, PROTOCOLS, "protocol")
    if protocol == "buffer":
        rho = _buffer.check_rho(rho)
        buffer_size = (_buffer.DEFAULT_BUFFER if buffer_size is None
                       else check_count(buffer_size, "buffer_size"))
    elif rho is not None or buffer_size is not None:
        raise ValueError(f"rho and buffer_size belong to protocol='buffer'; drop them for "
                         f"protocol={protocol!r}.")
    if model is None and isinstance(data, teachers.Data):
        model = data.default_model()         # the data's own family (a Potts machine for PottsData)
    N, samples, law = _data_source(data, batch_size, model)
    template = check_model(default_model(N) if model is None else model)
    if template.n_units != N:
        raise ValueError(f"model has {template.n_units} (visible) units but the data have N = "
                         f"{N}; build the model with N = {N}.")
    rule, scan = update_names(template, rule, scan)
    k = check_steps(k, "k", integer=scan != "continuous")
    lr, momentum, n_steps, tol = check_rates(lr, momentum, n_steps, tol)
    seed = check_seed(seed)
    m = parameter_mask(template, mask)
    theta, monitor = core.start(template, m, theta0, theta_max, None)
    if protocol == "cd" and p0 is not None:
        raise ValueError("p0 must not be given for protocol='cd' (its chains start at the data); "
                         "use protocol='rdm' for chains from a fixed p0.")
    p0 = "uniform" if p0 is None else p0
    if protocol != "cd" or samples is None:
        n_chains = DEFAULT_CHAINS if n_chains is None else n_chains
    if protocol == "buffer" and (isinstance(n_chains, (bool, np.bool_))
                                 or not isinstance(n_chains, numbers.Integral)
                                 or not 1 <= n_chains <= buffer_size):
        raise ValueError(f"n_chains={n_chains!r} must be an integer between 1 and buffer_size="
                         f"{buffer_size}: each update overwrites n_chains distinct buffer entries.")
    batches = _Batches(samples, batch_size or len(samples), seed) if samples is not None else None
    chains = (f"n_chains={n_chains}" if n_chains is not None else
              f"{batch_size or len(samples)} chains (the minibatch, batch_size={batch_size})")
    n = n_chains if n_chains is not None else (batch_size or len(samples))
    if isinstance(n, numbers.Integral) and n > 0:  # else refused below, naming n_chains
        check_work(k, float(n_steps) * n * N, f"Monte Carlo training (n_steps={n_steps} updates "
                   f"x {chains} x N={N} units per sweep)", "n_steps or n_chains")
    prob = _exact_twin(template, data, samples, law, k, protocol, rule, scan, p0, m, rho)

    def positive(model, batch):  # ⟨φ_θ⟩ of the data: exact from a law, else sampled
        if law is not None:
            return model.stats(law)
        return model.sample_stats(batch if batch is not None else samples)

    fixed = not template.STATS_DEPEND_ON_THETA
    full = positive(template, None) if fixed else None
    chains = None
    if protocol == "pcd":
        chains = initial_states(template.with_theta(theta), p0, n_chains,
                                int(rng.chain_key(seed, PCD_INIT)))
    if protocol == "buffer":  # the buffer rides in ``chains`` (the run's state, checkpointed)
        if np.ndim(p0) == 2:  # given start states: validated once, fresh starts are their rows
            p0 = np.array(initial_states(template, p0, None, 0))
        chains = _initial_buffer(template.with_theta(theta), p0, buffer_size,
                                 int(rng.chain_key(seed, BUFFER_INIT)))

    P = theta.shape[0]
    need = 8.0 * n_steps * (2 * P + 5)
    if need > MEMORY_BUDGET:
        raise memory_error(f"the history of n_steps={n_steps} updates of P={P} parameters", need,
                           "pass fewer n_steps (or continue a run from its checkpoint).")
    hist = dict(step=np.arange(n_steps), theta=np.empty((n_steps, P)),
                grad=np.empty((n_steps, P)), grad_norm=np.empty(n_steps),
                mismatch_k=np.empty(n_steps), mismatch_eq=np.full(n_steps, np.nan),
                mixing_time=np.full(n_steps, np.nan))
    velocity = np.zeros(P)
    ckpt = core.checkpointer(
        checkpoint, checkpoint_seconds, "monte_carlo.train", template,
        data=samples if samples is not None else law, k=k, protocol=protocol, rule=rule,
        scan=scan, p0=p0, n_chains=n_chains, lr=lr, momentum=momentum, tol=tol, theta0=theta,
        mask=m, batch_size=batch_size, seed=seed, theta_max=theta_max,
        **({} if rho is None else dict(rho=rho, buffer_size=buffer_size)))
    state, first = ckpt.resume(n_steps, lambda state, step: _check_state(
        state, step, hist, N, len(chains) if protocol in ("pcd", "buffer") else None))
    if state is not None:
        theta, velocity = state["theta"], state["velocity"]
        chains = state["chains"] if protocol in ("pcd", "buffer") or first else chains
        for key, done in state["hist"].items():
            hist[key][:first] = done
    report = Progress("mc_training", progress, n_steps)

    # The run's state is one tuple (update count, theta, velocity, chains), rebound in a single
    # store: an interruption anywhere sees the state before or after an update, never a mix.
    current = (first, theta, velocity, chains)

    def snapshot(cur):
        done, th, vel, ch = cur
        return dict(step=done, theta=th, velocity=vel,
                    chains=np.zeros((0, N), np.int8) if ch is None else ch,
                    hist={key: a[:done].copy() for key, a in hist.items()})

    converged = False
    try:
        for step in range(first, n_steps):
            if ckpt.due():
                ckpt.save(snapshot(current))
            _, theta, velocity, chains = current
            model_t = template.with_theta(theta)
            batch = batches(step) if batches is not None else None
            if protocol == "buffer":
                negatives, new_chains = _buffer.mc_update(
                    model_t, chains, p0, k, rule, scan, n_chains, rho, seed, step,
                    int(rng.chain_key(seed, step)))
            else:
                start, n = _negative_start(model_t, protocol, p0, chains, batch, law, n_chains,
                                           seed, step)
                negatives = new_chains = sample(model_t, start, k, rule=rule, scan=scan,
                                                n_chains=n, seed=int(rng.chain_key(seed, step)))
            chain_stats = model_t.sample_stats(negatives)
            data_full = full if fixed else positive(model_t, None)
            data_batch = data_full if batch_size is None else positive(model_t, batch)
            grad = np.where(m, data_batch - chain_stats, 0.0)
            mismatch = float(np.max(np.abs(data_full - chain_stats)[m]))
            hist["theta"][step] = theta
            hist["grad"][step] = grad
            hist["grad_norm"][step] = np.linalg.norm(grad)
            hist["mismatch_k"][step] = mismatch
            if float(np.max(np.abs(grad))) <= tol:
                converged = True
                current = (step + 1, theta, velocity, new_chains)
                break
            new_theta, new_velocity = core.heavy_ball(theta, velocity, grad, lr, momentum)
            stop = monitor(step + 1, new_theta[m], grad[m])
            if stop:
                raise core.divergence_error(stop, prob, new_theta, lr, momentum)
            current = (step + 1, new_theta, new_velocity, new_chains)
            report(step + 1, "|grad| {:.3e}  mismatch {:.3e}", hist["grad_norm"][step], mismatch)
    except KeyboardInterrupt:
        ckpt.save(snapshot(current))
        raise
    if ckpt.active:
        ckpt.save(snapshot(current))
    step, theta, velocity, chains = current
    n_done = step
    history = History.from_columns({key: a[:n_done] for key, a in hist.items()})
    gmax = float(np.max(np.abs(history.grad[-1]))) if n_done else np.nan
    message = core.result_message(converged, gmax, tol, n_done)
    settings = dict(n_chains=n_chains, lr=lr, momentum=momentum, n_steps=n_steps, tol=tol,
                    seed=seed, batch_size=batch_size,
                    **({} if rho is None else dict(rho=rho, buffer_size=buffer_size)))
    return TrainingResult(theta, prob, history, converged, n_done, message, chains=chains,
                          settings=settings)


def _initial_buffer(model, p0, size, seed):
    """The initial replay buffer: ``size`` draws of p0 (a law or 'uniform'), or rows of given
    start states drawn at random."""
    if np.ndim(p0) == 2:
        return p0[np.random.default_rng(seed).integers(0, len(p0), size=size)]
    return initial_states(model, p0, size, seed)


def _exact_twin(template, given, samples, law, k, protocol, rule, scan, p0, mask, rho=None):
    """The exact :class:`Problem` of a Monte Carlo run: the data's law (the ``teachers.Data``
    given, or the empirical histogram of ``samples`` over the states, indexed by
    ``template.index_of``) and p0 as a law (uniform, the given law, or the histogram of given
    start states; the data for cd), built by :func:`~shortrun.numerics.training.problem` like
    the exact trainer's (so the perturbed mode moves both alike).  ``data=None`` (exact methods
    refused) beyond
    :data:`EXACT_PROBLEM_MAX_STATES` states, and for a law or samples over a state space that is
    not 2^N when no ``teachers.Data`` of it was given."""
    n = template.n_states
    binary = all(q == 2 for q in template.levels)
    if n > EXACT_PROBLEM_MAX_STATES or not (binary or isinstance(given, teachers.Data)):
        return Problem(None, template, k, protocol, rule, scan, None, mask, rho)

    def histogram(states):
        counts = np.bincount(template.index_of(states), minlength=n)
        return counts / counts.sum()

    if isinstance(given, teachers.Data):
        data = given
    else:
        p = np.asarray(law, float) if law is not None else histogram(samples)
        data = teachers.Data(p, None if samples is None else len(samples),
                             "law" if law is not None else "samples")
    if protocol == "cd":
        start = None                        # problem() starts cd at the data
    elif isinstance(p0, str) or np.ndim(p0) == 1:
        start = p0
    else:
        start = histogram(p0)
    with warnings.catch_warnings():         # a twin is built quietly, as it always was
        warnings.simplefilter("ignore", NotBoltzmannWarning)
        return problem(data, k, protocol, rule, scan, start, mask, model=template, rho=rho)

