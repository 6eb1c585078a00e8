"""The decision on a trial's last report: the rules of the package docstring, in order."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tune_bs.schedule.switching.choosing import choose, estimates
from tune_bs.schedule.switching.exploring import explore_target, probe_target, room_to_judge
from tune_bs.schedule.switching.judging import is_revert, judge, loss_rose, reverted, tabu, window
from tune_bs.schedule.switching.memo import FitCache
from tune_bs.schedule.switching.stopping import confirmed, dominated, taken_by_leader
from tune_bs.schedule.switching.types import Decision, Peer, Report, Rule, SwitchSettings
from tune_bs.schedule.switching.view import DecisionView


def decide(
    history: Sequence[Report],
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    cache: FitCache | None = None,
) -> Decision:
    """Apply the rules of :mod:`tune_bs.schedule.switching` to the trial's last report.

    ``history``: the trial's reports in order (at least one). ``peers``: the other trials of the
    group (stopped ones too: their curves still inform). ``cache``: a :class:`FitCache` shared
    across calls (speed only: it never changes a decision).
    """
    view = DecisionView(history, peers, settings, FitCache() if cache is None else cache)
    if not math.isfinite(view.last.val_loss):  # rule 1
        return Decision(
            "stop",
            *view.last.loader,
            f"val_loss={view.last.val_loss} is not finite: the trial diverged",
            view.n,
            Rule.DIVERGED,
        )
    if view.n < settings.grace_reports:  # rule 2
        return view.keep(Rule.GRACE, f"grace: {view.n} < {settings.grace_reports} reports")
    stop = dominated(view)  # rule 3
    if stop is not None and confirmed(view):
        return view.decision("stop", *stop)
    if not settings.switching:  # stopping only (an ablation): rules 4-9 never apply
        return view.keep(
            Rule.SWITCHING_OFF, "switching off: the trial keeps its size unless stopped"
        )
    if len(view.current.reports) < settings.segment_reports:  # rule 4
        return view.keep(Rule.MEASURING, f"measuring batch size {view.current.effective}")
    judged = judge_last_switch(view)  # rule 5
    if judged is not None:
        return judged
    sizes_tabu = tabu(view)
    target = explore_target(view, sizes_tabu)  # rule 6
    if target is not None:
        return switch_or_stop(
            view, target, Rule.EXPLORE, f"explore: no curve covers batch size {target}"
        )
    if view.current_fit is None and view.flat is None:
        return view.keep(
            Rule.UNFITTED, f"curve at batch size {view.current.effective} not fitted; keeping it"
        )
    candidates = estimates(view, sizes_tabu)  # rules 7, 8
    size, rule, reason = choose(view, candidates)
    if size is not None and judged_in_time(view, size):
        end = candidates[size].end if view.budget_objective else None
        return switch_or_stop(view, size, rule, reason, end)
    probe = probe_target(view, set(candidates), sizes_tabu)  # rule 9
    if probe is not None and judged_in_time(view, probe[0]):
        return switch_or_stop(view, probe[0], Rule.PROBE, probe[1])
    if size is not None or probe is not None:
        back = size if size is not None else probe[0]
        return view.keep(
            Rule.KEEP,
            f"batch size {back} was switched back from before, and the budget left cannot judge "
            "a return there",
        )
    return view.keep(rule, reason)  # rule 10


def judged_in_time(view: DecisionView, target: int) -> bool:
    """A switch to a size this trial switched back from is made only when the budget left holds
    its judgement (rule 5): a trial never ends at a size its own judged evidence says ends
    worse without a new verdict."""
    return target not in reverted(view) or room_to_judge(view)


def judge_last_switch(view: DecisionView) -> Decision | None:
    """Rule 5's decision, or ``None`` when the last switch is kept (or is not to be judged)."""
    s, segments = view.settings, view.segments
    if len(segments) < 2 or len(view.current.reports) > window(s) or is_revert(segments, s):
        return None
    verdict = judge(view)
    back = segments[-2]
    revert = Decision("switch", *back.loader, "", view.n, Rule.REVERT)
    if verdict.verdict == "bad":
        return revert.because(verdict.detail + "; switching back")
    if verdict.verdict == "good":
        return None
    if len(view.current.reports) < window(s):
        return view.keep(Rule.JUDGING, f"judging the switch to {view.current.effective}")
    if verdict.verdict == "pending":  # within the noise of the extrapolation: the sign decides
        if verdict.level < verdict.stay:
            return None
        return revert.because(
            f"switch {back.effective}→{view.current.effective} not better "
            f"after {window(s)} reports ({verdict.detail}); switching back"
        )
    if loss_rose(view):  # unjudgeable: kept unless the loss rose
        return revert.because(
            f"switch {back.effective}→{view.current.effective} could not be "
            f"judged ({verdict.detail}) and the loss rose; switching back"
        )
    return None


def switch_or_stop(
    view: DecisionView, target: int, rule: Rule, reason: str, end: float | None = None
) -> Decision:
    """Switch to ``target`` by ``rule``, or stop when a live peer ahead of this trial already
    runs it (and, given ``end``, is expected to end lower than this trial would there)."""
    leader = taken_by_leader(view, target, end)
    if leader:
        return view.decision(
            "stop",
            Rule.REDUNDANT,
            f"redundant: would switch to {target}, where {leader} already trains ahead",
        )
    return view.decision("switch", rule, reason, effective=target)
