"""Train the multi-task model: single-task pretraining of each head, then multi-task fine-tuning.

The procedure for one α (:func:`fit_multitask`), every choice made on the validation part of
the train split (:mod:`tune_bs.downstream.data`), never on the test split:

1. **Single-task pretraining.** With the backbone frozen (eval mode), the classification head
   learns the classes alone (cross-entropy) and the regression head the standardised target
   alone (MSE), each for ``pretrain_epochs`` epochs of minibatches (Adam, ``head_lr``); each
   keeps the epoch of its lowest validation loss.
2. **Multi-task fine-tuning.** Backbone and both heads (only the heads with ``freeze``) train on
   α·CE + (1−α)·MSE for ``finetune_epochs`` epochs (Adam, ``lr``); the kept state is the epoch
   of the lowest validation α·CE + (1−α)·MSE, where epoch 0 is the pretrained model itself, so
   fine-tuning never ends worse on validation than pretraining. A head whose weight is 0 gets
   no gradient in this stage (α = 1: the regression head stays as pretrained, while the backbone
   under it moves).
3. **Scores** on the test split: accuracy of the classification head, R² and RMSE (in the
   target's own units) of the regression head; the same on the validation part.

Everything is seeded (``seed``): the same backbone, data and settings give the same scores on
the same machine.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tune_bs.downstream.data import DownstreamData, Split
from tune_bs.downstream.model import HEADS, MultiTaskModel, multitask_loss
from tune_bs.errors import UserInputError, unknown_name
from tune_bs.progress import bar

#: Series per forward pass when scoring.
EVAL_CHUNK = 512


@dataclass(frozen=True)
class DownstreamSettings:
    """One multi-task run (units in comments)."""

    alpha: float = 0.5  # weight of the classification loss; 1 − alpha on the regression loss
    head: str = "linear"  # linear | mlp
    freeze: bool = False  # train the heads only, on the frozen backbone
    pretrain_epochs: int = 100  # single-task epochs of each head (frozen backbone)
    finetune_epochs: int = 30  # multi-task epochs
    batch_size: int = 32  # series per minibatch
    head_lr: float = 1e-2  # Adam learning rate of the heads' pretraining
    lr: float = 1e-3  # Adam learning rate of the multi-task fine-tuning
    seed: int = 0

    def check(self) -> DownstreamSettings:
        """Raise one line for the first bad setting; ``self`` when all are good."""
        if not (isinstance(self.alpha, (int, float)) and 0.0 <= self.alpha <= 1.0):
            raise UserInputError(
                f"--alpha must be in [0, 1], but got --alpha {self.alpha}; "
                "use e.g. 0.5 (1 = classification only, 0 = regression only)."
            )
        if self.head not in HEADS:
            raise unknown_name("--head", self.head, HEADS)
        for name in ("pretrain_epochs", "finetune_epochs"):
            if int(getattr(self, name)) < 0:
                raise UserInputError(
                    f"{name} must be at least 0, but got "
                    f"{name}={getattr(self, name)}; fix the value."
                )
        if int(self.batch_size) < 2:
            raise UserInputError(
                f"batch_size must be at least 2, but got batch_size={self.batch_size}; raise it."
            )
        return self


@dataclass(frozen=True)
class DownstreamScore:
    """Test (and validation) scores of one multi-task run, with its settings."""

    alpha: float
    head: str
    freeze: bool
    accuracy: float  # test split, [0, 1]
    r2: float  # test split
    rmse: float  # test split, the target's units
    val_accuracy: float
    val_r2: float
    val_loss: float  # α·CE + (1−α)·MSE of the kept state on the validation part
    finetune_epoch: int  # the kept fine-tuning epoch (0 = the pretrained heads)

    def as_row(self) -> dict[str, float | str | bool | int]:
        return asdict(self)


def _batches(n: int, size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, size):
        yield order[start : start + size]


@torch.no_grad()
def _features(backbone: nn.Module, X: torch.Tensor) -> torch.Tensor:
    backbone.eval()
    return torch.cat([backbone(X[s : s + EVAL_CHUNK]) for s in range(0, len(X), EVAL_CHUNK)])


def _pretrain_head(
    head: nn.Module,
    features: torch.Tensor,
    target: torch.Tensor,
    val_features: torch.Tensor,
    val_target: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    settings: DownstreamSettings,
    generator: torch.Generator,
) -> None:
    """Step 1 for one head: train on frozen features, keep the epoch of lowest validation loss."""
    optimiser = torch.optim.Adam(head.parameters(), lr=settings.head_lr)
    with torch.no_grad():
        best, best_state = (
            float(loss_fn(head(val_features), val_target)),
            copy.deepcopy(head.state_dict()),
        )
    for _ in bar(range(int(settings.pretrain_epochs)), desc="training a head", unit="epoch"):
        head.train()
        for idx in _batches(len(features), settings.batch_size, generator):
            optimiser.zero_grad(set_to_none=True)
            loss_fn(head(features[idx]), target[idx]).backward()
            optimiser.step()
        with torch.no_grad():
            value = float(loss_fn(head(val_features), val_target))
        if value < best:
            best, best_state = value, copy.deepcopy(head.state_dict())
    head.load_state_dict(best_state)


def _known(y_class: torch.Tensor) -> torch.Tensor:
    """Rows whose class was seen in training (index ≥ 0)."""
    return y_class >= 0


@torch.no_grad()
def _predict(
    model: MultiTaskModel, X: torch.Tensor, features: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    model.eval()
    if features is None:
        features = _features(model.backbone, X)
    return model.heads(features)


def _val_loss(
    model: MultiTaskModel, data: DownstreamData, alpha: float, features: torch.Tensor | None
) -> float:
    logits, prediction = _predict(model, data.val.X, features)
    known = _known(data.val.y_class)
    return float(
        multitask_loss(
            logits[known],
            prediction[known],
            data.val.y_class[known],
            data.standardised(data.val.y_reg)[known],
            alpha,
        )
    )


def scores(model: MultiTaskModel, data: DownstreamData, split: Split) -> tuple[float, float, float]:
    """``(accuracy, R², RMSE)`` of the model on ``split`` (RMSE in the target's units)."""
    logits, prediction = _predict(model, split.X)
    accuracy = float((logits.argmax(dim=1) == split.y_class).float().mean())
    predicted = prediction.double().numpy() * data.reg_std + data.reg_mean
    residual = split.y_reg - predicted
    total = float(((split.y_reg - split.y_reg.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else math.nan
    return accuracy, r2, float(np.sqrt((residual**2).mean()))


def _finetune(
    model: MultiTaskModel,
    data: DownstreamData,
    settings: DownstreamSettings,
    generator: torch.Generator,
    encoded: tuple[torch.Tensor, torch.Tensor],
    fit_reg: torch.Tensor,
    known_fit: torch.Tensor,
) -> tuple[float, int]:
    """Multi-task fine-tuning of ``model`` (the heads only when ``settings.freeze``, on the
    precomputed features ``encoded`` of the fit and validation parts); it keeps the epoch of the
    lowest validation loss (epoch 0: the pretrained model) and returns that loss and epoch."""
    fit = data.fit
    fit_features, val_features = encoded
    alpha = float(settings.alpha)
    frozen = settings.freeze
    trained = [*model.classifier.parameters(), *model.regressor.parameters()]
    if not frozen:
        trained += list(model.backbone.parameters())
    optimiser = torch.optim.Adam(trained, lr=settings.lr)
    best = _val_loss(model, data, alpha, val_features if frozen else None)
    best_state, best_epoch = copy.deepcopy(model.state_dict()), 0
    epochs = range(1, int(settings.finetune_epochs) + 1)
    for epoch in bar(epochs, desc=f"fine-tuning (alpha {alpha:g})", unit="epoch"):
        model.train()
        if frozen:
            model.backbone.eval()
        for idx in _batches(len(fit), settings.batch_size, generator):
            idx = idx[known_fit[idx]]
            if len(idx) < 2:
                continue
            optimiser.zero_grad(set_to_none=True)
            features = fit_features[idx] if frozen else model.backbone(fit.X[idx])
            logits, prediction = model.heads(features)
            multitask_loss(logits, prediction, fit.y_class[idx], fit_reg[idx], alpha).backward()
            optimiser.step()
        value = _val_loss(model, data, alpha, val_features if frozen else None)
        if value < best:
            best, best_state, best_epoch = value, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    model.eval()
    return best, best_epoch


def fit_multitask(
    backbone: nn.Module, data: DownstreamData, settings: DownstreamSettings
) -> tuple[MultiTaskModel, DownstreamScore]:
    """Train a copy of ``backbone`` with both heads on ``data`` (module rules); the trained model
    and its scores. ``backbone`` itself is not changed."""
    settings.check()
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    model = MultiTaskModel(copy.deepcopy(backbone), data.n_classes, settings.head)
    fit, val = data.fit, data.val
    fit_reg, val_reg = data.standardised(fit.y_reg), data.standardised(val.y_reg)
    fit_features = _features(model.backbone, fit.X)
    val_features = _features(model.backbone, val.X)
    known_fit, known_val = _known(fit.y_class), _known(val.y_class)

    # 1. single-task pretraining of each head on the frozen backbone
    _pretrain_head(
        model.classifier,
        fit_features[known_fit],
        fit.y_class[known_fit],
        val_features[known_val],
        val.y_class[known_val],
        F.cross_entropy,
        settings,
        generator,
    )
    _pretrain_head(
        model.regressor,
        fit_features,
        fit_reg.unsqueeze(-1),
        val_features,
        val_reg.unsqueeze(-1),
        F.mse_loss,
        settings,
        generator,
    )

    # 2. multi-task fine-tuning; epoch 0 is the pretrained model
    alpha = float(settings.alpha)
    frozen = settings.freeze
    best, best_epoch = _finetune(
        model, data, settings, generator, (fit_features, val_features), fit_reg, known_fit
    )

    accuracy, r2, rmse = scores(model, data, data.test)
    val_accuracy, val_r2, _ = scores(model, data, data.val)
    return model, DownstreamScore(
        alpha, settings.head, frozen, accuracy, r2, rmse, val_accuracy, val_r2, best, best_epoch
    )
