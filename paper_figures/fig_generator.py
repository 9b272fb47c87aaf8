"""The short-run chain as a generator: its exact law beyond the fitted statistics, and the diffusion reading.

Exact on all 2^N states (random-scan heat-bath, uniform p0). At the Rdm-k fixed point θ*(k) the
k-step law p(k, p0) matches every ⟨s_i⟩ and ⟨s_i s_j⟩ of the data (G5); KL(p_data ‖ ·) measures
everything else. Red solid: the generator p(k, p0); red dotted: the best k-step law of the same
family, min_θ KL(p_data ‖ p(k, p0; θ)) (maximum likelihood of the generator itself, L-BFGS with the
exact gradient from the Rdm-k root) -- from k = 2 on the Rdm-k fixed point is within 1e-3 nats of
it, so moment matching loses almost nothing as a generator; red dashed: the machine's own Gibbs law
p_θ*; black: maximum likelihood p_ML (the best law of the model class, KL_ML; p_θ* can never beat
it, Pythagoras (G6)). Orange: a time-dependent chain with one parameter vector per sweep, θ_1 …
θ_k, trained to its own fixed point by per-step matching (every step's law p_t matches the data's
statistics, (G7)–(G8)); olive: the same chain matched to the noised data N_{t/k} p_data at step t
(a diffusion schedule from the uniform law to the data). All three chains end on the data's
statistics at step k, so they differ only beyond the moments. (a) A teacher inside the model class
(SK, N = 8, β = 1): KL_ML = 0, and the k-step law is a far better generator than p_θ*. (b) Data
outside it, a law with three-spin interactions (N = 8), and (c) the empirical law of the 3×3 binary
patches of the 8×8 digits (N = 9): KL − KL_ML on a symmetric-log axis (below 0: better than maximum
likelihood). The single-energy k-step law beats maximum likelihood at intermediate k (its law
carries interactions of order ≥ 3 that p_ML cannot), while the time-dependent chain with data
targets approaches p_ML from above (its laws tend to p_ML) and is worse than the single-energy
chain from k = 3 on, on these two laws (not in general: notebook 08 has a law where it is better at
every k ≥ 2). The diffusion schedule (noised targets) is the worst at small k; on the digit patches
it ends below maximum likelihood at the largest k. (d) Inside the chains at k = K (patches): KL −
KL_ML of the law after t sweeps, for the time-dependent chains and for the Rdm-K machine run on
past K (its memory curve in KL).
"""
from __future__ import annotations

import numpy as np

from shortrun.paper_figures import common, style

NAME = "generator"
CASES = ("teacher", "three_body", "patches")
SCHEDULES = ("data", "noised")
#: Smallest KL drawn on the log axis of panel (a) (the rounding level of a KL near 0).
FLOOR = 1e-16


def _datasets(n_teacher, n_three, patch_side):
    from shortrun.numerics.analysis import generator
    from shortrun.numerics.data import teachers

    return {"teacher": teachers.sk(n_teacher, 1.0, seed=1).data(),
            "three_body": generator.three_body_law(n_three, 0.5, seed=0),
            "patches": generator.digit_patches(patch_side)}


def compute(n_teacher, n_three, patch_side, ks, K, best=True):
    from shortrun.numerics import kernels
    from shortrun.numerics.analysis import generator
    from shortrun.numerics.analysis.diagnostics import kl_divergence
    from shortrun.numerics.models import BoltzmannMachine
    from shortrun.numerics.analysis import schedule

    out = {"ks": np.array(ks)}
    for case, data in _datasets(n_teacher, n_three, patch_side).items():
        r = generator.generator_kl(data, ks)
        p_ml = BoltzmannMachine.from_theta(r.theta_ml, data.N).boltzmann()
        for key in ("kl_chain", "kl_model", "kl_ml", "entropy_chain", "entropy_ml",
                    "entropy_data", "residual", "stats_error", "pythagoras_gap", "theta_ml"):
            out[f"{case}_{key}"] = getattr(r, key)
        out[f"{case}_theta_dist"] = np.abs(r.thetas - r.theta_ml).sum(axis=1)
        if best:                # the best k-step law (L-BFGS): not in the tiny mode
            opt = [generator.best_chain(data, k, th) for k, th in zip(ks, r.thetas)]
            out[f"{case}_kl_best"] = [b[1] for b in opt]
            out[f"{case}_best_grad"] = [b[2] for b in opt]
        for sched in SCHEDULES:
            kl, res, err, to_ml = [], [], [], []
            for k in ks:
                sol = schedule.solve(data, k, sched)
                kl.append(kl_divergence(data.p, sol.law))
                to_ml.append(kl_divergence(p_ml, sol.law))
                res.append(np.max(sol.residuals))
                err.append(max(np.max(np.abs(BoltzmannMachine.from_theta(th, data.N).stats(p)
                                             - q.stats))
                               for th, p, q in zip(sol.thetas, sol.laws, sol.target_laws)))
                if k == K:
                    out[f"{case}_{sched}_steps_kl"] = [kl_divergence(data.p, p) for p in sol.laws]
            out[f"{case}_{sched}_kl"], out[f"{case}_{sched}_to_ml"] = kl, to_ml
            out[f"{case}_{sched}_residual"], out[f"{case}_{sched}_stats_error"] = res, err
        # the Rdm-K machine run past K: its memory curve in KL (M1)
        theta_K = r.thetas[list(ks).index(K)]
        U = kernels.kernel(BoltzmannMachine.from_theta(theta_K, data.N), warn=False)
        laws = U.trajectory("uniform", range(1, 2 * K + 1))
        out[f"{case}_rdm_steps_kl"] = [kl_divergence(data.p, p) for p in laws]
    return {key: np.asarray(v, dtype=float) for key, v in out.items()}


def make(ctx):
    import matplotlib.pyplot as plt

    params = dict(n_teacher=8, n_three=8, patch_side=3,
                  ks=ctx.size([1, 2, 3, 4, 5, 7, 10], [1, 2, 3, 4, 5, 7, 10, 15, 20],
                              tiny=[2, 4]),
                  K=ctx.size(10, 10, tiny=4), best=ctx.size(True, True, tiny=False))
    r = common.cached(ctx, NAME, params, lambda: compute(**params))
    ks, K = r["ks"], params["K"]

    # --- checks
    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    res = max(np.max(r[f"{c}_{w}"]) for c in CASES
              for w in ("residual", "data_residual", "noised_residual"))
    chk("Newton residual |F|_inf of every fixed point (Rdm-k; every step of both time-dependent "
        "chains; all data)", res, "≤ 1e-11", res <= 1e-11)
    err = max(np.max(r[f"{c}_{w}"]) for c in CASES
              for w in ("stats_error", "data_stats_error", "noised_stats_error"))
    chk("fitted statistics matched, recomputed from the laws (p(k, p0); every p_t against its "
        "target)", err, "≤ 1e-10", err <= 1e-10)
    # (G6) identities; bounds: |θ − θ_ML|_1 (resp. |θ_ML|_1) times the ML residual 1e-11
    gap = max(np.max(np.abs(r[f"{c}_pythagoras_gap"]) - 1e-11 * r[f"{c}_theta_dist"])
              for c in CASES)
    chk("Pythagoras KL(data‖p_θ*) = KL(data‖p_ML) + KL(p_ML‖p_θ*): |gap| − |θ*−θ_ML|₁·1e-11",
        gap, "≤ 1e-13", gap <= 1e-13)
    ent = max(abs(r[f"{c}_kl_ml"] - r[f"{c}_entropy_ml"] + r[f"{c}_entropy_data"])
              - 1e-11 * np.abs(r[f"{c}_theta_ml"]).sum() for c in CASES)
    chk("KL(data‖p_ML) = H(p_ML) − H(data): |gap| − |θ_ML|₁·1e-11", ent, "≤ 1e-13",
        ent <= 1e-13)
    maxent = max(np.max(r[f"{c}_entropy_chain"] - r[f"{c}_entropy_ml"]) for c in CASES)
    chk("maximum entropy: H(p(k, p0)) ≤ H(p_ML) (same statistics)", maxent, "≤ 1e-10",
        maxent <= 1e-10)
    if params["best"]:          # the best k-step law (not computed in the tiny mode)
        grad = max(np.max(r[f"{c}_best_grad"]) for c in CASES)
        chk("best k-step law min_θ KL(data‖p(k, p0; θ)) (L-BFGS, exact gradient): converged",
            grad, "|∇KL|_inf ≤ 1e-7", grad <= 1e-7)
        lo = ks >= 2
        gaps = {c: r[f"{c}_kl_chain"] - r[f"{c}_kl_best"] for c in CASES}
        near = max(np.max(g[lo]) for g in gaps.values())
        chk("k ≥ 2: the Rdm-k law is within 1e-3 nats of the best k-step law (all data)",
            near, "≤ 1e-3", near <= 1e-3,
            ", ".join(f"{c}: k=1 {g[0]:.1e}, k≥2 max {np.max(g[lo]):.1e}"
                      for c, g in gaps.items()))
    kl0 = abs(float(r["teacher_kl_ml"]))
    chk("teacher inside the model class: KL(data‖p_ML) = 0", kl0, "≤ 1e-12", kl0 <= 1e-12)
    ratio = np.max(r["teacher_kl_chain"] / r["teacher_kl_model"])
    chk("teacher: the k-step law beats the machine's own Gibbs law at every k",
        ratio, "max KL(p(k,p0)) / KL(p_θ*) < 1", ratio < 1,
        ", ".join(f"k={int(k)}: {a:.2e} vs {b:.2e}" for k, a, b in
                  zip(ks, r["teacher_kl_chain"], r["teacher_kl_model"])))
    for c, label in (("three_body", "three-body law"), ("patches", "digit patches")):
        ml = float(r[f"{c}_kl_ml"])
        excess = r[f"{c}_kl_chain"] - ml
        best = int(np.argmin(excess))
        chk(f"{label}: the Rdm-k generator beats maximum likelihood at some k "
            f"(KL_ML = {ml:.4f})", excess[best], "min_k KL(p(k,p0)) − KL_ML < 0",
            excess[best] < 0, f"best k = {int(ks[best])}; below ML at k ∈ "
            f"{[int(k) for k in ks[excess < 0]]}")
        over = r[f"{c}_data_kl"] - ml
        # accuracy of a KL difference between laws with the data's statistics: the residual
        # (1e-11 on every statistic) times |θ_ML|_1
        acc = 1e-11 * np.abs(r[f"{c}_theta_ml"]).sum()
        chk(f"{label}: the time-dependent chain (data targets) stays above ML",
            np.min(over), f"min_k KL − KL_ML ≥ −|θ_ML|₁·1e-11 = {-acc:.1e}", np.min(over) >= -acc,
            ", ".join(f"k={int(k)}: {x:.1e}" for k, x in zip(ks, over)))
        holds = r[f"{c}_data_kl"] <= r[f"{c}_kl_chain"]     # time-dependent at least as good
        late = int(np.sum(holds & (ks >= 3)))
        chk(f"{label}: time-dependent KL ≤ single-energy KL at equal k is false from k = 3 on",
            late, "0 values of k ≥ 3 where it holds", late == 0,
            "holds at k ∈ " + str([int(k) for k in ks[holds]]))
        to_ml = r[f"{c}_data_to_ml"]
        chk(f"{label}: the time-dependent chain (data targets) tends to p_ML: KL(p_ML‖p_k) "
            "falls with k", to_ml[-1] / to_ml[0], "non-increasing (to 1e-15) and last/first ≤ 1e-2",
            np.all(np.diff(to_ml) <= 1e-15) and to_ml[-1] <= 1e-2 * to_ml[0],
            ", ".join(f"k={int(k)}: {x:.1e}" for k, x in zip(ks, to_ml)))
    if ks[-1] >= 10:        # (not in the tiny mode, whose largest k is 4)
        excess = r["patches_noised_kl"][-1] - r["patches_kl_ml"]
        chk(f"digit patches: the diffusion schedule ends below maximum likelihood at "
            f"k = {int(ks[-1])}", excess, "KL − KL_ML < 0", excess < 0)
    lo = ks >= 2
    diff = r["teacher_noised_kl"][lo] - r["teacher_data_kl"][lo]
    chk("teacher: the diffusion schedule (noised targets) is worse than data targets for k ≥ 2",
        float(np.min(diff)), "min_k KL(noised) − KL(data) > 1e-12", np.min(diff) > 1e-12,
        ", ".join(f"k={int(k)}: {a:.1e} vs {b:.1e}" for k, a, b in
                  zip(ks[lo], r["teacher_noised_kl"][lo], r["teacher_data_kl"][lo])))

    # --- figure
    with style.context():
        fig, axes = plt.subplots(2, 2, figsize=(style.PAGE_WIDTH, 5.6))
        fig.subplots_adjust(hspace=0.45, wspace=0.3)
        titles = {"teacher": "teacher in the model class",
                  "three_body": "three-body law (outside)", "patches": "3×3 digit patches"}
        for j, c in enumerate(CASES):
            ax = axes.flat[j]
            base = 0.0 if c == "teacher" else float(r[f"{c}_kl_ml"])
            series = [(r[f"{c}_kl_chain"], dict(style.protocol("rdm", label="p(k, p0), Rdm-k"),
                                                marker="o")),
                      (r.get(f"{c}_kl_best"), dict(style.protocol(
                          "rdm", label="best k-step law, min_θ KL"), ls=":", lw=2)),
                      (r[f"{c}_kl_model"], dict(style.protocol("rdm", label="p_θ*, Rdm-k"),
                                                ls="--", marker="o", mfc="none")),
                      (r[f"{c}_data_kl"], dict(style.protocol("stepwise"), marker="s")),
                      (r[f"{c}_noised_kl"], dict(style.protocol("diffusion"), marker="^"))]
            for y, kw in series:
                if y is None:
                    continue
                y = np.maximum(y, FLOOR) if c == "teacher" else y - base
                ax.plot(ks, y, **{"ms": 3.5, "lw": 1, **kw})
            ax.set_xscale("log")
            if c == "teacher":
                ax.set_yscale("log")
                ax.set_ylabel(f"KL(p_data ‖ ·)   (KL_ML = 0; floor {FLOOR:.0e})")
            else:
                ax.set_yscale("symlog", linthresh=1e-6)
                ax.axhline(0.0, **style.protocol("ml", lw=1))
                ax.set_ylabel(f"KL − KL_ML   (KL_ML = {base:.3f})")
            ax.set_xlabel("k (sweeps)")
            ax.set_xticks(ks, [str(int(k)) for k in ks])
            ax.minorticks_off()
            style.panel(ax, j, titles[c])
        ax = axes.flat[3]
        base = float(r["patches_kl_ml"])
        t = np.arange(1, 2 * K + 1)
        ax.plot(t, r["patches_rdm_steps_kl"] - base,
                **style.protocol("rdm", k=K, label=f"Rdm-{K} machine, t sweeps", marker="o",
                                 ms=3, lw=1))
        ax.plot(t[:K], r["patches_data_steps_kl"] - base,
                **style.protocol("stepwise", k=K, marker="s", ms=3, lw=1))
        ax.plot(t[:K], r["patches_noised_steps_kl"] - base,
                **style.protocol("diffusion", k=K, marker="^", ms=3, lw=1))
        ax.axhline(0.0, **style.protocol("ml", lw=1))
        ax.axvline(K, color=style.protocol_colour("data"), lw=0.8, ls=":")
        ax.set_yscale("symlog", linthresh=1e-5)
        ax.set_xlabel("sweeps t along the chain")
        ax.set_ylabel("KL(p_data ‖ p_t) − KL_ML")
        style.panel(ax, 3, f"inside the chains, k = {K} (patches)")
        ax.legend(loc="lower right")
        handles, labels = axes.flat[1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.04))
        common.save(fig, ctx, NAME)
    return checks
