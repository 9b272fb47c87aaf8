r"""Monte Carlo training of a Boltzmann machine with short-run chains (Rdm-k, CD-k, PCD-k).

Each update is a stochastic estimate of the biased gradient (G4),

.. math::
    \tilde\nabla L = \langle\phi\rangle_{\rm data} - \langle\phi\rangle_{p(k, p_0)},\qquad
    \phi(s) = (s_i,\ s_i s_j)_{i<j} = -\partial E/\partial\theta,

with the negative phase taken from ``n_chains`` chains after k sweeps of
:func:`shortrun.numerics.sampling.sample` and

.. math:: v \leftarrow \mu v + \tilde\nabla L,\qquad \theta \leftarrow \theta + \ell\, v

(``lr`` = ℓ, ``momentum`` = μ).  The protocol says where the chains start at each update (SPEC §1):

* ``'rdm'`` — fresh chains from the fixed ``p0`` (uniform by default); fixed point (G5):
  ⟨φ⟩ of the k-step process equals ⟨φ⟩ of the data;
* ``'cd'`` — chains start at data samples (the current minibatch);
* ``'pcd'`` — chains persist from one update to the next (started once from ``p0``).

Everything is a function of ``seed``: the minibatches of epoch e come from
``numpy.random.default_rng([seed, 0, e])`` and the chains of update n from the counter-based
seed ``rng.chain_key(seed, n)``, so a run is bit-reproducible whatever the number of threads
(and can resume from a checkpoint, :mod:`shortrun.numerics.checkpoint`).  The exact twin (distributions instead of
chains) is :mod:`shortrun.numerics.training`.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from shortrun.numerics.core import rng

from shortrun.numerics.sampling import spins as sampling
from shortrun.numerics.core.checkpoint import Checkpointer, fingerprint
from shortrun.numerics.models.boltzmann import BoltzmannMachine
from shortrun.numerics.core.moments import n_spins, stats as exact_stats
from shortrun.numerics.core.progress import Progress
from shortrun.conventions import RULES, SCANS, check_choice, check_distribution, check_steps

__all__ = ["train", "MCTrainResult", "MCHistory", "PROTOCOLS"]

PROTOCOLS = ("rdm", "cd", "pcd")
#: Reserved update number whose seed draws the initial persistent chains.
PCD_INIT = 1 << 62


@dataclass(frozen=True)
class MCHistory:
    """One row per update t = 0 … n_steps−1 (the twin of ``training.History``).

    ``theta[t]`` is the parameter vector at which the gradient estimate ``grad[t]`` =
    ⟨φ⟩_batch − ⟨φ⟩_chains was measured and used; ``grad_norm`` = ‖grad‖₂; ``mismatch_k`` =
    ‖⟨φ⟩_data − ⟨φ⟩_chains‖∞ against the full data (the statistics Rdm/CD-k training matches,
    G5, up to Monte Carlo noise of order 1/√n_chains).
    """

    step: np.ndarray
    theta: np.ndarray
    grad: np.ndarray
    grad_norm: np.ndarray
    mismatch_k: np.ndarray


@dataclass(frozen=True)
class MCTrainResult:
    """Outcome of :func:`train`: final ``theta`` (``concat(h, J[triu_indices(N, 1)])``), the
    :class:`MCHistory`, the negative ``chains`` after the last update (int8, the persistent chains
    for ``'pcd'``), ``N`` and the ``settings`` used."""

    theta: np.ndarray
    history: MCHistory
    chains: np.ndarray
    N: int
    settings: dict = field(default_factory=dict)

    @property
    def model(self):
        """The trained :class:`BoltzmannMachine`."""
        return BoltzmannMachine.from_theta(self.theta, self.N)


def _data_source(data, batch_size):
    """Normalise ``data``: returns (N, samples or None, law or None, full-data ⟨φ⟩).

    Accepts (M, N) ±1 samples (any N), a probability vector over 2^N states, or an object with
    attributes ``p`` and ``stats`` (a ``teachers.Data``).
    """
    if hasattr(data, "p") and hasattr(data, "stats"):
        data = data.p
    if isinstance(data, str) or np.ndim(data) not in (1, 2):
        raise ValueError("data must be ±1 samples of shape (M, N), a probability vector of "
                         "length 2^N, or a teachers.Data.")
    if np.ndim(data) == 1:
        if batch_size is not None:
            raise ValueError("batch_size needs data as samples; with an exact data law pass "
                             "batch_size=None.")
        N = n_spins(data)
        p = check_distribution(data, 1 << N, "data")
        return N, None, p, exact_stats(p)
    samples = sampling.check_states(data, np.shape(data)[1], "data")
    if batch_size is not None and not 1 <= sampling.check_n_chains(batch_size) <= len(samples):
        raise ValueError(f"batch_size={batch_size} must be between 1 and the {len(samples)} "
                         "samples.")
    return samples.shape[1], samples, None, sampling.stats(samples)


def _theta0(theta0, N):
    P = N + N * (N - 1) // 2
    if theta0 is None:
        return np.zeros(P)
    theta = np.array(getattr(theta0, "theta", theta0), dtype=float)
    if theta.shape != (P,) or not np.all(np.isfinite(theta)):
        raise ValueError(f"theta0 must be a finite vector of N + N(N-1)/2 = {P} entries "
                         "(concat(h, J[triu_indices(N, 1)])), a BoltzmannMachine, or None.")
    return theta


def _param_name(a, N):
    if a < N:
        return f"h_{a}"
    i, j = (int(x[a - N]) for x in np.triu_indices(N, 1))
    return f"J_({i},{j})"


def divergence(theta, step, N, theta_max):
    """The reason why ``theta`` counts as diverged after ``step`` updates, or None."""
    bad = np.flatnonzero(~np.isfinite(theta))
    if bad.size:
        return (f"training diverged at update {step}: {_param_name(int(bad[0]), N)} is "
                f"{theta[bad[0]]} (not finite); lower lr or momentum.")
    a = int(np.argmax(np.abs(theta)))
    if abs(theta[a]) > theta_max:
        return (f"training diverged at update {step}: |{_param_name(a, N)}| = "
                f"{abs(theta[a]):.4g} > theta_max = {theta_max:g}.  Either no finite fixed point "
                "of (G5) exists (SPEC §4.1: with random-scan heat-bath from uniform p0 a field "
                "runs to infinity when |m_D| >= 1 - q, q = (1-1/N)^(kN)) or lr is too large; "
                "raise theta_max if large parameters are expected.")
    return None


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


def _check_rates(lr, momentum, theta_max):
    for name, x, ok, fix in (("lr", lr, lambda v: v >= 0, "a learning rate >= 0"),
                             ("momentum", momentum, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                             ("theta_max", theta_max, lambda v: v > 0, "a positive bound")):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real) \
                or not np.isfinite(x) or not ok(x):
            raise ValueError(f"{name}={x!r} must be {fix}.")


def _negative_start(protocol, p0, chains, batch, law, n_chains, N, seed, step):
    """Initial states (and n_chains for ``sample``) of the negative chains of one update."""
    if protocol == "rdm":
        return p0, (None if np.ndim(p0) == 2 else n_chains)
    if protocol == "pcd":
        return chains, None
    if law is not None:  # cd from an exact law: n_chains draws from p_data
        return sampling.initial_states(law, N, n_chains, seed)[0], None
    if n_chains is None or n_chains == len(batch):  # cd: the minibatch itself
        return batch, None
    gen = np.random.default_rng([seed, 1, step])  # cd: n_chains draws from the minibatch
    return batch[gen.integers(0, len(batch), size=n_chains)], None


def train(data, k, protocol="rdm", rule="heatbath", scan="random", p0=None, *, n_chains=None,
          lr=0.1, momentum=0.0, n_steps=1000, theta0=None, batch_size=None, seed=0,
          theta_max=50.0, progress=None, checkpoint=None, checkpoint_seconds=60.0):
    r"""Train a BM by stochastic ascent on the biased gradient (G4) with short-run chains.

    .. math:: v \leftarrow \mu v + \langle\phi\rangle_{\rm batch} - \overline{\phi}_{\rm chains(k)},
              \qquad \theta \leftarrow \theta + \ell\,v .

    Same arguments as the exact :func:`shortrun.numerics.training.train` where they apply.

    Parameters
    ----------
    data : (M, N) ±1 samples, probability vector of length 2^N, or ``teachers.Data``
        With a law, ⟨φ⟩_data is exact (``moments.stats``) and only the chains are sampled.
    k : int
        Sweeps per update (a real time in sweeps for ``scan='continuous'``).
    protocol : {'rdm', 'cd', 'pcd'}
        (``'eq'`` needs the exact law: use the exact trainer.)
    rule, scan
        As in :func:`shortrun.numerics.sampling.sample`.
    p0 : 'uniform' (None), probability vector, or (n_chains, N) states
        Start of the rdm chains at every update, of the pcd chains once; not for cd.
    n_chains : int, optional
        Negative chains (default 1000; cd with samples: the minibatch itself).
    lr, momentum : float
        Learning rate ℓ ≥ 0 (0 measures the gradient at ``theta0`` repeatedly), momentum μ ∈ [0, 1).
    n_steps : int
    theta0 : (P,) array or BoltzmannMachine, optional
        Start (zeros by default).
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
        uninterrupted run returns (``n_steps`` may grow). See :mod:`shortrun.numerics.checkpoint`.
    checkpoint_seconds : float
        Wall time between periodic saves (0: before every update).

    Returns
    -------
    MCTrainResult
    """
    protocol = check_choice(protocol, PROTOCOLS, "protocol")
    check_choice(rule, RULES, "rule")
    check_steps(k, "k", integer=check_choice(scan, SCANS, "scan") != "continuous")
    N, samples, law, full_stats = _data_source(data, batch_size)
    n_steps = check_steps(n_steps, "n_steps")
    seed = sampling.check_seed(seed)
    _check_rates(lr, momentum, theta_max)
    theta = _theta0(theta0, N)
    if protocol == "cd" and p0 is not None:
        raise ValueError("p0 must not be given for protocol='cd' (its chains start at the data); "
                         "use protocol='rdm' for chains from a fixed p0.")
    p0 = "uniform" if p0 is None else p0
    if protocol != "cd" or samples is None:
        n_chains = sampling.DEFAULT_CHAINS if n_chains is None else n_chains
    batches = _Batches(samples, batch_size or len(samples), seed) if samples is not None else None
    chains = None
    if protocol == "pcd":
        chains = sampling.initial_states(p0, N, n_chains, int(rng.chain_key(seed, PCD_INIT)))[0]

    data_key = samples if samples is not None else law
    P = theta.shape[0]
    hist = dict(theta=np.empty((n_steps, P)), grad=np.empty((n_steps, P)),
                grad_norm=np.empty(n_steps), mismatch_k=np.empty(n_steps))
    velocity = np.zeros(P)
    ckpt = Checkpointer(checkpoint, fingerprint(
        trainer="mc_training.train", data=data_key, k=k, protocol=protocol, rule=rule, scan=scan,
        p0=p0, n_chains=n_chains, lr=lr, momentum=momentum, theta0=theta, batch_size=batch_size,
        seed=seed, theta_max=theta_max), checkpoint_seconds)
    first = 0
    state = ckpt.load()
    if state is not None:
        first = state["step"]
        if first > n_steps:
            raise ValueError(f"checkpoint={str(checkpoint)!r} holds {first} updates, more than "
                             f"n_steps={n_steps}; pass n_steps >= {first}.")
        theta, velocity, chains = state["theta"], state["velocity"], state["chains"]
        for key, done in state["hist"].items():
            hist[key][:first] = done
    report = Progress("mc_training", progress, n_steps)

    def snapshot(step):  # the state before update ``step``
        return dict(step=step, theta=theta, velocity=velocity, chains=chains,
                    hist={key: a[:step].copy() for key, a in hist.items()})

    step = first
    try:
        for step in range(first, n_steps):
            if ckpt.due():
                ckpt.save(snapshot(step))
            step_seed = int(rng.chain_key(seed, step))
            batch = batches(step) if batches is not None else None
            start, n = _negative_start(protocol, p0, chains, batch, law, n_chains, N, seed, step)
            new_chains = sampling.sample(BoltzmannMachine.from_theta(theta, N), start, k,
                                         rule=rule, scan=scan, n_chains=n, seed=step_seed)
            chain_stats = sampling.stats(new_chains)
            grad = (full_stats if batch_size is None else sampling.stats(batch)) - chain_stats
            hist["theta"][step] = theta
            hist["grad"][step] = grad
            hist["grad_norm"][step] = np.linalg.norm(grad)
            hist["mismatch_k"][step] = np.max(np.abs(full_stats - chain_stats))
            new_velocity = momentum * velocity + grad
            new_theta = theta + lr * new_velocity
            reason = divergence(new_theta, step + 1, N, theta_max)
            if reason:
                raise RuntimeError(reason)
            # the state moves to update step + 1 in one go (an interruption sees old or new)
            chains, velocity, theta = new_chains, new_velocity, new_theta
            report(step + 1, "|grad| {:.3e}  mismatch {:.3e}", hist["grad_norm"][step],
                   hist["mismatch_k"][step])
        step = n_steps
    except KeyboardInterrupt:
        ckpt.save(snapshot(step))
        raise
    if ckpt.active:
        ckpt.save(snapshot(n_steps))
    settings = dict(k=k, protocol=protocol, rule=rule, scan=scan, n_chains=n_chains, lr=lr,
                    momentum=momentum, n_steps=n_steps, seed=seed, batch_size=batch_size)
    return MCTrainResult(theta=theta, history=MCHistory(step=np.arange(n_steps), **hist),
                         chains=chains, N=N, settings=settings)
