"""The short-run chain as a generator: reconstruction and interpolation of held-out digits with
the ConvNet machines of the `convnet` figure.

With its Langevin noise drawn once and held fixed, the chain of t steps from z is a deterministic
map x = M_θ(z) (L3).  A held-out digit x is reconstructed by the code ẑ in [-1, 1]^64 (the support
of p0) that minimises ‖M_θ(z) − x‖²/64 (L4), found by projected Adam with the gradient by JAX's
reverse mode through the t steps (checked against finite differences in the table).  (a)
Reconstruction error of held-out digits against the sampling time t of the generator, for the
Rdm-K, CD-K and PCD-K machines of the `convnet` figure (K = 20 in the fast mode); crosses: the
same at t = K for images of uniform noise, which a generator of digits should not reproduce; grey horizontal lines: PCA fitted on the training digits with q components
(z has 64 dimensions like x, so PCA with 64 components is exact; the fair reading is the smallest
q whose PCA error is as low, the generator's equivalent PCA dimension).  (b) Error at t = K against
K for Rdm-K machines trained at several K (same sizes otherwise), with the CD-K and PCD-K machines
at the figure's K.  (c) Held-out PCA error against q, with the generators' errors at t = K marked.
(d) Held-out digits and their reconstructions at t = K (every target with the same fixed noise
row, each optimised on its own); then interpolation: the codes of two held-out digits joined by
the segment
z(s) = (1 − s) z_a + s z_b (linear: the cube of p0 is convex, so the path stays in its support;
spherical paths are for Gaussian p0) and mapped by each machine, beside PCA's path at the
equivalent dimension (a cross-fade of the two projections).  Reading: the CD-K and PCD-K machines
reconstruct held-out digits more closely than Rdm-K, and uniform noise just as well — their
K-step map from noise barely moves (their samples from noise stay noise, `convnet` figure), so it
is close to the identity and reproduces any image; a small reconstruction error alone does not
make a generator.  Rdm-K's map is selective: noise images are reconstructed about ten times worse
than digits, and its error on digits at t = K is that of PCA with about 30 components (fast mode:
29).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortrun.conventions import SAMPLED_PROTOCOLS
from shortrun.paper_figures import common, fig_convnet, style

NAME = "reconstruction"
PROTOCOLS = SAMPLED_PROTOCOLS


@dataclass(frozen=True)
class Sizes:
    """Sizes of the reconstruction runs (the machines come from the `convnet` figure)."""

    n_rec: int = 24                  # held-out digits reconstructed
    time_factors: tuple = (0.05, 0.25, 0.5, 1.0, 2.0)   # sampling times t = factor * K
    extra_k: tuple = (5, 10)         # further Rdm-K machines for panel (b)
    n_iter: int = 150                # Adam steps
    lr: float = 0.05
    n_path: int = 16                 # points of an interpolation path (= n_rec: one compilation)
    components: tuple = (4, 8, 16, 32)   # PCA lines drawn in (a), (b)
    seed: int = 0


FAST = Sizes(n_rec=12, time_factors=(0.25, 1.0), extra_k=(5,), n_iter=60, n_path=12)
FULL = Sizes(n_rec=64, time_factors=(0.1, 0.25, 0.5, 1.0, 2.0), extra_k=(5, 10, 20),
             n_iter=300)
TINY = Sizes(n_rec=4, time_factors=(1.0,), extra_k=(), n_iter=60, n_path=4, components=(4, 16))
#: targets shown in the strips of (d)
N_SHOWN = 12
#: coordinates and step of the finite-difference check of the gradient through the chain
FD_COORDS, FD_STEP = 6, 1e-2


def _times(k, factors):
    return sorted({max(1, int(round(f * k))) for f in factors} | {k})


def _train_rdm(config, energy, train, k, progress):
    """A further Rdm-K machine at another K, with the sizes and settings of ``config`` (the
    training of :func:`shortrun.numerics.neural.memory.run`, without its scoring)."""
    from shortrun.numerics.neural import training
    c = config
    return training.train(energy, train, k, "rdm", eta=c.eta, sigma2=c.sigma2,
                          n_chains=c.n_chains, batch_size=c.batch_size, lr=c.lr,
                          n_steps=c.n_steps, seed=c.seed, energy_penalty=c.energy_penalty,
                          grad_clip=c.grad_clip, box=c.box, progress=progress).params


# --------------------------------------------------------------------------- compute
def compute(config, r, sizes, progress=None):
    """Reconstruction errors over the sampling times and K, PCA's errors, image strips."""
    import jax

    from shortrun.numerics.neural import digits, energies, generator

    c, s = config, sizes
    k = c.k
    data = digits.load(n_test=c.n_test, seed=c.seed)
    x = data.test[:s.n_rec]
    noise_img = np.asarray(jax.random.uniform(jax.random.key(s.seed + 11), x.shape, minval=-1.0,
                                              maxval=1.0), dtype=x.dtype)
    energy = energies.convnet(c.channels, c.activation)
    params = {p: fig_convnet.machine(energy, r, p) for p in PROTOCOLS}
    ts = _times(k, s.time_factors)
    kw = dict(eta=c.eta, sigma2=c.sigma2, n_iter=s.n_iter, lr=s.lr, box=c.box)
    out = {"t": np.array(ts), "k": np.asarray(k), "targets": x}
    # one noise row shared by every target (rows stay independent), so that any two codes can
    # be joined by an interpolation path under the noise they were found with
    shared = {t: jax.numpy.broadcast_to(generator.noise(s.seed + 1, t, 1, energy.dim,
                                                        energy.dtype), (t, len(x), energy.dim))
              for t in sorted(set(ts) | set(s.extra_k))}
    ia = 0
    ib = int(np.flatnonzero(data.test_labels[:s.n_rec] != data.test_labels[ia])[0])
    for p in PROTOCOLS:
        errs, hist = [], []
        for t in ts:
            rec = generator.reconstruct(energy, params[p], x, t, key=s.seed, xi=shared[t], **kw)
            errs.append(rec.error)
            hist.append(rec.history[[0, -1]])
            if t == k:
                out[f"{p}_x_hat"] = rec.x_hat
                out[f"{p}_path"] = generator.interpolate(
                    energy, params[p], rec.z[ia], rec.z[ib], shared[k][:, 0], s.n_path,
                    eta=c.eta, sigma2=c.sigma2, box=c.box)[1]
        out[f"{p}_error"], out[f"{p}_history"] = np.array(errs), np.array(hist)
    for p in PROTOCOLS:
        out[f"{p}_noise_error"] = generator.reconstruct(energy, params[p], noise_img, k,
                                                        key=s.seed, xi=shared[k], **kw).error
    # (b): Rdm machines at other K, reconstruction at t = K
    ks = sorted(set(s.extra_k) | {k})
    out["ks"] = np.array(ks)
    k_err = []
    for kk in ks:
        theta = params["rdm"] if kk == k else _train_rdm(c, energy, data.train, kk, progress)
        k_err.append(generator.reconstruct(energy, theta, x, kk, key=s.seed, xi=shared[kk],
                                           **kw).error)
    out["k_error"] = np.array(k_err)
    # PCA baseline on every q
    out["pca_error"] = generator.pca_errors(data.train, x, np.arange(65))
    pair = x[[ia, ib]]
    q = generator.equivalent_components(float(np.mean(out["rdm_error"][ts.index(k)])),
                                        out["pca_error"])
    out["q_rdm"] = np.asarray(q)
    out["pca_path"], out["pca_x_hat"] = _pca_path(data.train, pair, x, max(q, 1), s.n_path)
    out["pair"] = pair
    out["fd_check"] = _gradient_check(c, energy, params["rdm"], x, shared[k], s.seed)
    return out


def _pca_path(train, pair, x, q, n_path):
    """PCA at q components: the projections of ``x`` and the path between those of ``pair``."""
    mu = train.mean(0)
    v = np.linalg.svd(train - mu, full_matrices=False)[2][:q]
    proj = lambda y: mu + (y - mu) @ v.T @ v  # noqa: E731
    a, b = proj(pair)
    s = np.linspace(0.0, 1.0, n_path)[:, None]
    return (1 - s) * a + s * b, proj(x)


def _gradient_check(c, energy, params, x, xi, seed):
    """The reverse-mode gradient of the reconstruction loss Σ_i ‖M_θ(z_i) − x_i‖²/64 of the
    trained Rdm-K machine through its K steps (:func:`generator.gradient`, float32 as trained)
    against central differences at steps h and h/2 on :data:`FD_COORDS` coordinates of z: returns
    the largest error over the Richardson bound (truncation |fd_h − fd_{h/2}|/3 plus the rounding
    of the loss, 64 eps₃₂ Σ_i|err_i| / h) and the largest |gradient| checked."""
    import jax

    from shortrun.numerics.neural import generator
    z = np.asarray(jax.random.uniform(jax.random.key(seed + 3), x.shape, minval=-0.9, maxval=0.9),
                   dtype=x.dtype)
    kw = dict(eta=c.eta, sigma2=c.sigma2, box=c.box)
    f = lambda zz: float(np.sum(generator.gradient(energy, params, zz, x, xi, **kw)[0],  # noqa: E731
                                dtype=np.float64))
    g = generator.gradient(energy, params, z, x, xi, **kw)[1].ravel()
    coords = np.argsort(-np.abs(g))[:FD_COORDS]       # the largest entries: a check that can fail
    h, eps, worst = FD_STEP, float(np.finfo(np.float32).eps), 0.0
    for b in coords:
        e = np.zeros(z.size, dtype=z.dtype)
        e[b] = 1.0
        e = e.reshape(z.shape)
        fd1 = (f(z + h * e) - f(z - h * e)) / (2 * h)
        fd2 = (f(z + h / 2 * e) - f(z - h / 2 * e)) / h
        bound = abs(fd1 - fd2) / 3 + 64 * eps * abs(f(z)) / h
        worst = max(worst, abs(g[b] - fd2) / bound)
    return np.array([worst, np.abs(g[coords]).max()])


def results(ctx):
    sizes = ctx.size(FAST, FULL, tiny=TINY)
    config, r = fig_convnet.results(ctx)
    from shortrun.numerics.neural import memory
    key = dict(memory.settings(config), convnet_version=fig_convnet.VERSION,
               **{f"sizes_{k}": v for k, v in sizes.__dict__.items()}, version=1)
    return config, sizes, common.cached(
        ctx, NAME, key, lambda: compute(config, r, sizes, None if ctx.progress else False))


# --------------------------------------------------------------------------- checks
def checks_of(o):
    t, k = list(o["t"]), int(o["k"])
    iK = t.index(k)
    err = {p: o[f"{p}_error"].mean(1) for p in PROTOCOLS}
    pca = o["pca_error"]
    worst, gmax = o["fd_check"]
    checks = [common.check(
        NAME, "gradient through the K steps: largest |autodiff − finite difference| over its "
        "Richardson bound (trained Rdm-K machine, float32)", worst, "≤ 2", worst <= 2,
        f"the {FD_COORDS} largest entries of ∂ℓ/∂z (up to {gmax:.3g}), h = {FD_STEP:g}")]
    drop = max(float(o[f"{p}_history"][iK, 1] / o[f"{p}_history"][iK, 0]) for p in PROTOCOLS)
    checks.append(common.check(
        NAME, "Adam lowers the reconstruction error at t = K (error after / before, worst machine)",
        drop, "< 0.5", drop < 0.5, "; ".join(
            f"{style.protocol_label(p, k)}: {o[f'{p}_history'][iK, 0]:.3g} → "
            f"{o[f'{p}_history'][iK, 1]:.3g}" for p in PROTOCOLS)))
    q = int(o["q_rdm"])
    checks.append(common.check(
        NAME, "Rdm-K at t = K: equivalent PCA dimension (smallest q with PCA error ≤ its error)",
        q, "between 1 and 63", 1 <= q <= 63,
        f"error {err['rdm'][iK]:.4f}; PCA q = 8: {pca[8]:.4f}, q = 16: {pca[16]:.4f}, "
        f"q = 32: {pca[32]:.4f}"))
    others = {p: err[p][iK] for p in ("cd", "pcd")}
    best = min(others.values())
    checks.append(common.check(
        NAME, "at t = K: Rdm-K's reconstruction error of held-out digits over the best of CD-K's "
        "and PCD-K's", err["rdm"][iK] / best, "> 1 (CD-K and PCD-K fit closer)",
        err["rdm"][iK] > best, f"Rdm-K {err['rdm'][iK]:.4f}; " + "; ".join(
            f"{style.protocol_label(p, k)} {v:.4f}" for p, v in others.items())))
    spec = {p: float(np.mean(o[f"{p}_noise_error"]) / err[p][iK]) for p in PROTOCOLS}
    ratio = spec["rdm"] / max(spec["cd"], spec["pcd"])
    checks.append(common.check(
        NAME, "at t = K: (error on uniform-noise images / on held-out digits) of Rdm-K over the "
        "largest of CD-K's and PCD-K's", ratio, "> 2 (only Rdm-K's generator prefers digits)",
        ratio > 2, "; ".join(f"{style.protocol_label(p, k)}: noise "
                             f"{np.mean(o[f'{p}_noise_error']):.4f} / digits {err[p][iK]:.4f}"
                             for p in PROTOCOLS)))
    return checks


# --------------------------------------------------------------------------- draw
def _strip(images, gap=1):
    side = 8
    n = len(images)
    out = np.full((side, n * (side + gap) - gap), np.nan)
    for j, im in enumerate(images):
        out[:, j * (side + gap):j * (side + gap) + side] = np.asarray(im).reshape(side, side)
    return out


def _pca_lines(ax, pca, components, xlabel, letter, title, ticks):
    """PCA's held-out errors at ``components`` as labelled horizontal lines; log axes with plain
    tick labels at ``ticks``."""
    from matplotlib.ticker import NullFormatter
    data = style.protocol_colour("data")
    for q in components:
        ax.axhline(pca[q], color=data, lw=0.8, ls="--")
        ax.text(0.98, pca[q], f"PCA {q}", transform=ax.get_yaxis_transform(), color=data,
                fontsize=style.FONT["annotation"], va="bottom", ha="right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([int(v) for v in ticks], [str(int(v)) for v in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    style.panel(ax, letter, title)
    ax.legend(loc="upper left")


def _draw(o, sizes):
    import matplotlib.pyplot as plt

    t, k, ks = o["t"], int(o["k"]), o["ks"]
    data = style.protocol_colour("data")
    fig = plt.figure(figsize=(style.PAGE_WIDTH, 8.2))
    grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 1.35], hspace=0.3)
    top = grid[0].subgridspec(1, 3, wspace=0.35)
    pca = o["pca_error"]
    ax = fig.add_subplot(top[0])
    for p in PROTOCOLS:
        ax.plot(t, o[f"{p}_error"].mean(1), "o-", ms=3, lw=1.2, **style.protocol(p, k))
    for p in PROTOCOLS:
        ax.plot([k], [o[f"{p}_noise_error"].mean()], "x", ms=5, color=style.protocol_colour(p),
                label="noise images" if p == "rdm" else None)
    ax.axvline(k, color="k", lw=0.8, ls="--")
    _pca_lines(ax, pca, sizes.components, "sampling time t of the generator", "a", "against t",
               t)
    ax.set_xlim(t[0] / 1.5, 4 * k)
    ax.set_ylabel("reconstruction error ‖M(ẑ) − x‖²/64")

    ax = fig.add_subplot(top[1])
    ax.plot(ks, o["k_error"].mean(1), "o-", ms=3, lw=1.2, **style.protocol("rdm"))
    for p in ("cd", "pcd"):
        ax.plot([k], [o[f"{p}_error"][list(t).index(k)].mean()], "s", ms=4,
                **style.protocol(p, k))
    _pca_lines(ax, pca, sizes.components, "K (trained and sampled)", "b", "at t = K, against K",
               ks)
    ax.set_xlim(ks[0] / 1.5, 4 * ks[-1])

    ax = fig.add_subplot(top[2])
    q_all = np.arange(1, 64)
    ax.plot(q_all, pca[1:64], color=data, lw=1.2, label="PCA (held out)")
    ax.set_ylabel("error")
    iK = list(t).index(k)
    for p in PROTOCOLS:
        ax.axhline(o[f"{p}_error"][iK].mean(), color=style.protocol_colour(p), lw=1.0, ls="-")
    ax.axvline(int(o["q_rdm"]), color=style.protocol_colour("rdm"), lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1.0)
    ax.set_xlim(0, 64)
    ax.set_xlabel("PCA components q")
    style.panel(ax, "c", "PCA baseline")
    ax.legend(loc="upper right")

    rows = [("held-out digits", o["targets"][:N_SHOWN], data)]
    rows += [(f"{style.protocol_label(p, k)}, t = K", o[f"{p}_x_hat"][:N_SHOWN],
              style.protocol_colour(p)) for p in PROTOCOLS]
    rows += [(f"PCA, q = {int(o['q_rdm'])}", o["pca_x_hat"][:N_SHOWN], data)]
    rows += [(f"path, {style.protocol_label(p, k)}", o[f"{p}_path"], style.protocol_colour(p))
             for p in PROTOCOLS]
    rows += [(f"path, PCA q = {int(o['q_rdm'])}", o["pca_path"], data)]
    bottom = grid[1].subgridspec(len(rows), 1, hspace=0.25)
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    for i, (label, images, colour) in enumerate(rows):
        ax = fig.add_subplot(bottom[i])
        ax.imshow(_strip(images), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for sp in ax.spines.values():
            sp.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", color=colour,
                      fontsize=style.FONT["annotation"])
        if i == 0:
            style.panel(ax, "d", "reconstructions at t = K and interpolation paths (s = 0 … 1)")
    return fig


def make(ctx):
    config, sizes, o = results(ctx)
    checks = checks_of(o)
    with style.context():
        fig = _draw(o, sizes)
        common.save(fig, ctx, NAME)
    return checks
