"""Benchmark: public learning curves replayed through the schedulers a Ray Tune user would pick.

What runs (issue #31, item 8). Each *pool* of :mod:`replay_curves` (default: the committed
TaskSet subset, 36 pools of 32 random Adam configurations on IMDB RNN tasks, 50 reports each) is
one random search. Its trials are :class:`tune_bs.testing.StubTrial` s (no Ray cluster) whose
reports are the stored curve, one point after another; a scheduler sees them as Tune would show
them and its answer is carried out. One replay per pool and method:

- ``fifo``: Tune's ``FIFOScheduler`` (every trial runs its whole budget: the reference);
- ``asha``: Tune's ``ASHAScheduler(time_attr="training_iteration", max_t=<reports>,
  grace_period=5, reduction_factor=3)``;
- ``median``: Tune's ``MedianStoppingRule(time_attr="training_iteration", grace_period=5)``
  (its other arguments at Ray's defaults: ``min_samples_required=3``, ``hard_stop=True``; while
  fewer than 3 rivals have reached a trial's time and trials wait, it *pauses* the trial, which
  then waits for a free slot as in Tune);
- ``extrapolation``: tune-bs's scheduler wired as docs/guide/own-tune-code.md says:
  ``ExtrapolationScheduler(SwitchSettings(batch_sizes=(B,), switching=False))`` (``B``
  the task's batch size: a replayed curve cannot change size), ``metric``/``mode`` from the
  TuneConfig (``set_search_properties``), every hyperparameter in the config beside
  ``batch_size`` and ``budget_samples`` (``--no-budget`` leaves the budget out), each result
  carrying ``val_loss``, ``samples_seen``, ``batch_size``, ``wall_time_s`` and
  ``trial_time_s``. Curves of another metric (a pool's ``metric``, e.g. an accuracy with
  ``mode="max"``) are reported under their own name, which the scheduler is told through
  ``keys=ReportKeys(val_loss=...)`` as that page says for a trainable that names its keys
  otherwise.

How a pool is replayed (:func:`replay_pool`): every trial is added (``on_trial_add``) in the pool's
order, as a random search queues its samples; ``--concurrency`` trials (default 8) run at once;
a free slot takes the next pending trial, else the longest-paused one (Tune's FIFO choice). A
report lands when the trial has trained for the cost of that point since its last report (one
unit per point for TaskSet, which has no wall times: every configuration of a task trains the
same model at the same batch size, so a step costs the same; a pool with ``point_costs`` uses
those). Reports are handed to the scheduler in the order they land (ties: the trial started
first); ``STOP`` ends the trial (``on_trial_complete``), ``PAUSE`` frees its slot until it is
chosen again; the last report ends it. The shared clock ``wall_time_s`` is the replay's time;
``trial_time_s`` the trial's own cost so far; ``samples_seen`` = reports × the samples a point
covers (TaskSet: 200 steps × ``B``).

Figures per pool and method (:func:`figures`): *compute*, the cost of every report made (the
trials' training), and its ratio to fifo's (which runs every report); the *selected* trial, the
one whose last reported value is best among those that are finite (as
``ResultGrid.get_best_result(scope="last")`` picks it); its *regret*, that value less the pool's
best final value (the best last point of any configuration: what fifo selects), in *points* =
100 × the metric's units (TaskSet: hundredths of a nat of validation cross-entropy; for an
accuracy in [0, 1], percentage points). A stopped trial's last value can beat every final value
(curves that rise again): its regret is then negative, and shown as such. Nothing here reads a
test value.

Printed and written to ``--out`` (default ``benchmarks/results/replay``; a ``results`` folder
in a temporary directory with ``--smoke-test``): ``replay.csv`` (one row per pool and method),
``replay.md`` (per method: median compute ÷ fifo's, median regret, pools within 0.5 points,
median trials stopped; then the goals of issue #31: compute ≤ ASHA's and median regret ≤ 0.5
points).

Usage::

    python benchmarks/replay.py                       # every pool, every method (~minutes)
    python benchmarks/replay.py --concurrency 32      # all of a pool's trials at once
    python benchmarks/replay.py --pools my_pools.npz  # other curves (replay_curves' format)
    python benchmarks/replay.py --smoke-test          # 2 pools of 12 configurations
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import replay_curves as rc
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule, TrialScheduler

from tune_bs import ExtrapolationScheduler, ReportKeys, SwitchSettings
from tune_bs import metrics as m
from tune_bs.testing import StubController, StubTrial

RESULTS = Path(__file__).resolve().parent / "results" / "replay"
METHODS = ("fifo", "asha", "median", "extrapolation")
REFERENCE = "fifo"
GRACE = 5
REDUCTION_FACTOR = 3
#: Goal of issue #31 (the held-out replay): median regret at most this many points.
REGRET_GOAL_POINTS = 0.5
SMOKE = {"pools": 2, "configs": 12}


class ReplayTrial(StubTrial):
    """A stub trial that can key a dict, as Ray's ``Trial`` can (the median stopping rule keeps
    its results by trial)."""

    def __hash__(self) -> int:
        return hash(self.trial_id)


class ReplayController(StubController):
    """The stub controller plus the live trials (Ray's ``get_live_trials``, which the median
    stopping rule asks for)."""

    def get_live_trials(self) -> list[StubTrial]:
        return [t for t in self.trials if t.status not in (Trial.TERMINATED, Trial.ERROR)]


# --- the schedulers, as a user builds them ------------------------------------------------------
def build_scheduler(method: str, pool: rc.CurvePool) -> Any:
    """The Tune scheduler of ``method`` for ``pool`` (module docstring), ``metric``/``mode`` set
    as Tune sets them from the ``TuneConfig``."""
    if method == "fifo":
        scheduler = FIFOScheduler()
    elif method == "asha":
        scheduler = ASHAScheduler(
            time_attr=m.TRAINING_ITERATION,
            max_t=pool.reports,
            grace_period=GRACE,
            reduction_factor=REDUCTION_FACTOR,
        )
    elif method == "median":
        scheduler = MedianStoppingRule(time_attr=m.TRAINING_ITERATION, grace_period=GRACE)
    elif method == "extrapolation":
        settings = SwitchSettings(batch_sizes=(pool.batch_size,), switching=False)
        keys = None if pool.metric == m.VAL_LOSS else ReportKeys(val_loss=pool.metric)
        scheduler = ExtrapolationScheduler(settings, keys=keys)
    else:
        raise ValueError(f"unknown method {method!r}; the methods are {', '.join(METHODS)}")
    scheduler.set_search_properties(pool.metric, pool.mode)
    return scheduler


# --- one replay ---------------------------------------------------------------------------------
@dataclass
class TrialRun:
    """What one trial did in a replay."""

    reports: int = 0
    cost: float = 0.0
    last_value: float = float("nan")
    stopped: bool = False
    pauses: int = 0


@dataclass
class PoolRun:
    """One replay of a pool: per trial (in pool order) what it did."""

    trials: list[TrialRun] = field(default_factory=list)

    @property
    def compute(self) -> float:
        return float(sum(t.cost for t in self.trials))


def trial_config(pool: rc.CurvePool, index: int, with_budget: bool) -> dict[str, Any]:
    """Trial ``index``'s config: its hyperparameters, ``batch_size`` and (``with_budget``) its
    budget in training samples."""
    config: dict[str, Any] = {**pool.hyperparameters[index], m.BATCH_SIZE: pool.batch_size}
    if with_budget:
        config[m.BUDGET_SAMPLES] = pool.reports * pool.samples_per_point
    return config


def replay_pool(
    pool: rc.CurvePool,
    scheduler: Any,
    concurrency: int,
    with_budget: bool = True,
    configs: Sequence[int] | None = None,
) -> PoolRun:
    """Replay ``pool`` (its ``configs``, default all) through ``scheduler`` (module docstring)."""
    chosen = list(range(pool.n_configs)) if configs is None else list(configs)
    trials = [
        ReplayTrial(f"{i:04d}", trial_config(pool, i, with_budget), status=Trial.PENDING)
        for i in chosen
    ]
    controller = ReplayController(*trials)
    for trial in trials:
        scheduler.on_trial_add(controller, trial)
    runs = [TrialRun() for _ in trials]
    waiting: deque[int] = deque(range(len(trials)))
    paused: deque[int] = deque()
    events: list[tuple[float, int, int]] = []  # (time the next report lands, start order, trial)
    clock, starts = 0.0, 0

    def start(position: int) -> None:
        nonlocal starts
        trials[position].status = Trial.RUNNING
        cost = pool.cost(chosen[position], runs[position].reports + 1)
        heapq.heappush(events, (clock + cost, starts, position))
        starts += 1

    def fill() -> None:
        while sum(t.status == Trial.RUNNING for t in trials) < concurrency and (waiting or paused):
            start(waiting.popleft() if waiting else paused.popleft())

    fill()
    while events:
        clock, order, position = heapq.heappop(events)
        trial, run, config = trials[position], runs[position], chosen[position]
        run.reports += 1
        run.cost += pool.cost(config, run.reports)
        value = float(pool.curves[config, run.reports])
        run.last_value = value
        result = {
            pool.metric: value,
            m.SAMPLES_SEEN: run.reports * pool.samples_per_point,
            m.BATCH_SIZE: pool.batch_size,
            m.WALL_TIME_S: clock,
            m.TRIAL_TIME_S: run.cost,
            m.TIME_TOTAL_S: run.cost,
            m.TRAINING_ITERATION: run.reports,
        }
        action = scheduler.on_trial_result(controller, trial, result)
        trial.last_result = result
        if action == TrialScheduler.STOP or run.reports == pool.reports:
            run.stopped = run.reports < pool.reports
            scheduler.on_trial_complete(controller, trial, result)
            trial.status = Trial.TERMINATED
        elif action == TrialScheduler.PAUSE:
            trial.status = Trial.PAUSED
            run.pauses += 1
            paused.append(position)
        else:
            cost = pool.cost(config, run.reports + 1)
            heapq.heappush(events, (clock + cost, order, position))
        fill()
    return PoolRun(runs)


# --- figures ------------------------------------------------------------------------------------
def better(mode: str) -> Callable[[np.ndarray], int]:
    """The index of the best finite value (``nanargmin`` / ``nanargmax`` over finite ones)."""

    def pick(values: np.ndarray) -> int:
        finite = np.where(np.isfinite(values), values, np.nan)
        return int(np.nanargmin(finite) if mode == "min" else np.nanargmax(finite))

    return pick


def best_final(pool: rc.CurvePool, configs: Sequence[int] | None = None) -> float:
    """The pool's best final value: the best finite last point of its (chosen) curves."""
    finals = pool.curves[list(range(pool.n_configs)) if configs is None else list(configs), -1]
    return float(finals[better(pool.mode)(finals)])


def regret_points(value: float, best: float, mode: str) -> float:
    """How far ``value`` is behind ``best``, in points (100 × the metric's units; negative:
    ahead of it)."""
    return 100.0 * ((value - best) if mode == "min" else (best - value))


def figures(pool: rc.CurvePool, run: PoolRun, configs: Sequence[int] | None = None) -> dict:
    """One replay's figures (module docstring): compute, the selected trial, its regret."""
    lasts = np.array([t.last_value for t in run.trials], dtype=float)
    selected = better(pool.mode)(lasts)
    best = best_final(pool, configs)
    return {
        "compute": run.compute,
        "selected_value": float(lasts[selected]),
        "best_final": best,
        "regret_points": regret_points(float(lasts[selected]), best, pool.mode),
        "trials": len(run.trials),
        "trials_stopped": sum(t.stopped for t in run.trials),
        "pauses": sum(t.pauses for t in run.trials),
        "reports": sum(t.reports for t in run.trials),
    }


def with_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (one row per pool and method) with ``compute_ratio``: compute ÷ the reference
    (fifo) method's on the same pool."""
    reference = frame[frame["method"] == REFERENCE].set_index("pool")["compute"]
    out = frame.copy()
    out["compute_ratio"] = out["compute"] / out["pool"].map(reference)
    return out


def summary(frame: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Per method: pools, median compute ÷ fifo's (and its range), median regret, pools within
    :data:`REGRET_GOAL_POINTS`, median trials stopped."""
    rows = []
    for method in methods:
        part = frame[frame["method"] == method]
        within = int((part["regret_points"] <= REGRET_GOAL_POINTS).sum())
        rows.append(
            {
                "method": method,
                "pools": len(part),
                "median compute / fifo": float(part["compute_ratio"].median()),
                "min-max compute / fifo": f"{part['compute_ratio'].min():.2f}-"
                f"{part['compute_ratio'].max():.2f}",
                "median regret (points)": float(part["regret_points"].median()),
                f"pools within {REGRET_GOAL_POINTS} points": f"{within}/{len(part)}",
                "median trials stopped": float(part["trials_stopped"].median()),
            }
        )
    return pd.DataFrame(rows)


def goal_lines(table: pd.DataFrame, candidate: str = "extrapolation") -> list[str]:
    """Issue #31's goals for the replay, each with its figure and MET / MISSED."""
    rows = table.set_index("method")
    if candidate not in rows.index or "asha" not in rows.index:
        return []
    mine, asha = rows.loc[candidate], rows.loc["asha"]
    ratio_ok = mine["median compute / fifo"] <= asha["median compute / fifo"]
    regret_ok = mine["median regret (points)"] <= REGRET_GOAL_POINTS
    return [
        f"goal compute <= ASHA's: {candidate} {mine['median compute / fifo']:.2f}x fifo, "
        f"asha {asha['median compute / fifo']:.2f}x (medians over {int(mine['pools'])} pools) "
        f"-> {'MET' if ratio_ok else 'MISSED'}",
        f"goal median regret <= {REGRET_GOAL_POINTS} points: {candidate} "
        f"{mine['median regret (points)']:.2f} -> {'MET' if regret_ok else 'MISSED'}",
    ]


# --- the run ------------------------------------------------------------------------------------
def run_all(
    pools: Sequence[rc.CurvePool],
    methods: Sequence[str],
    concurrency: int,
    with_budget: bool,
    configs: int | None = None,
) -> pd.DataFrame:
    """Every pool through every method (the reference first); one row each."""
    rows = []
    for pool in pools:
        chosen = None if configs is None else list(range(min(configs, pool.n_configs)))
        for method in dict.fromkeys([REFERENCE, *methods]):
            started = time.perf_counter()
            run = replay_pool(pool, build_scheduler(method, pool), concurrency, with_budget, chosen)
            rows.append(
                {
                    "pool": pool.name,
                    "method": method,
                    **figures(pool, run, chosen),
                    "replay_s": time.perf_counter() - started,
                }
            )
    return with_ratios(pd.DataFrame(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=Path, default=rc.POOLS_FILE, help="the curves (.npz)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument(
        "--concurrency", type=int, default=8, help="trials running at once (default 8)"
    )
    parser.add_argument(
        "--no-budget",
        action="store_true",
        help="leave budget_samples out of the trials' configs (an optional key)",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"default: {RESULTS}")
    parser.add_argument("--smoke-test", action="store_true", help="2 pools of 12 configurations")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error(f"--concurrency must be at least 1, but got {args.concurrency}")
    if not args.pools.is_file():
        parser.error(f"--pools: no file {args.pools}; give a file replay_curves.py wrote")
    pools = rc.load_pools(args.pools)
    configs = None
    if args.smoke_test:
        pools, configs = pools[: SMOKE["pools"]], SMOKE["configs"]
    out = args.out or (
        Path(tempfile.mkdtemp(prefix="tune_bs_replay_")) / "results" if args.smoke_test else RESULTS
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        # Ray's ASHA takes np.nanpercentile of a rung where every recorded value is NaN (the
        # diverged curves): a NaN cutoff, which stops no one; numpy's warning says only that
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        frame = run_all(pools, args.methods, args.concurrency, not args.no_budget, configs)
    elapsed = time.perf_counter() - started
    methods = list(dict.fromkeys([REFERENCE, *args.methods]))
    table = summary(frame, methods)
    goals = goal_lines(table)
    size = configs or pools[0].n_configs
    cost = (
        "one unit per point (the curves have no wall times)"
        if pools[0].point_costs is None
        else "the stored wall seconds per point"
    )
    header = [
        "# Replay of public learning curves (benchmarks/replay.py)",
        "",
        f"{len(pools)} pools of {size} configurations from {rc.source_of(args.pools)}; "
        f"{pools[0].reports} reports per configuration; {args.concurrency} trials at a time; "
        f"cost: {cost}; "
        f"budget_samples in the configs: {'no' if args.no_budget else 'yes'}. Regret in points "
        "= 100 x the metric's units (validation cross-entropy in nats for TaskSet) behind the "
        "pool's best final value. Replay time "
        f"{elapsed:.0f} s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs).",
    ]
    from tune_bs.report.formats import render

    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "replay.csv", index=False)
    text = "\n".join([*header, "", render(table, "markdown"), "", *[f"- {g}" for g in goals], ""])
    (out / "replay.md").write_text(text)
    print(text)
    print(f"written: {out / 'replay.csv'}, {out / 'replay.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
