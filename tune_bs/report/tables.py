"""The per-trial and comparison tables built from the tidy frame of :mod:`tune_bs.report.frame`.

Trials are compared by ``val_loss`` (fixed validation views and batches), the cross-validated
probe (``val_probe_acc``) and ``samples_seen`` / wall time, never by the raw training loss, whose
value depends on the batch size (it is left out of the tables on purpose). Sorting, targets and
"best" always use the validation metric given; ``test_probe_acc`` is shown, never ranked on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.report import references
from tune_bs.report.frame import EXPERIMENT, STATUS, TERMINATED, TRIAL_ID, parse_schedule

DATASET = "dataset"
STRATEGY = "strategy"
SCHEDULER = "scheduler"
ENCODER = "encoder"
SEED = "seed"
LR = "lr"
BATCH_SIZE_INITIAL = "batch_size_initial"
BATCH_SIZE_FINAL = "batch_size_final"

#: The comparison table's grouping keys, coarsest first.
GROUP_KEYS: tuple[str, ...] = (DATASET, STRATEGY, SCHEDULER, ENCODER)

#: Columns of the per-trial table (docs/design.md §6, plus experiment and data set); extras follow.
TRIAL_COLUMNS: tuple[str, ...] = (
    EXPERIMENT,
    TRIAL_ID,
    DATASET,
    STRATEGY,
    SCHEDULER,
    ENCODER,
    BATCH_SIZE_INITIAL,
    BATCH_SIZE_FINAL,
    m.BATCH_SIZE_SCHEDULE,
    m.SWITCHES,
    m.SAMPLES_SEEN,
    m.VAL_LOSS,
    m.VAL_PROBE_ACC,
    m.TEST_PROBE_ACC,
    m.TIME_TOTAL_S,
    STATUS,
)

#: Ray Tune's own bookkeeping keys in ``result.json``: never shown as metrics.
RAY_KEYS = frozenset(
    {
        "timestamp",
        "done",
        "training_iteration",
        "time_this_iter_s",
        "time_since_restore",
        "iterations_since_restore",
        "should_checkpoint",
        "checkpoint_dir_name",
        "pid",
        "hostname",
        "node_ip",
        "date",
        "experiment_tag",
        "experiment_id",
        "trial_dir",
    }
)

#: The default target is this fraction of the best final value of the metric, per data set.
TARGET_FRACTION = 0.95

# NOTE [train_loss]: the NT-Xent training loss depends on the batch size (docs/design.md §4); it
# stays in
# the tidy frame but is left out of the tables so nobody ranks trials by it.
_NOT_EXTRA = frozenset({m.TRAIN_LOSS, m.DIVERGED, m.BATCH_SIZE, m.TRAINING_ITERATION})


def check_metric(frame: pd.DataFrame, metric: str, mode: str) -> None:
    """Raise :class:`UserInputError` for a test metric, an unknown mode or a metric no trial
    reported."""
    from tune_bs.report.selection import check_selection_metric

    check_selection_metric(metric)
    if mode not in ("max", "min"):
        raise UserInputError(f"mode must be 'max' or 'min', but got mode={mode!r}.")
    if metric not in frame or frame[metric].isna().all():
        reported = sorted(k for k in m.OPTIMISABLE if k in frame and frame[k].notna().any())
        raise UserInputError(
            f"metric must be one the trials reported ({', '.join(reported) or 'none'}), but got "
            f"metric={metric!r}; pass one of those."
        )


def trial_table(frame: pd.DataFrame, metric: str = m.VAL_LOSS, mode: str = "min") -> pd.DataFrame:
    """One row per trial: its final values, its batch-size history and its status.

    Args:
        frame: the per-report frame from :func:`~tune_bs.report.frame.load_trials`.
        metric: the validation column to sort by (``val_loss``, ``val_probe_acc`` or
            ``val_probe_r2``; a test metric is refused).
        mode: ``"max"`` puts the highest value first, ``"min"`` the lowest; trials without a value
            come last.

    Returns:
        The :data:`TRIAL_COLUMNS` (the ``*_probe_r2`` pair after the accuracies when reported),
        then ``seed``,
        ``lr``, ``reports`` (de-duplicated reports) and any other numeric metric a strategy
        reported (``n_modes``, ``effective_batch_size``, …), each at its final value. "Final" is
        the last report that holds a value, so a metric reported only now and then still shows.
    """
    check_metric(frame, metric, mode)
    groups = frame.groupby([EXPERIMENT, TRIAL_ID], sort=False)
    table = pd.DataFrame.from_records([_summarise_trial(group) for _, group in groups])

    columns = list(TRIAL_COLUMNS)
    at = columns.index(m.TEST_PROBE_ACC) + 1
    columns[at:at] = [
        c
        for c in (m.VAL_PROBE_R2, m.TEST_PROBE_R2, m.VAL_MULTITASK, m.TEST_MULTITASK)
        if c in frame
    ]
    columns += [SEED, LR, "reports"]
    config_keys = set(frame.attrs.get("config_keys", ()))
    extras = [
        c
        for c in frame.columns
        if c not in columns
        and c not in config_keys
        and c not in RAY_KEYS
        and c not in _NOT_EXTRA
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    for column in (BATCH_SIZE_INITIAL, BATCH_SIZE_FINAL, m.SWITCHES, "reports"):
        table[column] = _nullable_int(table[column])
    optional = [SEED, LR, *extras]  # shown only when some trial has a value
    for column in columns + extras:
        if column not in table:
            table[column] = np.nan
    probes = (m.VAL_PROBE_ACC, m.TEST_PROBE_ACC)  # shown when reported (not for regression)
    table = table[
        [
            c
            for c in columns + extras
            if (c not in optional and c not in probes) or table[c].notna().any()
        ]
    ]
    return sort_by_metric(table, metric, mode)


def sort_by_metric(
    table: pd.DataFrame, metric: str, mode: str, by_experiment: bool = True
) -> pd.DataFrame:
    """Best first by ``metric`` (missing values last), ties broken by trial id.

    With ``by_experiment``, each experiment keeps its block (in the order they were given): values
    of different data sets are not comparable.
    """
    ascending = mode == "min"
    names = table[EXPERIMENT] if by_experiment else pd.Series("", index=table.index)
    order = {name: i for i, name in enumerate(dict.fromkeys(names))}
    keyed = table.assign(_experiment_order=names.map(order))
    keyed = keyed.sort_values(
        ["_experiment_order", metric, TRIAL_ID],
        ascending=[True, ascending, True],
        na_position="last",
        kind="stable",
    )
    return keyed.drop(columns="_experiment_order").reset_index(drop=True)


def _summarise_trial(group: pd.DataFrame) -> dict[str, Any]:
    reported = _reported(group)
    first = group.iloc[0]
    row: dict[str, Any] = {c: first.get(c) for c in (EXPERIMENT, TRIAL_ID, STATUS)}
    for key in (DATASET, STRATEGY, SCHEDULER, ENCODER, SEED, LR):
        row[key] = _last_value(group, key)
    for column in group.columns:
        if column not in row and pd.api.types.is_numeric_dtype(group[column]):
            row[column] = _last_value(reported, column)
    schedule_text = _last_value(reported, m.BATCH_SIZE_SCHEDULE)
    schedule = parse_schedule(schedule_text)
    config_batch = _last_value(group, m.BATCH_SIZE)
    batch_values = reported[m.BATCH_SIZE].dropna() if m.BATCH_SIZE in reported else pd.Series()
    if schedule:
        initial, final = schedule[0][1], schedule[-1][1]
    else:
        initial = final = config_batch
    if len(batch_values):  # the reported batch size is the truth for "now"; the schedule for "then"
        initial = initial if schedule else batch_values.iloc[0]
        final = batch_values.iloc[-1]
    row[BATCH_SIZE_INITIAL] = _as_int(initial)
    row[BATCH_SIZE_FINAL] = _as_int(final)
    row[m.BATCH_SIZE_SCHEDULE] = schedule_text
    switches = _last_value(reported, m.SWITCHES)
    if switches is None and schedule:
        switches = len(schedule) - 1
    row[m.SWITCHES] = _as_int(switches)
    row["reports"] = len(reported)
    return row


def _nullable_int(column: pd.Series) -> pd.Series:
    """Whole numbers as pandas' nullable ``Int64`` (16, not 16.0, beside a missing value)."""
    numbers = pd.to_numeric(column, errors="coerce")
    finite = numbers.dropna()
    if len(finite) == column.notna().sum() and (finite == finite.round()).all():
        return numbers.round().astype("Int64")
    return column


def _reported(group: pd.DataFrame) -> pd.DataFrame:
    """The trial's report rows (drops the placeholder row of a trial that never reported)."""
    if m.TRAINING_ITERATION in group:
        return group[group[m.TRAINING_ITERATION].notna()]
    return group


def _last_value(group: pd.DataFrame, column: str) -> Any:
    if column not in group:
        return None
    values = group[column].dropna()
    return values.iloc[-1] if len(values) else None


def _as_int(value: Any) -> Any:
    try:
        return int(value) if value is not None and math.isfinite(float(value)) else None
    except (TypeError, ValueError):
        return value


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

    reports = {key: _reported(group) for key, group in frame.groupby([EXPERIMENT, TRIAL_ID])}
    hits = [
        time_to_target(reports[(row[EXPERIMENT], row[TRIAL_ID])], metric, mode, goal[row[DATASET]])
        for _, row in trials.iterrows()
    ]
    trials["_samples_to_target"] = [h[0] for h in hits]
    trials["_time_to_target_s"] = [h[1] for h in hits]

    value_metrics = [
        c
        for c in (m.VAL_PROBE_ACC, m.TEST_PROBE_ACC, m.VAL_PROBE_R2, m.TEST_PROBE_R2)
        if c in frame
    ] + [m.VAL_LOSS]
    if metric not in value_metrics:
        value_metrics.append(metric)
    rows: list[dict[str, Any]] = []
    for keys, group in trials.groupby(list(GROUP_KEYS), sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(GROUP_KEYS, keys, strict=True))
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
        row["best_config"] = configs.get((best[EXPERIMENT], best[TRIAL_ID]), "")
        rows.append(row)
    table = pd.DataFrame.from_records(rows)

    if any(references.has_reference(d) for d in table[DATASET]):
        refs = pd.DataFrame.from_records([references.reference(d) for d in table[DATASET]])
        table = pd.concat([table, refs], axis=1)
        if f"{m.TEST_PROBE_ACC}_mean" in table:
            table["gap_ts2vec"] = table[f"{m.TEST_PROBE_ACC}_mean"] - table[references.TS2VEC]

    ascending = mode == "min"
    return table.sort_values(
        [DATASET, f"{metric}_mean"], ascending=[True, ascending], na_position="last", kind="stable"
    ).reset_index(drop=True)


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
