"""tune-bs's trial function with a test's hook around it, so that a test waits for an event of
the trials instead of racing them (shared test helper).

- :func:`holding`: the trial's first run holds still right after a chosen report until it is
  killed, and says so with a file named after the trial; a test then kills the trial worker or
  the driver at a known point, whatever the machine's load (a trial restored from a checkpoint —
  a retry, a resume — does not hold). The report has returned in the trial by then: Tune has
  registered its checkpoint (a synchronous function trainable's report returns when the driver
  asks for the next result, after it saved this one's checkpoint).
- :func:`gathered`: each trial waits, before it trains, until ``n`` trials have started: that
  they all arrive shows ``n`` trials ran at once.
- :func:`paced`: each report takes at least ``seconds`` (the trial sleeps after it): on a fast
  machine a short run can otherwise end between the moment a test sees a report on storage
  (the driver writes result files about once a second) and the moment its signal arrives.

In-process, a test puts the hook in place of ``tune_bs.search.experiment.train_trial`` (the
function the experiment hands to Tune) with ``monkeypatch``; as a script it is the CLI with
holding trials, for tests that kill a driver process::

    python tests/trial_hooks.py reports=2 HELD -- run SPACE --storage DIR

holds every trial after its second report (``KEY=VALUE``: after the first report whose metric
``KEY`` is at least ``VALUE``, e.g. ``switches=1``), with its file in the folder ``HELD``;
``pace=SECONDS -- CLI ARGS`` is the CLI with paced trials.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Seconds a holding trial waits to be killed before it fails (a test that never kills it).
HOLD_S = 600.0
#: Seconds a gathering trial waits for the others before it fails.
GATHER_S = 600.0

Trial = Callable[[dict[str, Any], Any], None]


def parse_condition(text: str) -> tuple[str, float]:
    """``"reports=2"`` → ``("reports", 2.0)``: hold after the 2nd report (``reports``) or after
    the first report whose metric (any other name) is at least the value."""
    key, _, value = text.partition("=")
    return key, float(value)


def holding(trial: Trial, key: str, value: float, held: Path) -> Trial:
    """``trial`` whose first run, right after its report that meets ``key ≥ value`` (see
    :func:`parse_condition`), creates ``held/<trial id>`` holding its process id and holds
    until the process is killed."""
    _send_by_value()
    held = Path(held)

    def held_trial(config: dict[str, Any], data: Any) -> None:
        from ray import tune

        if tune.get_checkpoint() is not None:  # restored: a retry or a resume goes on
            trial(config, data)
            return
        reports = []

        def hold(metrics: dict[str, Any]) -> None:
            reports.append(metrics)
            seen = len(reports) if key == "reports" else metrics.get(key, float("-inf"))
            if seen >= value:
                held.mkdir(parents=True, exist_ok=True)
                mark = held / tune.get_context().get_trial_id()
                part = mark.with_suffix(".part")
                part.write_text(str(os.getpid()))  # the holding process, for a killer to read
                part.replace(mark)  # whole or absent: a reader never sees an empty file
                time.sleep(HOLD_S)
                raise RuntimeError(f"the trial held for {HOLD_S:.0f} s and was never killed")

        _after_each_report(trial, config, data, hold)

    return _named_as(held_trial, trial)


def gathered(trial: Trial, folder: Path, n: int) -> Trial:
    """``trial`` that first marks its start in ``folder`` and waits until ``n`` trials have."""
    _send_by_value()
    folder = Path(folder)

    def gathering_trial(config: dict[str, Any], data: Any) -> None:
        from ray import tune

        folder.mkdir(parents=True, exist_ok=True)
        (folder / tune.get_context().get_trial_id()).touch()
        deadline = time.monotonic() + GATHER_S
        while len(list(folder.iterdir())) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {n} trials started within {GATHER_S:.0f} s")
            time.sleep(0.05)
        trial(config, data)

    return _named_as(gathering_trial, trial)


def paced(trial: Trial, seconds: float) -> Trial:
    """``trial`` whose every report returns ``seconds`` later than it would (restored runs too)."""
    _send_by_value()

    def paced_trial(config: dict[str, Any], data: Any) -> None:
        _after_each_report(trial, config, data, lambda metrics: time.sleep(seconds))

    return _named_as(paced_trial, trial)


def _after_each_report(
    trial: Trial, config: dict[str, Any], data: Any, after: Callable[[dict[str, Any]], None]
) -> None:
    """Run ``trial`` with ``after(metrics)`` called each time its ``tune.report`` returns (once
    the driver has the result); the hook is this worker process's, for this trial only."""
    from ray import tune

    report = tune.report

    def report_then(metrics: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        report(metrics, *args, **kwargs)
        after(metrics)

    tune.report = report_then
    try:
        trial(config, data)
    finally:
        tune.report = report


def _named_as(hooked: Trial, trial: Trial) -> Trial:
    """``hooked`` under ``trial``'s name: Tune knows a trainable by it (``Tuner.restore``
    refuses another). Only the name: a function's module and qualified name would have Ray's
    pickler send the original by reference instead of ``hooked`` by value."""
    hooked.__name__ = trial.__name__
    return hooked


def _send_by_value() -> None:
    """Ray's workers cannot import the tests' modules: send this one's functions by value."""
    from ray import cloudpickle

    if __name__ != "__main__":
        cloudpickle.register_pickle_by_value(sys.modules[__name__])


def main(argv: list[str]) -> int:
    """``KEY=VALUE HELD -- CLI ARGS``: the CLI with every trial held; ``pace=SECONDS -- CLI
    ARGS``: with every trial paced (module docstring)."""
    from tune_bs.cli import main as cli
    from tune_bs.search import experiment

    key, value = parse_condition(argv[0])
    if key == "pace":
        assert argv[1] == "--", "usage: trial_hooks.py pace=SECONDS -- CLI ARGS"
        experiment.train_trial = paced(experiment.train_trial, value)
        return cli(argv[2:])
    condition, held, separator, *args = argv
    assert separator == "--", "usage: trial_hooks.py KEY=VALUE HELD -- CLI ARGS"
    key, value = parse_condition(condition)
    experiment.train_trial = holding(experiment.train_trial, key, value, Path(held))
    return cli(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
