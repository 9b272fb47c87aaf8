"""Sweeps: a grid of Newton fixed points serially and on the local Dask cluster, same run.

Grid: Rdm-k fixed points (G5) of exact ring and SK teachers (fields 0.2 / 0.3), N = 11 and 12,
β ∈ {0.3, 0.5}, k ∈ {2, 3, 4, 6, 8}: 40 cells of 0.1–1 s.  The same grid runs

* in-process, one cell after the other on one core (``scheduler="serial"`` with one numba
  thread: the baseline, what a sweep costs without a cluster),
* in-process with numba's threads on every core (``scheduler="serial"`` as it is: the exact
  Jacobian of a Newton step is multithreaded, so part of each cell already uses the cores), and
* on the local cluster (``scheduler="local"``: one single-threaded worker process per core),

each into a fresh cache, and the table gives the wall times and the speed-up; the cluster's
start-up (processes, imports, numba caches loaded) is timed apart, since :func:`sweeps.run`
keeps the cluster for the next sweeps of the process.  The results of the two runs are compared
bit for bit.  Then the overhead per cell for tiny cells (a cell that returns at once), in-process
and on the cluster, with and without the cache, and what ``scheduler=None`` picks for both grids.

On a shared machine the speed-up is bounded by the cores the worker processes really get; the
benchmark measures that bound in the same run (a fixed pure-Python work in one process, then in
every worker at once) and reports the speed-up as a fraction of it.

    python benchmarks/bench_sweeps.py                 # all cores
    python benchmarks/bench_sweeps.py --workers 2 --tiny 400
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numba
import numpy as np

from shortrun.numerics import sweeps
from shortrun.numerics.data import teachers
from shortrun.numerics.sweeps import engine
from shortrun.numerics.training import fixed_point


def newton_cell(teacher, N, beta, k):
    """One Rdm-k fixed point by damped Newton with the exact Jacobian."""
    T = teachers.ring(N, beta, field=0.2) if teacher == "ring" else \
        teachers.sk(N, beta, seed=N, field=0.3)
    fp = fixed_point.solve(T.data(), k, "rdm")
    return {"theta": fp.theta, "residual": fp.residual, "iterations": fp.iterations}


def tiny_cell(x):
    """Returns at once: what a sweep costs beyond its cells."""
    return {"y": x}


def warm_up():
    """Import and load the numba caches (run once in every process that computes cells)."""
    newton_cell("sk", 4, 0.3, 2)
    return os.getpid()


def busy():
    """A fixed amount of pure-Python work (~0.3 s on one free core)."""
    t0 = time.perf_counter()
    sum(i * i for i in range(3_000_000))
    return time.perf_counter() - t0


def available_cores(client, workers):
    """How many cores the sweep can really use now: ``workers`` x (time of the fixed work in
    one process) / (wall time of the same work in every worker at once).  On a free machine
    this is ``workers``; on a shared one (other busy processes, a CPU share per session) less,
    and no sweep can beat it."""
    single = min(busy() for _ in range(3))
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        client.run(busy)
        walls.append(time.perf_counter() - t0)
    return workers * single / min(walls)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def identical(a, b):
    return all(ra["theta"].tobytes() == rb["theta"].tobytes()
               and np.float64(ra["residual"]).tobytes() == np.float64(rb["residual"]).tobytes()
               for ra, rb in zip(a.rows, b.rows, strict=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=None, help="local cluster size (all cores)")
    ap.add_argument("--tiny", type=int, default=400, help="number of tiny cells")
    args = ap.parse_args()
    workers = args.workers or engine._cores()
    grid = sweeps.grid(teacher=["ring", "sk"], N=[11, 12], beta=[0.3, 0.5], k=[2, 3, 4, 6, 8])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(grid)} Newton fixed points (N = 11, 12); {os.cpu_count()} cores, "
          f"{workers} workers; load average {load:.2f} at the start")

    warm_up()
    t_start, client = timed(lambda: engine._local_client(workers))
    t_warm, _ = timed(lambda: client.run(warm_up))
    cores_before = available_cores(client, workers)
    with tempfile.TemporaryDirectory() as tmp:
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        t_serial, serial = timed(lambda: sweeps.run(newton_cell, grid, cache_dir=f"{tmp}/s",
                                                    scheduler="serial", progress=False))
        numba.set_num_threads(threads)
        t_threads, threaded = timed(lambda: sweeps.run(newton_cell, grid, cache_dir=f"{tmp}/m",
                                                       scheduler="serial", progress=False))
        t_local, local = timed(lambda: sweeps.run(newton_cell, grid, cache_dir=f"{tmp}/l",
                                                  scheduler="local", n_workers=workers,
                                                  progress=False))
        t_auto, auto = timed(lambda: sweeps.run(newton_cell, grid, cache_dir=f"{tmp}/a",
                                                progress=False, n_workers=workers))
        t_read, read = timed(lambda: sweeps.run(newton_cell, grid, cache_dir=f"{tmp}/s",
                                                progress=False))
        cores_after = available_cores(client, workers)
        cell_sum = float(np.sum(serial.column("seconds")))
        cell_sum_local = float(np.sum(local.column("seconds")))
        print(f"\n{'run':<34} {'wall [s]':>9} {'speed-up':>9}")
        print(f"{'serial, one core (baseline)':<34} {t_serial:>9.2f} {1.0:>9.2f}")
        print(f"{f'serial, numba on {threads} threads':<34} {t_threads:>9.2f} "
              f"{t_serial / t_threads:>9.2f}")
        print(f"{f'local cluster, {workers} workers (warm)':<34} {t_local:>9.2f} "
              f"{t_serial / t_local:>9.2f}")
        print(f"{'  + its start-up and warm-up':<34} {t_local + t_start + t_warm:>9.2f} "
              f"{t_serial / (t_local + t_start + t_warm):>9.2f}")
        print(f"{'scheduler=None (cluster running)':<34} {t_auto:>9.2f} {t_serial / t_auto:>9.2f}")
        print(f"{'all 40 read from the cache':<34} {t_read:>9.3f}")
        print(f"cluster start-up {t_start:.2f} s + warm-up {t_warm:.2f} s; sum of cell times "
              f"{cell_sum:.2f} s serial, {cell_sum_local:.2f} s on the cluster; bit-identical: "
              f"threads {identical(serial, threaded)}, local {identical(serial, local)}, auto {identical(serial, auto)}, cache "
              f"{identical(serial, read)}")
        print(f"cores really available to {workers} busy processes (fixed work, same run): "
              f"{cores_before:.2f} before, {cores_after:.2f} after the sweeps; speed-up / "
              f"available cores = {t_serial / t_local / (0.5 * (cores_before + cores_after)):.2f}")

        n = args.tiny
        tiny = {"x": list(range(n))}
        rows = []
        for label, kw in [("in-process, cache", dict(scheduler="serial", cache_dir=f"{tmp}/t1")),
                          ("in-process, no cache", dict(scheduler="serial", cache_dir=None)),
                          ("local cluster, cache", dict(scheduler="local", cache_dir=f"{tmp}/t2")),
                          ("local cluster, no cache", dict(scheduler="local", cache_dir=None)),
                          ("read from the cache", dict(scheduler="serial", cache_dir=f"{tmp}/t1")),
                          ("scheduler=None, no cache", dict(cache_dir=None))]:
            t, _ = timed(lambda: sweeps.run(tiny_cell, tiny, n_workers=workers, progress=False,
                                            **kw))
            rows.append((label, t))
        print(f"\noverhead per tiny cell ({n} cells)")
        for label, t in rows:
            print(f"{label:<34} {1e3 * t / n:>9.3f} ms")
    sweeps.shutdown()


if __name__ == "__main__":
    main()
