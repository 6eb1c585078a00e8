"""The policy's cost model: seconds per sample = a + c0/b over report intervals (no Ray)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tune_bs.schedule.switching import FitCache, Report
from tune_bs.schedule.switching.throughput import TRUSTED_INTERVALS, cost_model, interval_costs


def reports(
    batch: int,
    n: int,
    a: float,
    c0: float,
    every: float = 1_000.0,
    slow: dict[int, float] | None = None,
) -> list[Report]:
    """``n`` reports at loader batch ``batch`` whose intervals cost ``every·(a + c0/b)`` s
    (times ``slow[i]`` for interval ``i``)."""
    out, t = [], 0.0
    for i in range(n):
        t += every * (a + c0 / batch) * (slow or {}).get(i, 1.0)
        out.append(Report(every * (i + 1), 1.0, batch, t))
    return out


@given(a=st.floats(1e-5, 1e-2), c0=st.floats(1e-4, 1.0))
@settings(max_examples=50, deadline=None)
def test_the_model_recovers_a_and_c0_and_predicts_an_unmeasured_size(a: float, c0: float):
    model = cost_model([reports(8, 3, a, c0), reports(64, 3, a, c0)], FitCache())
    assert model.fitted == pytest.approx((a, c0), rel=1e-6)
    assert model.seconds_per_sample((256, 1)) == pytest.approx(a + c0 / 256, rel=1e-6)


def test_one_slow_interval_does_not_move_a_trusted_size():
    steady = reports(16, TRUSTED_INTERVALS + 2, 1e-3, 0.02)
    hiccup = reports(16, TRUSTED_INTERVALS + 2, 1e-3, 0.02, slow={2: 10.0})
    model = cost_model([hiccup], FitCache())
    assert model.seconds_per_sample((16, 1)) == pytest.approx(
        cost_model([steady], FitCache()).seconds_per_sample((16, 1))
    )


def test_intervals_that_straddle_a_switch_are_not_costs():
    history = reports(8, 3, 1e-3, 0.02)
    after = [
        Report(r.samples_seen + 3_000, 1.0, 32, r.time_s + history[-1].time_s + 5.0)
        for r in reports(32, 3, 1e-3, 0.02)
    ]  # 5 s of switch in the first interval
    costs = interval_costs(history + after)
    assert len(costs[(8, 1)]) == 2 and len(costs[(32, 1)]) == 2
    assert max(costs[(32, 1)]) == pytest.approx(1e-3 + 0.02 / 32)


def test_an_unknown_size_without_a_model_has_no_pace():
    model = cost_model([reports(8, 3, 1e-3, 0.02)], FitCache())
    assert model.fitted is None
    assert model.throughput((64, 1)) == 0.0
    assert model.throughput((8, 2)) == pytest.approx(1 / (1e-3 + 0.02 / 8))  # same loader
