"""The documentation site: it builds with warnings as errors, a stale reference fails the build,
the theory page links its functions, and in a real browser (headless Chromium) the maths renders
and a notebook page shows its figures.  Screenshots go to ``build/docs/screenshots``.

The full build executes the notebooks (cached in ``build/docs/jupyter_cache``) and takes minutes
the first time: those tests are ``slow``.  ``python3 tasks.py docs --browser-test`` builds the
site once and runs them on it (``SHORTRUN_DOCS_BUILT`` names the built site)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import resolve_dotted

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "docs" / "screenshots"
#: the pages opened in the browser: (page, what it must show)
MATH_PAGES = ("notebooks/03_gaussian_model.html", "docs/api/generated/shortrun.theory.gaussian.html",
              "docs/api/generated/shortrun.numerics.training.fixed_point.html")
NOTEBOOK_PAGE = "notebooks/02_fixed_point_theorem.html"

def _needs_sphinx():
    pytest.importorskip("sphinx", reason="the docs extra is not installed: "
                        "`python3 tasks.py docs` installs it")


def _tasks():
    spec = importlib.util.spec_from_file_location("shortrun_tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(out: Path, src: Path = ROOT) -> subprocess.CompletedProcess:
    cmd = _tasks().docs_command(out)
    cmd[cmd.index(str(ROOT))] = str(src)  # the source directory (the repository by default)
    return subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True)


# ---------------------------------------------------------------------------------------------
# a stale reference fails the build (a one-page site with the project's configuration)
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow  # ~15 s: the configuration imports every module for the API pages
def test_a_stale_reference_fails_the_build(tmp_path):
    _needs_sphinx()
    src = tmp_path / "src"
    (src / "docs").mkdir(parents=True)
    (src / "docs" / "index.md").write_text(
        "# Stale\n\nSee {py:func}`shortrun.numerics.states.from01`.\n", encoding="utf-8")
    done = _build(tmp_path / "html", src)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "shortrun.numerics.states.from01" in done.stderr, done.stderr


# ---------------------------------------------------------------------------------------------
# the notebooks link the API pages of what they use (checked without a build)
# ---------------------------------------------------------------------------------------------
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: a link of a notebook's Markdown to an API page: [`text`](#shortrun.dotted.name) (MyST resolves
#: it to the object's entry; -n -W fails the build if it does not)
API_LINK = re.compile(r"\]\(#(shortrun(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\)")
#: a code span of the text that may name a function: `kernels.law` or `kernels.law(model, p0, k)`
_SPAN = re.compile(r"`([A-Za-z_][A-Za-z0-9_.]*)(?:\([^`]*\))?`")


def _cells(path, kind):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == kind]


def _object(dotted):
    """The object a dotted name names, as Python's attribute access finds it: an attribute of the
    object so far (``training.problem`` is the function a package re-exports over its module of
    the same name), else the submodule of that name; None if neither exists."""
    import importlib
    head, *rest = dotted.split(".")
    try:
        obj = importlib.import_module(head)
    except ImportError:
        return None
    for attr in rest:
        if hasattr(obj, attr):
            obj = getattr(obj, attr)
            continue
        try:
            obj = importlib.import_module(f"{obj.__name__}.{attr}")
        except (ImportError, AttributeError):
            return None
    return obj


def _documented(dotted):
    """The object autodoc documents under ``dotted`` (its module imported by the longest
    importable prefix, then attributes: a module shadowed by a function keeps its members), or
    None."""
    try:
        return resolve_dotted(dotted)
    except (ImportError, AttributeError):
        return None


def _home(obj):
    """Where autodoc documents ``obj``: its defining module and qualified name, for a function, a
    class or a method of the package (else None)."""
    import inspect
    inner = getattr(obj, "py_func", obj)           # a numba dispatcher: its Python function
    if inspect.ismodule(inner) or not callable(inner):
        return None
    module, name = getattr(inner, "__module__", "") or "", getattr(inner, "__qualname__", "")
    if not module.startswith("shortrun.") or module == "shortrun.paper_figures.style" \
            or "<" in name:
        return None
    return f"{module}.{name}"


def _notebook_names(path):
    """The package's functions and classes a notebook uses: every ``alias.attr...`` of its code
    whose alias it imports from ``shortrun``, and every code span of its text that names one (as
    ``alias.attr`` or relative to ``shortrun.numerics``/``shortrun.theory``); as their homes."""
    import ast
    code = "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line
                     for cell in _cells(path, "code") for line in cell.splitlines())
    tree = ast.parse(code)
    alias = {a.asname or a.name: f"{n.module}.{a.name}" for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("shortrun")
             for a in n.names}
    dotted = set()
    for node in ast.walk(tree):
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in alias:
            dotted.add(".".join([alias[node.id], *reversed(chain)]))
    for text in _cells(path, "markdown"):
        for name in _SPAN.findall(text):
            head, _, rest = name.partition(".")
            full = [alias[head] + (f".{rest}" if rest else "")] if head in alias else []
            full += [f"shortrun.numerics.{name}", f"shortrun.theory.{name}"]
            dotted.add(next((f for f in full if _home(_object(f))), full[0]))
    return {h for h in (_home(_object(d)) for d in dotted) if h}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_links_the_api_page_of_every_function_it_uses(path):
    """Each function or class of the package that a notebook's code uses or its text names has a
    link to its API page in the notebook's Markdown, and each such link names an object at its
    home (where autodoc documents it), so the link resolves in the built site."""
    links = {m for text in _cells(path, "markdown") for m in API_LINK.findall(text)}
    stale = sorted(t for t in links if _home(_documented(t)) != t)
    assert not stale, f"{path.name}: API links that do not name an object at its home: {stale}"
    used = _notebook_names(path)
    assert len(used) >= 5, (path.name, used)       # the scan does find the functions
    missing = sorted(used - links)
    assert not missing, (f"{path.name} uses these without a link to their API page "
                         f"([`name`](#dotted.name) in a Markdown cell): {missing}")


# ---------------------------------------------------------------------------------------------
# the full site
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site() -> Path:
    """The built site: the one ``tasks.py docs --browser-test`` just built, or built here."""
    _needs_sphinx()
    built = os.environ.get("SHORTRUN_DOCS_BUILT")
    if built:
        return Path(built)
    out = ROOT / "build" / "docs" / "test-html"
    done = _build(out)
    assert done.returncode == 0, f"the docs build failed:\n{done.stderr[-6000:]}"
    return out


class _Links(HTMLParser):
    """The internal links of a page and the ``math`` elements Sphinx wrote into it."""

    def __init__(self):
        super().__init__()
        self.api_links, self.math, self.images = [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        href = a.get("href") or ""
        if tag == "a" and "internal" in classes and "api/generated/" in href \
                and re.search(r"#(module-)?shortrun\.", href):
            self.api_links.append(a["href"])
        if tag in ("span", "div") and "math" in classes:
            self.math += 1
        if tag == "img":
            self.images.append(a.get("src") or "")


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.mark.slow
def test_theory_page_links_every_function_it_names(site):
    """Every `shortrun.` name written in docs/theory.md is a link to its API page."""
    text = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")
    named = re.findall(r"(?<![`{])`(shortrun(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`", text)
    links = _parse(site / "docs" / "theory.html").api_links
    assert len(named) >= 50
    assert len(links) == len(named), (len(links), len(named))
    for href in set(links):  # each link lands on a page that exists
        assert (site / "docs" / href.split("#")[0]).is_file(), href


@pytest.mark.slow
def test_docstring_tags_link_to_the_theory_page(site):
    """An equation tag a docstring cites, "(Gc)", is a link to its heading on the theory page."""
    page = (site / "docs" / "api" / "generated" / "shortrun.theory.gaussian.html").read_text(
        encoding="utf-8")
    theory = (site / "docs" / "theory.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="[^"#]*theory\.html#(theory-[a-z0-9]+)"', page))
    assert {"theory-ga", "theory-gc"} <= links, sorted(links)
    for anchor in links:
        assert f'id="{anchor}"' in theory, anchor


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_api_links_land_on_api_pages(site, path):
    """Every API link of a notebook is, on its page of the site, a link to the object's entry."""
    targets = {m for text in _cells(path, "markdown") for m in API_LINK.findall(text)}
    hrefs = _parse(site / "notebooks" / f"{path.stem}.html").api_links
    landed = {h.split("#", 1)[1] for h in hrefs}
    assert targets and targets <= landed, sorted(targets - landed)
    for href in set(hrefs):
        assert (site / "notebooks" / href.split("#")[0]).is_file(), href


# ---------------------------------------------------------------------------------------------
# in a real browser
# ---------------------------------------------------------------------------------------------
def _chromium() -> str:
    """Debian's chromium; installed (apt-get) when missing and running as root."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True,
                       capture_output=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        found = shutil.which("chromium")
    if not found:
        pytest.skip("headless Chromium is missing: `apt-get install chromium` (as root)")
    return found


@pytest.fixture(scope="module")
def browser() -> str:
    return _chromium()


#: Run in the page after load (and after MathJax has typeset): what the browser really shows.
_PROBE = """<script>
window.addEventListener('load', function () {
  function report() {
    var imgs = Array.prototype.slice.call(document.images);
    var out = {
      math: document.querySelectorAll('mjx-container').length,
      errors: document.querySelectorAll('mjx-merror').length,
      images: imgs.map(function (i) {
        return [i.getAttribute('src'), i.complete ? i.naturalWidth : 0, i.naturalHeight]; })
    };
    var pre = document.createElement('pre');
    pre.id = 'shortrun-probe';
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(report, report);
  } else { report(); }
});
</script></body>"""


def _run(browser: str, *args: str) -> str:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--allow-file-access-from-files", "--hide-scrollbars", "--virtual-time-budget=20000",
           *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _probe(browser: str, page: Path) -> dict:
    """Open a copy of ``page`` (next to it, so its relative links hold) with the probe script."""
    copy = page.with_name(page.stem + ".probe.html")
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE, 1),
                    encoding="utf-8")
    try:
        dom = _run(browser, "--dump-dom", copy.as_uri())
    finally:
        copy.unlink()
    found = re.search(r'<pre id="shortrun-probe">(.*?)</pre>', dom, flags=re.S)
    assert found, f"the probe did not report for {page.name}:\n{dom[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                      .replace("&lt;", "<").replace("&gt;", ">"))


def _screenshot(browser: str, page: Path, name: str, height: int = 2400) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    png = SHOTS / f"{name}.png"
    png.unlink(missing_ok=True)
    _run(browser, f"--screenshot={png}", f"--window-size=1280,{height}", page.as_uri())
    assert png.is_file() and png.stat().st_size > 10_000, png
    return png


@pytest.mark.slow
@pytest.mark.parametrize("page", MATH_PAGES)
def test_the_maths_renders_in_the_browser(site, browser, page):
    """MathJax (shipped in the site, no network) typesets every formula Sphinx wrote."""
    path = site / page
    written = _parse(path).math
    assert written >= 3, f"{page} has {written} formulas: the check would be empty"
    seen = _probe(browser, path)
    assert seen["errors"] == 0, seen
    assert seen["math"] >= written, f"{page}: {seen['math']} of {written} formulas typeset"
    _screenshot(browser, path, Path(page).stem)


@pytest.mark.slow
def test_a_notebook_page_shows_its_figures(site, browser):
    """The executed notebook's figures are on its page and decode in the browser."""
    path = site / NOTEBOOK_PAGE
    written = [src for src in _parse(path).images if "_images/" in src or src.startswith("data:")]
    assert len(written) >= 1, f"{NOTEBOOK_PAGE} has no figure"
    seen = _probe(browser, path)
    decoded = {src: (w, h) for src, w, h in seen["images"]}
    for src in written:
        w, h = decoded.get(src, (0, 0))
        assert w >= 100 and h >= 100, f"{src} did not render ({w}×{h})"
    _screenshot(browser, path, "notebook_02", height=4000)


@pytest.mark.slow
def test_gallery_shows_every_figure_with_its_caption(site):
    """One section per figure script, with the script's caption; its image when the figure has
    been made (``results/figures``, or ``SHORTRUN_DOCS_FIGURES``), else the command that makes
    it."""
    import html
    from shortrun.paper_figures import run as figures_run
    page = html.unescape((site / "docs" / "gallery.html").read_text(encoding="utf-8"))
    text = " ".join(re.sub(r"<[^>]+>", "", page).split())
    made = Path(os.environ.get("SHORTRUN_DOCS_FIGURES", ROOT / "results" / "figures"))
    names = figures_run.discover()
    assert len(names) >= 10
    for name in names:
        doc = importlib.import_module(figures_run.module_name(name)).__doc__
        assert f'id="figure-{name.replace("_", "-")}"' in page, name
        assert " ".join(doc.split()[:8]) in text, name
        if (made / f"{name}.png").is_file():
            assert re.search(rf'<img[^>]+alt="figure {name}"', page), name
        else:
            assert f"python3 tasks.py figures --only {name}" in text, name
