"""The memory effect of a ConvNet EBM on the 8×8 digits: quality of the samples over time.

Trains one ConvNet energy per protocol (Rdm-K, CD-K, PCD-K; short-run Langevin, Adam), samples
each from uniform noise for t = K/10 … 100 K steps and prints, per t, the energy distance to
held-out digits, the nearest-neighbour adversarial accuracy, the classifier confidence and the
mean energy; then, per protocol, the best t (lowest energy distance), the quality at t = K and
t = 100 K, and the training time.

    python benchmarks/convnet_memory.py --fast     # a few minutes on two cores
    python benchmarks/convnet_memory.py --full
    python benchmarks/convnet_memory.py --energy-penalty 0   # without the penalty of (L2)

This is a measurement script, not a test.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import time

import numpy as np

from shortrun.numerics.neural import memory


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def report(out, config):
    t = out["t"]
    k = config.k
    print(f"\nbaseline (training digits scored like samples): energy distance "
          f"{float(out['baseline_energy_distance']):.4f}, AA "
          f"{float(out['baseline_adversarial_accuracy']):.3f}, confidence "
          f"{float(out['baseline_confidence']):.3f}")
    for p in config.protocols:
        print(f"\n{p.upper()}-{k}: trained in {float(out[f'{p}_train_seconds']):.1f} s; "
              f"mean energy of held-out digits {float(out[f'{p}_data_energy']):+.3f}, of training "
              f"digits {float(out[f'{p}_train_energy']):+.3f}")
        print(f"{'t':>7} {'t/K':>7} {'energy dist':>12} {'AA':>7} {'confidence':>11} {'mean E':>10}")
        for i, ti in enumerate(t):
            print(f"{ti:>7d} {ti / k:>7.2f} {out[f'{p}_energy_distance'][i]:>12.4f} "
                  f"{out[f'{p}_adversarial_accuracy'][i]:>7.3f} {out[f'{p}_confidence'][i]:>11.3f} "
                  f"{out[f'{p}_mean_energy'][i]:>+10.3f}")
    print(f"\nsummary (K = {k}; quality = energy distance to held-out digits, lower is better; "
          f"AA ideal 0.5)")
    print(f"{'protocol':>8} {'best t':>7} {'best t/K':>8} {'ED(best)':>9} {'ED(K)':>8} "
          f"{'ED(100K)':>9} {'AA(K)':>6} {'AA(100K)':>8} {'train s':>8}")
    iK, iL = int(np.flatnonzero(t == k)[0]), int(np.flatnonzero(t == t.max())[0])
    for p in config.protocols:
        ed, aa = out[f"{p}_energy_distance"], out[f"{p}_adversarial_accuracy"]
        tb = memory.best_time(t, ed)
        print(f"{p:>8} {tb:>7d} {tb / k:>8.2f} {np.nanmin(ed):>9.4f} {ed[iK]:>8.4f} {ed[iL]:>9.4f} "
              f"{aa[iK]:>6.3f} {aa[iL]:>8.3f} {float(out[f'{p}_train_seconds']):>8.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--fast", action="store_true", help="the figure's fast size (default)")
    size.add_argument("--full", action="store_true", help="the full size")
    parser.add_argument("--checkpoints", default=None,
                        help="folder for training checkpoints (resume a killed run)")
    parser.add_argument("--energy-penalty", type=float, default=None,
                        help="alpha of the energy-magnitude penalty (default: the trainer's)")
    args = parser.parse_args()
    config = memory.FULL if args.full else memory.FAST
    if args.energy_penalty is not None:
        config = dataclasses.replace(config, energy_penalty=args.energy_penalty)
    print(f"config: {memory.settings(config)}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    wall, cpu = time.perf_counter(), cpu_seconds()
    out = memory.run(config, progress=None, checkpoint_dir=args.checkpoints)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    report(out, config)
    print(f"\ntotal: {wall:.1f} s wall, {cpu:.1f} s CPU (user+sys), load average after "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
