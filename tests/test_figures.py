"""The main job: every figure script builds (smallest sizes), writes PNG + PDF, and REPORT.md
lists every check with no FAIL; a failing check, an error or a missing optional dependency each
change the outcome as documented."""
from __future__ import annotations

import importlib.util
import re
import sys
import types

import numpy as np
import pytest

from shortrun import cli
from shortrun.paper_figures import common, run

FIGURES = run.discover()
#: The figures that train JAX ConvNets even at --tiny size (about 55 s of the default suite's
#: budget, more with a cold JAX/numba cache; ``buffer`` for its panel (d)) are built by the slow
#: test_convnet_figures_build_and_pass; every other figure is built by the default suite.  The
#: exact parts of ``buffer`` are also checked by tests/test_buffer.py and notebook 06.
CONVNET_FIGURES = ["convnet", "reconstruction", "buffer"]
DEFAULT_FIGURES = [f for f in FIGURES if f not in CONVNET_FIGURES]


def _build(out, names):
    code = run.main(["--tiny", "--only", ",".join(names), "--out", str(out), "--no-progress"])
    return out, code, (out / "REPORT.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The default figures at --tiny size, once for this module: (out dir, exit status, report
    text)."""
    return _build(tmp_path_factory.mktemp("figures"), DEFAULT_FIGURES)


@pytest.mark.slow
def test_convnet_figures_build_and_pass(tmp_path):
    out, code, report = _build(tmp_path, CONVNET_FIGURES)
    sections = _sections(report)
    assert list(sections) == CONVNET_FIGURES
    for name, section in sections.items():
        if _status(section) == "SKIPPED":        # only without the optional 'deep' extra
            assert importlib.util.find_spec("jax") is None, section
            continue
        assert _status(section) == "PASS", section
        assert (out / f"{name}.png").is_file() and (out / f"{name}.pdf").is_file()
    assert code == 0


def test_every_figure_is_built_by_one_test():
    assert sorted(DEFAULT_FIGURES + CONVNET_FIGURES) == sorted(FIGURES)
    assert set(CONVNET_FIGURES) <= set(FIGURES)


def _sections(report):
    """{figure name: its section of the report}."""
    parts = re.split(r"^## ", report, flags=re.M)[1:]
    return {p.splitlines()[0].strip(): p for p in parts}


def _status(section):
    return re.search(r"Status: \*\*(\w+)\*\*", section).group(1)


def test_the_figure_scripts_are_found():
    assert {"relaxation", "fixed_point", "memory", "robustness"} <= set(FIGURES)
    assert FIGURES[:2] == ["relaxation", "fixed_point"]          # the papers' order first


def test_every_figure_builds_and_passes(built):
    out, code, report = built
    sections = _sections(report)
    assert list(sections) == DEFAULT_FIGURES
    for name, section in sections.items():
        status = _status(section)
        if status == "SKIPPED":                  # allowed only for a missing optional dependency
            root = re.search(r"optional dependency '(\w+)'", section).group(1)
            assert importlib.util.find_spec(root) is None, section
            continue
        assert status == "PASS", section
    assert code == 0


def test_every_figure_writes_png_and_pdf(built):
    out, _, report = built
    for name, section in _sections(report).items():
        if _status(section) == "SKIPPED":
            continue
        pngs = re.findall(r"^!\[[^\]]*\]\(([^)]+\.png)\)", section, flags=re.M)
        assert pngs, f"{name}: no figure embedded in the report"
        for png in pngs:
            for path in (out / png, (out / png).with_suffix(".pdf")):
                assert path.is_file() and path.stat().st_size > 1000, path


def _embedded(section):
    """The PNG files a report section embeds, in order."""
    return re.findall(r"^!\[[^\]]*\]\(([^)]+)\)", section, flags=re.M)


def _files(section):
    """The files a report section lists as written by its figure."""
    line = re.search(r"^Files: (.*)\.$", section, flags=re.M)
    return re.findall(r"`([^`]+)`", line.group(1)) if line else []


def test_each_section_embeds_only_its_own_figure(built):
    """Every real figure saves one figure ``<name>``: its section embeds that PNG and nothing
    else (no earlier figure's PNG), and lists exactly its PNG and PDF."""
    _, _, report = built
    for name, section in _sections(report).items():
        if _status(section) == "SKIPPED":
            assert _embedded(section) == [] and _files(section) == [], section
            continue
        assert _embedded(section) == [f"{name}.png"], (name, _embedded(section))
        assert _files(section) == [f"{name}.png", f"{name}.pdf"], (name, _files(section))


def test_report_lists_every_check_without_fail(built):
    _, _, report = built
    assert "**FAIL**" not in report
    assert report.count("| PASS |") >= 2 * len(DEFAULT_FIGURES)
    for name, section in _sections(report).items():
        if _status(section) == "SKIPPED":
            continue
        rows = [line for line in section.splitlines() if line.endswith("|")
                and ("| PASS |" in line)]
        assert rows, f"{name}: no check in the report"
        # a caption (the module docstring) and the tolerance column are there
        assert "| check | value | tolerance / target | result | detail |" in section
    head = report.split("\n## ", 1)[0]
    for word in ("mode: tiny", "numpy", "scipy", "numba", "shortrun", "total time"):
        assert word in head


# ---------------------------------------------------------------------------------------------
# outcomes: FAIL, ERROR and SKIPPED are reported, and set the exit status
# ---------------------------------------------------------------------------------------------
def _fake(monkeypatch, name, make, doc="A fake figure for the runner's tests."):
    module = types.ModuleType(run.module_name(name))
    module.__doc__ = doc
    module.make = make
    monkeypatch.setitem(sys.modules, run.module_name(name), module)


def _plot(ctx, name):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot(np.arange(3))
    common.save(fig, ctx, name)


def _passing(ctx):
    _plot(ctx, "fake_pass")
    return [common.check("fake_pass", "residual", 1e-14, "≤ 1e-10", True)]


def _failing(ctx):
    _plot(ctx, "fake_fail")
    return [common.check("fake_fail", "residual", 0.3, "≤ 1e-10", 0.3 <= 1e-10),
            common.check("fake_fail", "count", 3, "= 3", True)]


def _raising(ctx):
    raise ZeroDivisionError("a broken figure script")


def _needs_jax(ctx):
    raise ModuleNotFoundError("No module named 'jax'", name="jax")


def _run_fakes(tmp_path, monkeypatch, **makes):
    """Run only the fake figures ``name=make``; returns (exit status, report sections)."""
    for name, make in makes.items():
        _fake(monkeypatch, name, make)
    code = run.main(["--tiny", "--only", ",".join(makes), "--out", str(tmp_path),
                     "--no-progress"])
    return code, _sections((tmp_path / "REPORT.md").read_text(encoding="utf-8"))


def test_failing_check_sets_exit_status(tmp_path, monkeypatch):
    code, sections = _run_fakes(tmp_path, monkeypatch, fake_fail=_failing, fake_pass=_passing)
    assert code == 1
    assert _status(sections["fake_fail"]) == "FAIL"
    assert "| residual | 0.3000 | ≤ 1e-10 | **FAIL** |" in sections["fake_fail"]
    assert _status(sections["fake_pass"]) == "PASS"


def test_error_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    code, sections = _run_fakes(tmp_path, monkeypatch, fake_raise=_raising, fake_pass=_passing)
    assert code == 1
    assert _status(sections["fake_raise"]) == "ERROR"
    assert "ZeroDivisionError: a broken figure script" in sections["fake_raise"]
    assert _status(sections["fake_pass"]) == "PASS"
    assert (tmp_path / "fake_pass.png").stat().st_size > 0


def test_missing_optional_dependency_is_skipped(tmp_path, monkeypatch):
    code, sections = _run_fakes(tmp_path, monkeypatch, fake_jax=_needs_jax)
    assert code == 0
    section = sections["fake_jax"]
    assert _status(section) == "SKIPPED" and "optional dependency 'jax'" in section


def test_files_come_from_what_each_figure_saved(tmp_path, monkeypatch):
    """Figures run back to back (well within a second), a PNG left in the directory by an
    earlier run, a figure that saves two images and one that raises after saving: each section
    embeds and lists exactly what its own figure saved through common.save."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(tmp_path / "stale.png")                  # an earlier run's file, written just now
    plt.close(fig)

    def two(ctx):
        _plot(ctx, "fake_two_a")
        _plot(ctx, "fake_two_b")
        return [common.check("fake_two", "residual", 0.0, "≤ 1e-10", True)]

    def saves_then_raises(ctx):
        _plot(ctx, "fake_partial")
        raise ZeroDivisionError("after saving")

    code, sections = _run_fakes(tmp_path, monkeypatch, fake_pass=_passing, fake_two=two,
                                fake_partial=saves_then_raises, fake_again=_passing)
    assert code == 1 and list(sections) == ["fake_pass", "fake_two", "fake_partial", "fake_again"]
    expect = {"fake_pass": ["fake_pass"], "fake_two": ["fake_two_a", "fake_two_b"],
              "fake_partial": ["fake_partial"], "fake_again": ["fake_pass"]}
    for name, stems in expect.items():
        assert _embedded(sections[name]) == [f"{s}.png" for s in stems], name
        assert _files(sections[name]) == [f"{s}{x}" for s in stems for x in (".png", ".pdf")]
    assert _status(sections["fake_partial"]) == "ERROR"
    assert [_status(sections[n]) for n in ("fake_pass", "fake_two", "fake_again")] == ["PASS"] * 3


def test_figure_without_checks_fails(tmp_path, monkeypatch):
    code, sections = _run_fakes(tmp_path, monkeypatch,
                                fake_empty=lambda ctx: (_plot(ctx, "fake_empty"), [])[1])
    assert code == 1 and "no quantitative check" in sections["fake_empty"]


def test_command_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run.main(["--only", "no_such_figure", "--out", str(tmp_path)])
    assert "unknown figure" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(["--fast", "--full"])
    with pytest.raises(SystemExit):
        run.main(["--scheduler", "localhost:8786"])
    assert cli.main(["figures", "--list"]) == 0
    assert capsys.readouterr().out.split() == FIGURES
    try:                                             # delegated to shortrun.verify
        code = cli.main(["verify", "--help"])
    except SystemExit as stop:
        code = stop.code
    assert code == 0 and "shortrun verify" in capsys.readouterr().out
    assert cli.main(["no_such_command"]) == 2
    assert cli.main([]) == 2
    assert cli.main(["--help"]) == 0


# ---------------------------------------------------------------------------------------------
# command-line arguments: bad paths and addresses refused before any figure runs
# ---------------------------------------------------------------------------------------------
def _free_port():
    """A port nobody listens on (bound, then freed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_refuses_bad_folders_and_addresses_before_any_work(tmp_path, capsys, monkeypatch):
    def built(name, ctx):
        raise AssertionError("a figure ran before the arguments were refused")
    monkeypatch.setattr(run, "build", built)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for args, words in [(["--out", afile], "--out='{}' is a file, not a folder"),
                        (["--out", afile / "sub"], "which is a file"),
                        (["--cache-dir", afile], "--cache-dir='{}' is a file, not a folder"),
                        (["--scheduler", "tcp://"], "--scheduler='tcp://' has no host"),
                        (["--scheduler", "tcp://h"], "needs a port number"),
                        (["--scheduler", "udp://h:1"], "unknown protocol 'udp'"),
                        (["--scheduler", f"tcp://127.0.0.1:{_free_port()}"], "cannot reach"),
                        (["--out", ""], "argument --out: an empty path"),
                        (["--cache-dir", " "], "argument --cache-dir: an empty path")]:
        argv = ["figures", "--only", FIGURES[0], *map(str, args)]
        if "--out" not in argv:
            argv += ["--out", str(tmp_path / "out")]
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.splitlines()[-1].startswith("shortrun figures: error: ")
        assert words.format(afile) in err and "Traceback" not in err
    assert afile.read_text() == "x" and not (tmp_path / "out").exists()


def test_context_sizes(tmp_path):
    tiny = common.Context(tmp_path, tiny=True)
    fast = common.Context(tmp_path)
    full = common.Context(tmp_path, fast=False)
    assert (tiny.mode, fast.mode, full.mode) == ("tiny", "fast", "full")
    assert [c.size(2, 3, tiny=1) for c in (tiny, fast, full)] == [1, 2, 3]
    assert tiny.size(2, 3) == 2                 # no tiny size given: the fast one
