"""Which checkpoints an experiment keeps, and when the others are deleted: after it ends.

Every report carries a checkpoint (docs/design.md §7). While the experiment runs, all are kept: Ray
Tune
deletes surplus checkpoints at once, but the experiment state it saves to storage (which says
from which checkpoint each trial resumes) is uploaded only every so often, so a driver killed in
between leaves a state that names a deleted checkpoint, and ``tune-bs resume`` fails on it
("Could not recover from checkpoint as it does not exist on storage anymore" — seen on an S3
bucket). Once ``Tuner.fit`` returns, :func:`prune_experiment` deletes the surplus.

Rule (:func:`checkpoints_to_keep`): per trial, its latest checkpoint (a restart resumes from it)
and its ``keep_best`` best by the experiment's metric (the report that wrote each, from
``result.json``'s ``checkpoint_dir_name``; reports without a finite value rank last, ties go to
the earlier checkpoint). The rest are deleted.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence

import pyarrow
import pyarrow.fs as pafs

from tune_bs.search.storage import Location

logger = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")
RESULT_FILE = "result.json"


def checkpoints_to_keep(
    checkpoints: Sequence[str], scores: Mapping[str, float], mode: str, keep_best: int
) -> set[str]:
    """The latest of ``checkpoints`` (folder names ``checkpoint_NNNNNN``) and the ``keep_best``
    best by ``scores`` (``mode`` ``"min"`` or ``"max"``; missing or non-finite scores last)."""
    if not checkpoints:
        return set()
    ordered = sorted(checkpoints, key=lambda name: int(CHECKPOINT.match(name).group(1)))
    sign = 1.0 if mode == "min" else -1.0

    def rank(item: tuple[int, str]) -> tuple[float, int]:
        value = scores.get(item[1])
        good = value is not None and math.isfinite(value)
        return (sign * value if good else math.inf, item[0])

    best = sorted(enumerate(ordered), key=rank)[: max(0, keep_best)]
    return {ordered[-1], *(name for _, name in best)}


def prune_experiment(folder: Location, metric: str, mode: str, keep_best: int) -> int:
    """Delete, in every trial folder of the experiment at ``folder``, the checkpoints
    :func:`checkpoints_to_keep` does not keep; the number deleted. Failures are logged (the
    results stay as they are), never raised."""
    try:
        trials = [
            info.path
            for info in folder.fs.get_file_info(
                pafs.FileSelector(folder.path, allow_not_found=True)
            )
            if info.type == pafs.FileType.Directory
        ]
        deleted = 0
        for trial in trials:
            deleted += _prune_trial(folder.fs, trial, metric, mode, keep_best)
        return deleted
    except (OSError, pyarrow.ArrowException) as exc:
        logger.warning("checkpoints of %s not pruned (%s); all are kept.", folder.uri, exc)
        return 0


def _prune_trial(fs: pafs.FileSystem, trial: str, metric: str, mode: str, keep_best: int) -> int:
    names = [
        info.base_name
        for info in fs.get_file_info(pafs.FileSelector(trial))
        if info.type == pafs.FileType.Directory and CHECKPOINT.match(info.base_name)
    ]
    if not names:
        return 0
    keep = checkpoints_to_keep(
        names, _scores(fs, f"{trial}/{RESULT_FILE}", metric), mode, keep_best
    )
    for name in names:
        if name not in keep:
            fs.delete_dir(f"{trial}/{name}")
    return len(names) - len(keep)


def _scores(fs: pafs.FileSystem, path: str, metric: str) -> dict[str, float]:
    """``{checkpoint folder: metric value of the report that wrote it}`` (latest line wins)."""
    try:
        with fs.open_input_stream(path) as stream:
            text = stream.read().decode()
    except (FileNotFoundError, OSError):
        return {}
    scores: dict[str, float] = {}
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed driver
        name, value = row.get("checkpoint_dir_name"), row.get(metric)
        if isinstance(name, str) and isinstance(value, (int, float)):
            scores[name] = float(value)
    return scores
