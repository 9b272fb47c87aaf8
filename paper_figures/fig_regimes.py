"""The two regimes of short-run training: the mixing time against the length k of the chains.

A machine is trained at equilibrium while its mixing time stays below k, and out of equilibrium
once the mixing time has grown past k.

Top row, exact (every number from the 2^N-state laws): a Boltzmann machine of N = 6 spins learns
a two-pattern mixture (m = 0.8) by exact gradient ascent at learning rate 0.05, with Rdm-k
(uniform p0, random-scan heat-bath sweeps), PCD-1, CD-1 and maximum likelihood (ML).
(a) The mixing time κ1 = −1/ln|λ1| of the machine's kernel along training, over k: κ1 grows as
the couplings form; dots mark the crossing κ1 = k (interpolated in ln κ1).  A machine whose κ1
has passed k keeps slowing down (Rdm-1 ends with κ1 near 10^3, 150 times ML's); with k above the ML
machine's κ1 it never crosses.  (b) The regime, measured: the equilibrium error
ε_eq = ‖⟨φ⟩_{p_θ} − ⟨φ⟩_data‖∞ of Rdm-k over that of ML at the same age; white line: twice ML
(our boundary of the equilibrium regime), dots: the crossing times of (a).  (c) ε_eq along
training (solid) and, dashed, PCD's lag: the total-variation distance between its persistent law
and p_θ, which opens at a finite learning rate and closes as θ settles (exact PCD's fixed point is
ML).
Bottom row, Monte Carlo: RBMs with 64 visible and N_h hidden units on the binarised 8×8 digits
(1597 training, 200 held-out images; 1437 and 360 in ``--full``), Rdm-k (chains from noise),
PCD-k and CD-k, alternating
Gibbs sampling.  (d) τ/k along training: τ is the integrated autocorrelation time (Sokal window,
c = 5) of the projection of equilibrium-started chains (training images, burn-in) on the data's
top principal component, mean and spread (error bar: min–max) over training seeds.  It is a
lower estimate of the relaxation time (one observable, finite window); open symbols: the window
never closed.  Legend: exact held-out log-likelihood per image (log Z summed over the hidden
layer).  (e) RMS error of the machine's statistics sampled from p0 (noise for Rdm and PCD,
training images for CD) after t steps, against the training data; markers at t = k; grey: the
noise floor, the same error for as many images drawn from the training set.  (f) Adversarial
accuracy against held-out digits (0.5: indistinguishable), grey: the floor of the finite sets.
The machine whose τ stays far below k (Rdm-100) keeps its t = k error at long t, within 3× the
noise floor (its own misfit after 600 noisy updates is about 2× the floor); the ones far past the crossing (Rdm-3, PCD-5) are best near t = k and drift away at long
t.  Colours as in (d).  Fast mode: N_h = 16, 600
updates, 2 seeds, t up to 1000; ``--full``: N_h = 20, 1200 updates, 3 seeds, Rdm-1000 and
PCD-100, t up to 10^4 (685 s on 2 cores from a cold cache, 19 checks).
"""
from __future__ import annotations

import numpy as np

from shortrun.conventions import SAMPLED_PROTOCOLS
from shortrun.paper_figures import common, style

NAME = "regimes"


def _configs(ctx):
    from shortrun.numerics.analysis import regimes as R
    return {"tiny": (R.EXACT_TINY, R.DIGITS_TINY), "fast": (R.EXACT_FAST, R.DIGITS_FAST),
            "full": (R.EXACT_FULL, R.DIGITS_FULL)}[ctx.mode]


def compute(ctx):
    """Exact runs and digits machines (cached)."""
    from shortrun.numerics.analysis import regimes as R
    ecfg, dcfg = _configs(ctx)
    exact = common.cached(ctx, f"{NAME}-exact", R.params(ecfg), lambda: R.exact_runs(ecfg))
    dig = common.cached(ctx, f"{NAME}-digits", R.params(dcfg),
                        lambda: R.digits_runs(dcfg))
    return ecfg, dcfg, exact, dig


def digits_view(dcfg, dig):
    """Per machine: τ along training over seeds, the sample-quality curves, floors and LL."""
    out = {}
    for protocol, k in dcfg.runs:
        g = lambda s, key: dig[f"{protocol}{k}_s{s}_{key}"]  # noqa: E731
        s0 = dcfg.seeds[0]
        tau = np.array([g(s, "tau") for s in dcfg.seeds])
        out[(protocol, k)] = dict(
            ages=g(s0, "ages"), tau=tau, resolved=np.all([g(s, "resolved") for s in dcfg.seeds],
                                                         axis=0),
            ll_test=np.array([float(g(s, "ll_test")) for s in dcfg.seeds]),
            times=g(s0, "times"), stats=g(s0, "stats_error"), aa=g(s0, "aa_test"),
            floor_stats=float(g(s0, "floor_stats")), floor_aa=float(g(s0, "floor_aa")))
    return out


def checks_for(ctx, ecfg, dcfg, exact, view):
    from shortrun.numerics.analysis import regimes as R
    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    ml = R.run_from(exact, "eq")
    runs = {k: R.run_from(exact, f"rdm{k}") for k in ecfg.ks}
    others = [R.run_from(exact, f"pcd{k}") for k in ecfg.pcd_ks] + \
        [R.run_from(exact, f"cd{k}") for k in ecfg.cd_ks]
    growth = min(r.kappa[-1] / r.kappa[0] for r in [ml, *runs.values(), *others])
    chk("exact: κ1 grows along training for every run (ML, Rdm, PCD, CD)", growth,
        "min κ1(end)/κ1(0) > 1.5", growth > 1.5)
    rmap = R.regime_map(list(runs.values()), ml)
    kml = ml.kappa.max()
    slow = [k for k in ecfg.ks if k < kml]
    fast = [k for k in ecfg.ks if k > runs[k].kappa.max()]
    cross = {k: runs[k].crossing for k in ecfg.ks}
    chk(f"exact: every Rdm-k with k below ML's final κ1 = {kml:.3g} crosses κ1 = k",
        len([k for k in slow if np.isfinite(cross[k])]), f"= {len(slow)} (k in {slow})",
        all(np.isfinite(cross[k]) for k in slow),
        "crossing ages: " + ", ".join(f"k={k}: {cross[k]:.3g}" for k in ecfg.ks))
    if not ctx.tiny:
        eq_k = [k for i, k in enumerate(rmap.ks) if rmap.equilibrium[i].all()]
        chk("exact: Rdm-k with k above κ1 all along stay in the equilibrium regime "
            f"(ε_eq ≤ {rmap.threshold:g}× ML at every age)", len(fast),
            f"k in {fast} all in {[int(k) for k in eq_k]}, at least one",
            len(fast) >= 1 and set(fast) <= set(int(k) for k in eq_k))
        leave = []
        for i, k in enumerate(rmap.ks):
            out = np.flatnonzero(~rmap.equilibrium[i])
            if out.size:
                leave.append((int(k), float(rmap.steps[out[0]]), cross[int(k)]))
        ok = all(np.isfinite(c) and t >= c for _, t, c in leave)
        chk("exact: a machine leaves the equilibrium regime only after its κ1 has crossed k",
            len(leave), "first age with ε_eq > 2× ML ≥ crossing age, for every k that leaves",
            ok and len(leave) >= 1, "; ".join(f"k={k}: leaves at {t:g}, crossed at {c:.3g}"
                                             for k, t, c in leave))
        end = rmap.ratio[0, -1]
        chk(f"exact: Rdm-{int(rmap.ks[0])} ends far out of equilibrium", end,
            "ε_eq / ε_eq(ML) at the last age > 10", end > 10,
            f"κ1(end) = {runs[int(rmap.ks[0])].kappa[-1]:.3g}")
        # The lag opens at the finite rate and closes as θ settles; more chain steps per update
        # (larger k) keep the persistent law closer to p_θ, so the smallest k lags most.
        first = None
        for k in sorted(ecfg.pcd_ks):
            r = R.run_from(exact, f"pcd{k}")
            top, last = np.nanmax(r.lag), r.lag[-1]
            if first is None:
                first = top
                need, ok = "max TV > 0.01", top > 0.01
            else:
                need, ok = f"1e-6 < max TV < PCD-{min(ecfg.pcd_ks)}'s {first:.3g}", 1e-6 < top < first
            chk(f"exact: PCD-{k}'s persistent law lags behind p_θ at the finite rate, then the "
                "lag closes", top, f"{need} and TV(end) < max/5 (end: {last:.2g})",
                ok and last < top / 5,
                f"age of the largest lag {r.steps[int(np.nanargmax(r.lag))]:g}")
    # --- digits
    for (protocol, k), v in view.items():
        label = style.protocol_label(protocol, k)
        m = v["tau"].mean(axis=0)
        chk(f"digits {label}: τ grows along training (mean over seeds)", m[-1] / max(m[0], 0.5),
            "τ(end)/τ(first) > 2" if not ctx.tiny else "recorded (tiny: not asserted)",
            ctx.tiny or m[-1] / max(m[0], 0.5) > 2,
            ", ".join(f"{a}: {x:.3g}" for a, x in zip(v["ages"], m))
            + f"; exact test LL {v['ll_test'].mean():.3f} ± {v['ll_test'].std():.2g} nats")
    if ctx.tiny:
        return checks
    ks_rdm = sorted(k for p, k in view if p == "rdm")
    lo, hi = view[("rdm", ks_rdm[0])], view[("rdm", ks_rdm[-1])]
    chk(f"digits Rdm-{ks_rdm[0]}: τ passes k during training (out-of-equilibrium regime)",
        lo["tau"].mean(axis=0)[-1], f"τ(end) > k = {ks_rdm[0]}",
        lo["tau"].mean(axis=0)[-1] > ks_rdm[0])
    chk(f"digits Rdm-{ks_rdm[-1]}: τ stays below k (equilibrium regime)",
        hi["tau"].max(), f"max τ over ages and seeds < k = {ks_rdm[-1]}",
        hi["tau"].max() < ks_rdm[-1])
    t_long = hi["times"][-1]
    at = lambda v, t: v["stats"][list(v["times"]).index(t)]  # noqa: E731
    k1 = ks_rdm[-1]
    stay = hi["stats"][-1] / at(hi, k1)
    chk(f"digits Rdm-{k1}: sampled past t = k the statistics error stays (equilibrium regime)",
        stay, f"error(t = {t_long}) / error(t = k) ≤ 1.5", stay <= 1.5,
        f"error {at(hi, k1):.4f} at t = k, {hi['stats'][-1]:.4f} at t = {t_long}")
    ratio = hi["stats"][-1] / hi["floor_stats"]
    chk(f"digits Rdm-{k1}: at t = {t_long} the statistics error is at the noise floor's scale",
        ratio, "error / floor ≤ 3", ratio <= 3,
        f"error {hi['stats'][-1]:.4f}, floor {hi['floor_stats']:.4f}; the machine's own misfit at "
        f"t = k is {at(hi, k1) / hi['floor_stats']:.2f}× the floor (600 noisy updates)")
    k0 = ks_rdm[0]
    ratio = at(lo, 10 * k0) / lo["floor_stats"]
    grow = at(lo, 10 * k0) / at(lo, k0)
    chk(f"digits Rdm-{k0}: at t = 10k = {10 * k0} the statistics error is well above the floor "
        "and above its value at t = k (out-of-equilibrium regime)", ratio,
        "error / floor ≥ 2 and error(10k) / error(k) ≥ 2", ratio >= 2 and grow >= 2,
        f"error {at(lo, 10 * k0):.4f} vs {at(lo, k0):.4f} at t = k; floor "
        f"{lo['floor_stats']:.4f}")
    return checks


def draw(ctx, ecfg, dcfg, exact, view):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from shortrun.numerics.analysis import regimes as R

    ml = R.run_from(exact, "eq")
    runs = [R.run_from(exact, f"rdm{k}") for k in ecfg.ks]
    rmap = R.regime_map(runs, ml)
    from matplotlib.ticker import NullFormatter
    fig, axes = plt.subplots(2, 3, figsize=(style.PAGE_WIDTH, 5.6),
                             gridspec_kw=dict(hspace=0.5, wspace=0.65))
    age = lambda r: r.steps + 1  # noqa: E731   (log axes: age 0 drawn at 1)
    # (a) kappa1 along training
    ax = axes[0, 0]
    for i, r in enumerate(runs):
        c = style.protocol_shade("rdm", i, len(runs))
        ax.plot(age(r), r.kappa, color=c, lw=1)
        ax.axhline(r.k, color=c, lw=0.6, ls=":")
        if np.isfinite(r.crossing):
            ax.plot([r.crossing + 1], [r.k], "o", color=c, ms=4)
    ax.plot(age(ml), ml.kappa, **style.protocol("ml", lw=1.2, ls="--", label="ML"))
    ax.set(xscale="log", yscale="log", xlabel="training age t_age + 1 (updates)",
           ylabel="κ1 (sweeps); dotted: k")
    ax.set_ylim(top=30 * max(r.kappa.max() for r in runs))
    ax.text(0.04, 0.96, "Rdm-k, k = " + ", ".join(f"{r.k:g}" for r in runs)
            + "\n(light to dark); dots: κ1 = k", transform=ax.transAxes, va="top",
            fontsize=style.FONT["annotation"])
    ax.legend(loc="lower right")
    style.panel(ax, "a", "mixing time along training")
    # (b) regime map
    ax = axes[0, 1]
    top = max(10.0, float(rmap.ratio.max()))
    im = ax.pcolormesh(rmap.steps + 1, rmap.ks, np.clip(rmap.ratio, 0.5, top),
                       norm=LogNorm(0.5, top), cmap="viridis", shading="nearest",
                       rasterized=True)
    if (rmap.ratio > rmap.threshold).any() and (rmap.ratio <= rmap.threshold).any():
        ax.contour(rmap.steps + 1, rmap.ks, rmap.ratio, levels=[rmap.threshold], colors="w",
                   linewidths=1.0)
    for r in runs:
        if np.isfinite(r.crossing):
            ax.plot([r.crossing + 1], [r.k], "o", mfc="none", mec="w", ms=4)
    ax.set(xscale="log", yscale="log", xlabel="training age t_age + 1", ylabel="k")
    fig.colorbar(im, ax=ax, pad=0.02, fraction=0.08)
    ax.text(0.04, 0.96, "colour: ε_eq / ε_eq(ML)", transform=ax.transAxes, va="top", color="w",
            fontsize=style.FONT["annotation"])
    style.panel(ax, "b", "regime map, Rdm-k")
    # (c) equilibrium error and PCD lag
    ax = axes[0, 2]
    ax.plot(age(ml), ml.eq_error, **style.protocol("ml", lw=1.2, label="ML"))
    for i, r in enumerate(runs):
        if r.k in (ecfg.ks[0], ecfg.ks[-1]):
            ax.plot(age(r), r.eq_error, lw=1,
                    **style.protocol("rdm", int(r.k), color=style.protocol_shade(
                        "rdm", i, len(runs))))
    for k in ecfg.cd_ks:
        r = R.run_from(exact, f"cd{k}")
        ax.plot(age(r), r.eq_error, lw=1, **style.protocol("cd", k))
    for k in ecfg.pcd_ks:
        r = R.run_from(exact, f"pcd{k}")
        ax.plot(age(r), r.eq_error, lw=1, **style.protocol("pcd", k))
        ax.plot(age(r), r.lag, lw=1, ls="--",
                **style.protocol("pcd", k, label=f"PCD-{k} lag (TV)"))
    ax.set(xscale="log", yscale="log", xlabel="training age t_age + 1", ylabel="ε_eq; TV lag",
           ylim=(1e-3, 1e3))
    ax.legend(loc="upper right", ncol=2, handlelength=1.0, columnspacing=0.6)
    style.panel(ax, "c", "equilibrium error, PCD lag")
    # digits
    names = list(view)
    colour = {}
    for p in SAMPLED_PROTOCOLS:
        mine = [n for n in names if n[0] == p]
        for i, n in enumerate(mine):
            colour[n] = style.protocol_shade(p, i, len(mine))
    ax = axes[1, 0]
    for n, v in view.items():
        y = v["tau"] / n[1]
        m = y.mean(axis=0)
        err = [m - y.min(axis=0), y.max(axis=0) - m]
        c = colour[n]
        ax.errorbar(v["ages"], m, yerr=err, color=c, lw=1, capsize=2, marker="o", ms=3,
                    label=f"{style.protocol_label(*n)} (LL {v['ll_test'].mean():.1f})")
        bad = ~v["resolved"]
        ax.plot(v["ages"][bad], m[bad], "o", mfc="w", mec=c, ms=4)
    ax.axhline(1, color="k", lw=0.8, ls=":")
    ax.set(xscale="log", yscale="log", xlabel="training update", ylabel="τ / k")
    ax.set_ylim(top=1e3 * max(np.max(v["tau"]) / n[1] for n, v in view.items()))
    ax.legend(loc="upper left")
    style.panel(ax, "d", "digits: τ/k along training")
    for ax, key, floor, letter, title, ylabel in (
            (axes[1, 1], "stats", "floor_stats", "e", "statistics error", "RMS error of ⟨φ⟩"),
            (axes[1, 2], "aa", "floor_aa", "f", "adversarial accuracy", "AA (held-out)")):
        for n, v in view.items():
            ax.plot(v["times"] + 1, v[key], color=colour[n], lw=1,
                    label=None)
            i = list(v["times"]).index(n[1])
            ax.plot([n[1] + 1], [v[key][i]], "o", color=colour[n], ms=4)
        f = np.mean([v[floor] for v in view.values()])
        ax.axhline(f, **style.protocol("data", lw=1, ls="--", label="noise floor"))
        ax.set(xscale="log", xlabel="sampling time t + 1", ylabel=ylabel)
        if key == "stats":
            ax.set_yscale("log")
        ax.legend(loc="upper right")
        style.panel(ax, letter, title)
    for ax in axes.flat:          # log axes: decade labels only
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    common.save(fig, ctx, NAME)


def make(ctx):
    with style.context():
        ecfg, dcfg, exact, dig = compute(ctx)
        view = digits_view(dcfg, dig)
        checks = checks_for(ctx, ecfg, dcfg, exact, view)
        draw(ctx, ecfg, dcfg, exact, view)
    return checks
