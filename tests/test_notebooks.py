"""The teaching notebooks run top to bottom in a Jupyter kernel, and their exercises' solutions run.

Every claim a notebook makes is an ``assert`` in a cell, so a notebook whose numbers drift from
the theory fails here (nbclient raises ``CellExecutionError`` on any error or failed assert).
The committed ``.ipynb`` files carry no outputs, and every equation link points at a tag that
exists in ``docs/theory.md``.
"""
import re
import runpy
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import resolve_dotted
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
THEORY = ROOT / "docs" / "theory.md"
NAMES = ["01_markov_chains", "02_fixed_point_theorem", "03_gaussian_model", "04_high_temperature",
         "05_rbm_digits", "06_replay_buffer", "07_two_regimes", "08_generator"]
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted(NB_DIR.glob("solutions_[0-9][0-9].py"))
LINK = re.compile(r"\]\(\.\./docs/theory\.md(#[^)\s]*)?\)")
#: a MyST role naming a documented object, ``{py:obj}`shortrun.x.y``` (a link to its API page on
#: the documentation site; Sphinx's nitpicky build fails on a stale one)
API_ROLE = re.compile(r"\{py:\w+\}`~?(shortrun(?:\.\w+)+)`")


def _read(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_the_notebooks_and_their_solutions_are_there():
    assert [p.stem for p in NOTEBOOKS] == NAMES
    assert [p.stem for p in SOLUTIONS] == [f"solutions_{n[:2]}" for n in NAMES]
    assert not list(NB_DIR.glob("[0-9][0-9]_*.py")), "notebooks are .ipynb files, not scripts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path):
    nb = _read(path)
    assert nb.nbformat == 4
    assert nb.metadata.kernelspec.name == "python3"
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.outputs or c.execution_count is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} carry outputs or execution counts; clear them "
                       "before committing (JupyterLab: Edit > Clear Outputs of All Cells).")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_states_its_theory_and_exercises(path):
    text = _markdown(_read(path))
    anchors = [m.group(1) for m in LINK.finditer(text) if m.group(1)]
    assert anchors, f"{path.name}: link each equation to its tag, ../docs/theory.md#tag"
    if THEORY.exists():
        known = theory_anchors(THEORY.read_text(encoding="utf-8"))
        missing = sorted({a for a in anchors if a[1:] not in known})
        assert not missing, f"{path.name} links to tags missing from docs/theory.md: {missing}"
    assert "## Exercises" in text and f"solutions_{path.stem[:2]}.py" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_api_links_name_existing_objects(path):
    """Every API-page link of a notebook's text names an object of the package (a renamed
    function fails here, not only in the documentation build)."""
    stale = []
    for name in API_ROLE.findall(_markdown(_read(path))):
        try:
            resolve_dotted(name)
        except (ImportError, AttributeError):
            stale.append(name)
    assert not stale, f"{path.name} links to API pages of names that do not exist: {stale}"


def theory_anchors(markdown):
    """Anchors a Markdown renderer makes for ``markdown``: explicit ``id``/``name`` attributes and
    ``{#id}`` labels, and GitHub's heading slugs (lower case, punctuation dropped, spaces -> '-')."""
    found = set(re.findall(r"""(?:id|name)=["']([^"']+)["']""", markdown))
    found |= set(re.findall(r"\{#([\w-]+)\}", markdown))
    for heading in re.findall(r"^#+\s+(.*?)\s*#*\s*$", markdown, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def _kernel():
    """The native ipykernel of *this* interpreter (the project's .venv), whatever kernel specs
    the user has installed elsewhere."""
    km = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    assert km.kernel_spec.argv[0] == sys.executable, km.kernel_spec.argv
    return km


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    nb = _read(path)
    NotebookClient(nb, km=_kernel(), timeout=600,
                   resources={"metadata": {"path": str(NB_DIR)}}).execute()
    figures = sum("image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code"
                  for out in c.outputs)
    assert figures >= 1, f"{path.name} shows no figure"


#: notebooks whose cells once rebound a name to another type (a sympy symbol ``k`` to an int, a
#: dict ``lam`` to an array), so that re-running an earlier cell failed; and 06, whose "try it"
#: prompts ask for cells to be re-run
RERUN = [p for p in NOTEBOOKS if p.stem[:2] in ("01", "03", "06")]


@pytest.mark.slow
@pytest.mark.parametrize("path", RERUN, ids=lambda p: p.stem)
def test_notebook_survives_rerunning_its_cells(path):
    """Run all, then every code cell once more in the same kernel, last to first: each cell must
    still work after all the later cells have run (what "re-run this cell" does in Jupyter once
    the notebook has run), with no earlier cell re-run in between to restore its names."""
    nb = _read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = nb.cells + [nbformat.v4.new_code_cell(c.source) for c in reversed(code)]
    NotebookClient(nb, km=_kernel(), timeout=600,
                   resources={"metadata": {"path": str(NB_DIR)}}).execute()


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_run(path, capsys, monkeypatch):
    monkeypatch.chdir(NB_DIR)
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{path.name} printed nothing"
