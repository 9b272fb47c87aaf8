"""Property tests of every public function of shortrun.theory: for any input, a finite result of the
documented shape, or a ValueError whose message names the argument that was changed.

Each example starts from a valid call and replaces one argument by a random value: anything at all
(None, text, booleans, complex numbers, huge integers, NaN/inf, arrays of any dtype and shape,
ragged lists) or a value near the valid range (extreme magnitudes, negative numbers, matrices with
eigenvalues of either sign, large step counts).  Never another exception type, never a warning,
never NaN; inf only where a function documents it as a flag (the divergent field of
``independent.field_fixed_point``; KL(data || model) when the model's covariance is singular).
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shortrun.theory import gaussian as g
from shortrun.theory import high_temperature as ht
from shortrun.theory import independent as ind

#: 50 fixed examples per function by default; SHORTRUN_PROPERTY_EXAMPLES=2000 explores further (random)
EXAMPLES = int(os.environ.get("SHORTRUN_PROPERTY_EXAMPLES", "50"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 50,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex128]

ANYTHING = st.one_of(
    st.none(), st.booleans(), st.text(max_size=4), st.integers(-10 ** 30, 10 ** 30), st.just(10 ** 400),
    st.floats(), st.complex_numbers(allow_nan=True, allow_infinity=True),
    hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
    st.lists(st.one_of(st.floats(), st.lists(st.floats(), max_size=2)), max_size=3),
)
EXTREME = st.sampled_from([0.0, -0.0, 5e-324, 1e-300, 1e300, 1.7e308, -1e300])
POS = st.one_of(st.floats(-2.0, 100.0), st.floats(1e-300, 1e300), EXTREME)
STEPS = st.one_of(st.integers(-3, 300), st.integers(0, 2 ** 63 + 5), st.floats(-1.0, 50.0))
TIME = st.one_of(st.floats(-1.0, 1e3), st.floats(1e-300, 1e300), EXTREME)
N_SPINS = st.one_of(st.integers(-2, 60), st.integers(0, 2 ** 60), st.just(np.inf))


def _vectors(lo=-1e3, hi=1e3):
    return hnp.arrays(np.float64, st.sampled_from([(), (1,), (2,), (3,), (2, 2)]), elements=st.floats(lo, hi))


VEC = st.one_of(_vectors(), _vectors(-1e300, 1e300), _vectors(-1.0, 1.0))


@st.composite
def _symmetric(draw, lo=-50.0, hi=60.0, d=2, zero_diagonal=False):
    """R diag(eigenvalues) R^T, or (zero_diagonal) a symmetric matrix with entries in [lo, hi]."""
    if zero_diagonal:
        X = draw(hnp.arrays(np.float64, (d, d), elements=st.floats(lo, hi)))
        X = np.triu(X, 1)
        return X + X.T
    eig = np.array(draw(st.lists(st.floats(lo, hi), min_size=d, max_size=d)))
    angle = draw(st.floats(0.0, np.pi))
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (R * eig) @ R.T


SYM = st.one_of(_symmetric(), _symmetric(1e-3, 45.0), _symmetric(-1e200, 1e200),
                hnp.arrays(np.float64, st.sampled_from([(2, 2), (3, 3), (2, 3)]), elements=st.floats(-10, 10)))
COUPLINGS = st.one_of(_symmetric(-1.0, 1.0, d=3, zero_diagonal=True),
                      _symmetric(-1e200, 1e200, d=3, zero_diagonal=True), SYM)
TIMES = st.lists(st.one_of(st.integers(0, 200), st.just(np.inf), st.floats(-1.0, 30.0)), min_size=1, max_size=4)


def _choice(valid):
    return st.one_of(st.sampled_from(valid), st.sampled_from(["heat-bath", "Random", "mirror ", "", "x"]))


@dataclass
class Spec:
    fn: object
    base: dict
    kinds: dict          # argument -> strategy of values near its valid range
    shapes: object       # kwargs -> expected shape(s) of the result (None: a float)
    inf_ok: tuple = field(default_factory=tuple)  # result fields that may hold a documented inf


def _d(kw, key="A"):
    return np.atleast_2d(np.asarray(kw[key])).shape[0]


A0 = np.array([[1.0, 0.3], [0.3, 2.0]])
C0 = np.array([[0.6, 0.1], [0.1, 1.5]])
J0 = np.array([[0.0, 0.1, -0.05], [0.1, 0.0, 0.08], [-0.05, 0.08, 0.0]])
H0 = np.array([0.05, -0.1, 0.02])
MODEL = dict(A=A0, h=[0.5, -1.0], mu0=0.2, Sigma0=1 / 3)
MODEL_KINDS = dict(A=SYM, h=VEC, mu0=VEC, Sigma0=st.one_of(POS, SYM))
GAUSS = dict(eta=POS, sigma2=POS, s02=POS)

CASES = {
    "g.ula_moments": Spec(g.ula_moments, dict(MODEL, k=7, eta=0.05, sigma2=0.1),
                          dict(MODEL_KINDS, k=STEPS, eta=POS, sigma2=POS),
                          lambda kw: [(_d(kw),), (_d(kw), _d(kw))]),
    "g.langevin_moments": Spec(g.langevin_moments, dict(MODEL, t=1.3), dict(MODEL_KINDS, t=TIME),
                               lambda kw: [(_d(kw),), (_d(kw), _d(kw))]),
    "g.ula_stationary_cov": Spec(g.ula_stationary_cov, dict(A=A0, eta=0.05, sigma2=0.1),
                                 dict(A=SYM, eta=POS, sigma2=POS), lambda kw: (_d(kw), _d(kw))),
    "g.ula_mode_variance": Spec(g.ula_mode_variance, dict(a=[0.5, 3.0], k=7, eta=0.05, s02=0.3, sigma2=0.1),
                                dict(GAUSS, a=VEC, k=st.one_of(STEPS, VEC, st.just(np.inf))),
                                lambda kw: np.broadcast_shapes(np.shape(kw["a"]), np.shape(kw["k"]))),
    "g.langevin_mode_variance": Spec(g.langevin_mode_variance, dict(a=[-0.5, 3.0], t=0.8, s02=0.3),
                                     dict(a=VEC, t=TIME, s02=POS), lambda kw: np.shape(kw["a"])),
    "g.concave_threshold": Spec(g.concave_threshold, dict(k=7, s02=0.3, eta=0.05),
                                dict(k=STEPS, s02=POS, eta=POS, sigma2=POS), lambda kw: None),
    "g.fixed_point_mode": Spec(g.fixed_point_mode, dict(lam=[0.5, 2.0], k=7, eta=0.05, s02=1 / 3, sigma2=0.1),
                               dict(GAUSS, lam=VEC, k=STEPS, root=_choice(["physical", "mirror"])),
                               lambda kw: np.shape(kw["lam"])),
    "g.fixed_point_mode_continuous": Spec(g.fixed_point_mode_continuous, dict(lam=[0.3, 4.0], t=0.9, s02=0.2),
                                          dict(lam=VEC, t=TIME, s02=POS), lambda kw: np.shape(kw["lam"])),
    "g.lambertw_mode": Spec(g.lambertw_mode, dict(lam=[0.3, 4.0], t=0.9), dict(lam=VEC, t=TIME),
                            lambda kw: np.shape(kw["lam"])),
    "g.train_fixed_point": Spec(g.train_fixed_point, dict(C_D=C0, mu_D=[0.5, -1.0], k=7, eta=0.05, s02=1 / 3,
                                                          sigma2=0.1, mu0=0.1),
                                dict(GAUSS, C_D=SYM, mu_D=VEC, k=STEPS, mu0=VEC, root=_choice(["physical", "mirror"])),
                                lambda kw: [(_d(kw, "C_D"), _d(kw, "C_D")), (_d(kw, "C_D"),)]),
    "g.equilibrium_mode": Spec(g.equilibrium_mode, dict(lam=[0.5, 2.0], eta=0.05, sigma2=0.1),
                               dict(lam=VEC, eta=POS, sigma2=POS), lambda kw: np.shape(kw["lam"])),
    "g.train_equilibrium": Spec(g.train_equilibrium, dict(C_D=C0, mu_D=[0.5, -1.0], eta=0.05, sigma2=0.1),
                                dict(C_D=SYM, mu_D=VEC, eta=POS, sigma2=POS),
                                lambda kw: [(_d(kw, "C_D"), _d(kw, "C_D")), (_d(kw, "C_D"),)]),
    "g.memory_curve": Spec(g.memory_curve, dict(C_D=C0, mu_D=[0.5, -1.0], k=7, times=[0, 3, 7, 20], eta=0.05,
                                                s02=1 / 3, sigma2=0.1),
                           dict(GAUSS, C_D=SYM, mu_D=VEC, k=STEPS, times=st.one_of(TIMES, STEPS), mu0=VEC,
                                root=_choice(["physical", "mirror"])),
                           lambda kw: None, inf_ok=("kl_data_to_model",)),
    "g.kl_gauss": Spec(g.kl_gauss, dict(mu_p=[0.0, 1.0], Sigma_p=C0, mu_q=0.5, Sigma_q=A0),
                       dict(mu_p=VEC, Sigma_p=SYM, mu_q=VEC, Sigma_q=SYM), lambda kw: None),
    "ind.site_contraction": Spec(ind.site_contraction, dict(h=[0.3, -1.0], rule="metropolis"),
                                 dict(h=VEC, rule=_choice(ind.RULES)), lambda kw: np.shape(kw["h"])),
    "ind.relaxation_factor": Spec(ind.relaxation_factor, dict(h=[0.3, -1.0], k=3, rule="metropolis", scan="random",
                                                              N=5),
                                  dict(h=VEC, k=st.one_of(STEPS, TIME), rule=_choice(ind.RULES),
                                       scan=_choice(ind.SCANS), N=N_SPINS), lambda kw: np.shape(kw["h"])),
    "ind.magnetisation": Spec(ind.magnetisation, dict(h=[0.3, -1.0], k=3, rule="heatbath", scan="random", N=5,
                                                      m0=0.2),
                              dict(h=VEC, k=st.one_of(STEPS, TIME), rule=_choice(ind.RULES), scan=_choice(ind.SCANS),
                                   N=N_SPINS, m0=VEC),
                              lambda kw: np.broadcast_shapes(np.shape(kw["h"]), np.shape(kw["m0"])) or None),
    "ind.divergence_threshold": Spec(ind.divergence_threshold, dict(k=3, rule="heatbath", scan="random", N=5),
                                     dict(k=st.one_of(STEPS, TIME), rule=_choice(ind.RULES), scan=_choice(ind.SCANS),
                                          N=N_SPINS), lambda kw: None),
    "ind.field_fixed_point": Spec(ind.field_fixed_point, dict(m_D=[0.3, -0.5], k=3, rule="metropolis",
                                                              scan="random", N=5),
                                  dict(m_D=VEC, k=st.one_of(STEPS, TIME), rule=_choice(ind.RULES),
                                       scan=_choice(ind.SCANS), N=N_SPINS, m0=VEC),
                                  lambda kw: np.broadcast_shapes(np.shape(kw["m_D"]), np.shape(kw.get("m0", 0.0)))
                                  or None, inf_ok=("",)),
    "ht.factor_values": Spec(ht.factor_values, dict(scan="random", k=3, N=5),
                             dict(scan=_choice(ht.SCANS), k=st.one_of(STEPS, TIME), N=N_SPINS), lambda kw: "dict"),
    "ht.f1": Spec(ht.f1, dict(t=[0.0, 0.5, 2.0]), dict(t=st.one_of(VEC, TIME)), lambda kw: np.shape(kw["t"])),
    "ht.f2": Spec(ht.f2, dict(t=[0.0, 0.5, 2.0]), dict(t=st.one_of(VEC, TIME)), lambda kw: np.shape(kw["t"])),
    "ht.glauber_moments": Spec(ht.glauber_moments, dict(h=H0, J=J0, t=1.0), dict(h=VEC, J=COUPLINGS, t=TIME),
                               lambda kw: [(_d(kw, "J"),), (_d(kw, "J"), _d(kw, "J"))]),
    "ht.random_scan_factors": Spec(ht.random_scan_factors, dict(k=3, N=5), dict(k=STEPS, N=N_SPINS),
                                   lambda kw: [(), ()]),
    "ht.random_scan_moments": Spec(ht.random_scan_moments, dict(h=H0, J=J0, k=3, N=9),
                                   dict(h=VEC, J=COUPLINGS, k=STEPS, N=N_SPINS),
                                   lambda kw: [(_d(kw, "J"),), (_d(kw, "J"), _d(kw, "J"))]),
    "ht.sequential_moments": Spec(ht.sequential_moments, dict(h=H0, J=J0, k=3), dict(h=VEC, J=COUPLINGS, k=STEPS),
                                  lambda kw: [(_d(kw, "J"),), (_d(kw, "J"), _d(kw, "J"))]),
    "ht.parallel_moments": Spec(ht.parallel_moments, dict(h=H0, J=J0, k=3), dict(h=VEC, J=COUPLINGS, k=STEPS),
                                lambda kw: [(_d(kw, "J"),), (_d(kw, "J"), _d(kw, "J"))]),
    "ht.closure_moments": Spec(ht.closure_moments, dict(h=H0, J=J0, k=3, scan="random"),
                               dict(h=VEC, J=COUPLINGS, k=STEPS, scan=_choice(("sequential", "random", "parallel"))),
                               lambda kw: [(_d(kw, "J"),), (_d(kw, "J"), _d(kw, "J"))]),
    "ht.equilibrium_moments": Spec(ht.equilibrium_moments, dict(h=H0, J=J0), dict(h=VEC, J=COUPLINGS),
                                   lambda kw: [(_d(kw, "J"),), (_d(kw, "J"), _d(kw, "J"))]),
    "ht.fixed_point": Spec(ht.fixed_point, dict(m_D=H0, C_D=np.eye(3) + J0, k=2, scan="random", N=7),
                           dict(m_D=VEC, C_D=COUPLINGS, k=st.one_of(STEPS, TIME), scan=_choice(ht.SCANS), N=N_SPINS),
                           lambda kw: [(_d(kw, "C_D"),), (_d(kw, "C_D"), _d(kw, "C_D"))]),
    "ht.teacher_fixed_point": Spec(ht.teacher_fixed_point, dict(h0=H0, J0=J0, beta=0.3, k=2, scan="random"),
                                   dict(h0=VEC, J0=COUPLINGS, beta=POS, k=st.one_of(STEPS, TIME),
                                        scan=_choice(ht.SCANS), N=N_SPINS),
                                   lambda kw: [(_d(kw, "J0"),), (_d(kw, "J0"), _d(kw, "J0"))]),
    "ht.coupling_error": Spec(ht.coupling_error, dict(J0=J0, beta=0.3, k=1.0, order=2),
                              dict(J0=COUPLINGS, beta=POS, k=TIME, order=st.sampled_from([0, 1, 2, 3, 2.0])),
                              lambda kw: None),
    "ht.memory_ratio": Spec(ht.memory_ratio, dict(t=[0.2, 1.0, 3.0], k=1.0), dict(t=st.one_of(VEC, TIME), k=TIME),
                            lambda kw: np.shape(kw["t"])),
}


def _names(message, arg):
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(arg)}(?![A-Za-z0-9_])", message) is not None


def _check_finite(x, where, inf_ok):
    x = np.asarray(x, dtype=float)
    assert not np.any(np.isnan(x)), f"NaN in {where}"
    if not inf_ok:
        assert np.all(np.isfinite(x)), f"inf in {where}"


def _check_result(spec, kw, out):
    expected = spec.shapes(kw)
    if isinstance(out, g.MemoryCurve):
        n, d = len(out.times), len(out.h)
        assert out.stats.shape == (n, d + d * (d + 1) // 2) and out.distance.shape == (n,)
        assert out.mu.shape == (n, d) and out.Sigma.shape == (n, d, d)
        for name in ("times", "stats", "distance", "kl_data_to_model", "mu", "Sigma", "A", "h"):
            _check_finite(getattr(out, name), name, name in spec.inf_ok or name == "times")
        assert np.all(out.kl_data_to_model >= 0)
        return
    if expected == "dict":
        assert set(out) == {"e1", "e2", "f1", "f2", "g"}
        _check_finite(list(out.values()), "factors", False)
        return
    outs = out if isinstance(out, tuple) else (out,)
    shapes = expected if isinstance(expected, list) else [expected]
    assert len(outs) == len(shapes)
    for o, shape in zip(outs, shapes):
        if shape is None or shape == ():
            assert np.ndim(o) == 0
        else:
            assert np.shape(o) == shape
        _check_finite(o, "the result", bool(spec.inf_ok))


@pytest.mark.parametrize("name", list(CASES))
@SETTINGS
@given(data=st.data())
def test_result_is_finite_or_the_error_names_the_argument(name, data):
    spec = CASES[name]
    arg = data.draw(st.sampled_from(sorted(spec.kinds)), label="argument")
    value = data.draw(st.one_of(spec.kinds[arg], ANYTHING), label="value")
    kw = dict(spec.base, **{arg: value})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy warning is a failure too
        try:
            out = spec.fn(**kw)
        except ValueError as exc:
            assert _names(str(exc), arg), f"{name}({arg}={value!r}): the error does not name {arg!r}: {exc}"
            return
    _check_result(spec, kw, out)


@pytest.mark.parametrize("name", list(CASES))
def test_the_valid_baseline_call_succeeds(name):
    """The property test starts from valid calls (so a refusal is the changed argument's doing)."""
    spec = CASES[name]
    _check_result(spec, spec.base, spec.fn(**spec.base))
