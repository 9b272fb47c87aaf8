"""Coupling error of short-run training against k: the high-temperature law and where it fails.

Teachers: the 3×3 periodic nearest-neighbour ferromagnet (β = 0.1–0.4; β_c ≈ 0.44 for the
infinite lattice) and a Sherrington–Kirkpatrick model of N = 9 spins (J⁰_ij ~ N(0, 1/N), seed 1,
β = 0.25–1.5), h = 0; data = the exact equilibrium statistics; heat-bath updates, p0 uniform,
Rdm-k training solved exactly (Newton on all 2^9 states, warm-started along k).  (a, b) Random
scan: the squared coupling error Σ_{i<j}(J*_ij − βJ⁰_ij)² (markers) against k, with the
first-order high-temperature law Σ(βJ⁰)²(1/f1_N(k) − 1)² of (Ib) in its exact-N random-scan form
(dashed; f1_N = 1 − (1 − 2/N)^{kN}; for large N it is Σ(βJ⁰)²/(e^{2k} − 1)²).  Crosses: no
finite fixed point — Newton's iterates run off to infinity or stall with saturated parameters
(FixedPoint.status): the 3×3 lattice at β = 0.4 has no finite Rdm-1 fixed point with the random
scan, the SK model none at β ≥ 1.  (c, d) The sequential scan has a fixed point on the whole
grid, including those two cells, and, having no first-order bias (Ic), a much smaller error.
Series stop where the error reaches Newton's round-off (10⁻¹⁹).  (e) Exact error over (Ib)
against β·λ_max(J⁰)·k (λ_max the largest eigenvalue of J⁰): the law holds (grey band: within a
factor 2) only at small β·k; beyond β·λ_max·k = 3 (dotted) every point exceeds it tenfold or
more, because the error decays more slowly than (Ib) predicts — (f) at the rate set by the
trained machine's own relaxation: the slope of ln(error) per sweep over the last three points of
each series between 10⁻¹⁷ and 10⁻⁶ (θ* within 10⁻³ of the teacher: linear response) against
−2 ln|λ*|, λ* the slowest eigenvalue of the trained machine's one-sweep kernel whose mode p0
excites and the statistics see (spectral.decompose at θ*; h = 0 and the flip-symmetric p0 leave
the odd modes, κ1's included, unexcited).  The bias of p(k, p0) decays
like λ*^k, the squared coupling error like λ*^{2k}.  Filled: the λ* mode carries at least ten
times the rest of the bias at the start of the fit and λ* is real; open: a second mode, or the
oscillation of a complex pair, is still visible when the error reaches round-off.
"""
from __future__ import annotations

import numpy as np

from shortrun.paper_figures import common, style

NAME = "coupling_error"
L = 3
N_SK = 9
SK_SEED = 1
FLOOR = 1e-19          # squared coupling errors below this are at Newton's round-off
FIT_FLOOR = 1e-17      # the asymptotic fit uses errors above this (accurate to 1e-3)
LINEAR = 1e-6          # ... and below this (theta* within 1e-3 of the teacher: linear response)
WEIGHT_MIN = 1e-6      # bias weight (relative to the stationary term) of an unexcited mode


def teacher_of(name, beta):
    from shortrun.numerics.data import teachers

    if name == "lattice":
        return teachers.ferromagnet(L, beta)
    if name == "sk":
        return teachers.sk(N_SK, beta, seed=SK_SEED)
    raise ValueError(f"teacher={name!r} must be 'lattice' or 'sk'.")


def slowest_excited(model, scan, k0):
    """The relaxation that sets the asymptotic decay of the bias of p(k, p0), p0 uniform (G3).

    The bias of the statistics is Σ_α c_α λ_α^k Φᵀu_α; its mode weights are
    w_α = |c_α|·‖Φᵀu_α‖.  Returns (|λ1|, |λ*|, dominance, complex): λ* the slowest eigenvalue with
    w_α > WEIGHT_MIN·w_0 (w_0 of the stationary term); dominance = Σ_{|λ_α| = |λ*|} w_α|λ_α|^k0 / Σ_{other α ≥ 1}
    w_α|λ_α|^k0, how far the slowest excited mode dominates the bias at the fit's first k0;
    ``complex``: λ* is complex (the decay then oscillates about its envelope |λ*|^k).
    """
    from shortrun.numerics import kernels
    from shortrun.numerics.core import moments
    from shortrun.numerics.kernels import spectral

    S = spectral.decompose(kernels.kernel(model, "heatbath", scan, warn=False))
    n = S.right.shape[0]
    c = np.abs(S.coefficients(np.full(n, 1.0 / n)))
    proj = np.array([np.hypot(np.linalg.norm(moments.stats(np.real(u))),
                              np.linalg.norm(moments.stats(np.imag(u)))) for u in S.right.T])
    weight = c * proj
    mod = np.abs(S.eigenvalues)
    excited = np.flatnonzero(weight[1:] > WEIGHT_MIN * weight[0]) + 1
    if not excited.size:
        return float(mod[1]), 0.0, 0.0, False
    star = excited[np.argmax(mod[excited])]
    same = np.isclose(mod, mod[star], rtol=1e-9, atol=0)
    rest = np.ones(n, bool)
    rest[0] = False
    rest &= ~same
    term = weight * mod ** k0
    dominance = term[same].sum() / max(term[rest].sum(), 1e-300)
    return (float(mod[1]), float(mod[star]), float(dominance),
            bool(abs(np.imag(S.eigenvalues[star])) > 1e-12))


def series(teacher, beta, scan, ks):
    """Exact Rdm-k fixed points along ``ks`` (warm-started from the previous root), their squared
    coupling errors and the asymptotic decay: one cell of the sweep."""
    from shortrun.numerics.analysis import diagnostics
    from shortrun.numerics.training import fixed_point

    t = teacher_of(teacher, beta)
    data = t.data()
    err = np.full(len(ks), np.nan)
    status = []
    theta = None
    for j, k in enumerate(ks):
        fp = fixed_point.solve(data, k, scan=scan, theta0=theta, check=False, progress=False)
        if not fp.converged and theta is not None:       # warm start lost: the default start
            fp = fixed_point.solve(data, k, scan=scan, check=False, progress=False)
        status.append(fp.status)
        if not fp.converged:
            theta = None
            continue
        theta = fp.theta
        err[j] = diagnostics.coupling_error(fp.model, t)
        if err[j] < FLOOR:
            status += ["floor"] * (len(ks) - j - 1)
            break
    ks_a = np.asarray(ks, float)
    usable = np.flatnonzero(np.isfinite(err) & (err > FIT_FLOOR) & (err <= LINEAR))[-3:]
    out = {"err": err, "newton_status": status, "slope": np.nan, "lam1": np.nan,
           "lam_star": np.nan, "dominance": np.nan, "complex": False, "fit_k": ks_a[usable]}
    if len(usable) >= 2:
        out["slope"] = float(np.polyfit(ks_a[usable], np.log(err[usable]), 1)[0])
        fp = fixed_point.solve(data, ks[usable[-1]], scan=scan, check=False, progress=False)
        out["lam1"], out["lam_star"], out["dominance"], out["complex"] = slowest_excited(
            fp.model, scan, ks_a[usable[0]])
    return out


def ib_error(teacher, beta, ks, scan):
    """(Ib) to first order: Σ_{i<j}(βJ⁰)² (1/f1 − 1)², f1 in the exact-N random-scan form."""
    from shortrun.theory import high_temperature as ht

    t = teacher_of(teacher, beta)
    iu = np.triu_indices(t.N, 1)
    scale = np.sum((beta * t.J0[iu]) ** 2)
    f1 = np.array([ht.factor_values(scan, k, t.N)["f1"] for k in ks])
    return scale * (1 / f1 - 1) ** 2


def exact_over_ib(err, teacher, beta, ks):
    """Exact error over (Ib) (random scan); NaN where (Ib) underflows to 0 or no root exists."""
    ib = ib_error(teacher, beta, ks, "random")
    return np.divide(err, ib, out=np.full(len(ks), np.nan), where=ib > 0)


SETS = (("lattice", "random"), ("sk", "random"), ("lattice", "sequential"),
        ("sk", "sequential"))
TEACHER_NAMES = {"lattice": "3×3 lattice", "sk": f"SK, N = {N_SK}"}
#: beyond this beta * lambda_max(J0) * k the first-order law (Ib) has failed
X_FAIL = 3.0
#: the slowest excited mode must carry this many times the rest of the bias at the fit's start
DOMINANCE = 10.0
#: tiny couplings at k = 1, where (Ib) must become exact
SMALL_BETAS = (0.01, 0.02)
ERROR_LABEL = "coupling error Σ(J* − βJ⁰)²"


def coupling_scale(teacher):
    """λ_max(J⁰): the collective mode's coupling strength (4 on the square lattice)."""
    return float(np.linalg.eigvalsh(teacher_of(teacher, 1.0).J0).max())


def asymptotic(row):
    """The series' fit window lies in the asymptotic regime: one real mode dominates the bias."""
    return bool(row["dominance"] >= DOMINANCE and not row["complex"])


def make(ctx):
    import matplotlib.pyplot as plt
    from shortrun.numerics import sweeps

    ks = ctx.size([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30],
                  [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50], tiny=[1, 2, 4, 8, 12])
    betas = {"lattice": ctx.size([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.35, 0.4],
                                 tiny=[0.2, 0.4]),
             "sk": ctx.size([0.25, 0.5, 1.0, 1.5], [0.25, 0.5, 0.75, 1.0, 1.5], tiny=[0.5, 1.0])}
    cells = [dict(teacher=t, beta=b, scan=s, ks=ks) for t, s in SETS for b in betas[t]]
    cells += [dict(teacher="lattice", beta=b, scan="random", ks=[1]) for b in SMALL_BETAS]
    table = sweeps.run(series, cells, cache_dir=ctx.cache_dir, name=NAME,
                       scheduler=ctx.scheduler, progress=ctx.progress, on_error="raise")
    rows = {(r["teacher"], r["beta"], r["scan"]): r for r in table.rows}
    ks_a = np.asarray(ks, float)
    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    # existence of the fixed points, as the caption states it
    b_hot = max(betas["lattice"])
    st = rows["lattice", b_hot, "random"]["newton_status"][0]
    chk(f"3×3 lattice, random scan, β = {b_hot:g}, k = 1: no finite fixed point",
        float(st != "converged"), "Newton does not converge (status ≠ converged)",
        st != "converged", f"status {st!r}")
    for teacher in ("lattice", "sk"):
        bad = [(b, k) for b in betas[teacher] for k, s in
               zip(ks, rows[teacher, b, "sequential"]["newton_status"])
               if s not in ("converged", "floor")]
        chk(f"{teacher}, sequential scan: a finite fixed point at every (β, k)", len(bad), "= 0",
            not bad, f"{len(betas[teacher])} β × {len(ks)} k" + (f"; failures {bad}" if bad
                                                                 else ""))
    # (Ib) becomes exact as beta -> 0 (k = 1): the relative deviation is O(beta)
    dev = [rows["lattice", b, "random"]["err"][0] / ib_error("lattice", b, [1], "random")[0] - 1
           for b in SMALL_BETAS]
    chk(f"lattice, random scan, k = 1: exact/(Ib) − 1 at β = {SMALL_BETAS[0]:g}", dev[0],
        "≤ 0.2, and doubling with β (O(β))", abs(dev[0]) <= 0.2 and 1.7 <= dev[1] / dev[0] <= 2.3,
        f"{dev[1]:.3f} at β = {SMALL_BETAS[1]:g} (ratio {dev[1] / dev[0]:.2f})")
    # where (Ib) fails: exact/(Ib) against x = beta * lambda_max * k
    xs, ratios = [], []
    for teacher in ("lattice", "sk"):
        lam = coupling_scale(teacher)
        for b in betas[teacher]:
            ratio = exact_over_ib(rows[teacher, b, "random"]["err"], teacher, b, ks)
            ok = np.isfinite(ratio)
            xs.append(b * lam * ks_a[ok])
            ratios.append(ratio[ok])
    xs, ratios = np.concatenate(xs), np.concatenate(ratios)
    far = xs >= X_FAIL
    chk(f"(Ib) fails beyond small β·k: smallest exact/(Ib) over the points with β·λmax(J⁰)·k ≥ "
        f"{X_FAIL:g}", ratios[far].min(), "> 10", far.any() and ratios[far].min() > 10,
        f"{int(far.sum())} points (lattice and SK, random scan)")
    # asymptotic decay against the spectral prediction, where the slowest excited mode dominates
    devs, skipped = [], []
    for (teacher, beta, scan), r in rows.items():
        if not np.isfinite(r["slope"]) or r["lam_star"] <= 0:
            continue
        if asymptotic(r):
            pred = 2 * np.log(r["lam_star"])
            devs.append((abs(r["slope"] / pred - 1), (teacher, beta, scan), r["slope"], pred))
        else:
            skipped.append(f"{teacher} {scan} β={beta:g}")
    n_series = sum(len(betas[t]) for t, _ in SETS)
    worst = max(devs) if devs else (np.inf, None, np.nan, np.nan)
    chk("asymptotic slope of ln(error) per sweep against 2 ln|λ*| (series whose slowest excited "
        f"mode dominates the bias ≥ {DOMINANCE:g}×, λ* real)", worst[0], "relative ≤ 5%",
        worst[0] <= 0.05 and len(devs) >= n_series // 4,
        f"{len(devs)} of {n_series} series; worst {worst[1]}: {worst[2]:.3f} vs {worst[3]:.3f}; not yet "
        f"asymptotic before round-off: {', '.join(skipped) or 'none'}")

    # --- figure
    fig, axes = plt.subplots(3, 2, figsize=(style.PAGE_WIDTH, 8.6))
    for i, (ax, (teacher, scan)) in enumerate(zip(axes.ravel(), SETS)):
        for beta, color in zip(betas[teacher], style.ramp(len(betas[teacher]))):
            r = rows[teacher, beta, scan]
            ok = np.isfinite(r["err"])
            ax.semilogy(ks_a[ok], r["err"][ok], "o-", ms=3.5, lw=0.9, color=color,
                        label=f"β = {beta:g}")
            none = np.array([s not in ("converged", "floor") for s in r["newton_status"]])
            ax.semilogy(ks_a[none], np.full(none.sum(), 3e1), "x", ms=7, mew=1.5, color=color)
            if scan == "random":
                ax.semilogy(ks_a, ib_error(teacher, beta, ks, scan), "--", lw=0.9, color=color)
        ax.set_ylim(FLOOR / 10, 3e2)
        ax.set_xlim(0, ks_a.max() + 1)
        ax.set_xlabel("k (sweeps)")
        ax.set_ylabel(ERROR_LABEL)
        style.panel(ax, i, f"{TEACHER_NAMES[teacher]}, {style.rule_label(scan)}")
        ax.set_yticks(10.0 ** np.arange(-18, 3, 4))
        extra = []
        if scan == "random":
            extra = [plt.Line2D([], [], ls="--", color=style.reference("proxy"),
                                label="(Ib), first order"),
                     plt.Line2D([], [], ls="none", marker="x", color=style.reference("proxy"),
                                label="no finite fixed point")]
        h, lab = ax.get_legend_handles_labels()
        ax.legend(h + extra, lab + [e.get_label() for e in extra], loc="upper right", ncol=2)
    ax = axes[2, 0]
    for teacher in ("lattice", "sk"):
        lam = coupling_scale(teacher)
        m = "o" if teacher == "lattice" else "s"
        for beta, color in zip(betas[teacher], style.ramp(len(betas[teacher]))):
            r = rows[teacher, beta, "random"]
            ratio = exact_over_ib(r["err"], teacher, beta, ks)
            ok = np.isfinite(ratio)
            ax.semilogy(beta * lam * ks_a[ok], ratio[ok], m + "-", ms=3.5, lw=0.8,
                        color=color, mfc="none" if teacher == "sk" else None)
    ax.axhspan(0.5, 2, color=style.reference("shade"), zorder=0)
    ax.plot([], [], "o-", color=style.reference("proxy"), ms=3.5, label="3×3 lattice (λmax = 4)")
    ax.plot([], [], "s-", color=style.reference("proxy"), ms=3.5, mfc="none",
            label=f"SK (λmax = {coupling_scale('sk'):.2f})")
    ax.axvline(X_FAIL, color=style.reference("exact"), ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(0.3, 20)
    ax.set_ylim(0.3, 1e8)
    ax.set_xlabel(r"$\beta\,\lambda_{max}(J^0)\,k$")
    ax.set_ylabel("exact error / (Ib)")
    style.panel(ax, "e", "random scan: (Ib) fails beyond small β·k")
    ax.legend(loc="upper left", title="grey band: within a factor 2")
    ax = axes[2, 1]
    top = 0.0
    for (teacher, scan) in SETS:
        m, c = style.scan_marker(scan), style.model_colour(teacher)
        label = f"{style.model_label(teacher)}, {style.rule_label(scan)}"
        for beta in betas[teacher]:
            r = rows[teacher, beta, scan]
            if np.isfinite(r["slope"]) and r["lam_star"] > 0:
                x, y = -2 * np.log(r["lam_star"]), -r["slope"]
                ax.plot(x, y, m, ms=5, color=c, mfc=c if asymptotic(r) else "none",
                        label=label)
                label = None
                top = max(top, x, y)
    ax.plot([], [], "o", color=style.reference("proxy"), mfc="none", ms=5,
            label="open: not yet asymptotic")
    line = np.array([0, top * 1.1])
    ax.plot(line, line, ":", color=style.reference("exact"), lw=0.8, label="equality")
    ax.set_xlabel(r"$-2\ln|\lambda^*|$ of the trained machine (per sweep)")
    ax.set_ylabel(r"$-$d ln(error)/dk (last 3 points)")
    style.panel(ax, "f", "asymptotic decay = relaxation of θ*")
    ax.legend(loc="lower right")
    fig.suptitle("heat-bath, $p_0$ uniform, Rdm-k; exact fixed points (Newton on $2^9$ states)")
    fig.tight_layout()
    common.save(fig, ctx, NAME)
    return checks
