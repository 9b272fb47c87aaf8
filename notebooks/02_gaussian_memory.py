# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # A Gaussian EBM trained with short-run Langevin: the memory effect, in closed form
#
# Energy $E(x) = \tfrac12 x^\top A x - h^\top x$, sampled with the unadjusted Langevin
# algorithm $x_{t+1} = (I - \eta A)x_t + \eta h + \sigma\xi$ started from
# $p_0 = \mathcal N(0, s_0^2 I)$ for $k$ steps (`docs/theory.md`, (Ga)-(Gm)).  Training stops where the *k-step
# process* has the data's mean and covariance (G5).  This notebook shows, with the closed forms of
# `shortrun.theory.gaussian` and a Monte Carlo check:
#
# 1. the learned eigenvalues $a(k)$ differ from equilibrium training, and become *negative*
#    (a concave energy!) for data variances $\lambda > s_0^2 + k\sigma^2$;
# 2. the memory effect: sampling the trained model for $t$ steps, the covariance matches the data
#    only at $t = k$, and the KL divergence vanishes exactly there.
#
# Open it in Jupyter with jupytext, or run it as a script: `python notebooks/02_gaussian_memory.py`.
# Every claim below is an `assert`, so running the notebook is a test (`tests/test_notebooks.py`).

# %%
import numpy as np

from shortrun.numerics.sampling import langevin
from shortrun.theory import gaussian as g

eta, sigma2, s02 = 0.05, 0.1, 1 / 3       # the check values of (Gc) in docs/theory.md

# %% [markdown]
# ## 1. Learned spectrum versus k (one eigenmode at a time)
# Each eigenvalue $\lambda$ of the data covariance is matched by a learned eigenvalue $a$ solving
# $g_k(a) = \lambda$ (Gc); equilibrium training gives $\eta a_{eq} = 1 - \sqrt{1 - \sigma^2/\lambda}$.

# %%
print(" lambda    k     a(k)     a_eq   concave?")
for lam in (1 / 3, 1.0, 3.0):
    a_eq = g.equilibrium_mode(lam, eta, sigma2)
    for k in (1, 7, 50, 400):
        a = g.fixed_point_mode(lam, k, eta, s02, sigma2=sigma2)
        concave = lam > g.concave_threshold(k, s02, sigma2=sigma2)
        assert (a < 0) == concave
        print(f"{lam:7.3f} {k:4d} {a:8.3f} {a_eq:8.3f}   {concave}")
# the check numbers of (Gc) at k = 7
assert abs(g.fixed_point_mode(1.0, 7, eta, s02, sigma2=sigma2) - 0.077) < 5e-4
assert abs(g.fixed_point_mode(3.0, 7, eta, s02, sigma2=sigma2) + 2.30) < 5e-3
# long chains recover equilibrium (maximum-likelihood) training
assert abs(g.fixed_point_mode(1.0, 4000, eta, s02, sigma2=sigma2) - g.equilibrium_mode(1.0, eta, sigma2)) < 1e-6

# %% [markdown]
# ## 2. A full data covariance: train, then sample the trained model for t steps

# %%
rng = np.random.default_rng(0)
Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
C_D = Q @ np.diag([0.4, 1.0, 2.0]) @ Q.T
mu_D = np.array([0.5, -1.0, 0.2])
k = 20
A, h = g.train_fixed_point(C_D, mu_D, k, eta, s02, sigma2=sigma2)
curve = g.memory_curve(C_D, mu_D, k, np.arange(0, 81), eta, s02, sigma2=sigma2)
kl = curve.kl_data_to_model  # KL(data || p(t))
best = curve.times[np.argmin(kl)]
print(f"KL(t) is smallest at t = {best} (k = {k}); KL(k) = {kl[k]:.2e}, "
      f"KL(0) = {kl[0]:.3f}, KL(80) = {kl[80]:.3f}")
assert best == k and kl[k] < 1e-12 and curve.best_time == k

# %% [markdown]
# ## 3. Monte Carlo: ULA chains from p0 reproduce the data covariance at t = k
# 20 000 seeded chains; the sample covariance's standard error for entry (i, j) is
# $\sqrt{(\Sigma_{ii}\Sigma_{jj} + \Sigma_{ij}^2)/n}$ for Gaussian samples.

# %%
n = 20_000
x = langevin.sample_ula(A, h, np.zeros(3), s02 * np.eye(3), k, eta, sigma2, n_chains=n, seed=1)
S_hat = np.cov(x, rowvar=False)
err = np.sqrt((np.outer(np.diag(C_D), np.diag(C_D)) + C_D**2) / n)
z = np.abs(S_hat - C_D) / err
print("max |Cov_MC(k) - C_D| / sigma =", z.max().round(2))
assert z.max() < 5
