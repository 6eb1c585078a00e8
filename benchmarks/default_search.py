"""Benchmark: what the packaged default search answers, over several seeds of the whole search.

Runs ``search_spaces/default.yaml`` (or ``--space``) once per seed — the search algorithm's
seed and the trials' training seed both set to it — and, for each run, reads the trial and
checkpoint selected on the space's validation metric (:mod:`tune_bs.report.selection`) and that
checkpoint's test score. Each seed also draws a new validation split (``dataset.seed``). Prints
one row per run, then the mean ± std over the runs of the selected validation figure and, as the
outcome, of its test score, beside the published TS2Vec / T-Loss figures
(:mod:`tune_bs.report.references`). The test split is read
for the selected checkpoint only: one number per run, never a maximum over trials or reports.

``--dataset NAME`` swaps the data set (aeon's or ``PACKAGE:NAME``; the same search otherwise):
how a user evaluates the default on data it was not tuned on. On a regression data set
(``Covid3Month``) the search metric becomes ``val_probe_r2`` and the test score
``test_probe_r2``.

Usage: ``python benchmarks/default_search.py [--seeds 3] [--storage DIR] [--dataset NAME]
[--smoke-test]``. Runs already in ``--storage`` are read, not run again.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from tune_bs.report.frame import load_trials
from tune_bs.report.references import METHODS, reference
from tune_bs.report.selection import select
from tune_bs.search.experiment import RunOptions, run_experiment
from tune_bs.search.space import parse_space

SPACES = Path(__file__).resolve().parents[1] / "search_spaces"


def run_seed(
    space_file: Path, seed: int, storage: Path, dataset: str | None, smoke: bool, log: Path
) -> Path:
    """Run (or find) the search with ``seed``; its experiment folder."""
    raw = yaml.safe_load(space_file.read_text())
    if dataset:
        raw["dataset"] = {"name": dataset}
        if _task(dataset) == "regression" and raw.get("metric") == "val_probe_acc":
            raw["metric"], raw["mode"] = "val_probe_r2", "max"
    raw["dataset"]["seed"] = seed  # a new seed draws a new validation split
    raw["seed"] = seed
    raw["param_space"]["seed"] = seed
    raw["name"] = f"{raw['name']}-{raw['dataset'].get('name', 'data')}-s{seed}"
    space = parse_space(raw, source=str(space_file))
    folder = storage / (space.name + ("-smoke" if smoke else ""))
    if not any(folder.glob("*/result.json")):
        t0 = time.perf_counter()
        with log.open("a") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            run_experiment(space, storage=storage, options=RunOptions(smoke_test=smoke))
        print(f"{folder.name}: {time.perf_counter() - t0:.0f} s wall", flush=True)
    return folder


def _task(dataset: str) -> str:
    """The task of a data set by name (``synthetic`` is classification)."""
    from tune_bs.data import SYNTHETIC, aeon_sets, package_sets

    if dataset.lower() == SYNTHETIC:
        return "classification"
    if package_sets.is_package_name(dataset):
        return package_sets.resolve(dataset).task
    return aeon_sets.resolve(dataset).task


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, default=SPACES / "default.yaml")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dataset", default=None, help="swap the space's data set")
    parser.add_argument("--storage", type=Path, default=None)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--smoke-test", action="store_true")
    args = parser.parse_args(argv)
    storage = args.storage or Path(tempfile.mkdtemp(prefix="tune_bs_default_"))
    storage.mkdir(parents=True, exist_ok=True)

    import ray

    ray.init(
        address="local",
        num_cpus=args.cpus,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    started = time.perf_counter()
    rows = []
    try:
        for seed in range(1 if args.smoke_test else args.seeds):
            folder = run_seed(
                args.space, seed, storage, args.dataset, args.smoke_test, storage / "benchmark.log"
            )
            raw = yaml.safe_load((folder / "tune_bs_space.yaml").read_text())
            metric = raw.get("metric", "val_loss")
            mode = raw.get("mode") or ("min" if metric == "val_loss" else "max")
            frame = load_trials([folder])
            (chosen,) = select(frame, metric, mode).values()
            rows.append((seed, chosen, frame["dataset"].dropna().iloc[0]))
    finally:
        ray.shutdown()
    print(
        f"\n{len(rows)} searches in {time.perf_counter() - started:.0f} s wall; results in "
        f"{storage}\n"
    )
    print("| seed | selected trial | report | validation metric | test score | config |")
    print("|---|---|---|---|---|---|")
    for seed, chosen, _ in rows:
        config = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in sorted(chosen.config.items())
        )
        print(
            f"| {seed} | {chosen.trial_id} | {chosen.training_iteration} | {chosen.metric} = "
            f"{chosen.value:.4f} | {chosen.test_metric} = {chosen.test_value} | {config} |"
        )
    dataset = rows[0][2]
    vals = [c.value for _, c, _ in rows]
    tests = [c.test_value for _, c, _ in rows if c.test_value is not None]
    refs = reference(dataset)
    print(
        f"\n| data set | seeds | validation: selected {rows[0][1].metric} | test (outcome): "
        f"{rows[0][1].test_metric} | " + " | ".join(METHODS.values()) + " |"
    )
    print("|---|---|---|---|" + "---|" * len(METHODS))
    print(
        f"| {dataset} | {len(rows)} | {_mean_std(vals)} | {_mean_std(tests) if tests else '–'} | "
        + " | ".join(f"{refs[c]:.3f}" if math.isfinite(refs[c]) else "–" for c in METHODS)
        + " |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
