"""``weighted``: centre-versus-periphery per-sample weights in the NT-Xent loss.

Rule (:mod:`tune_bs.train.weights`): a sample's weight is ∝ exp(−β(p)·(u − ½)), u ∈ [0, 1] its
within-cluster rank of distance to the cluster centre (0 = most central), p the fraction of the
samples budget done, β(p) = ``weight_strength``·(1 − p) (``weight_late: uniform``) or
``weight_strength``·(1 − 2p) (``weight_late: periphery``): centre-heavy early, uniform or
periphery-heavy late. ``weight_scope: global`` uses the full-data distances of the shared cluster
assignment (fixed at the start); ``batch`` recomputes centres and ranks inside each batch from the
batch's own projections. Weights average 1 within each cluster; the loss is Σwℓ / Σw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tune_bs.options import option
from tune_bs.train.strategies.base import BatchStrategy
from tune_bs.train.weights import LATE, batch_weights, centre_weights

#: Global weights are recomputed when progress moves by this much (they change slowly).
PROGRESS_RESOLUTION = 0.01


#: Where the distances of ``weight_scope`` come from.
SCOPES = ("global", "batch")


@dataclass(frozen=True)
class WeightedOptions:
    weight_strength: float = option(
        1.0, minimum=0, doc="log of the centre/periphery weight ratio at the start"
    )
    weight_late: str = option("uniform", choices=LATE, doc="the weights at the end of the budget")
    weight_scope: str = option(
        "global", choices=SCOPES, doc="full-data distances (global) or the batch's own"
    )


class WeightedStrategy(BatchStrategy):
    name = "weighted"
    Options = WeightedOptions
    needs_clusters = True

    def __init__(self, settings: Any, n_train: int) -> None:
        super().__init__(settings, n_train)
        self._cache: tuple[float, torch.Tensor] | None = None

    def sample_weights(
        self, idx: torch.Tensor, progress: float, embeddings: torch.Tensor
    ) -> torch.Tensor | None:
        assert self.clusters is not None
        s = self.options
        if s.weight_scope == "batch":
            labels = torch.as_tensor(
                self.clusters.labels[idx.cpu().numpy()], device=embeddings.device
            )
            return batch_weights(embeddings, labels, progress, s.weight_strength, s.weight_late)
        p = round(progress / PROGRESS_RESOLUTION) * PROGRESS_RESOLUTION
        if self._cache is None or self._cache[0] != p:
            w = centre_weights(
                self.clusters.distances, self.clusters.labels, p, s.weight_strength, s.weight_late
            )
            self._cache = (p, torch.as_tensor(w.astype(np.float32)))
        return self._cache[1][idx.cpu()].to(embeddings.device)
