"""The replay buffer, exactly: what training with Du & Mordatch's buffer converges to.

Exact data of a Sherrington–Kirkpatrick machine (N = 7, β = 0.5 fast; N = 9, β = 0.6 full; field 0.2,
seed 3); random-scan heat-bath, p0 uniform; each chain starts from the buffer with probability ρ
(else from p0) and runs k sweeps.  The buffer fixed point θ*(ρ, k) is solved exactly (Newton with
the Jacobian through the resolvent, (B3)), warm-started along ρ.  (a) Statistics mismatch
‖⟨φ⟩_p − ⟨φ⟩_data‖∞ at θ*(ρ, k) against the fresh-chain probability 1 − ρ: of p_θ* (solid), of
the k-step law p(k, p0) (dashed) and of the geometric-age mixture B* = (1 − ρ)Σ_n ρ^{n−1}U^{nk}p0
(dots at the floor: summed term by term, independently of the solver's resolvent), with the damping law
(dotted): the mismatch of p_θ* at ρ = 0 times (1 − ρ)/(1 − ρλ^k), λ the slowest excited
eigenvalue at θ*(0, k) (B2).  (b) The memory curve (M1) of a buffer-trained machine (ρ = 0.9):
no single sampling time t reproduces the data; the mixture of ages does (horizontal line).
(c) The squared coupling error Σ_{i<j}(J*_ij − J_ij)² against 1 − ρ.  (d) Beyond the solvable
models: the ConvNet of the convnet figure (same digits, sizes and K, (L1)-(L2)) trained with the
replay buffer (ρ = 0.95, 1,000 states, chains from uniform noise on [-1, 1]^64 otherwise) and with
Rdm-K: energy distance (E3) to held-out digits of samples from noise after t steps for both
machines, and for the buffer machine of samples of its final buffer (square) and of the
geometric-age sampler, n ~ Geometric(1 − ρ) and nK steps from noise (diamond), drawn at the mean
age t = K/(1 − ρ) (the training digits scored the same way: top).  Its buffer is closer
to the digits than Rdm-K's best samples, while the same machine from noise is poor at t = K and
at every t, and so is the geometric-age sampler at the final θ: the buffer holds chains run under
earlier θ (it mixes in 1/(ν(1 − ρ)) ≈ 300 of the 500 updates), so the stationarity at fixed θ
behind (B2) does not hold during this training, and the samples that match the data are the
buffer's own.  What it means for "CD
versus maximum likelihood": training with a buffer is neither.  It is short-run training whose
negative phase is a geometric mixture of chain lengths, so its fixed points are those of a
sampler with memory: they approach maximum likelihood as ρ → 1 only because every relaxation
mode's bias is damped from λ^k to (1 − ρ)λ^k/(1 − ρλ^k), and at any ρ < 1 the machine at its fixed point
reproduces the data when sampled by the mixture of ages, not from noise for K steps and not at
equilibrium; a ConvNet trained for a finite budget (d) reproduces them only through its buffer.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shortrun.paper_figures import common, style

NAME = "buffer"
RULE, SCAN = "heatbath", "random"
MIX_TAIL = 1e-14       # tail mass left out of the geometric-age sum
#: Panel (d): the reference's reuse probability; the geometric-age and buffer samples' energy
#: distances agree within this factor
CONVNET_RHO = 0.95
CONVNET_FACTOR = 2.0
#: the ``version`` of the convnet figure's cache key (paper_figures/fig_convnet.py)
CONVNET_CACHE_VERSION = 3


def _teacher(N, beta, seed, field):
    from shortrun.numerics.data import teachers
    return teachers.sk(N, beta, seed=seed, field=field)


def geometric_age_law(model, k, rho, tail=MIX_TAIL):
    """(1 − ρ)Σ_{n ≤ n_max} ρ^{n−1} U^{nk} p0 by repeated k-step propagation (the kernel's own
    ``propagate``, not the buffer's resolvent), tail mass ρ^{n_max} <= ``tail``."""
    from shortrun.numerics import kernels
    kern = kernels.kernel(model, RULE, SCAN)
    n = model.n_states
    q = np.full(n, 1.0 / n)
    if rho == 0.0:
        return kern.propagate(q, k)
    acc = np.zeros(n)
    for m in range(1, int(np.ceil(np.log(tail) / np.log(rho))) + 1):
        q = kern.propagate(q, k)
        acc += (1.0 - rho) * rho ** (m - 1) * q
    return acc


def compute(N, beta, seed, field, k, rhos):
    """θ*(ρ, k) along ``rhos`` and the mismatches of p_θ*, p(k, p0) and the age mixture."""
    from shortrun.numerics import kernels
    from shortrun.numerics.kernels.spectral import decompose
    from shortrun.numerics.training import fixed_point

    teacher = _teacher(N, beta, seed, field)
    data = teacher.data()
    target = data.stats
    rows = {key: [] for key in ("eq", "k_step", "mix", "coupling")}
    theta, thetas = None, []
    for rho in rhos:
        fp = fixed_point.solve(data, k, "buffer", RULE, SCAN, rho=rho, theta0=theta,
                               progress=False)
        theta = fp.theta
        model = fp.model
        thetas.append(theta)
        stats = model.stats
        rows["eq"].append(np.max(np.abs(stats(model.boltzmann()) - target)))
        rows["k_step"].append(np.max(np.abs(stats(kernels.law(model, "uniform", k, RULE, SCAN))
                                            - target)))
        rows["mix"].append(np.max(np.abs(stats(geometric_age_law(model, k, rho)) - target)))
        iu = np.triu_indices(N, 1)
        rows["coupling"].append(np.sum((model.J[iu] - teacher.model.J[iu]) ** 2))
    rdm = fixed_point.solve(data, k, "rdm", RULE, SCAN, progress=False).theta
    first = teacher.model.with_theta(thetas[0])            # θ*(ρ = 0): rhos start at 0
    spec = decompose(kernels.kernel(first, RULE, SCAN))
    c = spec.coefficients(np.full(2 ** N, 1.0 / 2 ** N))
    excited = np.flatnonzero(np.abs(c[1:]) > 1e-10 * np.abs(c[0])) + 1
    lam = float(np.real(spec.eigenvalues[excited[0]]))
    return dict(rho=np.array(rhos), theta=np.array(thetas), rdm=rdm, lam=lam,
                **{key: np.array(v) for key, v in rows.items()})


def memory(N, beta, seed, field, k, rho, t_max):
    """The memory curve of θ*(ρ, k) from p0 over t = 0..t_max and its mixture's error."""
    from shortrun.numerics.analysis import diagnostics
    from shortrun.numerics.training import fixed_point

    data = _teacher(N, beta, seed, field).data()
    fp = fixed_point.solve(data, k, "buffer", RULE, SCAN, rho=rho, progress=False)
    times = np.arange(t_max + 1)
    curve = diagnostics.memory_curve(fp.model, "uniform", times, data, rule=RULE, scan=SCAN)
    mix = np.max(np.abs(fp.model.stats(geometric_age_law(fp.model, k, rho)) - data.stats))
    eq = np.max(np.abs(fp.model.stats(fp.model.boltzmann()) - data.stats))
    return dict(t=times, distance=curve.distance, mix=mix, eq=eq)


def convnet(ctx):
    """Panel (d): the Rdm-K machine of the convnet figure (read from that figure's cache entry when
    it is there, else trained alone: the Rdm-K run and its scores do not depend on the other
    protocols) and the buffer machine trained with the same sizes (cached here)."""
    from dataclasses import replace

    from shortrun.numerics.neural import memory as neural_memory   # optional extra (jax, optax)
    from shortrun.paper_figures import fig_convnet

    config = ctx.size(neural_memory.FAST, neural_memory.FULL, tiny=neural_memory.TINY)
    quiet = None if ctx.progress else False
    shared = dict(neural_memory.settings(config), version=CONVNET_CACHE_VERSION)
    if (Path(ctx.cache_dir) / (common._key(fig_convnet.NAME, shared) + ".npz")).exists():
        rdm = common.cached(ctx, fig_convnet.NAME, shared, None)
    else:
        alone = replace(config, protocols=("rdm",))
        rdm = common.cached(ctx, NAME + "-convnet-rdm", neural_memory.settings(alone),
                            lambda: neural_memory.run(alone, progress=quiet))
    params = dict(neural_memory.settings(config), rho=CONVNET_RHO, version=1)
    buf = common.cached(ctx, NAME + "-convnet", params,
                        lambda: neural_memory.run_buffer(config, CONVNET_RHO, progress=quiet))
    return config, rdm, buf


def convnet_checks(config, rdm, buf):
    """Panel (d)'s checks: measured facts about the buffer-trained ConvNet (see the caption)."""
    k, t = config.k, buf["t"]
    iK = int(np.flatnonzero(t == k)[0])
    noise = buf["buffer_energy_distance"]
    rdm_k = float(rdm["rdm_energy_distance"][iK])
    geo, rep = float(buf["geometric_energy_distance"]), float(buf["replay_energy_distance"])
    best = int(t[int(np.nanargmin(noise))])
    return [
        common.check(NAME, "(d) buffer ConvNet: its buffer's energy distance over its best "
                     "single sampling time from noise", rep / float(np.nanmin(noise)),
                     "< 1 (its matched sampler is the buffer, not t steps from noise)",
                     rep < float(np.nanmin(noise)),
                     f"buffer {rep:.4g}; from noise best {float(np.nanmin(noise)):.4g} at t = "
                     f"{best}; at t = K {noise[iK]:.4g}"),
        common.check(NAME, "(d) buffer ConvNet from noise at t = K over Rdm-K at t = K",
                     noise[iK] / rdm_k, f"≥ {CONVNET_FACTOR:g} (not trained to turn noise into "
                     "digits in K steps)", noise[iK] >= CONVNET_FACTOR * rdm_k,
                     f"{noise[iK]:.4g} vs {rdm_k:.4g}"),
        common.check(NAME, "(d) buffer ConvNet: geometric-age sampler at the final θ over its "
                     "buffer (energy distance)", geo / rep,
                     f"≥ {CONVNET_FACTOR:g} (the buffer is not B*(θ_final): θ moves within the "
                     "buffer's mixing time)", geo >= CONVNET_FACTOR * rep,
                     f"geometric ages {geo:.4g} (mean age {float(np.mean(buf['geometric_ages'])):.3g}"
                     f" chains); mixing time 1/(ν(1 − ρ)) = "
                     f"{float(buf['buffer_size']) / (config.n_chains * (1 - CONVNET_RHO)):.0f} "
                     f"updates of {config.n_steps}"),
    ]


def make(ctx):
    import matplotlib.pyplot as plt

    N = ctx.size(7, 9, tiny=5)
    beta = ctx.size(0.5, 0.6, tiny=0.5)
    seed, field = 3, 0.2
    ks = ctx.size((1, 2, 5), (1, 2, 5, 10), tiny=(1, 2))
    rhos = ctx.size((0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.98),
                    (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99), tiny=(0.0, 0.6, 0.9))
    runs = {}
    for k in common.progress(ctx, ks, NAME):
        params = dict(N=N, beta=beta, seed=seed, field=field, k=k, rhos=list(rhos))
        runs[k] = common.cached(ctx, NAME, params, lambda: compute(**params))
    k_mem, rho_mem = 2, 0.9
    mparams = dict(N=N, beta=beta, seed=seed, field=field, k=k_mem, rho=rho_mem, t_max=60)
    mem = common.cached(ctx, NAME + "-memory", mparams, lambda: memory(**mparams))
    config, rdm, buf = convnet(ctx)

    checks = []
    mix = max(float(r["mix"].max()) for r in runs.values())
    checks.append(common.check(NAME, "age mixture B* matches the data (all k, ρ)", mix,
                               "≤ 1e-10 (Newton tol 1e-11, tail mass 1e-14)", mix <= 1e-10))
    for k, r in runs.items():
        same = float(np.max(np.abs(r["theta"][0] - r["rdm"])))
        checks.append(common.check(NAME, f"k = {k}: ρ = 0 root is the Rdm-k root", same,
                                   "≤ 1e-9", same <= 1e-9))
        checks.append(common.check(
            NAME, f"k = {k}: p_θ* mismatch, ρ = {r['rho'][-1]:g} over ρ = 0",
            r["eq"][-1] / r["eq"][0], "< 1 (ρ → 1 tends to maximum likelihood)",
            r["eq"][-1] < r["eq"][0], f"{r['eq'][0]:.3g} -> {r['eq'][-1]:.3g}"))
        checks.append(common.check(
            NAME, f"k = {k}: coupling error, ρ = {r['rho'][-1]:g} over ρ = 0",
            r["coupling"][-1] / r["coupling"][0], "< 1", r["coupling"][-1] < r["coupling"][0]))
        worst = float(min(r["k_step"][r["rho"] > 0].min(), r["eq"].min()))
        checks.append(common.check(
            NAME, f"k = {k}: for ρ > 0 neither p(k, p0) nor p_θ* matches the data", worst,
            "> 1e-6", worst > 1e-6))
    d = mem["distance"]
    checks.append(common.check(
        NAME, f"memory (k = {k_mem}, ρ = {rho_mem}): best single time", d.min(),
        "> 1e-4 (no t reproduces the data)", d.min() > 1e-4,
        f"at t = {int(mem['t'][np.argmin(d)])}; age mixture {float(mem['mix']):.2g}"))

    checks += convnet_checks(config, rdm, buf)

    fig, axes = plt.subplots(2, 2, figsize=(style.PAGE_WIDTH, 5.4),
                             gridspec_kw=dict(wspace=0.45, hspace=0.55))
    axes = axes.ravel()
    colors = style.ramp(len(ks))
    for color, (k, r) in zip(colors, runs.items()):
        x = 1.0 - r["rho"]
        axes[0].plot(x, r["eq"], "-o", color=color, ms=3, lw=1.1, label=f"k = {k}")
        axes[0].plot(x, r["k_step"], "--", color=color, lw=0.9)
        axes[0].plot(x, np.maximum(r["mix"], 1e-16), ".", color=color, ms=4)
        lk = r["lam"] ** k
        law = r["eq"][0] * (1.0 - r["rho"]) / (1.0 - r["rho"] * lk)
        axes[0].plot(x, law, ":", color=color, lw=0.9)
        axes[2].plot(x, np.maximum(r["coupling"], 1e-20), "-o", color=color, ms=3, lw=1.1,
                     label=f"k = {k}")
    ax = axes[0]
    ax.set_ylabel(r"$\|\langle\phi\rangle_p-\langle\phi\rangle_{\rm data}\|_\infty$")
    style.panel(ax, "a", "solid $p_{\\theta^*}$, dashed $p(k,p_0)$,\ndots $B^*$, dotted damping law")
    ax = axes[1]
    t = mem["t"]
    ax.plot(t, np.maximum(d, 1e-16), "-", color=style.series(0), lw=1.1, label="p(t, p0)")
    ax.axhline(max(float(mem["mix"]), 1e-16), color=style.protocol_colour("buffer"), lw=1.0,
               label="age mixture")
    ax.axhline(float(mem["eq"]), color=style.protocol_colour("ml"), ls="--", lw=0.8,
               label=r"$p_{\theta^*}$")
    ax.set_xlabel("sampling time t (sweeps)")
    style.panel(ax, "b", f"memory curve, buffer k = {k_mem}, ρ = {rho_mem}")
    ax.legend()
    ax = axes[2]
    ax.set_ylabel(r"$\sum_{i<j}(J^*_{ij}-J_{ij})^2$")
    style.panel(ax, "c", "coupling error")
    ax.legend()
    ax = axes[3]
    k = config.k
    buffer = style.protocol_colour("buffer")
    ax.plot(rdm["t"], rdm["rdm_energy_distance"], "o-", ms=2.5, lw=1.1,
            **style.protocol("rdm", "K", label="Rdm-K machine, from noise"))
    ax.plot(buf["t"], buf["buffer_energy_distance"], "o-", ms=2.5, lw=1.1, color=buffer,
            label=f"buffer machine (ρ = {CONVNET_RHO:g}), from noise")
    age = k / (1.0 - CONVNET_RHO)
    ax.plot([age], [float(buf["replay_energy_distance"])], "s", color=buffer, ms=5, mfc="none",
            label="buffer machine: its buffer")
    ax.plot([age], [float(buf["geometric_energy_distance"])], "D", color=style.series(2), ms=5,
            label="buffer machine: geometric ages")
    ax.text(0.5, 0.93, f"training digits: {float(rdm['baseline_energy_distance']):.3f}",
            transform=ax.transAxes, ha="center", fontsize=style.FONT["annotation"],
            color=style.reference("text"))
    ax.axvline(k, color=style.reference("exact"), lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("sampling time t (Langevin steps)")
    ax.set_ylabel("energy distance to held-out digits")
    style.panel(ax, "d", f"ConvNet on 8×8 digits, K = {k}")
    ax.legend(fontsize=style.FONT["small"], loc="lower left")
    for ax in axes:
        ax.set_yscale("log")
    for ax in (axes[0], axes[2]):
        ax.set_xscale("log")
        ax.set_xlabel(r"$1-\rho$ (fresh-chain probability)")
    fig.suptitle(f"{style.letter('a–c')} SK machine N = {N}, β = {beta}; replay buffer with random-scan "
                 "heat-bath, $p_0$ uniform", y=0.99)
    common.save(fig, ctx, NAME)
    return checks
