"""Load Ray Tune's per-trial result files into one tidy frame (no running cluster needed).

An experiment directory ``STORAGE/NAME`` in Ray Tune 2.60's layout holds
``experiment_state-<timestamp>.json`` (the trials' statuses, rewritten while the run goes on)
and one folder per trial with ``params.json`` (the trial config) and ``result.json`` (one JSON
object per report). :func:`load_trials` reads them into a frame with one row per report:

- ``experiment`` (the directory name), ``trial_id``, ``status`` (see :func:`trial_status`),
  ``trial_dir`` (the trial's folder);
- the config keys (nested dicts flattened as ``outer/inner``; a config key that is also a metric
  name, such as ``batch_size``, keeps the metric's per-report value);
- every scalar metric of the report, known or not (``n_modes``, ``effective_batch_size``, … travel
  through unchanged).

A resumed trial may write an iteration twice: rows are de-duplicated by ``training_iteration``,
keeping the latest line. A trial that never reported (still ``PENDING``) keeps one placeholder row
with its config and no metrics, so tables can mark it; plots and time-to-target skip such rows.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tune_bs import metrics as m
from tune_bs.errors import UserInputError

EXPERIMENT = "experiment"
TRIAL_ID = "trial_id"
STATUS = "status"
#: The trial's folder (a local path), where its ``params.json`` and checkpoints are.
TRIAL_DIR = "trial_dir"

# Statuses shown in the tables. Ray's own are TERMINATED / ERROR / RUNNING / PAUSED / PENDING.
TERMINATED = "TERMINATED"
ERROR = "ERROR"
DIVERGED = "DIVERGED"
UNFINISHED = "UNFINISHED"  # reported at least once, then the run stopped or is still going
PENDING = "PENDING"  # never reported a result
UNKNOWN = "UNKNOWN"  # no experiment state to tell, no error file, no final ``done`` report

_STATE_GLOB = "experiment_state-*.json"
_RAY_UNFINISHED = {"RUNNING", "PAUSED", "PENDING"}
_TRIAL_ID_IN_DIRNAME = re.compile(r"_([0-9a-f]{5}_\d{5})(?:_|$)")


@dataclass
class _Trial:
    """What one trial folder and the experiment state say about one trial."""

    trial_id: str
    config: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    ray_status: str | None = None
    has_error_file: bool = False
    folder: Path | None = None


def parse_schedule(schedule: object) -> list[tuple[int, int]]:
    """Parse ``"samples:batch;samples:batch"`` into ``[(samples, batch), ...]``.

    >>> parse_schedule("0:16;1200:32")
    [(0, 16), (1200, 32)]

    Empty, missing or malformed entries are skipped, so a half-written value gives what it can.
    """
    if not isinstance(schedule, str):
        return []
    pairs: list[tuple[int, int]] = []
    for entry in schedule.split(";"):
        samples, sep, batch = entry.strip().partition(":")
        if not sep:
            continue
        try:
            pairs.append((int(float(samples)), int(float(batch))))
        except ValueError:
            continue
    return pairs


def find_experiments(directory: Path) -> list[Path]:
    """Experiment directories at or directly under ``directory`` (a ``STORAGE`` holds several)."""
    directory = Path(directory)
    if _is_experiment(directory):
        return [directory]
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and _is_experiment(p))


def load_trials(experiment_dirs: Sequence[Path | str]) -> pd.DataFrame:
    """Read one or more experiment directories into a per-report frame.

    Args:
        experiment_dirs: experiment directories (``STORAGE/NAME``), or storage directories whose
            sub-directories are experiments. Several combine into one frame (e.g. one per data set).

    Returns:
        One row per (trial, ``training_iteration``), sorted by experiment, trial and iteration;
        columns ``experiment``, ``trial_id``, ``status``, the config keys and the metrics.
        ``frame.attrs["config_keys"]`` lists the config columns.

    Raises:
        UserInputError: a directory holds no experiment, or no trial of it reported a result.
    """
    if isinstance(experiment_dirs, (str, Path)):
        experiment_dirs = [experiment_dirs]
    if not experiment_dirs:
        raise UserInputError("report needs at least one results directory; pass RESULTS_DIR.")
    experiments = _experiments_in(experiment_dirs)
    names = _experiment_names(experiments)
    records: list[dict[str, Any]] = []
    config_keys: dict[str, None] = {}
    for path in experiments:
        trials = _read_experiment(path)
        if not any(t.rows for t in trials):
            raise UserInputError(no_results_message(path, trials))
        for trial in trials:
            records.extend(_trial_records(trial, names[path], config_keys))

    frame = pd.DataFrame.from_records(records)
    if m.TRAINING_ITERATION in frame:
        frame = frame.sort_values(
            [EXPERIMENT, TRIAL_ID, m.TRAINING_ITERATION], kind="stable", na_position="first"
        ).reset_index(drop=True)
    reserved = {EXPERIMENT, TRIAL_ID, STATUS, TRIAL_DIR}
    frame.attrs["config_keys"] = [k for k in config_keys if k not in reserved]
    return frame


def _experiments_in(experiment_dirs: Sequence[Path | str]) -> list[Path]:
    """The experiments in each directory, in order; a one-line error for one that holds none."""
    experiments: list[Path] = []
    for directory in experiment_dirs:
        found = find_experiments(Path(directory))
        if not found:
            raise UserInputError(
                f"{directory} holds no tune-bs experiment (no experiment_state-*.json or trial "
                "folders); run `tune-bs run` first."
            )
        experiments.extend(found)
    return experiments


def _trial_records(
    trial: _Trial, experiment: str, config_keys: dict[str, None]
) -> list[dict[str, Any]]:
    """One record per report of ``trial`` (one without metrics when it reported none): its
    ids, status, folder, config (a report's own config wins) and metrics. Adds the config keys
    seen to ``config_keys`` (in order of first sight)."""
    status = trial_status(trial.ray_status, trial.has_error_file, trial.rows)
    for key in trial.config:
        config_keys.setdefault(key)
    records = []
    for row in trial.rows or [{}]:
        record = {
            EXPERIMENT: experiment,
            TRIAL_ID: trial.trial_id,
            STATUS: status,
            TRIAL_DIR: None if trial.folder is None else str(trial.folder),
        }
        config = dict(trial.config)
        if isinstance(row.get("config"), Mapping):
            config.update(_flatten_config(row["config"]))
        record.update(config)
        record.update({k: v for k, v in row.items() if k != "config"})
        for key in config:
            config_keys.setdefault(key)
        records.append(record)
    return records


def no_results_message(path: Path, trials: Sequence[_Trial]) -> str:
    """The one-line message for an experiment in which no trial reported a result."""
    if not trials:
        return (
            f"{path} holds no tune-bs experiment (no experiment_state-*.json or trial folders); "
            "run `tune-bs run` first."
        )
    counts = pd.Series(
        [trial_status(t.ray_status, t.has_error_file, t.rows) for t in trials]
    ).value_counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    return (
        f"{path} holds {len(trials)} trial(s) but none reported a result ({summary}); "
        f"run `tune-bs resume {path}` to finish it, or read error.txt in its trial folders."
    )


def trial_status(ray_status: str | None, has_error_file: bool, rows: Sequence[Mapping]) -> str:
    """Decide a trial's status for the tables.

    In order: ``ERROR`` when its last report carries ``trial_error`` (it failed on its input and
    ended at once: Ray saw no error); ``DIVERGED`` when its last report says ``diverged``; else
    Ray's status from the
    newest ``experiment_state-*.json`` (``TERMINATED`` and ``ERROR`` kept; ``RUNNING``, ``PAUSED``
    and ``PENDING`` become ``UNFINISHED``, or ``PENDING`` when it never reported); without a state
    entry,
    ``ERROR`` when the folder holds ``error.txt``/``error.pkl``, ``TERMINATED`` when the last report
    has ``done``, ``PENDING`` when it never reported, else ``UNKNOWN``.
    """
    last = rows[-1] if rows else {}
    if trial_error(last):
        return ERROR
    if _truthy(last.get(m.DIVERGED)):
        return DIVERGED
    if ray_status in (TERMINATED, ERROR):
        return ray_status
    if ray_status in _RAY_UNFINISHED:
        return UNFINISHED if rows else PENDING
    if has_error_file:
        return ERROR
    if not rows:
        return PENDING
    if _truthy(last.get("done")):
        return TERMINATED
    return UNKNOWN


def trial_error(row: Mapping[str, Any]) -> str | None:
    """The one-line cause a report carries when its trial failed on its input, else ``None``."""
    value = row.get(m.TRIAL_ERROR)
    return value if isinstance(value, str) and value.strip() else None


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _is_experiment(path: Path) -> bool:
    if not path.is_dir():
        return False
    if any(path.glob(_STATE_GLOB)):
        return True
    return any(_is_trial_dir(p) for p in path.iterdir() if p.is_dir())


def _is_trial_dir(path: Path) -> bool:
    return (path / "params.json").is_file() or (path / "result.json").is_file()


def _experiment_names(paths: Sequence[Path]) -> dict[Path, str]:
    """The directory name, or the full path when two experiments share a name."""
    names = [p.name for p in paths]
    return {p: (p.name if names.count(p.name) == 1 else str(p)) for p in paths}


def _read_experiment(path: Path) -> list[_Trial]:
    states = _read_state(path)  # relative_logdir -> (trial_id, status, config)
    folders = {p.name: p for p in path.iterdir() if p.is_dir() and _is_trial_dir(p)}
    for logdir in states:
        if (path / logdir).is_dir():
            folders.setdefault(logdir, path / logdir)

    trials: dict[str, _Trial] = {}
    for name in sorted(set(folders) | set(states)):
        folder = folders.get(name)
        state_id, ray_status, state_config = states.get(name, (None, None, {}))
        rows = _read_rows(folder) if folder is not None else []
        trial_id = (
            state_id
            or next((str(r[TRIAL_ID]) for r in rows if r.get(TRIAL_ID)), None)
            or _trial_id_from_dirname(name)
        )
        config = _flatten_config(state_config)
        if folder is not None:
            config.update(_flatten_config(_read_json(folder / "params.json") or {}))
        trial = trials.setdefault(trial_id, _Trial(trial_id))
        trial.config.update(config)
        trial.rows.extend(rows)
        trial.ray_status = ray_status or trial.ray_status
        if folder is not None:
            trial.folder = folder
            trial.has_error_file |= (folder / "error.txt").is_file() or (
                folder / "error.pkl"
            ).is_file()
    for trial in trials.values():
        trial.rows = _deduplicate(trial.rows)
    return list(trials.values())


def _read_state(path: Path) -> dict[str, tuple[str | None, str | None, dict[str, Any]]]:
    """``relative_logdir -> (trial_id, status, config)`` from the newest experiment state file."""
    files = sorted(path.glob(_STATE_GLOB), key=lambda p: (p.name, p.stat().st_mtime))
    if not files:
        return {}
    data = _read_json(files[-1])
    states: dict[str, tuple[str | None, str | None, dict[str, Any]]] = {}
    if not isinstance(data, Mapping):
        warnings.warn(
            f"{files[-1]} could not be read; trial statuses are inferred from the trial folders.",
            stacklevel=3,
        )
        return states
    for entry in data.get("trial_data", []):
        try:
            trial = json.loads(entry[0]) if isinstance(entry[0], str) else entry[0]
            logdir = trial.get("relative_logdir") or trial["trial_id"]
            config = trial.get("config") if isinstance(trial.get("config"), Mapping) else {}
            states[str(logdir)] = (trial.get("trial_id"), trial.get("status"), dict(config))
        except (TypeError, KeyError, IndexError, ValueError):
            continue
    return states


def _read_rows(folder: Path) -> list[dict[str, Any]]:
    result = folder / "result.json"
    if result.is_file():
        rows: list[dict[str, Any]] = []
        skipped = 0
        with result.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    skipped += 1  # a line cut short when the driver was killed mid-write
                    continue
                if isinstance(row, dict):
                    rows.append(_flatten_metrics(row))
        if skipped:
            warnings.warn(
                f"{result}: skipped {skipped} unreadable line(s); the report uses the others.",
                stacklevel=4,
            )
        return rows
    progress = folder / "progress.csv"
    if progress.is_file() and progress.stat().st_size:
        try:
            return pd.read_csv(progress).to_dict("records")
        except (ValueError, pd.errors.ParserError):
            return []
    return []


def _deduplicate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per ``training_iteration``, the latest written winning; in iteration order."""
    by_iteration: dict[Any, dict[str, Any]] = {}
    unnumbered: list[dict[str, Any]] = []
    for row in rows:
        iteration = row.get(m.TRAINING_ITERATION)
        if iteration is None:
            unnumbered.append(row)
        else:
            by_iteration.pop(iteration, None)
            by_iteration[iteration] = row
    ordered = [by_iteration[k] for k in sorted(by_iteration)]
    return ordered + unnumbered


def _flatten_metrics(row: Mapping[str, Any]) -> dict[str, Any]:
    """Keep scalars; flatten nested dicts (``info/x``) except ``config``; drop lists."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if key == "config":
            flat[key] = value
        elif isinstance(value, Mapping):
            for sub, sub_value in _flatten_metrics(value).items():
                if sub != "config":
                    flat[f"{key}/{sub}"] = sub_value
        elif value is None or isinstance(value, (str, int, float, bool)):
            flat[key] = value
    return flat


def _flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a config; a ``dataset`` dict (``name:``/``path:`` + options) gives its name."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if not prefix and key == "dataset":
                label = value.get("name") or Path(str(value.get("path", ""))).stem or None
                flat[name] = label
            flat.update(_flatten_config(value, f"{name}/"))
        elif isinstance(value, (list, tuple)):
            flat[name] = ",".join(str(v) for v in value)
        else:
            flat[name] = value
    return flat


def _trial_id_from_dirname(name: str) -> str:
    match = _TRIAL_ID_IN_DIRNAME.search(name)
    return match.group(1) if match else name


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None
