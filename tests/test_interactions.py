"""The interaction spectrum (W1): fast Walsh–Hadamard transform of log p against its definition,
exact round trip, a Boltzmann machine's h and J with nothing above order 2, and the closed form
of an RBM's hidden unit (log(1 + e^x) = x/2 + log 2cosh(x/2) expanded over the spins)."""
import numpy as np
import pytest
from scipy.special import comb

from shortrun.numerics import models
from shortrun.numerics.analysis import interactions as ia
from shortrun.numerics.core import states

from conftest import random_bm, random_distribution


def chi(N):
    """chi[x, S] = prod_{i in S} s_i(x), the characters of all subsets, by brute force."""
    s = states.spins(N).astype(float)
    out = np.ones((1 << N, 1 << N))
    for S in range(1 << N):
        for i in range(N):
            if (S >> i) & 1:
                out[:, S] *= s[:, i]
    return out


def test_transform_matches_the_definition_and_round_trips():
    N = 6
    p = random_distribution(N, seed=1)
    K = ia.spectrum(p)
    np.testing.assert_allclose(K, chi(N).T @ np.log(p) / (1 << N), rtol=0, atol=1e-14)
    np.testing.assert_allclose(ia.log_law(K), np.log(p), rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.exp(ia.log_law(ia.spectrum(p))), p, rtol=1e-13)
    # H^2 = 2^N I on a batch of vectors
    f = np.random.default_rng(0).normal(size=(3, 1 << 7))
    np.testing.assert_allclose(ia.walsh_hadamard(ia.walsh_hadamard(f)), f * 128, atol=1e-12)
    assert ia.order_weights(K).shape == (N + 1,)
    assert abs(ia.order_weights(K).sum() - np.sum(K ** 2)) < 1e-12


def test_a_boltzmann_machine_has_h_and_J_and_nothing_else():
    N = 9
    bm = random_bm(N, seed=3, scale=1.5)
    K = ia.spectrum(bm.boltzmann())
    np.testing.assert_allclose(ia.fields(K), bm.h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ia.pair_matrix(K), bm.J, rtol=0, atol=1e-12)
    high = ia.orders(N) >= 3
    assert np.max(np.abs(K[high])) < 1e-12
    assert abs(K[0] + bm.log_partition()) < 1e-12
    w = ia.order_weights(K)
    assert abs(w[1] - np.sum(bm.h ** 2)) < 1e-12 and abs(w[2] - np.sum(np.triu(bm.J) ** 2)) < 1e-12
    # log-weights give the same interactions (only K_empty moves)
    K2 = ia.spectrum(log_p=-bm.energies())
    np.testing.assert_allclose(K2[1:], K[1:], atol=1e-12)
    # nothing is spurious with respect to itself
    assert np.all(ia.spurious_weights(K, K) < 1e-24) and np.all(ia.error_weights(K, K) < 1e-24)


def krawtchouk_spectrum(N, c, alpha):
    r"""Closed form of :math:`f(x) = \log(1 + e^x)` with :math:`x = c + \alpha\sum_i s_i`:
    with n spins up, x = c + α(2n − N), and a subset S of size r sees
    :math:`\sum_{s:\,n\ \rm up}\chi_S(s) = \sum_j \binom{r}{j}\binom{N-r}{n-j}(-1)^{r-j}`, so
    :math:`K_r = 2^{-N}\sum_n f(c + \alpha(2n-N))\sum_j\binom rj\binom{N-r}{n-j}(-1)^{r-j}`."""
    out = np.zeros(N + 1)
    for r in range(N + 1):
        for n in range(N + 1):
            kraw = sum(comb(r, j, exact=True) * comb(N - r, n - j, exact=True) * (-1) ** (r - j)
                       for j in range(max(0, n - (N - r)), min(r, n) + 1))
            out[r] += np.logaddexp(0.0, c + alpha * (2 * n - N)) * kraw
    return out / 2 ** N


@pytest.mark.parametrize("b,w", [(-1.0, 0.7), (0.5, -1.3), (-2.25, 0.5)])
def test_one_hidden_unit_matches_the_closed_form(b, w):
    """RBM with N_v = 9 equal weights w and one hidden unit: log p(v) = a.v + log(1 + e^x) − log Z
    with x = b + w Σ v_i = (b + N w/2) + (w/2) Σ s_i; every coefficient of order r ≥ 2 equals the
    Krawtchouk sum, and the fields add a_i/2.  For b = −N w/2 (c = 0) log 2cosh(x/2) is even:
    every odd order above 1 vanishes."""
    N = 9
    a = np.linspace(-0.5, 0.5, N)
    m = models.RBM(a, [b], np.full((N, 1), w))
    K = ia.spectrum(log_p=m.log_marginal())
    closed = krawtchouk_spectrum(N, b + N * w / 2, w / 2)
    r = ia.orders(N)
    for order in range(2, N + 1):
        np.testing.assert_allclose(K[r == order], closed[order], rtol=0, atol=1e-13)
    np.testing.assert_allclose(ia.fields(K), a / 2 + closed[1], rtol=0, atol=1e-13)
    # symmetric point: only even orders above 1
    even = ia.spectrum(log_p=models.RBM(np.zeros(N), [-N * w / 2], np.full((N, 1), w)).log_marginal())
    assert np.max(np.abs(even[(r % 2 == 1) & (r >= 3)])) < 1e-13
    assert np.all(ia.order_weights(even)[2::2] > 1e-10)


def test_hidden_units_add_their_interactions():
    """log p(v) is a sum over hidden units, so the spectrum of an RBM is the sum of the spectra of
    its one-unit machines (plus the visible fields, minus the extra normalisations)."""
    m = models.RBM.random(7, 3, seed=2, scale=2.0)
    K = ia.spectrum(log_p=m.log_marginal())
    parts = [ia.spectrum(log_p=models.RBM(m.a if al == 0 else np.zeros(7), [m.b[al]],
                                           m.W[:, [al]]).log_marginal()) for al in range(3)]
    np.testing.assert_allclose(K[1:], sum(parts)[1:], rtol=0, atol=1e-13)
    # an RBM's law has interactions of every order: spurious against a BM reference
    bm = models.BoltzmannMachine(ia.fields(K), ia.pair_matrix(K))
    spur = ia.spurious_weights(K, ia.spectrum(bm.boltzmann()))
    assert spur[:3].sum() == 0 and spur[3] > 1e-6 and spur[4] > 1e-8
    np.testing.assert_allclose(ia.error_weights(K, ia.spectrum(bm.boltzmann()))[3:], spur[3:],
                               rtol=1e-9, atol=1e-20)


def test_absent_pairs_of_a_lattice_teacher_count_as_spurious():
    L = np.zeros((4, 4))
    for i in range(4):
        L[i, (i + 1) % 4] = L[(i + 1) % 4, i] = 0.5            # a ring: pairs (0,2), (1,3) absent
    teacher = ia.spectrum(models.BoltzmannMachine(np.zeros(4), L).boltzmann())
    J = L.copy()
    J[0, 2] = J[2, 0] = 0.1
    K = ia.spectrum(models.BoltzmannMachine(np.zeros(4), J).boltzmann())
    np.testing.assert_allclose(ia.spurious_weights(K, teacher), [0, 0, 0.01, 0, 0], atol=1e-14)


@pytest.mark.parametrize("kw,match", [
    (dict(p=np.array([0.5, 0.5, 0.0, 0.0])), "strictly positive"),
    (dict(p=np.ones(6) / 6), "length 2\\^N"),
    (dict(), "exactly one of p"),
    (dict(p=np.ones(4) / 4, log_p=np.zeros(4)), "exactly one of p"),
    (dict(log_p=np.array([0.0, np.nan])), "log_p contains NaN"),
])
def test_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        ia.spectrum(**kw)


def test_a_law_must_be_one_normalised_vector():
    """An unnormalised p (0.25 on 8 states) is refused with the sum and both fixes, whereas the
    same weights as log_p give the spectrum of the normalised law except K_∅; a (4, 2) array is
    refused for its shape, not its positivity; a law normalised to round-off passes."""
    with pytest.raises(ValueError, match=r"p sums to 2\.0, not 1 \(tolerance 1e-09\).*"
                                         r"p / p\.sum\(\).*log_p=np\.log\(p\)"):
        ia.spectrum(np.full(8, 0.25))
    K = ia.spectrum(log_p=np.log(np.full(8, 0.25)))
    np.testing.assert_array_equal(K[1:], ia.spectrum(np.full(8, 0.125))[1:])
    assert K[0] == np.log(0.25)
    with pytest.raises(ValueError, match=r"p has shape \(4, 2\); it must be one law"):
        ia.spectrum(np.full((4, 2), 0.125))
    p = random_distribution(5, seed=2)
    K, K_off = ia.spectrum(p), ia.spectrum(p * (1 + 1e-12))   # off by 1e-12 <= 1e-9: accepted
    np.testing.assert_allclose(K_off[1:], K[1:], rtol=0, atol=1e-14)  # log(1+δ) is in K_∅ only
    assert abs(K_off[0] - K[0] - np.log1p(1e-12)) < 1e-14


@pytest.mark.parametrize("call, match", [
    (lambda: ia.order_weights([0, np.nan, 1, 1]), "K contains NaN or inf"),
    (lambda: ia.order_weights(np.ones((2, 4))), r"K has shape \(2, 4\); pass one spectrum"),
    (lambda: ia.order_weights(np.ones(6)), "K has 6 entries; it must have length 2\\^N"),
    (lambda: ia.spurious_weights(np.ones(8), np.ones(4)),
     r"K and K_ref must be spectra of the same N spins.*shapes \(8,\) and \(4,\)"),
    (lambda: ia.error_weights(np.ones(8), np.ones(16)),
     r"K and K_ref must be spectra of the same N spins.*shapes \(8,\) and \(16,\)"),
    (lambda: ia.error_weights(np.ones(8), [0, 1, 2, np.inf, 4, 5, 6, 7]), "K_ref contains NaN"),
    (lambda: ia.walsh_hadamard([np.nan] * 4), "f contains NaN"),                 # was NaN
    (lambda: ia.walsh_hadamard("abcd"), "f='abcd' is text"),
    (lambda: ia.orders(2.5), "N=2.5 must be an integer >= 0"),                  # was a TypeError
    (lambda: ia.absent(np.ones(8), rtol=-1), "rtol=-1 must be a finite number >= 0"),  # silent
    (lambda: ia.absent(np.ones(8), rtol=np.nan), "rtol=nan must be a finite number >= 0"),
])
def test_bad_spectra_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
