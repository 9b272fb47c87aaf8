"""Spin updates per second of the numba sampler against a numpy sampler vectorised over chains.

Setting: N = 64 SK model (J_ij ~ N(0, 1/N), h = 0, beta = 1), 10^4 chains, sequential
heat-bath.  The baseline computes, for each site i, the fields of all chains with BLAS
(``H = h_i + S @ J[:, i]``) and draws the new spins with numpy's generator.  Two comparisons,
each interleaved (a busy spell hits both methods): all cores (wall time, the default thread
settings), and one thread each (numba and BLAS limited to one thread, CPU time of the process),
which a loaded machine does not distort; the load average is printed with each table.  Each
timed call starts after a pause of ``PAUSE`` seconds: the worker threads of the previous call
(OpenBLAS's and OpenMP's) spin-wait for a while after it, and would otherwise compete for the
cores with the next method (measured: up to 40% on the numba time at 2 cores).

    python benchmarks/bench_sampler.py [--chains 10000] [--sweeps 20] [--N 64]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

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


#: Seconds of idle cores before each timed call (see the module docstring).
PAUSE = 0.2


def timed(fn, clock=time.perf_counter):
    time.sleep(PAUSE)
    t0 = clock()
    fn()
    return clock() - t0


def environment():
    """One line about the machine and the thread settings."""
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS",
                                      "OMP_NUM_THREADS", "NUMBA_NUM_THREADS") if k in os.environ}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} cores, numba {numba.__version__} ({numba.get_num_threads()} threads,"
            f" layer {numba.threading_layer()}), numpy {np.__version__}, "
            f"{platform.machine()}, load average {load:.2f}, env {env or '{}'}")


def compare(runs, n_up, repeat):
    """Time ``runs`` (name -> callable, the baseline named 'numpy + BLAS baseline') interleaved,
    best of ``repeat``, on all cores (wall time) and on one thread each (CPU time); print
    updates per second and the ratio to the baseline."""
    for label, clock, limit in (("all cores, wall time", time.perf_counter, None),
                                ("one thread each, CPU time", time.process_time, 1)):
        best = {name: np.inf for name in runs}
        saved = numba.get_num_threads()
        numba.set_num_threads(limit or saved)
        with threadpool_limits(limit, user_api="blas"):
            for _ in range(repeat):  # interleaved, so that a busy spell hits both methods
                for name, fn in runs.items():
                    best[name] = min(best[name], timed(fn, clock))
        numba.set_num_threads(saved)
        base = n_up / best["numpy + BLAS baseline"]
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\n{label} (load average {load:.2f})")
        print(f"{'method':<24}{'updates/s':>14}{'time (s)':>11}{'ratio':>8}")
        for name, t in best.items():
            print(f"{name:<24}{n_up / t:>14.3e}{t:>11.3f}{n_up / t / base:>8.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=64)
    ap.add_argument("--chains", type=int, default=10_000)
    ap.add_argument("--sweeps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    model = sk_model(args.N)
    n_up = args.N * args.chains * args.sweeps
    sampling.sample(model, "uniform", 1, scan="sequential", n_chains=8, seed=1)  # compile / load
    p0 = sampling.sample(model, "uniform", 0, n_chains=args.chains, seed=2)
    gen = np.random.default_rng(4)
    runs = {
        "numba sampling.sample": lambda: sampling.sample(model, p0, args.sweeps,
                                                         scan="sequential", seed=3),
        "numpy + BLAS baseline": lambda: numpy_sequential_heatbath(
            model, p0.astype(np.float64), args.sweeps, gen),
    }
    print(f"N={args.N} SK (J_ij ~ N(0, 1/N), h = 0, beta = 1), {args.chains} chains, "
          f"{args.sweeps} sweeps of sequential heat-bath, best of {args.repeat}")
    print(environment())
    compare(runs, n_up, args.repeat)


if __name__ == "__main__":
    main()
