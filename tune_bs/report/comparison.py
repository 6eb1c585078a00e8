"""The comparison table: one row per (dataset, strategy, scheduler, encoder) of trials.

Groups are compared on validation metrics and on the samples and time their trials took to reach
a target (:func:`targets`); the test score is shown, never ranked on (see
:mod:`tune_bs.report.tables`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tune_bs import metrics as m
from tune_bs.report import references
from tune_bs.report.frame import EXPERIMENT, STATUS, TERMINATED, TRIAL_ID
from tune_bs.report.tables import (
    BATCH_SIZE_FINAL,
    BATCH_SIZE_INITIAL,
    DATASET,
    GROUP_KEYS,
    LR,
    SEED,
    reported_rows,
    sort_by_metric,
    trial_table,
)

#: The default target is this fraction of the best final value of the metric, per data set.
TARGET_FRACTION = 0.95


def targets(
    trials: pd.DataFrame,
    metric: str,
    mode: str,
    target: float | Mapping[str, float] | None = None,
) -> dict[Any, float]:
    """The target value of ``metric`` per data set.

    ``None`` (default): :data:`TARGET_FRACTION` of the best final value among the data set's trials
    (``mode="max"``: 0.95 × best; ``mode="min"``: best / 0.95). A number: that value for every data
    set. A mapping: data set name -> value (data sets it lacks get the default).
    """
    result: dict[Any, float] = {}
    for dataset, group in trials.groupby(DATASET, dropna=False, sort=False):
        explicit = target.get(dataset) if isinstance(target, Mapping) else target
        if explicit is not None:
            result[dataset] = float(explicit)
            continue
        finals = pd.to_numeric(group[metric], errors="coerce")
        finals = finals[np.isfinite(finals)]
        if finals.empty:
            result[dataset] = math.nan
        elif mode == "max":
            result[dataset] = TARGET_FRACTION * float(finals.max())
        else:
            result[dataset] = float(finals.min()) / TARGET_FRACTION
    return result


def time_to_target(
    reports: pd.DataFrame, metric: str, mode: str, target: float
) -> tuple[float, float]:
    """``(samples_seen, time_total_s)`` at a trial's first report that reaches ``target``.

    ``reports`` is one trial's rows in training order; NaN, NaN when it never reaches the target.
    """
    if metric not in reports or not math.isfinite(target):
        return math.nan, math.nan
    values = pd.to_numeric(reports[metric], errors="coerce")
    hit = values >= target if mode == "max" else values <= target
    if not hit.any():
        return math.nan, math.nan
    row = reports.loc[hit.idxmax()]
    return float(row.get(m.SAMPLES_SEEN, math.nan)), float(row.get(m.TIME_TOTAL_S, math.nan))


def comparison_table(
    frame: pd.DataFrame,
    target: float | Mapping[str, float] | None = None,
    metric: str = m.VAL_LOSS,
    mode: str = "min",
) -> pd.DataFrame:
    """Compare strategies: one row per (dataset, strategy, scheduler, encoder).

    Columns (numbers stay numbers, so the CSV round-trips; :func:`display_comparison` merges
    mean and std into ``"0.95 ± 0.01"`` for reading):

    - ``trials``; ``finished`` (status ``TERMINATED``);
    - ``<m>_mean`` / ``<m>_std`` over the group's trials of the final ``val_probe_acc`` and
      ``test_probe_acc`` (the ``*_r2`` pair when reported) and ``val_loss`` (std is NaN for a
      single trial): an aggregate of every trial, in which nothing is selected;
    - ``target`` (see :func:`targets`; default 95 % of the data set's best final ``metric``),
      ``reached`` (trials that reached it), ``samples_to_target`` and ``time_to_target_s``: the
      mean over the trials that reached it of ``samples_seen`` and ``time_total_s`` at their first
      report at or past the target;
    - ``compute_s``: the compute the group used, the sum of its trials' final ``time_total_s``;
    - ``best_trial``, ``best_<metric>``, ``best_config`` (the searched keys of its best trial by
      the validation ``metric``) and ``best_<test metric>``, that trial's final test score;
    - ``ref_ts2vec``, ``ref_tloss``, ``ref_rocket`` and ``gap_ts2vec`` (= ``test_probe_acc_mean``
      − ``ref_ts2vec``) when a data set in the table has published results (docs/design.md).

    Rows are ordered by data set, then best ``<metric>_mean`` first.
    """
    trials = trial_table(frame, metric, mode)
    for key in GROUP_KEYS:
        trials[key] = trials[key].astype(object).where(trials[key].notna(), "n/a")
    goal = targets(trials, metric, mode, target)
    configs = _searched_configs(frame, trials)

    reports = {key: reported_rows(group) for key, group in frame.groupby([EXPERIMENT, TRIAL_ID])}
    hits = [
        time_to_target(reports[(row[EXPERIMENT], row[TRIAL_ID])], metric, mode, goal[row[DATASET]])
        for _, row in trials.iterrows()
    ]
    trials["_samples_to_target"] = [h[0] for h in hits]
    trials["_time_to_target_s"] = [h[1] for h in hits]

    value_metrics = _value_metrics(frame, metric)
    rows = [
        _group_row(
            dict(zip(GROUP_KEYS, keys, strict=True)), group, value_metrics, goal, metric, mode
        )
        for keys, group in trials.groupby(list(GROUP_KEYS), sort=False, dropna=False)
    ]
    for row in rows:
        row["best_config"] = configs.get(row.pop("_best_key"), "")
    table = _with_references(pd.DataFrame.from_records(rows))
    ascending = mode == "min"
    return table.sort_values(
        [DATASET, f"{metric}_mean"], ascending=[True, ascending], na_position="last", kind="stable"
    ).reset_index(drop=True)


def _value_metrics(frame: pd.DataFrame, metric: str) -> list[str]:
    """The metrics averaged per group: the probes' scores reported, ``val_loss`` and ``metric``."""
    value_metrics = [
        c
        for c in (m.VAL_PROBE_ACC, m.TEST_PROBE_ACC, m.VAL_PROBE_R2, m.TEST_PROBE_R2)
        if c in frame
    ] + [m.VAL_LOSS]
    if metric not in value_metrics:
        value_metrics.append(metric)
    return value_metrics


def _group_row(
    row: dict[str, Any],
    group: pd.DataFrame,
    value_metrics: Sequence[str],
    goal: Mapping[Any, float],
    metric: str,
    mode: str,
) -> dict[str, Any]:
    """One group's row of :func:`comparison_table` (``row`` holds its grouping keys); its best
    trial's ``(experiment, trial_id)`` is under ``_best_key``."""
    row["trials"] = len(group)
    row["finished"] = int((group[STATUS] == TERMINATED).sum())
    for name in value_metrics:
        values = pd.to_numeric(group[name], errors="coerce")
        values = values[np.isfinite(values)]
        row[f"{name}_mean"] = float(values.mean()) if len(values) else math.nan
        row[f"{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    reached = group["_samples_to_target"].notna()
    row["target"] = goal[row[DATASET]]
    row["reached"] = int(reached.sum())
    row["samples_to_target"] = _mean(group.loc[reached, "_samples_to_target"])
    row["time_to_target_s"] = _mean(group.loc[reached, "_time_to_target_s"])
    row["compute_s"] = float(pd.to_numeric(group[m.TIME_TOTAL_S], errors="coerce").sum())
    best = sort_by_metric(group, metric, mode, by_experiment=False).iloc[0]
    row["best_trial"] = best[TRIAL_ID]
    row[f"best_{metric}"] = best[metric]
    for test in (m.TEST_PROBE_ACC, m.TEST_PROBE_R2):
        if test in best:
            row[f"best_{test}"] = best[test]
    row["_best_key"] = (best[EXPERIMENT], best[TRIAL_ID])
    return row


def _with_references(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the published results of its data sets and ``gap_ts2vec``, when any has
    them."""
    if any(references.has_reference(d) for d in table[DATASET]):
        refs = pd.DataFrame.from_records([references.reference(d) for d in table[DATASET]])
        table = pd.concat([table, refs], axis=1)
        if f"{m.TEST_PROBE_ACC}_mean" in table:
            table["gap_ts2vec"] = table[f"{m.TEST_PROBE_ACC}_mean"] - table[references.TS2VEC]
    return table


def display_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for reading: ``x_mean`` + ``x_std`` -> ``x`` as ``"0.950 ± 0.010"``,
    ``reached`` as ``"k/n"``. Use the numeric table for CSV."""
    shown = table.copy()
    for column in list(shown.columns):
        if not column.endswith("_mean"):
            continue
        name = column[: -len("_mean")]
        std = f"{name}_std"
        shown[column] = [
            _mean_std(mean, shown.at[i, std] if std in shown else math.nan)
            for i, mean in shown[column].items()
        ]
        shown = shown.drop(columns=[std], errors="ignore").rename(columns={column: name})
    if {"reached", "trials"} <= set(shown.columns):
        pairs = zip(shown["reached"], shown["trials"], strict=True)
        shown["reached"] = [f"{r}/{n}" for r, n in pairs]
    return shown


def _mean_std(mean: float, std: float) -> str:
    if mean is None or not math.isfinite(mean):
        return ""
    if std is None or not math.isfinite(std):
        return f"{mean:.4g}"
    if std <= 1e-9 * max(1.0, abs(mean)):  # float round-off of identical values
        std = 0.0
    return f"{mean:.4g} ± {std:.2g}"


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else math.nan


def _searched_configs(frame: pd.DataFrame, trials: pd.DataFrame) -> dict[tuple, str]:
    """``(experiment, trial_id) -> "batch_size=16→32, lr=0.001"`` over the keys that vary.

    A key is shown when it takes more than one value among the trials of the same data set;
    grouping keys, ``seed`` and private keys (``_switch_at`` …) are left out (they are columns,
    noise or bookkeeping); the batch size is shown as its schedule's initial → final value.
    """
    keys = [
        k
        for k in frame.attrs.get("config_keys", [LR])
        if k in frame and k not in (*GROUP_KEYS, SEED, m.BATCH_SIZE) and not k.startswith("_")
    ]
    firsts = frame.groupby([EXPERIMENT, TRIAL_ID], sort=False)[keys].first() if keys else None
    result: dict[tuple, str] = {}
    for _, group in trials.groupby(DATASET, dropna=False, sort=False):
        index = list(zip(group[EXPERIMENT], group[TRIAL_ID], strict=True))
        varying: Sequence[str] = []
        if firsts is not None:
            sub = firsts.loc[index]
            varying = [k for k in keys if sub[k].astype(str).nunique() > 1]
        vary_batch = (
            group[BATCH_SIZE_INITIAL].nunique() > 1 or group[BATCH_SIZE_FINAL].nunique() > 1
        )
        for position, (_, trial) in enumerate(group.iterrows()):
            parts = []
            if vary_batch:
                start, end = trial[BATCH_SIZE_INITIAL], trial[BATCH_SIZE_FINAL]
                parts.append(f"batch_size={start}" + (f"→{end}" if end != start else ""))
            for key in varying:
                parts.append(f"{key}={_short(firsts.loc[index[position], key])}")
            result[index[position]] = ", ".join(parts)
    return result


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
