"""Benchmark: the switching policy vs the oracle, a fixed grid, ASHA and PBT on simulated training.

Every method runs the same population on the simulator of ``tune_bs.simulator`` (the empirical
model of large-batch training): ``N`` trials, one per candidate batch size as starting size, all
running in parallel (``--parallel`` slots), reporting every ``D`` samples (``D`` = the oracle's
samples to target / ``--reports``, at least the largest batch). An event loop replays the reports
in wall-clock order; the experiment ends when some trial's true loss first crosses the target.

Measured per setting:
- ``oracle_gap`` = wall seconds until the policy's first trial reaches the target / the oracle
  schedule's seconds (limit 1.0; goal ≤ 1.10);
- ``search_cost_ratio`` = trial-seconds spent by the whole experiment until then, policy / fixed
  grid (goal ≤ 0.6, and below ASHA's and PBT's ratios).

Settings grid: noise-scale growth 1x, 16x, 256x × c0/c1 16, 64, 256 × observation noise off/on
(σ = 0.006 loss, a tenth of the target's excess loss; 5 seeds per noisy setting, medians shown).
Model: candidates 8…1024, loss 4.0 → target 1.06 (floor 1.0), η = 0.002, B_noise0 = 16,
c1 = 1 ms/sample, a switch costs ``--switch-cost`` report intervals of the best fixed size
(default 0.1; on the real data sets a restart of 1.4–3 s is 10–40 report intervals, so
``--switch-cost 10`` models them). Every trial's budget is twice the best fixed size's time to
target.

Baselines: ``grid`` (every trial keeps its size), ``asha`` (asynchronous successive halving on
trial seconds: rungs at ``grace·4^k`` with grace = budget/64, a trial continues past a rung only
if its loss is in the best quarter of the losses recorded there), ``pbt`` (every tenth of the best
fixed time a trial in the bottom quarter clones a top-quarter trial and moves its batch size one
candidate up or down, or resamples it with probability 0.25; PBT never stops trials). The
policy is :func:`tune_bs.switching.decide` with its default settings, except ``switch_cost_s``
(the restart cost it assumes until it has measured one) = the simulated switch cost, and each
report carries the trial's budget in samples (its budget seconds at its starting size's pace).

Usage: ``python benchmarks/simulator.py [--smoke-test]``; prints one table per setting and
``oracle_gap=<median> search_cost_ratio=<median>`` over the settings.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from tune_bs.curves import fit_curve
from tune_bs.simulator import (
    LargeBatchModel,
    SimState,
    best_fixed,
    initial_state,
    observe,
    oracle,
    switch,
    train,
)
from tune_bs.switching import Decision, FitCache, Peer, Report, SwitchSettings, decide

CANDIDATES = (8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass
class Trial:
    """One simulated trial inside the event loop."""

    index: int
    state: SimState
    rng: np.random.Generator | None
    start_wall: float = math.nan
    reports: list[Report] = field(default_factory=list)
    alive: bool = True
    switches: int = 0
    end_wall: float = math.inf


@dataclass(frozen=True)
class Outcome:
    """What one method achieved on one setting."""

    time_to_target: float  # wall seconds until the first crossing (inf if none)
    cost: float  # trial-seconds spent until then
    switches: int
    stopped: int
    final_sizes: tuple[int, ...]


Hook = Callable[[Trial, list[Trial], float], Decision | tuple[str, int, int] | None]


def simulate(
    model: LargeBatchModel,
    starts: tuple[int, ...],
    report_every: float,
    budget_s: float,
    parallel: int,
    hook: Hook,
    seed: int | None,
) -> Outcome:
    """Run a population under ``hook`` (called on every report) until the first crossing.

    ``hook(trial, trials, wall)`` returns a :class:`Decision`, ``("clone", donor, batch)`` for
    PBT's exploit/explore, or ``None`` (continue).
    """
    trials = [Trial(i, initial_state(model, b), _rng(seed, i)) for i, b in enumerate(starts)]
    queue = list(range(len(trials)))
    events: list[tuple[float, int, int, SimState]] = []
    counter = itertools.count()
    first_crossing = math.inf

    def launch(trial: Trial, wall: float) -> None:
        nonlocal first_crossing
        trial.start_wall = wall
        schedule(trial)

    def schedule(trial: Trial) -> None:
        nonlocal first_crossing
        if trial.state.time_s >= budget_s:
            trial.alive = False
            trial.end_wall = trial.start_wall + trial.state.time_s
            return
        nxt = train(model, trial.state, report_every)
        if math.isfinite(nxt.time_to_target_s):
            first_crossing = min(first_crossing, trial.start_wall + nxt.time_to_target_s)
        heapq.heappush(events, (trial.start_wall + nxt.time_s, next(counter), trial.index, nxt))

    while queue and sum(t.alive and not math.isnan(t.start_wall) for t in trials) < parallel:
        launch(trials[queue.pop(0)], 0.0)
    while events and events[0][0] < first_crossing:
        wall, _, idx, nxt = heapq.heappop(events)
        trial = trials[idx]
        trial.state = nxt
        trial.reports.append(
            Report(
                samples_seen=nxt.samples_seen,
                val_loss=observe(model, nxt.loss, trial.rng),
                batch_size=nxt.batch_size,
                time_s=nxt.time_s,
                accumulation_steps=nxt.accumulation_steps,
                wall_time=wall,
            )
        )
        out = hook(trial, trials, wall)
        if isinstance(out, Decision) and out.action == "stop":
            trial.alive = False
            trial.end_wall = wall
        else:
            if isinstance(out, Decision) and out.action == "switch":
                trial.state = switch(model, trial.state, out.batch_size, out.accumulation_steps)
                trial.switches += 1
            elif isinstance(out, tuple):
                donor = trials[out[1]]
                cloned = replace(donor.state, time_s=trial.state.time_s, time_to_target_s=math.inf)
                cloned = replace(cloned, batch_size=trial.state.batch_size)
                trial.state = switch(model, cloned, out[2])
                trial.state = replace(trial.state, time_s=trial.state.time_s + model.switch_cost_s)
                trial.switches += 1
            schedule(trial)
        if not trial.alive:
            while (
                queue and sum(t.alive and not math.isnan(t.start_wall) for t in trials) < parallel
            ):
                launch(trials[queue.pop(0)], wall)
    end = first_crossing
    cost = 0.0
    for t in trials:
        if math.isnan(t.start_wall):
            continue
        cost += max(0.0, min(end, t.end_wall) - t.start_wall)
    return Outcome(
        time_to_target=end,
        cost=cost,
        switches=sum(t.switches for t in trials),
        stopped=sum(1 for t in trials if not t.alive and t.end_wall < end),
        final_sizes=tuple(t.state.batch_size for t in trials if t.alive),
    )


def _rng(seed: int | None, index: int) -> np.random.Generator | None:
    """The observation-noise stream of trial ``index`` (none without a seed)."""
    return None if seed is None else np.random.default_rng([seed, index])


def policy_hook(
    settings: SwitchSettings, model: LargeBatchModel | None = None, budget_s: float | None = None
) -> Hook:
    """The switching policy: :func:`tune_bs.switching.decide` on every report.

    With ``model`` and ``budget_s``, each new report carries the trial's budget in samples:
    ``budget_s`` at the pace of its starting batch size (a trial's budget is seconds here).
    """
    cache = FitCache()

    def hook(trial: Trial, trials: list[Trial], wall: float) -> Decision:
        if model is not None and budget_s is not None and trial.reports[-1].budget_samples is None:
            first = trial.reports[0]
            pace = model.seconds_per_sample(first.batch_size, first.accumulation_steps)
            trial.reports[-1] = replace(trial.reports[-1], budget_samples=budget_s / pace)
        peers = {
            str(t.index): Peer(t.reports, t.alive)
            for t in trials
            if t.index != trial.index and t.reports
        }
        return decide(trial.reports, peers, settings, cache)

    return hook


def grid_hook(trial: Trial, trials: list[Trial], wall: float) -> None:
    """Fixed grid: every trial keeps its batch size."""
    return None


def asha_hook(grace_s: float, max_t: float, eta: int = 4) -> Hook:
    """Asynchronous successive halving on trial seconds (Li et al. 2020; Tune's ASHA rule)."""
    rungs = []
    r = grace_s
    while r < max_t:
        rungs.append(r)
        r *= eta
    recorded: dict[float, list[float]] = {r: [] for r in rungs}
    passed: dict[int, set[float]] = {}

    def hook(trial: Trial, trials: list[Trial], wall: float) -> Decision | None:
        t = trial.state.time_s
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


def pbt_hook(interval_s: float, seed: int, quantile: float = 0.25) -> Hook:
    """PBT: bottom-quantile trials clone a top-quantile one and perturb its batch size."""
    rng = np.random.default_rng(seed)
    last: dict[int, int] = {}

    def hook(trial: Trial, trials: list[Trial], wall: float) -> tuple[str, int, int] | None:
        k = int(trial.state.time_s // interval_s)
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
        return ("clone", donor.index, CANDIDATES[pos])

    return hook


def run_setting(
    growth: float,
    ratio: float,
    noise: bool,
    settings: SwitchSettings,
    reports: int,
    parallel: int,
    seeds: int,
    switch_cost: float = 0.1,
) -> dict[str, object]:
    """All methods on one setting (``seeds`` noise seeds when noise is on); medians per method."""
    base = LargeBatchModel(noise_growth=growth, step_overhead_s=ratio * 0.001)
    orc = oracle(base, CANDIDATES)
    bf_size, bf_time = best_fixed(base, CANDIDATES)
    report_every = max(orc.samples_to_target / reports, float(max(CANDIDATES)))
    step_s = report_every * base.seconds_per_sample(bf_size)
    model = replace(
        base,
        switch_cost_s=switch_cost * step_s,  # a pause + restore, in report intervals
        obs_noise=0.1 * (base.target_loss - base.min_loss) if noise else 0.0,
    )
    budget = 2.0 * bf_time
    hooks: dict[str, Callable[[], Hook]] = {
        "policy": lambda: policy_hook(
            replace(settings, switch_cost_s=model.switch_cost_s), model, budget
        ),
        "grid": lambda: grid_hook,
        "asha": lambda: asha_hook(budget / 64, budget),
        "pbt": lambda: pbt_hook(bf_time / 10, 1),
    }
    seed_list: list[int | None] = list(range(seeds)) if noise else [None]
    runs: dict[str, list[Outcome]] = {name: [] for name in hooks}
    for seed in seed_list:
        for name, make in hooks.items():
            runs[name].append(
                simulate(model, CANDIDATES, report_every, budget, parallel, make(), seed)
            )
    gaps = {k: [o.time_to_target / orc.time_to_target_s for o in v] for k, v in runs.items()}
    costs = {
        k: [o.cost / g.cost for o, g in zip(v, runs["grid"], strict=True)] for k, v in runs.items()
    }
    return {
        "growth": growth,
        "ratio": ratio,
        "noise": noise,
        "seeds": len(seed_list),
        "oracle_s": orc.time_to_target_s,
        "oracle_sizes": [b for _, b in orc.pieces],
        "best_fixed": (bf_size, bf_time / orc.time_to_target_s),
        "runs": runs,
        "gaps": {k: statistics.median(v) for k, v in gaps.items()},
        "worst_gap": {k: max(v) for k, v in gaps.items()},
        "cost": {k: statistics.median(v) for k, v in costs.items()},
    }


def print_row(row: dict[str, object]) -> None:
    """One table per setting: each method's time-to-target gap, cost ratio, switches, stops."""
    print(
        f"\n## B_noise growth {row['growth']:g}x, c0/c1 {row['ratio']:g}, "
        f"observation noise {'on' if row['noise'] else 'off'} ({row['seeds']} seed(s); "
        f"oracle {row['oracle_s']:.0f}s via {row['oracle_sizes']}; best fixed "
        f"{row['best_fixed'][0]} at {row['best_fixed'][1]:.3f}x oracle)"
    )
    print(
        "| method | time/oracle | worst seed | cost/grid | switches | stopped "
        "| sizes at end (first seed) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, outs in row["runs"].items():
        first = outs[0]
        print(
            f"| {name} | {row['gaps'][name]:.3f} | {row['worst_gap'][name]:.3f} | "
            f"{row['cost'][name]:.3f} | {statistics.median(o.switches for o in outs):g} | "
            f"{statistics.median(o.stopped for o in outs):g} | {list(first.final_sizes)} |"
        )


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


def main(argv: list[str] | None = None) -> int:
    """Run the grid of settings (or a tiny one with ``--smoke-test``) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true", help="two settings, coarse reports")
    parser.add_argument("--reports", type=int, default=100, help="oracle reports to target")
    parser.add_argument("--parallel", type=int, default=len(CANDIDATES), help="trial slots")
    parser.add_argument("--seeds", type=int, default=5, help="noise seeds per noisy setting")
    parser.add_argument(
        "--switch-cost", type=float, default=0.1, help="seconds of a switch, in report intervals"
    )
    args = parser.parse_args(argv)
    settings = SwitchSettings(batch_sizes=CANDIDATES)
    if args.smoke_test:
        grid = [(16.0, 64.0, False), (1.0, 64.0, True)]
        reports = 40
        args.seeds = 1
    else:
        grid = list(itertools.product((1.0, 16.0, 256.0), (16.0, 64.0, 256.0), (False, True)))
        reports = args.reports
    started = time.perf_counter()
    rows = []
    for growth, ratio, noise in grid:
        row = run_setting(
            growth, ratio, noise, settings, reports, args.parallel, args.seeds, args.switch_cost
        )
        print_row(row)
        rows.append(row)
    gaps = [r["gaps"]["policy"] for r in rows]
    costs = [r["cost"]["policy"] for r in rows]
    print("\n## summary over settings (median)")
    print("| method | time/oracle | cost/grid | settings where policy cost < method |")
    print("|---|---|---|---|")
    for name in ("policy", "grid", "asha", "pbt"):
        med_gap = statistics.median(r["gaps"][name] for r in rows)
        med_cost = statistics.median(r["cost"][name] for r in rows)
        wins = sum(r["cost"]["policy"] < r["cost"][name] for r in rows)
        print(f"| {name} | {med_gap:.3f} | {med_cost:.3f} | {wins}/{len(rows)} |")
    fits = time_fits(20 if args.smoke_test else 200)
    print(
        "\ncurve fit + extrapolation (median ms): "
        + ", ".join(f"{n} points {ms:.2f}" for n, ms in fits.items())
    )
    print(f"(elapsed {time.perf_counter() - started:.1f}s)")
    print(
        f"oracle_gap={statistics.median(gaps):.3f} search_cost_ratio={statistics.median(costs):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
