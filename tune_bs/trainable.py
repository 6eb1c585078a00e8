"""The Ray Tune function trainable: one trial = one :class:`~tune_bs.training.ContrastiveTrainer`.

Protocol with Tune and the schedulers (DESIGN §7):

- The data set arrives once through ``tune.with_parameters`` (object store), never reloaded
  per trial.
- On (re)start the trainer restores from ``tune.get_checkpoint()``; then ``config["batch_size"]``
  and ``config["accumulation_steps"]`` are applied. A scheduler switches a trial's batch size
  either by pausing it and changing those keys, or without a restart: when the config names a
  switch board (``_switch_board``, set by the extrapolation scheduler), the trainable asks it
  after every report for a switch decided on that report and applies it at once
  (:mod:`tune_bs.switch_board`). Either way the change is recorded in the trial's schedule
  (``batch_size_schedule``, ``switches``), which lives in the checkpoint, so a killed and resumed
  experiment keeps it.
- Every report carries a checkpoint, so a trial resumed after a pause repeats no work
  (ray-project/ray#27170).
- A trial whose training loss becomes NaN/inf reports ``diverged=True`` once and ends; the
  experiment goes on.
- A trial that runs out of memory continues at half its batch size from its last report's state
  (:func:`run_to_budget`); a trial whose process dies is retried by Tune from its last checkpoint
  (``FailureConfig(max_failures)``).
- The trial uses the GPU Ray assigned it; without a CUDA device it falls back to the CPU and says
  so once.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from tune_bs import metrics as m
from tune_bs.clock import clock_from_env
from tune_bs.data import TimeSeriesData
from tune_bs.switch_board import BOARD_KEY, SWITCH_AT, BoardClient, Switch
from tune_bs.training import ContrastiveTrainer, TrainSettings

logger = logging.getLogger(__name__)
STATE_FILE = "trainer_state.pt"
#: Smallest batch size an out-of-memory back-off goes down to.
MIN_OOM_BATCH_SIZE = 2


class TrialOutOfMemory(RuntimeError):
    """Out of memory even at the smallest batch size the back-off allows."""


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
    trainer = ContrastiveTrainer(data, settings, trial_device(), clock=clock_from_env())
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / STATE_FILE, map_location=trainer.device,
                               weights_only=False)
        trainer.load_state_dict(state)
    # a scheduler's switch arrives as a changed config (a no-op on a fresh start)
    trainer.apply_config(int(config.get("batch_size", settings.batch_size)),
                         int(config.get("accumulation_steps", settings.accumulation_steps)),
                         int(config.get(SWITCH_AT, 0)))

    def report(metrics: dict[str, Any], state: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / STATE_FILE).write_bytes(state)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    poll = None
    if config.get(BOARD_KEY):
        client = BoardClient(str(config[BOARD_KEY]), tune.get_context().get_trial_id())

        def poll(reports: int) -> Switch | None:
            switch = client.take(reports)
            if switch is not None:  # later results (and Result.config) show the size in force
                config.update({"batch_size": switch[0], "accumulation_steps": switch[1],
                               SWITCH_AT: switch[2]})
            return switch

    run_to_budget(trainer, report, poll=poll)


def _serialise(trainer: ContrastiveTrainer) -> bytes:
    buffer = io.BytesIO()
    torch.save(trainer.state_dict(), buffer)
    return buffer.getvalue()


def _restore(trainer: ContrastiveTrainer, state: bytes) -> None:
    trainer.load_state_dict(torch.load(io.BytesIO(state), map_location=trainer.device,
                                       weights_only=False))


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA (or other accelerator) out-of-memory errors, which a smaller batch may avoid."""
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def run_to_budget(
    trainer: ContrastiveTrainer,
    report: Callable[[dict[str, Any], bytes], None],
    min_batch_size: int = MIN_OOM_BATCH_SIZE,
    poll: Callable[[int], Switch | None] | None = None,
) -> None:
    """Train to the samples budget, calling ``report(metrics, serialised_state)`` each interval.

    Rules:

    - After each report, ``poll(reports so far)`` may return a restart-free switch
      ``(batch_size, accumulation_steps, report_index)`` decided on that report: training goes on
      at that size (recorded in the schedule, as a config change would be).
    - NaN/inf training loss: the report says ``diverged=True`` and training ends.
    - Out of memory: the trainer goes back to the state of its last report (or its start), halves
      its batch size (recorded in the schedule, counted in ``oom_backoffs``) and goes on; below
      ``min_batch_size`` the trial fails with :class:`TrialOutOfMemory`.
    """
    last_state = _serialise(trainer)
    while not trainer.finished:
        try:
            train_loss = trainer.train_until(trainer.next_report_at)
        except RuntimeError as exc:
            if not is_out_of_memory(exc):
                raise
            failed = trainer.batch_size
            smaller = failed // 2
            if smaller < min_batch_size:
                raise TrialOutOfMemory(
                    f"the trial ran out of memory at batch size {failed}, and half of "
                    f"it is below the floor of {min_batch_size}; give the trial more memory (fewer "
                    "trials per GPU) or a smaller encoder."
                ) from exc
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            backoffs, spent, clock = (trainer.oom_backoffs, trainer.trial_time_s,
                                      trainer.clock.state())
            _restore(trainer, last_state)
            # the failed attempt's seconds were spent: they stay on the trial's clock
            trainer.oom_backoffs, trainer.trial_time_s = backoffs + 1, spent
            trainer.clock.restore(clock)
            logger.warning("out of memory at batch size %d; this trial goes back to %d samples "
                           "and continues at batch size %d.", failed, trainer.samples_seen,
                           smaller)
            trainer.set_batch_size(smaller)
            continue
        metrics = trainer.report(train_loss)
        last_state = _serialise(trainer)
        report(metrics, last_state)
        if metrics[m.DIVERGED]:
            logger.warning("trial diverged (training loss is %s at %d samples); it stops here and "
                           "is marked diverged.", train_loss, trainer.samples_seen)
            return
        switch = poll(trainer.reports) if poll is not None and not trainer.finished else None
        if switch is not None and trainer.apply_switch(*switch):
            last_state = _serialise(trainer)  # an out-of-memory back-off returns to this size
