"""Every teaching notebook runs top to bottom; its claims are ``assert`` statements, so a
notebook whose numbers drift from the theory fails here."""
import runpy
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


def test_notebooks_are_found():
    assert len(NOTEBOOKS) >= 2, "notebooks/NN_*.py not found next to tests/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, capsys):
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{path.name} printed nothing"
