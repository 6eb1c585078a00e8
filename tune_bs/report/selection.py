"""Select one trial and one of its checkpoints per experiment, on validation only; then read off
its test score.

The rule (one answer per experiment, never a maximum of test scores):

1. Candidates are the reports of every trial that carry a finite value of the experiment's
   validation metric (``val_loss``, ``val_probe_acc`` or ``val_probe_r2``) and were not marked
   diverged; among them, those whose checkpoint (``checkpoint_dir_name``) is still on disk, when
   any is (Tune keeps each trial's best checkpoints by the experiment's metric and its latest;
   a folder copied without checkpoints still gets a selection, without a checkpoint).
2. A :class:`~tune_bs.report.selection_rules.SelectionRule` picks the trial and its report
   among them (:mod:`tune_bs.report.selection_rules`: score each trial — best, final or mean of
   its last k reports —, tie the trials within exact equality or one standard error of the
   best, break ties by ``val_loss``, never by earliness; then the trial's final or best
   report). The default is :data:`~tune_bs.report.selection_rules.DEFAULT_RULE`.
3. Its test score (``test_probe_acc`` / ``test_probe_r2``, the probe fitted on the train split and
   scored on the test split at that report) is shown beside it: it was computed for every report
   but is read only here, after the choice.

A test metric is refused as the selection metric: :func:`select` raises one line naming the
validation metric to use.

The selection's uncertainty travels with it: the spread of the probe across its cross-validation
folds at the selected report (``val_probe_acc_std``), the standard error the rule used, and how
many trials were tied with the selected one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.report.frame import EXPERIMENT, TRIAL_DIR, TRIAL_ID
from tune_bs.report.selection_rules import DEFAULT_RULE, Choice, SelectionRule, choose, rule_named

CHECKPOINT_DIR = "checkpoint_dir_name"


@dataclass(frozen=True)
class Selection:
    """The trial and checkpoint an experiment selects on validation, and its test score."""

    experiment: str
    trial_id: str
    training_iteration: int
    metric: str
    mode: str
    value: float
    test_metric: str | None
    test_value: float | None
    samples_seen: float
    batch_size_schedule: str | None
    trial_dir: str | None
    checkpoint: str | None
    config: dict[str, Any] = field(default_factory=dict)
    rule: str = DEFAULT_RULE
    spread: float | None = None  # the probe's std across CV folds at this report
    trial_score: float | None = None  # the trial's score under the rule
    standard_error: float | None = None  # of the best score (one_se rules)
    tied: int = 1  # trials tied with the selected one under the rule (itself included)
    trials: int = 1  # trials that had a candidate report

    def lines(self) -> list[str]:
        """What ``tune-bs run`` prints about it (one fact per line)."""
        test = (
            f"{self.test_metric} = {_fmt(self.test_value)} (test split, reported only)"
            if self.test_metric
            else "no labelled test split"
        )
        searched = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(self.config.items()))
        spread = f" ± {_fmt(self.spread)} (std across CV folds)" if _finite(self.spread) else ""
        out = [
            f"selected on validation: trial {self.trial_id} at report {self.training_iteration} "
            f"({_fmt(self.samples_seen)} samples), {self.metric} = {_fmt(self.value)}{spread}",
            f"  its test score: {test}",
            f"  its config: {searched}",
        ]
        if self.batch_size_schedule:
            out.append(f"  its batch-size schedule: {self.batch_size_schedule}")
        out.append(f"  its checkpoint: {self.checkpoint or 'not on disk'}")
        out.append(f"  {self.uncertainty_line()}")
        return out

    def uncertainty_line(self) -> str:
        """How sure the selection is: the rule, the trial's score, the trials tied with it."""
        score = f"trial score {_fmt(self.trial_score)}" if _finite(self.trial_score) else ""
        se = f", standard error {_fmt(self.standard_error)}" if _finite(self.standard_error) else ""
        return (
            f"rule {self.rule}: {score}{se}; {self.tied} of {self.trials} trials tied "
            "with it on validation (broken by val_loss)"
        )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def check_selection_metric(metric: str) -> None:
    """Refuse a test metric (or an old, test-scored name) as what decides."""
    if metric in m.TEST_METRICS:
        raise UserInputError(
            f"--metric must be a validation metric, but got {metric!r}: the test split is scored "
            f"for the selected trial and reported, never used to rank or select; use "
            f"{m.TEST_METRICS[metric]}."
        )
    if metric in m.RENAMED:
        raise UserInputError(
            f"--metric {metric!r} is the old, test-scored probe (did you mean "
            f"{m.RENAMED[metric]!r}?); rank by its validation estimate {m.RENAMED[metric]}."
        )


def _test_metric(metric: str, frame: pd.DataFrame) -> str | None:
    """The test score shown beside a selection: the test counterpart of ``metric`` when
    reported, else the probe of the same task."""
    paired = {v: k for k, v in m.TEST_METRICS.items()}.get(metric)
    if paired is not None and paired in frame and frame[paired].notna().any():
        return paired
    for task_metric in (m.TASK_OF.get(metric), "classification", "regression"):
        names = m.PROBE_METRICS.get(task_metric or "")
        if names and names[1] in frame and frame[names[1]].notna().any():
            return names[1]
    return None


def _candidates(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    values = pd.to_numeric(frame[metric], errors="coerce") if metric in frame else None
    if values is None:
        return frame.iloc[0:0]
    ok = np.isfinite(values.to_numpy(dtype=float))
    if m.DIVERGED in frame:
        ok &= ~frame[m.DIVERGED].fillna(False).astype(bool).to_numpy()
    if CHECKPOINT_DIR in frame and TRIAL_DIR in frame:
        saved = ok & np.array(
            [
                _checkpoint_exists(d, c)
                for d, c in zip(frame[TRIAL_DIR], frame[CHECKPOINT_DIR], strict=True)
            ],
            dtype=bool,
        )
        if saved.any():
            ok = saved
    return frame[ok]


def _checkpoint_exists(trial_dir: Any, name: Any) -> bool:
    if not isinstance(trial_dir, str) or not isinstance(name, str) or not name:
        return False
    return (Path(trial_dir) / name).is_dir()


def select(
    frame: pd.DataFrame, metric: str, mode: str, rule: str | SelectionRule = DEFAULT_RULE
) -> dict[str, Selection]:
    """The :class:`Selection` of every experiment in ``frame`` under ``rule`` (a name of
    :data:`~tune_bs.report.selection_rules.RULES` or a rule; module rules); experiments with no
    candidate report are left out."""
    check_selection_metric(metric)
    name = rule if isinstance(rule, str) else "custom"
    chosen_rule = rule_named(rule) if isinstance(rule, str) else rule
    out: dict[str, Selection] = {}
    for experiment, group in frame.groupby(EXPERIMENT, sort=False):
        candidates = _candidates(group, metric)
        if candidates.empty:
            continue
        choice = choose(candidates, metric, mode, chosen_rule)
        out[str(experiment)] = _selection(str(experiment), choice, frame, metric, mode, name)
    return out


def _selection(
    experiment: str, choice: Choice, frame: pd.DataFrame, metric: str, mode: str, rule: str
) -> Selection:
    row = choice.row
    test_metric = _test_metric(metric, frame)
    test_value = row.get(test_metric) if test_metric else None
    trial_dir = row.get(TRIAL_DIR) if isinstance(row.get(TRIAL_DIR), str) else None
    name = row.get(CHECKPOINT_DIR)
    checkpoint = (
        str(Path(trial_dir) / name)
        if trial_dir and isinstance(name, str) and name and (Path(trial_dir) / name).is_dir()
        else None
    )
    iteration = row.get(m.TRAINING_ITERATION)
    return Selection(
        experiment=experiment,
        trial_id=str(row[TRIAL_ID]),
        training_iteration=int(iteration) if _finite(iteration) else 0,
        metric=metric,
        mode=mode,
        value=float(row[metric]),
        test_metric=test_metric,
        test_value=float(test_value) if _finite(test_value) else None,
        samples_seen=float(row.get(m.SAMPLES_SEEN, math.nan)),
        batch_size_schedule=row.get(m.BATCH_SIZE_SCHEDULE)
        if isinstance(row.get(m.BATCH_SIZE_SCHEDULE), str)
        else None,
        trial_dir=trial_dir,
        checkpoint=checkpoint,
        config=trial_params(trial_dir),
        rule=rule,
        spread=_float_or_none(row.get(m.SPREAD_OF.get(metric, ""))),
        trial_score=next(s.score for s in choice.scores if s.trial_id == str(row[TRIAL_ID])),
        standard_error=_float_or_none(choice.standard_error),
        tied=len(choice.tied),
        trials=len(choice.scores),
    )


def _float_or_none(value: Any) -> float | None:
    return float(value) if _finite(value) else None


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


#: Config keys a trial gets from the experiment, not from the search space.
_BOOKKEEPING = frozenset({m.BUDGET_SAMPLES, m.REPORT_EVERY, "dataset", "scheduler"})


def trial_params(trial_dir: str | Path | None) -> dict[str, Any]:
    """The trial's configuration as it started (``params.json``), without the experiment's
    bookkeeping keys (budget, data set, scheduler name, keys starting with ``_``)."""
    if not trial_dir:
        return {}
    try:
        params = json.loads((Path(trial_dir) / "params.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(params, Mapping):
        return {}
    return {k: v for k, v in params.items() if k not in _BOOKKEEPING and not str(k).startswith("_")}
