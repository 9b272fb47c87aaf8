"""Memory curves: a machine trained with k-step chains reproduces the data when sampled for t = k
steps, and only then.

Exact data of a Sherrington–Kirkpatrick machine (N = 9, β = 0.6, field 0.2β; mixing time of the
teacher ≈ 5 sweeps), Rdm-k training from the uniform p0 with random-scan heat-bath updates, solved
exactly to the fixed point θ*(k) (G5) for several k.  Each trained machine is then sampled from
the same p0 for t sweeps and the exact law p(t, p0) = U_θ*^t p0 is compared with the data (M1).
(a) Statistics error ‖⟨φ⟩_p(t,p0) − ⟨φ⟩_data‖∞, φ = (s_i, s_i s_j), against t: each curve
vanishes (to round-off) at t = k and nowhere else; for t < k the correlations are not yet formed,
for t > k the chain drifts to p_θ*, whose error (dashed, t → ∞) is large for short-run machines.
(b) KL(p_data ‖ p(t, p0)): the whole law, not only the fitted moments, is closest near t = k.
Random scan is the reversible single-spin dynamics closest to continuous-time Glauber; at this β
every k shown has a finite fixed point.
"""
from __future__ import annotations

import numpy as np

from shortrun.paper_figures import common, style

NAME = "memory"
RULE, SCAN = "heatbath", "random"


def teacher(N, beta, seed, field):
    from shortrun.numerics.data import teachers
    return teachers.sk(N, beta, seed=seed, field=field)


def compute(N, beta, seed, field, k, t_max):
    """θ*(k), its memory curve on t = 0..t_max and its equilibrium error."""
    from shortrun.numerics.analysis import diagnostics
    from shortrun.numerics.training import fixed_point

    data = teacher(N, beta, seed, field).data()
    fp = fixed_point.solve(data, k, "rdm", RULE, SCAN, progress=False)
    times = np.arange(t_max + 1)
    curve = diagnostics.memory_curve(fp.model, "uniform", times, data, rule=RULE, scan=SCAN)
    eq = np.max(np.abs(diagnostics.equilibrium_stats(fp.model) - data.stats))
    return dict(t=times, distance=curve.distance, kl=curve.kl_data_to_model, eq=eq,
                theta=fp.theta, kl_eq=diagnostics.kl_divergence(data.p, fp.model.boltzmann()))


def make(ctx):
    import matplotlib.pyplot as plt

    N = ctx.size(9, 9, tiny=5)
    beta = ctx.size(0.6, 0.6, tiny=0.5)
    seed, field = 3, 0.2
    ks = ctx.size((1, 2, 5, 10, 20), (1, 2, 3, 5, 7, 10, 15, 20, 30), tiny=(1, 3))
    t_max = 10 * max(ks)
    curves = {}
    for k in common.progress(ctx, ks, NAME):
        params = dict(N=N, beta=beta, seed=seed, field=field, k=k, t_max=t_max)
        curves[k] = common.cached(ctx, NAME, params, lambda: compute(**params))

    checks = []
    for k, c in curves.items():
        t, d = c["t"], c["distance"]
        best = int(t[np.argmin(d)])
        others = d[t != k]
        checks.append(common.check(
            NAME, f"k = {k}: error at t = k", d[t == k][0], "≤ 1e-10 and the minimum over "
            f"t = 0..{t_max}", d[t == k][0] <= 1e-10 and best == k,
            f"argmin_t = {best}"))
        checks.append(common.check(
            NAME, f"k = {k}: smallest error at t ≠ k", others.min(), "> 1e-6 (zero only at t = k)",
            others.min() > 1e-6, f"at t = {int(t[t != k][np.argmin(others)])}; equilibrium "
                                 f"(t → ∞) error {float(c['eq']):.3g}"))

    fig, axes = plt.subplots(1, 2, figsize=(style.PAGE_WIDTH, 2.9),
                             gridspec_kw=dict(wspace=0.42))
    colors = style.ramp(len(ks))
    for color, (k, c) in zip(colors, curves.items()):
        t, d = c["t"], np.maximum(c["distance"], 1e-16)
        axes[0].plot(t, d, "-", color=color, lw=1.1, label=f"k = {k}")
        axes[0].plot([k], d[t == k], "o", color=color, ms=3.5)
        axes[0].axhline(c["eq"], color=color, ls="--", lw=0.7)
        axes[1].plot(t, c["kl"], "-", color=color, lw=1.1, label=f"k = {k}")
        axes[1].plot([k], c["kl"][t == k], "o", color=color, ms=3.5)
        axes[1].axhline(c["kl_eq"], color=color, ls="--", lw=0.7)
    ax = axes[0]
    ax.set_ylabel(r"$\|\langle\phi\rangle_{p(t,p_0)}-\langle\phi\rangle_{\rm data}\|_\infty$")
    ax.set_ylim(1e-16, 3)
    ax.set_yticks(10.0 ** np.arange(-15, 1, 3))
    style.panel(ax, "a", "statistics error; dots: t = k; dashed: $t\\to\\infty$")
    ax = axes[1]
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), title="trained at",
              handlelength=1.2)
    ax.set_ylabel(r"KL$(p_{\rm data}\,\|\,p(t,p_0))$ (nats)")
    style.panel(ax, "b", "Kullback–Leibler divergence to the data")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xscale("symlog", linthresh=1, linscale=0.4)
        ax.set_xlim(0, t_max)
        ticks = [t for t in (0, 1, 2, 5, 10, 20, 50, 100) if t <= t_max / 1.5]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("sampling time t (sweeps)")
    fig.suptitle(f"SK machine N = {N}, β = {beta}, Rdm-k with random-scan heat-bath, "
                 "$p_0$ uniform; sampled from $p_0$ for t sweeps", y=1.03)
    common.save(fig, ctx, NAME)
    return checks
