"""Benchmark: how early can a fitted learning curve tell which trial will end best?

Reads the fixed-grid (``fifo``) experiments of a ``benchmarks/schedulers.py`` storage: every trial
ran its whole samples budget at one batch size, so its last ``val_loss`` is the truth. For each
trial and each report count ``k``, the curve families of :func:`tune_bs.schedule.curves.fit_curve`
are fitted to its first ``k`` reports and extrapolated to the end of its budget. Printed per ``k``:

- the median relative error of that prediction of the final ``val_loss`` (and of the last
  observed value, the naive prediction);
- how often the final value lies inside the ``±z`` band (``--band-z``, the scheduler's
  ``band_z``, default 2), its std widened by ``1 + g·depth`` (``--depth-gain g``, the
  scheduler's ``band_depth_gain``; ``depth``: ranges of the fitted reports the curve is carried
  beyond its last one, :meth:`tune_bs.schedule.curves.CurveFit.depth`);
- over every pair of trials of one experiment, how often the predictions order their final
  values right (0.5 is a coin);
- a budget-end stopping rule applied at ``k``: a trial is stopped when the lower end of its band
  lies above the best predicted end of the other trials. ``stopped`` counts such trials,
  ``winners stopped`` those of them that ended within 1 % of the experiment's best final value
  (they meet the schedulers benchmark's target, :func:`scheduler_figures.target_value`: the
  ones a stopping rule must not lose).

Then, the band's calibration: over every fit of 5–15 reports, how often the final value lies in
the ±z band per depth bin, without widening and with ``--depth-gain`` (the figures quoted in
:mod:`tune_bs.schedule.curves` and for ``band_depth_gain``, which was chosen on the development
seeds' storage).

This is the evidence behind the extrapolation scheduler's default ``objective="budget"`` and its
rule of no stop before a trial's own curve is fitted (:mod:`tune_bs.schedule.switching`). Nothing
here trains; it reads the stored ``result.json`` files.

Usage::

    python benchmarks/curve_ranking.py --storage ~/bench        # after benchmarks/schedulers.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scheduler_figures as fig

from tune_bs.options import options_of
from tune_bs.schedule.curves import CurveFitError, fit_curve
from tune_bs.schedule.switching import SwitchSettings

#: Depth bins of the calibration table (sample ranges beyond the fitted reports).
DEPTH_BINS = ((0.0, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, float("inf")))


@dataclass(frozen=True)
class GridTrial:
    """One fixed-size trial: its samples seen and ``val_loss`` per report, and its budget."""

    experiment: str
    batch_size: int
    samples: np.ndarray
    losses: np.ndarray
    budget: float

    @property
    def final(self) -> float:
        return float(self.losses[-1])


@dataclass(frozen=True)
class Prediction:
    """The end-of-budget extrapolation of a trial's first ``k`` reports."""

    trial: GridTrial
    mean: float
    low: float
    high: float
    last_seen: float
    depth: float = 0.0


def load_grid_trials(storage: Path) -> dict[str, list[GridTrial]]:
    """Every ``fifo-*`` experiment's trials (those with a budget and at least 2 reports)."""
    out: dict[str, list[GridTrial]] = {}
    for experiment in sorted(storage.glob("fifo-*")):
        trials = []
        for result in sorted(experiment.glob("*/result.json")):
            rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
            rows = [r for r in rows if r.get("val_loss") is not None]
            budget = rows[0].get("config", {}).get("budget_samples") if rows else None
            if len(rows) < 2 or budget is None:
                continue
            trials.append(
                GridTrial(
                    experiment.name,
                    int(rows[0]["config"]["batch_size"]),
                    np.array([r["samples_seen"] for r in rows], dtype=float),
                    np.array([r["val_loss"] for r in rows], dtype=float),
                    float(budget),
                )
            )
        if trials:
            out[experiment.name] = trials
    return out


def predict(trial: GridTrial, k: int, band_z: float, depth_gain: float = 0.0) -> Prediction | None:
    """The end-of-budget extrapolation from the first ``k`` reports (None: too few, or no fit)."""
    if len(trial.losses) <= k:
        return None
    try:
        fit = fit_curve(trial.samples[:k], trial.losses[:k])
    except CurveFitError:
        return None
    end = fit.extrapolate(trial.budget, band_z, depth_gain)
    return Prediction(
        trial, end.mean, end.low, end.high, float(trial.losses[k - 1]), fit.depth(trial.budget)
    )


Predictions = dict[str, tuple[list[GridTrial], list[Prediction]]]


def predict_all(
    experiments: dict[str, list[GridTrial]], k: int, band_z: float, depth_gain: float = 0.0
) -> Predictions:
    """Per experiment: its trials and the predictions from their first ``k`` reports."""
    return {
        name: (
            trials,
            [p for p in (predict(t, k, band_z, depth_gain) for t in trials) if p is not None],
        )
        for name, trials in experiments.items()
    }


def evaluate(
    experiments: dict[str, list[GridTrial]], k: int, band_z: float, depth_gain: float = 0.0
) -> dict[str, float]:
    """The figures of one report count ``k`` (see the module docstring)."""
    return summarise(predict_all(experiments, k, band_z, depth_gain), k)


def coverage_by_depth(
    experiments: dict[str, list[GridTrial]], reports: range, band_z: float, depth_gain: float
) -> list[tuple[str, int, float]]:
    """``(depth bin, fits, share of finals inside the band)`` over every trial fitted on each
    report count in ``reports``, per :data:`DEPTH_BINS` and then over all of them."""
    inside: dict[str, list[bool]] = {f"{lo:g}-{hi:g}": [] for lo, hi in DEPTH_BINS}
    every: list[bool] = []
    for k in reports:
        for _, predictions in predict_all(experiments, k, band_z, depth_gain).values():
            for p in predictions:
                held = p.low <= p.trial.final <= p.high
                every.append(held)
                for lo, hi in DEPTH_BINS:
                    if lo <= p.depth < hi:
                        inside[f"{lo:g}-{hi:g}"].append(held)
    rows = [
        (label, len(v), float(np.mean(v)) if v else float("nan")) for label, v in inside.items()
    ]
    return [*rows, ("all", len(every), float(np.mean(every)) if every else float("nan"))]


def summarise(predictions: Predictions, k: int) -> dict[str, float]:
    """The figures of :func:`evaluate` from the predictions of each experiment."""
    errors, naive, inside = [], [], []
    right = pairs = stopped = winners_stopped = considered = 0
    for trials, preds in predictions.values():
        target = fig.target_value(min(t.final for t in trials), "min")
        for p in preds:
            errors.append(abs(p.mean - p.trial.final) / abs(p.trial.final))
            naive.append(abs(p.last_seen - p.trial.final) / abs(p.trial.final))
            inside.append(p.low <= p.trial.final <= p.high)
        for a, b in combinations(preds, 2):
            if a.trial.final != b.trial.final:
                pairs += 1
                right += (a.mean < b.mean) == (a.trial.final < b.trial.final)
        for p in preds:
            considered += 1
            others = [q.mean for q in preds if q is not p]
            if others and p.low > min(others):
                stopped += 1
                winners_stopped += p.trial.final <= target
    return {
        "k": k,
        "trials": len(errors),
        "error": statistics.median(errors) if errors else float("nan"),
        "naive_error": statistics.median(naive) if naive else float("nan"),
        "inside": float(np.mean(inside)) if inside else float("nan"),
        "right": right,
        "pairs": pairs,
        "stopped": stopped,
        "considered": considered,
        "winners_stopped": winners_stopped,
    }


def dataset_of(experiment: str) -> str:
    """``fifo-GunPoint-s3`` → ``GunPoint``."""
    return experiment.split("-", 1)[1].rsplit("-s", 1)[0]


def print_table(by_k: dict[int, Predictions], experiments: set[str]) -> None:
    """One markdown row per report count, over the chosen ``experiments``."""
    print(
        "| reports fitted | trials | median rel. error of the end | last value's | final in band "
        "| pairs ranked right | stopped by the budget-end rule | winners stopped |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for k, predictions in by_k.items():
        r = summarise({e: v for e, v in predictions.items() if e in experiments}, k)
        share = r["right"] / r["pairs"] if r["pairs"] else float("nan")
        print(
            f"| {k} | {r['trials']} | {r['error']:.3f} | {r['naive_error']:.3f} | "
            f"{r['inside']:.0%} | {r['right']}/{r['pairs']} ({share:.0%}) | "
            f"{r['stopped']}/{r['considered']} | {r['winners_stopped']} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", type=Path, required=True, help="a schedulers.py storage")
    parser.add_argument("--reports", type=int, nargs="+", default=[5, 6, 8, 10, 12])
    parser.add_argument("--band-z", type=float, default=2.0, help="band width (stds)")
    parser.add_argument(
        "--depth-gain",
        type=float,
        default=next(o.default for o in options_of(SwitchSettings) if o.name == "band_depth_gain"),
        help="std widening per range of extrapolation (default: the scheduler's band_depth_gain)",
    )
    args = parser.parse_args(argv)
    experiments = load_grid_trials(args.storage)
    if not experiments:
        parser.exit(
            2,
            f"--storage {args.storage} holds no fifo-* experiment; run "
            "benchmarks/schedulers.py --storage there first.\n",
        )
    by_k = {k: predict_all(experiments, k, args.band_z, args.depth_gain) for k in args.reports}
    groups = {"all": set(experiments)}
    for name in sorted({dataset_of(e) for e in experiments}):
        groups[name] = {e for e in experiments if dataset_of(e) == name}
    for label, chosen in groups.items():
        total = sum(len(experiments[e]) for e in chosen)
        print(
            f"\n# {label}: {len(chosen)} fixed-grid experiments, {total} trials, from "
            f"{args.storage}; band +-{args.band_z:g} std x (1 + {args.depth_gain:g} x depth)"
        )
        print_table(by_k, chosen)
    print_calibration(experiments, args.band_z, args.depth_gain)
    return 0


def print_calibration(
    experiments: dict[str, list[GridTrial]], band_z: float, depth_gain: float
) -> None:
    """The band's coverage per depth bin, fitted on 5–15 reports, without and with widening."""
    reports = range(5, 16)
    print(
        f"\n# calibration: finals inside the +-{band_z:g} std band, every trial fitted on "
        f"{reports.start}-{reports.stop - 1} reports, by depth (ranges beyond the fitted reports)"
    )
    plain = coverage_by_depth(experiments, reports, band_z, 0.0)
    wide = coverage_by_depth(experiments, reports, band_z, depth_gain)
    print(f"| depth | fits | fit's own band | widened by 1 + {depth_gain:g} x depth |")
    print("|---|---|---|---|")
    for (label, n, a), (_, _, b) in zip(plain, wide, strict=True):
        print(f"| {label} | {n} | {a:.1%} | {b:.1%} |")


if __name__ == "__main__":
    raise SystemExit(main())
