"""The downstream data: series with both targets, split for model selection without test labels.

From a prepared :class:`~tune_bs.data.TimeSeriesData` with :class:`~tune_bs.data.MultiTaskTargets`
(the series prepared exactly as the encoder's experiment prepared them):

- **fit** / **val**: the data set's train split, cut into a fitting part and a seeded validation
  part (:data:`VAL_FRACTION`, stratified by class when every class has 2+ members). Every choice
  — the epoch kept in pretraining and fine-tuning — is made on **val**; the test split decides
  nothing.
- **test**: the data set's own test split, scored once at the end.

Classes are encoded 0..K−1 in sorted order of the train split's labels (a test label unseen in
training counts as wrong). The continuous target is standardised with the fit part's mean and
standard deviation for the loss; scores are in its own units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tune_bs.errors import UserInputError

VAL_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    """Series ``[N, C, T]`` (float32 tensor), class indices ``[N]`` (−1: unseen class) and the
    continuous target ``[N]`` in its own units."""

    X: torch.Tensor
    y_class: torch.Tensor
    y_reg: np.ndarray

    def __len__(self) -> int:
        return len(self.X)


@dataclass(frozen=True)
class DownstreamData:
    """The fit, validation and test splits, with the class names and the target's scale."""

    name: str
    fit: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    reg_mean: float
    reg_std: float

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def standardised(self, y_reg: np.ndarray) -> torch.Tensor:
        """The target as the regression head learns it (fit part's mean 0, std 1)."""
        return torch.as_tensor((y_reg - self.reg_mean) / self.reg_std, dtype=torch.float32)

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.fit)} fit + {len(self.val)} validation (from the train "
            f"split) + {len(self.test)} test series, {self.n_classes} classes and a "
            "continuous target"
        )


def downstream_data(data, seed: int = 0) -> DownstreamData:
    """Split a prepared data set with both targets (module rules).

    Raises:
        UserInputError: the data set has no second target, or no labelled test split.
    """
    from tune_bs.data.dataset import validation_split

    targets = data.multitask
    if targets is None:
        raise UserInputError(
            f"the multi-task head needs a classification and a continuous target over the same "
            f"series, but {data.name} has only one; use --data Covid3Month (aeon's "
            "Covid3Month + Covid3Month_disc pair), --data synthetic, or a .npz with y and y_reg."
        )
    if targets.y_class_test is None or targets.y_reg_test is None:
        raise UserInputError(
            f"the multi-task head is scored on a labelled test split, but {data.name}'s test "
            "split lacks a target; add y_test and y_reg_test beside X_test in the .npz."
        )
    labels = np.asarray(targets.y_class_train)
    classes = tuple(str(c) for c in np.unique(labels.astype(str)))
    index = {c: i for i, c in enumerate(classes)}

    def encode(y: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(
            [index.get(str(v), -1) for v in np.asarray(y).astype(str)], dtype=torch.long
        )

    fit_idx, val_idx = validation_split(len(labels), VAL_FRACTION, seed, labels.astype(str))
    X = np.asarray(data.X_probe_train, dtype=np.float32)
    y_reg = np.asarray(targets.y_reg_train, dtype=np.float64)
    mean = float(y_reg[fit_idx].mean())
    std = float(y_reg[fit_idx].std()) or 1.0

    def split(X_part: np.ndarray, y_class: np.ndarray, y_part: np.ndarray) -> Split:
        return Split(torch.tensor(X_part), encode(y_class), np.asarray(y_part, dtype=np.float64))

    return DownstreamData(
        name=data.name,
        fit=split(X[fit_idx], labels[fit_idx], y_reg[fit_idx]),
        val=split(X[val_idx], labels[val_idx], y_reg[val_idx]),
        test=split(
            np.asarray(data.X_test, dtype=np.float32), targets.y_class_test, targets.y_reg_test
        ),
        classes=classes,
        reg_mean=mean,
        reg_std=std,
    )
