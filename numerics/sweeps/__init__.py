"""Layer 7: parameter sweeps on Dask (grids of cells, cached on disk, a tidy table out)."""
