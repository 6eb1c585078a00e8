"""The policy's memo: everything :func:`~tune_bs.schedule.switching.decide` computes more than once.

One :class:`FitCache` per experiment (the scheduler holds it) serves every trial and call. It
never changes a decision: each value is a pure function of the reports it is keyed on.
Histories only grow (or lose their tail on a restore), so values are keyed on a history's
length and its first and last reports, and derived values of the *current* history object are
also kept by the object itself (its identity, length and last report), which makes the common
case — the same trial one report later — a dictionary lookup.

Kinds, each in its own table and with its own typed key: segments of a history; curve fits of a
segment prefix (:class:`FitKey`; the warm chain: each fit starts from the fit without its last
report); cold fits of a segment's last ``k`` reports (:class:`WindowKey`: the curve a switch left
behind); values derived from a history (:class:`Value` names each kind: interval rates, noise,
switch costs, the list of segment fits); pools kept for a set of histories (the interval costs of
a peer group), which their owner updates as the histories grow; values keyed on a name of their
inputs (the noise-scale estimate of two segments). Every key holds every setting its value
depends on: a fit's :class:`FitSettings` (the report count its warm chain starts cold at), and
a derived value's too when it rests on fits — so one memo may serve policies with different
settings and never hand one a value computed under another's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from enum import Enum
from typing import Any, NamedTuple, TypeVar

import numpy as np

from tune_bs.schedule.curves import CurveFit, CurveFitError, fit_curve
from tune_bs.schedule.switching.types import Report, Segment

_T = TypeVar("_T")


class FitSettings(NamedTuple):
    """The settings a segment's curve depends on: ``min_reports``, the reports below which no
    curve is fitted (the warm chain's cold start), and ``floor``, the lowest value it may reach
    (``None``: unbounded)."""

    min_reports: int
    floor: float | None = None


class FitKey(NamedTuple):
    """A segment prefix's curve: its first ``length`` reports (named by the first and the last),
    its anchor (samples before the segment) and the settings of the fit."""

    length: int
    first: Report
    last: Report
    anchor: float
    settings: FitSettings


class WindowKey(NamedTuple):
    """A cold fit of a segment's last ``length`` reports (named by their first and last) from
    its anchor, under the fit settings (their floor)."""

    length: int
    first: Report
    last: Report
    anchor: float
    settings: FitSettings


class Value(Enum):
    """The kinds of value derived from one history (or named inputs) that the memo keeps."""

    SEGMENTS = "segments"
    SERIES = "series"  # times and losses as arrays
    SAMPLES = "samples"  # samples seen, as a list
    INTERVALS = "intervals"  # seconds per sample of each interval, by loader
    SWITCHES = "switches"  # the usual interval overhead and the intervals that straddle a switch
    SWITCH_NOISE = "switch-noise"
    NOISE = "noise"  # the current segment's residual std (rests on fits)
    EXPECTED_FINAL = "expected-final"  # rests on fits
    SEGMENT_FITS = "segment-fits"  # rests on fits
    FITTED_SEGMENTS = "fitted-segments"  # rests on fits
    NOISE_PAIR = "noise-pair"  # η of two fitted segments (named by their fit keys)
    INTERVAL_POOL = "interval-pool"


class ValueKey(NamedTuple):
    """A derived value: its kind and the fit settings it rests on (``None``: no fit)."""

    kind: Value
    fits: FitSettings | None = None


class _Bounded(dict):
    """A dict that forgets its oldest entries past ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            del self[next(iter(self))]


class FitCache:
    """Memoised segments, curve fits and per-history values (module docstring)."""

    def __init__(self, max_entries: int = 20_000, max_history_entries: int = 4_096) -> None:
        self._segments: _Bounded = _Bounded(max_entries)
        self._fits: _Bounded = _Bounded(max_entries)
        self._window_fits: _Bounded = _Bounded(max_entries)
        self._derived: _Bounded = _Bounded(max_entries)
        self._by_object: dict[tuple[ValueKey, int], tuple] = {}
        self.max_history_entries = max_history_entries
        self._pools: _Bounded = _Bounded(64)
        self._keyed: _Bounded = _Bounded(max_entries)

    # --- segments ------------------------------------------------------------------------
    def segments(self, history: Sequence[Report]) -> list[Segment]:
        """Runs of equal (loader batch, accumulation) in ``history``, in order."""
        return self.per_history(ValueKey(Value.SEGMENTS), history, lambda: self._split(history))

    def _split(self, history: Sequence[Report]) -> list[Segment]:
        key = (len(history), history[0], history[-1]) if history else None
        if key in self._segments:
            return self._segments[key]
        segments: list[Segment] = []
        start = 0
        for i in range(1, len(history) + 1):
            if i == len(history) or history[i].loader != history[start].loader:
                anchor = history[start - 1].samples_seen if start > 0 else 0.0
                segments.append(Segment(tuple(history[start:i]), anchor, start))
                start = i
        if key is not None:
            self._segments[key] = segments
        return segments

    # --- curve fits ----------------------------------------------------------------------
    def fit(self, segment: Segment, settings: FitSettings) -> CurveFit | None:
        """The segment's curve (``x`` from its anchor), ``None`` when refused or shorter than
        ``settings.min_reports``; warm-started from the fit without its last report
        (recursively down to ``min_reports`` points, fitted cold): a pure function of the
        reports and the settings."""
        n = len(segment.reports)
        min_reports = settings.min_reports
        if n < min_reports:
            return None
        key = fit_key(segment, n, settings)
        if key in self._fits:
            return self._fits[key]
        first = n  # the shortest prefix not memoised yet, down to the cold one
        while first > min_reports and fit_key(segment, first - 1, settings) not in self._fits:
            first -= 1
        for k in range(first, n + 1):
            start = self._fits.get(fit_key(segment, k - 1, settings)) if k > min_reports else None
            self._fits[fit_key(segment, k, settings)] = fit_reports(
                segment.reports[:k], segment.anchor_samples, start, settings.floor
            )
        return self._fits[key]

    def window_fit(self, segment: Segment, last: int, settings: FitSettings) -> CurveFit | None:
        """A cold fit of the segment's last ``last`` reports (``None`` when refused)."""
        window = segment.reports[-last:]
        key = WindowKey(len(window), window[0], window[-1], segment.anchor_samples, settings)
        if key not in self._window_fits:
            self._window_fits[key] = fit_reports(
                window, segment.anchor_samples, None, settings.floor
            )
        return self._window_fits[key]

    # --- derived values ------------------------------------------------------------------
    def derived(self, key: ValueKey, reports: Sequence[Report], compute: Callable[[], _T]) -> _T:
        """``compute()`` memoised under ``key`` and the reports' length and end reports."""
        if not reports:
            return compute()
        full = (key, len(reports), reports[0], reports[-1])
        if full not in self._derived:
            self._derived[full] = compute()
        return self._derived[full]

    def keyed(self, key: ValueKey, inputs: Hashable, compute: Callable[[], _T]) -> _T:
        """``compute()`` memoised under ``key`` and a hashable name of its ``inputs`` (e.g. the
        fit keys of two segments: the noise scale's pairs)."""
        full = (key, inputs)
        if full not in self._keyed:
            self._keyed[full] = compute()
        return self._keyed[full]

    def per_history(
        self, key: ValueKey, reports: Sequence[Report], compute: Callable[[], _T]
    ) -> _T:
        """``compute()`` memoised under ``key`` and the history object itself (its identity,
        length and last report); the entry holds the object, so its id cannot be reused while
        it lives."""
        if not reports:
            return compute()
        full = (key, id(reports))
        held = self._by_object.get(full)
        if (
            held is not None
            and held[0] is reports
            and held[1] == len(reports)
            and (held[2] is reports[-1])
        ):
            return held[3]
        value = compute()
        if len(self._by_object) >= self.max_history_entries:
            self._by_object.clear()  # the current histories' entries come back on next use
        self._by_object[full] = (reports, len(reports), reports[-1], value)
        return value

    def pool(
        self, key: ValueKey, histories: Sequence[Sequence[Report]], make: Callable[[], _T]
    ) -> _T | None:
        """The object ``make()`` kept under ``key`` and the set of histories (each known by its
        first report, which the entry's owner keeps); its owner brings it up to date. ``None``
        when a history is empty or two share their first report (nothing is kept)."""
        firsts = frozenset(id(reports[0]) for reports in histories if reports)
        if len(firsts) != len(histories):
            return None
        full = (key, firsts)
        if full not in self._pools:
            self._pools[full] = make()
        return self._pools[full]


def fit_key(segment: Segment, k: int, settings: FitSettings) -> FitKey:
    """The key of the curve of the segment's first ``k`` reports under ``settings``."""
    return FitKey(k, segment.reports[0], segment.reports[k - 1], segment.anchor_samples, settings)


def segment_key(segment: Segment, settings: FitSettings) -> FitKey:
    """What names a segment's curve in the memo: the key of its fit."""
    return fit_key(segment, len(segment.reports), settings)


def fit_reports(
    reports: Sequence[Report], anchor: float, start: CurveFit | None, floor: float | None = None
) -> CurveFit | None:
    """``fit_curve`` of ``val_loss`` against samples since ``anchor``, at or above ``floor``
    (``None``: unbounded); ``None`` when refused."""
    x = np.array([r.samples_seen for r in reports]) - anchor
    y = np.array([r.val_loss for r in reports])
    try:
        return fit_curve(x, y, min_points=5, start=start, floor=floor)
    except CurveFitError:
        return None
