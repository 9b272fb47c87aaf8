"""One home for figure style: colours and labels of protocols and rules, font sizes, panel letters.

Every figure script and notebook draws with these names, so a protocol has one colour and one
label everywhere (Rdm-k is always red, CD-k blue, PCD-k green, the buffer purple, maximum
likelihood black) and font sizes are set in one place.  Typical use::

    from shortrun.paper_figures import style
    with style.context():
        fig, axes = plt.subplots(1, 3)
        ax.plot(t, err, **style.protocol("rdm", k=5))     # colour and label "Rdm-5"
        style.panel(ax, "a", "statistics error")           # title "(a) statistics error"
"""
from __future__ import annotations

import contextlib
import re
import string

#: Colour of each training protocol (matplotlib colour specs).
PROTOCOL_COLOURS = {
    "rdm": "C3",      # red: k steps from the fixed start p0
    "cd": "C0",       # blue: k steps from the data
    "pcd": "C2",      # green: persistent chains
    "buffer": "C4",   # purple: replay buffer
    "ml": "k",        # black: maximum likelihood / equilibrium
    "data": "0.45",   # grey: the data or the teacher
    "stepwise": "C1",  # orange: time-dependent chain, one theta per step, data targets
    "diffusion": "C8", # olive: time-dependent chain, noised-data targets (diffusion schedule)
}

#: Sequential colour map of each protocol, for several lines of one protocol (e.g. Rdm-k for
#: several k): :func:`protocol_shade` picks along it, darker for larger k.
PROTOCOL_CMAPS = {"rdm": "Reds", "cd": "Blues", "pcd": "Greens", "buffer": "Purples",
                  "ml": "Greys", "data": "Greys"}

#: Label of each protocol; ``{k}`` is replaced by the number of steps when one is given.
PROTOCOL_LABELS = {
    "rdm": "Rdm-{k}",
    "cd": "CD-{k}",
    "pcd": "PCD-{k}",
    "buffer": "buffer-{k}",
    "ml": "maximum likelihood",
    "data": "data",
    "stepwise": "time-dependent-{k} (data targets)",
    "diffusion": "time-dependent-{k} (noised targets)",
}

#: Colour and label of each update rule / scan.
RULE_COLOURS = {"heatbath": "C0", "metropolis": "C1", "parallel": "C2", "sequential": "C5",
                "random": "C9", "langevin": "C6", "ula": "C6", "continuous": "C8"}
RULE_LABELS = {"heatbath": "heat bath", "metropolis": "Metropolis", "parallel": "parallel",
               "sequential": "sequential scan", "random": "random scan",
               "langevin": "Langevin", "ula": "ULA", "continuous": "continuous time"}

#: Marker of each scan (a kernel is drawn in its rule's colour with its scan's marker).
SCAN_MARKERS = {"random": "o", "sequential": "D", "parallel": "s", "continuous": "^"}

#: Colour and label of each model or teacher family (BM, RBM, the lattice and SK teachers).
MODEL_COLOURS = {"bm": "C0", "rbm": "C1", "lattice": "C0", "sk": "C1", "potts": "C2",
                 "gaussian": "C9", "convnet": "C5"}
MODEL_LABELS = {"bm": "BM", "rbm": "RBM", "lattice": "3×3 lattice", "sk": "SK",
                "potts": "Potts", "gaussian": "Gaussian", "convnet": "ConvNet"}

#: Colour of each kind of eigenvalue in a drawn spectrum.
SPECTRUM_COLOURS = {"real": "C0", "negative": "C3", "complex": "C2"}

#: Colours of reference elements: exact results and identity lines, tolerances and noise
#: floors, shaded regions, light grid lines, and text or markers drawn on a dark image.
REFERENCE_COLOURS = {"exact": "k", "tolerance": "0.5", "guide": "0.6", "shade": "0.88",
                     "grid": "0.85", "text": "0.3", "proxy": "0.4", "on_image": "w"}

#: Colours of series that have no name here (two expansions, three couplings, ...), in order;
#: protocols, rules, models and ordered parameters use their own tables instead.
SERIES_COLOURS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9")

#: Colour map of an ordered parameter (k, ρ, β, λ, q) drawn as a family of lines, and the part
#: of it used (the yellow end is too light on white).
RAMP_CMAP, RAMP_RANGE = "viridis", (0.0, 0.85)

#: Font sizes (points) of every text element of a figure.
FONT = {
    "title": 8.5,      # panel titles
    "label": 8.0,      # axis labels
    "tick": 7.0,       # tick labels
    "legend": 6.5,     # legends
    "annotation": 6.5, # text placed in a panel
    "suptitle": 9.0,   # figure title
    "panel": 9.0,      # panel letters placed alone
    "small": 5.5,      # crowded legends and dense tick labels (polar axes, matrices)
}

#: Width (inches) of a full page column; figures are legible at this width.
PAGE_WIDTH = 7.0
#: Font scale of :func:`apply` (notebooks: figures 6.5 to 16 inches wide, shown in a column).
NOTEBOOK_SCALE = 1.3


_LETTERS = re.compile(r"[a-z](?:(?:–|-|, ?)[a-z])*")


def _check_key(table, key, what):
    if not isinstance(key, str) or key not in table:
        raise ValueError(f"unknown {what} {key!r}; known: {sorted(table)} "
                         f"(add it to shortrun.paper_figures.style)")
    return table[key]


def protocol_colour(name):
    """The colour of protocol ``name`` (``'rdm'``, ``'cd'``, ``'pcd'``, ``'buffer'``, ``'ml'``, ``'data'``)."""
    return _check_key(PROTOCOL_COLOURS, name, "protocol")


def protocol_shade(name, i, n):
    """Colour of line ``i`` of ``n`` lines of protocol ``name`` (light to dark along its
    :data:`PROTOCOL_CMAPS` map; the protocol's own colour when ``n == 1``)."""
    import matplotlib
    cmap = _check_key(PROTOCOL_CMAPS, name, "protocol")
    if n <= 1:
        return protocol_colour(name)
    return matplotlib.colormaps[cmap](0.4 + 0.55 * i / (n - 1))


def protocol_label(name, k=None):
    """The label of protocol ``name``, e.g. ``protocol_label('cd', 5) == 'CD-5'``; without ``k``
    the step count reads ``k`` (``'CD-k'``)."""
    return _check_key(PROTOCOL_LABELS, name, "protocol").format(k="k" if k is None else k)


def protocol(name, k=None, **kw):
    """Keyword arguments ``color=..., label=...`` for a line of protocol ``name`` (extra keywords
    pass through and override)."""
    return {"color": protocol_colour(name), "label": protocol_label(name, k), **kw}


def rule_colour(name):
    """The colour of update rule or scan ``name``."""
    return _check_key(RULE_COLOURS, name, "rule")


def rule_label(name):
    """The label of update rule or scan ``name``."""
    return _check_key(RULE_LABELS, name, "rule")


def rule(name, **kw):
    """Keyword arguments ``color=..., label=...`` for a line of rule ``name``."""
    return {"color": rule_colour(name), "label": rule_label(name), **kw}


def scan_marker(name):
    """The marker of scan ``name`` (``'random'``, ``'sequential'``, ``'parallel'``, ``'continuous'``)."""
    return _check_key(SCAN_MARKERS, name, "scan")


def kernel(rule_name, scan, **kw):
    """Keyword arguments ``color=..., marker=..., label=...`` for a kernel: the colour of its
    update rule, the marker of its scan, the label ``'heat bath, random scan'``."""
    return {"color": rule_colour(rule_name), "marker": scan_marker(scan),
            "label": f"{rule_label(rule_name)}, {rule_label(scan)}", **kw}


def model_colour(name):
    """The colour of model or teacher family ``name`` (``'bm'``, ``'rbm'``, ``'lattice'``, ``'sk'``, ...)."""
    return _check_key(MODEL_COLOURS, name, "model")


def model_label(name):
    """The label of model or teacher family ``name``."""
    return _check_key(MODEL_LABELS, name, "model")


def model(name, **kw):
    """Keyword arguments ``color=..., label=...`` for a line of model ``name``."""
    return {"color": model_colour(name), "label": model_label(name), **kw}


def reference(name):
    """The colour of reference element ``name`` (``'exact'``, ``'tolerance'``, ``'guide'``,
    ``'shade'``, ``'grid'``, ``'text'``, ``'proxy'``, ``'on_image'``)."""
    return _check_key(REFERENCE_COLOURS, name, "reference element")


def eigenvalue(kind, **kw):
    """Keyword arguments ``color=...`` for eigenvalues of ``kind`` (``'real'`` non-negative,
    ``'negative'`` or ``'complex'``)."""
    return {"color": _check_key(SPECTRUM_COLOURS, kind, "eigenvalue kind"), **kw}


def series(i):
    """The colour of the ``i``-th series that has no name in this module (cycling through
    :data:`SERIES_COLOURS`)."""
    if isinstance(i, bool) or not isinstance(i, int) or i < 0:
        raise ValueError(f"series(i): i must be a non-negative integer; got {i!r}")
    return SERIES_COLOURS[i % len(SERIES_COLOURS)]


def ramp(n):
    """``n`` colours along :data:`RAMP_CMAP` for the values of an ordered parameter (first value
    darkest), as a list of RGBA tuples."""
    import matplotlib
    import numpy as np
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"ramp(n): n must be a positive integer (the number of values); got {n!r}")
    lo, hi = RAMP_RANGE
    cmap = matplotlib.colormaps[RAMP_CMAP]
    return [tuple(float(c) for c in cmap(x)) for x in np.linspace(lo, hi, int(n))]


def font(name):
    """The font size (points) of text element ``name`` (see :data:`FONT`)."""
    return _check_key(FONT, name, "font element")


def letter(i):
    """Panel letter ``i`` (0 → ``'(a)'``), or letters given as a string (``'c'`` → ``'(c)'``,
    ``'a–d'`` → ``'(a–d)'``, ``'a, b'`` → ``'(a, b)'``)."""
    if isinstance(i, str):
        if not _LETTERS.fullmatch(i):
            raise ValueError(f"letter: {i!r} is not a panel letter; give 'a'..'z', a range "
                             "'a–d' or a list 'a, b' (or an index 0..25)")
        return f"({i})"
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < 26:
        raise ValueError(f"letter: index {i!r} is not a panel index; give 0..25 or a letter")
    return f"({string.ascii_lowercase[i]})"


def panel(ax, i, title="", **kw):
    """Set the title of panel ``ax`` to ``'(a) title'`` in the panel-title font size."""
    text = letter(i) + (f" {title}" if title else "")
    ax.set_title(text, fontsize=FONT["title"], **kw)
    return ax


def rc(scale=1.0):
    """The matplotlib rcParams every figure uses (font sizes of :data:`FONT`, times ``scale``)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < 10:
        raise ValueError(f"rc(scale=...): scale must be a number in (0, 10); got {scale!r}")
    size = {name: scale * FONT[name] for name in FONT}
    return {
        "font.size": size["label"],
        "axes.titlesize": size["title"],
        "axes.labelsize": size["label"],
        "xtick.labelsize": size["tick"],
        "ytick.labelsize": size["tick"],
        "legend.fontsize": size["legend"],
        "legend.title_fontsize": size["legend"],
        "figure.titlesize": size["suptitle"],
        "legend.framealpha": 0.9,
    }


@contextlib.contextmanager
def context():
    """A ``with`` block in which matplotlib draws with :func:`rc`."""
    import matplotlib
    with matplotlib.rc_context(rc()):
        yield


def apply(scale=NOTEBOOK_SCALE):
    """Set :func:`rc` globally (for notebooks: call once at the top).  The fonts are
    :data:`NOTEBOOK_SCALE` times the paper's by default: notebook figures are drawn wider than a
    page column and shown scaled down."""
    import matplotlib
    matplotlib.rcParams.update(rc(scale))
