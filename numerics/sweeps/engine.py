r"""Running a sweep: cached cells read from disk, the others computed in-process or on Dask.

Where the missing cells run (``scheduler``):

* ``"serial"`` -- one after the other in the calling process (no Dask);
* ``"local"`` -- a Dask ``LocalCluster`` of ``n_workers`` processes (default: the cores this
  process may use), one thread each, started on first use and kept for the next sweeps of the
  process (:func:`shutdown` stops it);
* ``"tcp://HOST:PORT"`` (any ``protocol://`` address) -- the user's running Dask scheduler;
  a ``distributed.Client`` is used as it is;
* ``None`` (default) -- *measured*: the cells run serially while that is cheaper; after every
  cell from the second on, if ``fastest cell time x cells left`` exceeds the cost of moving to
  the local cluster (:data:`SWITCH_SECONDS` to start it and warm its workers, or
  :data:`WARM_SWITCH_SECONDS` when one is already running), the remaining cells go to the
  local cluster.  On a single core everything stays serial.  Tiny or short grids thus never
  pay the cluster's start-up, long grids pay it once (see ``benchmarks/bench_sweeps.py``).

Threads: the local cluster's workers run with ``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``,
``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` = 1.  On any Dask worker a cell first sets
``numba.set_num_threads(max(1, cores // threads))``, where *cores* are the cores the worker
process may use and *threads* the Dask threads of all workers on its host, so that workers
sharing a machine do not oversubscribe it (capped by the worker's ``NUMBA_NUM_THREADS``).
Every cell, wherever it runs (in-process too), runs with one BLAS thread (``threadpoolctl``):
a multi-threaded BLAS splits its sums differently with the thread count, which changes the
last bits of, e.g., Newton's fixed points at N = 11, and a cell's result must not depend on
where it ran.  numba's results do not depend on the thread count
(:mod:`shortrun.numerics.core.rng`).
"""
from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlparse

from shortrun.numerics.sweeps import cache
from shortrun.numerics.sweeps.grids import expand
from shortrun.numerics.sweeps.table import Table

__all__ = ["run", "shutdown", "check_address", "check_folder", "check_reachable", "SweepWarning",
           "SWITCH_SECONDS", "WARM_SWITCH_SECONDS"]

#: ``scheduler=None``: serial work (s) left beyond which the rest moves to a new local cluster.
SWITCH_SECONDS = 8.0
#: The same when the process already runs a local cluster.
WARM_SWITCH_SECONDS = 1.0

_THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1"}
_LOCAL = {}
_BLAS = {}


class SweepWarning(UserWarning):
    """Some cells of a sweep failed (their rows say why; the other cells completed)."""


def _cores():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------
# one cell (in-process or on a worker)
# ---------------------------------------------------------------------------------------------
def _where(err):
    """Where ``err`` was raised, and from which line of the cell when that is elsewhere."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename != __file__]
    if not frames:
        return ""
    at = [frames[-1]] + ([frames[0]] if len(frames) > 1 else [])
    text = ", called from ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in at)
    return f" [at {text}]"


def _summary(err):
    text = f"{type(err).__name__}: {err}".strip()
    if isinstance(err, ModuleNotFoundError):
        text += (" (the process that ran the cell cannot import the cell's module: install it "
                 "on the workers or put its folder on their PYTHONPATH)")
    return text + _where(err)


def _limit_threads(host_threads):
    """On a Dask worker: numba threads = cores of this process // Dask threads on this host."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return
    import numba

    total = max(host_threads.get(urlparse(worker.address).hostname, 0), worker.state.nthreads)
    numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, _cores() // total)))


def _one_blas_thread(keep):
    """Limit BLAS to one thread (threadpoolctl; the controller is rebuilt when modules were
    imported since, as they may have loaded another BLAS).  With ``keep`` (on a Dask worker,
    whose threads may run several cells at once) the limit stays; otherwise it is lifted when
    the returned context exits."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:                         # pragma: no cover (a scikit-learn dependency)
        return contextlib.nullcontext()
    if _BLAS.get("modules") != len(sys.modules):
        _BLAS.update(controller=ThreadpoolController(), modules=len(sys.modules))
    limit = _BLAS["controller"].limit(limits=1, user_api="blas")
    return contextlib.nullcontext() if keep else limit


def _execute(params, cell, again, host_threads=None):
    """Run one cell (up to ``1 + again`` times while it raises) with one BLAS thread; a record
    for the table.  (``again``, not ``retries``: that name is an argument of ``Client.map``.)"""
    if host_threads is not None:
        _limit_threads(host_threads)
    for _ in range(again + 1):
        t0 = time.perf_counter()
        try:
            with _one_blas_thread(keep=host_threads is not None):
                value = cell(**params)
            result = cache.normalise(value, params)
            return {"status": "ok", "result": result, "error": "",
                    "seconds": time.perf_counter() - t0}
        except Exception as err:              # recorded; KeyboardInterrupt & co. stop the sweep
            record = {"status": "error", "result": None, "error": _summary(err),
                      "seconds": time.perf_counter() - t0}
    return record


# ---------------------------------------------------------------------------------------------
# engines
# ---------------------------------------------------------------------------------------------
def _serial(cell, cells, todo, done, retries, budget=None):
    """Run ``todo`` in order; with a ``budget`` stop once the serial work left exceeds it and
    return the cells not run."""
    times = []
    for pos, i in enumerate(todo):
        record = _execute(cells[i], cell, retries)
        done(i, record)
        times.append(record["seconds"])
        left = len(todo) - pos - 1
        if budget is not None and len(times) >= 2 and left >= 2 and min(times) * left > budget:
            return todo[pos + 1:]
    return []


def _local_client(n_workers):
    """The process's local cluster of ``n_workers`` single-threaded worker processes."""
    client = _LOCAL.get("client")
    if client is not None and _LOCAL["n"] == n_workers and client.status == "running":
        return client
    shutdown()
    import logging

    from distributed import Client, LocalCluster

    try:
        with warnings.catch_warnings():        # "Port 8787 is already in use": a free one is used
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   silence_logs=logging.ERROR, env=dict(_THREAD_ENV))
    except Exception as err:
        raise RuntimeError(f"the local Dask cluster did not start ({err}).  If a script calls "
                           "sweeps.run at its top level, put the call under `if __name__ == "
                           "'__main__':` (worker processes import the main script), or run with "
                           "scheduler='serial'.") from err
    _LOCAL.update(cluster=cluster, client=Client(cluster, set_as_default=False), n=n_workers)
    if not _LOCAL.get("atexit"):
        atexit.register(shutdown)
        _LOCAL["atexit"] = True
    return _LOCAL["client"]


def shutdown():
    """Stop the local cluster that :func:`run` keeps between sweeps (if any)."""
    client, cluster = _LOCAL.pop("client", None), _LOCAL.pop("cluster", None)
    _LOCAL.pop("n", None)
    for thing in (client, cluster):
        if thing is not None:
            try:
                thing.close()
            except Exception:                 # already gone (interpreter shutting down)
                pass


#: Seconds a plain TCP connection to the scheduler's HOST:PORT may take before Dask's client
#: is started (a refused or unresolvable address then fails at once, not after Dask's retries).
PROBE_SECONDS = 10.0


def _unreachable(address, err):
    return RuntimeError(f"scheduler={address!r}: cannot reach a Dask scheduler there ({err}). "
                        "Start one with `dask scheduler` and workers with `dask worker "
                        f"{address}` (see docs/sweeps.md), or run locally with "
                        "scheduler=None.")


def check_reachable(address):
    """RuntimeError naming the fix unless a TCP connection to the HOST:PORT of ``address`` (a
    checked :func:`check_address`) opens within :data:`PROBE_SECONDS` (``inproc``: not tried)."""
    import socket

    parsed = urlparse(address)
    if parsed.scheme != "inproc":
        try:
            socket.create_connection((parsed.hostname, parsed.port), PROBE_SECONDS).close()
        except OSError as err:
            raise _unreachable(address, f"{type(err).__name__}: {err}") from None


def _connect(address):
    from distributed import Client

    check_reachable(address)
    try:
        return Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise _unreachable(address, err) from err


def _host_threads(client):
    counts = {}
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        host = urlparse(address).hostname
        counts[host] = counts.get(host, 0) + int(info.get("nthreads", 1))
    return counts


def _dask(client, cell, cells, keys, todo, done, retries):
    from distributed import as_completed

    host_threads = _host_threads(client)
    if not host_threads:
        print(f"[sweep] the scheduler {client.scheduler.address} has no workers yet; the cells "
              "wait for workers to join.", file=sys.stderr, flush=True)
    token = uuid.uuid4().hex[:8]
    label = getattr(cell, "__name__", "cell")
    futures = client.map(_execute, [cells[i] for i in todo], pure=False,
                         key=[f"{label}-{keys[i][:12]}-{token}" for i in todo],
                         cell=cell, again=retries, host_threads=host_threads)
    index = {f.key: i for f, i in zip(futures, todo)}
    try:
        for future, out in as_completed(futures, loop=client.loop, with_results=True,
                                        raise_errors=False):
            if future.status == "finished":
                record = out
            else:                               # lost workers too often, or not importable
                record = {"status": "error", "result": None, "error": _summary(out),
                          "seconds": float("nan")}
            future.release()
            done(index[future.key], record)
    finally:
        left = [f for f in futures if not f.done()]
        if left:
            client.cancel(left)


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------
#: Dask's address schemes (``distributed.comm``); all but ``inproc`` need ``HOST:PORT``.
ADDRESS_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
_ADDRESS_FIX = ("give the address a `dask scheduler` prints, e.g. 'tcp://10.0.0.5:8786', or "
                "run on this machine (scheduler None, 'serial' or 'local'; on the command line: "
                "no --scheduler)")


def check_address(address, name="scheduler"):
    """``address`` (``protocol://HOST:PORT``) checked before anything connects: a known Dask
    scheme, a host and a port in 1..65535; ValueError naming ``name`` and the fix otherwise."""
    if not isinstance(address, str) or "://" not in address:
        raise ValueError(f"{name}={address!r} is not a Dask scheduler address; {_ADDRESS_FIX}.")
    scheme, _, rest = address.partition("://")
    if scheme not in ADDRESS_SCHEMES:
        raise ValueError(f"{name}={address!r}: unknown protocol {scheme!r} (Dask speaks "
                         f"{', '.join(ADDRESS_SCHEMES)}); {_ADDRESS_FIX}.")
    if scheme == "inproc":
        if not rest:
            raise ValueError(f"{name}={address!r} names no in-process scheduler; "
                             f"{_ADDRESS_FIX}.")
        return address
    parsed = urlparse(address)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if not parsed.hostname:
        raise ValueError(f"{name}={address!r} has no host; {_ADDRESS_FIX}.")
    if port is None or not 1 <= port <= 65535 or parsed.path not in ("", "/") \
            or parsed.query or parsed.fragment:
        raise ValueError(f"{name}={address!r} needs a port number 1-65535 after the host "
                         f"(HOST:PORT, nothing after it); {_ADDRESS_FIX}.")
    return address


def _mode(scheduler):
    if scheduler is None or scheduler in ("serial", "local"):
        return scheduler
    if isinstance(scheduler, str) and "://" in scheduler:
        check_address(scheduler)
        return "address"
    if type(scheduler).__name__ == "Client" and hasattr(scheduler, "submit"):
        return "client"
    raise ValueError(f"scheduler={scheduler!r} must be None (choose), 'serial', 'local', the "
                     "address of a running Dask scheduler ('tcp://HOST:PORT') or a "
                     "distributed.Client.")


def check_folder(path, name="cache_dir"):
    """``path`` as a Path that is, or can be created as, a writable folder; ValueError naming
    ``name`` and the fix when it (or a parent) is a file, or it cannot be written."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"{name}={path!r} must be a folder path (str or Path), or None.")
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == path else f"lies under {existing}, which is a file"
        raise ValueError(f"{name}={str(path)!r} {what}, not a folder; pass a folder path (it is "
                         "created if missing) or another name.")
    try:        # a real probe: os.access says yes to root even where nothing can be created
        if not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-probe-"):
            pass    # removed on closing: a refused run leaves nothing behind
    except OSError:
        raise ValueError(f"{name}={str(path)!r}: {existing} is not writable; pass a folder you "
                         "can write to.") from None
    return path


def _folder(cache_dir, name):
    if cache_dir is None:
        return None
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name \
            or os.sep in name:
        raise ValueError(f"name={name!r} must be a non-empty folder name without '/' (the "
                         "sweep's sub-folder of cache_dir).")
    folder = check_folder(Path(check_folder(cache_dir)) / name, "cache_dir/name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cache_dir={str(cache_dir)!r}: cannot create the folder {folder} "
                         f"({err.strerror or err}); pass another cache_dir.") from None
    return folder


class _Bar:
    """tqdm bar on stderr (or nothing)."""

    def __init__(self, total, initial, name, enabled):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=name, unit="cell",
                            file=sys.stderr, mininterval=0.5, dynamic_ncols=True)

    def where(self, text):
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def update(self):
        if self.bar is not None:
            self.bar.update()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _row(params, record):
    row = dict(params)
    if record["status"] == "ok":
        row.update(record["result"])
    row.update(status=record["status"], error=record["error"], seconds=record["seconds"])
    return row


def run(cell, grid, *, cache_dir, name=None, scheduler=None, n_workers=None, progress=True,
        retries=0, on_error="record"):
    """Run ``cell(**params)`` for every cell of ``grid``; cached cells are read, not recomputed.

    Parameters
    ----------
    cell : function
        A module-level function ``cell(**params) -> dict`` of results: numbers, strings,
        booleans, None, lists of them, numpy arrays.  It must be deterministic (seeds come from
        the parameters), so where it runs does not change its result.
    grid : dict or list of dict
        Axes ``name -> list of values`` (cartesian product, first axis slowest; see
        :func:`~shortrun.numerics.sweeps.grid`) or an explicit list of cells.
    cache_dir : str, Path or None
        Cells are cached in ``cache_dir/name/<key>.json|npz`` (:mod:`~.cache`); None: no cache.
    name : str, optional
        The sweep's sub-folder; default ``module.function`` of ``cell``.
    scheduler : None, 'serial', 'local', 'tcp://HOST:PORT' or distributed.Client
        Where the missing cells run (module docstring of :mod:`~.engine`).
    n_workers : int, optional
        Size of the local cluster (default: the cores available); ignored for an address.
    progress : bool
        A progress bar on stderr (cells done / total, cached ones counted at the start).
    retries : int ≥ 0
        A cell that raises is run up to ``retries`` more times before it is recorded as failed
        (for transient failures; a worker that dies is replaced by Dask on its own).
    on_error : 'record' or 'raise'
        Failed cells are rows with ``status='error'`` and the error (exception, message, where
        it was raised); after the run a :class:`SweepWarning` lists them ('record') or a
        ``RuntimeError`` names their parameters ('raise').  The other cells always complete
        and are cached.

    Returns
    -------
    Table
        One row per cell in grid order: parameters, results, ``status``, ``error``,
        ``seconds``.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError("sweeps.run was called while a worker process was starting: the main "
                           "script calls it at import time.  Put the call under `if __name__ == "
                           "'__main__':`.")
    cells, canon = expand(grid)
    cname = cache.cell_name(cell)
    if on_error not in ("record", "raise"):
        raise ValueError(f"on_error={on_error!r} must be 'record' or 'raise'.")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries={retries!r} must be an integer >= 0.")
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                  or n_workers < 1):
        raise ValueError(f"n_workers={n_workers!r} must be None (all cores) or an integer >= 1.")
    mode = _mode(scheduler)
    label = cname if name is None else name
    folder = _folder(cache_dir, label)
    version = cache.code_version(cell)
    keys = [cache.key(cname, version, c) for c in canon]

    records = [None] * len(cells)
    if folder is not None:
        for i, k in enumerate(keys):
            hit = cache.read(folder, k, cname, canon[i])
            if hit is not None:
                meta, result = hit
                records[i] = {"status": "ok", "result": result, "error": "",
                              "seconds": meta["seconds"]}
    todo = [i for i, r in enumerate(records) if r is None]
    bar = _Bar(len(cells), len(cells) - len(todo), label, progress)

    def done(i, record):
        records[i] = record
        if record["status"] == "ok" and folder is not None:
            meta = {"cell": cname, "params": canon[i], "version": version,
                    "seconds": record["seconds"]}
            cache.write(folder, keys[i], meta, record["result"])
        bar.update()

    workers = n_workers or _cores()
    try:
        if todo and mode == "serial":
            bar.where("serial")
            _serial(cell, cells, todo, done, retries)
        elif todo and mode is None:
            bar.where("serial")
            budget = WARM_SWITCH_SECONDS if "client" in _LOCAL else SWITCH_SECONDS
            rest = _serial(cell, cells, todo, done, retries, budget if workers > 1 else None)
            if rest:
                bar.where(f"local cluster, {workers} workers")
                _dask(_local_client(workers), cell, cells, keys, rest, done, retries)
        elif todo and mode == "local":
            bar.where(f"local cluster, {workers} workers")
            _dask(_local_client(workers), cell, cells, keys, todo, done, retries)
        elif todo and mode == "client":
            bar.where(str(scheduler.scheduler.address))
            _dask(scheduler, cell, cells, keys, todo, done, retries)
        elif todo:
            bar.where(scheduler)
            client = _connect(scheduler)
            try:
                _dask(client, cell, cells, keys, todo, done, retries)
            finally:
                client.close()
    finally:
        bar.close()

    table = Table(_row(p, r) for p, r in zip(cells, records))
    failed = [(p, r["error"]) for p, r in zip(cells, records) if r["status"] != "ok"]
    if failed:
        lines = "\n".join(f"  {p!r}: {e}" for p, e in failed)
        text = f"{len(failed)} of {len(cells)} cells of sweep {label!r} failed:\n{lines}"
        if on_error == "raise":
            raise RuntimeError(text)
        warnings.warn(text, SweepWarning, stacklevel=2)
    return table
