"""Newton with the exact Jacobian vs plain gradient ascent, to the same fixed point (G5).

Both solve ⟨φ⟩_{p(k,p0;θ)} = ⟨φ⟩_data for Rdm-k training (uniform p0) from the same start to
‖F‖∞ ≤ 1e-10, in the same run, with one BLAS thread each (the Newton solver always runs so; the
gradient ascent is run so too, for a fair comparison and because multi-threaded BLAS calls on
small matrices are slow on a busy machine).  Rows: the SK teacher (M = 20·2^N samples, field
0.3) at N = 10 for each β of ``--beta``, and the 4×4 periodic ferromagnet (N = 16, exact data)
with Rdm-1 sequential heat-bath.  Newton and gradient ascent are timed in interleaved repeats;
the table gives the minimum wall time over the repeats and its spread (median / minimum - 1),
iterations, the ratio (gradient ascent / Newton) and the load average after the row.  Gradient
ascent uses lr = 1/max Re eig ∂F(θ*), a near-optimal stable step that plain gradient ascent could
only guess; its iteration count grows like the condition number of ∂F, Newton's does not.

    python benchmarks/bench_newton.py                  # the three rows above
    python benchmarks/bench_newton.py --N 8 --k 2 --rule metropolis --scan sequential --beta 0.5
    python benchmarks/bench_newton.py --lattice-beta 0  # without the 4x4 lattice row
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from shortrun.numerics import training
from shortrun.numerics.data import teachers
from shortrun.numerics.training import fixed_point


def interleaved(repeat, runs):
    """``{name: (times, last result)}``, the runs alternating."""
    out = {name: ([], None) for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            res = fn()
            out[name] = (out[name][0] + [time.perf_counter() - t0], res)
    return {name: (np.array(t), r) for name, (t, r) in out.items()}


def compare(label, data, k, rule, scan, tol, repeat, max_steps):
    prob = fixed_point.problem(data, k, "rdm", rule, scan)
    start = prob.default_start()
    with threadpool_limits(1, user_api="blas"):
        prob.residual(start)                      # warm-up: numba compilation outside timings
        prob.residual_and_jacobian(start)
        fp = fixed_point.solve(data, k, "rdm", rule, scan, theta0=start, tol=tol)
        _, jac = prob.residual_and_jacobian(fp.theta)
        eig = np.linalg.eigvals(jac).real
        lr = 1.0 / float(eig.max())
        runs = {
            "newton": lambda: fixed_point.solve(data, k, "rdm", rule, scan, theta0=start,
                                                tol=tol),
            "ga": lambda: training.train(data, k, "rdm", rule, scan, theta0=start, lr=lr,
                                         n_steps=max_steps, tol=tol, record_every=max_steps,
                                         progress=False),
        }
        res = interleaved(repeat, runs)
    (t_newton, fp), (t_ga, ga) = res["newton"], res["ga"]
    return dict(label=label, P=prob.P, cond=eig.max() / eig.min(), lr=lr, fp=fp, ga=ga,
                t_newton=t_newton, t_ga=t_ga, gap=float(np.max(np.abs(ga.theta - fp.theta))),
                load=os.getloadavg()[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=10)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--rule", default="heatbath")
    ap.add_argument("--scan", default="random")
    ap.add_argument("--beta", default="0.5,1.0", help="comma-separated SK inverse temperatures")
    ap.add_argument("--lattice-beta", type=float, default=0.3,
                    help="beta of the 4x4 lattice row (Rdm-1 sequential heat-bath); 0: no row")
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=100000)
    args = ap.parse_args(argv)

    rows = []
    for b in args.beta.split(","):
        data = teachers.sk(args.N, float(b), seed=args.N, field=0.3).data(M=20 * 2**args.N,
                                                                         seed=1)
        rows.append(compare(f"SK N={args.N} b={float(b):g} Rdm-{args.k} {args.scan}", data,
                            args.k, args.rule, args.scan, args.tol, args.repeat, args.max_steps))
    if args.lattice_beta > 0:
        data = teachers.ferromagnet(4, args.lattice_beta).data()
        rows.append(compare(f"4x4 lattice b={args.lattice_beta:g} Rdm-1 sequential", data, 1,
                            "heatbath", "sequential", args.tol, args.repeat, args.max_steps))
    print(f"{args.rule} updates, uniform p0, target |F|_inf <= {args.tol:g}; wall times: minimum "
          f"of {args.repeat} interleaved repeats (spread = median/min - 1), one BLAS thread; "
          f"{os.cpu_count()} cores")
    head = (f"{'row':<38} {'P':>4} {'cond dF':>8} | {'Newton it':>9} {'time [s]':>9} {'sprd':>5} "
            f"{'|F|':>8} | {'GA lr':>6} {'GA it':>6} {'time [s]':>9} {'sprd':>5} {'|F|':>8} | "
            f"{'ratio':>6} {'|dtheta|':>8} {'load':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        fp, ga, tn, tg = r["fp"], r["ga"], r["t_newton"], r["t_ga"]
        flag = "" if ga.converged else "  GA did NOT reach the target"
        print(f"{r['label']:<38} {r['P']:>4} {r['cond']:>8.1f} | {fp.iterations:>9d} "
              f"{tn.min():>9.3f} {np.median(tn) / tn.min() - 1:>5.0%} {fp.residual:>8.1e} | "
              f"{r['lr']:>6.3f} {ga.steps:>6d} {tg.min():>9.3f} {np.median(tg) / tg.min() - 1:>5.0%} "
              f"{ga.history.mismatch_k[-1]:>8.1e} | {tg.min() / tn.min():>5.1f}x "
              f"{r['gap']:>8.1e} {r['load']:>5.1f}{flag}")


if __name__ == "__main__":
    main()
