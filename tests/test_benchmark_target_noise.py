"""``benchmarks/target_noise.py``: the jitter of ``val_loss``, the shift of the grid's best and
the goals' sensitivity to the target's tolerance, on hand-written storages (no Ray)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def noise() -> ModuleType:
    load_benchmark("scheduler_figures")
    load_benchmark("schedulers")
    return load_benchmark("target_noise")


def write_experiment(storage: Path, name: str, trials: dict[str, list[float]]) -> None:
    """A finished experiment: each trial reports its values once per second of its own work,
    all trials starting together; one report = 10 samples of a 10-per-report budget."""
    for trial, values in trials.items():
        folder = storage / name / trial
        folder.mkdir(parents=True)
        rows = [
            {
                "val_loss": value,
                "samples_seen": 10 * (i + 1),
                "switches": 0,
                "trial_time_s": float(i + 1),
                "time_this_iter_s": 1.0,
                "wall_time_s": 1000.0 + i + 1,
                "training_iteration": i + 1,
                "iterations_since_restore": i + 1,
                "config": {"batch_size": 8, "budget_samples": 10 * len(values)},
            }
            for i, value in enumerate(values)
        ]
        (folder / "result.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (storage / name / "tune_bs_benchmark.json").write_text('{"digest": "x", "wall_s": 1.0}')


def test_experiment_names_parse_and_other_folders_are_skipped(noise) -> None:
    assert noise.parse_experiment("fifo-GunPoint-s3") == ("fifo", "GunPoint", 3)
    assert noise.parse_experiment("optuna_asha-synthetic-s12") == ("optuna_asha", "synthetic", 12)
    assert noise.parse_experiment("results") is None
    assert noise.parse_experiment("bogus-GunPoint-s3") is None  # not a benchmark method


def test_jitter_is_the_relative_residual_spread_about_a_line(noise) -> None:
    assert noise.tail_jitter([9.0, 5.0, 4.0, 3.0, 2.0, 1.0], tail=4) == pytest.approx(0.0)
    wiggle = [2.0 + 0.1 * (-1) ** i for i in range(6)]  # ±0.1 about 2.0: 5 % of it, and a
    assert noise.tail_jitter(wiggle) == pytest.approx(0.0586, abs=1e-4)  # little more (ddof 2)
    assert math.isnan(noise.tail_jitter([1.0, 2.0, 3.0]))  # fewer than 6 reports
    assert math.isnan(noise.tail_jitter([1.0] * 5 + [math.nan]))


def test_the_best_shift_compares_the_last_and_second_to_last_reports(noise) -> None:
    curves = [[3.0, 2.0, 2.2], [3.0, 2.1, 2.05]]  # best 2.05 at the end, 2.0 one report earlier
    assert noise.best_shift(curves) == pytest.approx(0.05 / 2.05)
    assert math.isnan(noise.best_shift([[1.0]]))


def test_reach_and_ratios_move_with_the_tolerance_only(noise, tmp_path) -> None:
    """The grid ends at 1.0 (after 6 s of work); the candidate ends at 1.04 after 3 s: 4 % above
    the best, so it reaches the target at 5 % only, in half the grid's compute."""
    write_experiment(tmp_path, "fifo-X-s0", {"a": [3.0, 2.0, 1.5, 1.2, 1.1, 1.0]})
    write_experiment(tmp_path, "extrapolation-X-s0", {"b": [3.0, 2.0, 1.04]})
    (tmp_path / "results").mkdir()  # not an experiment
    frame, reports = noise.load_storage(tmp_path)
    assert sorted(frame["method"]) == ["extrapolation", "fifo"]
    table, verdicts = noise.sensitivity(frame, reports, (0.01, 0.05))
    mine = table[table["method"] == "extrapolation"].set_index("tolerance")
    assert mine.loc["1%", "reached"] == "0/1" and mine.loc["1%", "median ratio to grid"] == math.inf
    assert mine.loc["5%", "reached"] == "1/1"
    assert mine.loc["5%", "median ratio to grid"] == pytest.approx(0.5)
    assert [g.name.split()[0] for g in verdicts[0.05]] == ["median", "lower", "reaches"]
    rows = noise.noise_rows(frame, reports).set_index("dataset")
    assert rows.loc["X", "grid trials"] == 1


def test_main_prints_the_three_parts_and_refuses_an_empty_storage(noise, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as empty:
        noise.main(["--storage", str(tmp_path)])
    assert empty.value.code == 2
    assert "no finished fifo experiment" in capsys.readouterr().err
    write_experiment(tmp_path, "fifo-X-s0", {"a": [3.0, 2.0, 1.5, 1.2, 1.1, 1.0]})
    write_experiment(tmp_path, "extrapolation-X-s0", {"b": [3.0, 2.0, 1.04]})
    assert noise.main(["--storage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "## Noise of val_loss" in out and "reached @ 5%" in out and "tolerance 1%" in out
