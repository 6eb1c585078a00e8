"""The evaluation of one trial's report: ``val_loss``, representations and probe metrics.

Rules:

- ``val_loss`` is the trial's objective (:mod:`tune_bs.train.objectives`: NT-Xent at
  :data:`~tune_bs.train.evaluation.EVAL_TEMPERATURE`, or the hierarchical loss) on the fixed
  validation batches of :mod:`tune_bs.train.evaluation` (none of them a trial setting; drawn on
  the CPU, moved to the trial's device), with the model in eval mode, averaged over series: for
  one objective it means the same thing for every training batch size, temperature,
  augmentation and device.
- Representations are the encoder's output in eval mode, computed in chunks.
- The probes (:mod:`tune_bs.train.probe`, kind ``settings.probe``) share one representation pass
  of the train and test splits (at most ``probe_max_train`` / ``probe_max_test`` series, seeded
  by :data:`~tune_bs.train.evaluation.EVAL_SEED`): ``val_probe_acc`` cross-validated on the
  train split, ``test_probe_acc`` on the test split (:func:`probe_metrics`).
- A diverged trial reports every metric Tune may optimise as NaN (:func:`nan_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from tune_bs import metrics as m
from tune_bs.data import TimeSeriesData
from tune_bs.train.evaluation import EVAL_SEED
from tune_bs.train.objectives import LOSSES, Objective
from tune_bs.train.probe import multitask_scores, probe_indices, probe_names, probe_scores

Views = list[Any]


def device_views(
    X_val: np.ndarray, device: torch.device, objective: Objective = LOSSES["nt_xent"]
) -> Views:
    """The fixed validation batches of ``objective`` (drawn on the CPU), on ``device``."""
    return [objective.to_device(batch, device) for batch in objective.eval_batches(X_val)]


@torch.no_grad()
def validation_loss(
    model: nn.Module, views: Views, objective: Objective = LOSSES["nt_xent"]
) -> float:
    """Mean loss of ``objective`` per series over ``views``, in eval mode (the model is left in
    train mode)."""
    model.eval()
    total, count = 0.0, 0
    for batch in views:
        loss, n = objective.eval_loss(model, batch)
        total += loss * n
        count += n
    model.train()
    return total / count


@torch.no_grad()
def representations(
    model: nn.Module, X: np.ndarray, device: torch.device, chunk: int = 512
) -> np.ndarray:
    """Encoder output ``[N, D]`` for ``X`` ``[N, C, T]``, in eval mode, ``chunk`` series at a
    time (the model is left in train mode)."""
    model.eval()
    out = []
    for start in range(0, len(X), chunk):
        x = torch.tensor(X[start : start + chunk], device=device)
        out.append(model.represent(x).float().cpu().numpy())
    model.train()
    return np.concatenate(out)


def probe_metrics(
    represent: Callable[[np.ndarray], np.ndarray], data: TimeSeriesData, settings: Any
) -> dict[str, float]:
    """``val_probe_*`` (cross-validated on the train split) and ``test_probe_*`` (on the test
    split, when it has labels) — and with ``multitask_probe``, on a data set with both
    targets, ``val_multitask``/``test_multitask`` — from one representation pass; ``{}``
    without train labels; ``represent`` maps series to representations."""
    d, s = data, settings
    targets = d.multitask if s.multitask_probe else None
    if (d.y_probe_train is None or probe_names(d.task) is None) and targets is None:
        return {}
    tr, te = probe_indices(
        len(d.X_probe_train), len(d.X_test), s.probe_max_train, s.probe_max_test, EVAL_SEED
    )
    Z_train = represent(d.X_probe_train[tr])
    Z_test = represent(d.X_test[te]) if len(d.X_test) > 0 else None

    def scores(y_train: Any, y_test: Any, task: str) -> dict[str, float]:
        tested = Z_test is not None and y_test is not None
        return probe_scores(
            Z_train,
            np.asarray(y_train)[tr],
            Z_test if tested else None,
            np.asarray(y_test)[te] if tested else None,
            task,
            seed=EVAL_SEED,
            probe=s.probe,
        )

    out: dict[str, float] = {}
    if d.y_probe_train is not None and probe_names(d.task) is not None:
        out.update(scores(d.y_probe_train, d.y_test, d.task))
    if targets is not None:
        own = d.y_probe_train is not None and probe_names(d.task) is not None
        same_class = own and np.array_equal(targets.y_class_train, d.y_probe_train)
        same_value = own and np.array_equal(targets.y_reg_train, d.y_probe_train)
        classes = (
            out
            if same_class
            else scores(targets.y_class_train, targets.y_class_test, "classification")
        )
        values = (
            out
            if same_value
            else scores(np.asarray(targets.y_reg_train, float), targets.y_reg_test, "regression")
        )
        out.update(multitask_scores(classes, values, s.multitask_alpha))
    return out


def nan_metrics(data: TimeSeriesData, settings: Any) -> dict[str, float]:
    """Every metric Tune may optimise, as NaN (a diverged report must still carry them, or
    Tune stops the run for a missing metric)."""
    out = {m.VAL_LOSS: float("nan")}
    names = probe_names(data.task)
    if names is not None and data.y_probe_train is not None:
        out[names[0]] = float("nan")
        if data.y_test is not None:
            out[names[1]] = float("nan")
    if settings.multitask_probe and data.multitask is not None:
        out[m.VAL_MULTITASK] = float("nan")
    return out
