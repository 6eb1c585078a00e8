"""Rules 6 and 9: visit the candidate sizes no curve covers and the trial's own judged switches do
not rule out, one at a time, early and within a bounded share of the budget; later, probe a
larger size when progress per sample slows and the noise-scale estimate does not say it is
slower (package docstring)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

from tune_bs.schedule.curves import CurveFit
from tune_bs.schedule.switching.judging import window
from tune_bs.schedule.switching.memo import Value, segment_key
from tune_bs.schedule.switching.noise_scale import (
    FittedSegment,
    family_relative_rate,
    noise_scale,
    pair_step_fraction,
    speed_ratio,
    step_fraction,
)
from tune_bs.schedule.switching.types import Segment
from tune_bs.schedule.switching.view import DecisionView


def covered(view: DecisionView) -> set[int]:
    """Effective sizes with evidence or evidence on its way: the trial's own segments of
    ``segment_reports`` reports or more (the current one included), every size a peer has
    reported at (a peer stopped early at a size is evidence against it), and the size a waiting
    peer will start at."""
    s = view.settings
    out = {view.current.effective}
    out.update(_measured(view.segments, s.segment_reports))
    for peer in view.pool.values():
        if peer.reports:
            out.update(seg.effective for seg in view.memo.segments(peer.reports))
        elif peer.batch_size is not None:
            out.add(peer.batch_size)
    return out


def _measured(segments: Iterable[Segment], reports: int) -> set[int]:
    return {seg.effective for seg in segments if len(seg.reports) >= reports}


def visit_order(current: int, sizes: Iterable[int]) -> list[int]:
    """``sizes`` nearest to ``current`` first (distance in log₂ of the size; ties: larger
    first)."""
    return sorted(sizes, key=lambda b: (abs(math.log2(b / current)), -b))


def ruled_out(view: DecisionView) -> set[int]:
    """Candidates this trial's own judged switches speak against (rule 6 never visits them):
    a size it switched back from and every candidate beyond it (seen from the size it went back
    to), and, for a switch it kept, the size it left and every candidate beyond that."""
    s, segments = view.settings, view.segments
    out: set[int] = set()
    for i in range(1, len(segments)):
        a, x = segments[i - 1].effective, segments[i].effective
        reverted = (
            i + 1 < len(segments)
            and segments[i + 1].loader == segments[i - 1].loader
            and len(segments[i].reports) <= window(s)
        )
        if reverted:
            out.update(b for b in s.batch_sizes if (b >= x if x > a else b <= x))
        elif not (i > 1 and segments[i - 2].loader == segments[i].loader):  # not a switch back
            out.update(b for b in s.batch_sizes if (b <= a if x > a else b >= a))
    return out


def explore_target(view: DecisionView, tabu: set[int]) -> int | None:
    """The next size to visit (rule 6), or ``None``: the uncovered candidate nearest the trial's
    current size that its own judged switches do not rule out (:func:`ruled_out`), when
    exploring is on, the visit starts within ``explore_until`` of the budget, the budget leaves
    room to judge it (:func:`room_to_judge`), and two switches (there and back) cost less than
    ``switch_margin`` of the seconds left."""
    s = view.settings
    if not s.explore:
        return None
    seen = covered(view) | ruled_out(view)
    uncovered = [b for b in s.batch_sizes if b not in seen and b not in tabu]
    if not uncovered or not _visit_fits(view):
        return None
    if 2.0 * view.switch_cost >= s.switch_margin * view.horizon:
        return None
    return visit_order(view.current.effective, uncovered)[0]


def _visit_fits(view: DecisionView) -> bool:
    budget = view.last.budget_samples
    if budget is None:
        return True
    return view.last.samples_seen <= view.settings.explore_until * budget and room_to_judge(view)


def room_to_judge(view: DecisionView) -> bool:
    """The samples left hold a verdict on a switch that can still be acted on:
    ``segment_reports + 1`` more report intervals (the trial's median; rule 5 judges from the
    ``segment_reports``-th report at the new size, and no decision is taken on a budget's last
    report), so a trial never ends at a size it switched to without a chance to leave it on
    evidence. Always true without a known budget."""
    if view.last.budget_samples is None:
        return True
    steps = [
        b.samples_seen - a.samples_seen
        for a, b in zip(view.history, view.history[1:], strict=False)
    ]
    interval = statistics.median(steps) if steps else view.last.samples_seen
    return view.budget_left >= (view.settings.segment_reports + 1) * interval


def slowdown(fit: CurveFit, level: float) -> float:
    """How much the relative progress rate ``−(dL/dS)/(L − c)`` fell over the segment.

    Under the empirical model of large-batch training this is ``(B + B_noise(now)) /
    (B + B_noise(start))``: 1 while the noise scale stays put, larger as it grows, which is when
    a larger batch may start to pay. Weighted mean over the families (each with its own ``c``).
    """
    total = 0.0
    for f in fit.fits:
        now = family_relative_rate(f, level)
        then = family_relative_rate(f, float(f.predict(fit.x_first)))
        ratio = 1.0
        if now is not None and then is not None:
            ratio = then / now if now > 0.0 else math.inf
        total += f.weight * ratio
    return total


def probe_target(view: DecisionView, estimated: set[int], tabu: set[int]) -> tuple[int, str] | None:
    """Rule 9: the next larger candidate and the reason, when it has no usable curve (not in
    ``estimated``), the trial has run ``probe_every`` reports at its size, its relative progress
    per sample has slowed by ``probe_slowdown``, two switches cost less than ``switch_margin`` of
    the seconds left and (``probe_gate``) the noise-scale estimate does not say it lowers the
    loss more slowly per second (:func:`probe_speed`); else ``None``."""
    s, fit = view.settings, view.current_fit
    if view.budget_objective:
        return None  # the budget objective switches on fresh estimates only
    larger = [b for b in s.batch_sizes if b > view.current.effective]
    if not larger or fit is None or larger[0] in estimated or larger[0] in tabu:
        return None
    if len(view.current.reports) < s.probe_every:
        return None
    if slowdown(fit, view.level) < s.probe_slowdown:
        return None
    if 2.0 * view.switch_cost >= s.switch_margin * view.horizon:
        return None
    reason = f"probe: no usable curve at batch size {larger[0]}; progress per sample slowed"
    if s.probe_gate:
        estimate = probe_speed(view, larger[0])
        if estimate is not None:
            ratio, noise = estimate
            if ratio <= 1.0:
                return None
            reason += f"; noise scale ~{noise:.0f} samples makes it {ratio:.2f}x as fast"
    return larger[0], reason


def fitted_segments(view: DecisionView) -> list[FittedSegment]:
    """Every fitted segment of the trial and its peers at a candidate size (memoised)."""
    out = []
    for reports in view.histories:
        out.extend(
            view.memo.per_history(
                view.fits_key(Value.FITTED_SEGMENTS),
                reports,
                lambda r=reports: [
                    FittedSegment.of(seg.effective, fit, segment_key(seg, view.fit_settings))
                    for seg, fit in view.segment_fits(r)
                    if fit is not None
                ],
            )
        )
    return [f for f in out if f.batch_size in view.settings.batch_sizes]


def probe_speed(view: DecisionView, target: int) -> tuple[float, float] | None:
    """``(speed ratio of target to the current size, noise scale in samples)`` at the trial's
    level (:mod:`~tune_bs.schedule.switching.noise_scale`), or ``None`` when no pair of curves
    at different sizes overlaps, the current curve gives no rate or a pace is unknown."""
    fit, current = view.current_fit, view.current.effective
    through_current, through_target = view.throughput(current), view.throughput(target)
    if fit is None or not through_current or not through_target:
        return None

    def pair(a: FittedSegment, b: FittedSegment) -> float | None:
        return view.memo.keyed(
            view.fits_key(Value.NOISE_PAIR), (a.key, b.key), lambda: pair_step_fraction(a, b)
        )

    eta = step_fraction(fitted_segments(view), pair)
    if eta is None:
        return None
    noise = noise_scale(eta, fit, view.level, current)
    if noise is None:
        return None
    return speed_ratio(current, target, noise, 1.0 / through_current, 1.0 / through_target), noise
