"""Solutions to the exercises of notebook 07 (the two regimes of training).

Run it: ``python notebooks/solutions_07.py``; every answer is an ``assert``.  The data and the
settings are the notebook's.
"""
import numpy as np

from shortrun.numerics import kernels, models, sampling, training
from shortrun.numerics.analysis import regimes
from shortrun.numerics.data import teachers

data = teachers.pattern_mixture(6, 2, 0.8, seed=1)
ages = regimes.age_grid(150, 6)

# 1. The crossing time by hand (T2): the first recorded kappa >= k, then the straight line in
#    (t, ln kappa) between that point and the one before.
rdm3 = regimes.run(data, 3, "rdm", lr=0.05, n_steps=150, ages=ages)
t, kap = rdm3.steps, rdm3.kappa
i = next(j for j in range(len(kap)) if kap[j] >= 3)
by_hand = t[i - 1] + (t[i] - t[i - 1]) * (np.log(3) - np.log(kap[i - 1])) / (
    np.log(kap[i]) - np.log(kap[i - 1]))
print(f"1. Rdm-3 crosses kappa1 = 3 between ages {t[i - 1]:g} and {t[i]:g}: by hand "
      f"{by_hand:.4f}, crossing_time {rdm3.crossing:.4f}")
assert abs(by_hand - rdm3.crossing) <= 1e-12 * by_hand

# 2. PCD's lag (T4) grows with the learning rate: the persistent law moves by one k-step
#    application per update, contracting its distance to p_theta by about lambda_1^k, while
#    p_theta moves by O(eta) per update; for the same eta * t the faster rate gives the chain
#    fewer updates to follow the same path.
lags = {}
for lr, n in ((0.02, 375), (0.1, 75)):
    res = training.train(data, 1, "pcd", lr=lr, n_steps=n, tol=0.0, record_every=1,
                         progress=False)
    lags[lr] = regimes.persistent_lag(res)[0].max()
    print(f"2. PCD-1 at lr = {lr}: largest lag (total variation) {lags[lr]:.4f}")
assert lags[0.1] > 2 * lags[0.02]

# 3. The integrated autocorrelation time (T5) is a lower estimate of the relaxation time: for a
#    reversible chain with a spectrum in [0, 1] every observable has tau_int <= that of the slowest
#    mode, 1/2 (1 + lambda_1) / (1 - lambda_1).
model = models.RBM.random(6, 3, seed=0, scale=5.0)
kappa = kernels.RBMKernel(model).mixing_time()
lam = np.exp(-1.0 / kappa)
bound = 0.5 * (1 + lam) / (1 - lam)
times = np.arange(100, 100 + 2000)
traj = sampling.sample(model, "uniform", times[-1], n_chains=100, seed=5, times=times)
tau, window, resolved = regimes.integrated_time(traj.mean(axis=2))
sigma = np.sqrt(2 * (2 * window + 1) / (100 * len(times))) * tau
print(f"3. kappa1 = {kappa:.3f}, slowest-mode tau_int = {bound:.3f}; magnetisation: "
      f"tau_int = {tau:.3f} +- {sigma:.3f} (window {window})")
assert resolved and 0.5 < tau <= bound + 5 * sigma
