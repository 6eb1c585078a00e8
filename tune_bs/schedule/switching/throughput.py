"""Seconds per training sample at each loader batch size: a cost model fitted over report
intervals, not read off one interval.

Model: a report interval of ``Δs`` samples at loader batch ``b`` takes ``Δs·(a + c₀/b)``
seconds — ``c₀`` the fixed cost of one minibatch step (kernel launches, Python, the optimiser),
``a`` the cost per sample (compute, plus the report's evaluation spread over its samples, which
does not depend on ``b``). Accumulation (``k`` minibatches of ``b`` per update) costs the same per
sample as its loader batch ``b``.

Fit: every interval inside a segment (an interval that straddles a switch holds the switch's
cost) of the trial and of its peers (same configuration, hence the same hardware) gives
``seconds/Δs`` at its ``b``; per loader the median of its intervals (robust to one slow
interval); with two or more loader batches, non-negative weighted least squares of those medians
on ``[1, 1/b]`` (weights: interval counts) gives ``a, c₀ ≥ 0``. Prediction: a loader measured on
at least :data:`TRUSTED_INTERVALS` intervals uses its own median; any other loader the fitted
model (``None`` when the model could not be fitted and the loader is unmeasured).

Cost: the pooled intervals of a peer group are kept sorted by loader (:class:`IntervalPool`, one
per set of histories in the policy's memo) and updated with the reports each history gained
since the last decision, so a decision costs O(trials) rather than O(trials × reports); the
model is the same as pooling from scratch.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import nnls

from tune_bs.schedule.switching.memo import FitCache, Value, ValueKey
from tune_bs.schedule.switching.types import Report

Loader = tuple[int, int]
_INTERVALS = ValueKey(Value.INTERVALS)
#: Intervals after which a loader's own median is trusted over the pooled model.
TRUSTED_INTERVALS = 3


@dataclass(frozen=True)
class CostModel:
    """Seconds per sample by loader (module rules); ``fitted``: ``(a, c₀)`` or ``None``."""

    medians: Mapping[Loader, float] = field(default_factory=dict)
    counts: Mapping[Loader, int] = field(default_factory=dict)
    fitted: tuple[float, float] | None = None

    def seconds_per_sample(self, loader: Loader) -> float | None:
        """Predicted seconds per training sample at ``loader`` (``None`` when unknown)."""
        if self.counts.get(loader, 0) >= TRUSTED_INTERVALS or (
            loader in self.medians and self.fitted is None
        ):
            return self.medians[loader]
        if self.fitted is not None:
            a, c0 = self.fitted
            value = a + c0 / loader[0]
            return value if value > 0.0 else self.medians.get(loader)
        same_batch = [v for (b, _), v in sorted(self.medians.items()) if b == loader[0]]
        return same_batch[0] if same_batch else None

    def throughput(self, loader: Loader) -> float:
        """Samples per second at ``loader``; 0.0 when unknown."""
        seconds = self.seconds_per_sample(loader)
        return 1.0 / seconds if seconds else 0.0


def interval_costs(reports: Sequence[Report]) -> dict[Loader, list[float]]:
    """Seconds per sample of each report interval inside a segment, by loader."""
    out: dict[Loader, list[float]] = {}
    for prev, cur in itertools.pairwise(reports):
        if cur.loader != prev.loader:
            continue
        samples = cur.samples_seen - prev.samples_seen
        if samples > 0 and cur.time_s > prev.time_s:
            out.setdefault(cur.loader, []).append((cur.time_s - prev.time_s) / samples)
    return out


class IntervalPool:
    """The interval costs (:func:`interval_costs`) of a set of trials' histories, pooled and kept
    sorted by loader. A history is known by its first report (a peer's history is a new tuple
    after each report, the reports are the same objects); :meth:`update` adds the intervals each
    history gained since the last call and starts over when one lost or replaced reports (a
    restore, or a peer seen as of an earlier clock)."""

    def __init__(self) -> None:
        #: id(first report) -> (first report, reports counted, last report counted)
        self._seen: dict[int, tuple[Report, int, Report]] = {}
        self.values: dict[Loader, list[float]] = {}

    def update(self, histories: Sequence[Sequence[Report]]) -> None:
        """Bring the pool to ``histories`` (non-empty, distinct first reports)."""
        if not self._grown_only(histories):
            self._seen, self.values = {}, {}
        for reports in histories:
            counted = self._seen.get(id(reports[0]), (None, 0, None))[1]
            if counted == len(reports):
                continue
            self.add(interval_costs(reports[max(counted - 1, 0) :]))
            self._seen[id(reports[0])] = (reports[0], len(reports), reports[-1])

    def add(self, costs: Mapping[Loader, list[float]]) -> None:
        """Pool ``costs`` (:func:`interval_costs` of some reports)."""
        for loader, values in costs.items():
            pool = self.values.setdefault(loader, [])
            for value in values:
                bisect.insort(pool, value)

    def _grown_only(self, histories: Sequence[Sequence[Report]]) -> bool:
        for reports in histories:
            held = self._seen.get(id(reports[0]))
            if held is None:
                continue
            first, counted, last = held
            if first is not reports[0] or len(reports) < counted:
                return False
            if reports[counted - 1] is not last:
                return False
        return True

    def median(self, loader: Loader) -> float:
        """``statistics.median`` of the loader's pooled values (they are sorted)."""
        values = self.values[loader]
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def cost_model(histories: Sequence[Sequence[Report]], memo: FitCache) -> CostModel:
    """The cost model of the intervals of ``histories`` (the trial's first, then its peers')."""
    pool = memo.pool(ValueKey(Value.INTERVAL_POOL), histories, IntervalPool)
    if pool is None:  # a history listed twice: pooled from scratch, each listing counted
        pool = IntervalPool()
        for reports in histories:
            pool.add(memo.per_history(_INTERVALS, reports, lambda r=reports: interval_costs(r)))
    else:
        pool.update(histories)
    loaders = sorted(pool.values)
    medians = {loader: pool.median(loader) for loader in loaders}
    counts = {loader: len(pool.values[loader]) for loader in loaders}
    return CostModel(medians, counts, _fit(medians, counts))


def _fit(
    medians: Mapping[Loader, float], counts: Mapping[Loader, int]
) -> tuple[float, float] | None:
    """Non-negative weighted least squares of ``median = a + c₀/b`` over loader batches."""
    by_batch: dict[int, list[tuple[float, int]]] = {}
    for (b, _), value in medians.items():
        by_batch.setdefault(b, []).append((value, counts[(b, _)]))
    if len(by_batch) < 2:
        return None
    rows, targets = [], []
    for b, entries in sorted(by_batch.items()):
        weight = float(np.sqrt(sum(n for _, n in entries)))
        value = float(np.average([v for v, _ in entries], weights=[n for _, n in entries]))
        rows.append([weight, weight / b])
        targets.append(weight * value)
    (a, c0), _ = nnls(np.array(rows), np.array(targets))
    return (float(a), float(c0)) if a + c0 > 0.0 else None


def switch_intervals(reports: Sequence[Report]) -> tuple[float, list[tuple[Report, Report]]]:
    """The usual overhead of an interval on the shared clock (median of wall seconds less trial
    seconds over the intervals inside segments; 0 without a wall clock) and the intervals that
    straddle a change of loader."""
    pairs = list(itertools.pairwise(reports))
    overheads = [
        cur.wall_time - prev.wall_time - (cur.time_s - prev.time_s)
        for prev, cur in pairs
        if cur.wall_time is not None and prev.wall_time is not None and cur.loader == prev.loader
    ]
    usual = statistics.median(overheads) if overheads else 0.0
    return usual, [(prev, cur) for prev, cur in pairs if cur.loader != prev.loader]


#: A switch costs only what its interval takes beyond this many noise standard deviations of
#: the trial's other intervals (one slow report interval is not a switch cost).
SWITCH_NOISE_Z = 2.0


def interval_noise(
    reports: Sequence[Report], costs: Mapping[Loader, list[float]]
) -> tuple[float, float]:
    """Standard deviations (robust: 1.4826 × the median absolute deviation) of the trial's
    intervals inside segments, in seconds: of each interval's duration less its samples at its
    loader's median pace (``costs``: :func:`interval_costs` of ``reports``; trial clock), and of
    its overhead on the shared clock. 0.0 with fewer than :data:`TRUSTED_INTERVALS` intervals
    (every second of a straddling interval then counts)."""
    paces = {loader: statistics.median(v) for loader, v in costs.items()}
    residuals, overheads = [], []
    for prev, cur in itertools.pairwise(reports):
        if cur.loader != prev.loader or cur.loader not in paces:
            continue
        seconds, samples = cur.time_s - prev.time_s, cur.samples_seen - prev.samples_seen
        residuals.append(seconds - samples * paces[cur.loader])
        if cur.wall_time is not None and prev.wall_time is not None:
            overheads.append(cur.wall_time - prev.wall_time - seconds)
    return _robust_std(residuals), _robust_std(overheads)


def _robust_std(values: Sequence[float]) -> float:
    if len(values) < TRUSTED_INTERVALS:
        return 0.0
    centre = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - centre) for v in values)


def switch_costs(reports: Sequence[Report], model: CostModel, memo: FitCache) -> list[float]:
    """Measured seconds of every switch in ``reports``: the interval that straddles a change of
    loader, less its training time at the new loader's pace, on the trial's clock
    (``time_s``); plus, on the shared clock (``wall_time``), that interval's overhead (wall
    seconds less trial seconds) beyond the usual overhead of the trial's other intervals (a
    report and a checkpoint, paid by every interval, switch or not). Each part counts only
    beyond :data:`SWITCH_NOISE_Z` standard deviations of the trial's other intervals
    (:func:`interval_noise`)."""
    usual, switches = memo.per_history(
        ValueKey(Value.SWITCHES), reports, lambda: switch_intervals(reports)
    )
    if not switches:
        return []
    costs = memo.per_history(_INTERVALS, reports, lambda: interval_costs(reports))
    noise, wall_noise = memo.per_history(
        ValueKey(Value.SWITCH_NOISE), reports, lambda: interval_noise(reports, costs)
    )
    out: list[float] = []
    for prev, cur in switches:
        pace = model.seconds_per_sample(cur.loader)
        if not pace:
            continue
        seconds = cur.time_s - prev.time_s - (cur.samples_seen - prev.samples_seen) * pace
        excess = max(seconds - SWITCH_NOISE_Z * noise, 0.0)
        if cur.wall_time is not None and prev.wall_time is not None:
            overhead = cur.wall_time - prev.wall_time - (cur.time_s - prev.time_s)
            excess += max(overhead - usual - SWITCH_NOISE_Z * wall_noise, 0.0)
        out.append(excess)
    return out
