"""Layer 8: parameter sweeps on Dask (grids of cells, cached on disk, a tidy table out).

>>> from shortrun.numerics import sweeps
>>> table = sweeps.run(cell, sweeps.grid(N=[4, 5], k=[1, 2]), cache_dir="cache")

``cell(**params) -> dict`` is a module-level function; each cell's result is cached under a key
of (cell, parameters, code version) (:mod:`.cache`); the missing cells run in-process, on a
local Dask cluster or on the user's Dask scheduler (:mod:`.engine`); the result is a
:class:`Table` with one row per cell in grid order (:mod:`.table`).  How to run a sweep on a
cluster: docs/sweeps.md.
"""
from shortrun.numerics.sweeps.cache import CacheWarning
from shortrun.numerics.sweeps.engine import SweepWarning, run, shutdown
from shortrun.numerics.sweeps.grids import grid
from shortrun.numerics.sweeps.table import Table

__all__ = ["run", "grid", "Table", "SweepWarning", "CacheWarning", "shutdown"]
