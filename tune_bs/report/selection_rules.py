"""Rules that pick one trial and one of its reports on validation numbers alone (pure pandas).

A validation metric estimated from few series is noisy: a 5-fold CV accuracy on 36 train series
moves in steps of about 3 points, and the single best of 8 trials × 10 reports is mostly the
luckiest draw. A :class:`SelectionRule` therefore says, in three steps:

1. **Score each trial** (``score``): its ``best`` report, its ``final`` report, or the mean of its
   last ``k`` reports (``last_k``; all of them when it has fewer). Only the trial's candidate
   reports count (finite metric, not diverged, checkpoint on disk when any is:
   :mod:`tune_bs.report.selection`).
2. **Tie the trials the data cannot tell apart** (``ties``): ``exact`` — the trials whose score
   equals the best score; ``one_se`` — the one-standard-error rule (Hastie, Tibshirani and
   Friedman, *The Elements of Statistical Learning*, §7.10): the trials within one standard
   error of the best score, the standard error being the best trial's spread of the probe across
   its cross-validation folds (``val_probe_acc_std``, averaged over the scored reports) divided
   by √:data:`~tune_bs.train.probe.PROBE_FOLDS` (when the folds shrank on a small class this
   understates it). Without a spread (``val_loss`` as the metric, or an older run) ``one_se``
   is ``exact``. The tie is broken by the lower mean ``val_loss`` over the same reports — when
   every tied trial trains the same objective (``loss``; otherwise their ``val_loss`` are
   different quantities and this step is skipped) — then by the smaller trial id. Never by
   earliness.
3. **Pick the checkpoint** (``checkpoint``): the trial's ``final`` report, or its ``best`` by the
   metric (ties by the lower ``val_loss``, then the later report).

The named rules (:data:`RULES`) are what ``benchmarks/selection_rules.py`` compares on the
development pool; :data:`DEFAULT_RULE` is the one chosen there: ``last3_final``, the trial by the
mean of its last 3 reports, then its final checkpoint. On the pool's runs
(``benchmarks/results/selection_rules.txt``, 11 experiments) its mean cost (selected test − best
final test) was −0.005 with the SVM probe and −0.001 with the logistic one, against −0.006 and
−0.007 for the single best report (the earlier rule), which missed by more than a point in 3 of
11 experiments under both probes (``last3_final``: 2 and 0). Its one-standard-error variant was
within one experiment of it (−0.004 / −0.001), so the simpler rule stands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tune_bs import metrics as m
from tune_bs.errors import unknown_name
from tune_bs.report.frame import TRIAL_ID
from tune_bs.train.probe import PROBE_FOLDS

SCORES = ("best", "final", "last_k")
TIES = ("exact", "one_se")
CHECKPOINTS = ("best", "final")
#: Tolerance under which two scores are equal (float noise of means).
EQUAL = 1e-12


@dataclass(frozen=True)
class SelectionRule:
    """How a trial and its report are picked (module rules)."""

    score: str = "best"
    k: int = 3
    ties: str = "exact"
    checkpoint: str = "best"

    def __post_init__(self) -> None:
        for field, value, valid in (
            ("score", self.score, SCORES),
            ("ties", self.ties, TIES),
            ("checkpoint", self.checkpoint, CHECKPOINTS),
        ):
            if value not in valid:
                raise unknown_name(f"selection {field}", value, valid)
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")


#: The rules compared on the development pool, by name.
RULES: dict[str, SelectionRule] = {
    "best_report": SelectionRule("best", ties="exact", checkpoint="best"),
    "best_report_1se": SelectionRule("best", ties="one_se", checkpoint="best"),
    "final": SelectionRule("final", ties="exact", checkpoint="final"),
    "final_1se": SelectionRule("final", ties="one_se", checkpoint="final"),
    "last3_final": SelectionRule("last_k", 3, ties="exact", checkpoint="final"),
    "last3_best": SelectionRule("last_k", 3, ties="exact", checkpoint="best"),
    "last3_final_1se": SelectionRule("last_k", 3, ties="one_se", checkpoint="final"),
    "last3_best_1se": SelectionRule("last_k", 3, ties="one_se", checkpoint="best"),
}
DEFAULT_RULE = "last3_final"


def rule_named(name: str) -> SelectionRule:
    """The rule of :data:`RULES` named ``name``; unknown names list the valid ones."""
    if name not in RULES:
        raise unknown_name("selection rule", name, RULES)
    return RULES[name]


@dataclass(frozen=True)
class TrialScore:
    """One trial's standing under a rule (module rules, step 1)."""

    trial_id: str
    score: float
    spread: float  # the probe's std across folds over the scored reports (NaN: none)
    val_loss: float  # the mean val_loss over the scored reports (NaN: none)
    loss: str  # the trial's objective (``nt_xent`` when not recorded)


@dataclass(frozen=True)
class Choice:
    """What a rule picks in one experiment: the report row, the scores, the tied trials."""

    row: pd.Series
    scores: tuple[TrialScore, ...]
    tied: tuple[str, ...]
    standard_error: float


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _ordered(reports: pd.DataFrame) -> pd.DataFrame:
    iteration = pd.to_numeric(reports.get(m.TRAINING_ITERATION, 0), errors="coerce")
    return reports.assign(_iteration=iteration).sort_values("_iteration", kind="stable")


def _scored_rows(
    reports: pd.DataFrame, metric: str, mode: str, rule: SelectionRule
) -> pd.DataFrame:
    """The reports a trial's score is taken over (step 1), in iteration order."""
    if rule.score == "final":
        return reports.iloc[-1:]
    if rule.score == "last_k":
        return reports.iloc[-rule.k :]
    return reports.loc[[_best_index(reports, metric, mode)]]


def _best_index(reports: pd.DataFrame, metric: str, mode: str) -> object:
    """The index of the trial's best report: ties by lower val_loss, then the later report."""
    sign = -1.0 if mode == "max" else 1.0
    key = pd.DataFrame(
        {
            "value": sign * _values(reports, metric),
            "val_loss": np.nan_to_num(_values(reports, m.VAL_LOSS), nan=np.inf),
            "later": -np.arange(len(reports)),
        },
        index=reports.index,
    )
    return key.sort_values(["value", "val_loss", "later"], kind="stable").index[0]


def score_trials(
    candidates: pd.DataFrame, metric: str, mode: str, rule: SelectionRule
) -> list[TrialScore]:
    """Every trial's :class:`TrialScore` over its candidate reports (step 1)."""
    spread_name = m.SPREAD_OF.get(metric, "")
    out = []
    for trial_id, reports in candidates.groupby(TRIAL_ID, sort=True):
        scored = _scored_rows(_ordered(reports), metric, mode, rule)
        loss = scored.get("loss")
        out.append(
            TrialScore(
                trial_id=str(trial_id),
                score=float(np.mean(_values(scored, metric))),
                spread=float(np.nanmean(_values(scored, spread_name)))
                if np.isfinite(_values(scored, spread_name)).any()
                else math.nan,
                val_loss=float(np.nanmean(_values(scored, m.VAL_LOSS)))
                if np.isfinite(_values(scored, m.VAL_LOSS)).any()
                else math.nan,
                loss=str(loss.iloc[-1])
                if loss is not None and isinstance(loss.iloc[-1], str)
                else "nt_xent",
            )
        )
    return out


def tied_trials(
    scores: list[TrialScore], mode: str, rule: SelectionRule
) -> tuple[list[TrialScore], float]:
    """The trials tied with the best (step 2), best first by the tie-break; and the standard
    error used (NaN for ``exact``)."""
    sign = -1.0 if mode == "max" else 1.0
    best = min(scores, key=lambda s: (sign * s.score, s.trial_id))
    se = best.spread / math.sqrt(PROBE_FOLDS) if rule.ties == "one_se" else math.nan
    margin = se if math.isfinite(se) else 0.0
    tied = [s for s in scores if sign * (s.score - best.score) <= margin + EQUAL]
    comparable = len({s.loss for s in tied}) == 1

    def key(s: TrialScore) -> tuple[float, str]:
        val_loss = s.val_loss if comparable and math.isfinite(s.val_loss) else math.inf
        return (val_loss, s.trial_id)

    return sorted(tied, key=key), se


def choose(candidates: pd.DataFrame, metric: str, mode: str, rule: SelectionRule) -> Choice:
    """The report ``rule`` picks among ``candidates`` (one experiment's candidate reports)."""
    scores = score_trials(candidates, metric, mode, rule)
    tied, se = tied_trials(scores, mode, rule)
    reports = _ordered(candidates[candidates[TRIAL_ID].astype(str) == tied[0].trial_id])
    index = reports.index[-1] if rule.checkpoint == "final" else _best_index(reports, metric, mode)
    return Choice(
        row=reports.loc[index].drop(labels="_iteration"),
        scores=tuple(scores),
        tied=tuple(s.trial_id for s in tied),
        standard_error=se,
    )
