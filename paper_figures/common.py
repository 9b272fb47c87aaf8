"""What every figure script shares: the run context, cached numbers, checks and saving.

A figure script ``fig_<name>.py`` has a caption (its module docstring) and ``make(ctx)``, which
draws the figure with :func:`save` and returns the list of :class:`Check` it verifies.  Heavy
numbers go through :func:`cached` (keyed by the parameters, written atomically, reused on re-run).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Context:
    """The run's settings: where figures go, fast or full grids, the cache, the Dask scheduler.

    ``tiny`` (test mode) asks for the smallest sizes that still exercise every line of a
    figure script; it implies ``fast``.  ``written`` records, in order, every file :func:`save`
    wrote with this context (the runner reports each figure's own part of it).
    """

    out: Path
    fast: bool = True
    cache_dir: Path | None = None
    scheduler: str | None = None
    progress: bool = True
    extra: dict = field(default_factory=dict)
    tiny: bool = False
    written: list = field(default_factory=list)

    def __post_init__(self):
        self.out = Path(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.cache_dir = Path(self.cache_dir) if self.cache_dir else self.out / "cache"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if self.tiny:
            self.fast = True

    @property
    def mode(self):
        """``'tiny'``, ``'fast'`` or ``'full'``."""
        return "tiny" if self.tiny else ("fast" if self.fast else "full")

    def size(self, fast, full, tiny=None):
        """``fast`` in the fast mode, ``full`` otherwise; ``tiny`` (if given) in the test mode,
        else ``fast`` there too."""
        if self.tiny and tiny is not None:
            return tiny
        return fast if self.fast else full


class Skipped(Exception):
    """Raised by a figure script whose optional dependency is missing (the runner reports the
    figure as SKIPPED with this message, not as an error)."""


def progress(ctx, iterable, desc, total=None):
    """``iterable`` wrapped in a tqdm progress bar (stderr, cleared when done) if
    ``ctx.progress``; the figure's steps show while it runs."""
    if not ctx.progress:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)


@dataclass
class Check:
    """One quantitative claim of a figure: ``value`` compared with ``bound``.

    ``passed`` is computed by the figure script (the comparison depends on the claim: a residual
    below a tolerance, a ratio inside an interval, a count equal to a number); ``bound`` is the
    human-readable tolerance or target written into the report.
    """

    figure: str
    name: str
    value: float
    bound: str
    passed: bool
    detail: str = ""

    def row(self):
        v = self.value
        shown = f"{v:.3g}" if isinstance(v, (float, np.floating)) else str(v)
        return (f"| {self.figure} | {self.name} | {shown} | {self.bound} | "
                f"{'PASS' if self.passed else '**FAIL**'} | {self.detail} |")


def check(figure, name, value, bound, passed, detail=""):
    """Shorthand for :class:`Check` with ``value`` turned into a plain float."""
    value = float(value) if np.ndim(value) == 0 and not isinstance(value, str) else value
    return Check(figure, name, value, bound, bool(passed), detail)


def _key(name, params):
    blob = json.dumps(params, sort_keys=True, default=_plain)
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _plain(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def cached(ctx, name, params, compute):
    """``compute()`` -> dict of arrays, cached as ``<cache>/<name>-<hash(params)>.npz``.

    The file is written atomically (temporary file + ``os.replace``), so a killed run never leaves
    a half-written cache entry; a re-run with the same ``params`` reads it instead of computing.
    """
    path = Path(ctx.cache_dir) / (_key(name, params) + ".npz")
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    result = compute()
    arrays = {k: np.asarray(v) for k, v in result.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return arrays


def save(fig, ctx, name):
    """Write ``<name>.png`` (150 dpi) and ``<name>.pdf`` into ``ctx.out``, record both paths in
    ``ctx.written``; return the PNG path."""
    png = Path(ctx.out) / f"{name}.png"
    pdf = png.with_suffix(".pdf")
    fig.savefig(png, dpi=150, bbox_inches="tight")
    fig.savefig(pdf, bbox_inches="tight")
    ctx.written += [png, pdf]
    import matplotlib.pyplot as plt
    plt.close(fig)
    return png
