"""Checkpoints: bit-identical resumption of the exact and the Monte Carlo trainers (after an
extension of n_steps and after an interruption), a format that cannot run code, a checksum that
refuses any corruption, atomic writes, and fingerprints that take numbers by value."""
import hashlib
import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from shortrun.numerics import training
from shortrun.numerics.core import checkpoint, states
from shortrun.numerics.data import teachers
from shortrun.numerics.training import monte_carlo as mc_training


@pytest.fixture(scope="module")
def data6():
    return teachers.sk(6, 0.8, seed=1, field=0.2).data()


@pytest.fixture(scope="module")
def samples5():
    t = teachers.sk(5, 0.5, seed=1, field=0.2)
    return states.spins(5, teachers.sample_states(t.model, 400, seed=2))


EXACT = dict(lr=0.3, momentum=0.5, tol=0.0, record_every=7, progress=False)
MC = dict(n_chains=200, lr=0.1, momentum=0.5, batch_size=50, seed=3, progress=False)


def _interrupted(monkeypatch, module, name, calls, run):
    """Run ``run()`` with ``module.name`` raising KeyboardInterrupt on call number ``calls``;
    the run must leave a checkpoint behind."""
    real, count = getattr(module, name), [0]

    def wrapper(*args, **kwargs):
        count[0] += 1
        if count[0] == calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(module, name, wrapper)
        with pytest.raises(KeyboardInterrupt):
            run(checkpoint_seconds=1e9)    # no periodic save: only the one on interruption


def _same_exact(a, b):
    assert np.array_equal(a.theta, b.theta)
    for f in ("step", "theta", "grad_norm", "mismatch_k", "mismatch_eq"):
        assert np.array_equal(getattr(a.history, f), getattr(b.history, f)), f
    assert (a.steps, a.converged, a.message) == (b.steps, b.converged, b.message)


def _same_mc(a, b):
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.chains, b.chains)
    for f in ("theta", "grad", "grad_norm", "mismatch_k"):
        assert np.array_equal(getattr(a.history, f), getattr(b.history, f)), f


def _trainer(kind, data6, samples5):
    """(train(protocol, n_steps, **kw), comparison, the function to interrupt, its call count
    at the interruption, the step saved then)."""
    if kind == "exact":  # training.stats: once per update, twice every 7th (call 50 is in update 42)
        return (lambda protocol, n, **kw: training.train(data6, 2, protocol, n_steps=n, **kw,
                                                         **EXACT), _same_exact, training.exact, "stats",
                50, 42)
    return (lambda protocol, n, **kw: mc_training.train(samples5, 2, protocol, n_steps=n, **kw,
                                                        **MC), _same_mc, mc_training, "sample", 11, 10)


@pytest.mark.parametrize("kind, protocol", [("exact", "rdm"), ("exact", "pcd"), ("mc", "rdm"),
                                            ("mc", "cd"), ("mc", "pcd")])
def test_training_extended_from_a_checkpoint_is_bit_identical(tmp_path, data6, samples5, kind,
                                                              protocol):
    train, same, *_ = _trainer(kind, data6, samples5)
    path = tmp_path / "run.ckpt"
    train(protocol, 13, checkpoint=path, checkpoint_seconds=0)
    assert checkpoint.read(path)["state"]["step"] == 13
    same(train(protocol, 60), train(protocol, 60, checkpoint=path))


@pytest.mark.parametrize("kind", ["exact", "mc"])
def test_training_resumes_after_an_interruption(tmp_path, monkeypatch, data6, samples5, kind):
    train, same, module, name, calls, saved_step = _trainer(kind, data6, samples5)
    path = tmp_path / "run.ckpt"
    _interrupted(monkeypatch, module, name, calls,
                 lambda **kw: train("pcd", 60, checkpoint=path, **kw))
    assert checkpoint.read(path)["state"]["step"] == saved_step
    same(train("pcd", 60), train("pcd", 60, checkpoint=path))


def test_a_checkpoint_of_another_run_is_refused(tmp_path, data6, samples5):
    path = tmp_path / "run.ckpt"
    training.train(data6, 2, "rdm", n_steps=5, checkpoint=path, **EXACT)
    with pytest.raises(ValueError, match="other arguments.*delete the file"):
        training.train(data6, 3, "rdm", n_steps=5, checkpoint=path, **EXACT)
    with pytest.raises(ValueError, match="other arguments"):
        mc_training.train(samples5, 2, "rdm", n_steps=5, checkpoint=path, **MC)
    mc = tmp_path / "mc.ckpt"
    mc_training.train(samples5, 2, "rdm", n_steps=5, checkpoint=mc, **MC)
    with pytest.raises(ValueError, match="other arguments"):
        mc_training.train(samples5, 2, "rdm", n_steps=5, checkpoint=mc, **{**MC, "seed": 4})
    with pytest.raises(ValueError, match="holds 5 updates.*n_steps >= 5"):
        mc_training.train(samples5, 2, "rdm", n_steps=4, checkpoint=mc, **MC)


def _resave(path, change):
    """Re-save the checkpoint at ``path`` with ``change(state)`` and a valid checksum (what a
    hand edit with the library's own writer produces: the checksum cannot catch it)."""
    content = checkpoint.read(path)
    checkpoint.save(path, change(content["state"]), content["fingerprint"])


def _nan_theta(state):
    state["theta"][1] = np.nan
    return state


def _history_of(n):
    def change(state):
        state["step"] = n
        return state
    return change


EDITS = [  # (what the edit does, the change, what the message must say)
    ("only a step", lambda state: {"step": 2}, "holds no 'theta' in its state"),
    ("NaN theta", _nan_theta, "holds a 'theta' with NaN or inf entries"),
    ("negative step", lambda state: dict(state, step=-5), "holds step=-5, not a number of "
                                                          "finished updates >= 0"),
    ("no step", lambda state: {k: v for k, v in state.items() if k != "step"}, "holds no 'step'"),
    ("boolean step", lambda state: dict(state, step=True), "holds step=True"),
    ("step without its history", _history_of(10), r"'(rows|hist)\.step' of shape \((1|7),\) "
                                                   r"where shape \((2|10),\) is expected"),
    ("short velocity", lambda state: dict(state, velocity=state["velocity"][:-1]),
     r"'velocity' of shape \(\d+,\) where shape \(\d+,\) is expected"),
    ("theta as text", lambda state: dict(state, theta="0"), "'theta' that is not a numeric array"),
]


@pytest.mark.parametrize("kind", ["exact", "mc"])
@pytest.mark.parametrize("what, change, says", EDITS, ids=[e[0] for e in EDITS])
def test_a_checkpoint_edited_with_a_valid_checksum_is_refused(tmp_path, data6, samples5, kind,
                                                              what, change, says):
    """The checksum proves the bytes are the ones written, not that they are a state of this run:
    a state that this run cannot have saved (re-saved by hand with a valid checksum) is refused
    with a ValueError naming the file, what it holds, that it is corrupt and how to start afresh
    -- never a KeyError, a "lower the learning rate", or a history with steps 0..4, -5..10.
    The unedited file resumes (so the check refuses only what is wrong)."""
    train, same, *_ = _trainer(kind, data6, samples5)
    path = tmp_path / "run.ckpt"
    train("pcd", 7, checkpoint=path, checkpoint_seconds=0)
    good = path.read_bytes()
    _resave(path, change)
    with pytest.raises(ValueError) as err:
        train("pcd", 12, checkpoint=path)
    msg = str(err.value)
    assert msg.startswith(f"checkpoint={str(path)!r} is not a valid state of this run: ")
    assert re.search(says, msg), msg
    assert msg.endswith("so it is corrupt or was edited by hand; delete the file or pass another "
                        "checkpoint path to start afresh.")
    path.write_bytes(good)
    same(train("pcd", 12), train("pcd", 12, checkpoint=path))


@pytest.mark.parametrize("kind", ["exact", "mc"])
def test_edited_monitor_chains_and_rows_are_refused(tmp_path, data6, samples5, kind):
    """The parts that only the trainer reads back: the divergence monitor's memory (exact), the
    ±1 chains (Monte Carlo), and history rows of the wrong shape."""
    train, *_ = _trainer(kind, data6, samples5)
    path = tmp_path / "run.ckpt"
    train("pcd", 7, checkpoint=path, checkpoint_seconds=0)
    good = path.read_bytes()
    if kind == "exact":
        def monitor(state):
            state["monitor"]["prev"] = state["monitor"]["prev"][:3]
            return state
        edits = [(monitor, r"'monitor\.prev' of shape \(3,\)"),
                 (lambda s: dict(s, monitor=dict(s["monitor"], suspect=-1)),
                  "'monitor.suspect' = -1"),
                 (lambda s: dict(s, rows=dict(s["rows"], theta=s["rows"]["theta"][:, :2])),
                  "'rows.theta' of shape"),
                 (lambda s: dict(s, persistent=s["persistent"][:5]), "'persistent' of shape"),
                 (lambda s: dict(s, rows=dict(s["rows"], step=s["rows"]["step"] + 3)),
                  r"history rows at steps \[3\] where the steps 0, 7, \.\.\. below "
                  "step=7 are expected")]
    else:
        def chains(state):
            state["chains"] = (state["chains"] + 1) // 2
            return state
        edits = [(chains, "'chains' with entries other than -1 and \\+1"),
                 (lambda s: dict(s, chains=s["chains"][:7]), r"'chains' of shape \(7, 5\)"),
                 (lambda s: dict(s, hist=dict(s["hist"], grad=s["hist"]["grad"][:3])),
                  r"'hist.grad' of shape \(3, 15\)")]
    for change, says in edits:
        path.write_bytes(good)
        _resave(path, change)
        with pytest.raises(ValueError, match=f"is not a valid state of this run: .*{says}"):
            train("pcd", 12, checkpoint=path)


def test_resuming_with_numpy_scalars_for_the_arguments(tmp_path, samples5):
    """k, lr, n_chains and seed given as numpy scalars are the same run as Python numbers."""
    path = tmp_path / "run.ckpt"
    mc_training.train(samples5, 2, "rdm", n_steps=4, checkpoint=path, **MC)
    numpy_args = dict(MC, lr=np.float64(0.1), n_chains=np.int64(200), seed=np.uint64(3))
    resumed = mc_training.train(samples5, np.int64(2), "rdm", n_steps=9, checkpoint=path,
                                **numpy_args)
    _same_mc(mc_training.train(samples5, 2, "rdm", n_steps=9, **MC), resumed)


# ---------------------------------------------------------------------------------------------
# the file format
# ---------------------------------------------------------------------------------------------
FIX = "delete the file or pass another checkpoint path"


def _state():
    """A state with every kind of value a checkpoint stores."""
    monitor = training.DivergenceMonitor(theta_max=7.0, window=3)
    for step in range(1, 8):
        monitor(step, np.array([0.1, -0.2]) * step, np.array([1.0, -1.0]) / step)
    return {
        "step": 13, "flag": True, "none": None, "text": "pcd ±", "big": 2**70,
        "floats": [0.1, -0.0, float("nan"), float("inf"), -float("inf"), 5e-324],
        "rows": [(1, np.arange(3.0), 0.5), (2, np.arange(3.0) + 1, np.nan)],
        "int8": np.array([[1, -1, 1], [-1, -1, 1]], np.int8),
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "big_endian": np.arange(5, dtype=">i4"),
        "complex": np.array([1 + 2j, -0.5j], np.complex64),
        "bool": np.array([True, False]), "empty": np.empty((0, 5)), "zero_d": np.array(2.5),
        "scalars": (np.int64(-3), np.float32(0.25), np.bool_(True), np.uint64(2**64 - 1)),
        "nested": {"a": [{"b": (np.float64(1e-300),)}]},
        "monitor": monitor.state(),
    }


def _same(a, b, where="state"):
    """Exact equality of stored and restored values: type, dtype, shape, bytes."""
    assert type(a) is type(b), where
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), where
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert np.isnan(a) and np.isnan(b) or (a == b and np.copysign(1, a) == np.copysign(1, b))
    else:
        assert a == b, where


def test_every_kind_of_value_round_trips_exactly(tmp_path):
    path = tmp_path / "state.ckpt"
    state = _state()
    checkpoint.save(path, state, "fp")
    _same(state, checkpoint.load(path, "fp"))
    # an .npz that numpy opens without pickles, holding JSON metadata
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes())
        assert meta["format"] == checkpoint.FORMAT and meta["fingerprint"] == "fp"
        assert np.array_equal(z[meta["state"]["int8"]["__array__"]], state["int8"])


def test_a_restored_monitor_continues_like_the_original(tmp_path):
    path = tmp_path / "state.ckpt"
    state = _state()
    checkpoint.save(path, state, "fp")
    a = training.DivergenceMonitor(theta_max=7.0, window=3)
    for step in range(1, 8):
        a(step, np.array([0.1, -0.2]) * step, np.array([1.0, -1.0]) / step)
    b = training.DivergenceMonitor(theta_max=7.0, window=3)
    b.restore(checkpoint.load(path, "fp")["monitor"])
    for step in range(8, 40):
        theta, grad = np.array([0.3, -0.1]) * step, np.array([1.0, 0.5]) * (-1) ** step
        assert a(step, theta, grad) == b(step, theta, grad)


class _Foreign:
    pass


@pytest.mark.parametrize("value, where", [
    (np.array([1, "a", None], dtype=object), "state['x']"),
    ({1, 2}, "state['x']"),
    (Path("x"), "state['x']"),
    (_Foreign(), "state['x']"),
    (training.DivergenceMonitor(), "state['x']"),
    ({1: 2.0}, "state['x']"),
    ({"__array__": "a0"}, "state['x']"),
    ([0, (1, lambda: 0)], "state['x'][1][1]"),
])
def test_save_refuses_what_a_checkpoint_cannot_hold(tmp_path, value, where):
    path = tmp_path / "state.ckpt"
    checkpoint.save(path, {"x": np.arange(3)}, "fp")
    with pytest.raises(TypeError, match=re.escape(where)):
        checkpoint.save(path, {"x": value}, "fp")
    assert np.array_equal(checkpoint.load(path, "fp")["x"], np.arange(3))   # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.ckpt"]    # no temporary left


def _small(tmp_path):
    path = tmp_path / "small.ckpt"
    checkpoint.save(path, {"step": 3, "theta": np.array([0.25, -1.5, 3.0]), "rows": [(1, 2.0)]},
                    "fp")
    return path, path.read_bytes()


def _refused(path, *phrases):
    with pytest.raises(ValueError) as err:
        checkpoint.load(path, "fp")
    msg = str(err.value)
    assert repr(str(path)) in msg and FIX in msg, msg
    assert any(p in msg for p in phrases), msg
    return msg


def test_a_flipped_bit_anywhere_is_refused(tmp_path):
    """Every byte of the file, one bit each (cycling through the 8 bit positions)."""
    path, good = _small(tmp_path)
    bad = tmp_path / "bad.ckpt"
    for i in range(len(good)):
        data = bytearray(good)
        data[i] ^= 1 << (i % 8)
        bad.write_bytes(bytes(data))
        _refused(bad, "is corrupted", "not a complete")
    assert checkpoint.load(path, "fp")["step"] == 3


def test_a_flipped_bit_in_the_saved_theta_says_corrupted(tmp_path):
    path, good = _small(tmp_path)
    at = good.index(np.array([0.25, -1.5, 3.0]).tobytes())
    data = bytearray(good)
    data[at + 9] ^= 0x10
    path.write_bytes(bytes(data))
    _refused(path, "is corrupted: its SHA-256 checksum does not match")


def test_truncated_garbage_empty_folder_and_unreadable_files_are_refused(tmp_path):
    path, good = _small(tmp_path)
    for n in [*range(0, len(good) - 200, 13), *range(len(good) - 200, len(good))]:
        path.write_bytes(good[:n])
        _refused(path, "not a complete shortrun checkpoint")
    rng = np.random.default_rng(5)
    for n in (1, 7, 64, 91, 500, 4096):
        path.write_bytes(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        _refused(path, "not a complete shortrun checkpoint")
    path.write_bytes(good + b"\x00")                       # an appended byte
    _refused(path, "not a complete shortrun checkpoint")
    folder = tmp_path / "folder.ckpt"
    folder.mkdir()
    _refused(folder, "is a folder")
    with pytest.raises(ValueError, match="is a folder; pass a file path"):
        checkpoint.Checkpointer(folder, "fp")
    with pytest.raises(ValueError, match="checkpoint=3 must be a file path"):
        checkpoint.Checkpointer(3, "fp")


class _Payload:
    """Unpickling this creates the marker file (stands for any code a pickle may run)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return Path.touch, (Path(self.marker),)


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, data6):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"format": 1, "fingerprint": "fp",
                                   "state": {"x": _Payload(marker)}}, protocol=4))
    pickle.loads(path.read_bytes())          # the payload is live: unpickling creates the marker
    assert marker.exists()
    marker.unlink()
    _refused(path, "looks like a pickle")
    with pytest.raises(ValueError, match="looks like a pickle"):
        training.train(data6, 2, "rdm", n_steps=5, checkpoint=path, **EXACT)
    assert not marker.exists()


def _sealed(members, path):
    """A zip of ``members`` with a valid checksum: a crafted file, not one :func:`save` wrote."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.comment = b"shortrun checkpoint sha256=" + b"0" * 64
        for name, data in members.items():
            zf.writestr(name, data)
    raw = buf.getvalue()
    path.write_bytes(raw[:-64] + hashlib.sha256(raw[:-64]).hexdigest().encode())
    return path


def _npy(a, allow_pickle=False):
    f = io.BytesIO()
    np.lib.format.write_array(f, a, allow_pickle=allow_pickle)
    return f.getvalue()


def _meta(state, fmt=checkpoint.FORMAT):
    return _npy(np.frombuffer(json.dumps({"format": fmt, "fingerprint": "fp",
                                          "state": state}).encode(), np.uint8))


def test_crafted_files_with_a_valid_checksum_cannot_run_code(tmp_path):
    marker = tmp_path / "marker"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(marker)
    path = _sealed({"meta.npy": _meta({"x": {"__array__": "a0"}}),
                    "a0.npy": _npy(evil, allow_pickle=True)}, tmp_path / "evil.ckpt")
    _refused(path, "not a valid shortrun checkpoint")
    assert not marker.exists()
    path = _sealed({"meta.npy": _meta({"x": {"__array__": "a0", "__reduce__": "os:system"}})},
                   tmp_path / "tag.ckpt")
    _refused(path, "not a valid shortrun checkpoint")
    path = _sealed({"meta.npy": _meta({"x": 1}, fmt=1)}, tmp_path / "old.ckpt")
    _refused(path, "has format version 1")
    path = _sealed({"meta.npy": _meta({"x": {"__array__": "a7"}})}, tmp_path / "missing.ckpt")
    _refused(path, "not a valid shortrun checkpoint")
    path = _sealed({"meta.json": b"{}"}, tmp_path / "layout.ckpt")
    _refused(path, "not a valid shortrun checkpoint")


def test_bad_checkpoint_arguments(tmp_path, data6):
    with pytest.raises(ValueError, match="folder .* does not exist"):
        training.train(data6, 2, "rdm", n_steps=5, checkpoint=tmp_path / "no" / "x.ckpt", **EXACT)
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        training.train(data6, 2, "rdm", n_steps=5, checkpoint=tmp_path / "x.ckpt",
                       checkpoint_seconds=-1, **EXACT)
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a complete shortrun checkpoint.*" + FIX):
        training.train(data6, 2, "rdm", n_steps=5, checkpoint=junk, **EXACT)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "state.ckpt"
    checkpoint.save(path, {"x": np.arange(3)}, "fp")

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", broken_write)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, {"x": np.arange(5)}, "fp")
    monkeypatch.undo()
    assert np.array_equal(checkpoint.load(path, "fp")["x"], np.arange(3))   # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.ckpt"]    # no temporary left


def test_the_same_state_gives_the_same_bytes(tmp_path):
    checkpoint.save(tmp_path / "a", _state(), "fp")
    checkpoint.save(tmp_path / "b", _state(), "fp")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


# ---------------------------------------------------------------------------------------------
# fingerprints
# ---------------------------------------------------------------------------------------------
def test_fingerprint_sees_array_contents():
    a = np.arange(4.0)
    assert checkpoint.fingerprint(x=a, k=2) == checkpoint.fingerprint(k=2, x=a.copy())
    assert checkpoint.fingerprint(x=a, k=2) != checkpoint.fingerprint(x=a + [0, 0, 0, 1e-12], k=2)
    assert checkpoint.fingerprint(x=a, k=2) != checkpoint.fingerprint(x=a.astype(np.float32), k=2)
    assert checkpoint.fingerprint(x=a) != checkpoint.fingerprint(x=a.reshape(2, 2))
    assert checkpoint.fingerprint(x=a) == checkpoint.fingerprint(x=a.astype(">f8"))
    assert checkpoint.fingerprint(x=a[::2]) == checkpoint.fingerprint(x=np.array([0.0, 2.0]))


def test_fingerprint_takes_numbers_by_value():
    fp = checkpoint.fingerprint
    assert fp(k=np.int64(2), lr=np.float64(0.1)) == fp(k=2, lr=0.1)
    assert fp(k=np.array(2), lr=np.array(0.1)) == fp(k=2, lr=0.1)
    assert fp(k=np.int8(2), seed=np.uint64(2**64 - 1)) == fp(k=2, seed=2**64 - 1)
    assert fp(lr=1) == fp(lr=1.0) == fp(lr=np.float32(1.0))
    assert fp(lr=np.float32(0.1)) != fp(lr=0.1)          # another number
    assert fp(k=2) != fp(k=3) and fp(k=True) != fp(k=1) and fp(k=None) != fp(k=0)
    assert fp(p0="uniform") != fp(p0="uniformx") and fp(x=[1, 2]) != fp(x=[[1, 2]])
    assert fp(a=1, b=2) != fp(a=2, b=1)
    assert fp(x=(np.float64(0.5), "a")) == fp(x=[0.5, "a"])
    assert fp(x=np.empty((0, 3))) != fp(x=np.empty((3, 0))) != fp(x=np.empty(0, np.int8))
    with pytest.raises(ValueError, match="p0=.*cannot be part of a run's fingerprint"):
        fp(p0=object())
