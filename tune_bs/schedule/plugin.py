"""The trainable's side of restart-free batch-size switching, for anyone's Ray Tune trainable.

The extrapolation scheduler (:class:`tune_bs.ExtrapolationScheduler`) changes a trial's batch
size in one of two ways (the module docstring of :mod:`tune_bs.schedule.extrapolation` has the
details):

- **in place** (``SwitchSettings(switch_via="inplace")``, the default): the scheduler posts the
  new size to a named Ray actor while the trial waits for the driver (a function trainable's
  ``tune.report``, a class trainable between two ``step()`` calls); the trainable asks for it
  with :class:`BatchSizeUpdates` and trains on at the new size, with no pause and no restore;
- **by restart** (``switch_via="restart"``, and the automatic fallback for a trainable that does
  not ask): the scheduler pauses the trial, sets ``config["batch_size"]`` and Tune restarts it
  from the checkpoint of that report. Such a trainable only reads ``config["batch_size"]`` when it
  starts and restores its checkpoint; it needs nothing from tune-bs. A restart costs seconds (a
  new worker or a reset, the restore), so the scheduler switches it only where that pays.

Both APIs switch in place with :class:`BatchSizeUpdates`:

- **function trainable**: call :meth:`~BatchSizeUpdates.after_report` exactly once after every
  ``tune.report``; it returns ``True`` when the batch size changed (then read
  :attr:`~BatchSizeUpdates.batch_size`);
- **class trainable** (``tune.Trainable``): create it in ``setup`` on ``self.config`` (``setup``
  receives a copy) with ``trial_id=self.trial_id``, and call :meth:`~BatchSizeUpdates.at_report`
  with ``self.iteration`` at the start of every ``step()`` (Ray restores ``self.iteration`` with
  a checkpoint, so a restored trial keeps its count).

Rules of :class:`BatchSizeUpdates`:

- A switch is keyed on the trial's report count (Ray's ``training_iteration``): a fresh trial
  starts at 0; a function trainable that restores a checkpoint must say how many reports it had
  made when that checkpoint was reported (``reports=``, e.g. the epoch it saved when it reports
  once per epoch). Without it the count is unknown: this object then never takes a switch, and
  the scheduler, seeing the old batch size in the next report, switches the trial by restart.
- A switch taken here is also written into ``config`` (the batch size, and the accumulation
  steps when not 1; ``_switch_at`` only where a restart by the scheduler put it there), so the
  config the trainable holds, and the one in its results, show the size in force.
- Outside a Tune trial, or when the scheduler switches by restart only, there is no board:
  :meth:`~BatchSizeUpdates.after_report` counts the report and returns ``False``.

Example (function API)::

    def train(config):
        state = load(tune.get_checkpoint())  # your restore; None on a fresh start
        updates = BatchSizeUpdates(config, reports=state.epoch if state else 0)
        for epoch in range(state.epoch if state else 0, EPOCHS):
            for x, y in DataLoader(data, batch_size=updates.batch_size, shuffle=True):
                ...
            tune.report({"val_loss": ..., "samples_seen": ..., "batch_size": updates.batch_size,
                         "wall_time_s": time.time()}, checkpoint=save(epoch + 1))
            updates.after_report()  # the next epoch uses the size the scheduler chose

Example (class API)::

    class Train(tune.Trainable):
        def setup(self, config):
            self.updates = BatchSizeUpdates(self.config, trial_id=self.trial_id)

        def step(self):
            self.updates.at_report(self.iteration)  # the size decided on the last report
            for x, y in DataLoader(data, batch_size=self.updates.batch_size, shuffle=True):
                ...
            return {"val_loss": ..., "samples_seen": ..., "batch_size": self.updates.batch_size,
                    "wall_time_s": time.time()}
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import MutableMapping
from typing import Any

from tune_bs.schedule.report_keys import ReportKeys
from tune_bs.schedule.switch_board import (
    BOARD_KEY,
    SWITCH_AT,
    BoardClient,
    Switch,
    running_board,
)

logger = logging.getLogger(__name__)


class BatchSizeUpdates:
    """Ask the scheduler, after each ``tune.report``, whether this trial's batch size changed.

    Args:
        config: the trial's config as the trainable received it (updated in place on a switch).
        reports: reports the trial made before this (re)start: 0 on a fresh start, the count
            saved with the checkpoint it restored from; ``None`` means 0 on a fresh start and
            unknown after a restore (see the module rules). A class trainable passes its count
            to :meth:`at_report` instead.
        keys: the config keys of the batch size and the accumulation steps
            (:class:`~tune_bs.schedule.report_keys.ReportKeys`; the defaults are ``batch_size`` and
            ``accumulation_steps``).
        trial_id: the trial's id — a class trainable's ``self.trial_id`` (a function trainable's
            is read from its Tune session).
    """

    def __init__(
        self,
        config: MutableMapping[str, Any],
        reports: int | None = None,
        keys: ReportKeys | None = None,
        trial_id: str | None = None,
    ) -> None:
        self._config = config
        self._keys = keys = keys or ReportKeys()
        in_class = trial_id is not None
        trial_id = trial_id or _trial_id()
        keys.check_config(config, trial_id or "(outside Tune)")
        #: Samples per minibatch in force now.
        self.batch_size: int = int(config[keys.config_batch_size])
        #: Minibatches per optimizer step in force now.
        self.accumulation_steps: int = int(config.get(keys.config_accumulation_steps, 1))
        self._client = self._board_client(trial_id, 0 if in_class else reports)
        #: Reports this trial has made (its ``training_iteration`` after the latest one).
        self.reports: int = int(reports or 0)

    def after_report(self) -> bool:
        """Count the report just made; ``True`` when the scheduler switched the batch size on
        it (then :attr:`batch_size` and :attr:`accumulation_steps` hold the new values).
        Function API: call it once after every ``tune.report``."""
        return self.at_report(self.reports + 1)

    def at_report(self, reports: int) -> bool:
        """The trial has made ``reports`` reports (a class trainable's ``self.iteration`` at
        the start of ``step()``): take the switch decided on the last of them; ``True`` when the
        batch size changed. Asking twice for one report changes nothing."""
        if reports == self.reports and reports > 0:
            return False
        self.reports = int(reports)
        if self._client is None or reports < 1:
            return False
        switch: Switch | None = self._client.take(self.reports)
        if switch is None:
            return False
        batch_size, accumulation_steps, report_index = switch
        changed = (batch_size, accumulation_steps) != (self.batch_size, self.accumulation_steps)
        self.batch_size, self.accumulation_steps = int(batch_size), int(accumulation_steps)
        self._config[self._keys.config_batch_size] = self.batch_size
        steps = self._keys.config_accumulation_steps
        if self.accumulation_steps != 1 or steps in self._config:
            self._config[steps] = self.accumulation_steps
        if SWITCH_AT in self._config:  # a trial restarted by the scheduler: keep it current
            self._config[SWITCH_AT] = int(report_index)
        return changed

    def _board_client(self, trial_id: str | None, reports: int | None) -> BoardClient | None:
        """The board of this trial's scheduler, or ``None`` (no board, or an unknown count)."""
        board = self._config.get(BOARD_KEY) or running_board()
        if not board:
            return None
        if trial_id is None:
            logger.warning(
                "BatchSizeUpdates cannot tell which trial it is in (a class tune.Trainable has "
                "no function session): this trial switches by restart. To switch it in place, "
                "create it with BatchSizeUpdates(self.config, trial_id=self.trial_id) and call "
                "at_report(self.iteration) at the start of step()."
            )
            return None
        if reports is None and _restored():
            logger.warning(
                "trial %s restored a checkpoint, but BatchSizeUpdates was not told how many "
                "reports it had made (reports=...); its batch-size switches go by restart.",
                trial_id,
            )
            return None
        return BoardClient(str(board), trial_id)


def _trial_id() -> str | None:
    """The running function trial's id, ``None`` outside one (Ray's warning that a class
    trainable has no such session is replaced by :meth:`BatchSizeUpdates._board_client`'s)."""
    from ray import tune

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return tune.get_context().get_trial_id()
    except Exception:  # no Tune session in this process
        return None


def _restored() -> bool:
    """Whether this trial (re)started from a checkpoint."""
    from ray import tune

    try:
        return tune.get_checkpoint() is not None
    except Exception:  # no Tune session in this process
        return False
