"""One decision's view of the world: the trial's history, its peers as of its last report, the
settings and the memo, and the quantities every rule asks for, each computed once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np

from tune_bs.schedule.curves import CurveFit, Extrapolation
from tune_bs.schedule.switching.memo import FitCache, FitSettings, Value, ValueKey
from tune_bs.schedule.switching.throughput import CostModel, cost_model, switch_costs
from tune_bs.schedule.switching.types import (
    Action,
    Decision,
    Peer,
    Report,
    Rule,
    Segment,
    SwitchSettings,
)


def as_of(history: Sequence[Report], peers: Mapping[str, Peer]) -> dict[str, Peer]:
    """Peers truncated to the trial's last shared clock reading (when reports carry one)."""
    now = history[-1].wall_time
    if now is None:
        return dict(peers)
    out = {}
    for key, p in peers.items():
        reports = p.reports
        k = len(reports)  # a trial's reports come in clock order: only its last ones can be later
        while k and reports[k - 1].wall_time is not None and reports[k - 1].wall_time > now:
            k -= 1
        out[key] = p if k == len(reports) else Peer(reports[:k], p.alive, p.batch_size, p.pools)
    return out


class DecisionView:
    """What the rules read for the decision on ``history[-1]`` (lazily, once each)."""

    def __init__(
        self,
        history: Sequence[Report],
        peers: Mapping[str, Peer],
        settings: SwitchSettings,
        memo: FitCache,
    ) -> None:
        self.history = history
        self.peers = as_of(history, peers)
        self.settings = settings
        self.memo = memo

    # --- the trial ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """The report index the decision belongs to."""
        return len(self.history)

    @property
    def last(self) -> Report:
        return self.history[-1]

    @cached_property
    def segments(self) -> list[Segment]:
        return self.memo.segments(self.history)

    @property
    def current(self) -> Segment:
        return self.segments[-1]

    @cached_property
    def fit_settings(self) -> FitSettings:
        """What every curve of this decision depends on (part of each memo key)."""
        return FitSettings(self.settings.segment_reports, self.settings.curve_floor)

    def fits_key(self, kind: Value) -> ValueKey:
        """The memo key of a value of ``kind`` that rests on this decision's curves."""
        return ValueKey(kind, self.fit_settings)

    def fit(self, segment: Segment) -> CurveFit | None:
        """A segment's curve (``None`` before ``segment_reports`` reports or when refused)."""
        return self.memo.fit(segment, self.fit_settings)

    @cached_property
    def current_fit(self) -> CurveFit | None:
        return self.fit(self.current)

    @cached_property
    def flat(self) -> tuple[float, float] | None:
        """``(mean, std)`` of the current segment's last ``segment_reports`` losses when its
        curve is refused after that many reports (it did not decrease beyond its noise, so it is
        expected to stay level): budget objective with ``flat_when_unfitted`` only; else
        ``None``."""
        s, reports = self.settings, self.current.reports
        if self.current_fit is not None or not s.flat_when_unfitted:
            return None
        if len(reports) < s.segment_reports or not self.budget_objective:
            return None
        values = np.array([r.val_loss for r in reports[-s.segment_reports :]], dtype=float)
        if not np.isfinite(values).all():
            return None
        return float(values.mean()), float(values.std(ddof=1))

    @cached_property
    def level(self) -> float:
        """The current segment's fitted loss at the last report; unfitted, the mean of
        :attr:`flat`, else the last loss."""
        if self.current_fit is None:
            return self.last.val_loss if self.flat is None else self.flat[0]
        x = self.current.reports[-1].samples_seen - self.current.anchor_samples
        return float(self.current_fit.predict(x))

    # --- time --------------------------------------------------------------------------------
    @cached_property
    def pool(self) -> dict[str, Peer]:
        """The peers that pool curves with this trial (as of now)."""
        return {k: p for k, p in self.peers.items() if p.pools}

    @cached_property
    def histories(self) -> list[Sequence[Report]]:
        """The trial's history, then its pooling peers' (as of now)."""
        return [self.history, *(p.reports for p in self.pool.values() if p.reports)]

    @cached_property
    def rival_histories(self) -> list[Sequence[Report]]:
        """The trial's history, then every rival's (as of now)."""
        return [self.history, *(p.reports for p in self.peers.values() if p.reports)]

    def segment_fits(self, reports: Sequence[Report]) -> list[tuple[Segment, CurveFit | None]]:
        """Every segment of ``reports`` (this trial's or a peer's) with its curve (memoised)."""
        return self.memo.per_history(
            self.fits_key(Value.SEGMENT_FITS),
            reports,
            lambda: [(seg, self.fit(seg)) for seg in self.memo.segments(reports)],
        )

    @cached_property
    def costs(self) -> CostModel:
        return cost_model(self.histories, self.memo)

    def throughput(self, effective: int) -> float:
        """Samples per second of the loader that runs ``effective`` (0.0 when unknown)."""
        return self.costs.throughput(self.loader_for(effective))

    @cached_property
    def horizon(self) -> float:
        """Training seconds left: the remaining ``budget_samples`` at the current loader's pace;
        without a budget, the trial's elapsed seconds (as long again)."""
        rate = self.costs.throughput(self.current.loader)
        if self.last.budget_samples is not None and rate:
            return max(self.last.budget_samples - self.last.samples_seen, 0.0) / rate
        return self.last.time_s

    @cached_property
    def switch_cost(self) -> float:
        """Seconds one switch costs this trial: the median measured over its own switches,
        else over its peers', else ``settings.prior_switch_cost_s``."""
        own = switch_costs(self.history, self.costs, self.memo)
        if own:
            return float(np.median(own))
        pooled = [
            c
            for reports in self.histories[1:]
            for c in switch_costs(reports, self.costs, self.memo)
        ]
        return float(np.median(pooled)) if pooled else self.settings.prior_switch_cost_s

    # --- decisions ---------------------------------------------------------------------------
    def loader_for(self, effective: int) -> tuple[int, int]:
        """(loader batch, accumulation steps) that realise an effective batch size."""
        if self.settings.action == "loader":
            return effective, 1
        cap = self.settings.max_loader_batch_size or self.history[0].batch_size
        loader = min(effective, cap)
        while effective % loader:
            loader -= 1
        return loader, effective // loader

    def decision(
        self, action: Action, rule: Rule, reason: str, effective: int | None = None
    ) -> Decision:
        """A decision on this report by ``rule``; ``effective`` batch size for a switch (else
        the current loader is kept)."""
        loader = self.last.loader if effective is None else self.loader_for(effective)
        return Decision(action, *loader, reason, self.n, rule)

    def keep(self, rule: Rule, reason: str) -> Decision:
        return self.decision("continue", rule, reason)

    @cached_property
    def budget_objective(self) -> bool:
        """Rules 3, 5, 8 and 9 follow ``objective="budget"`` (the trial knows its budget)."""
        return self.settings.objective == "budget" and math.isfinite(self.budget_left)

    @cached_property
    def budget_left(self) -> float:
        """Samples left in the trial's budget (``inf`` when unknown)."""
        return self.last.samples_left

    @cached_property
    def reach(self) -> float | None:
        """The lowest loss the trial can still expect within its samples left: its current
        segment's curve at the end of its budget, lower end of the ``band_z`` band; a
        :attr:`flat` segment's mean less ``band_z`` of its standard deviations; ``None``
        otherwise or without a known budget."""
        fit = self.current_fit
        if not math.isfinite(self.budget_left):
            return None
        if fit is None:
            return None if self.flat is None else self.flat[0] - self.settings.band_z * self.flat[1]
        x = self.current.reports[-1].samples_seen - self.current.anchor_samples + self.budget_left
        return float(self.band(fit, x).low)

    def band(self, fit: CurveFit, x: float) -> Extrapolation:
        """``fit`` extrapolated to ``x`` with the calibrated band: ``band_z`` stds, widened by
        ``band_depth_gain`` per sample range beyond the fit's data (package docstring, *Band*)."""
        return fit.extrapolate(x, self.settings.band_z, self.settings.band_depth_gain)
