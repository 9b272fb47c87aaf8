"""Potts single-site updates per second of the numba sampler against a numpy + BLAS sampler.

Setting: q = 4 colours, N = 64 sites, fields h_i(a) ~ N(0, 0.25), couplings
J_ij(a, b) ~ N(0, 1/N) (symmetrised, J_ii = 0), 10^4 chains, 20 sweeps of sequential
heat-bath.  The baseline keeps all chains as one-hot rows X (n_chains, N·q) and, for each site
i, computes the q fields of every chain with one BLAS product (``h_i + X @ M_i``, M_i the
(N·q, q) block of couplings to site i), draws the new colours by the inverse CDF of the
normalised weights with numpy's generator, and rewrites the site's one-hot columns.  Two
comparisons, each interleaved (a busy spell hits both methods): all cores (wall time), and one
thread each (numba and BLAS limited to one thread, CPU time of the process).  The pause before
each timed call is the one of ``bench_sampler.py`` (spinning worker threads of the previous
call).

    python benchmarks/bench_potts_sampler.py [--q 4] [--N 64] [--chains 10000] [--sweeps 20]
"""
from __future__ import annotations

import argparse

import numpy as np

from shortrun.numerics.sampling import potts

from bench_sampler import compare, environment


def potts_model(N, q, seed=0):
    """h_i(a) ~ N(0, 1/4), J_ij(a, b) ~ N(0, 1/N) symmetrised (J_ij(a,b) = J_ji(b,a)), J_ii = 0."""
    g = np.random.default_rng(seed)
    h = g.normal(0.0, 0.5, (N, q))
    J = g.normal(0.0, 1.0 / np.sqrt(N), (N, N, q, q))
    J = (J + J.transpose(1, 0, 3, 2)) / np.sqrt(2.0)
    J[np.arange(N), np.arange(N)] = 0.0
    return h, J


def numpy_sequential_heatbath(h, J, S, sweeps, gen):
    """Baseline: colours S (n, N) -> one-hot X (n, N q), one BLAS product per site update."""
    n, N = S.shape
    q = h.shape[1]
    # M[i][(j, b), a] = J[i, j, a, b]: the fields of site i are h_i + X @ M[i]
    M = [np.asfortranarray(J[i].transpose(0, 2, 1).reshape(N * q, q)) for i in range(N)]
    X = np.zeros((n, N * q))
    X[np.arange(n)[:, None], np.arange(N) * q + S] = 1.0
    rows = np.arange(n)
    for _ in range(sweeps):
        for i in range(N):
            F = h[i] + X @ M[i]
            W = np.exp(F - F.max(axis=1, keepdims=True))
            C = np.cumsum(W, axis=1)
            u = gen.random(n) * C[:, -1]
            b = np.minimum((C <= u[:, None]).sum(axis=1), q - 1)
            X[:, i * q:(i + 1) * q] = 0.0
            X[rows, i * q + b] = 1.0
            S[:, i] = b
    return S


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--q", type=int, default=4)
    ap.add_argument("--N", type=int, default=64)
    ap.add_argument("--chains", type=int, default=10_000)
    ap.add_argument("--sweeps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    h, J = potts_model(args.N, args.q)
    n_up = args.N * args.chains * args.sweeps
    potts.sample_arrays(h, J, "uniform", 1, scan="sequential", n_chains=8, seed=1)  # compile
    p0 = potts.sample_arrays(h, J, "uniform", 0, n_chains=args.chains, seed=2)
    gen = np.random.default_rng(4)
    runs = {
        "numba sample_arrays": lambda: potts.sample_arrays(h, J, p0, args.sweeps,
                                                           scan="sequential", seed=3),
        "numpy + BLAS baseline": lambda: numpy_sequential_heatbath(
            h, J, p0.astype(np.int64), args.sweeps, gen),
    }
    print(f"Potts q={args.q}, N={args.N} (h ~ N(0, 1/4), J ~ N(0, 1/N)), {args.chains} chains, "
          f"{args.sweeps} sweeps of sequential heat-bath, best of {args.repeat}")
    print(environment())
    compare(runs, n_up, args.repeat)


if __name__ == "__main__":
    main()
