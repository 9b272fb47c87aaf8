"""The ``shortrun`` command.

    shortrun figures [--fast | --full] [--only a,b] [--out DIR] [--scheduler tcp://HOST:PORT]
        build the paper figures and REPORT.md (same as ``python -m shortrun.paper_figures``)
    shortrun verify DATA --k K [...]
        check the fixed-point theorem on your own data (``shortrun verify --help``; ``--model
        potts`` for integer colours 0..q-1)

The exit status is the sub-command's: non-zero if a check fails or an input is refused.
"""
from __future__ import annotations

import sys

COMMANDS = {
    "figures": "build the paper figures and their verification report (REPORT.md)",
    "verify": "check the fixed-point theorem on your own data",
}


def usage():
    lines = ["usage: shortrun {figures,verify} [options]", ""]
    lines += [f"  {name:8s} {text}" for name, text in COMMANDS.items()]
    lines += ["", "`shortrun COMMAND --help` lists the options of a command."]
    return "\n".join(lines)


def main(argv=None):
    """Dispatch ``argv`` (default ``sys.argv[1:]``) to a sub-command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"shortrun: unknown command {command!r}.\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        if command == "figures":
            from shortrun.paper_figures.run import main as figures
            return figures(rest, prog="shortrun figures")
        from shortrun.verify import main as verify
        return verify(rest)
    except SystemExit as stop:                  # argparse: --help (0) or a refused option (2)
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    except KeyboardInterrupt:
        print(f"shortrun {command}: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
