"""The per-trial table built from the tidy frame of :mod:`tune_bs.report.frame` (the comparison
table, one row per group of trials, is :mod:`tune_bs.report.comparison`).

Trials are compared by ``val_loss`` (fixed validation views and batches), the cross-validated
probe (``val_probe_acc``) and ``samples_seen`` / wall time, never by the raw training loss, whose
value depends on the batch size (it is left out of the tables on purpose). Sorting, targets and
"best" always use the validation metric given; ``test_probe_acc`` is shown, never ranked on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tune_bs import metrics as m
from tune_bs.errors import UserInputError, quote
from tune_bs.report.frame import EXPERIMENT, STATUS, TRIAL_ID, parse_schedule

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
        raise UserInputError(f"mode must be 'max' or 'min', but got mode={quote(mode)}.")
    if metric not in frame or frame[metric].isna().all():
        reported = sorted(k for k in m.OPTIMISABLE if k in frame and frame[k].notna().any())
        raise UserInputError(
            f"metric must be one the trials reported ({', '.join(reported) or 'none'}), but got "
            f"metric={quote(metric)}; pass one of those."
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
    reported = reported_rows(group)
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


def reported_rows(group: pd.DataFrame) -> pd.DataFrame:
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
