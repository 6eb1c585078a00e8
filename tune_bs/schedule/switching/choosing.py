"""Rules 7 and 8: for every candidate size, what its curve promises from the current level — the
loss at the end of the samples budget and the seconds to get there (``objective="budget"``), or
the loss decrease per second over the next segment's worth of samples (``"speed"``); switch to
the best when it beats the current size and the seconds it saves pay for the switch (package
docstring)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from tune_bs.schedule.curves import CurveFit
from tune_bs.schedule.switching.types import Rule
from tune_bs.schedule.switching.view import DecisionView


@dataclass(frozen=True)
class Estimate:
    """What a candidate size promises from the current level over the look-ahead seconds.

    ``gain``: expected loss decrease (loss units) in ``seconds`` of training at the size's
    pace; ``depth``: how far beyond its last point (in units of its own ``x`` range) the curve
    is extrapolated to reach the current level (≤ 0: interpolation); ``end``: expected loss
    after the trial's samples left at this size (``nan`` without a budget); ``finish_s``: the
    seconds those samples take at its pace.
    """

    size: int
    gain: float
    seconds: float
    depth: float
    own: bool
    end: float = math.nan
    finish_s: float = math.nan

    def speed(self, switch_seconds: float = 0.0) -> float:
        """Loss decrease per second of the compute left, ``switch_seconds`` included."""
        return self.gain / (self.seconds + switch_seconds) if self.seconds > 0 else 0.0


def _decrease(fit: CurveFit, level: float, samples: float, cautious: float | None) -> float:
    """Loss decrease after ``samples`` more samples from ``level`` along ``fit``; with
    ``cautious``, the smallest among the families of Akaike weight ≥ it."""
    if cautious is None:
        return level - fit.advance(level, samples)
    ends = [f.advance(level, samples) for f in fit.fits if f.weight >= cautious]
    return level - (max(ends) if ends else fit.advance(level, samples))


def lookahead(view: DecisionView) -> float:
    """Seconds the estimates look ahead: the time the current loader takes for one segment's
    worth of samples (``segment_reports`` report intervals, the median interval of the trial),
    at most the samples left; 0 when its pace is unknown."""
    steps = [
        b.samples_seen - a.samples_seen
        for a, b in zip(view.history, view.history[1:], strict=False)
    ]
    interval = statistics.median(steps) if steps else view.last.samples_seen
    samples = max(min(view.settings.segment_reports * interval, view.budget_left), 1.0)
    pace = view.costs.seconds_per_sample(view.current.loader)
    return samples * pace if pace else 0.0


def estimates(view: DecisionView, tabu: set[int]) -> dict[int, Estimate]:
    """Every candidate size with a usable curve (own first, then peers'; the least deep wins):
    ``{size: Estimate}``. A curve is usable when it reached the current level or one at most
    ``max_depth`` ranges below it, and its loader's pace is known."""
    s, level, current = view.settings, view.level, view.current.effective
    seconds = lookahead(view)
    best: dict[int, tuple[tuple[float, bool], CurveFit, float]] = {}  # size: (rank, fit, pace)
    for owner, reports in enumerate(view.histories):
        for seg, fit in view.segment_fits(reports):
            b = seg.effective
            if fit is None or b not in s.batch_sizes or b in tabu:
                continue
            if b in best and best[b][0] <= (0.0, owner > 0):
                continue  # no curve of this source can rank better (depth is clamped at 0)
            pace = view.throughput(b)
            span = fit.x_last - fit.x_first
            depth = (fit.x_at(level) - fit.x_last) / span if span > 0 else float("inf")
            if not pace or not seconds or depth < -1.1 or not depth <= s.max_depth:
                continue  # above the segment (it never saw this level) or too far below it
            rank = (max(depth, 0.0), owner > 0)
            if b not in best or rank < best[b][0]:
                best[b] = (rank, fit, pace)
    out = {}
    for b, ((depth, by_peer), fit, pace) in best.items():  # the estimates of the winners only
        cautious = None if b == current else s.plausible_weight
        gain = _decrease(fit, level, seconds * pace, cautious)
        end, finish = _budget_end(view, fit, pace, cautious)
        out[b] = Estimate(b, gain, seconds, depth, not by_peer, end, finish)
    return out


def _budget_end(
    view: DecisionView, fit: CurveFit, pace: float, cautious: float | None
) -> tuple[float, float]:
    """``(loss, seconds)`` at the end of the samples left along ``fit`` from the current level,
    at ``pace`` samples per second; ``(nan, nan)`` without a budget."""
    left = view.budget_left
    if not math.isfinite(left) or not pace:
        return math.nan, math.nan
    return view.level - _decrease(fit, view.level, left, cautious), left / pace


def own_estimate(view: DecisionView) -> Estimate | None:
    """The current size's promise, from the current segment's own curve (weighted families);
    a :attr:`~DecisionView.flat` segment promises no decrease (its end is its mean)."""
    pace = view.costs.throughput(view.current.loader)
    seconds = lookahead(view)
    if not pace or not seconds:
        return None
    if view.current_fit is None:
        if view.flat is None:
            return None
        left = view.budget_left
        return Estimate(view.current.effective, 0.0, seconds, 0.0, True, view.level, left / pace)
    gain = _decrease(view.current_fit, view.level, seconds * pace, None)
    end, finish = _budget_end(view, view.current_fit, pace, None)
    return Estimate(view.current.effective, gain, seconds, 0.0, True, end, finish)


def choose(
    view: DecisionView, candidates: dict[int, Estimate]
) -> tuple[int, Rule, str] | tuple[None, Rule, str]:
    """Rule 8: ``(size, rule, reason)`` to switch to (``Rule.EXTRAPOLATION`` on a fresh estimate,
    ``Rule.PROBE`` on a deeper one), or ``(None, Rule.KEEP, reason)`` to keep the current size.

    The candidate with the highest expected loss decrease per second must beat the current
    size's by more than ``switch_margin`` (relative); it is a direct switch when its estimate is
    *fresh* (depth ≤ ``fresh_depth`` for a larger batch, ≤ 0 for a smaller one), a probe when it
    is a deeper estimate for a larger batch and the trial has run ``probe_every`` reports; and
    the seconds it saves over the seconds left, ``H·(1 − v_now/v_best)``, must exceed the switch
    cost (twice it for a probe, which may be reverted).
    """
    s, level = view.settings, view.level
    own = own_estimate(view)
    others = {b: e for b, e in candidates.items() if b != view.current.effective}
    if view.budget_objective and own is not None:
        return choose_for_budget(view, own, others)
    keep = f"batch size {view.current.effective} is the fastest known at {level:.4g}"
    if own is None or own.speed() <= 0.0 or not others:
        return None, Rule.KEEP, keep
    best = max(others.values(), key=lambda e: e.speed())
    upward = best.size > view.current.effective
    fresh = best.depth <= (s.fresh_depth if upward else 0.0)
    hint = upward and len(view.current.reports) >= s.probe_every
    gain = best.speed() / own.speed() - 1.0
    if gain <= s.switch_margin or not (fresh or hint):
        return None, Rule.KEEP, keep
    saving = view.horizon * (1.0 - own.speed() / best.speed())
    switches = 1.0 if fresh else 2.0
    if saving <= switches * view.switch_cost:
        return (
            None,
            Rule.KEEP,
            (
                f"batch size {best.size} expected {gain:+.0%} loss decrease per second, "
                f"but saves {saving:.3g}s over the {view.horizon:.3g}s left, not more "
                f"than {switches:g} restart(s) of {view.switch_cost:.3g}s"
            ),
        )
    kind = "extrapolation" if fresh else "probe (extrapolated hint)"
    return (
        best.size,
        Rule.EXTRAPOLATION if fresh else Rule.PROBE,
        (
            f"{kind}: batch size {best.size} expected {gain:+.0%} loss decrease per "
            f"second at val_loss {level:.4g} (depth {best.depth:.2f}), saving "
            f"{saving:.3g}s > {switches:g} restart(s) of {view.switch_cost:.3g}s"
        ),
    )


def end_tolerance(settings_margin: float, level: float, best_end: float) -> float:
    """How much higher than the best expected end loss a size may end and still count as
    reaching it: ``end_margin`` × the loss decrease still to come (``level − best_end``)."""
    return settings_margin * max(level - best_end, 0.0)


def choose_for_budget(
    view: DecisionView, own: Estimate, others: dict[int, Estimate]
) -> tuple[int, Rule, str] | tuple[None, Rule, str]:
    """Rule 8 under ``objective="budget"``: ``(size, Rule.EXTRAPOLATION, reason)`` or
    ``(None, Rule.KEEP, reason)``.

    A size *reaches* the best end when its expected loss at the end of the samples left is at
    most ``end_margin`` of the decrease still to come above the lowest expected end (the
    current size's or any candidate's); the current size reaches it when the lower end of its
    ``band_z`` band does (its own curve is left only on clear evidence). It is kept then, when no
    reaching candidate finishes faster by more than ``switch_margin`` (relative) with seconds
    saved above the switch cost; otherwise the fastest reaching candidate is the target, when
    the switch costs less than ``switch_margin`` of the seconds left. Only *fresh* estimates
    count (no probes).
    """
    s, here = view.settings, view.current.effective
    best_end = min([own.end, *(e.end for e in others.values())])
    tol = end_tolerance(s.end_margin, view.level, best_end)
    reaching = [e for e in others.values() if e.end <= best_end + tol]
    reach = view.reach  # the current size is left only when even its band misses
    own_reaches = (own.end if reach is None else min(own.end, reach)) <= best_end + tol
    keep = (
        f"batch size {here} is expected to end at {own.end:.4g} in {own.finish_s:.3g}s "
        f"(best end {best_end:.4g}, tolerance {tol:.2g})"
    )
    if not reaching:
        return None, Rule.KEEP, keep
    pick = min(reaching, key=lambda e: e.finish_s)
    if pick.depth > (s.fresh_depth if pick.size > here else 0.0):
        return None, Rule.KEEP, keep + f"; the estimate for batch size {pick.size} is not fresh"
    if own_reaches:
        saving = own.finish_s - pick.finish_s
        if saving <= s.switch_margin * own.finish_s or saving <= view.switch_cost:
            return None, Rule.KEEP, keep
        why = f"ends within {tol:.2g} of the best ({pick.end:.4g}) {saving:.3g}s sooner"
    else:
        if view.switch_cost > s.switch_margin * own.finish_s:
            return None, Rule.KEEP, keep + "; a switch costs too much of the time left"
        why = f"ends at {pick.end:.4g}, below {own.end:.4g} at batch size {here}"
    return (
        pick.size,
        Rule.EXTRAPOLATION,
        (
            f"extrapolation: batch size {pick.size} {why} (budget objective, val_loss "
            f"{view.level:.4g}, depth {pick.depth:.2f})"
        ),
    )
