"""Solutions to the exercises of notebook 03 (the Gaussian model).

Run it: ``python notebooks/solutions_03.py``; every answer is an ``assert``.
"""
import numpy as np

from shortrun.theory import gaussian as g

eta, sigma2, s02 = 0.05, 0.1, 1 / 3

# 1. The mirror root.  g_t depends on a only through r = (1 - eta a)^2, and the mirror
#    a' = 2/eta - a has 1 - eta a' = -(1 - eta a): same r, so the same variance at every t.
#    The mean contracts by m' = -(1 - eta a) < 0 per step: it overshoots the fixed point and
#    alternates around it, meeting mu_D at t = k only (like the physical chain, but from the other
#    side every other step).
lam, mu_D, k = 0.5, 0.5, 7
a = g.fixed_point_mode(lam, k, eta, s02, sigma2=sigma2)
a_m = g.fixed_point_mode(lam, k, eta, s02, sigma2=sigma2, root="mirror")
assert abs(a + a_m - 2 / eta) < 1e-12 and 0 < a < 1 / eta < a_m < 2 / eta
times = np.arange(0, 31)
phys = g.memory_curve(np.array([[lam]]), [mu_D], k, times, eta, s02, sigma2=sigma2)
mirr = g.memory_curve(np.array([[lam]]), [mu_D], k, times, eta, s02, sigma2=sigma2, root="mirror")
assert np.allclose(phys.Sigma, mirr.Sigma, rtol=1e-12, atol=0)            # same variance at every t
assert abs(mirr.mu[k, 0] - mu_D) < 1e-12 and abs(phys.mu[k, 0] - mu_D) < 1e-12
mu_inf = mirr.h[0] / mirr.A[0, 0]                                          # the mirror chain's limit
dev = mirr.mu[1:, 0] - mu_inf
assert np.all(np.sign(dev[1:]) == -np.sign(dev[:-1]))                     # alternates every step
assert np.all(np.diff(phys.mu[:, 0]) > 0)                                 # the physical mean is monotone
print(f"1. a = {a:.3f}, mirror {a_m:.3f}: same variance for all t; the mirror's mean alternates "
      "around its limit and meets mu_D at t = k only.")

# 2. Continuous time: the Lambert-W closed form (Ge) equals the general continuous root with
#    s0 = 0, and the ULA root with k = t/eta, sigma2 = 2 eta converges to it as O(eta).
t = 1.0
for lam in (0.5, 1.0, 3.0):                      # c = 2t/lam = 4, 2, 2/3: both branches of W
    closed = g.lambertw_mode(lam, t)
    assert abs(closed - g.fixed_point_mode_continuous(lam, t, 0.0)) < 1e-12 * max(1, abs(closed))
    errs = [abs(g.fixed_point_mode(lam, round(t / e), e, 0.0, sigma2=2 * e) - closed)
            for e in (1e-2, 1e-3, 1e-4)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3
    assert 5 < errs[0] / errs[1] < 20 and 5 < errs[1] / errs[2] < 20      # first order in eta
print("2. Lambert W = continuous root; ULA roots converge to it linearly in eta.")

# 3. Ordering.  With a = a_eq the chain's variance moves monotonically from s0^2 to its
#    stationary value lam.  If lam > s0^2 then g_k(a_eq) < lam: the k-step chain has not spread
#    enough, so training weakens the restoring force (g_k decreases in a): a(k) < a_eq.  The
#    reverse for lam < s0^2, and equality for every k when lam = s0^2.
for lam in (0.15, 0.2, 0.3, s02, 0.5, 1.0, 2.0, 5.0):
    a_eq = g.equilibrium_mode(lam, eta, sigma2)
    for k in (1, 2, 5, 10, 50):
        a_k = g.fixed_point_mode(lam, k, eta, s02, sigma2=sigma2)
        if lam == s02:
            assert abs(a_k - a_eq) < 1e-9
        else:
            assert (a_k < a_eq) == (lam > s02), (lam, k, a_k, a_eq)
            g_eq = g.ula_mode_variance(a_eq, k, eta, s02, sigma2=sigma2)
            assert (g_eq < lam) == (lam > s02)
print("3. a(k) < a_eq exactly when lam > s0^2 (equal at lam = s0^2), on the whole grid.")
