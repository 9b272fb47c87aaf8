"""shortrun.conventions: names, suggestions, and validators that name the argument and never cast
silently (complex, text, ragged input refused)."""
import numpy as np
import pytest

from shortrun import conventions as cv


def test_names():
    assert cv.RULES == ("heatbath", "metropolis")
    assert cv.SCANS == ("random", "sequential", "parallel", "continuous")
    assert cv.PROTOCOLS == ("rdm", "cd", "pcd", "eq", "buffer")
    assert cv.MONTE_CARLO_PROTOCOLS == ("rdm", "cd", "pcd", "buffer")


@pytest.mark.parametrize("value, choices, best", [
    ("heat-bath", cv.RULES, "heatbath"), ("Heat_Bath", cv.RULES, "heatbath"),
    ("HEATBATH", cv.RULES, "heatbath"), ("metropolis ", cv.RULES, "metropolis"),
    ("metropolice", cv.RULES, "metropolis"), ("sequental", cv.SCANS, "sequential"),
    ("Random", cv.SCANS, "random"), ("continous", cv.SCANS, "continuous"),
    ("PCD", cv.PROTOCOLS, "pcd"), ("r-d-m", cv.PROTOCOLS, "rdm"),
])
def test_check_choice_suggests_the_nearest_name(value, choices, best):
    with pytest.raises(ValueError) as err:
        cv.check_choice(value, choices, "arg")
    msg = str(err.value)
    assert msg.startswith(f"arg={value!r} is not known; did you mean {best!r}? Use one of ")
    assert all(repr(c) in msg for c in choices)
    assert cv.nearest_choice(value, choices) == best


@pytest.mark.parametrize("value", ["glauber", "xyz", "", 3, None, 1.5, True, np.array(["heatbath"]),
                                   ["heatbath"]])
def test_check_choice_without_a_near_name(value):
    with pytest.raises(ValueError, match=r"^rule=.* is not known; use one of 'heatbath', 'metropolis'\.$"):
        cv.check_choice(value, cv.RULES, "rule")


def test_check_choice_accepts_valid_names_and_appends_the_note():
    for rule in cv.RULES:
        assert cv.check_choice(rule, cv.RULES, "rule") == rule
    assert cv.check_choice(2, (1, 2), "order") == 2
    with pytest.raises(ValueError, match=r"order=True is not known"):
        cv.check_choice(True, (1, 2), "order")  # a bool is not the integer 1
    with pytest.raises(ValueError, match=r"scan='parallel' is not known; use one of 'random'\. Why\.$"):
        cv.check_choice("parallel", ("random",), "scan", note="Why.")


REAL_REFUSED = [
    (1 + 2j, "complex"), (np.array([1.0, 2.0], dtype=complex), "complex"),
    (np.complex64(3), "complex"), (np.array([1, 2j], dtype=object), "complex"),
    ("1.0", "text"), (b"1", "text"), (None, "None"), ([[1.0], [1.0, 2.0]], "rectangular"),
    (np.array(["a", "b"]), "not real numbers"), ({"a": 1}, "not real numbers"),
    (np.array([1, None], dtype=object), "not real numbers"), (10 ** 400, "float64 range"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "not real numbers"),
]


@pytest.mark.parametrize("value, why", REAL_REFUSED, ids=[w + str(i) for i, (_, w) in enumerate(REAL_REFUSED)])
def test_check_real_refuses_what_is_not_a_real_number(value, why):
    for check in (cv.check_real, cv.check_finite, cv.finite_array):
        with pytest.raises(ValueError, match=f"^x .*{why}|^x=.*{why}"):
            check(value, "x")


def test_complex_with_zero_imaginary_part_is_still_refused():
    """The imaginary part is never dropped silently, not even a zero one."""
    with pytest.raises(ValueError, match=r"x\.real"):
        cv.check_finite(np.array([1.0 + 0j]), "x")


def test_check_real_accepts_every_real_dtype():
    for dtype in (np.float16, np.float32, np.float64, np.int8, np.int64, np.uint16, bool, np.longdouble):
        out = cv.check_real(np.array([1, 0], dtype=dtype), "x")
        assert out.dtype == np.float64 and list(out) == [1.0, 0.0]
    assert cv.check_real(np.array([1, 2], dtype=object), "x").dtype == np.float64
    x = np.arange(3.0)
    assert cv.check_real(x, "x") is x  # float64 input is not copied


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, [1.0, np.nan]])
def test_non_finite_refused(bad):
    with pytest.raises(ValueError, match="^h contains NaN or inf"):
        cv.check_finite(bad, "h")
    with pytest.raises(ValueError, match="^h contains NaN or inf"):
        cv.finite_array(bad, "h")


@pytest.mark.parametrize("check", [cv.check_positive, cv.check_nonnegative, cv.positive, cv.nonnegative])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0, True, np.bool_(False), "1", 1j, [1.0, 2.0], None])
def test_scalar_validators_name_the_argument(check, bad):
    with pytest.raises(ValueError, match=r"^eta"):
        check(bad, "eta")


def test_scalar_validators_accept_numbers_and_0d_arrays():
    assert cv.check_positive(np.array(0.5), "eta") == 0.5
    assert cv.check_positive(np.float32(2), "eta") == 2.0
    assert cv.check_nonnegative(0, "s02") == 0.0
    with pytest.raises(ValueError, match="eta=0 must be a finite positive number; pass"):
        cv.check_positive(0, "eta")
    with pytest.raises(ValueError, match="^s02=-1 must be a finite number >= 0"):
        cv.check_nonnegative(-1, "s02")


def test_steps_and_counts():
    assert cv.check_steps(np.int64(3)) == 3 and cv.check_steps(4.0) == 4
    assert cv.check_steps(0.5, "t", integer=False) == 0.5
    for bad, match in [(-1, "negative"), (2.5, "integer"), (True, "boolean"), (np.inf, "integer"),
                       (np.nan, "integer"), ("3", "integer"), (2 ** 64, "int64")]:
        with pytest.raises(ValueError, match=f"^k.*{match}"):
            cv.check_steps(bad, "k")
    for bad in (np.inf, np.nan, -0.1, "1", 1j):
        with pytest.raises(ValueError, match="^t"):
            cv.check_steps(bad, "t", integer=False)
    assert cv.check_count(np.int32(5), "N", 3) == 5 and cv.count(0) == 0
    for bad in (2, 3.0, True, None):
        with pytest.raises(ValueError, match=r"^N=.* must be an integer >= 3\.$"):
            cv.check_count(bad, "N", 3)


def test_distribution_refuses_complex_and_copies():
    p = np.array([0.5, 0.5])
    out = cv.check_distribution(p, 2)
    assert out is not p and np.array_equal(out, p)
    with pytest.raises(ValueError, match="^p0 has complex entries"):
        cv.check_distribution(np.array([0.5, 0.5 + 0j]), 2)
    with pytest.raises(ValueError, match="^p0 has shape"):
        cv.check_distribution([1.0], 2)


def test_matrix_validators():
    assert cv.symmetric_matrix(2.0, "A").shape == (1, 1)
    for bad, match in [(np.zeros((0, 0)), "empty"), (np.ones((2, 3)), "square"),
                       ([[1.0, 2.0], [0.0, 1.0]], "symmetric"), ([[1.0, 1j], [1j, 1.0]], "complex")]:
        with pytest.raises(ValueError, match=f"^A .*{match}"):
            cv.symmetric_matrix(bad, "A")
    with pytest.raises(ValueError, match="^C must be symmetric positive definite"):
        cv.spd_matrix([[1.0, 2.0], [2.0, 1.0]], "C")
    assert np.array_equal(cv.psd_matrix(np.zeros((2, 2)), "S"), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="^S has a negative eigenvalue"):
        cv.psd_matrix([[1.0, 2.0], [2.0, 1.0]], "S")
    assert np.array_equal(cv.covariance(0.5, 2, "Sigma0"), 0.5 * np.eye(2))
    for bad in (-1.0, [[-1.0, 0.0], [0.0, 1.0]]):
        with pytest.raises(ValueError, match="^Sigma0"):
            cv.covariance(bad, 2, "Sigma0")
    with pytest.raises(ValueError, match=r"^Sigma0 must be a scalar or have shape \(2, 2\)"):
        cv.covariance(np.eye(3), 2, "Sigma0")
    with pytest.raises(ValueError, match=r"^h must be a scalar or have shape \(3,\)"):
        cv.vector([1.0, 2.0], 3, "h")
    with pytest.raises(ValueError, match="^a .* and k .* do not broadcast"):
        cv.check_broadcast(np.zeros(2), np.zeros(3), ("a", "k"))


def test_ula_step():
    assert cv.check_ula_step([-5.0, 1.0, 39.9], 0.05) == 0.05  # concave directions are allowed
    for top in (40.0, 60.0):
        with pytest.raises(ValueError, match=r"^eta=0\.05 is an unstable Langevin step: .* < 2/a"):
            cv.check_ula_step([1.0, top], 0.05)


def test_memory_error_names_the_size():
    err = cv.memory_error("a table", 3 * 2 ** 30, "use fewer spins.")
    assert isinstance(err, ValueError) and str(err) == "a table would need 3 GiB of memory; use fewer spins."
