"""The budget objective of the switching policy (``SwitchSettings.objective="budget"``, the
default): every trial has a samples budget, so a size is judged by the loss it can reach at the
end of that budget, then by the seconds it takes to get there (no Ray; simulator histories).

In the simulator with a constant gradient-noise scale, a smaller batch is more sample-efficient
(it reaches a lower loss after the same samples) and batch 64 is the fastest per second: the two
objectives disagree exactly where a sample budget binds.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
from test_switching import EVERY, FLAT, history, settings

from tune_bs.schedule.switching import FitCache, Peer, Report, Rule, decide


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
    fitted = budgeted(history(FLAT, [(12, 1024)]), budget)  # its curve ends far above the leader's
    d = decide(fitted, {"fast": leader}, settings())
    assert d.action == "stop" and d.rule is Rule.BEHIND and "cannot reach" in d.reason


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


def flat(reports: list[Report], level: float, spread: float) -> list[Report]:
    """``reports`` with their losses replaced by noise about ``level`` (no decrease: no curve
    family is fitted to them)."""
    noise = [0.0, 1.0, -0.8, 0.6, -1.0, 0.9, -0.4, 0.2, -0.7, 0.8]
    return [
        replace(r, val_loss=level + spread * noise[i % len(noise)]) for i, r in enumerate(reports)
    ]


def test_a_size_that_does_not_decrease_is_taken_as_flat_and_stopped_when_it_cannot_reach() -> None:
    """A trial stuck at 3.0 (its reports refuse every curve) beside a leader that ends far
    lower: it is stopped as flat (mean less 2 stds is still above the leader's end); without
    ``flat_when_unfitted`` it was kept to the end of its budget."""
    budget = 60 * EVERY
    leader = Peer(budgeted(history(FLAT, [(30, 64)], wall0=-100), budget))
    stuck = flat(budgeted(history(FLAT, [(8, 16)]), budget), level=3.0, spread=0.05)
    d = decide(stuck, {"leader": leader}, settings())
    assert d.action == "stop" and d.rule is Rule.BEHIND and "(flat)" in d.reason
    kept = decide(stuck, {"leader": leader}, settings(flat_when_unfitted=False))
    assert kept.action == "continue" and "not fitted" in kept.reason
    # 4 reports: too few to call it flat, so nothing stops it yet
    assert decide(stuck[:4], {"leader": leader}, settings()).action == "continue"


def test_a_flat_size_is_left_for_a_size_whose_curve_descends_from_its_level() -> None:
    """Stuck at 3.0 beside a stopped peer at 64 whose curve passed 3.0 and kept falling (a
    stopped peer stops no one, but its curve informs): the trial switches to 64, which is
    expected to end lower; the speed objective never calls a segment flat."""
    budget = 60 * EVERY
    earlier = budgeted(history(FLAT, [(12, 64)], wall0=-1e6), budget)
    assert earlier[0].val_loss > 3.0 > earlier[-1].val_loss
    stuck = flat(budgeted(history(FLAT, [(8, 16)]), budget), level=3.0, spread=0.05)
    d = decide(stuck, {"p64": Peer(earlier, alive=False)}, settings())
    assert (d.action, d.batch_size) == ("switch", 64) and "budget objective" in d.reason
    by_speed = decide(stuck, {"p64": Peer(earlier, alive=False)}, settings(objective="speed"))
    assert by_speed.action == "continue" and "not fitted" in by_speed.reason


# --- rivals: every trial of the search, budgets of their own, late drops ----------------------
def curve(
    start: float, final: float, rate: float, reports: int, budget: float, wall0: float = 0.0
) -> list[Report]:
    """A trial's reports of ``final + (start − final)·exp(−rate·k)``, one per ``EVERY`` samples
    and 10 s (from ``wall0`` on the shared clock), with a samples ``budget``."""
    return [
        Report(
            EVERY * k,
            final + (start - final) * np.exp(-rate * k),
            16,
            10.0 * k,
            1,
            wall0 + 10.0 * k,
            budget,
        )
        for k in range(1, reports + 1)
    ]


def test_a_rival_with_another_config_and_a_shorter_budget_is_compared_at_its_own_end() -> None:
    """A rival (``pools=False``: another learning rate) ran its 10-report budget to 0.5. A trial
    with a 40-report budget at 1.1 after 8 reports, still falling fast, is not stopped: its own
    curve at the end of its own budget reaches below the rival's end. A trial stuck above 1.6
    is."""
    rival = Peer(curve(2.3, 0.5, 0.5, 10, 10 * EVERY, wall0=-1e3), alive=False, pools=False)
    falling = curve(2.3, 0.2, 0.15, 8, 40 * EVERY)
    assert decide(falling, {"r": rival}, settings()).action != "stop"
    stuck = curve(2.3, 1.6, 0.6, 8, 40 * EVERY)
    d = decide(stuck, {"r": rival}, settings())
    assert d.action == "stop" and d.rule is Rule.BEHIND


def late_dropper(
    reports: int, budget_reports: int, plateau: float, final: float, wall0: float = 0.0
) -> list[Report]:
    """A run with a learning rate that decays at 80 % of its budget: it falls to ``plateau`` and
    sits there, then drops to ``final`` over its last fifth."""
    out = []
    for k in range(1, reports + 1):
        loss = plateau + (2.3 - plateau) * np.exp(-0.4 * k)
        if k > 0.8 * budget_reports:
            loss -= (plateau - final) * (k - 0.8 * budget_reports) / (0.2 * budget_reports)
        out.append(
            Report(EVERY * k, loss, 16, 10.0 * k, 1, wall0 + 10.0 * k, budget_reports * EVERY)
        )
    return out


def test_a_late_drop_a_finished_rival_showed_protects_a_trial_its_curve_cannot_foresee() -> None:
    """A finished rival's loss sat at 0.8 until its learning rate decayed, then dropped to 0.3.
    A trial at 40 % of the same schedule sitting at 0.9 would be stopped on its curve alone
    (0.9 cannot reach 0.3); the rival's own drop beyond what its curve said at 40 % widens the
    margin, so it is not — the evidence that such a drop comes is in the search."""
    rival = Peer(late_dropper(50, 50, 0.8, 0.3, wall0=-1e3), alive=False, pools=False)
    trial = late_dropper(20, 50, 0.9, 0.4)
    assert decide(trial, {"r": rival}, settings()).action == "continue"
    # a rival that finished without a drop gives no such allowance: the same trial is stopped
    plain = Peer(curve(2.3, 0.3, 0.4, 50, 50 * EVERY, wall0=-1e3), alive=False, pools=False)
    assert decide(trial, {"r": plain}, settings()).action == "stop"


def test_predictions_stay_above_the_floor_of_a_loss() -> None:
    """Curves that fall almost linearly: an unbounded fit puts their end of budget below zero
    (a negative cross-entropy); with ``curve_floor=0`` (what the scheduler states for a loss)
    every figure the policy compares is at least 0."""
    from tune_bs.schedule.switching.stopping import expected_final
    from tune_bs.schedule.switching.view import DecisionView

    linear = [
        Report(EVERY * k, 2.3 - 0.2 * k + 0.004 * (-1) ** k, 16, 10.0 * k, 1, 10.0 * k, 60 * EVERY)
        for k in range(1, 9)
    ]
    rival = Peer(linear, alive=True, pools=False)
    own = curve(2.3, 1.0, 0.3, 8, 60 * EVERY)
    free = DecisionView(own, {"r": rival}, settings(), FitCache())
    assert expected_final(free, rival) < 0.0  # the unbounded fit leaves the loss's range
    bounded = DecisionView(own, {"r": rival}, settings(curve_floor=0.0), FitCache())
    assert expected_final(bounded, rival) >= 0.0
    assert bounded.reach is not None and bounded.reach >= 0.0
    d = decide(own, {"r": rival}, settings(curve_floor=0.0))
    figures = [float(x) for x in re.findall(r"-?\d+\.\d+", d.reason)]
    assert all(x >= 0.0 for x in figures), d.reason


def test_one_exploding_rival_does_not_widen_the_margin_until_nothing_stops() -> None:
    """A random search over the learning rate: one trial explodes (first loss 1e6, and on). The
    margin scales with the *median* first loss of the trial and its rivals, so the trial stuck
    at 3.0 is still stopped beside the leader; scaled by the highest first loss (1e6), the
    margin was 1e5 and stopped nothing."""
    budget = 60 * EVERY
    leader = Peer(budgeted(history(FLAT, [(30, 64)], wall0=-100), budget))
    exploded = flat(budgeted(history(FLAT, [(8, 32)]), budget), level=1e6, spread=1e3)
    stuck = flat(budgeted(history(FLAT, [(8, 16)]), budget), level=3.0, spread=0.05)
    rivals = {"leader": leader, "exploded": Peer(exploded)}
    d = decide(stuck, rivals, settings())
    assert d.action == "stop" and d.rule is Rule.BEHIND and "leader" in d.reason
    assert "exploded" not in d.reason  # it is not ahead of anyone
