#!/usr/bin/env python3
"""The project's commands (see README): set up a virtual environment, then run a job.

    python3 tasks.py figures [args...]   # set-up, then reproduce the paper figures (fast default)
    python3 tasks.py test [pytest args...]  # set-up, then run the default test suite
    python3 tasks.py notebooks [args...]  # set-up with JupyterLab, then open the teaching notebooks
    python3 tasks.py docs [--browser-test] [sphinx args...]  # set-up with Sphinx, build the site
    python3 tasks.py setup               # set-up only
    python3 tasks.py lock                # refresh requirements/lock.txt (newest versions)

Set-up is idempotent: ``.venv`` is created with the running interpreter (Python >= 3.11) and the
package is installed in editable mode with its ``test`` and ``deep`` extras (``notebooks`` adds
the ``notebooks`` extra, JupyterLab), every dependency at the exact version of the lock file
``requirements/lock.txt`` (pip constraints, ``-c``); it is redone only when ``setup.cfg``,
``pyproject.toml`` or the lock file change or an extra is missing.

``docs`` installs the ``docs`` extra (Sphinx, numpydoc, myst-nb, furo; see docs/conf.py) and
builds the documentation site into ``build/docs/html`` (open ``build/docs/html/docs/index.html``):
API reference, theory page, the notebooks executed at build time (cached in
``build/docs/jupyter_cache``), the figure gallery of ``results/figures`` and the guides.  Warnings
are errors (``-W --keep-going``) and every internal reference must resolve (``-n``).
``--browser-test`` then opens the built pages in headless Chromium (tests/test_docs.py; Debian's
``chromium`` is installed first if missing and this runs as root) and saves screenshots in
``build/docs/screenshots``.

``--newest`` (anywhere among the arguments of figures/test/notebooks/setup) or the environment
variable ``SHORTRUN_NEWEST=1`` resolves the newest releases instead, freshly on every run, in a
separate environment ``.venv-newest`` (``$SHORTRUN_VENV-newest`` when ``SHORTRUN_VENV`` names the
environment), so the locked one is not disturbed.

``lock`` resolves the newest releases of everything ``pip install -e .[test,deep,notebooks,docs]``
installs in a scratch environment (``pip install --dry-run --report``; nothing is installed and
nothing else runs) and writes them, pinned, to ``requirements/lock.txt``.

Only the standard library is used here.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("SHORTRUN_VENV", ROOT / ".venv"))
VENV_NEWEST = VENV.with_name(VENV.name + "-newest")
LOCK = ROOT / "requirements" / "lock.txt"
#: The extras the lock covers (``test,deep`` by default, ``notebooks`` for the notebooks,
#: ``docs`` for the documentation site).
LOCK_EXTRAS = ("test", "deep", "notebooks", "docs")
#: Versions printed after a ``--newest`` set-up (the ones the numbers depend on).
KEY_PACKAGES = ("numpy", "scipy", "numba", "llvmlite", "matplotlib", "jax", "jaxlib")
PIP = ("-m", "pip", "--disable-pip-version-check")


def _python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _platform() -> str:
    """The tag the lock records: ``python X.Y, <system> <machine>``."""
    return (f"python {sys.version_info.major}.{sys.version_info.minor}, "
            f"{platform.system()} {platform.machine()}")


def _fingerprint() -> str:
    """Hash of the build files and the lock: a change of any re-installs."""
    h = hashlib.sha256()
    for path in (ROOT / "setup.cfg", ROOT / "pyproject.toml", LOCK):
        h.update(path.read_bytes())
    return h.hexdigest()


def _create(env: Path) -> Path:
    py = _python(env)
    if not py.exists():
        print(f"[setup] creating virtual environment {env}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(env)
    return py


def _check_lock() -> None:
    if not LOCK.is_file():
        sys.exit(f"tasks.py: the lock file {LOCK.relative_to(ROOT)} is missing; restore it "
                 "(git checkout), write a new one with `python3 tasks.py lock`, or resolve the "
                 "newest versions with `--newest`.")
    found = re.search(r"^# resolved for: (.*)$", LOCK.read_text(encoding="utf-8"), flags=re.M)
    if found and found.group(1).strip() != _platform():
        print(f"[setup] note: {LOCK.relative_to(ROOT)} was resolved for {found.group(1).strip()}; "
              f"this is {_platform()}. If the install fails, use --newest.", flush=True)


def setup(extras: tuple[str, ...] = ("test", "deep"), newest: bool = False) -> Path:
    """Create the environment and install ``shortrun[<extras>]`` into it; return its Python.

    Locked (default): ``.venv`` with every dependency pinned by ``requirements/lock.txt``,
    installed only when needed.  The stamp file holds the fingerprint of the build files and the
    lock, and the extras installed with them (a stamp with the fingerprint alone is from a
    ``test,deep`` install).  ``newest``: ``.venv-newest``, upgraded to the newest releases on
    every call (``pip install --upgrade --upgrade-strategy eager``), then the key versions are
    printed."""
    if sys.version_info < (3, 11):
        sys.exit(f"shortrun needs Python >= 3.11; this is {sys.version.split()[0]}. "
                 "Run the command with python3.11.")
    names = ",".join(extras)
    target = ["-e", f"{ROOT}[{names}]"]
    if newest:
        py = _create(VENV_NEWEST)
        print(f"[setup] resolving the newest versions of shortrun[{names}] in {VENV_NEWEST}",
              flush=True)
        subprocess.run([str(py), *PIP, "install", "-q", "--upgrade", "--upgrade-strategy",
                        "eager", *target], check=True, cwd=ROOT)
        listed = subprocess.run([str(py), *PIP, "list", "--format=json"], capture_output=True,
                                text=True, check=True).stdout
        versions = {d["name"].lower(): d["version"] for d in json.loads(listed)}
        print("[setup] newest: " + ", ".join(f"{n} {versions[n]}" for n in KEY_PACKAGES
                                             if n in versions), flush=True)
        return py
    _check_lock()
    py = _create(VENV)
    stamp_file = VENV / ".shortrun-installed"
    stamp = stamp_file.read_text().split() if stamp_file.exists() else []
    installed = set(stamp[1:]) or {"test", "deep"}
    if stamp[:1] == [_fingerprint()] and set(extras) <= installed:
        return py
    print(f"[setup] installing shortrun[{names}] (editable) and its dependencies at the versions "
          f"of {LOCK.relative_to(ROOT)}", flush=True)
    try:
        subprocess.run([str(py), *PIP, "install", "-q", "-c", str(LOCK),
                        *target], check=True, cwd=ROOT)
    except subprocess.CalledProcessError as err:
        sys.exit(f"tasks.py: installing with the lock file failed (pip exit {err.returncode}). "
                 "If the locked versions do not exist for this Python or platform, run the same "
                 "command with --newest (fresh newest versions in a separate environment) or "
                 "refresh the lock with `python3 tasks.py lock`.")
    stamp_file.write_text(" ".join([_fingerprint(), *extras]))
    return py


def lock() -> int:
    """Resolve the newest versions of everything ``shortrun[test,deep,notebooks,docs]`` installs, in
    a scratch environment that is deleted afterwards, and write them to the lock file."""
    if sys.version_info < (3, 11):
        sys.exit(f"shortrun needs Python >= 3.11; this is {sys.version.split()[0]}.")
    names = ",".join(LOCK_EXTRAS)
    with tempfile.TemporaryDirectory(prefix="shortrun-lock-") as tmp:
        env, report = Path(tmp) / "venv", Path(tmp) / "report.json"
        print(f"[lock] resolving shortrun[{names}] in a scratch environment", flush=True)
        venv.EnvBuilder(with_pip=True).create(env)
        py = _python(env)
        subprocess.run([str(py), *PIP, "install", "-q", "--dry-run", "--ignore-installed",
                        "--report", str(report), "-e", f"{ROOT}[{names}]"],
                       check=True, cwd=ROOT)
        pip_version = subprocess.run([str(py), *PIP, "--version"], capture_output=True,
                                     text=True, check=True).stdout.split()[1]
        resolved = json.loads(report.read_text(encoding="utf-8"))["install"]
    pins = {}
    for item in resolved:
        name = re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower()
        if name != "shortrun":
            pins[name] = item["metadata"]["version"]
    head = [
        f"# Exact versions of every package `pip install -e .[{names}]` installs.",
        "# tasks.py installs with them as pip constraints (-c); see README, \"Installs\".",
        "# Written by `python3 tasks.py lock` (newest releases, resolved in a scratch venv); run",
        "# `tasks.py test` and `tasks.py figures` with a new lock before committing it.",
        f"# resolved for: {_platform()}",
        f"# resolved on: {datetime.date.today().isoformat()} with pip {pip_version}",
    ]
    LOCK.parent.mkdir(exist_ok=True)
    tmp_lock = LOCK.with_suffix(".txt.tmp")
    tmp_lock.write_text("\n".join(head + [f"{n}=={v}" for n, v in sorted(pins.items())]) + "\n",
                        encoding="utf-8")
    os.replace(tmp_lock, LOCK)
    print(f"[lock] wrote {len(pins)} pinned packages to {LOCK.relative_to(ROOT)}", flush=True)
    return 0


def run(py: Path, args: list[str], env: dict | None = None) -> int:
    return subprocess.run([str(py)] + args, cwd=ROOT, env=env).returncode


DOCS_OUT = ROOT / "build" / "docs" / "html"


def docs_command(out: Path = DOCS_OUT, extra: tuple[str, ...] = ()) -> list[str]:
    """The Sphinx command line (after the Python executable) that builds the site into ``out``:
    the repository is the source directory, docs/conf.py the configuration; warnings are errors
    (all reported: ``--keep-going``) and every cross-reference must resolve (``-n``).  Every page
    is read afresh (``-E``; the executed notebooks come from their cache), so a warning of a page
    that did not change is reported again."""
    return ["-m", "sphinx", "-b", "html", "-E", "-W", "--keep-going", "-n", "-q", "-c",
            str(ROOT / "docs"), str(ROOT), str(out), *extra]


def docs(py: Path, rest: list[str]) -> int:
    browser = "--browser-test" in rest
    rest = [a for a in rest if a != "--browser-test"]
    code = run(py, docs_command(DOCS_OUT, tuple(rest)))
    if code:
        print(f"tasks.py docs: the build failed (sphinx exit {code}); the warnings above name "
              "the page and the reference.", file=sys.stderr)
        return code
    print(f"[docs] built {DOCS_OUT.relative_to(ROOT)}; open "
          f"{(DOCS_OUT / 'docs' / 'index.html').relative_to(ROOT)}", flush=True)
    if not browser:
        return 0
    env = dict(os.environ, SHORTRUN_DOCS_BUILT=str(DOCS_OUT))
    code = run(py, ["-m", "pytest", "-q", "-m", "slow", "tests/test_docs.py"], env=env)
    return 1 if code == 5 else code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("figures", "test", "setup", "notebooks", "lock", "docs"):
        print(__doc__)
        return 2
    cmd, rest = argv[0], [a for a in argv[1:] if a != "--newest"]
    if cmd == "lock":
        if argv[1:]:
            print("tasks.py lock takes no arguments.", file=sys.stderr)
            return 2
        return lock()
    newest = "--newest" in argv[1:] or os.environ.get("SHORTRUN_NEWEST", "") not in ("", "0")
    extras = {"notebooks": ("test", "deep", "notebooks"), "docs": ("test", "deep", "docs")}
    py = setup(extras.get(cmd, ("test", "deep")), newest)
    if cmd == "setup":
        return 0
    if cmd == "docs":
        return docs(py, rest)
    if cmd == "notebooks":  # the whole repository is served, so the links to docs/ open too
        return run(py, ["-m", "jupyter", "lab", f"--notebook-dir={ROOT}",
                        f"--preferred-dir={ROOT / 'notebooks'}"] + rest)
    if cmd == "figures":
        return run(py, ["-m", "shortrun.paper_figures"] + rest)
    code = run(py, ["-m", "pytest"] + rest)
    if code == 5:  # pytest: no tests were collected -- never a pass
        print("tasks.py: pytest collected no tests; failing.", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
