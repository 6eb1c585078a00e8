"""A class trainable (``tune.Trainable``) under tune-bs's scheduler, its switches made by restart.

The MLP of ``digits_inplace.py`` on scikit-learn's handwritten digits, written as Ray Tune's
class API: ``setup`` builds the model at ``config["batch_size"]``, each ``step`` trains one epoch
and returns the results, ``save_checkpoint`` / ``load_checkpoint`` keep the model, the
optimiser, the epoch and the clock, and ``CheckpointConfig(checkpoint_frequency=1)`` makes Tune
checkpoint every result. Tune searches the learning rate; :class:`tune_bs.ExtrapolationScheduler`
chooses each trial's batch size and stops hopeless trials.

**This example switches by restart**, the path of a class trainable that does not ask for its
switches. A class trainable can also take them in place: create
:class:`tune_bs.BatchSizeUpdates` in ``setup`` on ``self.config`` with
``trial_id=self.trial_id``, and call its ``at_report(self.iteration)`` at the start of every
``step()`` (docs/guide/own-tune-code.md). Here the scheduler is built with
``SwitchSettings(switch_via="restart")``: to switch a trial it pauses it, writes the new size into
its config, and Tune starts the trainable again (``setup`` with the new config, then
``load_checkpoint`` of the report the switch was decided on) — a second or two of start-up per
switch, which the scheduler weighs before switching. (With the default ``switch_via="inplace"``
the scheduler would notice at the trial's next report that the size did not change and switch it
by restart from there, one report later.) The run ends with one line per trial: its learning
rate, the epochs it ran and whether it was stopped, its batch-size schedule, and how many times
it was restarted to switch (a report right after a restart has ``iterations_since_restore``
1).

Timing: with ``TUNE_BS_SIMULATED_CLOCK="step_s,per_sample_s,eval_s"`` set, the clock is a cost
model (:mod:`tune_bs.train.clock`) and the scheduler decides the same on every run; otherwise it is
real time (an epoch of this MLP takes 0.1–0.3 s, too short for a restart to pay, so on real time
the trials keep their size).

Run: ``python examples/digits_class_api.py`` (``--smoke-test``: 2 trials of 12 epochs).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits_inplace import (
    BATCH_SIZES,
    epoch_reports,
    evaluate,
    load_data,
    make_model,
    schedule,
)

import tune_bs
from tune_bs.train.clock import clock_from_env

STATE_FILE = "state.pt"


class DigitsTrainable(tune.Trainable):
    """One trial: one epoch per ``step`` at ``config["batch_size"]``, read in ``setup``."""

    def setup(self, config: dict[str, Any], data: dict[str, torch.Tensor]) -> None:
        logging.getLogger("ray.train").setLevel(logging.WARNING)
        torch.set_num_threads(1)
        torch.manual_seed(config["seed"])
        self.data = data
        self.model = make_model(config["hidden"])
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config["lr"], momentum=0.9)
        self.clock = clock_from_env()  # real time, or the cost model of TUNE_BS_SIMULATED_CLOCK
        self.batch_size = int(config["batch_size"])  # a switch arrives as a restart
        self.epoch, self.trial_time_s = 0, 0.0
        self.train_set = TensorDataset(data["x_train"], data["y_train"])

    def step(self) -> dict[str, Any]:
        started = self.clock.now()
        shuffle = torch.Generator().manual_seed(self.config["seed"] * 10_000 + self.epoch)
        for x, y in DataLoader(
            self.train_set, batch_size=self.batch_size, shuffle=True, generator=shuffle
        ):
            self.optimizer.zero_grad()
            F.cross_entropy(self.model(x), y).backward()
            self.optimizer.step()
            self.clock.charge_step(len(x))
        val_loss, val_acc = evaluate(self.model, self.data)
        self.clock.charge_eval()
        self.trial_time_s += self.clock.now() - started
        self.epoch += 1
        samples = self.epoch * len(self.train_set)
        return {
            "val_loss": val_loss,
            "val_acc": val_acc,
            "samples_seen": samples,
            "batch_size": self.batch_size,
            "trial_time_s": self.trial_time_s,
            "wall_time_s": self.clock.now(),
            "pid": os.getpid(),
            "done": samples >= self.config["budget_samples"],
        }

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "trial_time_s": self.trial_time_s,
            "clock": self.clock.state(),
        }
        torch.save(state, Path(checkpoint_dir) / STATE_FILE)

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        state = torch.load(Path(checkpoint_dir) / STATE_FILE, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.trial_time_s = state["epoch"], state["trial_time_s"]
        self.clock.restore(state["clock"])


def print_trials(grid: tune.ResultGrid, epochs: int) -> None:
    """One line per trial: learning rate, epochs run (stopped or not), batch-size schedule,
    restarts that switched it, last validation scores."""
    for result in sorted(grid, key=lambda r: r.config["lr"]):
        frame, rows = epoch_reports(result)
        ran = int(frame["training_iteration"].iloc[-1])
        fate = f"stopped after epoch {ran}" if ran < epochs else "ran to the end"
        restarts = int(
            ((frame["iterations_since_restore"] == 1) & (frame["training_iteration"] > 1)).sum()
        )
        print(
            f"trial lr={result.config['lr']:<6g} epochs {ran:>2}/{epochs} {fate:<22} "
            f"batch-size schedule {schedule(rows):<24} restarts {restarts}  "
            f"val_loss {result.metrics['val_loss']:.4f}  val_acc {result.metrics['val_acc']:.3f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="2 short trials")
    parser.add_argument("--storage", default=None, help="results folder (default: Ray's)")
    parser.add_argument(
        "--address", default="local", help="Ray cluster address (default: a new local Ray)"
    )
    args = parser.parse_args(argv)
    data = load_data()
    n_train = len(data["y_train"])
    epochs, lrs = (12, [0.05, 0.1]) if args.smoke_test else (40, [0.02, 0.05, 0.1, 0.2])
    ray.init(
        address=args.address,
        include_dashboard=False,
        num_cpus=2 if args.smoke_test and args.address == "local" else None,
    )
    settings = tune_bs.SwitchSettings(batch_sizes=BATCH_SIZES, switch_via="restart")
    scheduler = tune_bs.ExtrapolationScheduler(settings)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(DigitsTrainable, data=data), {"cpu": 1}),
        param_space={
            "batch_size": 16,
            "lr": tune.grid_search(lrs),
            "hidden": 64,
            "seed": 0,
            "budget_samples": epochs * n_train,
        },
        tune_config=tune.TuneConfig(metric="val_loss", mode="min", scheduler=scheduler),
        run_config=tune.RunConfig(
            name="digits-class-api",
            storage_path=args.storage,
            verbose=0,
            callbacks=tune_bs.logger_callbacks(),
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1),
        ),
    )
    grid = tuner.fit()
    print(f"{len(grid)} trials, {grid.num_errors} errors; {scheduler.debug_string()}")
    print_trials(grid, epochs)


if __name__ == "__main__":
    main()
