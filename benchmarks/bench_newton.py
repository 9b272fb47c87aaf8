"""Newton with the exact Jacobian vs plain gradient ascent, to the same fixed point (G5).

Both solve ⟨φ⟩_{p(k,p0;θ)} = ⟨φ⟩_data for Rdm-k training (uniform p0) on the same data (M
samples of an SK teacher at each β), from the same start, to ‖F‖∞ ≤ 1e-10, in the same run; the
table gives wall time (best of ``--repeat``) and iterations of each and the ratio (gradient
ascent / Newton).  Gradient ascent uses lr = 1/max Re eig ∂F(θ*), a near-optimal stable step
that plain gradient ascent could only guess; its iteration count grows like the condition
number of ∂F, Newton's does not.

    python benchmarks/bench_newton.py                  # N = 10, k = 5, heat-bath, random scan
    python benchmarks/bench_newton.py --N 8 --k 2 --rule metropolis --scan sequential --beta 0.5
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from shortrun.numerics.training import fixed_point

from shortrun.numerics.data import teachers

from shortrun.numerics import training


def best_of(repeat, fn):
    """(best wall time, result of the last call)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def compare(N, k, beta, rule, scan, tol, repeat, max_steps):
    data = teachers.sk(N, beta, seed=N, field=0.3).data(M=20 * 2**N, seed=1)
    prob = fixed_point.problem(data, k, "rdm", rule, scan)
    start = prob.default_start()
    prob.residual(start)                          # warm-up: numba compilation outside timings
    prob.residual_and_jacobian(start)
    t_newton, fp = best_of(repeat, lambda: fixed_point.solve(data, k, "rdm", rule, scan,
                                                             theta0=start, tol=tol))
    _, jac = prob.residual_and_jacobian(fp.theta)
    eig = np.linalg.eigvals(jac).real
    lr = 1.0 / float(eig.max())
    t_ga, ga = best_of(repeat, lambda: training.train(
        data, k, "rdm", rule, scan, theta0=start, lr=lr, n_steps=max_steps, tol=tol,
        record_every=max_steps, progress=False))
    return dict(beta=beta, P=prob.P, cond=eig.max() / eig.min(), lr=lr, fp=fp, ga=ga,
                t_newton=t_newton, t_ga=t_ga, gap=float(np.max(np.abs(ga.theta - fp.theta))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=10)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--rule", default="heatbath")
    ap.add_argument("--scan", default="random")
    ap.add_argument("--beta", default="0.5,1.0", help="comma-separated SK inverse temperatures")
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=100000)
    args = ap.parse_args(argv)

    rows = [compare(args.N, args.k, float(b), args.rule, args.scan, args.tol, args.repeat,
                    args.max_steps) for b in args.beta.split(",")]
    print(f"Rdm-{args.k} fixed point, N={args.N} (P={rows[0]['P']} parameters), "
          f"{args.rule}/{args.scan}, SK teacher (field 0.3), M = 20*2^N samples, "
          f"target |F|_inf <= {args.tol:g}; times: best of {args.repeat}")
    head = (f"{'beta':>5} {'cond dF':>8} | {'Newton it':>9} {'time [s]':>9} {'|F|':>8} | "
            f"{'GA lr':>6} {'GA it':>7} {'time [s]':>9} {'|F|':>8} | {'ratio time':>10} "
            f"{'ratio it':>8} {'|dtheta|':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        fp, ga = r["fp"], r["ga"]
        flag = "" if ga.converged else "  GA did NOT reach the target"
        print(f"{r['beta']:>5.2f} {r['cond']:>8.1f} | {fp.iterations:>9d} {r['t_newton']:>9.3f} "
              f"{fp.residual:>8.1e} | {r['lr']:>6.3f} {ga.steps:>7d} {r['t_ga']:>9.3f} "
              f"{ga.history.mismatch_k[-1]:>8.1e} | {r['t_ga'] / r['t_newton']:>9.1f}x "
              f"{ga.steps / max(fp.iterations, 1):>7.0f}x {r['gap']:>8.1e}{flag}")


if __name__ == "__main__":
    main()
