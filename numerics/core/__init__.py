"""Layer 1: the 2^N states and their moments, the counter-based RNG, progress lines,
checkpoints and the model registry (:mod:`~shortrun.numerics.core.dispatch`).  Knows nothing of
concrete models."""
