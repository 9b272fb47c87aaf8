r"""The memory effect of a ConvNet EBM trained with short-run Langevin (M1).

A machine trained with K-step chains (:mod:`~shortrun.numerics.neural.training`) is sampled from the same p0 (uniform
noise on [-1, 1]^64) for t steps of (L1) on a logarithmic grid from K/10 to 100 K, and the
samples are scored at every t against held-out digits (:mod:`~shortrun.numerics.neural.quality`).  By the fixed-point
condition (G5) the Rdm-K machine's K-step process — not its Gibbs law — reproduces the data's
statistics ⟨∂E/∂θ⟩ (up to the energy-magnitude penalty of (L2)), so the samples are best near
t = K and degrade for t ≫ K (here: the chains
keep lowering their energy into over-saturated strokes); the CD-K and PCD-K machines are
sampled the same way for comparison.

The replay-buffer machine (``'buffer'``, (B1)-(B2); :func:`run_buffer`) is scored three ways:
its samples from noise over the same grid, samples of its final buffer, and the geometric-age
sampler (:func:`geometric_age_samples`: draw n ~ Geometric(1 − ρ), run nK steps from p0), whose
law is the stationary buffer (B2) that the buffer machine's fixed point matches to the data.

:data:`FAST` (a few minutes on two CPU cores) and :data:`FULL` are the two sizes used by the
benchmark script and the figure; :data:`TINY` (seconds, K = 5) exercises the figure in tests.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shortrun.conventions import SAMPLED_PROTOCOLS, check_count
from shortrun.numerics.analysis import memory as analysis_memory
from shortrun.numerics.neural import digits, energies, langevin, quality, training
from shortrun.numerics.training.buffer import check_rho

__all__ = ["Config", "FAST", "FULL", "TINY", "time_grid", "run", "best_time",
           "settings", "geometric_ages", "geometric_age_samples", "run_buffer"]


@dataclass(frozen=True)
class Config:
    """Sizes and settings of one memory-effect experiment (plain values, hashable)."""

    k: int = 20                       # Langevin steps per training update (K)
    n_steps: int = 500                # training updates
    channels: tuple = (12, 24, 24)    # ConvNet convolutions
    activation: str = "swish"
    eta: float = 1.0                  # Langevin step
    sigma2: float = 1e-4              # Langevin noise variance (sigma = 0.01)
    lr: float = 1e-3                  # Adam
    energy_penalty: float = training.ENERGY_PENALTY   # alpha of (L2)
    grad_clip: float | None = training.GRAD_CLIP      # largest ‖g‖ (None: no clip)
    box: tuple | None = training.BOX                  # (lo, hi) projection of the chains, (L2)
    batch_size: int = 64
    n_chains: int = 64                # negative chains per update (rdm, pcd)
    n_test: int = 300                 # held-out digits = samples scored per time
    t_max_factor: int = 100           # time grid K/10 ... t_max_factor * K
    n_shown: int = 8                  # samples kept per time for the image grids
    protocols: tuple = SAMPLED_PROTOCOLS
    seed: int = 0


FAST = Config()
FULL = Config(k=50, n_steps=1500, channels=(16, 32, 32), n_test=500)
TINY = Config(k=5, n_steps=150, channels=(4, 8), lr=3e-3, batch_size=32, n_chains=32, n_test=100)


def time_grid(k, t_max_factor=100):
    """The project's memory time grid (:data:`shortrun.numerics.analysis.memory.TIME_GRID`) from
    K/10 to ``t_max_factor``·K, with K/10 (rounded), K and ``t_max_factor``·K included."""
    first = max(1, round(k / 10))
    t = analysis_memory.time_grid(t_max_factor * k, extra=(first, k, t_max_factor * k))
    return np.array([ti for ti in t if ti >= first], dtype=np.int64)


def best_time(t, values):
    """The grid time with the lowest value (e.g. of the energy distance)."""
    return int(np.asarray(t)[int(np.nanargmin(values))])


def run(config=FAST, progress=None, checkpoint_dir=None, machines=None):
    """Train one machine per protocol and score its samples over the time grid.

    ``machines``: an optional dict that receives, per protocol p, ``machines[p] = (result,
    samples)``: the :class:`~shortrun.numerics.neural.training.TrainingResult` and the samples
    from noise at every time, shape (len(t), n_test, 64) (for further scores).

    Returns
    -------
    dict of numpy arrays: ``t``; per protocol p: ``{p}_energy_distance``,
    ``{p}_adversarial_accuracy``, ``{p}_confidence``, ``{p}_mean_energy`` (over t),
    ``{p}_data_energy`` and ``{p}_train_energy`` (mean energy of the held-out and of the
    training digits), ``{p}_samples``
    (len(t), n_shown, 64), ``{p}_train_seconds``, ``{p}_gap`` (training history); and
    ``baseline_energy_distance``, ``baseline_adversarial_accuracy``, ``baseline_confidence``:
    the training digits scored the same way (what a perfect sampler reaches).
    """
    c = config
    data = digits.load(n_test=c.n_test, seed=c.seed)
    clf = quality.classifier(data.train, data.train_labels, seed=c.seed)
    test = data.test.astype(np.float64)
    t = time_grid(c.k, c.t_max_factor)
    energy = energies.convnet(c.channels, c.activation)
    gen = np.random.default_rng([c.seed, 1])
    ref = data.train[gen.choice(len(data.train), c.n_test, replace=False)].astype(np.float64)
    out = {"t": t, **{f"baseline_{k}": np.asarray(v) for k, v in quality.score(ref, test, clf).items()}}
    x0 = langevin.uniform(langevin.as_key(c.seed, 1), c.n_test, energy.dim, energy.dtype)
    for p in c.protocols:
        _score_machine(out, p, c, energy, data, clf, test, t, x0, progress, checkpoint_dir,
                       machines=machines)
    return out


def _score_machine(out, p, c, energy, data, clf, test, t, x0, progress, checkpoint_dir,
                   machines=None, **extra):
    """Train the ``p`` machine of config ``c`` and put its scores over ``t`` into ``out`` (keys
    ``{p}_…``); ``extra``: more arguments of :func:`training.train`; ``machines``: dict that
    receives ``(result, samples)`` under ``p``.  Returns the training result."""
    ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"convnet-{p}.ckpt"
    t0 = time.perf_counter()
    res = training.train(energy, data.train, c.k, p, eta=c.eta, sigma2=c.sigma2,
                         n_chains=c.n_chains, batch_size=c.batch_size, lr=c.lr,
                         n_steps=c.n_steps, seed=c.seed, energy_penalty=c.energy_penalty,
                         grad_clip=c.grad_clip, box=c.box, progress=progress,
                         checkpoint=ckpt, **extra)
    out[f"{p}_train_seconds"] = np.asarray(time.perf_counter() - t0)
    out[f"{p}_gap"] = res.gap
    samples = langevin.sample(energy, res.params, x0, t, c.eta, c.sigma2,
                              key=langevin.as_key(c.seed, 2), box=c.box,
                              allow_divergence=True)   # diverged chains score inf
    rows = [quality.score(s.astype(np.float64), test, clf) for s in samples]
    for name in rows[0]:
        out[f"{p}_{name}"] = np.array([r[name] for r in rows])
    apply = energies.jit_apply(energy)
    out[f"{p}_mean_energy"] = np.array([float(np.mean(apply(res.params, s))) for s in samples])
    out[f"{p}_data_energy"] = np.asarray(float(np.mean(apply(res.params, data.test))))
    out[f"{p}_train_energy"] = np.asarray(float(np.mean(apply(res.params, data.train))))
    out[f"{p}_samples"] = samples[:, :c.n_shown]
    if machines is not None:
        machines[p] = (res, samples)
    return res


def geometric_ages(n, rho, seed):
    r"""``n`` chain ages :math:`n_i \sim \mathrm{Geometric}(1-\rho)` on {1, 2, …}
    (:math:`P(n) = (1-\rho)\rho^{n-1}`, the weights of (B2)), drawn with
    ``default_rng([seed, 3])``."""
    rho = check_rho(rho)
    n = check_count(n, "n")
    return np.random.default_rng([check_count(seed, "seed", minimum=0), 3]).geometric(
        1.0 - rho, size=n).astype(np.int64)


def geometric_age_samples(energy, params, x0, k, rho, eta, sigma2, key=0, box=None, seed=0):
    r"""The geometric-age sampler of (B2): row i of ``x0`` (draws of p0) runs :math:`n_i k` steps
    of (L1), :math:`n_i \sim \mathrm{Geometric}(1-\rho)` (:func:`geometric_ages`), so the rows
    are draws of :math:`B^* = (1-\rho)\sum_{n\ge1}\rho^{n-1}U^{nk}p_0`, the stationary buffer law.

    One pass of :func:`langevin.sample` over the distinct times :math:`n_i k`, the chain of row i
    read at its own time.  Returns ``(samples, ages)``; diverged chains are returned as they are
    (non-finite rows score inf).
    """
    x0 = np.asarray(x0)
    k = check_count(k, "k")
    ages = geometric_ages(len(x0), rho, seed)
    times = np.unique(ages) * k
    chains = langevin.sample(energy, params, x0, times, eta, sigma2, key=key, box=box,
                             allow_divergence=True)
    pos = np.searchsorted(times, ages * k)
    return np.asarray(chains)[pos, np.arange(len(x0))], ages


def run_buffer(config=FAST, rho=None, buffer_size=None, progress=None, checkpoint_dir=None):
    """Train the replay-buffer machine (protocol ``'buffer'``) with the sizes of ``config`` and
    score it like :func:`run` scores the Rdm-K, CD-K and PCD-K machines.

    Returns
    -------
    dict of numpy arrays: ``t`` and the keys ``buffer_…`` of :func:`run` (samples from noise
    over ``t``); ``replay_{score}`` (``n_test`` entries of the final buffer, drawn without
    replacement; all of them if the buffer is smaller), ``geometric_{score}`` and
    ``geometric_ages`` (:func:`geometric_age_samples` from the same noise as the curve),
    ``replay_samples``, ``geometric_samples`` (``n_shown`` each), ``rho``, ``buffer_size``.
    """
    c = config
    rho = check_rho(rho)
    buffer_size = training.BUFFER_SIZE if buffer_size is None else buffer_size
    data = digits.load(n_test=c.n_test, seed=c.seed)
    clf = quality.classifier(data.train, data.train_labels, seed=c.seed)
    test = data.test.astype(np.float64)
    t = time_grid(c.k, c.t_max_factor)
    energy = energies.convnet(c.channels, c.activation)
    x0 = langevin.uniform(langevin.as_key(c.seed, 1), c.n_test, energy.dim, energy.dtype)
    out = {"t": t, "rho": np.asarray(rho), "buffer_size": np.asarray(buffer_size)}
    res = _score_machine(out, "buffer", c, energy, data, clf, test, t, x0, progress,
                         checkpoint_dir, rho=rho, buffer_size=buffer_size)
    gen = np.random.default_rng([c.seed, 4])
    pick = gen.choice(len(res.buffer), min(c.n_test, len(res.buffer)), replace=False)
    replay = res.buffer[pick].astype(np.float64)
    geo, ages = geometric_age_samples(energy, res.params, x0, c.k, rho, c.eta, c.sigma2,
                                      key=langevin.as_key(c.seed, 2), box=c.box, seed=c.seed)
    for name, s in (("replay", replay), ("geometric", geo.astype(np.float64))):
        for key, v in quality.score(s, test, clf).items():
            out[f"{name}_{key}"] = np.asarray(v)
        out[f"{name}_samples"] = s[:c.n_shown]
    out["geometric_ages"] = ages
    return out


def settings(config):
    """The config as plain values (for cache keys and reports)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}

