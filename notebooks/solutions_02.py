"""Solutions to the exercises of notebook 02 (the fixed-point theorem).

Run it: ``python notebooks/solutions_02.py``; every answer is an ``assert``.
"""
import numpy as np

from shortrun.numerics import training
from shortrun.numerics.analysis import diagnostics
from shortrun.numerics.data import teachers
from shortrun.numerics.models import BoltzmannMachine
from shortrun.numerics.training import fixed_point
from shortrun.theory import independent

N, beta, field = 7, 0.8, 0.2
rule, scan = "heatbath", "random"
teacher = teachers.sk(N, beta, seed=3, field=field)
data = teacher.data()

# 1. CD-k: the chains start at p0 = p_data = p_teacher.  At theta = teacher the kernel leaves
#    p_teacher invariant (it is its stationary law), so p(k, p_data) = p_data for every k and
#    the CD gradient <phi>_data - <phi>_p(k, p_data) vanishes: the teacher is a fixed point.
for k in (1, 2, 5):
    prob = training.problem(data, k, "cd", rule, scan)
    F = prob.residual(teacher.model.theta)
    assert np.abs(F).max() < 1e-13, (k, np.abs(F).max())
    fp = fixed_point.solve(data, k, "cd", rule, scan)
    assert np.abs(fp.theta - teacher.model.theta).max() < 1e-8
print("1. CD-k: the teacher's (beta h0, beta J0) is the fixed point for k = 1, 2, 5 (Newton finds it).")

# 2. The threshold.  m(k) = tanh(h) (1 - e^{-k}) < 1 - e^{-k}: a finite h* exists iff
#    m_D < 1 - e^{-k}, i.e. k > k_c = -ln(1 - m_D).  For m_D = tanh 0.8: k_c = ln((1 + e^{1.6})/2).
m_D = np.tanh(0.8)
k_c = -np.log(1 - m_D)
assert abs(k_c - np.log((1 + np.exp(1.6)) / 2)) < 1e-12      # 1 - tanh x = 2/(1 + e^{2x})
free = teachers.exact_data(BoltzmannMachine(np.full(3, 0.8), np.zeros((3, 3))))
below = fixed_point.solve(free, k_c - 0.05, "rdm", rule, "continuous", check=False)
above = fixed_point.solve(free, k_c + 0.05, "rdm", rule, "continuous", check=False)
assert not below.converged and below.status == "diverged"
assert above.converged
h_above = independent.field_fixed_point(m_D, k_c + 0.05, scan="continuous")
assert np.allclose(above.theta[:3], h_above, atol=1e-8) and h_above > 2     # large, but finite
print(f"2. k_c = -ln(1 - m_D) = {k_c:.4f}: Newton diverges at k_c - 0.05, converges at k_c + 0.05 "
      f"(h* = {h_above:.3f}).")

# 3. A different k.  The k = 4 fixed point matches the data at t = 4; it is closer to the
#    teacher than the k = 2 one because p(k, p0) is closer to p_theta for longer chains: as
#    k -> infinity the fixed point tends to maximum likelihood, i.e. to the teacher itself.
errors = {}
for k in (2, 4):
    fp = fixed_point.solve(data, k, "rdm", rule, scan)
    curve = diagnostics.memory_curve(fp.model, "uniform", np.arange(0, 13), data, rule=rule, scan=scan)
    assert curve.best_time == k and curve.distance[k] < 1e-10
    errors[k] = diagnostics.coupling_error(fp.model, teacher)
assert errors[4] < 0.5 * errors[2]
print(f"3. memory curve minimal at t = k for k = 2 and 4; coupling error {errors[2]:.3f} (k = 2) "
      f"-> {errors[4]:.3f} (k = 4).")
