"""The scheduler-overhead benchmark runs in quick mode and its switch-cost arithmetic is right.

No timing thresholds: the decision time is only checked to be printed as a positive number.
"""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from conftest import load_benchmark

from tune_bs.schedule.switching import Decision, Report, SwitchSettings


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("scheduler_overhead")


def test_quick_run_prints_the_decision_time(bench: ModuleType, capsys) -> None:
    assert bench.main(["--quick", "--no-ray"]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    match = re.fullmatch(r"decision_ms_median=(\S+)", last)
    assert match, last
    assert float(match.group(1)) > 0.0
    assert "switch_cost_s[" not in out  # --no-ray skips the Ray part
    assert re.search(r"^\|\s+10 \|\s+4 \|", out, re.MULTILINE)  # a (points, trials) row


def row(samples: float, size: int, wall: float, own: float) -> dict:
    return {"samples_seen": samples, "batch_size": size, "_arrival_s": wall, "time_total_s": own}


def test_switch_excess_on_hand_made_rows(bench: ModuleType) -> None:
    # 100 samples per report; at 8: 1.0 s per report, at 16: 0.5 s; switches 8→16 and 16→8
    rows = [
        row(100, 8, 10.0, 1.0),
        row(200, 8, 11.0, 2.0),
        row(300, 8, 12.0, 3.0),
        row(400, 16, 14.5, 3.6),  # straddles 8→16: 2.5 s for 0.5 s of training
        row(500, 16, 15.0, 4.1),
        row(600, 16, 15.5, 4.6),
        row(700, 8, 17.0, 5.7),
    ]  # straddles 16→8: 1.5 s for 1.0 s of training
    assert bench.switch_excess(rows) == pytest.approx([2.0, 0.5])
    assert bench.switch_excess(rows, "time_total_s") == pytest.approx([0.1, 0.1])
    # pace per sample: an interval of other length at the new size scales its training time
    rows[3] = row(450, 16, 14.75, 3.85)  # 150 samples at 16 = 0.75 s of training
    assert bench.switch_excess(rows)[0] == pytest.approx(2.0)


def test_switch_excess_needs_a_steady_interval_at_the_new_size(bench: ModuleType) -> None:
    rows = [row(100, 8, 0.0, 0.0), row(200, 8, 1.0, 1.0), row(300, 16, 4.0, 1.5)]
    assert bench.switch_excess(rows) == []
    assert bench.switch_excess(rows[:1]) == []


def test_scripted_policy_switches_every_kth_report(bench: ModuleType) -> None:
    policy = bench.scripted_policy(3)
    settings = SwitchSettings(batch_sizes=(8, 16))
    history = [Report(100.0 * (i + 1), 1.0, 8, float(i)) for i in range(6)]
    decisions = [policy(history[:n], {}, settings, {}) for n in range(1, 7)]
    assert [d.action for d in decisions] == ["continue", "continue", "switch"] * 2
    assert decisions[2] == Decision("switch", 16, 1, "scripted", 3)
    at_16 = [*history[:3], *(Report(100.0 * (i + 1), 1.0, 16, float(i)) for i in range(3, 6))]
    assert policy(at_16, {}, settings, {}) == Decision("switch", 8, 1, "scripted", 6)  # back
