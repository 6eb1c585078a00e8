"""Rule 9's gate: is a larger batch faster *now*? An estimate of the gradient-noise scale.

Under the empirical model of large-batch training (McCandlish et al. 2018, "An empirical model of
large-batch training"), a run at effective batch ``B`` lowers its excess loss ``ℓ = L − c`` per
training sample at the *relative rate*

    r_B(L) = −(dL/dS) / (L − c) = η / (B + B_noise(L)),

with ``η`` (dimensionless) the fraction of the excess loss a noiseless step removes, the same for
every trial of a peer group (same model, same learning rate), and ``B_noise`` (samples) the
gradient-noise scale, which grows as the loss falls. So ``1/r`` is a line in ``B`` at any fixed
level, with slope ``1/η``:

- **η** from two curves at different sizes that cover a common level ``L``:
  ``η = (B₁ − B₂) / (1/r₁ − 1/r₂)`` at the middle of their common range; the median over every
  such pair of fitted segments of the trial and its peers (:func:`step_fraction`; positive
  values only, ``None`` when no pair overlaps);
- **B_noise now** from the trial's own current curve: ``B_noise = η / r_b(L) − b``, at least 0;
- **the speed ratio** of size ``t`` against the current ``b`` at the current level, in loss per
  second (``pace`` = seconds per sample): ``[(b + B_noise)·pace(b)] / [(t + B_noise)·pace(t)]``.
  Above 1, ``t`` lowers the loss faster per second now.

A relative rate is the Akaike-weighted mean over the curve's families whose asymptote ``c`` lies
below ``L`` (each family with its own ``c``). Units: ``B`` in samples, ``r`` per sample, ``L`` in
loss units. Pure functions; the policy memoises each pair's ``η`` (:mod:`.exploring`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from tune_bs.schedule.curves import CurveFit, FamilyFit


@dataclass(frozen=True)
class FittedSegment:
    """One fitted segment of a trial or a peer: its effective size, the levels its data span
    (``low`` ≤ ``high``, loss units), its curve and a hashable name of its data (``key``, for
    memos)."""

    batch_size: int
    low: float
    high: float
    fit: CurveFit = field(compare=False)
    key: Hashable = None

    @classmethod
    def of(cls, batch_size: int, fit: CurveFit, key: Hashable = None) -> FittedSegment:
        ends = (float(fit.predict(fit.x_first)), float(fit.predict(fit.x_last)))
        return cls(batch_size, min(ends), max(ends), fit, key)


def family_relative_rate(family: FamilyFit, level: float) -> float | None:
    """One family's ``−(dL/dS)/(L − c)`` per sample at ``level``, with its own ``c``; ``None``
    when ``level`` is not above ``c``."""
    c = family.theta[0]
    return family.rate_at(level) / (level - c) if level > c else None


def relative_rate(fit: CurveFit, level: float) -> float:
    """``−(dL/dS)/(L − c)`` per sample at ``level``: the weighted mean over the families whose
    ``c`` is below ``level`` (0.0 when none is)."""
    total = weights = 0.0
    for f in fit.fits:
        rate = family_relative_rate(f, level)
        if rate is not None:
            total += f.weight * rate
            weights += f.weight
    return total / weights if weights > 0.0 else 0.0


def pair_step_fraction(a: FittedSegment, b: FittedSegment) -> float | None:
    """``η`` from two segments at different sizes at the middle of their common level range;
    ``None`` when the sizes are equal, the ranges do not overlap, a rate is not positive or
    the estimate is not positive (the larger batch must progress less per sample)."""
    if a.batch_size == b.batch_size:
        return None
    low, high = max(a.low, b.low), min(a.high, b.high)
    if not low < high:
        return None
    level = 0.5 * (low + high)
    rate_a, rate_b = relative_rate(a.fit, level), relative_rate(b.fit, level)
    if rate_a <= 0.0 or rate_b <= 0.0:
        return None
    spread = 1.0 / rate_a - 1.0 / rate_b
    if spread == 0.0:
        return None
    eta = (a.batch_size - b.batch_size) / spread
    return eta if eta > 0.0 else None


def step_fraction(
    segments: Sequence[FittedSegment],
    pair: Callable[[FittedSegment, FittedSegment], float | None] = pair_step_fraction,
) -> float | None:
    """The median ``η`` over every pair of ``segments`` that gives one (``None`` if none does).
    ``pair`` computes one pair's value (a memoised :func:`pair_step_fraction` in the policy)."""
    values = [
        eta
        for i, a in enumerate(segments)
        for b in segments[i + 1 :]
        if (eta := pair(a, b)) is not None
    ]
    return statistics.median(values) if values else None


def noise_scale(eta: float, fit: CurveFit, level: float, batch_size: int) -> float | None:
    """``B_noise`` (samples) at ``level`` from a curve at ``batch_size``: ``η/r − B``, at least 0;
    ``None`` when the curve's relative rate there is not positive."""
    rate = relative_rate(fit, level)
    if rate <= 0.0:
        return None
    return max(eta / rate - batch_size, 0.0)


def speed_ratio(
    current: int, target: int, noise: float, pace_current: float, pace_target: float
) -> float:
    """Loss decrease per second at ``target`` over that at ``current`` (same level), from the
    noise scale ``noise`` and each size's ``pace`` (seconds per sample)."""
    return ((current + noise) * pace_current) / ((target + noise) * pace_target)
