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
                "random": "C9", "langevin": "C6", "ula": "C6"}
RULE_LABELS = {"heatbath": "heat bath", "metropolis": "Metropolis", "parallel": "parallel",
               "sequential": "sequential scan", "random": "random scan",
               "langevin": "Langevin", "ula": "ULA"}

#: Font sizes (points) of every text element of a figure.
FONT = {
    "title": 8.5,      # panel titles
    "label": 8.0,      # axis labels
    "tick": 7.0,       # tick labels
    "legend": 6.5,     # legends
    "annotation": 6.5, # text placed in a panel
    "suptitle": 9.0,   # figure title
    "panel": 9.0,      # panel letters placed alone
}

#: Width (inches) of a full page column; figures are legible at this width.
PAGE_WIDTH = 7.0


def _check_key(table, key, what):
    if key not in table:
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


def letter(i):
    """Panel letter ``i`` (0 → ``'(a)'``), or a letter given as a string (``'c'`` → ``'(c)'``)."""
    if isinstance(i, str):
        return f"({i})"
    return f"({string.ascii_lowercase[i]})"


def panel(ax, i, title="", **kw):
    """Set the title of panel ``ax`` to ``'(a) title'`` in the panel-title font size."""
    text = letter(i) + (f" {title}" if title else "")
    ax.set_title(text, fontsize=FONT["title"], **kw)
    return ax


def rc():
    """The matplotlib rcParams every figure uses (font sizes of :data:`FONT`)."""
    return {
        "font.size": FONT["label"],
        "axes.titlesize": FONT["title"],
        "axes.labelsize": FONT["label"],
        "xtick.labelsize": FONT["tick"],
        "ytick.labelsize": FONT["tick"],
        "legend.fontsize": FONT["legend"],
        "figure.titlesize": FONT["suptitle"],
        "legend.framealpha": 0.9,
    }


@contextlib.contextmanager
def context():
    """A ``with`` block in which matplotlib draws with :func:`rc`."""
    import matplotlib
    with matplotlib.rc_context(rc()):
        yield


def apply():
    """Set :func:`rc` globally (for notebooks: call once at the top)."""
    import matplotlib
    matplotlib.rcParams.update(rc())
