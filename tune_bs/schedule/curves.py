"""Fit, weight and extrapolate learning curves ``val_loss(samples_seen)``; pure numpy, no Ray.

Families (``x`` = samples seen, ``y`` = validation loss, every family decreasing towards ``c``):

- ``exp3``  ``y = c + a·exp(−b·x)``: the curve of a run whose gradient-noise scale stays small
  next to its batch size (each step removes a fixed fraction of the excess loss).
- ``pow3``  ``y = c + a·x^(−α)``: the classic power law of a run dominated by gradient noise.
- ``pow4``  ``y = c + a·(x + d)^(−α)``, ``d`` in ``[0.001, 20]·x_last``: the power law with an
  unknown origin. It is the exact solution of the empirical model of large-batch training
  (McCandlish et al. 2018) once the noise scale dominates, and it fits a *segment* of a curve
  that began at another batch size (the segment's own origin is unknown), which ``pow3`` cannot.

Why these: a trial's curve under a batch-size schedule is a chain of segments of the same
autonomous law ``dy/dx = −g(y)``; ``exp3`` is ``g ∝ (y − c)``, ``pow3``/``pow4`` are
``g ∝ (y − c)^(1 + 1/α)``. So every family also gives, in closed form, the rate of decrease at a
loss *level* (:meth:`CurveFit.rate_at`) and the loss after ``dx`` more samples from a level
(:meth:`CurveFit.advance`), the two questions the batch-size switching policy asks.

Fitting: per family a bounded, global least-squares search that needs no initial guess
(:mod:`tune_bs.schedule.curve_families`).

Weighting: Akaike weights from the small-sample AICc,
``AICc = n·ln(SSE/n) + 2k + 2k(k+1)/(n−k−1)`` (``k`` = curve parameters), ``w ∝ exp(−ΔAICc/2)``.
AICc (rather than BIC or leave-last-out error) because it is cheap, needs no refits, and its
small-sample term keeps the 4-parameter ``pow4`` out of short segments where it would overfit.
A family is used only with ``n ≥ k + 2`` points; one with a relative weight below ``1e-6`` is
dropped.

Uncertainty: per family the delta-method variance of the prediction (Jacobian of the fitted
curve, covariance ``s²(JᵀJ)⁻¹``, ``s² = SSE/(n−k)``) plus the residual variance ``s²`` of one new
observation; across families the mixture variance (weighted within-family variance + spread of the
family means). The band is ``mean ± z·std`` (``z = 2`` by default). These assume the law holds
beyond the data, which real ``val_loss`` curves do less the further they are carried, so ``std``
may be widened by ``1 + depth_gain·depth`` (:meth:`CurveFit.depth`; calibrated with
``benchmarks/curve_ranking.py``, figures under *Band* in :mod:`tune_bs.schedule.switching`).

Floor: a fitted curve never predicts below ``floor`` (``fit_curve(..., floor=)``, in loss units):
every family's asymptote is fitted under ``c ≥ floor`` (a bounded least-squares problem, solved
exactly on the grid: :func:`~tune_bs.schedule.curve_families.fit_family`), so ``predict``,
``advance`` and an extrapolation's mean stay at or above it, and the band's lower end is cut
at it. The caller states the floor from the metric's range (a loss ≥ 0); without one a curve may
go anywhere below its data (an unbounded fit of a cross-entropy curve can end below zero).

Failure modes (:class:`CurveFitError`, never a guess): fewer than ``min_points`` points; NaN or
inf in ``x`` or ``y``; ``x`` not strictly increasing or not positive; no family decreases (the
best bounded fit of every family is flat, ``a = 0``); or the weighted fit explains less than
``min_r2`` of the variance of ``y`` (noise, not a curve).

Measured cost (``fit_curve`` + one ``extrapolate``, all three families, shared 2-core machine,
median): 0.9–1.0 ms for 10, 30 and 50 points (``benchmarks/simulator.py`` prints it); warm-started
from the fit without the last point (``start=``), 0.3–0.45 ms, and a chain of 55 warm refits ends
within 0.25 band standard deviations of a cold fit (tests/test_curves.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tune_bs.schedule.curve_families import (
    N_PARAMS,
    fit_family,
    jacobian,
    model,
    original_nonlinear,
    original_params,
    rescaled_nonlinear,
)

FAMILIES: tuple[str, ...] = ("exp3", "pow3", "pow4")
"""Names of the curve families, in the order they are fitted."""

_MIN_WEIGHT = 1e-6


class CurveFitError(ValueError):
    """No trustworthy curve could be fitted; ``reason`` says why (one line, no guess made)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Extrapolation:
    """Prediction of the loss at sample count ``x``: ``mean`` and the band ``[low, high]``.

    ``std`` is the predictive standard deviation (family spread, parameter uncertainty and one
    observation's noise); ``low``/``high`` are ``mean ∓ z·std``.
    """

    x: float
    mean: float
    std: float
    low: float
    high: float


@dataclass(frozen=True)
class FamilyFit:
    """One family's least-squares fit.

    ``params`` are in original units (``x`` in samples): ``c`` and ``a`` in loss units, ``b`` in
    1/samples, ``α`` dimensionless, ``d`` in samples. ``weight`` is its Akaike weight in the
    ensemble (they sum to 1 over the usable families).
    """

    family: str
    params: dict[str, float]
    sse: float
    aicc: float
    weight: float
    x_scale: float = field(repr=False)
    theta: tuple[float, ...] = field(repr=False)  # c, a, then nonlinear params, rescaled x
    cov: np.ndarray = field(repr=False, compare=False)

    def predict(self, x: np.ndarray | float) -> np.ndarray:
        """Fitted loss at sample counts ``x`` (``x > 0``)."""
        u = np.asarray(x, dtype=float) / self.x_scale
        return model(self.family, self.theta, u)

    def predict_std(self, x: float) -> float:
        """Delta-method standard deviation of :meth:`predict` at ``x`` (parameter uncertainty)."""
        u = np.array([float(x) / self.x_scale])
        g = jacobian(self.family, self.theta, u)[0]
        var = float(g @ self.cov @ g)
        return math.sqrt(max(var, 0.0))

    def rate_at(self, level: float) -> float:
        """Loss decrease per sample, ``−dy/dx``, where the fitted law passes ``level`` (0 below c).

        The law is autonomous, so the answer does not depend on where the curve started.
        """
        c, a = self.theta[0], self.theta[1]
        excess = level - c
        if excess <= 0.0 or a <= 0.0:
            return 0.0
        if self.family == "exp3":
            return self.theta[2] * excess / self.x_scale
        alpha = self.theta[2]
        v = (excess / a) ** (-1.0 / alpha)  # u (+ d) at that level, rescaled x
        return alpha * excess / (v * self.x_scale)

    def x_at(self, level: float) -> float:
        """Sample count where the fitted curve reaches ``level`` (inf at or below ``c``)."""
        c, a = self.theta[0], self.theta[1]
        excess = level - c
        if excess <= 0.0 or a <= 0.0:
            return math.inf
        if self.family == "exp3":
            return -math.log(excess / a) / self.theta[2] * self.x_scale
        v = (excess / a) ** (-1.0 / self.theta[2])
        d = self.theta[3] if self.family == "pow4" else 0.0
        return (v - d) * self.x_scale

    def advance(self, level: float, dx: float) -> float:
        """Loss after ``dx`` more samples along the fitted law, starting at ``level``."""
        c, a = self.theta[0], self.theta[1]
        excess = level - c
        if excess <= 0.0 or a <= 0.0 or dx <= 0.0:
            return level
        du = dx / self.x_scale
        if self.family == "exp3":
            return c + excess * math.exp(-self.theta[2] * du)
        alpha = self.theta[2]
        v = (excess / a) ** (-1.0 / alpha)
        return c + a * (v + du) ** (-alpha)


@dataclass(frozen=True)
class CurveFit:
    """The weighted ensemble of :class:`FamilyFit` for one curve, with its observed range."""

    fits: tuple[FamilyFit, ...]
    n_points: int
    x_first: float
    x_last: float
    y_first: float
    y_last: float
    residual_std: float
    r2: float
    #: the lowest value the curve may take (its families' ``c`` are at or above it)
    floor: float = -math.inf
    #: every family's fitted nonlinear parameters (weight 0 too), in original units of ``x``
    #: (``b`` 1/samples; ``α``; ``α, d`` samples): where a warm-started refit begins.
    starts: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def best(self) -> FamilyFit:
        """The family with the largest Akaike weight."""
        return max(self.fits, key=lambda f: f.weight)

    @property
    def asymptote(self) -> float:
        """Weighted mean of the fitted asymptotes ``c`` (loss units)."""
        return float(sum(f.weight * f.theta[0] for f in self.fits))

    def predict(self, x: np.ndarray | float) -> np.ndarray:
        """Weighted mean prediction at sample counts ``x``."""
        return sum(f.weight * f.predict(x) for f in self.fits)

    def depth(self, x: float) -> float:
        """``(x − x_last) / (x_last − x_first)``: sample ranges beyond the data (0 inside it)."""
        span = self.x_last - self.x_first
        return max(x - self.x_last, 0.0) / span if span > 0 else 0.0

    def extrapolate(self, x: float, z: float = 2.0, depth_gain: float = 0.0) -> Extrapolation:
        """Mean and ``±z·std`` band of the loss at sample count ``x`` (the horizon); ``std``
        widened by ``1 + depth_gain·depth(x)`` (module docstring, calibration); the lower end
        is cut at the curve's floor."""
        means = np.array([float(f.predict(x)) for f in self.fits])
        weights = np.array([f.weight for f in self.fits])
        within = np.array([f.predict_std(x) ** 2 for f in self.fits]) + self.residual_std**2
        mean = float(weights @ means)
        var = float(weights @ (within + (means - mean) ** 2))
        std = math.sqrt(max(var, 0.0)) * (1.0 + depth_gain * self.depth(x))
        low, high = max(mean - z * std, self.floor), mean + z * std
        return Extrapolation(x=float(x), mean=mean, std=std, low=low, high=high)

    def rate_at(self, level: float) -> float:
        """Weighted ``−dy/dx`` (loss per sample) of the fitted laws at loss ``level``."""
        return float(sum(f.weight * f.rate_at(level) for f in self.fits))

    def x_at(self, level: float) -> float:
        """Weighted sample count where the curve reaches ``level`` (inf if a family never does)."""
        return float(sum(f.weight * f.x_at(level) for f in self.fits))

    def advance(self, level: float, dx: float) -> float:
        """Weighted loss after ``dx`` more samples from ``level``."""
        return float(sum(f.weight * f.advance(level, dx) for f in self.fits))


def fit_curve(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    families: Sequence[str] = FAMILIES,
    min_points: int = 5,
    min_r2: float = 0.5,
    start: CurveFit | None = None,
    floor: float | None = None,
) -> CurveFit:
    """Fit every family in ``families`` to ``(x, y)`` and weight them by AICc.

    ``x``: samples seen, strictly increasing and positive. ``y``: validation loss.
    ``min_points``: refuse below this many points (at least 4). ``min_r2``: refuse when the
    weighted fit explains less than this fraction of the variance of ``y``.
    ``start``: a fit of the same curve with fewer points (warm start, for a fit per new point):
    each family it holds is searched from its parameters — a local grid of ±1 coarse step, then
    the polish — instead of the whole coarse grid and zoom (a family it lacks is fitted cold).
    ``floor``: the lowest value the curve may take (every family's ``c ≥ floor``; ``None``: no
    bound). It must not lie above the data.

    Raises :class:`CurveFitError` (see the module docstring) instead of guessing.
    """
    xs, ys = _checked_points(x, y, families, min_points)
    n = xs.size
    x_scale = float(xs[-1])
    u = xs / x_scale
    y_mean = float(ys.mean())
    syy = float(((ys - y_mean) ** 2).sum())
    y_range = float(ys.max() - ys.min())
    sse_floor = n * (1e-9 * max(y_range, abs(y_mean), 1e-12)) ** 2

    lowest = -math.inf if floor is None else float(floor)
    if lowest > float(ys.min()):
        raise CurveFitError(
            f"the curve's floor must not lie above its values, but got floor={lowest} and a value "
            f"of {float(ys.min())}; the metric's range is stated wrongly."
        )
    raw = _fit_families(families, u, ys, _warm_starts(start, x_scale), sse_floor, lowest)
    aiccs, weights = _akaike_weights(raw, n)
    fits = _family_fits(raw, aiccs, weights, u, x_scale)
    fitted = sum(f.weight * model(f.family, f.theta, u) for f in fits)
    resid = ys - fitted
    sse_ens = float(resid @ resid)
    r2 = 1.0 - sse_ens / syy if syy > 0.0 else 0.0
    if r2 < min_r2:
        raise CurveFitError(
            f"the curve explains too little of the variance (R²={r2:.2f} < {min_r2}); "
            "the values look like noise."
        )
    k_mean = sum(f.weight * N_PARAMS[f.family] for f in fits)
    residual_std = math.sqrt(sse_ens / max(n - k_mean, 1.0))
    return CurveFit(
        fits=tuple(fits),
        n_points=n,
        x_first=float(xs[0]),
        x_last=float(xs[-1]),
        y_first=float(ys[0]),
        y_last=float(ys[-1]),
        residual_std=residual_std,
        r2=float(r2),
        floor=lowest,
        starts={family: original_nonlinear(family, theta, x_scale) for family, theta, _ in raw},
    )


#: One family's raw fit: its name, rescaled ``theta`` and SSE (floored, loss units squared).
_RawFit = tuple[str, tuple[float, ...], float]


def _warm_starts(start: CurveFit | None, x_scale: float) -> dict[str, tuple[float, ...]]:
    """The nonlinear parameters of ``start``'s families, rescaled to ``x / x_scale``."""
    if not start:
        return {}
    return {
        family: rescaled_nonlinear(family, params, x_scale)
        for family, params in start.starts.items()
    }


def _checked_points(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    families: Sequence[str],
    min_points: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` as flat float arrays, or :class:`CurveFitError` naming the first problem:
    unequal lengths, fewer than ``max(min_points, 4)`` points, NaN or inf, ``x`` not positive
    and strictly increasing, or an unknown family."""
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.shape != ys.shape:
        raise CurveFitError(f"x and y must have the same length, but got {xs.size} and {ys.size}.")
    n = xs.size
    if n < max(min_points, 4):
        raise CurveFitError(f"a curve needs at least {max(min_points, 4)} points, but got {n}.")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise CurveFitError("the curve holds NaN or inf values; a diverged run is not fitted.")
    if xs[0] <= 0.0 or np.any(np.diff(xs) <= 0.0):
        raise CurveFitError("x (samples seen) must be positive and strictly increasing.")
    unknown = [f for f in families if f not in N_PARAMS]
    if unknown:
        raise CurveFitError(f"families must be among {', '.join(FAMILIES)}, but got {unknown}.")
    return xs, ys


def _fit_families(
    families: Sequence[str],
    u: np.ndarray,
    ys: np.ndarray,
    warm: dict[str, tuple[float, ...]],
    sse_floor: float,
    floor: float = -math.inf,
) -> list[_RawFit]:
    """Every family with ``n ≥ k + 2`` points that decreases, fitted on rescaled ``u`` (warm
    from ``warm`` when it holds the family) with ``c ≥ floor``; SSE floored at ``sse_floor``.
    Raises :class:`CurveFitError` when none does."""
    n = u.size
    raw: list[_RawFit] = []
    for family in families:
        k = N_PARAMS[family]
        if n < k + 2:
            continue
        theta, sse = fit_family(family, u, ys, warm.get(family), floor)
        if theta is None:
            continue
        raw.append((family, theta, max(sse, sse_floor)))
    if not raw:
        raise CurveFitError("no family fits: the values do not decrease over the curve.")
    return raw


def _akaike_weights(raw: Sequence[_RawFit], n: int) -> tuple[list[float], np.ndarray]:
    """Each family's AICc on ``n`` points and its Akaike weight (below ``_MIN_WEIGHT``
    relative to the best: 0)."""
    aiccs = []
    for family, _, sse in raw:
        k = N_PARAMS[family]
        aiccs.append(n * math.log(sse / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1))
    best_aicc = min(aiccs)
    rel = np.exp(-0.5 * (np.asarray(aiccs) - best_aicc))
    rel = np.where(rel >= _MIN_WEIGHT, rel, 0.0)  # negligible families are dropped
    return aiccs, rel / rel.sum()


def _family_fits(
    raw: Sequence[_RawFit],
    aiccs: Sequence[float],
    weights: np.ndarray,
    u: np.ndarray,
    x_scale: float,
) -> list[FamilyFit]:
    """A :class:`FamilyFit` (with its delta-method covariance ``s²(JᵀJ)⁻¹``) for every family
    of non-zero weight."""
    n = u.size
    fits = []
    for (family, theta, sse), aicc, weight in zip(raw, aiccs, weights, strict=True):
        if weight == 0.0:
            continue
        k = N_PARAMS[family]
        s2 = sse / max(n - k, 1)
        jac = jacobian(family, theta, u)
        cov = s2 * _inverse(jac.T @ jac)
        fits.append(
            FamilyFit(
                family=family,
                params=original_params(family, theta, x_scale),
                sse=float(sse),
                aicc=float(aicc),
                weight=float(weight),
                x_scale=x_scale,
                theta=theta,
                cov=cov,
            )
        )
    return fits


def _inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a small symmetric matrix ``JᵀJ``; the pseudo-inverse when it is not positive
    definite (a Cholesky factorisation fails: singular or numerically indefinite)."""
    try:
        np.linalg.cholesky(matrix)
        return np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrix)
