"""Exact state-space machinery, samplers and training, in layers (see docs/architecture.md).

core → models → kernels → sampling → data → training → analysis
"""
