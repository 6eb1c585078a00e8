"""Registry of trial schedulers, built from the search space's ``scheduler`` section.

- ``fifo``: run every trial to its budget (Tune's ``FIFOScheduler``) — the fixed grid.
- ``asha``: asynchronous successive halving (Li et al. 2020, Tune's ``ASHAScheduler``); time is
  counted in reports (``training_iteration``), one report = ``budget.samples / reports``
  training series, so rungs are equal amounts of samples seen for every batch size.
- ``median``: the median stopping rule (Golovin et al. 2017, Google Vizier; Tune's
  ``MedianStoppingRule``), time counted in reports: from report ``grace_period`` on, a trial whose
  best value so far is worse than the median of the other trials' running means (their mean
  value from report ``grace_period`` up to this trial's report) is stopped. While fewer than
  ``min_samples_required`` other trials have got that far and trials wait to start, it is paused
  so that they can run (Tune's behaviour); it resumes from its checkpoint later.
- ``pbt``: population-based training (Jaderberg et al. 2017, Tune's
  ``PopulationBasedTraining``) with ``batch_size`` among its mutations (moved one step along
  ``batch_sizes`` or resampled), plus ``lr`` when the search space searches it as a float range
  (scaled by 0.8 / 1.2 or resampled). Time is counted in reports: every ``perturbation_interval``
  reports (default a quarter of the budget's reports) a trial in the bottom ``quantile_fraction``
  clones a top trial's checkpoint and perturbs its config.
- ``topk``: keep the top ``keep`` trials after their first report (Egele et al. 2023), stop the
  others; :mod:`tune_bs.schedule.topk` states the rule for trials whose first reports arrive at
  different times (they wait, paused, for the others').
- ``extrapolation``: the loss-curve extrapolation scheduler of
  :mod:`tune_bs.schedule.extrapolation`; its options are the fields of
  :class:`tune_bs.schedule.switching.SwitchSettings`.

``metric`` and ``mode`` are given once, to the ``TuneConfig``; the schedulers take them from there.
Schedulers that pause trials (``pbt``, ``extrapolation``) need the result loggers of
:func:`logger_callbacks` in the ``RunConfig``, or a paused trial loses result rows on restart.
``batch_sizes`` of ``pbt`` and ``extrapolation`` default to the choices of
``param_space.batch_size`` (filled in by :func:`tune_bs.search.space.parse_space`).

Each scheduler declares its options once, as a dataclass (:mod:`tune_bs.options`), in its entry
of :data:`SCHEDULERS`; the search space validates a section against it. Adding a scheduler is one
module with its options class and build function, and one line in :data:`SCHEDULERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from tune_bs.errors import unknown_name
from tune_bs.metrics import BATCH_SIZE, TRAINING_ITERATION
from tune_bs.options import NoOptions, option
from tune_bs.schedule.switching import SwitchSettings

#: Trials ``topk`` keeps after the first reports when the YAML does not say.
TOPK_DEFAULT_KEEP = 2


@dataclass(frozen=True)
class ASHAOptions:
    grace_period: int = option(1, minimum=1, doc="reports before a trial may be stopped")
    reduction_factor: int = option(2, minimum=2, doc="1 / the fraction kept at each rung")
    brackets: int = option(1, minimum=1, doc="brackets of successive halving")


@dataclass(frozen=True)
class MedianOptions:
    grace_period: int = option(
        1, minimum=1, doc="reports before a trial may be stopped (and where its mean starts)"
    )
    min_samples_required: int = option(
        3, minimum=1, doc="other trials that must have reached a report before it is judged"
    )


@dataclass(frozen=True)
class PBTOptions:
    batch_sizes: tuple[int, ...] = option(
        doc="batch sizes a mutation moves along (default: param_space.batch_size's choices)",
        kind="sizes",
        placeholder=(2, 4),
    )
    perturbation_interval: int | None = option(
        None, minimum=1, doc="reports between perturbations (None: a quarter of the reports)"
    )
    burn_in_period: int = option(0, minimum=0, doc="reports before the first perturbation")
    quantile_fraction: float = option(
        0.25, minimum=0, maximum=0.5, doc="fraction of trials cloned / cloning"
    )
    resample_probability: float = option(
        0.25, minimum=0, maximum=1.0, doc="chance a mutation resamples instead of stepping"
    )


@dataclass(frozen=True)
class TopKOptions:
    keep: int = option(TOPK_DEFAULT_KEEP, minimum=1, doc="trials kept after the first reports")


class Scheduler(NamedTuple):
    """A registry entry: the options (fields of a dataclass), what builds the Tune scheduler
    from the section's options (a dict), the trial's reports and the search space, and the
    search algorithms it cannot run beside, each with the reason."""

    Options: type
    build: Callable[[dict[str, Any], int, Mapping[str, Any]], Any]
    refuses_search: Mapping[str, str] = {}


def _fifo(settings: dict[str, Any], max_reports: int, param_space: Mapping[str, Any]) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


def _asha(settings: dict[str, Any], max_reports: int, param_space: Mapping[str, Any]) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    o = ASHAOptions(**settings)
    return ASHAScheduler(
        time_attr=TRAINING_ITERATION,
        max_t=max_reports,
        grace_period=min(int(o.grace_period), max_reports),
        reduction_factor=int(o.reduction_factor),
        brackets=int(o.brackets),
    )


def _median(settings: dict[str, Any], max_reports: int, param_space: Mapping[str, Any]) -> Any:
    from ray.tune.schedulers import MedianStoppingRule

    o = MedianOptions(**settings)
    return MedianStoppingRule(
        time_attr=TRAINING_ITERATION,
        grace_period=min(int(o.grace_period), max_reports),
        min_samples_required=int(o.min_samples_required),
    )


def _pbt(settings: dict[str, Any], max_reports: int, param_space: Mapping[str, Any]) -> Any:
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    o = PBTOptions(**settings)
    mutations: dict[str, Any] = {BATCH_SIZE: sorted(int(b) for b in o.batch_sizes)}
    # NOTE [pbt]: Tune's PBT draws from Python's global `random`; its mutations are not seeded.
    lr = param_space.get("lr")
    if getattr(lr, "type", None) == "float":
        sampler = tune.loguniform if lr.log else tune.uniform
        mutations["lr"] = sampler(lr.low, lr.high)
    interval = o.perturbation_interval
    return PopulationBasedTraining(
        time_attr=TRAINING_ITERATION,
        perturbation_interval=int(max(1, max_reports // 4) if interval is None else interval),
        burn_in_period=int(o.burn_in_period),
        hyperparam_mutations=mutations,
        quantile_fraction=float(o.quantile_fraction),
        resample_probability=float(o.resample_probability),
        log_config=False,  # the schedule is in every report (batch_size_schedule)
    )


def _topk(settings: dict[str, Any], max_reports: int, param_space: Mapping[str, Any]) -> Any:
    from tune_bs.schedule.topk import TopKAfterFirstReport

    return TopKAfterFirstReport(keep=int(TopKOptions(**settings).keep))


def _extrapolation(
    settings: dict[str, Any], max_reports: int, param_space: Mapping[str, Any]
) -> Any:
    from tune_bs.schedule.extrapolation import ExtrapolationScheduler

    sizes = tuple(int(b) for b in settings.get("batch_sizes", ()))
    return ExtrapolationScheduler(SwitchSettings(**{**settings, "batch_sizes": sizes}))


PBT_REFUSES_OPTUNA = (
    "PBT picks and mutates the configurations itself, and Ray Tune refuses a search algorithm "
    "beside it"
)
TOPK_REFUSES_OPTUNA = (
    "top-k waits for every trial's first report, and Optuna creates a trial only when a running "
    "one ends"
)
#: The schedulers a search space may name (``scheduler.name``), each with its options.
SCHEDULERS: dict[str, Scheduler] = {
    "fifo": Scheduler(NoOptions, _fifo),
    "asha": Scheduler(ASHAOptions, _asha),
    "median": Scheduler(MedianOptions, _median),
    "pbt": Scheduler(PBTOptions, _pbt, {"optuna": PBT_REFUSES_OPTUNA}),
    "topk": Scheduler(TopKOptions, _topk, {"optuna": TOPK_REFUSES_OPTUNA}),
    "extrapolation": Scheduler(SwitchSettings, _extrapolation),
}


def build_scheduler(
    options: dict[str, Any], max_reports: int, param_space: Mapping[str, Any] | None = None
) -> Any:
    """A Tune scheduler for ``options`` (``{name: ..., **settings}``) and the trial length.

    ``param_space`` (the search space's, with :class:`tune_bs.search.space.ParamSpec` values) lets
    ``pbt`` mutate ``lr`` within its searched range; without it PBT mutates the batch size only.
    """
    name = options.get("name", "fifo")
    if name not in SCHEDULERS:
        raise unknown_name("scheduler.name", name, SCHEDULERS)
    settings = {k: v for k, v in options.items() if k != "name"}
    return SCHEDULERS[name].build(settings, max_reports, param_space or {})


def logger_callbacks() -> list[Any]:
    """Tune's JSON and CSV result loggers, fixed for trials that pause and restart, and the
    summary of the extrapolation scheduler's decisions at the end of the run.

    Pass them as ``RunConfig(callbacks=logger_callbacks())``; they replace Tune's defaults. See
    :class:`tune_bs.schedule.result_loggers.PauseSafeJsonLogger` for the Ray 2.60 behaviour they
    fix, and :class:`tune_bs.schedule.decision_log.DecisionSummary` for the summary.
    """
    from tune_bs.schedule.decision_log import DecisionSummary
    from tune_bs.schedule.result_loggers import PauseSafeCSVLogger, PauseSafeJsonLogger

    return [PauseSafeJsonLogger(), PauseSafeCSVLogger(), DecisionSummary()]
