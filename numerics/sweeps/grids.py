"""Grids of parameters: the cells of a sweep, in a fixed order, with canonical (hashable) params.

A cell is a dict ``name -> value``; a grid is a list of cells.  :func:`grid` builds the
cartesian product of named axes (the first axis varies slowest, as in nested ``for`` loops
written in the same order); :func:`expand` turns what :func:`~shortrun.numerics.sweeps.run`
accepts (such a dict of axes, or an explicit list of cells) into the list of cells and refuses
what could not be cached or compared (values that are not plain numbers, strings or lists of
them; duplicate cells; parameter names the table keeps for itself).
"""
from __future__ import annotations

import itertools
import json
import numbers

import numpy as np

__all__ = ["grid", "expand", "canonical", "plain", "RESERVED"]

#: Columns of the sweep's table that are not parameters or results.
RESERVED = ("status", "error", "seconds")


def plain(value, what):
    """``value`` as a plain JSON value (numpy scalars -> Python numbers, tuples -> lists);
    ValueError naming ``what`` (e.g. ``"parameter k=2.5"``) for anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biufU":
        return value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v, what) for v in value]
    raise ValueError(f"{what} ({type(value).__name__}) is not a plain value: a number, string, "
                     "bool, None or a list of them")


def _canonical_value(name, value):
    try:
        return plain(value, f"parameter {name}={value!r}")
    except ValueError as err:
        raise ValueError(f"{err}.  Grid values must be plain so that a cell can be hashed, "
                         "cached and shown in the table: pass a seed or a name and build arrays "
                         "and objects inside the cell.") from None


def canonical(params):
    """``params`` as plain JSON values (numpy scalars -> Python numbers, tuples -> lists).

    Floats keep every bit (JSON writes them with ``repr``), so two cells have the same canonical
    form exactly when their parameters are equal value for value (1 and 1.0 differ, as they
    may for the cell).
    """
    if not isinstance(params, dict):
        raise ValueError(f"a cell must be a dict of parameters, got {type(params).__name__} "
                         f"({params!r}).")
    out = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"parameter name {name!r} must be a string that is a valid Python "
                             "identifier (it is passed to the cell as a keyword argument).")
        if name in RESERVED:
            raise ValueError(f"parameter name {name!r} is a column of the sweep's table "
                             f"({', '.join(RESERVED)}); rename the parameter.")
        out[name] = _canonical_value(name, value)
    return out


def grid(**axes):
    """The cartesian product of ``axes`` as a list of cells (dicts), first axis slowest.

    >>> grid(N=[4, 5], k=[1, 2])
    [{'N': 4, 'k': 1}, {'N': 4, 'k': 2}, {'N': 5, 'k': 1}, {'N': 5, 'k': 2}]

    Each axis is a non-empty list, tuple, range or 1-D array of values; a fixed value is an axis
    of length one (``N=[10]``).
    """
    if not axes:
        raise ValueError("grid() needs at least one axis, e.g. grid(k=[1, 2, 4]).")
    values = []
    for name, axis in axes.items():
        if isinstance(axis, np.ndarray):
            if axis.ndim != 1:
                raise ValueError(f"axis {name!r} is an array of shape {axis.shape}; pass a 1-D "
                                 "array or a list of values.")
            axis = axis.tolist()
        if not isinstance(axis, (list, tuple, range)):
            raise ValueError(f"axis {name}={axis!r} must be a list of values; for a fixed value "
                             f"write {name}=[{axis!r}].")
        if len(axis) == 0:
            raise ValueError(f"axis {name!r} is empty; give it at least one value.")
        values.append(list(axis))
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def expand(cells):
    """The list of cells of a sweep's ``grid`` argument (dict of axes or list of dicts) and their
    canonical forms, checked: at least one cell, no duplicates, plain values."""
    if isinstance(cells, dict):
        cells = grid(**cells)
    elif isinstance(cells, (list, tuple)):
        cells = [dict(c) if isinstance(c, dict) else c for c in cells]
    else:
        raise ValueError(f"grid must be a dict of axes (name -> list of values) or a list of "
                         f"dicts (one per cell), got {type(cells).__name__}.")
    if not cells:
        raise ValueError("grid has no cells; give at least one.")
    canon = [canonical(c) for c in cells]
    seen = {}
    for j, c in enumerate(canon):
        text = json.dumps(c, sort_keys=True)
        if text in seen:
            raise ValueError(f"grid has the same cell twice (positions {seen[text]} and {j}: "
                             f"{cells[j]!r}); remove the duplicate.")
        seen[text] = j
    return cells, canon
