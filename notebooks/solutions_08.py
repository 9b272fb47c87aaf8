"""Solutions to the exercises of notebook 08 (the short-run chain as a generator).

Run it: ``python notebooks/solutions_08.py``; every answer is an ``assert``.
"""
import numpy as np

from shortrun.numerics import kernels
from shortrun.numerics.analysis import generator, schedule
from shortrun.numerics.analysis.diagnostics import kl_divergence
from shortrun.numerics.core.states import spins
from shortrun.numerics.models import BoltzmannMachine
from shortrun.numerics.training import fixed_point

N = 6
data = generator.three_body_law(N, 0.8, seed=0)
ml = fixed_point.solve(data, None, "eq", progress=False)
p_ml = ml.model.boltzmann()

# 1. Pythagoras.  ln p_theta = theta.phi - ln Z is linear in phi, and p_data, p_ML share <phi>,
#    so sum (p_data - p_ML) ln p_theta = 0: KL(d||p) = KL(d||ML) + KL(ML||p) for every theta.
#    p(k, p0) is not of that form, so the cross term sum (p_data - p_ML) ln p(k,p0) survives.
theta = 0.3 * np.random.default_rng(0).standard_normal(ml.theta.shape)
p_theta = BoltzmannMachine.from_theta(theta, N).boltzmann()
gap = kl_divergence(data.p, p_theta) - kl_divergence(data.p, p_ml) - kl_divergence(p_ml, p_theta)
assert abs(gap) <= 1e-11 * np.abs(theta - ml.theta).sum() + 1e-13
fp = fixed_point.solve(data, 3, "rdm", progress=False)
law = kernels.law(fp.model, "uniform", 3)
gap_chain = kl_divergence(data.p, law) - kl_divergence(data.p, p_ml) - kl_divergence(p_ml, law)
cross = -np.sum((data.p - p_ml) * np.log(law))        # the surviving cross term
assert abs(gap_chain - cross) <= 1e-12 and abs(gap_chain) > 1e-6
print(f"1. Pythagoras gap for p_theta: {gap:.1e}; for p(3, p0): {gap_chain:.2e} (the cross term).")

# 2. Final-step matching: every theta_t gets the same vector <phi>_data - <phi>_{p_k}, so from a
#    tied start the rows stay equal, and the tied row follows exact Rdm-k gradient ascent.
from shortrun.numerics import training

k, lr, steps = 3, 0.5, 20
Theta = np.zeros((k, ml.theta.size))
for _ in range(steps):
    p_k = schedule.laws(Theta, N)[-1]
    Theta += lr * (data.stats - BoltzmannMachine.from_theta(Theta[-1], N).stats(p_k))
assert np.all(Theta == Theta[0])                      # tied, bit for bit
rdm = training.train(data, k, "rdm", lr=lr, momentum=0.0, n_steps=steps, theta0=np.zeros(
    ml.theta.size), progress=False)
assert np.max(np.abs(rdm.theta - Theta[0])) <= 1e-12
print(f"2. final-step matching stays tied and is Rdm-{k}: |diff| = "
      f"{np.max(np.abs(rdm.theta - Theta[0])):.1e}.")

# 3. Noised targets: statistics scale by a and a^2; Monte Carlo with flips (fixed seed, each
#    statistic within 5 standard errors).
a = 0.6
q = schedule.noised_law(data.p, a)
s = spins(N).astype(float)
m, mq = s.T @ data.p, s.T @ q
C, Cq = s.T @ (s * data.p[:, None]), s.T @ (s * q[:, None])
off = ~np.eye(N, dtype=bool)
assert np.allclose(mq, a * m, rtol=0, atol=1e-14) and np.allclose(Cq[off], a * a * C[off], rtol=0,
                                                                  atol=1e-14)
rng = np.random.default_rng(1)
M = 200_000
x = rng.choice(1 << N, size=M, p=data.p)
flips = np.where(rng.random((M, N)) < (1 - a) / 2, -1.0, 1.0)
samples = s[x] * flips
mean, se = samples.mean(axis=0), samples.std(axis=0) / np.sqrt(M)
assert np.all(np.abs(mean - mq) <= 5 * se)
print(f"3. <s_i> of the noised law = a <s_i>, <s_i s_j> = a^2 <s_i s_j>; Monte Carlo within "
      f"{np.max(np.abs(mean - mq) / se):.2f} standard errors.")

# 4. The data-target chain tends to p_ML geometrically.
ks = range(1, 9)
to_ml = np.array([kl_divergence(p_ml, schedule.solve(data, kk, "data").law) for kk in ks])
rates = to_ml[1:] / to_ml[:-1]
assert np.all(rates[:5] < 0.2) and to_ml[-1] < 1e-8
print(f"4. KL(p_ML || p_k), k = 1..8: {np.array2string(to_ml, precision=1)}; ratio per step "
      f"{np.array2string(rates[:5], precision=3)} (about {np.median(rates[:5]):.3f}).")
