"""Teachers and data sets: lattice/SK couplings, exact statistics, seeded samples, user data."""
import numpy as np
import pytest
from conftest import exact_tol

from shortrun.numerics.core import moments

from shortrun.numerics.data import teachers
from shortrun.numerics.models import BoltzmannMachine
from shortrun.numerics.core.states import spins


def brute_stats(model):
    """<phi> by direct enumeration with its own loop (independent of moments.stats)."""
    N = model.N
    s = spins(N).astype(float)
    E = np.array([-(x @ model.h) - sum(model.J[i, j] * x[i] * x[j]
                                        for i in range(N) for j in range(i + 1, N)) for x in s])
    w = np.exp(-(E - E.min()))
    p = w / w.sum()
    iu = np.triu_indices(N, 1)
    return np.concatenate([p @ s, p @ (s[:, iu[0]] * s[:, iu[1]])])


@pytest.mark.parametrize("L", [3, 4])
def test_ferromagnet_lattice_bonds(L):
    t = teachers.ferromagnet(L, beta=0.3)
    N = L * L
    assert t.N == N
    assert np.array_equal(t.J0, t.J0.T) and np.all(np.diag(t.J0) == 0)
    assert set(np.unique(t.J0)) == {0.0, 1.0}
    assert np.all(t.J0.sum(axis=1) == 4)                       # coordination 4
    r, c = divmod(5 % N, L)
    assert t.J0[r * L + c, r * L + (c + 1) % L] == 1.0
    assert np.allclose(t.model.J, 0.3 * t.J0) and np.allclose(t.model.h, 0)


def test_ferromagnet_L2_bond_choice():
    simple = teachers.ferromagnet(2, beta=1.0)
    double = teachers.ferromagnet(2, beta=1.0, double_bonds=True)
    # simple graph: the 4-cycle 0-1-3-2-0, coordination 2; double: the same bonds counted twice
    assert np.all(simple.J0.sum(axis=1) == 2)
    assert set(np.unique(simple.J0)) == {0.0, 1.0}
    assert np.array_equal(double.J0, 2 * simple.J0)
    assert simple.J0[0, 3] == 0 and simple.J0[1, 2] == 0      # diagonals are not bonds
    assert np.array_equal(teachers.ferromagnet(3, 1.0, double_bonds=True).J0,
                          teachers.ferromagnet(3, 1.0).J0)


def test_sk_seeded_and_scaled():
    a, b = teachers.sk(7, 0.4, seed=11), teachers.sk(7, 0.4, seed=11)
    assert np.array_equal(a.J0, b.J0)
    assert not np.array_equal(a.J0, teachers.sk(7, 0.4, seed=12).J0)
    assert np.array_equal(a.J0, a.J0.T) and np.all(np.diag(a.J0) == 0)
    big = teachers.sk(300, 1.0, seed=1).J0[np.triu_indices(300, 1)]
    # variance 1/N, checked to 5 sigma of the sample variance (sd = sqrt(2/n)/N)
    n = big.size
    assert abs(big.var() - 1 / 300) < 5 * np.sqrt(2 / n) / 300


def test_exact_statistics_match_enumeration():
    t = teachers.sk(5, 0.7, seed=3, field=0.2)
    assert np.allclose(t.stats(), brute_stats(t.model), atol=exact_tol(5), rtol=0)
    assert np.allclose(teachers.ring(5, 0.3).stats()[:5], 0, atol=1e-15)


def test_sampled_data_reproducible_and_consistent():
    model = teachers.sk(6, 0.5, seed=2, field=0.1).model
    d1 = teachers.sampled_data(model, 20000, seed=5)
    d2 = teachers.sampled_data(model, 20000, seed=5)
    assert np.array_equal(d1.p, d2.p) and d1.M == 20000
    assert not np.array_equal(d1.p, teachers.sampled_data(model, 20000, seed=6).p)
    assert np.allclose(d1.p * d1.M, np.round(d1.p * d1.M), atol=1e-9)
    exact = teachers.exact_data(model).stats
    # each statistic is a mean of +-1 variables: standard error sqrt((1 - <phi>^2)/M)
    se = np.sqrt((1 - exact**2) / d1.M)
    assert np.all(np.abs(d1.stats - exact) < 5 * se)


def test_from_samples_bases_agree():
    rng = np.random.default_rng(0)
    s = 2 * rng.integers(0, 2, size=(37, 5)) - 1
    d_pm = teachers.Data.from_samples(s)
    d_01 = teachers.Data.from_samples((s + 1) // 2)
    d_bool = teachers.Data.from_samples(s > 0)
    assert np.array_equal(d_pm.p, d_01.p) and np.array_equal(d_pm.p, d_bool.p)
    assert d_pm.M == 37
    iu = np.triu_indices(5, 1)
    direct = np.concatenate([s.mean(0), (s[:, iu[0]] * s[:, iu[1]]).mean(0)])
    assert np.allclose(d_pm.stats, direct, atol=1e-14)


@pytest.mark.parametrize("bad, word", [
    (np.array([[1, 0, -1]]), "values"),
    (np.array([1, -1, 1]), "2-D"),
    (np.array([[1.0, np.nan]]), "NaN"),
    (np.array([[2, 1]]), "values"),
    (np.zeros((0, 3)), "at least one"),
    (np.array([["a", "b"]]), "numeric"),
])
def test_from_samples_rejects_bad_input(bad, word):
    with pytest.raises(ValueError, match=word):
        teachers.Data.from_samples(bad)


def test_data_and_teacher_validation():
    with pytest.raises(ValueError, match="2\\^N"):
        teachers.Data.from_distribution(np.ones(6) / 6)
    with pytest.raises(ValueError, match="sums to"):
        teachers.Data.from_distribution(np.ones(8))
    with pytest.raises(ValueError, match="Data"):
        teachers.as_data(np.ones((3, 2)))
    with pytest.raises(ValueError, match="seed"):
        teachers.sk(5, 0.3, seed=None)
    with pytest.raises(ValueError, match="L="):
        teachers.ferromagnet(1, 0.3)
    with pytest.raises(ValueError, match="beta"):
        teachers.ferromagnet(3, -0.1)
    with pytest.raises(ValueError, match="M="):
        teachers.sampled_data(BoltzmannMachine.zeros(3), 0, seed=1)
    with pytest.raises(ValueError, match="seed=1.5 must be an integer"):      # was a TypeError
        teachers.sk(3, 1.0, seed=1.5)
    with pytest.raises(ValueError, match="seed=.* must be an integer in \\[0, 2\\^64\\)"):
        teachers.sampled_data(BoltzmannMachine.zeros(3), 10, seed=2**64)   # was accepted
    with pytest.raises(ValueError, match="M=1000000000000 samples would need .*fewer samples"):
        teachers.sample_states(BoltzmannMachine.zeros(3), 10**12, seed=0)  # was a MemoryError


def test_pattern_mixture_moments():
    d = teachers.pattern_mixture(7, 3, 0.6, seed=4)
    xi = 2 * np.random.default_rng(4).integers(0, 2, size=(3, 7)) - 1
    m, C = moments.moments(d.p)
    assert np.allclose(m, 0.6 * xi.mean(0), atol=1e-14)
    C_exp = 0.36 * (xi.T @ xi) / 3
    np.fill_diagonal(C_exp, 1.0)
    assert np.allclose(C, C_exp, atol=1e-14)
