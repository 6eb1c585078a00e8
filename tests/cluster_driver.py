"""A driver for the cluster fault tests that need the Tune API rather than the command line.

Run as ``python tests/cluster_driver.py SCENARIO GCS_ADDRESS STORAGE SUMMARY.json`` with the
cluster's environment (``LocalCluster.env()``: token authentication and the object store are
read when Ray is imported, so a driver of that cluster is a process of its own). It runs one
experiment on the cluster with the extrapolation scheduler switching restart-free and writes a
JSON summary (the scheduler's status line, the number of errored trials, the scenario's notes):

- ``boardloss``: two trials switch between 8 and 16 after every third report (a scripted
  policy); once two switches went through the switch board, the board actor is killed;
- ``oom``: seven trials run out of memory (``tests/oom_faults.py``): in the first report
  interval of each strategy, during evaluation, after a switch; a scripted policy asks every
  trial for batch size 16 from its second report on.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from typing import Any

import oom_faults

from tune_bs.schedule.switching import Decision

DATASET = "ItalyPowerDemand"
BOARDLOSS_REPORTS, BOARDLOSS_EVERY = 24, 100
OOM_REPORTS, OOM_EVERY = 8, 64
OOM_FAULTS = [
    *(
        {"at": "first", "strategy": s}
        for s in ("fixed", "cluster_count", "stratified", "accumulate", "weighted")
    ),
    {"at": "eval", "strategy": "fixed"},
    {"at": "train", "limit": 16, "strategy": "fixed"},
]


def every_third_report(history, peers, settings, cache) -> Decision:
    """Switch between 8 and 16 after every third report."""
    n, last = len(history), history[-1]
    if n % 3 == 0:
        return Decision("switch", 24 - last.batch_size, 1, "scripted", n)
    return Decision("continue", last.batch_size, 1, "", n)


def up_to_16(history, peers, settings, cache) -> Decision:
    """Ask for batch size 16 on every report from the second on (whatever the candidates)."""
    n, last = len(history), history[-1]
    if n >= 2 and last.batch_size < 16:
        return Decision("switch", 16, 1, "scripted", n)
    return Decision("continue", last.batch_size, 1, "", n)


def switches(scheduler: Any) -> int:
    found = re.search(r"(\d+) switches", scheduler.debug_string())
    return int(found.group(1)) if found else 0


def run(scenario: str, address: str, storage: str) -> dict[str, Any]:
    import cloudpickle
    import ray
    from ray import tune

    from tune_bs.data import load_dataset
    from tune_bs.schedule.extrapolation import ExtrapolationScheduler
    from tune_bs.schedule.schedulers import logger_callbacks
    from tune_bs.schedule.switch_board import BOARD_NAME
    from tune_bs.schedule.switching import SwitchSettings
    from tune_bs.search.trainable import train_trial

    ray.init(address=address, include_dashboard=False, configure_logging=False, log_to_driver=False)
    data = load_dataset(name=DATASET)
    notes: dict[str, Any] = {}
    if scenario == "boardloss":
        scheduler = ExtrapolationScheduler(
            SwitchSettings(batch_sizes=(8, 16)), policy=every_third_report
        )
        trainable = tune.with_parameters(train_trial, data=data)
        space = {
            "batch_size": 8,
            "hidden": 8,
            "lr": tune.grid_search([1e-3, 3e-3]),
            "budget_samples": BOARDLOSS_REPORTS * BOARDLOSS_EVERY,
            "report_every": BOARDLOSS_EVERY,
        }

        def kill_board() -> None:  # once two switches went through it
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and switches(scheduler) < 2:
                time.sleep(0.05)
            notes["killed_at"] = time.time()
            notes["switches_before"] = switches(scheduler)
            ray.kill(ray.get_actor(BOARD_NAME), no_restart=True)

        threading.Thread(target=kill_board, daemon=True).start()
    elif scenario == "oom":
        cloudpickle.register_pickle_by_value(oom_faults)  # the workers cannot import tests/
        scheduler = ExtrapolationScheduler(SwitchSettings(batch_sizes=(4, 8, 16)), policy=up_to_16)
        trainable = tune.with_parameters(oom_faults.train_with_oom, data=data)
        space = {
            "batch_size": 8,
            "hidden": 8,
            "_oom": tune.grid_search(OOM_FAULTS),
            "strategy": tune.sample_from(lambda spec: spec.config["_oom"]["strategy"]),
            "budget_samples": OOM_REPORTS * OOM_EVERY,
            "report_every": OOM_EVERY,
        }
    else:
        raise SystemExit(f"unknown scenario {scenario!r}; give boardloss or oom")
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space=space,
        tune_config=tune.TuneConfig(
            metric="val_loss", mode="min", scheduler=scheduler, reuse_actors=True
        ),
        run_config=tune.RunConfig(
            name=scenario,
            storage_path=storage,
            verbose=0,
            callbacks=logger_callbacks(),
            failure_config=tune.FailureConfig(max_failures=2),
        ),
    )
    grid = tuner.fit()
    return {
        "debug": scheduler.debug_string(),
        "errors": len(grid.errors),
        "trials": len(grid),
        **notes,
    }


if __name__ == "__main__":
    scenario, address, storage, summary = sys.argv[1:5]
    with open(summary, "w") as out:
        json.dump(run(scenario, address, storage), out)
