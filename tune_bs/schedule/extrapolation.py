"""The loss-curve extrapolation scheduler: switch each trial's batch size, stop hopeless trials.

:class:`ExtrapolationScheduler` is a Ray Tune ``FIFOScheduler`` that applies the pure policy
:func:`tune_bs.schedule.switching.decide` to every result and carries its decisions out through Tune
itself (docs/design.md §7). What it decides — explore the candidate sizes nothing covers, switch to
the size whose curve promises the fastest loss decrease, judge and revert switches, stop hopeless
trials — is stated once, with its units and margins, in the docstring of
:mod:`tune_bs.schedule.switching`; this module only carries the decisions out, with one exception of
its own: it never stops the trial that leads its group on the experiment's metric when that metric
is not the fitted ``val_loss`` (e.g. the best last ``val_probe_acc``). No decision is taken on the
report that ends a trial's budget (a switch there would change nothing).

Time: the trial's own float ``trial_time_s``, else Tune's ``time_total_s`` less its start-up;
the shared clock is its float ``wall_time_s`` (:mod:`tune_bs.schedule.trial_histories`).

How a decision reaches the trial: **continue** → ``CONTINUE``; **stop** → ``STOP``; **switch**
→ restart-free through the switch board (``switch_via: inplace``, the default) or by ``PAUSE``
and a restart from the trial's checkpoint (``switch_via: restart``), as
:mod:`tune_bs.schedule.switch_delivery` states.

Out of memory: a trial that reports ``oom_batch_size`` (:mod:`tune_bs.search.trainable`) is
never switched to a loader batch of that size or more: those candidates are left out of the
settings its decisions are taken with (with ``action: accumulation``, its largest loader batch
is capped at half that size), and a switch back to one (rule 5) is not made.

Peers: the trials whose config equals this trial's apart from the batch size, the accumulation
steps, the seed and private keys (:mod:`tune_bs.schedule.peer_groups`).

Restart safety: Tune keeps no scheduler state; a trial first seen with results (after
``Tuner.restore`` / ``tune-bs resume``) gets its history rebuilt from its ``result.json`` and the
switch it was due replayed (:mod:`tune_bs.schedule.restored_trials`).

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
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ray.tune.experiment import Trial
from ray.tune.result import SHOULD_CHECKPOINT
from ray.tune.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

from tune_bs.errors import UserInputError
from tune_bs.schedule.peer_groups import PeerGroups
from tune_bs.schedule.report_keys import ReportKeys
from tune_bs.schedule.restored_trials import RestoredTrials
from tune_bs.schedule.switch_board import BOARD_KEY, BOARD_NAME, SWITCH_AT
from tune_bs.schedule.switch_delivery import SwitchDelivery
from tune_bs.schedule.switching import Decision, FitCache, Peer, Report, SwitchSettings, decide
from tune_bs.schedule.trial_histories import TrialHistories
from tune_bs.schedule.trial_results import budget_of, carries_metrics, memory_limit

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController

logger = logging.getLogger(__name__)

Policy = Callable[[Sequence[Report], Mapping[str, Peer], SwitchSettings, FitCache], Decision]


class ExtrapolationScheduler(
    TrialHistories, PeerGroups, SwitchDelivery, RestoredTrials, FIFOScheduler
):
    """Switch each trial's batch size by loss-curve extrapolation; stop hopeless trials.

    The rule and its units are in the module docstring (and, exactly, in
    :mod:`tune_bs.schedule.switching`).

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
        self._settings = settings
        self._metric = metric
        self._mode = mode
        keys = keys or ReportKeys()
        self._keys = replace(keys, val_loss=curve_metric) if curve_metric else keys
        self._curve_metric = self._keys.val_loss
        self._policy = policy
        self._board = board
        self._cache = FitCache()
        self._trials: dict[str, Trial] = {}
        self._raw: dict[str, list[Report]] = {}  # as reported (time_total_s)
        self._histories: dict[str, list[Report]] = {}  # on the policy's clock
        self._finished: set[str] = set()
        self._pending: dict[str, Decision] = {}
        self._restored: list[str] = []
        self._startups: dict[str, float] = {}
        self._recorded: dict[str, list[tuple[int, int]]] = {}
        self._counts: Counter[str] = Counter()
        self._groups: dict[str, str] = {}
        self._last_metric: dict[str, Any] = {}
        self._peer_memo: dict[str, tuple[tuple, Peer]] = {}
        self._awaiting: dict[str, Decision] = {}  # restart-free switches not yet seen taken
        self._polling: set[str] = set()  # trials seen taking a restart-free switch
        self._checkpointed: set[str] = set()  # trials that reported a checkpoint
        self._warned: set[tuple[str, str]] = set()

    @property
    def settings(self) -> SwitchSettings:
        return self._settings

    def __getstate__(self) -> dict[str, Any]:
        """Settings only: a pickled copy (``tuner.pkl``) starts empty and rebuilds from disk."""
        state = self.__dict__.copy()
        state.update(
            _board=None,
            _cache=FitCache(),
            _trials={},
            _raw={},
            _histories={},
            _finished=set(),
            _pending={},
            _restored=[],
            _startups={},
            _recorded={},
            _counts=Counter(),
            _groups={},
            _last_metric={},
            _peer_memo={},
            _awaiting={},
            _polling=set(),
            _checkpointed=set(),
            _warned=set(),
        )
        return state

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if (self._metric and metric) or (self._mode and mode):
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    # --- bookkeeping --------------------------------------------------------------------------
    def on_trial_add(self, tune_controller: TuneController, trial: Trial) -> None:
        self._trials[trial.trial_id] = trial
        if self._inplace:
            self._open_board()  # before any trial starts and looks for it
            if trial.config.get(BOARD_KEY) != BOARD_NAME:
                trial.set_config({**trial.config, BOARD_KEY: BOARD_NAME})
        self._raw[trial.trial_id] = self._history_on_disk(trial)
        history = self._sync(trial.trial_id)
        if trial.status in (Trial.TERMINATED, Trial.ERROR):
            self._finished.add(trial.trial_id)
        elif history:
            self._restored.append(trial.trial_id)
            self._recorded[trial.trial_id] = [(r.batch_size, r.accumulation_steps) for r in history]

    def on_trial_complete(
        self, tune_controller: TuneController, trial: Trial, result: dict[str, Any]
    ) -> None:
        if result:
            self._record(trial, result)
        self._finished.add(trial.trial_id)
        self._pending.pop(trial.trial_id, None)

    def on_trial_remove(self, tune_controller: TuneController, trial: Trial) -> None:
        self._finished.add(trial.trial_id)
        self._pending.pop(trial.trial_id, None)

    # --- decisions ----------------------------------------------------------------------------
    def on_trial_result(
        self, tune_controller: TuneController, trial: Trial, result: dict[str, Any]
    ) -> str:
        action = self._on_result(trial, result)
        if self._inplace and action == TrialScheduler.CONTINUE:
            self._notify_board(trial, result)
        return action

    def _on_result(self, trial: Trial, result: dict[str, Any]) -> str:
        self._trials.setdefault(trial.trial_id, trial)
        if carries_metrics(result):
            self._keys.check_result(
                result, trial.trial_id, accumulation=self._settings.action == "accumulation"
            )
        if result.get(SHOULD_CHECKPOINT):
            self._checkpointed.add(trial.trial_id)
        history = self._record(trial, result)
        if history is None:
            return TrialScheduler.CONTINUE
        missed = self._missed_switch(trial, history)
        decision = self._recorded_decision(trial) if math.isfinite(history[-1].val_loss) else None
        decision = decision or self._decide(trial, result)
        if self._metric and self._metric in result:
            self._last_metric[trial.trial_id] = result[self._metric]
        if decision.action == "stop" and not decision.diverged and self._leads(trial):
            logger.info(
                "trial %s is not stopped at report %d: it leads its group on %s (%s)",
                trial.trial_id,
                decision.report_index,
                self._metric,
                decision.reason,
            )
            decision = Decision(
                "continue",
                decision.batch_size,
                decision.accumulation_steps,
                "leads on the experiment's metric",
                decision.report_index,
            )
        if decision.action == "stop":
            self._counts["diverged" if decision.diverged else "stopped"] += 1
            self._finished.add(trial.trial_id)
            logger.info(
                "trial %s stops at report %d: %s",
                trial.trial_id,
                decision.report_index,
                decision.reason,
            )
            return TrialScheduler.STOP
        if missed is not None and decision.action != "switch":
            decision = Decision(
                "switch",
                missed.batch_size,
                missed.accumulation_steps,
                "the trainable did not take the restart-free switch decided "
                f"after report {missed.report_index}",
                len(history),
            )
        if decision.action == "switch" and self._applicable(trial, decision, result):
            return self._switch(trial, decision, result, by_restart=missed is not None)
        return TrialScheduler.CONTINUE

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        if self._restored:
            self._replay_restored()
        for trial in tune_controller.get_trials():
            decision = self._pending.get(trial.trial_id)
            if decision is not None and trial.status in (Trial.PENDING, Trial.PAUSED):
                self._apply(trial, self._pending.pop(trial.trial_id))
                return trial
        return super().choose_trial_to_run(tune_controller)

    def debug_string(self) -> str:
        c = self._counts
        replaced = getattr(self._board, "replaced", 0)
        return (
            f"Using extrapolation scheduler over batch sizes {list(self._settings.batch_sizes)}: "
            f"{c['switches']} switches, {c['stopped']} stopped, {c['diverged']} diverged"
            + (f", switch board replaced {replaced} time(s)." if replaced else ".")
        )

    # --- queries ------------------------------------------------------------------------------
    def pending(self, trial_id: str) -> Decision | None:
        """The switch decided for ``trial_id`` and not yet applied, if any."""
        return self._pending.get(trial_id)

    def history(self, trial_id: str) -> list[Report]:
        """The reports the scheduler holds for ``trial_id`` (one per training iteration)."""
        return list(self._histories.get(trial_id, []))

    # --- the policy's inputs and the switch's applicability -------------------------------------
    def _decide(self, trial: Trial, result: Mapping[str, Any] | None = None) -> Decision:
        history = self._histories[trial.trial_id]
        settings = self._settings_within_memory(history, memory_limit(trial, result))
        return self._policy(history, self._peers(trial), settings, self._cache)

    def _settings_within_memory(
        self, history: Sequence[Report], limit: int | None
    ) -> SwitchSettings:
        """The settings without the candidates a trial ran out of memory at: loader batches of
        ``limit`` (its reported ``oom_batch_size``) or more (memory grows with the batch)."""
        settings = self._settings
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
