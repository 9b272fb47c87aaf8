"""Neural energies on JAX (optional extra ``shortrun[deep]``): imported only when used.

Nothing else in shortrun imports this package, so the exact core runs without JAX.  Importing it
switches JAX to 64-bit mode (``jax_enable_x64``); arrays carry explicit dtypes (the ConvNet in
float32, the quadratic energy in float64).

Modules
-------
energies
    :class:`~.energies.Energy` (``init``, ``apply``), :func:`~.energies.convnet` for 8×8 images,
    :func:`~.energies.quadratic` (the linear network ½xᵀAx − bᵀx); ∇_x E and ∇_θ E by ``jax.grad``.
langevin
    Short-run Langevin chains (L1), seeded by (seed, step), samples at a list of times in one pass.
training
    Rdm-K, CD-K, PCD-K with Adam (optax); progress line and bit-for-bit resumable checkpoints.
quality
    Energy distance (E3), nearest-neighbour adversarial accuracy (E2), classifier confidence,
    Fréchet distance on the classifier's logits (E5).
digits
    scikit-learn's 8×8 digits in [-1, 1], seeded train/test split.
memory
    The memory-effect experiment (M1): train at K, score samples from t = K/10 to 100 K.
generator
    The K-step chain as a generator x = M_θ(z) with fixed noise (L3): reconstruction by
    optimising z through the chain (L4), interpolation, the PCA baseline.
"""
from shortrun.numerics.neural import (digits, energies, generator, langevin, memory, quality,
                                      training)

__all__ = ["digits", "energies", "generator", "langevin", "memory", "quality", "training"]
