"""Trial histories: the extrapolation scheduler's reports per trial, on the policy's clock.

Time: the trial's float ``trial_time_s`` (:mod:`tune_bs.train.clock`; worker start-up, checkpointing
and restores are not in it). A trainable that does not report it is timed on Tune's
``time_total_s`` less its start-up (worker, data, model: seconds on small data sets, paid once
by every trial, which would otherwise decide early equal-compute comparisons), estimated from
its first two reports as the first report's time less its samples at the pace of the second
interval. The shared clock is the trial's float ``wall_time_s`` (Ray's whole-second
``timestamp`` is never read); the time a switch costs (pause, restore) is measured on it.

Histories are keyed on ``training_iteration``: a re-reported iteration replaces the old one.

:class:`TrialHistories` is a mixin of
:class:`~tune_bs.schedule.extrapolation.ExtrapolationScheduler` and works on its state:
``_keys``, ``_metric``, ``_mode``, ``_curve_metric``, ``_raw``, ``_histories`` and ``_startups``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ray.tune.experiment import Trial

from tune_bs import metrics as m
from tune_bs.schedule.switching import Report
from tune_bs.schedule.trial_results import budget_of, shifted, startup_seconds


class TrialHistories:
    """Turn Tune results into :class:`~tune_bs.schedule.switching.Report` histories."""

    def _sign(self) -> float:
        return -1.0 if self._curve_metric == self._metric and self._mode == "max" else 1.0

    def _report(self, trial: Trial, result: Mapping[str, Any]) -> Report | None:
        """A :class:`Report` from one Tune result, or ``None`` when it lacks the curve's keys
        (a live result has been checked by :meth:`ReportKeys.check_result`; rows read back
        from ``result.json`` have not).

        Time is the trial's own float ``keys.trial_time`` when reported (else Ray's
        ``time_total_s``, less the start-up :meth:`_sync` estimates); the shared clock is the
        trial's float ``keys.wall_time`` (Ray's whole-second ``timestamp`` is never used).
        """
        keys = self._keys
        own_clock = result.get(keys.trial_time) is not None
        time_key = keys.trial_time if own_clock else m.TIME_TOTAL_S
        needed = (keys.val_loss, keys.samples_seen, keys.batch_size, time_key)
        if any(result.get(key) is None for key in needed):
            return None
        config = trial.config
        value = float(result[keys.val_loss])
        wall = result.get(keys.wall_time)
        return Report(
            samples_seen=float(result[keys.samples_seen]),
            val_loss=self._sign() * value if math.isfinite(value) else value,
            batch_size=int(result[keys.batch_size]),
            time_s=float(result[time_key]),
            accumulation_steps=int(
                result.get(keys.accumulation_steps, config.get(keys.config_accumulation_steps, 1))
            ),
            wall_time=None if wall is None else float(wall),
            budget_samples=budget_of(config, keys.config_budget),
            own_clock=own_clock,
        )

    def _record(self, trial: Trial, result: Mapping[str, Any]) -> list[Report] | None:
        """Add a result to the trial's history (replacing a re-reported iteration)."""
        report = self._report(trial, result)
        if report is None:
            return None
        raw = self._raw.setdefault(trial.trial_id, [])
        iteration = int(result.get(m.TRAINING_ITERATION, len(raw) + 1))
        if iteration == len(raw) and raw[-1] == report:
            return self._histories[trial.trial_id]  # the same result again (on completion)
        if iteration <= len(raw):
            del raw[iteration - 1 :]
        raw.append(report)
        return self._sync(trial.trial_id)

    def _sync(self, trial_id: str) -> list[Report]:
        """The trial's history on the policy's clock: ``trial_time_s``, or ``time_total_s`` minus
        its start-up for a trainable that does not report its own clock."""
        raw = self._raw[trial_id]
        startup = 0.0 if raw and raw[0].own_clock else startup_seconds(raw)
        history = self._histories.get(trial_id)
        if (
            history is not None
            and len(history) == len(raw) - 1
            and (startup == self._startups.get(trial_id))
        ):
            history.append(shifted(raw[-1], startup))  # the usual case: one more report
        else:
            history = [shifted(r, startup) for r in raw]
            self._histories[trial_id] = history
        self._startups[trial_id] = startup
        return history
