import numpy as np
import pytest

from tune_bs.data import dataset_names, list_datasets, load_dataset
from tune_bs.data.dataset import (
    NORMALISATIONS,
    ChannelStatistics,
    prepare,
    to_equal_length,
    validation_split,
    z_normalise,
)
from tune_bs.errors import UserInputError

DEVELOPMENT_SETS = {
    "GunPoint": (1, 150, 2),
    "BasicMotions": (6, 100, 4),
    "ItalyPowerDemand": (1, 24, 2),
}


@pytest.mark.parametrize("name", sorted(DEVELOPMENT_SETS))
def test_development_sets_load_offline_with_splits(name):
    channels, length, classes = DEVELOPMENT_SETS[name]
    data = load_dataset(name)
    assert data.X_train.dtype == np.float32
    assert data.X_train.shape[1:] == (channels, length)
    assert data.n_classes == classes
    assert len(data.X_train) + len(data.X_val) == len(data.X_probe_train)
    assert len(data.X_test) == len(data.y_test)
    if channels == 1:  # default for univariate data: z-normalised per series and channel
        assert data.normalisation == "series"
        assert np.allclose(data.X_train.mean(axis=2), 0, atol=1e-4)
    else:  # multivariate: per channel over the encoder's training split
        assert data.normalisation == "dataset"
        assert np.allclose(data.X_train.mean(axis=(0, 2)), 0, atol=1e-4)
        assert np.allclose(data.X_train.std(axis=(0, 2)), 1, atol=1e-3)


def test_name_lookup_is_case_insensitive_and_unknown_names_list_valid_ones():
    assert load_dataset("gunpoint").name == "GunPoint"
    with pytest.raises(
        UserInputError,
        match=r"dataset.name must be one of .*GunPoint.*"
        r"did you mean 'GunPoint'",
    ):
        load_dataset("GunPont")


def test_catalogue_lists_shipped_sets_with_shapes():
    rows = {r["name"]: r for r in list_datasets()}
    assert rows["GunPoint"]["train"] == 50 and rows["GunPoint"]["classes"] == 2
    assert rows["Covid3Month"]["task"] == "regression"
    assert "-" in rows["JapaneseVowels"]["length"]  # variable length is shown as a range
    assert "synthetic" in dataset_names()


def test_variable_length_series_are_resampled_not_cut():
    data = load_dataset("JapaneseVowels")
    assert data.X_train.shape[2] == 29  # the longest series in train or test
    padded = load_dataset("JapaneseVowels", variable_length="pad")
    assert padded.X_train.shape == data.X_train.shape


def test_to_equal_length_rules():
    series = [np.arange(3, dtype=np.float32)[None], np.arange(5, dtype=np.float32)[None]]
    res = to_equal_length(series, policy="resample")
    assert res.shape == (2, 1, 5)
    assert res[0, 0, 0] == 0 and res[0, 0, -1] == 2  # endpoints kept
    pad = to_equal_length(series, policy="pad")
    assert pad[0, 0].tolist() == [0, 1, 2, 2, 2]
    with pytest.raises(UserInputError, match="nothing is cut"):
        to_equal_length(series, length=4)


def test_validation_split_is_seeded_disjoint_and_stratified():
    labels = np.repeat([0, 1], 20)
    tr, va = validation_split(40, 0.25, seed=5, labels=labels)
    _, va2 = validation_split(40, 0.25, seed=5, labels=labels)
    assert np.array_equal(va, va2) and not set(tr) & set(va) and len(va) == 10
    assert np.bincount(labels[va]).tolist() == [5, 5]


def test_npz_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, X=rng.normal(size=(30, 2, 16)), y=np.repeat([0, 1, 2], 10))
    data = load_dataset(path=path)
    assert data.name == "mine" and data.n_channels == 2 and data.task == "classification"
    assert len(data.X_test) == 9  # 30 % held out as the probe's test split

    cases = {
        "noX.npz": ({"Z": np.zeros((5, 1, 4))}, "must contain an array named 'X'"),
        "dims.npz": ({"X": np.zeros((5, 1, 4, 2))}, r"must have shape \[N, C, T\]"),
        "nan.npz": ({"X": np.full((6, 1, 4), np.nan)}, "NaN or inf"),
        "labels.npz": ({"X": np.zeros((6, 1, 4)), "y": np.zeros(3)}, "one label per series"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(UserInputError, match=message):
            load_dataset(path=tmp_path / name)
    with pytest.raises(UserInputError, match="does not exist"):
        load_dataset(path=tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(UserInputError, match="cannot be read"):
        load_dataset(path=tmp_path / "junk.npz")


def test_z_normalise_constant_channel_becomes_zero():
    X = np.ones((2, 1, 5), dtype=np.float32)
    assert np.all(z_normalise(X) == 0)


def test_synthetic_dataset_has_known_modes():
    data = load_dataset("synthetic", n_series=200, n_modes=3, length=32, seed=1)
    assert data.n_classes == 3 and data.length == 32
    assert len(data.X_probe_train) == 200
    with pytest.raises(UserInputError, match="apply only to the synthetic generator"):
        load_dataset("GunPoint", n_modes=3)


# --- normalisation rules (tune_bs.data.dataset, rule 3) --------------------------------------
def _raw_arrays(rng: np.random.Generator, n_train: int = 24, channels: int = 3, length: int = 16):
    """Series with per-channel levels and scales far from (0, 1), as raw sensor data has."""
    levels = rng.normal(0, 50, size=(1, channels, 1))
    scales = rng.uniform(0.1, 20, size=(1, channels, 1))
    X_train = (levels + scales * rng.normal(size=(n_train, channels, length))).astype(np.float32)
    X_test = (levels + scales * rng.normal(size=(10, channels, length))).astype(np.float32)
    return X_train, np.repeat([0, 1], n_train // 2), X_test, np.repeat([0, 1], 5)


@pytest.mark.parametrize("seed", range(5))
def test_dataset_statistics_come_from_the_encoders_training_split_only(seed):
    """Property: whatever the validation and test series hold, the statistics (hence the
    normalised training split) are the same; they are the training split's own."""
    rng = np.random.default_rng(seed)
    X_train, y, X_test, y_test = _raw_arrays(rng)
    base = prepare("p", X_train, y, X_test, y_test, normalise="dataset", seed=seed)
    raw = prepare("p", X_train, y, X_test, y_test, normalise="none", seed=seed)
    _, val_idx = validation_split(len(X_train), 0.2, seed, y)
    changed = X_train.copy()
    changed[val_idx] = rng.normal(1e3, 1e3, size=changed[val_idx].shape)  # new validation values
    other = prepare(
        "p",
        changed,
        y,
        rng.normal(-1e3, 1e2, size=X_test.shape).astype(np.float32),
        y_test,
        normalise="dataset",
        seed=seed,
    )
    assert np.array_equal(base.X_train, other.X_train)
    stats = ChannelStatistics.of(raw.X_train)
    assert np.allclose(base.X_test, stats.apply(raw.X_test), atol=1e-5)  # the same transform
    assert np.allclose(base.X_val, stats.apply(raw.X_val), atol=1e-5)
    assert np.allclose(base.X_train.mean(axis=(0, 2)), 0, atol=1e-4)
    assert np.allclose(base.X_train.std(axis=(0, 2)), 1, atol=1e-3)
    # levels between series are kept: an affine map per channel, not per series
    assert not np.allclose(base.X_test.mean(axis=2), 0, atol=1e-2)


def test_dataset_normalisation_keeps_a_constant_channel_finite_and_centred():
    rng = np.random.default_rng(3)
    X_train, y, X_test, y_test = _raw_arrays(rng, channels=2)
    X_train[:, 1], X_test[:, 1] = 7.0, 9.0
    data = prepare("c", X_train, y, X_test, y_test, normalise="dataset")
    assert np.all(data.X_train[:, 1] == 0) and np.all(np.isfinite(data.X_test))
    assert np.allclose(data.X_test[:, 1], 2.0)  # centred on the training level, std taken as 1


def test_series_mode_is_per_series_z_normalisation_as_before():
    rng = np.random.default_rng(4)
    X_train, y, X_test, y_test = _raw_arrays(rng)
    data = prepare("s", X_train, y, X_test, y_test, normalise="series", seed=2)
    assert np.allclose(data.X_probe_train, z_normalise(X_train))
    assert np.allclose(data.X_test, z_normalise(X_test))
    assert data.normalisation == "series"
    for alias, rule in ((True, "series"), (False, "none")):  # the earlier boolean form
        assert prepare("s", X_train, y, X_test, y_test, normalise=alias).normalisation == rule
    none = prepare("s", X_train, y, X_test, y_test, normalise="none")
    assert np.array_equal(none.X_test, X_test)


def test_raw_data_normalises_later_to_the_same_arrays():
    rng = np.random.default_rng(5)
    X_train, y, X_test, y_test = _raw_arrays(rng)
    raw = prepare("r", X_train, y, X_test, y_test, normalise="none")
    for rule in NORMALISATIONS:
        direct = prepare("r", X_train, y, X_test, y_test, normalise=rule)
        later = raw.normalised(rule)
        for field in ("X_train", "X_val", "X_probe_train", "X_test"):
            assert np.array_equal(getattr(direct, field), getattr(later, field))
    with pytest.raises(
        UserInputError,
        match=r"needs the raw series, but this data set was "
        r"loaded with normalise='series'",
    ):
        raw.normalised("series").normalised("dataset")


def test_unknown_normalisation_is_one_line_with_a_suggestion():
    with pytest.raises(
        UserInputError,
        match=r"dataset.normalise must be one of dataset, none, "
        r"series, but got dataset.normalise='serie' "
        r"\(did you mean 'series'\?\)",
    ):
        load_dataset("GunPoint", normalise="serie")
