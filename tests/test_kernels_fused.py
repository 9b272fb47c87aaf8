"""Fused (cache-tiled, threaded) single-site operators against the site-by-site route, bit for bit,
whatever the thread count; the continuous-time sum folded into the passes; the uniformisation cut."""
import numba
import numpy as np
import pytest
from conftest import RULES, exact_tol, random_bm, random_distribution
from scipy.stats import poisson

from shortrun.numerics import kernels
from shortrun.numerics.kernels import site_updates as su
from shortrun.numerics.kernels.boltzmann import uniformisation_weights

# (N, low_bits, group): tiny blocks and groups reach every path (transposed low sites, several
# passes of uneven groups, one block per tile) at small N; (12, None, None) is the default layout
LAYOUTS = [(5, 2, 1), (7, 3, 2), (9, 2, 3), (10, 4, 2), (12, None, None)]
CODES = {"heatbath": su.HEATBATH, "metropolis": su.METROPOLIS}


def tables(N, low_bits, group, scale=1.0, seed=0):
    model = random_bm(N, seed=N + seed, scale=scale)
    return su.FieldTables(model.h, model.J, low_bits, group).args()


def both_routes(fn):
    """``fn(passes)`` with the one-thread and the threaded compiled passes, the threaded one with
    1 and 2 numba threads."""
    saved = numba.get_num_threads()
    try:
        out = [fn(su._passes_serial)]
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            out.append(fn(su._passes_threads))
    finally:
        numba.set_num_threads(saved)
    return out


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("N,low_bits,group", LAYOUTS)
@pytest.mark.parametrize("scale", [1.0, 500.0])
def test_random_update_bit_identical_to_site_by_site(N, low_bits, group, rule, scale):
    """R p fused equals (1/N) sum_i T_i p one site per pass, bit for bit, on one thread and on
    two; scale 500 puts every local field beyond the table range (log-space route)."""
    tab = tables(N, low_bits, group, scale)
    p = random_distribution(N, 1)
    ref = np.empty_like(p)
    su.random_update_by_site(p, ref, CODES[rule], tab, N)

    def fused(passes):
        out = np.full_like(p, np.nan)
        passes(p, out, 1.0 / N, True, su._NONE, 0.0, CODES[rule], tab, su._plan(tab[6], tab[7], N, False))
        return out

    for out in both_routes(fused):
        np.testing.assert_array_equal(out, ref)
    out = np.empty_like(p)
    su.random_update(p, out, CODES[rule], tab, N)
    np.testing.assert_array_equal(out, ref)
    assert abs(ref.sum() - 1.0) <= exact_tol(N)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("N,low_bits,group", LAYOUTS)
def test_sequential_sweep_bit_identical_to_site_by_site(N, low_bits, group, rule):
    tab = tables(N, low_bits, group)
    p = random_distribution(N, 2)
    ref = p.copy()
    for i in range(N):
        su.site_update(ref, ref, 0.0, i, CODES[rule], tab)

    def fused(passes):
        q = p.copy()
        passes(q, q, 0.0, False, su._NONE, 0.0, CODES[rule], tab, su._plan(tab[6], tab[7], N, False))
        return q

    for q in both_routes(fused):
        np.testing.assert_array_equal(q, ref)


@pytest.mark.parametrize("rule", RULES)
def test_layout_does_not_change_the_result(rule):
    """Blocks and groups only reorder memory traffic: every layout gives the same R p and sweep
    to round-off (2^N eps), the default one bit-identically to its site-by-site route."""
    N = 10
    model = random_bm(N, seed=5)
    p = random_distribution(N, 3)
    ref = kernels.BMKernel(model, rule, "random").random_update(p)
    ref_seq = kernels.BMKernel(model, rule, "sequential").apply(p)
    for low_bits, group in [(1, 1), (2, 5), (5, 1), (10, 4)]:
        K = kernels.BMKernel(model, rule, "random", low_bits, group=group)
        np.testing.assert_allclose(K.random_update(p), ref, rtol=0, atol=exact_tol(N))
        S = kernels.BMKernel(model, rule, "sequential", low_bits, group=group)
        np.testing.assert_allclose(S.apply(p), ref_seq, rtol=0, atol=exact_tol(N))


@pytest.mark.parametrize("rule", RULES)
def test_continuous_time_fold_equals_the_uniformisation_sum(rule):
    """propagate(p0, t) adds each term w_n R^n p0 in the pass that makes it; the same sum built
    from separate R applications agrees to 2^N eps, on one thread and on two."""
    N, t = 9, 0.7
    model = random_bm(N, seed=8)
    K = kernels.BMKernel(model, rule, "continuous", 3, group=2)
    p0 = random_distribution(N, 4)
    w = uniformisation_weights(N * t)
    ref, p = w[0] * p0, p0
    for wn in w[1:]:
        p = K.random_update(p)
        ref = ref + wn * p
    saved = numba.get_num_threads()
    try:
        runs = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            runs.append(K.propagate(p0, t))
    finally:
        numba.set_num_threads(saved)
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_allclose(runs[0], ref, rtol=0, atol=exact_tol(N))


def test_random_scan_law_thread_count_independent():
    """A random-scan law large enough for the threaded passes is bit-identical on 1 and 2
    threads."""
    N = 15
    assert 1 << N >= su.SERIAL_BELOW
    model = random_bm(N, seed=9)
    saved = numba.get_num_threads()
    try:
        laws = []
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            laws.append([kernels.law(model, "uniform", 1, "heatbath", scan)
                         for scan in ("random", "sequential")])
    finally:
        numba.set_num_threads(saved)
    for a, b in zip(*laws):
        np.testing.assert_array_equal(a, b)


def test_read_only_input_is_accepted():
    N = 6
    model = random_bm(N, seed=1)
    p = random_distribution(N, 1)
    p.setflags(write=False)
    K = kernels.BMKernel(model, "heatbath", "random")
    out = K.random_update(p)
    ref = np.empty_like(out)
    su.random_update_by_site(p, ref, su.HEATBATH, K._tables, N)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.5, 6.0, 20.0, 300.0])
def test_uniformisation_weights_use_the_smallest_cut(lam):
    """The cut n_max is the first n whose Poisson tail P(X > n) is <= 1e-17: the dropped mass
    obeys the bound and one term fewer would not; the weights are the renormalised pmf."""
    w = uniformisation_weights(lam)
    n = len(w) - 1
    assert poisson.sf(n, lam) <= 1e-17
    assert n == 0 or poisson.sf(n - 1, lam) > 1e-17
    assert abs(w.sum() - 1.0) <= 1e-15
    np.testing.assert_allclose(w, poisson.pmf(np.arange(n + 1), lam) / poisson.cdf(n, lam),
                               rtol=1e-12, atol=0)
    assert n <= len(kernels.poisson_weights(lam)) - 1
