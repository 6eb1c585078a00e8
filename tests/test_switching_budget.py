"""The budget objective of the switching policy (``SwitchSettings.objective="budget"``, the
default): every trial has a samples budget, so a size is judged by the loss it can reach at the
end of that budget, then by the seconds it takes to get there (no Ray; simulator histories).

In the simulator with a constant gradient-noise scale, a smaller batch is more sample-efficient
(it reaches a lower loss after the same samples) and batch 64 is the fastest per second: the two
objectives disagree exactly where a sample budget binds.
"""

from __future__ import annotations

from dataclasses import replace

from test_switching import EVERY, FLAT, history, settings

from tune_bs.schedule.switching import Peer, Report, decide


def budgeted(reports: list[Report], budget: float) -> list[Report]:
    """The reports of a trial whose samples budget is ``budget``."""
    return [replace(r, budget_samples=budget) for r in reports]


def test_the_budget_objective_moves_to_the_size_that_ends_lower() -> None:
    budget = 40 * EVERY
    own = budgeted(history(FLAT, [(12, 64)]), budget)
    earlier = history(FLAT, [(12, 16)], wall0=-1e6)  # it ran before this trial
    peer = {"p16": Peer(budgeted(earlier, budget), alive=False)}
    by_budget = decide(own, peer, settings())
    assert (by_budget.action, by_budget.batch_size) == ("switch", 16)
    assert "budget objective" in by_budget.reason
    by_speed = decide(own, peer, settings(objective="speed"))
    assert (by_speed.action, by_speed.batch_size) == ("continue", 64)  # 64 is faster per second


def test_a_faster_size_that_ends_within_the_tolerance_is_taken() -> None:
    """Two reports before the end of the budget 64 would end at 1.61 and 16 at 1.52 (from
    1.67): 64 is 3.4x faster per sample, and ``end_margin`` decides whether giving up that much
    of the decrease still to come (0.08 of 0.15) is acceptable."""
    own = history(FLAT, [(12, 16)])
    ending = budgeted(own, own[-1].samples_seen + 2 * EVERY)
    peer = {"p64": Peer(budgeted(history(FLAT, [(30, 64)], wall0=-1e6), 1e9), alive=False)}
    strict = decide(ending, peer, settings(switch_cost_s=0.0))
    assert (strict.action, strict.batch_size) == ("continue", 16)  # default 0.05: too much lost
    lenient = decide(ending, peer, settings(switch_cost_s=0.0, end_margin=0.6))
    assert (lenient.action, lenient.batch_size) == ("switch", 64)
    assert "sooner" in lenient.reason


def test_a_trial_behind_at_equal_compute_is_not_stopped_while_it_can_end_lower() -> None:
    budget = 60 * EVERY
    slow = budgeted(history(FLAT, [(8, 16)]), budget)  # sample-efficient, slower per second
    fast = budgeted(history(FLAT, [(11, 64)]), budget)  # ahead at equal compute
    by_speed = decide(slow, {"fast": Peer(fast)}, settings(objective="speed", stop_margin=0.0))
    assert by_speed.action == "stop" and "equal compute" in by_speed.reason
    by_budget = decide(slow, {"fast": Peer(fast)}, settings(stop_margin=0.0))
    assert by_budget.action != "stop"


def test_no_stop_before_the_trials_own_curve_says_where_it_can_end() -> None:
    budget = 60 * EVERY
    leader = Peer(budgeted(history(FLAT, [(30, 64)], wall0=-100), budget))
    young = budgeted(history(FLAT, [(4, 1024)]), budget)  # 4 reports: no curve yet
    assert decide(young, {"fast": leader}, settings(objective="speed")).action == "stop"
    assert decide(young, {"fast": leader}, settings()).action == "continue"
    fitted = budgeted(history(FLAT, [(8, 1024)]), budget)  # its curve ends far above the leader's
    d = decide(fitted, {"fast": leader}, settings())
    assert d.action == "stop" and "cannot reach" in d.reason


def test_the_band_widens_with_the_depth_of_the_extrapolation() -> None:
    """5 reports carried 14 of their ranges to the end of the budget: the fit's own band would
    stop the trial, the calibrated one (``band_depth_gain``) cannot rule out that it ends level."""
    budget = 60 * EVERY
    leader = Peer(budgeted(history(FLAT, [(30, 64)], wall0=-100), budget))
    young = budgeted(history(FLAT, [(5, 1024)]), budget)
    assert decide(young, {"fast": leader}, settings(band_depth_gain=0.0)).action == "stop"
    assert decide(young, {"fast": leader}, settings()).action == "continue"


def test_a_peer_that_finished_its_budget_can_stop_a_trial_that_cannot_reach_its_end() -> None:
    budget = 20 * EVERY
    done = budgeted(history(FLAT, [(20, 64)]), budget)  # ran its whole budget
    behind = budgeted(history(FLAT, [(8, 1024)], wall0=done[-1].wall_time), budget)
    d = decide(behind, {"done": Peer(done, alive=False)}, settings())
    assert d.action == "stop" and "cannot reach" in d.reason
    unfinished = Peer(done[:-3], alive=False)  # stopped early: its curve informs, stops no one
    assert decide(behind, {"stopped": unfinished}, settings()).action != "stop"


def test_a_switch_to_a_more_sample_efficient_size_is_judged_by_where_it_ends() -> None:
    """64 → 16 loses at equal time (16 is slower per second) but ends the budget lower."""
    budget = 60 * EVERY
    switched = budgeted(history(FLAT, [(10, 64), (5, 16)]), budget)
    by_speed = decide(switched, {}, settings(objective="speed"))
    assert (by_speed.action, by_speed.batch_size) == ("switch", 64)
    by_budget = decide(switched, {}, settings())
    assert by_budget.batch_size == 16 and by_budget.action == "continue"
