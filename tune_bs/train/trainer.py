"""The contrastive training loop of one trial, without Ray.

:class:`ContrastiveTrainer` owns the model, the optimiser, the batch stream and every random
generator of one trial, and can save and restore all of them: a trainer restored from
:meth:`~ContrastiveTrainer.state_dict` continues exactly (same batches, same views, same
weights) — and continues at a different batch size when the scheduler changed it.

Rules:

- Batches are index slices of the training tensor, which sits on the trial's device; there is no
  per-sample collate. The batch stream shuffles once per epoch with its own seeded generator; a
  batch never spans two epochs; a trailing remainder of a single series is skipped for that
  epoch (NT-Xent needs 2+ series).
- ``samples_seen`` counts training series consumed (each gives an anchor pair).
- With ``accumulation_steps`` = k > 1, one optimiser step averages the gradients of k minibatches
  of ``batch_size`` (effective batch size k × ``batch_size``; the NT-Xent negatives still come from
  one minibatch).
- A report is due every ``report_every`` samples; training ends at ``budget_samples``.
- The batch strategy (``strategy``, :mod:`tune_bs.train.strategies`) supplies the batches, the
  per-sample weights and score-weighted accumulation. Strategies that need the data's modes share
  one cluster step per trial (:meth:`ContrastiveTrainer.prepare`): features are the raw series
  (``cluster_features: raw``) or the encoder's representations after pretraining for
  ``cluster_pretrain_epochs`` epochs with plain batches (``pretrained``; those samples count in
  ``samples_seen``, and reports fall due during pretraining as at any other time); the
  assignment, and whether it was made yet, live in the checkpoint.
- Time: ``trial_time_s`` sums the clock's seconds spent in training and evaluation (not start-up,
  checkpointing or restores) and lives in the checkpoint; ``wall_time_s`` is the clock's reading
  at the report (:mod:`tune_bs.train.clock`: real seconds, or a deterministic cost model in tests).
- A trial has *diverged* once a training loss or its ``val_loss`` is NaN or infinite; it stays so.
- The objective (``loss``, :mod:`tune_bs.train.objectives`) turns a batch into a loss: NT-Xent on
  two augmented views, or TS2Vec's hierarchical loss on two overlapping crops.
- Evaluation (``val_loss``, the probes) follows :mod:`tune_bs.train.trial_eval`: ``val_loss``
  means the same thing for every training batch size, temperature, augmentation and device.
- ``normalise`` (when set) normalises the trial's copy of a data set loaded raw
  (:meth:`~tune_bs.data.TimeSeriesData.normalised`): a search can search the normalisation.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from tune_bs import metrics as m
from tune_bs.data import TimeSeriesData
from tune_bs.train.accumulation import ScoreWeightedAccumulator
from tune_bs.train.clock import Clock, WallClock
from tune_bs.train.clustering import ClusterAssignment, assign_clusters, series_features
from tune_bs.train.encoders import ContrastiveModel, build_encoder
from tune_bs.train.objectives import LOSSES
from tune_bs.train.settings import TrainSettings
from tune_bs.train.strategies import BatchStream, build_strategy
from tune_bs.train.trial_eval import (
    device_views,
    nan_metrics,
    probe_metrics,
    representations,
    validation_loss,
)

__all__ = ["BatchStream", "ContrastiveTrainer", "TrainSettings", "format_schedule"]


def format_schedule(schedule: list[tuple[int, int, int]]) -> str:
    """``[(0, 16, 1), (1200, 32, 1), (2400, 32, 2)]`` → ``"0:16;1200:32;2400:32x2"``.

    Each entry is samples seen : batch size, with ``xk`` when k accumulation steps make one update.
    """
    return ";".join(f"{s}:{b}" + (f"x{k}" if k > 1 else "") for s, b, k in schedule)


class ContrastiveTrainer:
    """One trial's model, optimiser, data on device, generators and progress (module rules)."""

    def __init__(
        self,
        data: TimeSeriesData,
        settings: TrainSettings,
        device: torch.device,
        clock: Clock | None = None,
    ) -> None:
        if settings.normalise:
            data = data.normalised(settings.normalise)
        self.data, self.settings, self.device = data, settings, torch.device(device)
        self.clock: Clock = clock or WallClock()
        self.trial_time_s = 0.0  # seconds of training and evaluation (module rules)
        self.diverged = False
        self.last_train_loss = float("nan")
        torch.manual_seed(settings.seed)
        encoder = build_encoder(
            settings.encoder,
            data.n_channels,
            settings.hidden,
            settings.bidirectional,
            settings.depth,
            settings.repr_dim,
        )
        self.model = ContrastiveModel(encoder, settings.projection_dim).to(self.device)
        self.objective = LOSSES[settings.loss]
        self.objective.check(self.model, settings.encoder)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
        )
        self.augmenter = settings.augmenter()
        # The object store hands out read-only arrays: copy once into a tensor on the device.
        self.X_train = torch.tensor(data.X_train, device=self.device)  # [N, C, T]
        self.strategy = build_strategy(settings.strategy, settings, data.n_train)
        self.stream = self.strategy.make_stream(settings.seed)
        self.clusters: ClusterAssignment | None = None
        self.prepared = False
        # the config values last applied: a change of them is a scheduler's switch
        self.config_batch = (settings.batch_size, settings.accumulation_steps)
        self.switch_at = 0  # report index of the last scheduler switch applied
        self.view_generator = torch.Generator(device=self.device).manual_seed(settings.seed + 1)
        self.samples_seen = 0
        self.batch_size = settings.batch_size
        self.accumulation_steps = settings.accumulation_steps
        self.schedule: list[tuple[int, int, int]] = [
            (0, settings.batch_size, settings.accumulation_steps)
        ]
        self.reports = 0
        self.oom_backoffs = 0
        self._val_views = device_views(data.X_val, self.device, self.objective)

    # --- progress -------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.samples_seen >= self.settings.budget_samples

    @property
    def next_report_at(self) -> int:
        """Samples seen at which the next report is due (capped at the budget)."""
        return min((self.reports + 1) * self.settings.report_every, self.settings.budget_samples)

    def apply_config(self, batch_size: int, accumulation_steps: int, switch_at: int = 0) -> bool:
        """Apply a trial config's batch size after a (re)start; True when it was changed.

        A scheduler's switch is a config whose ``switch_at`` (the report index it was decided
        on) is newer than the last one applied — applied even when it names the configured size
        while the trainer runs another (``cluster_count``'s α·M, an out-of-memory back-off);
        without one, only a change of the config since it was last applied counts, so a resumed
        trial whose strategy chose its own batch size keeps it.
        """
        wanted = (int(batch_size), int(accumulation_steps))
        if switch_at > self.switch_at:
            return self.apply_switch(*wanted, switch_at)
        if wanted == self.config_batch:
            return False
        self.config_batch = wanted
        return self.set_batch_size(*wanted)

    def apply_switch(self, batch_size: int, accumulation_steps: int, switch_at: int) -> bool:
        """Train at a scheduler's size from now on (decided on report ``switch_at``); True when
        the size in force changed."""
        self.config_batch = (int(batch_size), int(accumulation_steps))
        self.switch_at = max(self.switch_at, int(switch_at))
        return self.set_batch_size(int(batch_size), int(accumulation_steps))

    def set_batch_size(self, batch_size: int, accumulation_steps: int | None = None) -> bool:
        """Use ``batch_size`` (and ``accumulation_steps``) from now on; record the change in the
        schedule. True when something changed."""
        batch_size = int(batch_size)
        steps = self.accumulation_steps if accumulation_steps is None else int(accumulation_steps)
        if (batch_size, steps) == (self.batch_size, self.accumulation_steps):
            return False
        self.batch_size, self.accumulation_steps = batch_size, steps
        entry = (self.samples_seen, batch_size, steps)
        if self.schedule[-1][0] == self.samples_seen:
            self.schedule[-1] = entry
        else:
            self.schedule.append(entry)
        return True

    # --- the shared cluster step ---------------------------------------------------------------
    @property
    def pretrain_end(self) -> int:
        """Samples seen at which plain pretraining ends and the cluster step runs (0: none)."""
        s = self.settings
        if not self.strategy.needs_clusters or s.cluster_features != "pretrained":
            return 0
        return min(round(s.cluster_pretrain_epochs * self.data.n_train), s.budget_samples)

    def prepare(self) -> None:
        """Cluster the training data once if the strategy needs it; set its starting batch size.

        With ``cluster_features: pretrained`` the encoder first trains with plain batches up to
        :attr:`pretrain_end` samples (here, if :meth:`train_until` has not done it already).
        """
        if self.prepared:
            return
        if self.samples_seen < self.pretrain_end:
            self._train_samples(self.pretrain_end)
        self._cluster_step()

    def _cluster_step(self) -> None:
        self.prepared = True
        if not self.strategy.needs_clusters:
            return
        s = self.settings
        if s.cluster_features == "pretrained":
            features = self.represent(self.data.X_train)
        else:
            features = series_features(self.data.X_train, seed=s.seed)
        self.clusters = assign_clusters(
            features, s.cluster_method, s.cluster_k_min, s.cluster_k_max, seed=s.seed
        )
        self._attach(self.clusters)
        self.set_batch_size(self.strategy.initial_batch_size(self.batch_size))

    def _attach(self, clusters: ClusterAssignment) -> None:
        self.strategy.attach_clusters(clusters)
        self.stream = self.strategy.make_stream(self.settings.seed)

    # --- training -------------------------------------------------------------------------
    @property
    def progress(self) -> float:
        """Fraction of the samples budget done, in [0, 1]."""
        return min(1.0, self.samples_seen / max(1, self.settings.budget_samples))

    def _minibatch_loss(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss of the next minibatch and its indices."""
        idx = self.stream.next(self.batch_size)
        x = self.X_train[idx.to(self.device)]  # [B, C, T], an index slice of the on-device tensor

        def weights_of(z: torch.Tensor) -> torch.Tensor | None:
            # plain batches while pretraining
            return self.strategy.sample_weights(idx, self.progress, z) if self.prepared else None

        loss = self.objective.train_loss(
            self.model,
            x,
            self.augmenter,
            self.view_generator,
            self.settings.temperature,
            weights_of,
        )
        return loss, idx

    def train_step(self) -> float:
        """One optimiser step; the mean loss of its minibatches.

        ``accumulation_steps`` minibatches with equal weight, or, for score-accumulating
        strategies, minibatches weighted by their scores until the strategy's score mass.
        """
        self.optimizer.zero_grad(set_to_none=True)
        losses, samples = [], 0
        if self.strategy.scores_batches and self.prepared:
            accumulator = ScoreWeightedAccumulator(
                self.model.parameters(),
                self.strategy.accumulation_target(self.accumulation_steps),
                self.settings.max_accumulated,
            )
            ready = False
            while not ready:
                loss, idx = self._minibatch_loss()
                ready = accumulator.add(loss, self.strategy.batch_score(idx))
                losses.append(float(loss.detach()))
                samples += len(idx)
            accumulator.finish()
        else:
            for _ in range(self.accumulation_steps):
                loss, idx = self._minibatch_loss()
                (loss / self.accumulation_steps).backward()
                losses.append(float(loss.detach()))
                samples += len(idx)
        self.optimizer.step()
        self.samples_seen += samples
        self.strategy.record_update(len(losses), samples)
        return float(np.mean(losses))

    def train_until(self, samples_target: int) -> float:
        """Train until ``samples_seen ≥ samples_target`` (pretraining and the cluster step
        included); the mean loss of the steps taken (NaN once diverged; the previous interval's
        when no step was needed)."""
        started = self.clock.now()
        losses: list[float] = []
        if not self.prepared:
            losses += self._steps(min(samples_target, self.pretrain_end))
            if self.samples_seen >= self.pretrain_end and not self.diverged:
                self._cluster_step()
        if not self.diverged:
            losses += self._steps(samples_target)
        self.trial_time_s += self.clock.now() - started
        if self.diverged:
            self.last_train_loss = float("nan")
        elif losses:
            self.last_train_loss = float(np.mean(losses))
        return self.last_train_loss

    def _train_samples(self, samples_target: int) -> float:
        """Train with the current stream until ``samples_target``; mean loss (NaN if none)."""
        losses = self._steps(samples_target)
        return float(np.mean(losses)) if losses else float("nan")

    def _steps(self, samples_target: int) -> list[float]:
        """Optimiser steps until ``samples_seen ≥ samples_target``; their losses. A non-finite
        loss marks the trial diverged and ends the steps."""
        losses: list[float] = []
        self.model.train()
        while self.samples_seen < samples_target and not self.diverged:
            before = self.samples_seen
            loss = self.train_step()
            self.clock.charge_step(self.samples_seen - before)
            losses.append(loss)
            if not math.isfinite(loss):
                self.diverged = True
        return losses

    # --- evaluation -----------------------------------------------------------------------
    def val_loss(self) -> float:
        """``val_loss`` on the fixed validation views (:mod:`tune_bs.train.trial_eval`)."""
        return validation_loss(self.model, self._val_views, self.objective)

    def represent(self, X: np.ndarray, chunk: int = 512) -> np.ndarray:
        """Encoder output ``[N, D]`` for ``X`` ``[N, C, T]``, in eval mode."""
        return representations(self.model, X, self.device, chunk)

    def probe(self) -> dict[str, float]:
        """The probe scores of this report (:func:`tune_bs.train.trial_eval.probe_metrics`)."""
        return probe_metrics(self.represent, self.data, self.settings)

    def report(self, train_loss: float) -> dict[str, Any]:
        """Metrics of this report (names from :mod:`tune_bs.metrics`); marks the report as
        done. NaN/inf training loss or ``val_loss`` marks the trial diverged."""
        self.reports += 1
        self.diverged = self.diverged or not math.isfinite(train_loss)
        metrics: dict[str, Any] = {
            m.TRAIN_LOSS: train_loss,
            m.SAMPLES_SEEN: self.samples_seen,
            m.BATCH_SIZE: self.batch_size,
            m.ACCUMULATION_STEPS: self.accumulation_steps,
            m.EFFECTIVE_BATCH_SIZE: self.batch_size * self.accumulation_steps,
            m.SWITCHES: len(self.schedule) - 1,
            m.BATCH_SIZE_SCHEDULE: format_schedule(self.schedule),
            "oom_backoffs": self.oom_backoffs,
            **self.strategy.metrics(),
        }
        if not self.diverged:
            started, wall_started = time.perf_counter(), self.clock.now()
            metrics[m.VAL_LOSS] = self.val_loss()
            self.diverged = not math.isfinite(metrics[m.VAL_LOSS])  # NaN weights, finite loss
            if not self.diverged:
                metrics.update(self.probe())
                metrics["eval_time_s"] = time.perf_counter() - started
            self.clock.charge_eval()
            self.trial_time_s += self.clock.now() - wall_started
        if self.diverged:
            metrics.update(nan_metrics(self.data, self.settings))
        metrics[m.DIVERGED] = self.diverged
        metrics[m.TRIAL_TIME_S] = self.trial_time_s
        metrics[m.WALL_TIME_S] = self.clock.now()
        return metrics

    # --- persistence ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "stream": self.stream.state_dict(),
            "view_generator": self.view_generator.get_state(),
            "samples_seen": self.samples_seen,
            "batch_size": self.batch_size,
            "accumulation_steps": self.accumulation_steps,
            "schedule": list(self.schedule),
            "reports": self.reports,
            "settings": asdict(self.settings),
            "config_batch": self.config_batch,
            "switch_at": self.switch_at,
            "oom_backoffs": self.oom_backoffs,
            "prepared": self.prepared,
            "clusters": self.clusters,
            "strategy": self.strategy.state_dict(),
            "trial_time_s": self.trial_time_s,
            "clock": self.clock.state(),
            "diverged": self.diverged,
            "last_train_loss": self.last_train_loss,
            "input": self.data.input_rule(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.view_generator.set_state(state["view_generator"])
        self.samples_seen = int(state["samples_seen"])
        self.batch_size = int(state["batch_size"])
        self.accumulation_steps = int(state.get("accumulation_steps", 1))
        self.schedule = [
            (int(p[0]), int(p[1]), int(p[2]) if len(p) > 2 else 1) for p in state["schedule"]
        ]
        self.reports = int(state["reports"])
        self.config_batch = tuple(state.get("config_batch", self.config_batch))
        self.switch_at = int(state.get("switch_at", 0))
        self.oom_backoffs = int(state.get("oom_backoffs", 0))
        self.clusters = state.get("clusters")
        if self.clusters is not None:
            self._attach(self.clusters)
        else:  # a state from before the cluster step: the strategy and stream of the start
            self.strategy = build_strategy(self.settings.strategy, self.settings, self.data.n_train)
            self.stream = self.strategy.make_stream(self.settings.seed)
        self.stream.load_state_dict(state["stream"])
        self.strategy.load_state_dict(state.get("strategy", {}))
        self.prepared = bool(state.get("prepared", True))
        self.trial_time_s = float(state.get("trial_time_s", 0.0))
        self.clock.restore(float(state.get("clock", 0.0)))
        self.diverged = bool(state.get("diverged", False))
        self.last_train_loss = float(state.get("last_train_loss", float("nan")))
