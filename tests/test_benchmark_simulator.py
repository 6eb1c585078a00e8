"""The simulator benchmark: its baselines, its settings, its clocks and its smoke run.

No timing thresholds and no goal thresholds: the policy's figures are printed, not asserted.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from types import ModuleType

import pytest
from conftest import load_benchmark

from tune_bs.schedule.simulator import LargeBatchModel, initial_state, train


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("simulator", "simulator_benchmark")


def instance(bench: ModuleType, **changes: float):
    """The tuning setting 16x growth, c0/c1 64, no observation noise, with ``changes``."""
    setting = replace(bench.tuning_settings(1)[8], **changes)
    assert (setting.noise_growth, setting.overhead_ratio, setting.obs_noise) == (16, 64, 0)
    return bench.instantiate(setting)


def recorded(bench: ModuleType, hook, **kwargs):
    """Run all candidates under ``hook``; return the outcome and the final trials."""
    seen = {}

    def wrapped(trial, trials, wall):
        seen["trials"] = trials
        return hook(trial, trials, wall)

    inst = kwargs.pop("inst")
    outcome = bench.simulate(
        inst.model,
        bench.CANDIDATES,
        inst.report_every,
        inst.budget_s,
        len(bench.CANDIDATES),
        wrapped,
        0,
        **kwargs,
    )
    return outcome, seen["trials"]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_keeps_exactly_k_trials_after_the_first_report(bench: ModuleType, k: int) -> None:
    inst = instance(bench)
    outcome, trials = recorded(bench, bench.top_k_hook(k), inst=inst)
    kept = [t for t in trials if len(t.reports) > 1]
    assert len(kept) == k and outcome.stopped == len(trials) - k
    assert all(t.stopped and len(t.reports) == 1 for t in trials if t not in kept)
    firsts = sorted(trials, key=lambda t: t.reports[0].val_loss)
    assert {t.index for t in kept} == {t.index for t in firsts[:k]}  # the best first reports
    last_first = max(t.reports[0].wall_time for t in trials)
    assert all(t.reports[1].wall_time > last_first for t in kept)  # it waited for all


def test_successive_halving_rung_arithmetic(bench: ModuleType) -> None:
    assert bench.halving_rungs(8, 90.0, 3) == [(10.0, 2), (30.0, 1)]
    assert bench.halving_rungs(8, 80.0, 2) == [(10.0, 4), (20.0, 2), (40.0, 1)]
    assert bench.halving_rungs(27, 81.0, 3) == [(3.0, 9), (9.0, 3), (27.0, 1)]
    assert bench.halving_rungs(2, 40.0, 4) == [(10.0, 1)]
    assert bench.halving_rungs(1, 40.0, 3) == []


def test_successive_halving_stops_at_its_rungs_and_waits(bench: ModuleType) -> None:
    inst = instance(bench)
    (first, _), (second, _) = bench.halving_rungs(8, inst.budget_s, 3)
    outcome, trials = recorded(bench, bench.halving_hook(8, inst.budget_s, 3), inst=inst)
    assert outcome.stopped == 7 and math.isfinite(outcome.time_to_target)
    ends = sorted(t.reports[-1].time_s for t in trials if t.stopped)
    assert all(first <= e < second for e in ends[:6]) and ends[6] >= second
    reached = [next(r.wall_time for r in t.reports if r.time_s >= first) for t in trials]
    for t in trials:
        if not t.stopped or t.reports[-1].time_s >= second:  # went on past the first rung
            after = [r.wall_time for r in t.reports if r.time_s >= first][1:]
            assert after and min(after) > max(reached)
    # waiting is free: the compute is each trial's own seconds, less than 8 trials × the wall
    assert outcome.cost < 8 * outcome.time_to_target


def test_grid_cost_is_every_trial_until_the_first_crossing(bench: ModuleType) -> None:
    inst = instance(bench)
    outcome, _ = recorded(bench, bench.grid_hook, inst=inst)
    assert outcome.time_to_target == pytest.approx(inst.best_time, rel=1e-9)
    assert outcome.cost == pytest.approx(8 * outcome.time_to_target, rel=1e-9)


def test_a_pbt_clone_pays_one_restart_whether_or_not_the_size_changes(bench: ModuleType) -> None:
    model = LargeBatchModel(switch_cost_s=3.0)
    trial = train(model, initial_state(model, 32), 10_000)
    donor = train(model, initial_state(model, 64), 20_000)
    for size in (32, 64, 128):
        cloned = bench.clone(model, trial, donor, size)
        assert cloned.time_s == pytest.approx(trial.time_s + 3.0)
        assert (cloned.loss, cloned.samples_seen, cloned.batch_size) == (
            donor.loss,
            donor.samples_seen,
            size,
        )
        assert math.isinf(cloned.time_to_target_s)


def test_pbt_trials_spend_their_training_plus_one_restart_per_clone(bench: ModuleType) -> None:
    inst = instance(bench, switch_cost=3.0)  # a restart of three report intervals
    hook = bench.pbt_hook(inst.best_time / 10, 1)
    outcome, trials = recorded(bench, hook, inst=inst)
    assert outcome.switches > 0
    for t in trials:
        training = sum(
            inst.report_every * inst.model.seconds_per_sample(r.batch_size) for r in t.reports
        )
        expected = training + t.switches * inst.model.switch_cost_s
        assert t.state.time_s == pytest.approx(expected, rel=1e-9)  # after its last report


def test_the_heldout_draw_is_seeded_and_wider_than_the_tuning_grid(bench: ModuleType) -> None:
    draw = bench.heldout_settings(60, 12)
    assert draw == bench.heldout_settings(60, 12)
    assert draw != bench.heldout_settings(60, 13)
    assert len({s.seeds for s in draw}) == 60  # each setting its own noise seed
    tuning = bench.tuning_settings(5)
    assert len(tuning) == 18 and sum(len(s.seeds) for s in tuning) == 9 + 9 * 5
    for name, p in bench.PARAMETERS.items():
        assert p.low <= min(p.tuning) and p.high >= max(p.tuning)
        assert p.low < min(p.tuning) or p.high > max(p.tuning), name  # strictly wider
        assert {getattr(s, name) for s in tuning} == set(p.tuning), name
        values = [getattr(s, name) for s in draw]
        assert all(p.low <= v <= p.high for v in values), name
        assert any(v < min(p.tuning) or v > max(p.tuning) for v in values), name


def test_whole_second_clocks_floor_both_clocks(bench: ModuleType) -> None:
    inst = instance(bench)
    clock = bench.Clock(whole_seconds=True, phase=0.5)
    _, trials = recorded(bench, bench.grid_hook, inst=inst, clock=clock)
    _, exact = recorded(bench, bench.grid_hook, inst=inst)
    for t, e in zip(trials, exact, strict=True):
        for r, q in zip(t.reports, e.reports, strict=True):
            assert r.time_s == math.floor(q.time_s) and r.wall_time == math.floor(q.wall_time + 0.5)
            assert not r.own_clock and q.own_clock


def test_clock_jitter_is_seeded_and_keeps_the_mean_pace(bench: ModuleType) -> None:
    inst = instance(bench)
    jitter = bench.Clock(jitter=0.1)
    _, a = recorded(bench, bench.grid_hook, inst=inst, clock=jitter)
    _, b = recorded(bench, bench.grid_hook, inst=inst, clock=jitter)
    _, exact = recorded(bench, bench.grid_hook, inst=inst)
    assert [r.time_s for r in a[0].reports] == [r.time_s for r in b[0].reports]
    for t, e in zip(a, exact, strict=True):
        steps = [y.time_s - x.time_s for x, y in zip(t.reports, t.reports[1:], strict=False)]
        nominal = e.reports[1].time_s - e.reports[0].time_s
        assert len({round(s, 9) for s in steps}) > 1  # the intervals vary
        assert sum(steps) / len(steps) == pytest.approx(nominal, rel=0.05)
        n = min(len(t.reports), len(e.reports))  # the first crossing ends them at other times
        assert n > 1 and [r.samples_seen for r in t.reports[:n]] == [
            r.samples_seen for r in e.reports[:n]
        ]


def test_bad_options_exit_with_status_2(bench: ModuleType, capsys) -> None:
    for argv in (["--count", "0"], ["--clock-noise", "-1"], ["--settings", "all"]):
        with pytest.raises(SystemExit) as exc:
            bench.main(argv)
        assert exc.value.code == 2
    assert "--count must be at least 1" in capsys.readouterr().err


def test_smoke_run_prints_the_ranges_one_line_per_goal_and_the_figures(
    bench: ModuleType, capsys
) -> None:
    assert bench.main(["--smoke-test"]) == 0
    out = capsys.readouterr().out
    assert "| B_noise growth, target / initial (x) | 1, 16, 256 | 1 - 1024 (log-uniform) |" in out
    goals = re.findall(r"^GOAL (.+): (.+): (MET|MISSED)$", out, re.MULTILINE)
    assert [g[0].split()[0] for g in goals] == ["median"] * 3 + ["search"] * 2
    assert all("over 3 heldout settings" in g[1] for g in goals[:3])
    assert len(re.findall(r"^## held-out \d+: ", out, re.MULTILINE)) == 3
    for method in bench.METHODS:
        assert len(re.findall(rf"^\| {method} \| ", out, re.MULTILINE)) == 3 + 1  # + summary
    last = out.strip().splitlines()[-1]
    match = re.fullmatch(
        r"oracle_gap=(\S+) gain_over_best_fixed=(\S+) search_cost_ratio=(\S+)", last
    )
    assert match, last
    gap, gain, cost = map(float, match.groups())
    assert gap >= 0.9 and gain > 0.0 and 0.0 < cost < 1.0  # jitter may beat the nominal oracle


def test_set_overrides_policy_options_checked_like_a_scheduler_section(bench: ModuleType) -> None:
    settings, changed = bench.policy_settings(["stop_margin=0.2", "explore=false", "min_alive=2"])
    assert changed == {"stop_margin": 0.2, "explore": False, "min_alive": 2}
    assert (settings.stop_margin, settings.explore, settings.min_alive) == (0.2, False, 2)
    assert settings.batch_sizes == bench.CANDIDATES
    default, none = bench.policy_settings([])
    assert none == {} and default == replace(settings, stop_margin=0.1, explore=True, min_alive=1)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("stop_margn=0.2", "did you mean 'stop_margin'?"),
        ("stop_margin", "--set must be NAME=VALUE, but got --set 'stop_margin'"),
        ("stop_margin=-1", "stop_margin must be at least 0, but got stop_margin=-1"),
        ("explore=maybe", "explore must be true or false"),
        ("objective=speed", "--set objective is set by the simulator"),
    ],
)
def test_a_bad_set_exits_2_with_one_line_naming_it(
    bench: ModuleType, capsys, assignment: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--smoke-test", "--set", assignment])
    assert exc.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert ": error: " in error and message in error


def test_set_changes_what_the_policy_does_and_the_header_says_so(bench: ModuleType, capsys) -> None:
    # no decision before report 1000: the policy keeps every trial at its size, as the grid does
    assert bench.main(["--smoke-test", "--set", "grace_reports=1000"]) == 0
    out = capsys.readouterr().out
    assert "policy options: grace_reports=1000 (default 2)" in out
    last = out.strip().splitlines()[-1]
    assert last.endswith("search_cost_ratio=1.000"), last
    assert bench.main(["--smoke-test"]) == 0
    out = capsys.readouterr().out
    assert "policy options: the defaults" in out
    assert not out.strip().splitlines()[-1].endswith("search_cost_ratio=1.000")


def test_the_true_probe_gate_makes_only_the_probes_the_model_calls_faster(
    bench: ModuleType,
) -> None:
    # 256x growth of the noise scale, c0/c1 16, no observation noise: the policy probes upwards
    inst = bench.instantiate(bench.tuning_settings(1)[12])
    settings = replace(
        bench.policy_settings([])[0],
        objective="speed",
        switch_cost_s=inst.model.switch_cost_s,
        probe_gate=False,  # the estimate's gate off: every probe the slowdown asks for
    )
    verdicts = {}
    for what_if in (False, True):
        hook = bench.policy_hook(settings, inst.model if what_if else None)
        faster: list[bool] = []

        def spy(trial, trials, wall, hook=hook, faster=faster):
            d = hook(trial, trials, wall)
            if d.action == "switch" and d.reason.startswith("probe"):
                now, loss = trial.reports[-1].batch_size, trial.state.loss
                rate = inst.model.progress_per_second
                faster.append(rate(loss, d.batch_size) > rate(loss, now))
            return d

        bench.simulate(inst.model, bench.CANDIDATES, inst.report_every, inst.budget_s, 8, spy, 0)
        verdicts[what_if] = faster
    assert False in verdicts[False]  # without it, some probes go to a slower size ...
    assert verdicts[True] and all(verdicts[True])  # ... with it, none does


def test_the_true_probe_gate_is_announced_as_a_what_if(bench: ModuleType, capsys) -> None:
    assert bench.main(["--smoke-test", "--true-probe-gate"]) == 0
    assert "what-if (--true-probe-gate, not a policy)" in capsys.readouterr().out


def test_the_probe_audit_counts_probes_reverts_and_winners(bench: ModuleType) -> None:
    inst = bench.instantiate(bench.tuning_settings(1)[12])  # 256x growth: the policy probes
    settings = replace(
        bench.policy_settings([])[0],
        objective="speed",
        switch_cost_s=inst.model.switch_cost_s,
        probe_gate=False,
    )
    audit = bench.ProbeAudit()
    made = []
    hook = bench.policy_hook(settings, None, audit, inst.model)

    def spy(trial, trials, wall):
        d = hook(trial, trials, wall)
        made.append(d.action == "switch" and d.reason.startswith("probe"))
        return d

    outcome = bench.simulate(
        inst.model, bench.CANDIDATES, inst.report_every, inst.budget_s, 8, spy, 0
    )
    audit.record(outcome, inst.best_size)
    assert audit.made == sum(made) > 0
    assert 0 <= audit.faster <= audit.made and 0 <= audit.reverted <= audit.made
    assert audit.runs == 1
    assert audit.winner_below + audit.winner_at + audit.winner_above == 1
    assert outcome.winner_start in bench.CANDIDATES
    assert audit.best_stopped == (inst.best_size in outcome.stopped_starts)
    lines = audit.lines()
    assert lines[0].startswith(f"probe audit (policy, 1 runs): {audit.made} probes made")
