"""The tidy table a sweep returns: one row per cell, in grid order.

A row is a dict: the cell's parameters, its results (absent when the cell failed), then
``status`` (``'ok'`` or ``'error'``), ``error`` (the exception and where it was raised, ``''``
when ok) and ``seconds`` (the cell's compute time, also for rows read from the cache).
"""
from __future__ import annotations

import csv
import json
import numbers
from pathlib import Path

import numpy as np

from shortrun.numerics.sweeps.grids import RESERVED

__all__ = ["Table", "UnknownColumnError"]


def _kind(value):
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, str):
        return "str"
    return None


class UnknownColumnError(ValueError, KeyError):
    """A column the table does not have: a ValueError like every bad input, and a KeyError as
    for a dict (its message is shown as it is, not quoted)."""

    __str__ = ValueError.__str__


class Table:
    """Rows of a sweep (list of dicts) with column access, filtering and CSV export.

    Attributes
    ----------
    rows : list of dict
        One per cell, in grid order.
    columns : list of str
        Parameter names, result names (in order of first appearance), then ``status``,
        ``error``, ``seconds``.
    """

    def __init__(self, rows):
        try:
            self.rows = list(rows)
        except TypeError:
            self.rows = None
        if self.rows is None or isinstance(rows, (str, bytes, dict)) \
                or not all(isinstance(r, dict) for r in self.rows):
            raise ValueError(f"rows={rows!r} must be a list of dicts (one per cell: parameter "
                             "and result names to values), as a sweep returns them.")
        names = {}
        for row in self.rows:
            names.update(dict.fromkeys(n for n in row if n not in RESERVED))
        self.columns = list(names) + list(RESERVED)

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self):
        ok = sum(r.get("status") == "ok" for r in self.rows)
        return (f"Table({len(self.rows)} rows, {ok} ok, {len(self.rows) - ok} failed; columns: "
                f"{', '.join(self.columns)})")

    def _check(self, name):
        if name not in self.columns:
            raise UnknownColumnError(f"no column {name!r}; the columns are "
                                     f"{', '.join(self.columns)}.")

    def column(self, name):
        """The values of column ``name`` in row order: a numpy array when every row has a value
        of one kind (numbers, booleans, strings, or arrays/lists of one shape, stacked along a
        new first axis), else a list (``None`` where a row has no value, e.g. a failed cell)."""
        self._check(name)
        values = [row.get(name) for row in self.rows]
        if any(v is None for v in values):
            return values
        if all(isinstance(v, np.ndarray) for v in values):
            if len({v.shape for v in values}) == 1:
                return np.stack(values)
            return values
        kinds = {_kind(v) for v in values}
        if len(kinds) == 1 and None not in kinds:
            return np.array(values)
        if all(isinstance(v, list) for v in values):
            try:
                out = np.array(values)
            except ValueError:                      # ragged
                return values
            return values if out.dtype.hasobject else out
        return values

    def where(self, **conditions):
        """A new :class:`Table` of the rows whose columns equal the given values, e.g.
        ``table.where(k=2, status='ok')``."""
        for name in conditions:
            self._check(name)

        def match(row):
            for name, want in conditions.items():
                have = row.get(name)
                if isinstance(have, np.ndarray) or isinstance(want, np.ndarray):
                    raise ValueError(f"where({name}=...): column {name!r} holds arrays; filter "
                                     "on scalar columns (parameters, status).")
                if have != (want.item() if isinstance(want, np.generic) else want):
                    return False
            return True

        return Table(r for r in self.rows if match(r))

    def to_csv(self, path):
        """Write the table to ``path`` (CSV, one line per row, header = :attr:`columns`).

        Numbers are written with ``repr`` (floats read back bit for bit), lists as JSON,
        booleans as ``True``/``False``, missing values as empty fields.  Array values are
        summarised in the CSV as ``<dtype>[shape]`` and stored beside it in ``<path>.npz``
        (``path`` with the suffix ``.npz``) under the name ``"<column>[<row>]"`` (row counted
        from 0, as in :attr:`rows`).  Returns the CSV path.
        """
        path = Path(path)
        arrays = {}
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(self.columns)
            for i, row in enumerate(self.rows):
                line = []
                for name in self.columns:
                    v = row.get(name)
                    if isinstance(v, np.ndarray):
                        arrays[f"{name}[{i}]"] = v
                        line.append(f"{v.dtype}{list(v.shape)}")
                    elif v is None:
                        line.append("")
                    elif isinstance(v, list):
                        line.append(json.dumps(v))
                    elif isinstance(v, float):
                        line.append(repr(v))
                    else:
                        line.append(str(v))
                out.writerow(line)
        if arrays:
            np.savez(path.with_suffix(".npz"), **arrays)
        return path
