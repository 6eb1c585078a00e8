"""The figures of the scheduler benchmark (:mod:`benchmarks.schedulers`), as pure functions.

No Ray, no files: the runner reads each experiment's reports into a frame and calls these; the
tests call them on hand-made frames.

Definitions (one experiment = one method on one data set with one seed):

- **Reports** are the lines of the trials' ``result.json`` in file order (a restarted trial's
  repeated iterations included: they were computed), each with the trial's float clock
  ``wall_time_s`` at the report (never Ray's whole-second ``timestamp``).
- **Compute** is trial seconds of work, per report (:func:`report_compute`):

  1. a report of a trial that continues in the same process (``iterations_since_restore`` > 1):
     the increase of the trainer's own ``trial_time_s`` since the trial's previous report
     (training, including a strategy's pretraining and cluster step, and evaluation);
  2. a trial's first report (``training_iteration`` 1): its ``trial_time_s``; the worker's
     start-up (process, imports, data, model), which every trial of every method pays once, is
     left out — on small data sets it would be most of the figure;
  3. the first report after a restart from a checkpoint (a PBT clone, a paused and resumed
     trial): Ray's ``time_this_iter_s``, the seconds in the trial's process from its session's
     start to the report (checkpoint load, model construction, the interval's training and
     evaluation, the checkpoint write), so a method is charged the restarts it causes (not the
     actor's start or reset, which the files do not show). ``trial_time_s`` cannot be used here:
     a PBT clone continues from its donor's checkpoint, so its ``trial_time_s`` jumps to the
     donor's value.

  Why not Ray's ``time_this_iter_s`` everywhere: it runs from one report to the next in the
  trial's process, so it also holds the checkpoint write and the wait for the driver to take the
  report (driver latency, which grows with the machine's load rather than with the method's
  work) and, on a fresh worker, the worker's start-up (6–9 s per worker on the 2-core machine
  under load, against 0.3–1 s of work in a smoke test's first report). Both totals are in the
  CSV (``total_compute``, ``total_ray_seconds``).

  A report's work is placed at the end of its interval, ``[wall_time_s − compute, wall_time_s]``,
  and the compute an experiment has spent by clock time ``t`` is the part of all its reports'
  intervals before ``t`` (so trials running concurrently at ``t`` are charged what they had done
  by then).
- **Best final value** of an experiment: the best value of ``metric`` among its trials' last
  reports (finite values only).
- **Target** of a (data set, seed): within ``tolerance`` (1 %) of the best final value any method
  reached there: ``best + tolerance·|best|`` for ``mode="min"`` (``best × 1.01`` for a positive
  ``val_loss``), ``best − tolerance·|best|`` for ``"max"``.
- **Compute to target**: the compute spent by the clock time of the first report (by
  ``wall_time_s``) whose value meets the target; ``inf`` when no report does (not reached).
- **Ratio to the grid** (per data set and seed): a method's compute to target ÷ the grid's.
  A method that did not reach the target gets ``inf``; when the grid did not reach it, the grid's
  total compute stands in (a lower bound of what it would have needed, so the ratio is an upper
  bound).
- **Wins against a baseline**: the (data set, seed) pairs where the method's compute to target is
  strictly lower than the baseline's (``inf`` counts as the highest; two ``inf`` are a tie, not a
  win).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

WALL = "wall_time_s"
TRIAL_TIME = "trial_time_s"
RAY_SECONDS = "time_this_iter_s"
ITERATION = "training_iteration"
SINCE_RESTORE = "iterations_since_restore"
#: Column :func:`report_compute` adds: the report's compute (module definitions).
COMPUTE = "compute_s"
#: Target: within 1 % of the best final value.
TOLERANCE = 0.01
#: The method every ratio is taken against.
GRID = "fifo"
#: The method the goals are about, and the baselines goal 2 compares it with.
CANDIDATE = "extrapolation"
GOAL_BASELINES = ("asha", "pbt", "topk", "stratified", "cluster_count")
#: Goals of issue #12 item 4.
GOAL_RATIO = 0.7
GOAL_WIN_SHARE = 2 / 3
GOAL_REACH_SHARE = 0.9
GOAL_TEST_POINTS = 1.0


def target_value(best: float, mode: str, tolerance: float = TOLERANCE) -> float:
    """The value a report must reach: within ``tolerance`` of ``best`` (module definitions)."""
    slack = tolerance * abs(best)
    return best + slack if mode == "min" else best - slack


def meets(values: pd.Series, target: float, mode: str) -> pd.Series:
    """Which finite values meet the target."""
    values = pd.to_numeric(values, errors="coerce")
    finite = np.isfinite(values.to_numpy(dtype=float))
    hit = values <= target if mode == "min" else values >= target
    return hit & finite


def best_final(reports: pd.DataFrame, metric: str, mode: str) -> float:
    """Best finite ``metric`` among the trials' last reports (by ``wall_time_s``); NaN if none."""
    if reports.empty or metric not in reports:
        return math.nan
    last = reports.sort_values(WALL, kind="stable").groupby("trial", sort=False).tail(1)
    values = pd.to_numeric(last[metric], errors="coerce")
    values = values[np.isfinite(values.to_numpy(dtype=float))]
    if values.empty:
        return math.nan
    return float(values.min() if mode == "min" else values.max())


def report_compute(reports: pd.DataFrame) -> pd.Series:
    """Each report's compute in seconds (module definitions, rules 1–3); ``reports`` in file
    order with ``trial``, ``training_iteration``, ``iterations_since_restore``,
    ``trial_time_s`` and ``time_this_iter_s``."""
    own = pd.to_numeric(reports[TRIAL_TIME], errors="coerce")
    increments = own - own.groupby(reports["trial"], sort=False).shift(1)
    first = pd.to_numeric(reports[ITERATION], errors="coerce") <= 1
    restarted = ~first & (pd.to_numeric(reports[SINCE_RESTORE], errors="coerce").fillna(1) <= 1)
    ray = pd.to_numeric(reports[RAY_SECONDS], errors="coerce")
    compute = increments.where(~first, own).where(~restarted, ray)
    return compute.fillna(ray).clip(lower=0.0)


def compute_by(reports: pd.DataFrame, clock: float) -> float:
    """Trial seconds spent by clock time ``clock`` (module definitions)."""
    end = reports[WALL].to_numpy(dtype=float)
    length = reports[COMPUTE].to_numpy(dtype=float)
    return float(np.clip(clock - (end - length), 0.0, length).sum())


def total_compute(reports: pd.DataFrame, column: str = COMPUTE) -> float:
    return float(reports[column].sum()) if not reports.empty else 0.0


def compute_to_target(reports: pd.DataFrame, target: float, metric: str, mode: str) -> float:
    """Trial seconds spent when a report first meets ``target``; ``inf`` if none does."""
    if reports.empty or metric not in reports or not math.isfinite(target):
        return math.inf
    hits = reports[meets(reports[metric], target, mode)]
    if hits.empty:
        return math.inf
    return compute_by(reports, float(hits[WALL].min()))


def ratio_to_grid(method: float, grid: float, grid_total: float) -> float:
    """``method ÷ grid`` compute to target, with the module's rules for unreached targets."""
    if not math.isfinite(method):
        return math.inf
    reference = grid if math.isfinite(grid) else grid_total
    if reference <= 0:
        return math.nan
    return method / reference


def add_targets(
    frame: pd.DataFrame,
    reports: dict[tuple[str, int, str], pd.DataFrame],
    metric: str,
    mode: str,
    tolerance: float = TOLERANCE,
) -> pd.DataFrame:
    """``frame`` (one row per experiment: ``dataset``, ``seed``, ``method``, ``best_final``,
    ``total_compute``) with ``target``, ``compute_to_target``, ``reached`` and ``ratio_to_grid``
    columns; ``reports[(dataset, seed, method)]`` are the experiment's reports. ``tolerance``:
    the target's slack (the goals are stated at :data:`TOLERANCE`; other values only for the
    sensitivity figures of ``benchmarks/target_noise.py``)."""
    out = frame.copy()
    pick = np.nanmin if mode == "min" else np.nanmax
    targets = {}
    for key, group in out.groupby(["dataset", "seed"], sort=False):
        finite = group["best_final"].to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        targets[key] = (
            target_value(float(pick(finite)), mode, tolerance) if finite.size else math.nan
        )
    out["target"] = [targets[(d, s)] for d, s in zip(out["dataset"], out["seed"], strict=True)]
    out["compute_to_target"] = [
        compute_to_target(reports[(d, s, mth)], t, metric, mode)
        for d, s, mth, t in zip(
            out["dataset"], out["seed"], out["method"], out["target"], strict=True
        )
    ]
    out["reached"] = np.isfinite(out["compute_to_target"].to_numpy(dtype=float))
    grid = out[out["method"] == GRID].set_index(["dataset", "seed"])
    ratios = []
    for d, s, value in zip(out["dataset"], out["seed"], out["compute_to_target"], strict=True):
        if (d, s) not in grid.index:
            ratios.append(math.nan)
            continue
        row = grid.loc[(d, s)]
        ratios.append(
            ratio_to_grid(value, float(row["compute_to_target"]), float(row["total_compute"]))
        )
    out["ratio_to_grid"] = ratios
    return out


def _median(values: Sequence[float]) -> float:
    """Median that keeps ``inf`` (an unreached target) and drops NaN."""
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    return float(np.median(array)) if array.size else math.nan


def summary_table(frame: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Per data set × method (plus ``all`` data sets): medians over seeds, reach counts, ratios
    to the grid and the selected test score with its difference to the grid's in points."""
    rows = []
    datasets = [*dict.fromkeys(frame["dataset"])]
    for dataset in [*datasets, "all"]:
        part = frame if dataset == "all" else frame[frame["dataset"] == dataset]
        grid_test = part[part["method"] == GRID].set_index(["dataset", "seed"])["selected_test"]
        for method in methods:
            runs = part[part["method"] == method]
            if runs.empty:
                continue
            deltas = [
                100 * (t - grid_test.get((d, s), math.nan))
                for d, s, t in zip(
                    runs["dataset"], runs["seed"], runs["selected_test"], strict=True
                )
            ]
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "experiments": len(runs),
                    "reached": f"{int(runs['reached'].sum())}/{len(runs)}",
                    "median compute to target (s)": _median(runs["compute_to_target"]),
                    "median ratio to grid": _median(runs["ratio_to_grid"]),
                    "median total compute (s)": _median(runs["total_compute"]),
                    "median best final": _median(runs["best_final"]),
                    "mean selected test": float(np.nanmean(runs["selected_test"]))
                    if runs["selected_test"].notna().any()
                    else math.nan,
                    "test vs grid (points)": float(np.nanmean(deltas))
                    if any(not math.isnan(x) for x in deltas)
                    else math.nan,
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Goal:
    """One goal of a benchmark (issue #12 item 4, issue #31 item 7): its statement, the measured
    figure and whether it is met."""

    name: str
    figure: str
    met: bool

    def line(self) -> str:
        return f"goal {self.name}: {self.figure} -> {'MET' if self.met else 'MISSED'}"


def goals(
    frame: pd.DataFrame, candidate: str = CANDIDATE, baselines: Sequence[str] = GOAL_BASELINES
) -> list[Goal]:
    """The four goals of item 4 for ``candidate``, each with its measured figure."""
    mine = frame[frame["method"] == candidate].set_index(["dataset", "seed"])
    if mine.empty:
        return []
    out = []
    ratio = _median(mine["ratio_to_grid"])
    out.append(
        Goal(
            f"median compute-to-target <= {GOAL_RATIO}x the grid's",
            f"median ratio {ratio:.2f} over {len(mine)} (data set, seed) pairs",
            bool(ratio <= GOAL_RATIO),
        )
    )
    figures, ok = [], True
    for baseline in baselines:
        theirs = frame[frame["method"] == baseline].set_index(["dataset", "seed"])
        pairs = mine.index.intersection(theirs.index)
        if pairs.empty:
            figures.append(f"{baseline} not run")
            ok = False
            continue
        wins = sum(
            mine.loc[p, "compute_to_target"] < theirs.loc[p, "compute_to_target"] for p in pairs
        )
        figures.append(f"{baseline} {wins}/{len(pairs)}")
        ok &= wins >= GOAL_WIN_SHARE * len(pairs)
    out.append(
        Goal(
            "lower compute-to-target than each baseline in >= 2/3 of pairs",
            ", ".join(figures),
            bool(ok),
        )
    )
    reached = int(mine["reached"].sum())
    out.append(
        Goal(
            f"reaches the target in >= {GOAL_REACH_SHARE:.0%} of experiments",
            f"{reached}/{len(mine)} = {reached / len(mine):.0%}",
            reached >= GOAL_REACH_SHARE * len(mine),
        )
    )
    grid = frame[frame["method"] == GRID].set_index(["dataset", "seed"])
    deltas = {}
    for dataset in dict.fromkeys(d for d, _ in mine.index):
        pairs = [p for p in mine.index.intersection(grid.index) if p[0] == dataset]
        values = [
            100 * (mine.loc[p, "selected_test"] - grid.loc[p, "selected_test"]) for p in pairs
        ]
        values = [v for v in values if not math.isnan(v)]
        deltas[dataset] = float(np.mean(values)) if values else math.nan
    worst = min(deltas, key=lambda d: deltas[d] if not math.isnan(deltas[d]) else -math.inf)
    figure = ", ".join(f"{d} {v:+.1f}" for d, v in deltas.items())
    out.append(
        Goal(
            f"selected test score not more than {GOAL_TEST_POINTS:g} point below the "
            "grid's (mean per data set, points)",
            figure,
            bool(deltas[worst] >= -GOAL_TEST_POINTS),
        )
    )
    return out
