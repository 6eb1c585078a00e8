"""What the extrapolation scheduler reads from a Tune trial: its results, config and result file.

Pure functions of one result, one config or one trial (no scheduler state): whether a result
holds reported metrics, the batch size a trial ran out of memory at, its budget (training
samples) and starting effective batch size, the start-up seconds in Tune's ``time_total_s``,
and the trial's ``result.json`` text (this session's copy, else the stored one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.result import DEBUG_METRICS, DONE

from tune_bs.metrics import OOM_BATCH_SIZE
from tune_bs.schedule.report_keys import ReportKeys
from tune_bs.schedule.switching import Report

RESULT_FILE = "result.json"


def carries_metrics(result: Mapping[str, Any]) -> bool:
    """Whether a result holds anything the trainable reported (Tune's rule for its own metric
    check: a trial that returned without reporting yields a result of bookkeeping keys only)."""
    own = {
        k
        for k in result
        if k not in DEBUG_METRICS and k != DONE and not str(k).startswith("config/")
    }
    return len(own) > 1


def memory_limit(trial: Trial, result: Mapping[str, Any] | None = None) -> int | None:
    """The smallest batch size the trial ran out of memory at (its reported ``oom_batch_size``,
    from ``result`` or its last result), ``None`` when it never did."""
    for source in (result, getattr(trial, "last_result", None)):
        if source and source.get(OOM_BATCH_SIZE) is not None:
            return int(source[OOM_BATCH_SIZE])
    return None


def finite(value: Any) -> float | None:
    """``value`` as a finite float, else ``None``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def start_size(config: Mapping[str, Any], keys: ReportKeys) -> int | None:
    """The effective batch size a trial's config sets (``batch_size × accumulation_steps``)."""
    try:
        return int(config[keys.config_batch_size]) * int(
            config.get(keys.config_accumulation_steps, 1)
        )
    except (KeyError, TypeError, ValueError):
        return None


def budget_of(config: Mapping[str, Any], key: str) -> float | None:
    """The trial's budget (its total training samples) under ``key``, ``None`` when absent."""
    budget = config.get(key)
    try:
        return None if budget is None else float(budget)
    except (TypeError, ValueError):
        return None


def startup_seconds(raw: Sequence[Report]) -> float:
    """Seconds of a trial's start-up in its first ``time_total_s`` (worker, data, model).

    Its first report's time less its samples at the pace of the next interval (same loader),
    clamped to ``[0, first time]``; 0 before the second report and below a millisecond.
    """
    if len(raw) < 2:
        return 0.0
    a, b = raw[0], raw[1]
    same = (a.batch_size, a.accumulation_steps) == (b.batch_size, b.accumulation_steps)
    if not same or b.samples_seen <= a.samples_seen or b.time_s <= a.time_s:
        return 0.0
    pace = (b.time_s - a.time_s) / (b.samples_seen - a.samples_seen)
    startup = min(a.time_s - a.samples_seen * pace, a.time_s)
    return startup if startup >= 1e-3 else 0.0


def shifted(report: Report, startup: float) -> Report:
    return replace(report, time_s=report.time_s - startup) if startup else report


def read_results(trial: Trial) -> str:
    """``result.json`` of a trial: this session's copy, else the one in the storage path (where
    a restored experiment's trials have theirs until they start); ``""`` when there is none."""
    try:
        local = Path(trial.local_path) / RESULT_FILE if trial.local_path else None
    except RuntimeError:  # a new trial has no folder yet
        return ""
    if local is not None and local.is_file():
        return local.read_text()
    storage = getattr(trial, "storage", None)
    if storage is None:
        return ""
    try:
        path = Path(trial.path, RESULT_FILE).as_posix()
        with storage.storage_filesystem.open_input_stream(path) as stream:
            return stream.read().decode()
    except (FileNotFoundError, OSError, RuntimeError):
        return ""
