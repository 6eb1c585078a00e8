"""A job submitted to a head whose job agent is still starting is retried; nothing else is."""

from __future__ import annotations

import logging

import pytest

from tune_bs.search.job_submit import RETRY_EVERY_S, submit_when_ready

NOT_READY = (
    "Request failed with status code 500: No available agent to submit job, "
    "please try again later.."
)


class StartingHead:
    """Refuses ``refusals`` submissions with ``message``, then accepts."""

    def __init__(self, refusals: int, message: str = NOT_READY):
        self.refusals, self.message, self.calls = refusals, message, []

    def submit_job(self, **job):
        self.calls.append(job)
        if len(self.calls) <= self.refusals:
            raise RuntimeError(self.message)
        return job["submission_id"]


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def test_a_starting_head_is_retried_until_its_agent_is_up():
    head, t = StartingHead(refusals=3), FakeTime()
    got = submit_when_ready(head, sleep=t.sleep, clock=t.clock, submission_id="j", entrypoint="x")
    assert got == "j" and len(head.calls) == 4
    assert t.now == pytest.approx(3 * RETRY_EVERY_S)


def test_the_wait_is_bounded_and_said_once(caplog):
    head, t = StartingHead(refusals=10**6), FakeTime()
    with (
        caplog.at_level(logging.WARNING, "tune_bs.search.jobs"),
        pytest.raises(RuntimeError, match=r"did not start within 5 s: .*No available agent"),
    ):
        submit_when_ready(head, wait_s=5.0, sleep=t.sleep, clock=t.clock, submission_id="j")
    assert 5.0 <= t.now <= 5.0 + RETRY_EVERY_S
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "tune-bs: the Ray head's job agent is still starting; waiting up to 5 s for it."
    ]


def test_any_other_refusal_is_raised_at_once(caplog):
    head = StartingHead(refusals=1, message="Job with submission_id j already exists")
    t = FakeTime()
    with pytest.raises(RuntimeError, match="already exists"):
        submit_when_ready(head, sleep=t.sleep, clock=t.clock, submission_id="j")
    assert len(head.calls) == 1 and t.now == 0.0 and not caplog.records
