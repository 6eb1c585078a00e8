"""The ledger of trials: what the extrapolation scheduler knows of every trial it has seen.

:class:`TrialLedger` owns, per trial: its Tune ``Trial``, its reports as reported and on the
policy's clock, whether it has finished, the last value of the experiment's metric, its group
(which trials pool curves with it) and, for a trial restored with results, the schedule its
``result.json`` records. Nothing else in the scheduler holds any of these.

Time: the trial's float ``trial_time_s`` (:mod:`tune_bs.train.clock`; worker start-up,
checkpointing and restores are not in it). A trainable that does not report it is timed on Tune's
``time_total_s`` less its start-up (worker, data, model: seconds on small data sets, paid once by
every trial, which would otherwise decide early equal-compute comparisons), estimated from its
first two reports as the first report's time less its samples at the pace of the second interval
(:func:`~tune_bs.schedule.trial_results.startup_seconds`). The shared clock is the trial's float
``wall_time_s`` (Ray's whole-second ``timestamp`` is never read).

Histories are keyed on ``training_iteration``: a re-reported iteration replaces the old one.

Rivals and peers: every other trial of the scheduler is a *rival* (all report the same metric on
the same x-axis, through one :class:`~tune_bs.schedule.report_keys.ReportKeys`): rule 3 compares
a trial with each, whatever their other hyperparameters. A rival whose config equals this
trial's apart from ``batch_size``, ``accumulation_steps``, ``seed``, the sampled
``batch_size_initial`` and keys starting with ``_`` is also a *peer*: it pools curves with it
(:attr:`~tune_bs.schedule.switching.Peer.pools`).

Restarts: Tune keeps no scheduler state (ray-project/ray#30838; a pickled scheduler in
``tuner.pkl`` starts empty). A trial first seen with results (after ``Tuner.restore`` /
``tune-bs resume``) gets its history rebuilt from the ``result.json`` in the storage path; up to
its last line the schedule it had is the rule (it switches exactly where ``result.json`` shows a
new batch size and nowhere else: :meth:`TrialLedger.recorded_decision`). A restored trial
restarts from the checkpoint of its last result in Tune's saved state, which may be older than
that last line: :meth:`TrialLedger.restored` cuts its history back to that result, and the
scheduler replays the decision due there before the first trial is handed out.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from ray.tune.experiment import Trial

from tune_bs import metrics as m
from tune_bs.schedule.report_keys import ReportKeys
from tune_bs.schedule.switching import Decision, Peer, Report, Rule
from tune_bs.schedule.trial_results import (
    budget_of,
    finite,
    read_results,
    shifted,
    start_size,
    startup_seconds,
)

#: The scheduler's own logger (its messages read as one log).
logger = logging.getLogger("tune_bs.schedule.extrapolation")

#: Config keys that do not separate peers besides the batch size and accumulation steps (see the
#: module docstring).
NOT_GROUPING = frozenset({"seed"})


class TrialLedger:
    """Every trial's reports, status, group and last metric (module docstring).

    Args:
        keys: the result and config keys the trainable uses.
        metric, mode: the experiment's metric and mode (``None`` until Tune sets them:
            :meth:`set_metric`).
    """

    def __init__(self, keys: ReportKeys, metric: str | None, mode: str | None) -> None:
        self.keys = keys
        self.metric = metric
        self.mode = mode
        self._trials: dict[str, Trial] = {}
        self._raw: dict[str, list[Report]] = {}  # as reported (time_total_s)
        self._histories: dict[str, list[Report]] = {}  # on the policy's clock
        self._startups: dict[str, float] = {}
        self._finished: set[str] = set()
        self._restored: list[str] = []
        self._recorded: dict[str, list[tuple[int, int]]] = {}
        self._groups: dict[str, str] = {}
        self._peer_memo: dict[tuple[str, bool], tuple[tuple, Peer]] = {}
        self._last_metric: dict[str, Any] = {}

    def set_metric(self, metric: str | None, mode: str | None) -> None:
        self.metric, self.mode = metric, mode

    @property
    def curve_metric(self) -> str:
        """The reported value whose curve the policy fits."""
        return self.keys.val_loss

    # --- trials -------------------------------------------------------------------------------
    def add(self, trial: Trial) -> None:
        """Know ``trial``: read the history its ``result.json`` holds (a restored trial)."""
        self._trials[trial.trial_id] = trial
        self._raw[trial.trial_id] = self._history_on_disk(trial)
        history = self._sync(trial.trial_id)
        if trial.status in (Trial.TERMINATED, Trial.ERROR):
            self._finished.add(trial.trial_id)
        elif history:
            self._restored.append(trial.trial_id)
            self._recorded[trial.trial_id] = [(r.batch_size, r.accumulation_steps) for r in history]

    def see(self, trial: Trial) -> None:
        """Know ``trial`` (a result may come from a trial never added, in tests)."""
        self._trials.setdefault(trial.trial_id, trial)

    def finish(self, trial_id: str) -> None:
        """The trial ended (completed, stopped, removed)."""
        self._finished.add(trial_id)

    def history(self, trial_id: str) -> list[Report]:
        """The trial's reports on the policy's clock (the ledger's own list: do not change it)."""
        return self._histories.get(trial_id, [])

    # --- results ------------------------------------------------------------------------------
    def sign(self) -> float:
        """-1 when the fitted value is the experiment's metric and higher is better, else 1."""
        return -1.0 if self.curve_metric == self.metric and self.mode == "max" else 1.0

    def report(self, trial: Trial, result: Mapping[str, Any]) -> Report | None:
        """A :class:`Report` from one Tune result, or ``None`` when it lacks the curve's keys
        (a live result has been checked by :meth:`ReportKeys.check_result`; rows read back
        from ``result.json`` have not).

        Time is the trial's own float ``keys.trial_time`` when reported (else Ray's
        ``time_total_s``, less the start-up :meth:`_sync` estimates); the shared clock is the
        trial's float ``keys.wall_time`` (Ray's whole-second ``timestamp`` is never used).
        """
        keys = self.keys
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
            val_loss=self.sign() * value if math.isfinite(value) else value,
            batch_size=int(result[keys.batch_size]),
            time_s=float(result[time_key]),
            accumulation_steps=int(
                result.get(keys.accumulation_steps, config.get(keys.config_accumulation_steps, 1))
            ),
            wall_time=None if wall is None else float(wall),
            budget_samples=budget_of(config, keys.config_budget),
            own_clock=own_clock,
        )

    def record(self, trial: Trial, result: Mapping[str, Any]) -> list[Report] | None:
        """Add a result to the trial's history (replacing a re-reported iteration) and note its
        value of the experiment's metric; the history, or ``None`` when the result lacks the
        curve's keys."""
        report = self.report(trial, result)
        if report is None:
            return None
        if self.metric and self.metric in result:
            self._last_metric[trial.trial_id] = result[self.metric]
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

    # --- peers --------------------------------------------------------------------------------
    def _group(self, trial: Trial) -> str:
        """The trial's config without the keys that do not separate peers (memoised: a switch
        changes only such keys)."""
        group = self._groups.get(trial.trial_id)
        if group is None:
            own = {
                self.keys.config_batch_size,
                self.keys.config_accumulation_steps,
                self.keys.config_batch_size_initial,
            }
            config = {
                k: v
                for k, v in trial.config.items()
                if k not in NOT_GROUPING | own and not str(k).startswith("_")
            }
            group = self._groups[trial.trial_id] = json.dumps(config, sort_keys=True, default=str)
        return group

    def peers(self, trial: Trial) -> dict[str, Peer]:
        """Every other trial as the policy's :class:`~tune_bs.schedule.switching.Peer` (a rival;
        ``pools`` when in the trial's group), trials yet to report included: they show the size
        they start at."""
        group = self._group(trial)
        peers = {}
        for trial_id, other in self._trials.items():
            if trial_id == trial.trial_id:
                continue
            pools = self._group(other) == group
            history = self._histories.get(trial_id, ())
            alive = trial_id not in self._finished and other.status != Trial.ERROR
            start = start_size(other.config, self.keys)
            state = (len(history), history[-1] if history else None, alive, start)
            memo = self._peer_memo.get((trial_id, pools))
            if memo is None or memo[0] != state:  # a Peer per new report, reused until then
                memo = (state, Peer(tuple(history), alive, start, pools))
                self._peer_memo[(trial_id, pools)] = memo
            peers[trial_id] = memo[1]
        return peers

    def leads(self, trial: Trial) -> bool:
        """The trial's last value of the experiment's metric is the best of every trial's (ties
        included) — when that metric is not the fitted curve's."""
        if self.metric in (None, self.curve_metric):
            return False
        own = finite(self._last_metric.get(trial.trial_id))
        if own is None:
            return False
        sign = 1.0 if self.mode == "max" else -1.0
        others = (
            finite(value)
            for trial_id, value in self._last_metric.items()
            if trial_id != trial.trial_id
        )
        return all(v is None or sign * own >= sign * v for v in others)

    # --- restored trials ----------------------------------------------------------------------
    def recorded_decision(self, trial: Trial) -> Decision | None:
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
        action = "continue" if following == (last.batch_size, last.accumulation_steps) else "switch"
        return Decision(action, *following, "as recorded before the restore", n, Rule.RECORDED)

    def restored(self) -> list[Trial]:
        """The restored trials still to start (once: the list empties), each with its history cut
        back to its last result in Tune's saved state (it restarts from that checkpoint)."""
        out = []
        for trial_id in self._restored:
            trial = self._trials[trial_id]
            raw = self._raw.get(trial_id, [])
            if trial_id in self._finished or trial.status not in (Trial.PENDING, Trial.PAUSED):
                continue
            known = (trial.last_result or {}).get(m.TRAINING_ITERATION)
            del raw[int(known) if known is not None else len(raw) :]
            if self._sync(trial_id):
                out.append(trial)
        self._restored.clear()
        return out

    def _history_on_disk(self, trial: Trial) -> list[Report]:
        """The trial's reports from its ``result.json`` (one per iteration, the latest kept)."""
        by_iteration: dict[int, Report] = {}
        for line in read_results(trial).splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed driver
            report = self.report(trial, row) if isinstance(row, dict) else None
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
