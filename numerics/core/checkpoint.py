r"""Atomic, resumable checkpoints for long runs (the exact and the Monte Carlo trainers).

A run that is given ``checkpoint=path`` saves its complete state there: every
``checkpoint_seconds`` of wall time, when it ends, and when it is interrupted (Ctrl-C, a
cluster's time limit sending SIGINT, an exception).  Called again with the same arguments, it
resumes from the saved update and returns *bit for bit* what the uninterrupted run returns: the
saved state holds everything the next update depends on (parameters, momentum, persistent
chains, the divergence monitor, the history so far), and the random numbers of update n are a
function of (seed, n) alone (:mod:`shortrun.numerics.rng`).  ``n_steps`` may grow between calls,
so a finished run can be extended.

The file is written atomically: to a temporary file in the same folder, flushed to disk, then
renamed over ``path`` (``os.replace``), so a crash leaves either the old or the new checkpoint,
never a torn one.  The format is a pickle of numpy arrays and plain Python objects: load only
checkpoints you wrote yourself.  Each checkpoint carries a fingerprint of the run's arguments;
resuming with different arguments (other data, k, learning rate, seed, …) raises ``ValueError``
instead of silently mixing two runs.
"""
from __future__ import annotations

import hashlib
import numbers
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["fingerprint", "save", "load", "Checkpointer", "FORMAT"]

#: Version of the checkpoint layout; a file of another version is refused with a clear error.
FORMAT = 1


def _feed(h, x):
    if isinstance(x, np.ndarray):
        a = np.ascontiguousarray(x)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    else:
        h.update(repr(x).encode())
    h.update(b"\x00")


def fingerprint(**settings):
    """SHA-256 of the run's settings (numbers, strings, arrays; keys sorted)."""
    h = hashlib.sha256()
    for key in sorted(settings):
        h.update(key.encode())
        _feed(h, settings[key])
    return h.hexdigest()


def save(path, state, fingerprint):
    """Write ``state`` (a dict) to ``path`` atomically, tagged with ``fingerprint``."""
    path = Path(path)
    payload = {"format": FORMAT, "fingerprint": fingerprint, "state": state}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path, fingerprint):
    """The saved state at ``path``, or None if there is no file.

    Raises
    ------
    ValueError
        The file belongs to a run with other arguments, or is not a shortrun checkpoint.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
        ok = isinstance(payload, dict) and payload.get("format") == FORMAT
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as err:
        raise ValueError(f"checkpoint={str(path)!r} is not a readable shortrun checkpoint "
                         f"({err}); delete it or pass another path.") from err
    if not ok:
        raise ValueError(f"checkpoint={str(path)!r} is not a shortrun checkpoint of format "
                         f"{FORMAT}; delete it or pass another path.")
    if payload["fingerprint"] != fingerprint:
        raise ValueError(f"checkpoint={str(path)!r} was written by a run with other arguments "
                         "(data, k, protocol, rule, scan, p0, learning rate, seed, ...); resume "
                         "with the same arguments, or delete the file / pass another path to "
                         "start afresh.")
    return payload["state"]


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
            path = Path(path)
            if not path.parent.is_dir():
                raise ValueError(f"checkpoint={str(path)!r}: the folder {str(path.parent)!r} "
                                 "does not exist; create it or pass another path.")
        self.path, self.fingerprint, self.seconds = path, fingerprint, float(seconds)
        self.last = time.monotonic()

    @property
    def active(self):
        return self.path is not None

    def load(self):
        """The saved state, or None (no file, or checkpointing off)."""
        return None if self.path is None else load(self.path, self.fingerprint)

    def save(self, state):
        if self.path is not None:
            save(self.path, state, self.fingerprint)
            self.last = time.monotonic()

    def due(self):
        """True when a periodic save is due."""
        return self.path is not None and time.monotonic() - self.last >= self.seconds
