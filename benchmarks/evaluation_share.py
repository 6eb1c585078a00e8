"""Benchmark: the share of a report interval a trial spends evaluating (val_loss + both probes).

Every report computes ``val_loss`` on the fixed validation views, one representation pass of the
train and test splits, the cross-validated probe (``val_probe_acc``, 5 folds) and the test probe
(``test_probe_acc``). This script trains one trial of each workload in-process (no Ray, one
thread, as a trial with one CPU), at the report rate its shipped search space uses, and prints
per workload the median over reports of::

    share = evaluation seconds / (training seconds + evaluation seconds)

with the evaluation split into its parts (``val_loss``, representation, CV probe, test probe).
Goal: ≤ 15 % of the interval at the shipped report rates.

Workloads (the shipped spaces' settings; one trial at the middle of each searched range):

- ``default``: ``search_spaces/default.yaml`` — its data set, its constant trial settings
  (encoder, width, depth, probe) and its report rate, batch 16, lr 1e-3;
- ``default-logistic`` / ``default-svm``: the same with the other probe (whichever the default
  does not use), so the probe's own cost shows;
- ``synthetic-2000``: ``search_spaces/strategies_synthetic.yaml``'s generator and rate
  (40 epochs in 5 reports) with 2 000 series instead of 400 (1 600 training series: 12 800
  samples per report), FCN h64, batch 8, logistic probe; ``synthetic-2000-svm`` with the SVM
  probe (at most ``probe_max_train`` = 2 000 series are probed).

Run: ``python benchmarks/evaluation_share.py`` (``--smoke-test``: two reports of each, seconds).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from tune_bs.data import load_dataset
from tune_bs.progress import bar
from tune_bs.search.space import parse_space
from tune_bs.train.evaluation import EVAL_SEED
from tune_bs.train.probe import cross_validated_score, make_probe, probe_indices
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings

SPACES = Path(__file__).resolve().parents[1] / "search_spaces"
GOAL = 0.15


def _space(name: str) -> dict[str, Any]:
    return yaml.safe_load((SPACES / name).read_text())


#: Trial settings of the default space that shape the evaluation's cost (constants only).
DEFAULT_KEYS = ("encoder", "hidden", "depth", "repr_dim", "probe", "normalise", "projection_dim")


def _budget(space: dict[str, Any]) -> dict[str, float]:
    budget = space["budget"]
    return (
        {"samples": float(budget["samples"])}
        if "samples" in budget
        else {"epochs": float(budget["epochs"])}
    )


def workloads(smoke: bool) -> dict[str, tuple[dict[str, Any], dict[str, Any], int]]:
    """name -> (dataset options, trial settings, reports)."""
    default, synthetic = _space("default.yaml"), _space("strategies_synthetic.yaml")
    constants = {
        k: v
        for k, v in default["param_space"].items()
        if k in DEFAULT_KEYS and not isinstance(v, dict)
    }
    default_settings = {"batch_size": 16, "lr": 1e-3, **constants}
    other_probe = "logistic" if default_settings.get("probe", "logistic") == "svm" else "svm"
    synthetic_settings = {"batch_size": 8, "lr": 1e-3, "hidden": 64}
    data_default = dict(parse_space(default).dataset)  # raw when the space searches normalise
    data_synthetic = {**synthetic["dataset"], "n_series": 2000}
    out = {}
    for name, data, space, settings in (
        ("default", data_default, default, default_settings),
        (
            f"default-{other_probe}",
            data_default,
            default,
            {**default_settings, "probe": other_probe},
        ),
        ("synthetic-2000", data_synthetic, synthetic, synthetic_settings),
        ("synthetic-2000-svm", data_synthetic, synthetic, {**synthetic_settings, "probe": "svm"}),
    ):
        reports = int(space["budget"]["reports"])
        out[name] = (data, {**settings, **_budget(space)}, 2 if smoke else reports)
    return out


def _timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def measure(
    data_options: dict[str, Any], settings: dict[str, Any], reports: int
) -> list[dict[str, float]]:
    """Train one trial report by report; the seconds of training and of each evaluation part."""
    data = load_dataset(**data_options)
    settings = dict(settings)
    samples, epochs = settings.pop("samples", None), settings.pop("epochs", None)
    budget = round(samples if samples is not None else epochs * data.n_train)
    total_reports = max(reports, 2)
    trainer = ContrastiveTrainer(
        data,
        TrainSettings(**settings, budget_samples=budget, report_every=-(-budget // total_reports)),
        "cpu",
    )
    probe = trainer.settings.probe
    data = trainer.data  # as the trial normalised it
    rows = []
    for _ in bar(range(reports), desc=str(data_options.get("name", "data")), unit="report"):
        _, train_s = _timed(trainer.train_until, trainer.next_report_at)
        _, val_s = _timed(trainer.val_loss)
        tr, te = probe_indices(
            len(data.X_probe_train),
            len(data.X_test),
            trainer.settings.probe_max_train,
            trainer.settings.probe_max_test,
            EVAL_SEED,
        )
        started = time.perf_counter()
        f_train = trainer.represent(data.X_probe_train[tr])
        f_test = trainer.represent(data.X_test[te])
        represent_s = time.perf_counter() - started
        y_train, y_test = data.y_probe_train[tr], data.y_test[te]
        _, cv_s = _timed(cross_validated_score, f_train, y_train, data.task, 5, EVAL_SEED, probe)
        started = time.perf_counter()
        make_probe(data.task, probe, EVAL_SEED).fit(f_train, y_train).score(f_test, y_test)
        test_s = time.perf_counter() - started
        # the trainer's own report (all of it, as a trial runs it) for the total
        _, report_s = _timed(trainer.report, 0.0)
        rows.append(
            {
                "train_s": train_s,
                "val_loss_s": val_s,
                "represent_s": represent_s,
                "cv_probe_s": cv_s,
                "test_probe_s": test_s,
                "report_s": report_s,
                "share": report_s / (train_s + report_s),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(
        "| workload | reports | train s / report | eval s / report | val_loss s | represent s "
        "| CV probe s | test probe s | eval share (median) | max share |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for name, (data, settings, reports) in workloads(args.smoke_test).items():
        rows = measure(data, settings, reports)

        def med(key: str, rows=rows) -> float:
            return statistics.median(r[key] for r in rows)

        share = med("share")
        verdicts.append(f"{name}={share:.3f}")
        print(
            f"| {name} | {len(rows)} | {med('train_s'):.3f} | {med('report_s'):.3f} | "
            f"{med('val_loss_s'):.3f} | {med('represent_s'):.3f} | {med('cv_probe_s'):.3f} | "
            f"{med('test_probe_s'):.3f} | {share:.1%} | "
            f"{max(r['share'] for r in rows):.1%} |"
        )
    print(f"eval_share_median {' '.join(verdicts)} (goal <= {GOAL:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
