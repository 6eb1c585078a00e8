"""The switch board on a real local Ray: pinned to the driver's node, and a lost board (killed or
hung) neither fails nor blocks the trainable's side; the scheduler's side replaces it.

The fault tests on a multi-node cluster (``tests/test_cluster_faults.py``) kill the board in a
running experiment; these check the two sides one call at a time.
"""

from __future__ import annotations

import contextlib
import logging
import time

import pytest

from tune_bs.schedule.switch_board import (
    BOARD_NAME,
    CALL_TIMEOUT_S,
    BoardClient,
    BoardHost,
    SwitchBoard,
)

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def kill_and_wait(ray, actor, name: str = BOARD_NAME) -> None:
    """Kill the board and wait (with a deadline) until its name is free."""
    ray.kill(actor, no_restart=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            ray.get_actor(name)
        except ValueError:
            return
        time.sleep(0.05)
    pytest.fail("the killed board kept its name for 30 s")


def test_the_board_runs_on_the_drivers_node_and_carries_a_switch(local_ray):
    host = BoardHost()
    board = host.open()
    assert local_ray.get(board.node.remote()) == local_ray.get_runtime_context().get_node_id()
    assert host.post("t1", 32, 1, 3)
    client = BoardClient(BOARD_NAME, "t1")
    assert client.take(2) is None  # decided on report 3, asked after report 2: stale, dropped
    assert host.post("t1", 32, 1, 3)
    assert client.take(3) == (32, 1, 3)
    assert client.take(3) is None  # taken once
    kill_and_wait(local_ray, board)


def test_a_killed_board_is_replaced_and_the_trainable_finds_the_new_one(local_ray):
    host = BoardHost()
    client = BoardClient(BOARD_NAME, "t2")
    assert host.post("t2", 16, 1, 1) and client.take(1) == (16, 1, 1)
    kill_and_wait(local_ray, host.open())
    assert client.take(2) is None  # no board: the trial keeps its size, nothing raised
    assert host.post("t2", 64, 1, 3)  # the post replaced the lost board
    assert host.replaced == 1
    assert client.take(3) == (64, 1, 3)  # found by name again
    kill_and_wait(local_ray, host.open())


@pytest.fixture
def hung_board(local_ray):
    """A board under the board's name whose calls never answer."""

    class HungBoard(SwitchBoard):
        def take(self, trial_id, reports):
            time.sleep(3600)

        def post(self, *args):
            time.sleep(3600)

    actor = (
        local_ray.remote(num_cpus=0, max_concurrency=4)(HungBoard).options(name=BOARD_NAME).remote()
    )
    local_ray.get(actor.node.remote())  # started
    yield actor
    with contextlib.suppress(ValueError):  # already replaced and killed by the test
        kill_and_wait(local_ray, local_ray.get_actor(BOARD_NAME))


class PatientAfterLoss(BoardHost):
    """A host that waits ``CALL_TIMEOUT_S`` for every call after it replaced a board: the short
    timeout finds the hung board quickly; the new board's answer then does not race it on a
    loaded machine."""

    def _replace(self) -> None:
        super()._replace()
        self.timeout_s = CALL_TIMEOUT_S


def test_a_hung_board_times_out_and_is_replaced(local_ray, hung_board, caplog):
    with caplog.at_level(logging.WARNING, logger="tune_bs.schedule.switch_board"):
        client = BoardClient(BOARD_NAME, "t3", timeout_s=0.5)
        asked = client.take(1)  # returns (the hung board sleeps for an hour): it timed out
    assert asked is None and "the switch board is lost" in caplog.text
    host = PatientAfterLoss(timeout_s=0.5)
    host._actor = hung_board  # the scheduler's handle to the board that hung
    assert host.post("t3", 8, 1, 2)
    assert host.replaced == 1
    client._timeout_s = CALL_TIMEOUT_S  # as for the host: the new board may answer slowly
    assert client.take(2) == (8, 1, 2)  # the client found the new board by name
    kill_and_wait(local_ray, host.open())


def test_a_trainable_that_asks_before_reporting_finds_the_answer_waiting(local_ray):
    host = BoardHost()
    client = BoardClient(BOARD_NAME, "t4")
    client.ask(1)  # before its first report: nothing decided yet
    host.decided("t4", 1)  # the scheduler: no switch on report 1
    assert client.take(1) is None
    client.ask(2)
    assert host.post("t4", 16, 1, 2)  # a switch on report 2
    assert client.take(2) == (16, 1, 2)
    client.ask(3)
    host.decided("t4", 3)
    # answered by the notice: the board's own answer to the question is the decision (no
    # switch), not UNDECIDED, which it would give only after DECISION_WAIT_S (120 s)
    asked, answer = client._asked
    assert asked == 3 and local_ray.get(answer, timeout=60) is None
    assert client.take(3) is None
    # a board lost between the question and the answer: the answer comes from the new board
    client.ask(4)
    kill_and_wait(local_ray, host.open())
    assert host.post("t4", 32, 1, 4) and host.replaced == 1
    assert client.take(4) == (32, 1, 4)
    kill_and_wait(local_ray, host.open())


def test_a_trainable_stops_waiting_for_a_lost_decision_and_takes_what_the_board_holds(local_ray):
    class NoticeLosingBoard(SwitchBoard):
        """Keeps a posted switch but loses its notice (the decision never arrives)."""

        def post(self, trial_id, batch_size, accumulation_steps, report_index):
            self._pending[trial_id] = (batch_size, accumulation_steps, report_index)
            return True

    board = local_ray.remote(num_cpus=0)(NoticeLosingBoard).options(name=BOARD_NAME).remote()
    client = BoardClient(BOARD_NAME, "t5")
    assert local_ray.get(board.post.remote("t5", 64, 1, 1), timeout=60)
    client.ask(1)
    _, unanswered = client._asked
    assert client.take(1) == (64, 1, 1)  # after CALL_TIMEOUT_S, from the plain request
    ready, _ = local_ray.wait([unanswered], timeout=0)
    assert not ready  # the board still waits for the decision: the client stopped first
    kill_and_wait(local_ray, board)


def test_a_restarted_trial_does_not_get_its_earlier_runs_decisions(local_ray):
    """Repeated: the board is an async actor and may run calls out of order, so a client that
    did not wait for its ``forget`` took the stale switch in about 6 % of restarts."""
    host = BoardHost()
    for restart in range(50):
        trial_id = f"t6-{restart}"
        assert host.post(trial_id, 16, 1, 3)  # decided for an earlier run, never taken
        client = BoardClient(BOARD_NAME, trial_id)  # the trial restarts
        client.ask(3)
        host.decided(trial_id, 3)  # this run's decision on report 3: no switch
        assert client.take(3) is None, restart  # not the earlier run's switch
    kill_and_wait(local_ray, host.open())
