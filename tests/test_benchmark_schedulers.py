"""The scheduler benchmark's arithmetic on hand-made frames, its experiment definitions, its
resume rule, and (opt-in) its smoke test.

The smoke test (``benchmarks/schedulers.py --smoke-test``: 8 experiments, one per method) takes
minutes on the shared 2-core machine, more than the main suite can afford: it runs only with
``TUNE_BS_BENCHMARK_SMOKE=1``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from conftest import load_benchmark

INF = math.inf


@pytest.fixture(scope="module")
def fig() -> ModuleType:
    return load_benchmark("scheduler_figures")


@pytest.fixture(scope="module")
def bench(fig: ModuleType) -> ModuleType:
    return load_benchmark("schedulers")


def reports(rows: list[tuple]) -> pd.DataFrame:
    """``(trial, iteration, since_restore, trial_time_s, time_this_iter_s, wall, val_loss)``."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "trial",
            "training_iteration",
            "iterations_since_restore",
            "trial_time_s",
            "time_this_iter_s",
            "wall_time_s",
            "val_loss",
        ],
    )
    return frame


# --- per-report compute -------------------------------------------------------------------------
def test_report_compute_uses_own_seconds_and_ray_seconds_only_after_a_restart(fig) -> None:
    frame = reports(
        [
            ("a", 1, 1, 0.5, 7.0, 10.0, 3.0),  # fresh start: 0.5 s of work (7 s with start-up)
            ("a", 2, 2, 1.5, 1.1, 11.0, 2.5),  # same process: +1.0
            ("b", 1, 1, 0.4, 6.0, 10.0, 3.1),
            ("b", 2, 2, 0.9, 0.6, 10.6, 2.9),
            ("b", 3, 1, 1.8, 0.7, 13.0, 2.4),  # PBT clone of a (trial_time_s jumped): Ray's 0.7 s
            ("b", 4, 2, 2.2, 0.5, 13.5, 2.3),  # same process again: +0.4
        ]
    )
    assert fig.report_compute(frame).tolist() == pytest.approx([0.5, 1.0, 0.4, 0.5, 0.7, 0.4])


def test_compute_to_target_charges_concurrent_trials_what_they_had_done(fig) -> None:
    frame = reports(
        [
            ("a", 1, 1, 2.0, 2.0, 2.0, 3.0),  # work [0, 2]
            ("a", 2, 2, 4.0, 2.0, 4.0, 2.0),  # work [2, 4]
            ("b", 1, 1, 3.0, 3.0, 3.0, 2.5),  # work [0, 3]
            ("b", 2, 2, 6.0, 3.0, 6.0, 1.0),  # work [3, 6]
        ]
    )
    frame["compute_s"] = fig.report_compute(frame)
    assert fig.total_compute(frame) == pytest.approx(10.0)
    assert fig.compute_by(frame, 4.0) == pytest.approx(4.0 + 3.0 + 1.0)  # b is 1 s into [3, 6]
    # target 2.0 is first met by a's report at wall 4 (b only reaches it at 6)
    assert fig.compute_to_target(frame, 2.0, "val_loss", "min") == pytest.approx(8.0)
    assert fig.compute_to_target(frame, 0.5, "val_loss", "min") == INF
    # max mode: 2.5 or more is met first by a's report at wall 2, b being 2 s into its first
    assert fig.compute_to_target(frame, 2.5, "val_loss", "max") == pytest.approx(2.0 + 2.0)


def test_reports_ordered_by_float_wall_clock_not_file_order(fig) -> None:
    frame = reports(
        [
            ("a", 1, 1, 1.0, 1.0, 5.25, 1.0),  # meets the target, but late
            ("b", 1, 1, 1.0, 1.0, 5.0, 1.0),  # same whole second, 0.25 s earlier
        ]
    )
    frame["compute_s"] = fig.report_compute(frame)
    assert fig.compute_to_target(frame, 1.0, "val_loss", "min") == pytest.approx(1.0 + 0.75)


def test_diverged_reports_never_meet_a_target(fig) -> None:
    frame = reports([("a", 1, 1, 1.0, 1.0, 1.0, math.nan), ("a", 2, 2, 2.0, 1.0, 2.0, math.inf)])
    frame["compute_s"] = fig.report_compute(frame)
    assert fig.compute_to_target(frame, 10.0, "val_loss", "min") == INF
    assert math.isnan(fig.best_final(frame, "val_loss", "min"))


# --- targets and ratios -------------------------------------------------------------------------
def test_target_is_within_one_percent_of_the_best(fig) -> None:
    assert fig.target_value(2.0, "min") == pytest.approx(2.02)
    assert fig.target_value(0.9, "max") == pytest.approx(0.891)
    assert fig.target_value(-1.0, "min") == pytest.approx(-0.99)


def test_best_final_takes_each_trials_last_report(fig) -> None:
    frame = reports(
        [
            ("a", 1, 1, 1, 1, 1.0, 1.0),  # a's best, but not its final value
            ("a", 2, 2, 2, 1, 2.0, 1.5),
            ("b", 1, 1, 1, 1, 1.5, 1.4),
        ]
    )
    assert fig.best_final(frame, "val_loss", "min") == pytest.approx(1.4)


def test_ratio_to_grid_rules_for_unreached_targets(fig) -> None:
    assert fig.ratio_to_grid(5.0, 10.0, 20.0) == pytest.approx(0.5)
    assert fig.ratio_to_grid(INF, 10.0, 20.0) == INF  # the method never reached it
    assert fig.ratio_to_grid(5.0, INF, 20.0) == pytest.approx(0.25)  # the grid's total stands in
    assert fig.ratio_to_grid(INF, INF, 20.0) == INF


def _experiment_reports(fig, finals: dict[str, tuple[float, float]]) -> dict:
    """One trial per experiment: a straight line from val_loss 3.0 at work 0 to ``final`` at
    ``seconds``, reported every second of work."""
    out = {}
    for key, (final, seconds) in finals.items():
        steps = int(seconds)
        rows = [
            ("t", i, i, float(i), 1.0, float(i), 3.0 + (final - 3.0) * i / steps)
            for i in range(1, steps + 1)
        ]
        frame = reports(rows)
        frame["compute_s"] = fig.report_compute(frame)
        out[key] = frame
    return out


def _frame(fig, finals: dict, selected: dict) -> pd.DataFrame:
    reps = _experiment_reports(fig, finals)
    rows = [
        {
            "dataset": d,
            "seed": s,
            "method": mth,
            "best_final": fig.best_final(reps[(d, s, mth)], "val_loss", "min"),
            "total_compute": fig.total_compute(reps[(d, s, mth)]),
            "selected_test": selected.get((d, s, mth), 0.9),
        }
        for d, s, mth in finals
    ]
    return fig.add_targets(pd.DataFrame(rows), reps, "val_loss", "min")


def test_targets_ratios_table_and_goals_on_hand_made_experiments(fig) -> None:
    methods = ["fifo", "asha", "pbt", "topk", "stratified", "cluster_count", "extrapolation"]
    finals = {}
    for seed in (0, 1, 2):
        finals[("X", seed, "fifo")] = (1.0, 10)  # best final 1.0: target 1.01
        finals[("X", seed, "extrapolation")] = (1.0, 5 if seed < 2 else 20)
        for baseline in methods[1:-1]:
            finals[("X", seed, baseline)] = (1.0, 8)
    finals[("X", 2, "asha")] = (2.0, 8)  # never reaches 1.01
    selected = {("X", s, "extrapolation"): 0.885 for s in (0, 1, 2)}  # 1.5 points below
    frame = _frame(fig, finals, selected)
    assert frame["target"].tolist() == pytest.approx([1.01] * len(frame))
    # a straight line from 3.0 reaches 1.01 at 99.5 % of its length: 1 report before the end
    mine = frame[frame["method"] == "extrapolation"].set_index("seed")
    assert mine["compute_to_target"].tolist() == pytest.approx([5.0, 5.0, 20.0])
    assert mine["ratio_to_grid"].tolist() == pytest.approx([0.5, 0.5, 2.0])
    assert frame.set_index(["seed", "method"]).loc[(2, "asha"), "ratio_to_grid"] == INF

    table = fig.summary_table(frame, methods).set_index(["dataset", "method"])
    assert table.loc[("X", "extrapolation"), "median ratio to grid"] == pytest.approx(0.5)
    assert table.loc[("X", "asha"), "reached"] == "2/3"
    assert table.loc[("X", "extrapolation"), "test vs grid (points)"] == pytest.approx(-1.5)
    assert table.loc[("all", "fifo"), "median compute to target (s)"] == pytest.approx(10.0)

    goals = {g.name.split()[0]: g for g in fig.goals(frame)}
    assert goals["median"].met and "median ratio 0.50 over 3" in goals["median"].figure
    # 2/3 wins against every baseline (seed 2 loses to all but asha, which never reached)
    assert goals["lower"].met and "asha 3/3" in goals["lower"].figure
    assert "pbt 2/3" in goals["lower"].figure
    assert goals["reaches"].met and "3/3 = 100%" in goals["reaches"].figure
    assert not goals["selected"].met and "X -1.5" in goals["selected"].figure
    assert goals["selected"].line().endswith("-> MISSED")


def test_goals_miss_when_the_candidate_rarely_reaches_the_target(fig) -> None:
    finals = {("X", s, "fifo"): (1.0, 10) for s in (0, 1, 2)}
    finals.update({("X", s, "extrapolation"): (1.0 if s == 0 else 1.5, 4) for s in (0, 1, 2)})
    frame = _frame(fig, finals, {})
    goals = {g.name.split()[0]: g for g in fig.goals(frame)}
    assert not goals["median"].met and "median ratio inf" in goals["median"].figure
    assert not goals["reaches"].met and "1/3 = 33%" in goals["reaches"].figure
    assert not goals["lower"].met and "asha not run" in goals["lower"].figure
    assert goals["selected"].met  # equal test scores


# --- experiment definitions ---------------------------------------------------------------------
@pytest.mark.parametrize("smoke", [False, True])
def test_every_method_gets_the_same_trials_budget_metric_and_seed(bench, smoke) -> None:
    for workload in bench.WORKLOADS.values():
        dataset = workload.datasets[-1]
        spaces = {
            method: bench.method_space(workload, dataset, 3, method, 2, smoke)
            for method in bench.METHODS
        }
        counts = {method: space.trial_count() for method, space in spaces.items()}
        assert set(counts.values()) == {3 if smoke else 5}, counts
        assert len({str(s.budget) for s in spaces.values()}) == 1
        assert {s.metric for s in spaces.values()} == {"val_loss"}
        assert {s.seed for s in spaces.values()} == {3}
        assert {s.param_space["seed"] for s in spaces.values()} == {3}
        assert {s.dataset["name"] for s in spaces.values()} == {dataset}
        assert spaces["optuna_asha"].search == {"name": "optuna", "max_concurrent": 2}
        assert spaces["optuna_asha"].scheduler == spaces["asha"].scheduler
        assert spaces["cluster_count"].param_space["strategy"] == "cluster_count"
        assert spaces["stratified"].param_space["strategy"] == "stratified"
        assert spaces["pbt"].scheduler["batch_sizes"] == sorted(
            spaces["fifo"].values_of("batch_size")
        )
        sizes = spaces["fifo"].values_of("batch_size")
        assert max(sizes) / min(sizes) >= 16
        assert len({s.name for s in spaces.values()}) == len(bench.METHODS)


def test_set_changes_the_extrapolation_scheduler_only_and_checks_its_options(bench) -> None:
    from tune_bs.errors import UserInputError

    overrides = bench.parse_overrides(["switching=false", "end_margin = 0.1"])
    assert overrides == {"switching": False, "end_margin": 0.1}
    ucr = bench.WORKLOADS["ucr"]
    changed = bench.method_space(ucr, "GunPoint", 0, "extrapolation", 2, False, overrides)
    default = bench.method_space(ucr, "GunPoint", 0, "extrapolation", 2)
    assert changed.scheduler == {**default.scheduler, **overrides}
    assert "switching" not in default.scheduler and "end_margin" not in default.scheduler
    assert bench.digest(changed) != bench.digest(default)  # never read as the other's results
    for method in ("fifo", "asha", "pbt", "topk"):
        assert bench.method_space(ucr, "GunPoint", 0, method, 2, False, overrides).scheduler == (
            bench.method_space(ucr, "GunPoint", 0, method, 2).scheduler
        )
    for bad in ["switching", "=1", "name=asha"]:
        with pytest.raises(UserInputError, match="--set must be NAME=VALUE"):
            bench.parse_overrides([bad])
    with pytest.raises(UserInputError, match="switching"):
        bench.method_space(ucr, "GunPoint", 0, "extrapolation", 2, False, {"switching": "maybe"})


def test_a_bad_set_exits_2_with_one_line_before_anything_runs(bench, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--set", "bogus=1", "--storage", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "scheduler.bogus is not a known key" in err[-1]
    assert not list(tmp_path.iterdir())  # no experiment folder, no Ray


def test_the_synthetic_workload_is_large_enough(bench) -> None:
    from tune_bs.data import load_dataset

    space = bench.method_space(bench.WORKLOADS["synthetic"], "synthetic", 0, "fifo", 2)
    data = load_dataset(**space.dataset)
    assert data.n_train >= 10_000
    assert space.param_space["encoder"] in ("gru", "lstm")


# --- resuming -----------------------------------------------------------------------------------
def test_finished_experiments_are_read_and_half_finished_ones_redone(
    bench, tmp_path, monkeypatch
) -> None:
    import tune_bs.search.experiment

    runs = []

    def fake_run(space, storage, name, options):  # isolates the resume rule from Ray
        runs.append(name)
        (Path(storage) / name / "trial").mkdir(parents=True)

    monkeypatch.setattr(tune_bs.search.experiment, "run_experiment", fake_run)
    space = bench.method_space(bench.WORKLOADS["ucr"], "GunPoint", 0, "fifo", 2, smoke=True)
    log = tmp_path / "log"
    half = tmp_path / space.name / "left-over"
    half.mkdir(parents=True)
    bench.run_or_read(space, tmp_path, log)
    assert runs == [space.name] and not half.exists()  # redone from the start
    marker = json.loads((tmp_path / space.name / bench.MARKER).read_text())
    assert marker["digest"] == bench.digest(space) and marker["wall_s"] >= 0
    assert bench.run_or_read(space, tmp_path, log) == pytest.approx(marker["wall_s"])
    assert runs == [space.name]  # read, not run again
    other = bench.method_space(bench.WORKLOADS["ucr"], "GunPoint", 0, "fifo", 2, smoke=False)
    with pytest.raises(SystemExit, match="was run with other settings"):
        bench.run_or_read(other, tmp_path, log)


# --- the smoke test -----------------------------------------------------------------------------
@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("TUNE_BS_BENCHMARK_SMOKE") != "1",
    reason="minutes on 2 cores; run with TUNE_BS_BENCHMARK_SMOKE=1",
)
def test_the_smoke_test_runs_every_method_and_writes_its_outputs(bench, tmp_path, capsys) -> None:
    assert bench.main(["--smoke-test", "--storage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    frame = pd.read_csv(tmp_path / "results" / "schedulers.csv")
    assert sorted(frame["method"]) == sorted(bench.METHODS)
    assert (frame["trials"] == 3).all() and (frame["trials_errored"] == 0).all()
    assert frame["reached"].any() and (frame["total_compute"] > 0).all()
    fifo = frame.set_index("method").loc["fifo"]
    assert fifo["ratio_to_grid"] == pytest.approx(1.0) and fifo["trials_stopped"] == 0
    assert frame.set_index("method").loc["topk", "trials_stopped"] == 1  # keeps 2 of 3
    assert (tmp_path / "results" / "schedulers.png").stat().st_size > 0
    lines = out.strip().splitlines()
    assert len([line for line in lines if line.startswith("goal ")]) == 4
    assert all(line.endswith(("-> MET", "-> MISSED")) for line in lines[-4:])
    assert any(line.startswith("benchmark wall time: ") for line in lines)


def test_first_seed_moves_every_workload_to_seeds_not_used_before(bench) -> None:
    args = bench.argparse.Namespace(smoke_test=False, datasets=None, seeds=None, first_seed=5)
    groups = bench.plan(args)
    by_set = {}
    for _, dataset, seed in groups:
        by_set.setdefault(dataset, []).append(seed)
    assert by_set["GunPoint"] == [5, 6, 7, 8, 9] and by_set["synthetic"] == [5, 6, 7]
    default = bench.plan(
        bench.argparse.Namespace(smoke_test=False, datasets=None, seeds=2, first_seed=0)
    )
    assert {seed for _, _, seed in default} == {0, 1}


def test_redraw_draws_the_plot_from_a_written_csv_without_running(bench, tmp_path, capsys) -> None:
    rows = [
        {"dataset": "GunPoint", "seed": 0, "method": method, "ratio_to_grid": ratio}
        for method, ratio in [("fifo", 1.0), ("asha", 0.5), ("extrapolation", float("inf"))]
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "schedulers.csv", index=False)
    assert bench.main(["--redraw", str(tmp_path)]) == 0
    assert (tmp_path / "schedulers.png").read_bytes().startswith(b"\x89PNG")
    assert bench.main(["--redraw", str(tmp_path / "none")]) == 2
    assert "no schedulers.csv in" in capsys.readouterr().out


def test_vary_data_makes_a_grid_seed_draw_its_own_data(bench) -> None:
    ucr = bench.WORKLOADS["ucr"]
    default = bench.method_space(ucr, "GunPoint", 4, "fifo", 2)
    varied = bench.method_space(ucr, "GunPoint", 4, "fifo", 2, vary_data=True)
    assert "seed" not in default.dataset  # the committed grid results: one split for all seeds
    assert varied.dataset["seed"] == 4 and bench.digest(varied) != bench.digest(default)
    args = bench.parser().parse_args(["--vary-data", "--first-seed", "4", "--seeds", "1"])
    build = bench.space_builder(args, {})
    workload, dataset, seed = bench.plan(args)[0]
    assert build(workload, dataset, seed, "asha").dataset["seed"] == 4
    random = bench.parser().parse_args(["--suite", "random", "--seeds", "1"])
    assert [(d, s) for _, d, s in bench.plan(random)] == [("GunPoint", 0), ("synthetic", 0)]


def test_rerun_deletes_only_the_named_methods_experiments(bench, tmp_path) -> None:
    args = bench.parser().parse_args(["--suite", "random", "--seeds", "2", "--smoke-test"])
    build = bench.space_builder(args, {})
    groups = bench.plan(args)
    names = {
        method: build(workload, dataset, seed, method).name
        for workload, dataset, seed in groups
        for method in ("fifo", "extrapolation")
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / bench.MARKER).write_text("{}")
    deleted = bench.forget(groups, ["extrapolation"], build, tmp_path)
    assert deleted == [names["extrapolation"]]
    assert not (tmp_path / names["extrapolation"]).exists()
    assert (tmp_path / names["fifo"] / bench.MARKER).is_file()
