import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.train.probe import (
    SVM_C_GRID,
    SVM_DEFAULT_C,
    SVM_INNER_FOLDS,
    SVMProbe,
    cross_validated_score,
    fold_scores,
    fold_spread,
    make_probe,
    probe_indices,
    probe_scores,
)


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


def test_the_spread_across_folds_is_the_std_of_sklearns_fold_scores():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 30)
    f = rng.normal(size=(60, 3)) + 0.8 * y[:, None]
    folds = StratifiedKFold(5, shuffle=True, random_state=11)
    per_fold = cross_val_score(make_probe("classification"), f, y, cv=folds)
    assert fold_scores(f, y, "classification", 5, 11) == pytest.approx(list(per_fold))
    scores = probe_scores(f, y, f, y, "classification", seed=11)
    assert scores[m.VAL_PROBE_ACC_STD] == pytest.approx(np.std(per_fold, ddof=1))
    assert scores[m.VAL_PROBE_ACC_STD] > 0
    t = f @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=60)
    assert np.isfinite(probe_scores(f, t, None, None, "regression")[m.VAL_PROBE_R2_STD])


def test_the_spread_is_nan_without_two_folds():
    f = np.random.default_rng(4).normal(size=(12, 2))
    scores = probe_scores(f, np.zeros(12, dtype=int), None, None, "classification")
    assert np.isnan(scores[m.VAL_PROBE_ACC]) and np.isnan(scores[m.VAL_PROBE_ACC_STD])
    assert np.isnan(fold_spread([0.5])) and fold_spread([0.5, 1.0]) == pytest.approx(0.5 / 2**0.5)


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


# --- the SVM probe (C chosen by CV on the series it is fitted on) ------------------------------
def test_svm_validation_probe_never_sees_the_test_split():
    rng = np.random.default_rng(5)
    y = np.repeat([0, 1, 2], 15)
    f = rng.normal(size=(45, 4)) + 1.5 * y[:, None]
    test_f = rng.normal(size=(20, 4)) + 1.5 * np.repeat([0, 1], 10)[:, None]
    a = probe_scores(f, y, test_f, np.repeat([0, 1], 10), "classification", probe="svm")
    b = probe_scores(f, y, test_f, np.repeat([1, 0], 10), "classification", probe="svm")
    assert a[m.VAL_PROBE_ACC] == b[m.VAL_PROBE_ACC]
    assert a[m.TEST_PROBE_ACC] != b[m.TEST_PROBE_ACC]


def test_svm_chooses_c_inside_each_fold_without_its_held_out_series(monkeypatch):
    """Nested CV: every SVM fit (its C selection included) sees one outer fold's training part;
    no fit of the validation probe ever holds a series of the fold it is scored on."""
    rng = np.random.default_rng(6)
    y = np.repeat([0, 1], 20)
    ids = np.arange(40, dtype=float)  # column 0 names the series
    f = np.column_stack([ids, rng.normal(size=(40, 3)) + y[:, None]])
    seen: list[frozenset[int]] = []
    original = SVMProbe.fit

    def spy(self, X, y_):
        seen.append(frozenset(int(i) for i in X[:, 0]))
        return original(self, X, y_)

    monkeypatch.setattr(SVMProbe, "fit", spy)
    score = cross_validated_score(f, y, "classification", folds=5, seed=3, probe="svm")
    outer = StratifiedKFold(5, shuffle=True, random_state=3)
    expected = [frozenset(train.tolist()) for train, _ in outer.split(f, y)]
    assert seen == expected  # one fit per outer fold, on exactly its training part
    assert 0.5 < score <= 1.0


def test_svm_probe_picks_c_from_the_grid_and_falls_back_on_tiny_classes():
    rng = np.random.default_rng(7)
    y = np.repeat([0, 1], 30)
    f = rng.normal(size=(60, 2)) + 0.7 * y[:, None]
    fitted = make_probe("classification", "svm", seed=1).fit(f, y)
    assert fitted.C_ in SVM_C_GRID
    manual = GridSearchCV(
        SVMProbe._pipeline(SVM_DEFAULT_C),
        {"svc__C": list(SVM_C_GRID)},
        cv=StratifiedKFold(SVM_INNER_FOLDS, shuffle=True, random_state=1),
    )
    assert manual.fit(f, y).best_params_["svc__C"] == fitted.C_
    one_each = make_probe("classification", "svm").fit(f[[0, 59]], y[[0, 59]])
    assert one_each.C_ == SVM_DEFAULT_C


@pytest.mark.parametrize("seed", range(8))
def test_svm_probe_chooses_and_predicts_as_a_grid_search_over_the_pipeline(seed):
    """The C (ties too: small folds tie often) and the fitted model of GridSearchCV over
    StandardScaler → SVC, which the probe reproduces with one scaling per fold."""
    rng = np.random.default_rng(seed)
    classes = 2 + seed % 3
    y = np.repeat(np.arange(classes), 8 + seed)
    f = rng.normal(size=(len(y), 5)) + (0.3 + 0.2 * seed) * y[:, None]
    fitted = make_probe("classification", "svm", seed=seed).fit(f, y)
    manual = GridSearchCV(
        SVMProbe._pipeline(SVM_DEFAULT_C),
        {"svc__C": list(SVM_C_GRID)},
        cv=StratifiedKFold(SVM_INNER_FOLDS, shuffle=True, random_state=seed),
    ).fit(f, y)
    assert manual.best_params_["svc__C"] == fitted.C_
    new = rng.normal(size=(40, 5)) + rng.integers(0, classes, 40)[:, None]
    assert np.array_equal(fitted.predict(new), manual.predict(new))


def test_unknown_probe_is_one_line_with_a_suggestion():
    with pytest.raises(
        UserInputError,
        match=r"probe must be one of logistic, svm, but got "
        r"probe='svn' \(did you mean 'svm'\?\)",
    ):
        make_probe("classification", "svn")


def test_multitask_combines_accuracy_and_r2_with_alpha() -> None:
    from tune_bs.train.probe import multitask_scores

    classes = {"val_probe_acc": 0.8, "test_probe_acc": 0.7}
    values = {"val_probe_r2": 0.4, "test_probe_r2": -0.2}
    out = multitask_scores(classes, values, alpha=0.25)
    assert out["val_multitask"] == pytest.approx(0.25 * 0.8 + 0.75 * 0.4)
    assert out["test_multitask"] == pytest.approx(0.25 * 0.7 + 0.75 * -0.2)
    assert multitask_scores(classes, values, 1.0)["val_multitask"] == pytest.approx(0.8)
    assert multitask_scores(classes, values, 0.0)["val_multitask"] == pytest.approx(0.4)
    # without test scores, no test_multitask
    assert set(multitask_scores({"val_probe_acc": 1.0}, {"val_probe_r2": 0.0})) == {"val_multitask"}
    with pytest.raises(ValueError):
        multitask_scores(classes, values, 1.5)
