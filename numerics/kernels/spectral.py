r"""Spectral decomposition of a kernel and the relaxation of p(k, p0) (G3).

.. math::
    p(k, p_0) = p_\theta + \sum_{\alpha>0} c_\alpha(p_0)\,\lambda_\alpha^k\, u_\alpha,\qquad
    \kappa_\alpha = -1/\ln|\lambda_\alpha| .

For a kernel reversible with respect to π, :math:`S = D^{-1/2} U D^{1/2}` (D = diag π) is
symmetric and is diagonalised with ``eigh``: :math:`S = V\Lambda V^\top`, right eigenvectors
:math:`u_\alpha = D^{1/2}v_\alpha`, left eigenvectors :math:`\ell_\alpha = u_\alpha/\pi`,
:math:`c_\alpha(p_0) = \sum_x u_\alpha(x)p_0(x)/\pi(x)`, :math:`u_0 = \pi`, :math:`c_0 = 1`.
A sequential sweep is not reversible: general ``eig``, complex spectrum, report :math:`|\lambda|`
and :math:`\arg\lambda`.  Metropolis kernels can have negative eigenvalues (oscillating
relaxation): :math:`\kappa = -1/\ln|\lambda|` with phase π.  For continuous time the generator W
has eigenvalues :math:`\mu_\alpha \le 0`, :math:`\kappa_\alpha = -1/\mu_\alpha` and
:math:`p(t) = \sum_\alpha c_\alpha e^{\mu_\alpha t} u_\alpha`.

Kernels are column-stochastic (``U[x', x] = P(x -> x')``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortrun.conventions import (check_bool, check_choice, check_distribution, check_finite,
                                  check_steps)


def _tol(n):
    return 50.0 * n * np.finfo(float).eps


def is_stochastic(U, atol=None):
    """True if ``U`` is column-stochastic: entries >= -atol, each column sums to 1 within atol."""
    U = np.asarray(U, float)
    atol = _tol(U.shape[0]) if atol is None else atol
    return bool(U.ndim == 2 and U.shape[0] == U.shape[1] and U.min() >= -atol
                and np.allclose(U.sum(axis=0), 1.0, rtol=0, atol=atol))


def is_generator(W, atol=None):
    """True if ``W`` is a rate matrix: off-diagonal >= 0, columns sum to 0."""
    W = np.asarray(W, float)
    atol = _tol(W.shape[0]) if atol is None else atol
    off = W - np.diag(np.diag(W))
    return bool(off.min() >= -atol and np.allclose(W.sum(axis=0), 0.0, rtol=0, atol=atol))


def is_reversible(U, p, atol=None):
    r"""Detailed balance :math:`U[x',x]\,p(x) = U[x,x']\,p(x')` for all pairs, within ``atol``."""
    U = check_square(U)
    p = check_finite(p, "p", "pass the finite stationary law of U.")
    if p.shape != U.shape[:1]:
        raise ValueError(f"p must have one entry per state of U ({U.shape[0]}); got shape "
                         f"{p.shape}.")
    F = U * p[None, :]
    atol = _tol(U.shape[0]) if atol is None else atol
    return bool(np.max(np.abs(F - F.T)) <= atol)


def check_square(U, name="U"):
    """``U`` as a finite, real, non-empty square float64 matrix (a ValueError naming ``name``
    otherwise: NaN, complex entries or a wrong shape would give a wrong spectrum or an
    IndexError deep inside)."""
    U = check_finite(U, name, "pass a finite column-stochastic matrix or generator.")
    if U.ndim != 2 or U.shape[0] != U.shape[1] or U.shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty square matrix (n x n, column-stochastic: "
                         f"U[x', x] = P(x -> x')); got shape {U.shape}.")
    return U


def closed_classes(U):
    r"""The closed communicating classes of the chain with column-stochastic matrix (or generator)
    ``U``: the strongly connected sets of states of the graph :math:`x \to x'` where
    :math:`U[x', x] > 0` that no edge leaves.

    Each closed class carries exactly one stationary law and every stationary law is a mixture of
    these, so the stationary law is unique if and only if there is one closed class (whatever the
    period of the chain).  The count is structural (exact zeros of ``U``), free of eigenvalue
    tolerances.  Returns a list of sorted index arrays.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    U = check_square(U)
    dst, src = np.nonzero(U > 0)                  # edges src -> dst
    graph = coo_matrix((np.ones(src.size), (src, dst)), shape=U.shape).tocsr()
    n, label = connected_components(graph, directed=True, connection="strong")
    leaves = np.zeros(n, bool)
    leaves[label[src[label[src] != label[dst]]]] = True
    return [np.flatnonzero(label == c) for c in range(n) if not leaves[c]]


class NonUniqueStationaryError(ValueError):
    """The chain has several closed classes of states, hence several stationary laws."""


def stationary_from_dense(U):
    """Stationary law of a column-stochastic (or generator) matrix: the eigenvector of the
    eigenvalue closest to 1 (0 for a generator), normalised to a probability vector.

    Raises
    ------
    NonUniqueStationaryError
        (a ValueError) when the chain has more than one closed class (:func:`closed_classes`):
        then every mixture of the classes' laws is stationary and no single answer is right.
    """
    U = check_square(U)
    classes = closed_classes(U)
    if len(classes) > 1:
        raise NonUniqueStationaryError(
            f"U has {len(classes)} closed classes of states (sizes "
            f"{[len(c) for c in classes[:6]]}{', ...' if len(classes) > 6 else ''}), so its "
            "stationary law is not unique; restrict U to one class (spectral.closed_classes) "
            "or use a chain that connects all states.")
    target = 0.0 if np.allclose(U.sum(axis=0), 0.0) else 1.0
    w, R = np.linalg.eig(U)
    v = np.real(R[:, np.argmin(np.abs(w - target))])
    v = v / v.sum()
    return np.clip(v, 0.0, None) / np.clip(v, 0.0, None).sum()


@dataclass(frozen=True)
class Spectrum:
    """Eigen-decomposition of a kernel: ``eigenvalues[a]``, right eigenvectors ``right[:, a]``,
    left eigenvectors ``left[a, :]`` with ``left @ right = I``; mode 0 is the stationary law.

    ``time='discrete'``: eigenvalues λ of U, sorted by decreasing modulus (real part for ties);
    ``time='continuous'``: eigenvalues μ <= 0 of the generator W, sorted decreasing.
    """

    eigenvalues: np.ndarray
    right: np.ndarray
    left: np.ndarray
    time: str
    reversible: bool

    @property
    def stationary(self):
        return np.real(self.right[:, 0])

    @property
    def condition(self):
        """Condition number of the eigenvector matrix: the spectral route loses about
        ``log10(condition)`` digits against repeated application (1 for a symmetric S; large
        for strongly non-normal kernels such as parallel Metropolis)."""
        if self.reversible:
            return 1.0
        return float(np.linalg.cond(self.right))

    @property
    def route_condition(self):
        r"""Condition number :math:`\kappa` of the similarity the spectral route inverts:
        :math:`\kappa(R) = \|R\|_2\|R^{-1}\|_2` of the eigenvector matrix (``eig``, non-reversible
        kernels), or :math:`\kappa(D^{1/2}) = \sqrt{\max\pi/\min\pi}` for the symmetric route
        (:math:`U = D^{1/2} S D^{-1/2}`, V orthogonal: an absolute error of
        :math:`S^t` is magnified by at most this ratio in :math:`U^t`).  See
        :meth:`error_bound`."""
        if self.reversible:
            pi = self.stationary
            return float(np.sqrt(pi.max() / pi.min()))
        return self.condition

    @property
    def eigenvalue_conditions(self):
        r"""Condition number of each eigenvalue, :math:`\kappa_\alpha = \|\ell_\alpha\|_2
        \|u_\alpha\|_2` (with :math:`\ell_\alpha\cdot u_\alpha = 1`): a perturbation Δ of
        the matrix moves :math:`\lambda_\alpha` by at most :math:`\kappa_\alpha\|\Delta\|_2`
        to first order (1 for every eigenvalue of a symmetric matrix)."""
        return np.linalg.norm(self.left, axis=1) * np.linalg.norm(self.right, axis=0)

    def error_bound(self, t):
        r"""First-order bound on the rounding error of :meth:`propagate` for a law :math:`p_0`,

        .. math:: \|\tilde p(t) - p(t)\|_\infty \;\le\;
                  16\, n\, \varepsilon\, \kappa\, (1 + t\,\rho),\qquad
                  p(t) = U^t p_0 \ \text{or}\ e^{tW} p_0,

        n the number of states, ε the machine epsilon, κ = :attr:`route_condition` and ρ the
        spectral radius (1 for a stochastic matrix; the largest rate |μ| of a generator).  The
        computed decomposition is the exact one of :math:`U + \Delta` with
        :math:`\|\Delta\| \le c\,n\varepsilon\,\kappa\|U\|` (backward-stable eig / eigh, the
        error of each eigenpair carried through :math:`R^{-1}`); to first order the t steps
        add :math:`t\,\|\Delta\|` (each :math:`U^j` has 1-norm 1) and forming
        :math:`R\,\mathrm{diag}(\lambda^t)\,R^{-1}p_0` adds :math:`n\varepsilon\kappa`.  The
        factor 16 is that of the exact-vs-exact tolerance of the tests (16 · 2^N ε).  This is a
        worst-case bound: rounding errors rarely align, and the observed error is usually
        orders of magnitude smaller; it is the tolerance a comparison with another route may
        assert without depending on the last bits of one machine's LAPACK."""
        t = check_steps(t, "t", integer=False)
        n = self.right.shape[0]
        rho = float(np.max(np.abs(self.eigenvalues))) if self.time == "continuous" else 1.0
        return 16.0 * n * np.finfo(float).eps * self.route_condition * (1.0 + t * rho)

    @property
    def timescales(self):
        r""":math:`\kappa_\alpha = -1/\ln|\lambda_\alpha|` (discrete) or :math:`-1/\mu_\alpha`
        (continuous); ``inf`` for the stationary mode, ``0`` for λ = 0."""
        lam = self.eigenvalues
        with np.errstate(divide="ignore"):
            if self.time == "continuous":
                return np.where(np.real(lam) < 0, -1.0 / np.real(lam), np.inf)
            mod = np.abs(lam)
            out = np.full(mod.shape, np.inf)
            below = mod < 1
            out[below] = -1.0 / np.log(mod[below])
            return out

    @property
    def phases(self):
        r""":math:`\arg\lambda_\alpha` (π for a negative eigenvalue: oscillating relaxation)."""
        return np.angle(self.eigenvalues) if self.time == "discrete" else np.zeros(len(self.eigenvalues))

    @property
    def mixing_time(self):
        r"""Mixing time :math:`\tau = \kappa_1`, the slowest relaxation time."""
        return float(self.timescales[1])

    @property
    def gap(self):
        """Spectral gap: 1 − |λ_1| (discrete) or −μ_1 (continuous)."""
        if self.time == "continuous":
            return float(-np.real(self.eigenvalues[1]))
        return float(1.0 - np.abs(self.eigenvalues[1]))

    def coefficients(self, p0):
        r""":math:`c_\alpha(p_0) = \ell_\alpha\cdot p_0` (reversible: :math:`\sum_x u_\alpha p_0/\pi`)."""
        p0 = check_distribution(p0, self.right.shape[0], "p0")
        return self.left @ p0

    def propagate(self, p0, t):
        r""":math:`p(t, p_0) = \sum_\alpha c_\alpha \lambda_\alpha^t u_\alpha` (or
        :math:`e^{\mu_\alpha t}`).  Discrete time with negative or complex eigenvalues needs an
        integer ``t``."""
        lam = self.eigenvalues
        if self.time == "continuous":
            t = check_steps(t, "t", integer=False)
            f = np.exp(lam * t)
        else:
            real_pos = np.all(np.isreal(lam)) and np.all(np.real(lam) >= 0)
            t = check_steps(t, "t", integer=not real_pos)
            f = np.zeros(len(lam), dtype=lam.dtype)
            if t == 0:
                f[:] = 1
            else:
                nz = lam != 0
                f[nz] = lam[nz] ** t
        p = self.right @ (f * self.coefficients(p0))
        return np.real(p) if np.iscomplexobj(p) else p


def decompose(kernel_or_matrix, stationary=None, reversible=None, time=None):
    """Spectrum of a :class:`~shortrun.numerics.kernels.Kernel` or of a dense matrix.

    Parameters
    ----------
    kernel_or_matrix : Kernel or (n, n) array
        A kernel object (its ``dense()``, ``stationary()``, ``reversible`` and ``time`` are used)
        or a column-stochastic matrix / generator.
    stationary : array, optional
        Stationary law (required with a matrix for the symmetric route; computed otherwise).
    reversible : bool, optional
        Use the symmetric ``eigh`` route (checked: detailed balance must hold).
    time : {'discrete', 'continuous'}, optional
    """
    if time is not None:
        check_choice(time, ("discrete", "continuous"), "time")
    check_bool(reversible, "reversible", none=True)
    if hasattr(kernel_or_matrix, "dense"):
        k = kernel_or_matrix
        U = k.dense()
        time = k.time if time is None else time
        reversible = k.reversible if reversible is None else reversible
        if stationary is None and reversible:
            stationary = k.stationary()
    else:
        U = check_square(kernel_or_matrix)
        time = time or ("continuous" if np.allclose(U.sum(axis=0), 0.0) else "discrete")
        atol = 1e-8 * max(1.0, float(np.abs(U).max()))
        if not (is_generator(U, atol) if time == "continuous" else is_stochastic(U, atol)):
            what = ("a generator (off-diagonal rates >= 0, columns summing to 0)"
                    if time == "continuous" else
                    "column-stochastic (entries >= 0, columns summing to 1)")
            raise ValueError(f"the matrix is not {what}; pass U[x', x] = P(x -> x') (transpose "
                             "a row-stochastic matrix), or the matching time=.")
        reversible = bool(reversible)
    n = U.shape[0]
    if reversible:
        pi = (check_distribution(stationary, n, "stationary") if stationary is not None
              else stationary_from_dense(U))
        # detailed balance in the generator form is the same condition on U + I
        M = U + np.eye(n) if time == "continuous" else U
        if not is_reversible(M, pi, atol=1e-9 * max(1.0, np.abs(M).max())):
            raise ValueError("reversible=True but detailed balance fails for this matrix and "
                             "stationary law; use reversible=False (general eig).")
        if pi.min() <= 0:
            raise ValueError("the stationary law has zero entries; the symmetric route needs "
                             "pi > 0: use reversible=False.")
        r = np.sqrt(pi)
        S = U * (r[None, :] / r[:, None])
        lam, V = np.linalg.eigh((S + S.T) / 2)
        order = np.argsort(-lam) if time == "continuous" else np.lexsort((-lam, -np.abs(lam)))
        lam, V = lam[order], V[:, order]
        if V[:, 0].sum() < 0:
            V[:, 0] *= -1
        right = V * r[:, None]
        left = (V / r[:, None]).T
        return Spectrum(lam, right, left, time, True)
    lam, R = np.linalg.eig(U)
    key = np.real(lam) if time == "continuous" else np.abs(lam)
    order = np.lexsort((-np.real(lam), -np.round(key, 12)))
    lam, R = lam[order], R[:, order]
    R[:, 0] = R[:, 0] / R[:, 0].sum()
    L = np.linalg.inv(R)
    if np.max(np.abs(np.imag(lam))) == 0:
        lam, R, L = np.real(lam), np.real(R), np.real(L)
    return Spectrum(lam, R, L, time, False)
