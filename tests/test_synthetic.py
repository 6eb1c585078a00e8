"""Tests for tune_bs.data.synthetic: shapes, determinism, mode sizes, separability, validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from tune_bs.data.synthetic import make_synthetic, mode_sizes
from tune_bs.errors import UserInputError


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # BLAS/OpenMP thread pools thrash on a loaded 2-core machine; one thread is much faster here
    with threadpool_limits(1):
        yield


def test_shapes_dtypes_and_label_range() -> None:
    X, y = make_synthetic(n_series=50, n_channels=2, length=64, n_modes=3, seed=1)
    assert X.shape == (50, 2, 64) and X.dtype == np.float32
    assert y.shape == (50,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1, 2}
    assert np.isfinite(X).all()


def test_same_seed_same_arrays_other_seed_other_arrays() -> None:
    X1, y1 = make_synthetic(n_series=200, seed=7)
    X2, y2 = make_synthetic(n_series=200, seed=7)
    X3, _ = make_synthetic(n_series=200, seed=8)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("imbalance", [1.0, 2.0, 10.0])
def test_mode_sizes_are_geometric_with_the_requested_imbalance(imbalance: float) -> None:
    _, y = make_synthetic(n_series=3000, n_modes=4, imbalance=imbalance, length=16, seed=0)
    sizes = np.bincount(y)
    assert sizes.sum() == 3000
    assert np.all(np.diff(sizes) <= 0)  # mode 0 is the largest
    assert sizes[0] / sizes[-1] == pytest.approx(imbalance, rel=0.02)
    ratios = sizes[:-1] / sizes[1:]  # geometric: equal consecutive ratios
    assert np.allclose(ratios, imbalance ** (1 / 3), rtol=0.03)


def test_mode_sizes_keep_every_mode_and_sum() -> None:
    assert mode_sizes(7, 7, 3.0).tolist() == [1] * 7
    sizes = mode_sizes(10, 5, 1000.0)
    assert sizes.sum() == 10 and sizes.min() >= 1
    assert mode_sizes(10, 3, 1.0).tolist() == [4, 3, 3]


@pytest.mark.parametrize("n_modes", [3, 5])
def test_modes_are_separable_by_kmeans_on_raw_series(n_modes: int) -> None:
    for seed in range(3):
        X, y = make_synthetic(n_series=300, n_modes=n_modes, imbalance=2.0, seed=seed)
        pred = KMeans(n_modes, n_init=4, random_state=0).fit_predict(X.reshape(len(X), -1))
        assert adjusted_rand_score(y, pred) > 0.95


def test_zero_separation_makes_modes_indistinguishable() -> None:
    X, y = make_synthetic(n_series=300, n_modes=3, separation=0.0, seed=0)
    pred = KMeans(3, n_init=4, random_state=0).fit_predict(X.reshape(len(X), -1))
    assert adjusted_rand_score(y, pred) < 0.1


def test_noise_is_the_only_difference_from_the_noiseless_series() -> None:
    clean, _ = make_synthetic(n_series=100, noise=0.0, seed=3)
    noisy, _ = make_synthetic(n_series=100, noise=0.5, seed=3)
    diff = noisy - clean
    assert diff.std() == pytest.approx(0.5, rel=0.05)
    assert abs(diff.mean()) < 0.02


def test_prototypes_have_unit_rms_and_equal_pairwise_distances() -> None:
    # noise-free, balanced: the mean series of each mode is close to its prototype
    X, y = make_synthetic(n_series=2000, n_modes=3, noise=0.0, separation=1.0, seed=2)
    means = np.stack([X[y == m].mean(axis=0) for m in range(3)])
    d = [np.sqrt(((means[i] - means[j]) ** 2).mean()) for i, j in [(0, 1), (0, 2), (1, 2)]]
    assert np.allclose(d, np.sqrt(2), rtol=0.1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_series": 0}, "n_series"),
        ({"n_modes": 0}, "n_modes"),
        ({"n_series": 3, "n_modes": 4}, "n_modes"),
        ({"imbalance": 0.5}, "imbalance"),
        ({"imbalance": float("inf")}, "imbalance"),
        ({"noise": -0.1}, "noise"),
        ({"separation": float("nan")}, "separation"),
        ({"length": 2.5}, "length"),
        ({"seed": -1}, "seed"),
        ({"n_channels": 1, "length": 8, "n_modes": 9, "n_series": 20}, "n_modes"),
    ],
)
def test_bad_arguments_raise_user_input_error(kwargs: dict, field: str) -> None:
    with pytest.raises(UserInputError, match=field):
        make_synthetic(**kwargs)


def test_large_set_is_float32_throughout() -> None:
    X, y = make_synthetic(n_series=40_000, n_channels=1, length=32, n_modes=10, seed=0)
    assert X.dtype == np.float32 and X.shape == (40_000, 1, 32)
    assert np.bincount(y).tolist() == [4000] * 10
