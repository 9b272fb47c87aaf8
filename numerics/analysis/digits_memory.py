r"""The memory effect of RBMs trained on the binarised digits with Rdm-k, CD-k and PCD-k.

For each protocol an RBM (64 visible units, ``n_hidden`` hidden) is trained by Monte Carlo
(:func:`shortrun.numerics.training.monte_carlo.train`, alternating Gibbs chains of k steps: Rdm
from uniform noise at every update, CD from the data, PCD from persistent chains), then

* sampled for t steps on a time grid (:func:`~shortrun.numerics.analysis.memory.time_grid`, t = k
  and t = 100k included) from the training p0 (uniform noise for Rdm and PCD, training images for
  CD): the error of the machine's statistics against the data and the sample quality (E2, E3)
  vs t (:func:`~shortrun.numerics.analysis.memory.sampled_memory_curve`) -- (M1);
* its exponential autocorrelation time (E4) is measured at parameters recorded along training
  (chains started at training images, projected on their top principal components) and compared
  with k: an Rdm machine can stay out of equilibrium (τ ≫ k) and still reproduce the data at t = k
  (G5); a PCD machine with small k drifts to τ ≫ k when its persistent chains stop mixing.

:data:`FAST` runs in a few minutes on 2 cores (the figures' fast mode), :data:`FULL` in about a
quarter of an hour, :data:`TINY` in seconds (tests of the figure script).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shortrun.conventions import MONTE_CARLO_PROTOCOLS, SAMPLED_PROTOCOLS, check_choice
from shortrun.numerics.analysis.memory import autocorrelation_time, sampled_memory_curve, time_grid
from shortrun.numerics.data import digits
from shortrun.numerics.models.rbm import RBM
from shortrun.numerics.training import monte_carlo

PROTOCOLS = SAMPLED_PROTOCOLS


@dataclass(frozen=True)
class Config:
    """Settings of one digits experiment (all runs seeded by ``seed``)."""

    n_hidden: int = 50
    k: int = 5
    protocols: tuple = PROTOCOLS
    n_steps: int = 1500          # training updates (full-batch positive phase)
    lr: float = 0.05
    momentum: float = 0.9
    n_chains: int = 500          # negative chains (CD: started at as many random training images)
    t_max_factor: int = 100      # the memory curve runs to t = t_max_factor * k
    n_sample_chains: int = 1000  # chains of the memory curve
    n_test: int = 360
    tau_points: int = 4          # autocorrelation times at this many points along training
    tau_chains: int = 100
    tau_steps: int = 3000
    tau_burn: int = 500
    seed: int = 0


FAST = Config()
FULL = Config(n_hidden=100, k=20, n_steps=3000, n_chains=1000, tau_points=7, tau_chains=100,
              tau_steps=10000, tau_burn=1000)
TINY = Config(n_hidden=8, k=2, n_steps=12, n_chains=60, t_max_factor=10, n_sample_chains=60,
              n_test=50, tau_points=2, tau_chains=20, tau_steps=40, tau_burn=4)


def check_config(cfg):
    """``cfg`` as a :class:`Config` (e.g. FAST, FULL, TINY), else a ValueError."""
    if not isinstance(cfg, Config):
        raise ValueError(f"cfg={cfg!r} must be a digits_memory.Config, e.g. FAST, FULL, TINY or "
                         "Config(k=10, ...).")
    return cfg


def template(train, n_hidden, seed):
    r"""Start of training: visible fields :math:`a_i = \operatorname{logit}\bar v_i` (pixel means
    clipped to [1e-3, 1 − 1e-3]), hidden fields 0, weights N(0, 0.01²) (seeded)."""
    mv = np.clip((np.asarray(train) > 0).mean(axis=0), 1e-3, 1 - 1e-3)
    W = np.random.default_rng(seed).normal(0.0, 0.01, (mv.size, n_hidden))
    return RBM(np.log(mv / (1 - mv)), np.zeros(n_hidden), W)


def _p0(protocol, train, n, seed):
    """Start of the memory-curve chains: noise (rdm, pcd) or n distinct training images (cd;
    drawn with replacement only when n exceeds the training set)."""
    if protocol != "cd":
        return "uniform"
    gen = np.random.default_rng([seed, 2])
    pick = gen.permutation(len(train))[:n] if n <= len(train) else gen.integers(0, len(train), n)
    return train[pick]


def run_protocol(cfg, protocol, data, progress=None, checkpoint=None):
    """Train one machine and measure it; returns a dict of arrays (keys without prefix)."""
    check_config(cfg)
    check_choice(protocol, MONTE_CARLO_PROTOCOLS, "protocol")
    start = template(data.train, cfg.n_hidden, cfg.seed)
    res = monte_carlo.train(data.train, cfg.k, protocol, scan="alternating", model=start,
                            theta0=start.theta, n_chains=cfg.n_chains,
                            lr=cfg.lr, momentum=cfg.momentum, n_steps=cfg.n_steps, seed=cfg.seed,
                            theta_max=1e3, progress=progress, checkpoint=checkpoint)
    model = res.model
    times = time_grid(cfg.t_max_factor * cfg.k, extra=(cfg.k, cfg.t_max_factor * cfg.k))
    curve = sampled_memory_curve(model, _p0(protocol, data.train, cfg.n_sample_chains, cfg.seed),
                                 times, data.train, data.test, n_chains=cfg.n_sample_chains,
                                 seed=cfg.seed + 1)
    steps = np.unique(np.linspace(0, cfg.n_steps - 1, cfg.tau_points).round().astype(int))
    taus, resolved = [], []
    for s in steps:
        ac = autocorrelation_time(start.with_theta(res.history.theta[s]), data.train,
                                  n_chains=cfg.tau_chains, n_steps=cfg.tau_steps,
                                  burn_in=cfg.tau_burn, seed=cfg.seed + 3)
        taus.append(ac.tau)
        resolved.append(bool(np.all(ac.resolved)))
    return dict(theta=res.theta, mismatch_k=res.history.mismatch_k, times=curve.times,
                stats_error=curve.stats_error, moments_error=curve.moments_error,
                aa_train=curve.aa_train, aa_test=curve.aa_test,
                energy_distance=curve.energy_distance, samples=curve.samples,
                tau_steps=steps, tau=np.array(taus), tau_resolved=np.array(resolved))


def run(cfg=FAST, progress=None, checkpoint_dir=None):
    """All protocols of ``cfg``; returns a flat dict of arrays ``'<protocol>_<key>'`` (the
    format of the figures' cache).  With ``checkpoint_dir`` each training run checkpoints there
    and a killed run resumes bit for bit."""
    check_config(cfg)
    data = digits.load(n_test=cfg.n_test, seed=cfg.seed)
    out = {}
    for protocol in cfg.protocols:
        ckpt = None
        if checkpoint_dir is not None:
            Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
            ckpt = Path(checkpoint_dir) / f"rbm_digits_{protocol}_{cfg.k}_{cfg.n_hidden}.npz"
        for key, val in run_protocol(cfg, protocol, data, progress, ckpt).items():
            out[f"{protocol}_{key}"] = val
    return out


def summary(cfg, results):
    """The measured numbers per protocol: best t (statistics error, AA against held-out data),
    errors at t = k and t = t_max_factor·k, τ along training."""
    lines = []
    for protocol in check_config(cfg).protocols:
        r = {key[len(protocol) + 1:]: v for key, v in results.items()
             if key.startswith(protocol + "_")}
        t, err, aa = r["times"], r["stats_error"], r["aa_test"]
        at = {int(x): i for i, x in enumerate(t)}
        far = cfg.t_max_factor * cfg.k
        taus = ", ".join(f"{s}:{x:.3g}{'' if ok else '+'}"
                         for s, x, ok in zip(r["tau_steps"], r["tau"], r["tau_resolved"]))
        lines.append(
            f"{protocol}-{cfg.k}: best t (stats) = {int(t[np.argmin(err)])}, best t (AA) = "
            f"{int(t[np.argmin(np.abs(aa - 0.5))])}; stats error t=k {err[at[cfg.k]]:.4f}, "
            f"t={far} {err[at[far]]:.4f}; AA(test) t=k {aa[at[cfg.k]]:.3f}, t={far} "
            f"{aa[at[far]]:.3f}; tau along training (update:tau, + = unresolved) {taus}")
    return lines


def params(cfg):
    """The settings as a plain dict (cache keys)."""
    return asdict(check_config(cfg))


__all__ = ["Config", "FAST", "FULL", "TINY", "PROTOCOLS", "params", "run", "run_protocol",
           "summary", "template"]
