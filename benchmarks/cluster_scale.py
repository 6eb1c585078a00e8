"""Benchmark: the extrapolation scheduler at scale on a multi-node cluster with object storage.

A run of ``--trials`` (64) trials x ``--reports`` (20) reports on the local cluster of
``benchmarks/local_cluster.py`` (a head without CPUs, ``--workers`` worker nodes, an S3 server
as ``--storage s3://...``), with the extrapolation scheduler switching restart-free through the
switch board (the defaults of ``search_spaces/switching.yaml``: candidates 8, 16, 32, exploration
on). The trials are the project's trainable on ItalyPowerDemand (an 8-wide FCN, 100 samples per
report), half starting at batch size 8 and half at 16, each pair with its own learning rate (a
random search), so peers inform each other in pairs and every trial explores a second size. The
experiment keeps every checkpoint and saves its state every ``SNAPSHOT_PERIOD_S["remote"]``
seconds, as ``tune-bs run`` does with remote storage (``--snapshot-s``: another period).

Measured, per result:

- **scheduler** — wall milliseconds of ``ExtrapolationScheduler.on_trial_result`` in the driver
  (record the result, peers, one curve fit, the policy's decision, and for a switch the blocking
  post to the board actor): what the driver spends before Tune hands the trial its next
  interval;
- **board** — wall milliseconds of the trainable's ``BoardClient.take`` after each report (one
  actor call from a worker node to the board on the driver's node), timed inside the trials;
- **end to end** = the two added (the median of the sum is printed as the sum of the medians of
  each, an upper bound of their overlap-free total), against the goal of <= 2 ms median per
  result.

Printed: the run's wall time and errors, the number of results and switches, then median / p90
/ p99 / max of each measurement and ``goal_met=<true|false>``. No figure is asserted anywhere;
the numbers depend on the machine (see ``benchmarks/results/cluster_scale.txt``).

Usage: ``python benchmarks/cluster_scale.py [--trials 64] [--reports 20] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from local_cluster import LocalCluster

GOAL_MS = 2.0


def timed_trainable(timings_dir: str) -> Any:
    """The project's trainable with ``BoardClient.take`` timed; each trial writes its timings
    (milliseconds) to ``timings_dir/<trial id>.json`` at the end (same machine: one folder)."""

    def train(config: dict[str, Any], data: Any) -> None:
        from ray import tune

        from tune_bs.schedule import switch_board
        from tune_bs.search import trainable

        take = switch_board.BoardClient.take
        spent: list[float] = []

        def timed_take(self: Any, reports: int) -> Any:
            started = time.perf_counter()
            try:
                return take(self, reports)
            finally:
                spent.append((time.perf_counter() - started) * 1e3)

        switch_board.BoardClient.take = timed_take
        try:
            trainable.train_trial(config, data)
        finally:
            switch_board.BoardClient.take = take
            trial_id = tune.get_context().get_trial_id()
            Path(timings_dir, f"{trial_id}.json").write_text(json.dumps(spent))

    return train


def quantiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return (
        f"median {statistics.median(ordered):.3f} ms, p90 {at(0.9):.3f}, p99 {at(0.99):.3f}, "
        f"max {ordered[-1]:.3f} (n={len(ordered)})"
    )


def run(cluster: LocalCluster, trials: int, reports: int, snapshot_s: str) -> dict[str, Any]:
    os.environ.update(cluster.cluster_env())  # before Ray is imported: token auth, S3
    import ray
    from ray import tune

    from tune_bs.data import load_dataset

    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = snapshot_s  # as `tune-bs run` does by default
    from tune_bs.schedule.extrapolation import ExtrapolationScheduler
    from tune_bs.schedule.schedulers import logger_callbacks
    from tune_bs.schedule.switch_courier import SwitchCourier
    from tune_bs.schedule.switching import SwitchSettings

    decision_ms: list[float] = []
    notice_ms: list[float] = []

    class TimedScheduler(ExtrapolationScheduler):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            started = time.perf_counter()
            try:
                return super().on_trial_result(tune_controller, trial, result)
            finally:
                decision_ms.append((time.perf_counter() - started) * 1e3)

    notify = SwitchCourier.notify

    def timed_notify(self: Any, trial: Any, report_index: int) -> None:
        started = time.perf_counter()
        try:
            notify(self, trial, report_index)
        finally:
            notice_ms.append((time.perf_counter() - started) * 1e3)

    SwitchCourier.notify = timed_notify  # the board notice of a result that switches nothing

    ray.init(
        address=cluster.gcs_address,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=False,
    )
    scheduler = TimedScheduler(SwitchSettings(batch_sizes=(8, 16, 32), segment_reports=5))
    timings = tempfile.mkdtemp(prefix="tbs-scale-")
    every = 100
    trainable = tune.with_parameters(
        timed_trainable(timings), data=load_dataset("ItalyPowerDemand")
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={
            "batch_size": tune.grid_search([8, 16]),
            "lr": tune.loguniform(3e-4, 3e-3),
            "hidden": 8,
            "budget_samples": reports * every,
            "report_every": every,
        },
        tune_config=tune.TuneConfig(
            metric="val_loss",
            mode="min",
            scheduler=scheduler,
            num_samples=trials // 2,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None),  # as `tune-bs run`
            name="scale",
            storage_path=cluster.storage("scale"),
            verbose=0,
            callbacks=logger_callbacks(),
            failure_config=tune.FailureConfig(max_failures=2),
        ),
    )
    started = time.monotonic()
    grid = tuner.fit()
    wall = time.monotonic() - started
    board_ms = [v for f in Path(timings).glob("*.json") for v in json.loads(f.read_text())]
    results = sum(len(r.metrics_dataframe) for r in grid if r.metrics_dataframe is not None)
    ray.shutdown()
    return {
        "wall_s": wall,
        "errors": len(grid.errors),
        "trials": len(grid),
        "results": results,
        "scheduler_ms": decision_ms,
        "notice_ms": notice_ms,
        "board_ms": board_ms,
        "status": scheduler.debug_string(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--reports", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--snapshot-s",
        default=None,
        help="seconds between experiment-state saves (TUNE_GLOBAL_CHECKPOINT_S; "
        "default: tune-bs's for remote storage; 'auto': Tune's own)",
    )
    args = parser.parse_args(argv)
    from tune_bs.search.experiment import SNAPSHOT_PERIOD_S

    snapshot_s = args.snapshot_s or str(SNAPSHOT_PERIOD_S["remote"])
    with LocalCluster(workers=args.workers, cpus_per_worker=1) as cluster:
        out = run(cluster, args.trials, args.reports, snapshot_s)
    scheduler_ms, board_ms = out["scheduler_ms"], out["board_ms"]
    end_to_end = statistics.median(scheduler_ms) + statistics.median(board_ms)
    print(
        f"cluster: head (0 CPUs) + {args.workers} workers x 1 CPU, S3 storage (moto); "
        f"{os.cpu_count()} cores on this machine"
    )
    print(
        f"run: {out['trials']} trials x {args.reports} reports, {out['wall_s']:.0f} s wall, "
        f"{out['errors']} errors, {out['results']} results; {out['status']}"
    )
    print(f"scheduler per result (driver, on_trial_result): {quantiles(scheduler_ms)}")
    print(f"  of which the board notice (no switch): {quantiles(out['notice_ms'])}")
    print(f"board round trip per result (trainable, BoardClient.take): {quantiles(board_ms)}")
    print(
        f"end to end per result (median scheduler + median board): {end_to_end:.3f} ms "
        f"(goal <= {GOAL_MS} ms)"
    )
    print(f"goal_met={'true' if end_to_end <= GOAL_MS else 'false'}")
    return 0 if out["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
