"""The Ray Tune function trainable: one trial = one
:class:`~tune_bs.train.trainer.ContrastiveTrainer`.

Protocol with Tune and the schedulers (docs/design.md §7):

- The data set arrives once through ``tune.with_parameters`` (object store), never reloaded
  per trial.
- On (re)start the trainer restores from ``tune.get_checkpoint()``; then ``config["batch_size"]``
  and ``config["accumulation_steps"]`` are applied. A scheduler switches a trial's batch size
  either by pausing it and changing those keys, or without a restart: when the config names a
  switch board (``_switch_board``, set by the extrapolation scheduler), the trainable asks it
  after every report for a switch decided on that report and applies it at once
  (:mod:`tune_bs.schedule.switch_board`). Either way the change is recorded in the trial's schedule
  (``batch_size_schedule``, ``switches``), which lives in the checkpoint, so a killed and resumed
  experiment keeps it.
- Every report carries a checkpoint, so a trial resumed after a pause repeats no work
  (ray-project/ray#27170).
- A trial whose training loss becomes NaN/inf reports ``diverged=True`` once and ends; the
  experiment goes on.
- **A mistake in the trial's input** — a :class:`~tune_bs.errors.UserInputError` raised while
  it builds or trains (a setting its strategy refuses for this data set, data that cannot be
  normalised under the trial's ``normalise``) — is deterministic: Ray's retries
  (``FailureConfig``) would fail the same way, and Ray 2.60 offers a function trainable no way
  to mark an error as not retryable. So the trainable catches it before Ray sees it, reports it
  once as :data:`~tune_bs.metrics.TRIAL_ERROR` (the one-line cause; validation metrics NaN,
  every other key the schedulers read kept from the last report) and ends: the trial is not
  retried, the experiment goes on, and the tables, the summary and ``tune-bs run`` show the
  cause (:func:`failure_report`). Retries stay for what a retry can fix: a lost node or actor,
  a process killed by the OS, a checkpoint that cannot be read (:class:`CheckpointUnreadable`:
  the storage, not the input). A trial resuming from a checkpoint trained on other data (the
  data file was overwritten before ``tune-bs resume``) fails that way too.
- **Out of memory** — in training, in the evaluation of a report, in the first report interval
  (before or after the cluster step) or right after a switch: the trial goes back to its last
  good state (the last report, or its start, or the last switch), halves its batch size and
  continues (:func:`run_to_budget`). The size that ran out of memory and every larger one are
  excluded for the rest of the trial: it reports the smallest as ``oom_batch_size`` (a column
  of the tables; the extrapolation scheduler switches no trial to it or above), keeps it in its
  checkpoint, refuses a switch or config that asks for it, and a strategy that chooses its own
  size (``cluster_count``) stays at or below half of it. A trial whose process dies is retried
  by Tune from its last checkpoint (``FailureConfig(max_failures)``).
- Checkpoints hold plain types only and load with ``weights_only=True``
  (:mod:`tune_bs.search.checkpoint`); a tampered file is refused with one line naming it.
- The trial uses the GPU Ray assigned it; without a CUDA device it falls back to the CPU and says
  so once.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from tune_bs import metrics as m
from tune_bs.data import TimeSeriesData
from tune_bs.errors import UserInputError
from tune_bs.schedule.switch_board import (
    BOARD_KEY,
    SWITCH_AT,
    BoardClient,
    Switch,
    running_board,
)
from tune_bs.search import checkpoint
from tune_bs.train.clock import clock_from_env
from tune_bs.train.trainer import ContrastiveTrainer, TrainSettings
from tune_bs.train.trial_eval import nan_metrics

logger = logging.getLogger(__name__)
STATE_FILE = "trainer_state.pt"
#: Smallest batch size an out-of-memory back-off goes down to.
MIN_OOM_BATCH_SIZE = 2
#: Metric: the smallest batch size at which the trial ran out of memory (reported from then on);
#: it and every larger size are excluded for the rest of the trial (:class:`MemoryLimit`).
OOM_BATCH_SIZE = m.OOM_BATCH_SIZE


class TrialOutOfMemory(RuntimeError):
    """Out of memory even at the smallest batch size the back-off allows."""


class CheckpointUnreadable(RuntimeError):
    """The checkpoint a trial resumes from is missing, damaged or foreign: a matter of the
    storage, not of the trial's input, so Ray's retries and ``tune-bs resume`` still apply
    (a repaired folder resumes) rather than the trial failing for good."""


def trial_device() -> torch.device:
    """CUDA when Ray assigned this trial a GPU and CUDA works, else CPU (with one warning)."""
    import ray

    gpu_ids = ray.get_gpu_ids()
    if gpu_ids and torch.cuda.is_available():
        return torch.device("cuda")
    if gpu_ids:
        logger.warning(
            "Ray assigned GPU %s but CUDA is not available; this trial trains on the CPU.", gpu_ids
        )
    return torch.device("cpu")


def _set_cpu_threads() -> None:
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    torch.set_num_threads(max(1, int(cpus)))


def train_trial(config: dict[str, Any], data: TimeSeriesData) -> None:
    """Train one trial to its samples budget, reporting metrics and a checkpoint each interval;
    a :class:`UserInputError` ends it with one report of its cause (module docstring)."""
    from ray import tune

    last: dict[str, Any] = {}
    try:
        _train_trial(config, data, last)
    except UserInputError as exc:
        message = " ".join(str(exc).split())
        logger.error("trial failed on its input (not retried): %s", message)
        tune.report(failure_report(message, config, data, last))


def failure_report(
    message: str, config: dict[str, Any], data: TimeSeriesData, last: dict[str, Any]
) -> dict[str, Any]:
    """The one report of a trial that failed on its input: ``TRIAL_ERROR`` = ``message``, NaN
    for every validation metric Tune or a scheduler may read (Tune stops the run for a missing
    metric), and progress (samples seen, batch size, clocks) as of ``last``, the last report."""
    out: dict[str, Any] = {
        m.SAMPLES_SEEN: 0,
        m.BATCH_SIZE: config.get("batch_size", 0),
        m.ACCUMULATION_STEPS: config.get("accumulation_steps", 1),
        m.TRIAL_TIME_S: 0.0,
        m.WALL_TIME_S: 0.0,  # the clock itself may be what failed (TUNE_BS_SIMULATED_CLOCK)
    }
    out.update({k: v for k, v in last.items() if k in out})
    for key, value in list(out.items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            out[key] = 0
    probes = SimpleNamespace(multitask_probe=bool(config.get("multitask_probe", False)))
    out.update(nan_metrics(data, probes))  # val_loss and the probe metrics this data set has
    out[m.DIVERGED] = False
    out[m.TRIAL_ERROR] = message
    return out


def _train_trial(config: dict[str, Any], data: TimeSeriesData, last: dict[str, Any]) -> None:
    """The trial itself (:func:`train_trial`); ``last`` keeps the latest report's metrics."""
    from ray import tune

    _set_cpu_threads()
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per checkpoint
    settings = TrainSettings.from_config(config)
    trainer = ContrastiveTrainer(data, settings, trial_device(), clock=clock_from_env())
    memory = MemoryLimit()
    saved = tune.get_checkpoint()
    if saved is not None:
        with saved.as_directory() as folder:
            try:
                state, trial = checkpoint.loads(
                    Path(folder) / STATE_FILE, trainer.device, name=_checkpoint_name(saved)
                )
            except UserInputError as exc:  # storage, not input: Ray's retries and resume apply
                raise CheckpointUnreadable(str(exc)) from None
        _check_same_data(state, data, _checkpoint_name(saved))
        _load(trainer, state, trial, memory)
    # a scheduler's switch arrives as a changed config (a no-op on a fresh start)
    wanted = int(config.get("batch_size", settings.batch_size))
    if memory.allows(wanted):
        trainer.apply_config(
            wanted,
            int(config.get("accumulation_steps", settings.accumulation_steps)),
            int(config.get(SWITCH_AT, 0)),
        )
    else:
        logger.warning(
            "the config's batch size %d is not applied: this trial ran out of memory "
            "at batch size %d; it keeps batch size %d.",
            wanted,
            memory.limit,
            trainer.batch_size,
        )

    client = None
    board = config.get(BOARD_KEY) or running_board()
    if board:
        client = BoardClient(str(board), tune.get_context().get_trial_id())

    def report(metrics: dict[str, Any], state: bytes) -> None:
        if client is not None and not trainer.finished and not metrics[m.DIVERGED]:
            client.ask(trainer.reports)  # the answer waits on the board when report() returns
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / STATE_FILE).write_bytes(state)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        last.clear()
        last.update(metrics)

    poll = client.take if client is not None else None

    def switched(switch: Switch) -> None:  # later results (and Result.config) show the size
        config.update(
            {"batch_size": switch[0], "accumulation_steps": switch[1], SWITCH_AT: switch[2]}
        )

    run_to_budget(trainer, report, poll=poll, on_switch=switched, memory=memory)


def _check_same_data(state: dict[str, Any], data: TimeSeriesData, name: str) -> None:
    """A trial resumes only on the data its checkpoint was trained on (the raw training split's
    fingerprint; a checkpoint from before fingerprints is trusted): ``tune-bs resume`` after the
    data file was overwritten would otherwise go on training on other data."""
    recorded = state.get("data_fingerprint")
    if isinstance(recorded, str) and recorded and data.fingerprint and recorded != data.fingerprint:
        raise UserInputError(
            f"the checkpoint {name} was trained on other data than {data.name} holds now (its "
            f"training split's fingerprint {recorded[:20]}, now {data.fingerprint[:20]}): the "
            "data file changed since the run; put the run's data back and resume, or start a "
            "new run on this data."
        )


def _checkpoint_name(saved: Any) -> str:
    """The checkpoint file as a user finds it: a URI on remote storage, else a path."""
    scheme = getattr(getattr(saved, "filesystem", None), "type_name", "local")
    where = f"{saved.path}/{STATE_FILE}"
    return where if scheme in ("local", "mock") else f"{scheme}://{where}"


class MemoryLimit:
    """The batch sizes a trial ran out of memory at (module docstring: out of memory).

    Memory grows with the batch size, so ``limit`` — the smallest size that ran out of memory —
    excludes it and every larger one: the trial never trains at them again, and it reports
    ``limit`` as :data:`OOM_BATCH_SIZE` so the scheduler never switches it back there.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit

    def allows(self, batch_size: int) -> bool:
        return self.limit is None or int(batch_size) < self.limit

    def mark(self, batch_size: int) -> None:
        self.limit = int(batch_size) if self.limit is None else min(self.limit, int(batch_size))

    def cap(self, trainer: ContrastiveTrainer) -> None:
        """A strategy that chooses its own batch size (``cluster_count``) chooses at most half
        the limit, as a back-off would."""
        if self.limit is not None:
            trainer.strategy.size_cap = max(1, self.limit // 2)

    def metrics(self) -> dict[str, Any]:
        return {} if self.limit is None else {OOM_BATCH_SIZE: self.limit}

    def state(self) -> dict[str, Any]:
        return {OOM_BATCH_SIZE: self.limit}


def _serialise(trainer: ContrastiveTrainer, memory: MemoryLimit) -> bytes:
    return checkpoint.dumps(trainer.state_dict(), memory.state())


def _load(
    trainer: ContrastiveTrainer, state: dict[str, Any], trial: dict[str, Any], memory: MemoryLimit
) -> None:
    trainer.load_state_dict(state)
    if trial.get(OOM_BATCH_SIZE) is not None:
        memory.mark(int(trial[OOM_BATCH_SIZE]))
    memory.cap(trainer)


def _restore(trainer: ContrastiveTrainer, state: bytes, memory: MemoryLimit) -> None:
    _load(trainer, *checkpoint.loads(state, trainer.device), memory)


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA (or other accelerator) out-of-memory errors, which a smaller batch may avoid."""
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def run_to_budget(
    trainer: ContrastiveTrainer,
    report: Callable[[dict[str, Any], bytes], None],
    min_batch_size: int = MIN_OOM_BATCH_SIZE,
    poll: Callable[[int], Switch | None] | None = None,
    on_switch: Callable[[Switch], None] | None = None,
    memory: MemoryLimit | None = None,
) -> None:
    """Train to the samples budget, calling ``report(metrics, serialised_state)`` each interval.

    Rules:

    - After each report, ``poll(reports so far)`` may return a restart-free switch
      ``(batch_size, accumulation_steps, report_index)`` decided on that report: training goes on
      at that size (recorded in the schedule, as a config change would be) and ``on_switch`` is
      told. A switch to a size at or above ``memory.limit`` is refused.
    - NaN/inf training loss: the report says ``diverged=True`` and training ends.
    - Out of memory, in training or in the evaluation of a report: see :func:`_back_off`. The
      serialised state (:mod:`tune_bs.search.checkpoint`) carries ``memory``.
    """
    memory = memory or MemoryLimit()
    memory.cap(trainer)
    last_state = _serialise(trainer, memory)
    while not trainer.finished:
        try:
            train_loss = trainer.train_until(trainer.next_report_at)
            metrics = trainer.report(train_loss)
        except RuntimeError as exc:
            if not is_out_of_memory(exc):
                raise
            _back_off(trainer, last_state, memory, min_batch_size, exc)
            continue
        metrics.update(memory.metrics())
        last_state = _serialise(trainer, memory)
        report(metrics, last_state)
        if metrics[m.DIVERGED]:
            logger.warning(
                "trial diverged (training loss is %s at %d samples); it stops here and "
                "is marked diverged.",
                train_loss,
                trainer.samples_seen,
            )
            return
        switch = poll(trainer.reports) if poll is not None and not trainer.finished else None
        if switch is not None and not memory.allows(switch[0]):
            logger.warning(
                "switch to batch size %d refused: this trial ran out of memory at "
                "batch size %d; it keeps batch size %d.",
                switch[0],
                memory.limit,
                trainer.batch_size,
            )
        elif switch is not None and trainer.apply_switch(*switch):
            if on_switch is not None:
                on_switch(switch)
            last_state = _serialise(trainer, memory)  # an out-of-memory back-off returns here


def _back_off(
    trainer: ContrastiveTrainer,
    last_state: bytes,
    memory: MemoryLimit,
    min_batch_size: int,
    exc: BaseException,
) -> None:
    """Out of memory at batch size B: mark B (never again B or above), go back to the state of
    the last report (or the start, or the last switch), continue at B // 2 (recorded in the
    schedule, counted in ``oom_backoffs``). Below ``min_batch_size``: :class:`TrialOutOfMemory`.

    The attempt at B is undone: when the last state began B (a switch at that very sample
    count), the schedule entry of B is dropped rather than followed by one of B // 2.
    """
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
    backoffs, spent, clock = trainer.oom_backoffs, trainer.trial_time_s, trainer.clock.state()
    memory.mark(failed)
    _restore(trainer, last_state, memory)
    # the failed attempt's seconds were spent: they stay on the trial's clock
    trainer.oom_backoffs, trainer.trial_time_s = backoffs + 1, spent
    trainer.clock.restore(clock)
    logger.warning(
        "out of memory at batch size %d; this trial goes back to %d samples and "
        "continues at batch size %d (never again %d or more).",
        failed,
        trainer.samples_seen,
        smaller,
        failed,
    )
    trainer.set_batch_size(smaller)
    schedule = trainer.schedule
    if (
        len(schedule) > 1
        and schedule[-1][0] == trainer.samples_seen
        and schedule[-1][1:] == schedule[-2][1:]
    ):
        schedule.pop()
