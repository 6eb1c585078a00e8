"""``stratified``: minibatches stratified by cluster (or cluster-homogeneous "hard" batches).

``stratify`` picks the :class:`~tune_bs.train.samplers.StratifiedBatchSampler` mode:
``proportional`` (every batch mirrors the clusters' shares, ±1), ``equal`` (the same count per
cluster) or ``homogeneous`` (each batch from one cluster — the opposite direction, so a search can
tell which helps). Batches of fewer than 2 series are skipped. When the batch size changes (a
scheduler's switch) the stream starts a new epoch at the new size.

NOTE [impossible equal stratification]: when ``equal`` cannot be built (batch size below the
number of clusters, or above K × the smallest cluster), the trial logs a warning and uses
``proportional`` for that batch size; the metric ``stratify_fallbacks`` counts such cases.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tune_bs.errors import UserInputError, quote
from tune_bs.options import option
from tune_bs.train.samplers import MODES, StratifiedBatchSampler
from tune_bs.train.strategies.base import BatchSource, BatchStrategy

logger = logging.getLogger(__name__)


class StratifiedStream:
    """Resumable batches of a :class:`StratifiedBatchSampler`, epoch after epoch."""

    def __init__(self, labels: np.ndarray, mode: str, seed: int) -> None:
        self.labels, self.mode, self.seed = labels, mode, seed
        self.epoch, self.cursor, self.batch_size = 0, 0, 0
        self.fallbacks = 0
        self._batches: list[np.ndarray] | None = None

    def _build(self) -> list[np.ndarray]:
        mode = self.mode
        try:
            sampler = StratifiedBatchSampler(self.labels, self.batch_size, mode, seed=self.seed)
        except UserInputError as exc:
            if mode != "equal":
                raise
            logger.warning(
                "%s This trial uses stratify='proportional' at batch size %d.",
                str(exc).rstrip("."),
                self.batch_size,
            )
            self.fallbacks += 1
            sampler = StratifiedBatchSampler(
                self.labels, self.batch_size, "proportional", seed=self.seed
            )
        sampler.set_epoch(self.epoch)
        batches = [b for b in sampler.batches() if len(b) >= 2]
        if not batches:
            raise UserInputError(
                f"stratify={quote(self.mode)} yields no batch of 2+ series at batch_size="
                f"{self.batch_size}; raise batch_size or use stratify='proportional'."
            )
        return batches

    def next(self, batch_size: int) -> torch.Tensor:
        if batch_size != self.batch_size or self._batches is None:
            if self._batches is not None:
                self.epoch += 1
            self.batch_size, self.cursor = batch_size, 0
            self._batches = self._build()
        elif self.cursor >= len(self._batches):
            self.epoch, self.cursor = self.epoch + 1, 0
            self._batches = self._build()
        batch = self._batches[self.cursor]
        self.cursor += 1
        return torch.as_tensor(batch, dtype=torch.long)

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "cursor": self.cursor,
            "batch_size": self.batch_size,
            "fallbacks": self.fallbacks,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.cursor = state["epoch"], state["cursor"]
        self.batch_size, self.fallbacks = state["batch_size"], state["fallbacks"]
        self._batches = self._build() if self.batch_size else None


@dataclass(frozen=True)
class StratifiedOptions:
    stratify: str = option("proportional", choices=MODES, doc="how batches follow the clusters")


class StratifiedStrategy(BatchStrategy):
    name = "stratified"
    Options = StratifiedOptions
    needs_clusters = True

    def __init__(self, settings: Any, n_train: int) -> None:
        super().__init__(settings, n_train)
        self.stream: StratifiedStream | None = None

    def make_stream(self, seed: int) -> BatchSource:
        if self.clusters is None:  # before clustering (pretraining): plain batches
            return super().make_stream(seed)
        self.stream = StratifiedStream(self.clusters.labels, self.options.stratify, seed)
        return self.stream

    def metrics(self) -> dict[str, Any]:
        fallbacks = self.stream.fallbacks if self.stream is not None else 0
        return {**super().metrics(), "stratify_fallbacks": fallbacks}
