"""``python -m shortrun``: the ``shortrun`` command (:mod:`shortrun.cli`)."""
import sys

from shortrun.cli import main

sys.exit(main())
