"""The loss-curve extrapolation scheduler: switch each trial's batch size, stop hopeless trials.

:class:`ExtrapolationScheduler` is a Ray Tune ``FIFOScheduler`` that applies the pure policy
:func:`tune_bs.schedule.switching.decide` to every result and carries its decisions out through
Tune itself (docs/design.md §7). What it decides — explore the candidate sizes nothing covers,
switch to the size
whose curve promises the fastest loss decrease, judge and revert switches, stop hopeless
trials — is stated once, with its units and margins, in the docstring of
:mod:`tune_bs.schedule.switching`; this module only carries the decisions out, with one exception of
its own: it never stops the trial that leads its group on the experiment's metric when that
metric is not the fitted ``val_loss`` (e.g. the best last ``val_probe_acc``). No decision is
taken on the report that ends a trial's budget (a switch there would change nothing).

Time: the trial's float ``trial_time_s`` (:mod:`tune_bs.train.clock`; worker start-up, checkpointing
and restores are not in it). A trainable that does not report it is timed on Tune's
``time_total_s`` less its start-up (worker, data, model: seconds on small data sets, paid once
by every trial, which would otherwise decide early equal-compute comparisons), estimated from
its first two reports as the first report's time less its samples at the pace of the second
interval. The shared clock is the trial's float ``wall_time_s`` (Ray's whole-second
``timestamp`` is never read); the time a switch costs (pause, restore) is measured on it.

How a decision reaches the trial:

- **continue** → ``CONTINUE``; **stop** → ``STOP``.
- **switch**, restart-free (``switch_via: inplace``, the default) → the decision is posted to
  the switch board (:mod:`tune_bs.schedule.switch_board`, a named Ray actor) and written into the
  trial's config (``batch_size``, ``accumulation_steps``, ``_switch_at``), and the result gets
  ``CONTINUE``: the trainable, whose ``tune.report`` returns only after this decision, takes it
  from the board and trains on at the new size — no pause, no restore. The trainable records
  the switch in ``batch_size_schedule`` and ``switches`` (its checkpoint and every report);
  the config is what a restarted trial (retry, ``tune-bs resume``) continues with. The board
  runs on the driver's node; a lost board is replaced and the post repeated, and when that
  fails too the switch falls back to a restart. Any Ray Tune function trainable
  takes switches with :class:`tune_bs.schedule.plugin.BatchSizeUpdates` (one call after each
  report). When the trial's next report still shows the batch size it had (it did not take the
  switch), that switch is carried out by restart at once (decided on that report); a trial that has
  never taken one is marked ``_switch_via: restart`` in its config and switched by restart
  from then on (a trainable that reads ``config["batch_size"]`` only when it starts needs no
  other setting; one seen taking switches before only missed this one).
- **switch** by restart (``switch_via: restart``) → ``PAUSE``, and the decision is kept until
  :meth:`~ExtrapolationScheduler.choose_trial_to_run` hands that paused trial out (before FIFO's
  pending trials) after ``trial.set_config`` with the new ``batch_size``, ``accumulation_steps``
  and ``_switch_at`` = the report index of the decision. The trainable restores its checkpoint
  (reported with every result), applies the new batch size and records the switch in
  ``batch_size_schedule`` and ``switches``, which live in its checkpoint and in every report.
  A function trainable that has never reported a checkpoint is not switched by restart (it
  would start over; a warning says so once).
- **out of memory**: a trial that reports ``oom_batch_size`` (:mod:`tune_bs.search.trainable`) is
  never switched to a loader batch of that size or more: those candidates are left out of the
  settings its decisions are taken with (with ``action: accumulation``, its largest loader batch
  is capped at half that size), and a switch back to one (rule 5) is not made.

Peers: the trials whose config equals this trial's apart from ``batch_size``,
``accumulation_steps``, ``seed`` and keys starting with ``_`` (stopped ones count as evidence;
only live ones can stop a trial). Trials that differ in anything else (e.g. ``lr``) never inform
or stop each other.

Restart safety (Tune keeps no scheduler state, ray-project/ray#30838; a pickled scheduler in
``tuner.pkl`` starts empty): histories are keyed on ``training_iteration`` (a re-reported
iteration replaces the old one), and a trial first seen with results (after ``Tuner.restore`` /
``tune-bs resume``) gets its history rebuilt from the ``result.json`` in the storage path. A
restored trial restarts from the checkpoint of its last result in Tune's saved state, which may
be older than the last line of its ``result.json``; up to that line the schedule it had is the
rule (it switches exactly where ``result.json`` shows a new batch size and nowhere else). After
that, the policy's decision on its last report is replayed (peers as of that report, by
``wall_time_s``) before the first trial is handed out. A switch is applied only when its report
index is above the trial's ``_switch_at``, so none is ever applied twice.

Result files: Ray 2.60's own loggers drop the rows a paused trial wrote since the last upload
to storage; run with :func:`tune_bs.schedule.schedulers.logger_callbacks` (see
:class:`PauseSafeJsonLogger`).

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

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune.experiment import Trial
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
from ray.tune.result import DEBUG_METRICS, DONE, SHOULD_CHECKPOINT
from ray.tune.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

from tune_bs import metrics as m
from tune_bs.errors import UserInputError
from tune_bs.schedule.report_keys import ReportKeys
from tune_bs.schedule.switch_board import (
    BOARD_KEY,
    BOARD_NAME,
    SWITCH_AT,
    BoardHost,
    SwitchBoard,
    board_errors,
)
from tune_bs.schedule.switching import Decision, FitCache, Peer, Report, SwitchSettings, decide
from tune_bs.search.trainable import OOM_BATCH_SIZE

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController

logger = logging.getLogger(__name__)

RESULT_FILE = "result.json"
#: Config keys that do not separate peers besides the batch size and accumulation steps (see the
#: module docstring).
NOT_GROUPING = frozenset({"seed"})
#: Trial-config key set to ``"restart"`` once a trial is known not to take restart-free switches.
SWITCH_VIA = "_switch_via"

Policy = Callable[[Sequence[Report], Mapping[str, Peer], SwitchSettings, FitCache], Decision]


class ExtrapolationScheduler(FIFOScheduler):
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
        if _carries_metrics(result):
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

    def _switch(
        self, trial: Trial, decision: Decision, result: Mapping[str, Any], by_restart: bool = False
    ) -> str:
        """Carry a switch out: restart-free when the trial takes those (and did take the last
        one), else by restart (when the trial can restart from a checkpoint)."""
        by_restart = by_restart or trial.config.get(SWITCH_VIA) == "restart"
        if self._inplace and not by_restart and self._post(trial, decision):
            self._log_switch(trial, decision)
            self._apply(trial, decision)  # the config a restart would continue with
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
                trial.config.get(self._keys.config_batch_size),
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
        self._log_switch(trial, decision)
        self._pending[trial.trial_id] = decision
        return TrialScheduler.PAUSE

    def _log_switch(self, trial: Trial, decision: Decision) -> None:
        self._counts["switches"] += 1
        logger.info(
            "trial %s switches to batch size %d x %d after report %d: %s",
            trial.trial_id,
            decision.batch_size,
            decision.accumulation_steps,
            decision.report_index,
            decision.reason,
        )

    def _missed_switch(self, trial: Trial, history: Sequence[Report]) -> Decision | None:
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
        self._counts["switches"] -= 1  # counted again when it is carried out by restart
        board_lost = getattr(self._board, "replaced", 0) > 0  # it may have lost the post
        if trial.trial_id not in self._polling and not board_lost:
            trial.set_config({**trial.config, SWITCH_VIA: "restart"})
            self._warn_once(
                trial,
                "no polling",
                "trial %s did not take the restart-free switch to batch size %d "
                "decided after its report %d (its next report is still at %d); it "
                "switches by restart from now on. To switch it in place, call "
                "tune_bs.BatchSizeUpdates.after_report() after each tune.report; "
                "to say it never will, use SwitchSettings(switch_via='restart').",
                trial.trial_id,
                awaited.batch_size,
                awaited.report_index,
                now.batch_size,
            )
        return awaited

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

    # --- helpers ------------------------------------------------------------------------------
    @property
    def _inplace(self) -> bool:
        return self._settings.switch_via == "inplace"

    def _open_board(self) -> None:
        """Create the board actor (once, and only inside a running Ray: never start one), on
        the driver's node; :class:`~tune_bs.schedule.switch_board.BoardHost` replaces it when
        lost."""
        import ray

        if self._board is None and ray.is_initialized():
            self._board = BoardHost()
        if isinstance(self._board, BoardHost):
            try:
                self._board.open()
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
        if isinstance(self._board, SwitchBoard):
            return self._board.post(*args)
        self._open_board()
        if self._board is not None and self._board.post(*args):
            return True
        logger.warning("switch board unreachable; trial %s switches by a restart.", trial.trial_id)
        return False

    def _notify_board(self, trial: Trial, result: Mapping[str, Any]) -> None:
        """Tell the board the decision on this report is in (without waiting): a trainable that
        asked ahead (:meth:`~tune_bs.schedule.switch_board.BoardClient.ask`) gets its answer — the
        switch posted before this, or none."""
        history = self._histories.get(trial.trial_id)
        report_index = len(history) if history else result.get(m.TRAINING_ITERATION)
        if report_index is None:
            return
        if isinstance(self._board, SwitchBoard):
            self._board.decided(trial.trial_id, int(report_index))
            return
        self._open_board()
        if self._board is not None:
            self._board.decided(trial.trial_id, int(report_index))

    def pending(self, trial_id: str) -> Decision | None:
        """The switch decided for ``trial_id`` and not yet applied, if any."""
        return self._pending.get(trial_id)

    def history(self, trial_id: str) -> list[Report]:
        """The reports the scheduler holds for ``trial_id`` (one per training iteration)."""
        return list(self._histories.get(trial_id, []))

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
            budget_samples=_budget(config, keys.config_budget),
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
        startup = 0.0 if raw and raw[0].own_clock else _startup(raw)
        history = self._histories.get(trial_id)
        if (
            history is not None
            and len(history) == len(raw) - 1
            and (startup == self._startups.get(trial_id))
        ):
            history.append(_shift(raw[-1], startup))  # the usual case: one more report
        else:
            history = [_shift(r, startup) for r in raw]
            self._histories[trial_id] = history
        self._startups[trial_id] = startup
        return history

    def _group(self, trial: Trial) -> str:
        """The trial's config without the keys that do not separate peers (memoised: a switch
        changes only such keys)."""
        group = self._groups.get(trial.trial_id)
        if group is None:
            own = {self._keys.config_batch_size, self._keys.config_accumulation_steps}
            config = {
                k: v
                for k, v in trial.config.items()
                if k not in NOT_GROUPING | own and not str(k).startswith("_")
            }
            group = self._groups[trial.trial_id] = json.dumps(config, sort_keys=True, default=str)
        return group

    def _peers(self, trial: Trial) -> dict[str, Peer]:
        """The trial's group (trials yet to report included: they show the size they start at)."""
        group = self._group(trial)
        peers = {}
        for trial_id, other in self._trials.items():
            if trial_id == trial.trial_id or self._group(other) != group:
                continue
            history = self._histories.get(trial_id, ())
            alive = trial_id not in self._finished and other.status != Trial.ERROR
            start = _start_size(other.config, self._keys)
            state = (len(history), history[-1] if history else None, alive, start)
            memo = self._peer_memo.get(trial_id)
            if memo is None or memo[0] != state:  # a Peer per new report, reused until then
                memo = (state, Peer(tuple(history), alive, start))
                self._peer_memo[trial_id] = memo
            peers[trial_id] = memo[1]
        return peers

    def _leads(self, trial: Trial) -> bool:
        """The trial's last value of the experiment's metric is the best of its group's (ties
        included) — when that metric is not the fitted curve's (rule 3's exception)."""
        if self._metric in (None, self._curve_metric):
            return False
        own = _finite(self._last_metric.get(trial.trial_id))
        if own is None:
            return False
        group = self._group(trial)
        sign = 1.0 if self._mode == "max" else -1.0
        others = (
            _finite(self._last_metric.get(trial_id))
            for trial_id, other in self._trials.items()
            if trial_id != trial.trial_id and self._group(other) == group
        )
        return all(v is None or sign * own >= sign * v for v in others)

    def _decide(self, trial: Trial, result: Mapping[str, Any] | None = None) -> Decision:
        history = self._histories[trial.trial_id]
        settings = self._settings_within_memory(history, _memory_limit(trial, result))
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
        limit = _memory_limit(trial, result)
        if limit is not None and decision.batch_size >= limit:
            logger.info(
                "trial %s is not switched to batch size %d: it ran out of memory at %d",
                trial.trial_id,
                decision.batch_size,
                limit,
            )
            return False
        budget = _budget(trial.config, self._keys.config_budget)
        samples = result.get(self._keys.samples_seen, 0)
        return not (budget is not None and samples >= budget) and not result.get("done")

    def _apply(self, trial: Trial, decision: Decision) -> None:
        config = dict(trial.config)
        config[self._keys.config_batch_size] = decision.batch_size
        config[self._keys.config_accumulation_steps] = decision.accumulation_steps
        config[SWITCH_AT] = decision.report_index
        trial.set_config(config)

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
        for line in _read_results(trial).splitlines():
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


def _carries_metrics(result: Mapping[str, Any]) -> bool:
    """Whether a result holds anything the trainable reported (Tune's rule for its own metric
    check: a trial that returned without reporting yields a result of bookkeeping keys only)."""
    own = {
        k
        for k in result
        if k not in DEBUG_METRICS and k != DONE and not str(k).startswith("config/")
    }
    return len(own) > 1


def _memory_limit(trial: Trial, result: Mapping[str, Any] | None = None) -> int | None:
    """The smallest batch size the trial ran out of memory at (its reported ``oom_batch_size``,
    from ``result`` or its last result), ``None`` when it never did."""
    for source in (result, getattr(trial, "last_result", None)):
        if source and source.get(OOM_BATCH_SIZE) is not None:
            return int(source[OOM_BATCH_SIZE])
    return None


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, else ``None``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _start_size(config: Mapping[str, Any], keys: ReportKeys) -> int | None:
    """The effective batch size a trial's config sets (``batch_size × accumulation_steps``)."""
    try:
        return int(config[keys.config_batch_size]) * int(
            config.get(keys.config_accumulation_steps, 1)
        )
    except (KeyError, TypeError, ValueError):
        return None


def _budget(config: Mapping[str, Any], key: str) -> float | None:
    """The trial's budget (its total training samples) under ``key``, ``None`` when absent."""
    budget = config.get(key)
    try:
        return None if budget is None else float(budget)
    except (TypeError, ValueError):
        return None


def _startup(raw: Sequence[Report]) -> float:
    """Seconds of a trial's start-up in its first ``time_total_s`` (worker, data, model).

    Its first report's time less its samples at the pace of the next interval (same loader),
    clamped to ``[0, first time]``; 0 before the second report and below a millisecond.
    """
    if len(raw) < 2:
        return 0.0
    a, b = raw[0], raw[1]
    same = (a.batch_size, a.accumulation_steps) == (b.batch_size, b.accumulation_steps)
    if not same or b.samples_seen <= a.samples_seen or b.time_s <= a.time_s:
        return 0.0
    pace = (b.time_s - a.time_s) / (b.samples_seen - a.samples_seen)
    startup = min(a.time_s - a.samples_seen * pace, a.time_s)
    return startup if startup >= 1e-3 else 0.0


def _shift(report: Report, startup: float) -> Report:
    return replace(report, time_s=report.time_s - startup) if startup else report


def _read_results(trial: Trial) -> str:
    """``result.json`` of a trial: this session's copy, else the one in the storage path (where
    a restored experiment's trials have theirs until they start); ``""`` when there is none."""
    try:
        local = Path(trial.local_path) / RESULT_FILE if trial.local_path else None
    except RuntimeError:  # a new trial has no folder yet
        return ""
    if local is not None and local.is_file():
        return local.read_text()
    storage = getattr(trial, "storage", None)
    if storage is None:
        return ""
    try:
        path = Path(trial.path, RESULT_FILE).as_posix()
        with storage.storage_filesystem.open_input_stream(path) as stream:
            return stream.read().decode()
    except (FileNotFoundError, OSError, RuntimeError):
        return ""


class _KeepSessionRows:
    """Copy a trial's stored result file back only when this driver session has none.

    NOTE [paused trials]: in Ray 2.60 the driver writes ``result.json`` / ``progress.csv`` into a
    per-session staging folder, uploaded to the storage path about every 10 s, and whenever a
    trial (re)starts the loggers copy the stored file over the local one
    (``LoggerCallback._restore_from_remote``). A trial paused and restarted within a session so
    loses the rows written since the last upload: typically the report at which a scheduler
    paused it. The local copy, when there is one, is always the newer.
    """

    def _restore_from_remote(self, file_name: str, trial: Trial) -> None:
        if (Path(trial.local_path) / file_name).exists():
            return
        super()._restore_from_remote(file_name, trial)  # type: ignore[misc]


class PauseSafeJsonLogger(_KeepSessionRows, JsonLoggerCallback):
    """Tune's ``result.json`` logger that keeps every row of a paused and restarted trial."""


class PauseSafeCSVLogger(_KeepSessionRows, CSVLoggerCallback):
    """Tune's ``progress.csv`` logger that keeps every row of a paused and restarted trial."""
