r"""Sample quality of real-valued images without an external network (E2), (E3).

The energy distance (E3) and the nearest-neighbour adversarial accuracy (E2) are those of
:mod:`shortrun.numerics.analysis.quality`, here always with Euclidean distances on the pixel
vectors; this module adds the confidence of a digit classifier and :func:`score`, which puts the
three measures of one sample set side by side.

* Classifier confidence: the mean over samples of :math:`\max_c P(c\mid x)` of a multinomial
  logistic regression fitted on the training digits (:func:`classifier`).  It rises with sharp,
  digit-like samples but also with over-saturated ones: read it next to the distances.
* Fréchet distance (E5): the distance between Gaussians fitted to the classifier's features
  (its logits) of the samples and of the data, the 8×8 analogue of FID (:func:`frechet_distance`).
"""
from __future__ import annotations

import numpy as np

from shortrun.conventions import check_finite, check_real
from shortrun.numerics.analysis import quality as _quality

__all__ = ["energy_distance", "adversarial_accuracy", "classifier", "confidence", "score",
           "features", "frechet_distance"]


def energy_distance(samples, data):
    r"""Energy distance (E3), Euclidean: :math:`2\overline{\|s-t\|} - \overline{\|s-s'\|} -
    \overline{\|t-t'\|}` (within-set means over distinct pairs)."""
    return _quality.energy_distance(samples, data, metric="euclidean")


def adversarial_accuracy(samples, data):
    r"""Adversarial accuracy (E2), Euclidean, equal-size sets:
    :math:`\tfrac12[P(d_{TS} > d_{TT}) + P(d_{ST} > d_{SS})]` (0.5 ideal, → 1 poor, → 0 copies)."""
    return _quality.adversarial_accuracy(samples, data, metric="euclidean").aa


def classifier(x, labels, seed=0):
    """A multinomial logistic regression (scikit-learn, C = 1, lbfgs) fitted on ``(x, labels)``."""
    from sklearn.linear_model import LogisticRegression

    x = check_finite(x, "x", "pass finite training images.")
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
    samples = check_real(samples, "samples")
    if not np.all(np.isfinite(samples)):
        return dict(energy_distance=np.inf, adversarial_accuracy=1.0, confidence=0.0)
    return dict(energy_distance=energy_distance(samples, data),
                adversarial_accuracy=adversarial_accuracy(samples, data),
                confidence=confidence(clf, samples))


def features(clf, x):
    """The features of the digit classifier ``clf`` for the rows of ``x``: its logits
    (``decision_function``, one per class), the analogue of the last hidden layer used by FID."""
    x = np.asarray(x, float)
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError("x must be a finite (n, d) array of images; pass finite samples (a "
                         "diverged Langevin run shows up here: lower eta).")
    return np.asarray(clf.decision_function(x), float)


def frechet_distance(samples, data, clf=None):
    r"""Fréchet distance (E5) between Gaussians fitted to the features of two sets,

    .. math:: \mathrm{FD} = \lVert\mu_S - \mu_T\rVert^2 + \mathrm{tr}\,\Sigma_S + \mathrm{tr}\,\Sigma_T
              - 2\,\mathrm{tr}\big(\Sigma_S^{1/2}\Sigma_T\Sigma_S^{1/2}\big)^{1/2},

    means and covariances (ddof = 1) of the classifier features (:func:`features`) when ``clf``
    is given, of the rows themselves otherwise.  The matrix square roots are taken on symmetric
    positive semi-definite matrices by ``numpy.linalg.eigh`` (negative rounding eigenvalues set
    to 0), so the result is real and ≥ 0 up to rounding.  Biased: two finite samples of one law
    give FD > 0 (of order dim/n), the noise floor to draw next to it.  Sets that left the finite
    numbers score ``inf``.
    """
    s, t = check_real(samples, "samples"), check_real(data, "data")
    for a, name in ((s, "samples"), (t, "data")):
        if a.ndim != 2 or a.shape[0] < 2:
            raise ValueError(f"{name} has shape {a.shape}; it must be (n, d) with n >= 2 rows "
                             f"(a covariance needs two).")
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"samples {s.shape} and data {t.shape} must have the same number of "
                         f"columns.")
    if not np.all(np.isfinite(t)):
        raise ValueError("data contains NaN or inf; pass finite data.")
    if not np.all(np.isfinite(s)):
        return np.inf
    if clf is not None:
        s, t = features(clf, s), features(clf, t)
    mu_s, mu_t = s.mean(0), t.mean(0)
    with np.errstate(over="ignore", invalid="ignore"):      # an overflow is refused just below
        c_s, c_t = (np.atleast_2d(np.cov(x, rowvar=False)) for x in (s, t))
    for c, name in ((c_s, "samples"), (c_t, "data")):
        if not np.all(np.isfinite(c)):
            raise ValueError(f"{name} are so large that their covariance overflows float64; "
                             "rescale them.")
    w, v = np.linalg.eigh(c_s)
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root @ c_t @ root
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (inner + inner.T)), 0.0, None)))
    return float(np.sum((mu_s - mu_t) ** 2) + np.trace(c_s) + np.trace(c_t) - 2.0 * cross)
