"""Matrix-free exact kernel: speed of one sequential heat-bath sweep p -> U p.

Prints, in one run:
1. N = 20 (SK couplings): site-updates per second (2^N states x N sites per sweep) and the
   ratio to the machine's memory bound, 16 bytes per state per site at the main-memory copy
   bandwidth measured here (np.copyto of a 256 MiB float64 array, far larger than the last-level
   cache, so that the bound is DRAM's and not the cache's; one core, best of repeats).
   Target >= 50 %.
2. the same sweep at strong couplings (local fields of order ±50): time, and a check that the
   result is finite and still sums to 1.
3. N = 12: the speed-up over the two obvious baselines, the N sparse single-site matrices
   (scipy.sparse CSR, 2 non-zeros per column) applied in turn, and the dense numpy U @ p.

Run: ``.venv/bin/python benchmarks/bench_kernel.py`` (numba compiles on first use; cached).
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from shortrun.numerics.kernels import dense

from shortrun.numerics import kernels

from shortrun.numerics import models


def best_time(fn, repeat=7, number=1):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def sk_model(N, beta, seed=0, field=0.3):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0.0, 1.0 / np.sqrt(N), (N, N)), 1)
    return models.BoltzmannMachine(beta * rng.normal(0.0, field, N), beta * (J + J.T))


def main():
    N = 20
    n = 1 << N
    K = kernels.BMKernel(sk_model(N, 1.0), "heatbath", "sequential")
    p = np.full(n, 1.0 / n)
    K.apply(p)                                           # compile / load the cache
    big = 1 << 25                                        # 256 MiB per array: beyond L3
    a, b = np.empty(big), np.ones(big)
    np.copyto(a, b)                                      # touch the pages
    t_copy = best_time(lambda: np.copyto(a, b), repeat=7) * n / big
    del a, b
    t_sweep = best_time(lambda: K.apply(p), repeat=7)
    rate = n * N / t_sweep
    bound = n / t_copy                                   # 16 B per state per site
    print(f"N={N} sequential heat-bath sweep: {t_sweep * 1e3:7.2f} ms, "
          f"{rate / 1e6:8.1f} M site-updates/s")
    print(f"copy bandwidth {16 * n / t_copy / 1e9:6.2f} GB/s -> memory bound "
          f"{bound / 1e6:8.1f} M site-updates/s; ratio {rate / bound:6.1%} (target >= 50%)")

    strong = sk_model(N, 50.0 * np.sqrt(N) / 4, seed=1, field=1.0)
    Ks = kernels.BMKernel(strong, "heatbath", "sequential")
    fields = np.abs(strong.local_fields(np.ones((1, N))))
    q = Ks.apply(p)
    t_strong = best_time(lambda: Ks.apply(p), repeat=3)
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
          f"{t_dense * 1e6:8.1f} us ({t_dense / t_ours:5.1f}x slower)")


if __name__ == "__main__":
    main()
