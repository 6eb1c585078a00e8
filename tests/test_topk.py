"""Tests of tune_bs.schedule.topk.TopKAfterFirstReport with stub trials (no ray.init).

The stub controller lists trials and stops one as Tune's ``stop_trial`` does for a paused trial
(the scheduler's ``on_trial_remove``, then TERMINATED), like the mocked runner of
``ray/tune/tests/test_trial_scheduler.py``.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import local_ray_session
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.options import option_names
from tune_bs.schedule.schedulers import SCHEDULERS, TOPK_DEFAULT_KEEP, build_scheduler
from tune_bs.schedule.topk import TopKAfterFirstReport, kept_trials, ranking_key
from tune_bs.search.space import parse_space

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


@dataclass
class StubTrial:
    trial_id: str
    status: str = Trial.PENDING
    is_saving: bool = False
    config: dict[str, Any] = field(default_factory=dict)


class StubController:
    def __init__(self, scheduler: TopKAfterFirstReport, *trial_ids: str) -> None:
        self.scheduler = scheduler
        self.trials = [StubTrial(t) for t in trial_ids]
        self.stopped: list[str] = []

    def get_trials(self) -> list[StubTrial]:
        return self.trials

    def trial(self, trial_id: str) -> StubTrial:
        return next(t for t in self.trials if t.trial_id == trial_id)

    def stop_trial(self, trial: StubTrial) -> None:
        assert trial.status in (Trial.PAUSED, Trial.PENDING) or trial.is_saving
        self.scheduler.on_trial_remove(self, trial)
        trial.status = Trial.TERMINATED
        self.stopped.append(trial.trial_id)

    def start(self) -> StubTrial | None:
        """What Tune does when a slot frees: ask the scheduler, then run that trial."""
        trial = self.scheduler.choose_trial_to_run(self)
        if trial is not None:
            trial.status = Trial.RUNNING
        return trial

    def report(self, trial_id: str, value: float, iteration: int = 1, done: bool = False) -> str:
        trial = self.trial(trial_id)
        assert trial.status == Trial.RUNNING, trial
        decision = self.scheduler.on_trial_result(
            self, trial, {m.VAL_LOSS: value, m.TRAINING_ITERATION: iteration, "done": done}
        )
        if decision == PAUSE:
            trial.status = Trial.PAUSED
        elif decision == STOP:
            self.scheduler.on_trial_complete(self, trial, {})
            trial.status = Trial.TERMINATED
        return decision


def topk(keep: int = 2, mode: str = "min") -> TopKAfterFirstReport:
    scheduler = TopKAfterFirstReport(keep=keep)
    scheduler.set_search_properties(m.VAL_LOSS, mode)
    return scheduler


def test_kept_trials_ranks_by_value_then_arrival_and_never_keeps_a_missing_value() -> None:
    values = {"a": 2.0, "b": 1.0, "c": 1.0, "d": math.nan, "e": None}
    assert kept_trials(values, 2, "min") == ["b", "c"]
    assert kept_trials(values, 1, "max") == ["a"]
    assert kept_trials(values, 10, "min") == ["b", "c", "a"]  # NaN and missing never kept
    assert ranking_key(math.inf, "min") == math.inf and ranking_key("x", "max") == math.inf


def test_with_two_slots_for_five_trials_everyone_waits_for_the_last_first_report() -> None:
    sched = topk(keep=2)
    ctl = StubController(sched, "t1", "t2", "t3", "t4", "t5")
    values = {"t1": 3.0, "t2": 1.0, "t3": 5.0, "t4": 2.0, "t5": 4.0}
    assert [ctl.start().trial_id, ctl.start().trial_id] == ["t1", "t2"]
    assert ctl.report("t1", values["t1"]) == PAUSE  # t2 runs without a first report
    assert ctl.start().trial_id == "t3"  # pending trials go first; t1 waits
    assert ctl.report("t2", values["t2"]) == PAUSE
    assert ctl.start().trial_id == "t4"
    assert ctl.report("t3", values["t3"]) == PAUSE
    assert ctl.start().trial_id == "t5"
    assert ctl.report("t4", values["t4"]) == PAUSE
    assert ctl.start() is None  # nothing pending; the paused ones wait for t5
    assert not sched.decided
    assert ctl.report("t5", values["t5"]) == STOP  # completes the set: 4.0 is not in the top 2
    assert sched.decided and ctl.stopped == ["t1", "t3"]  # the paused losers
    resumed = [ctl.start().trial_id, ctl.start().trial_id]
    assert sorted(resumed) == ["t2", "t4"] and ctl.start() is None
    for trial_id in resumed:  # the kept ones run to their budget
        assert ctl.report(trial_id, 0.5, iteration=2) == CONTINUE
        assert ctl.report(trial_id, 0.4, iteration=3) == CONTINUE


def test_the_report_that_completes_the_set_continues_when_it_is_kept() -> None:
    sched = topk(keep=1, mode="max")
    sched.set_search_properties(None, None)  # metric/mode are given once
    ctl = StubController(sched, "a", "b")
    ctl.start(), ctl.start()
    assert ctl.report("a", 0.4) == PAUSE
    assert ctl.report("b", 0.9) == CONTINUE  # max mode: 0.9 wins
    assert ctl.stopped == ["a"]


def test_a_diverged_first_report_is_never_kept() -> None:
    sched = topk(keep=2)
    ctl = StubController(sched, "a", "b")
    ctl.start(), ctl.start()
    assert ctl.report("a", math.nan) == PAUSE
    assert ctl.report("b", 1.0) == CONTINUE
    assert ctl.stopped == ["a"]


def test_a_trial_that_fails_before_its_first_report_does_not_block_the_decision() -> None:
    sched = topk(keep=1)
    ctl = StubController(sched, "a", "b", "c")
    ctl.start(), ctl.start()
    assert ctl.report("a", 2.0) == PAUSE
    assert ctl.start().trial_id == "c"
    assert ctl.report("b", 1.0) == PAUSE  # c is running without a first report
    sched.on_trial_error(ctl, ctl.trial("c"))
    ctl.trial("c").status = Trial.ERROR
    assert ctl.start().trial_id == "b"  # the decision is made when the next slot is handed out
    assert ctl.stopped == ["a"]


def test_a_loser_still_saving_its_pause_checkpoint_is_stopped_too() -> None:
    sched = topk(keep=1)
    ctl = StubController(sched, "a", "b")
    ctl.start(), ctl.start()
    assert ctl.report("a", 2.0) == PAUSE
    trial_a = ctl.trial("a")
    trial_a.status, trial_a.is_saving = Trial.RUNNING, True  # Tune saves before it pauses
    assert ctl.report("b", 1.0) == CONTINUE
    assert ctl.stopped == ["a"]


def test_a_trial_first_reporting_after_the_decision_is_ranked_against_all_first_values() -> None:
    sched = topk(keep=1)
    ctl = StubController(sched, "a", "b")
    ctl.start(), ctl.start()
    ctl.report("a", 2.0), ctl.report("b", 1.0)
    ctl.trials += [StubTrial("late_good"), StubTrial("late_bad")]  # a search that adds trials
    ctl.start(), ctl.start()
    assert ctl.report("late_bad", 3.0) == STOP
    assert ctl.report("late_good", 0.5) == CONTINUE
    assert ctl.report("b", 0.9, iteration=2) == CONTINUE  # a kept trial is never stopped


def test_a_first_report_that_ends_the_budget_continues() -> None:
    sched = topk(keep=1)
    ctl = StubController(sched, "a", "b")
    ctl.start(), ctl.start()
    assert ctl.report("a", 2.0, done=True) == CONTINUE
    sched.on_trial_complete(ctl, ctl.trial("a"), {})
    ctl.trial("a").status = Trial.TERMINATED
    assert ctl.report("b", 3.0, done=True) == CONTINUE


def test_a_restored_trial_past_its_first_report_continues_and_the_pickle_starts_empty() -> None:
    sched = topk(keep=1)
    ctl = StubController(sched, "a", "b")
    ctl.start(), ctl.start()
    ctl.report("a", 2.0)
    copy = pickle.loads(pickle.dumps(sched))
    assert not copy.decided and copy.keep == 1
    ctl.scheduler = copy
    ctl.trial("a").status = Trial.RUNNING
    assert ctl.report("a", 1.5, iteration=2) == CONTINUE
    assert ctl.report("b", 1.0) == CONTINUE  # completes the set: b is the best of keep=1 ...
    assert ctl.report("a", 1.4, iteration=3) == CONTINUE  # ... and a, restored, is kept too


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="keep must be at least 1"):
        TopKAfterFirstReport(keep=0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        TopKAfterFirstReport(mode="up")


# --- registry and search-space checks -------------------------------------------------------
BASE = {
    "dataset": {"name": "GunPoint"},
    "search": {"name": "grid"},
    "param_space": {"batch_size": {"type": "categorical", "choices": [4, 8, 16]}},
}


def test_topk_is_registered_and_built_from_its_section() -> None:
    assert "topk" in SCHEDULERS and option_names(SCHEDULERS["topk"].Options) == ("keep",)
    space = parse_space({**BASE, "scheduler": {"name": "topk", "keep": 1}})
    built = build_scheduler(space.scheduler, space.reports, space.param_space)
    assert isinstance(built, TopKAfterFirstReport) and built.keep == 1
    assert build_scheduler({"name": "topk"}, 8).keep == TOPK_DEFAULT_KEEP


@pytest.mark.parametrize(
    ("scheduler", "search", "message"),
    [
        (
            {"name": "topk", "keep": 0},
            {"name": "grid"},
            r"^scheduler.keep must be at least 1, but got scheduler.keep=0; "
            r"raise it to 1 or more\.$",
        ),
        ({"name": "topk", "keep": 1.5}, {"name": "grid"}, r"^scheduler.keep must be an integer"),
        (
            {"name": "topk", "kep": 2},
            {"name": "grid"},
            r"^scheduler.kep is not a known key \(did you mean 'keep'\?\)",
        ),
        (
            {"name": "topk"},
            {"name": "optuna"},
            r"^search 'optuna' cannot be combined with scheduler 'topk'",
        ),
    ],
)
def test_bad_topk_sections_get_one_line_errors(scheduler, search, message) -> None:
    with pytest.raises(UserInputError, match=message) as info:
        parse_space({**BASE, "scheduler": scheduler, "search": search})
    assert "\n" not in str(info.value)


# --- end to end on a real local Ray -----------------------------------------------------------
@pytest.mark.ray
@pytest.mark.slow
def test_three_trials_on_two_cpus_keep_the_best_one_to_its_budget(tmp_path) -> None:
    """The third trial reports its first result after the first two: they wait, paused; then
    one trial (the best first val_loss) trains on to its budget and the others stop."""
    from trial_files import result_rows, trial_dirs

    from tune_bs.search.experiment import RunOptions, run_experiment

    space = parse_space(
        {
            "name": "topk-e2e",
            "dataset": {"name": "ItalyPowerDemand"},
            "metric": "val_loss",
            "num_samples": 1,
            "budget": {"samples": 96, "reports": 3},
            "scheduler": {"name": "topk", "keep": 1},
            "search": {"name": "grid"},
            "param_space": {
                "batch_size": {"type": "categorical", "choices": [4, 8, 16]},
                "hidden": 8,
                "encoder": "fcn",
            },
        }
    )
    with local_ray_session():
        outcome = run_experiment(space, storage=tmp_path, options=RunOptions())
    rows = {d.name: result_rows(d, latest_per_iteration=True) for d in trial_dirs(outcome.path)}
    assert len(rows) == 3
    reports = sorted(len(r) for r in rows.values())
    assert reports == [1, 1, 3], reports  # every trial reached its first report; one kept
    firsts = {name: r[0][m.VAL_LOSS] for name, r in rows.items()}
    kept = next(name for name, r in rows.items() if len(r) == 3)
    assert firsts[kept] == min(firsts.values())
    assert rows[kept][-1][m.SAMPLES_SEEN] >= 96
