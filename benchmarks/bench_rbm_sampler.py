"""Alternating Gibbs steps per second of the numba RBM sampler against a numpy + BLAS sampler.

Setting: N_v = 64 visible, N_h = 100 hidden units (W_ia ~ N(0, 1/N_v), fields ~ N(0, 0.25)),
10^4 chains, all cores.  The baseline draws a whole layer of all chains at once: the inputs by
one BLAS matrix product (``V @ W``, float64), the units by comparing numpy uniforms with the
sigmoid.  Both are timed in the same run, interleaved, best of ``--repeat``.

    python benchmarks/bench_rbm_sampler.py [--chains 10000] [--steps 20] [--nv 64] [--nh 100]
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.special import expit

from shortrun.numerics import models, sampling

from bench_sampler import environment, timed


def numpy_block_gibbs(model, V, steps, gen):
    """Baseline: V (n_chains, N_v) float64 in {0,1}; each half step one BLAS product."""
    W, WT = np.asfortranarray(model.W), np.asfortranarray(model.W.T)
    for _ in range(steps):
        H = (gen.random((V.shape[0], model.N_h)) < expit(V @ W + model.b)).astype(np.float64)
        V = (gen.random(V.shape) < expit(H @ WT + model.a)).astype(np.float64)
    return V


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nv", type=int, default=64)
    ap.add_argument("--nh", type=int, default=100)
    ap.add_argument("--chains", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    model = models.RBM.random(args.nv, args.nh, seed=0, scale=1.0)
    sampling.sample(model, "uniform", 1, scan="alternating", n_chains=8, seed=1)  # compile
    p0 = sampling.sample(model, "uniform", 5, scan="alternating", n_chains=args.chains, seed=2)
    gen = np.random.default_rng(4)
    runs = {
        "numba sampling.sample": lambda: sampling.sample(
            model, p0, args.steps, scan="alternating", seed=3),
        "numpy + BLAS baseline": lambda: numpy_block_gibbs(
            model, (p0 + 1) / 2.0, args.steps, gen),
    }
    best = {name: np.inf for name in runs}
    for _ in range(args.repeat):  # interleaved, so that a busy spell hits every method
        for name, fn in runs.items():
            best[name] = min(best[name], timed(fn))
    n_steps = args.chains * args.steps
    print(f"RBM N_v={args.nv}, N_h={args.nh}, {args.chains} chains, {args.steps} alternating "
          f"Gibbs steps, best of {args.repeat}")
    print(environment())
    base = best["numpy + BLAS baseline"]
    for name, t in best.items():
        print(f"  {name:25s} {t:8.3f} s  {n_steps / t / 1e6:7.3f} M chain-steps/s  "
              f"ratio to baseline {base / t:5.2f}x")


if __name__ == "__main__":
    main()
