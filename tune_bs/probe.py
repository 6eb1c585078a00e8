"""Downstream evaluation of frozen representations (DESIGN §3).

- classification: scikit-learn logistic regression on standardised representations, fitted on
  the train split, accuracy on the test split (``probe_acc``);
- regression: ridge regression, R² on the test split (``probe_r2``).

At most ``max_train`` / ``max_test`` series are used (a seeded subsample beyond that) so the probe
stays a small fraction of a report interval on large data sets.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tune_bs.metrics import PROBE_ACC, PROBE_R2


def _subsample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def probe_score(
    train_features: np.ndarray,
    y_train: np.ndarray,
    test_features: np.ndarray,
    y_test: np.ndarray,
    task: str,
) -> dict[str, float]:
    """Fit the probe for ``task`` and return ``{probe_acc: …}`` or ``{probe_r2: …}``."""
    if task == "classification":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(train_features, y_train)
        return {PROBE_ACC: float(model.score(test_features, y_test))}
    if task == "regression":
        model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
        model.fit(train_features, y_train)
        return {PROBE_R2: float(model.score(test_features, y_test))}
    return {}


def probe_indices(n_train: int, n_test: int, max_train: int, max_test: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded subsample indices for the probe's train and test series."""
    return _subsample(n_train, max_train, seed), _subsample(n_test, max_test, seed + 1)
