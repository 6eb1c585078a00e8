"""Tests of tune_bs.schedule.curves: recovery, extrapolation, refusal, bands, level-rate algebra."""

from __future__ import annotations

import numpy as np
import pytest

from tune_bs.schedule.curves import FAMILIES, CurveFitError, fit_curve

X = np.linspace(1_000.0, 30_000.0, 30)

TRUTH = {
    "exp3": ({"c": 1.0, "a": 3.0, "b": 1e-4}, lambda x: 1.0 + 3.0 * np.exp(-1e-4 * x)),
    "pow3": ({"c": 1.0, "a": 50.0, "alpha": 0.5}, lambda x: 1.0 + 50.0 * x**-0.5),
    "pow4": (
        {"c": 1.0, "a": 80.0, "alpha": 0.6, "d": 2_000.0},
        lambda x: 1.0 + 80.0 * (x + 2_000.0) ** -0.6,
    ),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_recovers_parameters_of_noiseless_curve(family: str) -> None:
    params, curve = TRUTH[family]
    fit = fit_curve(X, curve(X))
    assert fit.best.family == family
    assert sum(f.weight for f in fit.fits) == pytest.approx(1.0)
    for name, value in params.items():
        assert fit.best.params[name] == pytest.approx(value, rel=1e-4), name


@pytest.mark.parametrize("family", FAMILIES)
def test_extrapolation_close_to_truth(family: str) -> None:
    _, curve = TRUTH[family]
    fit = fit_curve(X[:15], curve(X[:15]))  # half the range, extrapolate to 2x the last x
    horizon = 2.0 * X[14]
    truth = float(curve(horizon))
    excess = truth - 1.0
    assert fit.extrapolate(horizon).mean == pytest.approx(truth, abs=0.01 * excess)


@pytest.mark.parametrize("family", FAMILIES)
def test_rate_and_advance_follow_the_curve(family: str) -> None:
    _, curve = TRUTH[family]
    fit = fit_curve(X, curve(X))
    x0, x1 = 10_000.0, 50_000.0
    level = float(curve(x0))
    numeric = (curve(x0 - 1.0) - curve(x0 + 1.0)) / 2.0
    assert fit.rate_at(level) == pytest.approx(float(numeric), rel=1e-3)
    assert fit.advance(level, x1 - x0) == pytest.approx(float(curve(x1)), rel=1e-4)
    assert fit.rate_at(0.5) == 0.0  # below the asymptote: no progress
    assert fit.advance(0.5, 1e6) == 0.5


def test_pow4_segment_with_unknown_origin() -> None:
    # A segment that starts mid-training: x counts from the segment's start.
    _, curve = TRUTH["pow4"]
    x_seg = X[:20]
    fit = fit_curve(x_seg, curve(x_seg + 5_000.0))
    assert fit.best.family == "pow4"
    assert fit.best.params["d"] == pytest.approx(7_000.0, rel=1e-3)


@pytest.mark.parametrize("n", [0, 1, 3, 4])
def test_refuses_too_few_points(n: int) -> None:
    _, curve = TRUTH["exp3"]
    with pytest.raises(CurveFitError, match="at least 5 points"):
        fit_curve(X[:n], curve(X[:n]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_refuses_non_finite_values(bad: float) -> None:
    _, curve = TRUTH["exp3"]
    y = curve(X)
    y[7] = bad
    with pytest.raises(CurveFitError, match="NaN or inf"):
        fit_curve(X, y)


def test_refuses_unordered_or_non_positive_x() -> None:
    _, curve = TRUTH["exp3"]
    with pytest.raises(CurveFitError, match="strictly increasing"):
        fit_curve(X[::-1], curve(X))
    with pytest.raises(CurveFitError, match="strictly increasing"):
        fit_curve(X - X[0], curve(X))


def test_refuses_increasing_or_flat_curves() -> None:
    with pytest.raises(CurveFitError, match="no family fits"):
        fit_curve(X, 1.0 + 1e-5 * X)
    with pytest.raises(CurveFitError, match="no family fits"):
        fit_curve(X, np.full_like(X, 2.0))


def test_refuses_pure_noise() -> None:
    rng = np.random.default_rng(3)
    with pytest.raises(CurveFitError):
        fit_curve(X, 2.0 + rng.normal(0.0, 0.01, X.size))


def test_band_covers_truth_under_mild_noise() -> None:
    _, curve = TRUTH["pow4"]
    x_obs = X[:20]
    horizon = 1.5 * x_obs[-1]
    truth = float(curve(horizon))
    covered = 0
    widths = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        y = curve(x_obs) + rng.normal(0.0, 0.003, x_obs.size)
        band = fit_curve(x_obs, y).extrapolate(horizon)
        covered += band.low <= truth <= band.high
        widths.append(band.high - band.low)
    assert covered >= 17  # nominal ~95 %
    assert np.median(widths) < 0.1 * (float(curve(x_obs[0])) - truth)  # and it is informative


def test_depth_gain_widens_the_band_only_beyond_the_data() -> None:
    _, curve = TRUTH["pow3"]
    rng = np.random.default_rng(0)
    x_obs = X[:10]  # 1 000 ... 10 000 samples: a range of 9 000
    fit = fit_curve(x_obs, curve(x_obs) + rng.normal(0.0, 0.003, x_obs.size))
    inside, beyond = 5_000.0, x_obs[-1] + 2 * 9_000.0  # 2 ranges past the last point
    assert fit.depth(inside) == 0.0 and fit.depth(beyond) == pytest.approx(2.0)
    assert fit.extrapolate(inside, depth_gain=1.5).std == fit.extrapolate(inside).std
    plain, wide = fit.extrapolate(beyond), fit.extrapolate(beyond, depth_gain=1.5)
    assert wide.mean == plain.mean
    assert wide.std == pytest.approx(4.0 * plain.std)  # 1 + 1.5 x 2
    assert wide.low == pytest.approx(wide.mean - 2.0 * wide.std)


def test_noiseless_band_is_narrow() -> None:
    _, curve = TRUTH["exp3"]
    band = fit_curve(X, curve(X)).extrapolate(40_000.0)
    assert band.high - band.low < 1e-3


@pytest.mark.parametrize("seed", range(6))
def test_a_warm_started_chain_of_fits_agrees_with_a_cold_fit(seed: int) -> None:
    """The scheduler refits each curve once per new point, each fit warm-started from the
    previous one: after 55 such steps the curve and its extrapolation match a cold fit."""
    rng = np.random.default_rng(seed)
    x = np.arange(1, 61) * 100.0
    shapes = (1.0 + 30 * (x + 300) ** -0.7, 0.8 + 1.5 * np.exp(-x / 1500), 0.5 + 5 * x**-0.4)
    y = shapes[seed % 3] + rng.normal(0.0, 0.01 * (seed % 2 + 1), x.size)
    chain = fit_curve(x[:5], y[:5])
    for k in range(6, x.size + 1):
        chain = fit_curve(x[:k], y[:k], start=chain)
    cold = fit_curve(x, y)
    sse = [sum(f.weight * f.sse for f in fit.fits) for fit in (cold, chain)]
    assert sse[1] <= sse[0] * 1.01
    horizon = cold.extrapolate(2 * x[-1])
    assert abs(chain.extrapolate(2 * x[-1]).mean - horizon.mean) <= 0.25 * horizon.std


def test_a_floor_keeps_every_prediction_in_the_metrics_range() -> None:
    """A cross-entropy curve falling almost linearly: the unbounded fit's asymptote, mean and
    band go below zero within a few ranges; fitted with ``floor=0`` nothing does — the
    asymptotes, ``predict``, ``advance``, ``extrapolate`` (mean and band)."""
    x = np.arange(1, 11) * 1_000.0
    y = 2.3 - 0.2 * np.arange(10) + np.random.default_rng(0).normal(0.0, 0.01, 10)
    free = fit_curve(x, y)
    assert free.extrapolate(50_000.0).mean < 0.0
    bounded = fit_curve(x, y, floor=0.0)
    assert min(f.theta[0] for f in bounded.fits) >= 0.0
    for horizon in (11_000.0, 20_000.0, 50_000.0, 1e7):
        band = bounded.extrapolate(horizon, 2.0, 1.5)
        assert band.low >= 0.0 and band.mean >= 0.0
        assert float(bounded.predict(horizon)) >= 0.0
    assert bounded.advance(0.3, 1e9) >= 0.0
    assert bounded.r2 > 0.9  # still a curve through the data


def test_a_floor_above_the_data_is_refused() -> None:
    y = TRUTH["exp3"][1](X)
    with pytest.raises(CurveFitError, match="floor"):
        fit_curve(X, y, floor=float(y.min()) + 0.1)
    assert fit_curve(X, y, floor=float(y.min())).r2 > 0.99  # at the lowest value: allowed
