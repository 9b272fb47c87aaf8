"""Checkpoints: atomic writes, refusal of foreign files, and bit-identical resumption of the
exact and the Monte Carlo trainers (after an extension of n_steps and after an interruption)."""
import pickle

import numpy as np
import pytest

from shortrun.numerics.core import checkpoint

from shortrun.numerics.training import monte_carlo as mc_training

from shortrun.numerics import sampling
from shortrun.numerics.sampling import spins

from shortrun.numerics.core import states

from shortrun.numerics.data import teachers

from shortrun.numerics import training


@pytest.fixture(scope="module")
def data6():
    return teachers.sk(6, 0.8, seed=1, field=0.2).data()


@pytest.fixture(scope="module")
def samples5():
    t = teachers.sk(5, 0.5, seed=1, field=0.2)
    return states.spins(5, teachers.sample_states(t.model, 400, seed=2))


EXACT = dict(lr=0.3, momentum=0.5, tol=0.0, record_every=7, progress=False)
MC = dict(n_chains=200, lr=0.1, momentum=0.5, batch_size=50, seed=3, progress=False)


def _interrupted(monkeypatch, module, name, calls, run):
    """Run ``run()`` with ``module.name`` raising KeyboardInterrupt on call number ``calls``;
    the run must leave a checkpoint behind."""
    real, count = getattr(module, name), [0]

    def wrapper(*args, **kwargs):
        count[0] += 1
        if count[0] == calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(module, name, wrapper)
        with pytest.raises(KeyboardInterrupt):
            run(checkpoint_seconds=1e9)    # no periodic save: only the one on interruption


def _same_exact(a, b):
    assert np.array_equal(a.theta, b.theta)
    for f in ("step", "theta", "grad_norm", "mismatch_k", "mismatch_eq"):
        assert np.array_equal(getattr(a.history, f), getattr(b.history, f)), f
    assert (a.steps, a.converged, a.message) == (b.steps, b.converged, b.message)


def _same_mc(a, b):
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.chains, b.chains)
    for f in ("theta", "grad", "grad_norm", "mismatch_k"):
        assert np.array_equal(getattr(a.history, f), getattr(b.history, f)), f


def _trainer(kind, data6, samples5):
    """(train(protocol, n_steps, **kw), comparison, the function to interrupt, its call count
    at the interruption, the step saved then)."""
    if kind == "exact":  # training.stats: once per update, twice every 7th (call 50 is in update 42)
        return (lambda protocol, n, **kw: training.train(data6, 2, protocol, n_steps=n, **kw,
                                                         **EXACT), _same_exact, training.exact, "stats",
                50, 42)
    return (lambda protocol, n, **kw: mc_training.train(samples5, 2, protocol, n_steps=n, **kw,
                                                        **MC), _same_mc, spins, "sample", 11, 10)


@pytest.mark.parametrize("kind, protocol", [("exact", "rdm"), ("exact", "pcd"), ("mc", "rdm"),
                                            ("mc", "cd"), ("mc", "pcd")])
def test_training_extended_from_a_checkpoint_is_bit_identical(tmp_path, data6, samples5, kind,
                                                              protocol):
    train, same, *_ = _trainer(kind, data6, samples5)
    path = tmp_path / "run.ckpt"
    train(protocol, 13, checkpoint=path, checkpoint_seconds=0)
    assert pickle.load(open(path, "rb"))["state"]["step"] == 13
    same(train(protocol, 60), train(protocol, 60, checkpoint=path))


@pytest.mark.parametrize("kind", ["exact", "mc"])
def test_training_resumes_after_an_interruption(tmp_path, monkeypatch, data6, samples5, kind):
    train, same, module, name, calls, saved_step = _trainer(kind, data6, samples5)
    path = tmp_path / "run.ckpt"
    _interrupted(monkeypatch, module, name, calls,
                 lambda **kw: train("pcd", 60, checkpoint=path, **kw))
    assert pickle.load(open(path, "rb"))["state"]["step"] == saved_step
    same(train("pcd", 60), train("pcd", 60, checkpoint=path))


def test_a_checkpoint_of_another_run_is_refused(tmp_path, data6, samples5):
    path = tmp_path / "run.ckpt"
    training.train(data6, 2, "rdm", n_steps=5, checkpoint=path, **EXACT)
    with pytest.raises(ValueError, match="other arguments.*delete the file"):
        training.train(data6, 3, "rdm", n_steps=5, checkpoint=path, **EXACT)
    with pytest.raises(ValueError, match="other arguments"):
        mc_training.train(samples5, 2, "rdm", n_steps=5, checkpoint=path, **MC)
    mc = tmp_path / "mc.ckpt"
    mc_training.train(samples5, 2, "rdm", n_steps=5, checkpoint=mc, **MC)
    with pytest.raises(ValueError, match="other arguments"):
        mc_training.train(samples5, 2, "rdm", n_steps=5, checkpoint=mc, **{**MC, "seed": 4})
    with pytest.raises(ValueError, match="holds 5 updates.*n_steps >= 5"):
        mc_training.train(samples5, 2, "rdm", n_steps=4, checkpoint=mc, **MC)


def test_bad_checkpoint_files_and_arguments(tmp_path, data6):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a readable shortrun checkpoint"):
        training.train(data6, 2, "rdm", n_steps=5, checkpoint=junk, **EXACT)
    with pytest.raises(ValueError, match="folder .* does not exist"):
        training.train(data6, 2, "rdm", n_steps=5, checkpoint=tmp_path / "no" / "x.ckpt", **EXACT)
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        training.train(data6, 2, "rdm", n_steps=5, checkpoint=junk, checkpoint_seconds=-1,
                       **EXACT)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "state.ckpt"
    checkpoint.save(path, {"x": np.arange(3)}, "fp")

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pickle, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, {"x": np.arange(5)}, "fp")
    monkeypatch.undo()
    assert np.array_equal(checkpoint.load(path, "fp")["x"], np.arange(3))   # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.ckpt"]    # no temporary left


def test_fingerprint_sees_array_contents():
    a = np.arange(4.0)
    assert checkpoint.fingerprint(x=a, k=2) == checkpoint.fingerprint(k=2, x=a.copy())
    assert checkpoint.fingerprint(x=a, k=2) != checkpoint.fingerprint(x=a + [0, 0, 0, 1e-12], k=2)
    assert checkpoint.fingerprint(x=a, k=2) != checkpoint.fingerprint(x=a.astype(np.float32), k=2)
