"""Registry of trial schedulers, built from the search space's ``scheduler`` section.

- ``fifo``: run every trial to its budget (Tune's ``FIFOScheduler``) — the fixed grid.
- ``asha``: asynchronous successive halving (Li et al. 2020, Tune's ``ASHAScheduler``); time is
  counted in reports (``training_iteration``), one report = ``budget.samples / reports``
  training series, so rungs are equal amounts of samples seen for every batch size.
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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tune_bs.errors import unknown_name
from tune_bs.metrics import BATCH_SIZE, TRAINING_ITERATION

SCHEDULERS: tuple[str, ...] = ("fifo", "asha", "pbt", "topk", "extrapolation")
#: PBT's defaults (the YAML may override each).
PBT_DEFAULTS: dict[str, float] = {
    "quantile_fraction": 0.25,
    "resample_probability": 0.25,
    "burn_in_period": 0,
}
#: Trials ``topk`` keeps after the first reports when the YAML does not say.
TOPK_DEFAULT_KEEP = 2


def build_scheduler(
    options: dict[str, Any], max_reports: int, param_space: Mapping[str, Any] | None = None
) -> Any:
    """A Tune scheduler for ``options`` (``{name: ..., **settings}``) and the trial length.

    ``param_space`` (the search space's, with :class:`tune_bs.search.space.ParamSpec` values) lets
    ``pbt`` mutate ``lr`` within its searched range; without it PBT mutates the batch size only.
    """
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    name = options.get("name", "fifo")
    settings = {k: v for k, v in options.items() if k != "name"}
    if name == "fifo":
        return FIFOScheduler()
    if name == "asha":
        return ASHAScheduler(
            time_attr=TRAINING_ITERATION,
            max_t=max_reports,
            grace_period=min(int(settings.get("grace_period", 1)), max_reports),
            reduction_factor=int(settings.get("reduction_factor", 2)),
            brackets=int(settings.get("brackets", 1)),
        )
    if name == "pbt":
        return _pbt(settings, max_reports, param_space or {})
    if name == "topk":
        from tune_bs.schedule.topk import TopKAfterFirstReport

        return TopKAfterFirstReport(keep=int(settings.get("keep", TOPK_DEFAULT_KEEP)))
    if name == "extrapolation":
        from tune_bs.schedule.extrapolation import ExtrapolationScheduler
        from tune_bs.schedule.switching import SwitchSettings

        settings["batch_sizes"] = tuple(int(b) for b in settings.get("batch_sizes", ()))
        return ExtrapolationScheduler(SwitchSettings(**settings))
    raise unknown_name("scheduler.name", name, SCHEDULERS)


def _pbt(settings: dict[str, Any], max_reports: int, param_space: Mapping[str, Any]) -> Any:
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    mutations: dict[str, Any] = {BATCH_SIZE: sorted(int(b) for b in settings["batch_sizes"])}
    # NOTE [pbt]: Tune's PBT draws from Python's global `random`; its mutations are not seeded.
    lr = param_space.get("lr")
    if getattr(lr, "type", None) == "float":
        sampler = tune.loguniform if lr.log else tune.uniform
        mutations["lr"] = sampler(lr.low, lr.high)
    values = {**PBT_DEFAULTS, **settings}
    return PopulationBasedTraining(
        time_attr=TRAINING_ITERATION,
        perturbation_interval=int(settings.get("perturbation_interval", max(1, max_reports // 4))),
        burn_in_period=int(values["burn_in_period"]),
        hyperparam_mutations=mutations,
        quantile_fraction=float(values["quantile_fraction"]),
        resample_probability=float(values["resample_probability"]),
        log_config=False,  # the schedule is in every report (batch_size_schedule)
    )


def logger_callbacks() -> list[Any]:
    """Tune's JSON and CSV result loggers, fixed for trials that pause and restart.

    Pass them as ``RunConfig(callbacks=logger_callbacks())``; they replace Tune's defaults. See
    :class:`tune_bs.schedule.extrapolation.PauseSafeJsonLogger` for the Ray 2.60 behaviour they fix.
    """
    from tune_bs.schedule.result_loggers import PauseSafeCSVLogger, PauseSafeJsonLogger

    return [PauseSafeJsonLogger(), PauseSafeCSVLogger()]
