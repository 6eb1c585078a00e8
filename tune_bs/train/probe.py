"""Downstream evaluation of frozen representations: one probe, scored two ways.

- ``val_probe_acc`` (regression: ``val_probe_r2``): the probe cross-validated on the labelled
  train split — ``folds``-fold, stratified by class for classification, shuffled with a fixed
  seed. It needs no test labels: it is what searches, schedulers and the selection of a trial
  may use.
- ``val_probe_acc_std`` (``val_probe_r2_std``): the standard deviation of the held-out scores
  across those folds (``ddof=1``; NaN with fewer than 2 scored folds): how far the validation
  score moves with the split of the train series, the spread a one-standard-error rule reads
  (:mod:`tune_bs.report.selection`). The standard error of the mean is ``std / √folds``.
- ``test_probe_acc`` (``test_probe_r2``): the probe fitted on the whole train split and scored on
  the test split. It is reported and tabulated, never used to decide anything.

The probe (``probe``, :data:`PROBES`) works on standardised representations:

- ``logistic`` (classification): logistic regression, C = 1.
- ``svm`` (classification): an RBF support-vector machine (``gamma="scale"``) whose C is chosen
  from :data:`SVM_C_GRID` by stratified :data:`SVM_INNER_FOLDS`-fold cross-validation on the
  series it is fitted on, and only those (TS2Vec's protocol, Yue et al. 2022, with a smaller
  grid): for ``test_probe_acc`` that is the whole train split; for ``val_probe_acc`` it is the
  training part of each outer fold, so C is chosen *inside* each fold (nested cross-validation)
  and a held-out fold never chooses the C it is scored with. Ties go to the smaller C. With
  fewer than 2 series per class in the training part, C stays at :data:`SVM_DEFAULT_C`.
- regression: ridge regression (alpha = 1) whichever ``probe`` is named.

Both scores come from one representation pass of each split.

Multi-task (``val_multitask`` / ``test_multitask``, :func:`multitask_scores`): on a data set
with a class label and a continuous target per series, ``α·accuracy + (1 − α)·R²`` of the
classification probe and the ridge probe on the same representations, each scored as above
(cross-validated on the train split for ``val_``, on the test split for ``test_``); α is
``multitask_alpha`` in [0, 1].

Rules: with fewer than ``folds`` members in the smallest class, the folds drop to that count; a
class with a single member makes the folds unstratified; with fewer than 2 folds possible (or
only one class) the validation score is NaN (and a warning says so). A classification probe
fitted on one class cannot be fitted at all: both scores are then NaN, with a warning, rather
than an error that ends the trial (a search on ``val_probe_acc`` refuses such labels before it
starts: :func:`tune_bs.search.space.check_space_data`). At most ``max_train`` /
``max_test`` series are used (a seeded subsample beyond that), which keeps the probes a small
share of a report interval on large data sets.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from tune_bs import metrics as m
from tune_bs.errors import unknown_name

logger = logging.getLogger(__name__)
#: Folds of the cross-validated probe (``val_probe_acc``).
PROBE_FOLDS = 5
#: The probes a trial may use (``probe``); regression always uses ridge.
PROBES = ("logistic", "svm")
#: Candidate C values of the SVM probe (ascending: ties go to the smaller C).
SVM_C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
#: Folds of the SVM probe's own C selection, inside whatever split it is fitted on.
SVM_INNER_FOLDS = 3
#: C of the SVM probe when its training series are too few to cross-validate.
SVM_DEFAULT_C = 1.0


class SVMProbe(ClassifierMixin, BaseEstimator):
    """Standardise → RBF SVM, C chosen by stratified CV on the series given to :meth:`fit`
    (module rules); ``C_`` is the chosen value."""

    def __init__(
        self, folds: int = SVM_INNER_FOLDS, seed: int = 0, c_grid: tuple[float, ...] = SVM_C_GRID
    ) -> None:
        self.folds = folds
        self.seed = seed
        self.c_grid = c_grid

    @staticmethod
    def _pipeline(C: float) -> Pipeline:
        return make_pipeline(StandardScaler(), SVC(kernel="rbf", gamma="scale", C=C))

    def fit(self, X: np.ndarray, y: np.ndarray) -> SVMProbe:
        _, counts = np.unique(y, return_counts=True)
        folds = min(self.folds, int(counts.min()))
        if len(counts) < 2 or folds < 2:
            self.C_ = SVM_DEFAULT_C
        else:
            self.C_ = self._choose_c(X, y, folds)
        self.model_ = self._pipeline(self.C_).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def _choose_c(self, X: np.ndarray, y: np.ndarray, folds: int) -> float:
        """The C of the grid with the best mean accuracy over stratified folds (the first, so
        the smallest, of equals): what ``GridSearchCV`` over the pipeline chooses, with each
        fold's scaling fitted once for every C rather than once per C (half the CPU)."""
        totals = np.zeros(len(self.c_grid))
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        for train, held_out in splitter.split(X, y):
            scaler = StandardScaler().fit(X[train])
            X_train, X_held_out = scaler.transform(X[train]), scaler.transform(X[held_out])
            for i, C in enumerate(self.c_grid):
                svm = SVC(kernel="rbf", gamma="scale", C=C).fit(X_train, y[train])
                totals[i] += svm.score(X_held_out, y[held_out])
        return float(self.c_grid[int(np.argmax(totals))])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)


def _subsample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def probe_indices(
    n_train: int, n_test: int, max_train: int, max_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded subsample indices for the probe's train and test series."""
    return _subsample(n_train, max_train, seed), _subsample(n_test, max_test, seed + 1)


def check_probe(probe: str, field: str = "probe") -> str:
    """``probe`` if it names one of :data:`PROBES`, else a one-line error naming ``field``."""
    if probe not in PROBES:
        raise unknown_name(field, probe, PROBES)
    return probe


def make_probe(task: str, probe: str = "logistic", seed: int = 0) -> BaseEstimator:
    """The unfitted probe for ``task`` (``classification`` or ``regression``) and ``probe``
    (module rules; ``seed`` fixes the SVM's folds for C)."""
    check_probe(probe)
    if task != "classification":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    if probe == "svm":
        return SVMProbe(seed=seed)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0))


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


def _fit(model: BaseEstimator, X: np.ndarray, y: np.ndarray) -> BaseEstimator:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def cross_validated_score(
    features: np.ndarray,
    y: np.ndarray,
    task: str,
    folds: int = PROBE_FOLDS,
    seed: int = 0,
    probe: str = "logistic",
) -> float:
    """Mean held-out score (accuracy or R²) of the probe over ``folds`` folds of the train split
    (NaN when no two folds are possible; see the module rules). Each fold's probe is fitted —
    the SVM's C chosen too — on that fold's training part alone."""
    return float(np.mean(fold_scores(features, y, task, folds, seed, probe) or [np.nan]))


def fold_scores(
    features: np.ndarray,
    y: np.ndarray,
    task: str,
    folds: int = PROBE_FOLDS,
    seed: int = 0,
    probe: str = "logistic",
) -> list[float]:
    """The held-out score of every fold of :func:`cross_validated_score` (``[]`` when no two
    folds are possible)."""
    splitter = _folds(y, task, folds, seed)
    if splitter is None:
        logger.warning(
            "the probe cannot be cross-validated on %d labelled series (too few per "
            "class); val probe metrics are NaN.",
            len(y),
        )
        return []
    base = make_probe(task, probe, seed)
    scores = []
    for train, held_out in splitter.split(features, y):
        if task == "classification" and len(np.unique(y[train])) < 2:
            continue
        model = _fit(clone(base), features[train], y[train])
        scores.append(float(model.score(features[held_out], y[held_out])))
    return scores


def fold_spread(scores: list[float]) -> float:
    """Standard deviation (``ddof=1``) of fold scores; NaN with fewer than 2."""
    return float(np.std(scores, ddof=1)) if len(scores) >= 2 else float("nan")


def probe_scores(
    train_features: np.ndarray,
    y_train: np.ndarray,
    test_features: np.ndarray | None,
    y_test: np.ndarray | None,
    task: str,
    folds: int = PROBE_FOLDS,
    seed: int = 0,
    probe: str = "logistic",
) -> dict[str, float]:
    """The probe metrics of ``task`` (module rules): the cross-validated one on the train split
    and its spread across folds, and — when test labels are given — the test score of the probe
    fitted on all of it. ``{}`` for a task without a probe."""
    names = probe_names(task)
    if names is None:
        return {}
    val_name, test_name = names
    if task == "classification" and len(np.unique(y_train)) < 2:
        logger.warning(
            "the probe's %d training series all have the same class; %s and %s are NaN.",
            len(y_train),
            val_name,
            test_name,
        )
        nan = float("nan")
        out = {val_name: nan, m.SPREAD_OF[val_name]: nan}
        return {**out, test_name: nan} if y_test is not None else out
    scores = fold_scores(train_features, y_train, task, folds, seed, probe)
    out = {
        val_name: float(np.mean(scores)) if scores else float("nan"),
        m.SPREAD_OF[val_name]: fold_spread(scores),
    }
    if test_features is not None and y_test is not None:
        model = _fit(make_probe(task, probe, seed), train_features, y_train)
        out[test_name] = float(model.score(test_features, y_test))
    return out


def multitask_scores(
    classification: dict[str, float], regression: dict[str, float], alpha: float = 0.5
) -> dict[str, float]:
    """``val_multitask`` (and ``test_multitask`` when both test scores are there) from the
    classification probe's scores and the ridge probe's (:func:`probe_scores` of each task):
    ``alpha`` × accuracy + (1 − ``alpha``) × R² (module rules)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    out = {
        m.VAL_MULTITASK: alpha * classification[m.VAL_PROBE_ACC]
        + (1.0 - alpha) * regression[m.VAL_PROBE_R2]
    }
    if m.TEST_PROBE_ACC in classification and m.TEST_PROBE_R2 in regression:
        out[m.TEST_MULTITASK] = (
            alpha * classification[m.TEST_PROBE_ACC] + (1.0 - alpha) * regression[m.TEST_PROBE_R2]
        )
    return out
