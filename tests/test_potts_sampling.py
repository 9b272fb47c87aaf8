"""The numba Potts sampler against the exact k-step law U^k p0 (G2), (P2).

The exact law is ``kernels.law`` of the :class:`PottsMachine` (the matrix-free kernels of
:mod:`shortrun.numerics.kernels.potts`, checked there against a dense kernel built from the
definition).  The sampler runs on the raw (h, J) while the model is moved to the reference gauge,
so the comparison also checks that the gauge does not change the chain.  The acceptance test is
:func:`test_sampling.assert_law`: every state's count within the two-sided 5-sigma binomial tail
and Pearson's chi^2 of the whole histogram above the same level; seeds fixed.
"""
import itertools

import numba
import numpy as np
import pytest

from shortrun.numerics import kernels, sampling
from shortrun.numerics.kernels import potts as _potts_kernels  # noqa: F401  (registers the kernel)
from shortrun.numerics.models.potts import PottsMachine, colours
from shortrun.numerics.sampling import potts
from test_sampling import assert_law  # the shared Monte Carlo acceptance test

RULES = potts.RULES
SCANS = potts.SCANS


def random_potts(N, q, seed, scale=0.7):
    """Seeded Potts parameters in no particular gauge: h ~ N(0, scale^2),
    J_ij(a, b) ~ N(0, scale^2) symmetrised, J_ii = 0."""
    g = np.random.default_rng(seed)
    h = g.normal(0.0, scale, (N, q))
    J = g.normal(0.0, scale, (N, N, q, q))
    J = (J + J.transpose(1, 0, 3, 2)) / 2
    J[np.arange(N), np.arange(N)] = 0.0
    return h, J


def exact_law(h, J, p0, k, rule, scan):
    return kernels.law(PottsMachine(h, J), p0, k, rule, scan)


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("N,q", [(3, 3), (3, 4), (4, 3)])
def test_k_step_law_matches_the_exact_law(N, q, rule, scan):
    h, J = random_potts(N, q, seed=10 * N + q)
    n = 40_000
    p0 = np.random.default_rng(1).random(q ** N)
    p0 /= p0.sum()
    traj = potts.sample_arrays(h, J, p0, 3, rule, scan, n_chains=n, seed=3, times=[0, 1, 3])
    for t, s in zip([0, 1, 3], traj):
        p = exact_law(h, J, p0, t, rule, scan)
        assert_law(potts.histogram(s, q), p, n, f"N={N} q={q} {rule}/{scan} t={t}")


@pytest.mark.parametrize("rule", RULES)
def test_uniform_start_and_given_states(rule):
    N, q = 3, 4
    h, J = random_potts(N, q, seed=5)
    n = 40_000
    s = potts.sample_arrays(h, J, "uniform", 2, rule, "random", n_chains=n, seed=9)
    u = np.full(q ** N, 1.0 / q ** N)
    assert_law(potts.histogram(s, q), exact_law(h, J, u, 2, rule, "random"), n, "uniform p0")
    # given states (data samples): all chains from one state x0 = (1, 3, 0)
    x0 = np.tile(np.array([1, 3, 0], dtype=np.int8), (n, 1))
    s = potts.sample_arrays(h, J, x0, 2, rule, "sequential", seed=9)
    delta = np.zeros(q ** N)
    delta[1 + 3 * q] = 1.0
    assert_law(potts.histogram(s, q), exact_law(h, J, delta, 2, rule, "sequential"), n,
               "given states")


def test_huge_fields_stay_exact():
    """Fields of ±400 (e^{±400} overflows a double unshifted): the draws remain exact."""
    N, q = 3, 3
    h, J = random_potts(N, q, seed=2, scale=400.0)
    n = 20_000
    for rule in RULES:
        s = potts.sample_arrays(h, J, "uniform", 2, rule, "random", n_chains=n, seed=4)
        u = np.full(q ** N, 1.0 / q ** N)
        assert_law(potts.histogram(s, q), exact_law(h, J, u, 2, rule, "random"), n, rule)


def test_exact_past_a_field_refresh():
    """Long runs cross the periodic recomputation of the field tables; the stationary law (the
    Gibbs law, from the energies) is kept."""
    N, q = 3, 3
    h, J = random_potts(N, q, seed=8)
    pi = np.array(PottsMachine(h, J).boltzmann())
    n = 5_000
    k = potts.REFRESH + 3
    for rule, scan in itertools.product(RULES, SCANS):
        s = potts.sample_arrays(h, J, pi, k, rule, scan, n_chains=n, seed=6)
        assert_law(potts.histogram(s, q), pi, n, f"{rule}/{scan} after {k} sweeps")


@pytest.mark.parametrize("rule,scan", list(itertools.product(RULES, SCANS)))
def test_bit_identical_whatever_the_thread_count(rule, scan):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here (NUMBA_NUM_THREADS=1): nothing to compare")
    h, J = random_potts(7, 4, seed=1)
    n = 3000  # n * N * q * k above SERIAL_BELOW: really runs on several threads
    assert n * 7 * 4 * 10 >= potts.SERIAL_BELOW
    runs = []
    for t in (1, 2):
        with potts.threads(t):
            assert numba.get_num_threads() == t
            runs.append(potts.sample_arrays(h, J, "uniform", 10, rule, scan, n_chains=n,
                                            seed=123))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].dtype == np.int8 and runs[0].shape == (n, 7)


def test_seed_controls_everything():
    h, J = random_potts(5, 3, seed=2)
    a = potts.sample_arrays(h, J, "uniform", 3, n_chains=500, seed=7)
    np.testing.assert_array_equal(a, potts.sample_arrays(h, J, "uniform", 3, n_chains=500, seed=7))
    assert not np.array_equal(a, potts.sample_arrays(h, J, "uniform", 3, n_chains=500, seed=8))
    # a chain's stream depends on (seed, chain) only: fewer chains give a prefix of the run
    np.testing.assert_array_equal(a[:37], potts.sample_arrays(h, J, "uniform", 3, n_chains=37,
                                                              seed=7))
    traj = potts.sample_arrays(h, J, "uniform", 3, n_chains=500, seed=7, times=[0, 2, 3])
    np.testing.assert_array_equal(traj[-1], a)
    np.testing.assert_array_equal(traj[0], potts.sample_arrays(h, J, "uniform", 0, n_chains=500,
                                                               seed=7))
    assert set(np.unique(a)) <= {0, 1, 2}


def _bad_cases():
    h, J = random_potts(3, 3, seed=0)
    Jasym = J.copy()
    Jasym[0, 1, 0, 1] += 1.0
    Jdiag = J.copy()
    Jdiag[1, 1, 0, 0] = 0.5
    hnan = h.copy()
    hnan[1, 2] = np.nan
    Jnan = J.copy()
    Jnan[0, 2, 1, 1] = Jnan[2, 0, 1, 1] = np.nan
    good = dict(h=h, J=J, p0="uniform", k=2)
    return [
        (dict(good, h=hnan), "h"),
        (dict(good, J=Jnan), "J"),
        (dict(good, h=h[:, :2]), r"shape \(N, N, q, q\)"),
        (dict(good, h=h[:, :1], J=J[:, :, :1, :1]), r"q \(the second axis of h\)"),
        (dict(good, J=J[:2, :2]), r"J must have shape"),
        (dict(good, J=Jasym), "not symmetric"),
        (dict(good, J=Jdiag), r"J\[i, i\] must be 0"),
        (dict(good, p0=np.array([[0, 1, 3]])), r"colours 0\.\.2"),
        (dict(good, p0=np.array([[0, -1, 2]])), r"colours 0\.\.2"),
        (dict(good, p0=np.array([[0, 0.5, 2]])), r"colours 0\.\.2"),
        (dict(good, p0=np.zeros((4, 2))), r"shape \(n_chains, N\)"),
        (dict(good, p0=np.ones(26) / 26), "p0"),
        (dict(good, p0="uniformly"), "p0"),
        (dict(good, k=-1), "k"),
        (dict(good, k=1.5), "k"),
        (dict(good, rule="gibbs"), "rule"),
        (dict(good, scan="parallel"), "scan"),
        (dict(good, seed=-3), "seed"),
        (dict(good, n_chains=0), "n_chains"),
        (dict(good, p0=np.zeros((4, 3), int), n_chains=5), "n_chains"),
        (dict(good, times=[2, 1]), "times"),
        (dict(good, times=[0, 3]), "times"),
        (dict(good, n_chains=10 ** 13), "n_chains=10000000000000 chains .* of memory"),
        (dict(good, n_chains=10 ** 9, times=[0, 1, 2]), "fewer times"),
        (dict(good, k=10 ** 12), r"k=1e\+12: Monte Carlo sampling \(.* chains of N=3 units"),
    ]


@pytest.mark.parametrize("kwargs,match", _bad_cases())
def test_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        potts.sample_arrays(**kwargs)


def test_histogram_and_index():
    q, N = 3, 4
    S = colours(N, q)
    np.testing.assert_array_equal(potts.histogram(S, q), np.full(q ** N, 1.0 / q ** N))
    with pytest.raises(ValueError, match="states"):
        potts.histogram(np.zeros(3), q)


@pytest.mark.parametrize("scan", SCANS)
def test_registered_model_sampler(scan):
    """``sampling.sample`` / ``initial_states`` on a PottsMachine run this sampler on its (h, J)."""
    h, J = random_potts(4, 3, seed=4)
    model = PottsMachine(h, J)
    n = 30_000
    s = sampling.sample(model, "uniform", 2, rule="metropolis", scan=scan, n_chains=n, seed=1)
    np.testing.assert_array_equal(s, potts.sample_arrays(model.h, model.J, "uniform", 2,
                                                         "metropolis", scan, n, 1))
    assert_law(potts.histogram(s, 3), kernels.law(model, "uniform", 2, "metropolis", scan), n,
               f"model/{scan}")
    x0 = sampling.initial_states(model, "uniform", 5, seed=3)
    np.testing.assert_array_equal(x0, potts.sample_arrays(h, J, "uniform", 0, n_chains=5, seed=3))
    with pytest.raises(ValueError, match="PottsMachine"):
        potts.sample(object(), "uniform", 1)
