"""Tests of tune_bs.schedule.simulator: closed forms, oracle optimality, determinism, validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tune_bs.errors import UserInputError
from tune_bs.schedule.simulator import (
    LargeBatchModel,
    best_fixed,
    fixed_time_to_target,
    initial_state,
    oracle,
    run_schedule,
    train,
)

SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
SETTINGS = list(itertools.product((1.0, 16.0, 256.0), (16.0, 64.0, 256.0)))


def model(growth: float = 16.0, ratio: float = 64.0, **kw: float) -> LargeBatchModel:
    return LargeBatchModel(noise_growth=growth, step_overhead_s=ratio * 0.001, **kw)


@pytest.mark.parametrize(("growth", "ratio"), SETTINGS)
def test_oracle_is_no_slower_than_any_fixed_size(growth: float, ratio: float) -> None:
    m = model(growth, ratio)
    best = oracle(m, SIZES)
    for b in SIZES:
        assert best.time_to_target_s <= fixed_time_to_target(m, b) * (1 + 1e-12)
    sizes = [b for _, b in best.pieces]
    assert sizes == sorted(sizes)  # only ever moves to larger batches


@pytest.mark.parametrize("ratio", [16.0, 64.0, 256.0])
def test_constant_noise_scale_makes_the_oracle_one_fixed_size(ratio: float) -> None:
    m = model(1.0, ratio)
    best = oracle(m, SIZES)
    size, seconds = best_fixed(m, SIZES)
    assert [b for _, b in best.pieces] == [size]
    assert best.time_to_target_s == pytest.approx(seconds, rel=1e-12)


def test_growing_noise_scale_makes_the_oracle_switch_and_win() -> None:
    m = model(256.0, 64.0)
    best = oracle(m, SIZES)
    _, fixed = best_fixed(m, SIZES)
    assert len(best.pieces) >= 3
    assert 1.02 < fixed / best.time_to_target_s < 1.2  # the 5-10 % of docs/design.md §8


def test_oracle_pieces_pick_the_fastest_candidate_at_their_level() -> None:
    m = model(256.0, 64.0)
    best = oracle(m, SIZES)
    for i, (level, size) in enumerate(best.pieces):
        end = best.pieces[i + 1][0] if i + 1 < len(best.pieces) else m.target_loss
        mid = 0.5 * (level + end)
        speeds = {b: m.progress_per_second(mid, b) for b in SIZES}
        assert max(speeds, key=speeds.get) == size


def test_oracle_time_matches_simulating_its_schedule() -> None:
    m = model(256.0, 64.0)
    best = oracle(m, SIZES)
    starts, samples = [], 0.0
    for i, (level, size) in enumerate(best.pieces):
        starts.append((samples, size))
        end = best.pieces[i + 1][0] if i + 1 < len(best.pieces) else m.target_loss
        samples += m.samples_between(level, end, size)
    curve = run_schedule(m, starts, report_every=5_000, max_samples=samples * 1.01)
    assert curve.time_to_target_s == pytest.approx(best.time_to_target_s, rel=1e-9)


@pytest.mark.parametrize("growth", [1.0, 16.0, 256.0])
def test_loss_after_inverts_samples_between(growth: float) -> None:
    m = model(growth)
    for b in (8, 128, 1024):
        after = m.loss_after(3.0, 50_000.0, b)
        assert after < 3.0
        assert m.samples_between(3.0, after, b) == pytest.approx(50_000.0, rel=1e-9)


def test_fixed_run_crosses_target_at_the_closed_form_time() -> None:
    m = model(16.0, 64.0)
    curve = run_schedule(m, [(0, 64)], report_every=7_000, max_samples=600_000)
    assert curve.time_to_target_s == pytest.approx(fixed_time_to_target(m, 64), rel=1e-9)
    assert np.all(np.diff(curve.true_loss) < 0)
    assert np.all(np.diff(curve.time_s) > 0)
    assert np.array_equal(curve.loss, curve.true_loss)  # no observation noise configured


def test_schedule_over_time_and_switch_cost() -> None:
    m = model(16.0, 64.0, switch_cost_s=5.0)
    by_time = run_schedule(
        m, [(0, 32), (100.0, 128)], report_every=5_000, max_samples=200_000, axis="time"
    )
    switch_at = int(np.argmax(by_time.batch_size == 128))
    assert by_time.time_s[switch_at - 1] >= 100.0 > by_time.time_s[switch_at - 2]
    gap = by_time.time_s[switch_at] - by_time.time_s[switch_at - 1]
    assert gap == pytest.approx(5.0 + 5_000 * m.seconds_per_sample(128))


def test_simulation_is_deterministic_and_seeded() -> None:
    m = model(16.0, 64.0, obs_noise=0.01)
    kwargs = {"report_every": 5_000.0, "max_samples": 100_000.0}
    a = run_schedule(m, [(0, 32), (50_000, 64)], seed=3, **kwargs)
    b = run_schedule(m, [(0, 32), (50_000, 64)], seed=3, **kwargs)
    c = run_schedule(m, [(0, 32), (50_000, 64)], seed=4, **kwargs)
    assert np.array_equal(a.loss, b.loss) and np.array_equal(a.time_s, b.time_s)
    assert not np.array_equal(a.loss, c.loss)
    assert np.array_equal(a.true_loss, c.true_loss)
    assert np.std(a.loss - a.true_loss) == pytest.approx(0.01, rel=0.5)


def test_accumulation_costs_loader_time_but_makes_effective_progress() -> None:
    m = model(16.0, 64.0)
    acc = train(m, initial_state(m, 32, accumulation_steps=4), 20_000)
    big = train(m, initial_state(m, 128), 20_000)
    small = train(m, initial_state(m, 32), 20_000)
    assert acc.loss == pytest.approx(big.loss)  # same effective batch, same progress per sample
    assert acc.time_s == pytest.approx(small.time_s)  # but the loader's cost per sample


def test_time_factor_scales_only_the_seconds_of_a_stretch() -> None:
    m = model(16.0, 64.0)
    start = train(m, initial_state(m, 64), 10_000)
    plain = train(m, start, 600_000)
    slow = train(m, start, 600_000, time_factor=1.5)
    assert train(m, start, 600_000, time_factor=1.0) == plain
    assert slow.loss == plain.loss and slow.samples_seen == plain.samples_seen
    assert slow.time_s - start.time_s == pytest.approx(1.5 * (plain.time_s - start.time_s))
    assert math.isfinite(plain.time_to_target_s)  # the crossing inside the stretch, slowed too
    assert slow.time_to_target_s - start.time_s == pytest.approx(
        1.5 * (plain.time_to_target_s - start.time_s)
    )
    with pytest.raises(UserInputError, match="time_factor"):
        train(m, start, 1_000, time_factor=0.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_loss": 5.0},
        {"min_loss": 2.0, "target_loss": 1.5},
        {"step_fraction": 0.0},
        {"step_fraction": 1.5},
        {"noise_growth": 0.5},
        {"per_sample_s": -1.0},
        {"obs_noise": -0.1},
    ],
)
def test_rejects_impossible_models(kwargs: dict[str, float]) -> None:
    with pytest.raises(UserInputError):
        LargeBatchModel(**kwargs)


def test_rejects_bad_schedules() -> None:
    m = model()
    with pytest.raises(UserInputError, match="start with a piece at 0"):
        run_schedule(m, [(10, 32)], report_every=1_000, max_samples=10_000)
    with pytest.raises(UserInputError, match="axis"):
        run_schedule(m, [(0, 32)], report_every=1_000, max_samples=10_000, axis="steps")
