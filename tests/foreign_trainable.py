"""Ray Tune trainables that are not tune-bs's, for the plug-in conformance tests.

It "trains" by arithmetic (a loss that falls with the samples seen), names every key its own way
(:data:`KEYS`), checkpoints a small JSON state with every report, and either asks
:class:`tune_bs.BatchSizeUpdates` for switches after each report (``config["poll"]``) or only
reads its batch size from the config when it starts. Run as a script it is the driver of the
kill-and-restore test: ``python foreign_trainable.py run|restore STORAGE``; with
``FOREIGN_HOLD_AT=N`` in the environment (which Ray passes to its local workers) every trial holds
after its report N until the driver is killed. :class:`ForeignClassTrainable` is the same through
Ray Tune's class API.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ray import tune

from tune_bs import BatchSizeUpdates, ReportKeys
from tune_bs.schedule.switching import Decision

#: The trainable's own names for what the scheduler reads.
KEYS = ReportKeys(
    val_loss="loss",
    samples_seen="seen",
    batch_size="bs",
    wall_time="clock",
    trial_time="own_seconds",
    config_batch_size="train_batch_size",
    config_budget="total_samples",
)
#: Samples per report.
EVERY = 100
#: Environment variable: the report after which every trial holds (see the module docstring).
HOLD_AT = "FOREIGN_HOLD_AT"


def foreign_trainable(config: dict[str, Any]) -> None:
    """Report ``total_samples / EVERY`` times: loss, samples seen, batch size, clocks, pid."""
    state = {"reports": 0, "seen": 0, "own_seconds": 0.0}
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = json.loads((Path(folder) / "state.json").read_text())
    updates = (
        BatchSizeUpdates(config, reports=state["reports"], keys=KEYS)
        if config.get("poll")
        else None
    )
    batch_size = config["train_batch_size"]
    while state["seen"] < config["total_samples"]:
        time.sleep(config.get("sleep_s", 0.0))
        state["seen"] += EVERY
        state["reports"] += 1
        state["own_seconds"] += 0.01 + 0.001 * EVERY / batch_size
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "state.json").write_text(json.dumps(state))
            tune.report(
                {
                    "loss": 1.0 / (1.0 + state["seen"] / 100),
                    "seen": state["seen"],
                    "bs": batch_size,
                    "clock": time.time(),
                    "own_seconds": state["own_seconds"],
                    "pid": os.getpid(),
                },
                checkpoint=tune.Checkpoint.from_directory(folder),
            )
        if state["reports"] == int(os.environ.get(HOLD_AT, "0")):
            time.sleep(600)  # until the test kills the driver
        if updates is not None and updates.after_report():
            batch_size = updates.batch_size


class ForeignClassTrainable(tune.Trainable):
    """The same trainable through Ray Tune's class API: one report per ``step()``, a JSON
    checkpoint with every report (``checkpoint_config.checkpoint_frequency=1``), and with
    ``config["poll"]`` :class:`tune_bs.BatchSizeUpdates` asked at the start of each step."""

    def setup(self, config: dict[str, Any]) -> None:
        self.state = {"reports": 0, "seen": 0, "own_seconds": 0.0}
        self.batch_size = config["train_batch_size"]
        self.updates = (
            BatchSizeUpdates(self.config, keys=KEYS, trial_id=self.trial_id)
            if config.get("poll")
            else None
        )

    def step(self) -> dict[str, Any]:
        if self.updates is not None:
            self.updates.at_report(self.iteration)
            self.batch_size = self.updates.batch_size
        state = self.state
        state["seen"] += EVERY
        state["reports"] += 1
        state["own_seconds"] += 0.01 + 0.001 * EVERY / self.batch_size
        return {
            "loss": 1.0 / (1.0 + state["seen"] / 100),
            "seen": state["seen"],
            "bs": self.batch_size,
            "clock": time.time(),
            "own_seconds": state["own_seconds"],
            "pid": os.getpid(),
            "done": state["seen"] >= self.config["total_samples"],
        }

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        (Path(checkpoint_dir) / "state.json").write_text(json.dumps(self.state))

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        self.state = json.loads((Path(checkpoint_dir) / "state.json").read_text())
        self.batch_size = self.config["train_batch_size"]  # a restart brings the new size


def double_after(*reports: int):
    """A scripted policy: double the batch size after each of ``reports``, nothing else."""

    def policy(history, peers, settings, cache) -> Decision:
        last, n = history[-1], len(history)
        if n in reports:
            return Decision("switch", last.batch_size * 2, 1, "scripted", n)
        return Decision("continue", last.batch_size, last.accumulation_steps, "", n)

    return policy


def _main(command: str, storage: str) -> None:
    """Driver of the kill-and-restore test: a polling trial and one that does not poll, both
    doubling their batch size after reports 2 and 20 of 30 (0.05 s each)."""
    import ray

    from tune_bs import ExtrapolationScheduler, SwitchSettings, logger_callbacks

    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    if command == "run":
        scheduler = ExtrapolationScheduler(
            SwitchSettings(batch_sizes=(8, 16, 32)), keys=KEYS, policy=double_after(2, 20)
        )
        tuner = tune.Tuner(
            foreign_trainable,
            param_space={
                "train_batch_size": 8,
                "total_samples": 3000,
                "sleep_s": 0.05,
                "poll": tune.grid_search([True, False]),
            },
            tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=scheduler),
            run_config=tune.RunConfig(
                name="killed", storage_path=storage, verbose=0, callbacks=logger_callbacks()
            ),
        )
    else:  # as a user resumes: the scheduler comes back from the experiment's tuner.pkl
        tuner = tune.Tuner.restore(
            str(Path(storage) / "killed"), foreign_trainable, resume_unfinished=True
        )
    grid = tuner.fit()
    print(f"errors: {grid.num_errors}")


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
