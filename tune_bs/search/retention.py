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
the earlier checkpoint). Never deleted besides (:func:`named_checkpoints`): the checkpoint the
trial's latest report names, and the newest checkpoint of the trial that any
``experiment_state-*.json`` names (the one ``tune-bs resume`` would restore it from; found by
reading the state's bytes for ``<trial folder>/checkpoint_NNNNNN``, nothing is unpickled). The
rest are deleted. An interrupted run prunes nothing (:mod:`tune_bs.search.interrupt`).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence

import pyarrow
import pyarrow.fs as pafs

from tune_bs.search.storage import Location

logger = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")
RESULT_FILE = "result.json"
STATE_FILE = re.compile(r"^experiment_state-.*\.json$")


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


def named_checkpoints(states: Iterable[bytes], trial: str, checkpoints: Iterable[str]) -> set[str]:
    """Of ``checkpoints`` (folder names) of the trial folder ``trial``, the newest that each
    experiment state file (its bytes, ``states``) names as ``<trial>/checkpoint_NNNNNN``.

    Tune's state keeps each trial's checkpoint records pickled and hex-encoded; give each
    state as :func:`searchable` returns it. The highest index a state names is the trial's
    latest checkpoint in that state.
    """
    kept: set[str] = set()
    needles = {name: f"{trial}/{name}".encode() for name in set(checkpoints)}
    for text in states:
        named = [name for name, needle in needles.items() if needle in text]
        if named:
            kept.add(max(named, key=_index))
    return kept


_HEX_BLOB = re.compile(rb"[0-9a-f]{64,}")


def searchable(state: bytes) -> bytes:
    """A state file's bytes followed by its hex-encoded strings (Tune's
    ``CLOUDPICKLE_FALLBACK`` values) decoded: the paths they hold, readable without
    unpickling anything."""
    parts = [state]
    for found in _HEX_BLOB.finditer(state):
        text = found.group(0)
        if len(text) % 2 == 0:
            parts.append(bytes.fromhex(text.decode()))
    return b"\0".join(parts)


def _index(name: str) -> int:
    return int(CHECKPOINT.match(name).group(1))  # type: ignore[union-attr]


def prune_experiment(folder: Location, metric: str, mode: str, keep_best: int) -> int:
    """Delete, in every trial folder of the experiment at ``folder``, the checkpoints
    :func:`checkpoints_to_keep` does not keep and :func:`named_checkpoints` does not name, nor
    its latest report; the number deleted. Failures are logged (the results stay as they
    are), never raised."""
    try:
        entries = folder.fs.get_file_info(pafs.FileSelector(folder.path, allow_not_found=True))
        states = [
            searchable(_read(folder.fs, info.path))
            for info in entries
            if info.type == pafs.FileType.File and STATE_FILE.match(info.base_name)
        ]
        deleted = 0
        for info in entries:
            if info.type == pafs.FileType.Directory:
                deleted += _prune_trial(folder.fs, info.path, metric, mode, keep_best, states)
        return deleted
    except (OSError, pyarrow.ArrowException) as exc:
        logger.warning("checkpoints of %s not pruned (%s); all are kept.", folder.uri, exc)
        return 0


def _prune_trial(
    fs: pafs.FileSystem, trial: str, metric: str, mode: str, keep_best: int, states: list[bytes]
) -> int:
    names = [
        info.base_name
        for info in fs.get_file_info(pafs.FileSelector(trial))
        if info.type == pafs.FileType.Directory and CHECKPOINT.match(info.base_name)
    ]
    if not names:
        return 0
    scores, latest = _reports(fs, f"{trial}/{RESULT_FILE}", metric)
    keep = checkpoints_to_keep(names, scores, mode, keep_best)
    keep |= named_checkpoints(states, trial.rstrip("/").rsplit("/", 1)[-1], names)
    keep |= {latest} & set(names)
    for name in names:
        if name not in keep:
            fs.delete_dir(f"{trial}/{name}")
    return len(names) - len(keep)


def _read(fs: pafs.FileSystem, path: str) -> bytes:
    try:
        with fs.open_input_stream(path) as stream:
            return stream.read()
    except (FileNotFoundError, OSError):
        return b""


def _reports(fs: pafs.FileSystem, path: str, metric: str) -> tuple[dict[str, float], str | None]:
    """``({checkpoint folder: metric value of the report that wrote it}, the checkpoint the
    latest report names)``; the latest line wins."""
    scores: dict[str, float] = {}
    latest = None
    for line in _read(fs, path).decode(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed driver
        if not isinstance(row, dict):
            continue
        name, value = row.get("checkpoint_dir_name"), row.get(metric)
        if isinstance(name, str):
            latest = name
            if isinstance(value, (int, float)):
                scores[name] = float(value)
    return scores, latest
