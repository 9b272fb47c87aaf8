r"""``shortrun verify``: the fixed-point theorem (G5) checked on your own data.

Give data -- samples in a ``.npy`` (an (M, N) array) or a ``.txt`` (one sample per line, N
numbers separated by blanks or commas), in spins ±1 or bits 0/1, or exact moments in a ``.npz``
(``m`` (N,) and ``C`` (N, N), or ``phi`` in ``theta`` order ``concat(m, C[triu(N, 1)])``) -- and
the training setting: k, p0, rule, scan, protocol.  The command trains a Boltzmann machine with
that short-run setting to its fixed point θ* and compares two laws with the data:

* the law the training matched, :math:`p_{\rm fix}`: the k-step process :math:`p(k, p_0) =
  U_{\theta^*}^k p_0` (rdm; cd starts at the data; pcd's persistent chains match the kernel's
  stationary law);
* the trained model's own equilibrium :math:`p_{\theta^*}`.

The theorem says: if training converges, :math:`\langle s_i\rangle` and :math:`\langle s_i
s_j\rangle` of :math:`p_{\rm fix}` equal the data's, while :math:`p_{\theta^*}` in general misses
them.  Two routes:

* exact (N ≤ 14): θ* by Newton on all 2^N states (:func:`shortrun.numerics.training.fixed_point.solve`),
  statistics of :func:`shortrun.numerics.kernels.law` and of ``model.boltzmann()``;
* Monte Carlo (``--monte-carlo``, any N; samples needed): θ* by
  :func:`shortrun.numerics.training.monte_carlo.train` (Polyak average of the second half),
  statistics of chains run k sweeps from p0 and of long chains, with their error bars (E1).

With ``--model potts`` the samples are integer colours 0..q−1 (one sample per row; ``--q``,
default 1 + the largest value) and the model is a
:class:`~shortrun.numerics.models.potts.PottsMachine` (P1) trained on the exact route only
(q^N ≤ 2^14 states; no Monte Carlo route, no moments file); its statistics are the one-hot
single and pair marginals, and the same sentences and files are reported (:func:`run_potts`).

Moments alone define the data law as the maximum-entropy (Boltzmann) law with those moments;
only its moments enter rdm and pcd training, cd needs samples.

It prints a short verdict, writes ``verify.json``, ``verify.md`` and ``verify.png`` (data
against both laws) into ``--out``, and exits with 0; a malformed file, an impossible setting or
a fixed point that does not exist (training diverges; the status and its cause are reported)
exit with 2 and a message naming the file and the fix.

Everything is checked before training: the file (a folder, an unreadable file, content of
another format than its suffix, text that is not UTF-8), the settings, ``--out`` (a file, or
under one), and the cost.  Both routes run the k sweeps one by one, so the cost grows with k:
it is timed on a few sweeps on this machine (:func:`check_cost`) and a k whose Newton step
would exceed :data:`MAX_STEP_SECONDS` (exact route), or whose run would exceed
:data:`MAX_MONTE_CARLO_SECONDS` (Monte Carlo), is refused with the estimate, the largest k that
fits and the way out: for k far beyond the mixing time the k-step process is the stationary
law, which ``--protocol pcd`` checks exactly for any k.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from shortrun.conventions import SAMPLED_PROTOCOLS

#: Largest N for the exact route (2^N-state vectors and a P×P Jacobian per Newton step).
EXACT_MAX_N = 14
EXIT_OK, EXIT_ERROR = 0, 2
#: Chains that measure the statistics of the trained machine on the Monte Carlo route (at least).
EVAL_CHAINS = 10000
#: The protocols verify trains with (the ones that run chains).
PROTOCOLS = SAMPLED_PROTOCOLS
#: Longest estimated wall time (s) of one Newton step of the exact route: the law and its P
#: derivatives propagated through k sweeps one by one (timed on this machine before training,
#: :func:`check_cost`).  Beyond it k is refused: for k far beyond the chain's mixing time the
#: k-step process is the stationary law, which ``--protocol pcd`` checks exactly for any k.
MAX_STEP_SECONDS = 120.0
#: Longest estimated wall time (s) of the whole Monte Carlo route (training and measurement).
MAX_MONTE_CARLO_SECONDS = 3600.0
#: A probe of the cost runs 1, 4, 16, ... sweeps until one run takes this long (s).
PROBE_SECONDS = 0.1


class InputError(ValueError):
    """A problem with the user's files or settings; the message names the file and the fix."""


# ---------------------------------------------------------------------------------------------
# reading the user's files
# ---------------------------------------------------------------------------------------------
#: What a file's first bytes say it is (a file of one kind under another suffix is refused with
#: the suffix it needs).
MAGIC = ((b"\x93NUMPY", ".npy", "a NumPy .npy array"),
         (b"PK\x03\x04", ".npz", "a zip archive (NumPy .npz)"),
         (b"\x80", None, "a Python pickle"))


def _kind(raw):
    """``(suffix, description)`` of the format the bytes ``raw`` start with, or None."""
    return next(((suffix, what) for magic, suffix, what in MAGIC if raw.startswith(magic)), None)


def _read_bytes(path):
    """The bytes of the user's file; InputError for a folder or a file that cannot be read."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a data file; give the file of samples (.npy "
                         "or .txt) or of moments (.npz) inside it.")
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror or err}); check that the file "
                         "exists and that you may read it (its permissions).") from None


def _wrong_kind(path, raw, suffix):
    """InputError when the bytes of ``path`` are of another format than its ``suffix`` says."""
    kind = _kind(raw)
    if kind is None or kind[0] == suffix:
        return
    fix = (f"rename it to {Path(path).stem}{kind[0]}" if kind[0] else
           "save the samples with numpy.save or as text (pickles are not read: loading one can "
           "run code)")
    raise InputError(f"{path}: the file holds {kind[1]}, not what its suffix {suffix!r} says; "
                     f"{fix}.")


def _read_txt(path, raw=None):
    raw = _read_bytes(Path(path)) if raw is None else raw
    _wrong_kind(path, raw, Path(path).suffix.lower())
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: byte {err.start} ({raw[err.start:err.start + 1]!r}) is not "
                         "UTF-8 text; write the samples as plain text (one sample per line, N "
                         "numbers) or save them with numpy.save as a .npy file.") from None
    rows, width = [], None
    for line_no, line in enumerate(io.StringIO(content, newline=None), 1):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        try:
            row = [float(x) for x in text]
        except ValueError:
            bad = next(x for x in text if not _is_number(x))
            raise InputError(f"{path}: line {line_no} holds {bad!r}, not a number; write one "
                             "sample per line as N numbers (spins ±1 or bits 0/1) separated "
                             "by blanks or commas.") from None
        if width is None:
            width, first = len(row), line_no
        elif len(row) != width:
            raise InputError(f"{path}: line {line_no} has {len(row)} values but line {first} "
                             f"has {width} (ragged rows); every sample needs the same N "
                             "spins.")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no samples found; write one sample per line (N spins ±1 or "
                         "bits 0/1).")
    return np.array(rows)


def _is_number(x):
    try:
        float(x)
    except ValueError:
        return False
    return True


def _check_samples(samples, path):
    """(M, N) int8 spins from a numeric array of spins ±1 or bits 0/1 (any N)."""
    a = np.asarray(samples)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise InputError(f"{path}: the array has dtype {a.dtype}; save the samples as a numeric "
                         "(M, N) array of spins ±1 or bits 0/1.")
    if a.ndim != 2:
        raise InputError(f"{path}: samples must be a 2-D array (M samples × N spins); got shape "
                         f"{a.shape}.  For exact moments use a .npz with m and C.")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise InputError(f"{path}: sample {bad[0]}, spin {bad[1]} is {a[tuple(bad)]}; every "
                         "entry must be a spin ±1 or a bit 0/1 (remove or fix that sample).")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise InputError(f"{path}: the array has shape {a.shape}; it needs at least one sample "
                         "and one spin.")
    values = np.unique(a)
    if np.all(np.isin(values, (-1, 1))):
        return a.astype(np.int8)
    if np.all(np.isin(values, (0, 1))):
        return (2 * a - 1).astype(np.int8)
    shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
    raise InputError(f"{path}: the samples contain the values {shown}; use spins in {{-1, +1}} "
                     "or bits in {0, 1} (not both in one file).")


def _read_moments(path, raw=None):
    from shortrun.numerics.core import moments as mom

    raw = _read_bytes(Path(path)) if raw is None else raw
    try:
        z = np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as err:                      # noqa: BLE001 - any unreadable archive
        raise InputError(f"{path}: not a readable .npz archive ({err}); save the moments with "
                         "numpy.savez(path, m=m, C=C).") from None
    with z:
        keys = set(z.files)
        if {"m", "C"} <= keys:
            m, C = np.asarray(z["m"]), np.asarray(z["C"])
        elif "phi" in keys:
            phi = np.asarray(z["phi"])
            if phi.ndim != 1:
                raise InputError(f"{path}: phi must be a 1-D vector concat(m, C[triu(N, 1)]); "
                                 f"got shape {phi.shape}.")
            N = int(round((np.sqrt(8 * phi.size + 1) - 1) / 2))
            if N < 1 or N * (N + 1) // 2 != phi.size:
                raise InputError(f"{path}: phi has {phi.size} entries, not N + N(N-1)/2 for any "
                                 "N; give concat(m, C[triu_indices(N, 1)]).")
            m, C = mom.moments_from_stats(phi, N)
        else:
            raise InputError(f"{path}: the archive holds {sorted(keys)}; it needs arrays 'm' (N,) "
                             "and 'C' (N, N), or 'phi' (N + N(N-1)/2,) in theta order.")
    for name, a in (("m", m), ("C", C)):
        if a.dtype.kind not in "biuf":
            raise InputError(f"{path}: {name} has dtype {a.dtype}; it must hold numbers.")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{path}: {name} contains NaN or inf; give finite moments.")
    m, C = m.astype(float), C.astype(float)
    N = m.shape[0] if m.ndim == 1 else -1
    if m.ndim != 1 or C.shape != (N, N):
        raise InputError(f"{path}: m must have shape (N,) and C shape (N, N); got {m.shape} and "
                         f"{C.shape}.")
    if not np.allclose(C, C.T, rtol=0, atol=1e-12):
        raise InputError(f"{path}: C is not symmetric (max |C - C^T| = "
                         f"{np.abs(C - C.T).max():.3g}); give <s_i s_j> for all i, j.")
    if not np.allclose(np.diag(C), 1.0, rtol=0, atol=1e-12):
        raise InputError(f"{path}: the diagonal of C must be <s_i^2> = 1 for spins ±1 (got "
                         f"{np.diag(C)[:4]}...); C holds second moments <s_i s_j>, not "
                         "covariances, in the ±1 basis.")
    if np.any(np.abs(m) > 1) or np.any(np.abs(C) > 1 + 1e-12):
        raise InputError(f"{path}: moments of ±1 spins lie in [-1, 1]; got max |m| = "
                         f"{np.abs(m).max():.3g}, max |C| = {np.abs(C).max():.3g}.  Moments of "
                         "0/1 bits must be converted (s = 2 sigma - 1).")
    return m, C


def load(path):
    """``('samples', (M, N) int8 spins)`` or ``('moments', (m, C))`` from the user's file.

    Everything is checked before any work: a folder, an unreadable file, a file whose content is
    of another format than its suffix (e.g. a .npy array saved as ``.txt``), text that is not
    UTF-8 -- each is an :class:`InputError` naming the file and the fix.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".txt", ".csv", ".dat") and not path.is_dir():
        raise InputError(f"{path}: unknown file type {suffix!r}; give samples as .npy or .txt "
                         "(spins ±1 or bits 0/1, one sample per row) or moments as .npz (m, C).")
    raw = _read_bytes(path)
    if suffix == ".npy":
        _wrong_kind(path, raw, suffix)
        try:
            a = np.load(io.BytesIO(raw), allow_pickle=False)
        except Exception as err:                  # noqa: BLE001 - any unreadable file
            raise InputError(f"{path}: not a readable .npy array ({err}); save the samples with "
                             "numpy.save(path, samples) as a numeric (M, N) array.") from None
        return "samples", _check_samples(a, path)
    if suffix in (".txt", ".csv", ".dat"):
        return "samples", _check_samples(_read_txt(path, raw), path)
    _wrong_kind(path, raw, suffix)
    return "moments", _read_moments(path, raw)


def _check_not_at_boundary(m, C, path):
    """Statistics at ±1 need infinite parameters: no finite fixed point exists."""
    N = len(m)
    i = np.flatnonzero(np.abs(m) >= 1)
    if i.size:
        raise InputError(f"{path}: spin {i[0]} is {int(np.sign(m[i[0]])):+d} in every sample "
                         "(<s_i> = ±1): its field would have to be infinite, so no finite fixed "
                         "point exists.  Drop that spin (it carries no information) or add "
                         "samples in which it varies.")
    iu = np.triu_indices(N, 1)
    j = np.flatnonzero(np.abs(C[iu]) >= 1)
    if j.size:
        a, b = iu[0][j[0]], iu[1][j[0]]
        raise InputError(f"{path}: spins {a} and {b} are {'equal' if C[a, b] > 0 else 'opposite'}"
                         " in every sample (<s_i s_j> = ±1): their coupling would have to be "
                         "infinite, so no finite fixed point exists.  Merge the two spins or add "
                         "samples in which they differ.")


def max_entropy_law(m, C, path, tol=1e-12, max_iter=200):
    r"""The Boltzmann law :math:`p_\theta` whose moments are (m, C): the maximum-entropy law with
    those moments, found by damped Newton on :math:`\langle\phi\rangle_{p_\theta} = \phi` with the
    exact Jacobian (the covariance of φ)."""
    from shortrun.numerics.core import moments as mom
    from shortrun.numerics.kernels import tangent
    from shortrun.numerics.models import BoltzmannMachine

    N = len(m)
    target = mom.stats_from_moments(m, C)
    theta = np.concatenate([np.arctanh(np.clip(m, -0.9, 0.9)), np.zeros(N * (N - 1) // 2)])

    def residual(th):
        F, jac = tangent.equilibrium_jacobian(BoltzmannMachine.from_theta(th, N))
        return F - target, jac

    F, jac = residual(theta)
    for _ in range(max_iter):
        if np.max(np.abs(F)) <= tol:
            return np.asarray(BoltzmannMachine.from_theta(theta, N).boltzmann())
        step = np.linalg.lstsq(jac, -F, rcond=None)[0]
        step *= min(1.0, 2.0 / max(np.max(np.abs(step)), 1e-300))
        for alpha in 0.5 ** np.arange(12):
            trial = theta + alpha * step
            F_new, jac_new = residual(trial)
            if np.linalg.norm(F_new) < np.linalg.norm(F):
                theta, F, jac = trial, F_new, jac_new
                break
        else:
            break
        if np.max(np.abs(theta)) > 50:
            break
    raise InputError(f"{path}: these moments are not those of any distribution with full support "
                     f"on {{-1, +1}}^{N} (maximum-entropy fit stopped at |residual| = "
                     f"{np.max(np.abs(F)):.3g}); check that m and C come from one data set, "
                     "or give the samples themselves.")


# ---------------------------------------------------------------------------------------------
# the check
# ---------------------------------------------------------------------------------------------
def _parse(argv):
    ap = argparse.ArgumentParser(
        prog="shortrun verify",
        description="Train a Boltzmann machine with short-run chains on your data and check the "
                    "fixed-point theorem: the k-step process reproduces the data's <s_i> and "
                    "<s_i s_j>, the trained model's equilibrium does not.")
    ap.add_argument("data", help="samples (.npy array or .txt rows; spins ±1 or bits 0/1) or "
                                 "moments (.npz with m and C, or phi)")
    ap.add_argument("--k", required=True, type=float,
                    help="sweeps per update (an integer; a real time for --scan continuous)")
    ap.add_argument("--p0", default="uniform",
                    help="start of the chains: 'uniform' (default) or a .npy probability vector "
                         "over the 2^N states (bit i of the index is 1 <=> s_i = +1)")
    ap.add_argument("--rule", default=None,
                    help="heatbath or metropolis (default: the model's own, heatbath)")
    ap.add_argument("--scan", default=None,
                    help="random, sequential, parallel or continuous (default: the model's own, "
                         "random)")
    ap.add_argument("--protocol", default="rdm", help="rdm (default), cd or pcd")
    ap.add_argument("--out", default="shortrun-verify", help="folder for verify.json, verify.md "
                                                             "and verify.png")
    ap.add_argument("--monte-carlo", action="store_true",
                    help=f"train and measure by Monte Carlo (any N; the exact route stops at "
                         f"N = {EXACT_MAX_N})")
    ap.add_argument("--n-chains", type=int, default=2000, help="Monte Carlo chains (2000)")
    ap.add_argument("--n-steps", type=int, default=1000, help="Monte Carlo updates (1000)")
    ap.add_argument("--lr", type=float, default=0.1, help="Monte Carlo learning rate (0.1)")
    ap.add_argument("--equilibrium-sweeps", type=int, default=None,
                    help="length of the long chains that estimate p_theta* (Monte Carlo; "
                         "default max(1000, 50 k))")
    ap.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo route (0)")
    ap.add_argument("--model", default="bm", choices=("bm", "potts"),
                    help="bm (default): a Boltzmann machine on spins ±1 / bits 0/1; potts: a "
                         "Potts machine on integer colours 0..q-1 (one sample per row; exact "
                         "route, q^N <= 2^%d states)" % EXACT_MAX_N)
    ap.add_argument("--q", type=int, default=None,
                    help="colours per unit for --model potts (default: 1 + the largest value "
                         "in the file)")
    return ap.parse_args(argv)


def _settings(a, family=None):
    """``(k, rule, scan, protocol)`` checked for the model class ``family`` (default: the
    Boltzmann machine verify trains; rule and scan default to the family's own)."""
    from shortrun import conventions
    from shortrun.numerics.models import BoltzmannMachine  # the model verify trains

    family = BoltzmannMachine if family is None else family
    rule = family.DEFAULT_RULE if a.rule is None else a.rule
    scan = family.DEFAULT_SCAN if a.scan is None else a.scan
    choices = []
    for option, value, allowed in (("rule", rule, family.RULES),
                                   ("scan", scan, family.SCANS),
                                   ("protocol", a.protocol, PROTOCOLS)):
        try:
            choices.append(conventions.check_choice(value, allowed, option))
        except ValueError as err:
            raise InputError(f"--{option}: {err}") from None
    rule, scan, protocol = choices
    k = a.k
    if not np.isfinite(k):
        raise InputError(f"--k {a.k}: k must be a finite number of sweeps per update (an "
                         "integer >= 1; a real time > 0 for --scan continuous).")
    if k <= 0:
        raise InputError(f"--k {a.k:g}: k must be > 0 (the number of sweeps per update).")
    if scan != "continuous":
        if k != int(k):
            raise InputError(f"--k {a.k}: k counts sweeps, an integer for scan={scan!r}; use "
                             "--scan continuous for a real time.")
        k = int(k)
    return k, rule, scan, protocol


def _p0(arg, N, protocol, n_states=None):
    if protocol == "cd":
        if arg != "uniform":
            raise InputError(f"--p0 {arg}: cd starts its chains at the data; drop --p0, or use "
                             "--protocol rdm for chains from a fixed p0.")
        return None
    if arg == "uniform":
        return "uniform"
    n, size = (1 << N, "2^N") if n_states is None else (n_states, "q^N")
    path = Path(arg)
    if path.suffix.lower() != ".npy" or not path.exists():
        raise InputError(f"--p0 {arg}: give 'uniform' or an existing .npy file holding a "
                         f"probability vector of length {size} = {n}.")
    raw = _read_bytes(path)
    try:
        p = np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as err:                      # noqa: BLE001
        raise InputError(f"{path}: not a readable .npy array ({err}).") from None
    if p.ndim != 1 or p.shape[0] != n or p.dtype.kind not in "biuf":
        raise InputError(f"{path}: p0 must be a probability vector of length {size} = {n} "
                         f"for the N = {N} spins of the data; got shape {p.shape}.")
    p = p.astype(float)
    if not np.all(np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1) > 1e-9:
        raise InputError(f"{path}: p0 must be finite, >= 0 and sum to 1 (sum = {p.sum():.6g}); "
                         "normalise it with p / p.sum().")
    return p


def _stats_of(p):
    from shortrun.numerics.core import moments as mom
    return mom.stats(p)


def _equilibrium_sweeps(a, k):
    """Length of the long chains that estimate p_θ*: ``--equilibrium-sweeps`` or max(1000, 50 k)."""
    return a.equilibrium_sweeps if a.equilibrium_sweeps is not None else \
        max(1000, int(np.ceil(50 * k)))


def _check_monte_carlo(a):
    for option, value, low in (("--n-chains", a.n_chains, 2), ("--n-steps", a.n_steps, 2),
                               ("--equilibrium-sweeps", a.equilibrium_sweeps, 1),
                               ("--seed", a.seed, 0)):
        if value is not None and value < low:
            raise InputError(f"{option} {value}: must be an integer >= {low}.")
    if a.seed >= 2**64:
        raise InputError(f"--seed {a.seed}: must be an integer below 2^64.")
    if not (np.isfinite(a.lr) and a.lr > 0):
        raise InputError(f"--lr {a.lr}: the learning rate must be > 0 (e.g. 0.1).")


def _check_out(out):
    """``--out`` is, or can be created as, a writable folder (checked before any training)."""
    from shortrun.numerics.sweeps.engine import check_folder

    if not str(out).strip():
        raise InputError("--out='': an empty path; give a folder name (default "
                         "shortrun-verify).")
    try:
        return check_folder(out, "--out")
    except ValueError as err:
        raise InputError(str(err)) from None


def seconds_per_sweep(run_sweeps, k):
    """Wall time per sweep of ``run_sweeps(n)``: the least time per sweep of runs of n = 1, 4,
    16, ... sweeps (never more than k), the last one taking :data:`PROBE_SECONDS`, after an
    untimed first sweep (numba's compilation or cache loading).  The least, since a fixed
    overhead per run and the pauses of a busy machine only lengthen a run."""
    n = min(1, k)
    run_sweeps(n)
    best = np.inf
    while True:
        t0 = time.perf_counter()
        run_sweeps(n)
        dt = time.perf_counter() - t0
        best = min(best, dt / n)
        if dt >= PROBE_SECONDS or n >= k:
            return best
        n = min(4 * n, k)


def _duration(seconds):
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


_LARGE_K = ("For k far beyond the chain's mixing time the k-step process is the chain's "
            "stationary law: --protocol pcd on the exact route (N <= 14) checks that limit exactly "
            "for any k (its fixed point does not depend on k); otherwise use a smaller k")


def check_cost(data, N, k, rule, scan, protocol, p0, a):
    """Estimated wall time of the run, from a timed probe of its inner loop on this machine;
    InputError naming the option to change when it exceeds :data:`MAX_STEP_SECONDS` per Newton
    step (exact route) or :data:`MAX_MONTE_CARLO_SECONDS` in all (Monte Carlo route).  Returns
    the estimate (s) and prints it when the run will be long."""
    import warnings

    from shortrun.numerics import sampling
    from shortrun.numerics.kernels import NotBoltzmannWarning, law_tangent
    from shortrun.numerics.models import BoltzmannMachine

    model = BoltzmannMachine.from_theta(np.zeros(N + N * (N - 1) // 2), N)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotBoltzmannWarning)
        if not a.monte_carlo:
            if protocol == "pcd":                   # the stationary law: k does not enter
                return 0.0
            start = data.p if protocol == "cd" else p0
            per = seconds_per_sweep(lambda n: law_tangent(model, start, n, rule, scan), k)
            step = per * k
            if step > MAX_STEP_SECONDS:
                raise InputError(
                    f"--k {k:g}: one Newton step of the exact route propagates the law and its "
                    f"{N + N * (N - 1) // 2} derivatives through the k sweeps one by one, about "
                    f"{_duration(step)} here ({per * 1e3:.3g} ms per sweep at N = {N}, timed "
                    f"now); the limit is {MAX_STEP_SECONDS:g} s per step, k <= "
                    f"{max(1, int(MAX_STEP_SECONDS / per))} here.  {_LARGE_K}.")
            if step > 1.0:
                print(f"[verify] exact route: about {_duration(step)} per Newton step (k = {k:g}, "
                      f"N = {N}); progress every 5 s.", file=sys.stderr, flush=True)
            return step
        per = seconds_per_sweep(lambda n: sampling.sample(model, "uniform", n, rule=rule,
                                                          scan=scan, n_chains=a.n_chains,
                                                          seed=a.seed), k) / a.n_chains
    n_eval = max(EVAL_CHAINS, a.n_chains)
    T = _equilibrium_sweeps(a, k)
    parts = {"training (--n-steps × --n-chains × k)": a.n_steps * a.n_chains * k,
             "the k-step chains measured": 0 if protocol == "pcd" else n_eval * k,
             "the equilibrium chains (--equilibrium-sweeps)": n_eval * T}
    total = per * sum(parts.values())
    if total > MAX_MONTE_CARLO_SECONDS:
        worst = max(parts, key=parts.get)
        raise InputError(
            f"--k {k:g}: the Monte Carlo route would run {sum(parts.values()):.3g} chain-sweeps, "
            f"about {_duration(total)} here ({per * 1e6:.3g} µs per chain-sweep at N = {N}, "
            f"timed now; most of it in {worst}); the limit is "
            f"{_duration(MAX_MONTE_CARLO_SECONDS)}.  {_LARGE_K}, fewer --n-steps or "
            "--n-chains, or a shorter --equilibrium-sweeps.")
    if total > 10.0:
        print(f"[verify] Monte Carlo route: about {_duration(total)} in all.", file=sys.stderr,
              flush=True)
    return total


def exact_route(data, k, rule, scan, protocol, p0, family=None):
    """θ* by Newton and the exact statistics of p_fix and p_θ* (``family``: the model trained, a
    Boltzmann machine by default, e.g. ``PottsMachine.zeros(N, q)``)."""
    from shortrun.numerics import kernels
    from shortrun.numerics.analysis import diagnostics
    from shortrun.numerics.kernels import NotBoltzmannWarning
    from shortrun.numerics.training import fixed_point
    import warnings

    restarts = 3 if (rule == "metropolis" or scan == "parallel") else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotBoltzmannWarning)
        fp = fixed_point.solve(data, k, protocol, rule, scan,
                               None if protocol == "cd" else p0, restarts=restarts, check=False,
                               **({} if family is None else {"model": family}))
        if not fp.converged:
            return {"status": fp.status, "message": fp.message}
        model = fp.model
        kern = kernels.kernel(model, rule, scan, warn=False)
        if protocol == "pcd":
            p_fix = kern.stationary()
        else:
            p_fix = kern.propagate(data.p if protocol == "cd" else p0, k)
    p_eq = np.asarray(model.boltzmann())
    stats_of = _stats_of if family is None else model.stats
    return {"status": "converged", "message": fp.message, "theta": model.theta,
            "stats_fix": stats_of(p_fix), "stats_eq": stats_of(p_eq),
            "err_fix": None, "err_eq": None,
            "kl_data_to_fix": diagnostics.kl_divergence(data.p, p_fix),
            "kl_data_to_eq": diagnostics.kl_divergence(data.p, p_eq)}


def monte_carlo_route(samples, data, k, rule, scan, protocol, p0, a):
    """θ* by Monte Carlo training (Polyak average of the second half of the updates) and the
    sampled statistics of p_fix (chains run k sweeps) and p_θ* (long chains), with error bars."""
    from shortrun.numerics import sampling
    from shortrun.numerics.models import BoltzmannMachine
    from shortrun.numerics.training import monte_carlo

    source = samples if samples is not None else data
    try:
        run = monte_carlo.train(source, k, protocol, rule, scan, p0 if protocol != "cd" else None,
                                n_chains=a.n_chains, lr=a.lr, n_steps=a.n_steps, seed=a.seed)
    except RuntimeError as err:
        return {"status": "diverged", "message": str(err)}
    N = run.N
    # Polyak average of the second half of the updates made (the trainer stops early when the
    # sampled gradient is exactly zero, e.g. N = 1 and a sample mean equal to the data's)
    history = run.history.theta
    n_avg = len(history) - len(history) // 2
    theta = history[len(history) // 2:].mean(axis=0)
    model = BoltzmannMachine.from_theta(theta, N)
    n_eval = max(EVAL_CHAINS, a.n_chains)
    if protocol == "cd":
        if samples is not None:
            start = samples[np.random.default_rng([a.seed, 3]).integers(0, len(samples), n_eval)]
        else:
            start = data.p
        fix = sampling.sample(model, start, k, rule=rule, scan=scan,
                              n_chains=None if samples is not None else n_eval, seed=a.seed + 1)
    elif protocol == "pcd":
        fix = run.chains
    else:
        fix = sampling.sample(model, p0, k, rule=rule, scan=scan, n_chains=n_eval,
                              seed=a.seed + 1)
    T = _equilibrium_sweeps(a, k)
    eq_scan = "random" if scan == "parallel" else scan
    eq = sampling.sample(model, "uniform", T, rule=rule, scan=eq_scan, n_chains=n_eval,
                         seed=a.seed + 2)
    return {"status": "converged", "message": f"{run.steps} Monte Carlo updates, Polyak average "
                                              f"of the last {n_avg}",
            "theta": theta, "stats_fix": sampling.stats(fix), "stats_eq": sampling.stats(eq),
            "err_fix": sampling.stats_error(fix), "err_eq": sampling.stats_error(eq),
            "kl_data_to_fix": None, "kl_data_to_eq": None, "equilibrium_sweeps": T}


def _verdict(res, protocol):
    what = {"rdm": "the k-step process p(k, p0)", "cd": "the k-step process from the data (CD)",
            "pcd": "the persistent chains' stationary law"}[protocol]
    line = (f"{what} reproduces your data's statistics to {res['residual']:.2g}; the trained "
            f"model's equilibrium p_theta* misses them by {res['mismatch']:.2g}")
    if res.get("noise") is not None:
        line += f" (Monte Carlo noise, 4 sigma: {res['noise']:.2g})"
    return line + "."


def _figure(res, data_stats, N, path, title, parts=None):
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.3))
    if parts is None:                           # the Boltzmann machine's <s_i s_j>, <s_i>
        parts = ((slice(N, None), r"$\langle s_i s_j\rangle$"),
                 (slice(0, N), r"$\langle s_i\rangle$"))
    for ax, (sl, label) in zip(axes, parts):
        x = data_stats[sl]
        if x.size == 0:
            ax.set_visible(False)
            continue
        lo, hi = min(x.min(), res["stats_eq"][sl].min(), res["stats_fix"][sl].min()), \
            max(x.max(), res["stats_eq"][sl].max(), res["stats_fix"][sl].max())
        pad = 0.05 * (hi - lo + 1e-9)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=0.8)
        ax.plot(x, res["stats_eq"][sl], "s", ms=4, mfc="none", color="C3",
                label=r"trained model's equilibrium $p_{\theta^*}$")
        ax.plot(x, res["stats_fix"][sl], "o", ms=3, color="C0", label=res["fix_label"])
        ax.set_xlabel(f"data {label}")
        ax.set_ylabel(f"model {label}")
        ax.set_title(label, fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _write(out, summary, res, data_stats, N, potts_q=None):
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:      # a folder check cannot foresee everything (/proc, full disks)
        raise InputError(f"--out={str(out)!r}: cannot create the folder ({err.strerror}); pass a "
                         "folder you can write to.") from None
    plain = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in summary.items()}
    (out / "verify.json").write_text(json.dumps(plain, indent=2) + "\n")
    if res is not None:
        title = (f"{Path(summary['data']).name}: N = {N}, k = {summary['k']:g}, "
                 f"{summary['rule']}, {summary['scan']} scan, {summary['protocol']}, "
                 f"{summary['route']} route\nlargest deviation from the data: "
                 f"{res['fix_label']} {summary['residual']:.2g}, "
                 f"p_θ* {summary['mismatch']:.2g}")
        parts = None if potts_q is None else (
            (slice(N * (potts_q - 1), None), r"$P(\sigma_i{=}a, \sigma_j{=}b)$"),
            (slice(0, N * (potts_q - 1)), r"$P(\sigma_i{=}a)$"))
        _figure(res, data_stats, N, out / "verify.png", title, parts)
    lines = [f"# shortrun verify: {Path(summary['data']).name}", "",
             (f"- N = {N} spins, data: {summary['data_kind']}" if potts_q is None else
              f"- N = {N} units with q = {potts_q} colours (Potts machine), data: "
              f"{summary['data_kind']}"),
             f"- k = {summary['k']:g}, p0 = {summary['p0']}, rule = {summary['rule']}, "
             f"scan = {summary['scan']}, protocol = {summary['protocol']}, "
             f"route = {summary['route']}",
             f"- training: {summary['status']} ({summary['message']})", ""]
    if res is not None:
        lines += [f"**{summary['verdict']}**", "",
                  ("| law | max abs deviation of <s_i>, <s_i s_j> from the data |"
                   if potts_q is None else
                   "| law | max abs deviation of P(s_i=a), P(s_i=a, s_j=b) from the data |"),
                  "|---|---|",
                  f"| {res['fix_label']} | {summary['residual']:.3g} |",
                  f"| trained model's equilibrium p_theta* | {summary['mismatch']:.3g} |", "",
                  "![data against both laws](verify.png)", ""]
    (out / "verify.md").write_text("\n".join(lines))


def _check_colours(a, q, path):
    """(M, N) int64 colours 0..q−1 and q from a numeric array of integer colours (``q=None``:
    1 + the largest value)."""
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise InputError(f"{path}: the array has dtype {a.dtype}; save the samples as a numeric "
                         "(M, N) array of integer colours 0..q-1.")
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputError(f"{path}: samples must be a 2-D array (M samples × N units, M, N >= 1) "
                         f"of integer colours 0..q-1; got shape {a.shape}.")
    bad = ~np.isfinite(a) | (a != np.round(a)) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(f"{path}: sample {i}, unit {j} is {a[i, j]}, not an integer colour; "
                         "--model potts reads integer colours 0..q-1 (one sample per row).")
    if a.min() < 0:
        i, j = np.argwhere(a < 0)[0]
        raise InputError(f"{path}: sample {i}, unit {j} is {a[i, j]:g}; colours are 0..q-1 "
                         "(shift the values so that the smallest colour is 0).")
    top = int(a.max())
    if q is None:
        q = top + 1
    elif q < 2:
        raise InputError(f"--q {q}: a Potts machine needs q >= 2 colours.")
    elif top >= q:
        i, j = np.argwhere(a >= q)[0]
        raise InputError(f"{path}: sample {i}, unit {j} is {a[i, j]:g}, outside the colours "
                         f"0..{q - 1} of --q {q}; raise --q or drop --q (default: 1 + the "
                         "largest value).")
    if q < 2:
        raise InputError(f"{path}: every value is 0, so q = 1 colour; a Potts machine needs "
                         "q >= 2 (pass --q).")
    return a.astype(np.int64), q


def run_potts(a):
    """``--model potts``: a Potts machine (P1) trained to its exact fixed point θ* by Newton on
    all q^N states, the one-hot single and pair marginals of p_fix and p_θ* against the data's;
    same summary and files as :func:`run` (raises InputError)."""
    from shortrun.numerics.data.potts import PottsData
    from shortrun.numerics.models.potts import PottsMachine

    path = a.data
    if a.monte_carlo:
        raise InputError("--monte-carlo: the Monte Carlo route of verify trains Boltzmann "
                         "machines only; --model potts runs the exact route (q^N <= "
                         f"{1 << EXACT_MAX_N} states), drop --monte-carlo.")
    k, rule, scan, protocol = _settings(a, PottsMachine)
    _check_out(a.out)
    p = Path(path)
    if p.exists() and p.suffix.lower() == ".npz":
        raise InputError(f"{path}: --model potts reads samples (.npy or .txt, integer colours "
                         "0..q-1, one sample per row), not moments (.npz).")
    if p.exists() and p.suffix.lower() == ".npy" and not p.is_dir():
        raw = _read_bytes(p)
        _wrong_kind(path, raw, ".npy")
        try:
            arr = np.load(io.BytesIO(raw), allow_pickle=False)
        except Exception as err:                  # noqa: BLE001 - any unreadable file
            raise InputError(f"{path}: not a readable .npy array ({err}); save the samples with "
                             "numpy.save(path, samples) as an (M, N) array of colours.") from None
    elif p.exists() and p.suffix.lower() in (".txt", ".csv", ".dat"):
        arr = _read_txt(p)
    else:
        load(path)                  # the reader's message for a missing or unknown file
        raise InputError(f"{path}: give samples as .npy or .txt for --model potts.")
    samples, q = _check_colours(np.asarray(arr), a.q, path)
    N = samples.shape[1]
    if q ** N > 1 << EXACT_MAX_N:
        raise InputError(f"{path}: q^N = {q}^{N} = {q ** N} states is beyond the exact route's "
                         f"{1 << EXACT_MAX_N} (the law and its derivatives on all q^N states); "
                         "--monte-carlo is not available for --model potts in verify: use fewer "
                         "units or colours, or train with "
                         "shortrun.numerics.training.monte_carlo.train in Python.")
    data = PottsData.from_samples(samples, q, name=Path(path).name)
    zero = np.flatnonzero(data.stats == 0)
    if zero.size:
        raise InputError(f"{path}: {zero.size} of the {data.stats.size} single or pair colour "
                         "frequencies (colours >= 1, theta order) never occur in the samples, so "
                         "the fixed point lies at infinite couplings; give more samples, fewer "
                         "colours (--q), or merge rare colours.")
    p0 = _p0(a.p0, N, protocol, n_states=q ** N)
    start = time.time()
    try:
        res = exact_route(data, k, rule, scan, protocol, p0, family=PottsMachine.zeros(N, q))
    except ValueError as err:
        raise InputError(f"{path}: the library refused this setting: {err}") from None
    summary = {"data": str(path), "data_kind": f"{len(samples)} samples", "N": N, "q": q,
               "model": "potts", "k": k, "p0": a.p0, "rule": rule, "scan": scan,
               "protocol": protocol, "route": "exact", "status": res["status"],
               "message": res["message"], "seconds": round(time.time() - start, 3)}
    if res["status"] != "converged":
        summary["verdict"] = f"no finite fixed point: training {res['status']}.  {res['message']}"
        _write(Path(a.out), summary, None, None, N, potts_q=q)
        raise InputError(f"{path}: {summary['verdict']}")
    data_stats = data.stats
    res["residual"] = float(np.max(np.abs(res["stats_fix"] - data_stats)))
    res["mismatch"] = float(np.max(np.abs(res["stats_eq"] - data_stats)))
    res["noise"] = None
    res["fix_label"] = {"rdm": "k-step process p(k, p0)", "cd": "k-step process from the data",
                        "pcd": "persistent chains (stationary law)"}[protocol]
    summary.update(verdict=_verdict(res, protocol), residual=res["residual"],
                   mismatch=res["mismatch"], noise=None, kl_data_to_fix=res["kl_data_to_fix"],
                   kl_data_to_eq=res["kl_data_to_eq"], theta=np.asarray(res["theta"]),
                   data_stats=np.asarray(data_stats), stats_fix=np.asarray(res["stats_fix"]),
                   stats_eq=np.asarray(res["stats_eq"]))
    _write(Path(a.out), summary, res, data_stats, N, potts_q=q)
    return summary


def run(a):
    """The check for parsed arguments ``a``; returns the summary dict (raises InputError)."""
    from shortrun.numerics.data import teachers

    if getattr(a, "model", "bm") == "potts":
        return run_potts(a)
    if getattr(a, "q", None) is not None:
        raise InputError(f"--q {a.q}: colours per unit belong to --model potts; drop --q, or add "
                         "--model potts for integer colours 0..q-1.")

    k, rule, scan, protocol = _settings(a)
    _check_out(a.out)
    kind, content = load(a.data)
    path = a.data
    samples = data = None
    if kind == "samples":
        samples = content
        N = samples.shape[1]
        s = samples.astype(float)
        m, C = s.mean(axis=0), (s.T @ s) / len(s)
    else:
        m, C = content
        N = len(m)
        if protocol == "cd":
            raise InputError(f"{path}: cd starts its chains at the data samples, which moments "
                             "alone do not give; pass the samples, or use --protocol rdm/pcd.")
    _check_not_at_boundary(m, C, path)
    if not a.monte_carlo and N > EXACT_MAX_N:
        raise InputError(f"{path}: N = {N} spins is too many for the exact route (2^N states, "
                         f"N <= {EXACT_MAX_N}); rerun with --monte-carlo (Monte Carlo training "
                         "and sampled statistics).")
    if samples is None and N > EXACT_MAX_N:
        raise InputError(f"{path}: moments of N = {N} spins: the Monte Carlo route needs the "
                         f"samples themselves for N > {EXACT_MAX_N}; pass them as .npy or .txt.")
    if samples is not None and N <= teachers.DATA_MAX_N:
        data = teachers.Data.from_samples(samples, name=Path(path).name)
    elif samples is None:
        data = teachers.Data.from_distribution(max_entropy_law(m, C, path),
                                               name=Path(path).name)
    p0 = _p0(a.p0, N, protocol)
    if a.monte_carlo:
        _check_monte_carlo(a)
    check_cost(data, N, k, rule, scan, protocol, p0, a)
    start = time.time()
    try:
        if a.monte_carlo:
            res = monte_carlo_route(samples, data, k, rule, scan, protocol, p0, a)
        else:
            res = exact_route(data, k, rule, scan, protocol, p0)
    except ValueError as err:       # a setting the library refuses (its message names it)
        raise InputError(f"{path}: the library refused this setting: {err}") from None
    summary = {"data": str(path), "data_kind": (f"{len(samples)} samples" if samples is not None
                                                else "exact moments (maximum-entropy law)"),
               "N": N, "k": k, "p0": a.p0, "rule": rule, "scan": scan, "protocol": protocol,
               "route": "monte-carlo" if a.monte_carlo else "exact",
               "status": res["status"], "message": res["message"],
               "seconds": round(time.time() - start, 3)}
    if res["status"] != "converged":
        summary["verdict"] = (f"no finite fixed point: training {res['status']}.  "
                              f"{res['message']}")
        _write(Path(a.out), summary, None, None, N)
        raise InputError(f"{path}: {summary['verdict']}")
    from shortrun.numerics.core import moments as mom
    data_stats = mom.stats_from_moments(m, C) if data is None else data.stats
    res["residual"] = float(np.max(np.abs(res["stats_fix"] - data_stats)))
    res["mismatch"] = float(np.max(np.abs(res["stats_eq"] - data_stats)))
    res["noise"] = None
    if res["err_fix"] is not None:     # sampling noise of the measurement (4 sigma, E1)
        res["noise"] = float(4 * np.max(res["err_fix"]))
    res["fix_label"] = {"rdm": "k-step process p(k, p0)", "cd": "k-step process from the data",
                        "pcd": "persistent chains (stationary law)"}[protocol]
    summary.update(verdict=_verdict(res, protocol), residual=res["residual"],
                   mismatch=res["mismatch"], noise=res["noise"], kl_data_to_fix=res["kl_data_to_fix"],
                   kl_data_to_eq=res["kl_data_to_eq"], theta=np.asarray(res["theta"]),
                   data_stats=np.asarray(data_stats), stats_fix=np.asarray(res["stats_fix"]),
                   stats_eq=np.asarray(res["stats_eq"]))
    if "equilibrium_sweeps" in res:
        summary["equilibrium_sweeps"] = res["equilibrium_sweeps"]
    _write(Path(a.out), summary, res, data_stats, N)
    return summary


def main(argv=None) -> int:
    """``shortrun verify DATA --k K [...]``; returns the exit status (0 ok, 2 error)."""
    try:
        a = _parse(argv)
    except SystemExit as stop:                  # --help (0) or an argparse usage error (2)
        return int(stop.code or 0)
    try:
        summary = run(a)
    except InputError as err:
        print(f"shortrun verify: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    print(summary["verdict"])
    print(f"(N = {summary['N']}, k = {summary['k']:g}, {summary['rule']}, {summary['scan']} "
          f"scan, {summary['protocol']}, {summary['route']} route; {summary['message']})")
    print(f"wrote {Path(a.out) / 'verify.json'}, verify.md, verify.png")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
