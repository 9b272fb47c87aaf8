"""RBMs on handwritten digits: the best samples come at the training time t = k.

Data: the 8×8 digits bundled with scikit-learn, binarised (grey level > 8), 1437 training and 360
held-out images.  RBMs with 64 visible and N_h hidden units are trained by Monte Carlo with
alternating Gibbs chains of k steps (the RBM's only update: v → h → v), Rdm-k (chains from
uniform noise at every update), CD-k (from the training images) and PCD-k (persistent chains), then
sampled from the same p0 (noise for Rdm and PCD, training images for CD) for t steps.
(a) Samples at selected t (columns) for each protocol (rows; 6 chains each).  (b) Error of the
sampled statistics φ = (v_i, μ_α, v_iμ_α) (hidden conditional means) against the training data
along t, the training time t = k dashed: short-run training matches the data at t = k (G5);
sampling shorter has not yet formed the digits, sampling longer drifts to the machine's own law.
(c) Nearest-neighbour adversarial accuracy (Hamming distance, 360 samples against the 360 held-out
images; 0.5 = indistinguishable, → 1 = poor or frozen).  (d) Exponential autocorrelation time τ
of equilibrium-started chains on the data's top 3 principal components, along training, against
k (dotted); open triangles: C(t) still above 0.1 at the end of the window (a lower estimate).  A
machine with τ ≫ k lives out of equilibrium, where only t ≈ k gives good samples.
"""
from __future__ import annotations

import numpy as np

from shortrun.paper_figures import common, style

NAME = "rbm"


def _config(ctx):
    from shortrun.numerics.analysis import digits_memory as dm
    return {"tiny": dm.TINY, "fast": dm.FAST, "full": dm.FULL}[ctx.mode]


def mosaic(images, rows, cols, side=8):
    """Tile ``rows`` × ``cols`` images (±1 vectors of side² pixels) with one blank pixel between
    them (NaN)."""
    out = np.full((rows * (side + 1) - 1, cols * (side + 1) - 1), np.nan)
    for j, img in enumerate(images[: rows * cols]):
        r, c = divmod(j, cols)
        out[r * (side + 1): r * (side + 1) + side, c * (side + 1): c * (side + 1) + side] = \
            img.reshape(side, side)
    return out


def _shown_times(times, k, n=7):
    """Up to n grid times for the sample panel: 0, 1, k, the largest, and spread in between."""
    times = list(times)
    want = [0, 1, max(1, k // 2), k, 10 * k, times[-1]]
    picked = sorted({min(times, key=lambda t: abs(np.log1p(t) - np.log1p(w))) for w in want})
    return picked[:n]


def make(ctx):
    import matplotlib.pyplot as plt
    from shortrun.numerics.analysis import digits_memory as dm

    cfg = _config(ctx)
    r = common.cached(ctx, NAME, dm.params(cfg), lambda: dm.run(
        cfg, progress=None if ctx.progress else False,
        checkpoint_dir=ctx.cache_dir / "rbm_training"))
    k, far = cfg.k, cfg.t_max_factor * cfg.k
    get = {p: {key[len(p) + 1:]: v for key, v in r.items() if key.startswith(p + "_")}
           for p in cfg.protocols}
    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    def at(p, key, t):
        return float(get[p][key][list(get[p]["times"]).index(t)])

    rdm = get["rdm"]
    early = at("rdm", "stats_error", 0) / at("rdm", "stats_error", k)
    chk(f"Rdm-{k}: at t = 0 (noise) the statistics are not yet formed", early,
        "error(0) / error(k) > 5", early > 5)
    if not ctx.tiny:     # the tiny mode trains a few updates only: it runs the code, not the claim
        best = int(rdm["times"][np.argmin(rdm["stats_error"])])
        chk(f"Rdm-{k}: the sampled statistics are closest to the data near t = k", best,
            f"best t in [k/2, 2k] = [{k // 2}, {2 * k}]", k // 2 <= best <= 2 * k,
            f"error at t = k: {at('rdm', 'stats_error', k):.4f}")
        ratio = at("rdm", "stats_error", far) / at("rdm", "stats_error", k)
        chk(f"Rdm-{k}: sampling {cfg.t_max_factor}× longer degrades the statistics", ratio,
            "error(100k) / error(k) > 1.5", ratio > 1.5,
            f"{at('rdm', 'stats_error', far):.4f} vs {at('rdm', 'stats_error', k):.4f}")
        best_aa = int(rdm["times"][np.argmin(np.abs(rdm["aa_test"] - 0.5))])
        worse = at("rdm", "aa_test", far) - at("rdm", "aa_test", k)
        chk(f"Rdm-{k}: sample quality (AA closest to 0.5) is best near t = k and degrades later",
            worse, f"best t in [k/2, 2k]; AA(100k) − AA(k) > 0.05",
            k // 2 <= best_aa <= 2 * k and worse > 0.05,
            f"best t = {best_aa}; AA(test): t = k {at('rdm', 'aa_test', k):.3f}, "
            f"t = {far} {at('rdm', 'aa_test', far):.3f}")
        tau_end = float(rdm["tau"][-1])
        chk(f"Rdm-{k}: the trained machine mixes far slower than its training chains", tau_end,
            f"τ(end) > 10k = {10 * k}", tau_end > 10 * k)
        pcd_end = float(get["pcd"]["tau"][-1]) if "pcd" in get else np.nan
        chk(f"PCD-{k}: the machine mixes slower than the k steps its persistent chains get per "
            "update", pcd_end, f"τ(end) > 2k = {2 * k}", pcd_end > 2 * k)
        for p in cfg.protocols:
            g = get[p]
            chk(f"{style.protocol_label(p, k)}: τ (E4) grows along training", g["tau"][-1],
                "τ(end) > τ(early)", g["tau"][-1] > g["tau"][1],
                ", ".join(f"update {int(s)}: {x:.3g}" for s, x in zip(g["tau_steps"], g["tau"])))
    aa_gain = at("rdm", "aa_test", 0) - at("rdm", "aa_test", k)
    chk(f"Rdm-{k}: samples at t = k are far more realistic than the noise they start from",
        aa_gain, "AA(0) − AA(k) > 0.1", aa_gain > 0.1,
        f"AA(test): t = 0 {at('rdm', 'aa_test', 0):.3f}, t = k {at('rdm', 'aa_test', k):.3f}, "
        f"t = {far} {at('rdm', 'aa_test', far):.3f}")

    # --- figure
    fig = plt.figure(figsize=(style.PAGE_WIDTH, 6.6))
    gs = fig.add_gridspec(2, 3, height_ratios=[1.25, 1.0], hspace=0.38, wspace=0.5)
    sub = gs[0, :].subgridspec(len(cfg.protocols), 1, hspace=0.35)
    for j, p in enumerate(cfg.protocols):
        g = get[p]
        shown = _shown_times(g["times"], k)
        tiles = [mosaic(g["samples"][list(g["times"]).index(t)], 2, 3) for t in shown]
        gap = np.full((tiles[0].shape[0], 3), np.nan)
        strip = np.concatenate(sum(([tile, gap] for tile in tiles), [])[:-1], axis=1)
        ax = fig.add_subplot(sub[j])
        cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
        ax.imshow(strip, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
        width = tiles[0].shape[1] + 3
        ax.set_xticks([i * width + tiles[0].shape[1] / 2 for i in range(len(shown))],
                      [f"t = {t}" + (" = k" if t == k else "") for t in shown])
        ax.set_yticks([])
        ax.set_ylabel(style.protocol_label(p, k), rotation=0, ha="right", va="center")
        for s in ax.spines.values():
            s.set_visible(False)
        if j == 0:
            style.panel(ax, "a", "samples along the sampling time t")
    panels = (("stats_error", "statistics error", "RMS error of ⟨φ⟩ vs data"),
              ("aa_test", "adversarial accuracy", "AA (held-out digits)"))
    for j, (key, title, ylabel) in enumerate(panels):
        ax = fig.add_subplot(gs[1, j])
        for p in cfg.protocols:
            g = get[p]
            ax.plot(g["times"] + 1, g[key], "o-", ms=3, lw=1, **style.protocol(p, k))
        ax.axvline(k + 1, color=style.reference("exact"), ls="--", lw=0.8)
        if key == "aa_test":
            ax.axhline(0.5, color=style.reference("guide"), lw=0.8)
        else:
            ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel("t + 1 (sampling steps)")
        ax.set_ylabel(ylabel)
        style.panel(ax, j + 1, title)
        ax.legend()
    ax = fig.add_subplot(gs[1, 2])
    for p in cfg.protocols:
        g = get[p]
        pos = g["tau"] > 0            # τ = 0: decorrelated within one step (W ≈ 0 at the start)
        ok = g["tau_resolved"].astype(bool) & pos
        ax.plot(g["tau_steps"][pos], g["tau"][pos], "-", color=style.protocol_colour(p), lw=1)
        ax.plot(g["tau_steps"][ok], g["tau"][ok], "o", ms=4, **style.protocol(p, k))
        ax.plot(g["tau_steps"][~ok & pos], g["tau"][~ok & pos], "^", ms=5, mfc="none",
                color=style.protocol_colour(p))
    ax.axhline(k, color=style.reference("exact"), ls=":", lw=0.8, label="k")
    ax.set_yscale("log")
    ax.set_xlabel("training update")
    ax.set_ylabel("τ (steps)")
    style.panel(ax, "d", "autocorrelation time")
    ax.plot([], [], "^", mfc="none", color=style.reference("proxy"), label="not resolved")
    ax.legend()
    common.save(fig, ctx, NAME)
    return checks
