"""shortrun: exact theory of non-convergent (short-run) MCMC training of energy-based models.

Sub-packages
------------
shortrun.conventions
    The names of rules, scans and protocols, and every input validator (one home).
shortrun.numerics
    Exact state-space machinery (2^N states), kernels, spectra, samplers, training, sweeps,
    in layers: core → models → kernels → sampling → data → training → analysis → sweeps.
shortrun.theory
    Closed forms (sympy, with numpy twins) of the solvable models.
shortrun.paper_figures
    One script per figure; ``shortrun figures`` (or ``python3 tasks.py figures``) makes them all.
shortrun.cli
    The ``shortrun`` command: ``figures`` and ``verify``.

The equations are stated in ``docs/theory.md``; the layers in ``docs/architecture.md``.
"""
import os as _os

__version__ = "0.3.0.dev0"

# The design card keeps theory/, numerics/ and paper_figures/ at the top of the repository and
# setup.cfg installs them as shortrun.theory, .numerics, .paper_figures.  Run from a checkout
# without installing, the same sub-packages are found through this path entry.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isdir(_os.path.join(_root, "numerics")) and _root not in __path__:
    __path__.append(_root)
