r"""Sample quality of real-valued images without an external network (E2), (E3).

The energy distance (E3) and the nearest-neighbour adversarial accuracy (E2) are those of
:mod:`shortrun.numerics.analysis.quality`, here always with Euclidean distances on the pixel
vectors; this module adds the confidence of a digit classifier and :func:`score`, which puts the
three measures of one sample set side by side.

* Classifier confidence: the mean over samples of :math:`\max_c P(c\mid x)` of a multinomial
  logistic regression fitted on the training digits (:func:`classifier`).  It rises with sharp,
  digit-like samples but also with over-saturated ones: read it next to the distances.
"""
from __future__ import annotations

import numpy as np

from shortrun.numerics.analysis import quality as _quality

__all__ = ["energy_distance", "adversarial_accuracy", "classifier", "confidence", "score"]


def energy_distance(samples, data):
    r"""Energy distance (E3), Euclidean: :math:`2\overline{\|s-t\|} - \overline{\|s-s'\|} -
    \overline{\|t-t'\|}` (within-set means over distinct pairs)."""
    return _quality.energy_distance(np.asarray(samples, float), np.asarray(data, float),
                                    metric="euclidean")


def adversarial_accuracy(samples, data):
    r"""Adversarial accuracy (E2), Euclidean, equal-size sets:
    :math:`\tfrac12[P(d_{TS} > d_{TT}) + P(d_{ST} > d_{SS})]` (0.5 ideal, → 1 poor, → 0 copies)."""
    return _quality.adversarial_accuracy(np.asarray(samples, float), np.asarray(data, float),
                                         metric="euclidean").aa


def classifier(x, labels, seed=0):
    """A multinomial logistic regression (scikit-learn, C = 1, lbfgs) fitted on ``(x, labels)``."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, float)
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or inf; pass finite training images.")
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(x, np.asarray(labels))


def confidence(clf, samples):
    r"""Mean over samples of :math:`\max_c P(c \mid x)` under the fitted classifier ``clf``."""
    s = np.asarray(samples, float)
    if not np.all(np.isfinite(s)):
        raise ValueError("samples contain NaN or inf; pass finite samples (a diverged Langevin "
                         "run shows up here: lower eta).")
    return float(np.mean(clf.predict_proba(s).max(axis=1)))


def score(samples, data, clf):
    """Energy distance and adversarial accuracy to ``data`` (equal size) and the confidence of
    ``clf``, as a dict.  Samples that left the finite numbers (a diverged chain) score ``inf``,
    1 and 0."""
    if not np.all(np.isfinite(samples)):
        return dict(energy_distance=np.inf, adversarial_accuracy=1.0, confidence=0.0)
    return dict(energy_distance=energy_distance(samples, data),
                adversarial_accuracy=adversarial_accuracy(samples, data),
                confidence=confidence(clf, samples))
