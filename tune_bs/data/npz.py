"""The user's own arrays: a ``.npz`` file with ``X`` of shape ``[N, C, T]`` and optional labels.

Keys read: ``X`` (required, numeric, 3 dimensions — a 2-D ``[N, T]`` array is taken as one
channel), ``y`` (optional labels, one per series), and optionally ``X_test`` / ``y_test`` for the
probe's test split. Without ``X_test`` a seeded 30 % of the series is held out as the test split.
``y_reg`` (optional, numeric, one per series; ``y_reg_test`` beside ``X_test``) is a second,
continuous target over the same series for the multi-task head (:func:`read_npz_regression`).

Every array is checked as :mod:`tune_bs.data.arrays` says (real, finite, representable in
float32; labels one-dimensional, one per series, no NaN), each failure one line naming the file
and the key. An array that looks saved as ``[N, T, C]`` gives a warning with the fix. A file
that is empty, cut short or damaged is refused with one line, whatever part of it is damaged.
"""

from __future__ import annotations

import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from tune_bs.data.arrays import as_series, check_labels, swapped_layout_hint
from tune_bs.errors import UserInputError, quote

logger = logging.getLogger(__name__)
TEST_FRACTION = 0.3
#: What reading a damaged archive member may raise (numpy, zipfile, zlib).
_DAMAGED = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def _name(path: Path) -> str:
    return f"dataset.path {quote(str(path))}"


def _array(data: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        arr = np.asarray(data[key])
    except ValueError as exc:
        if "pickle" in str(exc).lower():  # object arrays need pickle, which we refuse
            raise UserInputError(
                f"{_name(path)}: array {key!r} must be numeric, but it holds Python objects; "
                "save it with a numeric dtype."
            ) from None
        raise _damaged(path, key, exc) from None
    except _DAMAGED as exc:
        raise _damaged(path, key, exc) from None
    return arr


def _damaged(path: Path, key: str, exc: BaseException) -> UserInputError:
    reason = quote((str(exc).splitlines() or [type(exc).__name__])[0], 120)
    return UserInputError(
        f"{_name(path)}: array {key!r} cannot be read ({reason}): the file is damaged or cut "
        "short; save it again with numpy.savez(path, X=X, y=y)."
    )


def _as_nct(X: np.ndarray, key: str, path: Path) -> np.ndarray:
    what = f"{_name(path)}: {key}"
    if X.ndim == 2:
        X = X[:, None, :]
    if X.ndim != 3:
        raise UserInputError(
            f"{what} must have shape [N, C, T] (3 dimensions), but has shape "
            f"{tuple(X.shape)}; reshape it to [series, channels, time steps]."
        )
    if X.shape[0] < 4 or X.shape[1] < 1 or X.shape[2] < 2:
        swapped = (
            f" (if it is [N, T, C], save {key}.transpose(0, 2, 1))"
            if X.shape[2] < 2 and X.shape[1] >= 2
            else ""
        )
        raise UserInputError(
            f"{what} must hold at least 4 series of at least 1 channel and 2 steps, but has "
            f"shape {tuple(X.shape)}{swapped}; use more data."
        )
    X = as_series(X, what)
    hint = swapped_layout_hint(X, what)
    if hint:
        logger.warning(hint)
    return X


def _labels(data: np.lib.npyio.NpzFile, key: str, n: int, path: Path) -> np.ndarray:
    y = _array(data, key, path)
    if y.dtype.kind not in "biufUS":
        raise UserInputError(
            f"{_name(path)}: {key} must hold numbers or strings, but has dtype {y.dtype}; "
            "save the labels as integers or strings."
        )
    return check_labels(y, n, f"{_name(path)}: {key}")


def read_npz(
    path: str | Path, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Return ``(X_train, y_train, X_test, y_test)`` from a ``.npz`` file (see module rules)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserInputError(
            f"dataset.path must name an existing .npz file, but {quote(str(path))} does not exist; "
            "check the path (relative paths are taken from the current directory)."
        )
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = "the file is empty" if isinstance(exc, EOFError) else str(exc)
        raise UserInputError(
            f"dataset.path {quote(str(path))} cannot be read as a .npz file "
            f"({quote(reason, 120)}); save it with numpy.savez(path, X=X, y=y)."
        ) from None
    if not hasattr(data, "files"):
        raise UserInputError(
            f"{_name(path)} holds a single array, not a .npz archive; save it with "
            "numpy.savez(path, X=X, y=y)."
        )
    if "X" not in data.files:
        raise UserInputError(
            f"{_name(path)} must contain an array named 'X', but it holds "
            f"{quote(sorted(data.files))}; save it with numpy.savez(path, X=X, y=y)."
        )
    X = _as_nct(_array(data, "X", path), "X", path)
    y = _labels(data, "y", len(X), path) if "y" in data.files else None
    if "X_test" in data.files:
        X_test = _as_nct(_array(data, "X_test", path), "X_test", path)
        if X_test.shape[1:] != X.shape[1:]:
            raise UserInputError(
                f"{_name(path)}: X_test must have the shape of X per series "
                f"{tuple(X.shape[1:])}, but has {tuple(X_test.shape[1:])}; resample one of them."
            )
        y_test = _labels(data, "y_test", len(X_test), path) if "y_test" in data.files else None
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
    n = len(_array(data, "X", path))
    y_reg = _target(data, "y_reg", n, path)
    if "X_test" in data.files:
        if "y_reg_test" not in data.files:
            return y_reg, None
        return y_reg, _target(data, "y_reg_test", len(_array(data, "X_test", path)), path)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(2, round(TEST_FRACTION * n))
    return y_reg[np.sort(perm[n_test:])], y_reg[np.sort(perm[:n_test])]


def _target(data: np.lib.npyio.NpzFile, key: str, n: int, path: Path) -> np.ndarray:
    """A continuous target: numeric, one finite value per series, as float64."""
    y = _array(data, key, path)
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.number) or y.shape != (n,):
        raise UserInputError(
            f"{_name(path)}: {key} must be numeric with one value per series ({n}), but has "
            f"dtype {y.dtype} and shape {tuple(y.shape)}; fix the target."
        )
    return check_labels(y, n, f"{_name(path)}: {key}").astype(np.float64)
