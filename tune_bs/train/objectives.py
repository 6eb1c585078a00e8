"""The training objectives a trial can use (trial option ``loss``), one registry.

Each objective says how a batch becomes a loss in training and how ``val_loss`` is computed:

- ``nt_xent`` (default): two views of every series by the trial's augmentations (crop → scaling →
  jitter → time mask, :mod:`tune_bs.train.augment`), the encoder and projection head, NT-Xent at
  the trial's ``temperature`` (:mod:`tune_bs.train.loss`). ``val_loss``: NT-Xent at the fixed
  :data:`~tune_bs.train.evaluation.EVAL_TEMPERATURE` on the fixed validation views.
- ``hierarchical``: TS2Vec (Yue et al. 2022): two overlapping random crops of every series
  (:func:`~tune_bs.train.hierarchical.overlapping_crops`), each then augmented with the trial's
  scaling, jitter and time mask (the ``crop`` option is not applied: a resampling crop would
  break the alignment in time the loss relies on), the encoder's per-time-step features (no
  projection head; TS2Vec has none), the hierarchical loss on the overlapping steps
  (:mod:`tune_bs.train.hierarchical`). Dot-product similarity: ``temperature`` is not read.
  ``val_loss``: the same loss on fixed crops of the fixed validation batches
  (:func:`~tune_bs.train.evaluation.validation_crops`). It needs an encoder with per-time-step
  features (every built-in one).

``val_loss`` means the same thing for every trial *of one objective* (fixed split, fixed views or
crops, fixed evaluation batch size; :mod:`tune_bs.train.evaluation`), whatever their batch size,
temperature or augmentation — but the two objectives' values are different quantities. A search
that searches ``loss`` therefore cannot rank, stop or schedule on ``val_loss``
(:func:`tune_bs.search.space.parse_space` refuses it).

Per-sample weights (the ``weighted`` strategy) reach both objectives as a function of the batch's
detached representations ``[B, D]``: the projections for ``nt_xent``, the encoder's time steps
max-pooled over the overlap for ``hierarchical``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from tune_bs.errors import UserInputError
from tune_bs.train.augment import Augmenter
from tune_bs.train.encoders import has_timesteps
from tune_bs.train.evaluation import EVAL_TEMPERATURE, validation_crops, validation_views
from tune_bs.train.hierarchical import CropPair, hierarchical_loss, overlapping_crops
from tune_bs.train.loss import nt_xent

#: Per-sample weights ``[B]`` of a batch from its detached representations ``[B, D]`` (or None).
WeightsOf = Callable[[torch.Tensor], "torch.Tensor | None"]


class Objective(Protocol):
    """What a training objective provides (module rules)."""

    def check(self, model: nn.Module, encoder: str) -> None:
        """Raise a one-line error when ``model`` cannot be trained with this objective."""

    def train_loss(
        self,
        model: nn.Module,
        x: torch.Tensor,
        augmenter: Augmenter,
        generator: torch.Generator,
        temperature: float,
        weights_of: WeightsOf,
    ) -> torch.Tensor:
        """The loss of the batch ``x`` ``[B, C, T]`` (a scalar with a graph)."""

    def eval_batches(self, X_val: np.ndarray) -> list[Any]:
        """The fixed validation batches of ``X_val`` ``[N, C, T]`` (CPU tensors)."""

    def to_device(self, batch: Any, device: torch.device) -> Any:
        """One batch of :meth:`eval_batches` on ``device``."""

    def eval_loss(self, model: nn.Module, batch: Any) -> tuple[float, int]:
        """The mean loss of one validation batch and its series count (no gradient)."""


class NTXentObjective:
    """SimCLR's views, projection head and NT-Xent (module rules)."""

    def check(self, model: nn.Module, encoder: str) -> None:
        return None

    def train_loss(
        self,
        model: nn.Module,
        x: torch.Tensor,
        augmenter: Augmenter,
        generator: torch.Generator,
        temperature: float,
        weights_of: WeightsOf,
    ) -> torch.Tensor:
        v1, v2 = augmenter.views(x, generator)  # [B, C, T] each
        z1, z2 = model(v1), model(v2)  # [B, P] each
        return nt_xent(z1, z2, temperature, weights_of(z1.detach()))

    def eval_batches(self, X_val: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return validation_views(X_val)

    def to_device(self, batch: Sequence[torch.Tensor], device: torch.device) -> Any:
        return tuple(v.to(device) for v in batch)

    def eval_loss(self, model: nn.Module, batch: Any) -> tuple[float, int]:
        v1, v2 = batch
        return float(nt_xent(model(v1), model(v2), EVAL_TEMPERATURE)), len(v1)


class HierarchicalObjective:
    """TS2Vec's overlapping crops and hierarchical loss on per-time-step features (module
    rules)."""

    def check(self, model: nn.Module, encoder: str) -> None:
        inner = getattr(model, "encoder", model)
        if not has_timesteps(inner):
            raise UserInputError(
                f"loss: hierarchical needs an encoder with per-time-step features (a "
                f"timesteps(x) method, [B, C, T] -> [B, D, T]), but encoder {encoder!r} has "
                "none; use loss: nt_xent or add timesteps() to the encoder."
            )

    @staticmethod
    def _aligned_features(model: nn.Module, pair: CropPair) -> tuple[torch.Tensor, torch.Tensor]:
        """The overlap's features in both views, ``[B, l, D]`` each."""
        h1 = model.timesteps(pair.first)[:, :, -pair.overlap :]  # [B, D, l]
        h2 = model.timesteps(pair.second)[:, :, : pair.overlap]  # [B, D, l]
        return h1.transpose(1, 2), h2.transpose(1, 2)

    def train_loss(
        self,
        model: nn.Module,
        x: torch.Tensor,
        augmenter: Augmenter,
        generator: torch.Generator,
        temperature: float,
        weights_of: WeightsOf,
    ) -> torch.Tensor:
        pair = overlapping_crops(x, generator)
        aligned = augmenter.aligned()
        pair = CropPair(
            aligned.view(pair.first, generator), aligned.view(pair.second, generator), pair.overlap
        )
        z1, z2 = self._aligned_features(model, pair)  # [B, l, D] each
        return hierarchical_loss(z1, z2, weights_of(z1.detach().amax(dim=1)))

    def eval_batches(self, X_val: np.ndarray) -> list[CropPair]:
        return validation_crops(X_val)

    def to_device(self, batch: CropPair, device: torch.device) -> Any:
        return CropPair(batch.first.to(device), batch.second.to(device), batch.overlap)

    def eval_loss(self, model: nn.Module, batch: Any) -> tuple[float, int]:
        z1, z2 = self._aligned_features(model, batch)
        return float(hierarchical_loss(z1, z2)), len(z1)


#: The objectives a trial may name as ``loss``.
LOSSES: dict[str, Objective] = {
    "nt_xent": NTXentObjective(),
    "hierarchical": HierarchicalObjective(),
}
