"""The extrapolation scheduler's decisions as people read them: one line per stop and per switch,
and a summary with the counts by rule.

- **One line per decision carried out**, on the logger ``tune_bs.decisions`` at INFO, which is
  shown by default (it has its own handler to stderr, as Ray's ``ray.tune`` logger has; silence
  it with ``logging.getLogger("tune_bs.decisions").setLevel(logging.WARNING)``, or give it your
  own handlers: then it keeps yours). A stop names the trial, the report, its batch size, the
  rule (:class:`~tune_bs.schedule.switching.Rule`) and the figures compared; a switch the trial,
  the report, the sizes from and to, the rule and the figures::

      [tune-bs] trial 3b1f_00002 stops at report 5 (batch size 16), rule behind: cannot reach ...
      [tune-bs] trial 3b1f_00001 switches batch size 16 -> 32 after report 5, rule explore: ...

- **A summary at the end of the run**: :meth:`DecisionLog.summary` (also what
  ``ExtrapolationScheduler.debug_string()`` returns) counts the switches and stops by rule. The
  :class:`DecisionSummary` callback (in :func:`tune_bs.schedule.schedulers.logger_callbacks`)
  logs it when the experiment ends.

:class:`DecisionLog` owns the counts; the scheduler tells it each decision it carries out.
"""

from __future__ import annotations

import logging
import sys
import weakref
from collections import Counter
from typing import Any

from ray.tune.callback import Callback

from tune_bs.schedule.switching import Decision, Rule

#: Where the decision lines go (shown by default: module docstring).
logger = logging.getLogger("tune_bs.decisions")
#: Decision logs of this process not yet summarised, for :class:`DecisionSummary`.
_OPEN: weakref.WeakSet[DecisionLog] = weakref.WeakSet()


class _CurrentStderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when a line is emitted (a program
    that redirects stderr for a while, and closes the file after, keeps its lines)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _shown() -> logging.Logger:
    """The decisions' logger, given a handler to the current stderr at INFO unless someone gave
    it one."""
    if not logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("[tune-bs] %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    return logger


class DecisionLog:
    """Tell and count the stops and switches carried out (module docstring).

    Args:
        batch_sizes: the scheduler's candidate sizes (named in the summary).
    """

    def __init__(self, batch_sizes: tuple[int, ...] = ()) -> None:
        self.batch_sizes = batch_sizes
        self._stops: Counter[Rule] = Counter()
        self._switches: Counter[Rule] = Counter()

    def __getstate__(self) -> dict[str, Any]:
        return {"batch_sizes": self.batch_sizes, "_stops": Counter(), "_switches": Counter()}

    def stopped(self, trial_id: str, decision: Decision) -> None:
        self._stops[decision.rule] += 1
        _OPEN.add(self)
        _shown().info(
            "trial %s stops at report %d (batch size %s), rule %s: %s",
            trial_id,
            decision.report_index,
            _size(decision.batch_size, decision.accumulation_steps),
            decision.rule,
            decision.reason,
        )

    def switched(self, trial_id: str, decision: Decision, before: tuple[int, int]) -> None:
        """A switch from the loader ``before`` (batch size, accumulation steps)."""
        self._switches[decision.rule] += 1
        _OPEN.add(self)
        _shown().info(
            "trial %s switches batch size %s -> %s after report %d, rule %s: %s",
            trial_id,
            _size(*before),
            _size(decision.batch_size, decision.accumulation_steps),
            decision.report_index,
            decision.rule,
            decision.reason,
        )

    def unswitched(self, decision: Decision) -> None:
        """A switch told before was not taken (it is told again when carried out by restart)."""
        self._switches[decision.rule] -= 1
        if self._switches[decision.rule] <= 0:
            del self._switches[decision.rule]

    def withheld(self, trial_id: str, decision: Decision, metric: str | None) -> None:
        """A stop not carried out: the trial leads on the experiment's metric."""
        _shown().info(
            "trial %s is not stopped at report %d: it leads the search on %s (rule %s: %s)",
            trial_id,
            decision.report_index,
            metric,
            decision.rule,
            decision.reason,
        )

    @property
    def switches(self) -> int:
        return sum(self._switches.values())

    @property
    def stops(self) -> int:
        """Trials stopped, the diverged ones included."""
        return sum(self._stops.values())

    def counts(self) -> dict[str, dict[str, int]]:
        """``{"switches": {rule: n}, "stops": {rule: n}}``."""
        return {
            "switches": {str(r): n for r, n in sorted(self._switches.items())},
            "stops": {str(r): n for r, n in sorted(self._stops.items())},
        }

    def summary(self) -> str:
        """One line: the candidates, then the switches and the stops, each with its counts by
        rule (``3 switches (explore 2, revert 1), 2 stopped (behind 2), 0 diverged``)."""
        diverged = self._stops.get(Rule.DIVERGED, 0)
        stopped = {r: n for r, n in self._stops.items() if r is not Rule.DIVERGED}
        return (
            f"extrapolation scheduler over batch sizes {list(self.batch_sizes)}: "
            f"{self.switches} switches{_by_rule(self._switches)}, "
            f"{sum(stopped.values())} stopped{_by_rule(stopped)}, {diverged} diverged"
        )


def _size(batch_size: int, accumulation_steps: int) -> str:
    return f"{batch_size}" if accumulation_steps == 1 else f"{batch_size}x{accumulation_steps}"


def _by_rule(counts: Any) -> str:
    parts = [f"{rule} {n}" for rule, n in sorted(counts.items()) if n]
    return f" ({', '.join(parts)})" if parts else ""


class DecisionSummary(Callback):
    """Tune callback: when the experiment ends, log the summary of every extrapolation
    scheduler of this process that carried out a decision (:meth:`DecisionLog.summary`)."""

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        for log in list(_OPEN):
            _shown().info("summary: %s", log.summary())
            _OPEN.discard(log)
