"""End-to-end on a real local Ray: a smoke run, and a killed-then-resumed experiment.

These are the only tests here that start Ray; they keep budgets tiny.
"""

import math
import os
import sys
from pathlib import Path

import pytest
import yaml
from conftest import kill_when, local_ray_session, run_to_end
from trial_files import result_rows, trial_dirs

from tune_bs.search.experiment import RunOptions, resume_experiment, run_experiment
from tune_bs.search.space import parse_space

pytestmark = pytest.mark.ray

SPACE = {
    "name": "e2e",
    "dataset": {"name": "ItalyPowerDemand"},
    "metric": "val_probe_acc",
    "num_samples": 2,
    "budget": {"samples": 96, "reports": 3},
    "scheduler": {"name": "fifo"},
    "param_space": {
        "batch_size": {"type": "categorical", "choices": [8, 16]},
        "hidden": 8,
        "encoder": "fcn",
    },
}


@pytest.fixture(scope="module")
def local_ray():
    # two declared (fake) GPUs: trials are scheduled on them and must fall back to the CPU
    with local_ray_session(num_gpus=2) as ray:
        yield ray


SMOKE_SPACE = {
    **SPACE,
    "search": {"name": "grid"},
    "num_samples": 1,
    "param_space": {
        "batch_size": 8,
        "hidden": 8,
        "encoder": "fcn",
        "strategy": {"type": "categorical", "choices": ["stratified", "accumulate"]},
    },
}


def test_smoke_run_writes_trials_with_the_contract_metrics(local_ray, tmp_path):
    space = parse_space(SMOKE_SPACE)
    options = RunOptions(smoke_test=True, gpus_per_trial=0.5)
    outcome = run_experiment(space, storage=tmp_path, options=options)
    assert outcome.path == tmp_path / "e2e-smoke"
    trials = trial_dirs(outcome.path)
    assert len(trials) == 2
    for trial in trials:
        rows = result_rows(trial)
        assert len(rows) == 2  # the smoke budget: two reports
        last = rows[-1]
        for key in (
            "val_loss",
            "val_probe_acc",
            "train_loss",
            "samples_seen",
            "batch_size",
            "switches",
            "batch_size_schedule",
            "time_total_s",
        ):
            assert key in last
        assert last["samples_seen"] >= last["config"]["budget_samples"]
        assert last["batch_size"] == last["config"]["batch_size"]
        assert last["n_modes"] >= 1  # the shared cluster step ran in the trial
        assert any(p.name.startswith("checkpoint_") for p in trial.iterdir())
    # a finished experiment resumes as a no-op: nothing is trained again
    before = {t.name: len(result_rows(t)) for t in trials}
    resume_experiment(outcome.path)
    assert {t.name: len(result_rows(t)) for t in trial_dirs(outcome.path)} == before


HOOKS = Path(__file__).parent / "trial_hooks.py"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tune_bs", *args]


def test_killed_driver_resumes_without_losing_or_repeating_work(tmp_path):
    budget = 800
    space = {
        **SPACE,
        "name": "killed",
        "budget": {"samples": budget, "reports": 8},
        "num_samples": 2,
    }
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(space))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    folder, held = tmp_path / "killed", tmp_path / "held"

    def both_held() -> bool:  # each trial holds after its second report (tests/trial_hooks.py)
        # and both reports reached the storage (the driver uploads its result files every second)
        if not held.is_dir() or len([p for p in held.iterdir() if p.suffix != ".part"]) < 2:
            return False
        return [len(result_rows(t)) for t in trial_dirs(folder)] == [2, 2]

    holding = [sys.executable, str(HOOKS), "reports=2", str(held), "--"]
    kill_when(
        [*holding, "run", str(path), "--storage", str(tmp_path)],
        env,
        both_held,
        "a second report of both trials",
    )
    partial = [[r["training_iteration"] for r in result_rows(t)] for t in trial_dirs(folder)]
    assert partial == [[1, 2], [1, 2]]  # killed where both trials held

    done = run_to_end(_cli("resume", str(folder)), env)
    assert done.returncode == 0, done.stderr[-2000:]
    trials = trial_dirs(folder)
    assert len(trials) == 2
    for trial in trials:
        rows = result_rows(trial)
        iterations = [r["training_iteration"] for r in rows]
        context = f"{trial.name}: iterations {iterations}; resume said {done.stdout[-1500:]}"
        assert max(iterations) == 8 and sorted(set(iterations)) == list(range(1, 9)), context
        assert rows[-1]["samples_seen"] >= budget
        # resumed from a checkpoint: samples_seen never goes backwards within one iteration
        by_iter = {}
        for r in rows:
            by_iter.setdefault(r["training_iteration"], set()).add(r["samples_seen"])
        assert all(len(v) == 1 for v in by_iter.values()), f"{context}; {by_iter}"
    assert "TERMINATED" in done.stdout and "results:" in done.stdout


@pytest.mark.slow
def test_optuna_search_runs_with_asha(local_ray, tmp_path):
    space = parse_space(
        {
            **SPACE,
            "name": "optuna",
            "search": {"name": "optuna", "max_concurrent": 2},
            "scheduler": {"name": "asha", "grace_period": 1},
            "param_space": {
                **SPACE["param_space"],
                "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            },
        }
    )
    outcome = run_experiment(space, storage=tmp_path, options=RunOptions(smoke_test=True))
    trials = trial_dirs(outcome.path)
    assert len(trials) == 2
    lrs = [result_rows(t)[-1]["config"]["lr"] for t in trials]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs) and lrs[0] != lrs[1]  # sampled by TPE


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dataset", "true_modes"),
    [
        ({"name": "GunPoint"}, None),
        ({"name": "synthetic", "n_series": 300, "n_modes": 4, "n_channels": 3, "length": 64}, 4),
    ],
)
def test_pretrained_cluster_features_train_and_find_modes(local_ray, tmp_path, dataset, true_modes):
    """Pretraining (2 epochs) spans four report intervals (half an epoch each): every report
    is finite, then the cluster step finds the modes (the synthetic set's true count)."""
    space = parse_space(
        {
            "name": "pretrained",
            "dataset": dataset,
            "metric": "val_probe_acc",
            "num_samples": 1,
            "budget": {"epochs": 4, "reports": 8},
            "scheduler": {"name": "fifo"},
            "param_space": {
                "batch_size": 16,
                "hidden": 32,
                "strategy": "cluster_count",
                "cluster_features": "pretrained",
                "cluster_pretrain_epochs": 2.0,
                "cluster_method": "kmeans_silhouette",
            },
        }
    )
    outcome = run_experiment(space, storage=tmp_path)
    (trial,) = trial_dirs(outcome.path)
    rows = result_rows(trial)
    assert len(rows) == 8 and not any(r["diverged"] for r in rows)
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"]) for r in rows)
    assert "n_modes" not in rows[2] and all(r["n_modes"] >= 2 for r in rows[4:])
    if true_modes is not None:
        assert rows[-1]["n_modes"] == true_modes


@pytest.mark.slow
def test_a_search_on_val_multitask_reports_it_and_selects_on_it(local_ray, tmp_path):
    """Synthetic series carry a class and a continuous target: every report has val_multitask
    (= α·val accuracy + (1 − α)·val R², both cross-validated on the train split) and the
    selection is made on it; test_multitask is reported beside it."""
    from tune_bs.report.frame import load_trials
    from tune_bs.report.selection import select

    space = parse_space(
        {
            **SPACE,
            "name": "multitask",
            "metric": "val_multitask",
            "dataset": {"name": "synthetic", "n_series": 96, "n_modes": 3, "length": 32},
            "param_space": {
                "batch_size": 16,
                "hidden": 8,
                "encoder": "fcn",
                "multitask_alpha": 0.25,
                "lr": {"type": "categorical", "choices": [0.001, 0.003]},
            },
        }
    )
    outcome = run_experiment(space, storage=tmp_path)
    assert not outcome.results.errors
    rows = [row for trial in trial_dirs(outcome.path) for row in result_rows(trial)]
    assert rows and all(math.isfinite(r["val_multitask"]) and "test_multitask" in r for r in rows)
    frame = load_trials([outcome.path])
    selected = select(frame, "val_multitask", "max")
    chosen = next(iter(selected.values()))
    assert chosen.metric == "val_multitask" and chosen.test_metric == "test_multitask"
