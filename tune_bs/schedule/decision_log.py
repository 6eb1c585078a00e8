"""The extrapolation scheduler's decisions as people read them: one line per stop and per switch,
and the counts by rule.

:class:`DecisionLog` owns the counts; it is told each decision the scheduler carries out.
"""

from __future__ import annotations

import logging
from collections import Counter

from tune_bs.schedule.switching import Decision

#: The scheduler's own logger (its messages read as one log).
logger = logging.getLogger("tune_bs.schedule.extrapolation")


class DecisionLog:
    """Tell and count the stops and switches carried out."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def stopped(self, trial_id: str, decision: Decision) -> None:
        self._counts["diverged" if decision.diverged else "stopped"] += 1
        logger.info(
            "trial %s stops at report %d: %s", trial_id, decision.report_index, decision.reason
        )

    def switched(self, trial_id: str, decision: Decision) -> None:
        self._counts["switches"] += 1
        logger.info(
            "trial %s switches to batch size %d x %d after report %d: %s",
            trial_id,
            decision.batch_size,
            decision.accumulation_steps,
            decision.report_index,
            decision.reason,
        )

    def unswitched(self, decision: Decision) -> None:
        """A switch told before was not taken (it is told again when carried out by restart)."""
        self._counts["switches"] -= 1

    def withheld(self, trial_id: str, decision: Decision, metric: str | None) -> None:
        """A stop not carried out: the trial leads on the experiment's metric."""
        logger.info(
            "trial %s is not stopped at report %d: it leads the search on %s (%s)",
            trial_id,
            decision.report_index,
            metric,
            decision.reason,
        )

    def counts(self) -> Counter[str]:
        return Counter(self._counts)
