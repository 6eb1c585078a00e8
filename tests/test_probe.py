import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score

from tune_bs import metrics as m
from tune_bs.probe import cross_validated_score, make_probe, probe_indices, probe_scores


def test_probe_accuracy_on_separable_features():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    f = rng.normal(size=(100, 4)) + 6 * y[:, None]
    scores = probe_scores(f, y, f, y, "classification")
    assert scores[m.VAL_PROBE_ACC] == pytest.approx(1.0)
    assert scores[m.TEST_PROBE_ACC] == pytest.approx(1.0)
    noise = rng.normal(size=(100, 4))
    scores = probe_scores(noise, y, rng.normal(size=(100, 4)), y, "classification")
    assert scores[m.VAL_PROBE_ACC] < 0.75 and scores[m.TEST_PROBE_ACC] < 0.75


def test_the_validation_probe_never_sees_the_test_split():
    """val_probe_acc is a function of the train split alone: any test labels give the same."""
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1, 2], 20)
    f = rng.normal(size=(60, 5)) + 2 * y[:, None]
    test_f = rng.normal(size=(30, 5))
    a = probe_scores(f, y, test_f, np.zeros(30, dtype=int), "classification", seed=7)
    b = probe_scores(f, y, test_f, np.full(30, 2), "classification", seed=7)
    assert a[m.VAL_PROBE_ACC] == b[m.VAL_PROBE_ACC]
    assert a[m.TEST_PROBE_ACC] != b[m.TEST_PROBE_ACC]
    assert m.TEST_PROBE_ACC not in probe_scores(f, y, None, None, "classification")


def test_cross_validation_matches_sklearn_stratified_k_fold():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 30)
    f = rng.normal(size=(60, 3)) + 0.8 * y[:, None]
    folds = StratifiedKFold(5, shuffle=True, random_state=11)
    expected = cross_val_score(make_probe("classification"), f, y, cv=folds).mean()
    assert cross_validated_score(f, y, "classification", 5, 11) == pytest.approx(expected)


def test_folds_shrink_to_the_smallest_class_and_nan_when_impossible():
    rng = np.random.default_rng(4)
    f = rng.normal(size=(12, 2))
    three_in_smallest = np.array([0] * 9 + [1] * 3)
    assert np.isfinite(cross_validated_score(f, three_in_smallest, "classification"))
    one_class = np.zeros(12, dtype=int)
    assert np.isnan(cross_validated_score(f, one_class, "classification"))


def test_ridge_probe_r2_and_unlabelled_gives_nothing():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(80, 3))
    t = f @ np.array([1.0, -2.0, 0.5])
    scores = probe_scores(f, t, f, t, "regression")
    assert scores[m.VAL_PROBE_R2] > 0.99 and scores[m.TEST_PROBE_R2] > 0.99
    assert probe_scores(f, t, f, t, "unlabelled") == {}


def test_probe_subsample_is_seeded_and_bounded():
    a = probe_indices(10_000, 50, 2000, 5000, seed=3)
    b = probe_indices(10_000, 50, 2000, 5000, seed=3)
    assert len(a[0]) == 2000 and len(a[1]) == 50
    assert np.array_equal(a[0], b[0])
