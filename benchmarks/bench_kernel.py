"""Matrix-free exact kernels: speed of the sweeps p -> U p, as ratios measured in the same run.

Prints, in one run (numba compiles on first use; cached):

1. N = 20 (SK couplings, heat-bath): one sequential sweep, one random-scan update R (fused, and
   the reference route that makes one pass over memory per site), one random-scan sweep
   U = R^N, and the continuous-time law at t = 1 (uniformisation: about 69 applications of R),
   each as a ratio to the sequential sweep.  Timings are interleaved (every round runs every
   route once, so that a busy spell of a shared machine hits all of them) and reported as the
   minimum over the rounds with the spread (median / minimum - 1), once with one numba thread
   (CPU time of the process) and once with all threads (wall time), each with the load average.
2. The sequential sweep against the machine's memory bound: 16 bytes per state per site at the
   main-memory copy bandwidth measured here (np.copyto of a 256 MiB float64 array, far larger
   than the last-level cache; one core, best of repeats).  Target >= 60 %.
3. The same sweep at strong couplings (local fields of order ±50): time, and a check that the
   result is finite and still sums to 1.
4. N = 12: the speed-up over the two obvious baselines, the N sparse single-site matrices
   (scipy.sparse CSR, 2 non-zeros per column) applied in turn, and the dense numpy U @ p.

Run: ``.venv/bin/python benchmarks/bench_kernel.py [--N 20] [--rounds 5]``.
"""
from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
import scipy.sparse as sp

from shortrun.numerics import kernels, models
from shortrun.numerics.kernels import dense
from shortrun.numerics.kernels import site_updates as su


def load():
    return os.getloadavg()[0]


def best_time(fn, repeat=7, number=1):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def interleaved(runs, rounds, clock):
    """``{name: array of times}``: every round runs every route once, in turn."""
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            t = clock()
            fn()
            times[name].append(clock() - t)
    return {name: np.array(t) for name, t in times.items()}


def sk_model(N, beta, seed=0, field=0.3):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, 1.0 / np.sqrt(N), (N, N)), 1)
    return models.BoltzmannMachine(beta * rng.normal(0.0, field, N), beta * (J + J.T))


def scan_table(N, rounds):
    """Routes at size N, one thread (CPU time) and all threads (wall time)."""
    n = 1 << N
    model = sk_model(N, 1.0)
    Ks = kernels.BMKernel(model, "heatbath", "sequential")
    Kr = kernels.BMKernel(model, "heatbath", "random")
    Kc = kernels.BMKernel(model, "heatbath", "continuous")
    p = np.random.default_rng(1).random(n)
    p /= p.sum()
    out = np.empty(n)
    runs = {
        "sequential sweep": lambda: Ks.apply(p),
        "R, fused": lambda: Kr.random_update(p),
        "R, one pass per site": lambda: su.random_update_by_site(p, out, Kr._rule, Kr._tables, N),
        "random-scan sweep R^N": lambda: Kr.apply(p),
        "continuous time, t = 1": lambda: Kc.propagate(p, 1.0),
    }
    for fn in runs.values():                              # compile / load the caches
        fn()
    all_threads = numba.get_num_threads()
    print(f"N={N} heat-bath, SK couplings; {rounds} interleaved rounds; ratios of minima to the "
          "sequential sweep; spread = median/min - 1")
    head = f"{'route':<24} {'threads':>7} {'min [ms]':>10} {'spread':>7} {'ratio':>7}  load"
    print(head)
    print("-" * len(head))
    results = {}
    for threads, clock, what in ((1, time.process_time, "CPU"),
                                 (all_threads, time.perf_counter, "wall")):
        numba.set_num_threads(threads)
        t = interleaved(runs, rounds, clock)
        base = t["sequential sweep"].min()
        for name, ts in t.items():
            print(f"{name:<24} {threads:>3} {what:<4}{ts.min() * 1e3:>9.2f} "
                  f"{np.median(ts) / ts.min() - 1:>7.0%} {ts.min() / base:>6.1f}x  {load():.1f}")
        results[threads] = t
    numba.set_num_threads(all_threads)
    return Ks, p, results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    N, n = args.N, 1 << args.N
    print(f"{os.cpu_count()} cores, numba {numba.__version__} ({numba.get_num_threads()} threads), "
          f"load average {load():.2f}")
    Ks, p, _ = scan_table(N, args.rounds)

    numba.set_num_threads(1)
    big = 1 << 25                                        # 256 MiB per array: beyond L3
    a, b = np.empty(big), np.ones(big)
    np.copyto(a, b)                                      # touch the pages
    t_copy = best_time(lambda: np.copyto(a, b), repeat=7) * n / big
    del a, b
    t_sweep = best_time(lambda: Ks.apply(p), repeat=7)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    rate = n * N / t_sweep
    bound = n / t_copy                                   # 16 B per state per site
    print(f"\nN={N} sequential heat-bath sweep, one thread: {t_sweep * 1e3:7.2f} ms, "
          f"{rate / 1e6:8.1f} M site-updates/s (load {load():.1f})")
    print(f"copy bandwidth {16 * n / t_copy / 1e9:6.2f} GB/s -> memory bound "
          f"{bound / 1e6:8.1f} M site-updates/s; ratio {rate / bound:6.1%} (target >= 60%)")

    strong = sk_model(N, 50.0 * np.sqrt(N) / 4, seed=1, field=1.0)
    Kst = kernels.BMKernel(strong, "heatbath", "sequential")
    fields = np.abs(strong.local_fields(np.ones((1, N))))
    q = Kst.apply(p)
    t_strong = best_time(lambda: Kst.apply(p), repeat=3)
    print(f"strong couplings (|H| up to {fields.max():.0f}): {t_strong * 1e3:7.2f} ms per sweep; "
          f"finite: {np.all(np.isfinite(q))}, |sum - 1| = {abs(q.sum() - 1):.1e}")

    N = 12
    n = 1 << N
    model = sk_model(N, 1.0)
    K = kernels.BMKernel(model, "heatbath", "sequential")
    p = np.full(n, 1.0 / n)
    U = dense.dense_kernel(model, "heatbath", "sequential")
    Ts = [sp.csr_matrix(dense.site_matrix(model, "heatbath", i)) for i in range(N)]

    def sparse_sweep():
        v = p
        for T in Ts:
            v = T @ v
        return v

    assert np.allclose(sparse_sweep(), K.apply(p), atol=1e-14) and np.allclose(U @ p, K.apply(p))
    t_ours = best_time(lambda: K.apply(p), repeat=20, number=10)
    t_sparse = best_time(sparse_sweep, repeat=10, number=5)
    t_dense = best_time(lambda: U @ p, repeat=5, number=2)
    print(f"N={N}: matrix-free {t_ours * 1e6:8.1f} us | scipy.sparse (N CSR T_i) "
          f"{t_sparse * 1e6:8.1f} us ({t_sparse / t_ours:5.1f}x slower) | dense U @ p "
          f"{t_dense * 1e6:8.1f} us ({t_dense / t_ours:5.1f}x slower)  (load {load():.1f})")


if __name__ == "__main__":
    main()
