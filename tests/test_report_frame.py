"""Loading Ray Tune result directories into the tidy frame (hand-built directories, no Ray)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_report_helpers import (
    gunpoint_experiment,
    report,
    synthetic_experiment,
    trial_config,
    write_state,
    write_trial,
)

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.report.frame import (
    DIVERGED,
    ERROR,
    PENDING,
    TERMINATED,
    UNFINISHED,
    UNKNOWN,
    load_trials,
    parse_schedule,
    trial_status,
)


def _trial(frame, suffix):
    return frame[frame["trial_id"].str.endswith(suffix)]


def test_one_row_per_report_with_config_and_status(tmp_path: Path) -> None:
    frame = load_trials([gunpoint_experiment(tmp_path)])
    first = _trial(frame, "00000")
    assert list(first[m.VAL_PROBE_ACC]) == [0.5, 0.8, 0.9]
    assert list(first[m.SAMPLES_SEEN]) == [100, 200, 300]
    assert set(first["experiment"]) == {"gunpoint"}
    assert set(first["dataset"]) == {"GunPoint"}
    assert set(first["status"]) == {TERMINATED}
    assert {"dataset", "encoder", "strategy", "scheduler", "lr", "seed"} <= set(
        frame.attrs["config_keys"]
    )
    assert "config" not in frame.columns


def test_resumed_trial_keeps_the_latest_line_per_iteration(tmp_path: Path) -> None:
    frame = load_trials([gunpoint_experiment(tmp_path)])
    resumed = _trial(frame, "00002")
    assert list(resumed[m.TRAINING_ITERATION]) == [1, 2, 3]
    assert list(resumed[m.VAL_PROBE_ACC]) == [0.7, 0.87, 0.89]
    assert list(resumed[m.TIME_TOTAL_S]) == [1.5, 2.6, 3.6]
    # the reported batch size wins over the config's, per report
    assert list(resumed[m.BATCH_SIZE]) == [16, 32, 32]
    assert list(resumed["n_modes"]) == [3, 3, 3]


def test_statuses_of_every_kind(tmp_path: Path) -> None:
    frame = load_trials([gunpoint_experiment(tmp_path)])
    status = frame.groupby("trial_id")["status"].first()
    assert [status[f"a1b2c_0000{i}"] for i in range(7)] == [
        TERMINATED,
        TERMINATED,
        TERMINATED,
        UNFINISHED,
        PENDING,
        ERROR,
        DIVERGED,
    ]
    pending = _trial(frame, "00004")
    assert len(pending) == 1 and math.isnan(pending[m.TRAINING_ITERATION].iloc[0])
    assert pending["strategy"].iloc[0] == "stratified"


def test_several_dirs_and_a_storage_dir_combine(tmp_path: Path) -> None:
    gunpoint_experiment(tmp_path)
    synthetic_experiment(tmp_path)
    by_storage = load_trials([tmp_path])
    by_dirs = load_trials([tmp_path / "gunpoint", tmp_path / "synthetic"])
    assert set(by_storage["experiment"]) == {"gunpoint", "synthetic"}
    assert len(by_storage) == len(by_dirs) == 14 + 4  # 3 + 3 + 3 + 1 + 1 (pending) + 1 + 2; 2 + 2


def test_same_name_in_two_storages_is_told_apart(tmp_path: Path) -> None:
    one = synthetic_experiment(tmp_path / "a", name="exp")
    two = synthetic_experiment(tmp_path / "b", name="exp")
    frame = load_trials([one, two])
    assert set(frame["experiment"]) == {str(one), str(two)}


def test_dataset_given_as_a_mapping_gives_its_name(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    config = trial_config(dataset={"name": "ItalyPowerDemand", "val_fraction": 0.2})
    write_trial(exp, 0, config, [report(1, 10, 1.0, 0.5, 1.0, 16, "0:16")])
    frame = load_trials([exp])
    assert frame["dataset"].iloc[0] == "ItalyPowerDemand"
    assert frame["dataset/val_fraction"].iloc[0] == 0.2


@pytest.mark.parametrize("make", ["missing", "empty", "unrelated"])
def test_no_experiment_is_a_one_line_user_error(tmp_path: Path, make: str) -> None:
    target = tmp_path / "results"
    if make != "missing":
        target.mkdir()
    if make == "unrelated":
        (target / "notes.txt").write_text("hello")
        (target / "sub").mkdir()
    with pytest.raises(UserInputError) as info:
        load_trials([target])
    message = str(info.value)
    assert "\n" not in message
    assert f"{target} holds no tune-bs experiment" in message
    assert "run `tune-bs run` first" in message


def test_experiment_without_any_report_is_a_one_line_user_error(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    _, folder_a = write_trial(exp, 0, trial_config(), [])
    _, folder_b = write_trial(exp, 1, trial_config(), [], error=True)
    write_state(
        exp,
        [("a1b2c_00000", folder_a, "PENDING", {}), ("a1b2c_00001", folder_b, "ERROR", {})],
    )
    with pytest.raises(UserInputError) as info:
        load_trials([exp])
    message = str(info.value)
    assert "\n" not in message
    assert "none reported a result (1 PENDING, 1 ERROR)" in message
    assert f"tune-bs resume {exp}" in message


def test_one_good_dir_does_not_hide_a_bad_one(tmp_path: Path) -> None:
    good = synthetic_experiment(tmp_path)
    with pytest.raises(UserInputError, match="holds no tune-bs experiment"):
        load_trials([good, tmp_path / "typo"])


def test_without_experiment_state_status_is_inferred(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    done = report(1, 10, 1.0, 0.5, 1.0, 16, "0:16")
    write_trial(exp, 0, trial_config(), [done])
    write_trial(exp, 1, trial_config(), [done], error=True)
    _, folder = write_trial(exp, 2, trial_config(), [done])
    result = exp / folder / "result.json"
    row = json.loads(result.read_text())
    row["done"] = True
    result.write_text(json.dumps(row) + "\n")
    status = load_trials([exp]).groupby("trial_id")["status"].first()
    assert list(status) == [UNKNOWN, ERROR, TERMINATED]


def test_a_line_cut_short_is_skipped_with_a_warning(tmp_path: Path) -> None:
    exp = synthetic_experiment(tmp_path)
    folder = sorted(p for p in exp.iterdir() if p.is_dir())[0]
    with (folder / "result.json").open("a") as handle:
        handle.write('{"val_loss": 0.5, "probe_ac')
    with pytest.warns(UserWarning, match="skipped 1 unreadable line"):
        frame = load_trials([exp])
    assert len(frame) == 4


def test_progress_csv_is_the_fallback(tmp_path: Path) -> None:
    exp = synthetic_experiment(tmp_path)
    for folder in (p for p in exp.iterdir() if p.is_dir()):
        (folder / "result.json").unlink()
    frame = load_trials([exp])
    assert sorted(frame[m.VAL_PROBE_ACC]) == [0.3, 0.35, 0.4, 0.5]


@pytest.mark.parametrize(
    ("ray_status", "error_file", "rows", "expected"),
    [
        ("TERMINATED", False, [{}], TERMINATED),
        ("TERMINATED", False, [{m.DIVERGED: True}], DIVERGED),
        ("ERROR", True, [{m.DIVERGED: True}], DIVERGED),
        ("ERROR", False, [{}], ERROR),
        ("RUNNING", False, [{}], UNFINISHED),
        ("PAUSED", False, [{}], UNFINISHED),
        ("PENDING", False, [], PENDING),
        (None, True, [{}], ERROR),
        (None, False, [{"done": True}], TERMINATED),
        (None, False, [], PENDING),
        (None, False, [{"done": False}], UNKNOWN),
    ],
)
def test_trial_status(ray_status, error_file, rows, expected) -> None:
    assert trial_status(ray_status, error_file, rows) == expected


def test_parse_schedule() -> None:
    assert parse_schedule("0:16;1200:32") == [(0, 16), (1200, 32)]
    assert parse_schedule("0:16;") == [(0, 16)]
    assert parse_schedule("0:16;12x:8;300:64") == [(0, 16), (300, 64)]
    assert parse_schedule(None) == []
    assert parse_schedule(float("nan")) == []
