"""The 8×8 handwritten digits bundled with scikit-learn, scaled to [-1, 1] (no download).

``sklearn.datasets.load_digits`` holds 1797 images of 8×8 pixels with integer grey levels
0 … 16; :func:`load` maps them to ``x = 2·(level/16) − 1`` in [-1, 1] and splits them, stratified
by digit class and seeded, into training and held-out digits.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from shortrun.numerics.data import digits

__all__ = ["Digits", "load", "SIDE", "DIM"]

#: Image side (pixels) and dimension of one image as a vector.
SIDE = 8
DIM = SIDE * SIDE


class Digits(NamedTuple):
    """Training and held-out digits: ``(n, 64)`` float arrays in [-1, 1] and their labels 0 … 9."""

    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray


def load(n_test=360, seed=0, dtype=np.float32):
    """The scikit-learn digits in [-1, 1], split into training and ``n_test`` held-out images
    (the split of :func:`shortrun.numerics.data.digits.levels`, shared with the binarised digits).

    Parameters
    ----------
    n_test : int
        Number of held-out digits (stratified by class), 10 ≤ n_test ≤ 1787.
    seed : int
        Seed of the split (``random_state`` of ``train_test_split``).
    dtype : numpy dtype
        Of the returned images (float32 for the ConvNet, float64 for exact comparisons).
    """
    g = digits.levels(n_test, seed)
    scale = lambda x: (2.0 * x / digits.MAX_LEVEL - 1.0).astype(dtype)  # noqa: E731
    return Digits(scale(g.train), g.train_labels, scale(g.test), g.test_labels)
