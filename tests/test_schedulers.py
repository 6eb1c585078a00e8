"""The scheduler registry (tune_bs.schedule.schedulers): the median stopping rule's entry, built
from a search-space section and driven with stub trials (no ray.init). The other entries have
their own modules' tests; every entry's options are checked in tests/test_options.py."""

from __future__ import annotations

from typing import Any

import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import MedianStoppingRule, TrialScheduler

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.schedule.schedulers import SCHEDULERS, build_scheduler
from tune_bs.search.space import parse_space
from tune_bs.testing import StubController, StubTrial

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


class HashableTrial(StubTrial):
    """Ray's median stopping rule keys its results by trial, as Ray's ``Trial`` allows."""

    def __hash__(self) -> int:
        return hash(self.trial_id)


class LiveController(StubController):
    def get_live_trials(self) -> list[StubTrial]:
        return [t for t in self.trials if t.status != Trial.TERMINATED]


def _space(**scheduler: Any) -> dict[str, Any]:
    return {
        "dataset": {"name": "GunPoint"},
        "metric": "val_loss",
        "mode": "min",
        "budget": {"epochs": 10, "reports": 8},
        "scheduler": scheduler,
        "search": {"name": "random"},
        "param_space": {"batch_size": 8, "lr": {"type": "float", "low": 1e-4, "high": 1e-1}},
    }


def test_median_is_built_with_time_in_reports_and_its_options() -> None:
    assert "median" in SCHEDULERS
    sched = build_scheduler({"name": "median", "grace_period": 3, "min_samples_required": 2}, 8)
    assert isinstance(sched, MedianStoppingRule)
    assert sched._time_attr == m.TRAINING_ITERATION
    assert (sched._grace_period, sched._min_samples_required, sched._hard_stop) == (3, 2, True)
    # the grace cannot pass the trial's reports
    assert build_scheduler({"name": "median", "grace_period": 20}, 8)._grace_period == 8
    defaults = build_scheduler({"name": "median"}, 8)
    assert (defaults._grace_period, defaults._min_samples_required) == (1, 3)


def test_a_median_section_is_validated_like_every_scheduler_section() -> None:
    space = parse_space(_space(name="median", grace_period=2))
    assert space.scheduler == {"name": "median", "grace_period": 2}
    with pytest.raises(UserInputError, match="did you mean 'grace_period'"):
        parse_space(_space(name="median", grace_peroid=2))
    with pytest.raises(UserInputError, match=r"scheduler\.min_samples_required"):
        parse_space(_space(name="median", min_samples_required=0))


def _result(iteration: int, loss: float) -> dict[str, Any]:
    return {m.TRAINING_ITERATION: iteration, m.VAL_LOSS: loss}


def test_median_stops_a_trial_worse_than_the_median_of_the_others_after_its_grace() -> None:
    sched = build_scheduler({"name": "median", "grace_period": 2, "min_samples_required": 2}, 8)
    sched.set_search_properties(m.VAL_LOSS, "min")
    good = [HashableTrial(f"g{i}") for i in range(3)]
    bad = HashableTrial("bad")
    controller = LiveController(*good, bad)
    for trial in controller.trials:
        sched.on_trial_add(controller, trial)
    for iteration in (1, 2, 3):  # the good trials go first, then the bad one
        for i, trial in enumerate(good):
            sched.on_trial_result(controller, trial, _result(iteration, 1.0 - 0.1 * iteration - i))
        decision = sched.on_trial_result(controller, bad, _result(iteration, 2.0))
        # before its grace nothing is judged; at report 2 the others' running means are below 2
        assert decision == (CONTINUE if iteration < 2 else STOP), iteration
        if decision == STOP:
            break
    # the best of the good trials is never stopped
    assert sched.on_trial_result(controller, good[-1], _result(3, -2.0)) == CONTINUE


def test_median_pauses_a_trial_it_cannot_judge_while_others_wait() -> None:
    sched = build_scheduler({"name": "median", "grace_period": 1}, 8)  # needs 3 others
    sched.set_search_properties(m.VAL_LOSS, "min")
    first = HashableTrial("first")
    waiting = HashableTrial("waiting", status=Trial.PENDING)
    controller = LiveController(first, waiting)
    for trial in controller.trials:
        sched.on_trial_add(controller, trial)
    assert sched.on_trial_result(controller, first, _result(1, 1.0)) == PAUSE
    waiting.status = Trial.TERMINATED
    assert sched.on_trial_result(controller, first, _result(2, 0.9)) == CONTINUE
