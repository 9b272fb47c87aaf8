"""The fixed-point theorem: the k-step process reproduces the data, the trained model does not.

Exact data of the 3×3 periodic ferromagnet at β = 0.4 (N = 9 spins, no field; β_c ≈ 0.44 on
the infinite lattice) and of a Sherrington–Kirkpatrick machine (N = 9, β = 1, field 0.2β);
Rdm-k training from the uniform p0 with sequential-scan heat-bath updates, solved to the fixed
point θ*(k) by Newton's method with the exact Jacobian (G5).  (a) Pair correlations ⟨s_i s_j⟩ of
the k-step law p(k, p0) = U_θ*^k p0 against those of the data at k = 1: on the diagonal.
(b) The same correlations under the trained model's own equilibrium p_θ*: off the diagonal
(correlations too strong, as θ* compensates for chains that stop after one sweep).  (c) The
largest mismatch ‖⟨φ⟩ − ⟨φ⟩_data‖∞ over all fitted statistics φ = (s_i, s_i s_j) against k: zero
to round-off for p(k, p0) at every k, decreasing with k for p_θ*, which becomes the
maximum-likelihood machine (the teacher) only once k exceeds the mixing time.  Sequential scan is
used because it has a finite Rdm-1 fixed point here; with random scan the 3×3 lattice at
β ≥ 0.35 has none (Newton finds no root; the report states the solver's outcome at k = 1).
"""
from __future__ import annotations

import numpy as np

from shortrun.paper_figures import common, style

NAME = "fixed_point"
RULE, SCAN = "heatbath", "sequential"


TEACHERS = {"lattice": "3×3 ferromagnet, β = 0.4", "sk": "SK, N = 9, β = 1"}
#: marker of each teacher's points (its colour is the style's model colour)
MARKERS = {"lattice": "o", "sk": "^"}


def look(name, **kw):
    """Colour and marker of teacher ``name``'s points."""
    return dict(marker=MARKERS[name], color=style.model_colour(name), **kw)


def teacher(name):
    from shortrun.numerics.data import teachers
    if name == "lattice":
        return teachers.ferromagnet(3, 0.4)
    return teachers.sk(9, 1.0, seed=2, field=0.2)


def compute(name, ks, restarts):
    """θ*(k) for each k; the statistics of the data, of p(k, p0) and of p_θ*; for the lattice
    also the random-scan Rdm-1 solve."""
    from shortrun.numerics import kernels
    from shortrun.numerics.core import moments
    from shortrun.numerics.training import fixed_point

    t = teacher(name)
    data = t.data()
    out = {"k": np.array(ks), "phi_data": data.stats, "theta_teacher": t.theta}
    res, fix, eq, thetas, iters = [], [], [], [], []
    for k in ks:
        fp = fixed_point.solve(data, k, "rdm", RULE, SCAN, progress=False)
        p_k = kernels.law(fp.model, "uniform", k, rule=RULE, scan=SCAN)
        fix.append(moments.stats(p_k))
        # the residual recomputed here, independently of the solver's own evaluation
        res.append(np.max(np.abs(fix[-1] - data.stats)))
        eq.append(moments.stats(fp.model.boltzmann()))
        thetas.append(fp.theta)
        iters.append(fp.iterations)
    out.update(residual=np.array(res), phi_fix=np.array(fix), phi_eq=np.array(eq),
               theta=np.array(thetas), iterations=np.array(iters))
    if name == "lattice":
        rnd = fixed_point.solve(data, 1, "rdm", RULE, "random", check=False,
                                restarts=restarts, progress=False)
        out.update(random_converged=rnd.converged, random_residual=rnd.residual,
                   random_theta_max=np.max(np.abs(rnd.theta)), random_status=rnd.status)
    return out


def make(ctx):
    import matplotlib.pyplot as plt

    ks = ctx.size((1, 2, 3, 5, 10, 20, 50), (1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100),
                  tiny=(1, 3))
    restarts = ctx.size(3, 8, tiny=0)
    runs = {}
    for name in common.progress(ctx, list(TEACHERS), NAME):
        params = dict(name=name, ks=list(ks), restarts=restarts)
        runs[name] = common.cached(ctx, f"{NAME}-{name}", params, lambda: compute(**params))
    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    mismatch = {}
    for name, r in runs.items():
        ks = r["k"]
        label = TEACHERS[name]
        mis_eq = np.max(np.abs(r["phi_eq"] - r["phi_data"]), axis=1)
        mismatch[name] = (np.max(np.abs(r["phi_fix"] - r["phi_data"]), axis=1), mis_eq)
        chk(f"{label}: fixed-point residual max_k ‖⟨φ⟩_p(k,p0) − ⟨φ⟩_data‖∞",
            r["residual"].max(), "≤ 1e-10", r["residual"].max() <= 1e-10,
            f"k = {', '.join(map(str, ks))}; Newton iterations "
            f"{', '.join(map(str, r['iterations']))}")
        margin = 0.05
        chk(f"{label}: p_θ* mismatch ‖⟨φ⟩_p_θ* − ⟨φ⟩_data‖∞ at k = 1", mis_eq[0],
            f"> {margin}", mis_eq[0] > margin, "p_θ* does not reproduce the data")
        above = mis_eq[:-1] > 1e-10
        steps = mis_eq[1:][above] / mis_eq[:-1][above]
        chk(f"{label}: p_θ* mismatch decreases with k (largest ratio of consecutive k)",
            steps.max(), "< 1 (while mismatch > 1e-10)", steps.max() < 1,
            ", ".join(f"k={k}: {m:.2g}" for k, m in zip(ks, mis_eq)))
        if ks[-1] >= 20:
            err = np.max(np.abs(r["theta"] - r["theta_teacher"]), axis=1)
            chk(f"{label}: θ*(k) → teacher (β h⁰, β J⁰): max |Δθ| at k = {ks[-1]}", err[-1],
                f"≤ 1e-3 × its value at k = 1 ({err[0]:.3g})", err[-1] <= 1e-3 * err[0],
                "k beyond the mixing time: Rdm-k training becomes maximum likelihood")
    r = runs["lattice"]
    chk("3×3 ferromagnet, random scan, k = 1: Newton finds no root (best ‖F‖∞)",
        r["random_residual"], "> 1e-3 (no fixed point)",
        (not bool(r["random_converged"])) and r["random_residual"] > 1e-3,
        f"solver status {r['random_status']} after {restarts + 1} start(s), "
        f"max |θ| = {float(r['random_theta_max']):.3g}")

    fig, axes = plt.subplots(1, 3, figsize=(style.PAGE_WIDTH, 2.8),
                             gridspec_kw=dict(width_ratios=[1, 1, 1.25], wspace=0.72))
    for ax, key, title in ((axes[0], "phi_fix", "k-step process, k = 1"),
                           (axes[1], "phi_eq", "trained model, k = 1")):
        ax.plot([-1, 1], [-1, 1], color=style.reference("guide"), lw=0.8, zorder=0)
        for name, r in runs.items():
            N = int(round((np.sqrt(8 * len(r["phi_data"]) + 1) - 1) / 2))
            ax.plot(r["phi_data"][N:], r[key][0][N:], ls="none", ms=3.5, mfc="none",
                    label=TEACHERS[name], **look(name))
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal")
        ax.set_xticks([-1, -0.5, 0, 0.5, 1], ["−1", "", "0", "", "1"])
        ax.set_yticks([-1, -0.5, 0, 0.5, 1], ["−1", "", "0", "", "1"])
        ax.set_xlabel(r"$\langle s_i s_j\rangle_{\rm data}$", labelpad=1)
        style.panel(ax, "a" if key == "phi_fix" else "b", title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, frameon=False,
               bbox_to_anchor=(0.36, 0.02), handletextpad=0.2)
    axes[0].set_ylabel(r"$\langle s_i s_j\rangle_{p(k,p_0)}$", labelpad=0)
    axes[1].set_ylabel(r"$\langle s_i s_j\rangle_{p_{\theta^*}}$", labelpad=0)
    ax = axes[2]
    for name, r in runs.items():
        mis_fix, mis_eq = mismatch[name]
        ax.loglog(r["k"], np.maximum(mis_eq, 1e-17), "-", ms=3.5, **look(name))
        ax.loglog(r["k"], np.maximum(mis_fix, 1e-17), ":", ms=3.5, mfc="none", **look(name))
    ax.plot([], [], "-", color=style.reference("proxy"), label=r"$p_{\theta^*}$ (trained model)")
    ax.plot([], [], ":", color=style.reference("proxy"), label=r"$p(k, p_0)$ (k-step process)")
    ax.axhline(1e-10, color=style.reference("tolerance"), ls="--", lw=0.7)
    ax.text(1.0, 2e-10, "tolerance $10^{-10}$", ha="left", va="bottom",
            fontsize=style.FONT["annotation"], color=style.reference("text"))
    ks = runs["lattice"]["k"]
    ticks = [k for k in (1, 2, 5, 10, 20, 50, 100, 200) if k <= ks[-1]]
    ax.set_xticks(ticks, [str(k) for k in ticks])
    ax.minorticks_off()
    ax.set_xlabel("k (sweeps)")
    ax.set_ylabel(r"$\max_a|\langle\phi_a\rangle - \langle\phi_a\rangle_{\rm data}|$",
                  labelpad=1)
    ax.set_ylim(1e-16, 1e2)
    ax.set_yticks(10.0 ** np.arange(-15, 1, 3))
    style.panel(ax, "c", "mismatch with the data")
    ax.legend(loc="center right", handletextpad=0.3, borderpad=0.3)
    fig.suptitle("Rdm-k training with sequential heat-bath updates, $p_0$ uniform; exact data",
                 y=1.0)
    common.save(fig, ctx, NAME)
    return checks
