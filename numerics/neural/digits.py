"""The 8×8 handwritten digits bundled with scikit-learn, scaled to [-1, 1] (no download).

``sklearn.datasets.load_digits`` holds 1797 images of 8×8 pixels with integer grey levels
0 … 16; :func:`load` maps them to ``x = 2·(level/16) − 1`` in [-1, 1] and splits them, stratified
by digit class and seeded, into training and held-out digits.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from shortrun.conventions import check_count

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
    """The scikit-learn digits in [-1, 1], split into training and ``n_test`` held-out images.

    Parameters
    ----------
    n_test : int
        Number of held-out digits (stratified by class), 10 ≤ n_test ≤ 1787.
    seed : int
        Seed of the split (``random_state`` of ``train_test_split``).
    dtype : numpy dtype
        Of the returned images (float32 for the ConvNet, float64 for exact comparisons).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    n_test = check_count(n_test, "n_test", minimum=10)
    if n_test > len(bunch.target) - 10:
        raise ValueError(f"n_test={n_test} leaves fewer than 10 training digits (there are "
                         f"{len(bunch.target)}); use a smaller n_test.")
    x = (2.0 * bunch.data / 16.0 - 1.0).astype(dtype)
    xtr, xte, ytr, yte = train_test_split(x, bunch.target, test_size=n_test, random_state=seed,
                                          stratify=bunch.target)
    return Digits(np.ascontiguousarray(xtr), ytr.astype(np.int64), np.ascontiguousarray(xte),
                  yte.astype(np.int64))
