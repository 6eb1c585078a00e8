"""data.arrays: what a data set's arrays must be (module rules 1–6), and the layout hint on every
development set and the synthetic generator."""

from __future__ import annotations

import numpy as np
import pytest

from tune_bs.data import aeon_sets
from tune_bs.data.arrays import (
    MAX_PREPARED,
    as_series,
    check_labels,
    check_prepared,
    swapped_layout_hint,
)
from tune_bs.data.synthetic import make_synthetic
from tune_bs.errors import UserInputError

#: The development sets (HELPERS: develop and tune on these only) as aeon ships them.
DEVELOPMENT_SETS = ("GunPoint", "BasicMotions", "ItalyPowerDemand", "Covid3Month")


def _development(name: str) -> np.ndarray:
    X, _ = aeon_sets.read_split(aeon_sets.resolve(name).train_path)
    return np.asarray(X)


def _noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


# --- rules 1-3: real, finite, representable in float32 --------------------------------------
def test_float32_passes_through_without_a_copy():
    X = _noise((6, 2, 8)).astype(np.float32)
    assert as_series(X, "X") is X


@pytest.mark.parametrize("name", DEVELOPMENT_SETS)
def test_development_sets_stored_as_float64_convert_unchanged(name):
    X = _development(name)
    assert X.dtype == np.float64
    assert np.array_equal(as_series(X, name), X.astype(np.float32))


def test_complex_series_are_refused_with_the_fix():
    X = _noise((6, 1, 8)) + 1j * _noise((6, 1, 8), 1)
    with pytest.raises(UserInputError, match=r"X must hold real numbers.*complex.*np\.abs\(X\)"):
        as_series(X, "X")


@pytest.mark.parametrize("X", [np.ones((6, 1, 8), bool), np.array([["a"] * 8] * 6)[:, None, :]])
def test_non_numeric_series_are_refused(X):
    with pytest.raises(UserInputError, match="X must be numeric, but has dtype"):
        as_series(X, "X")


def test_values_beyond_float32_are_refused_not_made_inf():
    X = _noise((6, 1, 8))
    X[2, 0, 3] = 1e300
    with pytest.raises(
        UserInputError, match=r"must fit float32.*series 2 hold values up to 1e\+300"
    ):
        as_series(X, "X")


def test_an_offset_that_erases_the_variation_in_float32_is_refused():
    t = np.linspace(0, 6, 64)
    X = np.stack([1e10 + np.sin(t + k) for k in range(6)])[:, None, :]  # 1e10 + sin(t)
    assert np.ptp(X.astype(np.float32)[0, 0]) in (0.0, 1024.0, 2048.0)  # what float32 keeps
    with pytest.raises(
        UserInputError, match=r"loses its variation in float32: series 0, channel 0"
    ):
        as_series(X, "X")
    stamps = (1.7e9 + np.arange(6 * 16)).reshape(6, 1, 16).astype(np.int64)  # Unix seconds
    with pytest.raises(UserInputError, match="loses its variation"):
        as_series(stamps, "X")
    assert as_series(X - X.mean(axis=2, keepdims=True), "X").std() > 0.5  # the fix works


def test_non_finite_series_are_named():
    X = _noise((6, 1, 8))
    X[4, 0, 0] = np.inf
    with pytest.raises(UserInputError, match=r"series 4 contain NaN or inf"):
        as_series(X, "X")


# --- rule 4: labels -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("y", "needle"),
    [
        (np.zeros((6, 1)), "has shape (6, 1); save y.ravel()"),
        (np.eye(6)[:, :2], "has shape (6, 2); save one label per series (for one-hot"),
        (np.zeros(5), "one label per series (6), but has 5"),
        (np.array([0, 1, np.nan, 1, 0, np.nan]), "finite label, but it is nan for series 2 (and"),
        (np.array([0, 1, 0, np.inf, 1, 0]), "it is inf for series 3;"),
        (np.array([0, 1, 0, 1, 1, 0]) + 0j, "must hold real labels"),
    ],
)
def test_bad_labels_are_refused_in_one_line(y, needle):
    with pytest.raises(UserInputError) as refused:
        check_labels(y, 6, "y")
    assert needle in str(refused.value) and "\n" not in str(refused.value)


def test_good_labels_pass():
    assert check_labels(np.array(["a", "b"] * 3), 6, "y").shape == (6,)
    assert check_labels(np.arange(6.0), 6, "y").dtype == np.float64


# --- rule 5: prepared values ------------------------------------------------------------------
def test_prepared_values_must_be_finite_and_squarable():
    check_prepared(np.full((2, 1, 4), MAX_PREPARED / 2, np.float32), "d", "none")
    with pytest.raises(UserInputError, match=r"d normalised with normalise=none .* series 1 reach"):
        check_prepared(np.array([[[1.0, 2.0]], [[1e20, 0.0]]], np.float32), "d", "none")
    with pytest.raises(UserInputError, match="normalise=dataset must stay finite"):
        check_prepared(np.array([[[np.inf, 0.0]]], np.float32), "d", "dataset")


# --- rule 6: the layout hint ----------------------------------------------------------------
def _stored_sets() -> list[tuple[str, np.ndarray]]:
    sets = [(name, _development(name)) for name in DEVELOPMENT_SETS]
    shapes = [(3, 128), (1, 64), (6, 100), (12, 16), (3, 8), (20, 24)]
    for seed, (channels, length) in enumerate(shapes):
        X, _ = make_synthetic(n_series=120, n_channels=channels, length=length, seed=seed)
        sets.append((f"synthetic {channels}x{length}", X))
    return sets


@pytest.mark.parametrize(
    ("name", "X"), _stored_sets(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_the_hint_never_fires_on_sets_as_stored(name, X):
    assert swapped_layout_hint(np.asarray(X, np.float32), name) is None


@pytest.mark.parametrize(
    ("name", "X"), _stored_sets(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_set_saved_swapped_is_warned_or_refused_with_the_fix(name, X):
    swapped = np.asarray(X, np.float32).transpose(0, 2, 1)
    if swapped.shape[2] < 2:  # one channel: [N, T, 1] has one step; npz refuses it (catalogue)
        return
    hint = swapped_layout_hint(swapped, name)
    assert hint is not None and "save X.transpose(0, 2, 1)" in hint


def test_the_hint_stays_quiet_on_noise_with_more_channels_than_steps():
    assert swapped_layout_hint(_noise((50, 20, 10)), "X") is None  # no smoothness anywhere
    ramp = np.cumsum(_noise((50, 20, 10)), axis=2)  # smooth over time: a real [N, C, T]
    assert swapped_layout_hint(ramp, "X") is None
