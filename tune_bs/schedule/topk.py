"""Keep the top-k trials after their first report: the cheap baseline of Egele et al. 2023.

"Is One Epoch All You Need For Multi-Fidelity Hyperparameter Optimization?" (arXiv 2307.15422)
trains every configuration to its first fidelity level, keeps the best ``k`` and trains only those
to the end. :class:`TopKAfterFirstReport` is that rule as a Ray Tune ``FIFOScheduler``, for a
concurrency smaller than the number of trials (later trials' first reports arrive later, so the
rule must wait for them instead of ranking whatever has arrived):

1. A trial's *first value* is the experiment's metric (``metric``/``mode`` of the
   ``TuneConfig``, a validation metric) in its first report. A missing or non-finite value (a
   diverged trial) ranks after every finite one and is never kept.
2. **Waiting.** A trial whose first report arrives while another trial of the experiment is
   pending, or running without a first report, is **paused** at that report (its checkpoint is
   that report's) and is not handed out again until the decision.
3. **Decision**, once every trial the search has created has a first value or has ended
   (completed, errored, stopped): the ``keep`` best first values are kept (ties: the earlier first
   report). The others are **stopped** — the trial whose report completed the set by ``STOP``,
   paused ones through the controller (as Tune's synchronous HyperBand does). Kept trials that
   were paused resume from their checkpoint (FIFO order) and, like the others, run to their
   budget.
4. After the decision every result of a kept trial gets ``CONTINUE``. A trial first reporting
   after the decision (only a search that creates trials later does that: grid and random search
   create all of them at the start, up to Tune's 200 pending trials) is kept when its first value
   is among the ``keep`` best first values so far, else stopped; kept trials are never stopped.
5. A first report that ends the trial's budget (``done``) is ranked and gets ``CONTINUE`` (there is
   nothing left to pause or stop).

Units: ``keep`` is a number of trials (≥ 1); reports are counted by arrival, one per Tune result.

Restarts: Tune saves no scheduler state (ray-project/ray#30838); a pickled scheduler starts
empty. After ``Tuner.restore`` / ``tune-bs resume`` a trial first seen past its first report
(``training_iteration`` > 1) is taken as kept, so a resumed experiment may keep more than
``keep`` trials; benchmarks redo an interrupted experiment instead of resuming it.

The search must create all trials at the start: Optuna behind a ``ConcurrencyLimiter`` creates a
new trial only when a live one ends, and paused trials are live, so
:func:`tune_bs.search.space.parse_space` refuses ``search: optuna`` with this scheduler.

Example::

    from ray import tune
    from tune_bs.schedule.topk import TopKAfterFirstReport

    tuner = tune.Tuner(
        trainable,  # reports val_loss + a checkpoint with every result
        param_space={"batch_size": tune.grid_search([8, 16, 32, 64, 128])},
        tune_config=tune.TuneConfig(metric="val_loss", mode="min",
                                    scheduler=TopKAfterFirstReport(keep=2)),
    )

In a search space: ``scheduler: {name: topk, keep: 2}``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ray.tune.experiment import Trial
from ray.tune.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

from tune_bs.metrics import TRAINING_ITERATION

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController

logger = logging.getLogger(__name__)
_ENDED = (Trial.TERMINATED, Trial.ERROR)


def ranking_key(value: Any, mode: str) -> float:
    """Sort key of a first value: smaller is better; missing / non-finite → ``inf``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.inf
    if not math.isfinite(number):
        return math.inf
    return number if mode == "min" else -number


def kept_trials(first_values: Mapping[str, Any], keep: int, mode: str) -> list[str]:
    """The ids of the ``keep`` best first values (module rule 3), best first.

    ``first_values`` maps trial ids to their first values in the order the reports arrived (ties go
    to the earlier one); a missing or non-finite value is never kept.
    """
    order = sorted(
        enumerate(first_values.items()), key=lambda item: (ranking_key(item[1][1], mode), item[0])
    )
    return [
        trial_id for _, (trial_id, value) in order[:keep] if math.isfinite(ranking_key(value, mode))
    ]


class TopKAfterFirstReport(FIFOScheduler):
    """Train every trial to its first report, then only the ``keep`` best (module rules).

    Args:
        keep: trials kept after the first reports (≥ 1).
        metric / mode: the experiment's validation metric and direction; normally given once to
            the ``TuneConfig`` and passed here by Tune.
    """

    _supports_buffered_results = False

    def __init__(self, keep: int = 2, metric: str | None = None, mode: str | None = None) -> None:
        super().__init__()
        if int(keep) < 1:
            raise ValueError(f"keep must be at least 1, but got keep={keep!r}.")
        if mode not in (None, "min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', but got mode={mode!r}.")
        self._keep = int(keep)
        self._metric = metric
        self._mode = mode
        self._first: dict[str, Any] = {}  # trial id → first value, in arrival order
        self._waiting: set[str] = set()  # paused at their first report, awaiting the decision
        self._ended: set[str] = set()
        self._kept: set[str] | None = None  # None until the decision
        self._carried: set[str] = set()  # first seen past their first report (restored)

    def __getstate__(self) -> dict[str, Any]:
        """Settings only: a pickled copy (``tuner.pkl``) starts empty (module: restarts)."""
        state = self.__dict__.copy()
        state.update(_first={}, _waiting=set(), _ended=set(), _kept=None, _carried=set())
        return state

    @property
    def keep(self) -> int:
        return self._keep

    @property
    def decided(self) -> bool:
        return self._kept is not None

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if (self._metric and metric) or (self._mode and mode):
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    # --- bookkeeping --------------------------------------------------------------------------
    def on_trial_error(self, tune_controller: TuneController, trial: Trial) -> None:
        self._end(trial)

    def on_trial_complete(
        self, tune_controller: TuneController, trial: Trial, result: dict[str, Any]
    ) -> None:
        self._end(trial)

    def on_trial_remove(self, tune_controller: TuneController, trial: Trial) -> None:
        self._end(trial)

    def _end(self, trial: Trial) -> None:
        self._ended.add(trial.trial_id)
        self._waiting.discard(trial.trial_id)

    # --- decisions ----------------------------------------------------------------------------
    def on_trial_result(
        self, tune_controller: TuneController, trial: Trial, result: dict[str, Any]
    ) -> str:
        trial_id = trial.trial_id
        if trial_id in self._first:  # a later report
            if self._kept is None:  # still waiting (Tune handed it out early): wait again
                return TrialScheduler.CONTINUE if result.get("done") else TrialScheduler.PAUSE
            if trial_id in self._kept:
                return TrialScheduler.CONTINUE
            return self._stop_current(trial_id, "after the decision")
        if int(result.get(TRAINING_ITERATION, 1) or 1) > 1:
            # first seen past its first report: a restored experiment (module: restarts)
            self._first[trial_id] = result.get(self._metric)
            self._carried.add(trial_id)
            if self._kept is not None:
                self._kept.add(trial_id)
            return TrialScheduler.CONTINUE
        self._first[trial_id] = result.get(self._metric)
        if self._kept is not None:  # a late trial (rule 4)
            ranked = kept_trials(self._first, self._keep, self._mode or "min")
            if trial_id in ranked:
                self._kept.add(trial_id)
                return TrialScheduler.CONTINUE
            return self._stop_current(trial_id, "after the decision")
        if not self._complete(tune_controller, trial_id):
            if result.get("done"):
                return TrialScheduler.CONTINUE
            self._waiting.add(trial_id)
            logger.info(
                "trial %s waits at its first report (%s=%s) for the other trials' first reports",
                trial_id,
                self._metric,
                result.get(self._metric),
            )
            return TrialScheduler.PAUSE
        self._decide(tune_controller)
        if trial_id in self._kept or result.get("done"):
            return TrialScheduler.CONTINUE
        return self._stop_current(trial_id, "at the decision")

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        if self._kept is None and self._waiting and self._complete(tune_controller, None):
            self._decide(tune_controller)  # the last missing trial ended without a report
        for trial in tune_controller.get_trials():
            if trial.status == Trial.PENDING:
                return trial
        for trial in tune_controller.get_trials():
            if trial.status == Trial.PAUSED and trial.trial_id not in self._waiting:
                return trial
        return None

    def debug_string(self) -> str:
        if self._kept is None:
            return (
                f"Using top-{self._keep} after the first report: {len(self._first)} first "
                f"reports in, {len(self._waiting)} trials waiting."
            )
        return f"Using top-{self._keep} after the first report: kept {sorted(self._kept)}."

    # --- helpers ------------------------------------------------------------------------------
    def _complete(self, tune_controller: TuneController, current: str | None) -> bool:
        """Every created trial has a first value or has ended (rule 3)."""
        for trial in tune_controller.get_trials():
            trial_id = trial.trial_id
            if trial_id == current or trial_id in self._first or trial_id in self._ended:
                continue
            if trial.status in _ENDED:
                continue
            return False
        return True

    def _decide(self, tune_controller: TuneController) -> None:
        """Rule 3: keep the best ``keep``; stop the paused others."""
        self._kept = set(kept_trials(self._first, self._keep, self._mode or "min"))
        self._kept |= self._carried
        logger.info(
            "top-%d after the first report: keeping %s of %d trials",
            self._keep,
            sorted(self._kept),
            len(self._first),
        )
        for trial in tune_controller.get_trials():
            if trial.trial_id not in self._waiting:
                continue
            self._waiting.discard(trial.trial_id)
            # a loser still saving its pause checkpoint is stopped too (as Tune's HyperBand does);
            # one that somehow runs on is stopped at its next result
            if trial.trial_id not in self._kept and (
                trial.status in (Trial.PAUSED, Trial.PENDING) or getattr(trial, "is_saving", False)
            ):
                tune_controller.stop_trial(trial)

    def _stop_current(self, trial_id: str, when: str) -> str:
        logger.info(
            "trial %s stops %s: its first %s=%s is not among the best %d",
            trial_id,
            when,
            self._metric,
            self._first.get(trial_id),
            self._keep,
        )
        return TrialScheduler.STOP
