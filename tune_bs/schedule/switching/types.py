"""The policy's vocabulary: reports, peers, decisions, settings and segments (no logic beyond
checks of the settings)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal

from tune_bs.errors import UserInputError
from tune_bs.options import check_section_value, option, options_of

Action = Literal["continue", "switch", "stop"]
#: What a switch changes (``SwitchSettings.action``) and how it is carried out (``switch_via``).
ACTIONS = ("loader", "accumulation")
SWITCH_PATHS = ("inplace", "restart")
#: What rules 3, 5 and 8 optimise (``SwitchSettings.objective``).
OBJECTIVES = ("budget", "speed")
#: Seconds a restart-free switch is assumed to cost until one is measured: one switch-board
#: round trip (0.76–1.06 ms measured by ``benchmarks/scheduler_overhead.py``); the switch itself
#: measured within noise of 0 s.
INPLACE_SWITCH_COST_S = 0.001
#: Seconds a switch by pause and checkpoint restore is assumed to cost (local Ray, actor reuse).
RESTART_SWITCH_COST_S = 2.0


@dataclass(frozen=True)
class Report:
    """One reported result of a trial.

    ``time_s``: the trial's own elapsed seconds of training and evaluation (its float
    ``trial_time_s``, else Ray's ``time_total_s``; ``own_clock`` says which).
    ``wall_time``: optional float clock shared by all trials (``wall_time_s``); when the trial's
    reports carry it, peers' reports after the trial's last one are ignored, so a replay after a
    restart sees the population as it was, and the cost of a switch is measured on it too.
    ``budget_samples``: the trial's total training budget (samples), when known.
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

    @property
    def loader(self) -> tuple[int, int]:
        """``(loader batch, accumulation steps)``."""
        return self.batch_size, self.accumulation_steps

    @property
    def samples_left(self) -> float:
        """Samples left in the trial's budget after this report (``inf`` when unknown)."""
        if self.budget_samples is None:
            return math.inf
        return max(self.budget_samples - self.samples_seen, 0.0)

    def __hash__(self) -> int:
        """The dataclass hash of the fields, computed once (reports key the policy's memo)."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(
                (
                    self.samples_seen,
                    self.val_loss,
                    self.batch_size,
                    self.time_s,
                    self.accumulation_steps,
                    self.wall_time,
                    self.budget_samples,
                    self.own_clock,
                )
            )
            object.__setattr__(self, "_hash", cached)
        return cached


@dataclass(frozen=True)
class Peer:
    """Another trial of the search: its reports, whether it is still running, the batch size it
    starts at (``batch_size``: what a peer that has not reported yet will measure; exploration
    does not visit a size a pooling peer covers), and whether it *pools* with this trial.

    Every other trial reporting the same metric on the same x-axis is a *rival* (rule 3
    compares the trial with all of them, whatever their other hyperparameters). A rival that
    ``pools`` shares everything with this trial but the batch size (and the accumulation steps
    and the seed): its curves inform this trial's estimates, costs and exploration (rules 6–9).
    """

    reports: Sequence[Report]
    alive: bool = True
    batch_size: int | None = None
    pools: bool = True


class Rule(str, Enum):
    """The rule a :class:`Decision` comes from (the package docstring's numbers; the value is
    what lines and summaries print). Callers branch on it, never on ``Decision.reason``."""

    DIVERGED = "diverged"  # 1: stop
    GRACE = "grace"  # 2: continue
    BEHIND = "behind"  # 3: stop, clearly worse than a rival
    DUPLICATE = "duplicate"  # 3: stop, a peer at the same size is ahead
    SWITCHING_OFF = "switching off"  # continue (switching: false)
    MEASURING = "measuring"  # 4: continue
    JUDGING = "judging"  # 5: continue while a switch is judged
    REVERT = "revert"  # 5: switch back
    EXPLORE = "explore"  # 6: switch
    UNFITTED = "unfitted"  # continue: no curve at the current size
    EXTRAPOLATION = "extrapolation"  # 8: switch on a fresh estimate
    PROBE = "probe"  # 8 (a deep estimate's hint) or 9: switch
    REDUNDANT = "redundant"  # stop instead of a switch to where a rival leads
    KEEP = "keep"  # 8, 10: continue
    # the scheduler's own, not the policy's
    LEADS = "leads"  # continue: a stop withheld from the leader on the experiment's metric
    RECORDED = "recorded"  # replayed from result.json after a restore
    MISSED = "missed"  # a restart-free switch not taken, carried out by restart
    CUSTOM = "custom"  # a policy that names no rule (e.g. a test's scripted one)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Decision:
    """What to do with a trial after its ``report_index``-th report (the idempotency key), the
    :class:`Rule` it comes from, and ``reason``: the figures it compared, for people to read."""

    action: Action
    batch_size: int
    accumulation_steps: int = 1
    reason: str = ""
    report_index: int = 0
    rule: Rule = Rule.CUSTOM

    @property
    def diverged(self) -> bool:
        """The trial's loss is not finite (rule 1)."""
        return self.rule is Rule.DIVERGED

    @property
    def effective_batch_size(self) -> int:
        """``batch_size × accumulation_steps``."""
        return self.batch_size * self.accumulation_steps

    def because(self, reason: str, rule: Rule | None = None) -> Decision:
        """The same decision with another reason (and rule, when given)."""
        return replace(self, reason=reason, rule=self.rule if rule is None else rule)


@dataclass(frozen=True)
class Segment:
    """A maximal run of reports at one (loader batch, accumulation) pair.

    ``anchor_samples``: samples seen at the report before the segment (its curve's ``x`` origin);
    ``start``: index of its first report in the trial's history.
    """

    reports: tuple[Report, ...]
    anchor_samples: float
    start: int

    @property
    def effective(self) -> int:
        return self.reports[0].effective_batch_size

    @property
    def loader(self) -> tuple[int, int]:
        return self.reports[0].loader

    def prefix(self, k: int) -> Segment:
        """The segment's first ``k`` reports."""
        return Segment(self.reports[:k], self.anchor_samples, self.start)


@dataclass(frozen=True)
class SwitchSettings:
    """Settings of :func:`~tune_bs.schedule.switching.decide`; the package docstring's rules name
    every field.

    Counts are reports of the trial; margins are relative (0.05 = 5 %); depths are in units of a
    curve's own sample range; ``band_z``/``judge_z`` are numbers of standard deviations;
    ``explore_until`` is a fraction of the trial's samples budget. The fields are the
    ``extrapolation`` scheduler's options, declared with their bounds (:mod:`tune_bs.options`).
    """

    batch_sizes: tuple[int, ...] = option(
        doc="candidate effective batch sizes (default: param_space.batch_size's choices)",
        kind="sizes",
        placeholder=(2, 4),
    )
    action: Literal["loader", "accumulation"] = option(
        "loader", choices=ACTIONS, doc="what a switch changes: the loader batch or accumulation"
    )
    max_loader_batch_size: int | None = option(
        None, minimum=2, doc="accumulation: largest loader batch (None: no limit)"
    )
    grace_reports: int = option(2, minimum=1, doc="no stop before this many reports")
    segment_reports: int = option(
        5, minimum=5, doc="reports at a size before it is fitted / judged (a fit needs 5)"
    )
    objective: Literal["budget", "speed"] = option(
        "budget",
        choices=OBJECTIVES,
        doc="budget: lowest val_loss at the end of the samples budget, then least time; "
        "speed: fastest loss decrease per second",
    )
    end_margin: float = option(
        0.05,
        minimum=0,
        doc="budget objective: fraction of the loss decrease still to come a faster size may "
        "give up",
    )
    switch_margin: float = option(
        0.05, minimum=0, doc="advantage in expected loss decrease needed to switch"
    )
    fresh_depth: float = option(
        0.5, minimum=0, doc="deepest extrapolation trusted for a direct switch upwards"
    )
    max_depth: float = option(4.0, minimum=0, doc="deepest extrapolation used at all")
    probe_every: int = option(10, minimum=1, doc="reports at a size before a probe")
    probe_slowdown: float = option(
        1.4, minimum=0, doc="slowdown of relative progress that motivates a probe"
    )
    probe_gate: bool = option(
        True,
        doc="speed objective: no probe where the gradient-noise-scale estimate says the larger "
        "size lowers the loss more slowly per second",
    )
    tabu_reports: int = option(
        10, minimum=1, doc="reports a size stays tabu after its first revert (doubles)"
    )
    judge_window: int = option(
        10, minimum=5, doc="reports of the curve left behind used to judge a switch"
    )
    judge_z: float = option(1.0, minimum=0, doc="evidence needed to keep a switch (stds)")
    plausible_weight: float = option(
        0.1, minimum=0, maximum=1.0, doc="families counted in a candidate's cautious estimate"
    )
    stop_margin: float = option(
        0.1, minimum=0, doc="fraction of the leader's loss decrease that may be missing"
    )
    stop_horizon: float = option(
        0.25, minimum=0, doc="how far (x own elapsed time) to extrapolate for stopping"
    )
    min_alive: int = option(1, minimum=1, doc="dominating live peers needed to stop a trial")
    band_z: float = option(
        2.0, minimum=0, doc="width of the extrapolation band used for stopping (stds)"
    )
    band_depth_gain: float = option(
        1.5,
        minimum=0,
        doc="widening of an extrapolation's std per sample range it is carried beyond its "
        "data (calibrated on benchmark curves; 0: the fit's own band)",
    )
    stop_noise_z: float = option(
        2.0, minimum=0, doc="noise floor of the stop margin, in val_loss noise stds"
    )
    stop_confirm_reports: int = option(
        1, minimum=1, doc="consecutive reports a trial must be dominated to stop"
    )
    flat_when_unfitted: bool = option(
        True,
        doc="budget objective: a size whose curve is refused after segment_reports reports "
        "is taken as flat (the mean and spread of those reports), so it can be left or stopped",
    )
    switching: bool = option(
        True,
        doc="false: the scheduler only stops trials (rules 1-3), never switches one; the "
        "ablation that tells the switching rules' effect from the stopping rule's",
    )
    explore: bool = option(
        True, doc="visit every candidate size no curve covers, early in the trial"
    )
    explore_until: float = option(
        0.5, minimum=0, maximum=1.0, doc="a visit starts by this fraction of the samples budget"
    )
    curve_floor: float | None = option(
        None,
        doc="lowest value a fitted curve may reach, any number in the fitted value's units "
        "(None: the scheduler states it from the metric's range, 0 for a loss, -1 for a "
        "maximised accuracy; unbounded for a metric of unknown range)",
    )
    switch_via: Literal["inplace", "restart"] = option(
        "inplace", choices=SWITCH_PATHS, doc="how the scheduler carries a switch out"
    )
    switch_cost_s: float | None = option(
        None,
        minimum=0,
        doc="seconds of a switch until one is measured (None: the path's default, "
        "INPLACE_SWITCH_COST_S or RESTART_SWITCH_COST_S)",
    )

    @property
    def prior_switch_cost_s(self) -> float:
        """Seconds a switch is assumed to cost before one is measured."""
        if self.switch_cost_s is not None:
            return self.switch_cost_s
        return INPLACE_SWITCH_COST_S if self.switch_via == "inplace" else RESTART_SWITCH_COST_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_sizes", candidate_sizes(self.batch_sizes))
        for declared in options_of(SwitchSettings):  # every other field, from its declaration
            value = getattr(self, declared.name)
            if declared.type != "sizes" and not (value is None and declared.optional):
                check_section_value(declared.name, value, declared)


def candidate_sizes(value: object) -> tuple[int, ...]:
    """``value`` as the candidate batch sizes, or a one-line :class:`UserInputError` naming the
    bad value and the fix: a list or tuple of positive integers (not booleans, not floats, not
    strings) in increasing order, without repeats — a set of candidates, not a schedule."""
    example = "write e.g. SwitchSettings(batch_sizes=(16, 32, 64))"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise UserInputError(
            f"batch_sizes must be a list of candidate batch sizes, but got "
            f"batch_sizes={value!r}; {example}."
        )
    for size in value:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise UserInputError(
                f"batch_sizes must hold positive integers (samples per step), but got {size!r} "
                f"in batch_sizes={value!r}; {example}."
            )
    sizes = tuple(int(b) for b in value)
    if list(sizes) != sorted(set(sizes)):
        raise UserInputError(
            f"batch_sizes must list the candidates in increasing order without repeats (a set, "
            f"not a schedule), but got batch_sizes={value!r}; write "
            f"batch_sizes={tuple(sorted(set(sizes)))}."
        )
    return sizes
