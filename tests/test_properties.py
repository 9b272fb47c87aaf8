"""Property-based tests of the validators of the public numerics entry points.

One argument of an otherwise valid call is replaced by a value drawn from a wide space (random
shapes and dtypes -- bool, int, float, complex, text, objects --, NaN and inf, numbers out of
range, ragged lists, None, numpy scalars).  Every call must either return a finite result of the
right shape (a law that sums to 1, ±1 states, a finite θ) or raise ``ValueError`` /
``RuntimeError`` whose message names the argument; any other exception, any warning, or a NaN
fails.  A ``RuntimeError`` that reports a numerical outcome (divergence, no convergence) is a
result, not a validation error.  Sizes and magnitudes of *valid* values are kept small, so that
every example runs in milliseconds; the examples are derandomised (reproducible).
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shortrun.numerics import kernels, models, sampling, training
from shortrun.numerics.core import checkpoint
from shortrun.numerics.data import teachers
from shortrun.numerics.sampling import spins
from shortrun.numerics.training import fixed_point, monte_carlo

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
#: A RuntimeError with one of these words reports a numerical outcome of valid input.
NUMERICAL = re.compile(r"diverge|unstable|did not converge|not converge|fixed point|stall")

# ---------------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------------
DTYPES = [np.float64, np.float32, np.int64, np.int8, np.uint8, np.bool_, np.complex128,
          np.dtype("<U3"), np.dtype(object)]
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
#: Numbers of the wide space: moderate, or non-finite, or beyond the int64 range (HUGE).  Large
#: *valid* step counts are left out: a valid k = 10^15 is a legitimate, endless computation.
MODERATE = st.floats(-40, 40) | st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 5e-324])


def _elements(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "O":
        return st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=2), FLOATS)
    if dtype.kind == "U":
        return st.text(max_size=3)
    return hnp.from_dtype(dtype, allow_nan=True, allow_infinity=True) if dtype.kind in "fc" \
        else hnp.from_dtype(dtype)


@st.composite
def any_array(draw, dtypes=DTYPES, max_dims=3, max_side=5):
    """An array of any of ``dtypes``, 0 to ``max_dims`` dimensions, sides 0 to ``max_side``."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))


NUMPY_SCALARS = st.one_of(st.integers(-5, 5).map(np.int64), st.floats(-5, 5).map(np.float32),
                          MODERATE.map(np.float64), st.booleans().map(np.bool_),
                          st.complex_numbers(max_magnitude=5).map(np.complex128))
HUGE = st.sampled_from([2**63, -(2**63) - 1, 10**30, -(10**30), 1e300, -1e300, 2.0**70])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-4, 40), HUGE, MODERATE,
                    st.complex_numbers(max_magnitude=1e3), st.text(max_size=6), NUMPY_SCALARS)
RAGGED = st.lists(st.lists(st.integers(-1, 1), min_size=1, max_size=3), min_size=2, max_size=3)
ANYTHING = st.one_of(SCALARS, any_array(), RAGGED, st.just(object()),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                     st.lists(MODERATE, max_size=4))


def _named(name, message):
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message) is not None


def outcome(call, name, check):
    """Run ``call()``: a result passes ``check``; an error is a ValueError or RuntimeError that
    names ``name`` (or a RuntimeError reporting a numerical outcome).  Warnings are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", kernels.NotBoltzmannWarning)  # a documented notice
        try:
            result = call()
        except ValueError as err:
            assert _named(name, str(err)), f"the message does not name {name!r}: {err}"
            return None
        except RuntimeError as err:
            assert _named(name, str(err)) or NUMERICAL.search(str(err)), \
                f"the message does not name {name!r}: {err}"
            return None
    check(result)
    return result


def _law_ok(p, N):
    p = np.asarray(p)
    assert p.shape == (1 << N,) and p.dtype == np.float64
    assert np.all(np.isfinite(p)) and p.min() >= -1e-15
    assert abs(p.sum() - 1.0) <= 1e-12 * (1 << N)


def _states_ok(s, n=None, N=None):
    assert s.dtype == np.int8 and np.all((s == 1) | (s == -1))
    if N is not None:
        assert s.shape[-1] == N
    if n is not None:
        assert s.shape[-2] == n


def _theta_ok(theta, P):
    theta = np.asarray(theta)
    assert theta.shape == (P,) and np.all(np.isfinite(theta))


def _bm(N, seed):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.normal(0, 0.5, (N, N)), 1)
    return models.BoltzmannMachine(rng.normal(0, 0.3, N), J + J.T)


def _replace_one(draw, valid, special):
    """``valid`` with one argument replaced: by a value from ``special[name]`` (targeted values,
    valid ones included) or from the wide space."""
    name = draw(st.sampled_from(sorted(valid)))
    value = draw(st.one_of(special.get(name, ANYTHING), ANYTHING))
    return name, {**valid, name: value}


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
REAL = [np.float64, np.float32, np.int64, np.int8, np.bool_]


def _model_ok(model):
    m, p = model
    N = m.N
    assert m.h.shape == (N,) and m.J.shape == (N, N)
    assert np.all(np.isfinite(m.h)) and np.array_equal(m.J, m.J.T) and not np.diag(m.J).any()
    _law_ok(p, N)


def _build(h, J):
    m = models.BoltzmannMachine(h, J)
    return m, (m.boltzmann() if m.N <= 5 else np.full(1, 1.0))


@st.composite
def real_array(draw, shapes):
    """A real array (float, int or bool) of one of ``shapes``; floats mostly moderate, sometimes
    NaN, inf or large (up to 1e150: energies that overflow are in MODEL_CASES)."""
    dtype = np.dtype(draw(st.sampled_from(REAL)))
    shape = draw(st.sampled_from(shapes))
    if dtype.kind != "f":
        return draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(dtype)))
    values = st.floats(-3, 3) | st.floats(-1e150, 1e150) | st.sampled_from([np.nan, np.inf])
    with np.errstate(over="ignore"):  # beyond float32: inf, which is fine input
        return draw(hnp.arrays(np.float64, shape, elements=values)).astype(dtype)


def _symmetric(a):
    return np.triu(a, 1) + np.triu(a, 1).T


@SETTINGS
@given(data=st.data())
def test_boltzmann_machine_real_arrays(data):
    """Real arrays of random shapes (square J symmetric or not) with NaN/inf/huge entries."""
    N = data.draw(st.integers(1, 4))
    h = data.draw(st.one_of(real_array([(N,), (N + 1,), (1, N), ()]),
                            hnp.arrays(np.float64, (N,), elements=st.floats(-3, 3))))
    J = data.draw(st.one_of(real_array([(N, N), (N, N + 1), (N,), (N, N, 1)]),
                            hnp.arrays(np.float64, (N, N), elements=st.floats(-3, 3)).map(
                                _symmetric)))
    _model_outcome(h, J)


def _model_outcome(h, J):
    """A model with a finite law, or a ValueError naming h or J."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            result = _build(h, J)
        except ValueError as err:
            assert _named("h", str(err)) or _named("J", str(err)), str(err)
            return
    _model_ok(result)


#: Inputs the model does not refuse properly yet: complex and text parameters (a ComplexWarning
#: and the imaginary part dropped; numpy's "could not convert string to float"), no spins or
#: ragged J (numpy's messages, naming neither h nor J), and finite parameters whose energies
#: overflow (an overflow warning, then a NaN law).
MODEL_CASES = [
    pytest.param(np.array([1 + 1j, 0]), np.zeros((2, 2)), id="complex-h"),
    pytest.param(np.zeros(2), np.array([[0, 1j], [1j, 0]]), id="complex-J"),
    pytest.param(np.array(["a", "b"]), np.zeros((2, 2)), id="text-h"),
    pytest.param(np.zeros(0), np.zeros((0, 0)), id="no-spins"),
    pytest.param(np.zeros(2), [[0.0, 1.0], [1.0]], id="ragged-J"),
    pytest.param(np.full(3, 1e308), np.zeros((3, 3)), id="overflowing-energies"),
]


@pytest.mark.parametrize("h, J", MODEL_CASES)
def test_boltzmann_machine_refuses_what_it_cannot_hold(h, J):
    _model_outcome(h, J)


# ---------------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------------
STEPS = st.one_of(st.integers(-3, 12), st.floats(-2, 12), HUGE)
CHOICES = {"rule": st.sampled_from(["heatbath", "metropolis", "heat-bath", "gibbs", ""]),
           "scan": st.sampled_from(["random", "sequential", "parallel", "continuous", "Random"])}


@st.composite
def p0_values(draw, N):
    n = 1 << N
    return draw(st.one_of(
        st.just("uniform"),
        hnp.arrays(np.float64, (n,), elements=st.floats(0, 1)).map(
            lambda a: a / a.sum() if a.sum() > 0 else a),
        any_array(dtypes=[np.float64, np.complex128, np.int64], max_dims=2, max_side=n + 1),
        st.sampled_from(["normal", "Uniform"])))


@SETTINGS
@given(data=st.data())
def test_law(data):
    N = data.draw(st.integers(1, 4))
    model = _bm(N, data.draw(st.integers(0, 5)))
    valid = dict(p0="uniform", k=2, rule="heatbath", scan="random")
    name, args = _replace_one(data.draw, valid, dict(CHOICES, k=STEPS, p0=p0_values(N)))
    outcome(lambda: kernels.law(model, **args), name, lambda p: _law_ok(p, N))


@SETTINGS
@given(data=st.data())
def test_law_and_kernel_refuse_what_is_not_a_model(data):
    thing = data.draw(ANYTHING)
    outcome(lambda: kernels.law(thing, "uniform", 2), "model", lambda p: None)
    outcome(lambda: kernels.BMKernel(thing), "model", lambda p: None)


@SETTINGS
@given(data=st.data())
def test_bm_kernel(data):
    N = data.draw(st.integers(1, 4))
    model = _bm(N, 1)
    name, args = _replace_one(data.draw, dict(rule="heatbath", scan="random"), CHOICES)

    def run():
        with warnings.catch_warnings():  # the parallel heat-bath law is not Boltzmann: a notice
            warnings.simplefilter("ignore", kernels.NotBoltzmannWarning)
            kern = kernels.BMKernel(model, **args)
        return kern.propagate("uniform", 3) if kern.scan != "continuous" else \
            kern.propagate("uniform", 1.5)

    outcome(run, name, lambda p: _law_ok(p, N))


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------
@st.composite
def states_or_law(draw, N):
    return draw(st.one_of(
        p0_values(N),
        hnp.arrays(st.sampled_from([np.int8, np.int64, np.float64, np.bool_, np.complex128]),
                   st.tuples(st.integers(0, 4), st.sampled_from([N, N + 1])),
                   elements=st.sampled_from([1, -1, 0, 2]))))


@SETTINGS
@given(data=st.data())
def test_sample(data):
    N = data.draw(st.integers(1, 4))
    model = _bm(N, 2)
    valid = dict(p0="uniform", k=2, rule="heatbath", scan="random", n_chains=7, seed=0,
                 times=None)
    special = dict(CHOICES, k=STEPS, p0=states_or_law(N),
                   n_chains=st.one_of(st.integers(-2, 30), st.sampled_from([10**10, 10**30])),
                   seed=st.one_of(st.integers(-3, 3), st.sampled_from([2**64 - 1, 2**64])),
                   times=st.one_of(st.lists(st.integers(-1, 3), max_size=3),
                                   st.lists(FLOATS, max_size=2)))
    name, args = _replace_one(data.draw, valid, special)

    def ok(s):  # (n_chains, N) states, or (len(times), n_chains, N)
        given = not isinstance(args["p0"], str) and np.ndim(args["p0"]) == 2
        n = len(args["p0"]) if given else args["n_chains"]
        _states_ok(s, n=n, N=N)
        times = args["times"]
        assert s.shape[:-2] == (() if times is None else (np.size(times),))

    outcome(lambda: sampling.sample(model, **args), name, ok)


@pytest.fixture
def no_compiled_code(monkeypatch):
    def compiled(*args):
        raise AssertionError("compiled code reached with an invalid model")

    monkeypatch.setattr(spins, "_run", compiled)
    monkeypatch.setattr(spins, "_init_states", compiled)


@SETTINGS
@given(data=st.data())
def test_sample_validates_its_model_before_compiled_code(data, no_compiled_code):
    """Couplings replaced after construction (asymmetric, of the wrong shape, NaN, complex,
    text), and objects that are not models (some with .h and .J), are refused before any
    compiled code runs."""
    N = data.draw(st.integers(1, 4))
    J = data.draw(st.one_of(
        hnp.arrays(np.float64, (N, N), elements=st.floats(-2, 2)).filter(  # beyond round-off
            lambda a: np.max(np.abs(a - a.T)) > 1e-9 or np.diag(a).any()),
        any_array(dtypes=[np.float64, np.complex128, np.dtype(object), np.dtype("<U3")],
                  max_side=N + 2).filter(lambda a: a.shape != (N, N) or a.dtype != np.float64)))
    model = models.BoltzmannMachine.zeros(N)
    object.__setattr__(model, "J", J)
    with pytest.raises(ValueError, match=r"(?<!\w)J(?!\w)"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sampling.sample(model, "uniform", 2, n_chains=3)

    class Duck:
        h, J = np.zeros(N), np.zeros((N, N))

    thing = data.draw(st.one_of(ANYTHING, st.just(Duck())))
    with pytest.raises(ValueError, match=r"(?<!\w)model(?!\w)"):
        sampling.sample(thing, "uniform", 2, n_chains=3)


# ---------------------------------------------------------------------------------------------
# data and checkpoints
# ---------------------------------------------------------------------------------------------
@st.composite
def spin_like(draw, values=(-1, 1, 1, 0, -1, 2, 0.5, np.nan), max_dims=3, max_side=5):
    """Arrays of random shape and real dtype holding mostly spins or bits, sometimes other
    values (cast by numpy: in an integer dtype NaN and 0.5 are left out, in bool -1 is True)."""
    dtype = np.dtype(draw(st.sampled_from([np.int8, np.int64, np.float64, np.float32, np.bool_])))
    if dtype.kind != "f":
        values = [v for v in values if float(v).is_integer()]
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=0, max_side=max_side))
    return draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(values))).astype(dtype)


SAMPLES = st.one_of(any_array(max_side=4), spin_like(), RAGGED, SCALARS)


@SETTINGS
@given(samples=SAMPLES)
def test_data_from_samples(samples):
    def ok(d):
        M, N = np.shape(samples)
        _law_ok(d.p, N)
        assert d.M == M and np.all(np.abs(d.stats) <= 1)

    outcome(lambda: teachers.Data.from_samples(samples), "samples", ok)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "state.ckpt"
    checkpoint.save(path, {"step": 4, "theta": np.linspace(-1, 1, 6), "rows": [(1, 0.5)]}, "fp")
    return path, path.read_bytes()


@SETTINGS
@given(data=st.data())
def test_checkpoint_load_of_corrupted_files(data, saved, tmp_path_factory):
    """Any flipped bits, truncation, appended or random bytes: refused naming the file."""
    path, good = saved
    raw = bytearray(good)
    how = data.draw(st.sampled_from(["flip", "truncate", "append", "random"]))
    if how == "flip":
        for at in data.draw(st.lists(st.integers(0, len(raw) * 8 - 1), min_size=1, max_size=3,
                                     unique=True)):
            raw[at // 8] ^= 1 << (at % 8)
    elif how == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif how == "append":
        raw += data.draw(st.binary(min_size=1, max_size=8))
    else:
        raw = bytearray(data.draw(st.binary(max_size=200)))
    bad = tmp_path_factory.mktemp("bad") / "bad.ckpt"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=re.escape(f"checkpoint={str(bad)!r}") + ".*"
                       + "delete the file or pass another checkpoint path"):
        checkpoint.load(bad, "fp")
    assert checkpoint.load(path, "fp")["step"] == 4


# ---------------------------------------------------------------------------------------------
# trainers and the solver
# ---------------------------------------------------------------------------------------------
SAMPLES3 = np.array([[1, -1, 1], [1, 1, -1], [-1, -1, 1], [1, 1, 1]] * 6, dtype=np.int8)
P3 = 6
PROTOCOLS = st.sampled_from(["rdm", "cd", "pcd", "eq", "RDM", "cd-1", ""])
COUNT = st.one_of(st.integers(-2, 6), st.floats(-1, 6), HUGE)
RATE = st.one_of(st.floats(-1, 2), FLOATS, st.just(0.0))
THETA = st.one_of(hnp.arrays(np.float64, st.sampled_from([(P3,), (P3 - 1,), (P3, 1)]),
                             elements=st.floats(-2, 2) | FLOATS),
                  any_array(max_side=7))
MASK = st.one_of(hnp.arrays(np.bool_, st.sampled_from([(P3,), (P3 + 1,)])),
                 st.sampled_from(["fields", "couplings", "all", "none", "h"]))
MODEL = st.sampled_from([None, models.BoltzmannMachine.zeros(3), models.BoltzmannMachine.zeros(2),
                         "bm"])
SHARED = dict(CHOICES, k=STEPS, protocol=PROTOCOLS, lr=RATE, momentum=RATE, n_steps=COUNT,
              tol=RATE, theta0=THETA, mask=MASK, theta_max=RATE, model=MODEL)
COMMON = dict(k=2, protocol="rdm", rule="heatbath", scan="random", model=None, theta0=None,
              mask=None, theta_max=50.0)

#: entry point -> (call with the other arguments, valid arguments, targeted values, arguments
#: none left out: every argument is validated)
TRAINERS = {
    "training.train": (
        lambda args: training.train(teachers.sk(3, 0.6, seed=2, field=0.3).data(), **args),
        dict(COMMON, lr=0.2, momentum=0.3, n_steps=4, tol=0.0, record_every=1, window=200),
        dict(SHARED, record_every=COUNT, window=COUNT),
        ()),
    "fixed_point.solve": (
        lambda args: fixed_point.solve(teachers.sk(3, 0.6, seed=2, field=0.3).data(), **args),
        dict(COMMON, tol=1e-10, max_iter=8, max_step=2.0, restarts=0, seed=0, scale=0.5,
             check=True),
        dict(SHARED, max_iter=COUNT, max_step=RATE, restarts=COUNT, seed=st.integers(-2, 3),
             scale=RATE, check=st.sampled_from([True, False, 1])),
        ()),
    "monte_carlo.train": (
        lambda args: monte_carlo.train(SAMPLES3, **args),
        dict(COMMON, n_chains=20, lr=0.2, momentum=0.3, n_steps=3, tol=0.0, batch_size=None,
             seed=0),
        dict(SHARED, n_chains=st.one_of(st.integers(-2, 40), st.sampled_from([10**10, 10**30])),
             batch_size=st.one_of(st.none(), st.integers(-1, 30)), seed=st.integers(-2, 3)),
        ()),
}


def _trainer_call(entry, name, value):
    call, valid, _, _ = TRAINERS[entry]
    return lambda: call({**valid, name: value, "progress": False})


def _trainer_case(draw, entry, names):
    special = TRAINERS[entry][2]
    name = draw(st.sampled_from(sorted(names)))
    value = draw(st.one_of(special.get(name, ANYTHING), ANYTHING))
    if isinstance(value, str) and value == "bm" and name == "model":
        value = models.BoltzmannMachine.zeros(3)
    return name, _trainer_call(entry, name, value)


@pytest.mark.parametrize("entry", sorted(TRAINERS))
@SETTINGS
@given(data=st.data())
def test_trainer_and_solver_arguments(entry, data):
    _, valid, _, pending = TRAINERS[entry]
    name, call = _trainer_case(data.draw, entry, set(valid) - set(pending))
    outcome(call, name, lambda r: _theta_ok(r.theta, P3))


RAGGED_LIST = [[1], [1, 1, 0], [0, 0, 0]]
#: (entry point, argument, value, what went wrong before these were validated): each is now
#: refused with a ValueError naming the argument.  (training.train(n_steps=2**63) is accepted:
#: it stops at tol or runs, like any long run, with progress and checkpoints.)
TRAINING_CASES = [
    ("training.train", "mask", RAGGED_LIST, "numpy's 'inhomogeneous shape' message"),
    ("training.train", "theta0", RAGGED_LIST, "numpy's 'inhomogeneous shape' message"),
    ("training.train", "lr", 10**30, "TypeError from np.isfinite"),
    ("training.train", "tol", 10**30, "TypeError from np.isnan"),
    ("training.train", "theta_max", 10**30, "TypeError from np.isfinite"),
    ("fixed_point.solve", "mask", RAGGED_LIST, "numpy's 'inhomogeneous shape' message"),
    ("fixed_point.solve", "theta0", RAGGED_LIST, "numpy's 'inhomogeneous shape' message"),
    ("fixed_point.solve", "restarts", 2**63, "OverflowError"),
    ("fixed_point.solve", "seed", -1, "numpy's 'expected non-negative integer'"),
    ("fixed_point.solve", "seed", 0.5, "TypeError from SeedSequence"),
    ("fixed_point.solve", "seed", "0", "TypeError from SeedSequence"),
    ("fixed_point.solve", "seed", np.array(0), "TypeError: len() of unsized object"),
    ("monte_carlo.train", "mask", RAGGED_LIST, "numpy's 'inhomogeneous shape' message"),
    ("monte_carlo.train", "theta0", RAGGED_LIST, "numpy's 'inhomogeneous shape' message"),
    ("monte_carlo.train", "n_steps", 2**63, "numpy's 'Maximum allowed dimension exceeded'"),
    ("monte_carlo.train", "batch_size", 0, "the message names n_chains"),
    ("monte_carlo.train", "batch_size", 2.5, "the message names n_chains"),
    ("monte_carlo.train", "lr", 10**30, "TypeError from np.isfinite"),
    ("monte_carlo.train", "tol", 10**30, "TypeError from np.isnan"),
    ("monte_carlo.train", "theta_max", 10**30, "TypeError from np.isfinite"),
    ("monte_carlo.train", "data", [[1, -1, 1], [1, -1]], "numpy's 'inhomogeneous shape' message"),
    ("monte_carlo.train", "data", np.array([1.0]), "'a distribution vector must have length 2^N'"),
    ("monte_carlo.train", "data", np.zeros((4, 0)), "numpy's 'zero-size array to reduction'"),
]


@pytest.mark.parametrize("entry, name, value, today", TRAINING_CASES,
                         ids=[f"{e}-{n}-{i}" for i, (e, n, _, _) in enumerate(TRAINING_CASES)])
def test_training_arguments_named(entry, name, value, today):
    if name == "data":
        def call():
            return monte_carlo.train(value, 1, n_chains=10, n_steps=2, progress=False)
    else:
        call = _trainer_call(entry, name, value)
    if name in ("lr", "tol", "theta_max"):  # a huge but valid number: a result or a named error
        outcome(call, name, lambda r: _theta_ok(r.theta, r.theta.shape[0]))
    else:
        outcome(call, name, lambda r: pytest.fail(f"{entry}({name}={value!r}) was accepted"))


@pytest.mark.parametrize("train", [training.train, fixed_point.solve])
@SETTINGS
@given(data=SAMPLES | st.one_of(any_array(dtypes=[np.float64, np.int64, np.complex128],
                                          max_dims=1, max_side=9)))
def test_exact_trainers_data(train, data):
    outcome(lambda: train(data, 1, n_steps=2) if train is training.train
            else train(data, 1, max_iter=2, check=False), "data",
            lambda r: _theta_ok(r.theta, r.theta.shape[0]))
