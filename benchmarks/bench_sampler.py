"""Spin updates per second of the numba sampler against a numpy sampler vectorised over chains.

Setting: N = 64 SK model (J_ij ~ N(0, 1/N), h = 0, beta = 1), 10^4 chains, sequential
heat-bath, all cores.  The baseline computes, for each site i, the fields of all chains with BLAS
(``H = h_i + S @ J[:, i]``) and draws the new spins with numpy's generator.

    python benchmarks/bench_sampler.py [--chains 10000] [--sweeps 20] [--N 64]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numba
import numpy as np

from shortrun.numerics import sampling
from shortrun.numerics.models import BoltzmannMachine


def sk_model(N, beta=1.0, seed=0):
    """SK couplings J_ij ~ N(0, beta^2/N), zero fields."""
    g = np.random.default_rng(seed)
    J = np.triu(g.normal(0.0, beta / np.sqrt(N), (N, N)), 1)
    return BoltzmannMachine(np.zeros(N), J + J.T)


def numpy_sequential_heatbath(model, S, sweeps, gen):
    """Baseline: S (n_chains, N) float64 ±1, updated in place site by site (vectorised over chains)."""
    h, J = model.h, np.asfortranarray(model.J)
    n, N = S.shape
    for _ in range(sweeps):
        for i in range(N):
            H = h[i] + S @ J[:, i]
            u = gen.random(n)
            S[:, i] = np.where(u * (1.0 + np.exp(-2.0 * H)) < 1.0, 1.0, -1.0)
    return S


def best_rate(fn, n_updates, repeat):
    """Best updates/s over ``repeat`` timed runs of fn()."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_updates / best, best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=64)
    ap.add_argument("--chains", type=int, default=10_000)
    ap.add_argument("--sweeps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    model = sk_model(args.N)
    n_up = args.N * args.chains * args.sweeps
    print(f"N={args.N} SK (beta=1), {args.chains} chains, {args.sweeps} sweeps, sequential "
          f"heat-bath; {os.cpu_count()} cores, numba threads={numba.get_num_threads()}, "
          f"numpy {np.__version__}, numba {numba.__version__}, {platform.processor() or platform.machine()}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    sampling.sample(model, "uniform", 1, scan="sequential", n_chains=8, seed=1)  # compile / load cache
    p0 = sampling.sample(model, "uniform", 0, n_chains=args.chains, seed=2)
    rate_nb, t_nb = best_rate(
        lambda: sampling.sample(model, p0, args.sweeps, scan="sequential", seed=3), n_up, args.repeat)
    gen = np.random.default_rng(4)
    rate_np, t_np = best_rate(
        lambda: numpy_sequential_heatbath(model, p0.astype(np.float64), args.sweeps, gen),
        n_up, args.repeat)
    rows = [("numba sampling.sample", rate_nb, t_nb), ("numpy + BLAS baseline", rate_np, t_np)]
    print(f"{'method':<24}{'updates/s':>14}{'time (s)':>11}{'ratio':>8}")
    for name, rate, t in rows:
        print(f"{name:<24}{rate:>14.3e}{t:>11.3f}{rate / rate_np:>8.2f}")


if __name__ == "__main__":
    main()
