"""A deterministic simulator of training under a batch-size schedule (docs/design.md §8); pure
numpy/scipy.

The model is the empirical model of large-batch training (McCandlish et al. 2018, "An empirical
model of large-batch training"), with the loss ``L`` above its floor ``L_min`` (excess
``ℓ = L − L_min``):

- one optimizer step with (effective) batch ``B`` lowers the loss by
  ``ΔL = ΔL_max(L) / (1 + B_noise(L)/B)``, with ``ΔL_max(L) = η·ℓ`` (a perfect-gradient step
  removes the fraction ``η`` of the excess loss);
- the gradient-noise scale grows as the loss falls, ``B_noise(L) = B_noise0·(ℓ0/ℓ)^p``, with ``p``
  chosen so that ``B_noise`` grows by ``noise_growth`` between the initial and the target loss
  (``noise_growth = 1``: constant noise scale);
- a step with loader batch ``b`` and ``k`` accumulated minibatches (effective ``B = k·b``) costs
  ``k·(c₀ + c₁·b)`` seconds: ``c₀`` = ``step_overhead_s``, ``c₁`` = ``per_sample_s``;
- every switch of the batch size costs ``switch_cost_s`` seconds (pause, restore);
- the reported loss is the true loss plus Gaussian observation noise of standard deviation
  ``obs_noise`` (loss units), drawn from an explicit seed.

Steps are treated as continuous (the ODE limit, exact as ``η → 0``): per sample,
``dℓ/dS = −η·ℓ / (B + B_noise(ℓ))``, which integrates in closed form,
``S(ℓ₁→ℓ₂) = [B·ln(ℓ₁/ℓ₂) + B_noise0·ℓ0^p·(ℓ₂^(−p) − ℓ₁^(−p))/p] / η``; the loss after a given
number of samples is the root of that monotone function (``brentq``). Times to target are exact
crossings, not report-rounded.

The **oracle** runs, at every loss level, the candidate with the largest loss decrease per second,
``−dL/dt = η·ℓ / ((B + B_noise)·s(B))`` with ``s`` the seconds per sample. Because
``(B + B_noise)·s(B)`` is a line in ``B_noise`` for each candidate, the oracle schedule is the lower
envelope of those lines: it only ever moves to larger batches as the loss falls. It ignores
switch costs (it is the limit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq

from tune_bs.errors import UserInputError


@dataclass(frozen=True)
class LargeBatchModel:
    """Parameters of the simulated training run (units in the field comments)."""

    initial_loss: float = 4.0  # loss at samples_seen = 0
    min_loss: float = 1.0  # irreducible loss L_min
    target_loss: float = 1.06  # the loss a run must reach
    step_fraction: float = 0.002  # η: fraction of the excess loss a noiseless step removes
    noise_scale_initial: float = 16.0  # B_noise at the initial loss, in samples
    noise_growth: float = 16.0  # B_noise(target) / B_noise(initial), ≥ 1
    step_overhead_s: float = 0.064  # c₀: seconds per minibatch independent of its size
    per_sample_s: float = 0.001  # c₁: seconds per sample
    switch_cost_s: float = 0.0  # seconds lost at every change of batch size
    obs_noise: float = 0.0  # std of the additive noise on the reported loss

    def __post_init__(self) -> None:
        if not self.initial_loss > self.target_loss > self.min_loss:
            raise UserInputError(
                "the losses must satisfy initial_loss > target_loss > min_loss, but got "
                f"{self.initial_loss=}, {self.target_loss=}, {self.min_loss=}; reorder them."
            )
        positive = {
            "step_fraction": self.step_fraction,
            "noise_scale_initial": self.noise_scale_initial,
            "step_overhead_s": self.step_overhead_s,
            "per_sample_s": self.per_sample_s,
        }
        for name, value in positive.items():
            if not value > 0.0:
                raise UserInputError(f"{name} must be positive, but got {name}={value}.")
        if not 0.0 < self.step_fraction < 1.0:
            raise UserInputError(
                f"step_fraction must be in (0, 1), but got step_fraction={self.step_fraction}."
            )
        if not self.noise_growth >= 1.0:
            raise UserInputError(
                f"noise_growth must be at least 1, but got noise_growth={self.noise_growth}."
            )
        if self.switch_cost_s < 0.0 or self.obs_noise < 0.0:
            raise UserInputError(
                "switch_cost_s and obs_noise must be non-negative, but got "
                f"{self.switch_cost_s=}, {self.obs_noise=}."
            )

    @property
    def noise_exponent(self) -> float:
        """``p`` in ``B_noise = B_noise0·(ℓ0/ℓ)^p``."""
        span = (self.initial_loss - self.min_loss) / (self.target_loss - self.min_loss)
        return math.log(self.noise_growth) / math.log(span)

    def noise_scale(self, loss: float) -> float:
        """Gradient-noise scale ``B_noise`` (samples) at loss ``loss``."""
        ratio = (self.initial_loss - self.min_loss) / (loss - self.min_loss)
        return self.noise_scale_initial * ratio**self.noise_exponent

    def seconds_per_sample(self, batch_size: int, accumulation_steps: int = 1) -> float:
        """Wall seconds per training sample with loader batch ``batch_size`` (any accumulation)."""
        del accumulation_steps  # k minibatches cost k times one minibatch: per sample the same
        return (self.step_overhead_s + self.per_sample_s * batch_size) / batch_size

    def progress_per_second(
        self, loss: float, batch_size: int, accumulation_steps: int = 1
    ) -> float:
        """True loss decrease per wall second, ``−dL/dt``, at ``loss`` (the oracle's criterion)."""
        excess = loss - self.min_loss
        effective = batch_size * accumulation_steps
        per_sample = self.step_fraction * excess / (effective + self.noise_scale(loss))
        return per_sample / self.seconds_per_sample(batch_size, accumulation_steps)

    def samples_between(self, loss_from: float, loss_to: float, effective_batch: float) -> float:
        """Training samples needed to go from ``loss_from`` down to ``loss_to`` at batch ``B``."""
        l1 = loss_from - self.min_loss
        l2 = loss_to - self.min_loss
        if l2 >= l1:
            return 0.0
        if l2 <= 0.0:  # the floor itself (or below, by round-off) is never reached
            return math.inf
        p = self.noise_exponent
        k = self.noise_scale_initial * (self.initial_loss - self.min_loss) ** p
        noise_part = k * math.log(l1 / l2) if p == 0.0 else k * (l2**-p - l1**-p) / p
        return (effective_batch * math.log(l1 / l2) + noise_part) / self.step_fraction

    def loss_after(self, loss_from: float, samples: float, effective_batch: float) -> float:
        """True loss after ``samples`` more training samples at batch ``B`` from ``loss_from``."""
        if samples <= 0.0:
            return loss_from
        l1 = loss_from - self.min_loss
        p = self.noise_exponent
        if p == 0.0:
            rate = self.step_fraction / (effective_batch + self.noise_scale_initial)
            return self.min_loss + l1 * math.exp(-rate * samples)
        z1 = math.log(l1)
        z_lo = z1 - self.step_fraction * samples / effective_batch  # noise only slows progress

        def gap(z: float) -> float:
            return self.samples_between(loss_from, self.min_loss + math.exp(z), effective_batch) - (
                samples
            )

        if gap(z_lo) <= 0.0:
            return self.min_loss + math.exp(z_lo)
        z = brentq(gap, z_lo, z1, xtol=1e-12, rtol=1e-12)
        return self.min_loss + math.exp(z)


@dataclass(frozen=True)
class SimState:
    """Where a simulated trial is: true loss, samples seen, wall seconds, batch in force."""

    loss: float
    samples_seen: float = 0.0
    time_s: float = 0.0
    batch_size: int = 0
    accumulation_steps: int = 1
    time_to_target_s: float = math.inf  # trial seconds at the exact target crossing, if reached


def initial_state(model: LargeBatchModel, batch_size: int, accumulation_steps: int = 1) -> SimState:
    """A trial at samples 0, time 0, the initial loss, training at the given batch size."""
    return SimState(
        loss=model.initial_loss, batch_size=batch_size, accumulation_steps=accumulation_steps
    )


def switch(
    model: LargeBatchModel, state: SimState, batch_size: int, accumulation_steps: int = 1
) -> SimState:
    """Change the batch size in force; costs ``switch_cost_s`` when it actually changes."""
    same = (batch_size, accumulation_steps) == (state.batch_size, state.accumulation_steps)
    if same:
        return state
    return replace(
        state,
        batch_size=batch_size,
        accumulation_steps=accumulation_steps,
        time_s=state.time_s + model.switch_cost_s,
    )


def train(
    model: LargeBatchModel, state: SimState, samples: float, time_factor: float = 1.0
) -> SimState:
    """Train ``samples`` more samples at the state's batch size; records the target crossing.

    ``time_factor`` (> 0) scales the seconds of this stretch only (a machine that runs it slower
    or faster, e.g. the jitter of a shared host); the loss depends on samples, not seconds.
    """
    if not time_factor > 0.0:
        raise UserInputError(f"time_factor must be positive, but got {time_factor=}.")
    effective = state.batch_size * state.accumulation_steps
    spp = time_factor * model.seconds_per_sample(state.batch_size, state.accumulation_steps)
    new_loss = model.loss_after(state.loss, samples, effective)
    crossing = state.time_to_target_s
    if math.isinf(crossing) and new_loss <= model.target_loss:
        needed = model.samples_between(state.loss, model.target_loss, effective)
        crossing = state.time_s + needed * spp
    return replace(
        state,
        loss=new_loss,
        samples_seen=state.samples_seen + samples,
        time_s=state.time_s + samples * spp,
        time_to_target_s=crossing,
    )


def observe(model: LargeBatchModel, loss: float, rng: np.random.Generator | None) -> float:
    """The reported loss: ``loss`` plus ``N(0, obs_noise²)`` drawn from ``rng`` (none if no rng)."""
    if rng is None or model.obs_noise == 0.0:
        return loss
    return float(loss + model.obs_noise * rng.standard_normal())


@dataclass(frozen=True)
class SimCurve:
    """Reports of one simulated run (arrays of equal length, one entry per report)."""

    samples_seen: np.ndarray
    time_s: np.ndarray
    loss: np.ndarray  # reported (observed) loss
    true_loss: np.ndarray
    batch_size: np.ndarray
    time_to_target_s: float  # exact crossing time, inf if never reached


def run_schedule(
    model: LargeBatchModel,
    schedule: Sequence[tuple[float, int]] | Sequence[tuple[float, int, int]],
    *,
    report_every: float,
    max_samples: float,
    axis: str = "samples",
    seed: int | None = None,
) -> SimCurve:
    """Simulate a piecewise-constant schedule and report every ``report_every`` samples.

    ``schedule``: ``(start, batch_size[, accumulation_steps])`` pieces sorted by ``start``, the
    first starting at 0; ``start`` is in samples seen (``axis="samples"``) or trial seconds
    (``axis="time"``); a piece starting at time ``t`` takes effect at the first report at or
    after ``t``. ``report_every``: samples between reports. ``max_samples``: where the run
    ends. ``seed``: seeds the observation noise (none when ``None``).
    """
    if axis not in ("samples", "time"):
        raise UserInputError(f"axis must be 'samples' or 'time', but got axis={axis!r}.")
    if not schedule or schedule[0][0] != 0:
        raise UserInputError("schedule must start with a piece at 0, e.g. [(0, 32)].")
    if not report_every > 0.0:
        raise UserInputError(f"report_every must be positive, but got {report_every=}.")
    pieces = [(float(p[0]), int(p[1]), int(p[2]) if len(p) > 2 else 1) for p in schedule]
    rng = np.random.default_rng(seed) if seed is not None else None
    state = initial_state(model, pieces[0][1], pieces[0][2])
    rows: list[tuple[float, float, float, float, int]] = []
    while state.samples_seen < max_samples - 1e-9:
        position = state.samples_seen if axis == "samples" else state.time_s
        current = [p for p in pieces if p[0] <= position + 1e-9][-1]
        state = switch(model, state, current[1], current[2])
        chunk = min(report_every, max_samples - state.samples_seen)
        if axis == "samples":  # stop a chunk at the next piece boundary
            later = [p[0] for p in pieces if p[0] > state.samples_seen + 1e-9]
            if later:
                chunk = min(chunk, later[0] - state.samples_seen)
        state = train(model, state, chunk)
        rows.append(
            (
                state.samples_seen,
                state.time_s,
                observe(model, state.loss, rng),
                state.loss,
                state.batch_size * state.accumulation_steps,
            )
        )
    arr = np.array(rows, dtype=float).reshape(-1, 5)
    return SimCurve(
        samples_seen=arr[:, 0],
        time_s=arr[:, 1],
        loss=arr[:, 2],
        true_loss=arr[:, 3],
        batch_size=arr[:, 4].astype(int),
        time_to_target_s=state.time_to_target_s,
    )


def fixed_time_to_target(model: LargeBatchModel, batch_size: int) -> float:
    """Trial seconds to reach ``target_loss`` at one fixed batch size (closed form)."""
    samples = model.samples_between(model.initial_loss, model.target_loss, batch_size)
    return samples * model.seconds_per_sample(batch_size)


def best_fixed(model: LargeBatchModel, batch_sizes: Sequence[int]) -> tuple[int, float]:
    """The fixed candidate with the shortest time to target: ``(batch_size, seconds)``."""
    times = {b: fixed_time_to_target(model, b) for b in batch_sizes}
    best = min(times, key=lambda b: (times[b], b))
    return best, times[best]


@dataclass(frozen=True)
class OracleSchedule:
    """The oracle: ``pieces`` = ``(loss at which it starts, batch_size)`` and time to target."""

    pieces: tuple[tuple[float, int], ...]
    time_to_target_s: float
    samples_to_target: float


def oracle(model: LargeBatchModel, batch_sizes: Sequence[int]) -> OracleSchedule:
    """At every loss level run the candidate with the most loss decrease per second.

    Exact: the envelope of the lines ``h_B(B_noise) = (B + B_noise)·s(B)`` (smallest ``h`` is
    fastest) is walked from the initial to the target noise scale, and each piece's samples and
    seconds come from the closed form. Ties go to the smaller batch.
    """
    if not batch_sizes or any(int(b) < 1 for b in batch_sizes):
        raise UserInputError(f"batch_sizes must be positive integers, but got {batch_sizes=}.")
    cands = sorted({int(b) for b in batch_sizes})
    slope = {b: model.seconds_per_sample(b) for b in cands}

    def h(b: int, bn: float) -> float:
        return (b + bn) * slope[b]

    bn = model.noise_scale(model.initial_loss)
    bn_end = model.noise_scale(model.target_loss)
    current = min(cands, key=lambda b: (h(b, bn), b))
    thresholds: list[tuple[float, int]] = []  # (noise scale where it starts, batch)
    thresholds.append((bn, current))
    while True:
        # Later candidates have smaller slopes; the next one is the earliest crossing.
        crossings = []
        for b in cands:
            if slope[b] < slope[current]:
                cross = (b * slope[b] - current * slope[current]) / (slope[current] - slope[b])
                if cross > bn:
                    crossings.append((cross, b))
        if not crossings:
            break
        cross, nxt = min(crossings)
        if cross >= bn_end:
            break
        thresholds.append((cross, nxt))
        bn, current = cross, nxt

    l0 = model.initial_loss - model.min_loss
    p = model.noise_exponent
    pieces: list[tuple[float, int]] = []
    for bn_start, b in thresholds:
        if p == 0.0:
            level = model.initial_loss
        else:
            level = model.min_loss + l0 * (model.noise_scale_initial / bn_start) ** (1.0 / p)
        pieces.append((min(level, model.initial_loss), b))
    total_s = 0.0
    total_samples = 0.0
    for i, (level, b) in enumerate(pieces):
        end = pieces[i + 1][0] if i + 1 < len(pieces) else model.target_loss
        samples = model.samples_between(level, end, b)
        total_samples += samples
        total_s += samples * model.seconds_per_sample(b)
    return OracleSchedule(
        pieces=tuple(pieces), time_to_target_s=total_s, samples_to_target=total_samples
    )
