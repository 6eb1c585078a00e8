"""The random-search suite of the scheduler benchmark (benchmarks/random_search_suite.py): its
experiment definitions (same trials per method, a new data draw per seed), its figures and goals
on hand-made frames, and (slow, Ray) ``schedulers.py --suite random --smoke-test``."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import load_benchmark

from tune_bs.data import load_dataset
from tune_bs.search.space import load_space


@pytest.fixture(scope="module")
def rs() -> ModuleType:
    return load_benchmark("random_search_suite")


@pytest.fixture(scope="module")
def bench(rs: ModuleType) -> ModuleType:
    load_benchmark("scheduler_figures")
    return load_benchmark("schedulers")


# --- experiment definitions ---------------------------------------------------------------------
@pytest.mark.parametrize("smoke", [False, True])
def test_every_method_gets_the_same_trials_budget_metric_seeds_and_data(rs, smoke) -> None:
    for workload in rs.WORKLOADS.values():
        spaces = {mth: rs.method_space(workload, 3, mth, smoke) for mth in rs.METHODS}
        assert {s.scheduler["name"] for s in spaces.values()} == set(rs.METHODS)
        assert {s.trial_count() for s in spaces.values()} == {3 if smoke else 12}
        assert {s.search["name"] for s in spaces.values()} == {"random"}
        assert len({str(s.budget) for s in spaces.values()}) == 1
        assert len({str(s.param_space) for s in spaces.values()}) == 1
        assert {(s.metric, s.mode) for s in spaces.values()} == {("val_loss", "min")}
        # the search's seed (same configurations), the trials' seed and the data draw
        assert {(s.seed, s.param_space["seed"], s.dataset["seed"]) for s in spaces.values()} == {
            (3, 3, 3)
        }
        assert {s.dataset["name"] for s in spaces.values()} == {workload.dataset}
        assert len({s.name for s in spaces.values()}) == len(rs.METHODS)
        lr = spaces["fifo"].param_space["lr"]
        assert lr.type == "float" and lr.log and lr.high / lr.low >= 100
        searched = [k for k, v in spaces["fifo"].param_space.items() if hasattr(v, "type")]
        assert {"lr", "temperature", "hidden", "batch_size"} <= set(searched)
    with pytest.raises(ValueError, match="unknown method 'pbt'"):
        rs.method_space(rs.WORKLOADS["random_gunpoint"], 0, "pbt")


def test_the_extrapolation_options_can_be_changed_alone(rs) -> None:
    workload = rs.WORKLOADS["random_gunpoint"]
    changed = rs.method_space(workload, 0, "extrapolation", overrides={"switching": False})
    assert changed.scheduler["switching"] is False
    asha = rs.method_space(workload, 0, "asha", overrides={"switching": False})
    assert asha.scheduler == rs.method_space(workload, 0, "asha").scheduler


def test_the_files_run_by_tune_bs_keep_the_default_data_draw(rs) -> None:
    for workload in rs.WORKLOADS.values():
        raw = yaml.safe_load((rs.SPACES / workload.file).read_text())
        assert "seed" not in raw["dataset"] and raw["seed"] == 0
        space = load_space(rs.SPACES / workload.file)
        assert [v.scheduler["name"] for v in space.variants()] == [
            "extrapolation",
            "asha",
            "median",
            "fifo",
        ]


def test_a_seed_draws_a_new_validation_split_on_gunpoint(rs) -> None:
    workload = rs.WORKLOADS["random_gunpoint"]
    data = [load_dataset(**rs.method_space(workload, s, "fifo").dataset) for s in (0, 1)]
    assert data[0].X_val.shape == data[1].X_val.shape
    assert not np.array_equal(data[0].X_val, data[1].X_val)
    assert np.array_equal(data[0].X_test, data[1].X_test)  # UCR's own test split stays
    again = load_dataset(**rs.method_space(workload, 1, "asha").dataset)
    assert np.array_equal(again.X_val, data[1].X_val)  # every method sees the same draw


def test_a_seed_draws_new_synthetic_series(rs) -> None:
    workload = rs.WORKLOADS["random_synthetic"]
    data = [load_dataset(**rs.method_space(workload, s, "fifo").dataset) for s in (0, 1)]
    assert data[0].X_train.shape == data[1].X_train.shape
    assert data[0].n_train >= 1800
    assert not np.array_equal(data[0].X_train, data[1].X_train)
    assert not np.array_equal(data[0].X_test, data[1].X_test)


def test_plan_runs_every_workload_over_its_seeds(rs) -> None:
    groups = rs.plan(False, None, 100, None)
    assert [(w.dataset, s) for w, _, s in groups] == [
        *[("GunPoint", s) for s in range(100, 105)],
        *[("synthetic", s) for s in range(100, 105)],
    ]
    assert [s for _, d, s in rs.plan(False, 2, 0, ["synthetic"])] == [0, 1]
    assert [(d, s) for _, d, s in rs.plan(True, None, 7, None)] == [("GunPoint", 0)]


# --- figures ------------------------------------------------------------------------------------
def _frame() -> pd.DataFrame:
    """Two seeds of one data set: (samples, seconds, selected val_loss) per method."""
    figures = {
        0: {"fifo": (1000, 10.0, 1.0), "asha": (400, 5.0, 1.2), "extrapolation": (300, 6.0, 1.1)},
        1: {"fifo": (1000, 12.0, 0.9), "asha": (500, 6.0, 0.9), "extrapolation": (600, 4.0, 0.8)},
    }
    rows = [
        {
            "dataset": "X",
            "seed": seed,
            "method": method,
            "total_samples": samples,
            "total_compute": seconds,
            "selected_val": val,
            "selected_test": 0.9,
            "reports": samples / 100,
            "trials_stopped": 0,
            "switches": 0,
        }
        for seed, methods in figures.items()
        for method, (samples, seconds, val) in methods.items()
    ]
    return pd.DataFrame(rows)


def test_pairs_compare_each_experiment_with_fifo_and_asha_on_its_seed(rs) -> None:
    paired = rs.with_pairs(_frame()).set_index(["seed", "method"])
    assert paired.loc[(0, "extrapolation"), "samples / fifo"] == pytest.approx(0.3)
    assert paired.loc[(1, "extrapolation"), "samples / asha"] == pytest.approx(1.2)
    assert paired.loc[(1, "extrapolation"), "seconds / asha"] == pytest.approx(4 / 6)
    assert paired.loc[(0, "extrapolation"), "val vs asha"] == pytest.approx(-0.1)
    alone = rs.with_pairs(_frame().query("method != 'asha'"))
    assert alone["samples / asha"].isna().all()


def test_summary_gives_medians_over_seeds_per_data_set_and_overall(rs) -> None:
    table = rs.summary_table(_frame(), rs.METHODS).set_index(["dataset", "method"])
    row = table.loc[("X", "extrapolation")]
    assert row["seeds"] == 2 and row["median samples trained"] == pytest.approx(450)
    assert row["median samples / asha"] == pytest.approx((0.75 + 1.2) / 2)
    assert row["median selected val vs asha"] == pytest.approx(-0.1)
    assert ("X", "median") not in table.index  # a method not run has no row
    assert table.loc[("all", "fifo"), "median samples / fifo"] == pytest.approx(1.0)


def test_goals_compare_the_candidates_medians_with_ashas(rs) -> None:
    goals = rs.goals(_frame())
    assert [g.met for g in goals] == [True, True]  # equal median samples (450) meet "<="
    assert "extrapolation 450 samples" in goals[0].figure and "asha 450 samples" in goals[0].figure
    assert "median over 2 seeds" in goals[1].figure and "extrapolation 0.9500" in goals[1].figure
    more = _frame()
    more.loc[more["method"] == "extrapolation", "total_samples"] = 1000
    assert [g.met for g in rs.goals(more)] == [False, True]
    worse = _frame()
    worse.loc[worse["method"] == "extrapolation", "selected_val"] = 2.0
    assert not rs.goals(worse)[1].met and rs.goals(worse)[1].line().endswith("-> MISSED")
    assert rs.goals(_frame().query("method != 'asha'")) == []


# --- the command line ---------------------------------------------------------------------------
def test_a_method_of_the_other_suite_exits_2_before_anything_runs(bench, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        bench.main(["--suite", "random", "--methods", "pbt", "--storage", str(tmp_path)])
    assert info.value.code == 2
    assert "not a method of the random suite" in capsys.readouterr().err.splitlines()[-1]
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.ray
def test_the_random_smoke_test_runs_every_method(bench, rs, tmp_path, capsys) -> None:
    assert bench.main(["--suite", "random", "--smoke-test", "--storage", str(tmp_path)]) == 0
    frame = pd.read_csv(tmp_path / "results" / rs.CSV_FILE)
    assert sorted(frame["method"]) == sorted(rs.METHODS)
    assert (frame["trials"] == rs.SMOKE_TRIALS).all() and (frame["trials_errored"] == 0).all()
    fifo = frame.set_index("method").loc["fifo"]
    assert fifo["samples / fifo"] == 1.0 and fifo["trials_stopped"] == 0
    assert fifo["total_samples"] == rs.SMOKE_TRIALS * 3 * 40  # 3 epochs of GunPoint's 40
    assert frame["selected_val"].notna().all() and frame["selected_test"].between(0, 1).all()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len([line for line in lines if line.startswith("goal GunPoint")]) == 2
