"""Solutions to the exercises of notebook 01 (Markov chains on 2^N states).

Run it: ``python notebooks/solutions_01.py``; every answer is an ``assert``.
"""
import numpy as np

from shortrun.numerics import kernels
from shortrun.numerics.data import teachers
from shortrun.numerics.kernels import dense, spectral
from shortrun.numerics.models import BoltzmannMachine

# 1. Parity of N.  A random-scan sweep is U = R^N with R = (1/N) sum_i T_i.  R is reversible
#    (each T_i satisfies detailed balance, and so does their average), hence similar to a
#    symmetric matrix: its eigenvalues r are real.  The eigenvalues of U are r^N >= 0 for even N.
for rule in ("heatbath", "metropolis"):
    for beta in (0.05, 0.3, 1.0):
        ring4 = teachers.ring(4, beta, field=0.1).model
        lam = spectral.decompose(kernels.BMKernel(ring4, rule, "random")).eigenvalues
        assert np.isrealobj(lam) and lam.min() > -1e-12, (rule, beta, lam.min())
        R = sum(dense.site_matrix(ring4, rule, i) for i in range(4)) / 4
        r = np.linalg.eigvals(R)
        assert np.abs(np.imag(r)).max() < 1e-12
        assert np.allclose(np.sort(np.real(r) ** 4), np.sort(lam), atol=1e-12)
print("1. N = 4: random-scan sweeps have eigenvalues r^4 >= 0 (r real, the eigenvalues of R).")

# 2. Independent spins.  Heat-bath T_i replaces spin i by a fresh draw: on the Walsh function
#    prod_{i in S} (s_i - tanh h_i) it acts as 0 if i in S, 1 otherwise.  So R has eigenvalues
#    1 - |S|/N and the slowest mode (|S| = 1) gives lambda_1 = (1 - 1/N)^N per sweep,
#    tau = -1/(N ln(1 - 1/N)) -> 1 sweep from below as N -> infinity (lambda_1 -> 1/e).
for N in range(2, 9):
    free = BoltzmannMachine(np.linspace(-0.5, 0.7, N), np.zeros((N, N)))
    spec = spectral.decompose(kernels.BMKernel(free, "heatbath", "random"))
    assert abs(spec.eigenvalues[1] - (1 - 1 / N) ** N) < 1e-12
    assert abs(spec.mixing_time - (-1 / (N * np.log(1 - 1 / N)))) < 1e-9
    # sequential: every spin is drawn afresh once per sweep -> equilibrium after one sweep
    seq = spectral.decompose(kernels.BMKernel(free, "heatbath", "sequential"))
    assert np.abs(seq.eigenvalues[1:]).max() < 1e-12 and seq.mixing_time < 0.05
Ns = np.array([10, 100, 1000, 10**6])
taus = -1 / (Ns * np.log(1 - 1 / Ns))
assert abs(taus[-1] - 1) < 1e-5 and np.all(np.diff(taus) > 0)  # from below
print("2. lambda_1 = (1 - 1/N)^N, tau ->", taus.round(4), "-> 1; sequential: lambda_1 = 0, tau = 0.")

# 3. The forward-backward sweep T_0 ... T_{N-1} T_{N-1} ... T_0 is a palindrome of reversible
#    matrices: with D = diag(p_theta), D^{-1/2} T_i D^{1/2} = S_i symmetric, so the palindrome
#    maps to S_0 ... S_{N-1} S_{N-1} ... S_0, which is symmetric.  The one-way sweep is not.
model = teachers.sk(5, 0.8, seed=4, field=0.3).model
p = model.boltzmann()
for rule in ("heatbath", "metropolis"):
    T = [dense.site_matrix(model, rule, i) for i in range(model.N)]
    forward = np.linalg.multi_dot(T[::-1])               # T_{N-1} ... T_0
    palindrome = np.linalg.multi_dot(T + T[::-1])        # T_0 ... T_{N-1} T_{N-1} ... T_0
    assert spectral.is_reversible(palindrome, p, atol=1e-13)
    assert not spectral.is_reversible(forward, p, atol=1e-6)
    assert np.abs(np.imag(np.linalg.eigvals(palindrome))).max() < 1e-10
    assert np.abs(np.imag(np.linalg.eigvals(forward))).max() > 1e-3
print("3. the forward-backward sweep is reversible (real spectrum); the one-way sweep is not.")
