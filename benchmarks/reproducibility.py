"""Benchmark: does the same experiment find the same batch-size schedules when run again?

Issue #12, item 1: "the same experiment run 10 times on a quiet machine gives the same
batch-size schedules in >= 8 runs; ``switching.yaml --smoke-test`` switches at least one trial
in 10/10 runs". This script runs one search space ``--runs`` times, each in a fresh local Ray
(``tune-bs run`` in a subprocess, exactly as a user runs it, into its own folder), and compares
the runs. Each trial's schedule is printed with its number of reports (fewer than the budget's:
the scheduler stopped it).

A run's *schedules*: each trial's ``batch_size_schedule`` (samples seen : batch size, the
trial's whole history of sizes), keyed by the trial's config without the batch size (random
search is seeded, so run k's i-th trial has the same config in every run). Two runs *agree*
when every trial has the same sizes in the same order, switched within ``--tolerance`` reports
of each other (a switch decided one report later, on a timing difference, is a different
schedule when the tolerance is 0, the default: the strictest reading of the goal). Printed: per
run, its schedules and whether any trial switched; how many runs agree with the most common set
of schedules; the goals with MET / MISSED.

The decisions depend on measured seconds (the cost model of
:mod:`tune_bs.schedule.switching.throughput` prices each size by its trials' measured pace), so
schedules can differ between runs on a machine whose load changes; run it on a quiet machine.

Usage::

    python benchmarks/reproducibility.py                # switching.yaml --smoke-test, 10 runs
    python benchmarks/reproducibility.py --full         # the full switching.yaml, 10 runs
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPACE = REPO / "search_spaces" / "switching.yaml"


def schedule_steps(schedule: str) -> list[tuple[int, str]]:
    """``"0:8;600:16"`` → ``[(0, "8"), (600, "16")]`` (samples seen, size)."""
    steps = []
    for part in str(schedule).split(";"):
        samples, size = part.split(":")
        steps.append((int(samples), size))
    return steps


def same_schedule(a: str, b: str, report_samples: float, tolerance: int) -> bool:
    """Same sizes in the same order, each switch within ``tolerance`` reports of the other's."""
    sa, sb = schedule_steps(a), schedule_steps(b)
    if [s for _, s in sa] != [s for _, s in sb]:
        return False
    moves = [abs(x - y) for (x, _), (y, _) in zip(sa, sb, strict=True)]
    return all(move <= tolerance * report_samples for move in moves)


def run_once(space: Path, smoke: bool, storage: Path) -> pd.DataFrame:
    """One ``tune-bs run`` into ``storage``; its trials (config key, schedule, switches)."""
    import tune_bs

    command = [sys.executable, "-m", "tune_bs", "run", str(space), "--storage", str(storage)]
    if smoke:
        command.append("--smoke-test")
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        raise SystemExit(f"tune-bs run failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    folder = next(p for p in storage.iterdir() if p.is_dir())
    trials = tune_bs.load(folder).trials
    keys = [c for c in ("lr", "seed", "temperature", "strategy") if c in trials.columns]
    trials = trials.assign(key=trials[keys].round(12).astype(str).agg("|".join, axis=1))
    return trials.sort_values("key")[["key", "batch_size_schedule", "switches", "reports"]]


def agreeing(runs: list[pd.DataFrame], report_samples: float, tolerance: int) -> tuple[int, int]:
    """``(runs agreeing with the modal run, index of the modal run)``."""
    best, best_index = -1, 0
    for i, ref in enumerate(runs):
        count = sum(_agree(ref, other, report_samples, tolerance) for other in runs)
        if count > best:
            best, best_index = count, i
    return best, best_index


def _agree(a: pd.DataFrame, b: pd.DataFrame, report_samples: float, tolerance: int) -> bool:
    if list(a["key"]) != list(b["key"]):
        return False
    return all(
        same_schedule(x, y, report_samples, tolerance)
        for x, y in zip(a["batch_size_schedule"], b["batch_size_schedule"], strict=True)
    )


def report_samples_of(space: Path, smoke: bool) -> float:
    """Samples between two reports of the space's trials (for the tolerance)."""
    from tune_bs.search.experiment import RunOptions, effective_space, load_space_data
    from tune_bs.search.space import load_space

    parsed = effective_space(load_space(space), RunOptions(smoke_test=smoke))
    return parsed.budget_samples(load_space_data(parsed).n_train) / parsed.reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, default=DEFAULT_SPACE, help="search-space file")
    parser.add_argument("--runs", type=int, default=10, help="times to run it")
    parser.add_argument("--full", action="store_true", help="the full budget, not --smoke-test")
    parser.add_argument(
        "--tolerance", type=int, default=0, help="reports a switch may move and still agree"
    )
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error(f"--runs must be at least 2, but got --runs {args.runs}; use e.g. 10.")
    smoke = not args.full
    started = time.perf_counter()
    print(
        f"# {args.space.name}{' --smoke-test' if smoke else ''}, {args.runs} runs, "
        f"tolerance {args.tolerance} reports; load average at the start "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    runs: list[pd.DataFrame] = []
    for k in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="tune_bs_repro_") as tmp:
            t0 = time.perf_counter()
            trials = run_once(args.space, smoke, Path(tmp))
        runs.append(trials)
        schedules = "  ".join(
            f"{schedule} ({int(n)} reports)"
            for schedule, n in zip(trials["batch_size_schedule"], trials["reports"], strict=True)
        )
        print(
            f"run {k + 1:2d}: {time.perf_counter() - t0:5.1f} s, "
            f"{int((trials['switches'] > 0).sum())}/{len(trials)} trials switched: {schedules}"
        )
    per_report = report_samples_of(args.space, smoke)
    agree, modal = agreeing(runs, per_report, args.tolerance)
    switched = sum(bool((r["switches"] > 0).any()) for r in runs)
    counts = collections.Counter("  ".join(r["batch_size_schedule"]) for r in runs).most_common(3)
    print(f"most common schedules: {', '.join(f'{n}x [{s}]' for s, n in counts)}")
    print(f"(elapsed {time.perf_counter() - started:.0f} s)")
    goal_same = agree >= 0.8 * args.runs
    print(
        f"goal same schedules in >= 80% of runs: {agree}/{args.runs} agree with run "
        f"{modal + 1} -> {'MET' if goal_same else 'MISSED'}"
    )
    if smoke and args.space == DEFAULT_SPACE:
        print(
            f"goal switching.yaml --smoke-test switches a trial in every run: {switched}/"
            f"{args.runs} -> {'MET' if switched == args.runs else 'MISSED'}"
        )
    summary: dict[str, Any] = {"agree": agree, "runs": args.runs, "switched": switched}
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
