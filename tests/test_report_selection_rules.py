"""Selection rules read validation numbers only: scores, one-standard-error ties, val_loss
tie-breaks (never earliness), final or best checkpoint."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.report.frame import TRIAL_ID
from tune_bs.report.selection_rules import (
    RULES,
    SelectionRule,
    choose,
    rule_named,
    score_trials,
    tied_trials,
)
from tune_bs.train.probe import PROBE_FOLDS


def frame(trials: dict[str, list[tuple[float, float, float]]], **extra) -> pd.DataFrame:
    """Rows of (val_probe_acc, its std, val_loss) per report, per trial; test score = -1 so any
    rule that read it would be visible."""
    rows = []
    for trial_id, reports in trials.items():
        for i, (acc, std, loss) in enumerate(reports, start=1):
            rows.append(
                {
                    TRIAL_ID: trial_id,
                    m.TRAINING_ITERATION: i,
                    m.VAL_PROBE_ACC: acc,
                    m.VAL_PROBE_ACC_STD: std,
                    m.VAL_LOSS: loss,
                    m.TEST_PROBE_ACC: -1.0,
                    **extra.get(trial_id, {}),
                }
            )
    return pd.DataFrame(rows)


#: Trial a peaks once (lucky report 2); trial b is steadily good; trial c is worse.
NOISY = {
    "a": [(0.70, 0.1, 2.0), (0.95, 0.1, 1.9), (0.80, 0.1, 1.8), (0.78, 0.1, 1.7)],
    "b": [(0.80, 0.1, 2.0), (0.88, 0.1, 1.6), (0.90, 0.1, 1.5), (0.89, 0.1, 1.4)],
    "c": [(0.60, 0.1, 2.5), (0.70, 0.1, 2.4), (0.72, 0.1, 2.3), (0.71, 0.1, 2.2)],
}


def picked(rule: str, trials=NOISY, metric=m.VAL_PROBE_ACC, mode="max", **extra):
    choice = choose(frame(trials, **extra), metric, mode, rule_named(rule))
    return choice.row[TRIAL_ID], int(choice.row[m.TRAINING_ITERATION]), choice


def test_the_best_report_follows_the_lucky_peak_and_the_last_k_mean_the_steady_trial():
    assert picked("best_report")[:2] == ("a", 2)
    assert picked("last3_final")[:2] == ("b", 4)  # mean of last 3: b 0.89 > a 0.843
    assert picked("last3_best")[:2] == ("b", 3)  # b's best report
    assert picked("final")[:2] == ("b", 4)


def test_the_last_k_score_is_the_mean_of_the_last_k_reports():
    scores = {
        s.trial_id: s
        for s in score_trials(frame(NOISY), m.VAL_PROBE_ACC, "max", RULES["last3_final"])
    }
    assert scores["a"].score == pytest.approx((0.95 + 0.80 + 0.78) / 3)
    assert scores["b"].val_loss == pytest.approx((1.6 + 1.5 + 1.4) / 3)
    short = {"x": [(0.5, 0.1, 1.0), (0.7, 0.1, 1.0)]}  # fewer than k reports: all of them
    (only,) = score_trials(frame(short), m.VAL_PROBE_ACC, "max", RULES["last3_final"])
    assert only.score == pytest.approx(0.6)


def test_exact_ties_go_to_the_lower_val_loss_never_to_the_earlier_report():
    trials = {
        "a": [(0.9, 0.05, 1.5), (0.8, 0.05, 1.4)],  # 0.9 early, with a higher val_loss
        "b": [(0.7, 0.05, 1.3), (0.9, 0.05, 1.2)],  # the same 0.9 later, lower val_loss
    }
    assert picked("best_report", trials)[:2] == ("b", 2)
    within = {"a": [(0.9, 0.05, 1.5), (0.9, 0.05, 1.1)]}  # inside a trial too
    assert picked("best_report", within)[:2] == ("a", 2)


def test_one_standard_error_ties_the_trials_the_folds_cannot_tell_apart():
    # best 0.90 with fold std 0.10: SE = 0.1 / sqrt(5) = 0.0447; b at 0.87 is tied, c at 0.80 not
    trials = {
        "a": [(0.90, 0.10, 1.9)],
        "b": [(0.87, 0.10, 1.2)],
        "c": [(0.80, 0.10, 1.0)],
    }
    trial, _, choice = picked("final_1se", trials)
    assert trial == "b" and set(choice.tied) == {"a", "b"}
    assert choice.standard_error == pytest.approx(0.10 / math.sqrt(PROBE_FOLDS))
    assert picked("final", trials)[0] == "a"


def test_without_a_spread_one_se_is_exact():
    trials = {"a": [(0.90, math.nan, 1.9)], "b": [(0.89, math.nan, 1.2)]}
    assert picked("final_1se", trials)[0] == "a"


def test_val_loss_breaks_ties_only_between_trials_of_one_objective():
    trials = {"a": [(0.9, 0.1, 5.0)], "b": [(0.9, 0.1, 1.0)]}
    assert picked("final", trials)[0] == "b"
    mixed = {"a": {"loss": "nt_xent"}, "b": {"loss": "hierarchical"}}
    assert picked("final", trials, **mixed)[0] == "a"  # different quantities: by trial id


def test_val_loss_as_the_metric_minimises():
    trial, iteration, _ = picked("last3_final", metric=m.VAL_LOSS, mode="min")
    assert (trial, iteration) == ("b", 4)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
                st.sampled_from([0.0, 0.05, 0.2]),
                st.floats(0.5, 3.0),
            ),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(sorted(RULES)),
)
def test_every_rule_picks_a_tied_trial_and_never_reads_the_test_score(reports, rule):
    trials = {f"t{i}": r for i, r in enumerate(reports)}
    data = frame(trials)
    choice = choose(data, m.VAL_PROBE_ACC, "max", RULES[rule])
    assert choice.row[TRIAL_ID] == choice.tied[0]
    scores = score_trials(data, m.VAL_PROBE_ACC, "max", RULES[rule])
    best = max(s.score for s in scores)
    chosen = next(s for s in scores if s.trial_id == choice.row[TRIAL_ID])
    margin = choice.standard_error if math.isfinite(choice.standard_error) else 0.0
    assert chosen.score >= best - margin - 1e-9
    # the test score plays no part: changing it changes nothing
    other = choose(data.assign(**{m.TEST_PROBE_ACC: 5.0}), m.VAL_PROBE_ACC, "max", RULES[rule])
    assert other.row[TRIAL_ID] == choice.row[TRIAL_ID]
    assert other.row[m.TRAINING_ITERATION] == choice.row[m.TRAINING_ITERATION]


def test_rules_refuse_unknown_names_and_parts():
    with pytest.raises(UserInputError, match="last3_final"):
        rule_named("last3_finale")
    with pytest.raises(UserInputError, match="one_se"):
        SelectionRule(ties="one-se")
    assert (
        tied_trials(
            score_trials(frame(NOISY), m.VAL_PROBE_ACC, "max", RULES["final"]),
            "max",
            RULES["final"],
        )[0][0].trial_id
        == "b"
    )
