"""The multi-task model: one backbone (the contrastive encoder), a classification head and a
regression head.

Shapes: ``[B, C, T]`` → backbone → ``[B, D]`` → classification head → logits ``[B, K]`` and
regression head → ``[B]`` (the standardised continuous target). Heads (``head``):

- ``linear``: one ``Linear(D, out)``;
- ``mlp``: ``Linear(D, 64) → ReLU → Linear(64, out)`` (:data:`MLP_HIDDEN`).

The loss (:func:`multitask_loss`) is α·CE + (1−α)·MSE, α ∈ [0, 1]: α = 1 trains for the classes
alone, α = 0 for the continuous target alone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from tune_bs.errors import unknown_name

HEADS = ("linear", "mlp")
#: Width of the MLP head's hidden layer.
MLP_HIDDEN = 64


def make_head(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    """A ``linear`` or ``mlp`` head ``[B, in_dim] → [B, out_dim]``."""
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(in_dim, MLP_HIDDEN), nn.ReLU(), nn.Linear(MLP_HIDDEN, out_dim)
        )
    raise unknown_name("--head", kind, HEADS)


class MultiTaskModel(nn.Module):
    """Backbone + classification head + regression head (module docstring)."""

    def __init__(self, backbone: nn.Module, n_classes: int, head: str = "linear") -> None:
        super().__init__()
        self.backbone = backbone
        dim = int(backbone.output_dim)
        self.classifier = make_head(head, dim, n_classes)
        self.regressor = make_head(head, dim, 1)

    def heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both heads on backbone features ``[B, D]``: logits ``[B, K]``, prediction ``[B]``."""
        return self.classifier(features), self.regressor(features).squeeze(-1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.backbone(x))  # [B, C, T] -> ([B, K], [B])


def multitask_loss(
    logits: torch.Tensor,
    prediction: torch.Tensor,
    y_class: torch.Tensor,
    y_reg: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """α·CE(logits, classes) + (1−α)·MSE(prediction, standardised target); a term whose weight
    is 0 is left out (so α = 1 ignores the regression head entirely, and α = 0 the classes)."""
    loss = logits.new_zeros(())
    if alpha > 0:
        loss = loss + alpha * F.cross_entropy(logits, y_class)
    if alpha < 1:
        loss = loss + (1.0 - alpha) * F.mse_loss(prediction, y_reg)
    return loss
