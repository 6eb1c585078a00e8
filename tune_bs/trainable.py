"""The Ray Tune function trainable: one trial = one :class:`~tune_bs.training.ContrastiveTrainer`.

Protocol with Tune and the schedulers (DESIGN §7):

- The data set arrives once through ``tune.with_parameters`` (object store), never reloaded
  per trial.
- On (re)start the trainer restores from ``tune.get_checkpoint()``; then ``config["batch_size"]``
  and ``config["accumulation_steps"]`` are applied. A scheduler switches a trial's batch size by
  pausing it and changing those keys: the change is recorded in the trial's schedule
  (``batch_size_schedule``, ``switches``), which lives in the checkpoint, so a killed and resumed
  experiment keeps it.
- Every report carries a checkpoint, so a trial resumed after a pause repeats no work
  (ray-project/ray#27170).
- A trial whose training loss becomes NaN/inf reports ``diverged=True`` once and ends; the
  experiment goes on.
- The trial uses the GPU Ray assigned it; without a CUDA device it falls back to the CPU and says
  so once.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import torch

from tune_bs.data import TimeSeriesData
from tune_bs.training import ContrastiveTrainer, TrainSettings

logger = logging.getLogger(__name__)
STATE_FILE = "trainer_state.pt"


def trial_device() -> torch.device:
    """CUDA when Ray assigned this trial a GPU and CUDA works, else CPU (with one warning)."""
    import ray

    gpu_ids = ray.get_gpu_ids()
    if gpu_ids and torch.cuda.is_available():
        return torch.device("cuda")
    if gpu_ids:
        logger.warning("Ray assigned GPU %s but CUDA is not available; this trial trains on the "
                       "CPU.", gpu_ids)
    return torch.device("cpu")


def _set_cpu_threads() -> None:
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    torch.set_num_threads(max(1, int(cpus)))


def train_trial(config: dict[str, Any], data: TimeSeriesData) -> None:
    """Train one trial to its samples budget, reporting metrics and a checkpoint each interval."""
    from ray import tune

    _set_cpu_threads()
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per checkpoint
    settings = TrainSettings.from_config(config)
    trainer = ContrastiveTrainer(data, settings, trial_device())
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / STATE_FILE, map_location=trainer.device,
                               weights_only=False)
        trainer.load_state_dict(state)
    # a scheduler's switch arrives as a changed config (a no-op on a fresh start)
    trainer.apply_config(int(config.get("batch_size", settings.batch_size)),
                         int(config.get("accumulation_steps", settings.accumulation_steps)))

    while not trainer.finished:
        train_loss = trainer.train_until(trainer.next_report_at)
        metrics = trainer.report(train_loss)
        with tempfile.TemporaryDirectory() as folder:
            torch.save(trainer.state_dict(), Path(folder) / STATE_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        if metrics["diverged"]:
            logger.warning("trial diverged (training loss is %s at %d samples); it stops here and "
                           "is marked diverged.", train_loss, trainer.samples_seen)
            return
