r"""Sample quality without an external network: nearest-neighbour adversarial accuracy (E2) and
the energy distance (E3), with Hamming or Euclidean distances.

* Adversarial accuracy (E2).  With equal-size sets S (samples) and T (data), :math:`d_{TS}(i)` the
  distance from :math:`t_i` to its nearest sample and :math:`d_{TT}(i)` to its nearest other data
  point (likewise :math:`d_{ST}`, :math:`d_{SS}`):

  .. math:: AA = \tfrac12\big[P(d_{TS} > d_{TT}) + P(d_{ST} > d_{SS})\big].

  A nearest-neighbour classifier tells the two sets apart with accuracy AA: 0.5 when they come
  from the same law; → 1 when the samples are poor (far from the data) or collapsed (frozen chains:
  many identical samples, :math:`d_{SS} = 0`); below 0.5 when the samples sit closer to the data
  than data points to each other (copies).  Memorisation shows as AA against the *training* set
  well below AA against held-out data.  Hamming distances are integers and tie often; a tie counts
  as ½ (``ties='half'``, the default: AA = 0.5 in expectation for two samples of one law) or as
  "not greater" (``ties='strict'``, the formula as written).
* Energy distance (E3), the squared MMD of the distance kernel :math:`k(x, y) = -d(x, y)`:

  .. math:: D^2(S, T) = 2\,\overline{d(s, t)} - \overline{d(s, s')} - \overline{d(t, t')},

  within-set means over distinct pairs (U-statistics): 0 in expectation when S and T come from
  one law.  Euclidean and Hamming distances are both of negative type, so :math:`D^2 \ge 0` for
  the laws themselves.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from shortrun.conventions import check_choice, check_finite

METRICS = ("hamming", "euclidean")
#: Rows of one block of the distance matrix.
BLOCK = 2048


def _points(x, name, metric):
    x = check_finite(x, name, "pass finite samples.")
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name} has shape {x.shape}; it must be (n >= 2, d) points, one per row.")
    if metric == "hamming":            # as ±1 spins
        if np.all((x == 1) | (x == -1)):
            return x
        if np.all((x == 1) | (x == 0)):
            return 2.0 * x - 1.0
        raise ValueError(f"{name}: Hamming distances need binary points (all entries ±1, or all "
                         "0/1); use metric='euclidean' for real-valued points.")
    return x


def distances(X, Y, metric="hamming"):
    r"""Distance matrix ``d[i, j] = d(X_i, Y_j)``: Hamming (number of differing coordinates of
    binary points, ±1 or 0/1) or Euclidean."""
    metric = check_choice(metric, METRICS, "metric")
    X, Y = _points(X, "X", metric), _points(Y, "Y", metric)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has {X.shape[1]} coordinates and Y {Y.shape[1]}; they must agree.")
    if metric == "hamming":
        return (X.shape[1] - X @ Y.T) / 2.0
    with np.errstate(over="ignore", invalid="ignore"):
        sq = (X ** 2).sum(axis=1)[:, None] + (Y ** 2).sum(axis=1)[None, :] - 2.0 * X @ Y.T
    if not np.all(np.isfinite(sq)):
        raise ValueError("X and Y are so large that their squared distances overflow float64 "
                         f"(max |entry| = {max(np.abs(X).max(), np.abs(Y).max()):.3g}); rescale "
                         "them.")
    return np.sqrt(np.clip(sq, 0.0, None))


def _nearest(X, Y, metric, exclude_self):
    """Distance from each row of X to its nearest row of Y (itself excluded when X is Y)."""
    out = np.empty(len(X))
    for s in range(0, len(X), BLOCK):
        d = distances(X[s:s + BLOCK], Y, metric)
        if exclude_self:
            d[np.arange(d.shape[0]), s + np.arange(d.shape[0])] = np.inf
        out[s:s + BLOCK] = d.min(axis=1)
    return out


class AdversarialAccuracy(NamedTuple):
    """AA (E2) and its two halves: ``true`` = P(d_TS > d_TT) (data points closer to each other
    than to the samples), ``synthetic`` = P(d_ST > d_SS)."""

    aa: float
    true: float
    synthetic: float


def adversarial_accuracy(samples, data, metric="hamming", ties="half"):
    r"""Nearest-neighbour adversarial accuracy (E2) of equal-size sets (module docstring)."""
    metric = check_choice(metric, METRICS, "metric")
    ties = check_choice(ties, ("half", "strict"), "ties")
    S, T = _points(samples, "samples", metric), _points(data, "data", metric)
    if S.shape != T.shape:
        raise ValueError(f"samples {S.shape} and data {T.shape} must have the same shape (equal-"
                         "size sets); subsample the larger one.")
    w = 0.5 if ties == "half" else 0.0

    def beats(d_other, d_own):
        return float(np.mean((d_other > d_own) + w * (d_other == d_own)))

    true = beats(_nearest(T, S, metric, False), _nearest(T, T, metric, True))
    synthetic = beats(_nearest(S, T, metric, False), _nearest(S, S, metric, True))
    return AdversarialAccuracy(0.5 * (true + synthetic), true, synthetic)


def _mean_distance(X, Y, metric, within):
    total = 0.0
    for s in range(0, len(X), BLOCK):
        total += distances(X[s:s + BLOCK], Y, metric).sum()
    n = len(X) * (len(X) - 1) if within else len(X) * len(Y)
    return total / n          # the diagonal of a within-set matrix is 0


def energy_distance(samples, data, metric="euclidean"):
    r"""Energy distance (E3) :math:`2\overline{d(s,t)} - \overline{d(s,s')} - \overline{d(t,t')}`;
    within-set means exclude the diagonal (U-statistics); the sets may differ in size."""
    metric = check_choice(metric, METRICS, "metric")
    S, T = _points(samples, "samples", metric), _points(data, "data", metric)
    if S.shape[1] != T.shape[1]:
        raise ValueError(f"samples have {S.shape[1]} coordinates and data {T.shape[1]}.")
    return float(2.0 * _mean_distance(S, T, metric, False) - _mean_distance(S, S, metric, True)
                 - _mean_distance(T, T, metric, True))
