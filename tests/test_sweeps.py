"""Parameter sweeps (shortrun.numerics.sweeps): grids, the on-disk cache, the table, and the
Dask engine on real processes (a `dask scheduler` and `dask worker`s on 127.0.0.1).

Results are compared bit for bit (``tobytes``), never to a tolerance: a cell's result must not
depend on where it ran or on whether it was read from the cache.  Calls are counted with marker
files (one per call, named after the cell and the process), so "read from the cache, not
recomputed" is checked across processes.
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest

from shortrun.numerics import sweeps
from shortrun.numerics.data import teachers
from shortrun.numerics.sweeps import cache, engine
from shortrun.numerics.training import fixed_point

HERE = Path(__file__).resolve().parent
DASK = Path(sys.executable).parent / "dask"


# ---------------------------------------------------------------------------------------------
# cells (module level: Dask workers import this module by its name, test_sweeps)
# ---------------------------------------------------------------------------------------------
def fixed_point_cell(teacher, N, beta, k):
    """The Rdm-k fixed point of an exact ring or SK teacher (damped Newton, G5)."""
    T = teachers.ring(N, beta, field=0.2) if teacher == "ring" else \
        teachers.sk(N, beta, seed=N, field=0.3)
    fp = fixed_point.solve(T.data(), k, "rdm")
    return {"theta": fp.theta, "residual": fp.residual, "iterations": fp.iterations,
            "newton": fp.status}


def marked_cell(x, marks, delay=0.0, refuse=None, interrupt=None):
    """Leaves one marker file per call, sleeps ``delay`` s; raises for ``x == refuse`` (and
    KeyboardInterrupt for ``x == interrupt`` while a file ``stop`` lies beside ``marks``);
    returns floats whose bits are awkward."""
    Path(marks, f"{x}.{os.getpid()}.{uuid.uuid4().hex}").touch()
    time.sleep(delay)
    if x == interrupt and Path(marks).with_name("stop").exists():
        raise KeyboardInterrupt
    if x == refuse:
        raise ValueError(f"x={x} is refused")
    return {"y": x * x, "third": x / 3, "tiny": 5e-324 * x, "neg0": -0.0, "nan": float("nan"),
            "v": np.array([x / 7, -0.0, np.nextafter(1.0, 2.0) * x, np.inf]),
            "ints": [x, x + 1], "label": f"x{x}", "pid": os.getpid()}


def threads_cell(x):
    """The thread settings a cell sees where it runs."""
    import numba
    from threadpoolctl import threadpool_info

    return {"numba": numba.get_num_threads(), "pid": os.getpid(),
            "blas": max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
            "omp": os.environ.get("OMP_NUM_THREADS", ""),
            "numba_env": os.environ.get("NUMBA_NUM_THREADS", "")}


def calls(marks, x=None):
    names = [p.name for p in Path(marks).iterdir()]
    return len(names) if x is None else sum(n.split(".")[0] == str(x) for n in names)


def pids(marks):
    return {int(p.name.split(".")[1]) for p in Path(marks).iterdir()}


def same_bits(a, b):
    """Two tables have the same columns and bit-identical values (seconds aside)."""
    assert a.columns == b.columns
    for ra, rb in zip(a.rows, b.rows, strict=True):
        for name in a.columns:
            if name in ("seconds", "pid"):
                continue
            va, vb = ra.get(name), rb.get(name)
            if isinstance(va, np.ndarray):
                assert va.dtype == vb.dtype and va.shape == vb.shape
                assert va.tobytes() == vb.tobytes(), name
            elif isinstance(va, float):
                assert type(vb) is float and np.float64(va).tobytes() == np.float64(vb).tobytes()
            else:
                assert type(va) is type(vb) and va == vb, name


FP_GRID = [dict(teacher=t, N=N, beta=b, k=k) for t, N, b, k in
           [("ring", 4, 0.3, 2), ("ring", 5, 0.4, 3), ("sk", 5, 0.5, 2), ("sk", 6, 0.5, 3),
            ("ring", 6, 0.3, 1), ("sk", 4, 0.7, 4)]]


# ---------------------------------------------------------------------------------------------
# grids, keys, table
# ---------------------------------------------------------------------------------------------
def test_grid_is_the_cartesian_product_first_axis_slowest():
    g = sweeps.grid(N=[4, 5], k=(1, 2, 3), rule=np.array(["heatbath"]))
    assert g == [{"N": N, "k": k, "rule": "heatbath"} for N in (4, 5) for k in (1, 2, 3)]
    assert type(g[0]["rule"]) is str
    for bad, match in [(dict(N=4), r"N=\[4\]"), (dict(N=[]), "empty"), ({}, "at least one"),
                       (dict(N="45"), "list of values")]:
        with pytest.raises(ValueError, match=match):
            sweeps.grid(**bad)


@pytest.mark.parametrize("grid, match", [
    ([{"x": 1}, {"x": 1}], "same cell twice"),
    ([{"status": 1}], "column of the sweep's table"),
    ([{"x": np.zeros(2)}], "not a plain value"),
    ([{"x": object()}], "not a plain value"),
    ([], "no cells"),
    ("x", "dict of axes"),
])
def test_bad_grids_are_refused(tmp_path, grid, match):
    with pytest.raises(ValueError, match=match):
        sweeps.run(marked_cell, grid, cache_dir=tmp_path, progress=False)


def test_bad_arguments_are_refused(tmp_path):
    g = {"x": [1]}
    for kw, match in [(dict(on_error="ignore"), "on_error"), (dict(retries=-1), "retries"),
                      (dict(scheduler="cluster"), "scheduler="), (dict(n_workers=0), "n_workers"),
                      (dict(name="a/b"), "name=")]:
        with pytest.raises(ValueError, match=match):
            sweeps.run(marked_cell, g, cache_dir=tmp_path, progress=False, **kw)
    with pytest.raises(ValueError, match="top level of a module"):
        sweeps.run(lambda x: {}, g, cache_dir=tmp_path, progress=False)


def test_table_refuses_bad_rows_and_columns():
    for rows in (None, [1, 2], "ab"):                 # were TypeErrors
        with pytest.raises(ValueError, match="must be a list of dicts"):
            sweeps.Table(rows)
    table = sweeps.Table([{"k": 1, "x": 1.0}])
    for call in (lambda: table.column("zz"), lambda: table.where(zz=1)):   # were KeyErrors only
        with pytest.raises(ValueError, match="no column 'zz'; the columns are k, x"):
            call()
        with pytest.raises(KeyError):                 # still a KeyError, as for a dict
            call()


def test_cache_key_changes_with_params_and_code_version(tmp_path, monkeypatch):
    name, version = cache.cell_name(marked_cell), cache.code_version(marked_cell)
    assert name == f"{__name__}.marked_cell"
    base = cache.key(name, version, {"x": 1, "y": [1, 2]})
    assert cache.key(name, version, {"y": [1, 2], "x": 1}) == base             # order-free
    assert cache.key(name, version, {"x": 1, "y": (1, 2)}) != \
        cache.key(name, version, {"x": 2, "y": [1, 2]})
    assert len({base, cache.key(name, version, {"x": 2, "y": [1, 2]}),
                cache.key(name, version, {"x": 1.0, "y": [1, 2]}),
                cache.key(name, version, {"x": 1, "y": [1, 2.5]}),
                cache.key(name + "2", version, {"x": 1, "y": [1, 2]}),
                cache.key(name, version + "x", {"x": 1, "y": [1, 2]})}) == 6
    # the version follows shortrun.__version__ and the source file of the cell's module
    import shortrun

    monkeypatch.setattr(shortrun, "__version__", "99.0")
    assert cache.code_version(marked_cell).startswith("99.0+")
    assert cache.code_version(marked_cell) != version
    module = tmp_path / "edited_cells.py"
    module.write_text("def cell(x):\n    return {'y': x}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import edited_cells

    before = cache.code_version(edited_cells.cell)
    module.write_text("def cell(x):\n    return {'y': 2 * x}\n")
    assert cache.code_version(edited_cells.cell) != before


def test_rows_in_grid_order_cache_read_bit_identical_and_csv(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    grid = sweeps.grid(x=[3, 1, 2], marks=[str(marks)])
    first = sweeps.run(marked_cell, grid, cache_dir=tmp_path / "c", scheduler="serial",
                       progress=False)
    assert [r["x"] for r in first.rows] == [3, 1, 2] and calls(marks) == 3
    assert first.columns == ["x", "marks", "y", "third", "tiny", "neg0", "nan", "v", "ints",
                             "label", "pid", "status", "error", "seconds"]
    assert first.column("y").tolist() == [9, 1, 4] and first.column("v").shape == (3, 4)
    assert first.column("ints").tolist() == [[3, 4], [1, 2], [2, 3]]
    assert set(first.column("status")) == {"ok"} and all(s > 0 for s in first.column("seconds"))
    again = sweeps.run(marked_cell, grid, cache_dir=tmp_path / "c", progress=False)
    assert calls(marks) == 3                                     # all read from the cache
    same_bits(first, again)
    assert again.column("seconds").tolist() == first.column("seconds").tolist()
    files = sorted(p.suffix for p in (tmp_path / "c" / cache.cell_name(marked_cell)).iterdir())
    assert files == [".npz"] * 3                                 # no temporary files left
    assert first.where(x=1).rows == [first.rows[1]] and len(first.where(status="error")) == 0

    out = first.to_csv(tmp_path / "t.csv")
    with open(out, newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == first.columns and len(lines) == 4
    row = dict(zip(lines[0], lines[2]))
    assert float(row["third"]) == 1 / 3 and float(row["tiny"]) == 5e-324
    assert row["v"] == "float64[4]" and json.loads(row["ints"]) == [1, 2]
    with np.load(tmp_path / "t.npz") as z:
        assert z["v[1]"].tobytes() == first.rows[1]["v"].tobytes()


def test_failing_cell_is_recorded_and_the_others_complete(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    grid = sweeps.grid(x=[1, 2, 3, 4], marks=[str(marks)], refuse=[3])
    with pytest.warns(sweeps.SweepWarning, match=r"(?s)1 of 4 cells.*'x': 3.*ValueError: x=3 is "
                                                  r"refused \[at test_sweeps.py:\d+ in marked"):
        table = sweeps.run(marked_cell, grid, cache_dir=tmp_path, progress=False)
    assert table.column("status").tolist() == ["ok", "ok", "error", "ok"]
    bad = table.rows[2]
    assert bad["x"] == 3 and "y" not in bad and bad["error"].startswith("ValueError: x=3")
    assert table.column("y") == [1, 4, None, 16]
    # 'raise': every cell still runs (the good ones are cached), then one error names the cell
    with pytest.raises(RuntimeError, match=r"(?s)'x': 3.*x=3 is refused"):
        sweeps.run(marked_cell, grid, cache_dir=tmp_path, on_error="raise", progress=False,
                   retries=2)
    assert [calls(marks, x) for x in (1, 2, 3, 4)] == [1, 1, 1 + 3, 1]   # failed: not cached


def test_bad_results_are_recorded_per_cell(tmp_path):
    with pytest.warns(sweeps.SweepWarning, match="3 of 4"):
        table = sweeps.run(bad_result_cell, {"kind": ["dict", "clash", "object", "ok"]},
                           cache_dir=tmp_path, progress=False)
    errors = table.column("error")
    assert "must return a dict" in errors[0] and "clashes" in errors[1]
    assert "dtype object" in errors[2] and errors[3] == ""
    assert table.rows[3]["pair"] == [1, 2.5]                   # tuples are stored as lists


def bad_result_cell(kind):
    if kind == "dict":
        return [1, 2]
    if kind == "clash":
        return {"status": "converged"}
    if kind == "object":
        return {"a": np.array([None])}
    return {"pair": (1, np.float64(2.5))}


# ---------------------------------------------------------------------------------------------
# bad cache files and bad arguments: recomputed with a warning, or refused before any cell runs
# ---------------------------------------------------------------------------------------------
def square_cell(x, marks):
    """A cell whose result holds no array (cached as JSON); one marker file per call."""
    Path(marks, f"{x}.{os.getpid()}.{uuid.uuid4().hex}").touch()
    return {"y": x * x, "half": x / 2}


def _cached_once(tmp_path, cell, x):
    """``(marks, grid, table, path)`` of a one-cell sweep run once into ``tmp_path/c``."""
    marks = tmp_path / "marks"
    marks.mkdir()
    grid = sweeps.grid(x=[x], marks=[str(marks)])
    table = sweeps.run(cell, grid, cache_dir=tmp_path / "c", progress=False)
    (path,) = (tmp_path / "c" / cache.cell_name(cell)).iterdir()
    return marks, grid, table, path


def test_hand_edited_json_cell_fails_its_checksum_and_is_recomputed(tmp_path):
    marks, grid, first, path = _cached_once(tmp_path, square_cell, 6)
    assert path.suffix == ".json"
    text = path.read_text()
    assert '"y": 36' in text and '"checksum": "' in text
    for edit in ('"y": 37', '"y": 36.0'):                  # another value; another type
        path.write_text(text.replace('"y": 36', edit))
        with pytest.warns(cache.CacheWarning, match=r"(?s)fails its checksum.*recomputed"):
            again = sweeps.run(square_cell, grid, cache_dir=tmp_path / "c", progress=False)
        assert again.rows[0]["y"] == 36 and type(again.rows[0]["y"]) is int
        same_bits(first, again)
    assert calls(marks) == 3
    assert json.loads(path.read_text())["result"] == {"y": 36, "half": 3.0}   # overwritten
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # a good cell: read, no warning
        sweeps.run(square_cell, grid, cache_dir=tmp_path / "c", progress=False)
    assert calls(marks) == 3


def _corrupt(path, how):
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[:len(raw) // 2])
    elif how == "garbage":
        path.write_bytes(b"not a zip archive at all")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flipped_bit":   # one bit of the array bytes (the first float of v, x / 7)
        at = raw.index(np.float64(2 / 7).tobytes())
        path.write_bytes(raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:])
    else:                        # re-saved by hand, a valid archive with one value changed
        with np.load(io.BytesIO(raw)) as z:
            members = {n: z[n] for n in z.files}
        members["arr_0"] = members["arr_0"] + 1.0
        with open(path, "wb") as f:
            np.savez(f, **members)


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "flipped_bit", "edited"])
def test_corrupted_npz_cell_is_recomputed(tmp_path, how):
    marks, grid, first, path = _cached_once(tmp_path, marked_cell, 2)
    assert path.suffix == ".npz"
    good = path.read_bytes()
    _corrupt(path, how)
    why = "fails its checksum" if how == "edited" else "(cannot be read|fails its checksum)"
    with pytest.warns(cache.CacheWarning, match=f"{why}.*recomputed"):
        again = sweeps.run(marked_cell, grid, cache_dir=tmp_path / "c", progress=False)
    assert calls(marks) == 2
    same_bits(first, again)
    with np.load(path) as z, np.load(io.BytesIO(good)) as g:   # the file is a good cell again
        assert sorted(z.files) == sorted(g.files)
        assert all(z[n].tobytes() == g[n].tobytes() for n in g.files if n.startswith("arr_"))


def test_cells_of_the_older_layout_are_recomputed_silently(tmp_path):
    """A cell written before the checksum (format 1) is not trusted, and not warned about."""
    marks, grid, _, path = _cached_once(tmp_path, square_cell, 3)
    doc = json.loads(path.read_text())
    del doc["checksum"]
    doc.update(format=1, result={"y": 10, "half": 1.5})
    path.write_text(json.dumps(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = sweeps.run(square_cell, grid, cache_dir=tmp_path / "c", progress=False)
    assert table.rows[0]["y"] == 9 and calls(marks) == 2


@pytest.mark.parametrize("address, match", [
    ("tcp://", "has no host"), ("tcp://10.0.0.5", "needs a port"),
    ("tcp://10.0.0.5:0", "needs a port"), ("tcp://10.0.0.5:70000", "needs a port"),
    ("tcp://10.0.0.5:x", "needs a port"), ("tcp://10.0.0.5:8786/x", "needs a port"),
    ("foo://10.0.0.5:8786", "unknown protocol 'foo'"), ("://h:1", "unknown protocol"),
])
def test_malformed_scheduler_address_is_refused_before_any_cell(tmp_path, address, match):
    marks = tmp_path / "marks"
    marks.mkdir()
    with pytest.raises(ValueError, match=f"scheduler=.*{match}.*tcp://10.0.0.5:8786"):
        sweeps.run(square_cell, sweeps.grid(x=[1], marks=[str(marks)]), cache_dir=tmp_path,
                   scheduler=address, progress=False)
    assert calls(marks) == 0


def test_unreachable_scheduler_fails_at_once(tmp_path):
    """A refused connection is reported by a plain TCP probe, not after Dask's 20 s timeout."""
    import socket

    with socket.socket() as s:                       # a port nobody listens on (just freed)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    marks = tmp_path / "marks"
    marks.mkdir()
    with pytest.raises(RuntimeError, match=r"cannot reach a Dask scheduler there "
                                            r"\(ConnectionRefusedError"):   # the probe's error
        sweeps.run(square_cell, sweeps.grid(x=[1], marks=[str(marks)]), cache_dir=tmp_path,
                   scheduler=f"tcp://127.0.0.1:{port}", progress=False)
    assert calls(marks) == 0


def test_cache_dir_that_is_a_file_is_refused(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("x")
    grid = sweeps.grid(x=[1], marks=[str(marks)])
    for where, match in [(afile, "is a file, not a folder"),
                         (afile / "sub", "lies under .*afile, which is a file"),
                         (3, "must be a folder path")]:
        with pytest.raises(ValueError, match=f"cache_dir=.*{match}"):
            sweeps.run(square_cell, grid, cache_dir=where, progress=False)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "sweep").write_text("x")        # the sweep's sub-folder is a file
    with pytest.raises(ValueError, match="cache_dir/name=.*is a file"):
        sweeps.run(square_cell, grid, cache_dir=tmp_path / "c", name="sweep", progress=False)
    assert calls(marks) == 0 and afile.read_text() == "x"


# ---------------------------------------------------------------------------------------------
# interruptions of the client
# ---------------------------------------------------------------------------------------------
def test_interrupted_sweep_resumes_from_the_cache(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    grid = sweeps.grid(x=list(range(6)), marks=[str(marks)], interrupt=[4])
    (tmp_path / "stop").touch()
    with pytest.raises(KeyboardInterrupt):
        sweeps.run(marked_cell, grid, cache_dir=tmp_path, scheduler="serial", progress=False)
    assert calls(marks) == 5
    # the rerun computes only the cells that had not finished
    (tmp_path / "stop").unlink()
    table = sweeps.run(marked_cell, grid, cache_dir=tmp_path, progress=False)
    assert calls(marks) == 5 + 2     # x = 4 (interrupted) and 5 (never started) run now
    assert table.column("y").tolist() == [x * x for x in range(6)]


def test_killed_client_process_resumes_from_the_cache(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    grid = sweeps.grid(x=list(range(8)), marks=[str(marks)], delay=[0.2])
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import json, test_sweeps as t; "
              "from shortrun.numerics import sweeps; "
              "sweeps.run(t.marked_cell, json.loads(sys.argv[2]), cache_dir=sys.argv[3], "
              "scheduler='serial', progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(HERE), json.dumps(grid),
                             str(tmp_path / "c")], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while calls(marks) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls(marks) >= 4, "the sweep in the subprocess did not get going"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    started = calls(marks)
    finished = len(list((tmp_path / "c" / cache.cell_name(marked_cell)).glob("*.npz")))
    assert 3 <= finished < 8 and started in (finished, finished + 1)
    table = sweeps.run(marked_cell, grid, cache_dir=tmp_path / "c", scheduler="serial",
                       progress=False)
    assert calls(marks) == started + 8 - finished                # only the missing cells ran
    assert table.column("y").tolist() == [x * x for x in range(8)]


# ---------------------------------------------------------------------------------------------
# a real Dask scheduler and workers on 127.0.0.1
# ---------------------------------------------------------------------------------------------
def _start(args, log, env):
    with open(log, "w") as f:
        return subprocess.Popen([str(DASK), *args], stdout=f, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _stop(proc):
    """Kill a process group started by :func:`_start` (no-op if it is gone)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


class LocalDask:
    """A scheduler and workers started as separate processes (see the fixture)."""

    def __init__(self, folder):
        self.folder, self.procs = folder, []
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
            self.env.pop(var, None)
        file = folder / "scheduler.json"
        self.procs.append(_start(["scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(file)],
                                 folder / "scheduler.log", self.env))
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        self.address = json.loads(file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")

    def worker(self, name, nanny=True):
        args = ["worker", self.address, "--nworkers", "1", "--nthreads", "1", "--host",
                "127.0.0.1", "--no-dashboard", "--name", name, "--local-directory",
                str(self.folder / name)]
        proc = _start(args + ([] if nanny else ["--no-nanny"]), self.folder / f"{name}.log",
                      self.env)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in reversed(self.procs):
            _stop(proc)


@pytest.fixture(scope="module")
def local_dask(tmp_path_factory):
    """`dask scheduler` + two `dask worker`s (1 process, 1 thread each) on 127.0.0.1, killed
    (process groups) at the end of the module even when a test fails."""
    from distributed import Client

    dask = None
    try:
        dask = LocalDask(tmp_path_factory.mktemp("dask"))
        dask.worker("w1")
        dask.worker("w2")
        dask.client = Client(dask.address, set_as_default=False, timeout="60s")
        dask.client.wait_for_workers(2, timeout=120)
        yield dask
    finally:
        if dask is not None:
            if getattr(dask, "client", None) is not None:
                dask.client.close()
            dask.stop()


def test_scheduler_address_gives_bit_identical_fixed_points(tmp_path, local_dask):
    serial = sweeps.run(fixed_point_cell, FP_GRID, cache_dir=tmp_path / "s", scheduler="serial",
                        progress=False)
    assert set(serial.column("newton")) == {"converged"}
    assert max(serial.column("residual")) <= 1e-11
    remote = sweeps.run(fixed_point_cell, FP_GRID, cache_dir=tmp_path / "r",
                        scheduler=local_dask.address, progress=False)
    same_bits(serial, remote)
    cached = sweeps.run(fixed_point_cell, FP_GRID, cache_dir=tmp_path / "r",
                        scheduler=local_dask.address, progress=False)
    same_bits(serial, cached)
    # and the fixed point is the teacher's exact data statistics reached by p(k, p0) (G5)
    T = teachers.sk(6, 0.5, seed=6, field=0.3)
    prob = fixed_point.problem(T.data(), 3, "rdm")
    assert np.max(np.abs(prob.residual(remote.where(teacher="sk", N=6).rows[0]["theta"]))) \
        <= 1e-11


def test_workers_use_one_numba_thread_per_core(tmp_path, local_dask):
    import numba

    table = sweeps.run(threads_cell, {"x": list(range(6))}, cache_dir=None,
                       scheduler=local_dask.client, progress=False)
    workers = local_dask.client.scheduler_info(n_workers=-1)["workers"]
    host_threads = sum(w["nthreads"] for w in workers.values())
    want = max(1, min(numba.config.NUMBA_NUM_THREADS, engine._cores() // host_threads))
    assert set(table.column("numba")) == {want} and set(table.column("blas")) == {1}
    assert os.getpid() not in set(table.column("pid"))


def test_cells_run_with_one_blas_thread_in_process_too(tmp_path):
    """Multi-threaded BLAS sums in another order (the last bits of Newton's fixed points at
    N = 11 change with OPENBLAS_NUM_THREADS), so every cell runs with one BLAS thread."""
    table = sweeps.run(threads_cell, {"x": [1, 2]}, cache_dir=None, scheduler="serial",
                       progress=False)
    assert set(table.column("blas")) == {1} and set(table.column("pid")) == {os.getpid()}


def test_killed_worker_sweep_still_completes(tmp_path, local_dask):
    marks = tmp_path / "marks"
    marks.mkdir()
    victim = local_dask.worker("victim", nanny=False)
    local_dask.client.wait_for_workers(3, timeout=120)
    grid = sweeps.grid(x=list(range(12)), marks=[str(marks)], delay=[0.4])
    killed = []

    def kill_when_busy():
        deadline = time.monotonic() + 120
        while victim.pid not in pids(marks) and time.monotonic() < deadline:
            time.sleep(0.02)
        if victim.pid in pids(marks):
            _stop(victim)
            killed.append(calls(marks))

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    try:
        table = sweeps.run(marked_cell, grid, cache_dir=tmp_path / "c",
                           scheduler=local_dask.address, progress=False)
    finally:
        _stop(victim)
        killer.join(timeout=5)
    assert killed, "the extra worker never ran a cell, so it was not killed mid-sweep"
    assert victim.pid not in set(table.column("pid"))          # its cell was rerun elsewhere
    assert set(table.column("status")) == {"ok"}
    assert calls(marks) > 12                                   # the killed cell ran twice
    expected = [marked_cell(x, str(marks)) for x in range(12)]
    assert [r["y"] for r in table.rows] == [e["y"] for e in expected]
    for row, e in zip(table.rows, expected):
        assert row["v"].tobytes() == e["v"].tobytes()


def test_auto_mode_stays_serial_for_cheap_cells_and_hands_long_grids_over(tmp_path, local_dask,
                                                                           monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setattr(engine, "_LOCAL", {})
    table = sweeps.run(marked_cell, sweeps.grid(x=list(range(20)), marks=[str(marks)]),
                       cache_dir=None, progress=False)
    assert set(table.column("pid")) == {os.getpid()} and engine._LOCAL == {}
    # a grid whose serial cost exceeds the switch budget moves to the (here: external) cluster
    monkeypatch.setattr(engine, "SWITCH_SECONDS", 0.05)
    monkeypatch.setattr(engine, "_local_client", lambda n: local_dask.client)
    table = sweeps.run(marked_cell, sweeps.grid(x=list(range(8)), marks=[str(marks)],
                                                delay=[0.05]), cache_dir=None, progress=False)
    where = table.column("pid")
    assert where[:2].tolist() == [os.getpid()] * 2 and os.getpid() not in where[2:]
    assert table.column("y").tolist() == [x * x for x in range(8)]


def test_local_cluster_workers_are_single_threaded(tmp_path):
    try:
        table = sweeps.run(threads_cell, {"x": [1, 2, 3]}, cache_dir=None, scheduler="local",
                           n_workers=2, progress=False)
    finally:
        sweeps.shutdown()
    assert set(table.column("numba")) == {1} and set(table.column("omp")) == {"1"}
    assert set(table.column("numba_env")) == {"1"} and set(table.column("blas")) == {1}
    assert os.getpid() not in set(table.column("pid"))
