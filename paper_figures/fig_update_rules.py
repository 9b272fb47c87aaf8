"""Update rules decide whether a fixed point exists and how biased it is.

Heat-bath updates, p0 uniform, Rdm-k training, exact on all 2^N states.  (a) Independent spins
(J = 0 fixed, fields trained; N = 4 spins with data magnetisation m_D each): after k sweeps
m(k) = tanh h · (1 − q), so the trained field is finite only if |m_D| < 1 − q (S1, S2).  Lines:
the boundary 1 − |m_D| = q for the random scan, q = (1 − 1/N)^{kN} (solid), and for continuous
time, q = e^{−k} (dashed); sequential and parallel scans have q = 0 and no boundary.  Markers:
outcome of exact training (Newton, FixedPoint.status) — filled: converged to a finite field;
crosses: the field runs off to infinity; circles at integer k: random scan, triangles at
half-integer k: continuous time.  (b) The trained field h*(k) for m_D = tanh 0.8 (lines: S1;
markers: exact training): continuous time diverges at k = 1 and gives 1.015 (k = 2), 0.865
(k = 3); the random scan of N = 4 spins follows its exact-N form; the sequential scan reaches
equilibrium in one sweep, h* = atanh m_D = 0.8 for every k.  (c) A weak fully connected
ferromagnet (N = 4, J⁰_ij = 1, β = 0.1, h = 0): learned over true coupling J*/βJ⁰ against k for
the three scans (markers: exact fixed points; lines: first-order predictions).  The random scan
is biased by 1/f1_N(k) (Ib); a sequential sweep has no first-order bias (Ic); a parallel
update builds correlations only at O(J²) (Ic), so J* ≈ (β/(N − 2))^{1/2} and J*/βJ⁰ ≈
1/((N − 2)β)^{1/2} — the machine learns a different model although the matched statistics are
the same.  (d) Relative bias |J*/βJ⁰ − 1| at k = 1 against β: it tends to 1/f1_N(1) − 1 for the
random scan, vanishes as β² for the sequential scan and grows as β^{−1/2} for the parallel one.
"""
from __future__ import annotations

import warnings

import numpy as np

from shortrun.paper_figures import common, style

NAME = "update_rules"
N_IND = 4
N_CW = 4
M_DOC = float(np.tanh(0.8))
H_DOC = {2: 1.015, 3: 0.865}


def look(scan):
    """The colour and marker of ``scan`` (from the style)."""
    return style.rule_colour(scan), style.scan_marker(scan)


def _independent_data(m, N):
    from shortrun.numerics.core import states
    from shortrun.numerics.data import teachers

    s = states.spins(N).astype(float)
    p = np.prod((1 + m * s) / 2, axis=1)
    return teachers.Data.from_distribution(p / p.sum(), name=f"independent spins, m_D={m:g}")


def _field(m, k, scan, N):
    """Exact training of the fields of independent spins: (h*, converged, status)."""
    from shortrun.numerics.training import fixed_point

    fp = fixed_point.solve(_independent_data(m, N), k, scan=scan, mask="fields", check=False,
                           progress=False)
    return float(fp.theta[:N].mean()), fp.converged, fp.status


def _ferromagnet(beta, N):
    from shortrun.numerics.data import teachers

    J0 = np.ones((N, N)) - np.eye(N)
    return teachers.Teacher(f"{N}-spin fully connected ferromagnet, beta={beta:g}", beta,
                            np.zeros(N), J0)


def _coupling_ratio(beta, k, scan, N):
    """J*/βJ⁰ (mean over the pairs) of the exact fixed point; parallel updates start Newton at
    the leading-order root J = (β/(N−2))^{1/2} (their default start J = 0 is degenerate)."""
    from shortrun.numerics.kernels import NotBoltzmannWarning
    from shortrun.numerics.training import fixed_point

    teacher = _ferromagnet(beta, N)
    theta0 = None
    if scan == "parallel":
        theta0 = np.concatenate([np.zeros(N), np.full(N * (N - 1) // 2, np.sqrt(beta / (N - 2)))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotBoltzmannWarning)
        fp = fixed_point.solve(teacher.data(), k, scan=scan, theta0=theta0, restarts=3,
                               check=False, progress=False)
    if not fp.converged:
        return np.nan, fp.residual
    iu = np.triu_indices(N, 1)
    return float(fp.model.J[iu].mean() / beta), fp.residual


def compute(k_rand, k_cont, gaps, k_field, k_bias, beta_bias, betas):
    from shortrun.theory import independent

    out = {"k_rand": np.array(k_rand), "k_cont": np.array(k_cont), "gaps": np.array(gaps),
           "k_field": np.array(k_field), "k_bias": np.array(k_bias), "betas": np.array(betas)}
    for tag, ks, scan in (("rand", k_rand, "random"), ("cont", k_cont, "continuous")):
        conv = np.zeros((len(ks), len(gaps)), bool)
        pred = np.zeros_like(conv)
        for a, k in enumerate(ks):
            for b, gap in enumerate(gaps):
                m = 1.0 - gap
                conv[a, b] = _field(m, k, scan, N_IND)[1]
                pred[a, b] = bool(independent.has_finite_fixed_point(m, k, scan=scan, N=N_IND))
        out[f"conv_{tag}"], out[f"pred_{tag}"] = conv, pred
    for scan in ("continuous", "random", "sequential"):
        h = [_field(M_DOC, k, scan, N_IND) for k in k_field]
        out[f"h_{scan}"] = np.array([x[0] if x[1] else np.nan for x in h])
        out[f"status_{scan}"] = np.array([x[2] for x in h])
    residuals = []
    for scan in ("random", "sequential", "parallel"):
        rows = [_coupling_ratio(beta_bias, k, scan, N_CW) for k in k_bias]
        out[f"ratio_{scan}"] = np.array([x[0] for x in rows])
        rows_b = [_coupling_ratio(beta, 1, scan, N_CW) for beta in betas]
        out[f"ratio_beta_{scan}"] = np.array([x[0] for x in rows_b])
        residuals += [x[1] for x in rows + rows_b]
        out[f"ratio_k5_{scan}"] = _coupling_ratio(min(betas), 5, scan, N_CW)[0]
    out["newton_residual"] = np.nanmax(residuals)
    return out


def make(ctx):
    import matplotlib.pyplot as plt
    from shortrun.theory import high_temperature as ht
    from shortrun.theory import independent

    params = dict(k_rand=ctx.size([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7, 8], tiny=[1, 2]),
                  k_cont=ctx.size([0.5, 1.5, 2.5, 3.5, 4.5, 5.5],
                                  [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5], tiny=[0.5, 1.5]),
                  gaps=ctx.size(list(np.geomspace(1e-3, 0.9, 10)),
                                list(np.geomspace(1e-4, 0.9, 16)),
                                tiny=list(np.geomspace(1e-2, 0.9, 4))),
                  k_field=ctx.size([1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6], tiny=[1, 2, 3]),
                  k_bias=ctx.size([1, 2, 3, 4, 6], [1, 2, 3, 4, 5, 6, 8], tiny=[1, 2]),
                  beta_bias=0.1,
                  betas=ctx.size([0.0125, 0.025, 0.05, 0.1, 0.2],
                                 [0.00625, 0.0125, 0.025, 0.05, 0.1, 0.2], tiny=[0.025, 0.05]))
    r = common.cached(ctx, NAME, params, lambda: compute(**params))
    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    for tag, label in (("rand", f"random scan, N = {N_IND}"), ("cont", "continuous time")):
        conv, pred = r[f"conv_{tag}"], r[f"pred_{tag}"]
        wrong = int(np.sum(conv != pred))
        chk(f"independent spins, {label}: exact outcomes on the wrong side of |m_D| = 1 − q",
            wrong, "= 0", wrong == 0,
            f"{conv.size} trainings: {int(conv.sum())} converged, {int((~conv).sum())} diverged")
    kf = list(r["k_field"])
    h_cont = r["h_continuous"]
    for k, want in H_DOC.items():
        got = h_cont[kf.index(k)]
        chk(f"h*(k = {k}) for m_D = tanh 0.8, continuous time (q = e^-k), exact training", got,
            f"rounds to {want:.3f}", np.isfinite(got) and round(got, 3) == want, f"{got:.6f}")
    st = str(r["status_continuous"][kf.index(1)])
    chk("h*(k = 1) for m_D = tanh 0.8, continuous time: no finite field (Newton status)",
        float(h_cont[kf.index(1)]) if np.isfinite(h_cont[kf.index(1)]) else np.inf,
        "status 'diverged' (tanh 0.8 = 0.664 > 1 − e^-1 = 0.632)", st == "diverged",
        f"status {st!r}")
    closed = np.array([independent.field_fixed_point(M_DOC, int(k), scan="random", N=N_IND)
                       for k in kf])
    exact = r["h_random"]
    same_inf = np.isinf(closed) == np.isnan(exact)
    diff = np.nanmax(np.abs(exact - closed)) if np.isfinite(closed).any() else 0.0
    chk(f"random scan N = {N_IND}: exact-training h*(k) against the exact-N form (S1), k = "
        f"{kf[0]}..{kf[-1]}", diff, "≤ 1e-9, divergent k alike", diff <= 1e-9 and same_inf.all(),
        "closed form " + ", ".join(f"{x:.4f}" for x in closed))
    seq = np.nanmax(np.abs(r["h_sequential"] - 0.8))
    chk("sequential scan: h* = atanh m_D = 0.8 for every k", seq, "≤ 1e-9", seq <= 1e-9)
    # coupling bias of the three scans (fully connected ferromagnet)
    betas = r["betas"]
    rb = {s: r[f"ratio_beta_{s}"] for s in ("random", "sequential", "parallel")}
    f1N = ht.factor_values("random", 1, N_CW)["f1"]
    rich = 2 * (rb["random"][0] - 1) - (rb["random"][1] - 1)        # linear extrapolation to 0
    chk(f"random scan, k = 1: relative bias extrapolated to β → 0 against 1/f1_N(1) − 1 = "
        f"{1 / f1N - 1:.4f}", rich, "within 0.005", abs(rich - (1 / f1N - 1)) <= 0.005,
        f"bias at β = {betas[0]:g}, {betas[1]:g}: {rb['random'][0] - 1:.4f}, "
        f"{rb['random'][1] - 1:.4f}")
    bias = np.abs(rb["sequential"] - 1)
    slope = np.polyfit(np.log(betas[:2]), np.log(bias[:2]), 1)[0]
    chk("sequential scan, k = 1: no first-order bias (log-log slope of |J*/βJ⁰ − 1| vs β at "
        "small β)", slope, "2 ± 0.15 (bias ∝ β²)", abs(slope - 2) <= 0.15,
        f"bias {bias[0]:.2e} at β = {betas[0]:g}; random scan {rb['random'][0] - 1:.2e}")
    lead = 1 / np.sqrt((N_CW - 2) * betas.min())
    par = float(r["ratio_k5_parallel"])
    chk(f"parallel scan, k = 5, β = {betas.min():g}: J*/βJ⁰ against 1/((N−2)β)^(1/2) = "
        f"{lead:.3f}", par / lead - 1, "relative ≤ 2%", abs(par / lead - 1) <= 0.02,
        f"J*/βJ⁰ = {par:.4f}")
    chk("Newton residual |F|_inf of every coupling fixed point", r["newton_residual"], "≤ 1e-11",
        r["newton_residual"] <= 1e-11)

    # --- figure
    fig, axes = plt.subplots(2, 2, figsize=(style.PAGE_WIDTH, 6.0))
    ax = axes[0, 0]
    kk = np.linspace(0.0, max(r["k_rand"].max(), r["k_cont"].max()) + 0.5, 200)
    q_rand = (1 - 1 / N_IND) ** (kk * N_IND)
    ax.semilogy(kk, q_rand, color=style.rule_colour("random"), lw=1.3,
                label=f"random scan, q = (1 − 1/N)$^{{kN}}$, N = {N_IND}")
    ax.semilogy(kk, np.exp(-kk), "--", color=style.rule_colour("continuous"), lw=1.3,
                label="continuous time, q = $e^{-k}$")
    gaps = r["gaps"]
    for tag, ks, scan in (("rand", r["k_rand"], "random"), ("cont", r["k_cont"], "continuous")):
        color, marker = look(scan)
        K, G = np.meshgrid(ks, gaps, indexing="ij")
        conv = r[f"conv_{tag}"]
        ax.plot(K[conv], G[conv], marker, ms=4, color=color, ls="none")
        ax.plot(K[~conv], G[~conv], "x", ms=4.5, color=color, ls="none")
    ax.plot([], [], "o", color=style.reference("proxy"), ms=4, label="exact training: finite h*")
    ax.plot([], [], "x", color=style.reference("proxy"), ms=4.5, label="exact training: h* → ∞")
    ax.set_ylim(gaps.min() / 1000, 1.5)
    ax.set_xlim(0, kk.max())
    ax.set_xlabel("k (sweeps)")
    ax.set_ylabel(r"$1 - |m_D|$")
    style.panel(ax, "a", "independent spins: no fixed point below the line")
    ax.legend(loc="lower left")
    ax = axes[0, 1]
    kd = np.linspace(0.3, max(kf) + 0.3, 300)
    h_line = np.array([independent.field_fixed_point(M_DOC, x, scan="continuous") for x in kd])
    ax.plot(kd, np.where(np.isfinite(h_line), h_line, np.nan), "--",
            color=style.rule_colour("continuous"), lw=1.2, label="continuous time (S1)")
    kint = np.arange(1, max(kf) + 1)
    h_rand = np.array([independent.field_fixed_point(M_DOC, int(k), scan="random", N=N_IND)
                       for k in kint])
    ax.plot(kint, np.where(np.isfinite(h_rand), h_rand, np.nan), ":",
            color=style.rule_colour("random"), lw=1.2, label=f"random scan, N = {N_IND} (S1)")
    ax.axhline(0.8, color=style.rule_colour("sequential"), lw=1.0,
               label="sequential: atanh $m_D$")
    for scan in ("continuous", "random", "sequential"):
        color, marker = look(scan)
        h = r[f"h_{scan}"]
        ok = np.isfinite(h)
        ax.plot(np.array(kf)[ok], h[ok], marker, ms=5, mfc="none", color=color)
        ax.plot(np.array(kf)[~ok], np.full((~ok).sum(), 2.2), "x", ms=6, color=color)
    ax.text(1.25, 2.2, "h* → ∞", fontsize=style.FONT["annotation"], va="center")
    ax.set_ylim(0.6, 2.35)
    ax.set_xlabel("k (sweeps)")
    ax.set_ylabel("trained field h*")
    style.panel(ax, "b", r"$m_D = \tanh 0.8$; markers: exact training")
    ax.legend(loc="upper right")
    ax = axes[1, 0]
    kb = r["k_bias"]
    beta = params["beta_bias"]
    kline = np.arange(1, kb.max() + 1)
    f1N_k = np.array([ht.factor_values("random", int(k), N_CW)["f1"] for k in kline])
    pred = {"random": 1 / f1N_k, "sequential": np.ones(len(kline)),
            "parallel": np.full(len(kline), 1 / np.sqrt((N_CW - 2) * beta))}
    names = {"random": "random: 1/f1_N(k)", "sequential": "sequential: 1",
             "parallel": "parallel: $1/\\sqrt{(N-2)\\beta}$"}
    for scan in ("random", "sequential", "parallel"):
        color, marker = look(scan)
        ax.plot(kline, pred[scan], "--", color=color, lw=1.0, label=names[scan])
        ax.plot(kb, r[f"ratio_{scan}"], marker, ms=5, mfc="none", color=color)
    ax.set_xlabel("k (sweeps)")
    ax.set_ylabel(r"$J^*/\beta J^0$")
    style.panel(ax, "c", f"ferromagnet N = {N_CW}, β = {beta:g}; markers: exact")
    ax.set_ylim(0.9, 3.2)
    ax.legend(loc="center right", bbox_to_anchor=(1.0, 0.42))
    ax = axes[1, 1]
    for scan in ("random", "sequential", "parallel"):
        color, marker = look(scan)
        ax.loglog(betas, np.abs(rb[scan] - 1), marker + "-", ms=4, mfc="none", color=color,
                  label=style.rule_label(scan))
    ax.axhline(1 / f1N - 1, color=style.rule_colour("random"), ls="--", lw=0.8)
    b0 = betas[0]
    exact = style.reference("exact")
    ax.loglog(betas, np.abs(rb["sequential"][0] - 1) * (betas / b0) ** 2, ":", color=exact,
              lw=0.8, label="slopes 2 and −1/2")
    ax.loglog(betas, np.abs(rb["parallel"][0] - 1) * (betas / b0) ** -0.5, ":", color=exact,
              lw=0.8)
    ax.set_xticks(betas)
    ax.set_xticklabels([f"{b:g}" for b in betas])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("β")
    ax.set_ylabel(r"$|J^*/\beta J^0 - 1|$ at k = 1")
    style.panel(ax, "d", "relative bias at k = 1")
    ax.legend(loc="lower right")
    fig.suptitle("heat-bath, $p_0$ uniform, Rdm-k; exact fixed points (Newton on all $2^N$ "
                 "states)")
    fig.tight_layout()
    common.save(fig, ctx, NAME)
    return checks
