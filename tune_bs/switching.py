"""The batch-size switching policy of the extrapolation scheduler, as a pure function (no Ray).

:func:`decide` maps a trial's history, its peers' histories and :class:`SwitchSettings` to a
:class:`Decision` (``continue`` / ``switch`` / ``stop``). It keeps no state: replaying the same
history recomputes the same decision, and each decision carries the ``report_index`` it belongs
to, so a restarted scheduler can refuse to apply one twice (DESIGN §7).

Units: ``samples_seen`` in training samples; ``time_s`` in the trial's own elapsed seconds
(Ray's ``time_total_s``); ``val_loss`` in loss units, lower is better and comparable across batch
sizes (the training loss is not — DESIGN §4). Batch sizes are *effective* (loader batch ×
accumulation steps). *Peers* are the other trials of the same group: trials whose configs differ
only in the batch size (the wrapper chooses them); stopped peers still count as evidence.
A *segment* is a maximal run of reports at one batch size; its curve is fitted with
:func:`tune_bs.curves.fit_curve` on ``x`` = samples since the report before the segment.

The rule, on the trial's ``n``-th report (``report_index = n``), first match wins:

1. **Diverged.** The last ``val_loss`` is NaN or ±inf → ``stop``, ``diverged=True``.
2. **Grace.** ``n < grace_reports`` (default 2) → ``continue``.
3. **Stop a clearly worse trial**, at equal compute. For each live peer ``j``: if ``j`` has run
   no longer (``t_j ≤ t``), compare ``j``'s last loss with this trial's loss interpolated at
   ``t_j``; otherwise compare ``j``'s loss interpolated at ``τ = min(t_j, t·(1+stop_horizon))``
   with this trial's *extrapolation* to ``τ`` (its segment curve advanced at its measured
   throughput, lower end of the ``band_z`` band). The trial is *dominated* by ``j`` when it is
   worse by more than ``max(stop_margin·(L_ref − L_j), floor)``, ``L_ref`` = the highest
   first-reported loss of the group (it achieved less than ``1 − stop_margin`` of ``j``'s loss
   decrease for the same compute). ``floor`` = ``stop_noise_z`` × the median residual standard
   deviation of the current-segment curve fits of the trial and its peers (the ``val_loss`` noise
   between reports; ``inf``, so no stop, while none can be fitted): a gap within the noise never
   stops a trial. Stop when ``min_alive`` live peers dominate it; also stop when a live peer at
   the same batch size is ahead by more than ``floor`` (a duplicate). Either must hold on the
   last ``stop_confirm_reports`` consecutive reports (peers as of each; default 1: the noise
   floor already guards against one noisy ``val_loss``, and on the simulator a second
   confirmation costs more compute than it saves). Rationale: any trial can switch to any
   size, so a trial behind at equal compute stays behind — its extrapolated final value is
   worse.
4. **Measure.** Fewer than ``segment_reports`` (default 5) reports at the current size →
   ``continue``.
5. **Judge the last switch** (its first ``2·segment_reports`` reports, unless it was itself a
   switch back). The curve left behind (its last ``judge_window`` reports) is extrapolated over
   the training time spent since (samples / throughput; the one-off switch cost is sunk): the
   first report where the new segment's fitted loss is below that by ``judge_z`` combined
   standard deviations keeps the size; one where it is not below the extrapolation at all, or
   no verdict after ``2·segment_reports`` reports, → ``switch`` back. A size switched back from
   is *tabu* for ``tabu_reports·2^(k−1)`` reports after its ``k``-th revert (the verdict feeds
   later decisions).
6. **No curve.** The current segment's curve is refused (noise, too flat) → ``continue``
   (unless rule 9 explores).
7. **Speeds.** Level ``L`` = the segment's fitted loss at the last report. For each candidate
   ``B``: loss decrease per second at ``L`` = rate of a fitted curve at ``B`` at level ``L``
   (loss per sample, :meth:`CurveFit.rate_at`; curves at one batch size share one autonomous law
   ``dL/dS = −g_B(L)``, so a peer's curve informs this trial) × the measured throughput of the
   loader that runs ``B``. Among the curves at ``B`` (own first) the one with the smallest
   *depth* counts: how far beyond its last point, in units of its own ``x`` range, it reaches
   ``L`` (≤ 0: interpolation; curves above ``L`` or deeper than ``max_depth`` do not count).
   For candidates the smallest rate among families of Akaike weight ≥ ``plausible_weight``.
8. **Switch.** If the fastest non-tabu candidate beats the current speed by more than
   ``switch_margin`` (relative): switch when its estimate is *fresh* (depth ≤ ``fresh_depth``
   for a larger batch; interpolation, depth ≤ 0, for a smaller one); a deeper estimate for a
   larger batch is a hint that triggers a probe (a switch, judged by rule 5) after
   ``probe_every`` reports at the current size. **Restart cost:** a switch restarts the trial
   (pause, restore: seconds on Ray). It is made only when its expected saving over the seconds
   left, ``H·(1 − v_now/v_best)``, exceeds the restart cost (twice it for a probe, which may be
   reverted). ``H`` = the trial's remaining ``budget_samples`` at its measured throughput (its
   elapsed seconds when the budget is unknown); the restart cost = the median over the trial's
   own switches of the interval straddling the switch less its training time on the trial's
   clock (``time_s``), plus — on the shared clock (``wall_time``) — that interval's overhead
   beyond the median overhead of the trial's other intervals (report, checkpoint: paid by
   every interval, switch or not); else the same over its peers' switches, else
   ``switch_cost_s`` (default by ``switch_via``: ``INPLACE_SWITCH_COST_S`` = 0.001 s for the
   restart-free path, ``RESTART_SWITCH_COST_S`` = 2 s for pause-and-restore; measured on local
   Ray).
   Extrapolating a curve far below its range ignores the growth of the gradient-noise scale,
   hence the caution, and smaller batches need evidence.
9. **Explore.** (``explore``, default on) During the trial's first segment, the nearest
   candidate above its size (else below) that no trial of the group has reported at or starts
   at → ``switch`` to it (a probe, judged by rule 5), when ``switch_margin·H`` exceeds two
   restart costs; also when the current curve cannot be fitted. This is how a trial without
   peers at other sizes (e.g. one of a random search over ``lr``) tries several loaders early.
   Otherwise, the next larger candidate has no usable curve and the current curve's
   relative progress per sample ``−(dL/dS)/(L − c)`` has fallen by ``probe_slowdown`` (default
   1.4×) since the segment began (under the empirical model of large-batch training, McCandlish
   et al. 2018, that is the growth of ``B + B_noise``) → probe it after ``probe_every`` reports,
   when ``switch_margin·H`` exceeds two restart costs.
10. Otherwise ``continue``.

A switch that would move this trial to a batch size where a live peer is already ahead at equal
compute (by more than ``floor``) stops the trial instead (it would only duplicate that peer).

Second action (``action="accumulation"``): effective size ``B`` runs as loader batch
``b = min(B, max_loader_batch_size)`` (default: the trial's first loader batch) with
``accumulation_steps = B // b``; decisions carry both numbers.

Cost: one curve fit (~1 ms) per new report of a segment; fits, segments and throughputs are
memoised in ``cache`` under each history's length and end reports (histories only grow, so one
dict may be shared by all trials and calls; it never changes a result).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

from tune_bs.curves import CurveFit, CurveFitError, fit_curve
from tune_bs.errors import UserInputError

Action = Literal["continue", "switch", "stop"]
_T = TypeVar("_T")
#: Seconds a restart-free switch is assumed to cost until one is measured: 0.002–0.005 s measured
#: by ``benchmarks/scheduler_overhead.py`` (one actor call, a new loader batch size), rounded up.
INPLACE_SWITCH_COST_S = 0.001
#: Seconds a switch by pause and checkpoint restore is assumed to cost (local Ray, actor reuse).
RESTART_SWITCH_COST_S = 2.0


@dataclass(frozen=True)
class Report:
    """One reported result of a trial.

    ``time_s``: the trial's own elapsed training seconds (its float ``trial_time_s``, else
    Ray's ``time_total_s``; ``own_clock`` says which).
    ``wall_time``: optional float clock shared by all trials (``wall_time_s``); when the trial's
    reports carry it, peers' reports after the trial's last one are ignored, so a replay after a
    restart sees the population as it was, and the restart cost of a switch is measured on it
    too. ``budget_samples``: the trial's total training budget (samples), when known.
    """

    samples_seen: float
    val_loss: float
    batch_size: int
    time_s: float
    accumulation_steps: int = 1
    wall_time: float | None = None
    budget_samples: float | None = None
    own_clock: bool = False

    @property
    def effective_batch_size(self) -> int:
        """Samples per optimizer update: ``batch_size × accumulation_steps``."""
        return self.batch_size * self.accumulation_steps

    def __hash__(self) -> int:
        """The dataclass hash of the fields, computed once (reports key the policy's memo)."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.samples_seen, self.val_loss, self.batch_size, self.time_s,
                           self.accumulation_steps, self.wall_time, self.budget_samples,
                           self.own_clock))
            object.__setattr__(self, "_hash", cached)
        return cached


@dataclass(frozen=True)
class Peer:
    """Another trial of the population: its reports, whether it is still running, and the
    batch size it starts at (``batch_size``: what a peer that has not reported yet will
    measure; rule 9 does not explore a size a peer covers)."""

    reports: Sequence[Report]
    alive: bool = True
    batch_size: int | None = None



@dataclass(frozen=True)
class Decision:
    """What to do with a trial after its ``report_index``-th report (the idempotency key)."""

    action: Action
    batch_size: int
    accumulation_steps: int = 1
    reason: str = ""
    report_index: int = 0
    diverged: bool = False

    @property
    def effective_batch_size(self) -> int:
        """``batch_size × accumulation_steps``."""
        return self.batch_size * self.accumulation_steps


@dataclass(frozen=True)
class SwitchSettings:
    """Settings of :func:`decide`; the module docstring's rule names every field.

    Counts are reports of the trial; margins are relative (0.05 = 5 %); depths are in units of a
    curve's own sample range; ``band_z``/``judge_z`` are numbers of standard deviations.
    """

    batch_sizes: tuple[int, ...]  # candidate effective batch sizes
    action: Literal["loader", "accumulation"] = "loader"
    max_loader_batch_size: int | None = None  # accumulation: largest loader batch
    grace_reports: int = 2  # no stop before this many reports
    segment_reports: int = 5  # reports at a size before it is fitted / judged (≥ 5)
    switch_margin: float = 0.05  # speed advantage needed to switch
    fresh_depth: float = 0.5  # deepest extrapolation trusted for a direct switch upwards
    max_depth: float = 4.0  # deepest extrapolation used at all
    probe_every: int = 10  # reports at a size before a probe
    probe_slowdown: float = 1.4  # slowdown of relative progress that motivates a probe
    tabu_reports: int = 10  # reports a size stays tabu after its first revert (doubles)
    judge_window: int = 10  # reports of the curve left behind used to judge a switch
    judge_z: float = 1.0  # evidence needed to keep a switch
    plausible_weight: float = 0.1  # families counted in a candidate's cautious rate
    stop_margin: float = 0.1  # fraction of the leader's loss decrease that may be missing
    stop_horizon: float = 0.25  # how far (x own elapsed time) to extrapolate for stopping
    min_alive: int = 1  # dominating live peers needed to stop a trial
    band_z: float = 2.0  # width of the extrapolation band used for stopping
    stop_noise_z: float = 2.0  # noise floor of the stop margin, in val_loss noise stds
    stop_confirm_reports: int = 1  # consecutive reports a trial must be dominated to stop
    explore: bool = True  # probe an uncovered neighbouring size after the first segment
    switch_via: Literal["inplace", "restart"] = "inplace"  # how the scheduler carries it out
    switch_cost_s: float | None = None  # seconds of a switch until one is measured (None:
    # the path's default, INPLACE_SWITCH_COST_S or RESTART_SWITCH_COST_S)

    @property
    def prior_switch_cost_s(self) -> float:
        """Seconds a switch is assumed to cost before one is measured."""
        if self.switch_cost_s is not None:
            return self.switch_cost_s
        return INPLACE_SWITCH_COST_S if self.switch_via == "inplace" else RESTART_SWITCH_COST_S

    def __post_init__(self) -> None:
        sizes = tuple(sorted({int(b) for b in self.batch_sizes}))
        if not sizes or sizes[0] < 1:
            raise UserInputError(
                f"batch_sizes must list positive integers, but got {self.batch_sizes!r}; "
                "give e.g. [16, 32, 64]."
            )
        object.__setattr__(self, "batch_sizes", sizes)
        if self.action not in ("loader", "accumulation"):
            raise UserInputError(
                f"action must be 'loader' or 'accumulation', but got action={self.action!r}."
            )
        if self.segment_reports < 5 or self.grace_reports < 1:
            raise UserInputError(
                "segment_reports must be at least 5 (a curve fit needs 5 points) and "
                f"grace_reports at least 1, but got {self.segment_reports=}, "
                f"{self.grace_reports=}."
            )
        if self.min_alive < 1 or self.stop_confirm_reports < 1:
            raise UserInputError(
                "min_alive and stop_confirm_reports must be at least 1, but got "
                f"{self.min_alive=}, {self.stop_confirm_reports=}."
            )
        if self.switch_via not in ("inplace", "restart"):
            raise UserInputError(
                "switch_via must be 'inplace' or 'restart', but got "
                f"switch_via={self.switch_via!r}."
            )
        nonnegative = ("switch_margin", "stop_margin", "fresh_depth", "stop_horizon")
        for name in (*nonnegative, "stop_noise_z", "switch_cost_s"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise UserInputError(f"{name} must be non-negative, but got {getattr(self, name)}.")


@dataclass(frozen=True)
class _Segment:
    """A maximal run of reports at one (loader batch, accumulation) pair."""

    reports: tuple[Report, ...]
    anchor_samples: float
    start: int  # index of the first report in the trial's history

    @property
    def effective(self) -> int:
        return self.reports[0].effective_batch_size

    @property
    def loader(self) -> tuple[int, int]:
        return self.reports[0].batch_size, self.reports[0].accumulation_steps


class FitCache(dict):
    """Memo for :func:`decide` (fits, segments, throughputs); oldest entries are evicted past
    ``max_entries``. Share one per experiment; it never changes a decision."""

    def __init__(self, max_entries: int = 20_000, max_history_entries: int = 4_096) -> None:
        super().__init__()
        self.max_entries = max_entries
        #: memo by history object (see ``_by_history``), apart so it never evicts a fit
        self.by_history: dict[tuple[str, int], tuple] = {}
        self.max_history_entries = max_history_entries

    def __setitem__(self, key: object, value: object) -> None:
        super().__setitem__(key, value)
        while len(self) > self.max_entries:
            del self[next(iter(self))]


def decide(
    history: Sequence[Report],
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    cache: FitCache | None = None,
) -> Decision:
    """Apply the rule of the module docstring to the trial's last report.

    ``history``: the trial's reports in order (at least one). ``peers``: the other trials of the
    group (stopped ones too: their curves still inform). ``cache``: an optional
    :class:`FitCache` shared across calls (speed only; a plain dict also works).
    """
    n = len(history)
    last = history[-1]
    keep = Decision("continue", last.batch_size, last.accumulation_steps, "", n)
    if not math.isfinite(last.val_loss):
        return Decision(
            "stop", last.batch_size, last.accumulation_steps,
            f"val_loss={last.val_loss} is not finite: the trial diverged", n, diverged=True,
        )  # fmt: skip
    if n < settings.grace_reports:
        return _with(keep, f"grace: {n} < {settings.grace_reports} reports")
    peers = _as_of(history, peers)
    cache = FitCache() if cache is None else cache
    segments = _segments(history, cache)
    current = segments[-1]
    current_fit = _fit(current, cache, settings)

    stop_reason = _dominated(history, current, current_fit, peers, settings, cache)
    if stop_reason and _dominated_before(history, peers, settings, cache):
        return Decision("stop", last.batch_size, last.accumulation_steps, stop_reason, n)
    if len(current.reports) < settings.segment_reports:
        return _with(keep, f"measuring batch size {current.effective}")
    thr = _throughputs([history, *(p.reports for p in peers.values())], cache)
    tabu = _tabu(segments, n, settings)
    window = 2 * settings.segment_reports
    reverted = (
        len(segments) > 2
        and segments[-3].loader == current.loader
        and len(segments[-2].reports) <= window
    )
    if len(segments) > 1 and not reverted and len(current.reports) <= window:
        verdict, detail = _judge(segments[-2], current, thr, cache, settings)
        back = segments[-2].loader
        if verdict == "bad":
            return Decision("switch", *back, detail + "; switching back", n)
        if verdict == "pending" and len(current.reports) == window:
            reason = (
                f"switch {segments[-2].effective}→{current.effective} not verified after "
                f"{window} reports; switching back"
            )
            return Decision("switch", *back, reason, n)
        if verdict == "pending":
            return _with(keep, f"judging the switch to {current.effective}")
    cost = _restart_cost(history, peers, thr, settings, cache)
    horizon = _horizon(history, current, thr)
    explore = _explore_target(segments, peers, settings, tabu, cache)
    explored = None  # rule 9's decision; explore only when worth two switches (there and back)
    if explore and settings.switch_margin * horizon > 2.0 * cost:
        reason = f"explore: no trial of the group has measured batch size {explore}"
        explored = _switch_or_yield(explore, reason, history, current_fit, peers, settings, cache)
    if current_fit is None:
        return explored or _with(
            keep, f"curve at batch size {current.effective} not fitted; keeping it")

    level = float(current_fit.predict(current.reports[-1].samples_seen - current.anchor_samples))
    speeds = _speeds(level, history, peers, thr, cache, settings, tabu)
    own = current_fit.rate_at(level) * _throughput(thr, current.loader)
    candidates = {b: s for b, s in speeds.items() if b != current.effective and b not in tabu}
    if own > 0.0 and candidates:
        best = max(candidates, key=lambda b: candidates[b][0])
        speed, depth = candidates[best]
        if speed > (1.0 + settings.switch_margin) * own:
            gain = speed / own - 1.0
            upward = best > current.effective
            fresh = depth <= (settings.fresh_depth if upward else 0.0)
            hint = upward and len(current.reports) >= settings.probe_every
            saving = horizon * (1.0 - own / speed)
            restarts = 1.0 if fresh else 2.0  # a probe may be reverted: two restarts
            if (fresh or hint) and saving <= restarts * cost:
                reason = (
                    f"batch size {best} expected {gain:+.0%} loss decrease per second, but saves "
                    f"{saving:.3g}s over the {horizon:.3g}s left, not more than "
                    f"{restarts:g} restart(s) of {cost:.3g}s"
                )
                return _with(keep, reason)
            if fresh or hint:
                kind = "extrapolation" if fresh else "probe (extrapolated hint)"
                reason = (
                    f"{kind}: batch size {best} expected {gain:+.0%} loss decrease per second "
                    f"at val_loss {level:.4g} (depth {depth:.2f}), saving {saving:.3g}s > "
                    f"{restarts:g} restart(s) of {cost:.3g}s"
                )
                return _switch_or_yield(best, reason, history, current_fit, peers, settings, cache)
    if explored:
        return explored
    larger = [b for b in settings.batch_sizes if b > current.effective]
    if (
        larger
        and larger[0] not in speeds
        and larger[0] not in tabu
        and len(current.reports) >= settings.probe_every
        and _slowdown(current_fit, level) >= settings.probe_slowdown
        and settings.switch_margin * horizon > 2.0 * cost
    ):
        reason = (
            f"probe: no usable curve at batch size {larger[0]}; progress per sample slowed "
            f"{_slowdown(current_fit, level):.2f}x"
        )
        return _switch_or_yield(larger[0], reason, history, current_fit, peers, settings, cache)
    return _with(keep, f"batch size {current.effective} is the fastest known at {level:.4g}")


def _explore_target(
    segments: Sequence[_Segment],
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    tabu: set[int],
    cache: FitCache,
) -> int | None:
    """Rule 9's exploration: during the trial's first segment, the nearest candidate size above
    (else below) its own that neither it nor any peer has reported at or starts at."""
    if not settings.explore or len(segments) != 1:
        return None
    current = segments[0].effective
    covered = {current}
    for peer in peers.values():
        if peer.batch_size is not None:
            covered.add(peer.batch_size)
        if peer.reports:
            covered.update(seg.effective for seg in _segments(peer.reports, cache))
    above = [b for b in settings.batch_sizes if b > current]
    below = [b for b in settings.batch_sizes if b < current]
    for b in (above[:1] + below[-1:]):
        if b not in covered and b not in tabu:
            return b
    return None


def _switch_or_yield(
    target: int,
    reason: str,
    history: Sequence[Report],
    current_fit: CurveFit | None,
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    cache: FitCache,
) -> Decision:
    """Switch to ``target``, or stop when a live peer ahead of this trial already runs it."""
    last, n = history[-1], len(history)
    current = _segments(history, cache)[-1]
    leader = _taken_by_leader(target, history, current, current_fit, peers, settings, cache)
    if leader:
        reason = f"redundant: would switch to {target}, where {leader} already trains ahead"
        return Decision("stop", last.batch_size, last.accumulation_steps, reason, n)
    return Decision("switch", *_loader_for(target, history, settings), reason, n)


def _with(decision: Decision, reason: str) -> Decision:
    return Decision(
        decision.action, decision.batch_size, decision.accumulation_steps, reason,
        decision.report_index, decision.diverged,
    )  # fmt: skip


def _as_of(history: Sequence[Report], peers: Mapping[str, Peer]) -> dict[str, Peer]:
    """Peers truncated to the trial's last shared timestamp (when reports carry one)."""
    now = history[-1].wall_time
    if now is None:
        return dict(peers)
    out = {}
    for key, p in peers.items():
        reports = p.reports
        k = len(reports)  # a trial's reports come in clock order: only its last ones can be later
        while k and reports[k - 1].wall_time is not None and reports[k - 1].wall_time > now:
            k -= 1
        out[key] = p if k == len(reports) else Peer(reports[:k], p.alive, p.batch_size)
    return out


def _by_history(tag: str, reports: Sequence[Report], cache: FitCache | None,
                compute: Callable[[], _T]) -> _T:
    """``compute()`` memoised under the history object ``reports`` itself: its identity, length
    and last report (histories only grow or lose their tail). The entry holds the object, so
    its id cannot be reused while the entry lives."""
    memo = getattr(cache, "by_history", None)
    if memo is None or not reports:
        return compute()
    key = (tag, id(reports))
    held = memo.get(key)
    if held is not None and held[0] is reports and held[1] == len(reports) and (
            held[2] is reports[-1]):
        return held[3]
    value = compute()
    if len(memo) >= cache.max_history_entries:
        memo.clear()  # the current histories' entries come back on their next use
    memo[key] = (reports, len(reports), reports[-1], value)
    return value


def _segments(history: Sequence[Report], cache: FitCache | None = None) -> list[_Segment]:
    """Split a history into runs of equal (loader batch, accumulation); memoised by the history
    object and by its length and end reports (a truncated copy finds the original's split)."""
    return _by_history("segments", history, cache, lambda: _split(history, cache))


def _split(history: Sequence[Report], cache: FitCache | None) -> list[_Segment]:
    key = ("seg", len(history), history[0], history[-1]) if history else None
    if cache is not None and key in cache:
        return cache[key]
    segments: list[_Segment] = []
    start = 0
    for i in range(1, len(history) + 1):
        if i == len(history) or (history[i].batch_size, history[i].accumulation_steps) != (
            history[start].batch_size,
            history[start].accumulation_steps,
        ):
            anchor = history[start - 1].samples_seen if start > 0 else 0.0
            segments.append(_Segment(tuple(history[start:i]), anchor, start))
            start = i
    if cache is not None and key is not None:
        cache[key] = segments
    return segments


def _fit(
    segment: _Segment, cache: FitCache, settings: SwitchSettings, last: int = 0
) -> CurveFit | None:
    """The segment's curve fit (``x`` from its anchor; its ``last`` reports only when > 0),
    memoised; ``None`` when refused.

    A whole segment's fit is warm-started from the fit of the segment without its last report
    (recursively down to ``segment_reports`` points, fitted cold): a pure function of the
    reports, so a replay computes the same fits, and each new report costs one warm fit.
    """
    n = len(segment.reports)
    if n < settings.segment_reports:
        return None
    anchor = segment.anchor_samples
    if last:
        window = segment.reports[-last:]  # fitted cold: a key apart from the warm chain's
        key = ("fit-window", len(window), window[0], window[-1], anchor)
        if key not in cache:
            cache[key] = _fit_reports(window, anchor, None)
        return cache[key]

    def prefix_key(k: int) -> tuple:
        return ("fit", k, segment.reports[0], segment.reports[k - 1], anchor)

    fitted = cache.get(prefix_key(n), cache)  # the cache itself marks "not memoised"
    if fitted is not cache:
        return fitted
    first = n  # the shortest prefix not memoised yet, down to the cold one
    while first > settings.segment_reports and prefix_key(first - 1) not in cache:
        first -= 1
    for k in range(first, n + 1):
        if prefix_key(k) not in cache:
            start = cache.get(prefix_key(k - 1)) if k > settings.segment_reports else None
            cache[prefix_key(k)] = _fit_reports(segment.reports[:k], anchor, start)
    return cache[prefix_key(n)]


def _fit_reports(reports: Sequence[Report], anchor: float, start: CurveFit | None
                 ) -> CurveFit | None:
    """``fit_curve`` of ``val_loss`` against samples since ``anchor``; ``None`` when refused."""
    x = np.array([r.samples_seen for r in reports]) - anchor
    y = np.array([r.val_loss for r in reports])
    try:
        return fit_curve(x, y, min_points=5, start=start)
    except CurveFitError:
        return None


def _throughputs(
    histories: Sequence[Sequence[Report]], cache: FitCache | None = None
) -> dict[tuple[int, int], float]:
    """Median samples per second of each (loader batch, accumulation), inside segments only.

    Intervals that straddle a change of batch size (which include the switch cost) are skipped.
    Per-history rates are memoised in ``cache``.
    """
    rates: dict[tuple[int, int], list[float]] = {}
    for reports in histories:
        samples = _by_history("rates", reports, cache, lambda r=reports: _rates(r))
        for loader, values in samples.items():
            rates.setdefault(loader, []).extend(values)
    return {key: float(np.median(v)) for key, v in rates.items()}


def _rates(reports: Sequence[Report]) -> dict[tuple[int, int], list[float]]:
    """Samples per second of each report interval inside a segment, by loader."""
    samples: dict[tuple[int, int], list[float]] = {}
    for prev, cur in itertools.pairwise(reports):
        loader = (cur.batch_size, cur.accumulation_steps)
        if loader != (prev.batch_size, prev.accumulation_steps):
            continue
        if cur.time_s > prev.time_s:
            rate = (cur.samples_seen - prev.samples_seen) / (cur.time_s - prev.time_s)
            samples.setdefault(loader, []).append(rate)
    return samples


def _throughput(thr: Mapping[tuple[int, int], float], loader: tuple[int, int]) -> float:
    """Samples per second of ``(batch, accumulation)``; another accumulation of the same loader
    batch stands in (k minibatches cost k times one), 0.0 when unmeasured."""
    if loader in thr:
        return thr[loader]
    return next((v for (b, _), v in sorted(thr.items()) if b == loader[0]), 0.0)


def _loader_for(
    effective: int, history: Sequence[Report], settings: SwitchSettings
) -> tuple[int, int]:
    """(loader batch, accumulation steps) that realise an effective batch size."""
    if settings.action == "loader":
        return effective, 1
    cap = settings.max_loader_batch_size or history[0].batch_size
    loader = min(effective, cap)
    while effective % loader:
        loader -= 1
    return loader, effective // loader


def _speeds(
    level: float,
    history: Sequence[Report],
    peers: Mapping[str, Peer],
    thr: Mapping[tuple[int, int], float],
    cache: FitCache,
    settings: SwitchSettings,
    tabu: set[int],
) -> dict[int, tuple[float, float]]:
    """Loss decrease per second at ``level`` for each candidate: ``{B: (speed, depth)}``."""
    out: dict[int, tuple[float, float]] = {}
    sources = [history, *(p.reports for p in peers.values())]
    for owner, reports in enumerate(sources):
        fitted = _by_history("segment-fits", reports, cache, lambda r=reports: [
            (seg, _fit(seg, cache, settings)) for seg in _segments(r, cache)])
        for seg, fit in fitted:
            b = seg.effective
            if b not in settings.batch_sizes or b in tabu:
                continue
            if b in out and out[b][2] <= (0.0, owner > 0):
                continue  # no curve of this source can rank better (depth is clamped at 0)
            loader = _loader_for(b, history, settings)
            rate_thr = _throughput(thr, loader) or _throughput(thr, seg.loader)
            if fit is None or not rate_thr:
                continue
            span = fit.x_last - fit.x_first
            depth = (fit.x_at(level) - fit.x_last) / span
            if depth < -1.0 - 0.1 or not depth <= settings.max_depth:
                continue  # above the segment (it never saw this level) or too far below it
            speed = _cautious_rate(fit, level, settings.plausible_weight) * rate_thr
            rank = (max(depth, 0.0), owner > 0)
            if b not in out or rank < out[b][2]:
                out[b] = (speed, max(depth, 0.0), rank)
    return {b: (v[0], v[1]) for b, v in out.items()}


def _judge(
    previous: _Segment,
    current: _Segment,
    thr: Mapping[tuple[int, int], float],
    cache: FitCache,
    settings: SwitchSettings,
) -> tuple[str, str]:
    """Verdict on the last switch: ``("good" | "bad" | "pending", detail)``.

    At each report ``k ≥ segment_reports`` of the new segment (replayed from the history, so the
    first conclusive report decides), the curve left behind is extrapolated over the same
    training time: *good* when the new segment's fitted loss is below that extrapolation by
    ``judge_z`` combined standard deviations, *bad* when it is not below its mean, *pending*
    otherwise (or while a curve cannot be fitted).
    """
    prev_fit = _fit(previous, cache, settings, settings.judge_window)
    thr_prev = _throughput(thr, previous.loader)
    thr_cur = _throughput(thr, current.loader)
    if prev_fit is None or not thr_prev or not thr_cur:
        return "good", "the curve left behind cannot be extrapolated"
    left_at = previous.reports[-1].samples_seen - previous.anchor_samples
    for k in range(settings.segment_reports, len(current.reports) + 1):
        part = _Segment(current.reports[:k], current.anchor_samples, current.start)
        fit = _fit(part, cache, settings)
        if fit is None:
            continue
        trained = part.reports[-1].samples_seen - part.anchor_samples
        level = float(fit.predict(trained))
        stay = prev_fit.extrapolate(left_at + trained / thr_cur * thr_prev)
        margin = settings.judge_z * math.hypot(stay.std, fit.extrapolate(trained).std)
        detail = (
            f"switch {previous.effective}→{current.effective}: val_loss {level:.4g} vs "
            f"{stay.mean:.4g} extrapolated at batch size {previous.effective} (margin {margin:.2g})"
        )
        if level < stay.mean - margin:
            return "good", detail + " judged good"
        if level >= stay.mean:
            return "bad", detail + " judged bad"
    return "pending", ""


def _tabu(segments: Sequence[_Segment], n: int, settings: SwitchSettings) -> set[int]:
    """Sizes this trial reverted from (segment A, short X, A again), with exponential back-off.

    The ``k``-th revert from the same size keeps it tabu for ``tabu_reports·2^(k−1)`` reports
    after the revert.
    """
    tabu: set[int] = set()
    reverts: dict[int, int] = {}
    for a, x, back in zip(segments[:-2], segments[1:-1], segments[2:], strict=False):
        if a.loader != back.loader or len(x.reports) > 2 * settings.segment_reports:
            continue
        reverts[x.effective] = reverts.get(x.effective, 0) + 1
        window = settings.tabu_reports * 2 ** (reverts[x.effective] - 1)
        if n - back.start < window:
            tabu.add(x.effective)
    return tabu


def _switch_excess(
    reports: Sequence[Report], thr: Mapping[tuple[int, int], float], cache: FitCache | None
) -> list[float]:
    """Measured seconds of every switch in ``reports`` (rule 8): the interval that straddles a
    change of loader, less its training time at the new loader's throughput, on the trial's
    clock (``time_s``); plus, on the shared clock (``wall_time``), that interval's overhead
    (wall seconds less trial seconds) beyond the median overhead of the other intervals."""
    key = ("switch-cost", len(reports), reports[0], reports[-1]) if reports else None
    if cache is not None and key in cache:
        return cache[key]
    out: list[float] = []
    pairs = list(itertools.pairwise(reports))
    overheads = [cur.wall_time - prev.wall_time - (cur.time_s - prev.time_s)
                 for prev, cur in pairs
                 if cur.wall_time is not None and prev.wall_time is not None
                 and (cur.batch_size, cur.accumulation_steps)
                 == (prev.batch_size, prev.accumulation_steps)]
    usual = float(np.median(overheads)) if overheads else 0.0
    for prev, cur in pairs:
        loader = (cur.batch_size, cur.accumulation_steps)
        rate = _throughput(thr, loader)
        if loader == (prev.batch_size, prev.accumulation_steps) or not rate:
            continue
        train = (cur.samples_seen - prev.samples_seen) / rate
        excess = max(cur.time_s - prev.time_s - train, 0.0)
        if cur.wall_time is not None and prev.wall_time is not None:
            overhead = cur.wall_time - prev.wall_time - (cur.time_s - prev.time_s)
            excess += max(overhead - usual, 0.0)
        out.append(excess)
    if cache is not None and key:
        cache[key] = out
    return out


def _restart_cost(
    history: Sequence[Report],
    peers: Mapping[str, Peer],
    thr: Mapping[tuple[int, int], float],
    settings: SwitchSettings,
    cache: FitCache,
) -> float:
    """Seconds one switch costs this trial: the median measured over its own switches, else
    over its peers' switches, else ``settings.prior_switch_cost_s``."""
    own = _switch_excess(history, thr, cache)
    if own:
        return float(np.median(own))
    pooled = [c for p in peers.values() if p.reports for c in _switch_excess(p.reports, thr, cache)]
    return float(np.median(pooled)) if pooled else settings.prior_switch_cost_s


def _horizon(
    history: Sequence[Report], current: _Segment, thr: Mapping[tuple[int, int], float]
) -> float:
    """Training seconds left to the trial at its current loader: its remaining
    ``budget_samples`` at the measured throughput; without a budget, its elapsed seconds (as
    long again)."""
    last = history[-1]
    rate = _throughput(thr, current.loader)
    if last.budget_samples is not None and rate:
        return max(last.budget_samples - last.samples_seen, 0.0) / rate
    return last.time_s


def _noise_floor(
    history: Sequence[Report],
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    cache: FitCache,
) -> float:
    """Smallest loss gap that rule 3 may act on: ``stop_noise_z`` × the median residual standard
    deviation of the current-segment fits of the trial and its peers (the noise of ``val_loss``
    between reports); ``inf`` while none of them can be fitted (no stop on an unknown noise)."""
    stds = []
    for reports in (history, *(p.reports for p in peers.values())):
        if reports:
            std = _by_history("noise", reports, cache,
                              lambda r=reports: _current_noise(r, cache, settings))
            if std is not None:
                stds.append(std)
    return settings.stop_noise_z * float(np.median(stds)) if stds else math.inf


def _current_noise(reports: Sequence[Report], cache: FitCache, settings: SwitchSettings
                   ) -> float | None:
    """Residual standard deviation of the fit of the history's current segment, if any."""
    fit = _fit(_segments(reports, cache)[-1], cache, settings)
    return None if fit is None else fit.residual_std


def _slowdown(fit: CurveFit, level: float) -> float:
    """How much the relative progress rate ``−(dL/dS)/(L − c)`` fell over the segment.

    Under the empirical model of large-batch training this is ``(B + B_noise(now)) /
    (B + B_noise(start))``: 1 while the noise scale stays put, larger as it grows, which is when
    a larger batch may start to pay. Weighted mean over the families (each with its own ``c``).
    """
    total = 0.0
    for f in fit.fits:
        c = f.theta[0]
        start = float(f.predict(fit.x_first))
        ratio = 1.0
        if level > c and start > c:
            now = f.rate_at(level) / (level - c)
            then = f.rate_at(start) / (start - c)
            ratio = then / now if now > 0.0 else math.inf
        total += f.weight * ratio
    return total


def _cautious_rate(fit: CurveFit, level: float, plausible: float) -> float:
    """The smallest rate at ``level`` among the plausible families (a candidate's speed)."""
    rates = [f.rate_at(level) for f in fit.fits if f.weight >= plausible]
    return min(rates, default=fit.rate_at(level))


def _interp(reports: Sequence[Report], t: float, cache: FitCache) -> float | None:
    """``val_loss`` linearly interpolated at elapsed time ``t`` (None outside the reports)."""
    key = ("series", len(reports), reports[0], reports[-1])
    if key not in cache:
        cache[key] = (
            np.array([r.time_s for r in reports]),
            np.array([r.val_loss for r in reports]),
        )
    times, losses = cache[key]
    if t < times[0] or t > times[-1]:
        return None
    return float(np.interp(t, times, losses))


def _smoothed(
    reports: Sequence[Report], t: float, settings: SwitchSettings, cache: FitCache
) -> float | None:
    """The peer's ``val_loss`` at elapsed time ``t``: its current segment's fitted curve when
    ``t`` lies inside that segment (a smoothed value: report noise does not stop anyone), else
    the reports linearly interpolated; None outside the reports."""
    raw = _interp(reports, t, cache)
    segment = _segments(reports, cache)[-1]
    if raw is None or t < segment.reports[0].time_s:
        return raw
    fit = _fit(segment, cache, settings)
    if fit is None:
        return raw
    times = [r.time_s for r in segment.reports]
    samples = [r.samples_seen for r in segment.reports]
    return float(fit.predict(float(np.interp(t, times, samples)) - segment.anchor_samples))


def _equal_compute(
    history: Sequence[Report],
    current: _Segment,
    current_fit: CurveFit | None,
    peer: Peer,
    settings: SwitchSettings,
    cache: FitCache,
) -> tuple[float, float, float] | None:
    """``(τ, own loss, peer loss)`` at equal compute ``τ`` (elapsed seconds), or ``None``."""
    t_own = history[-1].time_s
    own_now = history[-1].val_loss
    x_now = current.reports[-1].samples_seen - current.anchor_samples
    if current_fit is not None:  # smoothed
        own_now = float(current_fit.predict(x_now))
    t_peer = peer.reports[-1].time_s
    if t_peer <= t_own:  # interpolate this trial at the peer's compute
        tau = t_peer
        theirs = _smoothed(peer.reports, tau, settings, cache)
        own = _smoothed(history, tau, settings, cache)
        if own is None:  # before this trial's first report: its loss then was at least own_now
            own = own_now
    else:
        rate = _throughput(_throughputs([current.reports], cache), current.loader)
        if current_fit is not None and rate:  # extrapolate this trial to the peer's compute
            tau = min(t_peer, t_own * (1.0 + settings.stop_horizon))
            x = x_now + (tau - t_own) * rate
            own = current_fit.extrapolate(x, settings.band_z).low
        else:
            tau, own = t_own, own_now
        theirs = _smoothed(peer.reports, tau, settings, cache)
    if theirs is None or not math.isfinite(theirs):
        return None
    return tau, own, theirs


def _dominated(
    history: Sequence[Report],
    current: _Segment,
    current_fit: CurveFit | None,
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    cache: FitCache,
) -> str:
    """Reason to stop the trial under rule 3, or ``""``."""
    live = {k: p for k, p in peers.items() if p.alive and p.reports}
    if not live:
        return ""
    floor = _noise_floor(history, peers, settings, cache)
    firsts = [history[0].val_loss] + [p.reports[0].val_loss for p in peers.values() if p.reports]
    l_ref = max((v for v in firsts if math.isfinite(v)), default=history[-1].val_loss)
    dominated_by: list[str] = []
    for key, peer in live.items():
        compared = _equal_compute(history, current, current_fit, peer, settings, cache)
        if compared is None:
            continue
        tau, own, theirs = compared
        same_size = peer.reports[-1].effective_batch_size == current.effective
        if same_size and own - theirs > floor:
            return (
                f"redundant: {key} trains at batch size {current.effective} too and is ahead "
                f"({theirs:.4g} vs {own:.4g} at {tau:.4g}s, noise floor {floor:.2g})"
            )
        if own - theirs > max(settings.stop_margin * (l_ref - theirs), floor):
            dominated_by.append(f"{key} ({theirs:.4g} vs {own:.4g} at {tau:.4g}s)")
    if dominated_by and len(dominated_by) >= settings.min_alive:
        return "clearly worse at equal compute than " + ", ".join(dominated_by[:3])
    return ""


def _dominated_before(
    history: Sequence[Report],
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    cache: FitCache,
) -> bool:
    """Rule 3 also held on each of the ``stop_confirm_reports − 1`` reports before the last
    (peers as of each; a report within the grace period does not confirm)."""
    for back in range(1, settings.stop_confirm_reports):
        before = history[: len(history) - back]
        if len(before) < settings.grace_reports:
            return False
        segment = _segments(before, cache)[-1]
        fit = _fit(segment, cache, settings)
        if not _dominated(before, segment, fit, _as_of(before, peers), settings, cache):
            return False
    return True


def _taken_by_leader(
    target: int,
    history: Sequence[Report],
    current: _Segment,
    current_fit: CurveFit | None,
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    cache: FitCache,
) -> str:
    """A live peer that already trains at ``target`` and is ahead at equal compute by more than
    the noise floor, or ``""``."""
    floor = None
    for key, peer in peers.items():
        if not (peer.alive and peer.reports and peer.reports[-1].effective_batch_size == target):
            continue
        compared = _equal_compute(history, current, current_fit, peer, settings, cache)
        if compared is None:
            continue
        floor = _noise_floor(history, peers, settings, cache) if floor is None else floor
        if compared[1] - compared[2] > floor:
            return key
    return ""
