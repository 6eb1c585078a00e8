"""Benchmark: the switching policy vs the oracle, the best fixed size and five baselines, simulated.

Every method runs the same population on the simulator of ``tune_bs.schedule.simulator`` (the
empirical model of large-batch training, docs/design.md §8): one trial per candidate batch size
(8…1024) as its
starting size, ``--parallel`` slots (default: all at once), a report every ``D`` samples (``D`` =
the oracle's samples to target / the setting's report count, at least the largest batch). An
event loop replays the reports in wall-clock order; the experiment ends when some trial's true
loss first crosses the target (exact crossing, not report-rounded).

Figures per setting (medians over its noise seeds):
- ``oracle_gap`` = wall seconds until the policy's best trial reaches the target / the oracle
  schedule's seconds (limit 1.0);
- ``best fixed`` = the candidate with the shortest time to target at one fixed size, in hindsight
  (closed form), and ``gain_over_best_fixed`` = its seconds / the policy's best trial's seconds
  (≥ 1: the policy beat every fixed size);
- ``search_cost_ratio`` = trial-seconds the whole experiment spent until the first crossing
  (training and switches; waiting at a synchronous rung is free), policy / fixed grid.

Settings (``--settings``):
- ``heldout`` (default): ``--count`` settings drawn at random (seed ``--draw-seed``) from ranges
  wider than the tuning set's in every parameter (:data:`PARAMETERS`, printed by every run), one
  noise seed each;
- ``tuning``: the 18 settings on which the policy's defaults were chosen (noise-scale growth
  1/16/256× × c₀/c₁ 16/64/256 × observation noise off/on, ``--seeds`` seeds per noisy one).
The clock: trials report a float clock (the trainable's ``trial_time_s``/``wall_time_s``);
``--clock-noise σ`` makes every report interval last ``exp(σ·z − σ²/2)`` times its nominal
seconds (z standard normal, drawn per trial and seeded: a shared host's jitter, real for the
training and the clock alike; held-out settings draw σ unless given), ``--whole-seconds`` reports
both clocks floored to whole seconds (as Ray's ``timestamp``; off by default). The oracle and the
best fixed size are computed at the nominal pace, so under jitter a run can beat them by chance
(by about σ/√reports, well under 1 %).

Methods:
- ``policy``: :func:`tune_bs.schedule.switching.decide` with its default settings, except
  ``objective="speed"``, ``switch_cost_s`` (the restart cost it assumes until it has
  measured one) = the simulated switch cost and ``curve_floor=0`` (the scheduler states that
  floor for a loss); each report carries the trial's budget in samples
  (its budget seconds at its starting size's pace); every other trial is a peer (with the size
  it starts at). This simulation asks for the time to a target loss, with budgets (2× the best
  fixed time) that do not bind: the speed objective's question. The goals are the ``policy``'s;
- ``policy_budget``: the same with the default ``objective="budget"`` (the loss at the end of
  each trial's samples budget first, then the time): printed, not a goal;
- ``grid``: every trial keeps its size;
- ``asha``: asynchronous successive halving on trial seconds (Li et al. 2020; Tune's ASHA rule):
  rungs at ``budget/64·4^k``, a trial goes on past a rung only if its loss is in the best quarter
  of the losses recorded there;
- ``halving``: synchronous successive halving (Jamieson & Talwalkar 2016): rungs at
  ``budget/3^k`` trial seconds; every live trial waits at a rung until all have reached it, then
  the best ``⌊n/3⌋`` (at least one) go on (:func:`halving_rungs`);
- ``top-k``: the "keep the top-k after the first report" rule (Egele et al. 2023, "Is one epoch
  all you need for multi-fidelity hyperparameter optimization?"): all trials train until their
  first report (``D`` samples at every size, as one epoch would be), the best ``--top-k``
  (default 2, the quarter ASHA keeps) by that report's loss run on, the others stop;
- ``pbt``: every tenth of the best fixed time a trial in the bottom quarter clones a
  top-quarter trial (one restart, ``switch_cost_s``, per clone) and moves its batch size one
  candidate up or down, or resamples it with probability 0.25. PBT never stops trials, so it is
  compared on time to target, not on search cost.

Goals (issue #12, on the held-out settings): median ``oracle_gap`` ≤ 1.03; median
``gain_over_best_fixed`` ≥ 1.00; median ``search_cost_ratio`` ≤ 0.3 and a search cost below
ASHA's and top-k's in ≥ 80 % of the settings. One line per goal says MET or MISSED. The policy
counts as cheaper on a setting only where it reached the target; a rival that never reaches it
spends its trials' whole budgets.

Usage: ``python benchmarks/simulator.py [--settings heldout|tuning] [--smoke-test]``; prints the
ranges, one table per setting, a summary, the goal lines, the elapsed time and, last,
``oracle_gap=… gain_over_best_fixed=… search_cost_ratio=…`` (medians over the settings).

A/B of a policy change: ``--set NAME=VALUE`` (repeatable) runs both policy methods with that
option of :class:`~tune_bs.schedule.switching.SwitchSettings` changed (checked like a search-space
file's ``scheduler`` section; the candidates, the objective and the switch cost are the
simulator's); the header names the changes. Choose on ``--settings tuning`` (and a held-out draw
you then stop looking at); check on a ``--draw-seed`` nothing was chosen on.
``benchmarks/results/simulator_sensitivity.txt`` holds a one-option-at-a-time sweep of the
defaults. ``--true-probe-gate`` is a what-if, not a policy: a probe is made only where the
simulated model itself says the probed size lowers the loss faster per second at the trial's
true loss (:func:`policy_hook`), which bounds what a better noise-scale estimate could gain.
``--audit-probes`` prints, after the goals, what the ``policy`` method's probes did
(:class:`ProbeAudit`).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from tune_bs.errors import UserInputError, unknown_name
from tune_bs.options import option_names, read_assignments
from tune_bs.schedule.curves import fit_curve
from tune_bs.schedule.simulator import (
    LargeBatchModel,
    OracleSchedule,
    SimState,
    best_fixed,
    initial_state,
    observe,
    oracle,
    switch,
    train,
)
from tune_bs.schedule.switching import (
    Decision,
    FitCache,
    Peer,
    Report,
    Rule,
    SwitchSettings,
    decide,
)

CANDIDATES = (8, 16, 32, 64, 128, 256, 512, 1024)
ASHA_ETA = 4
HALVING_ETA = 3
TOP_K = 2
METHODS = ("policy", "policy_budget", "grid", "asha", "halving", "top-k", "pbt")
STOPPING = ("asha", "halving", "top-k")  # the baselines that stop trials: search-cost rivals
#: Policy options the simulator sets itself (``--set`` may not): the candidates, the objective of
#: each policy method and the switch cost of the setting.
FIXED_OPTIONS = ("batch_sizes", "objective", "switch_cost_s")


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One parameter of a setting: its values in the tuning set and its held-out range."""

    label: str
    tuning: tuple[float, ...]
    low: float
    high: float
    log: bool  # draw log-uniformly (else uniformly)

    def draw(self, rng: np.random.Generator) -> float:
        """One value from ``[low, high]``."""
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


#: Every parameter of a setting, in drawing order. The held-out ranges contain the tuning values
#: and reach beyond them on at least one side.
PARAMETERS: dict[str, Parameter] = {
    "noise_growth": Parameter("B_noise growth, target / initial (x)", (1, 16, 256), 1, 1024, True),
    "overhead_ratio": Parameter("c0/c1 (samples)", (16, 64, 256), 4, 1024, True),
    "obs_noise": Parameter("val_loss noise std (x target excess loss)", (0, 0.1), 0, 0.2, False),
    "noise_scale_initial": Parameter("B_noise at the initial loss (samples)", (16,), 4, 64, True),
    "target_depth": Parameter("initial / target excess loss", (50,), 20, 200, True),
    "switch_cost": Parameter("switch cost (report intervals at best fixed)", (0.1,), 0.01, 1, True),
    "reports": Parameter("reports in the oracle's run to target", (100,), 50, 200, True),
    "budget": Parameter("trial budget (x best fixed time)", (2,), 1.5, 3, False),
    "clock_noise": Parameter("clock jitter std per report interval (log)", (0,), 0, 0.1, False),
}


@dataclass(frozen=True)
class Setting:
    """One simulated experiment; fields as in :data:`PARAMETERS`, plus its noise seeds."""

    name: str
    noise_growth: float
    overhead_ratio: float
    obs_noise: float
    noise_scale_initial: float
    target_depth: float
    switch_cost: float
    reports: int
    budget: float
    clock_noise: float
    seeds: tuple[int, ...]

    @property
    def target_loss(self) -> float:
        """``min_loss + (initial − min) / target_depth`` with the model's 4.0 → floor 1.0."""
        return 1.0 + 3.0 / self.target_depth  # 1.06 (exactly) at the tuning depth 50


def tuning_settings(seeds: int) -> list[Setting]:
    """The 18-setting grid the policy's defaults were chosen on (``seeds`` seeds when noisy)."""
    out = []
    for growth, ratio, noisy in itertools.product((1, 16, 256), (16, 64, 256), (False, True)):
        out.append(
            Setting(
                name=f"tuning {growth}x/{ratio}/{'noisy' if noisy else 'exact'}",
                noise_growth=float(growth),
                overhead_ratio=float(ratio),
                obs_noise=0.1 if noisy else 0.0,
                noise_scale_initial=16.0,
                target_depth=50.0,
                switch_cost=0.1,
                reports=100,
                budget=2.0,
                clock_noise=0.0,
                seeds=tuple(range(seeds)) if noisy else (0,),
            )
        )
    return out


def heldout_settings(count: int, seed: int) -> list[Setting]:
    """``count`` settings drawn from :data:`PARAMETERS`' held-out ranges; same seed, same list."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        values = {name: p.draw(rng) for name, p in PARAMETERS.items()}
        values["reports"] = round(values["reports"])
        noise_seed = int(rng.integers(2**31))
        out.append(Setting(name=f"held-out {i}", seeds=(noise_seed,), **values))
    return out


# --- the event loop ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """How long report intervals last and how the clocks read (see the module docstring)."""

    jitter: float = 0.0  # σ of the log of an interval's duration factor
    whole_seconds: bool = False  # report both clocks floored to whole seconds
    phase: float = 0.0  # the shared clock's fraction of a second at wall 0


@dataclass(frozen=True)
class Clone:
    """PBT's exploit/explore: restore ``donor``'s checkpoint and go on at ``batch_size``."""

    donor: int
    batch_size: int


@dataclass(frozen=True)
class Wait:
    """Pause the trial (a synchronous rung): it holds no slot and spends nothing until released."""


@dataclass(frozen=True)
class Release:
    """A synchronous rung is complete: of the waiting trials and the reporting one, those in
    ``keep`` go on and the others stop."""

    keep: frozenset[int]


@dataclass
class Trial:
    """One simulated trial inside the event loop."""

    index: int
    start_size: int
    state: SimState
    rng: np.random.Generator  # observation noise
    clock_rng: np.random.Generator  # interval jitter
    reports: list[Report] = field(default_factory=list)
    started: bool = False
    alive: bool = True
    paused: bool = False
    stopped: bool = False  # stopped by the method (not by its budget)
    offset: float = 0.0  # wall seconds − trial seconds (grows while the trial waits)
    flight: SimState | None = None  # its state at its next report, while it trains
    switches: int = 0  # switches, or clones for PBT

    def compute(self, end: float) -> float:
        """Trial seconds spent by wall time ``end`` (training and switches)."""
        if self.flight is None:
            return self.state.time_s if self.started else 0.0
        return min(self.flight.time_s, end - self.offset)


Action = Decision | Clone | Wait | Release | None
Hook = Callable[[Trial, list[Trial], float], Action]


@dataclass(frozen=True)
class Outcome:
    """What one method achieved on one setting and seed."""

    time_to_target: float  # wall seconds until the first crossing (inf if none)
    cost: float  # trial-seconds spent until then
    switches: int
    stopped: int
    final_sizes: tuple[int, ...]
    winner_start: int | None = None  # starting size of the trial that crossed first
    stopped_starts: tuple[int, ...] = ()  # starting sizes of the trials the method stopped


def clone(model: LargeBatchModel, trial: SimState, donor: SimState, batch_size: int) -> SimState:
    """PBT's clone: the trial takes the donor's loss and samples seen, goes on at ``batch_size``
    and pays one restart (``switch_cost_s``) on its own clock, whether the size changes or not."""
    return replace(
        donor,
        batch_size=batch_size,
        accumulation_steps=1,
        time_s=trial.time_s + model.switch_cost_s,
        time_to_target_s=math.inf,
    )


def simulate(
    model: LargeBatchModel,
    starts: Sequence[int],
    report_every: float,
    budget_s: float,
    parallel: int,
    hook: Hook,
    seed: int,
    clock: Clock = Clock(),
) -> Outcome:
    """Run a population under ``hook`` (called on every report) until the first crossing.

    ``hook(trial, trials, wall)`` returns a :class:`Decision` (``stop``, ``switch``, else go on),
    a :class:`Clone`, :class:`Wait`, :class:`Release`, or ``None`` (go on). A trial ends when
    its trial seconds reach ``budget_s`` (at a report). ``seed`` seeds the observation noise
    and the clock jitter of every trial.
    """
    trials = [
        Trial(
            i,
            b,
            initial_state(model, b),
            np.random.default_rng([seed, i]),
            np.random.default_rng([seed, i, 1]),
        )
        for i, b in enumerate(starts)
    ]
    queue = list(range(len(trials)))
    events: list[tuple[float, int, int]] = []
    counter = itertools.count()
    first_crossing = math.inf
    winner: Trial | None = None

    def fly(trial: Trial) -> None:
        """Train the trial to its next report (or end it at its budget)."""
        nonlocal first_crossing, winner
        if trial.state.time_s >= budget_s:
            trial.alive, trial.flight = False, None
            return
        factor = 1.0
        if clock.jitter > 0.0:
            factor = math.exp(
                clock.jitter * trial.clock_rng.standard_normal() - clock.jitter**2 / 2
            )
        trial.flight = train(model, trial.state, report_every, factor)
        if math.isfinite(trial.flight.time_to_target_s):
            crossing = trial.offset + trial.flight.time_to_target_s
            if crossing < first_crossing:
                first_crossing, winner = crossing, trial
        heapq.heappush(events, (trial.offset + trial.flight.time_s, next(counter), trial.index))

    def fill(wall: float) -> None:
        """Start (or resume) queued trials while slots are free."""
        while queue and sum(t.started and t.alive and not t.paused for t in trials) < parallel:
            trial = trials[queue.pop(0)]
            trial.started, trial.paused = True, False
            trial.offset = wall - trial.state.time_s
            fly(trial)

    def stop(trial: Trial) -> None:
        trial.alive, trial.paused, trial.stopped, trial.flight = False, False, True, None

    fill(0.0)
    while events and events[0][0] < first_crossing:
        wall, _, idx = heapq.heappop(events)
        trial = trials[idx]
        trial.state, trial.flight = trial.flight, None
        trial.reports.append(_report(model, trial, wall, clock, budget_s))
        action = hook(trial, trials, wall)
        if isinstance(action, Decision) and action.action == "stop":
            stop(trial)
        elif isinstance(action, Decision) and action.action == "switch":
            trial.state = switch(model, trial.state, action.batch_size, action.accumulation_steps)
            trial.switches += 1
            fly(trial)
        elif isinstance(action, Clone):
            trial.state = clone(model, trial.state, trials[action.donor].state, action.batch_size)
            trial.switches += 1
            fly(trial)
        elif isinstance(action, Wait):
            trial.paused = True
        elif isinstance(action, Release):
            waiting = [t for t in trials if t.paused]
            for t in waiting:
                if t.index in action.keep:
                    queue.insert(0, t.index)  # resumes first, when a slot is free
                else:
                    stop(t)
            if trial.index in action.keep:
                fly(trial)
            else:
                stop(trial)
        else:
            fly(trial)
        fill(wall)
    end = first_crossing
    return Outcome(
        time_to_target=end,
        cost=sum(t.compute(end) for t in trials),
        switches=sum(t.switches for t in trials),
        stopped=sum(t.stopped for t in trials),
        final_sizes=tuple(t.state.batch_size for t in trials if t.alive),
        winner_start=None if winner is None else winner.start_size,
        stopped_starts=tuple(t.start_size for t in trials if t.stopped),
    )


def _report(
    model: LargeBatchModel, trial: Trial, wall: float, clock: Clock, budget_s: float
) -> Report:
    """The report a trial makes now: observed loss, its clocks as read, its budget in samples."""
    state = trial.state
    time_s, wall_time = state.time_s, wall
    if clock.whole_seconds:
        time_s, wall_time = float(math.floor(time_s)), float(math.floor(wall + clock.phase))
    return Report(
        samples_seen=state.samples_seen,
        val_loss=observe(model, state.loss, trial.rng),
        batch_size=state.batch_size,
        time_s=time_s,
        accumulation_steps=state.accumulation_steps,
        wall_time=wall_time,
        budget_samples=budget_s / model.seconds_per_sample(trial.start_size),
        own_clock=not clock.whole_seconds,
    )


# --- methods ----------------------------------------------------------------------------------


@dataclass
class ProbeAudit:
    """What rule 9's probes did in the ``policy`` runs (``--audit-probes``): probes made, how
    many went to a size the simulated model calls faster at the trial's true loss, how many were
    switched back by rule 5; and per run, where the first trial to cross had started relative to
    the best fixed size, and whether the best fixed size's own trial was stopped."""

    made: int = 0
    faster: int = 0
    reverted: int = 0
    runs: int = 0
    winner_below: int = 0
    winner_at: int = 0
    winner_above: int = 0
    best_stopped: int = 0

    def record(self, outcome: Outcome, best_size: int) -> None:
        """Count one run's winner and whether the best fixed size's trial was stopped."""
        self.runs += 1
        if outcome.winner_start is not None:
            if outcome.winner_start < best_size:
                self.winner_below += 1
            elif outcome.winner_start == best_size:
                self.winner_at += 1
            else:
                self.winner_above += 1
        self.best_stopped += best_size in outcome.stopped_starts

    def lines(self) -> list[str]:
        """The audit, printed after the goals."""
        return [
            f"probe audit (policy, {self.runs} runs): {self.made} probes made, {self.faster} of "
            f"them to a size the simulated model calls faster at the trial's loss, "
            f"{self.reverted} switched back by rule 5",
            f"probe audit: the first trial to reach the target started below the best fixed size "
            f"in {self.winner_below} runs, at it in {self.winner_at}, above it in "
            f"{self.winner_above}; the best fixed size's own trial was stopped in "
            f"{self.best_stopped}",
        ]


def policy_hook(
    settings: SwitchSettings,
    truth: LargeBatchModel | None = None,
    audit: ProbeAudit | None = None,
    model: LargeBatchModel | None = None,
) -> Hook:
    """The switching policy: :func:`tune_bs.schedule.switching.decide` on every report; every other
    trial is a peer, with the size it starts at (as the scheduler adapter passes them).

    ``truth`` (``--true-probe-gate``, a what-if, not a policy): a probe (rule 9) is carried out
    only where the simulated model says the probed size lowers the loss faster per second at the
    trial's true loss than its current size; otherwise the trial continues. It bounds what a
    better estimate of the noise scale could gain. ``audit`` (with the setting's ``model``)
    counts the probes made (:class:`ProbeAudit`)."""
    cache = FitCache()
    probed: dict[int, bool] = {}  # trial index: its last switch was a probe

    def hook(trial: Trial, trials: list[Trial], wall: float) -> Decision:
        peers = {
            str(t.index): Peer(t.reports, t.alive, t.start_size)
            for t in trials
            if t.index != trial.index
        }
        decision = decide(trial.reports, peers, settings, cache)
        probe = decision.action == "switch" and decision.rule is Rule.PROBE
        if truth is not None and probe:
            now = trial.reports[-1]
            loss = trial.state.loss
            there = truth.progress_per_second(
                loss, decision.batch_size, decision.accumulation_steps
            )
            if there <= truth.progress_per_second(loss, now.batch_size, now.accumulation_steps):
                return Decision(
                    "continue",
                    *now.loader,
                    "what-if: the true model says the probed size is slower",
                    decision.report_index,
                )
        if audit is not None and model is not None and decision.action == "switch":
            if probe:
                now, loss = trial.reports[-1], trial.state.loss
                audit.made += 1
                audit.faster += model.progress_per_second(
                    loss, decision.batch_size, decision.accumulation_steps
                ) > model.progress_per_second(loss, now.batch_size, now.accumulation_steps)
            elif probed.get(trial.index) and decision.rule is Rule.REVERT:
                audit.reverted += 1
            probed[trial.index] = probe
        return decision

    return hook


def grid_hook(trial: Trial, trials: list[Trial], wall: float) -> None:
    """Fixed grid: every trial keeps its batch size."""
    return None


def asha_hook(grace_s: float, max_t: float, eta: int = ASHA_ETA) -> Hook:
    """Asynchronous successive halving on trial seconds (Li et al. 2020; Tune's ASHA rule)."""
    rungs = []
    r = grace_s
    while r < max_t:
        rungs.append(r)
        r *= eta
    recorded: dict[float, list[float]] = {r: [] for r in rungs}
    passed: dict[int, set[float]] = {}

    def hook(trial: Trial, trials: list[Trial], wall: float) -> Decision | None:
        t = trial.reports[-1].time_s
        loss = trial.reports[-1].val_loss
        for rung in reversed(rungs):
            if t >= rung and rung not in passed.setdefault(trial.index, set()):
                passed[trial.index].update(x for x in rungs if x <= rung)
                values = recorded[rung]
                values.append(loss)
                cutoff = float(np.percentile(values, 100.0 / eta)) if len(values) > 1 else math.inf
                if loss > cutoff:
                    return Decision("stop", trial.state.batch_size, reason="asha")
                break
        return None

    return hook


def halving_rungs(trials: int, budget_s: float, eta: int = HALVING_ETA) -> list[tuple[float, int]]:
    """Synchronous successive halving's rungs: ``(trial seconds, trials kept past it)``.

    Each rung keeps ``⌊n/η⌋`` (at least one) of the ``n`` trials that reached it, until one is
    left; with ``s`` rungs, rung ``k`` (from 0) sits at ``budget_s / η^(s−k)``, so the last
    survivor runs its last ``1 − 1/η`` of the budget alone. ``trials = 8, η = 3``:
    ``[(budget/9, 2), (budget/3, 1)]``.
    """
    keeps = []
    n = trials
    while n > 1:
        n = max(1, n // eta)
        keeps.append(n)
    s = len(keeps)
    return [(budget_s / eta ** (s - k), keep) for k, keep in enumerate(keeps)]


Rung = tuple[Callable[[Trial], bool], int]  # (has the trial reached it, trials kept past it)


def synchronous_hook(rungs: Sequence[Rung]) -> Hook:
    """Synchronous rungs, in order: a trial that reaches a rung waits until every live trial has;
    then the ``keep`` lowest last-reported losses at the rung go on and the others stop. Every
    rung must come before the trials' budget (a trial that ends by its budget reports nothing
    more, so a rung it never reached would hold the others forever)."""
    level: dict[int, int] = {}
    at_rung: list[dict[int, float]] = [{} for _ in rungs]

    def hook(trial: Trial, trials: list[Trial], wall: float) -> Wait | Release | None:
        k = level.get(trial.index, 0)
        if k >= len(rungs) or not rungs[k][0](trial):
            return None
        level[trial.index] = k + 1
        at_rung[k][trial.index] = trial.reports[-1].val_loss
        if any(t.alive and t.index not in at_rung[k] for t in trials):
            return Wait()
        losses = at_rung[k]
        ranked = sorted((i for i in losses if trials[i].alive), key=lambda i: (losses[i], i))
        return Release(frozenset(ranked[: rungs[k][1]]))

    return hook


def halving_hook(trials: int, budget_s: float, eta: int = HALVING_ETA) -> Hook:
    """Synchronous successive halving on trial seconds (rungs of :func:`halving_rungs`)."""
    rungs = [
        (lambda t, s=seconds: t.reports[-1].time_s >= s, keep)
        for seconds, keep in halving_rungs(trials, budget_s, eta)
    ]
    return synchronous_hook(rungs)


def top_k_hook(k: int = TOP_K) -> Hook:
    """Egele et al. 2023: every trial trains to its first report; the best ``k`` run on."""
    return synchronous_hook([(lambda t: len(t.reports) >= 1, k)])


def pbt_hook(interval_s: float, seed: int, quantile: float = 0.25) -> Hook:
    """PBT: bottom-quantile trials clone a top-quantile one and perturb its batch size."""
    rng = np.random.default_rng(seed)
    last: dict[int, int] = {}

    def hook(trial: Trial, trials: list[Trial], wall: float) -> Clone | None:
        k = int(trial.reports[-1].time_s // interval_s)
        if k <= last.get(trial.index, 0):
            return None
        last[trial.index] = k
        running = [t for t in trials if t.alive and t.reports]
        ranked = sorted(running, key=lambda t: t.reports[-1].val_loss)
        n_q = max(1, int(len(ranked) * quantile))
        if trial not in ranked[-n_q:] or len(ranked) < 2:
            return None
        donor = ranked[int(rng.integers(n_q))]
        if donor.index == trial.index:
            return None
        pos = CANDIDATES.index(donor.state.batch_size)
        if rng.random() < 0.25:
            pos = int(rng.integers(len(CANDIDATES)))
        else:
            pos = min(max(pos + (1 if rng.random() < 0.5 else -1), 0), len(CANDIDATES) - 1)
        return Clone(donor.index, CANDIDATES[pos])

    return hook


# --- one setting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """A setting made concrete: the model, its oracle and best fixed size, the run's shape."""

    model: LargeBatchModel
    oracle: OracleSchedule
    best_size: int
    best_time: float
    report_every: float
    budget_s: float


def instantiate(setting: Setting) -> Instance:
    """The model of a setting: losses 4.0 → ``target_loss`` (floor 1.0), c₁ = 1 ms/sample, the
    switch cost in report intervals of the best fixed size, the budget × its time to target."""
    base = LargeBatchModel(
        noise_growth=setting.noise_growth,
        step_overhead_s=setting.overhead_ratio * 0.001,
        noise_scale_initial=setting.noise_scale_initial,
        target_loss=setting.target_loss,
    )
    orc = oracle(base, CANDIDATES)
    size, seconds = best_fixed(base, CANDIDATES)
    report_every = max(orc.samples_to_target / setting.reports, float(max(CANDIDATES)))
    interval_s = report_every * base.seconds_per_sample(size)
    model = replace(
        base,
        switch_cost_s=setting.switch_cost * interval_s,
        obs_noise=setting.obs_noise * (base.target_loss - base.min_loss),
    )
    return Instance(model, orc, size, seconds, report_every, setting.budget * seconds)


def method_hooks(
    inst: Instance,
    settings: SwitchSettings,
    top_k: int,
    true_gate: bool = False,
    audit: ProbeAudit | None = None,
) -> dict[str, Hook]:
    """A fresh hook per method (hooks keep state); ``true_gate``: the policies' what-if gate;
    ``audit``: counts the ``policy`` method's probes."""
    truth = inst.model if true_gate else None
    if settings.curve_floor is None:  # a loss: what the scheduler states for val_loss
        settings = replace(settings, curve_floor=0.0)
    return {
        "policy": policy_hook(
            replace(settings, objective="speed", switch_cost_s=inst.model.switch_cost_s),
            truth,
            audit,
            inst.model,
        ),
        "policy_budget": policy_hook(
            replace(settings, objective="budget", switch_cost_s=inst.model.switch_cost_s), truth
        ),
        "grid": grid_hook,
        "asha": asha_hook(inst.budget_s / 64, inst.budget_s),
        "halving": halving_hook(len(CANDIDATES), inst.budget_s),
        "top-k": top_k_hook(top_k),
        "pbt": pbt_hook(inst.best_time / 10, 1),
    }


def run_setting(
    setting: Setting,
    settings: SwitchSettings,
    parallel: int,
    clock: Clock = Clock(),
    top_k: int = TOP_K,
    true_gate: bool = False,
    audit: ProbeAudit | None = None,
) -> dict[str, object]:
    """All methods on one setting, every seed; per method the medians over the seeds."""
    inst = instantiate(setting)
    runs: dict[str, list[Outcome]] = {name: [] for name in METHODS}
    for seed in setting.seeds:
        jittered = replace(clock, jitter=setting.clock_noise)
        for name, hook in method_hooks(inst, settings, top_k, true_gate, audit).items():
            runs[name].append(
                simulate(
                    inst.model,
                    CANDIDATES,
                    inst.report_every,
                    inst.budget_s,
                    parallel,
                    hook,
                    seed,
                    jittered,
                )
            )
    if audit is not None:
        for outcome in runs["policy"]:
            audit.record(outcome, inst.best_size)
    orc_s = inst.oracle.time_to_target_s
    gaps = {k: [o.time_to_target / orc_s for o in v] for k, v in runs.items()}
    gains = {k: [inst.best_time / o.time_to_target for o in v] for k, v in runs.items()}
    costs = {
        k: [o.cost / g.cost for o, g in zip(v, runs["grid"], strict=True)] for k, v in runs.items()
    }
    return {
        "setting": setting,
        "instance": inst,
        "runs": runs,
        "gaps": {k: statistics.median(v) for k, v in gaps.items()},
        "worst_gap": {k: max(v) for k, v in gaps.items()},
        "gains": {k: statistics.median(v) for k, v in gains.items()},
        "cost": {k: statistics.median(v) for k, v in costs.items()},
    }


# --- printing ---------------------------------------------------------------------------------


def print_ranges(kind: str, count: int, draw_seed: int, clock_noise: float | None) -> None:
    """The tuning grid's values and the held-out ranges, side by side."""
    print(
        f"# settings: {kind} ({count} settings"
        + (f", drawn with seed {draw_seed})" if kind == "heldout" else ")")
    )
    print("| parameter | tuning set | held-out range |")
    print("|---|---|---|")
    for name, p in PARAMETERS.items():
        held = f"{p.low:g} - {p.high:g} ({'log-uniform' if p.log else 'uniform'})"
        if name == "clock_noise" and clock_noise is not None:
            held = f"{clock_noise:g} (--clock-noise; was {held})"
        print(f"| {p.label} | {', '.join(f'{v:g}' for v in p.tuning)} | {held} |")


def print_row(row: dict[str, object]) -> None:
    """One table per setting: each method's time-to-target gap, gain, cost ratio, switches."""
    s: Setting = row["setting"]
    inst: Instance = row["instance"]
    orc = inst.oracle
    print(
        f"\n## {s.name}: B_noise growth {s.noise_growth:.3g}x, c0/c1 {s.overhead_ratio:.3g}, "
        f"B_noise0 {s.noise_scale_initial:.3g}, target {s.target_loss:.4g}, noise std "
        f"{inst.model.obs_noise:.3g}, switch {inst.model.switch_cost_s:.3g}s, {s.reports} "
        f"reports, budget {s.budget:.3g}x, clock jitter {s.clock_noise:.3g} "
        f"({len(s.seeds)} seed(s); oracle {orc.time_to_target_s:.0f}s via "
        f"{[b for _, b in orc.pieces]}; best fixed {inst.best_size} at "
        f"{inst.best_time / orc.time_to_target_s:.3f}x oracle; policy gain_over_best_fixed "
        f"{row['gains']['policy']:.3f})"
    )
    print(
        "| method | time/oracle | worst seed | best fixed/time | cost/grid | switches or clones "
        "| stopped | sizes at end (first seed) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, outs in row["runs"].items():
        print(
            f"| {name} | {row['gaps'][name]:.3f} | {row['worst_gap'][name]:.3f} | "
            f"{row['gains'][name]:.3f} | {row['cost'][name]:.3f} | "
            f"{statistics.median(o.switches for o in outs):g} | "
            f"{statistics.median(o.stopped for o in outs):g} | {list(outs[0].final_sizes)} |"
        )


def _goal(text: str, figure: str, met: bool) -> None:
    print(f"GOAL {text}: {figure}: {'MET' if met else 'MISSED'}")


def summarise(rows: list[dict[str, object]], kind: str) -> dict[str, float]:
    """The summary table, one line per goal, and the policy's medians over the settings."""
    n = len(rows)
    reached = {m: sum(math.isfinite(r["gaps"][m]) for r in rows) for m in METHODS}
    policy_ok = [math.isfinite(r["gaps"]["policy"]) for r in rows]

    def cheaper(m: str) -> int:
        return sum(
            ok and r["cost"]["policy"] < r["cost"][m] for ok, r in zip(policy_ok, rows, strict=True)
        )

    def faster(m: str) -> int:
        return sum(r["gaps"]["policy"] < r["gaps"][m] for r in rows)

    print(f"\n## summary over {n} {kind} settings (medians over settings)")
    print(
        "| method | time/oracle | best fixed/time | cost/grid | reached target "
        "| policy cheaper | policy faster |"
    )
    print("|---|---|---|---|---|---|---|")
    for m in METHODS:
        print(
            f"| {m} | {statistics.median(r['gaps'][m] for r in rows):.3f} | "
            f"{statistics.median(r['gains'][m] for r in rows):.3f} | "
            f"{statistics.median(r['cost'][m] for r in rows):.3f} | {reached[m]}/{n} | "
            f"{cheaper(m)}/{n} | {faster(m)}/{n} |"
        )
    gap = statistics.median(r["gaps"]["policy"] for r in rows)
    gain = statistics.median(r["gains"]["policy"] for r in rows)
    cost = statistics.median(r["cost"]["policy"] for r in rows)
    where = f"over {n} {kind} settings"
    print()
    _goal("median oracle_gap <= 1.03", f"{gap:.3f} {where}", gap <= 1.03)
    _goal("median gain_over_best_fixed >= 1.00", f"{gain:.3f} {where}", gain >= 1.0)
    _goal("median search_cost_ratio <= 0.30 (x grid)", f"{cost:.3f} {where}", cost <= 0.3)
    for m in ("asha", "top-k"):
        k = cheaper(m)
        _goal(
            f"search cost below {m} in >= 80 % of settings",
            f"{k}/{n} ({100 * k / n:.0f} %)",
            k >= 0.8 * n,
        )
    k = cheaper("halving")
    print(
        f"(not a goal) search cost below synchronous successive halving: {k}/{n} "
        f"({100 * k / n:.0f} %)"
    )
    budget_gap = statistics.median(r["gaps"]["policy_budget"] for r in rows)
    print(
        f"(not a goal) the default budget objective (policy_budget): time/oracle {budget_gap:.3f}, "
        f"best fixed/time {statistics.median(r['gains']['policy_budget'] for r in rows):.3f}, "
        f"cost/grid {statistics.median(r['cost']['policy_budget'] for r in rows):.3f}"
    )
    k = faster("pbt")
    print(
        f"(not a goal) time to target below PBT's: {k}/{n} ({100 * k / n:.0f} %); PBT median "
        f"time/oracle {statistics.median(r['gaps']['pbt'] for r in rows):.3f}, policy {gap:.3f}"
    )
    return {"oracle_gap": gap, "gain_over_best_fixed": gain, "search_cost_ratio": cost}


def time_fits(repeats: int) -> dict[int, float]:
    """Median milliseconds of one ``fit_curve`` + ``extrapolate`` on 10, 30 and 50 noisy points."""
    out = {}
    for n in (10, 30, 50):
        x = np.linspace(1_000.0, 30_000.0, n)
        y = 1.0 + 80.0 * (x + 2_000.0) ** -0.6 + np.random.default_rng(n).normal(0, 0.002, n)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fit_curve(x, y).extrapolate(60_000.0)
            times.append(time.perf_counter() - start)
        out[n] = 1e3 * statistics.median(times)
    return out


def policy_settings(assignments: Sequence[str]) -> tuple[SwitchSettings, dict[str, object]]:
    """The policy's settings: its defaults with each ``NAME=VALUE`` of ``--set`` applied.

    ``VALUE`` is read as YAML (``0.2``, ``3``, ``false``), as in a search-space file's
    ``scheduler`` section, and checked against the option's declaration. Returns the settings
    and the overrides. Raises :class:`UserInputError` (one line) on a malformed assignment, an
    unknown option, one in :data:`FIXED_OPTIONS` or a value out of bounds.
    """
    settable = [n for n in option_names(SwitchSettings) if n not in FIXED_OPTIONS]
    overrides: dict[str, object] = read_assignments(assignments, "--set", "stop_margin=0.2")
    for name, value in overrides.items():
        if name in FIXED_OPTIONS:
            raise UserInputError(
                f"--set {name} is set by the simulator (the candidates, each method's objective, "
                f"the setting's switch cost), but got --set {name}={value}; set another option."
            )
        if name not in settable:
            raise unknown_name("--set", name, settable)
    return replace(SwitchSettings(batch_sizes=CANDIDATES), **overrides), overrides


# --- entry point ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the chosen settings (or a tiny subset with ``--smoke-test``) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="3 settings, 40 reports")
    parser.add_argument("--settings", choices=("heldout", "tuning"), default="heldout")
    parser.add_argument("--count", type=int, default=100, help="held-out settings to draw")
    parser.add_argument("--draw-seed", type=int, default=12, help="seed of the held-out draw")
    parser.add_argument("--seeds", type=int, default=5, help="noise seeds per noisy tuning setting")
    parser.add_argument("--parallel", type=int, default=len(CANDIDATES), help="trial slots")
    parser.add_argument("--top-k", type=int, default=TOP_K, help="trials top-k keeps")
    parser.add_argument("--reports", type=int, help="reports in the oracle's run (all settings)")
    parser.add_argument(
        "--switch-cost", type=float, help="seconds of a switch, in report intervals (all settings)"
    )
    parser.add_argument(
        "--clock-noise",
        type=float,
        help="std of the log of each report interval's duration "
        "(all settings; default: tuning 0, held-out drawn)",
    )
    parser.add_argument(
        "--whole-seconds", action="store_true", help="report both clocks in whole seconds"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a policy option other than its default, for both policy methods (repeatable; "
        "e.g. --set stop_margin=0.2): an A/B of the policy on the same settings",
    )
    parser.add_argument(
        "--true-probe-gate",
        action="store_true",
        help="a what-if, not a policy: a probe is made only where the simulated model says the "
        "probed size is faster (bounds what a better noise-scale estimate could gain)",
    )
    parser.add_argument(
        "--audit-probes",
        action="store_true",
        help="count the policy's probes (made, to a faster size, switched back) and where its "
        "winning trial started; printed after the goals",
    )
    args = parser.parse_args(argv)
    try:
        settings, changed = policy_settings(args.set)
    except UserInputError as error:
        parser.error(str(error))
    positive = {
        "--count": args.count,
        "--seeds": args.seeds,
        "--parallel": args.parallel,
        "--top-k": args.top_k,
        "--reports": args.reports,
    }
    for flag, value in positive.items():
        if value is not None and value < 1:
            parser.error(f"{flag} must be at least 1, but got {flag} {value}; raise it.")
    for flag, value in {
        "--switch-cost": args.switch_cost,
        "--clock-noise": args.clock_noise,
    }.items():
        if value is not None and not value >= 0.0:
            parser.error(f"{flag} must be non-negative, but got {flag} {value}; use e.g. 0.1.")
    if args.settings == "tuning":
        chosen = tuning_settings(args.seeds)
        if args.smoke_test:
            chosen = [replace(chosen[8], seeds=(0,)), replace(chosen[3], seeds=(0,))]
    else:
        chosen = heldout_settings(3 if args.smoke_test else args.count, args.draw_seed)
    overrides = {
        "reports": 40 if args.smoke_test else args.reports,
        "switch_cost": args.switch_cost,
        "clock_noise": args.clock_noise,
    }
    chosen = [replace(s, **{k: v for k, v in overrides.items() if v is not None}) for s in chosen]
    clock = Clock(whole_seconds=args.whole_seconds, phase=0.37 if args.whole_seconds else 0.0)
    print_ranges(args.settings, len(chosen), args.draw_seed, args.clock_noise)
    print(
        f"clocks: {'whole seconds' if args.whole_seconds else 'float'}; "
        f"{args.parallel} slots; top-k keeps {args.top_k}"
    )
    defaults = SwitchSettings(batch_sizes=CANDIDATES)
    print(
        "policy options: "
        + (
            ", ".join(f"{k}={v!r} (default {getattr(defaults, k)!r})" for k, v in changed.items())
            or "the defaults"
        )
    )
    if args.true_probe_gate:
        print(
            "what-if (--true-probe-gate, not a policy): probes the simulated model says are "
            "slower are not made"
        )
    audit = ProbeAudit() if args.audit_probes else None
    started, cpu = time.perf_counter(), time.process_time()
    rows = []
    for setting in chosen:
        row = run_setting(
            setting, settings, args.parallel, clock, args.top_k, args.true_probe_gate, audit
        )
        print_row(row)
        rows.append(row)
    figures = summarise(rows, args.settings)
    for line in audit.lines() if audit is not None else []:
        print(line)
    fits = time_fits(20 if args.smoke_test else 200)
    print(
        "\ncurve fit + extrapolation (median ms): "
        + ", ".join(f"{n} points {ms:.2f}" for n, ms in fits.items())
    )
    print(
        f"(elapsed {time.perf_counter() - started:.1f}s wall, {time.process_time() - cpu:.1f}s "
        "CPU, one process)"
    )
    print(" ".join(f"{k}={v:.3f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
