"""``python -m shortrun.paper_figures``: build every paper figure and REPORT.md (see
:mod:`shortrun.paper_figures.run`; ``--help`` for the options)."""
import sys

from shortrun.paper_figures.run import main

if __name__ == "__main__":
    sys.exit(main())
