"""Before a resume: drop each unfinished trial's reports that came after its last saved
checkpoint, so that the resumed trial writes them once.

NOTE [two steps]: in Ray 2.60 a report that carries a checkpoint reaches the experiment in two
steps: the result is logged (a ``result.json`` / ``progress.csv`` row), then the checkpoint is
registered by a separate "save" event. A run stopped between the two (Ctrl-C while results come
in), or a driver killed before its state was uploaded, leaves a row whose checkpoint the saved
experiment state does not name. ``Tuner.restore`` resumes the trial from the checkpoint the state
names, so the trial makes that report again: without this step ``result.json`` would hold it
twice.

Rule (:func:`rewind_experiment`): for every trial that the newest ``experiment_state-*.json``
does not record as ``TERMINATED``, the rows after the one whose ``checkpoint_dir_name`` is the
trial's latest checkpoint in that state are removed from ``result.json`` and ``progress.csv``
(all rows when the state names no checkpoint: the trial starts again). The removed reports are
made again by the resumed trial from the same checkpoint. The state is read as plain JSON and the
checkpoint names are found in the bytes of its hex-encoded records: nothing is unpickled. Run it
after the state's signature is checked (:mod:`tune_bs.search.signing`).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from tune_bs.search.retention import CHECKPOINT, RESULT_FILE, STATE_FILE, searchable
from tune_bs.search.storage import Location

logger = logging.getLogger(__name__)

PROGRESS_FILE = "progress.csv"
_NAMED = re.compile(rb"checkpoint_(\d{6,})")


def latest_checkpoints(state: bytes) -> dict[str, tuple[str, str | None]]:
    """``{trial folder: (Ray status, latest checkpoint folder or None)}`` of an experiment
    state file's bytes; ``{}`` when it cannot be read as one."""
    try:
        raw = json.loads(state)
        entries = raw["trial_data"]
    except (ValueError, KeyError, TypeError):
        return {}
    trials: dict[str, tuple[str, str | None]] = {}
    for entry in entries if isinstance(entries, list) else []:
        try:
            trial = json.loads(entry[0])
            folder, status = str(trial["relative_logdir"]), str(trial.get("status"))
            metadata = json.loads(entry[1]) if isinstance(entry[1], str) else entry[1]
            manager = json.dumps(metadata.get("checkpoint_manager")).encode()
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            continue
        # only the checkpoint records: the last result names its checkpoint before it is saved
        indices = [int(i) for i in _NAMED.findall(searchable(manager))]
        trials[folder] = (status, f"checkpoint_{max(indices):06d}" if indices else None)
    return trials


def kept_rows(rows: list[dict[str, Any]], checkpoint: str | None) -> int:
    """How many leading rows to keep: up to the row that wrote ``checkpoint`` (0 when it is
    ``None`` or no row names it)."""
    if checkpoint is None:
        return 0
    for index in range(len(rows) - 1, -1, -1):
        if rows[index].get("checkpoint_dir_name") == checkpoint:
            return index + 1
    return 0


def rewind_experiment(folder: Location) -> dict[str, int]:
    """Apply the module rule to the experiment at ``folder``; ``{trial folder: rows removed}``
    for the trials that lost any."""
    names = folder.names()
    states = sorted(n for n, is_file in names.items() if is_file and STATE_FILE.match(n))
    if not states:
        return {}
    removed: dict[str, int] = {}
    for trial, (status, checkpoint) in latest_checkpoints(folder.read_bytes(states[-1])).items():
        if status == "TERMINATED" or names.get(trial, True):  # ended, or no trial folder
            continue
        dropped = _rewind_trial(folder.child(trial), checkpoint)
        if dropped:
            removed[trial] = dropped
            logger.info(
                "tune-bs: trial %s: %d report(s) after its last saved checkpoint (%s) will be "
                "made again.",
                trial,
                dropped,
                checkpoint or "none yet",
            )
    return removed


def _rewind_trial(trial: Location, checkpoint: str | None) -> int:
    if checkpoint is not None and not CHECKPOINT.match(checkpoint):
        return 0
    try:
        lines = trial.read_text(RESULT_FILE).splitlines(keepends=True)
    except (FileNotFoundError, OSError, UnicodeDecodeError):
        return 0
    rows, kept_lines = [], []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut short by a killed driver
        if isinstance(row, dict):
            rows.append(row)
            kept_lines.append(line if line.endswith("\n") else line + "\n")
    keep = kept_rows(rows, checkpoint)
    if keep == len(rows) and len(kept_lines) == len(lines):
        return 0
    trial.write_text(RESULT_FILE, "".join(kept_lines[:keep]))
    _truncate_progress(trial, keep, len(rows))
    return len(rows) - keep


def _truncate_progress(trial: Location, keep: int, rows: int) -> None:
    """Keep the header and the first ``keep`` rows of ``progress.csv`` when it has one row per
    ``result.json`` row (else it is left as it is)."""
    try:
        lines = trial.read_text(PROGRESS_FILE).splitlines(keepends=True)
    except (FileNotFoundError, OSError, UnicodeDecodeError):
        return
    if len(lines) - 1 == rows:
        trial.write_text(PROGRESS_FILE, "".join(lines[: keep + 1]))
