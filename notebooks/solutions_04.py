"""Solutions to the exercises of notebook 04 (high temperature).

Run it: ``python notebooks/solutions_04.py``; every answer is an ``assert``.
"""
import numpy as np

from shortrun.numerics import kernels
from shortrun.numerics.core import moments
from shortrun.numerics.data import teachers
from shortrun.numerics.models import BoltzmannMachine
from shortrun.numerics.training import fixed_point
from shortrun.theory import high_temperature as ht

J0 = teachers.sk(6, 1.0, seed=5).J0
epsilons = 0.2 / 2 ** np.arange(5)


def halving_ratios(errors):
    errors = np.asarray(errors)
    return errors[:-1] / errors[1:]


# 1. Sequential sweeps.  Updating site i sets <s_i s_j> = <tanh(H_i) s_j> = J_ij + O(eps^2) for
#    every j, whether j was updated before or not; a sweep updates every site, so after one sweep
#    C = J + O(eps^2): no first-order inflation, and Rdm-1 with a sequential sweep learns
#    J* = beta J0 + O(beta^2) (the continuous-time chain learns beta J0 / f1(1) = 1.157 beta J0).
err = []
for eps in epsilons:
    _, C = moments.moments(kernels.law(BoltzmannMachine(np.zeros(6), eps * J0), "uniform", 1,
                                       rule="heatbath", scan="sequential"))
    _, C_first = ht.sequential_moments(np.zeros(6), eps * J0, 1)
    err.append(np.abs(C - C_first).max())
r = halving_ratios(err)
assert np.all(np.abs(r[-2:] - 4) < 0.4), r                  # O(eps^2): 4x per halving
beta = 0.02
ring = teachers.ring(5, beta)
seq = fixed_point.solve(ring.data(), 1, "rdm", "heatbath", "sequential")
cont = fixed_point.solve(ring.data(), 1.0, "rdm", "heatbath", "continuous")
assert abs(seq.model.J[0, 1] / beta - 1) < 0.05
assert abs(cont.model.J[0, 1] / beta - 1 / ht.f1(1.0)) < 0.01
print(f"1. sequential sweep: C - J = O(eps^2) (ratios {r.round(2)}); J*_01/beta = "
      f"{seq.model.J[0, 1] / beta:.4f} (sequential, k = 1) vs {cont.model.J[0, 1] / beta:.4f} (continuous).")

# 2. The memory curve at first order: C(t)/C^D = f1(t)/f1(k) + O(beta).
k = 1.0
model = cont.model
C_D = ring.data().moments()[1][0, 1]
ts = np.linspace(0, 5, 11)
exact = np.array([moments.moments(kernels.law(model, "uniform", t=t, rule="heatbath",
                                              scan="continuous"))[1][0, 1] for t in ts]) / C_D
first = ht.memory_ratio(ts, k)
assert abs(exact[ts == k][0] - 1) < 1e-9                    # matched at t = k exactly
assert np.abs(exact - first).max() < 0.03
print(f"2. C_01(t)/C^D vs f1(t)/f1(k): max difference {np.abs(exact - first).max():.4f} on t in [0, 5].")

# 3. The discrete random scan: exact-N factors give an O(eps^3) error; the continuous-time
#    formula at t = k differs already at first order (f1 = 1 - (1 - 2/N)^{kN} vs 1 - e^{-2k}).
h0 = np.random.default_rng(1).normal(0, 0.5, 6)
for k in (1, 2):
    err_random, err_glauber = [], []
    for eps in epsilons:
        m, C = moments.moments(kernels.law(BoltzmannMachine(eps * h0, eps * J0), "uniform", k,
                                           rule="heatbath", scan="random"))
        for (m_th, C_th), out in ((ht.random_scan_moments(eps * h0, eps * J0, k), err_random),
                                  (ht.glauber_moments(eps * h0, eps * J0, k), err_glauber)):
            out.append(max(np.abs(m - m_th).max(), np.abs(C - C_th).max()))
    r3, r1 = halving_ratios(err_random), halving_ratios(err_glauber)
    assert np.all(np.abs(r3[-2:] - 8) < 0.8), r3
    assert np.all(np.abs(r1[-2:] - 2) < 0.2), r1
    print(f"3. k = {k}: random-scan formula error ratios {r3.round(2)} (eps^3); continuous-time "
          f"formula {r1.round(2)} (eps).")
