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


@given(
    paces=st.lists(
        st.lists(st.floats(1e-4, 1e-1), min_size=1, max_size=12), min_size=1, max_size=5
    ),
    batches=st.lists(st.sampled_from([8, 16, 32, 64]), min_size=5, max_size=5),
    order=st.randoms(use_true_random=False),
    restore_at=st.integers(0, 40),
)
@settings(max_examples=60, deadline=None)
def test_the_kept_pool_gives_the_model_of_pooling_from_scratch(paces, batches, order, restore_at):
    """Reports arrive one at a time in any order; each peer's history is a new tuple after
    every report (as the scheduler builds it); one trial loses its last reports (a restore)."""
    full = []
    for i, trial in enumerate(paces):
        t, history = 0.0, []
        for k, pace in enumerate(trial):
            t += 1_000.0 * pace
            history.append(Report(1_000.0 * (k + 1), 1.0, batches[i], t))
        full.append(history)
    arrivals = [i for i, trial in enumerate(paces) for _ in trial]
    order.shuffle(arrivals)
    kept, seen = FitCache(), [0] * len(full)
    for step, i in enumerate(arrivals):
        seen[i] += 1
        if step == restore_at and seen[i] > 2:
            seen[i] -= 2  # the trial was restored from an earlier checkpoint
        histories = [tuple(full[j][: seen[j]]) for j in range(len(full)) if seen[j]]
        incremental = cost_model(histories, kept)
        scratch = cost_model(histories, FitCache())
        assert incremental == scratch


def test_a_history_listed_twice_is_pooled_twice():
    history = reports(8, 4, 1e-3, 0.02)
    memo = FitCache()
    twice = cost_model([history, history], memo)
    assert twice.counts[(8, 1)] == 2 * cost_model([history], FitCache()).counts[(8, 1)]
    assert cost_model([history, history], memo) == twice
