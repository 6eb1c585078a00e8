"""Registry of trial schedulers, built from the search space's ``scheduler`` section.

- ``fifo``: run every trial to its budget (Tune's ``FIFOScheduler``).
- ``asha``: asynchronous successive halving (Li et al. 2020, Tune's ``ASHAScheduler``); time is
  counted in reports (``training_iteration``), one report = ``budget.samples / reports``
  training series, so rungs are equal amounts of samples seen for every batch size.

``metric`` and ``mode`` are given once, to the ``TuneConfig``; the schedulers take them from there.
"""

from __future__ import annotations

from typing import Any

from tune_bs.errors import unknown_name
from tune_bs.metrics import TRAINING_ITERATION


def build_scheduler(options: dict[str, Any], max_reports: int) -> Any:
    """A Tune scheduler for ``options`` (``{name: ..., **settings}``) and the trial length."""
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
    raise unknown_name("scheduler.name", name, ("fifo", "asha"))
