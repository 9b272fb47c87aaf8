"""The layers of docs/architecture.md, enforced: no import runs up a layer, no import circle.

Every ``import``/``from ... import`` in the package (lazy ones inside functions included) is read
with :mod:`ast`; a module may import its own layer or a lower one, never a higher one, and the
module graph has no cycle.  :data:`LAYERS` is the one table of layer numbers: the package
docstrings ("Layer n: ...") and the diagram of docs/architecture.md are checked against it.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import resolve_dotted

ROOT = Path(__file__).resolve().parents[1]

#: (package prefix, layer): lower layers never import higher ones (docs/architecture.md).  The
#: one source of the layer numbers; the first matching prefix wins.
LAYERS = [
    ("shortrun.conventions", 0),
    ("shortrun.theory", 1),
    ("shortrun.numerics.core", 1),
    ("shortrun.numerics.models", 2),
    ("shortrun.numerics.kernels", 3),
    ("shortrun.numerics.sampling", 4),
    ("shortrun.numerics.registry", 4),  # sees kernels and samplers: registers every model type
    ("shortrun.numerics.data", 5),
    ("shortrun.numerics.training", 6),
    ("shortrun.numerics.analysis", 7),
    ("shortrun.numerics.neural", 7),
    ("shortrun.numerics.sweeps", 8),
    ("shortrun.numerics", 8),          # the package __init__ only
    ("shortrun.paper_figures", 9),
    ("shortrun.cli", 10),
    ("shortrun", 10),
]
FOLDERS = {"shortrun": "shortrun", "theory": "shortrun.theory", "numerics": "shortrun.numerics",
           "paper_figures": "shortrun.paper_figures"}


def layer(module):
    for prefix, n in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return n
    return None


def modules():
    out = {}
    for folder, pkg in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([pkg] + parts)] = path
    return out


def imports(name, path):
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in found if m and m.split(".")[0] == "shortrun"}


MODULES = modules()
GRAPH = {n: {m for m in imports(n, p) if m in MODULES and m != n} for n, p in MODULES.items()}


def test_every_module_has_a_layer():
    assert [n for n in MODULES if layer(n) is None] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_upward_import(name):
    up = sorted(m for m in GRAPH[name] if layer(m) > layer(name)
                and not name.startswith(m + "."))  # a module may import its parent package's docs
    assert up == [], f"{name} (layer {layer(name)}) imports higher layers: {up}"


def test_no_private_theory_import_from_numerics():
    bad = [(n, m) for n, deps in GRAPH.items() if n.startswith("shortrun.numerics")
           for m in deps if m.startswith("shortrun.theory") and "._" in m[len("shortrun."):]]
    assert bad == []


def test_no_import_circle():
    # package __init__ files re-export their modules: an edge pkg -> pkg.mod is not a circle
    graph = {n: {m for m in deps if not m.startswith(n + ".")} for n, deps in GRAPH.items()}
    state, stack, cycles = {}, [], []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert cycles == []


#: docs/architecture.md's diagram rows: folder name -> package prefix of LAYERS.
DIAGRAM = {"shortrun.conventions": "shortrun.conventions", "theory/": "shortrun.theory",
           "core/": "shortrun.numerics.core", "models/": "shortrun.numerics.models",
           "kernels/": "shortrun.numerics.kernels", "sampling/": "shortrun.numerics.sampling",
           "registry.py": "shortrun.numerics.registry", "data/": "shortrun.numerics.data",
           "training/": "shortrun.numerics.training", "analysis/, neural/": "shortrun.numerics.analysis",
           "sweeps/": "shortrun.numerics.sweeps", "paper_figures/": "shortrun.paper_figures",
           "shortrun.cli, .verify": "shortrun.cli"}


@pytest.mark.parametrize("name", sorted(n for n, p in MODULES.items() if p.name == "__init__.py"))
def test_package_docstrings_give_the_layer_of_the_table(name):
    doc = ast.get_docstring(ast.parse(MODULES[name].read_text())) or ""
    said = [int(n) for n in re.findall(r"\bLayer (\d+)\b", doc)]
    assert all(n == layer(name) for n in said), (name, said, layer(name))


def test_every_numerics_subpackage_states_its_layer():
    missing = [n for n, p in MODULES.items() if p.name == "__init__.py"
               and n.count(".") == 2 and n.startswith("shortrun.numerics.")
               and n != "shortrun.numerics.neural"  # optional extra: says where it sits in prose
               and not re.match(r"Layer \d+:", ast.get_docstring(ast.parse(p.read_text())) or "")]
    assert missing == []


def test_the_architecture_diagram_gives_the_layers_of_the_table():
    text = (ROOT / "docs" / "architecture.md").read_text()
    diagram = text[text.index("## The layers"):text.index("A module may import")]
    rows = {}
    for line in diagram.splitlines():
        m = re.match(r"^[\s│├└─]*(\S.*?)\s{2,}(\d+)\s", line + " ")
        if m:
            rows[m.group(1)] = int(m.group(2))
    assert set(rows) == set(DIAGRAM), sorted(rows)
    assert {row: n for row, n in rows.items() if n != layer(DIAGRAM[row])} == {}


def test_protocol_names_are_declared_once():
    """The tuples of protocol names live in shortrun/conventions.py only (PROTOCOLS,
    SAMPLED_PROTOCOLS); every other module imports them."""
    bad = []
    for name, path in MODULES.items():
        if name == "shortrun.conventions":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List)) and {"rdm", "cd", "pcd"} <= {
                    e.value for e in node.elts if isinstance(e, ast.Constant)}:
                bad.append(f"{name}:{node.lineno}")
    assert bad == []


def test_both_trainers_share_one_core():
    """The exact and the Monte Carlo trainer validate, update, diagnose divergence and
    fingerprint checkpoints through training/core.py, not each with its own copy."""
    for name in ("exact.py", "monte_carlo.py"):
        text = (ROOT / "numerics" / "training" / name).read_text()
        for call in ("core.start(", "core.heavy_ball(", "core.divergence_error(",
                     "core.checkpointer(", "core.result_message(", "check_rates("):
            assert call in text, (name, call)
        assert "momentum * velocity" not in text and "DivergenceMonitor(theta_max" not in text, name


def test_training_names_no_concrete_model():
    """Training works through the model interface only (docs/architecture.md)."""
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "numerics" / "training").rglob("*.py")
            if "BoltzmannMachine" in p.read_text() or "BMKernel" in p.read_text()]
    assert hits == []


#: Words that would point at files beside the checkout (spelt in pieces so this file has none).
#: words that would point outside the checkout (whole words: SPECTRUM_COLOURS is no reference)
OUTSIDE = re.compile(r"\b" + "SP" + r"EC\b|\.\./" + "shared")


def test_nothing_points_outside_the_repository():
    """Docs and code cite docs/theory.md, never a file beside the checkout."""
    bad = []
    for folder in ("shortrun", "theory", "numerics", "paper_figures", "docs", "notebooks",
                   "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".ipynb") and path != Path(__file__):
                text = path.read_text()
                if OUTSIDE.search(text):
                    bad.append(str(path.relative_to(ROOT)))
    assert sorted(bad) == []


#: A dotted name of the package, e.g. ``shortrun.numerics.core.states.from01`` (not the prefix of
#: an f-string such as ``f"shortrun.paper_figures.fig_{name}"``).
DOTTED = re.compile(r"shortrun(?:\.[A-Za-z_]\w*)+(?![\w{])")


def resolves(name):
    """True if ``name`` is a module of the package or an attribute path below one."""
    try:
        resolve_dotted(name)
    except (ImportError, AttributeError):
        return False
    return True


def test_every_dotted_name_in_messages_and_docs_resolves():
    """Every ``shortrun.…`` name that an error message, a docstring, a comment, the README or
    docs/ cites imports and resolves (a message naming ``shortrun.numerics.states.from01()``
    after the function moved to ``core.states`` sends the user nowhere)."""
    files = [p for folder in FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]
    files += [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    names = {}
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for name in DOTTED.findall(line):
                names.setdefault(name, f"{path.relative_to(ROOT)}:{n}")
    assert len(names) > 100   # the scan sees the names (the docs alone cite about 150)
    assert sorted(f"{where}: {name}" for name, where in names.items() if not resolves(name)) == []
