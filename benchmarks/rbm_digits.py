"""The RBM memory effect on the binarised digits: Rdm-k, CD-k and PCD-k machines sampled on the
time grid, and their autocorrelation time along training (not a test; prints the numbers).

    python benchmarks/rbm_digits.py [--mode fast|full|tiny] [--checkpoints DIR] [--out FILE.npz]

Prints, per protocol, the best sampling time, the statistics error and the adversarial accuracy
at t = k and t = 100k, and τ along training, with the wall and CPU time of the run.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from shortrun.numerics.analysis import digits_memory

from bench_sampler import environment


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("fast", "full", "tiny"), default="fast")
    ap.add_argument("--checkpoints", default=None, help="folder for resumable training runs")
    ap.add_argument("--out", default=None, help="save every measured array to this .npz")
    args = ap.parse_args()
    cfg = {"fast": digits_memory.FAST, "full": digits_memory.FULL,
           "tiny": digits_memory.TINY}[args.mode]
    wall, cpu = time.perf_counter(), time.process_time()
    results = digits_memory.run(cfg, progress=True, checkpoint_dir=args.checkpoints)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"mode {args.mode}: {cfg}")
    print(environment())
    print(f"wall {wall:.0f} s, CPU {cpu:.0f} s (all threads), load average now "
          f"{os.getloadavg()[0]:.1f}")
    for line in digits_memory.summary(cfg, results):
        print("  " + line)
    if args.out:
        np.savez(args.out, **results)


if __name__ == "__main__":
    main()
