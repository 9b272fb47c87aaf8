"""Build the paper figures and their verification report: the main job.

``python -m shortrun.paper_figures`` (or ``shortrun figures``) finds every figure script
``paper_figures/fig_<name>.py``, runs its ``make(ctx)`` one after the other, and writes
``REPORT.md`` beside the PNG/PDF files: every quantitative check with its value, tolerance and
PASS/FAIL, each figure with its caption and the files it wrote (those :func:`common.save`
recorded while it ran), the time per figure and the versions used.

A figure whose optional dependency is missing (JAX for the neural energies) is SKIPPED with the
reason; a figure that raises is an ERROR (traceback summary in the report) and the others still
run.  The exit status is 0 only if no check fails and no figure errs.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from shortrun.paper_figures import common, style

#: Figures in the order of the papers' argument; scripts not listed here follow, sorted by name.
ORDER = ("relaxation", "fixed_point", "coupling_error", "gaussian", "high_temperature",
         "update_rules", "memory", "robustness", "potts", "interactions", "rbm", "regimes",
         "convnet", "reconstruction", "buffer", "generator")

#: Optional dependencies: a figure that needs a missing one is skipped, not failed.
OPTIONAL = {"jax": "deep", "jaxlib": "deep", "optax": "deep"}

PASS, FAIL, ERROR, SKIPPED = "PASS", "FAIL", "ERROR", "SKIPPED"


@dataclass
class FigureResult:
    """What one figure script produced."""

    name: str
    caption: str = ""
    status: str = PASS
    checks: list = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    files: list = field(default_factory=list)
    message: str = ""

    @property
    def failed(self):
        return [c for c in self.checks if not c.passed]

    @property
    def pngs(self):
        """The PNG files among :attr:`files` (the images the report embeds)."""
        return [f for f in self.files if f.endswith(".png")]


def discover():
    """Names ``<name>`` of the figure scripts ``fig_<name>.py``: :data:`ORDER` first, then the
    others sorted."""
    import shortrun.paper_figures as pkg
    found = sorted(m.name[4:] for m in pkgutil.iter_modules(pkg.__path__)
                   if m.name.startswith("fig_"))
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def module_name(name):
    return f"shortrun.paper_figures.fig_{name}"


def _missing_optional(err):
    root = (getattr(err, "name", None) or "").split(".")[0]
    return root if root in OPTIONAL else None


def _skip_reason(root):
    return (f"optional dependency {root!r} is not installed; install the extra with "
            f"`pip install -e .[{OPTIONAL[root]}]` to build this figure.")


def _summary(err):
    """The exception and the last frames of its traceback, short enough for the report."""
    frames = traceback.extract_tb(err.__traceback__)[-4:]
    lines = [f"{Path(f.filename).name}:{f.lineno} in {f.name}: {f.line}" for f in frames]
    text = "\n".join(lines + traceback.format_exception_only(type(err), err)).strip()
    return text if len(text) <= 3000 else text[:3000] + " [...]"


def _written(ctx, first):
    """The files :func:`common.save` wrote since ``ctx.written[first]``: paths relative to
    ``ctx.out``, in order, each once.  Nothing else in the directory counts (an earlier figure's
    or an earlier run's files are not this figure's)."""
    names = (Path(p).relative_to(ctx.out).as_posix() for p in ctx.written[first:])
    return list(dict.fromkeys(names))


def build(name, ctx):
    """Run one figure script; never raises (except on KeyboardInterrupt)."""
    res = FigureResult(name)
    start, cpu, first = time.time(), time.process_time(), len(ctx.written)
    try:
        module = importlib.import_module(module_name(name))
        res.caption = (module.__doc__ or "").strip()
        with style.context():             # one figure style (fonts) for every script
            checks = module.make(ctx)
        res.checks = list(checks or [])
        bad = [c for c in res.checks if not isinstance(c, common.Check)]
        if bad:
            raise TypeError(f"make() must return a list of common.Check; got {type(bad[0])}.")
        res.files = _written(ctx, first)
        if not res.checks:
            res.status, res.message = FAIL, "the figure returned no quantitative check."
        elif not res.pngs:
            res.status, res.message = FAIL, "the figure wrote no PNG (use common.save)."
        else:
            res.status = FAIL if res.failed else PASS
    except common.Skipped as err:
        res.status, res.message = SKIPPED, str(err)
    except ImportError as err:
        root = _missing_optional(err)
        if root is None:
            res.status, res.message = ERROR, _summary(err)
        else:
            res.status, res.message = SKIPPED, _skip_reason(root)
    except Exception as err:  # noqa: BLE001 - one broken figure must not stop the others
        res.status, res.message = ERROR, _summary(err)
    finally:
        res.files = _written(ctx, first)     # also what a figure wrote before it raised
        import matplotlib.pyplot as plt
        plt.close("all")
    res.seconds = time.time() - start
    res.cpu_seconds = time.process_time() - cpu
    return res


def exit_status(results):
    """0 if every figure passed or was skipped, 1 otherwise."""
    return 0 if all(r.status in (PASS, SKIPPED) for r in results) else 1


def _folder_path(text):
    """A folder argument as a Path; an empty one (an unset shell variable?) is refused rather
    than read as the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a folder name")
    return Path(text)


def parse(argv=None, prog="python -m shortrun.paper_figures"):
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Build the paper figures (PNG + PDF) and REPORT.md, the verification report "
                    "of every quantitative check.  Exit status 1 if a check fails or a figure "
                    "errs.")
    ap.add_argument("--out", default="results/figures", type=_folder_path,
                    help="output directory (default: results/figures under the current directory)")
    ap.add_argument("--only", default=None,
                    help="comma-separated figure names, e.g. --only memory,robustness "
                         "(see --list)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true",
                      help="small grids: every figure in at most 10 minutes on 2 cores (default)")
    mode.add_argument("--full", action="store_true", help="paper-size grids (slow)")
    mode.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                    help="Dask scheduler address for the parameter sweeps (default: local)")
    ap.add_argument("--cache-dir", default=None, type=_folder_path,
                    help="where heavy numbers are cached (default: OUT/cache)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--list", action="store_true", help="list the figure names and exit")
    args = ap.parse_args(argv)
    _check_args(ap, args)
    return ap, args


def _check_args(ap, args):
    """Refuse, before any work, what would fail later: a scheduler address that is not
    ``protocol://HOST:PORT`` or does not answer, and an ``--out`` or ``--cache-dir`` that is a
    file, lies under one, or cannot be written (``ap.error``: one line and exit status 2)."""
    from shortrun.numerics.sweeps.engine import check_address, check_folder, check_reachable

    def address(value, option):
        check_reachable(check_address(value, option))

    checks = [(check_folder, args.out, "--out"), (check_folder, args.cache_dir, "--cache-dir"),
              (address, args.scheduler, "--scheduler")]
    for check, value, option in checks:
        if value is None or args.list:
            continue
        try:
            check(value, option)
        except (ValueError, RuntimeError) as err:
            ap.error(str(err))


def select(ap, only):
    names = discover()
    if only is None:
        return names
    wanted = [w.strip().removeprefix("fig_").removesuffix(".py") for w in only.split(",")
              if w.strip()]
    unknown = [w for w in wanted if w not in names and module_name(w) not in sys.modules]
    if unknown or not wanted:
        ap.error(f"--only: unknown figure(s) {', '.join(unknown) or '(none given)'}; "
                 f"available: {', '.join(names)}.")
    return wanted


def main(argv=None, prog="python -m shortrun.paper_figures"):
    """Command-line entry point; returns the exit status."""
    import matplotlib
    matplotlib.use("Agg")
    from shortrun.paper_figures import report

    ap, args = parse(argv, prog)
    if args.list:
        print("\n".join(discover()))
        return 0
    names = select(ap, args.only)
    ctx = common.Context(args.out, fast=not args.full, cache_dir=args.cache_dir,
                         scheduler=args.scheduler, progress=not args.no_progress,
                         tiny=args.tiny)
    print(f"shortrun paper figures: {len(names)} figure(s), {ctx.mode} mode, into {ctx.out}",
          flush=True)
    results, start = [], time.time()
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", flush=True)
        res = build(name, ctx)
        results.append(res)
        checks = f"{len(res.checks) - len(res.failed)}/{len(res.checks)} checks pass"
        print(f"[{i}/{len(names)}] {name}: {res.status} ({checks}, {res.seconds:.1f} s, "
              f"CPU {res.cpu_seconds:.1f} s)", flush=True)
        if res.message:
            print("    " + res.message.replace("\n", "\n    "), flush=True)
        for c in res.failed:
            print(f"    FAIL {c.name}: {c.value!r} vs {c.bound}", flush=True)
    total = time.time() - start
    path = report.write(results, ctx, total, argv if argv is not None else sys.argv[1:], prog)
    code = exit_status(results)
    print(f"{'all checks pass' if code == 0 else 'FAILED'}; total {total:.1f} s; report: {path}",
          flush=True)
    return code
