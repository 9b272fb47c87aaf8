"""One home for figure style: every figure script and teaching notebook draws with
``shortrun.paper_figures.style`` (protocol and rule colours and labels, font sizes, panel
letters), none sets a font size by a literal number or keeps its own colour table, the runner
applies the style around every figure, and the style refuses names it does not know.

The scans are parametrized over the files that exist, so a new figure script or notebook is
scanned the day it is added; a file that is not migrated yet is listed in :data:`NOT_MIGRATED`
with its reason and fails loudly (strict xfail) once it is."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from shortrun.paper_figures import style

ROOT = Path(__file__).resolve().parents[1]
FIGURES = sorted((ROOT / "paper_figures").glob("fig_*.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: files not migrated yet on this branch (strict xfail: the test fails once they are, so the
#: entry is removed then)
NOT_MIGRATED: dict = {}
#: keyword arguments that set a font size
SIZE_KEYWORDS = {"fontsize", "labelsize", "title_fontsize", "titlesize", "size_fontsize"}
#: a literal colour: "C3", "#1f77b4", a grey level "0.45", or a named colour
_COLOUR = re.compile(r"^(C\d|#[0-9a-fA-F]{3,8}|0?\.\d+|1\.0|k|r|g|b|w|c|m|y|black|white|red|"
                     r"blue|green|orange|purple|grey|gray|tab:[a-z]+)$")


def _code(path: Path) -> str:
    """The Python source of a figure script, or the code cells of a notebook (IPython magics and
    shell lines commented out)."""
    if path.suffix == ".py":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            for line in "".join(cell["source"]).splitlines():
                lines.append("# " + line if line.lstrip().startswith(("%", "!")) else line)
    return "\n".join(lines)


def _tree(path: Path) -> ast.Module:
    return ast.parse(_code(path), filename=str(path))


def _params(paths):
    out = []
    for p in paths:
        marks = ()
        if p.name in NOT_MIGRATED:
            marks = pytest.mark.xfail(strict=True, reason=NOT_MIGRATED[p.name])
        out.append(pytest.param(p, id=p.name, marks=marks))
    return out


def _is_colour(node) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_COLOUR.match(node.value))
    if isinstance(node, ast.JoinedStr):       # f"C{j}": an indexed palette
        head = node.values[0] if node.values else None
        return isinstance(head, ast.Constant) and head.value == "C"
    return False


def _carries_colour(node) -> bool:
    """A value of a table that is (or holds at its top level) a literal colour: "C0",
    ("C0", "o"), dict(color="C0", ...), {"color": "C0"}."""
    if _is_colour(node):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return any(_is_colour(e) for e in node.elts)
    if isinstance(node, ast.Call):
        return any(kw.arg in ("color", "colour", "c") and _is_colour(kw.value)
                   for kw in node.keywords)
    if isinstance(node, ast.Dict):
        return any(isinstance(k, ast.Constant) and k.value in ("color", "colour")
                   and _is_colour(v) for k, v in zip(node.keys, node.values))
    return False


def colour_tables(tree: ast.AST) -> list[str]:
    """Local colour tables: dicts (displays, comprehensions, ``dict(...)``) whose values carry a
    literal colour, tuples or lists of two or more literal colours (a palette), and indexed
    palettes ``f"C{j}"``; each as ``line N: source``."""
    found = []
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.Dict):
            hit = any(v is not None and _carries_colour(v) for v in node.values)
        elif isinstance(node, ast.DictComp):
            hit = _carries_colour(node.value)
        elif isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            hit = _is_colour(node.elt)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            hit = sum(_is_colour(e) for e in node.elts) >= 2
        elif isinstance(node, ast.JoinedStr):
            hit = _is_colour(node)
        if hit:
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


def literal_font_sizes(tree: ast.AST) -> list[str]:
    """Font sizes given as literals: ``fontsize=7``, ``labelsize="small"``, ``title_fontsize=6``,
    and rcParams font sizes set by hand (``rcParams["font.size"] = 8``, ``plt.rc(..., size=8)``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in SIZE_KEYWORDS \
                and isinstance(node.value, ast.Constant):
            found.append(f"{node.arg}={node.value.value!r}")
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str) and "size" in node.slice.value \
                and "rcParams" in ast.unparse(node.value):
            found.append(ast.unparse(node))
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(("plt.rc", "matplotlib.rc")):
            found += [f"{ast.unparse(node.func)}(..., {kw.arg}=...)" for kw in node.keywords
                      if kw.arg and "size" in kw.arg]
    return found


def local_style_names(tree: ast.Module) -> list[str]:
    """Module-level tables under the old names: COLOR(S), COLOUR(S), LABEL(S), STYLE, ... bound
    to a dict (a label table is the style's, as much as a colour table)."""
    bad = re.compile(r"^[A-Z_]*(COLOU?RS?|LABELS?|STYLES?|MARKS)$")
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        table = isinstance(value, (ast.Dict, ast.DictComp)) or (
            isinstance(value, ast.Call) and ast.unparse(value.func) == "dict")
        found += [t.id for t in targets if isinstance(t, ast.Name) and bad.match(t.id) and table]
    return found


def uses_style(tree: ast.AST) -> bool:
    """``from shortrun.paper_figures import style`` (or ``import shortrun.paper_figures.style``)
    and at least one ``style.<name>`` used."""
    imported = any(
        (isinstance(n, ast.ImportFrom) and n.module == "shortrun.paper_figures"
         and any(a.name == "style" and a.asname in (None, "style") for a in n.names))
        for n in ast.walk(tree))
    used = any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
               and n.value.id == "style" for n in ast.walk(tree))
    return imported and used


# ---------------------------------------------------------------------------------------------
# the scanners find what they look for (a scanner that finds nothing checks nothing)
# ---------------------------------------------------------------------------------------------
def test_the_scanners_find_the_old_habits():
    old = ast.parse(
        'COLORS = {"rdm": "C3", "cd": "C0"}\n'
        'SCAN_STYLE = {"random": ("C0", "o")}\n'
        'STYLE = {2: dict(marker="o", color="C0")}\n'
        'colors = {b: f"C{j}" for j, b in enumerate(bs)}\n'
        'for lam, color in zip(lams, ("C4", "C0", "C1")):\n    pass\n'
        'ax.set_title("x", fontsize=9)\nax.legend(fontsize="small")\n'
        'ax.tick_params(labelsize=7)\nplt.rcParams["font.size"] = 8\n'
        'ERROR_LABEL = "coupling error"\n')
    assert len(colour_tables(old)) >= 5, colour_tables(old)
    assert len(literal_font_sizes(old)) == 4, literal_font_sizes(old)
    assert local_style_names(old) == ["COLORS", "SCAN_STYLE", "STYLE"]
    assert not uses_style(old)
    new = ast.parse("from shortrun.paper_figures import style\n"
                    'ax.plot(x, y, **style.protocol("rdm", k=5))\n'
                    'ax.set_title("x", fontsize=style.FONT["title"])\n'
                    'ax.axhline(1, color="0.6")\n')
    assert uses_style(new)
    assert colour_tables(new) == [] and literal_font_sizes(new) == []


def test_every_figure_script_and_notebook_is_scanned():
    names = {p.name for p in FIGURES}
    assert {"fig_relaxation.py", "fig_rbm.py", "fig_buffer.py"} <= names and len(names) >= 12
    assert len(NOTEBOOKS) >= 5
    assert set(NOT_MIGRATED) <= names, "an entry of NOT_MIGRATED names no figure script"


# ---------------------------------------------------------------------------------------------
# figure scripts and notebooks
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", _params(FIGURES + NOTEBOOKS))
def test_draws_with_the_style_module(path):
    assert uses_style(_tree(path)), (
        f"{path.name} does not draw with shortrun.paper_figures.style "
        "(`from shortrun.paper_figures import style`; style.protocol/rule/panel/FONT)")


@pytest.mark.parametrize("path", _params(FIGURES + NOTEBOOKS))
def test_no_literal_font_size(path):
    found = literal_font_sizes(_tree(path))
    assert not found, (f"{path.name} sets font sizes by hand: {found}; use the rcParams of "
                       "style.context()/style.apply() or style.FONT[...]")


@pytest.mark.parametrize("path", _params(FIGURES + NOTEBOOKS))
def test_no_local_colour_table(path):
    tree = _tree(path)
    found = colour_tables(tree) + local_style_names(tree)
    assert not found, (f"{path.name} keeps its own colours or labels: {found}; use "
                       "style.protocol/rule/kernel/model/ramp (add a key to style.py if needed)")


@pytest.mark.parametrize("path", _params(NOTEBOOKS))
def test_notebook_applies_the_style_before_drawing(path):
    """``style.apply()`` runs in the first code cell that imports matplotlib, so every figure of
    the notebook (and a re-run of any cell) draws with the same rcParams."""
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "code"]
    first = next("".join(c["source"]) for c in cells if "matplotlib" in "".join(c["source"]))
    assert "style.apply()" in first, f"{path.name}: call style.apply() where matplotlib is imported"


# ---------------------------------------------------------------------------------------------
# the runner applies the style around every figure
# ---------------------------------------------------------------------------------------------
def test_the_runner_draws_every_figure_in_the_style(tmp_path, monkeypatch):
    import sys
    import types

    import matplotlib
    matplotlib.use("Agg")
    from shortrun.paper_figures import common, run

    seen = {}

    def make(ctx):                  # draws nothing (saving a figure would only cost time)
        seen.update(legend=matplotlib.rcParams["legend.fontsize"],
                    tick=matplotlib.rcParams["xtick.labelsize"])
        return [common.check("probe", "one", 1.0, "= 1", True)]

    module = types.ModuleType(run.module_name("style_probe"))
    module.make, module.__doc__ = make, "A probe."
    monkeypatch.setitem(sys.modules, module.__name__, module)
    before = matplotlib.rcParams["legend.fontsize"]
    res = run.build("style_probe", common.Context(tmp_path, progress=False))
    assert res.checks and "wrote no PNG" in res.message      # make() ran to its end
    assert seen == {"legend": style.FONT["legend"], "tick": style.FONT["tick"]}
    assert matplotlib.rcParams["legend.fontsize"] == before     # restored afterwards


# ---------------------------------------------------------------------------------------------
# the style module itself
# ---------------------------------------------------------------------------------------------
def test_one_colour_and_label_per_protocol_and_rule():
    assert style.protocol("rdm", k=5) == {"color": style.PROTOCOL_COLOURS["rdm"],
                                          "label": "Rdm-5"}
    assert style.protocol_label("cd") == "CD-k"
    assert style.protocol("pcd", 3, ls="--")["ls"] == "--"
    assert style.rule("metropolis")["label"] == "Metropolis"
    k = style.kernel("heatbath", "sequential")
    assert k == {"color": style.RULE_COLOURS["heatbath"], "marker": style.SCAN_MARKERS["sequential"],
                 "label": "heat bath, sequential scan"}
    assert style.model("rbm")["label"] == "RBM"
    assert set(style.PROTOCOL_COLOURS) == set(style.PROTOCOL_LABELS)
    assert set(style.RULE_COLOURS) == set(style.RULE_LABELS)
    assert set(style.MODEL_COLOURS) == set(style.MODEL_LABELS)
    assert set(style.SCAN_MARKERS) <= set(style.RULE_LABELS)
    # the protocols are told apart by colour
    shown = [style.PROTOCOL_COLOURS[p] for p in ("rdm", "cd", "pcd", "buffer", "ml", "data")]
    assert len(set(shown)) == len(shown)


def test_letters_ramp_and_fonts():
    assert style.letter(0) == "(a)" and style.letter(3) == "(d)" and style.letter("c") == "(c)"
    assert style.letter("a–d") == "(a–d)" and style.letter("a, b") == "(a, b)"
    ramp = style.ramp(4)
    assert len(ramp) == 4 and len(set(ramp)) == 4 and all(len(c) == 4 for c in ramp)
    assert style.font("legend") == style.FONT["legend"]
    rc = style.rc()
    assert rc["axes.titlesize"] == style.FONT["title"] and rc["legend.fontsize"] == style.FONT["legend"]


def test_panel_sets_a_lettered_title():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    style.panel(ax, 1, "mismatch")
    assert ax.get_title() == "(b) mismatch"
    assert ax.title.get_fontsize() == style.FONT["title"]
    plt.close(fig)


@pytest.mark.parametrize("call, match", [
    (lambda: style.protocol("rmd"), "unknown protocol 'rmd'"),
    (lambda: style.protocol_colour("CD"), "unknown protocol 'CD'"),
    (lambda: style.protocol_label("bogus", 3), "unknown protocol"),
    (lambda: style.rule("heat-bath"), "unknown rule 'heat-bath'"),
    (lambda: style.rule_colour("gibbs"), "unknown rule"),
    (lambda: style.rule_label(None), "unknown rule None"),
    (lambda: style.kernel("heatbath", "diagonal"), "unknown scan 'diagonal'"),
    (lambda: style.kernel("glauber", "random"), "unknown rule 'glauber'"),
    (lambda: style.scan_marker("langevin"), "unknown scan"),
    (lambda: style.model("hopfield"), "unknown model"),
    (lambda: style.reference("floor"), "unknown reference element"),
    (lambda: style.font("huge"), "unknown font element"),
    (lambda: style.letter(26), "0..25"),
    (lambda: style.letter(-1), "0..25"),
    (lambda: style.letter("A"), "not a panel letter"),
    (lambda: style.letter("(a)"), "not a panel letter"),
    (lambda: style.ramp(0), "positive integer"),
    (lambda: style.ramp(2.5), "positive integer"),
    (lambda: style.panel(None, "ab c", "x"), "not a panel letter"),
])
def test_unknown_names_are_refused(call, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        call()
