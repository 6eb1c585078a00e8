"""The clock a trial measures its own time on: real seconds, or a deterministic cost model.

Every trial reports two float clocks (the scheduler reads these, never Ray's whole-second
``timestamp``):

- ``trial_time_s``: the trial's own seconds of training and evaluation, summed over its report
  intervals and carried across restarts in its checkpoint. It excludes worker start-up, data
  transfer, model construction and checkpoint restores (compute every trial pays once or that a
  switch pays; the scheduler measures a switch's cost on the wall clock instead).
- ``wall_time_s``: the clock's reading at the report, shared by all trials of an experiment
  (Unix seconds for :class:`WallClock`).

:class:`SimulatedClock` replaces real seconds by a cost model: a training step over ``B`` series
costs ``step_s + per_sample_s · B`` seconds and an evaluation ``eval_s`` seconds, and its wall
clock starts at 0 for every trial. Tests and benchmarks use it so that decisions that depend
on time (throughput per batch size, the seconds a switch saves) are the same on every run, on any
machine. It is chosen with the environment variable :data:`SIMULATED_CLOCK_ENV`
(``"step_s,per_sample_s,eval_s"``), which Ray passes from the driver to the trial workers of a
local cluster.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Protocol

from tune_bs.errors import UserInputError, quote

#: ``"step_s,per_sample_s,eval_s"``: trials use a :class:`SimulatedClock` with these costs.
SIMULATED_CLOCK_ENV = "TUNE_BS_SIMULATED_CLOCK"


class Clock(Protocol):
    """What the trainer needs of a clock: a reading, and notice of the work it did."""

    def now(self) -> float:
        """Seconds on this clock (float)."""
        ...

    def charge_step(self, batch_size: int) -> None:
        """One optimiser step over ``batch_size`` series (all its minibatches) was computed."""
        ...

    def charge_eval(self) -> None:
        """One evaluation (validation loss and probes) was computed."""
        ...

    def state(self) -> float:
        """What a checkpoint keeps of the clock."""
        ...

    def restore(self, state: float) -> None:
        """Continue from :meth:`state` of a checkpoint."""
        ...


class WallClock:
    """Real time: ``time.time()``; charging work does nothing."""

    def now(self) -> float:
        return time.time()

    def charge_step(self, batch_size: int) -> None:
        pass

    def charge_eval(self) -> None:
        pass

    def state(self) -> float:
        return 0.0

    def restore(self, state: float) -> None:
        pass


@dataclass
class SimulatedClock:
    """Seconds from a cost model (module rules); ``elapsed`` is the reading, from 0."""

    step_s: float
    per_sample_s: float
    eval_s: float
    elapsed: float = 0.0

    def now(self) -> float:
        return self.elapsed

    def charge_step(self, batch_size: int) -> None:
        self.elapsed += self.step_s + self.per_sample_s * batch_size

    def charge_eval(self) -> None:
        self.elapsed += self.eval_s

    def state(self) -> float:
        return self.elapsed

    def restore(self, state: float) -> None:
        self.elapsed = float(state)


def parse_simulated_clock(text: str) -> SimulatedClock:
    """``"0.01,0.0005,0.05"`` → ``SimulatedClock(0.01, 0.0005, 0.05)``."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or any(v < 0 for v in values):
        raise UserInputError(
            f"{SIMULATED_CLOCK_ENV} must be three non-negative numbers "
            f"'step_s,per_sample_s,eval_s', but got {quote(text)}; e.g. 0.01,0.0005,0.05."
        )
    return SimulatedClock(*values)


def clock_from_env() -> Clock:
    """:class:`SimulatedClock` when :data:`SIMULATED_CLOCK_ENV` is set, else :class:`WallClock`."""
    text = os.environ.get(SIMULATED_CLOCK_ENV, "").strip()
    return parse_simulated_clock(text) if text else WallClock()
