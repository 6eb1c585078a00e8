"""Rule 5: judge the trial's last switch against the extrapolation of the curve it left, keep
it, revert it, or wait; and the tabu list of sizes reverted from (package docstring)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from tune_bs.schedule.switching.types import Segment, SwitchSettings
from tune_bs.schedule.switching.view import DecisionView

Verdict = Literal["good", "bad", "pending", "unjudgeable"]


@dataclass(frozen=True)
class Judgement:
    """The verdict on a switch (``detail`` says why); for a judged one, the new segment's fitted
    loss ``level`` and the extrapolation ``stay`` of the curve left behind at its last report."""

    verdict: Verdict
    detail: str = ""
    level: float = float("nan")
    stay: float = float("nan")


def window(settings: SwitchSettings) -> int:
    """Reports after a switch within which it is judged."""
    return 2 * settings.segment_reports


def is_revert(segments: list[Segment], settings: SwitchSettings) -> bool:
    """The current segment went back to the size before a short one (a switch back)."""
    return (
        len(segments) > 2
        and segments[-3].loader == segments[-1].loader
        and len(segments[-2].reports) <= window(settings)
    )


def judge(view: DecisionView) -> Judgement:
    """Verdict on the switch from ``segments[-2]`` to the current segment.

    At each report ``k ≥ segment_reports`` of the new segment (replayed, so the first conclusive
    report decides) the curve left behind (its last ``judge_window`` reports) is extrapolated
    over the same training time — under ``objective="budget"``, over the same *samples* (the
    budget is in samples) — and compared with the new segment's fitted loss there: *good* when
    the new one is below it by ``judge_z`` combined standard deviations (the extrapolation's
    widened by its depth, *Band*), *bad* when above it by as much, *pending* otherwise (with
    the last comparison's ``level`` and ``stay``). Under the budget objective a switch to a
    faster loader is also good when it ends no worse than ``end_margin`` of the decrease the
    old curve makes over those samples (it was made for speed). *Unjudgeable* when either curve
    cannot be fitted or (speed objective) a pace is unknown.
    """
    s = view.settings
    previous, current = view.segments[-2], view.current
    prev_fit = (
        view.memo.window_fit(previous, s.judge_window, view.fit_settings)
        if len(previous.reports) >= s.segment_reports
        else None
    )
    pace_prev = view.costs.throughput(previous.loader)
    pace_cur = view.costs.throughput(current.loader)
    by_samples = view.budget_objective
    if prev_fit is None or (not by_samples and not (pace_prev and pace_cur)):
        return Judgement("unjudgeable", "the curve left behind cannot be extrapolated")
    faster = bool(pace_prev and pace_cur and pace_cur > pace_prev)
    left_at = previous.reports[-1].samples_seen - previous.anchor_samples
    at_switch = float(prev_fit.predict(left_at))
    judged: Judgement | None = None
    for k in range(s.segment_reports, len(current.reports) + 1):
        part = current.prefix(k)
        fit = view.fit(part)
        if fit is None:
            continue
        trained = part.reports[-1].samples_seen - part.anchor_samples
        level = float(fit.predict(trained))
        same = trained if by_samples else trained / pace_cur * pace_prev
        stay = view.band(prev_fit, left_at + same)
        margin = s.judge_z * math.hypot(stay.std, fit.extrapolate(trained).std)
        theirs, what = stay.mean, f"val_loss {level:.4g} vs {stay.mean:.4g}"
        if by_samples:
            tolerance = s.end_margin * max(at_switch - stay.mean, 0.0) if faster else 0.0
            theirs += tolerance
            what += f" after the same samples (+ tolerance {tolerance:.2g})"
        detail = (
            f"switch {previous.effective}→{current.effective}: {what} extrapolated at batch "
            f"size {previous.effective} (margin {margin:.2g})"
        )
        if level < theirs - margin:
            return Judgement("good", detail + " judged good")
        if level >= theirs + margin:
            return Judgement("bad", detail + " judged bad")
        judged = Judgement("pending", detail, level, theirs)
    if judged is None:
        return Judgement("unjudgeable", "the new curve cannot be fitted")
    return judged


def loss_rose(view: DecisionView) -> bool:
    """The loss at the end of the current segment is not below the loss at the switch (the
    fitted values where a curve exists, else the reported ones)."""
    previous = view.segments[-2]
    prev_fit = view.fit(previous)
    before = previous.reports[-1].val_loss
    if prev_fit is not None:
        before = float(
            prev_fit.predict(previous.reports[-1].samples_seen - previous.anchor_samples)
        )
    return view.level >= before


def reverted(view: DecisionView) -> set[int]:
    """Sizes this trial ever switched back from (segment A, short X, A again)."""
    s, segments = view.settings, view.segments
    return {
        x.effective
        for a, x, back in zip(segments[:-2], segments[1:-1], segments[2:], strict=False)
        if a.loader == back.loader and len(x.reports) <= window(s)
    }


def tabu(view: DecisionView) -> set[int]:
    """Sizes this trial reverted from (segment A, short X, A again), with exponential back-off:
    the ``k``-th revert from a size keeps it tabu for ``tabu_reports·2^(k−1)`` reports."""
    s, segments = view.settings, view.segments
    out: set[int] = set()
    reverts: dict[int, int] = {}
    for a, x, back in zip(segments[:-2], segments[1:-1], segments[2:], strict=False):
        if a.loader != back.loader or len(x.reports) > window(s):
            continue
        reverts[x.effective] = reverts.get(x.effective, 0) + 1
        if view.n - back.start < s.tabu_reports * 2 ** (reverts[x.effective] - 1):
            out.add(x.effective)
    return out
