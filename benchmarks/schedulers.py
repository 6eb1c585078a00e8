"""Benchmark: the extrapolation scheduler vs the fixed grid, ASHA and PBT on real data.

Runs ``search_spaces/scheduler_vs_baselines.yaml`` — one experiment per entry of its
``schedulers`` list (the same four trials, one per starting batch size 4/8/16/32, the same
per-trial budget of ``budget.epochs`` epochs in ``budget.reports`` reports, the same parallelism,
**the same metric**: every scheduler acts on the file's ``metric``, ``val_loss``) on GunPoint,
BasicMotions and ItalyPowerDemand, with ``--seeds`` training seeds (the trial key ``seed``:
weights, batch order, augmentations; PBT's mutations are seeded too). One local Ray with
``--cpus`` CPUs runs the trials, one CPU each. Nothing here reads a test label to decide.

Printed per data set and scheduler (mean ± std over the seeds):

- ``best val_loss`` / ``best val_probe_acc``: the best final value among the experiment's trials
  (validation metrics);
- ``compute to val_loss target (s)``: the compute (trial seconds of training, evaluation and
  restarts: the sum of the reports' ``time_this_iter_s``) the experiment had spent when one of its
  trials first reported ``val_loss`` ≤ the target, the best final ``val_loss`` any scheduler
  reached on that data set with that seed divided by ``TARGET_FRACTION`` (0.95). Reports are
  ordered by their float ``wall_time_s``. ``reached`` counts the seeds whose experiment reached
  the target; the mean is over those;
- ``compute to val_probe target (s)``: the same for ``val_probe_acc`` ≥ 95 % of the best final
  ``val_probe_acc`` (the cross-validated probe: no test labels);
- ``selected test_probe_acc``: the test score of the trial and checkpoint each experiment selects
  on ``val_loss`` (:mod:`tune_bs.report.selection`) — one number per experiment, reported only;
- ``total compute (s)``: the sum of ``time_this_iter_s`` over all reports;
- ``switches``: batch-size changes (the schedule's), ``stopped``: trials ended before their
  budget, ``errored``: trials that failed (counted in ``stopped`` too).

The last lines are ``compute_to_val_loss_target_vs_fifo <scheduler>=<median ratio>(<pairs>/<all>)
...`` over the (data set, seed) pairs where both reached the target, and the same for the probe
target (``compute_to_val_probe_target_vs_fifo``).

Usage: ``python benchmarks/schedulers.py [--seeds 3] [--cpus 2] [--storage DIR] [--smoke-test]``.
``--epochs`` / ``--reports`` override the files' per-trial budget (the same for every scheduler).
Experiments already in ``--storage`` (a previous run's) are read, not run again: delete one's
folder to redo it.
``--smoke-test``: GunPoint, one seed, 12 reports of a 6-epoch budget (seconds per experiment).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tune_bs import metrics as m
from tune_bs.experiment import RunOptions, run_experiment
from tune_bs.report.formats import render
from tune_bs.report.frame import load_trials
from tune_bs.report.selection import select
from tune_bs.report.tables import TARGET_FRACTION
from tune_bs.space import SearchSpace, parse_space

SPACES = Path(__file__).resolve().parents[1] / "search_spaces"
DATASETS = ("GunPoint", "BasicMotions", "ItalyPowerDemand")
SCHEDULERS = ("extrapolation", "fifo", "asha", "pbt")


def experiment_space(scheduler: str, dataset: str, seed: int, smoke: bool,
                     budget: dict[str, Any] | None = None) -> SearchSpace:
    """``scheduler_vs_baselines.yaml`` with its ``scheduler`` entry on ``dataset`` with
    training seed ``seed`` (and ``budget`` overriding the file's)."""
    raw = yaml.safe_load((SPACES / "scheduler_vs_baselines.yaml").read_text())
    sections = {section["name"]: section for section in raw.pop("schedulers")}
    raw["scheduler"] = sections[scheduler]
    raw["name"] = f"{scheduler}-{dataset}-s{seed}"
    raw["dataset"] = {"name": dataset}
    raw["seed"] = seed
    raw["param_space"]["seed"] = seed
    raw["budget"].update(budget or {})
    if smoke:
        raw["budget"] = {"epochs": 6, "reports": 12}
    return parse_space(raw, source="scheduler_vs_baselines.yaml")


def read_reports(experiment: Path) -> pd.DataFrame:
    """Every line of every trial's ``result.json`` (a restarted trial's repeats included: they
    are compute spent), in file order, with the trial's folder as ``trial``."""
    rows = []
    for path in sorted(experiment.glob("*/result.json")):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                row["trial"] = path.parent.name
                row["budget_samples"] = row.get("config", {}).get("budget_samples", math.inf)
                rows.append(row)
    return pd.DataFrame.from_records(rows)


def summarise(reports: pd.DataFrame, experiment: Path, metric: str, mode: str
              ) -> dict[str, Any]:
    """Per-experiment figures (see the module docstring).

    Compute is the sum of ``time_this_iter_s`` (a PBT clone's ``time_total_s`` carries its
    donor's seconds); restarts after a pause show up in the first iteration after them.
    """
    finals = reports.groupby("trial").tail(1)
    selections = select(load_trials([experiment]), metric, mode)
    selected = next(iter(selections.values()), None)
    return {
        "best_probe": float(finals[m.VAL_PROBE_ACC].max()),
        "best_val_loss": float(finals[m.VAL_LOSS].min()),
        "selected_test": math.nan if selected is None or selected.test_value is None
        else selected.test_value,
        "total_compute": float(reports["time_this_iter_s"].sum()),
        "switches": int(finals[m.SWITCHES].fillna(0).sum()),
        "stopped": int((finals[m.SAMPLES_SEEN] < finals["budget_samples"]).sum()),
        "reports": reports,
    }


def compute_to_target(reports: pd.DataFrame, target: float, metric: str, mode: str) -> float:
    """Trial seconds spent by the experiment when its first report reaches ``target`` (reports
    ordered by their float ``wall_time_s``)."""
    ordered = reports.sort_values(m.WALL_TIME_S, kind="stable")
    values = ordered[metric]
    hits = ordered[values >= target if mode == "max" else values <= target]
    if hits.empty:
        return math.nan
    hit_time = hits.iloc[0][m.WALL_TIME_S]
    return float(ordered.loc[ordered[m.WALL_TIME_S] <= hit_time, "time_this_iter_s"].sum())


def _mean_std(values: list[float], digits: int) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "–"
    if len(finite) == 1:
        return f"{finite[0]:.{digits}f}"
    return f"{statistics.mean(finite):.{digits}f} ± {statistics.stdev(finite):.{digits}f}"


def table(results: dict[tuple[str, int, str], dict[str, Any]], datasets: list[str],
          seeds: list[int], schedulers: list[str]) -> tuple[pd.DataFrame, str]:
    """The comparison table and the final ratio line."""
    for dataset in datasets:
        for seed in seeds:
            runs = [results[(dataset, seed, s)] for s in schedulers]
            target = TARGET_FRACTION * max(r["best_probe"] for r in runs)
            loss_target = min(r["best_val_loss"] for r in runs) / TARGET_FRACTION
            for run in runs:
                run["target"] = target
                run["to_target"] = compute_to_target(run["reports"], target, m.VAL_PROBE_ACC,
                                                     "max")
                run["to_loss_target"] = compute_to_target(run["reports"], loss_target,
                                                          m.VAL_LOSS, "min")
    rows = []
    for dataset in datasets:
        for scheduler in schedulers:
            runs = [results[(dataset, seed, scheduler)] for seed in seeds]
            to_target = [r["to_target"] for r in runs]
            rows.append({
                "dataset": dataset,
                "scheduler": scheduler,
                "best val_loss": _mean_std([r["best_val_loss"] for r in runs], 3),
                "compute to val_loss target (s)": _mean_std([r["to_loss_target"] for r in runs],
                                                            1),
                "val_loss reached": f"{sum(math.isfinite(r['to_loss_target']) for r in runs)}"
                                    f"/{len(runs)}",
                "best val_probe_acc": _mean_std([r["best_probe"] for r in runs], 3),
                "compute to val_probe target (s)": _mean_std(to_target, 1),
                "val_probe reached": f"{sum(math.isfinite(v) for v in to_target)}/{len(runs)}",
                "selected test_probe_acc": _mean_std([r["selected_test"] for r in runs], 3),
                "total compute (s)": _mean_std([r["total_compute"] for r in runs], 1),
                "switches": _mean_std([float(r["switches"]) for r in runs], 1),
                "stopped": _mean_std([float(r["stopped"]) for r in runs], 1),
                "errored": _mean_std([float(r["errored"]) for r in runs], 1),
            })
    lines = []
    for field, name in (("to_loss_target", "compute_to_val_loss_target_vs_fifo"),
                        ("to_target", "compute_to_val_probe_target_vs_fifo")):
        ratios = []
        for scheduler in schedulers:
            if scheduler == "fifo" or "fifo" not in schedulers:
                continue
            pairs = [results[(d, s, scheduler)][field] / results[(d, s, "fifo")][field]
                     for d in datasets for s in seeds]
            total = len(pairs)
            pairs = [p for p in pairs if math.isfinite(p)]
            value = f"{np.median(pairs):.2f}" if pairs else "nan"
            ratios.append(f"{scheduler}={value}({len(pairs)}/{total})")
        lines.append(f"{name} " + " ".join(ratios))
    return pd.DataFrame(rows), "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per data set")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--schedulers", nargs="+", default=list(SCHEDULERS))
    parser.add_argument("--storage", type=Path, default=None,
                        help="results folder (default: a new temporary folder)")
    parser.add_argument("--epochs", type=float, help="override budget.epochs of the files")
    parser.add_argument("--reports", type=int, help="override budget.reports of the files")
    parser.add_argument("--smoke-test", action="store_true")
    args = parser.parse_args(argv)
    datasets = ["GunPoint"] if args.smoke_test else args.datasets
    seeds = list(range(1 if args.smoke_test else args.seeds))
    storage = args.storage or Path(tempfile.mkdtemp(prefix="tune_bs_schedulers_"))
    storage.mkdir(parents=True, exist_ok=True)
    log = storage / "benchmark.log"

    import ray

    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    results: dict[tuple[str, int, str], dict[str, Any]] = {}
    started = time.perf_counter()
    try:
        for dataset in datasets:
            for seed in seeds:
                for scheduler in args.schedulers:
                    budget = {k: v for k, v in (("epochs", args.epochs),
                                                ("reports", args.reports)) if v}
                    space = experiment_space(scheduler, dataset, seed, args.smoke_test, budget)
                    folder = storage / space.name
                    if not any(folder.glob("*/result.json")):
                        random.seed(seed)  # Tune's PBT draws its mutations from `random`
                        t0 = time.perf_counter()
                        with log.open("a") as out, contextlib.redirect_stdout(out), \
                                contextlib.redirect_stderr(out):
                            run_experiment(space, storage=storage, name=space.name,
                                           options=RunOptions())
                        print(f"{space.name}: {time.perf_counter() - t0:.0f} s wall", flush=True)
                    results[(dataset, seed, scheduler)] = summarise(
                        read_reports(folder), folder, space.metric, space.mode)
                    results[(dataset, seed, scheduler)]["errored"] = len(
                        list(folder.glob("*/error.txt")))
    finally:
        ray.shutdown()
    frame, ratio_line = table(results, datasets, seeds, args.schedulers)
    print(f"\n{len(results)} experiments in {time.perf_counter() - started:.0f} s wall; results "
          f"in {storage}; every scheduler acts on val_loss; targets per data set and seed: the "
          f"best final val_loss / {TARGET_FRACTION}, {TARGET_FRACTION:.0%} of the best final "
          "val_probe_acc.\n")
    print(render(frame, "markdown"))
    print(ratio_line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
