"""Tests of tune_bs.schedule.extrapolation.ExtrapolationScheduler with stub trials (no ray.init).

Results come from the deterministic simulator (as in tests/test_switching.py): a constant
gradient-noise scale with ``c0/c1 = 256`` makes 64 the fastest batch size. The stub controller
only lists trials, as ``ray/tune/tests/test_trial_scheduler.py``'s mocked runner does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow.fs
import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.schedule.extrapolation import ExtrapolationScheduler
from tune_bs.schedule.result_loggers import PauseSafeJsonLogger
from tune_bs.schedule.simulator import LargeBatchModel, initial_state, switch, train
from tune_bs.schedule.switch_board import BOARD_KEY, SwitchBoard
from tune_bs.schedule.switching import Decision, FitCache, Peer, Report, SwitchSettings, decide
from tune_bs.testing import StubController, StubTrial

SIZES = (16, 32, 64, 128, 256, 512, 1024)
FLAT = LargeBatchModel(noise_growth=1.0, step_overhead_s=0.256)  # best fixed size: 64
EVERY = 2_000.0  # samples per report
BUDGET = 1_000_000
CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


def results(pieces: list[tuple[int, int]], wall0: float = 0.0) -> list[dict[str, Any]]:
    """Tune results of a simulated trial: ``pieces`` = [(reports, batch_size), ...]."""
    state = initial_state(FLAT, pieces[0][1])
    out = []
    for count, size in pieces:
        state = switch(FLAT, state, size)
        for _ in range(count):
            state = train(FLAT, state, EVERY)
            out.append(
                {
                    m.SAMPLES_SEEN: state.samples_seen,
                    m.VAL_LOSS: state.loss,
                    m.BATCH_SIZE: size,
                    m.TIME_TOTAL_S: state.time_s,
                    "accumulation_steps": 1,
                    m.WALL_TIME_S: wall0 + state.time_s,
                    m.TRAINING_ITERATION: len(out) + 1,
                }
            )
    return out


def trial(trial_id: str, batch_size: int, **config: Any) -> StubTrial:
    base = {"batch_size": batch_size, "lr": 1e-3, "seed": 0, "budget_samples": BUDGET}
    return StubTrial(trial_id, {**base, **config})


def scheduler(board: SwitchBoard | None = None, **kw: Any) -> ExtrapolationScheduler:
    """Switches by restart, no exploration, stops on the first dominated report, the speed
    objective (unless given): the rules in isolation, through the Tune adapter; the
    restart-free path and the budget objective (tests/test_switching_budget.py) have their own
    tests."""
    base = {
        "switch_via": "restart",
        "explore": False,
        "stop_confirm_reports": 1,
        "objective": "speed",
    }
    sched = ExtrapolationScheduler(SwitchSettings(batch_sizes=SIZES, **{**base, **kw}), board=board)
    sched.set_search_properties("val_probe_acc", "max")
    return sched


def feed(
    sched: ExtrapolationScheduler,
    ctl: StubController,
    t: StubTrial,
    rows: list[dict[str, Any]],
    complete: bool = False,
) -> list[str]:
    """Report ``rows`` for ``t``; stop at the first non-CONTINUE decision."""
    if t not in ctl.trials:
        ctl.trials.append(t)
        sched.on_trial_add(ctl, t)
    decisions = []
    for row in rows:
        decisions.append(sched.on_trial_result(ctl, t, row))
        t.last_result = row
        if decisions[-1] != CONTINUE:
            break
    if complete:
        t.status = Trial.TERMINATED
        sched.on_trial_complete(ctl, t, rows[-1])
    return decisions


def as_reports(rows: list[dict[str, Any]]) -> list[Report]:
    return [
        Report(
            r[m.SAMPLES_SEEN],
            r[m.VAL_LOSS],
            r[m.BATCH_SIZE],
            r[m.TIME_TOTAL_S],
            1,
            r[m.WALL_TIME_S],
            BUDGET,
        )
        for r in rows
    ]


def test_continues_during_grace() -> None:
    sched, ctl = scheduler(), StubController()
    feed(sched, ctl, trial("p64", 64), results([(30, 64)]))
    assert feed(sched, ctl, trial("t", 1024), results([(1, 1024)])) == [CONTINUE]


def test_switches_when_the_extrapolation_says_so_and_applies_it_on_choose() -> None:
    sched, ctl = scheduler(), StubController()
    feed(sched, ctl, trial("p64", 64), results([(30, 64)]), complete=True)  # stopped, informs
    own = trial("t", 16)
    rows = results([(12, 16)])
    decisions = feed(sched, ctl, own, rows)
    assert decisions[-1] == PAUSE and set(decisions[:-1]) <= {CONTINUE}
    k = len(decisions)
    pending = sched.pending("t")
    assert pending is not None and (pending.batch_size, pending.accumulation_steps) == (64, 1)
    # the scheduler applied the pure policy to exactly these histories
    peers = {"p64": Peer(as_reports(results([(30, 64)])), alive=False)}
    assert pending == decide(as_reports(rows[:k]), peers, sched.settings, FitCache())

    waiting = trial("new", 32)
    waiting.status = Trial.PENDING
    ctl.trials.insert(0, waiting)  # FIFO alone would start the pending trial first
    sched.on_trial_add(ctl, waiting)
    own.status = Trial.PAUSED
    assert sched.choose_trial_to_run(ctl) is own
    assert own.config["batch_size"] == 64 and "accumulation_steps" not in own.config  # 1
    assert own.config["_switch_at"] == k and own.config["lr"] == 1e-3
    assert sched.pending("t") is None
    assert sched.choose_trial_to_run(ctl) is waiting  # then FIFO
    assert "1 switches" in sched.debug_string()


def test_a_restart_free_switch_continues_the_trial_and_posts_the_decision() -> None:
    board = SwitchBoard()
    sched, ctl = scheduler(board=board, switch_via="inplace"), StubController()
    feed(sched, ctl, trial("p64", 64), results([(30, 64)]), complete=True)
    own = trial("t", 16)
    decisions = []
    for row in results([(12, 16)]):  # until the switch (the trial would report at 64 next)
        decisions += feed(sched, ctl, own, [row])
        if "_switch_at" in own.config:
            break
    assert set(decisions) == {CONTINUE}
    assert BOARD_KEY not in own.config  # nothing private: the trainable finds it by name
    n = own.config["_switch_at"]
    assert own.config["batch_size"] == 64 and n > 1  # what a restart would continue with
    assert sched.pending("t") is None and own.status == Trial.RUNNING
    assert board.take("t", n) == (64, 1, n)
    assert board.take("t", n) is None  # taken once
    feed(sched, ctl, own, results([(12, 16)])[n - 1 : n])  # the same result again
    assert board.take("t", n) is None  # is not switched twice
    assert "1 switches" in sched.debug_string()


def test_the_board_drops_a_stale_decision() -> None:
    board = SwitchBoard()
    board.post("t", 64, 1, 5)
    assert board.take("t", 6) is None  # decided on report 5, asked after report 6: stale
    assert board.take("t", 5) is None  # and gone
    board.post("t", 64, 2, 7)
    board.post("t", 32, 1, 8)  # a later decision replaces an untaken one
    assert board.take("t", 8) == (32, 1, 8)


def test_a_trial_without_peers_explores_a_second_size_without_a_restart() -> None:
    board = SwitchBoard()
    sched = scheduler(board=board, switch_via="inplace", explore=True)
    ctl = StubController()
    own = trial("t", 32)
    for row in results([(8, 32)]):
        assert feed(sched, ctl, own, [row]) == [CONTINUE]
        if "_switch_at" in own.config:
            break
    n = own.config["_switch_at"]
    assert n == 5  # after its first segment (segment_reports = 5)
    assert board.take("t", n) == (64, 1, n)


def test_peers_with_another_config_do_not_inform() -> None:
    sched, ctl = scheduler(), StubController()
    feed(sched, ctl, trial("p64", 64, lr=1e-2), results([(30, 64)]), complete=True)
    assert set(feed(sched, ctl, trial("t", 16), results([(12, 16)]))) == {CONTINUE}


def test_no_switch_when_the_extrapolation_does_not_say_so() -> None:
    sched, ctl = scheduler(), StubController()
    feed(sched, ctl, trial("p16", 16), results([(12, 16)]), complete=True)
    feed(sched, ctl, trial("p256", 256), results([(40, 256)]), complete=True)
    decisions = feed(sched, ctl, trial("t", 64), results([(12, 64)]))
    assert decisions == [CONTINUE] * 12 and sched.pending("t") is None


def test_stops_a_clearly_worse_trial() -> None:
    sched, ctl = scheduler(), StubController()
    feed(sched, ctl, trial("fast", 64), results([(2, 64)]))  # live, 20 s, far lower loss
    decisions = feed(sched, ctl, trial("slow", 1024), results([(8, 1024)]))
    assert decisions[-1] == STOP and len(decisions) >= 2  # never inside the grace period
    assert "1 stopped (behind 1), 0 diverged" in sched.debug_string()


@pytest.mark.parametrize("slow_probe, stopped", [(0.9, False), (0.7, True)])
def test_the_leader_on_the_experiments_metric_is_never_stopped(
    slow_probe: float, stopped: bool
) -> None:
    sched, ctl = scheduler(), StubController()  # metric probe_acc (max), curves on val_loss
    fast = [{**r, "val_probe_acc": 0.8} for r in results([(2, 64)])]
    feed(sched, ctl, trial("fast", 64), fast)
    slow = [{**r, "val_probe_acc": slow_probe} for r in results([(8, 1024)])]
    decisions = feed(sched, ctl, trial("slow", 1024), slow)
    assert (decisions[-1] == STOP) is stopped  # worse on val_loss, but best on probe_acc


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_stops_and_marks(bad: float) -> None:
    sched, ctl = scheduler(), StubController()
    rows = results([(3, 64)])
    rows[-1] = {**rows[-1], m.VAL_LOSS: bad, m.DIVERGED: True}
    assert feed(sched, ctl, trial("t", 64), rows) == [CONTINUE, CONTINUE, STOP]
    assert "0 stopped, 1 diverged" in sched.debug_string()


def test_no_switch_on_the_report_that_ends_the_budget() -> None:
    peer_rows, rows = results([(30, 64)]), results([(12, 16)])
    probe, ctl = scheduler(), StubController()
    feed(probe, ctl, trial("p64", 64), peer_rows, complete=True)
    k = len(feed(probe, ctl, trial("t", 16), rows))  # it would switch after report k
    budget = rows[k - 1][m.SAMPLES_SEEN]
    sched, ctl = scheduler(), StubController()
    feed(sched, ctl, trial("p64", 64, budget_samples=budget), peer_rows, complete=True)
    own = trial("t", 16, budget_samples=budget)
    assert feed(sched, ctl, own, rows[:k]) == [CONTINUE] * k


def test_a_scripted_policy_and_mode_max_on_the_metric() -> None:
    seen: list[float] = []

    def policy(history, peers, settings, cache) -> Decision:
        seen.append(history[-1].val_loss)
        return Decision("continue", history[-1].batch_size, report_index=len(history))

    sched = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=SIZES), curve_metric="val_probe_acc", policy=policy
    )
    sched.set_search_properties("val_probe_acc", "max")
    row = {**results([(1, 64)])[0], "val_probe_acc": 0.75}
    assert feed(sched, StubController(), trial("t", 64), [row]) == [CONTINUE]
    assert seen == [-0.75]  # maximised metric: fitted as a loss


def _write_results(folder: Path, rows: list[dict[str, Any]]) -> str:
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(folder)


def test_restored_trials_replay_an_unapplied_switch_once(tmp_path: Path) -> None:
    rows = results([(12, 16)])
    peer_rows = results([(30, 64)])
    first, ctl = scheduler(), StubController()
    feed(first, ctl, trial("p64", 64), peer_rows, complete=True)
    k = len(feed(first, ctl, trial("t", 16), rows))
    decided = first.pending("t")
    assert decided is not None  # the driver dies here: PAUSE returned, config never changed

    # Tuner.restore: a new scheduler, histories from result.json, the trial PENDING again
    peer = trial("p64", 64)
    peer.status, peer.local_path = Trial.TERMINATED, _write_results(tmp_path / "p", peer_rows)
    own = trial("t", 16)
    own.status, own.local_path = Trial.PENDING, _write_results(tmp_path / "t", rows[:k])
    own.last_result = rows[k - 1]
    second, ctl = scheduler(), StubController(peer, own)
    for t in ctl.trials:
        second.on_trial_add(ctl, t)
    assert second.history("t") == as_reports(rows[:k])
    assert second.choose_trial_to_run(ctl) is own
    assert (own.config["batch_size"], own.config["_switch_at"]) == (decided.batch_size, k)

    # restored again after the switch was applied: nothing is applied twice
    applied = dict(own.config)
    third, ctl = scheduler(), StubController(peer, own)
    for t in ctl.trials:
        third.on_trial_add(ctl, t)
    third.choose_trial_to_run(ctl)
    assert own.config == applied
    # the trial resumed from an older checkpoint and re-reports iteration k at the new size
    own.status = Trial.RUNNING
    again = {**rows[k - 1], m.BATCH_SIZE: decided.batch_size}
    assert third.on_trial_result(ctl, own, again) == CONTINUE
    assert len(third.history("t")) == k and third.history("t")[-1].batch_size == 64


def test_a_re_reported_iteration_replaces_the_old_one() -> None:
    sched, ctl = scheduler(), StubController()
    rows = results([(4, 64)])
    feed(sched, ctl, t := trial("t", 64), rows)
    feed(sched, ctl, t, [rows[2]])  # iteration 3 again, after a restore from checkpoint 2
    assert sched.history("t") == as_reports(rows[:3])


def _never_switch(history, peers, settings, cache) -> Decision:
    last = history[-1]
    return Decision("continue", last.batch_size, last.accumulation_steps, "", len(history))


def test_a_restored_trial_follows_its_recorded_schedule(tmp_path: Path) -> None:
    rows = results([(6, 16), (4, 64)])  # the first run switched 16 → 64 after report 6
    folder = _write_results(tmp_path / "t", rows)

    def restored(known: int) -> tuple[ExtrapolationScheduler, StubController, StubTrial]:
        own = trial("t", 16)
        own.status, own.local_path, own.last_result = Trial.PENDING, folder, rows[known - 1]
        sched = ExtrapolationScheduler(
            SwitchSettings(batch_sizes=SIZES, switch_via="restart"), policy=_never_switch
        )
        ctl = StubController(own)
        sched.on_trial_add(ctl, own)
        return sched, ctl, own

    # Tune's state knew report 4 only: the trial reruns 5 and 6, then switches as recorded,
    # whatever the policy says now
    sched, ctl, own = restored(4)
    assert sched.choose_trial_to_run(ctl) is own and own.config["batch_size"] == 16
    own.status = Trial.RUNNING
    assert [sched.on_trial_result(ctl, own, r) for r in rows[4:6]] == [CONTINUE, PAUSE]
    assert (sched.pending("t").batch_size, sched.pending("t").report_index) == (64, 6)
    # past the recorded iterations the policy decides again
    assert sched.on_trial_result(ctl, own, rows[6]) == CONTINUE

    # Tune's state knew report 6: the recorded switch is applied before the trial restarts
    sched, ctl, own = restored(6)
    assert sched.choose_trial_to_run(ctl) is own
    assert (own.config["batch_size"], own.config["_switch_at"]) == (64, 6)


class _LoggedTrial:
    """What Tune's result loggers read of a trial; stored under ``remote``."""

    def __init__(self, local: Path, remote: Path) -> None:
        self.local_path, self.config, self.checkpoint = str(local), {}, object()
        local.mkdir(parents=True, exist_ok=True)
        self.storage = SimpleNamespace(
            trial_fs_path=str(remote), storage_filesystem=pyarrow.fs.LocalFileSystem()
        )

    def init_local_path(self) -> None:
        pass


@pytest.mark.parametrize("safe", [False, True])
def test_a_restarted_trial_keeps_the_rows_of_this_session(tmp_path: Path, safe: bool) -> None:
    from ray.tune.logger import JsonLoggerCallback

    local, remote = tmp_path / "local", tmp_path / "remote"
    t = _LoggedTrial(local, remote)
    callback = PauseSafeJsonLogger() if safe else JsonLoggerCallback()
    callback.log_trial_result(1, t, {"training_iteration": 1})
    _write_results(remote, [{"training_iteration": 1}])  # the periodic upload
    callback.log_trial_result(2, t, {"training_iteration": 2})  # the trial pauses here
    callback.log_trial_start(t)  # and restarts in the same session
    callback.log_trial_result(3, t, {"training_iteration": 3})
    rows = [
        json.loads(line)["training_iteration"]
        for line in (local / "result.json").read_text().splitlines()
    ]
    assert rows == ([1, 2, 3] if safe else [1, 3])  # Ray 2.60's own logger drops report 2


def _started_late(rows: list[dict[str, Any]], startup: float) -> list[dict[str, Any]]:
    return [{**r, m.TIME_TOTAL_S: r[m.TIME_TOTAL_S] + startup} for r in rows]


def test_start_up_seconds_do_not_count_as_compute() -> None:
    plain, ctl = scheduler(), StubController()
    feed(plain, ctl, trial("p64", 64), results([(30, 64)]), complete=True)
    expected = feed(plain, ctl, trial("t", 16), results([(12, 16)]))

    late, ctl = scheduler(), StubController()
    feed(late, ctl, trial("p64", 64), _started_late(results([(30, 64)]), 1.0), complete=True)
    decisions = feed(late, ctl, trial("t", 16), _started_late(results([(12, 16)]), 3.0))
    assert decisions == expected and late.pending("t") == plain.pending("t")
    times = [r.time_s for r in late.history("t")]
    assert times == pytest.approx([r.time_s for r in plain.history("t")])


# --- the scheduler sections of a search space -------------------------------------------------
SPACE = {
    "dataset": {"name": "GunPoint"},
    "param_space": {
        "batch_size": {"type": "categorical", "choices": [16, 8, 32]},
        "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    },
}


def test_extrapolation_and_pbt_sections_build_their_schedulers() -> None:
    from ray.tune.schedulers import PopulationBasedTraining

    from tune_bs.schedule.schedulers import build_scheduler
    from tune_bs.search.space import parse_space

    space = parse_space(
        {
            **SPACE,
            "scheduler": {"name": "extrapolation", "stop_margin": 0.2, "action": "accumulation"},
        }
    )
    assert space.scheduler["batch_sizes"] == [8, 16, 32]  # from param_space.batch_size
    built = build_scheduler(space.scheduler, 10, space.param_space)
    assert isinstance(built, ExtrapolationScheduler)
    assert built.settings == SwitchSettings(
        batch_sizes=(8, 16, 32), stop_margin=0.2, action="accumulation"
    )
    space = parse_space({**SPACE, "scheduler": {"name": "pbt", "batch_sizes": [8, 16]}})
    pbt = build_scheduler(space.scheduler, 10, space.param_space)
    assert isinstance(pbt, PopulationBasedTraining)
    assert pbt._hyperparam_mutations["batch_size"] == [8, 16]
    assert pbt._hyperparam_mutations["lr"].lower == 1e-4  # lr is searched: PBT perturbs it
    assert pbt._perturbation_interval == 2  # a quarter of the reports by default


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"name": "extrapolation", "stop_margn": 0.1},
            r"stop_margn is not a known key \(did you "
            r"mean 'stop_margin'\?\)",
        ),
        ({"name": "extrapolation", "segment_reports": 3}, r"segment_reports must be at least 5"),
        ({"name": "extrapolation", "batch_sizes": [8]}, r"at least two batch sizes"),
        (
            {"name": "extrapolation", "action": "bigger"},
            r"action must be one of accumulation, "
            r"loader",
        ),
        ({"name": "extrapolation", "switch_margin": -1}, r"switch_margin must be at least 0"),
        ({"name": "pbt", "quantile_fraction": 0.7}, r"between 0 and 0.5"),
        ({"name": "pbt", "perturbation_interval": 0}, r"perturbation_interval must be at least 1"),
    ],
)
def test_bad_scheduler_options_are_refused_in_one_line(section: dict, message: str) -> None:
    from tune_bs.errors import UserInputError
    from tune_bs.search.space import parse_space

    with pytest.raises(UserInputError, match=message) as info:
        parse_space({**SPACE, "scheduler": section})
    assert "\n" not in str(info.value)


def test_scheduler_batch_sizes_must_fit_the_training_set() -> None:
    from tune_bs.errors import UserInputError
    from tune_bs.search.space import check_against_data, parse_space

    space = parse_space({**SPACE, "scheduler": {"name": "extrapolation", "batch_sizes": [8, 64]}})
    with pytest.raises(
        UserInputError,
        match=r"scheduler.batch_sizes must be at most the number "
        r"of training series \(40\), but got 64",
    ):
        check_against_data(space, 40, "classification")
    space = parse_space(
        {
            **SPACE,
            "scheduler": {
                "name": "extrapolation",
                "batch_sizes": [8, 64],
                "action": "accumulation",
                "max_loader_batch_size": 16,
            },
        }
    )
    check_against_data(space, 40, "classification")  # 64 = 16 x 4 accumulated


# --- a trainable that does not take restart-free switches ---------------------------------------
def _double_after(*reports: int):
    def policy(history, peers, settings, cache) -> Decision:
        last, n = history[-1], len(history)
        if n in reports:
            return Decision("switch", last.batch_size * 2, 1, "scripted", n)
        return Decision("continue", last.batch_size, last.accumulation_steps, "", n)

    return policy


def _scripted_inplace(board: SwitchBoard, *reports: int) -> ExtrapolationScheduler:
    return ExtrapolationScheduler(
        SwitchSettings(batch_sizes=SIZES), board=board, policy=_double_after(*reports)
    )


def test_a_restart_free_switch_not_taken_is_carried_out_by_restart() -> None:
    board = SwitchBoard()
    sched, ctl, own = _scripted_inplace(board, 2, 4), StubController(), trial("t", 16)
    rows = results([(6, 16)])  # the trainable never changes its batch size by itself
    assert feed(sched, ctl, own, rows[:2]) == [CONTINUE, CONTINUE]
    assert own.config["batch_size"] == 32 and "_switch_via" not in own.config
    # report 3 is still at 16: not taken → restart with the switch, and restart from now on
    assert feed(sched, ctl, own, [rows[2]]) == [PAUSE]
    pending = sched.pending("t")
    assert (pending.batch_size, pending.report_index) == (32, 3)
    assert own.config["_switch_via"] == "restart"
    own.status = Trial.PAUSED
    assert sched.choose_trial_to_run(ctl) is own and own.config["_switch_at"] == 3
    own.status = Trial.RUNNING
    at_32 = [{**r, m.BATCH_SIZE: 32} for r in rows[3:]]
    assert feed(sched, ctl, own, at_32[:1]) == [PAUSE]  # the switch after report 4: at once
    assert board.take("t", 4) is None  # nothing posted for it
    assert sched.pending("t").batch_size == 64
    assert "2 switches" in sched.debug_string()


def test_a_trial_that_took_a_switch_and_misses_one_is_not_marked() -> None:
    board = SwitchBoard()
    sched, ctl, own = _scripted_inplace(board, 2, 4), StubController(), trial("t", 16)
    rows = results([(2, 16), (4, 32)])  # took the switch after report 2
    assert feed(sched, ctl, own, rows[:2]) == [CONTINUE] * 2
    assert board.take("t", 2) == (32, 1, 2)  # the trainable takes it
    assert feed(sched, ctl, own, rows[2:4]) == [CONTINUE] * 2
    assert own.config["batch_size"] == 64  # posted after report 4 and never taken
    # report 5 still at 32 (e.g. the board could not be reached): this switch by restart only
    assert feed(sched, ctl, own, [rows[4]]) == [PAUSE]
    assert sched.pending("t").batch_size == 64 and "_switch_via" not in own.config


def test_a_switch_taken_in_place_is_not_repeated() -> None:
    board = SwitchBoard()
    sched, ctl, own = _scripted_inplace(board, 2), StubController(), trial("t", 16)
    rows = results([(2, 16), (3, 32)])
    assert feed(sched, ctl, own, rows) == [CONTINUE] * 5
    assert sched.pending("t") is None and "_switch_via" not in own.config
    assert "1 switches" in sched.debug_string()


def test_a_function_trial_without_any_checkpoint_is_not_switched_by_restart(caplog) -> None:
    from ray.tune.trainable.function_trainable import FunctionTrainable

    @dataclass
    class FunctionTrial(StubTrial):
        checkpoint: Any = None

        def get_trainable_cls(self) -> type:
            return FunctionTrainable

    sched = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=SIZES, switch_via="restart"), policy=_double_after(2)
    )
    own = FunctionTrial("t", {"batch_size": 16, "budget_samples": BUDGET})
    rows = results([(3, 16)])  # no "should_checkpoint": the trainable reports no checkpoint
    with caplog.at_level("WARNING", logger="tune_bs.schedule.extrapolation"):
        assert feed(sched, StubController(), own, rows) == [CONTINUE] * 3
    assert own.config["batch_size"] == 16 and sched.pending("t") is None
    assert "reported no checkpoint, so a switch by restart would start it over" in caplog.text
    # one that reports a checkpoint with its results is switched
    sched = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=SIZES, switch_via="restart"), policy=_double_after(2)
    )
    other = FunctionTrial("u", {"batch_size": 16, "budget_samples": BUDGET})
    checkpointed = [{**r, "should_checkpoint": True} for r in rows]
    assert feed(sched, StubController(), other, checkpointed) == [CONTINUE, PAUSE]


# --- a random search over the learning rate: every trial is a rival -----------------------------
N_TRAIN = 1_437  # digits: samples per epoch
EPOCHS = 30
SECONDS_PER_EPOCH = {16: 1.0, 32: 0.7, 64: 0.5, 128: 0.4}


def lr_search(
    finals: dict[float, float], rates: dict[float, float], concurrent: int = 4, seed: int = 0
) -> tuple[ExtrapolationScheduler, dict[float, list[str]], dict[float, list[int]]]:
    """A search over ``lr`` (batch size 16, 30 epochs each) on stub trials under the default
    scheduler (in place, budget objective): trial ``lr`` reports the cross-entropy
    ``final + (2.30 − final)·exp(−rate·epoch)`` plus noise once per epoch and takes the
    scheduler's switches (its curve does not depend on the batch size). ``concurrent`` trials
    run at once, round robin. Returns the scheduler, each trial's actions and its batch sizes."""
    board = SwitchBoard()
    sched = ExtrapolationScheduler(SwitchSettings(batch_sizes=(16, 32, 64, 128)), board=board)
    sched.set_search_properties("val_loss", "min")
    rng = np.random.default_rng(seed)
    ctl = StubController()
    lrs = list(finals)
    actions: dict[float, list[str]] = {lr: [] for lr in lrs}
    sizes: dict[float, list[int]] = {lr: [] for lr in lrs}
    state = {lr: {"epoch": 0, "size": 16, "time": 0.0} for lr in lrs}
    waiting = list(lrs)
    running: list[float] = []
    trials = {}
    while waiting or running:
        while waiting and len(running) < concurrent:
            lr = waiting.pop(0)
            t = StubTrial(
                f"lr{lr:g}",
                {"batch_size": 16, "lr": lr, "seed": 0, "budget_samples": EPOCHS * N_TRAIN},
            )
            trials[lr] = t
            ctl.trials.append(t)
            sched.on_trial_add(ctl, t)
            running.append(lr)
        for lr in list(running):
            t, s = trials[lr], state[lr]
            s["epoch"] += 1
            s["time"] += SECONDS_PER_EPOCH[s["size"]]
            e = s["epoch"]
            loss = finals[lr] + (2.30 - finals[lr]) * math.exp(-rates[lr] * e)
            row = {
                m.SAMPLES_SEEN: e * N_TRAIN,
                m.VAL_LOSS: loss + 0.01 * float(rng.standard_normal()),
                m.BATCH_SIZE: s["size"],
                m.TRIAL_TIME_S: s["time"],
                m.WALL_TIME_S: 100.0 * lrs.index(lr) + s["time"],
                m.TRAINING_ITERATION: e,
            }
            if e == EPOCHS:
                row["done"] = True
            action = sched.on_trial_result(ctl, t, row)
            t.last_result = row
            actions[lr].append(action)
            sizes[lr].append(s["size"])
            switch = board.take(t.trial_id, e)
            if switch is not None:
                s["size"] = switch[0]
            if action == STOP or e == EPOCHS:
                t.status = Trial.TERMINATED
                if action != STOP:
                    sched.on_trial_complete(ctl, t, row)
                running.remove(lr)
    return sched, actions, sizes


LRS = {0.003: 0.35, 0.03: 0.12, 0.1: 0.10, 0.3: 2.30}  # lr → final val_loss (0.3: chance)
RATES = {0.003: 0.08, 0.03: 0.3, 0.1: 0.5, 0.3: 0.0}


@pytest.mark.parametrize("concurrent", [4, 2])
def test_a_chance_level_trial_of_an_lr_search_is_stopped_before_half_its_budget(
    concurrent: int,
) -> None:
    """No two trials of a search over ``lr`` are peers (their configs differ), yet each is a
    rival of every other: the trial stuck at chance (val_loss 2.30 for 30 epochs, as ``lr=0.3``
    on digits) cannot reach the best expected end and is stopped before epoch 15; the best
    trial runs its whole budget."""
    sched, actions, _ = lr_search(LRS, RATES, concurrent)
    chance = actions[0.3]
    assert chance[-1] == STOP and len(chance) < EPOCHS // 2, len(chance)
    assert actions[0.1][-1] != STOP and len(actions[0.1]) == EPOCHS
    assert "stopped" in sched.debug_string()


def test_a_lone_trial_of_an_lr_search_does_not_ramp() -> None:
    """Every trial of the search is alone at its batch size: it may visit one other size at a
    time, but only keeps it on a verdict (rule 5) — never 16→32→64→128 at reports 5, 10, 15."""
    _, _, sizes = lr_search(LRS, RATES)
    for lr, seen in sizes.items():
        distinct = list(dict.fromkeys(seen))
        assert distinct[:4] != [16, 32, 64, 128], (lr, seen)


@pytest.mark.parametrize(
    "curve_metric, mode, floor",
    [(None, "min", 0.0), ("val_probe_acc", "max", -1.0), ("score", "max", None)],
)
def test_the_scheduler_states_the_curves_floor_from_the_metrics_range(
    curve_metric: str | None, mode: str, floor: float | None
) -> None:
    """A loss is fitted at or above 0, a maximised accuracy (negated) at or above −1; a metric of
    unknown range is not bounded (``ReportKeys.val_loss_range`` states one)."""
    seen: list[float | None] = []

    def policy(history, peers, settings, cache) -> Decision:
        seen.append(settings.curve_floor)
        return Decision("continue", history[-1].batch_size, report_index=len(history))

    sched = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=SIZES), curve_metric=curve_metric, policy=policy
    )
    sched.set_search_properties(curve_metric or "val_loss", mode)
    row = {**results([(1, 64)])[0], "val_probe_acc": 0.5, "score": 0.5}
    feed(sched, StubController(), trial("t", 64), [row])
    assert seen == [floor]


def test_a_start_size_outside_the_candidates_gets_one_line_at_once() -> None:
    sched = ExtrapolationScheduler(SwitchSettings(batch_sizes=(16, 32, 64)))
    with pytest.raises(UserInputError, match=r"starts at batch_size=24, .*add 24 to"):
        sched.on_trial_add(StubController(), trial("t", 24))
    sched.on_trial_add(StubController(), trial("ok", 32))  # a candidate: fine
    accumulating = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=(16, 32, 64), action="accumulation")
    )
    accumulating.on_trial_add(StubController(), trial("acc", 16, accumulation_steps=2))  # 32


@pytest.mark.parametrize("metric, mode", [("val_loss", "max"), ("loss", "max"), ("val_acc", "min")])
def test_a_mode_that_contradicts_the_metric_gets_one_line(metric: str, mode: str) -> None:
    """``mode="max"`` on a loss used to give 0 switches and 0 stops without a word (the curve
    was fitted upside down)."""
    fix = "min" if mode == "max" else "max"
    with pytest.raises(UserInputError, match=rf"mode={mode!r} .* use mode={fix!r}"):
        ExtrapolationScheduler(SwitchSettings(batch_sizes=SIZES), metric=metric, mode=mode)
    sched = ExtrapolationScheduler(SwitchSettings(batch_sizes=SIZES))
    with pytest.raises(UserInputError, match=rf"use mode={fix!r}"):
        sched.set_search_properties(metric, mode)  # as Tune passes TuneConfig's
    assert sched.set_search_properties(metric, fix)
    ExtrapolationScheduler(SwitchSettings(batch_sizes=SIZES)).set_search_properties("score", mode)


def test_the_sampled_batch_size_stays_in_the_config_after_a_switch() -> None:
    """``batch_size_initial`` keeps the size the search sampled (results and Tune's
    ``Result.config`` show it), ``batch_size`` the one in force."""
    sched, ctl = scheduler(), StubController()
    feed(sched, ctl, trial("p64", 64), results([(30, 64)]), complete=True)
    own = trial("t", 16)
    assert feed(sched, ctl, own, results([(12, 16)]))[-1] == PAUSE
    own.status = Trial.PAUSED
    assert sched.choose_trial_to_run(ctl) is own
    assert (own.config["batch_size"], own.config["batch_size_initial"]) == (64, 16)
