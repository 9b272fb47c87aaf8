"""The README's Python examples run as written (the README must stay true)."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README.md has no ```python block"
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})


# ---------------------------------------------------------------------------------------------
# the install the README describes: the lock file, its refresh command and the newest mode
# ---------------------------------------------------------------------------------------------
ROOT = README.parent
LOCK = ROOT / "requirements" / "lock.txt"


def _tasks():
    """``tasks.py`` as a module (it is a script at the top of the repository)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("shortrun_tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins():
    lines = [line for line in LOCK.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    pins = dict(line.split("==") for line in lines)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) and re.fullmatch(r"[\w.+!]+", v)
               for n, v in pins.items()), "lock lines must be `canonical-name==version`"
    assert list(pins) == sorted(pins) and len(pins) == len(lines)
    return pins


def test_lock_pins_every_direct_dependency():
    """Every requirement of setup.cfg (install_requires and the test, deep, notebooks and docs
    extras) is pinned in the lock, which tasks.py installs from."""
    import configparser
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    reqs = cfg["options"]["install_requires"].split()
    for extra in ("test", "deep", "notebooks", "docs"):
        reqs += cfg["options.extras_require"][extra].split()
    names = {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", r).group()).lower()
             for r in reqs}
    pins = _pins()
    assert names - set(pins) == set(), f"not pinned in {LOCK.name}: {sorted(names - set(pins))}"
    assert _tasks().LOCK == LOCK


def test_readme_names_the_lock_mechanism_and_its_versions():
    """The README says the lock is used, how to refresh it and how to resolve the newest
    versions; the versions it says the suite was verified with are the lock's."""
    text = README.read_text(encoding="utf-8")
    for phrase in ("requirements/lock.txt", "python3 tasks.py lock", "--newest",
                   "SHORTRUN_NEWEST=1", ".venv-newest"):
        assert phrase in text, phrase
    verified = re.search(r"\*\*Verified with\*\*[^:]*:(.*?)(?:\n- |\n\n)", text,
                         flags=re.S).group(1)
    stated = {n.lower(): v
              for n, v in re.findall(r"\b([A-Za-z][\w-]*) (\d(?:[\w.+!]*\w)?)", verified)}
    stated.pop("python", None)
    pins = _pins()
    assert {"numpy", "scipy", "numba", "jax"} <= set(stated)
    assert {n: pins.get(n) for n in stated} == stated, "README versions differ from the lock"


def test_changed_lock_reinstalls(tmp_path, monkeypatch):
    """The set-up stamp covers the lock file: another lock gives another fingerprint."""
    tasks = _tasks()
    before = tasks._fingerprint()
    changed = tmp_path / "lock.txt"
    changed.write_text(LOCK.read_text(encoding="utf-8").replace("==", "==0", 1))
    monkeypatch.setattr(tasks, "LOCK", changed)
    assert tasks._fingerprint() != before
    monkeypatch.setattr(tasks, "LOCK", LOCK)
    assert tasks._fingerprint() == before
