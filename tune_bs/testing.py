"""Stand-ins for Ray Tune's trials and controller, shared by the scheduler tests and benchmarks.

A scheduler reads only a few attributes of a Tune ``Trial`` and asks its controller for the
trial list, the live ones (the median stopping rule) and, for schedulers that stop paused
trials, to stop one, as
``ray/tune/tests/test_trial_scheduler.py``'s mocked runner does. These stubs give exactly that,
so schedulers are tested and timed without ``ray.init``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ray.tune.experiment import Trial


@dataclass(eq=False)
class StubTrial:
    """What a scheduler reads of a Tune trial. Hashable by identity, as Tune's trials are (Ray's
    ASHA and median stopping rule key their records on the trial object)."""

    trial_id: str
    config: dict[str, Any] = field(default_factory=dict)
    status: str = Trial.RUNNING
    local_path: str | None = None
    last_result: dict[str, Any] = field(default_factory=dict)
    is_saving: bool = False

    def set_config(self, config: dict[str, Any]) -> None:
        self.config = config


class StubController:
    """The trials a scheduler sees; ``stopped`` lists the trials it asked to stop."""

    def __init__(self, *trials: StubTrial) -> None:
        self.trials = list(trials)
        self.stopped: list[str] = []

    def get_trials(self) -> list[StubTrial]:
        return self.trials

    def get_live_trials(self) -> list[StubTrial]:
        """The trials not ended (Ray's median stopping rule asks for them)."""
        return [t for t in self.trials if t.status not in (Trial.TERMINATED, Trial.ERROR)]

    def trial(self, trial_id: str) -> StubTrial:
        return next(t for t in self.trials if t.trial_id == trial_id)

    def stop_trial(self, trial: StubTrial) -> None:
        trial.status = Trial.TERMINATED
        self.stopped.append(trial.trial_id)
