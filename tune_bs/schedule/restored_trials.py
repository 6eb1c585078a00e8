"""Restored trials: the extrapolation scheduler's memory after a restart (a mixin of the scheduler).

Tune keeps no scheduler state (ray-project/ray#30838; a pickled scheduler in ``tuner.pkl``
starts empty): histories are keyed on ``training_iteration`` (a re-reported
iteration replaces the old one), and a trial first seen with results (after ``Tuner.restore`` /
``tune-bs resume``) gets its history rebuilt from the ``result.json`` in the storage path. A
restored trial restarts from the checkpoint of its last result in Tune's saved state, which may
be older than the last line of its ``result.json``; up to that line the schedule it had is the
rule (it switches exactly where ``result.json`` shows a new batch size and nowhere else). After
that, the policy's decision on its last report is replayed (peers as of that report, by
``wall_time_s``) before the first trial is handed out. A switch is applied only when its report
index is above the trial's ``_switch_at``, so none is ever applied twice.

:class:`RestoredTrials` is a mixin of
:class:`~tune_bs.schedule.extrapolation.ExtrapolationScheduler` and works on its state (``_trials``,
``_raw``, ``_histories``, ``_recorded``, ``_restored``, ``_finished``, ``_keys``) and its steps
``_report``, ``_sync``, ``_decide``, ``_applicable`` and ``_apply``.
"""

from __future__ import annotations

import json
import logging

from ray.tune.experiment import Trial

from tune_bs import metrics as m
from tune_bs.schedule.switching import Decision, Report
from tune_bs.schedule.trial_results import read_results

#: The scheduler's own logger (its messages read as one log).
logger = logging.getLogger("tune_bs.schedule.extrapolation")


class RestoredTrials:
    """Rebuild a restored trial's history from disk and replay the switch it was due."""

    def _recorded_decision(self, trial: Trial) -> Decision | None:
        """Inside the iterations a restored trial had reported before: the switch it made after
        this report (as its ``result.json`` shows), else continue. ``None`` past that range."""
        recorded = self._recorded.get(trial.trial_id)
        history = self._histories[trial.trial_id]
        n = len(history)
        if recorded is None or n >= len(recorded):
            self._recorded.pop(trial.trial_id, None)
            return None
        last = history[-1]
        following = recorded[n]
        if following == (last.batch_size, last.accumulation_steps):
            return Decision("continue", *following, "as recorded before the restore", n)
        return Decision("switch", *following, "as recorded before the restore", n)

    def _replay_restored(self) -> None:
        """Apply the switches restored trials were given but did not get (see module docstring).

        A restored trial restarts from the checkpoint of its last result known to Tune, which may
        be older than its last line in ``result.json``: the decision after that result is the
        recorded one when the trial reported past it, else the policy's, replayed.
        """
        for trial_id in self._restored:
            trial = self._trials[trial_id]
            raw = self._raw.get(trial_id, [])
            if trial_id in self._finished or trial.status not in (Trial.PENDING, Trial.PAUSED):
                continue
            known = (trial.last_result or {}).get(m.TRAINING_ITERATION)
            del raw[int(known) if known is not None else len(raw) :]
            history = self._sync(trial_id)
            if not history:
                continue
            decision = self._recorded_decision(trial) or self._decide(trial)
            last = {self._keys.samples_seen: history[-1].samples_seen}
            if decision.action == "switch" and self._applicable(trial, decision, last):
                logger.info(
                    "restored trial %s: applying the switch to batch size %d x %d "
                    "decided after report %d",
                    trial_id,
                    decision.batch_size,
                    decision.accumulation_steps,
                    decision.report_index,
                )
                self._apply(trial, decision)
        self._restored.clear()

    def _history_on_disk(self, trial: Trial) -> list[Report]:
        """The trial's reports from its ``result.json`` (one per iteration, the latest kept)."""
        by_iteration: dict[int, Report] = {}
        for line in read_results(trial).splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed driver
            report = self._report(trial, row) if isinstance(row, dict) else None
            if report is not None:
                by_iteration[int(row.get(m.TRAINING_ITERATION, len(by_iteration) + 1))] = report
        history: list[Report] = []
        for iteration in sorted(by_iteration):
            if iteration != len(history) + 1:
                logger.warning(
                    "result.json of trial %s lacks report %d; the scheduler uses its "
                    "first %d reports.",
                    trial.trial_id,
                    len(history) + 1,
                    len(history),
                )
                break
            history.append(by_iteration[iteration])
        return history
