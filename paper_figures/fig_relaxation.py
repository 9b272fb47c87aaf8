"""Relaxation of the k-step law p(k, p0) = U^k p0 and the spectra of the update rules.

A small Sherrington–Kirkpatrick Boltzmann machine (N = 7 spins in the fast mode, 9 in the full
one; β = 0.4, uniform field 0.3β, p0 uniform), exact on all 2^N states.  (a–d) Eigenvalues λ of
the one-sweep kernel U in the complex plane, drawn at angle arg λ with the radius |λ| on a log
scale (outer circle |λ| = 1, centre |λ| ≤ 10^-4), for the two update rules (U1) and two scans
(U2): random-scan heat-bath is reversible with a positive semi-definite kernel, so its
spectrum is real and lies in [0, 1]; random-scan Metropolis is reversible but its single-site
kernels can nearly flip a spin surely, so its spectrum has negative eigenvalues (oscillating
modes; N is odd so that the negative eigenvalues of the single-update average R survive in the
sweep U = R^N); a sequential sweep is not reversible and its spectrum is complex (most visibly
for Metropolis).  (e) Total-variation distance of p(k, p0) to equilibrium p_θ against k; dashed:
the slope e^{−k/κ1} of the slowest mode, κ1 = −1/ln|λ1| (G3).  (f) The two exact routes to
p(k, p0) agree to round-off: k matrix-free sweeps (power route, kernels.law) against the spectral
sum Σ_α c_α(p0) λ_α^k u_α (spectral.decompose(...).propagate), within the tolerance
16·2^N·ε·k (dotted).
"""
from __future__ import annotations

import numpy as np

from shortrun.paper_figures import common, style

NAME = "relaxation"
KERNELS = (("heatbath", "random"), ("heatbath", "sequential"),
           ("metropolis", "random"), ("metropolis", "sequential"))
EPS = np.finfo(float).eps


def tolerance(N, k):
    """Round-off budget of an exact route on 2^N states after k steps: 16·2^N·ε·max(k, 1)."""
    return 16.0 * (1 << N) * EPS * np.maximum(k, 1)


def compute(N, beta, field, seed, k_max):
    """Spectra, distances to equilibrium and route differences of the four kernels."""
    from shortrun.numerics import kernels
    from shortrun.numerics.data import teachers
    from shortrun.numerics.kernels import spectral

    model = teachers.sk(N, beta, seed=seed, field=field).model
    pi = np.asarray(model.boltzmann())
    ks = np.arange(k_max + 1)
    out = {"k": ks}
    for rule, scan in KERNELS:
        tag = f"{rule}_{scan}"
        K = kernels.BMKernel(model, rule, scan)
        S = spectral.decompose(K)
        # the eigenvalues by the general route (no reversibility assumed): an independent look
        # at realness and sign
        out[f"{tag}_eig"] = np.sort_complex(np.linalg.eigvals(K.dense()))
        power = np.array([kernels.law(model, "uniform", int(k), rule=rule, scan=scan)
                          for k in ks])
        spec = np.array([S.propagate("uniform", int(k)) for k in ks])
        out[f"{tag}_tv"] = 0.5 * np.abs(power - pi).sum(axis=1)
        out[f"{tag}_diff"] = np.abs(power - spec).max(axis=1)
        out[f"{tag}_kappa"] = S.timescales[1:3]
        out[f"{tag}_cond"] = S.condition
    return out


def decay_rate(ks, tv, kappa, floor=1e-11, ratio=1e-2):
    """Least-squares slope of ln TV(k) over the window where the second mode is below ``ratio``
    of the first (k ≥ ln(1/ratio) / (1/κ2 − 1/κ1)) and TV is above ``floor``; returns
    (−slope·κ1, window)."""
    k1, k2 = kappa
    gap = 1.0 / k2 - 1.0 / k1
    start = np.log(1.0 / ratio) / gap if gap > 0 else np.inf
    sel = (ks >= start) & (tv > floor)
    if sel.sum() < 3:
        return np.nan, sel
    slope = np.polyfit(ks[sel], np.log(tv[sel]), 1)[0]
    return -slope * k1, sel


def label(rule, scan):
    """The kernel's label in the report and the legends, e.g. 'heat bath, random scan'."""
    return style.kernel(rule, scan)["label"]


def line(rule, scan, **kw):
    """A kernel's line: the colour of its rule, its scan's marker (open for the sequential scan,
    whose line shares the rule's colour)."""
    fill = {"mfc": "none"} if scan == "sequential" else {}
    return style.kernel(rule, scan, **fill, **kw)


def _spectrum_panel(ax, lam, title, letter, decades):
    """Eigenvalues on a polar plot: angle arg λ, radius log10|λ| (|λ| < 10^-decades at the
    centre), so that the small eigenvalues' phases stay visible."""
    r = np.log10(np.maximum(np.abs(lam), 10.0 ** -decades))
    phase = np.angle(lam)
    neg = (np.abs(lam.imag) < 1e-12) & (lam.real < -1e-12)
    cplx = np.abs(lam.imag) >= 1e-12
    real = ~(neg | cplx)
    ax.plot(phase[real], r[real], "o", ms=2.5, label="real ≥ 0", **style.eigenvalue("real"))
    ax.plot(phase[neg], r[neg], "s", ms=2.5, label="real < 0", **style.eigenvalue("negative"))
    ax.plot(phase[cplx], r[cplx], "^", ms=2.5, label="complex", **style.eigenvalue("complex"))
    ax.set_rlim(-decades, 0.15)
    ax.set_rticks(list(range(-decades + 1, 1)))
    ax.set_yticklabels(["$10^{%d}$" % d if d else "" for d in range(-decades + 1, 1)],
                       fontsize=style.FONT["small"])
    ax.set_rlabel_position(100)
    ax.set_xticks(np.deg2rad([0, 90, 180, 270]))
    ax.set_xticklabels(["0", "π/2", "π", "−π/2"], fontsize=style.FONT["small"])
    ax.tick_params(pad=0)
    ax.grid(lw=0.5, color=style.reference("grid"))
    style.panel(ax, letter, title, pad=8)


def make(ctx):
    import matplotlib.pyplot as plt

    N = ctx.size(7, 9, tiny=5)
    k_max = ctx.size(40, 60, tiny=30)
    params = dict(N=N, beta=0.4, field=0.3, seed=1, k_max=k_max)
    r = common.cached(ctx, NAME, params, lambda: compute(**params))
    ks = r["k"]
    checks = []
    tol0 = float(tolerance(N, 1))

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    lam = r["heatbath_random_eig"]
    chk("heat-bath random scan: spectrum real (max |Im λ|, general eig)",
        np.abs(lam.imag).max(), f"≤ 16·2^N·ε = {tol0:.2g}", np.abs(lam.imag).max() <= tol0)
    chk("heat-bath random scan: spectrum in [0, 1] (min Re λ)", lam.real.min(),
        f"≥ −{tol0:.2g}", lam.real.min() >= -tol0 and np.abs(lam).max() <= 1 + tol0,
        f"max |λ| = {np.abs(lam).max():.15f}")
    lam = r["metropolis_random_eig"]
    chk("Metropolis random scan: spectrum real (max |Im λ|)", np.abs(lam.imag).max(),
        f"≤ {tol0:.2g}", np.abs(lam.imag).max() <= tol0)
    n_neg = int(np.sum(lam.real < -tol0))
    chk("Metropolis random scan: most negative eigenvalue", lam.real.min(), f"< −{tol0:.2g}",
        lam.real.min() < -tol0, f"{n_neg} of {len(lam)} eigenvalues negative")
    for rule in ("heatbath", "metropolis"):
        lam = r[f"{rule}_sequential_eig"]
        n_c = int(np.sum(np.abs(lam.imag) > tol0))
        chk(f"{label(rule, 'sequential')}: spectrum complex (max |Im λ|)",
            np.abs(lam.imag).max(), f"> {tol0:.2g}", np.abs(lam.imag).max() > tol0,
            f"{n_c} of {len(lam)} eigenvalues complex; max |λ_α>0| = "
            f"{np.sort(np.abs(lam))[-2]:.3f}")
    for rule, scan in KERNELS:
        tag = f"{rule}_{scan}"
        d = r[f"{tag}_diff"]
        ratio = float(np.max(d / tolerance(N, ks)))
        chk(f"{label(rule, scan)}: power route vs spectral sum, max over k ≤ {k_max}",
            d.max(), f"≤ 16·2^N·ε·k ({tolerance(N, k_max):.2g} at k = {k_max})", ratio <= 1.0,
            f"largest ratio to the tolerance {ratio:.2g}; eigenvector condition "
            f"{float(r[f'{tag}_cond']):.2g}")
    for rule in ("heatbath", "metropolis"):
        tag = f"{rule}_random"
        rate, sel = decay_rate(ks, r[f"{tag}_tv"], r[f"{tag}_kappa"])
        window = f"k = {ks[sel].min()}..{ks[sel].max()}" if sel.sum() >= 3 else "no window"
        chk(f"{label(rule, 'random')}: decay rate of TV(k) × κ1", rate, "1 ± 0.02",
            abs(rate - 1) <= 0.02, f"κ1 = {r[f'{tag}_kappa'][0]:.4f} sweeps; fit over {window}")

    decades = 4
    fig = plt.figure(figsize=(style.PAGE_WIDTH, 6.0))
    outer = fig.add_gridspec(2, 1, height_ratios=[1, 1.3], hspace=0.55)
    top = outer[0].subgridspec(1, 4, wspace=0.45)
    bottom = outer[1].subgridspec(1, 2, wspace=0.38)
    for j, (rule, scan) in enumerate(KERNELS):
        ax = fig.add_subplot(top[j], projection="polar")
        _spectrum_panel(ax, r[f"{rule}_{scan}_eig"], label(rule, scan).replace(", ", "\n"),
                        j, decades)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center", ncol=3, frameon=False,
               bbox_to_anchor=(0.5, 0.555), handletextpad=0.2, columnspacing=1.2,
               title=f"{style.letter('a–d')} eigenvalues λ of U: angle arg λ, radius |λ| on a "
                     f"log scale (outer circle |λ| = 1, centre |λ| ≤ $10^{{-{decades}}}$)")
    ax = fig.add_subplot(bottom[0])
    floor = float(tolerance(N, 1))
    for rule, scan in KERNELS:
        tag = f"{rule}_{scan}"
        tv, (k1, _) = r[f"{tag}_tv"], r[f"{tag}_kappa"]
        shown = tv > floor                   # below: round-off of the 2^N-term sum
        ax.semilogy(ks[shown], tv[shown], "-", **line(rule, scan, ms=2.5, lw=1,
                    label=f"{label(rule, scan)} (κ1 = {k1:.2f})"))
        above = np.flatnonzero(tv > 1e-9)
        anchor = above[-1] if len(above) else 0
        guide = tv[anchor] * np.exp(-(ks - ks[anchor]) / k1)
        keep = guide > floor
        ax.semilogy(ks[keep], guide[keep], "--", lw=0.9, color=style.rule_colour(rule),
                    alpha=0.7)
    ax.set_xlabel("k (sweeps)")
    ax.set_ylabel(r"TV distance $\frac{1}{2}\|p(k,p_0)-p_\theta\|_1$")
    style.panel(ax, "e", "relaxation to equilibrium; dashed: $e^{-k/\\kappa_1}$")
    ax.legend(loc="upper right", handlelength=1.5, borderpad=0.3)
    ax.set_ylim(floor / 3, 1e4)
    ax.set_yticks(10.0 ** np.arange(np.ceil(np.log10(floor / 3)), 1, 2))
    ax = fig.add_subplot(bottom[1])
    for rule, scan in KERNELS:
        d = r[f"{rule}_{scan}_diff"]
        ax.semilogy(ks[1:], np.maximum(d[1:], 1e-18), ls="none", **line(rule, scan, ms=2.5))
    ax.semilogy(ks[1:], tolerance(N, ks[1:]), ":", color=style.reference("exact"),
                label="tolerance 16·2^N·ε·k")
    ax.set_xlabel("k (sweeps)")
    ax.set_ylabel(r"$\max_x\,|$power $-$ spectral$|$")
    style.panel(ax, "f", "power route vs spectral sum")
    ax.legend(loc="upper left", handletextpad=0.3, borderpad=0.3)
    ax.set_ylim(1e-18, 1e-5)
    fig.suptitle(f"SK Boltzmann machine, N = {N}, β = 0.4, $p_0$ uniform", y=0.96)
    common.save(fig, ctx, NAME)
    return checks
