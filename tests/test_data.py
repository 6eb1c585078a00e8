import numpy as np
import pytest

from tune_bs.data import dataset_names, list_datasets, load_dataset
from tune_bs.data.dataset import to_equal_length, validation_split, z_normalise
from tune_bs.errors import UserInputError

DEVELOPMENT_SETS = {"GunPoint": (1, 150, 2), "BasicMotions": (6, 100, 4),
                    "ItalyPowerDemand": (1, 24, 2)}


@pytest.mark.parametrize("name", sorted(DEVELOPMENT_SETS))
def test_development_sets_load_offline_with_splits(name):
    channels, length, classes = DEVELOPMENT_SETS[name]
    data = load_dataset(name)
    assert data.X_train.dtype == np.float32
    assert data.X_train.shape[1:] == (channels, length)
    assert data.n_classes == classes
    assert len(data.X_train) + len(data.X_val) == len(data.X_probe_train)
    assert len(data.X_test) == len(data.y_test)
    # z-normalised per series and channel
    assert np.allclose(data.X_train.mean(axis=2), 0, atol=1e-4)


def test_name_lookup_is_case_insensitive_and_unknown_names_list_valid_ones():
    assert load_dataset("gunpoint").name == "GunPoint"
    with pytest.raises(UserInputError, match=r"dataset.name must be one of .*GunPoint.*"
                                             r"did you mean 'GunPoint'"):
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
