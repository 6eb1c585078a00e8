"""Data sets: aeon's shipped UCR/UEA sets by name, sets other installed packages ship
(``PACKAGE:NAME``, :mod:`tune_bs.data.package_sets`), the user's ``.npz``, and a synthetic
generator.

:func:`load_dataset` is the single entry point; it returns a prepared
:class:`~tune_bs.data.dataset.TimeSeriesData` (see that module for the split and normalisation
rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tune_bs.data import aeon_sets, package_sets
from tune_bs.data.dataset import NORMALISATIONS, TimeSeriesData, prepare, to_equal_length
from tune_bs.data.npz import read_npz, read_npz_regression
from tune_bs.data.package_sets import is_package_name, load_package_set
from tune_bs.data.targets import MultiTaskTargets, aeon_pair
from tune_bs.errors import UserInputError, quote

SYNTHETIC = "synthetic"
SYNTHETIC_TEST_FRACTION = 0.25

__all__ = [
    "NORMALISATIONS",
    "SYNTHETIC",
    "MultiTaskTargets",
    "TimeSeriesData",
    "dataset_names",
    "list_datasets",
    "load_dataset",
]


def dataset_names() -> list[str]:
    """Every name :func:`load_dataset` accepts: aeon's shipped sets plus ``synthetic``."""
    return [*aeon_sets.shipped_datasets(), SYNTHETIC]


def _load_synthetic(options: dict[str, Any], seed: int) -> tuple[np.ndarray, ...]:
    """Train and test splits of the synthetic generator, with its continuous target."""
    from tune_bs.data.synthetic import make_synthetic_target

    n_train = int(options.pop("n_series", 1000))
    n_test = max(8, round(SYNTHETIC_TEST_FRACTION * n_train))
    try:
        X, y, y_reg = make_synthetic_target(
            n_series=n_train + n_test, seed=options.pop("seed", seed), **options
        )
    except TypeError as exc:
        raise UserInputError(
            f"dataset options for 'synthetic' are n_series, n_channels, length, n_modes, "
            f"imbalance, noise, separation, seed; {exc}."
        ) from None
    return (X[:n_train], y[:n_train], X[n_train:], y[n_train:], y_reg[:n_train], y_reg[n_train:])


def load_dataset(
    name: str | None = None,
    path: str | Path | None = None,
    *,
    normalise: str | bool | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    variable_length: str = "resample",
    length: int | None = None,
    **options: Any,
) -> TimeSeriesData:
    """Load and prepare a data set by ``name`` (aeon's, ``PACKAGE:NAME`` of another installed
    package, or ``synthetic``) or from a ``.npz`` ``path``.

    ``normalise`` is ``series``, ``dataset`` or ``none`` (:mod:`tune_bs.data.dataset`, rule 3;
    omitted: ``series`` for univariate, ``dataset`` for multivariate data). ``options`` go to the
    synthetic generator (``n_series``, ``n_modes``, ...); they are refused for other data sets.
    ``seed`` fixes the validation split (and the synthetic data).
    """
    if (name is None) == (path is None):
        raise UserInputError(
            "dataset must give exactly one of name or path, but got "
            f"name={quote(name)}, path={quote(path)}; e.g. dataset: {{name: GunPoint}}."
        )
    if name is not None and name.lower() == SYNTHETIC:
        synthetic_options = dict(options) if length is None else {**options, "length": length}
        return _synthetic_set(synthetic_options, normalise, val_fraction, seed)
    if options:
        raise UserInputError(
            f"dataset options {sorted(options)} apply only to the synthetic generator, but the "
            f"data set is {quote(name or path)}; remove them."
        )
    if path is not None:
        return _npz_set(path, normalise, val_fraction, seed)
    if is_package_name(name):
        return load_package_set(name, normalise, val_fraction, seed, variable_length, length)
    return _aeon_set(name, normalise, val_fraction, seed, variable_length, length)


def _synthetic_set(
    options: dict[str, Any], normalise: str | bool | None, val_fraction: float, seed: int
) -> TimeSeriesData:
    """The synthetic generator's data set, with its continuous target (multi-task)."""
    X_tr, y_tr, X_te, y_te, r_tr, r_te = _load_synthetic(options, seed)
    data = prepare(
        SYNTHETIC,
        X_tr,
        y_tr,
        X_te,
        y_te,
        normalise=normalise,
        val_fraction=val_fraction,
        seed=seed,
        task="classification",
    )
    return replace(data, multitask=MultiTaskTargets(y_tr, r_tr, y_te, r_te))


def _npz_set(
    path: str | Path, normalise: str | bool | None, val_fraction: float, seed: int
) -> TimeSeriesData:
    """A ``.npz`` data set, with its continuous target when the file holds one (multi-task)."""
    X_tr, y_tr, X_te, y_te = read_npz(path, seed=seed)
    data = prepare(
        Path(path).stem,
        X_tr,
        y_tr,
        X_te,
        y_te,
        normalise=normalise,
        val_fraction=val_fraction,
        seed=seed,
    )
    regression = read_npz_regression(path, seed=seed)
    if regression is None or y_tr is None:
        return data
    return replace(data, multitask=MultiTaskTargets(y_tr, regression[0], y_te, regression[1]))


def _aeon_set(
    name: str,
    normalise: str | bool | None,
    val_fraction: float,
    seed: int,
    variable_length: str,
    length: int | None,
) -> TimeSeriesData:
    """An aeon data set by name, brought to one length (``length``, else its longest series)
    when its series differ in length or ``length`` is given."""
    entry = aeon_sets.resolve(name)
    X_tr, y_tr = aeon_sets.read_split(entry.train_path)
    X_te, y_te = aeon_sets.read_split(entry.test_path)
    if isinstance(X_tr, list) or isinstance(X_te, list) or length is not None:
        longest = max(_longest(X_tr), _longest(X_te))
        target = length or longest
        X_tr = to_equal_length(X_tr, target, variable_length)
        X_te = to_equal_length(X_te, target, variable_length)
    if entry.task == "regression":
        y_tr, y_te = y_tr.astype(np.float64), y_te.astype(np.float64)
    data = prepare(
        entry.name,
        np.asarray(X_tr),  # float32 in prepare, checked for what float32 cannot hold
        y_tr,
        np.asarray(X_te),
        y_te,
        normalise=normalise,
        val_fraction=val_fraction,
        seed=seed,
        task=entry.task,
    )
    return replace(data, multitask=aeon_pair(entry))


def _longest(X: list[np.ndarray] | np.ndarray) -> int:
    return max(int(s.shape[-1]) for s in X) if isinstance(X, list) else int(X.shape[-1])


def list_datasets(packages: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per shipped data set: name (the name :func:`load_dataset` takes), package, task,
    train/test sizes, channels, length, classes. aeon's sets first, then the ``PACKAGE:NAME``
    sets of each of ``packages`` (each must be installed: a one-line error otherwise)."""
    rows = []
    for entry in aeon_sets.shipped_datasets().values():
        X_tr, y_tr = aeon_sets.read_split(entry.train_path)
        X_te, _ = aeon_sets.read_split(entry.test_path)
        rows.append(_describe(entry.name, "aeon", entry.task, X_tr, y_tr, X_te))
    for package in packages:
        for found in package_sets.shipped_sets(package).values():
            X_tr, y_tr = package_sets.read_split(found, "train")
            X_te, _ = package_sets.read_split(found, "test")
            rows.append(_describe(found.qualified, package, found.task, X_tr, y_tr, X_te))
    return rows


def _describe(
    name: str,
    package: str,
    task: str,
    X_tr: list[np.ndarray] | np.ndarray,
    y_tr: np.ndarray,
    X_te: list[np.ndarray] | np.ndarray,
) -> dict[str, Any]:
    variable = isinstance(X_tr, list)
    lengths = [s.shape[-1] for s in X_tr] if variable else [X_tr.shape[-1]]
    return {
        "name": name,
        "package": package,
        "task": task,
        "train": len(X_tr),
        "test": len(X_te),
        "channels": int(X_tr[0].shape[0]),
        "length": f"{min(lengths)}-{max(lengths)}" if variable else str(lengths[0]),
        "classes": len(np.unique(y_tr)) if task == "classification" else "",
    }
