"""``benchmarks/policy_ab.py``: two versions of the scheduler compared on a fixed cost model
(samples × the grid's seconds per sample), against a reference CSV's targets (no Ray)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def ab() -> ModuleType:
    load_benchmark("scheduler_figures")
    load_benchmark("schedulers")
    return load_benchmark("policy_ab")


def write_experiment(storage: Path, name: str, values: list[float], seconds: float) -> None:
    """One trial at loader batch 8 reporting 10 new samples every ``seconds`` of its work, with
    a 40-sample budget, and the benchmark's finished marker."""
    folder = storage / name / "trial"
    folder.mkdir(parents=True)
    rows = [
        {
            "val_loss": v,
            "samples_seen": 10 * (i + 1),
            "batch_size": 8,
            "trial_time_s": seconds * (i + 1),
            "time_this_iter_s": seconds,
            "training_iteration": i + 1,
            "iterations_since_restore": i + 1,
            "wall_time_s": 100.0 + seconds * (i + 1),
            "config": {"budget_samples": 40},
        }
        for i, v in enumerate(values)
    ]
    (folder / "result.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (storage / name / "tune_bs_benchmark.json").write_text('{"digest": "x", "wall_s": 1.0}')


def test_costs_come_from_the_grids_pace_not_each_runs_own_seconds(ab, tmp_path) -> None:
    """B's grid trains at 0.1 s per sample; A's run was twice as slow per sample (a busier
    machine) but is charged the grid's pace: it meets the 1.05 target after 20 samples, 2.0 s."""
    a, b = tmp_path / "a", tmp_path / "b"
    write_experiment(b, "fifo-X-s0", [3.0, 2.0, 1.0, 1.0], seconds=1.0)
    write_experiment(b, "extrapolation-X-s0", [3.0, 2.0, 1.5, 1.2], seconds=1.0)
    write_experiment(a, "extrapolation-X-s0", [3.0, 1.04], seconds=2.0)
    write_experiment(a, "extrapolation-X-s1", [3.0, 1.0], seconds=1.0)  # B never ran seed 1
    targets = pd.DataFrame(
        {"dataset": ["X", "X"], "seed": [0, 1], "method": ["fifo"] * 2, "target": [1.05, 1.05]}
    )
    table = ab.compare(a, b, targets)
    assert table["seed"].tolist() == [0]
    row = table.iloc[0]
    assert row["grid cost to target"] == pytest.approx(3.0)
    assert row["A cost to target"] == pytest.approx(2.0)
    assert row["A ratio"] == pytest.approx(2.0 / 3.0)
    assert row["A stopped"] == 1 and row["A total cost"] == pytest.approx(2.0)
    assert row["B cost to target"] == math.inf and row["B stopped"] == 0
    lines = ab.summary_lines(table)
    assert lines[0].startswith("A: reached 1/1") and lines[1].startswith("B: reached 0/1")
    assert lines[2] == "A reached the target at the lower cost in 1/1 pairs, B in 0/1"


def test_main_refuses_storages_without_a_common_finished_pair(ab, tmp_path, capsys) -> None:
    targets = tmp_path / "t.csv"
    pd.DataFrame({"dataset": ["X"], "seed": [0], "method": ["fifo"], "target": [1.0]}).to_csv(
        targets, index=False
    )
    args = ["--a", str(tmp_path / "a"), "--b", str(tmp_path / "b"), "--targets", str(targets)]
    with pytest.raises(SystemExit) as refused:
        ab.main(args)
    assert refused.value.code == 2 and "finished in both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as missing:
        ab.main([*args[:4], "--targets", str(tmp_path / "none.csv")])
    assert missing.value.code == 2 and "is not a file" in capsys.readouterr().err
