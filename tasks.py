#!/usr/bin/env python3
"""The project's two commands (see README): set up a virtual environment, then run a job.

    python3 tasks.py figures [args...]   # set-up, then reproduce the paper figures (fast default)
    python3 tasks.py test [pytest args...]  # set-up, then run the default test suite
    python3 tasks.py notebooks [args...]  # set-up with JupyterLab, then open the teaching notebooks

Set-up is idempotent: ``.venv`` is created with the running interpreter (Python >= 3.11) and the
package is installed in editable mode with its ``test`` and ``deep`` extras (``notebooks`` adds
the ``notebooks`` extra, JupyterLab); it is redone only when ``setup.cfg`` or ``pyproject.toml``
change or an extra is missing.  Only the standard library is used here.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("SHORTRUN_VENV", ROOT / ".venv"))
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".shortrun-installed"


def _fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("setup.cfg", "pyproject.toml"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def setup(extras: tuple[str, ...] = ("test", "deep")) -> None:
    """Create ``.venv`` and install ``shortrun[<extras>]`` into it (only when needed).

    The stamp file holds the fingerprint of the build files and the extras installed with them
    (a stamp with the fingerprint alone is from a ``test,deep`` install)."""
    if sys.version_info < (3, 11):
        sys.exit(f"shortrun needs Python >= 3.11; this is {sys.version.split()[0]}. "
                 "Run the command with python3.11.")
    if not PY.exists():
        print(f"[setup] creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    stamp = STAMP.read_text().split() if STAMP.exists() else []
    installed = set(stamp[1:]) or {"test", "deep"}
    if stamp[:1] == [_fingerprint()] and set(extras) <= installed:
        return
    names = ",".join(extras)
    print(f"[setup] installing shortrun[{names}] (editable) and its dependencies", flush=True)
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    subprocess.run(pip + ["-e", f"{ROOT}[{names}]"], check=True, cwd=ROOT)
    STAMP.write_text(" ".join([_fingerprint(), *extras]))


def run(args: list[str]) -> int:
    return subprocess.run([str(PY)] + args, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("figures", "test", "setup", "notebooks"):
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    setup(("test", "deep", "notebooks") if cmd == "notebooks" else ("test", "deep"))
    if cmd == "setup":
        return 0
    if cmd == "notebooks":  # the whole repository is served, so the links to docs/ open too
        return run(["-m", "jupyter", "lab", f"--notebook-dir={ROOT}",
                    f"--preferred-dir={ROOT / 'notebooks'}"] + rest)
    if cmd == "figures":
        return run(["-m", "shortrun.paper_figures"] + rest)
    code = run(["-m", "pytest"] + rest)
    if code == 5:  # pytest: no tests were collected -- never a pass
        print("tasks.py: pytest collected no tests; failing.", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
