"""Downstream evaluation of frozen representations: one probe, scored two ways.

- ``val_probe_acc`` (regression: ``val_probe_r2``): the probe cross-validated on the labelled
  train split — ``folds``-fold, stratified by class for classification, shuffled with a fixed
  seed. It needs no test labels: it is what searches, schedulers and the selection of a trial
  may use.
- ``test_probe_acc`` (``test_probe_r2``): the probe fitted on the whole train split and scored on
  the test split. It is reported and tabulated, never used to decide anything.

The probe: scikit-learn logistic regression on standardised representations (classification) or
ridge regression (regression). Both scores come from one representation pass of each split.

Rules: with fewer than ``folds`` members in the smallest class, the folds drop to that count; a
class with a single member makes the folds unstratified; with fewer than 2 folds possible (or
only one class) the validation score is NaN (and a warning says so). At most ``max_train`` /
``max_test`` series are used (a seeded subsample beyond that), which keeps the probes a small
share of a report interval on large data sets.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from tune_bs import metrics as m

logger = logging.getLogger(__name__)
#: Folds of the cross-validated probe (``val_probe_acc``).
PROBE_FOLDS = 5


def _subsample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def probe_indices(
    n_train: int, n_test: int, max_train: int, max_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded subsample indices for the probe's train and test series."""
    return _subsample(n_train, max_train, seed), _subsample(n_test, max_test, seed + 1)


def make_probe(task: str) -> Pipeline:
    """The unfitted probe for ``task`` (``classification`` or ``regression``)."""
    if task == "classification":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0))
    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def probe_names(task: str) -> tuple[str, str] | None:
    """``(validation metric, test metric)`` of ``task``; ``None`` for unlabelled data."""
    return {
        "classification": (m.VAL_PROBE_ACC, m.TEST_PROBE_ACC),
        "regression": (m.VAL_PROBE_R2, m.TEST_PROBE_R2),
    }.get(task)


def _folds(y: np.ndarray, task: str, folds: int, seed: int):
    """The cross-validation splitter (module rules), or ``None`` when no 2 folds are possible."""
    if task == "classification":
        _, counts = np.unique(y, return_counts=True)
        if len(counts) < 2:
            return None
        smallest = int(counts.min())
        if smallest >= 2:
            return StratifiedKFold(min(folds, smallest), shuffle=True, random_state=seed)
    if len(y) < 2 * 2:
        return None
    return KFold(min(folds, len(y) // 2), shuffle=True, random_state=seed)


def _fit(model: Pipeline, X: np.ndarray, y: np.ndarray) -> Pipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def cross_validated_score(
    features: np.ndarray, y: np.ndarray, task: str, folds: int = PROBE_FOLDS, seed: int = 0
) -> float:
    """Mean held-out score (accuracy or R²) of the probe over ``folds`` folds of the train split
    (NaN when no two folds are possible; see the module rules)."""
    splitter = _folds(y, task, folds, seed)
    if splitter is None:
        logger.warning(
            "the probe cannot be cross-validated on %d labelled series (too few per "
            "class); val probe metrics are NaN.",
            len(y),
        )
        return float("nan")
    base = make_probe(task)
    scores = []
    for train, held_out in splitter.split(features, y):
        if task == "classification" and len(np.unique(y[train])) < 2:
            continue
        model = _fit(clone(base), features[train], y[train])
        scores.append(float(model.score(features[held_out], y[held_out])))
    return float(np.mean(scores)) if scores else float("nan")


def probe_scores(
    train_features: np.ndarray,
    y_train: np.ndarray,
    test_features: np.ndarray | None,
    y_test: np.ndarray | None,
    task: str,
    folds: int = PROBE_FOLDS,
    seed: int = 0,
) -> dict[str, float]:
    """Both probe metrics of ``task`` (module rules): the cross-validated one on the train
    split, and — when test labels are given — the test score of the probe fitted on all of it.
    ``{}`` for a task without a probe."""
    names = probe_names(task)
    if names is None:
        return {}
    val_name, test_name = names
    out = {val_name: cross_validated_score(train_features, y_train, task, folds, seed)}
    if test_features is not None and y_test is not None:
        model = _fit(make_probe(task), train_features, y_train)
        out[test_name] = float(model.score(test_features, y_test))
    return out
