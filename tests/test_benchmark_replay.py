"""The replay benchmark (benchmarks/replay.py, benchmarks/replay_curves.py): the committed curves,
the replay of a pool through a scheduler on stub trials, its figures, and its smoke test."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import BENCHMARKS, load_benchmark
from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from tune_bs import metrics as m


@pytest.fixture(scope="module")
def rc() -> ModuleType:
    return load_benchmark("replay_curves")


@pytest.fixture(scope="module")
def replay(rc: ModuleType) -> ModuleType:
    return load_benchmark("replay")


def pool(rc: ModuleType, curves: list[list[float]], **kw: Any) -> Any:
    """A pool of hand-made curves (point 0 first), one hyperparameter ``x`` per curve."""
    values = np.asarray(curves, dtype=float)
    hps = tuple({"x": float(i)} for i in range(len(values)))
    return rc.CurvePool("hand", values, hps, batch_size=8, samples_per_point=80, **kw)


# --- the committed curves ------------------------------------------------------------------------
def test_the_committed_subset_is_small_and_has_enough_pools_of_enough_configs(rc) -> None:
    assert rc.POOLS_FILE.stat().st_size < 2 * 1024 * 1024
    pools = rc.load_pools()
    assert len(pools) >= 20 and all(p.n_configs >= 32 for p in pools)
    assert {p.curves.shape[1] for p in pools} == {51} and {p.reports for p in pools} == {50}
    assert {p.batch_size for p in pools} == {64, 128}
    assert all(set(h) == set(rc.HP_NAMES) for p in pools for h in p.hyperparameters)
    assert all(p.samples_per_point == 200 * p.batch_size for p in pools)
    assert "machinelearningnuremberg/DPL commit de44b74" in rc.source_of()
    # diverged curves are kept; most curves are finite
    finals = np.concatenate([p.curves[:, -1] for p in pools])
    assert 0 < (~np.isfinite(finals)).sum() < 0.2 * len(finals)
    readme = (rc.DATA / "README.md").read_text()
    assert "de44b74030a7d4bb37467add431e6fac19cd357a" in readme and "Apache" in readme
    assert (
        (rc.DATA / "LICENSE-DPL-Apache-2.0.txt")
        .read_text()
        .startswith("                                 Apache License")
    )


def test_pools_are_disjoint_seeded_draws(rc) -> None:
    drawn = rc.draw_pools(100, 3, 32, seed=4)
    assert [len(d) for d in drawn] == [32, 32, 32]
    assert len(np.unique(np.concatenate(drawn))) == 96
    assert all((np.diff(d) > 0).all() for d in drawn)
    again = rc.draw_pools(100, 3, 32, seed=4)
    assert all((a == b).all() for a, b in zip(drawn, again, strict=True))
    assert not (rc.draw_pools(100, 3, 32, seed=5)[0] == drawn[0]).all()
    with pytest.raises(ValueError, match="need 128 of 100"):
        rc.draw_pools(100, 4, 32, seed=0)


def test_the_task_names_batch_size_is_read(rc) -> None:
    assert rc.batch_size_of("FixedTextRNNClassification_imdb_patch32_GRU128_bs128") == 128
    with pytest.raises(ValueError, match="no _bsNN"):
        rc.batch_size_of("some_task")


def test_the_subset_is_rebuilt_from_a_git_repository(rc, tmp_path) -> None:
    repo = tmp_path / "repo"
    folder = repo / rc.FOLDER
    folder.mkdir(parents=True)
    entry = {
        "hp": {name: 0.5 for name in rc.HP_NAMES},
        "valid": {"loss": [1.0, 0.5, None, 0.25]},
    }
    (folder / "task_bs16.json").write_text(json.dumps([entry] * 4))
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "curves"]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
        )
    out = rc.build_taskset_pools(repo, tmp_path / "pools.npz", pools_per_task=2, size=2)
    pools = rc.load_pools(out)
    assert [p.n_configs for p in pools] == [2, 2] and pools[0].batch_size == 16
    assert np.isnan(pools[0].curves[0, 2]) and pools[0].curves[0, 3] == 0.25
    assert pools[0].samples_per_point == 200 * 16


# --- one replay ----------------------------------------------------------------------------------
def test_fifo_runs_every_report_and_selects_the_best_final_value(rc, replay) -> None:
    p = pool(rc, [[2, 1.0, 0.9, 0.8, 0.7], [2, 1.2, 1.1, 1.0, 0.6], [2, 3, 3, 3, 3]])
    run = replay.replay_pool(p, replay.build_scheduler("fifo", p), concurrency=2)
    assert [t.reports for t in run.trials] == [4, 4, 4] and run.compute == pytest.approx(12.0)
    figures = replay.figures(p, run)
    assert figures["selected_value"] == pytest.approx(0.6)
    assert figures["best_final"] == pytest.approx(0.6) and figures["regret_points"] == 0.0


class Scripted(FIFOScheduler):
    """Answers from a script keyed by (trial, report); records what it was shown."""

    def __init__(self, script: dict[tuple[str, int], str], running: int | None = None) -> None:
        super().__init__()
        self.script, self.running, self.seen, self.completed = script, running, [], []

    def on_trial_result(self, controller: Any, trial: Any, result: dict) -> str:
        self.seen.append((trial.trial_id, result[m.TRAINING_ITERATION], result[m.WALL_TIME_S]))
        running = [t.trial_id for t in controller.get_trials() if t.status == Trial.RUNNING]
        assert trial.trial_id in running and len(running) <= (self.running or len(running))
        return self.script.get((trial.trial_id, result[m.TRAINING_ITERATION]), self.CONTINUE)

    def on_trial_complete(self, controller: Any, trial: Any, result: dict) -> None:
        self.completed.append((trial.trial_id, result[m.TRAINING_ITERATION]))


def test_a_stop_frees_the_slot_and_a_pause_waits_for_one(rc, replay) -> None:
    p = pool(rc, [[1, 1, 1, 1]] * 3)
    stop, pause = TrialScheduler.STOP, TrialScheduler.PAUSE
    sched = Scripted({("0000", 1): pause, ("0002", 1): stop}, running=2)
    run = replay.replay_pool(p, sched, concurrency=2)
    assert [t.reports for t in run.trials] == [3, 3, 1]
    assert [t.stopped for t in run.trials] == [False, False, True]
    assert run.trials[0].pauses == 1 and run.compute == pytest.approx(7.0)
    # 0 pauses at clock 1, so the waiting 2 starts; 2 stops at clock 2 and 0 resumes in its slot
    assert sched.seen == [
        ("0000", 1, 1.0),
        ("0001", 1, 1.0),
        ("0001", 2, 2.0),
        ("0002", 1, 2.0),
        ("0001", 3, 3.0),
        ("0000", 2, 3.0),
        ("0000", 3, 4.0),
    ]
    assert sched.completed == [("0002", 1), ("0001", 3), ("0000", 3)]


def test_reports_carry_what_the_readme_asks_and_configs_every_hyperparameter(rc, replay) -> None:
    p = pool(rc, [[1, 0.5, 0.4], [1, 0.6, 0.5]])
    sched = Scripted({})
    shown: list[dict] = []
    sched.on_trial_result = lambda c, t, r: shown.append((dict(t.config), r)) or "CONTINUE"
    replay.replay_pool(p, sched, concurrency=1)
    config, first = shown[0]
    assert config == {"x": 0.0, m.BATCH_SIZE: 8, m.BUDGET_SAMPLES: 160}
    assert first == {
        m.VAL_LOSS: 0.5,
        m.SAMPLES_SEEN: 80,
        m.BATCH_SIZE: 8,
        m.WALL_TIME_S: 1.0,
        m.TRIAL_TIME_S: 1.0,
        m.TIME_TOTAL_S: 1.0,
        m.TRAINING_ITERATION: 1,
    }
    assert m.BUDGET_SAMPLES not in replay.trial_config(p, 0, with_budget=False)


def test_point_costs_set_the_clock_and_the_compute(rc, replay) -> None:
    costs = np.array([[0, 1.0, 1.0], [0, 3.0, 3.0]])
    p = pool(rc, [[1, 0.5, 0.4], [1, 0.6, 0.5]], point_costs=costs)
    sched = Scripted({})
    run = replay.replay_pool(p, sched, concurrency=2)
    assert run.compute == pytest.approx(8.0)
    assert [(s[0], s[2]) for s in sched.seen] == [
        ("0000", 1.0),
        ("0000", 2.0),
        ("0001", 3.0),
        ("0001", 6.0),
    ]


def test_asha_stops_the_bad_trials_of_a_pool(rc, replay) -> None:
    good = [[1.0, *np.linspace(0.9, 0.3 + 0.01 * i, 12)] for i in range(4)]
    bad = [[1.0] + [0.95] * 12 for _ in range(8)]
    p = pool(rc, good + bad)
    run = replay.replay_pool(p, replay.build_scheduler("asha", p), concurrency=4)
    figures = replay.figures(p, run)
    assert sum(t.stopped for t in run.trials[4:]) >= 6 and figures["regret_points"] == 0.0
    assert run.compute < 0.7 * 12 * 12


def test_the_extrapolation_scheduler_is_wired_as_the_readme_says(rc, replay) -> None:
    p = pool(rc, [[1.0, 0.9, 0.8], [1.0, 0.8, 0.7]])
    sched = replay.build_scheduler("extrapolation", p)
    assert sched._settings.switching is False and sched._settings.batch_sizes == (8,)
    assert (sched._ledger.metric, sched._ledger.mode) == (m.VAL_LOSS, "min")


def test_a_stopped_trial_that_beats_every_final_value_has_a_negative_regret(rc, replay) -> None:
    p = pool(rc, [[1, 0.2, 0.5, 0.9], [1, 0.6, 0.6, 0.6], [1, math.nan, math.nan, math.nan]])
    run = replay.replay_pool(p, Scripted({("0000", 1): TrialScheduler.STOP}), concurrency=3)
    figures = replay.figures(p, run)
    assert figures["selected_value"] == pytest.approx(0.2)  # NaN never selected
    assert figures["best_final"] == pytest.approx(0.6)
    assert figures["regret_points"] == pytest.approx(-40.0)
    assert replay.regret_points(0.7, 0.75, "max") == pytest.approx(5.0)


def test_ratios_summary_and_goals(replay) -> None:
    rows = []
    cases = [(0.3, 0.2, 0.1), (0.4, 0.5, 0.3), (0.3, 0.25, 2)]  # asha, mine, my regret
    for index, (asha, mine, regret) in enumerate(cases):
        name = f"p{index}"
        rows += [
            {"pool": name, "method": "fifo", "compute": 100.0, "regret_points": 0.0},
            {"pool": name, "method": "asha", "compute": 100 * asha, "regret_points": 1.0},
            {
                "pool": name,
                "method": "extrapolation",
                "compute": 100 * mine,
                "regret_points": regret,
            },
        ]
    frame = replay.with_ratios(pd.DataFrame(rows).assign(trials_stopped=0))
    assert frame["compute_ratio"].round(3).tolist()[:3] == [1.0, 0.3, 0.2]
    table = replay.summary(frame, ["fifo", "asha", "extrapolation"]).set_index("method")
    assert table.loc["extrapolation", "median compute / fifo"] == pytest.approx(0.25)
    assert table.loc["extrapolation", "pools within 0.5 points"] == "2/3"
    assert table.loc["asha", "median regret (points)"] == pytest.approx(1.0)
    lines = replay.goal_lines(table.reset_index())
    assert lines[0].endswith("-> MET") and "0.25x fifo, asha 0.30x" in lines[0]
    assert lines[1].endswith("-> MET") and "0.30" in lines[1]


@pytest.mark.slow
def test_the_smoke_test_replays_two_pools_through_every_method(replay, tmp_path, capsys) -> None:
    assert replay.main(["--smoke-test", "--out", str(tmp_path)]) == 0
    frame = pd.read_csv(tmp_path / "replay.csv")
    assert sorted(frame["method"].unique()) == sorted(replay.METHODS)
    assert len(frame) == 2 * len(replay.METHODS) and (frame["trials"] == 12).all()
    fifo = frame[frame["method"] == "fifo"]
    assert (fifo["compute_ratio"] == 1.0).all() and (fifo["regret_points"] == 0.0).all()
    assert (frame[frame["method"] == "asha"]["compute_ratio"] < 1.0).all()
    out = capsys.readouterr().out
    assert out.count("-> M") == 2 and (tmp_path / "replay.md").is_file()


def test_a_missing_pools_file_exits_2_in_one_line(replay, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        replay.main(["--pools", str(tmp_path / "none.npz")])
    assert info.value.code == 2
    assert "--pools: no file" in capsys.readouterr().err.strip().splitlines()[-1]
    assert BENCHMARKS.is_dir() and Path(replay.__file__).parent == BENCHMARKS


def test_accuracy_curves_are_reported_under_their_name_and_maximised(rc, replay) -> None:
    curves = [
        [0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8],
        [0.5, 0.55, 0.6, 0.6, 0.6, 0.6, 0.6, 0.65],
        [0.5, 0.9, 0.85, 0.8, 0.7, 0.6, 0.6, 0.6],
    ]  # long enough for ASHA's grace of 5 reports
    p = pool(rc, curves, mode="max", metric="val_acc")
    sched = replay.build_scheduler("extrapolation", p)
    assert sched._keys.val_loss == "val_acc" and (sched._ledger.metric, sched._ledger.mode) == (
        "val_acc",
        "max",
    )
    scripted = Scripted({("0002", 1): TrialScheduler.STOP})
    shown: list[dict] = []
    original = scripted.on_trial_result
    scripted.on_trial_result = lambda c, t, r: shown.append(r) or original(c, t, r)
    figures = replay.figures(p, replay.replay_pool(p, scripted, concurrency=3))
    assert all("val_acc" in r and m.VAL_LOSS not in r for r in shown)
    assert figures["selected_value"] == pytest.approx(0.9) and figures["best_final"] == 0.8
    assert figures["regret_points"] == pytest.approx(-10.0)  # stopped at its peak
    for method in replay.METHODS:  # every scheduler takes the pool's metric and mode
        replay.replay_pool(p, replay.build_scheduler(method, p), concurrency=2)


def test_a_pools_file_may_name_its_metric_and_mode(rc, tmp_path) -> None:
    path = tmp_path / "acc.npz"
    np.savez_compressed(
        path,
        task=np.array(["t_bs4"]),
        curves=np.full((1, 2, 4), 0.5, dtype=np.float32),
        config_index=np.zeros((1, 2), dtype=np.int16),
        hyperparameters=np.zeros((1, 2, 1)),
        hp_names=np.array(["lr"]),
        batch_size=np.array([4]),
        steps_per_point=np.int32(10),
        source=np.array("hand-made"),
        metric=np.array("val_acc"),
        mode=np.array("max"),
    )
    (loaded,) = rc.load_pools(path)
    assert (loaded.metric, loaded.mode, loaded.samples_per_point) == ("val_acc", "max", 40)
    assert rc.load_pools()[0].metric == "val_loss" and rc.load_pools()[0].mode == "min"
