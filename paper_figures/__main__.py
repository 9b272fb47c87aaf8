"""``python -m shortrun.paper_figures``: the main job.

For now (first wave) a short demo on a small Boltzmann machine: the spectrum of its heat-bath
kernels and the moments of p(k, p0) against those of p_θ.  The figure scripts of the next wave
are collected here and run by the same command.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def demo(N=7, beta=0.4, k_values=(1, 2, 5, 20, 100), seed=1):
    from shortrun.numerics import kernels
    from shortrun.numerics import models
    from shortrun.numerics.core import moments
    from shortrun.numerics.kernels import spectral

    rng = np.random.default_rng(seed)
    J = rng.normal(0.0, 1.0 / np.sqrt(N), (N, N))
    J = np.triu(J, 1)
    model = models.BoltzmannMachine(beta * rng.normal(0, 0.3, N), beta * (J + J.T))
    print(f"SK Boltzmann machine, N={N}, beta={beta}, seed={seed}; p0 uniform")
    m_eq, C_eq = moments.moments(model.boltzmann())
    for scan in ("random", "sequential"):
        K = kernels.BMKernel(model, "heatbath", scan)
        S = spectral.decompose(K)
        lam = S.eigenvalues[:4]
        print(f"\nheat-bath, {scan} scan: |lambda_1..3| = "
              + ", ".join(f"{abs(x):.4f}" for x in lam[1:4])
              + f"; mixing time tau = kappa_1 = {S.mixing_time:.3f} sweeps")
        print("    k   max|m(k) - m_eq|   max|C(k) - C_eq|")
        for k in k_values:
            m, C = moments.moments(K.propagate("uniform", k))
            print(f"{k:5d}   {np.abs(m - m_eq).max():16.3e}   {np.abs(C - C_eq).max():16.3e}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m shortrun.paper_figures", description=__doc__)
    ap.add_argument("--N", type=int, default=7)
    ap.add_argument("--beta", type=float, default=0.4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    return demo(a.N, a.beta, seed=a.seed)


if __name__ == "__main__":
    sys.exit(main())
