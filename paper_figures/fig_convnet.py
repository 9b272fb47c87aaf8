"""A ConvNet energy trained with short-run Langevin on the 8×8 digits gives its best samples at
t = K steps and worse ones after: the memory effect beyond the solvable models; sampled from the
start it was trained with, each machine does what it was trained to do.

A ConvNet energy E_θ (3×3 convolutions with swish activations and a linear head) is trained on
scikit-learn's 8×8 digits scaled to [-1, 1] with K-step Langevin chains x ← x − η∇ₓE_θ(x) + σξ
(η = 1, σ = 0.01, (L1)) and Adam, with the energy-magnitude penalty α = 0.1 of (L2), in three
protocols: Rdm-K (chains from uniform noise at every update), CD-K (chains from the data minibatch)
and PCD-K (persistent chains).  Each trained machine is then sampled for t steps, t = K/10 … 100 K
(M1), from two starts: uniform noise (solid lines; as many chains as held-out digits) and the
start it was trained with (dashed; as many chains as it trained with: noise for Rdm-K, training
digits for CD-K, its final persistent chains for PCD-K).  Top: samples (rows: t, the row t = K
framed; the same noise for every machine).  Scores against held-out digits, each beside its noise
floor, the score of real digits (training digits, never seen by the scorer, against the held-out
ones; grey dotted: at the size of the noise start, grey dash-dot: at the size of the trained
start; mean over five draws of the real digits).  (a) Energy distance (E3, Euclidean on the
pixels; linear scale below 0.01): sees every difference of law, weighted by the bulk; it is
unbiased (real digits give values near 0 of either sign), so its floor is drawn at twice the root
mean square of the real-vs-held-out values.  (b) Fréchet distance (E5) between Gaussians
fitted to the logits of a logistic-regression digit classifier fitted on the training digits (the
8×8 analogue of FID): sees the class mixture and its spread in the classifier's features, blind
to what the classifier ignores; biased upwards at finite n, hence the floor.  (c) Nearest-neighbour
adversarial accuracy (E2, Euclidean; 0.5 ideal, 1 = told apart every time): sees local
structure, including copies (< 0.5).  (d) Mean confidence max_c P(c|x) of the same classifier: it
keeps rising after t = K (≈ 0.97 at 100 K for Rdm-K, above real digits) while the samples oversaturate, because
a linear classifier's confidence grows with the contrast of a sample along its class direction —
it rewards saturated prototypes and cannot see diversity or realism, so it is no measure of
sample quality on its own.  (e) Mean energy of the samples from noise minus that of the training
digits: the energy is linear in the head's weights, so its mean is one of the statistics Rdm-K
training matches (G5), up to the term 2α(⟨E²⟩_data + ⟨E²⟩_K) ≥ 0 of the penalty (L2); the
Rdm-K curve crosses zero near t = K.  Dashed vertical: t = K.  From noise, the Rdm-K machine is
best at t ≈ K, where its K-step process matches the data (G5), although its Gibbs law p_θ does
not: run longer, its chains keep lowering their energy and settle into over-saturated strokes;
the CD-K and PCD-K machines were never asked to turn noise into digits in K steps and stay far
from them at every t.  From their own starts the comparison is fair: CD-K started at training
digits is indistinguishable from real digits by the energy distance at t = K and for hundreds of
steps more (its chains barely move), then oversaturates; PCD-K's persistent chains, after this
short training, are blurred strokes that score worse than Rdm-K at t = K.
"""
from __future__ import annotations

import numpy as np

from shortrun.conventions import SAMPLED_PROTOCOLS
from shortrun.paper_figures import common, style

NAME = "convnet"
PROTOCOLS = SAMPLED_PROTOCOLS
#: the scores drawn against held-out digits (lower is better for the distances)
SCORES = ("energy_distance", "frechet_distance", "adversarial_accuracy", "confidence")
#: rows of the sample grid: the grid times nearest to these multiples of K
ROWS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0)
#: the claims' bounds: best t within this factor of K (measured: t*/K = 1.0 at K = 5 and 20,
#: 0.82 at K = 50, on a grid with 1.2-1.7 between points); energy distance at 100 K and at K/10
#: at least this many times the one at K; CD-K and PCD-K from noise at least this many times
#: farther from the digits than Rdm-K at t = K, at every t
BEST_FACTOR = 2.0
WORSE_FACTOR = 2.0
OTHERS_FACTOR = 5.0
#: the mean energy at t = K matches the training digits' to this fraction of its offset at K/10
ENERGY_MATCH = 0.1
#: draws of real digits for the noise floors; the floor of the (unbiased, mean ≈ 0) energy
#: distance is drawn at this many standard deviations
N_FLOOR, FLOOR_SD = 5, 2.0
#: cache version of :func:`results` (4: Fréchet distance, trained starts, floors, parameters)
VERSION = 4


# --------------------------------------------------------------------------- compute
def _floors(real, test_blocks, clf, n, seed):
    """Mean and s.d., over :data:`N_FLOOR` draws of ``n`` rows of ``real``, of every score of
    the draw against the held-out blocks (mean over the blocks)."""
    gen = np.random.default_rng([seed, 7, n])
    vals = np.array([[_scores(real[gen.choice(len(real), n, replace=False)], test_blocks, clf)[s]
                      for s in SCORES] for _ in range(N_FLOOR)])
    return vals.mean(0), vals.std(0, ddof=1)


def _scores(samples, test_blocks, clf):
    """Every score of ``samples`` against each held-out block of the same size, averaged."""
    from shortrun.numerics.neural import quality
    rows = [dict(quality.score(samples, b, clf),
                 frechet_distance=quality.frechet_distance(samples, b, clf)) for b in test_blocks]
    return {s: float(np.mean([r[s] for r in rows])) for s in SCORES}


def compute(config, progress=None):
    """The memory-effect run of :func:`shortrun.numerics.neural.memory.run`, plus: the Fréchet
    distance of the samples from noise, the samples and scores from each machine's training start
    (``{p}_trained_{score}``, ``{p}_trained_samples``; ``n_start`` chains scored against the
    held-out digits cut into blocks of ``n_start``), the noise floors ``floor_{score}`` /
    ``floor_{score}_sd`` (at ``n_test``) and ``floor_small_{score}`` (at ``n_start``), and the
    trained parameters ``{p}_param_{i}`` (flat leaves, for :func:`machine`)."""
    from shortrun.numerics.neural import digits, energies, langevin, memory, quality, training

    c = config
    machines = {}
    r = memory.run(c, progress=progress, machines=machines)
    data = digits.load(n_test=c.n_test, seed=c.seed)
    clf = quality.classifier(data.train, data.train_labels, seed=c.seed)
    test, train = data.test.astype(np.float64), data.train.astype(np.float64)
    energy = energies.convnet(c.channels, c.activation)
    t = r["t"]
    n_start = c.batch_size                      # = n_chains: the chains of one training update
    blocks = [test[i * n_start:(i + 1) * n_start] for i in range(len(test) // n_start)]
    out = dict(r, n_start=np.asarray(n_start), n_test=np.asarray(len(test)))
    for name, (mean, sd) in (("floor", _floors(train, [test], clf, len(test), c.seed)),
                             ("floor_small", _floors(train, blocks, clf, n_start, c.seed))):
        for s, m, v in zip(SCORES, mean, sd):
            out[f"{name}_{s}"], out[f"{name}_{s}_sd"] = np.asarray(m), np.asarray(v)
    gen = np.random.default_rng([c.seed, 5])
    for p in c.protocols:
        res, samples = machines[p]
        out[f"{p}_frechet_distance"] = np.array([quality.frechet_distance(s, test, clf)
                                                 for s in samples])
        for i, leaf in enumerate(training.flatten(res.params)):
            out[f"{p}_param_{i}"] = leaf
        if p == "rdm":                           # trained from noise: its first n_start chains
            trained = samples[:, :n_start]
        else:
            start = (data.train[gen.choice(len(data.train), n_start, replace=False)] if p == "cd"
                     else res.chains[:n_start])
            trained = langevin.sample(energy, res.params, start, t, c.eta, c.sigma2,
                                      key=langevin.as_key(c.seed, 6), box=c.box,
                                      allow_divergence=True)
        rows = [_scores(s.astype(np.float64), blocks, clf) for s in trained]
        for s in SCORES:
            out[f"{p}_trained_{s}"] = np.array([row[s] for row in rows])
        out[f"{p}_trained_samples"] = trained[:, :c.n_shown]
    return out


def config_of(ctx):
    from shortrun.numerics.neural import memory     # needs the optional extra (jax, optax)
    return ctx.size(memory.FAST, memory.FULL, tiny=memory.TINY)


def results(ctx):
    """``(config, numbers)`` of the figure, computed once per configuration and cached (the
    reconstruction figure reads the trained machines from here)."""
    from shortrun.numerics.neural import memory
    config = config_of(ctx)
    r = common.cached(ctx, NAME, dict(memory.settings(config), version=VERSION),
                      lambda: compute(config, progress=None if ctx.progress else False))
    return config, r


def machine(energy, r, protocol):
    """The parameters of the trained ``protocol`` machine stored in ``r`` (``energy``: the
    ConvNet of the configuration, ``energies.convnet(config.channels, config.activation)``)."""
    import jax

    from shortrun.numerics.neural import training
    like = energy.init(jax.random.key(0))
    n = len(jax.tree_util.tree_leaves(like))
    return training.unflatten(like, [r[f"{protocol}_param_{i}"] for i in range(n)])


# --------------------------------------------------------------------------- checks
def floor_of(r, name, score):
    """The noise floor drawn for ``score``: the mean real-vs-held-out value, except for the
    (unbiased, mean ≈ 0, possibly negative) energy distance: :data:`FLOOR_SD` times its root mean
    square over the draws, sqrt(mean² + (N − 1)/N · s.d.²)."""
    m, sd = float(r[f"{name}_{score}"]), float(r[f"{name}_{score}_sd"])
    if score != "energy_distance":
        return m
    return FLOOR_SD * float(np.sqrt(m * m + (N_FLOOR - 1) / N_FLOOR * sd * sd))


def checks_of(r, k):
    t = r["t"]
    ed, aa = r["rdm_energy_distance"], r["rdm_adversarial_accuracy"]
    iK, iL, i0 = (int(np.flatnonzero(t == v)[0]) for v in (k, t.max(), t.min()))
    best = int(t[int(np.argmin(ed))])
    label = {p: style.protocol_label(p, "K") for p in PROTOCOLS}
    checks = [
        common.check(NAME, "Rdm-K: best sampling time t* (lowest energy distance) over K", best / k,
                     f"within [1/{BEST_FACTOR:g}, {BEST_FACTOR:g}]",
                     1 / BEST_FACTOR <= best / k <= BEST_FACTOR,
                     f"t* = {best}, K = {k}; grid {', '.join(str(int(v)) for v in t)}"),
        common.check(NAME, "Rdm-K: energy distance at t = 100 K over t = K", ed[iL] / ed[iK],
                     f"≥ {WORSE_FACTOR:g}", ed[iL] / ed[iK] >= WORSE_FACTOR,
                     f"{ed[iL]:.4g} at t = {int(t[iL])} vs {ed[iK]:.4g} at t = K"),
        common.check(NAME, "Rdm-K: energy distance at t = K/10 over t = K", ed[i0] / ed[iK],
                     f"≥ {WORSE_FACTOR:g}", ed[i0] / ed[iK] >= WORSE_FACTOR,
                     f"{ed[i0]:.4g} at t = {int(t[i0])}"),
        common.check(NAME, "Rdm-K: adversarial accuracy at t = 100 K minus at t = K",
                     aa[iL] - aa[iK], "> 0 (worse at 100 K)", aa[iL] > aa[iK],
                     f"AA = {aa[iK]:.3f} at K, {aa[iL]:.3f} at 100 K (0.5 ideal); training digits: "
                     f"{float(r['baseline_adversarial_accuracy']):.3f}"),
    ]
    others = min(float(np.min(r[f"{p}_energy_distance"])) for p in ("cd", "pcd"))
    checks.append(common.check(
        NAME, "CD-K and PCD-K from noise: lowest energy distance over any t, over Rdm-K's at t = K",
        others / ed[iK], f"≥ {OTHERS_FACTOR:g}", others >= OTHERS_FACTOR * ed[iK],
        "; ".join(f"{label[p]}: {float(np.min(r[f'{p}_energy_distance'])):.3g} at t = "
                  f"{int(t[int(np.argmin(r[f'{p}_energy_distance']))])}" for p in ("cd", "pcd"))))
    gap = r["rdm_mean_energy"] - float(r["rdm_train_energy"])
    checks.append(common.check(
        NAME, "Rdm-K: |⟨E⟩ at t = K − ⟨E⟩ of the training digits| over the same at t = K/10",
        abs(gap[iK]) / abs(gap[i0]), f"≤ {ENERGY_MATCH:g} (matched statistic, G5)",
        abs(gap[iK]) <= ENERGY_MATCH * abs(gap[i0]),
        f"⟨E⟩_K − ⟨E⟩_train = {gap[iK]:+.4f}; at t = {int(t[i0])}: {gap[i0]:+.4f}"))
    fd = r["rdm_frechet_distance"]
    best_fd = int(t[int(np.argmin(fd))])
    checks.append(common.check(
        NAME, "Rdm-K: best sampling time by the Fréchet distance over K", best_fd / k,
        f"within [1/{BEST_FACTOR:g}, {BEST_FACTOR:g}]", 1 / BEST_FACTOR <= best_fd / k <= BEST_FACTOR,
        f"FD = {fd[iK]:.3g} at t = K, {fd[i0]:.3g} at K/10, {fd[iL]:.3g} at 100 K; noise floor "
        f"(real digits) {float(r['floor_frechet_distance']):.3g}"))
    conf = r["rdm_confidence"]
    checks.append(common.check(
        NAME, "Rdm-K: classifier confidence at t = 100 K minus at t = K (rises while the "
        "distances worsen)", conf[iL] - conf[iK], "> 0", conf[iL] > conf[iK],
        f"{conf[iK]:.3f} at K, {conf[iL]:.3f} at 100 K; real digits "
        f"{float(r['floor_confidence']):.3f}"))
    fd_floor = floor_of(r, "floor", "frechet_distance")
    lowest = min(float(np.min(r[f"{p}_frechet_distance"])) for p in PROTOCOLS)
    checks.append(common.check(
        NAME, "every machine from noise: lowest Fréchet distance over its noise floor (no sampler "
        "reaches real digits)", lowest / fd_floor, "> 1", lowest > fd_floor,
        f"floor {fd_floor:.3g} (real vs held-out digits, {int(r['n_test'])} of each)"))
    small = floor_of(r, "floor_small", "frechet_distance")
    checks.append(common.check(
        NAME, f"Fréchet distance noise floor at {int(r['n_start'])} images over at "
        f"{int(r['n_test'])}", small / fd_floor, "> 1 (biased upwards, more at small n)",
        small > fd_floor, f"{small:.3g} vs {fd_floor:.3g}"))
    cd_noise, cd_data = r["cd_energy_distance"][iK], r["cd_trained_energy_distance"][iK]
    checks.append(common.check(
        NAME, "CD-K at t = K: energy distance from noise minus from training digits (fair start)",
        cd_noise - cd_data, "> 0 (better where it was trained)", cd_noise > cd_data,
        f"from data {cd_data:.3g} (n = {int(r['n_start'])}; noise floor "
        f"{floor_of(r, 'floor_small', 'energy_distance'):.3g}), from noise {cd_noise:.3g}"))
    small = floor_of(r, "floor_small", "energy_distance")
    checks.append(common.check(
        NAME, "CD-K from training digits at t = K: energy distance minus its noise floor "
        f"({int(r['n_start'])} images)", cd_data - small, "≤ 0 (indistinguishable from real "
        "digits)", cd_data <= small, f"{cd_data:.3g} vs floor {small:.3g}"))
    pcd, rdm = float(np.min(r["pcd_trained_energy_distance"])), r["rdm_trained_energy_distance"][iK]
    checks.append(common.check(
        NAME, "PCD-K from its persistent chains: lowest energy distance over any t, minus Rdm-K's "
        f"at t = K ({int(r['n_start'])} chains each)", pcd - rdm, "> 0", pcd > rdm,
        f"PCD-K {pcd:.3g} at t = {int(t[int(np.argmin(r['pcd_trained_energy_distance']))])}, "
        f"Rdm-K {rdm:.3g}"))
    return checks


# --------------------------------------------------------------------------- draw
def _mosaic(samples, rows, n_cols):
    """Images of ``samples[rows, :n_cols]`` tiled with one blank pixel between them."""
    side, gap = 8, 1
    out = np.full((len(rows) * (side + gap) - gap, n_cols * (side + gap) - gap), np.nan)
    for i, r in enumerate(rows):
        for j in range(n_cols):
            y, x = i * (side + gap), j * (side + gap)
            out[y:y + side, x:x + side] = samples[r, j].reshape(side, side)
    return out


def _draw(r, k):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    t = r["t"]
    rows = sorted({int(np.argmin(np.abs(np.log(t / (f * k))))) for f in ROWS})
    n_cols = min(3, r["rdm_samples"].shape[1])
    mosaics = [("rdm", "samples", "from noise"), ("cd", "samples", "from noise"),
               ("cd", "trained_samples", "from data"), ("pcd", "samples", "from noise"),
               ("pcd", "trained_samples", "from its chains")]
    fig = plt.figure(figsize=(style.PAGE_WIDTH, 9.6))
    grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 2.1], hspace=0.12)
    top = grid[0].subgridspec(1, len(mosaics), wspace=0.08)
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    for col, (p, key, start) in enumerate(mosaics):
        ax = fig.add_subplot(top[col])
        ax.imshow(_mosaic(r[f"{p}_{key}"], rows, n_cols), cmap=cmap, vmin=-1, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([i * 9 + 3.5 for i in range(len(rows))])
        ax.set_yticklabels([f"{int(t[i])}" for i in rows] if col == 0 else [])
        ax.tick_params(length=0)
        ax.set_title(f"{style.protocol_label(p, k)} machine\n{start}", fontsize=style.FONT["label"],
                     color=style.protocol_colour(p))
        if col == 0:
            ax.set_ylabel("sampling time t (steps)")
        if k in t[rows]:
            i = rows.index(int(np.flatnonzero(t == k)[0]))
            ax.add_patch(Rectangle((-0.5, i * 9 - 0.5), n_cols * 9 - 1, 8, fill=False,
                                   edgecolor=style.protocol_colour("rdm"), lw=1.4))
        for s in ax.spines.values():
            s.set_visible(False)

    bottom = grid[1].subgridspec(3, 2, hspace=0.6, wspace=0.3)
    n_test, n_start = int(r["n_test"]), int(r["n_start"])
    panels = [("energy_distance", "energy distance (E3) to held-out digits", "symlog"),
              ("frechet_distance", "Fréchet distance (E5), classifier logits", "log"),
              ("adversarial_accuracy", "adversarial accuracy (E2; 0.5 ideal)", "linear"),
              ("confidence", "classifier confidence", "linear"),
              ("mean_energy", r"$\langle E\rangle_{t} - \langle E\rangle_{\rm training\ digits}$"
               " (from noise)", "symlog")]
    for n, (key, title, scale) in enumerate(panels):
        ax = fig.add_subplot(bottom[n // 2, n % 2])
        for p in PROTOCOLS:
            if key == "mean_energy":
                ax.plot(t, r[f"{p}_{key}"] - r[f"{p}_train_energy"], "o-", ms=2.5, lw=1.2,
                        **style.protocol(p, k))
                continue
            ax.plot(t, r[f"{p}_{key}"], "o-", ms=2.5, lw=1.2, **style.protocol(p, k))
            ax.plot(t, r[f"{p}_trained_{key}"], "--", lw=1.0, color=style.protocol_colour(p))
        if key == "mean_energy":
            ax.axhline(0.0, color=style.protocol_colour("data"), ls=":", lw=1.0)
        else:
            for name, ls in (("floor", ":"), ("floor_small", "-.")):
                ax.axhline(floor_of(r, name, key), color=style.protocol_colour("data"), ls=ls,
                           lw=1.0)
        ax.axvline(k, color="k", lw=0.8, ls="--")
        ax.set_xscale("log")
        if scale == "symlog":
            ax.set_yscale("symlog", linthresh=0.1 if key == "mean_energy" else 0.01)
            if key == "energy_distance":
                ax.set_ylim(bottom=-0.01)
        else:
            ax.set_yscale(scale)
        style.panel(ax, n, title)
        ax.set_xlabel("sampling time t (Langevin steps)")
        ax.text(k * 1.08, 0.9, "t = K", transform=ax.get_xaxis_transform(),
                fontsize=style.FONT["annotation"])
    legend = fig.add_subplot(bottom[2, 1])
    legend.axis("off")
    data = style.protocol_colour("data")
    handles = ([Line2D([], [], marker="o", ms=2.5, **style.protocol(p, k)) for p in PROTOCOLS]
               + [Line2D([], [], color="k", lw=1.2, label="solid: from noise"),
                  Line2D([], [], color="k", ls="--", lw=1.0,
                         label=f"dashed: from the training start ({n_start} chains)"),
                  Line2D([], [], color=data, ls=":",
                         label=f"real digits (noise floor), {n_test} images"),
                  Line2D([], [], color=data, ls="-.", label=f"real digits, {n_start} images")])
    legend.legend(handles=handles, loc="center", frameon=False)
    return fig


def make(ctx):
    config, r = results(ctx)
    checks = checks_of(r, config.k)
    with style.context():
        fig = _draw(r, config.k)
        common.save(fig, ctx, NAME)
    return checks
