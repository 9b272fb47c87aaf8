# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # The fixed-point theorem of short-run training, exactly
#
# A Boltzmann machine $p_\theta(s) \propto e^{-E_\theta(s)}$ is trained with the gradient
# $\langle\phi\rangle_{\rm data} - \langle\phi\rangle_{\rm model}$, where the model term is
# estimated by running a Markov chain $k$ steps from $p_0$ (Rdm-$k$).  If training converges,
# it stops at $\theta^*$ with (G5)
#
# $$\langle\phi\rangle_{p(k,p_0;\theta^*)} = \langle\phi\rangle_{\rm data},
#   \qquad p(k,p_0) = U_{\theta^*}^k p_0 ,$$
#
# so the *k-step process* reproduces the data's statistics, while the equilibrium law
# $p_{\theta^*}$ does not.  With $N = 7$ spins everything is exact on the $2^7$ states:
#
# 1. Newton with the exact Jacobian finds $\theta^*$ to a residual below $10^{-10}$;
# 2. $p(k, p_0)$ matches the data to machine precision, $p_{\theta^*}$ misses by percents;
# 3. plain gradient ascent (what a practitioner runs) lands on the same $\theta^*$;
# 4. the memory effect: sampling the trained model for $t$ steps, the data are matched at
#    $t = k$ only;
# 5. Monte Carlo chains (seeded, finite) agree with the exact $p(k, p_0)$ within error bars.
#
# Open it in Jupyter with jupytext, or run it as a script: `python notebooks/01_fixed_point_theorem.py`.
# Every claim is an `assert`, so running the notebook is a test (`tests/test_notebooks.py`).

# %%
import numpy as np

from shortrun.numerics.analysis import diagnostics

from shortrun.numerics.training import fixed_point

from shortrun.numerics import kernels

from shortrun.numerics.core import moments

from shortrun.numerics import sampling

from shortrun.numerics.data import teachers

from shortrun.numerics import training

N, beta, field, k = 7, 0.8, 0.2, 2
rule, scan = "heatbath", "random"
teacher = teachers.sk(N, beta, seed=3, field=field)
data = teacher.data()                 # the exact equilibrium law of the teacher (no sampling noise)
print(teacher.name, "| data: <s_i> range", data.stats[:N].min().round(3), data.stats[:N].max().round(3))

# %% [markdown]
# ## 1–2. The fixed point of Rdm-k training, by Newton
# $p_0$ is uniform; one step is one sweep of $N$ random-site heat-bath updates.

# %%
fp = fixed_point.solve(data, k, "rdm", rule, scan)
model = fp.model
p_k = kernels.law(model, "uniform", k, rule=rule, scan=scan)
p_eq = model.boltzmann()
err_k = np.max(np.abs(moments.stats(p_k) - data.stats))
err_eq = np.max(np.abs(moments.stats(p_eq) - data.stats))
print(f"Newton: {fp.iterations} iterations, residual {fp.residual:.1e}")
print(f"max |<phi>_p(k,p0) - <phi>_data| = {err_k:.1e}   (the k-step process)")
print(f"max |<phi>_p_theta* - <phi>_data| = {err_eq:.3f}   (the equilibrium law of the same model)")
assert fp.converged and err_k < 1e-10
assert err_eq > 0.3
print("coupling error sum_{i<j}(J* - beta J0)^2 =", round(diagnostics.coupling_error(model, teacher), 3))

# %% [markdown]
# Short chains cannot express every data set: for a colder teacher (β = 1) Newton finds no root
# at k = 2, and gradient ascent shows why: the parameters run off to infinity (no finite θ*,
# SPEC §2 and §4.1).  The trainer detects this and stops with a message instead of a NaN.
# With k = 5 the fixed point exists.

# %%
cold = teachers.sk(N, 1.0, seed=3, field=field).data()
assert not fixed_point.solve(cold, k, "rdm", rule, scan, check=False).converged
try:
    training.train(cold, k, "rdm", rule, scan, lr=0.5, momentum=0.5, n_steps=20_000, progress=False)
    raise AssertionError("expected the run to diverge")
except RuntimeError as err:
    print("beta = 1, k = 2:", str(err)[:120], "...")
    assert "no finite fixed point" in str(err)
assert fixed_point.solve(cold, 5, "rdm", rule, scan).converged

# %% [markdown]
# ## 3. Gradient ascent lands on the Newton root
# The exact trainer runs the update $\theta \leftarrow \theta + \epsilon\,
# (\langle\phi\rangle_{\rm data} - \langle\phi\rangle_{p(k,p_0)})$ until the gradient is below $10^{-10}$.

# %%
run = training.train(data, k, "rdm", rule, scan, lr=0.5, momentum=0.5, tol=1e-10, n_steps=20_000)
gap = np.max(np.abs(run.theta - fp.theta))
print(f"gradient ascent: {run.steps} steps, |theta_GA - theta_Newton|_inf = {gap:.1e}")
assert run.converged and gap < 1e-8

# %% [markdown]
# ## 4. The memory effect
# Start the trained chain from $p_0$ and follow $\|\langle\phi\rangle_{p(t,p_0)} -
# \langle\phi\rangle_{\rm data}\|_\infty$: it vanishes at $t = k$, and it does *not* go to zero
# as $t \to \infty$ (that limit is $p_{\theta^*}$).

# %%
curve = diagnostics.memory_curve(model, "uniform", np.arange(0, 31), data, rule=rule, scan=scan)
for t in (0, 1, 2, 3, 5, 10, 30):
    print(f"t = {t:2d}: distance {curve.distance[t]:.2e}   KL(data || p(t)) = {curve.kl_data_to_model[t]:.4f}")
assert curve.best_time == k and curve.distance[k] < 1e-10
assert curve.distance[30] > 0.05
print("mixing time of the trained chain: tau =",
      round(diagnostics.mixing_time(model, rule, scan), 2), "sweeps (k =", k, ")")

# %% [markdown]
# ## 5. Monte Carlo: 20 000 seeded chains of k sweeps
# The sample statistics of finite chains agree with the exact $p(k,p_0)$ within
# $5\sigma$, $\sigma = \sqrt{(1-\bar\phi^2)/(n-1)}$ (each statistic is a mean of ±1 values).

# %%
s = sampling.sample(model, "uniform", k, rule=rule, scan=scan, n_chains=20_000, seed=7)
z = np.abs(sampling.stats(s) - moments.stats(p_k)) / sampling.stats_error(s)
print("max |MC - exact| / sigma over all", z.size, "statistics:", z.max().round(2))
assert z.max() < 5
