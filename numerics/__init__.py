"""Exact state-space machinery, samplers and training, in layers (see docs/architecture.md).

core → models → kernels → sampling → data → training → analysis

Importing any part of the package registers the shipped models' kernels and samplers
(:mod:`shortrun.numerics.registry`, the one place where a model type is switched on).
"""
from shortrun.numerics import registry as _registry  # noqa: F401  (registers every model type)
from shortrun.numerics.core.dispatch import register_model

__all__ = ["register_model"]
