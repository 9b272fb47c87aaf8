"""The fixed-point theorem on Potts machines (q = 3, 4) next to the Ising case (q = 2).

Teachers: random Potts machines on N = 5 units with q = 2 (Ising: a Boltzmann machine), 3 and 4
colours (PottsMachine.random, seed 1, J_ij(a, b) ~ N(0, 1/N), h_i(a) ~ N(0, 0.3²); 32, 243 and
1024 states); data = their exact laws; Rdm-k training from the uniform p0 with sequential-scan
heat-bath updates, solved to the fixed point θ*(k) by Newton's method with the exact Jacobian
(warm-started along k), in the reference gauge (P1).  (a) Pair marginals P(σ_i = a, σ_j = b) of
the k-step law p(k, p0) = U_θ*^k p0 against those of the data at k = 1: on the diagonal.  (b) The
same marginals under the trained model's own law p_θ*: off the diagonal.  (c) The largest
mismatch of the fitted one-hot statistics against k: zero to round-off for p(k, p0) (recomputed
with the dense kernel built from the definition), decreasing with k for p_θ*.  (d) The squared
coupling error Σ_{i<j} ‖J*_ij − J⁰_ij‖²_F in the zero-sum gauge (gauge-invariant) against k: the
same fast decay for every q; the Ising case trained as a Boltzmann machine gives the same root
as the q = 2 Potts machine (checked).
"""
from __future__ import annotations

import numpy as np

from shortrun.paper_figures import common, style

NAME = "potts"
N, SEED, BETA, FIELD = 5, 1, 1.0, 0.3
QS = (2, 3, 4)
RULE, SCAN = "heatbath", "sequential"
#: marker of each q (the colour is the style's ramp over QS: q is an ordered parameter)
MARKERS = ("o", "s", "^")


def q_label(q):
    """The legend label of the machine with ``q`` states per site."""
    return "Ising (q = 2)" if q == 2 else f"Potts q = {q}"


def look(q):
    """Marker and colour of the machine with ``q`` states per site."""
    i = QS.index(q)
    return dict(marker=MARKERS[i], color=style.ramp(len(QS))[i])


def teacher(q):
    from shortrun.numerics.models.potts import PottsMachine
    return PottsMachine.random(N, q, SEED, BETA, FIELD)


def bm_theta_of_potts(theta, N):
    """θ of the Boltzmann machine with the law of the q = 2 Potts machine ``theta``."""
    from shortrun.numerics.models.potts import PottsMachine, to_boltzmann
    return to_boltzmann(PottsMachine.from_theta(theta, N, 2)).theta


def compute(q, ks):
    """θ*(k); the fitted statistics of the data, of p(k, p0) (dense kernel) and of p_θ*; the
    squared coupling error in the zero-sum gauge; for q = 2 the BM route's root at each k."""
    from shortrun.numerics.data.potts import exact_potts_data
    from shortrun.numerics.data import teachers
    from shortrun.numerics.kernels import potts as kp
    from shortrun.numerics.models.potts import PottsMachine, to_boltzmann
    from shortrun.numerics.training import fixed_point

    t = teacher(q)
    data = exact_potts_data(t)
    template = PottsMachine.zeros(N, q)
    _, J0 = t.zero_sum_gauge()
    out = {k: [] for k in ("theta", "phi_fix", "phi_eq", "residual", "iterations", "err",
                           "bm_gap")}
    theta = None
    for k in ks:
        fp = fixed_point.solve(data, k, "rdm", RULE, SCAN, model=template, theta0=theta,
                               tol=1e-12, progress=False)
        theta = fp.theta
        m = fp.model
        U = kp.dense_kernel(m.h, m.J, RULE, SCAN)
        law = np.linalg.matrix_power(U, k) @ np.full(m.n_states, 1.0 / m.n_states)
        out["theta"].append(theta)
        out["phi_fix"].append(m.stats(law))
        out["phi_eq"].append(m.stats(m.boltzmann()))
        out["residual"].append(np.max(np.abs(m.stats(law) - data.stats)))
        out["iterations"].append(fp.iterations)
        _, Jz = m.zero_sum_gauge()
        out["err"].append(np.sum((Jz - J0) ** 2) / 2)          # each pair counted once
        if q == 2:
            bm_data = teachers.exact_data(to_boltzmann(t))
            bm = fixed_point.solve(bm_data, k, "rdm", RULE, SCAN, tol=1e-12, progress=False)
            out["bm_gap"].append(np.max(np.abs(bm.theta - bm_theta_of_potts(theta, N))))
    res = {key: np.array(v) for key, v in out.items()}
    res["phi_data"] = np.array(data.stats)
    res["k"] = np.array(ks)
    return res


def make(ctx):
    import matplotlib.pyplot as plt

    ks = ctx.size((1, 2, 3, 5, 10, 20), (1, 2, 3, 4, 5, 7, 10, 15, 20, 30), tiny=(1, 2))
    runs = {}
    for q in common.progress(ctx, QS, NAME):
        params = dict(q=q, ks=list(ks))
        runs[q] = common.cached(ctx, f"{NAME}-q{q}", params, lambda: compute(**params))
    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    for q, r in runs.items():
        label = q_label(q)
        mis_eq = np.max(np.abs(r["phi_eq"] - r["phi_data"]), axis=1)
        r["mis_eq"] = mis_eq
        chk(f"{label}: fixed-point residual max_k ‖⟨φ⟩_U^k p0 − ⟨φ⟩_data‖∞ (dense kernel)",
            r["residual"].max(), "≤ 1e-10", r["residual"].max() <= 1e-10,
            f"k = {', '.join(map(str, r['k']))}; Newton iterations "
            f"{', '.join(map(str, r['iterations']))}")
        chk(f"{label}: p_θ* mismatch ‖⟨φ⟩_p_θ* − ⟨φ⟩_data‖∞ at k = 1", mis_eq[0], "> 0.01",
            mis_eq[0] > 0.01, "the trained model does not reproduce the data")
        above = mis_eq[:-1] > 1e-10
        steps = mis_eq[1:][above] / mis_eq[:-1][above]
        chk(f"{label}: p_θ* mismatch decreases with k (largest ratio of consecutive k)",
            steps.max(), "< 1 (while mismatch > 1e-10)", steps.max() < 1,
            ", ".join(f"k={k}: {m:.2g}" for k, m in zip(r["k"], mis_eq)))
        err = r["err"]
        big = err[:-1] > 1e-20
        chk(f"{label}: coupling error decreases with k (largest ratio of consecutive k)",
            (err[1:][big] / err[:-1][big]).max(), "< 1 (while error > 1e-20)",
            (err[1:][big] / err[:-1][big]).max() < 1,
            ", ".join(f"k={k}: {e:.2g}" for k, e in zip(r["k"], err)))
    gap = runs[2]["bm_gap"].max()
    chk("Ising: Boltzmann-machine root = q = 2 Potts root (mapped), max over k of max |Δθ|",
        gap, "≤ 1e-8", gap <= 1e-8, "the BM route and the Potts route at q = 2")

    fig, axes = plt.subplots(1, 4, figsize=(style.PAGE_WIDTH * 1.25, 2.6),
                             gridspec_kw=dict(wspace=0.62))
    for i, (ax, key, title) in enumerate(((axes[0], "phi_fix", "k-step process, k = 1"),
                                          (axes[1], "phi_eq", "trained model, k = 1"))):
        ax.plot([0, 1], [0, 1], color=style.reference("guide"), lw=0.8, zorder=0)
        for q, r in runs.items():
            F = N * (q - 1)
            ax.plot(r["phi_data"][F:], r[key][0][F:], ls="none", ms=3, mfc="none",
                    label=q_label(q), **look(q))
        top = max(max(r["phi_data"][N * (q - 1):].max(), r["phi_eq"][0][N * (q - 1):].max())
                  for q, r in runs.items()) * 1.05
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_aspect("equal")
        ax.set_xlabel(r"$P_{\rm data}(\sigma_i{=}a, \sigma_j{=}b)$", labelpad=1)
        style.panel(ax, i, title)
    axes[0].set_ylabel("model", labelpad=1)
    axes[0].legend(loc="upper left", handletextpad=0.2, borderaxespad=0.3)
    ax = axes[2]
    for q, r in runs.items():
        ax.semilogy(r["k"], np.maximum(r["residual"], 1e-17), ls="--", lw=0.8,
                    **look(q), ms=3, mfc="none")
        ax.semilogy(r["k"], r["mis_eq"], ls="-", lw=0.8, **look(q), ms=3)
    ax.plot([], [], "--", color=style.reference("proxy"), lw=0.8, label="p(k, p0)")
    ax.plot([], [], "-", color=style.reference("proxy"), lw=0.8, label=r"$p_{\theta^*}$")
    ax.legend(loc="upper right")
    ax.set_xlabel("k (sweeps)", labelpad=1)
    ax.set_ylabel(r"$\|\langle\phi\rangle - \langle\phi\rangle_{\rm data}\|_\infty$", labelpad=0)
    style.panel(ax, "c", "mismatch of the statistics")
    ax = axes[3]
    for q, r in runs.items():
        ax.semilogy(r["k"], r["err"], lw=0.8, ms=3, label=q_label(q), **look(q))
    ax.set_xlabel("k (sweeps)", labelpad=1)
    ax.set_ylabel(r"$\sum_{i<j}\|J^*_{ij} - J^0_{ij}\|_F^2$", labelpad=1)
    style.panel(ax, "d", "coupling error (zero-sum)")
    common.save(fig, ctx, NAME)
    return checks
