"""The restart-free switch path: a named Ray actor that carries switch decisions to running trials.

The extrapolation scheduler (in the driver) posts a decision for a trial; the trial's trainable
takes it right after its next ``tune.report`` returns and continues at the new batch size,
without a pause or a checkpoint restore (DESIGN §7, restart-free variant).

Why the trainable always sees a decision in time: Tune's function trainables report
synchronously — ``tune.report`` blocks until the driver has processed the result (the scheduler's
``on_trial_result`` included) and asks for the next one. The scheduler posts with a blocking call
before it returns, so the decision is on the board before the trainable wakes up.

Rules:

- One board per Ray namespace, named :data:`BOARD_NAME` (a driver's jobs and their trial actors
  share the driver's namespace); it lives as long as the driver (not detached).
- A decision is ``(batch_size, accumulation_steps, report_index)``; the trainable applies it only
  when ``report_index`` equals its own number of reports (decided on its latest report), so a
  stale decision is dropped and none is applied twice (:meth:`SwitchBoard.take` removes it).
- The decision is persisted by the trial itself: the new batch size enters its schedule
  (``batch_size_schedule``, ``switches``), its checkpoint and every later report; the scheduler
  also writes it into the trial's config, so a trial restarted for any reason (retry, resume)
  continues with it.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

#: Name of the board actor in the driver's Ray namespace.
BOARD_NAME = "tune_bs_switch_board"
#: Trial-config key naming the board a trial takes its switches from (set by the scheduler).
BOARD_KEY = "_switch_board"
#: Trial-config key: the report index of the last switch applied to the trial (idempotency key).
SWITCH_AT = "_switch_at"

Switch = tuple[int, int, int]  # (batch_size, accumulation_steps, report_index)


class SwitchBoard:
    """Pending switch decisions by trial id (the actor's class; also usable as a plain object)."""

    def __init__(self) -> None:
        self._pending: dict[str, Switch] = {}

    def post(self, trial_id: str, batch_size: int, accumulation_steps: int,
             report_index: int) -> bool:
        """Record the switch decided for ``trial_id`` after its ``report_index``-th report."""
        self._pending[trial_id] = (int(batch_size), int(accumulation_steps), int(report_index))
        return True

    def take(self, trial_id: str, reports: int) -> Switch | None:
        """The trial's pending switch if it was decided on its report number ``reports``
        (removed either way: an older one is stale), else ``None``."""
        switch = self._pending.pop(trial_id, None)
        if switch is None or switch[2] != reports:
            return None
        return switch


def board_actor() -> Any:
    """The board actor of this Ray namespace (created on first use)."""
    import ray

    actor_class = ray.remote(num_cpus=0, max_restarts=0)(SwitchBoard)
    return actor_class.options(name=BOARD_NAME, get_if_exists=True).remote()


class BoardClient:
    """The trainable's side: ask the board, after each report, for a switch of this trial."""

    def __init__(self, name: str, trial_id: str) -> None:
        import ray

        self._ray = ray
        self._name = name
        self._trial_id = trial_id
        self._actor: Any = None
        self._warned = False

    def take(self, reports: int) -> Switch | None:
        """The switch decided on this trial's ``reports``-th report, if any (``None`` while the
        board cannot be found: the trial keeps its size and the scheduler, seeing it in the next
        report, decides again)."""
        if self._actor is None:
            try:
                self._actor = self._ray.get_actor(self._name)
            except ValueError:
                if not self._warned:
                    logger.warning("switch board %r not found yet; switches of this trial wait "
                                   "for it.", self._name)
                    self._warned = True
                return None
        return self._ray.get(self._actor.take.remote(self._trial_id, reports))
