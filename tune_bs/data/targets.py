"""A second target over the same series: the classification + regression pair that the
multi-task head (:mod:`tune_bs.downstream`) and the ``val_multitask`` probe need.

:class:`MultiTaskTargets` holds class labels and a continuous target for the whole train split
(aligned with ``TimeSeriesData.X_probe_train``) and for the test split (``X_test``). Where it
comes from:

- aeon's shipped sets: a regression set ``Name`` and its discretised twin ``Name_disc`` (aeon
  ships ``Covid3Month`` / ``Covid3Month_disc``) form a pair when their series are identical
  (checked value for value); loading either gives the pair;
- a ``.npz`` with ``y`` (classes) and ``y_reg`` (continuous; ``y_reg_test`` beside ``X_test``);
- the synthetic generator: its modes and :func:`~tune_bs.data.synthetic.make_synthetic_target`.

Class labels are what the data set calls them (strings for aeon's ``.ts`` files); the continuous
target is float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tune_bs.data import aeon_sets

DISCRETISED_SUFFIX = "_disc"


@dataclass(frozen=True)
class MultiTaskTargets:
    """Class labels and a continuous target per series of the train and test splits."""

    y_class_train: np.ndarray
    y_reg_train: np.ndarray
    y_class_test: np.ndarray | None
    y_reg_test: np.ndarray | None


def aeon_pair(entry: aeon_sets.AeonDataset) -> MultiTaskTargets | None:
    """The pair of a shipped set and its ``_disc`` twin (module rules), or ``None``."""
    sets = aeon_sets.shipped_datasets()
    if entry.name.endswith(DISCRETISED_SUFFIX):
        regression, classification = sets.get(entry.name[: -len(DISCRETISED_SUFFIX)]), entry
    else:
        regression, classification = entry, sets.get(entry.name + DISCRETISED_SUFFIX)
    if (
        regression is None
        or classification is None
        or regression.task != "regression"
        or classification.task != "classification"
    ):
        return None
    splits = []
    for reg_path, cls_path in (
        (regression.train_path, classification.train_path),
        (regression.test_path, classification.test_path),
    ):
        X_reg, y_reg = aeon_sets.read_split(reg_path)
        X_cls, y_cls = aeon_sets.read_split(cls_path)
        if isinstance(X_reg, list) or isinstance(X_cls, list) or not np.array_equal(X_reg, X_cls):
            return None
        splits.append((np.asarray(y_cls), np.asarray(y_reg, dtype=np.float64)))
    (c_train, r_train), (c_test, r_test) = splits
    return MultiTaskTargets(c_train, r_train, c_test, r_test)
