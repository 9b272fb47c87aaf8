"""The 8×8 handwritten digits that ship with scikit-learn, binarised: 64 visible units, no download.

``sklearn.datasets.load_digits`` reads 1797 images with grey levels 0 … 16 from the package's own
data files.  :func:`load` maps pixel j of an image to the spin :math:`s_j = +1` if its level
exceeds ``threshold`` (default 8: about 29 % of the pixels are on) and −1 otherwise, and splits the
images, stratified by digit class and seeded, into training and held-out digits.  Pixel j = 8·row
+ column, so a sample reshapes to an 8×8 image with ``s.reshape(8, 8)``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from shortrun.conventions import check_count

#: Image side (pixels) and number of visible units.
SIDE = 8
N_PIXELS = SIDE * SIDE
#: Grey levels run from 0 to this value.
MAX_LEVEL = 16


class Digits(NamedTuple):
    """Training and held-out digits as ±1 spins, int8 arrays of shape (n, 64), and their labels."""

    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray


def levels(n_test=360, seed=0):
    """The scikit-learn digits' grey levels (float64, 0 … 16), split into training and ``n_test``
    held-out images, stratified by class and seeded: the split every digits loader shares.

    Parameters
    ----------
    n_test : int
        Number of held-out digits (stratified by class), 10 <= n_test <= 1787.
    seed : int
        Seed of the split (``random_state`` of scikit-learn's ``train_test_split``).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    n_test = check_count(n_test, "n_test", minimum=10)
    bunch = load_digits()
    if n_test > len(bunch.target) - 10:
        raise ValueError(f"n_test={n_test} leaves fewer than 10 training digits (there are "
                         f"{len(bunch.target)}); use a smaller n_test.")
    xtr, xte, ytr, yte = train_test_split(bunch.data, bunch.target, test_size=n_test,
                                          random_state=seed, stratify=bunch.target)
    return Digits(np.ascontiguousarray(xtr), ytr.astype(np.int64), np.ascontiguousarray(xte),
                  yte.astype(np.int64))


def load(n_test=360, seed=0, threshold=8):
    """The binarised scikit-learn digits, split into training and ``n_test`` held-out images.

    Parameters
    ----------
    n_test, seed : int
        The split, as in :func:`levels`.
    threshold : int
        A pixel is on (+1) when its grey level (0 … 16) exceeds ``threshold`` (0 … 15).

    Returns
    -------
    Digits
        ``train`` and ``test`` as int8 ±1 arrays (one image per row, pixel 8·row + column).
    """
    threshold = check_count(threshold, "threshold", minimum=0)
    if threshold >= MAX_LEVEL:
        raise ValueError(f"threshold={threshold} leaves every pixel off (grey levels run from 0 "
                         f"to {MAX_LEVEL}); use 0 <= threshold < {MAX_LEVEL}, e.g. 8.")
    g = levels(n_test, seed)
    spins = lambda x: np.where(x > threshold, 1, -1).astype(np.int8)  # noqa: E731
    return Digits(spins(g.train), g.train_labels, spins(g.test), g.test_labels)
