"""Layer 0: the 2^N states and their moments, the counter-based RNG, progress lines and
checkpoints.  Knows nothing of models."""
