"""Score selection rules on finished runs: what each rule's choice costs on the test split.

For every experiment folder found under the given paths (Ray Tune's layout: one folder per trial
with ``params.json`` and ``result.json``; ``tune-bs run`` writes them, so does
``benchmarks/defaults_validation.py runs``), every rule of
:data:`tune_bs.report.selection_rules.RULES` selects a trial and report **on validation numbers
only** (:func:`tune_bs.report.selection.select`). Only then is the test split read, as the
outcome:

    cost = test score of the selected report − the best test score of any trial's final report

(0 is the best any rule could do among final checkpoints; a rule may beat it by picking an
earlier report, so the cost can be positive). Prints, per rule, the median cost over all
experiments and per data set (the experiment name's part before ``-s<seed>``), the mean, and how
many experiments each rule lost more than one point in.

Usage: ``python benchmarks/selection_rules.py DIR [DIR ...] [--metric val_probe_acc]``.
``--smoke-test`` scores two tiny synthetic experiments written to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

import pandas as pd

from tune_bs import metrics as m
from tune_bs.report.frame import EXPERIMENT, TRIAL_ID, load_trials
from tune_bs.report.selection import select
from tune_bs.report.selection_rules import RULES

#: A loss larger than this (one point of accuracy or R²) counts as a miss.
MISS = 0.01


def best_final_test(group: pd.DataFrame, test_metric: str) -> float:
    """The best test score of any trial's final report (the reference of the cost)."""
    iteration = pd.to_numeric(group[m.TRAINING_ITERATION], errors="coerce")
    finals = group.assign(_i=iteration).sort_values("_i").groupby(TRIAL_ID).tail(1)
    return float(pd.to_numeric(finals[test_metric], errors="coerce").max())


def costs(frame: pd.DataFrame, metric: str, mode: str) -> dict[str, dict[str, float]]:
    """rule → experiment → cost (module docstring)."""
    test_metric = dict(m.PROBE_METRICS.values()).get(metric)
    out: dict[str, dict[str, float]] = defaultdict(dict)
    references = {
        str(name): best_final_test(group, test_metric)
        for name, group in frame.groupby(EXPERIMENT, sort=False)
    }
    for rule in RULES:
        for experiment, chosen in select(frame, metric, mode, rule).items():
            if chosen.test_value is not None:
                out[rule][experiment] = chosen.test_value - references[experiment]
    return out


def dataset_of(experiment: str) -> str:
    return re.sub(r"-s\d+$", "", experiment)


def print_costs(table: dict[str, dict[str, float]]) -> None:
    datasets = sorted({dataset_of(e) for per in table.values() for e in per})
    n = max((len(per) for per in table.values()), default=0)
    print(
        f"cost = selected test − best final test, median over {n} experiments "
        "(per data set: median over its seeds)\n"
    )
    print("| rule | median | mean | misses > 1 pt | " + " | ".join(datasets) + " |")
    print("|---|---|---|---|" + "---|" * len(datasets))

    def rank(item: tuple[str, dict[str, float]]) -> tuple[float, float]:
        values = list(item[1].values())
        return (-statistics.median(values), -statistics.mean(values))

    for rule, per in sorted(table.items(), key=rank):
        values = list(per.values())
        cells = []
        for d in datasets:
            mine = [v for e, v in per.items() if dataset_of(e) == d]
            cells.append(f"{statistics.median(mine):+.3f}" if mine else "—")
        print(
            f"| {rule} | {statistics.median(values):+.3f} | {statistics.mean(values):+.3f} | "
            f"{sum(v < -MISS for v in values)}/{len(values)} | " + " | ".join(cells) + " |"
        )


def _smoke(folder: Path) -> list[Path]:
    """Two experiments of three trials each, with noisy validation figures."""
    experiments = []
    for seed in (0, 1):
        exp = folder / f"toy-s{seed}"
        for trial in range(3):
            path = exp / f"train_trial_abcde_{trial:05d}_x"
            path.mkdir(parents=True)
            (path / "params.json").write_text(json.dumps({"seed": seed}))
            rows = [
                {
                    "trial_id": f"abcde_{trial:05d}",
                    "training_iteration": i,
                    "val_probe_acc": 0.7 + 0.05 * ((trial + i + seed) % 3),
                    "val_probe_acc_std": 0.1,
                    "val_loss": 2.0 - 0.1 * i,
                    "test_probe_acc": 0.6 + 0.1 * trial,
                    "done": i == 3,
                }
                for i in (1, 2, 3)
            ]
            (path / "result.json").write_text("\n".join(map(json.dumps, rows)) + "\n")
        experiments.append(exp)
    return experiments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--metric", default=m.VAL_PROBE_ACC)
    parser.add_argument("--smoke-test", action="store_true")
    args = parser.parse_args(argv)
    paths = _smoke(Path(tempfile.mkdtemp())) if args.smoke_test else args.paths
    frame = load_trials(paths)  # each path an experiment or a storage folder of several
    print_costs(costs(frame, args.metric, m.OPTIMISABLE[args.metric]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
