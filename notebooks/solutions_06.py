"""Solutions to the exercises of notebook 06 (the replay buffer).

Run it: ``python notebooks/solutions_06.py``; every answer is an ``assert``.
"""
import numpy as np
import sympy as sp

from shortrun.numerics import kernels, sampling, training
from shortrun.numerics.analysis import diagnostics
from shortrun.numerics.data import teachers
from shortrun.numerics.models import BoltzmannMachine
from shortrun.numerics.training import buffer, fixed_point, monte_carlo

EPS = np.finfo(float).eps
N, beta, field, k, rho = 5, 0.8, 0.2, 2, 0.8
rule, scan = "heatbath", "random"
teacher = teachers.sk(N, beta, seed=3, field=field)
data = teacher.data()

# 1. A two-state chain.  U = [[1-a, b], [a, 1-b]] has the eigenvalues 1 and lam = 1 - a - b,
#    stationary law pi = (b, a)/(a + b), and U^k = Pi + lam^k (I - Pi) with Pi = pi 1^T (Pi is
#    the projection on pi; I - Pi the one on the second mode).  With L = lam^k, solve the linear
#    system B = A[(1 - rho) p0 + rho B], A = Pi + L(I - Pi):
#        B* = pi + (1 - rho) L / (1 - rho L) (p0 - pi),
#    i.e. mode 1's bias damped from L (Rdm-k) to (1 - rho)L/(1 - rho L), (B2).
a, b, r, p, L = sp.symbols("a b rho p L", positive=True)
U = sp.Matrix([[1 - a, b], [a, 1 - b]])
pi = sp.Matrix([b, a]) / (a + b)
Pi = pi * sp.ones(1, 2)
for kk in (1, 2, 3):                                   # U^k = Pi + lam^k (I - Pi)
    assert sp.simplify(U ** kk - (Pi + (1 - a - b) ** kk * (sp.eye(2) - Pi))) == sp.zeros(2, 2)
A = Pi + L * (sp.eye(2) - Pi)
p0 = sp.Matrix([p, 1 - p])
B = sp.Matrix(sp.symbols("B0 B1"))
sol = sp.solve(list(B - A * ((1 - r) * p0 + r * B)), list(B), dict=True)[0]
B_star = sp.Matrix([sol[s] for s in B])
claim = pi + (1 - r) * L / (1 - r * L) * (p0 - pi)
assert sp.simplify(B_star - claim) == sp.zeros(2, 1)

spin = BoltzmannMachine(np.array([0.7]), np.zeros((1, 1)))      # one spin, Metropolis
kern = kernels.kernel(spin, "metropolis", "sequential")
Ud = kern.dense()
a_num, b_num = Ud[1, 0], Ud[0, 1]
lam = 1 - a_num - b_num
pi_num = np.array([b_num, a_num]) / (a_num + b_num)
p0_num = np.array([0.5, 0.5])
for k1, rho1 in ((1, 0.5), (3, 0.9), (4, 0.99)):
    expect = pi_num + buffer.damping(lam ** k1, rho1) * (p0_num - pi_num)
    got, bound = buffer.resolvent(kern, k1, (1 - rho1) * kern.propagate(p0_num, k1), rho1)
    assert np.abs(got - expect).sum() <= bound + 64 * EPS / (1 - rho1), (k1, rho1)
    assert np.allclose(expect, [float(v) for v in claim.subs(
        {a: a_num, b: b_num, r: rho1, p: 0.5, L: lam ** k1})], rtol=0, atol=1e-15)
assert lam < 0                  # Metropolis on one spin: a = 1 (downhill), a negative eigenvalue
print(f"1. two states: B* = pi + (1 - rho) lam^k / (1 - rho lam^k) (p0 - pi) (sympy); one spin with "
      f"Metropolis, lam = {lam:.3f}: equal to buffer.resolvent within its certified bound.")

# 2. The coupling error against rho, and against one chain of the buffer's mean length
#    k / (1 - rho).  The buffer's fixed point approaches the teacher (maximum likelihood) as
#    rho -> 1, but one long chain of the same mean length is closer: by Jensen each mode's bias
#    E[f^n] >= f^{E n} (section 2), so the buffer's negative phase is always further from
#    p_theta than a single chain of its mean age, and the trained couplings move less.
errors = {}
for kk in (2, 5):
    theta, row = None, []
    for rho1 in (0.0, 0.5, 0.8, 0.9):
        fp = fixed_point.solve(data, kk, "buffer", rule, scan, rho=rho1, theta0=theta)
        assert fp.converged, fp.message
        theta = fp.theta
        row.append(diagnostics.coupling_error(fp.model, teacher))
        if rho1 in (0.5, 0.8):
            long = fixed_point.solve(data, round(kk / (1 - rho1)), "rdm", rule, scan)
            assert long.converged
            single = diagnostics.coupling_error(long.model, teacher)
            assert single < row[-1], (kk, rho1, single, row[-1])
    assert all(y < x for x, y in zip(row, row[1:])), (kk, row)
    errors[kk] = row
print("2. coupling error at rho = 0, 0.5, 0.8, 0.9: "
      + "; ".join(f"k = {kk}: " + ", ".join(f"{e:.1e}" for e in row) for kk, row in errors.items())
      + ".  Rdm with k/(1 - rho) sweeps is closer to the teacher at rho = 0.5 and 0.8 for every k.")

# 3. The buffer size.  The exact twin with nu = 1, 0.1, 0.02 converges to the same root (B*
#    does not depend on nu).  At fixed theta the buffer forgets its start in about
#    1/(nu(1 - rho)) = 5, 50, 250 updates; training itself needs about 500 here, so for
#    nu >= 0.1 the number of updates hardly changes, and at nu = 0.02 the lagging buffer slows
#    training down.  The distance to Newton's root is bounded by |J^-1| |F| at the stopping tolerance.
star = fixed_point.solve(data, k, "buffer", rule, scan, rho=rho)
jinv = np.linalg.norm(np.linalg.inv(star.problem.residual_and_jacobian(star.theta)[1]), np.inf)
steps = {}
for nu in (1.0, 0.1, 0.02):
    run = training.train(data, k, "buffer", rule, scan, rho=rho, nu=nu, lr=0.5, momentum=0.5,
                         n_steps=5000, tol=1e-11, progress=False)
    assert run.converged, run.message
    assert np.max(np.abs(run.theta - star.theta)) <= jinv * (1e-11 + star.residual) * 1.01
    steps[nu] = run.steps
assert max(steps[1.0], steps[0.1]) <= 1.01 * min(steps[1.0], steps[0.1])
assert steps[0.02] > 1.5 * steps[0.1]
#    The Monte Carlo buffer with as many states as chains (nu = 1: every entry is replaced at
#    every update, by a chain from itself with probability rho) lands on the same root.
mc = monte_carlo.train(data, k, "buffer", rule, scan, rho=rho, n_chains=2000, buffer_size=2000,
                       lr=0.3, n_steps=600, seed=2, progress=False)
tail = mc.history.theta[300:]
se = tail.reshape(10, -1, tail.shape[1]).mean(axis=1).std(axis=0, ddof=1) / np.sqrt(10)
z = (tail.mean(axis=0) - star.theta) / se
assert np.abs(z).max() < 5
print("3. exact twin: the same root for nu = 1, 0.1, 0.02, in "
      + ", ".join(str(v) for v in steps.values())
      + f" updates; Monte Carlo with 2000 states (nu = 1): max |z| = {np.abs(z).max():.2f}.")

# 4. The geometric-age sampler by Monte Carlo: one run of 20 000 chains recorded at every age
#    n k, each chain read at its own age.  Its statistics match the data (the root's B* does)
#    within 5 standard errors of (E1).
model = star.model
ages = np.random.default_rng(11).geometric(1 - rho, size=20_000)
times = np.unique(ages) * k
traj = sampling.sample(model, "uniform", int(times[-1]), rule=rule, scan=scan,
                       n_chains=len(ages), seed=12, times=times)
states = traj[np.searchsorted(times, ages * k), np.arange(len(ages))]
z4 = (sampling.stats(states) - data.stats) / sampling.stats_error(states)
assert np.abs(z4).max() < 5
assert abs(ages.mean() - 1 / (1 - rho)) < 5 * ages.std() / np.sqrt(len(ages))
k_only = sampling.sample(model, "uniform", k, rule=rule, scan=scan, n_chains=20_000, seed=13)
assert np.abs((sampling.stats(k_only) - data.stats) / sampling.stats_error(k_only)).max() > 10
print(f"4. geometric ages (mean {ages.mean():.2f}, max {ages.max()}): max |MC - data| / sigma = "
      f"{np.abs(z4).max():.2f} over {z4.size} statistics; k sweeps alone miss by more than 10 sigma.")
