"""Tests for tune_bs.train.clustering: mode-count recovery, determinism, canonical labels,
fallbacks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from tune_bs.data.synthetic import make_synthetic
from tune_bs.errors import UserInputError
from tune_bs.train.clustering import (
    METHODS,
    ClusterAssignment,
    assign_clusters,
    canonical_labels,
    series_features,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # BLAS/OpenMP thread pools thrash on a loaded 2-core machine; one thread is much faster here
    with threadpool_limits(1):
        yield


def _features(n_modes: int, seed: int, n_series: int = 300, **kwargs) -> tuple:
    X, y = make_synthetic(n_series=n_series, n_modes=n_modes, seed=seed, **kwargs)
    return series_features(X, seed=seed), y


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n_modes", [3, 4, 5])
def test_recovers_the_number_of_modes_for_most_seeds(method: str, n_modes: int) -> None:
    hits = 0
    for seed in range(5):
        F, y = _features(n_modes, seed, imbalance=2.0)
        a = assign_clusters(F, method=method, seed=seed)
        hits += a.n_modes == n_modes
        if a.n_modes == n_modes:
            assert adjusted_rand_score(y, a.labels) > 0.95
    assert hits >= 4


@pytest.mark.parametrize("method", METHODS)
def test_same_inputs_and_seed_give_the_same_assignment(method: str) -> None:
    F, _ = _features(4, seed=11)
    a, b = assign_clusters(F, method=method, seed=3), assign_clusters(F, method=method, seed=3)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.centres, b.centres)
    assert a.scores == b.scores and a.n_modes == b.n_modes


@pytest.mark.parametrize("method", METHODS)
def test_assignment_fields_are_consistent(method: str) -> None:
    F, _ = _features(3, seed=5, imbalance=3.0)
    a = assign_clusters(F, method=method, seed=0)
    assert isinstance(a, ClusterAssignment) and a.method == method
    assert a.labels.dtype == np.int64 and a.labels.shape == (len(F),)
    assert a.centres.shape == (a.n_modes, F.shape[1])
    assert np.all(np.diff(a.sizes) <= 0)  # label 0 is the largest cluster
    for c in range(a.n_modes):
        np.testing.assert_allclose(a.centres[c], F[a.labels == c].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(a.distances, np.linalg.norm(F - a.centres[a.labels], axis=1))
    expected_ks = set(range(2, 11)) | ({1} if method == "gmm_bic" else set())
    assert set(a.scores) == expected_ks


def test_forced_number_of_clusters_is_used_without_scores() -> None:
    F, _ = _features(4, seed=2)
    a = assign_clusters(F, n_clusters=6, seed=0)
    assert a.n_modes == 6 and a.scores == {}
    one = assign_clusters(F, method="gmm_bic", n_clusters=1)
    assert one.n_modes == 1 and np.all(one.labels == 0)


def test_large_data_are_fitted_on_a_subsample_and_all_points_labelled() -> None:
    F, y = _features(4, seed=4, n_series=3000)
    a = assign_clusters(F, seed=0, max_fit=400)
    assert a.labels.shape == (3000,) and a.n_modes == 4
    assert adjusted_rand_score(y, a.labels) > 0.95


@pytest.mark.parametrize("method", METHODS)
def test_identical_rows_give_one_cluster_with_a_warning(method, caplog) -> None:
    F = np.ones((50, 4))
    with caplog.at_level(logging.WARNING, logger="tune_bs.train.clustering"):
        a = assign_clusters(F, method=method)
    assert a.n_modes == 1 and np.all(a.labels == 0) and np.all(a.distances == 0)
    assert "identical" in caplog.text and "one cluster" in caplog.text


@pytest.mark.parametrize("method", METHODS)
def test_a_single_gaussian_blob_gives_one_cluster_with_a_warning(method, caplog) -> None:
    F = np.random.default_rng(0).standard_normal((400, 8))
    with caplog.at_level(logging.WARNING, logger="tune_bs.train.clustering"):
        a = assign_clusters(F, method=method, seed=0)
    assert a.n_modes == 1 and a.centres.shape == (1, 8)
    assert "one cluster" in caplog.text
    assert a.scores  # the criterion values are still reported


def test_canonical_labels_depend_only_on_the_partition() -> None:
    raw = np.array([7, 7, 3, 3, 3, 9, 7, 3, 5])
    out = canonical_labels(raw)
    assert out.tolist() == [1, 1, 0, 0, 0, 2, 1, 0, 3]  # by size, ties by first index
    mapping = {7: -1, 3: 40, 9: 2, 5: 0}
    renamed = np.array([mapping[v] for v in raw.tolist()])
    assert np.array_equal(canonical_labels(renamed), out)


def test_series_features_ignore_per_series_offset_and_scale() -> None:
    X, _ = make_synthetic(n_series=100, seed=0)
    rng = np.random.default_rng(1)
    shifted = X * rng.uniform(0.5, 2.0, (100, 1, 1)).astype(np.float32) + 3.0
    F1, F2 = series_features(X, seed=0), series_features(shifted, seed=0)
    assert F1.shape == (100, 32) and F1.dtype == np.float32
    np.testing.assert_allclose(F1, F2, atol=1e-3)


def test_series_features_handle_constant_channels_and_few_series() -> None:
    X = np.zeros((5, 2, 16), dtype=np.float32)
    X[:, 1] = np.random.default_rng(0).standard_normal((5, 16))
    F = series_features(X, max_dim=32)
    assert F.shape == (5, 5) and np.isfinite(F).all()


def test_bad_inputs_raise_user_input_error() -> None:
    F = np.random.default_rng(0).standard_normal((30, 3))
    with pytest.raises(UserInputError, match="did you mean 'gmm_bic'"):
        assign_clusters(F, method="gmm_bik")
    with pytest.raises(UserInputError, match="k_min"):
        assign_clusters(F, k_min=1)
    with pytest.raises(UserInputError, match="k_max"):
        assign_clusters(F[:4], k_min=4, k_max=10)
    with pytest.raises(UserInputError, match="n_clusters"):
        assign_clusters(F, n_clusters=31)
    with pytest.raises(UserInputError, match="finite"):
        assign_clusters(np.full((5, 2), np.nan))
    with pytest.raises(UserInputError, match=r"\[N, C, T\]"):
        series_features(np.zeros((4, 8)))
    with pytest.raises(UserInputError, match="NaN"):
        series_features(np.full((4, 1, 8), np.nan))
