r"""The memory effect of a ConvNet EBM trained with short-run Langevin (M1).

A machine trained with K-step chains (:mod:`~shortrun.numerics.neural.training`) is sampled from the same p0 (uniform
noise on [-1, 1]^64) for t steps of (L1) on a logarithmic grid from K/10 to 100 K, and the
samples are scored at every t against held-out digits (:mod:`~shortrun.numerics.neural.quality`).  By the fixed-point
condition (G5) the Rdm-K machine's K-step process — not its Gibbs law — reproduces the data's
statistics ⟨∂E/∂θ⟩ (up to the energy-magnitude penalty of (L2)), so the samples are best near
t = K and degrade for t ≫ K (here: the chains
keep lowering their energy into over-saturated strokes); the CD-K and PCD-K machines are
sampled the same way for comparison.

:data:`FAST` (a few minutes on two CPU cores) and :data:`FULL` are the two sizes used by the
benchmark script and the figure; :data:`TINY` (seconds, K = 5) exercises the figure in tests.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shortrun.conventions import SAMPLED_PROTOCOLS
from shortrun.numerics.analysis import memory as analysis_memory
from shortrun.numerics.neural import digits, energies, langevin, quality, training

__all__ = ["Config", "FAST", "FULL", "TINY", "time_grid", "run", "best_time",
           "settings"]


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


def run(config=FAST, progress=None, checkpoint_dir=None):
    """Train one machine per protocol and score its samples over the time grid.

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
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"convnet-{p}.ckpt"
        t0 = time.perf_counter()
        res = training.train(energy, data.train, c.k, p, eta=c.eta, sigma2=c.sigma2,
                             n_chains=c.n_chains, batch_size=c.batch_size, lr=c.lr,
                             n_steps=c.n_steps, seed=c.seed, energy_penalty=c.energy_penalty,
                             grad_clip=c.grad_clip, box=c.box, progress=progress,
                             checkpoint=ckpt)
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
    return out


def settings(config):
    """The config as plain values (for cache keys and reports)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}

