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

**Integrity.**  Every cell carries a SHA-256 checksum of its content
(:func:`checksum`: :func:`shortrun.numerics.core.checkpoint.fingerprint` of the canonical JSON
text -- cell, parameters, version, results -- and of every array's dtype, shape and bytes), in
the JSON document (``"checksum"``) or as the ``.npz`` member ``__checksum__``.  :func:`read`
verifies it: a hand-edited value, a flipped bit, a truncated or a corrupted file is never
returned as a result; the cell is recomputed (and its file overwritten) with a
:class:`CacheWarning` naming the file and what was wrong.  Cells written by an older layout
(another ``FORMAT``) are recomputed without a warning.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import marshal
import warnings
from pathlib import Path

import numpy as np

from shortrun.numerics.core.checkpoint import atomic_write, fingerprint
from shortrun.numerics.sweeps.grids import RESERVED, plain

__all__ = ["cell_name", "code_version", "key", "normalise", "read", "write", "checksum",
           "CacheWarning", "FORMAT"]

#: Version of the cache file layout (2: with a checksum).
FORMAT = 2


class CacheWarning(UserWarning):
    """A cached cell failed its checksum or could not be read; it is recomputed."""


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


def _text(doc):
    """The canonical JSON text of a cell's document (keys sorted; floats by ``repr``)."""
    return json.dumps(doc, sort_keys=True)


def checksum(text, arrays):
    """SHA-256 (hex) of a cell: its canonical JSON ``text`` and its ``arrays`` in order (dtype,
    shape and bytes), by :func:`shortrun.numerics.core.checkpoint.fingerprint`."""
    return fingerprint(document=text, arrays=list(arrays))


def write(folder, key, meta, result):
    """Store one finished cell as ``folder/<key>.json`` or ``.npz`` (atomically) with its
    :func:`checksum`; return the path.  ``meta`` holds the cell name, canonical params, code
    version and seconds."""
    arrays = {n: v for n, v in result.items() if isinstance(v, np.ndarray)}
    doc = dict(meta, format=FORMAT, order=list(result), arrays=list(arrays),
               result={n: v for n, v in result.items() if n not in arrays})
    text = _text(doc)
    digest = checksum(text, arrays.values())
    folder = Path(folder)
    if arrays:
        path = folder / f"{key}.npz"
        stored = {f"arr_{j}": v for j, v in enumerate(arrays.values())}
        atomic_write(path, lambda f: np.savez(f, __meta__=np.array(text),
                                              __checksum__=np.array(digest), **stored))
    else:
        path = folder / f"{key}.json"
        blob = _text(dict(doc, checksum=digest)).encode()
        atomic_write(path, lambda f: f.write(blob))
    return path


def _load(npz, js):
    """``(doc, arrays, stored checksum)`` of a cell file; raises on an unreadable one."""
    if npz.exists():
        with np.load(npz, allow_pickle=False) as z:
            text = z["__meta__"].item()
            digest = z["__checksum__"].item() if "__checksum__" in z.files else None
            doc = json.loads(text)
            arrays = [z[f"arr_{j}"] for j in range(len(doc["arrays"]))]
        return doc, text, arrays, digest
    doc = json.loads(js.read_bytes())
    digest = doc.pop("checksum", None) if isinstance(doc, dict) else None
    return doc, _text(doc), [], digest


def read(folder, key, name, params):
    """``(meta, result)`` of a cached cell, or None when there is none or it must be recomputed
    (then it is overwritten): written by an older layout (silently), or -- with a
    :class:`CacheWarning` naming the file -- unreadable (truncated, not a zip, not JSON),
    failing its :func:`checksum` (edited or corrupted) or belonging to another cell."""
    folder = Path(folder)
    npz, js = folder / f"{key}.npz", folder / f"{key}.json"
    path = npz if npz.exists() else js
    if not path.exists():
        return None

    def redo(why):
        warnings.warn(f"sweep cache: {path} {why}; the cell is recomputed and the file "
                      "overwritten.", CacheWarning, stacklevel=3)

    try:
        doc, text, arrays, digest = _load(npz, js)
    except Exception as err:                  # noqa: BLE001 - zip, zlib, JSON, OS, key errors
        redo(f"cannot be read ({type(err).__name__}: {err})")
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        if isinstance(doc, dict) and isinstance(doc.get("format"), int) \
                and doc["format"] < FORMAT:
            return None                         # an older layout: recompute silently
        redo("is not a cache cell of this shortrun (unknown layout)")
        return None
    if digest is None or digest != checksum(text, arrays):
        redo("fails its checksum (an edited, truncated or corrupted file)")
        return None
    try:
        if doc["cell"] != name or doc["params"] != params:
            redo(f"holds another cell ({doc['cell']} with {doc['params']})")
            return None
        values = dict(doc["result"], **dict(zip(doc["arrays"], arrays)))
        return doc, {n: values[n] for n in doc["order"]}
    except (KeyError, TypeError) as err:
        redo(f"is not a complete cache cell (missing {err})")
        return None
