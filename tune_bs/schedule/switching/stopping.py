"""Rule 3: stop a trial that cannot reach the best expected end among its rivals (budget
objective), or that is clearly worse than a rival at equal compute (speed objective), or that
duplicates a peer ahead of it at its own batch size (rules in the package docstring)."""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Mapping, Sequence

import numpy as np

from tune_bs.schedule.switching.memo import Value, ValueKey
from tune_bs.schedule.switching.types import Peer, Report, Rule
from tune_bs.schedule.switching.view import DecisionView


def noise_floor(view: DecisionView) -> float:
    """Smallest loss gap rule 3 may act on: ``stop_noise_z`` × the median residual standard
    deviation of the current-segment fits of the trial and its peers (the noise of ``val_loss``
    between reports); ``inf`` while none of them can be fitted (no stop on an unknown noise)."""
    stds = []
    for reports in view.rival_histories:
        std = view.memo.per_history(
            view.fits_key(Value.NOISE), reports, lambda r=reports: _current_noise(view, r)
        )
        if std is not None:
            stds.append(std)
    return view.settings.stop_noise_z * float(np.median(stds)) if stds else math.inf


def _current_noise(view: DecisionView, reports: Sequence[Report]) -> float | None:
    fit = view.fit(view.memo.segments(reports)[-1])
    return None if fit is None else fit.residual_std


def _interp(view: DecisionView, reports: Sequence[Report], t: float) -> float | None:
    """``val_loss`` linearly interpolated at elapsed time ``t`` (None outside the reports)."""
    times, losses = view.memo.derived(
        ValueKey(Value.SERIES),
        reports,
        lambda: (np.array([r.time_s for r in reports]), np.array([r.val_loss for r in reports])),
    )
    if t < times[0] or t > times[-1]:
        return None
    return float(np.interp(t, times, losses))


def _smoothed(view: DecisionView, reports: Sequence[Report], t: float) -> float | None:
    """A trial's ``val_loss`` at elapsed time ``t``: its current segment's fitted curve when
    ``t`` lies inside that segment (report noise stops no one), else the reports linearly
    interpolated; None outside the reports."""
    raw = _interp(view, reports, t)
    segment = view.memo.segments(reports)[-1]
    if raw is None or t < segment.reports[0].time_s:
        return raw
    fit = view.fit(segment)
    if fit is None:
        return raw
    times = [r.time_s for r in segment.reports]
    samples = [r.samples_seen for r in segment.reports]
    return float(fit.predict(float(np.interp(t, times, samples)) - segment.anchor_samples))


def equal_compute(view: DecisionView, peer: Peer) -> tuple[float, float, float] | None:
    """``(τ, own loss, peer loss)`` at equal compute ``τ`` (elapsed seconds), or ``None``: the
    trial interpolated at the peer's compute when the peer has run no longer, else the trial's
    curve extrapolated (lower end of the ``band_z`` band) to ``min(t_peer, t·(1+stop_horizon))``."""
    s, last, current = view.settings, view.last, view.current
    t_own, own_now = last.time_s, view.level
    t_peer = peer.reports[-1].time_s
    if t_peer <= t_own:
        tau = t_peer
        theirs = _smoothed(view, peer.reports, tau)
        own = _smoothed(view, view.history, tau)
        if own is None:  # before this trial's first report: its loss then was at least now's
            own = own_now
    else:
        rate = view.costs.throughput(current.loader)
        if view.current_fit is not None and rate:
            tau = min(t_peer, t_own * (1.0 + s.stop_horizon))
            x = current.reports[-1].samples_seen - current.anchor_samples + (tau - t_own) * rate
            own = view.band(view.current_fit, x).low
        else:
            tau, own = t_own, own_now
        theirs = _smoothed(view, peer.reports, tau)
    if theirs is None or not math.isfinite(theirs):
        return None
    return tau, own, theirs


def expected_final(view: DecisionView, peer: Peer) -> float:
    """A peer's expected loss at the end of its own budget: its current segment's curve there
    (the point estimate), else its last reported loss (memoised per history)."""
    return view.memo.per_history(
        view.fits_key(Value.EXPECTED_FINAL), peer.reports, lambda: _final(view, peer)
    )


def _final(view: DecisionView, peer: Peer) -> float:
    last = peer.reports[-1]
    segment = view.memo.segments(peer.reports)[-1]
    fit = view.fit(segment)
    if fit is None or last.budget_samples is None:
        return last.val_loss
    x = max(last.budget_samples, last.samples_seen) - segment.anchor_samples
    return float(fit.predict(x))


def finished(peer: Peer) -> bool:
    """The peer ran its whole samples budget (its end is known, not extrapolated)."""
    last = peer.reports[-1] if peer.reports else None
    return bool(last and last.budget_samples and last.samples_seen >= last.budget_samples)


def rivals(view: DecisionView) -> dict[str, Peer]:
    """Rivals whose evidence can stop this trial: live ones and, under the budget objective,
    those that finished their budget (a trial stopped early stops no one)."""
    return {
        k: p
        for k, p in view.peers.items()
        if p.reports and (p.alive or (view.budget_objective and finished(p)))
    }


def _reference_loss(view: DecisionView) -> float:
    """``L_ref``: the median first-reported loss of the trial and its rivals (finite ones).

    The median, not the highest: in a random search one exploding learning rate reports a first
    loss far above the others', and a margin scaled by it stops nothing in that search (in the
    development replay of TaskSet curves, 30 of 36 pools held a first loss above twice their
    median, 9 above 100 against a median of 0.70; with the highest, the scheduler trained
    0.65x of fifo's samples there, with the median 0.21x, at the same regret)."""
    firsts = [r[0].val_loss for r in view.rival_histories]
    finite = [v for v in firsts if math.isfinite(v)]
    return statistics.median(finite) if finite else view.last.val_loss


def late_drop(view: DecisionView, competing: Mapping[str, Peer]) -> float:
    """How far rivals that finished their budget ended below their own curve extrapolated from
    the fraction of the budget this trial has run: the median over them (each clipped at 0; 0
    without one). A late fall that curves do not foresee — a decaying learning rate's — shows
    here before it can break a stop."""
    last = view.last
    if not last.budget_samples:
        return 0.0
    fraction = last.samples_seen / last.budget_samples
    drops = []
    for rival in competing.values():
        if finished(rival):
            drop = _drop_after(view, rival, fraction)
            if drop is not None:
                drops.append(max(drop, 0.0))
    return statistics.median(drops) if drops else 0.0


def _drop_after(view: DecisionView, rival: Peer, fraction: float) -> float | None:
    """The rival's curve at ``fraction`` of its budget (the fit of its segment up to there, at
    its end of budget) less its final loss; ``None`` when that segment has no curve there."""
    reports = rival.reports
    final = reports[-1]
    budget = final.budget_samples or final.samples_seen
    samples = view.memo.derived(
        ValueKey(Value.SAMPLES), reports, lambda: [r.samples_seen for r in reports]
    )
    k = bisect.bisect_right(samples, fraction * budget)  # reports up to that fraction
    if k == 0 or k == len(reports):
        return None
    segment = [seg for seg in view.memo.segments(reports) if seg.start < k][-1]
    fit = view.fit(segment.prefix(k - segment.start))
    if fit is None:
        return None
    return float(fit.predict(budget - segment.anchor_samples)) - final.val_loss


def dominated(view: DecisionView) -> tuple[Rule, str] | None:
    """``(rule, reason)`` to stop the trial under rule 3 on this report, or ``None``: under
    ``objective="budget"`` :func:`cannot_reach`, else :func:`behind_at_equal_compute`."""
    return cannot_reach(view) if view.budget_objective else behind_at_equal_compute(view)


def cannot_reach(view: DecisionView) -> tuple[Rule, str] | None:
    """Rule 3, budget objective: the trial's *reach* (:attr:`DecisionView.reach`: its current
    curve at the end of its own budget, lower end of the band) is above a rival's expected end
    (:func:`expected_final`, at the end of the rival's own budget) by more than the margin —
    ``max(stop_margin·(L_ref − end), floor) + late_drop``, ``floor`` alone for a pooling peer
    at the same batch size (a duplicate) — and it is behind that rival at equal compute
    (:func:`equal_compute`) by as much. Nothing stops a trial whose current size has neither a
    curve nor is flat."""
    reach = view.reach
    competing = rivals(view)
    if reach is None or not competing:
        return None
    floor = noise_floor(view)
    if not math.isfinite(floor):
        return None
    l_ref = _reference_loss(view)
    jump: float | None = None
    beaten: list[tuple[float, str, float]] = []
    for key, rival in competing.items():
        end = expected_final(view, rival)
        if reach - end <= floor:
            continue  # within the smallest margin (the full one, below, costs more)
        jump = late_drop(view, competing) if jump is None else jump
        duplicate = rival.pools and rival.reports[-1].effective_batch_size == view.current.effective
        margin = floor if duplicate else max(view.settings.stop_margin * (l_ref - end), floor)
        margin += jump
        if reach - end <= margin:
            continue
        compared = equal_compute(view, rival)
        if compared is None or compared[1] - compared[2] <= margin:
            continue  # not behind it now: its end may be a deep extrapolation's optimism
        if duplicate:
            return Rule.DUPLICATE, (
                f"redundant: {key} trains at batch size {view.current.effective} too and is "
                f"expected to end at {end:.4g}, below this trial's reach {reach:.4g} by more "
                f"than {margin:.2g}"
            )
        beaten.append((end, key, margin))
    if not beaten or len(beaten) < view.settings.min_alive:
        return None
    beaten.sort()
    ends = ", ".join(f"{key} {end:.4g}" for end, key, _ in beaten[:3])
    flat = " (flat)" if view.flat is not None else ""
    drop = f", late drop {jump:.2g} included" if jump else ""
    return Rule.BEHIND, (
        f"cannot reach the best expected end: reach {reach:.4g}{flat} at the end of its "
        f"budget, rivals' ends {ends} (margin {beaten[0][2]:.2g}{drop})"
    )


def behind_at_equal_compute(view: DecisionView) -> tuple[Rule, str] | None:
    """Rule 3, speed objective: live rivals ahead at equal compute by more than
    ``max(stop_margin·(L_ref − L_j), floor)`` (``floor`` for a pooling peer at the same size)."""
    competing = rivals(view)
    if not competing:
        return None
    floor = noise_floor(view)
    l_ref = _reference_loss(view)
    dominated_by: list[str] = []
    for key, peer in competing.items():
        compared = equal_compute(view, peer)
        if compared is None:
            continue
        tau, own, theirs = compared
        same_size = peer.pools and peer.reports[-1].effective_batch_size == view.current.effective
        margin = floor if same_size else max(view.settings.stop_margin * (l_ref - theirs), floor)
        if own - theirs <= margin:
            continue
        at = f"{theirs:.4g} vs {own:.4g} at {tau:.4g}s"
        if same_size:
            return Rule.DUPLICATE, (
                f"redundant: {key} trains at batch size {view.current.effective} too and is "
                f"ahead ({at}, noise floor {floor:.2g})"
            )
        dominated_by.append(f"{key} ({at})")
    if not dominated_by or len(dominated_by) < view.settings.min_alive:
        return None
    return Rule.BEHIND, "clearly worse at equal compute than " + ", ".join(dominated_by[:3])


def confirmed(view: DecisionView) -> bool:
    """Rule 3 also held on each of the ``stop_confirm_reports − 1`` reports before the last
    (peers as of each; a report within the grace period does not confirm)."""
    s = view.settings
    for back in range(1, s.stop_confirm_reports):
        before = view.history[: view.n - back]
        if len(before) < s.grace_reports:
            return False
        if dominated(DecisionView(before, view.peers, s, view.memo)) is None:
            return False
    return True


def taken_by_leader(view: DecisionView, target: int, end: float | None = None) -> str:
    """A live pooling peer that already trains at ``target`` and is ahead at equal compute by
    more than the noise floor, or ``""`` (a switch there would only duplicate it). With ``end``
    (the loss this trial expects at the end of its budget at ``target``), the peer must also be
    expected to
    end lower by more than the noise floor."""
    floor = None
    for key, peer in rivals(view).items():
        if not peer.pools or peer.reports[-1].effective_batch_size != target:
            continue
        floor = noise_floor(view) if floor is None else floor
        if end is not None and end - expected_final(view, peer) <= floor:
            continue
        compared = equal_compute(view, peer)
        if compared is not None and compared[1] - compared[2] > floor:
            return key
    return ""
