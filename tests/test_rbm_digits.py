"""The memory effect of RBMs on the binarised digits (slow: the figures' fast configuration).

An Rdm-k machine reproduces the data's statistics best when sampled for t ≈ k steps from its
training p0, and both the statistics and the sample quality degrade for t ≫ k; its chains mix far
slower than k at the end of training (out of equilibrium, τ > 10k); a PCD-k machine ends with
τ > 2k (its persistent chains get k steps per update).  A second call with the same checkpoint folder resumes every training run and returns
the same numbers bit for bit.
"""
import numpy as np
import pytest

from shortrun.numerics.analysis import digits_memory as dm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rbm_digits")
    return folder, dm.run(dm.FAST, progress=False, checkpoint_dir=folder)


def value(res, protocol, key, t):
    return float(res[f"{protocol}_{key}"][list(res[f"{protocol}_times"]).index(t)])


def test_rdm_samples_are_best_at_the_training_time(fast):
    _, res = fast
    k, far = dm.FAST.k, dm.FAST.t_max_factor * dm.FAST.k
    t, err, aa = res["rdm_times"], res["rdm_stats_error"], res["rdm_aa_test"]
    assert k // 2 <= t[np.argmin(err)] <= 2 * k
    assert k // 2 <= t[np.argmin(np.abs(aa - 0.5))] <= 2 * k
    assert value(res, "rdm", "stats_error", far) > 1.5 * value(res, "rdm", "stats_error", k)
    assert value(res, "rdm", "aa_test", far) > value(res, "rdm", "aa_test", k) + 0.05
    assert value(res, "rdm", "stats_error", 0) > 5 * value(res, "rdm", "stats_error", k)


def test_mixing_times_along_training(fast):
    _, res = fast
    k = dm.FAST.k
    assert res["rdm_tau"][-1] > 10 * k
    assert res["pcd_tau"][-1] > 2 * k
    for p in dm.FAST.protocols:
        assert res[f"{p}_tau"][-1] > res[f"{p}_tau"][1] > res[f"{p}_tau"][0]


def test_a_second_run_resumes_from_the_checkpoints_bit_for_bit(fast):
    folder, res = fast
    again = dm.run(dm.FAST, progress=False, checkpoint_dir=folder)
    assert again.keys() == res.keys()
    for key in res:
        np.testing.assert_array_equal(again[key], res[key], err_msg=key)
