"""Matrix-free exact Potts kernels: time and memory per sweep, with ratios measured in the same run.

Prints, in one run (numba compiles on first use; cached):

1. For q = 3, N = 13 (1.6 M states) and q = 4, N = 10 and 11 (1.0 M and 4.2 M states), random
   Potts couplings (``potts_teacher``, beta = 1), heat-bath and Metropolis: one sequential sweep
   and one random-scan sweep U = R^N (N applications of R, each N site passes), minimum over
   ``--rounds`` rounds, with all numba threads; the memory of the step (law, output, work vector
   and the local-energy tables) from the arrays themselves; the random sweep as a ratio to the
   sequential sweep.
2. The baselines: q = 3, N = 9 (19683 states), one sequential sweep matrix-free against the N
   single-site matrices as scipy.sparse CSR (q non-zeros per column, coefficients precomputed)
   applied in turn, with the memory of both; and against the dense U @ p at q = 3, N = 7 (2187
   states), where the dense matrix fits.

Run: ``.venv/bin/python benchmarks/bench_potts_kernel.py [--rounds 3] [--quick]``.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.sparse as sp

from shortrun.numerics import kernels
from shortrun.numerics.data.potts import potts_teacher
from shortrun.numerics.kernels import potts as kp


def best(fn, rounds):
    t = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def sparse_sites(model, rule):
    """The N single-site operators T_i as CSR matrices, their columns read off the matrix-free
    operator applied to one unit vector per fibre and colour (checked against it below)."""
    N, q, n = model.N, model.q, model.n_states
    K = kernels.kernel(model, rule, "sequential")
    mats = []
    for i in range(N):
        rows, cols, vals = [], [], []
        qi = q ** i
        x = np.arange(n)
        base = x - ((x // qi) % q) * qi
        for b in range(q):       # column x of T_i: the image of the unit vector at x
            rows.append(base + b * qi)
            cols.append(x)
        for b in range(q):
            vals.append(np.zeros(n))
        for a in range(q):
            e = np.zeros(n)
            e[base + a * qi] = 1.0            # one source state per fibre, colour a
            out = K.site_update(e, i)
            sel = ((x // qi) % q) == a
            for b in range(q):
                vals[b][sel] = out[base[sel] + b * qi]
        mats.append(sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                         np.concatenate(cols))), shape=(n, n)))
    return mats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="only q = 3, N = 9 and the baseline")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, numba threads "
          f"{__import__('numba').get_num_threads()}")
    sizes = [] if args.quick else [(3, 13), (4, 10), (4, 11)]
    print("\n1. time and memory per sweep (minimum over rounds)")
    print(f"{'q':>3} {'N':>3} {'states':>9} {'rule':>10} {'sequential':>11} {'random':>9} "
          f"{'ratio':>6} {'memory':>9}")
    for q, N in sizes:
        m = potts_teacher(N, q, 1.0, seed=0)
        p = np.full(m.n_states, 1.0 / m.n_states)
        for rule in ("heatbath", "metropolis"):
            seq = kernels.kernel(m, rule, "sequential")
            ran = kernels.kernel(m, rule, "random")
            seq.apply(p[:])                                   # compile
            ts = best(lambda: seq.apply(p), args.rounds)
            tr = best(lambda: ran.apply(p), max(1, args.rounds - 1))
            mem = (kp.KERNEL_BYTES * m.n_states + ran._A.nbytes + ran._B.nbytes
                   + ran._EA.nbytes + ran._EB.nbytes)
            print(f"{q:>3} {N:>3} {m.n_states:>9} {rule:>10} {ts:>10.3f}s {tr:>8.2f}s "
                  f"{tr / ts:>6.1f} {mem / 2**20:>7.0f}MB")
    print("\n2. baselines, sequential heat-bath sweep")
    m = potts_teacher(9, 3, 1.0, seed=0)
    p = np.random.default_rng(0).random(m.n_states)
    p /= p.sum()
    K = kernels.kernel(m, "heatbath", "sequential")
    mats = sparse_sites(m, "heatbath")

    def sparse_sweep():
        v = p
        for T in mats:
            v = T @ v
        return v

    assert np.allclose(sparse_sweep(), K.apply(p), rtol=0, atol=1e-14)
    t_free = best(lambda: K.apply(p), 20)
    t_sparse = best(sparse_sweep, 20)
    nbytes = sum(T.data.nbytes + T.indices.nbytes + T.indptr.nbytes for T in mats)
    print(f"q=3 N=9 ({m.n_states} states): matrix-free {t_free * 1e3:.3f} ms, scipy.sparse "
          f"{t_sparse * 1e3:.3f} ms: time ratio sparse / matrix-free {t_sparse / t_free:.2f}; "
          f"the sparse matrices hold {nbytes / 2**20:.1f} MiB, the matrix-free tables "
          f"{(K._A.nbytes + K._B.nbytes + K._EA.nbytes + K._EB.nbytes) / 2**20:.2f} MiB")
    m = potts_teacher(7, 3, 1.0, seed=0)
    p = np.full(m.n_states, 1.0 / m.n_states)
    K = kernels.kernel(m, "heatbath", "sequential")
    U = K.dense()
    assert np.allclose(U @ p, K.apply(p), rtol=0, atol=1e-14)
    t_free = best(lambda: K.apply(p), 50)
    t_dense = best(lambda: U @ p, 20)
    print(f"q=3 N=7 ({m.n_states} states): matrix-free {t_free * 1e6:.1f} us, dense U @ p "
          f"{t_dense * 1e6:.1f} us: time ratio dense / matrix-free {t_dense / t_free:.1f}")


if __name__ == "__main__":
    main()
