"""``accumulate``: score-weighted adaptive gradient accumulation.

Rule: start from a small minibatch (``batch_size``). Each minibatch gets a score
s = max(1 − TV, 10⁻³) ∈ (0, 1], where TV is the total-variation distance between the cluster
histogram of the minibatch and that of the whole training set
(:func:`tune_bs.train.scores.match_score`). Gradients accumulate until Σs ≥ α (``accumulate_alpha``
× ``accumulation_steps``, so a scheduler's accumulation switch scales the score mass) or
``max_accumulated`` minibatches, then one update applies Σ sᵢ gᵢ / Σ sᵢ. The number of minibatches
per update varies with the data: unrepresentative minibatches count for less. Reported:
``accumulated_batches`` (mean minibatches per update) and ``effective_batch_size`` (mean series per
update) since the previous report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tune_bs.metrics import EFFECTIVE_BATCH_SIZE
from tune_bs.options import option
from tune_bs.train.clustering import ClusterAssignment
from tune_bs.train.scores import cluster_histogram, match_score
from tune_bs.train.strategies.base import BatchStrategy


@dataclass(frozen=True)
class AccumulateOptions:
    accumulate_alpha: float = option(
        2.0, minimum=0, exclusive=True, doc="score mass per update (sum of batch scores)"
    )
    max_accumulated: int = option(64, minimum=1, doc="most minibatches per update")


class AccumulateStrategy(BatchStrategy):
    name = "accumulate"
    Options = AccumulateOptions
    needs_clusters = True
    scores_batches = True

    def __init__(self, settings: Any, n_train: int) -> None:
        super().__init__(settings, n_train)
        self._reference: np.ndarray | None = None
        self._updates = self._batches = self._samples = 0

    def attach_clusters(self, clusters: ClusterAssignment) -> None:
        super().attach_clusters(clusters)
        self._reference = cluster_histogram(clusters.labels, clusters.n_modes)

    def batch_score(self, idx: torch.Tensor) -> float:
        assert self.clusters is not None and self._reference is not None
        return float(match_score(self.clusters.labels[idx.cpu().numpy()], self._reference))

    def accumulation_target(self, accumulation_steps: int) -> float:
        return float(self.options.accumulate_alpha) * accumulation_steps

    def record_update(self, n_batches: int, n_samples: int) -> None:
        self._updates += 1
        self._batches += n_batches
        self._samples += n_samples

    def metrics(self) -> dict[str, Any]:
        out = super().metrics()
        if self._updates:
            out["accumulated_batches"] = self._batches / self._updates
            out[EFFECTIVE_BATCH_SIZE] = self._samples / self._updates
        self._updates = self._batches = self._samples = 0
        return out
