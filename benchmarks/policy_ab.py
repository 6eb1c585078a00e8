"""Benchmark: two versions of the extrapolation scheduler, A and B, on the same seeds, with a
fixed cost model so that the machine's drift between the two runs cancels.

How a policy change is chosen on the development seeds: run ``benchmarks/schedulers.py
--methods extrapolation --storage A`` with the change and ``--methods fifo extrapolation
--storage B`` without it (``PYTHONPATH`` at a checkout of the previous commit), then::

    python benchmarks/policy_ab.py --a A --b B --targets DEV_CSV

with ``DEV_CSV`` = ``benchmarks/results/schedulers_dev/schedulers.csv``.

Definitions (everything else as in :mod:`scheduler_figures`):

- **Targets** are read from ``--targets`` (a ``schedulers.csv`` of a full run on the same seeds:
  within 1 % of the best final ``val_loss`` of every method), so A and B are held to the same
  targets as the committed baselines.
- **Cost** of a report: the samples it trained since the trial's previous report × the median
  seconds per sample of its loader batch over B's fixed-grid (``fifo``) reports of that data set
  (``trial_time_s`` increments ÷ samples). Two runs of the same policy minutes apart measured
  trial seconds differing by up to 1.5× on the shared 2-core machine; samples × a fixed pace
  do not drift. Decisions themselves still depend on the timing of each run.
- **Cost to target**: the cost of every report whose ``wall_time_s`` is at or before the first
  report that meets the target (``inf`` when none does); the **ratio to the grid** divides it by
  B's grid's (the grid's total cost when the grid never reaches the target).

Printed: one row per (data set, seed), then per version: targets reached, total cost, trials
stopped early, median ratio to the grid, and in how many pairs each version reached the target
at the lower cost.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scheduler_figures as fig
import schedulers as bench

from tune_bs import metrics as m
from tune_bs.report.formats import render

CANDIDATE = fig.CANDIDATE


def with_new_samples(reports: pd.DataFrame) -> pd.DataFrame:
    """:func:`schedulers.read_reports` frame with ``new_samples``: the samples each report
    trained since the trial's previous one (file order)."""
    samples = pd.to_numeric(reports[m.SAMPLES_SEEN], errors="coerce")
    previous = samples.groupby(reports["trial"], sort=False).shift(1).fillna(0.0)
    return reports.assign(new_samples=(samples - previous).clip(lower=0.0))


def paces(grid_runs: list[pd.DataFrame]) -> dict[int, float]:
    """Median seconds per sample of each loader batch over fixed-grid reports (each report's
    own compute ÷ its new samples)."""
    reports = pd.concat(grid_runs, ignore_index=True)
    reports = reports[reports["new_samples"] > 0]
    per_sample = reports[fig.COMPUTE] / reports["new_samples"]
    return per_sample.groupby(reports[m.BATCH_SIZE]).median().to_dict()


def costs(reports: pd.DataFrame, pace: dict[int, float]) -> pd.Series:
    """Each report's cost: new samples × its loader's pace (NaN for a loader the grid never ran)."""
    return reports["new_samples"] * reports[m.BATCH_SIZE].map(pace)


def cost_to_target(reports: pd.DataFrame, pace: dict[int, float], target: float) -> float:
    """Cost of every report up to the first (by wall clock) that meets ``target``; ``inf`` if
    none does."""
    hits = reports[fig.meets(reports[m.VAL_LOSS], target, "min")]
    if hits.empty:
        return math.inf
    before = reports[fig.WALL] <= hits[fig.WALL].min()
    return float(costs(reports[before], pace).sum())


def compare(a: Path, b: Path, targets: pd.DataFrame) -> pd.DataFrame:
    """One row per (data set, seed) that A and B (with its grid) both finished."""
    finished = {
        (ds, seed): [a / f"{CANDIDATE}-{ds}-s{seed}", b / f"{CANDIDATE}-{ds}-s{seed}"]
        for ds, seed in targets[["dataset", "seed"]].drop_duplicates().itertuples(index=False)
    }
    grid = {key: b / f"{fig.GRID}-{key[0]}-s{key[1]}" for key in finished}
    keep = [
        k for k, f in finished.items() if all((x / bench.MARKER).is_file() for x in [*f, grid[k]])
    ]
    grids = {k: with_new_samples(bench.read_reports(grid[k])) for k in keep}
    pace = {ds: paces([g for (d, _), g in grids.items() if d == ds]) for ds, _ in keep}
    rows = []
    for ds, seed in keep:
        target = float(targets[(targets.dataset == ds) & (targets.seed == seed)]["target"].iloc[0])
        row: dict[str, object] = {"dataset": ds, "seed": seed, "target": target}
        g = grids[(ds, seed)]
        grid_cost = cost_to_target(g, pace[ds], target)
        grid_total = float(costs(g, pace[ds]).sum())
        row["grid cost to target"] = grid_cost
        for label, folder in zip("AB", finished[(ds, seed)], strict=True):
            reports = with_new_samples(bench.read_reports(folder))
            mine = cost_to_target(reports, pace[ds], target)
            row[f"{label} best final"] = fig.best_final(reports, m.VAL_LOSS, "min")
            row[f"{label} cost to target"] = mine
            row[f"{label} ratio"] = fig.ratio_to_grid(mine, grid_cost, grid_total)
            row[f"{label} total cost"] = float(costs(reports, pace[ds]).sum())
            row[f"{label} stopped"] = bench.stopped_trials(reports)
        rows.append(row)
    return pd.DataFrame(rows)


def summary_lines(table: pd.DataFrame) -> list[str]:
    """Per version: reached, total cost, stopped trials, median ratio; then the cheaper-to-target
    counts."""
    n, out = len(table), []
    for label in "AB":
        reached = int(np.isfinite(table[f"{label} cost to target"].to_numpy(dtype=float)).sum())
        out.append(
            f"{label}: reached {reached}/{n}, total cost {table[f'{label} total cost'].sum():.0f} "
            f"s, {int(table[f'{label} stopped'].sum())} trials stopped, median ratio to the grid "
            f"{fig._median(table[f'{label} ratio']):.2f}"
        )
    a, b = table["A cost to target"], table["B cost to target"]
    out.append(
        f"A reached the target at the lower cost in {int((a < b).sum())}/{n} pairs, "
        f"B in {int((b < a).sum())}/{n}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="storage of version A")
    parser.add_argument("--b", type=Path, required=True, help="storage of version B (with fifo)")
    parser.add_argument("--targets", type=Path, required=True, help="a schedulers.csv")
    args = parser.parse_args(argv)
    if not args.targets.is_file():
        parser.exit(2, f"--targets {args.targets} is not a file; give a schedulers.csv.\n")
    table = compare(args.a, args.b, pd.read_csv(args.targets))
    if table.empty:
        parser.exit(
            2,
            f"no (data set, seed) of {args.targets} is finished in both --a {args.a} and --b "
            f"{args.b} (with its fifo grid); run benchmarks/schedulers.py there first.\n",
        )
    print(render(table))
    print()
    print("\n".join(summary_lines(table)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
