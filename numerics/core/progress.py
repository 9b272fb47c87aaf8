"""Throttled one-line progress report on stderr, shared by the exact trainer
(:mod:`shortrun.numerics.training`) and the Monte Carlo trainer (:mod:`shortrun.numerics.training.monte_carlo`)."""
from __future__ import annotations

import sys
import time


class Progress:
    """Progress of a run of ``total`` updates, one line on stderr at a time:
    ``[label] update step/total  <fields>  <elapsed>s``.

    ``mode`` is the trainers' ``progress`` argument: None = silent until the run has taken 5 s,
    then a line every 5 s; True = a line every second; False = never.  With ``report_first`` and
    ``mode=True`` the first update is reported at once (otherwise after a second).
    """

    def __init__(self, label, mode, total, *, report_first=False):
        if mode not in (None, True, False):
            raise ValueError(f"progress={mode!r} must be None (auto), True or False.")
        self.label, self.total = label, total
        self.every = None if mode is False else (1.0 if mode else 5.0)
        self.silent_for = 0.0 if mode else 5.0
        self.t0 = self.last = time.perf_counter()
        if mode and report_first:
            self.last -= self.every

    def __call__(self, step, fields, *values):
        """Print the line for update ``step`` if one is due; ``fields.format(*values)`` is its
        middle part (formatted only when printed)."""
        if self.every is None:
            return
        now = time.perf_counter()
        if now - self.last < self.every or now - self.t0 < self.silent_for:
            return
        self.last = now
        print(f"[{self.label}] update {step}/{self.total}  {fields.format(*values)}  "
              f"{now - self.t0:.0f}s", file=sys.stderr, flush=True)
