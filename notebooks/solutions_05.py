"""Solutions to the exercises of notebook 05 (RBM memory effects on the digits).

Run it: ``python notebooks/solutions_05.py``; every answer is an ``assert``.  The machines are the
4×4-patch machines of the notebook, trained the same way.
"""
import numpy as np

from shortrun.numerics import kernels, models
from shortrun.numerics.analysis import interactions, memory
from shortrun.numerics.data import digits, teachers
from shortrun.numerics.training import monte_carlo

patch = digits.load(n_test=200, seed=0).train.reshape(-1, 8, 8)[:, 2:6, 2:6].reshape(-1, 16)
template = models.RBM.random(16, 6, seed=0, scale=0.1, field=0.0)


def train(k, protocol):
    return monte_carlo.train(patch, k, protocol, scan="alternating", model=template,
                             theta0=template.theta, n_chains=500, batch_size=500, lr=0.1,
                             momentum=0.5, n_steps=600, seed=1, progress=False).model


rdm1, pcd1 = train(1, "rdm"), train(1, "pcd")

# 1. The sampled mixing time (E4) against the exact kappa_1 (G3).  The autocorrelation of any
#    observable decays as sum_a w_a lambda_a^t, so its late exponential rate is lambda_1 when the
#    observable overlaps the slowest mode; the data's top principal components do here.
for m in (rdm1, pcd1):
    exact = kernels.RBMKernel(m).mixing_time()
    sampled = memory.autocorrelation_time(m, patch, n_components=3, n_chains=400, n_steps=400,
                                          burn_in=100, seed=3)
    assert abs(sampled.tau - exact) < 0.2 * exact, (sampled.tau, exact)
    print(f"1. kappa_1 = {exact:.2f} exact, tau = {sampled.tau:.2f} from the autocorrelation.")

# 2. The fixed-point theorem on the RBM.  Training stops where the one-step law has the data's
#    statistics (G5), not p_theta.  Monte Carlo training (500 chains, 600 noisy updates) stops
#    *near* that fixed point: its residual is small against the equilibrium mismatch but not zero;
#    it is limited by the noise of the chains and minibatches (standard error of a statistic in
#    [0, 1] from 500 chains: at most 0.5/sqrt(500) = 0.022) and by the finite number of updates.
#    Reaching theta* to round-off takes exact training or Newton (notebook 2), which costs minutes
#    here (118 parameters, Jacobians over 2^16 states).
data = teachers.Data.from_samples(patch)
target = rdm1.stats(data.p)                                   # <phi_theta>_data (depends on theta)
k_step = rdm1.stats(kernels.law(rdm1, "uniform", 1, scan="alternating"))
equilibrium = rdm1.stats(rdm1.boltzmann())
residual, mismatch = np.abs(k_step - target).max(), np.abs(equilibrium - target).max()
assert residual < 0.1 * mismatch
assert residual < 0.5 / np.sqrt(500)
print(f"2. max |<phi>_p(1,p0) - <phi>_data| = {residual:.3f}, "
      f"max |<phi>_p_theta - <phi>_data| = {mismatch:.3f}.")

# 3. Inflation against k.  As k grows past the mixing time the k-step law approaches p_theta,
#    training approaches maximum likelihood and the inflation of the interactions disappears:
#    the pair weight w_2 of p_theta falls towards that of the PCD machine.
w2 = {}
for k in (1, 3, 10):
    m = train(k, "rdm")
    w2[k] = interactions.order_weights(interactions.spectrum(log_p=m.log_marginal()))[2]
w2_pcd = interactions.order_weights(interactions.spectrum(log_p=pcd1.log_marginal()))[2]
assert w2[1] > w2[3] > w2[10]
assert abs(w2[10] - w2_pcd) < 0.25 * (w2[1] - w2_pcd)
print("3. pair weight w_2 of p_theta for Rdm-k, k = 1, 3, 10:",
      [round(float(w2[k]), 3) for k in (1, 3, 10)], f"(PCD-1: {w2_pcd:.3f})")
