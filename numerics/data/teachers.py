r"""Teachers (the Ising models that make the data) and data sets.

A *teacher* holds unit couplings :math:`(h^0, J^0)` and an inverse temperature β; its
Boltzmann machine is :math:`(\beta h^0, \beta J^0)` (docs/theory.md: temperature is absorbed in the
parameters, so learned parameters are compared with :math:`\beta J^0`).  A :class:`Data` set is
the only thing training sees: the (empirical or exact) distribution vector :math:`p_{\rm data}`
over the 2^N states and its statistics :math:`\langle\phi\rangle_{\rm data}`,
:math:`\phi = (s_i, s_i s_j)_{i<j}` in ``theta`` order.

Sources of data:

* :meth:`Teacher.data` / :func:`exact_data` — the exact equilibrium law of a model;
* :func:`sampled_data` — M exact i.i.d. samples of it (``numpy.random.Generator.choice`` on the
  2^N probability vector; bit-reproducible for a seed);
* :meth:`Data.from_samples` — user samples, an (M, N) array of ±1 or of 0/1;
* :meth:`Data.from_distribution` — any probability vector.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shortrun.numerics.models.boltzmann import BoltzmannMachine
from shortrun.numerics.core.moments import moments, n_spins, stats
from shortrun.numerics.core.states import MEMORY_BUDGET, check_size, from01, index, n_states, spins
from shortrun.conventions import check_distribution, check_finite, check_seed, memory_error

#: Largest N for which a data set is held as a 2^N distribution vector.
DATA_MAX_N = 24
#: What to use for data beyond DATA_MAX_N spins.
_LARGE_N = ("train on samples with the Monte Carlo trainer "
            "shortrun.numerics.training.monte_carlo.train(samples, k, ...), which takes (M, N) "
            "samples of any N")


# ---------------------------------------------------------------------------------------------
# teachers
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Teacher:
    r"""An Ising teacher :math:`E(s) = -\beta\,(\sum_{i<j}J^0_{ij}s_is_j + \sum_i h^0_i s_i)`.

    Attributes
    ----------
    name : str
    beta : float
        Inverse temperature β (≥ 0).
    h0, J0 : ndarray
        Unit-temperature fields (N,) and couplings (N, N) (symmetric, zero diagonal).
    """

    name: str
    beta: float
    h0: np.ndarray
    J0: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        beta = check_finite(self.beta, "beta")
        if beta.ndim != 0 or beta < 0:
            raise ValueError(f"beta={self.beta!r} must be a non-negative number (inverse "
                             "temperature).")
        object.__setattr__(self, "beta", float(beta))
        unit = BoltzmannMachine(self.h0, self.J0)  # validates shapes, symmetry, diagonal
        object.__setattr__(self, "h0", unit.h)
        object.__setattr__(self, "J0", unit.J)

    @classmethod
    def from_params(cls, h, J, beta=1.0, name="custom"):
        """A teacher from your own fields ``h`` (N,) and couplings ``J`` (N, N) at inverse
        temperature ``beta`` (the model is (βh, βJ)); the name is optional."""
        return cls(name, beta, h, J)

    @property
    def N(self):
        return self.h0.shape[0]

    @property
    def model(self):
        r"""The Boltzmann machine :math:`(\beta h^0, \beta J^0)`."""
        if "model" not in self._cache:
            self._cache["model"] = BoltzmannMachine(self.beta * self.h0, self.beta * self.J0)
        return self._cache["model"]

    @property
    def theta(self):
        r""":math:`\theta_{\rm teacher} = (\beta h^0, \beta J^0_{i<j})`, the ML target."""
        return self.model.theta

    def stats(self):
        r"""Exact equilibrium statistics :math:`\langle\phi\rangle_{p_{\beta}}`."""
        return self.data().stats

    def data(self, M=None, seed=None):
        """The teacher's data: the exact law (``M=None``) or ``M`` samples drawn with ``seed``."""
        if M is None:
            if "data" not in self._cache:
                self._cache["data"] = exact_data(self.model, name=self.name)
            return self._cache["data"]
        return sampled_data(self.model, M, seed=seed, name=f"{self.name}, M={M}")


def _lattice_couplings(L, double_bonds):
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2:
        raise ValueError(f"L={L!r} must be an integer >= 2 (side of the periodic L x L lattice).")
    L = int(L)
    N = L * L
    J = np.zeros((N, N))
    for r in range(L):
        for c in range(L):
            i = r * L + c
            for j in (r * L + (c + 1) % L, ((r + 1) % L) * L + c):
                if double_bonds:
                    J[i, j] += 1.0
                    J[j, i] += 1.0
                else:
                    J[i, j] = J[j, i] = 1.0
    return J


def ferromagnet(L, beta, field=0.0, double_bonds=False):
    r"""The L×L periodic nearest-neighbour ferromagnet, :math:`J^0_{ij} = 1` on lattice bonds.

    Site (r, c) is spin ``i = r*L + c``.

    Parameters
    ----------
    L : int ≥ 2
    beta : float
        Inverse temperature (β_c ≈ 0.4407 for the infinite lattice).
    field : float or array (N,)
        Unit-temperature field :math:`h^0`.
    double_bonds : bool
        Only matters for L = 2, where the right and left (up and down) neighbours of a site are
        the same spin.  ``False`` (default): the couplings form a simple graph, :math:`J^0_{ij}=1`
        once per neighbouring pair (at L = 2 the 4-cycle, coordination 2), so
        :math:`J^0 \in \{0, 1\}` and "pairs with :math:`J^0 = 0`" are the non-bonds.  ``True``: the
        Hamiltonian is the sum over sites and the two directions, each wrap-around bond counted
        twice (:math:`J^0_{ij} = 2` at L = 2, coordination 4 as on a large lattice).  For L ≥ 3
        both choices agree.
    """
    J = _lattice_couplings(L, bool(double_bonds))
    N = J.shape[0]
    h = np.broadcast_to(np.asarray(field, float), (N,)).copy()
    tag = ", double bonds" if double_bonds and L == 2 else ""
    return Teacher(f"{L}x{L} ferromagnet, beta={beta:g}{tag}", beta, h, J)


def ring(N, beta, field=0.0):
    r"""The periodic chain of N ≥ 3 spins with :math:`J^0_{i,i+1} = 1` (the ring teacher of (Ia)–(Ib))."""
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 3:
        raise ValueError(f"N={N!r} must be an integer >= 3 for a ring (use N >= 3 spins).")
    J = np.zeros((N, N))
    i = np.arange(N)
    J[i, (i + 1) % N] = J[(i + 1) % N, i] = 1.0
    h = np.broadcast_to(np.asarray(field, float), (N,)).copy()
    return Teacher(f"{N}-spin ring, beta={beta:g}", beta, h, J)


def sk(N, beta, seed, field=0.0):
    r"""Sherrington–Kirkpatrick teacher: :math:`J^0_{ij} \sim \mathcal N(0, 1/N)` i.i.d. for i<j.

    The couplings are drawn with ``numpy.random.default_rng(seed)`` (upper triangle, in
    ``triu_indices`` order), so a seed fixes the teacher bit for bit.
    """
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 2:
        raise ValueError(f"N={N!r} must be an integer >= 2 (number of spins).")
    if seed is None:
        raise ValueError("seed must be given (an int) so that the SK teacher is reproducible.")
    rng = np.random.default_rng(check_seed(seed))
    iu = np.triu_indices(N, 1)
    J = np.zeros((N, N))
    J[iu] = rng.standard_normal(len(iu[0])) / np.sqrt(N)
    h = np.broadcast_to(np.asarray(field, float), (N,)).copy()
    return Teacher(f"SK N={N}, beta={beta:g}, seed={seed}", beta, h, J + J.T)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Data:
    r"""A data set as the trainer sees it: :math:`p_{\rm data}` and
    :math:`\langle\phi\rangle_{\rm data}`.

    Attributes
    ----------
    p : ndarray (2^N,)
        Distribution vector (empirical histogram of the samples, or an exact law); state index
        convention of docs/theory.md (bit i of x is 1 ⇔ s_i = +1).
    M : int or None
        Number of samples (None for an exact law).
    name : str
    """

    p: np.ndarray
    M: int | None = None
    name: str = ""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        p = check_law(self.p, "p_data", integers=True)
        p.setflags(write=False)
        object.__setattr__(self, "p", p)

    @property
    def N(self):
        return n_spins(self.p)

    @property
    def stats(self):
        r""":math:`\langle\phi\rangle_{\rm data} = (\langle s_i\rangle,
        \langle s_is_j\rangle_{i<j})`."""
        if "stats" not in self._cache:
            st = stats(self.p)
            st.setflags(write=False)
            self._cache["stats"] = st
        return self._cache["stats"]

    @property
    def magnetisation(self):
        """:math:`m_i = \\langle s_i\\rangle_{\\rm data}`."""
        return np.array(self.stats[: self.N])

    def moments(self):
        """``(m, C)`` of the data (``C`` with unit diagonal)."""
        return moments(self.p)

    def default_model(self):
        """The model family trained on these data when no ``model=`` is given: a Boltzmann
        machine on N spins (a subclass over another state space returns its own family)."""
        return default_model(self.N)

    @classmethod
    def from_distribution(cls, p, name="distribution"):
        """Data whose law is the probability vector ``p`` (length 2^N)."""
        return cls(check_law(p, "p", integers=True), None, name)

    @classmethod
    def from_samples(cls, samples, name="samples"):
        """Data from an (M, N) array of samples with entries all in {−1, +1} or all in {0, 1}.

        Raises
        ------
        ValueError
            If ``samples`` is not a 2-D array with M ≥ 1 rows, contains NaN, or mixes the two
            bases / has other values.
        """
        s = check_samples(samples)
        counts = np.bincount(index(s), minlength=n_states(s.shape[1]))
        return cls(counts / s.shape[0], s.shape[0], name)


def _numbers(x, name, what):
    """``x`` as a real numeric array; ValueError naming ``name`` for ragged, complex or
    non-numeric input."""
    try:
        a = np.asarray(x)
    except (ValueError, TypeError):
        raise ValueError(f"{name} has rows of different lengths (a ragged list) or entries that "
                         f"are not numbers; pass {what}.") from None
    if a.dtype.kind == "c":
        raise ValueError(f"{name} is complex (dtype {a.dtype}); pass {what} as real numbers.")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; got an array of dtype {a.dtype} (strings or "
                         f"Python objects); pass {what}.")
    return a


def _first(mask):
    """'row i, column j' of the first True entry of a 2-D mask."""
    i, j = np.argwhere(mask)[0]
    return f"row {i}, column {j}"


def check_samples(samples, name="samples", max_n=DATA_MAX_N):
    """Validate user samples: an (M, N) array, one row per sample, of spins in {−1, +1} or bits
    in {0, 1} (booleans count as bits); returns them as an int8 (M, N) array of ±1 spins.
    ``max_n`` is the largest N accepted (None: any N, for the Monte Carlo routes).

    Every refusal is a ValueError that says what is wrong and how to fix it.
    """
    what = "an (M, N) array of spins in {-1, +1} or of bits in {0, 1}, one row per sample"
    a = _numbers(samples, name, what)
    if a.ndim == 1:
        raise ValueError(f"{name} must be 2-D (M, N): one row per sample; got a 1-D array of "
                         f"length {a.shape[0]}; pass {name}[None, :] for one sample of "
                         f"N={a.shape[0]} spins (or Data.from_distribution for a probability "
                         "vector over the 2^N states).")
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (M, N): one row per sample; got "
                         f"{'a single number' if a.ndim == 0 else f'shape {a.shape}'}; reshape "
                         f"it to (M samples, N spins), e.g. {name}.reshape(-1, N).")
    M, N = a.shape
    if M < 1 or N < 1:
        raise ValueError(f"{name} is empty (shape {a.shape}); it needs at least one sample (row) "
                         "and one spin (column).")
    if max_n is not None and N > max_n:
        raise ValueError(f"{name} have N={N} spins: the exact routes hold vectors over the 2^N "
                         f"states and stop at N={max_n}; {_LARGE_N}.")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contain NaN or inf (first at {_first(~np.isfinite(a))}); pass "
                         "spins in {-1, +1} or bits in {0, 1}.")
    pm, bits = (a == 1) | (a == -1), (a == 0) | (a == 1)
    if np.all(pm):
        return a.astype(np.int8)
    if np.all(bits):
        return from01(a.astype(np.int8))
    if np.all(pm | bits):
        raise ValueError(f"{name} mix the two bases: the values -1, 0 and +1 all occur (a 0 at "
                         f"{_first(a == 0)}, a -1 at {_first(a == -1)}); use spins in {{-1, +1}} "
                         "or bits in {0, 1} throughout.")
    bad = ~(pm | bits)
    raise ValueError(f"{name} contain values other than spins or bits, e.g. "
                     f"{a[bad][0].item()!r} at {_first(bad)}; samples are spins in {{-1, +1}} or "
                     "bits in {0, 1}.")


def check_law(p, name="data", integers=False):
    """Validate a probability vector over the 2^N states (N ≤ ``DATA_MAX_N``); returns a float64
    copy.  A vector that looks like something else (one sample, counts, a 2-D array of samples)
    is refused with a ValueError that says so; integer vectors are accepted only with
    ``integers=True`` (otherwise a 0/1 vector is ambiguous: one sample or a law)."""
    what = "a probability vector of length 2^N"
    a = _numbers(p, name, what)
    if a.ndim == 2:
        raise ValueError(f"{name} is a 2-D array of shape {a.shape}; if it holds samples (one row "
                         f"per sample), pass teachers.Data.from_samples({name}); a law is a "
                         "1-D probability vector of length 2^N.")
    if a.ndim != 1:
        raise ValueError(f"{name} must be {what}; got "
                         f"{'a single number' if a.ndim == 0 else f'shape {a.shape}'}.")
    n = a.shape[0]

    def sample_like():  # only the values of one sample of spins or bits (for the hints)
        return bool(n) and (np.all((a == 0) | (a == 1)) or np.all((a == -1) | (a == 1)))

    if a.dtype.kind in "biu" and not integers:
        if sample_like():
            values = np.unique(a)
            raise ValueError(f"{name} is a 1-D integer array of {n} values in "
                             f"{{{', '.join(map(str, values.tolist()))}}}: that is one sample of "
                             f"N={n} spins, not a probability vector over the 2^N states; pass "
                             f"teachers.Data.from_samples({name}[None, :]) (one row per sample), "
                             f"or a float vector of length 2^N that sums to 1 for a law.")
        raise ValueError(f"{name} is a 1-D integer array; if it holds counts of the 2^N states "
                         f"pass {name} / {name}.sum(), for samples pass "
                         "teachers.Data.from_samples(samples) with one row per sample.")
    N = int(n).bit_length() - 1
    if n < 2 or (1 << N) != n:
        hint = (f"; if it is one sample of {n} spins, pass teachers.Data.from_samples("
                f"{name}[None, :])" if sample_like() else "")
        raise ValueError(f"{name} has length {n}, not 2^N with N >= 1: a probability vector "
                         f"lists the probabilities of the 2^N states of N spins{hint}.")
    if N > DATA_MAX_N:
        raise ValueError(f"{name} is a law over 2^{N} states: the exact routes stop at "
                         f"N={DATA_MAX_N}; {_LARGE_N}.")
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and abs(a.sum() - 1.0) > 1e-9 \
            and sample_like():
        raise ValueError(f"{name} holds only the values {np.unique(a).tolist()} and sums to "
                         f"{a.sum():g}: it looks like one sample of {n} spins, not a probability "
                         f"vector; pass teachers.Data.from_samples({name}[None, :]) for a sample.")
    return check_distribution(a.astype(float), n, name)


def exact_data(model, name="exact"):
    r"""The exact equilibrium law :math:`p_\theta` of ``model`` as a :class:`Data` set."""
    if not isinstance(model, BoltzmannMachine):
        raise ValueError("model must be a BoltzmannMachine (e.g. teachers.sk(...).model).")
    return Data(np.array(model.boltzmann()), None, name)


def sample_states(model, M, seed):
    r"""M i.i.d. exact samples (state indices) of :math:`p_\theta`, drawn with
    ``numpy.random.default_rng(seed).choice(2**N, size=M, p=p_theta)``."""
    if not isinstance(model, BoltzmannMachine):
        raise ValueError("model must be a BoltzmannMachine (e.g. teachers.sk(...).model).")
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 1:
        raise ValueError(f"M={M!r} must be a positive integer number of samples.")
    if seed is None:
        raise ValueError("seed must be given (an int) so that the samples are reproducible.")
    seed = check_seed(seed)
    if 8.0 * M > MEMORY_BUDGET:          # the drawn indices, 8 bytes each
        raise memory_error(f"M={M} samples", 8.0 * M, "pass fewer samples (M).")
    check_size(model.N, 8, "sampling from the exact 2^N law")
    p = np.array(model.boltzmann())
    p /= p.sum()
    return np.random.default_rng(seed).choice(model.n_states, size=int(M), p=p)


def sampled_data(model, M, seed, name=None):
    """:class:`Data` from ``M`` exact samples of ``model`` (see :func:`sample_states`)."""
    x = sample_states(model, M, seed)
    counts = np.bincount(x, minlength=model.n_states)
    return Data(counts / int(M), int(M), name or f"M={M} samples, seed={seed}")


def default_model(N):
    """The model family trained when none is given: a Boltzmann machine on N spins."""
    return BoltzmannMachine.zeros(N)


def as_data(data):
    """Accept a :class:`Data` or a float probability vector (length 2^N); anything else is
    refused with a ValueError that says what it looks like and what to pass instead
    (``Data.from_samples(samples)`` for an (M, N) array of spins, ``exact_data(model)`` for an
    exact law)."""
    if isinstance(data, Data):
        return data
    try:
        p = check_law(data, "data")
    except ValueError as exc:
        raise ValueError(f"{exc} A law over another state space (e.g. the q^N colourings of a "
                         "Potts machine) is passed as its own Data: "
                         "shortrun.numerics.data.potts.PottsData(p, q=q).") from None
    return Data(p, None, "distribution")


def pattern_mixture(N, n_patterns, m, seed, name=None):
    r"""Misspecified data: an equal-weight mixture of product laws around random ±1 patterns,

    .. math:: p_{\rm data}(s) = \frac1K\sum_{a=1}^K \prod_i \frac{1 + m\,\xi^a_i s_i}{2},
              \qquad \xi^a_i = \pm1 \text{ i.i.d. (seeded)} .

    Its higher-order correlations are not those of any Boltzmann machine, so CD-k's fixed point
    differs from maximum likelihood (a well-specified p_data makes θ_ML a CD fixed point, G5).
    """
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or not 1 <= N <= DATA_MAX_N:
        raise ValueError(f"N={N!r} must be an integer in [1, {DATA_MAX_N}].")
    if isinstance(n_patterns, bool) or not isinstance(n_patterns, (int, np.integer)) \
            or n_patterns < 1:
        raise ValueError(f"n_patterns={n_patterns!r} must be a positive integer.")
    if not (np.isfinite(m) and 0 <= m <= 1):
        raise ValueError(f"m={m!r} must be a magnetisation in [0, 1].")
    if seed is None:
        raise ValueError("seed must be given (an int) so that the patterns are reproducible.")
    xi = 2 * np.random.default_rng(seed).integers(0, 2, size=(n_patterns, N)) - 1
    s = spins(N).astype(float)
    p = np.mean([np.prod((1 + m * x[None, :] * s) / 2, axis=1) for x in xi], axis=0)
    return Data(p / p.sum(), None, name or f"{n_patterns}-pattern mixture, N={N}, m={m:g}")
