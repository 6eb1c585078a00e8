import numpy as np
import pytest

from tune_bs.probe import probe_indices, probe_score


def test_probe_accuracy_on_separable_features():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    f = rng.normal(size=(100, 4)) + 6 * y[:, None]
    assert probe_score(f, y, f, y, "classification")["probe_acc"] == pytest.approx(1.0)
    noise = rng.normal(size=(100, 4))
    assert probe_score(noise, y, rng.normal(size=(100, 4)), y, "classification")[
        "probe_acc"] < 0.75


def test_ridge_probe_r2_and_unlabelled_gives_nothing():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(80, 3))
    t = f @ np.array([1.0, -2.0, 0.5])
    assert probe_score(f, t, f, t, "regression")["probe_r2"] > 0.99
    assert probe_score(f, t, f, t, "unlabelled") == {}


def test_probe_subsample_is_seeded_and_bounded():
    a = probe_indices(10_000, 50, 2000, 5000, seed=3)
    b = probe_indices(10_000, 50, 2000, 5000, seed=3)
    assert len(a[0]) == 2000 and len(a[1]) == 50
    assert np.array_equal(a[0], b[0])
