"""Rule 9's gate: the gradient-noise-scale estimate (tune_bs.schedule.switching.noise_scale).

Curves come from the deterministic simulator, whose law is the model the estimate assumes
(McCandlish et al. 2018): with a constant noise scale the fitted exponential family is exact, so
``η`` and ``B_noise`` are recovered; with a growing one the fitted families only approximate it.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_switching import history, settings

from tune_bs.schedule.simulator import LargeBatchModel
from tune_bs.schedule.switching import Peer, decide
from tune_bs.schedule.switching.memo import fit_reports
from tune_bs.schedule.switching.noise_scale import (
    FittedSegment,
    noise_scale,
    pair_step_fraction,
    relative_rate,
    speed_ratio,
    step_fraction,
)


def segment(m: LargeBatchModel, size: int, reports: int = 12) -> FittedSegment:
    fit = fit_reports(history(m, [(reports, size)]), 0.0, None)
    assert fit is not None
    return FittedSegment.of(size, fit)


@pytest.mark.parametrize("sizes", [(32, 64), (16, 128), (64, 256)])
def test_a_constant_noise_scale_is_recovered(sizes: tuple[int, int]) -> None:
    m = LargeBatchModel(noise_growth=1.0, noise_scale_initial=16.0)
    segments = [segment(m, b) for b in sizes]
    eta = step_fraction(segments)
    assert eta == pytest.approx(m.step_fraction, rel=0.02)
    small = segments[0]
    level = 0.5 * (small.low + small.high)
    assert relative_rate(small.fit, level) == pytest.approx(
        m.step_fraction / (sizes[0] + 16.0), rel=0.02
    )
    assert noise_scale(eta, small.fit, level, sizes[0]) == pytest.approx(16.0, rel=0.05)


@pytest.mark.parametrize("sizes", [(32, 64), (16, 128), (64, 256)])
def test_a_growing_noise_scale_still_gives_eta_within_15_percent(sizes: tuple[int, int]) -> None:
    m = LargeBatchModel(noise_growth=16.0)
    eta = step_fraction([segment(m, b) for b in sizes])
    assert eta == pytest.approx(m.step_fraction, rel=0.15)


def test_pairs_need_two_sizes_and_a_common_range() -> None:
    m = LargeBatchModel(noise_growth=1.0)
    a, b = segment(m, 32), segment(m, 64)
    assert pair_step_fraction(a, a) is None  # one size: no slope
    apart = FittedSegment(64, a.low - 2.0, a.low - 1.0, b.fit)  # no common level
    assert pair_step_fraction(a, apart) is None
    assert step_fraction([a]) is None and step_fraction([]) is None
    assert pair_step_fraction(a, b) == pytest.approx(pair_step_fraction(b, a))


@given(
    current=st.sampled_from([8, 16, 32, 64, 128]),
    factor=st.sampled_from([2, 4]),
    noise=st.floats(0.001, 5_000.0),
    overhead=st.floats(0.001, 1.0),
)
def test_the_speed_ratio_is_the_models_progress_per_second_ratio(
    current: int, factor: int, noise: float, overhead: float
) -> None:
    m = LargeBatchModel(noise_growth=1.0, noise_scale_initial=noise, step_overhead_s=overhead)
    target, level = current * factor, 2.0
    ratio = speed_ratio(
        current,
        target,
        m.noise_scale(level),
        m.seconds_per_sample(current),
        m.seconds_per_sample(target),
    )
    truth = m.progress_per_second(level, target) / m.progress_per_second(level, current)
    assert ratio == pytest.approx(truth, rel=1e-9)


def probe_case(overhead: float, gate: bool):
    """A trial at 32 whose progress slowed (noise scale growing 256x) and a stopped peer at 16
    whose curve overlaps its start: rule 9's situation, with ``η`` estimable."""
    m = LargeBatchModel(noise_growth=256.0, step_overhead_s=overhead)
    own = history(m, [(40, 32)])
    peer = {"p16": Peer(history(m, [(20, 16)]), alive=False)}
    level = own[-1].val_loss
    truth = m.progress_per_second(level, 64) / m.progress_per_second(level, 32)
    return decide(own, peer, settings(probe_gate=gate)), truth


def test_the_gate_lets_a_probe_through_where_the_larger_size_is_faster() -> None:
    d, truth = probe_case(0.064, gate=True)
    assert truth > 1.0
    assert (d.action, d.batch_size) == ("switch", 64)
    assert d.reason.startswith("probe") and "noise scale ~" in d.reason


def test_the_gate_skips_a_probe_where_the_larger_size_is_slower() -> None:
    gated, truth = probe_case(0.004, gate=True)
    assert truth < 1.0  # little overhead per step: a larger batch only wastes samples
    assert (gated.action, gated.batch_size) == ("continue", 32)
    ungated, _ = probe_case(0.004, gate=False)
    assert (ungated.action, ungated.batch_size) == ("switch", 64)
    assert "noise scale" not in ungated.reason


def test_a_trial_alone_probes_as_before_the_gate() -> None:
    m = LargeBatchModel(noise_growth=256.0, step_overhead_s=0.004)
    d = decide(history(m, [(40, 32)]), {}, settings())
    assert (d.action, d.batch_size) == ("switch", 64)  # no second size: no estimate, no gate
    assert "noise scale" not in d.reason
