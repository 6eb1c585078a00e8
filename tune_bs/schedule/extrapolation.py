"""The loss-curve extrapolation scheduler: switch each trial's batch size, stop hopeless trials.

:class:`ExtrapolationScheduler` is a Ray Tune ``FIFOScheduler`` that applies the pure policy
:func:`tune_bs.schedule.switching.decide` to every result and carries its decisions out through Tune
itself (docs/design.md §7). What it decides — explore the candidate sizes nothing covers, switch to
the size whose curve promises the fastest loss decrease, judge and revert switches, stop hopeless
trials — is stated once, with its units and margins, in the docstring of
:mod:`tune_bs.schedule.switching`; this module only carries the decisions out, with one exception of
its own: it never stops the trial that leads the search on the experiment's metric when that
metric is not the fitted ``val_loss`` (e.g. the best last ``val_probe_acc``). No decision is taken
on the report that ends a trial's budget (a switch there would change nothing).

Time: the trial's own float ``trial_time_s``, else Tune's ``time_total_s`` less its start-up;
the shared clock is its float ``wall_time_s`` (:mod:`tune_bs.schedule.trial_ledger`).

How a decision reaches the trial: **continue** → ``CONTINUE``; **stop** → ``STOP``; **switch**
→ restart-free through the switch board (``switch_via: inplace``, the default) or by ``PAUSE``
and a restart from the trial's checkpoint (``switch_via: restart``), as
:mod:`tune_bs.schedule.switch_courier` states.

Out of memory: a trial that reports ``oom_batch_size`` (:data:`tune_bs.metrics.OOM_BATCH_SIZE`) is
never switched to a loader batch of that size or more: those candidates are left out of the
settings its decisions are taken with (with ``action: accumulation``, its largest loader batch
is capped at half that size), and a switch back to one (rule 5) is not made.

Rivals and peers: every other trial of the search is a rival (rule 3 compares them, whatever
their other hyperparameters: a random search over ``lr`` and more is the common case); those
whose config equals this trial's apart from the batch size, the accumulation steps, the seed and
private keys are also peers, whose curves it pools (:mod:`tune_bs.schedule.trial_ledger`).

Restart safety: Tune keeps no scheduler state; a trial first seen with results (after
``Tuner.restore`` / ``tune-bs resume``) gets its history rebuilt from its ``result.json`` and the
switch it was due replayed (:mod:`tune_bs.schedule.trial_ledger`).

Result files: Ray 2.60's own loggers drop the rows a paused trial wrote since the last upload
to storage; run with :func:`tune_bs.schedule.schedulers.logger_callbacks`
(:mod:`tune_bs.schedule.result_loggers`).

Keys (:class:`~tune_bs.schedule.report_keys.ReportKeys`; the names above are the defaults): every
result must carry ``val_loss``, ``samples_seen``, ``batch_size`` and ``wall_time_s`` (plus
``accumulation_steps`` with ``action: accumulation``); the first result that lacks one stops the
run with a one-line :class:`~tune_bs.errors.UserInputError` naming it (as Ray Tune does for a
missing metric). Rows read back from ``result.json`` after a restore are not checked (one that
lacks a key ends the history there).

Example::

    from ray import tune
    from tune_bs import ExtrapolationScheduler, ReportKeys, SwitchSettings, logger_callbacks

    scheduler = ExtrapolationScheduler(SwitchSettings(batch_sizes=(8, 16, 32, 64)),
                                       keys=ReportKeys(val_loss="loss"))  # if named so
    tuner = tune.Tuner(
        trainable,  # reports loss, samples_seen, batch_size, wall_time_s + a checkpoint
        param_space={"batch_size": tune.grid_search([8, 16, 32, 64]), "lr": 1e-3},
        tune_config=tune.TuneConfig(metric="val_probe_acc", mode="max", scheduler=scheduler),
        run_config=tune.RunConfig(callbacks=logger_callbacks()),
    )

In a search space: ``scheduler: {name: extrapolation, batch_sizes: [8, 16, 32, 64]}`` plus any
field of :class:`~tune_bs.schedule.switching.SwitchSettings` (``action: accumulation`` raises the
number of accumulated minibatches instead of the loader's batch size).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ray.tune.experiment import Trial
from ray.tune.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.schedule.decision_log import DecisionLog
from tune_bs.schedule.report_keys import ReportKeys, check_mode
from tune_bs.schedule.switch_board import SWITCH_AT
from tune_bs.schedule.switch_courier import SwitchCourier
from tune_bs.schedule.switching import (
    Decision,
    FitCache,
    Peer,
    Report,
    Rule,
    SwitchSettings,
    decide,
)
from tune_bs.schedule.trial_ledger import TrialLedger
from tune_bs.schedule.trial_results import budget_of, carries_metrics, memory_limit

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController

logger = logging.getLogger(__name__)

Policy = Callable[[Sequence[Report], Mapping[str, Peer], SwitchSettings, FitCache], Decision]


class ExtrapolationScheduler(FIFOScheduler):
    """Switch each trial's batch size by loss-curve extrapolation; stop hopeless trials.

    The rule and its units are in the module docstring (and, exactly, in
    :mod:`tune_bs.schedule.switching`). Each result goes: check its keys → record it in the
    :class:`~tune_bs.schedule.trial_ledger.TrialLedger` → decide (the policy) → deliver (Tune's
    action; a switch through the :class:`~tune_bs.schedule.switch_courier.SwitchCourier`).

    Args:
        settings: the policy's settings: candidate batch sizes (samples per optimizer step),
            report counts (grace, segment, probe), relative margins (switch, stop) and band
            widths (standard deviations); see :class:`~tune_bs.schedule.switching.SwitchSettings`.
        metric: the Tune metric (taken from ``TuneConfig`` when ``None``). It only matters when
            it is ``curve_metric``: with ``mode="max"`` that metric is negated before fitting.
        mode: ``"min"`` or ``"max"`` (taken from ``TuneConfig`` when ``None``).
        curve_metric: the reported value whose curve is fitted, when not ``keys.val_loss``
            (docs/design.md §4: ``val_loss`` is the only loss comparable across batch sizes).
        policy: the decision function (``decide``); tests pass a scripted one.
        board: where restart-free switches are posted (``settings.switch_via == "inplace"``):
            ``None`` for the named Ray actor of :mod:`tune_bs.schedule.switch_board` (created on the
            first switch); tests pass a plain :class:`~tune_bs.schedule.switch_board.SwitchBoard`.
        keys: the result and config keys the scheduler reads
            (:class:`~tune_bs.schedule.report_keys.ReportKeys`; default: tune-bs's own names). Every
            result must carry the required ones: one that does not stops the run with a
            one-line error naming them.
    """

    _supports_buffered_results = False

    def __init__(
        self,
        settings: SwitchSettings,
        metric: str | None = None,
        mode: str | None = None,
        curve_metric: str | None = None,
        policy: Policy = decide,
        board: Any = None,
        keys: ReportKeys | None = None,
    ) -> None:
        super().__init__()
        if mode not in (None, "min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', but got mode={mode!r}.")
        if not isinstance(settings, SwitchSettings):
            raise UserInputError(
                f"settings must be a SwitchSettings, but got {settings!r}; write e.g. "
                "ExtrapolationScheduler(SwitchSettings(batch_sizes=(16, 32, 64)))."
            )
        if keys is not None and not isinstance(keys, ReportKeys):
            raise UserInputError(
                f"keys must be a ReportKeys, but got {keys!r}; write e.g. "
                "keys=ReportKeys(val_loss='loss')."
            )
        keys = keys or ReportKeys()
        check_mode(metric, mode)
        self._settings = settings
        self._keys = replace(keys, val_loss=curve_metric) if curve_metric else keys
        self._policy = policy
        self.__dict__.update(self._fresh_state(metric, mode, board))

    def _fresh_state(self, metric: str | None, mode: str | None, board: Any) -> dict[str, Any]:
        """The owners of the scheduler's state, empty: the ledger of trials, the courier of
        switches, the decision log and the policy's memo."""
        log = DecisionLog(self._settings.batch_sizes)
        return {
            "_ledger": TrialLedger(self._keys, metric, mode),
            "_log": log,
            "_courier": SwitchCourier(self._settings, self._keys, log, board),
            "_cache": FitCache(),
            "_effective": None,
        }

    @property
    def settings(self) -> SwitchSettings:
        return self._settings

    def __getstate__(self) -> dict[str, Any]:
        """Settings only: a pickled copy (``tuner.pkl``) starts empty and rebuilds from disk."""
        state = self.__dict__.copy()
        state.update(self._fresh_state(self._ledger.metric, self._ledger.mode, None))
        return state

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        ledger = self._ledger
        if (ledger.metric and metric) or (ledger.mode and mode):
            return False
        check_mode(metric or ledger.metric, mode or ledger.mode)
        ledger.set_metric(metric or ledger.metric, mode or ledger.mode)
        return True

    # --- bookkeeping --------------------------------------------------------------------------
    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        self._ledger.add(trial)
        if not self._ledger.history(trial.trial_id):  # a restored one runs where it was put
            self._keys.check_start(trial.config, self._settings.batch_sizes, trial.trial_id)
        self._courier.add(trial)

    def on_trial_complete(
        self, tune_controller: TuneController, trial: Trial, result: dict[str, Any]
    ) -> None:
        if result:
            self._ledger.record(trial, result)
        self._ledger.finish(trial.trial_id)
        self._courier.drop(trial.trial_id)

    def on_trial_remove(self, tune_controller: TuneController, trial: Trial) -> None:
        self._ledger.finish(trial.trial_id)
        self._courier.drop(trial.trial_id)

    # --- decisions ----------------------------------------------------------------------------
    def on_trial_result(
        self, tune_controller: TuneController, trial: Trial, result: dict[str, Any]
    ) -> str:
        """Check the result's keys → record it → decide → deliver (Tune's action)."""
        ledger, courier = self._ledger, self._courier
        ledger.see(trial)
        if carries_metrics(result):
            self._keys.check_result(
                result, trial.trial_id, accumulation=self._settings.action == "accumulation"
            )
        courier.note(trial, result)
        history = ledger.record(trial, result)
        action = TrialScheduler.CONTINUE
        if history is not None:
            action = self._deliver(trial, history, result)
        if courier.inplace and action == TrialScheduler.CONTINUE:
            index = len(history) if history else result.get(m.TRAINING_ITERATION)
            if index is not None:
                courier.notify(trial, int(index))
        return action

    def _deliver(self, trial: Trial, history: list[Report], result: Mapping[str, Any]) -> str:
        """The decision on the trial's last report, carried out: Tune's action."""
        missed = self._courier.missed(trial, history)
        decision = self._decision(trial, history, result)
        if decision.action == "stop":
            self._log.stopped(trial.trial_id, decision)
            self._ledger.finish(trial.trial_id)
            return TrialScheduler.STOP
        if missed is not None and decision.action != "switch":
            decision = Decision(
                "switch",
                missed.batch_size,
                missed.accumulation_steps,
                "the trainable did not take the restart-free switch decided "
                f"after report {missed.report_index}",
                len(history),
                Rule.MISSED,
            )
        if decision.action == "switch" and self._applicable(trial, decision, result):
            return self._courier.deliver(
                trial, decision, result, history[-1].loader, by_restart=missed is not None
            )
        return TrialScheduler.CONTINUE

    def _decision(
        self, trial: Trial, history: list[Report], result: Mapping[str, Any] | None
    ) -> Decision:
        """The recorded decision (a restored trial), else the policy's; a stop withheld from
        the trial that leads on the experiment's metric."""
        ledger = self._ledger
        decision = ledger.recorded_decision(trial) if math.isfinite(history[-1].val_loss) else None
        decision = decision or self._decide(trial, result)
        if decision.action == "stop" and not decision.diverged and ledger.leads(trial):
            self._log.withheld(trial.trial_id, decision, ledger.metric)
            decision = Decision(
                "continue",
                decision.batch_size,
                decision.accumulation_steps,
                "leads on the experiment's metric",
                decision.report_index,
                Rule.LEADS,
            )
        return decision

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        self._replay_restored()
        paused = self._courier.next_paused(tune_controller.get_trials())
        return paused or super().choose_trial_to_run(tune_controller)

    def _replay_restored(self) -> None:
        """Apply the switches restored trials were due and did not get: the recorded one when
        the trial reported past its last result known to Tune, else the policy's, replayed."""
        for trial in self._ledger.restored():
            history = self._ledger.history(trial.trial_id)
            decision = self._ledger.recorded_decision(trial) or self._decide(trial)
            last = {self._keys.samples_seen: history[-1].samples_seen}
            if decision.action == "switch" and self._applicable(trial, decision, last):
                logger.info(
                    "restored trial %s: applying the switch to batch size %d x %d "
                    "decided after report %d",
                    trial.trial_id,
                    decision.batch_size,
                    decision.accumulation_steps,
                    decision.report_index,
                )
                self._courier.apply(trial, decision)

    def debug_string(self) -> str:
        """The summary of the run so far: switches and stops with their counts by rule."""
        replaced = self._courier.replaced
        return f"Using {self._log.summary()}" + (
            f", switch board replaced {replaced} time(s)." if replaced else "."
        )

    # --- queries ------------------------------------------------------------------------------
    def pending(self, trial_id: str) -> Decision | None:
        """The switch decided for ``trial_id`` and not yet applied, if any."""
        return self._courier.pending(trial_id)

    def history(self, trial_id: str) -> list[Report]:
        """The reports the scheduler holds for ``trial_id`` (one per training iteration)."""
        return list(self._ledger.history(trial_id))

    # --- the policy's inputs and the switch's applicability -------------------------------------
    def _decide(self, trial: Trial, result: Mapping[str, Any] | None = None) -> Decision:
        history = self._ledger.history(trial.trial_id)
        settings = self._settings_within_memory(history, memory_limit(trial, result))
        return self._policy(history, self._ledger.peers(trial), settings, self._cache)

    def _policy_settings(self) -> SwitchSettings:
        """The settings the policy decides with: the user's, with the curve's floor stated from
        the fitted metric's range (:meth:`ReportKeys.curve_range`, in the policy's units: a
        negated metric's floor is minus its top) when the user left it open."""
        sign = self._ledger.sign()
        if self._effective is None or self._effective[0] != sign:
            settings = self._settings
            if settings.curve_floor is None:
                low, high = self._keys.curve_range()
                floor = low if sign > 0 else -high
                if math.isfinite(floor):
                    settings = replace(settings, curve_floor=floor)
            self._effective = (sign, settings)
        return self._effective[1]

    def _settings_within_memory(
        self, history: Sequence[Report], limit: int | None
    ) -> SwitchSettings:
        """The settings without the candidates a trial ran out of memory at: loader batches of
        ``limit`` (its reported ``oom_batch_size``) or more (memory grows with the batch)."""
        settings = self._policy_settings()
        if limit is None:
            return settings
        if settings.action == "accumulation":
            cap = settings.max_loader_batch_size or history[0].batch_size
            return replace(settings, max_loader_batch_size=max(1, min(cap, limit // 2)))
        allowed = tuple(b for b in settings.batch_sizes if b < limit)
        return replace(settings, batch_sizes=allowed or (max(1, limit // 2),))

    def _applicable(self, trial: Trial, decision: Decision, result: Mapping[str, Any]) -> bool:
        """A switch is applied once (above ``_switch_at``), never on the last report, and never
        to a loader batch at or above the trial's ``oom_batch_size``."""
        if decision.report_index <= int(trial.config.get(SWITCH_AT, 0)):
            return False
        limit = memory_limit(trial, result)
        if limit is not None and decision.batch_size >= limit:
            logger.info(
                "trial %s is not switched to batch size %d: it ran out of memory at %d",
                trial.trial_id,
                decision.batch_size,
                limit,
            )
            return False
        budget = budget_of(trial.config, self._keys.config_budget)
        samples = result.get(self._keys.samples_seen, 0)
        return not (budget is not None and samples >= budget) and not result.get("done")
