"""No silent wrong numbers, no errors that name nothing.

* Memory checks count what a route really allocates: the peak traced by ``tracemalloc`` stays
  within the bytes per state that the route checks, a budget one byte short of that count is
  refused before anything large is allocated, and the sizes that used to pass the check and
  then need several times the budget (the law at N = 29-30, 10^10 chains) are refused with the
  memory they would need.
* Data given in a wrong form is refused for what is wrong with it (one 0/1 sample instead of a
  law or of (M, N) samples, ragged rows, other values, NaN, complex, N beyond the exact routes)
  with the fix in the message.
* The sampler validates its model before any compiled code runs.
"""
from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

from shortrun.numerics import models, sampling, training
from shortrun.numerics.core import states
from shortrun.numerics.data import teachers
from shortrun.numerics.models import boltzmann as bm_module
from shortrun.numerics.sampling import spins
from shortrun.numerics.training import fixed_point, monte_carlo

from conftest import random_bm

#: Fixed allocations of the split-index routes, independent of N: the 2^L x L float spin table
#: of the low bits and the int8 table it is made from (states.split, L = SPLIT_BITS).
SPLIT_TABLES = (1 << states.SPLIT_BITS) * (9 * states.SPLIT_BITS + 24)


def _peak(fn):
    """Peak bytes allocated (numpy arrays included) while ``fn()`` runs."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------
# memory checks
# ---------------------------------------------------------------------------------------------
N_MEM = 19
ROUTES = {  # route -> (bytes per state it checks, what it computes)
    "energies": (bm_module.ENERGIES_BYTES, lambda m: m.energies()),
    "boltzmann": (bm_module.BOLTZMANN_BYTES, lambda m: m.boltzmann()),
    "log_partition": (bm_module.LOG_PARTITION_BYTES, lambda m: m.log_partition()),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_route_allocates_no_more_than_it_checks(route):
    per_state, run = ROUTES[route]
    n = 1 << N_MEM
    peak = _peak(lambda: run(random_bm(N_MEM, seed=3)))
    assert peak <= per_state * n + SPLIT_TABLES, (route, peak / n)
    assert peak >= (per_state - 8) * n, (route, peak / n)      # the count is not loose either


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_budget_short_of_the_count_is_refused_before_allocating(route, monkeypatch):
    per_state, run = ROUTES[route]
    monkeypatch.setattr(states, "MEMORY_BUDGET", per_state * (1 << N_MEM) - 1)
    model = random_bm(N_MEM, seed=3)
    with pytest.raises(ValueError, match="would need .* of memory; use Monte Carlo"):
        assert _peak(lambda: run(model)) < (1 << N_MEM)
    monkeypatch.setattr(states, "MEMORY_BUDGET", per_state * (1 << N_MEM))
    assert np.all(np.isfinite(run(model)))


def test_all_spins_fit_their_count():
    N = 18
    peak = _peak(lambda: states.spins(N))
    assert peak <= (N + 24) * (1 << N)
    assert np.array_equal(states.spins(N)[[0, 5, (1 << N) - 1]],
                          [[-1] * N, [1, -1, 1] + [-1] * (N - 3), [1] * N])


@pytest.mark.parametrize("N, need", [(29, "12 GiB"), (30, "24 GiB")])
def test_the_law_beyond_the_budget_is_refused_with_what_it_needs(N, need):
    model = models.BoltzmannMachine.zeros(N)
    with pytest.raises(ValueError, match=f"equilibrium law of all states at N={N} would need "
                                         f"{need} of memory"):
        assert _peak(model.boltzmann) < 2**20


def test_too_many_chains_are_refused_before_allocating():
    model = random_bm(5, seed=1)
    with pytest.raises(ValueError, match=r"n_chains=10000000000 chains of N=5 spins would need "
                                         r"46\.6 GiB of memory; pass fewer chains"):
        assert _peak(lambda: sampling.sample(model, "uniform", 3, n_chains=10**10)) < 2**20
    with pytest.raises(ValueError, match="recorded at 21 times would need 10.2 GiB.*fewer times"):
        sampling.sample(model, "uniform", 20, n_chains=10**8, times=range(21))
    with pytest.raises(ValueError, match="n_chains=10000000000 chains"):
        sampling.initial_states(model, "uniform", 10**10, 0)


@pytest.fixture
def compiled():
    """Run the compiled sampler once, so that tracing measures arrays, not the compiler."""
    model = random_bm(3, seed=0)
    sampling.sample(model, np.full(8, 1 / 8), 2, n_chains=2, times=[0, 2])
    sampling.sample(model, "uniform", 2.5, scan="continuous", n_chains=2)


def test_the_chains_fit_their_count(monkeypatch, compiled):
    N, n, T = 7, 3000, 4
    model = random_bm(N, seed=2)
    per_run = n * N * (1 + T) + 80 * N * N
    run = lambda: sampling.sample(model, "uniform", 5, n_chains=n, times=[0, 1, 3, 5])  # noqa: E731
    run()                                     # the same call once: a cold numba cache compiles here
    peak = _peak(run)
    assert peak <= per_run + 2**16           # small arrays (times, seeds) on top
    monkeypatch.setattr(states, "MEMORY_BUDGET", per_run - 1)
    with pytest.raises(ValueError, match="n_chains=3000 chains of N=7 spins recorded at 4 times"):
        sampling.sample(model, "uniform", 5, n_chains=n, times=[0, 1, 3, 5])
    given = np.ones((n, N), np.int8)          # chains given as states: the trajectory is checked
    with pytest.raises(ValueError, match="n_chains=3000 chains of N=7 spins recorded at 4 times"):
        sampling.sample(model, given, 5, times=[0, 1, 3, 5])


def test_a_p0_vector_and_histograms_fit_their_count(compiled):
    N = 16
    p0 = np.random.default_rng(0).random(1 << N)
    p0 /= p0.sum()
    model = random_bm(N, seed=4)
    assert _peak(lambda: sampling.initial_states(model, p0, 10, 0)) <= 24 * (1 << N) + 2**12
    s = sampling.sample(model, "uniform", 1, n_chains=50, times=[0, 1])
    per_sample = 64 * s.size + 2**14          # the state indices of the samples and their bits
    assert _peak(lambda: sampling.histogram(s[0])) <= 16 * (1 << N) + per_sample
    assert _peak(lambda: sampling.histogram(s)) <= (16 * 2 + 8) * (1 << N) + per_sample


# ---------------------------------------------------------------------------------------------
# data in a wrong form
# ---------------------------------------------------------------------------------------------
FIX_ONE = re.escape("pass teachers.Data.from_samples(data[None, :])")


@pytest.mark.parametrize("train", [training.train, fixed_point.solve])
def test_one_01_sample_given_as_data_is_named_as_such(train):
    with pytest.raises(ValueError, match="1-D integer array of 4 values in {0, 1}: that is one "
                                         "sample of N=4 spins, not a probability vector.*"
                                         + FIX_ONE):
        train(np.array([0, 1, 1, 0]), 2)
    with pytest.raises(ValueError, match="holds only the values .* sums to 2: it looks like one "
                                         "sample of 4 spins.*" + FIX_ONE):
        train(np.array([0.0, 1.0, 1.0, 0.0]), 2)
    with pytest.raises(ValueError, match=r"has length 3, not 2\^N.*one sample of 3 spins"):
        train(np.array([1.0, -1.0, 1.0]), 2)
    with pytest.raises(ValueError, match=r"2-D array of shape \(3, 2\); if it holds samples.*"
                                         r"Data\.from_samples\(data\)"):
        train(np.ones((3, 2)), 2)
    with pytest.raises(ValueError, match=r"counts of the 2\^N states pass data / data\.sum\(\)"):
        train(np.array([3, 0, 5, 1]), 2)


def test_one_01_sample_given_to_the_monte_carlo_trainer_is_named_as_such():
    """Not 'data sums to 2.0, not 1 ...; normalise it': teachers.check_law's message."""
    with pytest.raises(ValueError, match="one sample of N=4 spins"):
        monte_carlo.train(np.array([0, 1, 1, 0]), 2, n_chains=10, n_steps=2)


@pytest.mark.parametrize("samples, message", [
    (np.array([0, 1, 1, 0]), r"samples must be 2-D \(M, N\): one row per sample; got a 1-D array "
                             r"of length 4; pass samples\[None, :\] for one sample of N=4 spins"),
    ([[1, -1, 1], [1, -1]], r"rows of different lengths \(a ragged list\)"),
    (np.ones((2, 3, 2)), r"got shape \(2, 3, 2\); reshape it to \(M samples, N spins\)"),
    (5, "got a single number"),
    (np.zeros((0, 4)), r"samples is empty \(shape \(0, 4\)\); it needs at least one sample"),
    (np.array([[1, 0, -1], [1, 1, 1]]), r"mix the two bases: the values -1, 0 and \+1 all occur "
                                        r"\(a 0 at row 0, column 1, a -1 at row 0, column 2\)"),
    (np.array([[1, 1], [1, 2]]), r"values other than spins or bits, e\.g\. 2 at row 1, column 1"),
    (np.array([[1.0, 1.0], [0.5, 1.0]]), r"e\.g\. 0\.5 at row 1, column 0"),
    (np.array([[1.0, np.nan]]), r"NaN or inf \(first at row 0, column 1\)"),
    (np.array([[1 + 0j, -1]]), r"samples is complex \(dtype complex128\)"),
    (np.array([["1", "-1"]]), "samples must be numeric; got an array of dtype <U2"),
    (None, "samples must be numeric; got an array of dtype object"),
    (np.ones((2, 25)), r"N=25 spins: the exact routes .* stop at N=24; train on samples with "
                       r"the Monte Carlo trainer shortrun\.numerics\.training\.monte_carlo\.train"),
])
def test_bad_samples_are_refused_for_what_is_wrong(samples, message):
    with pytest.raises(ValueError, match=message):
        teachers.Data.from_samples(samples)


def test_good_samples_in_every_form_give_the_same_data():
    s = np.array([[1, -1, 1], [1, 1, -1], [1, -1, 1], [-1, -1, -1]])
    forms = [s, s.tolist(), (s + 1) // 2, s > 0, s.astype(np.float32), (s + 1.0) / 2]
    laws = [teachers.Data.from_samples(f).p for f in forms]
    assert all(np.array_equal(laws[0], p) for p in laws[1:])
    assert laws[0][[0, 3, 5]].tolist() == [0.25, 0.25, 0.5]   # x = bits (s_i = +1 <=> bit i)


def test_laws_beyond_the_exact_routes_name_the_monte_carlo_trainer():
    with pytest.raises(ValueError, match=r"law over 2\^25 states: the exact routes stop at N=24; "
                                         r"train on samples with the Monte Carlo trainer"):
        teachers.Data.from_distribution(np.broadcast_to(2.0**-25, (1 << 25,)))
    assert teachers.Data.from_distribution([0, 1, 0, 0]).p.tolist() == [0, 1, 0, 0]
    with pytest.raises(ValueError, match=r"p is complex"):
        teachers.Data.from_distribution(np.full(4, 0.25 + 0j))


# ---------------------------------------------------------------------------------------------
# the sampler validates its model before compiled code runs
# ---------------------------------------------------------------------------------------------
def _altered(J):
    """A BoltzmannMachine whose couplings were replaced after construction."""
    m = models.BoltzmannMachine.zeros(3)
    object.__setattr__(m, "J", J)
    return m


@pytest.mark.parametrize("model, message", [
    (_altered(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])), "J is not symmetric"),
    (_altered(np.zeros((2, 2))), r"J must be an N x N matrix with N = len\(h\) = 3"),
    (_altered(np.zeros((5, 5))), r"J must be an N x N matrix with N = len\(h\) = 3"),
    (_altered(np.full((3, 3), np.nan)), "J contains NaN or inf"),
    (object(), "model must be a model with a registered sampler"),
    (np.zeros(3), "model must be a model with a registered sampler"),
])
def test_sample_refuses_a_bad_model_before_numba_runs(model, message, monkeypatch):
    def compiled(*args):
        raise AssertionError("compiled code reached with an invalid model")

    monkeypatch.setattr(spins, "_run", compiled)
    monkeypatch.setattr(spins, "_init_states", compiled)
    with pytest.raises(ValueError, match=message):
        sampling.sample(model, "uniform", 2, n_chains=4)
    with pytest.raises(ValueError, match=message.replace("a model with a registered sampler",
                                                         "a BoltzmannMachine")):
        spins.sample(model, "uniform", 2, n_chains=4)


def test_a_duck_typed_model_is_not_read():
    class Duck:
        h, J = np.zeros(3), np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])

    with pytest.raises(ValueError, match="got Duck"):
        sampling.sample(Duck(), "uniform", 2, n_chains=4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(p0=[[1, -1], [1]]), "p0 is a ragged list"),
    (dict(times=[[0], [1, 2]]), "times must be a sorted 1-D sequence of times; got a ragged"),
    (dict(times=[[0, 1], [1, 2]]), r"times must be a sorted 1-D sequence of times; got shape"),
    (dict(p0=np.ones((3, 2), complex)), "p0 must be a real array of -1 and \\+1 spins"),
])
def test_sample_names_ragged_and_complex_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sampling.sample(random_bm(2, seed=0), **{"p0": "uniform", "k": 2, **kwargs})
