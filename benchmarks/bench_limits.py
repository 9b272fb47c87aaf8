"""The real limits of the matrix-free exact kernels: time and memory of one step at N = 20, 22, 25.

For each N (the SK couplings of ``bench_kernel.py``, heat-bath, a random law p0) and each scan,
one fresh process builds the kernel and applies one step to p0: a sequential sweep, a
random-scan sweep U = R^N, and the continuous-time law at t = 1 (uniformisation). Printed: the
best wall time of ``--repeat`` applications with numba on one thread and on all threads, the
ratio to the sequential sweep (the baseline, same N, same run), and the peak memory of the step
beyond the law p0 it starts from: the arrays allocated from building the kernel to the end of
the first step, as ``tracemalloc`` counts them (numpy arrays; the numba code is loaded before,
by a step at N = 16). One process per (N, scan). Expect a few minutes at N = 25.

    .venv/bin/python benchmarks/bench_limits.py [--N 20 22 25] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc

SCANS = ("sequential", "random", "continuous")


def one(N, scan, repeat):
    """Run in the child: time and peak memory of one step of ``scan`` at size N."""
    import numba
    import numpy as np

    from bench_kernel import sk_model  # the couplings of bench_kernel.py
    from shortrun.numerics import kernels

    def setup(N):
        p = np.random.default_rng(1).random(1 << N)
        p /= p.sum()
        K = kernels.BMKernel(sk_model(N, 1.0), "heatbath", scan)
        return (lambda: K.propagate(p, 1.0)) if scan == "continuous" else (lambda: K.apply(p))

    setup(16)()                                      # compile or load the numba caches first
    tracemalloc.start()
    step = setup(N)                                  # the kernel's tables count, p0 does not
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    out = step()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    assert abs(out.sum() - 1.0) < 1e-9
    times = {}
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        best = np.inf
        for _ in range(repeat):
            t = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - t)
        times[threads] = best
    return {"times": times, "memory": peak}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, nargs="+", default=[20, 22, 25])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one(int(args.child[0]), args.child[1], args.repeat)))
        return
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; SK couplings, "
          "heat-bath; best of", args.repeat, "steps; ratio to the sequential sweep (same N)")
    head = (f"{'N':>3} {'step':<22} {'1 thread [s]':>13} {'ratio':>7} {'all threads [s]':>16} "
            f"{'ratio':>7} {'memory [GB]':>12}")
    print(head)
    print("-" * len(head))
    for N in args.N:
        base = None
        for scan in SCANS:
            run = subprocess.run([sys.executable, __file__, "--child", str(N), scan,
                                  "--repeat", str(args.repeat)], capture_output=True, text=True)
            if run.returncode:
                print(f"{N:>3} {scan:<22} failed: {run.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            t1, tn = (r["times"][k] for k in sorted(r["times"], key=int))
            base = base or (t1, tn)
            label = {"sequential": "sequential sweep", "random": "random-scan sweep R^N",
                     "continuous": "continuous time t = 1"}[scan]
            print(f"{N:>3} {label:<22} {t1:>13.3f} {t1 / base[0]:>6.1f}x {tn:>16.3f} "
                  f"{tn / base[1]:>6.1f}x {r['memory'] / 1e9:>12.3f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
