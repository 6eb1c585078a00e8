"""Second targets over the same series: aeon's Covid3Month pair, ``.npz`` ``y_reg``, the synthetic
continuous target (which leaves the generator's existing output unchanged)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tune_bs.data import load_dataset
from tune_bs.data.synthetic import make_synthetic, make_synthetic_target
from tune_bs.errors import UserInputError


def test_covid3month_and_its_discretised_twin_are_one_pair():
    regression, classification = load_dataset("Covid3Month"), load_dataset("Covid3Month_disc")
    assert (regression.task, classification.task) == ("regression", "classification")
    for data in (regression, classification):
        targets = data.multitask
        assert targets is not None
        assert len(targets.y_class_train) == len(targets.y_reg_train) == len(data.X_probe_train)
        assert len(targets.y_class_test) == len(targets.y_reg_test) == len(data.X_test)
    np.testing.assert_array_equal(regression.X_probe_train, classification.X_probe_train)
    np.testing.assert_array_equal(regression.multitask.y_reg_train, regression.y_probe_train)
    np.testing.assert_array_equal(
        classification.multitask.y_class_train, classification.y_probe_train
    )
    assert sorted(set(regression.multitask.y_class_train)) == ["0.0", "1.0", "2.0"]


def test_sets_without_a_twin_have_no_pair():
    assert load_dataset("GunPoint").multitask is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_series": 300, "seed": 0},
        {"n_series": 500, "n_modes": 4, "imbalance": 3.0, "seed": 1, "length": 64, "n_channels": 2},
    ],
)
def test_synthetic_output_is_unchanged_and_the_target_follows_the_modes(kwargs):
    # digests of make_synthetic's output before the continuous target was added
    before = {
        300: "45960ee865f34aa44b9e7a7ded34b58f13017baf29183086fef472b8424d5326",
        500: "9b19f75179f31f57f912d4b7b8f0a6b2757d9e58cda694f78056d98e304a03d8",
    }
    X, y = make_synthetic(**kwargs)
    assert hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest() == before[kwargs["n_series"]]
    X2, y2, y_reg = make_synthetic_target(**kwargs)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert y_reg.dtype == np.float64 and y_reg.shape == y.shape
    means = [y_reg[y == mode].mean() for mode in np.unique(y)]
    spread = [y_reg[y == mode].std() for mode in np.unique(y)]
    assert np.ptp(means) > 1.5  # levels span [-1, 1]
    assert all(0.15 < s < 0.35 for s in spread)  # target_spread 0.25 within a mode


def test_synthetic_target_spread_is_checked():
    with pytest.raises(UserInputError, match="target_spread must be a finite number >= 0"):
        make_synthetic_target(n_series=20, target_spread=-1.0)
    assert load_dataset("synthetic", n_series=60, length=16).multitask is not None


def test_npz_with_y_reg_gives_the_pair(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1, 16)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    y_reg = rng.normal(size=40)
    path = tmp_path / "pair.npz"
    np.savez(path, X=X, y=y, y_reg=y_reg)
    data = load_dataset(path=path)
    targets = data.multitask
    assert len(targets.y_reg_train) == len(data.X_probe_train)
    assert len(targets.y_reg_test) == len(data.X_test)
    # the target travels with its series through the seeded hold-out
    raw = {float(x.sum()): r for x, r in zip(X, y_reg, strict=True)}
    plain = np.load(path)["X"]
    assert sorted(raw) == sorted(float(x.sum()) for x in plain)
    np.savez(tmp_path / "bad.npz", X=X, y=y, y_reg=y_reg[:5])
    with pytest.raises(UserInputError, match="y_reg must be numeric with one value per series"):
        load_dataset(path=tmp_path / "bad.npz")
