"""Benchmark: the extrapolation scheduler against every baseline, on real and synthetic data.

Two suites (``--suite``): ``grid`` (the default, issue #12 item 4: below) and ``random`` (issue
#31 item 7: random searches over ``lr``, ``temperature``, ``hidden`` and ``batch_size`` under
fifo, ASHA, the median stopping rule and the extrapolation scheduler, each seed drawing new data;
the workloads, figures and goals are in :mod:`random_search_suite`; written to
``schedulers_random.csv`` and ``schedulers_random.md``). Both share the experiments' runner, the
resume rule and ``measure``.

What the grid suite runs (issue #12, item 4). Two workloads, each a search-space file:

- ``search_spaces/benchmark_ucr.yaml`` on GunPoint, BasicMotions and ItalyPowerDemand, 5 seeds;
- ``search_spaces/benchmark_synthetic.yaml`` (10 035 training series, a GRU, whose throughput
  grows with the batch size on a CPU), 3 seeds.

On each (data set, seed) one experiment per method, all with the file's trials (one per batch
size of ``param_space.batch_size``, spanning 16×), its per-trial budget, one CPU per trial on a
local Ray of ``--cpus`` CPUs (the same concurrency), the same metric (``val_loss``) and the same
seed (the trial key ``seed``, the search algorithm's seed and PBT's ``random``; the data draw,
``dataset.seed``, only with ``--vary-data``: the committed grid results were measured on one
validation split and one synthetic data set for every seed):

- ``fifo`` (the grid), ``asha``, ``pbt`` (batch size mutated), ``topk`` (keep the best 2 after
  the first report, Egele et al. 2023) and ``extrapolation``: the file's ``schedulers`` sections;
- ``optuna_asha``: Optuna TPE (seeded) proposing as many trials over the same batch sizes, at most
  ``--cpus`` at a time, under the file's ASHA;
- ``stratified``: fifo, as many trials drawn at random (seeded) over the batch sizes × ``stratify``
  (proportional, equal, homogeneous);
- ``cluster_count``: fifo, a grid over ``alpha`` (batch size = α × modes found, clipped to the
  batch sizes' range), as many trials.

Nothing reads a test label to decide; the test score is read for the trial and checkpoint each
experiment selects on ``val_loss`` (:func:`tune_bs.report.selection.select`).

Figures (defined in :mod:`scheduler_figures`): per experiment the best final ``val_loss``, the
target (within 1 % of the best final ``val_loss`` any method reached on that data set and seed),
the compute (the trials' own seconds of work: ``trial_time_s`` increments, Ray's
``time_this_iter_s`` for the first report after a restart; reports ordered by the float
``wall_time_s``) until a trial first reached it, whether it did, the total compute, the ratio
to the grid and the selected trial's ``test_probe_acc``. Written to ``--out`` (default
``benchmarks/results``, or a ``results`` folder in the storage for ``--smoke-test``):
``schedulers.csv`` (one row per experiment),
``schedulers.md`` (per data set × method: medians, reach counts, ratios to the grid; then the
goals) and ``schedulers.png`` (each method's ratio to the grid, one point per data set and seed).
The last lines printed state each goal of item 4 with its measured figure and MET / MISSED,
after the synthetic workload's own requirement (its grid's batch-8 trial computes ≥ 30 s).

Resuming: ``--storage`` keeps one folder per experiment. A finished experiment has a
``tune_bs_benchmark.json`` (its wall time and a digest of its search space) and is read, not run
again; one made with other settings is refused (use another ``--storage``). A folder without that
file is a half-finished experiment: it is deleted and **redone** from the start, not resumed,
because Tune keeps no scheduler state (ray-project/ray#30838): a resumed ASHA, PBT, top-k or
extrapolation experiment would decide differently from an uninterrupted one. An interruption
costs at most the one experiment that was running.

Usage::

    python benchmarks/schedulers.py --storage ~/bench   # all of it; rerun the same to resume
    python benchmarks/schedulers.py --datasets synthetic --seeds 1 --storage ~/bench
    python benchmarks/schedulers.py --first-seed 5 --storage ~/bench-heldout  # held-out seeds
    python benchmarks/schedulers.py --smoke-test        # GunPoint, 1 seed, 3 trials, tiny budgets
    python benchmarks/schedulers.py --methods extrapolation --set switching=false --storage ~/b2
        # an A/B of one option of the extrapolation scheduler (compare with policy_ab.py)
    python benchmarks/schedulers.py --suite random --seeds 3 --storage ~/bench-random
        # the random searches, development seeds 0-2 (held out: e.g. --first-seed 100)
    python benchmarks/schedulers.py --suite random --smoke-test  # 1 seed, 3 trials, tiny budget

``--smoke-test``: GunPoint, seed 0, every method, 3 trials (the smallest, middle and largest batch
size; 3 α values), 3 epochs in 6 reports.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import random_search_suite as rs
import scheduler_figures as fig
from scheduler_outputs import redraw, write_outputs

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.options import read_assignments
from tune_bs.report.formats import render
from tune_bs.report.frame import load_trials
from tune_bs.report.selection import select
from tune_bs.search.space import SearchSpace, parse_space

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "search_spaces"
RESULTS = ROOT / "benchmarks" / "results"
MARKER = "tune_bs_benchmark.json"
METHODS = (
    "fifo",
    "asha",
    "pbt",
    "topk",
    "optuna_asha",
    "stratified",
    "cluster_count",
    "extrapolation",
)
STRATIFY_MODES = ["proportional", "equal", "homogeneous"]
#: The synthetic workload's trials must compute at least this long at the smallest batch size.
MIN_TRIAL_S = 30.0
#: The method ``--set`` changes (the scheduler under test).
CANDIDATE = "extrapolation"


@dataclass(frozen=True)
class Workload:
    """A search-space file and how the benchmark runs it."""

    file: str
    datasets: tuple[str, ...]
    seeds: int
    #: cluster_count's searched α (batch size = α × modes found); about the batch sizes ÷ the
    #: modes a data set has (2–4 classes on the UCR sets, 4 synthetic modes)
    alphas: tuple[float, ...]


WORKLOADS = {
    "ucr": Workload(
        "benchmark_ucr.yaml",
        ("GunPoint", "BasicMotions", "ItalyPowerDemand"),
        5,
        (1.0, 2.0, 4.0, 8.0, 16.0),
    ),
    "synthetic": Workload(
        "benchmark_synthetic.yaml", ("synthetic",), 3, (2.0, 4.0, 8.0, 16.0, 32.0)
    ),
}
SUITES = ("grid", "random")
SMOKE_DATASET = "GunPoint"
SMOKE_BUDGET = {"epochs": 3, "reports": 6}


def _thin(values: list[Any]) -> list[Any]:
    """The smallest, middle and largest of ``values`` (the smoke test's 3 trials)."""
    ordered = sorted(values)
    return [ordered[0], ordered[len(ordered) // 2], ordered[-1]]


def method_space(
    workload: Workload,
    dataset: str,
    seed: int,
    method: str,
    cpus: int,
    smoke: bool = False,
    overrides: dict[str, Any] | None = None,
    vary_data: bool = False,
) -> SearchSpace:
    """The search space of one experiment (module docstring): the workload file with the
    method's scheduler, search and strategy, on ``dataset`` with ``seed``; ``overrides`` (from
    ``--set``) change options of the ``extrapolation`` section only; ``vary_data`` sets the data
    draw (``dataset.seed``: the validation split, the synthetic series) to ``seed`` too."""
    raw = yaml.safe_load((SPACES / workload.file).read_text())
    sections = {section["name"]: section for section in raw.pop("schedulers")}
    sections[CANDIDATE] = {**sections[CANDIDATE], **(overrides or {})}
    params = raw["param_space"]
    sizes = list(params["batch_size"]["choices"])
    alphas = list(workload.alphas)
    if smoke:
        sizes, alphas = _thin(sizes), _thin(alphas)
        raw["budget"] = dict(SMOKE_BUDGET)
    params["batch_size"] = {"type": "categorical", "choices": sizes}
    trials = len(sizes)
    raw["name"] = f"{method}-{dataset}-s{seed}"
    raw["dataset"] = {**raw["dataset"], "name": dataset, **({"seed": seed} if vary_data else {})}
    raw["seed"] = params["seed"] = seed
    if method in sections:
        raw["scheduler"] = sections[method]
    elif method == "optuna_asha":
        raw["scheduler"] = sections["asha"]
        raw["search"] = {"name": "optuna", "max_concurrent": cpus}
        raw["num_samples"] = trials
    elif method == "stratified":
        raw["scheduler"] = {"name": "fifo"}
        raw["search"] = {"name": "random"}
        raw["num_samples"] = trials
        params["strategy"] = "stratified"
        params["stratify"] = {"type": "categorical", "choices": STRATIFY_MODES}
    elif method == "cluster_count":
        raw["scheduler"] = {"name": "fifo"}
        params.update(
            strategy="cluster_count",
            batch_size=min(sizes),
            min_batch_size=min(sizes),
            max_batch_size=max(sizes),
            alpha={"type": "categorical", "choices": alphas},
        )
    else:
        raise ValueError(f"unknown method {method!r}; the methods are {', '.join(METHODS)}")
    return parse_space(raw, source=workload.file)


def parse_overrides(assignments: list[str]) -> dict[str, Any]:
    """``--set NAME=VALUE`` assignments as a dict (:func:`tune_bs.options.read_assignments`); the
    names and values are checked as the ``scheduler`` section they change. Raises
    :class:`UserInputError` (one line) on a malformed assignment or one that renames the section."""
    overrides = read_assignments(assignments, "--set", "switching=false")
    if "name" in overrides:
        raise UserInputError(
            f"--set must be NAME=VALUE naming an option of the extrapolation scheduler, but got "
            f"--set name={overrides['name']}; the method's scheduler cannot be renamed."
        )
    return overrides


def digest(space: SearchSpace) -> str:
    """A fingerprint of everything an experiment's figures depend on."""
    text = yaml.safe_dump({**space.raw, "name": space.name}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- one experiment ----------------------------------------------------------------------------
def run_or_read(space: SearchSpace, storage: Path, log: Path) -> float:
    """Run the experiment unless ``storage`` holds it finished (module: resuming); its wall
    seconds (as recorded when it ran)."""
    from tune_bs.search.experiment import RunOptions, run_experiment

    folder = storage / space.name
    marker = folder / MARKER
    if marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("digest") != digest(space):
            raise SystemExit(
                f"{folder} was run with other settings than this benchmark's (its search space "
                "differs); give another --storage or delete that folder."
            )
        return float(info["wall_s"])
    if folder.exists():
        print(f"{space.name}: half-finished in {storage}; redoing it from the start", flush=True)
        shutil.rmtree(folder)
    started = time.perf_counter()
    with log.open("a") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        run_experiment(space, storage=storage, name=space.name, options=RunOptions())
    wall = time.perf_counter() - started
    marker.write_text(
        json.dumps({"digest": digest(space), "wall_s": wall, "finished_unix_s": time.time()})
    )
    return wall


def read_reports(folder: Path) -> pd.DataFrame:
    """Every line of every trial's ``result.json`` in file order (repeats after a restart
    included: they were computed), with the trial's folder name as ``trial`` and each report's
    compute (:func:`scheduler_figures.report_compute`)."""
    keys = (
        fig.WALL,
        fig.TRIAL_TIME,
        fig.RAY_SECONDS,
        fig.ITERATION,
        fig.SINCE_RESTORE,
        m.VAL_LOSS,
        m.SAMPLES_SEEN,
        m.BATCH_SIZE,
        m.SWITCHES,
    )
    rows = []
    for path in sorted(folder.glob("*/result.json")):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append(
                    {
                        "trial": path.parent.name,
                        **{k: row.get(k, math.nan) for k in keys},
                        "budget_samples": row.get("config", {}).get("budget_samples", math.inf),
                        "config_batch_size": row.get("config", {}).get("batch_size", math.nan),
                    }
                )
    columns = ["trial", *keys, "budget_samples", "config_batch_size"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame[fig.COMPUTE] = fig.report_compute(frame) if rows else pd.Series(dtype=float)
    return frame


def smallest_batch_trial_seconds(reports: pd.DataFrame) -> float:
    """Own compute of the trial that started at the smallest batch size (the grid's longest)."""
    if reports.empty:
        return math.nan
    starts = reports.groupby("trial", sort=False)["config_batch_size"].first()
    return float(reports.loc[reports["trial"] == starts.idxmin(), fig.COMPUTE].sum())


def samples_trained(reports: pd.DataFrame) -> float:
    """Training samples of all trials: each trial's last ``samples_seen`` (by ``wall_time_s``),
    summed. A load-free measure of compute where a sample costs about the same at every batch
    size (the FCN on a CPU, docs/design.md §8)."""
    if reports.empty:
        return 0.0
    last = reports.sort_values(fig.WALL, kind="stable").groupby("trial").tail(1)
    return float(pd.to_numeric(last[m.SAMPLES_SEEN], errors="coerce").fillna(0).sum())


def stopped_trials(reports: pd.DataFrame) -> int:
    """Trials whose last report (by ``wall_time_s``) is short of their samples budget."""
    last = reports.sort_values(fig.WALL, kind="stable").groupby("trial").tail(1)
    return int((last[m.SAMPLES_SEEN] < last["budget_samples"]).sum())


def measure(space: SearchSpace, folder: Path, reports: pd.DataFrame) -> dict[str, Any]:
    """The experiment's figures that need no other experiment."""
    selection = next(iter(select(load_trials([folder]), space.metric, space.mode).values()), None)
    last = reports.sort_values(fig.WALL, kind="stable").groupby("trial").tail(1)
    return {
        "best_final": fig.best_final(reports, space.metric, space.mode),
        "total_compute": fig.total_compute(reports),
        "total_samples": samples_trained(reports),
        "reports": len(reports),
        "total_ray_seconds": fig.total_compute(reports, fig.RAY_SECONDS),
        "selected_val": math.nan if selection is None else selection.value,
        "selected_test": math.nan
        if selection is None or selection.test_value is None
        else selection.test_value,
        "trials": len(list(folder.glob("*/params.json"))),
        "trials_stopped": stopped_trials(reports),
        "trials_errored": len(list(folder.glob("*/error.txt"))),
        "switches": int(pd.to_numeric(last[m.SWITCHES], errors="coerce").fillna(0).sum()),
        "smallest_batch_trial_s": smallest_batch_trial_seconds(reports)
        if space.scheduler["name"] == "fifo"
        and space.param_space.get("strategy", "fixed") == "fixed"
        else math.nan,
    }


def workload_lines(frame: pd.DataFrame) -> list[str]:
    """The synthetic workload's requirement: its grid's smallest-batch trial computes for at least
    :data:`MIN_TRIAL_S` seconds (own compute; per seed, the shortest is shown)."""
    grid = frame[(frame["method"] == fig.GRID) & (frame["dataset"] == "synthetic")]
    if grid.empty:
        return []
    shortest = float(grid["smallest_batch_trial_s"].min())
    verdict = "MET" if shortest >= MIN_TRIAL_S else "MISSED"
    return [
        f"workload synthetic: the grid's smallest-batch trial computes {shortest:.0f} s "
        f"(shortest of {len(grid)} seeds; >= {MIN_TRIAL_S:.0f} s required) -> {verdict}"
    ]


# --- the run -----------------------------------------------------------------------------------
def plan(args: argparse.Namespace) -> list[tuple[Any, str, int]]:
    """(workload, data set, seed) of every experiment group to run."""
    if getattr(args, "suite", "grid") == "random":
        return rs.plan(args.smoke_test, args.seeds, args.first_seed, args.datasets)
    if args.smoke_test:
        return [(WORKLOADS["ucr"], SMOKE_DATASET, 0)]
    out = []
    for workload in WORKLOADS.values():
        for dataset in workload.datasets:
            if args.datasets and dataset not in args.datasets:
                continue
            seeds = workload.seeds if args.seeds is None else args.seeds
            first = args.first_seed
            out += [(workload, dataset, seed) for seed in range(first, first + seeds)]
    return out


def space_builder(
    args: argparse.Namespace, overrides: dict[str, Any]
) -> Callable[[Any, str, int, str], SearchSpace]:
    """``(workload, data set, seed, method) -> SearchSpace`` of the chosen suite."""
    if args.suite == "random":
        return lambda workload, dataset, seed, method: rs.method_space(
            workload, seed, method, args.smoke_test, overrides
        )
    return lambda workload, dataset, seed, method: method_space(
        workload, dataset, seed, method, args.cpus, args.smoke_test, overrides, args.vary_data
    )


def parser() -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out.add_argument(
        "--suite",
        choices=SUITES,
        default="grid",
        help="grid: the batch-size grids of issue #12 (default); random: the random searches "
        "of issue #31 (random_search_suite.py)",
    )
    out.add_argument(
        "--storage",
        type=Path,
        default=None,
        help="experiments folder; rerun with the same one to resume (default: a "
        "new temporary folder)",
    )
    out.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the CSV, markdown table and plot go (default: "
        "benchmarks/results; with --smoke-test, STORAGE/results)",
    )
    out.add_argument(
        "--datasets", nargs="+", default=None, help="only these data sets (default: all)"
    )
    out.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds per data set (default: grid 5 on the UCR sets, 3 synthetic; random 5)",
    )
    out.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="the first seed (default 0); e.g. 5 evaluates on seeds no setting was chosen on",
    )
    out.add_argument(
        "--methods",
        nargs="+",
        default=None,
        choices=list(dict.fromkeys([*METHODS, *rs.METHODS])),
        help=f"default: the suite's (grid: {', '.join(METHODS)}; random: {', '.join(rs.METHODS)})",
    )
    out.add_argument(
        "--vary-data",
        action="store_true",
        help="grid suite: each seed also draws the data (validation split, synthetic series); "
        "the random suite always does",
    )
    out.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (one per trial)")
    out.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change an option of the extrapolation scheduler (repeatable; an A/B on real data, "
        "e.g. --set switching=false, in its own --storage; see benchmarks/policy_ab.py)",
    )
    out.add_argument(
        "--rerun",
        nargs="+",
        default=[],
        metavar="METHOD",
        help="run these methods' experiments again even where --storage holds them finished "
        "(e.g. --rerun extrapolation after a change to the scheduler; the others are read)",
    )
    out.add_argument("--smoke-test", action="store_true")
    out.add_argument(
        "--redraw",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="only redraw FOLDER/schedulers.png from FOLDER/schedulers.csv (runs nothing)",
    )
    return out


def forget(
    groups: list[tuple[Any, str, int]],
    methods: list[str],
    space_of: Callable[[Any, str, int, str], SearchSpace],
    storage: Path,
) -> list[str]:
    """Delete the experiments of ``methods`` from ``storage`` (``--rerun``), so that they run
    again; the names of those deleted."""
    deleted = []
    for workload, dataset, seed in groups:
        for method in methods:
            folder = storage / space_of(workload, dataset, seed, method).name
            if folder.exists():
                shutil.rmtree(folder)
                deleted.append(folder.name)
    return deleted


def run_experiments(
    groups: list[tuple[Any, str, int]],
    methods: list[str],
    space_of: Callable[[Any, str, int, str], SearchSpace],
    storage: Path,
    cpus: int,
) -> tuple[pd.DataFrame, dict[tuple[str, int, str], pd.DataFrame]]:
    """Run (or read) every experiment on a local Ray of ``cpus`` CPUs: one row of figures each
    (:func:`measure`), and each experiment's reports keyed by (data set, seed, method)."""
    import ray

    log = storage / "benchmark.log"
    ray.init(
        address="local",
        num_cpus=cpus,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    rows, reports = [], {}
    try:
        for workload, dataset, seed in groups:
            for method in methods:
                space = space_of(workload, dataset, seed, method)
                ran_before = (storage / space.name / MARKER).is_file()
                wall = run_or_read(space, storage, log)
                folder = storage / space.name
                key = (dataset, seed, method)
                reports[key] = read_reports(folder)
                rows.append(
                    {
                        "workload": workload.file,
                        "dataset": dataset,
                        "seed": seed,
                        "method": method,
                        "wall_s": wall,
                        **measure(space, folder, reports[key]),
                    }
                )
                print(
                    f"{space.name}: {wall:.0f} s wall{' (read)' if ran_before else ''}, "
                    f"{rows[-1]['total_compute']:.0f} trial-s",
                    flush=True,
                )
    finally:
        ray.shutdown()
    return pd.DataFrame(rows), reports


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.redraw is not None:
        return redraw(args.redraw)
    suite_methods = rs.METHODS if args.suite == "random" else METHODS
    chosen = args.methods or list(suite_methods)
    foreign = [mth for mth in [*chosen, *args.rerun] if mth not in suite_methods]
    if foreign:
        cli.error(
            f"--methods {' '.join(foreign)} is not a method of the {args.suite} suite; its "
            f"methods are {', '.join(suite_methods)}"
        )
    methods = [mth for mth in suite_methods if mth in chosen]
    groups = plan(args)
    try:
        overrides = parse_overrides(args.set)
        space_of = space_builder(args, overrides)
        for workload, dataset, seed in groups[:1]:  # a bad option fails before Ray starts
            space_of(workload, dataset, seed, CANDIDATE)
    except UserInputError as error:
        cli.error(str(error))
    storage = args.storage or Path(tempfile.mkdtemp(prefix="tune_bs_bench_"))
    storage.mkdir(parents=True, exist_ok=True)
    out = args.out or (storage / "results" if args.smoke_test else RESULTS)
    if overrides:
        changed = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        print(f"extrapolation scheduler options changed: {changed}", flush=True)
    print(
        f"{len(groups) * len(methods)} experiments ({len(groups)} data set x seed pairs x "
        f"{len(methods)} methods) in {storage}; Ray output goes to {storage / 'benchmark.log'}; "
        f"load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    rerun = [mth for mth in methods if mth in args.rerun]
    if rerun:
        deleted = forget(groups, rerun, space_of, storage)
        print(f"--rerun: {len(deleted)} experiments of {', '.join(rerun)} deleted", flush=True)
    started = time.perf_counter()
    frame, reports = run_experiments(groups, methods, space_of, storage, args.cpus)
    elapsed = time.perf_counter() - started
    timing = (
        f"Wall time of this invocation {elapsed:.0f} s; sum of the experiments' own wall times "
        f"{frame['wall_s'].sum():.0f} s; load average at the end {os.getloadavg()[0]:.1f}."
    )
    changed = [f"extrapolation scheduler options changed (--set): {overrides}."]
    changed = changed if overrides else []
    if args.suite == "random":
        paths, table, goal_lines = rs.write_outputs(frame, methods, out, args.cpus, timing, changed)
    else:
        frame = fig.add_targets(frame, reports, m.VAL_LOSS, "min")
        table = fig.summary_table(frame, methods)
        goal_lines = [*workload_lines(frame), *(goal.line() for goal in fig.goals(frame))]
        header = [
            "# Scheduler benchmark (benchmarks/schedulers.py)",
            "",
            f"{len(frame)} experiments, {args.cpus} CPUs (one per trial), metric val_loss; "
            "target per data set and seed = the best final val_loss of any method x 1.01; "
            "compute = the trials' own seconds of work (trial_time_s increments; Ray's "
            "time_this_iter_s for a restart), ordered by the float wall_time_s "
            "(benchmarks/scheduler_figures.py); ratios are to the fifo grid of the same data set "
            f"and seed (inf = target not reached). {timing}",
            *changed,
        ]
        paths = write_outputs(frame, table, goal_lines, header, out, methods)
    print()
    print(render(table, "markdown"))
    print(f"\nwritten: {', '.join(str(p) for p in paths)}")
    print(
        f"benchmark wall time: {elapsed:.0f} s this invocation; {frame['wall_s'].sum():.0f} s "
        "summed over the experiments' own runs"
    )
    for line in goal_lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
