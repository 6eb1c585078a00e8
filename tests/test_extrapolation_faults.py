"""The extrapolation scheduler under faults, with stub trials (no ray.init): a trial that ran out
of memory is never switched back to that size or above; a restart-free switch the trial did not
get (the switch board was lost) is carried out by a restart, once.

Results come from the simulator of ``tests/test_extrapolation.py`` (its helpers are reused).
"""

from __future__ import annotations

from typing import Any

from test_extrapolation import (
    CONTINUE,
    PAUSE,
    SIZES,
    StubController,
    feed,
    results,
    scheduler,
    trial,
)

from tune_bs.schedule.extrapolation import ExtrapolationScheduler
from tune_bs.schedule.switch_board import SwitchBoard
from tune_bs.schedule.switching import Decision, SwitchSettings
from tune_bs.search.trainable import OOM_BATCH_SIZE


class RecordingBoard(SwitchBoard):
    """A plain board that remembers every decision posted to it."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[tuple[str, int, int, int]] = []

    def post(
        self, trial_id: str, batch_size: int, accumulation_steps: int, report_index: int
    ) -> bool:
        self.posted.append((trial_id, batch_size, accumulation_steps, report_index))
        return super().post(trial_id, batch_size, accumulation_steps, report_index)


def first_switch(rows: list[dict[str, Any]]) -> tuple[str, int, int, int] | None:
    """A trial without peers at 32, exploring, switched restart-free: its first switch."""
    board = RecordingBoard()
    sched = scheduler(board=board, switch_via="inplace", explore=True)
    ctl, own = StubController(), trial("t", 32)
    for row in rows:
        assert feed(sched, ctl, own, [row]) == [CONTINUE]
        if board.posted:
            return board.posted[0]
    return None


def test_a_trial_that_ran_out_of_memory_is_never_switched_to_that_size_or_above() -> None:
    rows = results([(12, 32)])
    assert first_switch(rows) == ("t", 64, 1, 5)  # without the fault: explores 64
    marked = [{**row, OOM_BATCH_SIZE: 64} for row in rows]
    assert first_switch(marked) == ("t", 16, 1, 5)  # explores 16 instead


def test_a_switch_back_to_a_size_that_ran_out_of_memory_is_not_made() -> None:
    def back_to_64(history, peers, settings, cache) -> Decision:  # what rule 5 may say
        assert all(b < 64 for b in settings.batch_sizes)  # the candidates left out
        return Decision("switch", 64, 1, "switch back", len(history))

    board = RecordingBoard()
    sched = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=SIZES), policy=back_to_64, board=board
    )
    sched.set_search_properties("val_loss", "min")
    own = trial("t", 32)
    rows = [{**row, OOM_BATCH_SIZE: 64} for row in results([(4, 32)])]
    assert feed(sched, StubController(), own, rows) == [CONTINUE] * 4
    assert board.posted == [] and own.config["batch_size"] == 32
    assert sched.pending("t") is None


def test_a_switch_lost_with_the_board_is_made_by_a_restart_once() -> None:
    def to_64_after_two(history, peers, settings, cache) -> Decision:
        n = len(history)
        if n == 2:
            return Decision("switch", 64, 1, "scripted", n)
        return Decision("continue", history[-1].batch_size, 1, "", n)

    board = RecordingBoard()
    sched = ExtrapolationScheduler(
        SwitchSettings(batch_sizes=SIZES), policy=to_64_after_two, board=board
    )
    sched.set_search_properties("val_loss", "min")
    ctl, own = StubController(), trial("t", 32)
    rows = results([(5, 32)])
    assert feed(sched, ctl, own, rows[:2]) == [CONTINUE, CONTINUE]
    assert board.posted == [("t", 64, 1, 2)] and own.config["_switch_at"] == 2
    # the board was lost before the trial took the switch: report 3 still shows 32
    assert feed(sched, ctl, own, [rows[2]]) == [PAUSE]
    pending = sched.pending("t")
    assert (pending.batch_size, pending.report_index) == (64, 3)
    own.status = "PAUSED"
    assert sched.choose_trial_to_run(ctl) is own  # restarted with the switch in its config
    assert own.config["batch_size"] == 64 and own.config["_switch_at"] == 3
    # were that switch not taken either, the trial is not restarted again for it
    own.status = "RUNNING"
    assert feed(sched, ctl, own, [rows[3]]) == [CONTINUE]


def test_a_switch_the_trial_got_is_not_repeated() -> None:
    board = RecordingBoard()
    sched = scheduler(board=board, switch_via="inplace", explore=True)
    ctl, own = StubController(), trial("t", 32)
    rows = results([(5, 32), (3, 64)])  # it switched to 64 after report 5, as told
    assert feed(sched, ctl, own, rows) == [CONTINUE] * 8
    assert [p[1] for p in board.posted] == [64] and sched.pending("t") is None
