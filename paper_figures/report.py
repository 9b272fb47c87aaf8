"""REPORT.md: the verification report written beside the figures.

One table of figures (status, checks, time), the run's mode, time and versions, then per figure
the files it wrote (what :func:`shortrun.paper_figures.common.save` recorded for it, nothing
else), its image, its caption and the table of its checks (value, tolerance or target, PASS/FAIL).
"""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from pathlib import Path

import numpy as np

#: Packages whose versions the report states (JAX only when installed).
PACKAGES = ("numpy", "scipy", "numba", "matplotlib", "shortrun", "jax")

MODES = {"fast": "fast (small grids; the whole run in at most 10 minutes on 2 cores)",
         "full": "full (paper-size grids)",
         "tiny": "tiny (test mode: smallest sizes, not for reading)"}


def versions():
    """``[(name, version)]`` for Python and :data:`PACKAGES` (a missing optional one left out)."""
    out = [("python", platform.python_version())]
    for name in PACKAGES:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            if name != "jax":
                out.append((name, "not installed"))
    return out


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(v):
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):#.4g}"
    return str(v)


def checks_table(checks):
    rows = ["| check | value | tolerance / target | result | detail |",
            "|---|---|---|---|---|"]
    for c in checks:
        rows.append(f"| {_cell(c.name)} | {_value(c.value)} | {_cell(c.bound)} | "
                    f"{'PASS' if c.passed else '**FAIL**'} | {_cell(c.detail)} |")
    return "\n".join(rows)


def caption(text):
    """The module docstring as a caption: the first line bold, the rest as a paragraph."""
    lines = text.strip().splitlines()
    if not lines:
        return "_(no caption)_"
    head = lines[0].strip()
    body = " ".join(line.strip() for line in lines[1:] if line.strip())
    return f"**{head}** {body}".strip()


def render(results, ctx, total, argv, prog="python -m shortrun.paper_figures"):
    n_checks = sum(len(r.checks) for r in results)
    n_failed = sum(len(r.failed) for r in results)
    bad = [r for r in results if r.status in ("FAIL", "ERROR")]
    verdict = ("**PASS**: every check passes" if not bad else
               f"**FAIL**: {n_failed} check(s) fail, "
               f"{sum(r.status == 'ERROR' for r in results)} figure(s) raised an error")
    cmd = " ".join([prog] + list(argv))
    out = ["# Paper figures: verification report", "",
           f"{verdict} ({n_checks} checks in {len(results)} figures).", "",
           f"- mode: {MODES.get(ctx.mode, ctx.mode)}",
           f"- command: `{cmd}`",
           f"- total time: {total:.1f} s (wall clock) on {os.cpu_count()} CPU(s) "
           f"({platform.machine()}, {platform.system()})",
           f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
           "- versions: " + ", ".join(f"{n} {v}" for n, v in versions()),
           f"- cache: `{ctx.cache_dir}`" + (f"; scheduler: `{ctx.scheduler}`"
                                            if ctx.scheduler else ""),
           "", "| figure | status | checks passed | time (s) | CPU of this process (s) |",
           "|---|---|---|---|---|"]
    for r in results:
        out.append(f"| [{r.name}](#{r.name.replace('_', '-')}) | {r.status} | "
                   f"{len(r.checks) - len(r.failed)}/{len(r.checks)} | {r.seconds:.1f} | "
                   f"{r.cpu_seconds:.1f} |")
    for r in results:
        out += ["", f"## {r.name}", "",
                f"Status: **{r.status}** ({r.seconds:.1f} s)."]
        if r.message:
            out += ["", "```", r.message, "```"]
        if r.files:
            out += ["", "Files: " + ", ".join(f"`{f}`" for f in r.files) + "."]
        for png in r.pngs:
            out += ["", f"![{Path(png).stem}]({png})"]
        if r.caption:
            out += ["", caption(r.caption)]
        if r.checks:
            out += ["", checks_table(r.checks)]
    return "\n".join(out) + "\n"


def write(results, ctx, total, argv=(), prog="python -m shortrun.paper_figures"):
    """Write ``REPORT.md`` into ``ctx.out`` (atomically) and return its path."""
    path = Path(ctx.out) / "REPORT.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render(results, ctx, total, argv, prog), encoding="utf-8")
    os.replace(tmp, path)
    return path
