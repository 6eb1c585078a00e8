"""The UCR/UEA data sets that ship inside the ``aeon`` package, loaded offline by name.

Discovery is generic: every ``<Name>_TRAIN.ts`` with a matching ``<Name>_TEST.ts`` under aeon's
data folder is a data set (the ``_eq`` equal-length variants aeon ships are listed too). Nothing
is downloaded. The task (classification or regression) comes from the ``.ts`` header
(``@classLabel`` / ``@targetLabel``).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tune_bs.errors import unknown_name


@dataclass(frozen=True)
class AeonDataset:
    """Where one shipped data set lives and what kind of target it has."""

    name: str
    train_path: Path
    test_path: Path
    task: str


def aeon_data_dir() -> Path:
    import aeon.datasets

    return Path(aeon.datasets.__file__).parent / "data"


def _task_from_header(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            low = line.strip().lower()
            if low.startswith("@classlabel") and "true" in low:
                return "classification"
            if low.startswith("@targetlabel") and "true" in low:
                return "regression"
            if low.startswith("@data"):
                break
    return "unlabelled"


@functools.cache
def shipped_datasets() -> dict[str, AeonDataset]:
    """Map name → :class:`AeonDataset` for every train/test ``.ts`` pair aeon ships."""
    found: dict[str, AeonDataset] = {}
    root = aeon_data_dir()
    for train in sorted(root.glob("*/*_TRAIN.ts")):
        name = train.name[: -len("_TRAIN.ts")]
        test = train.with_name(f"{name}_TEST.ts")
        if test.exists():
            found[name] = AeonDataset(name, train, test, _task_from_header(train))
    return found


def read_split(path: Path) -> tuple[list[np.ndarray] | np.ndarray, np.ndarray]:
    """Read one ``.ts`` file: ``X`` as ``[N, C, T]`` or a list of ``[C, T_i]``, and its labels."""
    from aeon.datasets import load_from_ts_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X, y = load_from_ts_file(str(path))
    return X, np.asarray(y)


def resolve(name: str) -> AeonDataset:
    """Find a shipped data set by name (case-insensitive); unknown names list the valid ones."""
    sets = shipped_datasets()
    if name in sets:
        return sets[name]
    lowered = {k.lower(): k for k in sets}
    if name.lower() in lowered:
        return sets[lowered[name.lower()]]
    raise unknown_name("dataset.name", name, [*sets, "synthetic"])
