"""Benchmark: the extrapolation scheduler's overhead, per result and per switch.

Two measurements:

1. **Decision time** — wall milliseconds of one ``ExtrapolationScheduler.on_trial_result`` call
   (record the result, build the peers, one curve fit of the new report, the policy's decision),
   called directly with stub trials (no ``ray.init``), for histories of ``--points`` reports
   (default 10, 25, 50, 100) and populations of ``--trials`` trials (default 8, 16, 32, 64).
   A population: ``N`` trials of one peer group (configs differ only in ``batch_size`` and
   ``seed``), trial ``i`` at batch size ``(8, 16, 32, 64)[i % 4]``, its ``val_loss`` the
   simulator's curve (``tune_bs.schedule.simulator``, default large-batch model, observation noise
   σ = 0.006) plus noise. Every trial reports every ``T`` seconds of its own training
   (``T`` = the best fixed size's time to target / 100), so results arrive round-robin
   (trial 1's report k, trial 2's report k, …) and ``timestamp`` agrees with that order. All
   reports before the ``P``-th are fed untimed (the scheduler's fit cache is as warm as in a
   real run); the calls that bring each trial to ``P`` reports are timed. Decisions are counted
   but not carried out (every trial keeps reporting at its size: the population never shrinks,
   the worst case for the call); a restart-free switch is posted to an in-process
   ``SwitchBoard`` (no Ray: the blocking actor call it costs in a real run is timed in part 2).
   Populations per setting: enough for at least ``--min-calls`` (30) timed calls, and at
   least ``--repeats``. Printed: median and p90 per (points, trials),
   the action mix of the timed calls, whether the issue's goal (the median of the settings'
   medians ≤ 1 ms) is met and how many settings are above it, and
   ``decision_ms_median=<median over the settings' medians>``.

2. **Switch cost on local Ray** (skipped with ``--no-ray``) — a real Tune experiment:
   ``ray.init(address="local", num_cpus=2)``, the project's trainable built as
   ``tune_bs.search.experiment`` builds it (``resourced_trainable`` / ``tune_param_space`` of a
   parsed search space: synthetic data, an 8-wide FCN, 1 CPU per trial), two trials (batch sizes 8
   and 16), ``reuse_actors=True``, storage in a temporary folder. The scheduler gets a scripted
   ``policy`` that switches between 8 and 16 after every ``--switch-every`` (3rd) report and
   continues otherwise. Per switch, from the trial's result rows: the seconds of the report
   interval that straddles it (the batch size differs from the previous row) less the interval's
   samples at the median seconds per sample of that trial's intervals at the new batch size
   without a switch. The clock is the driver's arrival time of each result (a Tune callback;
   Ray's ``timestamp`` has whole seconds only); the same on ``time_total_s`` (the trial's own
   clock, which misses the time a paused trial waits) is shown alongside. One experiment per
   switch path (``SwitchSettings.switch_via``): ``"inplace"`` (the trial takes the switch from
   the switch-board actor and trains on) and ``"restart"`` (pause, ``set_config``, restore).
   Also printed: how many scripted switches the rows show, the median interval without a
   switch, and the driver's round trip to the switch-board actor. Printed last:
   ``switch_cost_s[<path>]=<median excess seconds>`` (negative values: a cost below the noise
   of the report intervals).

Usage: ``python benchmarks/scheduler_overhead.py [--quick] [--no-ray] [--points 10 50]
[--trials 8 64] [--repeats R] [--profile]``; ``--quick`` is a seconds-long check (tests).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import logging
import math
import os
import pstats
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from ray.tune.schedulers import TrialScheduler

from tune_bs import metrics as m
from tune_bs.schedule.extrapolation import ExtrapolationScheduler
from tune_bs.schedule.simulator import LargeBatchModel, best_fixed, initial_state, observe, train
from tune_bs.schedule.switching import Decision, FitCache, Peer, Report, SwitchSettings
from tune_bs.schedule.switching.throughput import cost_model, switch_costs
from tune_bs.testing import StubController, StubTrial

SIZES = (8, 16, 32, 64)
MODEL = LargeBatchModel(obs_noise=0.006)
GOAL_MS = 1.0
#: Driver-side arrival time of a result (seconds, ``time.time()``), added to the collected rows.
WALL = "_arrival_s"
ACTIONS = {
    TrialScheduler.CONTINUE: "continue",
    TrialScheduler.PAUSE: "switch",
    TrialScheduler.STOP: "stop",
}


# --- 1. decision time -----------------------------------------------------------------------


def report_period() -> float:
    """Seconds of a trial's own training between two reports: 1/100 of the best fixed time."""
    return best_fixed(MODEL, SIZES)[1] / 100.0


def trial_results(
    index: int, batch_size: int, points: int, seed: int, period: float
) -> list[dict[str, Any]]:
    """Tune results of one simulated trial: a report every ``period`` seconds of training."""
    rng = np.random.default_rng([seed, index])
    state = initial_state(MODEL, batch_size)
    per_report = period / MODEL.seconds_per_sample(batch_size)
    rows = []
    for k in range(points):
        state = train(MODEL, state, per_report)
        rows.append(
            {
                m.SAMPLES_SEEN: state.samples_seen,
                m.VAL_LOSS: observe(MODEL, state.loss, rng),
                m.BATCH_SIZE: batch_size,
                m.ACCUMULATION_STEPS: 1,
                m.TIME_TOTAL_S: state.time_s,
                m.WALL_TIME_S: state.time_s + 1e-3 * index,  # round-robin order within a round
                m.TRAINING_ITERATION: k + 1,
            }
        )
    return rows


def time_population(
    points: int, n_trials: int, seed: int, period: float, profiler: cProfile.Profile | None = None
) -> tuple[list[float], Counter[str]]:
    """Milliseconds of the calls that bring each of ``n_trials`` trials to ``points`` reports."""
    board = _local_board()
    sched = make_scheduler(SIZES, board=board)
    sched.set_search_properties(m.VAL_LOSS, "min")
    # one budget for all (as tune_param_space sets it), beyond 150 reports of the fastest size
    budget = 150 * period / min(MODEL.seconds_per_sample(b) for b in SIZES)
    trials = [
        StubTrial(
            f"t{i:03d}",
            {m.BATCH_SIZE: SIZES[i % len(SIZES)], "lr": 1e-3, "seed": i, "budget_samples": budget},
        )
        for i in range(n_trials)
    ]
    ctl = StubController(*trials)
    for t in trials:
        sched.on_trial_add(ctl, t)
    rows = [
        trial_results(i, t.config[m.BATCH_SIZE], points, seed, period) for i, t in enumerate(trials)
    ]
    times: list[float] = []
    actions: Counter[str] = Counter()
    for k in range(points):
        timed = k == points - 1
        for t, results in zip(trials, rows, strict=True):
            if not timed:
                sched.on_trial_result(ctl, t, results[k])
            else:
                if profiler is not None:
                    profiler.enable()
                start = time.perf_counter()
                out = sched.on_trial_result(ctl, t, results[k])
                elapsed = time.perf_counter() - start
                if profiler is not None:
                    profiler.disable()
                times.append(1e3 * elapsed)
                actions[ACTIONS.get(out, out)] += 1
            t.last_result = results[k]
    return times, actions


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def decision_times(
    points: Sequence[int],
    trials: Sequence[int],
    repeats: int,
    min_calls: int,
    profiler: cProfile.Profile | None = None,
) -> list[dict[str, Any]]:
    """One row per (points, trials): timed calls, median / p90 ms, action mix."""
    period = report_period()
    out = []
    for p, n in itertools.product(points, trials):
        populations = max(repeats, math.ceil(min_calls / n))
        times: list[float] = []
        actions: Counter[str] = Counter()
        for seed in range(populations):
            t, a = time_population(p, n, seed, period, profiler)
            times += t
            actions += a
        out.append(
            {
                "points": p,
                "trials": n,
                "calls": len(times),
                "median_ms": statistics.median(times),
                "p90_ms": percentile(times, 90),
                "actions": actions,
            }
        )
        row = out[-1]
        print(
            f"| {p:>6} | {n:>6} | {row['calls']:>5} | {row['median_ms']:>9.3f} | "
            f"{row['p90_ms']:>9.3f} | "
            + "/".join(str(actions[a]) for a in ("continue", "switch", "stop"))
            + " |",
            flush=True,
        )
    return out


# --- 2. switch cost on local Ray ----------------------------------------------------------------
def switch_excess(
    rows: Sequence[Mapping[str, Any]], clock: str = WALL, own: str = m.TIME_TOTAL_S
) -> list[float]:
    """Seconds of every switch of one trial, measured by the policy's own estimator
    (:func:`tune_bs.schedule.switching.throughput.switch_costs`, the cost it charges a switch).

    ``rows``: the trial's results in iteration order (``batch_size``, ``samples_seen``, the trial's
    own clock ``own`` and the shared clock ``clock``). With ``clock == own`` only the trial's own
    clock is read (its excess over the interval's training time at the new size's pace); no
    entry for a switch to a size whose pace is unknown.
    """
    reports = [
        Report(
            float(r[m.SAMPLES_SEEN]),
            0.0,
            int(r[m.BATCH_SIZE]),
            float(r[own]),
            wall_time=None if clock == own else float(r[clock]),
        )
        for r in rows
    ]
    memo = FitCache()
    return switch_costs(reports, cost_model([reports], memo), memo)


def scripted_policy(every: int) -> Callable[..., Decision]:
    """A policy with ``decide``'s signature: after every ``every``-th report switch to the other
    of the two batch sizes of the settings; otherwise continue."""

    def policy(
        history: Sequence[Report],
        peers: Mapping[str, Peer],
        settings: SwitchSettings,
        cache: FitCache,
    ) -> Decision:
        last, n = history[-1], len(history)
        if n % every == 0:
            other = next(b for b in settings.batch_sizes if b != last.batch_size)
            return Decision("switch", other, 1, "scripted", n)
        return Decision("continue", last.batch_size, last.accumulation_steps, "", n)

    return policy


#: The switch paths of ``SwitchSettings.switch_via``.
SWITCH_PATHS = ("inplace", "restart")


def make_scheduler(
    sizes: Sequence[int], path: str = "inplace", **kwargs: Any
) -> ExtrapolationScheduler:
    """The scheduler over ``sizes`` with default settings, switching by ``path``."""
    return ExtrapolationScheduler(
        SwitchSettings(batch_sizes=tuple(sizes), switch_via=path), **kwargs
    )


def _local_board() -> Any:
    """An in-process switch board for the stub runs (no Ray)."""
    from tune_bs.schedule.switch_board import SwitchBoard

    return SwitchBoard()


def run_switch_experiment(
    path: str, storage: str, reports: int, every: int
) -> list[list[dict[str, Any]]]:
    """Run two trials under the scripted policy; their result rows (with arrival times)."""
    from ray import tune

    from tune_bs.schedule.schedulers import logger_callbacks
    from tune_bs.search.experiment import load_space_data, resourced_trainable, tune_param_space
    from tune_bs.search.space import parse_space

    arrivals: dict[str, dict[int, dict[str, Any]]] = {}

    class Arrivals(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            row = {**result, WALL: time.time()}
            arrivals.setdefault(trial.trial_id, {})[int(result[m.TRAINING_ITERATION])] = row

    space = parse_space(
        {
            "name": f"switch-cost-{path}",
            "dataset": {"name": "synthetic", "n_series": 200, "length": 64},
            "metric": m.VAL_LOSS,
            "budget": {"samples": 800 * reports, "reports": reports},
            "search": {"name": "grid"},
            "resources": {"cpu": 1, "gpu": 0},
            "param_space": {
                "batch_size": {"type": "categorical", "choices": [8, 16]},
                "hidden": 8,
                "encoder": "fcn",
            },
        }
    )
    data = load_space_data(space)
    scheduler = make_scheduler((8, 16), path, policy=scripted_policy(every))
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    tuner = tune.Tuner(
        resourced_trainable(space, data),
        param_space=tune_param_space(space, data),
        tune_config=tune.TuneConfig(
            metric=m.VAL_LOSS, mode="min", scheduler=scheduler, reuse_actors=True
        ),
        run_config=tune.RunConfig(
            name=space.name,
            storage_path=storage,
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=4),
            callbacks=[*logger_callbacks(), Arrivals()],
        ),
    )
    grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"{len(grid.errors)} trial(s) failed: {grid.errors[0]}")
    return [[rows[i] for i in sorted(rows)] for rows in arrivals.values()]


def measure_switch_costs(reports: int, every: int) -> dict[str, list[float]]:
    """Per path: the wall excess of every switch; prints a table row per path."""
    import ray

    out: dict[str, list[float]] = {}
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
    )
    try:
        for path in SWITCH_PATHS:
            label = path
            try:
                with tempfile.TemporaryDirectory() as storage:
                    started = time.perf_counter()
                    trials = run_switch_experiment(path, storage, reports, every)
                    took = time.perf_counter() - started
            except Exception as exc:  # report a broken path, measure the others
                print(f"| {label} | failed: {type(exc).__name__}: {str(exc)[:200]} |", flush=True)
                out[path] = []
                continue
            wall = [x for rows in trials for x in switch_excess(rows, WALL)]
            own = [x for rows in trials for x in switch_excess(rows, m.TIME_TOTAL_S)]
            steady = [
                float(b[WALL]) - float(a[WALL])
                for rows in trials
                for a, b in itertools.pairwise(rows)
                if a[m.BATCH_SIZE] == b[m.BATCH_SIZE]
            ]
            seen = sum(
                a[m.BATCH_SIZE] != b[m.BATCH_SIZE]
                for rows in trials
                for a, b in itertools.pairwise(rows)
            )
            scripted = len(trials) * len(range(every, reports, every))
            out[path] = wall
            print(
                f"| {label} | {len(trials)} | {sum(len(r) for r in trials)} | "
                f"{seen}/{scripted} | {_median(wall):.3f} | {_median(own):.3f} | "
                f"{_median(steady):.3f} | {took:.1f} |",
                flush=True,
            )
            if not seen:
                print(f"WARNING: no {path} switch took effect", flush=True)
        if "inplace" in out:
            print(
                f"switch board round trip from the driver (blocking actor call): "
                f"{board_round_trip_ms():.2f} ms median"
            )
    finally:
        ray.shutdown()
    return out


def reference_fit_ms(calls: int = 200) -> float:
    """Median milliseconds of one cold ``fit_curve`` on a fixed noisy 25-point curve: how fast
    this machine is right now (the figures of a shared machine vary between runs)."""
    from tune_bs.schedule.curves import fit_curve

    rng = np.random.default_rng(0)
    x = np.arange(1, 26) * 100.0
    y = 1.0 + 30.0 * (x + 300.0) ** -0.7 + rng.normal(0.0, 0.01, x.size)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fit_curve(x, y)
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def board_round_trip_ms(calls: int = 50) -> float:
    """Median milliseconds of one blocking call to the switch-board actor (needs Ray up)."""
    import ray

    from tune_bs.schedule.switch_board import board_actor

    board = board_actor()
    times = []
    for i in range(calls):
        start = time.perf_counter()
        ray.get(board.take.remote("benchmark", i))
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


# --- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--points",
        type=int,
        nargs="+",
        default=[10, 25, 50, 100],
        help="reports per trial at the timed call",
    )
    parser.add_argument(
        "--trials", type=int, nargs="+", default=[8, 16, 32, 64], help="trials in the population"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="populations per setting (raised to reach --min-calls)",
    )
    parser.add_argument("--min-calls", type=int, default=30, help="timed calls per setting")
    parser.add_argument("--no-ray", action="store_true", help="skip the switch cost on Ray")
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds; tests)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the timed calls; print the top functions"
    )
    parser.add_argument("--reports", type=int, default=15, help="Ray part: reports per trial")
    parser.add_argument(
        "--switch-every",
        type=int,
        default=3,
        help="Ray part: the scripted policy switches after every k-th report",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.trials, args.min_calls, args.reports = [10, 12], [4, 8], 8, 7
    started = time.perf_counter()

    print(
        f"## decision time: ExtrapolationScheduler.on_trial_result, batch sizes {SIZES}, "
        f"report every {report_period():.3g}s of training, ms per call"
    )
    print("| points | trials | calls | median ms |    p90 ms | continue/switch/stop |")
    print("|---|---|---|---|---|---|")
    profiler = cProfile.Profile() if args.profile else None
    # the stub trials never take a switch, so the scheduler warns once per trial that it falls
    # back to restarts (the path stays timed); the warnings are not figures: keep them out
    logging.getLogger("tune_bs.schedule.extrapolation").setLevel(logging.ERROR)
    rows = decision_times(args.points, args.trials, args.repeats, args.min_calls, profiler)
    import ray

    if ray.is_initialized():  # the stub runs must not reach Ray (a switch post would)
        print("WARNING: Ray was started during the stub runs; the times include Ray calls")
    medians = [r["median_ms"] for r in rows]
    over = [r for r in rows if r["median_ms"] > GOAL_MS]
    overall = statistics.median(medians)
    print(
        f"machine reference: one cold fit_curve of 25 points takes {reference_fit_ms():.3f} ms "
        "here now (the same code measured 0.9-1.1 ms on a quiet machine)"
    )
    verdict = "met" if overall <= GOAL_MS else "NOT met"
    print(
        f"goal: decision_ms_median <= {GOAL_MS:g} ms: {verdict} ({overall:.3f} ms, the median "
        f"of the settings' medians); {len(over)}/{len(rows)} settings above {GOAL_MS:g} ms, "
        f"range {min(medians):.3f}-{max(medians):.3f} ms"
    )
    if profiler is not None:
        print("\n## cProfile of the timed calls (top 15 by own time)")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)

    costs: dict[str, list[float]] = {}
    if not args.no_ray:
        print(
            f"\n## switch cost on local Ray: 2 trials (8, 16), {args.reports} reports, a "
            f"switch after reports {args.switch_every}, {2 * args.switch_every}, ...; "
            "excess seconds per switch (negative: below the interval noise)"
        )
        print(
            "| path | trials | reports | switches seen/scripted | median excess (arrival) | "
            "median excess (time_total_s) | median steady interval | run s |"
        )
        print("|---|---|---|---|---|---|---|---|")
        costs = measure_switch_costs(args.reports, args.switch_every)

    print(f"\n(elapsed {time.perf_counter() - started:.1f}s)")
    for path, values in costs.items():
        print(f"switch_cost_s[{path}]={_median(values):.3f}")
    print(f"decision_ms_median={overall:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
