"""End-to-end on a real local Ray: the extrapolation scheduler switches a running trial's batch
size, and a killed-then-resumed experiment keeps the schedule.

Budgets are tiny (ItalyPowerDemand, an 8-wide FCN, reports of 100 samples).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trial_files
import yaml
from conftest import kill_when, local_ray_session, run_to_end
from trial_files import trial_dirs

from tune_bs.schedule.switching import Decision
from tune_bs.search.space import load_space
from tune_bs.train.clock import SIMULATED_CLOCK_ENV

pytestmark = pytest.mark.ray

DATASET = "ItalyPowerDemand"


def result_rows(trial_dir: Path) -> list[dict[str, Any]]:
    """The trial's reports, one per training iteration (the latest line of a repeated one)."""
    return trial_files.result_rows(trial_dir, latest_per_iteration=True)


def switch_after_two_reports(history, peers, settings, cache) -> Decision:
    """A scripted policy: 8 → 16 after the second report, nothing else."""
    last, n = history[-1], len(history)
    if n == 2 and last.batch_size == 8:
        return Decision("switch", 16, 1, "scripted", n)
    return Decision("continue", last.batch_size, last.accumulation_steps, "", n)


# the in-place switch is one of the quick run's representative end-to-end tests; the restart path
# runs with the slow ones
@pytest.mark.parametrize("switch_via", ["inplace", pytest.param("restart", marks=pytest.mark.slow)])
def test_a_switch_changes_the_batch_size_the_trainable_uses(
    tmp_path: Path, switch_via: str
) -> None:
    from ray import tune

    from tune_bs.data import load_dataset
    from tune_bs.schedule.extrapolation import ExtrapolationScheduler
    from tune_bs.schedule.schedulers import logger_callbacks
    from tune_bs.schedule.switching import SwitchSettings
    from tune_bs.search.trainable import train_trial

    data = load_dataset(name=DATASET)
    scheduler = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=(8, 16), switch_via=switch_via), policy=switch_after_two_reports
    )
    with local_ray_session():
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(train_trial, data=data), {"cpu": 1}),
            param_space={
                "batch_size": 8,
                "hidden": 8,
                "budget_samples": 500,
                "report_every": 100,
                "seed": 0,
            },
            tune_config=tune.TuneConfig(metric="val_loss", mode="min", scheduler=scheduler),
            run_config=tune.RunConfig(
                name="switch", storage_path=str(tmp_path), verbose=0, callbacks=logger_callbacks()
            ),
        )
        grid = tuner.fit()
    assert not grid.errors
    (trial,) = trial_dirs(tmp_path / "switch")
    rows = result_rows(trial)
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["batch_size"] for r in rows] == [8, 8, 16, 16, 16]
    schedules = [r["batch_size_schedule"] for r in rows]
    assert schedules[:2] == ["0:8", "0:8"]
    switched_at = rows[1]["samples_seen"]
    assert schedules[2:] == [f"0:8;{switched_at}:16"] * 3
    assert [r["switches"] for r in rows] == [0, 0, 1, 1, 1]
    samples = [r["samples_seen"] for r in rows]
    assert samples == sorted(samples) and samples[-1] >= 500
    times = [r["time_total_s"] for r in rows]
    assert times == sorted(times)  # the trial's clock goes on across the pause
    # Result.config: the size in force at the end (and the switch's idempotency key)
    (result,) = grid
    assert result.config["batch_size"] == 16 and result.config["_switch_at"] == 2
    if switch_via == "inplace":  # one trainable process from start to end, nothing restored
        assert {r["pid"] for r in rows} == {rows[0]["pid"]}
        assert [r["iterations_since_restore"] for r in rows] == [1, 2, 3, 4, 5]
    else:  # restored from the checkpoint of report 2 with the new config
        assert rows[2]["iterations_since_restore"] == 1
        assert rows[-1]["config"]["batch_size"] == 16 and rows[-1]["config"]["_switch_at"] == 2


SPACE = {
    "name": "killed-switch",
    "dataset": {"name": DATASET},
    "metric": "val_loss",
    "num_samples": 1,
    "budget": {"samples": 4000, "reports": 40},
    # one trial, no peers: rule 6 explores batch size 16 once five reports at 8 are in (no
    # restart cost assumed: this tiny budget would not pay for the default 2 s)
    "scheduler": {
        "name": "extrapolation",
        "batch_sizes": [8, 16],
        "grace_reports": 1,
        "segment_reports": 5,
        "probe_every": 5,
        "probe_slowdown": 0.5,
        "switch_cost_s": 0.0,
    },
    "param_space": {"batch_size": 8, "hidden": 8, "encoder": "fcn"},
}


HOOKS = Path(__file__).parent / "trial_hooks.py"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tune_bs", *args]


def _first_switch(folder: Path) -> str | None:
    for trial in folder.glob("*/result.json"):
        for row in result_rows(trial.parent):
            if row.get("switches", 0) >= 1:
                return row["batch_size_schedule"]
    return None


@pytest.mark.slow
def test_killed_driver_resumes_with_the_schedule_intact(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", SIMULATED_CLOCK_ENV: COST_MODEL}
    folder, held = tmp_path / SPACE["name"], tmp_path / "held"
    # the trial holds after its first report at the new size (tests/trial_hooks.py): the
    # driver is killed there
    holding = [sys.executable, str(HOOKS), "switches=1", str(held), "--"]
    kill_when(
        [*holding, "run", str(path), "--storage", str(tmp_path)],
        env,
        # held, and its report reached the storage (the driver uploads it every second)
        lambda: held.is_dir() and any(held.iterdir()) and _first_switch(folder) is not None,
        "a switch",
        poll_s=0.2,
    )
    (trial,) = trial_dirs(folder)
    killed = result_rows(trial)
    assert killed[-1]["samples_seen"] < 4000  # it really was interrupted
    assert killed[-1]["switches"] == 1 and _first_switch(folder) is not None

    done = run_to_end(_cli("resume", str(folder)), env)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = result_rows(trial)
    assert [r["training_iteration"] for r in rows] == list(range(1, 41))
    samples = [r["samples_seen"] for r in rows]
    assert samples == sorted(set(samples)) and samples[-1] >= 4000
    # the schedule before the kill is a prefix of every later one; each row trains at the
    # size its schedule ends with; switches only ever count up
    for row in rows[len(killed) - 1 :]:
        assert row["batch_size_schedule"].startswith(killed[-1]["batch_size_schedule"])
    for row in rows:
        assert row["batch_size_schedule"].rsplit(":", 1)[1] == str(row["batch_size"])
        assert row["switches"] == row["batch_size_schedule"].count(";")
    assert [r["switches"] for r in rows] == sorted(r["switches"] for r in rows)
    assert rows[-1]["config"]["_switch_at"] >= 5
    assert "TERMINATED" in done.stdout


#: The cost model the scheduler e2e tests time trials on (tune_bs.train.clock): a step of B series
#: costs 0.02 + 0.001·B s, an evaluation 0.05 s — the same on every run and every machine.
COST_MODEL = "0.02,0.001,0.05"


@pytest.mark.slow
def test_the_switching_smoke_test_trains_a_trial_at_two_batch_sizes(tmp_path: Path) -> None:
    space = Path(__file__).parents[1] / "search_spaces" / "switching.yaml"
    env = {**os.environ, SIMULATED_CLOCK_ENV: COST_MODEL}
    done = subprocess.run(
        _cli("run", str(space), "--smoke-test", "--storage", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    trials = trial_dirs(tmp_path / "switching-smoke")
    assert len(trials) == 2
    explored = 0
    for trial in trials:
        rows = result_rows(trial)
        start = rows[0]["batch_size"]
        # the trial's own clock is the cost model's, in the Ray worker too: whole steps of
        # 0.02 s, 0.001 s per sample and one evaluation of 0.05 s per report
        first = rows[0]
        steps = (first["trial_time_s"] - 0.05 - 0.001 * first["samples_seen"]) / 0.02
        assert steps == pytest.approx(round(steps)) and round(steps) >= 120 / start
        stopped = f"trial {first['trial_id']} stops at report 5 (batch size {start}), rule behind"
        if len(rows) == 5 and stopped in done.stderr:
            # the two trials are rivals: where the other's reports reached the scheduler first
            # (the order of arrival is the machine's, not the cost model's), this one can be
            # stopped behind it after its first segment instead of exploring
            continue
        # each trial is alone at its lr: after its first segment (5 reports, 600 samples) it
        # explores the next candidate size, in place
        bigger = {8: 16, 16: 32}[start]
        assert rows[-1]["batch_size_schedule"].startswith(f"0:{start};600:{bigger}")
        assert [r["batch_size"] for r in rows[:6]] == [start] * 5 + [bigger]
        assert {r["pid"] for r in rows} == {rows[0]["pid"]}  # restart-free
        explored += 1
    assert explored >= 1, done.stderr[-2000:]
    assert "batch_size_schedule" in done.stdout
    # the run ends with the trial selected on val_loss, its test score and its config file
    assert "selected on validation: trial" in done.stdout and "val_loss = " in done.stdout
    assert "its test score: test_probe_acc = " in done.stdout
    best = tmp_path / "switching-smoke" / "best_config.yaml"
    assert f"best configuration: {best}" in done.stdout
    assert load_space(best).num_samples == 1
