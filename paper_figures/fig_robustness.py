"""Robustness map: how far from its training protocol can a short-run machine be sampled?

The machines of the memory curves (Sherrington–Kirkpatrick data, N = 9, β = 0.6, field 0.2β;
Rdm-k training from the uniform p0 with random-scan heat-bath updates, exact fixed point θ*(k)
(G5)) are sampled at another time t ∈ [0, 10k] and from another initial law p0' (M2): independent
spins with magnetisation m0, p0'(s) = Π_i (1 + m0 s_i)/2, m0 ∈ [−0.9, 0.9] (m0 = 0 is the
training p0).  Colour: the exact statistics error ‖⟨φ⟩_p(t,p0') − ⟨φ⟩_data‖∞ of
p(t, p0') = U_θ*^t p0' (log scale; below 10^-4 one colour).  White lines: twice the sampling
noise of a data set of M = 1000 (solid) or 100 000 (dashed) samples, the median ∞-norm error of
its empirical statistics over seeded draws; inside, the machine is as good as such data allow.
Star: the training protocol (t = k, m0 = 0), where the error vanishes.  Circles: points checked
against Monte Carlo chains.  The map is computed as a parameter sweep, one cell per (k, m0), each
a :func:`shortrun.numerics.analysis.diagnostics.robustness_map` row.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from shortrun.paper_figures import common, style

NAME = "robustness"
RULE, SCAN = "heatbath", "random"
M_DATA = (1000, 100000)


def teacher(N, beta, seed, field):
    from shortrun.numerics.data import teachers
    return teachers.sk(N, beta, seed=seed, field=field)


@lru_cache(maxsize=16)
def trained(N, beta, seed, field, k):
    """θ*(k) of Rdm-k training on the teacher's exact data (Newton, exact Jacobian)."""
    from shortrun.numerics.training import fixed_point
    data = teacher(N, beta, seed, field).data()
    return fixed_point.solve(data, k, "rdm", RULE, SCAN, progress=False).model


def product_law(N, m0):
    """p0'(s) = Π_i (1 + m0 s_i)/2 over the 2^N states."""
    from shortrun.numerics.core.states import spins
    return np.prod((1.0 + m0 * spins(N)) / 2.0, axis=1)


def cell(N, beta, seed, field, k, m0, t_max):
    """One row of the map: the error of p(t, p0') for t = 0..t_max at magnetisation m0
    (:func:`shortrun.numerics.analysis.diagnostics.robustness_map` with one initial law)."""
    from shortrun.numerics.analysis.diagnostics import robustness_map

    data = teacher(N, beta, seed, field).data()
    rmap = robustness_map(trained(N, beta, seed, field, k), data, [product_law(N, m0)],
                          range(t_max + 1), rule=RULE, scan=SCAN)
    return {"stats_error": rmap.stats_error[0]}


def sweep(ctx, grid):
    """The map's cells through :func:`shortrun.numerics.sweeps.run` (cached per cell, on the
    run's Dask scheduler if one is given)."""
    from shortrun.numerics import sweeps
    table = sweeps.run(cell, grid, cache_dir=ctx.cache_dir, name=f"{NAME}-cells",
                       scheduler=ctx.scheduler, progress=ctx.progress, on_error="raise")
    return table.column("stats_error")


def sampling_noise(N, beta, seed, field, M, draws):
    """Median over ``draws`` seeded data sets of M samples of ‖⟨φ⟩_M − ⟨φ⟩_data‖∞."""
    t = teacher(N, beta, seed, field)
    exact = t.data().stats
    errs = [np.max(np.abs(t.data(M=M, seed=s).stats - exact)) for s in range(draws)]
    return {"noise": np.median(errs)}


def monte_carlo(N, beta, seed, field, k, points, n_chains):
    """Monte Carlo statistics and their standard errors at (t, m0) points, and the exact ones."""
    from shortrun.numerics import kernels, sampling
    from shortrun.numerics.core import moments

    model = trained(N, beta, seed, field, k)
    out = {"mc": [], "err": [], "exact": []}
    for j, (t, m0) in enumerate(points):
        p0 = product_law(N, m0)
        states = sampling.sample(model, p0, int(t), rule=RULE, scan=SCAN, n_chains=n_chains,
                                 seed=1000 * k + j)
        out["mc"].append(sampling.stats(states))
        out["err"].append(sampling.stats_error(states))
        out["exact"].append(moments.stats(kernels.law(model, p0, int(t), rule=RULE, scan=SCAN)))
    return {key: np.array(v) for key, v in out.items()}


def interval(x, inside, at):
    """The contiguous run of ``inside`` around index ``at``: (x_lo, x_hi)."""
    lo = hi = at
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < len(x) - 1 and inside[hi + 1]:
        hi += 1
    return x[lo], x[hi]


def make(ctx):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    N = ctx.size(9, 9, tiny=5)
    beta = ctx.size(0.6, 0.6, tiny=0.5)
    seed, field = 3, 0.2
    ks = ctx.size((2, 5, 20), (2, 5, 20), tiny=(2,))
    m0s = np.round(np.linspace(-0.9, 0.9, ctx.size(37, 73, tiny=7)), 10)
    n_chains = ctx.size(20000, 100000, tiny=4000)
    base = dict(N=N, beta=beta, seed=seed, field=field)

    grid = [dict(base, k=k, m0=float(m0), t_max=10 * k) for k in ks for m0 in m0s]
    rows = sweep(ctx, grid)
    maps = {k: np.array(rows[i * len(m0s):(i + 1) * len(m0s)]) for i, k in enumerate(ks)}
    tols = []
    for M in M_DATA:
        npar = dict(base, M=M, draws=ctx.size(400, 2000, tiny=50))
        tols.append(2 * float(common.cached(ctx, f"{NAME}-noise", npar,
                                            lambda: sampling_noise(**npar))["noise"]))

    i0 = int(np.argmin(np.abs(m0s)))
    mc = {}                    # Monte Carlo twins at three (t, m0) points of each map
    for k in ks:
        points = [(k, m0s[len(m0s) // 4]), (max(1, k // 2), 0.0), (2 * k, m0s[-2])]
        mpar = dict(base, k=k, points=[list(map(float, p)) for p in points], n_chains=n_chains)
        mc[k] = (points, common.cached(ctx, f"{NAME}-mc", mpar, lambda: monte_carlo(**mpar)))

    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    for k in ks:
        E, ts = maps[k], np.arange(10 * k + 1)
        chk(f"k = {k}: error at the training protocol (t = k, m0 = 0)", E[i0, k], "≤ 1e-10",
            E[i0, k] <= 1e-10 and m0s[i0] == 0.0)
        for M, tol in zip(M_DATA, tols):
            inside = E < tol
            t_lo, t_hi = interval(ts, inside[i0], k)
            m_lo, m_hi = interval(m0s, inside[:, k], i0)
            frac = inside.mean()
            chk(f"k = {k}: share of the map with error < 2× noise of M = {M} samples "
                f"({tol:.3g})", frac, "in (0, 1): contains (k, 0), not the whole map",
                bool(inside[i0, k]) and frac < 1,
                f"at m0 = 0: t ∈ [{t_lo}, {t_hi}]; at t = k: m0 ∈ [{m_lo:g}, {m_hi:g}]")
        points, r = mc[k]
        z = np.abs(r["mc"] - r["exact"]) / r["err"]
        # the map's own numbers at the same points (the sweep's route vs kernels.law)
        route = max(abs(np.max(np.abs(r["exact"][j] - teacher(**base).data().stats))
                        - E[int(np.argmin(np.abs(m0s - m))), int(t)])
                    for j, (t, m) in enumerate(points))
        chk(f"k = {k}: Monte Carlo vs exact at {len(points)} (t, m0) points, max |z|",
            z.max(), "≤ 4.5", z.max() <= 4.5 and route <= 1e-12,
            f"{n_chains} chains per point; points " + ", ".join(
                f"(t={int(t)}, m0={m:g})" for t, m in points)
            + f"; map vs kernels.law {route:.1g}")

    fig, axes = plt.subplots(1, len(ks), figsize=(style.PAGE_WIDTH, 2.7), squeeze=False,
                             sharey=True, gridspec_kw=dict(wspace=0.12))
    axes = axes[0]
    floor = 1e-4
    norm = LogNorm(vmin=floor, vmax=1.0)
    for i, (ax, k) in enumerate(zip(axes, ks)):
        E, ts = maps[k], np.arange(10 * k + 1)
        im = ax.pcolormesh(ts, m0s, np.clip(E, floor, 1.0), norm=norm, cmap="viridis",
                           shading="nearest", rasterized=True)
        for tol, ls in zip(tols, ("-", "--")):
            ax.contour(ts, m0s, E, levels=[tol], colors=style.reference("on_image"),
                       linewidths=1.0, linestyles=ls)
        ax.plot([k], [0.0], "*", color=style.protocol_colour("rdm"), ms=9,
                mec=style.reference("on_image"), mew=0.6)
        for t, m in mc[k][0]:
            ax.plot([t], [m], "o", mfc="none", mec=style.reference("on_image"), ms=4, mew=0.8)
        style.panel(ax, i, f"trained at k = {k}")
        ax.set_xlim(0, 10 * k)
        ax.set_ylim(m0s[0], m0s[-1])
        ax.set_xticks(np.arange(0, 10 * k, 2 * k))
    axes[0].set_ylabel(r"initial magnetisation $m_0$ of $p_0'$")
    fig.supxlabel("sampling time t (sweeps)", fontsize=style.FONT["label"], y=-0.04)
    cbar = fig.colorbar(im, ax=list(axes), pad=0.02, fraction=0.03, extend="both")
    cbar.set_label(r"$\|\langle\phi\rangle_{p(t,p_0')}-\langle\phi\rangle_{\rm data}\|_\infty$")
    fig.suptitle(f"SK N = {N}, β = {beta}, Rdm-k, random-scan heat-bath.  White: 2× the noise "
                 f"of M = {M_DATA[0]:,} (solid) and {M_DATA[1]:,} samples (dashed)", y=1.02)
    common.save(fig, ctx, NAME)
    return checks
