"""Tests of tune_bs.schedule.switching.decide with hand-built histories (no Ray).

Histories come from the deterministic simulator: a constant gradient-noise scale with
``c0/c1 = 256`` makes 64 the fastest size (16 is ~36 % slower per second, 1024 ~3x slower).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from tune_bs.errors import UserInputError
from tune_bs.schedule.simulator import LargeBatchModel, initial_state, switch, train
from tune_bs.schedule.switching import (
    Decision,
    FitCache,
    Peer,
    Report,
    Rule,
    SwitchSettings,
    decide,
)

SIZES = (16, 32, 64, 128, 256, 512, 1024)
FLAT = LargeBatchModel(noise_growth=1.0, step_overhead_s=0.256)  # best fixed size: 64
EVERY = 2_000.0  # samples per report


def history(m: LargeBatchModel, pieces: list[tuple[int, int]], wall0: float = 0.0) -> list[Report]:
    """Reports of a simulated trial: ``pieces`` = [(reports, batch_size), ...]."""
    state = initial_state(m, pieces[0][1])
    out = []
    for count, size in pieces:
        state = switch(m, state, size)
        for _ in range(count):
            state = train(m, state, EVERY)
            out.append(
                Report(state.samples_seen, state.loss, size, state.time_s, 1, wall0 + state.time_s)
            )
    return out


def settings(**kw: object) -> SwitchSettings:
    """Rules 3–8 in isolation: no exploration of uncovered sizes (rule 9, tested on its own),
    the pause-and-restore cost prior and a stop on the first dominated report, unless given."""
    base = {"explore": False, "switch_via": "restart", "stop_confirm_reports": 1}
    return SwitchSettings(batch_sizes=SIZES, **{**base, **kw})


def test_continues_during_grace() -> None:
    d = decide(history(FLAT, [(1, 1024)]), {"p": Peer(history(FLAT, [(30, 64)]))}, settings())
    assert d == Decision("continue", 1024, 1, d.reason, 1, Rule.GRACE)
    assert "grace" in d.reason


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_stops_and_marks(bad: float) -> None:
    h = history(FLAT, [(6, 64)])
    h[-1] = replace(h[-1], val_loss=bad)
    d = decide(h, {}, settings())
    assert (d.action, d.diverged, d.batch_size, d.report_index) == ("stop", True, 64, 6)


def test_switches_when_the_extrapolation_says_so() -> None:
    own = history(FLAT, [(12, 16)])
    peer = Peer(history(FLAT, [(30, 64)]), alive=False)  # stopped, but its curve informs
    d = decide(own, {"p64": peer}, settings())
    assert (d.action, d.batch_size, d.accumulation_steps) == ("switch", 64, 1)
    assert d.reason.startswith("extrapolation")


def test_no_switch_when_the_extrapolation_does_not_say_so() -> None:
    own = history(FLAT, [(12, 64)])
    peers = {
        "p16": Peer(history(FLAT, [(12, 16)]), alive=False),
        "p256": Peer(history(FLAT, [(40, 256)]), alive=False),
    }
    d = decide(own, peers, settings())
    assert (d.action, d.batch_size) == ("continue", 64)


def test_stops_a_clearly_worse_trial_but_not_the_leader() -> None:
    slow = history(FLAT, [(8, 1024)])  # 8 reports = 20 s
    fast = history(FLAT, [(2, 64)])  # 2 reports = 20 s, far lower loss
    d = decide(slow, {"fast": Peer(fast)}, settings())
    assert d.action == "stop" and not d.diverged
    assert "clearly worse" in d.reason
    slow_peer = {"slow": Peer(history(FLAT, [(30, 1024)]))}
    leader = decide(history(FLAT, [(8, 64)]), slow_peer, settings())
    assert leader.action != "stop"


def test_with_switching_off_it_stops_but_never_switches_or_explores() -> None:
    """The ablation ``switching: false``: rules 1-3 only."""
    own = history(FLAT, [(12, 16)])
    peer = {"p64": Peer(history(FLAT, [(30, 64)]), alive=False)}
    assert decide(own, peer, settings()).action == "switch"  # the same history, switching on
    off = decide(own, peer, settings(switching=False))
    assert (off.action, off.batch_size) == ("continue", 16)
    assert "switching off" in off.reason
    alone, explore = history(FLAT, [(5, 64)]), {"explore": True, "switch_via": "inplace"}
    assert decide(alone, {}, settings(**explore)).action == "switch"  # explores, switching on
    assert decide(alone, {}, settings(**explore, switching=False)).action == "continue"
    slow = history(FLAT, [(8, 1024)])
    fast = {"fast": Peer(history(FLAT, [(2, 64)]))}
    assert decide(slow, fast, settings(switching=False)).action == "stop"


def test_a_stopped_peer_cannot_stop_anyone() -> None:
    slow = history(FLAT, [(8, 1024)])
    d = decide(slow, {"fast": Peer(history(FLAT, [(2, 64)]), alive=False)}, settings())
    assert d.action != "stop"


def test_stops_a_duplicate_behind_a_peer_at_the_same_size() -> None:
    behind = history(FLAT, [(6, 32), (6, 64)])
    ahead = history(FLAT, [(20, 64)])
    d = decide(behind, {"ahead": Peer(ahead)}, settings(stop_margin=10.0))
    assert d.action == "stop" and d.reason.startswith("redundant")


def test_judges_a_bad_switch_and_switches_back_then_keeps_it_tabu() -> None:
    bad = history(FLAT, [(10, 64), (5, 16)])
    d = decide(bad, {}, settings())
    assert (d.action, d.batch_size) == ("switch", 64)
    assert "judged bad" in d.reason
    after = history(FLAT, [(10, 64), (5, 16), (5, 64)])
    # a peer whose machine runs batch 16 16x faster makes 16 look best again ...
    cheap = replace(FLAT, step_overhead_s=0.001)
    tempting = {"p16": Peer(history(cheap, [(60, 16)]), alive=False)}
    again = decide(after, tempting, settings())
    assert again.action == "continue" and again.batch_size == 64  # ... but 16 is tabu
    expired = decide(after, tempting, settings(tabu_reports=1))
    assert (expired.action, expired.batch_size) == ("switch", 16)


def test_keeps_a_good_switch() -> None:
    good = history(FLAT, [(10, 16), (5, 64)])
    d = decide(good, {}, settings())
    assert d.action == "continue" and d.batch_size == 64


def test_probes_a_larger_batch_when_progress_slows() -> None:
    growing = LargeBatchModel(noise_growth=256.0, step_overhead_s=0.064)
    own = history(growing, [(40, 32)])
    d = decide(own, {}, settings())
    assert (d.action, d.batch_size) == ("switch", 64)
    assert d.reason.startswith("probe")
    steady = decide(history(FLAT, [(40, 64)]), {}, settings())
    assert steady.action == "continue"  # constant noise scale: no reason to probe


def test_accumulation_action_carries_loader_and_steps() -> None:
    growing = LargeBatchModel(noise_growth=256.0, step_overhead_s=0.064)
    own = history(growing, [(40, 32)])
    d = decide(own, {}, settings(action="accumulation", max_loader_batch_size=32))
    assert (d.action, d.batch_size, d.accumulation_steps) == ("switch", 32, 2)
    assert d.effective_batch_size == 64


def test_decisions_are_idempotent_on_replay() -> None:
    own = history(FLAT, [(12, 16)])
    peers = {"p64": Peer(history(FLAT, [(30, 64)]), alive=False)}
    first = decide(own, peers, settings())
    shared = FitCache()
    decide(history(FLAT, [(9, 32)]), peers, settings(), shared)  # unrelated calls fill the cache
    assert decide(own, peers, settings(), shared) == first
    assert decide(list(own), dict(peers), settings()) == first
    # a restart sees the peer further along; its later reports are ignored by wall time
    later = {"p64": Peer(history(FLAT, [(300, 64)]), alive=False)}
    cut = [r for r in later["p64"].reports if r.wall_time <= own[-1].wall_time]
    assert decide(own, later, settings()) == decide(own, {"p64": Peer(cut, False)}, settings())


def test_settings_are_validated() -> None:
    with pytest.raises(UserInputError, match="batch_sizes"):
        SwitchSettings(batch_sizes=())
    with pytest.raises(UserInputError, match="action"):
        SwitchSettings(batch_sizes=(16,), action="bigger")  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="segment_reports"):
        SwitchSettings(batch_sizes=(16,), segment_reports=3)
    assert SwitchSettings(batch_sizes=[16, 64]).batch_sizes == (16, 64)


@pytest.mark.parametrize(
    "sizes, named",
    [
        ((16.5, 32.9), "16.5"),  # not integers (were rounded down to (16, 32))
        ((True, 32), "True"),  # a boolean (was taken as 1)
        (("sixteen",), "'sixteen'"),  # a string (was a raw ValueError)
        (32, "batch_sizes=32"),  # a bare number (was a raw TypeError)
        ((64, 16, 16), "(16, 64)"),  # unsorted, repeated: the fix is written out
        ((), "batch_sizes=()"),
    ],
)
def test_misused_candidate_sizes_get_one_line_naming_the_value_and_the_fix(
    sizes: object, named: str
) -> None:
    with pytest.raises(UserInputError, match="batch_sizes") as error:
        SwitchSettings(batch_sizes=sizes)  # type: ignore[arg-type]
    message = str(error.value)
    assert named in message and "\n" not in message
    assert "write" in message  # the fix


def test_no_switch_when_the_saving_does_not_pay_for_the_restart() -> None:
    own = history(FLAT, [(12, 16)])
    peer = {"p64": Peer(history(FLAT, [(30, 64)]), alive=False)}
    assert decide(own, peer, settings()).action == "switch"  # 2 s default restart: pays
    d = decide(own, peer, settings(switch_cost_s=1e4))
    assert (d.action, d.batch_size) == ("continue", 16)
    assert "restart" in d.reason
    # the same switch near the end of the trial's budget saves less than a restart
    ending = [replace(r, budget_samples=own[-1].samples_seen + EVERY) for r in own]
    assert decide(ending, peer, settings(switch_cost_s=20.0)).action == "continue"
    # with budget left it pays again
    long = [replace(r, budget_samples=1e7) for r in own]
    assert decide(long, peer, settings(switch_cost_s=20.0)).action == "switch"


def test_the_restart_cost_is_measured_from_the_trials_own_switches() -> None:
    slow_restart = replace(FLAT, switch_cost_s=5_000.0)  # each switch loses 5000 s
    own = history(slow_restart, [(10, 128), (12, 16)])  # its last switch cost 5000 s
    peer = {"p64": Peer(history(FLAT, [(30, 64)]), alive=False)}
    d = decide(own, peer, settings(switch_cost_s=0.0, tabu_reports=1))
    assert d.action == "continue" and "restart(s) of 5e+03s" in d.reason
    cheap = history(replace(FLAT, switch_cost_s=1.0), [(10, 128), (12, 16)])
    assert decide(cheap, peer, settings(switch_cost_s=1e4, tabu_reports=1)).action == "switch"


def test_a_switch_costs_only_the_overhead_beyond_every_report_s() -> None:
    """Every interval pays a report's overhead on the wall clock (here 0.3 s); a restart-free
    switch pays nothing more, so it costs 0 s — not the 0.3 s of any interval."""
    from tune_bs.schedule.switching.throughput import cost_model, switch_costs

    own = history(FLAT, [(6, 64), (4, 128)])
    with_overhead = [
        replace(r, wall_time=r.time_s + 0.3 * i, own_clock=True) for i, r in enumerate(own)
    ]
    model = cost_model([own], FitCache())
    assert switch_costs(with_overhead, model, FitCache()) == pytest.approx([0.0], abs=1e-9)
    # a restart adds 2 s of wall time to the interval that straddles it
    restarted = [
        replace(r, wall_time=r.wall_time + (2.0 if i >= 6 else 0.0))
        for i, r in enumerate(with_overhead)
    ]
    assert switch_costs(restarted, model, FitCache()) == pytest.approx([2.0], abs=1e-9)


def jittered(reports: list[Report], seconds: list[float]) -> list[Report]:
    """``reports`` whose ``i``-th interval lasts ``seconds[i]`` longer on both clocks."""
    shift, out = 0.0, []
    for r, extra in zip(reports, seconds, strict=True):
        shift += extra
        out.append(replace(r, time_s=r.time_s + shift, wall_time=r.time_s + shift, own_clock=True))
    return out


def test_a_slow_interval_within_the_noise_of_the_others_is_not_a_switch_cost() -> None:
    """The interval that straddles a restart-free switch is as slow as the trial's slowest
    ordinary intervals: within 2 noise stds of them, so the switch costs 0 s (it used to cost
    that interval's excess, which then priced every later exploration)."""
    from tune_bs.schedule.switching.throughput import cost_model, switch_costs

    own = history(FLAT, [(6, 64), (4, 128)])  # intervals of 10 s (64) and ~9 s (128)
    spread = [0.0, 0.4, -0.4, 0.5, -0.5, 0.0, 0.5, 0.4, 0.0, -0.4]  # report 7 straddles
    slow = jittered(own, spread)
    model = cost_model([slow], FitCache())
    assert switch_costs(slow, model, FitCache()) == pytest.approx([0.0], abs=1e-9)
    # the same +0.5 s on intervals that never vary is a cost
    steady = jittered(own, [0.0] * 6 + [0.5] + [0.0] * 3)
    assert switch_costs(steady, cost_model([steady], FitCache()), FitCache()) == pytest.approx(
        [0.5], abs=1e-6
    )
    # and a restart's 3 s stands out of the noise (less the 2 stds the noise may explain)
    restarted = jittered(own, [*spread[:6], 3.0, *spread[7:]])
    (cost,) = switch_costs(restarted, cost_model([restarted], FitCache()), FitCache())
    assert 1.5 < cost < 3.0


def noisy(reports: list[Report], sigma: float, seed: int) -> list[Report]:
    """``reports`` with Gaussian noise of std ``sigma`` on ``val_loss``."""
    rng = np.random.default_rng(seed)
    return [replace(r, val_loss=r.val_loss + sigma * rng.standard_normal()) for r in reports]


def test_a_trial_within_the_noise_floor_is_not_stopped() -> None:
    # 128 is ~8 % slower per second than 64: behind at equal compute by less than the noise
    close, leader = history(FLAT, [(8, 128)]), history(FLAT, [(8, 64)])
    strict = settings(stop_margin=0.0)
    assert decide(close, {"lead": Peer(leader)}, strict).action == "stop"  # noiseless: stopped
    sigma = 0.05  # val_loss noise between reports
    close, leader = noisy(close, sigma, 5), noisy(leader, sigma, 6)
    d = decide(close, {"lead": Peer(leader)}, strict)
    assert d.action != "stop"
    no_floor = decide(close, {"lead": Peer(leader)}, settings(stop_margin=0.0, stop_noise_z=0.0))
    assert no_floor.action == "stop"  # the gap is real but within the noise floor
    # a clearly worse trial is still stopped through the same noise
    slow = noisy(history(FLAT, [(8, 1024)]), sigma, 3)
    fast = noisy(history(FLAT, [(8, 64)]), sigma, 4)
    assert decide(slow, {"fast": Peer(fast)}, settings()).action == "stop"


def test_no_stop_before_the_noise_can_be_estimated() -> None:
    slow = history(FLAT, [(4, 1024)])  # 4 reports: no curve fit anywhere yet
    fast = history(FLAT, [(4, 64)])
    d = decide(slow, {"fast": Peer(fast)}, settings())
    assert d.action == "continue"


def test_one_noisy_report_does_not_stop_a_trial_two_do() -> None:
    peer = {"slow": Peer(history(FLAT, [(30, 256)]))}
    lead = history(FLAT, [(12, 64)])
    spiked = [*lead[:-1], replace(lead[-1], val_loss=lead[-1].val_loss * 2.0)]
    assert decide(spiked, peer, settings(stop_confirm_reports=1)).action == "stop"
    assert decide(spiked, peer, settings(stop_confirm_reports=2)).action == "continue"
    twice = lead[:-2] + [replace(r, val_loss=r.val_loss * 2.0) for r in lead[-2:]]
    assert decide(twice, peer, settings(stop_confirm_reports=2)).action == "stop"


def test_a_lone_trial_explores_the_next_size_after_its_first_segment() -> None:
    explore = settings(explore=True, switch_via="inplace")
    alone = history(FLAT, [(5, 64)])
    d = decide(alone, {}, explore)
    assert (d.action, d.batch_size) == ("switch", 128) and d.reason.startswith("explore")
    assert decide(alone[:4], {}, explore).action == "continue"  # still measuring
    top = history(FLAT, [(5, 1024)])
    assert decide(top, {}, explore).batch_size == 512  # nothing above: explores downwards
    assert decide(alone, {}, settings(explore=False)).action == "continue"


def test_no_exploration_of_a_size_a_peer_covers_even_before_it_reports() -> None:
    explore = settings(explore=True, switch_via="inplace")
    alone = history(FLAT, [(5, 64)])
    waiting = {"p128": Peer((), alive=True, batch_size=128)}
    d = decide(alone, waiting, explore)
    assert (d.action, d.batch_size) == ("switch", 32)  # 128 is covered: the one below
    both = {**waiting, "p32": Peer((), alive=True, batch_size=32)}
    assert decide(alone, both, explore).batch_size == 256  # the nearest uncovered one
    grid = {f"p{b}": Peer((), alive=True, batch_size=b) for b in SIZES if b != 64}
    assert decide(alone, grid, explore).action == "continue"  # a grid covers every size


def run_alone(
    start: int, reports: int, s: SwitchSettings, budget_reports: int = 60, noise: float = 0.0
) -> tuple[list[Report], list[Decision]]:
    """A lone trial of the simulator under the policy, every decision carried out: its reports
    (each with the samples budget of ``budget_reports`` reports) and the decisions."""
    rng = np.random.default_rng(0)
    state, out, decisions, cache = initial_state(FLAT, start), [], [], FitCache()
    for _ in range(reports):
        state = train(FLAT, state, EVERY)
        loss = state.loss + noise * float(rng.standard_normal())
        out.append(
            Report(state.samples_seen, loss, state.batch_size, state.time_s, 1, state.time_s,
                   budget_reports * EVERY)
        )  # fmt: skip
        decisions.append(decide(out, {}, s, cache))
        if decisions[-1].action == "switch":
            state = switch(FLAT, state, decisions[-1].batch_size)
        elif decisions[-1].action == "stop":
            break
    return out, decisions


def sizes_of(reports: list[Report]) -> list[int]:
    """The batch sizes a trial ran at, in order (one entry per segment)."""
    return [
        b
        for i, b in enumerate(r.batch_size for r in reports)
        if i == 0 or reports[i - 1].batch_size != b
    ]


def test_a_lone_trials_probe_that_ends_worse_is_reverted_and_not_retried() -> None:
    """Under the budget objective a larger batch ends this model's budget higher (a smaller one
    is more sample-efficient): the visit to 128 is judged on its own curve against the
    extrapolation of 64's, reverted, and neither 128 nor anything beyond it is visited again;
    the visits go the way the evidence points (down), one at a time, each judged."""
    explore = settings(explore=True, switch_via="inplace")
    reports, decisions = run_alone(64, 60, explore)
    switches = [(d.report_index, d.batch_size, d.rule) for d in decisions if d.action == "switch"]
    assert switches[0][1:] == (128, Rule.EXPLORE)
    assert switches[1][1:] == (64, Rule.REVERT)  # judged worse: back
    after = sizes_of(reports)[2:]
    assert all(b < 128 for b in after), sizes_of(reports)  # 128 and beyond: never again
    assert reports[-1].batch_size < 128  # it does not end at the size judged worse
    # no ramp: every visit waits for the verdict on the one before (rule 4 and 5 in between)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(switches)]
    assert min(gaps) >= explore.segment_reports


def test_a_visit_judged_good_rules_out_the_size_it_left() -> None:
    """From 16 the visit to 32 ends lower per second (speed objective: 64 is fastest): kept,
    so 16 and below are not visited again; the next visit goes on upwards."""
    explore = settings(explore=True, switch_via="inplace", objective="speed")
    reports, _ = run_alone(16, 40, explore)
    sizes = sizes_of(reports)
    assert sizes[:2] == [16, 32], sizes
    assert all(b > 16 for b in sizes[1:]), sizes


def test_exploration_by_accumulation_carries_loader_and_steps() -> None:
    explore = settings(
        explore=True, switch_via="inplace", action="accumulation", max_loader_batch_size=64
    )
    d = decide(history(FLAT, [(5, 64)]), {}, explore)
    assert (d.action, d.batch_size, d.accumulation_steps) == ("switch", 64, 2)


def test_the_exploration_budget_is_bounded() -> None:
    explore = settings(explore=True, switch_via="inplace", explore_until=0.5)
    alone = history(FLAT, [(5, 64)])  # 5 reports of 2 000 samples: 10 000 samples seen

    def budget(samples: float) -> list[Report]:
        return [replace(r, budget_samples=samples) for r in alone]

    assert decide(budget(22_000), {}, explore).action == "switch"  # room for a verdict
    assert decide(budget(21_999), {}, explore).action == "continue"  # < 5 + 1 reports left
    half = settings(explore=True, switch_via="inplace", explore_until=0.25)
    assert decide(budget(40_000), {}, half).action == "switch"  # at a quarter: starts
    assert decide(budget(39_999), {}, half).action == "continue"  # past it: no visit


def test_an_unjudgeable_switch_is_reverted_only_when_the_loss_rose() -> None:
    # the curve left behind is flat noise around 2.0 (it cannot be fitted or extrapolated)
    flat = [Report(2_000.0 * (i + 1), 2.0 + 0.01 * (-1) ** i, 64, 10.0 * (i + 1)) for i in range(6)]

    def after(losses: list[float]) -> list[Report]:
        last = flat[-1]
        return flat + [
            Report(last.samples_seen + 2_000.0 * (i + 1), v, 128, last.time_s + 8.0 * (i + 1))
            for i, v in enumerate(losses)
        ]

    rising = after([2.05 + 0.025 * i for i in range(10)])
    d = decide(rising, {}, settings())
    assert (d.action, d.batch_size) == ("switch", 64) and "could not be judged" in d.reason
    waiting = decide(rising[:-1], {}, settings())  # within the window: pending
    assert waiting.action == "continue" and "judging" in waiting.reason
    falling = after([1.9 - 0.02 * i for i in range(10)])
    assert decide(falling, {}, settings()).batch_size == 128  # kept


def test_exploration_must_pay_for_two_switches() -> None:
    alone = history(FLAT, [(5, 64)])
    expensive = settings(explore=True, switch_via="restart", switch_cost_s=1e6)
    assert decide(alone, {}, expensive).action == "continue"


def test_the_switch_cost_prior_follows_the_switch_path() -> None:
    assert SwitchSettings(batch_sizes=(8,)).prior_switch_cost_s == 0.001
    assert SwitchSettings(batch_sizes=(8,), switch_via="restart").prior_switch_cost_s == 2.0
    given = SwitchSettings(batch_sizes=(8,), switch_via="restart", switch_cost_s=0.5)
    assert given.prior_switch_cost_s == 0.5
    with pytest.raises(UserInputError, match="switch_via"):
        SwitchSettings(batch_sizes=(8,), switch_via="teleport")  # type: ignore[arg-type]


def test_a_pending_switch_is_decided_by_the_sign_at_the_end_of_its_window() -> None:
    """Within the noise of the extrapolation a switch waits; after 2·segment_reports reports it
    stays if the new curve is below the extrapolation of the old one, else it goes back."""
    from tune_bs.schedule.switching.judging import judge
    from tune_bs.schedule.switching.view import DecisionView

    pending = 0
    for seed in range(12):
        h = noisy(history(FLAT, [(10, 64), (10, 128)]), 0.02, seed)  # 128: ~8 % slower
        verdict = judge(DecisionView(h, {}, settings(), FitCache()))
        if verdict.verdict != "pending":
            continue
        pending += 1
        assert decide(h[:-1], {}, settings()).action == "continue"  # waiting inside the window
        d = decide(h, {}, settings())
        assert (d.action == "switch") == (verdict.level >= verdict.stay)
        assert d.action == "continue" or d.batch_size == 64
    assert pending >= 2
