"""Conformance of the plug-in surface on a real local Ray: a trainable that is not tune-bs's
(``tests/foreign_trainable.py``: its own key names, a JSON checkpoint with every report) under
:class:`tune_bs.ExtrapolationScheduler`, with and without :class:`tune_bs.BatchSizeUpdates`,
with ``reuse_actors`` on and off, with a result that lacks a key, and resumed with
``Tuner.restore`` after its driver was killed.

The policy is scripted (double the batch size after reports 2 and 4): these tests check the
plumbing, not the decisions. One Ray serves the module's in-process tests.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import kill_when, local_ray_session, run_to_end
from foreign_trainable import (
    HOLD_AT,
    KEYS,
    ForeignClassTrainable,
    double_after,
    foreign_trainable,
)
from trial_files import result_rows, trial_dirs

from tune_bs import ExtrapolationScheduler, ReportKeys, SwitchSettings, logger_callbacks

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def local_ray():
    import foreign_trainable as module
    from ray import cloudpickle

    # Ray's workers cannot import tests/ modules: send the trainable by value
    cloudpickle.register_pickle_by_value(module)
    with local_ray_session() as ray:
        yield ray


def fit(
    storage: Path,
    settings: SwitchSettings,
    poll: Any,
    reuse_actors: bool = False,
    keys: ReportKeys = KEYS,
    trainable: Any = foreign_trainable,
) -> tuple[Any, dict[bool, list[dict[str, Any]]]]:
    """Run the foreign trainable (6 reports) under the scheduler; its rows by ``poll``."""
    from ray import tune

    scheduler = ExtrapolationScheduler(settings, keys=keys, policy=double_after(2, 4))
    grid = tune.Tuner(
        trainable,
        param_space={"train_batch_size": 8, "total_samples": 600, "poll": poll},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, reuse_actors=reuse_actors
        ),
        run_config=tune.RunConfig(
            name="plugin",
            storage_path=str(storage),
            verbose=0,
            callbacks=logger_callbacks(),
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=0 if trainable is foreign_trainable else 1
            ),
        ),
    ).fit()
    rows = {}
    for trial in trial_dirs(storage / "plugin"):
        trial_rows = result_rows(trial, latest_per_iteration=True)
        rows[trial_rows[0]["config"]["poll"]] = trial_rows
    return grid, rows


@pytest.mark.parametrize("reuse_actors", [False, True])
def test_a_trainable_with_the_helper_switches_in_place_and_one_without_by_restart(
    local_ray, tmp_path: Path, reuse_actors: bool
) -> None:
    from ray import tune

    grid, rows = fit(
        tmp_path,
        SwitchSettings(batch_sizes=(8, 16, 32)),
        tune.grid_search([True, False]),
        reuse_actors,
    )
    assert not grid.errors
    polls, ignores = rows[True], rows[False]
    for trial_rows in (polls, ignores):
        assert [r["training_iteration"] for r in trial_rows] == [1, 2, 3, 4, 5, 6]
        assert [r["seen"] for r in trial_rows] == [100, 200, 300, 400, 500, 600]
    # with the helper: switched after reports 2 and 4 in the same process, nothing restored
    assert [r["bs"] for r in polls] == [8, 8, 16, 16, 32, 32]
    assert {r["pid"] for r in polls} == {polls[0]["pid"]}
    assert [r["iterations_since_restore"] for r in polls] == [1, 2, 3, 4, 5, 6]
    assert polls[-1]["config"]["train_batch_size"] == 32  # the helper kept its config in step
    # without it: the switch after report 2 is not taken (report 3 is still at 8), so the
    # scheduler restarts the trial from that report's checkpoint at 16, and switches it by
    # restart from then on (after report 4: at once)
    assert [r["bs"] for r in ignores] == [8, 8, 8, 16, 32, 32]
    assert [r["iterations_since_restore"] for r in ignores] == [1, 2, 3, 1, 1, 2]
    configs = {result.config["poll"]: result.config for result in grid}
    assert configs[True]["train_batch_size"] == configs[False]["train_batch_size"] == 32
    # in place, nothing private reaches the trainable's config (Ray prints it); by restart the
    # trial restarts with the scheduler's bookkeeping in its config
    assert not [k for k in configs[True] if k.startswith("_")], configs[True]
    assert configs[False]["_switch_at"] == 4 and configs[False]["_switch_via"] == "restart"
    assert configs[True]["batch_size_initial"] == configs[False]["batch_size_initial"] == 8


def test_a_class_trainable_with_the_helper_switches_in_place_and_one_without_by_restart(
    local_ray, tmp_path: Path
) -> None:
    """``tune.Trainable``: with ``BatchSizeUpdates(config, trial_id=self.trial_id)`` and
    ``at_report(self.iteration)`` at the start of each step it switches in the same process;
    without, by restart from its checkpoint (the fallback)."""
    from ray import tune

    grid, rows = fit(
        tmp_path,
        SwitchSettings(batch_sizes=(8, 16, 32)),
        tune.grid_search([True, False]),
        trainable=ForeignClassTrainable,
    )
    assert not grid.errors
    polls, ignores = rows[True], rows[False]
    for trial_rows in (polls, ignores):
        assert [r["seen"] for r in trial_rows] == [100, 200, 300, 400, 500, 600]
    assert [r["bs"] for r in polls] == [8, 8, 16, 16, 32, 32]
    assert {r["pid"] for r in polls} == {polls[0]["pid"]}
    assert [r["iterations_since_restore"] for r in polls] == [1, 2, 3, 4, 5, 6]
    assert [r["bs"] for r in ignores] == [8, 8, 8, 16, 32, 32]
    assert [r["iterations_since_restore"] for r in ignores] == [1, 2, 3, 1, 1, 2]
    configs = {result.config["poll"]: result.config for result in grid}
    assert configs[True]["train_batch_size"] == 32
    assert configs[True]["batch_size_initial"] == configs[False]["batch_size_initial"] == 8


@pytest.mark.parametrize("reuse_actors", [False, True])
def test_the_restart_path_switches_a_trainable_that_only_reads_its_config(
    local_ray, tmp_path: Path, reuse_actors: bool
) -> None:
    grid, rows = fit(
        tmp_path, SwitchSettings(batch_sizes=(8, 16, 32), switch_via="restart"), False, reuse_actors
    )
    assert not grid.errors
    (result,) = grid
    ignores = rows[False]
    assert [r["bs"] for r in ignores] == [8, 8, 16, 16, 32, 32]
    assert [r["seen"] for r in ignores] == [100, 200, 300, 400, 500, 600]
    # restored from the checkpoints of reports 2 and 4, each time with the new config
    assert [r["iterations_since_restore"] for r in ignores] == [1, 2, 1, 2, 1, 2]
    assert [r["own_seconds"] for r in ignores] == sorted(r["own_seconds"] for r in ignores)
    assert result.config["train_batch_size"] == 32 and result.config["_switch_at"] == 4
    assert "_switch_board" not in result.config  # no board on the restart path


def test_a_result_without_a_key_stops_the_run_with_a_one_line_error(
    local_ray, tmp_path: Path
) -> None:
    from ray.tune import TuneError

    keys = replace(KEYS, wall_time="wall_time_s")  # the trainable reports "clock"
    with pytest.raises(TuneError) as info:
        fit(tmp_path, SwitchSettings(batch_sizes=(8, 16, 32)), True, keys=keys)
    (line,) = [
        line
        for line in str(info.value).splitlines()
        if line.startswith("tune_bs.errors.UserInputError: ")
    ]
    assert "needs a number under 'wall_time_s' (a float clock shared by all trials" in line
    assert "but result 1 of trial " in line and " lacks 'wall_time_s'" in line
    assert line.endswith("keys=ReportKeys(wall_time='your_key')).")
    for other in ("'loss'", "'seen'", "'bs'"):  # reported: not named
        assert other not in line


DRIVER = Path(__file__).parent / "foreign_trainable.py"


def _rows_by_poll(folder: Path) -> dict[bool, list[dict[str, Any]]]:
    rows = {}
    for trial in trial_dirs(folder) if folder.exists() else []:
        trial_rows = result_rows(trial, latest_per_iteration=True)
        if trial_rows:
            rows[trial_rows[0]["config"]["poll"]] = trial_rows
    return rows


def test_tuner_restore_after_a_killed_driver_keeps_each_schedule(tmp_path: Path) -> None:
    # the experiment state reaches the storage path every second (not every 10 s), so there is
    # something to restore from a driver killed a few seconds into the run
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    folder = tmp_path / "killed"

    def both_switched() -> bool:  # each trial holds after its fourth report, at 16 (the one
        # that does not poll is restarted at 16 after its third)
        rows = _rows_by_poll(folder)
        return len(rows) == 2 and all(len(r) == 4 and r[-1]["bs"] == 16 for r in rows.values())

    kill_when(
        [sys.executable, str(DRIVER), "run", str(tmp_path)],
        {**env, HOLD_AT: "4"},
        both_switched,
        "a switch of both trials",
        poll_s=0.2,
    )
    killed = _rows_by_poll(folder)
    assert [len(r) for r in killed.values()] == [4, 4]  # interrupted where the trials held

    done = run_to_end([sys.executable, str(DRIVER), "restore", str(tmp_path)], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "errors: 0" in done.stdout
    final = _rows_by_poll(folder)
    for poll, rows in final.items():
        assert [r["training_iteration"] for r in rows] == list(range(1, 31))
        assert [r["seen"] for r in rows] == list(range(100, 3100, 100))
        sizes = [r["bs"] for r in rows]
        # what was reported before the kill stands; then each switch once: 8 → 16 → 32
        before = [r["bs"] for r in killed[poll]]
        assert sizes[: len(before)] == before
        assert sizes == sorted(sizes) and sizes[0] == 8 and sizes[-1] == 32
        assert sorted(set(sizes)) == [8, 16, 32]
        assert rows[-1]["config"]["_switch_at"] in (20, 21)
    # the trial that asks the board switched exactly after reports 2 and 20, across the restore
    assert [r["bs"] for r in final[True]] == [8] * 2 + [16] * 18 + [32] * 10


def test_optuna_learns_from_the_sampled_batch_size_not_the_last_one(
    local_ray, tmp_path: Path
) -> None:
    """Optuna proposes ``train_batch_size``; the scheduler doubles it twice in place. The study
    records the size it sampled for each trial (what it learns from), and every result keeps
    that size as ``batch_size_initial`` beside the size in force."""
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    search = OptunaSearch(seed=0)
    scheduler = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=(4, 8, 16, 32, 64)), keys=KEYS, policy=double_after(2, 4)
    )
    grid = tune.Tuner(
        foreign_trainable,
        param_space={
            "train_batch_size": tune.choice([4, 8, 16]),
            "total_samples": 600,
            "poll": True,
        },
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=scheduler, search_alg=search, num_samples=3
        ),
        run_config=tune.RunConfig(
            name="optuna", storage_path=str(tmp_path), verbose=0, callbacks=logger_callbacks()
        ),
    ).fit()
    assert not grid.errors
    sampled = sorted(t.params["train_batch_size"] for t in search._ot_study.trials)
    initial = sorted(r.config["batch_size_initial"] for r in grid)
    final = sorted(r.metrics["bs"] for r in grid)
    assert sampled == initial and final == [4 * b for b in initial]  # doubled twice
    assert all(t.state.name == "COMPLETE" for t in search._ot_study.trials)
