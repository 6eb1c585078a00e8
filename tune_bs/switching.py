"""The batch-size switching policy of the extrapolation scheduler, as a pure function (no Ray).

:func:`decide` maps a trial's history, its peers' histories and :class:`SwitchSettings` to a
:class:`Decision` (``continue`` / ``switch`` / ``stop``). It keeps no state: a restarted scheduler
that replays the same history recomputes the same decision, and the decision carries the
``report_index`` it belongs to, so the wrapper can refuse to apply one twice (DESIGN §7).

Units: ``samples_seen`` in training samples, ``time_s`` in the trial's own elapsed seconds,
``val_loss`` in loss units (lower is better; it is comparable across batch sizes, the training
loss is not — DESIGN §4). Batch sizes are *effective*: loader batch × accumulation steps.

The rule, applied to the trial's ``n``-th report (``report_index = n``):

1. **Diverged.** The last ``val_loss`` is NaN or ±inf → ``stop`` with ``diverged=True``.
2. **Grace.** ``n < grace_reports`` → ``continue``.
3. **Stop a clearly worse trial** (equal compute; needs ``n ≥ grace_reports``). For each live peer
   ``j`` past its own grace, compare at ``τ = t_j`` (``t`` = elapsed trial seconds) when
   ``t_j ≤ t_i``, with both losses linearly interpolated in time; when the peer has run longer,
   ``τ = t_j`` and this trial's value is its extrapolated curve's lower band at ``τ`` (the
   current segment advanced at its measured throughput), no further than ``stop_horizon`` × its
   elapsed time ahead. The trial is *dominated* by ``j`` when its value exceeds ``j``'s by more
   than ``stop_margin`` × (``L_ref`` − ``j``'s value), ``L_ref`` = the highest first-reported loss
   in the population: i.e. it has achieved less than ``1 − stop_margin`` of ``j``'s loss decrease
   for the same compute. It is stopped when at least ``min_alive`` live peers dominate it (so the
   ``min_alive`` best trials never stop). Rationale: any trial may switch to any batch size, so a
   trial behind at equal compute stays behind; its extrapolated final value is worse.
4. **Measure the segment.** The current *segment* (reports since the last change of batch size)
   must hold ``segment_reports`` reports and its curve must fit (:func:`tune_bs.curves.fit_curve`,
   ``x`` = samples since the segment's anchor report); otherwise ``continue`` (too few points,
   refusal, noise: the batch size is kept, nothing is guessed).
5. **Judge the last switch.** On the first decision of a new segment, the curve left behind is
   extrapolated for the same training time (``samples / throughput``, the one-off switch cost is
   sunk and excluded): if the loss reached is not below that extrapolation, the switch was bad →
   ``switch`` back, and the size is *tabu* for this trial for ``tabu_reports`` reports (the verdict
   feeds later decisions). A good verdict keeps the size.
6. **Speeds at the current level.** The trial's level ``L`` is its segment fit at the last report.
   For every candidate ``B``, the loss decrease per second at level ``L`` is the fitted law's rate
   at ``L`` (loss per sample, :meth:`CurveFit.rate_at`) × the measured throughput (samples per
   second of that loader size). Sources: the trial's own segments and every peer segment at ``B``
   (curves at the same batch size share one autonomous law ``dL/dS = −g_B(L)``, so a peer's curve
   informs this trial at any level it covers). An estimate's *depth* is how far below the segment's
   observed range ``L`` lies, in units of that range (≤ 0: inside the range); the shallowest
   estimate counts, own segments first. Estimates deeper than ``max_depth`` are ignored.
7. **Switch.** Let ``B*`` be the fastest candidate (tabu sizes excluded). If its speed exceeds the
   current one by more than ``switch_margin`` (relative): ``switch`` to it when its estimate is
   *fresh* (depth ≤ ``fresh_depth``); otherwise the estimate is only a hint (extrapolating a curve
   far below its range ignores the growth of the noise scale) and the trial *probes* ``B*`` once
   it has spent ``probe_every`` reports at its size. A probe is a switch like any other and is
   judged by rule 5.
8. **Explore upwards.** With no estimate at all for the next larger candidate (nobody ran it),
   the trial probes it after ``probe_every`` reports at its size (the best size only grows as the
   loss falls and the gradient-noise scale rises, so unexplored sizes are tried upwards).
9. Otherwise ``continue``.

Second action (``action="accumulation"``): instead of a larger loader batch the policy raises the
number of accumulated minibatches: effective size ``B`` runs as loader batch
``b = min(B, max_loader_batch_size)`` (default: the trial's first loader batch) with
``accumulation_steps = B // b``. Decisions carry both numbers.

Cost: one curve fit (~1 ms) per new segment point; peers' fits are memoised in ``cache``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tune_bs.curves import CurveFit, CurveFitError, fit_curve
from tune_bs.errors import UserInputError

Action = Literal["continue", "switch", "stop"]


@dataclass(frozen=True)
class Report:
    """One reported result of a trial.

    ``time_s``: the trial's own elapsed training seconds (Ray's ``time_total_s``).
    ``wall_time``: optional clock shared by all trials (Ray's ``timestamp``); when the trial's
    reports carry it, peers' reports after the trial's last one are ignored, so a replay after a
    restart sees the population as it was.
    """

    samples_seen: float
    val_loss: float
    batch_size: int
    time_s: float
    accumulation_steps: int = 1
    wall_time: float | None = None

    @property
    def effective_batch_size(self) -> int:
        """Samples per optimizer update: ``batch_size × accumulation_steps``."""
        return self.batch_size * self.accumulation_steps


@dataclass(frozen=True)
class Peer:
    """Another trial of the population: its reports and whether it is still running."""

    reports: Sequence[Report]
    alive: bool = True


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
    """Settings of :func:`decide` (the rule in the module docstring names every field)."""

    batch_sizes: tuple[int, ...]
    action: Literal["loader", "accumulation"] = "loader"
    max_loader_batch_size: int | None = None
    grace_reports: int = 2
    segment_reports: int = 5
    switch_margin: float = 0.05
    fresh_depth: float = 0.5
    max_depth: float = 4.0
    probe_every: int = 10
    tabu_reports: int = 10
    probe_slowdown: float = 1.2
    stop_margin: float = 0.1
    stop_horizon: float = 0.25
    min_alive: int = 1
    band_z: float = 2.0

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
        if self.min_alive < 1:
            raise UserInputError(f"min_alive must be at least 1, but got {self.min_alive=}.")
        for name in ("switch_margin", "stop_margin", "fresh_depth", "stop_horizon"):
            if getattr(self, name) < 0:
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


FitCache = dict
"""Memo of segment fits, keyed by the segment's data; pass the same dict to every call."""


def decide(
    history: Sequence[Report],
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
    cache: FitCache | None = None,
) -> Decision:
    """Apply the rule of the module docstring to the trial's last report.

    ``history``: the trial's reports in order (at least one). ``peers``: the other trials of the
    population (stopped ones too: their curves still inform). ``cache``: optional memo of fits
    (a plain dict); it never changes a result.
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
    cache = {} if cache is None else cache
    segments = _segments(history)
    current = segments[-1]
    current_fit = _fit(current, cache, settings)

    stop_reason = _dominated(history, current, current_fit, peers, settings)
    if stop_reason:
        return Decision("stop", last.batch_size, last.accumulation_steps, stop_reason, n)
    if len(current.reports) < settings.segment_reports:
        return _with(keep, f"measuring batch size {current.effective}")
    if current_fit is None:
        return _with(keep, f"curve at batch size {current.effective} not fitted; keeping it")

    level = float(current_fit.predict(current.reports[-1].samples_seen - current.anchor_samples))
    thr = _throughputs([history, *(p.reports for p in peers.values())])
    tabu = _tabu(segments, n, settings)

    if len(segments) > 1 and len(current.reports) == settings.segment_reports:
        verdict = _judge(segments[-2], current, current_fit, level, thr, cache, settings)
        if verdict is not None:
            return Decision("switch", *verdict[0], verdict[1], n)

    speeds = _speeds(level, history, peers, thr, cache, settings, tabu)
    own = current_fit.rate_at(level) * thr.get(current.loader, 0.0)
    candidates = {b: s for b, s in speeds.items() if b != current.effective and b not in tabu}
    if own > 0.0 and candidates:
        best = max(candidates, key=lambda b: candidates[b][0])
        speed, depth = candidates[best]
        if speed > (1.0 + settings.switch_margin) * own:
            gain = speed / own - 1.0
            fresh = depth <= settings.fresh_depth
            if fresh or len(current.reports) >= settings.probe_every:
                kind = "extrapolation" if fresh else "probe (extrapolated hint)"
                reason = (
                    f"{kind}: batch size {best} expected {gain:+.0%} loss decrease per second "
                    f"at val_loss {level:.4g} (depth {depth:.2f})"
                )
                return _switch_or_yield(best, reason, history, current, current_fit, peers, settings)
    larger = [b for b in settings.batch_sizes if b > current.effective]
    if (
        larger
        and larger[0] not in speeds
        and larger[0] not in tabu
        and len(current.reports) >= settings.probe_every
        and _slowdown(current_fit, level) >= settings.probe_slowdown
    ):
        reason = (
            f"probe: no usable curve at batch size {larger[0]}; progress per sample slowed "
            f"{_slowdown(current_fit, level):.2f}x"
        )
        return _switch_or_yield(larger[0], reason, history, current, current_fit, peers, settings)
    return _with(keep, f"batch size {current.effective} is the fastest known at {level:.4g}")


def _switch_or_yield(
    target: int,
    reason: str,
    history: Sequence[Report],
    current: _Segment,
    current_fit: CurveFit | None,
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
) -> Decision:
    """Switch to ``target``, or stop when a live peer ahead of this trial already runs it."""
    last, n = history[-1], len(history)
    leader = _taken_by_leader(target, history, current, current_fit, peers, settings)
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
    return {
        key: Peer([r for r in p.reports if r.wall_time is None or r.wall_time <= now], p.alive)
        for key, p in peers.items()
    }


def _segments(history: Sequence[Report]) -> list[_Segment]:
    """Split a history into runs of equal (loader batch, accumulation)."""
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
    return segments


def _fit(segment: _Segment, cache: FitCache, settings: SwitchSettings) -> CurveFit | None:
    """The segment's curve fit (``x`` from its anchor), memoised; ``None`` when refused."""
    if len(segment.reports) < settings.segment_reports:
        return None
    x = np.array([r.samples_seen for r in segment.reports]) - segment.anchor_samples
    y = np.array([r.val_loss for r in segment.reports])
    key = (x.tobytes(), y.tobytes())
    if key not in cache:
        try:
            cache[key] = fit_curve(x, y, min_points=5)
        except CurveFitError:
            cache[key] = None
    return cache[key]


def _throughputs(histories: Sequence[Sequence[Report]]) -> dict[tuple[int, int], float]:
    """Median samples per second of each (loader batch, accumulation), inside segments only.

    Intervals that straddle a change of batch size (which include the switch cost) are skipped.
    """
    rates: dict[tuple[int, int], list[float]] = {}
    for reports in histories:
        for prev, cur in itertools.pairwise(reports):
            key = (cur.batch_size, cur.accumulation_steps)
            if key != (prev.batch_size, prev.accumulation_steps) or cur.time_s <= prev.time_s:
                continue
            rates.setdefault(key, []).append(
                (cur.samples_seen - prev.samples_seen) / (cur.time_s - prev.time_s)
            )
    out = {key: float(np.median(v)) for key, v in rates.items()}
    for key in list(out):  # accumulation costs the loader's per-sample time
        for k in (1, 2, 4, 8, 16, 32, 64):
            out.setdefault((key[0], k), out[key])
    return out


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
        for seg in _segments(reports):
            b = seg.effective
            if b not in settings.batch_sizes or b in tabu:
                continue
            fit = _fit(seg, cache, settings)
            loader = _loader_for(b, history, settings)
            rate_thr = thr.get(loader) or thr.get(seg.loader)
            if fit is None or not rate_thr:
                continue
            span = fit.x_last - fit.x_first
            depth = (fit.x_at(level) - fit.x_last) / span
            if depth < -1.0 - 0.1 or not depth <= settings.max_depth:
                continue  # above the segment (it never saw this level) or too far below it
            speed = fit.rate_at(level) * rate_thr
            rank = (max(depth, 0.0), owner > 0)
            if b not in out or rank < out[b][2]:
                out[b] = (speed, max(depth, 0.0), rank)
    return {b: (v[0], v[1]) for b, v in out.items()}


def _judge(
    previous: _Segment,
    current: _Segment,
    current_fit: CurveFit,
    level: float,
    thr: Mapping[tuple[int, int], float],
    cache: FitCache,
    settings: SwitchSettings,
) -> tuple[tuple[int, int], str] | None:
    """Revert a switch whose result is not below the extrapolation of the curve it left."""
    prev_fit = _fit(previous, cache, settings)
    thr_prev = thr.get(previous.loader)
    thr_cur = thr.get(current.loader)
    if prev_fit is None or not thr_prev or not thr_cur:
        return None
    trained = current.reports[-1].samples_seen - current.anchor_samples
    left_at = previous.reports[-1].samples_seen - previous.anchor_samples
    stay = float(prev_fit.predict(left_at + trained / thr_cur * thr_prev))
    if level < stay:
        return None
    reason = (
        f"switch {previous.effective}→{current.effective} judged bad: val_loss {level:.4g} is not "
        f"below {stay:.4g} extrapolated at batch size {previous.effective}; switching back"
    )
    return previous.loader, reason


def _tabu(segments: Sequence[_Segment], n: int, settings: SwitchSettings) -> set[int]:
    """Sizes this trial reverted from (segment A, short X, A again), with exponential back-off.

    The ``k``-th revert from the same size keeps it tabu for ``tabu_reports·2^(k−1)`` reports
    after the revert.
    """
    tabu: set[int] = set()
    reverts: dict[int, int] = {}
    for a, x, back in zip(segments[:-2], segments[1:-1], segments[2:], strict=False):
        if a.loader != back.loader or len(x.reports) > settings.segment_reports:
            continue
        reverts[x.effective] = reverts.get(x.effective, 0) + 1
        window = settings.tabu_reports * 2 ** (reverts[x.effective] - 1)
        if n - back.start < window:
            tabu.add(x.effective)
    return tabu


def _slowdown(fit: CurveFit, level: float) -> float:
    """How much the relative progress rate ``−(dL/dS)/(L − c)`` fell over the segment.

    Under the empirical model of large-batch training this is ``(B + B_noise(now)) /
    (B + B_noise(start))``: 1 while the noise scale stays put, larger as it grows, which is when
    a larger batch may start to pay.
    """
    c = fit.asymptote
    start = float(fit.predict(fit.x_first))
    if level <= c or start <= c:
        return 1.0
    now = fit.rate_at(level) / (level - c)
    then = fit.rate_at(start) / (start - c)
    return then / now if now > 0.0 else math.inf


def _interp(reports: Sequence[Report], t: float) -> float | None:
    """``val_loss`` linearly interpolated at elapsed time ``t`` (None outside the reports)."""
    times = [r.time_s for r in reports]
    if not reports or t < times[0] or t > times[-1]:
        return None
    return float(np.interp(t, times, [r.val_loss for r in reports]))


def _equal_compute(
    history: Sequence[Report],
    current: _Segment,
    current_fit: CurveFit | None,
    peer: Peer,
    settings: SwitchSettings,
) -> tuple[float, float, float] | None:
    """``(τ, own loss, peer loss)`` at equal compute ``τ`` (elapsed seconds), or ``None``."""
    t_own = history[-1].time_s
    own_now = history[-1].val_loss
    x_now = current.reports[-1].samples_seen - current.anchor_samples
    if current_fit is not None:  # smoothed
        own_now = float(current_fit.predict(x_now))
    t_peer = peer.reports[-1].time_s
    if t_peer <= t_own:  # interpolate this trial at the peer's compute
        tau, theirs = t_peer, peer.reports[-1].val_loss
        own = _interp(history, tau)
        if own is None:  # before this trial's first report: its loss then was at least own_now
            own = own_now
    else:
        rate = _throughputs([current.reports]).get(current.loader)
        if current_fit is not None and rate:  # extrapolate this trial to the peer's compute
            tau = min(t_peer, t_own * (1.0 + settings.stop_horizon))
            x = x_now + (tau - t_own) * rate
            own = current_fit.extrapolate(x, settings.band_z).low
        else:
            tau, own = t_own, own_now
        theirs = _interp(peer.reports, tau)
    if theirs is None or not math.isfinite(theirs):
        return None
    return tau, own, theirs


def _dominated(
    history: Sequence[Report],
    current: _Segment,
    current_fit: CurveFit | None,
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
) -> str:
    """Reason to stop the trial under rule 3, or ``""``."""
    live = {k: p for k, p in peers.items() if p.alive and p.reports}
    firsts = [history[0].val_loss] + [p.reports[0].val_loss for p in peers.values() if p.reports]
    l_ref = max(v for v in firsts if math.isfinite(v))
    dominated_by: list[str] = []
    for key, peer in live.items():
        compared = _equal_compute(history, current, current_fit, peer, settings)
        if compared is None:
            continue
        tau, own, theirs = compared
        same_size = peer.reports[-1].effective_batch_size == current.effective
        if same_size and own > theirs:
            return (
                f"redundant: {key} trains at batch size {current.effective} too and is ahead "
                f"({theirs:.4g} vs {own:.4g} at {tau:.4g}s)"
            )
        if own - theirs > settings.stop_margin * (l_ref - theirs):
            dominated_by.append(f"{key} ({theirs:.4g} vs {own:.4g} at {tau:.4g}s)")
    if dominated_by and len(dominated_by) >= settings.min_alive:
        return "clearly worse at equal compute than " + ", ".join(dominated_by[:3])
    return ""


def _taken_by_leader(
    target: int,
    history: Sequence[Report],
    current: _Segment,
    current_fit: CurveFit | None,
    peers: Mapping[str, Peer],
    settings: SwitchSettings,
) -> str:
    """A live peer that already trains at ``target`` and is ahead at equal compute, or ``""``."""
    for key, peer in peers.items():
        if not (peer.alive and peer.reports and peer.reports[-1].effective_batch_size == target):
            continue
        compared = _equal_compute(history, current, current_fit, peer, settings)
        if compared is not None and compared[1] > compared[2]:
            return key
    return ""
