"""docs/theory.md is complete and true to the code: every equation tag cited in a docstring has its
heading, every dotted ``shortrun.`` name written on the page imports, and every test it cites
exists."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import resolve_dotted as _resolve

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "theory.md"
#: a tag as docstrings cite it: (G1)..(G9), (Ga)..(Gz), (Ia)..(Iz), or U/S/M/R/W/E/L/B/P + digit
TAG = re.compile(r"\(((?:[GUSMRWELBP][0-9])|(?:G[a-z])|(?:I[a-z]))\)")
NAME = re.compile(r"`(shortrun\.[A-Za-z0-9_.]+)`")
TEST = re.compile(r"`(tests/[A-Za-z0-9_/]+\.py)::([A-Za-z0-9_]+)`")
IN_PROGRESS = "(implementation: in progress)"


def _text():
    return PAGE.read_text(encoding="utf-8")


def _headings():
    return [line for line in _text().splitlines() if line.startswith("#")]


def _docstrings():
    """(path, docstring) of every module, class and function under numerics/, theory/, shortrun/."""
    for folder in ("numerics", "theory", "shortrun"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node, clean=False)
                    if doc:
                        yield path.relative_to(ROOT), doc


def _cited_tags():
    cited = {}
    for path, doc in _docstrings():
        for tag in TAG.findall(doc):
            cited.setdefault(tag, set()).add(str(path))
    return cited


def test_every_tag_cited_in_a_docstring_has_a_heading():
    headed = {tag for line in _headings() for tag in TAG.findall(line)}
    cited = _cited_tags()
    assert len(cited) >= 20  # the docstrings do cite the page
    missing = {tag: sorted(paths) for tag, paths in cited.items() if tag not in headed}
    assert not missing, f"tags cited in docstrings without a heading in docs/theory.md: {missing}"


def test_every_tag_has_one_heading():
    tags = [tag for line in _headings() for tag in TAG.findall(line)]
    assert len(tags) == len(set(tags)), sorted(t for t in tags if tags.count(t) > 1)
    expected = {"G1", "G2", "G3", "G4", "G5", "U1", "U2", "Ga", "Gb", "Gc", "Gd", "Ge", "Gm", "S1", "S2",
                "Ia", "Ib", "Ic", "M1", "M2", "R1", "R2", "R3", "P1", "P2", "P3", "P4", "W1", "E1", "E2", "E3",
                "E4", "E5", "L1", "L2", "L3", "L4", "B1", "B2", "B3", "G6", "G7", "G8"}
    assert set(tags) == expected


def _names_on_page():
    names = set()
    for line in _text().splitlines():
        if IN_PROGRESS not in line:
            names.update(NAME.findall(line))
    return sorted(names)


def test_page_names_functions():
    assert len(_names_on_page()) > 100


@pytest.mark.parametrize("dotted", _names_on_page())
def test_every_named_function_exists(dotted):
    try:
        _resolve(dotted)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"docs/theory.md names `{dotted}`, which does not import: {exc!r}")


def _tests_on_page():
    return sorted(set(TEST.findall(_text())))


def _test_names(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_cited_test_exists():
    cited = _tests_on_page()
    assert len(cited) > 80
    missing = [f"{path}::{name}" for path, name in cited
               if not (ROOT / path).is_file() or name not in _test_names(path)]
    assert not missing, f"docs/theory.md cites tests that do not exist: {missing}"


def test_every_section_says_what_computes_and_what_checks():
    """Each tagged section names at least one function and one test (or says it is in progress)."""
    sections = re.split(r"\n(?=### )", _text())
    for section in sections:
        tags = TAG.findall(section.splitlines()[0]) if section.startswith("### ") else []
        if not tags:
            continue
        assert "Computed by:" in section and ("`shortrun." in section or IN_PROGRESS in section), tags
        assert "Checked by:" in section and "`tests/" in section, tags


def test_the_page_points_nowhere_outside_the_repository():
    """(The words that name files beside the checkout are checked by test_architecture.)"""
    text = _text()
    assert "../" not in text and "shared/" not in text
    assert not re.search(r"\bissue\s*#?\d", text, re.IGNORECASE)
