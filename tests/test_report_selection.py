"""Selection on validation only: one trial and one checkpoint per experiment, then its test
score; and best_config.yaml, which `tune-bs run` accepts back."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from test_report_helpers import report, trial_config, write_state, write_trial

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.report.best_config import BEST_CONFIG, best_config, save_best_config
from tune_bs.report.frame import load_trials
from tune_bs.report.selection import select
from tune_bs.search.space import ParamSpec, parse_space


def experiment(tmp_path: Path, checkpoints: bool = True) -> Path:
    """Two trials. Trial 0 has the best validation accuracy (0.9, at its second report) and a
    poor test score; trial 1 has the best test score (0.99) and a worse validation one."""
    exp = tmp_path / "exp"
    exp.mkdir(parents=True)
    state = []
    rows = {
        0: [
            report(1, 100, 2.0, 0.7, 1.0, 16, "0:16", test_probe_acc=0.6),
            report(2, 200, 1.5, 0.9, 2.0, 16, "0:16", test_probe_acc=0.7),
            report(3, 300, 1.4, 0.85, 3.0, 16, "0:16", test_probe_acc=0.75),
        ],
        1: [
            report(1, 100, 2.1, 0.6, 1.0, 32, "0:32", test_probe_acc=0.95),
            report(2, 200, 1.3, 0.8, 2.0, 32, "0:32", test_probe_acc=0.99),
        ],
    }
    for index, trial_rows in rows.items():
        config = trial_config(seed=index, batch_size=16 * (index + 1), lr=0.001 * (index + 1))
        trial_id, folder = write_trial(exp, index, config, trial_rows)
        state.append((trial_id, folder, "TERMINATED", config))
        if checkpoints:
            for row in trial_rows:
                (exp / folder / f"checkpoint_{row[m.TRAINING_ITERATION] - 1:06d}").mkdir()
    write_state(exp, state)
    return exp


def test_the_trial_and_report_are_chosen_on_validation_and_the_test_score_is_read(tmp_path):
    frame = load_trials([experiment(tmp_path)])
    (chosen,) = select(frame, m.VAL_PROBE_ACC, "max", "best_report").values()
    assert (chosen.trial_id, chosen.training_iteration) == ("a1b2c_00000", 2)
    assert chosen.value == 0.9 and chosen.test_value == 0.7  # not trial 1's 0.99
    assert chosen.test_metric == m.TEST_PROBE_ACC
    assert chosen.checkpoint and chosen.checkpoint.endswith("checkpoint_000001")
    assert chosen.config["lr"] == 0.001 and "budget_samples" not in chosen.config
    # the default rule: the trial by the mean of its last 3 reports (0.817 against 0.7), then
    # its final checkpoint
    (default,) = select(frame, m.VAL_PROBE_ACC, "max").values()
    assert (default.trial_id, default.training_iteration, default.test_value) == (
        "a1b2c_00000",
        3,
        0.75,
    )
    assert default.rule == "last3_final" and default.trial_score == pytest.approx(2.45 / 3)
    (by_loss,) = select(frame, m.VAL_LOSS, "min", "best_report").values()
    assert (by_loss.trial_id, by_loss.training_iteration, by_loss.test_value) == (
        "a1b2c_00001",
        2,
        0.99,
    )


def test_a_report_whose_checkpoint_was_deleted_is_not_selected(tmp_path):
    exp = experiment(tmp_path)
    folder = next(p for p in exp.iterdir() if "00000" in p.name)
    (folder / "checkpoint_000001").rmdir()  # the best report's checkpoint is gone
    (chosen,) = select(load_trials([exp]), m.VAL_PROBE_ACC, "max", "best_report").values()
    assert (chosen.trial_id, chosen.training_iteration) == ("a1b2c_00000", 3)
    # without any checkpoint on disk the selection still stands, without a checkpoint
    (bare,) = select(
        load_trials([experiment(tmp_path / "b", checkpoints=False)]),
        m.VAL_PROBE_ACC,
        "max",
        "best_report",
    ).values()
    assert bare.training_iteration == 2 and bare.checkpoint is None


@pytest.mark.parametrize("metric", [m.TEST_PROBE_ACC, "probe_acc"])
def test_a_test_metric_never_selects(tmp_path, metric):
    frame = load_trials([experiment(tmp_path)])
    with pytest.raises(UserInputError, match="val_probe_acc"):
        select(frame, metric, "max")


def test_best_config_is_a_search_space_of_constants_that_run_accepts(tmp_path):
    exp = experiment(tmp_path)
    (chosen,) = select(load_trials([exp]), m.VAL_PROBE_ACC, "max").values()
    space = {
        "name": "demo",
        "dataset": {"name": "GunPoint"},
        "metric": "val_probe_acc",
        "num_samples": 8,
        "budget": {"epochs": 10, "reports": 2},
        "scheduler": {"name": "asha"},
        "search": {"name": "random"},
        "param_space": {
            "batch_size": {"type": "categorical", "choices": [16, 32]},
            "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        },
    }
    written = save_best_config(exp, space, m.VAL_PROBE_ACC, "max")
    assert written == exp / BEST_CONFIG
    text = written.read_text()
    assert "val_probe_acc = 0.85" in text and "test_probe_acc = 0.75" in text
    parsed = parse_space(yaml.safe_load(text), source=str(written))
    assert parsed.num_samples == 1 and parsed.scheduler == {"name": "fifo"}
    assert parsed.param_space["batch_size"] == 16 and parsed.param_space["lr"] == 0.001
    assert not any(isinstance(v, ParamSpec) for v in parsed.param_space.values())
    assert parsed.dataset == {"name": "GunPoint"} and parsed.budget == space["budget"]
    assert best_config(space, chosen)["name"] == "demo-best"


def test_no_selection_without_a_finite_validation_value(tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    config = trial_config()
    trial_id, folder = write_trial(
        exp, 0, config, [report(1, 100, math.nan, None, 1.0, 16, "0:16", diverged=True)]
    )
    write_state(exp, [(trial_id, folder, "TERMINATED", config)])
    assert select(load_trials([exp]), m.VAL_LOSS, "min") == {}
    assert save_best_config(exp, {"name": "x"}, m.VAL_LOSS, "min") is None


def test_the_summary_shows_the_spread_across_folds_and_the_tied_trials(tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    state = []
    for index, accs in enumerate([(0.8, 0.9), (0.85, 0.88)]):
        rows = [
            report(
                i + 1, 100 * (i + 1), 2.0 - i - index, acc, 1.0, 16, "0:16", val_probe_acc_std=0.1
            )
            for i, acc in enumerate(accs)
        ]
        config = trial_config(seed=index, batch_size=16, lr=0.001)
        trial_id, folder = write_trial(exp, index, config, rows)
        state.append((trial_id, folder, "TERMINATED", config))
    write_state(exp, state)
    frame = load_trials([exp])
    (chosen,) = select(frame, m.VAL_PROBE_ACC, "max", "final_1se").values()
    # final reports 0.90 and 0.88 are within one SE (0.1 / sqrt(5)); trial 1 has the lower val_loss
    assert chosen.trial_id == "a1b2c_00001" and chosen.tied == 2 and chosen.trials == 2
    text = "\n".join(chosen.lines())
    assert "val_probe_acc = 0.88 ± 0.1 (std across CV folds)" in text
    assert "rule final_1se" in text and "2 of 2 trials tied" in text
    (plain,) = select(frame, m.VAL_PROBE_ACC, "max", "best_report").values()
    assert plain.trial_id == "a1b2c_00000" and plain.tied == 1
    (default,) = select(frame, m.VAL_PROBE_ACC, "max").values()  # last 3: 0.865 against 0.85
    assert default.trial_id == "a1b2c_00001" and default.training_iteration == 2
