"""The courier of switches: how the extrapolation scheduler's switch decisions reach the trial.

- **switch**, restart-free (``switch_via: inplace``, the default) → the decision is posted to
  the switch board (:mod:`tune_bs.schedule.switch_board`, a named Ray actor) and written into the
  trial's config (``batch_size``, ``accumulation_steps``, ``_switch_at``), and the result gets
  ``CONTINUE``: the trainable, whose ``tune.report`` returns only after this decision, takes it
  from the board and trains on at the new size — no pause, no restore. The trainable records
  the switch in ``batch_size_schedule`` and ``switches`` (its checkpoint and every report);
  the config is what a restarted trial (retry, ``tune-bs resume``) continues with. The board
  runs on the driver's node; a lost board is replaced and the post repeated, and when that
  fails too the switch falls back to a restart. Any Ray Tune trainable takes switches with
  :class:`tune_bs.schedule.plugin.BatchSizeUpdates`. When the trial's next report still shows
  the batch size it had (it did not take the switch), that switch is carried out by restart at
  once (decided on that report); a trial that has never taken one is marked
  ``_switch_via: restart`` in its config and switched by restart from then on (a trainable that
  reads ``config["batch_size"]`` only when it starts needs no other setting; one seen taking
  switches before only missed this one).
- **switch** by restart (``switch_via: restart``) → ``PAUSE``, and the decision is kept until
  :meth:`SwitchCourier.next_paused` hands that paused trial out (before FIFO's pending trials)
  after ``trial.set_config`` with the new ``batch_size``, ``accumulation_steps`` and
  ``_switch_at`` = the report index of the decision. The trainable restores its checkpoint
  (reported with every result), applies the new batch size and records the switch. A function
  trainable that has never reported a checkpoint is not switched by restart (it would start
  over; a warning says so once).

:class:`SwitchCourier` owns the board, the switches pending (by restart) and awaited (in
place), which trials have been seen taking one, which reported a checkpoint, and the warnings
given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.result import SHOULD_CHECKPOINT
from ray.tune.schedulers.trial_scheduler import TrialScheduler

from tune_bs.schedule.decision_log import DecisionLog
from tune_bs.schedule.report_keys import ReportKeys
from tune_bs.schedule.switch_board import SWITCH_AT, BoardHost, SwitchBoard, board_errors
from tune_bs.schedule.switching import Decision, Report, SwitchSettings

#: The scheduler's own logger (its messages read as one log).
logger = logging.getLogger("tune_bs.schedule.extrapolation")

#: Trial-config key set to ``"restart"`` once a trial is known not to take restart-free switches.
SWITCH_VIA = "_switch_via"


class SwitchCourier:
    """Carry switches out: through the switch board (restart-free) or by pausing the trial.

    Args:
        settings: the scheduler's settings (``switch_via``).
        keys: the trial-config keys of the batch size and the accumulation steps.
        log: where carried-out switches are told and counted.
        board: ``None`` for the named Ray actor (created when the first trial is added), or a
            plain :class:`~tune_bs.schedule.switch_board.SwitchBoard` (tests).
    """

    def __init__(
        self, settings: SwitchSettings, keys: ReportKeys, log: DecisionLog, board: Any = None
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.log = log
        self.board = board
        self._pending: dict[str, Decision] = {}
        self._awaiting: dict[str, Decision] = {}  # restart-free switches not yet seen taken
        self._polling: set[str] = set()  # trials seen taking a restart-free switch
        self._checkpointed: set[str] = set()  # trials that reported a checkpoint
        self._warned: set[tuple[str, str]] = set()

    @property
    def inplace(self) -> bool:
        return self.settings.switch_via == "inplace"

    @property
    def replaced(self) -> int:
        """Boards created after a loss."""
        return int(getattr(self.board, "replaced", 0))

    # --- trials -------------------------------------------------------------------------------
    def add(self, trial: Trial) -> None:
        """Keep the batch size the trial was given in its config (``batch_size_initial``: a
        switch changes ``batch_size``); open the board before any trial starts and looks for it
        (by name: no key in the trial's config)."""
        initial = self.keys.config_batch_size_initial
        if initial not in trial.config and self.keys.config_batch_size in trial.config:
            trial.set_config({**trial.config, initial: trial.config[self.keys.config_batch_size]})
        if self.inplace:
            self._open_board()

    def note(self, trial: Trial, result: Mapping[str, Any]) -> None:
        """Remember that the trial reported a checkpoint (it can be switched by restart)."""
        if result.get(SHOULD_CHECKPOINT):
            self._checkpointed.add(trial.trial_id)

    def drop(self, trial_id: str) -> None:
        """The trial ended: forget its pending switch."""
        self._pending.pop(trial_id, None)

    def pending(self, trial_id: str) -> Decision | None:
        """The switch by restart decided for ``trial_id`` and not yet applied, if any."""
        return self._pending.get(trial_id)

    # --- delivery -----------------------------------------------------------------------------
    def deliver(
        self,
        trial: Trial,
        decision: Decision,
        result: Mapping[str, Any],
        before: tuple[int, int],
        by_restart: bool = False,
    ) -> str:
        """Carry a switch from the loader ``before`` (batch size, accumulation steps: what the
        trial reported last) out: restart-free when the trial takes those (and did take the last
        one), else by restart (when the trial can restart from a checkpoint); Tune's action."""
        by_restart = by_restart or trial.config.get(SWITCH_VIA) == "restart"
        if self.inplace and not by_restart and self._post(trial, decision):
            self.log.switched(trial.trial_id, decision, before)
            self.apply(trial, decision)  # the config a restart would continue with
            self._awaiting[trial.trial_id] = decision
            return TrialScheduler.CONTINUE
        if not self._restorable(trial):
            self._warn_once(
                trial,
                "no checkpoint",
                "trial %s reported no checkpoint, so a switch by restart would "
                "start it over: it keeps batch size %s. Report one with every result "
                "(tune.report(metrics, checkpoint=...)), or take restart-free "
                "switches with tune_bs.BatchSizeUpdates.",
                trial.trial_id,
                trial.config.get(self.keys.config_batch_size),
            )
            return TrialScheduler.CONTINUE
        if not result.get(SHOULD_CHECKPOINT, True):
            self._warn_once(
                trial,
                "old checkpoint",
                "trial %s switches by restart from an older checkpoint than its "
                "report %d, and repeats the reports since; report a checkpoint with "
                "every result to avoid that.",
                trial.trial_id,
                decision.report_index,
            )
        self.log.switched(trial.trial_id, decision, before)
        self._pending[trial.trial_id] = decision
        return TrialScheduler.PAUSE

    def next_paused(self, trials: Sequence[Trial]) -> Trial | None:
        """The first of ``trials`` paused (or pending) for a switch by restart, with the switch
        applied to its config; ``None`` when there is none."""
        for trial in trials:
            decision = self._pending.get(trial.trial_id)
            if decision is not None and trial.status in (Trial.PENDING, Trial.PAUSED):
                self.apply(trial, self._pending.pop(trial.trial_id))
                return trial
        return None

    def apply(self, trial: Trial, decision: Decision) -> None:
        """Write the switch into the trial's config (what it restarts with): the batch size, the
        accumulation steps (when not 1 or already there) and ``_switch_at``."""
        config = dict(trial.config)
        config[self.keys.config_batch_size] = decision.batch_size
        steps = self.keys.config_accumulation_steps
        if decision.accumulation_steps != 1 or steps in config:
            config[steps] = decision.accumulation_steps
        config[SWITCH_AT] = decision.report_index
        trial.set_config(config)

    def missed(self, trial: Trial, history: Sequence[Report]) -> Decision | None:
        """The restart-free switch posted after the previous report when this report shows the
        trial did not take it (same batch size and accumulation steps as before), else ``None``.

        A trial never seen taking one is marked (config ``_switch_via: restart``): its later
        switches go by restart at once. A trial seen taking one before missed this one only
        (e.g. it could not reach the board), or any trial after the switch board was lost and
        replaced (the post may have gone with it): only this one goes by restart.
        """
        awaited = self._awaiting.get(trial.trial_id)
        if awaited is None or len(history) <= awaited.report_index:
            return None
        del self._awaiting[trial.trial_id]
        if len(history) != awaited.report_index + 1:
            return None  # restarted in between: it started with the new config
        before, now = history[-2], history[-1]
        if (now.batch_size, now.accumulation_steps) != (
            before.batch_size,
            before.accumulation_steps,
        ):
            self._polling.add(trial.trial_id)
            return None
        self.log.unswitched(awaited)  # counted again when it is carried out by restart
        if trial.trial_id not in self._polling and not self.replaced:
            trial.set_config({**trial.config, SWITCH_VIA: "restart"})
            self._warn_once(
                trial,
                "no polling",
                "trial %s did not take the restart-free switch to batch size %d "
                "decided after its report %d (its next report is still at %d), so it "
                "switches by restart from now on: each switch pauses it and restarts it "
                "from its checkpoint with the new batch_size in its config. A trainable "
                "takes switches in place with tune_bs.BatchSizeUpdates (function API: "
                "after_report() after each tune.report; class API: "
                "BatchSizeUpdates(self.config, trial_id=self.trial_id) and "
                "at_report(self.iteration) "
                "at the start of step()); SwitchSettings(switch_via='restart') says up front "
                "that it switches by restart.",
                trial.trial_id,
                awaited.batch_size,
                awaited.report_index,
                now.batch_size,
            )
        return awaited

    def notify(self, trial: Trial, report_index: int) -> None:
        """Tell the board the decision on this report is in (without waiting): a trainable that
        asked ahead (:meth:`~tune_bs.schedule.switch_board.BoardClient.ask`) gets its answer — the
        switch posted before this, or none."""
        if isinstance(self.board, SwitchBoard):
            self.board.decided(trial.trial_id, int(report_index))
            return
        self._open_board()
        if self.board is not None:
            self.board.decided(trial.trial_id, int(report_index))

    # --- the board and restarts ---------------------------------------------------------------
    def _restorable(self, trial: Trial) -> bool:
        """Whether a restart resumes the trial from a checkpoint: not for a function trainable
        that has never reported one (it would start over)."""
        if trial.trial_id in self._checkpointed:
            return True
        try:
            from ray.tune.trainable.function_trainable import FunctionTrainable

            cls = trial.get_trainable_cls()
            function = isinstance(cls, type) and issubclass(cls, FunctionTrainable)
            return not function or trial.checkpoint is not None
        except Exception:  # not a Tune trial (tests' stubs), or no trainable registered
            return True

    def _warn_once(self, trial: Trial, kind: str, message: str, *args: Any) -> None:
        if (trial.trial_id, kind) not in self._warned:
            self._warned.add((trial.trial_id, kind))
            logger.warning(message, *args)

    def _open_board(self) -> None:
        """Create the board actor (once, and only inside a running Ray: never start one), on
        the driver's node; :class:`~tune_bs.schedule.switch_board.BoardHost` replaces it when
        lost."""
        import ray

        if self.board is None and ray.is_initialized():
            self.board = BoardHost()
        if isinstance(self.board, BoardHost):
            try:
                self.board.open()
            except board_errors() as exc:  # the first post tries again, else a restart
                logger.warning("the switch board did not start (%s).", exc)

    def _post(self, trial: Trial, decision: Decision) -> bool:
        """Put a restart-free switch on the board (blocking: it is there before the trial's
        ``tune.report`` returns). False when the board cannot be reached, even after being
        replaced (then: pause)."""
        args = (
            trial.trial_id,
            decision.batch_size,
            decision.accumulation_steps,
            decision.report_index,
        )
        if isinstance(self.board, SwitchBoard):
            return self.board.post(*args)
        self._open_board()
        if self.board is not None and self.board.post(*args):
            return True
        logger.warning("switch board unreachable; trial %s switches by a restart.", trial.trial_id)
        return False
