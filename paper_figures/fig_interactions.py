"""Interaction spectrum: short-run training invents couplings the teacher does not have.

Teacher: the 3×3 periodic ferromagnet (nearest-neighbour J⁰ = 1 at β = 0.2, field 0.1): 18 bonds
and 18 absent pairs (the diagonals), nothing above order 2.  Data = its exact law.  Machines: a
Boltzmann machine (random-scan heat-bath) and an RBM with 3 hidden units (alternating Gibbs),
trained with Rdm-k from uniform p0 to the exact fixed point θ*(k) (Newton on all 2^9 states; the
RBM from a gradient-ascent warm start, extended where Newton stalls), and by maximum likelihood
("eq", k = ∞).  Every law is expanded as log p(s) = Σ_S K_S Π_{i∈S} s_i (fast Walsh–Hadamard
transform, (W1)).  (a) Weight per order Σ_{|S|=r} K_S² of the teacher and of the machines' own
laws p_θ* at k = 1 and at ML.  (b) Spurious pair weight (Σ K_ij² over the pairs absent from the
teacher) against k: of p_θ* (filled) and of the k-step law p(k, p0) (open), which reproduces the
data's statistics exactly (G5).  The BM's spurious pairs vanish as k grows (ML recovers the
teacher); the RBM keeps a floor (it cannot express the lattice with 3 hidden units) and adds more
at small k.  (c) Spurious weight of orders ≥ 3: a BM's own law has none, but its k-step law does;
the RBM's law has them at every k.  (d)–(f) Pair matrices K_ij of the teacher and of the Rdm-1
machines' p_θ*.
"""
from __future__ import annotations

import numpy as np

from shortrun.paper_figures import common, style

NAME = "interactions"
EQ = 0          # k = 0 marks maximum likelihood ('eq') in the cached arrays


def _rbm_root(data, k, protocol, start, warm_steps, attempts=4):
    """Newton from a gradient-ascent warm start; where Newton stalls (a nearly singular Jacobian
    on the way), ``warm_steps`` more updates of gradient ascent and again."""
    from shortrun.numerics import training
    from shortrun.numerics.training import fixed_point

    theta = start.theta
    for attempt in range(attempts):
        theta = training.train(data, k, protocol, scan="alternating", model=start, theta0=theta,
                               lr=0.5, momentum=0.5, n_steps=warm_steps, progress=False).theta
        try:
            return fixed_point.solve(data, k, protocol, scan="alternating", model=start,
                                     theta0=theta, progress=False)
        except RuntimeError:
            if attempt == attempts - 1:
                raise


def compute(L, beta, field, n_hidden, ks, warm_steps):
    from shortrun.numerics import kernels, models
    from shortrun.numerics.analysis import interactions as ia
    from shortrun.numerics.data import teachers
    from shortrun.numerics.training import fixed_point

    teacher = teachers.ferromagnet(L, beta, field=field)
    data = teachers.exact_data(teacher.model)
    N = data.N
    start = models.RBM.random(N, n_hidden, seed=0, scale=1.0)
    out = {"K_teacher": ia.spectrum(data.p), "J_teacher": teacher.model.J, "ks": np.array(ks)}
    for name in ("bm", "rbm"):
        for key in ("K_theta", "K_k", "residual", "fixed_point_law_error"):
            out[f"{name}_{key}"] = []
    for k in ks:
        protocol, kk = ("eq", None) if k == EQ else ("rdm", int(k))
        machines = []
        fp = fixed_point.solve(data, kk, protocol, progress=False)
        machines.append(("bm", fp, "random"))
        machines.append(("rbm", _rbm_root(data, kk, protocol, start, warm_steps), "alternating"))
        for name, fp, scan in machines:
            m = fp.model
            law = (np.asarray(m.boltzmann()) if kk is None
                   else kernels.law(m, "uniform", kk, scan=scan))
            out[f"{name}_K_theta"].append(ia.spectrum(m.boltzmann()))
            out[f"{name}_K_k"].append(ia.spectrum(law))
            out[f"{name}_residual"].append(fp.residual)
            out[f"{name}_fixed_point_law_error"].append(
                np.max(np.abs(m.stats(law) - m.stats(data.p))))
    return {key: np.asarray(v) for key, v in out.items()}


def make(ctx):
    import matplotlib.pyplot as plt
    from shortrun.numerics.analysis import interactions as ia

    params = dict(L=3, beta=0.2, field=0.1, n_hidden=3,
                  ks=ctx.size([1, 2, 3, 5, 10, EQ], [1, 2, 3, 4, 5, 7, 10, 20, 50, EQ],
                              tiny=[1, EQ]),
                  warm_steps=ctx.size(800, 1500, tiny=300))
    r = common.cached(ctx, NAME, params, lambda: compute(**params))
    ks = r["ks"]
    N = params["L"] ** 2
    Kt = r["K_teacher"]
    order = ia.orders(N)
    finite = ks != EQ
    checks = []

    def chk(name, value, bound, passed, detail=""):
        checks.append(common.check(NAME, name, value, bound, passed, detail))

    def spur(K):
        return np.array([ia.spurious_weights(x, Kt) for x in K])

    high_t = np.max(np.abs(Kt[order >= 3]))
    pair_t = np.max(np.abs(ia.pair_matrix(Kt) - r["J_teacher"]))      # the model's J = βJ⁰
    chk("teacher: Walsh–Hadamard recovers βJ⁰, nothing above order 2", max(high_t, pair_t),
        "≤ 1e-12", max(high_t, pair_t) <= 1e-12, f"orders ≥ 3: {high_t:.1e}; pairs: {pair_t:.1e}")
    res = max(np.max(r["bm_residual"]), np.max(r["rbm_residual"]))
    chk("Newton residual |F|_inf of every fixed point (BM and RBM, every k)", res, "≤ 1e-10",
        res <= 1e-10)
    law_err = max(np.max(r["bm_fixed_point_law_error"]), np.max(r["rbm_fixed_point_law_error"]))
    chk("fixed-point law reproduces the data's statistics (G5), all machines", law_err,
        "≤ 1e-10", law_err <= 1e-10)
    s_bm, s_bmk, s_rbm, s_rbmk = (spur(r[f"{m}_{w}"]) for m in ("bm", "rbm")
                                  for w in ("K_theta", "K_k"))
    high = lambda s: s[:, 3:].sum(axis=1)     # noqa: E731  orders >= 3
    bm_high = np.max(high(s_bm))
    chk("BM p_θ*: no interaction of order ≥ 3 (it is a BM)", bm_high, "≤ 1e-20",
        bm_high <= 1e-20)
    pairs_bm = s_bm[:, 2]
    eq_pairs = pairs_bm[~finite][0]
    chk("BM, maximum likelihood: no spurious pair (well-specified)", eq_pairs, "≤ 1e-16",
        eq_pairs <= 1e-16)
    dec = np.all(np.diff(pairs_bm[finite]) <= 1e-16)
    chk("BM Rdm-k: spurious pair weight of p_θ* falls with k", pairs_bm[finite][0],
        "decreasing in k, > 1e-4 at k = 1", dec and pairs_bm[finite][0] > 1e-4,
        ", ".join(f"k={int(k)}: {x:.2e}" for k, x in zip(ks[finite], pairs_bm[finite])))
    bmk_high = high(s_bmk)[finite][0]
    chk("BM Rdm-1: the k-step law p(k, p0) has interactions of order ≥ 3", bmk_high, "> 1e-8",
        bmk_high > 1e-8)
    rbm_high = np.min(high(s_rbm))
    chk("RBM p_θ*: interactions of order ≥ 3 at every k (the teacher has none)", rbm_high,
        "> 1e-5", rbm_high > 1e-5)
    more = s_rbm[finite][0, 2] / s_rbm[~finite][0, 2]
    chk("RBM: Rdm-1 invents more spurious pair weight than maximum likelihood", more, "> 1",
        more > 1, f"{s_rbm[finite][0, 2]:.3g} vs {s_rbm[~finite][0, 2]:.3g}")

    # --- figure
    fig = plt.figure(figsize=(style.PAGE_WIDTH, 5.2))
    gs = fig.add_gridspec(2, 3, height_ratios=[1.15, 1.0], hspace=0.5, wspace=0.42)
    ax = fig.add_subplot(gs[0, 0])
    rr = np.arange(1, N + 1)
    floor = 1e-18
    series = [("teacher", Kt, style.protocol_colour("data"), "o")]
    k1 = int(np.flatnonzero(finite)[0])
    eqi = int(np.flatnonzero(~finite)[0])
    series += [("BM Rdm-1", r["bm_K_theta"][k1], style.model_colour("bm"), "s"),
               ("RBM Rdm-1", r["rbm_K_theta"][k1], style.model_colour("rbm"), "^"),
               ("RBM ML", r["rbm_K_theta"][eqi], style.protocol_colour("ml"), "v")]
    for z, (label, K, color, mk) in enumerate(series):
        w = ia.order_weights(K)[1:]
        ax.semilogy(rr, np.maximum(w, floor), mk + "-", color=color, ms=4, lw=1, label=label,
                    zorder=5 - z)
    ax.set_xticks(rr)
    ax.set_xlabel("order r (floor: 1e-18 = none)")
    ax.set_ylabel(r"$\sum_{|S|=r} K_S^2$")
    ax.set_ylim(floor, 10)
    style.panel(ax, "a", "weight per order")
    ax.legend()
    kx = np.where(finite, ks, 2 * ks[finite].max())        # ML drawn at the right end
    labels = [str(int(k)) for k in ks[finite]] + ["ML"]
    for j, (title, col) in enumerate((("spurious pairs", 2), ("spurious orders ≥ 3", None))):
        ax = fig.add_subplot(gs[0, j + 1])
        for s, sk, model in ((s_bm, s_bmk, "bm"), (s_rbm, s_rbmk, "rbm")):
            color, name = style.model_colour(model), style.model_label(model)
            y = s[:, col] if col else high(s)
            yk = sk[:, col] if col else high(sk)
            if np.any(y > floor):
                ax.loglog(kx, np.maximum(y, floor), "o-", color=color, ms=4, lw=1,
                          label=f"{name} p_θ*")
            ax.loglog(kx[finite], np.maximum(yk[finite], floor), "o--", mfc="none", color=color,
                      ms=4, lw=1, label=f"{name} p(k, p0)")
        ax.set_xticks(kx, labels)
        ax.minorticks_off()
        ax.set_xlabel("k")
        style.panel(ax, j + 1, title)
        ax.legend()
    mats = [("teacher βJ⁰", ia.pair_matrix(Kt)),
            ("BM Rdm-1 p_θ*", ia.pair_matrix(r["bm_K_theta"][k1])),
            ("RBM Rdm-1 p_θ*", ia.pair_matrix(r["rbm_K_theta"][k1]))]
    vmax = max(np.max(np.abs(m)) for _, m in mats)
    for j, (title, M) in enumerate(mats):
        ax = fig.add_subplot(gs[1, j])
        im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        style.panel(ax, j + 3, title)
        ax.set_xticks(range(N))
        ax.set_yticks(range(N))
        ax.tick_params(labelsize=style.FONT["small"])
    fig.colorbar(im, ax=fig.axes[-3:], shrink=0.8, label=r"$K_{ij}$")
    common.save(fig, ctx, NAME)
    return checks
