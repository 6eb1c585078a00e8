"""Tests of tune_bs.schedule.report_keys.ReportKeys and of the scheduler reading a trainable's own
key names (stub trials, no ray.init)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from test_extrapolation import CONTINUE, PAUSE, StubController, StubTrial, feed

from tune_bs import ExtrapolationScheduler, ReportKeys, SwitchSettings
from tune_bs.errors import UserInputError
from tune_bs.schedule.switching import Decision

GOOD = {
    "val_loss": 1.0,
    "samples_seen": 100,
    "batch_size": 8,
    "wall_time_s": 12.5,
    "training_iteration": 1,
}


def test_defaults_are_tune_bs_names() -> None:
    keys = ReportKeys()
    assert keys.required() == {
        "val_loss": "val_loss",
        "samples_seen": "samples_seen",
        "batch_size": "batch_size",
        "wall_time": "wall_time_s",
    }
    assert keys.required(accumulation=True)["accumulation_steps"] == "accumulation_steps"
    assert (keys.trial_time, keys.config_batch_size, keys.config_budget) == (
        "trial_time_s",
        "batch_size",
        "budget_samples",
    )


@pytest.mark.parametrize("value", ["", None, 3])
def test_a_key_name_must_be_a_non_empty_string(value: Any) -> None:
    with pytest.raises(
        UserInputError,
        match=r"ReportKeys.samples_seen must be a non-empty key "
        r"name, but got samples_seen=.*e\.g\. "
        r"samples_seen='samples_seen'\.",
    ) as info:
        ReportKeys(samples_seen=value)
    assert "\n" not in str(info.value)


def test_a_complete_result_passes_and_non_finite_losses_are_numbers() -> None:
    ReportKeys().check_result(GOOD, "t")
    ReportKeys().check_result({**GOOD, "val_loss": math.nan}, "t")  # a diverged trial


@pytest.mark.parametrize(
    ("result", "says"),
    [
        (
            {k: v for k, v in GOOD.items() if k != "wall_time_s"},
            [
                "needs a number under 'wall_time_s' (a float clock shared by all trials",
                "result 1 of trial abc_00001 lacks 'wall_time_s'; report it with tune.report(...)",
                "keys=ReportKeys(wall_time='your_key')).",
            ],
        ),
        (
            {**GOOD, "samples_seen": "100", "batch_size": True},
            [
                "has samples_seen='100' and has batch_size=True; report them",
                "keys=ReportKeys(samples_seen='your_key', batch_size='your_key')).",
            ],
        ),
        (
            {"training_iteration": 3, "loss": 0.5},
            [
                "'val_loss' (a validation loss comparable across batch sizes), 'samples_seen'",
                "result 3 of trial abc_00001 lacks 'val_loss', 'samples_seen', 'batch_size', "
                "'wall_time_s'",
            ],
        ),
    ],
)
def test_a_result_lacking_a_key_is_refused_in_one_line(result: dict, says: list[str]) -> None:
    with pytest.raises(UserInputError) as info:
        ReportKeys().check_result(result, "abc_00001")
    message = str(info.value)
    assert "\n" not in message
    for part in says:
        assert part in message


def test_accumulation_steps_are_required_with_the_accumulation_action() -> None:
    ReportKeys().check_result(GOOD, "t")
    with pytest.raises(
        UserInputError,
        match=r"'accumulation_steps' \(minibatches per optimizer "
        r"step\)",
    ):
        ReportKeys().check_result(GOOD, "t", accumulation=True)


@pytest.mark.parametrize("value", [None, 0, 16.5, "16", True])
def test_the_config_must_hold_a_positive_integer_batch_size(value: Any) -> None:
    config = {} if value is None else {"bs": value}
    with pytest.raises(
        UserInputError,
        match=r"through its config key 'bs', which must be a "
        r"positive integer, but trial t has bs=",
    ) as info:
        ReportKeys(config_batch_size="bs").check_config(config, "t")
    assert "ReportKeys(config_batch_size='your_key')" in str(info.value)
    ReportKeys(config_batch_size="bs").check_config({"bs": 16}, "t")


# --- the scheduler with a trainable's own names ------------------------------------------------
OWN = ReportKeys(
    val_loss="loss",
    samples_seen="seen",
    batch_size="bs",
    wall_time="clock",
    trial_time="secs",
    config_batch_size="train_bs",
    config_budget="total",
)


def own_rows(n: int, batch_size: int = 8) -> list[dict[str, Any]]:
    return [
        {
            "loss": 1.0 / (1 + i),
            "seen": 100.0 * i,
            "bs": batch_size,
            "clock": 0.5 * i,
            "secs": 0.4 * i,
            "time_total_s": 9.0 * i,
            "training_iteration": i,
        }
        for i in range(1, n + 1)
    ]


def switch_after(report: int):
    def policy(history, peers, settings, cache) -> Decision:
        last, n = history[-1], len(history)
        action = "switch" if n == report else "continue"
        return Decision(action, 16 if n == report else last.batch_size, 1, "", n)

    return policy


def test_the_scheduler_reads_and_writes_the_trainables_own_keys() -> None:
    sched = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=(8, 16), switch_via="restart"), keys=OWN, policy=switch_after(2)
    )
    own = StubTrial("t", {"train_bs": 8, "total": 1000, "lr": 0.1})
    assert feed(sched, StubController(), own, own_rows(3)) == [CONTINUE, PAUSE]
    (_, second) = sched.history("t")
    assert (second.samples_seen, second.val_loss, second.batch_size) == (200.0, 1 / 3, 8)
    assert second.time_s == 0.8 and second.own_clock  # the trial's own seconds, not Ray's
    assert second.wall_time == 1.0 and second.budget_samples == 1000
    own.status = "PAUSED"
    assert sched.choose_trial_to_run(StubController(own)) is own
    assert own.config["train_bs"] == 16 and own.config["_switch_at"] == 2
    assert "batch_size" not in own.config  # tune-bs's name is not written


def test_no_switch_on_the_report_that_ends_the_budget_under_its_own_key() -> None:
    sched = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=(8, 16), switch_via="restart"), keys=OWN, policy=switch_after(2)
    )
    own = StubTrial("t", {"train_bs": 8, "total": 200})  # report 2 ends the budget
    assert feed(sched, StubController(), own, own_rows(2)) == [CONTINUE, CONTINUE]


def test_the_first_result_without_a_key_stops_the_run() -> None:
    sched = ExtrapolationScheduler(SwitchSettings(batch_sizes=(8, 16)), policy=switch_after(9))
    own = StubTrial("t", {"batch_size": 8})
    with pytest.raises(
        UserInputError,
        match=r"result 1 of trial t lacks 'val_loss', "
        r"'samples_seen', 'batch_size', 'wall_time_s'",
    ):
        feed(sched, StubController(), own, own_rows(1))  # tune-bs's names expected
    # a trial that returned without reporting: Tune hands over bookkeeping keys only
    assert (
        sched.on_trial_result(
            StubController(), own, {"trial_id": "t", "done": True, "time_total_s": 1.0}
        )
        == CONTINUE
    )


def test_the_settings_and_keys_must_have_their_types() -> None:
    with pytest.raises(
        UserInputError,
        match=r"settings must be a SwitchSettings, but got "
        r"\[8, 16\]; write e\.g\. ",
    ):
        ExtrapolationScheduler([8, 16])  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match=r"keys must be a ReportKeys"):
        ExtrapolationScheduler(SwitchSettings(batch_sizes=(8, 16)), keys={"val_loss": "loss"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "keys, expected",
    [
        (ReportKeys(), (0.0, math.inf)),
        (ReportKeys(val_loss="val_mse"), (0.0, math.inf)),
        (ReportKeys(val_loss="mean_accuracy"), (0.0, 1.0)),
        (ReportKeys(val_loss="score"), (-math.inf, math.inf)),
        (ReportKeys(val_loss="score", val_loss_range=(-1.0, 1.0)), (-1.0, 1.0)),
    ],
)
def test_the_range_of_the_fitted_value_is_read_from_its_name_unless_stated(
    keys: ReportKeys, expected: tuple[float, float]
) -> None:
    assert keys.curve_range() == expected


@pytest.mark.parametrize("bad", [(1.0, 0.0), (0.0,), ("a", 1.0), (math.nan, 1.0)])
def test_a_wrong_range_gets_one_line(bad: object) -> None:
    with pytest.raises(UserInputError, match=r"val_loss_range=.*give e\.g\."):
        ReportKeys(val_loss_range=bad)  # type: ignore[arg-type]
