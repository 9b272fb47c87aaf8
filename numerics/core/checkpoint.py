r"""Atomic, resumable checkpoints for long runs (the exact and the Monte Carlo trainers).

A run that is given ``checkpoint=path`` saves its complete state there: every
``checkpoint_seconds`` of wall time, when it ends, and when it is interrupted (Ctrl-C, a
cluster's time limit sending SIGINT, an exception).  Called again with the same arguments, it
resumes from the saved update and returns *bit for bit* what the uninterrupted run returns: the
saved state holds everything the next update depends on (parameters, momentum, persistent
chains, the divergence monitor, the history so far), and the random numbers of update n are a
function of (seed, n) alone (:mod:`shortrun.numerics.core.rng`).  ``n_steps`` may grow between
calls, so a finished run can be extended.

**Format.**  A checkpoint is an uncompressed ``.npz`` (zip) archive that ``numpy.load(path,
allow_pickle=False)`` opens: ``meta.npy`` holds UTF-8 JSON bytes ``{"format", "fingerprint",
"state"}`` and ``a0.npy, a1.npy, …`` the arrays of the state.  Nothing in it is a pickle, so
loading a checkpoint never runs code.  The state is a tree of

* ``None``, ``bool``, ``int``, ``float`` (NaN and ±inf included), ``str``;
* ``list``, ``tuple`` and ``dict`` with ``str`` keys (not starting with ``"__"``);
* numpy arrays of any non-object dtype and numpy scalars (restored with dtype, shape and bytes);

anything else (an object, a function, a set, ...) makes :func:`save` raise ``TypeError``: an
object with memory, such as the trainers' divergence monitor, stores a dict of the above and
restores itself from it.  In the JSON an array is ``{"__array__": "a3"}``, a numpy scalar
``{"__scalar__": "a4"}`` and a tuple ``{"__tuple__": [...]}``.

**Integrity.**  The archive's zip comment is ``shortrun checkpoint sha256=<64 hex digits>``, the
SHA-256 of every byte of the file before those 64 digits (the arrays' headers with dtype and
shape, their bytes, the metadata and the zip structure).  :func:`load` verifies it before it
parses anything: a flipped bit anywhere, a truncated copy, garbage or a file of another kind is
refused with a ``ValueError`` naming the file.  Each checkpoint also carries a fingerprint of the
run's arguments (:func:`fingerprint`); resuming with other arguments (other data, k, learning
rate, seed, …) raises ``ValueError`` instead of silently mixing two runs.

The file is written atomically: to a temporary file in the same folder, flushed to disk, then
renamed over ``path`` (``os.replace``), so a crash leaves either the old or the new checkpoint,
never a torn one.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import numbers
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["fingerprint", "save", "load", "read", "atomic_write", "Checkpointer", "FORMAT",
           "expect_array"]

#: Version of the checkpoint layout; a file of another version is refused with a clear error.
#: (Version 1 files were pickles; they are no longer read, since a pickle can run code.)
FORMAT = 2

_TAG = b"shortrun checkpoint sha256="
_DIGITS = 64
_FIX = "delete the file or pass another checkpoint path"
_META = "meta.npy"


# ---------------------------------------------------------------------------------------------
# fingerprint of a run's arguments
# ---------------------------------------------------------------------------------------------
def _feed(h, tag, payload=b""):
    h.update(tag + len(payload).to_bytes(8, "little") + payload)


def _feed_value(h, x, name):
    """Hash one setting, numbers by value: ``np.int64(2)``, ``2`` and ``2.0`` are the same
    setting, as are ``np.float64(0.1)`` and ``0.1``; arrays by dtype, shape and bytes."""
    if x is None:
        _feed(h, b"N")
    elif isinstance(x, (bool, np.bool_)):
        _feed(h, b"B", b"1" if x else b"0")
    elif isinstance(x, numbers.Integral):
        _feed(h, b"I", str(int(x)).encode())
    elif isinstance(x, numbers.Real):
        f = float(x)
        if f.is_integer() and abs(f) < 2.0**53:
            _feed(h, b"I", str(int(f)).encode())
        else:
            _feed(h, b"F", repr(f).encode())
    elif isinstance(x, numbers.Complex):
        z = complex(x)
        if z.imag == 0:
            _feed_value(h, z.real, name)
        else:
            _feed(h, b"C", repr(z).encode())
    elif isinstance(x, str):
        _feed(h, b"S", x.encode())
    elif isinstance(x, (list, tuple)):
        _feed(h, b"L", str(len(x)).encode())
        for i, item in enumerate(x):
            _feed_value(h, item, f"{name}[{i}]")
    elif isinstance(x, dict):
        _feed(h, b"D", str(len(x)).encode())
        for key in sorted(x, key=str):
            _feed(h, b"K", str(key).encode())
            _feed_value(h, x[key], f"{name}[{key!r}]")
    elif isinstance(x, np.ndarray) or hasattr(x, "__array__"):
        a = np.asarray(x)
        if a.ndim == 0:
            _feed_value(h, a.item(), name)
        elif a.dtype.hasobject:
            _feed_value(h, a.tolist(), name)
        else:
            a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
            _feed(h, b"A", f"{a.dtype.str}{a.shape}".encode())
            if a.size:
                h.update(memoryview(a).cast("B"))
    else:
        raise ValueError(f"{name}={x!r}: a {type(x).__name__} cannot be part of a run's "
                         "fingerprint; pass numbers, strings, arrays or lists of them.")


def fingerprint(**settings):
    """SHA-256 of the run's settings (keys sorted).

    Numbers are taken by value (numpy scalars and 0-d arrays as the Python number they hold,
    an integer-valued float as that integer), arrays by dtype, shape and bytes, strings, None,
    lists/tuples and dicts recursively.  Raises ValueError naming a setting of another type.
    """
    h = hashlib.sha256()
    for key in sorted(settings):
        _feed(h, b"K", key.encode())
        _feed_value(h, settings[key], key)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# state <-> JSON tree plus arrays
# ---------------------------------------------------------------------------------------------
_TAGS = ("__array__", "__scalar__", "__tuple__")


def _encode(x, arrays, where):
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        a = np.asarray(x)
        if a.dtype.hasobject:
            raise TypeError(f"checkpoint state {where} is an array of Python objects (dtype "
                            f"{a.dtype}); store numeric arrays, or lists of them.")
        key = f"a{len(arrays)}"
        arrays.append((key, a))
        return {"__scalar__" if isinstance(x, np.generic) else "__array__": key}
    if isinstance(x, (int, float)):
        return int(x) if isinstance(x, int) else float(x)
    if type(x) is list:
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(x)]
    if type(x) is tuple:
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(x)]}
    if type(x) is dict:
        for key in x:
            if not isinstance(key, str) or key.startswith("__"):
                raise TypeError(f"checkpoint state {where} has the key {key!r}; dict keys must be "
                                "strings that do not start with '__'.")
        return {key: _encode(v, arrays, f"{where}[{key!r}]") for key, v in x.items()}
    cls = type(x)
    raise TypeError(f"checkpoint state {where} is a {cls.__module__}.{cls.__qualname__}, which a "
                    "checkpoint cannot hold; store None, bool, int, float, str, numpy arrays and "
                    "scalars, and lists, tuples and dicts (str keys) of these (an object: a dict "
                    "of its memory).")


def _decode(x, arrays):
    if isinstance(x, list):
        return [_decode(v, arrays) for v in x]
    if not isinstance(x, dict):
        return x
    tags = [t for t in _TAGS if t in x]
    if not tags:
        return {key: _decode(v, arrays) for key, v in x.items()}
    tag = tags[0]
    if len(x) != 1:
        raise ValueError(f"a {tag} entry has other keys")
    if tag == "__array__":
        return arrays[x[tag]]
    if tag == "__scalar__":
        return arrays[x[tag]][()]
    return tuple(_decode(v, arrays) for v in x[tag])


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
def _hash_prefix(f, n):
    """SHA-256 of the first ``n`` bytes of the open file ``f``."""
    h = hashlib.sha256()
    f.seek(0)
    while n > 0:
        block = f.read(min(n, 1 << 20))
        if not block:
            break
        h.update(block)
        n -= len(block)
    return h.hexdigest().encode()


def save(path, state, fingerprint):
    """Write ``state`` (a dict) to ``path`` atomically, tagged with ``fingerprint``.

    Raises TypeError (and leaves any existing file as it is) when the state holds something a
    checkpoint cannot store (see the module docstring).
    """
    path = Path(path)
    arrays = []
    tree = _encode(state, arrays, "state")
    meta = json.dumps({"format": FORMAT, "fingerprint": fingerprint, "state": tree},
                      allow_nan=True, separators=(",", ":")).encode()

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            zf.comment = _TAG + b"0" * _DIGITS
            for name, a in [(_META[:-4], np.frombuffer(meta, np.uint8))] + arrays:
                with zf.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, a, allow_pickle=False)
        size = f.seek(0, os.SEEK_END)
        digest = _hash_prefix(f, size - _DIGITS)
        f.seek(size - _DIGITS)
        f.write(digest)

    atomic_write(path, write)


def atomic_write(path, write):
    """Call ``write(f)`` on a temporary file (opened ``'w+b'``) in the folder of ``path``, flush
    it to disk and rename it over ``path``: a crash leaves the old or the new file, never a torn
    one, and no temporary file behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX folders can be synced)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _refuse(path, why):
    return ValueError(f"checkpoint={str(path)!r} {why}; {_FIX}.")


def _invalid(path, what):
    return ValueError(f"checkpoint={str(path)!r} is not a valid state of this run: it holds "
                      f"{what}, so it is corrupt or was edited by hand; {_FIX} to start afresh.")


def expect_array(state, key, shape, finite=True, where=""):
    """``state[key]`` if it is a numeric array of ``shape`` (an entry None: any length on that
    axis) with only finite entries (unless ``finite=False``); else ``KeyError`` (missing) or
    ``ValueError`` saying what is wrong (for :meth:`Checkpointer.resume`)."""
    a = state[key]
    name = f"{where}{key}"
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf":
        raise ValueError(f"a {name!r} that is not a numeric array")
    if a.ndim != len(shape) or any(n is not None and n != m for n, m in zip(shape, a.shape)):
        want = "(" + ", ".join("n" if n is None else str(n) for n in shape) + \
            ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"a {name!r} of shape {a.shape} where shape {want} is expected")
    if finite and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ValueError(f"a {name!r} with NaN or inf entries")
    return a


def read(path):
    """The verified content of the checkpoint file ``path``:
    ``{"format": int, "fingerprint": str, "state": dict}``.

    Raises
    ------
    ValueError
        Naming the file and the fix, when ``path`` is a folder or unreadable, not a shortrun
        checkpoint (garbage, a pickle, a truncated copy), corrupted (the checksum does not match
        the content), or of another format version.
    """
    path = Path(path)
    if path.is_dir():
        raise _refuse(path, "is a folder, not a checkpoint file")
    try:
        f = open(path, "rb")
    except OSError as err:
        raise _refuse(path, f"cannot be read ({err.strerror or err})") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - _DIGITS - len(_TAG)))
        tail = f.read()
        f.seek(0)
        head = f.read(4)
        if not tail.startswith(_TAG) or len(tail) != len(_TAG) + _DIGITS \
                or not head.startswith(b"PK\x03\x04"):
            kind = ("a pickle (older shortrun checkpoints were pickles; they are no longer read, "
                    "since loading a pickle can run code)" if head[:1] == b"\x80" else
                    "a truncated checkpoint or a file of another kind")
            raise _refuse(path, f"is not a complete shortrun checkpoint: it looks like {kind}")
        if not hmac.compare_digest(_hash_prefix(f, size - _DIGITS), tail[len(_TAG):]):
            raise _refuse(path, "is corrupted: its SHA-256 checksum does not match its content "
                                "(a flipped bit, a truncated or an edited copy)")
        try:
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                arrays = {}
                for name in zf.namelist():
                    if not name.endswith(".npy"):
                        raise ValueError(f"unexpected member {name!r}")
                    with zf.open(name) as member:
                        arrays[name[:-4]] = np.lib.format.read_array(member, allow_pickle=False)
            meta = json.loads(arrays.pop(_META[:-4]).tobytes().decode())
            version = meta["format"]
            if version != FORMAT:
                raise _refuse(path, f"has format version {version!r}, this shortrun reads "
                                    f"version {FORMAT}")
            fp = meta["fingerprint"]
            state = _decode(meta["state"], arrays)
            if not isinstance(state, dict) or not isinstance(fp, str):
                raise ValueError("its metadata are not a state dict and a fingerprint")
        except ValueError as err:
            if str(err).startswith("checkpoint="):
                raise
            raise _refuse(path, f"is not a valid shortrun checkpoint ({err})") from None
        except Exception as err:  # a well-formed zip with an unexpected layout
            raise _refuse(path, "is not a valid shortrun checkpoint "
                                f"({type(err).__name__}: {err})") from None
    return {"format": version, "fingerprint": fp, "state": state}


def load(path, fingerprint):
    """The saved state at ``path``, or None if there is no file.

    Raises
    ------
    ValueError
        The file belongs to a run with other arguments, or is not a valid shortrun checkpoint
        (see :func:`read`).
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    content = read(path)
    if content["fingerprint"] != fingerprint:
        raise ValueError(f"checkpoint={str(path)!r} was written by a run with other arguments "
                         "(data, k, protocol, rule, scan, p0, learning rate, seed, ...); resume "
                         f"with the same arguments, or {_FIX} to start afresh.")
    return content["state"]


class Checkpointer:
    """Saves a run's state to ``path`` at most every ``seconds`` (and when asked to); does
    nothing when ``path`` is None.

    Parameters
    ----------
    path : str, Path or None
    fingerprint : str
        From :func:`fingerprint` of the run's arguments.
    seconds : float ≥ 0
        Minimum wall time between periodic saves (0: save at every update).
    """

    def __init__(self, path, fingerprint, seconds=60.0):
        if isinstance(seconds, (bool, np.bool_)) or not isinstance(seconds, numbers.Real) \
                or not np.isfinite(seconds) or seconds < 0:
            raise ValueError(f"checkpoint_seconds={seconds!r} must be a number >= 0 (seconds "
                             "between saves; 0 saves at every update).")
        if path is not None:
            if not isinstance(path, (str, os.PathLike)):
                raise ValueError(f"checkpoint={path!r} must be a file path (str or Path) or None.")
            path = Path(path)
            if not path.parent.is_dir():
                raise ValueError(f"checkpoint={str(path)!r}: the folder {str(path.parent)!r} "
                                 "does not exist; create it or pass another path.")
            if path.is_dir():
                raise ValueError(f"checkpoint={str(path)!r} is a folder; pass a file path "
                                 "inside it, e.g. checkpoint=folder / 'run.ckpt'.")
        self.path, self.fingerprint, self.seconds = path, fingerprint, float(seconds)
        self.last = time.monotonic()

    @property
    def active(self):
        return self.path is not None

    def load(self):
        """The saved state, or None (no file, or checkpointing off)."""
        return None if self.path is None else load(self.path, self.fingerprint)

    def resume(self, n_steps, check=None):
        """``(state, step)``: the saved state and its number of finished updates, or
        ``(None, 0)``; a state beyond ``n_steps`` updates is refused (the run would have to go
        backwards).

        The checksum proves the file is the one written, not that what was written is a state of
        this run (a file re-saved by hand passes it): ``step`` must be an integer >= 0, and
        ``check(state, step)``, the trainer's test of the rest (e.g. :func:`expect_array`), may
        raise ``ValueError``, ``KeyError``, ``TypeError`` or ``IndexError``; every one becomes a
        ``ValueError`` naming the file, what is wrong and how to start afresh."""
        state = self.load()
        if state is None:
            return None, 0
        step = state.get("step")
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) \
                or step < 0:
            raise _invalid(self.path, "no 'step'" if "step" not in state else
                           f"step={step!r}, not a number of finished updates >= 0")
        step = int(step)
        if check is not None:
            try:
                check(state, step)
            except KeyError as err:
                raise _invalid(self.path, f"no {err.args[0]!r} in its state") from None
            except (ValueError, TypeError, IndexError) as err:
                raise _invalid(self.path, str(err)) from None
        if step > n_steps:
            raise ValueError(f"checkpoint={str(self.path)!r} holds {step} updates, more than "
                             f"n_steps={n_steps}; pass n_steps >= {step}, or delete the file.")
        return state, step

    def save(self, state):
        if self.path is not None:
            save(self.path, state, self.fingerprint)
            self.last = time.monotonic()

    def due(self):
        """True when a periodic save is due."""
        return self.path is not None and time.monotonic() - self.last >= self.seconds
