"""The user's own arrays: a ``.npz`` file with ``X`` of shape ``[N, C, T]`` and optional labels.

Keys read: ``X`` (required, numeric, 3 dimensions — a 2-D ``[N, T]`` array is taken as one
channel), ``y`` (optional labels, one per series), and optionally ``X_test`` / ``y_test`` for the
probe's test split. Without ``X_test`` a seeded 30 % of the series is held out as the test split.
``y_reg`` (optional, numeric, one per series; ``y_reg_test`` beside ``X_test``) is a second,
continuous target over the same series for the multi-task head (:func:`read_npz_regression`).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from tune_bs.errors import UserInputError

TEST_FRACTION = 0.3


def _array(data: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        arr = np.asarray(data[key])
    except ValueError as exc:  # object arrays need pickle, which we refuse
        raise UserInputError(
            f"dataset.path {path}: array {key!r} must be numeric, but it holds Python objects "
            f"({exc}); save it with a numeric dtype."
        ) from None
    return arr


def _as_nct(X: np.ndarray, key: str, path: Path) -> np.ndarray:
    if not np.issubdtype(X.dtype, np.number):
        raise UserInputError(
            f"dataset.path {path}: {key} must be numeric, but has dtype {X.dtype}; "
            "convert it to float32."
        )
    if X.ndim == 2:
        X = X[:, None, :]
    if X.ndim != 3:
        raise UserInputError(
            f"dataset.path {path}: {key} must have shape [N, C, T] (3 dimensions), but has shape "
            f"{tuple(X.shape)}; reshape it to [series, channels, time steps]."
        )
    if X.shape[0] < 4 or X.shape[2] < 2:
        raise UserInputError(
            f"dataset.path {path}: {key} must hold at least 4 series of at least 2 steps, but has "
            f"shape {tuple(X.shape)}; use more data."
        )
    bad = ~np.isfinite(X).reshape(len(X), -1).all(axis=1)
    if bad.any():
        raise UserInputError(
            f"dataset.path {str(path)!r}: {key} must hold only finite values, but series "
            f"{int(np.flatnonzero(bad)[0])} (and {int(bad.sum()) - 1} more) contain NaN or inf; "
            "clean or impute the data before using it."
        )
    return X.astype(np.float32)


def read_npz(
    path: str | Path, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Return ``(X_train, y_train, X_test, y_test)`` from a ``.npz`` file (see module rules)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserInputError(
            f"dataset.path must name an existing .npz file, but {str(path)!r} does not exist; "
            "check the path (relative paths are taken from the current directory)."
        )
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UserInputError(
            f"dataset.path {str(path)!r} cannot be read as a .npz file ({exc}); save it with "
            "numpy.savez(path, X=X, y=y)."
        ) from None
    if not hasattr(data, "files"):
        raise UserInputError(
            f"dataset.path {str(path)!r} holds a single array, not a .npz archive; save it with "
            "numpy.savez(path, X=X, y=y)."
        )
    if "X" not in data.files:
        raise UserInputError(
            f"dataset.path {str(path)!r} must contain an array named 'X', but it holds "
            f"{sorted(data.files)}; save it with numpy.savez(path, X=X, y=y)."
        )
    X = _as_nct(_array(data, "X", path), "X", path)
    y = _array(data, "y", path) if "y" in data.files else None
    if y is not None and len(y) != len(X):
        raise UserInputError(
            f"dataset.path {str(path)!r}: y must have one label per series ({len(X)}), but has "
            f"{len(y)}; fix the labels."
        )
    if "X_test" in data.files:
        X_test = _as_nct(_array(data, "X_test", path), "X_test", path)
        if X_test.shape[1:] != X.shape[1:]:
            raise UserInputError(
                f"dataset.path {str(path)!r}: X_test must have the shape of X per series "
                f"{tuple(X.shape[1:])}, but has {tuple(X_test.shape[1:])}; resample one of them."
            )
        y_test = _array(data, "y_test", path) if "y_test" in data.files else None
        return X, y, X_test, y_test
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    n_test = max(2, round(TEST_FRACTION * len(X)))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return (
        X[train],
        None if y is None else y[train],
        X[test],
        None if y is None else y[test],
    )


def read_npz_regression(
    path: str | Path, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``(y_reg_train, y_reg_test)`` of a ``.npz`` holding ``y_reg`` (split as :func:`read_npz`
    splits ``X``), or ``None`` without one. Call it after :func:`read_npz` checked the file."""
    path = Path(path).expanduser()
    data = np.load(path, allow_pickle=False)
    if "y_reg" not in data.files:
        return None
    n = len(data["X"])
    y_reg = _array(data, "y_reg", path)
    if not np.issubdtype(y_reg.dtype, np.number) or y_reg.shape != (n,):
        raise UserInputError(
            f"dataset.path {str(path)!r}: y_reg must be numeric with one value per series ({n}), "
            f"but has dtype {y_reg.dtype} and shape {tuple(y_reg.shape)}; fix the target."
        )
    y_reg = y_reg.astype(np.float64)
    if "X_test" in data.files:
        n_test = len(data["X_test"])
        if "y_reg_test" not in data.files:
            return y_reg, None
        y_reg_test = _array(data, "y_reg_test", path)
        if not np.issubdtype(y_reg_test.dtype, np.number) or y_reg_test.shape != (n_test,):
            raise UserInputError(
                f"dataset.path {str(path)!r}: y_reg_test must be numeric with one value per test "
                f"series ({n_test}), but has shape {tuple(y_reg_test.shape)}; fix the target."
            )
        return y_reg, y_reg_test.astype(np.float64)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(2, round(TEST_FRACTION * n))
    return y_reg[np.sort(perm[n_test:])], y_reg[np.sort(perm[:n_test])]
