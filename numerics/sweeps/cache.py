r"""The on-disk cache of a sweep: one file per cell, keyed by the cell's parameters and the code.

A cell's key is the SHA-256 of (the cell function's qualified name, its canonical parameters,
the code version), where the code version is ``shortrun.__version__`` plus a hash of the
source file of the cell's module: editing that file, or upgrading shortrun, gives new keys, so
stale results are never read (code the cell imports from elsewhere is covered by the version
number only; bump it, or use a new ``cache_dir``, after changing such code by hand).

A finished cell is stored as ``<cache_dir>/<name>/<key>.json`` when its result holds no array,
else as ``<key>.npz`` (the arrays, plus the JSON of everything else under ``__meta__``).  JSON
writes floats with ``repr``, which round-trips every float64 bit, and ``.npz`` stores arrays
verbatim, so a result read from the cache is bit-identical to the one computed.  Files are
written atomically (temporary file in the same folder, flushed, ``os.replace``): a killed sweep
leaves complete cells and no torn file.  Failed cells are not cached; they run again next time.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import marshal
from pathlib import Path

import numpy as np

from shortrun.numerics.core.checkpoint import atomic_write
from shortrun.numerics.sweeps.grids import RESERVED, plain

__all__ = ["cell_name", "code_version", "key", "normalise", "read", "write", "FORMAT"]

#: Version of the cache file layout.
FORMAT = 1


def cell_name(cell):
    """``module.qualname`` of a module-level function; ValueError for anything else."""
    qualname = getattr(cell, "__qualname__", None)
    module = getattr(cell, "__module__", None)
    if not callable(cell) or qualname is None or module is None:
        raise ValueError(f"cell={cell!r} must be a module-level function cell(**params) -> dict "
                         "(not a partial or a callable object): put the fixed arguments in the "
                         "grid.")
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise ValueError(f"cell={qualname} must be defined at the top level of a module (not a "
                         "lambda, not inside a function), so that Dask workers can import it and "
                         "its cache key names it.")
    return f"{module}.{qualname}"


def code_version(cell):
    """``shortrun.__version__`` + the first 16 hex digits of the SHA-256 of the cell's module
    source file (of its compiled code when there is no source file)."""
    import shortrun

    try:
        source = Path(inspect.getsourcefile(cell)).read_bytes()
    except (TypeError, OSError):
        source = marshal.dumps(cell.__code__)
    return f"{shortrun.__version__}+{hashlib.sha256(source).hexdigest()[:16]}"


def key(name, version, params):
    """The cache key (32 hex digits) of a cell: hash of cell name, code version and canonical
    parameters (:func:`~shortrun.numerics.sweeps.grids.canonical`)."""
    blob = json.dumps({"cell": name, "version": version, "params": params}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def normalise(result, params):
    """The cell's result with plain values: numpy scalars -> Python numbers, tuples -> lists,
    arrays kept as they are (bits untouched).  TypeError/ValueError for what cannot be stored
    (numpy arrays are the way to return anything else numeric)."""
    if not isinstance(result, dict):
        raise TypeError(f"the cell returned {type(result).__name__}; it must return a dict of "
                        "results (name -> number, string, list or numpy array).")
    out = {}
    for name, value in result.items():
        if not isinstance(name, str):
            raise TypeError(f"result name {name!r} must be a string.")
        if name in RESERVED or name in params or name == "__meta__":
            raise ValueError(f"result name {name!r} clashes with a column of the table (the "
                             f"parameters and {', '.join(RESERVED)}); rename it in the cell's "
                             "returned dict.")
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject or value.dtype.kind == "V":
                raise TypeError(f"result {name!r} is an array of dtype {value.dtype}; only "
                                "numeric, boolean and string arrays can be stored.")
            out[name] = value
        else:
            out[name] = plain(value, f"result {name!r} = {value!r}")
    return out


def write(folder, key, meta, result):
    """Store one finished cell as ``folder/<key>.json`` or ``.npz`` (atomically); return the
    path.  ``meta`` holds the cell name, canonical params, code version and seconds."""
    arrays = {n: v for n, v in result.items() if isinstance(v, np.ndarray)}
    doc = dict(meta, format=FORMAT, order=list(result), arrays=list(arrays),
               result={n: v for n, v in result.items() if n not in arrays})
    text = json.dumps(doc, sort_keys=True)
    folder = Path(folder)
    if arrays:
        path = folder / f"{key}.npz"
        stored = {f"arr_{j}": v for j, v in enumerate(arrays.values())}
        atomic_write(path, lambda f: np.savez(f, __meta__=np.array(text), **stored))
    else:
        path = folder / f"{key}.json"
        atomic_write(path, lambda f: f.write(text.encode()))
    return path


def read(folder, key, name, params):
    """``(meta, result)`` of a cached cell, or None when there is none (or the file does not
    belong to this cell and parameters, or cannot be read: then it is recomputed and
    overwritten)."""
    folder = Path(folder)
    try:
        npz, js = folder / f"{key}.npz", folder / f"{key}.json"
        if npz.exists():
            with np.load(npz, allow_pickle=False) as z:
                doc = json.loads(z["__meta__"].item())
                arrays = {n: z[f"arr_{j}"] for j, n in enumerate(doc["arrays"])}
        elif js.exists():
            doc, arrays = json.loads(js.read_bytes()), {}
        else:
            return None
        if doc.get("format") != FORMAT or doc.get("cell") != name or doc.get("params") != params:
            return None
        values = dict(doc["result"], **arrays)
        return doc, {n: values[n] for n in doc["order"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
