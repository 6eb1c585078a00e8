"""benchmarks/curve_ranking.py on a hand-made storage of fixed-grid results (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import load_benchmark

ranking = load_benchmark("curve_ranking")
BUDGET = 16_000.0


def write_trial(folder: Path, batch_size: int, losses: np.ndarray) -> None:
    """A trial folder with a ``result.json`` of one row per report, as Tune writes it."""
    folder.mkdir(parents=True)
    samples = np.linspace(BUDGET / len(losses), BUDGET, len(losses))
    config = {"batch_size": batch_size, "budget_samples": BUDGET}
    rows = [
        {"samples_seen": float(s), "val_loss": float(v), "config": config}
        for s, v in zip(samples, losses, strict=True)
    ]
    (folder / "result.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def power_law(end: float, reports: int = 16) -> np.ndarray:
    """A clean curve from ``end + 3`` towards ``end`` (its asymptote)."""
    x = np.arange(1, reports + 1, dtype=float)
    return end + 3.0 * x**-0.8


def test_clean_curves_are_ranked_right_and_no_winner_is_stopped(tmp_path: Path) -> None:
    for seed in range(2):
        for i, (size, end) in enumerate([(8, 1.0), (16, 1.4), (32, 2.0)]):
            write_trial(tmp_path / f"fifo-Toy-s{seed}" / f"trial_{i}", size, power_law(end))
    (tmp_path / "asha-Toy-s0").mkdir()  # other methods are not read
    experiments = ranking.load_grid_trials(tmp_path)
    assert sorted(experiments) == ["fifo-Toy-s0", "fifo-Toy-s1"]
    r = ranking.evaluate(experiments, 8, 2.0)
    assert (r["trials"], r["right"], r["pairs"]) == (6, 6, 6)
    assert r["winners_stopped"] == 0 and r["stopped"] == 4  # the two worse trials of each
    assert r["error"] < 0.02


def test_a_late_crossing_is_ranked_wrong_early(tmp_path: Path) -> None:
    """A trial that starts worse and ends better: its early curve predicts the wrong order."""
    slow_start = np.concatenate([2.6 - 0.02 * np.arange(8), np.linspace(2.4, 1.0, 8)])
    write_trial(tmp_path / "fifo-Toy-s0" / "trial_0", 8, slow_start)
    write_trial(tmp_path / "fifo-Toy-s0" / "trial_1", 64, power_law(1.5))
    r = ranking.evaluate(ranking.load_grid_trials(tmp_path), 6, 2.0)
    assert (r["right"], r["pairs"]) == (0, 1)


def test_main_prints_one_table_per_data_set_and_refuses_an_empty_storage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Toy", "Other"):
        for i, end in enumerate([1.0, 2.0]):
            write_trial(tmp_path / f"fifo-{name}-s0" / f"trial_{i}", 8 * (i + 1), power_law(end))
    assert ranking.main(["--storage", str(tmp_path), "--reports", "6"]) == 0
    out = capsys.readouterr().out
    assert "# all: 2 fixed-grid experiments, 4 trials" in out
    assert "# Other: 1" in out and "# Toy: 1" in out
    assert "| 6 | 4 |" in out
    assert "# calibration" in out and "| all | 44 |" in out  # 4 trials x fits on 5..15 reports
    with pytest.raises(SystemExit) as exit_info:
        ranking.main(["--storage", str(tmp_path / "empty")])
    assert exit_info.value.code == 2


def test_the_calibration_counts_finals_inside_the_band_by_depth(tmp_path: Path) -> None:
    """A curve that falls faster after its 8th report than its early law says: fitted on 5, 6
    and 7 of 16 reports (2.75, 2 and 1.5 ranges to the end), the fit's own band never holds the
    final value; widened by 1 + 1.5 x depth it holds some."""
    x = np.arange(1, 17, dtype=float)
    late_drop = 1.0 + 3.0 * x**-0.8 - 0.25 * (x > 8) * (x - 8) / 8
    for seed in range(3):
        noisy = late_drop + np.random.default_rng(seed).normal(0.0, 0.01, x.size)
        write_trial(tmp_path / f"fifo-Toy-s{seed}" / "trial_0", 8, noisy)
    experiments = ranking.load_grid_trials(tmp_path)
    plain = ranking.coverage_by_depth(experiments, range(5, 8), 2.0, 0.0)
    wide = ranking.coverage_by_depth(experiments, range(5, 8), 2.0, 1.5)
    assert [(label, n) for label, n, _ in plain] == [
        ("0-0.5", 0),
        ("0.5-1", 0),
        ("1-2", 3),
        ("2-inf", 6),
        ("all", 9),
    ]
    assert plain[-1][2] == 0.0
    assert wide[-1][2] >= 1 / 3
