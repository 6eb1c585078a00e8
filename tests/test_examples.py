"""The examples' smoke tests, run as CI runs them (a subprocess each), on the cost-model clock so
that the scheduler decides the same on every run: each trial's seconds come from
``TUNE_BS_SIMULATED_CLOCK`` (a step over B samples costs 0.2 + 0.001·B s, an evaluation 0.1 s),
which the examples' trials read through :func:`tune_bs.train.clock.clock_from_env`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from trial_files import result_rows, trial_dirs

from tune_bs.train.clock import SIMULATED_CLOCK_ENV

pytestmark = [pytest.mark.ray, pytest.mark.slow]

EXAMPLES = Path(__file__).parents[1] / "examples"
COST_MODEL = "0.2,0.001,0.1"
N_TRAIN = 1437  # digits: 1797 images, 20 % held out
SMOKE_EPOCHS = 12


def schedule(rows: list[dict]) -> str:
    """``samples:batch;...`` from the reports (the batch size each stretch trained at)."""
    parts, previous, current = [], 0, None
    for row in rows:
        if row["batch_size"] != current:
            parts.append(f"{previous}:{row['batch_size']}")
            current = row["batch_size"]
        previous = row["samples_seen"]
    return ";".join(parts)


@pytest.mark.parametrize("example", ["digits_inplace", "digits_restart"])
def test_the_example_trains_a_trial_at_two_batch_sizes(tmp_path: Path, example: str) -> None:
    env = {**os.environ, SIMULATED_CLOCK_ENV: COST_MODEL}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{example}.py"), "--smoke-test", "--storage",
         str(tmp_path)],
        capture_output=True, text=True, timeout=400, env=env, start_new_session=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 trials, 0 errors" in done.stdout
    printed = dict(re.findall(r"^trial lr=(\S+)\s+batch-size schedule (\S+)", done.stdout,
                              flags=re.M))  # fmt: skip
    trials = trial_dirs(tmp_path / example.replace("_", "-"))
    assert len(trials) == 2
    schedules = {}
    for trial in trials:
        rows = result_rows(trial, latest_per_iteration=True)
        assert [r["training_iteration"] for r in rows] == list(range(1, SMOKE_EPOCHS + 1))
        assert [r["samples_seen"] for r in rows] == [N_TRAIN * i for i in range(1, 13)]
        # the trial's clock is the cost model's, in the Ray worker too: 90 steps of 16, one
        # evaluation
        assert rows[0]["trial_time_s"] == pytest.approx(90 * 0.2 + 0.001 * N_TRAIN + 0.1)
        times = [r["trial_time_s"] for r in rows]
        assert times == sorted(times)  # and it goes on across a restart
        sizes = [r["batch_size"] for r in rows]
        assert sizes[:5] == [16] * 5  # no decision before the first segment is measured
        changed = [i for i in range(1, len(rows)) if sizes[i] != sizes[i - 1]]
        if example == "digits_inplace":  # restart-free: one process, nothing restored
            assert {r["pid"] for r in rows} == {rows[0]["pid"]}
            assert [r["iterations_since_restore"] for r in rows] == list(range(1, 13))
        else:  # each switch restored the trial from the checkpoint of the report before
            assert all(rows[i]["iterations_since_restore"] == 1 for i in changed)
        schedules[f"{rows[0]['config']['lr']:g}"] = schedule(rows)
    assert printed == schedules  # what the example prints is what its trials reported
    assert any(";" in s for s in schedules.values()), schedules  # a trial at two batch sizes


def run_example(name: str, storage: Path) -> str:
    """``examples/<name>.py --smoke-test`` on the cost-model clock; what it printed."""
    env = {**os.environ, SIMULATED_CLOCK_ENV: COST_MODEL}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--smoke-test", "--storage", str(storage)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        start_new_session=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


TRIAL_LINE = re.compile(
    r"^trial lr=(?P<lr>\S+)\s.*?epochs\s+(?P<ran>\d+)/(?P<epochs>\d+) (?P<fate>stopped after "
    r"epoch \d+|ran to the end)\s+batch-size schedule (?P<schedule>\S+)(?:\s+restarts "
    r"(?P<restarts>\d+))?",
    flags=re.M,
)


@pytest.mark.slow
def test_the_random_search_prints_each_trials_stops_and_sizes(tmp_path: Path) -> None:
    out = run_example("digits_random_search", tmp_path)
    assert "4 trials, 0 errors" in out
    printed = {m["lr"]: m for m in TRIAL_LINE.finditer(out)}
    trials = trial_dirs(tmp_path / "digits-random-search")
    assert len(trials) == len(printed) == 4
    for trial in trials:
        rows = result_rows(trial, latest_per_iteration=True)
        config = rows[0]["config"]
        assert 1e-3 <= config["lr"] <= 1.0 and config["hidden"] in (32, 64, 128)
        line = printed[f"{config['lr']:.4g}"]  # what it prints is what the trial reported
        assert int(line["ran"]) == len(rows) and int(line["epochs"]) == SMOKE_EPOCHS
        assert (line["fate"] == "ran to the end") == (len(rows) == SMOKE_EPOCHS)
        assert line["schedule"] == schedule(rows)


@pytest.mark.slow
def test_the_class_trainable_switches_by_restart_and_says_so(tmp_path: Path) -> None:
    out = run_example("digits_class_api", tmp_path)
    assert "2 trials, 0 errors" in out
    printed = {m["lr"]: m for m in TRIAL_LINE.finditer(out)}
    trials = trial_dirs(tmp_path / "digits-class-api")
    assert len(trials) == len(printed) == 2
    switched = 0
    for trial in trials:
        rows = result_rows(trial, latest_per_iteration=True)
        assert [r["training_iteration"] for r in rows] == list(range(1, SMOKE_EPOCHS + 1))
        sizes = [r["batch_size"] for r in rows]
        changed = [i for i in range(1, len(rows)) if sizes[i] != sizes[i - 1]]
        restarted = [i for i in range(1, len(rows)) if rows[i]["iterations_since_restore"] == 1]
        assert changed == restarted  # every switch was a restart, and every restart a switch
        line = printed[f"{rows[0]['config']['lr']:g}"]
        assert line["schedule"] == schedule(rows) and int(line["restarts"]) == len(changed)
        switched += bool(changed)
    assert switched  # on the cost model, a trial switches (by restart)
