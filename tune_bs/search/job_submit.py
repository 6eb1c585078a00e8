"""Submitting a Ray job to a head that may still be starting.

Rule: a head started a moment ago (``ray start --head``) answers ``submit_job`` with "No
available agent to submit job, please try again later" until its job agent is up. That answer,
and only that one, is retried every :data:`RETRY_EVERY_S` seconds for up to
:data:`AGENT_WAIT_S` seconds; any other refusal, or the same one after the wait, is raised to the
caller (which reports it in one line).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

#: The jobs client's logger (its messages read as one log).
logger = logging.getLogger("tune_bs.search.jobs")

#: Seconds to wait for a starting head's job agent.
AGENT_WAIT_S = 60.0
#: Seconds between two submissions while the agent is not up.
RETRY_EVERY_S = 1.0
_NOT_READY = "No available agent to submit job"


def submit_when_ready(
    client: Any,
    *,
    wait_s: float = AGENT_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    **job: Any,
) -> Any:
    """``client.submit_job(**job)``, retried while the head's job agent is not up (module rule);
    the first retry is announced with one line (a warning of the ``tune_bs.search.jobs``
    logger)."""
    deadline = clock() + wait_s
    waited = False
    while True:
        try:
            return client.submit_job(**job)
        except RuntimeError as exc:
            if _NOT_READY not in str(exc):
                raise
            if clock() >= deadline:
                raise RuntimeError(
                    f"its job agent did not start within {wait_s:.0f} s: {str(exc).splitlines()[0]}"
                ) from None
            if not waited:
                logger.warning(
                    "tune-bs: the Ray head's job agent is still starting; waiting up to %.0f s "
                    "for it.",
                    wait_s,
                )
                waited = True
        sleep(RETRY_EVERY_S)
